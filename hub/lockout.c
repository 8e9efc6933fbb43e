/*
 * lockout.c - failed logins slow down guessing without handing an attacker a way to lock a
 * real agent out.
 *
 * Failures are counted three ways, in one fixed table (an attacker cycling ids or addresses
 * only recycles slots):
 *   - per agent id and source address: after 3 in a row that pair waits 1 s, doubling to 60 s;
 *   - per source address, whatever the id: after 10 it waits likewise (one address spraying
 *     many ids); a floor of agents behind one NAT makes 10 honest typos rare;
 *   - per agent id, from anywhere: after 10 the id takes one attempt per 2 s, except from the
 *     addresses the agent itself logged in from lately, which are never slowed by others.
 * So someone guessing an agent's secret from one address (or many) never stops the agent
 * logging in from its own address. Counts fade after 10 minutes without a failure; a
 * successful login clears its pair and its id. Ids unknown here are counted like real ones,
 * so refusals do not tell which ids exist.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "rl_log.h"

#define RL_PAIR_AFTER  3
#define RL_ADDR_AFTER  10
#define RL_ID_AFTER    10
#define RL_ID_PACE_US  2000000ULL
#define RL_LOCK_MAX_MS 60000ULL
#define RL_FADE_US     600000000ULL /* 10 minutes */

/* rl_lock finds the slot of key kind+a+b, emptied when it is another key's or has faded. */
static struct rl_lock *rl_lock(struct rl_engine *e, char kind, const char *a, const char *b)
{
	char key[2 * RL_WIRE_MAX_ID + 64];
	uint64_t h;
	struct rl_lock *lk;

	snprintf(key, sizeof(key), "%c%s|%s", kind, a, b ? b : "");
	h = rl_htab_hash(key);
	lk = &e->locks[h % RL_LOCKS];
	if (lk->h != h || e->now - lk->last_us > RL_FADE_US)
		*lk = (struct rl_lock){h, 0, 0, e->now};
	return lk;
}

/* rl_lock_fail counts a failure; from `after` failures on the slot waits 1 s, doubling. */
static void rl_lock_fail(struct rl_engine *e, struct rl_lock *lk, unsigned after)
{
	lk->last_us = e->now;
	if (++lk->failures >= after) {
		unsigned shift = lk->failures - after < 6 ? lk->failures - after : 6;
		uint64_t ms = 1000ULL << shift;
		lk->until_us = e->now + (ms > RL_LOCK_MAX_MS ? RL_LOCK_MAX_MS : ms) * 1000u;
	}
}

static int rl_good_ip(const struct rl_agent *a, const char *ip)
{
	for (int i = 0; a != NULL && ip[0] && i < 4; i++)
		if (strcmp(a->good_ip[i], ip) == 0)
			return 1;
	return 0;
}

uint64_t rl_lockout_wait(struct rl_engine *e, const char *id, const char *ip)
{
	uint64_t until = 0;
	struct rl_lock *lk;

	if ((lk = rl_lock(e, 'p', id, ip))->until_us > until)
		until = lk->until_us;
	if ((lk = rl_lock(e, 'a', ip, NULL))->until_us > until)
		until = lk->until_us;
	if (!rl_good_ip(rl_agent_find(e, id), ip) && (lk = rl_lock(e, 'i', id, NULL))->until_us > until)
		until = lk->until_us;
	return until > e->now ? until - e->now : 0;
}

void rl_lockout_failed(struct rl_engine *e, const char *id, const char *ip)
{
	struct rl_lock *pair = rl_lock(e, 'p', id, ip), *addr = rl_lock(e, 'a', ip, NULL);
	struct rl_lock *ident = rl_lock(e, 'i', id, NULL);

	rl_lock_fail(e, pair, RL_PAIR_AFTER);
	rl_lock_fail(e, addr, RL_ADDR_AFTER);
	ident->last_us = e->now;
	if (++ident->failures >= RL_ID_AFTER)
		ident->until_us = e->now + RL_ID_PACE_US;
	e->ctr.auth_failures++;
	rl_log(RL_LOG_WARNING, "login refused agent=%s src=%s failures=%u src_failures=%u id_failures=%u", id,
	       ip[0] ? ip : "?", pair->failures, addr->failures, ident->failures);
}

void rl_lockout_passed(struct rl_engine *e, struct rl_agent *a, const char *ip)
{
	struct rl_lock *pair = rl_lock(e, 'p', a->id, ip), *ident = rl_lock(e, 'i', a->id, NULL);

	pair->failures = 0;
	pair->until_us = 0;
	ident->failures = 0;
	ident->until_us = 0;
	if (ip[0] && !rl_good_ip(a, ip))
		snprintf(a->good_ip[a->good_next++ % 4], sizeof(a->good_ip[0]), "%s", ip);
}
