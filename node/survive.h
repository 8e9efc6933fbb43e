/*
 * survive.h - a survivable site (docs/failover.md).
 *
 * While the hub is lost, a survivable node serves its carrier calls with its own instance of
 * the hub's engine (hub/engine.h: the same router and the same rules) over a local LMDB
 * journal in state_dir/local. The engine's directory is the model the hub gave the node
 * (SiteModel: its site's queues and seated agents, without secrets); it starts seeded with
 * what the node knows: its seated agents' sessions and states and its live contacts, so the
 * agents carry on (they resume their sessions with the local engine, as with a restarted
 * hub) and the callers keep their place. The node talks to it as to the hub: the same
 * envelopes, its own Hello proven with the site's key, its agents on their chans.
 *
 * When the hub is back, the journal is handed over (SiteJournal, part by part: every contact
 * as the local engine holds it, its events, its agents' states) and then wiped; until the
 * hub has the last part the node does not serve alone again. Contacts the local engine
 * creates are numbered "<site>.L0000000001" and on, apart from the hub's.
 *
 * Everything runs on the node's loop thread.
 */
#ifndef RL_NODE_SURVIVE_H
#define RL_NODE_SURVIVE_H

#include <stddef.h>
#include <stdint.h>

#include "relais.pb-c.h"
#include "rl_key.h"
#include "rl_wire.h"

#define RL_TOKEN_LEN 16

/* What the node knows of one seated agent (from the frames it relays). */
struct rl_seat {
	char agent_id[RL_WIRE_MAX_ID + 1];
	uint64_t session;
	uint8_t token[RL_TOKEN_LEN];
	int has_token;
	Relais__AgentState state;
	char contact[RL_WIRE_MAX_ID + 1]; /* the contact it is offered, talks on or wraps up */
};

/* Where the local engine's output goes: env (the callee's to look at, not to keep) with
 * chan 0 is for the node (is_reply with the cookie of the node's request it answers), with
 * a chan for that local link's agent. */
typedef void (*rl_local_out_fn)(void *arg, rl_env *env, void *cookie, int is_reply);

struct rl_local_conf {
	const char *site_id;
	const struct rl_key *key; /* the site's: the node proves it to its own engine too */
	const char *dir;          /* state_dir/local: the journal */
	const char *model;        /* the hub's SiteModel text */
	size_t model_len;
	uint64_t boot_id; /* the node's run: contacts of an earlier run (a restart while alone) end */
	const char *media_addr;
	int suite;                   /* SRTP suite of the local engine's media plans */
	const struct rl_seat *seats; /* the seated agents to carry on with */
	int nseats;
	Relais__ContactRecord *const *contacts; /* the node's live contacts, as it knows them */
	int ncontacts;
	rl_local_out_fn out;
	void *arg;
};

struct rl_local;

/* rl_local_open seeds the journal in c->dir (kept if it is there already: a node that
 * restarted while alone goes on with it), starts the engine and proves the node to it.
 * Errors: RL_ECONFIG (the model does not parse or provision), RL_EIO. */
int rl_local_open(struct rl_local **out, const struct rl_local_conf *c);

/* rl_local_input queues env for the engine: on chan (an agent's) or chan 0 (the node's own
 * request, answered with cookie). The next rl_local_run applies it. */
void rl_local_input(struct rl_local *l, uint64_t chan, const rl_env *env, void *cookie);

/* rl_local_busy: 1 if something waits for rl_local_run. */
int rl_local_busy(const struct rl_local *l);

/* rl_local_run applies what is queued and the engine's timers in one batch, commits, and
 * hands the output to the out function. */
void rl_local_run(struct rl_local *l);

/* rl_local_close stops the engine; the journal stays in dir for the handover. */
void rl_local_close(struct rl_local *l);

/* ---------------------------------------------------------------------------------------- */
/* the handover */

/* rl_journal_waiting: 1 if dir holds a journal not handed over yet. */
int rl_journal_waiting(const char *dir);

/* rl_journal_parts reads the journal in dir (its engine closed) into parts, each a packed
 * SiteJournal of at most one frame, in the order they go (ended contacts and events first,
 * live contacts, then agents in the last); *parts and each part are the caller's to free
 * (rl_journal_free). Offers in flight go back to waiting, their agents ready. Returns the
 * number of parts, or -1 (logged). */
struct rl_journal_part {
	uint8_t *buf;
	size_t len;
};
int rl_journal_parts(const char *dir, uint64_t journal_id, struct rl_journal_part **parts);
void rl_journal_free(struct rl_journal_part *parts, int n);

/* rl_journal_wipe removes the journal once the hub has all of it. */
void rl_journal_wipe(const char *dir);

#endif
