/*
 * recording.c - call recording at the hub: the tenants' and queues' policy, the decision at
 * answer, an agent's pause and resume, a node's report of the file, and the list operators
 * see. The files themselves are written and served by the node that carried the call
 * (node/record.c); the hub keeps only where each one is and its checksum, in the contact's
 * record, and an index by tenant and time in the store (RL_MARK_RECORDING).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rl_alloc.h"
#include "rl_config.h"
#include "rl_err.h"
#include "rl_log.h"
#include "store.h"

#define RL_RECORDING_LIST_MAX   100
#define RL_RECORDING_LIST_BYTES (48 * 1024) /* rows in one reply, under the frame cap */

/* ---------------------------------------------------------------------------------------- */
/* policy */

/* rl_recording_pct reads setting "recording" of s: "all" (100), "none" (0) or "N%" (0..100).
 * Absent: *pct unchanged. */
static int rl_recording_pct(const config_setting_t *s, int *pct)
{
	const char *v = NULL;
	char *end;
	long n;

	if (s == NULL || !config_setting_lookup_string(s, "recording", &v))
		return RL_OK;
	if (strcmp(v, "all") == 0) {
		*pct = 100;
		return RL_OK;
	}
	if (strcmp(v, "none") == 0) {
		*pct = 0;
		return RL_OK;
	}
	n = strtol(v, &end, 10);
	if (end == v || strcmp(end, "%") != 0 || n < 0 || n > 100) {
		rl_log(RL_LOG_ERR, "config line=%d: recording is \"all\", \"none\" or a percentage such as \"25%%\"",
		       config_setting_source_line(s));
		return RL_ECONFIG;
	}
	*pct = (int)n;
	return RL_OK;
}

int rl_recording_provision(struct rl_engine *e, const config_t *cfg)
{
	const config_setting_t *tl = config_lookup(cfg, "tenants"), *ql = config_lookup(cfg, "queues");
	int rv;

	for (int i = 0; i < e->ntenants; i++) {
		e->tenants[i].record_pct = 0;
		if ((rv = rl_recording_pct(config_setting_get_elem(tl, (unsigned)i), &e->tenants[i].record_pct)) !=
		    RL_OK)
			return rv;
	}
	for (int i = 0; i < e->nqueues; i++) {
		e->queues[i].record_pct = -1;
		if ((rv = rl_recording_pct(config_setting_get_elem(ql, (unsigned)i), &e->queues[i].record_pct)) !=
		    RL_OK)
			return rv;
	}
	return RL_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* the decision */

/* FNV-1a: the same contact id draws the same number on every hub, before and after a restart. */
static uint64_t rl_fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

int rl_recording_drawn(const char *contact_id, int pct)
{
	return pct >= 100 || (pct > 0 && (int)(rl_fnv1a(contact_id) % 100u) < pct);
}

void rl_recording_decide(struct rl_engine *e, struct rl_contact *c)
{
	const struct rl_queue *q = &e->queues[c->queue];
	int pct = q->record_pct >= 0 ? q->record_pct : e->tenants[q->tenant].record_pct;
	Relais__Recording *r = c->rec->recording;

	if (r != NULL)
		relais__recording__free_unpacked(r, NULL); /* answered again (a transfer): a new file */
	c->rec->recording = NULL;
	if (!rl_recording_drawn(c->id, pct))
		return;
	r = rl_malloc(sizeof(*r));
	relais__recording__init(r);
	r->on = 1;
	c->rec->recording = r;
}

Relais__RecordingOrder *rl_recording_order(const struct rl_contact *c, Relais__RecordingOrder *o)
{
	const Relais__Recording *r = c->rec->recording;

	if (r == NULL || !r->on || r->done)
		return NULL;
	relais__recording_order__init(o);
	o->on = 1;
	o->paused = r->paused;
	o->tenant_id = c->rec->tenant_id;
	o->queue_id = c->rec->queue_id;
	o->caller = c->rec->pop && c->rec->pop->caller ? c->rec->pop->caller : (char *)"";
	o->answered_us = c->rec->answered_us;
	return o;
}

/* ---------------------------------------------------------------------------------------- */
/* requests */

void rl_h_recording_pause(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__RecordingPause *p = env->recording_pause;
	struct rl_agent *a = r->agent;
	struct rl_contact *c = a->contact;
	Relais__Recording *rr;

	if (c == NULL || c->rec->state != RELAIS__CONTACT_STATE__CONTACT_CONNECTED ||
	    strcmp(c->id, p->contact_id) != 0) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "no such contact connected", 0);
		return;
	}
	if ((rr = c->rec->recording) == NULL || !rr->on || rr->done) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "the call is not being recorded", 0);
		return;
	}
	if (rr->paused != p->paused) {
		rr->paused = p->paused;
		rr->pauses += p->paused ? 1u : 0u;
		rl_dirty_contact(e, c);
		rl_log(RL_LOG_INFO, "recording %s contact=%s agent=%s", p->paused ? "paused" : "resumed", c->id, a->id);
		rl_push_update(e, c);
	}
	rl_reply_ok(e, r);
	rl_push_status(e, a, NULL);
}

/* rl_recording_keep copies a node's report into the record's recording. */
static void rl_recording_keep(Relais__Recording *dst, const Relais__Recording *src, const char *site)
{
	rl_wire_set_str(&dst->site_id, site);
	rl_wire_set_str(&dst->path, src->path);
	rl_wire_set_str(&dst->sha256, src->sha256);
	rl_wire_set_str(&dst->error, src->error);
	dst->bytes = src->bytes;
	dst->duration_ms = src->duration_ms;
	dst->paused_ms = src->paused_ms;
	dst->incomplete = src->incomplete;
	dst->paused = 0;
	dst->done = 1;
}

void rl_h_recording_done(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__RecordingDone *d = env->recording_done;
	const char *site = e->sites[r->peer->site].id;
	struct rl_contact *c;
	Relais__ContactRecord *rec;
	char key[3 * RL_WIRE_MAX_ID + 24];

	if (rl_contact_get(e, d->contact_id, &c, &rec) != RL_OK) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_CONTACT, "unknown contact", 0);
		return;
	}
	if (strcmp(rec->site_id, site) != 0 || rec->recording == NULL || !rec->recording->on) {
		rl_contact_drop(c, rec);
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_CONTACT, "no recording of this site's", 0);
		return;
	}
	if (d->recording->answered_us != 0 && d->recording->answered_us != rec->answered_us) {
		/* the file of an earlier answer (transferred since, answered again): the record
		 * keeps the recording of the answer now, which goes on */
		rl_log(RL_LOG_INFO, "recording of an earlier answer contact=%s path=%s", rec->contact_id,
		       d->recording->path);
		rl_contact_drop(c, rec);
		rl_reply_ok(e, r);
		return;
	}
	rl_recording_keep(rec->recording, d->recording, site);
	snprintf(key, sizeof(key), "%s/%016" PRIx64 "/%s", rec->tenant_id, rec->answered_us, rec->contact_id);
	rl_store_mark_put(e->store, RL_MARK_RECORDING, key, rec->contact_id, rec->answered_us);
	rl_log(d->recording->incomplete ? RL_LOG_WARNING : RL_LOG_INFO,
	       "recording %s contact=%s site=%s bytes=%" PRIu64 " sha256=%s%s%s",
	       d->recording->incomplete ? "incomplete" : "done", rec->contact_id, site, d->recording->bytes,
	       d->recording->sha256, d->recording->incomplete ? " error=" : "",
	       d->recording->incomplete ? d->recording->error : "");
	rl_contact_put(e, c, rec);
	rl_reply_ok(e, r);
}

/* The list: rows newest first, per tenant in scope, merged. */
struct rl_rlist {
	struct rl_engine *e;
	Relais__RecordingInfo **rows;
	Relais__ContactRecord **recs; /* the rows' strings point into these (store copies) */
	size_t n, cap, bytes;
	uint64_t since_us;
};

static int rl_rlist_each(void *arg, const char *key, const char *id, uint64_t ts)
{
	struct rl_rlist *l = arg;
	Relais__ContactRecord *rec;
	Relais__RecordingInfo *x;
	struct rl_contact *c;

	(void)key;
	if (ts < l->since_us || l->n == l->cap)
		return 1;
	if (rl_contact_get(l->e, id, &c, &rec) != RL_OK || rec->recording == NULL) {
		rl_contact_drop(c, rec);
		return 0;
	}
	x = rl_malloc(sizeof(*x));
	relais__recording_info__init(x);
	x->contact_id = rec->contact_id;
	x->tenant_id = rec->tenant_id;
	x->queue_id = rec->queue_id;
	x->agent_id = rec->agent_id;
	x->caller = rec->pop && rec->pop->caller ? rec->pop->caller : (char *)"";
	x->answered_us = rec->answered_us;
	x->ended_us = rec->ended_us;
	x->recording = rec->recording;
	l->bytes += relais__recording_info__get_packed_size(x) + 4;
	l->rows[l->n] = x;
	l->recs[l->n++] = c == NULL ? rec : NULL; /* in memory: the contact's own, not ours */
	return l->bytes > RL_RECORDING_LIST_BYTES;
}

static int rl_rlist_newest(const void *a, const void *b)
{
	const Relais__RecordingInfo *x = *(Relais__RecordingInfo *const *)a, *y = *(Relais__RecordingInfo *const *)b;

	return x->answered_us < y->answered_us ? 1 : x->answered_us > y->answered_us ? -1 : 0;
}

void rl_h_recording_list(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__RecordingList *q = env->recording_list;
	Relais__RecordingListReply rep = RELAIS__RECORDING_LIST_REPLY__INIT;
	struct rl_rlist l = {.e = e, .since_us = q->since_us};
	size_t limit = q->limit == 0 || q->limit > RL_RECORDING_LIST_MAX ? RL_RECORDING_LIST_MAX : q->limit;
	int only = q->tenant_id && q->tenant_id[0] ? rl_tenant_idx(e, q->tenant_id) : -1;
	char prefix[RL_WIRE_MAX_ID + 2];
	rl_env out;

	if (q->tenant_id && q->tenant_id[0] && (only < 0 || !(r->scope >> only & 1u))) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_TENANT, "unknown tenant", 0);
		return;
	}
	l.rows = rl_calloc(limit * (size_t)e->ntenants + 1, sizeof(*l.rows));
	l.recs = rl_calloc(limit * (size_t)e->ntenants + 1, sizeof(*l.recs));
	for (int t = 0; t < e->ntenants; t++) {
		if ((only >= 0 && t != only) || !(r->scope >> t & 1u))
			continue;
		snprintf(prefix, sizeof(prefix), "%s/", e->tenants[t].id);
		l.bytes = 0;
		l.cap = l.n + limit; /* each tenant's newest, merged below */
		rl_store_each_mark_desc(e->store, RL_MARK_RECORDING, prefix, rl_rlist_each, &l);
	}
	qsort(l.rows, l.n, sizeof(*l.rows), rl_rlist_newest);
	rep.n_recordings = 0;
	for (size_t i = 0, bytes = 0; i < l.n && i < limit; i++) {
		bytes += relais__recording_info__get_packed_size(l.rows[i]) + 4;
		if (bytes > RL_RECORDING_LIST_BYTES)
			break;
		rep.n_recordings++;
	}
	rep.recordings = l.rows;
	rl_env_init(&out);
	out.body_case = RELAIS__ENVELOPE__BODY_RECORDING_LIST_REPLY;
	out.recording_list_reply = &rep;
	rl_reply(e, r, &out);
	for (size_t i = 0; i < l.n; i++) {
		free(l.rows[i]);
		if (l.recs[i] != NULL)
			relais__contact_record__free_unpacked(l.recs[i], NULL);
	}
	free(l.rows);
	free(l.recs);
}
