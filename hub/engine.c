#include "engine.h"

#include <netinet/in.h>
#include <nng/nng.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "plan.h"
#include "relay.h"
#include "rl_alloc.h"
#include "rl_config.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_secret.h"
#include "rl_time.h"
#include "router.h"
#include "store.h"

#define RL_OFFER_VERIFY       1 /* re-check offers against stored records (the invariant) */
#define RL_STATUS_AGENT_ROWS  400
#define RL_WRAP_MAX_S         3600
#define RL_AHT_WEIGHT         0.1 /* weight of the newest call in a queue's recent handle time */
#define RL_RECENT_CALLS       64
#define RL_STATUS_CALL_ROWS   182 /* live + recent calls in one status reply (fits a frame) */
#define RL_STATUS_RECENT_ROWS 32  /* ended calls relaisctl still shows with their quality */

/* A call that ended, for `relaisctl status calls`. */
struct rl_recent {
	char id[RL_WIRE_MAX_ID + 1], agent[RL_WIRE_MAX_ID + 1], site[RL_WIRE_MAX_ID + 1];
	int tenant, relayed;
	uint64_t answered_us, ended_us;
	struct rl_call_quality quality;
};

struct rl_out {
	uint32_t pipe;
	uint8_t *buf;
	size_t len;
	uint64_t req_id;        /* nonzero: fill a reply cache slot */
	struct rl_agent *agent; /* cache owner: an agent session ... */
	uint32_t peer_pipe;     /* ... or a link */
};

struct rl_peer {
	uint32_t pipe;
	int role;
	int site;
	int hello;
	struct rl_reply cache[RL_PEER_CACHE];
	unsigned next;
};

/*
 * Failed-login lockouts, keyed by the id the client gave (known or not, so refusals do
 * not tell which ids exist). A fixed table: an attacker cycling ids only recycles slots.
 */
#define RL_LOCKS 4096
struct rl_lock {
	uint64_t h;
	unsigned failures;
	uint64_t until_us;
};

struct rl_engine {
	struct rl_hub_conf conf;
	struct rl_lock locks[RL_LOCKS];
	struct rl_store *store;
	rl_engine_send_fn send;
	rl_engine_auth_fn auth;
	void *arg;
	void *auth_arg;

	struct rl_tenant tenants[RL_MAX_TENANTS];
	int ntenants;
	struct rl_site sites[RL_MAX_SITES];
	int nsites;
	struct rl_queue *queues;
	int nqueues;
	char skills[RL_MAX_SKILLS][RL_WIRE_MAX_ID + 1];
	int nskills;
	struct rl_agent **agents;
	int nagents;

	struct rl_htab agent_by_id, agent_by_session, contact_by_id, peers;

	uint64_t now;     /* wall clock of the batch */
	int write_failed; /* a store write of this batch failed: the batch must not commit */
	uint64_t last_reach_check;
	int in_batch;
	struct rl_out *out;
	size_t nout, capout;
	struct rl_engine_counters ctr;
	Relais__HubCounters wire;

	/* voice path */
	struct rl_relay *relay; /* NULL: no relay (every agent talks to the site) */
	int suite;              /* SRTP suite of new plans */
	int relay_check_ip;     /* relay legs latch only from their control link's IP */
	uint64_t relay_seq;
	uint32_t plan_epoch;
	Relais__MediaLeg scratch_leg; /* filled and encoded at once by the status/update pushes */
	struct rl_recent recent[RL_RECENT_CALLS];
	unsigned nrecent;
};

/* ---------------------------------------------------------------------------------------- */
/* small helpers */

static int rl_eq_agent(const void *v, const void *k)
{
	return strcmp(((const struct rl_agent *)v)->id, k) == 0;
}

static int rl_eq_contact(const void *v, const void *k)
{
	return strcmp(((const struct rl_contact *)v)->id, k) == 0;
}

static int rl_eq_session(const void *v, const void *k)
{
	return ((const struct rl_agent *)v)->rec->session == *(const uint64_t *)k;
}

static struct rl_agent *rl_agent_find(struct rl_engine *e, const char *id)
{
	return id ? rl_htab_get(&e->agent_by_id, rl_htab_hash(id), rl_eq_agent, id) : NULL;
}

static struct rl_agent *rl_agent_by_session(struct rl_engine *e, uint64_t s)
{
	return s ? rl_htab_get(&e->agent_by_session, s, rl_eq_session, &s) : NULL;
}

static struct rl_contact *rl_contact_find(struct rl_engine *e, const char *id)
{
	return id ? rl_htab_get(&e->contact_by_id, rl_htab_hash(id), rl_eq_contact, id) : NULL;
}

static struct rl_peer *rl_peer_find(struct rl_engine *e, uint32_t pipe)
{
	return rl_htab_get(&e->peers, pipe, NULL, NULL);
}

static int rl_find_id(const char *id, const void *base, size_t stride, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp((const char *)base + (size_t)i * stride, id) == 0)
			return i;
	return -1;
}

#define rl_tenant_idx(e, id) rl_find_id(id, (e)->tenants, sizeof(struct rl_tenant), (e)->ntenants)
#define rl_site_idx(e, id)   rl_find_id(id, (e)->sites, sizeof(struct rl_site), (e)->nsites)
#define rl_queue_idx(e, id)  rl_find_id(id, (e)->queues, sizeof(struct rl_queue), (e)->nqueues)

static int rl_skill_idx(struct rl_engine *e, const char *name, int create)
{
	for (int i = 0; i < e->nskills; i++)
		if (strcmp(e->skills[i], name) == 0)
			return i;
	if (!create || e->nskills == RL_MAX_SKILLS)
		return -1;
	snprintf(e->skills[e->nskills], sizeof(e->skills[0]), "%s", name);
	return e->nskills++;
}

/* rl_set_str replaces a protobuf-c string field (heap-owned by us). */
static void rl_set_str(char **field, const char *v)
{
	char *n = rl_strdup(v);
	if (n == NULL)
		return;
	if (*field != NULL && *field != protobuf_c_empty_string)
		free(*field);
	*field = n;
}

static uint32_t rl_day(uint64_t us)
{
	return (uint32_t)(us / 86400000000ULL);
}

/* ---------------------------------------------------------------------------------------- */
/* outbox: nothing leaves before the batch commits */

static void rl_out_push(struct rl_engine *e, uint32_t pipe, uint64_t chan, uint64_t session, uint64_t req_id,
                        rl_env *env, struct rl_agent *cache_agent, uint32_t cache_pipe)
{
	uint8_t *buf;
	size_t len;

	if (pipe == 0)
		return;
	env->chan = chan;
	env->session = session;
	env->req_id = req_id;
	if (rl_wire_encode(env, &buf, &len) != RL_OK) {
		e->ctr.send_drops++;
		return;
	}
	if (e->nout == e->capout) {
		size_t ncap = e->capout ? e->capout * 2 : 256;
		struct rl_out *n = realloc(e->out, ncap * sizeof(*n));
		if (n == NULL) {
			free(buf);
			e->ctr.send_drops++;
			return;
		}
		e->out = n;
		e->capout = ncap;
	}
	e->out[e->nout++] = (struct rl_out){pipe, buf, len, req_id, cache_agent, cache_pipe};
	if (!e->in_batch) {
		/* Outside a batch (nothing to make durable): send at once. */
		rl_engine_commit(e);
	}
}

/* Reply caches: a repeated req_id is answered from here and never applied twice. */
static struct rl_reply *rl_cache_find(struct rl_reply *c, int n, uint64_t req_id)
{
	for (int i = 0; i < n; i++)
		if (c[i].req_id == req_id)
			return &c[i];
	return NULL;
}

static struct rl_reply *rl_cache_slot(struct rl_reply *c, int n, unsigned *next, uint64_t req_id)
{
	struct rl_reply *r = &c[*next % (unsigned)n];

	(*next)++;
	free(r->buf);
	r->buf = NULL;
	r->len = 0;
	r->req_id = req_id;
	return r;
}

/* Request context: who asked, and where the answer goes. */
struct rl_req {
	uint32_t pipe;
	uint64_t chan;
	uint64_t req_id;
	uint64_t session;
	struct rl_peer *peer;
	struct rl_agent *agent; /* session-bound requests */
};

static void rl_reply(struct rl_engine *e, const struct rl_req *r, rl_env *env)
{
	if (r == NULL)
		return; /* an internal change (supervisor, timer): no one to answer */
	rl_out_push(e, r->pipe, r->chan, r->session, r->req_id, env, r->req_id ? r->agent : NULL,
	            r->req_id && r->agent == NULL && r->peer ? r->pipe : 0);
}

static void rl_reply_error(struct rl_engine *e, const struct rl_req *r, Relais__ErrorCode code, const char *msg,
                           uint32_t retry_ms)
{
	Relais__Error er = RELAIS__ERROR__INIT;
	rl_env env;

	rl_env_init(&env);
	er.code = code;
	er.message = (char *)msg;
	er.retry_after_ms = retry_ms;
	env.body_case = RELAIS__ENVELOPE__BODY_ERROR;
	env.error = &er;
	rl_reply(e, r, &env);
}

static void rl_reply_ok(struct rl_engine *e, const struct rl_req *r)
{
	Relais__Ok ok = RELAIS__OK__INIT;
	rl_env env;

	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_OK;
	env.ok = &ok;
	rl_reply(e, r, &env);
}

/* ---------------------------------------------------------------------------------------- */
/* events and persistence */

static void rl_event(struct rl_engine *e, Relais__EventType type, const struct rl_contact *c, const struct rl_agent *a,
                     uint64_t wait_ms, const char *detail)
{
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;

	ev.ts_us = e->now;
	ev.type = type;
	if (c != NULL) {
		ev.contact_id = c->rec->contact_id;
		ev.queue_id = c->rec->queue_id;
		ev.tenant_id = c->rec->tenant_id;
		ev.site_id = c->rec->site_id;
	}
	if (a != NULL) {
		ev.agent_id = a->rec->agent_id;
		ev.agent_state = a->rec->state;
		if (c == NULL)
			ev.site_id = a->rec->site_id;
	}
	ev.wait_ms = wait_ms;
	ev.detail = (char *)(detail ? detail : "");
	if (rl_store_event(e->store, &ev) != RL_OK) {
		rl_log(RL_LOG_ERR, "event append failed type=%d", type);
		e->write_failed = 1;
	}
}

static void rl_save_agent(struct rl_engine *e, struct rl_agent *a)
{
	if (rl_store_put_agent(e->store, a->rec) != RL_OK) {
		rl_log(RL_LOG_ERR, "agent write failed agent=%s", a->id);
		e->write_failed = 1;
	}
}

static void rl_save_contact(struct rl_engine *e, struct rl_contact *c)
{
	if (rl_store_put_contact(e->store, c->rec, c->rec->state != RELAIS__CONTACT_STATE__CONTACT_ENDED) != RL_OK) {
		rl_log(RL_LOG_ERR, "contact write failed contact=%s", c->id);
		e->write_failed = 1;
	}
}

static void rl_contact_free(struct rl_contact *c)
{
	/* The plan's relay call is released in rl_end_contact / rl_engine_close. */
	if (c == NULL)
		return;
	relais__contact_record__free_unpacked(c->rec, NULL);
	free(c);
}

/* Records we build ourselves use malloc'd strings; free_unpacked(NULL) frees them too. */
static Relais__ContactRecord *rl_contact_rec_new(void)
{
	Relais__ContactRecord *r = calloc(1, sizeof(*r));
	if (r != NULL)
		relais__contact_record__init(r);
	return r;
}

/* ---------------------------------------------------------------------------------------- */
/* pushes */

/* ---------------------------------------------------------------------------------------- */
/* voice path: media plans, quality reports */

static int rl_agent_request_ok(struct rl_engine *e, const struct rl_req *r, struct rl_agent *a);

/* rl_pipe_ip: the remote IP of a control link (port 0), for the relay's latching rule. */
static int rl_pipe_ip(uint32_t pipe, struct sockaddr_storage *ss)
{
	nng_pipe p = NNG_PIPE_INITIALIZER;
	nng_sockaddr sa;

	p.id = pipe;
	memset(ss, 0, sizeof(*ss));
	if (pipe == 0 || nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
		return -1;
	if (sa.s_family == NNG_AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = sa.s_in.sa_addr;
		return 0;
	}
	if (sa.s_family == NNG_AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		memcpy(in6->sin6_addr.s6_addr, sa.s_in6.sa_addr, 16);
		return 0;
	}
	return -1;
}

/* rl_plan_ensure returns the media plan of a connected contact, making it on first use. */
static struct rl_plan *rl_plan_ensure(struct rl_engine *e, struct rl_contact *c)
{
	struct rl_agent *a = c->agent;
	struct rl_plan_where w = {0};
	struct sockaddr_storage ips, ipa;
	int rv;

	if (c->plan != NULL)
		return c->plan;
	if (c->rec->state != RELAIS__CONTACT_STATE__CONTACT_CONNECTED || a == NULL)
		return NULL;
	w.site_media = c->site >= 0 ? e->sites[c->site].media_addr : "";
	w.seated_here = a->site >= 0 && a->site == c->site;
	w.relay = e->relay;
	w.relay_id = ++e->relay_seq;
	w.suite = e->suite;
	w.epoch = ++e->plan_epoch;
	if (e->relay_check_ip) {
		if (c->site >= 0 && rl_pipe_ip(e->sites[c->site].pipe, &ips) == 0)
			w.ip_site = (const struct sockaddr *)&ips;
		if (a->bound && rl_pipe_ip(a->pipe, &ipa) == 0)
			w.ip_agent = (const struct sockaddr *)&ipa;
	}
	if ((rv = rl_plan_new(&c->plan, &w)) != RL_OK) {
		/* Asked again at every push for this call: said once. */
		if (!c->no_media_logged)
			rl_log(RL_LOG_WARNING, "no media path contact=%s agent=%s err=\"%s\"", c->id, a->id,
			       rl_strerror(rv));
		c->no_media_logged = 1;
		return NULL;
	}
	rl_log(RL_LOG_INFO, "call media contact=%s agent=%s relayed=%d", c->id, a->id, c->plan->relay_id != 0);
	return c->plan;
}

static struct rl_recent *rl_recent_find(struct rl_engine *e, const char *id)
{
	for (unsigned i = 0; i < RL_RECENT_CALLS; i++)
		if (e->recent[i].id[0] && strcmp(e->recent[i].id, id) == 0)
			return &e->recent[i];
	return NULL;
}

/* rl_call_finish keeps an ending call's quality in its record and the recent list, and
 * releases its relay call. */
static void rl_call_finish(struct rl_engine *e, struct rl_contact *c)
{
	struct rl_plan *pl = c->plan;
	struct rl_recent *r = &e->recent[e->nrecent++ % RL_RECENT_CALLS];

	c->rec->relayed = pl->relay_id != 0;
	if (c->rec->quality_site == NULL)
		c->rec->quality_site = rl_quality_dup(&pl->quality, RL_SIDE_SITE);
	if (c->rec->quality_agent == NULL)
		c->rec->quality_agent = rl_quality_dup(&pl->quality, RL_SIDE_AGENT);
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", c->id);
	snprintf(r->agent, sizeof(r->agent), "%s", c->rec->agent_id ? c->rec->agent_id : "");
	snprintf(r->site, sizeof(r->site), "%s", c->rec->site_id ? c->rec->site_id : "");
	r->tenant = e->queues[c->queue].tenant;
	r->relayed = pl->relay_id != 0;
	r->answered_us = c->rec->answered_us;
	r->ended_us = e->now;
	r->quality = pl->quality;
	rl_plan_free(pl, e->relay);
	c->plan = NULL;
}

/* A quality report from a site (for its own contact) or an agent (for its own call). Reports
 * about a call that has ended (the final one usually) go to its record. */
static void rl_do_quality(struct rl_engine *e, const struct rl_req *r, const rl_env *env)
{
	const Relais__CallQuality *q = env->call_quality;
	const char *cid = q->contact_id ? q->contact_id : "";
	struct rl_contact *c = rl_contact_find(e, cid);
	struct rl_recent *rc = c ? NULL : rl_recent_find(e, cid);
	struct rl_agent *a = NULL;
	Relais__ContactRecord *rec;
	int side;

	if (env->session != 0) {
		a = rl_agent_by_session(e, env->session);
		if (!rl_agent_request_ok(e, r, a))
			return;
		side = RL_SIDE_AGENT;
		if ((c && c->agent != a) || (rc && strcmp(rc->agent, a->id) != 0))
			return;
	} else if (r->peer->role == RELAIS__ROLE__ROLE_NODE && env->chan == 0 && r->peer->site >= 0) {
		side = RL_SIDE_SITE;
		if ((c && c->site != r->peer->site) || (rc && strcmp(rc->site, e->sites[r->peer->site].id) != 0))
			return;
	} else {
		return;
	}
	if (c != NULL) {
		if (c->plan != NULL)
			rl_quality_keep(&c->plan->quality, side, q);
		return;
	}
	if (rc == NULL)
		return;
	rl_quality_keep(&rc->quality, side, q);
	if (rl_store_get_contact(e->store, cid, &rec) != RL_OK)
		return;
	Relais__CallQuality **slot = side == RL_SIDE_SITE ? &rec->quality_site : &rec->quality_agent;
	if (*slot != NULL)
		relais__call_quality__free_unpacked(*slot, NULL);
	*slot = rl_quality_dup(&rc->quality, side);
	if (rl_store_put_contact(e->store, rec, 0) != RL_OK) {
		rl_log(RL_LOG_ERR, "contact write failed contact=%s", cid);
		e->write_failed = 1;
	}
	relais__contact_record__free_unpacked(rec, NULL);
}

void rl_engine_set_media(struct rl_engine *e, struct rl_relay *relay, int suite, int check_ip)
{
	e->relay = relay;
	e->suite = suite;
	e->relay_check_ip = check_ip;
}

static void rl_fill_offer(struct rl_engine *e, Relais__Offer *o, const struct rl_contact *c)
{
	relais__offer__init(o);
	o->contact_id = c->rec->contact_id;
	o->tenant_id = c->rec->tenant_id;
	o->queue_id = c->rec->queue_id;
	o->priority = c->rec->priority;
	o->pop = c->rec->pop;
	o->enqueued_us = c->rec->enqueued_us;
	o->offered_us = c->rec->offered_us;
	o->state = c->rec->state;
	o->site_id = c->rec->site_id;
}

static void rl_fill_status(struct rl_engine *e, Relais__AgentStatus *st, Relais__Offer *o, const struct rl_agent *a)
{
	relais__agent_status__init(st);
	st->agent_id = a->rec->agent_id;
	st->state = a->rec->state;
	st->reason = a->rec->reason;
	st->state_since_us = a->rec->state_since_us;
	st->deadline_us = a->rec->deadline_us;
	st->site_id = a->rec->site_id;
	st->n_tenants = a->rec->n_tenants;
	st->tenants = a->rec->tenants;
	if (a->contact != NULL) {
		struct rl_plan *pl;
		rl_fill_offer(e, o, a->contact);
		st->contact = o;
		if (a->contact->rec->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED &&
		    (pl = rl_plan_ensure(e, a->contact)) != NULL) {
			rl_plan_leg(pl, a->contact->id, 1, &e->scratch_leg);
			st->media = &e->scratch_leg;
		}
	} else if (a->rec->contact_id && a->rec->contact_id[0]) {
		relais__offer__init(o);
		o->contact_id = a->rec->contact_id;
		o->state = RELAIS__CONTACT_STATE__CONTACT_ENDED;
		st->contact = o;
	}
}

static void rl_push_status(struct rl_engine *e, struct rl_agent *a, const struct rl_req *r)
{
	Relais__AgentStatus st;
	Relais__Offer o;
	rl_env env;

	rl_env_init(&env);
	rl_fill_status(e, &st, &o, a);
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_STATUS;
	env.agent_status = &st;
	if (r != NULL)
		rl_reply(e, r, &env);
	else if (a->bound)
		rl_out_push(e, a->pipe, a->chan, a->rec->session, 0, &env, NULL, 0);
}

static void rl_push_update(struct rl_engine *e, const struct rl_contact *c)
{
	Relais__ContactUpdate u = RELAIS__CONTACT_UPDATE__INIT;
	rl_env env;

	if (c->site < 0 || e->sites[c->site].pipe == 0)
		return;
	rl_env_init(&env);
	u.contact_id = c->rec->contact_id;
	u.ext_id = c->rec->ext_id;
	u.state = c->rec->state;
	u.outcome = c->rec->outcome;
	u.agent_id = c->rec->agent_id;
	u.agent_site = (char *)"";
	if (c->agent != NULL)
		u.agent_site = c->agent->rec->site_id;
	if (c->rec->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED) {
		struct rl_plan *pl = rl_plan_ensure(e, (struct rl_contact *)c);
		if (pl != NULL) {
			rl_plan_leg(pl, c->id, 0, &e->scratch_leg);
			u.media = &e->scratch_leg;
		}
		u.transfer_to = c->rec->transfer_to;
	}
	env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_UPDATE;
	env.contact_update = &u;
	rl_out_push(e, e->sites[c->site].pipe, 0, 0, 0, &env, NULL, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* agent state */

static int rl_agent_live(const struct rl_agent *a)
{
	return a->rec->state != RELAIS__AGENT_STATE__AGENT_LOGGED_OUT &&
	       a->rec->state != RELAIS__AGENT_STATE__AGENT_STATE_UNSPECIFIED;
}

static void rl_agent_tiers(struct rl_engine *e, struct rl_agent *a)
{
	for (int q = 0; q < e->nqueues; q++) {
		int was = a->tier[q];
		a->tier[q] = rl_router_tier(&e->queues[q], a);
		if (rl_agent_live(a)) {
			if (was >= 0 && e->queues[q].staffed)
				e->queues[q].staffed--;
			if (a->tier[q] >= 0)
				e->queues[q].staffed++;
		}
	}
}

static void rl_agent_set(struct rl_engine *e, struct rl_agent *a, Relais__AgentState st, const char *reason)
{
	Relais__AgentState old = a->rec->state;

	if (old == RELAIS__AGENT_STATE__AGENT_READY)
		rl_router_unready(e->queues, e->nqueues, a);
	if (!rl_agent_live(a) && st != RELAIS__AGENT_STATE__AGENT_LOGGED_OUT)
		for (int q = 0; q < e->nqueues; q++)
			if (a->tier[q] >= 0)
				e->queues[q].staffed++;
	if (rl_agent_live(a) && st == RELAIS__AGENT_STATE__AGENT_LOGGED_OUT)
		for (int q = 0; q < e->nqueues; q++)
			if (a->tier[q] >= 0 && e->queues[q].staffed)
				e->queues[q].staffed--;
	a->rec->state = st;
	a->rec->state_since_us = e->now;
	rl_set_str(&a->rec->reason, reason ? reason : "");
	if (st != RELAIS__AGENT_STATE__AGENT_RESERVED && st != RELAIS__AGENT_STATE__AGENT_WRAPUP)
		a->rec->deadline_us = 0;
	if (st == RELAIS__AGENT_STATE__AGENT_READY) {
		a->rec->idle_since_us = e->now;
		if (a->reachable)
			rl_router_ready(e->queues, e->nqueues, a);
	}
	rl_save_agent(e, a);
	rl_event(e, RELAIS__EVENT_TYPE__EV_AGENT_STATE, NULL, a, 0, reason);
}

/* rl_set_pending records (durably, with the agent) a not-ready asked for during a call. */
static void rl_set_pending(struct rl_agent *a, const char *reason)
{
	rl_set_str(&a->rec->pending_reason, reason ? reason : "");
}

/* rl_agent_after_nr: READY, or the not-ready the agent asked for during the contact. */
static void rl_agent_after_nr(struct rl_engine *e, struct rl_agent *a)
{
	if (a->rec->pending_reason && a->rec->pending_reason[0]) {
		char reason[RL_WIRE_MAX_ID + 1];
		snprintf(reason, sizeof(reason), "%s", a->rec->pending_reason);
		rl_set_pending(a, "");
		rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_NOT_READY, reason);
	} else {
		rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_READY, "");
	}
}

/* rl_agent_after_contact: READY, or the not-ready the agent asked for meanwhile. */
static void rl_agent_after_contact(struct rl_engine *e, struct rl_agent *a)
{
	rl_set_str(&a->rec->contact_id, "");
	rl_agent_after_nr(e, a);
}

static void rl_stats_day(struct rl_engine *e, struct rl_queue *q)
{
	uint32_t d = rl_day(e->now);
	if (q->st.day != d) {
		memset(&q->st, 0, sizeof(q->st));
		q->st.day = d;
	}
}

/* rl_avg_add folds x into a moving average: the plain mean of the first calls, then an
 * exponential average where the newest call weighs RL_AHT_WEIGHT. */
static void rl_avg_add(double *avg, uint32_t *n, double x)
{
	double w = *n + 1 < (uint32_t)(1.0 / RL_AHT_WEIGHT) ? 1.0 / (double)(*n + 1) : RL_AHT_WEIGHT;

	*avg += w * (x - *avg);
	if (*n < UINT32_MAX)
		(*n)++;
}

/* rl_queue_aht_ms: the queue's recent handle time (talk + wrap-up), or its aht_s. */
static double rl_queue_aht_ms(const struct rl_queue *q)
{
	if (q->talk_n == 0)
		return (double)q->aht_s * 1000.0;
	return q->talk_avg_ms + (q->wrap_n ? q->wrap_avg_ms : (double)q->wrapup_s * 1000.0);
}

/* rl_queue_workers counts the agents working queue qi now: logged in, eligible for it, and
 * ready, ringing, on a call or in wrap-up - not on a break, nor going on one after this call. */
static uint32_t rl_queue_workers(const struct rl_engine *e, int qi)
{
	uint32_t n = 0;

	for (int i = 0; i < e->nagents; i++) {
		const struct rl_agent *a = e->agents[i];
		Relais__AgentState st = a->rec->state;
		n += a->tier[qi] >= 0 && !(a->rec->pending_reason && a->rec->pending_reason[0]) &&
		     (st == RELAIS__AGENT_STATE__AGENT_READY || st == RELAIS__AGENT_STATE__AGENT_RESERVED ||
		      st == RELAIS__AGENT_STATE__AGENT_BUSY || st == RELAIS__AGENT_STATE__AGENT_WRAPUP);
	}
	return n;
}

/* rl_queue_ewt_s: the wait of the contact at position (1 = next) in q with workers agents on
 * it: every agent frees up once per recent handle time and those ahead go first. */
static uint32_t rl_queue_ewt_s(const struct rl_queue *q, uint32_t position, uint32_t workers)
{
	double ms = (double)position * rl_queue_aht_ms(q) / (double)workers;

	return ms >= 86400e3 ? 86400u : (uint32_t)((ms + 999.0) / 1000.0);
}

/* rl_stats_talk counts an answered call's talk time for q (its call there is over). */
static void rl_stats_talk(struct rl_queue *q, uint64_t talk_ms)
{
	q->st.handle_ms += talk_ms;
	q->st.handled++;
	rl_avg_add(&q->talk_avg_ms, &q->talk_n, (double)talk_ms);
}

/* rl_requeue puts an offered contact back at its original place. */
static void rl_requeue(struct rl_engine *e, struct rl_contact *c, Relais__EventType why)
{
	struct rl_agent *a = c->agent;

	if (a != NULL) {
		snprintf(c->last_reject, sizeof(c->last_reject), "%s", a->id);
		a->contact = NULL;
	}
	c->agent = NULL;
	c->rec->state = RELAIS__CONTACT_STATE__CONTACT_QUEUED;
	rl_set_str(&c->rec->agent_id, "");
	rl_router_push(&e->queues[c->queue], c);
	e->queues[c->queue].dirty = 1;
	rl_save_contact(e, c);
	rl_event(e, why, c, a, 0, NULL);
	rl_push_update(e, c);
}

/* rl_end_contact finishes a contact and forgets it from memory. */
static void rl_end_contact(struct rl_engine *e, struct rl_contact *c, Relais__ContactOutcome outcome)
{
	struct rl_queue *q = &e->queues[c->queue];
	uint64_t wait_ms = (e->now - c->rec->enqueued_us) / 1000u;
	Relais__EventType ev = RELAIS__EVENT_TYPE__EV_CONTACT_ENDED;

	if (c->queued)
		rl_router_remove(q, c);
	rl_stats_day(e, q);
	if (outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED) {
		q->st.abandoned++;
		ev = RELAIS__EVENT_TYPE__EV_CONTACT_ABANDONED;
	} else if (outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED) {
		ev = RELAIS__EVENT_TYPE__EV_CONTACT_FAILED;
	} else if (c->rec->answered_us) {
		wait_ms = (e->now - c->rec->answered_us) / 1000u; /* talk time */
		rl_stats_talk(q, wait_ms);
	}
	c->rec->state = RELAIS__CONTACT_STATE__CONTACT_ENDED;
	c->rec->outcome = outcome;
	c->rec->ended_us = e->now;
	if (c->plan != NULL)
		rl_call_finish(e, c);
	rl_save_contact(e, c);
	rl_event(e, ev, c, c->agent, wait_ms, NULL);
	rl_push_update(e, c);
	if (c->agent != NULL)
		c->agent->contact = NULL;
	if (c->site >= 0 && e->sites[c->site].contacts)
		e->sites[c->site].contacts--;
	rl_htab_del(&e->contact_by_id, rl_htab_hash(c->id), c);
	rl_contact_free(c);
}

static void rl_start_wrapup(struct rl_engine *e, struct rl_agent *a, struct rl_contact *c)
{
	const struct rl_queue *q = &e->queues[c->queue];

	a->wrap_started_us = e->now;
	a->wrap_queue = c->queue;
	rl_set_str(&a->rec->contact_id, c->id);
	a->rec->handled++;
	rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_WRAPUP, "");
	a->rec->deadline_us = e->now + (uint64_t)(q->wrapup_s ? q->wrapup_s : (uint32_t)e->conf.wrapup_s) * 1000000u;
	rl_save_agent(e, a);
}

static void rl_finish_wrapup(struct rl_engine *e, struct rl_agent *a, const char *disposition)
{
	if (a->wrap_queue >= 0 && a->wrap_queue < e->nqueues) {
		struct rl_queue *q = &e->queues[a->wrap_queue];
		Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;
		uint64_t wrap_ms = (e->now - a->wrap_started_us) / 1000u;
		rl_stats_day(e, q);
		q->st.handle_ms += wrap_ms;
		rl_avg_add(&q->wrap_avg_ms, &q->wrap_n, (double)wrap_ms);
		/* Handle time is talk + wrap-up: log the wrap-up so KPIs rebuild after a restart. */
		ev.ts_us = e->now;
		ev.type = RELAIS__EVENT_TYPE__EV_AGENT_STATE;
		ev.agent_id = a->rec->agent_id;
		ev.queue_id = q->id;
		ev.tenant_id = e->tenants[q->tenant].id;
		ev.contact_id = a->rec->contact_id;
		ev.agent_state = RELAIS__AGENT_STATE__AGENT_WRAPUP;
		ev.wait_ms = wrap_ms;
		ev.detail = (char *)"wrapup-done";
		if (rl_store_event(e->store, &ev) != RL_OK)
			e->write_failed = 1;
	}
	if (disposition != NULL && disposition[0] && a->rec->contact_id[0]) {
		Relais__ContactRecord *r;
		if (rl_store_get_contact(e->store, a->rec->contact_id, &r) == RL_OK) {
			rl_set_str(&r->disposition, disposition);
			if (rl_store_put_contact(e->store, r, 0) != RL_OK)
				e->write_failed = 1;
			relais__contact_record__free_unpacked(r, NULL);
		}
	}
	rl_agent_after_contact(e, a);
}

/* Withdraw whatever the agent holds when it leaves for good (logout, grace). */
static void rl_agent_release(struct rl_engine *e, struct rl_agent *a)
{
	struct rl_contact *c = a->contact;

	if (c != NULL && a->rec->state == RELAIS__AGENT_STATE__AGENT_RESERVED)
		rl_requeue(e, c, RELAIS__EVENT_TYPE__EV_CONTACT_REQUEUED);
	else if (c != NULL)
		rl_end_contact(e, c, RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED);
	a->contact = NULL;
	rl_set_str(&a->rec->contact_id, "");
}

static void rl_agent_unbind(struct rl_engine *e, struct rl_agent *a)
{
	if (a->rec->session)
		rl_htab_del(&e->agent_by_session, a->rec->session, a);
	a->rec->session = 0;
	a->bound = 0;
	a->reachable = 0;
}

static void rl_agent_logout(struct rl_engine *e, struct rl_agent *a, const char *why)
{
	rl_agent_release(e, a);
	if (a->site >= 0 && e->sites[a->site].agents)
		e->sites[a->site].agents--;
	rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_LOGGED_OUT, why);
	rl_event(e, RELAIS__EVENT_TYPE__EV_AGENT_LOGOUT, NULL, a, 0, why);
	rl_push_status(e, a, NULL);
	rl_agent_unbind(e, a);
	rl_save_agent(e, a);
}

static void rl_agent_reach(struct rl_engine *e, struct rl_agent *a, int reachable)
{
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

/* ---------------------------------------------------------------------------------------- */
/* routing */

static struct rl_agent *rl_sticky(struct rl_engine *e, struct rl_queue *q, struct rl_contact *c, int tier)
{
	char key[2 * RL_WIRE_MAX_ID + 2], agent[RL_WIRE_MAX_ID + 1];
	uint64_t ts;
	struct rl_agent *a;

	if (q->sticky_s == 0 || c->rec->pop == NULL || !c->rec->pop->caller || !c->rec->pop->caller[0])
		return NULL;
	snprintf(key, sizeof(key), "%s/%s", c->rec->tenant_id, c->rec->pop->caller);
	if (rl_store_lastagent_get(e->store, key, agent, sizeof(agent), &ts) != RL_OK)
		return NULL;
	if (e->now - ts > (uint64_t)q->sticky_s * 1000000u)
		return NULL;
	a = rl_agent_find(e, agent);
	if (a == NULL || !a->members[c->queue].linked || a->members[c->queue].tier > tier)
		return NULL;
	return a;
}

/* rl_verify_offer re-reads both records inside the write transaction. */
static int rl_verify_offer(struct rl_engine *e, struct rl_contact *c, struct rl_agent *a)
{
	Relais__AgentRecord *ar = NULL;
	Relais__ContactRecord *cr = NULL;
	int ok = 0;

	if (rl_store_get_agent(e->store, a->id, &ar) == RL_OK && rl_store_get_contact(e->store, c->id, &cr) == RL_OK)
		ok = ar->state == RELAIS__AGENT_STATE__AGENT_READY && (!ar->contact_id || !ar->contact_id[0]) &&
		     cr->state == RELAIS__CONTACT_STATE__CONTACT_QUEUED;
	if (ar)
		relais__agent_record__free_unpacked(ar, NULL);
	if (cr)
		relais__contact_record__free_unpacked(cr, NULL);
	return ok;
}

static void rl_offer(struct rl_engine *e, struct rl_contact *c, struct rl_agent *a)
{
	struct rl_queue *q = &e->queues[c->queue];
	Relais__Offer o;
	rl_env env;

	if (RL_OFFER_VERIFY && !rl_verify_offer(e, c, a)) {
		/* Memory and store disagree: never double-offer; drop the agent from the lists. */
		e->ctr.conflicts++;
		rl_log(RL_LOG_ERR, "offer refused by store check contact=%s agent=%s", c->id, a->id);
		rl_router_unready(e->queues, e->nqueues, a);
		return;
	}
	rl_router_remove(q, c);
	c->agent = a;
	c->rec->state = RELAIS__CONTACT_STATE__CONTACT_OFFERED;
	c->rec->offered_us = e->now;
	c->rec->offers++;
	rl_set_str(&c->rec->agent_id, a->id);
	a->contact = c;
	rl_set_str(&a->rec->contact_id, c->id);
	rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_RESERVED, "");
	a->rec->deadline_us =
	    e->now + (uint64_t)(q->offer_timeout_s ? q->offer_timeout_s : (uint32_t)e->conf.offer_timeout_s) * 1000000u;
	rl_save_agent(e, a);
	rl_save_contact(e, c);
	rl_event(e, RELAIS__EVENT_TYPE__EV_CONTACT_OFFERED, c, a, (e->now - c->rec->enqueued_us) / 1000u, NULL);
	e->ctr.offers++;
	rl_env_init(&env);
	rl_fill_offer(e, &o, c);
	env.body_case = RELAIS__ENVELOPE__BODY_OFFER;
	env.offer = &o;
	rl_out_push(e, a->pipe, a->chan, a->rec->session, 0, &env, NULL, 0);
	rl_push_status(e, a, NULL);
	rl_push_update(e, c);
}

/*
 * rl_route offers waiting contacts to ready agents until no queue can move. Each round picks,
 * among queues that can serve their head now, the best head (priority, then wait), so an
 * agent eligible for several queues takes the most urgent contact first.
 */
static void rl_route(struct rl_engine *e)
{
	for (;;) {
		struct rl_queue *bq = NULL;
		struct rl_agent *ba = NULL;
		for (int i = 0; i < e->nqueues; i++) {
			struct rl_queue *q = &e->queues[i];
			struct rl_contact *h;
			struct rl_agent *a;
			int tier;
			if (!q->dirty)
				continue;
			if ((h = rl_router_head(q)) == NULL) {
				q->dirty = 0;
				continue;
			}
			tier = rl_router_queue_tier(q, e->now);
			if ((a = rl_sticky(e, q, h, tier)) == NULL)
				a = rl_router_pick(q, tier, h->last_reject);
			if (a == NULL) {
				q->dirty = 0;
				continue;
			}
			if (bq == NULL || rl_router_better(h, rl_router_head(bq))) {
				bq = q;
				ba = a;
			}
		}
		if (bq == NULL)
			return;
		rl_offer(e, rl_router_head(bq), ba);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* requests */

static int rl_agent_request_ok(struct rl_engine *e, const struct rl_req *r, struct rl_agent *a)
{
	return a != NULL && a->bound && a->pipe == r->pipe && a->chan == r->chan;
}

static void rl_touch(struct rl_engine *e, struct rl_agent *a)
{
	a->last_seen_us = e->now;
	a->rec->last_seen_us = e->now;
	rl_agent_reach(e, a, 1);
}

static void rl_bind(struct rl_engine *e, struct rl_agent *a, const struct rl_req *r, int site)
{
	a->pipe = r->pipe;
	a->chan = r->chan;
	a->bound = 1;
	if (site != a->site) {
		int ready = a->rec->state == RELAIS__AGENT_STATE__AGENT_READY && a->reachable;
		if (ready)
			rl_router_unready(e->queues, e->nqueues, a);
		if (rl_agent_live(a) && a->site >= 0 && e->sites[a->site].agents)
			e->sites[a->site].agents--;
		a->site = site;
		if (rl_agent_live(a) && site >= 0)
			e->sites[site].agents++;
		rl_set_str(&a->rec->site_id, site >= 0 ? e->sites[site].id : "");
		rl_agent_tiers(e, a);
		if (ready)
			rl_router_ready(e->queues, e->nqueues, a);
		rl_save_agent(e, a);
	}
	rl_touch(e, a);
}

static struct rl_lock *rl_lock(struct rl_engine *e, const char *id)
{
	uint64_t h = rl_htab_hash(id);
	struct rl_lock *lk = &e->locks[h % RL_LOCKS];

	if (lk->h != h)
		*lk = (struct rl_lock){h, 0, 0};
	return lk;
}

static void rl_do_login(struct rl_engine *e, const struct rl_req *r, const Relais__AgentLogin *l)
{
	struct rl_agent *a;
	struct rl_auth_job *job;
	int site = -1;

	if (!rl_wire_id_ok(l->agent_id) || l->secret == NULL) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "agent id or secret missing", 0);
		return;
	}
	if (r->peer->role == RELAIS__ROLE__ROLE_NODE)
		site = r->peer->site; /* a seated agent is where its node is, whatever it claims */
	else if (r->peer->role != RELAIS__ROLE__ROLE_AGENT) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "agents log in over agent or node links", 0);
		return;
	}
	a = rl_agent_find(e, l->agent_id);
	struct rl_lock *lk = rl_lock(e, l->agent_id);
	if (lk->until_us > e->now) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_RATE_LIMITED, "too many failed logins; retry later",
		               (uint32_t)((lk->until_us - e->now) / 1000u) + 1);
		return;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_INTERNAL, "out of memory", 0);
		return;
	}
	snprintf(job->agent_id, sizeof(job->agent_id), "%s", l->agent_id);
	snprintf(job->secret, sizeof(job->secret), "%s", l->secret);
	if (a != NULL)
		snprintf(job->hash, sizeof(job->hash), "%s", a->rec->secret_hash);
	job->pipe = r->pipe;
	job->chan = r->chan;
	job->req_id = r->req_id;
	job->site = site;
	e->auth(e->auth_arg, job);
}

void rl_engine_auth_done(struct rl_engine *e, struct rl_auth_job *job)
{
	struct rl_agent *a = rl_agent_find(e, job->agent_id);
	struct rl_peer *p = rl_peer_find(e, job->pipe);
	struct rl_req r = {job->pipe, job->chan, job->req_id, 0, p, NULL};
	Relais__AgentLoginOk ok = RELAIS__AGENT_LOGIN_OK__INIT;
	Relais__AgentStatus st;
	Relais__Offer o;
	rl_env env;
	uint8_t token[16];

	sodium_memzero(job->secret, sizeof(job->secret));
	if (p == NULL) {
		free(job); /* the link went away meanwhile */
		return;
	}
	if (job->ok < 0) {
		rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_RATE_LIMITED, "login verifier busy; retry shortly", 1000);
		free(job);
		return;
	}
	if (a == NULL || !job->ok) {
		e->ctr.auth_failures++;
		/* After 3 failures in a row: locked 1 s, doubling up to 60 s. */
		struct rl_lock *lk = rl_lock(e, job->agent_id);
		if (++lk->failures >= 3) {
			unsigned shift = lk->failures - 3 < 6 ? lk->failures - 3 : 6;
			uint64_t ms = 1000u << shift;
			lk->until_us = e->now + (ms > 60000 ? 60000 : ms) * 1000u;
		}
		rl_log(RL_LOG_WARNING, "login refused agent=%s", job->agent_id);
		rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_AUTH, "wrong agent id or secret", 0);
		free(job);
		return;
	}
	*rl_lock(e, job->agent_id) = (struct rl_lock){rl_htab_hash(job->agent_id), 0, 0};
	/* The same link logging in again (a re-sent login that crossed a restart or a new
	 * pipe): the session it already has is the answer, not a takeover. */
	if (a->bound && a->pipe == job->pipe && a->chan == job->chan && a->rec->session && rl_agent_live(a) &&
	    a->rec->token.len == sizeof(token)) {
		memcpy(token, a->rec->token.data, sizeof(token));
		goto reply;
	}
	/* A second login takes the session over; the old link hears it is logged out. */
	if (a->bound && (a->pipe != job->pipe || a->chan != job->chan)) {
		Relais__AgentStatus os;
		Relais__Offer oo;
		rl_env oenv;
		rl_env_init(&oenv);
		rl_fill_status(e, &os, &oo, a);
		os.state = RELAIS__AGENT_STATE__AGENT_LOGGED_OUT;
		os.reason = (char *)"session taken over";
		os.contact = NULL;
		os.media = NULL;
		oenv.body_case = RELAIS__ENVELOPE__BODY_AGENT_STATUS;
		oenv.agent_status = &os;
		rl_out_push(e, a->pipe, a->chan, a->rec->session, 0, &oenv, NULL, 0);
	}
	if (a->rec->session)
		rl_htab_del(&e->agent_by_session, a->rec->session, a);
	do
		rl_secret_random(&a->rec->session, sizeof(a->rec->session));
	while (a->rec->session == 0 || rl_agent_by_session(e, a->rec->session) != NULL);
	rl_secret_random(token, sizeof(token));
	free(a->rec->token.data);
	a->rec->token.data = malloc(sizeof(token));
	if (a->rec->token.data != NULL) {
		memcpy(a->rec->token.data, token, sizeof(token));
		a->rec->token.len = sizeof(token);
	}
	rl_htab_put(&e->agent_by_session, a->rec->session, a);
	int was_live = rl_agent_live(a);
	rl_bind(e, a, &r, job->site);
	if (!was_live) {
		if (a->site >= 0)
			e->sites[a->site].agents++;
		rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_NOT_READY, "login");
	}
	rl_save_agent(e, a);
	rl_event(e, RELAIS__EVENT_TYPE__EV_AGENT_LOGIN, NULL, a, 0, NULL);
	rl_log(RL_LOG_NOTICE, "agent login agent=%s site=%s", a->id, a->site >= 0 ? e->sites[a->site].id : "home");
reply:
	rl_env_init(&env);
	rl_fill_status(e, &st, &o, a);
	ok.session = a->rec->session;
	ok.token.data = token;
	ok.token.len = sizeof(token);
	ok.status = &st;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_LOGIN_OK;
	env.agent_login_ok = &ok;
	r.session = a->rec->session;
	rl_reply(e, &r, &env);
	sodium_memzero(token, sizeof(token));
	free(job);
}

static void rl_do_resume(struct rl_engine *e, struct rl_req *r, const Relais__AgentResume *rs)
{
	struct rl_agent *a = rl_agent_by_session(e, rs->session);
	int site = -1;

	if (a == NULL || a->rec->token.len != rs->token.len || rs->token.len != 16 ||
	    sodium_memcmp(a->rec->token.data, rs->token.data, 16) != 0) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_NOT_LOGGED_IN, "session unknown or expired: log in again",
		               0);
		return;
	}
	if (r->peer->role == RELAIS__ROLE__ROLE_NODE)
		site = r->peer->site;
	rl_bind(e, a, r, site);
	r->session = a->rec->session;
	rl_push_status(e, a, r);
}

static void rl_do_set_state(struct rl_engine *e, const struct rl_req *r, struct rl_agent *a, Relais__AgentState want,
                            const char *reason)
{
	Relais__AgentState st = a->rec->state;

	if (!rl_wire_text_ok(reason, RL_WIRE_MAX_ID)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "reason too long", 0);
		return;
	}
	switch (want) {
	case RELAIS__AGENT_STATE__AGENT_READY:
		if (st == RELAIS__AGENT_STATE__AGENT_NOT_READY)
			rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_READY, "");
		else if (st == RELAIS__AGENT_STATE__AGENT_WRAPUP)
			rl_finish_wrapup(e, a, NULL);
		else if (st == RELAIS__AGENT_STATE__AGENT_RESERVED || st == RELAIS__AGENT_STATE__AGENT_BUSY) {
			rl_set_pending(a, "");
			rl_save_agent(e, a);
		}
		break;
	case RELAIS__AGENT_STATE__AGENT_NOT_READY:
		if (reason == NULL || !reason[0])
			reason = "break";
		if (st == RELAIS__AGENT_STATE__AGENT_RESERVED || st == RELAIS__AGENT_STATE__AGENT_BUSY) {
			rl_set_pending(a, reason);
			rl_save_agent(e, a);
		} else if (st == RELAIS__AGENT_STATE__AGENT_WRAPUP) {
			rl_set_pending(a, reason);
			rl_finish_wrapup(e, a, NULL);
		} else {
			rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_NOT_READY, reason);
		}
		break;
	case RELAIS__AGENT_STATE__AGENT_LOGGED_OUT:
		if (st == RELAIS__AGENT_STATE__AGENT_BUSY) {
			rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "hang up before logging out", 0);
			return;
		}
		if (r != NULL)
			rl_push_status(e, a, r); /* answer on the session before it ends */
		rl_agent_logout(e, a, reason && reason[0] ? reason : "logout");
		return;
	default:
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST,
		               "state must be READY, NOT_READY or LOGGED_OUT", 0);
		return;
	}
	if (r != NULL)
		rl_push_status(e, a, r);
	else
		rl_push_status(e, a, NULL);
}

static int rl_contact_is(const struct rl_agent *a, const char *cid)
{
	return a->contact != NULL && cid != NULL && strcmp(a->contact->id, cid) == 0;
}

static void rl_do_answer(struct rl_engine *e, const struct rl_req *r, struct rl_agent *a, const Relais__OfferAnswer *oa)
{
	struct rl_contact *c = a->contact;

	if (a->rec->state != RELAIS__AGENT_STATE__AGENT_RESERVED || !rl_contact_is(a, oa->contact_id)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "no such offer ringing", 0);
		return;
	}
	if (oa->accept) {
		struct rl_queue *q = &e->queues[c->queue];
		uint64_t wait_ms = (e->now - c->rec->enqueued_us) / 1000u;
		char key[2 * RL_WIRE_MAX_ID + 2];
		rl_stats_day(e, q);
		q->st.answered++;
		q->st.answer_wait_ms += wait_ms;
		if (wait_ms <= (uint64_t)q->sl_s * 1000u)
			q->st.answered_in_sl++;
		c->rec->state = RELAIS__CONTACT_STATE__CONTACT_CONNECTED;
		c->rec->answered_us = e->now;
		rl_save_contact(e, c);
		rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_BUSY, "");
		rl_event(e, RELAIS__EVENT_TYPE__EV_CONTACT_ACCEPTED, c, a, wait_ms, NULL);
		if (q->sticky_s && c->rec->pop && c->rec->pop->caller && c->rec->pop->caller[0]) {
			snprintf(key, sizeof(key), "%s/%s", c->rec->tenant_id, c->rec->pop->caller);
			rl_store_lastagent_put(e->store, key, a->id, e->now);
		}
		rl_push_update(e, c);
	} else {
		rl_requeue(e, c, RELAIS__EVENT_TYPE__EV_CONTACT_REJECTED);
		rl_set_str(&a->rec->contact_id, "");
		rl_agent_after_nr(e, a);
	}
	rl_push_status(e, a, r);
}

static void rl_do_hangup(struct rl_engine *e, const struct rl_req *r, struct rl_agent *a,
                         const Relais__ContactHangup *h)
{
	struct rl_contact *c = a->contact;

	if (a->rec->state != RELAIS__AGENT_STATE__AGENT_BUSY || !rl_contact_is(a, h->contact_id)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "no such contact connected", 0);
		return;
	}
	rl_start_wrapup(e, a, c);
	rl_end_contact(e, c, RELAIS__CONTACT_OUTCOME__OUTCOME_HANDLED);
	rl_push_status(e, a, r);
}

/* rl_xfer_to: the external number the site is sending a connected contact to, or "" (durable:
 * a restarted hub still knows what it asked). */
static const char *rl_xfer_to(const struct rl_contact *c)
{
	return c->rec->transfer_to ? c->rec->transfer_to : "";
}

/* rl_pop_set sets key in the contact's screen-pop (adds it; RL_WIRE_MAX_POP_ITEMS at most). */
static void rl_pop_set(Relais__ContactRecord *rec, const char *key, const char *value)
{
	Relais__ScreenPop *p = rec->pop;
	Relais__KeyValue **d, *kv;

	if (p == NULL) {
		if ((p = malloc(sizeof(*p))) == NULL)
			return;
		relais__screen_pop__init(p);
		rec->pop = p;
	}
	for (size_t i = 0; i < p->n_data; i++) {
		if (p->data[i]->key && strcmp(p->data[i]->key, key) == 0) {
			rl_set_str(&p->data[i]->value, value);
			return;
		}
	}
	if (p->n_data >= RL_WIRE_MAX_POP_ITEMS || (kv = malloc(sizeof(*kv))) == NULL)
		return;
	if ((d = realloc(p->data, (p->n_data + 1) * sizeof(*d))) == NULL) {
		free(kv);
		return;
	}
	relais__key_value__init(kv);
	rl_set_str(&kv->key, key);
	rl_set_str(&kv->value, value);
	p->data = d;
	p->data[p->n_data++] = kv;
}

/* rl_transfer_queue: the agent's call goes to queue qi. The agent starts wrap-up as after a
 * hangup; the caller (still on the line at the site, hearing the hold music again) waits
 * in the new queue from now, with the screen-pop saying where it comes from. */
static void rl_transfer_queue(struct rl_engine *e, struct rl_agent *a, struct rl_contact *c, int qi, const char *note)
{
	struct rl_queue *from = &e->queues[c->queue], *to = &e->queues[qi];
	uint64_t talk_ms =
	    c->rec->answered_us && e->now > c->rec->answered_us ? (e->now - c->rec->answered_us) / 1000u : 0;

	rl_start_wrapup(e, a, c);
	if (c->plan != NULL)
		rl_call_finish(e, c);
	rl_stats_day(e, from);
	rl_stats_talk(from, talk_ms);
	rl_event(e, RELAIS__EVENT_TYPE__EV_CONTACT_TRANSFERRED, c, a, talk_ms, to->id);
	rl_pop_set(c->rec, "transferred_from", from->id);
	rl_pop_set(c->rec, "transferred_by", a->id);
	if (note != NULL && note[0])
		rl_pop_set(c->rec, "transfer_note", note);
	a->contact = NULL;
	c->agent = NULL;
	c->last_reject[0] = '\0';
	c->queue = qi;
	rl_set_str(&c->rec->queue_id, to->id);
	rl_set_str(&c->rec->agent_id, "");
	c->rec->state = RELAIS__CONTACT_STATE__CONTACT_QUEUED;
	if (c->rec->submitted_us == 0)
		c->rec->submitted_us = c->rec->enqueued_us; /* what a re-sent submit is still told */
	c->rec->enqueued_us = e->now;                       /* its wait in the new queue */
	c->rec->offered_us = c->rec->answered_us = 0;
	c->rec->transfers++;
	rl_stats_day(e, to);
	to->st.offered++;
	rl_router_push(to, c);
	to->dirty = 1;
	rl_save_contact(e, c);
	rl_event(e, RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED, c, NULL, 0, "transfer");
	rl_push_update(e, c);
	rl_log(RL_LOG_INFO, "contact transferred contact=%s agent=%s from=%s to=%s", c->id, a->id, from->id, to->id);
}

/* rl_number_ok: an external number is digits, with an optional leading '+', 3..32 long. */
static int rl_number_ok(const char *n)
{
	size_t len = strlen(n), i = n[0] == '+';

	if (len - i < 3 || len > 32)
		return 0;
	for (; i < len; i++)
		if (n[i] < '0' || n[i] > '9')
			return 0;
	return 1;
}

static void rl_do_transfer(struct rl_engine *e, const struct rl_req *r, struct rl_agent *a,
                           const Relais__ContactTransfer *t)
{
	struct rl_contact *c = a->contact;
	const char *queue = t->queue_id ? t->queue_id : "", *number = t->number ? t->number : "";
	int qi;

	if (a->rec->state != RELAIS__AGENT_STATE__AGENT_BUSY || !rl_contact_is(a, t->contact_id)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "no such contact connected", 0);
		return;
	}
	if ((queue[0] != '\0') == (number[0] != '\0')) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "transfer to a queue or to a number", 0);
		return;
	}
	if (rl_xfer_to(c)[0]) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "a transfer is already under way", 0);
		return;
	}
	if (queue[0]) {
		qi = rl_queue_idx(e, queue);
		if (qi < 0 || e->queues[qi].tenant != e->queues[c->queue].tenant) {
			/* Another tenant's queue is as good as unknown: data stays apart. */
			rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_QUEUE, "no such queue for this tenant", 0);
			return;
		}
		rl_transfer_queue(e, a, c, qi, t->note);
		rl_push_status(e, a, r);
		return;
	}
	if (!rl_number_ok(number)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "number: digits, optional leading +", 0);
		return;
	}
	if (c->site < 0 || e->sites[c->site].pipe == 0) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "the call's site is not reachable", 0);
		return;
	}
	/* The site sends the caller on (SIP REFER) and says how it went (TransferResult). The
	 * agent stays on the call meanwhile. */
	rl_set_str(&c->rec->transfer_to, number);
	if (t->note && t->note[0])
		rl_pop_set(c->rec, "transfer_note", t->note);
	rl_save_contact(e, c);
	rl_push_update(e, c);
	rl_log(RL_LOG_INFO, "external transfer asked contact=%s agent=%s number=%s", c->id, a->id, number);
	rl_reply_ok(e, r);
}

/* A site's answer to an external transfer. */
static void rl_do_transfer_result(struct rl_engine *e, const struct rl_req *r, const Relais__TransferResult *tr)
{
	struct rl_contact *c = rl_contact_find(e, tr->contact_id);
	struct rl_agent *a;

	if (r->peer->role != RELAIS__ROLE__ROLE_NODE) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "only sites report transfers", 0);
		return;
	}
	if (c != NULL && c->site != r->peer->site) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "contact belongs to another site", 0);
		return;
	}
	if (c == NULL || !rl_xfer_to(c)[0] || (a = c->agent) == NULL ||
	    c->rec->state != RELAIS__CONTACT_STATE__CONTACT_CONNECTED) {
		rl_reply_ok(e, r); /* already over (a re-send, or the call ended first) */
		return;
	}
	rl_log(RL_LOG_INFO, "external transfer %s contact=%s agent=%s number=%s status=%u reason=\"%s\"",
	       tr->ok ? "done" : "failed", c->id, a->id, rl_xfer_to(c), tr->status, tr->reason ? tr->reason : "");
	if (tr->ok) {
		rl_pop_set(c->rec, "transferred_to", rl_xfer_to(c));
		rl_set_str(&c->rec->transfer_to, "");
		rl_start_wrapup(e, a, c);
		rl_end_contact(e, c, RELAIS__CONTACT_OUTCOME__OUTCOME_TRANSFERRED);
		rl_push_status(e, a, NULL);
	} else {
		/* The carrier refused: the caller is still with the agent, who is told. */
		char msg[RL_WIRE_MAX_TEXT + 1];
		Relais__Error er = RELAIS__ERROR__INIT;
		rl_env env;
		snprintf(msg, sizeof(msg), "transfer to %s failed: %u %s", rl_xfer_to(c), tr->status,
		         tr->reason ? tr->reason : "");
		rl_set_str(&c->rec->transfer_to, "");
		rl_save_contact(e, c);
		rl_env_init(&env);
		er.code = RELAIS__ERROR_CODE__ERR_BAD_STATE;
		er.message = msg;
		env.body_case = RELAIS__ENVELOPE__BODY_ERROR;
		env.error = &er;
		if (a->bound)
			rl_out_push(e, a->pipe, a->chan, a->rec->session, 0, &env, NULL, 0);
		rl_push_update(e, c);
	}
	rl_reply_ok(e, r);
}

static void rl_do_wrapup(struct rl_engine *e, const struct rl_req *r, struct rl_agent *a, const Relais__WrapupDone *w)
{
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
		rl_save_agent(e, a);
	} else {
		rl_finish_wrapup(e, a, w->disposition);
	}
	rl_push_status(e, a, r);
}

static void rl_do_submit(struct rl_engine *e, const struct rl_req *r, const Relais__SubmitContact *s)
{
	char key[2 * RL_WIRE_MAX_ID + 2], cid[RL_WIRE_MAX_ID + 1], ext[RL_WIRE_MAX_ID + 1];
	Relais__SubmitContactOk ok = RELAIS__SUBMIT_CONTACT_OK__INIT;
	struct rl_contact *c = NULL;
	Relais__ContactRecord *rec = NULL;
	int ti, qi, site = -1;
	uint64_t n;
	rl_env env;

	if (r->peer->role != RELAIS__ROLE__ROLE_NODE && r->peer->role != RELAIS__ROLE__ROLE_CTL) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "only sites and tools submit contacts", 0);
		return;
	}
	if (s->tenant_id == NULL || (ti = rl_tenant_idx(e, s->tenant_id)) < 0) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_TENANT, "unknown tenant", 0);
		return;
	}
	if (s->queue_id == NULL || (qi = rl_queue_idx(e, s->queue_id)) < 0 || e->queues[qi].tenant != ti) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_QUEUE, "unknown queue for this tenant", 0);
		return;
	}
	if (s->priority > 9) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "priority must be 0..9", 0);
		return;
	}
	if (s->pop && s->pop->caller && s->pop->caller[0] && !rl_wire_id_ok(s->pop->caller)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "caller number has bad characters", 0);
		return;
	}
	if (s->ext_id && s->ext_id[0] && !rl_wire_id_ok(s->ext_id)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "ext_id has bad characters", 0);
		return;
	}
	if (r->peer->role == RELAIS__ROLE__ROLE_NODE)
		site = r->peer->site;
	else if (s->site_id && s->site_id[0])
		site = rl_site_idx(e, s->site_id);
	if (s->ext_id && s->ext_id[0])
		snprintf(ext, sizeof(ext), "%s", s->ext_id);
	else {
		uint64_t rnd;
		rl_secret_random(&rnd, sizeof(rnd));
		snprintf(ext, sizeof(ext), "auto-%016llx", (unsigned long long)rnd);
	}
	snprintf(key, sizeof(key), "%s/%s", site >= 0 ? e->sites[site].id : "ctl", ext);
	if (rl_store_extid_get(e->store, key, cid, sizeof(cid)) == RL_OK) {
		Relais__ContactRecord *old;
		ok.contact_id = cid;
		ok.duplicate = 1;
		if (rl_store_get_contact(e->store, cid, &old) == RL_OK) {
			ok.enqueued_us = old->submitted_us ? old->submitted_us : old->enqueued_us;
			relais__contact_record__free_unpacked(old, NULL);
		}
		rl_env_init(&env);
		env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT_OK;
		env.submit_contact_ok = &ok;
		rl_reply(e, r, &env);
		return;
	}
	if (rl_store_next_id(e->store, "next_contact", &n) != RL_OK)
		goto fail;
	snprintf(cid, sizeof(cid), "c%010llu", (unsigned long long)n);
	if ((c = calloc(1, sizeof(*c))) == NULL || (rec = rl_contact_rec_new()) == NULL)
		goto fail;
	c->rec = rec;
	snprintf(c->id, sizeof(c->id), "%s", cid);
	c->queue = qi;
	c->site = site;
	rec->contact_id = rl_strdup(cid);
	rec->ext_id = rl_strdup(ext);
	rec->tenant_id = rl_strdup(s->tenant_id);
	rec->queue_id = rl_strdup(s->queue_id);
	rec->priority = s->priority;
	rec->site_id = rl_strdup(site >= 0 ? e->sites[site].id : "");
	rec->media = rl_strdup(s->media && s->media[0] ? s->media : "voice");
	rec->submitter = rl_strdup(site >= 0 ? e->sites[site].id : "ctl");
	rec->agent_id = rl_strdup("");
	rec->disposition = rl_strdup("");
	rec->state = RELAIS__CONTACT_STATE__CONTACT_QUEUED;
	rec->enqueued_us = e->now;
	if (s->pop != NULL) {
		/* Deep-copy the screen-pop: the request is freed after the batch. */
		size_t len = relais__screen_pop__get_packed_size(s->pop);
		uint8_t *tmp = malloc(len ? len : 1);
		if (tmp == NULL)
			goto fail;
		relais__screen_pop__pack(s->pop, tmp);
		rec->pop = relais__screen_pop__unpack(NULL, len, tmp);
		free(tmp);
	}
	if (rl_store_extid_put(e->store, key, cid) != RL_OK)
		goto fail;
	rl_save_contact(e, c);
	rl_htab_put(&e->contact_by_id, rl_htab_hash(c->id), c);
	rl_router_push(&e->queues[qi], c);
	e->queues[qi].dirty = 1;
	rl_stats_day(e, &e->queues[qi]);
	e->queues[qi].st.offered++;
	if (site >= 0)
		e->sites[site].contacts++;
	rl_event(e, RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED, c, NULL, 0, NULL);
	rl_env_init(&env);
	ok.contact_id = cid;
	ok.enqueued_us = e->now;
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT_OK;
	env.submit_contact_ok = &ok;
	rl_reply(e, r, &env);
	return;
fail:
	if (c != NULL && c->rec == NULL && rec != NULL)
		relais__contact_record__free_unpacked(rec, NULL);
	rl_contact_free(c);
	rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_INTERNAL, "could not store the contact", 0);
}

/* rl_do_queue_position: where a waiting contact stands and how long it should still wait.
 * The estimate is position x recent handle time / agents working the queue: every agent
 * frees up once per handle time, and the contacts ahead go first. Agents shared with other
 * queues and calls already half done make it rough; it is what callers are told. */
static void rl_do_queue_position(struct rl_engine *e, const struct rl_req *r, const Relais__QueuePosition *qp)
{
	Relais__QueuePositionReply rep = RELAIS__QUEUE_POSITION_REPLY__INIT;
	struct rl_contact *c = rl_contact_find(e, qp->contact_id);
	rl_env env;

	if (r->peer->role != RELAIS__ROLE__ROLE_NODE && r->peer->role != RELAIS__ROLE__ROLE_CTL) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "only sites and tools ask for queue positions",
		               0);
		return;
	}
	if (c != NULL && r->peer->role == RELAIS__ROLE__ROLE_NODE && c->site != r->peer->site) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "contact belongs to another site", 0);
		return;
	}
	rep.contact_id = qp->contact_id;
	rep.state = c != NULL ? c->rec->state : RELAIS__CONTACT_STATE__CONTACT_ENDED;
	if (c != NULL) {
		const struct rl_queue *q = &e->queues[c->queue];
		rep.waiting = q->nheap;
		rep.agents = rl_queue_workers(e, c->queue);
		if (c->queued) {
			rep.position = rl_router_position(q, c);
			rep.ewt_known = rep.agents > 0;
			if (rep.ewt_known)
				rep.ewt_s = rl_queue_ewt_s(q, rep.position, rep.agents);
		}
	}
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_QUEUE_POSITION_REPLY;
	env.queue_position_reply = &rep;
	rl_reply(e, r, &env);
}

static void rl_do_cancel(struct rl_engine *e, const struct rl_req *r, const Relais__ContactCancel *cc)
{
	struct rl_contact *c = rl_contact_find(e, cc->contact_id);
	Relais__ContactOutcome out = cc->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED
	                                 ? RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED
	                                 : RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED;

	if (r->peer->role != RELAIS__ROLE__ROLE_NODE && r->peer->role != RELAIS__ROLE__ROLE_CTL) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "only sites and tools cancel contacts", 0);
		return;
	}
	if (c == NULL) {
		/* Already ended (a re-send, or it ended first): nothing to do. */
		rl_reply_ok(e, r);
		return;
	}
	if (r->peer->role == RELAIS__ROLE__ROLE_NODE && c->site != r->peer->site) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "contact belongs to another site", 0);
		return;
	}
	struct rl_agent *a = c->agent;
	switch (c->rec->state) {
	case RELAIS__CONTACT_STATE__CONTACT_QUEUED:
		rl_end_contact(e, c, out);
		break;
	case RELAIS__CONTACT_STATE__CONTACT_OFFERED:
		/* The caller left while the agent's phone rang: withdraw, no penalty. */
		rl_end_contact(e, c, out);
		rl_set_str(&a->rec->contact_id, "");
		rl_agent_after_contact(e, a);
		rl_push_status(e, a, NULL);
		break;
	case RELAIS__CONTACT_STATE__CONTACT_CONNECTED:
		/* The caller hung up: the agent goes to wrap-up. */
		rl_start_wrapup(e, a, c);
		rl_end_contact(e, c,
		               out == RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED
		                   ? RELAIS__CONTACT_OUTCOME__OUTCOME_HANDLED
		                   : RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED);
		rl_push_status(e, a, NULL);
		break;
	default:
		break;
	}
	rl_reply_ok(e, r);
}

static void rl_do_status(struct rl_engine *e, const struct rl_req *r, const Relais__StatusRequest *sr)
{
	Relais__StatusReply rep = RELAIS__STATUS_REPLY__INIT;
	Relais__QueueStat *qs = calloc((size_t)e->nqueues + 1, sizeof(*qs));
	Relais__QueueStat **qp = calloc((size_t)e->nqueues + 1, sizeof(*qp));
	Relais__SiteStat *ss = calloc((size_t)e->nsites + 1, sizeof(*ss));
	Relais__SiteStat **sp = calloc((size_t)e->nsites + 1, sizeof(*sp));
	unsigned limit = sr->agent_limit ? sr->agent_limit : RL_STATUS_AGENT_ROWS;
	Relais__AgentStat *as = NULL;
	Relais__AgentStat **ap = NULL;
	Relais__CallStat *cs = NULL;
	Relais__CallStat **cp = NULL;
	Relais__RelayStat rs = RELAIS__RELAY_STAT__INIT;
	int ti = -1;
	rl_env env;

	if (limit > RL_STATUS_AGENT_ROWS)
		limit = RL_STATUS_AGENT_ROWS; /* a reply must fit one frame */
	if (sr->tenant_id && sr->tenant_id[0] && (ti = rl_tenant_idx(e, sr->tenant_id)) < 0) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_TENANT, "unknown tenant", 0);
		goto out;
	}
	if (qs == NULL || qp == NULL || ss == NULL || sp == NULL)
		goto out;
	rep.now_us = e->now;
	rep.counters = &e->wire;
	e->wire.auth_failures = e->ctr.auth_failures;
	e->wire.requests = e->ctr.requests;
	e->wire.commits = rl_store_commits(e->store);
	if (sr->queues || (!sr->agents && !sr->sites && !sr->calls)) {
		for (int i = 0; i < e->nqueues; i++) {
			struct rl_queue *q = &e->queues[i];
			Relais__QueueStat *x = &qs[rep.n_queues];
			if (ti >= 0 && q->tenant != ti)
				continue;
			rl_stats_day(e, q);
			relais__queue_stat__init(x);
			x->queue_id = q->id;
			x->tenant_id = e->tenants[q->tenant].id;
			x->waiting = q->nheap;
			/* Longest wait: the oldest waiting contact, whatever its priority. */
			if (q->fifo_head != NULL && e->now > q->fifo_head->rec->enqueued_us)
				x->longest_wait_ms = (e->now - q->fifo_head->rec->enqueued_us) / 1000u;
			x->offered = q->st.offered;
			x->answered = q->st.answered;
			x->answered_in_sl = q->st.answered_in_sl;
			x->abandoned = q->st.abandoned;
			x->service_level =
			    q->st.answered + q->st.abandoned
			        ? (double)q->st.answered_in_sl / (double)(q->st.answered + q->st.abandoned)
			        : 1.0;
			x->asa_ms = q->st.answered ? (double)q->st.answer_wait_ms / (double)q->st.answered : 0;
			x->aht_ms = q->st.handled ? (double)q->st.handle_ms / (double)q->st.handled : 0;
			x->handled = q->st.handled;
			uint32_t workers = rl_queue_workers(e, i);
			x->ewt_known = workers > 0;
			if (x->ewt_known)
				x->ewt_s = rl_queue_ewt_s(q, q->nheap + 1, workers);
			x->sl_target_pct = q->sl_pct;
			x->sl_seconds = q->sl_s;
			for (int t = 0; t < RL_MAX_TIERS; t++)
				x->agents_ready += q->ready[t].len;
			x->agents_staffed = q->staffed;
			qp[rep.n_queues++] = x;
		}
		rep.queues = qp;
	}
	if (sr->sites || (!sr->agents && !sr->queues && !sr->calls)) {
		for (int i = 0; i < e->nsites; i++) {
			Relais__SiteStat *x = &ss[i];
			relais__site_stat__init(x);
			x->site_id = e->sites[i].id;
			x->name = e->sites[i].name;
			x->connected = e->sites[i].pipe != 0;
			x->health = e->sites[i].health;
			x->capacity = e->sites[i].capacity;
			x->agents = e->sites[i].agents;
			x->contacts = e->sites[i].contacts;
			sp[rep.n_sites++] = x;
		}
		rep.sites = sp;
	}
	if (sr->agents) {
		as = calloc(limit, sizeof(*as));
		ap = calloc(limit, sizeof(*ap));
		if (as == NULL || ap == NULL)
			goto out;
		for (int i = 0; i < e->nagents; i++) {
			struct rl_agent *a = e->agents[i];
			if (ti >= 0 && !(a->tenants & (1ULL << ti)))
				continue;
			rep.agents_total++;
			if (rep.n_agents == limit)
				continue;
			Relais__AgentStat *x = &as[rep.n_agents];
			relais__agent_stat__init(x);
			x->agent_id = a->rec->agent_id;
			x->state = a->rec->state;
			x->reason = a->rec->reason;
			x->site_id = a->rec->site_id;
			x->n_tenants = a->rec->n_tenants;
			x->tenants = a->rec->tenants;
			x->in_state_ms = a->rec->state_since_us && e->now > a->rec->state_since_us
			                     ? (e->now - a->rec->state_since_us) / 1000u
			                     : 0;
			x->contact_id = a->rec->contact_id;
			x->connected = a->reachable;
			x->handled = a->rec->handled;
			ap[rep.n_agents++] = x;
		}
		rep.agents = ap;
	}
	if (sr->calls) {
		if ((cs = calloc(RL_STATUS_CALL_ROWS, sizeof(*cs))) == NULL ||
		    (cp = calloc(RL_STATUS_CALL_ROWS, sizeof(*cp))) == NULL)
			goto out;
		for (size_t i = 0;
		     i < e->contact_by_id.cap && rep.n_calls < RL_STATUS_CALL_ROWS - RL_STATUS_RECENT_ROWS; i++) {
			struct rl_contact *c = e->contact_by_id.ents ? e->contact_by_id.ents[i].val : NULL;
			if (c == NULL || c->plan == NULL || (ti >= 0 && e->queues[c->queue].tenant != ti))
				continue;
			Relais__CallStat *x = &cs[rep.n_calls];
			relais__call_stat__init(x);
			x->contact_id = c->id;
			x->agent_id = c->rec->agent_id;
			x->site_id = c->rec->site_id;
			x->relayed = c->plan->relay_id != 0;
			x->live = 1;
			x->answered_us = c->rec->answered_us;
			x->site = rl_quality_get(&c->plan->quality, RL_SIDE_SITE);
			x->agent = rl_quality_get(&c->plan->quality, RL_SIDE_AGENT);
			cp[rep.n_calls++] = x;
		}
		/* The most recently ended first. */
		for (unsigned k = 0; k < RL_STATUS_RECENT_ROWS && k < e->nrecent && k < RL_RECENT_CALLS; k++) {
			struct rl_recent *rc = &e->recent[(e->nrecent - 1 - k) % RL_RECENT_CALLS];
			if (ti >= 0 && rc->tenant != ti)
				continue;
			Relais__CallStat *x = &cs[rep.n_calls];
			relais__call_stat__init(x);
			x->contact_id = rc->id;
			x->agent_id = rc->agent;
			x->site_id = rc->site;
			x->relayed = rc->relayed;
			x->answered_us = rc->answered_us;
			x->ended_us = rc->ended_us;
			x->site = rl_quality_get(&rc->quality, RL_SIDE_SITE);
			x->agent = rl_quality_get(&rc->quality, RL_SIDE_AGENT);
			cp[rep.n_calls++] = x;
		}
		rep.calls = cp;
		if (e->relay != NULL) {
			struct rl_relay_counters rcnt;
			rl_relay_counters(e->relay, &rcnt);
			rs.rx = rcnt.rx;
			rs.fwd = rcnt.fwd;
			rs.dropped = rcnt.drop_malformed + rcnt.drop_unknown + rcnt.drop_source + rcnt.drop_unlatched +
			             rcnt.drop_send;
			rs.calls = rcnt.calls;
			rs.addr = (char *)rl_relay_advertise(e->relay);
			rep.relay = &rs;
		}
	}
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_STATUS_REPLY;
	env.status_reply = &rep;
	rl_reply(e, r, &env);
out:
	free(qs);
	free(qp);
	free(ss);
	free(sp);
	free(as);
	free(ap);
	free(cs);
	free(cp);
}

static void rl_do_heartbeat(struct rl_engine *e, const struct rl_req *r, const rl_env *in)
{
	Relais__Heartbeat hb = RELAIS__HEARTBEAT__INIT;
	rl_env env;
	struct rl_agent *a = NULL;

	if (in->session != 0) {
		a = rl_agent_by_session(e, in->session);
		if (!rl_agent_request_ok(e, r, a)) {
			struct rl_req er = *r;
			er.req_id = 0;
			er.session = in->session;
			rl_reply_error(e, &er, RELAIS__ERROR_CODE__ERR_NOT_LOGGED_IN,
			               "session not bound to this link: resume", 0);
			return;
		}
		rl_touch(e, a);
		hb.agent_state = a->rec->state;
		hb.contact_id = a->rec->contact_id;
	}
	hb.sent_us = e->now;
	hb.echo_us = in->heartbeat->sent_us;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	struct rl_req hr = *r;
	hr.req_id = 0;
	hr.session = in->session;
	rl_reply(e, &hr, &env);
}

void rl_engine_bad_version(struct rl_engine *e, uint32_t pipe, const rl_env *env)
{
	struct rl_req r = {pipe, env->chan, env->req_id, env->session, NULL, NULL};
	rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_VERSION, "unsupported protocol version; this hub speaks 1", 0);
}

void rl_engine_input(struct rl_engine *e, uint32_t pipe, const rl_env *env)
{
	struct rl_peer *p = rl_peer_find(e, pipe);
	struct rl_req r = {pipe, env->chan, env->req_id, env->session, p, NULL};
	struct rl_reply *cached;

	e->ctr.requests++;
	if (env->body_case == RELAIS__ENVELOPE__BODY_HELLO) {
		const Relais__Hello *h = env->hello;
		Relais__HelloOk ok = RELAIS__HELLO_OK__INIT;
		rl_env out;
		int site = -1;
		if (h->role == RELAIS__ROLE__ROLE_NODE &&
		    (h->site_id == NULL || (site = rl_site_idx(e, h->site_id)) < 0)) {
			rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_UNKNOWN_SITE, "unknown site", 0);
			return;
		}
		if (h->role < RELAIS__ROLE__ROLE_AGENT || h->role > RELAIS__ROLE__ROLE_CTL) {
			rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "unknown role", 0);
			return;
		}
		if (p == NULL) {
			if ((p = calloc(1, sizeof(*p))) == NULL)
				return;
			p->pipe = pipe;
			rl_htab_put(&e->peers, pipe, p);
		}
		p->role = h->role;
		p->site = site;
		p->hello = 1;
		if (site >= 0) {
			/* A node says Hello again on the same pipe when its first one crossed ours: one
			 * "up" per pipe in the log. */
			if (e->sites[site].pipe != pipe)
				rl_log(RL_LOG_NOTICE, "site link up site=%s pipe=%u", e->sites[site].id, pipe);
			e->sites[site].pipe = pipe;
		}
		rl_env_init(&out);
		ok.server_time_us = e->now;
		ok.hub_id = e->conf.id;
		out.body_case = RELAIS__ENVELOPE__BODY_HELLO_OK;
		out.hello_ok = &ok;
		r.peer = NULL; /* hellos are not cached: each one re-binds */
		rl_reply(e, &r, &out);
		return;
	}
	if (p == NULL || !p->hello) {
		if (env->req_id != 0 || env->session != 0) {
			r.peer = NULL;
			rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_HELLO_FIRST, "say Hello first", 0);
		}
		return;
	}
	if (env->body_case == RELAIS__ENVELOPE__BODY_HEARTBEAT) {
		rl_do_heartbeat(e, &r, env);
		return;
	}
	if (env->body_case == RELAIS__ENVELOPE__BODY_CALL_QUALITY) {
		rl_do_quality(e, &r, env); /* not acknowledged: the next report supersedes it */
		return;
	}
	/* Session-bound agent requests. */
	switch (env->body_case) {
	case RELAIS__ENVELOPE__BODY_AGENT_SET_STATE:
	case RELAIS__ENVELOPE__BODY_OFFER_ANSWER:
	case RELAIS__ENVELOPE__BODY_CONTACT_HANGUP:
	case RELAIS__ENVELOPE__BODY_CONTACT_TRANSFER:
	case RELAIS__ENVELOPE__BODY_WRAPUP_DONE: {
		struct rl_agent *a = rl_agent_by_session(e, env->session);
		if (!rl_agent_request_ok(e, &r, a)) {
			rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_NOT_LOGGED_IN,
			               "session not bound to this link: resume", 0);
			return;
		}
		rl_touch(e, a);
		r.agent = a;
		if (env->req_id != 0) {
			if ((cached = rl_cache_find(a->cache, RL_REPLY_CACHE, env->req_id)) != NULL) {
				if (cached->buf != NULL)
					e->send(e->arg, pipe, cached->buf, cached->len);
				return;
			}
			rl_cache_slot(a->cache, RL_REPLY_CACHE, &a->cache_next, env->req_id);
		}
		if (env->body_case == RELAIS__ENVELOPE__BODY_AGENT_SET_STATE)
			rl_do_set_state(e, &r, a, env->agent_set_state->state, env->agent_set_state->reason);
		else if (env->body_case == RELAIS__ENVELOPE__BODY_OFFER_ANSWER)
			rl_do_answer(e, &r, a, env->offer_answer);
		else if (env->body_case == RELAIS__ENVELOPE__BODY_CONTACT_HANGUP)
			rl_do_hangup(e, &r, a, env->contact_hangup);
		else if (env->body_case == RELAIS__ENVELOPE__BODY_CONTACT_TRANSFER)
			rl_do_transfer(e, &r, a, env->contact_transfer);
		else
			rl_do_wrapup(e, &r, a, env->wrapup_done);
		return;
	}
	default:
		break;
	}
	/* A frame relayed for one of a node's agents (chan set) speaks for that agent, never
	 * for the site: site-level requests on a chan are refused. */
	if (env->chan != 0 && (env->body_case == RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT ||
	                       env->body_case == RELAIS__ENVELOPE__BODY_CONTACT_CANCEL ||
	                       env->body_case == RELAIS__ENVELOPE__BODY_QUEUE_POSITION ||
	                       env->body_case == RELAIS__ENVELOPE__BODY_TRANSFER_RESULT ||
	                       env->body_case == RELAIS__ENVELOPE__BODY_SITE_REGISTER ||
	                       env->body_case == RELAIS__ENVELOPE__BODY_ADMIN_SET_AGENT_STATE)) {
		rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "not allowed for a relayed agent", 0);
		return;
	}
	/* Link-level requests: answered once per req_id. */
	if (env->req_id != 0) {
		if ((cached = rl_cache_find(p->cache, RL_PEER_CACHE, env->req_id)) != NULL) {
			if (cached->buf != NULL)
				e->send(e->arg, pipe, cached->buf, cached->len);
			return;
		}
		rl_cache_slot(p->cache, RL_PEER_CACHE, &p->next, env->req_id);
	}
	switch (env->body_case) {
	case RELAIS__ENVELOPE__BODY_AGENT_LOGIN:
		rl_do_login(e, &r, env->agent_login);
		break;
	case RELAIS__ENVELOPE__BODY_AGENT_RESUME:
		rl_do_resume(e, &r, env->agent_resume);
		break;
	case RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT:
		rl_do_submit(e, &r, env->submit_contact);
		break;
	case RELAIS__ENVELOPE__BODY_CONTACT_CANCEL:
		rl_do_cancel(e, &r, env->contact_cancel);
		break;
	case RELAIS__ENVELOPE__BODY_QUEUE_POSITION:
		rl_do_queue_position(e, &r, env->queue_position);
		break;
	case RELAIS__ENVELOPE__BODY_TRANSFER_RESULT:
		rl_do_transfer_result(e, &r, env->transfer_result);
		break;
	case RELAIS__ENVELOPE__BODY_SITE_REGISTER: {
		const Relais__SiteRegister *sr = env->site_register;
		if (p->role != RELAIS__ROLE__ROLE_NODE || p->site < 0) {
			rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "only site nodes register", 0);
			break;
		}
		e->sites[p->site].capacity = sr->capacity;
		e->sites[p->site].health = sr->health > 100 ? 100 : sr->health;
		snprintf(e->sites[p->site].media_addr, sizeof(e->sites[p->site].media_addr), "%s",
		         sr->media_addr ? sr->media_addr : "");
		/* Contacts the node still holds that have ended here: a push lost while its link
		 * was down. It hears again how they ended (its caller may still be on the line). */
		for (size_t i = 0; i < sr->n_live; i++) {
			Relais__ContactRecord *rec = NULL;
			struct rl_contact tmp;
			if (rl_contact_find(e, sr->live[i]) != NULL)
				continue;
			memset(&tmp, 0, sizeof(tmp));
			if (rl_store_get_contact(e->store, sr->live[i], &rec) == RL_OK && rec->site_id &&
			    strcmp(rec->site_id, e->sites[p->site].id) == 0) {
				tmp.rec = rec;
				tmp.site = p->site;
				snprintf(tmp.id, sizeof(tmp.id), "%s", rec->contact_id);
				rl_push_update(e, &tmp);
			}
			if (rec != NULL) {
				relais__contact_record__free_unpacked(rec, NULL);
			} else {
				/* Unknown here (never acknowledged, or the store lost it): over. */
				Relais__ContactUpdate u = RELAIS__CONTACT_UPDATE__INIT;
				rl_env uenv;
				rl_env_init(&uenv);
				u.contact_id = sr->live[i];
				u.state = RELAIS__CONTACT_STATE__CONTACT_ENDED;
				u.outcome = RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED;
				uenv.body_case = RELAIS__ENVELOPE__BODY_CONTACT_UPDATE;
				uenv.contact_update = &u;
				rl_out_push(e, e->sites[p->site].pipe, 0, 0, 0, &uenv, NULL, 0);
			}
		}
		/* A (re)registered site hears the state of every live contact it owns: what changed
		 * while its link was down, and fresh media plans after a hub restart. */
		for (size_t i = 0; i < e->contact_by_id.cap; i++) {
			struct rl_contact *c = e->contact_by_id.ents ? e->contact_by_id.ents[i].val : NULL;
			if (c != NULL && c->site == p->site && c->rec->state != RELAIS__CONTACT_STATE__CONTACT_QUEUED)
				rl_push_update(e, c);
		}
		rl_event(e, RELAIS__EVENT_TYPE__EV_SITE_STATE, NULL, NULL, 0, e->sites[p->site].id);
		rl_reply_ok(e, &r);
		break;
	}
	case RELAIS__ENVELOPE__BODY_STATUS_REQUEST:
		rl_do_status(e, &r, env->status_request);
		break;
	case RELAIS__ENVELOPE__BODY_ADMIN_SET_AGENT_STATE: {
		const Relais__AdminSetAgentState *as = env->admin_set_agent_state;
		struct rl_agent *a = rl_agent_find(e, as->agent_id);
		if (p->role != RELAIS__ROLE__ROLE_CTL) {
			rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_FORBIDDEN,
			               "only relaisctl sets other agents' state", 0);
			break;
		}
		if (a == NULL) {
			rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_UNKNOWN_AGENT, "unknown agent", 0);
			break;
		}
		if (!rl_agent_live(a)) {
			rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "agent is logged out", 0);
			break;
		}
		if (as->state == RELAIS__AGENT_STATE__AGENT_LOGGED_OUT &&
		    a->rec->state == RELAIS__AGENT_STATE__AGENT_BUSY) {
			rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "agent is on a call", 0);
			break;
		}
		if (as->state != RELAIS__AGENT_STATE__AGENT_READY &&
		    as->state != RELAIS__AGENT_STATE__AGENT_NOT_READY &&
		    as->state != RELAIS__AGENT_STATE__AGENT_LOGGED_OUT) {
			rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST,
			               "state must be READY, NOT_READY or LOGGED_OUT", 0);
			break;
		}
		rl_do_set_state(e, NULL, a, as->state, as->reason && as->reason[0] ? as->reason : "supervisor");
		rl_reply_ok(e, &r);
		break;
	}
	default:
		rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "unexpected message", 0);
		break;
	}
}

void rl_engine_pipe_gone(struct rl_engine *e, uint32_t pipe)
{
	struct rl_peer *p = rl_peer_find(e, pipe);

	if (p == NULL)
		return;
	if (p->site >= 0 && e->sites[p->site].pipe == pipe) {
		e->sites[p->site].pipe = 0;
		rl_log(RL_LOG_WARNING, "site link down site=%s", e->sites[p->site].id);
		rl_event(e, RELAIS__EVENT_TYPE__EV_SITE_STATE, NULL, NULL, 0, "link down");
	}
	/* Agents behind this link get no new offers until they are heard again; a blip must
	 * not log them out (grace does that, much later). */
	for (int i = 0; i < e->nagents; i++) {
		struct rl_agent *a = e->agents[i];
		if (a->bound && a->pipe == pipe) {
			a->bound = 0;
			rl_agent_reach(e, a, 0);
		}
	}
	for (int i = 0; i < RL_PEER_CACHE; i++)
		free(p->cache[i].buf);
	rl_htab_del(&e->peers, pipe, p);
	free(p);
}

void rl_engine_tick(struct rl_engine *e)
{
	/* Link loss is judged on the batch clock too, so tests can drive it. */
	int check_reach = e->now - e->last_reach_check >= 500000u;

	if (check_reach)
		e->last_reach_check = e->now;
	for (int i = 0; i < e->nagents; i++) {
		struct rl_agent *a = e->agents[i];
		Relais__AgentState st = a->rec->state;
		if (!rl_agent_live(a))
			continue;
		if (st == RELAIS__AGENT_STATE__AGENT_RESERVED && a->rec->deadline_us <= e->now && a->contact) {
			/* RONA: the contact goes back to its place, the agent stops taking calls. */
			rl_requeue(e, a->contact, RELAIS__EVENT_TYPE__EV_CONTACT_RONA);
			rl_set_str(&a->rec->contact_id, "");
			rl_set_pending(a, "");
			rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_NOT_READY, "no-answer");
			rl_push_status(e, a, NULL);
		} else if (st == RELAIS__AGENT_STATE__AGENT_WRAPUP && a->rec->deadline_us <= e->now) {
			rl_finish_wrapup(e, a, NULL);
			rl_push_status(e, a, NULL);
		}
		if (!check_reach)
			continue;
		uint64_t silent = e->now > a->last_seen_us ? e->now - a->last_seen_us : 0;
		if (a->reachable && silent > (uint64_t)RL_LINK_DEAD_MS * 1000u)
			rl_agent_reach(e, a, 0);
		if (silent > (uint64_t)e->conf.agent_grace_s * 1000000u) {
			rl_log(RL_LOG_NOTICE, "agent lost agent=%s silent_s=%llu", a->id,
			       (unsigned long long)(silent / 1000000u));
			rl_agent_logout(e, a, "link lost");
		}
	}
	/* Overflow opens with time: every queue with waiting contacts gets another look. */
	for (int q = 0; q < e->nqueues; q++)
		if (e->queues[q].nheap && e->queues[q].noverflow)
			e->queues[q].dirty = 1;
}

int rl_engine_begin(struct rl_engine *e, uint64_t now_us)
{
	int rv;

	/* Wall clock may step back (NTP); the model's time never does. */
	if (now_us > e->now)
		e->now = now_us;
	if ((rv = rl_store_begin(e->store)) != RL_OK)
		return rv;
	e->in_batch = 1;
	e->write_failed = 0;
	return RL_OK;
}

static void rl_out_flush(struct rl_engine *e)
{
	for (size_t i = 0; i < e->nout; i++) {
		struct rl_out *o = &e->out[i];
		struct rl_reply *slot = NULL;
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
	e->nout = 0;
}

int rl_engine_commit(struct rl_engine *e)
{
	int rv;

	if (e->in_batch) {
		rl_route(e);
		e->in_batch = 0;
		if (e->write_failed) {
			/* Memory holds a change the store could not take: never commit half a
			 * batch; the caller stops and a restart recovers from the last commit. */
			rl_store_abort(e->store);
			return RL_EIO;
		}
		if ((rv = rl_store_commit(e->store)) != RL_OK)
			return rv; /* the caller stops: memory is ahead of disk */
	}
	rl_out_flush(e);
	return RL_OK;
}

void rl_engine_abort(struct rl_engine *e)
{
	rl_store_abort(e->store);
	e->in_batch = 0;
	for (size_t i = 0; i < e->nout; i++)
		free(e->out[i].buf);
	e->nout = 0;
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
}

/* ---------------------------------------------------------------------------------------- */
/* provisioning and recovery */

static int rl_cfg_err(const config_setting_t *s, const char *what)
{
	rl_log(RL_LOG_ERR, "config line=%d: %s", s ? config_setting_source_line(s) : 0, what);
	return RL_ECONFIG;
}

static int rl_load_skills(struct rl_engine *e, const config_setting_t *g, uint8_t *levels)
{
	if (g == NULL)
		return RL_OK;
	if (!config_setting_is_group(g))
		return rl_cfg_err(g, "skills must be a group like { billing = 5; fr = 7; }");
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		int lvl = config_setting_get_int(s), idx;
		if (config_setting_type(s) != CONFIG_TYPE_INT || lvl < 1 || lvl > 10)
			return rl_cfg_err(s, "skill levels are integers 1..10");
		if ((idx = rl_skill_idx(e, config_setting_name(s), 1)) < 0)
			return rl_cfg_err(s, "too many distinct skills (64 at most)");
		levels[idx] = (uint8_t)lvl;
	}
	return RL_OK;
}

static int rl_load_named(const config_setting_t *list, const char *what, char (*ids)[RL_WIRE_MAX_ID + 1], size_t stride,
                         int max)
{
	int n = list ? config_setting_length(list) : 0;

	if (n > max)
		return rl_cfg_err(list, what);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
		const char *id = NULL;
		config_setting_lookup_string(s, "id", &id);
		if (!rl_wire_id_ok(id))
			return rl_cfg_err(s, "every entry needs a valid id");
		snprintf((char *)ids + (size_t)i * stride, RL_WIRE_MAX_ID + 1, "%s", id);
	}
	return n;
}

static int rl_load_queue(struct rl_engine *e, struct rl_queue *q, const config_setting_t *s)
{
	const char *id = NULL, *tenant = NULL, *name = NULL, *policy = "longest_idle";
	const config_setting_t *sites, *ov;
	int rv;

	config_setting_lookup_string(s, "id", &id);
	config_setting_lookup_string(s, "tenant", &tenant);
	config_setting_lookup_string(s, "name", &name);
	config_setting_lookup_string(s, "policy", &policy);
	if (!rl_wire_id_ok(id))
		return rl_cfg_err(s, "queue needs a valid id");
	snprintf(q->id, sizeof(q->id), "%s", id);
	snprintf(q->name, sizeof(q->name), "%s", name ? name : id);
	if (tenant == NULL || (q->tenant = rl_tenant_idx(e, tenant)) < 0)
		return rl_cfg_err(s, "queue tenant unknown");
	if ((rv = rl_load_skills(e, config_setting_get_member(s, "skills"), q->need)) != RL_OK)
		return rv;
	if (config_setting_get_member(s, "skills2") != NULL) {
		q->has_need2 = 1;
		if ((rv = rl_load_skills(e, config_setting_get_member(s, "skills2"), q->need2)) != RL_OK)
			return rv;
	}
	if ((sites = config_setting_get_member(s, "sites")) != NULL) {
		for (int i = 0; i < config_setting_length(sites); i++) {
			const char *sid = config_setting_get_string_elem(sites, i);
			int si = sid ? rl_site_idx(e, sid) : -1;
			if (si < 0)
				return rl_cfg_err(sites, "queue site unknown");
			q->sites |= 1ULL << si;
		}
	}
	q->sl_pct = (uint32_t)rl_cfg_int(s, "sl_pct", 80);
	q->sl_s = (uint32_t)rl_cfg_int(s, "sl_seconds", 20);
	q->wrapup_s = (uint32_t)rl_cfg_int(s, "wrapup_s", e->conf.wrapup_s);
	q->offer_timeout_s = (uint32_t)rl_cfg_int(s, "offer_timeout_s", e->conf.offer_timeout_s);
	q->sticky_s = (uint32_t)rl_cfg_int(s, "sticky_s", 0);
	q->aht_s = (uint32_t)rl_cfg_int(s, "aht_s", 180);
	if (q->aht_s < 1 || q->aht_s > 7200)
		return rl_cfg_err(s, "aht_s (expected handle time before there is history) is 1..7200");
	if (q->sl_pct > 100 || q->sl_s > 3600 || q->wrapup_s > 3600 || q->offer_timeout_s < 1 ||
	    q->offer_timeout_s > 300)
		return rl_cfg_err(
		    s,
		    "queue setting out of range (sl_pct 0..100, sl_seconds/wrapup_s <= 3600, offer_timeout_s 1..300)");
	if (strcmp(policy, "longest_idle") == 0)
		q->policy = RL_POLICY_LONGEST_IDLE;
	else if (strcmp(policy, "most_skilled") == 0)
		q->policy = RL_POLICY_MOST_SKILLED;
	else
		return rl_cfg_err(s, "policy is longest_idle or most_skilled");
	if ((ov = config_setting_get_member(s, "overflow")) != NULL) {
		if (config_setting_length(ov) > RL_MAX_TIERS - 1)
			return rl_cfg_err(ov, "at most 4 overflow rules");
		for (int i = 0; i < config_setting_length(ov); i++) {
			const config_setting_t *r = config_setting_get_elem(ov, (unsigned)i);
			const config_setting_t *w = config_setting_get_member(r, "widen");
			struct rl_overflow *o = &q->overflow[q->noverflow++];
			o->after_s = (uint32_t)rl_cfg_int(r, "after_s", 0);
			o->waiting_over = (uint32_t)rl_cfg_int(r, "waiting_over", 0);
			for (int k = 0; w && k < config_setting_length(w); k++) {
				const char *wv = config_setting_get_string_elem(w, k);
				if (wv && strcmp(wv, "all_sites") == 0)
					o->widen |= RL_WIDEN_ALL_SITES;
				else if (wv && strcmp(wv, "home") == 0)
					o->widen |= RL_WIDEN_HOME;
				else if (wv && strcmp(wv, "skills2") == 0)
					o->widen |= RL_WIDEN_SKILLS2;
				else
					return rl_cfg_err(w, "widen values: all_sites, home, skills2");
			}
		}
	}
	return RL_OK;
}

static struct rl_agent *rl_agent_new(struct rl_engine *e)
{
	struct rl_agent *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	if ((a->members = calloc((size_t)e->nqueues + 1, sizeof(*a->members))) == NULL) {
		free(a);
		return NULL;
	}
	a->site = -1;
	a->wrap_queue = -1;
	for (int q = 0; q < 64; q++)
		a->tier[q] = -1;
	return a;
}

static void rl_agent_free(struct rl_agent *a)
{
	if (a == NULL)
		return;
	for (int i = 0; i < RL_REPLY_CACHE; i++)
		free(a->cache[i].buf);
	if (a->rec)
		relais__agent_record__free_unpacked(a->rec, NULL);
	free(a->members);
	free(a);
}

/* Apply the provisioned (static) fields of an agent entry to its record. */
static int rl_load_agent(struct rl_engine *e, const config_setting_t *s)
{
	const char *id = NULL, *hash = NULL, *site = "", *name = NULL;
	const config_setting_t *tl;
	struct rl_agent *a;
	Relais__AgentRecord *rec = NULL;
	int rv;

	config_setting_lookup_string(s, "id", &id);
	config_setting_lookup_string(s, "secret_hash", &hash);
	config_setting_lookup_string(s, "site", &site);
	config_setting_lookup_string(s, "name", &name);
	if (!rl_wire_id_ok(id))
		return rl_cfg_err(s, "agent needs a valid id");
	if (hash == NULL || strncmp(hash, "$argon2id$", 10) != 0)
		return rl_cfg_err(s, "agent needs secret_hash (argon2id; see relaisctl hash-secret)");
	if (rl_agent_find(e, id) != NULL)
		return rl_cfg_err(s, "duplicate agent id");
	if (site[0] && rl_site_idx(e, site) < 0)
		return rl_cfg_err(s, "agent site unknown");
	if ((a = rl_agent_new(e)) == NULL)
		return RL_ENOMEM;
	snprintf(a->id, sizeof(a->id), "%s", id);
	if (rl_store_get_agent(e->store, id, &rec) != RL_OK) {
		rec = calloc(1, sizeof(*rec));
		if (rec == NULL) {
			rl_agent_free(a);
			return RL_ENOMEM;
		}
		relais__agent_record__init(rec);
		rec->agent_id = rl_strdup(id);
		rec->state = RELAIS__AGENT_STATE__AGENT_LOGGED_OUT;
		rec->reason = rl_strdup("");
		rec->contact_id = rl_strdup("");
		rec->site_id = rl_strdup("");
	}
	a->rec = rec;
	rl_set_str(&rec->secret_hash, hash);
	rl_set_str(&rec->home_site, site);
	rl_set_str(&rec->name, name ? name : id);
	for (size_t i = 0; i < rec->n_tenants; i++)
		free(rec->tenants[i]);
	free(rec->tenants);
	rec->tenants = NULL;
	rec->n_tenants = 0;
	for (size_t i = 0; i < rec->n_skills; i++)
		relais__skill__free_unpacked(rec->skills[i], NULL);
	free(rec->skills);
	rec->skills = NULL;
	rec->n_skills = 0;
	if ((tl = config_setting_get_member(s, "tenants")) != NULL) {
		int n = config_setting_length(tl);
		rec->tenants = calloc((size_t)n + 1, sizeof(char *));
		for (int i = 0; rec->tenants && i < n; i++) {
			const char *t = config_setting_get_string_elem(tl, i);
			int ti = t ? rl_tenant_idx(e, t) : -1;
			if (ti < 0) {
				rl_agent_free(a);
				return rl_cfg_err(tl, "agent tenant unknown");
			}
			a->tenants |= 1ULL << ti;
			rec->tenants[rec->n_tenants++] = rl_strdup(t);
		}
	}
	if ((rv = rl_load_skills(e, config_setting_get_member(s, "skills"), a->level)) != RL_OK) {
		rl_agent_free(a);
		return rv;
	}
	for (int i = 0; i < RL_MAX_SKILLS; i++) {
		if (!a->level[i])
			continue;
		Relais__Skill **ns = realloc(rec->skills, (rec->n_skills + 1) * sizeof(*ns));
		Relais__Skill *sk = calloc(1, sizeof(*sk));
		if (ns == NULL || sk == NULL) {
			free(sk);
			if (ns)
				rec->skills = ns;
			rl_agent_free(a);
			return RL_ENOMEM;
		}
		rec->skills = ns;
		relais__skill__init(sk);
		sk->name = rl_strdup(e->skills[i]);
		sk->level = a->level[i];
		rec->skills[rec->n_skills++] = sk;
	}
	if (e->nagents % 1024 == 0) {
		struct rl_agent **n = realloc(e->agents, ((size_t)e->nagents + 1024) * sizeof(*n));
		if (n == NULL) {
			rl_agent_free(a);
			return RL_ENOMEM;
		}
		e->agents = n;
	}
	e->agents[e->nagents++] = a;
	rl_htab_put(&e->agent_by_id, rl_htab_hash(a->id), a);
	return RL_OK;
}

static int rl_restore_contact(void *arg, Relais__ContactRecord *r)
{
	struct rl_engine *e = arg;
	struct rl_contact *c = calloc(1, sizeof(*c));
	int qi = rl_queue_idx(e, r->queue_id);

	if (c == NULL) {
		relais__contact_record__free_unpacked(r, NULL);
		return RL_ENOMEM;
	}
	c->rec = r;
	snprintf(c->id, sizeof(c->id), "%s", r->contact_id);
	c->queue = qi;
	c->site = r->site_id && r->site_id[0] ? rl_site_idx(e, r->site_id) : -1;
	rl_htab_put(&e->contact_by_id, rl_htab_hash(c->id), c);
	if (qi < 0) {
		/* Its queue is no longer provisioned: end it so it is not lost silently. */
		rl_log(RL_LOG_WARNING, "contact of a removed queue ends contact=%s queue=%s", c->id, r->queue_id);
		c->queue = 0;
		if (e->nqueues == 0)
			return RL_ECONFIG;
		rl_end_contact(e, c, RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED);
		return RL_OK;
	}
	if (c->site >= 0)
		e->sites[c->site].contacts++;
	if (r->agent_id && r->agent_id[0] && r->state != RELAIS__CONTACT_STATE__CONTACT_QUEUED) {
		struct rl_agent *a = rl_agent_find(e, r->agent_id);
		if (a != NULL && a->rec->contact_id && strcmp(a->rec->contact_id, c->id) == 0 &&
		    ((r->state == RELAIS__CONTACT_STATE__CONTACT_OFFERED &&
		      a->rec->state == RELAIS__AGENT_STATE__AGENT_RESERVED) ||
		     (r->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED &&
		      a->rec->state == RELAIS__AGENT_STATE__AGENT_BUSY))) {
			c->agent = a;
			a->contact = c;
			return RL_OK;
		}
		/* The two records disagree (cannot happen after a clean commit): requeue. */
		rl_log(RL_LOG_WARNING, "contact without its agent is requeued contact=%s", c->id);
		if (r->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED) {
			rl_end_contact(e, c, RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED);
			return RL_OK;
		}
		rl_requeue(e, c, RELAIS__EVENT_TYPE__EV_CONTACT_REQUEUED);
		return RL_OK;
	}
	c->rec->state = RELAIS__CONTACT_STATE__CONTACT_QUEUED;
	rl_router_push(&e->queues[qi], c);
	e->queues[qi].dirty = 1;
	return RL_OK;
}

static int rl_restore_kpi(void *arg, const Relais__EventRecord *ev)
{
	struct rl_engine *e = arg;
	int qi = ev->queue_id && ev->queue_id[0] ? rl_queue_idx(e, ev->queue_id) : -1;
	struct rl_queue *q;

	if (qi < 0)
		return 0;
	q = &e->queues[qi];
	switch (ev->type) {
	case RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED:
		q->st.offered++;
		break;
	case RELAIS__EVENT_TYPE__EV_CONTACT_ACCEPTED:
		q->st.answered++;
		q->st.answer_wait_ms += ev->wait_ms;
		if (ev->wait_ms <= (uint64_t)q->sl_s * 1000u)
			q->st.answered_in_sl++;
		break;
	case RELAIS__EVENT_TYPE__EV_CONTACT_ABANDONED:
		q->st.abandoned++;
		break;
	case RELAIS__EVENT_TYPE__EV_CONTACT_ENDED:
	case RELAIS__EVENT_TYPE__EV_CONTACT_TRANSFERRED:
		rl_stats_talk(q, ev->wait_ms);
		break;
	case RELAIS__EVENT_TYPE__EV_AGENT_STATE:
		if (ev->detail && strcmp(ev->detail, "wrapup-done") == 0) {
			q->st.handle_ms += ev->wait_ms;
			rl_avg_add(&q->wrap_avg_ms, &q->wrap_n, (double)ev->wait_ms);
		}
		break;
	default:
		break;
	}
	return 0;
}

int rl_engine_open(struct rl_engine **out, const struct rl_hub_conf *conf, const config_t *cfg, rl_engine_send_fn send,
                   void *send_arg, rl_engine_auth_fn auth, void *auth_arg, uint64_t now_us)
{
	struct rl_engine *e = calloc(1, sizeof(*e));
	const config_setting_t *sites, *tenants, *queues, *agents;
	int n, rv;

	if (e == NULL)
		return RL_ENOMEM;
	e->conf = *conf;
	e->send = send;
	e->auth = auth;
	e->arg = send_arg;
	e->auth_arg = auth_arg;
	e->now = now_us;
	relais__hub_counters__init(&e->wire);
	sites = config_lookup(cfg, "sites");
	tenants = config_lookup(cfg, "tenants");
	queues = config_lookup(cfg, "queues");
	agents = config_lookup(cfg, "agents");
	if ((n = rl_load_named(sites, "at most 64 sites", &e->sites[0].id, sizeof(struct rl_site), RL_MAX_SITES)) < 0) {
		rv = n;
		goto fail;
	}
	e->nsites = n;
	for (int i = 0; i < n; i++) {
		const char *name = NULL;
		config_setting_lookup_string(config_setting_get_elem(sites, (unsigned)i), "name", &name);
		snprintf(e->sites[i].name, sizeof(e->sites[i].name), "%s", name ? name : e->sites[i].id);
		e->sites[i].health = 100;
	}
	if ((n = rl_load_named(tenants, "at most 64 tenants", &e->tenants[0].id, sizeof(struct rl_tenant),
	                       RL_MAX_TENANTS)) < 0) {
		rv = n;
		goto fail;
	}
	e->ntenants = n;
	for (int i = 0; i < n; i++) {
		const char *name = NULL;
		config_setting_lookup_string(config_setting_get_elem(tenants, (unsigned)i), "name", &name);
		snprintf(e->tenants[i].name, sizeof(e->tenants[i].name), "%s", name ? name : e->tenants[i].id);
	}
	e->nqueues = queues ? config_setting_length(queues) : 0;
	if (e->nqueues > 64) {
		rv = rl_cfg_err(queues, "at most 64 queues");
		goto fail;
	}
	if ((e->queues = calloc((size_t)e->nqueues + 1, sizeof(*e->queues))) == NULL) {
		rv = RL_ENOMEM;
		goto fail;
	}
	for (int i = 0; i < e->nqueues; i++) {
		if ((rv = rl_load_queue(e, &e->queues[i], config_setting_get_elem(queues, (unsigned)i))) != RL_OK)
			goto fail;
		if (rl_queue_idx(e, e->queues[i].id) != i) {
			rv = rl_cfg_err(queues, "duplicate queue id");
			goto fail;
		}
	}
	if ((rv = rl_store_open(&e->store, conf->data_dir, (size_t)conf->map_size_mb)) != RL_OK)
		goto fail;
	for (int i = 0; agents && i < config_setting_length(agents); i++)
		if ((rv = rl_load_agent(e, config_setting_get_elem(agents, (unsigned)i))) != RL_OK)
			goto fail;

	/* Recovery: the store is the truth; rebuild memory from it in one transaction. */
	if ((rv = rl_store_begin(e->store)) != RL_OK)
		goto fail;
	e->in_batch = 1;
	for (int i = 0; i < e->nagents; i++) {
		struct rl_agent *a = e->agents[i];
		a->site = a->rec->site_id && a->rec->site_id[0] ? rl_site_idx(e, a->rec->site_id) : -1;
		a->last_seen_us = now_us; /* grace counts from the restart */
		if (rl_agent_live(a)) {
			if (a->rec->session)
				rl_htab_put(&e->agent_by_session, a->rec->session, a);
			if (a->site >= 0)
				e->sites[a->site].agents++;
		}
		for (int q = 0; q < e->nqueues; q++) {
			a->tier[q] = rl_router_tier(&e->queues[q], a);
			if (a->tier[q] >= 0 && rl_agent_live(a))
				e->queues[q].staffed++;
		}
		rl_save_agent(e, a); /* provisioning changes */
	}
	if ((rv = rl_store_each_live(e->store, rl_restore_contact, e)) != RL_OK)
		goto fail;
	for (int i = 0; i < e->nagents; i++) {
		struct rl_agent *a = e->agents[i];
		Relais__AgentState st = a->rec->state;
		if ((st == RELAIS__AGENT_STATE__AGENT_RESERVED || st == RELAIS__AGENT_STATE__AGENT_BUSY) &&
		    a->contact == NULL) {
			/* It held a contact that is gone: it is free again. */
			rl_set_str(&a->rec->contact_id, "");
			rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_NOT_READY, "recovered");
		}
		if (st == RELAIS__AGENT_STATE__AGENT_WRAPUP) {
			Relais__ContactRecord *cr;
			a->wrap_started_us = a->rec->state_since_us;
			if (rl_store_get_contact(e->store, a->rec->contact_id, &cr) == RL_OK) {
				a->wrap_queue = rl_queue_idx(e, cr->queue_id);
				relais__contact_record__free_unpacked(cr, NULL);
			}
		}
	}
	if ((rv = rl_engine_commit(e)) != RL_OK)
		goto fail;
	uint64_t midnight = (uint64_t)rl_day(now_us) * 86400000000ULL;
	for (int q = 0; q < e->nqueues; q++)
		e->queues[q].st.day = rl_day(now_us);
	rl_store_each_event_since(e->store, midnight, rl_restore_kpi, e);
	rl_log(RL_LOG_NOTICE, "hub model loaded sites=%d tenants=%d queues=%d agents=%d live_contacts=%zu", e->nsites,
	       e->ntenants, e->nqueues, e->nagents, e->contact_by_id.len);
	*out = e;
	return RL_OK;
fail:
	rl_engine_close(e);
	return rv;
}

void rl_engine_close(struct rl_engine *e)
{
	if (e == NULL)
		return;
	rl_engine_abort(e);
	for (size_t i = 0; i < e->contact_by_id.cap; i++)
		if (e->contact_by_id.ents && e->contact_by_id.ents[i].val) {
			struct rl_contact *c = e->contact_by_id.ents[i].val;
			rl_plan_free(c->plan, e->relay);
			rl_contact_free(c);
		}
	for (size_t i = 0; i < e->peers.cap; i++) {
		struct rl_peer *p = e->peers.ents ? e->peers.ents[i].val : NULL;
		if (p == NULL)
			continue;
		for (int k = 0; k < RL_PEER_CACHE; k++)
			free(p->cache[k].buf);
		free(p);
	}
	for (int i = 0; i < e->nagents; i++)
		rl_agent_free(e->agents[i]);
	for (int q = 0; q < e->nqueues; q++)
		free(e->queues[q].heap);
	free(e->queues);
	free(e->agents);
	free(e->out);
	rl_htab_fini(&e->agent_by_id);
	rl_htab_fini(&e->agent_by_session);
	rl_htab_fini(&e->contact_by_id);
	rl_htab_fini(&e->peers);
	rl_store_close(e->store);
	free(e);
}

/* ---------------------------------------------------------------------------------------- */
/* self-check for tests: the model agrees with itself and with the store */

int rl_engine_check(struct rl_engine *e, char *why, size_t len)
{
	int bad = 0;
	uint32_t queued = 0;

#define RL_BAD(...)                                      \
	do {                                             \
		if (bad++ == 0)                          \
			snprintf(why, len, __VA_ARGS__); \
	} while (0)
	for (int i = 0; i < e->nagents; i++) {
		struct rl_agent *a = e->agents[i];
		Relais__AgentRecord *ar = NULL;
		Relais__AgentState st = a->rec->state;
		if (a->contact != NULL && a->contact->agent != a)
			RL_BAD("agent %s holds %s which points elsewhere", a->id, a->contact->id);
		if ((st == RELAIS__AGENT_STATE__AGENT_RESERVED || st == RELAIS__AGENT_STATE__AGENT_BUSY) &&
		    a->contact == NULL)
			RL_BAD("agent %s is %d without a contact", a->id, st);
		if (st == RELAIS__AGENT_STATE__AGENT_READY && a->contact != NULL)
			RL_BAD("agent %s is ready while holding %s", a->id, a->contact->id);
		for (int q = 0; q < e->nqueues; q++)
			if (a->members[q].linked && (st != RELAIS__AGENT_STATE__AGENT_READY || !a->reachable))
				RL_BAD("agent %s in a ready list while state %d", a->id, st);
		if (rl_store_get_agent(e->store, a->id, &ar) == RL_OK) {
			if (ar->state != st || strcmp(ar->contact_id ? ar->contact_id : "",
			                              a->rec->contact_id ? a->rec->contact_id : "") != 0)
				RL_BAD("agent %s: store says %d/%s, memory %d/%s", a->id, ar->state, ar->contact_id, st,
				       a->rec->contact_id);
			relais__agent_record__free_unpacked(ar, NULL);
		}
	}
	for (size_t i = 0; i < e->contact_by_id.cap; i++) {
		struct rl_contact *c = e->contact_by_id.ents ? e->contact_by_id.ents[i].val : NULL;
		Relais__ContactRecord *cr = NULL;
		if (c == NULL)
			continue;
		if (c->queued != (c->rec->state == RELAIS__CONTACT_STATE__CONTACT_QUEUED))
			RL_BAD("contact %s queued=%d state=%d", c->id, c->queued, c->rec->state);
		if (c->queued)
			queued++;
		if (c->agent != NULL && c->agent->contact != c)
			RL_BAD("contact %s offered to %s who holds another", c->id, c->agent->id);
		if (!c->queued && c->agent == NULL)
			RL_BAD("contact %s neither queued nor with an agent", c->id);
		if (rl_store_get_contact(e->store, c->id, &cr) == RL_OK) {
			if (cr->state != c->rec->state || cr->enqueued_us != c->rec->enqueued_us)
				RL_BAD("contact %s: store state %d, memory %d", c->id, cr->state, c->rec->state);
			relais__contact_record__free_unpacked(cr, NULL);
		} else {
			RL_BAD("contact %s missing from the store", c->id);
		}
	}
	uint32_t inheaps = 0;
	for (int q = 0; q < e->nqueues; q++) {
		uint32_t infifo = 0;
		uint64_t last = 0;
		inheaps += e->queues[q].nheap;
		for (struct rl_contact *c = e->queues[q].fifo_head; c != NULL; c = c->fifo_next, infifo++)
			if (c->rec->enqueued_us < last)
				RL_BAD("queue %s: wait order broken at %s", e->queues[q].id, c->id);
			else
				last = c->rec->enqueued_us;
		if (infifo != e->queues[q].nheap)
			RL_BAD("queue %s: %u by priority, %u by wait", e->queues[q].id, e->queues[q].nheap, infifo);
	}
	if (inheaps != queued)
		RL_BAD("heaps hold %u contacts, %u are queued", inheaps, queued);
#undef RL_BAD
	return bad;
}
