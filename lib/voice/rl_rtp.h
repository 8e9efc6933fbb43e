/*
 * rl_rtp.h - RTP and RTCP packets (RFC 3550), receive statistics and round-trip time.
 *
 * Packets arrive from the network: every parse function bounds every length against the
 * buffer and refuses what does not fit (RL_EPROTO), never reading past len. RTCP is
 * multiplexed on the RTP port (RFC 5761): rl_rtp_is_rtcp tells them apart by payload type.
 */
#ifndef RL_RTP_H
#define RL_RTP_H

#include <stddef.h>
#include <stdint.h>

#define RL_RTP_HDR        12
#define RL_RTP_MAX_PACKET 1500 /* larger datagrams are dropped before parsing */

struct rl_rtp_hdr {
	uint8_t pt; /* payload type 0..127 */
	uint8_t marker;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	size_t hdr_len; /* fixed header + CSRCs + extension: payload starts here */
	size_t pay_len; /* payload bytes, padding removed */
};

/* rl_rtp_is_rtcp: 1 if the datagram looks like RTCP (version 2, PT 192..223), else 0. */
int rl_rtp_is_rtcp(const uint8_t *buf, size_t len);

/* rl_rtp_peek_ssrc reads the sender SSRC of an RTP (bytes 8..11) or RTCP (bytes 4..7)
 * datagram without further checks beyond version and length. Errors: RL_EPROTO. */
int rl_rtp_peek_ssrc(const uint8_t *buf, size_t len, uint32_t *ssrc);

/* rl_rtp_parse checks and reads an RTP header (version 2, CSRC count, extension and padding
 * lengths within len). Errors: RL_EPROTO. */
int rl_rtp_parse(const uint8_t *buf, size_t len, struct rl_rtp_hdr *h);

/* rl_rtp_write writes a 12-byte RTP header (no CSRC, no extension) into buf (cap >= 12)
 * and returns RL_RTP_HDR, or 0 if cap is too small. */
size_t rl_rtp_write(uint8_t *buf, size_t cap, uint8_t pt, int marker, uint16_t seq, uint32_t ts, uint32_t ssrc);

/* ---------------------------------------------------------------------------------------- */
/* Receive statistics (RFC 3550 A.1, A.3, A.8). */

struct rl_rtp_rx {
	int started;
	uint16_t max_seq;
	uint32_t cycles; /* seq wrap count << 16 */
	uint32_t base_seq;
	uint32_t bad_seq;
	uint32_t probation;
	uint64_t received; /* packets accepted by the sequence check */
	uint32_t expected_prior, received_prior;
	double jitter;       /* interarrival jitter, in timestamp units (RFC 3550 6.4.1) */
	int64_t transit;     /* last relative transit time */
	uint32_t clock_rate; /* RTP clock, e.g. 48000 for Opus, 8000 for G.711 */
	/* last SR from the peer, for LSR/DLSR in our reports */
	uint32_t last_sr_ntp_mid; /* middle 32 bits of its NTP timestamp */
	uint64_t last_sr_recv_us; /* our monotonic clock when it came */
};

/* rl_rtp_rx_init prepares stats for a source with the given RTP clock rate. */
void rl_rtp_rx_init(struct rl_rtp_rx *rx, uint32_t clock_rate);

/* rl_rtp_rx_update accounts one received packet (seq, RTP ts) that arrived at arrival_us
 * (monotonic). Returns 1 if the packet is valid by the sequence rules, 0 if it should be
 * dropped (probation, or a wild sequence jump). */
int rl_rtp_rx_update(struct rl_rtp_rx *rx, uint16_t seq, uint32_t ts, uint64_t arrival_us);

/* Derived figures. */
uint64_t rl_rtp_rx_expected(const struct rl_rtp_rx *rx);
int64_t rl_rtp_rx_lost(const struct rl_rtp_rx *rx); /* cumulative, may be < 0 with dups */
double rl_rtp_rx_jitter_ms(const struct rl_rtp_rx *rx);

/* ---------------------------------------------------------------------------------------- */
/* RTCP: one SR (or RR) with at most one report block, optionally followed by nothing else.
 * Enough to carry loss, jitter and the timestamps for round-trip time (RFC 3550 6.4). */

struct rl_rtcp_report {
	uint32_t ssrc;         /* the source this block reports on */
	uint8_t fraction_lost; /* since the previous report, /256 */
	int32_t cum_lost;      /* 24-bit signed */
	uint32_t ext_max_seq;
	uint32_t jitter; /* timestamp units */
	uint32_t lsr;    /* middle 32 bits of the last SR's NTP time, 0 if none */
	uint32_t dlsr;   /* delay since that SR, 1/65536 s */
};

struct rl_rtcp {
	int is_sr;
	uint32_t ssrc;            /* sender */
	uint64_t ntp;             /* SR: NTP timestamp (64-bit fixed point) */
	uint32_t rtp_ts;          /* SR */
	uint32_t packets, octets; /* SR: sender's counts */
	int has_report;
	struct rl_rtcp_report rb;
};

/* rl_rtcp_write builds the SR (if r->is_sr) or RR with r->has_report blocks (0 or 1) in buf;
 * returns its length, or 0 if cap is too small. */
size_t rl_rtcp_write(uint8_t *buf, size_t cap, const struct rl_rtcp *r);

/* rl_rtcp_parse reads the first SR or RR of a compound RTCP packet (other packet types in the
 * compound are skipped, lengths checked). Errors: RL_EPROTO, RL_ENOENT (no SR/RR in it). */
int rl_rtcp_parse(const uint8_t *buf, size_t len, struct rl_rtcp *r);

/* rl_rtcp_fill_report fills a report block about rx (fraction lost since the previous call,
 * which updates rx's prior counters) for sending at now_us. */
void rl_rtcp_fill_report(struct rl_rtp_rx *rx, uint32_t ssrc, uint64_t now_us, struct rl_rtcp_report *rb);

/* rl_rtcp_rtt_ms: round-trip time from a report block received at now_wall_ntp (our NTP
 * time, middle 32 bits): A - LSR - DLSR (RFC 3550 6.4.1), in ms; < 0 if not computable. */
double rl_rtcp_rtt_ms(const struct rl_rtcp_report *rb, uint32_t now_ntp_mid);

/* rl_ntp_now: the wall clock as a 64-bit NTP timestamp; rl_ntp_mid: its middle 32 bits. */
uint64_t rl_ntp_now(void);
static inline uint32_t rl_ntp_mid(uint64_t ntp)
{
	return (uint32_t)(ntp >> 16);
}

#endif
