#define _GNU_SOURCE /* recvmmsg, ppoll, pipe2 */
#include "rl_media.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <opus/opus.h>
#include <sodium.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rl_addr.h"
#include "rl_alloc.h"
#include "rl_emodel.h"
#include "rl_err.h"
#include "rl_jbuf.h"
#include "rl_log.h"
#include "rl_opus.h"
#include "rl_rtp.h"
#include "rl_time.h"

#define RL_MEDIA_MAX_FRAME         960 /* samples per 20 ms at 48 kHz: the most we ever handle */
#define RL_MEDIA_PKT               1500
#define RL_MEDIA_RTCP_US           1000000u /* one report a second */
#define RL_MEDIA_BATCH             32
#define RL_MEDIA_OPUS_LOOKAHEAD_MS 6.5
#define RL_MEDIA_SILENCE_BYTES     10 /* Opus frames this small carry silence or comfort noise */

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
	/* A local call (no network): leg.src -> leg.sink, and listen -> heard. */
	int local;
	struct rl_audio_src *listen;
	struct rl_audio_sink *heard;
};

struct rl_media {
	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	int fd;      /* shared socket, -1 = none */
	int wake[2]; /* pipe: add/del changes the poll set */
	char local[RL_ID_MAX + 1];
	struct rl_mcall **calls;
	size_t ncalls, capcalls;
	struct rl_media_counters ctr;
	uint64_t next_tick_us;
	uint64_t busy_us, busy_since_us; /* work since the last load sample */
	atomic_uint load_pm;             /* busy fraction of the media thread, per mille (moving average) */
	uint64_t gen;                    /* bumped by every add/del: poll sets built before are stale */
	atomic_int waiting;              /* other threads waiting for mu (see rl_media_lock) */
};

/* rl_media_lock: the engine's lock for every thread but its own, which yields it to them. */
static void rl_media_lock(struct rl_media *m)
{
	atomic_fetch_add(&m->waiting, 1);
	pthread_mutex_lock(&m->mu);
	atomic_fetch_sub(&m->waiting, 1);
}

static int rl_udp_socket(const struct sockaddr_storage *bind_to, socklen_t len, int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int buf = 1 << 20;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (bind_to != NULL && bind(fd, (const struct sockaddr *)bind_to, len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---------------------------------------------------------------------------------------- */
/* calls */

static void rl_mcall_free(struct rl_mcall *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	rl_srtp_close(c->tx);
	rl_srtp_close(c->rx);
	if (c->enc)
		opus_encoder_destroy(c->enc);
	if (c->dec)
		opus_decoder_destroy(c->dec);
	rl_jbuf_free(c->jb);
	if (c->leg.src)
		c->leg.src->close(c->leg.src);
	if (c->leg.sink)
		c->leg.sink->close(c->leg.sink);
	if (c->listen)
		c->listen->close(c->listen);
	if (c->heard)
		c->heard->close(c->heard);
	sodium_memzero(c->leg.tx_key, sizeof(c->leg.tx_key));
	sodium_memzero(c->leg.rx_key, sizeof(c->leg.rx_key));
	sodium_memzero(c->leg.latch_key, sizeof(c->leg.latch_key));
	sodium_memzero(c->leg.peer_latch_key, sizeof(c->leg.peer_latch_key));
	free(c);
}

static struct rl_mcall *rl_find(struct rl_media *m, const char *id, size_t *idx)
{
	for (size_t i = 0; i < m->ncalls; i++)
		if (strcmp(m->calls[i]->leg.id, id) == 0) {
			if (idx)
				*idx = i;
			return m->calls[i];
		}
	return NULL;
}

/* rl_find_ssrc: the call on the shared socket that receives from ssrc. */
static struct rl_mcall *rl_find_ssrc(struct rl_media *m, uint32_t ssrc)
{
	for (size_t i = 0; i < m->ncalls; i++)
		if (m->calls[i]->fd < 0 && !m->calls[i]->local && m->calls[i]->leg.rx_ssrc == ssrc)
			return m->calls[i];
	return NULL;
}

static int rl_mcall_new(struct rl_mcall **out, const struct rl_media_leg *leg)
{
	struct rl_mcall *c = rl_calloc(1, sizeof(*c));
	struct rl_jbuf_conf jc = {.clock_rate = RL_MEDIA_RTP_CLOCK,
	                          .frame_ms = RL_MEDIA_FRAME_MS,
	                          .min_ms = 20,
	                          .start_ms = 40,
	                          .max_ms = 300,
	                          .slots = 64};
	int rv = RL_OK;

	c->leg = *leg;
	c->leg.src = NULL;
	c->leg.sink = NULL;
	c->fd = -1;
	c->rtt_ms = -1;
	if (c->leg.pt == 0)
		c->leg.pt = RL_MEDIA_PT_OPUS;
	if (c->leg.rate == 0)
		c->leg.rate = 16000;
	/* a call that latches its peer must be able to check the peer's proofs */
	if ((c->leg.rate != 16000 && c->leg.rate != 8000) || leg->key_len != rl_srtp_key_len(leg->suite) ||
	    leg->key_len == 0 || (!leg->peer[0] && !leg->has_peer_latch_key)) {
		rv = RL_EINVAL;
		goto fail;
	}
	c->samples = c->leg.rate * RL_MEDIA_FRAME_MS / 1000;
	if (c->leg.peer[0] && (rv = rl_addr_parse(c->leg.peer, 0, &c->peer, &c->peer_len)) != RL_OK)
		goto fail;
	if ((rv = rl_srtp_open(&c->tx, leg->suite, leg->tx_key, leg->key_len, 1)) != RL_OK ||
	    (rv = rl_srtp_open(&c->rx, leg->suite, leg->rx_key, leg->key_len, 0)) != RL_OK)
		goto fail;
	/* OPUS_APPLICATION_AUDIO rather than VOIP: VOIP's high-pass and voice shaping change the
	 * waveform (correlation 0.93 against 0.99 on our test voices at the same bitrate) for
	 * little gain on a clean headset, and recordings and QA want the caller as spoken.
	 * 24 kb/s wideband, 16 kb/s narrowband. */
	rl_opus_open(c->leg.rate, OPUS_APPLICATION_AUDIO, c->leg.rate == 16000 ? 24000 : 16000, &c->enc, &c->dec);
	if ((rv = rl_jbuf_new(&c->jb, &jc)) != RL_OK)
		goto fail;
	rl_rtp_rx_init(&c->rxs, RL_MEDIA_RTP_CLOCK);
	/* Random initial sequence number and timestamp (RFC 3550 5.1). */
	randombytes_buf(&c->seq, sizeof(c->seq));
	randombytes_buf(&c->ts, sizeof(c->ts));
	if (leg->own_socket) {
		struct sockaddr_storage any = {0};
		int fam = c->peer_len ? c->peer.ss_family : AF_INET;
		any.ss_family = (sa_family_t)fam;
		if ((c->fd = rl_udp_socket(&any, rl_addr_len(fam), fam)) < 0) {
			rv = RL_ENET;
			goto fail;
		}
	}
	*out = c;
	return RL_OK;
fail:
	rl_mcall_free(c);
	return rv;
}

/* ---------------------------------------------------------------------------------------- */
/* receive */

static void rl_mcall_rtcp(struct rl_mcall *c, uint8_t *buf, size_t len, uint64_t now)
{
	struct rl_rtcp r;

	if (rl_rtcp_parse(buf, len, &r) != RL_OK)
		return;
	if (r.is_sr) {
		c->rxs.last_sr_ntp_mid = rl_ntp_mid(r.ntp);
		c->rxs.last_sr_recv_us = now;
	}
	if (r.has_report && r.rb.ssrc == c->leg.tx_ssrc) {
		double rtt = rl_rtcp_rtt_ms(&r.rb, rl_ntp_mid(rl_ntp_now()));
		if (rtt >= 0)
			c->rtt_ms = c->rtt_ms < 0 ? rtt : 0.8 * c->rtt_ms + 0.2 * rtt;
		c->peer_lost_frac = r.rb.fraction_lost;
	}
}

/* rl_mcall_from_peer: 1 if c takes an authenticated packet from `from`: a call with a fixed
 * peer from anywhere (SRTP decides), one that latches its peer only from where the peer
 * last proved its leg. */
static int rl_mcall_from_peer(const struct rl_mcall *c, const void *from)
{
	return c->leg.peer[0] || (c->peer_len != 0 && rl_addr_equal(from, (const struct sockaddr *)&c->peer));
}

/* rl_mcall_input handles one RTP or RTCP datagram for call c; returns 0 if it was dropped. */
static int rl_mcall_input(struct rl_media *m, struct rl_mcall *c, uint8_t *buf, size_t len, const void *from,
                          uint64_t now)
{
	struct rl_rtp_hdr h;
	int rtcp = rl_rtp_is_rtcp(buf, len);
	int rv = rtcp ? rl_srtp_unprotect_rtcp(c->rx, buf, &len) : rl_srtp_unprotect(c->rx, buf, &len);

	if (rv != RL_OK)
		goto bad;
	if (!rl_mcall_from_peer(c, from)) {
		m->ctr.unlatched++; /* genuine perhaps, but from where no proof came: not taken */
		c->dropped++;
		return 0;
	}
	if (rtcp) {
		rl_mcall_rtcp(c, buf, len, now);
	} else {
		if (rl_rtp_parse(buf, len, &h) != RL_OK || h.pt != c->leg.pt || h.ssrc != c->leg.rx_ssrc ||
		    h.pay_len == 0) {
			m->ctr.bad_rtp++;
			c->dropped++;
			return 0;
		}
		if (!rl_rtp_rx_update(&c->rxs, h.seq, h.ts, now)) {
			c->dropped++;
			return 0;
		}
		if (rl_jbuf_put(c->jb, h.seq, h.ts, buf + h.hdr_len, h.pay_len, h.pay_len <= RL_MEDIA_SILENCE_BYTES,
		                now) != RL_OK)
			c->dropped++; /* late, duplicate: counted by the buffer too */
	}
	return 1;
bad:
	if (rv == RL_EAUTH)
		m->ctr.auth_fail++;
	else if (rv == RL_EEXIST)
		m->ctr.replay++;
	else
		m->ctr.malformed++;
	c->dropped++;
	return 0;
}

/* rl_media_route: the call that receives from ssrc on the socket owned by fd_call (NULL: the
 * shared one), or NULL (counted). */
static struct rl_mcall *rl_media_route(struct rl_media *m, struct rl_mcall *fd_call, uint32_t ssrc)
{
	struct rl_mcall *c = fd_call ? (fd_call->leg.rx_ssrc == ssrc ? fd_call : NULL) : rl_find_ssrc(m, ssrc);

	if (c == NULL)
		m->ctr.unknown_ssrc++;
	return c;
}

/* rl_media_proof takes a latch packet: a valid proof of the peer's leg with a counter above
 * every one accepted makes its source the peer of a call that latches (rl_latch.h). Nothing
 * else moves where such a call sends. */
static void rl_media_proof(struct rl_media *m, struct rl_mcall *fd_call, const uint8_t *buf, size_t len,
                           const void *from, socklen_t fromlen)
{
	char addr[RL_ADDR_STRLEN];
	uint32_t ssrc;
	uint64_t counter;
	struct rl_mcall *c;

	if (rl_latch_parse(buf, len, &ssrc, &counter) != RL_OK) {
		m->ctr.malformed++;
		return;
	}
	if ((c = rl_media_route(m, fd_call, ssrc)) == NULL)
		return;
	if (c->leg.peer[0] || !c->leg.has_peer_latch_key || rl_latch_verify(buf, c->leg.peer_latch_key) != RL_OK) {
		m->ctr.latch_bad++; /* forged, or sent to a call that checks none */
		c->dropped++;
		return;
	}
	if (counter <= c->peer_counter) {
		m->ctr.latch_replay++;
		c->dropped++;
		return;
	}
	c->peer_counter = counter;
	m->ctr.proofs++;
	if (fromlen > sizeof(c->peer) || (c->peer_len != 0 && rl_addr_equal(from, (const struct sockaddr *)&c->peer)))
		return;
	rl_log(c->peer_len ? RL_LOG_INFO : RL_LOG_DEBUG, "media %s call=%s peer=%s", c->peer_len ? "re-latch" : "latch",
	       c->leg.id, rl_addr_format(from, addr, sizeof(addr)));
	memcpy(&c->peer, from, fromlen);
	c->peer_len = fromlen;
	m->ctr.latched++;
}

/* rl_media_datagram routes one received datagram; fd_call is the call owning the socket it
 * came on (NULL: the shared socket). */
static void rl_media_datagram(struct rl_media *m, struct rl_mcall *fd_call, uint8_t *buf, size_t len, const void *from,
                              socklen_t fromlen, uint64_t now)
{
	uint32_t ssrc;
	struct rl_mcall *c;

	m->ctr.rx++;
	if (rl_latch_is(buf, len)) {
		rl_media_proof(m, fd_call, buf, len, from, fromlen);
		return;
	}
	if (len < 8 || len > RL_MEDIA_PKT || rl_rtp_peek_ssrc(buf, len, &ssrc) != RL_OK) {
		m->ctr.malformed++;
		return;
	}
	if ((c = rl_media_route(m, fd_call, ssrc)) != NULL)
		rl_mcall_input(m, c, buf, len, from, now);
}

int rl_media_inject(struct rl_media *m, const uint8_t *buf, size_t len, const void *from, unsigned fromlen)
{
	uint8_t copy[RL_MEDIA_PKT + 64];

	if (len > RL_MEDIA_PKT) {
		rl_media_lock(m);
		m->ctr.rx++;
		m->ctr.malformed++;
		pthread_mutex_unlock(&m->mu);
		return RL_ETOOBIG;
	}
	memcpy(copy, buf, len);
	rl_media_lock(m);
	rl_media_datagram(m, NULL, copy, len, from, fromlen, rl_mono_us());
	pthread_mutex_unlock(&m->mu);
	return RL_OK;
}

static void rl_media_drain(struct rl_media *m, int fd, struct rl_mcall *owner)
{
	static __thread uint8_t bufs[RL_MEDIA_BATCH][RL_MEDIA_PKT + 64];
	struct mmsghdr msgs[RL_MEDIA_BATCH];
	struct iovec iov[RL_MEDIA_BATCH];
	struct sockaddr_storage from[RL_MEDIA_BATCH];
	int n;

	do {
		for (int i = 0; i < RL_MEDIA_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = RL_MEDIA_PKT + 1; /* one more: oversized datagrams show */
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		n = recvmmsg(fd, msgs, RL_MEDIA_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		uint64_t now = rl_mono_us();
		for (int i = 0; i < n; i++) {
			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				m->ctr.rx++;
				m->ctr.malformed++;
				continue;
			}
			rl_media_datagram(m, owner, bufs[i], msgs[i].msg_len, &from[i], msgs[i].msg_hdr.msg_namelen,
			                  now);
		}
	} while (n == RL_MEDIA_BATCH);
}

/* ---------------------------------------------------------------------------------------- */
/* send */

static void rl_mcall_send(struct rl_media *m, struct rl_mcall *c, const uint8_t *buf, size_t len)
{
	int fd = c->fd >= 0 ? c->fd : m->fd;

	if (c->peer_len == 0 || fd < 0)
		return; /* peer not known yet: its first authenticated packet tells */
	if (sendto(fd, buf, len, 0, (const struct sockaddr *)&c->peer, c->peer_len) < 0)
		m->ctr.send_fail++;
	else
		m->ctr.sent++;
}

/* rl_mcall_prove sends c's latch packet when one is due: a call that sends to a fixed peer
 * proves its leg there, from the socket its RTP leaves from (rl_latch.h). */
static void rl_mcall_prove(struct rl_media *m, struct rl_mcall *c, uint64_t now)
{
	uint8_t pkt[RL_LATCH_LEN];

	if (!c->leg.has_latch_key || !c->leg.peer[0] || !rl_latch_tx_due(&c->proof, now))
		return;
	rl_latch_tx_next(&c->proof, pkt, c->leg.tx_ssrc, c->leg.latch_key, now);
	rl_mcall_send(m, c, pkt, sizeof(pkt));
}

static void rl_mcall_send_rtcp(struct rl_media *m, struct rl_mcall *c, uint64_t now)
{
	uint8_t buf[256];
	struct rl_rtcp r = {0};
	size_t len;

	r.is_sr = 1;
	r.ssrc = c->leg.tx_ssrc;
	r.ntp = rl_ntp_now();
	r.rtp_ts = c->ts;
	r.packets = (uint32_t)c->sent;
	r.octets = (uint32_t)c->octets;
	if (c->rxs.received > 0) {
		r.has_report = 1;
		rl_rtcp_fill_report(&c->rxs, c->leg.rx_ssrc, now, &r.rb);
	}
	if ((len = rl_rtcp_write(buf, sizeof(buf) - RL_SRTCP_OVERHEAD, &r)) == 0)
		return;
	if (rl_srtp_protect_rtcp(c->tx, buf, &len, sizeof(buf)) == RL_OK)
		rl_mcall_send(m, c, buf, len);
}

/* rl_local_tick moves one frame each way of a local call. */
static void rl_local_tick(struct rl_mcall *c)
{
	int16_t pcm[RL_MEDIA_MAX_FRAME];

	if (c->t0_wall_us == 0)
		c->t0_wall_us = rl_wall_us();
	if (c->leg.src != NULL) {
		if (c->leg.src->read(c->leg.src, pcm, c->samples) == RL_ENOENT)
			c->src_ended = 1;
		if (c->leg.sink != NULL)
			c->leg.sink->write(c->leg.sink, pcm, c->samples);
	}
	if (c->listen != NULL) {
		c->listen->read(c->listen, pcm, c->samples);
		if (c->heard != NULL)
			c->heard->write(c->heard, pcm, c->samples);
	}
	c->frames++;
}

static void rl_mcall_tick(struct rl_media *m, struct rl_mcall *c, uint64_t now)
{
	int16_t pcm[RL_MEDIA_MAX_FRAME];
	uint8_t pkt[RL_MEDIA_PKT];
	uint8_t pay[RL_JBUF_MAX_PAYLOAD];
	size_t hl, plen, len;
	int n, kind;

	if (c->t0_wall_us == 0)
		c->t0_wall_us = rl_wall_us();
	/* Out: the proof of this end's leg when due (so before its first packet), one frame. */
	rl_mcall_prove(m, c, now);
	if (c->leg.src->read(c->leg.src, pcm, c->samples) == RL_ENOENT)
		c->src_ended = 1;
	hl = rl_rtp_write(pkt, sizeof(pkt), c->leg.pt, c->sent == 0, c->seq, c->ts, c->leg.tx_ssrc);
	n = opus_encode(c->enc, pcm, (int)c->samples, pkt + hl, (opus_int32)(sizeof(pkt) - hl - RL_SRTP_OVERHEAD));
	if (n > 0) {
		len = hl + (size_t)n;
		if (rl_srtp_protect(c->tx, pkt, &len, sizeof(pkt)) == RL_OK) {
			rl_mcall_send(m, c, pkt, len);
			c->sent++;
			c->octets += (uint64_t)n;
		}
	}
	c->seq++;
	c->ts += RL_MEDIA_RTP_CLOCK * RL_MEDIA_FRAME_MS / 1000;

	/* In: the frame due now from the jitter buffer. */
	kind = rl_jbuf_get(c->jb, now, pay, sizeof(pay), &plen);
	switch (kind) {
	case RL_JB_FRAME:
		n = opus_decode(c->dec, pay, (opus_int32)plen, pcm, (int)c->samples, 0);
		break;
	case RL_JB_FEC:
		n = opus_decode(c->dec, pay, (opus_int32)plen, pcm, (int)c->samples, 1);
		c->fec++;
		break;
	case RL_JB_LOSS:
		n = opus_decode(c->dec, NULL, 0, pcm, (int)c->samples, 0);
		c->concealed++;
		break;
	default:
		n = 0;
		break;
	}
	if (n != (int)c->samples)
		memset(pcm, 0, c->samples * sizeof(pcm[0]));
	c->leg.sink->write(c->leg.sink, pcm, c->samples);
	c->frames++;

	if (now >= c->next_rtcp_us) {
		c->next_rtcp_us = now + RL_MEDIA_RTCP_US;
		rl_mcall_send_rtcp(m, c, now);
		/* Tell the encoder what the peer sees, so FEC strength follows the path. */
		int perc = (int)(c->peer_lost_frac * 100 / 256);
		opus_encoder_ctl(c->enc, OPUS_SET_PACKET_LOSS_PERC(perc < 5 ? 5 : perc > 30 ? 30 : perc));
	}
}

/* ---------------------------------------------------------------------------------------- */
/* the thread */

/* rl_media_sample_load folds the thread's work since the last sample (each tick, so about
 * every 20 ms) into load_pm: a moving average over about ten ticks. */
static void rl_media_sample_load(struct rl_media *m)
{
	uint64_t now = rl_mono_us(), span = now - m->busy_since_us;
	unsigned pm, old = atomic_load(&m->load_pm);

	if (span == 0)
		return;
	pm = m->busy_us >= span ? 1000u : (unsigned)(m->busy_us * 1000u / span);
	atomic_store(&m->load_pm, (old * 9u + pm) / 10u);
	m->busy_us = 0;
	m->busy_since_us = now;
}

unsigned rl_media_load(struct rl_media *m)
{
	return (atomic_load(&m->load_pm) + 5u) / 10u;
}

/* The thread's poll set: the wake pipe, the shared socket, each own socket; owner[i] is the
 * call that owns pfd[i] (NULL for the first two). Rebuilt under the lock on every turn. */
struct rl_media_poll {
	struct pollfd *pfd;
	struct rl_mcall **owner;
	size_t n, cap;
};

static void rl_media_poll_add(struct rl_media_poll *p, int fd, struct rl_mcall *owner)
{
	p->pfd[p->n] = (struct pollfd){.fd = fd, .events = POLLIN};
	p->owner[p->n++] = owner;
}

static void rl_media_pollset(struct rl_media *m, struct rl_media_poll *p)
{
	size_t need = m->ncalls + 2;

	if (need > p->cap) {
		p->pfd = rl_realloc(p->pfd, need * sizeof(*p->pfd));
		p->owner = rl_realloc(p->owner, need * sizeof(*p->owner));
		p->cap = need;
	}
	p->n = 0;
	rl_media_poll_add(p, m->wake[0], NULL);
	if (m->fd >= 0)
		rl_media_poll_add(p, m->fd, NULL);
	for (size_t i = 0; i < m->ncalls; i++)
		if (m->calls[i]->fd >= 0)
			rl_media_poll_add(p, m->calls[i]->fd, m->calls[i]);
}

/* rl_media_sleep lets go of the lock and polls until the next tick is due or a socket is
 * readable; returns ppoll's result, the lock held again. *work_us: when the thread's work
 * began, for the load figure (the time asleep is not work). */
static int rl_media_sleep(struct rl_media *m, struct rl_media_poll *p, uint64_t *work_us)
{
	uint64_t now = rl_mono_us();
	uint64_t wait = m->next_tick_us > now ? m->next_tick_us - now : 0;
	struct timespec to = {.tv_sec = (time_t)(wait / 1000000u), .tv_nsec = (long)(wait % 1000000u) * 1000};
	int r;

	m->busy_us += now - *work_us;
	pthread_mutex_unlock(&m->mu);
	r = ppoll(p->pfd, p->n, &to, NULL);
	/* Behind schedule the poll does not wait and a mutex is not fair: let the threads that
	 * asked for the lock (the node's loop, add/del) have it before taking it back, or an
	 * overloaded engine would starve them for good. */
	while (atomic_load(&m->waiting) > 0)
		sched_yield();
	pthread_mutex_lock(&m->mu);
	*work_us = rl_mono_us();
	return r;
}

/* rl_media_receive drains the readable sockets of p, built when the call set was at gen. */
static void rl_media_receive(struct rl_media *m, struct rl_media_poll *p, uint64_t gen)
{
	if ((p->pfd[0].revents & POLLIN) || gen != m->gen) {
		char b[64];
		while (read(m->wake[0], b, sizeof(b)) > 0)
			;
		return; /* the call set changed: owners may be gone; poll again with a fresh set */
	}
	for (size_t i = 1; i < p->n; i++)
		if (p->pfd[i].revents & POLLIN)
			rl_media_drain(m, p->pfd[i].fd, p->owner[i]);
}

/* rl_media_tick moves one frame of every call once its 20 ms are due. */
static void rl_media_tick(struct rl_media *m)
{
	uint64_t now = rl_mono_us();

	if (now < m->next_tick_us)
		return;
	for (size_t i = 0; i < m->ncalls; i++) {
		if (m->calls[i]->local)
			rl_local_tick(m->calls[i]);
		else
			rl_mcall_tick(m, m->calls[i], now);
	}
	m->next_tick_us += RL_MEDIA_FRAME_MS * 1000u;
	rl_media_sample_load(m);
	if (now > m->next_tick_us + 5 * RL_MEDIA_FRAME_MS * 1000u) {
		/* Far behind (the machine stalled): skip ahead rather than burst. */
		m->ctr.late_ticks++;
		m->next_tick_us = now + RL_MEDIA_FRAME_MS * 1000u;
	}
}

static void *rl_media_run(void *arg)
{
	struct rl_media *m = arg;
	struct rl_media_poll p = {0};
	uint64_t work_us;

	pthread_mutex_lock(&m->mu);
	m->next_tick_us = rl_mono_us() + RL_MEDIA_FRAME_MS * 1000u;
	work_us = rl_mono_us();
	m->busy_since_us = work_us;
	while (m->running) {
		uint64_t gen = m->gen;

		rl_media_pollset(m, &p);
		if (rl_media_sleep(m, &p, &work_us) > 0)
			rl_media_receive(m, &p, gen);
		rl_media_tick(m);
	}
	pthread_mutex_unlock(&m->mu);
	free(p.pfd);
	free(p.owner);
	return NULL;
}

static void rl_media_wake(struct rl_media *m)
{
	char c = 1;

	if (write(m->wake[1], &c, 1) < 0) {
		/* full pipe: a wake-up is pending anyway */
	}
}

int rl_media_open(struct rl_media **out, const char *bind_addr)
{
	struct rl_media *m = rl_calloc(1, sizeof(*m));
	int rv = RL_ENET;

	m->fd = -1;
	m->wake[0] = m->wake[1] = -1;
	pthread_mutex_init(&m->mu, NULL);
	if (pipe2(m->wake, O_NONBLOCK | O_CLOEXEC) != 0)
		goto fail;
	if (bind_addr != NULL) {
		struct sockaddr_storage ss;
		socklen_t len;
		if ((rv = rl_addr_parse(bind_addr, RL_ADDR_ANY_PORT, &ss, &len)) != RL_OK)
			goto fail;
		rv = RL_ENET;
		if ((m->fd = rl_udp_socket(&ss, len, ss.ss_family)) < 0)
			goto fail;
		len = sizeof(ss);
		getsockname(m->fd, (struct sockaddr *)&ss, &len);
		rl_addr_format((struct sockaddr *)&ss, m->local, sizeof(m->local));
	}
	m->running = 1;
	if (pthread_create(&m->thread, NULL, rl_media_run, m) != 0) {
		m->running = 0;
		goto fail;
	}
	*out = m;
	return RL_OK;
fail:
	if (m->fd >= 0)
		close(m->fd);
	if (m->wake[0] >= 0) {
		close(m->wake[0]);
		close(m->wake[1]);
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
	return rv;
}

const char *rl_media_local(const struct rl_media *m)
{
	return m->local;
}

static void rl_media_remove_at(struct rl_media *m, size_t i)
{
	m->gen++;
	m->calls[i] = m->calls[--m->ncalls];
	m->ctr.calls = (uint32_t)m->ncalls;
}

static void rl_mcall_quality(const struct rl_mcall *c, struct rl_media_quality *q)
{
	struct rl_jbuf_stats js;
	uint64_t expected = rl_rtp_rx_expected(&c->rxs);
	struct rl_emodel_in em = {0};

	memset(q, 0, sizeof(*q));
	if (c->local) {
		q->t0_wall_us = c->t0_wall_us;
		q->frames = c->frames;
		return;
	}
	rl_jbuf_stats(c->jb, &js);
	q->sent = c->sent;
	q->rx_packets = c->rxs.received;
	q->lost = rl_rtp_rx_lost(&c->rxs);
	q->loss_pct = expected ? 100.0 * (double)(q->lost > 0 ? q->lost : 0) / (double)expected : 0;
	q->jitter_ms = rl_rtp_rx_jitter_ms(&c->rxs);
	q->rtt_ms = c->rtt_ms;
	q->playout_ms = js.delay_ms;
	q->fec = c->fec;
	q->concealed = c->concealed;
	q->late = js.late;
	q->dropped = c->dropped;
	q->t0_wall_us = c->t0_wall_us;
	q->frames = c->frames;
	/* Mouth-to-ear: network (half the round trip; 20 ms assumed until RTCP tells), the
	 * jitter buffer, one frame of packetisation and the codec's look-ahead. */
	em.codec = c->leg.rate == 16000 ? RL_EMODEL_OPUS_WB : RL_EMODEL_OPUS_NB;
	em.delay_ms =
	    (c->rtt_ms >= 0 ? c->rtt_ms / 2 : 20) + js.delay_ms + RL_MEDIA_FRAME_MS + RL_MEDIA_OPUS_LOOKAHEAD_MS;
	/* What the listener lost: frames concealed, after FEC rebuilt what it could. */
	em.loss_pct = c->frames ? 100.0 * (double)c->concealed / (double)c->frames : 0;
	em.burst_ratio = 1;
	q->mos = rl_emodel_mos(&em);
}

/* rl_media_insert puts a new call in and returns the one it replaces (same id), taken out for
 * the caller to free outside the lock; NULL if none. */
static struct rl_mcall *rl_media_insert(struct rl_media *m, struct rl_mcall *c)
{
	struct rl_mcall *old;
	size_t idx;

	if ((old = rl_find(m, c->leg.id, &idx)) != NULL)
		rl_media_remove_at(m, idx);
	if (m->ncalls == m->capcalls) {
		m->capcalls = m->capcalls ? m->capcalls * 2 : 16;
		m->calls = rl_realloc(m->calls, m->capcalls * sizeof(*m->calls));
	}
	m->calls[m->ncalls++] = c;
	m->ctr.calls = (uint32_t)m->ncalls;
	m->gen++;
	return old;
}

int rl_media_add(struct rl_media *m, const struct rl_media_leg *leg)
{
	struct rl_mcall *c, *old, *same;
	int rv;

	if (leg->src == NULL || leg->sink == NULL || (!leg->own_socket && m->fd < 0))
		return RL_EINVAL;
	if ((rv = rl_mcall_new(&c, leg)) != RL_OK)
		return rv;
	rl_media_lock(m);
	/* The shared socket tells calls apart by SSRC: one receiver per SSRC (the call being
	 * replaced may keep its own). */
	if (!leg->own_socket && (same = rl_find_ssrc(m, leg->rx_ssrc)) != NULL && strcmp(same->leg.id, leg->id) != 0) {
		pthread_mutex_unlock(&m->mu);
		rl_mcall_free(c);
		return RL_EEXIST;
	}
	old = rl_media_insert(m, c);
	c->leg.src = leg->src;
	c->leg.sink = leg->sink;
	if (old != NULL) {
		/* Same call, new plan: the audio goes on from where it was; the new plan's own
		 * source and sink are closed with the old call's husk. */
		c->leg.src = old->leg.src;
		c->leg.sink = old->leg.sink;
		c->t0_wall_us = old->t0_wall_us;
		c->frames = old->frames;
		old->leg.src = leg->src;
		old->leg.sink = leg->sink;
	}
	pthread_mutex_unlock(&m->mu);
	rl_mcall_free(old);
	rl_media_wake(m);
	return RL_OK;
}

int rl_media_add_local(struct rl_media *m, const char *id, unsigned rate, struct rl_audio_src *play,
                       struct rl_audio_sink *to, struct rl_audio_src *listen, struct rl_audio_sink *heard)
{
	struct rl_mcall *c, *old;

	if ((rate != 16000 && rate != 8000) || !rl_text_ok(id, RL_ID_MAX) || id[0] == 0)
		return RL_EINVAL;
	c = rl_calloc(1, sizeof(*c));
	snprintf(c->leg.id, sizeof(c->leg.id), "%s", id);
	c->local = 1;
	c->fd = -1;
	c->rtt_ms = -1;
	c->leg.rate = rate;
	c->samples = rate * RL_MEDIA_FRAME_MS / 1000;
	rl_media_lock(m);
	old = rl_media_insert(m, c);
	c->leg.src = play;
	c->leg.sink = to;
	c->listen = listen;
	c->heard = heard;
	pthread_mutex_unlock(&m->mu);
	rl_mcall_free(old);
	rl_media_wake(m);
	return RL_OK;
}

int rl_media_played(struct rl_media *m, const char *id)
{
	struct rl_mcall *c;
	int r;

	rl_media_lock(m);
	c = rl_find(m, id, NULL);
	r = c == NULL ? -1 : c->src_ended;
	pthread_mutex_unlock(&m->mu);
	return r;
}

int rl_media_has(struct rl_media *m, const char *id, uint32_t tx_ssrc)
{
	struct rl_mcall *c;
	int has;

	rl_media_lock(m);
	c = rl_find(m, id, NULL);
	has = c != NULL && c->leg.tx_ssrc == tx_ssrc;
	pthread_mutex_unlock(&m->mu);
	return has;
}

int rl_media_quality(struct rl_media *m, const char *id, struct rl_media_quality *q)
{
	struct rl_mcall *c;

	rl_media_lock(m);
	if ((c = rl_find(m, id, NULL)) != NULL)
		rl_mcall_quality(c, q);
	pthread_mutex_unlock(&m->mu);
	return c ? RL_OK : RL_ENOENT;
}

int rl_media_del(struct rl_media *m, const char *id, struct rl_media_quality *q)
{
	struct rl_mcall *c;
	size_t idx;

	rl_media_lock(m);
	if ((c = rl_find(m, id, &idx)) != NULL) {
		if (q)
			rl_mcall_quality(c, q);
		rl_media_remove_at(m, idx);
	}
	pthread_mutex_unlock(&m->mu);
	if (c == NULL)
		return RL_ENOENT;
	rl_media_wake(m);
	rl_mcall_free(c);
	return RL_OK;
}

void rl_media_each(struct rl_media *m, void (*fn)(void *arg, const char *id), void *arg)
{
	rl_media_lock(m);
	for (size_t i = 0; i < m->ncalls; i++)
		fn(arg, m->calls[i]->leg.id);
	pthread_mutex_unlock(&m->mu);
}

void rl_media_counters(struct rl_media *m, struct rl_media_counters *c)
{
	rl_media_lock(m);
	*c = m->ctr;
	pthread_mutex_unlock(&m->mu);
}

void rl_media_close(struct rl_media *m)
{
	if (m == NULL)
		return;
	rl_media_lock(m);
	m->running = 0;
	pthread_mutex_unlock(&m->mu);
	rl_media_wake(m);
	pthread_join(m->thread, NULL);
	for (size_t i = 0; i < m->ncalls; i++)
		rl_mcall_free(m->calls[i]);
	free(m->calls);
	if (m->fd >= 0)
		close(m->fd);
	close(m->wake[0]);
	close(m->wake[1]);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
