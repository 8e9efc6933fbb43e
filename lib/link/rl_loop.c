#include "rl_loop.h"

#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_bundle.h"
#include "rl_alloc.h"
#include "rl_err.h"

#define RL_LOOP_MAX_SOCKETS 256
/* Room kept free for receives in flight: a few full bundles at once (beyond that, frames
 * are dropped and counted; senders re-send). */
#define RL_LOOP_RESERVE (4 * RL_BUNDLE_MAX_FRAMES)

struct rl_loop_rx {
	struct rl_loop *loop;
	nng_socket sock;
	nng_aio *aio; /* NULL: a source of its own (rl_loop_add_source) */
	void (*resume)(void *arg);
	void *arg;
	int tag;
	int paused; /* inbox was full: receive not re-armed until drained */
};

struct rl_loop {
	nng_mtx *mtx;
	nng_cv *cv;
	struct rl_loop_event *ring; /* RL_LOOP_INBOX entries */
	unsigned head, count;
	int stopped;
	int closing;
	unsigned long long dropped; /* frames lost to a full inbox */
	int nrx;
	struct rl_loop_rx rx[RL_LOOP_MAX_SOCKETS];
};

/* Called with mtx held. The caller wakes the owner when the ring was
 * empty: only then can the owner be waiting, and a wake per frame would cost a futex call
 * each and have the owner block on the mutex its waker still holds. */
static int rl_loop_push(struct rl_loop *l, const struct rl_loop_event *ev)
{
	if (l->count == RL_LOOP_INBOX)
		return RL_EFULL;
	l->ring[(l->head + l->count) % RL_LOOP_INBOX] = *ev;
	l->count++;
	return RL_OK;
}

/* rl_loop_deliver pushes frames[0..n) from rx in one hold of the lock (freeing them if the
 * loop is closing, counting those a full inbox refuses); 1 if the receive may be re-armed. */
static int rl_loop_deliver(struct rl_loop_rx *rx, nng_msg **frames, unsigned n)
{
	struct rl_loop *l = rx->loop;
	struct rl_loop_event ev = {.kind = RL_LOOP_MSG, .src = rx->tag};
	int wake, rearm = 1;

	nng_mtx_lock(l->mtx);
	if (l->closing) {
		nng_mtx_unlock(l->mtx);
		for (unsigned i = 0; i < n; i++)
			nng_msg_free(frames[i]);
		return 0;
	}
	wake = l->count == 0 && n > 0;
	for (unsigned i = 0; i < n; i++) {
		ev.msg = frames[i];
		if (rl_loop_push(l, &ev) != RL_OK) {
			nng_msg_free(frames[i]);
			l->dropped++;
		}
	}
	/* Each socket has one receive in flight; keeping RL_LOOP_RESERVE slots free lets a
	 * completed receive (even a bundle) find room. */
	if (l->count >= RL_LOOP_INBOX - RL_LOOP_RESERVE) {
		rx->paused = 1;
		rearm = 0;
	}
	nng_mtx_unlock(l->mtx);
	if (wake)
		nng_cv_wake1(l->cv);
	return rearm;
}

static void rl_loop_rx_cb(void *arg)
{
	struct rl_loop_rx *rx = arg;
	nng_msg *frames[RL_BUNDLE_MAX_FRAMES];
	unsigned n = 0;
	int rv = nng_aio_result(rx->aio);

	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	if (rv == 0) {
		nng_msg *msg = nng_aio_get_msg(rx->aio);
		/* Split outside the lock: decoding a bundle is the costly part. */
		if (!rl_bundle_split(msg, frames, RL_BUNDLE_MAX_FRAMES, &n)) {
			frames[0] = msg;
			n = 1;
		}
	}
	if (rl_loop_deliver(rx, frames, n))
		nng_recv_aio(rx->sock, rx->aio);
}

int rl_loop_create(struct rl_loop **out)
{
	struct rl_loop *l = rl_calloc(1, sizeof(*l));

	l->ring = rl_calloc(RL_LOOP_INBOX, sizeof(*l->ring));
	if (nng_mtx_alloc(&l->mtx) != 0)
		rl_oom_in("nng_mtx_alloc");
	if (nng_cv_alloc(&l->cv, l->mtx) != 0)
		rl_oom_in("nng_cv_alloc");
	*out = l;
	return RL_OK;
}

int rl_loop_add_socket(struct rl_loop *l, nng_socket s, int tag)
{
	struct rl_loop_rx *rx;

	if (l->nrx == RL_LOOP_MAX_SOCKETS)
		return RL_EFULL;
	rx = &l->rx[l->nrx];
	rx->loop = l;
	rx->sock = s;
	rx->tag = tag;
	rx->paused = 0;
	if (nng_aio_alloc(&rx->aio, rl_loop_rx_cb, rx) != 0)
		rl_oom_in("nng_aio_alloc");
	l->nrx++;
	nng_recv_aio(s, rx->aio);
	return RL_OK;
}

int rl_loop_add_source(struct rl_loop *l, int tag, void (*resume)(void *arg), void *arg, struct rl_loop_rx **out)
{
	struct rl_loop_rx *rx;

	if (l->nrx == RL_LOOP_MAX_SOCKETS)
		return RL_EFULL;
	rx = &l->rx[l->nrx++];
	*rx = (struct rl_loop_rx){.loop = l, .tag = tag, .resume = resume, .arg = arg};
	*out = rx;
	return RL_OK;
}

int rl_loop_source_deliver(struct rl_loop_rx *rx, nng_msg **frames, unsigned n)
{
	return rl_loop_deliver(rx, frames, n);
}

void rl_loop_source_close(struct rl_loop_rx *rx)
{
	nng_mtx_lock(rx->loop->mtx);
	rx->paused = 0;
	rx->resume = NULL;
	nng_mtx_unlock(rx->loop->mtx);
}

int rl_loop_swap_socket(struct rl_loop *l, nng_socket old, nng_socket s)
{
	for (int i = 0; i < l->nrx; i++) {
		struct rl_loop_rx *rx = &l->rx[i];
		nng_aio *aio;
		if (rx->aio == NULL || nng_socket_id(rx->sock) != nng_socket_id(old))
			continue;
		if (nng_aio_alloc(&aio, rl_loop_rx_cb, rx) != 0)
			rl_oom_in("nng_aio_alloc");
		/* Once stopped, the old receive has run its callback (or never will); a paused
		 * slot is only resumed by rl_loop_wait, on this same thread. */
		nng_aio_stop(rx->aio);
		nng_aio_free(rx->aio);
		nng_mtx_lock(l->mtx);
		rx->aio = aio;
		rx->sock = s;
		rx->paused = 0;
		nng_mtx_unlock(l->mtx);
		nng_recv_aio(s, rx->aio);
		return RL_OK;
	}
	return RL_ENOENT;
}

int rl_loop_post(struct rl_loop *l, int tag, void *ptr)
{
	struct rl_loop_event ev = {.kind = RL_LOOP_POST, .src = tag, .ptr = ptr};
	int rv;

	nng_mtx_lock(l->mtx);
	if (l->count >= RL_LOOP_INBOX - RL_LOOP_RESERVE) {
		rv = RL_EFULL;
	} else {
		/* Woken under the lock: the owner may destroy the loop as soon as it has this
		 * event, and a poster is not stopped the way a receive is. */
		if (l->count == 0)
			nng_cv_wake1(l->cv);
		rv = rl_loop_push(l, &ev);
	}
	nng_mtx_unlock(l->mtx);
	return rv;
}

int rl_loop_wait(struct rl_loop *l, int timeout_ms, struct rl_loop_event *evs, int max)
{
	int n = 0;
	struct {
		nng_socket sock;
		nng_aio *aio; /* NULL: call fn(arg) instead */
		void (*fn)(void *arg);
		void *arg;
	} resume[RL_LOOP_MAX_SOCKETS];
	int nresume = 0;

	nng_mtx_lock(l->mtx);
	if (l->count == 0 && !l->stopped && timeout_ms != 0) {
		if (timeout_ms < 0) {
			while (l->count == 0 && !l->stopped)
				nng_cv_wait(l->cv);
		} else {
			nng_time until = nng_clock() + (nng_time)timeout_ms;
			while (l->count == 0 && !l->stopped)
				if (nng_cv_until(l->cv, until) == NNG_ETIMEDOUT)
					break;
		}
	}
	if (l->stopped) {
		nng_mtx_unlock(l->mtx);
		return -1;
	}
	while (n < max && l->count > 0) {
		evs[n++] = l->ring[l->head];
		l->head = (l->head + 1) % RL_LOOP_INBOX;
		l->count--;
	}
	if (l->count < RL_LOOP_INBOX / 2) {
		for (int i = 0; i < l->nrx; i++) {
			struct rl_loop_rx *rx = &l->rx[i];
			if (rx->paused && (rx->aio != NULL || rx->resume != NULL)) {
				rx->paused = 0;
				resume[nresume].sock = rx->sock;
				resume[nresume].aio = rx->aio;
				resume[nresume].fn = rx->resume;
				resume[nresume++].arg = rx->arg;
			}
		}
	}
	nng_mtx_unlock(l->mtx);
	for (int i = 0; i < nresume; i++) {
		if (resume[i].aio == NULL)
			resume[i].fn(resume[i].arg);
		else
			nng_recv_aio(resume[i].sock, resume[i].aio);
	}
	return n;
}

void rl_loop_stop(struct rl_loop *l)
{
	nng_mtx_lock(l->mtx);
	l->stopped = 1;
	nng_cv_wake(l->cv);
	nng_mtx_unlock(l->mtx);
}

void rl_loop_destroy(struct rl_loop *l)
{
	if (l == NULL)
		return;
	nng_mtx_lock(l->mtx);
	l->closing = 1;
	nng_mtx_unlock(l->mtx);
	for (int i = 0; i < l->nrx; i++)
		if (l->rx[i].aio != NULL)
			nng_aio_stop(l->rx[i].aio);
	for (int i = 0; i < l->nrx; i++)
		if (l->rx[i].aio != NULL)
			nng_aio_free(l->rx[i].aio);
	while (l->count > 0) {
		struct rl_loop_event *ev = &l->ring[l->head];
		if (ev->kind == RL_LOOP_MSG)
			nng_msg_free(ev->msg);
		/* Posted pointers belong to their poster; it must not post after destroy. */
		l->head = (l->head + 1) % RL_LOOP_INBOX;
		l->count--;
	}
	nng_cv_free(l->cv);
	nng_mtx_free(l->mtx);
	free(l->ring);
	free(l);
}

struct rl_sigwait {
	struct rl_loop *loop;
	int tag;
	sigset_t set;
};

static void *rl_loop_sigwait(void *arg)
{
	struct rl_sigwait *w = arg;
	int sig;

	if (sigwait(&w->set, &sig) == 0)
		while (rl_loop_post(w->loop, w->tag, NULL) != RL_OK)
			nng_msleep(1);
	free(w);
	return NULL;
}

void rl_signals_block(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int rl_loop_catch_signals(struct rl_loop *l, int tag)
{
	struct rl_sigwait *w = rl_calloc(1, sizeof(*w));
	pthread_t th;

	w->loop = l;
	w->tag = tag;
	sigemptyset(&w->set);
	sigaddset(&w->set, SIGINT);
	sigaddset(&w->set, SIGTERM);
	if (pthread_create(&th, NULL, rl_loop_sigwait, w) != 0) {
		free(w);
		return RL_EAGAIN; /* no thread to be had now */
	}
	pthread_detach(th);
	return RL_OK;
}

struct rl_watchdog {
	int seconds, code;
};

static void *rl_watchdog_main(void *arg)
{
	struct rl_watchdog w = *(struct rl_watchdog *)arg;

	free(arg);
	sleep((unsigned)w.seconds);
	fprintf(stderr, "shutdown took longer than %d s: exiting\n", w.seconds);
	_exit(w.code);
	return NULL;
}

void rl_exit_watchdog(int seconds, int code)
{
	struct rl_watchdog *w = rl_malloc(sizeof(*w));
	pthread_t th;

	w->seconds = seconds;
	w->code = code;
	if (pthread_create(&th, NULL, rl_watchdog_main, w) != 0) {
		free(w);
		return;
	}
	pthread_detach(th);
}
