/*
 * site.c - site nodes: their links, their liveness, their registration.
 *
 * A site is up while its proven node is heard: any frame counts, and a node heartbeats
 * several times a second. Silent for site_dead_ms (a frozen process, a cut link, a dead
 * host - not only a closed pipe), the site is lost:
 *   - its waiting contacts are suspended (kept at their place, offered to nobody: their
 *     callers' audio is at that node), and an offer of one of them is withdrawn;
 *   - offers ringing at its seated agents are withdrawn without penalty (those agents are
 *     unreachable through their node until they re-home);
 *   - calls in progress are left alone: a partitioned node still carries them;
 *   - queues whose tier-0 sites are all lost overflow at once (route.c).
 * The node that registers again tells which it is: the same boot (a freeze, a partition)
 * resumes the suspended contacts; a new boot (a restart) ends every contact of the earlier
 * boot at once as FAILED "site lost" - never resumed with fresh media - and frees their
 * agents (ringing: ready; talking: wrap-up). A site that cannot serve alone and stays lost
 * for site_lost_end_s has its waiting contacts ended the same way (its calls in progress end
 * when their agents hang up, or with the node's next boot). docs/failover.md has the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "router.h"
#include "store.h"

/* rl_site_event logs a change of site's link or state. */
void rl_site_event(struct rl_engine *e, int site, const char *detail)
{
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;

	ev.ts_us = e->now;
	ev.type = RELAIS__EVENT_TYPE__EV_SITE_STATE;
	ev.site_id = e->sites[site].id;
	ev.detail = (char *)detail;
	rl_event_emit(e, -1, &ev);
}

int rl_site_route(struct rl_engine *e, int site)
{
	if (site < 0 || e->sites[site].failover == -1)
		return site;
	return e->sites[site].failover == RL_FAILOVER_HOME ? -1 : e->sites[site].failover;
}

int rl_site_serving(const struct rl_engine *e, int site)
{
	const struct rl_site *s = &e->sites[site];

	return s->pipe != 0 && !s->lost && s->drain_pct < 100 && s->failover == -1;
}

/* rl_site_retier routes agent a as route_site's, with what that site covers now. */
static void rl_site_retier(struct rl_engine *e, struct rl_agent *a, int route_site)
{
	int ready = a->rec->state == RELAIS__AGENT_STATE__AGENT_READY && a->reachable;

	if (ready)
		rl_router_unready(e->queues, e->nqueues, a);
	a->route_site = route_site;
	rl_agent_tiers(e, a);
	if (ready)
		rl_router_ready(e->queues, e->nqueues, a);
}

static void rl_site_dirty_queues(struct rl_engine *e, uint64_t sites)
{
	for (int q = 0; q < e->nqueues; q++)
		if (e->queues[q].sites & sites)
			e->queues[q].dirty = 1;
}

/* rl_site_can_cover: site's agents can take another site's calls (its node is heard and it
 * is not failed over itself; a drain stops new carrier calls only, not its agents). */
static int rl_site_can_cover(const struct rl_engine *e, int site)
{
	const struct rl_site *s = &e->sites[site];

	return s->pipe != 0 && !s->lost && s->failover == -1;
}

/* rl_site_covers gives each gone site's calls to its first backup that can take them, and
 * routes the agents of each site whose share changed anew. */
static void rl_site_covers(struct rl_engine *e)
{
	uint64_t covers[RL_MAX_SITES] = {0};

	for (int i = 0; i < e->nsites; i++) {
		struct rl_site *s = &e->sites[i];
		s->covered_by = -1;
		for (int k = 0; (e->gone_sites >> i & 1) && k < s->nbackup && s->covered_by < 0; k++)
			if (rl_site_can_cover(e, s->backup[k]))
				s->covered_by = s->backup[k];
		if (s->covered_by >= 0)
			covers[s->covered_by] |= 1ULL << i;
	}
	for (int b = 0; b < e->nsites; b++) {
		uint64_t was = e->sites[b].covers;
		if (covers[b] == was)
			continue;
		e->sites[b].covers = covers[b];
		rl_log(RL_LOG_NOTICE, "site %s takes the calls of %d gone site(s) now (was %d)", e->sites[b].id,
		       __builtin_popcountll(covers[b]), __builtin_popcountll(was));
		for (int i = 0; i < e->nagents; i++)
			if (e->agents[i]->route_site == b)
				rl_site_retier(e, e->agents[i], b);
		rl_site_dirty_queues(e, was | covers[b]);
	}
}

/* rl_site_gone keeps the engine's mask of sites whose queues overflow at once, and who
 * backs them up. */
static void rl_site_gone(struct rl_engine *e, int site)
{
	const struct rl_site *s = &e->sites[site];
	uint64_t bit = 1ULL << site;

	e->gone_sites = (s->lost || s->failover != -1) ? e->gone_sites | bit : e->gone_sites & ~bit;
	rl_site_dirty_queues(e, bit);
	rl_site_covers(e);
}

void rl_site_state(struct rl_engine *e, int site, Relais__SiteState *st)
{
	const struct rl_site *s = &e->sites[site];

	relais__site_state__init(st);
	st->site_id = (char *)s->id;
	st->name = (char *)s->name;
	st->up = s->pipe != 0 && !s->lost;
	st->survivable = s->survivable;
	st->drain_pct = s->drain_pct;
	st->failed_over_to = (char *)(s->failover == -1                 ? ""
	                              : s->failover == RL_FAILOVER_HOME ? "home"
	                                                                : e->sites[s->failover].id);
	st->by = (char *)s->by;
	st->reason = (char *)s->reason;
	st->since_us = s->since_us;
	st->command_seq = s->cmd_seq;
	st->covered_by = (char *)(s->covered_by >= 0 ? e->sites[s->covered_by].id : "");
}

/* rl_site_tell_agent pushes the state of a's site to a (a seated agent). */
void rl_site_tell_agent(struct rl_engine *e, struct rl_agent *a)
{
	Relais__SiteState st;
	rl_env env;

	rl_site_state(e, a->site, &st);
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_STATE;
	env.site_state = &st;
	rl_push_to_agent(e, a, &env);
}

/* rl_site_tell pushes the site's state to its seated agents that can be reached (those who
 * re-homed to the hub, when the site is lost). */
void rl_site_tell(struct rl_engine *e, int site)
{
	for (int i = 0; i < e->nagents; i++)
		if (e->agents[i]->site == site && e->agents[i]->bound)
			rl_site_tell_agent(e, e->agents[i]);
}

/* rl_site_reroute: the site's seated agents are routed as its failover says (noc.c). */
void rl_site_reroute(struct rl_engine *e, int site)
{
	for (int i = 0; i < e->nagents; i++)
		if (e->agents[i]->site == site)
			rl_site_retier(e, e->agents[i], rl_site_route(e, site));
	rl_site_gone(e, site);
	rl_site_tell(e, site);
}

/* rl_site_lost: the site's node is silent or gone (see the top of this file); pipe is the
 * link its seated agents were reached through (a closed one is no longer the site's). */
static void rl_site_lost(struct rl_engine *e, int site, uint32_t pipe, const char *why)
{
	struct rl_site *s = &e->sites[site];

	s->lost = 1;
	s->lost_us = e->now;
	s->ended_waiting = 0;
	rl_log(RL_LOG_WARNING, "site lost site=%s why=\"%s\" silent_ms=%llu survivable=%d", s->id, why,
	       (unsigned long long)((e->now - s->heard_us) / 1000u), s->survivable);
	rl_site_event(e, site, "lost");
	for (int i = 0; i < e->nagents; i++) {
		struct rl_agent *a = e->agents[i];
		if (a->site != site || !a->bound || a->pipe != pipe)
			continue;
		rl_agent_reach(e, a, 0);
		if (a->contact != NULL && a->rec->state == RELAIS__AGENT_STATE__AGENT_RESERVED) {
			rl_contact_to(e, a->contact, RL_C_REQUEUED, 0);
			rl_agent_after_contact(e, a);
		}
	}
	for (size_t i = 0; i < e->contact_by_id.cap; i++) {
		struct rl_contact *c = e->contact_by_id.ents[i].val;
		struct rl_agent *a = c ? c->agent : NULL;
		if (c == NULL || c->site != site || c->rec->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED)
			continue;
		rl_contact_to(e, c, RL_C_SUSPENDED, 0);
		rl_contact_lost(e, c);
		if (a != NULL) {
			rl_agent_after_contact(e, a);
			rl_push_status(e, a, NULL);
		}
	}
	rl_site_gone(e, site);
	rl_site_tell(e, site);
}

/* rl_site_back: the lost site's node is heard again (same boot: a freeze or a partition). */
static void rl_site_back(struct rl_engine *e, int site)
{
	struct rl_site *s = &e->sites[site];

	s->lost = 0;
	rl_log(RL_LOG_NOTICE, "site back site=%s lost_ms=%llu", s->id,
	       (unsigned long long)((e->now - s->lost_us) / 1000u));
	rl_site_event(e, site, "back");
	for (size_t i = 0; i < e->contact_by_id.cap; i++) {
		struct rl_contact *c = e->contact_by_id.ents[i].val;
		if (c != NULL && c->site == site && c->rec->suspended) {
			rl_contact_to(e, c, RL_C_RESUMED, 0);
			rl_contact_found(e, c);
		}
	}
	rl_site_gone(e, site);
	rl_site_tell(e, site);
}

/* rl_site_end_all ends the site's live contacts of another boot than keep (keep 0: of any
 * boot, but not the calls in progress: a node cut off from the hub may still carry them). */
static void rl_site_end_all(struct rl_engine *e, int site, uint64_t keep, const char *why)
{
	struct rl_contact **v = rl_calloc(e->contact_by_id.len + 1, sizeof(*v));
	size_t n = 0;

	/* Collected first: ending a contact takes it out of the table being walked. */
	for (size_t i = 0; i < e->contact_by_id.cap; i++) {
		struct rl_contact *c = e->contact_by_id.ents[i].val;
		if (c == NULL || c->site != site)
			continue;
		if (keep != 0 ? c->rec->site_boot != 0 && c->rec->site_boot != keep
		              : c->rec->state != RELAIS__CONTACT_STATE__CONTACT_CONNECTED)
			v[n++] = c;
	}
	for (size_t i = 0; i < n; i++) {
		rl_contact_lost(e, v[i]);
		rl_contact_close(e, v[i], 1, why);
	}
	free(v);
}

void rl_site_heard(struct rl_engine *e, int site)
{
	e->sites[site].heard_us = e->now;
	/* Back only once registered on this link: until then its boot is not known (a new
	 * boot ends the earlier boot's contacts; it must not stamp new ones with the old). */
	if (e->sites[site].lost && e->sites[site].pipe != 0 && e->sites[site].reg_pipe == e->sites[site].pipe)
		rl_site_back(e, site);
}

void rl_site_tick(struct rl_engine *e)
{
	for (int i = 0; i < e->nsites; i++) {
		struct rl_site *s = &e->sites[i];
		if (s->pipe != 0 && !s->lost && e->now - s->heard_us > (uint64_t)e->conf.site_dead_ms * 1000u)
			rl_site_lost(e, i, s->pipe, "no heartbeat");
		if (s->lost && !s->survivable && s->contacts && !s->ended_waiting &&
		    e->now - s->lost_us > (uint64_t)e->conf.site_lost_end_s * 1000000u) {
			rl_site_end_all(e, i, 0, "site lost");
			s->ended_waiting = 1;
		}
	}
}

void rl_site_link(struct rl_engine *e, int site, uint32_t pipe)
{
	/* A node says Hello again on the same pipe when its first one crossed ours: one "up"
	 * per pipe in the log. */
	if (e->sites[site].pipe != pipe)
		rl_log(RL_LOG_NOTICE, "site link up site=%s pipe=%u", e->sites[site].id, pipe);
	e->sites[site].pipe = pipe;
	e->sites[site].reg_pipe = 0; /* its node registers again on each Hello */
	e->sites[site].heard_us = e->now;
}

void rl_site_link_down(struct rl_engine *e, int site, uint32_t pipe)
{
	if (e->sites[site].pipe != pipe)
		return; /* an older link of the site: it has a newer one */
	e->sites[site].pipe = 0;
	e->sites[site].reg_pipe = 0;
	rl_log(RL_LOG_WARNING, "site link down site=%s", e->sites[site].id);
	rl_site_event(e, site, "link down");
	if (!e->sites[site].lost)
		rl_site_lost(e, site, pipe, "link closed");
}

/* rl_site_held: the node still holds contact id, which is not live here. It hears again how
 * it ended (a push lost while its link was down; its caller may still be on the line), or
 * that the hub does not know it (never acknowledged, or the store lost it): over. */
static void rl_site_held(struct rl_engine *e, int site, const char *id)
{
	struct rl_contact *c;
	Relais__ContactRecord *rec;

	if (rl_contact_get(e, id, &c, &rec) != RL_OK) {
		rl_push_gone(e, site, id);
		return;
	}
	if (c == NULL && rec->site_id && strcmp(rec->site_id, e->sites[site].id) == 0)
		rl_push_update_rec(e, site, rec); /* (ended in this batch: the site was told already) */
	rl_contact_drop(c, rec);
}

/* rl_site_boot: a node registers with boot boot. Contacts of an earlier boot died with it. */
static void rl_site_boot(struct rl_engine *e, int site, uint64_t boot)
{
	struct rl_site *s = &e->sites[site];

	if (boot == 0 || boot == s->boot_id)
		return;
	if (s->boot_id != 0 || s->contacts) {
		rl_log(RL_LOG_NOTICE, "site restarted site=%s: its contacts of the earlier boot end", s->id);
		rl_site_end_all(e, site, boot, "site lost");
	}
	s->boot_id = boot;
}

/* rl_site_drained_here reconciles a registering node's drain with the hub's: a node that has
 * not applied the hub's last command is told it (the hub's word is the newer one, even after
 * a partition); one that has, and drains otherwise, was drained by a tool at the site (an
 * operator there while the hub was out of reach): the hub takes that on, and audits it. */
static void rl_site_drained_here(struct rl_engine *e, int site, const Relais__SiteRegister *sr)
{
	struct rl_site *s = &e->sites[site];

	if (sr->command_seq < s->cmd_seq) {
		rl_noc_push_drain(e, site);
	} else if (sr->drain_pct != s->drain_pct) {
		char detail[64];
		s->drain_pct = sr->drain_pct > 100 ? 100 : sr->drain_pct;
		snprintf(s->by, sizeof(s->by), "(at the site)");
		snprintf(s->reason, sizeof(s->reason), "drained at the site");
		s->since_us = e->now;
		snprintf(detail, sizeof(detail), "drain %u%% at the site", s->drain_pct);
		rl_site_event(e, site, detail);
		rl_log(RL_LOG_NOTICE, "site drained by a tool at the site site=%s percent=%u", s->id, s->drain_pct);
	}
}

void rl_h_site_register(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__SiteRegister *sr = env->site_register;
	int site = r->peer->site;
	struct rl_site *s = &e->sites[site];

	s->capacity = sr->capacity;
	s->health = sr->health > 100 ? 100 : sr->health;
	s->survivable = sr->survivable;
	if (sr->journal_parts > 0 && !s->held && !rl_journal_in(e, site, sr->journal_id, sr->journal_parts)) {
		/* It served alone: its agents wait for what it hands over (survive.c). */
		s->held = 1;
		for (int i = 0; i < e->nagents; i++)
			if (e->agents[i]->site == site)
				rl_agent_reach(e, e->agents[i], 0);
	}
	snprintf(s->media_addr, sizeof(s->media_addr), "%s", sr->media_addr ? sr->media_addr : "");
	rl_site_boot(e, site, sr->boot_id);
	s->reg_pipe = s->pipe;
	if (s->lost)
		rl_site_back(e, site);
	/* Contacts it took alone are news to the hub until the journal that follows brings them:
	 * not to be told they are over. */
	for (size_t i = 0; i < sr->n_live && !s->held; i++)
		if (rl_contact_find(e, sr->live[i]) == NULL)
			rl_site_held(e, site, sr->live[i]);
	/* A (re)registered site hears the state of every live contact it owns: what changed
	 * while its link was down, and fresh media plans after a hub restart. */
	for (size_t i = 0; i < e->contact_by_id.cap; i++) {
		struct rl_contact *c = e->contact_by_id.ents[i].val;
		if (c != NULL && c->site == site && c->rec->state != RELAIS__CONTACT_STATE__CONTACT_QUEUED)
			rl_push_update(e, c);
	}
	rl_site_drained_here(e, site, sr);
	rl_site_covers(e); /* a backup that had no node may take its share now */
	rl_site_event(e, site, "registered");
	rl_reply_ok(e, r);
	rl_dialplan_push(e, site);
}
