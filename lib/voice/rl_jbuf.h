/*
 * rl_jbuf.h - adaptive jitter buffer for one received audio stream.
 *
 * The receiver puts every authenticated RTP payload in as it arrives and takes one frame out
 * every frame period (20 ms) at playout. The buffer:
 *   - holds packets by RTP timestamp and plays them in order at a playout delay it adapts:
 *     it grows at once when packets arrive later than the delay allows (a jitter spike), and
 *     shrinks slowly, only by dropping frames the sender marked (or the caller judged) as
 *     silence, so speech is never cut;
 *   - tells the caller, for a missing frame, whether the NEXT packet is already here so its
 *     Opus in-band FEC can rebuild the lost one (RL_JB_FEC), or whether to conceal (RL_JB_LOSS,
 *     Opus PLC);
 *   - drops (and counts) duplicates, packets too late to play, and packets absurdly far
 *     ahead; it never allocates after creation and never holds more than its capacity.
 * Timestamps are in RTP clock units; the frame length in units is clock_rate * frame_ms / 1000.
 */
#ifndef RL_JBUF_H
#define RL_JBUF_H

#include <stddef.h>
#include <stdint.h>

#define RL_JBUF_MAX_PAYLOAD 1275 /* largest Opus packet */

struct rl_jbuf_conf {
	uint32_t clock_rate; /* RTP clock: 48000 for Opus, 8000 for G.711 */
	uint32_t frame_ms;   /* 20 */
	uint32_t min_ms;     /* lowest playout delay, e.g. 20 */
	uint32_t start_ms;   /* delay at start, e.g. 40 */
	uint32_t max_ms;     /* highest playout delay, e.g. 300 */
	uint32_t slots;      /* capacity in packets, e.g. 64 (power of two not required) */
};

enum rl_jb_kind {
	RL_JB_EMPTY = 0, /* nothing to play yet (before the first packet, or buffering): silence */
	RL_JB_FRAME,     /* out holds the frame's payload */
	RL_JB_FEC,       /* the frame is lost, out holds the NEXT packet: decode it with FEC */
	RL_JB_LOSS,      /* the frame is lost and no FEC is available: conceal (PLC) */
};

struct rl_jbuf_stats {
	uint64_t put, played, fec, concealed, late, dup, ahead, too_big, dropped_silence;
	uint32_t delay_ms; /* current target playout delay */
	uint32_t depth;    /* packets held */
};

struct rl_jbuf;

/* rl_jbuf_new allocates a buffer into *out (freed with rl_jbuf_free). Errors: RL_EINVAL (conf
 * out of range). */
int rl_jbuf_new(struct rl_jbuf **out, const struct rl_jbuf_conf *conf);

/* rl_jbuf_put stores a copy of payload p (len bytes) with its RTP seq and timestamp, received
 * at arrival_us (monotonic). silence: 1 if the payload is known to carry silence/comfort
 * noise (e.g. a tiny Opus DTX frame) so the buffer may drop it to shrink.
 * Returns RL_OK, or why it was dropped: RL_ETOOBIG (len > RL_JBUF_MAX_PAYLOAD or 0),
 * RL_EEXIST (duplicate), RL_ETIMEDOUT (too late to play), RL_ERANGE (too far ahead). */
int rl_jbuf_put(struct rl_jbuf *jb, uint16_t seq, uint32_t ts, const uint8_t *p, size_t len, int silence,
                uint64_t arrival_us);

/* rl_jbuf_get takes the frame due at now_us (call once per frame_ms). Returns an enum
 * rl_jb_kind; for RL_JB_FRAME and RL_JB_FEC copies the payload into out (cap >=
 * RL_JBUF_MAX_PAYLOAD) and sets *len. */
int rl_jbuf_get(struct rl_jbuf *jb, uint64_t now_us, uint8_t *out, size_t cap, size_t *len);

/* rl_jbuf_stats copies the counters. */
void rl_jbuf_stats(const struct rl_jbuf *jb, struct rl_jbuf_stats *st);

/* rl_jbuf_free frees the buffer (NULL is fine). */
void rl_jbuf_free(struct rl_jbuf *jb);

#endif
