/*
 * test_srv - rl_srv against real nng pair1 clients and raw TCP peers, over tcp:// and
 * tls+tcp:// on loopback.
 *
 * A client's frames and bundles reach the loop with the pipe's id; the server's frames reach
 * the client in order, more than pair1 polyamorous would queue; a frame of nearly the whole
 * bound goes both ways; the peer's address is known; a pipe closed by the server is reported
 * gone and the client's redial is a new pipe; a client that leaves is reported gone. A raw
 * peer that is not SP, one that announces a frame over the bound, and one with a hop count
 * over 255 are cut off and counted; a frame with too many hops is dropped and the pipe goes
 * on. A peer that does not read fills its backlog and sends are refused with RL_EAGAIN. A
 * pipe that says nothing is closed once its time to say Hello is up, and counted. A
 * flood of frames past the loop's inbox pauses reading and resumes it, losing nothing. Over
 * TLS a client with the CA's certificate is served and one from another CA never delivers.
 * Peers that reset their connections while the owner sends to them: every send is answered,
 * no pipe is touched after it is freed (AddressSanitizer), every one is reported gone. A
 * peer that completes TLS with a valid certificate and then writes what is not a TLS record
 * is cut off and counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rl_bundle.h"
#include "rl_err.h"
#include "rl_greet.h"
#include "rl_link.h"
#include "rl_loop.h"
#include "rl_srv.h"
#include "rl_time.h"
#include "rl_wire.h"
#include "rltest.h"

#include <nng/supplemental/util/platform.h>

#define TAG_MSG  1
#define TAG_GONE 2

static uint32_t news[64];
static unsigned nnews;

static void on_new(void *arg, uint32_t pipe)
{
	(void)arg;
	if (nnews < 64)
		news[nnews] = pipe;
	__atomic_add_fetch(&nnews, 1, __ATOMIC_SEQ_CST);
}

struct rx {
	unsigned msgs, gone;
	uint32_t last_pipe, gone_pipe;
	size_t last_len;
	uint8_t last_first;
};

/* pump drains the loop for up to ms, or until cond(r) holds */
static int pump(struct rl_loop *l, struct rl_srv *s, struct rx *r, int ms, int (*cond)(const struct rx *, unsigned),
                unsigned want)
{
	uint64_t until = rl_mono_us() + (uint64_t)ms * 1000u;
	struct rl_loop_event evs[256];

	while (!cond(r, want) && rl_mono_us() < until) {
		int n = rl_loop_wait(l, 20, evs, 256);
		for (int i = 0; i < n; i++) {
			if (evs[i].kind == RL_LOOP_MSG) {
				r->msgs++;
				r->last_pipe = nng_msg_get_pipe(evs[i].msg).id;
				r->last_len = nng_msg_len(evs[i].msg);
				r->last_first = r->last_len ? *(uint8_t *)nng_msg_body(evs[i].msg) : 0;
				nng_msg_free(evs[i].msg);
			} else if (evs[i].src == TAG_GONE) {
				r->gone++;
				r->gone_pipe = (uint32_t)(uintptr_t)evs[i].ptr;
			}
		}
	}
	return cond(r, want);
}

static int msgs_at_least(const struct rx *r, unsigned n)
{
	return r->msgs >= n;
}

static int gone_at_least(const struct rx *r, unsigned n)
{
	return r->gone >= n;
}

static int wait_news(unsigned n)
{
	for (int i = 0; i < 500 && __atomic_load_n(&nnews, __ATOMIC_SEQ_CST) < n; i++)
		nng_msleep(10);
	return __atomic_load_n(&nnews, __ATOMIC_SEQ_CST) >= n;
}

static void send_bytes(nng_socket c, const uint8_t *b, size_t n)
{
	RL_CHECK(rl_link_send_bytes(c, 0, b, n) == RL_OK);
}

/* exchange: frames both ways with a pair1 client over url */
static void exchange(const char *url, const struct rl_tls *stls, const struct rl_tls *ctls)
{
	struct rl_loop *l;
	struct rl_srv *s;
	struct rl_srv_conf c = {.tag_msg = TAG_MSG, .tag_gone = TAG_GONE, .on_new = on_new};
	struct rx r = {0};
	nng_socket cl;
	static uint8_t big[RL_WIRE_MAX_FRAME - 4]; /* with pair1's hop count, the bound */
	struct sockaddr_storage ss;
	nng_msg *m;
	uint32_t pipe;

	nnews = 0;
	RL_REQUIRE(rl_loop_create(&l) == RL_OK);
	c.loop = l;
	RL_REQUIRE(rl_srv_open(&s, &c) == RL_OK);
	RL_REQUIRE(rl_srv_listen(s, url, stls) == RL_OK);
	RL_REQUIRE(rl_link_client_open(&cl) == RL_OK);
	RL_REQUIRE(rl_link_dial(cl, url, ctls, NULL) == RL_OK);
	RL_REQUIRE(wait_news(1));
	pipe = news[0];

	/* client -> server: a frame, then a bundle of three */
	send_bytes(cl, (const uint8_t *)"\x08\x01", 2);
	RL_CHECK(pump(l, s, &r, 3000, msgs_at_least, 1));
	RL_CHECK(r.last_pipe == pipe && r.last_len == 2);
	{
		struct rl_bundler *b;
		RL_REQUIRE(rl_bundler_create(&b) == RL_OK);
		for (int i = 0; i < 3; i++)
			RL_CHECK(rl_bundler_add(b, 0, (const uint8_t *)"\x08\x01\x10\x05", 4) == RL_OK);
		RL_CHECK(rl_bundler_flush(b, cl) == 0);
		rl_bundler_destroy(b);
	}
	RL_CHECK(pump(l, s, &r, 3000, msgs_at_least, 4));
	RL_CHECK(r.msgs == 4 && r.last_len == 4);

	/* server -> client: ten frames in a row, all there in order */
	for (uint8_t i = 0; i < 10; i++)
		RL_CHECK(rl_srv_send(s, pipe, &i, 1) == RL_OK);
	nng_socket_set_ms(cl, NNG_OPT_RECVTIMEO, 3000);
	for (uint8_t i = 0; i < 10; i++) {
		int ok = nng_recvmsg(cl, &m, 0) == 0;
		RL_CHECK(ok && nng_msg_len(m) == 1 && *(uint8_t *)nng_msg_body(m) == i);
		if (ok)
			nng_msg_free(m);
	}

	/* nearly the whole bound, both ways */
	memset(big, 0x5a, sizeof(big));
	big[0] = 0x11;
	RL_CHECK(rl_srv_send(s, pipe, big, sizeof(big)) == RL_OK);
	RL_CHECK(rl_srv_send(s, pipe, big, sizeof(big) + 1) == RL_ETOOBIG);
	if (nng_recvmsg(cl, &m, 0) == 0) {
		RL_CHECK(nng_msg_len(m) == sizeof(big) && memcmp(nng_msg_body(m), big, sizeof(big)) == 0);
		nng_msg_free(m);
	} else {
		RL_CHECK(!"the big frame arrived");
	}
	/* a burst larger than a link's send buffer is kept: all of it, in order, and the link
	 * goes on after its buffer is let go */
	for (int i = 0; i < 12; i++) {
		big[1] = (uint8_t)i;
		RL_CHECK(rl_srv_send(s, pipe, big, sizeof(big)) == RL_OK);
	}
	for (int i = 0; i < 12; i++) {
		int ok = nng_recvmsg(cl, &m, 0) == 0;
		RL_CHECK(ok && nng_msg_len(m) == sizeof(big) && ((uint8_t *)nng_msg_body(m))[1] == i);
		if (ok)
			nng_msg_free(m);
	}
	RL_CHECK(rl_srv_send(s, pipe, "\x07", 1) == RL_OK);
	if (nng_recvmsg(cl, &m, 0) == 0) {
		RL_CHECK(nng_msg_len(m) == 1 && *(uint8_t *)nng_msg_body(m) == 7);
		nng_msg_free(m);
	} else {
		RL_CHECK(!"a frame after the burst arrived");
	}
	big[1] = 0x5a;

	send_bytes(cl, big, sizeof(big));
	RL_CHECK(pump(l, s, &r, 3000, msgs_at_least, 5));
	RL_CHECK(r.last_len == sizeof(big) && r.last_first == 0x11);

	RL_CHECK(rl_srv_peer_ip(s, pipe, &ss) == RL_OK && ss.ss_family == AF_INET);
	RL_CHECK(rl_srv_peer_ip(s, pipe + 1000, &ss) == RL_ENOENT);

	/* the server closes the pipe: gone; the client dials again, a new pipe */
	RL_CHECK(rl_srv_close_pipe(s, pipe) == RL_OK);
	RL_CHECK(pump(l, s, &r, 3000, gone_at_least, 1));
	RL_CHECK(r.gone_pipe == pipe);
	RL_CHECK(rl_srv_send(s, pipe, "x", 1) == RL_ENOENT);
	RL_CHECK(wait_news(2));
	RL_CHECK(news[1] != pipe && news[1] != 0);
	send_bytes(cl, (const uint8_t *)"\x08\x01", 2);
	RL_CHECK(pump(l, s, &r, 3000, msgs_at_least, 6));
	RL_CHECK(r.last_pipe == news[1]);

	/* the client leaves: gone */
	rl_link_close(cl, 2000);
	RL_CHECK(pump(l, s, &r, 3000, gone_at_least, 2));
	RL_CHECK(r.gone_pipe == news[1]);
	rl_srv_close(s);
	rl_loop_destroy(l);
}

static int raw_connect(int port, int rcvbuf)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* closed_by_peer: the server has closed fd (read returns 0 or an error within ms) */
static int closed_by_peer(int fd, int ms);

/* cut_off: a raw peer that sends bytes is cut off by the server */
static void cut_off(int port, const void *bytes, size_t n)
{
	int fd = raw_connect(port, 0);

	RL_REQUIRE(fd >= 0);
	RL_CHECK(write(fd, bytes, n) == (ssize_t)n);
	RL_CHECK(closed_by_peer(fd, 3000));
	close(fd);
}

static int closed_by_peer(int fd, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	uint8_t b[256];
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((n = read(fd, b, sizeof(b))) > 0)
		;
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void hostile(void)
{
	struct rl_loop *l;
	struct rl_srv *s;
	struct rl_srv_conf c = {.tag_msg = TAG_MSG, .tag_gone = TAG_GONE, .on_new = on_new, .max_backlog = 256 * 1024};
	struct rl_srv_counters k;
	struct rx r = {0};
	int port = rltest_free_port(), fd;
	char url[64];
	static const uint8_t sp[8] = {0, 'S', 'P', 0, 0, 0x11, 0, 0};
	static uint8_t frame[RL_WIRE_MAX_FRAME - 4];

	nnews = 0;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	RL_REQUIRE(rl_loop_create(&l) == RL_OK);
	c.loop = l;
	RL_REQUIRE(rl_srv_open(&s, &c) == RL_OK);
	RL_REQUIRE(rl_srv_listen(s, url, NULL) == RL_OK);

	/* not SP at all; SP, then a frame announced far past the bound */
	cut_off(port, "GET / HTTP/1.1\r\n\r\n", 18);
	RL_CHECK(pump(l, s, &r, 3000, gone_at_least, 1));
	cut_off(port, "\0SP\0\0\x11\0\0\0\0\0\0\0\x10\0\0", 16);
	RL_CHECK(pump(l, s, &r, 3000, gone_at_least, 2));

	/* a frame with too many hops is dropped, the next one is taken; a hop count over 255
	 * (pair1's malformed) ends the pipe */
	RL_REQUIRE((fd = raw_connect(port, 0)) >= 0);
	RL_CHECK(write(fd, sp, 8) == 8);
	RL_CHECK(write(fd, "\0\0\0\0\0\0\0\x06\0\0\0\x09\x08\x01", 14) == 14);
	RL_CHECK(write(fd, "\0\0\0\0\0\0\0\x06\0\0\0\x01\x08\x02", 14) == 14);
	RL_CHECK(pump(l, s, &r, 3000, msgs_at_least, 1));
	RL_CHECK(r.msgs == 1 && r.last_len == 2);
	RL_CHECK(write(fd, "\0\0\0\0\0\0\0\x06\0\0\x01\x00\x08\x02", 14) == 14);
	RL_CHECK(closed_by_peer(fd, 3000));
	close(fd);
	RL_CHECK(pump(l, s, &r, 3000, gone_at_least, 3));

	/* a peer that never reads: its backlog fills, sends are refused and counted */
	RL_REQUIRE((fd = raw_connect(port, 4096)) >= 0);
	RL_CHECK(write(fd, sp, 8) == 8);
	RL_REQUIRE(wait_news(4));
	{
		int rv = RL_OK, sends = 0;
		while (rv == RL_OK && sends < 10000) {
			rv = rl_srv_send(s, news[3], frame, sizeof(frame));
			sends++;
			if (rv == RL_OK && sends % 16 == 0)
				nng_msleep(5); /* let the socket's buffers fill */
		}
		RL_CHECK(rv == RL_EAGAIN);
		printf("backlog full after %d frames of %zu bytes\n", sends - 1, sizeof(frame));
	}
	close(fd);
	RL_CHECK(pump(l, s, &r, 3000, gone_at_least, 4));

	rl_srv_counters(s, &k);
	printf("accepted %llu closed %llu bad_header %llu oversized %llu malformed %llu send_drops %llu\n",
	       (unsigned long long)k.accepted, (unsigned long long)k.closed, (unsigned long long)k.bad_header,
	       (unsigned long long)k.oversized, (unsigned long long)k.malformed, (unsigned long long)k.send_drops);
	RL_CHECK(k.accepted == 4 && k.closed == 4);
	RL_CHECK(k.bad_header == 1 && k.oversized == 1 && k.malformed == 1 && k.send_drops >= 1);
	rl_srv_close(s);
	rl_loop_destroy(l);
}

/* resets: the owner sends to pipes whose peers reset them meanwhile; its sends and the I/O
 * thread both see each end, and whichever comes first, the other must not touch a freed pipe.
 * Every send is answered and every pipe reported gone; the window in which a send and the
 * I/O thread end the same pipe is narrow, so AddressSanitizer sees a freed pipe touched only
 * now and then here (test_failover met it under load before senders held their pipes). */
static void resets(void)
{
	struct rl_loop *l;
	struct rl_srv *s;
	struct rl_srv_conf c = {.tag_msg = TAG_MSG, .tag_gone = TAG_GONE};
	struct rx r = {0};
	int port = rltest_free_port(), n = 200;
	char url[64];
	static const uint8_t sp[8] = {0, 'S', 'P', 0, 0, 0x11, 0, 0};
	static const uint8_t frame[512];

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	RL_REQUIRE(rl_loop_create(&l) == RL_OK);
	c.loop = l;
	RL_REQUIRE(rl_srv_open(&s, &c) == RL_OK);
	RL_REQUIRE(rl_srv_listen(s, url, NULL) == RL_OK);
	for (int i = 0; i < n; i++) {
		struct linger lg = {1, 0}; /* close sends a reset */
		struct rl_srv_counters k = {0};
		int fd = raw_connect(port, 0), rv = RL_OK;
		uint64_t until = rl_mono_us() + 2000000u;
		RL_REQUIRE(fd >= 0);
		RL_CHECK(write(fd, sp, 8) == 8);
		while (k.accepted < (uint64_t)i + 1 && rl_mono_us() < until)
			rl_srv_counters(s, &k); /* pipes are numbered as accepted: this one is i + 1 */
		RL_REQUIRE(k.accepted == (uint64_t)i + 1);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		while ((rv = rl_srv_send(s, (uint32_t)i + 1, frame, sizeof(frame))) != RL_ENOENT &&
		       rl_mono_us() < until)
			RL_CHECK(rv == RL_OK || rv == RL_EAGAIN);
		RL_CHECK(rv == RL_ENOENT);
	}
	RL_CHECK(pump(l, s, &r, 5000, gone_at_least, (unsigned)n));
	rl_srv_close(s);
	rl_loop_destroy(l);
}

static int never_greeted(void *arg, uint32_t pipe)
{
	(void)arg;
	(void)pipe;
	return 0;
}

/* silent: with hello_ms, a pipe that says nothing is closed by the owner's sweep once its time
 * is up - not before - and counted */
static void silent(void)
{
	struct rl_loop *l;
	struct rl_srv *s;
	struct rl_srv_conf c = {.tag_msg = TAG_MSG, .tag_gone = TAG_GONE, .hello_ms = 1000};
	struct rx r = {0};
	int port = rltest_free_port(), fd;
	char url[64];

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	RL_REQUIRE(rl_loop_create(&l) == RL_OK);
	c.loop = l;
	RL_REQUIRE(rl_srv_open(&s, &c) == RL_OK && rl_srv_greet(s) != NULL);
	RL_REQUIRE(rl_srv_listen(s, url, NULL) == RL_OK);
	RL_REQUIRE((fd = raw_connect(port, 0)) >= 0);
	RL_CHECK(rl_greet_sweep(rl_srv_greet(s), rl_mono_us(), never_greeted, NULL) == 0);
	nng_msleep(1100);
	RL_CHECK(rl_greet_sweep(rl_srv_greet(s), rl_mono_us(), never_greeted, NULL) == 1);
	RL_CHECK(rl_greet_closed(rl_srv_greet(s)) == 1);
	RL_CHECK(closed_by_peer(fd, 3000));
	RL_CHECK(pump(l, s, &r, 3000, gone_at_least, 1));
	close(fd);
	rl_srv_close(s);
	rl_loop_destroy(l);
}

/* flood: more frames than the loop's inbox holds; reading pauses and resumes, none lost */
static void flood(void)
{
	struct rl_loop *l;
	struct rl_srv *s;
	struct rl_srv_conf c = {.tag_msg = TAG_MSG, .tag_gone = TAG_GONE, .on_new = on_new};
	struct rx r = {0};
	char url[64];
	nng_socket cl;
	struct rl_bundler *b;
	const unsigned per = 4000, bundles = 40;

	nnews = 0;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", rltest_free_port());
	RL_REQUIRE(rl_loop_create(&l) == RL_OK);
	c.loop = l;
	RL_REQUIRE(rl_srv_open(&s, &c) == RL_OK);
	RL_REQUIRE(rl_srv_listen(s, url, NULL) == RL_OK);
	RL_REQUIRE(rl_link_client_open(&cl) == RL_OK);
	RL_REQUIRE(rl_link_dial(cl, url, NULL, NULL) == RL_OK);
	RL_REQUIRE(wait_news(1));
	RL_REQUIRE(rl_bundler_create(&b) == RL_OK);
	for (unsigned i = 0; i < bundles; i++) {
		for (unsigned k = 0; k < per; k++)
			rl_bundler_add(b, 0, (const uint8_t *)"\x08\x01", 2);
		RL_CHECK(rl_bundler_flush(b, cl) == 0);
		nng_msleep(2); /* the client's own queue is 1,024 messages: no need to race it */
	}
	rl_bundler_destroy(b);
	nng_msleep(500); /* the server reads until its inbox is nearly full, then stops */
	RL_CHECK(pump(l, s, &r, 10000, msgs_at_least, per * bundles));
	printf("flood: %u of %u frames\n", r.msgs, per * bundles);
	RL_CHECK(r.msgs == per * bundles);
	rl_link_close(cl, 2000);
	rl_srv_close(s);
	rl_loop_destroy(l);
}

/* tls_refused: a client of another CA never gets a frame through; its handshakes are counted */
static void tls_refused(const char *url, const struct rl_tls *stls, const struct rl_tls *bad)
{
	struct rl_loop *l;
	struct rl_srv *s;
	struct rl_srv_conf c = {.tag_msg = TAG_MSG, .tag_gone = TAG_GONE};
	struct rx r = {0};
	nng_socket cl;

	RL_REQUIRE(rl_loop_create(&l) == RL_OK);
	c.loop = l;
	RL_REQUIRE(rl_srv_open(&s, &c) == RL_OK);
	RL_REQUIRE(rl_srv_listen(s, url, stls) == RL_OK);
	RL_REQUIRE(rl_link_client_open(&cl) == RL_OK);
	RL_REQUIRE(rl_link_dial(cl, url, bad, NULL) == RL_OK);
	(void)rl_link_send_bytes(cl, 0, "\x08\x01", 2);
	RL_CHECK(!pump(l, s, &r, 1500, msgs_at_least, 1));
	struct rl_srv_counters k;
	rl_srv_counters(s, &k);
	/* refused by this end (tls_failed) or by the client, which rejects the server's
	 * certificate first and leaves (a reset in the handshake): counted either way */
	RL_CHECK(k.accepted >= 1 && k.tls_failed + k.resets >= 1);
	rl_link_close(cl, 2000);
	rl_srv_close(s);
	rl_loop_destroy(l);
}

/* tls_broken: a client with a certificate of the CA completes its handshake, then writes an
 * application-data record whose authentication fails: the server cuts it off and counts it */
static void tls_broken(int port, const struct rl_tls *stls, const struct rl_tls *ctls)
{
	struct rl_loop *l;
	struct rl_srv *s;
	struct rl_srv_conf c = {.tag_msg = TAG_MSG, .tag_gone = TAG_GONE};
	struct rl_srv_counters k;
	struct rx r = {0};
	char url[64];
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_x509_crt ca, cert;
	mbedtls_pk_context key;
	mbedtls_net_context net = {.fd = -1};
	int rc;
	static const uint8_t junk[] = {0x17, 0x03, 0x03, 0x00, 0x20, 'n', 'o', 't', ' ', 'a', ' ', 'r', 'e',
	                               'c',  'o',  'r',  'd',  ' ',  'o', 'f', ' ', 't', 'h', 'i', 's', ' ',
	                               's',  'e',  's',  's',  'i',  'o', 'n', '!', '!', '!', '!'};

	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	RL_REQUIRE(rl_loop_create(&l) == RL_OK);
	c.loop = l;
	RL_REQUIRE(rl_srv_open(&s, &c) == RL_OK);
	RL_REQUIRE(rl_srv_listen(s, url, stls) == RL_OK);

	mbedtls_entropy_init(&ent);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_ssl_config_init(&conf);
	mbedtls_ssl_init(&ssl);
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crt_init(&cert);
	mbedtls_pk_init(&key);
	RL_REQUIRE(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0) == 0);
	RL_REQUIRE(mbedtls_x509_crt_parse_file(&ca, ctls->ca_file) == 0);
	RL_REQUIRE(mbedtls_x509_crt_parse_file(&cert, ctls->cert_file) == 0);
	RL_REQUIRE(mbedtls_pk_parse_keyfile(&key, ctls->key_file, NULL) == 0);
	RL_REQUIRE(mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
	                                       MBEDTLS_SSL_PRESET_DEFAULT) == 0);
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
	RL_REQUIRE(mbedtls_ssl_conf_own_cert(&conf, &cert, &key) == 0);
	RL_REQUIRE(mbedtls_ssl_setup(&ssl, &conf) == 0);
	RL_REQUIRE(mbedtls_ssl_set_hostname(&ssl, "relais") == 0);
	RL_REQUIRE((net.fd = raw_connect(port, 0)) >= 0);
	mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
	while ((rc = mbedtls_ssl_handshake(&ssl)) == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		;
	RL_CHECK(rc == 0);
	/* our SP header, properly: the server is past its handshake */
	RL_CHECK(mbedtls_ssl_write(&ssl, (const unsigned char *)"\0SP\0\0\x11\0\0", 8) == 8);
	RL_CHECK(write(net.fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
	RL_CHECK(closed_by_peer(net.fd, 3000));
	RL_CHECK(pump(l, s, &r, 3000, gone_at_least, 1));
	rl_srv_counters(s, &k);
	RL_CHECK(k.accepted == 1 && k.tls_failed == 1 && r.msgs == 0);

	mbedtls_net_free(&net);
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_x509_crt_free(&ca);
	mbedtls_x509_crt_free(&cert);
	mbedtls_pk_free(&key);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&ent);
	rl_srv_close(s);
	rl_loop_destroy(l);
}

int main(void)
{
	char url[128];
	static struct rltest_certs mine, other;

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", rltest_free_port());
	exchange(url, NULL, NULL);
	hostile();
	resets();
	silent();
	flood();

	RL_REQUIRE(rltest_certs("certs", &mine) == 0 && rltest_certs("othercerts", &other) == 0);
	struct rl_tls stls = {mine.ca, mine.hub, mine.hub_key, NULL};
	struct rl_tls ctls = {mine.ca, mine.agent, mine.agent_key, NULL};
	struct rl_tls foreign = {other.ca, other.agent, other.agent_key, NULL}; /* another CA */
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", rltest_free_port());
	exchange(url, &stls, &ctls);
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", rltest_free_port());
	tls_refused(url, &stls, &foreign);
	tls_broken(rltest_free_port(), &stls, &ctls);
	return rltest_done();
}
