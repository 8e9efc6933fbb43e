/*
 * rl_g711.c - G.711 companding (ITU-T G.711, 1988).
 *
 * Both laws are piecewise-linear approximations of a logarithm: the magnitude range is split
 * into 8 segments ("chords"), each twice as wide as the one before, and each segment into 16
 * equal quantization steps. A code byte is sign (1 bit), segment (3 bits), step (4 bits);
 * the decoder returns the middle of the step's interval. We work on the 16-bit magnitude:
 * shifting it right by the step size's exponent is the same truncation as first dropping it
 * to G.711's 14-bit (mu-law) or 13-bit (A-law) linear input.
 *
 * mu-law (PCMU): the magnitude plus a bias of 33 (14-bit scale; 132 on the 16-bit scale) is
 * what is split into segments, which makes segment 0 start at zero: the bias turns the
 * logarithmic curve into y = log(1 + mu x). Magnitudes are clipped to 8158 (14-bit). All
 * bits of the byte are inverted on the line, so silence is 0xFF (0x7F is "negative zero").
 *
 * A-law (PCMA): segments 0 and 1 share the same step (the linear part of the curve around
 * zero), segments 2..7 double it each time; no bias. Sign bit 1 is positive, and the even
 * bits are inverted on the line (XOR 0x55), so the smallest positive code is 0xD5.
 */
#include "rl_g711.h"

#define ULAW_BIAS 132   /* 33 on the 14-bit scale */
#define ULAW_CLIP 32635 /* 8158 on the 14-bit scale, plus its three truncated bits */

/* highbit: index of the most significant set bit of v > 0. */
static inline unsigned highbit(unsigned v)
{
	return 31u - (unsigned)__builtin_clz(v);
}

static inline uint8_t ulaw_encode1(int16_t x)
{
	unsigned sign = x < 0 ? 0x80u : 0u;
	unsigned m = x < 0 ? (unsigned)(-(int)x) : (unsigned)x;
	unsigned seg, mant;

	if (m > ULAW_CLIP)
		m = ULAW_CLIP;
	m += ULAW_BIAS;                 /* 132 .. 32767: bits 7 .. 14 */
	seg = highbit(m) - 7;           /* segment s spans [128 << s, 256 << s) */
	mant = (m >> (seg + 3)) & 0x0f; /* 16 steps of 8 << s */
	return (uint8_t) ~(sign | seg << 4 | mant);
}

static inline int16_t ulaw_decode1(uint8_t c)
{
	unsigned u = (uint8_t)~c;
	unsigned seg = (u >> 4) & 0x07, mant = u & 0x0f;
	/* Middle of the step: start (16 + mant) << (seg + 3), plus half a step 4 << seg. */
	int v = (int)(((mant << 3) + ULAW_BIAS) << seg) - ULAW_BIAS;

	return (int16_t)(u & 0x80 ? -v : v);
}

static inline uint8_t alaw_encode1(int16_t x)
{
	unsigned sign = x < 0 ? 0u : 0x80u; /* A-law: 1 is positive */
	unsigned m = x < 0 ? (unsigned)(-(int)x) : (unsigned)x;
	unsigned seg, mant;

	if (m > 32767)
		m = 32767;
	m >>= 3; /* 13-bit scale: 0 .. 4095 */
	if (m < 32) {
		seg = 0;
		mant = m >> 1; /* 16 steps of 2 */
	} else {
		seg = highbit(m) - 4;     /* segment s >= 1 spans [16 << s, 32 << s) */
		mant = (m >> seg) & 0x0f; /* 16 steps of 1 << s */
	}
	return (uint8_t)((sign | seg << 4 | mant) ^ 0x55);
}

static inline int16_t alaw_decode1(uint8_t c)
{
	unsigned a = c ^ 0x55u;
	unsigned seg = (a >> 4) & 0x07, mant = a & 0x0f;
	int v;

	/* Middle of the step on the 16-bit scale. */
	if (seg == 0)
		v = (int)(mant << 4) + 8;
	else
		v = (int)(((mant << 4) + 0x108) << (seg - 1));
	return (int16_t)(a & 0x80 ? v : -v);
}

void rl_g711_ulaw_encode(uint8_t *out, const int16_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = ulaw_encode1(in[i]);
}

void rl_g711_alaw_encode(uint8_t *out, const int16_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = alaw_encode1(in[i]);
}

void rl_g711_ulaw_decode(int16_t *out, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = ulaw_decode1(in[i]);
}

void rl_g711_alaw_decode(int16_t *out, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = alaw_decode1(in[i]);
}
