/*
 * libFuzzer target: everything a media socket feeds with network bytes.
 *
 *  1. The whole input as one datagram: rl_rtp_is_rtcp, rl_rtp_peek_ssrc, rl_rtp_parse and
 *     rl_rtcp_parse, with the invariants their results promise (lengths within the input,
 *     a parsed RTCP re-encodes and parses back to the same report).
 *  2. The input as a configuration (4 bytes) and a run of 12-byte records driving one
 *     rl_rtp_rx and one rl_jbuf: puts with fuzzed seq/ts/len/silence/arrival, gets at
 *     fuzzed times, RTCP reports from the statistics. Invariants: the depth never exceeds
 *     the slots, a payload comes out only with FRAME/FEC, within the cap and uncorrupted,
 *     and the counters match what the calls returned.
 * Built with -DRELAIS_FUZZ=ON (clang) as a fuzzer; always built as a corpus replay test.
 */
#include "fuzz.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rl_err.h"
#include "rl_jbuf.h"
#include "rl_rtp.h"

static void datagram(const uint8_t *data, size_t size)
{
	struct rl_rtp_hdr h;
	struct rl_rtcp r, r2;
	uint32_t ssrc;
	uint8_t buf[128];

	(void)rl_rtp_is_rtcp(data, size);
	if (rl_rtp_peek_ssrc(data, size, &ssrc) == RL_OK)
		CHECK(size >= 8);
	if (rl_rtp_parse(data, size, &h) == RL_OK) {
		CHECK(h.hdr_len >= RL_RTP_HDR && h.hdr_len <= size);
		CHECK(h.pay_len <= size - h.hdr_len);
		CHECK(h.pt < 128 && h.marker < 2);
		/* The fixed header re-encodes byte for byte (bar the flags we do not write). */
		CHECK(rl_rtp_write(buf, sizeof(buf), h.pt, h.marker, h.seq, h.ts, h.ssrc) == RL_RTP_HDR);
		CHECK(memcmp(buf + 1, data + 1, RL_RTP_HDR - 1) == 0);
	}
	int rv = rl_rtcp_parse(data, size, &r);
	CHECK(rv == RL_OK || rv == RL_EPROTO || rv == RL_ENOENT);
	if (rv == RL_OK) {
		size_t n = rl_rtcp_write(buf, sizeof(buf), &r);
		CHECK(n > 0);
		CHECK(rl_rtcp_parse(buf, n, &r2) == RL_OK);
		CHECK(r2.is_sr == r.is_sr && r2.ssrc == r.ssrc && r2.has_report == r.has_report);
		if (r.is_sr)
			CHECK(r2.ntp == r.ntp && r2.rtp_ts == r.rtp_ts && r2.packets == r.packets &&
			      r2.octets == r.octets);
		if (r.has_report)
			CHECK(memcmp(&r2.rb, &r.rb, sizeof(r.rb)) == 0);
		(void)rl_rtcp_rtt_ms(&r.rb, r.rb.lsr + r.rb.dlsr + 1000);
	}
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Config (4 bytes): rate index, frame index, slots - 4, delay shape.
 * Record (12 bytes):
 *   [0]    op: bit 0 get (else put), bit 1 silence, bit 2 absolute seq/ts from [8..11],
 *          bit 3 also account in rx stats, bit 4 fill an RTCP report, bits 5-7 time scale
 *   [1]    seq step (int8) from the previous put
 *   [2..3] ts step (int16) in quarter frames
 *   [4..5] payload length (0..65535, mostly over the limit if high bits set)
 *   [6..7] time step in units of 2^scale * 10 us (may go backwards if bit 15 set)
 *   [8..11] absolute seq (low 16) / ts, for bit 2
 */
static void stream(const uint8_t *data, size_t size)
{
	static const uint32_t rates[] = {8000, 16000, 48000, 44100, 1000, 384000, 12345, 0};
	static const uint32_t frames[] = {20, 10, 40, 60, 2, 120, 0, 7};
	static uint8_t payload[2048], out[RL_JBUF_MAX_PAYLOAD];
	struct rl_jbuf_conf c;
	struct rl_jbuf *jb;
	struct rl_rtp_rx rx;
	struct rl_jbuf_stats st;

	if (size < 4)
		return;
	c.clock_rate = rates[data[0] & 7];
	c.frame_ms = frames[(data[0] >> 3) & 7];
	c.slots = 4u + data[1] % 64u;
	c.min_ms = (data[2] & 3) * 10u;
	c.start_ms = c.min_ms + ((data[2] >> 2) & 7) * 20u;
	c.max_ms = c.start_ms + (data[3] & 15) * 40u;
	if (data[3] & 0x80)
		c.max_ms = 20000; /* out of range on purpose */
	if (rl_jbuf_new(&jb, &c) != RL_OK)
		return;
	rl_rtp_rx_init(&rx, c.clock_rate);
	uint32_t frame = (uint32_t)((uint64_t)c.clock_rate * c.frame_ms / 1000);
	uint16_t seq = 0;
	uint32_t ts = 0;
	uint64_t now = 1000000;
	uint64_t puts = 0, nframe = 0, nfec = 0, nloss = 0;
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;

	for (size_t off = 4; off + 12 <= size; off += 12) {
		const uint8_t *r = data + off;
		uint8_t op = r[0];
		uint16_t dt = rd16(r + 6);
		uint64_t step = (uint64_t)(dt & 0x7fff) * 10u << ((op >> 5) & 7);
		if (dt & 0x8000)
			now = now > step ? now - step : 0;
		else
			now += step;
		if (op & 1) {
			size_t len = 99999;
			int kind = rl_jbuf_get(jb, now, out, (op & 2) ? 10 : sizeof(out), &len);
			CHECK(kind >= RL_JB_EMPTY && kind <= RL_JB_LOSS);
			if (kind == RL_JB_FRAME || kind == RL_JB_FEC) {
				CHECK(len > 0 && len <= ((op & 2) ? 10 : sizeof(out)));
				/* Every payload put is a prefix of `payload`: what comes out must be too. */
				CHECK(memcmp(out, payload, len) == 0);
			} else {
				CHECK(len == 0);
			}
			nframe += kind == RL_JB_FRAME;
			nfec += kind == RL_JB_FEC;
			nloss += kind == RL_JB_LOSS;
		} else {
			if (op & 4) {
				seq = (uint16_t)rd32(r + 8);
				ts = rd32(r + 8);
			} else {
				seq = (uint16_t)(seq + (int8_t)r[1]);
				ts += (uint32_t)((int32_t)(int16_t)rd16(r + 2) * (int32_t)(frame >= 4 ? frame / 4 : 1));
			}
			size_t len = rd16(r + 4);
			if (len > 1400 && !(len & 0x8000))
				len %= 1400;
			if (len > sizeof(payload))
				len = sizeof(payload);
			int rv = rl_jbuf_put(jb, seq, ts, payload, len, (op >> 1) & 1, now);
			CHECK(rv == RL_OK || rv == RL_ETOOBIG || rv == RL_EEXIST || rv == RL_ETIMEDOUT ||
			      rv == RL_ERANGE);
			puts++;
			if (op & 8)
				(void)rl_rtp_rx_update(&rx, seq, ts, now);
		}
		if (op & 16) {
			struct rl_rtcp rep, back;
			uint8_t buf[64];
			memset(&rep, 0, sizeof(rep));
			rep.is_sr = op & 1;
			rep.ssrc = ts;
			rep.has_report = 1;
			rx.last_sr_ntp_mid = rd32(r + 8);
			rx.last_sr_recv_us = now / 2;
			rl_rtcp_fill_report(&rx, 7, now, &rep.rb);
			size_t n = rl_rtcp_write(buf, sizeof(buf), &rep);
			CHECK(n > 0 && rl_rtp_is_rtcp(buf, n));
			CHECK(rl_rtcp_parse(buf, n, &back) == RL_OK);
			CHECK(back.rb.cum_lost == rep.rb.cum_lost && back.rb.jitter == rep.rb.jitter);
			(void)rl_rtp_rx_jitter_ms(&rx);
		}
		rl_jbuf_stats(jb, &st);
		CHECK(st.depth <= c.slots);
		CHECK(st.put == puts);
		CHECK(st.played == nframe && st.fec == nfec && st.concealed == nloss);
		CHECK(st.delay_ms <= c.max_ms);
	}
	rl_jbuf_free(jb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	datagram(data, size);
	stream(data, size);
	return 0;
}
