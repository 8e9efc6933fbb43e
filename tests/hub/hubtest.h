/*
 * hubtest.h - a hub engine driven by hand, for deterministic tests of its rules.
 *
 * The engine runs as in relais-hub, over a real LMDB store in a fresh directory, but the
 * test is its loop: it hands in frames (through the wire codec, as on a link), moves the
 * clock, ticks timers and decides when batches commit or crash. Logins are verified at once
 * (argon2id, on the test's thread). Every frame the engine sends is decoded and kept per
 * pipe until ht_forget; an observer callback may watch them as they go out.
 *
 * Pipes are the test's to number; a role says Hello on a pipe before it speaks there.
 * Agents in the config get their secret_hash from ht_hash(secret).
 */
#ifndef RL_HUBTEST_H
#define RL_HUBTEST_H

#include <stdint.h>

#include "engine.h"
#include "rl_key.h"
#include "rl_wire.h"

struct ht_frame {
	uint32_t pipe;
	rl_env *env; /* owned */
};

struct ht {
	struct rl_engine *e;
	char dir[512];
	char *conf; /* config text (owned) */
	uint64_t now;
	struct ht_frame *frames;
	size_t nframes, capframes;
	uint64_t next_req;
	struct rl_auth_job *jobs[64];
	int njobs;
	struct rl_report_job *reports[8]; /* reports asked, folded at the next ht_request's end */
	int nreports;
	char ip[64][48];   /* ht_set_ip: the remote IP of pipes 0..63 */
	uint32_t nodes[8]; /* pipes of proven nodes: ht_tick heartbeats them unless silent */
	int silent[8];
	int nnodes;
	/* Optional: sees every frame sent, in order (the property test's digest). */
	void (*observe)(void *arg, uint32_t pipe, const rl_env *env);
	void *observe_arg;
};

/* ht_hash: an argon2id hash of secret (cheapest settings), cached per secret. */
const char *ht_hash(const char *secret);

/* ht_pub: the public key (base64, for a config's key = "...") of principal id's test key,
 * made on first use; ht_key: that key pair. */
const char *ht_pub(const char *id);
const struct rl_key *ht_key(const char *id);

/* ht_open starts an engine on conf (libconfig text: hub settings come from struct defaults;
 * sites, tenants, queues, agents from conf) in a new directory. Fails the test on error. */
void ht_open(struct ht *h, const char *conf);

/* ht_crash: the batch in flight never commits; the engine is closed and reopened from the
 * same store, knowing no links (everyone says Hello again). */
void ht_crash(struct ht *h);

/* ht_open_rv: ht_open that returns rl_engine_open's result (RL_OK: open, as ht_open). */
int ht_open_rv(struct ht *h, const char *conf);

void ht_close(struct ht *h);

/* Batches by hand. */
void ht_begin(struct ht *h);
void ht_commit(struct ht *h);

/* ht_input hands env to the engine inside the open batch, as if it came on pipe, and runs
 * the login verifications it started. */
void ht_input(struct ht *h, uint32_t pipe, const rl_env *env);

/* ht_tick moves the clock by ms and fires timers, in a batch of its own; the nodes that said
 * Hello heartbeat first (a live node), except those ht_silence made silent. */
void ht_tick(struct ht *h, uint64_t ms);

/* ht_silence: the node on pipe stops (1) or starts again (0) heartbeating at ht_tick. */
void ht_silence(struct ht *h, uint32_t pipe, int silent);

/* ht_register: the node on pipe registers its site, with boot (its run's id). */
void ht_register(struct ht *h, uint32_t pipe, uint64_t boot);

/* ht_hello: role says Hello on pipe, as id (a node: its site; a tool: its operator; an agent
 * link: ignored) and proves id's key (ht_key) when challenged; fails the test if refused. */
void ht_hello(struct ht *h, uint32_t pipe, int role, const char *id);

/* ht_hello_proof sends one Hello as id with proof (NULL: none) and returns the answer. */
const rl_env *ht_hello_proof(struct ht *h, uint32_t pipe, int role, const char *id, const uint8_t *proof);

/* ht_request sends env (its req_id set here; chan and session as given) in a batch of its
 * own and returns the answer with that req_id on pipe (NULL if none). Reports it asked for
 * are folded after that batch's commit, on the test's thread, and given back to the engine in
 * a batch of their own, as the hub's worker does. */
const rl_env *ht_request(struct ht *h, uint32_t pipe, uint64_t chan, uint64_t session, rl_env *env);

/* ht_error: the error code of answer a (0 = not an error; -1: no answer). */
int ht_error(const rl_env *a);

/* ht_login logs agent in on pipe/chan; returns the session (0 if refused). */
uint64_t ht_login(struct ht *h, uint32_t pipe, uint64_t chan, const char *agent, const char *secret);

/* ht_last: the newest frame of kind body sent on pipe since ht_forget, or NULL. */
const rl_env *ht_last(struct ht *h, uint32_t pipe, Relais__Envelope__BodyCase body);

/* ht_count: how many frames of kind body went to pipe since ht_forget. */
int ht_count(struct ht *h, uint32_t pipe, Relais__Envelope__BodyCase body);

/* ht_set_ip: links on pipe (< 64) come from ip (login lockouts count per address). */
void ht_set_ip(struct ht *h, uint32_t pipe, const char *ip);

/* ht_forget drops the frames kept so far. */
void ht_forget(struct ht *h);

/* Requests in a line each. They return the answer as ht_request does. */
const rl_env *ht_submit(struct ht *h, uint32_t pipe, const char *ext, const char *tenant, const char *queue,
                        const char *caller);
const rl_env *ht_set_state(struct ht *h, uint32_t pipe, uint64_t session, Relais__AgentState st, const char *reason);
const rl_env *ht_answer(struct ht *h, uint32_t pipe, uint64_t session, const char *contact, int accept);
/* ht_answer_on, ht_hangup_on: the same from an agent a node relays on chan. */
const rl_env *ht_answer_on(struct ht *h, uint32_t pipe, uint64_t chan, uint64_t session, const char *contact,
                           int accept);
const rl_env *ht_hangup_on(struct ht *h, uint32_t pipe, uint64_t chan, uint64_t session, const char *contact);
const rl_env *ht_hangup(struct ht *h, uint32_t pipe, uint64_t session, const char *contact);
const rl_env *ht_wrapup(struct ht *h, uint32_t pipe, uint64_t session, const char *contact, const char *disposition,
                        uint32_t extend_s);
const rl_env *ht_transfer(struct ht *h, uint32_t pipe, uint64_t session, const char *contact, const char *queue,
                          const char *number);
const rl_env *ht_status(struct ht *h, uint32_t pipe, const char *tenant);
/* ht_heartbeat: the agent of session is heard on pipe/chan (links fall silent after 6 s). */
void ht_heartbeat(struct ht *h, uint32_t pipe, uint64_t chan, uint64_t session);

#endif
