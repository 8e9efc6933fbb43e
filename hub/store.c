#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_time.h"

struct rl_store {
	MDB_env *env;
	MDB_txn *txn; /* open write transaction of the current batch */
	MDB_dbi agents, contacts, live, extids, marks[4], events, audit, meta;
	uint64_t next_event;
	uint64_t commits;
	struct rl_store_commit_hist commit_times;
	int failed; /* first failed write of the open batch (RL_OK: none) */
};

static int rl_store_err(int rc, const char *what)
{
	rl_log(RL_LOG_ERR, "lmdb %s err=\"%s\"", what, mdb_strerror(rc));
	return rc == ENOMEM ? RL_ENOMEM : RL_EIO;
}

static uint64_t rl_be64(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return v;
}

static void rl_put_be64(void *p, uint64_t v)
{
	uint8_t *b = p;
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

/* rl_store_fail remembers the first failed write of the batch: the commit reports it. */
static void rl_store_fail(struct rl_store *s, int rc, const char *what)
{
	int rv = rl_store_err(rc, what);

	if (s->failed == RL_OK)
		s->failed = rv;
}

int rl_store_open(struct rl_store **out, const char *dir, size_t map_mb)
{
	struct rl_store *s = rl_calloc(1, sizeof(*s));
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
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
	if ((rc = mdb_dbi_open(txn, "agents", MDB_CREATE, &s->agents)) != 0 ||
	    (rc = mdb_dbi_open(txn, "contacts", MDB_CREATE, &s->contacts)) != 0 ||
	    (rc = mdb_dbi_open(txn, "live", MDB_CREATE, &s->live)) != 0 ||
	    (rc = mdb_dbi_open(txn, "extids", MDB_CREATE, &s->extids)) != 0 ||
	    (rc = mdb_dbi_open(txn, "lastagent", MDB_CREATE, &s->marks[RL_MARK_LASTAGENT])) != 0 ||
	    (rc = mdb_dbi_open(txn, "lost", MDB_CREATE, &s->marks[RL_MARK_LOST])) != 0 ||
	    (rc = mdb_dbi_open(txn, "journals", MDB_CREATE, &s->marks[RL_MARK_JOURNAL])) != 0 ||
	    (rc = mdb_dbi_open(txn, "recordings", MDB_CREATE, &s->marks[RL_MARK_RECORDING])) != 0 ||
	    (rc = mdb_dbi_open(txn, "events", MDB_CREATE, &s->events)) != 0 ||
	    (rc = mdb_dbi_open(txn, "audit", MDB_CREATE, &s->audit)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0)
		goto fail;
	if ((rc = mdb_cursor_open(txn, s->events, &cur)) != 0)
		goto fail;
	s->next_event = 1;
	if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
		s->next_event = rl_be64(k.mv_data) + 1;
	mdb_cursor_close(cur);
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
	return RL_OK;
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

int rl_store_commit(struct rl_store *s)
{
	int rc;

	if (s->txn == NULL)
		return RL_OK;
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
	s->commits++;
	rl_store_commit_timed(s, rl_mono_us() - t0);
	return RL_OK;
}

void rl_store_abort(struct rl_store *s)
{
	if (s->txn != NULL)
		mdb_txn_abort(s->txn);
	s->txn = NULL;
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

static void rl_store_put_raw(struct rl_store *s, MDB_dbi dbi, const void *key, size_t klen, const void *val,
                             size_t vlen, unsigned flags)
{
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
	int rc;

	if (s->txn == NULL)
		rl_store_fail(s, EINVAL, "put outside a batch");
	else if ((rc = mdb_put(s->txn, dbi, &k, &v, flags)) != 0)
		rl_store_fail(s, rc, "put");
}

/* rl_store_put_msg packs a record (on the stack when small) and writes it under key. */
static void rl_store_put_msg(struct rl_store *s, MDB_dbi dbi, const void *key, size_t klen, const ProtobufCMessage *m,
                             unsigned flags)
{
	uint8_t stackbuf[2048], *buf = stackbuf;
	size_t n = protobuf_c_message_get_packed_size(m);

	if (n > sizeof(stackbuf))
		buf = rl_malloc(n);
	protobuf_c_message_pack(m, buf);
	rl_store_put_raw(s, dbi, key, klen, buf, n, flags);
	if (buf != stackbuf)
		free(buf);
}

void rl_store_put_agent(struct rl_store *s, const Relais__AgentRecord *r)
{
	rl_store_put_msg(s, s->agents, r->agent_id, strlen(r->agent_id), &r->base, 0);
}

void rl_store_put_contact(struct rl_store *s, const Relais__ContactRecord *r, int live)
{
	MDB_val k = {strlen(r->contact_id), r->contact_id};
	int rc;

	rl_store_put_msg(s, s->contacts, r->contact_id, k.mv_size, &r->base, 0);
	if (live)
		rl_store_put_raw(s, s->live, r->contact_id, k.mv_size, "", 0, 0);
	else if (s->txn != NULL && (rc = mdb_del(s->txn, s->live, &k, NULL)) != 0 && rc != MDB_NOTFOUND)
		rl_store_fail(s, rc, "del live");
}

/* rl_store_get_msg unpacks the record under id into a new message of type desc. */
static int rl_store_get_msg(struct rl_store *s, MDB_dbi dbi, const char *id, const ProtobufCMessageDescriptor *desc,
                            ProtobufCMessage **out)
{
	MDB_val v;
	MDB_txn *rtxn;
	int rv = rl_store_get(s, dbi, id, &v, &rtxn);

	if (rv == RL_OK) {
		*out = protobuf_c_message_unpack(desc, NULL, v.mv_size, v.mv_data);
		rv = *out ? RL_OK : RL_EIO;
	}
	rl_store_end(rtxn);
	return rv;
}

int rl_store_get_agent(struct rl_store *s, const char *id, Relais__AgentRecord **out)
{
	return rl_store_get_msg(s, s->agents, id, &relais__agent_record__descriptor, (ProtobufCMessage **)out);
}

int rl_store_get_contact(struct rl_store *s, const char *id, Relais__ContactRecord **out)
{
	return rl_store_get_msg(s, s->contacts, id, &relais__contact_record__descriptor, (ProtobufCMessage **)out);
}

int rl_store_extid_get(struct rl_store *s, const char *key, char *out, size_t outlen)
{
	MDB_val v;
	MDB_txn *rtxn;
	int rv = rl_store_get(s, s->extids, key, &v, &rtxn);

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
	rl_store_put_raw(s, s->extids, key, strlen(key), contact_id, strlen(contact_id), 0);
}

int rl_store_mark_get(struct rl_store *s, enum rl_store_mark m, const char *key, char *agent, size_t len, uint64_t *ts)
{
	MDB_val v;
	MDB_txn *rtxn;
	int rv = rl_store_get(s, s->marks[m], key, &v, &rtxn);

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
	rl_store_put_raw(s, s->marks[m], key, strlen(key), buf, n + 8, 0);
}

void rl_store_mark_del(struct rl_store *s, enum rl_store_mark m, const char *key)
{
	MDB_val k = {strlen(key), (void *)key};
	int rc;

	if (s->txn != NULL && (rc = mdb_del(s->txn, s->marks[m], &k, NULL)) != 0 && rc != MDB_NOTFOUND)
		rl_store_fail(s, rc, "del mark");
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
	if ((rc = mdb_cursor_open(txn, s->marks[m], &cur)) != 0) {
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
	uint8_t buf[8];
	uint64_t cur = 1;
	int rv;

	if (s->txn == NULL) {
		rl_store_fail(s, EINVAL, "next id outside a batch");
		return 0;
	}
	if ((rv = rl_store_get(s, s->meta, name, &v, &rtxn)) == RL_OK && v.mv_size == 8)
		cur = rl_be64(v.mv_data);
	else if (rv != RL_OK && rv != RL_ENOENT && s->failed == RL_OK)
		s->failed = rv;
	rl_put_be64(buf, cur + 1);
	rl_store_put_raw(s, s->meta, name, strlen(name), buf, 8, 0);
	return cur;
}

void rl_store_event(struct rl_store *s, const Relais__EventRecord *ev)
{
	uint8_t key[8];

	rl_put_be64(key, s->next_event);
	/* Sequence keys only grow, so MDB_APPEND keeps pages full and writes cheap. */
	rl_store_put_msg(s, s->events, key, sizeof(key), &ev->base, MDB_APPEND);
	if (ev->type == RELAIS__EVENT_TYPE__EV_NOC) /* kept apart too: audits read it alone */
		rl_store_put_msg(s, s->audit, key, sizeof(key), &ev->base, MDB_APPEND);
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
	return rl_store_scan(s, s->agents, rl_store_agent_each, &sa);
}

static int rl_store_live_each(void *a, MDB_val *k, MDB_val *v, MDB_txn *txn)
{
	struct rl_scan_arg *sa = a;
	MDB_val cv;
	Relais__ContactRecord *r;

	if (mdb_get(txn, sa->s->contacts, k, &cv) != 0)
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
	return rl_store_scan(s, s->contacts, rl_store_contact_each, &sa);
}

int rl_store_each_live(struct rl_store *s, rl_store_contact_cb cb, void *arg)
{
	struct rl_scan_arg sa = {s, (void *)cb, arg};
	return rl_store_scan(s, s->live, rl_store_live_each, &sa);
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
	return rl_store_scan_since(s, s->events, since_us, cb, arg);
}

int rl_store_each_audit_since(struct rl_store *s, uint64_t since_us, rl_store_event_cb cb, void *arg)
{
	return rl_store_scan_since(s, s->audit, since_us, cb, arg);
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

	if ((rc = mdb_cursor_open(sn->txn, sn->s->agents, &cur)) != 0)
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

	if ((rc = mdb_cursor_open(sn->txn, sn->s->events, &cur)) != 0)
		return rl_store_err(rc, "cursor");
	for (rc = rl_snap_seek(cur, since_us, &k, &v); rc == 0 && rv == RL_OK;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		rv = cb(arg, v.mv_data, v.mv_size);
	mdb_cursor_close(cur);
	return rv;
}
