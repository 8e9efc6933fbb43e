/*
 * hubpair.c - two real hubs on etcd for tests (hubpair.h).
 */
#include "hubpair.h"

#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "rl_config.h"
#include "rl_err.h"
#include "rl_time.h"
#include "rltest.h"

void hp_init(struct hp *p, const char *name, int nagents)
{
	memset(p, 0, sizeof(*p));
	p->hub[0].name = "hub-a";
	p->hub[1].name = "hub-b";
	rlc_init(&p->c, name, 1);
	rlc_queue(&p->c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; };"
	                 " sites = [ ]; sl_pct = 90; sl_seconds = 10; wrapup_s = 1; offer_timeout_s = 3; }");
	for (int i = 0; i < nagents; i++) {
		char id[16];
		snprintf(id, sizeof(id), "h%02d", i);
		rlc_agent(&p->c, id, "telco", "billing = 5;", "");
		snprintf(p->agents + strlen(p->agents), sizeof(p->agents) - strlen(p->agents), "%s%s", i ? "," : "",
		         id);
	}
	for (int i = 0; i < 2; i++)
		rlc_keygen(&p->c, p->hub[i].name, p->hub[i].pub, sizeof(p->hub[i].pub));
}

/* hp_conf writes hub h's config: the cluster's, plus its `ha` group. */
static void hp_conf(struct hp *p, struct hp_hub *h, const struct hp_hub *peer)
{
	struct rlc *c = &p->c;

	snprintf(c->top_extra, sizeof(c->top_extra),
	         "ha = { etcd = \"%s\"; key = \"/relais/test\"; name = \"%s\"; advertise = \"%s\";\n"
	         "  repl_listen = \"%s\"; key_file = \"%s/keys/%s.key\"; ttl_s = %d; sync = \"prefer\";\n"
	         "  peers = ( { name = \"%s\"; key = \"%s\"; } ); };\n",
	         p->e3.endpoints, h->name, h->url, h->repl, c->dir, h->name, p->ttl_s ? p->ttl_s : 3, peer->name,
	         peer->pub);
	snprintf(h->conf, sizeof(h->conf), "%s.conf", h->name);
	if (h->metrics > 0) /* HP_TOKEN's SHA-256 */
		snprintf(c->hub_extra, sizeof(c->hub_extra),
		         "  metrics_listen = \"http://127.0.0.1:%d\";\n  metrics_token_sha256 = "
		         "\"0a5b1abadc500fc6915c9308d01151d3dc77f28a2cc7af84cda4ba514e7b67d1\";\n",
		         h->metrics);
	rlc_write_hub_conf_as(c, h->conf, h->name, h->name, h->url);
	c->top_extra[0] = c->hub_extra[0] = 0;
}

void hp_configure(struct hp *p)
{
	hp_conf(p, &p->hub[0], &p->hub[1]);
	hp_conf(p, &p->hub[1], &p->hub[0]);
	snprintf(p->c.hub_url, sizeof(p->c.hub_url), "%s,%s", p->hub[0].url, p->hub[1].url);
}

void hp_start(struct hp *p, struct hp_hub *h)
{
	char *argv[] = {(char *)rltest_bin("hub/relais-hub"), "-c", (char *)rlc_path(&p->c, h->conf), NULL};

	snprintf(h->log, sizeof(h->log), "%s-%d.log", h->name, ++h->starts);
	h->pid = rltest_spawn(argv, rlc_path(&p->c, h->log));
}

int hp_count(struct hp *p, const struct hp_hub *h, const char *needle)
{
	int n = h->starts > 0 ? rlc_count_in_file(rlc_path(&p->c, h->log), needle) : 0;

	return n > 0 ? n : 0;
}

int hp_leads(struct hp *p, const struct hp_hub *h)
{
	return h->pid > 0 && hp_count(p, h, "hub leads") > 0;
}

int hp_synced(struct hp *p, const struct hp_hub *h, const struct hp_hub *standby)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "ha sync standby=%s", standby->name);
	return hp_leads(p, h) && hp_count(p, h, needle) > 0;
}

void hp_stream(struct rll *l, int n)
{
	for (int k = 0; k < n; k++) {
		rll_submit(l);
		rll_pump(l, 10);
	}
}

double hp_resumed_ms(struct rll *l, uint64_t t0)
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

/* hp_reaped notes h's end with wait status st; returns its exit code. */
static int hp_reaped(struct hp *p, struct hp_hub *h, int st)
{
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);

	h->pid = 0;
	if (hp_count(p, h, "hub stops leading") > 0) {
		if (code != HP_DEPOSED)
			printf("%s logged `hub stops leading` and exited %d (%s)\n", h->name, code, h->log);
		RL_CHECK(code == HP_DEPOSED);
	}
	return code;
}

int hp_exited(struct hp *p, struct hp_hub *h, int ms)
{
	int st;

	for (int i = 0; h->pid > 0 && i <= ms / 10; i++) {
		if (waitpid(h->pid, &st, WNOHANG) == h->pid)
			return hp_reaped(p, h, st);
		rltest_sleep_ms(10);
	}
	return -1;
}

int hp_kill(struct hp *p, struct hp_hub *h, int sig)
{
	int st;

	if (h->pid <= 0)
		return -1;
	st = rltest_stop(h->pid, sig, 10000);
	return st < 0 ? (h->pid = 0, -1) : hp_reaped(p, h, st);
}

int hp_same_table(const char *a, const char *b, const char *table)
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

/* hp_terms_in adds the revisions of the `hub leads` lines of path to revs (n of cap); the
 * number of them already there. */
static int hp_terms_in(const char *path, long long *revs, int *n, int cap)
{
	FILE *f = fopen(path, "r");
	char line[2048], *r;
	int twice = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "hub leads") == NULL || (r = strstr(line, " revision=")) == NULL)
			continue;
		long long rev = atoll(r + 10);
		for (int i = 0; i < *n; i++)
			if (revs[i] == rev) {
				printf("revision %lld led twice (again in %s)\n", rev, path);
				twice++;
			}
		if (*n < cap)
			revs[(*n)++] = rev;
	}
	fclose(f);
	return twice;
}

void hp_check_terms(struct hp *p)
{
	long long revs[256];
	int n = 0, twice = 0;

	for (int i = 0; i < 2; i++)
		for (int run = 1; run <= p->hub[i].starts; run++) {
			char log[64];
			snprintf(log, sizeof(log), "%s-%d.log", p->hub[i].name, run);
			twice += hp_terms_in(rlc_path(&p->c, log), revs, &n, 256);
		}
	printf("terms: %d led, %d twice\n", n, twice);
	RL_CHECK(n > 0);
	RL_CHECK(twice == 0);
}

uint64_t hp_store_seq(struct hp *p, const struct hp_hub *h)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {4, "repl"}, v;
	char dir[600];
	uint64_t seq = 0;

	snprintf(dir, sizeof(dir), "%s/%s", p->c.dir, h->name);
	RL_REQUIRE(mdb_env_create(&env) == 0);
	mdb_env_set_maxdbs(env, 32);
	RL_REQUIRE(mdb_env_open(env, dir, MDB_RDONLY, 0600) == 0);
	RL_REQUIRE(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
	if (mdb_dbi_open(txn, "meta", 0, &dbi) == 0 && mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size >= 8)
		for (int i = 0; i < 8; i++) /* big-endian seq first */
			seq = seq << 8 | ((const uint8_t *)v.mv_data)[i];
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return seq;
}

static void hp_send_none(void *arg, uint32_t pipe, const uint8_t *buf, size_t len)
{
	(void)arg, (void)pipe, (void)buf, (void)len;
}

static void hp_auth_none(void *arg, struct rl_auth_job *job)
{
	(void)arg;
	free(job);
}

void hp_model_check(struct hp *p, const struct hp_hub *h)
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
	snprintf(hc.data_dir, sizeof(hc.data_dir), "%s/%s", p->c.dir, h->name);
	RL_REQUIRE(rl_cfg_load(&cfg, rlc_path(&p->c, h->conf), err, sizeof(err)) == RL_OK);
	RL_REQUIRE(rl_engine_open(&e, &hc, &cfg, hp_send_none, NULL, hp_auth_none, NULL, rl_wall_us()) == RL_OK);
	RL_CHECK(rl_engine_check(e, why, sizeof(why)) == 0);
	if (why[0])
		printf("model check: %s\n", why);
	rl_engine_close(e);
	config_destroy(&cfg);
}

void hp_check_stores(struct hp *p, struct rll *l, struct hp_hub *leader, struct hp_hub *standby)
{
	char dl[600], ds[600];
	uint64_t seq = 0;
	int still = 0;

	/* Quiet first: the standby holds the leader's last batch, and no batch came for 300 ms
	 * (late reports - a call's quality after its hang-up - still write to contacts). */
	for (int i = 0; i < 200 && still < 6; i++) {
		uint64_t ls = hp_store_seq(p, leader);
		still = ls == seq && ls == hp_store_seq(p, standby) ? still + 1 : 0;
		seq = ls;
		rltest_sleep_ms(50);
	}
	printf("stores at rest at batch %llu: %s\n", (unsigned long long)seq, still >= 6 ? "yes" : "NO");
	hp_kill(p, standby, SIGTERM); /* the standby first: it must not take over */
	hp_kill(p, leader, SIGTERM);
	snprintf(dl, sizeof(dl), "%s/%s", p->c.dir, leader->name);
	snprintf(ds, sizeof(ds), "%s/%s", p->c.dir, standby->name);
	rll_verify_store(l, dl);
	RL_CHECK(hp_same_table(dl, ds, "contacts"));
}

void hp_stop(struct hp *p)
{
	rlc_stop_all(&p->c); /* the agents and tools a failed check left running */
	for (int i = 0; i < 2; i++)
		if (p->hub[i].pid > 0)
			rltest_stop(p->hub[i].pid, SIGKILL, 5000);
	etcd3_stop(&p->e3);
}
