/*
 * site.c - the NOC's site commands and their audit trail, at the hub.
 *
 *   site status                    every site: up or lost, survivable, drain, failover, who, why, since
 *   site drain SITE [--percent P] --reason TEXT [--force]
 *   site undrain SITE --reason TEXT
 *   site failover SITE [--to SITE|home] --reason TEXT [--force]
 *   site failback SITE --reason TEXT
 *   audit [--since SECONDS_AGO] [--limit N]
 *
 * A site command goes to the hub, which applies it, tells the site's node and its seated
 * agents, and keeps it (and any refusal) in the audit trail with the operator who gave it; its
 * answer is the site's new state. That is what sets it apart from `drain on|off` at a node,
 * the node's own tool for when the hub cannot be reached. Every command needs a reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "render.h"
#include "rl_alloc.h"
#include "rl_time.h"

#define SITE_PERCENT (1u << 0) /* the action takes --percent */
#define SITE_TO      (1u << 1) /* --to */
#define SITE_FORCE   (1u << 2) /* --force */

static const struct {
	const char *name;
	Relais__SiteAction action;
	unsigned opts;
} site_actions[] = {
    {"drain", RELAIS__SITE_ACTION__SITE_DRAIN, SITE_PERCENT | SITE_FORCE},
    {"undrain", RELAIS__SITE_ACTION__SITE_UNDRAIN, 0},
    {"failover", RELAIS__SITE_ACTION__SITE_FAILOVER, SITE_TO | SITE_FORCE},
    {"failback", RELAIS__SITE_ACTION__SITE_FAILBACK, 0},
};

/* site_number reads a whole decimal number in lo..hi into *v; 0 if it is not one. */
static int site_number(const char *s, unsigned long lo, unsigned long hi, unsigned long *v)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return 0;
	*v = strtoul(s, &end, 10);
	return *end == '\0' && *v >= lo && *v <= hi;
}

int ctl_opt_window(const char *opt, const char *val, uint64_t *since_us, uint32_t *limit, unsigned long max)
{
	unsigned long v;

	if (strcmp(opt, "--since") == 0 && site_number(val, 0, 100ul * 365 * 86400, &v))
		*since_us = rl_wall_us() - (uint64_t)v * 1000000u;
	else if (strcmp(opt, "--limit") == 0 && site_number(val, 1, max, &v))
		*limit = (uint32_t)v;
	else
		return 0;
	return 1;
}

/* site_args fills sc from "SITE [options]" for an action taking opts; 0, or the exit status
 * (2, said on stderr). sc points into argv. */
static int site_args(Relais__SiteCommand *sc, const char *name, unsigned opts, int argc, char **argv)
{
	unsigned long pct = 100;

	if (argc < 1 || argv[0][0] == '-' || argv[0][0] == '\0')
		return ctl_usage();
	sc->site_id = argv[0];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--force") == 0 && (opts & SITE_FORCE)) {
			sc->force = 1;
			continue;
		}
		if (v == NULL)
			return ctl_usage();
		i++;
		if (strcmp(a, "--reason") == 0) {
			sc->reason = (char *)v;
		} else if (strcmp(a, "--percent") == 0 && (opts & SITE_PERCENT)) {
			if (!site_number(v, 1, 100, &pct)) {
				fprintf(stderr, "relaisctl: --percent takes 1..100\n");
				return 2;
			}
		} else if (strcmp(a, "--to") == 0 && (opts & SITE_TO)) {
			sc->to_site = (char *)v; /* "home": the home agents; none: the site's first backup */
		} else {
			return ctl_usage();
		}
	}
	if (sc->reason[0] == '\0') {
		fprintf(stderr, "relaisctl: site %s needs --reason TEXT: the audit says why\n", name);
		return 2;
	}
	if (opts & SITE_PERCENT)
		sc->percent = (uint32_t)pct;
	return 0;
}

/* site_show prints a site command's answer: the site's state now. */
static void site_show(const struct ctl *c, const Relais__SiteState *st)
{
	if (c->json) {
		char *s = rl_render_site_state_json(st);
		puts(s);
		free(s);
	} else {
		rl_render_site_states(stdout, &st, 1, rl_wall_us());
	}
}

/* site_status: `site status`, every site's state from the hub's status. */
static int site_status(struct ctl *c, int argc)
{
	Relais__StatusRequest sr = RELAIS__STATUS_REQUEST__INIT;
	rl_env env, *r;
	int rv;

	if (argc != 0)
		return ctl_usage();
	if ((rv = ctl_open(c)) != 0)
		return rv;
	sr.sites = 1;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_STATUS_REQUEST;
	env.status_request = &sr;
	if ((r = ctl_ask(c, &env, &rv)) != NULL && r->body_case == RELAIS__ENVELOPE__BODY_STATUS_REPLY) {
		const Relais__StatusReply *rep = r->status_reply;
		if (c->json) {
			char *s = rl_render_sites_json(rep);
			puts(s);
			free(s);
		} else {
			const Relais__SiteState **v = rl_calloc(rep->n_sites + 1, sizeof(*v));
			size_t n = 0;
			for (size_t i = 0; i < rep->n_sites; i++)
				if (rep->sites[i]->state != NULL)
					v[n++] = rep->sites[i]->state;
			rl_render_site_states(stdout, v, n, rep->now_us);
			free(v);
		}
	}
	rl_wire_free(r);
	ctl_close(c);
	return rv;
}

int ctl_cmd_site(struct ctl *c, int argc, char **argv)
{
	Relais__SiteCommand sc = RELAIS__SITE_COMMAND__INIT;
	rl_env env, *r;
	size_t k;
	int rv;

	if (argc < 1)
		return ctl_usage();
	if (strcmp(argv[0], "status") == 0)
		return site_status(c, argc - 1);
	for (k = 0; k < sizeof(site_actions) / sizeof(site_actions[0]); k++)
		if (strcmp(argv[0], site_actions[k].name) == 0)
			break;
	if (k == sizeof(site_actions) / sizeof(site_actions[0]))
		return ctl_usage();
	if ((rv = site_args(&sc, site_actions[k].name, site_actions[k].opts, argc - 1, argv + 1)) != 0)
		return rv;
	sc.action = site_actions[k].action;
	if ((rv = ctl_open(c)) != 0)
		return rv;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_COMMAND;
	env.site_command = &sc;
	if ((r = ctl_ask(c, &env, &rv)) != NULL && r->body_case == RELAIS__ENVELOPE__BODY_SITE_STATE)
		site_show(c, r->site_state);
	rl_wire_free(r);
	ctl_close(c);
	return rv;
}

int ctl_cmd_audit(struct ctl *c, int argc, char **argv)
{
	Relais__AuditRequest ar = RELAIS__AUDIT_REQUEST__INIT;
	rl_env env, *r;
	int rv;

	for (int i = 0; i < argc; i++) {
		if (i + 1 >= argc)
			return ctl_usage();
		if (!ctl_opt_window(argv[i], argv[i + 1], &ar.since_us, &ar.limit, 100000))
			return ctl_usage();
		i++;
	}
	if ((rv = ctl_open(c)) != 0)
		return rv;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_AUDIT_REQUEST;
	env.audit_request = &ar;
	if ((r = ctl_ask(c, &env, &rv)) != NULL && r->body_case == RELAIS__ENVELOPE__BODY_AUDIT_REPLY) {
		if (c->json) {
			char *s = rl_render_audit_json(r->audit_reply);
			puts(s);
			free(s);
		} else {
			rl_render_audit(stdout, r->audit_reply);
		}
	}
	rl_wire_free(r);
	ctl_close(c);
	return rv;
}
