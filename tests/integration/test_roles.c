/*
 * Who may do what, tried by hostile principals against real processes over TLS: every
 * certificate of the cluster's CA admits a process to the cluster, and nothing more.
 *   - a holder of the agents' certificate, without a session, can read and change nothing;
 *   - operators do what their role allows and nothing else, each refusal answered and
 *     logged: a viewer or a noc operator cannot set an agent's state, a supervisor of one
 *     tenant sees and touches nothing of another, only admin submits contacts, only noc and
 *     admin drain a site;
 *   - an operator id with another operator's key is nobody;
 *   - a node configured as Fès with Casablanca's key is refused, and Casablanca's real link
 *     stays up; no node can register as a site it has no key for;
 *   - guessing an agent's secret is slowed and logged with the guesser's address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_err.h"
#include "rlcluster.h"
#include "rltest.h"

static struct rlc c;

static int ctl_as(const char *op, const char *url, const char *args, char **out)
{
	return rlc_ctl_as(&c, op, url, args, out);
}

/* refused: the operator's command was answered with a refusal (relaisctl exits 1). */
static int refused(const char *op, const char *url, const char *args)
{
	char *out = NULL;
	int rv = ctl_as(op, url, args, &out);
	int ok = rv == 1 && out != NULL && strstr(out, "refused") != NULL;

	if (!ok)
		fprintf(stderr, "%s: %s -> exit %d: %s\n", op, args, rv, out ? out : "");
	free(out);
	return ok;
}

static int done(const char *op, const char *url, const char *args)
{
	char *out = NULL;
	int rv = ctl_as(op, url, args, &out);

	if (rv != 0)
		fprintf(stderr, "%s: %s -> exit %d: %s\n", op, args, rv, out ? out : "");
	free(out);
	return rv == 0;
}

/* sees: operator op's JSON status mentions text. */
static int sees(const char *op, const char *text)
{
	char *out = NULL;
	int seen;

	RL_REQUIRE(ctl_as(op, c.hub_url, "--json status all", &out) == 0);
	seen = strstr(out, text) != NULL;
	free(out);
	return seen;
}

/* agent_link_error: what the hub answers a request of kind body from a link holding only
 * the agents' certificate (no session). */
static int agent_link_error(rl_env *env)
{
	struct rlc_link l;
	rl_env *r;
	int code;

	rlc_link_open(&l, &c, RELAIS__ROLE__ROLE_AGENT, NULL, NULL);
	r = rlc_link_ask(&l, env);
	code = r->body_case == RELAIS__ENVELOPE__BODY_ERROR ? (int)r->error->code : 0;
	rlc_link_close(&l);
	return code;
}

static void agent_certificate(void)
{
	Relais__StatusRequest sr = RELAIS__STATUS_REQUEST__INIT;
	Relais__SubmitContact sc = RELAIS__SUBMIT_CONTACT__INIT;
	Relais__SiteRegister reg = RELAIS__SITE_REGISTER__INIT;
	Relais__AdminSetAgentState as = RELAIS__ADMIN_SET_AGENT_STATE__INIT;
	rl_env env;

	rl_env_init(&env);
	sr.agents = 1;
	env.body_case = RELAIS__ENVELOPE__BODY_STATUS_REQUEST;
	env.status_request = &sr;
	RL_CHECK(agent_link_error(&env) == RELAIS__ERROR_CODE__ERR_FORBIDDEN);
	rl_env_init(&env);
	sc.tenant_id = "telco";
	sc.queue_id = "telco.billing";
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
	env.submit_contact = &sc;
	RL_CHECK(agent_link_error(&env) == RELAIS__ERROR_CODE__ERR_FORBIDDEN);
	rl_env_init(&env);
	reg.capacity = 1;
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_REGISTER;
	env.site_register = &reg;
	RL_CHECK(agent_link_error(&env) == RELAIS__ERROR_CODE__ERR_FORBIDDEN);
	rl_env_init(&env);
	as.agent_id = "t1";
	as.state = RELAIS__AGENT_STATE__AGENT_NOT_READY;
	env.body_case = RELAIS__ENVELOPE__BODY_ADMIN_SET_AGENT_STATE;
	env.admin_set_agent_state = &as;
	RL_CHECK(agent_link_error(&env) == RELAIS__ERROR_CODE__ERR_FORBIDDEN);
}

static void operators(const char *casa)
{
	const char *hub = c.hub_url;

	/* Everyone with a role reads status; each sees its scope. */
	RL_CHECK(done("admin", hub, "status all") && done("noc", hub, "status all") &&
	         done("viewer", hub, "status all"));
	RL_CHECK(sees("sup.telco", "telco.billing") && !sees("sup.telco", "bank.cards") &&
	         !sees("sup.telco", "\"b1\""));
	RL_CHECK(sees("sup.bank", "bank.cards") && !sees("sup.bank", "telco.billing") && !sees("sup.bank", "\"t1\""));
	RL_CHECK(refused("sup.bank", hub, "status all --tenant telco"));
	/* Agent state: admin, and a supervisor for its own tenant's agents only. */
	RL_CHECK(refused("sup.telco", hub, "agent-state b1 not-ready lunch"));
	RL_CHECK(done("sup.bank", hub, "agent-state b1 not-ready lunch"));
	RL_CHECK(refused("viewer", hub, "agent-state t1 not-ready x"));
	RL_CHECK(refused("noc", hub, "agent-state t1 not-ready x"));
	RL_CHECK(done("admin", hub, "agent-state t1 not-ready meeting"));
	/* Contacts: admin only, at the hub and through a node. */
	RL_CHECK(refused("noc", hub, "submit --tenant telco --queue telco.billing"));
	RL_CHECK(refused("sup.telco", casa, "submit --tenant telco --queue telco.billing"));
	RL_CHECK(done("admin", hub, "submit --tenant telco --queue telco.billing"));
	RL_CHECK(done("admin", casa, "submit --tenant telco --queue telco.billing"));
	/* Draining a site: noc and admin, at the node. */
	RL_CHECK(refused("sup.telco", casa, "drain on"));
	RL_CHECK(refused("viewer", casa, "drain on"));
	RL_CHECK(done("noc", casa, "drain on") && done("noc", casa, "drain off"));
}

/* an operator id with another operator's key is nobody: its Hello is never answered. */
static void stolen_identity(void)
{
	char cmd[8192], *out;

	snprintf(
	    cmd, sizeof(cmd),
	    "%s --ca %s/ca.pem --cert %s/ctl.pem --key %s/ctl.key --operator admin --operator-key %s/keys/viewer.key "
	    "--connect %s --timeout 3 status 2>&1; echo \"::exit=$?\"",
	    rltest_bin("ctl/relaisctl"), c.certs, c.certs, c.certs, c.dir, c.hub_url);
	out = rltest_capture(cmd);
	RL_CHECK(out != NULL && strstr(out, "::exit=3") != NULL);
	free(out);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "hub.log"), "hello proof refused role=3 principal=admin") >= 1);
}

/* A node for Fès holding Casablanca's key: refused; Casablanca stays up. */
static void wrong_site_key(void)
{
	char cmd[4096];
	cJSON *st;

	snprintf(cmd, sizeof(cmd), "cp %s/keys/casablanca.key %s/keys/fes.key", c.dir, c.dir);
	RL_REQUIRE(rltest_run(cmd, "/dev/null") == 0);
	rlc_start_node(&c, "fes", NULL, NULL);
	for (int i = 0; i < 100 && rlc_count_in_file(rlc_path(&c, "hub.log"), "principal=fes") < 1; i++)
		rltest_sleep_ms(100); /* polling: the node dials within a second */
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "hub.log"), "hello proof refused role=2 principal=fes") >= 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-fes.log"), "server refused our hello") >= 1);
	st = rlc_status(&c);
	RL_REQUIRE(st != NULL);
	cJSON *sites = cJSON_GetObjectItemCaseSensitive(st, "sites"), *s;
	int casa_up = 0, fes_up = 1;
	cJSON_ArrayForEach(s, sites)
	{
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "site_id"));
		int up = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "connected"));
		if (id && strcmp(id, "casablanca") == 0)
			casa_up = up;
		if (id && strcmp(id, "fes") == 0)
			fes_up = up;
	}
	RL_CHECK(casa_up && !fes_up);
	cJSON_Delete(st);
}

/* Guessing an agent's secret over a real link: slowed after 3, each failure logged with the
 * address it came from (hub/lockout.c; tests/hub/test_hub_rules.c has the addresses apart). */
static void guessing(void)
{
	Relais__AgentLogin l = RELAIS__AGENT_LOGIN__INIT;
	struct rlc_link link;
	int auth = 0, limited = 0;
	rl_env env;

	rlc_link_open(&link, &c, RELAIS__ROLE__ROLE_AGENT, NULL, NULL);
	for (int i = 0; i < 6; i++) {
		rl_env_init(&env);
		l.agent_id = "t1";
		l.secret = "guess";
		env.body_case = RELAIS__ENVELOPE__BODY_AGENT_LOGIN;
		env.agent_login = &l;
		rl_env *r = rlc_link_ask(&link, &env);
		auth += r->body_case == RELAIS__ENVELOPE__BODY_ERROR && r->error->code == RELAIS__ERROR_CODE__ERR_AUTH;
		limited += r->body_case == RELAIS__ENVELOPE__BODY_ERROR &&
		           r->error->code == RELAIS__ERROR_CODE__ERR_RATE_LIMITED;
	}
	rlc_link_close(&link);
	RL_CHECK(auth == 3 && limited == 3);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "hub.log"), "login refused agent=t1 src=127.0.0.1") == 3);
}

int main(void)
{
	const char *casa;

	rlc_init(&c, "roles", 1);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; sites = [ ]; }");
	rlc_queue(&c, "{ id = \"bank.cards\"; tenant = \"bank\"; skills = { cards = 1; }; sites = [ ]; }");
	rlc_agent(&c, "t1", "telco", "billing = 5;", "");
	rlc_agent(&c, "b1", "bank", "cards = 5;", "");
	rlc_start_hub(&c);
	casa = rlc_start_node(&c, "casablanca", NULL, NULL);
	rlc_start_agents(&c, c.hub_url, "t1,b1", "answer=100,talk=1,wrap=1", "agents.log");
	for (int i = 0; i < 100 && rlc_count_in_file(rlc_path(&c, "hub.log"), "agent login") < 2; i++)
		rltest_sleep_ms(100); /* polling: both agents log in */
	for (int i = 0; i < 100 && rlc_count_in_file(rlc_path(&c, "hub.log"), "site link up site=casablanca") < 1; i++)
		rltest_sleep_ms(100);

	agent_certificate();
	operators(casa);
	stolen_identity();
	guessing();
	wrong_site_key();
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "hub.log"), "request refused") >= 5);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "drain 100% by operator=noc") == 1);
	rlc_stop_all(&c);
	return rltest_done();
}
