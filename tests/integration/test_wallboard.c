/*
 * The web wallboard in a real browser: a hub serving it over HTTPS, a node with a telco and
 * a bank agent, and Debian's headless Chromium driven by tests/integration/wallboard_check.py.
 *
 * - The admin's page (its address from `relaisctl wallboard`) loads, takes the ticket out of
 *   the address, shows the telco queue, then a contact arriving (waiting 1, while its one
 *   agent is not ready) and, once the agent is made ready, answered (answered 1, the agent
 *   busy on it) - without reloading. Screenshots of both are kept in the build tree:
 *   artifacts/wallboard-waiting.png and artifacts/wallboard.png.
 * - The used ticket is refused a second time (401).
 * - The bank supervisor's page shows the bank queue and its agent, and nothing of telco: not
 *   in the page's text, not in the state the hub sent it.
 * - A made-up ticket is refused and the page says so; /events without a session, or with a
 *   forged cookie, gets 401; a ticket posted from another site's page gets 403. The hub counts
 *   the refusals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlcluster.h"
#include "rltest.h"

static struct rlc *g_cluster;
static char g_ctl[3072]; /* relaisctl with the cluster's TLS files, as operator admin */

static void stop_all(void)
{
	rlc_stop_all(g_cluster);
}

/* browse runs wallboard_check.py over steps (a JSON list); 1 if every step passed. */
static int browse(struct rlc *c, const char *name, const char *steps)
{
	char path[700], cmd[2048];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.json", c->dir, name);
	RL_REQUIRE((f = fopen(path, "w")) != NULL);
	fputs(steps, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "RELAIS_CHROMIUM_LOG=%s/chromium-%s.log python3 %s %s", c->dir, name,
	         rltest_src("tests/integration/wallboard_check.py"), path);
	return rltest_run(cmd, rlc_path(c, "browser.log")) == 0;
}

/* page_url asks the hub for a wallboard address as operator op (static storage). */
static const char *page_url(struct rlc *c, const char *op)
{
	static char url[512];
	char *out = NULL, *at;

	/* Its standard error (how long the ticket lasts) is in out too. */
	RL_REQUIRE(rlc_ctl_as(c, op, c->hub_url, "wallboard", &out) == 0);
	RL_REQUIRE((at = strstr(out, "https://")) != NULL && sscanf(at, "%511s", url) == 1);
	free(out);
	return url;
}

#define CARD(q, k)  "document.querySelector('[data-queue=\\\"" q "\\\"] [data-k=" k "]')?.textContent"
#define AGENT(a)    "document.querySelector('[data-agent=\\\"" a "\\\"] [data-k=state]')?.textContent"
#define NO_TELCO    "!document.body.innerText.includes('telco') && !JSON.stringify(last).includes('telco')"
#define ARTIFACT(n) rltest_bin("artifacts/" n)

static void admin_page(struct rlc *c, const char *node)
{
	char steps[16384], waiting[600], answered[600];
	const char *url = page_url(c, "admin"), *ticket = strstr(url, "ticket=") + 7;

	snprintf(waiting, sizeof(waiting), "%s", ARTIFACT("wallboard-waiting.png"));
	snprintf(answered, sizeof(answered), "%s", ARTIFACT("wallboard.png"));
	snprintf(
	    steps, sizeof(steps),
	    "[{\"open\": \"%s\"},\n"
	    " {\"wait\": \"" CARD("telco.billing", "waiting") " === '0' && " AGENT(
	        "m1") "?.startsWith('not ready')\", \"timeout\": 10, \"what\": \"the queue, its agent not ready\"},\n"
	              " {\"expect\": \"location.hash === ''\", \"what\": \"the ticket out of the address\"},\n"
	              " {\"expect\": \"fetch('/session', {method: 'POST', body: '%s'}).then(r => r.status === 401)\",\n"
	              "  \"what\": \"a used ticket refused\"},\n"
	              " {\"run\": [\"sh\", \"-c\", \"%s --connect %s submit --tenant telco --queue telco.billing --caller "
	              "+212522000042\"]},\n"
	              " {\"wait\": \"" CARD("telco.billing", "waiting") " === '1' && " CARD(
	                  "telco.billing",
	                  "answered") " === '0'\", \"timeout\": 5, \"what\": \"the contact waiting\"},\n"
	                              " {\"shot\": \"%s\"},\n"
	                              " {\"run\": [\"sh\", \"-c\", \"%s --connect %s agent-state m1 ready\"]},\n"
	                              " {\"wait\": \"" CARD("telco.billing", "waiting") " === '0' && " CARD(
	                                  "telco.billing",
	                                  "answered") " === '1' && " AGENT("m1") "?.startsWith('busy')\", \"timeout\": 10, \"what\": \"the contact answered\"},\n"
	                                                                         " {\"shot\": \"%s\"}]\n",
	    url, ticket, g_ctl, node, waiting, g_ctl, c->hub_url, answered);
	RL_CHECK(browse(c, "admin", steps));
}

static void supervisor_page(struct rlc *c)
{
	char steps[4096];

	snprintf(
	    steps, sizeof(steps),
	    "[{\"open\": \"%s\"},\n"
	    " {\"wait\": \"" CARD("bank.cards", "waiting") " === '0' && " AGENT(
	        "b1") " !== undefined\", \"timeout\": 10, \"what\": \"the bank queue and agent\"},\n"
	              " {\"expect\": \"document.getElementById('who').textContent === 'sup.bank (supervisor)'\", "
	              "\"what\": \"who is signed in\"},\n"
	              " {\"expect\": \"" NO_TELCO "\", \"what\": \"nothing of telco\"},\n"
	              " {\"expect\": \"JSON.stringify(last.tenants) === '[\\\"bank\\\"]'\", \"what\": \"one tenant\"}]\n",
	    page_url(c, "sup.bank"));
	RL_CHECK(browse(c, "supervisor", steps));
}

static void refusals(struct rlc *c, int port)
{
	char steps[4096];

	snprintf(
	    steps, sizeof(steps),
	    "[{\"open\": \"https://127.0.0.1:%d/#ticket=madeupmadeupmadeupmadeupmadeupmadeupmadeupA\"},\n"
	    " {\"wait\": \"document.getElementById('notice').textContent.includes('Not signed in')\", "
	    "\"timeout\": 10, \"what\": \"the page says it is not signed in\"},\n"
	    " {\"expect\": \"last === null && document.querySelectorAll('[data-queue]').length === 0\", "
	    "\"what\": \"and shows nothing\"},\n"
	    " {\"http\": {\"url\": \"https://127.0.0.1:%d/events\", \"status\": 401}, \"what\": \"no cookie\"},\n"
	    " {\"http\": {\"url\": \"https://127.0.0.1:%d/events\", \"cookie\": "
	    "\"rlwb=Zm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2VkZm9yZ2U\", \"status\": 401}, \"what\": \"a forged cookie\"},\n"
	    " {\"http\": {\"url\": \"https://127.0.0.1:%d/session\", \"method\": \"POST\", \"body\": \"x\", \"status\": "
	    "401}, \"what\": \"a made-up ticket\"},\n"
	    " {\"http\": {\"url\": \"https://127.0.0.1:%d/session\", \"method\": \"POST\", \"body\": \"x\", \"origin\": "
	    "\"https://evil.example\", \"status\": 403}, \"what\": \"from another site's page\"}]\n",
	    port, port, port, port, port);
	RL_CHECK(browse(c, "refused", steps));
}

int main(void)
{
	static struct rlc c;
	int port = rltest_free_port();
	const char *node;
	char node_url[256];

	rlc_init(&c, "wallboard", 1);
	g_cluster = &c;
	atexit(stop_all);
	snprintf(g_ctl, sizeof(g_ctl),
	         "%s --ca %s/ca.pem --cert %s/ctl.pem --key %s/ctl.key --operator admin --operator-key "
	         "%s/keys/admin.key --timeout 3",
	         rltest_bin("ctl/relaisctl"), c.certs, c.certs, c.certs, c.dir);
	snprintf(c.hub_extra, sizeof(c.hub_extra), "  wallboard_listen = \"https://127.0.0.1:%d\";\n", port);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; sites = [ ]; }");
	rlc_queue(&c, "{ id = \"bank.cards\"; tenant = \"bank\"; skills = { cards = 1; }; sites = [ ]; }");
	rlc_agent(&c, "m1", "telco", "billing = 5;", "casablanca");
	rlc_agent(&c, "b1", "bank", "cards = 5;", "casablanca");
	rlc_start_hub(&c);
	node = rlc_start_node(&c, "casablanca", NULL, NULL);
	snprintf(node_url, sizeof(node_url), "%s", node);
	rlc_start_agents(&c, node_url, "m1,b1", "answer=0.2,talk=60,fixed=1,wrap=1,breaklen=3600", "agents.log");
	RL_WAIT_REQUIRE(20000, rlc_agents_in(&c, "m1,b1", "READY"));
	/* The contact must wait before it is answered: its one agent is on a break (which the
	 * script keeps for an hour) until told to be ready. */
	RL_REQUIRE(rlc_ctl(&c, c.hub_url, "agent-state m1 not-ready break", NULL) == 0);
	RL_WAIT_REQUIRE(5000, rlc_agents_in(&c, "m1", "NOT_READY"));

	admin_page(&c, node_url);
	supervisor_page(&c);
	refusals(&c, port);
	rlc_stop_all(&c);
	/* One used ticket from the admin's page, the made-up ones, the cross-site one; no session,
	 * the forged cookie. */
	RL_CHECK(rlc_log_field(rlc_path(&c, "hub.log"), "counters", "wallboard_tickets_refused") >= 4);
	RL_CHECK(rlc_log_field(rlc_path(&c, "hub.log"), "counters", "wallboard_cookies_refused") >= 3);
	return rltest_done();
}
