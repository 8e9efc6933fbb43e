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
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_secret.h"
#include "rl_time.h"

/* ---------------------------------------------------------------------------------------- */
/* peers and reply caches */

struct rl_peer *rl_peer_find(struct rl_engine *e, uint32_t pipe)
{
	return rl_htab_get(&e->peers, pipe, NULL, NULL);
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

void rl_h_hello(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__Hello *h = env->hello;
	Relais__HelloOk ok = RELAIS__HELLO_OK__INIT;
	struct rl_peer *p = r->peer;
	rl_env out;
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
	if (p == NULL) {
		p = rl_calloc(1, sizeof(*p));
		p->pipe = r->pipe;
		rl_htab_put(&e->peers, r->pipe, p);
	}
	p->role = h->role;
	p->site = site;
	p->hello = 1;
	if (site >= 0)
		rl_site_link(e, site, r->pipe);
	rl_env_init(&out);
	ok.server_time_us = e->now;
	ok.hub_id = e->conf.id;
	out.body_case = RELAIS__ENVELOPE__BODY_HELLO_OK;
	out.hello_ok = &ok;
	r->peer = NULL; /* hellos are not cached: each one re-binds */
	rl_reply(e, r, &out);
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

void rl_h_resume(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__AgentResume *rs = env->agent_resume;
	struct rl_agent *a = rl_agent_by_session(e, rs->session);

	if (a == NULL || a->rec->token.len != rs->token.len || rs->token.len != 16 ||
	    sodium_memcmp(a->rec->token.data, rs->token.data, 16) != 0) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_NOT_LOGGED_IN, "session unknown or expired: log in again",
		               0);
		return;
	}
	rl_bind(e, a, r, rl_req_site(r));
	r->session = a->rec->session;
	rl_push_status(e, a, r);
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

/* ---------------------------------------------------------------------------------------- */
/* login: lockouts, verification off-thread, new sessions */

static struct rl_lock *rl_lock(struct rl_engine *e, const char *id)
{
	uint64_t h = rl_htab_hash(id);
	struct rl_lock *lk = &e->locks[h % RL_LOCKS];

	if (lk->h != h)
		*lk = (struct rl_lock){h, 0, 0};
	return lk;
}

void rl_h_login(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__AgentLogin *l = env->agent_login;
	struct rl_agent *a;
	struct rl_auth_job *job;
	struct rl_lock *lk;

	if (!rl_wire_id_ok(l->agent_id) || l->secret == NULL) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "agent id or secret missing", 0);
		return;
	}
	a = rl_agent_find(e, l->agent_id);
	lk = rl_lock(e, l->agent_id);
	if (lk->until_us > e->now) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_RATE_LIMITED, "too many failed logins; retry later",
		               (uint32_t)((lk->until_us - e->now) / 1000u) + 1);
		return;
	}
	job = rl_calloc(1, sizeof(*job));
	snprintf(job->agent_id, sizeof(job->agent_id), "%s", l->agent_id);
	snprintf(job->secret, sizeof(job->secret), "%s", l->secret);
	if (a != NULL)
		snprintf(job->hash, sizeof(job->hash), "%s", a->rec->secret_hash);
	job->pipe = r->pipe;
	job->chan = r->chan;
	job->req_id = r->req_id;
	job->site = rl_req_site(r);
	e->auth(e->auth_arg, job);
}

/* rl_login_failed counts a refused login: after 3 failures in a row the id is locked 1 s,
 * doubling up to 60 s. */
static void rl_login_failed(struct rl_engine *e, const struct rl_req *r, const char *id)
{
	struct rl_lock *lk = rl_lock(e, id);

	e->ctr.auth_failures++;
	if (++lk->failures >= 3) {
		unsigned shift = lk->failures - 3 < 6 ? lk->failures - 3 : 6;
		uint64_t ms = 1000u << shift;
		lk->until_us = e->now + (ms > 60000 ? 60000 : ms) * 1000u;
	}
	rl_log(RL_LOG_WARNING, "login refused agent=%s", id);
	rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_AUTH, "wrong agent id or secret", 0);
}

/* rl_takeover tells the link the session is on now that a second login took it over. */
static void rl_takeover(struct rl_engine *e, struct rl_agent *a)
{
	Relais__AgentStatus os;
	Relais__Offer oo;
	rl_env env;

	rl_env_init(&env);
	rl_fill_status(e, &os, &oo, a);
	os.state = RELAIS__AGENT_STATE__AGENT_LOGGED_OUT;
	os.reason = (char *)"session taken over";
	os.contact = NULL;
	os.media = NULL;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_STATUS;
	env.agent_status = &os;
	rl_push_to_agent(e, a, &env);
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
	struct rl_req r = {job->pipe, job->chan, job->req_id, 0, p, RL_WHO_AGENT, NULL};
	uint8_t token[16];

	sodium_memzero(job->secret, sizeof(job->secret));
	if (p == NULL) {
		/* the link went away meanwhile */
	} else if (job->ok < 0) {
		rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_RATE_LIMITED, "login verifier busy; retry shortly", 1000);
	} else if (a == NULL || !job->ok) {
		rl_login_failed(e, &r, job->agent_id);
	} else if (a->bound && a->pipe == job->pipe && a->chan == job->chan && a->rec->session && rl_agent_live(a) &&
	           a->rec->token.len == sizeof(token)) {
		/* The same link logging in again (a re-sent login that crossed a restart or a new
		 * pipe): the session it already has is the answer, not a takeover. */
		*rl_lock(e, job->agent_id) = (struct rl_lock){rl_htab_hash(job->agent_id), 0, 0};
		memcpy(token, a->rec->token.data, sizeof(token));
		rl_login_ok(e, &r, a, token);
	} else {
		int was_live = rl_agent_live(a);
		*rl_lock(e, job->agent_id) = (struct rl_lock){rl_htab_hash(job->agent_id), 0, 0};
		if (a->bound && (a->pipe != job->pipe || a->chan != job->chan))
			rl_takeover(e, a);
		rl_session_new(e, a, token);
		rl_bind(e, a, &r, job->site);
		if (!was_live)
			rl_agent_login(e, a);
		rl_dirty_agent(e, a);
		rl_event(e, RELAIS__EVENT_TYPE__EV_AGENT_LOGIN, NULL, a, 0, NULL);
		rl_log(RL_LOG_NOTICE, "agent login agent=%s site=%s", a->id,
		       a->site >= 0 ? e->sites[a->site].id : "home");
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
