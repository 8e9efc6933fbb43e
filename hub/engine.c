/*
 * engine.c - batches, dirty records, the outbox, timers, and the gate every request passes.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "relay.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "router.h"
#include "store.h"

/* ---------------------------------------------------------------------------------------- */
/* the request table: who may send what, and how the gate treats it */

enum {
	RL_REQ_ANYTIME = 1,  /* allowed before Hello (Hello itself) */
	RL_REQ_UNPROVEN = 2, /* allowed after Hello, before the link's key is proven */
	RL_REQ_SESSION = 4,  /* speaks for the agent session bound to this link (or chan) */
	RL_REQ_CACHED = 8,   /* answered once per req_id: a repeat gets the first answer */
	RL_REQ_WRITE = 16,   /* may change durable state */
};

struct rl_handler {
	const char *name;
	unsigned who;   /* principals that may send it (RL_WHO_*) */
	unsigned flags; /* RL_REQ_* */
	rl_handler_fn fn;
};

#define RL_SESSION_REQ (RL_REQ_SESSION | RL_REQ_CACHED | RL_REQ_WRITE)
#define RL_B(x)        RELAIS__ENVELOPE__BODY_##x
#define RL_CW          (RL_REQ_CACHED | RL_REQ_WRITE)

/* docs/architecture.md shows this table; keep them in step. */
static const struct rl_handler rl_handlers[] = {
    [RL_B(HELLO)] = {"Hello", RL_WHO_ANY, RL_REQ_ANYTIME, rl_h_hello},
    [RL_B(HEARTBEAT)] = {"Heartbeat", RL_WHO_ANY, RL_REQ_UNPROVEN, rl_h_heartbeat},
    [RL_B(SEATS_ALIVE)] = {"SeatsAlive", RL_WHO_NODE, 0, rl_h_seats_alive},
    [RL_B(AGENT_LOGIN)] = {"AgentLogin", RL_WHO_AGENT, RL_CW, rl_h_login},
    [RL_B(AGENT_RESUME)] = {"AgentResume", RL_WHO_AGENT, RL_CW, rl_h_resume},
    [RL_B(AGENT_SET_STATE)] = {"AgentSetState", RL_WHO_AGENT, RL_SESSION_REQ, rl_h_set_state},
    [RL_B(OFFER_ANSWER)] = {"OfferAnswer", RL_WHO_AGENT, RL_SESSION_REQ, rl_h_answer},
    [RL_B(CONTACT_HANGUP)] = {"ContactHangup", RL_WHO_AGENT, RL_SESSION_REQ, rl_h_hangup},
    [RL_B(CONTACT_TRANSFER)] = {"ContactTransfer", RL_WHO_AGENT, RL_SESSION_REQ, rl_h_transfer},
    [RL_B(WRAPUP_DONE)] = {"WrapupDone", RL_WHO_AGENT, RL_SESSION_REQ, rl_h_wrapup},
    [RL_B(CALL_QUALITY)] = {"CallQuality", RL_WHO_AGENT | RL_WHO_NODE, RL_REQ_WRITE, rl_h_quality},
    [RL_B(SUBMIT_CONTACT)] = {"SubmitContact", RL_WHO_NODE | RL_WHO_ADMIN, RL_CW, rl_h_submit},
    [RL_B(CONTACT_CANCEL)] = {"ContactCancel", RL_WHO_NODE | RL_WHO_ADMIN, RL_CW, rl_h_cancel},
    [RL_B(QUEUE_POSITION)] = {"QueuePosition", RL_WHO_NODE | RL_WHO_ADMIN, RL_REQ_CACHED, rl_h_position},
    [RL_B(TRANSFER_RESULT)] = {"TransferResult", RL_WHO_NODE, RL_CW, rl_h_transfer_result},
    [RL_B(SITE_REGISTER)] = {"SiteRegister", RL_WHO_NODE, RL_CW, rl_h_site_register},
    [RL_B(STATUS_REQUEST)] = {"StatusRequest", RL_WHO_OPS, RL_REQ_CACHED, rl_h_status},
    [RL_B(ADMIN_SET_AGENT_STATE)] = {"AdminSetAgentState", RL_WHO_ADMIN | RL_WHO_SUPERVISOR, RL_CW, rl_h_admin_state},
    [RL_B(SITE_COMMAND)] = {"SiteCommand", RL_WHO_ADMIN | RL_WHO_NOC, RL_CW, rl_h_site_command},
    [RL_B(AUDIT_REQUEST)] = {"AuditRequest", RL_WHO_ADMIN | RL_WHO_NOC, RL_REQ_CACHED, rl_h_audit},
    [RL_B(REPORT_REQUEST)] = {"ReportRequest", RL_WHO_OPS, RL_REQ_CACHED, rl_h_report},
    [RL_B(SITE_MODEL)] = {"SiteModel", RL_WHO_NODE, RL_REQ_CACHED, rl_h_site_model},
    [RL_B(SITE_JOURNAL)] = {"SiteJournal", RL_WHO_NODE, RL_CW, rl_h_site_journal},
    [RL_B(MONITOR_REQUEST)] = {"MonitorRequest", RL_WHO_ADMIN | RL_WHO_SUPERVISOR, RL_REQ_CACHED, rl_h_monitor},
    [RL_B(RECORDING_PAUSE)] = {"RecordingPause", RL_WHO_AGENT, RL_SESSION_REQ, rl_h_recording_pause},
    [RL_B(RECORDING_DONE)] = {"RecordingDone", RL_WHO_NODE, RL_CW, rl_h_recording_done},
    [RL_B(RECORDING_LIST)] = {"RecordingList", RL_WHO_ADMIN | RL_WHO_SUPERVISOR, RL_REQ_CACHED, rl_h_recording_list},
    [RL_B(WALLBOARD_TICKET_REQUEST)] = {"WallboardTicketRequest", RL_WHO_OPS, RL_REQ_CACHED, rl_h_wallboard_ticket},
};

static const struct rl_handler *rl_handler(Relais__Envelope__BodyCase body)
{
	if ((size_t)body >= sizeof(rl_handlers) / sizeof(rl_handlers[0]) || rl_handlers[body].fn == NULL)
		return NULL;
	return &rl_handlers[body];
}

/* rl_principal: who speaks in a frame from peer p on chan (0: nobody proven yet). */
static unsigned rl_principal(const struct rl_peer *p, uint64_t chan)
{
	if (p->who == RL_WHO_NODE && chan != 0)
		return RL_WHO_AGENT; /* relayed for one of the node's agents */
	return p->who;
}

/* rl_replay answers a repeated req_id from cache c (1: answered or in this batch already);
 * else it takes a slot for the answer the handler is about to give. */
static int rl_replay(struct rl_engine *e, uint32_t pipe, uint64_t req_id, struct rl_reply *c, int n, unsigned *next)
{
	struct rl_reply *slot = rl_cache_find(c, n, req_id);

	if (slot != NULL) {
		if (slot->buf != NULL)
			e->send(e->arg, pipe, slot->buf, slot->len);
		return 1;
	}
	slot = &c[*next % (unsigned)n];
	(*next)++;
	free(slot->buf);
	*slot = (struct rl_reply){req_id, NULL, 0};
	return 0;
}

/* rl_gate checks a request against its table row h (NULL: no such request); 0 lets it
 * through, with r completed (principal, session agent, reply cache slot). */
static int rl_gate(struct rl_engine *e, const struct rl_handler *h, struct rl_req *r)
{
	if ((h == NULL || !(h->flags & RL_REQ_ANYTIME)) && (r->peer == NULL || !r->peer->hello)) {
		if (r->req_id != 0 || r->session != 0) {
			r->peer = NULL;
			rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_HELLO_FIRST, "say Hello first", 0);
		}
		return -1;
	}
	if (h == NULL) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "unexpected message", 0);
		return -1;
	}
	if (r->peer != NULL && r->peer->hello) {
		r->who = rl_principal(r->peer, r->chan);
		r->scope = r->who == RL_WHO_AGENT ? RL_SCOPE_ALL : r->peer->scope;
		if (r->peer->who == RL_WHO_NODE)
			rl_site_heard(e, r->peer->site); /* any frame of a proven node: it lives */
	}
	if (r->who == 0 && r->peer != NULL && !(h->flags & (RL_REQ_ANYTIME | RL_REQ_UNPROVEN))) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_FORBIDDEN,
		               "prove who you are first: Hello with your key's proof", 0);
		return -1;
	}
	if (r->who != 0 && !(h->who & r->who)) {
		char msg[RL_WIRE_MAX_TEXT + 1];
		e->ctr.forbidden++;
		snprintf(msg, sizeof(msg), "%s is not for %s", h->name, rl_who_name(r->who));
		rl_log(RL_LOG_NOTICE, "request refused request=%s principal=%s pipe=%u", h->name, rl_who_name(r->who),
		       r->pipe);
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, msg, 0);
		return -1;
	}
	if ((h->flags & RL_REQ_WRITE) && e->unwritable != NULL) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNAVAILABLE, e->unwritable, 1000);
		return -1;
	}
	if (h->flags & RL_REQ_SESSION) {
		if ((r->agent = rl_session_agent(e, r)) == NULL) {
			rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_NOT_LOGGED_IN,
			               "session not bound to this link: resume", 0);
			return -1;
		}
		rl_touch(e, r->agent);
	}
	if ((h->flags & RL_REQ_CACHED) && r->req_id != 0) {
		if (r->agent != NULL)
			return rl_replay(e, r->pipe, r->req_id, r->agent->cache, RL_REPLY_CACHE, &r->agent->cache_next);
		return rl_replay(e, r->pipe, r->req_id, r->peer->cache, RL_PEER_CACHE, &r->peer->next);
	}
	return 0;
}

void rl_engine_input(struct rl_engine *e, uint32_t pipe, const rl_env *env)
{
	struct rl_req r = {pipe, env->chan, env->req_id, env->session, rl_peer_find(e, pipe), 0, 0, NULL};
	const struct rl_handler *h = rl_handler(env->body_case);
	size_t dirty;

	e->ctr.requests++;
	if (rl_gate(e, h, &r) != 0)
		return;
	/* (the gate may write: a lost site heard again resumes its contacts) */
	dirty = e->dirty_agents.n + e->dirty_contacts.n;
	h->fn(e, &r, env);
	/* The table says which requests write; one that does not must leave every record as
	 * it was (rl_engine_check reports a breach). */
	if (!(h->flags & RL_REQ_WRITE) && e->dirty_agents.n + e->dirty_contacts.n != dirty) {
		e->ctr.table_breaches++;
		rl_log(RL_LOG_ERR, "read-only request changed records request=%s", h->name);
	}
}

void rl_engine_bad_version(struct rl_engine *e, uint32_t pipe, const rl_env *env)
{
	struct rl_req r = {pipe, env->chan, env->req_id, env->session, NULL, 0, 0, NULL};
	rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_VERSION, "unsupported protocol version; this hub speaks 1", 0);
}

/* ---------------------------------------------------------------------------------------- */
/* small helpers shared by the rooms */

int rl_find_id(const char *id, const void *base, size_t stride, int n)
{
	for (int i = 0; id != NULL && i < n; i++)
		if (strcmp((const char *)base + (size_t)i * stride, id) == 0)
			return i;
	return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* the outbox: nothing leaves before the batch commits */

void rl_out_push(struct rl_engine *e, uint32_t pipe, uint64_t chan, uint64_t session, uint64_t req_id, rl_env *env,
                 struct rl_agent *cache_agent, uint32_t cache_pipe)
{
	const uint8_t *frame;
	uint8_t *buf = NULL;
	size_t len, off = 0;

	if (pipe == 0)
		return;
	env->chan = chan;
	env->session = session;
	env->req_id = req_id;
	if ((len = rl_wire_frame(env, &frame)) == 0) {
		e->ctr.send_drops++;
		return;
	}
	if (req_id && (cache_agent != NULL || cache_pipe != 0)) { /* a reply its cache may keep */
		buf = rl_malloc(len);
		memcpy(buf, frame, len);
	} else { /* sent and forgotten: no allocation of its own */
		if (e->olen + len > e->ocap) {
			e->ocap = e->olen + len > 2 * e->ocap ? e->olen + len : 2 * e->ocap;
			e->obytes = rl_realloc(e->obytes, e->ocap);
		}
		memcpy(e->obytes + e->olen, frame, len);
		off = e->olen;
		e->olen += len;
	}
	if (e->nout == e->capout) {
		e->capout = e->capout ? e->capout * 2 : 256;
		e->out = rl_realloc(e->out, e->capout * sizeof(*e->out));
	}
	e->out[e->nout++] = (struct rl_out){pipe, buf, off, len, req_id, cache_agent, cache_pipe, 0};
	if (!e->in_batch)
		rl_engine_commit(e); /* outside a batch (nothing to make durable): send at once */
}

void rl_reply(struct rl_engine *e, const struct rl_req *r, rl_env *env)
{
	if (r == NULL)
		return; /* an internal change (supervisor, timer): no one to answer */
	rl_out_push(e, r->pipe, r->chan, r->session, r->req_id, env, r->req_id ? r->agent : NULL,
	            r->req_id && r->agent == NULL && r->peer ? r->pipe : 0);
}

void rl_reply_error(struct rl_engine *e, const struct rl_req *r, Relais__ErrorCode code, const char *msg,
                    uint32_t retry_ms)
{
	Relais__Error er;
	rl_env env;

	rl_wire_error(&env, &er, code, msg, retry_ms);
	rl_reply(e, r, &env);
}

void rl_reply_ok(struct rl_engine *e, const struct rl_req *r)
{
	Relais__Ok ok = RELAIS__OK__INIT;
	rl_env env;

	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_OK;
	env.ok = &ok;
	rl_reply(e, r, &env);
}

/* rl_out_send sends o and keeps a reply in its cache slot (taking o->buf), else frees it. */
static void rl_out_send(struct rl_engine *e, struct rl_out *o)
{
	struct rl_reply *slot = NULL;

	if (o->buf == NULL) {
		e->send(e->arg, o->pipe, e->obytes + o->off, o->len);
		return;
	}
	e->send(e->arg, o->pipe, o->buf, o->len);
	if (o->req_id && o->agent)
		slot = rl_cache_find(o->agent->cache, RL_REPLY_CACHE, o->req_id);
	else if (o->req_id && o->peer_pipe) {
		struct rl_peer *p = rl_peer_find(e, o->peer_pipe);
		slot = p ? rl_cache_find(p->cache, RL_PEER_CACHE, o->req_id) : NULL;
	}
	if (slot != NULL && slot->buf == NULL) {
		slot->buf = o->buf; /* the cache keeps the encoded reply for repeats */
		slot->len = o->len;
	} else {
		free(o->buf);
	}
}

static void rl_out_flush(struct rl_engine *e)
{
	for (size_t i = 0; i < e->nout; i++)
		rl_out_send(e, &e->out[i]);
	e->nout = e->olen = 0;
}

/* rl_out_park moves the outbox behind the held messages, waiting for batch seq. */
static void rl_out_park(struct rl_engine *e, uint64_t seq)
{
	if (e->nheld + e->nout > e->capheld) {
		if (e->held_off > 0) { /* slide the waiting ones down first */
			memmove(e->held, e->held + e->held_off, (e->nheld - e->held_off) * sizeof(*e->held));
			e->nheld -= e->held_off;
			e->held_off = 0;
		}
		while (e->nheld + e->nout > e->capheld)
			e->capheld = e->capheld ? e->capheld * 2 : 256;
		e->held = rl_realloc(e->held, e->capheld * sizeof(*e->held));
	}
	for (size_t i = 0; i < e->nout; i++) {
		struct rl_out *o = &e->out[i];
		if (o->buf == NULL) { /* held past this batch: a copy of its own */
			o->buf = rl_malloc(o->len);
			memcpy(o->buf, e->obytes + o->off, o->len);
		}
		o->seq = seq;
		e->held[e->nheld++] = *o;
	}
	e->nout = e->olen = 0;
}

void rl_engine_release(struct rl_engine *e, uint64_t seq)
{
	while (e->held_off < e->nheld && e->held[e->held_off].seq <= seq)
		rl_out_send(e, &e->held[e->held_off++]);
	if (e->held_off == e->nheld)
		e->held_off = e->nheld = 0;
}

void rl_engine_refuse_writes(struct rl_engine *e, const char *why)
{
	if (why != NULL && e->unwritable == NULL)
		rl_log(RL_LOG_WARNING, "requests that write are refused reason=\"%s\"", why);
	else if (why == NULL && e->unwritable != NULL)
		rl_log(RL_LOG_NOTICE, "requests that write are taken again");
	e->unwritable = why;
}

size_t rl_engine_held(const struct rl_engine *e)
{
	return e->nheld - e->held_off;
}

void rl_engine_set_hold(struct rl_engine *e, rl_engine_commit_fn fn, void *arg)
{
	e->hold_fn = fn;
	e->hold_arg = arg;
}

void rl_engine_set_ha_stat(struct rl_engine *e, rl_engine_ha_fn fn, void *arg)
{
	e->ha_stat = fn;
	e->ha_arg = arg;
}

struct rl_store *rl_engine_store(struct rl_engine *e)
{
	return e->store;
}

static void rl_out_drop(struct rl_engine *e)
{
	for (size_t i = 0; i < e->nout; i++)
		free(e->out[i].buf);
	e->nout = e->olen = 0;
}

/* rl_held_drop frees what waits for a standby that will not answer any more (closing). */
static void rl_held_drop(struct rl_engine *e)
{
	for (size_t i = e->held_off; i < e->nheld; i++)
		free(e->held[i].buf);
	e->held_off = e->nheld = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* dirty records: each written once, at commit */

void rl_ptrs_push(struct rl_ptrs *p, void *v)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->v = rl_realloc(p->v, p->cap * sizeof(*p->v));
	}
	p->v[p->n++] = v;
}

void rl_dirty_agent(struct rl_engine *e, struct rl_agent *a)
{
	if (!a->dirty) {
		a->dirty = 1;
		rl_ptrs_push(&e->dirty_agents, a);
	}
}

void rl_dirty_contact(struct rl_engine *e, struct rl_contact *c)
{
	if (!c->dirty) {
		c->dirty = 1;
		rl_ptrs_push(&e->dirty_contacts, c);
	}
}

/* rl_dirty_flush writes every dirty record (write = 0: drops them, for an aborted batch) and
 * frees the contacts that ended in the batch. */
static void rl_dirty_flush(struct rl_engine *e, int write)
{
	for (size_t i = 0; i < e->dirty_agents.n; i++) {
		struct rl_agent *a = e->dirty_agents.v[i];
		if (write)
			rl_store_put_agent(e->store, a->rec);
		a->dirty = 0;
		rl_agent_schedule(e, a); /* its timers as the batch left it */
	}
	for (size_t i = 0; i < e->dirty_contacts.n; i++) {
		struct rl_contact *c = e->dirty_contacts.v[i];
		if (write)
			rl_store_put_contact(e->store, c->rec, !c->ended);
		c->dirty = 0;
		if (c->ended)
			rl_contact_destroy(c);
	}
	e->dirty_agents.n = e->dirty_contacts.n = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* batches */

int rl_engine_begin(struct rl_engine *e, uint64_t now_us)
{
	int rv;

	/* Wall clock may step back (NTP); the model's time never does. */
	if (now_us > e->now)
		e->now = now_us;
	if ((rv = rl_store_begin(e->store)) != RL_OK)
		return rv;
	e->in_batch = 1;
	return RL_OK;
}

int rl_engine_commit(struct rl_engine *e)
{
	int rv;

	if (e->in_batch) {
		rl_route(e);
		e->in_batch = 0;
		rl_dirty_flush(e, 1);
		/* A failed write or commit: memory is ahead of disk; the caller stops and a
		 * restart recovers from the last commit. */
		if ((rv = rl_store_commit(e->store)) != RL_OK) {
			rl_out_drop(e);
			return rv;
		}
		if (e->hold_fn != NULL)
			e->hold_fn(e->hold_arg, e->store);
	}
	if (e->hold_fn != NULL) {
		struct rl_store_pos pos;
		rl_store_pos(e->store, &pos);
		rl_out_park(e, pos.seq); /* after the last batch, even if not of one */
	} else {
		rl_out_flush(e);
	}
	return RL_OK;
}

void rl_engine_abort(struct rl_engine *e)
{
	rl_dirty_flush(e, 0);
	rl_store_abort(e->store);
	e->in_batch = 0;
	rl_out_drop(e);
}

/* ---------------------------------------------------------------------------------------- */
/* timers */

void rl_engine_tick(struct rl_engine *e)
{
	/* Link loss is judged on the batch clock too, so tests can drive it. */
	rl_site_tick(e);
	rl_wheel_tick(e);
	/* Overflow opens with time: every queue with waiting contacts gets another look. */
	for (int q = 0; q < e->nqueues; q++)
		if (e->queues[q].nheap && e->queues[q].noverflow)
			e->queues[q].dirty = 1;
}

/* ---------------------------------------------------------------------------------------- */
/* the engine's life */

/* rl_engine_capture: a pair's leader captures its batches from the restore on, in its term. */
static int rl_engine_capture(struct rl_engine *e, const struct rl_hub_conf *conf)
{
	if (conf->capture) {
		rl_store_set_term(e->store, conf->term);
		rl_store_capture(e->store, 1);
	}
	return RL_OK;
}

int rl_engine_open(struct rl_engine **out, const struct rl_hub_conf *conf, const config_t *cfg, rl_engine_send_fn send,
                   void *send_arg, rl_engine_auth_fn auth, void *auth_arg, uint64_t now_us)
{
	struct rl_engine *e = rl_calloc(1, sizeof(*e));
	int rv;

	e->conf = *conf;
	e->send = send;
	e->auth = auth;
	e->arg = send_arg;
	e->auth_arg = auth_arg;
	e->now = now_us;
	relais__hub_counters__init(&e->wire);
	if ((rv = rl_provision(e, cfg)) != RL_OK || (rv = rl_survive_provision(e, cfg)) != RL_OK ||
	    (rv = rl_store_open(&e->store, conf->data_dir, (size_t)conf->map_size_mb)) != RL_OK ||
	    (rv = rl_engine_capture(e, conf)) != RL_OK || (rv = rl_provision_agents(e, cfg)) != RL_OK ||
	    (rv = rl_restore(e)) != RL_OK) {
		rl_engine_close(e);
		return rv;
	}
	e->wheel_us = e->now;
	for (int i = 0; i < e->nagents; i++)
		rl_agent_schedule(e, e->agents[i]);
	rl_log(RL_LOG_NOTICE, "hub model loaded sites=%d tenants=%d queues=%d agents=%d live_contacts=%zu", e->nsites,
	       e->ntenants, e->nqueues, e->nagents, e->contact_by_id.len);
	*out = e;
	return RL_OK;
}

void rl_engine_close(struct rl_engine *e)
{
	if (e == NULL)
		return;
	if (e->store != NULL)
		rl_engine_abort(e);
	rl_held_drop(e);
	free(e->held);
	rl_report_forget(e);
	for (size_t i = 0; i < e->contact_by_id.cap; i++) {
		struct rl_contact *c = e->contact_by_id.ents[i].val;
		if (c != NULL) {
			rl_plan_free(c->plan, e->relay);
			rl_contact_destroy(c);
		}
	}
	rl_monitor_fini(e);
	for (size_t i = 0; i < e->peers.cap; i++)
		rl_peer_free(e->peers.ents[i].val);
	for (int i = 0; i < e->nagents; i++)
		rl_agent_free(e->agents[i]);
	for (int q = 0; q < e->nqueues; q++) {
		free(e->queues[q].heap);
		rl_reasons_free(&e->queues[q].reasons);
	}
	free(e->queues);
	free(e->agents);
	free(e->masks);
	rl_reasons_free(&e->reasons);
	for (int t = 0; t < RL_MAX_TENANTS; t++)
		free(e->tenant_agents[t]);
	rl_dialplan_pb_free(e->dialplan);
	for (int i = 0; i < e->nsites; i++)
		free(e->sites[i].model);
	rl_dialplan_unref(e->dialplan_src);
	free(e->out);
	free(e->obytes);
	free(e->dirty_agents.v);
	free(e->dirty_contacts.v);
	rl_operators_free(e->operators, e->noperators);
	free(e->op_scope);
	rl_htab_fini(&e->agent_by_id);
	rl_htab_fini(&e->agent_by_session);
	rl_htab_fini(&e->contact_by_id);
	rl_htab_fini(&e->peers);
	rl_store_close(e->store);
	free(e);
}

const struct rl_engine_counters *rl_engine_counters(const struct rl_engine *e)
{
	return &e->ctr;
}

void rl_engine_set_wire_counters(struct rl_engine *e, const Relais__HubCounters *c)
{
	e->wire.frames = c->frames;
	e->wire.malformed = c->malformed;
	e->wire.oversized = c->oversized;
	e->wire.bad_version = c->bad_version;
	e->wire.bad_field = c->bad_field;
	e->wire.send_drops = c->send_drops;
	e->wire.peer_resets = c->peer_resets;
	e->wire.link_drops = c->link_drops;
	e->wire.silent_links = c->silent_links;
}

void rl_engine_set_addr_fn(struct rl_engine *e, rl_engine_addr_fn fn, void *arg)
{
	e->addr_of = fn;
	e->addr_arg = arg;
}

void rl_engine_set_media(struct rl_engine *e, struct rl_relay *relay, int suite)
{
	e->relay = relay;
	e->suite = suite;
}
