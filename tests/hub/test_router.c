/* Router decisions, table-driven: eligibility tiers, ordering of contacts and agents. */
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "rltest.h"

enum { BILLING, TECH, FR };
enum { CASA, FES, DAKAR };

static struct rl_queue queue(int tenant, uint8_t billing, uint64_t sites)
{
	struct rl_queue q;
	memset(&q, 0, sizeof(q));
	q.tenant = tenant;
	q.need[BILLING] = billing;
	q.sites = sites;
	return q;
}

static struct rl_agent *agent(const char *id, uint64_t tenants, uint8_t billing, uint8_t tech, int site)
{
	struct rl_agent *a = calloc(1, sizeof(*a));
	a->rec = calloc(1, sizeof(*a->rec));
	relais__agent_record__init(a->rec);
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->tenants = tenants;
	a->level[BILLING] = billing;
	a->level[TECH] = tech;
	a->site = a->route_site = site;
	a->reachable = 1;
	a->members = calloc(4, sizeof(*a->members));
	return a;
}

static void agent_free(struct rl_agent *a)
{
	free(a->rec);
	free(a->members);
	free(a);
}

static void tiers(void)
{
	struct {
		const char *what;
		uint64_t sites;
		int noverflow;
		unsigned widen1, widen2;
		uint64_t agent_tenants;
		uint8_t billing, tech;
		int site;
		int want;
	} t[] = {
	    {"seated at a queue site, skilled", 1u << CASA, 0, 0, 0, 1, 5, 0, CASA, 0},
	    {"other tenant never", 1u << CASA, 1, RL_WIDEN_ALL_SITES | RL_WIDEN_HOME, 0, 2, 9, 0, CASA, -1},
	    {"mutualised agent serves both", 1u << CASA, 0, 0, 0, 3, 5, 0, CASA, 0},
	    {"skill below minimum", 1u << CASA, 0, 0, 0, 1, 2, 0, CASA, -1},
	    {"other site, no overflow", 1u << CASA, 0, 0, 0, 1, 5, 0, DAKAR, -1},
	    {"other site after all_sites", 1u << CASA, 1, RL_WIDEN_ALL_SITES, 0, 1, 5, 0, DAKAR, 1},
	    {"home agent not by all_sites", 1u << CASA, 1, RL_WIDEN_ALL_SITES, 0, 1, 5, 0, -1, -1},
	    {"home agent by home (tier 2)", 1u << CASA, 2, RL_WIDEN_ALL_SITES, RL_WIDEN_HOME, 1, 5, 0, -1, 2},
	    {"any site queue takes home agents", 0, 0, 0, 0, 1, 5, 0, -1, 0},
	    {"skills2 opens tech agents", 1u << CASA, 1, RL_WIDEN_SKILLS2, 0, 1, 0, 7, CASA, 1},
	    {"skills2 not before its tier", 1u << CASA, 0, 0, 0, 1, 0, 7, CASA, -1},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct rl_queue q = queue(0, 3, t[i].sites);
		struct rl_agent *a = agent("a", t[i].agent_tenants, t[i].billing, t[i].tech, t[i].site);
		q.has_need2 = 1;
		q.need2[TECH] = 6;
		q.noverflow = t[i].noverflow;
		q.overflow[0].widen = t[i].widen1;
		q.overflow[1].widen = t[i].widen2;
		int got = rl_router_tier(&q, a);
		if (got != t[i].want)
			fprintf(stderr, "case \"%s\": tier %d, want %d\n", t[i].what, got, t[i].want);
		RL_CHECK(got == t[i].want);
		agent_free(a);
	}
}

static Relais__ContactRecord recs[8];

static struct rl_contact *contact(int i, uint32_t prio, uint64_t enq)
{
	struct rl_contact *c = calloc(1, sizeof(*c));
	relais__contact_record__init(&recs[i]);
	recs[i].priority = prio;
	recs[i].enqueued_us = enq;
	c->rec = &recs[i];
	snprintf(c->id, sizeof(c->id), "c%d", i);
	return c;
}

static void ordering(void)
{
	struct rl_queue q = queue(0, 1, 0);
	struct rl_contact *c[6] = {contact(0, 0, 100), contact(1, 0, 50),  contact(2, 5, 300),
	                           contact(3, 0, 200), contact(4, 5, 250), contact(5, 1, 400)};
	const char *want[] = {"c4", "c2", "c5", "c1", "c0", "c3"};

	for (int i = 0; i < 6; i++) {
		rl_router_push(&q, c[i]);
		RL_REQUIRE(c[i]->queued && q.nheap == (uint32_t)i + 1);
	}
	/* Remove one (abandon) and put it back (RONA): it returns to its original place. */
	rl_router_remove(&q, c[1]);
	RL_CHECK(strcmp(rl_router_head(&q)->id, "c4") == 0);
	rl_router_push(&q, c[1]);
	RL_CHECK(c[1]->queued && q.nheap == 6);
	for (int i = 0; i < 6; i++) {
		struct rl_contact *h = rl_router_head(&q);
		RL_CHECK(h != NULL && strcmp(h->id, want[i]) == 0);
		rl_router_remove(&q, h);
	}
	RL_CHECK(rl_router_head(&q) == NULL);
	/* Overflow by wait and by count. */
	q.noverflow = 2;
	q.overflow[0].after_s = 10;
	q.overflow[1].waiting_over = 3;
	rl_router_push(&q, c[0]); /* enqueued at 100 us */
	RL_CHECK(rl_router_queue_tier(&q, 100 + 5000000, 0) == 0);
	RL_CHECK(rl_router_queue_tier(&q, 100 + 10000000, 0) == 1);
	for (int i = 1; i < 4; i++)
		rl_router_push(&q, c[i]);
	RL_CHECK(rl_router_queue_tier(&q, 300, 0) == 2);
	/* Overflow by wait follows the longest-waiting contact, not the highest priority:
	 * an old priority-0 contact behind a fresh priority-9 one still opens tier 1. */
	while (rl_router_head(&q))
		rl_router_remove(&q, rl_router_head(&q));
	q.overflow[1].waiting_over = 0;
	struct rl_contact *old = contact(6, 0, 1000), *vip = contact(7, 9, 20000000);
	rl_router_push(&q, old);
	rl_router_push(&q, vip);
	RL_CHECK(rl_router_head(&q) == vip);
	RL_CHECK(rl_router_queue_tier(&q, 1000 + 11000000, 0) == 1);
	rl_router_remove(&q, old);
	RL_CHECK(rl_router_queue_tier(&q, 1000 + 11000000, 0) == 0);
	/* With every tier-0 site gone (lost, failed over), every overflow opens at once; while
	 * one of them serves, nothing changes. */
	q.sites = (1ULL << 0) | (1ULL << 2);
	RL_CHECK(rl_router_queue_tier(&q, 1000 + 11000000, 1ULL << 0) == 0);
	RL_CHECK(rl_router_queue_tier(&q, 1000 + 11000000, (1ULL << 0) | (1ULL << 2)) == 2);
	q.sites = 0; /* any site: nothing to lose */
	RL_CHECK(rl_router_queue_tier(&q, 1000 + 11000000, ~0ULL) == 0);
	rl_router_remove(&q, vip);
	RL_CHECK(q.fifo_head == NULL && q.fifo_tail == NULL);
	free(old);
	free(vip);
	free(q.heap);
	for (int i = 0; i < 6; i++)
		free(c[i]);
}

static void ready_order(void)
{
	struct rl_queue q[1];
	struct rl_agent *a = agent("a", 1, 5, 0, CASA), *b = agent("b", 1, 9, 0, CASA), *c = agent("c", 1, 7, 0, CASA);

	q[0] = queue(0, 3, 0);
	a->rec->idle_since_us = 10;
	b->rec->idle_since_us = 20;
	c->rec->idle_since_us = 5;
	for (struct rl_agent **p = (struct rl_agent *[]){a, b, c, NULL}; *p; p++) {
		(*p)->tier[0] = rl_router_tier(&q[0], *p);
		rl_router_ready(q, 1, *p);
	}
	/* Longest idle first, whatever order they became ready in. */
	RL_CHECK(rl_router_pick(&q[0], 0, NULL) == c);
	RL_CHECK(rl_router_pick(&q[0], 0, "c") == a); /* the agent who rejected it is skipped */
	rl_router_unready(q, 1, c);
	RL_CHECK(rl_router_pick(&q[0], 0, NULL) == a);
	rl_router_unready(q, 1, a);
	rl_router_unready(q, 1, b);
	RL_CHECK(rl_router_pick(&q[0], 0, NULL) == NULL);
	/* Most skilled first. */
	q[0].policy = RL_POLICY_MOST_SKILLED;
	for (struct rl_agent **p = (struct rl_agent *[]){a, b, c, NULL}; *p; p++)
		rl_router_ready(q, 1, *p);
	RL_CHECK(rl_router_pick(&q[0], 0, NULL) == b);
	rl_router_unready(q, 1, b);
	RL_CHECK(rl_router_pick(&q[0], 0, NULL) == c);
	rl_router_unready(q, 1, a);
	rl_router_unready(q, 1, c);
	agent_free(a);
	agent_free(b);
	agent_free(c);
}

/* levels_ok: every level of l is in serving order, each a part of the level below, and ends
 * at the member the list keeps as its last (the base's at tail); its base has len members. */
static int levels_ok(const struct rl_list *l)
{
	uint32_t n = 0;
	const struct rl_member *end = NULL;

	for (const struct rl_member *m = l->head; m != NULL; end = m, m = m->next, n++)
		if (m->next != NULL && (m->next->prev != m || m->next->idle_us < m->idle_us))
			return 0;
	if (end != l->tail || n != l->len)
		return 0;
	for (int k = 1; k < RL_SKIP_LEVELS; k++) {
		const struct rl_member *below = k == 1 ? l->head : l->top[k - 1];
		end = NULL;
		for (const struct rl_member *m = l->top[k]; m != NULL; end = m, m = m->up[k - 1]) {
			if (m->height <= k)
				return 0;
			while (below != NULL && below != m) /* m stands on the level below, after end */
				below = k == 1 ? below->next : below->up[k - 2];
			if (below == NULL)
				return 0;
		}
		if (end != l->last[k])
			return 0;
	}
	return 1;
}

/* steady_order: as routing runs, agents come back ready idle since now (after every other
 * one), the longest idle is taken from the head, and now and then one leaves from the
 * middle: every level stays ordered and ends where the list says. */
static void steady_order(void)
{
	enum { N = 2000 };
	struct rl_queue q[1];
	struct rl_agent **v = calloc(N, sizeof(*v));
	uint64_t now = 1;
	int bad = 0;

	q[0] = queue(0, 0, 0);
	for (int i = 0; i < N; i++) {
		char id[16];
		snprintf(id, sizeof(id), "s%d", i);
		v[i] = agent(id, 1, 5, 0, CASA);
		v[i]->tier[0] = 0;
		v[i]->rec->idle_since_us = now++;
		rl_router_ready(q, 1, v[i]);
	}
	bad += !levels_ok(&q[0].ready[0]);
	for (int round = 0; round < 20000; round++) {
		struct rl_agent *a = q[0].ready[0].head->agent; /* offered, then ready again */
		rl_router_unready(q, 1, a);
		if (round % 7 == 3) { /* one from the middle leaves, and comes back later */
			struct rl_member *m = q[0].ready[0].head;
			for (int s = 0; s < round % 500 && m->next != NULL; s++)
				m = m->next;
			rl_router_unready(q, 1, m->agent);
			m->agent->rec->idle_since_us = now++;
			rl_router_ready(q, 1, m->agent);
		}
		a->rec->idle_since_us = now++;
		rl_router_ready(q, 1, a);
		if (round % 1000 == 0)
			bad += !levels_ok(&q[0].ready[0]);
	}
	RL_CHECK(bad == 0 && levels_ok(&q[0].ready[0]) && q[0].ready[0].len == N);
	for (int i = 0; i < N; i++) {
		rl_router_unready(q, 1, v[i]);
		agent_free(v[i]);
	}
	RL_CHECK(q[0].ready[0].head == NULL && q[0].ready[0].len == 0 && levels_ok(&q[0].ready[0]));
	free(v);
}

/* wave_order: n agents come back ready with old idle times, in random order (their links
 * came back after a blip), some leave again: the list is in idle order at every check, and
 * the wave costs O(n log n), not a walk of the list per agent. */
static void wave_order(void)
{
	enum { N = 50000 };
	struct rl_queue q[1];
	struct rl_agent **v = calloc(N, sizeof(*v));
	uint64_t x = 88172645463325252ULL, prev;
	uint32_t n, k, ready = 0;

	q[0] = queue(0, 0, 0);
	for (int i = 0; i < N; i++) {
		char id[16];
		snprintf(id, sizeof(id), "w%d", i);
		v[i] = agent(id, 1, 5, 0, CASA);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		v[i]->rec->idle_since_us = x % 1000000u; /* ties too */
		v[i]->tier[0] = 0;
		rl_router_ready(q, 1, v[i]);
		ready++;
		if (i % 3 == 2) {
			rl_router_unready(q, 1, v[i - 1]);
			ready--;
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		n = 0;
		k = 0;
		prev = 0;
		for (const struct rl_member *m = q[0].ready[0].head; m != NULL; m = m->next, n++) {
			k += m->agent->rec->idle_since_us < prev || (m->next && m->next->prev != m);
			prev = m->agent->rec->idle_since_us;
		}
		RL_CHECK(k == 0);
		RL_CHECK(n == q[0].ready[0].len && n == ready);
		RL_CHECK(levels_ok(&q[0].ready[0]));
		for (int i = 0; i < N; i += 6, ready--) /* a quarter of those still ready leave */
			rl_router_unready(q, 1, v[i]);
	}
	for (int i = 0; i < N; i++) {
		rl_router_unready(q, 1, v[i]);
		agent_free(v[i]);
	}
	RL_CHECK(q[0].ready[0].head == NULL && q[0].ready[0].len == 0);
	free(v);
}

int main(void)
{
	tiers();
	ordering();
	ready_order();
	steady_order();
	wave_order();
	return rltest_done();
}
