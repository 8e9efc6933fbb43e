/*
 * Blips must not log anyone out: a seated agent's node is killed and restarted, then the
 * hub is restarted; the agents keep their sessions and state and go on taking contacts.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlcluster.h"
#include "rltest.h"

static int agent_in(struct rlc *c, const char *aid, const char *state)
{
	cJSON *s = rlc_status(c);
	const char *st = s ? rlc_agent_str(s, aid, "state") : NULL;
	int ok = st != NULL && strcmp(st, state) == 0;
	cJSON_Delete(s);
	return ok;
}

static int wait_state(struct rlc *c, const char *aid, const char *state, int seconds)
{
	for (int i = 0; i < seconds * 5; i++) {
		if (agent_in(c, aid, state))
			return 1;
		rltest_sleep_ms(200);
	}
	return 0;
}

int main(void)
{
	struct rlc c;
	pid_t node;

	rlc_init(&c, "blip", 1);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; };"
	              " sites = [ \"casablanca\" ]; wrapup_s = 1; }");
	rlc_agent(&c, "a1", "telco", "billing = 5;", "casablanca");
	rlc_agent(&c, "h1", "telco", "billing = 5;", "");
	rlc_start_hub(&c);
	const char *casa = rlc_start_node(&c, "casablanca", NULL, &node);
	char casa_url[128];
	snprintf(casa_url, sizeof(casa_url), "%s", casa);
	rlc_start_agents(&c, casa_url, "a1", "answer=0.2,talk=0.3,wrap=0.2", "agent-a1.log");
	rlc_start_agents(&c, c.hub_url, "h1", "answer=0.2,talk=0.3,wrap=0.2", "agent-h1.log");
	RL_REQUIRE(wait_state(&c, "a1", "READY", 20));
	RL_REQUIRE(wait_state(&c, "h1", "READY", 20));

	/* 1. The node dies and comes back on the same address. */
	for (int i = 0; i < c.nprocs; i++)
		if (c.procs[i] == node)
			c.procs[i] = c.procs[--c.nprocs];
	rltest_stop(node, SIGKILL, 2000);
	/* The hub has seen the site go: it still holds the node's agent. */
	RL_WAIT(20000, rlc_count_in_file(rlc_path(&c, "hub.log"), "site link down site=casablanca") >= 1);
	RL_CHECK(!agent_in(&c, "a1", "LOGGED_OUT"));
	/* Restart with the same config file (same listen url). */
	char *argv[] = {(char *)rltest_bin("node/relais-node"), "-c", (char *)rlc_path(&c, "node-casablanca.conf"),
	                NULL};
	c.procs[c.nprocs++] = rltest_spawn(argv, rlc_path(&c, "node-casablanca.log"));
	RL_CHECK(wait_state(&c, "a1", "READY", 20));
	RL_CHECK(rlc_ctl(&c, casa_url, "submit --tenant telco --queue telco.billing --caller +212522000001", NULL) ==
	         0);
	RL_CHECK(rlc_wait_answered(&c, "telco.billing", 1, 30));

	/* 2. The hub restarts (once the old one has exited): both agents resume where they were. */
	int back = rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "hub back site=casablanca");
	rlc_stop_hub(&c, SIGTERM);
	rlc_start_hub(&c);
	RL_CHECK(wait_state(&c, "a1", "READY", 20));
	RL_CHECK(wait_state(&c, "h1", "READY", 20));
	/* The new hub shows a1 as its store had it; the node takes submissions again once its
	 * link is back (until then it refuses them, hub unreachable). */
	RL_WAIT(20000, rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "hub back site=casablanca") > back);
	RL_CHECK(rlc_ctl(&c, casa_url, "submit --tenant telco --queue telco.billing --caller +212522000002", NULL) ==
	         0);
	RL_CHECK(rlc_wait_answered(&c, "telco.billing", 2, 30));
	/* Sessions resumed: each agent logged in exactly once. */
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-a1.log"), "event=login") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-h1.log"), "event=login") == 1);

	rlc_stop_all(&c);
	return rltest_done();
}
