/*
 * survive.c - survivable sites (docs/failover.md): what the hub gives their nodes so that
 * each can serve its carrier calls alone while the hub is lost, and what it takes back.
 *
 * The model: for each site, the directory its node's own engine needs - tenants, sites,
 * queues, and the agents seated there without their secrets - as libconfig text, which the
 * node asks for part by part (SiteModel) after it registers.
 *
 * The journal: when the hub is back, the node hands over part by part (SiteJournal) what its
 * engine did meanwhile: every contact as it holds it now, its events, and, last, its agents'
 * states. The hub takes it as the truth of that period: a contact it knew (submitted before
 * the loss, by id or by the submitter's ext id) becomes what the node says, a new one is
 * added under the node's id, the events are logged and folded into the KPIs as they
 * happened. Until the last part the site's seated agents get no offer (its SiteRegister says
 * a journal follows); from it on the hub is the authority again. A part sent twice is
 * applied once (the journals table of the store).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rl_alloc.h"
#include "rl_config.h"
#include "rl_err.h"
#include "rl_log.h"
#include "router.h"
#include "store.h"

#define RL_MODEL_PART   (48 * 1024) /* model bytes per SiteModel frame */
#define RL_JOURNAL_ROWS 2000        /* contacts, events or agents in one part, at most */

/* ---------------------------------------------------------------------------------------- */
/* the model */

static uint64_t rl_model_hash(const char *text, size_t len)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)text[i]) * 1099511628211ull;
	return h ? h : 1;
}

/* rl_model_text: the directory site's engine needs, from the hub's config. */
static char *rl_model_text(const config_t *cfg, const char *site, size_t *len)
{
	static const char *const whole[] = {"tenants", "sites", "queues"};
	static const char *const skip[] = {"secret_hash", NULL};
	const config_setting_t *al = config_lookup(cfg, "agents");
	config_setting_t *root, *agents;
	config_t m;
	char *text;

	config_init(&m);
	root = config_root_setting(&m);
	for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++)
		if (config_lookup(cfg, whole[i]) != NULL)
			rl_cfg_copy(root, config_lookup(cfg, whole[i]), skip);
	agents = config_setting_add(root, "agents", CONFIG_TYPE_LIST);
	for (int i = 0; al != NULL && i < config_setting_length(al); i++) {
		const config_setting_t *a = config_setting_get_elem(al, (unsigned)i);
		const char *at = NULL;
		if (config_setting_lookup_string(a, "site", &at) && strcmp(at, site) == 0)
			rl_cfg_copy(agents, a, skip);
	}
	text = rl_cfg_text(&m, len);
	config_destroy(&m);
	return text;
}

int rl_survive_provision(struct rl_engine *e, const config_t *cfg)
{
	for (int i = 0; i < e->nsites; i++) {
		struct rl_site *s = &e->sites[i];
		if ((s->model = rl_model_text(cfg, s->id, &s->model_len)) == NULL)
			return RL_ENOMEM;
		s->model_version = rl_model_hash(s->model, s->model_len);
	}
	return RL_OK;
}

/* A survivable node asks for its model, a part at a time (the first tells how many). */
void rl_h_site_model(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const struct rl_site *s = &e->sites[r->peer->site];
	Relais__SiteModel m = RELAIS__SITE_MODEL__INIT;
	size_t parts = (s->model_len + RL_MODEL_PART - 1) / RL_MODEL_PART, at;
	rl_env out;

	if (env->site_model->part >= (parts ? parts : 1)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "no such part of the model", 0);
		return;
	}
	at = (size_t)env->site_model->part * RL_MODEL_PART;
	m.version = s->model_version;
	m.part = env->site_model->part;
	m.parts = (uint32_t)parts;
	m.text.data = (uint8_t *)s->model + at;
	m.text.len = s->model_len - at < RL_MODEL_PART ? s->model_len - at : RL_MODEL_PART;
	rl_env_init(&out);
	out.body_case = RELAIS__ENVELOPE__BODY_SITE_MODEL;
	out.site_model = &m;
	rl_reply(e, r, &out);
}

/* ---------------------------------------------------------------------------------------- */
/* the journal */

/* rl_journal_contact_ok: j may be taken from site's node: its own contact, well formed. */
static int rl_journal_contact_ok(struct rl_engine *e, int site, const Relais__ContactRecord *j)
{
	int ti = j->tenant_id ? rl_tenant_idx(e, j->tenant_id) : -1,
	    qi = j->queue_id ? rl_queue_idx(e, j->queue_id) : -1;
	struct rl_agent *a = j->agent_id && j->agent_id[0] ? rl_agent_find(e, j->agent_id) : NULL;

	return rl_wire_id_ok(j->contact_id) && (!j->ext_id || !j->ext_id[0] || rl_wire_id_ok(j->ext_id)) && ti >= 0 &&
	       qi >= 0 && e->queues[qi].tenant == ti && j->site_id && strcmp(j->site_id, e->sites[site].id) == 0 &&
	       j->state >= RELAIS__CONTACT_STATE__CONTACT_QUEUED && j->state <= RELAIS__CONTACT_STATE__CONTACT_ENDED &&
	       (j->state != RELAIS__CONTACT_STATE__CONTACT_CONNECTED || (a != NULL && a->site == site)) &&
	       j->priority <= 9;
}

/* rl_journal_known finds the hub's own record of j: by id, else by the submitter's ext id. */
static int rl_journal_known(struct rl_engine *e, int site, const Relais__ContactRecord *j, struct rl_contact **c,
                            Relais__ContactRecord **rec)
{
	char key[2 * RL_WIRE_MAX_ID + 2], id[RL_WIRE_MAX_ID + 1];

	if (rl_contact_get(e, j->contact_id, c, rec) == RL_OK)
		return 1;
	snprintf(key, sizeof(key), "%s/%s", e->sites[site].id, j->ext_id ? j->ext_id : "");
	return j->ext_id && j->ext_id[0] && rl_store_extid_get(e->store, key, id, sizeof(id)) == RL_OK &&
	       rl_contact_get(e, id, c, rec) == RL_OK;
}

/* rl_journal_freed: an agent the hub had on a contact the node now says otherwise of. One
 * seated at the site gets its state from the journal's last part; another is free again. */
static void rl_journal_freed(struct rl_engine *e, int site, struct rl_agent *a)
{
	if (a == NULL || a->site == site || a->contact != NULL)
		return;
	rl_agent_after_contact(e, a);
	rl_push_status(e, a, NULL);
}

/* The hub's mark of what it counted already of a journal's contact, so that its events from
 * the journal are not counted again: "e" its enqueue (the hub knew it), "a" its answer (the
 * hub had it answered: the site's engine gave the caller to one of its own agents again),
 * "w" its abandonment (counted when the hub took back an answer no caller heard), "*"
 * everything (the hub had ended it, and its end stands against the node's account). */
static void rl_journal_counted_key(const struct rl_engine *e, int site, uint64_t journal_id, const char *contact,
                                   char *key, size_t cap)
{
	snprintf(key, cap, "%s/%016llx/counted/%s", e->sites[site].id, (unsigned long long)journal_id, contact);
}

static void rl_journal_counted(struct rl_engine *e, int site, uint64_t journal_id, const char *contact,
                               const char *what)
{
	char key[2 * RL_WIRE_MAX_ID + 48];

	rl_journal_counted_key(e, site, journal_id, contact, key, sizeof(key));
	rl_store_mark_put(e->store, RL_MARK_JOURNAL, key, what, e->now);
}

/* rl_journal_unheard: the hub answered rec (an agent elsewhere accepted it as the site came
 * back), but the site's engine saw its caller leave before that (j): no caller heard that
 * answer. */
static int rl_journal_unheard(const Relais__ContactRecord *j, const Relais__ContactRecord *rec)
{
	return j->state == RELAIS__CONTACT_STATE__CONTACT_ENDED &&
	       j->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED && j->answered_us == 0 && rec->answered_us != 0;
}

/* rl_journal_known_take: j is a contact the hub knew (c and rec, its own): it becomes what
 * the node says, unless the hub ended it already - then the hub's word stands. Either way an
 * answer of the hub's that no caller heard is taken back. */
static void rl_journal_known_take(struct rl_engine *e, int site, uint64_t journal_id, const Relais__ContactRecord *j,
                                  Relais__ContactRecord *mine, struct rl_contact *c, Relais__ContactRecord *rec)
{
	int unheard = rl_journal_unheard(j, rec);

	if (unheard)
		rl_answer_withdraw(e, rl_queue_idx(e, rec->queue_id ? rec->queue_id : ""), rec);
	if (c != NULL && !c->ended) {
		struct rl_agent *was = c->agent;
		rl_journal_counted(e, site, journal_id, j->contact_id, unheard ? "eaw" : rec->answered_us ? "ea" : "e");
		rl_wire_set_str(&mine->contact_id, c->id);
		rl_contact_take(e, c, mine);
		rl_journal_freed(e, site, was);
	} else {
		rl_journal_counted(e, site, journal_id, j->contact_id, "*");
		if (unheard)
			rl_store_put_contact(e->store, rec, 0);
		relais__contact_record__free_unpacked(mine, NULL);
	}
	rl_contact_drop(c, rec);
}

static void rl_journal_contact(struct rl_engine *e, int site, uint64_t journal_id, const Relais__ContactRecord *j)
{
	struct rl_contact *c;
	Relais__ContactRecord *rec, *mine;
	char key[2 * RL_WIRE_MAX_ID + 2];

	if (!rl_journal_contact_ok(e, site, j)) {
		rl_log(RL_LOG_WARNING, "journal contact refused site=%s contact=%s", e->sites[site].id,
		       j->contact_id ? j->contact_id : "?");
		return;
	}
	mine = rl_wire_record_copy(j);
	mine->state =
	    mine->state == RELAIS__CONTACT_STATE__CONTACT_OFFERED ? RELAIS__CONTACT_STATE__CONTACT_QUEUED : mine->state;
	if (rl_journal_known(e, site, j, &c, &rec)) {
		rl_journal_known_take(e, site, journal_id, j, mine, c, rec);
		return;
	}
	snprintf(key, sizeof(key), "%s/%s", e->sites[site].id, mine->ext_id ? mine->ext_id : "");
	if (mine->ext_id && mine->ext_id[0])
		rl_store_extid_put(e->store, key, mine->contact_id);
	if (mine->state == RELAIS__CONTACT_STATE__CONTACT_ENDED) {
		rl_store_put_contact(e->store, mine, 0);
		relais__contact_record__free_unpacked(mine, NULL);
		return;
	}
	c = rl_contact_adopt(e, mine);
	if (mine->state == RELAIS__CONTACT_STATE__CONTACT_QUEUED) {
		rl_router_push(&e->queues[c->queue], c);
		e->queues[c->queue].dirty = 1;
	}
	rl_dirty_contact(e, c);
}

/* rl_journal_twice: ev is of a contact the hub counted already (see rl_journal_counted). */
static int rl_journal_twice(struct rl_engine *e, int site, uint64_t journal_id, const Relais__EventRecord *ev)
{
	char key[2 * RL_WIRE_MAX_ID + 48], what[4];
	uint64_t at;

	if (!ev->contact_id || !ev->contact_id[0])
		return 0;
	rl_journal_counted_key(e, site, journal_id, ev->contact_id, key, sizeof(key));
	if (rl_store_mark_get(e->store, RL_MARK_JOURNAL, key, what, sizeof(what), &at) != RL_OK)
		return 0;
	return strchr(what, '*') != NULL ||
	       (ev->type == RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED && strchr(what, 'e') != NULL) ||
	       (ev->type == RELAIS__EVENT_TYPE__EV_CONTACT_ACCEPTED && strchr(what, 'a') != NULL) ||
	       (ev->type == RELAIS__EVENT_TYPE__EV_CONTACT_ABANDONED && strchr(what, 'w') != NULL);
}

/* rl_journal_event logs one of the period's events as it happened, if it is the site's and
 * not counted already. */
static void rl_journal_event(struct rl_engine *e, int site, uint64_t journal_id, const Relais__EventRecord *ev)
{
	int qi = ev->queue_id && ev->queue_id[0] ? rl_queue_idx(e, ev->queue_id) : -1;
	Relais__EventRecord x = *ev;

	if ((ev->site_id && ev->site_id[0] && strcmp(ev->site_id, e->sites[site].id) != 0) ||
	    ev->type == RELAIS__EVENT_TYPE__EV_NOC || (ev->queue_id && ev->queue_id[0] && qi < 0) ||
	    rl_journal_twice(e, site, journal_id, ev))
		return;
	if (x.ts_us > e->now)
		x.ts_us = e->now; /* the site's clock runs ahead: not into the hub's future */
	x.logged_us = e->now;
	rl_event_emit(e, qi, &x);
}

/* rl_journal_stands: agent a holds another contact at the hub than the journal's c. One the
 * hub gave it since the site was lost (the agent re-homed to the hub) stands (1). One from
 * another site it was talking to through the relay when the site was lost does not: out of
 * the agent's reach, it was left when the site's engine took the agent on, and the journal
 * is newer - that call ends (0). */
static int rl_journal_stands(struct rl_engine *e, int site, struct rl_agent *a, const struct rl_contact *c)
{
	struct rl_contact *old = a->contact;

	if (old == NULL || old == c)
		return 0;
	if (old->site == site || old->rec->state != RELAIS__CONTACT_STATE__CONTACT_CONNECTED ||
	    old->rec->answered_us >= e->sites[site].lost_us)
		return 1;
	rl_contact_close(e, old, 0, NULL);
	return 0;
}

/* rl_journal_agent: a seated agent's state as the node's engine left it. A call it holds is
 * a connected contact of the journal; one it wraps up, an ended one. */
static void rl_journal_agent(struct rl_engine *e, int site, const Relais__AgentRecord *j)
{
	struct rl_agent *a = j->agent_id ? rl_agent_find(e, j->agent_id) : NULL;
	struct rl_contact *c = j->contact_id && j->contact_id[0] ? rl_contact_find(e, j->contact_id) : NULL;

	if (a == NULL || a->site != site || !rl_agent_live(a))
		return;
	a->rec->handled += j->handled;
	if (rl_journal_stands(e, site, a, c))
		return; /* the hub gave it a call since: the hub's word stands */
	if (j->state == RELAIS__AGENT_STATE__AGENT_BUSY && c != NULL && c->agent == NULL &&
	    c->rec->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED && strcmp(c->rec->agent_id, a->id) == 0) {
		c->agent = a;
		a->contact = c;
		rl_wire_set_str(&a->rec->contact_id, c->id);
		rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_BUSY, "");
		rl_push_update(e, c); /* a fresh media plan for the call in progress */
	} else if (j->state == RELAIS__AGENT_STATE__AGENT_WRAPUP) {
		struct rl_contact *w;
		Relais__ContactRecord *wr;
		a->wrap_started_us = e->now;
		a->wrap_queue = -1;
		if (j->contact_id && rl_contact_get(e, j->contact_id, &w, &wr) == RL_OK) {
			a->wrap_queue = rl_queue_idx(e, wr->queue_id); /* its disposition goes there */
			rl_contact_drop(w, wr);
		}
		rl_wire_set_str(&a->rec->contact_id, j->contact_id ? j->contact_id : "");
		rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_WRAPUP, "");
		a->rec->deadline_us = e->now + (uint64_t)e->conf.wrapup_s * 1000000u;
	} else if (j->state == RELAIS__AGENT_STATE__AGENT_NOT_READY || j->state == RELAIS__AGENT_STATE__AGENT_READY) {
		rl_wire_set_str(&a->rec->contact_id, "");
		rl_agent_set(e, a, j->state, j->reason ? j->reason : "");
	} else if (j->state == RELAIS__AGENT_STATE__AGENT_LOGGED_OUT) {
		rl_agent_logout(e, a, "logged out at the site");
		return;
	} else {
		rl_wire_set_str(&a->rec->contact_id, "");
		rl_agent_set(e, a, RELAIS__AGENT_STATE__AGENT_NOT_READY, "recovered");
	}
	rl_push_status(e, a, NULL);
}

/* rl_journal_done: the last part is in; the hub is the authority again. A connected contact
 * no agent claimed cannot go on; the site's agents take calls again. */
static void rl_journal_done(struct rl_engine *e, int site)
{
	struct rl_contact **v = rl_calloc(e->contact_by_id.len + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < e->contact_by_id.cap; i++) {
		struct rl_contact *c = e->contact_by_id.ents[i].val;
		if (c != NULL && c->site == site && c->agent == NULL &&
		    c->rec->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED)
			v[n++] = c;
	}
	for (size_t i = 0; i < n; i++)
		rl_contact_end(e, v[i], RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED, "no agent after the handover");
	free(v);
	e->sites[site].held = 0;
	for (int i = 0; i < e->nagents; i++)
		if (e->agents[i]->site == site && e->agents[i]->bound)
			rl_agent_reach(e, e->agents[i], 1);
	rl_log(RL_LOG_NOTICE, "site handed over what it did alone site=%s", e->sites[site].id);
	rl_site_event(e, site, "handed over");
}

/* rl_journal_key: the store's mark for part `part` of a site's journal. */
static void rl_journal_key(const struct rl_engine *e, int site, uint64_t journal_id, uint32_t part, char *key,
                           size_t cap)
{
	snprintf(key, cap, "%s/%016llx/%u", e->sites[site].id, (unsigned long long)journal_id, part);
}

int rl_journal_in(struct rl_engine *e, int site, uint64_t journal_id, uint32_t parts)
{
	char key[RL_WIRE_MAX_ID + 48], none[2];
	uint64_t at;

	rl_journal_key(e, site, journal_id, parts - 1, key, sizeof(key));
	return parts > 0 && rl_store_mark_get(e->store, RL_MARK_JOURNAL, key, none, sizeof(none), &at) == RL_OK;
}

static int rl_journal_part_ok(const Relais__SiteJournal *j)
{
	return j->parts > 0 && j->part < j->parts && j->n_contacts <= RL_JOURNAL_ROWS &&
	       j->n_events <= RL_JOURNAL_ROWS && j->n_agents <= RL_JOURNAL_ROWS;
}

void rl_h_site_journal(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__SiteJournal *j = env->site_journal;
	int site = r->peer->site;
	char key[RL_WIRE_MAX_ID + 48], none[2];
	uint64_t at;

	if (!rl_journal_part_ok(j)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "malformed journal part", 0);
		return;
	}
	rl_journal_key(e, site, j->journal_id, j->part, key, sizeof(key));
	if (rl_store_mark_get(e->store, RL_MARK_JOURNAL, key, none, sizeof(none), &at) == RL_OK) {
		rl_reply_ok(e, r); /* applied already: its answer was lost */
		return;
	}
	for (size_t i = 0; i < j->n_contacts; i++)
		rl_journal_contact(e, site, j->journal_id, j->contacts[i]);
	for (size_t i = 0; i < j->n_events; i++)
		rl_journal_event(e, site, j->journal_id, j->events[i]);
	if (j->part + 1 == j->parts) {
		for (size_t i = 0; i < j->n_agents; i++)
			rl_journal_agent(e, site, j->agents[i]);
		rl_journal_done(e, site);
	}
	rl_store_mark_put(e->store, RL_MARK_JOURNAL, key, "", e->now);
	rl_reply_ok(e, r);
}
