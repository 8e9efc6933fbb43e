/*
 * status.c - status replies: queues with their KPIs, sites, agents, and live and recent
 * calls with their quality, optionally for one tenant. An operator scoped to some tenants
 * (a supervisor, a viewer) sees those tenants' queues, agents and calls only, and of an agent
 * serving several tenants only its tenants in scope; sites' links and health but not their
 * counts, nor the hub's counters. A reply must fit one frame, so the lists are capped.
 */
#include <stdlib.h>

#include "internal.h"
#include "relay.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "store.h"

#define RL_STATUS_AGENT_ROWS  400
#define RL_STATUS_CALL_ROWS   182 /* live + recent calls in one status reply (fits a frame) */
#define RL_STATUS_RECENT_ROWS 32  /* ended calls relaisctl still shows with their quality */

/* The reply's rows, freed together when it has been encoded. */
struct rl_status {
	Relais__StatusReply rep;
	Relais__QueueStat *qs, **qp;
	Relais__SiteStat *ss, **sp;
	Relais__AgentStat *as, **ap;
	Relais__CallStat *cs, **cp;
	Relais__RelayStat rs;
	Relais__HaStat hs;
	Relais__SiteState site_states[RL_MAX_SITES];
	char **tenant_names; /* scoped replies: each agent row's tenants in scope */
	uint64_t mask;       /* the tenants shown (bit per tenant index) */
	int all;             /* the asker sees everything: counts too */
};

static int rl_shown(const struct rl_status *s, int tenant)
{
	return (s->mask >> tenant) & 1;
}

void rl_status_queue(struct rl_engine *e, int i, Relais__QueueStat *x)
{
	struct rl_queue *q = &e->queues[i];
	uint32_t workers = rl_queue_workers(e, i);

	rl_kpi_day(e, q);
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
	rl_kpi_rates(&q->st, &x->service_level, &x->asa_ms, &x->aht_ms);
	x->handled = q->st.handled;
	x->ewt_known = workers > 0;
	if (x->ewt_known)
		x->ewt_s = rl_queue_ewt_s(q, q->nheap + 1, workers);
	x->sl_target_pct = q->sl_pct;
	x->sl_seconds = q->sl_s;
	for (int t = 0; t < RL_MAX_TIERS; t++)
		x->agents_ready += q->ready[t].len;
	x->agents_staffed = rl_queue_staffed(q);
	x->staffing_known = rl_queue_agents_needed(e, q, &x->agents_needed, &x->offered_per_hour) != 0;
}

static void rl_status_queues(struct rl_engine *e, struct rl_status *s)
{
	s->qs = rl_calloc((size_t)e->nqueues + 1, sizeof(*s->qs));
	s->qp = rl_calloc((size_t)e->nqueues + 1, sizeof(*s->qp));
	for (int i = 0; i < e->nqueues; i++) {
		if (!rl_shown(s, e->queues[i].tenant))
			continue;
		rl_status_queue(e, i, &s->qs[s->rep.n_queues]);
		s->qp[s->rep.n_queues] = &s->qs[s->rep.n_queues];
		s->rep.n_queues++;
	}
	s->rep.queues = s->qp;
}

static void rl_status_sites(struct rl_engine *e, struct rl_status *s)
{
	s->ss = rl_calloc((size_t)e->nsites + 1, sizeof(*s->ss));
	s->sp = rl_calloc((size_t)e->nsites + 1, sizeof(*s->sp));
	for (int i = 0; i < e->nsites; i++) {
		Relais__SiteStat *x = &s->ss[i];
		relais__site_stat__init(x);
		x->site_id = e->sites[i].id;
		x->name = e->sites[i].name;
		x->connected = e->sites[i].pipe != 0;
		x->health = e->sites[i].health;
		x->capacity = e->sites[i].capacity;
		rl_site_state(e, i, &s->site_states[i]);
		x->state = &s->site_states[i];
		if (s->all) {
			x->agents = e->sites[i].agents;
			x->contacts = e->sites[i].contacts;
		}
		s->sp[s->rep.n_sites++] = x;
	}
	s->rep.sites = s->sp;
}

/* rl_status_tenants points row x at a's tenants in the reply's scope (names in tv). */
static void rl_status_tenants(struct rl_engine *e, struct rl_status *s, const struct rl_agent *a, Relais__AgentStat *x,
                              char **tv)
{
	x->n_tenants = 0;
	x->tenants = tv;
	for (int t = 0; t < e->ntenants; t++)
		if (((a->tenants & s->mask) >> t) & 1)
			tv[x->n_tenants++] = e->tenants[t].id;
}

static void rl_status_agent(struct rl_engine *e, const struct rl_agent *a, Relais__AgentStat *x)
{
	relais__agent_stat__init(x);
	x->agent_id = a->rec->agent_id;
	x->state = a->rec->state;
	x->reason = a->rec->reason;
	x->site_id = a->rec->site_id;
	x->n_tenants = a->rec->n_tenants;
	x->tenants = a->rec->tenants;
	x->in_state_ms =
	    a->rec->state_since_us && e->now > a->rec->state_since_us ? (e->now - a->rec->state_since_us) / 1000u : 0;
	x->contact_id = a->rec->contact_id;
	x->connected = a->reachable;
	x->handled = a->rec->handled;
}

static void rl_status_agents(struct rl_engine *e, struct rl_status *s, unsigned limit)
{
	struct rl_scope_iter it = {0};
	int i;

	if (limit == 0 || limit > RL_STATUS_AGENT_ROWS)
		limit = RL_STATUS_AGENT_ROWS; /* a reply must fit one frame */
	s->as = rl_calloc(limit, sizeof(*s->as));
	s->ap = rl_calloc(limit, sizeof(*s->ap));
	if (!s->all)
		s->tenant_names = rl_calloc((size_t)limit * RL_MAX_TENANTS, sizeof(char *));
	s->rep.agents_total = rl_tally_scope(e, s->mask, NULL); /* tally.c: no walk over them all */
	while (s->rep.n_agents < limit && (i = rl_scope_next(e, s->mask, &it)) >= 0) {
		const struct rl_agent *a = e->agents[i];
		rl_status_agent(e, a, &s->as[s->rep.n_agents]);
		if (!s->all)
			rl_status_tenants(e, s, a, &s->as[s->rep.n_agents],
			                  s->tenant_names + (size_t)s->rep.n_agents * RL_MAX_TENANTS);
		s->ap[s->rep.n_agents] = &s->as[s->rep.n_agents];
		s->rep.n_agents++;
	}
	s->rep.agents = s->ap;
}

/* rl_call_row fills the next call row; the caller sets what differs between live and ended. */
static Relais__CallStat *rl_call_row(struct rl_status *s, const char *id, const char *agent, const char *site,
                                     struct rl_call_quality *q)
{
	Relais__CallStat *x = &s->cs[s->rep.n_calls];

	relais__call_stat__init(x);
	x->contact_id = (char *)id;
	x->agent_id = (char *)agent;
	x->site_id = (char *)site;
	x->site = rl_quality_get(q, RL_SIDE_SITE);
	x->agent = rl_quality_get(q, RL_SIDE_AGENT);
	s->cp[s->rep.n_calls++] = x;
	return x;
}

static void rl_status_relay(struct rl_engine *e, struct rl_status *s)
{
	struct rl_relay_counters rc;

	rl_relay_counters(e->relay, &rc);
	relais__relay_stat__init(&s->rs);
	s->rs.rx = rc.rx;
	s->rs.fwd = rc.fwd;
	s->rs.dropped = rl_relay_dropped(&rc);
	s->rs.calls = rc.calls;
	s->rs.addr = (char *)rl_relay_advertise(e->relay);
	s->rep.relay = &s->rs;
}

static void rl_status_calls(struct rl_engine *e, struct rl_status *s)
{
	s->cs = rl_calloc(RL_STATUS_CALL_ROWS, sizeof(*s->cs));
	s->cp = rl_calloc(RL_STATUS_CALL_ROWS, sizeof(*s->cp));
	for (size_t i = 0; i < e->contact_by_id.cap && s->rep.n_calls < RL_STATUS_CALL_ROWS - RL_STATUS_RECENT_ROWS;
	     i++) {
		struct rl_contact *c = e->contact_by_id.ents[i].val;
		Relais__CallStat *x;
		if (c == NULL || c->plan == NULL || !rl_shown(s, e->queues[c->queue].tenant))
			continue;
		x = rl_call_row(s, c->id, c->rec->agent_id, c->rec->site_id, &c->plan->quality);
		x->relayed = c->plan->relay_id != 0;
		x->live = 1;
		x->answered_us = c->rec->answered_us;
	}
	/* The most recently ended first. */
	for (unsigned k = 0; k < RL_STATUS_RECENT_ROWS && k < e->nrecent && k < RL_RECENT_CALLS; k++) {
		struct rl_recent *rc = &e->recent[(e->nrecent - 1 - k) % RL_RECENT_CALLS];
		Relais__CallStat *x;
		if (!rl_shown(s, rc->tenant))
			continue;
		x = rl_call_row(s, rc->id, rc->agent, rc->site, &rc->quality);
		x->relayed = rc->relayed;
		x->answered_us = rc->answered_us;
		x->ended_us = rc->ended_us;
	}
	s->rep.calls = s->cp;
	if (e->relay != NULL && s->all)
		rl_status_relay(e, s);
}

/* rl_status_ha: the hub pair's row, for those who see everything. */
static void rl_status_ha(struct rl_engine *e, struct rl_status *s)
{
	if (e->ha_stat == NULL || !s->all)
		return;
	relais__ha_stat__init(&s->hs);
	e->ha_stat(e->ha_arg, &s->hs);
	s->rep.ha = &s->hs;
}

void rl_h_status(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__StatusRequest *sr = env->status_request;
	int sections = sr->agents || sr->queues || sr->sites || sr->calls, ti;
	struct rl_status s = {.mask = r->scope, .all = r->scope == RL_SCOPE_ALL};
	rl_env out;

	if (sr->tenant_id && sr->tenant_id[0]) {
		/* A tenant out of the asker's scope is as good as unknown. */
		if ((ti = rl_tenant_idx(e, sr->tenant_id)) < 0 || !rl_shown(&s, ti)) {
			rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_TENANT, "unknown tenant", 0);
			return;
		}
		s.mask = 1ULL << ti;
	}
	relais__status_reply__init(&s.rep);
	s.rep.now_us = e->now;
	if (s.all) {
		s.rep.counters = &e->wire;
		e->wire.auth_failures = e->ctr.auth_failures;
		e->wire.requests = e->ctr.requests;
		e->wire.forbidden = e->ctr.forbidden;
		e->wire.commits = rl_store_commits(e->store);
	}
	if (sr->queues || !sections)
		rl_status_queues(e, &s);
	if (sr->sites || !sections) {
		rl_status_sites(e, &s);
		rl_status_ha(e, &s);
	}
	if (sr->agents)
		rl_status_agents(e, &s, sr->agent_limit);
	if (sr->calls)
		rl_status_calls(e, &s);
	rl_env_init(&out);
	out.body_case = RELAIS__ENVELOPE__BODY_STATUS_REPLY;
	out.status_reply = &s.rep;
	rl_reply(e, r, &out);
	free(s.qs);
	free(s.qp);
	free(s.ss);
	free(s.sp);
	free(s.as);
	free(s.ap);
	free(s.cs);
	free(s.cp);
	free(s.tenant_names);
}
