/*
 * ha.h - a hub's candidacy for leadership, held under an etcd lease (docs/ha.md).
 *
 * A candidate runs on a thread of its own (no etcd call ever runs on the engine's thread).
 * While no one leads it creates the leader key under a fresh lease with a transaction that
 * only succeeds if the key does not exist; the winner renews the lease every renew_ms. The
 * term it leads is (lease id, create revision of the key): the fencing token that its writes
 * will carry. A leader that has not renewed in time fences itself: it stops being leader
 * margin_ms before the lease can have expired at etcd, counted on the monotonic clock from
 * the send time of its last successful keepalive, and every etcd call is bounded so that it
 * ends by then. Others read who leads (name and address) for their redirects.
 *
 * Transitions are reported to a callback on the candidate's thread; rl_ha_post_event is a
 * callback that copies each event into a rl_loop for its owner. rl_ha_may_serve answers
 * from any thread, from the clock alone, whether this process may act as leader now: it
 * stays right after a pause (SIGSTOP, a stalled thread) that kept the callback from running.
 */
#ifndef RL_HA_H
#define RL_HA_H

#include <stdint.h>

#define RL_HA_NAME_MAX 64
/* The store's meta entry holding the sync id a hub's store holds (hubha.c writes it as leader,
 * standby.c reads it as standby: rl_ha_set_local). */
#define RL_HA_SYNC_META "sync"
#define RL_HA_ADDR_MAX  256

struct rl_loop;

struct rl_ha_config {
	const char *endpoints; /* etcd client URLs, comma-separated, tried in turn */
	const char *key;       /* the leader key, e.g. "/relais/hub/leader" */
	const char *name;      /* this candidate, < RL_HA_NAME_MAX bytes */
	const char *address;   /* where peers reach it as leader, < RL_HA_ADDR_MAX bytes */
	int ttl_s;             /* the lease's TTL, >= 1 */
	int renew_ms;          /* a leader renews this often; 0: ttl / 3 */
	int request_ms;        /* one etcd request's timeout; 0: ttl / 6 */
	int margin_ms;         /* a leader fences this long before the lease can expire; 0: ttl / 6 */
	int poll_ms;           /* a follower reads the key this often; 0: renew_ms / 2 */
	/* Synchronous replication (docs/ha.md): NULL for none. */
	const char *repl;     /* where standbys reach the leader's replication, < RL_HA_ADDR_MAX */
	const char *sync_key; /* the key naming the leader's synchronous standby: only the last
	                         leader or that standby may campaign while it exists */
};

/* A term: the lease a leader holds and the create revision of its leader key. Revisions
 * grow with every term, so a later term has a greater revision. */
struct rl_ha_term {
	int64_t lease;
	int64_t revision;
};

enum rl_ha_kind {
	RL_HA_LEADER = 1, /* this candidate leads term, until valid_until_us unless renewed */
	RL_HA_LOST,       /* this candidate stopped leading term: stop serving now (reason) */
	RL_HA_FOLLOWER,   /* another candidate leads term: leader, address, repl */
	RL_HA_SYNC,       /* the sync key now names standby as this candidate's ("": none), sync_id */
};

struct rl_ha_event {
	int kind;                /* enum rl_ha_kind */
	uint64_t at_us;          /* rl_ha_clock_us() when it was decided */
	struct rl_ha_term term;  /* ours (LEADER, LOST), the leader's (FOLLOWER) */
	uint64_t valid_until_us; /* LEADER: the first deadline; LOST: the deadline in force */
	const char *reason;      /* LOST: a static phrase; NULL otherwise */
	char leader[RL_HA_NAME_MAX];
	char address[RL_HA_ADDR_MAX];
	char repl[RL_HA_ADDR_MAX];
	char standby[RL_HA_NAME_MAX]; /* RL_HA_SYNC */
	uint64_t sync_id;             /* RL_HA_SYNC */
};

/* The callback runs on the candidate's thread and must not block; ev is valid during it. */
typedef void (*rl_ha_cb)(void *arg, const struct rl_ha_event *ev);

struct rl_ha;

/*
 * rl_ha_check_config fills the defaults of *cfg and checks Patroni's bound in its terms:
 * renew_ms + 2 * request_ms + margin_ms <= ttl_s * 1000, so that a renewal that fails leaves
 * time for one more attempt before the leader fences. Errors: RL_EINVAL (a missing field, a
 * name or address too long, a bound broken).
 */
int rl_ha_check_config(struct rl_ha_config *cfg);

/*
 * rl_ha_start checks cfg (copied; its strings too) and starts the candidate's thread into
 * *out, which reports to cb(arg, ev). Errors: those of rl_ha_check_config, RL_EAGAIN (no
 * thread).
 */
int rl_ha_start(struct rl_ha **out, const struct rl_ha_config *cfg, rl_ha_cb cb, void *arg);

/*
 * rl_ha_stop ends the candidacy and frees ha. A leader first stops serving (LOST, reason
 * "resigned", reported to the callback before anything else) and then revokes its lease, so
 * another candidate takes over at its next read instead of after the TTL. Returns once the
 * thread has ended: at most a few etcd request timeouts.
 */
void rl_ha_stop(struct rl_ha *ha);

/* rl_ha_may_serve returns 1 if this candidate leads and its lease cannot have expired yet
 * (filling *term if not NULL), else 0. Any thread. */
int rl_ha_may_serve(struct rl_ha *ha, struct rl_ha_term *term);

/*
 * rl_ha_set_sync asks the leader's thread to record in the sync key that standby (a name;
 * "" for none) holds every batch this leader acknowledges, and id, the number the leader
 * wrote in its store (and the standby acknowledged) just before; guarded by the term (written
 * only while the leader key is this term's; id 0 asks nothing). RL_HA_SYNC reports it
 * written (ev.standby, ev.sync_id: id); until then the owner must act as if the key said what
 * it said before. Any thread; the last call wins.
 *
 * While the sync key exists a candidate campaigns only if the key names it (as leader or
 * standby) and its own store holds an id at least the key's (rl_ha_set_local): a hub whose
 * store was lost or never caught up cannot take over with less than was acknowledged.
 */
void rl_ha_set_sync(struct rl_ha *ha, const char *standby, uint64_t id);

/* rl_ha_leader_gone: the owner saw the leader go (its link closed): until a leader is noted
 * again, or the TTL and a second have passed, a follower reads the key every 50 ms instead of
 * every poll_ms, to campaign as soon as etcd lets the lease go. Any thread. */
void rl_ha_leader_gone(struct rl_ha *ha);

/* rl_ha_set_local tells the candidate the sync id its store holds now (0: none). */
void rl_ha_set_local(struct rl_ha *ha, uint64_t id);

/* rl_ha_clock_us is the clock of the module's timestamps: CLOCK_BOOTTIME in microseconds,
 * monotonic and counting while the machine sleeps, one clock for every process of a host. */
uint64_t rl_ha_clock_us(void);

/* A callback's destination for rl_ha_post_event. */
struct rl_ha_sink {
	struct rl_loop *loop;
	int tag;
};

/*
 * rl_ha_post_event is a rl_ha_cb whose arg is a struct rl_ha_sink: it posts a copy of ev
 * (rl_malloc'd; the loop's owner frees it with free()) to the sink's loop with its tag. An
 * event the full inbox refuses is logged and dropped: the owner's rl_ha_may_serve still says
 * whether to serve.
 */
void rl_ha_post_event(void *arg, const struct rl_ha_event *ev);

/* rl_ha_kind_name returns "leader", "lost" or "follower" (static). */
const char *rl_ha_kind_name(int kind);

#endif
