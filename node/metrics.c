/*
 * metrics.c - a site node's state in Prometheus's text format, served by rl_scrape (the
 * node's config: node.metrics_listen): its link to the hub, what it relayed and submitted,
 * its media engine (calls, load of the busiest thread, packets and drops), and what each
 * source adds (the SIP trunk: INVITEs, answers, refusals, responses by code).
 */
#include "bridge.h"
#include "internal.h"
#include "record.h"
#include "rl_media.h"
#include "rl_scrape.h"

static void rl_node_metrics_media(struct rl_node *n, struct rl_text *t)
{
	struct rl_media *m = rl_node_media(n);
	struct rl_media_counters c;

	if (m == NULL)
		return;
	rl_media_counters(m, &c);
	rl_prom_gauge(t, "relais_node_media_calls", "Calls in the media engine (carrier, prompt and agent legs).",
	              c.calls);
	rl_prom_gauge(t, "relais_node_media_threads", "Media threads (shards of the calls).", rl_media_threads(m));
	rl_prom_gauge(t, "relais_node_media_load_ratio",
	              "Busy share of the busiest media thread (new calls get 503 above max_media_load).",
	              rl_media_load(m) / 100.0);
	rl_prom_counter(t, "relais_node_media_packets_received_total", "Datagrams on the media port.", c.rx);
	rl_prom_counter(t, "relais_node_media_packets_sent_total", "Datagrams sent by the media engine.", c.sent);
	rl_prom_counter(t, "relais_node_media_send_failures_total", "Datagrams the media engine could not send.",
	                c.send_fail);
	rl_prom_counter(t, "relais_node_media_dropped_total",
	                "Datagrams dropped: malformed, unknown SSRC, failed authentication, replayed, bad RTP.",
	                c.malformed + c.unknown_ssrc + c.auth_fail + c.replay + c.bad_rtp);
	rl_prom_counter(t, "relais_node_media_late_ticks_total", "Ticks the media engine fell far behind on.",
	                c.late_ticks);
}

void rl_node_metrics(struct rl_node *n, struct rl_text *t)
{
	const struct rl_node_counters *c = &n->ctr;

	rl_text_reset(t);
	rl_prom_gauge(t, "relais_node_hub_up", "1 while the hub is heard.", !n->hub_lost);
	rl_prom_gauge(t, "relais_node_drain_ratio", "Share of new calls the NOC asked the site to refuse.",
	              n->drain_pct / 100.0);
	rl_prom_counter(t, "relais_node_submitted_total", "Contacts submitted to the hub.", c->submitted);
	rl_prom_counter(t, "relais_node_acked_total", "Submissions the hub acknowledged.", c->acked);
	rl_prom_counter(t, "relais_node_refused_total", "Submissions the hub refused.", c->refused);
	rl_prom_counter(t, "relais_node_relayed_up_total", "Seated agents' frames relayed to the hub.", c->relayed_up);
	rl_prom_counter(t, "relais_node_relayed_down_total", "The hub's frames relayed to seated agents.",
	                c->relayed_down);
	rl_prom_counter(t, "relais_node_silent_links_total", "Local links closed for saying no Hello in time.",
	                c->silent_links);
	rl_node_metrics_media(n, t);
	if (n->bridge != NULL)
		rl_bridge_metrics(n->bridge, t);
	if (n->recs != NULL)
		rl_recs_metrics(n->recs, t);
	for (int i = 0; i < n->nsources; i++)
		if (n->sources[i]->ops->metrics != NULL)
			n->sources[i]->ops->metrics(n->sources[i], t);
}
