/*
 * route.c - when to route and what an offer does; the router (router.c) says who.
 */
#include <stdio.h>

#include "internal.h"
#include "rl_err.h"
#include "router.h"
#include "store.h"

/* rl_sticky: the agent who last answered this caller, if the queue keeps callers with their
 * agent (sticky_s), that agent is ready for it at a tier open now, and it was recent. */
static struct rl_agent *rl_sticky(struct rl_engine *e, struct rl_queue *q, struct rl_contact *c, int tier)
{
	char key[2 * RL_WIRE_MAX_ID + 2], agent[RL_WIRE_MAX_ID + 1];
	uint64_t ts;
	struct rl_agent *a;

	if (q->sticky_s == 0 || c->rec->pop == NULL || !c->rec->pop->caller || !c->rec->pop->caller[0])
		return NULL;
	snprintf(key, sizeof(key), "%s/%s", c->rec->tenant_id, c->rec->pop->caller);
	if (rl_store_mark_get(e->store, RL_MARK_LASTAGENT, key, agent, sizeof(agent), &ts) != RL_OK)
		return NULL;
	if (e->now - ts > (uint64_t)q->sticky_s * 1000000u)
		return NULL;
	a = rl_agent_find(e, agent);
	if (a == NULL || !a->members[c->queue].linked || a->members[c->queue].tier > tier)
		return NULL;
	return a;
}

/* rl_offer rings agent a (ready) for contact c (waiting), until the queue's offer timeout. */
static void rl_offer(struct rl_engine *e, struct rl_contact *c, struct rl_agent *a)
{
	const struct rl_queue *q = &e->queues[c->queue];
	uint32_t timeout_s = q->offer_timeout_s ? q->offer_timeout_s : (uint32_t)e->conf.offer_timeout_s;

	c->agent = a;
	a->contact = c;
	rl_wire_set_str(&a->rec->contact_id, c->id);
	rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_RESERVED, "");
	a->rec->deadline_us = e->now + (uint64_t)timeout_s * 1000000u;
	rl_contact_to(e, c, RL_C_OFFERED, (e->now - c->rec->enqueued_us) / 1000u);
	e->ctr.offers++;
	rl_push_offer(e, a, c);
	rl_push_status(e, a, NULL);
}

/*
 * rl_route offers waiting contacts to ready agents until no queue can move. Each round picks,
 * among queues that can serve their head now, the best head (priority, then wait), so an
 * agent eligible for several queues takes the most urgent contact first.
 */
void rl_route(struct rl_engine *e)
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
			tier = rl_router_queue_tier(q, e->now, e->gone_sites);
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
