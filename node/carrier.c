/*
 * carrier.c - the carrier's RTP leg: G.711 or Opus over plain RTP, RFC 4733 events,
 * rl_audio glue.
 *
 * The design is described in carrier.h. Layout of this file: the halfband filter and the
 * two resamplers (G.711 at 16 kHz); addresses; receive (drain, one datagram, audio,
 * repacketising, events); the source side (one frame out of the jitter buffer: G.711 with
 * our concealment, Opus with its FEC and PLC); the sink side (one packet per 20 ms,
 * outgoing events); the leg's life.
 *
 * Locking. Everything mutable in struct rl_carrier is under c->mu, taken by every entry
 * point for a bounded amount of work: a read drains at most CR_DRAIN_MAX datagrams (a flood
 * is left to the kernel, which drops what its buffer cannot hold) and plays one frame; a
 * write sends at most one packet per 20 ms of audio given. No call holds the lock while it
 * could block: the socket is non-blocking and every receive and send uses MSG_DONTWAIT.
 * The reference count is atomic and outside the lock.
 */
#define _GNU_SOURCE /* recvmmsg */
#include "carrier.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <opus/opus.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rl_addr.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_g711.h"
#include "rl_opus.h"
#include "rl_rtp.h"
#include "rl_time.h"

#define CR_FRAME        160  /* samples (bytes) per 20 ms at 8 kHz */
#define CR_MAX_MUL      2    /* src/sink rate / 8000 */
#define CR_BATCH        16   /* datagrams per recvmmsg */
#define CR_DRAIN_MAX    256  /* datagrams per read at most */
#define CR_SPLIT_MAX    9    /* a packet of up to 9 x 20 ms is split without repacketising */
#define CR_OPUS_FRAME   960  /* 20 ms at the Opus RTP clock */
#define CR_OPUS_MAX     1275 /* largest Opus frame (RFC 6716 3.4), our encoder's cap */
#define CR_OPUS_SILENCE 10   /* Opus packets this small carry silence or comfort noise */
/* Opus bitrate caps (VBR: speech averages about 3/4 of them). libopus 1.3 codes in-band FEC
 * at 5 % loss and complexity 5 only from about 19 kb/s narrowband and 25 kb/s wideband (its
 * decide_fec()); below, FEC is on in name only. Measured in tests/node/test_carrier.c. */
#define CR_OPUS_BPS_NB 22000
#define CR_OPUS_BPS_WB 28000

#define CR_HB_TAPS 63 /* halfband FIR: 4 * 16 - 1 taps, centre at 31 */
#define CR_HB_C    31
#define CR_HB_EVEN 32 /* the non-zero taps besides the centre: even indices */
#define CR_HB_BETA 7.0

#define CR_HIST         320 /* decoded history kept for concealment (40 ms) */
#define CR_PITCH_MIN    20  /* 400 Hz */
#define CR_PITCH_MAX    120 /* 66 Hz */
#define CR_PITCH_WIN    120
#define CR_PLC_FULL     80  /* concealment at full level for 10 ms */
#define CR_PLC_END      480 /* ... and silent from 60 ms */
#define CR_XFADE        40  /* 5 ms cross-fade from concealment back to audio */
#define CR_SILENCE_PEAK 64  /* frames whose peak is below this (-54 dBFS) are silence */

#define CR_DTMF_SEEN 16
#define CR_PRESSES   16      /* key presses remembered for pairing RFC 4733 with SIP INFO */
#define CR_DTMF_LONG 0xFF00u /* a segment this long may be continued by a new one */
#define CR_TXQ       16
#define CR_EV_GAP    3  /* frames of audio between two events we send */
#define CR_EV_VOLUME 10 /* -10 dBm0 */

static const char cr_digits[] = "0123456789*#ABCD";

struct cr_src {
	struct rl_audio_src base;
	struct rl_carrier *c;
};

struct cr_sink {
	struct rl_audio_sink base;
	struct rl_carrier *c;
};

struct cr_ev_key {
	uint32_t ssrc, ts;
};

/* A key press delivered, from RTP (an RFC 4733 event) or from signalling (SIP INFO). */
enum cr_path { CR_PATH_RTP, CR_PATH_SIP };

struct cr_press {
	uint64_t at; /* c->now clock, us */
	char digit;
	uint8_t path;   /* enum cr_path */
	uint8_t paired; /* its copy from the other path has come (and was dropped) */
};

struct rl_carrier {
	pthread_mutex_t mu;
	unsigned refs; /* atomic: owner, src, sink */
	struct cr_src src;
	struct cr_sink sink;
	struct rl_carrier_conf conf; /* conf.pt resolved (never -1) */
	unsigned mul;                /* G.711 resampling: conf.rate / 8000; 1 for Opus */
	unsigned fn;                 /* samples per 20 ms at conf.rate */
	uint32_t ts_frame;           /* RTP timestamp units per 20 ms: 160, or 960 for Opus */
	uint32_t ev_frame;           /* telephone-event duration units per 20 ms */
	uint32_t ev_span;            /* timestamp units per event unit, at least 1 */
	OpusEncoder *enc;            /* Opus only */
	OpusDecoder *dec;
	int fd, family, closed;
	unsigned port;
	uint64_t (*now)(void *arg);
	void *now_arg;

	/* addresses */
	struct sockaddr_storage sdp, learned;
	socklen_t sdp_len, learned_len; /* 0: none */
	int learning;
	int hold;

	/* receive: SSRC, jitter buffer, repacketiser */
	int have_ssrc;
	uint32_t ssrc, cand_ssrc;
	uint16_t cand_seq;
	unsigned cand_n;
	struct rl_jbuf_conf jbc;
	struct rl_jbuf *jb;
	struct rl_jbuf_stats jb_past; /* buffers of SSRCs no longer followed */
	uint8_t asm_buf[CR_FRAME];
	size_t asm_fill;
	uint32_t asm_ts, asm_next;
	uint16_t asm_seq;

	/* source side: decoded history, concealment, upsampler, output */
	int16_t hist[CR_HIST];
	int played;        /* a frame has been played: EMPTY now means a gap */
	unsigned conc_pos; /* samples concealed in the current loss, 0: none */
	unsigned pitch;
	int16_t pat[CR_PITCH_MAX]; /* the pitch period being repeated */
	float up_x[CR_HB_EVEN];    /* upsampler input ring */
	unsigned up_pos;
	int16_t out[CR_FRAME * CR_MAX_MUL];
	size_t out_pos, out_len;

	/* events received */
	struct cr_ev_key seen[CR_DTMF_SEEN];
	unsigned seen_n, seen_pos;
	int last_valid;
	struct cr_ev_key last;
	uint8_t last_code;
	uint16_t last_dur;
	char dq[RL_CARRIER_DTMF_QUEUE];
	unsigned dq_head, dq_n;
	struct cr_press press[CR_PRESSES];
	unsigned press_n, press_pos;

	/* sink side */
	uint32_t tx_ssrc, tx_ts;
	uint16_t tx_seq;
	int tx_marker;
	float dn_x[64]; /* downsampler input ring (power of two > taps) */
	unsigned dn_pos, dn_phase;
	int16_t tx_pcm[CR_FRAME * CR_MAX_MUL];
	size_t tx_fill, tx_n; /* samples per packet: 160 (after downsampling), or fn */

	/* events to send */
	struct {
		uint8_t code;
		uint16_t units;
	} txq[CR_TXQ];
	unsigned txq_head, txq_n;
	int ev_on, ev_first;
	uint8_t ev_code;
	uint32_t ev_ts, ev_dur, ev_len;
	unsigned ev_ends, ev_gap;

	struct rl_carrier_stats st;
};

/* ---------------------------------------------------------------------------------------- */
/* 2x resampling: one linear-phase halfband FIR                                              */

static float cr_hb[CR_HB_EVEN]; /* taps h[2j], j = 0..31; h[31] = 0.5; odd others 0 */
static pthread_once_t cr_hb_once = PTHREAD_ONCE_INIT;

static double cr_i0(double x)
{
	double s = 1, t = 1;

	/* I0(x) = sum (x/2)^2k / (k!)^2; 30 terms are plenty for x <= 10. */
	for (int k = 1; k < 30; k++) {
		t *= (x / (2 * k)) * (x / (2 * k));
		s += t;
	}
	return s;
}

static void cr_hb_init(void)
{
	double sum = 0, h[CR_HB_EVEN];

	for (int j = 0; j < CR_HB_EVEN; j++) {
		double d = 2 * j - CR_HB_C; /* odd: the sinc is non-zero there */
		double r = d / CR_HB_C;
		double w = cr_i0(CR_HB_BETA * sqrt(1 - r * r)) / cr_i0(CR_HB_BETA);
		h[j] = 0.5 * sin(M_PI * d / 2) / (M_PI * d / 2) * w;
		sum += h[j];
	}
	/* The even taps sum to exactly 0.5: unity gain at DC through either path. */
	for (int j = 0; j < CR_HB_EVEN; j++)
		cr_hb[j] = (float)(h[j] * 0.5 / sum);
}

static int16_t cr_clip(float v)
{
	if (v >= 32767.0f)
		return 32767;
	if (v <= -32768.0f)
		return -32768;
	return (int16_t)lrintf(v);
}

/* cr_up: 160 samples at 8 kHz into 320 at 16 kHz. Zero-stuffing then the halfband at twice
 * the gain: the output at 2m is 2 sum h[2j] x[m-j], the one at 2m+1 is x[m-15] (the centre
 * tap): 31 samples of delay at 16 kHz. */
static void cr_up(struct rl_carrier *c, const int16_t *in, int16_t *out)
{
	for (size_t m = 0; m < CR_FRAME; m++) {
		float acc = 0;
		c->up_pos = (c->up_pos + 1) & (CR_HB_EVEN - 1);
		c->up_x[c->up_pos] = in[m];
		for (unsigned j = 0; j < CR_HB_EVEN; j++)
			acc += cr_hb[j] * c->up_x[(c->up_pos - j) & (CR_HB_EVEN - 1)];
		out[2 * m] = cr_clip(2 * acc);
		out[2 * m + 1] = (int16_t)c->up_x[(c->up_pos - 15) & (CR_HB_EVEN - 1)];
	}
}

/* cr_down_push takes one 16 kHz sample; every second one it returns 1 with an 8 kHz sample
 * in *y: sum h[i] v[t-i] over the 63 taps (the even ones and the centre). */
static int cr_down_push(struct rl_carrier *c, int16_t v, int16_t *y)
{
	float acc;

	c->dn_pos = (c->dn_pos + 1) & 63;
	c->dn_x[c->dn_pos] = v;
	c->dn_phase ^= 1;
	if (c->dn_phase)
		return 0;
	acc = 0.5f * c->dn_x[(c->dn_pos - CR_HB_C) & 63];
	for (unsigned j = 0; j < CR_HB_EVEN; j++)
		acc += cr_hb[j] * c->dn_x[(c->dn_pos - 2 * j) & 63];
	*y = cr_clip(acc);
	return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* addresses                                                                                 */

static uint64_t cr_mono(void *arg)
{
	(void)arg;
	return rl_mono_us();
}

/* ---------------------------------------------------------------------------------------- */
/* receive                                                                                   */

static uint8_t cr_silence_byte(const struct rl_carrier *c)
{
	return c->conf.codec == RL_CARRIER_G711A ? 0xD5 : 0xFF;
}

static void cr_decode(const struct rl_carrier *c, int16_t *out, const uint8_t *in, size_t n)
{
	if (c->conf.codec == RL_CARRIER_G711A)
		rl_g711_alaw_decode(out, in, n);
	else
		rl_g711_ulaw_decode(out, in, n);
}

/* cr_put stores one 20 ms frame in the jitter buffer, flagged as silence if it is. */
static void cr_put(struct rl_carrier *c, uint16_t seq, uint32_t ts, const uint8_t *frame, uint64_t now)
{
	int16_t pcm[CR_FRAME];
	int peak = 0;

	cr_decode(c, pcm, frame, CR_FRAME);
	for (size_t i = 0; i < CR_FRAME; i++) {
		int a = pcm[i] < 0 ? -pcm[i] : pcm[i];
		if (a > peak)
			peak = a;
	}
	/* Late, duplicate or far ahead: the buffer counts it in its stats. */
	(void)rl_jbuf_put(c->jb, seq, ts, frame, CR_FRAME, peak < CR_SILENCE_PEAK, now);
}

/* cr_repack cuts a payload that is not a whole number of 20 ms frames into frames, joining
 * it with the partial frame left by the packet before if it follows on (by timestamp). */
static void cr_repack(struct rl_carrier *c, uint32_t ts, const uint8_t *p, size_t len, uint64_t now)
{
	size_t off = 0;

	if (c->asm_fill > 0 && ts != c->asm_next) {
		/* A gap or reordering: play what we have, padded with silence. */
		memset(c->asm_buf + c->asm_fill, cr_silence_byte(c), CR_FRAME - c->asm_fill);
		cr_put(c, c->asm_seq++, c->asm_ts, c->asm_buf, now);
		c->asm_fill = 0;
	}
	while (off < len) {
		size_t m = CR_FRAME - c->asm_fill;
		if (c->asm_fill == 0)
			c->asm_ts = ts + (uint32_t)off;
		if (m > len - off)
			m = len - off;
		memcpy(c->asm_buf + c->asm_fill, p + off, m);
		c->asm_fill += m;
		off += m;
		if (c->asm_fill == CR_FRAME) {
			cr_put(c, c->asm_seq++, c->asm_ts, c->asm_buf, now);
			c->asm_fill = 0;
		}
	}
	c->asm_next = ts + (uint32_t)len;
}

/* cr_follow switches to SSRC ssrc: a new stream, so a fresh jitter buffer. */
static void cr_follow(struct rl_carrier *c, uint32_t ssrc)
{
	struct rl_jbuf *jb;
	struct rl_jbuf_stats s;

	c->ssrc = ssrc;
	c->cand_n = 0;
	c->asm_fill = 0;
	c->st.ssrc_changes++;
	if (c->dec != NULL) /* the new stream's first packet must not be predicted from the old */
		opus_decoder_ctl(c->dec, OPUS_RESET_STATE);
	if (rl_jbuf_new(&jb, &c->jbc) != RL_OK)
		return; /* cannot happen: the same conf made the first buffer */
	rl_jbuf_stats(c->jb, &s);
	c->jb_past.put += s.put;
	c->jb_past.played += s.played;
	c->jb_past.fec += s.fec;
	c->jb_past.concealed += s.concealed;
	c->jb_past.late += s.late;
	c->jb_past.dup += s.dup;
	c->jb_past.ahead += s.ahead;
	c->jb_past.too_big += s.too_big;
	c->jb_past.dropped_silence += s.dropped_silence;
	rl_jbuf_free(c->jb);
	c->jb = jb;
}

static void cr_audio(struct rl_carrier *c, const struct rl_rtp_hdr *h, const uint8_t *p, uint64_t now)
{
	if (!c->have_ssrc) {
		c->have_ssrc = 1;
		c->ssrc = h->ssrc;
	} else if (h->ssrc != c->ssrc) {
		if (c->cand_n > 0 && h->ssrc == c->cand_ssrc && h->seq == (uint16_t)(c->cand_seq + 1)) {
			c->cand_n++;
		} else {
			c->cand_ssrc = h->ssrc;
			c->cand_n = 1;
		}
		c->cand_seq = h->seq;
		if (c->cand_n < RL_CARRIER_SSRC_SWITCH) {
			c->st.wrong_ssrc++;
			return;
		}
		cr_follow(c, h->ssrc);
	} else {
		c->cand_n = 0; /* the switch needs consecutive packets */
	}
	c->st.audio++;
	if (c->dec != NULL) {
		/* One 20 ms packet (cr_input checked), kept whole: FEC is read from the next one. */
		(void)rl_jbuf_put(c->jb, h->seq, h->ts, p, h->pay_len, h->pay_len <= CR_OPUS_SILENCE, now);
		return;
	}
	if (h->pay_len % CR_FRAME == 0 && h->pay_len / CR_FRAME <= CR_SPLIT_MAX && c->asm_fill == 0) {
		/* k frames: sequence numbers seq*k+i stay consecutive from packet to packet (and
		 * across the wrap) as long as k does, so duplicates and jumps are seen as such. */
		unsigned k = (unsigned)(h->pay_len / CR_FRAME);
		for (unsigned i = 0; i < k; i++)
			cr_put(c, (uint16_t)(h->seq * k + i), h->ts + i * CR_FRAME, p + i * CR_FRAME, now);
		return;
	}
	cr_repack(c, h->ts, p, h->pay_len, now);
}

static int cr_seen(struct rl_carrier *c, uint32_t ssrc, uint32_t ts)
{
	for (unsigned i = 0; i < c->seen_n; i++)
		if (c->seen[i].ssrc == ssrc && c->seen[i].ts == ts)
			return 1;
	c->seen[c->seen_pos].ssrc = ssrc;
	c->seen[c->seen_pos].ts = ts;
	c->seen_pos = (c->seen_pos + 1) % CR_DTMF_SEEN;
	if (c->seen_n < CR_DTMF_SEEN)
		c->seen_n++;
	return 0;
}

/*
 * cr_press_dup: 1 if digit, arriving at `now` by path, is the copy of a key press the other
 * path delivered already: the oldest press of the same digit from the other path within
 * RL_CARRIER_DTMF_PAIR_MS (either way) that has no copy yet, which then has it. Else the
 * press is remembered and 0 returned. Pairing one to one keeps a key pressed twice two
 * presses, and a carrier that uses one path only is never paired at all.
 */
static int cr_press_dup(struct rl_carrier *c, char digit, enum cr_path path, uint64_t now)
{
	struct cr_press *best = NULL;

	for (unsigned i = 0; i < c->press_n; i++) {
		struct cr_press *p = &c->press[i];
		uint64_t d = now > p->at ? now - p->at : p->at - now;
		if (p->path != path && !p->paired && p->digit == digit && d <= RL_CARRIER_DTMF_PAIR_MS * 1000ull &&
		    (best == NULL || p->at < best->at))
			best = p;
	}
	if (best != NULL) {
		best->paired = 1;
		c->st.dtmf_dup++;
		return 1;
	}
	c->press[c->press_pos] = (struct cr_press){.at = now, .digit = digit, .path = (uint8_t)path};
	c->press_pos = (c->press_pos + 1) % CR_PRESSES;
	if (c->press_n < CR_PRESSES)
		c->press_n++;
	return 0;
}

/* cr_digit hands a key press to whoever reads rl_carrier_dtmf, once whatever its path. */
static int cr_digit(struct rl_carrier *c, char digit, enum cr_path path, uint64_t now)
{
	if (cr_press_dup(c, digit, path, now))
		return RL_EEXIST;
	if (c->dq_n == RL_CARRIER_DTMF_QUEUE) {
		c->st.dtmf_overflow++;
		return RL_EFULL;
	}
	c->dq[(c->dq_head + c->dq_n++) % RL_CARRIER_DTMF_QUEUE] = digit;
	return RL_OK;
}

/* cr_event reads one telephone-event payload (RFC 4733 2.3): event, E|R|volume, duration. */
static void cr_event(struct rl_carrier *c, const struct rl_rtp_hdr *h, const uint8_t *p, uint64_t now)
{
	uint8_t code = p[0];
	uint16_t dur = (uint16_t)(p[2] << 8 | p[3]);
	int is_last = c->last_valid && c->last.ssrc == h->ssrc && c->last.ts == h->ts;

	c->st.dtmf_packets++;
	if (cr_seen(c, h->ssrc, h->ts)) {
		if (is_last && dur > c->last_dur)
			c->last_dur = dur;
		return; /* an update, an end packet, a retransmission or a duplicate */
	}
	if (code >= sizeof(cr_digits) - 1) {
		c->st.dtmf_other++;
		return;
	}
	/* A press longer than the duration field holds goes on in a new segment whose
	 * timestamp is the old one plus the old duration (RFC 4733 2.5.2.3): same digit. The
	 * timestamp may run on the audio's clock rather than the event's (see carrier.h). */
	if (c->last_valid && c->last.ssrc == h->ssrc && c->last_code == code && c->last_dur >= CR_DTMF_LONG) {
		uint32_t d = h->ts - c->last.ts;
		if (d > 0 && d <= (0x10000u + 2 * c->ev_frame) * c->ev_span) {
			c->last.ts = h->ts;
			c->last_dur = dur;
			return;
		}
	}
	c->last_valid = 1;
	c->last.ssrc = h->ssrc;
	c->last.ts = h->ts;
	c->last_code = code;
	c->last_dur = dur;
	c->st.dtmf_digits++;
	(void)cr_digit(c, cr_digits[code], CR_PATH_RTP, now);
}

/* cr_opus_check: RL_OK for a payload that parses as an Opus packet (TOC, frame count and
 * lengths: what the decoder relies on) of exactly 20 ms, RL_ERANGE for one of another
 * duration, RL_EPROTO for one that does not parse. */
static int cr_opus_check(const uint8_t *p, size_t len)
{
	const unsigned char *frames[48];
	opus_int16 size[48];
	unsigned char toc;
	int off, n = opus_packet_parse(p, (opus_int32)len, &toc, frames, size, &off);

	if (n <= 0)
		return RL_EPROTO;
	return n * opus_packet_get_samples_per_frame(p, RL_CARRIER_OPUS_CLOCK) == CR_OPUS_FRAME ? RL_OK : RL_ERANGE;
}

/* cr_input handles one datagram that arrived at `now` from `from` (fromlen 0: unknown). */
static void cr_input(struct rl_carrier *c, const uint8_t *buf, size_t len, const void *from, socklen_t fromlen,
                     uint64_t now)
{
	struct rl_rtp_hdr h;
	int is_ev, rv;

	c->st.rx++;
	if (len > RL_RTP_MAX_PACKET) {
		c->st.oversized++;
		return;
	}
	if (rl_rtp_is_rtcp(buf, len)) {
		c->st.rtcp++;
		return;
	}
	if (rl_rtp_parse(buf, len, &h) != RL_OK) {
		c->st.malformed++;
		return;
	}
	is_ev = c->conf.dtmf_pt >= 0 && h.pt == c->conf.dtmf_pt;
	if (h.pt != c->conf.pt && !is_ev) {
		c->st.wrong_pt++;
		return;
	}
	if (h.pay_len == 0 || (is_ev && h.pay_len < 4)) {
		c->st.malformed++;
		return;
	}
	/* Before learning from it: a packet we cannot play must not choose the source. */
	if (!is_ev && c->dec != NULL && (rv = cr_opus_check(buf + h.hdr_len, h.pay_len)) != RL_OK) {
		if (rv == RL_ERANGE)
			c->st.wrong_ptime++;
		else
			c->st.malformed++;
		return;
	}
	/* Strict RTP: learn the source of the first valid packet, then only listen to it. */
	if (from != NULL && fromlen > 0 && fromlen <= sizeof(c->learned)) {
		if (c->learning) {
			memcpy(&c->learned, from, fromlen);
			c->learned_len = fromlen;
			c->learning = 0;
		} else if (fromlen < rl_addr_len(c->learned.ss_family) ||
		           !rl_addr_equal((const struct sockaddr *)&c->learned, from)) {
			c->st.wrong_src++;
			return;
		}
	} else if (!c->learning) {
		c->st.wrong_src++;
		return;
	}
	if (is_ev)
		cr_event(c, &h, buf + h.hdr_len, now);
	else
		cr_audio(c, &h, buf + h.hdr_len, now);
}

/* cr_arrival: the monotonic time a datagram arrived, from its kernel wall-clock stamp. */
static uint64_t cr_arrival(struct msghdr *mh, uint64_t wall, uint64_t now)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			uint64_t at = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
			uint64_t age = wall > at ? wall - at : 0;
			if (age > 1000000u) /* a stepped clock, or a very long stall: cap it */
				age = 1000000u;
			return now > age ? now - age : 0;
		}
	}
	return now;
}

static void cr_drain(struct rl_carrier *c)
{
	static __thread uint8_t bufs[CR_BATCH][RL_RTP_MAX_PACKET + 1];
	static __thread union {
		char b[CMSG_SPACE(sizeof(struct timespec)) + 64];
		struct cmsghdr align;
	} ctl[CR_BATCH];
	struct mmsghdr msgs[CR_BATCH];
	struct iovec iov[CR_BATCH];
	struct sockaddr_storage from[CR_BATCH];
	unsigned total = 0;
	int n;

	if (c->fd < 0)
		return;
	do {
		for (int i = 0; i < CR_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]); /* one byte more than allowed: oversize shows */
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msgs[i].msg_hdr.msg_control = ctl[i].b;
			msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].b);
		}
		n = recvmmsg(c->fd, msgs, CR_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		uint64_t wall = rl_wall_us(), now = c->now(c->now_arg);
		for (int i = 0; i < n; i++) {
			size_t len = msgs[i].msg_len;
			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				len = RL_RTP_MAX_PACKET + 1;
			/* A replaced clock is not the kernel's: its drain time is the arrival. */
			cr_input(c, bufs[i], len, &from[i], msgs[i].msg_hdr.msg_namelen,
			         c->now == cr_mono ? cr_arrival(&msgs[i].msg_hdr, wall, now) : now);
		}
		total += (unsigned)n;
	} while (n == CR_BATCH && total < CR_DRAIN_MAX);
}

/* ---------------------------------------------------------------------------------------- */
/* source side                                                                               */

/* cr_pitch: the lag in [CR_PITCH_MIN, CR_PITCH_MAX] where the end of the history looks most
 * like itself one lag earlier (normalised autocorrelation). */
static unsigned cr_pitch(const int16_t *x)
{
	const int16_t *w = x + CR_HIST - CR_PITCH_WIN;
	double best = -2, e0 = 0;
	unsigned lag = CR_PITCH_MAX;

	for (unsigned i = 0; i < CR_PITCH_WIN; i++)
		e0 += (double)w[i] * w[i];
	if (e0 <= 0)
		return lag;
	for (unsigned l = CR_PITCH_MIN; l <= CR_PITCH_MAX; l++) {
		double num = 0, e1 = 0;
		for (unsigned i = 0; i < CR_PITCH_WIN; i++) {
			num += (double)w[i] * w[(int)i - (int)l];
			e1 += (double)w[(int)i - (int)l] * w[(int)i - (int)l];
		}
		double r = e1 > 0 ? num / sqrt(e0 * e1) : -1;
		if (r > best) {
			best = r;
			lag = l;
		}
	}
	return lag;
}

/* cr_conc_at: sample t of the current concealment (pitch repetition under a fade). */
static float cr_conc_at(const struct rl_carrier *c, unsigned t)
{
	float g;

	if (t >= CR_PLC_END)
		return 0;
	g = t < CR_PLC_FULL ? 1.0f : (float)(CR_PLC_END - t) / (float)(CR_PLC_END - CR_PLC_FULL);
	return g * c->pat[t % c->pitch];
}

static void cr_conceal(struct rl_carrier *c, int16_t *f)
{
	if (c->conc_pos == 0) {
		c->pitch = cr_pitch(c->hist);
		memcpy(c->pat, c->hist + CR_HIST - c->pitch, c->pitch * sizeof(c->pat[0]));
	}
	for (unsigned i = 0; i < CR_FRAME; i++)
		f[i] = cr_clip(cr_conc_at(c, c->conc_pos + i));
	/* Saturate well past the fade: the value only matters below CR_PLC_END. */
	if (c->conc_pos < CR_PLC_END + CR_FRAME)
		c->conc_pos += CR_FRAME;
	c->st.concealed++;
}

/* cr_frame_opus decodes the next 20 ms at the source's rate into c->out: the frame, or the
 * lost one rebuilt from the next packet's FEC, or the decoder's PLC. */
static void cr_frame_opus(struct rl_carrier *c, uint64_t now)
{
	uint8_t pay[RL_JBUF_MAX_PAYLOAD];
	size_t len = 0;
	int kind = rl_jbuf_get(c->jb, now, pay, sizeof(pay), &len), n;

	c->st.frames++;
	if (kind == RL_JB_FRAME) {
		n = opus_decode(c->dec, pay, (opus_int32)len, c->out, (int)c->fn, 0);
		c->played = 1;
	} else if (kind == RL_JB_FEC) {
		n = opus_decode(c->dec, pay, (opus_int32)len, c->out, (int)c->fn, 1);
		c->st.fec++;
	} else if (kind == RL_JB_EMPTY && !c->played) {
		n = 0; /* not started yet */
	} else {
		/* Lost without FEC, a sender's DTX pause, or the buffer growing its delay. */
		n = opus_decode(c->dec, NULL, 0, c->out, (int)c->fn, 0);
		c->st.concealed++;
	}
	/* A decode error cannot follow cr_opus_check's parse, but must not play garbage. The
	 * decoder runs on hold too, so that it resumes from where the stream is. */
	if (n != (int)c->fn || c->hold)
		memset(c->out, 0, c->fn * sizeof(c->out[0]));
	c->out_pos = 0;
	c->out_len = c->fn;
}

/* cr_frame produces the next 20 ms at the source's rate into c->out. */
static void cr_frame(struct rl_carrier *c, uint64_t now)
{
	uint8_t pay[RL_JBUF_MAX_PAYLOAD];
	int16_t f[CR_FRAME];
	size_t len = 0;
	int kind;

	if (c->dec != NULL) {
		cr_frame_opus(c, now);
		return;
	}
	kind = rl_jbuf_get(c->jb, now, pay, sizeof(pay), &len);
	c->st.frames++;
	if (kind == RL_JB_FRAME && len == CR_FRAME) {
		cr_decode(c, f, pay, CR_FRAME);
		if (c->conc_pos > 0) {
			/* Back from a loss: fade from where the concealment would have gone. */
			for (unsigned i = 0; i < CR_XFADE; i++) {
				float w = (float)(i + 1) / (CR_XFADE + 1);
				f[i] = cr_clip(w * f[i] + (1 - w) * cr_conc_at(c, c->conc_pos + i));
			}
			c->conc_pos = 0;
		}
		c->played = 1;
	} else if (kind == RL_JB_EMPTY && !c->played) {
		memset(f, 0, sizeof(f)); /* not started yet */
	} else {
		/* Lost, or the buffer holds a frame to grow its delay: G.711 has no FEC. */
		cr_conceal(c, f);
	}
	memmove(c->hist, c->hist + CR_FRAME, (CR_HIST - CR_FRAME) * sizeof(c->hist[0]));
	memcpy(c->hist + CR_HIST - CR_FRAME, f, sizeof(f));
	if (c->hold)
		memset(f, 0, sizeof(f)); /* the upsampler then rings into silence, not out of it */
	if (c->mul == 2)
		cr_up(c, f, c->out);
	else
		memcpy(c->out, f, sizeof(f));
	if (c->hold) /* ... but its tail of the audio before the hold must not be heard */
		memset(c->out, 0, sizeof(c->out));
	c->out_pos = 0;
	c->out_len = CR_FRAME * c->mul;
}

static int cr_read(struct rl_audio_src *s, int16_t *pcm, size_t n)
{
	struct rl_carrier *c = ((struct cr_src *)s)->c;
	size_t done = 0;
	unsigned k = 0;

	pthread_mutex_lock(&c->mu);
	if (c->closed) {
		pthread_mutex_unlock(&c->mu);
		memset(pcm, 0, n * sizeof(*pcm));
		return RL_ENOENT;
	}
	cr_drain(c);
	uint64_t now = c->now(c->now_arg);
	while (done < n) {
		if (c->out_len == 0)
			cr_frame(c, now + (uint64_t)k++ * RL_CARRIER_FRAME_MS * 1000u); /* each frame its due time */
		size_t m = n - done < c->out_len ? n - done : c->out_len;
		memcpy(pcm + done, c->out + c->out_pos, m * sizeof(*pcm));
		c->out_pos += m;
		c->out_len -= m;
		done += m;
	}
	pthread_mutex_unlock(&c->mu);
	return RL_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* sink side                                                                                 */

/* cr_dest: where packets go now, or NULL (no SDP yet). */
static const struct sockaddr_storage *cr_dest(const struct rl_carrier *c, socklen_t *len)
{
	if (c->sdp_len == 0)
		return NULL;
	if (c->conf.symmetric && c->learned_len > 0) {
		*len = c->learned_len;
		return &c->learned;
	}
	*len = c->sdp_len;
	return &c->sdp;
}

/* cr_send returns 1 if the datagram went out. */
static int cr_send(struct rl_carrier *c, const uint8_t *pkt, size_t len, const struct sockaddr_storage *to,
                   socklen_t tolen)
{
	if (c->fd >= 0 && sendto(c->fd, pkt, len, MSG_DONTWAIT, (const struct sockaddr *)to, tolen) == (ssize_t)len) {
		c->st.sent++;
		return 1;
	}
	c->st.send_fail++;
	return 0;
}

/* cr_send_event sends the next packet of the event in progress (RFC 4733 2.5.1): every
 * packet carries the event's start timestamp and the duration so far; the last one has the
 * E bit and goes out three times. */
static void cr_send_event(struct rl_carrier *c, const struct sockaddr_storage *to, socklen_t tolen)
{
	uint8_t pkt[RL_RTP_HDR + 4];
	size_t hl;

	if (c->ev_ends == 0) {
		c->ev_dur += c->ev_frame;
		if (c->ev_dur >= c->ev_len) {
			c->ev_dur = c->ev_len;
			c->ev_ends = 1;
		}
	} else {
		c->ev_ends++;
	}
	hl = rl_rtp_write(pkt, sizeof(pkt), (uint8_t)c->conf.dtmf_pt, c->ev_first, c->tx_seq++, c->ev_ts, c->tx_ssrc);
	pkt[hl] = c->ev_code;
	pkt[hl + 1] = (uint8_t)((c->ev_ends ? 0x80 : 0) | CR_EV_VOLUME);
	pkt[hl + 2] = (uint8_t)(c->ev_dur >> 8);
	pkt[hl + 3] = (uint8_t)c->ev_dur;
	c->ev_first = 0;
	c->tx_marker = 0;
	cr_send(c, pkt, hl + 4, to, tolen);
	if (c->ev_ends == 3) {
		c->ev_on = 0;
		c->ev_gap = CR_EV_GAP;
		c->st.dtmf_sent++;
	}
}

/* cr_send_frame sends 20 ms of audio (c->tx_n samples: 8 kHz for G.711, conf.rate for Opus)
 * as one packet, or the event in progress instead. */
static void cr_send_frame(struct rl_carrier *c, const int16_t *f)
{
	uint8_t pkt[RL_RTP_HDR + CR_OPUS_MAX];
	uint32_t ts = c->tx_ts;
	const struct sockaddr_storage *to;
	socklen_t tolen = 0;
	size_t plen = CR_FRAME;

	c->tx_ts += c->ts_frame; /* the media clock runs whether we send or not */
	if (c->hold || (to = cr_dest(c, &tolen)) == NULL) {
		c->tx_marker = 1;
		return;
	}
	if (!c->ev_on && c->txq_n > 0 && c->ev_gap == 0) {
		c->ev_on = 1;
		c->ev_first = 1;
		c->ev_code = c->txq[c->txq_head].code;
		c->ev_len = c->txq[c->txq_head].units;
		c->txq_head = (c->txq_head + 1) % CR_TXQ;
		c->txq_n--;
		c->ev_ts = ts;
		c->ev_dur = 0;
		c->ev_ends = 0;
	}
	if (c->ev_on) {
		cr_send_event(c, to, tolen);
		return;
	}
	if (c->ev_gap > 0)
		c->ev_gap--;
	if (c->enc != NULL) {
		int n = opus_encode(c->enc, f, (int)c->tx_n, pkt + RL_RTP_HDR, CR_OPUS_MAX);
		if (n <= 0) {
			c->st.send_fail++; /* nothing goes out, no sequence number is spent */
			return;
		}
		plen = (size_t)n;
	} else if (c->conf.codec == RL_CARRIER_G711A) {
		rl_g711_alaw_encode(pkt + RL_RTP_HDR, f, CR_FRAME);
	} else {
		rl_g711_ulaw_encode(pkt + RL_RTP_HDR, f, CR_FRAME);
	}
	rl_rtp_write(pkt, RL_RTP_HDR, (uint8_t)c->conf.pt, c->tx_marker, c->tx_seq++, ts, c->tx_ssrc);
	c->tx_marker = 0;
	if (cr_send(c, pkt, RL_RTP_HDR + plen, to, tolen))
		c->st.sent_bytes += plen;
}

static int cr_write(struct rl_audio_sink *s, const int16_t *pcm, size_t n)
{
	struct rl_carrier *c = ((struct cr_sink *)s)->c;

	pthread_mutex_lock(&c->mu);
	if (c->closed) {
		pthread_mutex_unlock(&c->mu);
		return RL_EIO;
	}
	for (size_t i = 0; i < n; i++) {
		int16_t y = pcm[i];
		if (c->mul == 2 && !cr_down_push(c, pcm[i], &y))
			continue;
		c->tx_pcm[c->tx_fill++] = y;
		if (c->tx_fill == c->tx_n) {
			cr_send_frame(c, c->tx_pcm);
			c->tx_fill = 0;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return RL_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* the leg                                                                                   */

static void cr_free(struct rl_carrier *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->enc != NULL)
		opus_encoder_destroy(c->enc);
	if (c->dec != NULL)
		opus_decoder_destroy(c->dec);
	rl_jbuf_free(c->jb);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static void cr_unref(struct rl_carrier *c)
{
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		cr_free(c);
}

static void cr_src_close(struct rl_audio_src *s)
{
	if (s != NULL)
		cr_unref(((struct cr_src *)s)->c);
}

static void cr_sink_close(struct rl_audio_sink *s)
{
	if (s != NULL)
		cr_unref(((struct cr_sink *)s)->c);
}

void rl_carrier_conf_default(struct rl_carrier_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->codec = RL_CARRIER_G711U;
	conf->pt = -1;
	conf->dtmf_pt = 101;
	conf->dtmf_clock = RL_CARRIER_CLOCK;
	conf->rate = 8000;
	conf->symmetric = 1;
	conf->jb_min_ms = 20;
	conf->jb_start_ms = 40;
	conf->jb_max_ms = 300;
	conf->jb_slots = 64;
}

/* cr_pt_ok: a payload type we may use: 0..127 but not 64..95, which would read as RTCP
 * with the marker bit (RFC 5761 4). */
static int cr_pt_ok(int pt)
{
	return pt >= 0 && pt <= 127 && (pt < 64 || pt > 95);
}

/* cr_opus_open creates the Opus encoder and decoder at the leg's (checked) rate; carrier.h
 * says why these settings. */
static void cr_opus_open(struct rl_carrier *c)
{
	rl_opus_open(c->conf.rate, OPUS_APPLICATION_VOIP, c->conf.rate == 16000 ? CR_OPUS_BPS_WB : CR_OPUS_BPS_NB,
	             &c->enc, &c->dec);
	opus_encoder_ctl(c->enc, OPUS_SET_DTX(0));
}

static void cr_random(void *p, size_t n)
{
	if (getrandom(p, n, GRND_NONBLOCK) != (ssize_t)n) {
		/* Not a secret: only needs to differ between legs (RFC 3550 8.1). */
		static unsigned ctr;
		uint64_t x = rl_mono_us() ^ ((uint64_t)getpid() << 32) ^
		             ((uint64_t)__atomic_add_fetch(&ctr, 1, __ATOMIC_RELAXED) * 0x9E3779B97F4A7C15ULL);
		for (size_t i = 0; i < n; i++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
			((uint8_t *)p)[i] = (uint8_t)(x >> 56);
	}
}

/* cr_bind binds fd on an even port of the range (from a random start), or on any port. */
static int cr_bind(struct rl_carrier *c, struct sockaddr_storage *ss, socklen_t len)
{
	unsigned lo = c->conf.port_min, hi = c->conf.port_max;
	uint32_t r;

	if (lo == 0 && hi == 0) {
		rl_addr_set_port((struct sockaddr *)ss, 0);
		return bind(c->fd, (struct sockaddr *)ss, len) == 0 ? RL_OK : RL_ENET;
	}
	lo += lo & 1;
	unsigned count = rl_carrier_port_legs(c->conf.port_min, c->conf.port_max);
	cr_random(&r, sizeof(r));
	for (unsigned i = 0; i < count; i++) {
		rl_addr_set_port((struct sockaddr *)ss, lo + 2 * ((r + i) % count));
		if (bind(c->fd, (struct sockaddr *)ss, len) == 0)
			return RL_OK;
		if (errno != EADDRINUSE && errno != EACCES)
			return RL_ENET;
	}
	return RL_EFULL;
}

/* cr_conf_ok: conf (its pt resolved) names a codec, payload types, an event clock, a rate and
 * a port range we can use. */
static int cr_conf_ok(const struct rl_carrier_conf *conf)
{
	return (conf->codec == RL_CARRIER_G711U || conf->codec == RL_CARRIER_G711A || conf->codec == RL_CARRIER_OPUS) &&
	       cr_pt_ok(conf->pt) && (conf->dtmf_pt == -1 || (cr_pt_ok(conf->dtmf_pt) && conf->dtmf_pt != conf->pt)) &&
	       (conf->dtmf_clock == 8000 || conf->dtmf_clock == 16000 || conf->dtmf_clock == 48000) &&
	       (conf->rate == 8000 || conf->rate == 16000) &&
	       (conf->port_max == 0 ? conf->port_min == 0 : rl_carrier_port_legs(conf->port_min, conf->port_max) > 0);
}

unsigned rl_carrier_port_legs(uint16_t port_min, uint16_t port_max)
{
	unsigned lo = port_min + (port_min & 1u);

	if (port_min == 0 && port_max == 0)
		return RL_CARRIER_LEGS_ANY;
	if (port_min == 0 || lo > port_max)
		return 0;
	return (port_max - lo) / 2 + 1;
}

/* cr_codec_open derives the leg's frame sizes and clocks from its conf and makes its jitter
 * buffer (and Opus states). Errors: RL_EINVAL (jitter buffer settings). */
static int cr_codec_open(struct rl_carrier *c)
{
	const struct rl_carrier_conf *conf = &c->conf;
	uint32_t clock = conf->codec == RL_CARRIER_OPUS ? RL_CARRIER_OPUS_CLOCK : RL_CARRIER_CLOCK;
	int rv;

	c->mul = conf->codec == RL_CARRIER_OPUS ? 1 : conf->rate / 8000;
	c->fn = conf->rate / 1000 * RL_CARRIER_FRAME_MS;
	c->tx_n = conf->codec == RL_CARRIER_OPUS ? c->fn : CR_FRAME;
	c->ts_frame = clock / 1000 * RL_CARRIER_FRAME_MS;
	c->ev_frame = conf->dtmf_clock / 1000 * RL_CARRIER_FRAME_MS;
	c->ev_span = clock > conf->dtmf_clock ? clock / conf->dtmf_clock : 1;
	c->jbc = (struct rl_jbuf_conf){.clock_rate = clock,
	                               .frame_ms = RL_CARRIER_FRAME_MS,
	                               .min_ms = conf->jb_min_ms,
	                               .start_ms = conf->jb_start_ms,
	                               .max_ms = conf->jb_max_ms,
	                               .slots = conf->jb_slots};
	if ((rv = rl_jbuf_new(&c->jb, &c->jbc)) != RL_OK)
		return rv;
	if (conf->codec == RL_CARRIER_OPUS)
		cr_opus_open(c);
	return RL_OK;
}

/* cr_socket_open makes the leg's UDP socket on bind_ip and a port of its range. Errors:
 * RL_EINVAL (bind_ip), RL_EFULL (no free port in the range), RL_ENET. */
static int cr_socket_open(struct rl_carrier *c, const char *bind_ip)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int rv, on = 1, off = 0;

	if ((rv = rl_addr_from_ip(bind_ip, 0, 0, &ss, &len)) != RL_OK)
		return rv;
	c->family = ss.ss_family;
	if ((c->fd = socket(c->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return RL_ENET;
	/* Kernel receive timestamps: the true arrival time of each packet for the jitter buffer. */
	setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
	if (c->family == AF_INET6)
		setsockopt(c->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if ((rv = cr_bind(c, &ss, len)) != RL_OK)
		return rv;
	len = sizeof(ss);
	if (getsockname(c->fd, (struct sockaddr *)&ss, &len) != 0)
		return RL_ENET;
	c->port = rl_addr_port((struct sockaddr *)&ss);
	return RL_OK;
}

/* cr_ends_init starts the sending stream at random and sets up the leg's audio source and
 * sink. */
static void cr_ends_init(struct rl_carrier *c)
{
	/* Random SSRC, first sequence number and timestamp (RFC 3550 5.1). */
	cr_random(&c->tx_ssrc, sizeof(c->tx_ssrc));
	cr_random(&c->tx_seq, sizeof(c->tx_seq));
	cr_random(&c->tx_ts, sizeof(c->tx_ts));
	c->pitch = CR_PITCH_MAX;
	c->src.base.read = cr_read;
	c->src.base.close = cr_src_close;
	c->src.base.rate = c->conf.rate;
	c->src.c = c;
	c->sink.base.write = cr_write;
	c->sink.base.close = cr_sink_close;
	c->sink.base.rate = c->conf.rate;
	c->sink.c = c;
}

int rl_carrier_open(struct rl_carrier **out, const char *bind_ip, const struct rl_carrier_conf *conf)
{
	struct rl_carrier *c;
	int rv;

	*out = NULL;
	pthread_once(&cr_hb_once, cr_hb_init);
	c = rl_calloc(1, sizeof(*c));
	c->fd = -1;
	c->refs = 1;
	c->now = cr_mono;
	c->learning = 1;
	c->tx_marker = 1;
	pthread_mutex_init(&c->mu, NULL);
	if (conf != NULL)
		c->conf = *conf;
	else
		rl_carrier_conf_default(&c->conf);
	if (c->conf.pt == -1 && c->conf.codec != RL_CARRIER_OPUS)
		c->conf.pt = c->conf.codec == RL_CARRIER_G711A ? RL_CARRIER_PT_PCMA : RL_CARRIER_PT_PCMU;
	if (!cr_conf_ok(&c->conf)) {
		rv = RL_EINVAL;
		goto fail;
	}
	if ((rv = cr_codec_open(c)) != RL_OK || (rv = cr_socket_open(c, bind_ip)) != RL_OK)
		goto fail;
	cr_ends_init(c);
	*out = c;
	return RL_OK;
fail:
	cr_free(c);
	return rv;
}

unsigned rl_carrier_port(const struct rl_carrier *c)
{
	return c->port;
}

int rl_carrier_set_peer(struct rl_carrier *c, const char *ip, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int rv;

	if (ip != NULL && (port == 0 || (rv = rl_addr_from_ip(ip, port, c->family, &ss, &len)) != RL_OK))
		return RL_EINVAL;
	pthread_mutex_lock(&c->mu);
	if (ip == NULL) {
		c->sdp_len = 0;
	} else {
		c->sdp = ss;
		c->sdp_len = len;
	}
	/* The media may have moved: learn its source again (the old one stays until then). */
	c->learning = 1;
	pthread_mutex_unlock(&c->mu);
	return RL_OK;
}

void rl_carrier_hold(struct rl_carrier *c, int on)
{
	pthread_mutex_lock(&c->mu);
	c->hold = on != 0;
	if (on)
		c->tx_marker = 1;
	pthread_mutex_unlock(&c->mu);
}

struct rl_audio_src *rl_carrier_src(struct rl_carrier *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return &c->src.base;
}

struct rl_audio_sink *rl_carrier_sink(struct rl_carrier *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return &c->sink.base;
}

int rl_carrier_put_dtmf(struct rl_carrier *c, char digit)
{
	const char *k = digit != '\0' ? strchr(cr_digits, digit) : NULL;
	int rv;

	if (k == NULL)
		return RL_EINVAL;
	pthread_mutex_lock(&c->mu);
	if (c->closed) {
		rv = RL_ECLOSED;
	} else {
		c->st.dtmf_info++;
		rv = cr_digit(c, digit, CR_PATH_SIP, c->now(c->now_arg));
	}
	pthread_mutex_unlock(&c->mu);
	return rv;
}

int rl_carrier_dtmf(struct rl_carrier *c, char *digit)
{
	int rv = RL_ENOENT;

	pthread_mutex_lock(&c->mu);
	if (c->dq_n > 0) {
		*digit = c->dq[c->dq_head];
		c->dq_head = (c->dq_head + 1) % RL_CARRIER_DTMF_QUEUE;
		c->dq_n--;
		rv = RL_OK;
	}
	pthread_mutex_unlock(&c->mu);
	return rv;
}

int rl_carrier_send_dtmf(struct rl_carrier *c, char digit, unsigned duration_ms)
{
	const char *p = digit != 0 ? strchr(cr_digits, digit) : NULL;
	unsigned per_ms = c->conf.dtmf_clock / 1000, max_ms = 0xFFFFu / per_ms;
	int rv = RL_OK;

	if (p == NULL || c->conf.dtmf_pt < 0)
		return RL_EINVAL;
	if (max_ms > 8000)
		max_ms = 8000;
	if (duration_ms < 40)
		duration_ms = 40;
	if (duration_ms > max_ms)
		duration_ms = max_ms; /* one segment: its duration field is 16 bits */
	pthread_mutex_lock(&c->mu);
	if (c->txq_n == CR_TXQ) {
		rv = RL_EFULL;
	} else {
		unsigned i = (c->txq_head + c->txq_n++) % CR_TXQ;
		c->txq[i].code = (uint8_t)(p - cr_digits);
		c->txq[i].units = (uint16_t)(duration_ms * per_ms);
	}
	pthread_mutex_unlock(&c->mu);
	return rv;
}

void rl_carrier_stats(struct rl_carrier *c, struct rl_carrier_stats *st)
{
	struct rl_jbuf_stats j;

	pthread_mutex_lock(&c->mu);
	*st = c->st;
	rl_jbuf_stats(c->jb, &j);
	st->jb = j;
	st->jb.put += c->jb_past.put;
	st->jb.played += c->jb_past.played;
	st->jb.fec += c->jb_past.fec;
	st->jb.concealed += c->jb_past.concealed;
	st->jb.late += c->jb_past.late;
	st->jb.dup += c->jb_past.dup;
	st->jb.ahead += c->jb_past.ahead;
	st->jb.too_big += c->jb_past.too_big;
	st->jb.dropped_silence += c->jb_past.dropped_silence;
	st->learned = c->learned_len > 0;
	if (st->learned)
		rl_addr_format((const struct sockaddr *)&c->learned, st->source, sizeof(st->source));
	else
		st->source[0] = 0;
	pthread_mutex_unlock(&c->mu);
}

int rl_carrier_inject(struct rl_carrier *c, const uint8_t *buf, size_t len, const void *from, unsigned fromlen)
{
	int rv = RL_OK;

	pthread_mutex_lock(&c->mu);
	if (c->closed)
		rv = RL_ECLOSED;
	else
		cr_input(c, buf, len, from, (socklen_t)fromlen, c->now(c->now_arg));
	if (rv == RL_OK && len > RL_RTP_MAX_PACKET)
		rv = RL_ETOOBIG;
	pthread_mutex_unlock(&c->mu);
	return rv;
}

void rl_carrier_set_clock(struct rl_carrier *c, uint64_t (*now)(void *arg), void *arg)
{
	pthread_mutex_lock(&c->mu);
	c->now = now != NULL ? now : cr_mono;
	c->now_arg = now != NULL ? arg : NULL;
	pthread_mutex_unlock(&c->mu);
}

void rl_carrier_close(struct rl_carrier *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->closed = 1;
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	pthread_mutex_unlock(&c->mu);
	cr_unref(c);
}
