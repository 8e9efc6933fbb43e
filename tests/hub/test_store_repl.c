/*
 * The store's replication primitives: a leader store (A) captures its batches, a standby (B)
 * applies them and holds the same tables byte for byte; refused batches change nothing; a copy
 * of A made while A commits, installed in a third directory (C), goes on from the copy's
 * position with A's later batches.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rl_err.h"
#include "rltest.h"
#include "store.h"

#define MAP_MB 64

/* Every store of the test is a directory under one, removed at the end. */
static char root[512];

static const char *sub(const char *name)
{
	static char path[4][600];
	static int n;
	char *p = path[n++ & 3];

	snprintf(p, sizeof(path[0]), "%s/%s", root, name);
	return p;
}

/* A batch as it travels: a packed ReplBatch of one part. */
struct packed {
	uint64_t seq;
	int64_t term;
	uint8_t *buf;
	size_t len;
};

/* pack turns a captured batch into a ReplBatch, as the leader will send it. */
static struct packed pack(const struct rl_store_batch *b)
{
	Relais__ReplBatch rb = RELAIS__REPL_BATCH__INIT;
	Relais__StoreOp *ops = calloc(b->nops, sizeof(*ops)), **ptrs = calloc(b->nops, sizeof(*ptrs));
	struct packed p = {b->seq, b->term, NULL, 0};

	for (size_t i = 0; i < b->nops; i++) {
		relais__store_op__init(&ops[i]);
		ops[i].table = b->ops[i].table;
		ops[i].del = b->ops[i].del;
		ops[i].key = (ProtobufCBinaryData){b->ops[i].klen, (uint8_t *)b->ops[i].key};
		ops[i].value = (ProtobufCBinaryData){b->ops[i].vlen, (uint8_t *)b->ops[i].val};
		ptrs[i] = &ops[i];
	}
	rb.seq = b->seq;
	rb.term = b->term;
	rb.last = 1;
	rb.n_ops = b->nops;
	rb.ops = ptrs;
	p.len = relais__repl_batch__get_packed_size(&rb);
	p.buf = malloc(p.len);
	relais__repl_batch__pack(&rb, p.buf);
	free(ops);
	free(ptrs);
	return p;
}

static Relais__ReplBatch *unpack(const struct packed *p)
{
	Relais__ReplBatch *rb = relais__repl_batch__unpack(NULL, p->len, p->buf);
	RL_REQUIRE(rb != NULL);
	return rb;
}

/* apply applies a packed batch in the open transaction of s. */
static int apply(struct rl_store *s, const struct packed *p)
{
	Relais__ReplBatch *rb = unpack(p);
	int rv = rl_store_apply(s, rb->seq, rb->term, rb->ops, rb->n_ops);

	relais__repl_batch__free_unpacked(rb, NULL);
	return rv;
}

/* apply_one applies a packed batch in a transaction of its own. */
static int apply_one(struct rl_store *s, const struct packed *p)
{
	int rv;

	RL_REQUIRE(rl_store_begin(s) == RL_OK);
	if ((rv = apply(s, p)) != RL_OK) {
		rl_store_abort(s);
		return rv;
	}
	return rl_store_commit(s);
}

/* A table's keys and values, length-prefixed one after the other. */
struct dump {
	uint8_t *buf;
	size_t len, n;
};

static void dump_add(struct dump *d, const void *p, size_t n)
{
	d->buf = realloc(d->buf, d->len + n + sizeof(n));
	memcpy(d->buf + d->len, &n, sizeof(n));
	if (n > 0)
		memcpy(d->buf + d->len + sizeof(n), p, n);
	d->len += n + sizeof(n);
}

static int dump_kv(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct dump *d = arg;

	dump_add(d, k, kl);
	dump_add(d, v, vl);
	d->n++;
	return 0;
}

/* dump_all: every table of s, each after its number. */
static struct dump dump_all(struct rl_store *s)
{
	struct dump d = {NULL, 0, 0};

	for (int t = 0; t < RL_STORE_NTABLES; t++) {
		dump_add(&d, &t, sizeof(t));
		RL_REQUIRE(rl_store_each_raw(s, (enum rl_store_table)t, dump_kv, &d) == RL_OK);
	}
	return d;
}

static int dump_eq(const struct dump *a, const struct dump *b)
{
	return a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0;
}

/* same: every table of a and b holds the same keys and values, and both the same position. */
static int same(struct rl_store *a, struct rl_store *b)
{
	struct dump da = dump_all(a), db = dump_all(b);
	struct rl_store_pos pa, pb;
	int eq = dump_eq(&da, &db);

	rl_store_pos(a, &pa);
	rl_store_pos(b, &pb);
	if (!eq)
		fprintf(stderr, "tables differ: %zu rows (%zu bytes) vs %zu (%zu)\n", da.n, da.len, db.n, db.len);
	free(da.buf);
	free(db.buf);
	return eq && pa.seq == pb.seq && pa.term == pb.term;
}

/* write_batch writes batch i through the store's public API (inside a transaction). */
static void write_batch(struct rl_store *s, unsigned i)
{
	Relais__AgentRecord ag = RELAIS__AGENT_RECORD__INIT;
	Relais__ContactRecord c = RELAIS__CONTACT_RECORD__INIT;
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;
	char aid[32], cid[32], key[64], detail[64];

	snprintf(aid, sizeof(aid), "agent-%u", i % 7);
	ag.agent_id = aid;
	ag.handled = i;
	ag.state_since_us = 1000u * i;
	rl_store_put_agent(s, &ag);
	snprintf(cid, sizeof(cid), "c-%06u", (unsigned)rl_store_next_id(s, "next_contact"));
	c.contact_id = cid;
	c.tenant_id = "t1";
	c.enqueued_us = 77u * i;
	rl_store_put_contact(s, &c, 1);
	snprintf(key, sizeof(key), "ctl/ext-%u", i);
	rl_store_extid_put(s, key, cid);
	if (i >= 3) { /* an earlier contact ends: its live key goes */
		snprintf(cid, sizeof(cid), "c-%06u", i - 2);
		c.state = RELAIS__CONTACT_STATE__CONTACT_ENDED;
		c.ended_us = 99u * i;
		rl_store_put_contact(s, &c, 0);
	}
	snprintf(key, sizeof(key), "t1/caller-%u", i % 5);
	rl_store_mark_put(s, RL_MARK_LASTAGENT, key, aid, i);
	rl_store_mark_put(s, i % 2 ? RL_MARK_LOST : RL_MARK_JOURNAL, key, cid, 2u * i);
	if (i % 3 == 0)
		rl_store_mark_del(s, RL_MARK_LOST, key);
	snprintf(key, sizeof(key), "t1/%016x/%s", i, cid);
	rl_store_mark_put(s, RL_MARK_RECORDING, key, cid, i);
	ev.ts_us = 5000u + i;
	ev.type = i % 4 == 0 ? RELAIS__EVENT_TYPE__EV_NOC : RELAIS__EVENT_TYPE__EV_CONTACT_ENQUEUED;
	snprintf(detail, sizeof(detail), "batch %u", i);
	ev.detail = detail;
	ev.contact_id = cid;
	rl_store_event(s, &ev);
	rl_store_event(s, &ev);
}

/* leader_batch commits batch i on a and returns it packed; checks its numbering. */
static struct packed leader_batch(struct rl_store *a, unsigned i)
{
	struct rl_store_pos before, after;
	const struct rl_store_batch *b;

	rl_store_pos(a, &before);
	RL_REQUIRE(rl_store_begin(a) == RL_OK);
	write_batch(a, i);
	RL_REQUIRE(rl_store_commit(a) == RL_OK);
	rl_store_pos(a, &after);
	RL_REQUIRE((b = rl_store_last_batch(a)) != NULL);
	RL_CHECK(after.seq == before.seq + 1 && b->seq == after.seq && b->term == after.term);
	return pack(b);
}

/* Batches one by one: B follows A exactly after each. */
static struct rl_store *follow(struct rl_store *a, const char *dir, unsigned *next, unsigned n)
{
	struct rl_store *b;
	struct rl_store_pos p;
	int diverged = 0;

	RL_REQUIRE(rl_store_open(&b, dir, MAP_MB) == RL_OK);
	rl_store_pos(b, &p);
	RL_CHECK(p.seq == 0 && p.term == 0);
	for (unsigned k = 0; k < n; k++, (*next)++) {
		if (*next == 20)
			rl_store_set_term(a, 7);
		struct packed pk = leader_batch(a, *next);
		RL_CHECK(pk.term == (*next < 20 ? 0 : 7));
		RL_CHECK(apply_one(b, &pk) == RL_OK);
		diverged += !same(a, b);
		free(pk.buf);
	}
	RL_CHECK(diverged == 0);
	return b;
}

/* Commits that write nothing are no batch; an aborted batch leaves nothing. */
static void no_batches(struct rl_store *a)
{
	struct rl_store_pos p0, p1;
	char id[64];
	uint64_t ts;

	rl_store_pos(a, &p0);
	RL_REQUIRE(rl_store_begin(a) == RL_OK);
	(void)rl_store_mark_get(a, RL_MARK_LASTAGENT, "t1/caller-1", id, sizeof(id), &ts);
	rl_store_mark_del(a, RL_MARK_LOST, "no such key");
	RL_CHECK(rl_store_commit(a) == RL_OK);
	RL_CHECK(rl_store_last_batch(a) == NULL);
	RL_REQUIRE(rl_store_begin(a) == RL_OK);
	write_batch(a, 1000);
	rl_store_abort(a);
	RL_CHECK(rl_store_last_batch(a) == NULL);
	rl_store_pos(a, &p1);
	RL_CHECK(p1.seq == p0.seq && p1.term == p0.term);
}

/* Several batches in one transaction of B; its position moves at the commit. */
static void grouped(struct rl_store *a, struct rl_store *b, unsigned *next)
{
	struct packed pk[5];
	struct rl_store_pos p0, p;
	int ok = 1;

	for (int k = 0; k < 5; k++)
		pk[k] = leader_batch(a, (*next)++);
	rl_store_pos(b, &p0);
	RL_REQUIRE(rl_store_begin(b) == RL_OK);
	for (int k = 0; k < 5; k++)
		ok &= apply(b, &pk[k]) == RL_OK;
	RL_CHECK(ok);
	rl_store_pos(b, &p);
	RL_CHECK(p.seq == p0.seq);
	RL_CHECK(rl_store_commit(b) == RL_OK);
	RL_CHECK(rl_store_last_batch(b) == NULL);
	RL_CHECK(same(a, b));
	for (int k = 0; k < 5; k++)
		free(pk[k].buf);
}

static void put_be64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

/* try_bad applies the batch after one change (what); 1 if refused. The changes of seq and term
 * also change the batch's meta "repl" put (the commit's, last), so that they alone are wrong. */
static int try_bad(struct rl_store *b, const struct packed *pk, int what)
{
	Relais__ReplBatch *rb = unpack(pk);
	Relais__StoreOp *pos = rb->ops[rb->n_ops - 1];
	uint64_t seq = rb->seq;
	int64_t term = rb->term;
	uint8_t longkey[600];
	size_t n = rb->n_ops;
	ProtobufCBinaryData key0 = rb->ops[0]->key;
	int rv;

	RL_REQUIRE(pos->table == RL_STORE_T_META && pos->value.len == 16 && !pos->del);
	memset(longkey, 'k', sizeof(longkey));
	switch (what) {
	case 0: /* a gap */
		seq += 1;
		break;
	case 1: /* the last batch again */
		seq -= 1;
		break;
	case 2: /* an older term */
		term -= 1;
		break;
	case 3: /* unknown tables */
		rb->ops[0]->table = 99;
		break;
	case 4:
		rb->ops[1]->table = RL_STORE_NTABLES;
		break;
	case 5: /* keys LMDB would refuse */
		rb->ops[0]->key = (ProtobufCBinaryData){sizeof(longkey), longkey};
		break;
	case 6:
		rb->ops[0]->key.len = 0;
		break;
	case 7: /* an agent without a record */
		rb->ops[0]->value.len = 0;
		break;
	case 8: /* no meta "repl" put */
		n--;
		break;
	default: /* a meta "repl" put that is not the batch's */
		pos->value.data[15] ^= 1;
		break;
	}
	if (what <= 2) {
		put_be64(pos->value.data, seq);
		put_be64(pos->value.data + 8, (uint64_t)term);
	}
	rv = rl_store_apply(b, seq, term, rb->ops, n);
	rb->ops[0]->key = key0; /* longkey is not the unpacked message's to free */
	relais__repl_batch__free_unpacked(rb, NULL);
	return rv == RL_EINVAL;
}

/* Refused batches change nothing, and the transaction goes on. */
static void refusals(struct rl_store *a, struct rl_store *b, unsigned *next)
{
	struct packed pk = leader_batch(a, (*next)++);
	Relais__AgentRecord ag = RELAIS__AGENT_RECORD__INIT;
	struct dump d0 = dump_all(b), d1;
	int refused = 0;

	RL_CHECK(pk.term > 0);
	RL_CHECK(apply(b, &pk) == RL_EINVAL); /* no transaction open */
	RL_REQUIRE(rl_store_begin(b) == RL_OK);
	for (int what = 0; what <= 9; what++)
		refused += try_bad(b, &pk, what);
	RL_CHECK(refused == 10);
	d1 = dump_all(b); /* in the open transaction */
	RL_CHECK(dump_eq(&d0, &d1));
	RL_CHECK(apply(b, &pk) == RL_OK);
	RL_CHECK(apply(b, &pk) == RL_EINVAL); /* now a repeat */
	RL_CHECK(rl_store_commit(b) == RL_OK);
	RL_CHECK(same(a, b));
	/* A transaction that wrote on its own applies nothing. */
	struct packed pk2 = leader_batch(a, (*next)++);
	RL_REQUIRE(rl_store_begin(b) == RL_OK);
	ag.agent_id = "local";
	rl_store_put_agent(b, &ag);
	RL_CHECK(apply(b, &pk2) == RL_EINVAL);
	rl_store_abort(b);
	RL_CHECK(apply_one(b, &pk2) == RL_OK);
	RL_CHECK(same(a, b));
	free(d0.buf);
	free(d1.buf);
	free(pk.buf);
	free(pk2.buf);
}

/* The leader's writer thread: commits batches, each kept packed, until told to stop; the test
 * copies the store meanwhile. No checks in the main thread while it runs (the tallies are
 * plain counters). */
#define WRITER_MAX 4096
struct writer {
	struct rl_store *a;
	unsigned first;
	struct packed out[WRITER_MAX];
	atomic_uint begun; /* batches begun: at most these are committed */
	atomic_uint done;  /* batches committed and kept in out: at least these */
	atomic_int stop;
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;

	for (unsigned k = 0; k < WRITER_MAX && !atomic_load(&w->stop); k++) {
		atomic_store(&w->begun, k + 1);
		w->out[k] = leader_batch(w->a, w->first + k);
		atomic_store(&w->done, k + 1);
		usleep(500); /* a pace, so that the copy falls between batches */
	}
	return NULL;
}

static void wait_done(struct writer *w, unsigned n)
{
	for (int i = 0; i < 60000 && atomic_load(&w->done) < n && atomic_load(&w->done) < WRITER_MAX; i++)
		usleep(1000);
}

/* copy_while_writing copies A into path while the writer commits; [*before, *after]: the
 * batches surely committed before the copy began, and those that may have been once it
 * ended (a batch committed but not yet counted done is begun). */
static int copy_while_writing(struct writer *w, const char *path, unsigned *before, unsigned *after)
{
	pthread_t th;
	int fd, rv = RL_EIO;

	RL_REQUIRE(pthread_create(&th, NULL, writer_run, w) == 0);
	wait_done(w, 5);
	*before = atomic_load(&w->done);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
		rv = rl_store_copy_fd(w->a, fd);
		close(fd);
	}
	*after = atomic_load(&w->begun);
	wait_done(w, *after + 10);
	atomic_store(&w->stop, 1);
	pthread_join(th, NULL);
	return rv;
}

/* A copy taken while A commits, installed in C, follows A from the copy's position. */
static void snapshot(struct rl_store *a, unsigned *next)
{
	struct writer *w = calloc(1, sizeof(*w));
	char dir[512], copy[600];
	struct rl_store *c;
	struct rl_store_pos cp, p;
	unsigned before, after, n, applied = 0, refused = 0;

	w->a = a;
	w->first = *next;
	snprintf(dir, sizeof(dir), "%s", sub("c"));
	RL_REQUIRE(mkdir(dir, 0700) == 0);
	snprintf(copy, sizeof(copy), "%s/copy.mdb", dir);
	RL_CHECK(copy_while_writing(w, copy, &before, &after) == RL_OK);
	n = atomic_load(&w->done);
	*next += n;
	RL_REQUIRE(before >= 5 && n > after && n >= after + 10);
	RL_CHECK(rl_store_copy_pos(copy, &cp) == RL_OK);
	RL_CHECK(cp.seq >= w->out[before - 1].seq && cp.seq <= w->out[after - 1].seq);
	RL_CHECK(rl_store_install(dir, copy) == RL_OK);
	RL_CHECK(access(copy, F_OK) != 0);
	RL_REQUIRE(rl_store_open(&c, dir, MAP_MB) == RL_OK);
	rl_store_pos(c, &p);
	RL_CHECK(p.seq == cp.seq && p.term == cp.term);
	for (unsigned k = 0; k < n; k++) {
		int rv = apply_one(c, &w->out[k]);
		if (w->out[k].seq <= cp.seq) /* in the copy already */
			refused += rv == RL_EINVAL;
		else
			applied += rv == RL_OK;
		free(w->out[k].buf);
	}
	RL_CHECK(applied == n - (unsigned)(cp.seq - w->out[0].seq + 1));
	RL_CHECK(refused == n - applied);
	RL_CHECK(same(a, c));
	rl_store_close(c);
	free(w);
}

/* A copy between batches, on the writer's own thread, holds the last batch; installing over a
 * store's directory replaces it. */
static void copy_between(struct rl_store *a, struct rl_store *b, unsigned *next)
{
	char dir[512], copy[600];
	struct rl_store_pos pa, cp;
	struct rl_store *c;
	struct packed pk;
	int fd;

	snprintf(dir, sizeof(dir), "%s", sub("d"));
	snprintf(copy, sizeof(copy), "%s/copy.mdb", dir);
	RL_REQUIRE(rl_store_open(&c, dir, MAP_MB) == RL_OK); /* an old store there, with a lock file */
	rl_store_close(c);
	RL_REQUIRE((fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	RL_CHECK(rl_store_copy_fd(a, fd) == RL_OK);
	close(fd);
	rl_store_pos(a, &pa);
	RL_CHECK(rl_store_copy_pos(copy, &cp) == RL_OK && cp.seq == pa.seq && cp.term == pa.term);
	RL_CHECK(rl_store_install(dir, copy) == RL_OK);
	RL_REQUIRE(rl_store_open(&c, dir, MAP_MB) == RL_OK);
	RL_CHECK(same(a, c));
	pk = leader_batch(a, (*next)++);
	RL_CHECK(apply_one(c, &pk) == RL_OK && apply_one(b, &pk) == RL_OK);
	RL_CHECK(same(a, c) && same(a, b));
	free(pk.buf);
	rl_store_close(c);
	RL_CHECK(rl_store_copy_pos("/nonexistent/copy.mdb", &cp) == RL_EIO);
	RL_CHECK(rl_store_install(dir, "/nonexistent/copy.mdb") == RL_EIO);
}

static int count_kv(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)k, (void)kl, (void)v, (void)vl;
	++*(size_t *)arg;
	return 0;
}

/* A standby made leader writes batches of its own after what it applied: its events follow the
 * last one it holds, and its batches follow the last one applied, in its term. */
static void promote(struct rl_store *b, unsigned *next)
{
	struct rl_store_pos p0, p;
	const struct rl_store_batch *bt;
	size_t n0 = 0, n = 0;

	rl_store_pos(b, &p0);
	RL_CHECK(rl_store_each_raw(b, RL_STORE_T_EVENTS, count_kv, &n0) == RL_OK);
	rl_store_capture(b, 1);
	rl_store_set_term(b, p0.term + 2);
	RL_REQUIRE(rl_store_begin(b) == RL_OK);
	write_batch(b, (*next)++);
	RL_CHECK(rl_store_commit(b) == RL_OK);
	rl_store_pos(b, &p);
	RL_CHECK(p.seq == p0.seq + 1 && p.term == p0.term + 2);
	RL_CHECK((bt = rl_store_last_batch(b)) != NULL && bt->seq == p.seq);
	RL_CHECK(rl_store_each_raw(b, RL_STORE_T_EVENTS, count_kv, &n) == RL_OK && n == n0 + 2);
}

/* A batch that fails midway (the map is full) drops the whole transaction at the commit, the
 * batches applied before it in the same transaction too. */
static void fail_stop(struct rl_store *a, unsigned *next)
{
	struct packed pk = leader_batch(a, (*next)++);
	Relais__ReplBatch *rb = unpack(&pk);
	Relais__StoreOp big = RELAIS__STORE_OP__INIT, repl = RELAIS__STORE_OP__INIT, *ops[] = {&big, &repl};
	uint8_t pos[16], *huge = calloc(1, 4 << 20);
	struct rl_store *d;
	struct rl_store_pos p;
	size_t rows = 0;

	RL_REQUIRE(rl_store_open(&d, sub("full"), 2) == RL_OK);
	big.table = RL_STORE_T_CONTACTS;
	big.key = (ProtobufCBinaryData){3, (uint8_t *)"big"};
	big.value = (ProtobufCBinaryData){4 << 20, huge};
	repl.table = RL_STORE_T_META;
	repl.key = (ProtobufCBinaryData){4, (uint8_t *)"repl"};
	repl.value = (ProtobufCBinaryData){16, pos};
	put_be64(pos, 1);
	put_be64(pos + 8, 0);
	RL_REQUIRE(rl_store_begin(d) == RL_OK);
	RL_CHECK(rl_store_apply(d, 1, 0, ops, 2) != RL_OK);
	RL_CHECK(rl_store_apply(d, 2, 0, rb->ops, rb->n_ops) != RL_OK); /* the transaction is lost */
	RL_CHECK(rl_store_commit(d) != RL_OK);
	rl_store_pos(d, &p);
	RL_CHECK(p.seq == 0);
	for (int t = 0; t < RL_STORE_NTABLES; t++)
		RL_CHECK(rl_store_each_raw(d, (enum rl_store_table)t, count_kv, &rows) == RL_OK);
	RL_CHECK(rows == 0);
	rl_store_close(d);
	relais__repl_batch__free_unpacked(rb, NULL);
	free(huge);
	free(pk.buf);
}

/* reopen closes and opens *s again; its position is what it was. */
static void reopen(struct rl_store **s, const char *dir)
{
	struct rl_store_pos p0, p;

	rl_store_pos(*s, &p0);
	rl_store_close(*s);
	RL_REQUIRE(rl_store_open(s, dir, MAP_MB) == RL_OK);
	rl_store_pos(*s, &p);
	RL_CHECK(p.seq == p0.seq && p.term == p0.term && p.seq > 60);
}

/* A record is stored as protobuf-c packs it, also one longer than the store's stack
 * buffer (2 KiB), which it packs on the heap. */
static void records_packed(struct rl_store *s)
{
	Relais__ContactRecord c = RELAIS__CONTACT_RECORD__INIT, *back;
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	Relais__KeyValue kv = RELAIS__KEY_VALUE__INIT, *kvs[1] = {&kv};
	static char big[6000];
	const size_t sizes[] = {10, sizeof(big) - 1};

	c.tenant_id = "t1";
	c.pop = &pop;
	pop.caller = "+212522000000";
	pop.n_data = 1;
	pop.data = kvs;
	kv.key = "ivr";
	kv.value = big;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char cid[32];
		size_t n, m;
		uint8_t *want, *got;
		memset(big, 'a' + (int)i, sizes[i]);
		big[sizes[i]] = 0;
		snprintf(cid, sizeof(cid), "c-packed-%zu", i);
		c.contact_id = cid;
		n = relais__contact_record__get_packed_size(&c);
		RL_REQUIRE(rl_store_begin(s) == RL_OK);
		rl_store_put_contact(s, &c, 0);
		RL_REQUIRE(rl_store_commit(s) == RL_OK);
		RL_REQUIRE(rl_store_get_contact(s, cid, &back) == RL_OK);
		m = relais__contact_record__get_packed_size(back);
		want = malloc(n);
		got = malloc(m);
		relais__contact_record__pack(&c, want);
		relais__contact_record__pack(back, got);
		RL_CHECK(n == m && memcmp(want, got, n) == 0);
		RL_CHECK(i == 0 || n > 2048);
		free(want);
		free(got);
		relais__contact_record__free_unpacked(back, NULL);
	}
}

int main(void)
{
	struct rl_store *a, *b;
	char adir[600], bdir[600], rm[600];
	unsigned next = 1;

	snprintf(root, sizeof(root), "%s", rltest_tmpdir("store-repl"));
	snprintf(adir, sizeof(adir), "%s", sub("a"));
	snprintf(bdir, sizeof(bdir), "%s", sub("b"));
	RL_REQUIRE(rl_store_open(&a, adir, MAP_MB) == RL_OK);
	rl_store_capture(a, 1);
	b = follow(a, bdir, &next, 60);
	no_batches(a);
	grouped(a, b, &next);
	refusals(a, b, &next);
	copy_between(a, b, &next);
	snapshot(a, &next);
	promote(b, &next);
	fail_stop(a, &next);
	reopen(&a, adir);
	reopen(&b, bdir);
	records_packed(a);
	rl_store_close(a);
	rl_store_close(b);
	snprintf(rm, sizeof(rm), "rm -rf '%s'", root);
	RL_CHECK(rltest_run(rm, "/dev/null") == 0);
	return rltest_done();
}
