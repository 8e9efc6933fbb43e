/*
 * media.c - the hub's part of the voice path: a connected call's media plan (plan.c; made on
 * first use, released when the call ends), the quality both ends report, and the calls that
 * ended recently, which `relaisctl status calls` still shows with their quality.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_time.h"

#define RL_NO_MEDIA_LOG_US 1000000u /* "no media path": at most one line a second */

/* rl_no_media_say logs that contact c has no media path - once a second at most, with the
 * number of contacts left unsaid since: a hub without a relay whose sites give no media
 * address (a misconfiguration, or a load test) would otherwise write a line per contact. */
static void rl_no_media_say(struct rl_engine *e, const struct rl_contact *c, int rv)
{
	uint64_t now = rl_mono_us();

	if (e->no_media_said_us != 0 && now - e->no_media_said_us < RL_NO_MEDIA_LOG_US) {
		e->no_media_unsaid++;
		return;
	}
	rl_log(RL_LOG_WARNING, "no media path contact=%s agent=%s err=\"%s\" unsaid=%llu", c->id, c->agent->id,
	       rl_strerror(rv), (unsigned long long)e->no_media_unsaid);
	e->no_media_said_us = now;
	e->no_media_unsaid = 0;
}

struct rl_plan *rl_plan_ensure(struct rl_engine *e, struct rl_contact *c)
{
	struct rl_agent *a = c->agent;
	struct rl_plan_where w = {0};
	int rv;

	if (c->plan != NULL)
		return c->plan;
	if (c->rec->state != RELAIS__CONTACT_STATE__CONTACT_CONNECTED || a == NULL)
		return NULL;
	w.site_media = c->site >= 0 ? e->sites[c->site].media_addr : "";
	w.seated_here = a->site >= 0 && a->site == c->site;
	w.relay = e->relay;
	w.relay_id = ++e->relay_seq;
	w.suite = e->suite;
	w.epoch = ++e->plan_epoch;
	if ((rv = rl_plan_new(&c->plan, &w)) != RL_OK) {
		/* Asked again at every push for this call: said once. */
		if (!c->no_media_logged)
			rl_no_media_say(e, c, rv);
		c->no_media_logged = 1;
		return NULL;
	}
	rl_log(RL_LOG_INFO, "call media contact=%s agent=%s relayed=%d", c->id, a->id, c->plan->relay_id != 0);
	return c->plan;
}

static struct rl_recent *rl_recent_find(struct rl_engine *e, const char *id)
{
	for (unsigned i = 0; i < RL_RECENT_CALLS; i++)
		if (e->recent[i].id[0] && strcmp(e->recent[i].id, id) == 0)
			return &e->recent[i];
	return NULL;
}

/* rl_call_finish keeps an ending call's quality in its record and the recent list, and
 * releases its relay call. */
void rl_call_finish(struct rl_engine *e, struct rl_contact *c)
{
	struct rl_plan *pl = c->plan;
	struct rl_recent *r = &e->recent[e->nrecent++ % RL_RECENT_CALLS];

	rl_monitor_call_end(e, c);
	c->rec->relayed = pl->relay_id != 0;
	if (c->rec->quality_site == NULL)
		c->rec->quality_site = rl_quality_dup(&pl->quality, RL_SIDE_SITE);
	if (c->rec->quality_agent == NULL)
		c->rec->quality_agent = rl_quality_dup(&pl->quality, RL_SIDE_AGENT);
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", c->id);
	snprintf(r->agent, sizeof(r->agent), "%s", c->rec->agent_id ? c->rec->agent_id : "");
	snprintf(r->site, sizeof(r->site), "%s", c->rec->site_id ? c->rec->site_id : "");
	r->tenant = e->queues[c->queue].tenant;
	r->relayed = pl->relay_id != 0;
	r->answered_us = c->rec->answered_us;
	r->ended_us = e->now;
	r->quality = pl->quality;
	rl_plan_free(pl, e->relay);
	c->plan = NULL;
	rl_dirty_contact(e, c);
}

/* rl_quality_ended keeps a report about a call that has ended (the final one, usually) in
 * the recent list and the call's record. */
static void rl_quality_ended(struct rl_engine *e, struct rl_recent *rc, int side, const Relais__CallQuality *q)
{
	struct rl_contact *c;
	Relais__ContactRecord *rec;
	Relais__CallQuality **slot;

	rl_quality_keep(&rc->quality, side, q);
	if (rl_contact_get(e, rc->id, &c, &rec) != RL_OK)
		return;
	slot = side == RL_SIDE_SITE ? &rec->quality_site : &rec->quality_agent;
	if (*slot != NULL)
		relais__call_quality__free_unpacked(*slot, NULL);
	*slot = rl_quality_dup(&rc->quality, side);
	rl_contact_put(e, c, rec);
}

/* A quality report from a site (for its own contact) or an agent (for its own call); not
 * acknowledged: the next report supersedes it. */
void rl_h_quality(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__CallQuality *q = env->call_quality;
	const char *cid = q->contact_id ? q->contact_id : "";
	struct rl_contact *c = rl_contact_find(e, cid);
	struct rl_recent *rc = c ? NULL : rl_recent_find(e, cid);
	struct rl_agent *a;
	int side;

	if (r->who == RL_WHO_AGENT) {
		if (env->session == 0 || (a = rl_session_agent(e, r)) == NULL)
			return;
		side = RL_SIDE_AGENT;
		if ((c && c->agent != a) || (rc && strcmp(rc->agent, a->id) != 0))
			return;
	} else {
		side = RL_SIDE_SITE;
		if (r->peer->site < 0 || (c && c->site != r->peer->site) ||
		    (rc && strcmp(rc->site, e->sites[r->peer->site].id) != 0))
			return;
	}
	if (c != NULL && c->plan != NULL)
		rl_quality_keep(&c->plan->quality, side, q);
	else if (c == NULL && rc != NULL)
		rl_quality_ended(e, rc, side, q);
}
