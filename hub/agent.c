/*
 * agent.c - agent state. rl_agent_set is the one writer of an agent's state: it keeps the
 * router's ready lists and the staffing counts in step, logs the event and marks the record
 * dirty. The requests an agent sends about its own state and calls are handled here too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_id.h"
#include "rl_log.h"
#include "rl_time.h"
#include "router.h"
#include "store.h"

#define RL_WRAP_MAX_S 3600 /* a wrap-up is extended up to an hour at most */

static int rl_eq_agent(const void *v, const void *k)
{
	return strcmp(((const struct rl_agent *)v)->id, k) == 0;
}

struct rl_agent *rl_agent_find(struct rl_engine *e, const char *id)
{
	return id ? rl_htab_get(&e->agent_by_id, rl_htab_hash(id), rl_eq_agent, id) : NULL;
}

struct rl_agent *rl_agent_by_session(struct rl_engine *e, uint64_t s)
{
	/* A session is its own key (integer, unique: rl_session_new draws until it is): no
	 * comparison through the agent's record, which cost a cache miss or two per request. */
	return s ? rl_htab_get(&e->agent_by_session, s, NULL, NULL) : NULL;
}

struct rl_agent *rl_agent_new(struct rl_engine *e, const char *id)
{
	struct rl_agent *a = rl_calloc(1, sizeof(*a));

	a->members = rl_calloc((size_t)e->nqueues + 1, sizeof(*a->members));
	a->nmembers = e->nqueues;
	rl_copy(a->id, sizeof(a->id), id);
	a->site = a->route_site = -1;
	a->wrap_queue = -1;
	for (int q = 0; q < 64; q++)
		a->tier[q] = -1;
	return a;
}

void rl_agent_free(struct rl_agent *a)
{
	if (a == NULL)
		return;
	for (int i = 0; i < RL_REPLY_CACHE; i++)
		free(a->cache[i].buf);
	if (a->rec)
		relais__agent_record__free_unpacked(a->rec, NULL);
	for (int i = 0; a->members != NULL && i < a->nmembers; i++)
		free(a->members[i].up); /* still in a ready list as the engine closes */
	free(a->members);
	free(a);
}

int rl_agent_live(const struct rl_agent *a)
{
	return a->rec->state != RELAIS__AGENT_STATE__AGENT_LOGGED_OUT &&
	       a->rec->state != RELAIS__AGENT_STATE__AGENT_STATE_UNSPECIFIED;
}

void rl_agent_tiers(struct rl_engine *e, struct rl_agent *a)
{
	rl_tally(e, a, -1);
	a->covers = a->route_site >= 0 ? e->sites[a->route_site].covers : 0;
	for (int q = 0; q < e->nqueues; q++)
		a->tier[q] = rl_router_tier(&e->queues[q], a);
	rl_tally(e, a, 1);
}

void rl_agent_set(struct rl_engine *e, struct rl_agent *a, Relais__AgentState st, const char *reason)
{
	Relais__AgentState prev = a->rec->state;
	uint64_t since = a->rec->state_since_us;
	char prev_reason[RL_WIRE_MAX_ID + 1];

	rl_copy(prev_reason, sizeof(prev_reason), a->rec->reason);
	if (a->rec->state == RELAIS__AGENT_STATE__AGENT_READY)
		rl_router_unready(e->queues, e->nqueues, a);
	rl_tally(e, a, -1);
	a->rec->state = st;
	a->rec->state_since_us = e->now;
	rl_wire_set_str(&a->rec->reason, reason ? reason : "");
	rl_tally(e, a, 1);
	if (st != RELAIS__AGENT_STATE__AGENT_RESERVED && st != RELAIS__AGENT_STATE__AGENT_WRAPUP)
		a->rec->deadline_us = 0;
	if (st == RELAIS__AGENT_STATE__AGENT_READY) {
		a->rec->idle_since_us = e->now;
		if (a->reachable)
			rl_router_ready(e->queues, e->nqueues, a);
	}
	rl_dirty_agent(e, a);
	rl_event_state(e, a, prev, prev_reason, since && e->now > since ? (e->now - since) / 1000u : 0);
}

/* rl_agent_login: a logged-out agent comes in, not ready, counted at its site. */
void rl_agent_login(struct rl_engine *e, struct rl_agent *a)
{
	if (a->site >= 0)
		e->sites[a->site].agents++;
	rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_NOT_READY, "login");
}

/* rl_agent_move: the agent now speaks from site (-1 = home): its tiers follow. */
void rl_agent_move(struct rl_engine *e, struct rl_agent *a, int site)
{
	int ready = a->rec->state == RELAIS__AGENT_STATE__AGENT_READY && a->reachable, live = rl_agent_live(a);

	if (ready)
		rl_router_unready(e->queues, e->nqueues, a);
	if (live && a->site >= 0 && e->sites[a->site].agents)
		e->sites[a->site].agents--;
	a->site = site;
	a->route_site = rl_site_route(e, site);
	if (live && site >= 0)
		e->sites[site].agents++;
	rl_wire_set_str(&a->rec->site_id, site >= 0 ? e->sites[site].id : "");
	rl_agent_tiers(e, a);
	if (ready)
		rl_router_ready(e->queues, e->nqueues, a);
	rl_dirty_agent(e, a);
}

void rl_agent_reach(struct rl_engine *e, struct rl_agent *a, int reachable)
{
	if (reachable && a->site >= 0 && e->sites[a->site].held)
		reachable = 0; /* its site hands over what it did alone first (survive.c) */
	if (a->reachable == reachable)
		return;
	a->reachable = reachable;
	if (a->rec->state != RELAIS__AGENT_STATE__AGENT_READY)
		return;
	if (reachable)
		rl_router_ready(e->queues, e->nqueues, a);
	else
		rl_router_unready(e->queues, e->nqueues, a);
}

/* rl_set_pending records (with the agent) a not-ready asked for during a call. */
static void rl_set_pending(struct rl_engine *e, struct rl_agent *a, const char *reason)
{
	rl_tally(e, a, -1);
	rl_wire_set_str(&a->rec->pending_reason, reason ? reason : "");
	rl_tally(e, a, 1);
	rl_dirty_agent(e, a);
}

/* rl_agent_after_contact: the agent holds no contact any more: READY, or the not-ready it
 * asked for meanwhile. */
void rl_agent_after_contact(struct rl_engine *e, struct rl_agent *a)
{
	rl_wire_set_str(&a->rec->contact_id, "");
	if (a->rec->pending_reason && a->rec->pending_reason[0]) {
		char reason[RL_WIRE_MAX_ID + 1];
		rl_copy(reason, sizeof(reason), a->rec->pending_reason);
		rl_set_pending(e, a, "");
		rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_NOT_READY, reason);
	} else {
		rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_READY, "");
	}
}

void rl_agent_start_wrapup(struct rl_engine *e, struct rl_agent *a, struct rl_contact *c)
{
	const struct rl_queue *q = &e->queues[c->queue];

	a->wrap_started_us = e->now;
	a->wrap_queue = c->queue;
	rl_wire_set_str(&a->rec->contact_id, c->id);
	a->rec->handled++;
	rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_WRAPUP, "");
	a->rec->deadline_us = e->now + (uint64_t)(q->wrapup_s ? q->wrapup_s : (uint32_t)e->conf.wrapup_s) * 1000000u;
}

/* rl_wrapup_done logs the end of a wrap-up (its time counts in the queue's handle time) and
 * keeps the disposition in the call's record. */
static void rl_wrapup_done(struct rl_engine *e, struct rl_agent *a, const char *disposition)
{
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;
	struct rl_queue *q;

	if (a->wrap_queue < 0 || a->wrap_queue >= e->nqueues)
		return;
	q = &e->queues[a->wrap_queue];
	ev.ts_us = e->now;
	ev.type = RELAIS__EVENT_TYPE__EV_WRAPUP_DONE;
	ev.agent_id = a->rec->agent_id;
	ev.queue_id = q->id;
	ev.tenant_id = e->tenants[q->tenant].id;
	ev.contact_id = a->rec->contact_id;
	ev.site_id = a->rec->site_id;
	ev.agent_state = RELAIS__AGENT_STATE__AGENT_WRAPUP;
	ev.wait_ms = (e->now - a->wrap_started_us) / 1000u;
	ev.detail = (char *)(disposition ? disposition : "");
	rl_event_emit(e, a->wrap_queue, &ev);
	if (disposition != NULL && disposition[0] && a->rec->contact_id[0])
		rl_contact_dispose(e, a->rec->contact_id, disposition);
}

static void rl_finish_wrapup(struct rl_engine *e, struct rl_agent *a, const char *disposition)
{
	rl_wrapup_done(e, a, disposition);
	rl_agent_after_contact(e, a);
}

/* rl_agent_release withdraws whatever the agent holds when it leaves for good. */
static void rl_agent_release(struct rl_engine *e, struct rl_agent *a)
{
	struct rl_contact *c = a->contact;

	if (c != NULL && a->rec->state == RELAIS__AGENT_STATE__AGENT_RESERVED)
		rl_contact_to(e, c, RL_C_REQUEUED, 0);
	else if (c != NULL)
		rl_contact_end(e, c, RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED, "agent gone");
	a->contact = NULL;
	rl_wire_set_str(&a->rec->contact_id, "");
}

void rl_agent_logout(struct rl_engine *e, struct rl_agent *a, const char *why)
{
	rl_agent_release(e, a);
	if (a->site >= 0 && e->sites[a->site].agents)
		e->sites[a->site].agents--;
	rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_LOGGED_OUT, why);
	rl_event(e, RELAIS__EVENT_TYPE__EV_AGENT_LOGOUT, NULL, a, 0, why);
	rl_push_status(e, a, NULL);
	rl_agent_unbind(e, a);
}

/* rl_agent_timers fires the agent's due timers: ring-no-answer, wrap-up end, link loss. */
void rl_agent_timers(struct rl_engine *e, struct rl_agent *a)
{
	Relais__AgentState st = a->rec->state;
	uint64_t silent;

	if (!rl_agent_live(a))
		return;
	if (st == RELAIS__AGENT_STATE__AGENT_RESERVED && a->rec->deadline_us <= e->now && a->contact) {
		/* RONA: the contact goes back to its place, the agent stops taking calls. */
		rl_contact_to(e, a->contact, RL_C_RONA, 0);
		rl_wire_set_str(&a->rec->contact_id, "");
		rl_set_pending(e, a, "");
		rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_NOT_READY, "no-answer");
		rl_push_status(e, a, NULL);
	} else if (st == RELAIS__AGENT_STATE__AGENT_WRAPUP && a->rec->deadline_us <= e->now) {
		rl_finish_wrapup(e, a, NULL);
		rl_push_status(e, a, NULL);
	}
	if (!rl_agent_live(a))
		return; /* (a wrap-up's end can log out an agent that asked to) */
	silent = e->now > a->last_seen_us ? e->now - a->last_seen_us : 0;
	if (a->reachable && silent > (uint64_t)RL_LINK_DEAD_MS * 1000u)
		rl_agent_reach(e, a, 0);
	if (silent <= (uint64_t)e->conf.agent_grace_s * 1000000u)
		return;
	if (a->site >= 0 && e->sites[a->site].lost && e->sites[a->site].survivable) {
		/* Working at a site that serves alone: still logged in when the site is back. A
		 * call it had from another site went through the hub's relay, out of its reach. */
		if (a->contact != NULL && a->contact->site != a->site &&
		    a->contact->rec->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED)
			rl_contact_close(e, a->contact, 1, "agent's site lost");
		return;
	}
	rl_log(RL_LOG_NOTICE, "agent lost agent=%s silent_s=%llu", a->id, (unsigned long long)(silent / 1000000u));
	rl_agent_logout(e, a, "link lost");
}

/* ---------------------------------------------------------------------------------------- */
/* requests */

/* rl_agent_set_state: an agent (r set) or a supervisor (r NULL) asks for READY, NOT_READY or
 * LOGGED_OUT. During a call a not-ready waits for the call's end. */
static void rl_agent_set_state(struct rl_engine *e, const struct rl_req *r, struct rl_agent *a, Relais__AgentState want,
                               const char *reason)
{
	Relais__AgentState st = a->rec->state;
	int on_call = st == RELAIS__AGENT_STATE__AGENT_RESERVED || st == RELAIS__AGENT_STATE__AGENT_BUSY;

	if (!rl_wire_text_ok(reason, RL_WIRE_MAX_ID)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "reason too long", 0);
		return;
	}
	if (want == RELAIS__AGENT_STATE__AGENT_LOGGED_OUT) {
		if (st == RELAIS__AGENT_STATE__AGENT_BUSY) {
			rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "hang up before logging out", 0);
			return;
		}
		if (r != NULL)
			rl_push_status(e, a, r); /* answer on the session before it ends */
		rl_agent_logout(e, a, reason && reason[0] ? reason : "logout");
		return;
	}
	if (want == RELAIS__AGENT_STATE__AGENT_READY) {
		if (st == RELAIS__AGENT_STATE__AGENT_NOT_READY)
			rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_READY, "");
		else if (st == RELAIS__AGENT_STATE__AGENT_WRAPUP)
			rl_finish_wrapup(e, a, NULL);
		else if (on_call)
			rl_set_pending(e, a, "");
	} else if (want == RELAIS__AGENT_STATE__AGENT_NOT_READY) {
		reason = reason == NULL || !reason[0] ? "break" : reason;
		if (on_call || st == RELAIS__AGENT_STATE__AGENT_WRAPUP)
			rl_set_pending(e, a, reason);
		if (st == RELAIS__AGENT_STATE__AGENT_WRAPUP)
			rl_finish_wrapup(e, a, NULL);
		else if (!on_call)
			rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_NOT_READY, reason);
	} else {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST,
		               "state must be READY, NOT_READY or LOGGED_OUT", 0);
		return;
	}
	rl_push_status(e, a, r);
}

void rl_h_set_state(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	rl_agent_set_state(e, r, r->agent, env->agent_set_state->state, env->agent_set_state->reason);
}

void rl_h_admin_state(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__AdminSetAgentState *as = env->admin_set_agent_state;
	struct rl_agent *a = rl_agent_find(e, as->agent_id);

	if (a == NULL || !(a->tenants & r->scope)) {
		/* An agent of no tenant in the asker's scope is as good as unknown. */
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_AGENT, "unknown agent", 0);
	} else if (!rl_agent_live(a)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "agent is logged out", 0);
	} else if (as->state == RELAIS__AGENT_STATE__AGENT_LOGGED_OUT &&
	           a->rec->state == RELAIS__AGENT_STATE__AGENT_BUSY) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "agent is on a call", 0);
	} else if (as->state != RELAIS__AGENT_STATE__AGENT_READY && as->state != RELAIS__AGENT_STATE__AGENT_NOT_READY &&
	           as->state != RELAIS__AGENT_STATE__AGENT_LOGGED_OUT) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST,
		               "state must be READY, NOT_READY or LOGGED_OUT", 0);
	} else {
		rl_agent_set_state(e, NULL, a, as->state, as->reason && as->reason[0] ? as->reason : "supervisor");
		rl_reply_ok(e, r);
	}
}

static int rl_contact_is(const struct rl_agent *a, const char *cid)
{
	return a->contact != NULL && cid != NULL && strcmp(a->contact->id, cid) == 0;
}

void rl_h_answer(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__OfferAnswer *oa = env->offer_answer;
	struct rl_agent *a = r->agent;
	struct rl_contact *c = a->contact;

	if (a->rec->state != RELAIS__AGENT_STATE__AGENT_RESERVED || !rl_contact_is(a, oa->contact_id)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "no such offer ringing", 0);
		return;
	}
	if (oa->accept) {
		rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_BUSY, "");
		rl_contact_to(e, c, RL_C_ACCEPTED, (e->now - c->rec->enqueued_us) / 1000u);
	} else {
		rl_contact_to(e, c, RL_C_REJECTED, 0);
		rl_agent_after_contact(e, a);
	}
	rl_push_status(e, a, r);
}

void rl_h_hangup(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	struct rl_agent *a = r->agent;
	struct rl_contact *c = a->contact;

	if (a->rec->state != RELAIS__AGENT_STATE__AGENT_BUSY || !rl_contact_is(a, env->contact_hangup->contact_id)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "no such contact connected", 0);
		return;
	}
	rl_agent_start_wrapup(e, a, c);
	rl_contact_end(e, c, RELAIS__CONTACT_OUTCOME__OUTCOME_HANDLED, NULL);
	rl_push_status(e, a, r);
}

void rl_h_wrapup(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__WrapupDone *w = env->wrapup_done;
	struct rl_agent *a = r->agent;

	if (a->rec->state != RELAIS__AGENT_STATE__AGENT_WRAPUP ||
	    (w->contact_id && w->contact_id[0] && strcmp(w->contact_id, a->rec->contact_id) != 0)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "not in wrap-up for that contact", 0);
		return;
	}
	if (!rl_wire_text_ok(w->disposition, RL_WIRE_MAX_ID)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "disposition too long", 0);
		return;
	}
	if (w->extend_s > 0) {
		uint64_t cap = a->wrap_started_us + (uint64_t)RL_WRAP_MAX_S * 1000000u;
		a->rec->deadline_us += (uint64_t)(w->extend_s > RL_WRAP_MAX_S ? RL_WRAP_MAX_S : w->extend_s) * 1000000u;
		if (a->rec->deadline_us > cap)
			a->rec->deadline_us = cap;
		rl_dirty_agent(e, a);
	} else {
		rl_finish_wrapup(e, a, w->disposition);
	}
	rl_push_status(e, a, r);
}
