/* render.h - status as aligned tables for people, or JSON (cJSON) for scripts. */
#ifndef RL_RENDER_H
#define RL_RENDER_H

#include <stdio.h>

#include "relais.pb-c.h"

/* rl_render_json returns the reply as JSON text, allocated through cJSON's hooks (the caller
 * frees it with free, or cJSON_free). relaisctl points the hooks at rl_malloc: out of memory
 * aborts, so the text is never NULL there. */
char *rl_render_json(const Relais__StatusReply *r);

/* rl_render_tables prints the selected sections. */
void rl_render_tables(FILE *f, const Relais__StatusReply *r, int queues, int agents, int sites, int calls);

/* rl_render_sites_json: the sites' states of a status reply, {"now_us": N, "sites": [...]};
 * rl_render_site_state_json: one site's state (a site command's answer); rl_render_audit_json:
 * {"entries": [...]}, oldest first. Allocated as rl_render_json's text is. */
char *rl_render_sites_json(const Relais__StatusReply *r);
char *rl_render_site_state_json(const Relais__SiteState *st);
char *rl_render_audit_json(const Relais__AuditReply *r);

/* rl_render_site_states prints n sites' states as a table: link up or lost, survivable, drain
 * share, where it failed over to, who gave the last command, how long ago (against now_us,
 * wall clock) and why. */
void rl_render_site_states(FILE *f, const Relais__SiteState *const *st, size_t n, uint64_t now_us);

/* rl_render_audit prints the audit trail, one command a line: local time, operator, site,
 * what was asked and its outcome. */
void rl_render_audit(FILE *f, const Relais__AuditReply *r);

/* rl_render_state: "READY", "NOT_READY", ... without the enum prefix. */
const char *rl_render_state(Relais__AgentState s);

/* rl_render_duration writes "12s", "3m05s", "2h01m" into buf. */
const char *rl_render_duration(char *buf, size_t len, unsigned long long ms);

#endif
