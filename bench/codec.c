/*
 * relais-bench-codec - CPU cost of the media primitives a node runs per call: Opus encode and
 * decode, SRTP protect and unprotect, the G.711 <-> Opus transcoding of a carrier call, and
 * an Opus carrier leg (node/carrier.c) through its API.
 *
 *   relais-bench-codec [--seconds S] [--reps N] [--calls M] [--cpu C] [--only abcd]
 *
 * Everything runs on one thread pinned to one core. Costs are thread CPU time
 * (CLOCK_THREAD_CPUTIME_ID), so other processes on the machine do not inflate them; each
 * figure is the best of N runs with the median in brackets. The audio is a synthetic,
 * deterministic speech-like signal (see make_speech), the same utterance at 8 and 16 kHz.
 *
 * The transcoding figure interleaves M calls frame by frame, each with its own encoder,
 * decoder and SRTP contexts, so their state competes for the caches as on a loaded node.
 * It counts codec and crypto work only: no sockets, no jitter buffer, no RTP statistics.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <opus.h>
#include <sched.h>
#include <srtp2/srtp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "carrier.h"
#include "rl_err.h"
#include "rl_g711.h"
#include "rl_srtp.h"

#define FRAME_MS   20
#define MAX_OPUS   1275
#define RTP_HDR    12
#define PKT_CAP    1500
#define GOAL_CALLS 150

static int reps = 5;

/* ---------------------------------------------------------------------------------------- */
/* Timing */

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* best and median of n samples (sorted in place). */
static void stats(double *v, int n, double *best, double *median)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	*best = v[0];
	*median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, int rv)
{
	fprintf(stderr, "relais-bench-codec: %s failed (%d)\n", what, rv);
	exit(1);
}

/* ---------------------------------------------------------------------------------------- */
/* Speech-like test signal */

static uint32_t xs32(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static double urand(uint32_t *s)
{
	return (double)(xs32(s) >> 8) / 16777216.0;
}

/*
 * make_speech fills out[0..n) at rate fs with an utterance-like signal: voiced "syllables"
 * of 150-600 ms whose pitch glides between two values in 100-250 Hz (with a little vibrato),
 * built from harmonics up to 0.9 * Nyquist (at most 7 kHz) shaped by three moving formants
 * (F1 300-800, F2 900-2200, F3 2300-3000 Hz) and a spectral tilt; some syllables start with a
 * fricative (high-passed noise); pauses of 80-400 ms between; a noise floor throughout.
 * The event sequence draws from its own generator, independent of fs, so the 8 and 16 kHz
 * signals carry the same utterance. Returns the fraction of voiced samples.
 */
static double make_speech(int16_t *out, size_t n, int fs)
{
	uint32_t ev = 0x5eed1234u, nz = 0x00c0ffeeu;
	double *acc = calloc(n, sizeof(double));
	size_t i = 0, voiced = 0;
	const double two_pi = 6.283185307179586;

	if (acc == NULL)
		die("calloc", 0);
	while (i < n) {
		i += (size_t)((0.08 + 0.32 * urand(&ev)) * fs); /* pause */
		if (urand(&ev) < 0.3) {
			/* fricative onset: first difference of white noise */
			size_t len = (size_t)((0.06 + 0.09 * urand(&ev)) * fs);
			double amp = 0.04 + 0.04 * urand(&ev), prev = 0;
			for (size_t j = 0; j < len && i + j < n; j++) {
				double w = urand(&nz) * 2 - 1, env = sin(3.14159265 * (double)j / (double)len);
				acc[i + j] += amp * env * (w - prev);
				prev = w;
			}
			i += len;
		}
		/* voiced syllable */
		double dur = 0.15 + 0.45 * urand(&ev);
		double f0a = 100 + 150 * urand(&ev), f0b = 100 + 150 * urand(&ev);
		double Fa[3] = {300 + 500 * urand(&ev), 900 + 1300 * urand(&ev), 2300 + 700 * urand(&ev)};
		double Fb[3] = {300 + 500 * urand(&ev), 900 + 1300 * urand(&ev), 2300 + 700 * urand(&ev)};
		static const double B[3] = {90, 130, 220}, G[3] = {1.0, 0.55, 0.25};
		double level = 0.12 + 0.18 * urand(&ev), vib = urand(&ev) * two_pi;
		size_t len = (size_t)(dur * fs), block = (size_t)fs / 200; /* 5 ms */
		double phase = 0, amps[80];
		int nh = 0;
		for (size_t j = 0; j < len && i + j < n; j++) {
			double t = (double)j / (double)len;
			double f0 = f0a + (f0b - f0a) * t;
			f0 *= 1 + 0.01 * sin(two_pi * 5.5 * (double)j / fs + vib);
			if (j % block == 0) {
				/* harmonic amplitudes for this block: tilt x formant resonances */
				double sum = 0, F[3];
				for (int k = 0; k < 3; k++)
					F[k] = Fa[k] + (Fb[k] - Fa[k]) * t;
				nh = 0;
				for (int h = 1; h < 80 && h * f0 < fmin(0.45 * fs, 7000); h++) {
					double f = h * f0, a = 0;
					for (int k = 0; k < 3; k++)
						a += G[k] / (1 + ((f - F[k]) / B[k]) * ((f - F[k]) / B[k]));
					amps[nh] = (a + 0.01) / pow(h, 0.6);
					sum += amps[nh++];
				}
				for (int h = 0; h < nh; h++)
					amps[h] /= sum;
			}
			phase += two_pi * f0 / fs;
			if (phase > two_pi)
				phase -= two_pi;
			/* raised-cosine attack (25 ms) and release (40 ms), syllabic 4 Hz wobble */
			double ts = (double)j / fs, te = (double)(len - j) / fs, env = 1;
			if (ts < 0.025)
				env = 0.5 - 0.5 * cos(3.14159265 * ts / 0.025);
			if (te < 0.04)
				env *= 0.5 - 0.5 * cos(3.14159265 * te / 0.04);
			env *= 0.8 + 0.2 * sin(two_pi * 4 * ts);
			double s = 0;
			for (int h = 0; h < nh; h++)
				s += amps[h] * sin((h + 1) * phase);
			acc[i + j] += level * env * s;
			voiced++;
		}
		i += len;
	}
	for (i = 0; i < n; i++) {
		double v = (acc[i] + 0.0008 * (urand(&nz) + urand(&nz) - 1)) * 32767;
		out[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : lrint(v));
	}
	free(acc);
	return (double)(voiced > n ? n : voiced) / (double)n;
}

/* ---------------------------------------------------------------------------------------- */
/* Opus at the Relais defaults */

static OpusEncoder *encoder(int fs, int complexity)
{
	int err;
	OpusEncoder *e = opus_encoder_create(fs, 1, OPUS_APPLICATION_AUDIO, &err);

	if (e == NULL)
		die("opus_encoder_create", err);
	opus_encoder_ctl(e, OPUS_SET_VBR(1));
	opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(1));
	opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(5));
	opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(complexity));
	return e;
}

static OpusDecoder *decoder(int fs)
{
	int err;
	OpusDecoder *d = opus_decoder_create(fs, 1, &err);

	if (d == NULL)
		die("opus_decoder_create", err);
	return d;
}

/* encode_all encodes frames frames of sig into pkt (MAX_OPUS apart), lengths in plen. */
static void encode_all(OpusEncoder *e, const int16_t *sig, size_t frames, int spf, uint8_t *pkt, int *plen)
{
	for (size_t f = 0; f < frames; f++) {
		plen[f] = opus_encode(e, sig + f * (size_t)spf, spf, pkt + f * MAX_OPUS, MAX_OPUS);
		if (plen[f] < 0)
			die("opus_encode", plen[f]);
	}
}

static void bench_opus(const char *name, const int16_t *sig, size_t frames, int fs, int complexity)
{
	int spf = fs / 1000 * FRAME_MS;
	uint8_t *pkt = malloc(frames * MAX_OPUS);
	int *plen = malloc(frames * sizeof(int));
	int16_t pcm[960];
	double enc[16], dec[16], eb, em, db, dm;
	size_t bytes = 0;

	for (int r = 0; r < reps; r++) {
		OpusEncoder *e = encoder(fs, complexity);
		OpusDecoder *d = decoder(fs);
		double t0 = cpu_now();
		encode_all(e, sig, frames, spf, pkt, plen);
		double t1 = cpu_now();
		for (size_t f = 0; f < frames; f++)
			if (opus_decode(d, pkt + f * MAX_OPUS, plen[f], pcm, spf, 0) != spf)
				die("opus_decode", 0);
		double t2 = cpu_now();
		enc[r] = (t1 - t0) / (double)frames * 1e6;
		dec[r] = (t2 - t1) / (double)frames * 1e6;
		opus_encoder_destroy(e);
		opus_decoder_destroy(d);
	}
	for (size_t f = 0; f < frames; f++)
		bytes += (size_t)plen[f];
	stats(enc, reps, &eb, &em);
	stats(dec, reps, &db, &dm);
	double avg = (double)bytes / (double)frames;
	printf("  %-34s %6.1f [%6.1f] %6.1f [%6.1f] %6.1f B %5.1f kb/s   %5.2f %%  %5.2f %%  %5.2f %%\n", name, eb, em,
	       db, dm, avg, avg * 8 / FRAME_MS, eb / (FRAME_MS * 1000.0) * 100, db / (FRAME_MS * 1000.0) * 100,
	       (eb + db) / (FRAME_MS * 1000.0) * 100);
	free(pkt);
	free(plen);
}

/* ---------------------------------------------------------------------------------------- */
/* SRTP */

static size_t rtp_header(uint8_t *b, uint16_t seq, uint32_t ts, uint32_t ssrc, uint8_t pt)
{
	b[0] = 0x80;
	b[1] = pt;
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
	return RTP_HDR;
}

static void srtp_pair(int suite, struct rl_srtp **tx, struct rl_srtp **rx)
{
	uint8_t key[RL_SRTP_KEY_MAX];
	size_t n = rl_srtp_key_len(suite);
	int rv;

	if ((rv = rl_srtp_keygen(suite, key, sizeof(key))) != RL_OK)
		die("rl_srtp_keygen", rv);
	if ((rv = rl_srtp_open(tx, suite, key, n, 1)) != RL_OK || (rv = rl_srtp_open(rx, suite, key, n, 0)) != RL_OK)
		die("rl_srtp_open", rv);
}

#define SRTP_PACKETS 100000
#define SRTP_SLOT    128

static void bench_srtp(int suite, size_t payload)
{
	uint8_t *slots = malloc((size_t)SRTP_PACKETS * SRTP_SLOT), pay[256];
	size_t *lens = malloc(SRTP_PACKETS * sizeof(size_t));
	double pr[16], un[16], pb, pm, ub, um;
	uint32_t s = 99;
	int rv;

	for (size_t i = 0; i < payload; i++)
		pay[i] = (uint8_t)xs32(&s);
	for (int r = 0; r < reps; r++) {
		struct rl_srtp *tx, *rx;
		srtp_pair(suite, &tx, &rx);
		/* Build, then protect: the header write and payload copy are in the figure
		 * (tens of ns), as a sender does them too. */
		double t0 = cpu_now();
		for (int i = 0; i < SRTP_PACKETS; i++) {
			uint8_t *b = slots + (size_t)i * SRTP_SLOT;
			size_t n = rtp_header(b, (uint16_t)i, (uint32_t)i * 960, 0x1234, 111);
			memcpy(b + n, pay, payload);
			lens[i] = n + payload;
			if ((rv = rl_srtp_protect(tx, b, &lens[i], SRTP_SLOT)) != RL_OK)
				die("rl_srtp_protect", rv);
		}
		double t1 = cpu_now();
		for (int i = 0; i < SRTP_PACKETS; i++)
			if ((rv = rl_srtp_unprotect(rx, slots + (size_t)i * SRTP_SLOT, &lens[i])) != RL_OK)
				die("rl_srtp_unprotect", rv);
		double t2 = cpu_now();
		pr[r] = (t1 - t0) / SRTP_PACKETS * 1e9;
		un[r] = (t2 - t1) / SRTP_PACKETS * 1e9;
		rl_srtp_close(tx);
		rl_srtp_close(rx);
	}
	stats(pr, reps, &pb, &pm);
	stats(un, reps, &ub, &um);
	printf("  %-24s %4zu B -> %4zu B   protect %6.0f [%6.0f] ns   unprotect %6.0f [%6.0f] ns\n",
	       rl_srtp_suite_name(suite), RTP_HDR + payload,
	       RTP_HDR + payload + (suite == RL_SRTP_AEAD_AES_128_GCM ? 16 : 10), pb, pm, ub, um);
	free(slots);
	free(lens);
}

/* ---------------------------------------------------------------------------------------- */
/* Transcoding: carrier G.711 (8 kHz) <-> agent Opus */

struct call {
	OpusEncoder *enc;   /* carrier -> agent, 8 kHz narrowband */
	OpusDecoder *dec;   /* agent -> carrier, decoded at 8 kHz */
	struct rl_srtp *tx; /* to the agent */
	struct rl_srtp *rx; /* from the agent */
	size_t off;         /* frame offset into the shared signal and packet list */
	uint16_t seq;
};

enum { ST_G711_DEC, ST_OPUS_ENC, ST_PROTECT, ST_UNPROTECT, ST_OPUS_DEC, ST_G711_ENC, ST_N };
static const char *st_name[ST_N] = {"G.711 decode 160", "Opus encode 8 kHz", "SRTP protect",
                                    "SRTP unprotect",   "Opus decode 8 kHz", "G.711 encode 160"};

static volatile uint8_t result_sink;

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void bench_transcode(const int16_t *sig8, const int16_t *sig16, size_t frames, int ncalls)
{
	const size_t run = frames / 2, spread = frames - run; /* each call starts somewhere else */
	const int suite = RL_SRTP_AEAD_AES_128_GCM;
	uint8_t *ulaw = malloc(frames * 160), key[RL_SRTP_KEY_MAX];
	uint8_t(*agent)[PKT_CAP] = malloc(frames * sizeof(*agent));
	size_t *alen = malloc(frames * sizeof(size_t));
	double tot[16], share[ST_N] = {0}, best, median;
	struct call *c = calloc((size_t)ncalls, sizeof(*c));
	int rv;

	/* What the carrier sends: the 8 kHz signal as PCMU. */
	rl_g711_ulaw_encode(ulaw, sig8, frames * 160);

	/* What the agent sends: 16 kHz wideband Opus at the defaults, SRTP-protected with one
	 * key every call's receive context shares (the cost does not depend on the key). */
	{
		OpusEncoder *e = encoder(16000, 5);
		struct rl_srtp *tx;
		rl_srtp_keygen(suite, key, sizeof(key));
		if ((rv = rl_srtp_open(&tx, suite, key, rl_srtp_key_len(suite), 1)) != RL_OK)
			die("rl_srtp_open", rv);
		for (size_t f = 0; f < frames; f++) {
			size_t n = rtp_header(agent[f], (uint16_t)f, (uint32_t)f * 960, 0xA6E17, 111);
			int pl = opus_encode(e, sig16 + f * 320, 320, agent[f] + n, MAX_OPUS);
			if (pl < 0)
				die("opus_encode", pl);
			alen[f] = n + (size_t)pl;
			if ((rv = rl_srtp_protect(tx, agent[f], &alen[f], PKT_CAP)) != RL_OK)
				die("rl_srtp_protect", rv);
		}
		opus_encoder_destroy(e);
		rl_srtp_close(tx);
	}

	for (int r = 0; r < reps; r++) {
		double st[ST_N] = {0};
		for (int i = 0; i < ncalls; i++) {
			uint8_t k2[RL_SRTP_KEY_MAX];
			c[i].enc = encoder(8000, 5);
			c[i].dec = decoder(8000);
			rl_srtp_keygen(suite, k2, sizeof(k2));
			if ((rv = rl_srtp_open(&c[i].tx, suite, k2, rl_srtp_key_len(suite), 1)) != RL_OK ||
			    (rv = rl_srtp_open(&c[i].rx, suite, key, rl_srtp_key_len(suite), 0)) != RL_OK)
				die("rl_srtp_open", rv);
			c[i].off = (size_t)i * 7919 % spread;
			c[i].seq = (uint16_t)(i * 1000);
		}
		double t0 = cpu_now();
		for (size_t f = 0; f < run; f++) {
			for (int i = 0; i < ncalls; i++) {
				struct call *k = &c[i];
				size_t fi = k->off + f, n;
				int16_t pcm[160];
				uint8_t buf[PKT_CAP], out[160];
				double a, b;

				/* carrier -> agent */
				a = mono();
				rl_g711_ulaw_decode(pcm, ulaw + fi * 160, 160);
				b = mono();
				st[ST_G711_DEC] += b - a;
				n = rtp_header(buf, k->seq, (uint32_t)k->seq * 960, 0xC0FFEE + (uint32_t)i, 111);
				k->seq++;
				int pl = opus_encode(k->enc, pcm, 160, buf + n, MAX_OPUS);
				if (pl < 0)
					die("opus_encode", pl);
				n += (size_t)pl;
				a = mono();
				st[ST_OPUS_ENC] += a - b;
				if ((rv = rl_srtp_protect(k->tx, buf, &n, sizeof(buf))) != RL_OK)
					die("rl_srtp_protect", rv);
				b = mono();
				st[ST_PROTECT] += b - a;

				/* agent -> carrier (the copy stands for the receive into buf) */
				n = alen[fi];
				memcpy(buf, agent[fi], n);
				if ((rv = rl_srtp_unprotect(k->rx, buf, &n)) != RL_OK)
					die("rl_srtp_unprotect", rv);
				a = mono();
				st[ST_UNPROTECT] += a - b;
				if (opus_decode(k->dec, buf + RTP_HDR, (opus_int32)(n - RTP_HDR), pcm, 160, 0) != 160)
					die("opus_decode", 0);
				b = mono();
				st[ST_OPUS_DEC] += b - a;
				rl_g711_ulaw_encode(out, pcm, 160);
				a = mono();
				st[ST_G711_ENC] += a - b;
				result_sink ^= out[0]; /* keep the result observable */
			}
		}
		double t1 = cpu_now();
		tot[r] = (t1 - t0) / ((double)run * ncalls) * 1e6;
		double sum = 0;
		for (int s = 0; s < ST_N; s++)
			sum += st[s];
		for (int s = 0; s < ST_N; s++)
			share[s] += st[s] / sum / reps;
		for (int i = 0; i < ncalls; i++) {
			opus_encoder_destroy(c[i].enc);
			opus_decoder_destroy(c[i].dec);
			rl_srtp_close(c[i].tx);
			rl_srtp_close(c[i].rx);
		}
	}
	stats(tot, reps, &best, &median);
	printf("  %d calls interleaved, %zu frames (%.1f s) each, agent side 16 kHz WB Opus, carrier PCMU, SRTP %s\n",
	       ncalls, run, (double)run * FRAME_MS / 1000.0, rl_srtp_suite_name(suite));
	for (int s = 0; s < ST_N; s++)
		printf("    %-20s %6.2f us  (%4.1f %%)\n", st_name[s], best * share[s], share[s] * 100);
	printf("  one call, both directions, per 20 ms: %.1f us [%.1f]  = %.2f %% of one core\n", best, median,
	       best / (FRAME_MS * 1000.0) * 100);
	double calls = FRAME_MS * 1000.0 / best, calls_med = FRAME_MS * 1000.0 / median;
	printf("  calls per core: %.0f [%.0f]   goal >= %d: %s (%.2fx)\n", calls, calls_med, GOAL_CALLS,
	       calls >= GOAL_CALLS ? "met" : "NOT met", calls / GOAL_CALLS);
	free(ulaw);
	free(agent);
	free(alen);
	free(c);
}

/* ---------------------------------------------------------------------------------------- */
/* The carrier leg with Opus: what a carrier offering opus/48000/2 costs at the node */

static uint64_t leg_clock(void *arg)
{
	return *(uint64_t *)arg;
}

/* bench_leg times, per 20 ms frame on a leg at fs, the sink's write (Opus encode at the leg's
 * settings, RTP header, sendto over loopback) and one received packet injected plus the
 * source's read (RTP and Opus checks, jitter buffer, decode, an empty recvmmsg). */
static void bench_leg(const int16_t *sig, size_t frames, int fs)
{
	const size_t spf = (size_t)fs / 50;
	uint8_t(*pkt)[PKT_CAP] = malloc(frames * sizeof(*pkt));
	size_t *plen = malloc(frames * sizeof(size_t)), bytes = 0;
	double enc[16], dec[16], eb, em, db, dm;
	int16_t pcm[320];

	for (int r = 0; r < reps; r++) {
		struct rl_carrier_conf cf;
		struct rl_carrier *a, *b;
		struct sockaddr_in at = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t alen = sizeof(at);
		uint64_t clk = 1000000;
		int fd = socket(AF_INET, SOCK_DGRAM, 0), rv;

		rl_carrier_conf_default(&cf);
		cf.codec = RL_CARRIER_OPUS;
		cf.pt = 111;
		cf.rate = (unsigned)fs;
		if (fd < 0 || bind(fd, (struct sockaddr *)&at, sizeof(at)) != 0 ||
		    getsockname(fd, (struct sockaddr *)&at, &alen) != 0)
			die("socket", 0);
		if ((rv = rl_carrier_open(&a, "127.0.0.1", &cf)) != RL_OK ||
		    (rv = rl_carrier_open(&b, "127.0.0.1", &cf)) != RL_OK ||
		    (rv = rl_carrier_set_peer(a, "127.0.0.1", ntohs(at.sin_port))) != RL_OK)
			die("rl_carrier_open", rv);
		rl_carrier_set_clock(b, leg_clock, &clk);
		struct rl_audio_sink *sink = rl_carrier_sink(a);
		struct rl_audio_src *src = rl_carrier_src(b);
		enc[r] = dec[r] = 0;
		bytes = 0;
		for (size_t f = 0; f < frames; f++) {
			double t0 = cpu_now();
			sink->write(sink, sig + f * spf, spf);
			enc[r] += cpu_now() - t0;
			ssize_t n = recv(fd, pkt[f], PKT_CAP, 0); /* outside the timing: the carrier's side */
			plen[f] = n > 0 ? (size_t)n : 0;
			bytes += plen[f] > RTP_HDR ? plen[f] - RTP_HDR : 0;
		}
		for (size_t f = 0; f < frames; f++, clk += FRAME_MS * 1000) {
			double t0 = cpu_now();
			rl_carrier_inject(b, pkt[f], plen[f], &at, sizeof(at));
			src->read(src, pcm, spf);
			dec[r] += cpu_now() - t0;
		}
		enc[r] = enc[r] / (double)frames * 1e6;
		dec[r] = dec[r] / (double)frames * 1e6;
		sink->close(sink);
		src->close(src);
		rl_carrier_close(a);
		rl_carrier_close(b);
		close(fd);
	}
	stats(enc, reps, &eb, &em);
	stats(dec, reps, &db, &dm);
	printf("  %2d kHz leg   write (encode) %6.1f [%6.1f] us   read (decode) %6.1f [%6.1f] us   %5.1f kb/s   "
	       "%5.2f %% of one core\n",
	       fs / 1000, eb, em, db, dm, (double)bytes * 8 / ((double)frames * FRAME_MS),
	       (eb + db) / (FRAME_MS * 10.0));
	free(pkt);
	free(plen);
}

/* ---------------------------------------------------------------------------------------- */

static int pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0) {
		if (sched_getaffinity(0, sizeof(set), &set) != 0)
			return -1;
		for (int i = CPU_SETSIZE - 1; i >= 0; i--)
			if (CPU_ISSET(i, &set)) {
				cpu = i;
				break;
			}
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0 ? cpu : -1;
}

static void sections_a(const int16_t *sig16, const int16_t *sig8, size_t frames)
{
	printf(
	    "(a) Opus, 20 ms frames, AUDIO application, VBR, in-band FEC, packet loss 5 %% (bitrate: Opus default)\n");
	printf("  %-34s %15s %15s %8s %10s   %-8s %-8s %s\n", "", "encode us/frame", "decode us/frame", "avg pkt",
	       "bitrate", "enc %", "dec %", "enc+dec % of one core per stream");
	bench_opus("16 kHz WB, complexity 5 (default)", sig16, frames, 16000, 5);
	bench_opus("16 kHz WB, complexity 10", sig16, frames, 16000, 10);
	bench_opus("8 kHz NB, complexity 5", sig8, frames, 8000, 5);
	bench_opus("8 kHz NB, complexity 10", sig8, frames, 8000, 10);
}

int main(int argc, char **argv)
{
	double seconds = 30;
	int ncalls = GOAL_CALLS, cpu = -1;
	const char *only = "abcd"; /* the sections to run */

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc)
			ncalls = atoi(argv[++i]);
		else if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc)
			cpu = atoi(argv[++i]);
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(
			    stderr,
			    "usage: relais-bench-codec [--seconds S] [--reps N] [--calls M] [--cpu C] [--only abcd]\n");
			return 2;
		}
	}
	if (seconds < 2 || seconds > 600 || reps < 1 || reps > 16 || ncalls < 1 || ncalls > 5000) {
		fprintf(stderr, "relais-bench-codec: --seconds 2..600, --reps 1..16, --calls 1..5000\n");
		return 2;
	}
	cpu = pin(cpu);

	size_t frames = (size_t)(seconds * 1000 / FRAME_MS);
	int16_t *sig16 = malloc(frames * 320 * sizeof(int16_t)), *sig8 = malloc(frames * 160 * sizeof(int16_t));
	double voiced = make_speech(sig16, frames * 320, 16000);
	make_speech(sig8, frames * 160, 8000);
	double rms = 0;
	for (size_t i = 0; i < frames * 320; i++)
		rms += (double)sig16[i] * sig16[i];
	rms = sqrt(rms / (double)(frames * 320));

	printf("relais-bench-codec: %s, libsrtp %s\n", opus_get_version_string(), srtp_get_version_string());
	printf("one thread pinned to cpu %d; thread CPU time, best of %d runs [median]\n", cpu, reps);
	printf("signal: %.0f s synthetic speech (pitch 100-250 Hz, 3 formants, fricatives, pauses, noise floor),"
	       " %.0f %% voiced, %.1f dBFS RMS\n\n",
	       seconds, voiced * 100, 20 * log10(rms / 32768));

	if (strchr(only, 'a') != NULL)
		sections_a(sig16, sig8, frames);
	if (strchr(only, 'b') != NULL) {
		printf("\n(b) SRTP per packet, %d packets in order, Opus payload 80 B\n", SRTP_PACKETS);
		bench_srtp(RL_SRTP_AEAD_AES_128_GCM, 80);
		bench_srtp(RL_SRTP_AES_CM_128_HMAC_SHA1_80, 80);
	}
	if (strchr(only, 'c') != NULL) {
		printf(
		    "\n(c) transcoding a carrier call: per 20 ms, G.711 decode + Opus encode (8 kHz NB, complexity 5)\n"
		    "    + SRTP protect towards the agent; SRTP unprotect + Opus decode at 8 kHz + G.711 encode back\n");
		bench_transcode(sig8, sig16, frames, ncalls);
	}
	if (strchr(only, 'd') != NULL) {
		printf(
		    "\n(d) Opus carrier leg (rl_carrier), per 20 ms frame: VOIP, VBR, in-band FEC at 5 %% loss,\n"
		    "    complexity 5, 22 kb/s cap at 8 kHz, 28 at 16; the leg's rate is the codec's (no resampler)\n");
		bench_leg(sig8, frames, 8000);
		bench_leg(sig16, frames, 16000);
	}
	free(sig16);
	free(sig8);
	return 0;
}
