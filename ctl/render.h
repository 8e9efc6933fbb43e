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

/* rl_render_state: "READY", "NOT_READY", ... without the enum prefix. */
const char *rl_render_state(Relais__AgentState s);

/* rl_render_duration writes "12s", "3m05s", "2h01m" into buf. */
const char *rl_render_duration(char *buf, size_t len, unsigned long long ms);

#endif
