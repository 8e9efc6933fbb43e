/*
 * Queue position and expected wait, as a site asks for them to tell its callers.
 *
 * Real hub and agents: two agents take the first two contacts and stay on them, the rest
 * wait. The queue has no handle-time history yet, so the hub's estimate is position x aht_s
 * / working agents, exactly. A contact of higher priority goes ahead of everyone; one that
 * the caller abandons leaves a gap that closes; an agent going on a break lengthens every
 * wait; a site cannot ask about another site's contacts; an ended contact says so; the
 * queue's status gives the wait of a caller arriving now.
 */
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
#include "rltest.h"

#define AHT_S 60

static void submit(struct rlc_link *l, const char *ext, uint32_t priority, char *id, size_t idlen)
{
	Relais__SubmitContact sc = RELAIS__SUBMIT_CONTACT__INIT;
	rl_env env;

	rl_env_init(&env);
	sc.ext_id = (char *)ext;
	sc.tenant_id = "telco";
	sc.queue_id = "telco.billing";
	sc.priority = priority;
	sc.site_id = "casablanca";
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
	env.submit_contact = &sc;
	rl_env *r = rlc_link_ask(l, &env);
	RL_REQUIRE(r->body_case == RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT_OK);
	snprintf(id, idlen, "%s", r->submit_contact_ok->contact_id);
}

static const Relais__QueuePositionReply *position(struct rlc_link *l, const char *id)
{
	Relais__QueuePosition qp = RELAIS__QUEUE_POSITION__INIT;
	rl_env env;

	rl_env_init(&env);
	qp.contact_id = (char *)id;
	env.body_case = RELAIS__ENVELOPE__BODY_QUEUE_POSITION;
	env.queue_position = &qp;
	rl_env *r = rlc_link_ask(l, &env);
	if (r->body_case != RELAIS__ENVELOPE__BODY_QUEUE_POSITION_REPLY)
		return NULL;
	return r->queue_position_reply;
}

static void cancel(struct rlc_link *l, const char *id)
{
	Relais__ContactCancel cc = RELAIS__CONTACT_CANCEL__INIT;
	rl_env env;

	rl_env_init(&env);
	cc.contact_id = (char *)id;
	cc.outcome = RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED;
	env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_CANCEL;
	env.contact_cancel = &cc;
	rlc_link_ask(l, &env);
}

/* expect checks id's position and estimate: wait = pos x AHT_S / agents, rounded up. */
static void expect(struct rlc_link *l, const char *id, uint32_t pos, uint32_t agents)
{
	const Relais__QueuePositionReply *r = position(l, id);
	RL_REQUIRE(r != NULL);
	printf("%s: state %d position %u of %u, agents %u, wait %s%u s\n", id, r->state, r->position, r->waiting,
	       r->agents, r->ewt_known ? "" : "unknown ", r->ewt_s);
	RL_CHECK(r->state == RELAIS__CONTACT_STATE__CONTACT_QUEUED);
	RL_CHECK(r->position == pos);
	RL_CHECK(r->agents == agents);
	RL_CHECK(r->ewt_known == (agents > 0));
	if (agents > 0)
		RL_CHECK(r->ewt_s == (pos * AHT_S + agents - 1) / agents);
}

int main(void)
{
	struct rlc c;
	struct rlc_link l, other;
	char ids[8][64];

	rlc_init(&c, "position", 1);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; sites = [ ];"
	              " sl_pct = 90; sl_seconds = 10; wrapup_s = 5; offer_timeout_s = 10; aht_s = 60; }");
	rlc_agent(&c, "p1", "telco", "billing = 5;", "");
	rlc_agent(&c, "p2", "telco", "billing = 5;", "");
	rlc_start_hub(&c);
	rlc_link_open(&l, &c, RELAIS__ROLE__ROLE_NODE, "casablanca", rlc_site_key(&c, "casablanca"));
	rlc_link_open(&other, &c, RELAIS__ROLE__ROLE_NODE, "fes", rlc_site_key(&c, "fes"));

	/* Nobody logged in: a waiting contact has a place but no estimate. */
	submit(&l, "pos-0", 0, ids[0], sizeof(ids[0]));
	expect(&l, ids[0], 1, 0);

	/* Two agents take pos-0 and pos-1 and keep them (long calls). */
	rlc_start_agents(&c, c.hub_url, "p1,p2", "answer=0.05,talk=600,wrap=1", "agents.log");
	submit(&l, "pos-1", 0, ids[1], sizeof(ids[1]));
	RL_CHECK(rlc_wait_answered(&c, "telco.billing", 2, 20));
	for (int i = 2; i < 6; i++) {
		char ext[16];
		snprintf(ext, sizeof(ext), "pos-%d", i);
		submit(&l, ext, 0, ids[i], sizeof(ids[i]));
	}
	for (int i = 2; i < 6; i++)
		expect(&l, ids[i], (uint32_t)(i - 1), 2);

	/* A contact of higher priority is served first: everyone else moves back one. */
	submit(&l, "pos-vip", 5, ids[6], sizeof(ids[6]));
	expect(&l, ids[6], 1, 2);
	expect(&l, ids[2], 2, 2);
	expect(&l, ids[5], 5, 2);

	/* The caller of pos-3 hangs up: those behind move up. */
	cancel(&l, ids[3]);
	expect(&l, ids[4], 3, 2);
	expect(&l, ids[5], 4, 2);
	const Relais__QueuePositionReply *r = position(&l, ids[3]);
	RL_REQUIRE(r != NULL);
	RL_CHECK(r->state == RELAIS__CONTACT_STATE__CONTACT_ENDED && r->position == 0 && !r->ewt_known);

	/* A connected contact is not waiting. */
	r = position(&l, ids[0]);
	RL_REQUIRE(r != NULL);
	RL_CHECK(r->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED && r->position == 0);

	/* Another site may not ask about our callers. */
	RL_CHECK(position(&other, ids[4]) == NULL);
	RL_CHECK(other.reply->body_case == RELAIS__ENVELOPE__BODY_ERROR &&
	         other.reply->error->code == RELAIS__ERROR_CODE__ERR_FORBIDDEN);

	/* p2 asks for a break after this call: one agent left working the queue, every wait doubles. */
	char *out = NULL;
	RL_CHECK(rlc_ctl(&c, c.hub_url, "agent-state p2 not-ready break", &out) == 0);
	free(out);
	expect(&l, ids[5], 4, 1);
	/* The queue's status gives the wait of a caller arriving now: behind the 4 waiting. */
	cJSON *st = rlc_status(&c);
	double ewt = rlc_queue_num(st, "telco.billing", "ewt_s");
	printf("telco.billing: expected wait of a new caller %.0f s\n", ewt);
	RL_CHECK(ewt == 5 * AHT_S);
	cJSON_Delete(st);

	rlc_link_close(&l);
	rlc_link_close(&other);
	rlc_stop_all(&c);
	return rltest_done();
}
