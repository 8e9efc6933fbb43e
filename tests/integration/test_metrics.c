/*
 * The hub's /metrics as Prometheus scrapes it: a real hub with a node and seated agents, a
 * real HTTP client and the reference parser of the text format (prometheus_client, in
 * tests/integration/scrape.py). A scrape without the bearer token, or with a wrong one, gets
 * 401; with it, the text parses, every family has its HELP and TYPE, and the figures are the
 * ones relaisctl status shows: the site up, the agents ready, and a contact answered counted
 * in its queue once it has been. The node serves its own: its hub link and the contact it
 * relayed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlcluster.h"
#include "rltest.h"

#define TOKEN        "relais-test-scrape-token"
#define TOKEN_SHA256 "0a5b1abadc500fc6915c9308d01151d3dc77f28a2cc7af84cda4ba514e7b67d1"

static struct rlc *g_cluster;

static void stop_all(void)
{
	rlc_stop_all(g_cluster);
}

static int scrape(struct rlc *c, int port)
{
	return rlc_scrape(c, port, TOKEN);
}

static double sample(struct rlc *c, const char *line)
{
	return rlc_sample(c, line);
}

/* node_relayed: 1 once the node's metrics show the hub up and a submission acknowledged. */
static int node_relayed(struct rlc *c, int port)
{
	return scrape(c, port) && sample(c, "relais_node_hub_up{}") == 1 && sample(c, "relais_node_acked_total{}") >= 1;
}

/* answered_counted: 1 once a scrape shows the queue's answered count as the status does (>= 1). */
static int answered_counted(struct rlc *c, int port)
{
	cJSON *st = rlc_status(c);
	double want = st ? rlc_queue_num(st, "telco.billing", "answered") : -1;

	cJSON_Delete(st);
	return want >= 1 && scrape(c, port) &&
	       sample(c, "relais_queue_answered_total{queue=\"telco.billing\",tenant=\"telco\"}") == want;
}

int main(void)
{
	static struct rlc c;
	int port = rltest_free_port(), node_port = rltest_free_port();
	const char *casa;
	char casa_url[256];

	rlc_init(&c, "metrics", 0);
	g_cluster = &c;
	atexit(stop_all);
	snprintf(c.hub_extra, sizeof(c.hub_extra),
	         "  metrics_listen = \"http://127.0.0.1:%d\";\n  metrics_token_sha256 = \"%s\";\n", port, TOKEN_SHA256);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; sites = [ ]; }");
	rlc_agent(&c, "m1", "telco", "billing = 5;", "casablanca");
	rlc_agent(&c, "m2", "telco", "billing = 5;", "casablanca");
	rlc_start_hub(&c);
	snprintf(c.node_opts, sizeof(c.node_opts),
	         "  metrics_listen = \"http://127.0.0.1:%d\";\n  metrics_token_sha256 = \"%s\";\n", node_port,
	         TOKEN_SHA256);
	casa = rlc_start_node(&c, "casablanca", NULL, NULL);
	snprintf(casa_url, sizeof(casa_url), "%s", casa);
	rlc_start_agents(&c, casa_url, "m1,m2", "answer=0.2,talk=0.5,wrap=0.2", "agents.log");
	RL_WAIT_REQUIRE(20000, rlc_agents_in(&c, "m1,m2", "READY"));

	/* The site is up and both agents ready, as the status says. */
	RL_WAIT(5000, scrape(&c, port) && sample(&c, "relais_agents{state=\"ready\"}") == 2 &&
	                  sample(&c, "relais_site_up{site=\"casablanca\"}") == 1);
	RL_CHECK(scrape(&c, port));
	RL_CHECK(sample(&c, "relais_site_up{site=\"casablanca\"}") == 1);
	RL_CHECK(sample(&c, "relais_site_up{site=\"fes\"}") == 0);
	RL_CHECK(sample(&c, "relais_site_health_ratio{site=\"casablanca\"}") == 1); /* not drained */
	RL_CHECK(sample(&c, "relais_agents{state=\"ready\"}") == 2);
	RL_CHECK(sample(&c, "relais_queue_agents_staffed{queue=\"telco.billing\",tenant=\"telco\"}") == 2);
	RL_CHECK(sample(&c, "relais_queue_service_level_target_ratio{queue=\"telco.billing\",tenant=\"telco\"}") > 0);
	RL_CHECK(sample(&c, "relais_hub_requests_total{}") > 0);

	/* A contact answered: counted in its queue as the status counts it. */
	RL_CHECK(rlc_ctl(&c, casa_url, "submit --tenant telco --queue telco.billing --caller +212522000009", NULL) ==
	         0);
	RL_CHECK(rlc_wait_answered(&c, "telco.billing", 1, 20));
	RL_WAIT(10000, answered_counted(&c, port));
	RL_CHECK(answered_counted(&c, port));
	RL_CHECK(sample(&c, "relais_queue_offered_total{queue=\"telco.billing\",tenant=\"telco\"}") >= 1);
	RL_CHECK(sample(&c, "relais_store_commits_total{}") > 0);
	/* every commit in the commit-time histogram, the same rendering */
	RL_CHECK(sample(&c, "relais_store_commit_seconds_count{}") == sample(&c, "relais_store_commits_total{}"));
	RL_CHECK(sample(&c, "relais_store_commit_seconds_bucket{le=\"+Inf\"}") ==
	         sample(&c, "relais_store_commit_seconds_count{}"));

	/* The node's own: its hub link, and the submission it relayed. */
	RL_WAIT(5000, node_relayed(&c, node_port));
	RL_CHECK(node_relayed(&c, node_port));
	RL_CHECK(sample(&c, "relais_node_submitted_total{}") >= 1);
	RL_CHECK(sample(&c, "relais_node_drain_ratio{}") == 0);
	rlc_stop_all(&c);
	/* The refused scrapes (two per run of scrape.py) are in the hub's counters line. */
	RL_CHECK(rlc_log_field(rlc_path(&c, "hub.log"), "counters", "scrapes_refused") >= 2);
	return rltest_done();
}
