/*
 * rl_client.h - the dialing end of a link: hello, reliable requests, heartbeats.
 *
 * Used by the agent client, the node (towards the hub) and relaisctl. The client owns one
 * pair1 socket added to the caller's rl_loop under `tag`. It:
 *   - sends Hello{role, site_id, name} on every new pipe and holds all requests until the
 *     HelloOk arrives (a restarted hub learns who we are before anything else); when the
 *     HelloOk carries a challenge, says Hello again with the proof of its key (rl_key.h);
 *   - keeps each request (with its req_id) until its reply arrives, re-sending it every
 *     RL_CLIENT_RESEND_MS on the same req_id; the server makes repeats harmless;
 *   - sends a Heartbeat every RL_HEARTBEAT_MS and reports the link down after
 *     RL_LINK_DEAD_MS of silence;
 *   - replaces its dialer when the link has been silent, or has not come up (no HelloOk),
 *     for RL_LINK_DEAD_MS: a half-dead connection or a dialer that stopped retrying never
 *     keeps a site or an agent away from the hub;
 *   - given several endpoints (url "A,B,..."), dials the next one each time it replaces its
 *     dialer, and stays on whichever answers: an agent whose node is gone reaches the hub
 *     (after the last endpoint, the first again). With several, a closed pipe (the server's
 *     process gone) moves it to the next one at once rather than after RL_LINK_DEAD_MS;
 *   - answered Error{ERR_NOT_LEADER, leader} at Hello (a hub standing by), dials the leader if
 *     leader is one of its endpoints, else the next endpoint - never an address it was not
 *     given - and holds its requests until a HelloOk. Moves for a closed pipe or a standby's
 *     answer come at most once each RL_CLIENT_MOVE_MS.
 * Not thread-safe: call everything from the loop's thread.
 */
#ifndef RL_CLIENT_H
#define RL_CLIENT_H

#include <stdint.h>

#include "rl_key.h"
#include "rl_link.h"
#include "rl_loop.h"

#define RL_CLIENT_RESEND_MS   1000
#define RL_CLIENT_MAX_PENDING 65536
/* The least time between two moves to another endpoint for a closed pipe or a standing-by
 * hub's answer: hubs that all stand by (no leader yet) are not dialled in a tight loop. */
#define RL_CLIENT_MOVE_MS 250
/* With several endpoints: a dialer that has not connected (no pipe) within this is replaced by
 * one for the next endpoint (a hub that is down refuses, it never answers). */
#define RL_CLIENT_CONNECT_MS 1000
/* Endpoints whose loss is remembered (a standby naming a lost leader is waited on). */
#define RL_CLIENT_GONE_SLOTS 8

struct rl_client;

struct rl_client_opts {
	const char *url;          /* the server, or several "URL,URL,..." in order of preference */
	const struct rl_tls *tls; /* required for tls+tcp:// */
	int role;                 /* RELAIS__ROLE__ROLE_* */
	const char *site_id;      /* nodes: their site */
	const char *name;         /* for the server's logs */
	const char *principal;    /* tools: the operator's id */
	const struct rl_key *key; /* nodes and tools: the key proven at Hello (copied); NULL: none */
	/* Heartbeats carry this session (agents: their session, 0 before login). */
	uint64_t hb_session;
	/* Heartbeat period (0: RL_HEARTBEAT_MS). A node beats faster: the hub judges its site
	 * lost after 2.5 s of silence. */
	unsigned hb_ms;
	/* Called once each link is ready (HelloOk), before the pending requests go out again:
	 * what must reach the server first on a link (a node's SiteRegister) is sent here. */
	void (*on_ready)(void *arg);
	void *ready_arg;
};

/* rl_client_open opens the socket, dials (the first endpoint) and registers with loop. Errors:
 * RL_EINVAL (an endpoint is empty or not a URL), RL_ENET, RL_EFULL (the loop has no room for
 * another socket). */
int rl_client_open(struct rl_client **out, const struct rl_client_opts *o, struct rl_loop *loop, int tag);

/* rl_client_set_session changes the session carried by heartbeats (0 = none). */
void rl_client_set_session(struct rl_client *c, uint64_t session);

/*
 * rl_client_request sends env as a request: assigns env->req_id (returned in *req_id if
 * not NULL), keeps an encoded copy and re-sends it until rl_client_input sees the reply.
 * cookie comes back with the reply. Errors: RL_ETOOBIG, RL_EFULL.
 */
int rl_client_request(struct rl_client *c, rl_env *env, void *cookie, uint64_t *req_id);

/* rl_client_cancel forgets a pending request (no reply will be matched). */
void rl_client_cancel(struct rl_client *c, uint64_t req_id);

/*
 * rl_client_send sends env once, unreliably (relay traffic, pushes). Dropped while the
 * link is not ready. Errors: RL_EAGAIN (not ready or backlog), RL_ETOOBIG.
 */
int rl_client_send(struct rl_client *c, rl_env *env);

/*
 * rl_client_input consumes msg (frees it) received on the client's tag. Returns:
 *   RL_OK with *env set (caller frees with rl_wire_free) for a message the caller must
 *   handle; if it answers a pending request, *cookie is that request's cookie and
 *   *is_reply is 1 (the pending request is removed);
 *   RL_EAGAIN when the message was handled inside (HelloOk; heartbeat answers for
 *   session 0 — an agent's heartbeat answers are returned, they carry its state): *env NULL;
 *   a decode error (counted; *env NULL).
 * Any received frame counts as life on the link.
 */
int rl_client_input(struct rl_client *c, nng_msg *msg, rl_env **env, void **cookie, int *is_reply);

/*
 * rl_client_cork collects what c sends from now on (requests, re-sends, rl_client_send) and
 * rl_client_flush sends the collection as one Bundle (in frames of at most 64 KiB; a lone
 * frame as is) and stops collecting. A loop that corks while it handles a batch of events
 * sends the server one message per batch instead of one per frame: the server's I/O threads
 * and the switches to its engine are paid per message. rl_client_flush returns the frames
 * that could not be sent (requests among them go again on their re-send timer).
 */
void rl_client_cork(struct rl_client *c);
unsigned rl_client_flush(struct rl_client *c);

/* rl_client_tick sends due re-sends, hellos and heartbeats. Call every <= 100 ms. */
void rl_client_tick(struct rl_client *c);

/* rl_client_up: 1 when hello is done and the server was heard within RL_LINK_DEAD_MS. */
int rl_client_up(const struct rl_client *c);

/* rl_client_heard_within: 1 when hello is done and the server was heard within ms. */
int rl_client_heard_within(const struct rl_client *c, unsigned ms);

/* A link silent for RL_CLIENT_RESUME_MS that is heard again has resumed: what comes first is
 * what the server said while we did not hear it (we were stopped, or the network held it),
 * and may be stale by then. rl_client_resumed_within: 1 if it last resumed within ms. */
#define RL_CLIENT_RESUME_MS 1500
int rl_client_resumed_within(const struct rl_client *c, unsigned ms);

/* rl_client_rtt_us: last heartbeat round-trip time (0 = unknown). */
uint64_t rl_client_rtt_us(const struct rl_client *c);

/* rl_client_pending: number of requests awaiting replies. */
unsigned rl_client_pending(const struct rl_client *c);

/* rl_client_generation: increases each time the link becomes ready (hello answered). */
unsigned rl_client_generation(const struct rl_client *c);
/* rl_client_url: the endpoint dialled now (owned by the client, valid until the next tick);
 * rl_client_endpoint: its place in the list (0: the first). */
const char *rl_client_url(const struct rl_client *c);
unsigned rl_client_endpoint(const struct rl_client *c);

/* rl_client_redials: how many times the dialer was replaced (link silent or never up, or its
 * pipe closed with another endpoint to go to). */
unsigned rl_client_redials(const struct rl_client *c);

/* rl_client_redirects: how many times a standing-by hub's answer (ERR_NOT_LEADER) sent the
 * client to another endpoint. */
unsigned rl_client_redirects(const struct rl_client *c);

/* rl_client_each_pending calls fn for the cookie of every unanswered request (cleanup). */
void rl_client_each_pending(struct rl_client *c, void (*fn)(void *cookie, void *arg), void *arg);

/* rl_client_take_pending forgets, unanswered, every pending request whose cookie (and req_id)
 * take claims (returns 1 for): its caller answers it some other way. A reply that still comes
 * for it is returned by rl_client_input as not a reply. Returns how many. */
unsigned rl_client_take_pending(struct rl_client *c, int (*take)(void *cookie, uint64_t req_id, void *arg), void *arg);

void rl_client_close(struct rl_client *c);

/* rl_client_close_nowait closes c's socket in the background and returns at once: for a link
 * to a peer that may have died, whose close nng 1.5.2 can hold for seconds (a standby hub
 * taking over). c is not freed (left among the closes nng may still be finishing); the
 * caller must not receive on its loop tag any more. */
void rl_client_close_nowait(struct rl_client *c);

#endif
