#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bump.h"
#include "rl_alloc.h"
#include "rl_be.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_pb.h"
#include "rl_time.h"
#include "rl_wire.h"

/* The tables' names in the environment, by number (enum rl_store_table). */
static const char *const rl_store_names[RL_STORE_NTABLES] = {
    [RL_STORE_T_AGENTS] = "agents",       [RL_STORE_T_CONTACTS] = "contacts",
    [RL_STORE_T_LIVE] = "live",           [RL_STORE_T_EXTIDS] = "extids",
    [RL_STORE_T_LASTAGENT] = "lastagent", [RL_STORE_T_LOST] = "lost",
    [RL_STORE_T_JOURNALS] = "journals",   [RL_STORE_T_RECORDINGS] = "recordings",
    [RL_STORE_T_EVENTS] = "events",       [RL_STORE_T_AUDIT] = "audit",
    [RL_STORE_T_META] = "meta",
};

/* The meta key of the last batch's position: big-endian u64 seq, big-endian i64 term. */
#define RL_REPL_KEY "repl"
#define RL_REPL_LEN 16

/* The writes of the open batch while capturing: keys and values one after the other in the
 * arena, in the order of ops; the ops' pointers are set once the batch is committed, since the
 * arena may move while it grows. Both arrays are kept from batch to batch. */
struct rl_store_cap {
	uint8_t *arena;
	size_t len, size;
	struct rl_store_op *ops;
	size_t nops, opsize;
	struct rl_store_batch batch;
	int ready; /* batch is the last commit's */
};

struct rl_store {
	MDB_env *env;
	MDB_txn *txn; /* open write transaction of the current batch */
	MDB_dbi dbi[RL_STORE_NTABLES];
	uint64_t next_event;
	uint64_t commits;
	struct rl_store_commit_hist commit_times;
	int failed;                  /* first failed write of the open batch (RL_OK: none) */
	unsigned writes;             /* the open batch's own writes (its commit is a batch if any) */
	int applied;                 /* the open transaction applied a leader's batches */
	struct rl_store_pos pos;     /* the last committed batch */
	struct rl_store_pos txn_pos; /* the open transaction's last batch (applied or its own) */
	int64_t term;                /* the term of the batches committed from now on */
	int capture, capturing;      /* asked for; in effect for the open batch */
	struct rl_store_cap cap;
};

/* The table of a mark: they follow each other in both enums. */
static enum rl_store_table rl_mark_table(enum rl_store_mark m)
{
	return (enum rl_store_table)(RL_STORE_T_LASTAGENT + (int)m);
}

static int rl_store_err(int rc, const char *what)
{
	rl_log(RL_LOG_ERR, "lmdb %s err=\"%s\"", what, mdb_strerror(rc));
	return rc == ENOMEM ? RL_ENOMEM : RL_EIO;
}

/* rl_store_fail remembers the first failed write of the batch: the commit reports it. */
static void rl_store_fail(struct rl_store *s, int rc, const char *what)
{
	int rv = rl_store_err(rc, what);

	if (s->failed == RL_OK)
		s->failed = rv;
}

static void rl_pos_pack(uint8_t *b, struct rl_store_pos p)
{
	rl_put_be64(b, p.seq);
	rl_put_be64(b + 8, (uint64_t)p.term);
}

/* rl_store_read_pos reads meta "repl" in txn ({0, 0} if absent); an LMDB code. */
static int rl_store_read_pos(MDB_txn *txn, MDB_dbi meta, struct rl_store_pos *out)
{
	MDB_val k = {sizeof(RL_REPL_KEY) - 1, RL_REPL_KEY}, v;
	int rc = mdb_get(txn, meta, &k, &v);

	*out = (struct rl_store_pos){0, 0};
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (v.mv_size != RL_REPL_LEN)
		return MDB_CORRUPTED;
	out->seq = rl_be64(v.mv_data);
	out->term = (int64_t)rl_be64((const uint8_t *)v.mv_data + 8);
	return 0;
}

/* rl_store_recover reads what the store keeps in memory from the tables; an LMDB code. */
static int rl_store_recover(struct rl_store *s, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, s->dbi[RL_STORE_T_EVENTS], &cur)) != 0)
		return rc;
	s->next_event = 1;
	if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
		s->next_event = rl_be64(k.mv_data) + 1;
	mdb_cursor_close(cur);
	return rl_store_read_pos(txn, s->dbi[RL_STORE_T_META], &s->pos);
}

int rl_store_open(struct rl_store **out, const char *dir, size_t map_mb)
{
	struct rl_store *s = rl_calloc(1, sizeof(*s));
	MDB_txn *txn = NULL;
	int rc, dead = 0;

	mkdir(dir, 0700);
	if ((rc = mdb_env_create(&s->env)) != 0)
		goto fail;
	mdb_env_set_maxdbs(s->env, 16);
	mdb_env_set_mapsize(s->env, map_mb * 1024 * 1024);
	/* No MDB_NOSYNC / MDB_NOMETASYNC: a commit is on disk when it returns. */
	if ((rc = mdb_env_open(s->env, dir, 0, 0600)) != 0)
		goto fail;
	/* A crashed process may have left reader slots behind; free them. */
	mdb_reader_check(s->env, &dead);
	if (dead > 0)
		rl_log(RL_LOG_NOTICE, "lmdb cleared stale readers count=%d", dead);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		goto fail;
	for (int t = 0; t < RL_STORE_NTABLES; t++)
		if ((rc = mdb_dbi_open(txn, rl_store_names[t], MDB_CREATE, &s->dbi[t])) != 0)
			goto fail;
	if ((rc = rl_store_recover(s, txn)) != 0)
		goto fail;
	if ((rc = mdb_txn_commit(txn)) != 0) {
		txn = NULL;
		goto fail;
	}
	*out = s;
	return RL_OK;
fail:
	rl_store_err(rc, "open");
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s);
	return RL_EIO;
}

void rl_store_close(struct rl_store *s)
{
	if (s == NULL)
		return;
	if (s->txn != NULL)
		mdb_txn_abort(s->txn);
	mdb_env_close(s->env);
	free(s->cap.arena);
	free(s->cap.ops);
	free(s);
}

int rl_store_begin(struct rl_store *s)
{
	int rc;

	if (s->txn != NULL)
		return RL_OK;
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &s->txn)) != 0) {
		s->txn = NULL;
		return rl_store_err(rc, "begin");
	}
	s->failed = RL_OK;
	s->writes = 0;
	s->applied = 0;
	s->txn_pos = s->pos;
	s->capturing = s->capture;
	s->cap.len = s->cap.nops = 0;
	s->cap.ready = 0;
	return RL_OK;
}

void rl_store_capture(struct rl_store *s, int on)
{
	s->capture = on != 0;
}

const struct rl_store_batch *rl_store_last_batch(const struct rl_store *s)
{
	return s->cap.ready ? &s->cap.batch : NULL;
}

void rl_store_pos(struct rl_store *s, struct rl_store_pos *out)
{
	*out = s->pos;
}

void rl_store_set_term(struct rl_store *s, int64_t term)
{
	s->term = term;
}

/* rl_cap_add copies one write of the batch into the arena, growing it and the ops by doubling
 * (kept for the next batches: a batch costs no allocation once they are big enough). */
static void rl_cap_add(struct rl_store_cap *c, enum rl_store_table t, int del, const void *key, size_t klen,
                       const void *val, size_t vlen)
{
	if (c->len + klen + vlen > c->size) {
		size_t want = c->len + klen + vlen;
		c->size = c->size * 2 > want ? c->size * 2 : want + 4096;
		c->arena = rl_realloc(c->arena, c->size);
	}
	if (c->nops == c->opsize) {
		c->opsize = c->opsize ? c->opsize * 2 : 64;
		c->ops = rl_realloc(c->ops, c->opsize * sizeof(*c->ops));
	}
	memcpy(c->arena + c->len, key, klen);
	if (vlen > 0)
		memcpy(c->arena + c->len + klen, val, vlen);
	c->len += klen + vlen;
	c->ops[c->nops++] = (struct rl_store_op){.table = (uint8_t)t, .del = (uint8_t)del, .klen = klen, .vlen = vlen};
}

/* rl_cap_seal points the ops into the arena, now that it no longer moves, and publishes the
 * batch as committed at pos. */
static void rl_cap_seal(struct rl_store_cap *c, struct rl_store_pos pos)
{
	size_t off = 0;

	for (size_t i = 0; i < c->nops; i++) {
		struct rl_store_op *op = &c->ops[i];
		op->key = c->arena + off;
		off += op->klen;
		op->val = op->del ? NULL : c->arena + off;
		off += op->vlen;
	}
	c->batch = (struct rl_store_batch){pos.seq, pos.term, c->ops, c->nops, c->len};
	c->ready = 1;
}

/* rl_store_wrote counts a write that LMDB took, and records it while capturing. */
static void rl_store_wrote(struct rl_store *s, enum rl_store_table t, int del, const void *key, size_t klen,
                           const void *val, size_t vlen)
{
	s->writes++;
	if (s->capturing)
		rl_cap_add(&s->cap, t, del, key, klen, val, vlen);
}

/* rl_store_put_raw and rl_store_del_raw are the store's only writes: the batch counts them,
 * and captures them for the standby. Nothing but applied batches goes in a transaction that
 * applies them (the standby would miss it). */
static void rl_store_put_raw(struct rl_store *s, enum rl_store_table t, const void *key, size_t klen, const void *val,
                             size_t vlen, unsigned flags)
{
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
	int rc;

	if (s->txn == NULL)
		rl_store_fail(s, EINVAL, "put outside a batch");
	else if (s->applied)
		rl_store_fail(s, EINVAL, "put in a transaction applying batches");
	else if ((rc = mdb_put(s->txn, s->dbi[t], &k, &v, flags)) != 0)
		rl_store_fail(s, rc, "put");
	else
		rl_store_wrote(s, t, 0, key, klen, val, vlen);
}

static void rl_store_del_raw(struct rl_store *s, enum rl_store_table t, const void *key, size_t klen, const char *what)
{
	MDB_val k = {klen, (void *)key};
	int rc;

	if (s->txn == NULL)
		return;
	if (s->applied)
		rl_store_fail(s, EINVAL, "delete in a transaction applying batches");
	else if ((rc = mdb_del(s->txn, s->dbi[t], &k, NULL)) == 0)
		rl_store_wrote(s, t, 1, key, klen, NULL, 0);
	else if (rc != MDB_NOTFOUND)
		rl_store_fail(s, rc, what);
}

const uint64_t RL_STORE_COMMIT_LE_US[RL_STORE_COMMIT_BUCKETS - 1] = {250,   500,   1000,  2000,   5000,
                                                                     10000, 25000, 50000, 100000, 250000};

static void rl_store_commit_timed(struct rl_store *s, uint64_t us)
{
	unsigned i = 0;

	while (i < RL_STORE_COMMIT_BUCKETS - 1 && us > RL_STORE_COMMIT_LE_US[i])
		i++;
	s->commit_times.n[i]++;
	s->commit_times.sum_us += us;
}

const struct rl_store_commit_hist *rl_store_commit_times(const struct rl_store *s)
{
	return &s->commit_times;
}

/* rl_store_put_pos numbers the open batch: the next seq, the current term, in meta "repl". */
static void rl_store_put_pos(struct rl_store *s)
{
	struct rl_store_pos p = {s->txn_pos.seq + 1, s->term};
	uint8_t v[RL_REPL_LEN];

	rl_pos_pack(v, p);
	rl_store_put_raw(s, RL_STORE_T_META, RL_REPL_KEY, sizeof(RL_REPL_KEY) - 1, v, sizeof(v), 0);
	s->txn_pos = p;
}

int rl_store_commit(struct rl_store *s)
{
	int rc, own;

	if (s->txn == NULL)
		return RL_OK;
	/* A transaction that applied a leader's batches carries their positions already. */
	own = s->writes > 0 && !s->applied;
	if (own && s->failed == RL_OK)
		rl_store_put_pos(s);
	if (s->failed != RL_OK) {
		/* Never commit half a batch: the caller stops, a restart recovers the last one. */
		rl_store_abort(s);
		return s->failed;
	}
	uint64_t t0 = rl_mono_us();
	rc = mdb_txn_commit(s->txn);
	s->txn = NULL;
	if (rc != 0)
		return rl_store_err(rc, "commit");
	s->pos = s->txn_pos;
	if (own && s->capturing)
		rl_cap_seal(&s->cap, s->pos);
	s->commits++;
	rl_store_commit_timed(s, rl_mono_us() - t0);
	return RL_OK;
}

void rl_store_abort(struct rl_store *s)
{
	if (s->txn != NULL)
		mdb_txn_abort(s->txn);
	s->txn = NULL;
	s->cap.ready = 0;
}

int rl_store_in_txn(const struct rl_store *s)
{
	return s->txn != NULL;
}

uint64_t rl_store_commits(const struct rl_store *s)
{
	return s->commits;
}

/* rl_store_read runs a get in the batch transaction or a short read transaction. */
static int rl_store_get(struct rl_store *s, MDB_dbi dbi, const char *key, MDB_val *v, MDB_txn **rtxn)
{
	MDB_val k = {strlen(key), (void *)key};
	MDB_txn *txn = s->txn;
	int rc;

	*rtxn = NULL;
	if (txn == NULL) {
		if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
			return rl_store_err(rc, "begin read");
		*rtxn = txn;
	}
	if ((rc = mdb_get(txn, dbi, &k, v)) == MDB_NOTFOUND)
		return RL_ENOENT;
	if (rc != 0)
		return rl_store_err(rc, "get");
	return RL_OK;
}

static void rl_store_end(MDB_txn *rtxn)
{
	if (rtxn != NULL)
		mdb_txn_abort(rtxn);
}

/* rl_store_put_msg packs a record and writes it under key: on the stack in one walk over
 * its fields (rl_pb.h, protobuf-c's message), or, past the stack buffer, sized and packed on
 * the heap. */
static void rl_store_put_msg(struct rl_store *s, enum rl_store_table t, const void *key, size_t klen,
                             const ProtobufCMessage *m, unsigned flags)
{
	uint8_t stackbuf[2048], *heap;
	size_t n = rl_pb_pack_in(m, stackbuf, sizeof(stackbuf));

	if (n > 0 || (n = rl_pb_size(m)) == 0) {
		rl_store_put_raw(s, t, key, klen, stackbuf, n, flags);
		return;
	}
	heap = rl_malloc(n);
	rl_pb_pack(m, heap);
	rl_store_put_raw(s, t, key, klen, heap, n, flags);
	free(heap);
}

void rl_store_put_agent(struct rl_store *s, const Relais__AgentRecord *r)
{
	rl_store_put_msg(s, RL_STORE_T_AGENTS, r->agent_id, strlen(r->agent_id), &r->base, 0);
}

void rl_store_put_contact(struct rl_store *s, const Relais__ContactRecord *r, int live)
{
	size_t klen = strlen(r->contact_id);

	rl_store_put_msg(s, RL_STORE_T_CONTACTS, r->contact_id, klen, &r->base, 0);
	if (live)
		rl_store_put_raw(s, RL_STORE_T_LIVE, r->contact_id, klen, "", 0, 0);
	else
		rl_store_del_raw(s, RL_STORE_T_LIVE, r->contact_id, klen, "del live");
}

/* rl_store_get_msg unpacks the record under id into a new message of type desc. */
static int rl_store_get_msg(struct rl_store *s, MDB_dbi dbi, const char *id, const ProtobufCMessageDescriptor *desc,
                            struct rl_bump *bump, ProtobufCMessage **out)
{
	MDB_val v;
	MDB_txn *rtxn;
	int rv = rl_store_get(s, dbi, id, &v, &rtxn);

	if (rv == RL_OK) {
		*out = bump ? rl_bump_unpack(bump, desc, v.mv_size, v.mv_data)
		            : protobuf_c_message_unpack(desc, NULL, v.mv_size, v.mv_data);
		rv = *out ? RL_OK : RL_EIO;
	}
	rl_store_end(rtxn);
	return rv;
}

int rl_store_get_agent(struct rl_store *s, const char *id, Relais__AgentRecord **out)
{
	return rl_store_get_msg(s, s->dbi[RL_STORE_T_AGENTS], id, &relais__agent_record__descriptor, NULL,
	                        (ProtobufCMessage **)out);
}

int rl_store_get_contact(struct rl_store *s, const char *id, Relais__ContactRecord **out)
{
	return rl_store_get_contact_in(s, id, NULL, out);
}

int rl_store_get_contact_in(struct rl_store *s, const char *id, struct rl_bump *bump, Relais__ContactRecord **out)
{
	return rl_store_get_msg(s, s->dbi[RL_STORE_T_CONTACTS], id, &relais__contact_record__descriptor, bump,
	                        (ProtobufCMessage **)out);
}

int rl_store_extid_get(struct rl_store *s, const char *key, char *out, size_t outlen)
{
	MDB_val v;
	MDB_txn *rtxn;
	int rv = rl_store_get(s, s->dbi[RL_STORE_T_EXTIDS], key, &v, &rtxn);

	if (rv == RL_OK) {
		if (v.mv_size >= outlen)
			rv = RL_EIO;
		else {
			memcpy(out, v.mv_data, v.mv_size);
			out[v.mv_size] = 0;
		}
	}
	rl_store_end(rtxn);
	return rv;
}

void rl_store_extid_put(struct rl_store *s, const char *key, const char *contact_id)
{
	rl_store_put_raw(s, RL_STORE_T_EXTIDS, key, strlen(key), contact_id, strlen(contact_id), 0);
}

int rl_store_mark_get(struct rl_store *s, enum rl_store_mark m, const char *key, char *agent, size_t len, uint64_t *ts)
{
	MDB_val v;
	MDB_txn *rtxn;
	int rv = rl_store_get(s, s->dbi[rl_mark_table(m)], key, &v, &rtxn);

	if (rv == RL_OK) {
		if (v.mv_size < 9 || v.mv_size - 8 > len)
			rv = RL_EIO;
		else {
			memcpy(agent, v.mv_data, v.mv_size - 8);
			agent[v.mv_size - 9] = 0;
			*ts = rl_be64((const uint8_t *)v.mv_data + v.mv_size - 8);
		}
	}
	rl_store_end(rtxn);
	return rv;
}

void rl_store_mark_put(struct rl_store *s, enum rl_store_mark m, const char *key, const char *agent, uint64_t ts)
{
	uint8_t buf[128];
	size_t n = strlen(agent) + 1;

	if (n + 8 > sizeof(buf)) {
		rl_store_fail(s, EINVAL, "mark too long");
		return;
	}
	memcpy(buf, agent, n);
	rl_put_be64(buf + n, ts);
	rl_store_put_raw(s, rl_mark_table(m), key, strlen(key), buf, n + 8, 0);
}

void rl_store_mark_del(struct rl_store *s, enum rl_store_mark m, const char *key)
{
	rl_store_del_raw(s, rl_mark_table(m), key, strlen(key), "del mark");
}

/* rl_mark_cursor_each walks cur backwards from the last key with prefix (see below). */
static int rl_mark_cursor_each(MDB_cursor *cur, const char *prefix, rl_store_mark_cb cb, void *arg)
{
	char end[256], key[256], id[128];
	size_t pl = strlen(prefix);
	MDB_val k, v;
	int rc, rv = 0;

	if (pl + 2 > sizeof(end))
		return RL_EINVAL;
	memcpy(end, prefix, pl);
	end[pl] = (char)0xff; /* past every key with the prefix */
	k = (MDB_val){pl + 1, end};
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV) : mdb_cursor_get(cur, &k, &v, MDB_LAST);
	for (; rc == 0 && rv == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		if (k.mv_size < pl || memcmp(k.mv_data, prefix, pl) != 0)
			break;
		if (k.mv_size >= sizeof(key) || v.mv_size < 9 || v.mv_size - 8 > sizeof(id))
			continue;
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = 0;
		memcpy(id, v.mv_data, v.mv_size - 8);
		id[v.mv_size - 9] = 0;
		rv = cb(arg, key, id, rl_be64((const uint8_t *)v.mv_data + v.mv_size - 8));
	}
	return rv;
}

int rl_store_each_mark_desc(struct rl_store *s, enum rl_store_mark m, const char *prefix, rl_store_mark_cb cb,
                            void *arg)
{
	MDB_txn *txn = s->txn;
	MDB_cursor *cur;
	int rc, rv;

	if (txn == NULL && (rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return rl_store_err(rc, "marks");
	if ((rc = mdb_cursor_open(txn, s->dbi[rl_mark_table(m)], &cur)) != 0) {
		rv = rl_store_err(rc, "cursor");
	} else {
		rv = rl_mark_cursor_each(cur, prefix, cb, arg);
		mdb_cursor_close(cur);
	}
	if (txn != s->txn)
		mdb_txn_abort(txn);
	return rv;
}

uint64_t rl_store_next_id(struct rl_store *s, const char *name)
{
	MDB_val v;
	MDB_txn *rtxn;
	uint64_t cur = 1;
	int rv;

	if (s->txn == NULL) {
		rl_store_fail(s, EINVAL, "next id outside a batch");
		return 0;
	}
	if ((rv = rl_store_get(s, s->dbi[RL_STORE_T_META], name, &v, &rtxn)) == RL_OK && v.mv_size == 8)
		cur = rl_be64(v.mv_data);
	else if (rv != RL_OK && rv != RL_ENOENT && s->failed == RL_OK)
		s->failed = rv;
	rl_store_set_meta(s, name, cur + 1);
	return cur;
}

uint64_t rl_store_meta(struct rl_store *s, const char *name)
{
	MDB_val v;
	MDB_txn *rtxn;
	uint64_t val = 0;

	if (rl_store_get(s, s->dbi[RL_STORE_T_META], name, &v, &rtxn) == RL_OK && v.mv_size == 8)
		val = rl_be64(v.mv_data);
	rl_store_end(rtxn);
	return val;
}

void rl_store_set_meta(struct rl_store *s, const char *name, uint64_t val)
{
	uint8_t buf[8];

	rl_put_be64(buf, val);
	rl_store_put_raw(s, RL_STORE_T_META, name, strlen(name), buf, 8, 0);
}

void rl_store_event(struct rl_store *s, const Relais__EventRecord *ev)
{
	uint8_t key[8];

	rl_put_be64(key, s->next_event);
	/* Sequence keys only grow, so MDB_APPEND keeps pages full and writes cheap. */
	rl_store_put_msg(s, RL_STORE_T_EVENTS, key, sizeof(key), &ev->base, MDB_APPEND);
	if (ev->type == RELAIS__EVENT_TYPE__EV_NOC) /* kept apart too: audits read it alone */
		rl_store_put_msg(s, RL_STORE_T_AUDIT, key, sizeof(key), &ev->base, MDB_APPEND);
	s->next_event++;
}

static int rl_store_scan(struct rl_store *s, MDB_dbi dbi, int (*each)(void *, MDB_val *, MDB_val *, MDB_txn *),
                         void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, rv = RL_OK;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return rl_store_err(rc, "scan");
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return rl_store_err(rc, "cursor");
	}
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0)
		if ((rv = each(arg, &k, &v, txn)) != 0)
			break;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rv;
}

struct rl_scan_arg {
	struct rl_store *s;
	void *cb;
	void *arg;
};

static int rl_store_agent_each(void *a, MDB_val *k, MDB_val *v, MDB_txn *txn)
{
	struct rl_scan_arg *sa = a;
	Relais__AgentRecord *r = relais__agent_record__unpack(NULL, v->mv_size, v->mv_data);

	if (r == NULL)
		return RL_EIO;
	return ((rl_store_agent_cb)sa->cb)(sa->arg, r);
}

int rl_store_each_agent(struct rl_store *s, rl_store_agent_cb cb, void *arg)
{
	struct rl_scan_arg sa = {s, (void *)cb, arg};
	return rl_store_scan(s, s->dbi[RL_STORE_T_AGENTS], rl_store_agent_each, &sa);
}

static int rl_store_live_each(void *a, MDB_val *k, MDB_val *v, MDB_txn *txn)
{
	struct rl_scan_arg *sa = a;
	MDB_val cv;
	Relais__ContactRecord *r;

	if (mdb_get(txn, sa->s->dbi[RL_STORE_T_CONTACTS], k, &cv) != 0)
		return RL_OK; /* a live key without a record cannot happen; skip it */
	if ((r = relais__contact_record__unpack(NULL, cv.mv_size, cv.mv_data)) == NULL)
		return RL_EIO;
	return ((rl_store_contact_cb)sa->cb)(sa->arg, r);
}

static int rl_store_contact_each(void *a, MDB_val *k, MDB_val *v, MDB_txn *txn)
{
	struct rl_scan_arg *sa = a;
	Relais__ContactRecord *r = relais__contact_record__unpack(NULL, v->mv_size, v->mv_data);

	(void)k;
	(void)txn;
	if (r == NULL)
		return RL_EIO;
	return ((rl_store_contact_cb)sa->cb)(sa->arg, r);
}

int rl_store_each_contact(struct rl_store *s, rl_store_contact_cb cb, void *arg)
{
	struct rl_scan_arg sa = {s, (void *)cb, arg};
	return rl_store_scan(s, s->dbi[RL_STORE_T_CONTACTS], rl_store_contact_each, &sa);
}

int rl_store_each_live(struct rl_store *s, rl_store_contact_cb cb, void *arg)
{
	struct rl_scan_arg sa = {s, (void *)cb, arg};
	return rl_store_scan(s, s->dbi[RL_STORE_T_LIVE], rl_store_live_each, &sa);
}

static int rl_store_scan_since(struct rl_store *s, MDB_dbi dbi, uint64_t since_us, rl_store_event_cb cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, rv = RL_OK;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return rl_store_err(rc, "scan");
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return rl_store_err(rc, "cursor");
	}
	/* Walk back to the first event of the window, then forward in order. */
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	while (rc == 0) {
		Relais__EventRecord *ev = relais__event_record__unpack(NULL, v.mv_size, v.mv_data);
		int older = ev == NULL || (ev->logged_us > ev->ts_us ? ev->logged_us : ev->ts_us) < since_us;
		relais__event_record__free_unpacked(ev, NULL);
		if (older)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	}
	rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_NEXT) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Relais__EventRecord *ev = relais__event_record__unpack(NULL, v.mv_size, v.mv_data);
		if (ev == NULL)
			continue;
		rv = cb(arg, ev);
		relais__event_record__free_unpacked(ev, NULL);
		if (rv != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rv;
}

int rl_store_each_event_since(struct rl_store *s, uint64_t since_us, rl_store_event_cb cb, void *arg)
{
	return rl_store_scan_since(s, s->dbi[RL_STORE_T_EVENTS], since_us, cb, arg);
}

int rl_store_each_audit_since(struct rl_store *s, uint64_t since_us, rl_store_event_cb cb, void *arg)
{
	return rl_store_scan_since(s, s->dbi[RL_STORE_T_AUDIT], since_us, cb, arg);
}

struct rl_store_snap {
	struct rl_store *s;
	MDB_txn *txn;
};

int rl_store_snap_open(struct rl_store *s, struct rl_store_snap **out)
{
	struct rl_store_snap *sn = rl_calloc(1, sizeof(*sn));
	int rc;

	sn->s = s;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &sn->txn)) != 0) {
		free(sn);
		return rl_store_err(rc, "snapshot");
	}
	*out = sn;
	return RL_OK;
}

void rl_store_snap_close(struct rl_store_snap *sn)
{
	if (sn == NULL)
		return;
	mdb_txn_abort(sn->txn);
	free(sn);
}

int rl_store_snap_agents(struct rl_store_snap *sn, rl_store_agent_cb cb, void *arg)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, rv = RL_OK;

	if ((rc = mdb_cursor_open(sn->txn, sn->s->dbi[RL_STORE_T_AGENTS], &cur)) != 0)
		return rl_store_err(rc, "cursor");
	while (rv == RL_OK && mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		Relais__AgentRecord *r = relais__agent_record__unpack(NULL, v.mv_size, v.mv_data);
		rv = r != NULL ? cb(arg, r) : RL_EIO;
	}
	mdb_cursor_close(cur);
	return rv;
}

/* rl_logged_at: when the event under v was logged (0: unreadable). */
static uint64_t rl_logged_at(const MDB_val *v)
{
	Relais__EventRecord *ev = relais__event_record__unpack(NULL, v->mv_size, v->mv_data);
	uint64_t at = ev == NULL ? 0 : ev->logged_us > ev->ts_us ? ev->logged_us : ev->ts_us;

	relais__event_record__free_unpacked(ev, NULL);
	return at;
}

/* rl_snap_seek puts cur on the first event logged at or after since_us: a binary search over
 * the sequence numbers, since the log time never goes back along them. */
static int rl_snap_seek(MDB_cursor *cur, uint64_t since_us, MDB_val *k, MDB_val *v)
{
	uint64_t lo, hi;
	uint8_t key[8];

	if (mdb_cursor_get(cur, k, v, MDB_FIRST) != 0 || k->mv_size != 8)
		return MDB_NOTFOUND;
	lo = rl_be64(k->mv_data);
	if (mdb_cursor_get(cur, k, v, MDB_LAST) != 0)
		return MDB_NOTFOUND;
	hi = rl_be64(k->mv_data) + 1; /* the answer is in [lo, hi]; hi: none */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		MDB_val mk = {8, key};
		rl_put_be64(key, mid);
		if (mdb_cursor_get(cur, &mk, v, MDB_SET_RANGE) != 0)
			break;
		if (rl_logged_at(v) >= since_us)
			hi = mid;
		else
			lo = rl_be64(mk.mv_data) + 1;
	}
	rl_put_be64(key, lo);
	*k = (MDB_val){8, key};
	return mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
}

int rl_store_snap_events(struct rl_store_snap *sn, uint64_t since_us, rl_store_raw_cb cb, void *arg)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, rv = RL_OK;

	if ((rc = mdb_cursor_open(sn->txn, sn->s->dbi[RL_STORE_T_EVENTS], &cur)) != 0)
		return rl_store_err(rc, "cursor");
	for (rc = rl_snap_seek(cur, since_us, &k, &v); rc == 0 && rv == RL_OK;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		rv = cb(arg, v.mv_data, v.mv_size);
	mdb_cursor_close(cur);
	return rv;
}

/* ---------------------------------------------------------------------------------------- */
/* replication: a standby applies the leader's batches, or installs a copy of its store */

/* rl_apply_refuse logs why a batch is refused; RL_EINVAL. */
static int rl_apply_refuse(uint64_t seq, int64_t term, const char *why)
{
	rl_log(RL_LOG_WARNING, "store batch refused seq=%llu term=%lld why=\"%s\"", (unsigned long long)seq,
	       (long long)term, why);
	return RL_EINVAL;
}

/* rl_apply_check validates a whole batch before any of it is written, so that a refusal leaves
 * the transaction as it was. */
static int rl_apply_check(struct rl_store *s, uint64_t seq, int64_t term, Relais__StoreOp *const *ops, size_t n)
{
	size_t maxkey = (size_t)mdb_env_get_maxkeysize(s->env);
	uint8_t pos[RL_REPL_LEN];
	int has_pos = 0;

	if (seq != s->txn_pos.seq + 1)
		return rl_apply_refuse(seq, term, "not the next batch");
	if (term < s->txn_pos.term)
		return rl_apply_refuse(seq, term, "older term");
	rl_pos_pack(pos, (struct rl_store_pos){seq, term});
	for (size_t i = 0; i < n; i++) {
		const Relais__StoreOp *op = ops[i];
		if (op->table >= RL_STORE_NTABLES)
			return rl_apply_refuse(seq, term, "unknown table");
		if (op->key.len == 0 || op->key.len > maxkey)
			return rl_apply_refuse(seq, term, "key size");
		/* Only live holds empty values (a key is the whole record there). */
		if (!op->del && op->value.len == 0 && op->table != RL_STORE_T_LIVE)
			return rl_apply_refuse(seq, term, "put without a value");
		if (op->table != RL_STORE_T_META || op->key.len != sizeof(RL_REPL_KEY) - 1 ||
		    memcmp(op->key.data, RL_REPL_KEY, op->key.len) != 0)
			continue;
		if (op->del || op->value.len != RL_REPL_LEN || memcmp(op->value.data, pos, RL_REPL_LEN) != 0)
			return rl_apply_refuse(seq, term, "position not the batch's");
		has_pos = 1;
	}
	return has_pos ? RL_OK : rl_apply_refuse(seq, term, "no position");
}

/* rl_apply_op writes one op as the leader wrote it; an LMDB code. */
static int rl_apply_op(struct rl_store *s, const Relais__StoreOp *op)
{
	MDB_val k = {op->key.len, op->key.data}, v = {op->value.len, op->value.len ? op->value.data : (void *)""};
	MDB_dbi dbi = s->dbi[op->table];
	int rc = MDB_KEYEXIST, seqkeys = op->table == RL_STORE_T_EVENTS || op->table == RL_STORE_T_AUDIT;

	if (op->del)
		return (rc = mdb_del(s->txn, dbi, &k, NULL)) == MDB_NOTFOUND ? 0 : rc;
	/* The logs' keys grow, as on the leader: appending keeps their pages as full. */
	if (seqkeys)
		rc = mdb_put(s->txn, dbi, &k, &v, MDB_APPEND);
	if (rc == MDB_KEYEXIST)
		rc = mdb_put(s->txn, dbi, &k, &v, 0);
	/* A standby that becomes the leader goes on after the last event it holds. */
	if (rc == 0 && seqkeys && k.mv_size == 8 && rl_be64(k.mv_data) >= s->next_event)
		s->next_event = rl_be64(k.mv_data) + 1;
	return rc;
}

int rl_store_apply(struct rl_store *s, uint64_t seq, int64_t term, Relais__StoreOp *const *ops, size_t n)
{
	int rv, rc;

	if (s->txn == NULL || s->writes > 0)
		return rl_apply_refuse(seq, term, "no transaction of its own");
	if (s->failed != RL_OK)
		return s->failed;
	if ((rv = rl_apply_check(s, seq, term, ops, n)) != RL_OK)
		return rv;
	s->applied = 1;
	for (size_t i = 0; i < n; i++)
		if ((rc = rl_apply_op(s, ops[i])) != 0) {
			/* Half a batch is in the transaction: the commit must drop it all. */
			rl_store_fail(s, rc, "apply");
			return s->failed;
		}
	s->txn_pos = (struct rl_store_pos){seq, term};
	return RL_OK;
}

int rl_store_copy_fd(struct rl_store *s, int fd)
{
	/* A plain copy of the pages in use: faster than compacting, and a copy made while the
	 * writer goes on is consistent either way (it reads one snapshot). */
	int rc = mdb_env_copyfd2(s->env, fd, 0);

	return rc == 0 ? RL_OK : rl_store_err(rc, "copy");
}

int rl_store_copy_pos(const char *path, struct rl_store_pos *out)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi meta;
	int rc;

	if ((rc = mdb_env_create(&env)) != 0)
		return rl_store_err(rc, "copy open");
	mdb_env_set_maxdbs(env, 16);
	/* No lock file: nobody else opens a copy, and it may sit in any directory. */
	if ((rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0600)) == 0 &&
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) == 0 &&
	    (rc = mdb_dbi_open(txn, rl_store_names[RL_STORE_T_META], 0, &meta)) == 0)
		rc = rl_store_read_pos(txn, meta, out);
	if (txn != NULL)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc == 0 ? RL_OK : rl_store_err(rc, "copy read");
}

/* rl_fsync_path syncs a file or a directory (flags: O_RDONLY, with O_DIRECTORY for one). */
static int rl_fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC), rv;

	if (fd < 0)
		return -1;
	rv = fsync(fd);
	close(fd);
	return rv;
}

int rl_store_install(const char *dir, const char *copy_path)
{
	char data[PATH_MAX], lock[PATH_MAX];
	struct rl_store_pos pos;
	int rv;

	if ((rv = rl_store_copy_pos(copy_path, &pos)) != RL_OK)
		return rv;
	if ((size_t)snprintf(data, sizeof(data), "%s/data.mdb", dir) >= sizeof(data) ||
	    (size_t)snprintf(lock, sizeof(lock), "%s/lock.mdb", dir) >= sizeof(lock))
		return RL_EINVAL;
	/* The copy is on disk before its name is, and the name before we say so; the old lock
	 * file's reader table speaks of the replaced environment. */
	if ((mkdir(dir, 0700) != 0 && errno != EEXIST) || rl_fsync_path(copy_path, O_RDONLY) != 0 ||
	    rename(copy_path, data) != 0 || (unlink(lock) != 0 && errno != ENOENT) ||
	    rl_fsync_path(dir, O_RDONLY | O_DIRECTORY) != 0) {
		rl_log(RL_LOG_ERR, "store install dir=%s err=\"%s\"", dir, strerror(errno));
		return RL_EIO;
	}
	rl_log(RL_LOG_NOTICE, "store installed dir=%s seq=%llu term=%lld", dir, (unsigned long long)pos.seq,
	       (long long)pos.term);
	return RL_OK;
}

int rl_store_each_raw(struct rl_store *s, enum rl_store_table t, rl_store_kv_cb cb, void *arg)
{
	MDB_txn *txn = s->txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, rv = RL_OK;

	if ((unsigned)t >= RL_STORE_NTABLES)
		return RL_EINVAL;
	if (txn == NULL && (rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return rl_store_err(rc, "each raw");
	if ((rc = mdb_cursor_open(txn, s->dbi[t], &cur)) != 0) {
		rv = rl_store_err(rc, "cursor");
	} else {
		while (rv == 0 && mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0)
			rv = cb(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		mdb_cursor_close(cur);
	}
	if (txn != s->txn)
		mdb_txn_abort(txn);
	return rv;
}
