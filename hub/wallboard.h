/*
 * wallboard.h - the web wallboard, engine side (wallboard.c): tickets for operators, and the
 * live state rendered as JSON for each scope browsers watch, handed to the serving side
 * (wallserve.h). docs/supervision.md shows what the page shows.
 */
#ifndef RL_HUB_WALLBOARD_H
#define RL_HUB_WALLBOARD_H

#include <stdint.h>

#include "engine.h"
#include "wallserve.h"

/* rl_engine_set_wallboard: w serves the wallboard (borrowed; NULL: none) at page_url, the
 * address printed for operators ("https://host:port/"), rendering a changed model at most
 * every interval_ms (RL_WALLBOARD_MIN_MS .. RL_WALLBOARD_MAX_MS). */
void rl_engine_set_wallboard(struct rl_engine *e, struct rl_wallserve *w, const char *page_url, unsigned interval_ms);

/* rl_engine_wallboard notes whether the model changed in the last batch and, at most every
 * interval_ms when it did (every RL_WALLBOARD_MAX_MS in any case), renders each
 * watched scope and publishes it. Engine thread, after a batch's commit (its replies are not
 * held up by a rendering); mono_us: a monotonic clock. */
#define RL_WALLBOARD_TICKET_S 60 /* a ticket is good this long, once */
#define RL_WALLBOARD_MIN_MS   250
#define RL_WALLBOARD_MAX_MS   1000
void rl_engine_wallboard(struct rl_engine *e, uint64_t mono_us);

/* rl_engine_wallboard_work: renderings made so far and the engine thread's CPU time they
 * took, handing them over included (us). */
void rl_engine_wallboard_work(const struct rl_engine *e, uint64_t *renders, uint64_t *us);

/* rl_wallboard_render: the JSON body for scope (caller frees). Engine thread. */
char *rl_wallboard_render(struct rl_engine *e, uint64_t scope);

#endif
