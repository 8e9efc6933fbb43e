/* RTP/RTCP: header round trips, hostile packets, receive statistics (RFC 3550 A.1/A.3/A.8),
 * RTCP SR/RR and compound packets, round-trip time. */
#include <math.h>
#include <string.h>

#include "rl_err.h"
#include "rl_rtp.h"
#include "rltest.h"

static void header_roundtrip(void)
{
	uint8_t pkt[64];
	struct rl_rtp_hdr h;

	RL_CHECK(rl_rtp_write(pkt, 11, 111, 1, 1, 2, 3) == 0);
	RL_REQUIRE(rl_rtp_write(pkt, sizeof(pkt), 111, 1, 65535, 0xfffffff0u, 0xdeadbeefu) == RL_RTP_HDR);
	memset(pkt + RL_RTP_HDR, 0xab, 20);
	RL_REQUIRE(rl_rtp_parse(pkt, RL_RTP_HDR + 20, &h) == RL_OK);
	RL_CHECK(h.pt == 111);
	RL_CHECK(h.marker == 1);
	RL_CHECK(h.seq == 65535);
	RL_CHECK(h.ts == 0xfffffff0u);
	RL_CHECK(h.ssrc == 0xdeadbeefu);
	RL_CHECK(h.hdr_len == RL_RTP_HDR);
	RL_CHECK(h.pay_len == 20);

	/* Marker off, PT masked to 7 bits. */
	rl_rtp_write(pkt, sizeof(pkt), 0x80 | 8, 0, 7, 8, 9);
	RL_REQUIRE(rl_rtp_parse(pkt, RL_RTP_HDR, &h) == RL_OK);
	RL_CHECK(h.pt == 8 && h.marker == 0 && h.pay_len == 0);

	/* Two CSRCs, a one-word extension, 10 payload bytes and 3 padding bytes. */
	memset(pkt, 0, sizeof(pkt));
	rl_rtp_write(pkt, sizeof(pkt), 96, 0, 1, 2, 3);
	pkt[0] |= 0x20 | 0x10 | 2;
	pkt[20] = 0xbe;
	pkt[21] = 0xde;
	pkt[22] = 0;
	pkt[23] = 1;
	size_t len = 28 + 10 + 3;
	pkt[len - 1] = 3;
	RL_REQUIRE(rl_rtp_parse(pkt, len, &h) == RL_OK);
	RL_CHECK(h.hdr_len == 28);
	RL_CHECK(h.pay_len == 10);
	/* Padding may take the whole payload. */
	pkt[len - 1] = 13;
	RL_CHECK(rl_rtp_parse(pkt, len, &h) == RL_OK && h.pay_len == 0);
}

static void header_hostile(void)
{
	uint8_t pkt[128];
	struct rl_rtp_hdr h;

	rl_rtp_write(pkt, sizeof(pkt), 0, 0, 1, 2, 3);
	RL_CHECK(rl_rtp_parse(pkt, 11, &h) == RL_EPROTO);
	RL_CHECK(rl_rtp_parse(pkt, 0, &h) == RL_EPROTO);
	RL_CHECK(rl_rtp_parse(NULL, 12, &h) == RL_EPROTO);

	pkt[0] = 0x40; /* version 1 */
	RL_CHECK(rl_rtp_parse(pkt, 12, &h) == RL_EPROTO);
	pkt[0] = 0xc0; /* version 3 */
	RL_CHECK(rl_rtp_parse(pkt, 12, &h) == RL_EPROTO);

	/* CSRC count 15 needs 72 header bytes. */
	pkt[0] = 0x8f;
	RL_CHECK(rl_rtp_parse(pkt, 71, &h) == RL_EPROTO);
	RL_CHECK(rl_rtp_parse(pkt, 72, &h) == RL_OK && h.hdr_len == 72);

	/* Extension: its 4-byte header missing, then a length of 0xffff words. */
	pkt[0] = 0x90;
	RL_CHECK(rl_rtp_parse(pkt, 14, &h) == RL_EPROTO);
	pkt[12] = 0xbe;
	pkt[13] = 0xde;
	pkt[14] = 0xff;
	pkt[15] = 0xff;
	RL_CHECK(rl_rtp_parse(pkt, sizeof(pkt), &h) == RL_EPROTO);
	pkt[14] = 0;
	pkt[15] = 28; /* 112 bytes: 12 + 4 + 112 = 128 fits exactly, 127 does not */
	RL_CHECK(rl_rtp_parse(pkt, 128, &h) == RL_OK && h.hdr_len == 128 && h.pay_len == 0);
	RL_CHECK(rl_rtp_parse(pkt, 127, &h) == RL_EPROTO);

	/* Padding: zero count, count beyond the payload, padding bit on an empty payload. */
	pkt[0] = 0xa0;
	memset(pkt + 12, 0, 8);
	pkt[19] = 0;
	RL_CHECK(rl_rtp_parse(pkt, 20, &h) == RL_EPROTO);
	pkt[19] = 9;
	RL_CHECK(rl_rtp_parse(pkt, 20, &h) == RL_EPROTO);
	pkt[19] = 8;
	RL_CHECK(rl_rtp_parse(pkt, 20, &h) == RL_OK && h.pay_len == 0);
	pkt[11] = 1; /* the SSRC's last byte would be the count */
	RL_CHECK(rl_rtp_parse(pkt, 12, &h) == RL_EPROTO);
	/* Padding counted inside the CSRC list / extension is not payload either. */
	pkt[0] = 0xa1;
	pkt[15] = 4;
	RL_CHECK(rl_rtp_parse(pkt, 16, &h) == RL_EPROTO);

	/* Oversized datagram. */
	static uint8_t big[RL_RTP_MAX_PACKET + 1];
	rl_rtp_write(big, sizeof(big), 0, 0, 1, 2, 3);
	RL_CHECK(rl_rtp_parse(big, RL_RTP_MAX_PACKET, &h) == RL_OK);
	RL_CHECK(rl_rtp_parse(big, sizeof(big), &h) == RL_EPROTO);
}

static void demux(void)
{
	uint8_t rtp[12], rr[8] = {0x80, 201, 0, 1, 1, 2, 3, 4};
	uint32_t ssrc = 0;

	rl_rtp_write(rtp, sizeof(rtp), 0, 0, 1, 2, 0x11223344u);
	RL_CHECK(!rl_rtp_is_rtcp(rtp, sizeof(rtp)));
	RL_CHECK(rl_rtp_is_rtcp(rr, sizeof(rr)));
	RL_CHECK(!rl_rtp_is_rtcp(rr, 7));
	rr[0] = 0x40;
	RL_CHECK(!rl_rtp_is_rtcp(rr, sizeof(rr)));
	rr[0] = 0x80;
	/* Marker + PT 72 is byte 200: why RFC 5761 keeps RTP PTs 64..95 free. */
	rl_rtp_write(rtp, sizeof(rtp), 72, 1, 1, 2, 3);
	RL_CHECK(rl_rtp_is_rtcp(rtp, sizeof(rtp)));
	rl_rtp_write(rtp, sizeof(rtp), 96, 1, 1, 2, 3);
	RL_CHECK(!rl_rtp_is_rtcp(rtp, sizeof(rtp)));

	rl_rtp_write(rtp, sizeof(rtp), 0, 0, 1, 2, 0x11223344u);
	RL_CHECK(rl_rtp_peek_ssrc(rtp, sizeof(rtp), &ssrc) == RL_OK && ssrc == 0x11223344u);
	RL_CHECK(rl_rtp_peek_ssrc(rtp, 11, &ssrc) == RL_EPROTO);
	RL_CHECK(rl_rtp_peek_ssrc(rr, sizeof(rr), &ssrc) == RL_OK && ssrc == 0x01020304u);
	RL_CHECK(rl_rtp_peek_ssrc(rr, 7, &ssrc) == RL_EPROTO);
	rr[0] = 0;
	RL_CHECK(rl_rtp_peek_ssrc(rr, sizeof(rr), &ssrc) == RL_EPROTO);
}

static void rtcp_roundtrip(void)
{
	uint8_t buf[128];
	struct rl_rtcp r, p;

	memset(&r, 0, sizeof(r));
	r.is_sr = 1;
	r.ssrc = 0xa1a2a3a4u;
	r.ntp = 0xe1234567890abcdeull;
	r.rtp_ts = 123456;
	r.packets = 1000;
	r.octets = 160000;
	r.has_report = 1;
	r.rb.ssrc = 0xb1b2b3b4u;
	r.rb.fraction_lost = 26;
	r.rb.cum_lost = -5;
	r.rb.ext_max_seq = 0x0001fff0u;
	r.rb.jitter = 77;
	r.rb.lsr = 0x4567890au;
	r.rb.dlsr = 65536 * 2;
	RL_CHECK(rl_rtcp_write(buf, 51, &r) == 0);
	size_t n = rl_rtcp_write(buf, sizeof(buf), &r);
	RL_REQUIRE(n == 52);
	RL_CHECK(buf[0] == 0x81 && buf[1] == 200 && buf[2] == 0 && buf[3] == 12);
	RL_CHECK(rl_rtp_is_rtcp(buf, n));
	RL_REQUIRE(rl_rtcp_parse(buf, n, &p) == RL_OK);
	RL_CHECK(p.is_sr && p.ssrc == r.ssrc && p.ntp == r.ntp && p.rtp_ts == r.rtp_ts);
	RL_CHECK(p.packets == 1000 && p.octets == 160000 && p.has_report);
	RL_CHECK(memcmp(&p.rb, &r.rb, sizeof(r.rb)) == 0);

	/* RR without block, then with one; cum_lost clamps to 24 bits. */
	memset(&r, 0, sizeof(r));
	r.ssrc = 42;
	n = rl_rtcp_write(buf, sizeof(buf), &r);
	RL_REQUIRE(n == 8);
	RL_REQUIRE(rl_rtcp_parse(buf, n, &p) == RL_OK);
	RL_CHECK(!p.is_sr && p.ssrc == 42 && !p.has_report);
	r.has_report = 1;
	r.rb.cum_lost = 0x7fffffff;
	n = rl_rtcp_write(buf, sizeof(buf), &r);
	RL_REQUIRE(n == 32);
	RL_REQUIRE(rl_rtcp_parse(buf, n, &p) == RL_OK);
	RL_CHECK(p.has_report && p.rb.cum_lost == 0x7fffff);
	r.rb.cum_lost = -0x7fffffff;
	rl_rtcp_write(buf, sizeof(buf), &r);
	RL_REQUIRE(rl_rtcp_parse(buf, n, &p) == RL_OK);
	RL_CHECK(p.rb.cum_lost == -0x800000);
}

static void rtcp_compound(void)
{
	uint8_t buf[128];
	struct rl_rtcp r, p;
	/* SDES with one CNAME "ab": header, SSRC, item (1, 2, 'a', 'b'), end, pad to 4. */
	static const uint8_t sdes[16] = {0x81, 202, 0, 3, 0, 0, 0, 9, 1, 2, 'a', 'b', 0, 0, 0, 0};

	memcpy(buf, sdes, sizeof(sdes));
	memset(&r, 0, sizeof(r));
	r.ssrc = 9;
	r.has_report = 1;
	r.rb.ssrc = 77;
	r.rb.jitter = 123;
	size_t n = sizeof(sdes) + rl_rtcp_write(buf + sizeof(sdes), sizeof(buf) - sizeof(sdes), &r);
	RL_REQUIRE(n == 16 + 32);
	RL_REQUIRE(rl_rtcp_parse(buf, n, &p) == RL_OK);
	RL_CHECK(!p.is_sr && p.ssrc == 9 && p.has_report && p.rb.ssrc == 77 && p.rb.jitter == 123);

	/* Only the SDES: no report in it. */
	RL_CHECK(rl_rtcp_parse(buf, sizeof(sdes), &p) == RL_ENOENT);
	/* The RR cut short: its length field claims more than is there. */
	RL_CHECK(rl_rtcp_parse(buf, n - 4, &p) == RL_EPROTO);
	/* A stray 2 bytes after the SDES. */
	RL_CHECK(rl_rtcp_parse(buf, sizeof(sdes) + 2, &p) == RL_EPROTO);
	/* SDES length overflowing the datagram. */
	buf[3] = 200;
	RL_CHECK(rl_rtcp_parse(buf, n, &p) == RL_EPROTO);
	buf[3] = 3;
	/* Report count 1 in an RR whose length only covers the header and SSRC. */
	uint8_t rr[8] = {0x81, 201, 0, 1, 0, 0, 0, 1};
	RL_CHECK(rl_rtcp_parse(rr, sizeof(rr), &p) == RL_EPROTO);
	/* Report count 31: must not read past the buffer. */
	rr[0] = 0x9f;
	RL_CHECK(rl_rtcp_parse(rr, sizeof(rr), &p) == RL_EPROTO);
	/* An SR too short for its sender info. */
	uint8_t sr[8] = {0x80, 200, 0, 1, 0, 0, 0, 1};
	RL_CHECK(rl_rtcp_parse(sr, sizeof(sr), &p) == RL_EPROTO);
	/* Bad version in the second packet. */
	buf[sizeof(sdes)] = 0x41;
	RL_CHECK(rl_rtcp_parse(buf, n, &p) == RL_EPROTO);
	RL_CHECK(rl_rtcp_parse(buf, 3, &p) == RL_EPROTO);
	RL_CHECK(rl_rtcp_parse(buf, 0, &p) == RL_EPROTO);
}

static void rx_inorder_and_loss(void)
{
	struct rl_rtp_rx rx;
	struct rl_rtcp_report rb;
	uint64_t t = 1000000;

	rl_rtp_rx_init(&rx, 8000);
	RL_CHECK(rl_rtp_rx_expected(&rx) == 0 && rl_rtp_rx_lost(&rx) == 0);
	/* The first packet of a new source is on probation (A.1, MIN_SEQUENTIAL 2). */
	RL_CHECK(rl_rtp_rx_update(&rx, 100, 0, t) == 0);
	int ok = 1;
	for (uint16_t s = 101; s < 200; s++)
		ok &= rl_rtp_rx_update(&rx, s, (uint32_t)(s - 100) * 160, t += 20000);
	RL_CHECK(ok);
	RL_CHECK(rx.received == 99);
	RL_CHECK(rl_rtp_rx_expected(&rx) == 99);
	RL_CHECK(rl_rtp_rx_lost(&rx) == 0);
	RL_CHECK(rl_rtp_rx_jitter_ms(&rx) == 0);

	/* Lose 200 and 201. */
	for (uint16_t s = 202; s < 250; s++)
		rl_rtp_rx_update(&rx, s, (uint32_t)(s - 100) * 160, t += 20000);
	RL_CHECK(rl_rtp_rx_expected(&rx) == 149);
	RL_CHECK(rl_rtp_rx_lost(&rx) == 2);
	rl_rtcp_fill_report(&rx, 5, t, &rb);
	RL_CHECK(rb.ssrc == 5);
	RL_CHECK(rb.cum_lost == 2);
	RL_CHECK(rb.fraction_lost == (2 << 8) / 149);
	RL_CHECK(rb.ext_max_seq == 249);
	RL_CHECK(rb.lsr == 0 && rb.dlsr == 0);
	/* Next interval: no loss. */
	for (uint16_t s = 250; s < 260; s++)
		rl_rtp_rx_update(&rx, s, (uint32_t)(s - 100) * 160, t += 20000);
	rl_rtcp_fill_report(&rx, 5, t, &rb);
	RL_CHECK(rb.fraction_lost == 0 && rb.cum_lost == 2);

	/* A duplicate counts as received: lost goes down (A.3). */
	rl_rtp_rx_update(&rx, 259, 159 * 160, t += 1000);
	RL_CHECK(rl_rtp_rx_lost(&rx) == 1);
	/* ... and can go below zero. */
	rl_rtp_rx_update(&rx, 259, 159 * 160, t += 1000);
	rl_rtp_rx_update(&rx, 259, 159 * 160, t += 1000);
	RL_CHECK(rl_rtp_rx_lost(&rx) == -1);
	rl_rtcp_fill_report(&rx, 5, t, &rb);
	RL_CHECK(rb.cum_lost == -1 && rb.fraction_lost == 0);

	/* The DLSR from the last SR. */
	rx.last_sr_ntp_mid = 0x12345678u;
	rx.last_sr_recv_us = t;
	rl_rtcp_fill_report(&rx, 5, t + 1500000, &rb);
	RL_CHECK(rb.lsr == 0x12345678u);
	RL_CHECK(rb.dlsr == 98304); /* 1.5 s in 1/65536 s */
}

static void rx_reorder_wrap(void)
{
	struct rl_rtp_rx rx;
	uint64_t t = 0;

	rl_rtp_rx_init(&rx, 48000);
	uint16_t order[] = {65530, 65531, 65532, 65534, 65533, 65535, 1, 0, 2, 3, 4, 5};
	int ok = 1;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int v = rl_rtp_rx_update(&rx, order[i], (uint32_t)order[i] * 960, t += 20000);
		if (i > 0)
			ok &= v;
	}
	RL_CHECK(ok);
	RL_CHECK(rx.cycles == 65536);
	RL_CHECK(rx.max_seq == 5);
	RL_CHECK(rl_rtp_rx_expected(&rx) == 11); /* 65531 .. 65535, 0 .. 5 */
	RL_CHECK(rl_rtp_rx_lost(&rx) == 0);
	struct rl_rtcp_report rb;
	rl_rtcp_fill_report(&rx, 1, t, &rb);
	RL_CHECK(rb.ext_max_seq == 65536 + 5);

	/* Misordered by less than MAX_MISORDER: accepted, no cycle counted. */
	RL_CHECK(rl_rtp_rx_update(&rx, 65500, 0, t += 20000) == 1);
	RL_CHECK(rx.cycles == 65536 && rx.max_seq == 5);
}

static void rx_probation_and_jumps(void)
{
	struct rl_rtp_rx rx;
	uint64_t t = 0;

	rl_rtp_rx_init(&rx, 8000);
	RL_CHECK(rl_rtp_rx_update(&rx, 100, 0, t += 20000) == 0);
	RL_CHECK(rl_rtp_rx_update(&rx, 200, 0, t += 20000) == 0); /* not in sequence */
	RL_CHECK(rl_rtp_rx_update(&rx, 201, 0, t += 20000) == 1);
	RL_CHECK(rx.base_seq == 201 && rx.received == 1 && rl_rtp_rx_expected(&rx) == 1);
	for (uint16_t s = 202; s < 300; s++)
		rl_rtp_rx_update(&rx, s, 0, t += 20000);
	RL_CHECK(rx.received == 99);

	/* A wild jump is dropped... */
	RL_CHECK(rl_rtp_rx_update(&rx, 30000, 0, t += 20000) == 0);
	RL_CHECK(rx.received == 99 && rx.max_seq == 299);
	/* ... the stream goes on ... */
	RL_CHECK(rl_rtp_rx_update(&rx, 300, 0, t += 20000) == 1);
	/* ... and two in a row from a restarted sender restart the statistics. */
	RL_CHECK(rl_rtp_rx_update(&rx, 40000, 0, t += 20000) == 0);
	RL_CHECK(rl_rtp_rx_update(&rx, 40001, 0, t += 20000) == 1);
	RL_CHECK(rx.base_seq == 40001 && rx.received == 1);
	RL_CHECK(rl_rtp_rx_update(&rx, 40002, 0, t += 20000) == 1);
	RL_CHECK(rl_rtp_rx_expected(&rx) == 2 && rl_rtp_rx_lost(&rx) == 0);
}

static void rx_jitter(void)
{
	struct rl_rtp_rx rx;
	/* 8 kHz, 20 ms packets (160 units). Arrivals in ms; packet 3 comes 5 ms late. The
	 * first packet is on probation, so transits count from packet 1:
	 *   transit 0, 0, 40, 0, 0 (units) -> D = 0, 40, -40, 0
	 *   J = 0 -> 0 -> 40/16 = 2.5 -> 2.5 + 37.5/16 = 4.84375 -> 4.84375 * 15/16 = 4.541015625 */
	static const unsigned arr_ms[] = {0, 20, 40, 65, 80, 100};

	rl_rtp_rx_init(&rx, 8000);
	for (unsigned i = 0; i < 6; i++)
		rl_rtp_rx_update(&rx, (uint16_t)(1000 + i), 5000 + i * 160, 7000000ull + arr_ms[i] * 1000ull);
	RL_CHECK(fabs(rx.jitter - 4.541015625) < 1e-9);
	RL_CHECK(fabs(rl_rtp_rx_jitter_ms(&rx) - 4.541015625 / 8) < 1e-9);
	struct rl_rtcp_report rb;
	rl_rtcp_fill_report(&rx, 1, 0, &rb);
	RL_CHECK(rb.jitter == 4);

	/* Jitter survives a timestamp wrap: constant transit, zero jitter. */
	rl_rtp_rx_init(&rx, 48000);
	for (unsigned i = 0; i < 50; i++)
		rl_rtp_rx_update(&rx, (uint16_t)i, 0xffff0000u + i * 960, 1000000ull + i * 20000ull);
	RL_CHECK(rx.jitter == 0);
}

static void rtt(void)
{
	struct rl_rtcp_report rb;

	memset(&rb, 0, sizeof(rb));
	RL_CHECK(rl_rtcp_rtt_ms(&rb, 12345) < 0); /* no LSR */
	rb.lsr = 0x10000000u;
	rb.dlsr = 65536; /* 1 s held at the peer */
	/* Arrives 1.05 s after our SR: RTT 50 ms (3276.8 units, so 3277 -> 50.003 ms). */
	RL_CHECK(fabs(rl_rtcp_rtt_ms(&rb, 0x10000000u + 65536 + 3277) - 50.0) < 0.02);
	/* Across the 32-bit wrap of the middle NTP bits. */
	rb.lsr = 0xffff8000u;
	rb.dlsr = 32768;
	RL_CHECK(fabs(rl_rtcp_rtt_ms(&rb, 0xffff8000u + 32768 + 6554) - 100.0) < 0.02);
	/* A reply that claims to have been held longer than it was away. */
	RL_CHECK(rl_rtcp_rtt_ms(&rb, 0xffff8000u + 100) < 0);

	uint64_t ntp = rl_ntp_now();
	RL_CHECK((ntp >> 32) > 2208988800ull + 1600000000ull); /* after 2020 */
	RL_CHECK(rl_ntp_mid(ntp) == (uint32_t)(ntp >> 16));
	uint64_t ntp2 = rl_ntp_now();
	RL_CHECK(ntp2 >= ntp && ntp2 - ntp < (5ull << 32));
}

int main(void)
{
	header_roundtrip();
	header_hostile();
	demux();
	rtcp_roundtrip();
	rtcp_compound();
	rx_inorder_and_loss();
	rx_reorder_wrap();
	rx_probation_and_jumps();
	rx_jitter();
	rtt();
	return rltest_done();
}
