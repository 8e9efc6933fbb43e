/*
 * rl_pb.h - packing and decoding protobuf-c messages, the same messages as protobuf-c, in
 * fewer steps.
 *
 * protobuf-c's packer dispatches every field through a chain of calls by label and then by
 * type, and packs a sub-message only after sizing it in a walk of its own, so a record with
 * sub-messages is walked twice and its strings measured twice. The hub packs about 17 records
 * and 6 frames per contact (docs/benchmarks.md); these do it in one walk per message with the
 * dispatch inline, and a sub-message's length written after it (moved when it needs more than
 * one byte), as protobuf-c's later versions do.
 *
 * The message is protobuf-c 1.4's, in as many bytes (proto3 rules: a scalar at 0, an empty
 * string or bytes, a NULL message is left out; a oneof member by its case; unknown fields
 * last, as kept), its fields grouped by kind (strings, then integers, then messages, then the
 * rest, each in field order) where protobuf-c keeps field order: decoders take fields in any
 * order (the protobuf encoding's rule). test_pb packs random messages of every type in the
 * schema both ways and compares them (rl_pb_same).
 *
 * Decoding (rl_pb_unpack) takes only the common way - the kinds a plan knows, each field
 * once, nothing unknown - in one walk, where protobuf-c scans a message's fields before it
 * decodes them; it declines everything else, and protobuf-c, which meets hostile input
 * either way, decides. test_pb decodes random, mutated and concatenated messages both ways.
 */
#ifndef RL_PB_H
#define RL_PB_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* rl_pb_varint writes v as a protobuf varint at p (at most 10 bytes); returns its length. */
static inline size_t rl_pb_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* rl_pb_size returns protobuf_c_message_get_packed_size(m). */
size_t rl_pb_size(const ProtobufCMessage *m);

/* rl_pb_pack writes protobuf_c_message_pack(m)'s bytes at out, which has room for
 * rl_pb_size(m) bytes, and returns their number. */
size_t rl_pb_pack(const ProtobufCMessage *m, uint8_t *out);

/* rl_pb_eltsize: the size of one element of a repeated field's array of type t, as
 * protobuf-c lays it out (a string or a message is a pointer; a bool a protobuf_c_boolean). */
size_t rl_pb_eltsize(ProtobufCType t);

/* rl_pb_pack_in packs m at out if it fits in cap bytes: its length, or 0 if it does not fit
 * (out's bytes are then undefined). One walk; m's size need not be known. A message that
 * packs to no bytes returns 0 too, and needs none. */
size_t rl_pb_pack_in(const ProtobufCMessage *m, uint8_t *out, size_t cap);

/* rl_pb_unpack decodes len bytes at data as a message of type d through allocator a, as
 * protobuf_c_message_unpack does, when they take the common way: fields of the kinds a plan
 * tells apart (proto3 strings, integers, enums and bools as varints, messages, repeated
 * strings, bytes and messages, a oneof's messages), no singular message or oneof twice, no field
 * this build does not know. It returns NULL for anything else, well formed or not - then
 * protobuf-c decides, on bytes it alone has judged - leaving what it allocated to a (an
 * arena's to drop: only an arena allocator suits). The message is a's first allocation.
 * One walk, where protobuf-c scans the fields first and then decodes them. */
ProtobufCMessage *rl_pb_unpack(const ProtobufCMessageDescriptor *d, ProtobufCAllocator *a, size_t len,
                               const uint8_t *data);

/* rl_pb_equal: 1 if messages x and y are the same: protobuf-c packs them to the same bytes
 * (for tests and checks: it packs both). */
int rl_pb_equal(const ProtobufCMessage *x, const ProtobufCMessage *y);

/* rl_pb_field0: 1 if m, or a message in it, keeps an unknown field numbered 0 (protobuf-c
 * accepts one where the encoding has none, and packs a key it does not read back). */
int rl_pb_field0(const ProtobufCMessage *m);

/* rl_pb_same: 1 if `mine` (len bytes) packs the message of type d that protobuf-c packs as
 * `theirs` (n bytes): the same bytes, or as many bytes (a field written twice, which a
 * decoder would merge, or left out shows) and `mine` decoded by protobuf-c and packed again
 * by it is `theirs`. For tests and benches: it decodes. */
int rl_pb_same(const ProtobufCMessageDescriptor *d, const uint8_t *mine, size_t len, const uint8_t *theirs, size_t n);

#endif
