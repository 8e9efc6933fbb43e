/*
 * rl_media.c - the media engine's shards: threads, sockets, timers, and the public functions
 * (rl_media.h). What one call does with its datagrams and its tick is in rl_mcall.c.
 *
 * Shards. An engine runs n shards, one thread each (one per core by default). A shard owns
 * its calls outright - their codecs, jitter buffers and SRTP contexts are touched by its
 * thread alone - and its own UDP socket on the site's media port: the n sockets are bound to
 * the same address with SO_REUSEPORT, and a classic BPF program attached to the group
 * (SO_ATTACH_REUSEPORT_CBPF) hands each datagram to socket rx_ssrc % n, the SSRC read where
 * rl_rtp_peek_ssrc and rl_latch_parse read it (RTP: bytes 8..11; RTCP and latch packets:
 * 4..7). A call on the shared socket therefore lives on shard rx_ssrc % n, which the hub's
 * random SSRCs spread evenly; a local call, or one with a socket of its own, goes to the
 * shard with the fewest calls. A datagram reaches the thread that owns its call without a
 * hand-off, and replies leave from the same address whatever shard sends them. Before the
 * group is made the port is bound once without SO_REUSEPORT, so a port another process
 * holds is refused as before rather than shared. If the program cannot be attached, the
 * engine runs one shard (logged).
 *
 * A shard's thread waits in epoll on its socket, the sockets of its calls that have their
 * own, an eventfd (close) and a timerfd set to the next 20 ms tick (absolute, monotonic). It
 * takes one batch of datagrams per readable socket per turn (recvmmsg; the set is level-
 * triggered, so the rest come at the next turn), moves the frames of at most RL_MEDIA_SLICE
 * calls of the tick due, sends what those produced for the shared socket in one sendmmsg,
 * and lets go of its lock between turns - first to any other thread waiting for it (the
 * node's loop adding, ending or polling a call), so such a thread waits for one turn's work
 * at most, never for a whole tick of every call.
 *
 * Calls move between shards only when a call is replaced under the same id (a local call
 * becomes a network one, a new plan brings a new SSRC): one control change at a time (ctl),
 * the call taken out of its old shard and put in its new one.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "rl_addr.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_media_int.h"
#include "rl_time.h"

#define RL_MEDIA_MAX_THREADS 64
#define RL_MEDIA_SLICE       32 /* calls ticked per turn, between two chances for waiting threads */
#define RL_MEDIA_EVENTS      64
#define RL_MEDIA_TICK_US     (RL_MEDIA_FRAME_MS * 1000u)

struct rl_media {
	unsigned n;          /* shards */
	pthread_mutex_t ctl; /* one control change (add, replace, del) at a time */
	char local[RL_ID_MAX + 1];
	struct rl_mshard *s; /* n of them */
};

/* rl_mshard_lock: a shard's lock for every thread but its own, which yields it to them. */
static void rl_mshard_lock(struct rl_mshard *s)
{
	atomic_fetch_add(&s->waiting, 1);
	pthread_mutex_lock(&s->mu);
	atomic_fetch_sub(&s->waiting, 1);
}

void rl_mshard_unlock(struct rl_mshard *s)
{
	pthread_mutex_unlock(&s->mu);
}

int rl_media_udp_socket(const struct sockaddr_storage *bind_to, socklen_t len, int family, int reuseport)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int buf = 1 << 20, one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	    (bind_to != NULL && bind(fd, (const struct sockaddr *)bind_to, len) != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---------------------------------------------------------------------------------------- */
/* steering: which shard a datagram on the site's port belongs to */

/* rl_media_steer: what the group's BPF program below computes, for rl_media_inject. Where
 * the program would read past the datagram it returns 0 (the kernel's rule for classic BPF). */
static unsigned rl_media_steer(const struct rl_media *m, const uint8_t *buf, size_t len)
{
	size_t at;

	if (len < 1)
		return 0;
	if (buf[0] == RL_LATCH_TYPE)
		at = 4;
	else if (len < 2)
		return 0;
	else
		at = buf[1] >= 192 && buf[1] <= 223 ? 4 : 8;
	if (len < at + 4)
		return 0;
	return ((uint32_t)buf[at] << 24 | (uint32_t)buf[at + 1] << 16 | (uint32_t)buf[at + 2] << 8 | buf[at + 3]) %
	       m->n;
}

/* rl_media_steer_attach gives the reuseport group of fd the program: latch packet (first
 * byte 0x0c) or RTCP (second byte 192..223): SSRC at 4, else (RTP) at 8; socket SSRC % n. */
static int rl_media_steer_attach(int fd, unsigned n)
{
	struct sock_filter code[] = {
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RL_LATCH_TYPE, 3, 0),
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 1),
	    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 192, 0, 3),
	    BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 223, 2, 0),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
	    BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 8),
	    BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n),
	    BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog));
}

static unsigned rl_media_shard_of(const struct rl_media *m, uint32_t ssrc)
{
	return ssrc % m->n;
}

/* rl_media_pick: the shard with the fewest calls, for a call the port's steering does not
 * place (local, or on a socket of its own). */
static struct rl_mshard *rl_media_pick(struct rl_media *m)
{
	unsigned best = 0;

	for (unsigned i = 1; i < m->n; i++)
		if (atomic_load(&m->s[i].ncalls_pub) < atomic_load(&m->s[best].ncalls_pub))
			best = i;
	return &m->s[best];
}

/* ---------------------------------------------------------------------------------------- */
/* a shard's calls */

static size_t rl_ssrc_slot(uint32_t ssrc, size_t cap)
{
	/* the high bits: every SSRC of a shard has the same value modulo n */
	return (size_t)((ssrc * 2654435761u) >> 8) & (cap - 1);
}

/* rl_mshard_rehash rebuilds the SSRC table of the calls on the shared socket. */
static void rl_mshard_rehash(struct rl_mshard *s)
{
	size_t cap = 16;

	while (cap < 2 * s->ncalls + 2)
		cap *= 2;
	if (cap != s->ssrc_cap) {
		free(s->byssrc);
		s->byssrc = rl_calloc(cap, sizeof(*s->byssrc));
		s->ssrc_cap = cap;
	} else {
		memset(s->byssrc, 0, cap * sizeof(*s->byssrc));
	}
	for (size_t i = 0; i < s->ncalls; i++) {
		struct rl_mcall *c = s->calls[i];
		if (c->fd >= 0 || c->local)
			continue;
		size_t h = rl_ssrc_slot(c->leg.rx_ssrc, cap);
		while (s->byssrc[h] != NULL)
			h = (h + 1) & (cap - 1);
		s->byssrc[h] = c;
	}
}

struct rl_mcall *rl_mshard_by_ssrc(struct rl_mshard *s, uint32_t ssrc)
{
	if (s->ssrc_cap == 0)
		return NULL;
	for (size_t h = rl_ssrc_slot(ssrc, s->ssrc_cap); s->byssrc[h] != NULL; h = (h + 1) & (s->ssrc_cap - 1))
		if (s->byssrc[h]->leg.rx_ssrc == ssrc)
			return s->byssrc[h];
	return NULL;
}

static struct rl_mcall *rl_mshard_find(struct rl_mshard *s, const char *id, size_t *idx)
{
	for (size_t i = 0; i < s->ncalls; i++)
		if (strcmp(s->calls[i]->leg.id, id) == 0) {
			*idx = i;
			return s->calls[i];
		}
	return NULL;
}

static void rl_mshard_insert(struct rl_mshard *s, struct rl_mcall *c)
{
	if (s->ncalls == s->capcalls) {
		s->capcalls = s->capcalls ? s->capcalls * 2 : 16;
		s->calls = rl_realloc(s->calls, s->capcalls * sizeof(*s->calls));
	}
	s->calls[s->ncalls++] = c;
	c->ticked = s->tick; /* its first frame at the next tick */
	if (c->fd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = c->fd};
		epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &ev);
	}
	s->gen++;
	s->ctr.calls = (uint32_t)s->ncalls;
	atomic_store(&s->ncalls_pub, (unsigned)s->ncalls);
	rl_mshard_rehash(s);
}

static struct rl_mcall *rl_mshard_remove_at(struct rl_mshard *s, size_t i)
{
	struct rl_mcall *c = s->calls[i];

	if (c->fd >= 0)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
	s->calls[i] = s->calls[--s->ncalls];
	s->gen++;
	s->ctr.calls = (uint32_t)s->ncalls;
	atomic_store(&s->ncalls_pub, (unsigned)s->ncalls);
	rl_mshard_rehash(s);
	return c;
}

/* ---------------------------------------------------------------------------------------- */
/* a shard's sends and receives */

static void rl_mshard_flush(struct rl_mshard *s)
{
	struct mmsghdr msgs[RL_MEDIA_BATCH];
	struct iovec iov[RL_MEDIA_BATCH];
	unsigned done = 0;

	for (unsigned i = 0; i < s->out.n; i++) {
		iov[i] = (struct iovec){.iov_base = s->out.buf[i], .iov_len = s->out.len[i]};
		msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &s->out.to[i],
		                                       .msg_namelen = s->out.tolen[i],
		                                       .msg_iov = &iov[i],
		                                       .msg_iovlen = 1}};
	}
	while (done < s->out.n) {
		int k = sendmmsg(s->fd, msgs + done, s->out.n - done, MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k > 0) {
			s->ctr.sent += (unsigned)k;
			done += (unsigned)k;
		}
		if (done < s->out.n && k <= 0) {
			s->ctr.send_fail++; /* this one cannot go (buffer full, no route): the next may */
			done++;
		}
	}
	s->out.n = 0;
}

void rl_mshard_send(struct rl_mshard *s, struct rl_mcall *c, const uint8_t *buf, size_t len)
{
	int fd = c->fd >= 0 ? c->fd : s->fd;

	if (c->peer_len == 0 || fd < 0 || len > RL_MEDIA_PKT)
		return; /* peer not known yet: its first authenticated packet tells */
	if (fd != s->fd) {
		if (sendto(fd, buf, len, 0, (const struct sockaddr *)&c->peer, c->peer_len) < 0)
			s->ctr.send_fail++;
		else
			s->ctr.sent++;
		return;
	}
	if (s->out.n == RL_MEDIA_BATCH)
		rl_mshard_flush(s);
	memcpy(s->out.buf[s->out.n], buf, len);
	s->out.len[s->out.n] = len;
	memcpy(&s->out.to[s->out.n], &c->peer, c->peer_len);
	s->out.tolen[s->out.n++] = c->peer_len;
}

/* rl_mshard_drain takes one batch of datagrams from fd (owned by call owner, or the shared
 * socket if NULL); the level-triggered poll brings the rest at the next turn. */
static void rl_mshard_drain(struct rl_mshard *s, int fd, struct rl_mcall *owner)
{
	static __thread uint8_t bufs[RL_MEDIA_BATCH][RL_MEDIA_PKT + 64];
	struct mmsghdr msgs[RL_MEDIA_BATCH];
	struct iovec iov[RL_MEDIA_BATCH];
	struct sockaddr_storage from[RL_MEDIA_BATCH];
	uint64_t now;
	int n;

	for (int i = 0; i < RL_MEDIA_BATCH; i++) {
		iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = RL_MEDIA_PKT + 1}; /* oversized ones show */
		msgs[i] = (struct mmsghdr){
		    .msg_hdr = {
		        .msg_name = &from[i], .msg_namelen = sizeof(from[i]), .msg_iov = &iov[i], .msg_iovlen = 1}};
	}
	if ((n = recvmmsg(fd, msgs, RL_MEDIA_BATCH, MSG_DONTWAIT, NULL)) <= 0)
		return;
	now = rl_mono_us();
	for (int i = 0; i < n; i++) {
		if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			s->ctr.rx++;
			s->ctr.malformed++;
			continue;
		}
		rl_mshard_datagram(s, owner, bufs[i], msgs[i].msg_len, &from[i], msgs[i].msg_hdr.msg_namelen, now);
	}
}

static void rl_mshard_event(struct rl_mshard *s, int fd)
{
	uint64_t v;

	if (fd == s->evfd || fd == s->tfd) {
		if (read(fd, &v, sizeof(v)) < 0) {
			/* nothing pending: another turn read it */
		}
		return;
	}
	if (fd == s->fd) {
		rl_mshard_drain(s, fd, NULL);
		return;
	}
	for (size_t i = 0; i < s->ncalls; i++) {
		struct rl_mcall *owner = rl_mix_socket_owner(s->calls[i], fd); /* the call or its supervisor's leg */
		if (owner != NULL) {
			rl_mshard_drain(s, fd, owner);
			return;
		}
	}
}

/* ---------------------------------------------------------------------------------------- */
/* a shard's tick */

/* rl_mshard_sample_load folds the work since the last sample (each tick, so about every
 * 20 ms) into load_pm: a moving average over about ten ticks. */
static void rl_mshard_sample_load(struct rl_mshard *s)
{
	uint64_t now = rl_mono_us(), span = now - s->busy_since_us;
	unsigned pm, old = atomic_load(&s->load_pm);

	if (span == 0)
		return;
	pm = s->busy_us >= span ? 1000u : (unsigned)(s->busy_us * 1000u / span);
	atomic_store(&s->load_pm, (old * 9u + pm) / 10u);
	s->busy_us = 0;
	s->busy_since_us = now;
}

static void rl_mshard_arm(struct rl_mshard *s)
{
	struct itimerspec its = {.it_value = {.tv_sec = (time_t)(s->next_tick_us / 1000000u),
	                                      .tv_nsec = (long)(s->next_tick_us % 1000000u) * 1000}};

	timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* rl_mshard_tick moves the frames of the tick due, RL_MEDIA_SLICE calls per turn; a call is
 * stamped with the tick that moved it, so calls added or removed between turns neither miss
 * the tick nor get two frames of it. */
static void rl_mshard_tick(struct rl_mshard *s, uint64_t now)
{
	unsigned done = 0;

	if (s->tick_pos == SIZE_MAX) {
		if (now < s->next_tick_us)
			return;
		s->tick++;
		s->tick_pos = 0;
		s->tick_gen = s->gen;
	}
	if (s->tick_gen != s->gen) {
		s->tick_pos = 0; /* the array moved: look again from the start */
		s->tick_gen = s->gen;
	}
	for (; s->tick_pos < s->ncalls && done < RL_MEDIA_SLICE; s->tick_pos++) {
		struct rl_mcall *c = s->calls[s->tick_pos];
		if (c->ticked == s->tick)
			continue;
		c->ticked = s->tick;
		rl_mcall_tick(s, c, now);
		done++;
	}
	if (s->tick_pos < s->ncalls)
		return;
	s->tick_pos = SIZE_MAX;
	s->next_tick_us += RL_MEDIA_TICK_US;
	rl_mshard_sample_load(s);
	if (now > s->next_tick_us + 5 * RL_MEDIA_TICK_US) {
		/* Far behind (the machine stalled): skip ahead rather than burst. */
		s->ctr.late_ticks++;
		s->next_tick_us = now + RL_MEDIA_TICK_US;
	}
	rl_mshard_arm(s);
}

static void *rl_mshard_run(void *arg)
{
	struct rl_mshard *s = arg;
	struct epoll_event ev[RL_MEDIA_EVENTS];
	uint64_t work;

	pthread_mutex_lock(&s->mu);
	work = rl_mono_us();
	s->busy_since_us = work;
	s->next_tick_us = work + RL_MEDIA_TICK_US;
	s->tick_pos = SIZE_MAX;
	rl_mshard_arm(s);
	while (s->running) {
		int n;
		rl_mshard_flush(s);
		s->busy_us += rl_mono_us() - work;
		pthread_mutex_unlock(&s->mu);
		n = epoll_wait(s->ep, ev, RL_MEDIA_EVENTS, s->tick_pos != SIZE_MAX ? 0 : -1);
		/* A mutex is not fair: let the threads that asked for the lock have it first, or a
		 * busy shard would starve them. */
		while (atomic_load(&s->waiting) > 0)
			sched_yield();
		pthread_mutex_lock(&s->mu);
		work = rl_mono_us();
		for (int i = 0; i < n; i++)
			rl_mshard_event(s, ev[i].data.fd);
		rl_mshard_tick(s, work);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void rl_mshard_wake(struct rl_mshard *s)
{
	uint64_t one = 1;

	if (write(s->evfd, &one, sizeof(one)) < 0) {
		/* the counter is full: a wake-up is pending anyway */
	}
}

/* ---------------------------------------------------------------------------------------- */
/* open and close */

static int rl_mshard_start(struct rl_media *m, unsigned i)
{
	struct rl_mshard *s = &m->s[i];
	struct epoll_event ev = {.events = EPOLLIN};

	pthread_mutex_init(&s->mu, NULL);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->ep < 0 || s->evfd < 0 || s->tfd < 0)
		return RL_ENET;
	ev.data.fd = s->evfd;
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->evfd, &ev);
	ev.data.fd = s->tfd;
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->tfd, &ev);
	if (s->fd >= 0) {
		ev.data.fd = s->fd;
		epoll_ctl(s->ep, EPOLL_CTL_ADD, s->fd, &ev);
	}
	s->running = 1;
	if (pthread_create(&s->thread, NULL, rl_mshard_run, s) != 0) {
		s->running = 0;
		return RL_ENET;
	}
	s->started = 1;
	char name[16];
	snprintf(name, sizeof(name), "media/%u", i % RL_MEDIA_MAX_THREADS);
	pthread_setname_np(s->thread, name); /* what top -H, perf and bench/trunk show */
	return RL_OK;
}

static void rl_mshard_stop(struct rl_mshard *s)
{
	if (s->started) {
		rl_mshard_lock(s);
		s->running = 0;
		rl_mshard_unlock(s);
		rl_mshard_wake(s);
		pthread_join(s->thread, NULL);
	}
	pthread_mutex_destroy(&s->mu);
	for (size_t i = 0; i < s->ncalls; i++)
		rl_mcall_free(s->calls[i]);
	free(s->calls);
	free(s->byssrc);
	if (s->fd >= 0)
		close(s->fd);
	if (s->ep >= 0)
		close(s->ep);
	if (s->evfd >= 0)
		close(s->evfd);
	if (s->tfd >= 0)
		close(s->tfd);
}

/* rl_media_bind opens the shards' sockets on bind_addr into fds: first once alone (a port
 * that is taken is refused, not joined), then n times with SO_REUSEPORT and the steering
 * program. Returns the number of sockets (n, or 1 if the program cannot be attached), or 0. */
static unsigned rl_media_bind(struct rl_media *m, const char *bind_addr, unsigned n, int *fds)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int probe;

	if (rl_addr_parse(bind_addr, RL_ADDR_ANY_PORT, &ss, &len) != RL_OK ||
	    (probe = rl_media_udp_socket(&ss, len, ss.ss_family, 0)) < 0)
		return 0;
	len = sizeof(ss);
	getsockname(probe, (struct sockaddr *)&ss, &len);
	close(probe);
	rl_addr_format((struct sockaddr *)&ss, m->local, sizeof(m->local));
	for (unsigned i = 0; i < n; i++)
		if ((fds[i] = rl_media_udp_socket(&ss, len, ss.ss_family, n > 1)) < 0) {
			while (i > 0)
				close(fds[--i]);
			return 0;
		}
	if (n > 1 && rl_media_steer_attach(fds[0], n) != 0) {
		rl_log(RL_LOG_WARNING, "media: cannot steer the port's datagrams by SSRC (%s): one media thread",
		       strerror(errno));
		while (n > 1)
			close(fds[--n]);
	}
	return n;
}

/* One thread per core the process may run on (its affinity: taskset, a systemd CPUAffinity=,
 * a container's cpuset), else per online core. */
static unsigned rl_media_default_threads(void)
{
	cpu_set_t set;
	long cores = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);

	return cores < 1 ? 1u : cores > RL_MEDIA_MAX_THREADS ? RL_MEDIA_MAX_THREADS : (unsigned)cores;
}

int rl_media_open(struct rl_media **out, const char *bind_addr, unsigned threads)
{
	struct rl_media *m = rl_calloc(1, sizeof(*m));
	int fds[RL_MEDIA_MAX_THREADS];
	int rv = RL_OK;

	m->n = threads == 0                     ? rl_media_default_threads()
	       : threads > RL_MEDIA_MAX_THREADS ? RL_MEDIA_MAX_THREADS
	                                        : threads;
	for (unsigned i = 0; i < m->n; i++)
		fds[i] = -1;
	if (bind_addr != NULL && (m->n = rl_media_bind(m, bind_addr, m->n, fds)) == 0) {
		free(m);
		return RL_ENET;
	}
	pthread_mutex_init(&m->ctl, NULL);
	m->s = rl_calloc(m->n, sizeof(*m->s));
	for (unsigned i = 0; i < m->n; i++) {
		m->s[i].fd = fds[i];
		m->s[i].ep = m->s[i].evfd = m->s[i].tfd = -1;
	}
	for (unsigned i = 0; i < m->n && rv == RL_OK; i++)
		rv = rl_mshard_start(m, i);
	if (rv != RL_OK) {
		rl_media_close(m);
		return rv;
	}
	*out = m;
	return RL_OK;
}

void rl_media_close(struct rl_media *m)
{
	if (m == NULL)
		return;
	for (unsigned i = 0; i < m->n; i++)
		rl_mshard_stop(&m->s[i]);
	free(m->s);
	pthread_mutex_destroy(&m->ctl);
	free(m);
}

/* ---------------------------------------------------------------------------------------- */
/* the public functions */

const char *rl_media_local(const struct rl_media *m)
{
	return m->local;
}

unsigned rl_media_threads(const struct rl_media *m)
{
	return m->n;
}

unsigned rl_media_load(struct rl_media *m)
{
	unsigned pm = 0;

	for (unsigned i = 0; i < m->n; i++) {
		unsigned l = atomic_load(&m->s[i].load_pm);
		pm = l > pm ? l : pm;
	}
	return (pm + 5u) / 10u;
}

/* rl_media_find: the call id with its shard locked (*sp), or NULL with none locked. */
struct rl_mcall *rl_media_find(struct rl_media *m, const char *id, struct rl_mshard **sp, size_t *idx)
{
	for (unsigned i = 0; i < m->n; i++) {
		struct rl_mshard *s = &m->s[i];
		struct rl_mcall *c;
		rl_mshard_lock(s);
		if ((c = rl_mshard_find(s, id, idx)) != NULL) {
			*sp = s;
			return c;
		}
		rl_mshard_unlock(s);
	}
	return NULL;
}

/* rl_media_take takes call id out of its shard (NULL if none), for the caller to free or
 * reuse. Under ctl. */
static struct rl_mcall *rl_media_take(struct rl_media *m, const char *id)
{
	struct rl_mshard *s;
	struct rl_mcall *c;
	size_t idx;

	if ((c = rl_media_find(m, id, &s, &idx)) == NULL)
		return NULL;
	rl_mshard_remove_at(s, idx);
	rl_mshard_unlock(s);
	return c;
}

/* rl_media_ssrc_taken: 1 if another call than id receives rx_ssrc on s's shared socket. */
static int rl_media_ssrc_taken(struct rl_mshard *s, uint32_t rx_ssrc, const char *id)
{
	struct rl_mcall *same;
	int taken;

	rl_mshard_lock(s);
	same = rl_mshard_by_ssrc(s, rx_ssrc);
	taken = same != NULL && strcmp(same->leg.id, id) != 0;
	rl_mshard_unlock(s);
	return taken;
}

/* rl_media_put puts c in shard s in place of the call it replaces (same id, taken from any
 * shard; returned for the caller to free outside the locks, NULL if none). Under ctl. */
static struct rl_mcall *rl_media_put(struct rl_media *m, struct rl_mshard *s, struct rl_mcall *c)
{
	struct rl_mcall *old = rl_media_take(m, c->leg.id);

	if (old != NULL && !c->local) {
		/* Same call, new plan: the audio goes on from where it was; the new plan's own
		 * source and sink are closed with the old call's husk. */
		struct rl_audio_src *src = c->leg.src;
		struct rl_audio_sink *sink = c->leg.sink;
		c->leg.src = old->leg.src;
		c->leg.sink = old->leg.sink;
		c->t0_wall_us = old->t0_wall_us;
		c->frames = old->frames;
		c->rec = old->rec; /* the recording goes on too */
		old->leg.src = src;
		old->leg.sink = sink;
	}
	rl_mshard_lock(s);
	rl_mshard_insert(s, c);
	rl_mshard_unlock(s);
	return old;
}

int rl_media_add(struct rl_media *m, const struct rl_media_leg *leg)
{
	struct rl_mshard *s;
	struct rl_mcall *c, *old;
	int rv;

	if (leg->src == NULL || leg->sink == NULL || (!leg->own_socket && m->s[0].fd < 0))
		return RL_EINVAL;
	if ((rv = rl_mcall_new(&c, leg)) != RL_OK)
		return rv;
	s = leg->own_socket ? rl_media_pick(m) : &m->s[rl_media_shard_of(m, leg->rx_ssrc)];
	pthread_mutex_lock(&m->ctl);
	/* The shared socket tells calls apart by SSRC: one receiver per SSRC (the call being
	 * replaced may keep its own). */
	if (!leg->own_socket && rl_media_ssrc_taken(s, leg->rx_ssrc, leg->id)) {
		pthread_mutex_unlock(&m->ctl);
		rl_mcall_free(c);
		return RL_EEXIST;
	}
	c->leg.src = leg->src;
	c->leg.sink = leg->sink;
	old = rl_media_put(m, s, c);
	pthread_mutex_unlock(&m->ctl);
	rl_mcall_free(old);
	return RL_OK;
}

int rl_media_add_local(struct rl_media *m, const char *id, unsigned rate, struct rl_audio_src *play,
                       struct rl_audio_sink *to, struct rl_audio_src *listen, struct rl_audio_sink *heard)
{
	struct rl_mcall *c, *old;

	if ((rate != 16000 && rate != 8000) || !rl_text_ok(id, RL_ID_MAX) || id[0] == 0)
		return RL_EINVAL;
	c = rl_mcall_new_local(id, rate);
	c->leg.src = play;
	c->leg.sink = to;
	c->listen = listen;
	c->heard = heard;
	pthread_mutex_lock(&m->ctl);
	old = rl_media_put(m, rl_media_pick(m), c);
	pthread_mutex_unlock(&m->ctl);
	rl_mcall_free(old);
	return RL_OK;
}

int rl_media_record(struct rl_media *m, const char *id, struct rl_record *rec)
{
	struct rl_mshard *s;
	struct rl_mcall *c;
	size_t idx;
	int rv = RL_OK;

	if ((c = rl_media_find(m, id, &s, &idx)) == NULL)
		return RL_ENOENT;
	if (c->local)
		rv = RL_EINVAL;
	else
		c->rec = rec;
	rl_mshard_unlock(s);
	return rv;
}

int rl_media_played(struct rl_media *m, const char *id)
{
	struct rl_mshard *s;
	struct rl_mcall *c;
	size_t idx;
	int r;

	if ((c = rl_media_find(m, id, &s, &idx)) == NULL)
		return -1;
	r = c->src_ended;
	rl_mshard_unlock(s);
	return r;
}

int rl_media_has(struct rl_media *m, const char *id, uint32_t tx_ssrc)
{
	struct rl_mshard *s;
	struct rl_mcall *c;
	size_t idx;
	int has;

	if ((c = rl_media_find(m, id, &s, &idx)) == NULL)
		return 0;
	has = c->leg.tx_ssrc == tx_ssrc;
	rl_mshard_unlock(s);
	return has;
}

int rl_media_quality(struct rl_media *m, const char *id, struct rl_media_quality *q)
{
	struct rl_mshard *s;
	struct rl_mcall *c;
	size_t idx;

	if ((c = rl_media_find(m, id, &s, &idx)) == NULL)
		return RL_ENOENT;
	rl_mcall_quality(c, q);
	rl_mshard_unlock(s);
	return RL_OK;
}

int rl_media_del(struct rl_media *m, const char *id, struct rl_media_quality *q)
{
	struct rl_mshard *s;
	struct rl_mcall *c;
	size_t idx;

	pthread_mutex_lock(&m->ctl);
	if ((c = rl_media_find(m, id, &s, &idx)) != NULL) {
		if (q)
			rl_mcall_quality(c, q);
		rl_mshard_remove_at(s, idx);
		rl_mshard_unlock(s);
	}
	pthread_mutex_unlock(&m->ctl);
	if (c == NULL)
		return RL_ENOENT;
	rl_mcall_free(c);
	return RL_OK;
}

void rl_media_each_call(struct rl_media *m, void (*fn)(void *arg, struct rl_mshard *s, struct rl_mcall *c), void *arg)
{
	for (unsigned i = 0; i < m->n; i++) {
		rl_mshard_lock(&m->s[i]);
		for (size_t k = 0; k < m->s[i].ncalls; k++)
			fn(arg, &m->s[i], m->s[i].calls[k]);
		rl_mshard_unlock(&m->s[i]);
	}
}

struct rl_each_id {
	void (*fn)(void *arg, const char *id);
	void *arg;
};

static void rl_each_id(void *arg, struct rl_mshard *s, struct rl_mcall *c)
{
	struct rl_each_id *x = arg;

	(void)s;
	x->fn(x->arg, c->leg.id);
}

void rl_media_each(struct rl_media *m, void (*fn)(void *arg, const char *id), void *arg)
{
	struct rl_each_id x = {fn, arg};

	rl_media_each_call(m, rl_each_id, &x);
}

static void rl_counters_add(struct rl_media_counters *t, const struct rl_media_counters *c)
{
	t->rx += c->rx;
	t->malformed += c->malformed;
	t->unknown_ssrc += c->unknown_ssrc;
	t->auth_fail += c->auth_fail;
	t->replay += c->replay;
	t->bad_rtp += c->bad_rtp;
	t->sent += c->sent;
	t->send_fail += c->send_fail;
	t->late_ticks += c->late_ticks;
	t->proofs += c->proofs;
	t->latched += c->latched;
	t->latch_bad += c->latch_bad;
	t->latch_replay += c->latch_replay;
	t->unlatched += c->unlatched;
	t->calls += c->calls;
}

void rl_media_counters(struct rl_media *m, struct rl_media_counters *c)
{
	memset(c, 0, sizeof(*c));
	for (unsigned i = 0; i < m->n; i++) {
		rl_mshard_lock(&m->s[i]);
		rl_counters_add(c, &m->s[i].ctr);
		rl_mshard_unlock(&m->s[i]);
	}
}

int rl_media_inject(struct rl_media *m, const uint8_t *buf, size_t len, const void *from, unsigned fromlen)
{
	uint8_t copy[RL_MEDIA_PKT + 64];
	struct rl_mshard *s = &m->s[rl_media_steer(m, buf, len)];

	rl_mshard_lock(s);
	if (len > RL_MEDIA_PKT) {
		s->ctr.rx++;
		s->ctr.malformed++;
		rl_mshard_unlock(s);
		return RL_ETOOBIG;
	}
	memcpy(copy, buf, len);
	rl_mshard_datagram(s, NULL, copy, len, from, fromlen, rl_mono_us());
	rl_mshard_unlock(s);
	return RL_OK;
}
