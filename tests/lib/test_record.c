/*
 * Recordings (rl_record.h): two parties' Opus packets, as a call has them, become one stereo
 * Ogg Opus file that an independent decoder (tests/rlrec.c) and opus-tools read back: the
 * caller's tone left, the agent's right, a pause as silence of its length, a lost frame
 * concealed, the hash of the file, the tags. And the ways a recording stops early: a file
 * that may not grow (a real EFBIG from the kernel), a writer that falls behind, a file that
 * exists already.
 */
#include <errno.h>
#include <math.h>
#include <opus/opus.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "rl_err.h"
#include "rl_record.h"
#include "rltest.h"
#include "rlrec.h"

#define RATE    16000
#define SAMPLES 320 /* 20 ms */

struct party {
	OpusEncoder *enc;
	double hz, phase;
};

static void party_init(struct party *p, double hz)
{
	int err;

	p->enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_AUDIO, &err);
	opus_encoder_ctl(p->enc, OPUS_SET_BITRATE(24000));
	opus_encoder_ctl(p->enc, OPUS_SET_INBAND_FEC(1));
	p->hz = hz;
	p->phase = 0;
}

/* party_frame encodes the next 20 ms of p's tone into pkt; returns its length. */
static size_t party_frame(struct party *p, uint8_t *pkt)
{
	int16_t pcm[SAMPLES];

	for (int i = 0; i < SAMPLES; i++) {
		pcm[i] = (int16_t)(10000 * sin(p->phase));
		p->phase += 2 * M_PI * p->hz / RATE;
	}
	return (size_t)opus_encode(p->enc, pcm, SAMPLES, pkt, 1500);
}

/* feed gives rec n frames of both parties; every lose-th peer frame is lost (0: none). */
static void feed(struct rl_record *rec, struct party *a, struct party *b, int n, int lose)
{
	uint8_t pa[1500], pb[1500];

	for (int i = 0; i < n; i++) {
		size_t la = party_frame(a, pa), lb = party_frame(b, pb);
		rl_record_local(rec, pa, la);
		rl_record_peer(rec, lose && i % lose == lose - 1 ? NULL : pb, lb);
	}
}

static int wait_result(struct rl_recorder *r, struct rl_record_result *res)
{
	return RL_WAIT(10000, rl_recorder_poll(r, res) == 1);
}

static const char *tags[] = {"RELAIS_CONTACT=c-1", "RELAIS_TENANT=bank", "RELAIS_AGENT=a1"};

static void test_file(const char *dir)
{
	struct rl_recorder *r;
	struct rl_record *rec;
	struct rl_record_result res;
	struct party caller, agent;
	struct rlrec d;
	char path[512], sha[65], cmd[2048];
	size_t f = 48000; /* 1 s, in samples per channel at 48 kHz */

	RL_REQUIRE(rl_recorder_open(&r, 0) == RL_OK);
	party_init(&caller, 440);
	party_init(&agent, 1000);
	snprintf(path, sizeof(path), "%s/bank/2026-12-05/c-1.opus", dir);
	rec = rl_record_open(r, "c-1", path, RATE, tags, 3);
	rl_record_tag(rec, 1796452340000000ull);
	feed(rec, &caller, &agent, 100, 0); /* 2 s */
	rl_record_pause(rec, 1);
	feed(rec, &caller, &agent, 75, 0); /* 1.5 s paused */
	rl_record_pause(rec, 0);
	feed(rec, &caller, &agent, 100, 10); /* 2 s, one peer frame in ten lost */
	rl_record_close(rec);
	RL_REQUIRE(wait_result(r, &res));
	RL_CHECK(res.err == RL_OK);
	RL_CHECK(strcmp(res.key, "c-1") == 0 && strcmp(res.path, path) == 0);
	RL_CHECK(res.frames == 275 && res.paused_frames == 75);
	RL_CHECK(res.tag == 1796452340000000ull);
	RL_CHECK(rlrec_sha256_file(path, sha) == 0 && strcmp(sha, res.sha256) == 0);

	RL_REQUIRE(rlrec_read(path, &d) == 0);
	RL_CHECK(d.channels == 2 && d.eos);
	RL_CHECK(strstr(d.tags, "RELAIS_TENANT=bank\n") != NULL && strstr(d.tags, "RELAIS_AGENT=a1\n") != NULL);
	/* 275 frames of 20 ms, less the pre-skip */
	RL_CHECK(d.frames + 312 == 275 * 960);
	/* talking: the caller's tone left only, the agent's right only */
	RL_CHECK(rlrec_tone(&d, 0, f / 2, f, 440) > 0.1);
	RL_CHECK(rlrec_tone(&d, 1, f / 2, f, 1000) > 0.1);
	RL_CHECK(rlrec_tone(&d, 0, f / 2, f, 1000) < 0.01);
	RL_CHECK(rlrec_tone(&d, 1, f / 2, f, 440) < 0.01);
	/* paused from 2 s to 3.5 s: silence both sides (a frame's fade each end aside) */
	RL_CHECK(rlrec_rms(&d, 0, 2 * f + 1920, f * 3 / 2 - 3840) < 0.001);
	RL_CHECK(rlrec_rms(&d, 1, 2 * f + 1920, f * 3 / 2 - 3840) < 0.001);
	RL_CHECK(rlrec_rms(&d, 0, 2 * f - 4800, 2400) > 0.05);
	RL_CHECK(rlrec_rms(&d, 0, 7 * f / 2 + 4800, 2400) > 0.05);
	/* after: both again, the agent's lost frames concealed */
	RL_CHECK(rlrec_tone(&d, 0, 4 * f, f / 2, 440) > 0.1);
	RL_CHECK(rlrec_tone(&d, 1, 4 * f, f / 2, 1000) > 0.05);
	rlrec_free(&d);
	/* and opus-tools read it as we do */
	snprintf(cmd, sizeof(cmd), "opusinfo %s | grep -q 'Channels: 2' && opusdec --quiet %s %s/out.wav", path, path,
	         dir);
	RL_CHECK(rltest_run(cmd, "/dev/null") == 0);

	/* a second recording of the same contact never overwrites the first */
	rec = rl_record_open(r, "c-1", path, RATE, tags, 3);
	feed(rec, &caller, &agent, 10, 0);
	rl_record_close(rec);
	RL_REQUIRE(wait_result(r, &res));
	RL_CHECK(res.err == RL_EIO && res.sys_errno == EEXIST);
	RL_CHECK(rlrec_sha256_file(path, sha) == 0 && strcmp(sha, res.sha256) != 0);
	rl_recorder_close(r);
	opus_encoder_destroy(caller.enc);
	opus_encoder_destroy(agent.enc);
}

/* A file that may not grow past 8 KiB: the write fails (EFBIG), the file keeps whole pages and
 * decodes, its hash is what the result says; later frames are not even queued. */
static void test_write_error(const char *dir)
{
	struct rl_recorder *r;
	struct rl_record *rec;
	struct rl_record_result res;
	struct rl_recorder_stats st;
	struct party caller, agent;
	struct rlrec d;
	struct rlimit old, lim = {.rlim_cur = 8192, .rlim_max = RLIM_INFINITY};
	char path[512], sha[65];
	struct stat sb;

	signal(SIGXFSZ, SIG_IGN);
	RL_REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
	lim.rlim_max = old.rlim_max;
	RL_REQUIRE(rl_recorder_open(&r, 0) == RL_OK);
	party_init(&caller, 440);
	party_init(&agent, 1000);
	snprintf(path, sizeof(path), "%s/full.opus", dir);
	RL_REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	rec = rl_record_open(r, "c-2", path, RATE, tags, 3);
	for (int i = 0; i < 50 && !rl_record_failed(rec); i++) {
		feed(rec, &caller, &agent, 25, 0);
		rltest_sleep_ms(5);
	}
	RL_CHECK(RL_WAIT(10000, rl_record_failed(rec) == RL_EIO));
	rl_record_close(rec);
	RL_REQUIRE(wait_result(r, &res));
	RL_CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	RL_CHECK(res.err == RL_EIO && res.sys_errno == EFBIG);
	RL_CHECK(stat(path, &sb) == 0 && (uint64_t)sb.st_size == res.bytes && res.bytes <= 8192 && res.bytes > 1000);
	RL_CHECK(rlrec_sha256_file(path, sha) == 0 && strcmp(sha, res.sha256) == 0);
	RL_CHECK(rlrec_read(path, &d) == 0 && d.frames > 0 && !d.eos);
	rlrec_free(&d);
	rl_recorder_stats(r, &st);
	RL_CHECK(st.write_errors == 1 && st.incomplete == 1 && st.complete == 0 && st.active == 0);
	rl_recorder_close(r);
	opus_encoder_destroy(caller.enc);
	opus_encoder_destroy(agent.enc);
}

/* A writer whose queue cannot take one block: the recording stops (overflow), counted. */
static void test_overflow(const char *dir)
{
	struct rl_recorder *r;
	struct rl_record *rec;
	struct rl_record_result res;
	struct rl_recorder_stats st;
	struct party caller, agent;
	char path[512];

	RL_REQUIRE(rl_recorder_open(&r, 1024) == RL_OK);
	party_init(&caller, 440);
	party_init(&agent, 1000);
	snprintf(path, sizeof(path), "%s/over.opus", dir);
	rec = rl_record_open(r, "c-3", path, RATE, tags, 3);
	feed(rec, &caller, &agent, 200, 0);
	RL_CHECK(rl_record_failed(rec) == RL_EFULL);
	rl_record_close(rec);
	RL_REQUIRE(wait_result(r, &res));
	RL_CHECK(res.err == RL_EFULL);
	rl_recorder_stats(r, &st);
	RL_CHECK(st.overflows == 1 && st.incomplete == 1 && st.queued_bytes == 0);
	rl_recorder_close(r);
	opus_encoder_destroy(caller.enc);
	opus_encoder_destroy(agent.enc);
}

/* Media threads and the writer at once: each of 4 threads records 8 calls of 300 frames
 * side by side, as a shard does, while the writer takes their blocks. Every file whole. */
struct shard_arg {
	struct rl_recorder *r;
	const char *dir;
	int n;
};

static void *shard_run(void *arg)
{
	struct shard_arg *a = arg;
	struct rl_record *rec[8];
	uint8_t pkt[64];
	char path[512];

	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0xF8; /* a CELT 20 ms frame: valid, and cheap to make */
	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "%s/shard/%d/%d.opus", a->dir, a->n, i);
		rec[i] = rl_record_open(a->r, "c-s", path, RATE, tags, 3);
	}
	for (int f = 0; f < 300; f++)
		for (int i = 0; i < 8; i++) {
			pkt[1] = (uint8_t)f;
			rl_record_local(rec[i], pkt, 40);
			rl_record_peer(rec[i], f % 7 ? pkt : NULL, 60);
		}
	for (int i = 0; i < 8; i++)
		rl_record_close(rec[i]);
	return NULL;
}

static void test_threads(const char *dir)
{
	struct rl_recorder *r;
	struct rl_record_result res;
	struct shard_arg a[4];
	pthread_t t[4];
	int whole = 0;

	RL_REQUIRE(rl_recorder_open(&r, 0) == RL_OK);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct shard_arg){r, dir, i};
		RL_REQUIRE(pthread_create(&t[i], NULL, shard_run, &a[i]) == 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 32 && wait_result(r, &res); i++)
		whole += res.err == RL_OK && res.frames == 300;
	RL_CHECK(whole == 32);
	rl_recorder_close(r);
}

int main(void)
{
	const char *dir = rltest_tmpdir("record");

	test_file(dir);
	test_write_error(dir);
	test_overflow(dir);
	test_threads(dir);
	return rltest_done();
}
