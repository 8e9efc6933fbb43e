/*
 * rl_srv.h - a listening link that speaks pair1 to its peers, on a thread of its own.
 *
 * Peers dial with ordinary nng pair1 sockets (rl_link_client_open) over tcp:// or tls+tcp://
 * (mutual TLS, rl_link.h). On the server's side nng 1.5.2's pair1 polyamorous socket hands
 * every message between its threads four or five times on the way in and three on the way
 * out, and its streams still two on the way in and one out (docs/protocol.md, "Listeners");
 * rl_srv reads each connection's bytes itself, with epoll, in as large pieces as arrive,
 * splits them into frames (SP's framing: an 8-byte big-endian length, pair1's 4-byte hop
 * count, the envelope or bundle) and hands them to the owner's rl_loop in one go, and writes
 * everything queued for a connection in one send.
 *
 * Each connection is a "pipe" with an id of its own (nonzero, not reused), as a pair1 pipe
 * is: messages carry it (nng_msg_get_pipe), replies go to it. The owner learns of a pipe's
 * end through rl_loop_post(tag_gone, id) and of a new one through on_new (the I/O thread).
 * What a peer sends that breaks the framing (a wrong SP header, a frame longer than
 * RL_WIRE_MAX_FRAME, a hop count over 255) closes its connection and is counted.
 *
 * Threads: the server's own I/O thread accepts, runs TLS handshakes, reads and parses, and
 * writes what a socket did not take at once; rl_srv_send (which writes at once),
 * rl_srv_close_pipe and rl_srv_peer_ip may be called from any one thread (the owner's loop).
 * TLS is mbedTLS's, driven here (the server's suites: ECDHE and AEAD only, docs/protocol.md).
 */
#ifndef RL_SRV_H
#define RL_SRV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rl_link.h"
#include "rl_loop.h"

struct rl_srv;

struct rl_srv_conf {
	struct rl_loop *loop;
	int tag_msg;                              /* RL_LOOP_MSG events: one frame each, its pipe set */
	int tag_gone;                             /* RL_LOOP_POST events: ptr = (uintptr_t)pipe id, once per pipe */
	void (*on_new)(void *arg, uint32_t pipe); /* optional; nng's thread */
	void *arg;
	size_t max_backlog; /* bytes queued to one pipe beyond which sends are dropped */
	unsigned hello_ms;  /* > 0: a pipe silent this long is closed (rl_srv_greet) */
};

struct rl_srv_counters {
	uint64_t accepted, closed;
	uint64_t bad_header; /* not an SP pair1 peer */
	uint64_t oversized;  /* a frame longer than RL_WIRE_MAX_FRAME */
	uint64_t malformed;  /* a frame shorter than its hop count, or a hop count over 255 */
	uint64_t send_drops; /* frames not queued: the pipe's backlog was full */
	uint64_t tls_failed; /* TLS handshakes refused (no certificate, not the CA's), or records broken */
	uint64_t resets;     /* connections reset or closed by their peer half-way through a TLS handshake */
};

/* rl_srv_open: a server delivering into c->loop (which must outlive it). */
int rl_srv_open(struct rl_srv **out, const struct rl_srv_conf *c);

/* rl_srv_listen listens on url (tcp:// or tls+tcp://, tls needed for the latter).
 * Errors: RL_ENET, RL_ECONFIG. */
int rl_srv_listen(struct rl_srv *s, const char *url, const struct rl_tls *tls);

/* rl_srv_send queues one frame (len bytes) to pipe. Errors: RL_ENOENT (pipe gone), RL_EAGAIN
 * (its backlog is full: dropped, counted), RL_ETOOBIG (with pair1's hop count, longer than
 * RL_WIRE_MAX_FRAME, which a peer's nng refuses). */
int rl_srv_send(struct rl_srv *s, uint32_t pipe, const void *buf, size_t len);

/* rl_srv_bundle_send is rl_srv_send as a bundler's send function (rl_bundle.h; arg: the
 * rl_srv): a frame for a pipe that has just gone - its end not yet seen by the owner, which
 * its gone event tells next - has nowhere to go and is not a drop; a full pipe's is. */
int rl_srv_bundle_send(void *srv, uint32_t pipe, const void *buf, size_t len);

/* rl_srv_greet: the watch of its pipes' Hello (rl_greet.h, with hello_ms; NULL without),
 * which the owner sweeps from its thread with its own judgement of who said Hello. */
struct rl_greet *rl_srv_greet(struct rl_srv *s);

/* rl_srv_close_pipe closes pipe (its gone event follows). Errors: RL_ENOENT. */
int rl_srv_close_pipe(struct rl_srv *s, uint32_t pipe);

/* rl_srv_peer_ip: pipe's remote address, port 0. Errors: RL_ENOENT. */
int rl_srv_peer_ip(struct rl_srv *s, uint32_t pipe, struct sockaddr_storage *ss);

void rl_srv_counters(struct rl_srv *s, struct rl_srv_counters *c);

/*
 * rl_srv_frame reads what comes next in a pipe's received bytes buf[0..len), got_header
 * saying whether the peer's SP header was taken already. It returns RL_SRV_NEED (more bytes
 * are needed), RL_SRV_HEADER (the SP header of a pair1 peer), RL_SRV_FRAME (a message:
 * *body, *blen), RL_SRV_HOPS_DROP (a message pair1 drops for its hop count), each with *used
 * the bytes it took; or, the connection to be cut, RL_SRV_BAD_HEADER (not SP pair1),
 * RL_SRV_OVERSIZED (a frame announced longer than RL_WIRE_MAX_FRAME), RL_SRV_MALFORMED (a
 * frame shorter than its hop count, or a hop count over 255). Pure: fuzz_srv drives it.
 */
enum {
	RL_SRV_MALFORMED = -3,
	RL_SRV_OVERSIZED = -2,
	RL_SRV_BAD_HEADER = -1,
	RL_SRV_NEED = 0,
	RL_SRV_HEADER = 1,
	RL_SRV_FRAME = 2,
	RL_SRV_HOPS_DROP = 3,
};
int rl_srv_frame(const uint8_t *buf, size_t len, int got_header, size_t *used, const uint8_t **body, size_t *blen);

/* rl_srv_close stops listening, closes every pipe (no gone events) and frees s. */
void rl_srv_close(struct rl_srv *s);

#endif
