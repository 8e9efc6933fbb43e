/*
 * relay.c - the hub's media relay: forwards SRTP/SRTCP between the two legs of a call
 * without decrypting (see relay.h).
 *
 * Threads and sockets. conf->threads UDP sockets are bound to the same address with
 * SO_REUSEPORT, one per thread; the kernel spreads datagrams over them by 4-tuple hash, so
 * the packets of one leg normally reach one thread. Each thread loops: recvmmsg up to
 * RL_RELAY_BATCH datagrams (blocking for the first one only), classify and look up every
 * datagram, then sendmmsg the forwards in one batch from its own socket (same local
 * address, so peers see one relay address whatever thread answers). The receive buffers are
 * sent as they are: nothing is copied or allocated per packet.
 *
 * The call table. Calls live in a fixed array of max_calls slots; an open-addressing hash
 * (linear probing, backward-shift deletion, at most half full) maps each leg's SSRC to its
 * slot and leg, and a second one maps call ids to slots. Both are changed only under the
 * write side of a reader-writer lock (rl_relay_add, rl_relay_del, and the idle reaper); a
 * worker holds the read side for the classification of one whole batch, not per packet and
 * never across a system call, so a lock costs two atomic operations per batch. The lock
 * prefers writers, so the engine thread is never starved by busy workers. bench/relay
 * measures the whole hot path; the lock is a few ns per packet at the batch sizes seen there.
 *
 * Latching. A leg's latched address and its last-activity time are the only fields that
 * workers write, concurrently, under the read lock. The address is a seqlock: `seq` is 0
 * until the first latch, odd while a worker writes the address, even (>= 2) when it is
 * stable; a worker takes it by moving seq from even to odd with a compare-and-swap. Readers
 * copy the address and retry if seq moved.
 *
 * Proofs. Only a latch packet (rl_latch.h) moves a leg's address: its MAC must be the leg's
 * secret's and its counter above the highest accepted for the leg, which a worker claims
 * first with a compare-and-swap on the leg's counter (so of two copies of one proof, one
 * wins, and a replay of an old one never does). A proof from the latched address only
 * refreshes the leg; one from another address latches the leg there at once, unless a newer
 * proof was claimed meanwhile (checked with the seqlock held, so the newest proof's address
 * stays). The proof decides, never the address: an agent behind carrier-grade NAT, whose
 * media leaves from another public address than its control link, or whose NAT mapping
 * changes mid-call, is followed at its next proof (the ends send one every 2 s), and a
 * stranger who knows the SSRC but not the secret is not, whether the leg is new, busy or
 * silent. RTP/RTCP from any other address than the latched one is dropped (drop_source),
 * before the leg has latched too. Checking a MAC costs about a microsecond, on latch
 * packets only; a worker that finds the seqlock held spins, as the holder writes three words.
 *
 * Release. rl_relay_del frees the call at once. Idle calls (both legs silent for idle_ms,
 * or never heard since rl_relay_add) are found by whichever worker first sees the shared
 * reap deadline pass (checked after every receive, and at least every RL_RELAY_TICK_MS via
 * the socket receive timeout): it scans the slots under the read lock, then frees the
 * idle ones under the write lock after checking again (a slot's generation number tells a
 * call freed and reused in between).
 *
 * Stopping. rl_relay_close sets a flag and shuts the sockets down, which wakes a worker
 * blocked in recvmmsg at once; the receive timeout bounds the wait anyway.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg, SO_*BUFFORCE */
#include "relay.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "rl_addr.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"

#define RL_RELAY_BATCH       64       /* datagrams per recvmmsg/sendmmsg */
#define RL_RELAY_MAX_DGRAM   1500     /* larger datagrams are malformed */
#define RL_RELAY_BUF         1504     /* receive room: one byte more than the cap tells "too big" */
#define RL_RELAY_TICK_MS     50       /* receive timeout: stop flag and reaper checks at least this often */
#define RL_RELAY_REAP_US     1000000u /* idle scan period */
#define RL_RELAY_REAP_MAX    256      /* idle candidates per scan pass */
#define RL_RELAY_MAX_THREADS 16
#define RL_RELAY_MAX_CALLS   (1u << 22)
#define RL_RELAY_SOCKBUF     (4 << 20)

/* An IP address and port in one form for IPv4 and IPv6: the 16-byte IPv6 address (IPv4 as
 * ::ffff:a.b.c.d) in w0/w1 (memory order), the port (network order) and scope id in w2. */
struct rl_relay_addr {
	uint64_t w0, w1, w2;
};

struct rl_relay_leg {
	uint32_t ssrc;
	_Atomic uint32_t seq;        /* seqlock over a0..a2 (see the top of the file) */
	_Atomic uint64_t a0, a1, a2; /* latched address */
	_Atomic uint64_t last_us;    /* last packet accepted from the latched address (coarse clock) */
};

/* What proves a leg: read by latch packets alone, so kept off the forwarding path's lines. */
struct rl_relay_proof {
	uint8_t key[RL_LATCH_KEY_LEN];
	_Atomic uint64_t counter; /* the highest accepted */
};

struct rl_relay_call {
	alignas(64) uint64_t id;
	uint32_t gen; /* bumped at every add into this slot */
	int live;
	uint64_t added_us;
	struct rl_relay_leg leg[2];
	struct rl_relay_proof proof[2];
};

/* Counters a worker owns: written by it alone (relaxed), read by rl_relay_counters. */
struct rl_relay_wcount {
	_Atomic uint64_t rx, fwd, bytes, proofs, drop_malformed, drop_unknown, drop_latch_bad, drop_latch_replay,
	    drop_source, drop_unlatched, drop_send, latched;
};

struct rl_relay_reap {
	uint32_t idx, gen;
};

struct rl_relay_worker {
	alignas(64) struct rl_relay *r;
	int fd;
	int started;
	pthread_t tid;
	struct rl_relay_wcount c;
	struct rl_relay_reap reap[RL_RELAY_REAP_MAX];
	struct mmsghdr rx[RL_RELAY_BATCH], tx[RL_RELAY_BATCH];
	struct iovec iov[RL_RELAY_BATCH], txiov[RL_RELAY_BATCH];
	struct sockaddr_in6 src[RL_RELAY_BATCH], dst[RL_RELAY_BATCH];
	uint8_t buf[RL_RELAY_BATCH][RL_RELAY_BUF];
};

struct rl_relay_ssrc_ent {
	uint32_t ssrc;
	uint32_t ref; /* slot * 2 + leg + 1; 0 = empty */
};

struct rl_relay_id_ent {
	uint64_t id;
	uint32_t ref; /* slot + 1; 0 = empty */
};

struct rl_relay {
	int family;                /* AF_INET or AF_INET6: all sockets and addresses */
	struct rl_relay_addr self; /* bound address (IP may be the wildcard) */
	struct rl_relay_addr adv;  /* advertised address */
	char advertise[RL_ADDR_STRLEN];
	unsigned nthreads;
	uint64_t idle_us;
	uint32_t max_calls;
	uint32_t seed; /* hash seed: SSRCs on the wire are chosen by peers */
	atomic_int stop;
	_Atomic uint64_t reap_at; /* next idle scan (coarse monotonic us) */

	pthread_rwlock_t lock;
	int lock_ok;
	/* under lock: */
	struct rl_relay_call *calls;
	uint32_t *free_slots, nfree;
	struct rl_relay_ssrc_ent *stab;
	uint32_t smask;
	struct rl_relay_id_ent *itab;
	uint32_t imask;
	uint64_t calls_added, calls_released, calls_idle;

	struct rl_relay_worker *w; /* nthreads of them */
};

/* ---------------------------------------------------------------------------------------- */
/* Addresses */

static uint64_t rl_relay_now_us(void)
{
	struct timespec ts;
	/* Coarse: idle and re-latch work in seconds; this is read once per batch. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* rl_relay_addr_from reads sa (AF_INET/AF_INET6) into a; returns 0 or RL_EINVAL. */
static int rl_relay_addr_from(struct rl_relay_addr *a, const struct sockaddr *sa)
{
	uint8_t ip[16];

	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		memset(ip, 0, 10);
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &s4->sin_addr, 4);
		memcpy(&a->w0, ip, 8);
		memcpy(&a->w1, ip + 8, 8);
		a->w2 = s4->sin_port;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		memcpy(&a->w0, &s6->sin6_addr, 8);
		memcpy(&a->w1, (const uint8_t *)&s6->sin6_addr + 8, 8);
		a->w2 = s6->sin6_port | (uint64_t)s6->sin6_scope_id << 16;
		return 0;
	}
	return RL_EINVAL;
}

static int rl_relay_addr_is_v4(const struct rl_relay_addr *a)
{
	uint8_t ip[8];
	memcpy(ip, &a->w1, 8);
	return a->w0 == 0 && ip[0] == 0 && ip[1] == 0 && ip[2] == 0xff && ip[3] == 0xff;
}

/* rl_relay_addr_to writes a as a sockaddr of the relay's family; returns its length. */
static socklen_t rl_relay_addr_to(int family, const struct rl_relay_addr *a, struct sockaddr_in6 *out)
{
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)out;
		memset(s4, 0, sizeof(*s4));
		s4->sin_family = AF_INET;
		s4->sin_port = (uint16_t)a->w2;
		memcpy(&s4->sin_addr, (const uint8_t *)&a->w1 + 4, 4);
		return sizeof(*s4);
	}
	memset(out, 0, sizeof(*out));
	out->sin6_family = AF_INET6;
	out->sin6_port = (uint16_t)a->w2;
	out->sin6_scope_id = (uint32_t)(a->w2 >> 16);
	memcpy(&out->sin6_addr, &a->w0, 8);
	memcpy((uint8_t *)&out->sin6_addr + 8, &a->w1, 8);
	return sizeof(*out);
}

static int rl_relay_addr_is_loopback(const struct rl_relay_addr *a)
{
	uint8_t ip[16];
	static const uint8_t lo6[16] = {[15] = 1};

	memcpy(ip, &a->w0, 8);
	memcpy(ip + 8, &a->w1, 8);
	if (rl_relay_addr_is_v4(a))
		return ip[12] == 127;
	return memcmp(ip, lo6, 16) == 0;
}

static int rl_relay_addr_is_any(const struct rl_relay_addr *a)
{
	uint8_t ip[4];
	memcpy(ip, (const uint8_t *)&a->w1 + 4, 4);
	if (rl_relay_addr_is_v4(a))
		return ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] == 0;
	return a->w0 == 0 && a->w1 == 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Leg address seqlock */

/* rl_relay_leg_get copies the latched address; 1 if there is a stable one, else 0. */
static int rl_relay_leg_get(struct rl_relay_leg *l, struct rl_relay_addr *a)
{
	for (int tries = 0; tries < 4; tries++) {
		uint32_t s1 = atomic_load_explicit(&l->seq, memory_order_acquire);
		if (s1 == 0)
			return 0;
		if (s1 & 1)
			continue;
		a->w0 = atomic_load_explicit(&l->a0, memory_order_relaxed);
		a->w1 = atomic_load_explicit(&l->a1, memory_order_relaxed);
		a->w2 = atomic_load_explicit(&l->a2, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&l->seq, memory_order_relaxed) == s1)
			return 1;
	}
	return 0;
}

static int rl_relay_addr_eq(const struct rl_relay_addr *x, const struct rl_relay_addr *y)
{
	return x->w0 == y->w0 && x->w1 == y->w1 && x->w2 == y->w2;
}

/* rl_relay_leg_lock makes seq odd for this writer; returns the even value it had. */
static uint32_t rl_relay_leg_lock(struct rl_relay_leg *l)
{
	for (unsigned spins = 0;; spins++) {
		uint32_t s = atomic_load_explicit(&l->seq, memory_order_relaxed);
		if (!(s & 1) && atomic_compare_exchange_weak_explicit(&l->seq, &s, s + 1, memory_order_relaxed,
		                                                      memory_order_relaxed)) {
			atomic_thread_fence(memory_order_release);
			return s;
		}
		if (spins >= 64)
			sched_yield(); /* the holder was preempted */
	}
}

/* rl_relay_leg_unlock gives seq back as it was: nothing a reader copies changed. */
static void rl_relay_leg_unlock(struct rl_relay_leg *l, uint32_t held)
{
	atomic_store_explicit(&l->seq, held, memory_order_release);
}

/* rl_relay_leg_move latches l to a, with l locked since it held seq `held`; 1 if the address
 * changed (else seq gets `held` back, as nothing a reader copies changed). */
static int rl_relay_leg_move(struct rl_relay_leg *l, uint32_t held, const struct rl_relay_addr *a)
{
	struct rl_relay_addr cur = {atomic_load_explicit(&l->a0, memory_order_relaxed),
	                            atomic_load_explicit(&l->a1, memory_order_relaxed),
	                            atomic_load_explicit(&l->a2, memory_order_relaxed)};

	if (held != 0 && rl_relay_addr_eq(&cur, a)) {
		rl_relay_leg_unlock(l, held);
		return 0;
	}
	atomic_store_explicit(&l->a0, a->w0, memory_order_relaxed);
	atomic_store_explicit(&l->a1, a->w1, memory_order_relaxed);
	atomic_store_explicit(&l->a2, a->w2, memory_order_relaxed);
	/* seq 0 means never latched, so a wrap skips it */
	atomic_store_explicit(&l->seq, held + 2 == 0 ? 2 : held + 2, memory_order_release);
	return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Tables (changed under the write lock only) */

static uint32_t rl_relay_hash32(const struct rl_relay *r, uint32_t ssrc)
{
	uint32_t h = ssrc ^ r->seed;
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	h *= 0x846ca68bu;
	h ^= h >> 16;
	return h;
}

static uint32_t rl_relay_hash64(uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (uint32_t)id;
}

/* rl_relay_ssrc_find returns the ref (slot*2+leg+1) of ssrc, or 0. */
static uint32_t rl_relay_ssrc_find(const struct rl_relay *r, uint32_t ssrc)
{
	for (uint32_t i = rl_relay_hash32(r, ssrc) & r->smask;; i = (i + 1) & r->smask) {
		const struct rl_relay_ssrc_ent *e = &r->stab[i];
		if (e->ref == 0)
			return 0;
		if (e->ssrc == ssrc)
			return e->ref;
	}
}

static void rl_relay_ssrc_put(struct rl_relay *r, uint32_t ssrc, uint32_t ref)
{
	uint32_t i = rl_relay_hash32(r, ssrc) & r->smask;
	while (r->stab[i].ref != 0)
		i = (i + 1) & r->smask;
	r->stab[i].ssrc = ssrc;
	r->stab[i].ref = ref;
}

static void rl_relay_ssrc_del(struct rl_relay *r, uint32_t ssrc)
{
	uint32_t i = rl_relay_hash32(r, ssrc) & r->smask, j, k;

	while (r->stab[i].ref != 0 && r->stab[i].ssrc != ssrc)
		i = (i + 1) & r->smask;
	if (r->stab[i].ref == 0)
		return;
	/* backward shift: pull later entries of the run into the hole if their home allows */
	for (j = i;;) {
		r->stab[i].ref = 0;
		for (;;) {
			j = (j + 1) & r->smask;
			if (r->stab[j].ref == 0)
				return;
			k = rl_relay_hash32(r, r->stab[j].ssrc) & r->smask;
			/* move j to i unless its home k lies cyclically in (i, j] */
			if ((i <= j) ? (i >= k || k > j) : (i >= k && k > j))
				break;
		}
		r->stab[i] = r->stab[j];
		i = j;
	}
}

static uint32_t rl_relay_id_find(const struct rl_relay *r, uint64_t id)
{
	for (uint32_t i = rl_relay_hash64(id) & r->imask;; i = (i + 1) & r->imask) {
		const struct rl_relay_id_ent *e = &r->itab[i];
		if (e->ref == 0)
			return 0;
		if (e->id == id)
			return e->ref;
	}
}

static void rl_relay_id_put(struct rl_relay *r, uint64_t id, uint32_t ref)
{
	uint32_t i = rl_relay_hash64(id) & r->imask;
	while (r->itab[i].ref != 0)
		i = (i + 1) & r->imask;
	r->itab[i].id = id;
	r->itab[i].ref = ref;
}

static void rl_relay_id_del(struct rl_relay *r, uint64_t id)
{
	uint32_t i = rl_relay_hash64(id) & r->imask, j, k;

	while (r->itab[i].ref != 0 && r->itab[i].id != id)
		i = (i + 1) & r->imask;
	if (r->itab[i].ref == 0)
		return;
	for (j = i;;) {
		r->itab[i].ref = 0;
		for (;;) {
			j = (j + 1) & r->imask;
			if (r->itab[j].ref == 0)
				return;
			k = rl_relay_hash64(r->itab[j].id) & r->imask;
			if ((i <= j) ? (i >= k || k > j) : (i >= k && k > j))
				break;
		}
		r->itab[i] = r->itab[j];
		i = j;
	}
}

/* rl_relay_release frees slot (write lock held). */
static void rl_relay_release(struct rl_relay *r, uint32_t slot, int idle)
{
	struct rl_relay_call *c = &r->calls[slot];

	rl_relay_ssrc_del(r, c->leg[0].ssrc);
	rl_relay_ssrc_del(r, c->leg[1].ssrc);
	rl_relay_id_del(r, c->id);
	sodium_memzero(c->proof, sizeof(c->proof));
	c->live = 0;
	r->free_slots[r->nfree++] = slot;
	r->calls_released++;
	if (idle)
		r->calls_idle++;
}

/* ---------------------------------------------------------------------------------------- */
/* Workers */

struct rl_relay_batch {
	uint64_t rx, fwd, bytes, proofs, malformed, unknown, latch_bad, latch_replay, source, unlatched, send, latched;
};

/* rl_relay_classify reads the sender SSRC of a datagram; 0 if it is not RTP/RTCP-shaped. */
static int rl_relay_classify(const uint8_t *b, size_t len, uint32_t *ssrc)
{
	size_t off;

	if (len < 8 || len > RL_RELAY_MAX_DGRAM || (b[0] >> 6) != 2)
		return 0;
	if (b[1] >= 192 && b[1] <= 223) {
		off = 4; /* RTCP (RFC 5761 demultiplexing by packet type) */
	} else {
		if (len < 12)
			return 0;
		off = 8;
	}
	*ssrc = (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 | (uint32_t)b[off + 2] << 8 | b[off + 3];
	return 1;
}

/* rl_relay_self: 1 if a is the relay's own socket address (latching to it would loop). */
static int rl_relay_self(const struct rl_relay *r, const struct rl_relay_addr *a)
{
	if (a->w2 != r->self.w2 && a->w2 != r->adv.w2)
		return 0;
	if (rl_relay_addr_eq(a, &r->self) || rl_relay_addr_eq(a, &r->adv))
		return 1;
	return rl_relay_addr_is_any(&r->self) && rl_relay_addr_is_loopback(a);
}

/* rl_relay_claim takes counter for proof p if it is above every one taken before; 1 if so. */
static int rl_relay_claim(struct rl_relay_proof *p, uint64_t counter)
{
	uint64_t last = atomic_load_explicit(&p->counter, memory_order_relaxed);

	while (counter > last)
		if (atomic_compare_exchange_weak_explicit(&p->counter, &last, counter, memory_order_relaxed,
		                                          memory_order_relaxed))
			return 1;
	return 0;
}

/* rl_relay_prove takes latch packet buf from src: a valid proof with a new counter latches its
 * leg to src, wherever src is (see the top of the file). */
static void rl_relay_prove(struct rl_relay *r, const uint8_t *buf, size_t len, const struct rl_relay_addr *src,
                           uint64_t now, struct rl_relay_batch *b)
{
	struct rl_relay_addr cur;
	uint32_t ssrc, ref, held;
	uint64_t counter;

	if (rl_latch_parse(buf, len, &ssrc, &counter) != RL_OK) {
		b->malformed++;
		return;
	}
	if ((ref = rl_relay_ssrc_find(r, ssrc)) == 0) {
		b->unknown++;
		return;
	}
	struct rl_relay_call *c = &r->calls[(ref - 1) >> 1];
	struct rl_relay_leg *l = &c->leg[(ref - 1) & 1];
	struct rl_relay_proof *p = &c->proof[(ref - 1) & 1];
	if (rl_relay_self(r, src)) {
		b->source++; /* latching to itself would loop */
		return;
	}
	if (rl_latch_verify(buf, p->key) != RL_OK) {
		b->latch_bad++;
		return;
	}
	if (!rl_relay_claim(p, counter)) {
		b->latch_replay++;
		return;
	}
	b->proofs++;
	atomic_store_explicit(&l->last_us, now, memory_order_relaxed);
	if (rl_relay_leg_get(l, &cur) && rl_relay_addr_eq(&cur, src))
		return; /* the usual case: consent from where the leg is */
	held = rl_relay_leg_lock(l);
	if (atomic_load_explicit(&p->counter, memory_order_relaxed) != counter) {
		rl_relay_leg_unlock(l, held); /* a newer proof came meanwhile: its address stays */
		return;
	}
	if (!rl_relay_leg_move(l, held, src))
		return;
	b->latched++;
	rl_log(held == 0 ? RL_LOG_DEBUG : RL_LOG_INFO, "relay %s call=%llu leg=%c ssrc=%08x",
	       held == 0 ? "latch" : "re-latch", (unsigned long long)c->id, "AB"[(ref - 1) & 1], ssrc);
}

/* rl_relay_one decides the fate of datagram i: counted as a drop, or queued in tx[*ntx]. */
static void rl_relay_one(struct rl_relay_worker *w, unsigned i, uint64_t now, unsigned *ntx, struct rl_relay_batch *b)
{
	struct rl_relay *r = w->r;
	struct mmsghdr *m = &w->rx[i];
	struct rl_relay_addr src, peer, cur;
	struct rl_relay_leg *l;
	uint32_t ssrc, ref;
	size_t len = m->msg_len;

	if ((m->msg_hdr.msg_flags & MSG_TRUNC) || rl_relay_addr_from(&src, (const struct sockaddr *)&w->src[i]) != 0) {
		b->malformed++;
		return;
	}
	if (rl_latch_is(w->buf[i], len)) {
		rl_relay_prove(r, w->buf[i], len, &src, now, b);
		return;
	}
	if (!rl_relay_classify(w->buf[i], len, &ssrc)) {
		b->malformed++;
		return;
	}
	if ((ref = rl_relay_ssrc_find(r, ssrc)) == 0) {
		b->unknown++;
		return;
	}
	l = &r->calls[(ref - 1) >> 1].leg[(ref - 1) & 1];
	if (!rl_relay_leg_get(l, &cur) || !rl_relay_addr_eq(&cur, &src)) {
		b->source++; /* not where the leg proved itself, or it has not yet */
		return;
	}
	/* Store only when the coarse clock moved, so the leg's line is not written per packet. */
	if (atomic_load_explicit(&l->last_us, memory_order_relaxed) != now)
		atomic_store_explicit(&l->last_us, now, memory_order_relaxed);
	if (!rl_relay_leg_get(&r->calls[(ref - 1) >> 1].leg[((ref - 1) & 1) ^ 1], &peer)) {
		b->unlatched++;
		return;
	}
	struct mmsghdr *t = &w->tx[*ntx];
	w->txiov[*ntx].iov_base = w->buf[i];
	w->txiov[*ntx].iov_len = len;
	t->msg_hdr.msg_iov = &w->txiov[*ntx];
	t->msg_hdr.msg_iovlen = 1;
	t->msg_hdr.msg_name = &w->dst[*ntx];
	t->msg_hdr.msg_namelen = rl_relay_addr_to(r->family, &peer, &w->dst[*ntx]);
	t->msg_hdr.msg_control = NULL;
	t->msg_hdr.msg_controllen = 0;
	t->msg_hdr.msg_flags = 0;
	(*ntx)++;
}

static void rl_relay_add_count(_Atomic uint64_t *c, uint64_t n)
{
	if (n != 0)
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* rl_relay_reap frees calls idle since before now - idle_us. */
static void rl_relay_reap(struct rl_relay_worker *w, uint64_t now)
{
	struct rl_relay *r = w->r;
	uint32_t slot = 0, n;

	while (slot < r->max_calls) {
		/* scan a stretch under the read lock: workers go on forwarding meanwhile */
		n = 0;
		pthread_rwlock_rdlock(&r->lock);
		for (; slot < r->max_calls && n < RL_RELAY_REAP_MAX; slot++) {
			struct rl_relay_call *c = &r->calls[slot];
			if (!c->live)
				continue;
			uint64_t la = atomic_load_explicit(&c->leg[0].last_us, memory_order_relaxed);
			uint64_t lb = atomic_load_explicit(&c->leg[1].last_us, memory_order_relaxed);
			uint64_t last = la > lb ? la : lb;
			if (last < c->added_us)
				last = c->added_us;
			if (now > last && now - last >= r->idle_us)
				w->reap[n++] = (struct rl_relay_reap){slot, c->gen};
		}
		pthread_rwlock_unlock(&r->lock);
		if (n == 0)
			continue;
		pthread_rwlock_wrlock(&r->lock);
		for (uint32_t k = 0; k < n; k++) {
			struct rl_relay_call *c = &r->calls[w->reap[k].idx];
			if (!c->live || c->gen != w->reap[k].gen)
				continue; /* deleted (and maybe reused) in between */
			uint64_t la = atomic_load_explicit(&c->leg[0].last_us, memory_order_relaxed);
			uint64_t lb = atomic_load_explicit(&c->leg[1].last_us, memory_order_relaxed);
			uint64_t last = la > lb ? la : lb;
			if (last < c->added_us)
				last = c->added_us;
			if (now > last && now - last >= r->idle_us) {
				rl_log(RL_LOG_INFO, "relay idle release call=%llu silent_ms=%llu",
				       (unsigned long long)c->id, (unsigned long long)((now - last) / 1000u));
				rl_relay_release(r, w->reap[k].idx, 1);
			}
		}
		pthread_rwlock_unlock(&r->lock);
	}
}

static void *rl_relay_thread(void *arg)
{
	struct rl_relay_worker *w = arg;
	struct rl_relay *r = w->r;
	unsigned logged_errs = 0;
	for (unsigned i = 0; i < RL_RELAY_BATCH; i++) {
		w->iov[i].iov_base = w->buf[i];
		w->iov[i].iov_len = RL_RELAY_BUF;
	}
	for (unsigned i = 0; i < RL_RELAY_BATCH; i++) {
		struct msghdr *h = &w->rx[i].msg_hdr;
		h->msg_name = &w->src[i];
		h->msg_namelen = sizeof(w->src[i]);
		h->msg_iov = &w->iov[i];
		h->msg_iovlen = 1;
	}
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		int n;

		/* blocks (up to SO_RCVTIMEO) for the first datagram, then takes what is queued */
		n = recvmmsg(w->fd, w->rx, RL_RELAY_BATCH, MSG_WAITFORONE, NULL);
		uint64_t now = rl_relay_now_us();
		if (n > 0) {
			struct rl_relay_batch b = {0};
			unsigned ntx = 0, sent = 0;

			b.rx = (uint64_t)n;
			pthread_rwlock_rdlock(&r->lock);
			for (unsigned i = 0; i < (unsigned)n; i++) {
				rl_relay_one(w, i, now, &ntx, &b);
				w->rx[i].msg_hdr.msg_namelen = sizeof(w->src[i]); /* the kernel changed it */
			}
			pthread_rwlock_unlock(&r->lock);
			while (sent < ntx) {
				int k = sendmmsg(w->fd, w->tx + sent, ntx - sent, MSG_DONTWAIT);
				if (k > 0) {
					for (int j = 0; j < k; j++)
						b.bytes += w->tx[sent + j].msg_len;
					b.fwd += (uint64_t)k;
					sent += (unsigned)k;
				} else {
					if (k < 0 && errno == EINTR)
						continue;
					b.send++; /* this datagram failed: skip it, send the rest */
					sent++;
				}
			}
			rl_relay_add_count(&w->c.rx, b.rx);
			rl_relay_add_count(&w->c.fwd, b.fwd);
			rl_relay_add_count(&w->c.bytes, b.bytes);
			rl_relay_add_count(&w->c.proofs, b.proofs);
			rl_relay_add_count(&w->c.drop_malformed, b.malformed);
			rl_relay_add_count(&w->c.drop_unknown, b.unknown);
			rl_relay_add_count(&w->c.drop_latch_bad, b.latch_bad);
			rl_relay_add_count(&w->c.drop_latch_replay, b.latch_replay);
			rl_relay_add_count(&w->c.drop_source, b.source);
			rl_relay_add_count(&w->c.drop_unlatched, b.unlatched);
			rl_relay_add_count(&w->c.drop_send, b.send);
			rl_relay_add_count(&w->c.latched, b.latched);
		} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			if (atomic_load_explicit(&r->stop, memory_order_relaxed))
				break;
			if (logged_errs++ < 10)
				rl_log(RL_LOG_WARNING, "relay recv failed thread=%u err=%s", (unsigned)(w - r->w),
				       strerror(errno));
			struct timespec pause = {0, 1000000}; /* never spin on a failing socket */
			nanosleep(&pause, NULL);
		}
		uint64_t at = atomic_load_explicit(&r->reap_at, memory_order_relaxed);
		if (now >= at && atomic_compare_exchange_strong(&r->reap_at, &at, now + RL_RELAY_REAP_US))
			rl_relay_reap(w, now);
	}
	return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* API */

static int rl_relay_socket(int family, const struct sockaddr_storage *bind_to, socklen_t blen)
{
	int fd, one = 1, zero = 0, buf = RL_RELAY_SOCKBUF;
	struct timeval tv = {0, RL_RELAY_TICK_MS * 1000};

	if ((fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	/* DF set, path MTU ignored: media is never fragmented (datagrams are <= 1500 bytes), a
	 * forged ICMP "too big" cannot make sends fail, and IPv4 needs no per-packet IP ID. */
	int pmtu = family == AF_INET ? IP_PMTUDISC_PROBE : IPV6_PMTUDISC_PROBE;
	(void)setsockopt(fd, family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
	                 family == AF_INET ? IP_MTU_DISCOVER : IPV6_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) != 0)) {
		close(fd);
		return -1;
	}
	/* Best effort: bursts from many calls should not overflow the default buffers. The
	 * FORCE variants pass net.core.rmem_max/wmem_max when the hub has CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (bind(fd, (const struct sockaddr *)bind_to, blen) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* rl_relay_aligned: n zeroed bytes starting on a cache line (slots and workers are written by
 * different threads). */
static void *rl_relay_aligned(size_t n)
{
	void *p;

	if (posix_memalign(&p, 64, n) != 0)
		rl_oom(n);
	memset(p, 0, n);
	return p;
}

/* rl_relay_lock_init: the call table's lock, preferring writers (see the top of the file). */
static int rl_relay_lock_init(struct rl_relay *r)
{
	pthread_rwlockattr_t ra;
	int rv;

	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	rv = pthread_rwlock_init(&r->lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	if (rv != 0)
		return RL_ENOMEM;
	r->lock_ok = 1;
	return 0;
}

/* rl_relay_tables allocates the call slots, the free list and the two hash tables for
 * r->max_calls calls, and the workers (no socket yet). */
static void rl_relay_tables(struct rl_relay *r)
{
	uint32_t cap;

	/* SSRC table at most a quarter full, id table at most half: short probes */
	for (cap = 16; cap < r->max_calls * 4u; cap <<= 1)
		;
	r->smask = cap - 1;
	r->imask = cap / 2 - 1;
	r->calls = rl_relay_aligned(sizeof(*r->calls) * r->max_calls);
	r->free_slots = rl_malloc(sizeof(*r->free_slots) * r->max_calls);
	r->stab = rl_calloc(cap, sizeof(*r->stab));
	r->itab = rl_calloc(cap / 2, sizeof(*r->itab));
	for (uint32_t i = 0; i < r->max_calls; i++)
		r->free_slots[i] = r->max_calls - 1 - i; /* pop from the end: slot 0 first */
	r->nfree = r->max_calls;
	r->w = rl_relay_aligned(sizeof(*r->w) * r->nthreads);
	for (unsigned i = 0; i < r->nthreads; i++) {
		r->w[i].fd = -1;
		r->w[i].r = r;
	}
}

/* rl_relay_bind gives every worker its socket on la (port 0: the first one's port, which la
 * then holds). Errors: RL_ENET (logged). */
static int rl_relay_bind(struct rl_relay *r, struct sockaddr_storage *la, socklen_t llen, const char *listen)
{
	for (unsigned i = 0; i < r->nthreads; i++) {
		if ((r->w[i].fd = rl_relay_socket(r->family, la, llen)) < 0) {
			rl_log(RL_LOG_ERR, "relay bind failed listen=%s err=%s", listen, strerror(errno));
			return RL_ENET;
		}
		if (i == 0) {
			/* port 0: the others bind the port the kernel chose for the first */
			socklen_t sl = sizeof(*la);
			if (getsockname(r->w[0].fd, (struct sockaddr *)la, &sl) != 0)
				return RL_ENET;
		}
	}
	return 0;
}

/* rl_relay_start starts the workers. Errors: RL_ENOMEM (no thread). */
static int rl_relay_start(struct rl_relay *r)
{
	for (unsigned i = 0; i < r->nthreads; i++) {
		if (pthread_create(&r->w[i].tid, NULL, rl_relay_thread, &r->w[i]) != 0)
			return RL_ENOMEM;
		r->w[i].started = 1;
		/* named for top -H and for bench/relay, which times these threads alone */
		pthread_setname_np(r->w[i].tid, "rl-relay");
	}
	return 0;
}

int rl_relay_open(struct rl_relay **out, const struct rl_relay_conf *conf)
{
	struct rl_relay *r;
	struct sockaddr_storage la, adv;
	socklen_t llen, alen;
	const struct sockaddr *told;
	unsigned nthreads;
	int rv;

	*out = NULL;
	if (conf == NULL)
		return RL_EINVAL;
	nthreads = conf->threads == 0 ? 1 : conf->threads;
	if (nthreads > RL_RELAY_MAX_THREADS || conf->max_calls > RL_RELAY_MAX_CALLS ||
	    rl_addr_parse(conf->listen, RL_ADDR_ANY_PORT, &la, &llen) != RL_OK ||
	    (conf->advertise != NULL && rl_addr_parse(conf->advertise, 0, &adv, &alen) != RL_OK))
		return RL_EINVAL;
	r = rl_calloc(1, sizeof(*r));
	r->family = la.ss_family;
	r->nthreads = nthreads;
	r->idle_us = (uint64_t)(conf->idle_ms == 0 ? 30000 : conf->idle_ms) * 1000u;
	r->max_calls = conf->max_calls == 0 ? 65536 : conf->max_calls;
	if (getrandom(&r->seed, sizeof(r->seed), 0) != sizeof(r->seed))
		r->seed = (uint32_t)rl_relay_now_us() * 2654435761u;
	atomic_store(&r->reap_at, rl_relay_now_us() + RL_RELAY_REAP_US);
	if ((rv = rl_relay_lock_init(r)) != 0) {
		free(r);
		return rv;
	}
	rl_relay_tables(r);
	if ((rv = rl_relay_bind(r, &la, llen, conf->listen)) != 0)
		goto fail;
	rl_relay_addr_from(&r->self, (const struct sockaddr *)&la);
	told = (const struct sockaddr *)(conf->advertise != NULL ? &adv : &la);
	rl_relay_addr_from(&r->adv, told);
	rl_addr_format(told, r->advertise, sizeof(r->advertise));
	if ((rv = rl_relay_start(r)) != 0)
		goto fail;
	rl_log(RL_LOG_NOTICE, "relay open listen=%s advertise=%s threads=%u max_calls=%u idle_ms=%llu", conf->listen,
	       r->advertise, nthreads, r->max_calls, (unsigned long long)(r->idle_us / 1000u));
	*out = r;
	return 0;
fail:
	rl_relay_close(r);
	return rv;
}

const char *rl_relay_advertise(const struct rl_relay *r)
{
	return r->advertise;
}

int rl_relay_add(struct rl_relay *r, uint64_t id, uint32_t ssrc_a, uint32_t ssrc_b, const uint8_t *key_a,
                 const uint8_t *key_b)
{
	struct rl_relay_call *c;
	uint32_t slot;
	uint64_t now = rl_relay_now_us();
	int rv = 0;

	if (r == NULL || ssrc_a == ssrc_b || key_a == NULL || key_b == NULL)
		return RL_EINVAL;
	pthread_rwlock_wrlock(&r->lock);
	if (rl_relay_id_find(r, id) != 0 || rl_relay_ssrc_find(r, ssrc_a) != 0 || rl_relay_ssrc_find(r, ssrc_b) != 0) {
		rv = RL_EEXIST;
		goto out;
	}
	if (r->nfree == 0) {
		rv = RL_EFULL;
		goto out;
	}
	slot = r->free_slots[--r->nfree];
	c = &r->calls[slot];
	c->id = id;
	c->gen++;
	c->live = 1;
	c->added_us = now;
	for (int k = 0; k < 2; k++) {
		struct rl_relay_leg *l = &c->leg[k];
		l->ssrc = k == 0 ? ssrc_a : ssrc_b;
		memcpy(c->proof[k].key, k == 0 ? key_a : key_b, RL_LATCH_KEY_LEN);
		atomic_store_explicit(&c->proof[k].counter, 0, memory_order_relaxed);
		/* no reader can see this slot now (write lock): plain resets are safe */
		atomic_store_explicit(&l->seq, 0, memory_order_relaxed);
		atomic_store_explicit(&l->a0, 0, memory_order_relaxed);
		atomic_store_explicit(&l->a1, 0, memory_order_relaxed);
		atomic_store_explicit(&l->a2, 0, memory_order_relaxed);
		atomic_store_explicit(&l->last_us, 0, memory_order_relaxed);
	}
	rl_relay_ssrc_put(r, ssrc_a, slot * 2 + 1);
	rl_relay_ssrc_put(r, ssrc_b, slot * 2 + 2);
	rl_relay_id_put(r, id, slot + 1);
	r->calls_added++;
out:
	pthread_rwlock_unlock(&r->lock);
	if (rv == 0)
		rl_log(RL_LOG_DEBUG, "relay add call=%llu ssrc_a=%08x ssrc_b=%08x", (unsigned long long)id, ssrc_a,
		       ssrc_b);
	return rv;
}

int rl_relay_ssrc_free(struct rl_relay *r, uint32_t ssrc)
{
	uint32_t ref;

	pthread_rwlock_rdlock(&r->lock);
	ref = rl_relay_ssrc_find(r, ssrc);
	pthread_rwlock_unlock(&r->lock);
	return ref == 0;
}

void rl_relay_del(struct rl_relay *r, uint64_t id)
{
	uint32_t ref;

	if (r == NULL)
		return;
	pthread_rwlock_wrlock(&r->lock);
	if ((ref = rl_relay_id_find(r, id)) != 0)
		rl_relay_release(r, ref - 1, 0);
	pthread_rwlock_unlock(&r->lock);
	if (ref != 0)
		rl_log(RL_LOG_DEBUG, "relay del call=%llu", (unsigned long long)id);
}

void rl_relay_counters(struct rl_relay *r, struct rl_relay_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (r == NULL)
		return;
	for (unsigned i = 0; i < r->nthreads; i++) {
		struct rl_relay_wcount *c = &r->w[i].c;
		out->rx += atomic_load_explicit(&c->rx, memory_order_relaxed);
		out->fwd += atomic_load_explicit(&c->fwd, memory_order_relaxed);
		out->bytes += atomic_load_explicit(&c->bytes, memory_order_relaxed);
		out->proofs += atomic_load_explicit(&c->proofs, memory_order_relaxed);
		out->drop_malformed += atomic_load_explicit(&c->drop_malformed, memory_order_relaxed);
		out->drop_unknown += atomic_load_explicit(&c->drop_unknown, memory_order_relaxed);
		out->drop_latch_bad += atomic_load_explicit(&c->drop_latch_bad, memory_order_relaxed);
		out->drop_latch_replay += atomic_load_explicit(&c->drop_latch_replay, memory_order_relaxed);
		out->drop_source += atomic_load_explicit(&c->drop_source, memory_order_relaxed);
		out->drop_unlatched += atomic_load_explicit(&c->drop_unlatched, memory_order_relaxed);
		out->drop_send += atomic_load_explicit(&c->drop_send, memory_order_relaxed);
		out->latched += atomic_load_explicit(&c->latched, memory_order_relaxed);
	}
	pthread_rwlock_rdlock(&r->lock);
	out->calls_added = r->calls_added;
	out->calls_released = r->calls_released;
	out->calls_idle = r->calls_idle;
	out->calls = r->max_calls - r->nfree;
	pthread_rwlock_unlock(&r->lock);
}

uint64_t rl_relay_dropped(const struct rl_relay_counters *c)
{
	return c->drop_malformed + c->drop_unknown + c->drop_latch_bad + c->drop_latch_replay + c->drop_source +
	       c->drop_unlatched + c->drop_send;
}

void rl_relay_close(struct rl_relay *r)
{
	if (r == NULL)
		return;
	atomic_store(&r->stop, 1);
	if (r->w != NULL) {
		/* shutdown wakes a thread blocked in recvmmsg now rather than at its timeout */
		for (unsigned i = 0; i < r->nthreads; i++)
			if (r->w[i].fd >= 0)
				shutdown(r->w[i].fd, SHUT_RDWR);
		for (unsigned i = 0; i < r->nthreads; i++)
			if (r->w[i].started)
				pthread_join(r->w[i].tid, NULL);
		for (unsigned i = 0; i < r->nthreads; i++)
			if (r->w[i].fd >= 0)
				close(r->w[i].fd);
	}
	if (r->lock_ok)
		pthread_rwlock_destroy(&r->lock);
	free(r->w);
	free(r->calls);
	free(r->free_slots);
	free(r->stab);
	free(r->itab);
	free(r);
}
