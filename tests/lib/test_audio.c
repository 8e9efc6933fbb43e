/*
 * Audio sources: a sequence of WAV pieces plays each in full, in order, then ends.
 */
#include <stdio.h>
#include <stdlib.h>

#include "rl_audio.h"
#include "rl_err.h"
#include "rltest.h"

static void piece(const char *path, int16_t value, size_t n)
{
	int16_t *pcm = malloc(n * sizeof(*pcm));
	RL_REQUIRE(pcm != NULL);
	for (size_t i = 0; i < n; i++)
		pcm[i] = value;
	RL_REQUIRE(rl_audio_write_wav(path, pcm, n, 8000) == RL_OK);
	free(pcm);
}

int main(void)
{
	const char *dir = rltest_tmpdir("audio");
	char a[600], b[600];
	struct rl_audio_src *srcs[2], *seq;
	int16_t frame[160];
	int counts[3] = {0}, frames = 0, rv;

	snprintf(a, sizeof(a), "%s/a.wav", dir);
	snprintf(b, sizeof(b), "%s/b.wav", dir);
	piece(a, 1000, 400);  /* 50 ms */
	piece(b, -2000, 480); /* 60 ms */
	RL_REQUIRE(rl_audio_wav_src(&srcs[0], a, 8000, 0) == RL_OK);
	RL_REQUIRE(rl_audio_wav_src(&srcs[1], b, 8000, 0) == RL_OK);
	RL_REQUIRE(rl_audio_seq_src(&seq, srcs, 2, 8000) == RL_OK);
	do {
		rv = seq->read(seq, frame, 160);
		frames++;
		for (int i = 0; i < 160; i++)
			counts[frame[i] == 1000 ? 0 : frame[i] == -2000 ? 1 : 2]++;
	} while (rv == RL_OK && frames < 100);
	RL_CHECK(rv == RL_ENOENT);
	RL_CHECK(counts[0] == 400); /* every sample of both pieces, in full */
	RL_CHECK(counts[1] == 480);
	RL_CHECK(frames == 6); /* 3 frames for a (the last padded), 3 for b */
	RL_CHECK(seq->read(seq, frame, 160) == RL_ENOENT);
	seq->close(seq);

	/* Mixed rates are refused, and the pieces handed over are closed (no leak). */
	RL_REQUIRE(rl_audio_wav_src(&srcs[0], a, 8000, 0) == RL_OK);
	RL_REQUIRE(rl_audio_wav_src(&srcs[1], b, 16000, 0) == RL_OK);
	RL_CHECK(rl_audio_seq_src(&seq, srcs, 2, 8000) == RL_EINVAL);
	/* Closing early closes what was not played. */
	RL_REQUIRE(rl_audio_wav_src(&srcs[0], a, 8000, 0) == RL_OK);
	RL_REQUIRE(rl_audio_wav_src(&srcs[1], b, 8000, 0) == RL_OK);
	RL_REQUIRE(rl_audio_seq_src(&seq, srcs, 2, 8000) == RL_OK);
	seq->read(seq, frame, 160);
	seq->close(seq);
	return rltest_done();
}
