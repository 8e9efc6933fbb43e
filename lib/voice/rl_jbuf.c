/*
 * rl_jbuf.c - adaptive jitter buffer.
 *
 * Design
 * ------
 * Storage. A ring of conf->slots packet slots, allocated once. The slot at `base` holds the
 * frame due next (RTP timestamp `play_ts`); slot base+k holds the frame k periods later.
 * A packet's place is floor((ts - play_ts) / frame) computed modulo 2^32 (signed), so
 * timestamp wraps cost nothing and the depth can never exceed the ring: a packet that does
 * not fit in [play_ts, play_ts + slots frames) is not stored. Sequence numbers are only used
 * to spot duplicates and to chain a resynchronisation, always compared modulo 2^16.
 *
 * Time base. Like RFC 3550 jitter, every packet gets a relative transit time
 *     D = arrival (in RTP units, mod 2^32) - ts
 * whose absolute value is meaningless but whose differences are network delay differences.
 * The playout point gets the same measure at every rl_jbuf_get, O = now - play_ts, smoothed
 * (EMA 1/8, shifted by a whole frame whenever we hold or drop) so that a jittery caller
 * timer does not make the buffer adapt. With Dmin the smallest D over the recent window,
 *     cur = O - Dmin
 * is how long the fastest recent packet waits in the buffer: the current playout delay.
 * A packet with lateness L = D - Dmin is on time iff L <= cur.
 *
 * Target delay. T = max(P98, peak), clamped to [min_ms, max_ms] (max_ms further capped so
 * that T plus two frames fits in the ring):
 *   - P98 is a high percentile (the (1 + n/50)-th largest) of L over the last 256 packets
 *     (about 5 s of 20 ms frames): it follows the steady jitter, ignores the odd outlier,
 *     and forgets by itself - which is the slow shrinking;
 *   - peak is the lateness (+ frame/8) of the worst packet that arrived too late for its
 *     slot in the last 10 s (a NetEq-style peak detector; each late packet restarts the
 *     10 s): one late packet is proof that the delay was too small, so it counts even if it
 *     is a 1-in-256 event.
 *   Until 50 packets have been seen, T is at least start_ms.
 *
 * Adaptation, decided at each rl_jbuf_get:
 *   - grow at once: if cur < T - frame/8, hold: return RL_JB_EMPTY without consuming a
 *     frame. Each hold adds one frame of delay; consecutive gets keep holding until
 *     cur >= T - frame/8, so a spike is absorbed within T/frame calls. (The frame/8 tolerance keeps
 *     caller timer noise from causing holds.)
 *   - shrink slowly: only if cur >= T + frame (the delay stays >= T after dropping), the due
 *     frame is flagged silence, the frame after it is already here, and no drop happened
 *     in the previous call: the silent frame is dropped and the next one played now. Speech
 *     is never cut and never turned into a loss.
 *   - start: playout begins at the first call at least start_ms after the first packet,
 *     at the lowest timestamp received by then (an earlier packet that arrives before the
 *     start moves the start back if the ring has room).
 *
 * Missing frame once playing: RL_JB_FEC with the next packet if it is present (it stays in
 * the buffer and is played normally next time), else RL_JB_LOSS. A long gap (DTX, sender
 * pause) is simply a run of RL_JB_LOSS: the decoder's PLC/comfort noise is right for both.
 *
 * Rejections. Duplicates: a filled slot, or a seq among the last 64 packets played, dropped
 * or rejected late. Late: behind play_ts by up to max delay + 2 frames (counted, and
 * feeding the estimate and the peak). Farther behind or beyond the ring ahead: a jump.
 *
 * Jumps resynchronise rather than stall. A sender restart, a source switch by a B2BUA or a
 * talk spurt far ahead puts packets outside the window for good. The buffer restarts (empty
 * ring, fresh estimate, start_ms delay) on:
 *   - a far-ahead packet when the buffer is empty (nothing to lose), or two consecutive
 *     far-ahead packets (seq + 1, ts moving forward by less than the ring) otherwise;
 *   - three or more consecutive far-behind packets arriving at real-time pace (their
 *     arrival span at least 3/4 of their timestamp span). A backlog flushed after a
 *     network stall arrives as a burst, fails that test and is dropped as late rather than
 *     replayed seconds old.
 * A single wild packet therefore never moves the timeline while audio is flowing.
 */
#include "rl_jbuf.h"

#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"

#define JB_HIST         256 /* lateness samples in the window */
#define JB_HIST_MIN     50  /* samples before the estimate replaces start_ms */
#define JB_PCT_DIV      50  /* (1 + n/50)-th largest: ~98th percentile */
#define JB_GONE         64  /* remembered seqs of packets already out */
#define JB_PEAK_HOLD_US 10000000u
#define JB_SHRINK_GAP   2 /* calls between two silence drops */
#define JB_EMA          8 /* smoothing of the playout transit */

struct jb_slot {
	uint8_t used, silence;
	uint16_t seq;
	uint16_t len;
	uint32_t ts;
	uint8_t data[RL_JBUF_MAX_PAYLOAD];
};

struct rl_jbuf {
	uint32_t rate, frame; /* RTP clock, frame length in units */
	int64_t min_u, max_u, start_u, tol_u;
	uint64_t start_us;
	uint32_t nslots, late_win; /* ring size; late window in frames */
	struct jb_slot *slot;
	uint32_t base, depth; /* slot of play_ts; packets held */

	int have_ref, playing;
	uint32_t play_ts;
	uint64_t first_us; /* arrival of the packet that (re)started the stream */

	uint32_t d_ref; /* transit of that packet: samples are relative to it */
	int32_t hist[JB_HIST];
	uint32_t hist_n, hist_pos;
	int dirty;
	int64_t dmin, est; /* min sample; percentile lateness */
	double o_s;        /* smoothed playout transit, relative to d_ref */
	int64_t peak;
	uint64_t peak_until;
	int64_t target; /* last computed T */
	uint32_t since_drop;

	uint16_t gone[JB_GONE];
	uint32_t gone_n, gone_pos;

	int chain; /* a jump candidate is pending */
	uint16_t chain_seq;
	uint32_t chain_ts, chain_ts0, chain_n;
	uint64_t chain_us0;

	struct rl_jbuf_stats st;
};

static int32_t diff32(uint32_t a, uint32_t b)
{
	uint32_t d = a - b;
	return d < 0x80000000u ? (int32_t)d : -(int32_t)(~d) - 1;
}

static uint32_t units_of(uint64_t us, uint32_t rate)
{
	return (uint32_t)((us / 1000000u) * rate + (us % 1000000u) * rate / 1000000u);
}

int rl_jbuf_new(struct rl_jbuf **out, const struct rl_jbuf_conf *c)
{
	struct rl_jbuf *jb;

	*out = NULL;
	if (c == NULL || c->clock_rate < 1000 || c->clock_rate > 384000 || c->frame_ms < 1 || c->frame_ms > 120 ||
	    (uint64_t)c->clock_rate * c->frame_ms % 1000 != 0 || c->min_ms > c->start_ms || c->start_ms > c->max_ms ||
	    c->max_ms > 10000 || c->slots < 4 || c->slots > 4096)
		return RL_EINVAL;
	jb = rl_calloc(1, sizeof(*jb));
	jb->slot = rl_calloc(c->slots, sizeof(*jb->slot));
	jb->rate = c->clock_rate;
	jb->frame = (uint32_t)((uint64_t)c->clock_rate * c->frame_ms / 1000);
	jb->nslots = c->slots;
	/* The ring must hold the largest delay plus the frame being played and the next. */
	uint64_t cap_ms = (uint64_t)(c->slots - 2) * c->frame_ms;
	uint32_t max_ms = c->max_ms < cap_ms ? c->max_ms : (uint32_t)cap_ms;
	uint32_t start_ms = c->start_ms < max_ms ? c->start_ms : max_ms;
	uint32_t min_ms = c->min_ms < max_ms ? c->min_ms : max_ms;
	jb->min_u = (int64_t)min_ms * c->clock_rate / 1000;
	jb->max_u = (int64_t)max_ms * c->clock_rate / 1000;
	jb->start_u = (int64_t)start_ms * c->clock_rate / 1000;
	jb->start_us = (uint64_t)start_ms * 1000;
	jb->tol_u = jb->frame / 8;
	jb->late_win = max_ms / c->frame_ms + 2;
	jb->target = jb->start_u;
	*out = jb;
	return RL_OK;
}

void rl_jbuf_free(struct rl_jbuf *jb)
{
	if (jb == NULL)
		return;
	free(jb->slot);
	free(jb);
}

/* jb_rel: frames from play_ts to ts, rounded down, modulo 2^32. */
static int64_t jb_rel(const struct rl_jbuf *jb, uint32_t ts)
{
	int64_t d = diff32(ts, jb->play_ts);
	return d >= 0 ? d / jb->frame : -((-d + jb->frame - 1) / jb->frame);
}

static struct jb_slot *jb_at(struct rl_jbuf *jb, uint32_t k)
{
	return &jb->slot[(jb->base + k) % jb->nslots];
}

static void jb_gone(struct rl_jbuf *jb, uint16_t seq)
{
	jb->gone[jb->gone_pos] = seq;
	jb->gone_pos = (jb->gone_pos + 1) % JB_GONE;
	if (jb->gone_n < JB_GONE)
		jb->gone_n++;
}

static int jb_was_gone(const struct rl_jbuf *jb, uint16_t seq)
{
	for (uint32_t i = 0; i < jb->gone_n; i++)
		if (jb->gone[i] == seq)
			return 1;
	return 0;
}

static void jb_sample(struct rl_jbuf *jb, uint32_t transit)
{
	jb->hist[jb->hist_pos] = diff32(transit, jb->d_ref);
	jb->hist_pos = (jb->hist_pos + 1) % JB_HIST;
	if (jb->hist_n < JB_HIST)
		jb->hist_n++;
	jb->dirty = 1;
}

/* jb_estimate refreshes dmin and the percentile lateness from the window. */
static void jb_estimate(struct rl_jbuf *jb)
{
	int64_t top[1 + JB_HIST / JB_PCT_DIV];
	uint32_t k, nt = 0;

	if (!jb->dirty)
		return;
	jb->dirty = 0;
	if (jb->hist_n == 0) {
		jb->dmin = jb->est = 0;
		return;
	}
	k = 1 + jb->hist_n / JB_PCT_DIV;
	int64_t mn = jb->hist[0];
	for (uint32_t i = 0; i < jb->hist_n; i++) {
		int64_t v = jb->hist[i];
		if (v < mn)
			mn = v;
		/* Keep the k largest, in descending order. */
		if (nt < k || v > top[nt - 1]) {
			uint32_t j = nt < k ? nt++ : nt - 1;
			while (j > 0 && top[j - 1] < v) {
				top[j] = top[j - 1];
				j--;
			}
			top[j] = v;
		}
	}
	jb->dmin = mn;
	jb->est = top[nt - 1] - mn;
}

static int64_t jb_target(struct rl_jbuf *jb, uint64_t now_us)
{
	int64_t t;

	jb_estimate(jb);
	t = jb->est;
	if (jb->peak > 0 && now_us < jb->peak_until) {
		if (jb->peak > t)
			t = jb->peak;
	} else {
		jb->peak = 0;
	}
	if (jb->hist_n < JB_HIST_MIN && t < jb->start_u)
		t = jb->start_u;
	if (t < jb->min_u)
		t = jb->min_u;
	if (t > jb->max_u)
		t = jb->max_u;
	jb->target = t;
	return t;
}

static void jb_store(struct rl_jbuf *jb, struct jb_slot *s, uint16_t seq, uint32_t ts, const uint8_t *p, size_t len,
                     int silence)
{
	s->used = 1;
	s->silence = silence ? 1 : 0;
	s->seq = seq;
	s->ts = ts;
	s->len = (uint16_t)len;
	memcpy(s->data, p, len);
	jb->depth++;
}

/* jb_restart empties the buffer and starts a new timeline at this packet. */
static void jb_restart(struct rl_jbuf *jb, uint32_t ts, uint32_t transit, uint64_t arrival_us)
{
	for (uint32_t i = 0; i < jb->nslots; i++)
		jb->slot[i].used = 0;
	jb->depth = 0;
	jb->base = 0;
	jb->have_ref = 1;
	jb->playing = 0;
	jb->play_ts = ts;
	jb->first_us = arrival_us;
	jb->d_ref = transit;
	jb->hist_n = jb->hist_pos = 0;
	jb->dirty = 1;
	jb->peak = 0;
	jb->o_s = 0;
	jb->since_drop = 0;
	jb->gone_n = jb->gone_pos = 0;
	jb->chain = 0;
	jb->target = jb->start_u;
}

/* jb_far handles a packet outside the window: a jump candidate, or noise. Returns 1 if it
 * restarted the buffer on this packet (the caller stores it), else the put's error. */
static int jb_far(struct rl_jbuf *jb, int64_t rel, uint16_t seq, uint32_t ts, uint32_t transit, uint64_t arrival_us)
{
	int32_t step = diff32(ts, jb->chain_ts);
	int follows = jb->chain && seq == (uint16_t)(jb->chain_seq + 1) && step > 0 &&
	              (uint64_t)step <= (uint64_t)jb->nslots * jb->frame;

	if (follows) {
		jb->chain_n++;
	} else {
		jb->chain_n = 1;
		jb->chain_ts0 = ts;
		jb->chain_us0 = arrival_us;
	}
	jb->chain = 1;
	jb->chain_seq = seq;
	jb->chain_ts = ts;

	if (rel > 0) {
		if (jb->depth == 0 || jb->chain_n >= 2) {
			jb_restart(jb, ts, transit, arrival_us);
			return 1;
		}
		jb->st.ahead++;
		return RL_ERANGE;
	}
	if (jb->chain_n >= 3) {
		/* Real-time pace: a live stream on a shifted clock, not a flushed backlog. */
		int32_t sp = diff32(ts, jb->chain_ts0);
		uint64_t ts_span_us = sp > 0 ? (uint64_t)sp * 1000000u / jb->rate : 0;
		uint64_t span_us = arrival_us > jb->chain_us0 ? arrival_us - jb->chain_us0 : 0;
		if (span_us / 3 >= ts_span_us / 4) {
			jb_restart(jb, ts, transit, arrival_us);
			return 1;
		}
	}
	jb_gone(jb, seq);
	jb->st.late++;
	return RL_ETIMEDOUT;
}

int rl_jbuf_put(struct rl_jbuf *jb, uint16_t seq, uint32_t ts, const uint8_t *p, size_t len, int silence,
                uint64_t arrival_us)
{
	uint32_t transit = units_of(arrival_us, jb->rate) - ts;
	int64_t rel;

	jb->st.put++;
	if (len == 0 || len > RL_JBUF_MAX_PAYLOAD || p == NULL) {
		jb->st.too_big++;
		return RL_ETOOBIG;
	}
	if (!jb->have_ref) {
		jb_restart(jb, ts, transit, arrival_us);
		goto store;
	}
	rel = jb_rel(jb, ts);
	if (!jb->playing && rel < 0 && -rel < (int64_t)jb->nslots) {
		/* Before the start: move the start back to this earlier packet if the ring has room
		 * for everything already held. */
		uint32_t need = (uint32_t)-rel, hi = 0;
		for (uint32_t k = 0; k < jb->nslots; k++)
			if (jb_at(jb, k)->used)
				hi = k;
		if ((uint64_t)hi + need < jb->nslots) {
			jb->base = (jb->base + jb->nslots - need) % jb->nslots;
			jb->play_ts -= need * jb->frame;
			rel = 0;
		}
	}
	if (rel >= 0 && rel < (int64_t)jb->nslots) {
		struct jb_slot *s = jb_at(jb, (uint32_t)rel);
		if (s->used) {
			jb->st.dup++;
			return RL_EEXIST;
		}
		jb->chain = 0;
		jb_store(jb, s, seq, ts, p, len, silence);
		jb_sample(jb, transit);
		return RL_OK;
	}
	if (rel < 0 && -rel <= (int64_t)jb->late_win) {
		if (jb_was_gone(jb, seq)) {
			jb->st.dup++;
			return RL_EEXIST;
		}
		jb->chain = 0;
		jb_gone(jb, seq);
		jb->st.late++;
		jb_sample(jb, transit);
		/* Proof that the delay was too small: raise the peak to this lateness at once. */
		jb_estimate(jb);
		int64_t late = (int64_t)diff32(transit, jb->d_ref) - jb->dmin + jb->tol_u;
		if (arrival_us >= jb->peak_until || late > jb->peak)
			jb->peak = late;
		jb->peak_until = arrival_us + JB_PEAK_HOLD_US;
		jb_target(jb, arrival_us);
		return RL_ETIMEDOUT;
	}
	int rv = jb_far(jb, rel, seq, ts, transit, arrival_us);
	if (rv != 1)
		return rv;
store:
	jb_store(jb, jb_at(jb, 0), seq, ts, p, len, silence);
	jb_sample(jb, transit);
	return RL_OK;
}

static void jb_advance(struct rl_jbuf *jb)
{
	jb->play_ts += jb->frame;
	jb->base = (jb->base + 1) % jb->nslots;
}

/* jb_take removes the due slot s and copies it out (RL_JB_FRAME), or conceals if cap is short. */
static int jb_take(struct rl_jbuf *jb, struct jb_slot *s, uint8_t *out, size_t cap, size_t *len)
{
	int kind = RL_JB_LOSS;

	if (s->len <= cap) {
		memcpy(out, s->data, s->len);
		*len = s->len;
		kind = RL_JB_FRAME;
		jb->st.played++;
	} else {
		jb->st.concealed++;
	}
	jb_gone(jb, s->seq);
	s->used = 0;
	jb->depth--;
	jb_advance(jb);
	return kind;
}

int rl_jbuf_get(struct rl_jbuf *jb, uint64_t now_us, uint8_t *out, size_t cap, size_t *len)
{
	*len = 0;
	if (!jb->have_ref)
		return RL_JB_EMPTY;
	double o_raw = diff32(units_of(now_us, jb->rate) - jb->play_ts, jb->d_ref);
	if (!jb->playing) {
		if (now_us < jb->first_us || now_us - jb->first_us < jb->start_us)
			return RL_JB_EMPTY;
		jb->playing = 1;
		jb->o_s = o_raw;
		jb->since_drop = JB_SHRINK_GAP;
	} else {
		jb->o_s += (o_raw - jb->o_s) / JB_EMA;
	}

	int64_t t = jb_target(jb, now_us);
	double cur = jb->o_s - (double)jb->dmin;
	if (cur < (double)(t - jb->tol_u)) {
		/* Hold: play_ts stays while the clock moves on, so the transit grows a frame. */
		jb->o_s += jb->frame;
		return RL_JB_EMPTY;
	}
	if (jb->since_drop < JB_SHRINK_GAP)
		jb->since_drop++;

	struct jb_slot *s = jb_at(jb, 0), *next = jb_at(jb, 1);
	if (s->used) {
		if (s->silence && next->used && jb->since_drop >= JB_SHRINK_GAP &&
		    cur >= (double)(t + (int64_t)jb->frame)) {
			jb_gone(jb, s->seq);
			s->used = 0;
			jb->depth--;
			jb_advance(jb);
			jb->st.dropped_silence++;
			jb->o_s -= jb->frame;
			jb->since_drop = 0;
			s = next;
		}
		return jb_take(jb, s, out, cap, len);
	}
	jb_advance(jb);
	if (next->used && next->len <= cap) {
		memcpy(out, next->data, next->len);
		*len = next->len;
		jb->st.fec++;
		return RL_JB_FEC;
	}
	jb->st.concealed++;
	return RL_JB_LOSS;
}

void rl_jbuf_stats(const struct rl_jbuf *jb, struct rl_jbuf_stats *st)
{
	*st = jb->st;
	st->delay_ms = (uint32_t)(jb->target * 1000 / jb->rate);
	st->depth = jb->depth;
}
