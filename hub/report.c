/*
 * report.c - ReportRequest at the hub: checked and scoped here, on the engine's thread, then
 * folded on the report worker's (report_fold.c), so routing never waits for a report. The
 * finished report comes back through the loop (rl_engine_report_done) and is answered a page
 * at a time; it is kept a little while for the pages its asker wants next.
 *
 * Scope: admin and noc see every tenant; a supervisor, or a viewer with tenants, its own
 * tenants' rows only, and a tenant out of its scope is unknown, as in StatusRequest.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "report.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"

#define RL_REPORT_PENDING 2                     /* reports asked of the worker and not back yet */
#define RL_REPORT_KEEP_US 300000000ULL          /* a finished report serves its pages this long */
#define RL_REPORT_MAX_US  (31 * 86400000000ULL) /* the longest span one report covers */

void rl_engine_set_reporter(struct rl_engine *e, rl_engine_report_fn fn, void *arg)
{
	e->report = fn;
	e->report_arg = arg;
}

/* rl_report_reply answers r with page of job's rows. */
static void rl_report_reply(struct rl_engine *e, const struct rl_req *r, const struct rl_report_job *job, uint32_t page)
{
	Relais__ReportReply rep = RELAIS__REPORT_REPLY__INIT;
	rl_env env;

	if (page >= job->pages) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "no such page", 0);
		return;
	}
	rep.rows = job->rows + job->page_start[page];
	rep.n_rows = job->page_start[page + 1] - job->page_start[page];
	rep.page = page;
	rep.pages = job->pages;
	rep.from_us = job->from_us;
	rep.to_us = job->to_us;
	rep.wait_buckets_s = (uint32_t *)RL_WAIT_BUCKET_S;
	rep.n_wait_buckets_s = RL_WAIT_BUCKETS - 1;
	rep.events = job->events;
	rep.took_us = job->took_us;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_REPORT_REPLY;
	env.report_reply = &rep;
	rl_reply(e, r, &env);
}

/* rl_report_kept: a finished report of the same request for the same link, still fresh. */
static const struct rl_report_job *rl_report_kept(struct rl_engine *e, const struct rl_report_job *q)
{
	for (int i = 0; i < RL_REPORT_CACHE; i++) {
		const struct rl_report_job *j = e->reports[i];
		if (j != NULL && j->pipe == q->pipe && j->from_us == q->from_us && j->to_us == q->to_us &&
		    j->interval_s == q->interval_s && j->by == q->by && j->scope == q->scope &&
		    e->now < j->done_us + RL_REPORT_KEEP_US)
			return j;
	}
	return NULL;
}

/* rl_report_check: the request's own errors, or NULL. */
static const char *rl_report_check(const Relais__ReportRequest *rq, uint64_t to)
{
	if (rq->interval_s != 0 && rq->interval_s != 900 && rq->interval_s != 3600 && rq->interval_s != 86400)
		return "interval: 900, 3600 or 86400 s, or 0 for the whole span";
	if (rq->by > RELAIS__REPORT_BY__REPORT_BY_SITE)
		return "by: queue, agent, tenant or site";
	if (rq->from_us >= to)
		return "from must come before to";
	if (to - rq->from_us > RL_REPORT_MAX_US)
		return "a report covers 31 days at most";
	return NULL;
}

/* rl_report_job_new: the job for request rq from r, asked of the worker. */
static struct rl_report_job *rl_report_job_new(struct rl_engine *e, const struct rl_req *r,
                                               const Relais__ReportRequest *rq, uint64_t to, uint64_t scope)
{
	struct rl_report_job *job = rl_calloc(1, sizeof(*job));

	job->store = e->store;
	job->pipe = r->pipe;
	job->chan = r->chan;
	job->req_id = r->req_id;
	job->from_us = rq->from_us;
	job->to_us = to;
	job->now_us = e->now;
	job->interval_s = rq->interval_s;
	job->by = rq->by;
	job->page = rq->page;
	job->scope = scope;
	job->ntenants = e->ntenants;
	for (int t = 0; t < e->ntenants; t++)
		memcpy(job->tenants[t], e->tenants[t].id, sizeof(job->tenants[t]));
	job->queues = rl_calloc((size_t)e->nqueues + 1, sizeof(*job->queues));
	job->nqueues = e->nqueues;
	for (int i = 0; i < e->nqueues; i++) {
		memcpy(job->queues[i].id, e->queues[i].id, sizeof(job->queues[i].id));
		job->queues[i].tenant = e->queues[i].tenant;
		job->queues[i].sl_s = e->queues[i].sl_s;
	}
	return job;
}

void rl_h_report(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__ReportRequest *rq = env->report_request;
	uint64_t to = rq->to_us ? rq->to_us : e->now, scope = r->scope;
	struct rl_report_job *job;
	const struct rl_report_job *kept;
	const char *why;
	int ti;

	if ((why = rl_report_check(rq, to)) != NULL) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, why, 0);
		return;
	}
	if (rq->tenant_id && rq->tenant_id[0]) {
		/* A tenant out of the asker's scope is as good as unknown. */
		if ((ti = rl_tenant_idx(e, rq->tenant_id)) < 0 || !((scope >> ti) & 1)) {
			rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_TENANT, "unknown tenant", 0);
			return;
		}
		scope = 1ULL << ti;
	}
	job = rl_report_job_new(e, r, rq, to, scope);
	if (rq->to_us != 0 && (kept = rl_report_kept(e, job)) != NULL) {
		rl_report_reply(e, r, kept, rq->page);
		rl_report_job_free(job);
	} else if (e->report == NULL || e->reports_pending >= RL_REPORT_PENDING) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNAVAILABLE,
		               e->report ? "reports busy: try again" : "no reports here", e->report ? 1000 : 0);
		rl_report_job_free(job);
	} else {
		e->reports_pending++;
		e->report(e->report_arg, job);
	}
}

void rl_engine_report_done(struct rl_engine *e, struct rl_report_job *job)
{
	struct rl_req r = {job->pipe, job->chan, job->req_id, 0, rl_peer_find(e, job->pipe), 0, 0, NULL};
	int oldest = 0;

	if (e->reports_pending > 0)
		e->reports_pending--;
	if (job->rv != RL_OK) {
		rl_reply_error(e, &r, RELAIS__ERROR_CODE__ERR_INTERNAL, "the report could not read the log", 0);
		rl_report_job_free(job);
		return;
	}
	job->done_us = e->now;
	rl_log(RL_LOG_INFO,
	       "report by=%d from_us=%llu to_us=%llu interval_s=%u rows=%zu pages=%u events=%llu took_ms=%llu "
	       "operator=%s",
	       (int)job->by, (unsigned long long)job->from_us, (unsigned long long)job->to_us, job->interval_s,
	       job->nrows, job->pages, (unsigned long long)job->events, (unsigned long long)(job->took_us / 1000u),
	       r.peer != NULL && r.peer->op >= 0 && r.peer->op < e->noperators ? e->operators[r.peer->op].id : "-");
	rl_report_reply(e, &r, job, job->page);
	for (int i = 1; i < RL_REPORT_CACHE; i++)
		if (e->reports[i] == NULL ||
		    (e->reports[oldest] != NULL && e->reports[i]->done_us < e->reports[oldest]->done_us))
			oldest = i;
	rl_report_job_free(e->reports[oldest]);
	e->reports[oldest] = job;
}

void rl_report_forget(struct rl_engine *e)
{
	for (int i = 0; i < RL_REPORT_CACHE; i++) {
		rl_report_job_free(e->reports[i]);
		e->reports[i] = NULL;
	}
}
