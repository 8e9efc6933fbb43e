/*
 * Crash test: kill -9 the hub twice while contacts stream in and agents take them.
 *
 * A submitter acting as a site node streams SubmitContact requests (unique ext_ids) and
 * records every acknowledgement. After the crashes and restarts, when everything has been
 * handled, the hub is stopped and its LMDB is read directly: every acknowledged contact must
 * be there exactly once, with the contact id and original enqueue time it was acknowledged
 * with, handled exactly once, and no contact may be left offered (no agent left reserved).
 */
#include <lmdb.h>
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

#define NCONTACTS 400

struct sub {
	char ext[32];
	uint64_t req;
	int acked;
	char contact[RL_WIRE_MAX_ID + 1];
	uint64_t enq_us;
	int acks; /* acknowledgements received (re-sends after a crash may add one) */
	int dup_mismatch;
};

static struct sub subs[NCONTACTS];

static void submit(struct rl_client *cl, int i)
{
	Relais__SubmitContact sc = RELAIS__SUBMIT_CONTACT__INIT;
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	char caller[32];
	rl_env env;

	snprintf(subs[i].ext, sizeof(subs[i].ext), "crash-%d", i);
	snprintf(caller, sizeof(caller), "+2126%08d", i);
	rl_env_init(&env);
	sc.ext_id = subs[i].ext;
	sc.tenant_id = "telco";
	sc.queue_id = "telco.billing";
	sc.priority = (uint32_t)(i % 3);
	sc.site_id = "casablanca";
	sc.pop = &pop;
	pop.caller = caller;
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
	env.submit_contact = &sc;
	RL_REQUIRE(rl_client_request(cl, &env, &subs[i], &subs[i].req) == RL_OK);
}

static void on_reply(rl_env *env, struct sub *s)
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
	}
	s->acked = 1;
	s->acks++;
}

/* pump drives the submitter's link for ms milliseconds. */
static void pump(struct rl_loop *loop, struct rl_client *cl, int ms)
{
	struct rl_loop_event evs[64];
	uint64_t end = rl_mono_us() + (uint64_t)ms * 1000u;

	while (rl_mono_us() < end) {
		int n = rl_loop_wait(loop, 20, evs, 64);
		for (int i = 0; i < n; i++) {
			rl_env *env;
			void *cookie;
			int is_reply;
			if (rl_client_input(cl, evs[i].msg, &env, &cookie, &is_reply) == RL_OK) {
				if (is_reply && cookie != NULL)
					on_reply(env, cookie);
				rl_wire_free(env);
			}
		}
		rl_client_tick(cl);
	}
}

static int acked_count(void)
{
	int n = 0;
	for (int i = 0; i < NCONTACTS; i++)
		n += subs[i].acked;
	return n;
}

/* verify_store reads the hub's LMDB (hub stopped) and checks every acknowledged contact. */
static void verify_store(const char *dir)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	int *seen = calloc(NCONTACTS, sizeof(int));
	int handled = 0, offered_left = 0, total = 0;

	RL_REQUIRE(mdb_env_create(&env) == 0);
	mdb_env_set_maxdbs(env, 32);
	RL_REQUIRE(mdb_env_open(env, dir, MDB_RDONLY, 0600) == 0);
	RL_REQUIRE(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
	RL_REQUIRE(mdb_dbi_open(txn, "contacts", 0, &dbi) == 0);
	RL_REQUIRE(mdb_cursor_open(txn, dbi, &cur) == 0);
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		Relais__ContactRecord *r = relais__contact_record__unpack(NULL, v.mv_size, v.mv_data);
		RL_REQUIRE(r != NULL);
		total++;
		int i;
		if (sscanf(r->ext_id, "crash-%d", &i) == 1 && i >= 0 && i < NCONTACTS) {
			seen[i]++;
			if (subs[i].acked) {
				RL_CHECK(strcmp(r->contact_id, subs[i].contact) == 0);
				RL_CHECK(r->enqueued_us == subs[i].enq_us);
			}
			if (r->state == RELAIS__CONTACT_STATE__CONTACT_OFFERED)
				offered_left++;
			if (r->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_HANDLED)
				handled++;
			else
				printf("not handled: %s %s state %d outcome %d agent %s\n", r->ext_id, r->contact_id,
				       r->state, r->outcome, r->agent_id ? r->agent_id : "-");
		}
		relais__contact_record__free_unpacked(r, NULL);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);

	int missing = 0, twice = 0;
	for (int i = 0; i < NCONTACTS; i++) {
		if (subs[i].acked && seen[i] == 0)
			missing++;
		if (seen[i] > 1)
			twice++;
	}
	printf("store: %d contacts, %d acked, missing %d, duplicated %d, handled %d, offered left %d\n", total,
	       acked_count(), missing, twice, handled, offered_left);
	RL_CHECK(missing == 0);
	RL_CHECK(twice == 0);
	RL_CHECK(offered_left == 0);
	RL_CHECK(handled == acked_count());
	free(seen);
}

int main(void)
{
	struct rlc c;
	struct rl_loop *loop;
	struct rl_client *cl;
	char ca[700], cert[700], key[700];

	rlc_init(&c, "crash", 1);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; };"
	              " sites = [ ]; sl_pct = 90; sl_seconds = 10; wrapup_s = 1; offer_timeout_s = 3; }");
	char ids[1024] = "";
	for (int i = 0; i < 12; i++) {
		char id[16];
		snprintf(id, sizeof(id), "h%02d", i);
		rlc_agent(&c, id, "telco", "billing = 5;", "");
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%s", i ? "," : "", id);
	}
	rlc_start_hub(&c);
	rlc_start_agents(&c, c.hub_url, ids, "answer=0.05,talk=0.1,wrap=0.05", "agents.log");

	snprintf(ca, sizeof(ca), "%s/ca.pem", c.certs);
	snprintf(cert, sizeof(cert), "%s/node-casablanca.pem", c.certs);
	snprintf(key, sizeof(key), "%s/node-casablanca.key", c.certs);
	struct rl_tls tls = {ca, cert, key, NULL};
	struct rl_client_opts o = {.url = c.hub_url,
	                           .tls = &tls,
	                           .role = RELAIS__ROLE__ROLE_NODE,
	                           .site_id = "casablanca",
	                           .name = "crash-submitter",
	                           .key = rlc_site_key(&c, "casablanca")};
	RL_REQUIRE(rl_loop_create(&loop) == RL_OK);
	RL_REQUIRE(rl_client_open(&cl, &o, loop, 1) == RL_OK);

	/* Stream: 400 contacts at ~100/s, with two hub crashes in the middle. */
	int next = 0;
	for (int round = 0; round < 3; round++) {
		for (int k = 0; k < 130 && next < NCONTACTS; k++) {
			submit(cl, next++);
			pump(loop, cl, 10);
		}
		if (round < 2) {
			printf("round %d: %d submitted, %d acked; kill -9 hub\n", round, next, acked_count());
			RL_CHECK(acked_count() > 0);
			rlc_stop_hub(&c, SIGKILL);
			for (int k = 0; k < 10 && next < NCONTACTS; k++)
				submit(cl, next++); /* sent into the void: must be re-sent and land once */
			pump(loop, cl, 300);
			rlc_start_hub(&c);
		}
	}
	while (next < NCONTACTS)
		submit(cl, next++);
	for (int i = 0; i < 300 && acked_count() < NCONTACTS; i++)
		pump(loop, cl, 100);
	printf("all submitted: %d acked, link %s\n", acked_count(), rl_client_up(cl) ? "up" : "down");
	RL_CHECK(acked_count() == NCONTACTS);
	int mism = 0;
	for (int i = 0; i < NCONTACTS; i++)
		mism += subs[i].dup_mismatch;
	RL_CHECK(mism == 0); /* a re-sent submit got the same contact id and enqueue time */

	/* Let the agents finish everything, then look at the disk. */
	int drained = 0;
	for (int i = 0; i < 300 && !drained; i++) {
		cJSON *s = rlc_status(&c);
		double waiting = s ? rlc_queue_num(s, "telco.billing", "waiting") : -1;
		double answered = s ? rlc_queue_num(s, "telco.billing", "answered") : -1;
		cJSON_Delete(s);
		drained = waiting == 0 && answered >= NCONTACTS;
		if (!drained)
			pump(loop, cl, 200);
		if (!drained && i % 25 == 24)
			printf("waiting for the agents: %.0f waiting, %.0f answered\n", waiting, answered);
	}
	RL_CHECK(drained);
	/* Let the last calls end (talk, then hang-up) before stopping: no agent on a call. */
	int busy = -1;
	for (int i = 0; i < 100 && busy != 0; i++) {
		cJSON *s = rlc_status(&c), *a;
		busy = s ? 0 : -1;
		cJSON *agents = s ? cJSON_GetObjectItemCaseSensitive(s, "agents") : NULL;
		cJSON_ArrayForEach(a, agents)
		{
			cJSON *st = cJSON_GetObjectItemCaseSensitive(a, "state");
			busy += cJSON_IsString(st) &&
			        (strcmp(st->valuestring, "BUSY") == 0 || strcmp(st->valuestring, "RESERVED") == 0);
		}
		cJSON_Delete(s);
		if (busy != 0)
			pump(loop, cl, 200);
	}
	RL_CHECK(busy == 0);
	rl_loop_destroy(loop);
	rl_client_close(cl);
	rlc_stop_all(&c);

	char data[700];
	snprintf(data, sizeof(data), "%s/hubdata", c.dir);
	verify_store(data);
	return rltest_done();
}
