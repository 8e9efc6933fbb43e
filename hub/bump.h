/*
 * bump.h - a bump allocator for protobuf-c's unpack: a message's objects carved in order
 * from one buffer the caller owns, all released at once by emptying it. For messages read,
 * used and dropped at once (a day's events folded into a report, a record given one field
 * and written back), where a malloc and a free per field would be most of the work.
 * Nothing in such a message may be freed on its own (no rl_wire_set_str on it). An unpack
 * that does not fit fails (NULL), and the caller reads it another way. rl_bump_unpack
 * decodes in one walk (rl_pb_unpack) what takes the common way, the rest with protobuf-c.
 */
#ifndef RL_BUMP_H
#define RL_BUMP_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "rl_pb.h"

struct rl_bump {
	uint8_t *buf; /* 16-byte aligned */
	size_t cap, used;
};

static inline void *rl_bump_alloc(void *arg, size_t n)
{
	struct rl_bump *b = arg;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > b->cap - b->used)
		return NULL;
	p = b->buf + b->used;
	b->used += n;
	return p;
}

static inline void rl_bump_free(void *arg, void *p)
{
	(void)arg;
	(void)p;
}

/* rl_bump_allocator: protobuf-c's allocator over b */
static inline ProtobufCAllocator rl_bump_allocator(struct rl_bump *b)
{
	return (ProtobufCAllocator){rl_bump_alloc, rl_bump_free, b};
}

/* rl_bump_unpack decodes len bytes at data as a message of type d into b (after what it
 * holds): rl_pb_unpack, or protobuf-c where it declines, on b as it was. NULL if the bytes
 * are not such a message or it does not fit. */
static inline ProtobufCMessage *rl_bump_unpack(struct rl_bump *b, const ProtobufCMessageDescriptor *d, size_t len,
                                               const uint8_t *data)
{
	ProtobufCAllocator alloc = rl_bump_allocator(b);
	size_t mark = b->used;
	ProtobufCMessage *m = rl_pb_unpack(d, &alloc, len, data);

	if (m == NULL) {
		b->used = mark;
		m = protobuf_c_message_unpack(d, &alloc, len, data);
	}
	return m;
}

#endif
