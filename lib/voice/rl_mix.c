/*
 * rl_mix.c - listen, whisper, barge: a third party on a call, mixed where the call's audio is.
 *
 * A call of the engine (rl_mcall) carries two parties: its source is the caller, its sink
 * goes to the caller, and its network leg is the agent. A supervisor joins as a third party:
 * a network leg of its own (an rl_mcall that is in no shard's list: its socket, SRTP, Opus
 * encoder and decoder, jitter buffer, latch proofs and RTCP are those of any call) hung on
 * the call and moved by the call's own tick, on the call's shard thread, under the shard's
 * lock - no lock, thread or hand-off of its own. The mix is in PCM at the call's rate:
 *
 *   to the agent:       caller            + supervisor (whisper, barge)
 *   to the caller:      agent             + supervisor (barge)
 *   to the supervisor:  caller + agent    (every mode; never its own voice)
 *
 * Within a tick the call reads the caller's frame and encodes it to the agent, decodes the
 * agent's frame and writes it to the caller; the supervisor's leg then encodes caller plus
 * agent and decodes the supervisor's next frame, which the call mixes in at the following
 * tick: the supervisor's voice reaches the others 20 ms later than it would in a tick of its
 * own, and no frame waits on another thread. In listen mode the supervisor's frames are
 * decoded (its jitter buffer and quality stay right) and dropped. The leg's socket is the
 * supervisor's alone and sits in the call's shard's epoll set, so its datagrams reach the
 * thread that owns the call whatever its SSRC (the shared port steers by SSRC, and the hub
 * cannot know the node's shard count): it always has a fixed peer, the hub's relay, where it
 * proves its leg with latch packets like a home agent's client.
 *
 * The encoder exists only while a supervisor is on: the leg is freed when it leaves, when the
 * call ends, or when a new plan replaces the call (the hub then sends the leg again).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_media_int.h"

struct rl_mix {
	struct rl_mcall *party; /* the supervisor's leg */
	int mode;               /* enum rl_mix_mode */
	unsigned samples;
	struct rl_audio_src src;   /* what the leg sends: to_sup */
	struct rl_audio_sink sink; /* what the leg received: from_sup */
	int16_t caller[RL_MEDIA_MAX_FRAME];
	int16_t to_sup[RL_MEDIA_MAX_FRAME];
	int16_t from_sup[RL_MEDIA_MAX_FRAME];
};

static int16_t rl_mix_sat(int32_t v)
{
	return (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
}

/* rl_mix_add: out[i] = a[i] + b[i], saturated. */
static void rl_mix_add(int16_t *out, const int16_t *a, const int16_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		out[i] = rl_mix_sat((int32_t)a[i] + b[i]);
}

static int rl_mix_src_read(struct rl_audio_src *s, int16_t *pcm, size_t n)
{
	struct rl_mix *x = (struct rl_mix *)((char *)s - offsetof(struct rl_mix, src));

	memcpy(pcm, x->to_sup, n * sizeof(*pcm));
	return RL_OK;
}

static int rl_mix_sink_write(struct rl_audio_sink *s, const int16_t *pcm, size_t n)
{
	struct rl_mix *x = (struct rl_mix *)((char *)s - offsetof(struct rl_mix, sink));

	memcpy(x->from_sup, pcm, n * sizeof(*pcm));
	return RL_OK;
}

static void rl_mix_src_close(struct rl_audio_src *s)
{
	(void)s; /* part of the mix: freed with it */
}

static void rl_mix_sink_close(struct rl_audio_sink *s)
{
	(void)s;
}

void rl_mix_free(struct rl_mix *x)
{
	if (x == NULL)
		return;
	rl_mcall_free(x->party); /* closes its socket: out of its shard's epoll set */
	free(x);
}

void rl_mix_to_agent(struct rl_mix *x, int16_t *pcm)
{
	memcpy(x->caller, pcm, x->samples * sizeof(*pcm));
	if (x->mode == RL_MIX_WHISPER || x->mode == RL_MIX_BARGE)
		rl_mix_add(pcm, pcm, x->from_sup, x->samples);
}

void rl_mix_to_caller(struct rl_mshard *s, struct rl_mix *x, int16_t *pcm, uint64_t now)
{
	rl_mix_add(x->to_sup, x->caller, pcm, x->samples);
	if (x->mode == RL_MIX_BARGE)
		rl_mix_add(pcm, pcm, x->from_sup, x->samples);
	/* The supervisor's leg: caller and agent out, its next frame in (from_sup). */
	rl_mcall_tick(s, x->party, now);
}

struct rl_mcall *rl_mix_socket_owner(struct rl_mcall *c, int fd)
{
	if (c->fd == fd)
		return c;
	if (c->mix != NULL && c->mix->party->fd == fd)
		return c->mix->party;
	return NULL;
}

/* rl_mix_new makes the supervisor's leg for a call at rate; NULL with *rv on failure. */
static struct rl_mix *rl_mix_new(const struct rl_media_leg *leg, unsigned rate, int *rv)
{
	struct rl_mix *x = rl_calloc(1, sizeof(*x));
	struct rl_media_leg l = *leg;

	l.own_socket = 1;
	l.rate = rate;
	l.src = NULL;
	l.sink = NULL;
	if ((*rv = rl_mcall_new(&x->party, &l)) != RL_OK) {
		free(x);
		return NULL;
	}
	x->samples = x->party->samples;
	x->src = (struct rl_audio_src){.read = rl_mix_src_read, .close = rl_mix_src_close, .rate = rate};
	x->sink = (struct rl_audio_sink){.write = rl_mix_sink_write, .close = rl_mix_sink_close, .rate = rate};
	x->party->leg.src = &x->src;
	x->party->leg.sink = &x->sink;
	return x;
}

/* rl_mix_hang puts x on call c of shard s (under its lock); returns the mix it replaces. */
static struct rl_mix *rl_mix_hang(struct rl_mshard *s, struct rl_mcall *c, struct rl_mix *x)
{
	struct rl_mix *old = c->mix;
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = x->party->fd};

	if (old != NULL)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, old->party->fd, NULL);
	epoll_ctl(s->ep, EPOLL_CTL_ADD, x->party->fd, &ev);
	x->party->ticked = s->tick;
	c->mix = x;
	return old;
}

int rl_media_monitor(struct rl_media *m, const char *id, const struct rl_media_leg *leg, int mode)
{
	struct rl_mshard *s;
	struct rl_mcall *c;
	struct rl_mix *x, *old = NULL;
	size_t idx;
	unsigned rate;
	int rv = RL_OK;

	if (mode < RL_MIX_LISTEN || mode > RL_MIX_BARGE || !leg->peer[0] || !leg->has_latch_key)
		return RL_EINVAL; /* the leg goes to the relay and proves itself there */
	if ((c = rl_media_find(m, id, &s, &idx)) == NULL)
		return RL_ENOENT;
	if (c->local) {
		rl_mshard_unlock(s);
		return RL_ENOENT; /* nobody talks to an agent yet */
	}
	if (c->mix != NULL && c->mix->party->leg.tx_ssrc == leg->tx_ssrc) {
		c->mix->mode = mode; /* the same leg: another mode */
		rl_mshard_unlock(s);
		return RL_OK;
	}
	rate = c->leg.rate;
	rl_mshard_unlock(s);
	/* The codec and socket are made outside the shard's lock: its thread goes on meanwhile. */
	if ((x = rl_mix_new(leg, rate, &rv)) == NULL)
		return rv;
	x->mode = mode;
	if ((c = rl_media_find(m, id, &s, &idx)) == NULL || c->leg.rate != rate) {
		if (c != NULL)
			rl_mshard_unlock(s);
		rl_mix_free(x);
		return RL_ENOENT; /* ended or replaced meanwhile */
	}
	old = rl_mix_hang(s, c, x);
	rl_mshard_unlock(s);
	rl_mix_free(old);
	return RL_OK;
}

int rl_media_unmonitor(struct rl_media *m, const char *id, struct rl_media_quality *q)
{
	struct rl_mshard *s;
	struct rl_mcall *c;
	struct rl_mix *x;
	size_t idx;

	if ((c = rl_media_find(m, id, &s, &idx)) == NULL)
		return RL_ENOENT;
	if ((x = c->mix) != NULL) {
		if (q != NULL)
			rl_mcall_quality(x->party, q);
		epoll_ctl(s->ep, EPOLL_CTL_DEL, x->party->fd, NULL);
		c->mix = NULL;
	}
	rl_mshard_unlock(s);
	if (x == NULL)
		return RL_ENOENT;
	rl_mix_free(x);
	return RL_OK;
}

static void rl_mix_drop(void *arg, struct rl_mshard *s, struct rl_mcall *c)
{
	unsigned *n = arg;

	if (c->mix == NULL)
		return;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->mix->party->fd, NULL);
	rl_mix_free(c->mix); /* a codec and a socket: quick enough under the shard's lock */
	c->mix = NULL;
	(*n)++;
}

unsigned rl_media_unmonitor_all(struct rl_media *m)
{
	unsigned n = 0;

	rl_media_each_call(m, rl_mix_drop, &n);
	return n;
}
