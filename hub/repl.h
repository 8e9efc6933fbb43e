/*
 * repl.h - the leader's end of synchronous replication (docs/ha.md).
 *
 * The leader listens on its replication address with a pair1 socket of its own (one peer: the
 * standby). The standby proves its key (Hello{ROLE_HUB, principal = its name}, a challenge,
 * its signature), then subscribes from the last batch its store holds. When the leader has
 * that batch in its log (or is exactly there) it streams what follows; otherwise it first
 * sends a copy of its whole store (ReplSnapshot chunks, copied by a thread of its own with
 * rl_store_copy_fd) and the standby subscribes again from the copy's batch. Each committed
 * batch goes out as ReplBatch parts of at most RL_REPL_PART_BYTES; the standby answers
 * ReplAck{seq} once the batch is durable there.
 *
 * Everything but the copy runs on the engine's thread: sends never block (what the socket
 * cannot take now waits in the log for the next rl_repl_pump). A standby that leaves a
 * committed batch unacknowledged for standby_timeout_ms is dropped (its link closed): the
 * leader goes on alone or holds, as its sync mode says (hub/main.c).
 */
#ifndef RL_REPL_H
#define RL_REPL_H

#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

#include "rl_key.h"
#include "rl_link.h"
#include "rl_wire.h"
#include "store.h"

#define RL_REPL_PART_BYTES (48 * 1024)

struct rl_loop;
struct rl_store;

/* A hub allowed to stand by: its name and public key. */
struct rl_repl_peer {
	char name[RL_WIRE_MAX_ID + 1];
	uint8_t pk[RL_KEY_PUB];
};

struct rl_repl_conf {
	const char *listen; /* the replication URL (tls+tcp://IP:port) */
	const struct rl_tls *tls;
	const struct rl_repl_peer *peers; /* copied */
	int npeers;
	const char *snap_path; /* where copies of the store are written before they are sent */
	struct rl_store *store;
	size_t log_bytes;            /* recent batches kept for a standby that comes back */
	unsigned standby_timeout_ms; /* a batch unacknowledged this long: the standby is dropped */
	/* The store's position before the engine opened it: the engine's first batch (restoring
	 * its model), if captured, is logged after it, so a standby that was in step with the
	 * store goes on from the log instead of taking a copy. */
	struct rl_store_pos before;
};

struct rl_repl;

/* rl_repl_open listens (frames arrive in loop under tag_sock; finished copies and the
 * socket's pipe events under tag_snap, for rl_repl_event). Errors: RL_ENET, RL_ECONFIG, RL_EFULL. */
int rl_repl_open(struct rl_repl **out, const struct rl_repl_conf *c, struct rl_loop *loop, int tag_sock, int tag_snap);
void rl_repl_close(struct rl_repl *r);

/* rl_repl_batch logs the store's last committed batch and sends it when it can (an
 * rl_engine_commit_fn, arg the repl). */
void rl_repl_batch(void *arg, struct rl_store *s);

/* rl_repl_input handles a frame from the replication socket (msg freed). now_us: monotonic. */
void rl_repl_input(struct rl_repl *r, nng_msg *msg, uint64_t now_us);

/* rl_repl_event takes what came under tag_snap (the loop event's ptr): a finished copy, a
 * standby's link coming or going. */
void rl_repl_event(struct rl_repl *r, void *job);

/* rl_repl_pump sends what waits and drops a standby that stopped acknowledging. Call after
 * each batch and every tick. */
void rl_repl_pump(struct rl_repl *r, uint64_t now_us);

/* rl_repl_synced: the standby's name once it has acknowledged every batch up to the one that
 * was last when it subscribed (and is still linked), else "". */
const char *rl_repl_synced(const struct rl_repl *r);

/* rl_repl_standby: the proven standby's name, "" for none. */
const char *rl_repl_standby(const struct rl_repl *r);

/* rl_repl_event_free frees an event of tag_snap left in the loop after rl_repl_close. */
void rl_repl_event_free(void *job);

/* rl_repl_acked: the last batch the standby holds durably (0: none, or no standby). */
uint64_t rl_repl_acked(const struct rl_repl *r);

/* rl_repl_last: the last batch logged. */
uint64_t rl_repl_last(const struct rl_repl *r);

#endif
