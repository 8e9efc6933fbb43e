/*
 * relais-bench-report: a day of a busy contact centre in a hub's event log, and the floor of
 * reading it back.
 *
 *   relais-bench-report gen --dir DIR --day-us T --contacts N --agents A
 *       writes the day [T, T + 24 h) into DIR's store through the hub's own store code
 *       (hub/store.c: rl_store_event in write transactions of 10,000 events, fsynced), as
 *       the hub logs it: per answered contact enqueued, offered, accepted, ended and wrap-up
 *       done, and the agent's four state changes (ringing, busy, wrap-up, ready) with the
 *       state each left; 5 % of callers abandon after 5 to 120 s. Agents a000000.. log in at
 *       the day's start, take calls back to back round the clock with a 30 min break, and
 *       log out at its end. Agent i serves tenant i % 3 (every tenth one, telco and bank).
 *   relais-bench-report scan --dir DIR
 *       the floor: one read transaction and a bare LMDB cursor over the events (every value's
 *       bytes touched), then the same with each event unpacked (protobuf-c).
 * Prints RESULT lines (key=value) for bench/report.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relais.pb-c.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_time.h"
#include "store.h"

#define S 1000000ULL

static const char *const queues[] = {"telco.billing", "bank.cards", "ecom.orders"};
static const char *const tenants[] = {"telco", "bank", "ecom"};

/* One event to write, in a compact form (sorted by time before writing). */
struct gev {
	uint64_t ts;
	uint32_t contact, agent;
	uint32_t ms;
	uint8_t type, state, prev, q;
};

struct gen {
	struct gev *v;
	size_t n, cap;
	uint32_t next_contact;
	uint64_t rnd;
};

static uint32_t rnd(struct gen *g, uint32_t n)
{
	g->rnd = g->rnd * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)((g->rnd >> 33) % n);
}

static void add(struct gen *g, struct gev e)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 1 << 20;
		g->v = rl_realloc(g->v, g->cap * sizeof(*g->v));
	}
	g->v[g->n++] = e;
}

static void agent_state(struct gen *g, uint32_t a, uint64_t ts, int st, int prev, uint64_t since)
{
	add(g, (struct gev){ts, 0, a, (uint32_t)((ts - since) / 1000u), RELAIS__EVENT_TYPE__EV_AGENT_STATE, (uint8_t)st,
	                    (uint8_t)prev, 0});
}

/* one_call: agent a, ready since t, takes a call offered at t + idle; returns when it is
 * ready again. */
static uint64_t one_call(struct gen *g, uint32_t a, uint64_t t, uint64_t idle)
{
	uint32_t c = ++g->next_contact, wait = rnd(g, 20) * 1000u, talk = (60 + rnd(g, 240)) * 1000u;
	uint64_t off = t + idle, acc = off + 2 * S, end = acc + (uint64_t)talk * 1000u, ready = end + 20 * S;
	uint8_t q = (uint8_t)(a % 10 == 9 ? rnd(g, 2) : a % 3);

	add(g, (struct gev){off - (uint64_t)wait * 1000u, c, 0, 0, RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED, 0, 0, q});
	add(g, (struct gev){off, c, a, 0, RELAIS__EVENT_TYPE__EV_CONTACT_OFFERED, 0, 0, q});
	agent_state(g, a, off, RELAIS__AGENT_STATE__AGENT_RESERVED, RELAIS__AGENT_STATE__AGENT_READY, t);
	add(g, (struct gev){acc, c, a, wait + 2000, RELAIS__EVENT_TYPE__EV_CONTACT_ACCEPTED, 0, 0, q});
	agent_state(g, a, acc, RELAIS__AGENT_STATE__AGENT_BUSY, RELAIS__AGENT_STATE__AGENT_RESERVED, off);
	add(g, (struct gev){end, c, a, talk, RELAIS__EVENT_TYPE__EV_CONTACT_ENDED, 0, 0, q});
	agent_state(g, a, end, RELAIS__AGENT_STATE__AGENT_WRAPUP, RELAIS__AGENT_STATE__AGENT_BUSY, acc);
	add(g, (struct gev){ready, c, a, 20000, RELAIS__EVENT_TYPE__EV_WRAPUP_DONE, 0, 0, q});
	agent_state(g, a, ready, RELAIS__AGENT_STATE__AGENT_READY, RELAIS__AGENT_STATE__AGENT_WRAPUP, end);
	return ready;
}

/* one_agent: agent a's day from day_us, calls offered every cycle_s on average. */
static void one_agent(struct gen *g, uint32_t a, uint64_t day_us, uint64_t cycle_us, uint32_t calls)
{
	uint64_t t = day_us + rnd(g, 60) * S, end = day_us + 86400 * S - 120 * S, brk = day_us + 43200 * S;

	agent_state(g, a, t, RELAIS__AGENT_STATE__AGENT_NOT_READY, RELAIS__AGENT_STATE__AGENT_LOGGED_OUT, t);
	agent_state(g, a, t + 30 * S, RELAIS__AGENT_STATE__AGENT_READY, RELAIS__AGENT_STATE__AGENT_NOT_READY, t);
	t += 30 * S;
	for (uint32_t i = 0; i < calls && t < end - 600 * S; i++) {
		uint64_t idle = cycle_us / 2 + rnd(g, (uint32_t)(cycle_us / 1000u)) * 1000u;
		if (t > brk && brk != 0) { /* the break: 30 min not ready */
			agent_state(g, a, t, RELAIS__AGENT_STATE__AGENT_NOT_READY, RELAIS__AGENT_STATE__AGENT_READY, t);
			agent_state(g, a, t + 1800 * S, RELAIS__AGENT_STATE__AGENT_READY,
			            RELAIS__AGENT_STATE__AGENT_NOT_READY, t);
			t += 1800 * S;
			brk = 0;
		}
		t = one_call(g, a, t, idle);
	}
	agent_state(g, a, end, RELAIS__AGENT_STATE__AGENT_LOGGED_OUT, RELAIS__AGENT_STATE__AGENT_READY, t);
}

static int gev_cmp(const void *a, const void *b)
{
	const struct gev *x = a, *y = b;

	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* write_all appends the sorted events to the store in transactions of 10,000. */
static int write_all(struct rl_store *s, const struct gen *g)
{
	char cid[32], aid[32];
	int rv = RL_OK;

	for (size_t i = 0; i < g->n && rv == RL_OK; i++) {
		const struct gev *x = &g->v[i];
		Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;
		if (i % 10000 == 0 && (rv = rl_store_begin(s)) != RL_OK)
			break;
		ev.ts_us = x->ts;
		ev.type = x->type;
		ev.wait_ms = x->ms;
		if (x->type != RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED &&
		    x->type != RELAIS__EVENT_TYPE__EV_CONTACT_ABANDONED) { /* an agent's event */
			snprintf(aid, sizeof(aid), "a%06u", x->agent);
			ev.agent_id = aid;
			ev.site_id = (char *)(x->agent % 2 ? "casablanca" : "dakar");
		}
		if (x->type == RELAIS__EVENT_TYPE__EV_AGENT_STATE) {
			ev.agent_state = x->state;
			ev.prev_state = x->prev;
			ev.detail = (char *)(x->state == RELAIS__AGENT_STATE__AGENT_NOT_READY ? "break" : "");
			ev.prev_reason = (char *)(x->prev == RELAIS__AGENT_STATE__AGENT_NOT_READY ? "break" : "");
		} else {
			snprintf(cid, sizeof(cid), "c%u", x->contact);
			ev.contact_id = cid;
			ev.queue_id = (char *)queues[x->q];
			ev.tenant_id = (char *)tenants[x->q];
			ev.site_id = (char *)(x->contact % 2 ? "casablanca" : "fes");
		}
		rl_store_event(s, &ev);
		if (i % 10000 == 9999 || i + 1 == g->n)
			rv = rl_store_commit(s);
	}
	return rv;
}

static int cmd_gen(const char *dir, uint64_t day_us, uint32_t contacts, uint32_t agents)
{
	struct gen g = {.rnd = 42};
	struct rl_store *s;
	uint32_t answered = contacts - contacts / 20, per_agent = (answered + agents - 1) / agents;
	uint64_t cycle_us = (86400 - 3600) * S / per_agent - 200 * S, t0 = rl_mono_us();
	int rv;

	if (cycle_us < 2 * S || cycle_us > 86400 * S)
		cycle_us = 2 * S; /* more calls than a day holds: back to back */
	for (uint32_t a = 0; a < agents; a++)
		one_agent(&g, a, day_us, cycle_us, per_agent);
	while (g.next_contact < contacts) { /* the callers who give up */
		uint32_t c = ++g.next_contact, wait = (5 + rnd(&g, 116)) * 1000u;
		uint64_t t = day_us + (uint64_t)rnd(&g, 86000) * S;
		uint8_t q = (uint8_t)rnd(&g, 3);
		add(&g, (struct gev){t, c, 0, 0, RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED, 0, 0, q});
		add(&g, (struct gev){t + (uint64_t)wait * 1000u, c, 0, wait, RELAIS__EVENT_TYPE__EV_CONTACT_ABANDONED,
		                     0, 0, q});
	}
	qsort(g.v, g.n, sizeof(*g.v), gev_cmp);
	if ((rv = rl_store_open(&s, dir, 16384)) != RL_OK)
		return 1;
	rv = write_all(s, &g);
	rl_store_close(s);
	printf("RESULT contacts=%u events=%zu agents=%u write_s=%.1f\n", g.next_contact, g.n, agents,
	       (double)(rl_mono_us() - t0) / 1e6);
	free(g.v);
	return rv == RL_OK ? 0 : 1;
}

/* scan: one pass over the events; unpack: also protobuf-c each one. Returns the seconds. */
static double scan(MDB_env *env, int unpack, size_t *n)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t t0 = rl_mono_us(), sum = 0;

	*n = 0;
	if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0 || mdb_dbi_open(txn, "events", 0, &dbi) != 0 ||
	    mdb_cursor_open(txn, dbi, &cur) != 0)
		return -1;
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		const uint8_t *p = v.mv_data;
		for (size_t i = 0; i < v.mv_size; i++)
			sum += p[i];
		if (unpack) {
			Relais__EventRecord *ev = relais__event_record__unpack(NULL, v.mv_size, v.mv_data);
			sum += ev ? ev->ts_us : 0;
			relais__event_record__free_unpacked(ev, NULL);
		}
		(*n)++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (sum == 1)
		printf("(never)\n"); /* keeps the sum, and the reads, from being optimised away */
	return (double)(rl_mono_us() - t0) / 1e6;
}

static int cmd_scan(const char *dir)
{
	MDB_env *env;
	size_t n, m;
	double bare, unpacked;

	if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 16) != 0 ||
	    mdb_env_set_mapsize(env, 16384ULL << 20) != 0 || mdb_env_open(env, dir, MDB_RDONLY, 0600) != 0)
		return 1;
	scan(env, 0, &n); /* warm the page cache, as a hub that has just written its day */
	bare = scan(env, 0, &n);
	unpacked = scan(env, 1, &m);
	mdb_env_close(env);
	printf("RESULT events=%zu scan_s=%.3f unpack_scan_s=%.3f\n", n, bare, unpacked);
	return bare < 0 || unpacked < 0;
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	uint64_t day_us = 0;
	uint32_t contacts = 500000, agents = 2000;

	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--dir") == 0)
			dir = argv[i + 1];
		else if (strcmp(argv[i], "--day-us") == 0)
			day_us = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--contacts") == 0)
			contacts = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--agents") == 0)
			agents = (uint32_t)strtoul(argv[i + 1], NULL, 10);
	}
	if (argc < 2 || dir == NULL || agents == 0) {
		fprintf(stderr, "usage: relais-bench-report gen|scan --dir DIR [--day-us T --contacts N --agents A]\n");
		return 2;
	}
	if (strcmp(argv[1], "gen") == 0)
		return cmd_gen(dir, day_us, contacts, agents);
	return strcmp(argv[1], "scan") == 0 ? cmd_scan(dir) : 2;
}
