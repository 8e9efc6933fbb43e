/*
 * tui.h - the agent's terminal screen: state, link, the offered or current contact with
 * its screen-pop, countdowns, and one-key actions. Keys arrive through the loop (posted
 * by a stdin reader thread), so the screen and the session share one thread.
 */
#ifndef RL_TUI_H
#define RL_TUI_H

#include "agent.h"

/* rl_tui_start puts the terminal in raw mode and starts the key reader (posts tag). */
int rl_tui_start(struct rl_loop *loop, int tag);

/* rl_tui_set_targets sets the transfer menu from "queue,+number,..." (9 at most; a target
 * starting with + or a digit is an external number). RL_EINVAL. */
int rl_tui_set_targets(const char *list);

/* rl_tui_key applies one key; returns 1 when the person asked to quit. */
int rl_tui_key(struct rl_agent_sess *a, int key);

/* rl_tui_draw redraws the screen. A disposition or transfer menu whose call has moved on
 * (another state or contact) is closed first, as a key would find it. */
void rl_tui_draw(const struct rl_agent_sess *a, const char *url);

/* rl_tui_stop restores the terminal. */
void rl_tui_stop(void);

#endif
