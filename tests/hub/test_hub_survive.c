/*
 * Survivable sites at the hub, on an engine driven by hand (hubtest.h):
 *  - the model a survivable node asks for, part by part: its site's directory without
 *    secrets, and only its own agents;
 *  - while the site is lost its seated agents stay logged in past the grace, and its callers
 *    wait for it;
 *  - the journal the node hands over when it is back: contacts the hub knew take what the
 *    node says (by id, or by ext id for one whose acknowledgement was lost), new ones are
 *    added under the node's ids, the period's events count in the KPIs once (a part sent
 *    again is applied once), the agents take their state (one on a call keeps it, with a
 *    fresh media plan), and until the last part no agent of the site is offered a call;
 *  - the calls a node took alone, listed in its register before the journal, are not told
 *    they are over; a contact the hub had ended keeps the hub's end; what the hub counted
 *    already of a contact (its enqueue, its answer) is not counted again from the journal; a
 *    call from elsewhere a seated agent had through the relay when the site was lost ends
 *    when the journal shows the agent on the site's own work;
 *  - a journal from a site about another site's contacts, or malformed, changes nothing.
 */
#include <stdio.h>
#include <string.h>

#include "hubtest.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rltest.h"

#define CASA    1
#define FES     2
#define NOC     3
#define C1_CHAN 101
#define C2_CHAN 102
#define F1_CHAN 201
#define ST(n)   RELAIS__AGENT_STATE__AGENT_##n
#define CS(n)   RELAIS__CONTACT_STATE__CONTACT_##n
#define OUT(n)  RELAIS__CONTACT_OUTCOME__OUTCOME_##n

static struct ht h;
static uint64_t s_c1, s_c2, s_f1;
static int casa_silent;

static const char *conf(void)
{
	static char text[8192];

	snprintf(
	    text, sizeof(text),
	    "sites = ( { id = \"casablanca\"; key = \"%s\"; }, { id = \"fes\"; key = \"%s\"; } );\n"
	    "tenants = ( { id = \"telco\"; } );\n"
	    "operators = ( { id = \"noc\"; role = \"noc\"; key = \"%s\"; } );\n"
	    "queues = ( { id = \"casa.q\"; tenant = \"telco\"; skills = { billing = 1; }; sites = [ \"casablanca\" ];"
	    " offer_timeout_s = 30; wrapup_s = 5;"
	    " overflow = ( { after_s = 2; widen = [ \"all_sites\" ]; } ); } );\n"
	    "agents = (\n"
	    " { id = \"c1\"; tenants = [ \"telco\" ]; skills = { billing = 5; }; site = \"casablanca\"; secret_hash = "
	    "\"%s\"; },\n"
	    " { id = \"c2\"; tenants = [ \"telco\" ]; skills = { billing = 5; }; site = \"casablanca\"; secret_hash = "
	    "\"%s\"; },\n"
	    " { id = \"f1\"; tenants = [ \"telco\" ]; skills = { billing = 5; }; site = \"fes\"; secret_hash = \"%s\"; }\n"
	    ");\n",
	    ht_pub("casablanca"), ht_pub("fes"), ht_pub("noc"), ht_hash("s"), ht_hash("s"), ht_hash("s"));
	return text;
}

static void register_node(uint32_t pipe, uint64_t boot, uint32_t journal_parts, uint64_t journal_id)
{
	Relais__SiteRegister sr = RELAIS__SITE_REGISTER__INIT;
	rl_env env;

	rl_env_init(&env);
	sr.boot_id = boot;
	sr.survivable = 1;
	sr.journal_parts = journal_parts;
	sr.journal_id = journal_id;
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_REGISTER;
	env.site_register = &sr;
	RL_REQUIRE(ht_error(ht_request(&h, pipe, 0, 0, &env)) == 0);
}

static void set_state(uint32_t pipe, uint64_t chan, uint64_t session, Relais__AgentState st)
{
	Relais__AgentSetState s = RELAIS__AGENT_SET_STATE__INIT;
	rl_env env;

	rl_env_init(&env);
	s.state = st;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_SET_STATE;
	env.agent_set_state = &s;
	RL_REQUIRE(ht_error(ht_request(&h, pipe, chan, session, &env)) == 0);
}

static void submit(uint32_t pipe, const char *ext, const char *caller, char *id)
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
	sc.queue_id = "casa.q";
	sc.pop = &pop;
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
	env.submit_contact = &sc;
	a = ht_request(&h, pipe, 0, 0, &env);
	RL_REQUIRE(ht_error(a) == 0);
	snprintf(id, 32, "%s", a->submit_contact_ok->contact_id);
}

static void answer(uint32_t pipe, uint64_t chan, uint64_t session, const char *id)
{
	RL_REQUIRE(ht_error(ht_answer_on(&h, pipe, chan, session, id, 1)) == 0);
}

/* hangup: the agent on pipe/chan hangs up contact id; returns the hub's error code (0: done). */
static int hangup(uint32_t pipe, uint64_t chan, uint64_t session, const char *id)
{
	return ht_error(ht_hangup_on(&h, pipe, chan, session, id));
}

static const rl_env *status(void)
{
	const rl_env *st = ht_status(&h, NOC, NULL);
	RL_REQUIRE(ht_error(st) == 0);
	return st;
}

static const Relais__AgentStat *agent(const char *id)
{
	const rl_env *st = status();
	for (size_t i = 0; i < st->status_reply->n_agents; i++)
		if (strcmp(st->status_reply->agents[i]->agent_id, id) == 0)
			return st->status_reply->agents[i];
	return NULL;
}

static const Relais__QueueStat *queue(void)
{
	const rl_env *st = status();
	return st->status_reply->n_queues ? st->status_reply->queues[0] : NULL;
}

static void pass(int seconds)
{
	ht_silence(&h, CASA, casa_silent);
	for (int i = 0; i < seconds; i++) {
		if (!casa_silent) {
			ht_heartbeat(&h, CASA, C1_CHAN, s_c1);
			ht_heartbeat(&h, CASA, C2_CHAN, s_c2);
		}
		ht_heartbeat(&h, FES, F1_CHAN, s_f1);
		ht_tick(&h, 1000);
	}
}

static const char *offered_to(uint32_t pipe, uint64_t chan)
{
	for (size_t i = h.nframes; i-- > 0;)
		if (h.frames[i].pipe == pipe && h.frames[i].env->chan == chan &&
		    h.frames[i].env->body_case == RELAIS__ENVELOPE__BODY_OFFER)
			return h.frames[i].env->offer->contact_id;
	return "";
}

/* ---------------------------------------------------------------------------------------- */
/* a journal, as a node writes it */

struct journal {
	Relais__ContactRecord c[8], *cp[8];
	Relais__EventRecord ev[8], *evp[8];
	Relais__AgentRecord a[4], *ap[4];
	Relais__ScreenPop pop[8];
	size_t nc, nev, na;
};

static Relais__ContactRecord *jcontact(struct journal *j, const char *id, const char *ext, Relais__ContactState st,
                                       const char *agent, uint64_t enq)
{
	Relais__ContactRecord *c = &j->c[j->nc];

	relais__contact_record__init(c);
	relais__screen_pop__init(&j->pop[j->nc]);
	j->pop[j->nc].caller = (char *)"+212600000009";
	c->contact_id = (char *)id;
	c->ext_id = (char *)ext;
	c->tenant_id = "telco";
	c->queue_id = "casa.q";
	c->site_id = "casablanca";
	c->state = st;
	c->agent_id = (char *)agent;
	c->enqueued_us = enq;
	c->pop = &j->pop[j->nc];
	if (st == CS(ENDED)) {
		c->outcome = OUT(HANDLED);
		c->answered_us = enq + 2000000;
		c->ended_us = enq + 30000000;
		c->disposition = "resolved";
	}
	if (st == CS(CONNECTED))
		c->answered_us = enq + 1000000;
	j->cp[j->nc] = c;
	return &j->c[j->nc++];
}

static void jevent(struct journal *j, Relais__EventType type, const char *contact, uint64_t ts, uint64_t ms)
{
	Relais__EventRecord *e = &j->ev[j->nev];

	relais__event_record__init(e);
	e->ts_us = ts;
	e->type = type;
	e->contact_id = (char *)contact;
	e->agent_id = "c1";
	e->queue_id = "casa.q";
	e->tenant_id = "telco";
	e->site_id = "casablanca";
	e->wait_ms = ms;
	j->evp[j->nev++] = e;
}

static void jagent(struct journal *j, const char *id, Relais__AgentState st, const char *contact)
{
	Relais__AgentRecord *a = &j->a[j->na];

	relais__agent_record__init(a);
	a->agent_id = (char *)id;
	a->state = st;
	a->contact_id = (char *)contact;
	a->handled = 2;
	j->ap[j->na++] = a;
}

static int send_part(uint32_t pipe, struct journal *j, uint64_t jid, uint32_t part, uint32_t parts)
{
	Relais__SiteJournal sj = RELAIS__SITE_JOURNAL__INIT;
	rl_env env;

	rl_env_init(&env);
	sj.journal_id = jid;
	sj.part = part;
	sj.parts = parts;
	sj.n_contacts = j->nc;
	sj.contacts = j->cp;
	sj.n_events = j->nev;
	sj.events = j->evp;
	sj.n_agents = j->na;
	sj.agents = j->ap;
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_JOURNAL;
	env.site_journal = &sj;
	return ht_error(ht_request(&h, pipe, 0, 0, &env));
}

/* ---------------------------------------------------------------------------------------- */

static void start(void)
{
	casa_silent = 0;
	ht_open(&h, conf());
	ht_hello(&h, CASA, RELAIS__ROLE__ROLE_NODE, "casablanca");
	register_node(CASA, 1, 0, 0);
	ht_hello(&h, FES, RELAIS__ROLE__ROLE_NODE, "fes");
	register_node(FES, 7, 0, 0);
	ht_hello(&h, NOC, RELAIS__ROLE__ROLE_CTL, "noc");
	RL_REQUIRE((s_c1 = ht_login(&h, CASA, C1_CHAN, "c1", "s")) != 0);
	RL_REQUIRE((s_c2 = ht_login(&h, CASA, C2_CHAN, "c2", "s")) != 0);
	RL_REQUIRE((s_f1 = ht_login(&h, FES, F1_CHAN, "f1", "s")) != 0);
}

/* The model: casablanca's directory, its own agents only, no secrets; asked part by part. */
static void test_model(void)
{
	Relais__SiteModel m = RELAIS__SITE_MODEL__INIT;
	const rl_env *a;
	rl_env env;
	char text[8192];

	start();
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_MODEL;
	env.site_model = &m;
	a = ht_request(&h, CASA, 0, 0, &env);
	RL_REQUIRE(ht_error(a) == 0 && a->body_case == RELAIS__ENVELOPE__BODY_SITE_MODEL);
	RL_CHECK(a->site_model->parts == 1 && a->site_model->version != 0);
	RL_REQUIRE(a->site_model->text.len < sizeof(text));
	memcpy(text, a->site_model->text.data, a->site_model->text.len);
	text[a->site_model->text.len] = 0;
	RL_CHECK(strstr(text, "casa.q") != NULL && strstr(text, "\"c1\"") != NULL && strstr(text, "\"c2\"") != NULL);
	RL_CHECK(strstr(text, "\"f1\"") == NULL);      /* fes's agents are not its business */
	RL_CHECK(strstr(text, "secret_hash") == NULL); /* nor anyone's secret */
	RL_CHECK(strstr(text, "operators") == NULL);
	m.part = 1;
	RL_CHECK(ht_error(ht_request(&h, CASA, 0, 0, &env)) == RELAIS__ERROR_CODE__ERR_BAD_REQUEST);
	/* A tool cannot ask for a site's model. */
	m.part = 0;
	RL_CHECK(ht_error(ht_request(&h, NOC, 0, 0, &env)) == RELAIS__ERROR_CODE__ERR_FORBIDDEN);
	ht_close(&h);
}

/* The whole handover: a call in progress and a waiting caller at the loss, a caller whose
 * acknowledgement never reached the node, and new calls taken while alone. */
static void test_handover(void)
{
	char talking[32], waiting[32], unacked[32];
	struct journal j1 = {0}, j2 = {0};
	const Relais__QueueStat *q;
	uint64_t t0;

	start();
	set_state(CASA, C1_CHAN, s_c1, ST(READY));
	submit(CASA, "e1", "+212600000001", talking);
	RL_REQUIRE(strcmp(offered_to(CASA, C1_CHAN), talking) == 0);
	answer(CASA, C1_CHAN, s_c1, talking);
	submit(CASA, "e2", "+212600000002", waiting); /* c1 is busy (c2 not ready): it waits */
	submit(CASA, "e3", "+212600000003", unacked);
	t0 = h.now;
	casa_silent = 1;
	pass(3);
	RL_CHECK(!status()->status_reply->sites[0]->state->up);
	pass(120); /* past agent_grace_s: c1 works at a site that serves alone */
	RL_CHECK(agent("c1")->state == ST(BUSY));
	RL_CHECK(queue()->waiting == 0); /* its callers wait for it, offered to nobody */

	/* Back, with two parts to hand over. Until the last, its agents take nothing. */
	ht_forget(&h);
	casa_silent = 0;
	ht_hello(&h, CASA, RELAIS__ROLE__ROLE_NODE, "casablanca");
	register_node(CASA, 1, 2, 77);
	/* Part 1: the call in progress ended, the waiting caller was answered and ended, the
	 * unacknowledged one (known to the node by its ext id only) too, and a new call. */
	jcontact(&j1, talking, "e1", CS(ENDED), "c1", t0 - 5000000);
	jcontact(&j1, "casablanca.L0000000001", "e2", CS(ENDED), "c1", t0);
	jcontact(&j1, "casablanca.L0000000002", "e3", CS(ENDED), "c1", t0);
	jcontact(&j1, "casablanca.L0000000003", "n1", CS(ENDED), "c1", t0 + 10000000);
	jevent(&j1, RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED, "casablanca.L0000000003", t0 + 10000000, 0);
	jevent(&j1, RELAIS__EVENT_TYPE__EV_CONTACT_ACCEPTED, "casablanca.L0000000003", t0 + 12000000, 2000);
	jevent(&j1, RELAIS__EVENT_TYPE__EV_CONTACT_ENDED, "casablanca.L0000000003", t0 + 40000000, 28000);
	RL_CHECK(send_part(CASA, &j1, 77, 0, 2) == 0);
	RL_CHECK(send_part(CASA, &j1, 77, 0, 2) == 0); /* its answer was lost: sent again */
	/* Part 2: a call in progress now, and the agents. */
	jcontact(&j2, "casablanca.L0000000004", "n2", CS(CONNECTED), "c1", t0 + 60000000);
	jagent(&j2, "c1", ST(BUSY), "casablanca.L0000000004");
	jagent(&j2, "c2", ST(READY), "");
	ht_forget(&h);
	set_state(CASA, C2_CHAN, s_c2, ST(READY));   /* c2 is heard again, and ready */
	submit(FES, "f9", "+212600000099", waiting); /* arrives meanwhile: c2 is not offered it */
	RL_CHECK(strcmp(offered_to(CASA, C2_CHAN), "") == 0);
	RL_CHECK(send_part(CASA, &j2, 77, 1, 2) == 0);
	RL_CHECK(strcmp(offered_to(CASA, C2_CHAN), waiting) == 0); /* now it is */

	/* The hub's view is the node's now. */
	RL_CHECK(agent("c1")->state == ST(BUSY));
	RL_CHECK(strcmp(agent("c1")->contact_id, "casablanca.L0000000004") == 0);
	q = queue();
	RL_CHECK(q->answered == 2); /* talking (before the loss) and the new one: once each */
	RL_CHECK(q->abandoned == 0);
	{
		char why[256];
		RL_CHECK(rl_engine_check(h.e, why, sizeof(why)) == 0);
	}
	/* The call in progress gets a media plan from the hub. */
	{
		int planned = 0;
		for (size_t i = 0; i < h.nframes; i++) {
			const rl_env *f = h.frames[i].env;
			if (h.frames[i].pipe == CASA && f->body_case == RELAIS__ENVELOPE__BODY_CONTACT_UPDATE &&
			    strcmp(f->contact_update->contact_id, "casablanca.L0000000004") == 0 &&
			    f->contact_update->state == CS(CONNECTED))
				planned = 1;
		}
		RL_CHECK(planned);
	}
	/* The agent goes on from there: hangs up; the contact ends at the hub. */
	RL_CHECK(hangup(CASA, C1_CHAN, s_c1, "casablanca.L0000000004") == 0);
	RL_CHECK(agent("c1")->state == ST(WRAPUP));
	/* The node's link came up twice meanwhile: a register sent while the last part was in
	 * flight arrives after it. That journal is in: nobody is held for it again. */
	register_node(CASA, 1, 2, 77);
	pass(6); /* c1's wrap-up ends */
	RL_CHECK(agent("c1")->state == ST(READY));
	submit(CASA, "e9", "+212600000019", talking);
	RL_CHECK(strcmp(offered_to(CASA, C1_CHAN), talking) == 0);
	ht_close(&h);
}

/* The node registers saying that a journal follows, with the calls it holds: those it took
 * alone are not the hub's yet, and must not be told they are over before the journal brings
 * them (their callers would be turned away while the hub then offers them). */
static void test_register_before_journal(void)
{
	struct journal j = {0};
	Relais__SiteRegister sr = RELAIS__SITE_REGISTER__INIT;
	char *live[] = {"casablanca.L0000000005"};
	rl_env env;

	start();
	casa_silent = 1;
	pass(3);
	ht_forget(&h);
	casa_silent = 0;
	ht_hello(&h, CASA, RELAIS__ROLE__ROLE_NODE, "casablanca");
	rl_env_init(&env);
	sr.boot_id = 1;
	sr.survivable = 1;
	sr.journal_parts = 1;
	sr.journal_id = 78;
	sr.n_live = 1;
	sr.live = live;
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_REGISTER;
	env.site_register = &sr;
	RL_REQUIRE(ht_error(ht_request(&h, CASA, 0, 0, &env)) == 0);
	RL_CHECK(ht_last(&h, CASA, RELAIS__ENVELOPE__BODY_CONTACT_UPDATE) == NULL);
	jcontact(&j, live[0], "w5", CS(QUEUED), "", h.now - 2000000);
	jagent(&j, "c1", ST(READY), "");
	RL_CHECK(send_part(CASA, &j, 78, 0, 1) == 0);
	RL_CHECK(strcmp(offered_to(CASA, C1_CHAN), live[0]) == 0); /* its caller is served */
	ht_close(&h);
}

/* Contacts the hub counted already, that the node's engine served again: one the hub ended
 * while the node held it as live (the node never heard) keeps the hub's end; one the hub had
 * answered, whose caller the site's engine gave to one of its own agents again (the relay
 * out of reach), takes the node's account. The node's events of what the hub counted are not
 * counted again: its sums hold. */
static void test_counted(void)
{
	struct journal j = {0};
	char ended[32], talking[32];
	uint64_t t0;

	start();
	set_state(CASA, C1_CHAN, s_c1, ST(READY));
	submit(CASA, "s1", "+212600000031", ended);
	RL_REQUIRE(strcmp(offered_to(CASA, C1_CHAN), ended) == 0);
	answer(CASA, C1_CHAN, s_c1, ended);
	RL_REQUIRE(hangup(CASA, C1_CHAN, s_c1, ended) == 0);
	set_state(CASA, C2_CHAN, s_c2, ST(READY));
	submit(CASA, "s2", "+212600000032", talking);
	RL_REQUIRE(strcmp(offered_to(CASA, C2_CHAN), talking) == 0);
	answer(CASA, C2_CHAN, s_c2, talking);
	RL_REQUIRE(queue()->answered == 2 && queue()->offered == 2);
	t0 = h.now;
	casa_silent = 1;
	pass(3);
	casa_silent = 0;
	ht_hello(&h, CASA, RELAIS__ROLE__ROLE_NODE, "casablanca");
	register_node(CASA, 1, 1, 79);
	jcontact(&j, ended, "s1", CS(ENDED), "c2", t0);
	jevent(&j, RELAIS__EVENT_TYPE__EV_CONTACT_ACCEPTED, ended, t0 + 1000000, 1000);
	jevent(&j, RELAIS__EVENT_TYPE__EV_CONTACT_ENDED, ended, t0 + 2000000, 1000);
	jcontact(&j, talking, "s2", CS(ENDED), "c2", t0);
	jevent(&j, RELAIS__EVENT_TYPE__EV_CONTACT_ACCEPTED, talking, t0 + 3000000, 1000);
	jevent(&j, RELAIS__EVENT_TYPE__EV_CONTACT_ENDED, talking, t0 + 4000000, 1000);
	jagent(&j, "c2", ST(READY), "");
	RL_CHECK(send_part(CASA, &j, 79, 0, 1) == 0);
	RL_CHECK(queue()->answered == 2 && queue()->offered == 2);
	RL_CHECK(queue()->waiting == 0);
	ht_close(&h);
}

/* A seated agent talking to another site's caller through the relay when its site was lost:
 * the site's engine took it on meanwhile, and it is on one of the site's own calls at the
 * handover. The journal is newer: the call from elsewhere ends, the agent keeps its call. */
static void test_left_relay(void)
{
	struct journal j = {0};
	char id[32];

	start();
	set_state(CASA, C1_CHAN, s_c1, ST(READY));
	submit(FES, "r1", "+212600000041", id); /* a fes caller, for casablanca's queue */
	RL_REQUIRE(strcmp(offered_to(CASA, C1_CHAN), id) == 0);
	answer(CASA, C1_CHAN, s_c1, id);
	casa_silent = 1;
	pass(3);
	RL_REQUIRE(agent("c1")->state == ST(BUSY));
	casa_silent = 0;
	ht_hello(&h, CASA, RELAIS__ROLE__ROLE_NODE, "casablanca");
	register_node(CASA, 1, 1, 80);
	jcontact(&j, "casablanca.L0000000007", "l7", CS(CONNECTED), "c1", h.now - 2000000);
	jagent(&j, "c1", ST(BUSY), "casablanca.L0000000007");
	RL_CHECK(send_part(CASA, &j, 80, 0, 1) == 0);
	RL_CHECK(agent("c1")->state == ST(BUSY));
	RL_CHECK(strcmp(agent("c1")->contact_id, "casablanca.L0000000007") == 0);
	{
		const rl_env *u = ht_last(&h, FES, RELAIS__ENVELOPE__BODY_CONTACT_UPDATE);
		RL_CHECK(u != NULL && strcmp(u->contact_update->contact_id, id) == 0 &&
		         u->contact_update->state == CS(ENDED) && u->contact_update->outcome == OUT(HANDLED));
	}
	ht_close(&h);
}

/* A waiting caller the site's engine saw leave while the hub was lost, accepted at the hub
 * by another site's agent before the journal said so: no caller heard that answer. Whether
 * the hub's call is still on at the handover or already over, the answer is taken back and
 * the caller counted abandoned, once. */
static void test_withdrawn(int hangup_first)
{
	struct journal j = {0};
	Relais__ContactRecord *jc;
	char id[32];
	uint64_t t0;

	start();
	submit(CASA, "w1", "+212600000051", id);
	t0 = h.now;
	casa_silent = 1;
	pass(3);
	casa_silent = 0;
	ht_hello(&h, CASA, RELAIS__ROLE__ROLE_NODE, "casablanca");
	register_node(CASA, 1, 1, 81);
	set_state(FES, F1_CHAN, s_f1, ST(READY));
	RL_REQUIRE(strcmp(offered_to(FES, F1_CHAN), id) == 0);
	answer(FES, F1_CHAN, s_f1, id);
	RL_REQUIRE(queue()->answered == 1);
	if (hangup_first)
		RL_REQUIRE(hangup(FES, F1_CHAN, s_f1, id) == 0);
	jc = jcontact(&j, id, "w1", CS(ENDED), "", t0);
	jc->outcome = OUT(ABANDONED);
	jc->answered_us = 0;
	jc->ended_us = t0 + 4000000;
	jc->disposition = NULL;
	jevent(&j, RELAIS__EVENT_TYPE__EV_CONTACT_ABANDONED, id, t0 + 4000000, 4000);
	RL_CHECK(send_part(CASA, &j, 81, 0, 1) == 0);
	RL_CHECK(queue()->offered == 1);
	RL_CHECK(queue()->answered == 0);
	RL_CHECK(queue()->abandoned == 1);
	RL_CHECK(agent("f1")->state != ST(BUSY));
	ht_close(&h);
}

/* A journal that is not the site's to give, or malformed, changes nothing. */
static void test_refused(void)
{
	struct journal j = {0};
	Relais__ContactRecord *c;
	char id[32];

	start();
	submit(FES, "x1", "+212600000011", id); /* fes's contact */
	c = jcontact(&j, id, "x1", CS(ENDED), "c1", h.now);
	c->site_id = "fes";
	jcontact(&j, "casablanca.L0000000009", "z9", CS(CONNECTED), "f1", h.now); /* f1 is not casablanca's */
	RL_CHECK(send_part(CASA, &j, 5, 0, 1) == 0);
	RL_CHECK(queue()->waiting == 1); /* fes's caller still waits */
	RL_CHECK(agent("f1")->state != ST(BUSY));
	RL_CHECK(send_part(CASA, &j, 6, 3, 2) == RELAIS__ERROR_CODE__ERR_BAD_REQUEST);
	RL_CHECK(send_part(FES, &j, 7, 0, 0) == RELAIS__ERROR_CODE__ERR_BAD_REQUEST);
	ht_close(&h);
}

int main(void)
{
	rl_log_init("test", RL_LOG_ERR);
	test_model();
	test_handover();
	test_register_before_journal();
	test_counted();
	test_left_relay();
	test_withdrawn(0);
	test_withdrawn(1);
	test_refused();
	return rltest_done();
}
