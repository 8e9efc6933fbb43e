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
 *   meta      "next_contact" -> u64
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
