/*
 * `relaisctl report` against real processes: a hub, a node and two scripted agents take a few
 * contacts; then the day's report per queue says what `relaisctl status` says of the day
 * (offered, answered, within the service level, abandoned, handled, service level, ASA, AHT:
 * one fold, kpi.c's), the agents' report has their calls and their time, the billing view the
 * tenant's calls and agent hours, and a supervisor of another tenant sees nothing of them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlcluster.h"
#include "rltest.h"

#define CONTACTS 6

static struct rlc *g_cluster;

static void stop_all(void)
{
	rlc_stop_all(g_cluster);
}

/* report runs `relaisctl --json report ARGS` as op and parses it (NULL on failure). */
static cJSON *report(struct rlc *c, const char *op, const char *args)
{
	char cmd[512], *out = NULL;
	cJSON *j = NULL;

	snprintf(cmd, sizeof(cmd), "--json report %s", args);
	if (rlc_ctl_as(c, op, c->hub_url, cmd, &out) == 0)
		j = cJSON_Parse(out);
	else
		fprintf(stderr, "report %s as %s: %s\n", args, op, out ? out : "");
	free(out);
	return j;
}

static cJSON *row_of(cJSON *rep, const char *key_name, const char *key)
{
	cJSON *rows = cJSON_GetObjectItemCaseSensitive(rep, "rows"), *r;

	cJSON_ArrayForEach(r, rows)
	{
		cJSON *k = cJSON_GetObjectItemCaseSensitive(r, key_name);
		if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0)
			return r;
	}
	return NULL;
}

static double num(cJSON *o, const char *name)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static int same(double a, double b)
{
	return fabs(a - b) <= 1e-6 * (fabs(a) + fabs(b)) + 1e-9;
}

/* settled: every contact handled and both agents ready again (nothing moves while we compare). */
static int settled(struct rlc *c)
{
	cJSON *st = rlc_status(c);
	int ok = st && rlc_queue_num(st, "telco.billing", "handled") == CONTACTS && rlc_agents_in(c, "m1,m2", "READY");

	cJSON_Delete(st);
	return ok;
}

static void check_queue(struct rlc *c)
{
	cJSON *st = rlc_status(c), *rep = report(c, "admin", "queue"), *x = row_of(rep, "queue", "telco.billing");
	static const char *const same_names[][2] = {
	    {"offered", "offered"},     {"answered", "answered"}, {"answered_in_sl", "answered_in_sl"},
	    {"abandoned", "abandoned"}, {"handled", "handled"},   {"service_level", "service_level"}};

	RL_REQUIRE(st != NULL && x != NULL);
	for (size_t i = 0; i < sizeof(same_names) / sizeof(same_names[0]); i++) {
		double live = rlc_queue_num(st, "telco.billing", same_names[i][0]), rep_v = num(x, same_names[i][1]);
		if (!same(live, rep_v))
			fprintf(stderr, "%s: status %g, report %g\n", same_names[i][0], live, rep_v);
		RL_CHECK(same(live, rep_v));
	}
	RL_CHECK(same(rlc_queue_num(st, "telco.billing", "asa_ms"), num(x, "asa_s") * 1000));
	RL_CHECK(same(rlc_queue_num(st, "telco.billing", "aht_ms"), num(x, "aht_s") * 1000));
	RL_CHECK(num(x, "offered") == CONTACTS && num(x, "handled") == CONTACTS);
	cJSON_Delete(st);
	cJSON_Delete(rep);
}

static void check_agents(struct rlc *c)
{
	cJSON *rep = report(c, "admin", "agent --interval hour"), *rows = cJSON_GetObjectItemCaseSensitive(rep, "rows");
	cJSON *r;
	double answered = 0, busy = 0, logged = 0;

	RL_REQUIRE(rep != NULL);
	cJSON_ArrayForEach(r, rows)
	{
		answered += num(r, "answered");
		busy += num(r, "busy_s");
		logged += num(r, "logged_in_s");
		RL_CHECK(num(r, "occupancy") >= 0 && num(r, "occupancy") <= 1);
	}
	RL_CHECK(answered == CONTACTS);
	RL_CHECK(busy > 0 && logged >= busy);
	cJSON_Delete(rep);
	rep = report(c, "admin", "billing --interval all");
	r = row_of(rep, "tenant", "telco");
	RL_CHECK(r != NULL && num(r, "calls") == CONTACTS && num(r, "agent_hours") > 0);
	RL_CHECK(row_of(rep, "tenant", "bank") == NULL); /* no bank agent, no bank call */
	cJSON_Delete(rep);
}

static void check_scope(struct rlc *c)
{
	cJSON *rep = report(c, "sup.bank", "queue");
	char *out = NULL;

	RL_CHECK(rep != NULL && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rep, "rows")) == 0);
	cJSON_Delete(rep);
	RL_CHECK(rlc_ctl_as(c, "sup.bank", c->hub_url, "report queue --tenant telco", &out) == 1);
	RL_CHECK(out != NULL && strstr(out, "unknown tenant") != NULL);
	free(out);
	/* CSV, the default: a header, then a row per queue and day */
	RL_CHECK(rlc_ctl(c, c->hub_url, "report queue --csv", &out) == 0);
	RL_CHECK(out != NULL && strncmp(out, "start,queue,tenant,offered,answered,", 36) == 0 &&
	         strstr(out, ",telco.billing,telco,6,6,") != NULL);
	free(out);
}

int main(void)
{
	static struct rlc c;
	const char *casa;
	char casa_url[256], args[256];

	rlc_init(&c, "report", 0);
	g_cluster = &c;
	atexit(stop_all);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; sites = [ ]; }");
	rlc_agent(&c, "m1", "telco", "billing = 5;", "casablanca");
	rlc_agent(&c, "m2", "telco", "billing = 5;", "casablanca");
	rlc_start_hub(&c);
	casa = rlc_start_node(&c, "casablanca", NULL, NULL);
	snprintf(casa_url, sizeof(casa_url), "%s", casa);
	rlc_start_agents(&c, casa_url, "m1,m2", "answer=0.2,talk=0.5,wrap=0.2", "agents.log");
	RL_WAIT_REQUIRE(20000, rlc_agents_in(&c, "m1,m2", "READY"));
	for (int i = 0; i < CONTACTS; i++) {
		snprintf(args, sizeof(args), "submit --tenant telco --queue telco.billing --caller +21252200%04d", i);
		RL_CHECK(rlc_ctl(&c, casa_url, args, NULL) == 0);
	}
	RL_WAIT_REQUIRE(60000, settled(&c));
	check_queue(&c);
	check_agents(&c);
	check_scope(&c);
	rlc_stop_all(&c);
	return rltest_done();
}
