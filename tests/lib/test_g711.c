/* G.711: known code points, error bounds per segment, monotonicity, symmetry, and the
 * decode -> encode identity over all 256 codes of both laws. */
#include <stdlib.h>
#include <string.h>

#include "rl_g711.h"
#include "rltest.h"

static uint8_t ulaw(int x)
{
	int16_t s = (int16_t)x;
	uint8_t c;

	rl_g711_ulaw_encode(&c, &s, 1);
	return c;
}

static uint8_t alaw(int x)
{
	int16_t s = (int16_t)x;
	uint8_t c;

	rl_g711_alaw_encode(&c, &s, 1);
	return c;
}

static int ulaw_dec(uint8_t c)
{
	int16_t s;

	rl_g711_ulaw_decode(&s, &c, 1);
	return s;
}

static int alaw_dec(uint8_t c)
{
	int16_t s;

	rl_g711_alaw_decode(&s, &c, 1);
	return s;
}

static void known_points(void)
{
	/* mu-law: silence, full scale, and a few values of the classic decode table. */
	RL_CHECK(ulaw(0) == 0xFF);
	RL_CHECK(ulaw_dec(0xFF) == 0);
	RL_CHECK(ulaw_dec(0x7F) == 0); /* negative zero */
	RL_CHECK(ulaw(32767) == 0x80);
	RL_CHECK(ulaw(-32768) == 0x00);
	RL_CHECK(ulaw_dec(0x80) == 32124);
	RL_CHECK(ulaw_dec(0x00) == -32124);
	RL_CHECK(ulaw_dec(0x01) == -31100);
	RL_CHECK(ulaw_dec(0xC0) == 1884);
	RL_CHECK(ulaw_dec(0xCF) == 924);
	RL_CHECK(ulaw_dec(0xFE) == 8);
	RL_CHECK(ulaw_dec(0x7E) == -8);
	RL_CHECK(ulaw(1000) == 0xCE);
	RL_CHECK(ulaw(-1000) == 0x4E);
	/* First mu-law interval is half as wide (14-bit decision value 1, 16-bit 4). */
	RL_CHECK(ulaw(3) == 0xFF);
	RL_CHECK(ulaw(4) == 0xFE);

	/* A-law: no zero level; the smallest positive code is 0xD5 (+8). */
	RL_CHECK(alaw(0) == 0xD5);
	RL_CHECK(alaw_dec(0xD5) == 8);
	RL_CHECK(alaw_dec(0x55) == -8);
	RL_CHECK(alaw_dec(0xD4) == 24);
	RL_CHECK(alaw(32767) == 0xAA);
	RL_CHECK(alaw(-32768) == 0x2A);
	RL_CHECK(alaw_dec(0xAA) == 32256);
	RL_CHECK(alaw_dec(0x2A) == -32256);
	RL_CHECK(alaw_dec(0x00) == -5504);
	RL_CHECK(alaw_dec(0x01) == -5248);
	/* Segments 0 and 1 share the step of 16 (13-bit: 2): 255 -> seg 0, 256 -> seg 1. */
	RL_CHECK(((alaw(255) ^ 0x55) & 0x70) == 0x00);
	RL_CHECK(((alaw(256) ^ 0x55) & 0x70) == 0x10);
	RL_CHECK(alaw_dec(alaw(256)) - alaw_dec(alaw(255)) == 16);
}

/* Every 16-bit input: the error stays within half a step of the code's segment. */
static void error_bounds(void)
{
	unsigned ubad = 0, abad = 0, umono = 0, amono = 0, usym = 0, asym = 0;
	unsigned useg_hits[8] = {0}, aseg_hits[8] = {0};
	int uprev = -40000, aprev = -40000;

	for (int x = -32768; x <= 32767; x++) {
		uint8_t uc = ulaw(x), ac = alaw(x);
		int uy = ulaw_dec(uc), ay = alaw_dec(ac);
		int useg = ((uint8_t)~uc >> 4) & 7, aseg = ((ac ^ 0x55) >> 4) & 7;
		int ax = abs(x);

		/* mu-law: step 8 << seg on the 16-bit scale; clipped above 32635. */
		if (ax <= 32635) {
			if (abs(x - uy) > (4 << useg))
				ubad++;
			useg_hits[useg]++;
		} else if (uy != (x < 0 ? -32124 : 32124)) {
			ubad++;
		}
		/* A-law: step 16 in segments 0 and 1, then 8 << seg. */
		if (abs(x - ay) > (aseg == 0 ? 8 : 4 << aseg))
			abad++;
		aseg_hits[aseg]++;

		/* Quantizers never go backwards, and the code's sign follows the input's. */
		if (uy < uprev)
			umono++;
		if (ay < aprev)
			amono++;
		uprev = uy;
		aprev = ay;
		if (x > 0 && ulaw(-x) != (ulaw(x) & 0x7F))
			usym++;
		if (x > 0 && alaw(-x) != (alaw(x) & 0x7F))
			asym++;
	}
	RL_CHECK(ubad == 0);
	RL_CHECK(abad == 0);
	RL_CHECK(umono == 0);
	RL_CHECK(amono == 0);
	RL_CHECK(usym == 0);
	RL_CHECK(asym == 0);
	for (int s = 0; s < 8; s++) {
		RL_CHECK(useg_hits[s] > 0);
		RL_CHECK(aseg_hits[s] > 0);
	}
	/* Segment widths double: mu-law segment s holds 16 steps of 8 << s per sign. */
	for (int s = 1; s < 7; s++)
		RL_CHECK(useg_hits[s] == 2u * 16u * (8u << s));
	for (int s = 2; s < 7; s++)
		RL_CHECK(aseg_hits[s] == 2u * 16u * (8u << s));
	/* A-law segments 0 and 1 are equally wide (256 per sign; zero counts once). */
	RL_CHECK(aseg_hits[0] == 2 * 256 - 1);
	RL_CHECK(aseg_hits[1] == 2 * 256);
}

static void identity(void)
{
	uint8_t codes[256], back[256];
	int16_t pcm[256];
	unsigned ubad = 0, abad = 0;

	for (int i = 0; i < 256; i++)
		codes[i] = (uint8_t)i;
	rl_g711_ulaw_decode(pcm, codes, 256);
	rl_g711_ulaw_encode(back, pcm, 256);
	for (int i = 0; i < 256; i++)
		if (back[i] != (i == 0x7F ? 0xFF : i))
			ubad++;
	RL_CHECK(ubad == 0);

	rl_g711_alaw_decode(pcm, codes, 256);
	rl_g711_alaw_encode(back, pcm, 256);
	for (int i = 0; i < 256; i++)
		if (back[i] != i)
			abad++;
	RL_CHECK(abad == 0);

	/* Decoded levels are distinct (except mu-law's two zeros). */
	int16_t u[256], a[256];
	unsigned udup = 0, adup = 0;
	rl_g711_ulaw_decode(u, codes, 256);
	rl_g711_alaw_decode(a, codes, 256);
	for (int i = 0; i < 256; i++)
		for (int j = i + 1; j < 256; j++) {
			if (u[i] == u[j] && !(i == 0x7F && j == 0xFF))
				udup++;
			if (a[i] == a[j])
				adup++;
		}
	RL_CHECK(udup == 0);
	RL_CHECK(adup == 0);

	/* n = 0 touches nothing. */
	memset(back, 0x5A, sizeof(back));
	rl_g711_ulaw_encode(back, pcm, 0);
	rl_g711_alaw_encode(back, pcm, 0);
	RL_CHECK(back[0] == 0x5A);
}

int main(void)
{
	known_points();
	error_bounds();
	identity();
	return rltest_done();
}
