/*
 * Handshakes cut short at the hub's TLS port. A peer that sends a ClientHello and resets the
 * connection while the hub answers it made nng 1.5.2 hand NNG_ECLOSED to the hub's listener,
 * which then took no connection again: new links finished TLS and waited forever, unanswered,
 * in CLOSE-WAIT once their peers gave up (rl_nngfix.h; docs/protocol.md, "nng 1.5.2"). No
 * certificate is needed for it. Meanwhile connections that stop half-way through their
 * ClientHello stay open. The hub must go on serving - relaisctl, a node, an agent already
 * logged in and a new login - and count the resets it met. A node's port for its seated agents
 * and tools is as exposed: after the same there, a seated agent logs in through it. A link
 * that finishes its handshakes (a valid certificate) and then says nothing is closed, at the
 * hub and at the node, once its 10 s to say Hello are up (rl_greet.h), and counted.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rl_err.h"
#include "rl_link.h"
#include "rl_time.h"
#include "rlcluster.h"
#include "rltest.h"

#define CUTS    20  /* handshakes cut short */
#define PACE_MS 150 /* between two: more than nng's 100 ms pause after a failed accept */
#define HALVES  64  /* connections left open half-way through their ClientHello */

static struct rlc *g_cluster;                   /* so that an early exit (RL_REQUIRE) still stops the processes */
static atomic_int g_silent_up, g_silent_closed; /* the silent links' pipes: opened, closed */

static void silent_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)arg;
	atomic_fetch_add(ev == NNG_PIPE_EV_ADD_POST ? &g_silent_up : &g_silent_closed, 1);
}

/* silent_link dials url with an agent's certificate and never says anything. */
static nng_socket silent_link(struct rlc *c, const char *url)
{
	char ca[640], cert[640], key[640];
	struct rl_tls tls = {ca, cert, key, NULL};
	nng_socket s;

	snprintf(ca, sizeof(ca), "%s/ca.pem", c->certs);
	snprintf(cert, sizeof(cert), "%s/agent.pem", c->certs);
	snprintf(key, sizeof(key), "%s/agent.key", c->certs);
	RL_REQUIRE(rl_link_client_open(&s) == RL_OK);
	nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, silent_pipe, NULL);
	nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, silent_pipe, NULL);
	RL_REQUIRE(rl_link_dial(s, url, &tls, NULL) == RL_OK);
	return s;
}

static void stop_all(void)
{
	rlc_stop_all(g_cluster);
}

/* site_connected: 1 if the hub's status shows site's node linked. */
static int site_connected(struct rlc *c, const char *site)
{
	cJSON *s = rlc_status(c), *e;
	cJSON *sites = s ? cJSON_GetObjectItemCaseSensitive(s, "sites") : NULL;
	int up = 0;

	cJSON_ArrayForEach(e, sites)
	{
		cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "site_id");
		if (cJSON_IsString(id) && strcmp(id->valuestring, site) == 0)
			up = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "connected"));
	}
	cJSON_Delete(s);
	return up;
}

/* status_resets: the hub's peer_resets counter as relaisctl status shows it (-1: none). */
static double status_resets(struct rlc *c)
{
	cJSON *s = rlc_status(c);
	cJSON *ctr = s ? cJSON_GetObjectItemCaseSensitive(s, "counters") : NULL;
	cJSON *v = ctr ? cJSON_GetObjectItemCaseSensitive(ctr, "peer_resets") : NULL;
	double n = cJSON_IsNumber(v) ? v->valuedouble : -1;

	cJSON_Delete(s);
	return n;
}

int main(void)
{
	static struct rlc c; /* outlives main: stop_all runs at exit */
	int halves[HALVES], node_port;
	char casa[128];
	uint64_t t0;

	rlc_init(&c, "handshake", 1);
	g_cluster = &c;
	atexit(stop_all);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; sites = [ ]; }");
	rlc_agent(&c, "h1", "telco", "billing = 5;", "");
	rlc_agent(&c, "h2", "telco", "billing = 5;", "");
	rlc_agent(&c, "c3", "telco", "billing = 5;", "casablanca");
	rlc_start_hub(&c);
	snprintf(casa, sizeof(casa), "%s", rlc_start_node(&c, "casablanca", NULL, NULL));
	rlc_start_agents(&c, c.hub_url, "h1", "answer=0.2,talk=0.3,wrap=0.2", "agent-h1.log");
	RL_WAIT_REQUIRE(20000, site_connected(&c, "casablanca"));
	RL_WAIT_REQUIRE(20000, rlc_agents_in(&c, "h1", "READY"));
	/* Two links that will say nothing: to the hub, and to the node's port. */
	nng_socket quiet_hub = silent_link(&c, c.hub_url), quiet_node = silent_link(&c, casa);
	uint64_t quiet_t0 = rl_mono_us();
	RL_WAIT(10000, atomic_load(&g_silent_up) >= 2);

	/* Many connections at once that stop half-way through their hello, kept open... */
	for (int i = 0; i < HALVES; i++)
		halves[i] = rltest_half_hello(c.hub_port);
	/* ... while handshakes are cut short, paced so that each finds the listener waiting. */
	for (int i = 0; i < CUTS; i++) {
		rltest_cut_handshake(c.hub_port);
		rltest_sleep_ms(PACE_MS);
	}

	/* A new client is served, and so are the node and the agent whose links were up. */
	t0 = rl_mono_us();
	RL_WAIT_REQUIRE(15000, rlc_answers(&c));
	RL_WAIT(5000, status_resets(&c) >= 1); /* counted in the hub's status too */
	printf("relaisctl served %.1f s after the last cut handshake\n", (double)(rl_mono_us() - t0) / 1e6);
	RL_WAIT(15000, site_connected(&c, "casablanca"));
	RL_WAIT(15000, rlc_agents_in(&c, "h1", "READY"));
	/* A new login. */
	rlc_start_agents(&c, c.hub_url, "h2", "answer=0.2,talk=0.3,wrap=0.2", "agent-h2.log");
	RL_WAIT(15000, rlc_agents_in(&c, "h2", "READY"));

	/* The node's port: the same, then a seated agent logs in through it. */
	RL_REQUIRE(sscanf(strrchr(casa, ':') + 1, "%d", &node_port) == 1);
	for (int i = 0; i < CUTS; i++) {
		rltest_cut_handshake(node_port);
		rltest_sleep_ms(PACE_MS);
	}
	rlc_start_agents(&c, casa, "c3", "answer=0.2,talk=0.3,wrap=0.2", "agent-c3.log");
	RL_WAIT(15000, rlc_agents_in(&c, "c3", "READY"));

	/* The silent links were closed once their time was up (nng dials them again at once, and
	 * those are closed in their turn). */
	RL_WAIT(25000, atomic_load(&g_silent_closed) >= 2);
	printf("silent links: %d up, %d closed, the first after %.1f s\n", atomic_load(&g_silent_up),
	       atomic_load(&g_silent_closed), (double)(rl_mono_us() - quiet_t0) / 1e6);
	RL_CHECK(atomic_load(&g_silent_closed) >= 2);
	RL_CHECK(rl_mono_us() - quiet_t0 >= 9000000u); /* not before their 10 s */
	nng_close(quiet_hub);
	nng_close(quiet_node);

	for (int i = 0; i < HALVES; i++)
		close(halves[i]);
	rlc_stop_all(&c);
	/* The hub met the resets and counted them (its last counters line, at stop). */
	long resets = rlc_log_field(rlc_path(&c, "hub.log"), "counters", "peer_resets");
	printf("peer_resets=%ld of %d cut handshakes\n", resets, CUTS);
	RL_CHECK(resets >= 1);
	resets = rlc_log_field(rlc_path(&c, "node-casablanca.log"), "counters", "peer_resets");
	printf("node: peer_resets=%ld of %d cut handshakes\n", resets, CUTS);
	RL_CHECK(resets >= 1);
	long silent = rlc_log_field(rlc_path(&c, "hub.log"), "counters", "silent_links");
	long silent_node = rlc_log_field(rlc_path(&c, "node-casablanca.log"), "counters", "silent_links");
	printf("silent links closed: hub %ld, node %ld\n", silent, silent_node);
	RL_CHECK(silent >= 1 && silent_node >= 1);
	return rltest_done();
}
