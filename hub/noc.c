/*
 * noc.c - the NOC's site commands and their audit trail.
 *
 *   drain P    the site's node refuses P % of new carrier calls (503 with Retry-After: the
 *              SBC's failure route tries the next site); calls in progress go on
 *   undrain    it takes every call again
 *   failover   drain 100 %, and the site's seated agents are routed as another site's (or as
 *              home agents): queues that served them at that site keep them; the site's own
 *              queues overflow at once (site.c, route.c)
 *   failback   undo a failover: the agents are the site's again, and it takes calls
 * Every command is an event of the log (EV_NOC) with the operator who gave it, its reason and
 * its outcome, refusals included; `relaisctl audit` reads them. Commands apply in the order
 * they arrive, each on the state the previous one left, so two operators issuing opposite
 * commands get a defined outcome: the later one, both audited. A site's node applies what
 * the hub says (SiteDrain with the command's number); the hub's state is the newer one when a
 * node comes back from a partition (site.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "store.h"

#define RL_AUDIT_ROWS 200 /* a reply must fit one frame */

static const char *const rl_actions[] = {"?", "drain", "undrain", "failover", "failback"};

void rl_noc_push_drain(struct rl_engine *e, int site)
{
	const struct rl_site *s = &e->sites[site];
	Relais__SiteDrain d = RELAIS__SITE_DRAIN__INIT;
	rl_env env;

	if (s->pipe == 0)
		return; /* it hears it when it registers again */
	rl_env_init(&env);
	d.on = s->drain_pct > 0;
	d.percent = s->drain_pct;
	d.command_seq = s->cmd_seq;
	d.reason = (char *)s->reason;
	d.by = (char *)s->by;
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_DRAIN;
	env.site_drain = &d;
	rl_out_push(e, s->pipe, 0, 0, 0, &env, NULL, 0);
}

/* rl_noc_audit logs a command and its outcome, with who gave it (to: a failover's target as
 * carried out, NULL: as asked). */
static void rl_noc_audit(struct rl_engine *e, const struct rl_req *r, const Relais__SiteCommand *sc, const char *to,
                         const char *outcome)
{
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;
	char act[RL_WIRE_MAX_ID + 32], detail[RL_WIRE_MAX_TEXT * 2 + 128];
	const char *op = r->peer->op >= 0 ? e->operators[r->peer->op].id : "?";
	unsigned a = sc->action < 5 ? (unsigned)sc->action : 0;

	if (sc->action == RELAIS__SITE_ACTION__SITE_DRAIN)
		snprintf(act, sizeof(act), "drain %u%%", sc->percent);
	else if (sc->action == RELAIS__SITE_ACTION__SITE_FAILOVER)
		snprintf(act, sizeof(act), "failover to=%s",
		         to                              ? to
		         : sc->to_site && sc->to_site[0] ? sc->to_site
		                                         : "(its backup)");
	else
		snprintf(act, sizeof(act), "%s", rl_actions[a]);
	snprintf(detail, sizeof(detail), "%s%s reason=\"%s\" -> %s", act, sc->force ? " force" : "",
	         sc->reason ? sc->reason : "", outcome);
	ev.ts_us = e->now;
	ev.type = RELAIS__EVENT_TYPE__EV_NOC;
	ev.site_id = (char *)(sc->site_id ? sc->site_id : "");
	ev.operator_id = (char *)op;
	ev.detail = detail;
	rl_event_emit(e, -1, &ev);
	rl_log(RL_LOG_NOTICE, "noc command operator=%s site=%s %s", op, ev.site_id, detail);
}

static void rl_noc_refuse(struct rl_engine *e, const struct rl_req *r, const Relais__SiteCommand *sc,
                          Relais__ErrorCode code, const char *msg)
{
	char outcome[RL_WIRE_MAX_TEXT + 16];

	snprintf(outcome, sizeof(outcome), "refused: %s", msg);
	rl_noc_audit(e, r, sc, NULL, outcome);
	rl_reply_error(e, r, code, msg, 0);
}

/* rl_noc_others_serve: another site than site (and than also, if set) takes calls now. */
static int rl_noc_others_serve(const struct rl_engine *e, int site)
{
	for (int i = 0; i < e->nsites; i++)
		if (i != site && rl_site_serving(e, i))
			return 1;
	return 0;
}

/* rl_noc_check: why the command cannot be carried out (NULL: it can), and the failover
 * target in *to. */
static const char *rl_noc_check(struct rl_engine *e, const Relais__SiteCommand *sc, int site, int *to)
{
	int stops = (sc->action == RELAIS__SITE_ACTION__SITE_DRAIN && sc->percent >= 100) ||
	            sc->action == RELAIS__SITE_ACTION__SITE_FAILOVER;

	*to = RL_FAILOVER_HOME;
	for (int k = 0; sc->action == RELAIS__SITE_ACTION__SITE_FAILOVER && (!sc->to_site || !sc->to_site[0]) &&
	                k < e->sites[site].nbackup && *to == RL_FAILOVER_HOME;
	     k++)
		if (rl_site_serving(e, e->sites[site].backup[k]))
			*to = e->sites[site].backup[k]; /* no target given: its first backup that serves */
	if (sc->reason == NULL || !sc->reason[0])
		return "a reason is required (--reason TEXT): the audit says why";
	if (sc->action == RELAIS__SITE_ACTION__SITE_DRAIN && (sc->percent < 1 || sc->percent > 100))
		return "drain takes a percentage 1..100";
	if (sc->action == RELAIS__SITE_ACTION__SITE_FAILOVER && sc->to_site && sc->to_site[0] &&
	    strcmp(sc->to_site, "home") != 0) {
		if ((*to = rl_site_idx(e, sc->to_site)) < 0)
			return "no such site to fail over to";
		if (*to == site)
			return "a site cannot fail over to itself";
		if (!rl_site_serving(e, *to))
			return "the target site is lost, draining or failed over itself";
	}
	if (sc->action == RELAIS__SITE_ACTION__SITE_FAILBACK && e->sites[site].failover == -1)
		return "the site is not failed over";
	if (stops && !sc->force && rl_site_serving(e, site) && !rl_noc_others_serve(e, site))
		return "it is the last site taking calls (add --force to stop it anyway)";
	return NULL;
}

static void rl_noc_apply(struct rl_engine *e, const struct rl_req *r, const Relais__SiteCommand *sc, int site, int to)
{
	struct rl_site *s = &e->sites[site];
	int was_failover = s->failover;

	switch (sc->action) {
	case RELAIS__SITE_ACTION__SITE_DRAIN:
		s->drain_pct = sc->percent;
		break;
	case RELAIS__SITE_ACTION__SITE_UNDRAIN:
		s->drain_pct = 0;
		break;
	case RELAIS__SITE_ACTION__SITE_FAILOVER:
		s->drain_pct = 100;
		s->failover = to;
		break;
	default: /* failback */
		s->drain_pct = 0;
		s->failover = -1;
		break;
	}
	s->cmd_seq = ++e->noc_seq;
	snprintf(s->by, sizeof(s->by), "%s", r->peer->op >= 0 ? e->operators[r->peer->op].id : "?");
	snprintf(s->reason, sizeof(s->reason), "%s", sc->reason);
	s->since_us = e->now;
	rl_noc_push_drain(e, site);
	if (s->failover != was_failover)
		rl_site_reroute(e, site); /* and tells its agents */
	else
		rl_site_tell(e, site); /* "site Casablanca drained 50 % by noc: ..." */
}

void rl_h_site_command(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__SiteCommand *sc = env->site_command;
	Relais__SiteState st;
	rl_env out;
	const char *why;
	int site = sc->site_id ? rl_site_idx(e, sc->site_id) : -1, to;

	if (site < 0) {
		rl_noc_refuse(e, r, sc, RELAIS__ERROR_CODE__ERR_UNKNOWN_SITE, "no such site");
		return;
	}
	if (sc->action < RELAIS__SITE_ACTION__SITE_DRAIN || sc->action > RELAIS__SITE_ACTION__SITE_FAILBACK) {
		rl_noc_refuse(e, r, sc, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "no such site command");
		return;
	}
	if ((why = rl_noc_check(e, sc, site, &to)) != NULL) {
		rl_noc_refuse(e, r, sc, RELAIS__ERROR_CODE__ERR_BAD_STATE, why);
		return;
	}
	rl_noc_apply(e, r, sc, site, to);
	rl_noc_audit(e, r, sc, to >= 0 ? e->sites[to].id : "home", "done");
	rl_site_event(e, site, rl_actions[sc->action]);
	rl_site_state(e, site, &st);
	rl_env_init(&out);
	out.body_case = RELAIS__ENVELOPE__BODY_SITE_STATE;
	out.site_state = &st;
	rl_reply(e, r, &out);
}

/* ---------------------------------------------------------------------------------------- */
/* the audit trail */

struct rl_audit {
	Relais__AuditEntry rows[RL_AUDIT_ROWS];
	Relais__AuditEntry *ptrs[RL_AUDIT_ROWS];
	char text[RL_AUDIT_ROWS][3][RL_WIRE_MAX_TEXT * 2 + 64];
	unsigned n, limit;
};

static int rl_audit_each(void *arg, const Relais__EventRecord *ev)
{
	struct rl_audit *a = arg;
	Relais__AuditEntry *x;

	if (ev->type != RELAIS__EVENT_TYPE__EV_NOC)
		return 0;
	if (a->n == a->limit) { /* keep the newest: drop the oldest */
		memmove(&a->text[0], &a->text[1], sizeof(a->text[0]) * (a->limit - 1));
		memmove(&a->rows[0], &a->rows[1], sizeof(a->rows[0]) * (a->limit - 1));
		a->n--;
	}
	x = &a->rows[a->n];
	relais__audit_entry__init(x);
	x->ts_us = ev->ts_us;
	snprintf(a->text[a->n][0], sizeof(a->text[0][0]), "%s", ev->operator_id ? ev->operator_id : "");
	snprintf(a->text[a->n][1], sizeof(a->text[0][1]), "%s", ev->site_id ? ev->site_id : "");
	snprintf(a->text[a->n][2], sizeof(a->text[0][2]), "%s", ev->detail ? ev->detail : "");
	a->n++;
	return 0;
}

void rl_h_audit(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__AuditRequest *ar = env->audit_request;
	Relais__AuditReply rep = RELAIS__AUDIT_REPLY__INIT;
	struct rl_audit *a = rl_calloc(1, sizeof(*a));
	rl_env out;

	a->limit = ar->limit && ar->limit < RL_AUDIT_ROWS ? ar->limit : RL_AUDIT_ROWS;
	rl_store_each_audit_since(e->store, ar->since_us, rl_audit_each, a);
	for (unsigned i = 0; i < a->n; i++) {
		a->rows[i].operator_id = a->text[i][0];
		a->rows[i].site_id = a->text[i][1];
		a->rows[i].detail = a->text[i][2];
		a->ptrs[i] = &a->rows[i];
	}
	rep.entries = a->ptrs;
	rep.n_entries = a->n;
	rl_env_init(&out);
	out.body_case = RELAIS__ENVELOPE__BODY_AUDIT_REPLY;
	out.audit_reply = &rep;
	rl_reply(e, r, &out);
	free(a);
}
