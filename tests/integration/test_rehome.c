/*
 * An agent re-homes to the hub when its node dies. a1, seated at casablanca, dials its node
 * first and the hub after it (--connect NODE,HUB). It takes a call at casablanca, with media
 * straight from the node. The node is killed (-9): within seconds a1 is on the hub with the
 * same session (one login in its log), still READY and seated at casablanca, and told its
 * site is lost; it answers a contact submitted at fes, whose media goes through the hub's
 * relay. The node restarts: a1 stays on the hub, hears its site is back, and takes a
 * casablanca call again.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlcluster.h"
#include "rltest.h"

static struct rlc c;

/* agent_is: a1's state and site at the hub are these, and its link is up. */
static int agent_is(const char *state, const char *site)
{
	cJSON *s = rlc_status(&c), *e;
	int ok = 0;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(s, "agents"))
	{
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "agent_id"));
		const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "state"));
		const char *at = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "site_id"));
		if (id && st && at && strcmp(id, "a1") == 0)
			ok = strcmp(st, state) == 0 && strcmp(at, site) == 0 &&
			     cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "connected"));
	}
	cJSON_Delete(s);
	return ok;
}

/* in_log: lines of a1's log with needle. */
static int in_log(const char *needle)
{
	return rlc_count_in_file(rlc_path(&c, "agent-a1.log"), needle);
}

/* submit a contact through the node at url; 1 if it was taken. */
static int submit(const char *url, const char *caller)
{
	char args[256];

	snprintf(args, sizeof(args), "submit --tenant telco --queue telco.billing --caller %s", caller);
	return rlc_ctl(&c, url, args, NULL) == 0;
}

static pid_t start_casablanca(void)
{
	char *argv[] = {(char *)rltest_bin("node/relais-node"), "-c", (char *)rlc_path(&c, "node-casablanca.conf"),
	                NULL};
	pid_t p = rltest_spawn(argv, rlc_path(&c, "node-casablanca.log"));

	c.procs[c.nprocs++] = p;
	return p;
}

int main(void)
{
	char casa[128], fes[128], both[300];
	pid_t node;

	rlc_init(&c, "rehome", 1);
	c.media = 1;
	snprintf(c.top_extra, sizeof(c.top_extra), "media = { relay_listen = \"127.0.0.1:%d\"; };", rltest_free_port());
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; };"
	              " sites = [ \"casablanca\", \"fes\" ]; wrapup_s = 1; }");
	rlc_agent(&c, "a1", "telco", "billing = 5;", "casablanca");
	rlc_start_hub(&c);
	snprintf(casa, sizeof(casa), "%s", rlc_start_node(&c, "casablanca", NULL, &node));
	snprintf(fes, sizeof(fes), "%s", rlc_start_node(&c, "fes", NULL, NULL));
	snprintf(both, sizeof(both), "%s,%s", casa, c.hub_url);
	rlc_start_agents(&c, both, "a1", "answer=0.2,talk=1,wrap=0.3,fixed=1", "agent-a1.log");
	RL_REQUIRE(RL_WAIT(30000, agent_is("READY", "casablanca")));

	/* At home on its node: a casablanca call, media straight from the node. */
	RL_CHECK(submit(casa, "+212522000001"));
	RL_CHECK(rlc_wait_answered(&c, "telco.billing", 1, 30));
	RL_WAIT(20000, in_log("event=media_start contact=c0000000001 relayed=0") == 1);
	RL_WAIT(20000, agent_is("READY", "casablanca"));

	/* The node dies. */
	for (int i = 0; i < c.nprocs; i++)
		if (c.procs[i] == node)
			c.procs[i] = c.procs[--c.nprocs];
	uint64_t t0 = rl_mono_us();
	rltest_stop(node, SIGKILL, 2000);
	RL_WAIT(30000, in_log("event=resume") == 1);
	printf("a1 resumed on the hub %.1f s after its node died\n", (double)(rl_mono_us() - t0) / 1e6);
	RL_CHECK(rl_mono_us() - t0 < 15000000u);
	RL_CHECK(in_log("link moves to another endpoint") >= 1);
	RL_WAIT(10000, in_log("event=site site=casablanca up=0") >= 1);
	RL_CHECK(agent_is("READY", "casablanca"));
	RL_CHECK(in_log("event=login") == 1);

	/* A contact at fes reaches it, through the hub's relay. */
	RL_CHECK(submit(fes, "+212535000002"));
	RL_CHECK(rlc_wait_answered(&c, "telco.billing", 2, 30));
	RL_WAIT(20000, in_log("event=media_start contact=c0000000002 relayed=1") == 1);
	RL_WAIT(20000, agent_is("READY", "casablanca"));

	/* The node comes back: the agent stays on the hub, and hears it. */
	start_casablanca();
	RL_WAIT(30000, in_log("event=site site=casablanca up=1") >= 1);
	RL_CHECK(submit(casa, "+212522000003"));
	RL_CHECK(rlc_wait_answered(&c, "telco.billing", 3, 30));
	RL_WAIT(20000, in_log("event=media_end") == 3);
	RL_CHECK(rlc_log_field(rlc_path(&c, "agent-a1.log"), "event=media_end", "rx") > 0); /* the caller heard */
	RL_CHECK(in_log("event=login") == 1);
	RL_CHECK(in_log("event=resume") == 1); /* never left the hub */

	rlc_stop_all(&c);
	return rltest_done();
}
