/* rl_time.h - clocks. Wall clock for records that outlive a process, monotonic for timers. */
#ifndef RL_TIME_H
#define RL_TIME_H

#include <stdint.h>
#include <time.h>

/* rl_wall_us returns microseconds since the Unix epoch (CLOCK_REALTIME). */
static inline uint64_t rl_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* rl_mono_us returns microseconds of CLOCK_MONOTONIC. */
static inline uint64_t rl_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif
