/*
 * What the wallboard's renderings hold (hub/wallboard.c), on an engine driven by hand: an
 * unscoped rendering has every queue with its waiting contacts and KPIs, the agents by
 * state per queue (not-ready ones by reason), the sites with their counts; a rendering for
 * the bank alone has the bank's queue and agents and nothing of telco - not a queue, not an
 * agent, not a tenant of an agent serving both, not a site's count; a call answered shows
 * with its path and the quality its site reported, on its agent's row too; and a rendering
 * changes only when the model does (times in it are absolute), so equal renderings are not
 * sent.
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

/* register_media: casablanca's node registers again, with where its agents send media, so
 * that a call of an agent seated there gets a media plan (a direct path). */
static void register_media(void)
{
	Relais__SiteRegister sr = RELAIS__SITE_REGISTER__INIT;
	rl_env env;

	rl_env_init(&env);
	sr.capacity = 100;
	sr.health = 100;
	sr.boot_id = 1;
	sr.media_addr = "127.0.0.1:7021";
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_REGISTER;
	env.site_register = &sr;
	RL_REQUIRE(ht_error(ht_request(&h, NODE, 0, 0, &env)) == 0);
}

/* site_quality: casablanca's node reports the call's quality at its end. */
static void site_quality(const char *contact, float mos)
{
	Relais__CallQuality q = RELAIS__CALL_QUALITY__INIT;
	rl_env env;

	rl_env_init(&env);
	q.contact_id = (char *)contact;
	q.mos = mos;
	q.rtt_ms = -1;
	env.body_case = RELAIS__ENVELOPE__BODY_CALL_QUALITY;
	env.call_quality = &q;
	ht_begin(&h); /* not answered: the next report supersedes it */
	ht_input(&h, NODE, &env);
	ht_commit(&h);
}

static const char *str(cJSON *o, const char *key)
{
	cJSON *v = o ? cJSON_GetObjectItem(o, key) : NULL;
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* agent_field: field name of agent id's row (rows are arrays, their fields named once in
 * "agent_fields"); NULL if there is no such row. */
static cJSON *agent_field(cJSON *j, const char *id, const char *name)
{
	cJSON *fields = cJSON_GetObjectItem(j, "agent_fields"), *r, *f;
	int k = 0;

	cJSON_ArrayForEach(f, fields)
	{
		if (strcmp(f->valuestring, name) == 0)
			break;
		k++;
	}
	RL_REQUIRE(f != NULL);
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "agents")) if (strcmp(cJSON_GetArrayItem(r, 0)->valuestring, id) ==
	                                                            0) return cJSON_GetArrayItem(r, k);
	return NULL;
}

static const char *agent_str(cJSON *j, const char *id, const char *name)
{
	cJSON *v = agent_field(j, id, name);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* agent_tenants: agent id's tenants, as the names the rendering's places point at ("a,b"). */
static const char *agent_tenants(cJSON *j, const char *id)
{
	static char out[128];
	cJSON *t, *names = cJSON_GetObjectItem(j, "tenants");
	size_t n = 0;

	out[0] = 0;
	cJSON_ArrayForEach(t, agent_field(j, id, "tenants"))
	{
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", n ? "," : "",
		                      cJSON_GetArrayItem(names, (int)t->valuedouble)->valuestring);
	}
	return out;
}

static double num(cJSON *o, const char *path)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k != NULL && o != NULL; k = strtok_r(NULL, ".", &save))
		o = cJSON_GetObjectItem(o, k);
	return cJSON_IsNumber(o) ? o->valuedouble : -1;
}

/* call_answered: m1 takes the waiting telco contact; the call shows on the wallboard. */
static void call_answered(uint64_t s_m1)
{
	Relais__AgentSetState ready = RELAIS__AGENT_SET_STATE__INIT;
	const rl_env *o;
	cJSON *all, *call;
	char id[32];
	rl_env env;

	register_media();
	ht_forget(&h);
	rl_env_init(&env);
	ready.state = RELAIS__AGENT_STATE__AGENT_READY;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_SET_STATE;
	env.agent_set_state = &ready;
	RL_CHECK(ht_error(ht_request(&h, NODE, 5, s_m1, &env)) == 0);
	RL_REQUIRE((o = ht_last(&h, NODE, RELAIS__ENVELOPE__BODY_OFFER)) != NULL);
	snprintf(id, sizeof(id), "%s", o->offer->contact_id);
	RL_CHECK(ht_error(ht_answer_on(&h, NODE, 5, s_m1, id, 1)) == 0);
	site_quality(id, 4.2f);
	all = render(RL_SCOPE_ALL);
	call = cJSON_GetArrayItem(cJSON_GetObjectItem(all, "calls"), 0);
	RL_CHECK(strcmp(str(call, "contact"), id) == 0);
	RL_CHECK(strcmp(str(call, "agent"), "m1") == 0 && strcmp(str(call, "tenant"), "telco") == 0);
	RL_CHECK(strcmp(str(call, "path"), "direct") == 0);
	RL_CHECK(num(call, "site_end.mos") == 4.2);
	RL_CHECK(strcmp(agent_str(all, "m1", "state"), "busy") == 0);
	RL_CHECK(strcmp(agent_str(all, "m1", "contact"), id) == 0);
	RL_CHECK(num(row(all, "queues", "telco.billing"), "answered") == 1);
	cJSON_Delete(all);
	/* Not the bank's call. */
	all = render(1u << 1);
	RL_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(all, "calls")) == 0);
	cJSON_Delete(all);
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
	RL_CHECK(strcmp(agent_tenants(all, "m1"), "telco,bank") == 0);
	RL_CHECK(strcmp(agent_str(all, "a1", "reason"), "lunch") == 0);
	RL_CHECK(strcmp(agent_str(all, "a1", "state"), "not_ready") == 0);

	bank = render(1u << 1);
	text = cJSON_PrintUnformatted(bank);
	RL_CHECK(strstr(text, "telco") == NULL);
	free(text);
	RL_CHECK(row(bank, "queues", "bank.cards") != NULL);
	RL_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(bank, "queues")) == 1);
	RL_CHECK(agent_field(bank, "b1", "id") != NULL && agent_field(bank, "m1", "id") != NULL);
	RL_CHECK(agent_field(bank, "a1", "id") == NULL);
	RL_CHECK(strcmp(agent_tenants(bank, "m1"), "bank") == 0);
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
	call_answered(s_m1);
	ht_close(&h);
	return rltest_done();
}
