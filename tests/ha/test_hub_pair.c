/*
 * test_hub_pair - two real hubs on a real three-member etcd, under a stream of contacts.
 *
 * hub-a and hub-b share nothing but etcd and the replication link. Home agents and a
 * submitter (acting as a site node, recording every acknowledgement: rlledger.h) are given
 * both hubs' addresses. The test:
 *   0. lets a stray client with a cluster certificate take the leader's replication link
 *      first: asking before a Hello, as an unknown hub, as the standby without its key, it
 *      is refused; silent then, it is dropped, and the standby gets in; the leader's /metrics
 *      and relaisctl status then say the standby is in sync;
 *   1. kills -9 the leader mid-stream: the standby, which held every acknowledged batch,
 *      takes over; the time from the kill to the first new acknowledgement is printed;
 *   2. starts the killed hub again: it stands by, catches up (from the log, or a copy of the
 *      store when its own has a batch the new leader never acknowledged) and becomes the
 *      synchronous standby again;
 *   3. freezes the new leader (SIGSTOP) past its lease: the other takes over; resumed, the
 *      frozen one must stop (exit 75) without answering or writing anything;
 *   4. lets the agents handle everything and reads both stores: the ledger holds on the
 *      leader's (every acknowledged contact exactly once, handled, with the id and enqueue
 *      time it was acknowledged with), the standby's contacts are the leader's, byte for
 *      byte, the model rebuilt from the leader's store passes the model check, and no
 *      revision was led by two runs of the hubs.
 */
#include <nng/nng.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "hubpair.h"
#include "rl_err.h"
#include "rl_link.h"
#include "rl_time.h"
#include "rltest.h"

#define NCONTACTS 600

static struct hp hp;

static void cleanup(void)
{
	hp_stop(&hp);
}

/* ask sends env on s and returns the leader's answer's body (ERROR: its code in *code). */
static int ask(nng_socket s, rl_env *env, int *code)
{
	nng_msg *m = NULL;
	rl_env *in = NULL;
	int body = -1;

	*code = 0;
	RL_REQUIRE(rl_link_send(s, 0, env) == RL_OK);
	if (nng_recvmsg(s, &m, 0) != 0)
		return -1;
	if (rl_link_recv_env(m, &in, NULL) == RL_OK) {
		body = (int)in->body_case;
		if (in->body_case == RELAIS__ENVELOPE__BODY_ERROR)
			*code = (int)in->error->code;
	}
	rl_wire_free(in);
	nng_msg_free(m);
	return body;
}

/* intrude: a client with an agent's certificate on the leader's replication link. Asking for
 * batches before a Hello, naming a hub not among ha.peers, or naming one without its key, it
 * is refused each time; then, silent, it holds the link until the leader drops it (one that
 * dials again and again can keep the place: docs/security.md). */
static void intrude(const struct hp_hub *leader, const char *peer)
{
	Relais__ReplSubscribe sub = RELAIS__REPL_SUBSCRIBE__INIT;
	Relais__Hello h = RELAIS__HELLO__INIT;
	uint8_t proof[RL_KEY_SIG] = {0};
	char ca[700], cert[700], key[700];
	nng_socket s;
	rl_env env;
	int code;

	snprintf(ca, sizeof(ca), "%s/ca.pem", hp.c.certs);
	snprintf(cert, sizeof(cert), "%s/agent.pem", hp.c.certs);
	snprintf(key, sizeof(key), "%s/agent.key", hp.c.certs);
	struct rl_tls tls = {ca, cert, key, NULL};
	RL_REQUIRE(rl_link_client_open(&s) == RL_OK);
	RL_REQUIRE(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000) == 0);
	RL_REQUIRE(rl_link_dial(s, leader->repl, &tls, NULL) == RL_OK);
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_REPL_SUBSCRIBE;
	env.repl_subscribe = &sub;
	RL_CHECK(ask(s, &env, &code) == RELAIS__ENVELOPE__BODY_ERROR && code == RELAIS__ERROR_CODE__ERR_HELLO_FIRST);
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	h.role = RELAIS__ROLE__ROLE_HUB;
	h.principal = "hub-x";
	RL_CHECK(ask(s, &env, &code) == RELAIS__ENVELOPE__BODY_ERROR && code == RELAIS__ERROR_CODE__ERR_FORBIDDEN);
	h.principal = (char *)peer;
	RL_CHECK(ask(s, &env, &code) == RELAIS__ENVELOPE__BODY_HELLO_OK);
	h.proof = (ProtobufCBinaryData){sizeof(proof), proof};
	RL_CHECK(ask(s, &env, &code) == RELAIS__ENVELOPE__BODY_ERROR && code == RELAIS__ERROR_CODE__ERR_AUTH);
	RL_CHECK(hp_count(&hp, leader, "standby linked") == 0);
	RL_WAIT(5000, hp_count(&hp, leader, "not proven in time") > 0);
	nng_close(s);
}

/* said_in_sync: the leader's /metrics and relaisctl status both say its standby is in sync. */
static void said_in_sync(const struct hp_hub *leader)
{
	RL_WAIT(5000, rlc_scrape(&hp.c, leader->metrics, HP_TOKEN) &&
	                  rlc_sample(&hp.c, "relais_hub_ha_standby_synced{}") == 1 &&
	                  rlc_sample(&hp.c, "relais_hub_ha_alone{}") == 0);
	cJSON *st = rlc_status(&hp.c), *ha = cJSON_GetObjectItemCaseSensitive(st, "ha");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(ha, "leader");
	RL_CHECK(cJSON_IsString(name) && strcmp(name->valuestring, leader->name) == 0);
	RL_CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ha, "synced")));
	cJSON_Delete(st);
}

/* setup: the queue, twelve home agents, etcd, both hubs' keys and configs. */
static void setup(void)
{
	hp_init(&hp, "hub_pair", 12);
	atexit(cleanup);
	etcd3_start(&hp.e3, hp.c.dir);
	for (int i = 0; i < 2; i++) {
		snprintf(hp.hub[i].url, sizeof(hp.hub[i].url), "tls+tcp://127.0.0.1:%d", rltest_free_port());
		snprintf(hp.hub[i].repl, sizeof(hp.hub[i].repl), "tls+tcp://127.0.0.1:%d", rltest_free_port());
		hp.hub[i].metrics = rltest_free_port();
	}
	hp_configure(&hp);
	hp_start(&hp, &hp.hub[0]);
	RL_WAIT_REQUIRE(20000, hp_leads(&hp, &hp.hub[0]));
	intrude(&hp.hub[0], hp.hub[1].name);
	hp_start(&hp, &hp.hub[1]);
	RL_WAIT_REQUIRE(20000, hp_synced(&hp, &hp.hub[0], &hp.hub[1]));
	said_in_sync(&hp.hub[0]);
	rlc_start_agents(&hp.c, hp.c.hub_url, hp.agents, "answer=0.05,talk=0.1,wrap=0.05", "agents.log");
}

int main(void)
{
	struct rll l;
	struct hp_hub *a = &hp.hub[0], *b = &hp.hub[1];
	uint64_t t0, frozen_at;

	setup();
	rll_open(&l, &hp.c, NCONTACTS, "pair");

	/* 1. kill -9 the leader (a) mid-stream. */
	hp_stream(&l, 200);
	RL_CHECK(rll_acked(&l) > 0);
	t0 = rl_mono_us();
	hp_kill(&hp, a, SIGKILL);
	printf("kill -9 %s: routing resumed on %s after %.0f ms\n", a->name, b->name, hp_resumed_ms(&l, t0));
	RL_CHECK(hp_leads(&hp, b));

	/* 2. a comes back as the standby and catches up. */
	hp_start(&hp, a);
	RL_WAIT_REQUIRE(30000, hp_synced(&hp, b, a));
	hp_stream(&l, 150);

	/* 3. freeze the leader (b) past its lease; resumed, it must stop, having written and
	 * answered nothing. */
	t0 = rl_mono_us();
	kill(b->pid, SIGSTOP);
	frozen_at = hp_store_seq(&hp, b);
	printf("SIGSTOP %s: routing resumed on %s after %.0f ms\n", b->name, a->name, hp_resumed_ms(&l, t0));
	RL_WAIT_REQUIRE(10000, hp_leads(&hp, a));
	kill(b->pid, SIGCONT);
	RL_CHECK(hp_exited(&hp, b, 10000) == HP_DEPOSED);
	printf("%s frozen at batch %llu, exited at %llu\n", b->name, (unsigned long long)frozen_at,
	       (unsigned long long)hp_store_seq(&hp, b));
	RL_CHECK(hp_store_seq(&hp, b) == frozen_at);
	hp_start(&hp, b);
	RL_WAIT_REQUIRE(30000, hp_synced(&hp, a, b));

	/* 4. the rest, then the ledger. */
	hp_stream(&l, NCONTACTS);
	for (int i = 0; i < 300 && rll_acked(&l) < NCONTACTS; i++)
		rll_pump(&l, 100);
	printf("all submitted: %d acked\n", rll_acked(&l));
	RL_CHECK(rll_acked(&l) == NCONTACTS);
	RL_CHECK(rll_mismatches(&l) == 0);
	RL_CHECK(rll_drain(&l, &hp.c, NCONTACTS));
	rlc_stop_all(&hp.c);
	hp_check_stores(&hp, &l, a, b);
	hp_model_check(&hp, a);
	hp_check_terms(&hp);
	rll_close(&l);
	return rltest_done();
}
