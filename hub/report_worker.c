/*
 * report_worker.c - the thread reports are folded on, so the engine never waits for one.
 *
 * Jobs queue in arrival order; each is folded (rl_report_run, on the worker's own snapshot of
 * the store) and handed back through the loop, whose owner gives it to the engine. The
 * engine caps how many it has asked for (report.c), so the queue stays short.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "report.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_loop.h"

struct rl_report_worker {
	pthread_t thread;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	struct rl_report_job *head, *tail;
	int stop;
	struct rl_loop *loop;
	int tag;
};

/* rl_report_next waits for the next job; NULL when the worker stops. */
static struct rl_report_job *rl_report_next(struct rl_report_worker *w)
{
	struct rl_report_job *job = NULL;

	pthread_mutex_lock(&w->mtx);
	while (w->head == NULL && !w->stop)
		pthread_cond_wait(&w->cv, &w->mtx);
	if (!w->stop) {
		job = w->head;
		w->head = job->next;
		if (w->head == NULL)
			w->tail = NULL;
	}
	pthread_mutex_unlock(&w->mtx);
	return job;
}

static void *rl_report_main(void *arg)
{
	struct rl_report_worker *w = arg;
	struct rl_report_job *job;

	while ((job = rl_report_next(w)) != NULL) {
		rl_report_run(job);
		/* A full inbox: wait for room rather than lose the answer. */
		while (rl_loop_post(w->loop, w->tag, job) != RL_OK)
			nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	return NULL;
}

int rl_report_worker_start(struct rl_report_worker **out, struct rl_loop *loop, int tag)
{
	struct rl_report_worker *w = rl_calloc(1, sizeof(*w));

	w->loop = loop;
	w->tag = tag;
	pthread_mutex_init(&w->mtx, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, rl_report_main, w) != 0) {
		pthread_mutex_destroy(&w->mtx);
		pthread_cond_destroy(&w->cv);
		free(w);
		return RL_EIO;
	}
	*out = w;
	return RL_OK;
}

void rl_report_submit(void *arg, struct rl_report_job *job)
{
	struct rl_report_worker *w = arg;

	job->next = NULL;
	pthread_mutex_lock(&w->mtx);
	if (w->tail != NULL)
		w->tail->next = job;
	else
		w->head = job;
	w->tail = job;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mtx);
}

void rl_report_worker_stop(struct rl_report_worker *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mtx);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mtx);
	pthread_join(w->thread, NULL);
	while (w->head != NULL) {
		struct rl_report_job *job = w->head;
		w->head = job->next;
		rl_report_job_free(job);
	}
	pthread_mutex_destroy(&w->mtx);
	pthread_cond_destroy(&w->cv);
	free(w);
}
