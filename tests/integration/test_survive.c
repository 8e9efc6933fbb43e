/*
 * A survivable site, with real processes: the hub, casablanca's node (survivable) and a
 * seated agent whose client knows only its node, and fes's node (not survivable).
 *
 *   1. with the hub: the node gets its site model; a contact is answered as usual;
 *   2. the hub freezes (SIGSTOP): within seconds the node serves alone; contacts submitted
 *      there are offered to the seated agent by the site's own engine, answered, talked,
 *      wrapped up - the agent never logs in again; so is one submitted before the node
 *      noticed, which the hub never answered; fes, which cannot serve alone, turns away at
 *      once what it cannot queue;
 *   3. the hub wakes up: the node hands over what it did; the hub counts every contact once
 *      (answered = all of them, nothing lost, nothing twice) and decides again: the next
 *      contact is its own again;
 *   4. the hub freezes again, and wakes: the contacts of the second period alone are counted
 *      too (numbered apart from the first period's);
 *   5. the hub freezes for less than a node waits before dialling again: fes turns away what
 *      it had submitted; the hub, awake, takes it late, and fes ends it - nobody waits;
 *   6. the hub freezes for longer: fes turns away what it had submitted and dials again; the
 *      hub, awake, still reads the submission from the link fes left and answers on it, to
 *      nobody; fes knows the contact by its ext id when the hub's update about it comes on
 *      the new link, and ends it - nobody waits, and no answer counts.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlcluster.h"
#include "rltest.h"

static struct rlc c;

static int node_says(const char *needle)
{
	return rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), needle) >= 1;
}

static int agent_count(const char *needle)
{
	return rlc_count_in_file(rlc_path(&c, "agent-a1.log"), needle);
}

static double answered(void)
{
	cJSON *s = rlc_status(&c);
	double v = s ? rlc_queue_num(s, "telco.billing", "answered") : -1;

	cJSON_Delete(s);
	return v;
}

static double waiting(void)
{
	cJSON *s = rlc_status(&c);
	double v = s ? rlc_queue_num(s, "telco.billing", "waiting") : -1;

	cJSON_Delete(s);
	return v;
}

static int fes_says(const char *needle)
{
	return rlc_count_in_file(rlc_path(&c, "node-fes.log"), needle);
}

static int submit(const char *url, const char *caller)
{
	char args[256];

	snprintf(args, sizeof(args), "submit --tenant telco --queue telco.billing --caller %s", caller);
	return rlc_ctl(&c, url, args, NULL);
}

/* freeze_turned (steps 5 and 6): the hub freezes while fes has a submission out; fes turns it
 * away when it finds the hub lost, and dials again if the freeze lasts (past_redial); the
 * hub, awake, takes the submission late - on the same link, or from the one fes left, its
 * ack then lost and its update on the new link what fes recognises - and fes ends it: nobody
 * waits, and no answer counts. */
static void freeze_turned(const char *fes, const char *caller, int past_redial)
{
	int turned = fes_says("calls it never answered turned away"), redials = fes_says("re-dialling");
	int late = fes_says("turned away reached the hub late");

	RL_REQUIRE(kill(c.hub, SIGSTOP) == 0);
	submit(fes, caller); /* (the tool hears it cannot be queued) */
	RL_WAIT(10000, fes_says("calls it never answered turned away") > turned);
	if (past_redial)
		RL_WAIT(15000, fes_says("re-dialling") > redials);
	RL_REQUIRE(kill(c.hub, SIGCONT) == 0);
	RL_WAIT(20000, fes_says("turned away reached the hub late") > late);
	RL_CHECK(fes_says("turned away reached the hub late") == late + 1);
	RL_CHECK(past_redial || fes_says("re-dialling") == redials);
	RL_WAIT(10000, waiting() == 0);
	RL_CHECK(waiting() == 0);
	RL_WAIT(10000, answered() == 8); /* (an answer counted meanwhile is taken back) */
	RL_CHECK(answered() == 8);
}

int main(void)
{
	char casa[128], fes[128], *out = NULL;

	rlc_init(&c, "survive", 1);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; };"
	              " sites = [ \"casablanca\" ]; wrapup_s = 1; }");
	rlc_agent(&c, "a1", "telco", "billing = 5;", "casablanca");
	rlc_start_hub(&c);
	snprintf(c.node_opts, sizeof(c.node_opts), "  survivable = true;");
	snprintf(casa, sizeof(casa), "%s", rlc_start_node(&c, "casablanca", NULL, NULL));
	snprintf(fes, sizeof(fes), "%s", rlc_start_node(&c, "fes", NULL, NULL)); /* cannot serve alone */
	rlc_start_agents(&c, casa, "a1", "answer=0.2,talk=0.5,wrap=0.2,fixed=1", "agent-a1.log");
	RL_WAIT_REQUIRE(20000, agent_count("state=READY") >= 1);
	RL_WAIT_REQUIRE(20000, node_says("site model from the hub"));

	/* 1. With the hub. */
	RL_CHECK(submit(casa, "+212522000001") == 0);
	RL_WAIT(20000, answered() >= 1);

	/* 2. The hub is frozen: the site serves alone. */
	RL_REQUIRE(kill(c.hub, SIGSTOP) == 0);
	/* Before the node notices: the hub never answers it (nor the tool, which may give up
	 * first); the site's engine takes it when it starts. */
	submit(casa, "+212522000099");
	RL_WAIT(15000, node_says("the site serves alone"));
	/* fes, which cannot, turns away what it cannot queue at once (a carrier call: 503). */
	RL_WAIT(15000, rlc_count_in_file(rlc_path(&c, "node-fes.log"), "hub lost site=fes") >= 1);
	RL_CHECK(rlc_ctl(&c, fes, "submit --tenant telco --queue telco.billing --caller +212522000098", &out) != 0);
	RL_CHECK(out != NULL && strstr(out, "hub unreachable") != NULL);
	free(out);
	for (int i = 0; i < 3; i++) {
		char caller[32];
		snprintf(caller, sizeof(caller), "+21252200010%d", i);
		RL_CHECK(submit(casa, caller) == 0);
	}
	RL_WAIT(30000, agent_count("event=wrapup contact=casablanca.L") >= 4);
	RL_CHECK(agent_count("event=login") == 1); /* carried on, never logged in again */

	/* 3. The hub wakes up: the handover. */
	RL_REQUIRE(kill(c.hub, SIGCONT) == 0);
	RL_WAIT(30000, node_says("site handed over what it did alone"));
	RL_WAIT(10000, answered() >= 5);
	RL_CHECK(answered() == 5); /* every one of them, once */
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "hub.log"), "site handed over what it did alone site=casablanca") == 1);
	RL_CHECK(submit(casa, "+212522000200") == 0);
	RL_WAIT(20000, answered() >= 6);
	RL_CHECK(answered() == 6);
	RL_CHECK(agent_count("event=login") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "the site serves alone") == 1);

	/* 4. Alone again: the second period's contacts are not taken for the first's. */
	RL_REQUIRE(kill(c.hub, SIGSTOP) == 0);
	RL_WAIT(15000, rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "the site serves alone") >= 2);
	RL_CHECK(submit(casa, "+212522000300") == 0);
	RL_CHECK(submit(casa, "+212522000301") == 0);
	RL_WAIT(30000, agent_count("event=wrapup contact=casablanca.L") >= 6);
	RL_REQUIRE(kill(c.hub, SIGCONT) == 0);
	RL_WAIT(30000,
	        rlc_count_in_file(rlc_path(&c, "hub.log"), "site handed over what it did alone site=casablanca") >= 2);
	RL_WAIT(10000, answered() >= 8);
	RL_CHECK(answered() == 8);

	/* 5. A short freeze, under the 6 s before a node dials again. */
	freeze_turned(fes, "+212522000097", 0);
	/* 6. A freeze past fes's dialling again. */
	freeze_turned(fes, "+212522000096", 1);

	rlc_stop_all(&c);
	return rltest_done();
}
