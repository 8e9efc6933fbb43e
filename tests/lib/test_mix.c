/*
 * Listen, whisper, barge in the media engine (rl_mix.c), on real engines over loopback UDP:
 * a site's call (its source is the caller: a 500 Hz tone; its sink is what goes back to the
 * caller), its agent (1000 Hz) and a supervisor (1500 Hz) whose leg the site's call carries
 * as a third party. A Goertzel filter tells which tones each one heard: in listen mode the
 * supervisor hears caller and agent and nobody hears the supervisor; in whisper mode the agent
 * hears it and the caller does not; in barge mode both do; nobody hears their own voice back
 * from the mix; a mode change takes effect on the same leg; a leg taken off stops. At 16 kHz
 * and at 8 kHz (a G.711 carrier call's rate).
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rl_err.h"
#include "rl_latch.h"
#include "rl_media.h"
#include "rl_time.h"
#include "rltest.h"

#define F_CALLER 500.0
#define F_AGENT  1000.0
#define F_SUP    1500.0
#define CAP      (16000 * 4)

struct tone {
	struct rl_audio_src src;
	double f, phase;
};

static int tone_read(struct rl_audio_src *s, int16_t *pcm, size_t n)
{
	struct tone *t = (struct tone *)s;

	for (size_t i = 0; i < n; i++) {
		pcm[i] = (int16_t)(6000.0 * sin(t->phase));
		t->phase += 2 * M_PI * t->f / s->rate;
	}
	return RL_OK;
}

static void tone_close(struct rl_audio_src *s)
{
	free(s);
}

static struct rl_audio_src *tone(double f, unsigned rate)
{
	struct tone *t = calloc(1, sizeof(*t));

	t->src = (struct rl_audio_src){.read = tone_read, .close = tone_close, .rate = rate};
	t->f = f;
	return &t->src;
}

/* What one party heard: the last CAP samples, the count written (read by the test when the
 * engine thread is done with it, or as a progress counter). */
struct cap {
	struct rl_audio_sink sink;
	int16_t pcm[CAP];
	atomic_size_t n;
};

static int cap_write(struct rl_audio_sink *s, const int16_t *pcm, size_t n)
{
	struct cap *c = (struct cap *)s;
	size_t at = atomic_load(&c->n);

	for (size_t i = 0; i < n; i++)
		c->pcm[(at + i) % CAP] = pcm[i];
	atomic_store(&c->n, at + n);
	return RL_OK;
}

static void cap_close(struct rl_audio_sink *s)
{
	(void)s; /* the test's own: read after the call */
}

static struct rl_audio_sink *cap_open(struct cap *c, unsigned rate)
{
	memset(c, 0, sizeof(*c));
	c->sink = (struct rl_audio_sink){.write = cap_write, .close = cap_close, .rate = rate};
	return &c->sink;
}

/* share: the part of the last n samples' power that is at f (Goertzel), 0..1. */
static double share(struct cap *c, unsigned rate, double f, size_t n)
{
	size_t end = atomic_load(&c->n);
	double k = 2 * cos(2 * M_PI * f / rate), s1 = 0, s2 = 0, total = 0;

	if (end < n)
		return -1;
	for (size_t i = end - n; i < end; i++) {
		double x = c->pcm[i % CAP], s0 = x + k * s1 - s2;
		s2 = s1;
		s1 = s0;
		total += x * x;
	}
	if (total <= 0)
		return 0;
	/* |X(f)|^2 = s1^2 + s2^2 - k s1 s2; a sinusoid of amplitude A gives (A n / 2)^2, and
	 * its mean square is A^2 / 2. */
	return (s1 * s1 + s2 * s2 - k * s1 * s2) * 2 / ((double)n * total);
}

struct run {
	struct rl_media *site, *agent, *sup;
	struct rl_media_leg party;
	struct cap caller, agent_hears, sup_hears;
	unsigned rate;
};

static void leg(struct rl_media_leg *l, uint32_t tx, uint32_t rx, const uint8_t *ktx, const uint8_t *krx,
                const char *peer, unsigned rate)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->id, sizeof(l->id), "c1");
	l->suite = RL_SRTP_AEAD_AES_128_GCM;
	l->key_len = rl_srtp_key_len(l->suite);
	memcpy(l->tx_key, ktx, l->key_len);
	memcpy(l->rx_key, krx, l->key_len);
	l->tx_ssrc = tx;
	l->rx_ssrc = rx;
	snprintf(l->peer, sizeof(l->peer), "%s", peer);
	l->rate = rate;
}

/* run_start: a site's call with its agent, and a supervisor's engine ready to be joined. */
static void run_start(struct run *r, unsigned rate)
{
	uint8_t k[4][RL_SRTP_KEY_MAX];
	struct rl_media_leg l;

	r->rate = rate;
	for (int i = 0; i < 4; i++)
		RL_REQUIRE(rl_srtp_keygen(RL_SRTP_AEAD_AES_128_GCM, k[i], sizeof(k[i])) == RL_OK);
	RL_REQUIRE(rl_media_open(&r->site, "127.0.0.1:0", 1) == RL_OK);
	RL_REQUIRE(rl_media_open(&r->agent, NULL, 1) == RL_OK);
	RL_REQUIRE(rl_media_open(&r->sup, "127.0.0.1:0", 1) == RL_OK);
	/* The site's call: the caller's tone out, what the caller hears captured; the agent
	 * proves its leg to the site (seated). */
	leg(&l, 0x1001, 0x1002, k[0], k[1], "", rate);
	rl_latch_keygen(l.peer_latch_key);
	l.has_peer_latch_key = 1;
	l.src = tone(F_CALLER, rate);
	l.sink = cap_open(&r->caller, rate);
	uint8_t agent_latch[RL_LATCH_KEY_LEN];
	memcpy(agent_latch, l.peer_latch_key, sizeof(agent_latch));
	RL_REQUIRE(rl_media_add(r->site, &l) == RL_OK);
	leg(&l, 0x1002, 0x1001, k[1], k[0], rl_media_local(r->site), 16000);
	memcpy(l.latch_key, agent_latch, sizeof(agent_latch));
	l.has_latch_key = 1;
	l.own_socket = 1;
	l.src = tone(F_AGENT, 16000);
	l.sink = cap_open(&r->agent_hears, 16000);
	RL_REQUIRE(rl_media_add(r->agent, &l) == RL_OK);
	/* The supervisor: here its engine stands where the relay would, and latches the site's
	 * leg on its proofs as the relay does. */
	leg(&l, 0x2002, 0x2001, k[3], k[2], "", 16000);
	rl_latch_keygen(l.peer_latch_key);
	l.has_peer_latch_key = 1;
	l.src = tone(F_SUP, 16000);
	l.sink = cap_open(&r->sup_hears, 16000);
	leg(&r->party, 0x2001, 0x2002, k[2], k[3], rl_media_local(r->sup), 0);
	memcpy(r->party.latch_key, l.peer_latch_key, RL_LATCH_KEY_LEN);
	r->party.has_latch_key = 1;
	RL_REQUIRE(rl_media_add(r->sup, &l) == RL_OK);
}

static void run_stop(struct run *r)
{
	rl_media_close(r->site);
	rl_media_close(r->agent);
	rl_media_close(r->sup);
}

/* heard: 1 if the last 0.5 s of c carry f, 0 if not at all, -1 in between (fails both). */
static int heard(struct cap *c, unsigned rate, double f)
{
	double sh = share(c, rate, f, rate / 2);

	return sh > 0.08 ? 1 : sh >= 0 && sh < 0.005 ? 0 : -1;
}

/* expect: after 1.2 s in mode, who hears whom (the caller hears what the site sends to the
 * carrier; the agent and the supervisor decode at 16 kHz). */
static void expect(struct run *r, const char *what, int agent_sup, int caller_sup)
{
	rltest_sleep_ms(1200);
	int a_caller = heard(&r->agent_hears, 16000, F_CALLER), a_sup = heard(&r->agent_hears, 16000, F_SUP);
	int c_agent = heard(&r->caller, r->rate, F_AGENT), c_sup = heard(&r->caller, r->rate, F_SUP);
	int s_caller = heard(&r->sup_hears, 16000, F_CALLER), s_agent = heard(&r->sup_hears, 16000, F_AGENT);
	int s_sup = heard(&r->sup_hears, 16000, F_SUP), a_agent = heard(&r->agent_hears, 16000, F_AGENT);

	fprintf(stderr,
	        "%s at %u Hz: agent hears caller %d sup %d (own %d); caller hears agent %d sup %d; sup hears caller "
	        "%d agent %d (own %d)\n",
	        what, r->rate, a_caller, a_sup, a_agent, c_agent, c_sup, s_caller, s_agent, s_sup);
	RL_CHECK(a_caller == 1 && c_agent == 1);
	RL_CHECK(a_sup == agent_sup);
	RL_CHECK(c_sup == caller_sup);
	RL_CHECK(s_caller == 1 && s_agent == 1);
	RL_CHECK(s_sup == 0 && a_agent == 0);
}

static void test_modes(unsigned rate)
{
	struct run r;

	run_start(&r, rate);
	rltest_sleep_ms(300);
	RL_CHECK(rl_media_monitor(r.site, "c1", &r.party, RL_MIX_LISTEN) == RL_OK);
	expect(&r, "listen", 0, 0);
	RL_CHECK(rl_media_monitor(r.site, "c1", &r.party, RL_MIX_WHISPER) == RL_OK);
	expect(&r, "whisper", 1, 0);
	RL_CHECK(rl_media_monitor(r.site, "c1", &r.party, RL_MIX_BARGE) == RL_OK);
	expect(&r, "barge", 1, 1);
	RL_CHECK(rl_media_monitor(r.site, "c1", &r.party, RL_MIX_LISTEN) == RL_OK);
	expect(&r, "listen again", 0, 0);
	/* Off the call: the supervisor hears nothing more, the call goes on. */
	RL_CHECK(rl_media_unmonitor(r.site, "c1", NULL) == RL_OK);
	RL_CHECK(rl_media_unmonitor(r.site, "c1", NULL) == RL_ENOENT);
	rltest_sleep_ms(200);
	size_t n = atomic_load(&r.sup_hears.n);
	rltest_sleep_ms(500);
	RL_CHECK(heard(&r.sup_hears, 16000, F_CALLER) != 1 || atomic_load(&r.sup_hears.n) - n < 16000 / 4);
	RL_CHECK(heard(&r.agent_hears, 16000, F_CALLER) == 1);
	run_stop(&r);
}

static void test_refusals(void)
{
	struct run r;
	struct rl_media_leg bad;

	run_start(&r, 16000);
	bad = r.party;
	RL_CHECK(rl_media_monitor(r.site, "c2", &r.party, RL_MIX_LISTEN) == RL_ENOENT);
	RL_CHECK(rl_media_monitor(r.site, "c1", &r.party, 0) == RL_EINVAL);
	bad.peer[0] = 0; /* the leg must go somewhere fixed (the relay) and prove itself there */
	RL_CHECK(rl_media_monitor(r.site, "c1", &bad, RL_MIX_LISTEN) == RL_EINVAL);
	bad = r.party;
	bad.key_len = 3;
	RL_CHECK(rl_media_monitor(r.site, "c1", &bad, RL_MIX_LISTEN) == RL_EINVAL);
	/* All legs off at once (the node's link to the hub came back). */
	RL_CHECK(rl_media_monitor(r.site, "c1", &r.party, RL_MIX_LISTEN) == RL_OK);
	RL_CHECK(rl_media_unmonitor_all(r.site) == 1);
	RL_CHECK(rl_media_unmonitor(r.site, "c1", NULL) == RL_ENOENT);
	RL_CHECK(rl_media_unmonitor_all(r.site) == 0);
	/* A call that ends takes its supervisor's leg with it. */
	RL_CHECK(rl_media_monitor(r.site, "c1", &r.party, RL_MIX_BARGE) == RL_OK);
	rltest_sleep_ms(100);
	RL_CHECK(rl_media_del(r.site, "c1", NULL) == RL_OK);
	RL_CHECK(rl_media_unmonitor(r.site, "c1", NULL) == RL_ENOENT);
	run_stop(&r);
}

int main(void)
{
	test_refusals();
	test_modes(16000);
	test_modes(8000);
	return rltest_done();
}
