/*
 * dialplan.h - the dial plan a node answers calls with (rl_dialplan.h): its own config's, or
 * the hub's. The hub's replaces any other as soon as it arrives (the plan is provisioned once,
 * at the hub), and is saved under state_dir so that a node starting while the hub is out of
 * reach still knows its numbers. Calls keep the plan they started with (a reference); new
 * calls take the one in force. Used on the node's loop only.
 */
#ifndef RL_NODE_DIALPLAN_H
#define RL_NODE_DIALPLAN_H

#include "rl_dialplan.h"

struct rl_node_plan;

/* rl_node_plan_open keeps local (the node config's plan, taken; NULL = none). Without one, the
 * copy saved in state_dir (NULL or "" = none) is read. prompt_dir: where the hub plan's prompt
 * names are. Never fails: a node without a plan refuses carrier calls until it has one. */
struct rl_node_plan *rl_node_plan_open(struct rl_dialplan *local, const char *prompt_dir, const char *state_dir);

/* rl_node_plan_get returns the plan in force (borrowed: take a reference to keep it), or NULL. */
struct rl_dialplan *rl_node_plan_get(const struct rl_node_plan *np);

/* rl_node_plan_hub takes the hub's plan unless it is the one in force already, and saves it.
 * A plan that fails its checks is refused whole and logged; the one in force stays. Returns
 * RL_OK (taken or the same), RL_EPROTO (refused). */
int rl_node_plan_hub(struct rl_node_plan *np, const Relais__DialPlan *m);

void rl_node_plan_close(struct rl_node_plan *np);

#endif
