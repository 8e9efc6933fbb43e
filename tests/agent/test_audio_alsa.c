/*
 * The agent client's sound card back end against ALSA's "null" device (no hardware needed):
 * it opens mono 16-bit at the voice path's rate, never blocks the media thread, and reports
 * a missing device clearly.
 */
#include <string.h>

#include "audio_alsa.h"
#include "rl_err.h"
#include "rl_time.h"
#include "rltest.h"

int main(void)
{
	struct rl_audio_src *src = NULL;
	struct rl_audio_sink *sink = NULL;
	int16_t pcm[320];

	RL_REQUIRE(rl_audio_alsa_src(&src, "null", 16000) == RL_OK);
	RL_REQUIRE(rl_audio_alsa_sink(&sink, "null", 16000) == RL_OK);
	RL_CHECK(src->rate == 16000 && sink->rate == 16000);
	/* 50 frames (one second of calls) must take far less than a second: nothing blocks. */
	uint64_t t0 = rl_mono_us();
	for (int i = 0; i < 50; i++) {
		memset(pcm, 0x55, sizeof(pcm));
		RL_CHECK(src->read(src, pcm, 320) == RL_OK);
		RL_CHECK(sink->write(sink, pcm, 320) == RL_OK);
	}
	RL_CHECK(rl_mono_us() - t0 < 500000);
	src->close(src);
	sink->close(sink);

	RL_CHECK(rl_audio_alsa_src(&src, "no-such-device-xyz", 16000) == RL_ENOENT);
	RL_CHECK(rl_audio_alsa_sink(&sink, "no-such-device-xyz", 16000) == RL_ENOENT);
	return rltest_done();
}
