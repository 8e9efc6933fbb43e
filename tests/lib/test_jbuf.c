/*
 * Jitter buffer: playout order and delay, FEC/loss decisions, duplicates and late packets,
 * growth on a spike and shrinking on silence, wraps, resynchronisation, and a long seeded
 * random run whose every frame must be accounted for.
 *
 * Payloads carry the frame index (4 bytes, little-endian) so every frame that comes out can
 * be checked against the one that is due.
 */
#include <string.h>

#include "rl_err.h"
#include "rl_jbuf.h"
#include "rltest.h"

#define RATE 48000
#define FMS  20
#define FR   960u /* units per frame */
#define FUS  20000ull
#define T0   1000000000ull /* monotonic origin of every test, us */

struct sim {
	struct rl_jbuf *jb;
	uint16_t seq0;
	uint32_t ts0;
	size_t len; /* payload bytes */
};

static void sim_init(struct sim *s, uint32_t min, uint32_t start, uint32_t max, uint32_t slots, uint16_t seq0,
                     uint32_t ts0)
{
	struct rl_jbuf_conf c = {RATE, FMS, min, start, max, slots};
	memset(s, 0, sizeof(*s));
	s->seq0 = seq0;
	s->ts0 = ts0;
	s->len = 40;
	RL_REQUIRE(rl_jbuf_new(&s->jb, &c) == RL_OK);
}

/* put frame i (seq and ts follow i) arriving at us. */
static int sim_put(struct sim *s, uint32_t i, int silence, uint64_t us)
{
	uint8_t p[64];
	memset(p, 0x55, sizeof(p));
	p[0] = (uint8_t)i;
	p[1] = (uint8_t)(i >> 8);
	p[2] = (uint8_t)(i >> 16);
	p[3] = (uint8_t)(i >> 24);
	return rl_jbuf_put(s->jb, (uint16_t)(s->seq0 + i), s->ts0 + i * FR, p, s->len, silence, us);
}

/* get at us; *idx = the frame index in the payload (or -1). */
static int sim_get(struct sim *s, uint64_t us, int64_t *idx)
{
	uint8_t out[RL_JBUF_MAX_PAYLOAD];
	size_t len = 12345;
	int k = rl_jbuf_get(s->jb, us, out, sizeof(out), &len);
	*idx = -1;
	if (k == RL_JB_FRAME || k == RL_JB_FEC) {
		if (len >= 4)
			*idx = out[0] | out[1] << 8 | out[2] << 16 | (int64_t)out[3] << 24;
	} else if (len != 0) {
		*idx = -2; /* len must be 0 without a payload */
	}
	return k;
}

static struct rl_jbuf_stats stats(struct sim *s)
{
	struct rl_jbuf_stats st;
	rl_jbuf_stats(s->jb, &st);
	return st;
}

static void conf_checks(void)
{
	struct rl_jbuf *jb = (struct rl_jbuf *)1;
	struct rl_jbuf_conf ok = {48000, 20, 20, 40, 300, 64}, c;

	RL_CHECK(rl_jbuf_new(&jb, NULL) == RL_EINVAL && jb == NULL);
	c = ok;
	c.clock_rate = 0;
	RL_CHECK(rl_jbuf_new(&jb, &c) == RL_EINVAL);
	c = ok;
	c.frame_ms = 0;
	RL_CHECK(rl_jbuf_new(&jb, &c) == RL_EINVAL);
	c = ok;
	c.min_ms = 50; /* above start */
	RL_CHECK(rl_jbuf_new(&jb, &c) == RL_EINVAL);
	c = ok;
	c.start_ms = 400; /* above max */
	RL_CHECK(rl_jbuf_new(&jb, &c) == RL_EINVAL);
	c = ok;
	c.slots = 1;
	RL_CHECK(rl_jbuf_new(&jb, &c) == RL_EINVAL);
	c = ok;
	c.clock_rate = 11025; /* 20 ms is not a whole number of units */
	RL_CHECK(rl_jbuf_new(&jb, &c) == RL_EINVAL);
	RL_REQUIRE(rl_jbuf_new(&jb, &ok) == RL_OK);
	struct rl_jbuf_stats st;
	rl_jbuf_stats(jb, &st);
	RL_CHECK(st.delay_ms == 40 && st.depth == 0 && st.put == 0);
	uint8_t out[RL_JBUF_MAX_PAYLOAD];
	size_t len = 7;
	RL_CHECK(rl_jbuf_get(jb, T0, out, sizeof(out), &len) == RL_JB_EMPTY && len == 0);
	rl_jbuf_free(jb);
	rl_jbuf_free(NULL);

	/* A ring too small for max_ms caps the delay rather than overflowing. */
	c = ok;
	c.slots = 8;
	RL_REQUIRE(rl_jbuf_new(&jb, &c) == RL_OK);
	rl_jbuf_free(jb);
}

/* In order, on time: every frame plays, in order, exactly start_ms after it arrived. */
static void in_order(void)
{
	struct sim s;
	int64_t idx;
	int bad_order = 0, bad_delay = 0;
	uint32_t next = 0;

	sim_init(&s, 20, 40, 300, 64, 1000, 12345);
	for (uint32_t k = 0; k < 600; k++) {
		uint64_t now = T0 + k * FUS;
		if (k < 500)
			RL_CHECK(sim_put(&s, k, 0, now) == RL_OK);
		if (next == 500)
			break;
		int kind = sim_get(&s, now, &idx);
		if (k < 2) {
			RL_CHECK(kind == RL_JB_EMPTY);
			continue;
		}
		if (kind != RL_JB_FRAME || idx != next)
			bad_order++;
		/* Frame i arrived at T0 + i * 20 ms and plays 40 ms later. */
		if (now - (T0 + (uint64_t)next * FUS) != 40000)
			bad_delay++;
		next++;
	}
	RL_CHECK(next == 500);
	RL_CHECK(bad_order == 0);
	RL_CHECK(bad_delay == 0);
	struct rl_jbuf_stats st = stats(&s);
	RL_CHECK(st.put == 500 && st.played == 500);
	RL_CHECK(st.fec == 0 && st.concealed == 0 && st.late == 0 && st.dup == 0);
	RL_CHECK(st.depth == 0);
	/* No jitter: the target falls to min_ms, but without silence nothing is dropped. */
	RL_CHECK(st.delay_ms == 20 && st.dropped_silence == 0);
	rl_jbuf_free(s.jb);
}

/* Pairs swapped in transit (1, 0, 3, 2, ...) within the delay: still played in order. */
static void reorder(void)
{
	struct sim s;
	int64_t idx;
	int bad = 0;
	uint32_t next = 0;

	sim_init(&s, 20, 40, 300, 64, 0, 0);
	for (uint32_t k = 0; k < 202; k++) {
		uint64_t now = T0 + k * FUS;
		if (k < 200 && k % 2 == 0) {
			RL_CHECK(sim_put(&s, k + 1, 0, now) == RL_OK);
			RL_CHECK(sim_put(&s, k, 0, now + 5000) == RL_OK);
		}
		int kind = sim_get(&s, now + 10000, &idx);
		if (k < 2) {
			RL_CHECK(kind == RL_JB_EMPTY);
			continue;
		}
		if (next < 200) {
			if (kind != RL_JB_FRAME || idx != next)
				bad++;
			next++;
		}
	}
	RL_CHECK(bad == 0);
	struct rl_jbuf_stats st = stats(&s);
	RL_CHECK(st.played == 200 && st.late == 0 && st.concealed == 0 && st.fec == 0);
	rl_jbuf_free(s.jb);
}

/* Loss: FEC from the next packet when it is here, concealment when it is not. */
static void loss_fec(void)
{
	struct sim s;
	int64_t idx;
	int kinds[64];
	int64_t idxs[64];

	sim_init(&s, 20, 40, 300, 64, 65000, 0);
	for (uint32_t k = 0; k < 40; k++) {
		uint64_t now = T0 + k * FUS;
		if (k != 10 && k != 20 && k != 21)
			sim_put(&s, k, 0, now);
		kinds[k] = sim_get(&s, now, &idx);
		idxs[k] = idx;
	}
	/* Frame f plays at get k = f + 2. */
	RL_CHECK(kinds[11] == RL_JB_FRAME && idxs[11] == 9);
	RL_CHECK(kinds[12] == RL_JB_FEC && idxs[12] == 11);   /* frame 10 from 11's FEC */
	RL_CHECK(kinds[13] == RL_JB_FRAME && idxs[13] == 11); /* 11 still plays itself */
	RL_CHECK(kinds[22] == RL_JB_LOSS && idxs[22] == -1);  /* 20: 21 is lost too */
	RL_CHECK(kinds[23] == RL_JB_FEC && idxs[23] == 22);   /* 21 from 22 */
	RL_CHECK(kinds[24] == RL_JB_FRAME && idxs[24] == 22);
	struct rl_jbuf_stats st = stats(&s);
	RL_CHECK(st.fec == 2 && st.concealed == 1 && st.played == 35);
	rl_jbuf_free(s.jb);
}

/* Duplicates (held or already played), late packets, bad sizes, one wild packet ahead. */
static void dup_late(void)
{
	struct sim s;
	int64_t idx;
	uint8_t big[RL_JBUF_MAX_PAYLOAD + 1] = {0};

	sim_init(&s, 20, 40, 300, 64, 10, 0);
	for (uint32_t k = 0; k < 60; k++) {
		uint64_t now = T0 + k * FUS;
		if (k != 30)
			RL_CHECK(sim_put(&s, k, 0, now) == RL_OK);
		if (k == 5)
			RL_CHECK(sim_put(&s, 5, 0, now + 1000) == RL_EEXIST); /* still held */
		if (k == 20)
			RL_CHECK(sim_put(&s, 3, 0, now) == RL_EEXIST); /* played long ago */
		if (k == 34)                                           /* frame 30 played at 32 */
			RL_CHECK(sim_put(&s, 30, 0, now) == RL_ETIMEDOUT);
		if (k == 35)
			RL_CHECK(sim_put(&s, 30, 0, now) == RL_EEXIST); /* a copy of the late one */
		if (k == 40) {
			RL_CHECK(rl_jbuf_put(s.jb, 1, 0, big, 0, 0, now) == RL_ETOOBIG);
			RL_CHECK(rl_jbuf_put(s.jb, 1, 0, big, sizeof(big), 0, now) == RL_ETOOBIG);
			/* One packet a minute ahead, while audio flows: dropped, timeline kept. */
			RL_CHECK(rl_jbuf_put(s.jb, 5000, 60 * 48000, big, 10, 0, now) == RL_ERANGE);
		}
		sim_get(&s, now, &idx);
	}
	struct rl_jbuf_stats st = stats(&s);
	RL_CHECK(st.dup == 3);
	RL_CHECK(st.late == 1);
	RL_CHECK(st.too_big == 2);
	RL_CHECK(st.ahead == 1);
	RL_CHECK(st.fec == 1 && st.concealed == 0);
	/* Frames 0..57 minus 30 would play by get 59, but frame 30 came 80 ms after it was
	 * due: the delay grew by two frames (two holds), so 0..55 minus 30 played. */
	RL_CHECK(st.played == 55);
	RL_CHECK(st.delay_ms >= 80);
	RL_CHECK(st.put == 59 + 7);
	rl_jbuf_free(s.jb);
}

/*
 * A spike: frame 100 comes 100 ms late. Its slot is filled by FEC, it is rejected late, and
 * the next calls hold at once until the delay covers 100 ms. After the peak is forgotten,
 * speech keeps the delay; silence lets it shrink back to min_ms.
 */
static void spike_then_shrink(void)
{
	struct sim s;
	int kinds[2000];
	int64_t idxs[2000];
	uint32_t k;

	sim_init(&s, 20, 40, 300, 64, 0, 0);
	for (k = 0; k < 2000; k++) {
		uint64_t now = T0 + k * FUS;
		/* Speech until 15 s, then silence. */
		int silence = k >= 750;
		if (k != 100)
			RL_CHECK(sim_put(&s, k, silence, now) == RL_OK);
		if (k == 105)
			RL_CHECK(sim_put(&s, 100, 0, T0 + 100 * FUS + 100000) == RL_ETIMEDOUT);
		if (k == 105)
			RL_CHECK(stats(&s).delay_ms >= 100);
		if (k == 700) /* the peak is forgotten 10 s after the late packet ... */
			RL_CHECK(stats(&s).delay_ms == 20);
		if (k == 750) /* ... but speech is never dropped */
			RL_CHECK(stats(&s).dropped_silence == 0);
		kinds[k] = sim_get(&s, now, &idxs[k]);
	}
	RL_CHECK(kinds[102] == RL_JB_FEC && idxs[102] == 101);
	RL_CHECK(kinds[103] == RL_JB_FRAME && idxs[103] == 101);
	RL_CHECK(kinds[104] == RL_JB_FRAME && idxs[104] == 102);
	/* Grown at once: three holds, then frames go on in order without a gap. */
	RL_CHECK(kinds[105] == RL_JB_EMPTY && kinds[106] == RL_JB_EMPTY && kinds[107] == RL_JB_EMPTY);
	RL_CHECK(kinds[108] == RL_JB_FRAME && idxs[108] == 103);
	int ok = 1;
	for (k = 108; k < 750; k++)
		ok &= kinds[k] == RL_JB_FRAME && idxs[k] == (int64_t)k - 5; /* 100 ms behind */
	RL_CHECK(ok);

	/* Speech was never shortened; in the silence the delay came back to 20 ms. */
	struct rl_jbuf_stats st = stats(&s);
	RL_CHECK(st.dropped_silence == 4);
	RL_CHECK(st.delay_ms == 20);
	RL_CHECK(kinds[1990] == RL_JB_FRAME && idxs[1990] == 1989); /* 1 frame behind */
	RL_CHECK(st.concealed == 0 && st.late == 1 && st.fec == 1);
	rl_jbuf_free(s.jb);
}

/* After growing, a second spike of the same size is absorbed without loss. */
static void spike_absorbed(void)
{
	struct sim s;
	int64_t idx;
	int bad = 0;

	sim_init(&s, 20, 40, 300, 64, 0, 0);
	for (uint32_t k = 0; k < 400; k++) {
		uint64_t now = T0 + k * FUS;
		if (k != 100 && k != 200)
			sim_put(&s, k, 0, now);
		if (k == 105)
			sim_put(&s, 100, 0, T0 + 100 * FUS + 100000);
		if (k == 204)
			RL_CHECK(sim_put(&s, 200, 0, T0 + 200 * FUS + 80000) == RL_OK);
		int kind = sim_get(&s, now, &idx);
		if (k >= 150 && (kind != RL_JB_FRAME || idx != (int64_t)k - 5))
			bad++;
	}
	RL_CHECK(bad == 0);
	RL_CHECK(stats(&s).late == 1);
	rl_jbuf_free(s.jb);
}

/* 16-bit seq and 32-bit ts wrap in the middle of the stream, with reorder and a loss. */
static void wraps(void)
{
	struct sim s;
	int64_t idx;
	int bad = 0;
	uint32_t next = 0;

	sim_init(&s, 20, 40, 300, 64, 65500, 0xffffffffu - 60 * FR);
	for (uint32_t k = 0; k < 160; k++) {
		uint64_t now = T0 + k * FUS;
		if (k < 150 && k != 70) {
			if (k == 61)
				continue;
			sim_put(&s, k, 0, now);
			if (k == 62)
				sim_put(&s, 61, 0, now + 1000);
		}
		int kind = sim_get(&s, now, &idx);
		if (k < 2 || next >= 150)
			continue;
		if (next == 70) {
			if (kind != RL_JB_FEC || idx != 71)
				bad++;
		} else if (kind != RL_JB_FRAME || idx != next) {
			bad++;
		}
		next++;
	}
	RL_CHECK(bad == 0);
	struct rl_jbuf_stats st = stats(&s);
	RL_CHECK(st.played == 149 && st.fec == 1 && st.late == 0 && st.dup == 0 && st.ahead == 0);
	rl_jbuf_free(s.jb);
}

/* Puts frame i and gets, every 20 ms from t_from, for i in [from, to); returns the i at
 * which frame `want` came out (or -1). */
static int64_t until_played(struct sim *s, uint32_t from, uint32_t to, uint64_t t_from, int64_t want)
{
	int64_t idx;
	for (uint32_t i = from; i < to; i++) {
		uint64_t now = t_from + (uint64_t)(i - from) * FUS;
		sim_put(s, i, 0, now);
		if (sim_get(s, now, &idx) == RL_JB_FRAME && idx == want)
			return i;
	}
	return -1;
}

/* Timestamp jumps: forward and backward restarts resynchronise; a backlog does not. */
static void resync(void)
{
	struct sim s;
	int64_t idx;

	/* Forward jump while packets are held: the second packet of the new stream resyncs. */
	sim_init(&s, 20, 40, 300, 64, 0, 0);
	RL_CHECK(until_played(&s, 0, 50, T0, 40) >= 0);
	s.seq0 = 30000;
	s.ts0 += 1000000000u;
	uint64_t t = T0 + 50 * FUS;
	RL_CHECK(sim_put(&s, 50, 0, t) == RL_ERANGE);
	RL_CHECK(sim_put(&s, 51, 0, t + FUS) == RL_OK);
	RL_CHECK(until_played(&s, 52, 100, t + 2 * FUS, 60) >= 0);
	RL_CHECK(stats(&s).ahead == 1);
	rl_jbuf_free(s.jb);

	/* Sender silent for 3 s (the buffer drains), then a new talk spurt far ahead: the
	 * first packet resyncs at once, nothing to lose. */
	sim_init(&s, 20, 40, 300, 64, 0, 0);
	RL_CHECK(until_played(&s, 0, 50, T0, 45) >= 0);
	t = T0 + 50 * FUS;
	for (int i = 0; i < 150; i++)
		sim_get(&s, t + (uint64_t)i * FUS, &idx);
	t += 150 * FUS;
	s.ts0 += 200000000u;
	RL_CHECK(sim_put(&s, 50, 0, t) == RL_OK);
	RL_CHECK(until_played(&s, 51, 80, t + FUS, 52) >= 0);
	RL_CHECK(stats(&s).ahead == 0);
	rl_jbuf_free(s.jb);

	/* A silence gap with timestamps that kept running (DTX): no resync needed, the talk
	 * spurt lands in its slots and plays with the same delay; the gap is concealed. */
	sim_init(&s, 20, 40, 300, 64, 0, 0);
	RL_CHECK(until_played(&s, 0, 50, T0, 47) == 49);
	t = T0 + 50 * FUS;
	for (int i = 0; i < 50; i++)
		sim_get(&s, t + (uint64_t)i * FUS, &idx);
	/* Frames 50..99 were never sent; 100 on arrive on time. */
	RL_CHECK(until_played(&s, 100, 130, t + 50 * FUS, 105) == 107);
	rl_jbuf_free(s.jb);

	/* Backward jump: a live stream on an older clock. Three in a row at real-time pace. */
	sim_init(&s, 20, 40, 300, 64, 0, 500000000u);
	RL_CHECK(until_played(&s, 0, 50, T0, 45) >= 0);
	s.ts0 -= 400000000u;
	t = T0 + 50 * FUS;
	RL_CHECK(sim_put(&s, 50, 0, t) == RL_ETIMEDOUT);
	RL_CHECK(sim_put(&s, 51, 0, t + FUS) == RL_ETIMEDOUT);
	RL_CHECK(sim_put(&s, 52, 0, t + 2 * FUS) == RL_OK);
	RL_CHECK(until_played(&s, 53, 100, t + 3 * FUS, 60) >= 0);
	rl_jbuf_free(s.jb);

	/* A network stall: 2 s of nothing, then the backlog in one burst. Stale frames are
	 * dropped as late, the timeline is kept, no frame plays out of order. */
	sim_init(&s, 20, 40, 300, 64, 0, 0);
	RL_CHECK(until_played(&s, 0, 50, T0, 45) >= 0);
	t = T0 + 50 * FUS;
	int64_t last = 45;
	int bad = 0;
	for (uint32_t k = 50; k < 300; k++) {
		uint64_t now = T0 + k * FUS;
		if (k == 150)
			for (uint32_t i = 50; i <= 150; i++)
				sim_put(&s, i, 0, now + i * 10);
		else if (k > 150)
			sim_put(&s, k, 0, now);
		int kind = sim_get(&s, now + 2000, &idx);
		if (kind == RL_JB_FRAME) {
			if (idx <= last)
				bad++;
			last = idx;
		}
	}
	RL_CHECK(bad == 0);
	RL_CHECK(last >= 280);
	RL_CHECK(stats(&s).late > 80);
	RL_CHECK(stats(&s).delay_ms <= 300);
	rl_jbuf_free(s.jb);
}

/* xorshift64*: a fixed seed makes the run reproducible. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

struct arrival {
	uint64_t at;
	uint32_t i;
};

static int by_time(const void *a, const void *b)
{
	const struct arrival *x = a, *y = b;
	return x->at < y->at ? -1 : x->at > y->at;
}

/*
 * 10,000 frames, 20 ms +/- up to 30 ms of jitter (so some reordering), 5 % random loss,
 * silence in 2 s stretches every 6 s. Every frame position after the start must come out
 * exactly once as played, FEC, concealed or dropped silence, in order; every stored packet
 * plays or is dropped as silence; the depth never exceeds the slots.
 */
static void random_run(uint32_t jitter_us, unsigned spike_pct, uint32_t spike_us, uint32_t start_ms)
{
	enum { N = 10000, SLOTS = 64 };
	static struct arrival arr[N];
	unsigned n = 0, put_ok = 0, put_late = 0, put_other = 0;
	uint64_t sum_delay = 0;
	struct sim s;

	sim_init(&s, 20, start_ms, 300, SLOTS, 4242, 0xfff00000u);
	for (uint32_t i = 0; i < N; i++) {
		if (rnd() % 100 < 5)
			continue;
		arr[n].at = T0 + i * FUS + rnd() % (jitter_us + 1);
		if (rnd() % 1000 < spike_pct * 10u)
			arr[n].at += rnd() % (spike_us + 1);
		arr[n].i = i;
		n++;
	}
	qsort(arr, n, sizeof(arr[0]), by_time);

	unsigned a = 0, depth_bad = 0, order_bad = 0;
	int64_t pos = -1; /* next frame position expected out */
	uint64_t positions = 0, max_delay = 0;
	struct rl_jbuf_stats st;
	for (uint64_t k = 0; k < N + 200 && pos < N; k++) {
		uint64_t now = T0 + k * FUS + 7000;
		for (; a < n && arr[a].at <= now; a++) {
			uint32_t i = arr[a].i;
			int rv = sim_put(&s, i, (i / 100) % 3 == 2, arr[a].at);
			if (rv == RL_OK)
				put_ok++;
			else if (rv == RL_ETIMEDOUT)
				put_late++;
			else
				put_other++;
			rl_jbuf_stats(s.jb, &st);
			depth_bad += st.depth > SLOTS;
		}
		int64_t idx;
		uint64_t before = stats(&s).dropped_silence;
		int kind = sim_get(&s, now, &idx);
		rl_jbuf_stats(s.jb, &st);
		depth_bad += st.depth > SLOTS;
		if (kind == RL_JB_EMPTY)
			continue;
		if (pos < 0) /* the start frame is always one that is here */
			pos = kind == RL_JB_FRAME ? idx : -2;
		pos += (int64_t)(st.dropped_silence - before);
		if ((kind == RL_JB_FRAME && idx != pos) || (kind == RL_JB_FEC && idx != pos + 1))
			order_bad++;
		if (kind == RL_JB_FRAME) {
			uint64_t d = now - (T0 + (uint64_t)idx * FUS);
			if (d > max_delay)
				max_delay = d;
			sum_delay += d;
		}
		positions += 1 + (st.dropped_silence - before);
		pos++;
	}
	rl_jbuf_stats(s.jb, &st);
	RL_CHECK(pos == N);
	RL_CHECK(order_bad == 0);
	RL_CHECK(depth_bad == 0);
	RL_CHECK(put_other == 0);
	RL_CHECK(st.put == n);
	RL_CHECK(st.late == put_late);
	/* Every frame position after the start is accounted for exactly once ... */
	RL_CHECK(st.played + st.fec + st.concealed + st.dropped_silence == positions);
	RL_CHECK(positions == (uint64_t)N - (uint64_t)(pos - (int64_t)positions));
	/* ... and every packet stored came out. */
	RL_CHECK(st.played + st.dropped_silence == put_ok);
	RL_CHECK(st.depth == 0);
	/* Losses: the 5 % lost in the network (some rebuilt by FEC) and a few late. */
	RL_CHECK(st.fec + st.concealed >= N * 3 / 100);
	RL_CHECK(st.late < N / 100 + N * spike_pct / 100);
	RL_CHECK(st.dropped_silence > 0);
	RL_CHECK(st.delay_ms >= 20 && st.delay_ms <= 300);
	RL_CHECK(max_delay <= 300000 + FUS);
	fprintf(stderr,
	        "random(jitter %u us, %u%% spikes to %u us): put %u late %u played %llu fec %llu concealed %llu "
	        "dropped %llu target %u ms, mean delay %.1f ms, max %.1f ms\n",
	        jitter_us, spike_pct, spike_us, n, put_late, (unsigned long long)st.played, (unsigned long long)st.fec,
	        (unsigned long long)st.concealed, (unsigned long long)st.dropped_silence, st.delay_ms,
	        sum_delay / 1000.0 / (double)st.played, max_delay / 1000.0);
	rl_jbuf_free(s.jb);
}

int main(void)
{
	conf_checks();
	in_order();
	reorder();
	loss_fec();
	dup_late();
	spike_then_shrink();
	spike_absorbed();
	wraps();
	resync();
	random_run(30000, 0, 0, 60);
	random_run(10000, 1, 120000, 40);
	random_run(60000, 3, 200000, 40);
	return rltest_done();
}
