/*
 * site.c - site nodes: their links coming and going, and registration (capacity, health,
 * media address, and the contacts the node still holds, reconciled with the hub's).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "rl_err.h"
#include "rl_log.h"
#include "store.h"

/* rl_site_event logs a change of site's link or registration. */
static void rl_site_event(struct rl_engine *e, int site, const char *detail)
{
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;

	ev.ts_us = e->now;
	ev.type = RELAIS__EVENT_TYPE__EV_SITE_STATE;
	ev.site_id = e->sites[site].id;
	ev.detail = (char *)detail;
	rl_event_emit(e, -1, &ev);
}

void rl_site_link(struct rl_engine *e, int site, uint32_t pipe)
{
	/* A node says Hello again on the same pipe when its first one crossed ours: one "up"
	 * per pipe in the log. */
	if (e->sites[site].pipe != pipe)
		rl_log(RL_LOG_NOTICE, "site link up site=%s pipe=%u", e->sites[site].id, pipe);
	e->sites[site].pipe = pipe;
}

void rl_site_link_down(struct rl_engine *e, int site, uint32_t pipe)
{
	if (e->sites[site].pipe != pipe)
		return; /* an older link of the site: it has a newer one */
	e->sites[site].pipe = 0;
	rl_log(RL_LOG_WARNING, "site link down site=%s", e->sites[site].id);
	rl_site_event(e, site, "link down");
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

void rl_h_site_register(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__SiteRegister *sr = env->site_register;
	int site = r->peer->site;
	struct rl_site *s = &e->sites[site];

	s->capacity = sr->capacity;
	s->health = sr->health > 100 ? 100 : sr->health;
	snprintf(s->media_addr, sizeof(s->media_addr), "%s", sr->media_addr ? sr->media_addr : "");
	for (size_t i = 0; i < sr->n_live; i++)
		if (rl_contact_find(e, sr->live[i]) == NULL)
			rl_site_held(e, site, sr->live[i]);
	/* A (re)registered site hears the state of every live contact it owns: what changed
	 * while its link was down, and fresh media plans after a hub restart. */
	for (size_t i = 0; i < e->contact_by_id.cap; i++) {
		struct rl_contact *c = e->contact_by_id.ents[i].val;
		if (c != NULL && c->site == site && c->rec->state != RELAIS__CONTACT_STATE__CONTACT_QUEUED)
			rl_push_update(e, c);
	}
	rl_site_event(e, site, "registered");
	rl_reply_ok(e, r);
}
