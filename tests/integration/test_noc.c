/*
 * The NOC's site commands through relaisctl, against a real hub, two nodes and a seated agent.
 * As operator noc: casablanca is drained 50 %, then 100 %, and undrained; `site status` shows
 * each and its node logs each with the operator and the reason; casablanca fails over to fes
 * and back, and its seated agent is told both. `audit` lists every command with noc and its
 * reason. As the telco supervisor every command and the audit are refused (exit 1) and the
 * audit trail does not grow. An unknown site, a failover to a lost site and a drain of the
 * last site taking calls without --force each give the hub's reason (exit 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlcluster.h"
#include "rltest.h"

static struct rlc c;

/* ctl runs relaisctl as op against the hub; the exit status, the output in *out if not NULL. */
static int ctl(const char *op, const char *args, char **out)
{
	return rlc_ctl_as(&c, op, c.hub_url, args, out);
}

/* ctl_says: relaisctl as op exits with want and its output has text. */
static int ctl_says(const char *op, const char *args, int want, const char *text)
{
	char *out = NULL;
	int st = ctl(op, args, &out), ok = st == want && out != NULL && strstr(out, text) != NULL;

	printf("relaisctl %s: exit %d, said:\n%s", args, st, out ? out : "(nothing)\n");
	free(out);
	return ok;
}

/* site_is: site's field in `--json site status`, as text, is want. */
static int site_is(const char *site, const char *field, const char *want)
{
	char *out = NULL, got[128] = "";
	cJSON *j, *e;

	if (ctl("noc", "--json site status", &out) == 0 && (j = cJSON_Parse(out)) != NULL) {
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "sites"))
		{
			cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "site_id"),
			      *v = cJSON_GetObjectItemCaseSensitive(e, field);
			if (!cJSON_IsString(id) || strcmp(id->valuestring, site) != 0 || v == NULL)
				continue;
			if (cJSON_IsString(v))
				snprintf(got, sizeof(got), "%s", v->valuestring);
			else if (cJSON_IsBool(v))
				snprintf(got, sizeof(got), "%s", cJSON_IsTrue(v) ? "true" : "false");
			else
				snprintf(got, sizeof(got), "%.0f", v->valuedouble);
		}
		cJSON_Delete(j);
	}
	free(out);
	return strcmp(got, want) == 0;
}

/* audit_rows: how many entries `--json audit` lists (-1: refused or unreadable). */
static int audit_rows(const char *op)
{
	char *out = NULL;
	cJSON *j;
	int n = -1;

	if (ctl(op, "--json audit", &out) == 0 && (j = cJSON_Parse(out)) != NULL) {
		n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "entries"));
		cJSON_Delete(j);
	}
	free(out);
	return n;
}

static int node_says(const char *needle)
{
	return rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), needle) >= 1;
}

static int agent_says(const char *needle)
{
	return rlc_count_in_file(rlc_path(&c, "agent-a1.log"), needle) >= 1;
}

/* The commands noc gives, and what the node, the agent and `site status` show after each. */
static void commands(void)
{
	RL_CHECK(ctl_says("noc", "site drain casablanca --percent 50 --reason 'fibre works'", 0, "50%"));
	RL_CHECK(site_is("casablanca", "drain_pct", "50") && site_is("casablanca", "by", "noc") &&
	         site_is("casablanca", "reason", "fibre works"));
	RL_CHECK(ctl_says("noc", "site status", 0, "fibre works"));
	RL_WAIT(10000, node_says("drain 50% by operator=noc reason=\"fibre works\""));
	RL_WAIT(10000, agent_says("event=site site=casablanca up=1 drain=50 failover=- by=noc reason=\"fibre works\""));

	RL_CHECK(ctl_says("noc", "site drain casablanca --reason inspection", 0, "100%"));
	RL_CHECK(site_is("casablanca", "drain_pct", "100"));
	RL_WAIT(10000, node_says("drain 100% by operator=noc reason=\"inspection\""));

	RL_CHECK(ctl_says("noc", "site undrain casablanca --reason 'inspection over'", 0, "inspection over"));
	RL_CHECK(site_is("casablanca", "drain_pct", "0"));
	RL_WAIT(10000, node_says("drain 0% by operator=noc reason=\"inspection over\""));

	RL_CHECK(ctl_says("noc", "site failover casablanca --to fes --reason 'power cut'", 0, "fes"));
	RL_CHECK(site_is("casablanca", "failed_over_to", "fes") && site_is("casablanca", "drain_pct", "100"));
	RL_CHECK(ctl_says("noc", "site status", 0, "power cut"));
	RL_WAIT(10000,
	        agent_says("event=site site=casablanca up=1 drain=100 failover=fes by=noc reason=\"power cut\""));
	RL_CHECK(ctl_says("noc", "site failback casablanca --reason 'power back'", 0, "power back"));
	RL_CHECK(site_is("casablanca", "failed_over_to", "") && site_is("casablanca", "drain_pct", "0"));
	RL_WAIT(10000, agent_says("drain=0 failover=- by=noc reason=\"power back\""));
}

/* Each command is in the audit, with noc and its reason, oldest first. */
static void audit(void)
{
	static const char *const want[] = {
	    "drain 50% reason=\"fibre works\" -> done", "drain 100% reason=\"inspection\" -> done",
	    "undrain reason=\"inspection over\" -> done", "failover to=fes reason=\"power cut\" -> done",
	    "failback reason=\"power back\" -> done"};
	char *out = NULL, *at;

	RL_REQUIRE(ctl("noc", "audit --since 600", &out) == 0 && out != NULL);
	printf("%s", out);
	at = out;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char *hit = strstr(at, want[i]), *line = hit;
		while (line != NULL && line > out && line[-1] != '\n')
			line--;
		RL_CHECK(hit != NULL && strstr(line, " noc ") != NULL && strstr(line, " casablanca ") != NULL);
		if (hit == NULL)
			printf("audit lacks %s:\n%s", want[i], out);
		else
			at = hit;
	}
	free(out);
	RL_CHECK(audit_rows("noc") == 5);
	RL_CHECK(ctl_says("admin", "audit --limit 2", 0, "failback reason=\"power back\""));
}

/* The telco supervisor may not command sites nor read the audit. */
static void supervisor(void)
{
	static const char *const cmds[] = {
	    "site drain casablanca --percent 50 --reason x", "site undrain casablanca --reason x",
	    "site failover casablanca --to fes --reason x", "site failback casablanca --reason x", "audit"};
	int before = audit_rows("noc");

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		RL_CHECK(ctl_says("sup.telco", cmds[i], 1, "refused: "));
	RL_CHECK(ctl_says("sup.telco", "site status", 0, "casablanca")); /* sites' links: theirs to see */
	RL_CHECK(audit_rows("noc") == before);
	RL_CHECK(site_is("casablanca", "drain_pct", "0") && site_is("casablanca", "by", "noc"));
}

/* What the hub refuses, and says why. */
static void refusals(void)
{
	RL_CHECK(ctl_says("noc", "site drain rabat --reason x", 1, "no such site"));
	RL_CHECK(ctl_says("noc", "site failover casablanca --to dakar --reason x", 1, "the target site is lost"));
	RL_CHECK(ctl_says("noc", "site drain fes --reason 'fes first'", 0, "100%"));
	RL_CHECK(ctl_says("noc", "site drain casablanca --reason x", 1, "last site taking calls (add --force"));
	RL_CHECK(site_is("casablanca", "drain_pct", "0"));
	RL_CHECK(ctl_says("noc", "site drain casablanca --reason 'all out' --force", 0, "100%"));
	RL_CHECK(ctl_says("noc", "site undrain casablanca --reason back", 0, "0%"));
	RL_CHECK(ctl_says("noc", "site undrain fes --reason back", 0, "0%"));
	RL_CHECK(ctl_says("noc", "audit", 0, "refused: no such site"));
}

int main(void)
{
	rlc_init(&c, "noc", 1);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; };"
	              " sites = [ \"casablanca\", \"fes\" ]; }");
	rlc_agent(&c, "a1", "telco", "billing = 5;", "casablanca");
	rlc_start_hub(&c);
	const char *casa = rlc_start_node(&c, "casablanca", NULL, NULL);
	rlc_start_node(&c, "fes", NULL, NULL);
	rlc_start_agents(&c, casa, "a1", "answer=0.2,talk=1,wrap=0.3", "agent-a1.log");
	RL_REQUIRE(RL_WAIT(30000, site_is("casablanca", "up", "true") && site_is("fes", "up", "true")));
	RL_REQUIRE(RL_WAIT(30000, agent_says("state=READY")));
	RL_CHECK(site_is("dakar", "up", "false")); /* never started: lost */

	commands();
	audit();
	supervisor();
	refusals();
	rlc_stop_all(&c);
	return rltest_done();
}
