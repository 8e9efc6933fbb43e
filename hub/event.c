/*
 * event.c - the event log. Every step of a contact's life and every change of an agent's
 * state is an event; each is appended to the store and folded into the KPIs as it happens,
 * by the same fold that rebuilds them from the log at start (kpi.c).
 */
#include "internal.h"
#include "store.h"

void rl_event_emit(struct rl_engine *e, int qi, const Relais__EventRecord *ev)
{
	rl_store_event(e->store, ev);
	rl_kpi_fold(e, qi, ev);
}

/* rl_event_fill sets ev (its strings borrowed from c and a) as rl_event says. */
static void rl_event_fill(struct rl_engine *e, Relais__EventRecord *ev, Relais__EventType type,
                          const struct rl_contact *c, const struct rl_agent *a, uint64_t ms, const char *detail)
{
	ev->ts_us = e->now;
	ev->type = type;
	if (c != NULL) {
		ev->contact_id = c->rec->contact_id;
		ev->queue_id = c->rec->queue_id;
		ev->tenant_id = c->rec->tenant_id;
		ev->site_id = c->rec->site_id;
	}
	if (a != NULL) {
		ev->agent_id = a->rec->agent_id;
		ev->agent_state = a->rec->state;
		if (c == NULL)
			ev->site_id = a->rec->site_id;
	}
	ev->wait_ms = ms;
	ev->detail = (char *)(detail ? detail : "");
}

void rl_event(struct rl_engine *e, Relais__EventType type, const struct rl_contact *c, const struct rl_agent *a,
              uint64_t ms, const char *detail)
{
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;

	rl_event_fill(e, &ev, type, c, a, ms, detail);
	rl_event_emit(e, c != NULL ? c->queue : -1, &ev);
}

void rl_event_state(struct rl_engine *e, const struct rl_agent *a, Relais__AgentState prev, const char *prev_reason,
                    uint64_t ms)
{
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;

	rl_event_fill(e, &ev, RELAIS__EVENT_TYPE__EV_AGENT_STATE, NULL, a, ms, a->rec->reason);
	ev.prev_state = prev;
	ev.prev_reason = (char *)prev_reason;
	rl_event_emit(e, -1, &ev);
}
