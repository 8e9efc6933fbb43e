#define _GNU_SOURCE /* memmem */
#include "rl_bundle.h"

#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_pb.h"
#include "rl_htab.h"
#include "rl_link.h"
#include "rl_wire.h"

/*
 * Frames are written once, at add, straight in the form they travel in a Bundle (field
 * "frames": tag, length, bytes) into the buffer of the slice that will carry them; a slice
 * keeps RL_BUNDLE_HDR bytes in front for the envelope's own header, written at flush. A
 * slice holding one frame sends that frame alone, as it is.
 */
#define RL_BUNDLE_HDR       16   /* >= version (2 bytes) + field 60 tag (2) + length (3) */
#define RL_BUNDLE_FRAME_TAG 0x0a /* Bundle.frames: field 1, length-delimited */
#define RL_BUNDLE_POOL      64   /* slice buffers kept for the next batches */

struct rl_bslice {
	uint8_t *buf;
	size_t len, cap; /* len counts the header room */
	unsigned n;      /* frames */
	size_t first;    /* length of the first frame (sent alone when n == 1) */
};

struct rl_bpipe {
	uint32_t pipe;
	struct rl_bslice *slices;
	unsigned n, cap;
};

struct rl_bbuf {
	uint8_t *buf;
	size_t cap;
};

struct rl_bundler {
	struct rl_htab pipes;
	struct rl_bpipe **order; /* pipes in first-use order */
	size_t norder, caporder;
	struct rl_bbuf pool[RL_BUNDLE_POOL];
	unsigned npool;
};

int rl_bundler_create(struct rl_bundler **out)
{
	*out = rl_calloc(1, sizeof(**out));
	return RL_OK;
}

/* rl_send_slice sends sl: its one frame as is, several as one Bundle envelope; returns the
 * number of frames not sent. */
static unsigned rl_send_slice(uint32_t pipe, struct rl_bslice *sl, rl_bundle_send_fn send, void *arg)
{
	uint8_t hdr[RL_BUNDLE_HDR];
	size_t h = 0;

	if (sl->n == 1)
		return send(arg, pipe, sl->buf + sl->len - sl->first, sl->first) != RL_OK;
	hdr[h++] = 0x08; /* Envelope.version */
	h += rl_pb_varint(hdr + h, RL_WIRE_VERSION);
	hdr[h++] = 0xe2; /* Envelope.bundle: field 60, length-delimited */
	hdr[h++] = 0x03;
	h += rl_pb_varint(hdr + h, sl->len - RL_BUNDLE_HDR);
	memcpy(sl->buf + RL_BUNDLE_HDR - h, hdr, h);
	if (send(arg, pipe, sl->buf + RL_BUNDLE_HDR - h, sl->len - RL_BUNDLE_HDR + h) != RL_OK)
		return sl->n;
	return 0;
}

/* rl_slice_new opens an empty slice on bp, with a buffer from the pool if there is one. */
static struct rl_bslice *rl_slice_new(struct rl_bundler *b, struct rl_bpipe *bp)
{
	struct rl_bslice *sl;

	if (bp->n == bp->cap) {
		bp->cap = bp->cap ? bp->cap * 2 : 2;
		bp->slices = rl_realloc(bp->slices, bp->cap * sizeof(*bp->slices));
	}
	sl = &bp->slices[bp->n++];
	*sl = (struct rl_bslice){NULL, RL_BUNDLE_HDR, 0, 0, 0};
	if (b->npool > 0) {
		b->npool--;
		sl->buf = b->pool[b->npool].buf;
		sl->cap = b->pool[b->npool].cap;
	}
	return sl;
}

static struct rl_bpipe *rl_bpipe_get(struct rl_bundler *b, uint32_t pipe)
{
	struct rl_bpipe *bp = rl_htab_get(&b->pipes, pipe, NULL, NULL);

	if (bp == NULL) {
		bp = rl_calloc(1, sizeof(*bp));
		bp->pipe = pipe;
		if (b->norder == b->caporder) {
			b->caporder = b->caporder ? b->caporder * 2 : 16;
			b->order = rl_realloc(b->order, b->caporder * sizeof(*b->order));
		}
		rl_htab_put(&b->pipes, pipe, bp);
		b->order[b->norder++] = bp;
	}
	return bp;
}

int rl_bundler_add(struct rl_bundler *b, uint32_t pipe, const uint8_t *buf, size_t len)
{
	struct rl_bpipe *bp;
	struct rl_bslice *sl;
	size_t need;

	if (len > RL_WIRE_MAX_FRAME - 64)
		return RL_ETOOBIG;
	bp = rl_bpipe_get(b, pipe);
	sl = bp->n > 0 ? &bp->slices[bp->n - 1] : NULL;
	/* A slice respects the bundle's frame count and the frame size bound (8 bytes of
	 * room per frame for its tag and length). */
	if (sl == NULL || (sl->n > 0 && (sl->n == RL_BUNDLE_MAX_FRAMES || sl->len + len + 8 >= RL_WIRE_MAX_FRAME)))
		sl = rl_slice_new(b, bp);
	need = sl->len + len + 8;
	if (need > sl->cap) {
		sl->cap = sl->cap * 2 > need ? sl->cap * 2 : need + 1024;
		sl->buf = rl_realloc(sl->buf, sl->cap);
	}
	sl->buf[sl->len++] = RL_BUNDLE_FRAME_TAG;
	sl->len += rl_pb_varint(sl->buf + sl->len, len);
	memcpy(sl->buf + sl->len, buf, len);
	sl->len += len;
	if (sl->n++ == 0)
		sl->first = len;
	return RL_OK;
}

/* rl_slice_done returns sl's buffer to the pool (or frees it). */
static void rl_slice_done(struct rl_bundler *b, struct rl_bslice *sl)
{
	if (b->npool < RL_BUNDLE_POOL)
		b->pool[b->npool++] = (struct rl_bbuf){sl->buf, sl->cap};
	else
		free(sl->buf);
}

static int rl_bundle_send_nng(void *arg, uint32_t pipe, const void *buf, size_t len)
{
	return rl_link_send_bytes(*(nng_socket *)arg, pipe, buf, len);
}

unsigned rl_bundler_flush(struct rl_bundler *b, nng_socket s)
{
	return rl_bundler_flush_fn(b, rl_bundle_send_nng, &s);
}

unsigned rl_bundler_flush_fn(struct rl_bundler *b, rl_bundle_send_fn send, void *arg)
{
	unsigned failed = 0;

	for (size_t i = 0; i < b->norder; i++) {
		struct rl_bpipe *bp = b->order[i];
		for (unsigned k = 0; k < bp->n; k++) {
			failed += rl_send_slice(bp->pipe, &bp->slices[k], send, arg);
			rl_slice_done(b, &bp->slices[k]);
		}
		rl_htab_del(&b->pipes, bp->pipe, bp);
		free(bp->slices);
		free(bp);
	}
	b->norder = 0;
	return failed;
}

void rl_bundler_destroy(struct rl_bundler *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->norder; i++) {
		for (unsigned k = 0; k < b->order[i]->n; k++)
			free(b->order[i]->slices[k].buf);
		free(b->order[i]->slices);
		free(b->order[i]);
	}
	for (unsigned i = 0; i < b->npool; i++)
		free(b->pool[i].buf);
	rl_htab_fini(&b->pipes);
	free(b->order);
	free(b);
}

int rl_bundle_split(nng_msg *msg, nng_msg **out, unsigned max, unsigned *n)
{
	if (!rl_bundle_split_buf(nng_msg_body(msg), nng_msg_len(msg), nng_msg_get_pipe(msg), out, max, n))
		return 0;
	nng_msg_free(msg);
	return 1;
}

int rl_bundle_split_buf(const uint8_t *body, size_t len, nng_pipe pipe, nng_msg **out, unsigned max, unsigned *n)
{
	rl_env *env = NULL;

	*n = 0;
	/* Cheap test first: a Bundle has field 60 (tag 0xe2 0x03) right after the version. */
	if (len < 4 || memmem(body, len < 16 ? len : 16, "\xe2\x03", 2) == NULL)
		return 0;
	if (rl_wire_decode(body, len, &env) != RL_OK || env->body_case != RELAIS__ENVELOPE__BODY_BUNDLE) {
		rl_wire_free(env);
		return 0; /* not a bundle (or not valid): the consumer decodes and counts it */
	}
	for (size_t i = 0; i < env->bundle->n_frames && *n < max; i++) {
		const ProtobufCBinaryData *f = &env->bundle->frames[i];
		nng_msg *m;
		if (f->len == 0 || f->data == NULL)
			continue; /* an empty frame is no envelope */
		if (nng_msg_alloc(&m, f->len) != 0)
			rl_oom(f->len);
		memcpy(nng_msg_body(m), f->data, f->len);
		nng_msg_set_pipe(m, pipe);
		out[(*n)++] = m;
	}
	rl_wire_free(env);
	return 1;
}
