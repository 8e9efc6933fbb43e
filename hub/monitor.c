/*
 * monitor.c - listen, whisper, barge: a supervisor on an agent's live call.
 *
 * A supervisor (of the call's tenant) or an admin asks, from its operator link, to join the
 * call an agent is on (MonitorRequest), to change mode, or to leave. The hub checks who may
 * (the gate: supervisor or admin; here: the agent and the call's tenant in the operator's
 * scope, else the agent is unknown), makes a media plan for a third leg between the call's
 * site node and the supervisor - always through the relay: the supervisor's client speaks
 * to the hub, like a home agent - and tells the node (MonitorLeg: its end and the mode, which
 * it mixes where the call's audio is) and the supervisor (MonitorStatus: its end). One
 * supervisor per call, one call per supervisor's link.
 *
 * A monitor ends when its call ends or leaves the agent (rl_call_finish), when the supervisor
 * leaves, or when the supervisor's link goes (rl_engine_pipe_gone); the node and the
 * supervisor are told, and the relay call is released. Monitors live in memory only: after a
 * hub restart a supervisor asks again. The agent's status says it is monitored when the
 * tenant's policy (tenants[].monitor_notify) asks for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"

static const char *const rl_mode_names[] = {"off", "listen", "whisper", "barge"};

static const char *rl_mode_name(int mode)
{
	return mode >= 0 && mode <= 3 ? rl_mode_names[mode] : "?";
}

static struct rl_monitor *rl_monitor_by_contact(struct rl_engine *e, const char *contact)
{
	for (int i = 0; i < e->nmonitors; i++)
		if (strcmp(e->monitors[i].contact, contact) == 0)
			return &e->monitors[i];
	return NULL;
}

static struct rl_monitor *rl_monitor_by_pipe(struct rl_engine *e, uint32_t pipe)
{
	for (int i = 0; i < e->nmonitors; i++)
		if (e->monitors[i].pipe == pipe)
			return &e->monitors[i];
	return NULL;
}

/* rl_monitor_tell_site sends the call's site its end of m's leg and the mode (OFF: none). */
static void rl_monitor_tell_site(struct rl_engine *e, const struct rl_monitor *m, int mode)
{
	Relais__MonitorLeg ml;
	Relais__MediaLeg leg;
	rl_env env;

	if (m->site < 0 || e->sites[m->site].pipe == 0)
		return; /* a lost site ends its calls, and their monitors, itself */
	relais__monitor_leg__init(&ml);
	ml.contact_id = (char *)m->contact;
	ml.mode = (Relais__MonitorMode)mode;
	if (mode != RELAIS__MONITOR_MODE__MONITOR_OFF) {
		rl_plan_leg(m->plan, m->contact, 0, &leg);
		ml.media = &leg;
	}
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_MONITOR_LEG;
	env.monitor_leg = &ml;
	rl_out_push(e, e->sites[m->site].pipe, 0, 0, 0, &env, NULL, 0);
}

/* rl_monitor_status sends m's state to its supervisor: as the answer to r, or unasked. */
static void rl_monitor_status(struct rl_engine *e, const struct rl_monitor *m, int mode, const char *why,
                              const struct rl_req *r)
{
	Relais__MonitorStatus ms;
	Relais__MediaLeg leg;
	rl_env env;

	relais__monitor_status__init(&ms);
	ms.agent_id = (char *)m->agent;
	ms.contact_id = (char *)m->contact;
	ms.mode = (Relais__MonitorMode)mode;
	ms.end_reason = (char *)(why ? why : "");
	if (mode != RELAIS__MONITOR_MODE__MONITOR_OFF) {
		rl_plan_leg(m->plan, m->contact, 1, &leg);
		ms.media = &leg;
	}
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_MONITOR_STATUS;
	env.monitor_status = &ms;
	if (r != NULL)
		rl_reply(e, r, &env);
	else
		rl_out_push(e, m->pipe, 0, 0, 0, &env, NULL, 0);
}

/* rl_monitor_tell_agent pushes the agent's status again when its tenant wants it told. */
static void rl_monitor_tell_agent(struct rl_engine *e, const struct rl_monitor *m)
{
	struct rl_agent *a = rl_agent_find(e, m->agent);

	if (a != NULL && (e->monitor_notify >> m->tenant) & 1)
		rl_push_status(e, a, NULL);
}

enum {
	RL_MON_QUIET = 1,     /* the supervisor is not told unasked (its link is gone, or it asked) */
	RL_MON_CALL_OVER = 2, /* the call is ending: the agent's own status change tells it */
};

/* rl_monitor_end takes m off its call: the site and the supervisor are told, the relay call
 * released, the agent told (flags: RL_MON_*). m is invalid afterwards. */
static void rl_monitor_end(struct rl_engine *e, struct rl_monitor *m, const char *why, unsigned flags)
{
	struct rl_monitor gone = *m;

	rl_log(RL_LOG_NOTICE, "monitor end contact=%s agent=%s operator=%s why=%s", m->contact, m->agent, m->op, why);
	rl_monitor_tell_site(e, m, RELAIS__MONITOR_MODE__MONITOR_OFF);
	if (!(flags & RL_MON_QUIET))
		rl_monitor_status(e, m, RELAIS__MONITOR_MODE__MONITOR_OFF, why, NULL);
	rl_plan_free(m->plan, e->relay);
	*m = e->monitors[--e->nmonitors];
	if (!(flags & RL_MON_CALL_OVER))
		rl_monitor_tell_agent(e, &gone);
}

/* rl_monitor_check: the refusal for joining a's call from r, or NULL with *cp the call. */
static const char *rl_monitor_check(struct rl_engine *e, const struct rl_req *r, struct rl_agent *a,
                                    struct rl_contact **cp, Relais__ErrorCode *code)
{
	struct rl_contact *c = a->contact;
	struct rl_monitor *other;

	*code = RELAIS__ERROR_CODE__ERR_BAD_STATE;
	if (c == NULL || c->rec->state != RELAIS__CONTACT_STATE__CONTACT_CONNECTED)
		return "the agent is not on a call";
	if (!((r->scope >> e->queues[c->queue].tenant) & 1)) {
		*code = RELAIS__ERROR_CODE__ERR_UNKNOWN_AGENT; /* another tenant's call: as unknown */
		return "unknown agent";
	}
	if (c->site < 0 || c->plan == NULL)
		return "the call's audio is at no site";
	if (e->relay == NULL) {
		*code = RELAIS__ERROR_CODE__ERR_UNAVAILABLE;
		return "no media relay: a supervisor's leg goes through it";
	}
	if ((other = rl_monitor_by_contact(e, c->id)) != NULL && other->pipe != r->pipe)
		return "another supervisor is on this call";
	*cp = c;
	return NULL;
}

/* rl_monitor_join puts r's supervisor on call c (a new leg), or NULL if the relay refused. */
static struct rl_monitor *rl_monitor_join(struct rl_engine *e, const struct rl_req *r, struct rl_contact *c)
{
	struct rl_plan_where w = {.site_media = "", .seated_here = 0, .relay = e->relay, .suite = e->suite};
	struct rl_monitor *m;
	struct rl_plan *p;
	int rv;

	w.relay_id = ++e->relay_seq;
	w.epoch = ++e->plan_epoch;
	if ((rv = rl_plan_new(&p, &w)) != RL_OK) {
		rl_log(RL_LOG_WARNING, "monitor refused contact=%s err=\"%s\"", c->id, rl_strerror(rv));
		return NULL;
	}
	if (e->nmonitors == e->capmonitors) {
		e->capmonitors = e->capmonitors ? 2 * e->capmonitors : 8;
		e->monitors = rl_realloc(e->monitors, (size_t)e->capmonitors * sizeof(*e->monitors));
	}
	m = &e->monitors[e->nmonitors++];
	memset(m, 0, sizeof(*m));
	snprintf(m->contact, sizeof(m->contact), "%s", c->id);
	snprintf(m->agent, sizeof(m->agent), "%s", c->agent->id);
	snprintf(m->op, sizeof(m->op), "%s", r->peer->op >= 0 ? e->operators[r->peer->op].id : "?");
	m->pipe = r->pipe;
	m->site = c->site;
	m->tenant = e->queues[c->queue].tenant;
	m->plan = p;
	return m;
}

/* MonitorRequest from a supervisor or an admin (the gate let only them through). */
void rl_h_monitor(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__MonitorRequest *mr = env->monitor_request;
	struct rl_agent *a = rl_agent_find(e, mr->agent_id);
	struct rl_monitor *m = rl_monitor_by_pipe(e, r->pipe), off = {0};
	struct rl_contact *c = NULL;
	Relais__ErrorCode code;
	const char *no;
	int mode = mr->mode;

	if (a == NULL || !(a->tenants & r->scope)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_AGENT, "unknown agent", 0);
		return;
	}
	if (mode < RELAIS__MONITOR_MODE__MONITOR_OFF || mode > RELAIS__MONITOR_MODE__MONITOR_BARGE) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "unknown mode", 0);
		return;
	}
	if (mode == RELAIS__MONITOR_MODE__MONITOR_OFF) {
		snprintf(off.agent, sizeof(off.agent), "%s", a->id);
		if (m != NULL)
			rl_monitor_end(e, m, "left", RL_MON_QUIET);
		rl_monitor_status(e, &off, RELAIS__MONITOR_MODE__MONITOR_OFF, "left", r);
		return;
	}
	if ((no = rl_monitor_check(e, r, a, &c, &code)) != NULL) {
		rl_reply_error(e, r, code, no, 0);
		return;
	}
	if (m != NULL && strcmp(m->contact, c->id) != 0)
		rl_monitor_end(e, m, "moved to another call", 0);
	if ((m = rl_monitor_by_pipe(e, r->pipe)) == NULL && (m = rl_monitor_join(e, r, c)) == NULL) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNAVAILABLE, "the relay has no room", 0);
		return;
	}
	rl_log(RL_LOG_NOTICE, "monitor contact=%s agent=%s operator=%s mode=%s", m->contact, m->agent, m->op,
	       rl_mode_name(mode));
	m->mode = mode;
	rl_monitor_tell_site(e, m, mode);
	rl_monitor_status(e, m, mode, NULL, r);
	rl_monitor_tell_agent(e, m);
}

Relais__MonitorMode rl_monitor_shown(const struct rl_engine *e, const struct rl_agent *a)
{
	for (int i = 0; a->contact != NULL && i < e->nmonitors; i++)
		if (strcmp(e->monitors[i].contact, a->contact->id) == 0 &&
		    ((e->monitor_notify >> e->monitors[i].tenant) & 1))
			return (Relais__MonitorMode)e->monitors[i].mode;
	return RELAIS__MONITOR_MODE__MONITOR_OFF;
}

void rl_monitor_call_end(struct rl_engine *e, const struct rl_contact *c)
{
	struct rl_monitor *m = rl_monitor_by_contact(e, c->id);

	if (m != NULL)
		rl_monitor_end(e, m, "call ended", RL_MON_CALL_OVER);
}

void rl_monitor_tell_again(struct rl_engine *e, const struct rl_contact *c)
{
	struct rl_monitor *m;

	if (e->nmonitors > 0 && c->rec->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED &&
	    (m = rl_monitor_by_contact(e, c->id)) != NULL)
		rl_monitor_tell_site(e, m, m->mode);
}

void rl_monitor_pipe_gone(struct rl_engine *e, uint32_t pipe)
{
	struct rl_monitor *m = rl_monitor_by_pipe(e, pipe);

	if (m != NULL)
		rl_monitor_end(e, m, "supervisor's link gone", RL_MON_QUIET);
}

int rl_monitor_provision(struct rl_engine *e, const config_setting_t *tenants)
{
	e->monitor_notify = 0;
	for (int i = 0; tenants != NULL && i < config_setting_length(tenants) && i < e->ntenants; i++) {
		int notify = 0;
		if (config_setting_lookup_bool(config_setting_get_elem(tenants, (unsigned)i), "monitor_notify",
		                               &notify) &&
		    notify)
			e->monitor_notify |= 1ull << i;
	}
	return RL_OK;
}

void rl_monitor_fini(struct rl_engine *e)
{
	for (int i = 0; i < e->nmonitors; i++)
		rl_plan_free(e->monitors[i].plan, e->relay);
	free(e->monitors);
	e->monitors = NULL;
	e->nmonitors = e->capmonitors = 0;
}
