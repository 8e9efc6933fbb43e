/*
 * Sites lost and found, on an engine driven by hand (hubtest.h): a node silent for 2.5 s is
 * lost within 3 s (not only when its pipe closes); its waiting contacts wait for it, offered
 * to nobody, and a ringing offer is withdrawn; it comes back and they are offered again; a
 * restarted node's earlier contacts end at once and free their agents; a node whose link
 * closes has the offers ringing at its seated agents withdrawn too; a submission a node sent
 * on a link it has since replaced, delivered late, is refused; a lost site that
 * cannot serve alone has its waiting contacts ended after the grace, one that can keeps them;
 * queues whose tier-0 site is lost overflow at once; a caller lost with a site who calls
 * again elsewhere gets the old place back; the NOC drains, fails over and fails back, with
 * refusals and an audit trail naming who did what; an agent whose node is lost resumes its
 * session directly at the hub, keeps its seat, hears its site is lost, and takes contacts.
 */
#include <stdio.h>
#include <string.h>

#include "hubtest.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rltest.h"

#define CASA    1 /* casablanca's node */
#define FES     2 /* fes's node */
#define NOC     3
#define SUP     4
#define HOME    10  /* h1's own link */
#define C1_CHAN 101 /* c1, seated at casablanca */
#define F1_CHAN 201 /* f1, seated at fes */
#define ERR(n)  RELAIS__ERROR_CODE__ERR_##n
#define ST(n)   RELAIS__AGENT_STATE__AGENT_##n

static struct ht h;
static uint64_t s_c1, s_f1, s_h1;
static int casa_silent, fes_silent;
static int g_backup; /* casablanca's calls go to fes's agents while it is gone */

static char *conf(void)
{
	static char text[8192];

	snprintf(
	    text, sizeof(text),
	    "sites = ( { id = \"casablanca\"; key = \"%s\"; %s }, { id = \"fes\"; key = \"%s\"; } );\n"
	    "tenants = ( { id = \"telco\"; } );\n"
	    "operators = ( { id = \"noc\"; role = \"noc\"; key = \"%s\"; },\n"
	    "  { id = \"sup\"; role = \"supervisor\"; tenants = [ \"telco\" ]; key = \"%s\"; } );\n"
	    "queues = (\n"
	    " { id = \"casa.q\"; tenant = \"telco\"; skills = { billing = 1; }; sites = [ \"casablanca\" ];\n"
	    "   offer_timeout_s = 30; overflow = ( { after_s = 60; widen = [ \"home\" ]; } ); },\n"
	    " { id = \"fes.q\"; tenant = \"telco\"; skills = { billing = 1; }; sites = [ \"fes\" ]; offer_timeout_s = 30; }\n"
	    ");\n"
	    "agents = (\n"
	    " { id = \"c1\"; tenants = [ \"telco\" ]; skills = { billing = 5; }; site = \"casablanca\"; secret_hash = \"%s\"; },\n"
	    " { id = \"f1\"; tenants = [ \"telco\" ]; skills = { billing = 5; }; site = \"fes\"; secret_hash = \"%s\"; },\n"
	    " { id = \"h1\"; tenants = [ \"telco\" ]; skills = { billing = 5; }; secret_hash = \"%s\"; }\n"
	    ");\n"
	    "dial_plan = { dids = ( { did = \"+212522000100\"; tenant = \"telco\"; menu = \"m\"; },\n"
	    "                       { did = \"*\"; tenant = \"telco\"; queue = \"fes.q\"; } );\n"
	    "  menus = ( { id = \"m\"; prompt = \"menu.wav\"; options = ( { digit = \"1\"; queue = \"casa.q\"; } ); } ); };\n",
	    ht_pub("casablanca"), g_backup ? "backup = [ \"fes\" ];" : "", ht_pub("fes"), ht_pub("noc"), ht_pub("sup"),
	    ht_hash("s"), ht_hash("s"), ht_hash("s"));
	return text;
}

static void start(void)
{
	casa_silent = fes_silent = 0;
	ht_open(&h, conf());
	ht_hello(&h, CASA, RELAIS__ROLE__ROLE_NODE, "casablanca");
	ht_register(&h, CASA, 1);
	ht_hello(&h, FES, RELAIS__ROLE__ROLE_NODE, "fes");
	ht_register(&h, FES, 7);
	ht_hello(&h, NOC, RELAIS__ROLE__ROLE_CTL, "noc");
	ht_hello(&h, SUP, RELAIS__ROLE__ROLE_CTL, "sup");
	ht_hello(&h, HOME, RELAIS__ROLE__ROLE_AGENT, "");
	RL_REQUIRE((s_c1 = ht_login(&h, CASA, C1_CHAN, "c1", "s")) != 0);
	RL_REQUIRE((s_f1 = ht_login(&h, FES, F1_CHAN, "f1", "s")) != 0);
	RL_REQUIRE((s_h1 = ht_login(&h, HOME, 0, "h1", "s")) != 0);
}

/* ready: an agent (its link, chan and session) asks to be ready. */
static void ready(uint32_t pipe, uint64_t chan, uint64_t session)
{
	Relais__AgentSetState s = RELAIS__AGENT_SET_STATE__INIT;
	rl_env env;

	rl_env_init(&env);
	s.state = RELAIS__AGENT_STATE__AGENT_READY;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_SET_STATE;
	env.agent_set_state = &s;
	RL_REQUIRE(ht_error(ht_request(&h, pipe, chan, session, &env)) == 0);
}

/* submit: a carrier call at the node on pipe; its contact id into id (32 bytes). */
static uint64_t submit(uint32_t pipe, const char *ext, const char *queue, const char *caller, char *id)
{
	Relais__SubmitContact sc = RELAIS__SUBMIT_CONTACT__INIT;
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	const rl_env *a;
	rl_env env;

	rl_env_init(&env);
	pop.caller = (char *)caller;
	pop.dialled = "+212522000100";
	sc.ext_id = (char *)ext;
	sc.tenant_id = "telco";
	sc.queue_id = (char *)queue;
	sc.pop = &pop;
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
	env.submit_contact = &sc;
	a = ht_request(&h, pipe, 0, 0, &env);
	RL_REQUIRE(ht_error(a) == 0);
	snprintf(id, 32, "%s", a->submit_contact_ok->contact_id);
	return a->submit_contact_ok->enqueued_us;
}

static const rl_env *status(void)
{
	const rl_env *st = ht_status(&h, NOC, NULL);
	RL_REQUIRE(ht_error(st) == 0);
	return st;
}

static const Relais__SiteState *site_state(const char *id)
{
	const rl_env *st = status();
	for (size_t i = 0; i < st->status_reply->n_sites; i++)
		if (strcmp(st->status_reply->sites[i]->site_id, id) == 0)
			return st->status_reply->sites[i]->state;
	return NULL;
}

static int agent_state(const char *id)
{
	const rl_env *st = status();
	for (size_t i = 0; i < st->status_reply->n_agents; i++)
		if (strcmp(st->status_reply->agents[i]->agent_id, id) == 0)
			return st->status_reply->agents[i]->state;
	return -1;
}

static uint32_t waiting(const char *queue)
{
	const rl_env *st = status();
	for (size_t i = 0; i < st->status_reply->n_queues; i++)
		if (strcmp(st->status_reply->queues[i]->queue_id, queue) == 0)
			return st->status_reply->queues[i]->waiting;
	return 9999;
}

/* pass lets seconds go by, one at a time: the agents heartbeat (seated ones through their
 * node, unless it is silent), the nodes too (unless silent), timers fire. */
static void pass(int seconds)
{
	ht_silence(&h, CASA, casa_silent);
	ht_silence(&h, FES, fes_silent);
	for (int i = 0; i < seconds; i++) {
		ht_heartbeat(&h, HOME, 0, s_h1);
		if (!casa_silent)
			ht_heartbeat(&h, CASA, C1_CHAN, s_c1);
		if (!fes_silent)
			ht_heartbeat(&h, FES, F1_CHAN, s_f1);
		ht_tick(&h, 1000);
	}
}

/* offered_to: the contact last offered on pipe (and chan), or "". */
static const char *offered_to(uint32_t pipe, uint64_t chan)
{
	for (size_t i = h.nframes; i-- > 0;)
		if (h.frames[i].pipe == pipe && h.frames[i].env->chan == chan &&
		    h.frames[i].env->body_case == RELAIS__ENVELOPE__BODY_OFFER)
			return h.frames[i].env->offer->contact_id;
	return "";
}

/* register: the node on pipe registers with boot, able to serve alone (survivable) or not. */
static void register_node(uint32_t pipe, uint64_t boot, int survivable)
{
	Relais__SiteRegister sr = RELAIS__SITE_REGISTER__INIT;
	rl_env env;

	rl_env_init(&env);
	sr.boot_id = boot;
	sr.survivable = survivable;
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_REGISTER;
	env.site_register = &sr;
	RL_REQUIRE(ht_error(ht_request(&h, pipe, 0, 0, &env)) == 0);
}

/* A node silent for the liveness window is lost within 3 s; heard again, it is back. (It can
 * serve alone: its callers wait for it however long it is lost.) */
static void test_silence(void)
{
	char a[32];

	start();
	register_node(CASA, 1, 1);
	ready(CASA, C1_CHAN, s_c1);
	submit(CASA, "s1", "casa.q", "+2126001", a);
	RL_REQUIRE(strcmp(offered_to(CASA, C1_CHAN), a) == 0);
	casa_silent = 1;
	pass(2);
	RL_CHECK(site_state("casablanca")->up); /* 2 s of silence: not yet */
	pass(1);
	RL_CHECK(!site_state("casablanca")->up);  /* 3 s: lost */
	RL_CHECK(agent_state("c1") == ST(READY)); /* the offer was withdrawn, no penalty */
	RL_CHECK(waiting("casa.q") == 0);         /* suspended: waiting for its site, offered to nobody */
	ready(HOME, 0, s_h1);
	pass(70); /* past every overflow: still nobody, the caller is at the lost site */
	RL_CHECK(strcmp(offered_to(HOME, 0), "") == 0);
	ht_forget(&h);
	casa_silent = 0;
	pass(1);
	RL_CHECK(site_state("casablanca")->up);
	/* back in its queue, at its place: offered again */
	RL_CHECK(strcmp(offered_to(HOME, 0), a) == 0 || strcmp(offered_to(CASA, C1_CHAN), a) == 0);
	ht_close(&h);
}

/* A restarted node: the contacts of its earlier boot end at once, their agents are free. */
static void test_restart(void)
{
	char a[32], b[32], c[32];
	const rl_env *u;

	start();
	ready(FES, F1_CHAN, s_f1);
	submit(CASA, "r1", "fes.q", "+2126002", a); /* a casablanca caller, answered at fes */
	RL_REQUIRE(strcmp(offered_to(FES, F1_CHAN), a) == 0);
	Relais__OfferAnswer oa = RELAIS__OFFER_ANSWER__INIT;
	rl_env env;
	rl_env_init(&env);
	oa.contact_id = a;
	oa.accept = 1;
	env.body_case = RELAIS__ENVELOPE__BODY_OFFER_ANSWER;
	env.offer_answer = &oa;
	RL_REQUIRE(ht_error(ht_request(&h, FES, F1_CHAN, s_f1, &env)) == 0);
	ready(HOME, 0, s_h1);
	submit(CASA, "r2", "casa.q", "+2126003", b); /* waits (casa.q: casablanca's agents first) */
	submit(CASA, "r3", "fes.q", "+2126004", c);  /* waits: f1 is busy */
	ht_begin(&h);
	rl_engine_pipe_gone(h.e, CASA);
	ht_commit(&h);
	RL_CHECK(!site_state("casablanca")->up); /* a closed link is lost at once */
	RL_CHECK(agent_state("f1") == ST(BUSY)); /* a call in progress is left alone */
	ht_hello(&h, CASA, RELAIS__ROLE__ROLE_NODE, "casablanca");
	ht_heartbeat(&h, CASA, 0, 0);
	RL_CHECK(!site_state("casablanca")->up); /* heard, but which boot is it? not back yet */
	ht_register(&h, CASA, 2);                /* a new boot: the earlier one's calls died with it */
	RL_CHECK(agent_state("f1") == ST(WRAPUP));
	RL_CHECK(waiting("casa.q") == 0 && waiting("fes.q") == 0);
	u = ht_last(&h, CASA, RELAIS__ENVELOPE__BODY_CONTACT_UPDATE);
	RL_CHECK(u != NULL && u->contact_update->state == RELAIS__CONTACT_STATE__CONTACT_ENDED &&
	         u->contact_update->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED &&
	         strcmp(u->contact_update->end_reason, "site lost") == 0);
	ht_close(&h);
}

/* A node whose link closes (killed): an offer ringing at its seated agent is withdrawn, and
 * the caller, at another site, is offered to someone else at once - not left ringing at an
 * unreachable agent until its offer times out. */
static void test_link_closed(void)
{
	char a[32];

	start();
	ready(CASA, C1_CHAN, s_c1);
	submit(FES, "k1", "casa.q", "+2126021", a); /* a fes caller for casablanca's queue */
	RL_REQUIRE(strcmp(offered_to(CASA, C1_CHAN), a) == 0);
	RL_REQUIRE(agent_state("c1") == ST(RESERVED));
	ht_begin(&h);
	rl_engine_pipe_gone(h.e, CASA);
	ht_commit(&h);
	RL_CHECK(!site_state("casablanca")->up);
	RL_CHECK(agent_state("c1") == ST(READY)); /* withdrawn, no penalty */
	RL_CHECK(waiting("casa.q") == 1);         /* its caller is at fes: it waits again */
	ready(HOME, 0, s_h1);
	RL_CHECK(strcmp(offered_to(HOME, 0), a) == 0); /* casablanca lost: overflowed at once */
	ht_close(&h);
}

/* A node's link replaced by a new one (it re-dialled through a partition): a submission sent
 * on the old one and delivered late is refused - the node gave up on it - while the new link
 * submits as before. */
static void test_replaced_link(void)
{
	const uint32_t casa2 = 5;
	char a[32];

	start();
	ht_hello(&h, casa2, RELAIS__ROLE__ROLE_NODE, "casablanca");
	ht_register(&h, casa2, 1);
	RL_CHECK(ht_error(ht_submit(&h, CASA, "z1", "telco", "casa.q", "+2126022")) == ERR(BAD_STATE));
	RL_CHECK(waiting("casa.q") == 0);
	submit(casa2, "z2", "casa.q", "+2126023", a);
	RL_CHECK(waiting("casa.q") == 1);
	ht_close(&h);
}

/* Lost too long: a site that cannot serve alone loses its waiting callers, one that can
 * (survivable) keeps them for when it returns. */
static void test_lost_too_long(void)
{
	char a[32], b[32];

	start();
	submit(CASA, "l1", "casa.q", "+2126005", a);
	casa_silent = 1;
	pass(3);
	pass(11);
	RL_CHECK(ht_error(ht_submit(&h, CASA, "l1", "telco", "casa.q", "+2126005")) == 0); /* heard: back */
	RL_CHECK(waiting("casa.q") == 0); /* ... but after 12 s lost, that caller had been ended */
	/* A survivable site: its callers wait for it. */
	register_node(CASA, 1, 1);
	submit(CASA, "l2", "casa.q", "+2126006", b);
	pass(33);
	RL_CHECK(!site_state("casablanca")->up && site_state("casablanca")->survivable);
	casa_silent = 0;
	pass(1);
	RL_CHECK(waiting("casa.q") == 1);
	ht_close(&h);
}

/* A queue whose tier-0 site is lost overflows at once, for callers at other sites. */
static void test_overflow_at_once(void)
{
	char a[32];

	start();
	ready(HOME, 0, s_h1);
	submit(FES, "o1", "casa.q", "+2126007", a); /* a fes caller for casablanca's queue */
	pass(1);
	RL_CHECK(strcmp(offered_to(HOME, 0), "") == 0); /* home agents after 60 s */
	casa_silent = 1;
	pass(3);
	RL_CHECK(strcmp(offered_to(HOME, 0), a) == 0); /* casablanca lost: home at once */
	ht_close(&h);
}

/* A caller lost with its site who calls again elsewhere takes the old place back. */
static void test_represent(void)
{
	char a[32], b[32], c[32];
	uint64_t enq_a, enq_b;
	const rl_env *o;

	start();
	enq_a = submit(CASA, "p1", "casa.q", "+2126008", a);
	pass(1);
	casa_silent = 1;
	pass(3);
	enq_b = submit(FES, "p2", "casa.q", "+2126008", b); /* the same caller and number, at fes */
	RL_CHECK(enq_b == enq_a);
	submit(FES, "p3", "casa.q", "+2126009", c); /* someone else, later */
	ready(HOME, 0, s_h1);                       /* (casablanca lost: home agents at once) */
	o = ht_last(&h, HOME, RELAIS__ENVELOPE__BODY_OFFER);
	RL_REQUIRE(o != NULL && strcmp(o->offer->contact_id, b) == 0); /* first: its old place */
	int said = 0;
	for (size_t i = 0; o->offer->pop && i < o->offer->pop->n_data; i++)
		said |= strcmp(o->offer->pop->data[i]->key, "represented_from") == 0 &&
		        strcmp(o->offer->pop->data[i]->value, a) == 0;
	RL_CHECK(said); /* the agent sees it is a re-presented call */
	casa_silent = 0;
	pass(1);
	RL_CHECK(waiting("casa.q") == 1); /* the earlier contact ended: only c waits */
	ht_close(&h);
}

/* ---------------------------------------------------------------------------------------- */
/* the NOC's commands */

static const rl_env *command(uint32_t pipe, const char *site, Relais__SiteAction act, uint32_t pct, const char *to,
                             const char *reason, int force)
{
	Relais__SiteCommand sc = RELAIS__SITE_COMMAND__INIT;
	rl_env env;

	rl_env_init(&env);
	sc.site_id = (char *)site;
	sc.action = act;
	sc.percent = pct;
	sc.to_site = (char *)to;
	sc.reason = (char *)reason;
	sc.force = force;
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_COMMAND;
	env.site_command = &sc;
	return ht_request(&h, pipe, 0, 0, &env);
}

static const rl_env *audit(uint32_t pipe)
{
	Relais__AuditRequest ar = RELAIS__AUDIT_REQUEST__INIT;
	rl_env env;

	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_AUDIT_REQUEST;
	env.audit_request = &ar;
	return ht_request(&h, pipe, 0, 0, &env);
}

static void test_noc(void)
{
	const rl_env *a, *d;
	char x[32];

	start();
	a = command(NOC, "casablanca", RELAIS__SITE_ACTION__SITE_DRAIN, 50, NULL, "fibre works", 0);
	RL_REQUIRE(ht_error(a) == 0 && a->body_case == RELAIS__ENVELOPE__BODY_SITE_STATE);
	RL_CHECK(a->site_state->drain_pct == 50 && strcmp(a->site_state->by, "noc") == 0);
	d = ht_last(&h, CASA, RELAIS__ENVELOPE__BODY_SITE_DRAIN); /* the node is told */
	RL_CHECK(d && d->site_drain->on && d->site_drain->percent == 50 && d->site_drain->command_seq > 0);
	/* Refused, and audited: no reason, unknown site, failover to itself, by a supervisor. */
	RL_CHECK(ht_error(command(NOC, "casablanca", RELAIS__SITE_ACTION__SITE_DRAIN, 50, NULL, "", 0)) ==
	         ERR(BAD_STATE));
	RL_CHECK(ht_error(command(NOC, "rabat", RELAIS__SITE_ACTION__SITE_DRAIN, 50, NULL, "x", 0)) ==
	         ERR(UNKNOWN_SITE));
	RL_CHECK(ht_error(command(NOC, "casablanca", RELAIS__SITE_ACTION__SITE_FAILOVER, 0, "casablanca", "x", 0)) ==
	         ERR(BAD_STATE));
	RL_CHECK(ht_error(command(SUP, "casablanca", RELAIS__SITE_ACTION__SITE_UNDRAIN, 0, NULL, "x", 0)) ==
	         ERR(FORBIDDEN));
	RL_CHECK(ht_error(audit(SUP)) == ERR(FORBIDDEN));
	/* Failover: casablanca's seated agents are routed as fes's. */
	ready(CASA, C1_CHAN, s_c1);
	submit(FES, "n1", "fes.q", "+2126010", x);
	RL_CHECK(strcmp(offered_to(CASA, C1_CHAN), "") == 0); /* fes.q: fes's agents only */
	a = command(NOC, "casablanca", RELAIS__SITE_ACTION__SITE_FAILOVER, 0, "fes", "health inspection", 0);
	RL_REQUIRE(ht_error(a) == 0);
	RL_CHECK(a->site_state->drain_pct == 100 && strcmp(a->site_state->failed_over_to, "fes") == 0);
	RL_CHECK(strcmp(offered_to(CASA, C1_CHAN), x) == 0);
	/* A second operator's opposite command wins, both are audited. */
	RL_CHECK(ht_error(command(NOC, "casablanca", RELAIS__SITE_ACTION__SITE_FAILBACK, 0, NULL, "reopened", 0)) == 0);
	RL_CHECK(site_state("casablanca")->drain_pct == 0 && site_state("casablanca")->failed_over_to[0] == '\0');
	/* Fes lost: draining casablanca fully would leave no site taking calls. */
	fes_silent = 1;
	pass(3);
	RL_CHECK(ht_error(command(NOC, "casablanca", RELAIS__SITE_ACTION__SITE_DRAIN, 100, NULL, "x", 0)) ==
	         ERR(BAD_STATE));
	RL_CHECK(ht_error(command(NOC, "casablanca", RELAIS__SITE_ACTION__SITE_FAILOVER, 0, "fes", "x", 0)) ==
	         ERR(BAD_STATE)); /* fes is lost: no failover there */
	RL_CHECK(ht_error(command(NOC, "casablanca", RELAIS__SITE_ACTION__SITE_DRAIN, 100, NULL, "evacuation", 1)) ==
	         0);
	a = audit(NOC);
	RL_REQUIRE(ht_error(a) == 0);
	RL_CHECK(a->audit_reply->n_entries == 9);
	RL_CHECK(strcmp(a->audit_reply->entries[0]->operator_id, "noc") == 0 &&
	         strstr(a->audit_reply->entries[0]->detail, "drain 50% reason=\"fibre works\" -> done") != NULL);
	RL_CHECK(strstr(a->audit_reply->entries[1]->detail, "refused: a reason is required") != NULL);
	RL_CHECK(strstr(a->audit_reply->entries[4]->detail, "failover to=fes reason=\"health inspection\" -> done"));
	RL_CHECK(strstr(a->audit_reply->entries[8]->detail, "drain 100% force reason=\"evacuation\" -> done") != NULL);
	ht_close(&h);
}

/* The dial plan is the hub's: every node hears it when it registers, the same for all; one
 * that names a queue of another tenant, or an unknown one, keeps the hub from starting. */
static void test_dial_plan(void)
{
	const rl_env *a, *b;
	char bad[8192];
	struct ht h2;

	start();
	a = ht_last(&h, CASA, RELAIS__ENVELOPE__BODY_DIAL_PLAN);
	b = ht_last(&h, FES, RELAIS__ENVELOPE__BODY_DIAL_PLAN);
	RL_REQUIRE(a != NULL && b != NULL);
	RL_CHECK(a->dial_plan->version != 0 && a->dial_plan->version == b->dial_plan->version);
	RL_CHECK(a->dial_plan->n_dids == 2 && a->dial_plan->n_menus == 1);
	RL_CHECK(strcmp(a->dial_plan->menus[0]->prompt, "menu.wav") == 0);
	ht_forget(&h);
	register_node(CASA, 1, 0); /* again: told again */
	RL_CHECK(ht_last(&h, CASA, RELAIS__ENVELOPE__BODY_DIAL_PLAN) != NULL);
	RL_CHECK(ht_last(&h, FES, RELAIS__ENVELOPE__BODY_DIAL_PLAN) == NULL);
	ht_close(&h);

	snprintf(bad, sizeof(bad), "%s", conf());
	char *t = strstr(bad, "queue = \"casa.q\"; } ); } ); };");
	RL_REQUIRE(t != NULL);
	memcpy(t, "queue = \"nope.q\"", strlen("queue = \"nope.q\""));
	RL_CHECK(ht_open_rv(&h2, bad) == RL_ECONFIG);
	snprintf(bad, sizeof(bad), "%s", conf());
	t = strstr(bad, "tenant = \"telco\"; queue = \"fes.q\"");
	RL_REQUIRE(t != NULL);
	memcpy(t, "tenant = \"other\"", strlen("tenant = \"other\""));
	RL_CHECK(ht_open_rv(&h2, bad) == RL_ECONFIG);
}

/* engine_ok: the engine's invariants hold (rl_engine_check), among them each queue's counts
 * of staffed and working agents, which follow the agents as their sites fail over. */
static void engine_ok(void)
{
	char why[256];

	RL_CHECK(rl_engine_check(h.e, why, sizeof(why)) == 0);
}

/* A backup takes a gone site's calls as its own at once, in the order given, and gives them
 * back when the site returns; a failover with no target goes to the first backup serving. */
static void test_backup(void)
{
	const rl_env *a;
	char x[32];

	g_backup = 1;
	start();
	ready(FES, F1_CHAN, s_f1);
	submit(FES, "k1", "casa.q", "+2126020", x); /* casablanca's queue: its agents first */
	pass(1);
	RL_CHECK(strcmp(offered_to(FES, F1_CHAN), "") == 0);
	casa_silent = 1;
	pass(3);
	RL_CHECK(strcmp(offered_to(FES, F1_CHAN), x) == 0); /* casablanca lost: fes backs it up */
	RL_CHECK(strcmp(site_state("casablanca")->covered_by, "fes") == 0);
	engine_ok(); /* f1, working, now eligible for casa.q too */
	casa_silent = 0;
	pass(1);
	RL_CHECK(site_state("casablanca")->up && site_state("casablanca")->covered_by[0] == '\0');
	engine_ok();
	a = command(NOC, "casablanca", RELAIS__SITE_ACTION__SITE_FAILOVER, 0, NULL, "strike", 0);
	RL_REQUIRE(ht_error(a) == 0);
	RL_CHECK(strcmp(a->site_state->failed_over_to, "fes") == 0 && strcmp(a->site_state->covered_by, "fes") == 0);
	a = command(NOC, "casablanca", RELAIS__SITE_ACTION__SITE_FAILBACK, 0, NULL, "over", 0);
	RL_REQUIRE(ht_error(a) == 0);
	a = command(NOC, "casablanca", RELAIS__SITE_ACTION__SITE_FAILOVER, 0, "home", "home only", 0);
	RL_REQUIRE(ht_error(a) == 0);
	RL_CHECK(strcmp(a->site_state->failed_over_to, "home") == 0);
	engine_ok();
	a = audit(NOC);
	RL_REQUIRE(ht_error(a) == 0 && a->audit_reply->n_entries == 3);
	RL_CHECK(strstr(a->audit_reply->entries[0]->detail, "failover to=fes reason=\"strike\" -> done") != NULL);
	RL_CHECK(strstr(a->audit_reply->entries[2]->detail, "failover to=home reason=\"home only\" -> done") != NULL);
	ht_close(&h);
	g_backup = 0;
}

/* resume: the session's resume with token on pipe (no chan: the agent's own link). */
static const rl_env *resume(uint32_t pipe, uint64_t session, const uint8_t *token)
{
	Relais__AgentResume r = RELAIS__AGENT_RESUME__INIT;
	rl_env env;

	rl_env_init(&env);
	r.session = session;
	r.token.data = (uint8_t *)token;
	r.token.len = 16;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_RESUME;
	env.agent_resume = &r;
	return ht_request(&h, pipe, 0, session, &env);
}

/* An agent seated at casablanca re-homes to the hub when its node is lost. */
static void test_rehome(void)
{
	const uint32_t direct = 11; /* c1's own link to the hub */
	const rl_env *a, *ok;
	uint8_t token[16], wrong[16];
	char x[32];

	start();
	ok = ht_last(&h, CASA, RELAIS__ENVELOPE__BODY_AGENT_LOGIN_OK);
	RL_REQUIRE(ok && ok->agent_login_ok->session == s_c1 && ok->agent_login_ok->token.len == 16);
	memcpy(token, ok->agent_login_ok->token.data, 16);
	ready(CASA, C1_CHAN, s_c1);
	casa_silent = 1;
	pass(3);
	RL_CHECK(!site_state("casablanca")->up);
	ht_hello(&h, direct, RELAIS__ROLE__ROLE_AGENT, "");
	/* The token is still proven. */
	memcpy(wrong, token, 16);
	wrong[0] ^= 1;
	RL_CHECK(ht_error(resume(direct, s_c1, wrong)) == ERR(NOT_LOGGED_IN));
	a = resume(direct, s_c1, token);
	RL_REQUIRE(ht_error(a) == 0 && a->body_case == RELAIS__ENVELOPE__BODY_AGENT_STATUS);
	/* Same session, same state, same seat; told on its new link that its site is lost. */
	RL_CHECK(a->agent_status->state == ST(READY) && strcmp(a->agent_status->site_id, "casablanca") == 0);
	a = ht_last(&h, direct, RELAIS__ENVELOPE__BODY_SITE_STATE);
	RL_CHECK(a && strcmp(a->site_state->site_id, "casablanca") == 0 && !a->site_state->up);
	/* Routed as its site's: a casablanca queue's contact arriving at fes is offered to it there. */
	submit(FES, "r1", "casa.q", "+2126020", x);
	RL_CHECK(strcmp(offered_to(direct, 0), x) == 0);
	RL_CHECK(strcmp(offered_to(CASA, C1_CHAN), x) != 0);
	ht_close(&h);
}

static const Relais__QueueStat *qstat(const char *id)
{
	const rl_env *st = status();
	for (size_t i = 0; i < st->status_reply->n_queues; i++)
		if (strcmp(st->status_reply->queues[i]->queue_id, id) == 0)
			return st->status_reply->queues[i];
	return NULL;
}

static int cancel(uint32_t pipe, const char *id, int never_connected)
{
	Relais__ContactCancel cc = RELAIS__CONTACT_CANCEL__INIT;
	rl_env env;

	rl_env_init(&env);
	cc.contact_id = (char *)id;
	cc.outcome = RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED;
	cc.never_connected = never_connected;
	env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_CANCEL;
	env.contact_cancel = &cc;
	return ht_error(ht_request(&h, pipe, 0, 0, &env));
}

static void accept_as(uint32_t pipe, uint64_t chan, uint64_t session, const char *id)
{
	RL_REQUIRE(ht_error(ht_answer_on(&h, pipe, chan, session, id, 1)) == 0);
}

static void hangup_as(uint32_t pipe, uint64_t chan, uint64_t session, const char *id)
{
	RL_REQUIRE(ht_error(ht_hangup_on(&h, pipe, chan, session, id)) == 0);
}

/* A casablanca caller accepted by a fes agent while casablanca's node is frozen: the caller
 * left before the node could connect anyone. When the node says so, the answer is taken back
 * (the carrier's count and the hub's agree), whether the contact is still live or has ended;
 * once only, by its own site only, and the same after a restart (the KPIs are a fold of the
 * event log). A caller who hangs up on an agent it was connected to stays answered. */
static void test_never_connected(void)
{
	char a[32], b[32], c[32];

	start();
	ready(FES, F1_CHAN, s_f1);
	submit(CASA, "n1", "fes.q", "+2126101", a);
	accept_as(FES, F1_CHAN, s_f1, a);
	RL_CHECK(qstat("fes.q")->answered == 1);
	RL_CHECK(cancel(CASA, a, 1) == 0); /* live: it ends abandoned */
	RL_CHECK(qstat("fes.q")->answered == 0 && qstat("fes.q")->abandoned == 1);
	RL_CHECK(agent_state("f1") == ST(WRAPUP));
	pass(31);
	ready(FES, F1_CHAN, s_f1);
	submit(CASA, "n2", "fes.q", "+2126102", b);
	accept_as(FES, F1_CHAN, s_f1, b);
	hangup_as(FES, F1_CHAN, s_f1, b); /* ended as handled, then the node wakes */
	RL_CHECK(qstat("fes.q")->answered == 1);
	RL_CHECK(cancel(FES, b, 1) == RELAIS__ERROR_CODE__ERR_FORBIDDEN || qstat("fes.q")->answered == 1);
	RL_CHECK(qstat("fes.q")->answered == 1); /* not fes's to take back */
	RL_CHECK(cancel(CASA, b, 1) == 0);
	RL_CHECK(cancel(CASA, b, 1) == 0); /* sent again */
	RL_CHECK(qstat("fes.q")->answered == 0 && qstat("fes.q")->abandoned == 2);
	pass(31);
	ready(FES, F1_CHAN, s_f1);
	submit(CASA, "n3", "fes.q", "+2126103", c);
	accept_as(FES, F1_CHAN, s_f1, c);
	RL_CHECK(cancel(CASA, c, 0) == 0); /* the caller hung up on the agent */
	RL_CHECK(qstat("fes.q")->answered == 1 && qstat("fes.q")->abandoned == 2);
	ht_crash(&h);
	ht_hello(&h, NOC, RELAIS__ROLE__ROLE_CTL, "noc");
	RL_CHECK(qstat("fes.q")->answered == 1 && qstat("fes.q")->abandoned == 2);
	engine_ok();
	ht_close(&h);
}

/* seats_alive: the node on pipe says it hears seat (chan, session) with that view. */
static const rl_env *seats_alive(uint32_t pipe, uint64_t chan, uint64_t session, Relais__AgentState st,
                                 const char *contact)
{
	Relais__SeatsAlive sa = RELAIS__SEATS_ALIVE__INIT;
	Relais__Seat seat = RELAIS__SEAT__INIT, *sp = &seat;
	rl_env env;

	rl_env_init(&env);
	seat.chan = chan;
	seat.session = session;
	seat.state = st;
	seat.contact_id = (char *)contact;
	sa.n_seats = 1;
	sa.seats = &sp;
	env.body_case = RELAIS__ENVELOPE__BODY_SEATS_ALIVE;
	env.seats_alive = &sa;
	return ht_request(&h, pipe, 0, 0, &env);
}

/* last_on: the last frame of kind body on pipe and chan (NULL: none since `from`). */
static const rl_env *last_on(size_t from, uint32_t pipe, uint64_t chan, Relais__Envelope__BodyCase body)
{
	for (size_t i = h.nframes; i-- > from;)
		if (h.frames[i].pipe == pipe && h.frames[i].env->chan == chan && h.frames[i].env->body_case == body)
			return h.frames[i].env;
	return NULL;
}

/* A node heartbeats once for all its seated agents: they stay reachable with no heartbeat of
 * their own; a seat whose view differs hears its status again; one not bound there is told to
 * resume; only a node may send it, and only for its own links. */
static void test_seats_alive(void)
{
	size_t from;
	const rl_env *st;

	start();
	ready(CASA, C1_CHAN, s_c1);
	for (int i = 0; i < 20; i++) { /* 20 s: past RL_LINK_DEAD_MS, c1 silent itself */
		RL_CHECK(seats_alive(CASA, C1_CHAN, s_c1, ST(READY), "") == NULL); /* nothing to say */
		ht_heartbeat(&h, FES, F1_CHAN, s_f1);
		ht_heartbeat(&h, HOME, 0, s_h1);
		ht_tick(&h, 1000);
	}
	RL_CHECK(agent_state("c1") == ST(READY));
	{
		char a[32];
		submit(CASA, "sa1", "casa.q", "+2126201", a);
		RL_CHECK(strcmp(offered_to(CASA, C1_CHAN), a) == 0); /* reachable: offered */
	}
	/* The node's view lags: just after the offer, its push may be on the way; still so 2 s
	 * later, it was lost: c1 hears its status again. */
	from = h.nframes;
	seats_alive(CASA, C1_CHAN, s_c1, ST(READY), "");
	RL_CHECK(last_on(from, CASA, C1_CHAN, RELAIS__ENVELOPE__BODY_AGENT_STATUS) == NULL);
	ht_tick(&h, 2000);
	from = h.nframes;
	seats_alive(CASA, C1_CHAN, s_c1, ST(READY), "");
	st = last_on(from, CASA, C1_CHAN, RELAIS__ENVELOPE__BODY_AGENT_STATUS);
	RL_CHECK(st != NULL && st->agent_status->state == ST(RESERVED));
	/* A seat not bound on that link: told to resume, nothing else changes. */
	from = h.nframes;
	seats_alive(CASA, C1_CHAN + 7, s_c1, ST(READY), "");
	st = last_on(from, CASA, C1_CHAN + 7, RELAIS__ENVELOPE__BODY_ERROR);
	RL_CHECK(st != NULL && st->error->code == RELAIS__ERROR_CODE__ERR_NOT_LOGGED_IN);
	/* fes's node cannot keep casablanca's agent alive, nor can an agent or a tool send it. */
	from = h.nframes;
	seats_alive(FES, C1_CHAN, s_c1, ST(READY), "");
	RL_CHECK(last_on(from, FES, C1_CHAN, RELAIS__ENVELOPE__BODY_ERROR) != NULL);
	RL_CHECK(ht_error(seats_alive(HOME, 0, s_h1, ST(READY), "")) == RELAIS__ERROR_CODE__ERR_FORBIDDEN);
	RL_CHECK(ht_error(seats_alive(NOC, 0, 0, ST(READY), "")) == RELAIS__ERROR_CODE__ERR_FORBIDDEN);
	/* Without them, c1 is unreachable after the link's dead time (its offer withdrawn). */
	for (int i = 0; i < 8; i++) {
		ht_heartbeat(&h, FES, F1_CHAN, s_f1);
		ht_heartbeat(&h, HOME, 0, s_h1);
		ht_tick(&h, 1000);
	}
	st = status();
	for (size_t i = 0; i < st->status_reply->n_agents; i++)
		if (strcmp(st->status_reply->agents[i]->agent_id, "c1") == 0)
			RL_CHECK(!st->status_reply->agents[i]->connected);
	ht_close(&h);
}

int main(void)
{
	rl_log_init("test", RL_LOG_ERR);
	test_silence();
	test_restart();
	test_link_closed();
	test_replaced_link();
	test_lost_too_long();
	test_overflow_at_once();
	test_represent();
	test_noc();
	test_dial_plan();
	test_backup();
	test_rehome();
	test_never_connected();
	test_seats_alive();
	return rltest_done();
}
