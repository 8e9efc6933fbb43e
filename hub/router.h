/*
 * router.h - the ACD's ordered sets, pure memory (no store, no network).
 *
 * Per queue: waiting contacts in a binary heap (priority desc, then original enqueue time,
 * then contact id), and per eligibility tier a list of ready agents, longest idle first
 * (most_skilled queues: highest level of the queue's skills first, then longest idle).
 * The engine decides *when* to route; the router answers *who*.
 */
#ifndef RL_ROUTER_H
#define RL_ROUTER_H

#include "hub.h"

/* rl_router_tier returns the lowest tier at which agent a may serve queue q, or -1 (a's site
 * for routing is a->route_site). */
int rl_router_tier(const struct rl_queue *q, const struct rl_agent *a);

/* rl_router_queue_tier: the highest tier open for q at now_us (overflow rules; the wait
 * is the longest-waiting contact's, whatever its priority). When every site of q's tier 0 is
 * in gone_sites (a bit per site: lost, or failed over), every overflow tier is open at once. */
int rl_router_queue_tier(const struct rl_queue *q, uint64_t now_us, uint64_t gone_sites);

/* Waiting set. push/remove keep heap_idx. */
void rl_router_push(struct rl_queue *q, struct rl_contact *c);
void rl_router_remove(struct rl_queue *q, struct rl_contact *c);
struct rl_contact *rl_router_head(const struct rl_queue *q);

/* rl_router_position: c's place among q's waiting contacts, 1 = served next (O(waiting)). */
uint32_t rl_router_position(const struct rl_queue *q, const struct rl_contact *c);

/* rl_router_better: 1 if contact x should be served before y. */
int rl_router_better(const struct rl_contact *x, const struct rl_contact *y);

/* Ready lists: add the agent to every queue it is eligible for / remove it from all. */
void rl_router_ready(struct rl_queue *queues, int nqueues, struct rl_agent *a);
void rl_router_unready(struct rl_queue *queues, int nqueues, struct rl_agent *a);

/*
 * rl_router_pick returns the agent to offer q's head contact to (tiers 0..max_tier, first
 * non-empty tier, its head), skipping the agent named `skip` when another is available;
 * NULL when nobody is ready.
 */
struct rl_agent *rl_router_pick(struct rl_queue *q, int max_tier, const char *skip);

/* rl_router_skill_score: sum of the agent's levels on q's required skills (most_skilled). */
int rl_router_skill_score(const struct rl_queue *q, const struct rl_agent *a);

#endif
