/*
 * End to end over mutual TLS on loopback: a hub, two site nodes, seated agents relayed by
 * their node, a home agent dialling the hub, contacts submitted through the nodes. Checks
 * the lifecycle counts, tenant isolation, where agents are seen, and clear refusals.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "rl_err.h"
#include "rl_link.h"
#include "rl_time.h"
#include "rlcluster.h"
#include "rltest.h"

static atomic_int link_up; /* agent_link_submit's connection is made (TLS handshake done) */

static void on_link_up(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	atomic_store(&link_up, 1);
}

/* agent_link_submit: as a seated agent on the node, try to submit a contact as the site. */
static int agent_link_submit(struct rlc *c, const char *url)
{
	char ca[700], cert[700], key[700];
	nng_socket s;
	rl_env env, *r = NULL;
	Relais__Hello h = RELAIS__HELLO__INIT;
	Relais__SubmitContact sc = RELAIS__SUBMIT_CONTACT__INIT;
	int code = -1;

	snprintf(ca, sizeof(ca), "%s/ca.pem", c->certs);
	snprintf(cert, sizeof(cert), "%s/agent.pem", c->certs);
	snprintf(key, sizeof(key), "%s/agent.key", c->certs);
	struct rl_tls tls = {ca, cert, key, NULL};
	if (rl_link_client_open(&s) != RL_OK)
		return -1;
	atomic_store(&link_up, 0);
	nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, on_link_up, NULL);
	if (rl_link_dial(s, url, &tls, NULL) != RL_OK) {
		nng_close(s);
		return -1;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 1000);
	RL_WAIT(20000, atomic_load(&link_up));
	/* Sent again after each second of silence until the node answers the submission, for
	 * 20 s. */
	uint64_t end = rl_mono_us() + 20000000u;
	while (code < 0 && rl_mono_us() < end) {
		rl_env_init(&env);
		env.req_id = 1;
		h.role = RELAIS__ROLE__ROLE_AGENT;
		env.body_case = RELAIS__ENVELOPE__BODY_HELLO;
		env.hello = &h;
		rl_link_send(s, 0, &env);
		rl_env_init(&env);
		env.req_id = 2;
		sc.ext_id = "forged-1";
		sc.tenant_id = "telco";
		sc.queue_id = "telco.billing";
		env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
		env.submit_contact = &sc;
		rl_link_send(s, 0, &env);
		for (int i = 0; i < 5 && code < 0; i++) {
			nng_msg *m;
			if (nng_recvmsg(s, &m, 0) != 0)
				break;
			if (rl_link_recv_env(m, &r, NULL) == RL_OK && r->req_id == 2)
				code = r->body_case == RELAIS__ENVELOPE__BODY_ERROR ? (int)r->error->code : 0;
			rl_wire_free(r);
			r = NULL;
			nng_msg_free(m);
		}
	}
	nng_close(s);
	if (code < 0)
		fprintf(stderr, "the node did not answer a submission from a seated agent's link in 20 s\n");
	return code;
}

int main(void)
{
	struct rlc c;
	char args[512], *out = NULL;

	rlc_init(&c, "e2e", 1);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 3; };"
	              " sites = [ \"casablanca\" ]; sl_pct = 90; sl_seconds = 10; wrapup_s = 1;"
	              " overflow = ( { after_s = 1; waiting_over = 0; widen = [ \"home\" ]; } ); }");
	rlc_queue(&c, "{ id = \"bank.cards\"; tenant = \"bank\"; skills = { cards = 3; };"
	              " sites = [ \"dakar\" ]; sl_pct = 80; sl_seconds = 20; wrapup_s = 1; }");
	rlc_agent(&c, "a1", "telco", "billing = 6;", "casablanca");
	rlc_agent(&c, "a2", "bank", "cards = 6; billing = 9;", "dakar");
	rlc_agent(&c, "a3", "telco", "billing = 4;", "");
	rlc_start_hub(&c);

	const char *casa = rlc_start_node(&c, "casablanca", NULL, NULL);
	const char *dakar = rlc_start_node(&c, "dakar", NULL, NULL);
	rlc_start_agents(&c, casa, "a1", "answer=0.2,talk=0.5,wrap=0.2", "agents-casa.log");
	rlc_start_agents(&c, dakar, "a2", "answer=0.2,talk=0.5,wrap=0.2", "agents-dakar.log");
	rlc_start_agents(&c, c.hub_url, "a3", "answer=0.2,talk=0.5,wrap=0.2", "agents-home.log");

	/* All three logged in and ready. */
	RL_WAIT_REQUIRE(30000, rlc_agents_in(&c, "a1,a2,a3", "READY"));
	{
		/* Seated agents are seen at their node's site; the home agent at none. */
		cJSON *s = rlc_status(&c);
		const char *site1 = s ? rlc_agent_str(s, "a1", "site_id") : NULL;
		const char *site2 = s ? rlc_agent_str(s, "a2", "site_id") : NULL;
		const char *site3 = s ? rlc_agent_str(s, "a3", "site_id") : NULL;
		RL_CHECK(s != NULL);
		RL_CHECK(site1 && strcmp(site1, "casablanca") == 0);
		RL_CHECK(site2 && strcmp(site2, "dakar") == 0);
		RL_CHECK(site3 == NULL || site3[0] == 0);
		cJSON_Delete(s);
	}

	for (int i = 0; i < 6; i++) {
		snprintf(args, sizeof(args), "submit --tenant telco --queue telco.billing --caller +21252200%04d", i);
		RL_CHECK(rlc_ctl(&c, casa, args, NULL) == 0);
	}
	for (int i = 0; i < 3; i++) {
		snprintf(args, sizeof(args), "submit --tenant bank --queue bank.cards --caller +22177000%04d", i);
		RL_CHECK(rlc_ctl(&c, dakar, args, NULL) == 0);
	}
	RL_CHECK(rlc_wait_answered(&c, "telco.billing", 6, 40));
	RL_CHECK(rlc_wait_answered(&c, "bank.cards", 3, 40));

	/* Tenant isolation: the bank agent (who has billing skills) never saw a telco offer. */
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agents-dakar.log"), "telco") == 0);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agents-dakar.log"), "bank.cards") >= 1);

	/* An agent seated at a node cannot speak for the site: no forged contacts. */
	cJSON *before = rlc_status(&c);
	double offered = before ? rlc_queue_num(before, "telco.billing", "offered") : -1;
	cJSON_Delete(before);
	RL_CHECK(agent_link_submit(&c, casa) == RELAIS__ERROR_CODE__ERR_FORBIDDEN);
	cJSON *after = rlc_status(&c);
	RL_CHECK(after != NULL && rlc_queue_num(after, "telco.billing", "offered") == offered);
	cJSON_Delete(after);

	/* Clear refusals: unknown queue, unknown tenant, bad field. */
	RL_CHECK(rlc_ctl(&c, casa, "submit --tenant telco --queue nope", &out) == 1);
	RL_CHECK(out && strstr(out, "queue") != NULL);
	free(out);
	RL_CHECK(rlc_ctl(&c, c.hub_url, "submit --tenant acme --queue telco.billing", &out) == 1);
	RL_CHECK(out && strstr(out, "tenant") != NULL);
	free(out);
	RL_CHECK(rlc_ctl(&c, c.hub_url, "submit --tenant bank --queue telco.billing", &out) == 1);
	free(out);
	RL_CHECK(rlc_ctl(&c, c.hub_url, "submit --tenant telco --queue telco.billing --priority 42", &out) == 1);
	free(out);

	/* Wrong secret: a clear refusal, and the real agent is not disturbed. */
	char bad[700], cmd[4096];
	snprintf(bad, sizeof(bad), "%s/bad.secret", c.dir);
	FILE *f = fopen(bad, "w");
	fputs("not-the-secret\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
	         "timeout 20 %s --ca %s/ca.pem --cert %s/agent.pem --key %s/agent.key --connect %s --agent a3"
	         " --secret-file %s --script answer=1 --duration 3",
	         rltest_bin("agent-client/relais-agent"), c.certs, c.certs, c.certs, c.hub_url, bad);
	char *refused = rltest_capture(cmd);
	RL_CHECK(refused != NULL && (strstr(refused, "secret") != NULL || strstr(refused, "auth") != NULL));
	free(refused);
	cJSON *s = rlc_status(&c);
	const char *st = s ? rlc_agent_str(s, "a3", "state") : NULL;
	RL_CHECK(st != NULL && strstr(st, "LOGGED_OUT") == NULL);
	cJSON_Delete(s);

	rlc_stop_all(&c);
	return rltest_done();
}
