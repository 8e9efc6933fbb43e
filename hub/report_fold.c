/*
 * report_fold.c - a report is a fold over the event log, on a snapshot of the store.
 *
 * Contacts' events count into their row with rl_kpi_add, the fold of the live KPIs (kpi.c),
 * so a day's report and that day's live status agree. An agent's state event says which
 * state it left and for how long: that span, cut at the report's edges and intervals, is the
 * agent's time in that state (and reason). States still running come from the agents' records
 * of the same snapshot. Rows live in a hash table by (interval, key); keys and reasons are
 * interned once. Events are unpacked with a bump allocator reset for each one: a day of a
 * busy hub is millions of events, and the allocator would otherwise be most of the work.
 */
#include <stdlib.h>
#include <string.h>

#include "bump.h"
#include "internal.h"
#include "report.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_time.h"
#include "store.h"

#define RL_AGENT_STATES 7 /* AgentState values */

/* An interned string: keys and reasons, alive as long as the job (rows point at them). */
struct rl_str {
	uint64_t h;
	char s[];
};

struct rl_ragent {
	char id[RL_WIRE_MAX_ID + 1];
	uint64_t tenants; /* the directory's tenants it serves (bit per job tenant index) */
	int ntenants;
	uint64_t counted; /* 1 + the interval it was last counted in its rows' agents */
};

struct rl_reason_ms {
	const struct rl_str *reason;
	uint64_t ms;
};

struct rl_rrow {
	uint64_t start_us;
	const struct rl_str *key;
	int tenant; /* queue rows: the queue's tenant; -1 */
	uint32_t sl_s;
	struct rl_qstats st;
	uint64_t missed;
	double agents;
	double state_ms[RL_AGENT_STATES];
	struct rl_reason_ms nr[RL_REPORT_REASONS + 1]; /* the last: "other" */
	int nnr;
};

struct rl_fold {
	struct rl_report_job *job;
	struct rl_htab strs, rows, agents, queues;
	struct rl_ptrs all;  /* the rows, in no order */
	struct rl_bump bump; /* over bumpbuf: no event is this big (one that does not fit is skipped) */
	_Alignas(16) uint8_t bumpbuf[16384];
	const struct rl_str *other;
};

/* ---------------------------------------------------------------------------------------- */
/* interned strings, agents and queues by id */

static int rl_str_eq(const void *v, const void *k)
{
	return strcmp(((const struct rl_str *)v)->s, k) == 0;
}

static const struct rl_str *rl_intern(struct rl_fold *f, const char *s)
{
	uint64_t h = rl_htab_hash(s ? s : "");
	struct rl_str *x = rl_htab_get(&f->strs, h, rl_str_eq, s ? s : "");
	size_t n = strlen(s ? s : "");

	if (x == NULL) {
		x = rl_malloc(sizeof(*x) + n + 1);
		x->h = h;
		memcpy(x->s, s ? s : "", n + 1);
		rl_htab_put(&f->strs, h, x);
	}
	return x;
}

static int rl_ragent_eq(const void *v, const void *k)
{
	return strcmp(((const struct rl_ragent *)v)->id, k) == 0;
}

static struct rl_ragent *rl_ragent(struct rl_fold *f, const char *id)
{
	uint64_t h = rl_htab_hash(id);
	struct rl_ragent *a = rl_htab_get(&f->agents, h, rl_ragent_eq, id);

	if (a == NULL) {
		a = rl_calloc(1, sizeof(*a));
		snprintf(a->id, sizeof(a->id), "%s", id);
		rl_htab_put(&f->agents, h, a);
	}
	return a;
}

/* rl_fold_agent_rec learns an agent's tenants from its record (rl_store_agent_cb). */
static int rl_fold_agent_rec(void *arg, Relais__AgentRecord *r)
{
	struct rl_fold *f = arg;
	struct rl_ragent *a = rl_ragent(f, r->agent_id);

	for (size_t i = 0; i < r->n_tenants; i++)
		for (int t = 0; t < f->job->ntenants; t++)
			if (strcmp(r->tenants[i], f->job->tenants[t]) == 0 && !((a->tenants >> t) & 1)) {
				a->tenants |= 1ULL << t;
				a->ntenants++;
			}
	relais__agent_record__free_unpacked(r, NULL);
	return 0;
}

static int rl_rqueue_eq(const void *v, const void *k)
{
	return strcmp(((const struct rl_report_queue *)v)->id, k) == 0;
}

static const struct rl_report_queue *rl_rqueue(struct rl_fold *f, const char *id)
{
	return id ? rl_htab_get(&f->queues, rl_htab_hash(id), rl_rqueue_eq, id) : NULL;
}

static int rl_tenant_of(const struct rl_fold *f, const char *id)
{
	for (int t = 0; id != NULL && t < f->job->ntenants; t++)
		if (strcmp(f->job->tenants[t], id) == 0)
			return t;
	return -1;
}

/* rl_in_scope: rows of tenant t may be shown (-1, a tenant the directory no longer has: only
 * to those who see everything). */
static int rl_in_scope(const struct rl_fold *f, int t)
{
	return t >= 0 ? (int)((f->job->scope >> t) & 1) : f->job->scope == RL_SCOPE_ALL;
}

/* ---------------------------------------------------------------------------------------- */
/* rows */

struct rl_row_key {
	uint64_t start_us;
	const struct rl_str *key;
};

static int rl_row_eq(const void *v, const void *k)
{
	const struct rl_rrow *r = v;
	const struct rl_row_key *x = k;

	return r->start_us == x->start_us && r->key == x->key;
}

/* rl_start: the start of the interval holding time t. */
static uint64_t rl_start(const struct rl_report_job *job, uint64_t t)
{
	uint64_t iv = (uint64_t)job->interval_s * 1000000u;

	return iv ? t / iv * iv : job->from_us;
}

static struct rl_rrow *rl_row(struct rl_fold *f, uint64_t start_us, const struct rl_str *key)
{
	struct rl_row_key k = {start_us, key};
	uint64_t h = key->h ^ (start_us * 0x9E3779B97F4A7C15ULL);
	struct rl_rrow *r = rl_htab_get(&f->rows, h ? h : 1, rl_row_eq, &k);

	if (r == NULL) {
		r = rl_calloc(1, sizeof(*r));
		r->start_us = start_us;
		r->key = key;
		r->tenant = -1;
		rl_htab_put(&f->rows, h ? h : 1, r);
		rl_ptrs_push(&f->all, r);
	}
	return r;
}

static void rl_row_reason(struct rl_fold *f, struct rl_rrow *r, const struct rl_str *reason, double ms)
{
	int i = 0;

	while (i < r->nnr && r->nr[i].reason != reason)
		i++;
	if (i == r->nnr) {
		if (r->nnr == RL_REPORT_REASONS) {
			reason = f->other;
			for (i = 0; i < r->nnr && r->nr[i].reason != reason; i++)
				;
		}
		if (i == r->nnr)
			r->nr[r->nnr++] = (struct rl_reason_ms){reason, 0};
	}
	r->nr[i].ms += (uint64_t)ms;
}

/* ---------------------------------------------------------------------------------------- */
/* agents' time */

/* rl_row_time adds share of ms in state (reason) to row r; first: the agent's first time in
 * this interval, when it counts (its share) among the row's agents. */
static void rl_row_time(struct rl_fold *f, struct rl_rrow *r, int state, const struct rl_str *reason, double ms,
                        double share, int first)
{
	r->state_ms[state] += ms * share;
	if (state == RELAIS__AGENT_STATE__AGENT_NOT_READY)
		rl_row_reason(f, r, reason, ms * share);
	if (first)
		r->agents += share;
}

/* rl_piece: agent a spent [t0, t1), within one interval, in state at site. */
static void rl_piece(struct rl_fold *f, struct rl_ragent *a, const struct rl_str *site, int state,
                     const struct rl_str *reason, uint64_t t0, uint64_t t1)
{
	const struct rl_report_job *job = f->job;
	uint64_t start = rl_start(job, t0), iv = (start - job->from_us) / 1000u + 1;
	double ms = (double)(t1 - t0) / 1000.0;
	int first = a->counted != iv;

	a->counted = iv;
	if (job->by == RELAIS__REPORT_BY__REPORT_BY_AGENT)
		rl_row_time(f, rl_row(f, start, rl_intern(f, a->id)), state, reason, ms, 1.0, first);
	else if (job->by == RELAIS__REPORT_BY__REPORT_BY_SITE)
		rl_row_time(f, rl_row(f, start, site), state, reason, ms, 1.0, first);
	else if (job->by == RELAIS__REPORT_BY__REPORT_BY_TENANT)
		for (int t = 0; t < job->ntenants; t++)
			if (((a->tenants & job->scope) >> t) & 1)
				rl_row_time(f, rl_row(f, start, rl_intern(f, job->tenants[t])), state, reason, ms,
				            1.0 / a->ntenants, first);
}

/* rl_span: agent id spent [t0, t1) in state (reason) at site: the part within the report,
 * cut at its intervals. */
static void rl_span(struct rl_fold *f, const char *id, const char *site, int state, const char *reason, uint64_t t0,
                    uint64_t t1)
{
	const struct rl_report_job *job = f->job;
	uint64_t iv = (uint64_t)job->interval_s * 1000000u;
	struct rl_ragent *a;

	if (state <= RELAIS__AGENT_STATE__AGENT_LOGGED_OUT || state >= RL_AGENT_STATES || id == NULL || !id[0])
		return;
	t0 = t0 > job->from_us ? t0 : job->from_us;
	t1 = t1 < job->to_us ? t1 : job->to_us;
	if (t0 >= t1 || job->by == RELAIS__REPORT_BY__REPORT_BY_QUEUE)
		return;
	a = rl_ragent(f, id);
	if (job->scope != RL_SCOPE_ALL && !(a->tenants & job->scope))
		return; /* an agent of none of the asker's tenants */
	const struct rl_str *s = rl_intern(f, site), *r = rl_intern(f, reason);
	while (t0 < t1) {
		uint64_t end = iv ? rl_start(job, t0) + iv : t1;
		end = end < t1 ? end : t1;
		rl_piece(f, a, s, state, r, t0, end);
		t0 = end;
	}
}

/* rl_fold_running: an agent's state in progress (its record) runs to now (rl_store_agent_cb). */
static int rl_fold_running(void *arg, Relais__AgentRecord *r)
{
	struct rl_fold *f = arg;

	if (r->state_since_us && r->state_since_us < f->job->now_us)
		rl_span(f, r->agent_id, r->site_id, r->state, r->reason, r->state_since_us, f->job->now_us);
	relais__agent_record__free_unpacked(r, NULL);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* contacts' events */

static const char *rl_contact_key(const struct rl_fold *f, const Relais__EventRecord *ev)
{
	switch (f->job->by) {
	case RELAIS__REPORT_BY__REPORT_BY_QUEUE:
		return ev->queue_id;
	case RELAIS__REPORT_BY__REPORT_BY_AGENT:
		return ev->agent_id && ev->agent_id[0] ? ev->agent_id : NULL;
	case RELAIS__REPORT_BY__REPORT_BY_TENANT:
		return ev->tenant_id;
	default:
		return ev->site_id;
	}
}

static void rl_fold_contact(struct rl_fold *f, const Relais__EventRecord *ev)
{
	const struct rl_report_queue *q = rl_rqueue(f, ev->queue_id);
	int tenant = q != NULL ? q->tenant : rl_tenant_of(f, ev->tenant_id);
	const char *key = rl_contact_key(f, ev);
	struct rl_rrow *r;

	if (key == NULL || !rl_in_scope(f, tenant))
		return;
	if (f->job->by == RELAIS__REPORT_BY__REPORT_BY_AGENT && f->job->scope != RL_SCOPE_ALL &&
	    !(rl_ragent(f, key)->tenants & f->job->scope))
		return;
	r = rl_row(f, rl_start(f->job, ev->ts_us), rl_intern(f, key));
	if (f->job->by == RELAIS__REPORT_BY__REPORT_BY_QUEUE && q != NULL) {
		r->tenant = q->tenant;
		r->sl_s = q->sl_s;
	}
	rl_kpi_add(&r->st, q != NULL ? q->sl_s : 0, ev);
	if (ev->type == RELAIS__EVENT_TYPE__EV_CONTACT_REJECTED || ev->type == RELAIS__EVENT_TYPE__EV_CONTACT_RONA)
		r->missed++;
}

#define RL_FOLD_LATE (-1) /* rl_fold_event's stop: the events after are logged too late */

/* rl_fold_event takes one packed event (rl_store_raw_cb). */
static int rl_fold_event(void *arg, const void *buf, size_t len)
{
	struct rl_fold *f = arg;
	const struct rl_report_job *job = f->job;
	Relais__EventRecord *ev;

	f->bump.used = 0;
	if ((ev = (Relais__EventRecord *)rl_bump_unpack(&f->bump, &relais__event_record__descriptor, len, buf)) == NULL)
		return 0;
	if ((ev->logged_us > ev->ts_us ? ev->logged_us : ev->ts_us) >= job->to_us + RL_REPORT_LATE_US)
		return RL_FOLD_LATE;
	f->job->events++;
	if (ev->type == RELAIS__EVENT_TYPE__EV_AGENT_STATE)
		rl_span(f, ev->agent_id, ev->site_id, ev->prev_state, ev->prev_reason,
		        ev->ts_us - (ev->wait_ms * 1000u < ev->ts_us ? ev->wait_ms * 1000u : ev->ts_us), ev->ts_us);
	else if (ev->ts_us >= job->from_us && ev->ts_us < job->to_us && ev->queue_id && ev->queue_id[0])
		rl_fold_contact(f, ev); /* a contact's event: each names its queue */
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* the rows as the wire has them */

/* One row's reply with what it points at, in one allocation (freed with the row). */
struct rl_report_out {
	Relais__ReportRow row; /* first: a row's address is the block's */
	uint64_t waits[RL_WAIT_BUCKETS];
	Relais__ReasonTime *nrp[RL_REPORT_REASONS + 1];
	Relais__ReasonTime nr[];
};

static Relais__ReportRow *rl_row_out(const struct rl_fold *f, const struct rl_rrow *r)
{
	struct rl_report_out *o = rl_calloc(1, sizeof(*o) + (size_t)r->nnr * sizeof(o->nr[0]));
	Relais__ReportRow *x = &o->row;
	double busy = r->state_ms[RELAIS__AGENT_STATE__AGENT_BUSY] + r->state_ms[RELAIS__AGENT_STATE__AGENT_WRAPUP];
	double avail =
	    busy + r->state_ms[RELAIS__AGENT_STATE__AGENT_READY] + r->state_ms[RELAIS__AGENT_STATE__AGENT_RESERVED];

	relais__report_row__init(x);
	x->start_us = r->start_us;
	x->key = (char *)r->key->s;
	x->tenant_id = (char *)(r->tenant >= 0 ? f->job->tenants[r->tenant] : "");
	x->offered = r->st.offered;
	x->answered = r->st.answered;
	x->answered_in_sl = r->st.answered_in_sl;
	x->abandoned = r->st.abandoned;
	memcpy(o->waits, r->st.abandoned_wait, sizeof(o->waits));
	x->n_abandoned_by_wait = RL_WAIT_BUCKETS;
	x->abandoned_by_wait = o->waits;
	x->answer_wait_ms = r->st.answer_wait_ms;
	x->handled = r->st.handled;
	x->handle_ms = r->st.handle_ms;
	x->wrap_ms = r->st.wrap_ms;
	x->transfers = r->st.transfers;
	rl_kpi_rates(&r->st, &x->service_level, &x->asa_ms, &x->aht_ms);
	x->sl_seconds = r->sl_s;
	x->missed = r->missed;
	x->agents = r->agents;
	x->ready_ms = (uint64_t)r->state_ms[RELAIS__AGENT_STATE__AGENT_READY];
	x->reserved_ms = (uint64_t)r->state_ms[RELAIS__AGENT_STATE__AGENT_RESERVED];
	x->busy_ms = (uint64_t)r->state_ms[RELAIS__AGENT_STATE__AGENT_BUSY];
	x->wrapup_ms = (uint64_t)r->state_ms[RELAIS__AGENT_STATE__AGENT_WRAPUP];
	x->not_ready_ms = (uint64_t)r->state_ms[RELAIS__AGENT_STATE__AGENT_NOT_READY];
	x->logged_in_ms = x->ready_ms + x->reserved_ms + x->busy_ms + x->wrapup_ms + x->not_ready_ms;
	x->occupancy = avail > 0 ? busy / avail : 0;
	for (int i = 0; i < r->nnr; i++) {
		relais__reason_time__init(&o->nr[i]);
		o->nr[i].reason = (char *)r->nr[i].reason->s;
		o->nr[i].ms = r->nr[i].ms;
		o->nrp[i] = &o->nr[i];
	}
	x->n_not_ready = (size_t)r->nnr;
	x->not_ready = o->nrp;
	return x;
}

static int rl_row_cmp(const void *a, const void *b)
{
	const struct rl_rrow *x = *(const struct rl_rrow *const *)a, *y = *(const struct rl_rrow *const *)b;

	if (x->start_us != y->start_us)
		return x->start_us < y->start_us ? -1 : 1;
	return strcmp(x->key->s, y->key->s);
}

/* rl_fold_out sorts the rows into job->rows and cuts them into pages of at most
 * RL_REPORT_PAGE_BYTES packed (at least one row, and one page, each). */
static void rl_fold_out(struct rl_fold *f)
{
	struct rl_report_job *job = f->job;
	size_t bytes = 0;

	if (f->all.n > 1)
		qsort(f->all.v, f->all.n, sizeof(f->all.v[0]), rl_row_cmp);
	job->rows = rl_calloc(f->all.n + 1, sizeof(*job->rows));
	job->page_start = rl_calloc(f->all.n + 2, sizeof(*job->page_start));
	job->pages = 1;
	for (size_t i = 0; i < f->all.n; i++) {
		size_t n = relais__report_row__get_packed_size(job->rows[i] = rl_row_out(f, f->all.v[i])) + 4;
		if (bytes + n > RL_REPORT_PAGE_BYTES && i > job->page_start[job->pages - 1]) {
			job->page_start[job->pages++] = i;
			bytes = 0;
		}
		bytes += n;
	}
	job->nrows = f->all.n;
	job->page_start[job->pages] = f->all.n;
}

static void rl_htab_free_all(struct rl_htab *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->ents[i].val);
	rl_htab_fini(t);
}

void rl_report_run(struct rl_report_job *job)
{
	struct rl_fold *f = rl_calloc(1, sizeof(*f));
	struct rl_store_snap *sn = NULL;
	uint64_t t0 = rl_mono_us();

	f->job = job;
	f->bump = (struct rl_bump){f->bumpbuf, sizeof(f->bumpbuf), 0};
	f->other = rl_intern(f, "other");
	for (int i = 0; i < job->nqueues; i++)
		rl_htab_put(&f->queues, rl_htab_hash(job->queues[i].id), &job->queues[i]);
	/* One snapshot: the agents' tenants, the log, then the states still running. */
	if ((job->rv = rl_store_snap_open(job->store, &sn)) == RL_OK &&
	    (job->rv = rl_store_snap_agents(sn, rl_fold_agent_rec, f)) == RL_OK) {
		if ((job->rv = rl_store_snap_events(sn, job->from_us, rl_fold_event, f)) == RL_FOLD_LATE)
			job->rv = RL_OK;
		if (job->rv == RL_OK && (job->rv = rl_store_snap_agents(sn, rl_fold_running, f)) == RL_OK)
			rl_fold_out(f);
	}
	rl_store_snap_close(sn);
	job->took_us = rl_mono_us() - t0;
	for (size_t i = 0; i < f->all.n; i++)
		free(f->all.v[i]);
	free(f->all.v);
	rl_htab_fini(&f->rows);
	rl_htab_fini(&f->queues);
	rl_htab_free_all(&f->agents);
	job->strings = f->strs; /* the rows point at them */
	free(f);
}

void rl_report_job_free(struct rl_report_job *job)
{
	if (job == NULL)
		return;
	for (size_t i = 0; i < job->nrows; i++)
		free(job->rows[i]);
	free(job->rows);
	free(job->page_start);
	free(job->queues);
	rl_htab_free_all(&job->strings);
	free(job);
}
