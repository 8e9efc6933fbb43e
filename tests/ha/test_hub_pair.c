/*
 * test_hub_pair - two real hubs on a real three-member etcd, under a stream of contacts.
 *
 * hub-a and hub-b share nothing but etcd and the replication link. Home agents and a
 * submitter (acting as a site node, recording every acknowledgement: rlledger.h) are given
 * both hubs' addresses. The test then:
 *   1. kills -9 the leader mid-stream: the standby, which held every acknowledged batch,
 *      takes over; the time from the kill to the first new acknowledgement is printed;
 *   2. starts the killed hub again: it stands by, catches up (from the log, or a copy of the
 *      store when its own has a batch the new leader never acknowledged) and becomes the
 *      synchronous standby again;
 *   3. freezes the new leader (SIGSTOP) past its lease: the other takes over; resumed, the
 *      frozen one must stop without answering anything (exit 75) - it never serves again;
 *   4. lets the agents handle everything and reads both stores: the ledger holds on the
 *      leader's (every acknowledged contact exactly once, handled, with the id and enqueue
 *      time it was acknowledged with), and the standby's contacts are the leader's, byte for
 *      byte.
 */
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "etcd3.h"
#include "rl_config.h"
#include "rl_err.h"
#include "rl_link.h"
#include "rl_time.h"
#include "rlcluster.h"
#include "rlledger.h"
#include "rltest.h"

#define NCONTACTS    600
#define HUB_DEPOSED  75
#define TOKEN        "relais-test-scrape-token"
#define TOKEN_SHA256 "0a5b1abadc500fc6915c9308d01151d3dc77f28a2cc7af84cda4ba514e7b67d1"

struct hub {
	const char *name;
	char url[64], repl[64], conf[32], log[32];
	int metrics; /* its /metrics port */
	pid_t pid;
	int starts;
};

static struct rlc c;
static struct etcd3 e3;
static struct hub hubs[2] = {{.name = "hub-a"}, {.name = "hub-b"}};

static void cleanup(void)
{
	for (int i = 0; i < 2; i++)
		if (hubs[i].pid > 0)
			rltest_stop(hubs[i].pid, SIGKILL, 5000);
	etcd3_stop(&e3);
}

/* hub_conf writes hub h's config: the cluster's, plus its `ha` group. */
static void hub_conf(struct hub *h, const struct hub *peer, const char *peer_pub)
{
	snprintf(c.top_extra, sizeof(c.top_extra),
	         "ha = { etcd = \"%s\"; key = \"/relais/test\"; name = \"%s\"; advertise = \"%s\";\n"
	         "  repl_listen = \"%s\"; key_file = \"%s/keys/%s.key\"; ttl_s = 3; sync = \"prefer\";\n"
	         "  peers = ( { name = \"%s\"; key = \"%s\"; } ); };\n",
	         e3.endpoints, h->name, h->url, h->repl, c.dir, h->name, peer->name, peer_pub);
	snprintf(h->conf, sizeof(h->conf), "%s.conf", h->name);
	h->metrics = rltest_free_port();
	snprintf(c.hub_extra, sizeof(c.hub_extra),
	         "  metrics_listen = \"http://127.0.0.1:%d\";\n  metrics_token_sha256 = \"%s\";\n", h->metrics,
	         TOKEN_SHA256);
	rlc_write_hub_conf_as(&c, h->conf, h->name, h->name, h->url);
	c.top_extra[0] = c.hub_extra[0] = 0;
}

static void hub_start(struct hub *h)
{
	char *argv[] = {(char *)rltest_bin("hub/relais-hub"), "-c", (char *)rlc_path(&c, h->conf), NULL};

	snprintf(h->log, sizeof(h->log), "%s-%d.log", h->name, ++h->starts);
	h->pid = rltest_spawn(argv, rlc_path(&c, h->log));
}

static int leads(const struct hub *h)
{
	return h->pid > 0 && rlc_count_in_file(rlc_path(&c, h->log), "hub leads") > 0;
}

/* synced: h, leading, has its standby named in etcd as holding every batch. */
static int synced(const struct hub *h, const struct hub *standby)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "ha sync standby=%s", standby->name);
	return leads(h) && rlc_count_in_file(rlc_path(&c, h->log), needle) > 0;
}

/* stream submits n contacts at about 100/s. */
static void stream(struct rll *l, int n)
{
	for (int k = 0; k < n; k++) {
		rll_submit(l);
		rll_pump(l, 10);
	}
}

/* resumed_ms submits into the failover and returns the time until a new acknowledgement. */
static double resumed_ms(struct rll *l, uint64_t t0)
{
	int before = rll_acked(l);

	for (int i = 0; i < 400 && rll_acked(l) == before; i++) {
		if (i % 5 == 0)
			rll_submit(l);
		rll_pump(l, 25);
	}
	RL_CHECK(rll_acked(l) > before);
	return (double)(rl_mono_us() - t0) / 1000.0;
}

/* exit_status waits up to ms for pid; its exit code, or -1. */
static int exit_status(pid_t pid, int ms)
{
	int status;

	for (int i = 0; i < ms / 20; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		rltest_sleep_ms(20);
	}
	return -1;
}

/* store_seq: the last batch a hub's store holds (meta "repl", the big-endian seq first). */
static uint64_t store_seq(const struct hub *h)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {4, "repl"}, v;
	char dir[600];
	uint64_t seq = 0;

	snprintf(dir, sizeof(dir), "%s/%s", c.dir, h->name);
	RL_REQUIRE(mdb_env_create(&env) == 0);
	mdb_env_set_maxdbs(env, 32);
	RL_REQUIRE(mdb_env_open(env, dir, MDB_RDONLY, 0600) == 0);
	RL_REQUIRE(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
	if (mdb_dbi_open(txn, "meta", 0, &dbi) == 0 && mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size >= 8)
		for (int i = 0; i < 8; i++)
			seq = seq << 8 | ((const uint8_t *)v.mv_data)[i];
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return seq;
}

/* same_table: 1 when table of the two stores holds the same keys and values. */
static int same_table(const char *a, const char *b, const char *table)
{
	MDB_env *env[2];
	MDB_txn *txn[2];
	MDB_dbi dbi[2];
	MDB_cursor *cur[2];
	const char *dirs[2] = {a, b};
	int same = 1, ra, rb, n = 0;

	for (int i = 0; i < 2; i++) {
		RL_REQUIRE(mdb_env_create(&env[i]) == 0);
		mdb_env_set_maxdbs(env[i], 32);
		RL_REQUIRE(mdb_env_open(env[i], dirs[i], MDB_RDONLY, 0600) == 0);
		RL_REQUIRE(mdb_txn_begin(env[i], NULL, MDB_RDONLY, &txn[i]) == 0);
		RL_REQUIRE(mdb_dbi_open(txn[i], table, 0, &dbi[i]) == 0);
		RL_REQUIRE(mdb_cursor_open(txn[i], dbi[i], &cur[i]) == 0);
	}
	for (;;) {
		MDB_val ka, va, kb, vb;
		ra = mdb_cursor_get(cur[0], &ka, &va, MDB_NEXT);
		rb = mdb_cursor_get(cur[1], &kb, &vb, MDB_NEXT);
		if (ra != 0 || rb != 0)
			break;
		n++;
		if (ka.mv_size != kb.mv_size || va.mv_size != vb.mv_size ||
		    memcmp(ka.mv_data, kb.mv_data, ka.mv_size) || memcmp(va.mv_data, vb.mv_data, va.mv_size))
			same = 0;
	}
	same = same && ra == rb;
	printf("%s: %d records compared, %s\n", table, n, same ? "the same" : "DIFFERENT");
	for (int i = 0; i < 2; i++) {
		mdb_cursor_close(cur[i]);
		mdb_txn_abort(txn[i]);
		mdb_env_close(env[i]);
	}
	return same;
}

/* terms_once: no term (revision) was led by two hubs, or twice: every `hub leads` line of
 * every log of both hubs names a revision of its own. Returns how many terms were led. */
static int terms_once(void)
{
	long revs[64];
	int n = 0, twice = 0;

	for (int i = 0; i < 2; i++)
		for (int k = 1; k <= hubs[i].starts; k++) {
			char name[32], line[512];
			FILE *f;
			snprintf(name, sizeof(name), "%s-%d.log", hubs[i].name, k);
			if ((f = fopen(rlc_path(&c, name), "r")) == NULL)
				continue;
			while (fgets(line, sizeof(line), f) != NULL) {
				const char *p = strstr(line, "hub leads name=");
				const char *r = p ? strstr(p, "revision=") : NULL;
				if (r == NULL || n == 64)
					continue;
				revs[n] = atol(r + 9);
				for (int j = 0; j < n; j++)
					twice += revs[j] == revs[n];
				n++;
			}
			fclose(f);
		}
	printf("terms led: %d, led twice: %d\n", n, twice);
	RL_CHECK(twice == 0);
	return n;
}

static void send_none(void *arg, uint32_t pipe, const uint8_t *buf, size_t len)
{
	(void)arg, (void)pipe, (void)buf, (void)len;
}

static void auth_none(void *arg, struct rl_auth_job *job)
{
	(void)arg;
	free(job);
}

/* model_check opens the engine on the surviving store, as a hub starting on it would, and runs
 * the property test's model check (rl_engine_check): memory rebuilt from the store agrees with
 * itself and with the store - no agent with two contacts, no contact with two agents. */
static void model_check(const struct hub *h, const char *data)
{
	struct rl_hub_conf hc = {.map_size_mb = 256,
	                         .agent_grace_s = 60,
	                         .offer_timeout_s = 5,
	                         .wrapup_s = 2,
	                         .batch_max = 64,
	                         .site_dead_ms = 2500,
	                         .site_lost_end_s = 10,
	                         .represent_window_s = 300};
	struct rl_engine *e = NULL;
	config_t cfg;
	char err[512], why[512] = "";

	snprintf(hc.id, sizeof(hc.id), "%s", h->name);
	snprintf(hc.data_dir, sizeof(hc.data_dir), "%s", data);
	RL_REQUIRE(rl_cfg_load(&cfg, rlc_path(&c, h->conf), err, sizeof(err)) == RL_OK);
	RL_REQUIRE(rl_engine_open(&e, &hc, &cfg, send_none, NULL, auth_none, NULL, rl_wall_us()) == RL_OK);
	RL_CHECK(rl_engine_check(e, why, sizeof(why)) == 0);
	if (why[0])
		printf("model check: %s\n", why);
	rl_engine_close(e);
	config_destroy(&cfg);
}

/* setup: the queue, twelve home agents, etcd, both hubs' keys and configs. */
static void setup(void)
{
	char pub[2][64], ids[256] = "";

	rlc_init(&c, "hub_pair", 1);
	atexit(cleanup);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; };"
	              " sites = [ ]; sl_pct = 90; sl_seconds = 10; wrapup_s = 1; offer_timeout_s = 3; }");
	for (int i = 0; i < 12; i++) {
		char id[16];
		snprintf(id, sizeof(id), "h%02d", i);
		rlc_agent(&c, id, "telco", "billing = 5;", "");
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%s", i ? "," : "", id);
	}
	etcd3_start(&e3, c.dir);
	for (int i = 0; i < 2; i++) {
		snprintf(hubs[i].url, sizeof(hubs[i].url), "tls+tcp://127.0.0.1:%d", rltest_free_port());
		snprintf(hubs[i].repl, sizeof(hubs[i].repl), "tls+tcp://127.0.0.1:%d", rltest_free_port());
		rlc_keygen(&c, hubs[i].name, pub[i], sizeof(pub[i]));
	}
	hub_conf(&hubs[0], &hubs[1], pub[1]);
	hub_conf(&hubs[1], &hubs[0], pub[0]);
	snprintf(c.hub_url, sizeof(c.hub_url), "%s,%s", hubs[0].url, hubs[1].url);
	hub_start(&hubs[0]);
	RL_WAIT_REQUIRE(20000, leads(&hubs[0]));
	/* A stray client with a cluster certificate (an agent's) takes the leader's replication
	 * link first and says nothing: it is dropped within 1 s. (One that dials again and again
	 * can keep taking the place: docs/security.md.) */
	char ca[700], cert[700], key[700];
	nng_socket intruder;
	snprintf(ca, sizeof(ca), "%s/ca.pem", c.certs);
	snprintf(cert, sizeof(cert), "%s/agent.pem", c.certs);
	snprintf(key, sizeof(key), "%s/agent.key", c.certs);
	struct rl_tls tls = {ca, cert, key, NULL};
	RL_REQUIRE(rl_link_client_open(&intruder) == RL_OK);
	RL_REQUIRE(rl_link_dial(intruder, hubs[0].repl, &tls, NULL) == RL_OK);
	RL_WAIT(5000, rlc_count_in_file(rlc_path(&c, hubs[0].log), "not proven in time") > 0);
	nng_close(intruder);
	hub_start(&hubs[1]);
	RL_WAIT_REQUIRE(20000, synced(&hubs[0], &hubs[1]));
	/* The leader's /metrics say so (rendered once a second). */
	RL_WAIT(5000, rlc_scrape(&c, hubs[0].metrics, TOKEN) && rlc_sample(&c, "relais_hub_ha_standby_synced{}") == 1 &&
	                  rlc_sample(&c, "relais_hub_ha_alone{}") == 0);
	/* ... and so does relaisctl status, given both hubs. */
	cJSON *st = rlc_status(&c), *ha = cJSON_GetObjectItemCaseSensitive(st, "ha");
	const cJSON *leader = cJSON_GetObjectItemCaseSensitive(ha, "leader");
	RL_CHECK(cJSON_IsString(leader) && strcmp(leader->valuestring, hubs[0].name) == 0);
	RL_CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ha, "synced")));
	cJSON_Delete(st);
	rlc_start_agents(&c, c.hub_url, ids, "answer=0.05,talk=0.1,wrap=0.05", "agents.log");
}

int main(void)
{
	struct rll l;
	struct hub *a = &hubs[0], *b = &hubs[1];
	uint64_t t0;

	setup();
	rll_open(&l, &c, NCONTACTS, "pair");

	/* 1. kill -9 the leader (a) mid-stream. */
	stream(&l, 200);
	RL_CHECK(rll_acked(&l) > 0);
	t0 = rl_mono_us();
	rltest_stop(a->pid, SIGKILL, 5000);
	a->pid = 0;
	printf("kill -9 %s: routing resumed on %s after %.0f ms\n", a->name, b->name, resumed_ms(&l, t0));
	RL_CHECK(leads(b));

	/* 2. a comes back as the standby and catches up. */
	hub_start(a);
	RL_WAIT_REQUIRE(30000, synced(b, a));
	stream(&l, 150);

	/* 3. freeze the leader (b) past its lease; resumed, it must stop, having served nothing. */
	t0 = rl_mono_us();
	kill(b->pid, SIGSTOP);
	uint64_t frozen_at = store_seq(b);
	printf("SIGSTOP %s: routing resumed on %s after %.0f ms\n", b->name, a->name, resumed_ms(&l, t0));
	RL_WAIT_REQUIRE(10000, leads(a));
	kill(b->pid, SIGCONT);
	RL_CHECK(exit_status(b->pid, 10000) == HUB_DEPOSED);
	printf("%s frozen at batch %llu, exited at %llu\n", b->name, (unsigned long long)frozen_at,
	       (unsigned long long)store_seq(b));
	RL_CHECK(store_seq(b) == frozen_at); /* resumed past its lease, it wrote nothing */
	b->pid = 0;
	hub_start(b);
	RL_WAIT_REQUIRE(30000, synced(a, b));

	/* 4. the rest, then the ledger. */
	stream(&l, NCONTACTS);
	for (int i = 0; i < 300 && rll_acked(&l) < NCONTACTS; i++)
		rll_pump(&l, 100);
	printf("all submitted: %d acked\n", rll_acked(&l));
	RL_CHECK(rll_acked(&l) == NCONTACTS);
	RL_CHECK(rll_mismatches(&l) == 0);
	RL_CHECK(rll_drain(&l, &c, NCONTACTS));
	rlc_stop_all(&c);
	rltest_stop(b->pid, SIGTERM, 10000); /* the standby first: it must not take over */
	b->pid = 0;
	rltest_stop(a->pid, SIGTERM, 10000);
	a->pid = 0;
	char da[600], db[600];
	snprintf(da, sizeof(da), "%s/%s", c.dir, hubs[0].name);
	snprintf(db, sizeof(db), "%s/%s", c.dir, hubs[1].name);
	rll_verify_store(&l, da);
	RL_CHECK(same_table(da, db, "contacts"));
	model_check(a, da);
	RL_CHECK(terms_once() >= 3); /* a, then b after the kill, then a after the freeze */
	rll_close(&l);
	return rltest_done();
}
