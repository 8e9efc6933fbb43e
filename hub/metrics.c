/*
 * metrics.c - the hub's state in Prometheus's text exposition format (version 0.0.4): queues
 * with their KPIs, agents by state (not-ready by reason), sites' links and health, the hub's
 * counters and its relay's. Rendered on the engine's thread from what `relaisctl status`
 * shows an unscoped operator (status.c), so the two always agree; served by rl_scrape.c.
 *
 * Names follow Prometheus's conventions: a `relais_` prefix, base units (seconds, ratios
 * 0..1), `_total` for counters. A queue's KPIs are the day's (rl_kpi_day), as the status
 * shows them: the counters go back to zero at midnight, which Prometheus's rate() takes for
 * a counter reset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "metrics.h"
#include "relay.h"
#include "rl_alloc.h"
#include "store.h"

/* The queue metrics, in the order of rl_qmetrics below. */
enum rl_qfield {
	QF_WAITING,
	QF_LONGEST,
	QF_OFFERED,
	QF_ANSWERED,
	QF_IN_SL,
	QF_ABANDONED,
	QF_HANDLED,
	QF_SL,
	QF_TARGET,
	QF_TARGET_S,
	QF_ASA,
	QF_AHT,
	QF_READY,
	QF_STAFFED,
};

static const struct {
	const char *name, *type, *help;
} rl_qmetrics[] = {
    {"relais_queue_waiting", "gauge", "Contacts waiting in the queue."},
    {"relais_queue_longest_wait_seconds", "gauge", "Wait of the oldest waiting contact."},
    {"relais_queue_offered_total", "counter", "Contacts offered to the queue today."},
    {"relais_queue_answered_total", "counter", "Contacts answered today."},
    {"relais_queue_answered_in_sl_total", "counter", "Contacts answered within the service-level time today."},
    {"relais_queue_abandoned_total", "counter", "Contacts abandoned while waiting today."},
    {"relais_queue_handled_total", "counter", "Contacts handled (talk and wrap-up done) today."},
    {"relais_queue_service_level_ratio", "gauge",
     "Answered within the target time over answered and abandoned, today."},
    {"relais_queue_service_level_target_ratio", "gauge", "The queue's service-level goal."},
    {"relais_queue_service_level_target_seconds", "gauge", "The queue's service-level time."},
    {"relais_queue_asa_seconds", "gauge", "Average speed of answer today."},
    {"relais_queue_aht_seconds", "gauge", "Average handling time today."},
    {"relais_queue_agents_ready", "gauge", "Agents ready for the queue."},
    {"relais_queue_agents_staffed", "gauge", "Agents logged in with the queue's skills."},
};

/* rl_qvalue: metric f of a queue's status row, in base units. */
static double rl_qvalue(const Relais__QueueStat *q, enum rl_qfield f)
{
	switch (f) {
	case QF_WAITING:
		return q->waiting;
	case QF_LONGEST:
		return (double)q->longest_wait_ms / 1000.0;
	case QF_OFFERED:
		return (double)q->offered;
	case QF_ANSWERED:
		return (double)q->answered;
	case QF_IN_SL:
		return (double)q->answered_in_sl;
	case QF_ABANDONED:
		return (double)q->abandoned;
	case QF_HANDLED:
		return (double)q->handled;
	case QF_SL:
		return q->service_level;
	case QF_TARGET:
		return q->sl_target_pct / 100.0;
	case QF_TARGET_S:
		return q->sl_seconds;
	case QF_ASA:
		return q->asa_ms / 1000.0;
	case QF_AHT:
		return q->aht_ms / 1000.0;
	case QF_READY:
		return q->agents_ready;
	case QF_STAFFED:
		return q->agents_staffed;
	}
	return 0;
}

/* rl_qline writes one sample of queue q's family name. */
static void rl_qline(struct rl_text *t, const char *name, const Relais__QueueStat *q, double v)
{
	char qid[2 * RL_WIRE_MAX_ID + 2], tid[2 * RL_WIRE_MAX_ID + 2];

	rl_text_add(t, "%s{queue=\"%s\",tenant=\"%s\"} %.17g\n", name, rl_prom_label(q->queue_id, qid, sizeof(qid)),
	            rl_prom_label(q->tenant_id, tid, sizeof(tid)), v);
}

static void rl_metrics_queues(struct rl_engine *e, struct rl_text *t)
{
	Relais__QueueStat *rows = rl_calloc((size_t)e->nqueues + 1, sizeof(*rows));

	for (int i = 0; i < e->nqueues; i++)
		rl_status_queue(e, i, &rows[i]);
	for (size_t m = 0; m < sizeof(rl_qmetrics) / sizeof(rl_qmetrics[0]); m++) {
		rl_prom_help(t, rl_qmetrics[m].name, rl_qmetrics[m].type, rl_qmetrics[m].help);
		for (int i = 0; i < e->nqueues; i++)
			rl_qline(t, rl_qmetrics[m].name, &rows[i], rl_qvalue(&rows[i], (enum rl_qfield)m));
	}
	/* Known or not: absent while unknown. */
	rl_prom_help(t, "relais_queue_ewt_seconds", "gauge", "Estimated wait of a contact arriving now (when known).");
	for (int i = 0; i < e->nqueues; i++)
		if (rows[i].ewt_known)
			rl_qline(t, "relais_queue_ewt_seconds", &rows[i], rows[i].ewt_s);
	rl_prom_help(t, "relais_queue_agents_needed", "gauge",
	             "Agents needed for the service-level goal (Erlang C on the last quarter hour's arrivals).");
	for (int i = 0; i < e->nqueues; i++)
		if (rows[i].staffing_known)
			rl_qline(t, "relais_queue_agents_needed", &rows[i], rows[i].agents_needed);
	rl_prom_help(t, "relais_queue_offered_per_hour", "gauge",
	             "Arrivals in the last complete quarter hour, per hour.");
	for (int i = 0; i < e->nqueues; i++)
		if (rows[i].staffing_known)
			rl_qline(t, "relais_queue_offered_per_hour", &rows[i], rows[i].offered_per_hour);
	free(rows);
}

static const char *const rl_state_names[] = {"unspecified", "logged_out", "ready",    "reserved",
                                             "busy",        "wrapup",     "not_ready"};

/* rl_metrics_agents: the agents by state, and the not-ready ones by reason (tally.c). */
static void rl_metrics_agents(struct rl_engine *e, struct rl_text *t)
{
	uint32_t by_state[RL_STATES];
	char r[2 * RL_WIRE_MAX_ID + 2];

	rl_tally_scope(e, RL_SCOPE_ALL, by_state);
	rl_prom_help(t, "relais_agents", "gauge", "Configured agents by state.");
	for (unsigned s = 1; s < RL_STATES; s++)
		rl_text_add(t, "relais_agents{state=\"%s\"} %u\n", rl_state_names[s], by_state[s]);
	rl_prom_help(t, "relais_agents_not_ready", "gauge", "Agents not ready, by reason (the first 32 reasons).");
	for (uint32_t k = 0; k < e->reasons.len && k < 32; k++)
		rl_text_add(t, "relais_agents_not_ready{reason=\"%s\"} %u\n",
		            rl_prom_label(e->reasons.v[k].why, r, sizeof(r)), e->reasons.v[k].n);
}

static void rl_metrics_sites(struct rl_engine *e, struct rl_text *t)
{
	char s[2 * RL_WIRE_MAX_ID + 2];

	rl_prom_help(t, "relais_site_up", "gauge", "1 while the site's node is linked to the hub.");
	for (int i = 0; i < e->nsites; i++)
		rl_text_add(t, "relais_site_up{site=\"%s\"} %d\n", rl_prom_label(e->sites[i].id, s, sizeof(s)),
		            e->sites[i].pipe != 0);
	rl_prom_help(t, "relais_site_health_ratio", "gauge", "The site's health as its node reports it.");
	for (int i = 0; i < e->nsites; i++)
		rl_text_add(t, "relais_site_health_ratio{site=\"%s\"} %.2f\n",
		            rl_prom_label(e->sites[i].id, s, sizeof(s)), e->sites[i].health / 100.0);
	rl_prom_help(t, "relais_site_agents", "gauge", "Agents seated at the site and logged in.");
	for (int i = 0; i < e->nsites; i++)
		rl_text_add(t, "relais_site_agents{site=\"%s\"} %u\n", rl_prom_label(e->sites[i].id, s, sizeof(s)),
		            e->sites[i].agents);
	rl_prom_help(t, "relais_site_contacts", "gauge", "Contacts the site's node holds (waiting or talking).");
	for (int i = 0; i < e->nsites; i++)
		rl_text_add(t, "relais_site_contacts{site=\"%s\"} %u\n", rl_prom_label(e->sites[i].id, s, sizeof(s)),
		            e->sites[i].contacts);
}

/* rl_metrics_commit_times: how long the store's commits took, as a Prometheus histogram. */
static void rl_metrics_commit_times(struct rl_engine *e, struct rl_text *t)
{
	const struct rl_store_commit_hist *h = rl_store_commit_times(e->store);
	uint64_t cum = 0;

	rl_prom_help(t, "relais_store_commit_seconds", "histogram",
	             "Time to commit a write transaction (its writes and fsyncs).");
	for (unsigned i = 0; i < RL_STORE_COMMIT_BUCKETS - 1; i++) {
		cum += h->n[i];
		rl_text_add(t, "relais_store_commit_seconds_bucket{le=\"%g\"} %llu\n", RL_STORE_COMMIT_LE_US[i] / 1e6,
		            (unsigned long long)cum);
	}
	cum += h->n[RL_STORE_COMMIT_BUCKETS - 1];
	rl_text_add(t, "relais_store_commit_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	rl_text_add(t, "relais_store_commit_seconds_sum %.6f\nrelais_store_commit_seconds_count %llu\n",
	            h->sum_us / 1e6, (unsigned long long)cum);
}

static void rl_metrics_hub(struct rl_engine *e, struct rl_text *t)
{
	const Relais__HubCounters *w = &e->wire;

	rl_prom_counter(t, "relais_hub_frames_total", "Frames decoded.", w->frames);
	rl_prom_counter(t, "relais_hub_frames_malformed_total", "Frames that were not a valid envelope.", w->malformed);
	rl_prom_counter(t, "relais_hub_frames_oversized_total", "Frames over the size limit.", w->oversized);
	rl_prom_counter(t, "relais_hub_frames_bad_field_total", "Frames with a field out of bounds.", w->bad_field);
	rl_prom_counter(t, "relais_hub_requests_total", "Requests applied.", e->ctr.requests);
	rl_prom_counter(t, "relais_hub_requests_forbidden_total", "Requests refused by the gate.", e->ctr.forbidden);
	rl_prom_counter(t, "relais_hub_auth_failures_total", "Failed logins and key proofs.", e->ctr.auth_failures);
	rl_prom_counter(t, "relais_hub_send_drops_total", "Replies and pushes the hub dropped.", w->send_drops);
	rl_prom_counter(t, "relais_hub_link_drops_total", "Frames refused at a link whose backlog was full.",
	                w->link_drops);
	rl_prom_counter(t, "relais_hub_silent_links_total", "Links closed for saying no Hello in time.",
	                w->silent_links);
	rl_prom_counter(t, "relais_hub_peer_resets_total", "Connections reset during their handshake.", w->peer_resets);
	rl_prom_counter(t, "relais_store_commits_total", "Write transactions committed.", rl_store_commits(e->store));
	rl_metrics_commit_times(e, t);
	if (e->relay == NULL)
		return;
	struct rl_relay_counters rc;
	rl_relay_counters(e->relay, &rc);
	rl_prom_counter(t, "relais_relay_packets_received_total", "Datagrams the media relay received.", rc.rx);
	rl_prom_counter(t, "relais_relay_packets_forwarded_total", "Datagrams the media relay forwarded.", rc.fwd);
	rl_prom_counter(t, "relais_relay_packets_dropped_total", "Datagrams the media relay dropped.",
	                rl_relay_dropped(&rc));
	rl_prom_help(t, "relais_relay_calls", "gauge", "Calls the media relay carries.");
	rl_text_add(t, "relais_relay_calls %llu\n", (unsigned long long)rc.calls);
}

void rl_engine_metrics(struct rl_engine *e, struct rl_text *t)
{
	rl_text_reset(t);
	rl_metrics_queues(e, t);
	rl_metrics_agents(e, t);
	rl_metrics_sites(e, t);
	rl_metrics_hub(e, t);
}
