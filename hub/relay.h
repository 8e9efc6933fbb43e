/*
 * relay.h - the hub's media relay: SRTP/SRTCP between the two legs of a call, for agents who
 * are not seated at the call's site.
 *
 * The relay never decrypts. Each call has two legs, A (the site node) and B (the agent);
 * the control plane hands each leg a random SSRC (unique among live relay calls) and the
 * relay's address. A packet's leg is found from its sender SSRC (RTP bytes 8..11, RTCP
 * 4..7). A leg latches to the address of its first packet (only from the expected IP when
 * one is given) and the relay forwards A's packets to B's latched address and back.
 * Everything else is dropped and counted: malformed, unknown SSRC, wrong source after latch,
 * other leg not latched yet. A call is released by rl_relay_del or when both legs have been
 * silent for idle_ms.
 *
 * A few shared UDP sockets (SO_REUSEPORT, one per thread) carry all calls; each thread
 * batches with recvmmsg/sendmmsg. rl_relay_add/del/stats are thread-safe and called from
 * the hub's engine thread.
 */
#ifndef RL_RELAY_H
#define RL_RELAY_H

#include <stdint.h>
#include <sys/socket.h>

struct rl_relay_conf {
	const char *listen;    /* "IP:port" to bind, e.g. "0.0.0.0:7500" (port 0: any) */
	const char *advertise; /* "IP:port" given to peers; NULL: the bound address */
	unsigned threads;      /* 1..16 */
	unsigned idle_ms;      /* release a call after this silence on both legs (e.g. 30000) */
	unsigned max_calls;    /* table size, e.g. 65536 */
};

struct rl_relay_counters {
	uint64_t rx, fwd, bytes;
	uint64_t drop_malformed, drop_unknown, drop_source, drop_unlatched, drop_send;
	uint64_t latched, calls_added, calls_released, calls_idle;
	uint32_t calls; /* live now */
};

struct rl_relay;

/* rl_relay_open binds the sockets and starts the threads. Errors: RL_EINVAL (bad address),
 * RL_ENET (bind failed), RL_ENOMEM. */
int rl_relay_open(struct rl_relay **out, const struct rl_relay_conf *conf);

/* rl_relay_advertise: the "IP:port" peers send to (valid until close). */
const char *rl_relay_advertise(const struct rl_relay *r);

/* rl_relay_add creates call `id` with legs A (sends with ssrc_a) and B (ssrc_b).
 * ip_a / ip_b: if non-NULL (sockaddr_in or sockaddr_in6, port ignored), a leg latches only
 * from that IP. Errors: RL_EEXIST (id or an SSRC already live), RL_EFULL, RL_EINVAL. */
int rl_relay_add(struct rl_relay *r, uint64_t id, uint32_t ssrc_a, uint32_t ssrc_b, const struct sockaddr *ip_a,
                 const struct sockaddr *ip_b);

/* rl_relay_ssrc_free: 1 if no live call uses ssrc (for choosing new ones). */
int rl_relay_ssrc_free(struct rl_relay *r, uint32_t ssrc);

/* rl_relay_del releases call id (no-op if unknown or already idle-released). */
void rl_relay_del(struct rl_relay *r, uint64_t id);

/* rl_relay_counters copies the counters (thread-safe, approximate under load). */
void rl_relay_counters(struct rl_relay *r, struct rl_relay_counters *out);

/* rl_relay_close stops the threads and frees everything (NULL is fine). */
void rl_relay_close(struct rl_relay *r);

#endif
