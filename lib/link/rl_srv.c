/*
 * rl_srv.c - pair1 on the server's side, on a thread of its own (rl_srv.h).
 *
 * One I/O thread per server waits with epoll on its listening sockets, its connections
 * ("pipes") and an eventfd. It accepts, runs TLS handshakes (mbedTLS, as nng's TLS does,
 * here driven directly), reads each pipe's bytes in as large pieces as have arrived, splits
 * them into frames and hands them to the owner's rl_loop at once. Sends are written by the
 * thread that sends (the owner's loop), at once, everything queued for the pipe in one go;
 * what the socket does not take waits in the pipe's buffer and the I/O thread writes it when
 * the socket has room (EPOLLOUT). So a frame costs no hand-off between threads on its way
 * out, and one (the I/O thread's wake) on its way in.
 *
 * The SP header (8 bytes: 0, 'S', 'P', 0, the protocol, 0, 0) goes first both ways; pair1 is
 * protocol 0x11 on both ends.
 *
 * A pipe ends when its socket fails, its peer breaks the framing or TLS, or the owner closes
 * it: it leaves the table, the owner is told, and the I/O thread - between two waits, when no
 * event of its own refers to it - takes its socket out of epoll, closes it and frees it.
 * Locks: the server's (table, the dying list), then a pipe's. A pipe's lock covers its
 * buffers and its TLS context, which its reader and its writer share.
 */
#define _GNU_SOURCE /* accept4 */
#include "rl_srv.h"

#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "rl_addr.h"
#include "rl_alloc.h"
#include "rl_be.h"
#include "rl_bundle.h"
#include "rl_err.h"
#include "rl_greet.h"
#include "rl_htab.h"
#include "rl_log.h"
#include "rl_time.h"

#define RL_SRV_LISTENERS 8
#define RL_SRV_PAIR1     0x11
#define RL_SRV_HOPS      8                          /* pair1's default maximum hop count */
#define RL_SRV_RBUF0     8192                       /* a pipe's first receive buffer */
#define RL_SRV_RBUFMAX   (RL_WIRE_MAX_FRAME + 4096) /* a whole frame and what follows it */
#define RL_SRV_HEAD      12                         /* SP length (8) and pair1 hop count (4) */
#define RL_SRV_KEEP      (256 * 1024)               /* a send buffer larger than this is freed once sent */
#define RL_SRV_RETRY_MS  100                        /* a listener that failed to accept rests this long */
#define RL_SRV_RAW       (32 * 1024)                /* TLS: ciphertext read at once */

enum { ENT_WAKE, ENT_LISTENER, ENT_PIPE };

/* what an epoll event points at: the first member of each thing registered */
struct rl_srv_ent {
	int kind;
};

struct rl_srv_tls {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca, cert;
	mbedtls_pk_context key;
};

struct rl_srv_listener {
	struct rl_srv_ent ent;
	int fd;
	struct rl_srv_tls *tls; /* NULL: plain tcp */
	uint64_t retry_at;      /* > 0: resting after a failed accept, until then (ms) */
};

struct rl_srv_pipe {
	struct rl_srv_ent ent;
	struct rl_srv *srv;
	uint32_t id;
	int fd;
	pthread_mutex_t mu;
	mbedtls_ssl_context *ssl; /* NULL: plain tcp */
	int ready;                /* plain, or its handshake done: data may flow */
	int dead;                 /* ended: nothing is started on it any more */
	int paused;               /* the loop is full: reading waits for resume (I/O thread) */
	int got_header;           /* the peer's SP header has arrived */
	uint32_t events;          /* what epoll waits for on it */
	uint8_t *rbuf;            /* received bytes not yet taken */
	size_t rlen, rcap;
	uint8_t *obuf; /* queued to send: obuf[sent..olen) */
	size_t olen, ocap, sent;
	size_t tls_wlen; /* a TLS record written in part: the length it was asked with */
	uint8_t *raw;    /* TLS: ciphertext read, raw[rawoff..rawlen) not yet decrypted */
	size_t rawoff, rawlen;
	int recvd;     /* TLS: this pass has read the socket, and not to the brim */
	int got_bytes; /* TLS: the peer has sent something */
	int read_out;  /* TLS: reading had to write (an alert) and waits for room */
	struct sockaddr_storage peer;
	int refs;                        /* senders holding it (rl_srv_find): not freed meanwhile */
	int reaping;                     /* the I/O thread is freeing it (both under its lock) */
	struct rl_srv_pipe *next_dying;  /* the server's dying list */
	struct rl_srv_pipe *next_paused; /* the I/O thread's paused list */
};

struct rl_srv {
	struct rl_srv_conf c;
	struct rl_loop_rx *src;
	pthread_mutex_t mu;
	struct rl_htab pipes; /* id -> pipe, the live ones */
	uint32_t next_id;
	int ep;                     /* epoll */
	struct rl_srv_ent wake;     /* its eventfd's entry */
	int evfd;                   /* wakes the I/O thread */
	pthread_t thr;              /* the I/O thread */
	int closing;                /* it is to stop */
	int resume;                 /* the loop has room again: paused pipes read on */
	struct rl_srv_pipe *dying;  /* ended, to be closed and freed by the I/O thread */
	struct rl_srv_pipe *paused; /* the I/O thread's own */
	struct rl_srv_listener ls[RL_SRV_LISTENERS];
	int nls;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	int drbg_ready;
	struct rl_greet *greet; /* NULL: no Hello deadline */
	struct rl_srv_counters ctr;
};

/* counters are atomic: they are counted from the I/O thread and from senders */
static void rl_srv_count(uint64_t *ctr)
{
	__atomic_add_fetch(ctr, 1, __ATOMIC_RELAXED);
}

static void rl_srv_wake(struct rl_srv *s)
{
	uint64_t one = 1;

	if (write(s->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		rl_log(RL_LOG_WARNING, "srv wake err=\"%s\"", strerror(errno));
}

/* rl_srv_arm makes epoll wait for what p needs now: input unless paused or dead, output
 * while bytes wait or its TLS wants to write; with p's lock held. */
static void rl_srv_arm(struct rl_srv_pipe *p, int want_out)
{
	uint32_t ev = (p->paused || p->dead ? 0 : EPOLLIN) | (want_out && !p->dead ? EPOLLOUT : 0);
	struct epoll_event e = {.events = ev, .data.ptr = &p->ent};

	if (ev == p->events || p->events == (uint32_t)-1) /* as it is; or out of epoll, being freed */
		return;
	p->events = ev;
	if (epoll_ctl(p->srv->ep, EPOLL_CTL_MOD, p->fd, &e) != 0 && !p->dead)
		rl_log(RL_LOG_WARNING, "srv epoll pipe=%u err=\"%s\"", p->id, strerror(errno));
}

/* rl_srv_end ends p (once): takes it out of the table, tells the owner, and leaves it to the
 * I/O thread to close and free. Called without p's lock, from any thread. */
static void rl_srv_end(struct rl_srv_pipe *p)
{
	struct rl_srv *s = p->srv;
	uint32_t id = p->id; /* p may be freed once on the dying list, unless its caller holds it */
	int first;

	pthread_mutex_lock(&p->mu);
	first = !p->dead;
	p->dead = 1;
	if (first)
		shutdown(p->fd, SHUT_RDWR); /* the peer learns now; the socket is closed when freed */
	pthread_mutex_unlock(&p->mu);
	if (!first)
		return;
	pthread_mutex_lock(&s->mu);
	rl_htab_del(&s->pipes, id, p);
	p->next_dying = s->dying;
	s->dying = p;
	pthread_mutex_unlock(&s->mu);
	rl_srv_count(&s->ctr.closed);
	if (!__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE))
		rl_loop_post(s->c.loop, s->c.tag_gone, (void *)(uintptr_t)id);
	rl_srv_wake(s);
}

/* TLS's input and output on p's socket, without blocking */
static int rl_srv_bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct rl_srv_pipe *p = ctx;
	ssize_t n = send(p->fd, buf, len, MSG_NOSIGNAL);

	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
}

/* mbedTLS asks for a record's header, then for its body: both are served from one read of
 * as much as has arrived, and a pass of reading reads the socket once (again only when that
 * read filled the buffer) - epoll tells when more comes. */
static int rl_srv_bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct rl_srv_pipe *p = ctx;

	if (p->rawoff == p->rawlen) {
		ssize_t n;
		if (p->recvd)
			return MBEDTLS_ERR_SSL_WANT_READ;
		if (p->raw == NULL)
			p->raw = rl_malloc(RL_SRV_RAW);
		n = recv(p->fd, p->raw, RL_SRV_RAW, 0);
		if (n == 0)
			return 0; /* the peer closed */
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return MBEDTLS_ERR_SSL_WANT_READ;
			return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
		}
		p->got_bytes = 1;
		p->recvd = n < RL_SRV_RAW;
		p->rawoff = 0;
		p->rawlen = (size_t)n;
	}
	if (len > p->rawlen - p->rawoff)
		len = p->rawlen - p->rawoff;
	memcpy(buf, p->raw + p->rawoff, len);
	p->rawoff += len;
	return (int)len;
}

/* rl_srv_flush writes what is queued to p as far as its socket takes it, and arms epoll for
 * the rest; with p's lock held. Returns 0, or -1 when the pipe failed (the caller ends it). */
static int rl_srv_flush(struct rl_srv_pipe *p)
{
	if (p->dead)
		return 0;
	if (!p->ready) /* the handshake first: queued until it is done */
		return 0;
	while (p->sent < p->olen) {
		size_t len = p->olen - p->sent;
		ssize_t n;
		if (p->ssl != NULL) {
			int rc;
			if (p->tls_wlen > 0) { /* a record left in part: asked again with its length */
				len = p->tls_wlen;
			} else {
				int max = mbedtls_ssl_get_max_out_record_payload(p->ssl);
				if (max > 0 && len > (size_t)max)
					len = (size_t)max;
			}
			rc = mbedtls_ssl_write(p->ssl, p->obuf + p->sent, len);
			if (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ) {
				p->tls_wlen = len;
				rl_srv_arm(p, 1);
				return 0;
			}
			if (rc < 0) {
				if (rc != MBEDTLS_ERR_NET_CONN_RESET && rc != MBEDTLS_ERR_NET_SEND_FAILED)
					rl_srv_count(&p->srv->ctr.tls_failed);
				return -1;
			}
			p->tls_wlen = 0;
			n = rc;
		} else {
			n = send(p->fd, p->obuf + p->sent, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
					rl_srv_arm(p, 1);
					return 0;
				}
				return -1;
			}
		}
		p->sent += (size_t)n;
	}
	p->olen = p->sent = 0;
	if (p->ocap > RL_SRV_KEEP) { /* a burst's buffer is not kept for every quiet link */
		free(p->obuf);
		p->obuf = NULL;
		p->ocap = 0;
	}
	rl_srv_arm(p, p->read_out); /* a read waiting to write its alert keeps it */
	return 0;
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

enum { RL_SRV_READ, RL_SRV_PAUSED, RL_SRV_BROKEN };

/* rl_srv_take splits p's buffered bytes into frames and delivers them; with p's lock held.
 * RL_SRV_READ: go on reading; RL_SRV_PAUSED: the loop is full; RL_SRV_BROKEN: the framing
 * broke (p must end). */
static int rl_srv_take(struct rl_srv_pipe *p)
{
	struct rl_srv *s = p->srv;
	nng_msg *frames[RL_BUNDLE_MAX_FRAMES];
	size_t off = 0;
	int what = RL_SRV_READ;

	while (what == RL_SRV_READ) {
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
			return RL_SRV_BROKEN;
		}
		off += used;
		if (rc == RL_SRV_HEADER) {
			p->got_header = 1;
			continue;
		}
		if (rc != RL_SRV_FRAME)
			continue;
		if (!rl_bundle_split_buf(body, blen, (nng_pipe){.id = p->id}, frames, RL_BUNDLE_MAX_FRAMES, &nf)) {
			if (nng_msg_alloc(&m, blen) != 0)
				rl_oom(blen);
			if (blen > 0)
				memcpy(nng_msg_body(m), body, blen);
			nng_msg_set_pipe(m, (nng_pipe){.id = p->id});
			frames[0] = m;
			nf = 1;
		}
		if (!rl_loop_source_deliver(s->src, frames, nf))
			what = RL_SRV_PAUSED;
	}
	if (off > 0) {
		memmove(p->rbuf, p->rbuf + off, p->rlen - off);
		p->rlen -= off;
	}
	if (what == RL_SRV_PAUSED) { /* no more reading until resumed */
		p->paused = 1;
		rl_srv_arm(p, p->events & EPOLLOUT);
	}
	return what;
}

/* rl_srv_room grows p's receive buffer when it is full without a whole frame in it */
static void rl_srv_room(struct rl_srv_pipe *p)
{
	if (p->rlen == p->rcap && p->rcap < RL_SRV_RBUFMAX) {
		p->rcap = p->rcap * 2 < RL_SRV_RBUFMAX ? p->rcap * 2 : RL_SRV_RBUFMAX;
		p->rbuf = rl_realloc(p->rbuf, p->rcap);
	}
}

/* rl_srv_read reads what has arrived on p and delivers its frames (the I/O thread, p's lock
 * held). Returns RL_SRV_READ, RL_SRV_PAUSED or RL_SRV_BROKEN. */
static int rl_srv_read_in(struct rl_srv_pipe *p)
{
	int what = RL_SRV_READ;

	p->recvd = 0;
	if (p->ssl != NULL && !p->ready) {
		int rc = mbedtls_ssl_handshake(p->ssl);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
			rl_srv_arm(p, rc == MBEDTLS_ERR_SSL_WANT_WRITE);
			return RL_SRV_READ;
		}
		if (rc != 0) {
			char why[128];
			/* A peer that sent its hello and left (reset, or closed) is counted as a reset;
			 * one that connected and left without a byte (a port probe) is not counted. */
			int gone = rc == MBEDTLS_ERR_NET_CONN_RESET || rc == MBEDTLS_ERR_SSL_CONN_EOF ||
			           rc == MBEDTLS_ERR_NET_SEND_FAILED || rc == MBEDTLS_ERR_NET_RECV_FAILED;
			mbedtls_strerror(rc, why, sizeof(why));
			rl_log(RL_LOG_INFO, "tls handshake failed pipe=%u err=\"%s\"", p->id, why);
			if (!gone)
				rl_srv_count(&p->srv->ctr.tls_failed);
			else if (p->got_bytes)
				rl_srv_count(&p->srv->ctr.resets);
			return RL_SRV_BROKEN;
		}
		p->ready = 1;
		if (rl_srv_flush(p) != 0)
			return RL_SRV_BROKEN;
	}
	for (;;) {
		ssize_t n;
		size_t space;
		rl_srv_room(p);
		if ((space = p->rcap - p->rlen) == 0) /* cannot be: a whole frame fits, and was taken */
			return RL_SRV_BROKEN;
		if (p->ssl != NULL) {
			int rc = mbedtls_ssl_read(p->ssl, p->rbuf + p->rlen, space);
			if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
				p->read_out = rc == MBEDTLS_ERR_SSL_WANT_WRITE;
				if (p->read_out)
					rl_srv_arm(p, 1);
				break;
			}
			if (rc <= 0) { /* closed (0, close_notify) or failed */
				if (rc != 0 && rc != MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY &&
				    rc != MBEDTLS_ERR_NET_RECV_FAILED && rc != MBEDTLS_ERR_NET_CONN_RESET &&
				    rc != MBEDTLS_ERR_SSL_CONN_EOF)
					rl_srv_count(&p->srv->ctr.tls_failed);
				return RL_SRV_BROKEN;
			}
			n = rc;
		} else {
			n = recv(p->fd, p->rbuf + p->rlen, space, 0);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				break;
			if (n <= 0)
				return RL_SRV_BROKEN;
		}
		p->rlen += (size_t)n;
		if ((what = rl_srv_take(p)) != RL_SRV_READ)
			return what;
		/* Plain: read on only when the read filled the buffer. TLS: until mbedTLS wants
		 * more than this pass has read. */
		if (p->ssl == NULL && (size_t)n < space)
			break;
	}
	return what;
}

static int rl_srv_read(struct rl_srv_pipe *p)
{
	int what = rl_srv_read_in(p);

	if (p->raw != NULL && p->rawoff == p->rawlen) { /* not kept for every quiet link */
		free(p->raw);
		p->raw = NULL;
		p->rawoff = p->rawlen = 0;
	}
	return what;
}

/* rl_srv_after: what the I/O thread does once it has let go of p's lock */
static void rl_srv_after(struct rl_srv_pipe *p, int what)
{
	if (what == RL_SRV_BROKEN) {
		rl_srv_end(p);
	} else if (what == RL_SRV_PAUSED) {
		p->next_paused = p->srv->paused;
		p->srv->paused = p;
	}
}

/* rl_srv_pipe_event: epoll's news of p (the I/O thread) */
static void rl_srv_pipe_event(struct rl_srv_pipe *p, uint32_t ev)
{
	int what = RL_SRV_READ;

	pthread_mutex_lock(&p->mu);
	if (p->dead) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	if (ev & EPOLLOUT) {
		if (!p->ready || p->read_out) /* the handshake, or a read, wanted to write */
			what = rl_srv_read(p);
		if (what == RL_SRV_READ && p->ready && rl_srv_flush(p) != 0)
			what = RL_SRV_BROKEN;
	}
	if (what == RL_SRV_READ && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !p->paused)
		what = rl_srv_read(p);
	else if (what == RL_SRV_READ && (ev & (EPOLLHUP | EPOLLERR)))
		what = RL_SRV_BROKEN; /* paused, and its peer gone */
	pthread_mutex_unlock(&p->mu);
	rl_srv_after(p, what);
}

/* rl_srv_resumed: the loop has room again; every paused pipe takes what it holds and reads
 * on (the I/O thread). */
static void rl_srv_resumed(struct rl_srv *s)
{
	struct rl_srv_pipe *list = s->paused;

	s->paused = NULL;
	while (list != NULL) {
		struct rl_srv_pipe *p = list;
		int what = RL_SRV_READ;
		list = p->next_paused;
		pthread_mutex_lock(&p->mu);
		if (!p->dead) { /* a dead one is freed from the dying list */
			p->paused = 0;
			what = rl_srv_take(p);
			if (what == RL_SRV_READ) {
				rl_srv_arm(p, p->events & EPOLLOUT);
				what = rl_srv_read(p);
			}
		}
		pthread_mutex_unlock(&p->mu);
		rl_srv_after(p, what);
	}
}

/* rl_srv_resume: rl_loop's resume callback (its owner's thread): the I/O thread reads on */
static void rl_srv_resume(void *arg)
{
	struct rl_srv *s = arg;

	__atomic_store_n(&s->resume, 1, __ATOMIC_RELEASE);
	rl_srv_wake(s);
}

static void rl_srv_free_pipe(struct rl_srv_pipe *p)
{
	if (p->ssl != NULL) {
		mbedtls_ssl_free(p->ssl);
		free(p->ssl);
	}
	close(p->fd);
	pthread_mutex_destroy(&p->mu);
	free(p->raw);
	free(p->rbuf);
	free(p->obuf);
	free(p);
}

/* rl_srv_reap closes and frees the pipes that ended (the I/O thread, between two waits: no
 * event it holds refers to them). */
static void rl_srv_reap(struct rl_srv *s)
{
	struct rl_srv_pipe *dying, *p, **pp;

	pthread_mutex_lock(&s->mu);
	dying = s->dying;
	s->dying = NULL;
	pthread_mutex_unlock(&s->mu);
	if (dying == NULL)
		return;
	for (p = dying; p != NULL; p = p->next_dying) {
		pthread_mutex_lock(&p->mu);
		p->reaping = 1;
		pthread_mutex_unlock(&p->mu);
	}
	for (pp = &s->paused; *pp != NULL;) {
		if ((*pp)->reaping)
			*pp = (*pp)->next_paused;
		else
			pp = &(*pp)->next_paused;
	}
	while (dying != NULL) {
		int held;
		p = dying;
		dying = p->next_dying;
		/* A sender that found it before it left the table still holds it: freed once it
		 * lets go (rl_srv_done wakes this thread), not before. No new sender can find it. */
		pthread_mutex_lock(&p->mu);
		if (p->events != (uint32_t)-1) {
			epoll_ctl(s->ep, EPOLL_CTL_DEL, p->fd, NULL);
			p->events = (uint32_t)-1; /* out of epoll */
		}
		held = p->refs > 0;
		pthread_mutex_unlock(&p->mu);
		if (held) {
			pthread_mutex_lock(&s->mu);
			p->next_dying = s->dying;
			s->dying = p;
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		rl_srv_free_pipe(p);
	}
}

static void rl_srv_accepted(struct rl_srv *s, struct rl_srv_listener *l, int fd, const struct sockaddr_storage *ss)
{
	struct rl_srv_pipe *p = rl_calloc(1, sizeof(*p));
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &p->ent};
	int one = 1, what;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	p->ent.kind = ENT_PIPE;
	p->srv = s;
	p->fd = fd;
	p->peer = *ss;
	p->events = EPOLLIN;
	pthread_mutex_init(&p->mu, NULL);
	p->rcap = RL_SRV_RBUF0;
	p->rbuf = rl_malloc(p->rcap);
	p->ocap = 64;
	p->obuf = rl_malloc(p->ocap);
	memcpy(p->obuf, "\0SP\0\0\x11\0\0", 8); /* our SP header leaves first */
	p->olen = 8;
	if (l->tls != NULL) {
		p->ssl = rl_malloc(sizeof(*p->ssl));
		mbedtls_ssl_init(p->ssl);
		if (mbedtls_ssl_setup(p->ssl, &l->tls->conf) != 0)
			rl_oom_in("mbedtls_ssl_setup");
		mbedtls_ssl_set_bio(p->ssl, p, rl_srv_bio_send, rl_srv_bio_recv, NULL);
	} else {
		p->ready = 1;
	}
	pthread_mutex_lock(&s->mu);
	do
		p->id = ++s->next_id;
	while (p->id == 0);
	rl_htab_put(&s->pipes, p->id, p);
	pthread_mutex_unlock(&s->mu);
	rl_srv_count(&s->ctr.accepted);
	if (s->greet != NULL)
		rl_greet_add(s->greet, p->id);
	if (s->c.on_new != NULL)
		s->c.on_new(s->c.arg, p->id);
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
		rl_log(RL_LOG_WARNING, "srv epoll pipe=%u err=\"%s\"", p->id, strerror(errno));
		rl_srv_end(p);
		return;
	}
	pthread_mutex_lock(&p->mu);
	if (p->ready) /* our SP header */
		what = rl_srv_flush(p) == 0 ? RL_SRV_READ : RL_SRV_BROKEN;
	else /* TLS: the client's hello may be here already */
		what = rl_srv_read(p);
	pthread_mutex_unlock(&p->mu);
	rl_srv_after(p, what);
}

/* rl_srv_accept takes every connection waiting on l (the I/O thread) */
static void rl_srv_accept(struct rl_srv *s, struct rl_srv_listener *l)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			rl_srv_accepted(s, l, fd, &ss);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		/* Out of descriptors or memory: the listener rests, then takes the next. */
		rl_log(RL_LOG_WARNING, "accept failed err=\"%s\"", strerror(errno));
		struct epoll_event e = {.events = 0, .data.ptr = &l->ent};
		epoll_ctl(s->ep, EPOLL_CTL_MOD, l->fd, &e);
		l->retry_at = rl_mono_us() / 1000u + RL_SRV_RETRY_MS;
		return;
	}
}

static void *rl_srv_main(void *arg)
{
	struct rl_srv *s = arg;
	struct epoll_event evs[64];

	for (;;) {
		int timeout = -1, n, nls = __atomic_load_n(&s->nls, __ATOMIC_ACQUIRE);
		uint64_t now = rl_mono_us() / 1000u;
		for (int i = 0; i < nls; i++)
			if (s->ls[i].retry_at > 0) {
				int t = s->ls[i].retry_at > now ? (int)(s->ls[i].retry_at - now) : 0;
				timeout = timeout < 0 || t < timeout ? t : timeout;
			}
		n = epoll_wait(s->ep, evs, 64, timeout);
		if (n < 0 && errno != EINTR) {
			rl_log(RL_LOG_ERR, "srv epoll_wait err=\"%s\"", strerror(errno));
			nng_msleep(10);
		}
		for (int i = 0; i < n; i++) {
			struct rl_srv_ent *ent = evs[i].data.ptr;
			if (ent->kind == ENT_WAKE) {
				uint64_t v;
				if (read(s->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					rl_log(RL_LOG_WARNING, "srv wake err=\"%s\"", strerror(errno));
			} else if (ent->kind == ENT_LISTENER) {
				rl_srv_accept(s, (struct rl_srv_listener *)ent);
			} else if (ent->kind == ENT_PIPE) {
				rl_srv_pipe_event((struct rl_srv_pipe *)ent, evs[i].events);
			}
		}
		if (__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE))
			break;
		if (__atomic_exchange_n(&s->resume, 0, __ATOMIC_ACQ_REL))
			rl_srv_resumed(s);
		rl_srv_reap(s);
		now = rl_mono_us() / 1000u;
		for (int i = 0; i < nls; i++) {
			struct rl_srv_listener *l = &s->ls[i];
			if (l->retry_at > 0 && l->retry_at <= now) {
				struct epoll_event e = {.events = EPOLLIN, .data.ptr = &l->ent};
				l->retry_at = 0;
				epoll_ctl(s->ep, EPOLL_CTL_MOD, l->fd, &e);
			}
		}
	}
	return NULL;
}

static int rl_srv_greet_close(void *arg, uint32_t pipe)
{
	return rl_srv_close_pipe(arg, pipe);
}

int rl_srv_open(struct rl_srv **out, const struct rl_srv_conf *c)
{
	struct rl_srv *s = rl_calloc(1, sizeof(*s));
	struct epoll_event e;
	int rv;

	s->c = *c;
	if (s->c.max_backlog == 0)
		s->c.max_backlog = 8u << 20;
	pthread_mutex_init(&s->mu, NULL);
	s->wake.kind = ENT_WAKE;
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	e = (struct epoll_event){.events = EPOLLIN, .data.ptr = &s->wake};
	if (s->ep < 0 || s->evfd < 0 || epoll_ctl(s->ep, EPOLL_CTL_ADD, s->evfd, &e) != 0) {
		rl_log(RL_LOG_ERR, "srv epoll err=\"%s\"", strerror(errno));
		rv = RL_ENET;
		goto fail;
	}
	if ((rv = rl_loop_add_source(c->loop, c->tag_msg, rl_srv_resume, s, &s->src)) != RL_OK)
		goto fail;
	if (pthread_create(&s->thr, NULL, rl_srv_main, s) != 0) {
		rl_loop_source_close(s->src);
		rv = RL_EAGAIN;
		goto fail;
	}
	if (c->hello_ms > 0)
		rl_greet_open(&s->greet, c->hello_ms, rl_srv_greet_close, s);
	*out = s;
	return RL_OK;
fail:
	if (s->ep >= 0)
		close(s->ep);
	if (s->evfd >= 0)
		close(s->evfd);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return rv;
}

struct rl_greet *rl_srv_greet(struct rl_srv *s)
{
	return s->greet;
}

static void rl_srv_tls_free(struct rl_srv_tls *t)
{
	if (t == NULL)
		return;
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_x509_crt_free(&t->cert);
	mbedtls_pk_free(&t->key);
	free(t);
}

/* The suites a server accepts, in its order of preference, all with ECDHE and AEAD:
 * ChaCha20-Poly1305 first (mbedTLS 2.28's AES-GCM goes block by block through calls even with
 * AES-NI, and cost more CPU per contact in bench/route --tls), then AES-GCM. */
static const int rl_srv_suites[] = {MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                                    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                                    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                                    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                                    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                                    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                                    0};

/* rl_srv_tls_open: a server's TLS as rl_link's (rl_link.h): the peer's certificate required
 * and verified against the CA, TLS 1.2 at least. */
static int rl_srv_tls_open(struct rl_srv *s, const struct rl_tls *tls, struct rl_srv_tls **out)
{
	struct rl_srv_tls *t;
	char why[128];
	int rc;

	if (tls == NULL || tls->ca_file == NULL || tls->cert_file == NULL || tls->key_file == NULL) {
		rl_log(RL_LOG_ERR, "tls url needs ca, cert and key files");
		return RL_ECONFIG;
	}
	if (!s->drbg_ready) {
		mbedtls_entropy_init(&s->entropy);
		mbedtls_ctr_drbg_init(&s->drbg);
		if ((rc = mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy,
		                                (const unsigned char *)"relais-srv", 10)) != 0) {
			mbedtls_strerror(rc, why, sizeof(why));
			rl_log(RL_LOG_ERR, "tls random err=\"%s\"", why);
			mbedtls_ctr_drbg_free(&s->drbg);
			mbedtls_entropy_free(&s->entropy);
			return RL_ECONFIG;
		}
		s->drbg_ready = 1;
	}
	t = rl_calloc(1, sizeof(*t));
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->ca);
	mbedtls_x509_crt_init(&t->cert);
	mbedtls_pk_init(&t->key);
	if ((rc = mbedtls_x509_crt_parse_file(&t->ca, tls->ca_file)) != 0) {
		mbedtls_strerror(rc, why, sizeof(why));
		rl_log(RL_LOG_ERR, "tls ca file=%s err=\"%s\"", tls->ca_file, why);
		goto fail;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&t->cert, tls->cert_file)) != 0 ||
	    (rc = mbedtls_pk_parse_keyfile(&t->key, tls->key_file, NULL)) != 0) {
		mbedtls_strerror(rc, why, sizeof(why));
		rl_log(RL_LOG_ERR, "tls cert=%s key=%s err=\"%s\"", tls->cert_file, tls->key_file, why);
		goto fail;
	}
	if ((rc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
	                                      MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		goto fail;
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &s->drbg);
	mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
	mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(&t->conf, rl_srv_suites);
	if ((rc = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key)) != 0) {
		mbedtls_strerror(rc, why, sizeof(why));
		rl_log(RL_LOG_ERR, "tls cert=%s key=%s err=\"%s\"", tls->cert_file, tls->key_file, why);
		goto fail;
	}
	*out = t;
	return RL_OK;
fail:
	rl_srv_tls_free(t);
	return RL_ECONFIG;
}

/* rl_srv_bind: a listening socket on url's address (nng's URL parser reads it). */
static int rl_srv_bind(const char *url, int *out)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE},
	                *res = NULL;
	nng_url *u = NULL;
	int rv = RL_ENET, fd = -1, one = 1;
	const char *host;

	if (nng_url_parse(&u, url) != 0 || u->u_port == NULL || u->u_port[0] == '\0' ||
	    (strcmp(u->u_scheme, "tcp") != 0 && strcmp(u->u_scheme, "tls+tcp") != 0)) {
		rl_log(RL_LOG_ERR, "listen url=%s err=\"not a tcp:// or tls+tcp:// address with a port\"", url);
		nng_url_free(u);
		return RL_ECONFIG;
	}
	host = u->u_hostname;
	if (host[0] == '\0' || strcmp(host, "*") == 0)
		host = NULL; /* every address */
	if ((rv = getaddrinfo(host, u->u_port, &hints, &res)) != 0) {
		rl_log(RL_LOG_ERR, "listen url=%s err=\"%s\"", url, gai_strerror(rv));
		nng_url_free(u);
		return RL_ENET;
	}
	rv = RL_ENET;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
	    bind(fd, res->ai_addr, res->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) {
		*out = fd;
		rv = RL_OK;
	} else {
		rl_log(RL_LOG_ERR, "listen url=%s err=\"%s\"", url, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	freeaddrinfo(res);
	nng_url_free(u);
	return rv;
}

int rl_srv_listen(struct rl_srv *s, const char *url, const struct rl_tls *tls)
{
	struct rl_srv_tls *t = NULL;
	struct rl_srv_listener *l;
	struct epoll_event e;
	int rv, fd;

	if (s->nls == RL_SRV_LISTENERS)
		return RL_EFULL;
	if (strncmp(url, "tls+", 4) == 0 && (rv = rl_srv_tls_open(s, tls, &t)) != RL_OK)
		return rv;
	if ((rv = rl_srv_bind(url, &fd)) != RL_OK) {
		rl_srv_tls_free(t);
		return rv;
	}
	l = &s->ls[s->nls];
	*l = (struct rl_srv_listener){.ent.kind = ENT_LISTENER, .fd = fd, .tls = t};
	e = (struct epoll_event){.events = EPOLLIN, .data.ptr = &l->ent};
	__atomic_store_n(&s->nls, s->nls + 1, __ATOMIC_RELEASE);
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
		rl_log(RL_LOG_ERR, "listen url=%s err=\"%s\"", url, strerror(errno));
		return RL_ENET; /* closed with the server */
	}
	return RL_OK;
}

/* rl_srv_find returns pipe's live connection with its lock held and a hold on it, which
 * keeps the I/O thread from freeing it (even once it has ended) until rl_srv_done; or NULL. */
static struct rl_srv_pipe *rl_srv_find(struct rl_srv *s, uint32_t pipe)
{
	struct rl_srv_pipe *p;

	pthread_mutex_lock(&s->mu);
	p = pipe ? rl_htab_get(&s->pipes, pipe, NULL, NULL) : NULL;
	if (p != NULL) {
		pthread_mutex_lock(&p->mu);
		p->refs++;
	}
	pthread_mutex_unlock(&s->mu);
	return p;
}

/* rl_srv_done lets go of what rl_srv_find gave, ending p first if end. Once its last hold
 * is gone and its lock let go, p may be freed at any time. */
static void rl_srv_done(struct rl_srv_pipe *p, int end)
{
	struct rl_srv *s = p->srv;
	int wake;

	if (end) {
		pthread_mutex_unlock(&p->mu);
		rl_srv_end(p); /* held: the I/O thread does not free it meanwhile */
		pthread_mutex_lock(&p->mu);
	}
	wake = --p->refs == 0 && p->reaping;
	pthread_mutex_unlock(&p->mu);
	if (wake)
		rl_srv_wake(s); /* the I/O thread waits to free it */
}

int rl_srv_send(struct rl_srv *s, uint32_t pipe, const void *buf, size_t len)
{
	struct rl_srv_pipe *p;
	int bad;

	if (len + 4 > RL_WIRE_MAX_FRAME) /* a pair1 peer's NNG_OPT_RECVMAXSZ counts the hop count */
		return RL_ETOOBIG;
	if ((p = rl_srv_find(s, pipe)) == NULL)
		return RL_ENOENT;
	if (p->dead) {
		rl_srv_done(p, 0);
		return RL_ENOENT;
	}
	if (p->olen - p->sent + len > s->c.max_backlog) {
		rl_srv_done(p, 0);
		rl_srv_count(&s->ctr.send_drops);
		return RL_EAGAIN;
	}
	if (p->olen + RL_SRV_HEAD + len > p->ocap) {
		if (p->ocap == 0)
			p->ocap = 256;
		while (p->olen + RL_SRV_HEAD + len > p->ocap)
			p->ocap *= 2;
		p->obuf = rl_realloc(p->obuf, p->ocap);
	}
	rl_put_be64(p->obuf + p->olen, len + 4);
	memcpy(p->obuf + p->olen + 8, "\0\0\0\1", 4); /* pair1's hop count: one */
	memcpy(p->obuf + p->olen + RL_SRV_HEAD, buf, len);
	p->olen += RL_SRV_HEAD + len;
	/* Written now unless earlier bytes still wait for room (the I/O thread writes those). */
	bad = (p->events & EPOLLOUT) ? 0 : rl_srv_flush(p);
	rl_srv_done(p, bad);
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
	rl_srv_done(p, 1);
	return RL_OK;
}

int rl_srv_peer_ip(struct rl_srv *s, uint32_t pipe, struct sockaddr_storage *ss)
{
	struct rl_srv_pipe *p = rl_srv_find(s, pipe);

	if (p == NULL)
		return RL_ENOENT;
	*ss = p->peer;
	rl_srv_done(p, 0);
	if (rl_addr_len(ss->ss_family) == 0)
		return RL_ENOENT;
	rl_addr_set_port((struct sockaddr *)ss, 0);
	return RL_OK;
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
	/* The I/O thread stops first; then this thread owns everything that is left. */
	__atomic_store_n(&s->closing, 1, __ATOMIC_RELEASE);
	rl_srv_wake(s);
	pthread_join(s->thr, NULL);
	rl_greet_close(s->greet);     /* no accept reaches it now */
	rl_loop_source_close(s->src); /* the loop may outlive s: it must not resume it */
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->pipes.cap; i++) {
		struct rl_srv_pipe *p = s->pipes.ents[i].val;
		if (p != NULL) {
			p->next_dying = s->dying;
			s->dying = p;
		}
	}
	pthread_mutex_unlock(&s->mu);
	s->paused = NULL;
	for (;;) { /* every pipe freed, once no sender holds it */
		rl_srv_reap(s);
		pthread_mutex_lock(&s->mu);
		int left = s->dying != NULL;
		pthread_mutex_unlock(&s->mu);
		if (!left)
			break;
		nng_msleep(1);
	}
	for (int i = 0; i < s->nls; i++) {
		close(s->ls[i].fd);
		rl_srv_tls_free(s->ls[i].tls);
	}
	if (s->drbg_ready) {
		mbedtls_ctr_drbg_free(&s->drbg);
		mbedtls_entropy_free(&s->entropy);
	}
	close(s->ep);
	close(s->evfd);
	rl_htab_fini(&s->pipes);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
