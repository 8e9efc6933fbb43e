/*
 * What the agent client makes of the site's state the hub pushes: the event line in its log,
 * and the sentence its terminal UI shows - drained (by whom, why), failed over, lost, and
 * "working through the hub" once the client has moved past its first endpoint (here neither
 * endpoint answers: after RL_LINK_DEAD_MS the client dials the second).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "rl_err.h"
#include "rl_time.h"
#include "rltest.h"

static struct rl_agent_sess a;
static char log_text[4096];

/* push hands the agent a SiteState for casablanca, as its link would. */
static void push(int up, unsigned drain, const char *failover, const char *by, const char *reason)
{
	Relais__SiteState st = RELAIS__SITE_STATE__INIT;
	rl_env env;
	uint8_t *buf;
	size_t len;
	nng_msg *m;

	st.site_id = "casablanca";
	st.name = "Casablanca";
	st.up = up;
	st.drain_pct = drain;
	st.failed_over_to = (char *)failover;
	st.by = (char *)by;
	st.reason = (char *)reason;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_STATE;
	env.site_state = &st;
	RL_REQUIRE(rl_wire_encode(&env, &buf, &len) == RL_OK);
	RL_REQUIRE(nng_msg_alloc(&m, len) == 0);
	memcpy(nng_msg_body(m), buf, len);
	free(buf);
	rl_agent_input(&a, m);
}

static int line_is(const char *want)
{
	char buf[512];
	int ok = strcmp(rl_agent_site_line(&a, buf, sizeof(buf)), want) == 0;

	if (!ok)
		printf("got  \"%s\"\nwant \"%s\"\n", buf, want);
	return ok;
}

int main(void)
{
	struct rl_loop *loop;
	FILE *out = fmemopen(log_text, sizeof(log_text), "w");

	RL_REQUIRE(out != NULL && rl_loop_create(&loop) == RL_OK);
	snprintf(a.id, sizeof(a.id), "c1");
	snprintf(a.site, sizeof(a.site), "casablanca");
	a.out = out;
	RL_REQUIRE(rl_agent_open(&a, "tcp://127.0.0.1:1,tcp://127.0.0.1:2", NULL, loop, 0) == RL_OK);

	RL_CHECK(line_is("")); /* not told yet */
	push(1, 100, "", "noc", "inspection");
	RL_CHECK(line_is("site Casablanca drained 100 % by noc: inspection"));
	push(1, 100, "fes", "noc", "power cut");
	RL_CHECK(line_is("site Casablanca failed over to fes by noc: power cut"));
	push(1, 0, "", "noc", "power back");
	RL_CHECK(line_is(""));
	push(0, 0, "", "", "");
	RL_CHECK(line_is("site Casablanca lost"));
	fflush(out);
	RL_CHECK(strstr(log_text, "agent=c1 event=site site=casablanca up=1 drain=100 failover=- by=noc "
	                          "reason=\"inspection\" endpoint=tcp://127.0.0.1:1\n") != NULL);
	RL_CHECK(strstr(log_text, "event=site site=casablanca up=0 drain=0 failover=- by=- reason=\"\"") != NULL);

	/* The first endpoint never answers: the client moves on, to the hub. */
	for (uint64_t end = rl_mono_us() + (RL_LINK_DEAD_MS + 3000) * 1000ull;
	     rl_client_endpoint(a.cl) == 0 && rl_mono_us() < end;) {
		rl_agent_tick(&a);
		rltest_sleep_ms(50);
	}
	RL_CHECK(line_is("site Casablanca lost: working through the hub"));
	push(1, 0, "", "", "");
	RL_CHECK(line_is("site Casablanca up; working through the hub"));
	/* A seat the agent has left (it logged in at home since): nothing to say of it. */
	snprintf(a.site, sizeof(a.site), "%s", "");
	RL_CHECK(line_is(""));

	rl_loop_destroy(loop);
	rl_agent_close(&a);
	fclose(out);
	return rltest_done();
}
