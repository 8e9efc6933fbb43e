#define _GNU_SOURCE /* memmem */
#include "rl_bundle.h"

#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_htab.h"
#include "rl_wire.h"

struct rl_bframe {
	uint8_t *buf;
	size_t len;
};

struct rl_bpipe {
	uint32_t pipe;
	struct rl_bframe *frames;
	unsigned n, cap;
};

struct rl_bundler {
	struct rl_htab pipes;
	struct rl_bpipe **order; /* pipes in first-use order */
	size_t norder, caporder;
};

int rl_bundler_create(struct rl_bundler **out)
{
	*out = rl_calloc(1, sizeof(**out));
	return RL_OK;
}

static int rl_bundler_send(nng_socket s, uint32_t pipe, const uint8_t *buf, size_t len)
{
	nng_msg *m;
	nng_pipe p = NNG_PIPE_INITIALIZER;

	if (nng_msg_alloc(&m, len) != 0)
		rl_oom(len);
	memcpy(nng_msg_body(m), buf, len);
	p.id = pipe;
	nng_msg_set_pipe(m, p);
	if (nng_sendmsg(s, m, NNG_FLAG_NONBLOCK) != 0) {
		nng_msg_free(m);
		return RL_EAGAIN;
	}
	return RL_OK;
}

/* rl_send_slice sends frames[0..n): one frame as is, several as one bundle; frees them. */
static unsigned rl_send_slice(uint32_t pipe, struct rl_bframe *frames, unsigned n, nng_socket s)
{
	unsigned failed = 0;

	if (n == 1) {
		failed = rl_bundler_send(s, pipe, frames[0].buf, frames[0].len) != RL_OK;
	} else if (n > 1) {
		Relais__Bundle bundle = RELAIS__BUNDLE__INIT;
		ProtobufCBinaryData bins[RL_BUNDLE_MAX_FRAMES];
		rl_env env;
		uint8_t *buf;
		size_t len;
		for (unsigned i = 0; i < n; i++) {
			bins[i].data = frames[i].buf;
			bins[i].len = frames[i].len;
		}
		bundle.n_frames = n;
		bundle.frames = bins;
		rl_env_init(&env);
		env.body_case = RELAIS__ENVELOPE__BODY_BUNDLE;
		env.bundle = &bundle;
		if (rl_wire_encode(&env, &buf, &len) == RL_OK) {
			if (rl_bundler_send(s, pipe, buf, len) != RL_OK)
				failed = n;
			free(buf);
		} else {
			failed = n;
		}
	}
	for (unsigned i = 0; i < n; i++)
		free(frames[i].buf);
	return failed;
}

int rl_bundler_add(struct rl_bundler *b, uint32_t pipe, const uint8_t *buf, size_t len)
{
	struct rl_bpipe *bp = rl_htab_get(&b->pipes, pipe, NULL, NULL);
	uint8_t *copy;

	if (len > RL_WIRE_MAX_FRAME - 64)
		return RL_ETOOBIG;
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
	if (bp->n == bp->cap) {
		bp->cap = bp->cap ? bp->cap * 2 : 8;
		bp->frames = rl_realloc(bp->frames, bp->cap * sizeof(*bp->frames));
	}
	copy = rl_malloc(len);
	memcpy(copy, buf, len);
	bp->frames[bp->n].buf = copy;
	bp->frames[bp->n].len = len;
	bp->n++;
	return RL_OK;
}

unsigned rl_bundler_flush(struct rl_bundler *b, nng_socket s)
{
	unsigned failed = 0;

	for (size_t i = 0; i < b->norder; i++) {
		struct rl_bpipe *bp = b->order[i];
		unsigned start = 0;
		/* Slices that respect the bundle's frame count and the frame size bound. */
		while (start < bp->n) {
			size_t bytes = 16;
			unsigned k = start;
			while (k < bp->n && k - start < RL_BUNDLE_MAX_FRAMES &&
			       bytes + bp->frames[k].len + 8 < RL_WIRE_MAX_FRAME) {
				bytes += bp->frames[k].len + 8;
				k++;
			}
			if (k == start)
				k = start + 1;
			failed += rl_send_slice(bp->pipe, bp->frames + start, k - start, s);
			start = k;
		}
		rl_htab_del(&b->pipes, bp->pipe, bp);
		free(bp->frames);
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
			free(b->order[i]->frames[k].buf);
		free(b->order[i]->frames);
		free(b->order[i]);
	}
	rl_htab_fini(&b->pipes);
	free(b->order);
	free(b);
}

int rl_bundle_split(nng_msg *msg, nng_msg **out, unsigned max, unsigned *n)
{
	rl_env *env = NULL;
	nng_pipe pipe = nng_msg_get_pipe(msg);
	const uint8_t *body = nng_msg_body(msg);
	size_t len = nng_msg_len(msg);

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
	nng_msg_free(msg);
	return 1;
}
