/*
 * contact.c - contact state. rl_contact_to is the one writer of a contact's state: for each
 * step of a contact's life it sets the state and what goes with it, keeps the queue's
 * waiting set in step, marks the record dirty, logs the step's event (which the KPIs fold)
 * and tells the contact's site. The requests that create, cancel or locate a contact are
 * handled here too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bump.h"
#include "internal.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_id.h"
#include "rl_log.h"
#include "rl_secret.h"
#include "router.h"
#include "store.h"

static int rl_eq_contact(const void *v, const void *k)
{
	return strcmp(((const struct rl_contact *)v)->id, k) == 0;
}

struct rl_contact *rl_contact_find(struct rl_engine *e, const char *id)
{
	return id ? rl_htab_get(&e->contact_by_id, rl_htab_hash(id), rl_eq_contact, id) : NULL;
}

/* rl_contact_adopt makes the live contact of record rec (taken) and indexes it. */
struct rl_contact *rl_contact_adopt(struct rl_engine *e, Relais__ContactRecord *rec)
{
	struct rl_contact *c = rl_calloc(1, sizeof(*c));

	c->rec = rec;
	rl_copy(c->id, sizeof(c->id), rec->contact_id);
	c->queue = rl_queue_idx(e, rec->queue_id);
	c->site = rec->site_id && rec->site_id[0] ? rl_site_idx(e, rec->site_id) : -1;
	rl_htab_put(&e->contact_by_id, rl_htab_hash(c->id), c);
	if (c->site >= 0)
		e->sites[c->site].contacts++;
	return c;
}

void rl_contact_destroy(struct rl_contact *c)
{
	/* The plan's relay call is released when the call ends (rl_call_finish) or at close. */
	if (c == NULL)
		return;
	relais__contact_record__free_unpacked(c->rec, NULL);
	free(c);
}

/* rl_contact_held: contact id if it is in memory (live, or ended in this batch), else NULL */
static struct rl_contact *rl_contact_held(struct rl_engine *e, const char *id)
{
	struct rl_contact *c = rl_contact_find(e, id);

	for (size_t i = 0; c == NULL && i < e->dirty_contacts.n; i++) {
		struct rl_contact *d = e->dirty_contacts.v[i];
		if (d->ended && strcmp(d->id, id) == 0)
			c = d;
	}
	return c;
}

/* rl_contact_get finds contact id's record: in memory if it is live or ended in this batch
 * (*c set, *rec = c->rec), else from the store (*c NULL, *rec a copy). RL_ENOENT. The caller
 * hands it back with rl_contact_put (to keep a change) or rl_contact_drop. */
int rl_contact_get(struct rl_engine *e, const char *id, struct rl_contact **c, Relais__ContactRecord **rec)
{
	if ((*c = rl_contact_held(e, id)) != NULL) {
		*rec = (*c)->rec;
		return RL_OK;
	}
	return rl_store_get_contact(e->store, id, rec);
}

void rl_contact_put(struct rl_engine *e, struct rl_contact *c, Relais__ContactRecord *rec)
{
	if (c != NULL) {
		rl_dirty_contact(e, c);
		return;
	}
	rl_store_put_contact(e->store, rec, 0); /* not in memory: it has ended */
	relais__contact_record__free_unpacked(rec, NULL);
}

void rl_contact_drop(struct rl_contact *c, Relais__ContactRecord *rec)
{
	if (c == NULL && rec != NULL)
		relais__contact_record__free_unpacked(rec, NULL);
}

void rl_contact_dispose(struct rl_engine *e, const char *id, const char *disposition)
{
	_Alignas(16) uint8_t buf[8192];
	struct rl_bump b = {buf, sizeof(buf), 0};
	struct rl_contact *c = rl_contact_held(e, id);
	Relais__ContactRecord *rec;

	if (c != NULL) {
		rec = c->rec;
	} else {
		int rv = rl_store_get_contact_in(e->store, id, &b, &rec);
		if (rv == RL_OK) {
			rec->disposition = (char *)disposition; /* borrowed: rec lives until it is written */
			rl_store_put_contact(e->store, rec, 0);
		}
		/* written, no such contact, or a record too big for buf (a screen pop of many
		 * items): that one is read again into a copy of its own */
		if (rv != RL_EIO || rl_store_get_contact(e->store, id, &rec) != RL_OK)
			return;
	}
	rl_wire_set_str(&rec->disposition, disposition);
	rl_contact_put(e, c, rec);
}

/* ---------------------------------------------------------------------------------------- */
/* the one writer of contact state */

/* clang-format off */
static const Relais__ContactState rl_step_state[] = {
    [RL_C_SUBMITTED] = RELAIS__CONTACT_STATE__CONTACT_QUEUED,
    [RL_C_OFFERED] = RELAIS__CONTACT_STATE__CONTACT_OFFERED,
    [RL_C_ACCEPTED] = RELAIS__CONTACT_STATE__CONTACT_CONNECTED,
    [RL_C_REJECTED] = RELAIS__CONTACT_STATE__CONTACT_QUEUED,
    [RL_C_RONA] = RELAIS__CONTACT_STATE__CONTACT_QUEUED,
    [RL_C_REQUEUED] = RELAIS__CONTACT_STATE__CONTACT_QUEUED,
    [RL_C_TRANSFERRED] = RELAIS__CONTACT_STATE__CONTACT_QUEUED,
    [RL_C_SUSPENDED] = RELAIS__CONTACT_STATE__CONTACT_QUEUED,
    [RL_C_RESUMED] = RELAIS__CONTACT_STATE__CONTACT_QUEUED,
    [RL_C_ENDED] = RELAIS__CONTACT_STATE__CONTACT_ENDED,
};
/* clang-format on */

static const Relais__EventType rl_step_event[] = {
    [RL_C_SUBMITTED] = RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED,
    [RL_C_OFFERED] = RELAIS__EVENT_TYPE__EV_CONTACT_OFFERED,
    [RL_C_ACCEPTED] = RELAIS__EVENT_TYPE__EV_CONTACT_ACCEPTED,
    [RL_C_REJECTED] = RELAIS__EVENT_TYPE__EV_CONTACT_REJECTED,
    [RL_C_RONA] = RELAIS__EVENT_TYPE__EV_CONTACT_RONA,
    [RL_C_REQUEUED] = RELAIS__EVENT_TYPE__EV_CONTACT_REQUEUED,
    [RL_C_TRANSFERRED] = RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED,
    [RL_C_SUSPENDED] = RELAIS__EVENT_TYPE__EV_CONTACT_REQUEUED,
    [RL_C_RESUMED] = RELAIS__EVENT_TYPE__EV_CONTACT_REQUEUED,
    [RL_C_ENDED] = RELAIS__EVENT_TYPE__EV_CONTACT_ENDED,
};

/* rl_unoffer takes an offered contact back from its agent, who is remembered as the last to
 * refuse it (routing passes over that agent next time when another is ready). */
static void rl_unoffer(struct rl_contact *c)
{
	if (c->agent != NULL) {
		rl_copy(c->last_reject, sizeof(c->last_reject), c->agent->id);
		c->agent->contact = NULL;
	}
	c->agent = NULL;
	rl_wire_set_str(&c->rec->agent_id, "");
}

/* rl_remember_caller keeps who answered this caller, for queues that send returning callers
 * to the same agent (sticky_s). */
static void rl_remember_caller(struct rl_engine *e, const struct rl_contact *c)
{
	char key[2 * RL_WIRE_MAX_ID + 2];

	if (!e->queues[c->queue].sticky_s || c->rec->pop == NULL || !c->rec->pop->caller || !c->rec->pop->caller[0])
		return;
	rl_join(key, sizeof(key), c->rec->tenant_id, '/', c->rec->pop->caller);
	rl_store_mark_put(e->store, RL_MARK_LASTAGENT, key, c->agent->id, e->now);
}

/* rl_ended_event: the event of an ending, by outcome, and its time (talk, or wait). */
static Relais__EventType rl_ended_event(struct rl_engine *e, const struct rl_contact *c, uint64_t *ms)
{
	*ms = (e->now - c->rec->enqueued_us) / 1000u;
	if (c->rec->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED)
		return RELAIS__EVENT_TYPE__EV_CONTACT_ABANDONED;
	if (c->rec->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED)
		return RELAIS__EVENT_TYPE__EV_CONTACT_FAILED;
	if (c->rec->answered_us)
		*ms = (e->now - c->rec->answered_us) / 1000u;
	if (c->rec->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_TRANSFERRED && c->rec->answered_us)
		return RELAIS__EVENT_TYPE__EV_CONTACT_TRANSFERRED; /* sent to a number: a transfer too */
	return RELAIS__EVENT_TYPE__EV_CONTACT_ENDED;
}

/* rl_contact_unlink: an ended contact leaves the live model (freed after the commit). */
static void rl_contact_unlink(struct rl_engine *e, struct rl_contact *c)
{
	if (c->agent != NULL)
		c->agent->contact = NULL;
	if (c->site >= 0 && e->sites[c->site].contacts)
		e->sites[c->site].contacts--;
	rl_htab_del(&e->contact_by_id, rl_htab_hash(c->id), c);
	c->ended = 1;
}

/*
 * rl_contact_to moves contact c one step (ms: the step event's time, e.g. the wait before an
 * answer; an ending computes its own). OFFERED expects c->agent set; TRANSFERRED expects
 * c->queue set to the new queue; ENDED expects c->rec->outcome set, and leaves c out of the
 * live table, freed after the commit has written it.
 */
void rl_contact_to(struct rl_engine *e, struct rl_contact *c, enum rl_cstep step, uint64_t ms)
{
	struct rl_queue *q = &e->queues[c->queue];
	const struct rl_agent *a = c->agent; /* the agent the event names */
	Relais__EventType ev = rl_step_event[step];
	const char *detail = NULL;

	switch (step) {
	case RL_C_OFFERED:
		c->rec->offered_us = e->now;
		c->rec->offers++;
		rl_wire_set_str(&c->rec->agent_id, a->id);
		break;
	case RL_C_ACCEPTED:
		c->rec->answered_us = e->now;
		rl_remember_caller(e, c);
		rl_recording_decide(e, c);
		break;
	case RL_C_REJECTED:
	case RL_C_RONA:
	case RL_C_REQUEUED:
		rl_unoffer(c);
		break;
	case RL_C_TRANSFERRED:
		a = NULL;
		detail = "transfer";
		break;
	case RL_C_SUSPENDED:
		rl_unoffer(c);
		c->rec->suspended = 1;
		detail = "site lost";
		break;
	case RL_C_RESUMED:
		c->rec->suspended = 0;
		detail = "site back";
		break;
	case RL_C_ENDED:
		ev = rl_ended_event(e, c, &ms);
		c->rec->ended_us = e->now;
		c->rec->suspended = 0;
		detail = c->rec->end_reason && c->rec->end_reason[0] ? c->rec->end_reason : NULL;
		if (c->plan != NULL)
			rl_call_finish(e, c);
		break;
	case RL_C_SUBMITTED:
		break;
	}
	c->rec->state = rl_step_state[step];
	/* Waiting and routable: queued and not suspended. */
	if (c->rec->state == RELAIS__CONTACT_STATE__CONTACT_QUEUED && !c->rec->suspended) {
		if (!c->queued) {
			rl_router_push(q, c);
			q->dirty = 1;
		}
	} else if (c->queued) {
		rl_router_remove(q, c);
	}
	rl_dirty_contact(e, c);
	rl_event(e, ev, c, a, ms, detail);
	if (step != RL_C_SUBMITTED) /* a new contact's site hears of it in the submit's answer */
		rl_push_update(e, c);
	if (step == RL_C_ENDED)
		rl_contact_unlink(e, c);
}

void rl_contact_take(struct rl_engine *e, struct rl_contact *c, Relais__ContactRecord *j)
{
	uint64_t boot = c->rec->site_boot;

	if (c->agent != NULL && c->agent->contact == c)
		c->agent->contact = NULL;
	c->agent = NULL;
	if (c->queued)
		rl_router_remove(&e->queues[c->queue], c);
	if (c->plan != NULL && j->state != RELAIS__CONTACT_STATE__CONTACT_CONNECTED)
		rl_call_finish(e, c);
	relais__contact_record__free_unpacked(c->rec, NULL);
	c->rec = j;
	c->queue = rl_queue_idx(e, j->queue_id);
	j->site_boot = boot;
	j->suspended = 0;
	if (j->state == RELAIS__CONTACT_STATE__CONTACT_QUEUED) {
		rl_router_push(&e->queues[c->queue], c);
		e->queues[c->queue].dirty = 1;
	}
	rl_dirty_contact(e, c);
	rl_push_update(e, c);
	if (j->state == RELAIS__CONTACT_STATE__CONTACT_ENDED)
		rl_contact_unlink(e, c);
}

void rl_contact_end(struct rl_engine *e, struct rl_contact *c, Relais__ContactOutcome outcome, const char *why)
{
	c->rec->outcome = outcome;
	if (why != NULL)
		rl_wire_set_str(&c->rec->end_reason, why);
	rl_contact_to(e, c, RL_C_ENDED, 0);
}

/* rl_pop_set sets key in the contact's screen-pop (adds it; RL_WIRE_MAX_POP_ITEMS at most). */
void rl_pop_set(Relais__ContactRecord *rec, const char *key, const char *value)
{
	Relais__ScreenPop *p = rec->pop;
	Relais__KeyValue *kv;

	if (p == NULL) {
		p = rec->pop = rl_malloc(sizeof(*p));
		relais__screen_pop__init(p);
	}
	for (size_t i = 0; i < p->n_data; i++) {
		if (p->data[i]->key && strcmp(p->data[i]->key, key) == 0) {
			rl_wire_set_str(&p->data[i]->value, value);
			return;
		}
	}
	if (p->n_data >= RL_WIRE_MAX_POP_ITEMS)
		return;
	kv = rl_malloc(sizeof(*kv));
	relais__key_value__init(kv);
	rl_wire_set_str(&kv->key, key);
	rl_wire_set_str(&kv->value, value);
	p->data = rl_realloc(p->data, (p->n_data + 1) * sizeof(*p->data));
	p->data[p->n_data++] = kv;
}

/* ---------------------------------------------------------------------------------------- */
/* callers lost with a site keep their place: no contact-centre product offers that */

/* rl_lost_key: where a caller is remembered: tenant/caller/dialled; 0 if the contact does not
 * say who called which number. */
static int rl_lost_key(const char *tenant, const Relais__ScreenPop *pop, char *key, size_t cap)
{
	if (pop == NULL || !pop->caller || !pop->caller[0] || !pop->dialled || !pop->dialled[0])
		return 0;
	snprintf(key, cap, "%s/%s/%s", tenant, pop->caller, pop->dialled);
	return 1;
}

void rl_contact_lost(struct rl_engine *e, const struct rl_contact *c)
{
	char key[3 * RL_WIRE_MAX_ID + 4];

	if (rl_lost_key(c->rec->tenant_id, c->rec->pop, key, sizeof(key)))
		rl_store_mark_put(e->store, RL_MARK_LOST, key, c->id, e->now);
}

void rl_contact_found(struct rl_engine *e, const struct rl_contact *c)
{
	char key[3 * RL_WIRE_MAX_ID + 4];

	if (rl_lost_key(c->rec->tenant_id, c->rec->pop, key, sizeof(key)))
		rl_store_mark_del(e->store, RL_MARK_LOST, key);
}

/* rl_represent: a new contact's caller lost an earlier call of this number with its site,
 * within represent_window_s: the new one takes the earlier one's place (its enqueue time, in
 * the same queue), its screen-pop says so, and the earlier one, if still waiting for its site,
 * ends. */
static void rl_represent(struct rl_engine *e, Relais__ContactRecord *rec)
{
	char key[3 * RL_WIRE_MAX_ID + 4], old[RL_WIRE_MAX_ID + 1];
	struct rl_contact *c;
	Relais__ContactRecord *orec;
	uint64_t lost_us;

	if (!rl_lost_key(rec->tenant_id, rec->pop, key, sizeof(key)) ||
	    rl_store_mark_get(e->store, RL_MARK_LOST, key, old, sizeof(old), &lost_us) != RL_OK)
		return;
	rl_store_mark_del(e->store, RL_MARK_LOST, key);
	if (e->now - lost_us > (uint64_t)e->conf.represent_window_s * 1000000u ||
	    rl_contact_get(e, old, &c, &orec) != RL_OK)
		return;
	if (strcmp(orec->queue_id, rec->queue_id) == 0 && orec->enqueued_us < rec->enqueued_us)
		rec->enqueued_us = orec->enqueued_us;
	rl_pop_set(rec, "represented_from", old);
	rl_pop_set(rec, "represented", orec->site_id && orec->site_id[0] ? orec->site_id : "yes");
	rl_log(RL_LOG_INFO, "caller re-presented contact=%s from=%s", rec->contact_id, old);
	if (c != NULL && !c->ended && c->rec->suspended)
		rl_contact_close(e, c, 1, "re-presented");
	rl_contact_drop(c, orec);
}

/* ---------------------------------------------------------------------------------------- */
/* submission */

/* rl_submit_check validates a submission; 0, or a reply was sent. */
static int rl_submit_check(struct rl_engine *e, const struct rl_req *r, const Relais__SubmitContact *s, int *qi)
{
	int ti;

	if (s->tenant_id == NULL || (ti = rl_tenant_idx(e, s->tenant_id)) < 0)
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_TENANT, "unknown tenant", 0);
	else if (s->queue_id == NULL || (*qi = rl_queue_idx(e, s->queue_id)) < 0 || e->queues[*qi].tenant != ti)
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_QUEUE, "unknown queue for this tenant", 0);
	else if (s->priority > 9)
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "priority must be 0..9", 0);
	else if (s->pop && s->pop->caller && s->pop->caller[0] && !rl_wire_id_ok(s->pop->caller))
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "caller number has bad characters", 0);
	else if (s->ext_id && s->ext_id[0] && !rl_wire_id_ok(s->ext_id))
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "ext_id has bad characters", 0);
	else
		return 0;
	return -1;
}

static void rl_submit_ok(struct rl_engine *e, const struct rl_req *r, const char *cid, int duplicate,
                         uint64_t enqueued_us)
{
	Relais__SubmitContactOk ok = RELAIS__SUBMIT_CONTACT_OK__INIT;
	rl_env env;

	rl_env_init(&env);
	ok.contact_id = (char *)cid;
	ok.duplicate = duplicate;
	ok.enqueued_us = enqueued_us;
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT_OK;
	env.submit_contact_ok = &ok;
	rl_reply(e, r, &env);
}

/* rl_submit_again answers a re-sent submission (same submitter and ext_id) with the contact
 * it made first, and the enqueue time it was told then. */
static void rl_submit_again(struct rl_engine *e, const struct rl_req *r, const char *cid)
{
	struct rl_contact *c;
	Relais__ContactRecord *old;
	uint64_t enq = 0;

	if (rl_contact_get(e, cid, &c, &old) == RL_OK) {
		enq = old->submitted_us ? old->submitted_us : old->enqueued_us;
		rl_contact_drop(c, old);
	}
	rl_submit_ok(e, r, cid, 1, enq);
}

/* rl_pop_copy: a deep copy of a screen-pop (the request is freed after the batch). */
static Relais__ScreenPop *rl_pop_copy(const Relais__ScreenPop *pop)
{
	size_t len = relais__screen_pop__get_packed_size(pop);
	uint8_t *tmp = rl_malloc(len);
	Relais__ScreenPop *copy;

	relais__screen_pop__pack(pop, tmp);
	copy = relais__screen_pop__unpack(NULL, len, tmp);
	free(tmp);
	if (copy == NULL) /* only memory can fail to unpack what was just packed */
		rl_oom(len);
	return copy;
}

/* rl_contact_rec builds the record of a new contact. */
static Relais__ContactRecord *rl_contact_rec(struct rl_engine *e, const Relais__SubmitContact *s, const char *cid,
                                             const char *ext, int site, uint64_t boot)
{
	Relais__ContactRecord *rec = rl_calloc(1, sizeof(*rec));
	const char *site_id = site >= 0 ? e->sites[site].id : "";

	relais__contact_record__init(rec);
	rec->contact_id = rl_strdup(cid);
	rec->ext_id = rl_strdup(ext);
	rec->tenant_id = rl_strdup(s->tenant_id);
	rec->queue_id = rl_strdup(s->queue_id);
	rec->priority = s->priority;
	rl_wire_set_str(&rec->site_id, site_id);
	rec->media = rl_strdup(s->media && s->media[0] ? s->media : "voice");
	rec->submitter = rl_strdup(site >= 0 ? site_id : "ctl"); /* agent, disposition: init's empty strings */
	rec->state = RELAIS__CONTACT_STATE__CONTACT_QUEUED;
	rec->enqueued_us = e->now;
	rec->site_boot = boot; /* its carrier leg lives in that run of its node */
	if (s->pop != NULL)
		rec->pop = rl_pop_copy(s->pop);
	return rec;
}

void rl_h_submit(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__SubmitContact *s = env->submit_contact;
	char key[2 * RL_WIRE_MAX_ID + 2], cid[RL_WIRE_MAX_ID + 1], ext[RL_WIRE_MAX_ID + 1];
	Relais__ContactRecord *rec;
	int qi, site = -1;

	if (rl_submit_check(e, r, s, &qi) != 0)
		return;
	if (r->who == RL_WHO_NODE && e->sites[r->peer->site].pipe != r->pipe) {
		/* Sent on a link its node has replaced since, and delivered late (held by the network
		 * through a partition): the node gave up on it - turned its caller away, or gave the
		 * call to its own engine - and re-sends on its new link what it still waits for. */
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "submitted on a replaced link", 0);
		return;
	}
	if (r->who == RL_WHO_NODE)
		site = r->peer->site; /* a site submits for itself, whatever it says */
	else if (s->site_id && s->site_id[0])
		site = rl_site_idx(e, s->site_id);
	if (s->ext_id && s->ext_id[0]) {
		rl_copy(ext, sizeof(ext), s->ext_id);
	} else {
		uint64_t rnd;
		rl_secret_random(&rnd, sizeof(rnd));
		snprintf(ext, sizeof(ext), "auto-%016llx", (unsigned long long)rnd);
	}
	rl_join(key, sizeof(key), site >= 0 ? e->sites[site].id : "ctl", '/', ext);
	if (rl_store_extid_get(e->store, key, cid, sizeof(cid)) == RL_OK) {
		rl_submit_again(e, r, cid);
		return;
	}
	snprintf(cid, sizeof(cid), "%s%010llu", e->conf.contact_prefix[0] ? e->conf.contact_prefix : "c",
	         (unsigned long long)rl_store_next_id(e->store, "next_contact"));
	rl_store_extid_put(e->store, key, cid);
	rec = rl_contact_rec(e, s, cid, ext, site, r->who == RL_WHO_NODE ? e->sites[site].boot_id : 0);
	rl_represent(e, rec);
	rl_contact_to(e, rl_contact_adopt(e, rec), RL_C_SUBMITTED, 0);
	rl_submit_ok(e, r, cid, 0, rec->enqueued_us);
}

/* ---------------------------------------------------------------------------------------- */
/* the caller leaves; where a caller stands */

/* rl_site_owns: a site may act only on contacts submitted there. */
static int rl_site_owns(struct rl_engine *e, const struct rl_req *r, const struct rl_contact *c)
{
	if (c == NULL || r->who != RL_WHO_NODE || c->site == r->peer->site)
		return 1;
	rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "contact belongs to another site", 0);
	return 0;
}

#define RL_NEVER_CONNECTED "the caller left before the site connected the agent"

/* rl_answer_withdraw: rec (of queue qi) was answered here, but its site says the caller left
 * before any agent was connected to it (the site was frozen or cut off meanwhile): it ended
 * abandoned, and the answer is taken back from the KPIs (kpi.c). */
void rl_answer_withdraw(struct rl_engine *e, int qi, Relais__ContactRecord *rec)
{
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;

	rec->outcome = RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED;
	rl_wire_set_str(&rec->end_reason, RL_NEVER_CONNECTED);
	ev.ts_us = rec->answered_us;
	ev.logged_us = e->now; /* logged after its time: readers find it by this (store.c) */
	ev.type = RELAIS__EVENT_TYPE__EV_ANSWER_WITHDRAWN;
	ev.contact_id = rec->contact_id;
	ev.queue_id = rec->queue_id;
	ev.tenant_id = rec->tenant_id;
	ev.site_id = rec->site_id;
	ev.agent_id = rec->agent_id;
	ev.wait_ms = (rec->answered_us - rec->enqueued_us) / 1000u;
	ev.detail = RL_NEVER_CONNECTED;
	rl_event_emit(e, qi, &ev);
	rec->answered_us = 0; /* nobody answered this caller */
	rl_log(RL_LOG_WARNING, "answer taken back contact=%s agent=%s site=%s: " RL_NEVER_CONNECTED, rec->contact_id,
	       rec->agent_id ? rec->agent_id : "", rec->site_id ? rec->site_id : "");
}

/* rl_cancel_ended: the site's caller left before it was connected, of a contact that has
 * ended here already as handled. */
static void rl_cancel_ended(struct rl_engine *e, int site, const char *id)
{
	Relais__ContactRecord *rec = NULL;

	if (rl_store_get_contact(e->store, id, &rec) != RL_OK)
		return;
	if (rec->state == RELAIS__CONTACT_STATE__CONTACT_ENDED &&
	    rec->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_HANDLED && rec->answered_us != 0 &&
	    rl_site_idx(e, rec->site_id ? rec->site_id : "") == site) {
		rl_answer_withdraw(e, rl_queue_idx(e, rec->queue_id ? rec->queue_id : ""), rec);
		rl_store_put_contact(e->store, rec, 0);
	}
	relais__contact_record__free_unpacked(rec, NULL);
}

void rl_h_cancel(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__ContactCancel *cc = env->contact_cancel;
	struct rl_contact *c = rl_contact_find(e, cc->contact_id);
	int failed = cc->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED, withdraw;

	if (!rl_site_owns(e, r, c))
		return;
	if (c == NULL) {
		/* Already ended (a re-send, or it ended first): nothing to do, unless its answer
		 * was one no caller heard. */
		if (cc->never_connected && !failed && r->who == RL_WHO_NODE)
			rl_cancel_ended(e, r->peer->site, cc->contact_id);
		rl_reply_ok(e, r);
		return;
	}
	withdraw = cc->never_connected && !failed && c->rec->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED;
	rl_contact_close(e, c, failed, failed ? "lost at the site" : NULL);
	if (withdraw) {
		rl_answer_withdraw(e, c->queue, c->rec);
		rl_dirty_contact(e, c);
	}
	rl_reply_ok(e, r);
}

/* rl_contact_close ends a live contact whose caller is gone (failed: lost with the call, not
 * the caller's choice), and frees its agent: a ringing one goes back to ready without
 * penalty, a talking one to wrap-up. A waiting or ringing caller who leaves has abandoned;
 * one who hangs up on an agent was handled. */
void rl_contact_close(struct rl_engine *e, struct rl_contact *c, int failed, const char *why)
{
	struct rl_agent *a = c->agent;
	Relais__ContactOutcome lost = RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED;

	switch (c->rec->state) {
	case RELAIS__CONTACT_STATE__CONTACT_QUEUED:
		rl_contact_end(e, c, failed ? lost : RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED, why);
		break;
	case RELAIS__CONTACT_STATE__CONTACT_OFFERED:
		rl_contact_end(e, c, failed ? lost : RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED, why);
		rl_agent_after_contact(e, a);
		rl_push_status(e, a, NULL);
		break;
	case RELAIS__CONTACT_STATE__CONTACT_CONNECTED:
		rl_agent_start_wrapup(e, a, c);
		rl_contact_end(e, c, failed ? lost : RELAIS__CONTACT_OUTCOME__OUTCOME_HANDLED, why);
		rl_push_status(e, a, NULL);
		break;
	default:
		break;
	}
}

/* rl_h_position: where a waiting contact stands and how long it should still wait. The
 * estimate is position x recent handle time / agents working the queue: every agent frees up
 * once per handle time, and the contacts ahead go first. Agents shared with other queues and
 * calls already half done make it rough; it is what callers are told. */
void rl_h_position(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__QueuePosition *qp = env->queue_position;
	Relais__QueuePositionReply rep = RELAIS__QUEUE_POSITION_REPLY__INIT;
	struct rl_contact *c = rl_contact_find(e, qp->contact_id);
	rl_env out;

	if (!rl_site_owns(e, r, c))
		return;
	rep.contact_id = qp->contact_id;
	rep.state = c != NULL ? c->rec->state : RELAIS__CONTACT_STATE__CONTACT_ENDED;
	if (c != NULL) {
		const struct rl_queue *q = &e->queues[c->queue];
		rep.waiting = q->nheap;
		rep.agents = rl_queue_workers(e, c->queue);
		if (c->queued) {
			rep.position = rl_router_position(q, c);
			rep.ewt_known = rep.agents > 0;
			if (rep.ewt_known)
				rep.ewt_s = rl_queue_ewt_s(q, rep.position, rep.agents);
		}
	}
	rl_env_init(&out);
	out.body_case = RELAIS__ENVELOPE__BODY_QUEUE_POSITION_REPLY;
	out.queue_position_reply = &rep;
	rl_reply(e, r, &out);
}
