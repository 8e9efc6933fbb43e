/*
 * monitor.h - the site's end of a supervisor's leg on one of its calls (listen, whisper,
 * barge; docs/supervision.md).
 *
 * The hub sends a MonitorLeg when a supervisor joins one of the site's connected calls,
 * changes mode or leaves (mode OFF), and when the call ends. The node hangs the leg on the
 * contact's media call, which mixes it where the call's audio already is (lib/voice/rl_mix.c):
 * its socket of its own sends to the hub's relay, where it proves itself like a home agent.
 */
#ifndef RL_NODE_MONITOR_H
#define RL_NODE_MONITOR_H

#include "relais.pb-c.h"

struct rl_media;

/* rl_node_monitor applies ml to the media engine m (NULL: the site carries no audio, ignored).
 * A leg for a call the engine does not carry is refused (logged): the hub's next update for
 * the call tells the truth. */
void rl_node_monitor(struct rl_media *m, const Relais__MonitorLeg *ml);

/* rl_node_monitor_drop takes every supervisor's leg off the calls of m (NULL: none), when the
 * link to the hub comes back: the hub may have ended some meanwhile, and it sends those still
 * on again after the calls' updates that answer our registration. */
void rl_node_monitor_drop(struct rl_media *m);

#endif
