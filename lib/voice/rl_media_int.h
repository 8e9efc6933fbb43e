/*
 * rl_media_int.h - inside the media engine (rl_media.h): its shards and its calls.
 *
 * rl_media.c owns the shards - a thread each, its calls, its share of the site's UDP port,
 * its timers - and the public functions; rl_mcall.c owns what one call does with a datagram
 * it received and with its 20 ms tick. Everything here runs under the lock of the shard that
 * holds the call (struct rl_mshard.mu); nothing here is for use outside these two files.
 */
#ifndef RL_MEDIA_INT_H
#define RL_MEDIA_INT_H

#include <opus/opus.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "rl_jbuf.h"
#include "rl_media.h"
#include "rl_record.h"
#include "rl_rtp.h"

#define RL_MEDIA_MAX_FRAME 960 /* samples per 20 ms at 48 kHz: the most we ever handle */
#define RL_MEDIA_PKT       1500
#define RL_MEDIA_BATCH     32 /* datagrams per recvmmsg and per sendmmsg */

struct rl_mcall {
	struct rl_media_leg leg;
	int fd; /* own socket, or -1 */
	struct sockaddr_storage peer;
	socklen_t peer_len; /* 0 = not known yet */
	struct rl_srtp *tx, *rx;
	OpusEncoder *enc;
	OpusDecoder *dec;
	struct rl_jbuf *jb;
	struct rl_rtp_rx rxs;
	unsigned samples; /* per frame at leg.rate */
	uint16_t seq;
	uint32_t ts;
	uint64_t sent, octets, fec, concealed, dropped, frames;
	uint64_t next_rtcp_us;
	struct rl_latch_tx proof; /* this end's latch packets: counter and schedule */
	double rtt_ms;
	uint32_t peer_lost_frac; /* fraction lost the peer reports, /256 */
	uint64_t peer_counter;   /* the highest latch counter accepted from the peer */
	uint64_t t0_wall_us;
	int src_ended;
	uint64_t ticked; /* the shard tick that last moved this call's frame */
	/* A local call (no network): leg.src -> leg.sink, and listen -> heard. */
	int local;
	struct rl_audio_src *listen;
	struct rl_audio_sink *heard;
	struct rl_mix *mix;    /* a supervisor's leg on the call (rl_mix.c), NULL: none */
	struct rl_record *rec; /* a recording of the call (rl_record.h), borrowed; NULL: none */
};

/* Datagrams waiting for one sendmmsg on the shard's socket. */
struct rl_mout {
	uint8_t buf[RL_MEDIA_BATCH][RL_MEDIA_PKT];
	size_t len[RL_MEDIA_BATCH];
	struct sockaddr_storage to[RL_MEDIA_BATCH];
	socklen_t tolen[RL_MEDIA_BATCH];
	unsigned n;
};

/* One media thread and the calls it carries (see rl_media.c). */
struct rl_mshard {
	pthread_t thread;
	int running, started;
	pthread_mutex_t mu;
	atomic_int waiting; /* other threads waiting for mu (rl_mshard_lock) */
	int fd;             /* this shard's socket on the site's port (SO_REUSEPORT), -1 = none */
	int ep, evfd, tfd;  /* epoll set; wake-up eventfd; tick timerfd */
	struct rl_mcall **calls;
	size_t ncalls, capcalls;
	atomic_uint ncalls_pub;   /* ncalls, for placing calls without the lock */
	struct rl_mcall **byssrc; /* calls on the shared socket by rx_ssrc: open addressing */
	size_t ssrc_cap;          /* a power of two, at least twice the calls; 0 = none yet */
	struct rl_media_counters ctr;
	struct rl_mout out;
	uint64_t next_tick_us, tick, gen, tick_gen;
	size_t tick_pos;                 /* where the tick in progress goes on; SIZE_MAX: none in progress */
	uint64_t busy_us, busy_since_us; /* work since the last load sample */
	atomic_uint load_pm;             /* busy fraction, per mille (moving average) */
};

/* rl_mcall.c */
int rl_mcall_new(struct rl_mcall **out, const struct rl_media_leg *leg);
struct rl_mcall *rl_mcall_new_local(const char *id, unsigned rate);
void rl_mcall_free(struct rl_mcall *c);
void rl_mcall_tick(struct rl_mshard *s, struct rl_mcall *c, uint64_t now);
void rl_mcall_quality(const struct rl_mcall *c, struct rl_media_quality *q);
void rl_mshard_datagram(struct rl_mshard *s, struct rl_mcall *fd_call, uint8_t *buf, size_t len, const void *from,
                        socklen_t fromlen, uint64_t now);

/* rl_mix.c: rl_mix_to_agent takes the caller's frame and mixes in what the agent must hear
 * besides; rl_mix_to_caller takes the agent's frame, mixes in what the caller must hear
 * besides, and moves the supervisor's leg; rl_mix_socket_owner: the call (c, or its
 * supervisor's leg) whose socket is fd, or NULL. */
struct rl_mix;
void rl_mix_to_agent(struct rl_mix *x, int16_t *pcm);
void rl_mix_to_caller(struct rl_mshard *s, struct rl_mix *x, int16_t *pcm, uint64_t now);
struct rl_mcall *rl_mix_socket_owner(struct rl_mcall *c, int fd);
void rl_mix_free(struct rl_mix *x);

/* rl_media.c */
/* rl_media_find: call id with its shard locked (*sp; rl_mshard_unlock), or NULL, none locked. */
struct rl_mcall *rl_media_find(struct rl_media *m, const char *id, struct rl_mshard **sp, size_t *idx);
void rl_mshard_unlock(struct rl_mshard *s);
/* rl_media_each_call calls fn for every call of every shard, under that shard's lock. */
void rl_media_each_call(struct rl_media *m, void (*fn)(void *arg, struct rl_mshard *s, struct rl_mcall *c), void *arg);
int rl_media_udp_socket(const struct sockaddr_storage *bind_to, socklen_t len, int family, int reuseport);
struct rl_mcall *rl_mshard_by_ssrc(struct rl_mshard *s, uint32_t ssrc);
void rl_mshard_send(struct rl_mshard *s, struct rl_mcall *c, const uint8_t *buf, size_t len);

#endif
