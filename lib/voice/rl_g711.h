/*
 * rl_g711.h - G.711 mu-law (PCMU) and A-law (PCMA), ITU-T G.711, for carrier legs.
 *
 * 8 kHz, one byte per sample. Transcoding to Opus happens at the node: carrier PCM at 8 kHz
 * goes straight into an 8 kHz Opus encoder (no resampling), and the agent's Opus is decoded
 * at 8 kHz for the carrier.
 */
#ifndef RL_G711_H
#define RL_G711_H

#include <stddef.h>
#include <stdint.h>

/* Encode n linear 16-bit samples into n G.711 bytes. */
void rl_g711_ulaw_encode(uint8_t *out, const int16_t *in, size_t n);
void rl_g711_alaw_encode(uint8_t *out, const int16_t *in, size_t n);

/* Decode n G.711 bytes into n linear 16-bit samples. */
void rl_g711_ulaw_decode(int16_t *out, const uint8_t *in, size_t n);
void rl_g711_alaw_decode(int16_t *out, const uint8_t *in, size_t n);

#endif
