/*
 * kpi.c - per-queue KPIs (offered, answered and within the service level, abandoned, answer
 * wait, handle time) and the recent handle time behind expected waits. They are a fold over
 * the event log: rl_kpi_fold takes each event as it is logged and, at start, each event of
 * the day from the store, so live figures and rebuilt ones cannot drift apart. Its counting
 * is rl_kpi_add, which the reports (report_fold.c) fold the same log with: a report's day and
 * the live status of that day agree.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

#define RL_AHT_WEIGHT 0.1 /* weight of the newest call in a queue's recent handle time */

static uint32_t rl_day(uint64_t us)
{
	return (uint32_t)(us / 86400000000ULL);
}

/* rl_kpi_day_of starts q's counters afresh when day is a new day. */
static void rl_kpi_day_of(struct rl_queue *q, uint32_t day)
{
	if (q->st.day != day) {
		memset(&q->st, 0, sizeof(q->st));
		q->st.day = day;
	}
}

void rl_kpi_day(struct rl_engine *e, struct rl_queue *q)
{
	rl_kpi_day_of(q, rl_day(e->now));
}

/* rl_avg_add folds x into a moving average: the plain mean of the first calls, then an
 * exponential average where the newest call weighs RL_AHT_WEIGHT. */
static void rl_avg_add(double *avg, uint32_t *n, double x)
{
	double w = *n + 1 < (uint32_t)(1.0 / RL_AHT_WEIGHT) ? 1.0 / (double)(*n + 1) : RL_AHT_WEIGHT;

	*avg += w * (x - *avg);
	if (*n < UINT32_MAX)
		(*n)++;
}

const uint32_t RL_WAIT_BUCKET_S[RL_WAIT_BUCKETS - 1] = {5, 10, 20, 30, 60, 120};

/* rl_wait_bucket: the bucket of an abandon after wait_ms. */
static unsigned rl_wait_bucket(uint64_t wait_ms)
{
	unsigned i = 0;

	while (i < RL_WAIT_BUCKETS - 1 && wait_ms > (uint64_t)RL_WAIT_BUCKET_S[i] * 1000u)
		i++;
	return i;
}

/* rl_kpi_unanswer takes back an answer after wait_ms: the caller abandoned. */
static void rl_kpi_unanswer(struct rl_qstats *st, uint64_t wait_ms, uint32_t sl_s)
{
	if (st->answered > 0)
		st->answered--;
	if (wait_ms <= (uint64_t)sl_s * 1000u && st->answered_in_sl > 0)
		st->answered_in_sl--;
	st->answer_wait_ms -= wait_ms <= st->answer_wait_ms ? wait_ms : st->answer_wait_ms;
	st->abandoned++;
	st->abandoned_wait[rl_wait_bucket(wait_ms)]++;
}

void rl_kpi_add(struct rl_qstats *st, uint32_t sl_s, const Relais__EventRecord *ev)
{
	switch (ev->type) {
	case RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED:
		st->offered++;
		break;
	case RELAIS__EVENT_TYPE__EV_CONTACT_ACCEPTED:
		st->answered++;
		st->answer_wait_ms += ev->wait_ms;
		if (ev->wait_ms <= (uint64_t)sl_s * 1000u)
			st->answered_in_sl++;
		break;
	case RELAIS__EVENT_TYPE__EV_CONTACT_ABANDONED:
		st->abandoned++;
		st->abandoned_wait[rl_wait_bucket(ev->wait_ms)]++;
		break;
	case RELAIS__EVENT_TYPE__EV_ANSWER_WITHDRAWN: /* an answer no caller heard: abandoned */
		rl_kpi_unanswer(st, ev->wait_ms, sl_s);
		break;
	case RELAIS__EVENT_TYPE__EV_CONTACT_TRANSFERRED: /* the talk in this queue is over */
		st->transfers++;
		/* fall through */
	case RELAIS__EVENT_TYPE__EV_CONTACT_ENDED:
		st->handle_ms += ev->wait_ms;
		st->handled++;
		break;
	case RELAIS__EVENT_TYPE__EV_WRAPUP_DONE: /* handle time is talk + wrap-up */
		st->handle_ms += ev->wait_ms;
		st->wrap_ms += ev->wait_ms;
		break;
	default:
		break;
	}
}

void rl_kpi_rates(const struct rl_qstats *st, double *sl, double *asa_ms, double *aht_ms)
{
	*sl = st->answered + st->abandoned ? (double)st->answered_in_sl / (double)(st->answered + st->abandoned) : 1.0;
	*asa_ms = st->answered ? (double)st->answer_wait_ms / (double)st->answered : 0;
	*aht_ms = st->handled ? (double)st->handle_ms / (double)st->handled : 0;
}

/* rl_staff_arrival counts an arrival at ts_us in its staffing interval. */
static void rl_staff_arrival(struct rl_queue *q, uint64_t ts_us)
{
	uint32_t idx = (uint32_t)(ts_us / (RL_STAFF_INTERVAL_S * 1000000ULL));

	if (idx < q->iv_idx)
		return; /* older than the interval in progress: only the day's totals take it */
	if (q->iv_first == 0)
		q->iv_first = idx;
	if (idx != q->iv_idx) {
		q->iv_prev_idx = q->iv_idx;
		q->iv_prev_offered = q->iv_offered;
		q->iv_offered = 0;
		q->iv_idx = idx;
	}
	q->iv_offered++;
}

void rl_kpi_fold(struct rl_engine *e, int qi, const Relais__EventRecord *ev)
{
	struct rl_queue *q;

	if (qi < 0 && ev->queue_id && ev->queue_id[0])
		qi = rl_queue_idx(e, ev->queue_id);
	if (qi < 0)
		return;
	q = &e->queues[qi];
	if (rl_day(ev->ts_us) < q->st.day)
		return; /* an earlier day's (a survivable site's journal): in the log, not in today's */
	rl_kpi_day_of(q, rl_day(ev->ts_us));
	rl_kpi_add(&q->st, q->sl_s, ev);
	/* What only the live model keeps: arrivals for staffing, recent handle times for waits. */
	switch (ev->type) {
	case RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED:
		rl_staff_arrival(q, ev->ts_us);
		break;
	case RELAIS__EVENT_TYPE__EV_CONTACT_ENDED:
	case RELAIS__EVENT_TYPE__EV_CONTACT_TRANSFERRED:
		rl_avg_add(&q->talk_avg_ms, &q->talk_n, (double)ev->wait_ms);
		break;
	case RELAIS__EVENT_TYPE__EV_WRAPUP_DONE:
		rl_avg_add(&q->wrap_avg_ms, &q->wrap_n, (double)ev->wait_ms);
		break;
	default:
		break;
	}
}

/* rl_queue_aht_ms: the queue's recent handle time (talk + wrap-up), or its aht_s. */
static double rl_queue_aht_ms(const struct rl_queue *q)
{
	if (q->talk_n == 0)
		return (double)q->aht_s * 1000.0;
	return q->talk_avg_ms + (q->wrap_n ? q->wrap_avg_ms : (double)q->wrapup_s * 1000.0);
}

/* rl_queue_workers: the agents working queue qi now - logged in, eligible for it, and ready,
 * ringing, on a call or in wrap-up; not on a break, nor going on one after this call. Kept
 * as agents change (tally.c), so a status or a caller's position costs no walk over every
 * agent (100,000 of them: 4 ms a queue); rl_engine_check counts them again. */
uint32_t rl_queue_workers(const struct rl_engine *e, int qi)
{
	return e->queues[qi].workers;
}

/* rl_queue_ewt_s: the wait of the contact at position (1 = next) in q with workers agents on
 * it: every agent frees up once per recent handle time and those ahead go first. */
uint32_t rl_queue_ewt_s(const struct rl_queue *q, uint32_t position, uint32_t workers)
{
	double ms = (double)position * rl_queue_aht_ms(q) / (double)workers;

	return ms >= 86400e3 ? 86400u : (uint32_t)((ms + 999.0) / 1000.0);
}

/* rl_erlang_sl: the share of contacts answered within t_s by n agents (n > a) offered a
 * erlangs of handle time aht_s, from b, Erlang B for n agents (Erlang C: every contact waits
 * in one queue, none leaves). */
static double rl_erlang_sl(uint32_t n, double a, double b, double t_s, double aht_s)
{
	double c = (double)n * b / ((double)n - a * (1.0 - b));

	return 1.0 - c * exp(-((double)n - a) * t_s / aht_s);
}

uint32_t rl_erlang_agents(double per_s, double aht_s, double sl, double t_s)
{
	double a = per_s * aht_s, b = 1.0;
	uint32_t n;

	if (per_s <= 0 || aht_s <= 0)
		return 0;
	if (a >= RL_STAFF_MAX_AGENTS)
		return RL_STAFF_MAX_AGENTS;
	if (sl >= 1.0)
		sl = 0.9999;
	/* Erlang B by its recursion (it never overflows), one agent more at each step: the first
	 * n above the traffic that meets the goal. */
	for (n = 1; n <= (uint32_t)a; n++)
		b = a * b / ((double)n + a * b);
	for (;; n++) {
		b = a * b / ((double)n + a * b);
		if (n >= RL_STAFF_MAX_AGENTS || rl_erlang_sl(n, a, b, t_s, aht_s) >= sl)
			return n;
	}
}

int rl_queue_agents_needed(const struct rl_engine *e, const struct rl_queue *q, uint32_t *needed, double *per_hour)
{
	uint32_t now_idx = (uint32_t)(e->now / (RL_STAFF_INTERVAL_S * 1000000ULL));
	uint32_t arrivals;

	/* The last complete interval: the one before this one, if it had arrivals; an interval
	 * without any (or a gap) had none. Unknown before the first one ends. */
	if (q->iv_first == 0 || now_idx <= q->iv_first)
		return 0;
	if (q->iv_idx == now_idx)
		arrivals = q->iv_prev_idx + 1 == now_idx ? q->iv_prev_offered : 0;
	else
		arrivals = q->iv_idx + 1 == now_idx ? q->iv_offered : 0;
	*per_hour = (double)arrivals * 3600.0 / RL_STAFF_INTERVAL_S;
	*needed = rl_erlang_agents((double)arrivals / RL_STAFF_INTERVAL_S, rl_queue_aht_ms(q) / 1000.0,
	                           (double)q->sl_pct / 100.0, (double)q->sl_s);
	return 1;
}
