/*
 * libFuzzer target: the framing a listener (rl_srv) reads from its peers' bytes.
 *
 * The input is a peer's byte stream. It is read once whole and once as it would arrive in
 * pieces (sizes drawn from its first byte), each time the way a pipe does: rl_srv_frame on
 * what is buffered, the bytes it used dropped from the front. Invariants: what is used
 * lies within what was given and is never nothing when something was read; a message lies
 * within its frame (12 bytes of length and hop count before it); and both readings see the
 * same header, the same messages with the same bytes, and end the same way (more needed, or
 * the same error).
 * Built with -DRELAIS_FUZZ=ON (clang) as a fuzzer; always built as a corpus replay test.
 */
#include "fuzz.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rl_srv.h"

#define MAXEV 512

struct reading {
	int rc[MAXEV];       /* what each step found */
	size_t blen[MAXEV];  /* RL_SRV_FRAME: its message's length */
	uint64_t sum[MAXEV]; /* and a checksum of its bytes */
	unsigned n;
	int end; /* RL_SRV_NEED or the error that cut it */
};

static uint64_t sum(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h ^ n;
}

/* take reads buf[0..*len) as a pipe does; returns 0 once it cut the stream */
static int take(uint8_t *buf, size_t *len, int *got_header, struct reading *r)
{
	size_t off = 0;

	for (;;) {
		const uint8_t *body = NULL;
		size_t used = 0, blen = 0;
		int rc = rl_srv_frame(buf + off, *len - off, *got_header, &used, &body, &blen);
		if (rc == RL_SRV_NEED) {
			r->end = rc;
			break;
		}
		if (rc < 0) {
			r->end = rc;
			return 0;
		}
		CHECK(used > 0 && used <= *len - off);
		if (rc == RL_SRV_HEADER) {
			CHECK(!*got_header && used == 8);
			*got_header = 1;
		}
		if (rc == RL_SRV_FRAME) {
			CHECK(body == buf + off + 12 && blen + 12 == used);
			if (r->n < MAXEV) {
				r->blen[r->n] = blen;
				r->sum[r->n] = sum(body, blen);
			}
		}
		if (r->n < MAXEV)
			r->rc[r->n] = rc;
		r->n++;
		off += used;
	}
	memmove(buf, buf + off, *len - off);
	*len -= off;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct reading whole, pieces;
	uint8_t *buf;
	size_t len, at, step;
	int got;

	if (size == 0)
		return 0;
	buf = malloc(size);

	memset(&whole, 0, sizeof(whole));
	memcpy(buf, data, size);
	len = size;
	got = 0;
	(void)take(buf, &len, &got, &whole);

	memset(&pieces, 0, sizeof(pieces));
	len = 0;
	got = 0;
	step = 1 + data[0] % 17;
	for (at = 0; at < size;) {
		size_t n = size - at < step ? size - at : step;
		memcpy(buf + len, data + at, n);
		len += n;
		at += n;
		step = step * 3 % 97 + 1; /* pieces of changing sizes */
		if (!take(buf, &len, &got, &pieces))
			break;
	}

	CHECK(whole.n == pieces.n && whole.end == pieces.end);
	for (unsigned i = 0; i < whole.n && i < MAXEV; i++) {
		CHECK(whole.rc[i] == pieces.rc[i]);
		if (whole.rc[i] == RL_SRV_FRAME)
			CHECK(whole.blen[i] == pieces.blen[i] && whole.sum[i] == pieces.sum[i]);
	}
	free(buf);
	return 0;
}
