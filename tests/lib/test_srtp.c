/* SRTP over libsrtp2: round trips for both suites, and hostile packets are refused with the
 * right code without reading or writing out of bounds (run under ASan). */
#include <stdlib.h>
#include <string.h>

#include "rl_err.h"
#include "rl_srtp.h"
#include "rltest.h"

#define BUF   1600
#define GUARD 0xA5

static const int suites[] = {RL_SRTP_AEAD_AES_128_GCM, RL_SRTP_AES_CM_128_HMAC_SHA1_80};

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	/* xorshift32: deterministic, so a failure reproduces. */
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static size_t tag_len(int suite)
{
	return suite == RL_SRTP_AEAD_AES_128_GCM ? 16 : 10;
}

/* make_rtp writes an RTP packet (PT 111) with pay payload bytes; returns its length. */
static size_t make_rtp(uint8_t *b, uint16_t seq, uint32_t ssrc, size_t pay)
{
	uint32_t ts = (uint32_t)seq * 960;

	b[0] = 0x80;
	b[1] = 111;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	b[4] = (uint8_t)(ts >> 24);
	b[5] = (uint8_t)(ts >> 16);
	b[6] = (uint8_t)(ts >> 8);
	b[7] = (uint8_t)ts;
	b[8] = (uint8_t)(ssrc >> 24);
	b[9] = (uint8_t)(ssrc >> 16);
	b[10] = (uint8_t)(ssrc >> 8);
	b[11] = (uint8_t)ssrc;
	for (size_t i = 0; i < pay; i++)
		b[12 + i] = (uint8_t)(rnd() >> 7);
	return 12 + pay;
}

/* make_rtcp writes a sender report with one report block (52 bytes). */
static size_t make_rtcp(uint8_t *b, uint32_t ssrc)
{
	memset(b, 0, 52);
	b[0] = 0x81; /* V=2, RC=1 */
	b[1] = 200;  /* SR */
	b[3] = 12;   /* length in words - 1 */
	b[4] = (uint8_t)(ssrc >> 24);
	b[5] = (uint8_t)(ssrc >> 16);
	b[6] = (uint8_t)(ssrc >> 8);
	b[7] = (uint8_t)ssrc;
	for (int i = 8; i < 52; i++)
		b[i] = (uint8_t)(rnd() >> 11);
	return 52;
}

struct pair {
	struct rl_srtp *tx, *rx;
};

static void pair_open(struct pair *p, int suite, const uint8_t *key)
{
	size_t n = rl_srtp_key_len(suite);

	RL_REQUIRE(rl_srtp_open(&p->tx, suite, key, n, 1) == RL_OK);
	RL_REQUIRE(rl_srtp_open(&p->rx, suite, key, n, 0) == RL_OK);
}

static void pair_close(struct pair *p)
{
	rl_srtp_close(p->tx);
	rl_srtp_close(p->rx);
}

static void keygen(void)
{
	uint8_t a[RL_SRTP_KEY_MAX + 4], b[RL_SRTP_KEY_MAX + 4], zero[RL_SRTP_KEY_MAX] = {0};

	RL_CHECK(rl_srtp_key_len(RL_SRTP_AEAD_AES_128_GCM) == 28);
	RL_CHECK(rl_srtp_key_len(RL_SRTP_AES_CM_128_HMAC_SHA1_80) == 30);
	RL_CHECK(rl_srtp_key_len(0) == 0);
	RL_CHECK(rl_srtp_key_len(99) == 0);
	RL_CHECK(strcmp(rl_srtp_suite_name(RL_SRTP_AEAD_AES_128_GCM), "AEAD_AES_128_GCM") == 0);
	RL_CHECK(strcmp(rl_srtp_suite_name(RL_SRTP_AES_CM_128_HMAC_SHA1_80), "AES_CM_128_HMAC_SHA1_80") == 0);
	RL_CHECK(strcmp(rl_srtp_suite_name(7), "?") == 0);

	for (size_t i = 0; i < 2; i++) {
		int suite = suites[i];
		size_t n = rl_srtp_key_len(suite);

		/* Exactly n bytes are written, fresh each call. */
		memset(a, GUARD, sizeof(a));
		memset(b, GUARD, sizeof(b));
		RL_CHECK(rl_srtp_keygen(suite, a, sizeof(a)) == RL_OK);
		RL_CHECK(rl_srtp_keygen(suite, b, n) == RL_OK);
		RL_CHECK(memcmp(a, b, n) != 0);
		RL_CHECK(memcmp(a, zero, n) != 0);
		RL_CHECK(a[n] == GUARD && b[n] == GUARD);
		RL_CHECK(rl_srtp_keygen(suite, a, n - 1) == RL_EINVAL);
	}
	RL_CHECK(rl_srtp_keygen(0, a, sizeof(a)) == RL_EINVAL);

	/* Many keys, none repeated (a stuck generator would show here). */
	static uint8_t many[64][30];
	unsigned dup = 0;
	for (int i = 0; i < 64; i++)
		RL_CHECK(rl_srtp_keygen(RL_SRTP_AES_CM_128_HMAC_SHA1_80, many[i], 30) == RL_OK);
	for (int i = 0; i < 64; i++)
		for (int j = i + 1; j < 64; j++)
			dup += memcmp(many[i], many[j], 30) == 0;
	RL_CHECK(dup == 0);
}

static void open_errors(void)
{
	uint8_t key[RL_SRTP_KEY_MAX];
	struct rl_srtp *s = (struct rl_srtp *)1;

	RL_REQUIRE(rl_srtp_keygen(RL_SRTP_AES_CM_128_HMAC_SHA1_80, key, sizeof(key)) == RL_OK);
	RL_CHECK(rl_srtp_open(&s, RL_SRTP_AES_CM_128_HMAC_SHA1_80, key, 29, 1) == RL_EINVAL);
	RL_CHECK(s == NULL);
	RL_CHECK(rl_srtp_open(&s, RL_SRTP_AEAD_AES_128_GCM, key, 30, 1) == RL_EINVAL);
	RL_CHECK(rl_srtp_open(&s, 3, key, 30, 1) == RL_EINVAL);
	RL_CHECK(rl_srtp_open(&s, RL_SRTP_AEAD_AES_128_GCM, NULL, 28, 1) == RL_EINVAL);
	rl_srtp_close(NULL);
}

/* Many packets of varying sizes, through both the in-place and the tight-cap path. */
static void roundtrip(int suite)
{
	uint8_t key[RL_SRTP_KEY_MAX], buf[BUF], plain[BUF];
	struct pair p;
	unsigned bad_rt = 0, bad_len = 0, same = 0, hdr = 0, guard = 0, fails = 0;

	RL_REQUIRE(rl_srtp_keygen(suite, key, sizeof(key)) == RL_OK);
	pair_open(&p, suite, key);
	for (unsigned i = 0; i < 2000; i++) {
		size_t pay = i % 50 == 0 ? 0 : (i * 37u) % 1300 + 1;
		size_t len = make_rtp(buf, (uint16_t)(65000 + i), 0x11223344, pay), n = len;
		/* Odd packets: cap exactly as the header asks; even: the whole buffer. */
		size_t cap = i % 2 ? len + RL_SRTP_OVERHEAD : sizeof(buf);

		memcpy(plain, buf, len);
		memset(buf + len, GUARD, sizeof(buf) - len);
		if (rl_srtp_protect(p.tx, buf, &n, cap) != RL_OK) {
			fails++;
			continue;
		}
		if (n != len + tag_len(suite))
			bad_len++;
		if (memcmp(buf, plain, 12) != 0)
			hdr++; /* the header travels in clear */
		if (pay >= 4 && memcmp(buf + 12, plain + 12, pay) == 0)
			same++;
		for (size_t j = cap; j < sizeof(buf); j++)
			if (buf[j] != GUARD) {
				guard++;
				break;
			}
		if (rl_srtp_unprotect(p.rx, buf, &n) != RL_OK) {
			fails++;
			continue;
		}
		if (n != len || memcmp(buf, plain, len) != 0)
			bad_rt++;
	}
	RL_CHECK(fails == 0);
	RL_CHECK(bad_len == 0);
	RL_CHECK(hdr == 0);
	RL_CHECK(same == 0);
	RL_CHECK(guard == 0);
	RL_CHECK(bad_rt == 0);

	/* The sequence number wrapped (65000 + 2000): the rollover counter followed. */
	size_t n = make_rtp(buf, (uint16_t)(65000u + 2000u), 0x11223344, 80);
	RL_CHECK(rl_srtp_protect(p.tx, buf, &n, sizeof(buf)) == RL_OK);
	RL_CHECK(rl_srtp_unprotect(p.rx, buf, &n) == RL_OK && n == 92);

	/* Wrong direction. */
	n = make_rtp(buf, 1001, 0x11223344, 80);
	RL_CHECK(rl_srtp_unprotect(p.tx, buf, &n) == RL_EINVAL);
	RL_CHECK(rl_srtp_protect(p.rx, buf, &n, sizeof(buf)) == RL_EINVAL);
	pair_close(&p);
}

static void wrong_key(int suite)
{
	uint8_t k1[RL_SRTP_KEY_MAX], k2[RL_SRTP_KEY_MAX], buf[BUF];
	struct rl_srtp *tx, *rx;
	size_t n;

	rl_srtp_keygen(suite, k1, sizeof(k1));
	memcpy(k2, k1, sizeof(k2));
	k2[3] ^= 0x01; /* one bit off */
	RL_REQUIRE(rl_srtp_open(&tx, suite, k1, rl_srtp_key_len(suite), 1) == RL_OK);
	RL_REQUIRE(rl_srtp_open(&rx, suite, k2, rl_srtp_key_len(suite), 0) == RL_OK);
	for (int i = 0; i < 5; i++) {
		n = make_rtp(buf, (uint16_t)(7 + i), 42, 80);
		RL_CHECK(rl_srtp_protect(tx, buf, &n, sizeof(buf)) == RL_OK);
		RL_CHECK(rl_srtp_unprotect(rx, buf, &n) == RL_EAUTH);
	}
	/* The salt matters too. */
	rl_srtp_close(rx);
	memcpy(k2, k1, sizeof(k2));
	k2[rl_srtp_key_len(suite) - 1] ^= 0x80;
	RL_REQUIRE(rl_srtp_open(&rx, suite, k2, rl_srtp_key_len(suite), 0) == RL_OK);
	n = make_rtp(buf, 20, 42, 80);
	RL_CHECK(rl_srtp_protect(tx, buf, &n, sizeof(buf)) == RL_OK);
	RL_CHECK(rl_srtp_unprotect(rx, buf, &n) == RL_EAUTH);
	rl_srtp_close(tx);
	rl_srtp_close(rx);
}

/* Tampering anywhere (header, payload, tag) fails authentication, and the failed packet
 * leaves no trace: the genuine one is still accepted afterwards. */
static void tampered(int suite)
{
	uint8_t key[RL_SRTP_KEY_MAX], buf[BUF], sealed[BUF];
	struct pair p;
	size_t n, len;
	unsigned wrong = 0;

	rl_srtp_keygen(suite, key, sizeof(key));
	pair_open(&p, suite, key);
	len = make_rtp(buf, 500, 0xCAFE, 80);
	RL_REQUIRE(rl_srtp_protect(p.tx, buf, &len, sizeof(buf)) == RL_OK);
	memcpy(sealed, buf, len);
	for (size_t i = 1; i < len; i++) {
		if (i == 8 || i == 9 || i == 10 || i == 11)
			continue; /* another SSRC is another stream: checked below */
		memcpy(buf, sealed, len);
		buf[i] ^= (uint8_t)(1u << (i % 8));
		n = len;
		if (rl_srtp_unprotect(p.rx, buf, &n) != RL_EAUTH)
			wrong++;
	}
	RL_CHECK(wrong == 0);
	/* Changed SSRC: authenticated too. */
	memcpy(buf, sealed, len);
	buf[11] ^= 1;
	n = len;
	RL_CHECK(rl_srtp_unprotect(p.rx, buf, &n) == RL_EAUTH);
	/* The genuine packet still goes through, once. */
	memcpy(buf, sealed, len);
	n = len;
	RL_CHECK(rl_srtp_unprotect(p.rx, buf, &n) == RL_OK && n == 92);
	pair_close(&p);
}

static void replay(int suite)
{
	uint8_t key[RL_SRTP_KEY_MAX], buf[BUF], first[BUF], old[BUF];
	struct pair p;
	size_t n, flen, olen;

	rl_srtp_keygen(suite, key, sizeof(key));
	pair_open(&p, suite, key);

	flen = make_rtp(first, 100, 7, 60);
	RL_REQUIRE(rl_srtp_protect(p.tx, first, &flen, sizeof(first)) == RL_OK);
	memcpy(buf, first, flen);
	n = flen;
	RL_CHECK(rl_srtp_unprotect(p.rx, buf, &n) == RL_OK);
	memcpy(buf, first, flen);
	n = flen;
	RL_CHECK(rl_srtp_unprotect(p.rx, buf, &n) == RL_EEXIST);

	/* Protecting the same sequence number twice is refused (no GCM nonce reuse). */
	n = make_rtp(buf, 100, 7, 60);
	RL_CHECK(rl_srtp_protect(p.tx, buf, &n, sizeof(buf)) == RL_EEXIST);

	/* Out of order within the window is fine; far behind it is "too old". */
	olen = make_rtp(old, 101, 7, 60);
	RL_REQUIRE(rl_srtp_protect(p.tx, old, &olen, sizeof(old)) == RL_OK);
	uint8_t late[BUF];
	size_t ln = 0;
	for (uint16_t s = 102; s < 102 + 300; s++) {
		n = make_rtp(buf, s, 7, 60);
		RL_REQUIRE(rl_srtp_protect(p.tx, buf, &n, sizeof(buf)) == RL_OK);
		if (s == 105) {
			memcpy(late, buf, n); /* held back: arrives after 110 */
			ln = n;
			continue;
		}
		RL_CHECK(rl_srtp_unprotect(p.rx, buf, &n) == RL_OK);
		if (s == 110)
			RL_CHECK(rl_srtp_unprotect(p.rx, late, &ln) == RL_OK && ln == 72);
	}
	memcpy(buf, old, olen);
	n = olen;
	RL_CHECK(rl_srtp_unprotect(p.rx, buf, &n) == RL_EEXIST);
	pair_close(&p);

	/* Reordering inside the window. */
	pair_open(&p, suite, key);
	uint8_t pk[8][BUF];
	size_t pl[8];
	for (int i = 0; i < 8; i++) {
		pl[i] = make_rtp(pk[i], (uint16_t)(9000 + i), 8, 40);
		RL_REQUIRE(rl_srtp_protect(p.tx, pk[i], &pl[i], BUF) == RL_OK);
	}
	static const int order[8] = {0, 2, 1, 5, 3, 4, 7, 6};
	for (int i = 0; i < 8; i++)
		RL_CHECK(rl_srtp_unprotect(p.rx, pk[order[i]], &pl[order[i]]) == RL_OK);
	pair_close(&p);
}

static void hostile(int suite)
{
	uint8_t key[RL_SRTP_KEY_MAX], sealed[BUF];
	struct pair p;
	size_t len, n;
	unsigned accepted = 0;

	rl_srtp_keygen(suite, key, sizeof(key));
	pair_open(&p, suite, key);
	len = make_rtp(sealed, 3000, 99, 80);
	RL_REQUIRE(rl_srtp_protect(p.tx, sealed, &len, sizeof(sealed)) == RL_OK);

	/* Every truncation, each in a heap buffer of exactly that size so ASan sees overreads. */
	for (size_t t = 0; t < len; t++) {
		uint8_t *b = malloc(t ? t : 1);
		memcpy(b, sealed, t);
		n = t;
		if (rl_srtp_unprotect(p.rx, b, &n) == RL_OK)
			accepted++;
		n = t;
		if (rl_srtp_unprotect_rtcp(p.rx, b, &n) == RL_OK)
			accepted++;
		free(b);
	}
	RL_CHECK(accepted == 0);
	n = 0;
	RL_CHECK(rl_srtp_unprotect(p.rx, sealed, &n) == RL_EINVAL);
	n = 11;
	RL_CHECK(rl_srtp_unprotect(p.rx, sealed, &n) == RL_EINVAL);

	/* Garbage: random bytes, half of them with a plausible RTP/RTCP first byte, with CSRC
	 * counts and extension lengths pointing anywhere. */
	for (int i = 0; i < 5000; i++) {
		size_t gl = rnd() % 200;
		uint8_t *b = malloc(gl ? gl : 1);
		for (size_t j = 0; j < gl; j++)
			b[j] = (uint8_t)rnd();
		if (gl > 0 && i % 2)
			b[0] = (uint8_t)(0x80 | (b[0] & 0x3f));
		if (gl > 1 && i % 4 == 3)
			b[1] = (uint8_t)(200 + b[1] % 8);
		n = gl;
		if (rl_srtp_unprotect(p.rx, b, &n) == RL_OK)
			accepted++;
		n = gl;
		if (rl_srtp_unprotect_rtcp(p.rx, b, &n) == RL_OK)
			accepted++;
		free(b);
	}
	RL_CHECK(accepted == 0);

	/* Not RTP on the send side. */
	uint8_t b[BUF];
	n = make_rtp(b, 1, 1, 20);
	b[0] = 0x40; /* version 1 */
	RL_CHECK(rl_srtp_protect(p.tx, b, &n, sizeof(b)) == RL_EINVAL);
	n = 11;
	b[0] = 0x80;
	RL_CHECK(rl_srtp_protect(p.tx, b, &n, sizeof(b)) == RL_EINVAL);
	n = make_rtp(b, 1, 1, 20);
	b[0] = 0x8f; /* 15 CSRCs claimed, 20 bytes of payload */
	RL_CHECK(rl_srtp_protect(p.tx, b, &n, sizeof(b)) == RL_EINVAL);
	n = make_rtp(b, 1, 1, 20);
	b[0] = 0x90; /* extension header claiming 0xffff words */
	b[14] = 0xff;
	b[15] = 0xff;
	RL_CHECK(rl_srtp_protect(p.tx, b, &n, sizeof(b)) == RL_EINVAL);
	pair_close(&p);
}

/* A cap one byte short is refused and the buffer, in and past cap, is left as it was. */
static void tight_cap(int suite)
{
	uint8_t key[RL_SRTP_KEY_MAX];
	struct pair p;

	rl_srtp_keygen(suite, key, sizeof(key));
	pair_open(&p, suite, key);
	for (size_t pay = 0; pay < 200; pay += 13) {
		size_t len = 12 + pay, cap = len + RL_SRTP_OVERHEAD - 1, n = len;
		/* Exactly cap bytes on the heap: a write past it is an ASan error. */
		uint8_t *b = malloc(cap), *copy = malloc(cap);
		make_rtp(b, (uint16_t)pay, 5, pay);
		memset(b + len, GUARD, cap - len);
		memcpy(copy, b, cap);
		RL_CHECK(rl_srtp_protect(p.tx, b, &n, cap) == RL_EINVAL);
		RL_CHECK(n == len && memcmp(b, copy, cap) == 0);
		RL_CHECK(rl_srtp_protect(p.tx, b, &n, len) == RL_EINVAL);
		RL_CHECK(rl_srtp_protect(p.tx, b, &n, 0) == RL_EINVAL);
		free(b);
		free(copy);

		/* And exactly the documented cap works, in a buffer of exactly that size. */
		cap = len + RL_SRTP_OVERHEAD;
		b = malloc(cap);
		make_rtp(b, (uint16_t)(pay + 1000), 5, pay);
		RL_CHECK(rl_srtp_protect(p.tx, b, &n, cap) == RL_OK);
		RL_CHECK(n == len + tag_len(suite));
		RL_CHECK(rl_srtp_unprotect(p.rx, b, &n) == RL_OK && n == len);
		free(b);
	}
	/* RTCP: the same with RL_SRTCP_OVERHEAD. */
	{
		size_t len = 52, cap = len + RL_SRTCP_OVERHEAD - 1, n = len;
		uint8_t *b = malloc(cap), *copy = malloc(cap);
		make_rtcp(b, 5);
		memset(b + len, GUARD, cap - len);
		memcpy(copy, b, cap);
		RL_CHECK(rl_srtp_protect_rtcp(p.tx, b, &n, cap) == RL_EINVAL);
		RL_CHECK(n == len && memcmp(b, copy, cap) == 0);
		free(b);
		free(copy);
		cap = len + RL_SRTCP_OVERHEAD;
		b = malloc(cap);
		make_rtcp(b, 5);
		RL_CHECK(rl_srtp_protect_rtcp(p.tx, b, &n, cap) == RL_OK);
		RL_CHECK(n == len + 4 + tag_len(suite));
		RL_CHECK(rl_srtp_unprotect_rtcp(p.rx, b, &n) == RL_OK && n == len);
		free(b);
	}
	pair_close(&p);
}

static void rtcp(int suite)
{
	uint8_t key[RL_SRTP_KEY_MAX], buf[BUF], plain[BUF], sealed[BUF];
	struct pair p;
	size_t len, n, slen;
	unsigned bad = 0;

	rl_srtp_keygen(suite, key, sizeof(key));
	pair_open(&p, suite, key);
	for (int i = 0; i < 200; i++) {
		len = make_rtcp(buf, 0xABCD);
		memcpy(plain, buf, len);
		n = len;
		if (rl_srtp_protect_rtcp(p.tx, buf, &n, i % 2 ? len + RL_SRTCP_OVERHEAD : sizeof(buf)) != RL_OK ||
		    n != len + 4 + tag_len(suite) || memcmp(buf, plain, 8) != 0 ||
		    memcmp(buf + 8, plain + 8, len - 8) == 0) {
			bad++;
			continue;
		}
		if (rl_srtp_unprotect_rtcp(p.rx, buf, &n) != RL_OK || n != len || memcmp(buf, plain, len) != 0)
			bad++;
	}
	RL_CHECK(bad == 0);

	/* Replay, tamper, and RTCP is not RTP. */
	len = make_rtcp(buf, 0xABCD);
	RL_REQUIRE(rl_srtp_protect_rtcp(p.tx, buf, &len, sizeof(buf)) == RL_OK);
	memcpy(sealed, buf, len);
	slen = len;
	n = slen;
	RL_CHECK(rl_srtp_unprotect_rtcp(p.rx, buf, &n) == RL_OK);
	memcpy(buf, sealed, slen);
	n = slen;
	RL_CHECK(rl_srtp_unprotect_rtcp(p.rx, buf, &n) == RL_EEXIST);
	len = make_rtcp(buf, 0xABCD);
	RL_REQUIRE(rl_srtp_protect_rtcp(p.tx, buf, &len, sizeof(buf)) == RL_OK);
	memcpy(sealed, buf, len);
	buf[20] ^= 0x10;
	n = len;
	RL_CHECK(rl_srtp_unprotect_rtcp(p.rx, buf, &n) == RL_EAUTH);
	memcpy(buf, sealed, len); /* a failed unprotect may leave the buffer scrambled */
	n = len;
	RL_CHECK(rl_srtp_unprotect_rtcp(p.rx, buf, &n) == RL_OK);
	n = 4;
	RL_CHECK(rl_srtp_protect_rtcp(p.tx, buf, &n, sizeof(buf)) == RL_EINVAL);
	pair_close(&p);
}

/* Two calls side by side: each context only understands its own key. */
static void independent(int suite)
{
	uint8_t ka[RL_SRTP_KEY_MAX], kb[RL_SRTP_KEY_MAX], x[BUF], y[BUF], px[BUF];
	struct pair a, b;
	size_t nx, ny;
	unsigned bad = 0;

	rl_srtp_keygen(suite, ka, sizeof(ka));
	rl_srtp_keygen(suite, kb, sizeof(kb));
	pair_open(&a, suite, ka);
	pair_open(&b, suite, kb);
	for (int i = 0; i < 100; i++) {
		/* The same plaintext through both senders: different ciphertext. */
		nx = make_rtp(x, (uint16_t)i, 1234, 80);
		memcpy(y, x, nx);
		memcpy(px, x, nx);
		ny = nx;
		if (rl_srtp_protect(a.tx, x, &nx, sizeof(x)) != RL_OK ||
		    rl_srtp_protect(b.tx, y, &ny, sizeof(y)) != RL_OK) {
			bad++;
			continue;
		}
		if (memcmp(x + 12, y + 12, nx - 12) == 0)
			bad++;
		if (i % 10 == 0) {
			/* Crossed over: refused, and without disturbing the right receiver. */
			uint8_t t[BUF];
			size_t nt = nx;
			memcpy(t, x, nx);
			if (rl_srtp_unprotect(b.rx, t, &nt) != RL_EAUTH)
				bad++;
		}
		if (rl_srtp_unprotect(a.rx, x, &nx) != RL_OK || memcmp(x, px, nx) != 0)
			bad++;
		if (rl_srtp_unprotect(b.rx, y, &ny) != RL_OK || memcmp(y, px, ny) != 0)
			bad++;
	}
	RL_CHECK(bad == 0);
	pair_close(&a);
	pair_close(&b);
}

int main(void)
{
	keygen();
	open_errors();
	for (size_t i = 0; i < 2; i++) {
		roundtrip(suites[i]);
		wrong_key(suites[i]);
		tampered(suites[i]);
		replay(suites[i]);
		hostile(suites[i]);
		tight_cap(suites[i]);
		rtcp(suites[i]);
		independent(suites[i]);
	}
	return rltest_done();
}
