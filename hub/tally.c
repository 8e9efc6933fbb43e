/*
 * tally.c - the agents counted as they change, not counted over every agent when asked.
 *
 * Each queue keeps its live eligible agents (staffed) by state, the not-ready ones among them
 * by reason, and those working it (workers: ready, ringing, on a call or in wrap-up, with no
 * break asked for) - what a status, a caller's position, /metrics and the wallboard show. The
 * engine keeps every agent by state per set of tenants (an agent's tenants are fixed when it
 * is provisioned: a handful of sets), and the not-ready ones by reason. At 100,000 agents a
 * count over them all cost milliseconds of the engine's thread each time one was asked for;
 * a change of one agent now costs a pass over the queues.
 *
 * Every change of what is counted is bracketed: rl_tally(e, a, -1) before it, rl_tally(e, a,
 * 1) after - an agent's state and reason (rl_agent_set), a break asked for during a call
 * (rl_set_pending), its queues' tiers (rl_agent_tiers); an agent is counted once provisioned
 * (rl_tally_new). rl_engine_check counts everything again over every agent.
 *
 * Rows (a status's 400, a wallboard's 300) are the first agents of the requester's tenants:
 * each tenant's agents are indexed as they are provisioned, so a supervisor of a tenant of 50
 * agents among 100,000 walks 50 (rl_scope_next).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rl_alloc.h"

/* rl_reasons_find: where why (cut to an id's length, as kept) is in r; r->len if nowhere. */
static uint32_t rl_reasons_find(const struct rl_reasons *r, const char *why)
{
	char key[RL_WIRE_MAX_ID + 1];
	uint32_t k = 0;

	rl_copy(key, sizeof(key), why);
	while (k < r->len && strcmp(r->v[k].why, key) != 0)
		k++;
	return k;
}

/* rl_reasons_add counts d more agents not ready for why (exact; a reason none has is dropped). */
static void rl_reasons_add(struct rl_reasons *r, const char *why, int d)
{
	uint32_t k = rl_reasons_find(r, why);

	if (k == r->len) {
		if (d < 0)
			return; /* cannot be: every -1 follows its +1 (rl_engine_check says so) */
		if (r->len == r->cap) {
			r->cap = r->cap ? 2 * r->cap : 8;
			r->v = rl_realloc(r->v, r->cap * sizeof(*r->v));
		}
		rl_copy(r->v[k].why, sizeof(r->v[k].why), why);
		r->v[k].n = 0;
		r->len++;
	}
	r->v[k].n += (uint32_t)d;
	if (r->v[k].n == 0) /* the last one: its place goes to the last reason */
		r->v[k] = r->v[--r->len];
}

uint32_t rl_reasons_count(const struct rl_reasons *r, const char *why)
{
	uint32_t k = rl_reasons_find(r, why);

	return k < r->len ? r->v[k].n : 0;
}

void rl_reasons_free(struct rl_reasons *r)
{
	free(r->v);
	*r = (struct rl_reasons){0};
}

int rl_agent_working(const struct rl_agent *a)
{
	Relais__AgentState st = a->rec->state;

	return !(a->rec->pending_reason && a->rec->pending_reason[0]) &&
	       (st == RELAIS__AGENT_STATE__AGENT_READY || st == RELAIS__AGENT_STATE__AGENT_RESERVED ||
	        st == RELAIS__AGENT_STATE__AGENT_BUSY || st == RELAIS__AGENT_STATE__AGENT_WRAPUP);
}

void rl_tally(struct rl_engine *e, const struct rl_agent *a, int d)
{
	unsigned st = a->rec->state < RL_STATES ? (unsigned)a->rec->state : 0;
	const char *why = a->rec->reason ? a->rec->reason : "";
	int live = rl_agent_live(a), working = rl_agent_working(a),
	    not_ready = st == RELAIS__AGENT_STATE__AGENT_NOT_READY;

	e->masks[a->mask].state[st] += (uint32_t)d;
	if (not_ready)
		rl_reasons_add(&e->reasons, why, d);
	if (!live)
		return; /* a queue counts the agents logged in */
	for (int q = 0; q < e->nqueues; q++) {
		struct rl_queue *qu = &e->queues[q];
		if (a->tier[q] < 0)
			continue;
		qu->by_state[st] += (uint32_t)d;
		qu->workers += working ? (uint32_t)d : 0;
		if (not_ready)
			rl_reasons_add(&qu->reasons, why, d);
	}
}

void rl_tally_new(struct rl_engine *e, struct rl_agent *a)
{
	int m = 0, idx = e->nagents - 1; /* a has just been added last */

	for (int t = 0; t < e->ntenants; t++) {
		int n = e->ntenant_agents[t];
		if (!((a->tenants >> t) & 1))
			continue;
		if (n % 1024 == 0) /* grown as agents[] is */
			e->tenant_agents[t] = rl_realloc(e->tenant_agents[t], ((size_t)n + 1024) * sizeof(int));
		e->tenant_agents[t][e->ntenant_agents[t]++] = idx;
	}

	while (m < e->nmasks && e->masks[m].tenants != a->tenants)
		m++;
	if (m == e->nmasks) {
		e->masks = rl_realloc(e->masks, ((size_t)e->nmasks + 1) * sizeof(*e->masks));
		e->masks[e->nmasks++] = (struct rl_mask_tally){a->tenants, {0}};
	}
	a->mask = m;
	rl_tally(e, a, 1);
}

int rl_scope_next(const struct rl_engine *e, uint64_t scope, struct rl_scope_iter *it)
{
	int best = -1;
	uint64_t all = e->ntenants >= 64 ? UINT64_MAX : (1ULL << e->ntenants) - 1;

	if ((scope & all) == all) { /* every tenant: every agent but those of none */
		while (it->next < e->nagents && e->agents[it->next]->tenants == 0)
			it->next++;
		return it->next < e->nagents ? it->next++ : -1;
	}
	for (int t = 0; t < e->ntenants; t++) /* the least next index among the scope's tenants */
		if (((scope >> t) & 1) && it->at[t] < e->ntenant_agents[t] &&
		    (best < 0 || e->tenant_agents[t][it->at[t]] < best))
			best = e->tenant_agents[t][it->at[t]];
	for (int t = 0; best >= 0 && t < e->ntenants; t++) /* taken once, from each tenant it has */
		if (((scope >> t) & 1) && it->at[t] < e->ntenant_agents[t] && e->tenant_agents[t][it->at[t]] == best)
			it->at[t]++;
	return best;
}

uint32_t rl_tally_scope(const struct rl_engine *e, uint64_t scope, uint32_t by_state[RL_STATES])
{
	uint32_t total = 0;

	if (by_state != NULL)
		memset(by_state, 0, RL_STATES * sizeof(*by_state));
	for (int m = 0; m < e->nmasks; m++) {
		if (!(e->masks[m].tenants & scope))
			continue;
		for (unsigned s = 0; s < RL_STATES; s++) {
			if (by_state != NULL)
				by_state[s] += e->masks[m].state[s];
			total += e->masks[m].state[s];
		}
	}
	return total;
}

uint32_t rl_queue_staffed(const struct rl_queue *q)
{
	uint32_t n = 0;

	for (unsigned s = 0; s < RL_STATES; s++)
		n += q->by_state[s]; /* a queue counts the agents logged in only */
	return n;
}
