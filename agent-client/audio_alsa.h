/*
 * audio_alsa.h - the sound card (ALSA) as an rl_audio source (microphone) and sink
 * (headset). Non-blocking: the media thread never waits on the card; a capture that has
 * not filled a frame yet gives silence for the rest, a playback that is full drops the frame.
 * Built only when ALSA's development files are present; otherwise both return RL_ENOENT.
 */
#ifndef RL_AUDIO_ALSA_H
#define RL_AUDIO_ALSA_H

#include "rl_audio.h"

/* dev: ALSA device name, NULL = "default". Errors: RL_ENOENT (no such device, or no ALSA),
 * RL_EIO (the device refused mono 16-bit at rate), RL_ENOMEM. */
int rl_audio_alsa_src(struct rl_audio_src **out, const char *dev, unsigned rate);
int rl_audio_alsa_sink(struct rl_audio_sink **out, const char *dev, unsigned rate);

#endif
