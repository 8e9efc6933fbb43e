/*
 * Randomized property test of the hub engine: thousands of random interleavings of
 * enqueue, login, ready / not ready, accept, reject, hangup, transfer (to a queue, also another
 * tenant's, or to a number, with the site's result either way), wrap-up, caller abandon, link
 * loss, time jumps (RONA, wrap-up, overflow, grace) and hub crashes (the batch in flight is
 * aborted, the engine closed and reopened from the same LMDB directory).
 *
 * After every step: the engine's model agrees with itself and with the store
 * (rl_engine_check: no contact with two agents, no agent with two contacts, references
 * agree both ways, queue membership matches state). Every acknowledgement the engine
 * released was for a durable contact: re-submitting its ext_id after any number of crashes
 * returns the same contact id and original enqueue time. At the end, with time run past
 * every timer, no agent is left reserved and no contact left offered.
 *
 * RL_PROPERTY_SEED=N reproduces a run; RL_PROPERTY_STEPS=N changes its length.
 */
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "hubtest.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_secret.h"
#include "rltest.h"

#define NAGENTS     8
#define MAXC        4096
#define NODE_PIPE   1
#define CTL_PIPE    2
#define AGENT_PIPE0 100

struct tagent {
	char id[16];
	uint32_t pipe; /* current link (changes on reconnect) */
	int linked;    /* has said hello on pipe */
	uint64_t session;
	uint8_t token[16];
	char offer[32]; /* last offered contact */
	int state;
};

struct tack {
	char ext[32];
	char id[32];
	uint64_t enq;
	int acked;
};

static struct tagent agents[NAGENTS];
static uint64_t node_boot = 1;
static int node_frozen, node_down, freezes, restarts;
static struct tack acks[MAXC];
static int nsubmitted;
static struct ht hub;
static uint32_t next_pipe = 1000;
static int reserved_seen, offered_seen, mismatches, status_seen;
static int offers, busy, wraps, transfers;
static uint64_t rng;
/* A digest of every frame the engine sent, per pipe in the order sent on it: two runs with the
 * same seed send the same frames on each link in the same order, or the digests differ. */
#define NDIGEST 4096
static struct {
	uint32_t pipe;
	uint64_t d;
} digests[NDIGEST];
static uint64_t *digest;

static void fold(uint64_t v)
{
	*digest = (*digest ^ v) * 1099511628211ULL;
}

/* digest_of selects the digest of pipe (one slot per pipe number). */
static void digest_of(uint32_t pipe)
{
	unsigned i = pipe % NDIGEST;

	RL_REQUIRE(digests[i].pipe == 0 || digests[i].pipe == pipe);
	digests[i].pipe = pipe;
	if (digests[i].d == 0)
		digests[i].d = 1469598103934665603ULL;
	digest = &digests[i].d;
}

/* digest_all combines the pipes' digests, in pipe order. */
static uint64_t digest_all(void)
{
	uint64_t all = 1469598103934665603ULL;

	for (unsigned i = 0; i < NDIGEST; i++)
		all = (all ^ digests[i].pipe ^ digests[i].d) * 1099511628211ULL;
	return all;
}

static void fold_str(const char *s)
{
	while (s && *s)
		fold((uint8_t)*s++);
	fold(0);
}

static void fold_frame(uint32_t pipe, const rl_env *env)
{
	digest_of(pipe);
	fold(env->body_case);
	switch (env->body_case) {
	case RELAIS__ENVELOPE__BODY_OFFER:
		fold_str(env->offer->contact_id);
		break;
	case RELAIS__ENVELOPE__BODY_AGENT_STATUS:
		fold(env->agent_status->state);
		fold_str(env->agent_status->reason);
		fold_str(env->agent_status->contact ? env->agent_status->contact->contact_id : "");
		break;
	case RELAIS__ENVELOPE__BODY_CONTACT_UPDATE:
		fold_str(env->contact_update->contact_id);
		fold(env->contact_update->state);
		fold(env->contact_update->outcome);
		fold_str(env->contact_update->agent_id);
		break;
	case RELAIS__ENVELOPE__BODY_ERROR:
		fold(env->error->code);
		break;
	case RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT_OK:
		fold_str(env->submit_contact_ok->contact_id);
		fold(env->submit_contact_ok->enqueued_us);
		break;
	default:
		break;
	}
}

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static int pick(int n)
{
	return (int)(rnd() % (uint64_t)n);
}

static struct tagent *agent_by_pipe(uint32_t pipe)
{
	for (int i = 0; i < NAGENTS; i++)
		if (agents[i].pipe == pipe)
			return &agents[i];
	return NULL;
}

static void on_send(void *arg, uint32_t pipe, const rl_env *env)
{
	struct tagent *a;

	(void)arg;
	fold_frame(pipe, env);
	if (pipe == NODE_PIPE && env->body_case == RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT_OK) {
		const Relais__SubmitContactOk *ok = env->submit_contact_ok;
		for (int i = 0; i < nsubmitted; i++) {
			struct tack *t = &acks[i];
			if ((uint64_t)(i + 1) != env->req_id)
				continue;
			if (t->acked && (strcmp(t->id, ok->contact_id) != 0 || t->enq != ok->enqueued_us)) {
				fprintf(stderr, "ext %s acked as %s/%llu, now %s/%llu\n", t->ext, t->id,
				        (unsigned long long)t->enq, ok->contact_id,
				        (unsigned long long)ok->enqueued_us);
				mismatches++;
			}
			snprintf(t->id, sizeof(t->id), "%s", ok->contact_id);
			t->enq = ok->enqueued_us;
			t->acked = 1;
		}
	} else if (pipe == CTL_PIPE && env->body_case == RELAIS__ENVELOPE__BODY_STATUS_REPLY) {
		const Relais__StatusReply *r = env->status_reply;
		status_seen = 1;
		reserved_seen = 0;
		for (size_t i = 0; i < r->n_agents; i++)
			if (r->agents[i]->state == RELAIS__AGENT_STATE__AGENT_RESERVED)
				reserved_seen++;
		offered_seen = 0;
	} else if ((a = agent_by_pipe(pipe)) != NULL) {
		if (env->body_case == RELAIS__ENVELOPE__BODY_AGENT_LOGIN_OK) {
			a->session = env->agent_login_ok->session;
			if (env->agent_login_ok->token.len == 16)
				memcpy(a->token, env->agent_login_ok->token.data, 16);
		} else if (env->body_case == RELAIS__ENVELOPE__BODY_OFFER) {
			snprintf(a->offer, sizeof(a->offer), "%s", env->offer->contact_id);
			offers++;
		} else if (env->body_case == RELAIS__ENVELOPE__BODY_AGENT_STATUS) {
			a->state = env->agent_status->state;
			busy += a->state == RELAIS__AGENT_STATE__AGENT_BUSY;
			wraps += a->state == RELAIS__AGENT_STATE__AGENT_WRAPUP;
			if (a->state == RELAIS__AGENT_STATE__AGENT_LOGGED_OUT)
				a->session = 0;
		}
	}
}

static void input(struct rl_engine *e, uint32_t pipe, rl_env *env)
{
	(void)e;
	ht_input(&hub, pipe, env);
}

static void hello(struct rl_engine *e, uint32_t pipe, int role, const char *site)
{
	Relais__Hello h = RELAIS__HELLO__INIT;
	rl_env env;

	rl_env_init(&env);
	env.req_id = rnd() | 1;
	h.role = role;
	h.site_id = (char *)site;
	env.body_case = RELAIS__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	input(e, pipe, &env);
}

static void submit(struct rl_engine *e, int i)
{
	Relais__SubmitContact sc = RELAIS__SUBMIT_CONTACT__INIT;
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	static const char *const queues[] = {"telco.billing", "telco.tech", "bank.cards"};
	char caller[32];
	rl_env env;

	rl_env_init(&env);
	env.req_id = (uint64_t)i + 1;                             /* one req_id per ext_id, as a re-sending node does */
	snprintf(caller, sizeof(caller), "+2126000%05d", i % 50); /* some callers return */
	pop.caller = caller;
	sc.ext_id = acks[i].ext;
	sc.queue_id = (char *)queues[i % 3];
	sc.tenant_id = i % 3 == 2 ? "bank" : "telco";
	sc.priority = (uint32_t)(i % 4);
	sc.pop = &pop;
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
	env.submit_contact = &sc;
	input(e, NODE_PIPE, &env);
}

static void agent_req(struct rl_engine *e, struct tagent *a, rl_env *env)
{
	env->session = a->session;
	env->req_id = rnd() | 1;
	input(e, a->pipe, env);
}

static void agent_op(struct rl_engine *e, struct tagent *a, const char *secret)
{
	rl_env env;
	rl_env_init(&env);

	if (!a->linked) {
		a->pipe = next_pipe++;
		hello(e, a->pipe, RELAIS__ROLE__ROLE_AGENT, "");
		a->linked = 1;
		if (a->session) {
			Relais__AgentResume r = RELAIS__AGENT_RESUME__INIT;
			r.session = a->session;
			r.token.data = a->token;
			r.token.len = 16;
			env.body_case = RELAIS__ENVELOPE__BODY_AGENT_RESUME;
			env.agent_resume = &r;
			agent_req(e, a, &env);
			if (a->state == RELAIS__AGENT_STATE__AGENT_LOGGED_OUT)
				a->session = 0;
		}
		return;
	}
	if (a->session == 0) {
		Relais__AgentLogin l = RELAIS__AGENT_LOGIN__INIT;
		l.agent_id = a->id;
		l.secret = pick(10) == 0 ? "wrong" : (char *)secret;
		env.body_case = RELAIS__ENVELOPE__BODY_AGENT_LOGIN;
		env.agent_login = &l;
		agent_req(e, a, &env);
		return;
	}
	switch (pick(10)) {
	case 8:
	case 9: {
		/* Transfer the call: to one of the queues (bank.cards is another tenant's for most
		 * agents), or to a number the site is then asked to call. */
		static const char *const targets[] = {"telco.billing", "telco.tech", "bank.cards"};
		Relais__ContactTransfer t = RELAIS__CONTACT_TRANSFER__INIT;
		t.contact_id = a->offer;
		if (pick(3) == 0)
			t.number = "+33140000000";
		else
			t.queue_id = (char *)targets[pick(3)];
		t.note = "property";
		transfers += a->state == RELAIS__AGENT_STATE__AGENT_BUSY;
		env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_TRANSFER;
		env.contact_transfer = &t;
		agent_req(e, a, &env);
		break;
	}
	case 0:
	case 1: {
		Relais__AgentSetState s = RELAIS__AGENT_SET_STATE__INIT;
		s.state = pick(4) ? RELAIS__AGENT_STATE__AGENT_READY : RELAIS__AGENT_STATE__AGENT_NOT_READY;
		s.reason = "break";
		if (pick(30) == 0)
			s.state = RELAIS__AGENT_STATE__AGENT_LOGGED_OUT;
		env.body_case = RELAIS__ENVELOPE__BODY_AGENT_SET_STATE;
		env.agent_set_state = &s;
		agent_req(e, a, &env);
		break;
	}
	case 2:
	case 3: {
		Relais__OfferAnswer o = RELAIS__OFFER_ANSWER__INIT;
		o.contact_id = a->offer;
		o.accept = pick(5) != 0;
		env.body_case = RELAIS__ENVELOPE__BODY_OFFER_ANSWER;
		env.offer_answer = &o;
		agent_req(e, a, &env);
		break;
	}
	case 4: {
		Relais__ContactHangup h = RELAIS__CONTACT_HANGUP__INIT;
		h.contact_id = a->offer;
		env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_HANGUP;
		env.contact_hangup = &h;
		agent_req(e, a, &env);
		break;
	}
	case 5: {
		Relais__WrapupDone w = RELAIS__WRAPUP_DONE__INIT;
		w.contact_id = a->offer;
		w.disposition = "resolved";
		w.extend_s = pick(6) == 0 ? 5 : 0;
		env.body_case = RELAIS__ENVELOPE__BODY_WRAPUP_DONE;
		env.wrapup_done = &w;
		agent_req(e, a, &env);
		break;
	}
	case 6: {
		/* The link drops (a blip): the hub sees the pipe go. */
		rl_engine_pipe_gone(e, a->pipe);
		a->linked = 0;
		break;
	}
	default: {
		Relais__Heartbeat hb = RELAIS__HEARTBEAT__INIT;
		env.body_case = RELAIS__ENVELOPE__BODY_HEARTBEAT;
		env.heartbeat = &hb;
		env.session = a->session;
		input(e, a->pipe, &env);
		break;
	}
	}
}

/* some_acked: the id of a random submitted contact, if it was acknowledged; else NULL. */
static char *some_acked(void)
{
	int i;

	if (nsubmitted == 0)
		return NULL;
	i = pick(nsubmitted);
	return acks[i].acked ? acks[i].id : NULL;
}

/* node_req sends env as a request from the site node. */
static void node_req(struct rl_engine *e, rl_env *env)
{
	env->req_id = rnd() | 1;
	input(e, NODE_PIPE, env);
}

static void cancel(struct rl_engine *e)
{
	Relais__ContactCancel cc = RELAIS__CONTACT_CANCEL__INIT;
	rl_env env;

	if ((cc.contact_id = some_acked()) == NULL)
		return;
	rl_env_init(&env);
	cc.outcome = RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED;
	env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_CANCEL;
	env.contact_cancel = &cc;
	node_req(e, &env);
}

/* The site reports an external transfer (done or refused), for any contact: the engine must
 * ignore those it did not ask for. */
static void transfer_result(struct rl_engine *e)
{
	Relais__TransferResult tr = RELAIS__TRANSFER_RESULT__INIT;
	rl_env env;

	if ((tr.contact_id = some_acked()) == NULL)
		return;
	rl_env_init(&env);
	tr.ok = pick(2);
	tr.status = tr.ok ? 200 : 403;
	env.body_case = RELAIS__ENVELOPE__BODY_TRANSFER_RESULT;
	env.transfer_result = &tr;
	node_req(e, &env);
}

static void status(struct rl_engine *e)
{
	Relais__StatusRequest sr = RELAIS__STATUS_REQUEST__INIT;
	rl_env env;

	rl_env_init(&env);
	env.req_id = rnd() | 1;
	sr.agents = 1;
	sr.queues = 1;
	env.body_case = RELAIS__ENVELOPE__BODY_STATUS_REQUEST;
	env.status_request = &sr;
	status_seen = 0;
	input(e, CTL_PIPE, &env);
}

static const char conf_text[] =
    "sites = ( { id = \"casablanca\"; key = \"%s\"; }, { id = \"dakar\"; key = \"%s\"; } );\n"
    "operators = ( { id = \"admin\"; role = \"admin\"; key = \"%s\"; } );\n"
    "tenants = ( { id = \"telco\"; }, { id = \"bank\"; } );\n"
    "queues = (\n"
    " { id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 3; }; sites = [ \"casablanca\" ];"
    "   wrapup_s = 3; offer_timeout_s = 5; sticky_s = 600;"
    "   overflow = ( { after_s = 10; widen = [ \"home\", \"all_sites\" ]; } ); },\n"
    " { id = \"telco.tech\"; tenant = \"telco\"; skills = { tech = 5; }; skills2 = { billing = 7; };"
    "   policy = \"most_skilled\"; wrapup_s = 2; offer_timeout_s = 4;"
    "   overflow = ( { after_s = 0; waiting_over = 2; widen = [ \"skills2\" ]; } ); },\n"
    " { id = \"bank.cards\"; tenant = \"bank\"; skills = { cards = 2; }; wrapup_s = 4; offer_timeout_s = 6; }\n"
    ");\n";

/* conf builds the hub's config: conf_text and the agents, with secret hashes. */
static char *conf(const char *secret[NAGENTS])
{
	static char text[16384];
	size_t n =
	    (size_t)snprintf(text, sizeof(text), conf_text, ht_pub("casablanca"), ht_pub("dakar"), ht_pub("admin"));
	static const char *const skills[] = {"billing = 5; tech = 6;",
	                                     "billing = 8;",
	                                     "cards = 4;",
	                                     "cards = 9; billing = 4;",
	                                     "tech = 9;",
	                                     "billing = 3;",
	                                     "cards = 2; tech = 5;",
	                                     "billing = 9; tech = 2;"};
	static const char *const tenants[] = {"\"telco\"",           "\"telco\"", "\"bank\"",
	                                      "\"bank\", \"telco\"", "\"telco\"", "\"telco\"",
	                                      "\"bank\", \"telco\"", "\"telco\""};

	n += (size_t)snprintf(text + n, sizeof(text) - n, "agents = (\n");
	for (int i = 0; i < NAGENTS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		                      " { id = \"%s\"; tenants = [ %s ]; skills = { %s }; secret_hash = \"%s\"; }%s\n",
		                      agents[i].id, tenants[i], skills[i], ht_hash(secret[i]),
		                      i + 1 < NAGENTS ? "," : "");
	snprintf(text + n, sizeof(text) - n, ");\n");
	return text;
}

/* relink: a new engine knows no links: everyone says hello again. */
static void relink(void)
{
	ht_hello(&hub, NODE_PIPE, RELAIS__ROLE__ROLE_NODE, "casablanca");
	ht_register(&hub, NODE_PIPE, node_boot);
	ht_hello(&hub, CTL_PIPE, RELAIS__ROLE__ROLE_CTL, "admin");
	for (int i = 0; i < NAGENTS; i++)
		agents[i].linked = 0;
}

/* node_life: the site's node heartbeats; now and then it freezes (silent for a while: its
 * site is lost, then back) or restarts (its link closes; it registers with a new boot, and
 * the contacts of its earlier boot end). Returns 1 if it can speak this step. */
static int node_life(void)
{
	if (node_down) {
		ht_hello(&hub, NODE_PIPE, RELAIS__ROLE__ROLE_NODE, "casablanca");
		ht_register(&hub, NODE_PIPE, ++node_boot);
		node_down = 0;
		restarts++;
	} else if (node_frozen > 0) {
		node_frozen--;
		return 0;
	} else if (pick(150) == 0) {
		node_frozen = 5 + pick(20);
		freezes++;
		return 0;
	} else if (pick(300) == 0) {
		ht_begin(&hub);
		rl_engine_pipe_gone(hub.e, NODE_PIPE);
		ht_commit(&hub);
		node_down = 1;
		return 0;
	}
	ht_heartbeat(&hub, NODE_PIPE, 0, 0);
	return 1;
}

int main(void)
{
	const char *seed_env = getenv("RL_PROPERTY_SEED"), *steps_env = getenv("RL_PROPERTY_STEPS");
	char secret[NAGENTS][32];
	const char *secrets[NAGENTS];
	int steps = steps_env ? atoi(steps_env) : 3000, crashes = 0, violations = 0;
	char why[256];

	rl_log_init("test", RL_LOG_ERR);
	if (seed_env)
		rng = strtoull(seed_env, NULL, 10);
	else
		rl_secret_random(&rng, sizeof(rng));
	rng |= 1;
	printf("seed %llu (RL_PROPERTY_SEED to reproduce), %d steps\n", (unsigned long long)rng, steps);
	for (int i = 0; i < NAGENTS; i++) {
		snprintf(agents[i].id, sizeof(agents[i].id), "p%d", i);
		snprintf(secret[i], sizeof(secret[i]), "s3cret-%d", i);
		secrets[i] = secret[i];
	}
	ht_open(&hub, conf(secrets));
	hub.observe = on_send;
	relink();
	struct rl_engine *e = hub.e;

	for (int step = 0; step < steps; step++) {
		int node = node_life(), ops = 1 + pick(6), crash = pick(60) == 0;
		int acked_before[MAXC];
		for (int i = 0; i < nsubmitted; i++)
			acked_before[i] = acks[i].acked;
		RL_REQUIRE(rl_engine_begin(e, hub.now) == RL_OK);
		for (int k = 0; k < ops; k++) {
			int what = pick(10);
			if (what < 2 && nsubmitted < MAXC && node) {
				snprintf(acks[nsubmitted].ext, sizeof(acks[nsubmitted].ext), "x%d", nsubmitted);
				submit(e, nsubmitted++);
			} else if (what == 2 && nsubmitted > 0 && node) {
				submit(e, pick(nsubmitted)); /* a re-send, maybe after crashes */
			} else if (what == 3 && node) {
				if (pick(3) == 0)
					transfer_result(e);
				else
					cancel(e);
			} else {
				struct tagent *a = &agents[pick(NAGENTS)];
				agent_op(e, a, secret[a - agents]);
			}
		}
		if (pick(4) == 0)
			hub.now += (uint64_t)pick(8000) * 1000u; /* up to 8 s: RONA, wrap-up, overflow */
		rl_engine_tick(e);
		if (crash) {
			/* Crash: the batch never commits, so nothing it produced was ever sent. */
			ht_crash(&hub);
			for (int i = 0; i < nsubmitted; i++)
				if (!acked_before[i] && acks[i].acked)
					RL_REQUIRE(!"an ack escaped an uncommitted batch");
			relink();
			e = hub.e;
			crashes++;
			continue;
		}
		RL_REQUIRE(rl_engine_commit(e) == RL_OK);
		ht_forget(&hub);
		if (rl_engine_check(e, why, sizeof(why)) != 0) {
			violations++;
			fprintf(stderr, "step %d: %s\n", step, why);
			if (violations > 5)
				break;
		}
	}
	RL_CHECK(violations == 0);
	RL_CHECK(mismatches == 0);
	RL_CHECK(crashes > 0);

	/* Every acknowledged contact is durable: re-submitting each ext_id, after the crashes,
	 * returns the id and enqueue time it was acknowledged with (checked in on_send). */
	int acked = 0;
	RL_REQUIRE(rl_engine_begin(e, hub.now) == RL_OK);
	for (int i = 0; i < nsubmitted; i++)
		if (acks[i].acked) {
			acked++;
			submit(e, i);
		}
	RL_REQUIRE(rl_engine_commit(e) == RL_OK);
	RL_CHECK(mismatches == 0);
	RL_CHECK(acked > 0);

	/* Run time past every timer with every agent back on its link and the node alive: nobody
	 * stays reserved. */
	node_frozen = 0;
	if (node_down) {
		ht_hello(&hub, NODE_PIPE, RELAIS__ROLE__ROLE_NODE, "casablanca");
		ht_register(&hub, NODE_PIPE, ++node_boot);
	}
	for (int round = 0; round < 20; round++) {
		hub.now += 2000000u;
		ht_heartbeat(&hub, NODE_PIPE, 0, 0);
		RL_REQUIRE(rl_engine_begin(e, hub.now) == RL_OK);
		for (int i = 0; i < NAGENTS; i++)
			if (!agents[i].linked)
				agent_op(e, &agents[i], secret[i]);
		rl_engine_tick(e);
		RL_REQUIRE(rl_engine_commit(e) == RL_OK);
	}
	for (int round = 0; round < 12; round++) {
		hub.now += 2000000u; /* let the last offers ring out */
		ht_heartbeat(&hub, NODE_PIPE, 0, 0);
		RL_REQUIRE(rl_engine_begin(e, hub.now) == RL_OK);
		rl_engine_tick(e);
		RL_REQUIRE(rl_engine_commit(e) == RL_OK);
	}
	RL_REQUIRE(rl_engine_begin(e, hub.now) == RL_OK);
	status(e);
	RL_REQUIRE(rl_engine_commit(e) == RL_OK);
	RL_CHECK(status_seen);
	RL_CHECK(reserved_seen == 0);
	RL_CHECK(rl_engine_check(e, why, sizeof(why)) == 0);
	printf("digest %016llx of the frames sent\n", (unsigned long long)digest_all());
	printf("%d node freezes, %d node restarts\n", freezes, restarts);
	printf("%d steps, %d crashes, %d contacts submitted, %d acknowledged, %d offers, %d accepted, %d wrap-ups, "
	       "%d transfers asked on a call\n",
	       steps, crashes, nsubmitted, acked, offers, busy, wraps, transfers);
	/* The run must have exercised the whole lifecycle, or it proves nothing. */
	RL_CHECK(offers > steps / 20);
	RL_CHECK(freezes > 0 && restarts > 0);
	RL_CHECK(transfers > 0);
	RL_CHECK(busy > steps / 100);
	RL_CHECK(wraps > steps / 200);
	ht_close(&hub);
	return rltest_done();
}
