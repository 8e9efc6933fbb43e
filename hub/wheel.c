/*
 * wheel.c - the agents' timers: a hashed timing wheel (Varghese and Lauck) of
 * RL_WHEEL_SLOTS slots of RL_WHEEL_US, each agent in it at most once, at the next time
 * something may be due for it: the end of its offer (ring-no-answer) or wrap-up, or the
 * moment its silence makes it unreachable or logs it out. The tick visits only the slots
 * that came due, not every agent, so 100,000 idle agents cost nothing between their timers.
 *
 * Heartbeats do not move an agent in the wheel: when its time comes, the agent's timers run
 * against what is true then (rl_agent_timers), and it is put back at its next time. A
 * changed record (a new offer, a wrap-up) is rescheduled at the batch's commit, when every
 * change of the batch is in.
 */
#include <stdlib.h>

#include "internal.h"

static size_t rl_wheel_slot(uint64_t at_us)
{
	return (size_t)((at_us / RL_WHEEL_US) % RL_WHEEL_SLOTS);
}

static void rl_wheel_del(struct rl_engine *e, struct rl_agent *a)
{
	if (!a->w_in)
		return;
	if (a->w_prev != NULL)
		a->w_prev->w_next = a->w_next;
	else
		e->wheel[rl_wheel_slot(a->w_at)] = a->w_next;
	if (a->w_next != NULL)
		a->w_next->w_prev = a->w_prev;
	a->w_next = a->w_prev = NULL;
	a->w_in = 0;
}

static void rl_wheel_put(struct rl_engine *e, struct rl_agent *a, uint64_t at_us)
{
	size_t s = rl_wheel_slot(at_us);

	a->w_at = at_us;
	a->w_prev = NULL;
	a->w_next = e->wheel[s];
	if (a->w_next != NULL)
		a->w_next->w_prev = a;
	e->wheel[s] = a;
	a->w_in = 1;
}

/* rl_agent_due: when something may next be due for a (0: nothing, it is logged out). */
static uint64_t rl_agent_due(const struct rl_engine *e, const struct rl_agent *a)
{
	Relais__AgentState st = a->rec->state;
	uint64_t due, dead = (uint64_t)RL_LINK_DEAD_MS * 1000u, grace = (uint64_t)e->conf.agent_grace_s * 1000000u;

	if (!rl_agent_live(a))
		return 0;
	/* rl_agent_timers acts on silence strictly longer than these. */
	due = a->last_seen_us + (a->reachable ? dead : grace) + 1;
	if ((st == RELAIS__AGENT_STATE__AGENT_RESERVED || st == RELAIS__AGENT_STATE__AGENT_WRAPUP) &&
	    a->rec->deadline_us != 0 && a->rec->deadline_us < due)
		due = a->rec->deadline_us;
	return due;
}

/* rl_agent_at puts a in the wheel at its due time; one due already at the next tick, or (after
 * its timers ran and left it due: silent at a site serving alone) `later`. */
static void rl_agent_at(struct rl_engine *e, struct rl_agent *a, uint64_t later)
{
	uint64_t due = rl_agent_due(e, a);

	if (due != 0 && due <= e->now)
		due = later;
	if (a->w_in && a->w_at == due)
		return;
	rl_wheel_del(e, a);
	if (due != 0)
		rl_wheel_put(e, a, due);
}

void rl_agent_schedule(struct rl_engine *e, struct rl_agent *a)
{
	rl_agent_at(e, a, e->now);
}

void rl_agent_schedule_soon(struct rl_engine *e, struct rl_agent *a)
{
	if (!a->w_in)
		rl_agent_schedule(e, a);
}

/* rl_wheel_take detaches the agents of slot s that are due by now. */
static void rl_wheel_take(struct rl_engine *e, size_t s, struct rl_ptrs *due)
{
	struct rl_agent *a = e->wheel[s], *next;

	for (; a != NULL; a = next) {
		next = a->w_next;
		if (a->w_at <= e->now) {
			rl_wheel_del(e, a);
			rl_ptrs_push(due, a);
		}
	}
}

void rl_wheel_tick(struct rl_engine *e)
{
	uint64_t from = e->wheel_us, slots;
	struct rl_ptrs due = {0};

	if (e->now < from)
		return;
	slots = e->now / RL_WHEEL_US - from / RL_WHEEL_US + 1;
	if (slots > RL_WHEEL_SLOTS)
		slots = RL_WHEEL_SLOTS; /* a long pause: every slot once */
	for (uint64_t i = 0; i < slots; i++)
		rl_wheel_take(e, rl_wheel_slot(from + i * RL_WHEEL_US), &due);
	e->wheel_us = e->now;
	for (size_t i = 0; i < due.n; i++) {
		struct rl_agent *a = due.v[i];
		rl_agent_timers(e, a);
		rl_agent_at(e, a, e->now + 1000000u);
	}
	free(due.v);
}
