/*
 * rl_pb.c - protobuf-c's messages in one walk (rl_pb.h).
 *
 * One function per walk does the whole message: each field is tested for presence by its
 * label (proto3's "zeroish" rule, a oneof's case, an optional's flag) and written by its type
 * in one switch. A sub-message is packed behind a one-byte length that is widened, moving the
 * sub-message, when it is 128 bytes or more. With end == NULL the buffer is known to be large
 * enough (rl_pb_pack); otherwise every write is checked against end first (rl_pb_pack_in).
 *
 * Packing reads each field's descriptor, 72 bytes of protobuf-c's, and between two records
 * the hub's store work has pushed them out of the cache (their loads were about a fifth of
 * the packing's samples). So each message type gets a plan the first time it is packed: its
 * fields in 16 bytes each, the common proto3 kinds (string, 64- and 32-bit integers, enum,
 * bool, message) told apart once, their keys already encoded. Other fields (repeated, oneof,
 * optional, fixed-width, bytes) go by their descriptor as before. Plans are made once per
 * type, by whichever thread packs it first, and kept for the process's life.
 *
 * A plan lists the fields grouped by kind and packs each kind in a loop of its own: a jump
 * on the kind per field, mispredicted as kinds alternate, was a third of a record's packing
 * (ContactRecord 215 -> 145 ns). So the bytes are protobuf-c's fields in another order: the
 * same message, of the same size (rl_pb_same). A short string is copied as it is measured.
 */
#include "rl_pb.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"

static inline size_t vsize(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint8_t *vput(uint8_t *p, uint64_t v)
{
	return p + rl_pb_varint(p, v);
}

/* zigzag: 0, -1, 1, -2 ... as 0, 1, 2, 3 ... */
static inline uint32_t zz32(int32_t v)
{
	return ((uint32_t)v << 1) ^ (v < 0 ? UINT32_MAX : 0);
}

static inline uint64_t zz64(int64_t v)
{
	return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

/* int32 and enum: a negative value is its 64-bit two's complement, ten bytes */
static inline uint64_t i32wide(int32_t v)
{
	return (uint64_t)(int64_t)v;
}

static inline unsigned wiretype(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return PROTOBUF_C_WIRE_TYPE_32BIT;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return PROTOBUF_C_WIRE_TYPE_64BIT;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
	default:
		return PROTOBUF_C_WIRE_TYPE_VARINT;
	}
}

/* present: whether a non-repeated field is written (protobuf-c 1.4's rules) */
static inline int present(const ProtobufCFieldDescriptor *f, const void *mem, const void *q)
{
	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return 1;
	if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || f->label == PROTOBUF_C_LABEL_OPTIONAL) {
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(const uint32_t *)q != f->id)
			return 0;
		if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING) {
			const void *ptr = *(const void *const *)mem;
			return ptr != NULL && ptr != f->default_value;
		}
		return (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || *(const protobuf_c_boolean *)q;
	}
	switch (f->type) { /* PROTOBUF_C_LABEL_NONE: proto3, left out when zero */
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *)mem != 0;
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *)mem != 0;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)mem != 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)mem != 0;
	case PROTOBUF_C_TYPE_STRING: { /* protobuf-c's shared empty string known without a read */
		const char *s = *(const char *const *)mem;
		return s != NULL && s != protobuf_c_empty_string && s[0] != '\0';
	}
	case PROTOBUF_C_TYPE_BYTES: /* its first word, the length */
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(const void *const *)mem != NULL;
	default: /* the 32-bit integers and enums */
		return *(const uint32_t *)mem != 0;
	}
}

size_t rl_pb_eltsize(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

/* vsize_of: a varint-typed value's size (no tag) */
static inline size_t varint_value_size(ProtobufCType t, const void *mem)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SINT32:
		return vsize(zz32(*(const int32_t *)mem));
	case PROTOBUF_C_TYPE_ENUM:
	case PROTOBUF_C_TYPE_INT32:
		return vsize(i32wide(*(const int32_t *)mem));
	case PROTOBUF_C_TYPE_SINT64:
		return vsize(zz64(*(const int64_t *)mem));
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
		return vsize(*(const uint64_t *)mem);
	case PROTOBUF_C_TYPE_BOOL:
		return 1;
	default: /* UINT32 */
		return vsize(*(const uint32_t *)mem);
	}
}

/* value_size: one value's size, no tag (strings measured with strlen) */
static size_t value_size(ProtobufCType t, const void *mem)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return 4;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(const char *const *)mem;
		size_t n = s ? strlen(s) : 0;
		return vsize(n) + n;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		size_t n = ((const ProtobufCBinaryData *)mem)->len;
		return vsize(n) + n;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(const ProtobufCMessage *const *)mem;
		size_t n = m ? rl_pb_size(m) : 0;
		return vsize(n) + n;
	}
	default:
		return varint_value_size(t, mem);
	}
}

size_t rl_pb_size(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	size_t rv = 0;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const uint8_t *mem = (const uint8_t *)m + f->offset;
		const uint8_t *q = (const uint8_t *)m + f->quantifier_offset;
		size_t tag = vsize((uint64_t)f->id << 3);

		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			if (present(f, mem, q))
				rv += tag + value_size(f->type, mem);
			continue;
		}
		size_t count = *(const size_t *)q, es = rl_pb_eltsize(f->type), payload = 0;
		const uint8_t *arr = *(const uint8_t *const *)mem;
		if (count == 0)
			continue;
		for (size_t k = 0; k < count; k++)
			payload += value_size(f->type, arr + k * es);
		if (f->flags & PROTOBUF_C_FIELD_FLAG_PACKED)
			rv += tag + vsize(payload) + payload;
		else
			rv += tag * count + payload;
	}
	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		rv += vsize((uint64_t)m->unknown_fields[i].tag << 3) + m->unknown_fields[i].len;
	return rv;
}

/* ROOM: n more bytes fit (always, without an end); ROOMV: varint v fits, measured only
 * near the end */
#define ROOM(n)  (end == NULL || (size_t)(end - p) >= (size_t)(n))
#define ROOMV(v) (end == NULL || end - p >= 10 || (size_t)(end - p) >= vsize(v))

static uint8_t *pack_msg(const ProtobufCMessage *m, uint8_t *p, const uint8_t *end);

/* pack_value writes one value of type t (no tag) at p; NULL if it does not fit. */
static uint8_t *pack_value(ProtobufCType t, const void *mem, uint8_t *p, const uint8_t *end)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		if (!ROOM(4))
			return NULL;
		memcpy(p, mem, 4); /* little-endian hosts only, as the hub's targets are */
		return p + 4;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		if (!ROOM(8))
			return NULL;
		memcpy(p, mem, 8);
		return p + 8;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES: {
		const void *src;
		size_t n;
		if (t == PROTOBUF_C_TYPE_STRING) {
			src = *(const char *const *)mem;
			n = src ? strlen(src) : 0;
		} else {
			src = ((const ProtobufCBinaryData *)mem)->data;
			n = ((const ProtobufCBinaryData *)mem)->len;
		}
		if (!ROOM(vsize(n) + n))
			return NULL;
		p = vput(p, n);
		if (n > 0)
			memcpy(p, src, n);
		return p + n;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)mem;
		uint8_t *body;
		size_t n, k;
		if (!ROOM(1))
			return NULL;
		if (sub == NULL) {
			*p = 0;
			return p + 1;
		}
		/* the length in one byte, widened (the body moved) if it needs more */
		if ((body = pack_msg(sub, p + 1, end)) == NULL)
			return NULL;
		n = (size_t)(body - (p + 1));
		if ((k = vsize(n)) > 1) {
			if (!ROOM(k + n))
				return NULL;
			memmove(p + k, p + 1, n);
		}
		vput(p, n);
		return p + k + n;
	}
	case PROTOBUF_C_TYPE_BOOL:
		if (!ROOM(1))
			return NULL;
		*p = *(const protobuf_c_boolean *)mem ? 1 : 0;
		return p + 1;
	default: {
		uint64_t v;
		switch (t) {
		case PROTOBUF_C_TYPE_SINT32:
			v = zz32(*(const int32_t *)mem);
			break;
		case PROTOBUF_C_TYPE_ENUM:
		case PROTOBUF_C_TYPE_INT32:
			v = i32wide(*(const int32_t *)mem);
			break;
		case PROTOBUF_C_TYPE_SINT64:
			v = zz64(*(const int64_t *)mem);
			break;
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_UINT64:
			v = *(const uint64_t *)mem;
			break;
		default: /* UINT32 */
			v = *(const uint32_t *)mem;
			break;
		}
		return ROOMV(v) ? vput(p, v) : NULL;
	}
	}
}

static uint8_t *pack_repeated(const ProtobufCFieldDescriptor *f, size_t count, const uint8_t *arr, uint8_t *p,
                              const uint8_t *end)
{
	uint64_t tag = (uint64_t)f->id << 3;
	size_t es = rl_pb_eltsize(f->type);

	if (f->flags & PROTOBUF_C_FIELD_FLAG_PACKED) { /* numbers only: one length-prefixed run */
		size_t payload = 0;
		for (size_t k = 0; k < count; k++)
			payload += value_size(f->type, arr + k * es);
		if (!ROOM(vsize(tag) + vsize(payload) + payload))
			return NULL;
		p = vput(p, tag | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
		p = vput(p, payload);
		for (size_t k = 0; k < count; k++)
			p = pack_value(f->type, arr + k * es, p, NULL);
		return p;
	}
	tag |= wiretype(f->type);
	for (size_t k = 0; k < count && p != NULL; k++) {
		if (!ROOMV(tag))
			return NULL;
		p = pack_value(f->type, arr + k * es, vput(p, tag), end);
	}
	return p;
}

/* pack_field writes field f of m if it is present, by its descriptor */
static uint8_t *pack_field(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m, uint8_t *p, const uint8_t *end)
{
	const uint8_t *mem = (const uint8_t *)m + f->offset;
	const uint8_t *q = (const uint8_t *)m + f->quantifier_offset;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		if (*(const size_t *)q > 0)
			p = pack_repeated(f, *(const size_t *)q, *(const uint8_t *const *)mem, p, end);
	} else if (present(f, mem, q)) {
		uint64_t tag = (uint64_t)f->id << 3 | wiretype(f->type);
		if (!ROOMV(tag))
			return NULL;
		p = pack_value(f->type, mem, vput(p, tag), end);
	}
	return p;
}

/* ---------------------------------------------------------------------------------------- */
/* plans */

enum { K_STR3, K_U64_3, K_U32_3, K_I32_3, K_BOOL3, K_MSG, K_ANY, K_KINDS };

struct rl_pb_op {
	const ProtobufCFieldDescriptor *f; /* K_ANY: packed by it */
	uint16_t off;                      /* the member's offset in the message */
	uint8_t kind, taglen;
	uint8_t tag[4]; /* the key as written (K_ANY: unused) */
};

/* A plan's ops are its fields grouped by kind, in field order within a kind: n[k] of kind k,
 * kinds in the enum's order. */
struct rl_pb_plan {
	const ProtobufCMessageDescriptor *desc;
	uint16_t n[K_KINDS];
	struct rl_pb_op ops[];
};

#define RL_PB_PLANS_BITS 10 /* 1,024 slots for message types: the schema has about 150 */
#define RL_PB_PLANS      (1u << RL_PB_PLANS_BITS)
static _Atomic(struct rl_pb_plan *) rl_pb_plans[RL_PB_PLANS];

/* op_kind: how field f is packed by a plan (K_ANY: by its descriptor). */
static uint8_t op_kind(const ProtobufCFieldDescriptor *f)
{
	if (f->offset > UINT16_MAX || ((uint64_t)f->id << 3) >= (1u << 28))
		return K_ANY; /* its offset or its key would not fit the op */
	if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
	    (f->label == PROTOBUF_C_LABEL_NONE || f->label == PROTOBUF_C_LABEL_OPTIONAL) &&
	    !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && f->default_value == NULL)
		return K_MSG; /* present when not NULL (proto3, or optional) */
	if (f->label != PROTOBUF_C_LABEL_NONE || (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
		return K_ANY;
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return K_STR3;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_INT64:
		return K_U64_3;
	case PROTOBUF_C_TYPE_UINT32:
		return K_U32_3;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_ENUM:
		return K_I32_3;
	case PROTOBUF_C_TYPE_BOOL:
		return K_BOOL3;
	default:
		return K_ANY;
	}
}

static struct rl_pb_plan *plan_new(const ProtobufCMessageDescriptor *d)
{
	struct rl_pb_plan *pl = rl_calloc(1, sizeof(*pl) + d->n_fields * sizeof(pl->ops[0]));
	unsigned at = 0;

	pl->desc = d;
	for (uint8_t k = 0; k < K_KINDS; k++)
		for (unsigned i = 0; i < d->n_fields; i++) {
			const ProtobufCFieldDescriptor *f = &d->fields[i];
			struct rl_pb_op *op = &pl->ops[at];
			if (op_kind(f) != k)
				continue;
			op->f = f;
			op->kind = k;
			if (k != K_ANY) {
				op->off = (uint16_t)f->offset;
				op->taglen = (uint8_t)rl_pb_varint(op->tag, (uint64_t)f->id << 3 | wiretype(f->type));
			}
			pl->n[k]++;
			at++;
		}
	return pl;
}

/* plan_of: the plan of message type d, made the first time (NULL: the table is full, and d
 * is packed by its descriptors) */
static const struct rl_pb_plan *plan_of(const ProtobufCMessageDescriptor *d)
{
	size_t i = (size_t)(((uint64_t)(uintptr_t)d >> 4) * 0x9e3779b97f4a7c15ULL >> (64 - RL_PB_PLANS_BITS));

	for (size_t k = 0; k < RL_PB_PLANS; k++, i = (i + 1) & (RL_PB_PLANS - 1)) {
		struct rl_pb_plan *pl = atomic_load_explicit(&rl_pb_plans[i], memory_order_acquire);
		if (pl == NULL) {
			struct rl_pb_plan *mine = plan_new(d);
			if (atomic_compare_exchange_strong(&rl_pb_plans[i], &pl, mine))
				return mine;
			free(mine); /* another thread filled the slot first: pl is its plan */
		}
		if (pl->desc == d)
			return pl;
	}
	return NULL;
}

static inline uint8_t *put_tag(uint8_t *p, const struct rl_pb_op *op)
{
	p[0] = op->tag[0];
	for (unsigned k = 1; k < op->taglen; k++)
		p[k] = op->tag[k];
	return p + op->taglen;
}

#define RL_PB_SHORT 32 /* a string this short is copied as it is measured: ids, names */

/* put_str writes string s (not empty) under op's key; NULL if it does not fit. A short one
 * is copied byte by byte until its end, behind a one-byte length (strlen then memcpy cost
 * more, in their calls, for ids); a longer one is measured, then copied. */
static inline uint8_t *put_str(const struct rl_pb_op *op, const char *s, uint8_t *p, const uint8_t *end)
{
	size_t n;

	if (end == NULL || end - p >= op->taglen + 1 + RL_PB_SHORT) {
		uint8_t *len = put_tag(p, op), *b = len + 1;
		for (n = 0; n < RL_PB_SHORT && s[n] != '\0'; n++)
			b[n] = (uint8_t)s[n];
		if (s[n] == '\0') {
			*len = (uint8_t)n;
			return b + n;
		}
		n += strlen(s + n);
	} else {
		n = strlen(s);
	}
	if (!ROOM(op->taglen + vsize(n) + n))
		return NULL;
	p = vput(put_tag(p, op), n);
	memcpy(p, s, n);
	return p + n;
}

/* put_num writes number v under op's key, unless it is 0 (proto3 leaves it out) */
static inline uint8_t *put_num(const struct rl_pb_op *op, uint64_t v, uint8_t *p, const uint8_t *end)
{
	if (v == 0)
		return p;
	if (!(end == NULL || end - p >= op->taglen + 10 || (size_t)(end - p) >= op->taglen + vsize(v)))
		return NULL;
	return vput(put_tag(p, op), v);
}

/* pack_plan packs m's fields kind by kind, each kind in a loop of its own: no dispatch per
 * field (a jump by kind per field was a third of a record's packing, mispredicted). */
static uint8_t *pack_plan(const struct rl_pb_plan *pl, const ProtobufCMessage *m, uint8_t *p, const uint8_t *end)
{
	const uint8_t *base = (const uint8_t *)m;
	const struct rl_pb_op *op = pl->ops, *stop;

	for (stop = op + pl->n[K_STR3]; op < stop; op++) {
		const char *s = *(const char *const *)(base + op->off);
		if (s != NULL && s != protobuf_c_empty_string && s[0] != '\0' && (p = put_str(op, s, p, end)) == NULL)
			return NULL;
	}
	for (stop = op + pl->n[K_U64_3]; op < stop; op++)
		if ((p = put_num(op, *(const uint64_t *)(base + op->off), p, end)) == NULL)
			return NULL;
	for (stop = op + pl->n[K_U32_3]; op < stop; op++)
		if ((p = put_num(op, *(const uint32_t *)(base + op->off), p, end)) == NULL)
			return NULL;
	for (stop = op + pl->n[K_I32_3]; op < stop; op++)
		if ((p = put_num(op, i32wide(*(const int32_t *)(base + op->off)), p, end)) == NULL)
			return NULL;
	for (stop = op + pl->n[K_BOOL3]; op < stop; op++)
		if ((p = put_num(op, *(const protobuf_c_boolean *)(base + op->off) != 0, p, end)) == NULL)
			return NULL;
	for (stop = op + pl->n[K_MSG]; op < stop; op++) {
		const uint8_t *mem = base + op->off;
		if (*(const void *const *)mem == NULL)
			continue;
		if (!ROOM(op->taglen))
			return NULL;
		if ((p = pack_value(PROTOBUF_C_TYPE_MESSAGE, mem, put_tag(p, op), end)) == NULL)
			return NULL;
	}
	for (stop = op + pl->n[K_ANY]; op < stop && p != NULL; op++)
		p = pack_field(op->f, m, p, end);
	return p;
}

static uint8_t *pack_msg(const ProtobufCMessage *m, uint8_t *p, const uint8_t *end)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const struct rl_pb_plan *pl = plan_of(d);

	if (pl != NULL)
		p = pack_plan(pl, m, p, end);
	else
		for (unsigned i = 0; i < d->n_fields && p != NULL; i++)
			p = pack_field(&d->fields[i], m, p, end);
	for (unsigned i = 0; i < m->n_unknown_fields && p != NULL; i++) {
		const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
		uint64_t tag = (uint64_t)u->tag << 3 | u->wire_type;
		if (!ROOM(vsize(tag) + u->len))
			return NULL;
		p = vput(p, tag);
		if (u->len > 0)
			memcpy(p, u->data, u->len);
		p += u->len;
	}
	return p;
}

size_t rl_pb_pack(const ProtobufCMessage *m, uint8_t *out)
{
	return (size_t)(pack_msg(m, out, NULL) - out);
}

size_t rl_pb_pack_in(const ProtobufCMessage *m, uint8_t *out, size_t cap)
{
	uint8_t *p = pack_msg(m, out, out + cap);

	return p == NULL ? 0 : (size_t)(p - out);
}

int rl_pb_same(const ProtobufCMessageDescriptor *d, const uint8_t *mine, size_t len, const uint8_t *theirs, size_t n)
{
	ProtobufCMessage *m;
	uint8_t *again;
	int same;

	if (len != n || (m = protobuf_c_message_unpack(d, NULL, len, mine)) == NULL)
		return 0;
	again = rl_malloc(n + 1);
	same = protobuf_c_message_get_packed_size(m) == n && protobuf_c_message_pack(m, again) == n &&
	       memcmp(again, theirs, n) == 0;
	free(again);
	protobuf_c_message_free_unpacked(m, NULL);
	return same;
}
