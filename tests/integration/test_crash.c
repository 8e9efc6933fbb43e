/*
 * Crash test: kill -9 the hub twice while contacts stream in and agents take them.
 *
 * A submitter acting as a site node streams SubmitContact requests (unique ext_ids) and
 * records every acknowledgement. After the crashes and restarts, when everything has been
 * handled, the hub is stopped and its LMDB is read directly: every acknowledged contact must
 * be there exactly once, with the contact id and original enqueue time it was acknowledged
 * with, handled exactly once, and no contact may be left offered (no agent left reserved).
 */
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relais.pb-c.h"
#include "rl_client.h"
#include "rl_err.h"
#include "rl_loop.h"
#include "rl_time.h"
#include "rlcluster.h"
#include "rlledger.h"
#include "rltest.h"

#define NCONTACTS 400

int main(void)
{
	struct rlc c;
	struct rll l;

	rlc_init(&c, "crash", 1);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; };"
	              " sites = [ ]; sl_pct = 90; sl_seconds = 10; wrapup_s = 1; offer_timeout_s = 3; }");
	char ids[1024] = "";
	for (int i = 0; i < 12; i++) {
		char id[16];
		snprintf(id, sizeof(id), "h%02d", i);
		rlc_agent(&c, id, "telco", "billing = 5;", "");
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%s", i ? "," : "", id);
	}
	rlc_start_hub(&c);
	rlc_start_agents(&c, c.hub_url, ids, "answer=0.05,talk=0.1,wrap=0.05", "agents.log");

	rll_open(&l, &c, NCONTACTS, "crash");

	/* Stream: 400 contacts at ~100/s, with two hub crashes in the middle. */
	for (int round = 0; round < 3; round++) {
		for (int k = 0; k < 130; k++) {
			rll_submit(&l);
			rll_pump(&l, 10);
		}
		if (round < 2) {
			printf("round %d: %d submitted, %d acked; kill -9 hub\n", round, l.next, rll_acked(&l));
			RL_CHECK(rll_acked(&l) > 0);
			rlc_stop_hub(&c, SIGKILL);
			for (int k = 0; k < 10; k++)
				rll_submit(&l); /* sent into the void: must be re-sent and land once */
			rll_pump(&l, 300);
			rlc_start_hub(&c);
		}
	}
	while (l.next < NCONTACTS)
		rll_submit(&l);
	for (int i = 0; i < 300 && rll_acked(&l) < NCONTACTS; i++)
		rll_pump(&l, 100);
	printf("all submitted: %d acked, link %s\n", rll_acked(&l), rl_client_up(l.cl) ? "up" : "down");
	RL_CHECK(rll_acked(&l) == NCONTACTS);
	RL_CHECK(rll_mismatches(&l) == 0); /* a re-sent submit got the same contact id and enqueue time */

	/* Let the agents finish everything, then look at the disk. */
	RL_CHECK(rll_drain(&l, &c, NCONTACTS));
	rlc_stop_all(&c);

	char data[700];
	snprintf(data, sizeof(data), "%s/hubdata", c.dir);
	rll_verify_store(&l, data);
	rll_close(&l);
	return rltest_done();
}
