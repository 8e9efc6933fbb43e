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

#include "rl_time.h"
#include "rlcluster.h"
#include "rlledger.h"
#include "rlpair.h"
#include "rltest.h"

#define NCONTACTS   600
#define HUB_DEPOSED 75

static struct rlc c;
static struct rlpair pair;

static void cleanup(void)
{
	rlp_stop(&pair);
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

/* setup: the queue, twelve home agents, etcd, both hubs. */
static void setup(void)
{
	char ids[256] = "";

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
	rlp_init(&pair, &c, 3);
	rlp_start(&pair, &pair.hubs[0]);
	RL_WAIT_REQUIRE(20000, rlp_leads(&pair, &pair.hubs[0]));
	rlp_start(&pair, &pair.hubs[1]);
	RL_WAIT_REQUIRE(20000, rlp_synced(&pair, &pair.hubs[0], &pair.hubs[1]));
	rlc_start_agents(&c, c.hub_url, ids, "answer=0.05,talk=0.1,wrap=0.05", "agents.log");
}

int main(void)
{
	struct rll l;
	struct rlp_hub *a = &pair.hubs[0], *b = &pair.hubs[1];
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
	RL_CHECK(rlp_leads(&pair, b));

	/* 2. a comes back as the standby and catches up. */
	rlp_start(&pair, a);
	RL_WAIT_REQUIRE(30000, rlp_synced(&pair, b, a));
	stream(&l, 150);

	/* 3. freeze the leader (b) past its lease; resumed, it must stop, having served nothing. */
	t0 = rl_mono_us();
	kill(b->pid, SIGSTOP);
	printf("SIGSTOP %s: routing resumed on %s after %.0f ms\n", b->name, a->name, resumed_ms(&l, t0));
	RL_WAIT_REQUIRE(10000, rlp_leads(&pair, a));
	kill(b->pid, SIGCONT);
	RL_CHECK(exit_status(b->pid, 10000) == HUB_DEPOSED);
	b->pid = 0;
	rlp_start(&pair, b);
	RL_WAIT_REQUIRE(30000, rlp_synced(&pair, a, b));

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
	snprintf(da, sizeof(da), "%s/%s", c.dir, a->name);
	snprintf(db, sizeof(db), "%s/%s", c.dir, b->name);
	rll_verify_store(&l, da);
	RL_CHECK(same_table(da, db, "contacts"));
	rll_close(&l);
	return rltest_done();
}
