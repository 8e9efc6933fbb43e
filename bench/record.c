/*
 * relais-bench-record - what recording costs a node, by thread CPU time: N calls recorded for
 * S seconds of audio each, as a media thread feeds them (rl_record_local and rl_record_peer
 * with real Opus packets, 16 kHz at 24 kb/s as the calls carry them) and the recorder thread
 * writes them (Ogg pages, SHA-256, write, fsync at the end). The frames go in as fast as the
 * thread can, not in real time (the writer's queue is made big enough to hold them): the CPU
 * per second of call is what counts.
 *
 *   relais-bench-record [--calls N] [--seconds S] [--dir D]
 */
#include <math.h>
#include <opus/opus.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rl_err.h"
#include "rl_record.h"

#define FRAMES 500 /* 10 s of packets, replayed */

static double cpu_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* encode: FRAMES packets of a voice-like tone (a pitch that wanders, amplitude bursts). */
static void encode(uint8_t pkt[FRAMES][400], size_t len[FRAMES], double hz)
{
	int err;
	OpusEncoder *e = opus_encoder_create(16000, 1, OPUS_APPLICATION_AUDIO, &err);
	int16_t pcm[320];
	double ph = 0;

	opus_encoder_ctl(e, OPUS_SET_BITRATE(24000));
	opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(1));
	opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(5));
	opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(5));
	for (int f = 0; f < FRAMES; f++) {
		for (int i = 0; i < 320; i++) {
			double t = (f * 320 + i) / 16000.0;
			ph += 2 * M_PI * hz * (1 + 0.2 * sin(2 * M_PI * 0.7 * t)) / 16000;
			pcm[i] = (int16_t)(9000 * (0.5 + 0.5 * sin(2 * M_PI * 3 * t)) * sin(ph));
		}
		len[f] = (size_t)opus_encode(e, pcm, 320, pkt[f], 400);
	}
	opus_encoder_destroy(e);
}

int main(int argc, char **argv)
{
	static uint8_t a[FRAMES][400], b[FRAMES][400];
	static size_t la[FRAMES], lb[FRAMES];
	int calls = 100, seconds = 60;
	char dir[256] = "", path[512];
	struct rl_recorder *r;
	struct rl_record_result res;
	struct rl_recorder_stats st;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--calls") == 0)
			calls = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--dir") == 0)
			snprintf(dir, sizeof(dir), "%s", argv[i + 1]);
	}
	if (calls < 1 || calls > 10000 || seconds < 1 ||
	    (dir[0] == 0 && mkdtemp(strcpy(dir, "/var/tmp/relais-bench-record.XXXXXX")) == NULL))
		return 2;
	encode(a, la, 140);
	encode(b, lb, 210);
	struct rl_record **rec = calloc((size_t)calls, sizeof(*rec));
	const char *tags[] = {"RELAIS_CONTACT=bench"};
	/* fed faster than real time: a queue that holds it all, so that the writer does it all */
	if (rl_recorder_open(&r, (size_t)calls * (size_t)seconds * 8192u) != RL_OK)
		return 1;
	double p0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID), t0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
	for (int i = 0; i < calls; i++) {
		snprintf(path, sizeof(path), "%s/c%05d.opus", dir, i);
		rec[i] = rl_record_open(r, "bench", path, 16000, tags, 1);
	}
	for (int f = 0; f < seconds * 50; f++)
		for (int i = 0; i < calls; i++) {
			rl_record_local(rec[i], a[(f + i) % FRAMES], la[(f + i) % FRAMES]);
			rl_record_peer(rec[i], b[(f + 3 * i) % FRAMES], lb[(f + 3 * i) % FRAMES]);
		}
	double t1 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
	for (int i = 0; i < calls; i++)
		rl_record_close(rec[i]);
	int whole = 0;
	for (int got = 0; got < calls;) {
		if (rl_recorder_poll(r, &res)) {
			got++;
			whole += res.err == RL_OK;
		} else {
			usleep(1000);
		}
	}
	rl_recorder_stats(r, &st);
	double t2 = cpu_s(CLOCK_THREAD_CPUTIME_ID), p2 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
	rl_recorder_close(r);
	double media = t1 - t0, owner = t2 - t1, writer = (p2 - p0) - (t2 - t0), call_s = (double)calls * seconds;
	printf("calls %d x %d s of audio: %d files whole, %.1f MB written (%.1f kbit/s per call)\n", calls, seconds,
	       whole, (double)st.bytes / 1e6, (double)st.bytes * 8 / call_s / 1000);
	printf(
	    "media thread (rl_record_local + rl_record_peer): %.2f us per 20 ms frame = %.4f %% of a core per call\n",
	    media / call_s / 50 * 1e6, 100 * media / call_s);
	printf("recorder thread (pages, SHA-256, writes, fsync): %.4f %% of a core per call\n", 100 * writer / call_s);
	printf("open and close (the node's loop): %.1f us per call\n", owner / calls * 1e6);
	printf("RESULT record_pct_per_call=%.4f media_pct=%.4f writer_pct=%.4f\n", 100 * (media + writer) / call_s,
	       100 * media / call_s, 100 * writer / call_s);
	printf("files in %s\n", dir);
	free(rec);
	return whole == calls ? 0 : 1;
}
