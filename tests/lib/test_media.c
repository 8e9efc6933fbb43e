/*
 * The media engine between two real engines on loopback UDP: a "site" engine with a shared
 * socket (answering where the agent proves its leg) and an "agent" engine with a socket per
 * call (tests/lib/test_media_latch.c attacks that proof). Audio must arrive intact both ways, quality figures must be sane, a wrong key must
 * be refused, a new plan must re-key a call in place, and a local call must play a source
 * to its sink and say when it ended.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rl_err.h"
#include "rl_media.h"
#include "rl_srtp.h"
#include "rl_time.h"
#include "rltest.h"

#define RATE    16000
#define SECONDS 3

/* A sink that keeps everything in memory. */
struct mem_sink {
	struct rl_audio_sink base;
	int16_t *pcm;
	size_t n, cap;
};

static int mem_write(struct rl_audio_sink *s, const int16_t *pcm, size_t n)
{
	struct mem_sink *m = (struct mem_sink *)s;

	if (m->n + n <= m->cap) {
		memcpy(m->pcm + m->n, pcm, n * sizeof(*pcm));
		m->n += n;
	}
	return RL_OK;
}

static int16_t *g_kept[8];
static size_t g_kept_n[8];
static int g_nkept;

static void mem_close(struct rl_audio_sink *s)
{
	struct mem_sink *m = (struct mem_sink *)s;

	/* keep the samples for the checks */
	g_kept[g_nkept] = m->pcm;
	g_kept_n[g_nkept++] = m->n;
	free(m);
}

static struct rl_audio_sink *mem_sink(void)
{
	struct mem_sink *m = calloc(1, sizeof(*m));

	m->cap = (size_t)RATE * 20;
	m->pcm = calloc(m->cap, sizeof(int16_t));
	m->base.write = mem_write;
	m->base.close = mem_close;
	m->base.rate = RATE;
	return &m->base;
}

/* corr: the correlation of a (what was sent) with b (what was played), aligned piecewise:
 * each 250 ms piece of a at its own best lag in 0..maxlag (an adaptive jitter buffer moves
 * playout by whole frames in silences). */
static double corr(const int16_t *a, size_t na, const int16_t *b, size_t nb, long maxlag)
{
	const size_t win = RATE / 4;
	double tab = 0, taa = 0, tbb = 0;

	for (size_t w = 0; w + win <= na; w += win) {
		double best = -2, bab = 0, baa = 0, bbb = 0;
		for (long lag = 0; lag <= maxlag; lag++) {
			double sab = 0, saa = 0, sbb = 0;
			for (size_t i = w; i < w + win; i += 2) {
				size_t j = i + (size_t)lag;
				if (j >= nb)
					break;
				sab += (double)a[i] * b[j];
				saa += (double)a[i] * a[i];
				sbb += (double)b[j] * b[j];
			}
			double c = saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
			if (c > best) {
				best = c;
				bab = sab, baa = saa, bbb = sbb;
			}
		}
		tab += bab, taa += baa, tbb += bbb;
	}
	return taa > 0 && tbb > 0 ? tab / sqrt(taa * tbb) : 0;
}

/* A source slower than real time: 30 ms of work for 20 ms of audio. */
static int slow_read(struct rl_audio_src *s, int16_t *pcm, size_t n)
{
	uint64_t until = rl_mono_us() + 30000;

	while (rl_mono_us() < until)
		;
	memset(pcm, 0, n * sizeof(*pcm));
	return RL_OK;
}

static void slow_close(struct rl_audio_src *s)
{
}

/* heard: 1 once call id at m has received want packets and measured a round trip (RTCP). */
static int heard(struct rl_media *m, const char *id, uint64_t want)
{
	struct rl_media_quality q;

	return rl_media_quality(m, id, &q) == RL_OK && q.rx_packets >= want && q.rtt_ms >= 0;
}

/* rx_packets: the packets call id at m has received (0 if no such call). */
static uint64_t rx_packets(struct rl_media *m, const char *id)
{
	struct rl_media_quality q;

	return rl_media_quality(m, id, &q) == RL_OK ? q.rx_packets : 0;
}

/* frames_played: the frames call id at m has played to its sink (0 if no such call). */
static uint64_t frames_played(struct rl_media *m, const char *id)
{
	struct rl_media_quality q;

	return rl_media_quality(m, id, &q) == RL_OK ? q.frames : 0;
}

/* refused: what m has thrown away as forged (failed its tag, or replayed). */
static uint64_t refused(struct rl_media *m)
{
	struct rl_media_counters c;

	rl_media_counters(m, &c);
	return c.auth_fail + c.replay;
}

/* make_leg: lk, plk are the leg's own and its peer's latch secrets (NULL: none). */
static void make_leg(struct rl_media_leg *l, const char *id, const uint8_t *ktx, const uint8_t *krx, uint32_t stx,
                     uint32_t srx, const char *peer, int own, uint32_t seed, const uint8_t *lk, const uint8_t *plk)
{
	memset(l, 0, sizeof(*l));
	if ((l->has_latch_key = lk != NULL))
		memcpy(l->latch_key, lk, RL_LATCH_KEY_LEN);
	if ((l->has_peer_latch_key = plk != NULL))
		memcpy(l->peer_latch_key, plk, RL_LATCH_KEY_LEN);
	snprintf(l->id, sizeof(l->id), "%s", id);
	l->suite = RL_SRTP_AEAD_AES_128_GCM;
	l->key_len = rl_srtp_key_len(l->suite);
	memcpy(l->tx_key, ktx, l->key_len);
	memcpy(l->rx_key, krx, l->key_len);
	l->tx_ssrc = stx;
	l->rx_ssrc = srx;
	snprintf(l->peer, sizeof(l->peer), "%s", peer);
	l->own_socket = own;
	l->rate = RATE;
	RL_REQUIRE(rl_audio_gen_src(&l->src, RATE, seed, SECONDS) == RL_OK);
	l->sink = mem_sink();
}

int main(void)
{
	struct rl_media *site, *agent;
	uint8_t k1[RL_SRTP_KEY_MAX], k2[RL_SRTP_KEY_MAX], k3[RL_SRTP_KEY_MAX];
	uint8_t l1[RL_LATCH_KEY_LEN], l2[RL_LATCH_KEY_LEN], l3[RL_LATCH_KEY_LEN];
	struct rl_media_leg ls, la;
	struct rl_media_quality qs, qa;
	struct rl_media_counters mc;

	RL_REQUIRE(rl_media_open(&site, "127.0.0.1:0", 0) == RL_OK);
	RL_REQUIRE(rl_media_open(&agent, NULL, 1) == RL_OK);
	RL_CHECK(strncmp(rl_media_local(site), "127.0.0.1:", 10) == 0);
	RL_CHECK(rl_srtp_keygen(RL_SRTP_AEAD_AES_128_GCM, k1, sizeof(k1)) == RL_OK);
	RL_CHECK(rl_srtp_keygen(RL_SRTP_AEAD_AES_128_GCM, k2, sizeof(k2)) == RL_OK);
	RL_CHECK(rl_srtp_keygen(RL_SRTP_AEAD_AES_128_GCM, k3, sizeof(k3)) == RL_OK);
	rl_latch_keygen(l1);
	rl_latch_keygen(l2);
	rl_latch_keygen(l3);

	/* Bad legs are refused and leave src/sink with the caller. */
	make_leg(&ls, "bad", k1, k2, 0x1000, 0x2000, "", 0, 1, NULL, l2);
	ls.key_len = 16;
	RL_CHECK(rl_media_add(site, &ls) == RL_EINVAL);
	ls.key_len = rl_srtp_key_len(ls.suite);
	ls.has_peer_latch_key = 0; /* no peer, and nothing to check its proofs with */
	RL_CHECK(rl_media_add(site, &ls) == RL_EINVAL);
	ls.has_peer_latch_key = 1;
	snprintf(ls.peer, sizeof(ls.peer), "not-an-address");
	RL_CHECK(rl_media_add(site, &ls) == RL_EINVAL);
	ls.src->close(ls.src);
	ls.sink->close(ls.sink);
	g_nkept = 0;
	free(g_kept[0]);

	/* A call: the site answers to the agent; the agent sends to the site's socket. */
	make_leg(&ls, "c1", k1, k2, 0x1000, 0x2000, "", 0, 11, l1, l2);
	make_leg(&la, "c1", k2, k1, 0x2000, 0x1000, rl_media_local(site), 1, 22, l2, NULL);
	RL_REQUIRE(rl_media_add(site, &ls) == RL_OK);
	RL_REQUIRE(rl_media_add(agent, &la) == RL_OK);
	RL_CHECK(rl_media_has(site, "c1", 0x1000) == 1 && rl_media_has(site, "c1", 0x9999) == 0);
	/* The same rx SSRC twice on the shared socket is refused. */
	struct rl_media_leg dup;
	make_leg(&dup, "c2", k1, k2, 0x3000, 0x2000, "", 0, 5, NULL, l2);
	RL_CHECK(rl_media_add(site, &dup) == RL_EEXIST);
	dup.src->close(dup.src);
	dup.sink->close(dup.sink);
	free(g_kept[--g_nkept]);
	/* The sources' SECONDS of audio, in real time, have crossed both ways. */
	RL_WAIT(SECONDS * 1000 + 20000, heard(site, "c1", SECONDS * 50 - 5) && heard(agent, "c1", SECONDS * 50 - 5));
	RL_CHECK(rl_media_quality(site, "c1", &qs) == RL_OK);
	RL_CHECK(rl_media_quality(agent, "c1", &qa) == RL_OK);
	printf("site: rx %llu lost %lld jitter %.2f ms rtt %.2f ms playout %.0f ms mos %.2f\n",
	       (unsigned long long)qs.rx_packets, (long long)qs.lost, qs.jitter_ms, qs.rtt_ms, qs.playout_ms, qs.mos);
	printf("agent: rx %llu lost %lld jitter %.2f ms rtt %.2f ms playout %.0f ms mos %.2f\n",
	       (unsigned long long)qa.rx_packets, (long long)qa.lost, qa.jitter_ms, qa.rtt_ms, qa.playout_ms, qa.mos);
	RL_CHECK(qs.rx_packets >= SECONDS * 50 - 5 && qa.rx_packets >= SECONDS * 50 - 5);
	RL_CHECK(qs.lost == 0 && qa.lost == 0);
	RL_CHECK(qs.rtt_ms >= 0 && qs.rtt_ms < 50 && qa.rtt_ms >= 0 && qa.rtt_ms < 50);
	RL_CHECK(qs.mos > 4.0 && qa.mos > 4.0);

	/* A new plan (new keys, new SSRCs) for the same call re-keys it in place. */
	struct rl_media_leg ls2, la2;
	make_leg(&ls2, "c1", k3, k1, 0x5000, 0x6000, "", 0, 99, NULL, l3);
	make_leg(&la2, "c1", k1, k3, 0x6000, 0x5000, rl_media_local(site), 1, 98, l3, NULL);
	RL_CHECK(rl_media_add(site, &ls2) == RL_OK);
	RL_CHECK(rl_media_add(agent, &la2) == RL_OK);
	RL_CHECK(rl_media_has(site, "c1", 0x5000) == 1);
	RL_WAIT(20000, rx_packets(agent, "c1") >= 40);
	RL_CHECK(rl_media_quality(agent, "c1", &qa) == RL_OK);
	RL_CHECK(qa.rx_packets >= 40); /* counted afresh on the new plan */

	/* A stranger with the right SSRC but its own key is refused and counted. */
	struct rl_media *evil;
	struct rl_media_leg le;
	RL_REQUIRE(rl_media_open(&evil, NULL, 1) == RL_OK);
	make_leg(&le, "c1", k2, k2, 0x6000, 0x7777, rl_media_local(site), 1, 7, l1, NULL);
	RL_CHECK(rl_media_add(evil, &le) == RL_OK);
	RL_WAIT(20000, refused(site) >= 10);
	rl_media_counters(site, &mc);
	printf("site counters: rx %llu auth_fail %llu replay %llu malformed %llu unknown %llu\n",
	       (unsigned long long)mc.rx, (unsigned long long)mc.auth_fail, (unsigned long long)mc.replay,
	       (unsigned long long)mc.malformed, (unsigned long long)mc.unknown_ssrc);
	RL_CHECK(mc.auth_fail + mc.replay >= 10); /* its packets fail the replay check or the tag */
	rl_media_close(evil);

	RL_CHECK(rl_media_del(site, "c1", &qs) == RL_OK);
	RL_CHECK(rl_media_del(agent, "c1", &qa) == RL_OK);
	RL_CHECK(rl_media_del(site, "c1", NULL) == RL_ENOENT);
	/* Closed sinks, in order: first plan's site and agent sinks (replaced), evil, the rest.
	 * The first call's audio: site sink (kept[0]) heard the agent's voice (seed 22), agent
	 * sink (kept[1]) the site's (seed 11). */
	RL_CHECK(g_nkept >= 4);
	struct rl_audio_src *ref;
	int16_t *r11 = calloc(RATE * SECONDS, sizeof(int16_t)), *r22 = calloc(RATE * SECONDS, sizeof(int16_t));
	RL_REQUIRE(rl_audio_gen_src(&ref, RATE, 11, SECONDS) == RL_OK);
	ref->read(ref, r11, RATE * SECONDS);
	ref->close(ref);
	RL_REQUIRE(rl_audio_gen_src(&ref, RATE, 22, SECONDS) == RL_OK);
	ref->read(ref, r22, RATE * SECONDS);
	ref->close(ref);
	/* Which kept sink is which: the ones closed by the re-plan are not (the call keeps its
	 * audio); the first two closed at rl_media_del are c1's site then agent sinks. */
	double best11 = 0, best22 = 0;
	for (int i = 0; i < g_nkept; i++) {
		double c11 = corr(r11, RATE * 2, g_kept[i], g_kept_n[i], RATE / 5);
		double c22 = corr(r22, RATE * 2, g_kept[i], g_kept_n[i], RATE / 5);
		best11 = c11 > best11 ? c11 : best11;
		best22 = c22 > best22 ? c22 : best22;
	}
	printf("correlation: site -> agent %.3f, agent -> site %.3f\n", best11, best22);
	RL_CHECK(best11 >= 0.9 && best22 >= 0.9);

	/* A local call plays its source to its sink and says when the source ended. */
	struct rl_audio_src *play;
	RL_REQUIRE(rl_audio_gen_src(&play, 8000, 3, 1) == RL_OK);
	RL_CHECK(rl_media_add_local(site, "ivr:1", 8000, play, mem_sink(), NULL, NULL) == RL_OK);
	RL_CHECK(rl_media_played(site, "ivr:1") == 0);
	/* The 1 s source has ended, and the call went on playing to 1.2 s. */
	RL_WAIT(20000, rl_media_played(site, "ivr:1") == 1 && frames_played(site, "ivr:1") >= 60);
	RL_CHECK(rl_media_played(site, "ivr:1") == 1);
	RL_CHECK(rl_media_played(site, "nope") == -1);
	RL_CHECK(rl_media_del(site, "ivr:1", NULL) == RL_OK);
	RL_CHECK(g_kept_n[g_nkept - 1] >= 8000 * 12 / 10);

	/* An overloaded engine (a source that takes longer than a frame to read) still lets
	 * other threads in: a node's loop must never wait on it for long. */
	struct rl_audio_src slow = {.read = slow_read, .close = slow_close, .rate = 8000};
	unsigned idle_load = rl_media_load(site);
	RL_CHECK(rl_media_add_local(site, "slow", 8000, &slow, NULL, NULL, NULL) == RL_OK);
	/* The lock timed every 5 ms, at least 40 times, until the load says overloaded (20 s at
	 * most: the check below says if it never did). */
	uint64_t worst = 0, until = rl_mono_us() + 20000000u;
	for (int i = 0; (i < 40 || rl_media_load(site) < 90) && rl_mono_us() < until; i++) {
		uint64_t t = rl_mono_us();
		rl_media_counters(site, &mc);
		if (rl_mono_us() - t > worst)
			worst = rl_mono_us() - t;
		rltest_sleep_ms(5);
	}
	printf("overloaded engine: the longest wait for its lock %.1f ms (late ticks %llu)\n", worst / 1000.0,
	       (unsigned long long)mc.late_ticks);
	RL_CHECK(worst < 200000);
	/* Its load says so (a node refuses new calls above its limit); idle, it was low. */
	unsigned busy_load = rl_media_load(site);
	printf("engine load: %u %% idle, %u %% overloaded\n", idle_load, busy_load);
	RL_CHECK(busy_load >= 90);
	RL_CHECK(idle_load * 2 < busy_load); /* idle, well below (not a fixed figure: a loaded
	                                      * machine's scheduler stretches an idle engine's turns) */
	RL_CHECK(rl_media_del(site, "slow", NULL) == RL_OK);

	rl_media_close(site);
	rl_media_close(agent);
	for (int i = 0; i < g_nkept; i++)
		free(g_kept[i]);
	free(r11);
	free(r22);
	return rltest_done();
}
