/*
 * rl_audio.h - where a call's audio comes from and goes to, behind one small interface.
 *
 * A source yields mono 16-bit PCM at the rate it was opened with, one frame at a time; a
 * sink takes it. Back ends: WAV files (libsndfile; any rate and channel count on input,
 * converted to mono at the asked rate), a deterministic speech-like generator (for load and
 * tests), silence, and - in the agent client - the sound card (ALSA). The voice path
 * (rl_media) only sees this interface.
 *
 * A source or sink is used by one thread at a time; close frees it.
 */
#ifndef RL_AUDIO_H
#define RL_AUDIO_H

#include <stddef.h>
#include <stdint.h>

struct rl_audio_src {
	/* read fills pcm[0..n) and returns RL_OK; at the end of a non-looping source it fills
	 * silence and returns RL_ENOENT (the call may go on). */
	int (*read)(struct rl_audio_src *s, int16_t *pcm, size_t n);
	void (*close)(struct rl_audio_src *s);
	unsigned rate;
};

struct rl_audio_sink {
	/* write takes pcm[0..n); RL_EIO if the back end failed (the call goes on). */
	int (*write)(struct rl_audio_sink *s, const int16_t *pcm, size_t n);
	void (*close)(struct rl_audio_sink *s);
	unsigned rate;
};

/* rl_audio_wav_src opens a WAV (or any libsndfile format) file, delivered as mono at rate
 * Hz (linear interpolation when the file's rate differs). loop: start again at the end.
 * Errors: RL_ENOENT (cannot open), RL_EINVAL (no audio). */
int rl_audio_wav_src(struct rl_audio_src **out, const char *path, unsigned rate, int loop);

/* rl_audio_seq_src plays srcs[0..n) one after the other (it takes them: each is closed when
 * it ends, the rest at close), then ends (RL_ENOENT). All must be at rate. The frame in which
 * one ends is completed with silence. Errors: RL_EINVAL (n 0 or over 32, rates; the sources
 * are then closed). */
int rl_audio_seq_src(struct rl_audio_src **out, struct rl_audio_src **srcs, int n, unsigned rate);

/* rl_audio_wav_sink creates (truncates) a 16-bit mono WAV file at rate Hz.
 * Errors: RL_EIO. */
int rl_audio_wav_sink(struct rl_audio_sink **out, const char *path, unsigned rate);

/* rl_audio_gen_src: speech-like test signal - voiced syllables (pitch 90..260 Hz with
 * harmonics shaped by moving formants), unvoiced noise bursts and pauses - deterministic for
 * a seed. seconds: length before it ends (RL_ENOENT), 0 = endless. */
int rl_audio_gen_src(struct rl_audio_src **out, unsigned rate, uint32_t seed, unsigned seconds);

/* rl_audio_null_sink discards everything (counts nothing). */
int rl_audio_null_sink(struct rl_audio_sink **out, unsigned rate);

/* rl_audio_write_wav writes n samples to a new WAV file (tests and tools). RL_EIO. */
int rl_audio_write_wav(const char *path, const int16_t *pcm, size_t n, unsigned rate);

/* rl_audio_read_wav reads a whole file as mono at its own rate: *pcm malloc'd (caller
 * frees), *n samples, *rate. Errors: RL_ENOENT, RL_EINVAL. */
int rl_audio_read_wav(const char *path, int16_t **pcm, size_t *n, unsigned *rate);

#endif
