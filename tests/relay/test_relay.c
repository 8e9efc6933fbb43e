/*
 * The hub's media relay over real UDP on loopback, with its real threads: latching,
 * forwarding both ways unchanged, every drop class, the expected-IP restriction, release by
 * del and by idleness, re-latching after 5 s of silence, table limits, 500 calls at once,
 * add/del racing traffic, IPv6, and close with traffic in flight.
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

static struct sockaddr_in ip4(const char *ip)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
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
	RL_REQUIRE(rl_relay_add(f.r, 1, SA, SB, NULL, NULL) == 0);
	RL_CHECK(rl_relay_ssrc_free(f.r, SA) == 0 && rl_relay_ssrc_free(f.r, SB) == 0);

	/* A's first packet latches A, but B is not latched yet: dropped */
	tx(a, &f, p, rtp(p, 100, SA, 1)), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.rx == 1 && c.latched == 1 && c.drop_unlatched == 1 && c.fwd == 0);
	RL_CHECK(nothing(b));

	/* B's first packet latches B and goes to A unchanged */
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
	RL_CHECK(c.rx == c.fwd + c.drop_malformed + c.drop_unknown + c.drop_source + c.drop_unlatched + c.drop_send);

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
	RL_CHECK(c.rx == c.fwd + c.drop_malformed + c.drop_unknown + c.drop_source + c.drop_unlatched + c.drop_send);
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
	RL_REQUIRE(rl_relay_add(f.r, 2, SA, SB, NULL, NULL) == 0);
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
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct sockaddr_in v4 = ip4("127.0.0.1");
	struct sockaddr bad = {.sa_family = AF_UNIX};

	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 1, 30000, 4) == 0);
	RL_CHECK(rl_relay_add(f.r, 1, 10, 11, NULL, NULL) == 0);
	RL_CHECK(rl_relay_add(f.r, 1, 12, 13, NULL, NULL) == RL_EEXIST); /* id live */
	RL_CHECK(rl_relay_add(f.r, 2, 10, 13, NULL, NULL) == RL_EEXIST); /* ssrc_a live */
	RL_CHECK(rl_relay_add(f.r, 2, 12, 11, NULL, NULL) == RL_EEXIST); /* ssrc_b live */
	RL_CHECK(rl_relay_add(f.r, 2, 12, 12, NULL, NULL) == RL_EINVAL); /* legs not told apart */
	RL_CHECK(rl_relay_add(f.r, 2, 12, 13, &bad, NULL) == RL_EINVAL);
	RL_CHECK(rl_relay_add(f.r, 2, 12, 13, NULL, (struct sockaddr *)&v6) == RL_EINVAL); /* v6 peer, v4 relay */
	RL_CHECK(rl_relay_add(f.r, 2, 12, 13, (struct sockaddr *)&v4, NULL) == 0);
	RL_CHECK(rl_relay_add(f.r, 3, 14, 15, NULL, NULL) == 0);
	RL_CHECK(rl_relay_add(f.r, 4, 16, 17, NULL, NULL) == 0);
	RL_CHECK(rl_relay_add(f.r, 5, 18, 19, NULL, NULL) == RL_EFULL);
	rl_relay_del(f.r, 3);
	RL_CHECK(rl_relay_add(f.r, 5, 18, 19, NULL, NULL) == 0);
	RL_CHECK(rl_relay_add(f.r, 3, 14, 15, NULL, NULL) == RL_EFULL);
	struct rl_relay_counters c;
	rl_relay_counters(f.r, &c);
	RL_CHECK(c.calls == 4 && c.calls_added == 5 && c.calls_released == 1);
	rl_relay_close(f.r);
}

static void expected_ip(void)
{
	struct fix f;
	struct rl_relay_counters c;
	struct sockaddr_in want = ip4("127.0.0.2");
	uint8_t p[256], q[256];
	uint64_t sent = 0;
	int a1 = udp_on("127.0.0.1"), a2 = udp_on("127.0.0.2"), b = udp_on("127.0.0.1");

	RL_REQUIRE(a1 >= 0 && a2 >= 0 && b >= 0);
	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 1, 30000, 64) == 0);
	RL_REQUIRE(rl_relay_add(f.r, 7, SA, SB, (struct sockaddr *)&want, NULL) == 0);
	tx(b, &f, p, rtp(p, 80, SB, 1)), sent++;  /* B latches (no restriction) */
	tx(a1, &f, p, rtp(p, 80, SA, 1)), sent++; /* from 127.0.0.1: must not latch A */
	c = counters_wait(f.r, sent);
	RL_CHECK(c.latched == 1 && c.drop_source == 1 && c.drop_unlatched == 1);
	RL_CHECK(nothing(b));
	tx(b, &f, p, rtp(p, 80, SB, 2)), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.drop_unlatched == 2 && c.fwd == 0);
	RL_CHECK(nothing(a1));

	tx(a2, &f, p, rtp(p, 81, SA, 2)), sent++; /* from the expected IP: latches, forwarded */
	RL_CHECK(rx(b, q, sizeof(q), 2000) == 81 && memcmp(p, q, 81) == 0);
	tx(b, &f, p, rtp(p, 82, SB, 3)), sent++;
	RL_CHECK(rx(a2, q, sizeof(q), 2000) == 82 && memcmp(p, q, 82) == 0);
	RL_CHECK(nothing(a1));
	c = counters_wait(f.r, sent);
	RL_CHECK(c.latched == 2 && c.fwd == 2);
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
	RL_REQUIRE(rl_relay_add(f.r, 1, SA, SB, NULL, NULL) == 0);         /* will go silent */
	RL_REQUIRE(rl_relay_add(f.r, 2, SA + 1, SB + 1, NULL, NULL) == 0); /* never heard */
	RL_REQUIRE(rl_relay_add(f.r, 3, SA + 2, SB + 2, NULL, NULL) == 0); /* keeps talking */
	tx(a, &f, p, rtp(p, 50, SA, 1)), sent++;
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

/* A leg whose latched address has been silent for 5 s latches again (NAT rebinding); before
 * that, another address is refused. */
static void relatch(void)
{
	struct fix f;
	struct rl_relay_counters c;
	uint8_t p[256], q[256];
	uint64_t sent = 0;
	int a = udp_on("127.0.0.1"), a2 = udp_on("127.0.0.1"), b = udp_on("127.0.0.1");

	RL_REQUIRE(a >= 0 && a2 >= 0 && b >= 0);
	RL_REQUIRE(fix_open(&f, "127.0.0.1:0", 1, 60000, 64) == 0);
	RL_REQUIRE(rl_relay_add(f.r, 1, SA, SB, NULL, NULL) == 0);
	uint64_t a_last = rl_mono_us(); /* A's last packet from its first address */
	tx(a, &f, p, rtp(p, 50, SA, 1)), sent++;
	tx(b, &f, p, rtp(p, 51, SB, 1)), sent++;
	RL_CHECK(rx(a, q, sizeof(q), 2000) == 51);
	/* B keeps talking; A goes silent. After 3.5 s a new A address is still refused... */
	uint16_t bseq = 2;
	while (rl_mono_us() - a_last < 3500000u) {
		tx(b, &f, p, rtp(p, 51, SB, bseq++)), sent++;
		rltest_sleep_ms(100); /* B's pace; how long A is silent is what is tested */
	}
	while (rx(a, q, sizeof(q), 0) >= 0)
		;
	tx(a2, &f, p, rtp(p, 52, SA, 2)), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.drop_source == 1 && c.latched == 2);
	RL_CHECK(nothing(b));
	RL_CHECK(rl_mono_us() - a_last < 4900000u); /* else the check above proved nothing */
	/* ...and after more than 5 s it is taken */
	while (rl_mono_us() - a_last < 5300000u) {
		tx(b, &f, p, rtp(p, 51, SB, bseq++)), sent++;
		rltest_sleep_ms(100); /* as above */
	}
	tx(a2, &f, p, rtp(p, 53, SA, 3)), sent++;
	RL_CHECK(rx(b, q, sizeof(q), 2000) == 53);
	c = counters_wait(f.r, sent);
	RL_CHECK(c.latched == 3);
	while (rx(a, q, sizeof(q), 0) >= 0)
		;
	tx(b, &f, p, rtp(p, 54, SB, 99)), sent++;
	RL_CHECK(rx(a2, q, sizeof(q), 2000) == 54);
	RL_CHECK(nothing(a));
	/* the old address is now the stranger */
	tx(a, &f, p, rtp(p, 55, SA, 4)), sent++;
	c = counters_wait(f.r, sent);
	RL_CHECK(c.drop_source == 2);
	rl_relay_close(f.r);
	close(a), close(a2), close(b);
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
		ok_latch &=
		    rl_relay_add(f.r, 1000 + i, 0xa0000000u + i * 7919u, 0xb0000000u + i * 104729u, NULL, NULL) == 0;
	RL_CHECK(ok_latch);
	rl_relay_counters(f.r, &c);
	RL_CHECK(c.calls == N);
	for (uint32_t i = 0; i < N; i++) {
		tx(sa[i & 1], &f, p, rtp(p, 60, 0xa0000000u + i * 7919u, 1));
		if (i % 50 == 49) /* in steps, so no receive buffer can overflow */
			counters_wait(f.r, i + 1);
	}
	c = counters_wait(f.r, N);
	RL_CHECK(c.latched == N && c.drop_unlatched == N);
	/* one at a time, so no receive buffer can overflow; each lands on its call's A socket */
	for (uint32_t i = 0; i < N; i++) {
		uint32_t sb_i = 0xb0000000u + i * 104729u;
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
	c = counters_wait(f.r, 3 * N);
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
			rl_relay_add(ch->r, id + (uint64_t)i, 0x50000000u + (uint32_t)(id + (uint64_t)i) * 2u,
			             0x50000001u + (uint32_t)(id + (uint64_t)i) * 2u, NULL, NULL);
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
	RL_REQUIRE(rl_relay_add(f.r, 1, SA, SB, NULL, NULL) == 0);
	tx(b, &f, p, rtp(p, 50, SB, 1));
	counters_wait(f.r, 1);
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
	struct sockaddr_in v4 = ip4("127.0.0.1");
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
	/* an IPv4 expected address is fine on a dual-stack socket (as ::ffff:127.0.0.1) */
	RL_CHECK(rl_relay_add(f.r, 2, 3, 4, (struct sockaddr *)&v4, NULL) == 0);
	RL_REQUIRE(rl_relay_add(f.r, 1, SA, SB, NULL, NULL) == 0);
	tx(a, &f, p, rtp(p, 60, SA, 1));
	counters_wait(f.r, 1);
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
	RL_REQUIRE(rl_relay_add(f.r, 1, SA, SB, NULL, NULL) == 0);
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
	expected_ip();
	idle_release();
	many_calls();
	churn_while_forwarding();
	ipv6();
	close_in_flight();
	relatch();
	return rltest_done();
}
