/*
 * internal.h - the site node's rooms and what they share.
 *
 *   node.c   the links: the hub's (or, while the site serves alone, its own engine's, in the
 *            same place: rl_node_ask, rl_node_relay_up), the local listener and its gate,
 *            contacts' objects, drains, the loop's events and ticks
 *   alone.c  a survivable site's side of it: the seats and contacts it would carry on with,
 *            the model it asks the hub for, serving alone (survive.h), the handover
 *
 * Everything runs on the node's loop thread.
 */
#ifndef RL_NODE_INTERNAL_H
#define RL_NODE_INTERNAL_H

#include "contact.h"
#include "node.h"
#include "rl_bundle.h"
#include "rl_hello.h"
#include "rl_htab.h"
#include "survive.h"

#define RL_NODE_MAX_SOURCES  8
#define RL_NODE_HEARTBEAT_MS 500  /* the hub judges the site lost after 2.5 s of silence */
#define RL_NODE_HUB_LOST_MS  3000 /* the hub not heard this long: lost (new calls go elsewhere) */
/* After the hub's link resumes (rl_client.h: silent 1.5 s, heard again), a connect for a
 * caller not yet put through is held this long before the caller is answered: what the hub
 * said meanwhile arrives first, and a contact it ended since is never answered. */
#define RL_NODE_CONNECT_HOLD_MS 300
#define RL_NODE_CTL_INFLIGHT    16
#define RL_NODE_HELLO_MS        10000      /* a local link that says no Hello this long is closed */
#define RL_NODE_LINK_BACKLOG    (4u << 20) /* bytes queued to one local link before its frames are refused */

/* A local link: a seated agent or a tool. Its pipe id is its chan towards the hub. */
struct rl_lpeer {
	uint32_t pipe;
	int role;
	const struct rl_operator *op; /* a tool that proved an operator's key, else NULL */
	struct rl_hello_gate gate;
	char ip[48];                             /* the link's remote IP ("" = unknown) */
	uint64_t inflight[RL_NODE_CTL_INFLIGHT]; /* ctl submissions waiting for the hub */
	unsigned next;
	struct rl_seat seat; /* an agent's: what the node would carry on with alone */
};

/* A submission waiting for its answer: who asked, and what it asked (packed SubmitContact:
 * the contact's facts, kept with it once acknowledged). */
struct rl_sub {
	struct rl_source *src;
	void *cookie;
	uint8_t *asked;
	size_t asked_len;
};

/* A submission turned away while the hub was lost (rl_node_unqueue): the hub may still get
 * it late - the frame in flight on a link the fault held open - and its ack may be lost with
 * that link; its first update then names it only by its ext id. */
struct rl_turned {
	uint64_t req_id;
	char ext[RL_WIRE_MAX_ID + 1];
};

struct rl_posted {
	struct rl_source *src;
	void *ptr;
};

struct rl_ctl_cookie {
	uint32_t pipe;
	uint64_t req_id;
	char audio[RL_WIRE_MAX_TEXT + 1]; /* the caller's voice for this contact, "" = default */
};

/* A survivable site's state (alone.c). */
struct rl_alone {
	char *model; /* the hub's SiteModel text (NUL-terminated), or NULL */
	size_t model_len;
	uint64_t model_version;
	uint8_t *asm_buf; /* a newer model, being fetched part by part */
	size_t asm_len;
	uint64_t asm_version;
	uint32_t asm_next, asm_parts;
	struct rl_local *local;        /* serving alone: the site's own engine; NULL = the hub's */
	struct rl_journal_part *parts; /* the handover in progress */
	int nparts, next_part;
	int inflight; /* a part is sent and not answered yet */
	uint64_t journal_id;
	uint64_t last_run_us;
	int model_marker, journal_marker; /* cookies of those requests */
};

#define RL_NODE_TURNED 1024 /* the last submissions turned away, remembered by request id */

struct rl_node {
	struct rl_node_conf conf;
	struct rl_loop *loop;
	struct rl_client *hub;
	struct rl_srv *lsrv; /* the local links: agents and tools (rl_srv.h) */
	struct rl_htab peers;
	struct rl_htab contacts; /* struct rl_contact by id: every live contact of the site */
	uint64_t boot_id, seq;
	struct rl_source *sources[RL_NODE_MAX_SOURCES];
	int nsources;
	struct rl_source ctl;
	struct rl_node_counters ctr;
	struct rl_bundler *down;  /* frames for local links, sent once per loop batch */
	struct rl_bridge *bridge; /* the voice path of the site's calls; NULL = none */
	struct rl_recs *recs;     /* the calls' recordings (record.h); NULL with no bridge */
	int marker;               /* cookie of requests whose answers need no handling */
	unsigned drain_pct;       /* what the NOC (through the hub, or a tool here) asked */
	uint64_t cmd_seq;         /* the hub's last site command applied */
	int hub_lost;             /* the hub not heard for RL_NODE_HUB_LOST_MS (or not reached yet) */
	int hub_reached;          /* heard at least once since the start */
	int start_judged;         /* not reached within RL_NODE_HUB_LOST_MS of the start: said so */
	uint64_t opened_us;
	struct rl_node_plan *plans;              /* the dial plan in force */
	unsigned applied;                        /* the share of new calls the sources refuse now */
	struct rl_alone alone;                   /* survivable sites */
	struct rl_turned turned[RL_NODE_TURNED]; /* submissions turned away (a ring) */
	unsigned nturned;
	uint64_t seats_sent_us; /* the last SeatsAlive (seats.c) */
	unsigned nheld;         /* contacts with a CONNECTED update held (rl_node_contact_update) */
};

/* node.c */
int rl_node_send(struct rl_node *n, uint32_t pipe, rl_env *env);
int rl_node_ask(struct rl_node *n, rl_env *env, void *cookie);
void rl_node_upstream(struct rl_node *n, rl_env *env, void *cookie, int is_reply);
void rl_node_register(struct rl_node *n);
void rl_node_apply_drain(struct rl_node *n);
/* rl_node_sub_cookie: cookie is a submission of ours (struct rl_sub), not a marker. */
int rl_node_sub_cookie(const struct rl_node *n, const void *cookie);

/* seats.c: the seated agents' heartbeats, answered here and told to the hub for all at once */
void rl_seat_heard(struct rl_lpeer *p);
void rl_seat_heartbeat(struct rl_node *n, struct rl_lpeer *p, const rl_env *env);
void rl_seats_tick(struct rl_node *n, uint64_t now);

/* alone.c */
/* rl_alone_seat_up, rl_alone_seat_down: an agent's frame going up (p's), or coming down to
 * p: what it says of the agent's session and state. */
void rl_alone_seat_up(struct rl_lpeer *p, const rl_env *env);
void rl_alone_seat_down(struct rl_lpeer *p, const rl_env *env);
/* rl_alone_facts: the contact facts of sub's submission, acknowledged as ok (new record, the
 * contact's to free); rl_alone_update keeps u in c's facts. */
Relais__ContactRecord *rl_alone_facts(struct rl_node *n, const struct rl_sub *sub, const Relais__SubmitContactOk *ok);
void rl_alone_update(struct rl_contact *c, const Relais__ContactUpdate *u);
/* rl_alone_ready: a new link to the hub is ready (after SiteRegister): the handover, if a
 * journal waits, then the model. rl_alone_reply: the answer to one of alone.c's requests (1
 * if it was one). */
void rl_alone_ready(struct rl_node *n);
int rl_alone_reply(struct rl_node *n, const rl_env *env, void *cookie);
/* rl_alone_journal_parts: how many parts the node hands over on this link (SiteRegister). */
uint32_t rl_alone_journal_parts(struct rl_node *n);
/* rl_alone_tick: the hub lost, the site starts serving alone if it can; rl_alone_run: its
 * engine's batch, once per loop pass. */
void rl_alone_tick(struct rl_node *n);
void rl_alone_run(struct rl_node *n);
/* rl_alone_open reads the saved model (state_dir/model.conf); rl_alone_stop: the hub decides
 * again (the site's engine closes, its journal waits for the handover); rl_alone_free. */
void rl_alone_open(struct rl_node *n);
void rl_alone_stop(struct rl_node *n);
void rl_alone_free(struct rl_node *n);

#endif
