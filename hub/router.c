#include "router.h"

#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"

static int rl_router_skills_ok(const uint8_t *need, const struct rl_agent *a)
{
	for (int i = 0; i < RL_MAX_SKILLS; i++)
		if (need[i] != 0 && a->level[i] < need[i])
			return 0;
	return 1;
}

int rl_router_tier(const struct rl_queue *q, const struct rl_agent *a)
{
	int s1, s2, here, home, elsewhere;
	unsigned widen = 0;

	if (!(a->tenants & (1ULL << q->tenant)))
		return -1; /* tenants never see each other's contacts */
	s1 = rl_router_skills_ok(q->need, a);
	s2 = q->has_need2 && rl_router_skills_ok(q->need2, a);
	if (!s1 && !s2)
		return -1;
	home = a->route_site < 0;
	here = q->sites == 0 || (!home && (q->sites & ((1ULL << a->route_site) | a->covers)));
	elsewhere = !home && !here;
	for (int t = 0; t <= q->noverflow; t++) {
		if (t > 0)
			widen |= q->overflow[t - 1].widen;
		int skills = s1 || (s2 && (widen & RL_WIDEN_SKILLS2));
		int place = here || (elsewhere && (widen & RL_WIDEN_ALL_SITES)) || (home && (widen & RL_WIDEN_HOME));
		if (skills && place)
			return t;
	}
	return -1;
}

int rl_router_queue_tier(const struct rl_queue *q, uint64_t now_us, uint64_t gone_sites)
{
	const struct rl_contact *head = q->fifo_head; /* longest waiting, any priority */
	uint64_t wait_s;
	int tier = 0;

	if (head == NULL)
		return 0;
	if (q->sites != 0 && (q->sites & ~gone_sites) == 0)
		return q->noverflow; /* every tier-0 site is gone: every overflow opens at once */
	wait_s = now_us > head->rec->enqueued_us ? (now_us - head->rec->enqueued_us) / 1000000u : 0;
	for (int i = 0; i < q->noverflow; i++) {
		const struct rl_overflow *o = &q->overflow[i];
		if ((o->after_s > 0 && wait_s >= o->after_s) || (o->waiting_over > 0 && q->nheap > o->waiting_over))
			tier = i + 1;
	}
	return tier;
}

int rl_router_better(const struct rl_contact *x, const struct rl_contact *y)
{
	if (x->rec->priority != y->rec->priority)
		return x->rec->priority > y->rec->priority;
	if (x->rec->enqueued_us != y->rec->enqueued_us)
		return x->rec->enqueued_us < y->rec->enqueued_us;
	return strcmp(x->id, y->id) < 0;
}

static void rl_heap_set(struct rl_queue *q, uint32_t i, struct rl_contact *c)
{
	q->heap[i] = c;
	c->heap_idx = i;
}

static void rl_heap_up(struct rl_queue *q, uint32_t i)
{
	struct rl_contact *c = q->heap[i];

	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!rl_router_better(c, q->heap[p]))
			break;
		rl_heap_set(q, i, q->heap[p]);
		i = p;
	}
	rl_heap_set(q, i, c);
}

static void rl_heap_down(struct rl_queue *q, uint32_t i)
{
	struct rl_contact *c = q->heap[i];

	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, best = i;
		const struct rl_contact *bc = c;
		if (l < q->nheap && rl_router_better(q->heap[l], bc)) {
			best = l;
			bc = q->heap[l];
		}
		if (r < q->nheap && rl_router_better(q->heap[r], bc))
			best = r;
		if (best == i)
			break;
		rl_heap_set(q, i, q->heap[best]);
		i = best;
	}
	rl_heap_set(q, i, c);
}

uint32_t rl_router_position(const struct rl_queue *q, const struct rl_contact *c)
{
	uint32_t ahead = 0;

	for (uint32_t i = 0; i < q->nheap; i++)
		ahead += q->heap[i] != c && rl_router_better(q->heap[i], c);
	return ahead + 1;
}

void rl_router_push(struct rl_queue *q, struct rl_contact *c)
{
	if (c->queued)
		return;
	if (q->nheap == q->capheap) {
		q->capheap = q->capheap ? q->capheap * 2 : 64;
		q->heap = rl_realloc(q->heap, q->capheap * sizeof(*q->heap));
	}
	c->queued = 1;
	rl_heap_set(q, q->nheap++, c);
	rl_heap_up(q, c->heap_idx);
	/* New contacts are the newest, so this stops at once; a requeued contact walks back
	 * to its original place among the older ones. */
	struct rl_contact *after = q->fifo_tail;
	while (after != NULL && after->rec->enqueued_us > c->rec->enqueued_us)
		after = after->fifo_prev;
	c->fifo_prev = after;
	c->fifo_next = after ? after->fifo_next : q->fifo_head;
	if (c->fifo_next)
		c->fifo_next->fifo_prev = c;
	else
		q->fifo_tail = c;
	if (after)
		after->fifo_next = c;
	else
		q->fifo_head = c;
}

void rl_router_remove(struct rl_queue *q, struct rl_contact *c)
{
	uint32_t i = c->heap_idx;

	if (!c->queued)
		return;
	c->queued = 0;
	if (c->fifo_prev)
		c->fifo_prev->fifo_next = c->fifo_next;
	else
		q->fifo_head = c->fifo_next;
	if (c->fifo_next)
		c->fifo_next->fifo_prev = c->fifo_prev;
	else
		q->fifo_tail = c->fifo_prev;
	c->fifo_prev = c->fifo_next = NULL;
	q->nheap--;
	if (i == q->nheap)
		return;
	rl_heap_set(q, i, q->heap[q->nheap]);
	rl_heap_up(q, i);
	rl_heap_down(q, q->heap[i]->heap_idx);
}

struct rl_contact *rl_router_head(const struct rl_queue *q)
{
	return q->nheap ? q->heap[0] : NULL;
}

int rl_router_skill_score(const struct rl_queue *q, const struct rl_agent *a)
{
	int score = 0;

	for (int i = 0; i < RL_MAX_SKILLS; i++)
		if (q->need[i])
			score += a->level[i];
	return score;
}

/*
 * Ready lists are skip lists (Pugh): the base level is a doubly linked list in routing
 * order, which rl_router_pick walks from its head; each member also stands, with probability
 * 1/4 per level, in sparser lists above it, so finding a member's place costs O(log n)
 * whatever its key - an agent that is ready again with its old idle time (its link came
 * back) goes where it was, not after a walk of every ready agent. Each level's last member
 * is kept too: an agent ready again after a contact (idle since now) goes after every other
 * ready agent of its score, found without a search.
 */

/* rl_before: x is served before y. */
static int rl_before(const struct rl_member *x, const struct rl_member *y)
{
	if (x->score != y->score)
		return x->score > y->score;
	if (x->idle_us != y->idle_us)
		return x->idle_us < y->idle_us;
	return x->seq < y->seq;
}

/* The member after x at level k (x NULL: the list's first at that level). */
static struct rl_member *rl_skip_next(const struct rl_list *l, const struct rl_member *x, int k)
{
	if (x == NULL)
		return k == 0 ? l->head : l->top[k];
	return k == 0 ? x->next : x->up[k - 1];
}

static void rl_skip_set(struct rl_list *l, struct rl_member *x, int k, struct rl_member *to)
{
	if (x == NULL && k == 0)
		l->head = to;
	else if (x == NULL)
		l->top[k] = to;
	else if (k == 0)
		x->next = to;
	else
		x->up[k - 1] = to;
}

/* rl_skip_last: the last member at level k (NULL: the level is empty) */
static struct rl_member *rl_skip_last(const struct rl_list *l, int k)
{
	return k == 0 ? l->tail : l->last[k];
}

/* rl_skip_find: pred[k] is the last member served before m at each level (NULL: none). */
static void rl_skip_find(const struct rl_list *l, const struct rl_member *m, struct rl_member **pred)
{
	struct rl_member *p = NULL;

	if (l->tail != NULL && rl_before(l->tail, m)) { /* after every member: the levels' ends */
		for (int k = 0; k < RL_SKIP_LEVELS; k++)
			pred[k] = rl_skip_last(l, k);
		return;
	}
	for (int k = RL_SKIP_LEVELS - 1; k >= 0; k--) {
		struct rl_member *n;
		while ((n = rl_skip_next(l, p, k)) != NULL && rl_before(n, m))
			p = n;
		pred[k] = p;
	}
}

static uint8_t rl_skip_height(void)
{
	static uint64_t x = 0x9e3779b97f4a7c15ULL; /* xorshift: heights only shape the search */
	uint8_t h = 1;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	for (uint64_t r = x; h < RL_SKIP_LEVELS && (r & 3) == 0; r >>= 2)
		h++;
	return h;
}

static void rl_list_unlink(struct rl_list *l, struct rl_member *m)
{
	struct rl_member *pred[RL_SKIP_LEVELS];

	if (!m->linked)
		return;
	rl_skip_find(l, m, pred);
	for (int k = 1; k < m->height; k++) {
		rl_skip_set(l, pred[k], k, m->up[k - 1]);
		if (l->last[k] == m)
			l->last[k] = pred[k];
	}
	if (m->prev)
		m->prev->next = m->next;
	else
		l->head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		l->tail = m->prev;
	free(m->up);
	m->up = NULL;
	m->prev = m->next = NULL;
	m->linked = 0;
	l->len--;
}

/* rl_list_insert links m at its key's place. */
static void rl_list_insert(struct rl_list *l, struct rl_member *m)
{
	struct rl_member *pred[RL_SKIP_LEVELS];

	m->seq = ++l->seq;
	m->height = rl_skip_height();
	m->up = m->height > 1 ? rl_calloc(m->height - 1u, sizeof(*m->up)) : NULL;
	rl_skip_find(l, m, pred);
	for (int k = 1; k < m->height; k++) {
		m->up[k - 1] = rl_skip_next(l, pred[k], k);
		rl_skip_set(l, pred[k], k, m);
		if (m->up[k - 1] == NULL)
			l->last[k] = m;
	}
	m->prev = pred[0];
	m->next = rl_skip_next(l, pred[0], 0);
	rl_skip_set(l, pred[0], 0, m);
	if (m->next)
		m->next->prev = m;
	else
		l->tail = m;
	m->linked = 1;
	l->len++;
}

void rl_router_ready(struct rl_queue *queues, int nqueues, struct rl_agent *a)
{
	for (int qi = 0; qi < nqueues; qi++) {
		struct rl_queue *q = &queues[qi];
		struct rl_member *m = &a->members[qi];
		int t = a->tier[qi];

		if (t < 0 || m->linked)
			continue;
		m->agent = a;
		m->queue = qi;
		m->tier = t;
		/* Ordered by score desc (most_skilled), then idle since asc, then who came first. */
		m->score = q->policy == RL_POLICY_MOST_SKILLED ? rl_router_skill_score(q, a) : 0;
		m->idle_us = a->rec->idle_since_us;
		rl_list_insert(&q->ready[t], m);
		q->dirty = 1;
	}
}

void rl_router_unready(struct rl_queue *queues, int nqueues, struct rl_agent *a)
{
	for (int qi = 0; qi < nqueues; qi++) {
		struct rl_member *m = &a->members[qi];
		if (m->linked)
			rl_list_unlink(&queues[qi].ready[m->tier], m);
	}
}

struct rl_agent *rl_router_pick(struct rl_queue *q, int max_tier, const char *skip)
{
	struct rl_agent *fallback = NULL;

	for (int t = 0; t <= max_tier && t < RL_MAX_TIERS; t++) {
		for (struct rl_member *m = q->ready[t].head; m != NULL; m = m->next) {
			if (skip != NULL && skip[0] && strcmp(m->agent->id, skip) == 0) {
				fallback = m->agent;
				continue;
			}
			return m->agent;
		}
	}
	return fallback;
}
