/*
 * monitor.c - the site's end of a supervisor's leg (monitor.h).
 */
#include "monitor.h"

#include <stdio.h>

#include "rl_err.h"
#include "rl_log.h"
#include "rl_media.h"
#include "rl_media_pb.h"

/* rl_mix_of: the engine's mode for the wire's (OFF: 0). */
static int rl_mix_of(Relais__MonitorMode mode)
{
	switch (mode) {
	case RELAIS__MONITOR_MODE__MONITOR_LISTEN:
		return RL_MIX_LISTEN;
	case RELAIS__MONITOR_MODE__MONITOR_WHISPER:
		return RL_MIX_WHISPER;
	case RELAIS__MONITOR_MODE__MONITOR_BARGE:
		return RL_MIX_BARGE;
	default:
		return 0;
	}
}

void rl_node_monitor(struct rl_media *m, const Relais__MonitorLeg *ml)
{
	const char *id = ml->contact_id ? ml->contact_id : "";
	struct rl_media_quality q;
	struct rl_media_leg leg;
	int rv;

	if (m == NULL)
		return;
	if (rl_mix_of(ml->mode) == 0) {
		if (rl_media_unmonitor(m, id, &q) == RL_OK)
			rl_log(RL_LOG_NOTICE, "monitor end contact=%s frames=%llu rx=%llu lost=%lld mos=%.2f", id,
			       (unsigned long long)q.frames, (unsigned long long)q.rx_packets, (long long)q.lost,
			       q.mos);
		return;
	}
	if (ml->media == NULL || rl_media_leg_from_pb(&leg, ml->media) != RL_OK) {
		rl_log(RL_LOG_WARNING, "monitor leg refused contact=%s: no valid media plan", id);
		return;
	}
	snprintf(leg.id, sizeof(leg.id), "%s", id);
	if ((rv = rl_media_monitor(m, id, &leg, rl_mix_of(ml->mode))) != RL_OK)
		rl_log(RL_LOG_WARNING, "monitor leg refused contact=%s err=\"%s\"", id, rl_strerror(rv));
	else
		rl_log(RL_LOG_NOTICE, "monitor contact=%s mode=%d peer=%s", id, (int)ml->mode, leg.peer);
}

void rl_node_monitor_drop(struct rl_media *m)
{
	unsigned n = m != NULL ? rl_media_unmonitor_all(m) : 0;

	if (n > 0)
		rl_log(RL_LOG_INFO, "monitor legs dropped n=%u: the hub sends those still on again", n);
}
