/*
 * restore.c - rebuilding memory from the store at start. The store is the truth: agents keep
 * their state and sessions, queued contacts their place and enqueue time, offers and calls
 * their agent when both records agree; the day's KPIs are folded again from the event log.
 */
#include <string.h>

#include "internal.h"
#include "rl_err.h"
#include "rl_log.h"
#include "router.h"
#include "store.h"

static int rl_restore_kpi(void *arg, const Relais__EventRecord *ev)
{
	rl_kpi_fold(arg, -1, ev);
	return 0;
}

/* rl_restore_agent puts a provisioned agent back where its record says it is. */
static void rl_restore_agent(struct rl_engine *e, struct rl_agent *a)
{
	a->site = a->rec->site_id && a->rec->site_id[0] ? rl_site_idx(e, a->rec->site_id) : -1;
	a->route_site = rl_site_route(e, a->site);
	a->last_seen_us = e->now; /* grace counts from the restart */
	if (rl_agent_live(a)) {
		if (a->rec->session)
			rl_htab_put(&e->agent_by_session, a->rec->session, a);
		if (a->site >= 0)
			e->sites[a->site].agents++;
	}
	rl_agent_tiers(e, a);
	rl_dirty_agent(e, a); /* provisioning changes */
}

/* rl_holds: agent a's record says it holds contact c in the state c's record says. */
static int rl_holds(const struct rl_agent *a, const struct rl_contact *c)
{
	Relais__ContactState cs = c->rec->state;
	Relais__AgentState as = a->rec->state;

	return a->rec->contact_id && strcmp(a->rec->contact_id, c->id) == 0 &&
	       ((cs == RELAIS__CONTACT_STATE__CONTACT_OFFERED && as == RELAIS__AGENT_STATE__AGENT_RESERVED) ||
	        (cs == RELAIS__CONTACT_STATE__CONTACT_CONNECTED && as == RELAIS__AGENT_STATE__AGENT_BUSY));
}

static int rl_restore_contact(void *arg, Relais__ContactRecord *r)
{
	struct rl_engine *e = arg;
	struct rl_contact *c = rl_contact_adopt(e, r);
	struct rl_agent *a;

	if (c->queue < 0) {
		/* Its queue is no longer provisioned: end it so it is not lost silently. */
		rl_log(RL_LOG_WARNING, "contact of a removed queue ends contact=%s queue=%s", c->id, r->queue_id);
		if (e->nqueues == 0)
			return RL_ECONFIG;
		c->queue = 0;
		rl_contact_end(e, c, RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED, "queue removed");
	} else if (r->state == RELAIS__CONTACT_STATE__CONTACT_QUEUED && r->suspended && c->site >= 0) {
		/* Its site was lost before the restart: it stays lost until its node registers
		 * again (site.c), the grace counting from now. */
		e->sites[c->site].lost = 1;
		e->sites[c->site].lost_us = e->now;
	} else if (r->state == RELAIS__CONTACT_STATE__CONTACT_QUEUED) {
		rl_router_push(&e->queues[c->queue], c);
		e->queues[c->queue].dirty = 1;
	} else if ((a = rl_agent_find(e, r->agent_id)) != NULL && rl_holds(a, c)) {
		c->agent = a;
		a->contact = c;
	} else {
		/* The two records disagree (cannot happen after a clean commit). */
		rl_log(RL_LOG_WARNING, "contact without its agent is requeued contact=%s", c->id);
		if (r->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED)
			rl_contact_end(e, c, RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED, "records disagreed");
		else
			rl_contact_to(e, c, RL_C_REQUEUED, 0);
	}
	return RL_OK;
}

/* rl_restore_held: an agent whose contact is gone is free again; one in wrap-up resumes it. */
static void rl_restore_held(struct rl_engine *e, struct rl_agent *a)
{
	Relais__AgentState st = a->rec->state;
	struct rl_contact *c;
	Relais__ContactRecord *cr;

	if ((st == RELAIS__AGENT_STATE__AGENT_RESERVED || st == RELAIS__AGENT_STATE__AGENT_BUSY) &&
	    a->contact == NULL) {
		rl_wire_set_str(&a->rec->contact_id, "");
		rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_NOT_READY, "recovered");
	}
	if (st == RELAIS__AGENT_STATE__AGENT_WRAPUP) {
		a->wrap_started_us = a->rec->state_since_us;
		if (rl_contact_get(e, a->rec->contact_id, &c, &cr) == RL_OK) {
			a->wrap_queue = rl_queue_idx(e, cr->queue_id);
			rl_contact_drop(c, cr);
		}
	}
}

int rl_restore(struct rl_engine *e)
{
	int rv;

	/* The day's KPIs first, from the log as it stands: what recovery itself logs below is
	 * folded as it happens, like every later event. */
	rl_store_each_event_since(e->store, (e->now / 86400000000ULL) * 86400000000ULL, rl_restore_kpi, e);
	if ((rv = rl_engine_begin(e, e->now)) != RL_OK)
		return rv;
	for (int i = 0; i < e->nagents; i++)
		rl_restore_agent(e, e->agents[i]);
	if ((rv = rl_store_each_live(e->store, rl_restore_contact, e)) != RL_OK) {
		rl_engine_abort(e);
		return rv;
	}
	for (int i = 0; i < e->nagents; i++)
		rl_restore_held(e, e->agents[i]);
	return rl_engine_commit(e);
}
