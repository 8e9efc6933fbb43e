/*
 * dialplan.c - the dial plan held at the hub (config `dial_plan`: dids and IVR menus, as a
 * node's sip group writes them, prompts named by file) and pushed to every node when it
 * registers, so that any site can take any site's numbers. The plan is checked against the
 * directory at start: each number's tenant and queue exist and the queue is that tenant's.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "rl_err.h"
#include "rl_log.h"

/* rl_dp_queue_ok: queue id (may be "") exists and belongs to tenant ti (-1: any tenant). */
static int rl_dp_queue_ok(const struct rl_engine *e, const char *id, int ti)
{
	int q;

	if (id[0] == 0)
		return 1;
	q = rl_queue_idx(e, id);
	return q >= 0 && (ti < 0 || e->queues[q].tenant == ti);
}

static int rl_dp_menu_ok(const struct rl_engine *e, const struct rl_ivr_menu *m, int ti)
{
	if (!rl_dp_queue_ok(e, m->default_queue, ti))
		return 0;
	for (int k = 0; k < m->nopt; k++)
		if (!rl_dp_queue_ok(e, m->opt[k].queue, ti))
			return 0;
	return 1;
}

/* rl_dp_check: every queue the plan names is known, and a number's queues are its tenant's
 * (through the menu it starts at; a menu reached from another menu is checked for its
 * queues' existence). */
static int rl_dp_check(const struct rl_engine *e, const struct rl_dialplan *p, char *err, size_t errlen)
{
	for (int i = 0; i < p->menus.n; i++)
		if (!rl_dp_menu_ok(e, &p->menus.menu[i], -1)) {
			snprintf(err, errlen, "menus: %s names an unknown queue", p->menus.menu[i].id);
			return RL_ECONFIG;
		}
	for (int i = 0; i < p->ndids; i++) {
		const struct rl_dial_did *d = &p->dids[i];
		int ti = rl_tenant_idx(e, d->tenant);
		if (ti < 0) {
			snprintf(err, errlen, "dids: %s: unknown tenant %s", d->did, d->tenant);
			return RL_ECONFIG;
		}
		if (!rl_dp_queue_ok(e, d->queue, ti) ||
		    (d->menu[0] && !rl_dp_menu_ok(e, rl_ivr_find(&p->menus, d->menu), ti))) {
			snprintf(err, errlen, "dids: %s: a queue that is not tenant %s's", d->did, d->tenant);
			return RL_ECONFIG;
		}
	}
	return RL_OK;
}

int rl_dialplan_provision(struct rl_engine *e, const config_setting_t *g)
{
	struct rl_dialplan *p;
	char err[256];
	rl_env env;

	if (g == NULL)
		return RL_OK; /* nodes answer with their own plans */
	if (rl_dialplan_from_config(&p, config_setting_get_member(g, "dids"), config_setting_get_member(g, "menus"),
	                            RL_DIALPLAN_NAMES, err, sizeof(err)) == RL_OK &&
	    rl_dp_check(e, p, err, sizeof(err)) != RL_OK) {
		rl_dialplan_unref(p);
		p = NULL;
	}
	if (p == NULL) {
		rl_log(RL_LOG_ERR, "config dial_plan line=%d: %s", config_setting_source_line(g), err);
		return RL_ECONFIG;
	}
	e->dialplan_src = p;
	e->dialplan = rl_dialplan_to_pb(p);
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_DIAL_PLAN;
	env.dial_plan = e->dialplan;
	if (relais__envelope__get_packed_size(&env) > RL_WIRE_MAX_FRAME - 1024) {
		rl_log(RL_LOG_ERR,
		       "config dial_plan: %zu bytes packed, more than one frame carries (%d): fewer "
		       "numbers (a \"*\" entry takes the rest)",
		       relais__envelope__get_packed_size(&env), RL_WIRE_MAX_FRAME - 1024);
		return RL_ECONFIG;
	}
	rl_log(RL_LOG_NOTICE, "dial plan version=%016llx dids=%zu menus=%zu", (unsigned long long)e->dialplan->version,
	       e->dialplan->n_dids, e->dialplan->n_menus);
	return RL_OK;
}

void rl_dialplan_push(struct rl_engine *e, int site)
{
	rl_env env;

	if (e->dialplan == NULL || e->sites[site].pipe == 0)
		return;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_DIAL_PLAN;
	env.dial_plan = e->dialplan;
	rl_out_push(e, e->sites[site].pipe, 0, 0, 0, &env, NULL, 0);
}
