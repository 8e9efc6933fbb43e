/*
 * relais-bench-wire: what encoding one envelope costs, protobuf-c packing the whole
 * envelope (its floor: the library alone) beside rl_wire_encode (the head written by
 * lib/link/rl_wire.c, the body packed by protobuf-c), for the frames the hub sends most per
 * contact. Both produce the same message in as many bytes (rl_pb_same; checked here and in
 * test_wire), and what decoding them costs: protobuf-c's unpack, and rl_wire_decode (one
 * arena; rl_pb_unpack's walk where it applies). Then what packing the hub's records costs:
 * protobuf-c sizing then packing, protobuf-c packing in one walk into a growing buffer, and
 * rl_pb packing in one walk onto the stack, as hub/store.c does.
 *   relais-bench-wire [--reps N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_pb.h"
#include "rl_time.h"
#include "rl_wire.h"

struct sample {
	const char *name;
	rl_env env;
};

typedef int (*encode_fn)(rl_env *env, uint8_t **buf, size_t *len);

/* whole_encode: protobuf-c sizes and packs the whole envelope into a new buffer, as
 * rl_wire_encode did before it wrote the head itself. */
static int whole_encode(rl_env *env, uint8_t **buf, size_t *len)
{
	env->version = RL_WIRE_VERSION;
	*len = relais__envelope__get_packed_size(env);
	*buf = rl_malloc(*len);
	relais__envelope__pack(env, *buf);
	return RL_OK;
}

/* encode_ns: what one encoding of env by enc costs, in ns (the buffer's free included). */
static double encode_ns(encode_fn enc, rl_env *env, long reps)
{
	uint64_t t0 = rl_mono_us();
	size_t sink = 0;

	for (long i = 0; i < reps; i++) {
		uint8_t *b;
		size_t n;
		if (enc(env, &b, &n) != RL_OK)
			abort();
		sink += b[n - 1];
		free(b);
	}
	if (sink == 1)
		fputs("", stderr); /* keep the loop */
	return (double)(rl_mono_us() - t0) * 1000.0 / (double)reps;
}

static int same(rl_env *env)
{
	uint8_t *a, *b;
	size_t n, m;
	int ok;

	if (rl_wire_encode(env, &a, &n) != RL_OK)
		return 0;
	whole_encode(env, &b, &m);
	ok = rl_pb_same(&relais__envelope__descriptor, a, n, b, m);
	free(a);
	free(b);
	return ok;
}

/* decode_ns: what decoding the frame of env costs, in ns: protobuf-c's unpack into malloc'd
 * objects and their free (mode 0), or rl_wire_decode (rl_pb_unpack, or protobuf-c where it
 * declines, into one arena) and rl_wire_free (mode 1). */
static double decode_ns(rl_env *env, int mode, long reps)
{
	size_t n = relais__envelope__get_packed_size(env);
	uint8_t *buf = rl_malloc(n);
	uint64_t t0;
	size_t sink = 0;

	relais__envelope__pack(env, buf);
	t0 = rl_mono_us();
	for (long i = 0; i < reps; i++) {
		if (mode == 0) {
			Relais__Envelope *e = relais__envelope__unpack(NULL, n, buf);
			sink += e->req_id;
			relais__envelope__free_unpacked(e, NULL);
		} else {
			rl_env *e;
			if (rl_wire_decode(buf, n, &e) != RL_OK)
				abort();
			sink += e->req_id;
			rl_wire_free(e);
		}
	}
	if (sink == 1)
		fputs("", stderr);
	free(buf);
	return (double)(rl_mono_us() - t0) * 1000.0 / (double)reps;
}

/* record_ns: one record packed by protobuf-c sized first (mode 0), by protobuf-c into a
 * buffer in one walk (mode 1, what hub/store.c did before rl_pb) or by rl_pb_pack_in onto
 * the stack (mode 2, what it does now). */
static double record_ns(const ProtobufCMessage *m, int mode, long reps)
{
	uint64_t t0 = rl_mono_us();
	uint8_t stackbuf[2048];
	size_t sink = 0;

	for (long i = 0; i < reps; i++) {
		if (mode == 0) {
			size_t n = protobuf_c_message_get_packed_size(m);
			protobuf_c_message_pack(m, stackbuf);
			sink += stackbuf[n - 1];
		} else if (mode == 1) {
			ProtobufCBufferSimple b = PROTOBUF_C_BUFFER_SIMPLE_INIT(stackbuf);
			protobuf_c_message_pack_to_buffer(m, &b.base);
			sink += b.data[b.len - 1];
			PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&b);
		} else {
			size_t n = rl_pb_pack_in(m, stackbuf, sizeof(stackbuf));
			sink += stackbuf[n - 1];
		}
	}
	if (sink == 1)
		fputs("", stderr);
	return (double)(rl_mono_us() - t0) * 1000.0 / (double)reps;
}

/* records: the store's packing of the records of a bench/route lifecycle, with its ids and
 * sizes: an agent-state event, a contact as it ends, an agent on a call. */
static int records(long reps)
{
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;
	Relais__ContactRecord c = RELAIS__CONTACT_RECORD__INIT;
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	Relais__AgentRecord a = RELAIS__AGENT_RECORD__INIT;
	Relais__Skill sk = RELAIS__SKILL__INIT, *skills[1] = {&sk};
	char *tenants[1] = {"telco"};
	uint8_t token[32] = {1};
	const ProtobufCMessage *m[3] = {&ev.base, &c.base, &a.base};
	const char *names[3] = {"EventRecord", "ContactRecord", "AgentRecord"};

	ev.ts_us = 1765000000000000ull;
	ev.type = RELAIS__EVENT_TYPE__EV_AGENT_STATE;
	ev.contact_id = "c-00000000123456";
	ev.agent_id = "agent-00123";
	ev.queue_id = "telco.billing";
	ev.tenant_id = "telco";
	ev.site_id = "casablanca";
	ev.agent_state = RELAIS__AGENT_STATE__AGENT_BUSY;
	ev.wait_ms = 1234;
	pop.caller = "+212600000001";
	c.contact_id = ev.contact_id;
	c.ext_id = "casablanca:123456";
	c.tenant_id = "telco";
	c.queue_id = "telco.billing";
	c.pop = &pop;
	c.site_id = "casablanca";
	c.state = RELAIS__CONTACT_STATE__CONTACT_ENDED;
	c.outcome = RELAIS__CONTACT_OUTCOME__OUTCOME_HANDLED;
	c.enqueued_us = c.submitted_us = ev.ts_us;
	c.offered_us = ev.ts_us + 300;
	c.answered_us = ev.ts_us + 900;
	c.ended_us = ev.ts_us + 5000;
	c.agent_id = ev.agent_id;
	c.offers = 1;
	c.media = "sip";
	c.submitter = "casablanca";
	c.site_boot = 1765000000;
	sk.name = "billing";
	sk.level = 5;
	a.agent_id = ev.agent_id;
	a.secret_hash =
	    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
	a.n_tenants = 1;
	a.tenants = tenants;
	a.n_skills = 1;
	a.skills = skills;
	a.home_site = "casablanca";
	a.state = RELAIS__AGENT_STATE__AGENT_BUSY;
	a.state_since_us = ev.ts_us;
	a.session = 987654321;
	a.token.len = sizeof(token);
	a.token.data = token;
	a.contact_id = ev.contact_id;
	a.site_id = "casablanca";
	a.handled = 42;
	a.last_seen_us = a.idle_since_us = ev.ts_us;
	a.name = "Agent 123";
	printf("\n%-30s %6s %12s %12s %12s %7s\n", "record", "bytes", "sized ns", "one walk ns", "rl_pb ns", "ratio");
	for (int i = 0; i < 3; i++) {
		size_t n = protobuf_c_message_get_packed_size(m[i]);
		uint8_t want[2048], have[2048];
		double t[3];
		protobuf_c_message_pack(m[i], want);
		if (!rl_pb_same(m[i]->descriptor, have, rl_pb_pack_in(m[i], have, sizeof(have)), want, n)) {
			fprintf(stderr, "%s: rl_pb's message is not protobuf-c's\n", names[i]);
			return 0;
		}
		for (int mode = 0; mode < 3; mode++)
			t[mode] = record_ns(m[i], mode, reps);
		printf("%-30s %6zu %12.0f %12.0f %12.0f %6.2fx\n", names[i], n, t[0], t[1], t[2], t[2] / t[1]);
		printf("RESULT record=%s bytes=%zu sized_ns=%.0f walk_ns=%.0f pb_ns=%.0f ratio=%.2f\n", names[i], n,
		       t[0], t[1], t[2], t[2] / t[1]);
	}
	return 1;
}

int main(int argc, char **argv)
{
	long reps = 2000000;
	Relais__Ok ok = RELAIS__OK__INIT;
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	Relais__Offer o = RELAIS__OFFER__INIT;
	Relais__AgentStatus st = RELAIS__AGENT_STATUS__INIT;
	Relais__ContactUpdate u = RELAIS__CONTACT_UPDATE__INIT;
	char *tenants[1] = {"telco"};
	struct sample s[3] = {
	    {.name = "Ok (a reply)"}, {.name = "AgentStatus with its contact"}, {.name = "ContactUpdate"}};

	if (argc == 3 && strcmp(argv[1], "--reps") == 0)
		reps = atol(argv[2]);
	if (reps <= 0) {
		fprintf(stderr, "usage: relais-bench-wire [--reps N]\n");
		return 2;
	}
	/* The frames of a bench/route lifecycle, with its ids and sizes. */
	pop.caller = "+212600000001";
	o.contact_id = "c-00000000123456";
	o.tenant_id = "telco";
	o.queue_id = "telco.billing";
	o.pop = &pop;
	o.enqueued_us = 1765000000000000ull;
	o.offered_us = 1765000000000100ull;
	o.state = RELAIS__CONTACT_STATE__CONTACT_CONNECTED;
	o.site_id = "casablanca";
	st.agent_id = "agent-00123";
	st.state = RELAIS__AGENT_STATE__AGENT_BUSY;
	st.state_since_us = 1765000000000000ull;
	st.site_id = "casablanca";
	st.n_tenants = 1;
	st.tenants = tenants;
	st.contact = &o;
	u.contact_id = o.contact_id;
	u.ext_id = "casablanca:123456";
	u.state = RELAIS__CONTACT_STATE__CONTACT_CONNECTED;
	u.agent_id = st.agent_id;
	for (int i = 0; i < 3; i++)
		rl_env_init(&s[i].env);
	s[0].env.body_case = RELAIS__ENVELOPE__BODY_OK;
	s[0].env.ok = &ok;
	s[0].env.req_id = 4242;
	s[0].env.session = 987654321;
	s[1].env.body_case = RELAIS__ENVELOPE__BODY_AGENT_STATUS;
	s[1].env.agent_status = &st;
	s[1].env.req_id = 4243;
	s[1].env.session = 987654321;
	s[2].env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_UPDATE;
	s[2].env.contact_update = &u;
	printf("%-30s %8s %14s %14s %7s\n", "frame", "bytes", "protobuf-c ns", "rl_wire ns", "ratio");
	for (int i = 0; i < 3; i++) {
		double w, r;
		if (!same(&s[i].env)) {
			fprintf(stderr, "%s: rl_wire_encode's message is not protobuf-c's\n", s[i].name);
			return 1;
		}
		w = encode_ns(whole_encode, &s[i].env, reps);
		r = encode_ns(rl_wire_encode, &s[i].env, reps);
		printf("%-30s %8zu %14.0f %14.0f %6.2fx\n", s[i].name, relais__envelope__get_packed_size(&s[i].env), w,
		       r, r / w);
		printf("RESULT frame=%d bytes=%zu protobuf_ns=%.0f wire_ns=%.0f ratio=%.2f\n", i,
		       relais__envelope__get_packed_size(&s[i].env), w, r, r / w);
	}
	printf("\n%-30s %8s %14s %14s %7s\n", "decoding", "bytes", "protobuf-c ns", "rl_wire ns", "ratio");
	for (int i = 0; i < 3; i++) {
		double w = decode_ns(&s[i].env, 0, reps), r = decode_ns(&s[i].env, 1, reps);
		printf("%-30s %8zu %14.0f %14.0f %6.2fx\n", s[i].name, relais__envelope__get_packed_size(&s[i].env), w,
		       r, r / w);
		printf("RESULT decode=%d bytes=%zu protobuf_ns=%.0f wire_ns=%.0f ratio=%.2f\n", i,
		       relais__envelope__get_packed_size(&s[i].env), w, r, r / w);
	}
	return records(reps) ? 0 : 1;
}
