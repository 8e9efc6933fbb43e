/*
 * test_ha - leader election and self-fencing (hub/ha.c) against a real three-member etcd on
 * loopback, with candidates as processes (ha_candidate) that this test freezes, kills and
 * stops. Each candidate prints its events and what rl_ha_may_serve said, stamped on one
 * clock (rl_ha_clock_us, CLOCK_BOOTTIME): the test checks that no two candidates' terms, nor
 * their serving, ever overlap, and prints how long each failover took.
 *
 *  1. two candidates: exactly one leads, the other names it;
 *  2. the leader frozen (SIGSTOP) past its lease: the other leads a later term; resumed, the
 *     frozen one reports it lost and follows;
 *  3. the leader key deleted by hand (a forced takeover): it fences at its next renewal;
 *  4. the leader stopped (SIGTERM): it resigns and the other leads within a poll;
 *  5. the leader killed (kill -9): the other leads once the lease has expired;
 *  6. etcd's own leader member killed: the hub's leader keeps its term;
 *  7. the last two members killed: the leader fences itself within the TTL.
 */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etcd.h"
#include "etcd3.h"
#include "ha.h"
#include "rltest.h"

#define TTL_S     3
#define KEY       "/relais/test/hub/leader"
#define MAX_SPANS 32
#define OPEN      UINT64_MAX

struct span {
	uint64_t from, to; /* rl_ha_clock_us; to = OPEN while it lasts */
	int64_t rev;
};

struct cand {
	char name[16], log[512];
	pid_t pid;
	uint64_t dead_at; /* killed: its open spans end then */
	/* What its log says, read again by cand_read. */
	struct span term[MAX_SPANS], serve[MAX_SPANS];
	int nterm, nserve, nlost;
	char following[RL_HA_NAME_MAX], lost_reason[64];
	uint64_t lost_at, lost_until;
};

static struct etcd3 m3;
static struct cand *started[3]; /* every candidate, for cleanup */
static int nstarted;
static const char *dir;
#define endpoints m3.endpoints
static struct rl_etcd *probe;

static void start_etcd(void)
{
	etcd3_start(&m3, dir);
	RL_REQUIRE(rl_etcd_create(&probe, endpoints, 500) == 0);
}

static int etcd_answers(void)
{
	struct rl_etcd_kv kv;

	return rl_etcd_get(probe, KEY, 1500, &kv) == 0;
}

/* raft_leader returns the index of the member etcd elected, or -1. */
static int raft_leader(void)
{
	for (int i = 0; i < 3; i++) {
		char url[64];
		struct rl_etcd *one;
		cJSON *req = cJSON_CreateObject(), *resp = NULL;
		const cJSON *leader, *self;
		int is = 0;

		snprintf(url, sizeof(url), "http://127.0.0.1:%d", m3.client[i]);
		if (m3.pid[i] > 0 && rl_etcd_create(&one, url, 1000) == 0) {
			if (rl_etcd_call(one, "/v3/maintenance/status", req, 1000, &resp) == 0) {
				leader = cJSON_GetObjectItemCaseSensitive(resp, "leader");
				self = cJSON_GetObjectItemCaseSensitive(
				    cJSON_GetObjectItemCaseSensitive(resp, "header"), "member_id");
				is = cJSON_IsString(leader) && cJSON_IsString(self) &&
				     strcmp(leader->valuestring, self->valuestring) == 0;
			}
			rl_etcd_destroy(one);
		}
		cJSON_Delete(req);
		cJSON_Delete(resp);
		if (is)
			return i;
	}
	return -1;
}

static void kill_member(int i)
{
	etcd3_kill(&m3, i);
}

static void start_cand(struct cand *c, const char *name)
{
	char addr[64], ttl[8];
	char *argv[] = {(char *)rltest_bin("tests/ha/ha_candidate"), endpoints, KEY, c->name, addr, ttl, NULL};

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->log, sizeof(c->log), "%s/%s.log", dir, name);
	snprintf(addr, sizeof(addr), "tls+tcp://127.0.0.1:%d", rltest_free_port());
	snprintf(ttl, sizeof(ttl), "%d", TTL_S);
	c->pid = rltest_spawn(argv, c->log);
	started[nstarted++] = c;
}

/* cleanup, at exit: a test that failed half-way leaves no etcd member or candidate behind. */
static void cleanup(void)
{
	for (int i = 0; i < nstarted; i++)
		if (started[i]->pid > 0)
			rltest_stop(started[i]->pid, SIGKILL, 5000);
	etcd3_stop(&m3);
}

/* reap_unexpected says so when a candidate the test has not stopped has exited. */
static void reap_unexpected(struct cand *c)
{
	int status;

	if (c->pid <= 0 || waitpid(c->pid, &status, WNOHANG) != c->pid)
		return;
	fprintf(stderr, "candidate %s exited on its own: %s %d (log %s)\n", c->name,
	        WIFSIGNALED(status) ? "signal" : "status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
	        c->log);
	c->pid = 0;
}

static void span_open(struct span *s, int *n, uint64_t from, int64_t rev)
{
	if (*n < MAX_SPANS)
		s[(*n)++] = (struct span){from, OPEN, rev};
}

static void span_close(struct span *s, int n, uint64_t to)
{
	if (n > 0 && s[n - 1].to == OPEN)
		s[n - 1].to = to;
}

static void cand_line(struct cand *c, const char *line)
{
	unsigned long long a, u;
	long long rev;
	char who[RL_HA_NAME_MAX];

	if (sscanf(line, "leader at=%llu lease=%*s rev=%lld until=%llu", &a, &rev, &u) == 3) {
		span_open(c->term, &c->nterm, a, rev);
	} else if (sscanf(line, "lost at=%llu lease=%*s rev=%lld until=%llu reason=%63[^\n]", &a, &rev, &u,
	                  c->lost_reason) == 4) {
		/* A term ends when fenced, or at its deadline if the process was paused past it. */
		span_close(c->term, c->nterm, a < u ? a : u);
		c->nlost++;
		c->lost_at = a;
		c->lost_until = u;
	} else if (sscanf(line, "follower at=%llu leader=%63s", &a, who) == 2) {
		snprintf(c->following, sizeof(c->following), "%s", who);
	} else if (sscanf(line, "serving from=%llu rev=%lld", &a, &rev) == 2) {
		span_open(c->serve, &c->nserve, a, rev);
	} else if (sscanf(line, "stopped last=%llu", &a) == 1) {
		span_close(c->serve, c->nserve, a);
	}
}

/*
 * serve_in_term: a candidate stamps a serving span with its clock read around its check of
 * rl_ha_may_serve, so a candidate the machine preempts there can stamp a moment outside the
 * term the check was true in; it served in that term only (its terms are checked apart on
 * their own), so each serving span is taken within the term of the same revision.
 */
static void serve_in_term(struct cand *c)
{
	for (int i = 0; i < c->nserve; i++) {
		for (int k = 0; k < c->nterm; k++) {
			if (c->term[k].rev != c->serve[i].rev)
				continue;
			if (c->serve[i].from < c->term[k].from)
				c->serve[i].from = c->term[k].from;
			if (c->serve[i].to > c->term[k].to)
				c->serve[i].to = c->term[k].to;
		}
	}
}

/* cand_read parses c's log again from the start; returns c. */
static struct cand *cand_read(struct cand *c)
{
	char line[512];
	FILE *f = fopen(c->log, "r");

	reap_unexpected(c);
	c->nterm = c->nserve = c->nlost = 0;
	c->following[0] = c->lost_reason[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		cand_line(c, line);
	if (f)
		fclose(f);
	if (c->dead_at) {
		span_close(c->term, c->nterm, c->dead_at);
		span_close(c->serve, c->nserve, c->dead_at);
	}
	serve_in_term(c);
	return c;
}

static int leads(struct cand *c)
{
	cand_read(c);
	return c->nterm > 0 && c->term[c->nterm - 1].to == OPEN;
}

/* the_leader returns the one candidate of cs that leads (NULL if none or several). */
static struct cand *the_leader(struct cand **cs, int n)
{
	struct cand *l = NULL;

	for (int i = 0; i < n; i++) {
		if (!leads(cs[i]))
			continue;
		if (l)
			return NULL;
		l = cs[i];
	}
	return l;
}

static int follows(struct cand *c, const struct cand *leader)
{
	return strcmp(cand_read(c)->following, leader->name) == 0;
}

/* A forced takeover (the leader key deleted by hand, step 3) is the one time two terms may
 * overlap: from the deletion until the deposed leader's next renewal sees it. */
static struct span excused = {0, 0, 0};

static int spans_apart(const struct span *a, int na, const struct span *b, int nb)
{
	for (int i = 0; i < na; i++) {
		for (int j = 0; j < nb; j++) {
			uint64_t lo = a[i].from > b[j].from ? a[i].from : b[j].from;
			uint64_t hi = a[i].to < b[j].to ? a[i].to : b[j].to;

			if (lo <= hi && !(excused.from <= lo && hi <= excused.to))
				return 0;
		}
	}
	return 1;
}

/* never_both checks, over everything the candidates logged, that no two terms and no two
 * serving periods of different candidates overlap. */
static void never_both(struct cand **cs, int n)
{
	for (int i = 0; i < n; i++)
		cand_read(cs[i]);
	for (int i = 0; i < n; i++) {
		for (int j = i + 1; j < n; j++) {
			RL_CHECK(spans_apart(cs[i]->term, cs[i]->nterm, cs[j]->term, cs[j]->nterm));
			RL_CHECK(spans_apart(cs[i]->serve, cs[i]->nserve, cs[j]->serve, cs[j]->nserve));
		}
	}
}

static uint64_t last_term_from(const struct cand *c)
{
	return c->term[c->nterm - 1].from;
}

static int64_t last_rev(const struct cand *c)
{
	return c->term[c->nterm - 1].rev;
}

/* The key in etcd names c and its term. */
static int key_names(const struct cand *c)
{
	struct rl_etcd_kv kv;

	return rl_etcd_get(probe, KEY, 2000, &kv) == 0 && kv.present && strstr(kv.value, c->name) &&
	       kv.create_rev == last_rev(c);
}

static double ms_since(uint64_t t0, uint64_t t)
{
	return t > t0 ? (double)(t - t0) / 1000.0 : -(double)(t0 - t) / 1000.0;
}

/* 1: one of two leads; the other names it. Returns the leader. */
static struct cand *elect(struct cand **cs)
{
	struct cand *l = NULL, *f;

	RL_WAIT_REQUIRE(20000, (l = the_leader(cs, 2)) != NULL);
	f = l == cs[0] ? cs[1] : cs[0];
	RL_WAIT(10000, follows(f, l));
	RL_CHECK(key_names(l));
	RL_WAIT(5000, (cand_read(l), l->nserve == 1 && l->serve[0].to == OPEN));
	RL_CHECK(cand_read(f)->nserve == 0);
	return l;
}

/* 2: the leader frozen past its lease; returns the new leader. */
static struct cand *freeze(struct cand **cs, struct cand *l)
{
	struct cand *f = l == cs[0] ? cs[1] : cs[0];
	uint64_t t0 = rl_ha_clock_us();
	int64_t old_rev = last_rev(l);

	RL_REQUIRE(kill(l->pid, SIGSTOP) == 0);
	RL_WAIT_REQUIRE(20000, leads(f));
	printf("failover after SIGSTOP of the leader: %.0f ms (ttl %d s)\n", ms_since(t0, last_term_from(f)), TTL_S);
	RL_CHECK(last_rev(f) > old_rev);
	RL_REQUIRE(kill(l->pid, SIGCONT) == 0);
	RL_WAIT(10000, cand_read(l)->nlost == 1);
	RL_CHECK(strcmp(l->lost_reason, "lease not renewed in time") == 0 ||
	         strcmp(l->lost_reason, "lease expired at etcd") == 0);
	RL_CHECK(l->lost_until < last_term_from(f));
	RL_WAIT(10000, follows(l, f));
	never_both(cs, 2);
	return f;
}

/*
 * 3: the key deleted behind the leader's back (a forced takeover: the lease still runs, so
 * the others see no leader and one of them takes over at once). The deposed leader learns it
 * at its next renewal, within renew_ms (ttl / 3) and a request; until then only the fencing
 * token (the new term's greater revision) tells their writes apart.
 */
static struct cand *delete_key(struct cand **cs, struct cand *l)
{
	struct cand *n = NULL;
	int lost = cand_read(l)->nlost;
	int64_t old_rev = last_rev(l);

	excused.from = rl_ha_clock_us();
	RL_REQUIRE(rl_etcd_delete(probe, KEY, 2000) == 0);
	RL_WAIT(10000, cand_read(l)->nlost == lost + 1);
	excused.to = l->lost_at;
	printf("deposed leader saw the key deleted after %.0f ms\n", ms_since(excused.from, l->lost_at));
	RL_CHECK(strcmp(l->lost_reason, "leader key lost") == 0);
	RL_CHECK(ms_since(excused.from, l->lost_at) < TTL_S * 1000 / 3 + TTL_S * 1000 / 6 + 500);
	RL_WAIT_REQUIRE(10000, (n = the_leader(cs, 2)) != NULL);
	RL_CHECK(last_rev(n) > old_rev);
	never_both(cs, 2);
	return n;
}

/* 4: the leader stops (SIGTERM) and resigns; returns the new leader. */
static struct cand *resign(struct cand **cs, struct cand *l)
{
	struct cand *f = l == cs[0] ? cs[1] : cs[0];
	uint64_t t0 = rl_ha_clock_us();

	RL_CHECK(rltest_stop(l->pid, SIGTERM, 10000) == 0);
	l->pid = 0;
	RL_CHECK(strcmp(cand_read(l)->lost_reason, "resigned") == 0);
	RL_WAIT_REQUIRE(10000, leads(f));
	printf("failover after the leader resigned: %.0f ms\n", ms_since(t0, last_term_from(f)));
	never_both(cs, 2);
	return f;
}

/* 5: the leader killed; returns the new leader (cs[1] replaced by a fresh candidate). */
static struct cand *kill_leader(struct cand **cs, struct cand *l)
{
	struct cand *f = l == cs[0] ? cs[1] : cs[0];
	uint64_t t0;
	double ms;

	RL_WAIT_REQUIRE(10000, follows(f, l));
	t0 = rl_ha_clock_us();
	rltest_stop(l->pid, SIGKILL, 5000);
	l->pid = 0;
	l->dead_at = t0;
	RL_WAIT_REQUIRE(20000, leads(f));
	ms = ms_since(t0, last_term_from(f));
	printf("failover after kill -9 of the leader: %.0f ms (ttl %d s)\n", ms, TTL_S);
	/* The lease's TTL, etcd's expiry sweep (500 ms) and a follower's poll (500 ms). */
	RL_CHECK(ms < TTL_S * 1000 + 1500);
	never_both(cs, 2);
	return f;
}

/* 6 and 7: etcd loses its leader member, then the other two. */
static void lose_etcd(struct cand **cs, struct cand *l)
{
	int r, lost = cand_read(l)->nlost;
	uint64_t t0;

	RL_WAIT_REQUIRE(10000, (r = raft_leader()) >= 0);
	kill_member(r);
	/* A quiet period the check relies on: two TTLs in which the leader must keep its term. */
	rltest_sleep_ms(2 * TTL_S * 1000);
	RL_CHECK(leads(l) && cand_read(l)->nlost == lost);
	RL_CHECK(l->nserve > 0 && l->serve[l->nserve - 1].to == OPEN);
	RL_CHECK(etcd_answers());
	t0 = rl_ha_clock_us();
	for (int i = 0; i < 3; i++)
		if (m3.pid[i] > 0)
			kill_member(i);
	RL_WAIT(TTL_S * 1000 + 5000, cand_read(l)->nlost == lost + 1);
	printf("leader fenced %.0f ms after etcd was lost (ttl %d s), %.0f ms before its lease could end\n",
	       ms_since(t0, l->lost_at), TTL_S, ms_since(l->lost_at, l->lost_until) + TTL_S * 1000 / 6.0);
	RL_CHECK(strcmp(l->lost_reason, "lease not renewed in time") == 0);
	RL_CHECK(ms_since(t0, l->lost_at) <= TTL_S * 1000);
	/* Fenced by its deadline: the callback ran before the lease could expire. */
	RL_CHECK(l->lost_at <= l->lost_until + (uint64_t)TTL_S * 1000000u / 6u);
	RL_WAIT(5000, (cand_read(l), l->serve[l->nserve - 1].to != OPEN));
	RL_CHECK(the_leader(cs, 2) == NULL && !leads(cs[0]) && !leads(cs[1]));
	never_both(cs, 2);
}

int main(void)
{
	static struct cand a, b, c; /* static: cleanup() reads them after main has returned */
	struct cand *cs[2] = {&a, &b}, *l;

	dir = rltest_tmpdir("ha");
	atexit(cleanup);
	start_etcd();
	RL_WAIT_REQUIRE(30000, etcd_answers());
	start_cand(&a, "hub-a");
	start_cand(&b, "hub-b");
	l = elect(cs);
	l = freeze(cs, l);
	l = delete_key(cs, l);
	l = resign(cs, l);
	/* The one that resigned is gone: a third candidate takes its place. */
	start_cand(&c, "hub-c");
	if (l == &a)
		cs[1] = &c;
	else
		cs[0] = &c;
	l = kill_leader(cs, l);
	lose_etcd(cs, l);
	never_both((struct cand *[]){&a, &b, &c}, 3);
	for (int i = 0; i < 2; i++) {
		if (cs[i]->pid > 0)
			RL_CHECK(rltest_stop(cs[i]->pid, SIGTERM, 10000) == 0);
		cs[i]->pid = 0;
	}
	rl_etcd_destroy(probe);
	return rltest_done();
}
