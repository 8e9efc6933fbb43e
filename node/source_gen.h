/* source_gen.h - the Poisson contact generator (demo traffic and load runs). */
#ifndef RL_SOURCE_GEN_H
#define RL_SOURCE_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "source.h"

struct rl_gen_stream {
	char tenant[RL_WIRE_MAX_ID + 1];
	char queue[RL_WIRE_MAX_ID + 1];
	char dialled[RL_WIRE_MAX_ID + 1];
	double per_minute;
	int priority;
	double patience_s;
	uint64_t next_at; /* mono us of the next arrival */
};

struct rl_gen_counters {
	unsigned long long generated, acked, connected, ended, abandoned, errors;
};

/* rl_gen_create makes a generator over n streams (copied); seed 0 = fixed default. */
struct rl_source *rl_gen_create(const struct rl_gen_stream *streams, int n, uint64_t seed);

const struct rl_gen_counters *rl_gen_counters(const struct rl_source *s);

/* Random helpers, exposed for tests: uniform in (0,1), exponential with mean, caller numbers. */
double rl_gen_uniform(uint64_t *rng);
double rl_gen_exp(uint64_t *rng, double mean);
void rl_gen_caller(uint64_t *rng, char *buf, size_t len);

#endif
