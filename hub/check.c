/*
 * check.c - the model's self-check, for tests, after a commit: memory agrees with itself
 * (references both ways, queue membership and state, the two orders of each queue) and with
 * the store to the byte (a record changed without being marked dirty shows here), and no
 * read-only request changed a record.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rl_err.h"
#include "rl_pb.h"
#include "store.h"

struct rl_check {
	int bad;
	char *why;
	size_t len;
};

static void rl_bad(struct rl_check *k, const char *fmt, ...)
{
	va_list ap;

	if (k->bad++ == 0) {
		va_start(ap, fmt);
		vsnprintf(k->why, k->len, fmt, ap);
		va_end(ap);
	}
}

static void rl_check_agent(struct rl_engine *e, struct rl_agent *a, struct rl_check *k)
{
	Relais__AgentRecord *ar = NULL;
	Relais__AgentState st = a->rec->state;
	uint64_t seen = a->rec->last_seen_us;

	if (a->contact != NULL && a->contact->agent != a)
		rl_bad(k, "agent %s holds %s which points elsewhere", a->id, a->contact->id);
	if ((st == RELAIS__AGENT_STATE__AGENT_RESERVED || st == RELAIS__AGENT_STATE__AGENT_BUSY) && a->contact == NULL)
		rl_bad(k, "agent %s is %d without a contact", a->id, st);
	if (st == RELAIS__AGENT_STATE__AGENT_READY && a->contact != NULL)
		rl_bad(k, "agent %s is ready while holding %s", a->id, a->contact->id);
	for (int q = 0; q < e->nqueues; q++)
		if (a->members[q].linked && (st != RELAIS__AGENT_STATE__AGENT_READY || !a->reachable))
			rl_bad(k, "agent %s in a ready list while state %d", a->id, st);
	if (rl_agent_live(a) && !a->w_in)
		rl_bad(k, "agent %s is logged in without a timer", a->id);
	if ((st == RELAIS__AGENT_STATE__AGENT_RESERVED || st == RELAIS__AGENT_STATE__AGENT_WRAPUP) && a->w_in &&
	    a->w_at > a->rec->deadline_us)
		rl_bad(k, "agent %s: its timer comes after its deadline", a->id);
	if (rl_store_get_agent(e->store, a->id, &ar) != RL_OK) {
		rl_bad(k, "agent %s missing from the store", a->id);
		return;
	}
	/* Heartbeats move last_seen in memory only; everything else must be on disk. */
	a->rec->last_seen_us = ar->last_seen_us;
	if (!rl_pb_equal(&a->rec->base, &ar->base))
		rl_bad(k, "agent %s: store says %d/%s, memory %d/%s (or another field differs)", a->id, ar->state,
		       ar->contact_id, st, a->rec->contact_id);
	a->rec->last_seen_us = seen;
	relais__agent_record__free_unpacked(ar, NULL);
}

static void rl_check_contact(struct rl_engine *e, struct rl_contact *c, struct rl_check *k)
{
	Relais__ContactRecord *cr = NULL;

	if (c->queued != (c->rec->state == RELAIS__CONTACT_STATE__CONTACT_QUEUED && !c->rec->suspended))
		rl_bad(k, "contact %s queued=%d state=%d suspended=%d", c->id, c->queued, c->rec->state,
		       c->rec->suspended);
	if (c->agent != NULL && c->agent->contact != c)
		rl_bad(k, "contact %s offered to %s who holds another", c->id, c->agent->id);
	if (!c->queued && c->agent == NULL && !c->rec->suspended)
		rl_bad(k, "contact %s neither queued nor with an agent", c->id);
	if (rl_store_get_contact(e->store, c->id, &cr) != RL_OK) {
		rl_bad(k, "contact %s missing from the store", c->id);
		return;
	}
	if (!rl_pb_equal(&c->rec->base, &cr->base))
		rl_bad(k, "contact %s: store state %d, memory %d (or another field differs)", c->id, cr->state,
		       c->rec->state);
	relais__contact_record__free_unpacked(cr, NULL);
}

/* rl_check_queues: each queue's two orders hold the same contacts, the queued ones. */
static void rl_check_queues(struct rl_engine *e, uint32_t queued, struct rl_check *k)
{
	uint32_t inheaps = 0;

	for (int q = 0; q < e->nqueues; q++) {
		uint32_t infifo = 0;
		uint64_t last = 0;
		inheaps += e->queues[q].nheap;
		for (struct rl_contact *c = e->queues[q].fifo_head; c != NULL; c = c->fifo_next, infifo++)
			if (c->rec->enqueued_us < last)
				rl_bad(k, "queue %s: wait order broken at %s", e->queues[q].id, c->id);
			else
				last = c->rec->enqueued_us;
		if (infifo != e->queues[q].nheap)
			rl_bad(k, "queue %s: %u by priority, %u by wait", e->queues[q].id, e->queues[q].nheap, infifo);
	}
	if (inheaps != queued)
		rl_bad(k, "heaps hold %u contacts, %u are queued", inheaps, queued);
}

/* rl_check_reasons: tally r holds, for each reason, as many agents as those of the agents
 * that count in it (in(a)) not ready for that reason. */
static void rl_check_reasons(struct rl_engine *e, const struct rl_reasons *r, int q, const char *what,
                             struct rl_check *k)
{
	uint32_t sum = 0, not_ready = 0;

	for (int i = 0; i < e->nagents; i++) {
		const struct rl_agent *a = e->agents[i];
		if (a->rec->state != RELAIS__AGENT_STATE__AGENT_NOT_READY || (q >= 0 && a->tier[q] < 0))
			continue;
		not_ready++;
		if (rl_reasons_count(r, a->rec->reason) == 0)
			rl_bad(k, "%s: no count of agents not ready for \"%s\" (agent %s)", what, a->rec->reason,
			       a->id);
	}
	for (uint32_t i = 0; i < r->len; i++) {
		uint32_t n = 0;
		for (int j = 0; j < e->nagents; j++) {
			const struct rl_agent *a = e->agents[j];
			char key[RL_WIRE_MAX_ID + 1]; /* kept cut to an id's length */
			rl_copy(key, sizeof(key), a->rec->reason);
			n += a->rec->state == RELAIS__AGENT_STATE__AGENT_NOT_READY && (q < 0 || a->tier[q] >= 0) &&
			     strcmp(key, r->v[i].why) == 0;
		}
		if (n != r->v[i].n)
			rl_bad(k, "%s: %u not ready for \"%s\", its agents say %u", what, r->v[i].n, r->v[i].why, n);
		sum += r->v[i].n;
	}
	if (sum != not_ready)
		rl_bad(k, "%s: %u not ready by reason, its agents say %u", what, sum, not_ready);
}

/* rl_check_scope: rl_scope_next gives scope's agents as a walk over every agent does. */
static void rl_check_scope(struct rl_engine *e, uint64_t scope, struct rl_check *k)
{
	struct rl_scope_iter it = {0};
	int i = 0, got;

	do {
		while (i < e->nagents && !(e->agents[i]->tenants & scope))
			i++;
		got = rl_scope_next(e, scope, &it);
		if (got != (i < e->nagents ? i : -1)) {
			rl_bad(k, "tenants %llx: agent %d next, not %d", (unsigned long long)scope, got, i);
			return;
		}
		i++;
	} while (got >= 0);
}

/* rl_check_scopes: each tenant's agents, every tenant's but one (agents of several tenants
 * met several times), and all of them. */
static void rl_check_scopes(struct rl_engine *e, struct rl_check *k)
{
	for (int t = 0; t < e->ntenants; t++) {
		rl_check_scope(e, 1ULL << t, k);
		rl_check_scope(e, RL_SCOPE_ALL & ~(1ULL << t), k);
	}
	rl_check_scope(e, RL_SCOPE_ALL, k);
}

/* rl_check_counts: what tally.c keeps as agents change is what a count over every agent
 * gives: each queue's staffed, workers, agents by state and by not-ready reason; every agent
 * by state per set of tenants, and by reason. */
static void rl_check_counts(struct rl_engine *e, struct rl_check *k)
{
	for (int q = 0; q < e->nqueues; q++) {
		const struct rl_queue *qu = &e->queues[q];
		uint32_t staffed = 0, workers = 0, by_state[RL_STATES] = {0};
		for (int i = 0; i < e->nagents; i++) {
			const struct rl_agent *a = e->agents[i];
			if (a->tier[q] < 0 || !rl_agent_live(a))
				continue;
			staffed++;
			workers += rl_agent_working(a) != 0;
			by_state[a->rec->state < RL_STATES ? a->rec->state : 0]++;
		}
		if (staffed != rl_queue_staffed(qu) || workers != qu->workers ||
		    memcmp(by_state, qu->by_state, sizeof(by_state)))
			rl_bad(
			    k,
			    "queue %s: staffed %u, workers %u, ready %u, not ready %u; its agents say %u, %u, %u, %u",
			    qu->id, rl_queue_staffed(qu), qu->workers, qu->by_state[RELAIS__AGENT_STATE__AGENT_READY],
			    qu->by_state[RELAIS__AGENT_STATE__AGENT_NOT_READY], staffed, workers,
			    by_state[RELAIS__AGENT_STATE__AGENT_READY], by_state[RELAIS__AGENT_STATE__AGENT_NOT_READY]);
		rl_check_reasons(e, &qu->reasons, q, qu->id, k);
	}
	for (int m = 0; m < e->nmasks; m++) {
		uint32_t by_state[RL_STATES] = {0};
		for (int i = 0; i < e->nagents; i++)
			if (e->agents[i]->mask == m)
				by_state[e->agents[i]->rec->state < RL_STATES ? e->agents[i]->rec->state : 0]++;
		if (memcmp(by_state, e->masks[m].state, sizeof(by_state)) != 0)
			rl_bad(k, "agents of tenants %llx: counts by state differ from theirs",
			       (unsigned long long)e->masks[m].tenants);
	}
	for (int i = 0; i < e->nagents; i++)
		if (e->masks[e->agents[i]->mask].tenants != e->agents[i]->tenants)
			rl_bad(k, "agent %s counted with other tenants", e->agents[i]->id);
	rl_check_reasons(e, &e->reasons, -1, "all agents", k);
	rl_check_scopes(e, k);
}

int rl_engine_check(struct rl_engine *e, char *why, size_t len)
{
	struct rl_check k = {0, why, len};
	uint32_t queued = 0;

	for (int i = 0; i < e->nagents; i++)
		rl_check_agent(e, e->agents[i], &k);
	rl_check_counts(e, &k);
	for (size_t i = 0; i < e->contact_by_id.cap; i++) {
		struct rl_contact *c = e->contact_by_id.ents[i].val;
		if (c != NULL) {
			rl_check_contact(e, c, &k);
			queued += c->queued;
		}
	}
	rl_check_queues(e, queued, &k);
	if (e->ctr.table_breaches)
		rl_bad(&k, "%llu read-only requests changed records", (unsigned long long)e->ctr.table_breaches);
	return k.bad;
}
