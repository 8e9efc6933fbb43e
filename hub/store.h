/*
 * store.h - the hub's durable state in LMDB.
 *
 * One environment, named databases:
 *   agents    agent id   -> AgentRecord      contacts  contact id -> ContactRecord
 *   live      contact id -> ""  (contacts not yet ended: start-up reads only these)
 *   extids    submitter "/" ext_id -> contact id (idempotent submission)
 *   lastagent tenant "/" caller     -> agent id "\0" u64 time (returning callers: sticky_s)
 *   lost      tenant "/" caller "/" dialled -> contact id "\0" u64 time (a caller lost with a site:
 *             calling again within represent_window_s gets the contact's place back)
 *   journals  site "/" journal id "/" part -> "" "\0" u64 time (a survivable site's handover
 *             parts applied: a part sent again is applied once)
 *   recordings tenant "/" answered time (16 hex digits) "/" contact id -> contact id "\0" u64
 *             time (the calls whose recording a node reported: relaisctl recordings)
 *   events    big-endian u64 seq  -> EventRecord (append-only; the next seq follows the last key)
 *   audit     the same seq -> EventRecord, for the operators' site commands (EV_NOC) only
 *   meta      "next_contact" -> u64; "repl" -> the last batch's position (below)
 * Writes happen only inside rl_store_begin .. rl_store_commit; commit fsyncs (the
 * environment is opened without MDB_NOSYNC / MDB_NOMETASYNC). Reads use the batch's write
 * transaction when one is open, else a short read transaction.
 *
 * Fail-stop without bookkeeping: a write that fails is logged and remembered by the store;
 * the batch's rl_store_commit then aborts the transaction and returns that error, so no
 * caller checks or tracks write results (the hub stops; a restart recovers the last commit).
 */
#ifndef RL_STORE_H
#define RL_STORE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "relais.pb-c.h"

struct rl_bump;

struct rl_store;

/* rl_store_open opens (creating) the environment in dir. Errors: RL_EIO. */
int rl_store_open(struct rl_store **out, const char *dir, size_t map_mb);
void rl_store_close(struct rl_store *s);

/* A write transaction for one batch. RL_EIO on failure. */
int rl_store_begin(struct rl_store *s);
/* rl_store_commit makes the batch durable (RL_OK), or returns the batch's first failed write
 * (RL_EIO, RL_ENOMEM: the map is full) or the commit's own failure, having dropped the batch. */
int rl_store_commit(struct rl_store *s);
void rl_store_abort(struct rl_store *s);
int rl_store_in_txn(const struct rl_store *s);

/* Records (inside a batch; a failure is reported by the commit). */
void rl_store_put_agent(struct rl_store *s, const Relais__AgentRecord *r);
void rl_store_put_contact(struct rl_store *s, const Relais__ContactRecord *r, int live);

/* rl_store_get_* unpack into a new record the caller frees (…__free_unpacked). RL_ENOENT. */
int rl_store_get_agent(struct rl_store *s, const char *id, Relais__AgentRecord **out);
int rl_store_get_contact(struct rl_store *s, const char *id, Relais__ContactRecord **out);
/* rl_store_get_contact_in: the same, unpacked into bump (NULL: malloc; bump.h): RL_EIO if
 * it does not fit (or does not decode), RL_ENOENT if there is no such contact */
int rl_store_get_contact_in(struct rl_store *s, const char *id, struct rl_bump *bump, Relais__ContactRecord **out);

/* rl_store_extid_get copies the contact id for key into out (size RL_WIRE_MAX_ID+1). */
int rl_store_extid_get(struct rl_store *s, const char *key, char *out, size_t outlen);
void rl_store_extid_put(struct rl_store *s, const char *key, const char *contact_id);

/* Marks: an id and a time under a key, in one of three tables. get: RL_ENOENT. */
enum rl_store_mark { RL_MARK_LASTAGENT, RL_MARK_LOST, RL_MARK_JOURNAL, RL_MARK_RECORDING };
int rl_store_mark_get(struct rl_store *s, enum rl_store_mark m, const char *key, char *id, size_t len, uint64_t *ts);
void rl_store_mark_put(struct rl_store *s, enum rl_store_mark m, const char *key, const char *id, uint64_t ts);
void rl_store_mark_del(struct rl_store *s, enum rl_store_mark m, const char *key);
/* rl_store_each_mark_desc calls cb with each mark whose key starts with prefix, the greatest
 * key first, until cb returns nonzero (returned). In the batch's transaction if one is open. */
typedef int (*rl_store_mark_cb)(void *arg, const char *key, const char *id, uint64_t ts);
int rl_store_each_mark_desc(struct rl_store *s, enum rl_store_mark m, const char *prefix, rl_store_mark_cb cb,
                            void *arg);

/* rl_store_next_id returns and advances a durable counter (inside a batch). */
uint64_t rl_store_next_id(struct rl_store *s, const char *name);

/* rl_store_meta reads a number kept in meta (0 when absent); rl_store_set_meta writes one
 * (inside a batch). */
uint64_t rl_store_meta(struct rl_store *s, const char *name);
void rl_store_set_meta(struct rl_store *s, const char *name, uint64_t val);

/* rl_store_event appends an event (inside a batch). */
void rl_store_event(struct rl_store *s, const Relais__EventRecord *ev);

/* Iteration at start-up. The callback returns 0 to go on. */
typedef int (*rl_store_agent_cb)(void *arg, Relais__AgentRecord *r); /* callback owns r */
typedef int (*rl_store_contact_cb)(void *arg, Relais__ContactRecord *r);
typedef int (*rl_store_event_cb)(void *arg, const Relais__EventRecord *ev);
int rl_store_each_agent(struct rl_store *s, rl_store_agent_cb cb, void *arg);
int rl_store_each_live(struct rl_store *s, rl_store_contact_cb cb, void *arg);
/* Every contact, live or ended (a survivable node's journal). */
int rl_store_each_contact(struct rl_store *s, rl_store_contact_cb cb, void *arg);
/* Events newer than since_us, oldest first; the operators' site commands (EV_NOC) alone. */
int rl_store_each_event_since(struct rl_store *s, uint64_t since_us, rl_store_event_cb cb, void *arg);
int rl_store_each_audit_since(struct rl_store *s, uint64_t since_us, rl_store_event_cb cb, void *arg);

/* A snapshot for another thread than the engine's (reports): its own read transaction,
 * begun and ended on the calling thread (the environment keeps a reader slot per thread, so
 * a thread holds one snapshot at a time). LMDB's readers never block the writer, but while a
 * snapshot is open the pages it sees are not reused: keep it for seconds, not hours.
 * rl_store_snap_events calls cb with each event's packed EventRecord (valid during the call)
 * from the first one logged at or after since_us (the log is in logged order: an event's
 * logged_us, else its ts_us), oldest first, until cb returns nonzero (that value is returned).
 * Errors: RL_EIO. */
struct rl_store_snap;
typedef int (*rl_store_raw_cb)(void *arg, const void *buf, size_t len);
int rl_store_snap_open(struct rl_store *s, struct rl_store_snap **out);
int rl_store_snap_agents(struct rl_store_snap *sn, rl_store_agent_cb cb, void *arg);
int rl_store_snap_events(struct rl_store_snap *sn, uint64_t since_us, rl_store_raw_cb cb, void *arg);
void rl_store_snap_close(struct rl_store_snap *sn);

/*
 * Replication between hubs (docs/ha.md). Every write transaction that changes something is a
 * batch: its commit also writes meta "repl" = big-endian u64 seq, big-endian i64 term, seq one
 * more than the previous batch's. A commit that wrote nothing stays free (LMDB skips its
 * fsync) and is no batch. The leader captures each batch's writes in order and sends them; a
 * standby applies them in its own transactions and so holds the same tables byte for byte,
 * its meta "repl" included (the batch carries it). A standby far behind installs a copy of the
 * leader's environment instead.
 */

/* The tables, numbered for the wire (StoreOp.table): never renumber them. */
enum rl_store_table {
	RL_STORE_T_AGENTS,
	RL_STORE_T_CONTACTS,
	RL_STORE_T_LIVE,
	RL_STORE_T_EXTIDS,
	RL_STORE_T_LASTAGENT,
	RL_STORE_T_LOST,
	RL_STORE_T_JOURNALS,
	RL_STORE_T_RECORDINGS,
	RL_STORE_T_EVENTS,
	RL_STORE_T_AUDIT,
	RL_STORE_T_META,
	RL_STORE_NTABLES
};

/* A batch's position: its number and the term of the leader that committed it. */
struct rl_store_pos {
	uint64_t seq;
	int64_t term;
};

/* rl_store_pos gives the last committed batch ({0, 0} on a new store); a batch still open is
 * not counted. */
void rl_store_pos(struct rl_store *s, struct rl_store_pos *out);
/* rl_store_set_term sets the term that the batches committed from now on carry (0 until set). */
void rl_store_set_term(struct rl_store *s, int64_t term);

/* One write of a captured batch: a put (del 0, val/vlen the value, vlen may be 0) or a delete
 * (del 1, val NULL). */
struct rl_store_op {
	uint8_t table; /* enum rl_store_table */
	uint8_t del;
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
};
struct rl_store_batch {
	uint64_t seq;
	int64_t term;
	const struct rl_store_op *ops; /* in the order written; the meta "repl" put is among them */
	size_t nops;
	size_t bytes; /* the keys' and values' bytes together */
};

/* rl_store_capture turns capture on or off from the next rl_store_begin: a batch begun with it
 * on records its own writes (not the batches it applies) into an arena the store keeps. */
void rl_store_capture(struct rl_store *s, int on);
/* rl_store_last_batch: the batch that the last rl_store_commit made durable, if it was captured,
 * else NULL (capture off, nothing written, the commit failed, or the batch was aborted). The
 * store owns it and its bytes; valid until the next rl_store_begin. */
const struct rl_store_batch *rl_store_last_batch(const struct rl_store *s);

/* rl_store_apply writes a leader's batch (seq, term, ops[0..n-1], as captured) inside
 * rl_store_begin .. rl_store_commit; several batches may share one transaction, which must
 * write nothing else (its commit adds no "repl" of its own: the batches' own meta "repl" puts
 * record the position, which rl_store_pos gives once committed). Refused with RL_EINVAL,
 * nothing of the batch applied and the transaction still usable: no transaction open or it
 * wrote on its own, seq not one more than the last batch (committed or applied in this
 * transaction), term lower than that batch's, an unknown table, an empty key or one longer than
 * LMDB's maximum, a put without a value in another table than live, a batch whose meta "repl"
 * put is missing or not (seq, term). A delete of a key already absent is no error. A write that
 * fails midway (RL_EIO, RL_ENOMEM) is returned and remembered: the commit then drops
 * the whole transaction and returns it (fail-stop, as for every write). The ops stay the
 * caller's. */
int rl_store_apply(struct rl_store *s, uint64_t seq, int64_t term, Relais__StoreOp *const *ops, size_t n);

/* rl_store_copy_fd writes a consistent copy of the environment (the last committed batch, its
 * meta "repl" included) to fd, which stays the caller's. Callable from any thread while another
 * commits batches, but not from a thread holding the store's write transaction (the copy waits
 * for the writer's lock a moment to read a consistent state) or a snapshot (rl_store_snap_open:
 * the copy takes the thread's reader slot). Errors: RL_EIO. */
int rl_store_copy_fd(struct rl_store *s, int fd);
/* rl_store_copy_pos reads the position a copy at path holds (read-only, no lock file).
 * Errors: RL_EIO (not a readable store copy). */
int rl_store_copy_pos(const char *path, struct rl_store_pos *out);
/* rl_store_install makes the copy at copy_path the store of dir (created if missing), durably:
 * the copy is synced, renamed over dir/data.mdb, a stale dir/lock.mdb removed, dir synced. No
 * store may be open on dir. copy_path must be on dir's filesystem (e.g. inside dir); it is gone
 * on success. Errors: RL_EIO (copy_path no store copy, or a file operation failed), RL_EINVAL
 * (a path too long). */
int rl_store_install(const char *dir, const char *copy_path);

/* rl_store_each_raw calls cb with every key and value of table t in key order (in the open
 * batch's transaction if one is open, else in a read transaction of its own), until cb returns
 * nonzero (returned). The bytes are valid during the call. Errors: RL_EINVAL (no such table),
 * RL_EIO. */
typedef int (*rl_store_kv_cb)(void *arg, const void *k, size_t kl, const void *v, size_t vl);
int rl_store_each_raw(struct rl_store *s, enum rl_store_table t, rl_store_kv_cb cb, void *arg);

/* Counters. */
uint64_t rl_store_commits(const struct rl_store *s);

/* How long commits took (mdb_txn_commit: the writes and the fsyncs), as a histogram: n[i]
 * commits took at most RL_STORE_COMMIT_LE_US[i] (not cumulative; the last bucket is
 * everything slower), sum_us all of them together. */
#define RL_STORE_COMMIT_BUCKETS 11
extern const uint64_t RL_STORE_COMMIT_LE_US[RL_STORE_COMMIT_BUCKETS - 1];
struct rl_store_commit_hist {
	uint64_t n[RL_STORE_COMMIT_BUCKETS];
	uint64_t sum_us;
};
const struct rl_store_commit_hist *rl_store_commit_times(const struct rl_store *s);

#endif
