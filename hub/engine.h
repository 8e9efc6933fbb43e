/*
 * engine.h - the hub's ACD state machine.
 *
 * The engine owns the model (hub.h), the store and the router, and applies requests in
 * batches: rl_engine_begin opens the batch's write transaction, rl_engine_input applies
 * each received envelope, rl_engine_tick fires due timers (RONA, wrap-up, link loss,
 * grace, overflow), rl_engine_commit routes, commits durably and only then hands the
 * batch's replies and pushes to the send callback. Time comes from the caller, so tests
 * drive it deterministically. Not thread-safe: one thread owns an engine.
 */
#ifndef RL_ENGINE_H
#define RL_ENGINE_H

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>

#include "rl_wire.h"

struct rl_hub_conf {
	char id[RL_WIRE_MAX_ID + 1];
	char data_dir[1024];
	int map_size_mb;
	int agent_grace_s;
	int offer_timeout_s;
	int wrapup_s;
	int batch_max;
	int site_dead_ms;        /* a proven node silent this long: its site is lost */
	int site_lost_end_s;     /* a lost site that cannot serve alone: its contacts end after this */
	int represent_window_s;  /* a caller lost with a site who calls again within: its old place */
	char contact_prefix[24]; /* contact ids are this and a number ("" = "c"); a survivable
	                          * node's own engine numbers its contacts apart from the hub's */
	int no_logins;           /* agents without secrets: sessions carried on, no login (the same) */
	/* A hub pair's leader (docs/ha.md): its batches carry term from the first, the one
	 * that restores the model included, and are captured for its standby. */
	int64_t term;
	int capture;
};

/* Where a message goes: a pipe and, on a node link, the agent's chan. buf is borrowed. */
typedef void (*rl_engine_send_fn)(void *arg, uint32_t pipe, const uint8_t *buf, size_t len);

/* A login waiting for its argon2id verification (done off the engine's thread). */
struct rl_auth_job {
	char agent_id[RL_WIRE_MAX_ID + 1];
	char secret[RL_WIRE_MAX_SECRET + 1];
	char hash[256]; /* empty: unknown agent (verified against a dummy, then refused) */
	uint32_t pipe;
	uint64_t chan;
	uint64_t req_id;
	int site;    /* -1 = home */
	char ip[48]; /* where the agent logs in from ("" = unknown) */
	int ok;      /* set by the verifier: 1 match, 0 no match, -1 verifier busy */
};

/* The verifier takes the job (owned by the engine until rl_engine_auth_done). */
typedef void (*rl_engine_auth_fn)(void *arg, struct rl_auth_job *job);

struct rl_engine;

struct rl_engine_counters {
	uint64_t requests, send_drops, auth_failures, offers;
	uint64_t forbidden;      /* requests refused by the request table (wrong principal) */
	uint64_t bad_proofs;     /* Hellos whose key proof failed */
	uint64_t table_breaches; /* read-only requests that changed a record (a bug; tests check 0) */
};

/*
 * rl_engine_open loads the store in conf->data_dir, provisions the directory from cfg
 * (sites, tenants, queues, agents lists; see docs/config.md) and rebuilds the model.
 * Errors: RL_ECONFIG (message logged), RL_EIO, RL_ENOMEM.
 */
int rl_engine_open(struct rl_engine **out, const struct rl_hub_conf *conf, const config_t *cfg, rl_engine_send_fn send,
                   void *send_arg, rl_engine_auth_fn auth, void *auth_arg, uint64_t now_us);

/* Batch control. begin: RL_EIO. commit: routes, commits, flushes; RL_EIO = fail-stop. */
int rl_engine_begin(struct rl_engine *e, uint64_t now_us);
int rl_engine_commit(struct rl_engine *e);
/* abort drops the batch's writes and its outbox (crash simulation in tests). */
void rl_engine_abort(struct rl_engine *e);

/* rl_engine_input applies one decoded envelope that arrived on pipe. */
void rl_engine_input(struct rl_engine *e, uint32_t pipe, const rl_env *env);

/* rl_engine_bad_version answers a frame of another protocol version. */
void rl_engine_bad_version(struct rl_engine *e, uint32_t pipe, const rl_env *env);

/* rl_engine_auth_done finishes a login after verification; frees the job. */
void rl_engine_auth_done(struct rl_engine *e, struct rl_auth_job *job);

/* rl_engine_greeted: 1 if the link on pipe has said Hello. */
int rl_engine_greeted(struct rl_engine *e, uint32_t pipe);

/* rl_engine_pipe_gone: a link closed. */
void rl_engine_pipe_gone(struct rl_engine *e, uint32_t pipe);

/* rl_engine_tick fires due timers at the batch's time. */
void rl_engine_tick(struct rl_engine *e);

/* rl_engine_counters returns the engine's counters. */
const struct rl_engine_counters *rl_engine_counters(const struct rl_engine *e);

/* Wire-level counters the server keeps, shown in status replies. */
void rl_engine_set_wire_counters(struct rl_engine *e, const Relais__HubCounters *c);

/* rl_engine_check verifies the model against the store (tests); returns violations. */
int rl_engine_check(struct rl_engine *e, char *why, size_t len);

/* rl_engine_set_media: the relay for calls of agents not seated at the call's site (NULL:
 * none) and the SRTP suite of new plans. */
struct rl_relay;
void rl_engine_set_media(struct rl_engine *e, struct rl_relay *relay, int suite);

/*
 * Synchronous replication (docs/ha.md). With a hold set, rl_engine_commit calls fn(arg, s)
 * after each durable commit (the store's last batch is then rl_store_last_batch(s)) and keeps
 * the batch's replies and pushes - and anything sent after it - until rl_engine_release(e,
 * seq) says the batches up to seq may speak. fn NULL: replies leave at commit, as without
 * replication. rl_engine_held counts the messages waiting.
 */
struct rl_store;
typedef void (*rl_engine_commit_fn)(void *arg, struct rl_store *s);
void rl_engine_set_hold(struct rl_engine *e, rl_engine_commit_fn fn, void *arg);
void rl_engine_release(struct rl_engine *e, uint64_t seq);
/* rl_engine_refuse_writes: while why is not NULL, every request the table marks as writing
 * is refused (ERR_UNAVAILABLE, retry in a second) with why: a leader under ha.sync = strict
 * without a standby. why is not copied. */
void rl_engine_refuse_writes(struct rl_engine *e, const char *why);
size_t rl_engine_held(const struct rl_engine *e);
struct rl_store *rl_engine_store(struct rl_engine *e);

/* rl_engine_set_ha_stat: fn fills a status reply's hub pair row (StatusReply.ha) for those
 * who see everything; NULL (a single hub): none. */
typedef void (*rl_engine_ha_fn)(void *arg, Relais__HaStat *out);
void rl_engine_set_ha_stat(struct rl_engine *e, rl_engine_ha_fn fn, void *arg);

/* Where a link comes from: fn writes the remote IP of pipe as text into ip (cap bytes) and
 * returns 0, or -1 if unknown. Login lockouts count failures per source address. */
typedef int (*rl_engine_addr_fn)(void *arg, uint32_t pipe, char *ip, size_t cap);
void rl_engine_set_addr_fn(struct rl_engine *e, rl_engine_addr_fn fn, void *arg);

/* Reports are folded off the engine's thread (report.h): the engine hands each checked
 * ReportRequest to fn as a job (fn owns it) and takes it back, folded, in
 * rl_engine_report_done, inside a batch, on its own thread (the engine then owns it).
 * Without a reporter the hub answers ReportRequest ERR_UNAVAILABLE. */
struct rl_report_job;
typedef void (*rl_engine_report_fn)(void *arg, struct rl_report_job *job);
void rl_engine_set_reporter(struct rl_engine *e, rl_engine_report_fn fn, void *arg);
void rl_engine_report_done(struct rl_engine *e, struct rl_report_job *job);

void rl_engine_close(struct rl_engine *e);

#endif
