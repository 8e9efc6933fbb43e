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

/* rl_check_counts: each queue's staffed and workers, kept as agents change, are what a
 * count over every agent gives. */
static void rl_check_counts(struct rl_engine *e, struct rl_check *k)
{
	for (int q = 0; q < e->nqueues; q++) {
		uint32_t staffed = 0, workers = 0;
		for (int i = 0; i < e->nagents; i++) {
			const struct rl_agent *a = e->agents[i];
			staffed += a->tier[q] >= 0 && rl_agent_live(a);
			workers += a->tier[q] >= 0 && rl_agent_working(a);
		}
		if (staffed != e->queues[q].staffed || workers != e->queues[q].workers)
			rl_bad(k, "queue %s: staffed %u, workers %u; its agents say %u and %u", e->queues[q].id,
			       e->queues[q].staffed, e->queues[q].workers, staffed, workers);
	}
}

int rl_engine_check(struct rl_engine *e, char *why, size_t len)
{
	struct rl_check k = {0, why, len};
	uint32_t queued = 0;

	for (int i = 0; i < e->nagents; i++) {
		rl_check_agent(e, e->agents[i], &k);
		if (e->agents[i]->working != rl_agent_working(e->agents[i]))
			rl_bad(&k, "agent %s: counted working %d, is %d", e->agents[i]->id, e->agents[i]->working,
			       rl_agent_working(e->agents[i]));
	}
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
