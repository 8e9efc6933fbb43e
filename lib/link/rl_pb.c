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
 * fields in 24 bytes each, the common proto3 kinds (string, 64- and 32-bit integers, enum,
 * bool, message, bytes, repeated strings and messages) told apart once, their keys already
 * encoded. Other fields (oneof, optional, fixed-width, zigzag, repeated numbers) go by their
 * descriptor as before. Plans are made once per type, by whichever thread packs it first,
 * and kept for the process's life. The same plans decode (rl_pb_unpack).
 *
 * A plan lists the fields grouped by kind and packs each kind in a loop of its own: a jump
 * on the kind per field, mispredicted as kinds alternate, was a third of a record's packing
 * (ContactRecord 219 -> 157 ns). So the bytes are protobuf-c's fields in another order: the
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

struct rl_pb_plan;
static uint8_t *pack_msg(const struct rl_pb_plan *pl, const ProtobufCMessage *m, uint8_t *p, const uint8_t *end);

/* pack_sized writes message sub (NULL: an empty one) behind its length, by plan pl if it is
 * sub's (else by sub's own); NULL if it does not fit. */
static uint8_t *pack_sized(const struct rl_pb_plan *pl, const ProtobufCMessage *sub, uint8_t *p, const uint8_t *end)
{
	uint8_t *body;
	size_t n, k;

	if (!ROOM(1))
		return NULL;
	if (sub == NULL) {
		*p = 0;
		return p + 1;
	}
	/* the length in one byte, widened (the body moved) if it needs more */
	if ((body = pack_msg(pl, sub, p + 1, end)) == NULL)
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
	case PROTOBUF_C_TYPE_MESSAGE:
		return pack_sized(NULL, *(const ProtobufCMessage *const *)mem, p, end);
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

enum { K_STR3, K_U64_3, K_U32_3, K_I32_3, K_BOOL3, K_MSG, K_REP_STR, K_REP_MSG, K_BYTES3, K_ANY, K_KINDS };

typedef _Atomic(const struct rl_pb_plan *) rl_pb_plan_ref;

struct rl_pb_op {
	const ProtobufCFieldDescriptor *f; /* K_ANY: packed by it */
	uint16_t off;                      /* the member's offset in the message */
	uint16_t qoff;                     /* K_REP_*: the offset of its count */
	uint8_t kind, taglen;
	uint8_t tag[4];     /* the key as written (K_ANY: unused) */
	rl_pb_plan_ref sub; /* a message field's type's plan, once looked up */
};

/* A plan's ops are its fields grouped by kind, in field order within a kind: n[k] of kind k,
 * kinds in the enum's order. */
struct rl_pb_plan {
	const ProtobufCMessageDescriptor *desc;
	uint16_t n[K_KINDS];
	uint8_t *byid;  /* decoding: field number -> index in ops, RL_PB_NOID if none (NULL:
	                 * numbers too large for the table, decoded by protobuf-c) */
	unsigned maxid; /* the largest field number */
	struct rl_pb_op ops[];
};

#define RL_PB_NOID  0xff
#define RL_PB_MAXID 254 /* field numbers up to this one get a table (the schema's reach 103) */

#define RL_PB_PLANS_BITS 10 /* 1,024 slots for message types: the schema has 80 */
#define RL_PB_PLANS      (1u << RL_PB_PLANS_BITS)
static _Atomic(struct rl_pb_plan *) rl_pb_plans[RL_PB_PLANS];

/* op_kind: how field f is packed by a plan (K_ANY: by its descriptor). */
static uint8_t op_kind(const ProtobufCFieldDescriptor *f)
{
	if (f->offset > UINT16_MAX || f->quantifier_offset > UINT16_MAX || ((uint64_t)f->id << 3) >= (1u << 28))
		return K_ANY; /* its offsets or its key would not fit the op */
	if (f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_STRING)
		return K_REP_STR;
	if (f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE)
		return K_REP_MSG;
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
	case PROTOBUF_C_TYPE_BYTES:
		return K_BYTES3;
	default:
		return K_ANY;
	}
}

static struct rl_pb_plan *plan_new(const ProtobufCMessageDescriptor *d)
{
	unsigned at = 0, maxid = 0;
	struct rl_pb_plan *pl;

	for (unsigned i = 0; i < d->n_fields; i++)
		maxid = d->fields[i].id > maxid ? d->fields[i].id : maxid;
	pl = rl_calloc(1, sizeof(*pl) + d->n_fields * sizeof(pl->ops[0]) + maxid + 1);
	pl->desc = d;
	pl->maxid = maxid;
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
				op->qoff = (uint16_t)f->quantifier_offset;
				op->taglen = (uint8_t)rl_pb_varint(op->tag, (uint64_t)f->id << 3 | wiretype(f->type));
			}
			pl->n[k]++;
			at++;
		}
	if (maxid <= RL_PB_MAXID && d->n_fields < RL_PB_NOID) {
		pl->byid = (uint8_t *)&pl->ops[d->n_fields];
		memset(pl->byid, RL_PB_NOID, maxid + 1);
		for (unsigned i = 0; i < d->n_fields; i++)
			pl->byid[pl->ops[i].f->id] = (uint8_t)i;
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

/* sub_plan: the plan of message field op's type, kept in the op after the first time (the
 * table's lookup, and its cache miss, once per field rather than once per message packed) */
static const struct rl_pb_plan *sub_plan(const struct rl_pb_op *op)
{
	rl_pb_plan_ref *slot = (rl_pb_plan_ref *)&op->sub; /* filled once, in a plan otherwise fixed */
	const struct rl_pb_plan *pl = atomic_load_explicit(slot, memory_order_acquire);

	if (pl == NULL && (pl = plan_of(op->f->descriptor)) != NULL)
		atomic_store_explicit(slot, pl, memory_order_release);
	return pl;
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
		if ((p = pack_sized(sub_plan(op), *(const ProtobufCMessage *const *)mem, put_tag(p, op), end)) == NULL)
			return NULL;
	}
	for (stop = op + pl->n[K_REP_STR]; op < stop; op++) {
		size_t count = *(const size_t *)(base + op->qoff);
		const char *const *arr = *(const char *const *const *)(base + op->off);
		for (size_t k = 0; k < count; k++) {
			const char *s = arr[k];
			if (s != NULL && s[0] != '\0') {
				if ((p = put_str(op, s, p, end)) == NULL)
					return NULL;
				continue;
			}
			if (!ROOM(op->taglen + 1)) /* an empty element is written, as protobuf-c does */
				return NULL;
			p = put_tag(p, op);
			*p++ = 0;
		}
	}
	for (stop = op + pl->n[K_REP_MSG]; op < stop; op++) {
		size_t count = *(const size_t *)(base + op->qoff);
		const ProtobufCMessage *const *arr = *(const ProtobufCMessage *const *const *)(base + op->off);
		for (size_t k = 0; k < count; k++) {
			if (!ROOM(op->taglen))
				return NULL;
			if ((p = pack_sized(sub_plan(op), arr[k], put_tag(p, op), end)) == NULL)
				return NULL;
		}
	}
	for (stop = op + pl->n[K_BYTES3]; op < stop; op++) {
		const ProtobufCBinaryData *b = (const ProtobufCBinaryData *)(base + op->off);
		if (b->len == 0)
			continue;
		if (!ROOM(op->taglen + vsize(b->len) + b->len))
			return NULL;
		p = vput(put_tag(p, op), b->len);
		memcpy(p, b->data, b->len);
		p += b->len;
	}
	for (stop = op + pl->n[K_ANY]; op < stop && p != NULL; op++)
		p = pack_field(op->f, m, p, end);
	return p;
}

/* pack_msg packs m by plan pl if it is m's, else by m's plan, or its descriptors */
static uint8_t *pack_msg(const struct rl_pb_plan *pl, const ProtobufCMessage *m, uint8_t *p, const uint8_t *end)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (pl == NULL || pl->desc != d)
		pl = plan_of(d);
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
	return (size_t)(pack_msg(NULL, m, out, NULL) - out);
}

size_t rl_pb_pack_in(const ProtobufCMessage *m, uint8_t *out, size_t cap)
{
	uint8_t *p = pack_msg(NULL, m, out, out + cap);

	return p == NULL ? 0 : (size_t)(p - out);
}

/* ---------------------------------------------------------------------------------------- */
/* decoding */

#define RL_PB_DEPTH 16 /* deeper messages are protobuf-c's (the schema nests 4) */

/* get_varint reads a varint at p (before end) into *v: its length, 0 if it is cut short or
 * longer than 10 bytes. Bits past the 64th are dropped, as protobuf-c drops them. */
static inline unsigned get_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;

	for (unsigned i = 0; i < 10 && p + i < end; i++) {
		r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (p[i] < 0x80) {
			*v = r;
			return i + 1;
		}
	}
	return 0;
}

/* skip_field: past the value of wire type wt at p; NULL if it is cut short or a group */
static const uint8_t *skip_field(const uint8_t *p, const uint8_t *end, unsigned wt)
{
	uint64_t v;
	unsigned n;

	switch (wt) {
	case PROTOBUF_C_WIRE_TYPE_VARINT:
		return (n = get_varint(p, end, &v)) ? p + n : NULL;
	case PROTOBUF_C_WIRE_TYPE_64BIT:
		return end - p >= 8 ? p + 8 : NULL;
	case PROTOBUF_C_WIRE_TYPE_32BIT:
		return end - p >= 4 ? p + 4 : NULL;
	case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
		if ((n = get_varint(p, end, &v)) == 0 || v > (uint64_t)(end - p - n))
			return NULL;
		return p + n + v;
	default:
		return NULL;
	}
}

/* count_key: how many fields with key `key` there are from p (one starts at p) to end; 0
 * if the bytes do not parse */
static size_t count_key(const uint8_t *p, const uint8_t *end, uint64_t key)
{
	size_t count = 0;

	while (p < end) {
		uint64_t k;
		unsigned n = get_varint(p, end, &k);
		if (n == 0 || (p = skip_field(p + n, end, (unsigned)(k & 7))) == NULL)
			return 0;
		count += k == key;
	}
	return count;
}

static ProtobufCMessage *unpack_plan(const struct rl_pb_plan *pl, ProtobufCAllocator *a, const uint8_t *p,
                                     const uint8_t *end, unsigned depth);

/* unpack_repeated adds one element (a string, bytes or a message, of n bytes at p) to
 * repeated field op of the message at base; the field's array is sized on its first element
 * for all its elements from `from` (where that first one's key starts) to end. 0 if it
 * cannot. */
static int unpack_repeated(const struct rl_pb_op *op, uint8_t *base, ProtobufCAllocator *a, const uint8_t *from,
                           const uint8_t *p, size_t n, const uint8_t *end, unsigned depth)
{
	const ProtobufCFieldDescriptor *f = op->f;
	size_t *count = (size_t *)(base + f->quantifier_offset), es = rl_pb_eltsize(f->type);
	uint8_t **arr = (uint8_t **)(base + f->offset), *elt;

	if (*arr == NULL) {
		size_t all = count_key(from, end, (uint64_t)f->id << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
		if (all == 0 || all > (size_t)(end - from) || (*arr = a->alloc(a->allocator_data, all * es)) == NULL)
			return 0;
	}
	elt = *arr + *count * es;
	if (f->type == PROTOBUF_C_TYPE_STRING) {
		char *s = a->alloc(a->allocator_data, n + 1);
		if (s == NULL)
			return 0;
		memcpy(s, p, n);
		s[n] = '\0';
		*(char **)elt = s;
	} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
		ProtobufCBinaryData *b = (ProtobufCBinaryData *)elt;
		b->len = n;
		b->data = NULL; /* empty: no data, as protobuf-c leaves it */
		if (n > 0 && (b->data = a->alloc(a->allocator_data, n)) == NULL)
			return 0;
		if (n > 0)
			memcpy(b->data, p, n);
	} else if ((*(ProtobufCMessage **)elt = unpack_plan(sub_plan(op), a, p, p + n, depth + 1)) == NULL) {
		return 0;
	}
	(*count)++;
	return 1;
}

/* unpack_plan decodes the message of plan pl's type in [p, end) as protobuf-c would, when
 * its fields are of the kinds a plan tells apart (proto3 strings, integers, enums, bools and
 * messages, repeated strings, bytes and messages, a oneof's messages), each number a varint,
 * no singular message twice, no unknown field; NULL otherwise (or on a failed allocation),
 * leaving what it allocated to the allocator. The message is allocated first. */
static ProtobufCMessage *unpack_plan(const struct rl_pb_plan *pl, ProtobufCAllocator *a, const uint8_t *p,
                                     const uint8_t *end, unsigned depth)
{
	ProtobufCMessage *m;
	uint8_t *base;

	if (pl == NULL || pl->byid == NULL || depth > RL_PB_DEPTH ||
	    (m = a->alloc(a->allocator_data, pl->desc->sizeof_message)) == NULL)
		return NULL;
	pl->desc->message_init(m);
	base = (uint8_t *)m;
	while (p < end) {
		const uint8_t *from = p;
		const struct rl_pb_op *op;
		const ProtobufCFieldDescriptor *f;
		uint64_t key, v;
		unsigned n = get_varint(p, end, &key), wt = (unsigned)(key & 7);

		if (n == 0 || n > 5 || (key >> 3) == 0 || (key >> 3) > pl->maxid || pl->byid[key >> 3] == RL_PB_NOID)
			return NULL; /* an unknown field, or not a key: protobuf-c's to keep or refuse */
		op = &pl->ops[pl->byid[key >> 3]];
		f = op->f;
		p += n;
		if (wt == PROTOBUF_C_WIRE_TYPE_VARINT) {
			uint8_t *mem = base + op->off;
			if (op->kind < K_U64_3 || op->kind > K_BOOL3 || (n = get_varint(p, end, &v)) == 0)
				return NULL;
			switch (op->kind) {
			case K_U64_3:
				*(uint64_t *)mem = v;
				break;
			case K_U32_3:
			case K_I32_3:
				*(uint32_t *)mem = (uint32_t)v; /* the low 32 bits, as protobuf-c */
				break;
			default: { /* K_BOOL3: true if any bit is set, past the 64th too */
				protobuf_c_boolean b = 0;
				for (unsigned i = 0; i < n; i++)
					b |= (p[i] & 0x7f) != 0;
				*(protobuf_c_boolean *)mem = b;
			}
			}
			p += n;
			continue;
		}
		if (wt != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED || (n = get_varint(p, end, &v)) == 0 || n > 5 ||
		    v > (uint64_t)(end - p - n))
			return NULL;
		p += n;
		if (op->kind == K_STR3) {
			char *s = a->alloc(a->allocator_data, v + 1);
			if (s == NULL)
				return NULL;
			memcpy(s, p, v);
			s[v] = '\0';
			*(char **)(base + op->off) = s; /* a string twice: the last one, as protobuf-c */
		} else if (op->kind == K_MSG) {
			void **mem = (void **)(base + op->off);
			if (*mem != NULL || (*mem = unpack_plan(sub_plan(op), a, p, p + v, depth + 1)) == NULL)
				return NULL; /* twice: protobuf-c merges them */
		} else if (op->kind == K_REP_STR || op->kind == K_REP_MSG ||
		           (f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_BYTES)) {
			if (!unpack_repeated(op, base, a, from, p, v, end, depth))
				return NULL;
		} else if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && f->type == PROTOBUF_C_TYPE_MESSAGE &&
		           f->label == PROTOBUF_C_LABEL_NONE) {
			uint32_t *which = (uint32_t *)(base + f->quantifier_offset);
			void **mem = (void **)(base + f->offset);
			if (*which != 0 || (*mem = unpack_plan(sub_plan(op), a, p, p + v, depth + 1)) == NULL)
				return NULL; /* a oneof set twice: protobuf-c's rules */
			*which = f->id;
		} else {
			return NULL;
		}
		p += v;
	}
	return m;
}

ProtobufCMessage *rl_pb_unpack(const ProtobufCMessageDescriptor *d, ProtobufCAllocator *a, size_t len,
                               const uint8_t *data)
{
	return unpack_plan(plan_of(d), a, data, data + len, 0);
}

int rl_pb_equal(const ProtobufCMessage *x, const ProtobufCMessage *y)
{
	size_t n = protobuf_c_message_get_packed_size(x);
	uint8_t *bx, *by;
	int same;

	if (protobuf_c_message_get_packed_size(y) != n)
		return 0;
	bx = rl_malloc(n + 1);
	by = rl_malloc(n + 1);
	protobuf_c_message_pack(x, bx);
	protobuf_c_message_pack(y, by);
	same = memcmp(bx, by, n) == 0;
	free(bx);
	free(by);
	return same;
}

int rl_pb_field0(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return 1;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const uint8_t *mem = (const uint8_t *)m + f->offset, *q = (const uint8_t *)m + f->quantifier_offset;
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			const ProtobufCMessage *const *arr = *(const ProtobufCMessage *const *const *)mem;
			for (size_t k = 0; k < *(const size_t *)q; k++)
				if (arr[k] != NULL && rl_pb_field0(arr[k]))
					return 1;
		} else if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || *(const uint32_t *)q == f->id) {
			const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)mem;
			if (sub != NULL && rl_pb_field0(sub))
				return 1;
		}
	}
	return 0;
}

int rl_pb_same(const ProtobufCMessageDescriptor *d, const uint8_t *mine, size_t len, const uint8_t *theirs, size_t n)
{
	ProtobufCMessage *m;
	uint8_t *again;
	int same;

	if (len != n)
		return 0;
	if (memcmp(mine, theirs, n) == 0)
		return 1; /* the same bytes (protobuf-c packs some messages it cannot read again) */
	if ((m = protobuf_c_message_unpack(d, NULL, len, mine)) == NULL)
		return 0;
	again = rl_malloc(n + 1);
	same = protobuf_c_message_get_packed_size(m) == n && protobuf_c_message_pack(m, again) == n &&
	       memcmp(again, theirs, n) == 0;
	free(again);
	protobuf_c_message_free_unpacked(m, NULL);
	return same;
}
