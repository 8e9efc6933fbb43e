/*
 * test_pb - rl_pb packs what protobuf-c packs: the same message in the same number of bytes.
 *
 * Every message type of proto/relais.proto (reached from the envelope and the store's records,
 * and counted against the schema's text, so a new type cannot be missed) is filled at random
 * many times - each field set or not, values from 0 to the type's extremes, negative int32s
 * and enums, -0.0 and NaN, strings and bytes across the one-byte length bound, sub-messages
 * around 128 bytes, repeated fields of 0-3 elements, oneof cases, unknown fields - and packed
 * by protobuf-c and by rl_pb: sizes must be equal, and rl_pb's bytes decoded and packed again
 * by protobuf-c must be protobuf-c's (rl_pb_same; rl_pb groups fields by kind, protobuf-c
 * keeps field order), for rl_pb_pack and rl_pb_pack_in alike. rl_pb_pack_in must pack into
 * exactly the size, and must refuse any smaller buffer without writing past it (the buffer is
 * a heap block of that size: AddressSanitizer sees a write past it).
 *
 * Decoding: the same random messages, packed by protobuf-c and then mutated (a byte changed,
 * the bytes cut short, a slice repeated, a byte inserted), are decoded by rl_pb_unpack and by
 * protobuf-c. Whatever rl_pb_unpack decodes, protobuf-c must decode too, to the same message
 * (both packed again by protobuf-c: the same bytes); rl_pb_unpack's blocks are filled with a
 * pattern, not zeroed, so a field it forgets shows. It must take the common way for most
 * unmutated messages and for the hub's hot frames (else the test would pass on NULLs).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relais.pb-c.h"
#include "rl_pb.h"
#include "rltest.h"

#define MAXDESC 256
#define ROUNDS  300

static const ProtobufCMessageDescriptor *descs[MAXDESC];
static unsigned ndescs;

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* an arena per message: everything a random message holds, freed at once */
struct arena {
	void *blk[4096];
	unsigned n;
};

static void *amalloc(struct arena *a, size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p == NULL || a->n == sizeof(a->blk) / sizeof(a->blk[0]))
		abort();
	return a->blk[a->n++] = p;
}

static void afree(struct arena *a)
{
	while (a->n > 0)
		free(a->blk[--a->n]);
}

/* an allocator for rl_pb_unpack: blocks kept in an arena, their bytes a pattern */
static void *dalloc(void *data, size_t n)
{
	struct arena *a = data;
	void *p = malloc(n ? n : 1);

	if (p == NULL || a->n == sizeof(a->blk) / sizeof(a->blk[0]))
		abort();
	memset(p, 0xa5, n);
	return a->blk[a->n++] = p;
}

static void dfree(void *data, void *p)
{
	(void)data;
	(void)p;
}

/* check_decode decodes len bytes at buf as d both ways: -1 if they disagree, 1 if rl_pb_unpack
 * decoded them, 0 if it left them to protobuf-c */
static int check_decode(struct arena *da, const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len)
{
	ProtobufCAllocator al = {dalloc, dfree, da};
	ProtobufCMessage *mine = rl_pb_unpack(d, &al, len, buf);
	ProtobufCMessage *theirs = protobuf_c_message_unpack(d, NULL, len, buf);
	int rv = 0;

	if (mine != NULL)
		rv =
		    theirs != NULL && mine == da->blk[0] && mine->descriptor == d && rl_pb_equal(mine, theirs) ? 1 : -1;
	if (theirs != NULL)
		protobuf_c_message_free_unpacked(theirs, NULL);
	afree(da);
	return rv;
}

/* mutate: a copy of buf (len bytes) changed one of four ways; its length in *out_len */
static uint8_t *mutate(const uint8_t *buf, size_t len, size_t *out_len)
{
	uint8_t *m = malloc(2 * len + 2);
	size_t at = len ? pick((unsigned)len) : 0, k;

	memcpy(m, buf, len);
	switch (pick(4)) {
	case 0: /* a byte changed */
		if (len > 0)
			m[at] ^= (uint8_t)(1 + pick(255));
		*out_len = len;
		break;
	case 1: /* cut short */
		*out_len = at;
		break;
	case 2: /* a slice repeated after itself */
		k = pick((unsigned)(len - at) + 1);
		memmove(m + at + k, m + at, len - at);
		*out_len = len + k;
		break;
	default: /* a byte inserted */
		memmove(m + at + 1, m + at, len - at);
		m[at] = (uint8_t)rnd();
		*out_len = len + 1;
		break;
	}
	return m;
}

static void reach(const ProtobufCMessageDescriptor *d)
{
	for (unsigned i = 0; i < ndescs; i++)
		if (descs[i] == d)
			return;
	if (ndescs == MAXDESC)
		abort();
	descs[ndescs++] = d;
	for (unsigned i = 0; i < d->n_fields; i++)
		if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
			reach(d->fields[i].descriptor);
}

static uint64_t rand_u64(void)
{
	static const uint64_t edges[] = {0, 1, 127, 128, 16383, 16384, 0x7fffffff, 0x80000000u, 0xffffffffu};

	switch (pick(4)) {
	case 0: /* the varint's length bounds, and the 64-bit extremes */
		return pick(4) ? edges[pick(sizeof(edges) / sizeof(edges[0]))] : pick(2) ? UINT64_MAX : 1ull << 63;
	case 1:
		return rnd() & 0x7f;
	case 2:
		return rnd() >> pick(64);
	default:
		return rnd();
	}
}

static void rand_str(struct arena *a, char **s)
{
	static const size_t lens[] = {0, 1, 5, 126, 127, 128, 129, 200, 300};
	size_t n = pick(3) == 0 ? lens[pick(sizeof(lens) / sizeof(lens[0]))] : pick(40);
	char *p = amalloc(a, n + 1);

	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + pick(26));
	*s = p;
}

static void rand_bytes(struct arena *a, ProtobufCBinaryData *b)
{
	b->len = pick(3) == 0 ? 128 + pick(200) : pick(20);
	b->data = b->len ? amalloc(a, b->len) : NULL;
	for (size_t i = 0; i < b->len; i++)
		b->data[i] = (uint8_t)rnd();
}

static ProtobufCMessage *rand_msg(struct arena *a, const ProtobufCMessageDescriptor *d, int depth);

/* rand_value fills one value of f's type at mem */
static void rand_value(struct arena *a, const ProtobufCFieldDescriptor *f, void *mem, int depth)
{
	uint64_t v = rand_u64();
	static const double odd[] = {0.0, -0.0, 1.5, -3.25, 1e300};

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM: {
		uint32_t x = (uint32_t)v;
		if (f->type == PROTOBUF_C_TYPE_ENUM && pick(2)) /* mostly a value of the enum */
			x = (uint32_t)((const ProtobufCEnumDescriptor *)f->descriptor)
			        ->values[pick(((const ProtobufCEnumDescriptor *)f->descriptor)->n_values)]
			        .value;
		memcpy(mem, &x, 4);
		break;
	}
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *)mem = pick(2);
		break;
	case PROTOBUF_C_TYPE_FLOAT: {
		float x = pick(5) == 0 ? NAN : (float)odd[pick(5)];
		memcpy(mem, &x, 4);
		break;
	}
	case PROTOBUF_C_TYPE_DOUBLE: {
		double x = pick(5) == 0 ? NAN : odd[pick(5)];
		memcpy(mem, &x, 8);
		break;
	}
	case PROTOBUF_C_TYPE_STRING:
		rand_str(a, mem);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		rand_bytes(a, mem);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		*(ProtobufCMessage **)mem = depth < 5 && pick(6) ? rand_msg(a, f->descriptor, depth + 1) : NULL;
		break;
	default: /* the 64-bit integers */
		memcpy(mem, &v, 8);
		break;
	}
}

static ProtobufCMessage *rand_msg(struct arena *a, const ProtobufCMessageDescriptor *d, int depth)
{
	ProtobufCMessage *m = amalloc(a, d->sizeof_message);

	d->message_init(m);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		uint8_t *mem = (uint8_t *)m + f->offset, *q = (uint8_t *)m + f->quantifier_offset;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = pick(3) ? 0 : 1 + pick(3), es = rl_pb_eltsize(f->type);
			uint8_t *arr = n ? amalloc(a, n * es) : NULL;
			for (size_t k = 0; k < n; k++) {
				rand_value(a, f, arr + k * es, depth);
				void **elt = (void **)(arr + k * es); /* a list holds no NULL message */
				if (f->type == PROTOBUF_C_TYPE_MESSAGE && *elt == NULL)
					*elt = rand_msg(a, f->descriptor, 5);
			}
			*(size_t *)q = n;
			*(uint8_t **)mem = arr;
		} else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			/* each member gets its chance; a later one may take the case over */
			if (pick(4) == 0) {
				rand_value(a, f, mem, depth);
				*(uint32_t *)q = f->id;
			}
		} else if (pick(2)) {
			rand_value(a, f, mem, depth);
			if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
			    f->type != PROTOBUF_C_TYPE_STRING)
				*(protobuf_c_boolean *)q = 1;
		}
	}
	if (depth == 0 && pick(8) == 0) { /* fields a later schema knows, kept by a decode */
		m->n_unknown_fields = 1 + pick(2);
		m->unknown_fields = amalloc(a, m->n_unknown_fields * sizeof(*m->unknown_fields));
		for (unsigned i = 0; i < m->n_unknown_fields; i++) {
			ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
			u->tag = 1000 + pick(100000);
			u->wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
			u->len = 1 + pick(4); /* as a decode keeps it: the payload's length, then it */
			u->data = amalloc(a, u->len);
			u->data[0] = (uint8_t)(u->len - 1);
			for (size_t k = 1; k < u->len; k++)
				u->data[k] = (uint8_t)rnd();
		}
	}
	return m;
}

/* check_one packs m both ways; 1 if they agree */
static int check_one(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m), got;
	uint8_t *want = malloc(n + 1), *have = malloc(n + 1), *tight;
	int ok = 1;

	protobuf_c_message_pack(m, want);
	ok &= rl_pb_size(m) == n;
	ok &= rl_pb_same(m->descriptor, have, rl_pb_pack(m, have), want, n);
	tight = malloc(n ? n : 1);
	got = rl_pb_pack_in(m, tight, n);
	ok &= rl_pb_same(m->descriptor, tight, got, want, n) && memcmp(have, tight, n) == 0;
	free(tight);
	if (n > 0) { /* any smaller buffer: refused, nothing written past it */
		size_t cap = pick(2) ? n - 1 : pick((unsigned)n);
		tight = malloc(cap ? cap : 1);
		ok &= rl_pb_pack_in(m, tight, cap) == 0;
		free(tight);
	}
	if (!ok && getenv("PB_DEBUG")) {
		fprintf(stderr, "%s: size %zu rl %zu; bytes:", m->descriptor->name, n, rl_pb_size(m));
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %02x%s", want[i], want[i] != have[i] ? "*" : "");
		fprintf(stderr, "\n");
	}
	free(want);
	free(have);
	return ok;
}

/* schema_messages counts "message Name {" lines in the schema's text */
static unsigned schema_messages(void)
{
	FILE *f = fopen(rltest_src("proto/relais.proto"), "r");
	char line[512], name[128];
	unsigned n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " message %127s {", name) == 1)
			n++;
	fclose(f);
	return n;
}

int main(void)
{
	struct arena *a = calloc(1, sizeof(*a));
	unsigned bad = 0, total = 0;

	reach(&relais__envelope__descriptor);
	reach(&relais__agent_record__descriptor);
	reach(&relais__contact_record__descriptor);
	reach(&relais__event_record__descriptor);
	printf("message types reached: %u, in the schema: %u\n", ndescs, schema_messages());
	RL_CHECK(ndescs == schema_messages()); /* a type reached from nowhere: add it above */

	for (unsigned i = 0; i < ndescs; i++) {
		unsigned badhere = 0;
		for (unsigned r = 0; r < ROUNDS; r++) {
			ProtobufCMessage *m = rand_msg(a, descs[i], 0);
			badhere += !check_one(m);
			total++;
			afree(a);
		}
		if (badhere > 0)
			fprintf(stderr, "%s: %u of %u differ\n", descs[i]->name, badhere, ROUNDS);
		bad += badhere;
	}
	printf("%u messages packed both ways, %u differ\n", total, bad);
	RL_CHECK(total == ndescs * ROUNDS);
	RL_CHECK(bad == 0);

	/* decoding, both ways */
	struct arena *da = calloc(1, sizeof(*da));
	unsigned fast = 0, mutfast = 0, twofast = 0, disagree = 0;
	total = 0;
	for (unsigned i = 0; i < ndescs; i++)
		for (unsigned r = 0; r < ROUNDS; r++) {
			ProtobufCMessage *m = rand_msg(a, descs[i], 0);
			size_t n = protobuf_c_message_get_packed_size(m), mlen;
			uint8_t *buf = malloc(n + 1), *mut;
			int rv;
			protobuf_c_message_pack(m, buf);
			afree(a);
			rv = check_decode(da, descs[i], buf, n);
			disagree += rv < 0;
			fast += rv > 0;
			total++;
			for (unsigned k = 0; k < 4; k++) {
				mut = mutate(buf, n, &mlen);
				rv = check_decode(da, descs[i], mut, mlen);
				disagree += rv < 0;
				mutfast += rv > 0;
				free(mut);
			}
			/* two messages of the type one after the other: one message, the second's
			 * fields over the first's (a string, a number), merged into them (a message)
			 * or after them (a repeated field) */
			m = rand_msg(a, descs[i], 0);
			mlen = protobuf_c_message_get_packed_size(m);
			mut = malloc(n + mlen + 1);
			memcpy(mut, buf, n);
			protobuf_c_message_pack(m, mut + n);
			afree(a);
			rv = check_decode(da, descs[i], mut, n + mlen);
			disagree += rv < 0;
			twofast += rv > 0;
			free(mut);
			free(buf);
		}
	printf("%u messages decoded both ways: %u the common way; of %u mutated, %u the common way; of %u "
	       "pairs, %u; %u disagree\n",
	       total, fast, total * 4, mutfast, total, twofast, disagree);
	RL_CHECK(disagree == 0);
	RL_CHECK(fast > total / 2);
	RL_CHECK(mutfast > 0 && twofast > 0);

	/* the hot frames take the common way: a submit with its screen pop's data, an answer, a
	 * bundle of frames */
	{
		Relais__SubmitContact sc = RELAIS__SUBMIT_CONTACT__INIT;
		Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
		Relais__KeyValue kv1 = RELAIS__KEY_VALUE__INIT, kv2 = RELAIS__KEY_VALUE__INIT, *kvs[2] = {&kv1, &kv2};
		Relais__OfferAnswer oa = RELAIS__OFFER_ANSWER__INIT;
		Relais__Envelope env = RELAIS__ENVELOPE__INIT;
		uint8_t buf[512];
		size_t n;
		kv1.key = "account";
		kv1.value = "12345";
		kv2.key = "ivr";
		kv2.value = "2";
		pop.caller = "+212600000001";
		pop.n_data = 2;
		pop.data = kvs;
		sc.ext_id = "casablanca:1";
		sc.tenant_id = "telco";
		sc.queue_id = "telco.billing";
		sc.priority = 3;
		sc.pop = &pop;
		env.version = 1;
		env.req_id = 77;
		env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
		env.submit_contact = &sc;
		n = protobuf_c_message_pack(&env.base, buf);
		RL_CHECK(check_decode(da, &relais__envelope__descriptor, buf, n) == 1);
		oa.contact_id = "c-1";
		oa.accept = 1;
		env.body_case = RELAIS__ENVELOPE__BODY_OFFER_ANSWER;
		env.offer_answer = &oa;
		n = protobuf_c_message_pack(&env.base, buf);
		RL_CHECK(check_decode(da, &relais__envelope__descriptor, buf, n) == 1);
		/* a bool as protobuf-c reads it: true if any bit is set, past the 64th too */
		{
			uint8_t wide[] = {0x0a, 0x01, 'c',  0x10, 0x80, 0x80, 0x80,
			                  0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02};
			uint8_t zero[] = {0x0a, 0x01, 'c', 0x10, 0x80, 0x00};
			RL_CHECK(check_decode(da, &relais__offer_answer__descriptor, wide, sizeof(wide)) == 1);
			RL_CHECK(check_decode(da, &relais__offer_answer__descriptor, zero, sizeof(zero)) == 1);
		}
		{
			Relais__Bundle bu = RELAIS__BUNDLE__INIT;
			ProtobufCBinaryData fr[3] = {{3, (uint8_t *)"abc"}, {0, NULL}, {2, (uint8_t *)"de"}};
			Relais__Envelope benv = RELAIS__ENVELOPE__INIT;
			uint8_t bb[64];
			size_t bn;
			bu.n_frames = 3;
			bu.frames = fr;
			benv.version = 1;
			benv.body_case = RELAIS__ENVELOPE__BODY_BUNDLE;
			benv.bundle = &bu;
			bn = protobuf_c_message_pack(&benv.base, bb);
			RL_CHECK(check_decode(da, &relais__envelope__descriptor, bb, bn) == 1);
		}
		buf[n++] = 0xb8; /* field 999, a varint: not known here, so protobuf-c's */
		buf[n++] = 0x3e;
		buf[n++] = 5;
		RL_CHECK(check_decode(da, &relais__envelope__descriptor, buf, n) == 0);
	}
	free(da);

	/* an empty message packs to nothing both ways */
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;
	uint8_t one[1];
	RL_CHECK(rl_pb_size(&ev.base) == 0 && rl_pb_pack_in(&ev.base, one, 0) == 0);
	free(a);
	return rltest_done();
}
