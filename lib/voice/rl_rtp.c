/*
 * rl_rtp.c - RTP/RTCP packets and receive statistics (RFC 3550).
 *
 * Every parser here reads network input: each length is checked against the bytes actually
 * present before it is used, and all sequence/timestamp arithmetic is done modulo 2^16 /
 * 2^32 with explicit, well-defined conversions (no signed overflow, no implementation-defined
 * casts), so wraps and hostile values behave the same everywhere.
 */
#include "rl_rtp.h"

#include <string.h>

#include "rl_err.h"
#include "rl_time.h"

#define RTP_SEQ_MOD    (1u << 16)
#define MAX_DROPOUT    3000 /* RFC 3550 A.1 */
#define MAX_MISORDER   100
#define MIN_SEQUENTIAL 2

#define RTCP_SR     200
#define RTCP_RR     201
#define RTCP_SR_LEN 28 /* header, SSRC, sender info */
#define RTCP_RR_LEN 8  /* header, SSRC */
#define RTCP_RB_LEN 24 /* one report block */

#define NTP_UNIX_OFFSET 2208988800ull /* seconds from 1900 to 1970 */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* diff32 is (int32_t)(a - b) without an implementation-defined conversion. */
static int32_t diff32(uint32_t a, uint32_t b)
{
	uint32_t d = a - b;
	return d < 0x80000000u ? (int32_t)d : -(int32_t)(~d) - 1;
}

int rl_rtp_is_rtcp(const uint8_t *buf, size_t len)
{
	/* RFC 5761 4: RTP payload types 64..95 are avoided so that the second byte of RTCP
	 * (its packet type, 192..223 here: SR, RR, SDES, BYE, APP, feedback, XR) never looks
	 * like marker + an RTP payload type in use. Eight bytes: header and sender SSRC. */
	if (buf == NULL || len < 8 || (buf[0] >> 6) != 2)
		return 0;
	return buf[1] >= 192 && buf[1] <= 223;
}

int rl_rtp_peek_ssrc(const uint8_t *buf, size_t len, uint32_t *ssrc)
{
	if (buf == NULL || len < 8 || (buf[0] >> 6) != 2)
		return RL_EPROTO;
	if (rl_rtp_is_rtcp(buf, len)) {
		*ssrc = get32(buf + 4);
		return RL_OK;
	}
	if (len < RL_RTP_HDR)
		return RL_EPROTO;
	*ssrc = get32(buf + 8);
	return RL_OK;
}

int rl_rtp_parse(const uint8_t *buf, size_t len, struct rl_rtp_hdr *h)
{
	size_t hdr, pay;

	if (buf == NULL || len < RL_RTP_HDR || len > RL_RTP_MAX_PACKET || (buf[0] >> 6) != 2)
		return RL_EPROTO;
	hdr = RL_RTP_HDR + 4u * (buf[0] & 0x0fu);
	if (hdr > len)
		return RL_EPROTO;
	if (buf[0] & 0x10) {
		/* Header extension: 16-bit profile, 16-bit length in 32-bit words. */
		if (len - hdr < 4)
			return RL_EPROTO;
		size_t ext = 4u * (size_t)get16(buf + hdr + 2);
		if (len - hdr - 4 < ext)
			return RL_EPROTO;
		hdr += 4 + ext;
	}
	pay = len - hdr;
	if (buf[0] & 0x20) {
		/* Padding: the last octet counts the padding octets, itself included. */
		uint8_t pad = buf[len - 1];
		if (pad == 0 || pad > pay)
			return RL_EPROTO;
		pay -= pad;
	}
	h->marker = buf[1] >> 7;
	h->pt = buf[1] & 0x7f;
	h->seq = get16(buf + 2);
	h->ts = get32(buf + 4);
	h->ssrc = get32(buf + 8);
	h->hdr_len = hdr;
	h->pay_len = pay;
	return RL_OK;
}

size_t rl_rtp_write(uint8_t *buf, size_t cap, uint8_t pt, int marker, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	if (buf == NULL || cap < RL_RTP_HDR)
		return 0;
	buf[0] = 0x80;
	buf[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	put16(buf + 2, seq);
	put32(buf + 4, ts);
	put32(buf + 8, ssrc);
	return RL_RTP_HDR;
}

/* ---------------------------------------------------------------------------------------- */
/* Receive statistics. */

void rl_rtp_rx_init(struct rl_rtp_rx *rx, uint32_t clock_rate)
{
	memset(rx, 0, sizeof(*rx));
	rx->clock_rate = clock_rate;
}

/* init_seq and update_seq follow RFC 3550 A.1 line for line. */
static void init_seq(struct rl_rtp_rx *rx, uint16_t seq)
{
	rx->base_seq = seq;
	rx->max_seq = seq;
	rx->bad_seq = RTP_SEQ_MOD + 1; /* so seq == bad_seq is false */
	rx->cycles = 0;
	rx->received = 0;
	rx->received_prior = 0;
	rx->expected_prior = 0;
}

static int update_seq(struct rl_rtp_rx *rx, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - rx->max_seq);

	if (rx->probation) {
		/* A new source is valid after MIN_SEQUENTIAL packets in sequence. */
		if (seq == (uint16_t)(rx->max_seq + 1)) {
			rx->probation--;
			rx->max_seq = seq;
			if (rx->probation == 0) {
				init_seq(rx, seq);
				rx->received++;
				return 1;
			}
		} else {
			rx->probation = MIN_SEQUENTIAL - 1;
			rx->max_seq = seq;
		}
		return 0;
	} else if (udelta < MAX_DROPOUT) {
		/* In order, with a permissible gap. */
		if (seq < rx->max_seq)
			rx->cycles += RTP_SEQ_MOD;
		rx->max_seq = seq;
	} else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
		/* A very large jump: the sender restarted, or this one is wild. Two in a row
		 * (this seq + 1 arrives next) restart the statistics on the new numbering. */
		if (seq == rx->bad_seq) {
			init_seq(rx, seq);
		} else {
			rx->bad_seq = (seq + 1u) & (RTP_SEQ_MOD - 1);
			return 0;
		}
	} else {
		/* Duplicate or reordered: counted as received (A.3: lost may go negative). */
	}
	rx->received++;
	return 1;
}

/* units_now converts a monotonic time in us into RTP clock units, modulo 2^32. */
static uint32_t units_of(uint64_t us, uint32_t rate)
{
	return (uint32_t)((us / 1000000u) * rate + (us % 1000000u) * rate / 1000000u);
}

int rl_rtp_rx_update(struct rl_rtp_rx *rx, uint16_t seq, uint32_t ts, uint64_t arrival_us)
{
	if (!rx->started) {
		rx->started = 1;
		init_seq(rx, seq);
		rx->max_seq = (uint16_t)(seq - 1);
		rx->probation = MIN_SEQUENTIAL;
	}
	if (!update_seq(rx, seq))
		return 0;

	/* A.8: relative transit time; the difference of two transits is immune to the
	 * unknown offset between the sender's RTP clock and ours, and taken modulo 2^32. */
	uint32_t transit = units_of(arrival_us, rx->clock_rate) - ts;
	if (rx->received > 1) {
		int32_t d = diff32(transit, (uint32_t)rx->transit);
		double ad = d < 0 ? -(double)d : (double)d;
		rx->jitter += (ad - rx->jitter) / 16.0;
	}
	rx->transit = transit;
	return 1;
}

uint64_t rl_rtp_rx_expected(const struct rl_rtp_rx *rx)
{
	if (rx->received == 0)
		return 0;
	return (uint64_t)rx->cycles + rx->max_seq - rx->base_seq + 1;
}

int64_t rl_rtp_rx_lost(const struct rl_rtp_rx *rx)
{
	return (int64_t)rl_rtp_rx_expected(rx) - (int64_t)rx->received;
}

double rl_rtp_rx_jitter_ms(const struct rl_rtp_rx *rx)
{
	if (rx->clock_rate == 0)
		return 0;
	return rx->jitter * 1000.0 / rx->clock_rate;
}

/* ---------------------------------------------------------------------------------------- */
/* RTCP. */

static void write_block(uint8_t *p, const struct rl_rtcp_report *rb)
{
	int32_t cl = rb->cum_lost;

	if (cl > 0x7fffff)
		cl = 0x7fffff;
	if (cl < -0x800000)
		cl = -0x800000;
	put32(p, rb->ssrc);
	put32(p + 4, (uint32_t)rb->fraction_lost << 24 | ((uint32_t)cl & 0xffffffu));
	put32(p + 8, rb->ext_max_seq);
	put32(p + 12, rb->jitter);
	put32(p + 16, rb->lsr);
	put32(p + 20, rb->dlsr);
}

static void read_block(const uint8_t *p, struct rl_rtcp_report *rb)
{
	uint32_t w = get32(p + 4);
	uint32_t cl = w & 0xffffffu;

	rb->ssrc = get32(p);
	rb->fraction_lost = (uint8_t)(w >> 24);
	/* Sign-extend the 24-bit count without shifting into the sign bit. */
	rb->cum_lost = (cl & 0x800000u) ? (int32_t)cl - 0x1000000 : (int32_t)cl;
	rb->ext_max_seq = get32(p + 8);
	rb->jitter = get32(p + 12);
	rb->lsr = get32(p + 16);
	rb->dlsr = get32(p + 20);
}

size_t rl_rtcp_write(uint8_t *buf, size_t cap, const struct rl_rtcp *r)
{
	unsigned rc = r->has_report ? 1 : 0;
	size_t n = (r->is_sr ? RTCP_SR_LEN : RTCP_RR_LEN) + rc * RTCP_RB_LEN;

	if (buf == NULL || cap < n)
		return 0;
	buf[0] = (uint8_t)(0x80 | rc);
	buf[1] = r->is_sr ? RTCP_SR : RTCP_RR;
	put16(buf + 2, (uint16_t)(n / 4 - 1));
	put32(buf + 4, r->ssrc);
	uint8_t *p = buf + RTCP_RR_LEN;
	if (r->is_sr) {
		put32(p, (uint32_t)(r->ntp >> 32));
		put32(p + 4, (uint32_t)r->ntp);
		put32(p + 8, r->rtp_ts);
		put32(p + 12, r->packets);
		put32(p + 16, r->octets);
		p += RTCP_SR_LEN - RTCP_RR_LEN;
	}
	if (rc)
		write_block(p, &r->rb);
	return n;
}

int rl_rtcp_parse(const uint8_t *buf, size_t len, struct rl_rtcp *r)
{
	size_t off = 0;

	if (buf == NULL || len < 4 || len > RL_RTP_MAX_PACKET)
		return RL_EPROTO;
	/* Walk the compound packet: every part is version 2 and its length field (in 32-bit
	 * words minus one) must fit in what is left. */
	while (off < len) {
		if (len - off < 4)
			return RL_EPROTO;
		const uint8_t *p = buf + off;
		size_t plen = ((size_t)get16(p + 2) + 1) * 4;
		if ((p[0] >> 6) != 2 || plen > len - off)
			return RL_EPROTO;
		if (p[1] == RTCP_SR || p[1] == RTCP_RR) {
			int is_sr = p[1] == RTCP_SR;
			unsigned rc = p[0] & 0x1f;
			size_t fixed = is_sr ? RTCP_SR_LEN : RTCP_RR_LEN;
			if (plen < fixed + (size_t)rc * RTCP_RB_LEN)
				return RL_EPROTO;
			memset(r, 0, sizeof(*r));
			r->is_sr = is_sr;
			r->ssrc = get32(p + 4);
			if (is_sr) {
				r->ntp = (uint64_t)get32(p + 8) << 32 | get32(p + 12);
				r->rtp_ts = get32(p + 16);
				r->packets = get32(p + 20);
				r->octets = get32(p + 24);
			}
			if (rc) {
				r->has_report = 1;
				read_block(p + fixed, &r->rb);
			}
			return RL_OK;
		}
		off += plen;
	}
	return RL_ENOENT;
}

void rl_rtcp_fill_report(struct rl_rtp_rx *rx, uint32_t ssrc, uint64_t now_us, struct rl_rtcp_report *rb)
{
	uint64_t expected = rl_rtp_rx_expected(rx);
	int64_t lost = rl_rtp_rx_lost(rx);

	memset(rb, 0, sizeof(*rb));
	rb->ssrc = ssrc;
	/* A.3: fraction lost over the interval since the previous report, in 32-bit modular
	 * arithmetic like the prior counters themselves. */
	uint32_t exp_int = (uint32_t)expected - rx->expected_prior;
	uint32_t rec_int = (uint32_t)rx->received - rx->received_prior;
	rx->expected_prior = (uint32_t)expected;
	rx->received_prior = (uint32_t)rx->received;
	int64_t lost_int = (int64_t)exp_int - (int64_t)rec_int;
	if (exp_int != 0 && lost_int > 0)
		rb->fraction_lost = (uint8_t)(((uint64_t)lost_int << 8) / exp_int);
	if (lost > 0x7fffff)
		lost = 0x7fffff;
	if (lost < -0x800000)
		lost = -0x800000;
	rb->cum_lost = (int32_t)lost;
	rb->ext_max_seq = rx->cycles + rx->max_seq;
	rb->jitter = rx->jitter >= 4294967295.0 ? 0xffffffffu : (uint32_t)rx->jitter;
	if (rx->last_sr_ntp_mid != 0) {
		rb->lsr = rx->last_sr_ntp_mid;
		uint64_t d = now_us > rx->last_sr_recv_us ? now_us - rx->last_sr_recv_us : 0;
		/* 1/65536 s units; an SR older than 18 hours is not worth a DLSR. */
		rb->dlsr = d / 1000000u >= 65536u ? 0xffffffffu : (uint32_t)(d * 65536u / 1000000u);
	}
}

double rl_rtcp_rtt_ms(const struct rl_rtcp_report *rb, uint32_t now_ntp_mid)
{
	if (rb->lsr == 0)
		return -1;
	uint32_t since = now_ntp_mid - rb->lsr; /* modulo 2^32: middle bits wrap every 18 h */
	if (since < rb->dlsr || since - rb->dlsr >= 0x80000000u)
		return -1;
	return (double)(since - rb->dlsr) * 1000.0 / 65536.0;
}

uint64_t rl_ntp_now(void)
{
	uint64_t us = rl_wall_us();
	uint64_t sec = us / 1000000u + NTP_UNIX_OFFSET;
	uint64_t frac = ((us % 1000000u) << 32) / 1000000u;
	return sec << 32 | frac;
}
