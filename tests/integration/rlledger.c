/*
 * rlledger.c - the submitter and its ledger's checks (rlledger.h).
 */
#include "rlledger.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relais.pb-c.h"
#include "rl_err.h"
#include "rl_time.h"
#include "rltest.h"

void rll_open(struct rll *l, struct rlc *c, int n, const char *prefix)
{
	memset(l, 0, sizeof(*l));
	l->subs = calloc((size_t)n, sizeof(*l->subs));
	RL_REQUIRE(l->subs != NULL);
	l->n = n;
	snprintf(l->prefix, sizeof(l->prefix), "%s", prefix);
	snprintf(l->ca, sizeof(l->ca), "%s/ca.pem", c->certs);
	snprintf(l->cert, sizeof(l->cert), "%s/node-casablanca.pem", c->certs);
	snprintf(l->key, sizeof(l->key), "%s/node-casablanca.key", c->certs);
	struct rl_tls tls = {l->ca, l->cert, l->key, NULL};
	struct rl_client_opts o = {.url = c->hub_url,
	                           .tls = &tls,
	                           .role = RELAIS__ROLE__ROLE_NODE,
	                           .site_id = "casablanca",
	                           .name = "ledger-submitter",
	                           .key = rlc_site_key(c, "casablanca")};
	RL_REQUIRE(rl_loop_create(&l->loop) == RL_OK);
	RL_REQUIRE(rl_client_open(&l->cl, &o, l->loop, 1) == RL_OK);
}

void rll_close(struct rll *l)
{
	rl_loop_destroy(l->loop);
	rl_client_close(l->cl);
	free(l->subs);
}

void rll_submit(struct rll *l)
{
	Relais__SubmitContact sc = RELAIS__SUBMIT_CONTACT__INIT;
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	struct rll_sub *s;
	char caller[32];
	rl_env env;
	int i = l->next;

	if (i >= l->n)
		return;
	s = &l->subs[l->next++];
	snprintf(s->ext, sizeof(s->ext), "%s-%d", l->prefix, i);
	snprintf(caller, sizeof(caller), "+2126%08d", i);
	rl_env_init(&env);
	sc.ext_id = s->ext;
	sc.tenant_id = "telco";
	sc.queue_id = "telco.billing";
	sc.priority = (uint32_t)(i % 3);
	sc.site_id = "casablanca";
	sc.pop = &pop;
	pop.caller = caller;
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
	env.submit_contact = &sc;
	RL_REQUIRE(rl_client_request(l->cl, &env, s, &s->req) == RL_OK);
}

static void rll_reply(rl_env *env, struct rll_sub *s)
{
	if (env->body_case != RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT_OK) {
		fprintf(stderr, "submit %s refused (body %d)\n", s->ext, env->body_case);
		return;
	}
	const Relais__SubmitContactOk *ok = env->submit_contact_ok;
	if (s->acked && (strcmp(s->contact, ok->contact_id) != 0 || s->enq_us != ok->enqueued_us))
		s->dup_mismatch = 1;
	if (!s->acked) {
		snprintf(s->contact, sizeof(s->contact), "%s", ok->contact_id);
		s->enq_us = ok->enqueued_us;
		s->ack_us = rl_mono_us();
	}
	s->acked = 1;
	s->acks++;
}

void rll_pump(struct rll *l, int ms)
{
	struct rl_loop_event evs[64];
	uint64_t end = rl_mono_us() + (uint64_t)ms * 1000u;

	while (rl_mono_us() < end) {
		int n = rl_loop_wait(l->loop, 20, evs, 64);
		for (int i = 0; i < n; i++) {
			rl_env *env;
			void *cookie;
			int is_reply;
			if (rl_client_input(l->cl, evs[i].msg, &env, &cookie, &is_reply) == RL_OK) {
				if (is_reply && cookie != NULL)
					rll_reply(env, cookie);
				rl_wire_free(env);
			}
		}
		rl_client_tick(l->cl);
	}
}

int rll_acked(const struct rll *l)
{
	int n = 0;

	for (int i = 0; i < l->n; i++)
		n += l->subs[i].acked;
	return n;
}

int rll_mismatches(const struct rll *l)
{
	int n = 0;

	for (int i = 0; i < l->n; i++)
		n += l->subs[i].dup_mismatch;
	return n;
}

/* rll_busy: agents on a call or ringing at the hub (-1: no answer). */
static int rll_busy(struct rlc *c)
{
	cJSON *s = rlc_status(c), *a;
	int busy = s ? 0 : -1;
	cJSON *agents = s ? cJSON_GetObjectItemCaseSensitive(s, "agents") : NULL;

	cJSON_ArrayForEach(a, agents)
	{
		cJSON *st = cJSON_GetObjectItemCaseSensitive(a, "state");
		busy += cJSON_IsString(st) &&
		        (strcmp(st->valuestring, "BUSY") == 0 || strcmp(st->valuestring, "RESERVED") == 0);
	}
	cJSON_Delete(s);
	return busy;
}

int rll_drain(struct rll *l, struct rlc *c, int want)
{
	int drained = 0, busy = -1;

	for (int i = 0; i < 300 && !drained; i++) {
		cJSON *s = rlc_status(c);
		double waiting = s ? rlc_queue_num(s, "telco.billing", "waiting") : -1;
		double answered = s ? rlc_queue_num(s, "telco.billing", "answered") : -1;
		cJSON_Delete(s);
		drained = waiting == 0 && answered >= want;
		if (!drained)
			rll_pump(l, 200);
		if (!drained && i % 25 == 24)
			printf("waiting for the agents: %.0f waiting, %.0f answered\n", waiting, answered);
	}
	/* Let the last calls end (talk, then hang-up) before stopping: no agent on a call. */
	for (int i = 0; i < 100 && drained && busy != 0; i++)
		if ((busy = rll_busy(c)) != 0)
			rll_pump(l, 200);
	return drained && busy == 0;
}

/* rll_record tallies one contact of the store against the ledger. */
static void rll_record(const struct rll *l, const Relais__ContactRecord *r, struct rll_store *s)
{
	char fmt[32];
	int i;

	snprintf(fmt, sizeof(fmt), "%s-%%d", l->prefix);
	if (sscanf(r->ext_id, fmt, &i) != 1 || i < 0 || i >= l->n)
		return;
	s->seen[i]++;
	if (l->subs[i].acked &&
	    (strcmp(r->contact_id, l->subs[i].contact) != 0 || r->enqueued_us != l->subs[i].enq_us)) {
		if (!l->quiet)
			printf("acknowledged otherwise: %s %s enqueued %llu (acknowledged as %s, %llu)\n", r->ext_id,
			       r->contact_id, (unsigned long long)r->enqueued_us, l->subs[i].contact,
			       (unsigned long long)l->subs[i].enq_us);
		s->mismatched++;
	}
	if (r->state == RELAIS__CONTACT_STATE__CONTACT_OFFERED)
		s->offered_left++;
	if (r->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_HANDLED)
		s->handled++;
	else if (!l->quiet)
		printf("not handled: %s %s state %d outcome %d agent %s\n", r->ext_id, r->contact_id, r->state,
		       r->outcome, r->agent_id ? r->agent_id : "-");
}

void rll_read_store(const struct rll *l, const char *dir, struct rll_store *s)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;

	memset(s, 0, sizeof(*s));
	s->seen = calloc((size_t)l->n, sizeof(int));
	RL_REQUIRE(s->seen != NULL && mdb_env_create(&env) == 0);
	mdb_env_set_maxdbs(env, 32);
	RL_REQUIRE(mdb_env_open(env, dir, MDB_RDONLY, 0600) == 0);
	RL_REQUIRE(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
	RL_REQUIRE(mdb_dbi_open(txn, "contacts", 0, &dbi) == 0);
	RL_REQUIRE(mdb_cursor_open(txn, dbi, &cur) == 0);
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		Relais__ContactRecord *r = relais__contact_record__unpack(NULL, v.mv_size, v.mv_data);
		RL_REQUIRE(r != NULL);
		s->total++;
		rll_record(l, r, s);
		relais__contact_record__free_unpacked(r, NULL);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

void rll_verify_store(const struct rll *l, const char *dir)
{
	struct rll_store s;
	int missing = 0, twice = 0;

	rll_read_store(l, dir, &s);
	for (int i = 0; i < l->n; i++) {
		missing += l->subs[i].acked && s.seen[i] == 0;
		twice += s.seen[i] > 1;
	}
	printf("store %s: %d contacts, %d acked, missing %d, duplicated %d, handled %d, offered left %d\n", dir,
	       s.total, rll_acked(l), missing, twice, s.handled, s.offered_left);
	RL_CHECK(s.mismatched == 0);
	RL_CHECK(missing == 0);
	RL_CHECK(twice == 0);
	RL_CHECK(s.offered_left == 0);
	RL_CHECK(s.handled == rll_acked(l));
	free(s.seen);
}
