/*
 * An agent sends a call to another queue: real hub, node and agent processes.
 *
 * Level-1 agent l1 (telco.billing) answers and, at the end of its talk, transfers every call
 * to telco.escalation; level-2 agent l2 takes it there with the screen-pop saying where it
 * comes from. The hub counts it once in each queue (handled in billing, offered and answered
 * in escalation), the contact is handled once and says it was transferred once, and l1 went
 * through wrap-up. An agent of another tenant's queue cannot send its caller to telco: the
 * transfer is refused, the agent keeps the call and hangs up. The seated agents' media
 * follow: l1's call ends at the transfer, l2's starts when it answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlcluster.h"
#include "rltest.h"

int main(void)
{
	struct rlc c;
	char *out = NULL;

	rlc_init(&c, "transfer", 1);
	c.media = 1;
	snprintf(c.top_extra, sizeof(c.top_extra), "media = { relay_listen = \"127.0.0.1:%d\"; };", rltest_free_port());
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; wrapup_s = 2; }");
	rlc_queue(&c, "{ id = \"telco.escalation\"; tenant = \"telco\"; skills = { level2 = 1; }; wrapup_s = 2; }");
	rlc_queue(&c, "{ id = \"bank.cards\"; tenant = \"bank\"; skills = { cards = 1; }; wrapup_s = 2; }");
	rlc_agent(&c, "l1", "telco", "billing = 5;", "casablanca");
	rlc_agent(&c, "l2", "telco", "level2 = 5;", "casablanca");
	rlc_agent(&c, "b1", "bank", "cards = 5;", "casablanca");
	rlc_start_hub(&c);
	const char *node = rlc_start_node(&c, "casablanca", NULL, NULL);
	char url[128];
	snprintf(url, sizeof(url), "%s", node);
	rlc_start_agents(&c, url, "l1", "answer=0.2,talk=1,wrap=0.5,fixed=1,xfer=telco.escalation", "l1.log");
	rlc_start_agents(&c, url, "l2", "answer=0.2,talk=1,wrap=0.5,fixed=1", "l2.log");
	rlc_start_agents(&c, url, "b1", "answer=0.2,talk=1,wrap=0.5,fixed=1,xfer=telco.escalation", "b1.log");
	RL_WAIT_REQUIRE(30000, rlc_agents_in(&c, "l1,l2,b1", "READY"));

	RL_CHECK(rlc_ctl(&c, url, "submit --tenant telco --queue telco.billing --caller +212600000001", &out) == 0);
	free(out);
	RL_CHECK(rlc_wait_answered(&c, "telco.escalation", 1, 20));
	int handled = 0;
	for (int i = 0; i < 50 && handled < 1; i++) {
		cJSON *s = rlc_status(&c);
		handled = (int)rlc_queue_num(s, "telco.escalation", "handled");
		cJSON_Delete(s);
		if (handled < 1)
			rltest_sleep_ms(200);
	}
	cJSON *s = rlc_status(&c);
	printf(
	    "billing: offered %.0f answered %.0f handled %.0f; escalation: offered %.0f answered %.0f handled %.0f\n",
	    rlc_queue_num(s, "telco.billing", "offered"), rlc_queue_num(s, "telco.billing", "answered"),
	    rlc_queue_num(s, "telco.billing", "handled"), rlc_queue_num(s, "telco.escalation", "offered"),
	    rlc_queue_num(s, "telco.escalation", "answered"), rlc_queue_num(s, "telco.escalation", "handled"));
	RL_CHECK(rlc_queue_num(s, "telco.billing", "offered") == 1 &&
	         rlc_queue_num(s, "telco.billing", "answered") == 1);
	RL_CHECK(rlc_queue_num(s, "telco.billing", "handled") == 1);
	RL_CHECK(rlc_queue_num(s, "telco.escalation", "offered") == 1 &&
	         rlc_queue_num(s, "telco.escalation", "answered") == 1);
	RL_CHECK(rlc_queue_num(s, "telco.escalation", "handled") == 1);
	cJSON_Delete(s);

	/* l1 transferred and went through wrap-up; l2 saw where the call came from. */
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "l1.log"), "event=transfer contact=") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "l1.log"), "state=WRAPUP") >= 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "l1.log"), "event=hangup") == 0);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "l2.log"), "queue=telco.escalation") == 1);
	RL_CHECK(
	    rlc_count_in_file(rlc_path(&c, "l2.log"), "transferred_from=\"telco.billing\" transferred_by=\"l1\"") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "l2.log"), "transfer_note=\"scripted transfer\"") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "l2.log"), "event=hangup") == 1);
	/* Each agent had its own media call with the site. */
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "why=transferred") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "l1.log"), "event=media_start") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "l2.log"), "event=media_start") == 1);

	/* Another tenant's agent cannot send its caller into telco's queues. */
	RL_CHECK(rlc_ctl(&c, url, "submit --tenant bank --queue bank.cards --caller +212600000002", &out) == 0);
	free(out);
	int refused = 0, hung = 0;
	for (int i = 0; i < 60 && !(refused && hung); i++) {
		refused = rlc_count_in_file(rlc_path(&c, "b1.log"), "no such queue for this tenant");
		hung = rlc_count_in_file(rlc_path(&c, "b1.log"), "event=hangup");
		rltest_sleep_ms(200);
	}
	RL_CHECK(refused == 1);
	RL_CHECK(hung == 1);
	s = rlc_status(&c);
	RL_CHECK(rlc_queue_num(s, "telco.escalation", "offered") == 1);
	cJSON_Delete(s);

	rlc_stop_all(&c);
	return rltest_done();
}
