/*
 * report.h - reports over the event log: a job the engine fills from a ReportRequest
 * (report.c), that a worker thread folds over its own snapshot of the store
 * (report_fold.c, report_worker.c), and whose rows the engine sends page by page.
 *
 * A job is plain data: the fold reads the store and the job, never the engine, so it may
 * run on any thread while the engine routes on.
 */
#ifndef RL_REPORT_H
#define RL_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "hub.h"
#include "rl_htab.h"
#include "relais.pb-c.h"

#define RL_REPORT_PAGE_BYTES (56 * 1024) /* a page's rows, packed: a reply fits a 64 KiB frame */
#define RL_REPORT_LATE_US \
	86400000000ULL       /* events logged this long after a report's end
                                             * (a survivable site's journal) are not in it */
#define RL_REPORT_REASONS 16 /* not-ready reasons told apart per row; the rest are "other" */

/* A queue as the directory has it: the tenant its rows belong to, its service-level time. */
struct rl_report_queue {
	char id[RL_WIRE_MAX_ID + 1];
	int tenant; /* index in tenants */
	uint32_t sl_s;
};

struct rl_report_job {
	/* Asked (the engine fills these; the fold only reads them). */
	struct rl_store *store;
	uint32_t pipe; /* where the answer goes */
	uint64_t chan, req_id;
	uint64_t from_us, to_us; /* to_us resolved: never 0 */
	uint64_t now_us;         /* the engine's clock: agents' states in progress run to it */
	uint32_t interval_s;     /* 0: one row per group for the whole span */
	Relais__ReportBy by;
	uint32_t page;                                    /* the page the asker wants first */
	char tenants[RL_MAX_TENANTS][RL_WIRE_MAX_ID + 1]; /* the directory's tenants */
	int ntenants;
	uint64_t scope; /* rows of these tenants only (bit per tenant index) */
	struct rl_report_queue *queues;
	int nqueues;
	/* Answered (the fold fills these; rl_report_job_free frees them). */
	int rv;                   /* RL_OK, or the store's error */
	Relais__ReportRow **rows; /* sorted by interval, then key */
	size_t nrows;
	size_t *page_start; /* page p holds rows [page_start[p], page_start[p + 1]) */
	uint32_t pages;
	uint64_t events, took_us;
	uint64_t done_us;           /* when the engine got it back (its cache's age) */
	struct rl_htab strings;     /* the rows' keys and reasons (interned) */
	struct rl_report_job *next; /* the worker's queue */
};

/* rl_report_run folds the log into job's rows (job->rv says whether it could). */
void rl_report_run(struct rl_report_job *job);

/* rl_report_job_free frees job and everything it holds (NULL: nothing). */
void rl_report_job_free(struct rl_report_job *job);

/* The worker thread (report_worker.c): jobs run one after the other, each finished job is
 * posted to loop with tag (the engine then gets it: rl_engine_report_done). */
struct rl_loop;
struct rl_report_worker;
int rl_report_worker_start(struct rl_report_worker **out, struct rl_loop *loop, int tag);
/* rl_report_submit queues job (engine callback signature: arg is the worker). */
void rl_report_submit(void *arg, struct rl_report_job *job);
/* rl_report_worker_stop waits for the job in progress, joins the thread, frees queued jobs. */
void rl_report_worker_stop(struct rl_report_worker *w);

#endif
