/*
 * libFuzzer target: the envelope decoder, which sees every frame from every peer, and the
 * bundle splitter that runs before it in every receiving loop. What decodes is encoded again
 * and must come out as the message protobuf-c packs, in as many bytes (rl_pb_same: rl_wire
 * writes the envelope's head itself, its body's fields grouped by kind). And the decoder's
 * fast way (rl_pb_unpack) against protobuf-c alone: whatever it decodes, protobuf-c decodes
 * to the same message.
 * Built with -DRELAIS_FUZZ=ON (clang) as a fuzzer; always built as a corpus replay test.
 */
#include "fuzz.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "rl_bundle.h"
#include "rl_pb.h"
#include "rl_wire.h"

#define FUZZ_BLOCKS 4096

struct blocks {
	void *p[FUZZ_BLOCKS];
	unsigned n;
};

static void *blocks_alloc(void *data, size_t n)
{
	struct blocks *b = data;

	if (b->n == FUZZ_BLOCKS || (b->p[b->n] = malloc(n ? n : 1)) == NULL)
		return NULL; /* the fast way declines */
	return b->p[b->n++];
}

static void blocks_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

/* same_decoding: rl_pb_unpack's message of the bytes, if any, is protobuf-c's */
static void same_decoding(const uint8_t *data, size_t size)
{
	static struct blocks b;
	ProtobufCAllocator a = {blocks_alloc, blocks_free, &b};
	ProtobufCMessage *mine = rl_pb_unpack(&relais__envelope__descriptor, &a, size, data);

	if (mine != NULL) {
		Relais__Envelope *theirs = relais__envelope__unpack(NULL, size, data);
		if (theirs == NULL || !rl_pb_equal(mine, &theirs->base))
			abort(); /* decoded where protobuf-c refuses, or to another message */
		relais__envelope__free_unpacked(theirs, NULL);
	}
	while (b.n > 0)
		free(b.p[--b.n]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rl_env *env = NULL;
	uint8_t *buf;
	size_t len;

	if (size <= RL_WIRE_MAX_FRAME)
		same_decoding(data, size);
	int rv = rl_wire_decode(data, size, &env);
	if (env != NULL) {
		/* Whatever decodes must re-encode within the frame bound, as protobuf-c's message. */
		if (rv == 0 && rl_wire_encode(env, &buf, &len) == 0) {
			size_t n = relais__envelope__get_packed_size(env);
			uint8_t *ref = malloc(n);
			if (ref == NULL)
				abort();
			relais__envelope__pack(env, ref);
			if (!rl_pb_same(&relais__envelope__descriptor, buf, len, ref, n))
				abort(); /* not protobuf-c's message */
			free(ref);
			free(buf);
		}
		rl_wire_free(env);
	}
	nng_msg *m, *frames[RL_BUNDLE_MAX_FRAMES];
	unsigned n = 0;
	if (nng_msg_alloc(&m, size) == 0) {
		if (size)
			memcpy(nng_msg_body(m), data, size);
		if (!rl_bundle_split(m, frames, RL_BUNDLE_MAX_FRAMES, &n))
			nng_msg_free(m);
		for (unsigned i = 0; i < n; i++)
			nng_msg_free(frames[i]);
	}
	return 0;
}
