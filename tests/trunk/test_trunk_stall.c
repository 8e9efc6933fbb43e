/*
 * A site node stopped while an agent elsewhere takes its caller and hangs up (real processes:
 * the hub, a node with a SIP trunk, a home agent at the hub, sipp as the carrier). The hub
 * counts the answer when the agent accepts; the node, stopped, hears of it only when it runs
 * again - the connect and the end together. It must not answer the caller then (a 200 and
 * a BYE at once: an answered call nobody had): it releases them with 480 and the hub takes
 * its answer back (ContactCancel.never_connected: abandoned, not answered).
 *
 *   1. the caller queues at casablanca; its node is stopped (SIGSTOP);
 *   2. the home agent is offered the call at the hub, accepts, talks 0.5 s, hangs up;
 *   3. the node runs again (SIGCONT): the caller gets 480, never 200 (stall_unjoined.xml);
 *      the hub's queue shows the call abandoned and none answered.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "rlcluster.h"
#include "rltest.h"

int main(void)
{
	struct rlc c;
	pid_t node = 0, call;
	int sip_port, st = -1;

	rlc_init(&c, "stall", 1);
	c.media = 1;
	snprintf(c.top_extra, sizeof(c.top_extra), "media = { relay_listen = \"127.0.0.1:%d\"; };", rltest_free_port());
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; wrapup_s = 1; }");
	rlc_agent(&c, "h1", "telco", "billing = 5;", "");
	rlc_start_hub(&c);
	sip_port = rltest_free_port();
	snprintf(c.node_extra, sizeof(c.node_extra),
	         "sip = {\n"
	         "  listen = \"127.0.0.1:%d\"; media_ip = \"127.0.0.1\"; trunks = [ \"127.0.0.1\" ];\n"
	         "  dids = ( { did = \"+212522000100\"; tenant = \"telco\"; queue = \"telco.billing\"; } );\n"
	         "};\n",
	         sip_port);
	rlc_start_node(&c, "casablanca", NULL, &node);
	RL_WAIT_REQUIRE(30000, rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "sip listening addr=") >= 1);
	/* The agent picks up 1.5 s after the offer: time enough to stop the node first. */
	rlc_start_agents(&c, c.hub_url, "h1", "answer=1.5,talk=0.5,wrap=0.5,fixed=1", "agent-h1.log");
	RL_WAIT_REQUIRE(30000, rlc_agents_in(&c, "h1", "READY"));

	/* 1. The caller queues; the node stops. */
	call = rlc_sipp_start(&c, "tests/trunk/scenarios", "stall_unjoined", sip_port, "+212522000100");
	RL_WAIT_REQUIRE(10000, rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "carrier call queued") >= 1);
	RL_REQUIRE(kill(node, SIGSTOP) == 0);

	/* 2. At the hub: offered, accepted (answered), ended by the agent. */
	RL_WAIT(15000, rlc_count_in_file(rlc_path(&c, "agent-h1.log"), "event=accept") >= 1);
	RL_WAIT(15000, rlc_qnum(&c, "telco.billing", "answered") >= 1 && rlc_agents_in(&c, "h1", "WRAPUP"));

	/* 3. The node runs again: 480 for the caller, the answer taken back. */
	RL_REQUIRE(kill(node, SIGCONT) == 0);
	for (int i = 0; i < 300 && waitpid(call, &st, WNOHANG) == 0; i++)
		rltest_sleep_ms(100);
	if (waitpid(call, &st, WNOHANG) == 0) {
		rltest_stop(call, SIGTERM, 2000);
		st = -1;
	}
	printf("sipp stall_unjoined exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	RL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0); /* 480, and no 200 before it */
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "connect held") >= 1);
	RL_WAIT(10000, rlc_qnum(&c, "telco.billing", "abandoned") == 1);
	RL_CHECK(rlc_qnum(&c, "telco.billing", "answered") == 0);
	rlc_stop_all(&c);
	return rltest_done();
}
