/*
 * report.c - `relaisctl report`: the hub's reports from its event log, as CSV or JSON.
 *
 *   report [queue|agent|tenant|site|billing] [--day YYYY-MM-DD | --from T [--to T]]
 *          [--interval 15m|hour|day|all] [--tenant T] [--csv]
 *
 * T is YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] (UTC) or seconds since the epoch; the default span is
 * today (UTC) until now. The hub folds the report on a thread of its own and sends it a page at
 * a time; this asks for every page, then prints one table. billing is the tenant report seen by
 * an invoice: calls handled, handled minutes, logged-in agent hours.
 */
#define _GNU_SOURCE /* timegm */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "rl_alloc.h"
#include "rl_time.h"

#define RPT_MAX_PAGES 4096

/* A column: a number of the row at off, as u64 or double, times scale. */
enum { COL_U64, COL_U32, COL_DBL };
struct col {
	const char *name;
	int kind;
	size_t off;
	double scale;
	unsigned views; /* the views that show it (bit per view) */
};

enum { V_QUEUE = 1, V_AGENT = 2, V_TENANT = 4, V_SITE = 8, V_BILLING = 16 };
#define V_CONTACTS (V_QUEUE | V_AGENT | V_TENANT | V_SITE)
#define V_TIME     (V_AGENT | V_TENANT | V_SITE)
#define OFF(f)     offsetof(Relais__ReportRow, f)

static const struct col cols[] = {
    {"offered", COL_U64, OFF(offered), 1, V_CONTACTS},
    {"answered", COL_U64, OFF(answered), 1, V_CONTACTS},
    {"answered_in_sl", COL_U64, OFF(answered_in_sl), 1, V_CONTACTS},
    {"abandoned", COL_U64, OFF(abandoned), 1, V_CONTACTS},
    {"service_level", COL_DBL, OFF(service_level), 1, V_CONTACTS},
    {"sl_seconds", COL_U32, OFF(sl_seconds), 1, V_QUEUE},
    {"asa_s", COL_DBL, OFF(asa_ms), 1e-3, V_CONTACTS},
    {"aht_s", COL_DBL, OFF(aht_ms), 1e-3, V_CONTACTS},
    {"handled", COL_U64, OFF(handled), 1, V_CONTACTS},
    {"handle_s", COL_U64, OFF(handle_ms), 1e-3, V_CONTACTS},
    {"wrap_s", COL_U64, OFF(wrap_ms), 1e-3, V_CONTACTS},
    {"transfers", COL_U64, OFF(transfers), 1, V_CONTACTS},
    {"missed", COL_U64, OFF(missed), 1, V_CONTACTS},
    {"agents", COL_DBL, OFF(agents), 1, V_TIME},
    {"logged_in_s", COL_U64, OFF(logged_in_ms), 1e-3, V_TIME},
    {"ready_s", COL_U64, OFF(ready_ms), 1e-3, V_TIME},
    {"ringing_s", COL_U64, OFF(reserved_ms), 1e-3, V_TIME},
    {"busy_s", COL_U64, OFF(busy_ms), 1e-3, V_TIME},
    {"wrapup_s", COL_U64, OFF(wrapup_ms), 1e-3, V_TIME},
    {"not_ready_s", COL_U64, OFF(not_ready_ms), 1e-3, V_TIME},
    {"occupancy", COL_DBL, OFF(occupancy), 1, V_TIME},
    {"calls", COL_U64, OFF(handled), 1, V_BILLING},
    {"handled_minutes", COL_U64, OFF(handle_ms), 1.0 / 60000, V_BILLING},
    {"agent_hours", COL_U64, OFF(logged_in_ms), 1.0 / 3600000, V_BILLING},
};

/* The report as the pages brought it. */
struct rpt {
	rl_env *pages[RPT_MAX_PAGES];
	uint32_t npages;
	const Relais__ReportReply *first;
	unsigned view;
	const char *key_name;
	char **reasons; /* every not-ready reason of any row: the CSV's columns */
	size_t nreasons;
};

static double col_value(const struct col *c, const Relais__ReportRow *x)
{
	const char *p = (const char *)x + c->off;

	if (c->kind == COL_U32)
		return (double)*(const uint32_t *)p * c->scale;
	return (c->kind == COL_U64 ? (double)*(const uint64_t *)p : *(const double *)p) * c->scale;
}

/* parse_time reads T (see the top) into *us; 0 if it is none of those. */
static int parse_time(const char *s, uint64_t *us)
{
	struct tm tm = {0};
	const char *end;
	char *e;
	unsigned long long n = strtoull(s, &e, 10);

	if (*s != '\0' && *e == '\0' && strlen(s) > 8) {
		*us = (uint64_t)n * 1000000u;
		return 1;
	}
	if ((end = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		return 0;
	if (*end == 'T' && (end = strptime(end + 1, "%H:%M", &tm)) != NULL && *end == ':')
		end = strptime(end + 1, "%S", &tm);
	if (end == NULL || *end != '\0')
		return 0;
	*us = (uint64_t)timegm(&tm) * 1000000u;
	return 1;
}

static void format_time(char *buf, size_t len, uint64_t us)
{
	time_t t = (time_t)(us / 1000000u);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static uint64_t reason_ms(const Relais__ReportRow *x, const char *reason)
{
	for (size_t i = 0; i < x->n_not_ready; i++)
		if (strcmp(x->not_ready[i]->reason, reason) == 0)
			return x->not_ready[i]->ms;
	return 0;
}

/* each_row calls fn for every row of every page. */
static void each_row(struct rpt *r, void (*fn)(struct rpt *, const Relais__ReportRow *, void *), void *arg)
{
	for (uint32_t p = 0; p < r->npages; p++)
		for (size_t i = 0; i < r->pages[p]->report_reply->n_rows; i++)
			fn(r, r->pages[p]->report_reply->rows[i], arg);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void collect_reasons(struct rpt *r, const Relais__ReportRow *x, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < x->n_not_ready; i++) {
		size_t k = 0;
		while (k < r->nreasons && strcmp(r->reasons[k], x->not_ready[i]->reason) != 0)
			k++;
		if (k == r->nreasons) {
			r->reasons = rl_realloc(r->reasons, (r->nreasons + 1) * sizeof(*r->reasons));
			r->reasons[r->nreasons++] = x->not_ready[i]->reason;
		}
	}
}

/* ---------------------------------------------------------------------------------------- */
/* CSV */

static void csv_header(const struct rpt *r)
{
	const Relais__ReportReply *f = r->first;

	printf("start,%s%s", r->key_name, r->view == V_QUEUE ? ",tenant" : "");
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		if (!(cols[i].views & r->view))
			continue;
		printf(",%s", cols[i].name);
		if (cols[i].off == OFF(abandoned)) { /* its buckets follow it */
			for (size_t b = 0; b < f->n_wait_buckets_s; b++)
				printf(",abandoned_le_%us", f->wait_buckets_s[b]);
			if (f->n_wait_buckets_s)
				printf(",abandoned_gt_%us", f->wait_buckets_s[f->n_wait_buckets_s - 1]);
		}
	}
	for (size_t k = 0; r->view & V_TIME && k < r->nreasons; k++)
		printf(",not_ready_%s_s", r->reasons[k]);
	printf("\n");
}

static void csv_row(struct rpt *r, const Relais__ReportRow *x, void *arg)
{
	char when[32];

	(void)arg;
	format_time(when, sizeof(when), x->start_us);
	printf("%s,%s", when, x->key);
	if (r->view == V_QUEUE)
		printf(",%s", x->tenant_id);
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		if (!(cols[i].views & r->view))
			continue;
		printf(cols[i].kind == COL_DBL || cols[i].scale < 1e-3 ? ",%.4f" : ",%.0f", col_value(&cols[i], x));
		for (size_t b = 0; cols[i].off == OFF(abandoned) && b < x->n_abandoned_by_wait; b++)
			printf(",%llu", (unsigned long long)x->abandoned_by_wait[b]);
	}
	for (size_t k = 0; r->view & V_TIME && k < r->nreasons; k++)
		printf(",%.0f", (double)reason_ms(x, r->reasons[k]) / 1000.0);
	printf("\n");
}

/* ---------------------------------------------------------------------------------------- */
/* JSON */

static void json_row(struct rpt *r, const Relais__ReportRow *x, void *arg)
{
	cJSON *o = cJSON_CreateObject(), *w, *nr;
	char when[32];

	format_time(when, sizeof(when), x->start_us);
	cJSON_AddStringToObject(o, "start", when);
	cJSON_AddNumberToObject(o, "start_us", (double)x->start_us);
	cJSON_AddStringToObject(o, r->key_name, x->key);
	if (r->view == V_QUEUE)
		cJSON_AddStringToObject(o, "tenant", x->tenant_id);
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		if (cols[i].views & r->view)
			cJSON_AddNumberToObject(o, cols[i].name, col_value(&cols[i], x));
	if (r->view & V_CONTACTS) {
		w = cJSON_AddArrayToObject(o, "abandoned_by_wait");
		for (size_t b = 0; b < x->n_abandoned_by_wait; b++)
			cJSON_AddItemToArray(w, cJSON_CreateNumber((double)x->abandoned_by_wait[b]));
	}
	if (r->view & V_TIME) {
		nr = cJSON_AddObjectToObject(o, "not_ready_s");
		for (size_t i = 0; i < x->n_not_ready; i++)
			cJSON_AddNumberToObject(nr, x->not_ready[i]->reason, (double)x->not_ready[i]->ms / 1000.0);
	}
	cJSON_AddItemToArray(arg, o);
}

static void print_json(struct rpt *r, uint32_t interval_s)
{
	const Relais__ReportReply *f = r->first;
	cJSON *root = cJSON_CreateObject(), *b, *rows;
	char *text;

	cJSON_AddStringToObject(root, "report", r->view == V_BILLING ? "billing" : r->key_name);
	cJSON_AddNumberToObject(root, "from_us", (double)f->from_us);
	cJSON_AddNumberToObject(root, "to_us", (double)f->to_us);
	cJSON_AddNumberToObject(root, "interval_s", interval_s);
	b = cJSON_AddArrayToObject(root, "wait_buckets_s");
	for (size_t i = 0; i < f->n_wait_buckets_s; i++)
		cJSON_AddItemToArray(b, cJSON_CreateNumber(f->wait_buckets_s[i]));
	cJSON_AddNumberToObject(root, "events", (double)f->events);
	cJSON_AddNumberToObject(root, "took_us", (double)f->took_us);
	rows = cJSON_AddArrayToObject(root, "rows");
	each_row(r, json_row, rows);
	text = cJSON_PrintUnformatted(root);
	puts(text);
	free(text);
	cJSON_Delete(root);
}

/* ---------------------------------------------------------------------------------------- */
/* the command */

/* fetch asks for every page of rq into r; returns the exit status. */
static int fetch(struct ctl *c, Relais__ReportRequest *rq, struct rpt *r)
{
	int rv = 0;

	do {
		rl_env env, *a;
		rl_env_init(&env);
		env.body_case = RELAIS__ENVELOPE__BODY_REPORT_REQUEST;
		env.report_request = rq;
		if ((a = ctl_ask(c, &env, &rv)) == NULL)
			return rv;
		if (a->body_case != RELAIS__ENVELOPE__BODY_REPORT_REPLY) {
			rl_wire_free(a);
			fprintf(stderr, "relaisctl: the hub answered something else than a report\n");
			return 3;
		}
		r->pages[r->npages++] = a;
		r->first = r->pages[0]->report_reply;
		rq->to_us = r->first->to_us; /* the next pages: the same report */
		rq->page++;
	} while (rq->page < r->first->pages && r->npages < RPT_MAX_PAGES);
	return 0;
}

static const struct {
	const char *name;
	Relais__ReportBy by;
	unsigned view;
} views[] = {
    {"queue", RELAIS__REPORT_BY__REPORT_BY_QUEUE, V_QUEUE},      {"agent", RELAIS__REPORT_BY__REPORT_BY_AGENT, V_AGENT},
    {"tenant", RELAIS__REPORT_BY__REPORT_BY_TENANT, V_TENANT},   {"site", RELAIS__REPORT_BY__REPORT_BY_SITE, V_SITE},
    {"billing", RELAIS__REPORT_BY__REPORT_BY_TENANT, V_BILLING},
};

/* interval_of: seconds of 15m, hour, day, all (0); 1 for anything else. */
static uint32_t interval_of(const char *v)
{
	static const struct {
		const char *name;
		uint32_t s;
	} iv[] = {{"15m", 900}, {"hour", 3600}, {"day", 86400}, {"all", 0}};

	for (size_t i = 0; i < sizeof(iv) / sizeof(iv[0]); i++)
		if (strcmp(iv[i].name, v) == 0)
			return iv[i].s;
	return 1;
}

/* parse_args reads the command line into rq and r's view; 0 if it is not one. */
static int parse_args(int argc, char **argv, Relais__ReportRequest *rq, struct rpt *r)
{
	uint64_t day;

	rq->from_us = rl_wall_us() / 86400000000ULL * 86400000000ULL; /* today, UTC */
	r->view = V_QUEUE;
	r->key_name = "queue";
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		size_t k = 0;
		while (k < sizeof(views) / sizeof(views[0]) && strcmp(views[k].name, a) != 0)
			k++;
		if (k < sizeof(views) / sizeof(views[0])) {
			rq->by = views[k].by;
			r->view = views[k].view;
			r->key_name = views[k].view == V_BILLING ? "tenant" : views[k].name;
			continue;
		} else if (strcmp(a, "--csv") == 0) {
			continue; /* the default */
		} else if (v == NULL) {
			return 0;
		} else if (strcmp(a, "--day") == 0 && parse_time(v, &day)) {
			rq->from_us = day;
			rq->to_us = day + 86400000000ULL;
		} else if ((strcmp(a, "--from") == 0 && !parse_time(v, &rq->from_us)) ||
		           (strcmp(a, "--to") == 0 && !parse_time(v, &rq->to_us))) {
			return 0;
		} else if (strcmp(a, "--interval") == 0) {
			if ((rq->interval_s = interval_of(v)) == 1)
				return 0;
		} else if (strcmp(a, "--tenant") == 0) {
			rq->tenant_id = (char *)v;
		} else if (strcmp(a, "--from") != 0 && strcmp(a, "--to") != 0) {
			return 0;
		}
		i++;
	}
	return 1;
}

int ctl_cmd_report(struct ctl *c, int argc, char **argv)
{
	Relais__ReportRequest rq = RELAIS__REPORT_REQUEST__INIT;
	struct rpt *r = rl_calloc(1, sizeof(*r));
	int rv;

	rq.interval_s = 86400;
	if (!parse_args(argc, argv, &rq, r)) {
		free(r);
		return ctl_usage();
	}
	if (c->timeout_s < 60)
		c->timeout_s = 60; /* a day of a busy hub takes seconds to fold */
	if ((rv = ctl_open(c)) == 0 && (rv = fetch(c, &rq, r)) == 0) {
		each_row(r, collect_reasons, NULL);
		if (r->nreasons > 1)
			qsort(r->reasons, r->nreasons, sizeof(*r->reasons), str_cmp);
		if (c->json) {
			print_json(r, rq.interval_s);
		} else {
			csv_header(r);
			each_row(r, csv_row, NULL);
		}
	}
	ctl_close(c);
	for (uint32_t p = 0; p < r->npages; p++)
		rl_wire_free(r->pages[p]);
	free(r->reasons);
	free(r);
	return rv;
}
