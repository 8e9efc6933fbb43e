/*
 * The hub's rules, one scenario each, on an engine driven by hand (hubtest.h): who may send
 * which request (agents, site nodes proving their site's key, operators by role), keys that
 * prove nothing else, tenants kept apart (also from a supervisor of another tenant), login
 * lockouts that never lock an agent out of its own address, transfers refused, ring-no-answer,
 * wrap-up timers and breaks asked for during a call, a disposition given after a transfer,
 * KPIs rebuilt after a crash. Real LMDB, real codec; no sockets, no sleeps: milliseconds.
 */
#include <stdio.h>
#include <string.h>

#include "hubtest.h"
#include "internal.h"
#include "relay.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rltest.h"
#include "store.h"

#define NODE      1  /* casablanca's node */
#define NODE2     2  /* dakar's node */
#define CTL       3  /* operator admin */
#define NOC       4  /* operator noc */
#define SUP       5  /* operator sup.telco: a supervisor of telco */
#define VIEW      6  /* operator wall: a viewer of bank */
#define SUP_B     7  /* operator sup.bank: a supervisor of bank */
#define AGENT     10 /* a1's own link (home agent) */
#define AGENT2    11 /* a2 */
#define AGENT_B   12 /* b1 */
#define RELAYED   77 /* m1's chan on casablanca's node */
#define ERR(name) RELAIS__ERROR_CODE__ERR_##name

static struct ht h;
static uint64_t s_a1, s_a2, s_b1, s_m1;

static char *conf(void)
{
	static char text[8192];

	snprintf(
	    text, sizeof(text),
	    "sites = ( { id = \"casablanca\"; key = \"%s\"; }, { id = \"dakar\"; key = \"%s\"; },\n"
	    "          { id = \"marrakech\"; } );\n"
	    "tenants = ( { id = \"telco\"; monitor_notify = true; }, { id = \"bank\"; }, { id = \"ecom\"; } );\n"
	    "operators = ( { id = \"admin\"; role = \"admin\"; key = \"%s\"; },\n"
	    "              { id = \"noc\"; role = \"noc\"; key = \"%s\"; },\n"
	    "              { id = \"sup.telco\"; role = \"supervisor\"; tenants = [ \"telco\" ]; key = \"%s\"; },\n"
	    "              { id = \"wall\"; role = \"viewer\"; tenants = [ \"bank\" ]; key = \"%s\"; },\n"
	    "              { id = \"sup.bank\"; role = \"supervisor\"; tenants = [ \"bank\" ]; key = \"%s\"; } );\n"
	    "queues = (\n"
	    " { id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 3; }; wrapup_s = 3;"
	    "   offer_timeout_s = 5; sl_seconds = 20; },\n"
	    " { id = \"telco.tech\"; tenant = \"telco\"; skills = { tech = 3; }; wrapup_s = 3; },\n"
	    " { id = \"bank.cards\"; tenant = \"bank\"; skills = { cards = 2; }; wrapup_s = 3; }\n"
	    ");\n"
	    "agents = (\n"
	    " { id = \"a1\"; tenants = [ \"telco\" ]; skills = { billing = 5; tech = 5; }; secret_hash = \"%s\"; },\n"
	    " { id = \"a2\"; tenants = [ \"telco\" ]; skills = { billing = 4; }; secret_hash = \"%s\"; },\n"
	    " { id = \"n1\"; skills = { cards = 1; }; secret_hash = \"%s\"; },\n" /* of no tenant: in no scope */
	    " { id = \"b1\"; tenants = [ \"bank\" ]; skills = { cards = 5; }; secret_hash = \"%s\"; },\n"
	    " { id = \"m1\"; tenants = [ \"telco\", \"bank\" ]; skills = { cards = 5; tech = 5; };"
	    "   site = \"casablanca\"; secret_hash = \"%s\"; }\n"
	    ");\n",
	    ht_pub("casablanca"), ht_pub("dakar"), ht_pub("admin"), ht_pub("noc"), ht_pub("sup.telco"), ht_pub("wall"),
	    ht_pub("sup.bank"), ht_hash("a1-secret"), ht_hash("a2-secret"), ht_hash("n1-secret"), ht_hash("b1-secret"),
	    ht_hash("m1-secret"));
	return text;
}

/* start: a fresh hub, both nodes and a tool linked, every agent logged in (not ready). */
static void start(void)
{
	ht_open(&h, conf());
	ht_hello(&h, NODE, RELAIS__ROLE__ROLE_NODE, "casablanca");
	ht_register(&h, NODE, 1);
	ht_hello(&h, NODE2, RELAIS__ROLE__ROLE_NODE, "dakar");
	ht_register(&h, NODE2, 2);
	ht_hello(&h, CTL, RELAIS__ROLE__ROLE_CTL, "admin");
	ht_hello(&h, NOC, RELAIS__ROLE__ROLE_CTL, "noc");
	ht_hello(&h, SUP, RELAIS__ROLE__ROLE_CTL, "sup.telco");
	ht_hello(&h, VIEW, RELAIS__ROLE__ROLE_CTL, "wall");
	ht_hello(&h, AGENT, RELAIS__ROLE__ROLE_AGENT, "");
	ht_hello(&h, AGENT2, RELAIS__ROLE__ROLE_AGENT, "");
	ht_hello(&h, AGENT_B, RELAIS__ROLE__ROLE_AGENT, "");
	RL_REQUIRE((s_a1 = ht_login(&h, AGENT, 0, "a1", "a1-secret")) != 0);
	RL_REQUIRE((s_a2 = ht_login(&h, AGENT2, 0, "a2", "a2-secret")) != 0);
	RL_REQUIRE((s_b1 = ht_login(&h, AGENT_B, 0, "b1", "b1-secret")) != 0);
	RL_REQUIRE((s_m1 = ht_login(&h, NODE, RELAYED, "m1", "m1-secret")) != 0);
}

static void stop(void)
{
	ht_close(&h);
}

static int state_of(uint32_t pipe)
{
	const rl_env *st = ht_last(&h, pipe, RELAIS__ENVELOPE__BODY_AGENT_STATUS);
	return st ? (int)st->agent_status->state : -1;
}

static const char *reason_of(uint32_t pipe)
{
	const rl_env *st = ht_last(&h, pipe, RELAIS__ENVELOPE__BODY_AGENT_STATUS);
	return st && st->agent_status->reason ? st->agent_status->reason : "";
}

/* submit: a contact from casablanca's node; its id into id (size 32). */
static void submit(const char *ext, const char *queue, char *id)
{
	const rl_env *a = ht_submit(&h, NODE, ext, strncmp(queue, "bank", 4) == 0 ? "bank" : "telco", queue, "+212600");
	RL_REQUIRE(ht_error(a) == 0);
	snprintf(id, 32, "%s", a->submit_contact_ok->contact_id);
}

/* offered: the contact last offered on pipe, or "". */
static const char *offered(uint32_t pipe)
{
	const rl_env *o = ht_last(&h, pipe, RELAIS__ENVELOPE__BODY_OFFER);
	return o ? o->offer->contact_id : "";
}

static const Relais__QueueStat *queue_stat(const rl_env *st, const char *id)
{
	for (size_t i = 0; st && i < st->status_reply->n_queues; i++)
		if (strcmp(st->status_reply->queues[i]->queue_id, id) == 0)
			return st->status_reply->queues[i];
	return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* who may send what: docs/architecture.md's table, checked from every principal */

enum { P_AGENT, P_NODE, P_RELAYED, P_ADMIN, P_NOC, P_SUP, P_VIEW, NP };

struct rule {
	const char *name;
	Relais__Envelope__BodyCase body;
	int allowed[NP]; /* agent link, site node, agent relayed by a node, admin, noc, supervisor, viewer */
	int refusal;     /* the error for those not allowed */
};

static const struct rule rules[] = {
    {"AgentLogin", RELAIS__ENVELOPE__BODY_AGENT_LOGIN, {1, 0, 1, 0, 0, 0, 0}, ERR(FORBIDDEN)},
    {"AgentResume", RELAIS__ENVELOPE__BODY_AGENT_RESUME, {1, 0, 1, 0, 0, 0, 0}, ERR(FORBIDDEN)},
    {"AgentSetState", RELAIS__ENVELOPE__BODY_AGENT_SET_STATE, {1, 0, 1, 0, 0, 0, 0}, ERR(FORBIDDEN)},
    {"OfferAnswer", RELAIS__ENVELOPE__BODY_OFFER_ANSWER, {1, 0, 1, 0, 0, 0, 0}, ERR(FORBIDDEN)},
    {"ContactHangup", RELAIS__ENVELOPE__BODY_CONTACT_HANGUP, {1, 0, 1, 0, 0, 0, 0}, ERR(FORBIDDEN)},
    {"ContactTransfer", RELAIS__ENVELOPE__BODY_CONTACT_TRANSFER, {1, 0, 1, 0, 0, 0, 0}, ERR(FORBIDDEN)},
    {"WrapupDone", RELAIS__ENVELOPE__BODY_WRAPUP_DONE, {1, 0, 1, 0, 0, 0, 0}, ERR(FORBIDDEN)},
    {"SubmitContact", RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT, {0, 1, 0, 1, 0, 0, 0}, ERR(FORBIDDEN)},
    {"ContactCancel", RELAIS__ENVELOPE__BODY_CONTACT_CANCEL, {0, 1, 0, 1, 0, 0, 0}, ERR(FORBIDDEN)},
    {"QueuePosition", RELAIS__ENVELOPE__BODY_QUEUE_POSITION, {0, 1, 0, 1, 0, 0, 0}, ERR(FORBIDDEN)},
    {"TransferResult", RELAIS__ENVELOPE__BODY_TRANSFER_RESULT, {0, 1, 0, 0, 0, 0, 0}, ERR(FORBIDDEN)},
    {"SiteRegister", RELAIS__ENVELOPE__BODY_SITE_REGISTER, {0, 1, 0, 0, 0, 0, 0}, ERR(FORBIDDEN)},
    {"StatusRequest", RELAIS__ENVELOPE__BODY_STATUS_REQUEST, {0, 0, 0, 1, 1, 1, 1}, ERR(FORBIDDEN)},
    {"AdminSetAgentState", RELAIS__ENVELOPE__BODY_ADMIN_SET_AGENT_STATE, {0, 0, 0, 1, 0, 1, 0}, ERR(FORBIDDEN)},
    {"SiteCommand", RELAIS__ENVELOPE__BODY_SITE_COMMAND, {0, 0, 0, 1, 1, 0, 0}, ERR(FORBIDDEN)},
    {"AuditRequest", RELAIS__ENVELOPE__BODY_AUDIT_REQUEST, {0, 0, 0, 1, 1, 0, 0}, ERR(FORBIDDEN)},
    {"ReportRequest", RELAIS__ENVELOPE__BODY_REPORT_REQUEST, {0, 0, 0, 1, 1, 1, 1}, ERR(FORBIDDEN)},
    {"SiteModel", RELAIS__ENVELOPE__BODY_SITE_MODEL, {0, 1, 0, 0, 0, 0, 0}, ERR(FORBIDDEN)},
    {"SiteJournal", RELAIS__ENVELOPE__BODY_SITE_JOURNAL, {0, 1, 0, 0, 0, 0, 0}, ERR(FORBIDDEN)},
    {"MonitorRequest", RELAIS__ENVELOPE__BODY_MONITOR_REQUEST, {0, 0, 0, 1, 0, 1, 0}, ERR(FORBIDDEN)},
    {"MonitorLeg (hub to node only)", RELAIS__ENVELOPE__BODY_MONITOR_LEG, {0, 0, 0, 0, 0, 0, 0}, ERR(BAD_REQUEST)},
    {"RecordingPause", RELAIS__ENVELOPE__BODY_RECORDING_PAUSE, {1, 0, 1, 0, 0, 0, 0}, ERR(FORBIDDEN)},
    {"RecordingDone", RELAIS__ENVELOPE__BODY_RECORDING_DONE, {0, 1, 0, 0, 0, 0, 0}, ERR(FORBIDDEN)},
    {"RecordingList", RELAIS__ENVELOPE__BODY_RECORDING_LIST, {0, 0, 0, 1, 0, 1, 0}, ERR(FORBIDDEN)},
    {"RecordingFetch (at a node only)",
     RELAIS__ENVELOPE__BODY_RECORDING_FETCH,
     {0, 0, 0, 0, 0, 0, 0},
     ERR(BAD_REQUEST)},
    {"WallboardTicketRequest", RELAIS__ENVELOPE__BODY_WALLBOARD_TICKET_REQUEST, {0, 0, 0, 1, 1, 1, 1}, ERR(FORBIDDEN)},
    {"DialPlan (hub to node only)", RELAIS__ENVELOPE__BODY_DIAL_PLAN, {0, 0, 0, 0, 0, 0, 0}, ERR(BAD_REQUEST)},
    {"Offer (hub to agent only)", RELAIS__ENVELOPE__BODY_OFFER, {0, 0, 0, 0, 0, 0, 0}, ERR(BAD_REQUEST)},
};

/* send_any sends a request of kind body with harmless contents from principal p. */
static const rl_env *send_any(Relais__Envelope__BodyCase body, int p)
{
	static const uint32_t pipe[NP] = {AGENT, NODE, NODE, CTL, NOC, SUP, VIEW};
	const uint64_t chan = p == P_RELAYED ? RELAYED : 0, session = p == P_AGENT ? s_a1 : p == P_RELAYED ? s_m1 : 0;
	Relais__AgentLogin login = RELAIS__AGENT_LOGIN__INIT;
	Relais__AgentResume resume = RELAIS__AGENT_RESUME__INIT;
	Relais__SubmitContact submit_ = RELAIS__SUBMIT_CONTACT__INIT;
	Relais__AdminSetAgentState admin = RELAIS__ADMIN_SET_AGENT_STATE__INIT;
	Relais__AgentSetState set = RELAIS__AGENT_SET_STATE__INIT;
	Relais__OfferAnswer answer = RELAIS__OFFER_ANSWER__INIT;
	Relais__ContactHangup hangup = RELAIS__CONTACT_HANGUP__INIT;
	Relais__ContactTransfer transfer = RELAIS__CONTACT_TRANSFER__INIT;
	Relais__WrapupDone wrap = RELAIS__WRAPUP_DONE__INIT;
	Relais__ContactCancel cancel = RELAIS__CONTACT_CANCEL__INIT;
	Relais__QueuePosition pos = RELAIS__QUEUE_POSITION__INIT;
	Relais__TransferResult tres = RELAIS__TRANSFER_RESULT__INIT;
	Relais__SiteRegister reg = RELAIS__SITE_REGISTER__INIT;
	Relais__StatusRequest status = RELAIS__STATUS_REQUEST__INIT;
	Relais__Offer offer = RELAIS__OFFER__INIT;
	Relais__SiteCommand cmd = RELAIS__SITE_COMMAND__INIT;
	Relais__AuditRequest audit = RELAIS__AUDIT_REQUEST__INIT;
	Relais__ReportRequest report = RELAIS__REPORT_REQUEST__INIT;
	Relais__SiteModel model = RELAIS__SITE_MODEL__INIT;
	Relais__SiteJournal journal = RELAIS__SITE_JOURNAL__INIT;
	Relais__DialPlan plan = RELAIS__DIAL_PLAN__INIT;
	Relais__MonitorRequest mon = RELAIS__MONITOR_REQUEST__INIT;
	Relais__MonitorLeg mleg = RELAIS__MONITOR_LEG__INIT;
	Relais__RecordingPause rpause = RELAIS__RECORDING_PAUSE__INIT;
	Relais__Recording rec = RELAIS__RECORDING__INIT;
	Relais__RecordingDone rdone = RELAIS__RECORDING_DONE__INIT;
	Relais__RecordingList rlist = RELAIS__RECORDING_LIST__INIT;
	Relais__RecordingFetch rfetch = RELAIS__RECORDING_FETCH__INIT;
	Relais__WallboardTicketRequest wall = RELAIS__WALLBOARD_TICKET_REQUEST__INIT;
	rl_env env;

	rl_env_init(&env);
	env.body_case = body;
	login.agent_id = "nobody";
	login.secret = "wrong";
	submit_.tenant_id = "telco";
	submit_.queue_id = "telco.billing";
	admin.agent_id = "a2"; /* a telco agent: in the supervisor's scope */
	admin.state = RELAIS__AGENT_STATE__AGENT_NOT_READY;
	set.state = RELAIS__AGENT_STATE__AGENT_NOT_READY;
	cancel.contact_id = pos.contact_id = tres.contact_id = "c-none";
	answer.contact_id = hangup.contact_id = transfer.contact_id = wrap.contact_id = "c-none";
	env.agent_login = &login; /* the body pointers share one union: set the one for body */
	switch (body) {
	case RELAIS__ENVELOPE__BODY_AGENT_RESUME:
		env.agent_resume = &resume;
		break;
	case RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT:
		env.submit_contact = &submit_;
		break;
	case RELAIS__ENVELOPE__BODY_ADMIN_SET_AGENT_STATE:
		env.admin_set_agent_state = &admin;
		break;
	case RELAIS__ENVELOPE__BODY_AGENT_SET_STATE:
		env.agent_set_state = &set;
		break;
	case RELAIS__ENVELOPE__BODY_OFFER_ANSWER:
		env.offer_answer = &answer;
		break;
	case RELAIS__ENVELOPE__BODY_CONTACT_HANGUP:
		env.contact_hangup = &hangup;
		break;
	case RELAIS__ENVELOPE__BODY_CONTACT_TRANSFER:
		env.contact_transfer = &transfer;
		break;
	case RELAIS__ENVELOPE__BODY_WRAPUP_DONE:
		env.wrapup_done = &wrap;
		break;
	case RELAIS__ENVELOPE__BODY_CONTACT_CANCEL:
		env.contact_cancel = &cancel;
		break;
	case RELAIS__ENVELOPE__BODY_QUEUE_POSITION:
		env.queue_position = &pos;
		break;
	case RELAIS__ENVELOPE__BODY_TRANSFER_RESULT:
		env.transfer_result = &tres;
		break;
	case RELAIS__ENVELOPE__BODY_SITE_REGISTER:
		env.site_register = &reg;
		break;
	case RELAIS__ENVELOPE__BODY_STATUS_REQUEST:
		env.status_request = &status;
		break;
	case RELAIS__ENVELOPE__BODY_OFFER:
		env.offer = &offer;
		break;
	case RELAIS__ENVELOPE__BODY_SITE_COMMAND:
		env.site_command = &cmd; /* no site: refused as such, past the gate */
		break;
	case RELAIS__ENVELOPE__BODY_AUDIT_REQUEST:
		env.audit_request = &audit;
		break;
	case RELAIS__ENVELOPE__BODY_REPORT_REQUEST:
		report.from_us = h.now - 3600000000ULL; /* the last hour, folded and answered */
		env.report_request = &report;
		break;
	case RELAIS__ENVELOPE__BODY_SITE_MODEL:
		env.site_model = &model;
		break;
	case RELAIS__ENVELOPE__BODY_SITE_JOURNAL:
		env.site_journal = &journal; /* no parts: refused as malformed, past the gate */
		break;
	case RELAIS__ENVELOPE__BODY_DIAL_PLAN:
		env.dial_plan = &plan;
		break;
	case RELAIS__ENVELOPE__BODY_MONITOR_REQUEST:
		mon.agent_id = "a2"; /* in the supervisor's scope, on no call: refused past the gate */
		mon.mode = RELAIS__MONITOR_MODE__MONITOR_LISTEN;
		env.monitor_request = &mon;
		break;
	case RELAIS__ENVELOPE__BODY_MONITOR_LEG:
		env.monitor_leg = &mleg;
		break;
	case RELAIS__ENVELOPE__BODY_RECORDING_PAUSE:
		rpause.contact_id = "c-none";
		env.recording_pause = &rpause;
		break;
	case RELAIS__ENVELOPE__BODY_RECORDING_DONE:
		rdone.contact_id = "c-none";
		rdone.recording = &rec;
		env.recording_done = &rdone;
		break;
	case RELAIS__ENVELOPE__BODY_RECORDING_LIST:
		env.recording_list = &rlist;
		break;
	case RELAIS__ENVELOPE__BODY_RECORDING_FETCH:
		rfetch.contact_id = "c-none";
		env.recording_fetch = &rfetch;
		break;
	case RELAIS__ENVELOPE__BODY_WALLBOARD_TICKET_REQUEST:
		env.wallboard_ticket_request = &wall; /* no wallboard served here: unavailable, past the gate */
		break;
	default:
		break;
	}
	return ht_request(&h, pipe[p], chan, session, &env);
}

static void test_permissions(void)
{
	static const char *const who[NP] = {"agent", "site node",  "relayed agent", "admin",
	                                    "noc",   "supervisor", "viewer"};

	start();
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		for (int p = 0; p < NP; p++) {
			int err = ht_error(send_any(rules[i].body, p));
			int ok = rules[i].allowed[p] ? err >= 0 && err != ERR(FORBIDDEN) : err == rules[i].refusal;
			if (!ok)
				fprintf(stderr, "%s from %s: error %d\n", rules[i].name, who[p], err);
			RL_CHECK(ok);
		}
	}
	/* Hello speaks for a whole link: a node cannot say it on an agent's chan. */
	Relais__Hello hello = RELAIS__HELLO__INIT;
	rl_env env;
	rl_env_init(&env);
	hello.role = RELAIS__ROLE__ROLE_CTL;
	env.body_case = RELAIS__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	RL_CHECK(ht_error(ht_request(&h, NODE, RELAYED, 0, &env)) == ERR(FORBIDDEN));
	RL_CHECK(ht_error(ht_submit(&h, NODE, "after-hello", "telco", "telco.billing", NULL)) == 0);
	/* A link that never said Hello is told to. */
	RL_CHECK(ht_error(ht_status(&h, 99, NULL)) == ERR(HELLO_FIRST));
	stop();
}

/* ---------------------------------------------------------------------------------------- */
/* keys: a site or an operator is who its key proves, and nothing else */

static const rl_env *prove(uint32_t pipe, int role, const char *id, const char *key_of)
{
	const rl_env *a = ht_hello_proof(&h, pipe, role, id, NULL);
	uint8_t sig[RL_KEY_SIG];

	if (a == NULL || a->body_case != RELAIS__ENVELOPE__BODY_HELLO_OK ||
	    a->hello_ok->challenge.len != RL_KEY_CHALLENGE)
		return a;
	rl_key_prove(ht_key(key_of), a->hello_ok->challenge.data, role, id, sig);
	return ht_hello_proof(&h, pipe, role, id, sig);
}

static int site_connected(const char *site)
{
	const rl_env *st = ht_status(&h, CTL, NULL);

	for (size_t i = 0; st && i < st->status_reply->n_sites; i++)
		if (strcmp(st->status_reply->sites[i]->site_id, site) == 0)
			return st->status_reply->sites[i]->connected;
	return -1;
}

static void test_keys(void)
{
	const rl_env *a;
	uint8_t sig[RL_KEY_SIG];

	start();
	/* Fès's key does not make a node Casablanca's: refused, and the real link stays. */
	a = prove(20, RELAIS__ROLE__ROLE_NODE, "casablanca", "dakar");
	RL_CHECK(ht_error(a) == ERR(AUTH));
	RL_CHECK(ht_error(ht_submit(&h, 20, "imp1", "telco", "telco.billing", NULL)) == ERR(FORBIDDEN));
	RL_CHECK(site_connected("casablanca") == 1);
	ht_begin(&h);
	rl_engine_pipe_gone(h.e, 20);
	ht_commit(&h);
	RL_CHECK(site_connected("casablanca") == 1);
	/* A challenged link that has not proven anything may only say Hello and heartbeat. */
	a = ht_hello_proof(&h, 21, RELAIS__ROLE__ROLE_NODE, "dakar", NULL);
	RL_CHECK(a && a->body_case == RELAIS__ENVELOPE__BODY_HELLO_OK &&
	         a->hello_ok->challenge.len == RL_KEY_CHALLENGE);
	RL_CHECK(ht_error(ht_submit(&h, 21, "imp2", "telco", "telco.billing", NULL)) == ERR(FORBIDDEN));
	/* A proof made for one link's challenge is worth nothing on another's. */
	rl_key_prove(ht_key("dakar"), a->hello_ok->challenge.data, RELAIS__ROLE__ROLE_NODE, "dakar", sig);
	RL_CHECK(ht_error(ht_hello_proof(&h, 22, RELAIS__ROLE__ROLE_NODE, "dakar", sig)) == ERR(AUTH));
	RL_CHECK(ht_error(ht_hello_proof(&h, 21, RELAIS__ROLE__ROLE_NODE, "dakar", sig)) == 0); /* its own: fine */
	/* A site without a key at the hub has no node; an unknown operator is nobody. */
	RL_CHECK(ht_error(prove(23, RELAIS__ROLE__ROLE_NODE, "marrakech", "marrakech")) == ERR(AUTH));
	RL_CHECK(ht_error(prove(24, RELAIS__ROLE__ROLE_CTL, "mallory", "mallory")) == ERR(AUTH));
	/* An operator's key proves that operator only, with its role only. */
	RL_CHECK(ht_error(prove(25, RELAIS__ROLE__ROLE_CTL, "admin", "wall")) == ERR(AUTH));
	RL_CHECK(ht_error(prove(25, RELAIS__ROLE__ROLE_CTL, "wall", "wall")) == 0);
	RL_CHECK(ht_error(ht_submit(&h, 25, "v1", "bank", "bank.cards", NULL)) == ERR(FORBIDDEN));
	stop();
}

/* ---------------------------------------------------------------------------------------- */
/* operators see and act for their tenants only */

static void test_scopes(void)
{
	const rl_env *st;
	Relais__AdminSetAgentState as = RELAIS__ADMIN_SET_AGENT_STATE__INIT;
	rl_env env;

	start();
	st = ht_status(&h, SUP, NULL);
	RL_REQUIRE(ht_error(st) == 0);
	RL_CHECK(st->status_reply->n_queues == 2 && queue_stat(st, "bank.cards") == NULL);
	RL_CHECK(st->status_reply->agents_total == 3); /* a1, a2, m1 */
	for (size_t i = 0; i < st->status_reply->n_agents; i++) {
		const Relais__AgentStat *x = st->status_reply->agents[i];
		RL_CHECK(strcmp(x->agent_id, "b1") != 0);
		for (size_t t = 0; t < x->n_tenants; t++)
			RL_CHECK(strcmp(x->tenants[t], "bank") != 0); /* m1 serves bank too: not said */
	}
	RL_CHECK(st->status_reply->counters == NULL);
	for (size_t i = 0; i < st->status_reply->n_sites; i++)
		RL_CHECK(st->status_reply->sites[i]->agents == 0 && st->status_reply->sites[i]->contacts == 0);
	RL_CHECK(ht_error(ht_status(&h, SUP, "bank")) == ERR(UNKNOWN_TENANT));
	st = ht_status(&h, VIEW, NULL);
	RL_CHECK(st->status_reply->n_queues == 1 && queue_stat(st, "bank.cards") != NULL);
	st = ht_status(&h, NOC, NULL);
	RL_CHECK(st->status_reply->n_queues == 3 && st->status_reply->counters != NULL);
	/* A supervisor sets the state of its tenants' agents only. */
	rl_env_init(&env);
	as.state = RELAIS__AGENT_STATE__AGENT_READY;
	env.body_case = RELAIS__ENVELOPE__BODY_ADMIN_SET_AGENT_STATE;
	env.admin_set_agent_state = &as;
	as.agent_id = "b1";
	RL_CHECK(ht_error(ht_request(&h, SUP, 0, 0, &env)) == ERR(UNKNOWN_AGENT));
	RL_CHECK(state_of(AGENT_B) != RELAIS__AGENT_STATE__AGENT_READY);
	as.agent_id = "a2";
	RL_CHECK(ht_error(ht_request(&h, SUP, 0, 0, &env)) == 0);
	RL_CHECK(state_of(AGENT2) == RELAIS__AGENT_STATE__AGENT_READY);
	RL_CHECK(ht_error(ht_request(&h, VIEW, 0, 0, &env)) == ERR(FORBIDDEN));
	RL_CHECK(ht_error(ht_request(&h, NOC, 0, 0, &env)) == ERR(FORBIDDEN));
	{
		/* with three tenants, the engine's own check walks two of them together (telco and
		 * bank: m1 serves both, and comes once) through rl_scope_next */
		char why[256];
		RL_CHECK(rl_engine_check(h.e, why, sizeof(why)) == 0);
	}
	stop();
}

/* ---------------------------------------------------------------------------------------- */
/* lockouts: guessing slows the guesser, never the agent at its own address */

static const rl_env *login_from(uint32_t pipe, const char *ip, const char *agent, const char *secret)
{
	Relais__AgentLogin l = RELAIS__AGENT_LOGIN__INIT;
	rl_env env;

	if (h.ip[pipe][0] == '\0') {
		ht_set_ip(&h, pipe, ip);
		ht_hello(&h, pipe, RELAIS__ROLE__ROLE_AGENT, "");
	}
	rl_env_init(&env);
	l.agent_id = (char *)agent;
	l.secret = (char *)secret;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_LOGIN;
	env.agent_login = &l;
	return ht_request(&h, pipe, 0, 0, &env);
}

static void test_lockouts(void)
{
	int limited = 0, refused = 0;
	const rl_env *a;
	char ip[32];

	start();
	/* The agent's own address, where it logged in before. */
	RL_CHECK(login_from(31, "203.0.113.5", "a1", "a1-secret")->body_case == RELAIS__ENVELOPE__BODY_AGENT_LOGIN_OK);
	/* 40 guesses in 4 s from one address: after 3 it waits 1 s, then 2 s, 4 s... */
	for (int i = 0; i < 40; i++) {
		int err = ht_error(login_from(30, "198.51.100.7", "a1", "guess"));
		limited += err == ERR(RATE_LIMITED);
		refused += err == ERR(AUTH);
		h.now += 100000u;
	}
	RL_CHECK(refused == 5 && limited == 35); /* at 0, 0.1, 0.2, 1.2 and 3.2 s */
	RL_CHECK(login_from(31, "203.0.113.5", "a1", "a1-secret")->body_case == RELAIS__ENVELOPE__BODY_AGENT_LOGIN_OK);
	/* Guesses sprayed from 20 addresses: the id is paced for new addresses (2 s at most)... */
	for (int i = 0; i < 20; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i + 1);
		login_from((uint32_t)(40 + i), ip, "a1", "guess");
		h.now += 100000u;
	}
	a = login_from(32, "198.51.100.99", "a1", "a1-secret");
	RL_CHECK(ht_error(a) == ERR(RATE_LIMITED) && a->error->retry_after_ms <= 2001);
	/* ... never for the agent's own address, and a failed guess counts with its source. */
	RL_CHECK(login_from(31, "203.0.113.5", "a1", "a1-secret")->body_case == RELAIS__ENVELOPE__BODY_AGENT_LOGIN_OK);
	RL_CHECK(ht_error(login_from(33, "198.51.100.100", "a2", "guess")) == ERR(AUTH)); /* another id: unhurt */
	h.now += 2100000u;
	RL_CHECK(login_from(32, "198.51.100.99", "a1", "a1-secret")->body_case ==
	         RELAIS__ENVELOPE__BODY_AGENT_LOGIN_OK);
	stop();
}

/* ---------------------------------------------------------------------------------------- */

static void test_tenants(void)
{
	char c[32];
	const rl_env *st;

	start();
	/* A queue of another tenant is as good as unknown. */
	RL_CHECK(ht_error(ht_submit(&h, NODE, "x1", "telco", "bank.cards", NULL)) == ERR(UNKNOWN_QUEUE));
	RL_CHECK(ht_error(ht_submit(&h, NODE, "x2", "nobody", "bank.cards", NULL)) == ERR(UNKNOWN_TENANT));
	submit("x3", "telco.billing", c);
	ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_READY, NULL);
	RL_REQUIRE(strcmp(offered(AGENT), c) == 0);
	ht_answer(&h, AGENT, s_a1, c, 1);
	RL_CHECK(ht_error(ht_transfer(&h, AGENT, s_a1, c, "bank.cards", NULL)) == ERR(UNKNOWN_QUEUE));
	RL_CHECK(state_of(AGENT) == RELAIS__AGENT_STATE__AGENT_BUSY);
	/* A tenant's status holds only its queues and agents. */
	st = ht_status(&h, CTL, "bank");
	RL_REQUIRE(ht_error(st) == 0);
	RL_CHECK(st->status_reply->n_queues == 1 && queue_stat(st, "bank.cards") != NULL);
	RL_CHECK(st->status_reply->agents_total == 2); /* b1 and m1 */
	for (size_t i = 0; i < st->status_reply->n_agents; i++)
		RL_CHECK(strcmp(st->status_reply->agents[i]->agent_id, "a1") != 0);
	stop();
}

/* A leader of a hub pair under ha.sync = strict without a standby refuses what would write,
 * with a reason and a retry time, and answers what only reads. */
static void test_refused_writes(void)
{
	char c[32];

	start();
	rl_engine_refuse_writes(h.e, "no standby");
	RL_CHECK(ht_error(ht_submit(&h, NODE, "w1", "telco", "telco.billing", NULL)) == ERR(UNAVAILABLE));
	RL_CHECK(ht_error(ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_READY, NULL)) == ERR(UNAVAILABLE));
	RL_CHECK(ht_error(ht_status(&h, CTL, NULL)) == 0);
	rl_engine_refuse_writes(h.e, NULL);
	submit("w2", "telco.billing", c);
	stop();
}

/* A hub pair's replication goes over the leader's own socket (hub/repl.c): on the clients'
 * socket its messages are nobody's requests, whoever sends them - not even an admin's. */
static void test_no_replication_on_control(void)
{
	Relais__ReplSubscribe sub = RELAIS__REPL_SUBSCRIBE__INIT;
	Relais__ReplAck ack = RELAIS__REPL_ACK__INIT;
	const uint32_t who[] = {NODE, CTL, AGENT};
	rl_env env;

	start();
	for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		rl_env_init(&env);
		env.body_case = RELAIS__ENVELOPE__BODY_REPL_SUBSCRIBE;
		env.repl_subscribe = &sub;
		RL_CHECK(ht_error(ht_request(&h, who[i], 0, 0, &env)) == ERR(BAD_REQUEST));
		rl_env_init(&env);
		env.body_case = RELAIS__ENVELOPE__BODY_REPL_ACK;
		env.repl_ack = &ack;
		RL_CHECK(ht_error(ht_request(&h, who[i], 0, 0, &env)) == ERR(BAD_REQUEST));
	}
	stop();
}

/* ---------------------------------------------------------------------------------------- */

static void test_transfer_refusals(void)
{
	char c[32];

	start();
	submit("t1", "telco.billing", c);
	RL_CHECK(ht_error(ht_transfer(&h, AGENT, s_a1, c, "telco.tech", NULL)) == ERR(BAD_STATE)); /* not on it */
	ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_READY, NULL);
	ht_answer(&h, AGENT, s_a1, c, 1);
	RL_CHECK(ht_error(ht_transfer(&h, AGENT, s_a1, c, "telco.tech", "+33140000000")) == ERR(BAD_REQUEST));
	RL_CHECK(ht_error(ht_transfer(&h, AGENT, s_a1, c, NULL, NULL)) == ERR(BAD_REQUEST));
	RL_CHECK(ht_error(ht_transfer(&h, AGENT, s_a1, c, NULL, "12")) == ERR(BAD_REQUEST));
	RL_CHECK(ht_error(ht_transfer(&h, AGENT, s_a1, c, NULL, "+33 1 40")) == ERR(BAD_REQUEST));
	RL_CHECK(ht_error(ht_transfer(&h, AGENT, s_a1, "c-other", "telco.tech", NULL)) == ERR(BAD_STATE));
	/* An external transfer is asked of the site; a second one waits for its result. */
	RL_CHECK(ht_error(ht_transfer(&h, AGENT, s_a1, c, NULL, "+33140000000")) == 0);
	const rl_env *u = ht_last(&h, NODE, RELAIS__ENVELOPE__BODY_CONTACT_UPDATE);
	RL_CHECK(u && strcmp(u->contact_update->transfer_to, "+33140000000") == 0);
	RL_CHECK(ht_error(ht_transfer(&h, AGENT, s_a1, c, "telco.tech", NULL)) == ERR(BAD_STATE));
	/* Another site cannot answer for this call. */
	Relais__TransferResult tr = RELAIS__TRANSFER_RESULT__INIT;
	rl_env env;
	rl_env_init(&env);
	tr.contact_id = c;
	tr.ok = 1;
	tr.status = 200;
	env.body_case = RELAIS__ENVELOPE__BODY_TRANSFER_RESULT;
	env.transfer_result = &tr;
	RL_CHECK(ht_error(ht_request(&h, NODE2, 0, 0, &env)) == ERR(FORBIDDEN));
	/* The carrier refuses: the agent is told and still has the caller. */
	tr.ok = 0;
	tr.status = 403;
	RL_CHECK(ht_error(ht_request(&h, NODE, 0, 0, &env)) == 0);
	RL_CHECK(ht_error(ht_last(&h, AGENT, RELAIS__ENVELOPE__BODY_ERROR)) == ERR(BAD_STATE));
	RL_CHECK(state_of(AGENT) == RELAIS__AGENT_STATE__AGENT_BUSY);
	/* With the call's site gone, no external transfer. */
	ht_begin(&h);
	rl_engine_pipe_gone(h.e, NODE);
	ht_commit(&h);
	RL_CHECK(ht_error(ht_transfer(&h, AGENT, s_a1, c, NULL, "+33140000000")) == ERR(BAD_STATE));
	stop();
}

/* ---------------------------------------------------------------------------------------- */

static void test_rona(void)
{
	char c[32];
	const rl_env *st;

	start();
	submit("r1", "telco.billing", c);
	ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_READY, NULL);
	RL_REQUIRE(strcmp(offered(AGENT), c) == 0);
	RL_CHECK(state_of(AGENT) == RELAIS__AGENT_STATE__AGENT_RESERVED);
	uint64_t enq = ht_last(&h, AGENT, RELAIS__ENVELOPE__BODY_OFFER)->offer->enqueued_us;
	ht_tick(&h, 4000);
	RL_CHECK(state_of(AGENT) == RELAIS__AGENT_STATE__AGENT_RESERVED); /* 5 s to answer */
	ht_tick(&h, 1500);
	RL_CHECK(state_of(AGENT) == RELAIS__AGENT_STATE__AGENT_NOT_READY);
	RL_CHECK(strcmp(reason_of(AGENT), "no-answer") == 0);
	st = ht_status(&h, CTL, "telco");
	RL_CHECK(queue_stat(st, "telco.billing")->waiting == 1);
	/* The next ready agent gets it, with its first enqueue time: its place was kept. */
	ht_set_state(&h, AGENT2, s_a2, RELAIS__AGENT_STATE__AGENT_READY, NULL);
	RL_REQUIRE(strcmp(offered(AGENT2), c) == 0);
	RL_CHECK(ht_last(&h, AGENT2, RELAIS__ENVELOPE__BODY_OFFER)->offer->enqueued_us == enq);
	/* A rejection is no RONA: the agent who refused stays ready, and is passed over while
	 * another agent is ready. */
	ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_READY, NULL);
	ht_answer(&h, AGENT2, s_a2, c, 0);
	RL_CHECK(state_of(AGENT2) == RELAIS__AGENT_STATE__AGENT_READY);
	RL_CHECK(strcmp(offered(AGENT), c) == 0);
	stop();
}

/* ---------------------------------------------------------------------------------------- */

static void test_wrapup(void)
{
	char c[32], d[32];

	start();
	submit("w1", "telco.billing", c);
	ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_READY, NULL);
	ht_answer(&h, AGENT, s_a1, c, 1);
	ht_hangup(&h, AGENT, s_a1, c);
	RL_CHECK(state_of(AGENT) == RELAIS__AGENT_STATE__AGENT_WRAPUP);
	uint64_t deadline = ht_last(&h, AGENT, RELAIS__ENVELOPE__BODY_AGENT_STATUS)->agent_status->deadline_us;
	RL_CHECK(deadline == h.now + 3000000u); /* the queue's wrapup_s */
	ht_wrapup(&h, AGENT, s_a1, c, NULL, 10);
	RL_CHECK(ht_last(&h, AGENT, RELAIS__ENVELOPE__BODY_AGENT_STATUS)->agent_status->deadline_us ==
	         deadline + 10000000u);
	RL_CHECK(ht_error(ht_wrapup(&h, AGENT, s_a1, "c-other", "x", 0)) == ERR(BAD_STATE));
	ht_tick(&h, 12000);
	RL_CHECK(state_of(AGENT) == RELAIS__AGENT_STATE__AGENT_WRAPUP);
	ht_tick(&h, 1500);
	RL_CHECK(state_of(AGENT) == RELAIS__AGENT_STATE__AGENT_READY);
	/* A break asked for during a call starts when the wrap-up ends. */
	ht_heartbeat(&h, AGENT, 0, s_a1); /* heard from within 6 s: still offered calls */
	submit("w2", "telco.billing", d);
	RL_REQUIRE(strcmp(offered(AGENT), d) == 0);
	ht_answer(&h, AGENT, s_a1, d, 1);
	ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_NOT_READY, "lunch");
	RL_CHECK(state_of(AGENT) == RELAIS__AGENT_STATE__AGENT_BUSY);
	RL_CHECK(ht_error(ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_LOGGED_OUT, NULL)) ==
	         ERR(BAD_STATE)); /* hang up first */
	ht_hangup(&h, AGENT, s_a1, d);
	ht_tick(&h, 3500);
	RL_CHECK(state_of(AGENT) == RELAIS__AGENT_STATE__AGENT_NOT_READY);
	RL_CHECK(strcmp(reason_of(AGENT), "lunch") == 0);
	stop();
}

/* ---------------------------------------------------------------------------------------- */

/* The disposition given as the wrap-up ends reaches the contact's record when the caller has
 * left before (the record is read back from the store and written again): with a screen pop
 * of two items, and with one of 32 long items (a record too big for the engine's scratch,
 * which takes the other way). The rest of the record stays as it was. */
static void test_disposition_stored(void)
{
	start();
	for (int big = 0; big < 2; big++) {
		Relais__SubmitContact sc = RELAIS__SUBMIT_CONTACT__INIT;
		Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
		Relais__KeyValue kv[RL_WIRE_MAX_POP_ITEMS], *kvp[RL_WIRE_MAX_POP_ITEMS];
		char keys[RL_WIRE_MAX_POP_ITEMS][16], val[RL_WIRE_MAX_TEXT + 1], c[32];
		size_t n = big ? RL_WIRE_MAX_POP_ITEMS : 2;
		Relais__ContactRecord *rec = NULL;
		const rl_env *a;
		rl_env env;

		memset(val, big ? 'v' : 'w', RL_WIRE_MAX_TEXT);
		val[big ? RL_WIRE_MAX_TEXT : 8] = '\0';
		for (size_t i = 0; i < n; i++) {
			relais__key_value__init(&kv[i]);
			snprintf(keys[i], sizeof(keys[i]), "ivr%zu", i);
			kv[i].key = keys[i];
			kv[i].value = val;
			kvp[i] = &kv[i];
		}
		pop.caller = "+212600";
		pop.data = kvp;
		pop.n_data = n;
		sc.ext_id = big ? "disp-big" : "disp-small";
		sc.tenant_id = "telco";
		sc.queue_id = "telco.billing";
		sc.pop = &pop;
		rl_env_init(&env);
		env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
		env.submit_contact = &sc;
		a = ht_request(&h, NODE, 0, 0, &env);
		RL_REQUIRE(ht_error(a) == 0);
		snprintf(c, sizeof(c), "%s", a->submit_contact_ok->contact_id);
		ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_READY, NULL);
		RL_REQUIRE(strcmp(offered(AGENT), c) == 0);
		ht_answer(&h, AGENT, s_a1, c, 1);
		ht_hangup(&h, AGENT, s_a1, c); /* ended: out of memory once committed */
		RL_CHECK(ht_error(ht_wrapup(&h, AGENT, s_a1, c, big ? "callback" : "sold", 0)) == 0);
		RL_REQUIRE(rl_store_get_contact(rl_engine_store(h.e), c, &rec) == RL_OK);
		RL_CHECK(strcmp(rec->disposition, big ? "callback" : "sold") == 0);
		RL_CHECK(rec->state == RELAIS__CONTACT_STATE__CONTACT_ENDED && strcmp(rec->agent_id, "a1") == 0);
		RL_CHECK(rec->pop != NULL && rec->pop->n_data == n && strcmp(rec->pop->data[n - 1]->value, val) == 0);
		relais__contact_record__free_unpacked(rec, NULL);
	}
	stop();
}

/* ---------------------------------------------------------------------------------------- */

/* A disposition given after a transfer to another queue must not end the caller still
 * waiting there: after a crash the contact is still queued, under the same id. */
static void test_disposition_after_transfer(void)
{
	char c[32];
	const rl_env *st, *again;

	start();
	submit("d1", "telco.billing", c);
	ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_READY, NULL);
	ht_answer(&h, AGENT, s_a1, c, 1);
	ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_NOT_READY, "training"); /* after this call */
	RL_CHECK(ht_error(ht_transfer(&h, AGENT, s_a1, c, "telco.tech", NULL)) == 0);
	RL_CHECK(state_of(AGENT) == RELAIS__AGENT_STATE__AGENT_WRAPUP);
	RL_CHECK(ht_error(ht_wrapup(&h, AGENT, s_a1, c, "sent-to-tech", 0)) == 0);
	ht_crash(&h);
	ht_hello(&h, NODE, RELAIS__ROLE__ROLE_NODE, "casablanca");
	ht_hello(&h, CTL, RELAIS__ROLE__ROLE_CTL, "admin");
	ht_hello(&h, NOC, RELAIS__ROLE__ROLE_CTL, "noc");
	ht_hello(&h, SUP, RELAIS__ROLE__ROLE_CTL, "sup.telco");
	ht_hello(&h, VIEW, RELAIS__ROLE__ROLE_CTL, "wall");
	st = ht_status(&h, CTL, "telco");
	RL_CHECK(queue_stat(st, "telco.tech") && queue_stat(st, "telco.tech")->waiting == 1);
	again = ht_submit(&h, NODE, "d1", "telco", "telco.billing", "+212600");
	RL_CHECK(again && again->submit_contact_ok->duplicate && strcmp(again->submit_contact_ok->contact_id, c) == 0);
	stop();
}

/* ---------------------------------------------------------------------------------------- */

/* The KPIs after a restart are those before it: the same fold over the same events. */
static void test_kpi_restart(void)
{
	char c[5][32], ext[8];
	Relais__QueueStat before;
	const Relais__QueueStat *q;
	Relais__ContactCancel cc = RELAIS__CONTACT_CANCEL__INIT;
	rl_env env;

	start();
	ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_READY, NULL);
	for (int i = 0; i < 5; i++) {
		snprintf(ext, sizeof(ext), "k%d", i);
		submit(ext, "telco.billing", c[i]);
	}
	/* Answered after 0, 17 and 34 s (the service level is 20 s), 15 s of talk, 2 s of
	 * wrap-up each; the last wrap-up ends with a break. */
	for (int i = 0; i < 3; i++) {
		RL_REQUIRE(strcmp(offered(AGENT), c[i]) == 0);
		ht_answer(&h, AGENT, s_a1, c[i], 1);
		h.now += 15000000u;
		ht_hangup(&h, AGENT, s_a1, c[i]);
		h.now += 2000000u;
		if (i < 2)
			ht_wrapup(&h, AGENT, s_a1, c[i], "done", 0);
		else
			ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_NOT_READY, NULL);
	}
	rl_env_init(&env);
	cc.contact_id = c[4];
	cc.outcome = RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED;
	env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_CANCEL;
	env.contact_cancel = &cc;
	ht_request(&h, NODE, 0, 0, &env);
	q = queue_stat(ht_status(&h, CTL, NULL), "telco.billing");
	RL_REQUIRE(q != NULL);
	before = *q;
	RL_CHECK(before.offered == 5 && before.answered == 3 && before.abandoned == 1 && before.handled == 3);
	RL_CHECK(before.answered_in_sl == 2);
	RL_CHECK(before.asa_ms == 17000.0);
	RL_CHECK(before.aht_ms == 17000.0);
	RL_CHECK(before.waiting == 1);
	ht_crash(&h);
	ht_hello(&h, CTL, RELAIS__ROLE__ROLE_CTL, "admin");
	ht_hello(&h, NOC, RELAIS__ROLE__ROLE_CTL, "noc");
	ht_hello(&h, SUP, RELAIS__ROLE__ROLE_CTL, "sup.telco");
	ht_hello(&h, VIEW, RELAIS__ROLE__ROLE_CTL, "wall");
	q = queue_stat(ht_status(&h, CTL, NULL), "telco.billing");
	RL_REQUIRE(q != NULL);
	RL_CHECK(q->offered == before.offered && q->answered == before.answered && q->abandoned == before.abandoned);
	RL_CHECK(q->answered_in_sl == before.answered_in_sl && q->handled == before.handled);
	RL_CHECK(q->asa_ms == before.asa_ms && q->aht_ms == before.aht_ms);
	RL_CHECK(q->waiting == 1);
	stop();
}

/* staffing_of: queue qid's staffing figures in an admin's status (known: -1 if no row). */
static int staffing_of(const char *qid, uint32_t *needed, double *per_hour)
{
	const Relais__QueueStat *q = queue_stat(ht_status(&h, CTL, NULL), qid);

	if (q == NULL)
		return -1;
	*needed = q->agents_needed;
	*per_hour = q->offered_per_hour;
	return q->staffing_known;
}

/* Staffing: Erlang C against the textbook case, and a queue's estimate from its last complete
 * quarter of an hour, the same after a crash (it is a fold over the event log). */
/* ---------------------------------------------------------------------------------------- */
/* listen, whisper, barge: who may join a call, what the site and the supervisor are told */

static const rl_env *monitor(uint32_t pipe, const char *agent, Relais__MonitorMode mode)
{
	Relais__MonitorRequest mr = RELAIS__MONITOR_REQUEST__INIT;
	rl_env env;

	rl_env_init(&env);
	mr.agent_id = (char *)agent;
	mr.mode = mode;
	env.body_case = RELAIS__ENVELOPE__BODY_MONITOR_REQUEST;
	env.monitor_request = &mr;
	return ht_request(&h, pipe, 0, 0, &env);
}

static int leg_mode(uint32_t pipe)
{
	const rl_env *l = ht_last(&h, pipe, RELAIS__ENVELOPE__BODY_MONITOR_LEG);
	return l ? (int)l->monitor_leg->mode : -1;
}

static int monitored(uint32_t pipe)
{
	const rl_env *st = ht_last(&h, pipe, RELAIS__ENVELOPE__BODY_AGENT_STATUS);
	return st ? (int)st->agent_status->monitored : -1;
}

static void test_monitor(void)
{
	struct rl_relay_conf rc = {.listen = "127.0.0.1:0", .threads = 1, .idle_ms = 30000, .max_calls = 64};
	struct rl_relay *relay;
	const rl_env *a;
	char c[32], cb[32];

	start();
	RL_REQUIRE(rl_relay_open(&relay, &rc) == RL_OK);
	rl_engine_set_media(h.e, relay, 0);
	ht_hello(&h, SUP_B, RELAIS__ROLE__ROLE_CTL, "sup.bank");
	/* No call yet: nothing to join. */
	RL_CHECK(ht_error(monitor(SUP, "a1", RELAIS__MONITOR_MODE__MONITOR_LISTEN)) == ERR(BAD_STATE));
	submit("mon1", "telco.billing", c);
	ht_set_state(&h, AGENT, s_a1, RELAIS__AGENT_STATE__AGENT_READY, NULL);
	RL_REQUIRE(strcmp(offered(AGENT), c) == 0);
	ht_answer(&h, AGENT, s_a1, c, 1);
	RL_REQUIRE(state_of(AGENT) == RELAIS__AGENT_STATE__AGENT_BUSY);
	/* Another tenant's supervisor, a viewer, an agent: the agent is unknown, or the request
	 * not theirs. */
	RL_CHECK(ht_error(monitor(SUP_B, "a1", RELAIS__MONITOR_MODE__MONITOR_LISTEN)) == ERR(UNKNOWN_AGENT));
	RL_CHECK(ht_error(monitor(SUP_B, "nobody", RELAIS__MONITOR_MODE__MONITOR_LISTEN)) == ERR(UNKNOWN_AGENT));
	RL_CHECK(ht_error(monitor(VIEW, "a1", RELAIS__MONITOR_MODE__MONITOR_LISTEN)) == ERR(FORBIDDEN));
	RL_CHECK(leg_mode(NODE) == -1);
	/* telco's supervisor listens: its leg goes through the relay, the site gets its end. */
	a = monitor(SUP, "a1", RELAIS__MONITOR_MODE__MONITOR_LISTEN);
	RL_REQUIRE(ht_error(a) == 0 && a->body_case == RELAIS__ENVELOPE__BODY_MONITOR_STATUS);
	RL_CHECK(a->monitor_status->mode == RELAIS__MONITOR_MODE__MONITOR_LISTEN);
	RL_CHECK(strcmp(a->monitor_status->contact_id, c) == 0);
	RL_REQUIRE(a->monitor_status->media != NULL);
	RL_CHECK(a->monitor_status->media->relayed);
	RL_CHECK(strcmp(a->monitor_status->media->peer_addr, rl_relay_advertise(relay)) == 0);
	uint32_t sup_tx = a->monitor_status->media->tx_ssrc;
	a = ht_last(&h, NODE, RELAIS__ENVELOPE__BODY_MONITOR_LEG);
	RL_REQUIRE(a != NULL && a->monitor_leg->media != NULL);
	RL_CHECK(a->monitor_leg->mode == RELAIS__MONITOR_MODE__MONITOR_LISTEN);
	RL_CHECK(strcmp(a->monitor_leg->contact_id, c) == 0);
	RL_CHECK(a->monitor_leg->media->rx_ssrc == sup_tx);
	RL_CHECK(monitored(AGENT) == RELAIS__MONITOR_MODE__MONITOR_LISTEN); /* telco tells its agents */
	/* One supervisor per call: the admin is refused while telco's is on. */
	RL_CHECK(ht_error(monitor(CTL, "a1", RELAIS__MONITOR_MODE__MONITOR_BARGE)) == ERR(BAD_STATE));
	/* Whisper, then barge: the same leg, a new mode. */
	a = monitor(SUP, "a1", RELAIS__MONITOR_MODE__MONITOR_WHISPER);
	RL_CHECK(ht_error(a) == 0 && a->monitor_status->media->tx_ssrc == sup_tx);
	RL_CHECK(leg_mode(NODE) == RELAIS__MONITOR_MODE__MONITOR_WHISPER);
	RL_CHECK(ht_error(monitor(SUP, "a1", RELAIS__MONITOR_MODE__MONITOR_BARGE)) == 0);
	RL_CHECK(leg_mode(NODE) == RELAIS__MONITOR_MODE__MONITOR_BARGE);
	RL_CHECK(monitored(AGENT) == RELAIS__MONITOR_MODE__MONITOR_BARGE);
	/* The node registers again (its link came back): the call's plan, then the leg again. */
	ht_forget(&h);
	ht_register(&h, NODE, 1);
	RL_CHECK(leg_mode(NODE) == RELAIS__MONITOR_MODE__MONITOR_BARGE);
	a = ht_last(&h, NODE, RELAIS__ENVELOPE__BODY_MONITOR_LEG);
	RL_CHECK(a != NULL && a->monitor_leg->media != NULL && a->monitor_leg->media->rx_ssrc == sup_tx);
	/* The call ends: the site takes the leg off, the supervisor hears why. */
	ht_hangup(&h, AGENT, s_a1, c);
	RL_CHECK(leg_mode(NODE) == RELAIS__MONITOR_MODE__MONITOR_OFF);
	a = ht_last(&h, SUP, RELAIS__ENVELOPE__BODY_MONITOR_STATUS);
	RL_REQUIRE(a != NULL);
	RL_CHECK(a->monitor_status->mode == RELAIS__MONITOR_MODE__MONITOR_OFF);
	RL_CHECK(strcmp(a->monitor_status->end_reason, "call ended") == 0);
	RL_CHECK(monitored(AGENT) == RELAIS__MONITOR_MODE__MONITOR_OFF);
	/* bank does not tell its agents; its supervisor's link dropping takes it off. */
	submit("mon2", "bank.cards", cb);
	ht_set_state(&h, AGENT_B, s_b1, RELAIS__AGENT_STATE__AGENT_READY, NULL);
	RL_REQUIRE(strcmp(offered(AGENT_B), cb) == 0);
	ht_answer(&h, AGENT_B, s_b1, cb, 1);
	RL_CHECK(ht_error(monitor(SUP, "b1", RELAIS__MONITOR_MODE__MONITOR_LISTEN)) == ERR(UNKNOWN_AGENT));
	RL_CHECK(ht_error(monitor(SUP_B, "b1", RELAIS__MONITOR_MODE__MONITOR_WHISPER)) == 0);
	RL_CHECK(leg_mode(NODE) == RELAIS__MONITOR_MODE__MONITOR_WHISPER);
	RL_CHECK(monitored(AGENT_B) == RELAIS__MONITOR_MODE__MONITOR_OFF);
	ht_begin(&h);
	rl_engine_pipe_gone(h.e, SUP_B);
	ht_commit(&h);
	RL_CHECK(leg_mode(NODE) == RELAIS__MONITOR_MODE__MONITOR_OFF);
	/* The admin may join any tenant's call, and leave it. */
	RL_CHECK(ht_error(monitor(CTL, "b1", RELAIS__MONITOR_MODE__MONITOR_LISTEN)) == 0);
	RL_CHECK(leg_mode(NODE) == RELAIS__MONITOR_MODE__MONITOR_LISTEN);
	a = monitor(CTL, "b1", RELAIS__MONITOR_MODE__MONITOR_OFF);
	RL_CHECK(ht_error(a) == 0 && a->monitor_status->mode == RELAIS__MONITOR_MODE__MONITOR_OFF);
	RL_CHECK(leg_mode(NODE) == RELAIS__MONITOR_MODE__MONITOR_OFF);
	stop();
	rl_relay_close(relay);
}

static void test_staffing(void)
{
	char id[32], ext[8];
	uint32_t needed = 0, again = 0;
	double per_hour = 0, per_hour_again = 0;

	/* 100 calls in half an hour, 180 s each, 80 % within 20 s: 14 agents answer 88.8 % in
	 * time, 13 only 79.6 %. */
	RL_CHECK(rl_erlang_agents(100.0 / 1800.0, 180, 0.8, 20) == 14);
	RL_CHECK(rl_erlang_agents(100.0 / 1800.0, 180, 0.9, 20) == 15);
	RL_CHECK(rl_erlang_agents(200.0 / 1800.0, 180, 0.8, 20) > 14); /* more calls, more agents */
	RL_CHECK(rl_erlang_agents(0, 180, 0.8, 20) == 0);
	RL_CHECK(rl_erlang_agents(50.0, 180, 0.8, 20) > 9000 && rl_erlang_agents(50.0, 180, 0.8, 20) < 9200);

	start();
	h.now = (h.now / 900000000u + 1) * 900000000u + 1000000u;        /* 1 s into a quarter of an hour */
	RL_CHECK(staffing_of("telco.billing", &needed, &per_hour) == 0); /* no history yet */
	for (int i = 0; i < 30; i++) {
		snprintf(ext, sizeof(ext), "s%d", i);
		submit(ext, "telco.billing", id);
	}
	RL_CHECK(staffing_of("telco.billing", &needed, &per_hour) == 0); /* that quarter is not over */
	h.now += 900000000u;
	RL_CHECK(staffing_of("telco.billing", &needed, &per_hour) == 1);
	printf("staffing: %.0f contacts an hour -> %u agents\n", per_hour, needed);
	RL_CHECK(per_hour == 120.0);
	RL_CHECK(needed >= 1);
	ht_crash(&h);
	ht_hello(&h, CTL, RELAIS__ROLE__ROLE_CTL, "admin");
	RL_CHECK(staffing_of("telco.billing", &again, &per_hour_again) == 1);
	RL_CHECK(again == needed && per_hour_again == per_hour);
	/* A quarter of an hour later, without a call: none needed. */
	h.now += 900000000u;
	RL_CHECK(staffing_of("telco.billing", &needed, &per_hour) == 1);
	RL_CHECK(needed == 0 && per_hour == 0);
	stop();
}

int main(void)
{
	rl_log_init("test", RL_LOG_ERR);
	test_permissions();
	test_keys();
	test_scopes();
	test_lockouts();
	test_tenants();
	test_refused_writes();
	test_no_replication_on_control();
	test_transfer_refusals();
	test_rona();
	test_wrapup();
	test_disposition_stored();
	test_disposition_after_transfer();
	test_kpi_restart();
	test_staffing();
	test_monitor();
	return rltest_done();
}
