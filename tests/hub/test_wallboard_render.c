/*
 * What the wallboard's renderings hold (hub/wallboard.c), on an engine driven by hand: an
 * unscoped rendering has every queue with its waiting contacts and KPIs, the agents by
 * state per queue (not-ready ones by reason), the sites with their counts; a rendering for
 * the bank alone has the bank's queue and agents and nothing of telco - not a queue, not an
 * agent, not a tenant of an agent serving both, not a site's count; and a rendering changes
 * only when the model does (times in it are absolute), so equal renderings are not sent.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubtest.h"
#include "internal.h"
#include "rltest.h"
#include "wallboard.h"

#define NODE    1
#define AGENT   10 /* a1, telco */
#define AGENT_B 12 /* b1, bank */

static struct ht h;

static const char *conf(void)
{
	static char text[4096];

	snprintf(text, sizeof(text),
	         "sites = ( { id = \"casablanca\"; key = \"%s\"; } );\n"
	         "tenants = ( { id = \"telco\"; }, { id = \"bank\"; } );\n"
	         "queues = (\n"
	         " { id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 3; }; },\n"
	         " { id = \"bank.cards\"; tenant = \"bank\"; skills = { cards = 2; }; }\n"
	         ");\n"
	         "agents = (\n"
	         " { id = \"a1\"; tenants = [ \"telco\" ]; skills = { billing = 5; }; secret_hash = \"%s\"; },\n"
	         " { id = \"b1\"; tenants = [ \"bank\" ]; skills = { cards = 5; }; secret_hash = \"%s\"; },\n"
	         " { id = \"m1\"; tenants = [ \"telco\", \"bank\" ]; skills = { cards = 5; billing = 5; };"
	         "   site = \"casablanca\"; secret_hash = \"%s\"; }\n"
	         ");\n",
	         ht_pub("casablanca"), ht_hash("a"), ht_hash("b"), ht_hash("m"));
	return text;
}

static cJSON *render(uint64_t scope)
{
	char *text = rl_wallboard_render(h.e, scope);
	cJSON *j = cJSON_Parse(text);

	RL_REQUIRE(j != NULL);
	free(text);
	return j;
}

static cJSON *row(cJSON *j, const char *list, const char *id)
{
	cJSON *x;

	cJSON_ArrayForEach(x, cJSON_GetObjectItem(j, list))
	{
		cJSON *v = cJSON_GetObjectItem(x, "id");
		if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0)
			return x;
	}
	return NULL;
}

static double num(cJSON *o, const char *path)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k != NULL && o != NULL; k = strtok_r(NULL, ".", &save))
		o = cJSON_GetObjectItem(o, k);
	return cJSON_IsNumber(o) ? o->valuedouble : -1;
}

int main(void)
{
	uint64_t s_a1, s_b1, s_m1;
	cJSON *all, *bank;
	char *text, *again;

	ht_open(&h, conf());
	ht_hello(&h, NODE, RELAIS__ROLE__ROLE_NODE, "casablanca");
	ht_register(&h, NODE, 1);
	ht_hello(&h, AGENT, RELAIS__ROLE__ROLE_AGENT, "");
	ht_hello(&h, AGENT_B, RELAIS__ROLE__ROLE_AGENT, "");
	RL_REQUIRE((s_a1 = ht_login(&h, AGENT, 0, "a1", "a")) != 0);
	RL_REQUIRE((s_b1 = ht_login(&h, AGENT_B, 0, "b1", "b")) != 0);
	RL_REQUIRE((s_m1 = ht_login(&h, NODE, 5, "m1", "m")) != 0);
	RL_CHECK(ht_error(ht_set_state(&h, AGENT_B, s_b1, RELAIS__AGENT_STATE__AGENT_READY, NULL)) == 0);
	RL_CHECK(ht_error(ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_NOT_READY, "lunch")) == 0);
	/* a telco contact waits: a1 is at lunch, m1 not ready since its login */
	RL_CHECK(ht_error(ht_submit(&h, NODE, "w1", "telco", "telco.billing", "+212600")) == 0);

	all = render(RL_SCOPE_ALL);
	RL_CHECK(num(row(all, "queues", "telco.billing"), "waiting") == 1);
	RL_CHECK(num(row(all, "queues", "telco.billing"), "oldest") > 0);
	RL_CHECK(num(row(all, "queues", "telco.billing"), "sl_target") == 0.8);
	RL_CHECK(num(row(all, "queues", "telco.billing"), "staffed") == 2);
	RL_CHECK(num(row(all, "queues", "telco.billing"), "agents.not_ready") == 2);
	RL_CHECK(num(row(all, "queues", "telco.billing"), "reasons.lunch") == 1);
	RL_CHECK(num(row(all, "queues", "bank.cards"), "agents.ready") == 1);
	RL_CHECK(num(row(all, "queues", "bank.cards"), "waiting") == 0);
	RL_CHECK(num(row(all, "sites", "casablanca"), "agents") == 1); /* m1, seated */
	RL_CHECK(num(all, "agents_total") == 3);
	RL_CHECK(num(all, "agents_by_state.ready") == 1);
	RL_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(all, "agents")) == 3);

	bank = render(1u << 1);
	text = cJSON_PrintUnformatted(bank);
	RL_CHECK(strstr(text, "telco") == NULL);
	free(text);
	RL_CHECK(row(bank, "queues", "bank.cards") != NULL);
	RL_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(bank, "queues")) == 1);
	RL_CHECK(row(bank, "agents", "b1") != NULL && row(bank, "agents", "m1") != NULL);
	RL_CHECK(row(bank, "agents", "a1") == NULL);
	RL_CHECK(num(bank, "agents_total") == 2);
	RL_CHECK(row(bank, "sites", "casablanca") != NULL);
	RL_CHECK(num(row(bank, "sites", "casablanca"), "agents") == -1); /* counts span tenants */
	cJSON_Delete(bank);
	cJSON_Delete(all);

	/* The clock moves, the model does not: the same rendering. */
	text = rl_wallboard_render(h.e, RL_SCOPE_ALL);
	ht_tick(&h, 1500);
	again = rl_wallboard_render(h.e, RL_SCOPE_ALL);
	RL_CHECK(strcmp(text, again) == 0);
	free(again);
	/* It moves: b1 goes on a break. */
	RL_CHECK(ht_error(ht_set_state(&h, AGENT_B, s_b1, RELAIS__AGENT_STATE__AGENT_NOT_READY, "break")) == 0);
	again = rl_wallboard_render(h.e, RL_SCOPE_ALL);
	RL_CHECK(strcmp(text, again) != 0);
	free(again);
	free(text);
	(void)s_m1;
	ht_close(&h);
	return rltest_done();
}
