/*
 * relay.h - the hub's media relay: SRTP/SRTCP between the two legs of a call, for agents who
 * are not seated at the call's site.
 *
 * The relay never decrypts. Each call has two legs, A (the site node) and B (the agent);
 * the control plane hands each leg a random SSRC (unique among live relay calls), a latch
 * secret and the relay's address, and gives the relay both SSRCs and both secrets. A packet's
 * leg is found from its sender SSRC (RTP bytes 8..11, RTCP 4..7, latch packets 4..7). A leg
 * latches to the address of a latch packet that proves it (rl_latch.h: its SSRC, a MAC made
 * with the leg's secret, a counter above every one accepted before for the leg), and latches
 * again, at once, to the address of any later proof: the proof decides, never the address,
 * so an agent behind carrier-grade NAT or whose NAT mapping changes is followed, and a
 * stranger who knows the SSRC is not. The relay forwards A's RTP/RTCP to B's latched address
 * and back; latch packets are never forwarded.
 *
 * Everything else is dropped and counted, each kind apart: malformed, unknown SSRC, a latch
 * packet whose MAC is wrong (forged), a proof whose counter is not new (replayed), RTP/RTCP
 * from another address than its leg's latched one (or before the leg latched), the other leg
 * not latched yet. A call is released by rl_relay_del or when both legs have been silent for
 * idle_ms.
 *
 * A few shared UDP sockets (SO_REUSEPORT, one per thread) carry all calls; each thread
 * batches with recvmmsg/sendmmsg. rl_relay_add/del/stats are thread-safe and called from
 * the hub's engine thread.
 */
#ifndef RL_RELAY_H
#define RL_RELAY_H

#include <stdint.h>

#include "rl_latch.h"

struct rl_relay_conf {
	const char *listen;    /* "IP:port" to bind, e.g. "0.0.0.0:7500" (port 0: any) */
	const char *advertise; /* "IP:port" given to peers; NULL: the bound address */
	unsigned threads;      /* 1..16 */
	unsigned idle_ms;      /* release a call after this silence on both legs (e.g. 30000) */
	unsigned max_calls;    /* table size, e.g. 65536 */
};

struct rl_relay_counters {
	uint64_t rx, fwd, bytes;
	uint64_t proofs;            /* valid latch packets taken (never forwarded) */
	uint64_t drop_malformed;    /* not RTP/RTCP/latch-shaped, or over 1500 bytes */
	uint64_t drop_unknown;      /* no live leg has its SSRC */
	uint64_t drop_latch_bad;    /* a latch packet whose MAC is not the leg's (forged) */
	uint64_t drop_latch_replay; /* a valid proof whose counter is not above the last accepted */
	uint64_t drop_source;       /* RTP/RTCP from another address than its leg's latched one
	                             * (or a proof from the relay's own address) */
	uint64_t drop_unlatched;    /* the other leg has no address yet */
	uint64_t drop_send;
	uint64_t latched; /* a leg took a new address (first latch, or a proof from elsewhere) */
	uint64_t calls_added, calls_released, calls_idle;
	uint32_t calls; /* live now */
};

/* rl_relay_dropped: the sum of every drop counter of c. */
uint64_t rl_relay_dropped(const struct rl_relay_counters *c);

struct rl_relay;

/* rl_relay_open binds the sockets and starts the threads. Errors: RL_EINVAL (bad address),
 * RL_ENET (bind failed), RL_ENOMEM. */
int rl_relay_open(struct rl_relay **out, const struct rl_relay_conf *conf);

/* rl_relay_advertise: the "IP:port" peers send to (valid until close). */
const char *rl_relay_advertise(const struct rl_relay *r);

/* rl_relay_add creates call `id` with legs A (sends with ssrc_a, proves itself with the
 * RL_LATCH_KEY_LEN bytes of key_a) and B (ssrc_b, key_b). The keys are copied (and wiped
 * when the call is released). Errors: RL_EEXIST (id or an SSRC already live), RL_EFULL,
 * RL_EINVAL (a NULL key, equal SSRCs). */
int rl_relay_add(struct rl_relay *r, uint64_t id, uint32_t ssrc_a, uint32_t ssrc_b, const uint8_t *key_a,
                 const uint8_t *key_b);

/* rl_relay_ssrc_free: 1 if no live call uses ssrc (for choosing new ones). */
int rl_relay_ssrc_free(struct rl_relay *r, uint32_t ssrc);

/* rl_relay_del releases call id (no-op if unknown or already idle-released). */
void rl_relay_del(struct rl_relay *r, uint64_t id);

/* rl_relay_counters copies the counters (thread-safe, approximate under load). */
void rl_relay_counters(struct rl_relay *r, struct rl_relay_counters *out);

/* rl_relay_close stops the threads and frees everything (NULL is fine). */
void rl_relay_close(struct rl_relay *r);

#endif
