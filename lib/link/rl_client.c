#include "rl_client.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_bundle.h"
#include "rl_err.h"
#include "rl_key.h"
#include "rl_log.h"
#include "rl_time.h"

#define RL_CLIENT_BUCKETS 4096 /* power of two */

struct rl_pending {
	struct rl_pending *next;
	uint64_t req_id;
	uint8_t *buf;
	size_t len;
	void *cookie;
	uint64_t next_us;
	unsigned tries;
};

struct rl_client {
	nng_socket sock;
	const char *url; /* the endpoint dialled now: one of urls */
	char *urls;      /* every endpoint, NUL-separated, in order of preference */
	unsigned nurls;  /* how many */
	unsigned cur;    /* which one url is */
	struct rl_tls tls;
	struct rl_loop *loop;
	uint64_t redial_us; /* last time the link was started again */
	uint64_t down_us;   /* when the link last stopped being ready (or was opened) */
	unsigned redials;
	unsigned redirects;
	int move_why;        /* enum rl_client_move: a move decided, done once RL_CLIENT_MOVE_MS allow */
	unsigned move_to;    /* the endpoint it goes to */
	int not_leader_said; /* "not the leader" logged since the last move or HelloOk */
	/* When each endpoint (the first RL_CLIENT_GONE_SLOTS) last closed on us or took no
	 * connection: a standby that still names it as the leader is waited on, not left. */
	uint64_t gone_us[RL_CLIENT_GONE_SLOTS];
	int await_leader; /* staying on a standby until a leader is elected: Hello more often */
	nng_dialer dialer;
	int role;
	char site_id[RL_WIRE_MAX_ID + 1];
	char name[RL_WIRE_MAX_TEXT + 1];
	char principal[RL_WIRE_MAX_ID + 1]; /* tools: the operator's id */
	struct rl_key key;                  /* the key proven at Hello (nodes, tools) */
	int has_key;
	unsigned proof_refusals; /* in a row: logged at the first, then quiet */
	uint64_t hb_session;
	unsigned hb_ms;
	void (*on_ready)(void *arg);
	void *ready_arg;

	atomic_uint pipe_events; /* bumped by nng's pipe callback thread */
	atomic_int closed_sock;  /* set there too: the id of the socket whose pipe was removed */
	atomic_int opened_sock;  /* ... and of the last socket that got a pipe */
	unsigned pipe_seen;
	int ready; /* HelloOk received on the current pipe */
	unsigned generation;
	uint64_t hello_req;
	uint64_t hello_sent_us;
	uint64_t last_rx_us;
	uint64_t resumed_us; /* heard after RL_CLIENT_RESUME_MS of silence, last at (0: never) */
	uint64_t last_hb_us;
	uint64_t rtt_us;

	struct rl_pending *buckets[RL_CLIENT_BUCKETS];
	unsigned npending;

	struct rl_bundler *out; /* while corked: what is sent, until rl_client_flush */
	int corked;
};

/* Why the client leaves the endpoint it dials for another (rl_client_move). */
enum rl_client_move {
	RL_CLIENT_STAY = 0,
	RL_CLIENT_CLOSED,   /* its pipe closed: the server went away */
	RL_CLIENT_REDIRECT, /* a standing-by hub answered our Hello: not the leader */
};

/* nng calls this on a thread of its own: it only leaves marks the loop's tick reads. The
 * removed pipe's socket is kept, not a count, so that a late event from a socket the client
 * has already replaced cannot move it off the endpoint it went to since. */
static void rl_client_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct rl_client *c = arg;

	if (ev == NNG_PIPE_EV_REM_POST)
		atomic_store(&c->closed_sock, nng_socket_id(nng_pipe_socket(p)));
	else
		atomic_store(&c->opened_sock, nng_socket_id(nng_pipe_socket(p)));
	atomic_fetch_add(&c->pipe_events, 1);
}

/* rl_client_watch makes s report its pipes coming and going to c (c NULL: to nobody). */
static void rl_client_watch(nng_socket s, struct rl_client *c)
{
	nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, c ? rl_client_pipe_cb : NULL, c);
	nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, c ? rl_client_pipe_cb : NULL, c);
}

/* rl_client_down: the link stops being ready now (the time it went down is kept for the
 * re-dial rule and the log). */
static void rl_client_down(struct rl_client *c, uint64_t now)
{
	if (c->ready)
		c->down_us = now;
	c->ready = 0;
}

/* rl_client_endpoints splits list ("URL[,URL...]") into c's endpoints; RL_EINVAL if one is
 * empty or not a URL nng can dial. */
static int rl_client_endpoints(struct rl_client *c, const char *list)
{
	size_t len = strlen(list);

	c->urls = rl_strdup(list);
	c->nurls = 1;
	for (size_t i = 0; i < len; i++)
		if (c->urls[i] == ',') {
			c->urls[i] = '\0';
			c->nurls++;
		}
	c->url = c->urls;
	for (const char *u = c->urls; u < c->urls + len + 1; u += strlen(u) + 1) {
		nng_url *parsed;
		if (u[0] == '\0' || nng_url_parse(&parsed, u) != 0) {
			rl_log(RL_LOG_ERR, "not a url to dial url=\"%s\"", u);
			return RL_EINVAL;
		}
		nng_url_free(parsed);
	}
	return RL_OK;
}

/* rl_client_nth: endpoint i (< nurls), owned by c. */
static const char *rl_client_nth(const struct rl_client *c, unsigned i)
{
	const char *u = c->urls;

	while (i-- > 0)
		u += strlen(u) + 1;
	return u;
}

/* rl_client_goto makes endpoint i (< nurls) the one dialled from now on. */
static void rl_client_goto(struct rl_client *c, unsigned i)
{
	c->cur = i;
	c->url = rl_client_nth(c, i);
}

/* rl_client_next moves to the next endpoint (after the last: the first again). */
static void rl_client_next(struct rl_client *c)
{
	const char *from = c->url;

	if (c->nurls < 2)
		return;
	rl_client_goto(c, (c->cur + 1) % c->nurls);
	rl_log(RL_LOG_WARNING, "link moves to another endpoint from=%s url=%s", from, c->url);
}

int rl_client_open(struct rl_client **out, const struct rl_client_opts *o, struct rl_loop *loop, int tag)
{
	struct rl_client *c = rl_calloc(1, sizeof(*c));
	int rv;

	c->role = o->role;
	c->hb_session = o->hb_session;
	c->hb_ms = o->hb_ms ? o->hb_ms : RL_HEARTBEAT_MS;
	c->on_ready = o->on_ready;
	c->ready_arg = o->ready_arg;
	snprintf(c->site_id, sizeof(c->site_id), "%s", o->site_id ? o->site_id : "");
	snprintf(c->name, sizeof(c->name), "%s", o->name ? o->name : "");
	snprintf(c->principal, sizeof(c->principal), "%s", o->principal ? o->principal : "");
	if (o->key != NULL) {
		c->key = *o->key;
		c->has_key = 1;
	}
	if ((rv = rl_client_endpoints(c, o->url)) != RL_OK || (rv = rl_link_client_open(&c->sock)) != RL_OK) {
		free(c->urls);
		free(c);
		return rv;
	}
	rl_client_watch(c->sock, c);
	if ((rv = rl_loop_add_socket(loop, c->sock, tag)) != RL_OK)
		goto fail;
	c->loop = loop;
	if (o->tls != NULL)
		c->tls = *o->tls; /* the caller keeps the path strings alive */
	if ((rv = rl_link_dial(c->sock, c->url, o->tls, &c->dialer)) != RL_OK)
		goto fail;
	c->down_us = c->redial_us = rl_mono_us();
	*out = c;
	return RL_OK;
fail:
	nng_close(c->sock);
	free(c->urls);
	free(c);
	return rv;
}

void rl_client_set_session(struct rl_client *c, uint64_t session)
{
	c->hb_session = session;
}

/* Ready: hello answered on the current pipe, and no pipe came or went since. */
static int rl_client_ready(struct rl_client *c)
{
	return c->ready && atomic_load(&c->pipe_events) == c->pipe_seen;
}

static struct rl_pending **rl_client_slot(struct rl_client *c, uint64_t req_id)
{
	struct rl_pending **pp = &c->buckets[(req_id ^ (req_id >> 17)) & (RL_CLIENT_BUCKETS - 1)];

	while (*pp != NULL && (*pp)->req_id != req_id)
		pp = &(*pp)->next;
	return pp;
}

static int rl_client_send_raw(struct rl_client *c, const uint8_t *buf, size_t len)
{
	if (c->corked && rl_bundler_add(c->out, 0, buf, len) == RL_OK)
		return RL_OK;
	return rl_link_send_bytes(c->sock, 0, buf, len) == RL_OK ? RL_OK : RL_EAGAIN;
}

int rl_client_request(struct rl_client *c, rl_env *env, void *cookie, uint64_t *req_id)
{
	struct rl_pending *p;
	int rv;

	if (c->npending >= RL_CLIENT_MAX_PENDING)
		return RL_EFULL;
	p = rl_calloc(1, sizeof(*p));
	env->req_id = rl_link_new_req_id();
	if ((rv = rl_wire_encode(env, &p->buf, &p->len)) != RL_OK) {
		free(p);
		return rv;
	}
	p->req_id = env->req_id;
	p->cookie = cookie;
	*rl_client_slot(c, p->req_id) = p;
	c->npending++;
	if (req_id != NULL)
		*req_id = p->req_id;
	/* Send now if the link is ready; otherwise the next hello completion sends it. */
	if (rl_client_ready(c) && rl_client_send_raw(c, p->buf, p->len) == RL_OK) {
		p->tries = 1;
		p->next_us = rl_mono_us() + RL_CLIENT_RESEND_MS * 1000u;
	}
	/* else next_us stays 0: the next tick (or hello completion) sends it. */
	return RL_OK;
}

static void rl_pending_free(struct rl_pending *p)
{
	free(p->buf);
	free(p);
}

void rl_client_cancel(struct rl_client *c, uint64_t req_id)
{
	struct rl_pending **pp = rl_client_slot(c, req_id), *p = *pp;

	if (p != NULL) {
		*pp = p->next;
		c->npending--;
		rl_pending_free(p);
	}
}

int rl_client_send(struct rl_client *c, rl_env *env)
{
	uint8_t *buf;
	size_t len;
	int rv;

	if (!rl_client_ready(c))
		return RL_EAGAIN;
	if ((rv = rl_wire_encode(env, &buf, &len)) != RL_OK)
		return rv;
	rv = rl_client_send_raw(c, buf, len);
	free(buf);
	return rv;
}

/* rl_client_send_hello says who we are; with challenge (the server's, from its HelloOk) it
 * carries the proof of our key. */
static void rl_client_send_hello(struct rl_client *c, uint64_t now, const uint8_t *challenge)
{
	Relais__Hello h = RELAIS__HELLO__INIT;
	uint8_t proof[RL_KEY_SIG];
	rl_env env;

	rl_env_init(&env);
	h.role = (Relais__Role)c->role;
	h.site_id = c->site_id;
	h.name = c->name;
	h.principal = c->principal;
	if (challenge != NULL && c->has_key) {
		rl_key_prove(&c->key, challenge, c->role,
		             c->role == RELAIS__ROLE__ROLE_NODE ? c->site_id : c->principal, proof);
		h.proof.data = proof;
		h.proof.len = sizeof(proof);
	}
	env.body_case = RELAIS__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	c->hello_req = env.req_id = rl_link_new_req_id();
	c->hello_sent_us = now;
	uint8_t *buf;
	size_t len;
	if (rl_wire_encode(&env, &buf, &len) == RL_OK) {
		rl_client_send_raw(c, buf, len);
		free(buf);
	}
}

/* rl_client_challenged: the server wants our key's proof of its challenge. */
static void rl_client_challenged(struct rl_client *c, uint64_t now, const ProtobufCBinaryData *challenge)
{
	if (!c->has_key || challenge->len != RL_KEY_CHALLENGE) {
		if (c->proof_refusals++ == 0)
			rl_log(RL_LOG_ERR, "server wants a key proof and we have no key url=%s", c->url);
		return;
	}
	rl_client_send_hello(c, now, challenge->data);
}

static void rl_client_send_heartbeat(struct rl_client *c, uint64_t now)
{
	Relais__Heartbeat hb = RELAIS__HEARTBEAT__INIT;
	rl_env env;

	rl_env_init(&env);
	hb.sent_us = now;
	env.session = c->hb_session;
	env.body_case = RELAIS__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	c->last_hb_us = now;
	rl_client_send(c, &env);
}

/* A client's close gets RL_CLIENT_CLOSE_MS (rl_link_close: nng 1.5.2's close can wait
 * forever); past it the client is left to nng (kept reachable, its callback may still run)
 * and the caller goes on. */
#define RL_CLIENT_CLOSE_MS 3000

static struct rl_client *rl_client_abandoned[16]; /* left to a wedged nng close */
static atomic_uint rl_client_nabandoned;

/* rl_client_restart starts the link again, to c->url, on a fresh socket: a pair socket keeps
 * preferring a pipe it still holds, and with nng 1.5.2 a pipe cut during a server's crash can
 * stay half-closed for good, so a new dialer on the same socket would never get through. The
 * old socket is closed in the background; the Hello on the next pipe binds us at the server
 * again, and pending requests are re-sent after it. */
static void rl_client_restart(struct rl_client *c, uint64_t now)
{
	nng_socket s = NNG_SOCKET_INITIALIZER;
	int fresh;

	rl_client_down(c, now);
	c->redial_us = now;
	c->move_why = RL_CLIENT_STAY;
	c->not_leader_said = 0;
	c->hello_req = 0; /* what answers a Hello said on the old socket answers nothing now */
	fresh = rl_link_client_open(&s) == RL_OK;
	if (fresh && rl_loop_swap_socket(c->loop, c->sock, s) == RL_OK) {
		rl_client_watch(c->sock, NULL);
		rl_link_close(c->sock, 0);
		rl_client_watch(s, c);
		c->sock = s;
		atomic_fetch_add(&c->pipe_events, 1); /* say Hello first on the new link */
	} else {
		/* No fresh socket: at least a fresh dialer on this one. */
		if (fresh)
			nng_close(s);
		nng_dialer_close(c->dialer);
	}
	rl_link_dial(c->sock, c->url, c->tls.ca_file ? &c->tls : NULL, &c->dialer);
}

/* rl_client_redial gives up on the endpoint in use (why: for how many ms) and starts the link
 * again to the next one. */
static void rl_client_redial(struct rl_client *c, uint64_t now, const char *why, uint64_t ms)
{
	c->redials++;
	rl_log(RL_LOG_WARNING, "link %s url=%s ms=%llu: re-dialling", why, c->url, (unsigned long long)ms);
	rl_client_next(c);
	rl_client_restart(c, now);
}

/* rl_client_moving makes a move decided (a closed pipe, a standing-by hub's answer) once
 * RL_CLIENT_MOVE_MS have passed since the link was last started again: a cluster whose hubs
 * all stand by (no leader elected yet) is dialled in turn at that pace, not in a tight loop.
 * Returns 1 while a move waits or when one was just made: nothing else is due to the
 * endpoint being left. */
static int rl_client_moving(struct rl_client *c, uint64_t now)
{
	if (c->move_why == RL_CLIENT_STAY)
		return 0;
	if (now - c->redial_us < RL_CLIENT_MOVE_MS * 1000u)
		return 1;
	if (c->move_why == RL_CLIENT_CLOSED) {
		rl_client_redial(c, now, "closed", (now - c->last_rx_us) / 1000u);
		return 1;
	}
	c->redirects++;
	rl_client_goto(c, c->move_to);
	rl_client_restart(c, now);
	return 1;
}

/* rl_client_check_closed: the pipe of the socket in use was removed - the server's process is
 * gone, or it dropped us. nng's dialer would go on dialling that endpoint; a client with
 * another one moves there now instead of after RL_LINK_DEAD_MS. With one endpoint nothing
 * changes: nng dials it again and the Hello follows. */
static void rl_client_check_closed(struct rl_client *c, uint64_t now)
{
	int id = atomic_exchange(&c->closed_sock, 0);

	if (id <= 0 || id != nng_socket_id(c->sock) || c->nurls < 2 || c->move_why != RL_CLIENT_STAY)
		return;
	if (c->cur < RL_CLIENT_GONE_SLOTS)
		c->gone_us[c->cur] = now;
	rl_client_down(c, now);
	c->move_why = RL_CLIENT_CLOSED;
}

/* rl_client_not_leader: the hub dialled stands by; leader is where it says the leader listens
 * ("" if it does not know). The client goes there if that is one of its own endpoints - a
 * hub's answer never makes it dial an address it was not given - else to the next one. With
 * one endpoint it stays and says Hello again each RL_CLIENT_RESEND_MS until that hub leads.
 * Pending requests wait for the HelloOk, wherever it comes from. */
static void rl_client_not_leader(struct rl_client *c, uint64_t now, const char *leader)
{
	unsigned to = (c->cur + 1) % c->nurls;

	rl_client_down(c, now);
	for (unsigned i = 0; i < c->nurls; i++)
		if (i != c->cur && strcmp(rl_client_nth(c, i), leader) == 0)
			to = i;
	if (c->move_why != RL_CLIENT_STAY)
		return; /* already on its way */
	/* The leader it names has just gone from under us (its process died, its host is down):
	 * this hub is the likeliest next leader; say Hello again soon instead of going round. */
	c->await_leader =
	    to < RL_CLIENT_GONE_SLOTS && c->gone_us[to] != 0 && now - c->gone_us[to] < RL_LINK_DEAD_MS * 1000u;
	if (c->await_leader)
		to = c->cur;
	if (!c->not_leader_said) {
		c->not_leader_said = 1;
		rl_log(RL_LOG_NOTICE, "hub is not the leader url=%s leader=\"%.*s\" to=%s", c->url, 200, leader,
		       rl_client_nth(c, to));
	}
	if (to == c->cur)
		return;
	c->move_why = RL_CLIENT_REDIRECT;
	c->move_to = to;
	rl_client_moving(c, now);
}

void rl_client_tick(struct rl_client *c)
{
	uint64_t now = rl_mono_us();
	unsigned ev;

	rl_client_check_closed(c, now);
	if (rl_client_moving(c, now))
		return;
	ev = atomic_load(&c->pipe_events);
	if (ev != c->pipe_seen) {
		/* A pipe came or went: whoever is at the other end must hear Hello first. */
		c->pipe_seen = ev;
		rl_client_down(c, now);
		rl_client_send_hello(c, now, NULL);
	}
	if (!c->ready) {
		uint64_t since = c->down_us > c->redial_us ? c->down_us : c->redial_us;
		/* With other endpoints to try, one that takes no connection at all (its host
		 * refuses or drops it: a dead hub) is left after RL_CLIENT_CONNECT_MS. */
		int unreached = c->nurls > 1 && atomic_load(&c->opened_sock) != nng_socket_id(c->sock) &&
		                now - c->redial_us >= RL_CLIENT_CONNECT_MS * 1000u;
		if (unreached || now - since >= RL_LINK_DEAD_MS * 1000u) {
			/* No HelloOk for that long, whatever the reason (server down, a connection
			 * attempt that never completes, a dialer that stopped retrying after a
			 * handshake cut short): start over with a fresh dialer. */
			if (unreached && c->cur < RL_CLIENT_GONE_SLOTS)
				c->gone_us[c->cur] = now;
			rl_client_redial(c, now, unreached ? "unreached" : "not up", (now - since) / 1000u);
			return;
		}
		if (now - c->hello_sent_us >= (c->await_leader ? RL_CLIENT_MOVE_MS : RL_CLIENT_RESEND_MS) * 1000u)
			rl_client_send_hello(c, now, NULL);
		return;
	}
	if (now - c->last_rx_us >= RL_LINK_DEAD_MS * 1000u && now - c->redial_us >= RL_LINK_DEAD_MS * 1000u) {
		/* The pipe looks alive to TCP but nothing comes back (NAT or WAN dropped it
		 * silently). */
		rl_client_redial(c, now, "silent", (now - c->last_rx_us) / 1000u);
		return;
	}
	if (now - c->last_hb_us >= (uint64_t)c->hb_ms * 1000u)
		rl_client_send_heartbeat(c, now);
	if (c->npending == 0)
		return;
	for (unsigned b = 0; b < RL_CLIENT_BUCKETS; b++) {
		for (struct rl_pending *p = c->buckets[b]; p != NULL; p = p->next) {
			if (p->next_us > now)
				continue;
			if (rl_client_send_raw(c, p->buf, p->len) != RL_OK)
				return; /* backlog full: try again next tick */
			p->tries++;
			p->next_us = now + (p->tries < 3 ? 1000u : 2000u) * 1000u;
		}
	}
}

/* rl_client_hello_ok: the server took our Hello; the link is ready. */
static void rl_client_hello_ok(struct rl_client *c, uint64_t now, const Relais__HelloOk *ok)
{
	if (ok->granted && ok->granted[0] && (c->generation == 0 || c->proof_refusals))
		rl_log(RL_LOG_INFO, "link granted url=%s as=\"%s\"", c->url, ok->granted);
	c->proof_refusals = 0;
	c->move_why = RL_CLIENT_STAY; /* this endpoint answered after all: stay */
	c->not_leader_said = 0;
	c->await_leader = 0;
	if (c->cur < RL_CLIENT_GONE_SLOTS)
		c->gone_us[c->cur] = 0;
	if (c->generation > 0)
		rl_log(RL_LOG_INFO, "link up again url=%s after_ms=%llu", c->url,
		       (unsigned long long)((now - c->down_us) / 1000u));
	c->ready = 1;
	c->generation++;
	c->last_hb_us = now;
	/* Everything pending goes out again on the new link, in any order: the
	 * server treats each request independently and repeats are harmless. */
	for (unsigned b = 0; b < RL_CLIENT_BUCKETS; b++)
		for (struct rl_pending *p = c->buckets[b]; p != NULL; p = p->next)
			p->next_us = 0;
	if (c->on_ready != NULL)
		c->on_ready(c->ready_arg); /* its requests go out now, ahead of the others */
	rl_client_tick(c);
}

/* rl_client_answers_hello: env answers the Hello said last on the socket in use. */
static int rl_client_answers_hello(const struct rl_client *c, const rl_env *env)
{
	return env->req_id != 0 && env->req_id == c->hello_req;
}

/* rl_client_not_leader_heard: env is Error{ERR_NOT_LEADER}. The answer to our last Hello moves
 * the client (rl_client_not_leader). A hub that stops leading under a ready link, and answers a
 * request so, is asked Hello again: its answer says where to go. Any other is an earlier
 * Hello's answer, already acted on. A request so answered stays pending. */
static void rl_client_not_leader_heard(struct rl_client *c, uint64_t now, const rl_env *env)
{
	if (rl_client_answers_hello(c, env)) {
		rl_client_not_leader(c, now, env->error->leader != NULL ? env->error->leader : "");
	} else if (c->ready) {
		rl_client_down(c, now);
		rl_client_send_hello(c, now, NULL);
	}
}

int rl_client_input(struct rl_client *c, nng_msg *msg, rl_env **envp, void **cookie, int *is_reply)
{
	rl_env *env = NULL;
	uint64_t now = rl_mono_us();
	int rv = rl_link_recv_env(msg, &env, NULL);

	nng_msg_free(msg);
	*envp = NULL;
	*cookie = NULL;
	*is_reply = 0;
	if (rv != RL_OK) {
		rl_wire_free(env);
		rl_log(RL_LOG_INFO, "dropped frame from server err=\"%s\"", rl_strerror(rv));
		return rv;
	}
	if (c->last_rx_us != 0 && now - c->last_rx_us >= (uint64_t)RL_CLIENT_RESUME_MS * 1000u)
		c->resumed_us = now;
	c->last_rx_us = now;
	if (env->body_case == RELAIS__ENVELOPE__BODY_HELLO_OK && rl_client_answers_hello(c, env) &&
	    env->hello_ok->challenge.len > 0) {
		rl_client_challenged(c, now, &env->hello_ok->challenge);
		rl_wire_free(env);
		return RL_EAGAIN;
	}
	if (env->body_case == RELAIS__ENVELOPE__BODY_ERROR && env->error->code == RELAIS__ERROR_CODE__ERR_NOT_LEADER) {
		rl_client_not_leader_heard(c, now, env);
		rl_wire_free(env);
		return RL_EAGAIN;
	}
	if (env->body_case == RELAIS__ENVELOPE__BODY_ERROR && rl_client_answers_hello(c, env)) {
		/* Our Hello (or its proof) was refused: say so once; the tick tries again. */
		if (c->proof_refusals++ == 0)
			rl_log(RL_LOG_ERR, "server refused our hello url=%s principal=%s err=\"%s\"", c->url,
			       c->role == RELAIS__ROLE__ROLE_NODE ? c->site_id : c->principal,
			       env->error->message ? env->error->message : "");
		rl_wire_free(env);
		return RL_EAGAIN;
	}
	if (env->body_case == RELAIS__ENVELOPE__BODY_HELLO_OK && rl_client_answers_hello(c, env)) {
		rl_client_hello_ok(c, now, env->hello_ok);
		rl_wire_free(env);
		return RL_EAGAIN;
	}
	if (env->body_case == RELAIS__ENVELOPE__BODY_HEARTBEAT) {
		if (env->heartbeat->echo_us != 0 && env->heartbeat->echo_us <= now)
			c->rtt_us = now - env->heartbeat->echo_us;
		if (env->session == 0) {
			rl_wire_free(env);
			return RL_EAGAIN;
		}
	}
	if (env->body_case == RELAIS__ENVELOPE__BODY_ERROR && env->error->code == RELAIS__ERROR_CODE__ERR_HELLO_FIRST) {
		/* The server does not know this pipe (it restarted, or our hello was lost):
		 * say hello again; the request stays pending and goes out after HelloOk. */
		rl_client_down(c, now);
		rl_client_send_hello(c, now, NULL);
		rl_wire_free(env);
		return RL_EAGAIN;
	}
	if (env->req_id != 0) {
		struct rl_pending **pp = rl_client_slot(c, env->req_id), *p = *pp;
		if (p != NULL) {
			*pp = p->next;
			c->npending--;
			*cookie = p->cookie;
			*is_reply = 1;
			rl_pending_free(p);
		}
	}
	*envp = env;
	return RL_OK;
}

int rl_client_up(const struct rl_client *c)
{
	return rl_client_heard_within(c, RL_LINK_DEAD_MS);
}

int rl_client_heard_within(const struct rl_client *c, unsigned ms)
{
	return c->ready && rl_mono_us() - c->last_rx_us < (uint64_t)ms * 1000u;
}

int rl_client_resumed_within(const struct rl_client *c, unsigned ms)
{
	return c->resumed_us != 0 && rl_mono_us() - c->resumed_us < (uint64_t)ms * 1000u;
}

uint64_t rl_client_rtt_us(const struct rl_client *c)
{
	return c->rtt_us;
}

unsigned rl_client_pending(const struct rl_client *c)
{
	return c->npending;
}

unsigned rl_client_generation(const struct rl_client *c)
{
	return c->generation;
}

const char *rl_client_url(const struct rl_client *c)
{
	return c->url;
}

unsigned rl_client_endpoint(const struct rl_client *c)
{
	return c->cur;
}

unsigned rl_client_redials(const struct rl_client *c)
{
	return c->redials;
}

unsigned rl_client_redirects(const struct rl_client *c)
{
	return c->redirects;
}

void rl_client_each_pending(struct rl_client *c, void (*fn)(void *cookie, void *arg), void *arg)
{
	for (unsigned b = 0; b < RL_CLIENT_BUCKETS; b++)
		for (struct rl_pending *p = c->buckets[b]; p != NULL; p = p->next)
			fn(p->cookie, arg);
}

unsigned rl_client_take_pending(struct rl_client *c, int (*take)(void *cookie, uint64_t req_id, void *arg), void *arg)
{
	unsigned n = 0;

	for (unsigned b = 0; b < RL_CLIENT_BUCKETS; b++)
		for (struct rl_pending **pp = &c->buckets[b], *p; (p = *pp) != NULL;) {
			if (!take(p->cookie, p->req_id, arg)) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			c->npending--;
			rl_pending_free(p);
			n++;
		}
	return n;
}

void rl_client_cork(struct rl_client *c)
{
	if (c->out == NULL)
		rl_bundler_create(&c->out);
	c->corked = 1;
}

unsigned rl_client_flush(struct rl_client *c)
{
	if (!c->corked)
		return 0;
	c->corked = 0;
	return rl_bundler_flush(c->out, c->sock);
}

void rl_client_close_nowait(struct rl_client *c)
{
	unsigned i;

	if (c == NULL)
		return;
	rl_bundler_destroy(c->out);
	c->out = NULL;
	rl_link_close(c->sock, 0);
	/* Its pipe callbacks may still run while nng closes: c stays, among the abandoned. */
	if ((i = atomic_fetch_add(&rl_client_nabandoned, 1)) <
	    sizeof(rl_client_abandoned) / sizeof(rl_client_abandoned[0]))
		rl_client_abandoned[i] = c;
}

void rl_client_close(struct rl_client *c)
{
	if (c == NULL)
		return;
	rl_bundler_destroy(c->out);
	if (!rl_link_close(c->sock, RL_CLIENT_CLOSE_MS)) {
		unsigned i = atomic_fetch_add(&rl_client_nabandoned, 1);
		rl_log(RL_LOG_WARNING, "link close did not finish in %d ms url=%s: left to nng", RL_CLIENT_CLOSE_MS,
		       c->url);
		if (i < sizeof(rl_client_abandoned) / sizeof(rl_client_abandoned[0]))
			rl_client_abandoned[i] = c;
		return;
	}
	free(c->urls);
	for (unsigned b = 0; b < RL_CLIENT_BUCKETS; b++) {
		struct rl_pending *p = c->buckets[b], *n;
		for (; p != NULL; p = n) {
			n = p->next;
			rl_pending_free(p);
		}
	}
	rl_key_wipe(&c->key);
	free(c);
}
