/*
 * push.c - what the hub tells agents and sites unasked: offers, an agent's status (with its
 * contact and the call's media leg), a contact's updates to the site it came from, errors
 * that arise after a request was answered. Everything goes through the outbox: nothing
 * leaves before the batch commits.
 */
#include "internal.h"

void rl_fill_offer(Relais__Offer *o, const struct rl_contact *c)
{
	relais__offer__init(o);
	o->contact_id = c->rec->contact_id;
	o->tenant_id = c->rec->tenant_id;
	o->queue_id = c->rec->queue_id;
	o->priority = c->rec->priority;
	o->pop = c->rec->pop;
	o->enqueued_us = c->rec->enqueued_us;
	o->offered_us = c->rec->offered_us;
	o->state = c->rec->state;
	o->site_id = c->rec->site_id;
}

/* rl_fill_status fills st (and o, its contact) with pointers into a's records, valid until
 * the next change of the model. */
void rl_fill_status(struct rl_engine *e, Relais__AgentStatus *st, Relais__Offer *o, const struct rl_agent *a)
{
	relais__agent_status__init(st);
	st->agent_id = a->rec->agent_id;
	st->state = a->rec->state;
	st->reason = a->rec->reason;
	st->state_since_us = a->rec->state_since_us;
	st->deadline_us = a->rec->deadline_us;
	st->site_id = a->rec->site_id;
	st->n_tenants = a->rec->n_tenants;
	st->tenants = a->rec->tenants;
	st->monitored = rl_monitor_shown(e, a);
	if (a->contact != NULL) {
		struct rl_plan *pl;
		rl_fill_offer(o, a->contact);
		st->contact = o;
		if (a->contact->rec->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED &&
		    (pl = rl_plan_ensure(e, a->contact)) != NULL) {
			rl_plan_leg(pl, a->contact->id, 1, &e->scratch_leg);
			st->media = &e->scratch_leg;
		}
		if (a->contact->rec->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED)
			st->recording = rl_recording_order(a->contact, &e->scratch_order);
	} else if (a->rec->contact_id && a->rec->contact_id[0]) {
		relais__offer__init(o);
		o->contact_id = a->rec->contact_id;
		o->state = RELAIS__CONTACT_STATE__CONTACT_ENDED;
		st->contact = o;
	}
}

void rl_push_to_agent(struct rl_engine *e, const struct rl_agent *a, rl_env *env)
{
	if (a->bound)
		rl_out_push(e, a->pipe, a->chan, a->rec->session, 0, env, NULL, 0);
}

void rl_push_status(struct rl_engine *e, struct rl_agent *a, const struct rl_req *r)
{
	rl_push_status_as(e, a, r, NULL);
}

void rl_push_status_as(struct rl_engine *e, struct rl_agent *a, const struct rl_req *r, const char *logged_out)
{
	Relais__AgentStatus st;
	Relais__Offer o;
	rl_env env;

	rl_env_init(&env);
	rl_fill_status(e, &st, &o, a);
	if (logged_out != NULL) {
		st.state = RELAIS__AGENT_STATE__AGENT_LOGGED_OUT;
		st.reason = (char *)logged_out;
		st.contact = NULL;
		st.media = NULL;
	}
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_STATUS;
	env.agent_status = &st;
	if (r != NULL)
		rl_reply(e, r, &env);
	else
		rl_push_to_agent(e, a, &env);
}

void rl_push_offer(struct rl_engine *e, struct rl_agent *a, const struct rl_contact *c)
{
	Relais__Offer o;
	rl_env env;

	rl_env_init(&env);
	rl_fill_offer(&o, c);
	env.body_case = RELAIS__ENVELOPE__BODY_OFFER;
	env.offer = &o;
	rl_push_to_agent(e, a, &env);
}

void rl_push_error(struct rl_engine *e, const struct rl_agent *a, Relais__ErrorCode code, const char *msg)
{
	Relais__Error er;
	rl_env env;

	rl_wire_error(&env, &er, code, msg, 0);
	rl_push_to_agent(e, a, &env);
}

/* rl_push_site sends u to site's node, if its link is up. */
static void rl_push_site(struct rl_engine *e, int site, Relais__ContactUpdate *u)
{
	rl_env env;

	if (site < 0 || e->sites[site].pipe == 0)
		return;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_UPDATE;
	env.contact_update = u;
	rl_out_push(e, e->sites[site].pipe, 0, 0, 0, &env, NULL, 0);
}

/* rl_update_fill: what a ContactUpdate says of any record (pointers into rec). */
static void rl_update_fill(Relais__ContactUpdate *u, const Relais__ContactRecord *rec)
{
	relais__contact_update__init(u);
	u->contact_id = rec->contact_id;
	u->ext_id = rec->ext_id;
	u->state = rec->state;
	u->outcome = rec->outcome;
	u->agent_id = rec->agent_id;
	u->agent_site = (char *)"";
	u->end_reason = rec->end_reason;
}

/* rl_push_update_rec tells site where a contact no longer in memory (ended) stands. */
void rl_push_update_rec(struct rl_engine *e, int site, const Relais__ContactRecord *rec)
{
	Relais__ContactUpdate u;

	rl_update_fill(&u, rec);
	rl_push_site(e, site, &u);
}

/* rl_push_update tells c's site where c stands (with the media plan once connected). */
void rl_push_update(struct rl_engine *e, const struct rl_contact *c)
{
	Relais__ContactUpdate u;
	Relais__RecordingOrder ro;

	if (c->site < 0 || e->sites[c->site].pipe == 0)
		return;
	rl_update_fill(&u, c->rec);
	if (c->agent != NULL)
		u.agent_site = c->agent->rec->site_id;
	if (c->rec->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED) {
		struct rl_plan *pl = rl_plan_ensure(e, (struct rl_contact *)c);
		if (pl != NULL) {
			rl_plan_leg(pl, c->id, 0, &e->scratch_leg);
			u.media = &e->scratch_leg;
		}
		u.transfer_to = c->rec->transfer_to;
		u.recording = rl_recording_order(c, &ro);
	}
	rl_push_site(e, c->site, &u);
	rl_monitor_tell_again(e, c); /* after the call's plan: a supervisor's leg hangs on it */
}

/* rl_push_gone tells site that contact id is unknown here (never acknowledged, or lost):
 * for the site it is over. */
void rl_push_gone(struct rl_engine *e, int site, const char *id)
{
	Relais__ContactUpdate u = RELAIS__CONTACT_UPDATE__INIT;

	u.contact_id = (char *)id;
	u.state = RELAIS__CONTACT_STATE__CONTACT_ENDED;
	u.outcome = RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED;
	rl_push_site(e, site, &u);
}
