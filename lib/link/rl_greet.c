#include "rl_greet.h"

#include <pthread.h>
#include <stdlib.h>

#include "rl_alloc.h"
#include "rl_log.h"
#include "rl_time.h"

struct rl_greet_pipe {
	uint32_t pipe;
	uint64_t since_us;
};

struct rl_greet {
	pthread_mutex_t mu;
	rl_greet_close_fn close;
	void *close_arg;
	uint64_t timeout_us;
	struct rl_greet_pipe *v;
	size_t n, cap;
	uint64_t closed;
};

void rl_greet_add(struct rl_greet *g, uint32_t pipe)
{
	pthread_mutex_lock(&g->mu);
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		g->v = rl_realloc(g->v, g->cap * sizeof(*g->v));
	}
	g->v[g->n++] = (struct rl_greet_pipe){pipe, rl_mono_us()};
	pthread_mutex_unlock(&g->mu);
}

void rl_greet_open(struct rl_greet **out, unsigned timeout_ms, rl_greet_close_fn close, void *arg)
{
	struct rl_greet *g = rl_calloc(1, sizeof(*g));

	pthread_mutex_init(&g->mu, NULL);
	g->timeout_us = (uint64_t)timeout_ms * 1000u;
	g->close = close;
	g->close_arg = arg;
	*out = g;
}

unsigned rl_greet_sweep(struct rl_greet *g, uint64_t now, rl_greet_fn greeted, void *arg)
{
	unsigned closed = 0;
	size_t k = 0;

	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < g->n; i++) {
		struct rl_greet_pipe *w = &g->v[i];
		uint32_t id = w->pipe;
		if (greeted(arg, id))
			continue; /* said Hello: the owner's own rules apply from now on */
		if (w->since_us > now || now - w->since_us < g->timeout_us) { /* added after now was read */
			g->v[k++] = *w;
			continue;
		}
		/* A pipe that is already gone is not ours to count. */
		if (g->close(g->close_arg, id) == 0) {
			closed++;
			rl_log(RL_LOG_NOTICE, "link closed: no Hello within %llu ms pipe=%u",
			       (unsigned long long)(g->timeout_us / 1000u), id);
		}
	}
	g->n = k;
	g->closed += closed;
	pthread_mutex_unlock(&g->mu);
	return closed;
}

uint64_t rl_greet_closed(const struct rl_greet *g)
{
	return g->closed;
}

void rl_greet_close(struct rl_greet *g)
{
	if (g == NULL)
		return;
	pthread_mutex_destroy(&g->mu);
	free(g->v);
	free(g);
}
