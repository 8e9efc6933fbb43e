/*
 * rl_opus.h - Opus with the settings every Relais stream shares: the media engine's calls and
 * the carrier legs that speak Opus.
 *
 * Mono, VBR, in-band FEC tuned for a few percent loss (the encoder is told 5 % until RTCP
 * says more), complexity 5 so that a node runs many calls per core, and a voice signal. The
 * application and the bitrate cap differ per leg and are given.
 */
#ifndef RL_OPUS_H
#define RL_OPUS_H

#include <opus/opus.h>

/* rl_opus_open makes *enc and *dec at rate (8000 or 16000, checked by the caller) for
 * application (OPUS_APPLICATION_*), the encoder capped at bps bit/s. Running out of memory
 * aborts (rl_alloc.h). The caller frees them (opus_encoder_destroy, opus_decoder_destroy). */
void rl_opus_open(unsigned rate, int application, int bps, OpusEncoder **enc, OpusDecoder **dec);

#endif
