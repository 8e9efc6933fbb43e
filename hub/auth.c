#include "auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_secret.h"

#define RL_AUTH_QUEUE 1024

struct rl_auth {
	pthread_t thread;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	struct rl_auth_job *q[RL_AUTH_QUEUE];
	unsigned head, count;
	int stop;
	struct rl_loop *loop;
	int tag;
	char dummy[256]; /* hash of a random secret at production cost */
};

static void *rl_auth_main(void *arg)
{
	struct rl_auth *a = arg;

	for (;;) {
		struct rl_auth_job *job;
		pthread_mutex_lock(&a->mtx);
		while (a->count == 0 && !a->stop)
			pthread_cond_wait(&a->cv, &a->mtx);
		if (a->stop) {
			pthread_mutex_unlock(&a->mtx);
			return NULL;
		}
		job = a->q[a->head];
		a->head = (a->head + 1) % RL_AUTH_QUEUE;
		a->count--;
		pthread_mutex_unlock(&a->mtx);
		if (job->hash[0])
			job->ok = rl_secret_verify(job->hash, job->secret) == RL_OK;
		else {
			rl_secret_verify(a->dummy, job->secret);
			job->ok = 0;
		}
		sodium_memzero(job->secret, sizeof(job->secret));
		while (rl_loop_post(a->loop, a->tag, job) != RL_OK) {
			/* The loop is saturated: wait a little rather than lose the answer. */
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
}

int rl_auth_start(struct rl_auth **out, struct rl_loop *loop, int tag)
{
	struct rl_auth *a = rl_calloc(1, sizeof(*a));
	char rnd[33];
	uint8_t raw[16];

	a->loop = loop;
	a->tag = tag;
	rl_secret_random(raw, sizeof(raw));
	sodium_bin2hex(rnd, sizeof(rnd), raw, sizeof(raw));
	/* Production cost, so refusing an unknown id takes as long as a real check. */
	if (rl_secret_hash(rnd, RL_SECRET_INTERACTIVE, a->dummy, sizeof(a->dummy)) != RL_OK)
		goto fail;
	pthread_mutex_init(&a->mtx, NULL);
	pthread_cond_init(&a->cv, NULL);
	if (pthread_create(&a->thread, NULL, rl_auth_main, a) != 0) {
		pthread_mutex_destroy(&a->mtx);
		pthread_cond_destroy(&a->cv);
		goto fail;
	}
	*out = a;
	return RL_OK;
fail:
	free(a);
	return RL_EIO;
}

void rl_auth_submit(void *arg, struct rl_auth_job *job)
{
	struct rl_auth *a = arg;

	pthread_mutex_lock(&a->mtx);
	if (a->count == RL_AUTH_QUEUE) {
		/* A login storm beyond what can be verified: ask the client to come back. */
		pthread_mutex_unlock(&a->mtx);
		job->ok = -1;
		sodium_memzero(job->secret, sizeof(job->secret));
		if (rl_loop_post(a->loop, a->tag, job) != RL_OK)
			free(job);
		return;
	}
	a->q[(a->head + a->count) % RL_AUTH_QUEUE] = job;
	a->count++;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mtx);
}

void rl_auth_stop(struct rl_auth *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mtx);
	a->stop = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mtx);
	pthread_join(a->thread, NULL);
	while (a->count > 0) {
		free(a->q[a->head]);
		a->head = (a->head + 1) % RL_AUTH_QUEUE;
		a->count--;
	}
	pthread_mutex_destroy(&a->mtx);
	pthread_cond_destroy(&a->cv);
	free(a);
}
