/*
 * rl_latch: the latch packet's format against a known HMAC-SHA-256 answer, the MAC over every
 * byte it covers, the parser's refusals, and the sender's counter and schedule.
 */
#include <string.h>

#include "rl_err.h"
#include "rl_latch.h"
#include "rl_time.h"
#include "rltest.h"

static void format(void)
{
	uint8_t key[RL_LATCH_KEY_LEN], p[RL_LATCH_LEN];
	/* HMAC-SHA-256(key 00..1f, bytes 0..15), first 16 bytes, computed apart (Python's hmac) */
	static const uint8_t want_mac[RL_LATCH_MAC_LEN] = {0xbb, 0x1d, 0xe5, 0x67, 0xa6, 0xa3, 0x62, 0xf9,
	                                                   0x04, 0x21, 0xb7, 0x67, 0x96, 0x5d, 0xd0, 0xbc};
	static const uint8_t want_head[16] = {0x0c, 1, 0, 0, 0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4, 5, 6, 7, 8};
	uint32_t ssrc = 0;
	uint64_t ctr = 0;

	for (int i = 0; i < RL_LATCH_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	rl_latch_write(p, 0x11223344u, 0x0102030405060708ull, key);
	RL_CHECK(memcmp(p, want_head, 16) == 0);
	RL_CHECK(memcmp(p + 16, want_mac, RL_LATCH_MAC_LEN) == 0);
	RL_CHECK(rl_latch_is(p, sizeof(p)) == 1);
	RL_CHECK(rl_latch_parse(p, sizeof(p), &ssrc, &ctr) == RL_OK);
	RL_CHECK(ssrc == 0x11223344u && ctr == 0x0102030405060708ull);
	RL_CHECK(rl_latch_verify(p, key) == RL_OK);

	/* neither RTP/RTCP (version 2), STUN nor DTLS: the demultiplexers of RFC 7983 tell it apart */
	RL_CHECK((p[0] >> 6) != 2 && p[0] > 3 && (p[0] < 16 || p[0] > 63));
	uint8_t rtp[12] = {0x80, 111};
	RL_CHECK(rl_latch_is(rtp, sizeof(rtp)) == 0 && rl_latch_is(p, 0) == 0);
}

static void mac(void)
{
	uint8_t key[RL_LATCH_KEY_LEN], other[RL_LATCH_KEY_LEN], p[RL_LATCH_LEN], q[RL_LATCH_LEN];
	uint32_t ssrc;
	uint64_t ctr;
	int all_refused = 1;

	rl_latch_keygen(key);
	rl_latch_keygen(other);
	RL_CHECK(memcmp(key, other, sizeof(key)) != 0);
	rl_latch_write(p, 0xcafe0001u, 42, key);
	RL_CHECK(rl_latch_verify(p, key) == RL_OK);
	RL_CHECK(rl_latch_verify(p, other) == RL_EAUTH);
	/* every bit of every byte matters: a changed SSRC, counter or MAC is refused */
	for (int i = 0; i < RL_LATCH_LEN; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(q, p, sizeof(q));
			q[i] ^= (uint8_t)(1u << bit);
			all_refused &=
			    rl_latch_parse(q, sizeof(q), &ssrc, &ctr) != RL_OK || rl_latch_verify(q, key) == RL_EAUTH;
		}
	RL_CHECK(all_refused);
	/* a proof for one SSRC is not one for another, nor for another counter */
	rl_latch_write(q, 0xcafe0002u, 42, key);
	RL_CHECK(memcmp(p + 16, q + 16, RL_LATCH_MAC_LEN) != 0);
	rl_latch_write(q, 0xcafe0001u, 43, key);
	RL_CHECK(memcmp(p + 16, q + 16, RL_LATCH_MAC_LEN) != 0);
}

static void malformed(void)
{
	uint8_t key[RL_LATCH_KEY_LEN] = {1}, p[64], q[RL_LATCH_LEN];
	uint32_t ssrc = 7;
	uint64_t ctr = 9;

	rl_latch_write(p, 1, 2, key);
	RL_CHECK(rl_latch_parse(p, 0, &ssrc, &ctr) == RL_EINVAL);
	RL_CHECK(rl_latch_parse(p, 1, &ssrc, &ctr) == RL_EINVAL);
	RL_CHECK(rl_latch_parse(p, RL_LATCH_LEN - 1, &ssrc, &ctr) == RL_EINVAL);
	RL_CHECK(rl_latch_parse(p, RL_LATCH_LEN + 1, &ssrc, &ctr) == RL_EINVAL);
	RL_CHECK(ssrc == 7 && ctr == 9); /* untouched when refused */
	for (int i = 0; i < 4; i++) {
		memcpy(q, p, sizeof(q));
		q[i] ^= 0x40; /* type, version, reserved */
		RL_CHECK(rl_latch_parse(q, sizeof(q), &ssrc, &ctr) == RL_EINVAL);
	}
	/* random bytes: refused or parsed, never read past the end, never verified */
	uint32_t seed = 99;
	int forged = 0;
	for (int n = 0; n < 20000; n++) {
		size_t len = (seed >> 8) % 40;
		for (size_t k = 0; k < len; k++)
			p[k] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
		if (n % 2 && len > 3)
			p[0] = RL_LATCH_TYPE, p[1] = RL_LATCH_VERSION, p[2] = p[3] = 0;
		if (rl_latch_parse(p, len, &ssrc, &ctr) == RL_OK)
			forged += rl_latch_verify(p, key) == RL_OK;
	}
	RL_CHECK(forged == 0);
}

static void sender(void)
{
	struct rl_latch_tx tx = {0}, again = {0};
	uint8_t key[RL_LATCH_KEY_LEN], p[RL_LATCH_LEN];
	uint64_t now = 1000000, last = 0, wall0 = rl_wall_us();
	uint32_t ssrc;
	uint64_t ctr;
	int increasing = 1, ok = 1;

	rl_latch_keygen(key);
	RL_CHECK(rl_latch_tx_due(&tx, 0) && rl_latch_tx_due(&tx, now));
	/* the burst: three proofs RL_LATCH_BURST_US apart, then one per period */
	for (int i = 0; i < RL_LATCH_BURST; i++) {
		RL_CHECK(rl_latch_tx_due(&tx, now));
		rl_latch_tx_next(&tx, p, 0xabcdu, key, now);
		ok &= rl_latch_parse(p, sizeof(p), &ssrc, &ctr) == RL_OK && ssrc == 0xabcdu &&
		      rl_latch_verify(p, key) == RL_OK;
		increasing &= ctr > last;
		last = ctr;
		now += i + 1 < RL_LATCH_BURST ? RL_LATCH_BURST_US : 0;
	}
	RL_CHECK(!rl_latch_tx_due(&tx, now + RL_LATCH_PERIOD_US - 1));
	RL_CHECK(rl_latch_tx_due(&tx, now + RL_LATCH_PERIOD_US));
	/* many in the same microsecond still increase */
	for (int i = 0; i < 1000; i++) {
		rl_latch_tx_next(&tx, p, 0xabcdu, key, now);
		rl_latch_parse(p, sizeof(p), &ssrc, &ctr);
		increasing &= ctr > last;
		last = ctr;
	}
	RL_CHECK(ok);
	RL_CHECK(increasing);
	RL_CHECK(tx.counter == last && last >= wall0);
	/* the same end started again (same call, same secret) goes on above what it sent */
	rltest_sleep_ms(5);
	rl_latch_tx_next(&again, p, 0xabcdu, key, now);
	rl_latch_parse(p, sizeof(p), &ssrc, &ctr);
	RL_CHECK(ctr > last);
}

int main(void)
{
	format();
	mac();
	malformed();
	sender();
	return rltest_done();
}
