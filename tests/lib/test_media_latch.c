/*
 * A site's media engine and its seated agent, both real engines on loopback UDP, with a
 * NAT-like tap between them (the agent's packets reach the site from the tap's own socket,
 * which the test can change: a new port, a new IP) and an attacker who knows the agent's
 * SSRC and sees what the agent sends go by (it cannot hold packets back). The site sends the call's audio only where the
 * agent proved its leg with a latch packet: never to the attacker (RTP and RTCP with the
 * agent's SSRC, forged proofs, replays of captured proofs and RTP, from two addresses),
 * before the agent's first proof, during the call or after 5 s of the agent's silence; and
 * it follows the agent to a new port and a new IP once the agent proves itself there.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rl_addr.h"
#include "rl_err.h"
#include "rl_latch.h"
#include "rl_media.h"
#include "rl_time.h"
#include "rltest.h"

#define RATE    16000
#define S_SITE  0x51000001u
#define S_AGENT 0x51000002u
#define NOUT    3

static int udp_on(const char *ip, struct sockaddr_in *bound)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, ip, &a.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		return -1;
	getsockname(fd, (struct sockaddr *)&a, &len);
	if (bound != NULL)
		*bound = a;
	return fd;
}

/* The tap: the agent sends to `in`; its packets go on to the site from out[cur] (unless muted)
 * and what the site sends to any out socket comes back to the agent. It keeps the agent's
 * last proof and last RTP packet that went through, for the attacker. */
struct tap {
	int in, out[NOUT];
	struct sockaddr_in in_addr, site, agent;
	int have_agent;
	atomic_int cur, mute, stop;
	atomic_ulong from_site[NOUT];
	pthread_mutex_t mu;
	uint8_t proof[RL_LATCH_LEN], rtp[1500];
	size_t rtp_len;
	int have_proof;
	pthread_t t;
};

static void tap_from_agent(struct tap *t, const uint8_t *b, ssize_t n, const struct sockaddr_in *from)
{
	t->agent = *from;
	t->have_agent = 1;
	if (atomic_load(&t->mute))
		return;
	sendto(t->out[atomic_load(&t->cur)], b, (size_t)n, 0, (struct sockaddr *)&t->site, sizeof(t->site));
	/* seen on its way (after it left: the attacker watches, it cannot hold packets back) */
	pthread_mutex_lock(&t->mu);
	if (rl_latch_is(b, (size_t)n) && n == RL_LATCH_LEN) {
		memcpy(t->proof, b, RL_LATCH_LEN);
		t->have_proof = 1;
	} else if (n >= 12 && (b[1] & 0x7f) == 111) {
		memcpy(t->rtp, b, (size_t)n);
		t->rtp_len = (size_t)n;
	}
	pthread_mutex_unlock(&t->mu);
}

static void *tap_main(void *arg)
{
	struct tap *t = arg;
	struct pollfd p[1 + NOUT];
	uint8_t b[2048];

	p[0] = (struct pollfd){.fd = t->in, .events = POLLIN};
	for (int i = 0; i < NOUT; i++)
		p[1 + i] = (struct pollfd){.fd = t->out[i], .events = POLLIN};
	while (!atomic_load(&t->stop)) {
		if (poll(p, 1 + NOUT, 50) <= 0)
			continue;
		for (int i = 0; i < 1 + NOUT; i++) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t n;
			if (!(p[i].revents & POLLIN) ||
			    (n = recvfrom(p[i].fd, b, sizeof(b), MSG_DONTWAIT, (struct sockaddr *)&from, &fl)) <= 0)
				continue;
			if (i == 0) {
				tap_from_agent(t, b, n, &from);
			} else {
				atomic_fetch_add(&t->from_site[i - 1], 1);
				if (t->have_agent)
					sendto(t->in, b, (size_t)n, 0, (struct sockaddr *)&t->agent, sizeof(t->agent));
			}
		}
	}
	return NULL;
}

/* The attacker: two sockets, the site's address, what it threw (by the drop each must be). */
struct attacker {
	int fd[2];
	struct sockaddr_in site;
	unsigned long forged_media, replayed_media, forged_proofs, replayed_proofs;
};

static void send_to(struct attacker *x, int k, const uint8_t *b, size_t len)
{
	sendto(x->fd[k], b, len, 0, (struct sockaddr *)&x->site, sizeof(x->site));
}

/* attack: from each socket, RTP and RTCP with the agent's SSRC (no key: they fail SRTP, as a
 * bad tag or, when their index is behind the replay window, as a replay: libsrtp checks that
 * first), a proof made with another secret, and the agent's last proof and RTP packet. */
static void attack(struct attacker *x, struct tap *t)
{
	uint8_t b[1500], key[RL_LATCH_KEY_LEN];

	memset(key, 0x5a, sizeof(key));
	for (int k = 0; k < 2; k++) {
		memset(b, 0xee, 120);
		b[0] = 0x80, b[1] = 111, b[2] = 0x12, b[3] = (uint8_t)k;
		b[8] = S_AGENT >> 24, b[9] = (S_AGENT >> 16) & 0xff, b[10] = (S_AGENT >> 8) & 0xff,
		b[11] = S_AGENT & 0xff;
		send_to(x, k, b, 120), x->forged_media++;
		b[0] = 0x81, b[1] = 200, b[2] = 0, b[3] = 6;
		memcpy(b + 4, b + 8, 4);
		send_to(x, k, b, 60), x->forged_media++;
		rl_latch_write(b, S_AGENT, UINT64_MAX - 1, key);
		send_to(x, k, b, RL_LATCH_LEN), x->forged_proofs++;
		pthread_mutex_lock(&t->mu);
		if (t->have_proof) {
			send_to(x, k, t->proof, RL_LATCH_LEN), x->replayed_proofs++;
			memcpy(b, t->proof, RL_LATCH_LEN);
			b[15] ^= 0x01; /* the next counter under the captured MAC */
			send_to(x, k, b, RL_LATCH_LEN), x->forged_proofs++;
		}
		if (t->rtp_len > 0)
			send_to(x, k, t->rtp, t->rtp_len), x->replayed_media++;
		pthread_mutex_unlock(&t->mu);
	}
}

/* reached: 1 if anything came to the attacker's sockets. */
static int reached(const struct attacker *x)
{
	uint8_t b[2048];
	int got = 0;

	for (int k = 0; k < 2; k++)
		while (recv(x->fd[k], b, sizeof(b), MSG_DONTWAIT) > 0)
			got = 1;
	return got;
}

static void make_leg(struct rl_media_leg *l, uint32_t tx, uint32_t rx, const uint8_t *ktx, const uint8_t *krx,
                     const char *peer, int own, uint32_t seed)
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
	l->own_socket = own;
	l->rate = RATE;
	RL_REQUIRE(rl_audio_gen_src(&l->src, RATE, seed, 0) == RL_OK);
	RL_REQUIRE(rl_audio_null_sink(&l->sink, RATE) == RL_OK);
}

/* wait_from_site: until out socket i of the tap has had `more` packets from the site (ms max). */
static int wait_from_site(struct tap *t, int i, unsigned long more, int ms)
{
	unsigned long want = atomic_load(&t->from_site[i]) + more;

	for (int w = 0; w < ms / 10; w++) {
		if (atomic_load(&t->from_site[i]) >= want)
			return 1;
		rltest_sleep_ms(10);
	}
	return 0;
}

int main(void)
{
	struct rl_media *site, *agent;
	struct rl_media_leg ls, la;
	struct rl_media_counters c;
	struct rl_media_quality q;
	struct tap t = {0};
	struct attacker x = {0};
	uint8_t ks[RL_SRTP_KEY_MAX], ka[RL_SRTP_KEY_MAX];
	char tap_text[RL_ADDR_STRLEN];
	struct sockaddr_storage ss;
	socklen_t sl;

	RL_REQUIRE(rl_media_open(&site, "127.0.0.1:0", 0) == RL_OK);
	RL_REQUIRE(rl_media_open(&agent, NULL, 1) == RL_OK);
	RL_REQUIRE(rl_addr_parse(rl_media_local(site), 0, &ss, &sl) == RL_OK);
	memcpy(&t.site, &ss, sizeof(t.site));
	x.site = t.site;
	pthread_mutex_init(&t.mu, NULL);
	t.in = udp_on("127.0.0.1", &t.in_addr);
	t.out[0] = udp_on("127.0.0.1", NULL);
	t.out[1] = udp_on("127.0.0.1", NULL); /* the same IP, a new port */
	t.out[2] = udp_on("127.0.0.3", NULL); /* a new IP */
	x.fd[0] = udp_on("127.0.0.2", NULL);
	x.fd[1] = udp_on("127.0.0.1", NULL);
	RL_REQUIRE(t.in >= 0 && t.out[0] >= 0 && t.out[1] >= 0 && t.out[2] >= 0 && x.fd[0] >= 0 && x.fd[1] >= 0);
	atomic_store(&t.mute, 1);
	RL_REQUIRE(pthread_create(&t.t, NULL, tap_main, &t) == 0);

	/* A leg that must latch its peer needs the peer's latch secret. */
	RL_CHECK(rl_srtp_keygen(RL_SRTP_AEAD_AES_128_GCM, ks, sizeof(ks)) == RL_OK);
	RL_CHECK(rl_srtp_keygen(RL_SRTP_AEAD_AES_128_GCM, ka, sizeof(ka)) == RL_OK);
	make_leg(&ls, S_SITE, S_AGENT, ks, ka, "", 0, 1);
	RL_CHECK(rl_media_add(site, &ls) == RL_EINVAL);
	rl_latch_keygen(ls.peer_latch_key);
	ls.has_peer_latch_key = 1;
	rl_latch_keygen(ls.latch_key);
	ls.has_latch_key = 1; /* given, but a site with no fixed peer sends no proof */
	rl_addr_format((struct sockaddr *)&t.in_addr, tap_text, sizeof(tap_text));
	make_leg(&la, S_AGENT, S_SITE, ka, ks, tap_text, 1, 2);
	memcpy(la.latch_key, ls.peer_latch_key, RL_LATCH_KEY_LEN);
	la.has_latch_key = 1;
	RL_REQUIRE(rl_media_add(site, &ls) == RL_OK);
	RL_REQUIRE(rl_media_add(agent, &la) == RL_OK);

	/* 1. Before the agent's first proof reaches the site (the tap drops the agent's first
	 * packets, proofs and all: the site must pick it up at its next periodic proof). */
	rltest_sleep_ms(300);
	attack(&x, &t);
	rltest_sleep_ms(300);
	rl_media_counters(site, &c);
	RL_CHECK(c.latched == 0 && c.proofs == 0 && c.sent == 0);
	RL_CHECK(x.forged_proofs > 0 && c.latch_bad == x.forged_proofs && c.latch_replay == 0);
	RL_CHECK(c.auth_fail + c.replay == x.forged_media);
	RL_CHECK(!reached(&x));

	/* 2. The agent's proofs get through: the site answers there; attacks during the call. */
	atomic_store(&t.mute, 0);
	RL_CHECK(wait_from_site(&t, 0, 50, 5000));
	for (int i = 0; i < 10; i++) {
		attack(&x, &t);
		rltest_sleep_ms(100);
	}
	rltest_sleep_ms(200);
	rl_media_counters(site, &c);
	RL_CHECK(c.latched == 1 && c.proofs >= 1);
	RL_CHECK(x.replayed_proofs > 0 && x.replayed_media > 0);
	RL_CHECK(c.latch_bad == x.forged_proofs && c.latch_replay == x.replayed_proofs);
	RL_CHECK(c.auth_fail + c.replay == x.forged_media + x.replayed_media);
	RL_CHECK(!reached(&x));
	RL_CHECK(rl_media_quality(site, "c1", &q) == RL_OK && q.rx_packets >= 40);

	/* 3. The agent is silent for 5.3 s (the tap drops what it sends); the site talks on. */
	atomic_store(&t.mute, 1);
	unsigned long before = atomic_load(&t.from_site[0]);
	rltest_sleep_ms(5300);
	attack(&x, &t);
	rltest_sleep_ms(300);
	rl_media_counters(site, &c);
	RL_CHECK(c.latched == 1);
	RL_CHECK(c.latch_bad == x.forged_proofs && c.latch_replay == x.replayed_proofs);
	RL_CHECK(c.auth_fail + c.replay == x.forged_media + x.replayed_media);
	RL_CHECK(atomic_load(&t.from_site[0]) - before >= 200); /* still to the agent, all along */
	RL_CHECK(!reached(&x));
	printf("attacker at the site: %lu forged and %lu replayed RTP/RTCP, %lu forged and %lu replayed proofs; "
	       "all dropped, none of the call reached it\n",
	       x.forged_media, x.replayed_media, x.forged_proofs, x.replayed_proofs);

	/* 4. The agent comes back from a new port (a NAT rebinding): its RTP is refused until its
	 * next proof, then the site follows it there, and no longer sends to the old one. */
	atomic_store(&t.cur, 1);
	atomic_store(&t.mute, 0);
	uint64_t t0 = rl_mono_us();
	RL_CHECK(wait_from_site(&t, 1, 1, 3000));
	printf("new port followed after %.2f s\n", (double)(rl_mono_us() - t0) / 1e6);
	rl_media_counters(site, &c);
	RL_CHECK(c.latched == 2 && c.unlatched >= 1);
	rltest_sleep_ms(100);
	before = atomic_load(&t.from_site[0]);
	RL_CHECK(wait_from_site(&t, 1, 20, 2000));
	RL_CHECK(atomic_load(&t.from_site[0]) == before);
	/* 5. ... and to a new IP */
	atomic_store(&t.cur, 2);
	RL_CHECK(wait_from_site(&t, 2, 20, 4000));
	rl_media_counters(site, &c);
	RL_CHECK(c.latched == 3);
	rltest_sleep_ms(100);
	before = atomic_load(&t.from_site[1]);
	rltest_sleep_ms(300);
	RL_CHECK(atomic_load(&t.from_site[1]) == before);
	/* the old proof replayed from the old address moves nothing */
	attack(&x, &t);
	rltest_sleep_ms(200);
	rl_media_counters(site, &c);
	RL_CHECK(c.latched == 3 && c.latch_replay == x.replayed_proofs && !reached(&x));
	RL_CHECK(rl_media_quality(agent, "c1", &q) == RL_OK && q.rx_packets >= 300);

	atomic_store(&t.stop, 1);
	pthread_join(t.t, NULL);
	RL_CHECK(rl_media_del(site, "c1", NULL) == RL_OK && rl_media_del(agent, "c1", NULL) == RL_OK);
	rl_media_close(site);
	rl_media_close(agent);
	close(t.in), close(x.fd[0]), close(x.fd[1]);
	for (int i = 0; i < NOUT; i++)
		close(t.out[i]);
	return rltest_done();
}
