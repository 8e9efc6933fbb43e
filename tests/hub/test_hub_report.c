/*
 * Reports from the event log, on an engine driven by hand (hubtest.h): a scripted hour of two
 * agents and two calls, whose every figure is known in advance - agents' time by state and
 * not-ready reason cut at quarter hours, occupancy, the queue's offered, answered, abandoned
 * by wait, service level, ASA and AHT, the tenants' billing with a shared agent's hours split -
 * and the day's report equal to the live status; scopes as StatusRequest's; transfers; long
 * reports in pages. Real LMDB, real codec, the fold the hub's worker runs.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hubtest.h"
#include "internal.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rltest.h"
#include "store.h"

#define CTL     3  /* operator admin */
#define SUP     5  /* sup.telco: a supervisor of telco */
#define VIEW    6  /* wall: a viewer of bank */
#define AGENT   10 /* a1 (telco) */
#define AGENT_M 11 /* m1 (telco and bank) */
#define S       1000000ULL
#define ERR(n)  RELAIS__ERROR_CODE__ERR_##n

static struct ht h;
static uint64_t s_a1, s_m1, T;

static const char *conf(void)
{
	static char text[4096];

	snprintf(
	    text, sizeof(text),
	    "tenants = ( { id = \"telco\"; }, { id = \"bank\"; } );\n"
	    "operators = ( { id = \"admin\"; role = \"admin\"; key = \"%s\"; },\n"
	    "  { id = \"sup.telco\"; role = \"supervisor\"; tenants = [ \"telco\" ]; key = \"%s\"; },\n"
	    "  { id = \"wall\"; role = \"viewer\"; tenants = [ \"bank\" ]; key = \"%s\"; } );\n"
	    "queues = (\n"
	    " { id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; wrapup_s = 30;"
	    "   offer_timeout_s = 10; sl_seconds = 20; },\n"
	    " { id = \"telco.tech\"; tenant = \"telco\"; skills = { tech = 1; }; },\n"
	    " { id = \"bank.cards\"; tenant = \"bank\"; skills = { cards = 1; }; sl_seconds = 10; } );\n"
	    "agents = (\n"
	    " { id = \"a1\"; tenants = [ \"telco\" ]; skills = { billing = 5; }; secret_hash = \"%s\"; },\n"
	    " { id = \"m1\"; tenants = [ \"telco\", \"bank\" ]; skills = { cards = 5; }; secret_hash = \"%s\"; } );\n",
	    ht_pub("admin"), ht_pub("sup.telco"), ht_pub("wall"), ht_hash("a1-secret"), ht_hash("m1-secret"));
	return text;
}

/* advance moves the clock by s seconds, the agents heartbeating as their clients do. */
static void advance(uint64_t s)
{
	while (s > 0) {
		uint64_t step = s < 2 ? s : 2;
		ht_heartbeat(&h, AGENT, 0, s_a1);
		ht_heartbeat(&h, AGENT_M, 0, s_m1);
		ht_tick(&h, step * 1000u);
		s -= step;
	}
}

static const rl_env *report(uint32_t pipe, Relais__ReportBy by, uint64_t from, uint64_t to, uint32_t interval,
                            const char *tenant, uint32_t page)
{
	Relais__ReportRequest rq = RELAIS__REPORT_REQUEST__INIT;
	rl_env env;

	rl_env_init(&env);
	rq.by = by;
	rq.from_us = from;
	rq.to_us = to;
	rq.interval_s = interval;
	rq.tenant_id = (char *)tenant;
	rq.page = page;
	env.body_case = RELAIS__ENVELOPE__BODY_REPORT_REQUEST;
	env.report_request = &rq;
	return ht_request(&h, pipe, 0, 0, &env);
}

static const Relais__ReportRow *row(const rl_env *r, uint64_t start, const char *key)
{
	for (size_t i = 0; r && r->body_case == RELAIS__ENVELOPE__BODY_REPORT_REPLY && i < r->report_reply->n_rows; i++)
		if (r->report_reply->rows[i]->start_us == start && strcmp(r->report_reply->rows[i]->key, key) == 0)
			return r->report_reply->rows[i];
	return NULL;
}

static uint64_t reason_ms(const Relais__ReportRow *x, const char *reason)
{
	for (size_t i = 0; x && i < x->n_not_ready; i++)
		if (strcmp(x->not_ready[i]->reason, reason) == 0)
			return x->not_ready[i]->ms;
	return 0;
}

static int near(double a, double b)
{
	return fabs(a - b) < 1e-6;
}

/* script: an hour from T (a quarter-hour boundary) - a1 takes one call, another caller gives
 * up after 30 s while a1 is on a break; m1 stays logged in, not ready. Ends at T + 1000 s. */
static void script(void)
{
	const rl_env *a;
	char c1[32], c2[32];
	Relais__ContactCancel cc = RELAIS__CONTACT_CANCEL__INIT;
	rl_env env;

	ht_open(&h, conf());
	ht_tick(&h, (3600 - (h.now / S) % 3600) * 1000u); /* to the next hour */
	T = h.now;
	ht_hello(&h, CTL, RELAIS__ROLE__ROLE_CTL, "admin");
	ht_hello(&h, SUP, RELAIS__ROLE__ROLE_CTL, "sup.telco");
	ht_hello(&h, VIEW, RELAIS__ROLE__ROLE_CTL, "wall");
	ht_hello(&h, AGENT, RELAIS__ROLE__ROLE_AGENT, "");
	ht_hello(&h, AGENT_M, RELAIS__ROLE__ROLE_AGENT, "");
	RL_REQUIRE((s_a1 = ht_login(&h, AGENT, 0, "a1", "a1-secret")) != 0);
	RL_REQUIRE((s_m1 = ht_login(&h, AGENT_M, 0, "m1", "m1-secret")) != 0);
	advance(60);
	RL_REQUIRE(ht_error(ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_READY, NULL)) == 0);
	advance(60); /* T+120: a call, offered to a1 at once */
	a = ht_submit(&h, CTL, "c1", "telco", "telco.billing", "+212600");
	RL_REQUIRE(ht_error(a) == 0);
	snprintf(c1, sizeof(c1), "%s", a->submit_contact_ok->contact_id);
	advance(4);
	RL_REQUIRE(ht_error(ht_answer(&h, AGENT, s_a1, c1, 1)) == 0);
	advance(100);
	RL_REQUIRE(ht_error(ht_hangup(&h, AGENT, s_a1, c1)) == 0);
	advance(2);
	RL_REQUIRE(ht_error(ht_wrapup(&h, AGENT, s_a1, c1, "resolved", 0)) == 0);
	advance(10); /* T+236: a break, and a caller nobody takes */
	RL_REQUIRE(ht_error(ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_NOT_READY, "break")) == 0);
	a = ht_submit(&h, CTL, "c2", "telco", "telco.billing", "+212601");
	RL_REQUIRE(ht_error(a) == 0);
	snprintf(c2, sizeof(c2), "%s", a->submit_contact_ok->contact_id);
	advance(30);
	rl_env_init(&env);
	cc.contact_id = c2;
	cc.outcome = RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED;
	env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_CANCEL;
	env.contact_cancel = &cc;
	RL_REQUIRE(ht_error(ht_request(&h, CTL, 0, 0, &env)) == 0);
	advance(300); /* T+566 */
	RL_REQUIRE(ht_error(ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_READY, NULL)) == 0);
	advance(434); /* T+1000 */
}

/* agents' time by state, cut at quarter hours; occupancy */
static void test_agents(void)
{
	const rl_env *r = report(CTL, RELAIS__REPORT_BY__REPORT_BY_AGENT, T, T + 3600 * S, 900, NULL, 0);
	const Relais__ReportRow *q0 = row(r, T, "a1"), *q1 = row(r, T + 900 * S, "a1"), *m = row(r, T, "m1");

	RL_REQUIRE(ht_error(r) == 0 && q0 != NULL && q1 != NULL && m != NULL);
	RL_CHECK(r->report_reply->to_us == T + 3600 * S && r->report_reply->pages == 1);
	RL_CHECK(q0->not_ready_ms == 390000 && reason_ms(q0, "login") == 60000 && reason_ms(q0, "break") == 330000);
	RL_CHECK(q0->ready_ms == 404000 && q0->reserved_ms == 4000 && q0->busy_ms == 100000 && q0->wrapup_ms == 2000);
	RL_CHECK(q0->logged_in_ms == 900000 && near(q0->occupancy, 0.2) && near(q0->agents, 1));
	RL_CHECK(q0->answered == 1 && q0->handled == 1 && q0->handle_ms == 102000 && q0->wrap_ms == 2000);
	RL_CHECK(q0->offered == 0 && q0->abandoned == 0 && near(q0->aht_ms, 102000) && near(q0->asa_ms, 4000));
	RL_CHECK(q1->ready_ms == 100000 && q1->logged_in_ms == 100000 && q1->answered == 0 && near(q1->occupancy, 0));
	RL_CHECK(m->not_ready_ms == 900000 && reason_ms(m, "login") == 900000 && near(m->occupancy, 0));
	RL_CHECK(row(r, T + 1800 * S, "a1") == NULL); /* the future has no rows */
}

/* the queue's figures, and the day's report equal to the live status */
static void test_queue(void)
{
	uint64_t day = T / (86400 * S) * 86400 * S;
	const rl_env *r = report(CTL, RELAIS__REPORT_BY__REPORT_BY_QUEUE, T, T + 3600 * S, 0, NULL, 0);
	const Relais__ReportRow *x = row(r, T, "telco.billing");
	const Relais__QueueStat *live = NULL;
	const rl_env *st;

	RL_REQUIRE(x != NULL);
	RL_CHECK(strcmp(x->tenant_id, "telco") == 0 && x->sl_seconds == 20);
	RL_CHECK(x->offered == 2 && x->answered == 1 && x->answered_in_sl == 1 && x->abandoned == 1);
	RL_CHECK(x->n_abandoned_by_wait == 7 && x->abandoned_by_wait[3] == 1); /* 20 s < 30 s <= 30 s */
	RL_CHECK(r->report_reply->n_wait_buckets_s == 6 && r->report_reply->wait_buckets_s[3] == 30);
	RL_CHECK(near(x->service_level, 0.5) && near(x->asa_ms, 4000) && near(x->aht_ms, 102000));
	RL_CHECK(x->handled == 1 && x->wrap_ms == 2000 && x->transfers == 0 && x->missed == 0);
	RL_CHECK(x->logged_in_ms == 0 && near(x->occupancy, 0)); /* agents' time is not a queue's */
	RL_CHECK(row(r, T, "bank.cards") == NULL);
	st = ht_status(&h, CTL, "telco");
	for (size_t i = 0; st && i < st->status_reply->n_queues; i++)
		if (strcmp(st->status_reply->queues[i]->queue_id, "telco.billing") == 0)
			live = st->status_reply->queues[i];
	r = report(CTL, RELAIS__REPORT_BY__REPORT_BY_QUEUE, day, 0, 86400, NULL, 0);
	x = row(r, day, "telco.billing");
	RL_REQUIRE(live != NULL && x != NULL);
	RL_CHECK(x->offered == live->offered && x->answered == live->answered && x->abandoned == live->abandoned);
	RL_CHECK(x->answered_in_sl == live->answered_in_sl && x->handled == live->handled);
	RL_CHECK(near(x->service_level, live->service_level) && near(x->asa_ms, live->asa_ms) &&
	         near(x->aht_ms, live->aht_ms));
}

/* billing: the tenants' calls, handled minutes and agent hours, m1's split between two */
static void test_billing(void)
{
	const rl_env *r = report(CTL, RELAIS__REPORT_BY__REPORT_BY_TENANT, T, T + 3600 * S, 0, NULL, 0);
	const Relais__ReportRow *telco = row(r, T, "telco"), *bank = row(r, T, "bank");

	RL_REQUIRE(telco != NULL && bank != NULL);
	RL_CHECK(telco->handled == 1 && telco->handle_ms == 102000 && telco->offered == 2);
	RL_CHECK(telco->logged_in_ms == 1500000 && near(telco->agents, 1.5));
	RL_CHECK(r->report_reply->n_rows == 2); /* logins and the like are no tenant's contacts */
	RL_CHECK(bank->logged_in_ms == 500000 && near(bank->agents, 0.5) && bank->handled == 0);
}

/* scopes: a supervisor's and a viewer's tenants only; others' are unknown */
static void test_scopes(void)
{
	const rl_env *r = report(SUP, RELAIS__REPORT_BY__REPORT_BY_TENANT, T, T + 3600 * S, 0, NULL, 0);

	RL_CHECK(ht_error(r) == 0 && r->report_reply->n_rows == 1 && row(r, T, "telco") != NULL);
	RL_CHECK(ht_error(report(SUP, RELAIS__REPORT_BY__REPORT_BY_QUEUE, T, 0, 0, "bank", 0)) == ERR(UNKNOWN_TENANT));
	RL_CHECK(ht_error(report(SUP, RELAIS__REPORT_BY__REPORT_BY_QUEUE, T, 0, 0, "nope", 0)) == ERR(UNKNOWN_TENANT));
	r = report(SUP, RELAIS__REPORT_BY__REPORT_BY_AGENT, T, T + 3600 * S, 0, NULL, 0);
	RL_CHECK(r->report_reply->n_rows == 2 && row(r, T, "a1") && row(r, T, "m1")); /* m1 serves telco too */
	r = report(VIEW, RELAIS__REPORT_BY__REPORT_BY_AGENT, T, T + 3600 * S, 0, NULL, 0);
	RL_CHECK(r->report_reply->n_rows == 1 && row(r, T, "m1") && row(r, T, "a1") == NULL);
	r = report(VIEW, RELAIS__REPORT_BY__REPORT_BY_QUEUE, T, T + 3600 * S, 0, NULL, 0);
	RL_CHECK(ht_error(r) == 0 && r->report_reply->n_rows == 0);
	RL_CHECK(ht_error(report(CTL, RELAIS__REPORT_BY__REPORT_BY_QUEUE, T, T, 0, NULL, 0)) == ERR(BAD_REQUEST));
	RL_CHECK(ht_error(report(CTL, RELAIS__REPORT_BY__REPORT_BY_QUEUE, T, 0, 60, NULL, 0)) == ERR(BAD_REQUEST));
}

/* a call sent to another queue: a transfer (and handled) in the first, offered in the second */
static void test_transfer(void)
{
	uint64_t t = h.now;
	const rl_env *a = ht_submit(&h, CTL, "c3", "telco", "telco.billing", "+212602");
	const Relais__ReportRow *billing, *tech;
	char c3[32];

	RL_REQUIRE(ht_error(a) == 0);
	snprintf(c3, sizeof(c3), "%s", a->submit_contact_ok->contact_id);
	advance(1);
	RL_REQUIRE(ht_error(ht_answer(&h, AGENT, s_a1, c3, 1)) == 0);
	advance(10);
	RL_REQUIRE(ht_error(ht_transfer(&h, AGENT, s_a1, c3, "telco.tech", NULL)) == 0);
	advance(1);
	a = report(CTL, RELAIS__REPORT_BY__REPORT_BY_QUEUE, t, 0, 0, NULL, 0);
	billing = row(a, t, "telco.billing");
	tech = row(a, t, "telco.tech");
	RL_REQUIRE(billing != NULL && tech != NULL);
	RL_CHECK(billing->transfers == 1 && billing->handled == 1 && billing->answered == 1 && billing->offered == 1);
	RL_CHECK(tech->offered == 1 && tech->answered == 0 && tech->transfers == 0);
}

/* a report longer than a frame comes in pages, all from one fold */
static void test_pages(void)
{
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;
	char q[32];
	size_t rows = 0;
	uint32_t pages;
	const rl_env *r;

	ht_begin(&h);
	ev.type = RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED;
	ev.tenant_id = "telco";
	ev.queue_id = q;
	ev.ts_us = h.now;
	for (int i = 0; i < 3000; i++) {
		snprintf(q, sizeof(q), "old.queue.%04d", i); /* queues the directory no longer has */
		rl_store_event(h.e->store, &ev);
	}
	ht_commit(&h);
	advance(1);
	r = report(CTL, RELAIS__REPORT_BY__REPORT_BY_QUEUE, T, 0, 0, NULL, 0);
	RL_REQUIRE(ht_error(r) == 0);
	pages = r->report_reply->pages;
	uint64_t to = r->report_reply->to_us;
	RL_CHECK(pages > 1);
	for (uint32_t p = 0; p < pages; p++) {
		r = p == 0 ? r : report(CTL, RELAIS__REPORT_BY__REPORT_BY_QUEUE, T, to, 0, NULL, p);
		RL_REQUIRE(ht_error(r) == 0 && r->report_reply->page == p && r->report_reply->n_rows > 0);
		rows += r->report_reply->n_rows;
	}
	RL_CHECK(rows == 3002); /* and telco.billing, telco.tech */
	RL_CHECK(ht_error(report(CTL, RELAIS__REPORT_BY__REPORT_BY_QUEUE, T, to, 0, NULL, pages)) == ERR(BAD_REQUEST));
	/* a viewer of bank sees none of telco's rows, nor their pages */
	r = report(VIEW, RELAIS__REPORT_BY__REPORT_BY_QUEUE, T, to, 0, NULL, 0);
	RL_CHECK(ht_error(r) == 0 && r->report_reply->pages == 1 && r->report_reply->n_rows == 0);
}

int main(void)
{
	rl_log_init("test", RL_LOG_ERR);
	script();
	test_agents();
	test_queue();
	test_billing();
	test_scopes();
	test_transfer();
	test_pages();
	ht_close(&h);
	return rltest_done();
}
