/*
 * The hub's media relay over real UDP on loopback, with its real threads: latching on a
 * leg's proof (rl_latch.h) and on nothing else, forwarding both ways unchanged, every drop
 * class, a leg proven from any address (carrier-grade NAT), an attacker who knows the SSRCs
 * (RTP, forged and replayed proofs, before the agent, during the call and after 5 s of the
 * agent's silence), an agent that moves address and proves it, release by del and by
 * idleness, table limits, 500 calls at once, add/del racing traffic, IPv6, and close with
 * traffic in flight.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"
#include "rl_err.h"
#include "rl_latch.h"
#include "rl_log.h"
#include "rl_time.h"
#include "rltest.h"

#define SA 0x11111111u
#define SB 0x22222222u

/* ---- fixtures ---------------------------------------------------------------------------- */

/* udp_on: a UDP socket bound to ip:0 (AF_INET or, with a ':' in ip, AF_INET6); -1 on failure. */
static int udp_on(const char *ip)
{
	int fd, buf = 1 << 20;

	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 a = {.sin6_family = AF_INET6};
		if (inet_pton(AF_INET6, ip, &a.sin6_addr) != 1 || (fd = socket(AF_INET6, SOCK_DGRAM, 0)) < 0)
			return -1;
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
			close(fd);
			return -1;
		}
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET};
		if (inet_pton(AF_INET, ip, &a.sin_addr) != 1 || (fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
			return -1;
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
			close(fd);
			return -1;
		}
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	return fd;
}

/* relay_addr: the relay's advertised address as a sockaddr. */
static socklen_t relay_addr(struct rl_relay *r, struct sockaddr_in6 *out)
{
	char host[64];
	const char *s = rl_relay_advertise(r);
	const char *colon = strrchr(s, ':');
	int port = atoi(colon + 1);

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - s - 2), s + 1);
		out->sin6_family = AF_INET6;
		out->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, host, &out->sin6_addr);
		return sizeof(struct sockaddr_in6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)out;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, host, &s4->sin_addr);
	return sizeof(struct sockaddr_in);
}

struct fix {
	struct rl_relay *r;
	struct sockaddr_in6 to;
	socklen_t tolen;
};

static int fix_open(struct fix *f, const char *listen, unsigned threads, unsigned idle_ms, unsigned max_calls)
{
	struct rl_relay_conf conf = {.listen = listen, .threads = threads, .idle_ms = idle_ms, .max_calls = max_calls};
	int rv = rl_relay_open(&f->r, &conf);
	if (rv == 0)
		f->tolen = relay_addr(f->r, &f->to);
	return rv;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* rtp: an SRTP-shaped datagram of len bytes (>= 12), payload bytes derived from seq. */
static size_t rtp(uint8_t *b, size_t len, uint32_t ssrc, uint16_t seq)
{
	b[0] = 0x80;
	b[1] = 111;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	put32(b + 4, seq * 960u);
	put32(b + 8, ssrc);
	for (size_t i = 12; i < len; i++)
		b[i] = (uint8_t)(i * 7 + seq);
	return len;
}

/* rtcp: an SRTCP-shaped compound packet starting with pt (200 SR, 201 RR). */
static size_t rtcp(uint8_t *b, size_t len, uint32_t ssrc, uint8_t pt)
{
	b[0] = 0x81;
	b[1] = pt;
	b[2] = 0;
	b[3] = (uint8_t)(len / 4 - 1);
	put32(b + 4, ssrc);
	for (size_t i = 8; i < len; i++)
		b[i] = (uint8_t)(0xa5 ^ i);
	return len;
}

static void tx(int fd, const struct fix *f, const void *b, size_t len)
{
	ssize_t n = sendto(fd, b, len, 0, (const struct sockaddr *)&f->to, f->tolen);
	if (n != (ssize_t)len)
		fprintf(stderr, "sendto: %s\n", strerror(errno));
}

/* rx: one datagram within ms, its length, or -1. */
static ssize_t rx(int fd, uint8_t *b, size_t cap, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, ms) != 1)
		return -1;
	return recv(fd, b, cap, MSG_DONTWAIT);
}

/* relay_rx, relay_fwd: datagrams the relay has taken in, forwarded. */
static uint64_t relay_rx(struct rl_relay *r)
{
	struct rl_relay_counters c;

	rl_relay_counters(r, &c);
	return c.rx;
}

static uint64_t relay_fwd(struct rl_relay *r)
{
	struct rl_relay_counters c;

	rl_relay_counters(r, &c);
	return c.fwd;
}

/* counters_wait: the counters once the relay has taken in at least want_rx datagrams; a
 * check (RL_WAIT), up to 10 s. */
static struct rl_relay_counters counters_wait(struct rl_relay *r, uint64_t want_rx)
{
	struct rl_relay_counters c;

	RL_WAIT(10000, relay_rx(r) >= want_rx);
	rl_relay_counters(r, &c);
	return c;
}

/* threads_in_recvmmsg: how many threads of this process are blocked in recvmmsg now (a
 * relay's idle workers), read from /proc/self/task/<tid>/syscall. */
static int threads_in_recvmmsg(void)
{
	glob_t g;
	int n = 0;

	if (glob("/proc/self/task/*/syscall", 0, NULL, &g) != 0)
		return 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		FILE *f = fopen(g.gl_pathv[i], "r");
		char line[64];
		if (f != NULL && fgets(line, sizeof(line), f) != NULL && atol(line) == SYS_recvmmsg)
			n++;
		if (f != NULL)
			fclose(f);
	}
	globfree(&g);
	return n;
}

/* nothing: no datagram is waiting on fd (checked after the relay counted what it took in). */
static int nothing(int fd)
{
	uint8_t b[2048];
	return rx(fd, b, sizeof(b), 20) < 0;
}

/* key_of: the latch secret of the leg sending with ssrc, in these tests. */
static void key_of(uint32_t ssrc, uint8_t *key)
{
	for (int i = 0; i < RL_LATCH_KEY_LEN; i++)
		key[i] = (uint8_t)(ssrc >> (8 * (i % 4))) ^ (uint8_t)(i * 29);
}

/* add: rl_relay_add with the legs' secrets from key_of. */
static int add(struct rl_relay *r, uint64_t id, uint32_t ssrc_a, uint32_t ssrc_b)
{
	uint8_t ka[RL_LATCH_KEY_LEN], kb[RL_LATCH_KEY_LEN];

	key_of(ssrc_a, ka);
	key_of(ssrc_b, kb);
	return rl_relay_add(r, id, ssrc_a, ssrc_b, ka, kb);
}

/* proof: a latch packet of ssrc's leg with a counter above every one made before. */
static size_t proof(uint8_t *b, uint32_t ssrc)
{
	static uint64_t counter = 1000;
	uint8_t key[RL_LATCH_KEY_LEN];

	key_of(ssrc, key);
	rl_latch_write(b, ssrc, ++counter, key);
	return RL_LATCH_LEN;
}

/* prove: the leg of ssrc proves itself from fd. */
static void prove(int fd, const struct fix *f, uint32_t ssrc)
{
	uint8_t p[RL_LATCH_LEN];
	tx(fd, f, p, proof(p, ssrc));
}

/* accounted: every datagram the relay took in was forwarded, taken as a proof or dropped. */
static int accounted(const struct rl_relay_counters *c)
{
	return c->rx == c->fwd + c->proofs + rl_relay_dropped(c);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void config_errors(void)
{
	struct rl_relay *r = (struct rl_relay *)1;
	struct rl_relay_conf c = {.listen = "nonsense", .threads = 1, .idle_ms = 1000, .max_calls = 16};

	RL_CHECK(rl_relay_open(&r, &c) == RL_EINVAL);
	RL_CHECK(r == NULL);
	c.listen = "127.0.0.1:99999";
	RL_CHECK(rl_relay_open(&r, &c) == RL_EINVAL);
	c.listen = "127.0.0.1:";
	RL_CHECK(rl_relay_open(&r, &c) == RL_EINVAL);
	c.listen = "[::1:0";
	RL_CHECK(rl_relay_open(&r, &c) == RL_EINVAL);
	c.listen = "127.0.0.1:0";
	c.threads = 17;
	RL_CHECK(rl_relay_open(&r, &c) == RL_EINVAL);
	c.threads = 1;
	c.advertise = "not an address";
	RL_CHECK(rl_relay_open(&r, &c) == RL_EINVAL);
	c.advertise = NULL;
	c.listen = "192.0.2.1:0"; /* TEST-NET-1: not an address of this host, bind fails */
	RL_CHECK(rl_relay_open(&r, &c) == RL_ENET);
	c.listen = "127.0.0.1:0";
	c.advertise = "203.0.113.5:7500";
	RL_REQUIRE(rl_relay_open(&r, &c) == 0);
	RL_CHECK(strcmp(rl_relay_advertise(r), "203.0.113.5:7500") == 0);
	rl_relay_close(r);
	rl_relay_close(NULL);
}

static void forwarding(void)
{
	struct fix f;
	struct rl_relay_counters c;
	uint8_t p[2048], q[2048];
	ssize_t n;
	uint64_t sent = 0;
	int a = udp_on("127.0.0.1"), b = udp_on("127.0.0.1"), x = udp_on("127.0.0.1");

	RL_REQUIRE(a >= 0 && b >= 0 && x >= 0);
	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 2, 30000, 1024) == 0);
	RL_CHECK(strncmp(rl_relay_advertise(f.r), "127.0.0.1:", 10) == 0 && f.tolen > 0);
	RL_CHECK(rl_relay_ssrc_free(f.r, SA) == 1);
	RL_REQUIRE(add(f.r, 1, SA, SB) == 0);
	RL_CHECK(rl_relay_ssrc_free(f.r, SA) == 0 && rl_relay_ssrc_free(f.r, SB) == 0);

	/* A's RTP before any proof latches nothing: dropped */
	tx(a, &f, p, rtp(p, 100, SA, 1)), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.rx == 1 && c.latched == 0 && c.drop_source == 1 && c.fwd == 0);

	/* A's proof latches A (a proof is never forwarded), but B is not latched yet: dropped */
	prove(a, &f, SA), sent++;
	tx(a, &f, p, rtp(p, 100, SA, 2)), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.rx == 3 && c.proofs == 1 && c.latched == 1 && c.drop_unlatched == 1 && c.fwd == 0);
	RL_CHECK(nothing(b));

	/* B's proof latches B, and its first packet goes to A unchanged */
	prove(b, &f, SB), sent++;
	tx(b, &f, p, rtp(p, 140, SB, 1)), sent++;
	n = rx(a, q, sizeof(q), 2000);
	RL_CHECK(n == 140 && memcmp(p, q, 140) == 0);
	c = counters_wait(f.r, sent);
	RL_CHECK(c.latched == 2 && c.fwd == 1 && c.bytes == 140 && c.drop_unlatched == 1);

	/* both ways, sizes varying from the RTP minimum to the 1500-byte cap */
	int ok_ab = 1, ok_ba = 1;
	for (int i = 0; i < 40; i++) {
		size_t len = i == 39 ? 1500 : 12 + (size_t)(i * 37) % 300;
		tx(a, &f, p, rtp(p, len, SA, (uint16_t)(100 + i))), sent++;
		n = rx(b, q, sizeof(q), 2000);
		ok_ab &= n == (ssize_t)len && memcmp(p, q, len) == 0;
		tx(b, &f, p, rtp(p, len, SB, (uint16_t)(100 + i))), sent++;
		n = rx(a, q, sizeof(q), 2000);
		ok_ba &= n == (ssize_t)len && memcmp(p, q, len) == 0;
	}
	RL_CHECK(ok_ab);
	RL_CHECK(ok_ba);
	c = counters_wait(f.r, sent);
	RL_CHECK(c.fwd == 81 && c.drop_send == 0);

	/* RTCP (muxed, RFC 5761) from each leg, found by the sender SSRC at bytes 4..7 */
	tx(a, &f, p, rtcp(p, 52, SA, 200)), sent++;
	n = rx(b, q, sizeof(q), 2000);
	RL_CHECK(n == 52 && memcmp(p, q, 52) == 0);
	tx(b, &f, p, rtcp(p, 32, SB, 201)), sent++;
	n = rx(a, q, sizeof(q), 2000);
	RL_CHECK(n == 32 && memcmp(p, q, 32) == 0);
	/* an 8-byte RTCP packet is long enough for its SSRC */
	tx(b, &f, p, rtcp(p, 8, SB, 201)), sent++;
	n = rx(a, q, sizeof(q), 2000);
	RL_CHECK(n == 8);

	/* a third address using A's SSRC after A latched: dropped, the legs go on */
	c = counters_wait(f.r, sent);
	uint64_t src0 = c.drop_source;
	tx(x, &f, p, rtp(p, 100, SA, 500)), sent++;
	tx(x, &f, p, rtcp(p, 28, SA, 200)), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.drop_source == src0 + 2);
	RL_CHECK(nothing(b));
	RL_CHECK(nothing(x));
	tx(a, &f, p, rtp(p, 90, SA, 501)), sent++;
	RL_CHECK(rx(b, q, sizeof(q), 2000) == 90 && memcmp(p, q, 90) == 0);
	tx(b, &f, p, rtp(p, 91, SB, 501)), sent++;
	RL_CHECK(rx(a, q, sizeof(q), 2000) == 91 && memcmp(p, q, 91) == 0);
	RL_CHECK(nothing(x));

	/* unknown SSRC */
	c = counters_wait(f.r, sent);
	uint64_t unk0 = c.drop_unknown, mal0 = c.drop_malformed, fwd0 = c.fwd;
	tx(a, &f, p, rtp(p, 100, 0x33333333u, 1)), sent++;
	tx(x, &f, p, rtcp(p, 28, 0x44444444u, 200)), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.drop_unknown == unk0 + 2);

	/* malformed: garbage (version 0), version 1, RTP shorter than 12 bytes, RTCP shorter than
	 * 8, empty, over 1500 bytes, and a 64 KiB one */
	static uint8_t big[65000];
	memset(p, 0x00, 64);
	tx(a, &f, p, 64), sent++;
	rtp(p, 100, SA, 7);
	p[0] = 0x40;
	tx(a, &f, p, 100), sent++;
	tx(a, &f, p, rtp(p, 12, SA, 8) - 1), sent++;
	tx(a, &f, p, rtcp(p, 8, SA, 200) - 1), sent++;
	tx(a, &f, p, 0), sent++;
	tx(a, &f, big, rtp(big, 1501, SA, 9)), sent++;
	tx(a, &f, big, rtp(big, sizeof(big), SA, 10)), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.rx == sent);
	RL_CHECK(c.drop_malformed == mal0 + 7);
	RL_CHECK(c.fwd == fwd0);
	RL_CHECK(nothing(b));
	RL_CHECK(accounted(&c));

	/* random bytes never crash it; every datagram is accounted for */
	uint32_t seed = 12345;
	for (int i = 0; i < 2000; i++) {
		size_t len = 1 + (seed >> 7) % 200;
		for (size_t k = 0; k < len; k++)
			p[k] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
		if (i % 3 == 0)
			p[0] = 0x80; /* many look like version 2 */
		if (i % 7 == 0 && len >= 12)
			put32(p + (p[1] >= 192 && p[1] <= 223 ? 4 : 8), i % 2 ? SA : SB);
		tx(x, &f, p, len), sent++;
	}
	c = counters_wait(f.r, sent);
	RL_CHECK(c.rx == sent);
	RL_CHECK(accounted(&c));
	while (rx(a, q, sizeof(q), 0) >= 0 || rx(b, q, sizeof(q), 0) >= 0)
		; /* none expected (x is not latched), but do not let stray ones confuse what follows */

	/* del stops forwarding at once and frees the SSRCs */
	RL_CHECK(c.calls == 1 && c.calls_added == 1);
	rl_relay_del(f.r, 1);
	rl_relay_del(f.r, 1); /* no-op */
	rl_relay_del(f.r, 999);
	unk0 = c.drop_unknown;
	tx(a, &f, p, rtp(p, 100, SA, 600)), sent++;
	tx(b, &f, p, rtp(p, 100, SB, 600)), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.drop_unknown == unk0 + 2);
	RL_CHECK(nothing(a) && nothing(b));
	RL_CHECK(c.calls == 0 && c.calls_released == 1 && c.calls_idle == 0);
	RL_CHECK(rl_relay_ssrc_free(f.r, SA) == 1 && rl_relay_ssrc_free(f.r, SB) == 1);

	/* the same SSRCs in a new call latch afresh (to other addresses this time) */
	RL_REQUIRE(add(f.r, 2, SA, SB) == 0);
	prove(x, &f, SA), sent++;
	prove(b, &f, SB), sent++;
	tx(x, &f, p, rtp(p, 60, SA, 700)), sent++;
	counters_wait(f.r, sent);
	tx(b, &f, p, rtp(p, 61, SB, 700)), sent++;
	RL_CHECK(rx(x, q, sizeof(q), 2000) == 61 && memcmp(p, q, 61) == 0);
	RL_CHECK(nothing(a));

	rl_relay_close(f.r);
	close(a), close(b), close(x);
}

static void add_refusals(void)
{
	struct fix f;
	uint8_t k[RL_LATCH_KEY_LEN] = {1};

	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 1, 30000, 4) == 0);
	RL_CHECK(add(f.r, 1, 10, 11) == 0);
	RL_CHECK(add(f.r, 1, 12, 13) == RL_EEXIST);                   /* id live */
	RL_CHECK(add(f.r, 2, 10, 13) == RL_EEXIST);                   /* ssrc_a live */
	RL_CHECK(add(f.r, 2, 12, 11) == RL_EEXIST);                   /* ssrc_b live */
	RL_CHECK(add(f.r, 2, 12, 12) == RL_EINVAL);                   /* legs not told apart */
	RL_CHECK(rl_relay_add(f.r, 2, 12, 13, NULL, k) == RL_EINVAL); /* a leg nobody could prove */
	RL_CHECK(rl_relay_add(f.r, 2, 12, 13, k, NULL) == RL_EINVAL);
	RL_CHECK(add(f.r, 2, 12, 13) == 0);
	RL_CHECK(add(f.r, 3, 14, 15) == 0);
	RL_CHECK(add(f.r, 4, 16, 17) == 0);
	RL_CHECK(add(f.r, 5, 18, 19) == RL_EFULL);
	rl_relay_del(f.r, 3);
	RL_CHECK(add(f.r, 5, 18, 19) == 0);
	RL_CHECK(add(f.r, 3, 14, 15) == RL_EFULL);
	struct rl_relay_counters c;
	rl_relay_counters(f.r, &c);
	RL_CHECK(c.calls == 4 && c.calls_added == 5 && c.calls_released == 1);
	rl_relay_close(f.r);
}

/* The proof decides, not the address: a leg proven from an address no one announced (a home
 * agent behind carrier-grade NAT, whose media leaves from another public address than its
 * control link) is taken; a packet with its SSRC from anywhere else is not. */
static void any_address(void)
{
	struct fix f;
	struct rl_relay_counters c;
	uint8_t p[256], q[256];
	uint64_t sent = 0;
	int a1 = udp_on("127.0.0.1"), a2 = udp_on("127.0.0.2"), b = udp_on("127.0.0.1");

	RL_REQUIRE(a1 >= 0 && a2 >= 0 && b >= 0);
	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 1, 30000, 64) == 0);
	RL_REQUIRE(add(f.r, 7, SA, SB) == 0);
	prove(b, &f, SB), sent++;
	tx(b, &f, p, rtp(p, 80, SB, 1)), sent++;  /* B latched, A not yet: dropped */
	tx(a1, &f, p, rtp(p, 80, SA, 1)), sent++; /* A's SSRC without a proof: must not latch A */
	c = counters_wait(f.r, sent);
	RL_CHECK(c.latched == 1 && c.drop_source == 1 && c.drop_unlatched == 1);
	RL_CHECK(nothing(b));
	tx(b, &f, p, rtp(p, 80, SB, 2)), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.drop_unlatched == 2 && c.fwd == 0);
	RL_CHECK(nothing(a1));

	prove(a2, &f, SA), sent++; /* from 127.0.0.2: proven, so latched there */
	tx(a2, &f, p, rtp(p, 81, SA, 2)), sent++;
	RL_CHECK(rx(b, q, sizeof(q), 2000) == 81 && memcmp(p, q, 81) == 0);
	tx(b, &f, p, rtp(p, 82, SB, 3)), sent++;
	RL_CHECK(rx(a2, q, sizeof(q), 2000) == 82 && memcmp(p, q, 82) == 0);
	RL_CHECK(nothing(a1));
	c = counters_wait(f.r, sent);
	RL_CHECK(c.latched == 2 && c.fwd == 2 && c.proofs == 2);
	rl_relay_close(f.r);
	close(a1), close(a2), close(b);
}

static void idle_release(void)
{
	struct fix f;
	struct rl_relay_counters c;
	uint8_t p[256], q[256];
	uint64_t sent = 0;
	int a = udp_on("127.0.0.1"), b = udp_on("127.0.0.1");

	RL_REQUIRE(a >= 0 && b >= 0);
	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 2, 500, 64) == 0);
	RL_REQUIRE(add(f.r, 1, SA, SB) == 0);         /* will go silent */
	RL_REQUIRE(add(f.r, 2, SA + 1, SB + 1) == 0); /* never heard */
	RL_REQUIRE(add(f.r, 3, SA + 2, SB + 2) == 0); /* keeps talking */
	prove(a, &f, SA), sent++;
	prove(a, &f, SA + 2), sent++;
	prove(b, &f, SB), sent++;
	counters_wait(f.r, sent); /* two threads: A must have latched before B's packet is seen */
	tx(b, &f, p, rtp(p, 50, SB, 1)), sent++;
	RL_CHECK(rx(a, q, sizeof(q), 2000) == 50);

	/* call 3: only leg A talks, every 100 ms: one live leg keeps a call */
	uint64_t t0 = rl_mono_us();
	do {
		tx(a, &f, p, rtp(p, 50, SA + 2, 2)), sent++;
		rltest_sleep_ms(100); /* the talker's pace, part of what is tested */
		rl_relay_counters(f.r, &c);
	} while (c.calls_idle < 2 && rl_mono_us() - t0 < 5000000u);
	/* idle_ms 500 and a 1 s scan: both silent calls go within about 1.5 s */
	RL_CHECK(c.calls_idle == 2 && c.calls_released == 2);
	RL_CHECK(c.calls == 1);
	RL_CHECK(rl_mono_us() - t0 < 3000000u);
	RL_CHECK(rl_relay_ssrc_free(f.r, SA) && rl_relay_ssrc_free(f.r, SB + 1) && !rl_relay_ssrc_free(f.r, SA + 2));
	c = counters_wait(f.r, sent);
	uint64_t unk0 = c.drop_unknown;
	tx(a, &f, p, rtp(p, 50, SA, 3)), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.drop_unknown == unk0 + 1);
	RL_CHECK(nothing(b));
	rl_relay_del(f.r, 1); /* already idle-released: no-op */
	rl_relay_counters(f.r, &c);
	RL_CHECK(c.calls_released == 2);
	rl_relay_close(f.r);
	close(a), close(b);
}

/* Latch packets: taken only with the leg's MAC and a counter above the last one taken, never
 * forwarded; every other kind is dropped and counted apart. */
static void proofs(void)
{
	struct fix f;
	struct rl_relay_counters c, c0;
	uint8_t p[64], kept[RL_LATCH_LEN], key[RL_LATCH_KEY_LEN];
	uint64_t sent = 0;
	int a = udp_on("127.0.0.1"), b = udp_on("127.0.0.1");

	RL_REQUIRE(a >= 0 && b >= 0);
	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 1, 30000, 64) == 0);
	RL_REQUIRE(add(f.r, 1, SA, SB) == 0);
	tx(a, &f, kept, proof(kept, SA)), sent++;
	prove(b, &f, SB), sent++;
	c0 = counters_wait(f.r, sent);
	RL_CHECK(c0.proofs == 2 && c0.latched == 2 && c0.fwd == 0);
	RL_CHECK(nothing(a) && nothing(b)); /* a proof is for the relay alone */

	key_of(SB, key); /* the other leg's secret */
	rl_latch_write(p, SA, UINT64_MAX, key);
	tx(a, &f, p, RL_LATCH_LEN), sent++; /* forged: the MAC is not A's */
	memcpy(p, kept, RL_LATCH_LEN);
	p[RL_LATCH_LEN - 1] ^= 1;
	tx(a, &f, p, RL_LATCH_LEN), sent++;    /* forged: one bit of A's MAC changed */
	tx(a, &f, kept, RL_LATCH_LEN), sent++; /* replayed, even from where it came */
	key_of(SA, key);
	rl_latch_write(p, SA, 5, key);
	tx(a, &f, p, RL_LATCH_LEN), sent++; /* A's key, an old counter: replayed */
	rl_latch_write(p, 0x33333333u, 1u << 30, key);
	tx(a, &f, p, RL_LATCH_LEN), sent++; /* a leg the relay does not have */
	memcpy(p, kept, RL_LATCH_LEN);
	tx(a, &f, p, RL_LATCH_LEN - 1), sent++; /* malformed: too short, too long, other version */
	tx(a, &f, p, RL_LATCH_LEN + 1), sent++;
	p[1] = 2;
	tx(a, &f, p, RL_LATCH_LEN), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.rx == sent);
	RL_CHECK(c.drop_latch_bad == c0.drop_latch_bad + 2);
	RL_CHECK(c.drop_latch_replay == c0.drop_latch_replay + 2);
	RL_CHECK(c.drop_unknown == c0.drop_unknown + 1);
	RL_CHECK(c.drop_malformed == c0.drop_malformed + 3);
	RL_CHECK(c.proofs == 2 && c.latched == 2 && c.fwd == 0);
	RL_CHECK(accounted(&c));
	/* the legs still forward where they proved themselves: none of that moved them */
	uint8_t r[256], q[256];
	tx(a, &f, r, rtp(r, 70, SA, 1));
	RL_CHECK(rx(b, q, sizeof(q), 2000) == 70 && memcmp(r, q, 70) == 0);
	tx(b, &f, r, rtp(r, 71, SB, 1));
	RL_CHECK(rx(a, q, sizeof(q), 2000) == 71 && memcmp(r, q, 71) == 0);
	rl_relay_close(f.r);
	close(a), close(b);
}

/* What a stranger who knows both SSRCs, and sees the ends' packets go by, throws at a call:
 * RTP and RTCP with each leg's SSRC, proofs it forged (another secret; a changed bit) and
 * replays of the proofs it captured, from two addresses, before the agent has proven its
 * leg, during the call, and after 5 s of the agent's silence. */
struct attacker {
	int fd[2];
	uint8_t cap[2][RL_LATCH_LEN]; /* captured proofs of legs A and B, once seen */
	int have[2];
	uint64_t stranger, forged, replayed; /* what it sent, by the drop each must be */
};

static void attack(struct attacker *x, const struct fix *f)
{
	uint8_t p[256], key[RL_LATCH_KEY_LEN];
	const uint32_t ssrc[2] = {SA, SB};

	key_of(0xbad, key);
	for (int k = 0; k < 2; k++)
		for (int leg = 0; leg < 2; leg++) {
			tx(x->fd[k], f, p, rtp(p, 100, ssrc[leg], 7)), x->stranger++;
			tx(x->fd[k], f, p, rtcp(p, 28, ssrc[leg], 200)), x->stranger++;
			rl_latch_write(p, ssrc[leg], UINT64_MAX - 1, key);
			tx(x->fd[k], f, p, RL_LATCH_LEN), x->forged++;
			if (!x->have[leg])
				continue;
			tx(x->fd[k], f, x->cap[leg], RL_LATCH_LEN), x->replayed++;
			memcpy(p, x->cap[leg], RL_LATCH_LEN);
			p[8] ^= 0x80; /* a higher counter under the captured MAC */
			tx(x->fd[k], f, p, RL_LATCH_LEN), x->forged++;
		}
}

/* attack_failed: the drops are exactly what x sent, and nothing ever reached it. */
static int attack_failed(const struct attacker *x, const struct rl_relay_counters *c0,
                         const struct rl_relay_counters *c)
{
	return c->drop_source - c0->drop_source == x->stranger && c->drop_latch_bad - c0->drop_latch_bad == x->forged &&
	       c->drop_latch_replay - c0->drop_latch_replay == x->replayed && nothing(x->fd[0]) && nothing(x->fd[1]);
}

/* rx_this: 1 if the datagram p (len bytes) reaches fd within ms. Others that arrive first
 * are let by: an earlier exchange's packet that came after its own wait (a loaded machine
 * can hold one back for seconds) must not make every later exchange read the one before. */
static int rx_this(int fd, const uint8_t *p, size_t len, int ms)
{
	uint8_t q[256];
	uint64_t until = rl_mono_us() + (uint64_t)ms * 1000u;

	for (uint64_t now = rl_mono_us(); now < until; now = rl_mono_us())
		if (rx(fd, q, sizeof(q), (int)((until - now + 999) / 1000)) == (ssize_t)len && memcmp(p, q, len) == 0)
			return 1;
	return 0;
}

/* talk: one packet each way between node and agent; 1 if both arrived intact. */
static int talk(const struct fix *f, int node, int agent, uint16_t seq)
{
	uint8_t p[256];
	int ok;

	tx(node, f, p, rtp(p, 90, SA, seq));
	ok = rx_this(agent, p, 90, 5000);
	tx(agent, f, p, rtp(p, 91, SB, seq));
	return ok && rx_this(node, p, 91, 5000);
}

static void hijack(void)
{
	struct fix f;
	struct rl_relay_counters c0, c;
	struct attacker x = {{udp_on("127.0.0.2"), udp_on("127.0.0.1")}, {{0}}, {0}, 0, 0, 0};
	uint8_t p[256];
	uint64_t sent = 0;
	int node = udp_on("127.0.0.1"), agent = udp_on("127.0.0.1"), ok = 1;

	RL_REQUIRE(node >= 0 && agent >= 0 && x.fd[0] >= 0 && x.fd[1] >= 0);
	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 2, 60000, 64) == 0);
	RL_REQUIRE(add(f.r, 1, SA, SB) == 0);
	tx(node, &f, x.cap[0], proof(x.cap[0], SA)), sent++; /* the node proves its leg ... */
	x.have[0] = 1;                                       /* ... and the attacker sees it */
	c0 = counters_wait(f.r, sent);

	/* 1. Before the agent's first proof: the node's audio has nowhere to go */
	attack(&x, &f);
	tx(node, &f, p, rtp(p, 90, SA, 1));
	c = counters_wait(f.r, sent + x.stranger + x.forged + x.replayed + 1);
	RL_CHECK(attack_failed(&x, &c0, &c));
	RL_CHECK(c.latched == 1 && c.drop_unlatched == c0.drop_unlatched + 1 && nothing(agent));

	/* 2. During the call */
	tx(agent, &f, x.cap[1], proof(x.cap[1], SB));
	x.have[1] = 1;
	/* Its proof may land on the other relay thread than the node's next packet: that packet
	 * finds the agent's leg latched only once the proof has been taken. */
	counters_wait(f.r, sent + x.stranger + x.forged + x.replayed + 1 + 1);
	for (int i = 0; i < 20; i++) {
		ok &= talk(&f, node, agent, (uint16_t)(10 + i));
		if (i % 5 == 0)
			attack(&x, &f);
	}
	RL_CHECK(ok);
	uint64_t in = sent + 1 + 1 + 40 + x.stranger + x.forged + x.replayed;
	c = counters_wait(f.r, in);
	RL_CHECK(attack_failed(&x, &c0, &c));
	RL_CHECK(c.latched == 2 && c.proofs == 2);

	/* 3. After 5 s of the agent's silence (the node talks on; the agent only listens) */
	uint64_t t0 = rl_mono_us();
	int heard = 0;
	while (rl_mono_us() - t0 < 5300000u) {
		tx(node, &f, p, rtp(p, 90, SA, 100)), in++;
		heard += rx(agent, p, sizeof(p), 100) == 90;
		rltest_sleep_ms(100);
	}
	in -= x.stranger + x.forged + x.replayed; /* counted again, with this attack's, below */
	attack(&x, &f);
	tx(node, &f, p, rtp(p, 92, SA, 200)), in++;
	RL_CHECK(rx(agent, p, sizeof(p), 2000) == 92); /* still the agent's leg */
	c = counters_wait(f.r, in + x.stranger + x.forged + x.replayed);
	RL_CHECK(attack_failed(&x, &c0, &c));
	RL_CHECK(c.latched == 2 && heard >= 40);
	printf("attacker: %llu RTP/RTCP, %llu forged and %llu replayed proofs, all dropped; none of the call "
	       "reached it\n",
	       (unsigned long long)x.stranger, (unsigned long long)x.forged, (unsigned long long)x.replayed);

	/* 4. The agent speaks again: heard at once, no proof needed while its address stands */
	RL_CHECK(talk(&f, node, agent, 300));
	RL_CHECK(nothing(x.fd[0]) && nothing(x.fd[1]));
	rl_relay_close(f.r);
	close(node), close(agent), close(x.fd[0]), close(x.fd[1]);
}

/* An agent whose address changes mid-call (a NAT rebinding: a new port, then a new IP) is
 * followed as soon as it proves its leg from there, without waiting for anything; its old
 * address is then a stranger, and a replay of a proof it sent from there moves nothing. */
static void rebinding(void)
{
	struct fix f;
	struct rl_relay_counters c, c0;
	uint8_t p[256], q[256], old[RL_LATCH_LEN];
	uint64_t sent = 0;
	int node = udp_on("127.0.0.1"), a1 = udp_on("127.0.0.1"), a2 = udp_on("127.0.0.1"), a3 = udp_on("127.0.0.3");

	RL_REQUIRE(node >= 0 && a1 >= 0 && a2 >= 0 && a3 >= 0);
	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 1, 60000, 64) == 0);
	RL_REQUIRE(add(f.r, 1, SA, SB) == 0);
	prove(node, &f, SA), sent++;
	tx(a1, &f, old, proof(old, SB)), sent++;
	RL_CHECK(talk(&f, node, a1, 1));
	sent += 2;

	/* a new port: its RTP alone is refused; its proof moves the leg at once */
	c0 = counters_wait(f.r, sent);
	tx(a2, &f, p, rtp(p, 60, SB, 2)), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.drop_source == c0.drop_source + 1 && nothing(node));
	uint64_t t0 = rl_mono_us();
	prove(a2, &f, SB), sent++;
	RL_CHECK(talk(&f, node, a2, 3));
	sent += 2;
	RL_CHECK(rl_mono_us() - t0 < 1000000u);
	RL_CHECK(nothing(a1));
	c = counters_wait(f.r, sent);
	RL_CHECK(c.latched == 3);

	/* the old address is a stranger now, and replaying its proof does not bring the leg back */
	tx(a1, &f, p, rtp(p, 61, SB, 4)), sent++;
	tx(a1, &f, old, RL_LATCH_LEN), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.drop_source == c0.drop_source + 2 && c.drop_latch_replay == c0.drop_latch_replay + 1);
	tx(node, &f, p, rtp(p, 62, SA, 5)), sent++;
	RL_CHECK(rx(a2, q, sizeof(q), 2000) == 62 && nothing(a1));

	/* a new IP */
	prove(a3, &f, SB), sent++;
	RL_CHECK(talk(&f, node, a3, 6));
	sent += 2;
	RL_CHECK(nothing(a2) && nothing(a1));
	c = counters_wait(f.r, sent);
	RL_CHECK(c.latched == 4 && accounted(&c));
	rl_relay_close(f.r);
	close(node), close(a1), close(a2), close(a3);
}

/* 500 calls at once over two addresses per side (legs latch per address, so calls may share). */
static void many_calls(void)
{
	enum { N = 500 };
	struct fix f;
	struct rl_relay_counters c;
	uint8_t p[256], q[256];
	int sa[2] = {udp_on("127.0.0.1"), udp_on("127.0.0.1")}, sb[2] = {udp_on("127.0.0.1"), udp_on("127.0.0.1")};
	int ok_latch = 1, ok_ba = 1, ok_ab = 1;

	RL_REQUIRE(sa[0] >= 0 && sa[1] >= 0 && sb[0] >= 0 && sb[1] >= 0);
	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 2, 30000, 4096) == 0);
	for (uint32_t i = 0; i < N; i++)
		ok_latch &= add(f.r, 1000 + i, 0xa0000000u + i * 7919u, 0xb0000000u + i * 104729u) == 0;
	RL_CHECK(ok_latch);
	rl_relay_counters(f.r, &c);
	RL_CHECK(c.calls == N);
	for (uint32_t i = 0; i < N; i++) {
		prove(sa[i & 1], &f, 0xa0000000u + i * 7919u);
		tx(sa[i & 1], &f, p, rtp(p, 60, 0xa0000000u + i * 7919u, 1));
		if (i % 50 == 49) /* in steps, so no receive buffer can overflow */
			counters_wait(f.r, 2 * (i + 1));
	}
	c = counters_wait(f.r, 2 * N);
	RL_CHECK(c.latched == N && c.drop_unlatched == N && c.proofs == N);
	/* one at a time, so no receive buffer can overflow; each lands on its call's A socket */
	for (uint32_t i = 0; i < N; i++) {
		uint32_t sb_i = 0xb0000000u + i * 104729u;
		prove(sb[i % 2], &f, sb_i);
		tx(sb[i % 2], &f, p, rtp(p, 70 + i % 50, sb_i, 2));
		ssize_t n = rx(sa[i & 1], q, sizeof(q), 2000);
		ok_ba &= n == (ssize_t)(70 + i % 50) && memcmp(p, q, (size_t)n) == 0;
		uint32_t sa_i = 0xa0000000u + i * 7919u;
		tx(sa[i & 1], &f, p, rtp(p, 80, sa_i, 3));
		n = rx(sb[i % 2], q, sizeof(q), 2000);
		ok_ab &= n == 80 && memcmp(p, q, 80) == 0;
	}
	RL_CHECK(ok_ba);
	RL_CHECK(ok_ab);
	c = counters_wait(f.r, 5 * N);
	RL_CHECK(c.fwd == 2 * N && c.latched == 2 * N);
	for (uint32_t i = 0; i < N; i += 2)
		rl_relay_del(f.r, 1000 + i);
	rl_relay_counters(f.r, &c);
	RL_CHECK(c.calls == N / 2);
	RL_CHECK(rl_relay_ssrc_free(f.r, 0xa0000000u) && !rl_relay_ssrc_free(f.r, 0xa0000000u + 7919u));
	/* the remaining half still forward after all that backward-shifting */
	int ok_left = 1;
	for (uint32_t i = 1; i < N; i += 2) {
		tx(sa[i & 1], &f, p, rtp(p, 80, 0xa0000000u + i * 7919u, 4));
		ok_left &= rx(sb[i % 2], q, sizeof(q), 2000) == 80 && memcmp(p, q, 80) == 0;
	}
	RL_CHECK(ok_left);
	rl_relay_close(f.r);
	for (int i = 0; i < 2; i++)
		close(sa[i]), close(sb[i]);
}

/* add/del of thousands of other calls while one call carries traffic: nothing of it lost. */
struct churn {
	struct rl_relay *r;
	atomic_int stop;
	unsigned rounds;
};

static void *churn_main(void *arg)
{
	struct churn *ch = arg;
	uint64_t id = 1u << 20;
	while (!atomic_load(&ch->stop)) {
		for (int i = 0; i < 200; i++)
			add(ch->r, id + (uint64_t)i, 0x50000000u + (uint32_t)(id + (uint64_t)i) * 2u,
			    0x50000001u + (uint32_t)(id + (uint64_t)i) * 2u);
		for (int i = 0; i < 200; i++)
			rl_relay_del(ch->r, id + (uint64_t)i);
		id += 200;
		ch->rounds++;
	}
	return NULL;
}

static void churn_while_forwarding(void)
{
	enum { PKTS = 3000 };
	struct fix f;
	struct churn ch = {0};
	pthread_t t;
	uint8_t p[256], q[256];
	int a = udp_on("127.0.0.1"), b = udp_on("127.0.0.1"), got = 0, in_order = 1;

	RL_REQUIRE(a >= 0 && b >= 0);
	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 2, 30000, 1024) == 0);
	RL_REQUIRE(add(f.r, 1, SA, SB) == 0);
	prove(a, &f, SA);
	prove(b, &f, SB);
	counters_wait(f.r, 2);
	ch.r = f.r;
	RL_REQUIRE(pthread_create(&t, NULL, churn_main, &ch) == 0);
	for (int i = 0; i < PKTS; i++) {
		tx(a, &f, p, rtp(p, 100, SA, (uint16_t)i));
		if (i % 32 == 31 || i == PKTS - 1) /* drain as we go: the receive buffer is finite */
			while (got <= i) {
				ssize_t n = rx(b, q, sizeof(q), 2000);
				if (n < 0)
					break;
				in_order &= n == 100 && ((q[2] << 8) | q[3]) == (got & 0xffff);
				got++;
			}
	}
	atomic_store(&ch.stop, 1);
	pthread_join(t, NULL);
	RL_CHECK(got == PKTS);
	RL_CHECK(in_order);
	RL_CHECK(ch.rounds > 0);
	struct rl_relay_counters c;
	rl_relay_counters(f.r, &c);
	RL_CHECK(c.calls == 1 && c.calls_added == c.calls_released + 1);
	rl_relay_close(f.r);
	close(a), close(b);
}

static void ipv6(void)
{
	struct fix f;
	uint8_t p[256], q[256];
	int a = udp_on("::1"), b = udp_on("::1");

	if (a < 0 || b < 0 || fix_open(&f, "[::1]:0", 1, 30000, 16) != 0) {
		fprintf(stderr, "no IPv6 loopback here: IPv6 checks skipped\n");
		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
		return;
	}
	RL_CHECK(strncmp(rl_relay_advertise(f.r), "[::1]:", 6) == 0);
	RL_REQUIRE(add(f.r, 1, SA, SB) == 0);
	prove(a, &f, SA);
	tx(a, &f, p, rtp(p, 60, SA, 1)); /* B not latched yet: dropped */
	counters_wait(f.r, 2);
	prove(b, &f, SB);
	tx(b, &f, p, rtp(p, 61, SB, 1));
	RL_CHECK(rx(a, q, sizeof(q), 2000) == 61 && memcmp(p, q, 61) == 0);
	tx(a, &f, p, rtp(p, 62, SA, 2));
	RL_CHECK(rx(b, q, sizeof(q), 2000) == 62 && memcmp(p, q, 62) == 0);
	rl_relay_close(f.r);
	close(a), close(b);
}

/* close while two senders blast both legs: threads end promptly, nothing leaks or crashes. */
struct blast {
	int fd;
	const struct fix *f;
	uint32_t ssrc;
	atomic_int *stop;
};

static void *blast_main(void *arg)
{
	struct blast *bl = arg;
	uint8_t p[200];
	uint16_t seq = 0;
	while (!atomic_load(bl->stop)) {
		rtp(p, 120, bl->ssrc, seq++);
		sendto(bl->fd, p, 120, MSG_DONTWAIT, (const struct sockaddr *)&bl->f->to, bl->f->tolen);
		if (seq % 64 == 0) { /* keep the receive queues from filling: drain what came back */
			uint8_t q[256];
			while (recv(bl->fd, q, sizeof(q), MSG_DONTWAIT) > 0)
				;
		}
	}
	return NULL;
}

static void close_in_flight(void)
{
	struct fix f;
	atomic_int stop = 0;
	pthread_t t[2];
	int a = udp_on("127.0.0.1"), b = udp_on("127.0.0.1");
	struct rl_relay_counters c;

	RL_REQUIRE(a >= 0 && b >= 0);
	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 4, 30000, 64) == 0);
	RL_REQUIRE(add(f.r, 1, SA, SB) == 0);
	prove(a, &f, SA);
	prove(b, &f, SB);
	counters_wait(f.r, 2);
	struct blast ba = {a, &f, SA, &stop}, bb = {b, &f, SB, &stop};
	pthread_create(&t[0], NULL, blast_main, &ba);
	pthread_create(&t[1], NULL, blast_main, &bb);
	RL_WAIT(10000, relay_fwd(f.r) > 100);
	rl_relay_counters(f.r, &c);
	RL_CHECK(c.fwd > 100);
	uint64_t t0 = rl_mono_us();
	rl_relay_close(f.r);
	uint64_t took = rl_mono_us() - t0;
	RL_CHECK(took < 500000u);
	fprintf(stderr, "close with traffic in flight: %llu us after %llu forwarded\n", (unsigned long long)took,
	        (unsigned long long)c.fwd);
	atomic_store(&stop, 1);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	close(a), close(b);

	/* an idle relay closes promptly too (threads blocked in recvmmsg) */
	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 16, 30000, 64) == 0);
	RL_WAIT(10000, threads_in_recvmmsg() >= 16);
	t0 = rl_mono_us();
	rl_relay_close(f.r);
	RL_CHECK(rl_mono_us() - t0 < 200000u);
}

int main(void)
{
	rl_log_init("test_relay", RL_LOG_WARNING);
	config_errors();
	forwarding();
	add_refusals();
	any_address();
	proofs();
	idle_release();
	many_calls();
	churn_while_forwarding();
	ipv6();
	close_in_flight();
	hijack();
	rebinding();
	return rltest_done();
}
