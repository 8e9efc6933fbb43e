/*
 * relais-bench-floor: the store's floor under the hub's routing - LMDB alone, doing per
 * contact lifecycle what the hub's store does (hub/store.c), at a given number of contacts
 * per write transaction, with the hub's environment flags (no MDB_NOSYNC, no MDB_NOMETASYNC:
 * every commit is on disk when it returns).
 *
 * A lifecycle is four batches at the hub (submit+enqueue+offer, answer, hangup, wrap-up
 * done: each step waits for the answer to the one before, which leaves only after a commit).
 * Per contact, what the hub's store does (counted on hub/store.c's calls in a bench/route run):
 *   batch 1  get extids (miss); get+put meta "next_contact"; put extids; put contacts and
 *            live; put the agent's record; events
 *   batch 2  put contacts and live; put agent; events
 *   batch 3  put contacts (ended), del live; put agent; events
 *   batch 4  get contacts; put contacts; del live (gone already); put agent; events
 * 4 contact puts, 4 agent puts, 2 live puts and 2 dels, 1 extid, 1 meta, 3 gets and about 9
 * events (MDB_APPEND on a big-endian sequence). The floor runs them as a pipeline: write
 * transaction t holds batch 1 of its own contacts, batch 2 of the previous transaction's and
 * so on, as the hub's group commit does in a steady flow. Values are bytes of the hub's
 * records' sizes (protobuf packing is the hub's work, not the store's floor).
 *
 * Prints contacts/s, write transactions and CPU (user+sys of this process) per contact.
 *   relais-bench-floor --dir DIR [--per-commit B] [--seconds S] [--warmup S] [--agents N]
 *                      [--like HUBDATA] [--map-mb M] [--rate R]
 * --rate R paces it as a hub at R contacts/s is paced: a write transaction every B/R seconds,
 * sleeping between them (without it, transactions follow each other at once, caches hot).
 * --like reads a hub's store (its data_dir, after a bench/route run) for the records' sizes
 * and the events per contact; without it the sizes below (a bench/route run's) are used.
 */
#include <errno.h>
#include <lmdb.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "rl_alloc.h"
#include "rl_time.h"

#define NSTAGES   4
#define MAXEVENTS 32

/* What one lifecycle writes: sizes in bytes. */
struct shape {
	size_t agent_rec;   /* AgentRecord */
	size_t contact_rec; /* ContactRecord as it ends (earlier batches' are smaller) */
	size_t extid_key;   /* submitter "/" ext_id */
	double events;      /* events per contact */
	size_t event_rec;   /* EventRecord, mean */
};

struct floor {
	MDB_env *env;
	MDB_dbi agents, contacts, live, extids, events, meta;
	MDB_txn *txn;
	struct shape sh;
	int nagents;
	uint64_t next_event;
	uint8_t *blob; /* value bytes: a slice of it per put */
	size_t nblob;
	int failed;
};

static void check(struct floor *f, int rc, const char *what)
{
	if (rc != 0 && rc != MDB_NOTFOUND) {
		fprintf(stderr, "relais-bench-floor: %s: %s\n", what, mdb_strerror(rc));
		f->failed = 1;
	}
}

static void put(struct floor *f, MDB_dbi dbi, const void *key, size_t klen, size_t vlen, unsigned flags)
{
	MDB_val k = {klen, (void *)key}, v = {vlen, f->blob + (klen * 31 + vlen) % (f->nblob - vlen)};

	check(f, mdb_put(f->txn, dbi, &k, &v, flags), "put");
}

static void get(struct floor *f, MDB_dbi dbi, const void *key, size_t klen)
{
	MDB_val k = {klen, (void *)key}, v;

	check(f, mdb_get(f->txn, dbi, &k, &v), "get");
}

static void del(struct floor *f, MDB_dbi dbi, const void *key, size_t klen)
{
	MDB_val k = {klen, (void *)key};

	check(f, mdb_del(f->txn, dbi, &k, NULL), "del");
}

static void be64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

/* event appends the next event of the log, of about the mean size (they vary at the hub). */
static void event(struct floor *f)
{
	uint8_t key[8];
	size_t n = f->sh.event_rec * (6 + f->next_event % 5) / 8;

	be64(key, f->next_event++);
	put(f, f->events, key, sizeof(key), n, MDB_APPEND);
}

/* stage writes batch s of contact k's lifecycle. */
static void stage(struct floor *f, int s, uint64_t k)
{
	char cid[24], aid[24], ext[96];
	size_t clen, alen;
	/* Contact k's share of events in batch s: the whole spread over the four batches. */
	uint64_t ev0 = (uint64_t)llround(f->sh.events * (double)(k * NSTAGES + (uint64_t)s) / NSTAGES);
	uint64_t ev1 = (uint64_t)llround(f->sh.events * (double)(k * NSTAGES + (uint64_t)s + 1) / NSTAGES);

	clen = (size_t)snprintf(cid, sizeof(cid), "c%010llu", (unsigned long long)k + 1);
	alen = (size_t)snprintf(aid, sizeof(aid), "b%06llu", (unsigned long long)(k % (uint64_t)f->nagents));
	if (s == 0) {
		uint8_t id[8];
		int n = snprintf(ext, sizeof(ext), "casablanca/b0-1-%llu", (unsigned long long)k);
		size_t elen = (size_t)n < f->sh.extid_key ? f->sh.extid_key : (size_t)n;
		memset(ext + n, 'x', sizeof(ext) - (size_t)n);
		if (elen > sizeof(ext))
			elen = sizeof(ext);
		get(f, f->extids, ext, elen);
		get(f, f->meta, "next_contact", 12);
		be64(id, k + 2);
		put(f, f->meta, "next_contact", 12, sizeof(id), 0);
		put(f, f->extids, ext, elen, clen, 0);
	}
	if (s == 3)
		get(f, f->contacts, cid, clen);
	/* The record grows as it goes: queued, connected, ended, with its disposition. */
	put(f, f->contacts, cid, clen, f->sh.contact_rec - (size_t)(NSTAGES - 1 - s) * f->sh.contact_rec / 16, 0);
	if (s < 2)
		put(f, f->live, cid, clen, 0, 0);
	else
		del(f, f->live, cid, clen);
	put(f, f->agents, aid, alen, f->sh.agent_rec, 0);
	for (uint64_t i = ev0; i < ev1; i++)
		event(f);
}

static int begin(struct floor *f)
{
	int rc = mdb_txn_begin(f->env, NULL, 0, &f->txn);

	check(f, rc, "begin");
	return rc;
}

static int commit(struct floor *f)
{
	int rc = mdb_txn_commit(f->txn);

	f->txn = NULL;
	check(f, rc, "commit");
	return rc || f->failed;
}

static int open_env(struct floor *f, const char *dir, size_t map_mb)
{
	int rc;

	mkdir(dir, 0700);
	if ((rc = mdb_env_create(&f->env)) != 0)
		return rc;
	mdb_env_set_maxdbs(f->env, 16);
	mdb_env_set_mapsize(f->env, map_mb * 1024 * 1024);
	/* The hub's flags: 0, a commit fsyncs the data pages, then the meta page. */
	if ((rc = mdb_env_open(f->env, dir, 0, 0600)) != 0 || (rc = begin(f)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(f->txn, "agents", MDB_CREATE, &f->agents)) != 0 ||
	    (rc = mdb_dbi_open(f->txn, "contacts", MDB_CREATE, &f->contacts)) != 0 ||
	    (rc = mdb_dbi_open(f->txn, "live", MDB_CREATE, &f->live)) != 0 ||
	    (rc = mdb_dbi_open(f->txn, "extids", MDB_CREATE, &f->extids)) != 0 ||
	    (rc = mdb_dbi_open(f->txn, "events", MDB_CREATE, &f->events)) != 0 ||
	    (rc = mdb_dbi_open(f->txn, "meta", MDB_CREATE, &f->meta)) != 0)
		return rc;
	/* The agents are provisioned before any contact, as at the hub. */
	for (int i = 0; i < f->nagents; i++) {
		char aid[24];
		size_t alen = (size_t)snprintf(aid, sizeof(aid), "b%06d", i);
		put(f, f->agents, aid, alen, f->sh.agent_rec, 0);
	}
	return commit(f);
}

/* ---------------------------------------------------------------------------------------- */
/* --like: the sizes of a hub's store */

struct dbsum {
	size_t n;
	double key, val;
};

static int sum_db(MDB_txn *txn, const char *name, struct dbsum *d)
{
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	memset(d, 0, sizeof(*d));
	if ((rc = mdb_dbi_open(txn, name, 0, &dbi)) != 0 || (rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return rc;
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		d->n++;
		d->key += (double)k.mv_size;
		d->val += (double)v.mv_size;
	}
	mdb_cursor_close(cur);
	if (d->n > 0) {
		d->key /= (double)d->n;
		d->val /= (double)d->n;
	}
	return 0;
}

/* like reads the hub's store at dir (read-only, while or after the hub runs) into sh. */
static int like(const char *dir, struct shape *sh)
{
	MDB_env *env;
	MDB_txn *txn;
	struct dbsum ag, co, ex, ev;
	int rc;

	if ((rc = mdb_env_create(&env)) != 0)
		return rc;
	mdb_env_set_maxdbs(env, 16);
	if ((rc = mdb_env_open(env, dir, MDB_RDONLY, 0600)) == 0 &&
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) == 0) {
		if ((rc = sum_db(txn, "agents", &ag)) == 0 && (rc = sum_db(txn, "contacts", &co)) == 0 &&
		    (rc = sum_db(txn, "extids", &ex)) == 0 && (rc = sum_db(txn, "events", &ev)) == 0 && co.n == 0)
			rc = ENOENT;
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	if (rc != 0)
		return rc;
	sh->agent_rec = (size_t)llround(ag.val);
	sh->contact_rec = (size_t)llround(co.val);
	sh->extid_key = (size_t)llround(ex.key);
	sh->events = (double)ev.n / (double)co.n;
	sh->event_rec = (size_t)llround(ev.val);
	printf("hub store         %zu contacts, %zu events (%.2f per contact), %zu agents\n", co.n, ev.n, sh->events,
	       ag.n);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */

/* cpu_s: this process's CPU time so far, user and system (fsync's share is the kernel's). */
static void cpu_s(double *user, double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* first(t): the first contact that write transaction t submits (B per transaction). */
static uint64_t first(double per, int64_t t)
{
	return t <= 0 ? 0 : (uint64_t)floor(per * (double)t);
}

struct run {
	uint64_t commits, done;
	double user, sys, secs;
};

/* run commits until end_us, and counts from start_us; t goes on from where it was. With
 * rate > 0, write transaction t starts no sooner than t * per / rate seconds after the first. */
static int run(struct floor *f, double per, double rate, int64_t *t, uint64_t start_us, uint64_t end_us, struct run *r)
{
	double user0 = 0, sys0 = 0;
	uint64_t t0 = 0, base = rl_mono_us();

	memset(r, 0, sizeof(*r));
	for (int measuring = 0;; (*t)++) {
		uint64_t now = rl_mono_us();
		if (rate > 0) {
			uint64_t due = base + (uint64_t)((double)*t * per / rate * 1e6);
			if (due > now && due < end_us) {
				struct timespec ts = {(time_t)((due - now) / 1000000),
				                      (long)((due - now) % 1000000 * 1000)};
				nanosleep(&ts, NULL);
				now = rl_mono_us();
			}
		}
		if (!measuring && now >= start_us) {
			measuring = 1;
			t0 = now;
			cpu_s(&user0, &sys0);
		}
		if (now >= end_us)
			break;
		if (begin(f) != 0)
			return 1;
		for (int s = 0; s < NSTAGES; s++)
			for (uint64_t k = first(per, *t - s); k < first(per, *t - s + 1); k++) {
				stage(f, s, k);
				r->done += measuring && s == NSTAGES - 1;
			}
		if (commit(f) != 0)
			return 1;
		r->commits += measuring;
	}
	cpu_s(&r->user, &r->sys);
	r->user -= user0;
	r->sys -= sys0;
	r->secs = (double)(rl_mono_us() - t0) / 1e6;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: relais-bench-floor --dir DIR [--per-commit B] [--seconds S] [--warmup S] "
	                "[--agents N] [--like HUBDATA] [--map-mb M] [--rate R]\n"
	                "       DIR is made (a fresh LMDB environment); HUBDATA is a hub's data_dir\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct floor f = {.sh = {252, 152, 21, 9.0, 49}, .nagents = 300, .next_event = 1};
	const char *dir = NULL, *hub = NULL;
	double per = 1, seconds = 5, warmup = 1, rate = 0;
	size_t map_mb = 16384;
	struct run r;
	int64_t t = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];
		if (strcmp(o, "--dir") == 0)
			dir = v;
		else if (strcmp(o, "--like") == 0)
			hub = v;
		else if (strcmp(o, "--per-commit") == 0)
			per = atof(v);
		else if (strcmp(o, "--seconds") == 0)
			seconds = atof(v);
		else if (strcmp(o, "--warmup") == 0)
			warmup = atof(v);
		else if (strcmp(o, "--agents") == 0)
			f.nagents = atoi(v);
		else if (strcmp(o, "--rate") == 0)
			rate = atof(v);
		else if (strcmp(o, "--map-mb") == 0)
			map_mb = (size_t)atol(v);
		else
			return usage();
	}
	if (dir == NULL || argc % 2 == 0 || per <= 0 || per > 100000 || f.nagents <= 0 || seconds <= 0)
		return usage();
	if (hub != NULL && like(hub, &f.sh) != 0) {
		fprintf(stderr, "relais-bench-floor: cannot read a hub's store at %s\n", hub);
		return 1;
	}
	if (f.sh.events > MAXEVENTS || f.sh.event_rec < 8)
		f.sh.events = 9.0, f.sh.event_rec = 49;
	f.nblob = 1 << 16;
	f.blob = rl_malloc(f.nblob);
	for (size_t i = 0; i < f.nblob; i++)
		f.blob[i] = (uint8_t)(i * 2654435761u >> 13);
	if (open_env(&f, dir, map_mb) != 0) {
		fprintf(stderr, "relais-bench-floor: cannot open an LMDB environment at %s\n", dir);
		return 1;
	}
	uint64_t now = rl_mono_us();
	if (run(&f, per, rate, &t, now + (uint64_t)(warmup * 1e6), now + (uint64_t)((warmup + seconds) * 1e6), &r) != 0)
		return 1;
	printf("record sizes      agent %zu B, contact %zu B, event %zu B (%.2f events per contact), extid key %zu B\n",
	       f.sh.agent_rec, f.sh.contact_rec, f.sh.event_rec, f.sh.events, f.sh.extid_key);
	printf("floor batching    %.2f contacts per write transaction (%llu transactions in %.1f s%s)\n", per,
	       (unsigned long long)r.commits, r.secs, rate > 0 ? ", paced" : "");
	printf("floor contacts/s  %.0f  (%llu lifecycles)\n", (double)r.done / r.secs, (unsigned long long)r.done);
	double cpu = r.user + r.sys, us = r.done ? cpu * 1e6 / (double)r.done : 0.0;
	printf("floor CPU/contact %.1f us  (user %.1f, system %.1f; %.0f %% of one core)\n", us,
	       r.done ? r.user * 1e6 / (double)r.done : 0.0, r.done ? r.sys * 1e6 / (double)r.done : 0.0,
	       cpu / r.secs * 100.0);
	printf("RESULT floor_contacts_per_s=%.0f floor_us_per_contact=%.2f floor_per_commit=%.2f\n",
	       (double)r.done / r.secs, us, per);
	mdb_env_close(f.env);
	free(f.blob);
	return 0;
}
