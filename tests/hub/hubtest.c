#include "hubtest.h"

#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "rl_err.h"
#include "rl_secret.h"
#include "rltest.h"

const char *ht_hash(const char *secret)
{
	static struct {
		char secret[64];
		char hash[256];
	} cache[32];
	static int n;

	for (int i = 0; i < n; i++)
		if (strcmp(cache[i].secret, secret) == 0)
			return cache[i].hash;
	RL_REQUIRE(n < 32 && strlen(secret) < sizeof(cache[0].secret));
	snprintf(cache[n].secret, sizeof(cache[n].secret), "%s", secret);
	RL_REQUIRE(rl_secret_hash(secret, RL_SECRET_MIN, cache[n].hash, sizeof(cache[n].hash)) == RL_OK);
	return cache[n++].hash;
}

const struct rl_key *ht_key(const char *id)
{
	static struct {
		char id[64];
		struct rl_key key;
		char pub[RL_KEY_TEXT];
	} keys[32];
	static int n;

	for (int i = 0; i < n; i++)
		if (strcmp(keys[i].id, id) == 0)
			return &keys[i].key;
	RL_REQUIRE(n < 32 && strlen(id) < sizeof(keys[0].id));
	snprintf(keys[n].id, sizeof(keys[n].id), "%s", id);
	rl_key_generate(&keys[n].key);
	return &keys[n++].key;
}

const char *ht_pub(const char *id)
{
	static char text[32][RL_KEY_TEXT];
	static unsigned next;
	char *t = text[next++ % 32];

	rl_key_pub_text(ht_key(id)->pk, t);
	return t;
}

static void ht_on_send(void *arg, uint32_t pipe, const uint8_t *buf, size_t len)
{
	struct ht *h = arg;
	rl_env *env = NULL;

	RL_REQUIRE(rl_wire_decode(buf, len, &env) == RL_OK);
	if (h->observe != NULL)
		h->observe(h->observe_arg, pipe, env);
	if (h->nframes == h->capframes) {
		h->capframes = h->capframes ? h->capframes * 2 : 256;
		h->frames = realloc(h->frames, h->capframes * sizeof(*h->frames));
		RL_REQUIRE(h->frames != NULL);
	}
	h->frames[h->nframes++] = (struct ht_frame){pipe, env};
}

static void ht_on_auth(void *arg, struct rl_auth_job *job)
{
	struct ht *h = arg;

	job->ok = job->hash[0] && rl_secret_verify(job->hash, job->secret) == RL_OK;
	RL_REQUIRE(h->njobs < 64);
	h->jobs[h->njobs++] = job;
}

static void ht_on_report(void *arg, struct rl_report_job *job)
{
	struct ht *h = arg;

	RL_REQUIRE(h->nreports < 8);
	h->reports[h->nreports++] = job;
}

/* ht_reports folds the reports asked for and gives them back, as the hub's worker does. */
static void ht_reports(struct ht *h)
{
	if (h->nreports == 0)
		return;
	for (int i = 0; i < h->nreports; i++)
		rl_report_run(h->reports[i]); /* outside a batch: a thread holds one transaction */
	ht_begin(h);
	for (int i = 0; i < h->nreports; i++)
		rl_engine_report_done(h->e, h->reports[i]);
	h->nreports = 0;
	ht_commit(h);
}

static int ht_addr(void *arg, uint32_t pipe, char *ip, size_t cap)
{
	struct ht *h = arg;

	if (pipe >= 64 || h->ip[pipe][0] == '\0')
		return -1;
	snprintf(ip, cap, "%s", h->ip[pipe]);
	return 0;
}

void ht_set_ip(struct ht *h, uint32_t pipe, const char *ip)
{
	RL_REQUIRE(pipe < 64);
	snprintf(h->ip[pipe], sizeof(h->ip[pipe]), "%s", ip);
}

static int ht_start_rv(struct ht *h)
{
	struct rl_hub_conf hc = {.map_size_mb = 256,
	                         .agent_grace_s = 30,
	                         .offer_timeout_s = 5,
	                         .wrapup_s = 3,
	                         .batch_max = 64,
	                         .site_dead_ms = 2500,
	                         .site_lost_end_s = 10,
	                         .represent_window_s = 300};
	config_t cfg;
	int rv;

	snprintf(hc.id, sizeof(hc.id), "hubtest");
	snprintf(hc.data_dir, sizeof(hc.data_dir), "%s", h->dir);
	config_init(&cfg);
	if (config_read_string(&cfg, h->conf) != CONFIG_TRUE)
		fprintf(stderr, "hubtest config line %d: %s\n", config_error_line(&cfg), config_error_text(&cfg));
	rv = rl_engine_open(&h->e, &hc, &cfg, ht_on_send, h, ht_on_auth, h, h->now);
	if (rv == RL_OK) {
		rl_engine_set_addr_fn(h->e, ht_addr, h);
		rl_engine_set_reporter(h->e, ht_on_report, h);
	}
	config_destroy(&cfg);
	return rv;
}

static void ht_start(struct ht *h)
{
	RL_REQUIRE(ht_start_rv(h) == RL_OK);
}

int ht_open_rv(struct ht *h, const char *conf)
{
	int rv;

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "%s", rltest_tmpdir("hubtest"));
	h->conf = strdup(conf);
	h->now = 1790000000000000ULL;
	if ((rv = ht_start_rv(h)) != RL_OK) {
		free(h->conf);
		h->conf = NULL;
	}
	return rv;
}

void ht_open(struct ht *h, const char *conf)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "%s", rltest_tmpdir("hubtest"));
	h->conf = strdup(conf);
	h->now = 1790000000000000ULL;
	ht_start(h);
}

void ht_crash(struct ht *h)
{
	rl_engine_abort(h->e);
	rl_engine_close(h->e);
	ht_start(h);
}

void ht_forget(struct ht *h)
{
	for (size_t i = 0; i < h->nframes; i++)
		rl_wire_free(h->frames[i].env);
	h->nframes = 0;
}

void ht_close(struct ht *h)
{
	rl_engine_close(h->e);
	ht_forget(h);
	free(h->frames);
	free(h->conf);
}

void ht_begin(struct ht *h)
{
	RL_REQUIRE(rl_engine_begin(h->e, h->now) == RL_OK);
}

void ht_commit(struct ht *h)
{
	RL_REQUIRE(rl_engine_commit(h->e) == RL_OK);
}

void ht_input(struct ht *h, uint32_t pipe, const rl_env *env)
{
	uint8_t *buf;
	size_t len;
	rl_env *dec = NULL;

	/* Through the codec, as on the wire. */
	RL_REQUIRE(rl_wire_encode((rl_env *)env, &buf, &len) == RL_OK);
	RL_REQUIRE(rl_wire_decode(buf, len, &dec) == RL_OK);
	rl_engine_input(h->e, pipe, dec);
	rl_wire_free(dec);
	free(buf);
	while (h->njobs > 0)
		rl_engine_auth_done(h->e, h->jobs[--h->njobs]);
}

void ht_tick(struct ht *h, uint64_t ms)
{
	h->now += ms * 1000u;
	for (int i = 0; i < h->nnodes; i++)
		if (!h->silent[i])
			ht_heartbeat(h, h->nodes[i], 0, 0);
	ht_begin(h);
	rl_engine_tick(h->e);
	ht_commit(h);
}

void ht_silence(struct ht *h, uint32_t pipe, int silent)
{
	for (int i = 0; i < h->nnodes; i++)
		if (h->nodes[i] == pipe)
			h->silent[i] = silent;
}

void ht_register(struct ht *h, uint32_t pipe, uint64_t boot)
{
	Relais__SiteRegister sr = RELAIS__SITE_REGISTER__INIT;
	rl_env env;

	rl_env_init(&env);
	sr.capacity = 100;
	sr.health = 100;
	sr.boot_id = boot;
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_REGISTER;
	env.site_register = &sr;
	RL_REQUIRE(ht_error(ht_request(h, pipe, 0, 0, &env)) == 0);
}

const rl_env *ht_hello_proof(struct ht *h, uint32_t pipe, int role, const char *id, const uint8_t *proof)
{
	Relais__Hello hello = RELAIS__HELLO__INIT;
	rl_env env;

	rl_env_init(&env);
	hello.role = role;
	if (role == RELAIS__ROLE__ROLE_NODE)
		hello.site_id = (char *)id;
	else if (role == RELAIS__ROLE__ROLE_CTL)
		hello.principal = (char *)id;
	hello.proof.data = (uint8_t *)proof;
	hello.proof.len = proof ? RL_KEY_SIG : 0;
	env.body_case = RELAIS__ENVELOPE__BODY_HELLO;
	env.hello = &hello;
	return ht_request(h, pipe, 0, 0, &env);
}

void ht_hello(struct ht *h, uint32_t pipe, int role, const char *id)
{
	const rl_env *a = ht_hello_proof(h, pipe, role, id, NULL);
	uint8_t sig[RL_KEY_SIG];

	RL_REQUIRE(a != NULL && a->body_case == RELAIS__ENVELOPE__BODY_HELLO_OK);
	if (a->hello_ok->challenge.len == 0)
		return;
	RL_REQUIRE(a->hello_ok->challenge.len == RL_KEY_CHALLENGE);
	rl_key_prove(ht_key(id), a->hello_ok->challenge.data, role, id, sig);
	a = ht_hello_proof(h, pipe, role, id, sig);
	RL_REQUIRE(a != NULL && a->body_case == RELAIS__ENVELOPE__BODY_HELLO_OK && a->hello_ok->challenge.len == 0);
	if (role == RELAIS__ROLE__ROLE_NODE) {
		for (int i = 0; i < h->nnodes; i++)
			if (h->nodes[i] == pipe)
				return;
		RL_REQUIRE(h->nnodes < 8);
		h->silent[h->nnodes] = 0;
		h->nodes[h->nnodes++] = pipe;
	}
}

const rl_env *ht_request(struct ht *h, uint32_t pipe, uint64_t chan, uint64_t session, rl_env *env)
{
	size_t from = h->nframes;

	env->req_id = ++h->next_req;
	env->chan = chan;
	env->session = session;
	ht_begin(h);
	ht_input(h, pipe, env);
	ht_commit(h);
	ht_reports(h);
	for (size_t i = from; i < h->nframes; i++)
		if (h->frames[i].pipe == pipe && h->frames[i].env->req_id == env->req_id)
			return h->frames[i].env;
	return NULL;
}

int ht_error(const rl_env *a)
{
	if (a == NULL)
		return -1;
	return a->body_case == RELAIS__ENVELOPE__BODY_ERROR ? (int)a->error->code : 0;
}

uint64_t ht_login(struct ht *h, uint32_t pipe, uint64_t chan, const char *agent, const char *secret)
{
	Relais__AgentLogin l = RELAIS__AGENT_LOGIN__INIT;
	const rl_env *a;
	rl_env env;

	rl_env_init(&env);
	l.agent_id = (char *)agent;
	l.secret = (char *)secret;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_LOGIN;
	env.agent_login = &l;
	a = ht_request(h, pipe, chan, 0, &env);
	return a && a->body_case == RELAIS__ENVELOPE__BODY_AGENT_LOGIN_OK ? a->agent_login_ok->session : 0;
}

const rl_env *ht_last(struct ht *h, uint32_t pipe, Relais__Envelope__BodyCase body)
{
	for (size_t i = h->nframes; i-- > 0;)
		if (h->frames[i].pipe == pipe && h->frames[i].env->body_case == body)
			return h->frames[i].env;
	return NULL;
}

int ht_count(struct ht *h, uint32_t pipe, Relais__Envelope__BodyCase body)
{
	int n = 0;

	for (size_t i = 0; i < h->nframes; i++)
		n += h->frames[i].pipe == pipe && h->frames[i].env->body_case == body;
	return n;
}

/* ---------------------------------------------------------------------------------------- */
/* requests in a line */

const rl_env *ht_submit(struct ht *h, uint32_t pipe, const char *ext, const char *tenant, const char *queue,
                        const char *caller)
{
	Relais__SubmitContact sc = RELAIS__SUBMIT_CONTACT__INIT;
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	rl_env env;

	rl_env_init(&env);
	pop.caller = (char *)caller;
	sc.ext_id = (char *)ext;
	sc.tenant_id = (char *)tenant;
	sc.queue_id = (char *)queue;
	sc.pop = caller ? &pop : NULL;
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
	env.submit_contact = &sc;
	return ht_request(h, pipe, 0, 0, &env);
}

const rl_env *ht_set_state(struct ht *h, uint32_t pipe, uint64_t session, Relais__AgentState st, const char *reason)
{
	Relais__AgentSetState s = RELAIS__AGENT_SET_STATE__INIT;
	rl_env env;

	rl_env_init(&env);
	s.state = st;
	s.reason = (char *)reason;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_SET_STATE;
	env.agent_set_state = &s;
	return ht_request(h, pipe, 0, session, &env);
}

const rl_env *ht_answer_on(struct ht *h, uint32_t pipe, uint64_t chan, uint64_t session, const char *contact,
                           int accept)
{
	Relais__OfferAnswer o = RELAIS__OFFER_ANSWER__INIT;
	rl_env env;

	rl_env_init(&env);
	o.contact_id = (char *)contact;
	o.accept = accept;
	env.body_case = RELAIS__ENVELOPE__BODY_OFFER_ANSWER;
	env.offer_answer = &o;
	return ht_request(h, pipe, chan, session, &env);
}

const rl_env *ht_answer(struct ht *h, uint32_t pipe, uint64_t session, const char *contact, int accept)
{
	return ht_answer_on(h, pipe, 0, session, contact, accept);
}

const rl_env *ht_hangup_on(struct ht *h, uint32_t pipe, uint64_t chan, uint64_t session, const char *contact)
{
	Relais__ContactHangup x = RELAIS__CONTACT_HANGUP__INIT;
	rl_env env;

	rl_env_init(&env);
	x.contact_id = (char *)contact;
	env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_HANGUP;
	env.contact_hangup = &x;
	return ht_request(h, pipe, chan, session, &env);
}

const rl_env *ht_hangup(struct ht *h, uint32_t pipe, uint64_t session, const char *contact)
{
	return ht_hangup_on(h, pipe, 0, session, contact);
}

const rl_env *ht_wrapup(struct ht *h, uint32_t pipe, uint64_t session, const char *contact, const char *disposition,
                        uint32_t extend_s)
{
	Relais__WrapupDone w = RELAIS__WRAPUP_DONE__INIT;
	rl_env env;

	rl_env_init(&env);
	w.contact_id = (char *)contact;
	w.disposition = (char *)disposition;
	w.extend_s = extend_s;
	env.body_case = RELAIS__ENVELOPE__BODY_WRAPUP_DONE;
	env.wrapup_done = &w;
	return ht_request(h, pipe, 0, session, &env);
}

const rl_env *ht_transfer(struct ht *h, uint32_t pipe, uint64_t session, const char *contact, const char *queue,
                          const char *number)
{
	Relais__ContactTransfer t = RELAIS__CONTACT_TRANSFER__INIT;
	rl_env env;

	rl_env_init(&env);
	t.contact_id = (char *)contact;
	t.queue_id = (char *)queue;
	t.number = (char *)number;
	env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_TRANSFER;
	env.contact_transfer = &t;
	return ht_request(h, pipe, 0, session, &env);
}

const rl_env *ht_status(struct ht *h, uint32_t pipe, const char *tenant)
{
	Relais__StatusRequest sr = RELAIS__STATUS_REQUEST__INIT;
	rl_env env;

	rl_env_init(&env);
	sr.agents = 1;
	sr.queues = 1;
	sr.sites = 1;
	sr.tenant_id = (char *)tenant;
	env.body_case = RELAIS__ENVELOPE__BODY_STATUS_REQUEST;
	env.status_request = &sr;
	return ht_request(h, pipe, 0, 0, &env);
}

void ht_heartbeat(struct ht *h, uint32_t pipe, uint64_t chan, uint64_t session)
{
	Relais__Heartbeat hb = RELAIS__HEARTBEAT__INIT;
	rl_env env;

	rl_env_init(&env);
	env.chan = chan;
	env.session = session;
	hb.sent_us = h->now;
	env.body_case = RELAIS__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	ht_begin(h);
	ht_input(h, pipe, &env);
	ht_commit(h);
}
