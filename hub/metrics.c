/*
 * metrics.c - the hub's state in Prometheus's text exposition format (version 0.0.4): queues
 * with their KPIs, agents by state (not-ready by reason), sites' links and health, the hub's
 * counters and its relay's. Rendered on the engine's thread from what `relaisctl status`
 * shows an unscoped operator (status.c), so the two always agree; served by scrape.c.
 *
 * Names follow Prometheus's conventions: a `relais_` prefix, base units (seconds, ratios
 * 0..1), `_total` for counters. A queue's KPIs are the day's (rl_kpi_day), as the status
 * shows them: the counters go back to zero at midnight, which Prometheus's rate() takes for
 * a counter reset.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "metrics.h"
#include "relay.h"
#include "rl_alloc.h"
#include "store.h"

static void rl_text_add(struct rl_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void rl_text_add(struct rl_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len)
			break;
		t->cap = t->cap * 2 + (n > 0 ? (size_t)n : 0) + 256;
		t->p = rl_realloc(t->p, t->cap);
	}
	t->len += (size_t)n;
}

/* rl_label: v as a label value (backslash, quote and newline escaped) in out. */
static const char *rl_label(const char *v, char *out, size_t cap)
{
	size_t k = 0;

	for (; *v && k + 3 < cap; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n')
			out[k++] = '\\';
		out[k++] = *v == '\n' ? 'n' : *v;
	}
	out[k] = 0;
	return out;
}

static void rl_help(struct rl_text *t, const char *name, const char *type, const char *help)
{
	rl_text_add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One queue metric: name, type, help, and how to read it from a status row. */
struct rl_qmetric {
	const char *name, *type, *help;
	double (*get)(const Relais__QueueStat *q);
};

static double q_waiting(const Relais__QueueStat *q)
{
	return q->waiting;
}
static double q_longest(const Relais__QueueStat *q)
{
	return (double)q->longest_wait_ms / 1000.0;
}
static double q_offered(const Relais__QueueStat *q)
{
	return (double)q->offered;
}
static double q_answered(const Relais__QueueStat *q)
{
	return (double)q->answered;
}
static double q_in_sl(const Relais__QueueStat *q)
{
	return (double)q->answered_in_sl;
}
static double q_abandoned(const Relais__QueueStat *q)
{
	return (double)q->abandoned;
}
static double q_handled(const Relais__QueueStat *q)
{
	return (double)q->handled;
}
static double q_sl(const Relais__QueueStat *q)
{
	return q->service_level;
}
static double q_target(const Relais__QueueStat *q)
{
	return q->sl_target_pct / 100.0;
}
static double q_target_s(const Relais__QueueStat *q)
{
	return q->sl_seconds;
}
static double q_asa(const Relais__QueueStat *q)
{
	return q->asa_ms / 1000.0;
}
static double q_aht(const Relais__QueueStat *q)
{
	return q->aht_ms / 1000.0;
}
static double q_ready(const Relais__QueueStat *q)
{
	return q->agents_ready;
}
static double q_staffed(const Relais__QueueStat *q)
{
	return q->agents_staffed;
}

static const struct rl_qmetric rl_qmetrics[] = {
    {"relais_queue_waiting", "gauge", "Contacts waiting in the queue.", q_waiting},
    {"relais_queue_longest_wait_seconds", "gauge", "Wait of the oldest waiting contact.", q_longest},
    {"relais_queue_offered_total", "counter", "Contacts offered to the queue today.", q_offered},
    {"relais_queue_answered_total", "counter", "Contacts answered today.", q_answered},
    {"relais_queue_answered_in_sl_total", "counter", "Contacts answered within the service-level time today.", q_in_sl},
    {"relais_queue_abandoned_total", "counter", "Contacts abandoned while waiting today.", q_abandoned},
    {"relais_queue_handled_total", "counter", "Contacts handled (talk and wrap-up done) today.", q_handled},
    {"relais_queue_service_level_ratio", "gauge", "Answered within the target time over answered and abandoned, today.",
     q_sl},
    {"relais_queue_service_level_target_ratio", "gauge", "The queue's service-level goal.", q_target},
    {"relais_queue_service_level_target_seconds", "gauge", "The queue's service-level time.", q_target_s},
    {"relais_queue_asa_seconds", "gauge", "Average speed of answer today.", q_asa},
    {"relais_queue_aht_seconds", "gauge", "Average handling time today.", q_aht},
    {"relais_queue_agents_ready", "gauge", "Agents ready for the queue.", q_ready},
    {"relais_queue_agents_staffed", "gauge", "Agents logged in with the queue's skills.", q_staffed},
};

static void rl_metrics_queues(struct rl_engine *e, struct rl_text *t)
{
	Relais__QueueStat *rows = rl_calloc((size_t)e->nqueues + 1, sizeof(*rows));
	char qid[2 * RL_WIRE_MAX_ID + 2], tid[2 * RL_WIRE_MAX_ID + 2];

	for (int i = 0; i < e->nqueues; i++)
		rl_status_queue(e, i, &rows[i]);
	for (size_t m = 0; m < sizeof(rl_qmetrics) / sizeof(rl_qmetrics[0]); m++) {
		rl_help(t, rl_qmetrics[m].name, rl_qmetrics[m].type, rl_qmetrics[m].help);
		for (int i = 0; i < e->nqueues; i++)
			rl_text_add(t, "%s{queue=\"%s\",tenant=\"%s\"} %.17g\n", rl_qmetrics[m].name,
			            rl_label(rows[i].queue_id, qid, sizeof(qid)),
			            rl_label(rows[i].tenant_id, tid, sizeof(tid)), rl_qmetrics[m].get(&rows[i]));
	}
	rl_help(t, "relais_queue_ewt_seconds", "gauge", "Estimated wait of a contact arriving now (when known).");
	for (int i = 0; i < e->nqueues; i++)
		if (rows[i].ewt_known)
			rl_text_add(t, "relais_queue_ewt_seconds{queue=\"%s\",tenant=\"%s\"} %u\n",
			            rl_label(rows[i].queue_id, qid, sizeof(qid)),
			            rl_label(rows[i].tenant_id, tid, sizeof(tid)), rows[i].ewt_s);
	free(rows);
}

struct rl_reason_count {
	const char *reason;
	unsigned n;
};

static const char *const rl_state_names[] = {"unspecified", "logged_out", "ready",    "reserved",
                                             "busy",        "wrapup",     "not_ready"};

/* rl_metrics_agents counts the agents by state, and the not-ready ones by reason. */
static void rl_metrics_agents(struct rl_engine *e, struct rl_text *t)
{
	unsigned by_state[7] = {0}, nreasons = 0;
	struct rl_reason_count reasons[32];
	char r[2 * RL_WIRE_MAX_ID + 2];

	for (int i = 0; i < e->nagents; i++) {
		const Relais__AgentRecord *a = e->agents[i]->rec;
		unsigned s = a->state < 7 ? (unsigned)a->state : 0, k = 0;
		const char *why = a->reason ? a->reason : "";
		by_state[s]++;
		if (a->state != RELAIS__AGENT_STATE__AGENT_NOT_READY)
			continue;
		while (k < nreasons && strcmp(reasons[k].reason, why) != 0)
			k++;
		if (k == nreasons && nreasons < sizeof(reasons) / sizeof(reasons[0]))
			reasons[nreasons++] = (struct rl_reason_count){why, 0};
		if (k < nreasons)
			reasons[k].n++;
	}
	rl_help(t, "relais_agents", "gauge", "Configured agents by state.");
	for (unsigned s = 1; s < 7; s++)
		rl_text_add(t, "relais_agents{state=\"%s\"} %u\n", rl_state_names[s], by_state[s]);
	rl_help(t, "relais_agents_not_ready", "gauge", "Agents not ready, by reason (the first 32 reasons seen).");
	for (unsigned k = 0; k < nreasons; k++)
		rl_text_add(t, "relais_agents_not_ready{reason=\"%s\"} %u\n", rl_label(reasons[k].reason, r, sizeof(r)),
		            reasons[k].n);
}

static void rl_metrics_sites(struct rl_engine *e, struct rl_text *t)
{
	char s[2 * RL_WIRE_MAX_ID + 2];

	rl_help(t, "relais_site_up", "gauge", "1 while the site's node is linked to the hub.");
	for (int i = 0; i < e->nsites; i++)
		rl_text_add(t, "relais_site_up{site=\"%s\"} %d\n", rl_label(e->sites[i].id, s, sizeof(s)),
		            e->sites[i].pipe != 0);
	rl_help(t, "relais_site_health_ratio", "gauge", "The site's health as its node reports it.");
	for (int i = 0; i < e->nsites; i++)
		rl_text_add(t, "relais_site_health_ratio{site=\"%s\"} %.2f\n", rl_label(e->sites[i].id, s, sizeof(s)),
		            e->sites[i].health / 100.0);
	rl_help(t, "relais_site_agents", "gauge", "Agents seated at the site and logged in.");
	for (int i = 0; i < e->nsites; i++)
		rl_text_add(t, "relais_site_agents{site=\"%s\"} %u\n", rl_label(e->sites[i].id, s, sizeof(s)),
		            e->sites[i].agents);
	rl_help(t, "relais_site_contacts", "gauge", "Contacts the site's node holds (waiting or talking).");
	for (int i = 0; i < e->nsites; i++)
		rl_text_add(t, "relais_site_contacts{site=\"%s\"} %u\n", rl_label(e->sites[i].id, s, sizeof(s)),
		            e->sites[i].contacts);
}

static void rl_counter(struct rl_text *t, const char *name, const char *help, uint64_t v)
{
	rl_help(t, name, "counter", help);
	rl_text_add(t, "%s %llu\n", name, (unsigned long long)v);
}

static void rl_metrics_hub(struct rl_engine *e, struct rl_text *t)
{
	const Relais__HubCounters *w = &e->wire;

	rl_counter(t, "relais_hub_frames_total", "Frames decoded.", w->frames);
	rl_counter(t, "relais_hub_frames_malformed_total", "Frames that were not a valid envelope.", w->malformed);
	rl_counter(t, "relais_hub_frames_oversized_total", "Frames over the size limit.", w->oversized);
	rl_counter(t, "relais_hub_frames_bad_field_total", "Frames with a field out of bounds.", w->bad_field);
	rl_counter(t, "relais_hub_requests_total", "Requests applied.", e->ctr.requests);
	rl_counter(t, "relais_hub_requests_forbidden_total", "Requests refused by the gate.", e->ctr.forbidden);
	rl_counter(t, "relais_hub_auth_failures_total", "Failed logins and key proofs.", e->ctr.auth_failures);
	rl_counter(t, "relais_hub_send_drops_total", "Replies and pushes the hub dropped.", w->send_drops);
	rl_counter(t, "relais_hub_link_drops_total", "Frames nng dropped at a full pipe.", w->link_drops);
	rl_counter(t, "relais_hub_silent_links_total", "Links closed for saying no Hello in time.", w->silent_links);
	rl_counter(t, "relais_hub_peer_resets_total", "Connections reset during their handshake.", w->peer_resets);
	rl_counter(t, "relais_store_commits_total", "Write transactions committed.", rl_store_commits(e->store));
	if (e->relay == NULL)
		return;
	struct rl_relay_counters rc;
	rl_relay_counters(e->relay, &rc);
	rl_counter(t, "relais_relay_packets_received_total", "Datagrams the media relay received.", rc.rx);
	rl_counter(t, "relais_relay_packets_forwarded_total", "Datagrams the media relay forwarded.", rc.fwd);
	rl_counter(t, "relais_relay_packets_dropped_total", "Datagrams the media relay dropped.",
	           rl_relay_dropped(&rc));
	rl_help(t, "relais_relay_calls", "gauge", "Calls the media relay carries.");
	rl_text_add(t, "relais_relay_calls %llu\n", (unsigned long long)rc.calls);
}

void rl_engine_metrics(struct rl_engine *e, struct rl_text *t)
{
	t->len = 0;
	if (t->cap == 0) {
		t->cap = 4096;
		t->p = rl_malloc(t->cap);
	}
	t->p[0] = 0;
	rl_metrics_queues(e, t);
	rl_metrics_agents(e, t);
	rl_metrics_sites(e, t);
	rl_metrics_hub(e, t);
}
