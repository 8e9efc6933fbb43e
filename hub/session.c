/*
 * session.c - links and sessions: Hello and the peers it makes, reply caches, agent login
 * (argon2id off the engine's thread) and resume, failed-login lockouts, heartbeats, and what
 * happens when a link goes.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rl_addr.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_key.h"
#include "rl_log.h"
#include "rl_secret.h"
#include "rl_time.h"

/* ---------------------------------------------------------------------------------------- */
/* peers and reply caches */

struct rl_peer *rl_peer_find(struct rl_engine *e, uint32_t pipe)
{
	return rl_htab_get(&e->peers, pipe, NULL, NULL);
}

int rl_engine_greeted(struct rl_engine *e, uint32_t pipe)
{
	return rl_peer_find(e, pipe) != NULL;
}

void rl_peer_free(struct rl_peer *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < RL_PEER_CACHE; i++)
		free(p->cache[i].buf);
	free(p);
}

/* Reply caches: a repeated req_id is answered from here and never applied twice. */
struct rl_reply *rl_cache_find(struct rl_reply *c, int n, uint64_t req_id)
{
	for (int i = 0; i < n; i++)
		if (c[i].req_id == req_id)
			return &c[i];
	return NULL;
}

const char *rl_who_name(unsigned who)
{
	switch (who) {
	case RL_WHO_AGENT:
		return "agents";
	case RL_WHO_NODE:
		return "site nodes";
	case RL_WHO_ADMIN:
		return "admin operators";
	case RL_WHO_NOC:
		return "noc operators";
	case RL_WHO_SUPERVISOR:
		return "supervisors";
	case RL_WHO_VIEWER:
		return "viewers";
	default:
		return "links that have not proven who they are";
	}
}

static struct rl_peer *rl_peer_new(struct rl_engine *e, uint32_t pipe)
{
	struct rl_peer *p = rl_calloc(1, sizeof(*p));

	p->pipe = pipe;
	p->op = -1;
	if (e->addr_of == NULL || e->addr_of(e->addr_arg, pipe, p->ip, sizeof(p->ip)) != 0)
		p->ip[0] = '\0';
	rl_htab_put(&e->peers, pipe, p);
	return p;
}

static void rl_hello_answer(struct rl_engine *e, struct rl_req *r, const uint8_t *challenge, const char *granted)
{
	Relais__HelloOk ok;
	rl_env out;

	rl_hello_ok(&out, &ok, e->conf.id, e->now, challenge, granted);
	r->peer = NULL; /* hellos are not cached: each one re-binds */
	rl_reply(e, r, &out);
}

/* rl_hello_key: the public key of the principal a Hello names, its RL_WHO_* and scope;
 * NULL if there is none (unknown operator, or a site without a key). */
static const uint8_t *rl_hello_key(struct rl_engine *e, const Relais__Hello *h, int site, unsigned *who,
                                   uint64_t *scope, int *op)
{
	static const unsigned op_who[] = {RL_WHO_ADMIN, RL_WHO_NOC, RL_WHO_SUPERVISOR, RL_WHO_VIEWER};
	const struct rl_operator *o;

	*scope = RL_SCOPE_ALL;
	*op = -1;
	if (h->role == RELAIS__ROLE__ROLE_NODE) {
		*who = RL_WHO_NODE;
		return e->sites[site].has_key ? e->sites[site].key : NULL;
	}
	if ((o = rl_operator_find(e->operators, e->noperators, h->principal)) == NULL)
		return NULL;
	*op = (int)(o - e->operators);
	*who = op_who[o->role];
	*scope = e->op_scope[*op];
	return o->key;
}

/* rl_hello_proof checks a Hello's proof against the challenge its link was given. */
static void rl_hello_proof(struct rl_engine *e, struct rl_req *r, const Relais__Hello *h, int site)
{
	struct rl_peer *p = r->peer;
	const char *id = h->role == RELAIS__ROLE__ROLE_NODE ? e->sites[site].id : h->principal ? h->principal : "";
	char granted[RL_WIRE_MAX_TEXT + 1];
	const uint8_t *key;
	unsigned who = 0;
	uint64_t scope;
	int op;

	key = rl_hello_key(e, h, site, &who, &scope, &op);
	if (rl_hello_proven(&p->gate, key, h, id) != RL_OK) {
		e->ctr.bad_proofs++;
		rl_log(RL_LOG_WARNING, "hello proof refused role=%d principal=%s src=%s pipe=%u", h->role, id,
		       p->ip[0] ? p->ip : "?", r->pipe);
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_AUTH, "unknown principal or bad proof", 0);
		return;
	}
	p->who = who;
	p->scope = scope;
	p->op = op;
	if (who == RL_WHO_NODE) {
		rl_site_link(e, site, r->pipe);
		snprintf(granted, sizeof(granted), "site %s", id);
	} else {
		snprintf(granted, sizeof(granted), "operator %s (%s)", id, rl_who_name(who));
		if (!p->announced++)
			rl_log(RL_LOG_NOTICE, "operator link up operator=%s src=%s pipe=%u", id, p->ip[0] ? p->ip : "?",
			       r->pipe);
	}
	rl_hello_answer(e, r, NULL, granted);
}

/* A link says who it is. An agent link is an agent's at once (each session proves itself at
 * login); a node or a tool gets a challenge, and speaks for its site or operator only once a
 * second Hello carries the proof (docs/security.md). */
void rl_h_hello(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__Hello *h = env->hello;
	struct rl_peer *p = r->peer;
	int site = -1;

	if (r->chan != 0) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "Hello speaks for a link, not a chan", 0);
		return;
	}
	if (h->role == RELAIS__ROLE__ROLE_NODE && (h->site_id == NULL || (site = rl_site_idx(e, h->site_id)) < 0)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_SITE, "unknown site", 0);
		return;
	}
	if (h->role < RELAIS__ROLE__ROLE_AGENT || h->role > RELAIS__ROLE__ROLE_CTL) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "unknown role", 0);
		return;
	}
	if (p == NULL)
		r->peer = p = rl_peer_new(e, r->pipe);
	if (p->who == RL_WHO_NODE && p->site >= 0 && p->site != site)
		rl_site_link_down(e, p->site, r->pipe); /* what this link spoke for, it no longer does */
	p->role = h->role;
	p->site = site;
	p->hello = 1;
	p->who = 0;
	p->scope = 0;
	p->op = -1;
	if (h->role == RELAIS__ROLE__ROLE_AGENT) {
		p->who = RL_WHO_AGENT;
		p->scope = RL_SCOPE_ALL;
		rl_hello_answer(e, r, NULL, "agent");
	} else if (h->proof.len > 0) {
		rl_hello_proof(e, r, h, site);
	} else {
		rl_hello_answer(e, r, rl_hello_challenge(&p->gate), NULL);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* sessions bound to links */

struct rl_agent *rl_session_agent(struct rl_engine *e, const struct rl_req *r)
{
	struct rl_agent *a = rl_agent_by_session(e, r->session);

	return a != NULL && a->bound && a->pipe == r->pipe && a->chan == r->chan ? a : NULL;
}

void rl_touch(struct rl_engine *e, struct rl_agent *a)
{
	a->last_seen_us = e->now;
	a->rec->last_seen_us = e->now;
	rl_agent_reach(e, a, 1);
	rl_agent_schedule_soon(e, a);
}

/* rl_bind: the agent's session now speaks on r's link, from site (-1 = home). */
static void rl_bind(struct rl_engine *e, struct rl_agent *a, const struct rl_req *r, int site)
{
	a->pipe = r->pipe;
	a->chan = r->chan;
	a->bound = 1;
	if (site != a->site)
		rl_agent_move(e, a, site);
	rl_touch(e, a);
}

void rl_agent_unbind(struct rl_engine *e, struct rl_agent *a)
{
	if (a->rec->session)
		rl_htab_del(&e->agent_by_session, a->rec->session, a);
	a->rec->session = 0;
	a->bound = 0;
	a->reachable = 0;
}

/* rl_req_site: where an agent logging in on r is (a seated agent is where its node is,
 * whatever it claims; -1 = home). */
static int rl_req_site(const struct rl_req *r)
{
	return r->peer->role == RELAIS__ROLE__ROLE_NODE ? r->peer->site : -1;
}

/* A session resumed with its token may move to another link (a node restarted, a new pipe,
 * or its node gone and the client on the hub: rl_client.h's endpoints). Through a node, the
 * agent is where that node is; directly at the hub, it keeps the seat it had: a seated agent
 * whose node stopped answering is still at its site (routed as its site's, its site's state
 * pushed to it, its calls at other sites relayed), and a home agent stays home. A link that
 * the session moves to hears its site's state at once: what it missed on the way. */
void rl_h_resume(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__AgentResume *rs = env->agent_resume;
	struct rl_agent *a = rl_agent_by_session(e, rs->session);
	int moved;

	if (a == NULL || a->rec->token.len != rs->token.len || rs->token.len != 16 ||
	    sodium_memcmp(a->rec->token.data, rs->token.data, 16) != 0) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_NOT_LOGGED_IN, "session unknown or expired: log in again",
		               0);
		return;
	}
	moved = !a->bound || a->pipe != r->pipe || a->chan != r->chan;
	rl_bind(e, a, r, r->peer->role == RELAIS__ROLE__ROLE_NODE ? r->peer->site : a->site);
	r->session = a->rec->session;
	rl_push_status(e, a, r);
	if (moved && a->site >= 0)
		rl_site_tell_agent(e, a);
}

void rl_h_heartbeat(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	Relais__Heartbeat hb = RELAIS__HEARTBEAT__INIT;
	struct rl_req hr = *r;
	rl_env out;

	hr.req_id = 0; /* heartbeats are not requests: never cached, never re-sent */
	if (env->session != 0) {
		struct rl_agent *a = rl_session_agent(e, r);
		if (a == NULL) {
			rl_reply_error(e, &hr, RELAIS__ERROR_CODE__ERR_NOT_LOGGED_IN,
			               "session not bound to this link: resume", 0);
			return;
		}
		rl_touch(e, a);
		hb.agent_state = a->rec->state;
		hb.contact_id = a->rec->contact_id;
	}
	hb.sent_us = e->now;
	hb.echo_us = env->heartbeat->sent_us;
	rl_env_init(&out);
	out.body_case = RELAIS__ENVELOPE__BODY_HEARTBEAT;
	out.heartbeat = &hb;
	rl_reply(e, &hr, &out);
}

/* rl_h_seats_alive: a node's heartbeat for its seated agents (SeatsAlive in the schema). */
void rl_h_seats_alive(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__SeatsAlive *sa = env->seats_alive;

	for (size_t i = 0; i < sa->n_seats; i++) {
		const Relais__Seat *s = sa->seats[i];
		struct rl_req sr = *r;
		struct rl_agent *a;
		sr.req_id = 0;
		sr.chan = s->chan;
		sr.session = s->session;
		if (s->chan == 0 || (a = rl_session_agent(e, &sr)) == NULL) {
			rl_reply_error(e, &sr, RELAIS__ERROR_CODE__ERR_NOT_LOGGED_IN,
			               "session not bound to this link: resume", 0);
			continue;
		}
		rl_touch(e, a);
		/* A view that still differs a while after the agent's last change: a push was lost
		 * on the way (one just sent may be crossing this frame). Its status again. */
		if ((s->state != a->rec->state ||
		     strcmp(s->contact_id ? s->contact_id : "", a->rec->contact_id) != 0) &&
		    e->now - a->rec->state_since_us >= RL_SEATS_SETTLE_US)
			rl_push_status(e, a, NULL);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* login: lockouts, verification off-thread, new sessions */

/* rl_login_ip: where an agent logs in from: its link's address, or for an agent seated at a
 * node, the address the node saw it at (the node is trusted for its own agents). */
static void rl_login_ip(const struct rl_req *r, const Relais__AgentLogin *l, char *ip, size_t cap)
{
	if (r->peer->role == RELAIS__ROLE__ROLE_NODE && l->from_ip && rl_addr_ip_family(l->from_ip))
		snprintf(ip, cap, "%s", l->from_ip);
	else
		snprintf(ip, cap, "%s", r->peer->ip);
}

void rl_h_login(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__AgentLogin *l = env->agent_login;
	struct rl_agent *a;
	struct rl_auth_job *job;
	char ip[sizeof(job->ip)];
	uint64_t wait_us;

	if (!rl_wire_id_ok(l->agent_id) || l->secret == NULL) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "agent id or secret missing", 0);
		return;
	}
	rl_login_ip(r, l, ip, sizeof(ip));
	if ((wait_us = rl_lockout_wait(e, l->agent_id, ip)) > 0) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_RATE_LIMITED, "too many failed logins; retry later",
		               (uint32_t)(wait_us / 1000u) + 1);
		return;
	}
	a = rl_agent_find(e, l->agent_id);
	job = rl_calloc(1, sizeof(*job));
	snprintf(job->agent_id, sizeof(job->agent_id), "%s", l->agent_id);
	snprintf(job->secret, sizeof(job->secret), "%s", l->secret);
	snprintf(job->ip, sizeof(job->ip), "%s", ip);
	if (a != NULL)
		snprintf(job->hash, sizeof(job->hash), "%s", a->rec->secret_hash);
	job->pipe = r->pipe;
	job->chan = r->chan;
	job->req_id = r->req_id;
	job->site = rl_req_site(r);
	e->auth(e->auth_arg, job);
}

/* rl_takeover tells the link the session is on now that a second login took it over. */
static void rl_takeover(struct rl_engine *e, struct rl_agent *a)
{
	rl_push_status_as(e, a, NULL, "session taken over");
}

/* rl_session_new gives the agent a new session id and token (token: 16 bytes out). */
static void rl_session_new(struct rl_engine *e, struct rl_agent *a, uint8_t *token)
{
	if (a->rec->session)
		rl_htab_del(&e->agent_by_session, a->rec->session, a);
	do
		rl_secret_random(&a->rec->session, sizeof(a->rec->session));
	while (a->rec->session == 0 || rl_agent_by_session(e, a->rec->session) != NULL);
	rl_secret_random(token, 16);
	free(a->rec->token.data);
	a->rec->token.data = rl_malloc(16);
	memcpy(a->rec->token.data, token, 16);
	a->rec->token.len = 16;
	rl_htab_put(&e->agent_by_session, a->rec->session, a);
}

/* rl_login_ok answers a login with the session and the agent's state. */
static void rl_login_ok(struct rl_engine *e, struct rl_req *r, struct rl_agent *a, uint8_t *token)
{
	Relais__AgentLoginOk ok = RELAIS__AGENT_LOGIN_OK__INIT;
	Relais__AgentStatus st;
	Relais__Offer o;
	rl_env env;

	rl_env_init(&env);
	rl_fill_status(e, &st, &o, a);
	ok.session = a->rec->session;
	ok.token.data = token;
	ok.token.len = 16;
	ok.status = &st;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_LOGIN_OK;
	env.agent_login_ok = &ok;
	r->session = a->rec->session;
	rl_reply(e, r, &env);
}

void rl_engine_auth_done(struct rl_engine *e, struct rl_auth_job *job)
{
	struct rl_agent *a = rl_agent_find(e, job->agent_id);
	struct rl_peer *p = rl_peer_find(e, job->pipe);
	struct rl_req r = {job->pipe, job->chan, job->req_id, 0, p, RL_WHO_AGENT, RL_SCOPE_ALL, NULL};
	uint8_t token[16];

	sodium_memzero(job->secret, sizeof(job->secret));
	if (p == NULL) {
		/* the link went away meanwhile */
	} else if (job->ok < 0) {
		rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_RATE_LIMITED, "login verifier busy; retry shortly", 1000);
	} else if (a == NULL || !job->ok) {
		rl_lockout_failed(e, job->agent_id, job->ip);
		rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_AUTH, "wrong agent id or secret", 0);
	} else if (a->bound && a->pipe == job->pipe && a->chan == job->chan && a->rec->session && rl_agent_live(a) &&
	           a->rec->token.len == sizeof(token)) {
		/* The same link logging in again (a re-sent login that crossed a restart or a new
		 * pipe): the session it already has is the answer, not a takeover. */
		rl_lockout_passed(e, a, job->ip);
		memcpy(token, a->rec->token.data, sizeof(token));
		rl_login_ok(e, &r, a, token);
	} else {
		int was_live = rl_agent_live(a);
		rl_lockout_passed(e, a, job->ip);
		if (a->bound && (a->pipe != job->pipe || a->chan != job->chan))
			rl_takeover(e, a);
		rl_session_new(e, a, token);
		rl_bind(e, a, &r, job->site);
		if (!was_live)
			rl_agent_login(e, a);
		rl_dirty_agent(e, a);
		rl_event(e, RELAIS__EVENT_TYPE__EV_AGENT_LOGIN, NULL, a, 0, NULL);
		rl_log(RL_LOG_NOTICE, "agent login agent=%s site=%s src=%s", a->id,
		       a->site >= 0 ? e->sites[a->site].id : "home", job->ip[0] ? job->ip : "?");
		rl_login_ok(e, &r, a, token);
	}
	sodium_memzero(token, sizeof(token));
	free(job);
}

/* ---------------------------------------------------------------------------------------- */
/* links going away */

void rl_engine_pipe_gone(struct rl_engine *e, uint32_t pipe)
{
	struct rl_peer *p = rl_peer_find(e, pipe);

	if (p == NULL)
		return;
	if (p->site >= 0)
		rl_site_link_down(e, p->site, pipe);
	rl_monitor_pipe_gone(e, pipe);
	/* Agents behind this link get no new offers until they are heard again; a blip must
	 * not log them out (grace does that, much later). */
	for (int i = 0; i < e->nagents; i++) {
		struct rl_agent *a = e->agents[i];
		if (a->bound && a->pipe == pipe) {
			a->bound = 0;
			rl_agent_reach(e, a, 0);
		}
	}
	rl_htab_del(&e->peers, pipe, p);
	rl_peer_free(p);
}
