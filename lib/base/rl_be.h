/* rl_be.h - big-endian integers in byte buffers (LMDB keys, SP framing). */
#ifndef RL_BE_H
#define RL_BE_H

#include <stdint.h>

static inline uint64_t rl_be64(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return v;
}

static inline void rl_put_be64(void *p, uint64_t v)
{
	uint8_t *b = p;

	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

#endif
