/*
 * rl_srv.c - pair1 over nng's streams, on the server's side (rl_srv.h).
 *
 * A connection ("pipe") has one receive and one send in flight at most, each an nng aio on
 * its stream. The receive reads as much as has arrived into the pipe's buffer; the callback
 * takes every whole frame out of it and delivers them to the loop at once. The send writes
 * everything queued so far in one go; frames queued meanwhile wait in a second buffer and
 * leave with the next send. The SP header (8 bytes: 0, 'S', 'P', 0, the protocol, 0, 0) goes
 * first both ways; pair1 is protocol 0x11 on both ends.
 *
 * A pipe ends when its stream fails, its peer breaks the framing, or the owner closes it: the
 * stream is closed (which ends the aios in flight), the pipe leaves the table, the owner is
 * told, and rl_srv_tick frees it once its aios have stopped - never from their callbacks.
 * Locks: the server's (table, lists), then a pipe's; a callback holding its pipe's lock never
 * takes the server's.
 */
#include "rl_srv.h"

#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_bundle.h"
#include "rl_be.h"
#include "rl_err.h"
#include "rl_greet.h"
#include "rl_htab.h"
#include "rl_log.h"

#define RL_SRV_LISTENERS 8
#define RL_SRV_PAIR1     0x11
#define RL_SRV_HOPS      8                          /* pair1's default maximum hop count */
#define RL_SRV_RBUF0     8192                       /* a pipe's first receive buffer */
#define RL_SRV_RBUFMAX   (RL_WIRE_MAX_FRAME + 4096) /* a whole frame and what follows it */
#define RL_SRV_HEAD      12                         /* SP length (8) and pair1 hop count (4) */
#define RL_SRV_KEEP      (256 * 1024)               /* a send buffer larger than this is freed once sent */

struct rl_srv_buf {
	uint8_t *p;
	size_t len, cap;
};

struct rl_srv_pipe {
	struct rl_srv *srv;
	uint32_t id;
	nng_stream *st;
	nng_aio *rx, *tx;
	pthread_mutex_t mu;
	int dead;                       /* closed: nothing is started on it any more */
	int rx_busy;                    /* a receive in flight */
	int tx_busy;                    /* a send in flight */
	int rx_paused;                  /* the loop is full: reading waits for resume */
	int got_header;                 /* the peer's SP header has arrived */
	uint8_t *rbuf;                  /* received bytes not yet taken */
	size_t rlen, rcap;              /* rbuf's bytes, its size */
	struct rl_srv_buf out, sending; /* queued; in flight (from sent on) */
	size_t sent;
	struct rl_srv_pipe *next_paused, *next_dead; /* the server's lists */
};

/* a listener's slot: the argument of its accept callbacks */
struct rl_srv_slot {
	struct rl_srv *s;
	int i;
};

struct rl_srv {
	struct rl_srv_conf c;
	struct rl_loop_rx *src;
	pthread_mutex_t mu;
	struct rl_htab pipes; /* id -> pipe, the live ones */
	uint32_t next_id;
	int closing;
	nng_stream_listener *ls[RL_SRV_LISTENERS];
	nng_aio *acc[RL_SRV_LISTENERS];
	nng_aio *retry[RL_SRV_LISTENERS]; /* a failed accept waits before the next */
	struct rl_srv_slot slots[RL_SRV_LISTENERS];
	int nls;
	struct rl_srv_pipe *paused, *dead;
	struct rl_greet *greet; /* NULL: no Hello deadline */
	struct rl_srv_counters ctr;
};

static void rl_srv_rx_cb(void *arg);
static void rl_srv_tx_cb(void *arg);

/* counters are atomic: a callback counts while it holds its pipe's lock */
static void rl_srv_count(uint64_t *ctr)
{
	__atomic_add_fetch(ctr, 1, __ATOMIC_RELAXED);
}

/* rl_srv_end ends p (once): closes its stream, takes it out of the table, tells the owner.
 * Called without p's lock. */
static void rl_srv_end(struct rl_srv_pipe *p)
{
	struct rl_srv *s = p->srv;
	int first;

	pthread_mutex_lock(&p->mu);
	first = !p->dead;
	p->dead = 1;
	pthread_mutex_unlock(&p->mu);
	if (!first)
		return;
	nng_stream_close(p->st); /* ends the aios in flight */
	pthread_mutex_lock(&s->mu);
	rl_htab_del(&s->pipes, p->id, p);
	p->next_dead = s->dead;
	s->dead = p;
	pthread_mutex_unlock(&s->mu);
	rl_srv_count(&s->ctr.closed);
	if (!__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE))
		rl_loop_post(s->c.loop, s->c.tag_gone, (void *)(uintptr_t)p->id);
}

/* rl_srv_rx_start reads into the free end of p's buffer; with p's lock held. */
static void rl_srv_rx_start(struct rl_srv_pipe *p)
{
	nng_iov iov;

	if (p->dead || p->rx_busy || p->rx_paused)
		return;
	if (p->rlen == p->rcap) { /* full without a whole frame in it: room for one */
		p->rcap = p->rcap * 2 < RL_SRV_RBUFMAX ? p->rcap * 2 : RL_SRV_RBUFMAX;
		p->rbuf = rl_realloc(p->rbuf, p->rcap);
	}
	iov.iov_buf = p->rbuf + p->rlen;
	iov.iov_len = p->rcap - p->rlen;
	nng_aio_set_iov(p->rx, 1, &iov);
	p->rx_busy = 1;
	nng_stream_recv(p->st, p->rx);
}

/* rl_srv_tx_start sends what is queued if nothing is in flight; with p's lock held. */
static void rl_srv_tx_start(struct rl_srv_pipe *p)
{
	nng_iov iov;

	if (p->dead || p->tx_busy)
		return;
	if (p->sent == p->sending.len) { /* all sent: what was queued meanwhile goes next */
		struct rl_srv_buf t = p->sending;
		if (t.cap > RL_SRV_KEEP) { /* a burst's buffer is not kept for every quiet link */
			free(t.p);
			t = (struct rl_srv_buf){0};
		}
		if (p->out.len == 0) {
			p->sending = t;
			p->sending.len = p->sent = 0;
			return;
		}
		p->sending = p->out;
		p->out = t;
		p->out.len = 0;
		p->sent = 0;
	}
	iov.iov_buf = p->sending.p + p->sent;
	iov.iov_len = p->sending.len - p->sent;
	nng_aio_set_iov(p->tx, 1, &iov);
	p->tx_busy = 1;
	nng_stream_send(p->st, p->tx);
}

int rl_srv_frame(const uint8_t *buf, size_t len, int got_header, size_t *used, const uint8_t **body, size_t *blen)
{
	uint64_t n;

	if (!got_header) {
		if (len < 8)
			return RL_SRV_NEED;
		if (buf[0] != 0 || buf[1] != 'S' || buf[2] != 'P' || buf[3] != 0 || buf[4] != 0 ||
		    buf[5] != RL_SRV_PAIR1 || buf[6] != 0 || buf[7] != 0)
			return RL_SRV_BAD_HEADER;
		*used = 8;
		return RL_SRV_HEADER;
	}
	if (len < 8)
		return RL_SRV_NEED;
	if ((n = rl_be64(buf)) > RL_WIRE_MAX_FRAME) /* as nng's NNG_OPT_RECVMAXSZ counts: the hop count too */
		return RL_SRV_OVERSIZED;
	if (len - 8 < n)
		return RL_SRV_NEED;
	if (n < 4 || buf[8] != 0 || buf[9] != 0 || buf[10] != 0) /* pair1: a hop count up to 255 */
		return RL_SRV_MALFORMED;
	*used = 8 + n;
	if (buf[11] > RL_SRV_HOPS)
		return RL_SRV_HOPS_DROP; /* too many hops: dropped, as pair1 drops it */
	*body = buf + 12;
	*blen = n - 4;
	return RL_SRV_FRAME;
}

/* rl_srv_take splits p's buffered bytes into frames and delivers them. 1: go on reading;
 * 0: stop (the framing broke: p must end; or the loop is full: *paused). */
static int rl_srv_take(struct rl_srv_pipe *p, int *broke, int *paused)
{
	struct rl_srv *s = p->srv;
	nng_msg *frames[RL_BUNDLE_MAX_FRAMES];
	size_t off = 0;
	int go = 1;

	*broke = *paused = 0;
	while (go) {
		const uint8_t *body = NULL;
		size_t used = 0, blen = 0;
		unsigned nf;
		nng_msg *m;
		int rc = rl_srv_frame(p->rbuf + off, p->rlen - off, p->got_header, &used, &body, &blen);
		if (rc == RL_SRV_NEED)
			break;
		if (rc < 0) {
			rl_srv_count(rc == RL_SRV_BAD_HEADER  ? &s->ctr.bad_header
			             : rc == RL_SRV_OVERSIZED ? &s->ctr.oversized
			                                      : &s->ctr.malformed);
			*broke = 1;
			return 0;
		}
		off += used;
		if (rc == RL_SRV_HEADER) {
			p->got_header = 1;
			continue;
		}
		if (rc != RL_SRV_FRAME)
			continue;
		if (nng_msg_alloc(&m, blen) != 0)
			rl_oom(blen);
		if (blen > 0)
			memcpy(nng_msg_body(m), body, blen);
		nng_msg_set_pipe(m, (nng_pipe){.id = p->id});
		if (!rl_bundle_split(m, frames, RL_BUNDLE_MAX_FRAMES, &nf)) {
			frames[0] = m;
			nf = 1;
		}
		if (!rl_loop_source_deliver(s->src, frames, nf))
			*paused = 1, go = 0;
	}
	if (off > 0) {
		memmove(p->rbuf, p->rbuf + off, p->rlen - off);
		p->rlen -= off;
	}
	return go;
}

enum { RL_SRV_READ, RL_SRV_PAUSED, RL_SRV_BROKEN };

/* rl_srv_process takes the whole frames buffered in p and reads on if it may; with p's lock
 * held. The caller ends p (RL_SRV_BROKEN) or puts it on the paused list (RL_SRV_PAUSED)
 * once it has let the lock go. */
static int rl_srv_process(struct rl_srv_pipe *p)
{
	int broke, paused;

	if (p->dead)
		return RL_SRV_READ; /* its end is under way */
	rl_srv_take(p, &broke, &paused);
	if (broke)
		return RL_SRV_BROKEN;
	if (paused) {
		p->rx_paused = 1;
		return RL_SRV_PAUSED;
	}
	rl_srv_rx_start(p);
	return RL_SRV_READ;
}

/* rl_srv_after acts on what rl_srv_process said, without p's lock. */
static void rl_srv_after(struct rl_srv_pipe *p, int what)
{
	struct rl_srv *s = p->srv;

	if (what == RL_SRV_BROKEN) {
		rl_srv_end(p);
	} else if (what == RL_SRV_PAUSED) {
		pthread_mutex_lock(&s->mu);
		p->next_paused = s->paused;
		s->paused = p;
		pthread_mutex_unlock(&s->mu);
	}
}

static void rl_srv_rx_cb(void *arg)
{
	struct rl_srv_pipe *p = arg;
	int rv = nng_aio_result(p->rx), what = RL_SRV_READ;

	pthread_mutex_lock(&p->mu);
	p->rx_busy = 0;
	if (rv == 0) {
		p->rlen += nng_aio_count(p->rx);
		what = rl_srv_process(p);
	}
	pthread_mutex_unlock(&p->mu);
	if (rv != 0)
		rl_srv_end(p);
	else
		rl_srv_after(p, what);
}

static void rl_srv_tx_cb(void *arg)
{
	struct rl_srv_pipe *p = arg;
	int rv = nng_aio_result(p->tx);

	pthread_mutex_lock(&p->mu);
	p->tx_busy = 0;
	if (rv == 0) {
		p->sent += nng_aio_count(p->tx);
		rl_srv_tx_start(p);
	}
	pthread_mutex_unlock(&p->mu);
	if (rv != 0)
		rl_srv_end(p);
}

/* rl_srv_resume: the loop has room again; every paused pipe takes what it holds and reads
 * on (the loop's thread). */
static void rl_srv_resume(void *arg)
{
	struct rl_srv *s = arg;
	struct rl_srv_pipe *list;

	pthread_mutex_lock(&s->mu);
	list = s->paused;
	s->paused = NULL;
	/* A pipe on this list stays allocated: rl_srv_tick, which frees, runs on this thread. */
	pthread_mutex_unlock(&s->mu);
	while (list != NULL) {
		struct rl_srv_pipe *p = list;
		int what;
		list = p->next_paused;
		pthread_mutex_lock(&p->mu);
		p->rx_paused = 0;
		what = rl_srv_process(p);
		pthread_mutex_unlock(&p->mu);
		rl_srv_after(p, what);
	}
}

static void rl_srv_accepted(struct rl_srv *s, nng_stream *st)
{
	struct rl_srv_pipe *p = rl_calloc(1, sizeof(*p));

	p->srv = s;
	p->st = st;
	pthread_mutex_init(&p->mu, NULL);
	if (nng_aio_alloc(&p->rx, rl_srv_rx_cb, p) != 0 || nng_aio_alloc(&p->tx, rl_srv_tx_cb, p) != 0)
		rl_oom_in("nng_aio_alloc");
	p->rcap = RL_SRV_RBUF0;
	p->rbuf = rl_malloc(p->rcap);
	p->out.cap = 64;
	p->out.p = rl_malloc(p->out.cap);
	memcpy(p->out.p, "\0SP\0\0\x11\0\0", 8); /* our SP header leaves first */
	p->out.len = 8;
	pthread_mutex_lock(&s->mu);
	if (++s->next_id == 0)
		s->next_id = 1;
	p->id = s->next_id;
	rl_htab_put(&s->pipes, p->id, p);
	pthread_mutex_unlock(&s->mu);
	rl_srv_count(&s->ctr.accepted);
	if (s->greet != NULL)
		rl_greet_add(s->greet, p->id);
	if (s->c.on_new != NULL)
		s->c.on_new(s->c.arg, p->id);
	pthread_mutex_lock(&p->mu);
	rl_srv_tx_start(p);
	rl_srv_rx_start(p);
	pthread_mutex_unlock(&p->mu);
}

static void rl_srv_accept_cb(void *arg)
{
	struct rl_srv_slot *sl = arg;
	struct rl_srv *s = sl->s;
	int rv = nng_aio_result(s->acc[sl->i]);

	if (__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE))
		return;
	if (rv == 0) {
		rl_srv_accepted(s, nng_aio_get_output(s->acc[sl->i], 0));
		nng_stream_listener_accept(s->ls[sl->i], s->acc[sl->i]);
		return;
	}
	/* A failed accept (out of descriptors, a connection reset while it was accepted) does
	 * not stop the listener: the next one is taken after a pause. */
	rl_log(RL_LOG_WARNING, "accept failed err=\"%s\"", nng_strerror(rv));
	nng_sleep_aio(100, s->retry[sl->i]);
}

static void rl_srv_retry_cb(void *arg)
{
	struct rl_srv_slot *sl = arg;
	struct rl_srv *s = sl->s;

	if (!__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE) && nng_aio_result(s->retry[sl->i]) == 0)
		nng_stream_listener_accept(s->ls[sl->i], s->acc[sl->i]);
}

static int rl_srv_greet_close(void *arg, uint32_t pipe)
{
	return rl_srv_close_pipe(arg, pipe);
}

int rl_srv_open(struct rl_srv **out, const struct rl_srv_conf *c)
{
	struct rl_srv *s = rl_calloc(1, sizeof(*s));
	int rv;

	s->c = *c;
	if (s->c.max_backlog == 0)
		s->c.max_backlog = 8u << 20;
	pthread_mutex_init(&s->mu, NULL);
	if ((rv = rl_loop_add_source(c->loop, c->tag_msg, rl_srv_resume, s, &s->src)) != RL_OK) {
		free(s);
		return rv;
	}
	if (c->hello_ms > 0)
		rl_greet_open(&s->greet, c->hello_ms, rl_srv_greet_close, s);
	*out = s;
	return RL_OK;
}

struct rl_greet *rl_srv_greet(struct rl_srv *s)
{
	return s->greet;
}

int rl_srv_listen(struct rl_srv *s, const char *url, const struct rl_tls *tls)
{
	nng_stream_listener *l;
	struct rl_srv_slot *sl;
	int rv, i = s->nls;

	if (i == RL_SRV_LISTENERS)
		return RL_EFULL;
	if ((rv = nng_stream_listener_alloc(&l, url)) != 0) {
		rl_log(RL_LOG_ERR, "listen url=%s err=\"%s\"", url, nng_strerror(rv));
		return RL_ENET;
	}
	nng_stream_listener_set_bool(l, NNG_OPT_TCP_NODELAY, true);
	nng_stream_listener_set_bool(l, NNG_OPT_TCP_KEEPALIVE, true);
	if (strncmp(url, "tls+", 4) == 0) {
		nng_tls_config *cfg;
		if ((rv = rl_link_tls_server_config(&cfg, tls)) != RL_OK) {
			nng_stream_listener_free(l);
			return rv;
		}
		rv = nng_stream_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
		nng_tls_config_free(cfg);
		if (rv != 0) {
			nng_stream_listener_free(l);
			return RL_ECONFIG;
		}
	}
	if ((rv = nng_stream_listener_listen(l)) != 0) {
		rl_log(RL_LOG_ERR, "listen url=%s err=\"%s\"", url, nng_strerror(rv));
		nng_stream_listener_free(l);
		return RL_ENET;
	}
	sl = &s->slots[i];
	*sl = (struct rl_srv_slot){s, i};
	if (nng_aio_alloc(&s->acc[i], rl_srv_accept_cb, sl) != 0 ||
	    nng_aio_alloc(&s->retry[i], rl_srv_retry_cb, sl) != 0)
		rl_oom_in("nng_aio_alloc");
	s->ls[i] = l;
	s->nls++;
	nng_stream_listener_accept(l, s->acc[i]);
	return RL_OK;
}

/* rl_srv_find returns pipe's live connection with its lock held, or NULL. */
static struct rl_srv_pipe *rl_srv_find(struct rl_srv *s, uint32_t pipe)
{
	struct rl_srv_pipe *p;

	pthread_mutex_lock(&s->mu);
	p = pipe ? rl_htab_get(&s->pipes, pipe, NULL, NULL) : NULL;
	if (p != NULL)
		pthread_mutex_lock(&p->mu);
	pthread_mutex_unlock(&s->mu);
	return p;
}

int rl_srv_send(struct rl_srv *s, uint32_t pipe, const void *buf, size_t len)
{
	struct rl_srv_pipe *p;
	struct rl_srv_buf *b;

	if (len + 4 > RL_WIRE_MAX_FRAME) /* a pair1 peer's NNG_OPT_RECVMAXSZ counts the hop count */
		return RL_ETOOBIG;
	if ((p = rl_srv_find(s, pipe)) == NULL)
		return RL_ENOENT;
	b = &p->out;
	if (p->dead) {
		pthread_mutex_unlock(&p->mu);
		return RL_ENOENT;
	}
	if (b->len + (p->sending.len - p->sent) + len > s->c.max_backlog) {
		pthread_mutex_unlock(&p->mu);
		rl_srv_count(&s->ctr.send_drops);
		return RL_EAGAIN;
	}
	if (b->len + RL_SRV_HEAD + len > b->cap) {
		if (b->cap == 0)
			b->cap = 256;
		while (b->len + RL_SRV_HEAD + len > b->cap)
			b->cap *= 2;
		b->p = rl_realloc(b->p, b->cap);
	}
	rl_put_be64(b->p + b->len, len + 4);
	memcpy(b->p + b->len + 8, "\0\0\0\1", 4); /* pair1's hop count: one */
	memcpy(b->p + b->len + RL_SRV_HEAD, buf, len);
	b->len += RL_SRV_HEAD + len;
	rl_srv_tx_start(p);
	pthread_mutex_unlock(&p->mu);
	return RL_OK;
}

int rl_srv_bundle_send(void *srv, uint32_t pipe, const void *buf, size_t len)
{
	int rv = rl_srv_send(srv, pipe, buf, len);

	return rv == RL_ENOENT ? RL_OK : rv;
}

int rl_srv_close_pipe(struct rl_srv *s, uint32_t pipe)
{
	struct rl_srv_pipe *p = rl_srv_find(s, pipe);

	if (p == NULL)
		return RL_ENOENT;
	pthread_mutex_unlock(&p->mu);
	/* p stays allocated: only rl_srv_tick frees, and it runs on this same thread */
	rl_srv_end(p);
	return RL_OK;
}

int rl_srv_peer_ip(struct rl_srv *s, uint32_t pipe, struct sockaddr_storage *ss)
{
	struct rl_srv_pipe *p = rl_srv_find(s, pipe);
	nng_sockaddr sa;
	int rv;

	if (p == NULL)
		return RL_ENOENT;
	rv = nng_stream_get_addr(p->st, NNG_OPT_REMADDR, &sa);
	pthread_mutex_unlock(&p->mu);
	if (rv != 0)
		return RL_ENOENT;
	return rl_link_sockaddr(&sa, ss);
}

static void rl_srv_free_pipe(struct rl_srv_pipe *p)
{
	nng_aio_free(p->rx);
	nng_aio_free(p->tx);
	nng_stream_free(p->st);
	pthread_mutex_destroy(&p->mu);
	free(p->rbuf);
	free(p->out.p);
	free(p->sending.p);
	free(p);
}

void rl_srv_tick(struct rl_srv *s)
{
	struct rl_srv_pipe *dead, *p, **pp;

	pthread_mutex_lock(&s->mu);
	dead = s->dead;
	s->dead = NULL;
	pthread_mutex_unlock(&s->mu);
	/* Once its aios have stopped, no callback of a dead pipe runs or will: then it can be
	 * taken off the paused list, where a last receive may have put it, and freed. */
	for (p = dead; p != NULL; p = p->next_dead) {
		nng_aio_stop(p->rx);
		nng_aio_stop(p->tx);
	}
	pthread_mutex_lock(&s->mu);
	for (pp = &s->paused; *pp != NULL;) {
		int gone = 0;
		for (p = dead; p != NULL && !gone; p = p->next_dead)
			gone = p == *pp;
		if (gone)
			*pp = (*pp)->next_paused;
		else
			pp = &(*pp)->next_paused;
	}
	pthread_mutex_unlock(&s->mu);
	while (dead != NULL) {
		p = dead;
		dead = p->next_dead;
		rl_srv_free_pipe(p);
	}
}

void rl_srv_counters(struct rl_srv *s, struct rl_srv_counters *c)
{
	const uint64_t *from = (const uint64_t *)&s->ctr;
	uint64_t *to = (uint64_t *)c;

	for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
		to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}

void rl_srv_close(struct rl_srv *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	__atomic_store_n(&s->closing, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nls; i++) {
		nng_stream_listener_close(s->ls[i]);
		nng_aio_stop(s->acc[i]);
		nng_aio_stop(s->retry[i]);
	}
	/* End every pipe, then free them all. No pipe comes now, and one goes only through
	 * rl_srv_end, which a pipe's last callback may be running too: then that call takes the
	 * pipe out of the table and onto the dead list (in one hold of the lock), so the table is
	 * waited empty before the dead are freed. */
	pthread_mutex_lock(&s->mu);
	struct rl_srv_pipe **all = rl_calloc(s->pipes.len + 1, sizeof(*all));
	size_t n = 0, left;
	for (size_t i = 0; i < s->pipes.cap; i++)
		if (s->pipes.ents[i].val != NULL)
			all[n++] = s->pipes.ents[i].val;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++)
		rl_srv_end(all[i]);
	free(all);
	do {
		pthread_mutex_lock(&s->mu);
		left = s->pipes.len;
		pthread_mutex_unlock(&s->mu);
		if (left > 0)
			nng_msleep(1);
	} while (left > 0);
	rl_srv_tick(s);
	rl_greet_close(s->greet);     /* no accept reaches it now */
	rl_loop_source_close(s->src); /* the loop may outlive s: it must not resume it */
	for (int i = 0; i < s->nls; i++) {
		nng_aio_free(s->acc[i]);
		nng_aio_free(s->retry[i]);
		nng_stream_listener_free(s->ls[i]);
	}
	rl_htab_fini(&s->pipes);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
