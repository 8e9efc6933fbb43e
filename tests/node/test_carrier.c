/*
 * The carrier's RTP leg over real UDP on 127.0.0.1: audio in (PCMU, PCMA, 8 and 16 kHz,
 * packet times other than 20 ms, loss), audio out (headers and content), DTMF both ways,
 * SSRC switches, hold, strict and symmetric RTP, hostile datagrams, ports, threads and the
 * order in which owner, source and sink let go.
 *
 * Most audio tests pace the jitter buffer with a virtual clock (rl_carrier_set_clock) that
 * moves 20 ms per frame, so that a busy machine cannot shift the playout; one test runs on
 * the real clock (kernel receive timestamps, sleeps of 20 ms) and aligns block by block.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <opus/opus.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rl_audio.h"
#include "carrier.h"
#include "rl_err.h"
#include "rl_g711.h"
#include "rl_rtp.h"
#include "rltest.h"

#define FRAME 160
#define PT_EV 101

/* ---------------------------------------------------------------------------------------- */
/* fixtures */

static int udp_open(unsigned *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	RL_REQUIRE(fd >= 0);
	RL_REQUIRE(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	RL_REQUIRE(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* udp_send_raw returns 1 if sent; safe off the main thread (the RL_ tallies are not). */
static int udp_send_raw(int fd, unsigned port, const uint8_t *buf, size_t len)
{
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	return sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a)) == (ssize_t)len;
}

static void udp_send(int fd, unsigned port, const uint8_t *buf, size_t len)
{
	RL_REQUIRE(udp_send_raw(fd, port, buf, len));
}

static size_t rtp(uint8_t *buf, uint8_t pt, int marker, uint16_t seq, uint32_t ts, uint32_t ssrc, const uint8_t *pay,
                  size_t plen);

/* rtp_g711 builds a G.711 packet of n samples on payload type pt. */
static size_t rtp_g711(uint8_t *pkt, int codec, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc,
                       const int16_t *pcm, size_t n)
{
	uint8_t pay[1500];
	if (codec == RL_CARRIER_G711A)
		rl_g711_alaw_encode(pay, pcm, n);
	else
		rl_g711_ulaw_encode(pay, pcm, n);
	return rtp(pkt, pt, 0, seq, ts, ssrc, pay, n);
}

/* rtp_audio builds a G.711 packet on a static payload type: 8 is A-law, others mu-law. */
static size_t rtp_audio(uint8_t *pkt, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc, const int16_t *pcm,
                        size_t n)
{
	return rtp_g711(pkt, pt == RL_CARRIER_PT_PCMA ? RL_CARRIER_G711A : RL_CARRIER_G711U, pt, seq, ts, ssrc, pcm, n);
}

/* udp_recv waits up to ms for a datagram; returns its length or -1. */
static int udp_recv(int fd, uint8_t *buf, size_t cap, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, ms) != 1)
		return -1;
	return (int)recv(fd, buf, cap, MSG_DONTWAIT);
}

static size_t rtp(uint8_t *buf, uint8_t pt, int marker, uint16_t seq, uint32_t ts, uint32_t ssrc, const uint8_t *pay,
                  size_t plen)
{
	size_t hl = rl_rtp_write(buf, RL_RTP_HDR, pt, marker, seq, ts, ssrc);
	memcpy(buf + hl, pay, plen);
	return hl + plen;
}

static void send_g711(int fd, unsigned port, int codec, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc,
                      const int16_t *pcm, size_t n)
{
	uint8_t pkt[1600];
	udp_send(fd, port, pkt, rtp_g711(pkt, codec, pt, seq, ts, ssrc, pcm, n));
}

/* send_audio sends G.711 on a static payload type (0 or 8). */
static void send_audio(int fd, unsigned port, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc, const int16_t *pcm,
                       size_t n)
{
	uint8_t pkt[1600];
	udp_send(fd, port, pkt, rtp_audio(pkt, pt, seq, ts, ssrc, pcm, n));
}

static void send_event_pt(int fd, unsigned port, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc, int marker,
                          uint8_t code, int end, uint16_t dur)
{
	uint8_t pay[4] = {code, (uint8_t)((end ? 0x80 : 0) | 10), (uint8_t)(dur >> 8), (uint8_t)dur}, pkt[64];
	udp_send(fd, port, pkt, rtp(pkt, pt, marker, seq, ts, ssrc, pay, 4));
}

static void send_event(int fd, unsigned port, uint16_t seq, uint32_t ts, uint32_t ssrc, int marker, uint8_t code,
                       int end, uint16_t dur)
{
	send_event_pt(fd, port, PT_EV, seq, ts, ssrc, marker, code, end, dur);
}

static uint64_t vnow(void *arg)
{
	return *(uint64_t *)arg;
}

static struct rl_carrier *leg_open_conf(const struct rl_carrier_conf *conf)
{
	struct rl_carrier *c = NULL;

	RL_REQUIRE(rl_carrier_open(&c, "127.0.0.1", conf) == RL_OK);
	RL_REQUIRE(rl_carrier_port(c) > 0);
	return c;
}

/* leg_open: a leg of codec on payload type pt (-1: its static one). */
static struct rl_carrier *leg_open_pt(int codec, int pt, unsigned rate, int symmetric)
{
	struct rl_carrier_conf conf;

	rl_carrier_conf_default(&conf);
	conf.codec = codec;
	conf.pt = pt;
	conf.rate = rate;
	conf.symmetric = symmetric;
	return leg_open_conf(&conf);
}

static struct rl_carrier *leg_open(int codec, unsigned rate, int symmetric)
{
	return leg_open_pt(codec, -1, rate, symmetric);
}

static void tone(int16_t *x, size_t n, double hz, unsigned rate, double amp)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (int16_t)lrint(amp * sin(2 * M_PI * hz * (double)i / rate));
}

static void speech(int16_t *x, size_t n, unsigned rate, uint32_t seed)
{
	struct rl_audio_src *g;
	RL_REQUIRE(rl_audio_gen_src(&g, rate, seed, 0) == RL_OK);
	g->read(g, x, n);
	g->close(g);
}

static double corr_at(const int16_t *a, const int16_t *b, size_t n)
{
	double ab = 0, aa = 0, bb = 0;
	for (size_t i = 0; i < n; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

/* xcorr: the best normalised correlation of ref[0..n) against out[lag..lag+n), lag <= maxlag. */
static double xcorr(const int16_t *ref, size_t n, const int16_t *out, size_t nout, size_t maxlag, size_t *lag)
{
	double best = -1;
	for (size_t l = 0; l <= maxlag && l + n <= nout; l++) {
		double r = corr_at(ref, out + l, n);
		if (r > best) {
			best = r;
			*lag = l;
		}
	}
	return best;
}

/* xcorr_blocks aligns each block of `blk` samples on its own and returns the energy-weighted
 * mean correlation (for the real-time test, where a stall may shift the playout a frame). */
static double xcorr_blocks(const int16_t *ref, size_t n, const int16_t *out, size_t nout, size_t maxlag, size_t blk)
{
	double sum = 0, wsum = 0;
	for (size_t b = 0; b + blk <= n; b += blk) {
		double e = 0;
		size_t lag = 0;
		for (size_t i = 0; i < blk; i++)
			e += (double)ref[b + i] * ref[b + i];
		if (e < blk * 100.0 * 100.0)
			continue; /* near silence: no shape to compare */
		double r = xcorr(ref + b, blk, out + b, nout - b, maxlag, &lag);
		sum += e * r;
		wsum += e;
	}
	return wsum > 0 ? sum / wsum : 0;
}

static double sinc(double x)
{
	return fabs(x) < 1e-12 ? 1.0 : sin(M_PI * x) / (M_PI * x);
}

/* Reference 8 -> 16 kHz: windowed-sinc interpolation, 64 taps, independent of the leg's. */
static void ref_up(const int16_t *x, size_t n, int16_t *y)
{
	for (size_t m = 0; m < n; m++) {
		double acc = 0;
		y[2 * m] = x[m];
		for (int k = -31; k <= 32; k++) {
			long j = (long)m + k;
			if (j < 0 || j >= (long)n)
				continue;
			double d = (double)j - ((double)m + 0.5);
			acc += x[j] * sinc(d) * (0.5 + 0.5 * cos(M_PI * d / 32.5));
		}
		y[2 * m + 1] = (int16_t)lrint(acc);
	}
}

/* Reference 16 -> 8 kHz: windowed-sinc low-pass at 3.8 kHz, 129 taps, every other sample. */
static void ref_down(const int16_t *x, size_t n, int16_t *y)
{
	const double fc = 3800.0 / 8000.0; /* of Nyquist */
	for (size_t m = 0; m < n / 2; m++) {
		double acc = 0;
		for (int k = -64; k <= 64; k++) {
			long j = (long)(2 * m) - k;
			if (j < 0 || j >= (long)n)
				continue;
			acc += x[j] * fc * sinc(fc * k) * (0.5 + 0.5 * cos(M_PI * k / 65.0));
		}
		y[m] = (int16_t)lrint(acc);
	}
}

static int is_silent(const int16_t *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (x[i] != 0)
			return 0;
	return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* audio in */

/* rx_audio plays 0.4 s of a 1 kHz tone then 1.6 s of speech-like audio into a leg as RTP of
 * `ptime_ms` packets, dropping packet `drop_every`-th (0: none), and checks what the source
 * side returns against the original. Virtual clock, 10 ms steps. */
static void rx_audio(int codec, int pt, unsigned rate, unsigned ptime_ms, unsigned drop_every, double min_corr)
{
	const size_t n = 16000, tone_n = 3200;
	const unsigned mul = rate / 8000, per = ptime_ms * 8;
	int16_t *ref = calloc(n, sizeof(*ref)), *ref_r = calloc(n * mul, sizeof(*ref_r));
	size_t nout = n * mul + 40 * FRAME * mul, got = 0, lag = 0;
	int16_t *out = calloc(nout, sizeof(*out));
	struct rl_carrier *c = leg_open_pt(codec, pt, rate, 1);
	struct rl_audio_src *src = rl_carrier_src(c);
	struct rl_carrier_stats st, mid = {0};
	const uint8_t wire_pt = (uint8_t)(pt >= 0 ? pt : codec == RL_CARRIER_G711A ? 8 : 0);
	uint64_t clk = 1000000;
	unsigned sport, pkts = 0, dropped = 0;
	int fd = udp_open(&sport);

	RL_REQUIRE(ref && ref_r && out);
	RL_CHECK(src->rate == rate);
	rl_carrier_set_clock(c, vnow, &clk);
	tone(ref, tone_n, 1000, 8000, 8000);
	speech(ref + tone_n, n - tone_n, 8000, 7);
	/* 10 ms steps: a packet whenever one is due, a 20 ms read every second step. */
	for (unsigned step = 0; got + FRAME * mul <= nout; step++) {
		size_t at = (size_t)step * 80;
		if (at % per == 0 && at + per <= n) {
			if (drop_every && pkts % drop_every == drop_every / 2)
				dropped++;
			else
				send_g711(fd, rl_carrier_port(c), codec, wire_pt, (uint16_t)(100 + pkts),
				          5000 + (uint32_t)at, 0xabc, ref + at, per);
			pkts++;
		}
		if (step % 2 == 1) {
			RL_REQUIRE(src->read(src, out + got, FRAME * mul) == RL_OK);
			got += FRAME * mul;
			clk += 20000;
			/* With 20 ms packets the buffer plays at 40 ms: the last frame is out now. */
			if (got == (n / FRAME + 2) * FRAME * mul)
				rl_carrier_stats(c, &mid);
		}
	}
	if (mul == 2)
		ref_up(ref, n, ref_r);
	else
		memcpy(ref_r, ref, n * sizeof(*ref));
	/* The tone comes before the buffer has the 50 packets it needs to judge the jitter, so
	 * its playout delay is fixed; afterwards it may shrink by dropping a silent frame in a
	 * pause (rl_jbuf), so the whole is compared block by block (160 ms). */
	double rt = xcorr(ref_r, tone_n * mul, out, got, 200 * 8 * mul, &lag);
	double r = xcorr_blocks(ref_r, n * mul, out, got, 200 * 8 * mul, 1280 * mul);
	fprintf(stderr,
	        "rx codec=%d pt=%u rate=%u ptime=%u loss=1/%u: tone corr %.4f at %.1f ms, block-aligned corr %.4f\n",
	        codec, wire_pt, rate, ptime_ms, drop_every, rt, lag / (8.0 * mul), r);
	RL_CHECK(rt >= min_corr);
	RL_CHECK(r >= min_corr);
	RL_CHECK(lag <= (size_t)100 * 8 * mul); /* playout delay within reason */
	rl_carrier_stats(c, &st);
	fprintf(stderr,
	        "  when the last frame is due: frames %llu played %llu concealed %llu silence dropped %llu"
	        " late %llu delay %u ms\n",
	        (unsigned long long)mid.frames, (unsigned long long)mid.jb.played, (unsigned long long)mid.concealed,
	        (unsigned long long)mid.jb.dropped_silence, (unsigned long long)mid.jb.late, mid.jb.delay_ms);
	RL_CHECK(st.rx == pkts - dropped);
	RL_CHECK(st.audio == pkts - dropped);
	RL_CHECK(st.malformed == 0 && st.wrong_pt == 0 && st.wrong_src == 0 && st.wrong_ssrc == 0);
	RL_CHECK(st.frames == got / (FRAME * mul));
	if (ptime_ms == 20) {
		/* Each lost packet concealed once and nothing else concealed: no late packet, no
		 * hold. Each silent frame dropped plays the rest a frame earlier, so by now the
		 * stream has ended that many frames ago (concealed too). */
		RL_CHECK(mid.concealed == dropped + mid.jb.dropped_silence);
		RL_CHECK(mid.jb.played == n / FRAME - dropped - mid.jb.dropped_silence);
		RL_CHECK(mid.jb.dropped_silence <= 3);
		RL_CHECK(mid.jb.late == 0 && mid.jb.dup == 0);
	}
	src->close(src);
	rl_carrier_close(c);
	close(fd);
	free(ref);
	free(ref_r);
	free(out);
}

/* rx_realtime: the same over the real clock (kernel timestamps), paced by sleeps. */
static void rx_realtime(void)
{
	const size_t n = 12000, tone_n = 2400, nframes = n / FRAME;
	int16_t ref[12000], out[12000 + 30 * FRAME];
	struct rl_carrier *c = leg_open(RL_CARRIER_G711U, 8000, 1);
	struct rl_audio_src *src = rl_carrier_src(c);
	struct rl_carrier_stats st;
	struct timespec t;
	unsigned sport;
	int fd = udp_open(&sport);
	size_t got = 0;

	tone(ref, tone_n, 1000, 8000, 8000);
	speech(ref + tone_n, n - tone_n, 8000, 11);
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (size_t k = 0; k < nframes + 30; k++) {
		if (k < nframes)
			/* sequence number and timestamp wrap */
			send_audio(fd, rl_carrier_port(c), 0, (uint16_t)(65500 + k),
			           0xfffff000u + (uint32_t)(k * FRAME), 0x1234, ref + k * FRAME, FRAME);
		t.tv_nsec += 20000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_nsec -= 1000000000;
			t.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
		RL_REQUIRE(src->read(src, out + got, FRAME) == RL_OK);
		got += FRAME;
	}
	double r = xcorr_blocks(ref, n, out, got, 250 * 8, 1280);
	fprintf(stderr, "rx real time PCMU 8k: block-aligned corr %.4f\n", r);
	RL_CHECK(r >= 0.95);
	rl_carrier_stats(c, &st);
	RL_CHECK(st.audio == nframes);
	RL_CHECK(st.jb.played >= nframes - 3);
	src->close(src);
	rl_carrier_close(c);
	close(fd);
}

/* ---------------------------------------------------------------------------------------- */
/* audio out */

static void tx_audio(int codec, int pt, unsigned rate)
{
	const int wire_pt = pt >= 0 ? pt : codec == RL_CARRIER_G711A ? 8 : 0;
	const unsigned mul = rate / 8000, nf = 50;
	int16_t in[51 * FRAME * 2], ref[51 * FRAME], got[50 * FRAME];
	struct rl_carrier *c = leg_open_pt(codec, pt, rate, 1);
	struct rl_audio_sink *sink = rl_carrier_sink(c);
	struct rl_carrier_stats st;
	struct rl_rtp_hdr h, first = {0};
	uint8_t buf[2048];
	unsigned rport, n = 0, hdr_ok = 0;
	int fd = udp_open(&rport), len;
	size_t lag = 0;

	RL_CHECK(sink->rate == rate);
	speech(in, (nf + 1) * FRAME * mul, rate, 3);
	/* Nothing goes out before set_peer. */
	RL_CHECK(sink->write(sink, in, FRAME * mul) == RL_OK);
	RL_CHECK(udp_recv(fd, buf, sizeof(buf), 50) < 0);
	RL_REQUIRE(rl_carrier_set_peer(c, "127.0.0.1", rport) == RL_OK);
	for (unsigned k = 1; k <= nf; k++)
		RL_CHECK(sink->write(sink, in + k * FRAME * mul, FRAME * mul) == RL_OK);
	while (n < nf && (len = udp_recv(fd, buf, sizeof(buf), 1000)) > 0) {
		RL_REQUIRE(rl_rtp_parse(buf, (size_t)len, &h) == RL_OK);
		if (n == 0)
			first = h;
		hdr_ok += h.pt == wire_pt && h.pay_len == FRAME && h.ssrc == first.ssrc && h.marker == (n == 0) &&
		          h.seq == (uint16_t)(first.seq + n) && h.ts == first.ts + n * FRAME;
		if (codec == RL_CARRIER_G711A)
			rl_g711_alaw_decode(got + n * FRAME, buf + h.hdr_len, FRAME);
		else
			rl_g711_ulaw_decode(got + n * FRAME, buf + h.hdr_len, FRAME);
		n++;
	}
	RL_CHECK(n == nf);
	RL_CHECK(hdr_ok == nf);
	RL_CHECK(udp_recv(fd, buf, sizeof(buf), 50) < 0);
	if (mul == 2)
		ref_down(in, (nf + 1) * FRAME * 2, ref);
	else
		memcpy(ref, in, sizeof(ref));
	/* The frame written before set_peer was not sent: what we got starts one frame in
	 * (at 16 kHz, 15 samples later: the halfband's delay). */
	double r = xcorr(ref + FRAME, (nf - 2) * FRAME, got, n * FRAME, 40, &lag);
	fprintf(stderr, "tx codec=%d pt=%d rate=%u: corr %.4f lag %zu\n", codec, wire_pt, rate, r, lag);
	RL_CHECK(r >= (mul == 1 ? 0.99 : 0.95));
	RL_CHECK(mul == 1 ? lag == 0 : lag == 15);
	rl_carrier_stats(c, &st);
	RL_CHECK(st.sent == nf && st.send_fail == 0);
	RL_CHECK(st.sent_bytes == nf * FRAME);
	sink->close(sink);
	rl_carrier_close(c);
	close(fd);
}

/* Two legs back to back (A's sink sends to B's source), PCMA, on the virtual clock. */
static void loopback_pcma(void)
{
	const size_t nf = 100;
	int16_t in[100 * FRAME], out[130 * FRAME];
	struct rl_carrier *a = leg_open(RL_CARRIER_G711A, 8000, 1), *b = leg_open(RL_CARRIER_G711A, 8000, 1);
	struct rl_audio_sink *sink = rl_carrier_sink(a);
	struct rl_audio_src *src = rl_carrier_src(b);
	struct rl_carrier_stats st;
	uint64_t clk = 5000000;
	char want[64];

	rl_carrier_set_clock(b, vnow, &clk);
	speech(in, nf * FRAME, 8000, 21);
	RL_REQUIRE(rl_carrier_set_peer(a, "127.0.0.1", rl_carrier_port(b)) == RL_OK);
	RL_REQUIRE(rl_carrier_set_peer(b, "127.0.0.1", rl_carrier_port(a)) == RL_OK);
	for (size_t k = 0; k < nf + 30; k++) {
		if (k < nf)
			RL_CHECK(sink->write(sink, in + k * FRAME, FRAME) == RL_OK);
		RL_CHECK(src->read(src, out + k * FRAME, FRAME) == RL_OK);
		clk += 20000;
	}
	double r = xcorr_blocks(in, nf * FRAME, out, (nf + 30) * FRAME, 200 * 8, 1280);
	fprintf(stderr, "loopback PCMA: block-aligned corr %.4f\n", r);
	RL_CHECK(r >= 0.95);
	rl_carrier_stats(b, &st);
	RL_CHECK(st.audio == nf);
	RL_CHECK(st.learned == 1);
	snprintf(want, sizeof(want), "127.0.0.1:%u", rl_carrier_port(a));
	RL_CHECK(strcmp(st.source, want) == 0);
	sink->close(sink);
	src->close(src);
	rl_carrier_close(a);
	rl_carrier_close(b);
}

/* ---------------------------------------------------------------------------------------- */
/* DTMF */

static void take_digits(struct rl_carrier *c, char *s, size_t cap)
{
	size_t n = 0;
	char d;
	while (n + 1 < cap && rl_carrier_dtmf(c, &d) == RL_OK)
		s[n++] = d;
	s[n] = 0;
}

static void dtmf_rx(void)
{
	struct rl_carrier *c = leg_open(RL_CARRIER_G711U, 8000, 1);
	struct rl_audio_src *src = rl_carrier_src(c);
	struct rl_carrier_stats st;
	int16_t pcm[FRAME] = {0};
	uint8_t pkt[64];
	unsigned sport, p;
	int fd = udp_open(&sport);
	uint16_t seq = 7;
	const uint32_t S = 0x5151;
	char got[64];

	p = rl_carrier_port(c);
	RL_CHECK(rl_carrier_dtmf(c, got) == RL_ENOENT);
	send_audio(fd, p, 0, seq++, 0, S, pcm, FRAME);
	send_audio(fd, p, 0, seq++, 160, S, pcm, FRAME);
	/* "1" at ts 320: start, two updates, three end packets. */
	send_event(fd, p, seq++, 320, S, 1, 1, 0, 160);
	send_event(fd, p, seq++, 320, S, 0, 1, 0, 320);
	send_event(fd, p, seq++, 320, S, 0, 1, 0, 480);
	for (int i = 0; i < 3; i++)
		send_event(fd, p, seq++, 320, S, 0, 1, 1, 640);
	send_audio(fd, p, 0, seq++, 960, S, pcm, FRAME);
	/* "#" at ts 1120: the start is lost; an end packet is duplicated (same sequence). */
	seq++;
	send_event(fd, p, seq++, 1120, S, 0, 11, 0, 320);
	send_event(fd, p, seq++, 1120, S, 0, 11, 0, 480);
	send_event(fd, p, seq++, 1120, S, 0, 11, 1, 640);
	send_event(fd, p, (uint16_t)(seq - 1), 1120, S, 0, 11, 1, 640);
	send_event(fd, p, seq++, 1120, S, 0, 11, 1, 640);
	send_event(fd, p, seq++, 1120, S, 0, 11, 1, 640);
	/* "5" at ts 2000, then a late retransmission of "1"'s end. */
	send_event(fd, p, seq++, 2000, S, 1, 5, 0, 160);
	send_event(fd, p, seq++, 2000, S, 0, 5, 1, 320);
	send_event(fd, p, seq++, 2000, S, 0, 5, 1, 320);
	send_event(fd, p, seq++, 2000, S, 0, 5, 1, 320);
	send_event(fd, p, (uint16_t)(seq - 12), 320, S, 0, 1, 1, 640);
	/* Flash (event 16) is not a digit; a 2-byte event payload is malformed. */
	send_event(fd, p, seq++, 3000, S, 1, 16, 0, 160);
	send_event(fd, p, seq++, 3000, S, 0, 16, 1, 320);
	udp_send(fd, p, pkt, rtp(pkt, PT_EV, 0, seq++, 3500, S, (const uint8_t *)"\x05\x80", 2));
	RL_CHECK(src->read(src, pcm, FRAME) == RL_OK);
	take_digits(c, got, sizeof(got));
	fprintf(stderr, "dtmf rx: \"%s\"\n", got);
	RL_CHECK(strcmp(got, "1#5") == 0);
	rl_carrier_stats(c, &st);
	RL_CHECK(st.dtmf_digits == 3);
	RL_CHECK(st.dtmf_other == 1);
	RL_CHECK(st.malformed == 1);
	RL_CHECK(st.dtmf_packets == 19);

	/* A long press split into two segments (duration full) is one digit; a second press of
	 * the same key is another. Events on an SSRC of their own are accepted. */
	send_event(fd, p, seq++, 10000, 0x777, 1, 9, 0, 160);
	send_event(fd, p, seq++, 10000, 0x777, 0, 9, 0, 0xffff);
	send_event(fd, p, seq++, 10000 + 0xffff, 0x777, 0, 9, 0, 160);
	send_event(fd, p, seq++, 10000 + 0xffff, 0x777, 0, 9, 1, 800);
	send_event(fd, p, seq++, 10000 + 0xffff, 0x777, 0, 9, 1, 800);
	send_event(fd, p, seq++, 10000 + 0xffff + 1600, 0x777, 1, 9, 0, 160);
	send_event(fd, p, seq++, 10000 + 0xffff + 1600, 0x777, 0, 9, 1, 480);
	RL_CHECK(src->read(src, pcm, FRAME) == RL_OK);
	take_digits(c, got, sizeof(got));
	RL_CHECK(strcmp(got, "99") == 0);

	/* Nobody takes the digits: the queue keeps the first RL_CARRIER_DTMF_QUEUE, counts the rest. */
	for (unsigned i = 0; i < RL_CARRIER_DTMF_QUEUE + 4; i++)
		send_event(fd, p, seq++, 100000 + i * 1000, S, 1, (uint8_t)(i % 16), 1, 400);
	RL_CHECK(src->read(src, pcm, FRAME) == RL_OK);
	take_digits(c, got, sizeof(got));
	RL_CHECK(strlen(got) == RL_CARRIER_DTMF_QUEUE);
	RL_CHECK(strncmp(got, "0123456789*#ABCD0123", 20) == 0);
	rl_carrier_stats(c, &st);
	RL_CHECK(st.dtmf_overflow == 4);
	src->close(src);
	rl_carrier_close(c);
	close(fd);
}

/* Events we send: the packets on the wire, and another leg decoding them. */
static void dtmf_tx(void)
{
	struct rl_carrier *a = leg_open(RL_CARRIER_G711U, 8000, 1), *b = leg_open(RL_CARRIER_G711U, 8000, 1);
	struct rl_audio_sink *sink = rl_carrier_sink(a);
	struct rl_audio_src *src = rl_carrier_src(b);
	struct rl_carrier_stats st;
	struct rl_rtp_hdr h[12];
	int16_t pcm[FRAME] = {0};
	uint8_t buf[12][256];
	unsigned rport, n = 0, ok = 0;
	int fd = udp_open(&rport), len;
	char got[16];

	RL_CHECK(rl_carrier_send_dtmf(a, 'x', 100) == RL_EINVAL);
	RL_CHECK(rl_carrier_send_dtmf(a, 0, 100) == RL_EINVAL);
	/* On the wire: 100 ms of '3' = 5 packets (durations 160..800), the last three times. */
	RL_REQUIRE(rl_carrier_set_peer(a, "127.0.0.1", rport) == RL_OK);
	RL_CHECK(sink->write(sink, pcm, FRAME) == RL_OK);
	RL_CHECK(rl_carrier_send_dtmf(a, '3', 100) == RL_OK);
	for (int i = 0; i < 9; i++)
		RL_CHECK(sink->write(sink, pcm, FRAME) == RL_OK);
	while (n < 10 && (len = udp_recv(fd, buf[n], sizeof(buf[n]), 1000)) > 0)
		if (rl_rtp_parse(buf[n], (size_t)len, &h[n]) == RL_OK)
			n++;
	RL_REQUIRE(n == 10);
	RL_CHECK(h[0].pt == 0 && h[0].marker == 1);
	for (unsigned i = 1; i <= 7; i++) {
		const uint8_t *e = buf[i] + h[i].hdr_len;
		unsigned dur = (unsigned)e[2] << 8 | e[3];
		ok += h[i].pt == PT_EV && h[i].pay_len == 4 && e[0] == 3 && h[i].marker == (i == 1) &&
		      h[i].ts == h[0].ts + 160 && h[i].seq == (uint16_t)(h[0].seq + i) &&
		      (e[1] & 0x80) == (i >= 5 ? 0x80 : 0) && dur == (i >= 5 ? 800 : 160 * i);
	}
	RL_CHECK(ok == 7);
	RL_CHECK(h[8].pt == 0 && h[8].ts == h[0].ts + 8 * 160 && h[8].seq == (uint16_t)(h[0].seq + 8));
	rl_carrier_stats(a, &st);
	RL_CHECK(st.dtmf_sent == 1);

	/* To another leg: three digits, each decoded once. */
	RL_REQUIRE(rl_carrier_set_peer(a, "127.0.0.1", rl_carrier_port(b)) == RL_OK);
	RL_CHECK(rl_carrier_send_dtmf(a, '7', 100) == RL_OK);
	RL_CHECK(rl_carrier_send_dtmf(a, '*', 60) == RL_OK);
	RL_CHECK(rl_carrier_send_dtmf(a, 'D', 10) == RL_OK); /* clamped to 40 ms */
	for (int i = 0; i < 40; i++)
		RL_CHECK(sink->write(sink, pcm, FRAME) == RL_OK);
	RL_CHECK(src->read(src, pcm, FRAME) == RL_OK);
	take_digits(b, got, sizeof(got));
	fprintf(stderr, "dtmf tx -> rx: \"%s\"\n", got);
	RL_CHECK(strcmp(got, "7*D") == 0);
	for (int i = 0; i < 16; i++)
		rl_carrier_send_dtmf(a, '1', 40);
	RL_CHECK(rl_carrier_send_dtmf(a, '1', 40) == RL_EFULL);
	sink->close(sink);
	src->close(src);
	rl_carrier_close(a);
	rl_carrier_close(b);
	close(fd);
}

/* ---------------------------------------------------------------------------------------- */
/* SSRC, hold, addresses */

static void ssrc_change(void)
{
	const size_t nf = 60;
	int16_t x[60 * FRAME], out[80 * FRAME];
	struct rl_carrier *c = leg_open(RL_CARRIER_G711U, 8000, 1);
	struct rl_audio_src *src = rl_carrier_src(c);
	struct rl_carrier_stats st;
	uint64_t clk = 7000000;
	unsigned sport;
	int fd = udp_open(&sport);
	size_t lag = 0;

	rl_carrier_set_clock(c, vnow, &clk);
	speech(x, nf * FRAME, 8000, 5);
	for (size_t k = 0; k < nf + 20; k++) {
		if (k < 30)
			send_audio(fd, rl_carrier_port(c), 0, (uint16_t)(1000 + k), 5000 + (uint32_t)k * FRAME, 0xaaaa,
			           x + k * FRAME, FRAME);
		else if (k < nf) /* re-INVITE: a new SSRC, its own sequence and timestamps */
			send_audio(fd, rl_carrier_port(c), 0, (uint16_t)(40000 + k), 900000000 + (uint32_t)k * FRAME,
			           0xbbbb, x + k * FRAME, FRAME);
		if (k == 15) /* one stray packet of another SSRC is not followed */
			send_audio(fd, rl_carrier_port(c), 0, 7, 123456, 0xcccc, x, FRAME);
		RL_CHECK(src->read(src, out + k * FRAME, FRAME) == RL_OK);
		clk += 20000;
	}
	rl_carrier_stats(c, &st);
	RL_CHECK(st.ssrc_changes == 1);
	RL_CHECK(st.wrong_ssrc == 1 + (RL_CARRIER_SSRC_SWITCH - 1));
	RL_CHECK(st.audio == nf - (RL_CARRIER_SSRC_SWITCH - 1));
	/* The first stream played through, and the second one after the switch. */
	double r1 = xcorr(x + 2 * FRAME, 25 * FRAME, out, 40 * FRAME, 8 * FRAME, &lag);
	double r2 = xcorr(x + 36 * FRAME, 20 * FRAME, out + 30 * FRAME, 50 * FRAME, 16 * FRAME, &lag);
	fprintf(stderr, "ssrc change: corr before %.4f after %.4f\n", r1, r2);
	RL_CHECK(r1 >= 0.95);
	RL_CHECK(r2 >= 0.95);
	src->close(src);
	rl_carrier_close(c);
	close(fd);
}

static void hold(unsigned rate)
{
	const size_t fn = FRAME * (rate / 8000);
	struct rl_carrier *c = leg_open(RL_CARRIER_G711U, rate, 1);
	struct rl_audio_sink *sink = rl_carrier_sink(c);
	struct rl_audio_src *src = rl_carrier_src(c);
	struct rl_carrier_stats st;
	struct rl_rtp_hdr h, last = {0};
	int16_t pcm[2 * FRAME], out[2 * FRAME], in[FRAME];
	uint8_t buf[256];
	uint64_t clk = 1000000;
	unsigned rport, n = 0, k = 0;
	int fd = udp_open(&rport), len, silent = 1;

	rl_carrier_set_clock(c, vnow, &clk);
	tone(pcm, fn, 1000, rate, 8000);
	tone(in, FRAME, 1000, 8000, 8000);
	RL_REQUIRE(rl_carrier_set_peer(c, "127.0.0.1", rport) == RL_OK);
	/* A call in progress: audio both ways (the caller sends from where we send to). */
	for (int i = 0; i < 5; i++, k++) {
		RL_CHECK(sink->write(sink, pcm, fn) == RL_OK);
		send_audio(fd, rl_carrier_port(c), 0, (uint16_t)k, k * FRAME, 9, in, FRAME);
		RL_CHECK(src->read(src, out, fn) == RL_OK);
		clk += 20000;
	}
	RL_CHECK(!is_silent(out, fn));
	while ((len = udp_recv(fd, buf, sizeof(buf), 200)) > 0 && rl_rtp_parse(buf, (size_t)len, &last) == RL_OK)
		if (++n == 5)
			break;
	RL_CHECK(n == 5);
	rl_carrier_hold(c, 1);
	for (int i = 0; i < 10; i++, k++) {
		RL_CHECK(sink->write(sink, pcm, fn) == RL_OK);
		/* The caller's audio still arrives, but the agent hears nothing - from the first
		 * sample of the hold (at 16 kHz, not even the resampler's tail). */
		send_audio(fd, rl_carrier_port(c), 0, (uint16_t)k, k * FRAME, 9, in, FRAME);
		RL_CHECK(src->read(src, out, fn) == RL_OK);
		silent &= is_silent(out, fn);
		clk += 20000;
	}
	RL_CHECK(silent);
	RL_CHECK(udp_recv(fd, buf, sizeof(buf), 100) < 0);
	rl_carrier_hold(c, 0);
	RL_CHECK(sink->write(sink, pcm, fn) == RL_OK);
	len = udp_recv(fd, buf, sizeof(buf), 1000);
	RL_REQUIRE(len > 0 && rl_rtp_parse(buf, (size_t)len, &h) == RL_OK);
	/* Resumed: marker set, the next sequence number, the timestamp ran on through the hold. */
	RL_CHECK(h.marker == 1);
	RL_CHECK(h.seq == (uint16_t)(last.seq + 1));
	RL_CHECK(h.ts == last.ts + 11 * FRAME);
	send_audio(fd, rl_carrier_port(c), 0, (uint16_t)k, k * FRAME, 9, in, FRAME);
	RL_CHECK(src->read(src, out, fn) == RL_OK);
	RL_CHECK(!is_silent(out, fn));
	rl_carrier_stats(c, &st);
	RL_CHECK(st.sent == 6);
	RL_CHECK(st.audio == 16);
	sink->close(sink);
	src->close(src);
	rl_carrier_close(c);
	close(fd);
}

/* Strict RTP (only the learned source is heard), symmetric RTP (we answer it), and
 * nothing sent before set_peer. */
static void latching(void)
{
	struct rl_carrier *c = leg_open(RL_CARRIER_G711U, 8000, 1), *d = leg_open(RL_CARRIER_G711U, 8000, 0);
	struct rl_audio_sink *sink = rl_carrier_sink(c), *dsink = rl_carrier_sink(d);
	struct rl_audio_src *src = rl_carrier_src(c), *dsrc = rl_carrier_src(d);
	struct rl_carrier_stats st;
	int16_t pcm[FRAME] = {0};
	uint8_t buf[256];
	unsigned pp, bp, xp;
	int pfd = udp_open(&pp), bfd = udp_open(&bp), xfd = udp_open(&xp);
	char want[64], dg;

	/* Before set_peer: a source is learned, but nothing is sent to it. */
	send_audio(bfd, rl_carrier_port(c), 0, 1, 0, 1, pcm, FRAME);
	RL_CHECK(src->read(src, pcm, FRAME) == RL_OK);
	RL_CHECK(sink->write(sink, pcm, FRAME) == RL_OK);
	RL_CHECK(udp_recv(bfd, buf, sizeof(buf), 50) < 0);
	rl_carrier_stats(c, &st);
	RL_CHECK(st.learned == 1 && st.sent == 0);
	snprintf(want, sizeof(want), "127.0.0.1:%u", bp);
	RL_CHECK(strcmp(st.source, want) == 0);

	/* SDP says P; media comes from B (NAT): symmetric RTP answers B. */
	RL_REQUIRE(rl_carrier_set_peer(c, "127.0.0.1", pp) == RL_OK);
	RL_CHECK(sink->write(sink, pcm, FRAME) == RL_OK);
	RL_CHECK(udp_recv(bfd, buf, sizeof(buf), 500) > 0); /* the old source, until a new one */
	send_audio(bfd, rl_carrier_port(c), 0, 2, 160, 1, pcm, FRAME);
	RL_CHECK(src->read(src, pcm, FRAME) == RL_OK);
	RL_CHECK(sink->write(sink, pcm, FRAME) == RL_OK);
	RL_CHECK(udp_recv(bfd, buf, sizeof(buf), 500) > 0);
	RL_CHECK(udp_recv(pfd, buf, sizeof(buf), 50) < 0);

	/* A third party is not heard: neither its audio nor its digits. */
	send_audio(xfd, rl_carrier_port(c), 0, 3, 320, 1, pcm, FRAME);
	send_event(xfd, rl_carrier_port(c), 4, 480, 1, 1, 1, 1, 400);
	RL_CHECK(src->read(src, pcm, FRAME) == RL_OK);
	rl_carrier_stats(c, &st);
	RL_CHECK(st.wrong_src == 2);
	RL_CHECK(st.audio == 2);
	RL_CHECK(rl_carrier_dtmf(c, &dg) == RL_ENOENT);

	/* A re-INVITE: the source is learned again (here X), and answered. */
	RL_REQUIRE(rl_carrier_set_peer(c, "127.0.0.1", pp) == RL_OK);
	send_audio(xfd, rl_carrier_port(c), 0, 5, 640, 1, pcm, FRAME);
	RL_CHECK(src->read(src, pcm, FRAME) == RL_OK);
	RL_CHECK(sink->write(sink, pcm, FRAME) == RL_OK);
	RL_CHECK(udp_recv(xfd, buf, sizeof(buf), 500) > 0);
	RL_CHECK(udp_recv(bfd, buf, sizeof(buf), 50) < 0);

	/* Without symmetric RTP the SDP address is used whatever the source. */
	RL_REQUIRE(rl_carrier_set_peer(d, "127.0.0.1", pp) == RL_OK);
	send_audio(bfd, rl_carrier_port(d), 0, 1, 0, 1, pcm, FRAME);
	RL_CHECK(dsrc->read(dsrc, pcm, FRAME) == RL_OK);
	RL_CHECK(dsink->write(dsink, pcm, FRAME) == RL_OK);
	RL_CHECK(udp_recv(pfd, buf, sizeof(buf), 500) > 0);
	RL_CHECK(udp_recv(bfd, buf, sizeof(buf), 50) < 0);
	/* Forgetting the peer stops sending. */
	RL_CHECK(rl_carrier_set_peer(d, NULL, 0) == RL_OK);
	RL_CHECK(dsink->write(dsink, pcm, FRAME) == RL_OK);
	RL_CHECK(udp_recv(pfd, buf, sizeof(buf), 50) < 0);
	RL_CHECK(rl_carrier_set_peer(d, "127.0.0.1", 0) == RL_EINVAL);
	RL_CHECK(rl_carrier_set_peer(d, "::1", 4000) == RL_EINVAL); /* an IPv4 leg */
	RL_CHECK(rl_carrier_set_peer(d, "example.com", 4000) == RL_EINVAL);
	RL_CHECK(rl_carrier_set_peer(d, "127.0.0.1", 70000) == RL_EINVAL);

	sink->close(sink);
	src->close(src);
	dsink->close(dsink);
	dsrc->close(dsrc);
	rl_carrier_close(c);
	rl_carrier_close(d);
	close(pfd);
	close(bfd);
	close(xfd);
}

/* ---------------------------------------------------------------------------------------- */
/* Opus: a carrier's libopus on a raw socket, or another leg */

#define PT_OPUS 111
#define PT_EV48 110
#define OPUS_TS 960 /* RTP timestamp units per 20 ms */

static struct rl_carrier *opus_leg(unsigned rate, int dtmf_pt, unsigned dtmf_clock)
{
	struct rl_carrier_conf conf;

	rl_carrier_conf_default(&conf);
	conf.codec = RL_CARRIER_OPUS;
	conf.pt = PT_OPUS;
	conf.dtmf_pt = dtmf_pt;
	conf.dtmf_clock = dtmf_clock;
	conf.rate = rate;
	return leg_open_conf(&conf);
}

/* peer_enc: a carrier's encoder - application AUDIO, 24 kb/s, FEC for 10 % loss (which libopus
 * codes at that rate, narrowing the band if it must). */
static OpusEncoder *peer_enc(unsigned rate)
{
	int err;
	OpusEncoder *e = opus_encoder_create((opus_int32)rate, 1, OPUS_APPLICATION_AUDIO, &err);

	RL_REQUIRE(e != NULL);
	opus_encoder_ctl(e, OPUS_SET_BITRATE(24000));
	opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(1));
	opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(10));
	return e;
}

/* rtp_opus encodes n samples (any legal Opus duration) into one RTP packet on PT_OPUS. */
static size_t rtp_opus(uint8_t *pkt, OpusEncoder *e, uint16_t seq, uint32_t ts, uint32_t ssrc, const int16_t *pcm,
                       int n)
{
	size_t hl = rl_rtp_write(pkt, RL_RTP_HDR, PT_OPUS, 0, seq, ts, ssrc);
	int k = opus_encode(e, pcm, n, pkt + hl, 1275);

	RL_REQUIRE(k > 0);
	return hl + (size_t)k;
}

static double rms_db(const int16_t *x, size_t n)
{
	double e = 0;
	for (size_t i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	return 10 * log10(e / (double)n / (32768.0 * 32768.0) + 1e-12);
}

/* opus_lost: frame k of a stream is lost in pattern `loss`: 0 none; 1 one in ten (5, 15..);
 * 2 those and two in a row in every 25 (12-13, 37-38...). */
static int opus_lost(int loss, unsigned k)
{
	return (loss >= 1 && k % 10 == 5) || (loss >= 2 && (k % 25 == 12 || k % 25 == 13));
}

/* lost_corr: how well out rebuilt the lost frames of ref: each run of lost frames is aligned by
 * the 80 ms of ref before it (out lags ref by up to maxlag), then compared frame by frame; the
 * energy-weighted mean correlation over the lost frames that carry speech. */
static double lost_corr(const int16_t *ref, const int16_t *out, size_t nout, unsigned nf, size_t fn, int loss,
                        size_t maxlag)
{
	double sum = 0, wsum = 0;
	size_t lag = 0;

	for (unsigned k = 4; k < nf; k++) {
		if (!opus_lost(loss, k))
			continue;
		if (!opus_lost(loss, k - 1))
			(void)xcorr(ref + (k - 4) * fn, 4 * fn, out + (k - 4) * fn, nout - (k - 4) * fn, maxlag, &lag);
		double e = 0;
		for (size_t i = 0; i < fn; i++)
			e += (double)ref[k * fn + i] * ref[k * fn + i];
		if (e < fn * 300.0 * 300.0 || (k + 1) * fn + lag > nout)
			continue;
		double r = corr_at(ref + k * fn, out + k * fn + lag, fn);
		sum += e * r;
		wsum += e;
	}
	return wsum > 0 ? sum / wsum : 0;
}

/* opus_rx: 2 s of speech from a carrier (libopus at 16 kHz, RTP clock 48000) into an Opus leg
 * at `rate`, losing packets in pattern `loss`; the source side is compared with the
 * original, and with what libopus itself makes of the same packets - all of them, or with
 * plain PLC for the lost ones. Virtual clock. */
static void opus_rx(unsigned rate, int loss)
{
	enum { NF = 100, XTRA = 10 };
	const size_t fn = rate / 50, nout = (NF + XTRA) * fn, maxlag = 200 * rate / 1000;
	int16_t *x16 = calloc(NF * 320, sizeof(int16_t)), *ref = calloc(NF * fn, sizeof(int16_t));
	int16_t *out = calloc(nout, sizeof(int16_t)), *lib = calloc(NF * fn, sizeof(int16_t));
	struct rl_carrier *c = opus_leg(rate, PT_EV, 8000);
	struct rl_audio_src *src = rl_carrier_src(c);
	struct rl_carrier_stats st, mid = {0};
	OpusEncoder *e = peer_enc(16000);
	OpusDecoder *d;
	uint8_t pkt[NF][1300];
	size_t plen[NF];
	uint64_t clk = 3000000;
	unsigned sport, lost = 0, pairs = 0, singles = 0;
	int fd = udp_open(&sport), err;

	RL_REQUIRE(x16 && ref && out && lib);
	RL_CHECK(src->rate == rate);
	rl_carrier_set_clock(c, vnow, &clk);
	speech(x16, NF * 320, 16000, 13);
	if (rate == 16000)
		memcpy(ref, x16, NF * 320 * sizeof(int16_t));
	else
		ref_down(x16, NF * 320, ref);
	for (unsigned k = 0; k < NF + XTRA; k++) {
		if (k < NF) {
			/* The carrier's timestamps wrap on the way. */
			plen[k] = rtp_opus(pkt[k], e, (uint16_t)(65000 + k), 0xfffe0000u + k * OPUS_TS, 0x0905,
			                   x16 + k * 320, 320);
			if (!opus_lost(loss, k))
				udp_send(fd, rl_carrier_port(c), pkt[k], plen[k]);
			else if (lost++, opus_lost(loss, k + 1))
				pairs++;
			else if (!opus_lost(loss, k - 1))
				singles++;
		}
		RL_REQUIRE(src->read(src, out + k * fn, fn) == RL_OK);
		if (k == NF + 1) /* the buffer plays at 40 ms: the last frame is out now */
			rl_carrier_stats(c, &mid);
		clk += 20000;
	}
	/* libopus on the same packets: every one, or PLC where the leg had FEC. */
	RL_REQUIRE((d = opus_decoder_create((opus_int32)rate, 1, &err)) != NULL);
	for (unsigned k = 0; k < NF; k++) {
		int n = opus_lost(loss, k) ? opus_decode(d, NULL, 0, lib + k * fn, (int)fn, 0)
		                           : opus_decode(d, pkt[k] + RL_RTP_HDR, (opus_int32)(plen[k] - RL_RTP_HDR),
		                                         lib + k * fn, (int)fn, 0);
		RL_CHECK(n == (int)fn);
	}
	opus_decoder_destroy(d);
	double r = xcorr_blocks(ref, NF * fn, out, nout, maxlag, 80 * rate / 1000);
	double r_lib = xcorr_blocks(lib, NF * fn, out, nout, maxlag, 80 * rate / 1000);
	double lvl = rms_db(out, nout) - rms_db(ref, NF * fn);
	fprintf(stderr,
	        "opus rx rate=%u loss=%d (%u lost, %u in pairs): corr %.4f, against libopus%s %.4f, level %+.2f dB\n",
	        rate, loss, lost, 2 * pairs, r, loss ? " with PLC" : "", r_lib, lvl);
	RL_CHECK(r >= (rate == 16000 ? 0.90 : 0.85));
	RL_CHECK(fabs(lvl) <= 1.5);
	rl_carrier_stats(c, &st);
	RL_CHECK(st.audio == NF - lost && st.rx == NF - lost);
	RL_CHECK(st.malformed == 0 && st.wrong_pt == 0 && st.wrong_ptime == 0 && st.wrong_src == 0);
	fprintf(stderr, "  when the last frame is due: played %llu fec %llu concealed %llu silence dropped %llu\n",
	        (unsigned long long)mid.jb.played, (unsigned long long)mid.fec, (unsigned long long)mid.concealed,
	        (unsigned long long)mid.jb.dropped_silence);
	/* A lost frame is rebuilt from the next packet's FEC if that is here, concealed if not:
	 * the first of two in a row is concealed, the second rebuilt. */
	RL_CHECK(mid.fec == singles + pairs && mid.jb.fec == mid.fec);
	RL_CHECK(mid.concealed == pairs + mid.jb.dropped_silence);
	RL_CHECK(mid.jb.played == NF - lost - mid.jb.dropped_silence);
	RL_CHECK(mid.jb.late == 0 && mid.jb.dup == 0);
	if (loss == 0) {
		/* What the leg plays is what libopus decodes, only later. */
		RL_CHECK(r_lib >= 0.999);
	} else {
		double lc = lost_corr(ref, out, nout, NF, fn, loss, maxlag);
		double lc_plc = lost_corr(ref, lib, NF * fn, NF, fn, loss, maxlag);
		fprintf(stderr, "  lost frames: corr %.3f with FEC, %.3f with PLC alone\n", lc, lc_plc);
		RL_CHECK(lc >= lc_plc + 0.15);
	}
	opus_encoder_destroy(e);
	src->close(src);
	rl_carrier_close(c);
	close(fd);
	free(x16);
	free(ref);
	free(out);
	free(lib);
}

/* opus_tx: what the leg sends a carrier - headers, 20 ms of Opus per packet, the bitrate, and
 * the audio as the carrier's libopus decodes it. */
static void opus_tx(unsigned rate)
{
	enum { NF = 100 };
	const size_t fn = rate / 50;
	int16_t *in = calloc(NF * fn, sizeof(int16_t)), *got = calloc(NF * fn, sizeof(int16_t));
	struct rl_carrier *c = opus_leg(rate, PT_EV, 8000);
	struct rl_audio_sink *sink = rl_carrier_sink(c);
	struct rl_carrier_stats st;
	struct rl_rtp_hdr h, first = {0};
	OpusDecoder *d;
	uint8_t buf[1600];
	unsigned rport, n = 0, hdr_ok = 0, dec_ok = 0;
	uint64_t bytes = 0;
	int fd = udp_open(&rport), len, err;

	RL_REQUIRE(in && got);
	RL_REQUIRE((d = opus_decoder_create((opus_int32)rate, 1, &err)) != NULL);
	RL_CHECK(sink->rate == rate);
	speech(in, NF * fn, rate, 17);
	RL_REQUIRE(rl_carrier_set_peer(c, "127.0.0.1", rport) == RL_OK);
	for (unsigned k = 0; k < NF; k++) {
		/* In pieces of 7 ms: the leg cuts its own 20 ms frames. */
		for (size_t off = 0; off < fn; off += 7 * rate / 1000) {
			size_t m = fn - off < 7 * rate / 1000 ? fn - off : 7 * rate / 1000;
			RL_CHECK(sink->write(sink, in + k * fn + off, m) == RL_OK);
		}
		while (n <= k && (len = udp_recv(fd, buf, sizeof(buf), 1000)) > 0) {
			RL_REQUIRE(rl_rtp_parse(buf, (size_t)len, &h) == RL_OK);
			if (n == 0)
				first = h;
			hdr_ok += h.pt == PT_OPUS && h.ssrc == first.ssrc && h.marker == (n == 0) &&
			          h.seq == (uint16_t)(first.seq + n) && h.ts == first.ts + n * OPUS_TS &&
			          opus_packet_get_nb_samples(buf + h.hdr_len, (opus_int32)h.pay_len, 48000) == OPUS_TS;
			dec_ok +=
			    opus_decode(d, buf + h.hdr_len, (opus_int32)h.pay_len, got + n * fn, (int)fn, 0) == (int)fn;
			bytes += h.pay_len;
			n++;
		}
	}
	RL_CHECK(n == NF && hdr_ok == NF && dec_ok == NF);
	RL_CHECK(udp_recv(fd, buf, sizeof(buf), 50) < 0);
	size_t lag = 0;
	double r = xcorr(in, (NF - 2) * fn, got, NF * fn, 20 * rate / 1000, &lag);
	double rb = xcorr_blocks(in, NF * fn, got, NF * fn, 20 * rate / 1000, 80 * rate / 1000);
	double kbps = (double)bytes * 8 / (NF * 20.0), lvl = rms_db(got, NF * fn) - rms_db(in, NF * fn);
	fprintf(stderr, "opus tx rate=%u: corr %.4f at %.2f ms (block-aligned %.4f), level %+.2f dB, %.1f kb/s\n", rate,
	        r, lag * 1000.0 / rate, rb, lvl, kbps);
	RL_CHECK(r >= 0.85 && rb >= 0.85);
	RL_CHECK(lag * 1000 <= 10 * rate); /* the codec's own delay: 6.5 ms */
	RL_CHECK(fabs(lvl) <= 1.5);
	RL_CHECK(kbps >= 10 && kbps <= (rate == 16000 ? 28 : 22));
	rl_carrier_stats(c, &st);
	RL_CHECK(st.sent == NF && st.send_fail == 0 && st.sent_bytes == bytes);
	opus_decoder_destroy(d);
	sink->close(sink);
	rl_carrier_close(c);
	close(fd);
	free(in);
	free(got);
}

/* opus_loss: two Opus legs through a lossy relay (the test drops packets between A's sink and
 * B's source): our encoder's FEC, our decoder's use of it. */
static void opus_loss(unsigned rate)
{
	enum { NF = 100, XTRA = 10 };
	const size_t fn = rate / 50, nout = (NF + XTRA) * fn, maxlag = 200 * rate / 1000;
	int16_t *in = calloc(NF * fn, sizeof(int16_t)), *out = calloc(nout, sizeof(int16_t));
	int16_t *plc = calloc(NF * fn, sizeof(int16_t)), zero[320] = {0};
	struct rl_carrier *a = opus_leg(rate, PT_EV, 8000), *b = opus_leg(rate, PT_EV, 8000);
	struct rl_audio_sink *sink = rl_carrier_sink(a);
	struct rl_audio_src *src = rl_carrier_src(b);
	struct rl_carrier_stats st, mid = {0};
	OpusDecoder *d;
	uint8_t buf[1600];
	uint64_t clk = 9000000;
	unsigned relay, lost = 0, pairs = 0, singles = 0;
	int rfd = udp_open(&relay), len, err;

	RL_REQUIRE(in && out && plc);
	RL_REQUIRE((d = opus_decoder_create((opus_int32)rate, 1, &err)) != NULL);
	rl_carrier_set_clock(b, vnow, &clk);
	speech(in, NF * fn, rate, 29);
	RL_REQUIRE(rl_carrier_set_peer(a, "127.0.0.1", relay) == RL_OK);
	RL_REQUIRE(rl_carrier_set_peer(b, "127.0.0.1", relay) == RL_OK);
	for (unsigned k = 0; k < NF + XTRA; k++) {
		RL_CHECK(sink->write(sink, k < NF ? in + k * fn : zero, fn) == RL_OK);
		len = udp_recv(rfd, buf, sizeof(buf), 1000);
		RL_REQUIRE(len > RL_RTP_HDR);
		if (k < NF) {
			/* What a listener without FEC would hear: PLC for the lost ones. */
			int16_t *to = plc + k * fn;
			int n = opus_lost(2, k) ? opus_decode(d, NULL, 0, to, (int)fn, 0)
			                        : opus_decode(d, buf + RL_RTP_HDR, len - RL_RTP_HDR, to, (int)fn, 0);
			RL_CHECK(n == (int)fn);
			if (!opus_lost(2, k))
				udp_send(rfd, rl_carrier_port(b), buf, (size_t)len);
			else if (lost++, opus_lost(2, k + 1))
				pairs++;
			else if (!opus_lost(2, k - 1))
				singles++;
		}
		RL_REQUIRE(src->read(src, out + k * fn, fn) == RL_OK);
		if (k == NF + 1)
			rl_carrier_stats(b, &mid);
		clk += 20000;
	}
	double r = xcorr_blocks(in, NF * fn, out, nout, maxlag, 80 * rate / 1000);
	double lc = lost_corr(in, out, nout, NF, fn, 2, maxlag);
	double lc_plc = lost_corr(in, plc, NF * fn, NF, fn, 2, maxlag);
	fprintf(stderr,
	        "opus leg -> leg rate=%u, %u of %u lost: corr %.4f; lost frames %.3f with FEC, %.3f with PLC alone\n",
	        rate, lost, (unsigned)NF, r, lc, lc_plc);
	RL_CHECK(r >= 0.80);
	RL_CHECK(lc >= lc_plc + 0.15);
	RL_CHECK(mid.fec == singles + pairs);
	RL_CHECK(mid.concealed == pairs + mid.jb.dropped_silence);
	rl_carrier_stats(b, &st);
	RL_CHECK(st.audio == NF - lost);
	opus_decoder_destroy(d);
	sink->close(sink);
	src->close(src);
	rl_carrier_close(a);
	rl_carrier_close(b);
	close(rfd);
	free(in);
	free(out);
	free(plc);
}

/* Telephone-events on Opus legs: at clock 48000 as the rtpmap says, and at 8000 next to Opus. */
static void opus_dtmf(void)
{
	struct rl_carrier *c = opus_leg(16000, PT_EV48, 48000), *c8 = opus_leg(8000, PT_EV, 8000);
	struct rl_carrier *a = opus_leg(8000, PT_EV48, 48000);
	struct rl_audio_src *src = rl_carrier_src(c);
	struct rl_audio_sink *sink = rl_carrier_sink(a);
	struct rl_carrier_stats st;
	struct rl_rtp_hdr h[12];
	OpusEncoder *e = peer_enc(16000);
	int16_t pcm[320] = {0};
	uint8_t pkt[1600], bufs[12][1600];
	unsigned fport, rport, n = 0, ok = 0;
	int fd = udp_open(&fport), rfd = udp_open(&rport), len;
	uint16_t seq = 1;
	const uint32_t S = 0x4848, T = 0x7fffff00u;
	char got[16];

	/* In: "4" (start, updates and ends in 1/48 ms), then a press of "9" of 2 s split into
	 * two segments (1365 ms is all the duration field holds at 48 kHz), then "9" again. */
	const unsigned cp = rl_carrier_port(c);
	const uint32_t T9 = T + 48000;
	udp_send(fd, cp, pkt, rtp_opus(pkt, e, seq++, T, S, pcm, 320));
	for (uint16_t dur = 960; dur <= 2880; dur += 960)
		send_event_pt(fd, cp, PT_EV48, seq++, T + 960, S, dur == 960, 4, 0, dur);
	for (int i = 0; i < 3; i++)
		send_event_pt(fd, cp, PT_EV48, seq++, T + 960, S, 0, 4, 1, 3840);
	send_event(fd, cp, 0, 0, 0, 0, 0, 0, 0); /* on PT 101: not this leg's */
	send_event_pt(fd, cp, PT_EV48, seq++, T9, S, 1, 9, 0, 960);
	send_event_pt(fd, cp, PT_EV48, seq++, T9, S, 0, 9, 0, 0xffff);
	send_event_pt(fd, cp, PT_EV48, seq++, T9 + 0xffff, S, 0, 9, 0, 960);
	send_event_pt(fd, cp, PT_EV48, seq++, T9 + 0xffff, S, 0, 9, 1, 0x7fff);
	send_event_pt(fd, cp, PT_EV48, seq++, T9 + 0xffff + 0x8000 + 4800, S, 1, 9, 1, 3840);
	RL_CHECK(src->read(src, pcm, 320) == RL_OK);
	take_digits(c, got, sizeof(got));
	fprintf(stderr, "opus dtmf rx at 48 kHz: \"%s\"\n", got);
	RL_CHECK(strcmp(got, "499") == 0);
	rl_carrier_stats(c, &st);
	RL_CHECK(st.dtmf_digits == 3 && st.dtmf_packets == 11 && st.wrong_pt == 1 && st.audio == 1);

	/* telephone-event/8000 next to Opus: durations in 1/8 ms, the second segment's timestamp
	 * on the audio's 48 kHz timeline (0xffff units of 8 kHz later). */
	send_event(fd, rl_carrier_port(c8), seq++, 1000, S, 1, 9, 0, 0xffff);
	send_event(fd, rl_carrier_port(c8), seq++, 1000 + 6 * 0xffff, S, 0, 9, 1, 1600);
	send_event(fd, rl_carrier_port(c8), seq++, 1000 + 6 * 0xffff + 20000, S, 1, 5, 1, 1600);
	{
		struct rl_audio_src *s8 = rl_carrier_src(c8);
		RL_CHECK(s8->read(s8, pcm, 160) == RL_OK);
		s8->close(s8);
	}
	take_digits(c8, got, sizeof(got));
	fprintf(stderr, "opus dtmf rx at 8 kHz next to Opus: \"%s\"\n", got);
	RL_CHECK(strcmp(got, "95") == 0);

	/* Out at 48 kHz: '3' for 100 ms = 5 packets (durations 960..4800), the end three times,
	 * on the audio's timeline; 5 s is clamped to what one segment holds. */
	RL_REQUIRE(rl_carrier_set_peer(a, "127.0.0.1", rport) == RL_OK);
	RL_CHECK(sink->write(sink, pcm, 160) == RL_OK);
	RL_CHECK(rl_carrier_send_dtmf(a, '3', 100) == RL_OK);
	for (int i = 0; i < 9; i++)
		RL_CHECK(sink->write(sink, pcm, 160) == RL_OK);
	while (n < 10 && (len = udp_recv(rfd, bufs[n], sizeof(bufs[n]), 1000)) > 0)
		if (rl_rtp_parse(bufs[n], (size_t)len, &h[n]) == RL_OK)
			n++;
	RL_REQUIRE(n == 10);
	RL_CHECK(h[0].pt == PT_OPUS && h[0].marker == 1);
	for (unsigned i = 1; i <= 7; i++) {
		const uint8_t *ev = bufs[i] + h[i].hdr_len;
		unsigned dur = (unsigned)ev[2] << 8 | ev[3];
		ok += h[i].pt == PT_EV48 && h[i].pay_len == 4 && ev[0] == 3 && h[i].marker == (i == 1) &&
		      h[i].ts == h[0].ts + OPUS_TS && h[i].seq == (uint16_t)(h[0].seq + i) &&
		      (ev[1] & 0x80) == (i >= 5 ? 0x80 : 0) && dur == (i >= 5 ? 4800 : 960 * i);
	}
	RL_CHECK(ok == 7);
	RL_CHECK(h[8].pt == PT_OPUS && h[8].ts == h[0].ts + 8 * OPUS_TS && h[8].seq == (uint16_t)(h[0].seq + 8));
	RL_CHECK(rl_carrier_send_dtmf(a, '1', 5000) == RL_OK);
	unsigned last_dur = 0;
	for (int i = 0; i < 80; i++) {
		RL_CHECK(sink->write(sink, pcm, 160) == RL_OK);
		while ((len = udp_recv(rfd, bufs[0], sizeof(bufs[0]), 5)) > 0)
			if (rl_rtp_parse(bufs[0], (size_t)len, &h[0]) == RL_OK && h[0].pt == PT_EV48)
				last_dur = (unsigned)bufs[0][h[0].hdr_len + 2] << 8 | bufs[0][h[0].hdr_len + 3];
	}
	RL_CHECK(last_dur == 1365 * 48);

	/* Leg to leg at 48 kHz: each digit once. */
	RL_REQUIRE(rl_carrier_set_peer(a, "127.0.0.1", rl_carrier_port(c)) == RL_OK);
	RL_REQUIRE(rl_carrier_set_peer(c, "127.0.0.1", rl_carrier_port(a)) == RL_OK);
	RL_CHECK(rl_carrier_send_dtmf(a, '7', 100) == RL_OK);
	RL_CHECK(rl_carrier_send_dtmf(a, '*', 60) == RL_OK);
	RL_CHECK(rl_carrier_send_dtmf(a, 'D', 10) == RL_OK);
	for (int i = 0; i < 40; i++)
		RL_CHECK(sink->write(sink, pcm, 160) == RL_OK);
	RL_CHECK(src->read(src, pcm, 320) == RL_OK);
	take_digits(c, got, sizeof(got));
	fprintf(stderr, "opus dtmf leg -> leg at 48 kHz: \"%s\"\n", got);
	RL_CHECK(strcmp(got, "7*D") == 0);
	opus_encoder_destroy(e);
	src->close(src);
	sink->close(sink);
	rl_carrier_close(a);
	rl_carrier_close(c);
	rl_carrier_close(c8);
	close(fd);
	close(rfd);
}

/* Payload types: a leg hears its own (static or dynamic) and its telephone-event type only;
 * an Opus leg only well-formed 20 ms packets, and learns no source from the others. */
static void payload_types(void)
{
	struct rl_carrier *g = leg_open_pt(RL_CARRIER_G711U, 97, 8000, 1), *o = opus_leg(8000, PT_EV, 8000);
	struct rl_audio_src *src = rl_carrier_src(o);
	struct rl_carrier_stats st;
	OpusEncoder *e = peer_enc(8000);
	OpusRepacketizer *rp = opus_repacketizer_create();
	int16_t pcm[2880] = {0};
	uint8_t pkt[1600], p10[2][200];
	unsigned sport, p = rl_carrier_port(o);
	int fd = udp_open(&sport), n10[2];
	size_t len;
	char dg;

	/* PCMU on 97: PT 0 (PCMU's static type) and 8 are someone else's. */
	send_audio(fd, rl_carrier_port(g), 0, 1, 0, 1, pcm, FRAME);
	send_audio(fd, rl_carrier_port(g), 8, 2, 160, 1, pcm, FRAME);
	send_g711(fd, rl_carrier_port(g), RL_CARRIER_G711U, 97, 3, 320, 1, pcm, FRAME);
	send_event(fd, rl_carrier_port(g), 4, 480, 1, 1, 6, 1, 400);
	{
		struct rl_audio_src *gs = rl_carrier_src(g);
		RL_CHECK(gs->read(gs, pcm, FRAME) == RL_OK);
		gs->close(gs);
	}
	rl_carrier_stats(g, &st);
	RL_CHECK(st.rx == 4 && st.wrong_pt == 2 && st.audio == 1 && st.dtmf_digits == 1);
	RL_CHECK(rl_carrier_dtmf(g, &dg) == RL_OK && dg == '6');

	/* Opus on 111. Not ours: PCMU, PT 96. */
	send_audio(fd, p, 0, 1, 0, 7, pcm, FRAME);
	udp_send(fd, p, pkt, rtp(pkt, 96, 0, 2, 0, 7, (const uint8_t *)"\x08\x01\x02", 3));
	/* Not 20 ms: 10, 40 and 60 ms packets, and 2 x 20 ms in one packet. */
	udp_send(fd, p, pkt, rtp_opus(pkt, e, 3, 0, 7, pcm, 80));
	udp_send(fd, p, pkt, rtp_opus(pkt, e, 4, 0, 7, pcm, 320));
	udp_send(fd, p, pkt, rtp_opus(pkt, e, 5, 0, 7, pcm, 480));
	udp_send(fd, p, pkt, rtp(pkt, PT_OPUS, 0, 6, 0, 7, (const uint8_t *)"\x09\x01\x02", 3));
	/* Not Opus: a code 3 packet of no frames, a code 1 packet of unequal halves, a code 0
	 * frame of 1300 bytes (1275 at most). */
	udp_send(fd, p, pkt, rtp(pkt, PT_OPUS, 0, 7, 0, 7, (const uint8_t *)"\x0b\x00", 2));
	udp_send(fd, p, pkt, rtp(pkt, PT_OPUS, 0, 8, 0, 7, (const uint8_t *)"\x09\x01\x02\x03", 4));
	memset(pkt + RL_RTP_HDR, 0x08, 1301);
	len = rtp(pkt, PT_OPUS, 0, 9, 0, 7, pkt + RL_RTP_HDR, 1301);
	udp_send(fd, p, pkt, len);
	RL_CHECK(src->read(src, pcm, 160) == RL_OK);
	rl_carrier_stats(o, &st);
	RL_CHECK(st.rx == 9 && st.wrong_pt == 2 && st.wrong_ptime == 4 && st.malformed == 3 && st.audio == 0);
	RL_CHECK(st.learned == 0);
	/* 20 ms in two 10 ms frames is 20 ms: played. */
	opus_encoder_ctl(e, OPUS_SET_BITRATE(64000)); /* CELT, the mode that has 10 ms frames */
	for (int i = 0; i < 2; i++) {
		n10[i] = opus_encode(e, pcm, 80, p10[i], sizeof(p10[i]));
		RL_REQUIRE(n10[i] > 0);
		RL_REQUIRE(opus_repacketizer_cat(rp, p10[i], n10[i]) == OPUS_OK);
	}
	int n = opus_repacketizer_out(rp, pkt + RL_RTP_HDR, 1275);
	RL_REQUIRE(n > 0);
	RL_CHECK(opus_packet_get_nb_samples(pkt + RL_RTP_HDR, n, 48000) == 960);
	rl_rtp_write(pkt, RL_RTP_HDR, PT_OPUS, 0, 10, 0, 7);
	udp_send(fd, p, pkt, RL_RTP_HDR + (size_t)n);
	udp_send(fd, p, pkt, rtp_opus(pkt, e, 11, OPUS_TS, 7, pcm, 160));
	RL_CHECK(src->read(src, pcm, 160) == RL_OK);
	rl_carrier_stats(o, &st);
	RL_CHECK(st.audio == 2 && st.learned == 1);
	opus_repacketizer_destroy(rp);
	opus_encoder_destroy(e);
	src->close(src);
	rl_carrier_close(g);
	rl_carrier_close(o);
	close(fd);
}

/* ---------------------------------------------------------------------------------------- */
/* hostile input */

static void hostile(void)
{
	struct rl_carrier *c = leg_open(RL_CARRIER_G711U, 8000, 1);
	struct rl_audio_src *src = rl_carrier_src(c);
	struct rl_carrier_stats st;
	int16_t pcm[FRAME];
	uint8_t pkt[2100], pay[FRAME];
	unsigned sport, p = rl_carrier_port(c);
	int fd = udp_open(&sport);
	size_t len;

	memset(pay, 0xff, sizeof(pay));
	for (size_t i = 0; i < 100; i++)
		pkt[i] = (uint8_t)(i * 37 + 11);
	pkt[0] = 0x00;             /* version 0 */
	udp_send(fd, p, pkt, 100); /* garbage */
	udp_send(fd, p, pkt, 5);   /* short */
	len = rtp(pkt, 0, 0, 1, 0, 1, pay, FRAME);
	pkt[0] = 0x40; /* version 1 */
	udp_send(fd, p, pkt, len);
	udp_send(fd, p, pkt, rtp(pkt, 18, 0, 1, 0, 1, pay, FRAME)); /* G.729: not ours */
	len = rtp(pkt, 0, 0, 1, 0, 1, pay, FRAME);
	memset(pkt + len, 0xff, 2000 - len);
	udp_send(fd, p, pkt, 2000); /* oversized */
	udp_send(fd, p,
	         (const uint8_t *)"\x80\xc8\x00\x06\x00\x00\x00\x01"
	                          "0123456789abcdefghij",
	         28); /* RTCP SR */
	len = rtp(pkt, 0, 0, 1, 0, 1, pay, 8);
	pkt[0] = 0x8f; /* 15 CSRCs in 20 bytes */
	udp_send(fd, p, pkt, len);
	len = rtp(pkt, 0, 0, 1, 0, 1, pay, FRAME);
	pkt[0] = 0xa0;      /* padding ... */
	pkt[len - 1] = 250; /* ... longer than the payload */
	udp_send(fd, p, pkt, len);
	udp_send(fd, p, pkt, rtp(pkt, 0, 0, 1, 0, 1, pay, 0));     /* empty payload */
	udp_send(fd, p, pkt, rtp(pkt, PT_EV, 0, 1, 0, 1, pay, 3)); /* short event */
	len = rtp(pkt, 0, 0, 1, 0, 1, pay, 8);
	pkt[0] = 0x90;                                                  /* extension ... */
	pkt[12] = 0xbe, pkt[13] = 0xde, pkt[14] = 0xff, pkt[15] = 0xff; /* ... of 256 KB */
	udp_send(fd, p, pkt, len);
	RL_CHECK(src->read(src, pcm, FRAME) == RL_OK);
	RL_CHECK(is_silent(pcm, FRAME));
	rl_carrier_stats(c, &st);
	RL_CHECK(st.rx == 11);
	RL_CHECK(st.malformed == 8);
	RL_CHECK(st.wrong_pt == 1);
	RL_CHECK(st.oversized == 1);
	RL_CHECK(st.rtcp == 1);
	RL_CHECK(st.audio == 0 && st.jb.put == 0 && st.dtmf_packets == 0);
	RL_CHECK(st.learned == 0); /* nothing valid: nothing learned */

	/* Injection: the same bounds. */
	struct sockaddr_in from = {
	    .sin_family = AF_INET, .sin_port = htons(5004), .sin_addr.s_addr = htonl(0x7f000001)};
	RL_CHECK(rl_carrier_inject(c, pkt, 1501, &from, sizeof(from)) == RL_ETOOBIG);
	RL_CHECK(rl_carrier_inject(c, pkt, 0, &from, sizeof(from)) == RL_OK);
	len = rtp(pkt, 0, 0, 1, 0, 1, pay, FRAME);
	RL_CHECK(rl_carrier_inject(c, pkt, len, &from, sizeof(from)) == RL_OK);
	rl_carrier_stats(c, &st);
	RL_CHECK(st.oversized == 2);
	RL_CHECK(st.malformed == 9);
	RL_CHECK(st.audio == 1 && st.learned == 1 && strcmp(st.source, "127.0.0.1:5004") == 0);
	src->close(src);
	rl_carrier_close(c);
	close(fd);
}

/* ---------------------------------------------------------------------------------------- */
/* configuration, ports, IPv6, ownership */

static void config(void)
{
	struct rl_carrier_conf conf;
	struct rl_carrier *c = NULL, *c2 = NULL, *c3 = NULL;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	unsigned base, p1, p2;
	int fd;

	rl_carrier_conf_default(&conf);
	conf.codec = 9;
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL && c == NULL);
	conf.codec = 0;
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	/* Payload types: in 0..127 but not 64..95, distinct, and Opus has no static one. */
	rl_carrier_conf_default(&conf);
	conf.pt = 128;
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	conf.pt = -2;
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	conf.pt = 72;
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	conf.pt = 101; /* the telephone-event type's */
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	conf.pt = 96;
	conf.dtmf_pt = 128;
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	conf.dtmf_pt = -2;
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	conf.dtmf_pt = 101;
	conf.dtmf_clock = 44100;
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	conf.dtmf_clock = 0;
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	rl_carrier_conf_default(&conf);
	conf.codec = RL_CARRIER_OPUS;
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	conf.pt = 8; /* unusual, but as negotiated */
	conf.dtmf_pt = -1;
	conf.dtmf_clock = 48000;
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_OK);
	RL_CHECK(rl_carrier_send_dtmf(c, '1', 100) == RL_EINVAL); /* no telephone-event type */
	rl_carrier_close(c);
	c = NULL;
	rl_carrier_conf_default(&conf);
	conf.dtmf_pt = 72; /* would read as RTCP */
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	conf.dtmf_pt = 0; /* the codec's */
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	rl_carrier_conf_default(&conf);
	conf.rate = 44100;
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	rl_carrier_conf_default(&conf);
	conf.port_min = 5000, conf.port_max = 4000;
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	conf.port_min = 5001, conf.port_max = 5001; /* no even port */
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	rl_carrier_conf_default(&conf);
	conf.jb_start_ms = 10; /* below min */
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_EINVAL);
	RL_CHECK(rl_carrier_open(&c, "carrier.example", NULL) == RL_EINVAL);
	RL_CHECK(rl_carrier_open(&c, "192.0.2.1", NULL) == RL_ENET); /* not ours */

	/* A port range of two even ports: two legs, then full. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	RL_REQUIRE(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	RL_REQUIRE(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	close(fd);
	base = ntohs(a.sin_port) & ~1u;
	if (base > 65000)
		base -= 1000;
	rl_carrier_conf_default(&conf);
	conf.port_min = (uint16_t)(base - 1), conf.port_max = (uint16_t)(base + 3); /* even: base, base+2 */
	RL_CHECK(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_OK);
	RL_CHECK(rl_carrier_open(&c2, "127.0.0.1", &conf) == RL_OK);
	p1 = c ? rl_carrier_port(c) : 0;
	p2 = c2 ? rl_carrier_port(c2) : 0;
	RL_CHECK(p1 % 2 == 0 && p2 % 2 == 0 && p1 != p2 && p1 >= base && p1 <= base + 2 && p2 >= base &&
	         p2 <= base + 2);
	RL_CHECK(rl_carrier_open(&c3, "127.0.0.1", &conf) == RL_EFULL);
	rl_carrier_close(c);
	rl_carrier_close(c2);
	rl_carrier_close(NULL);

	/* An IPv6 (dual-stack) leg reaches an IPv4 peer through a mapped address. */
	if (rl_carrier_open(&c, "::", NULL) == RL_OK) {
		struct rl_audio_sink *sink = rl_carrier_sink(c);
		int16_t pcm[FRAME] = {0};
		uint8_t buf[256];
		unsigned rport;
		fd = udp_open(&rport);
		RL_CHECK(rl_carrier_set_peer(c, "127.0.0.1", rport) == RL_OK);
		RL_CHECK(sink->write(sink, pcm, FRAME) == RL_OK);
		RL_CHECK(udp_recv(fd, buf, sizeof(buf), 1000) == RL_RTP_HDR + FRAME);
		/* The IPv4 caller is learned as a mapped address, and followed. */
		struct rl_audio_src *src = rl_carrier_src(c);
		struct rl_carrier_stats st;
		char want[80];
		unsigned xport;
		int xfd = udp_open(&xport);
		send_audio(fd, rl_carrier_port(c), 0, 1, 0, 5, pcm, FRAME);
		send_audio(fd, rl_carrier_port(c), 0, 2, 160, 5, pcm, FRAME);
		send_audio(xfd, rl_carrier_port(c), 0, 3, 320, 5, pcm, FRAME);
		RL_CHECK(src->read(src, pcm, FRAME) == RL_OK);
		rl_carrier_stats(c, &st);
		snprintf(want, sizeof(want), "[::ffff:127.0.0.1]:%u", rport);
		RL_CHECK(st.learned == 1 && strcmp(st.source, want) == 0);
		RL_CHECK(st.audio == 2 && st.wrong_src == 1);
		RL_CHECK(rl_carrier_set_peer(c, "::1", rport) == RL_OK);
		src->close(src);
		close(xfd);
		sink->close(sink);
		rl_carrier_close(c);
		close(fd);
	} else {
		fprintf(stderr, "no IPv6 here: dual-stack check skipped\n");
	}
}

static void ownership(void)
{
	struct rl_carrier *c = leg_open(RL_CARRIER_G711U, 16000, 1);
	struct rl_audio_src *src = rl_carrier_src(c);
	struct rl_audio_sink *sink = rl_carrier_sink(c);
	int16_t pcm[320];

	/* The owner first: the leg ends, the media engine's references stay valid. */
	rl_carrier_close(c);
	for (size_t i = 0; i < 320; i++)
		pcm[i] = 1;
	RL_CHECK(src->read(src, pcm, 320) == RL_ENOENT);
	RL_CHECK(is_silent(pcm, 320));
	RL_CHECK(sink->write(sink, pcm, 320) == RL_EIO);
	src->close(src);
	sink->close(sink); /* the last reference: freed here (ASan watches) */

	/* The engine first, the owner last. */
	c = leg_open(RL_CARRIER_G711A, 8000, 1);
	src = rl_carrier_src(c);
	sink = rl_carrier_sink(c);
	sink->close(sink);
	src->close(src);
	char d;
	RL_CHECK(rl_carrier_dtmf(c, &d) == RL_ENOENT);
	rl_carrier_close(c);
}

/* ---------------------------------------------------------------------------------------- */
/* threads: the media engine's thread reads and writes while the node steers the leg */

struct media_thread {
	struct rl_carrier *c;
	unsigned frames, send_fail;
	int fd;
	int done;
	const uint8_t *opus; /* an Opus leg: this 20 ms packet over and over */
	size_t opus_len;
};

static void *media_run(void *arg)
{
	struct media_thread *m = arg;
	struct rl_audio_src *src = rl_carrier_src(m->c);
	struct rl_audio_sink *sink = rl_carrier_sink(m->c);
	int16_t pcm[320], in[FRAME];
	uint8_t pkt[256];

	tone(in, FRAME, 1000, 8000, 8000);
	for (unsigned k = 0; k < m->frames; k++) {
		size_t len = m->opus ? rtp(pkt, PT_OPUS, 0, (uint16_t)k, k * OPUS_TS, 42, m->opus, m->opus_len)
		                     : rtp_audio(pkt, 0, (uint16_t)k, k * FRAME, 42, in, FRAME);
		m->send_fail += !udp_send_raw(m->fd, rl_carrier_port(m->c), pkt, len);
		src->read(src, pcm, 320);
		sink->write(sink, pcm, 320);
		rltest_sleep_ms(2);
	}
	src->close(src);
	sink->close(sink);
	__atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void threads(int codec)
{
	struct rl_carrier_conf conf;
	struct rl_carrier *c;
	struct rl_carrier_stats st;
	struct media_thread m = {.frames = 300};
	pthread_t t;
	unsigned p1, p2, sport, got = 0, i = 0;
	int r1 = udp_open(&p1), r2 = udp_open(&p2);
	uint8_t buf[512], opus[200];
	int16_t in[320];
	char d;

	m.fd = udp_open(&sport);
	rl_carrier_conf_default(&conf);
	if (codec == RL_CARRIER_OPUS) {
		OpusEncoder *e = peer_enc(16000);
		int n;
		tone(in, 320, 1000, 16000, 8000);
		RL_REQUIRE((n = opus_encode(e, in, 320, opus, sizeof(opus))) > 0);
		opus_encoder_destroy(e);
		m.opus = opus;
		m.opus_len = (size_t)n;
		conf.codec = codec;
		conf.pt = PT_OPUS;
	}
	conf.rate = 16000;
	conf.symmetric = 0; /* send to the SDP address we keep changing */
	RL_REQUIRE(rl_carrier_open(&c, "127.0.0.1", &conf) == RL_OK);
	m.c = c;
	RL_REQUIRE(pthread_create(&t, NULL, media_run, &m) == 0);
	while (!__atomic_load_n(&m.done, __ATOMIC_ACQUIRE)) {
		rl_carrier_set_peer(c, "127.0.0.1", i % 2 ? p1 : p2);
		rl_carrier_hold(c, i % 7 == 3);
		rl_carrier_stats(c, &st);
		(void)rl_carrier_dtmf(c, &d);
		if (i % 20 == 0)
			(void)rl_carrier_send_dtmf(c, '5', 40);
		i++;
		/* Read as they come: a socket's buffer left to fill for the whole run drops. */
		while (udp_recv(r1, buf, sizeof(buf), 0) > 0)
			got++;
		while (udp_recv(r2, buf, sizeof(buf), 0) > 0)
			got++;
		rltest_sleep_ms(1);
	}
	pthread_join(t, NULL);
	rl_carrier_stats(c, &st);
	while (udp_recv(r1, buf, sizeof(buf), 50) > 0)
		got++;
	while (udp_recv(r2, buf, sizeof(buf), 50) > 0)
		got++;
	fprintf(stderr, "threads codec=%d: %u steering rounds, %llu sent, %u received, %llu audio in\n", codec, i,
	        (unsigned long long)st.sent, got, (unsigned long long)st.audio);
	RL_CHECK(m.send_fail == 0);
	RL_CHECK(st.sent > 0 && st.sent <= m.frames);
	RL_CHECK(got == st.sent);
	RL_CHECK(st.audio == m.frames);
	RL_CHECK(st.frames == m.frames);
	rl_carrier_close(c);
	close(r1);
	close(r2);
	close(m.fd);
}

int main(void)
{
	rx_audio(RL_CARRIER_G711U, -1, 8000, 20, 0, 0.95);
	rx_audio(RL_CARRIER_G711U, -1, 16000, 20, 0, 0.95);
	rx_audio(RL_CARRIER_G711A, -1, 8000, 20, 0, 0.95);
	rx_audio(RL_CARRIER_G711A, -1, 16000, 20, 0, 0.95);
	rx_audio(RL_CARRIER_G711U, 97, 8000, 20, 0, 0.95); /* dynamic payload types */
	rx_audio(RL_CARRIER_G711A, 126, 16000, 20, 0, 0.95);
	rx_audio(RL_CARRIER_G711U, -1, 8000, 10, 0, 0.95);
	rx_audio(RL_CARRIER_G711U, -1, 8000, 30, 0, 0.95);
	rx_audio(RL_CARRIER_G711A, 98, 8000, 60, 0, 0.95);
	rx_audio(RL_CARRIER_G711U, -1, 8000, 20, 10, 0.85); /* 10 % loss, concealed */
	rx_realtime();
	tx_audio(RL_CARRIER_G711U, -1, 8000);
	tx_audio(RL_CARRIER_G711U, -1, 16000);
	tx_audio(RL_CARRIER_G711A, -1, 8000);
	tx_audio(RL_CARRIER_G711A, -1, 16000);
	tx_audio(RL_CARRIER_G711A, 100, 8000);
	tx_audio(RL_CARRIER_G711U, 0, 16000);
	loopback_pcma();
	dtmf_rx();
	dtmf_tx();
	ssrc_change();
	hold(8000);
	hold(16000);
	latching();
	hostile();
	config();
	opus_rx(16000, 0);
	opus_rx(8000, 0);
	opus_rx(16000, 2);
	opus_rx(8000, 1);
	opus_tx(8000);
	opus_tx(16000);
	opus_loss(8000);
	opus_loss(16000);
	opus_dtmf();
	payload_types();
	ownership();
	threads(RL_CARRIER_G711U);
	threads(RL_CARRIER_OPUS);
	return rltest_done();
}
