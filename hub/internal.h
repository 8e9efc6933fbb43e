/*
 * internal.h - the hub engine's rooms and what they offer one another.
 *
 * The engine (engine.h) is one object split by concern, the way OpenLDAP's back-mdb splits
 * its backend; each file owns one part of the model and is the only writer of it:
 *
 *   engine.c     batches, dirty records, the outbox, timers, the request table and its gate
 *   session.c    links (Hello and key proofs, peers, reply caches), login and resume, heartbeats
 *   lockout.c    failed logins slowed per source address and per id
 *   agent.c      agent state: rl_agent_set is the one writer of an agent's state
 *   wheel.c      the agents' timers (offer end, wrap-up end, silence) in a timing wheel
 *   contact.c    contact state: rl_contact_to is the one writer of a contact's state
 *   transfer.c   transfers of a connected call to a queue or to a number
 *   route.c      routing: waiting contacts offered to ready agents
 *   event.c      the event log: each event is stored and folded into the KPIs
 *   kpi.c        per-queue KPIs, recent handle time and expected wait: a fold over events
 *   media.c      media plans, quality reports, recently ended calls
 *   push.c       what agents and sites are told (offers, agent status, contact updates)
 *   status.c     status replies
 *   report.c     reports: requests checked and scoped here, folded on a worker (report_fold.c)
 *   site.c       site nodes: links, liveness (lost, back, restarted), registration
 *   noc.c        the NOC's site commands (drain, failover, failback) and their audit
 *   dialplan.c   the dial plan held here and pushed to every node
 *   recording.c  call recording: policy, the decision at answer, pause, the nodes' reports, the list
 *   survive.c    survivable sites: the model their nodes serve alone with, the journal they hand back
 *   provision.c  the directory (sites, tenants, queues, agents) from the config
 *   restore.c    rebuilding memory from the store at start
 *   check.c      the model's self-check (tests)
 *   monitor.c    listen, whisper, barge: a supervisor's leg on an agent's call
 *
 * Records change in memory and are marked dirty (rl_dirty_agent, rl_dirty_contact); the
 * batch's commit writes each dirty record once, then the store commits, then the outbox
 * goes out. Nothing here checks a store write: the store remembers its first failure and
 * the commit reports it (store.h). Allocation failure aborts (rl_alloc.h).
 */
#ifndef RL_HUB_INTERNAL_H
#define RL_HUB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "hub.h"
#include "plan.h"
#include "rl_dialplan.h"
#include "rl_hello.h"
#include "rl_operator.h"

#define RL_RECENT_CALLS 64 /* ended calls kept with their quality for status */
#define RL_LOCKS        4096
#define RL_REPORT_CACHE 2 /* finished reports kept for their next pages */

/* A call that ended, for `relaisctl status calls`. */
struct rl_recent {
	char id[RL_WIRE_MAX_ID + 1], agent[RL_WIRE_MAX_ID + 1], site[RL_WIRE_MAX_ID + 1];
	int tenant, relayed;
	uint64_t answered_us, ended_us;
	struct rl_call_quality quality;
};

/* One frame waiting for the batch's commit. */
struct rl_out {
	uint32_t pipe;
	uint8_t *buf; /* its own (a reply that may be cached, or held); NULL: in obytes at off */
	size_t off, len;
	uint64_t req_id;        /* nonzero: fill a reply cache slot */
	struct rl_agent *agent; /* cache owner: an agent session ... */
	uint32_t peer_pipe;     /* ... or a link */
	uint64_t seq;           /* held: the store batch that must be on a standby first */
};

/* A link that said Hello. */
struct rl_peer {
	uint32_t pipe;
	int role;
	int site;
	int hello;
	unsigned who;              /* the principal once proven (RL_WHO_*), 0 before */
	uint64_t scope;            /* tenants the principal sees (bit per tenant index) */
	int op;                    /* ROLE_CTL: index in e->operators */
	struct rl_hello_gate gate; /* the key proof of a node's or tool's Hello */
	char ip[48];               /* the link's remote IP ("" = unknown) */
	int announced;             /* its operator's "link up" logged (a tool may say Hello twice) */
	struct rl_reply cache[RL_PEER_CACHE];
	unsigned next;
};

/* A supervisor on a call (monitor.c): one per call, one per supervisor's link. */
struct rl_monitor {
	char contact[RL_WIRE_MAX_ID + 1], agent[RL_WIRE_MAX_ID + 1], op[RL_WIRE_MAX_ID + 1];
	uint32_t pipe;        /* the supervisor's link */
	int site, tenant;     /* the call's site and tenant */
	int mode;             /* Relais__MonitorMode */
	struct rl_plan *plan; /* site <-> supervisor, through the relay */
};

/* Failed-login lockouts, keyed by the id the client gave (known or not, so refusals do not
 * tell which ids exist). A fixed table: an attacker cycling ids only recycles slots. */
struct rl_lock {
	uint64_t h;
	unsigned failures;
	uint64_t until_us;
	uint64_t last_us; /* the last failure (counts fade) */
};

/* A growable array of pointers (dirty records). */
struct rl_ptrs {
	void **v;
	size_t n, cap;
};

#define RL_SEATS_SETTLE_US 2000000u /* a node's view of a seat may lag a change by this much */
#define RL_WHEEL_US        100000u  /* the timer wheel's slot: 100 ms */
#define RL_WHEEL_SLOTS     4096     /* 409.6 s around; a later time waits its turn in its slot */

struct rl_engine {
	struct rl_hub_conf conf;
	struct rl_store *store;
	rl_engine_send_fn send;
	rl_engine_auth_fn auth;
	void *arg;
	void *auth_arg;

	/* The directory and the live model (hub.h). */
	struct rl_tenant tenants[RL_MAX_TENANTS];
	int ntenants;
	struct rl_site sites[RL_MAX_SITES];
	int nsites;
	struct rl_queue *queues;
	int nqueues;
	char skills[RL_MAX_SKILLS][RL_WIRE_MAX_ID + 1];
	int nskills;
	struct rl_agent **agents;
	int nagents;
	/* Every agent by state per set of tenants, the not-ready ones by reason (tally.c). */
	struct rl_mask_tally {
		uint64_t tenants;
		uint32_t state[RL_STATES];
	} * masks;
	int nmasks;
	struct rl_reasons reasons;
	/* Each tenant's agents, their indexes in agents[] in order (rl_scope_next). */
	int *tenant_agents[RL_MAX_TENANTS];
	int ntenant_agents[RL_MAX_TENANTS];
	struct rl_operator *operators; /* rl_operator.h */
	uint64_t *op_scope;            /* per operator: the tenants it sees (bit per tenant index) */
	int noperators;
	struct rl_htab agent_by_id, agent_by_session, contact_by_id, peers;
	struct rl_lock locks[RL_LOCKS];
	rl_engine_addr_fn addr_of; /* a link's remote IP (NULL: unknown) */
	void *addr_arg;

	/* The batch. */
	uint64_t now;                           /* wall clock of the batch */
	struct rl_agent *wheel[RL_WHEEL_SLOTS]; /* the agents' timers (wheel.c) */
	uint64_t wheel_us;                      /* the time the wheel has been turned to */
	int in_batch;
	const char *unwritable;  /* set: requests that write are refused with this (docs/ha.md) */
	rl_engine_ha_fn ha_stat; /* the hub pair's row in status replies; NULL: a single hub */
	void *ha_arg;
	struct rl_out *out;
	size_t nout, capout;
	uint8_t *obytes; /* the outbox's other frames back to back, until it is sent */
	size_t olen, ocap;
	/* Replication (rl_engine_set_hold): committed batches' messages waiting for their batch
	 * to be on a standby, held[held_off .. nheld) in commit order. */
	rl_engine_commit_fn hold_fn;
	void *hold_arg;
	struct rl_out *held;
	size_t nheld, capheld, held_off;
	struct rl_ptrs dirty_agents, dirty_contacts; /* written once at commit */
	struct rl_engine_counters ctr;
	Relais__HubCounters wire;
	uint64_t gone_sites;              /* bit per site lost or failed over: queues of those sites overflow at once */
	uint64_t noc_seq;                 /* the last site command's number */
	struct rl_dialplan *dialplan_src; /* the config's dial plan; NULL: none (dialplan.c) */
	Relais__DialPlan *dialplan;       /* the same as pushed to nodes (its strings are dialplan_src's) */

	/* The voice path. */
	struct rl_relay *relay; /* NULL: no relay (every agent talks to the site) */
	int suite;              /* SRTP suite of new plans */
	uint64_t relay_seq;
	uint32_t plan_epoch;
	uint64_t no_media_said_us;            /* when "no media path" was last logged */
	uint64_t no_media_unsaid;             /* contacts without one since, not logged one by one */
	Relais__MediaLeg scratch_leg;         /* filled and encoded at once by the status/update pushes */
	Relais__RecordingOrder scratch_order; /* the same, for an agent's status (recording.c) */
	struct rl_recent recent[RL_RECENT_CALLS];
	unsigned nrecent;

	/* Reports (report.c): folded off this thread, kept a while for their next pages. */
	rl_engine_report_fn report;
	void *report_arg;
	unsigned reports_pending;
	struct rl_report_job *reports[RL_REPORT_CACHE];
	struct rl_monitor *monitors; /* supervisors on calls (monitor.c) */
	int nmonitors, capmonitors;
	uint64_t monitor_notify;        /* tenants whose agents see that they are monitored (bit per index) */
	struct rl_wallboard *wallboard; /* wallboard.c; NULL: none served */
};

/* A request in the gate: who asked, and where the answer goes. */
struct rl_req {
	uint32_t pipe;
	uint64_t chan;
	uint64_t req_id;
	uint64_t session;
	struct rl_peer *peer;   /* NULL before Hello */
	unsigned who;           /* the principal (RL_WHO_*; 0: not proven) */
	uint64_t scope;         /* the tenants it may see and act for (bit per tenant index) */
	struct rl_agent *agent; /* session-bound requests: the session's agent */
};

/* The principal behind a frame: an agent (on its own link, or relayed by a node on a chan:
 * such a frame speaks for that agent, never for the site), a site node, or an operator by
 * role. docs/security.md gives each one's rights. */
enum {
	RL_WHO_AGENT = 1,
	RL_WHO_NODE = 2,
	RL_WHO_ADMIN = 4,
	RL_WHO_NOC = 8,
	RL_WHO_SUPERVISOR = 16,
	RL_WHO_VIEWER = 32,
};
#define RL_WHO_OPS   (RL_WHO_ADMIN | RL_WHO_NOC | RL_WHO_SUPERVISOR | RL_WHO_VIEWER)
#define RL_WHO_ANY   (RL_WHO_AGENT | RL_WHO_NODE | RL_WHO_OPS)
#define RL_SCOPE_ALL UINT64_MAX

typedef void (*rl_handler_fn)(struct rl_engine *e, struct rl_req *r, const rl_env *env);

/* The steps of a contact's life; rl_contact_to picks each one's state and event. */
enum rl_cstep {
	RL_C_SUBMITTED,   /* new: queued (its site hears it in the submit's answer) */
	RL_C_OFFERED,     /* to the agent now in c->agent */
	RL_C_ACCEPTED,    /* the agent took it: connected */
	RL_C_REJECTED,    /* the agent refused it: back to its place */
	RL_C_RONA,        /* nobody answered the offer: back to its place */
	RL_C_REQUEUED,    /* the offer was withdrawn (agent gone, records disagreed) */
	RL_C_TRANSFERRED, /* queued again, in the queue c->queue now names */
	RL_C_SUSPENDED,   /* its site is lost: waiting, but offered to nobody (an offer is withdrawn) */
	RL_C_RESUMED,     /* its site is back: waiting as before, at its place */
	RL_C_ENDED,       /* over, with c->rec->outcome */
};

/* engine.c */
void rl_out_push(struct rl_engine *e, uint32_t pipe, uint64_t chan, uint64_t session, uint64_t req_id, rl_env *env,
                 struct rl_agent *cache_agent, uint32_t cache_pipe);
void rl_reply(struct rl_engine *e, const struct rl_req *r, rl_env *env);
void rl_reply_error(struct rl_engine *e, const struct rl_req *r, Relais__ErrorCode code, const char *msg,
                    uint32_t retry_ms);
void rl_reply_ok(struct rl_engine *e, const struct rl_req *r);
void rl_dirty_agent(struct rl_engine *e, struct rl_agent *a);
void rl_ptrs_push(struct rl_ptrs *p, void *v);
void rl_dirty_contact(struct rl_engine *e, struct rl_contact *c);
int rl_find_id(const char *id, const void *base, size_t stride, int n);
#define rl_tenant_idx(e, id) rl_find_id(id, (e)->tenants, sizeof(struct rl_tenant), (e)->ntenants)
#define rl_site_idx(e, id)   rl_find_id(id, (e)->sites, sizeof(struct rl_site), (e)->nsites)
#define rl_queue_idx(e, id)  rl_find_id(id, (e)->queues, sizeof(struct rl_queue), (e)->nqueues)

/* session.c */
struct rl_peer *rl_peer_find(struct rl_engine *e, uint32_t pipe);
const char *rl_who_name(unsigned who);
void rl_peer_free(struct rl_peer *p);
struct rl_reply *rl_cache_find(struct rl_reply *c, int n, uint64_t req_id);
struct rl_agent *rl_session_agent(struct rl_engine *e, const struct rl_req *r);
void rl_touch(struct rl_engine *e, struct rl_agent *a);
void rl_agent_unbind(struct rl_engine *e, struct rl_agent *a);
void rl_h_hello(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_heartbeat(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_seats_alive(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_login(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_resume(struct rl_engine *e, struct rl_req *r, const rl_env *env);

/* lockout.c */
uint64_t rl_lockout_wait(struct rl_engine *e, const char *id, const char *ip);
void rl_lockout_failed(struct rl_engine *e, const char *id, const char *ip);
void rl_lockout_passed(struct rl_engine *e, struct rl_agent *a, const char *ip);

/* agent.c */
struct rl_agent *rl_agent_find(struct rl_engine *e, const char *id);
struct rl_agent *rl_agent_by_session(struct rl_engine *e, uint64_t session);
struct rl_agent *rl_agent_new(struct rl_engine *e, const char *id);
void rl_agent_free(struct rl_agent *a);
int rl_agent_live(const struct rl_agent *a);
/* rl_agent_working: ready, ringing, on a call or in wrap-up, with no not-ready asked for (a
 * worker of the queues it is eligible for: rl_queue_workers). */
int rl_agent_working(const struct rl_agent *a);

/* tally.c: the agents counted as they change. rl_tally(e, a, -1) before any change of a's
 * state, reason, pending not-ready or tiers, rl_tally(e, a, 1) after; rl_tally_new counts a
 * provisioned agent (its tenants set) and indexes it under its tenants. rl_tally_scope: the
 * agents of the tenants in scope, in all (returned) and by state (by_state, if not NULL).
 * rl_queue_staffed: q's agents logged in and eligible at some tier. */
void rl_tally(struct rl_engine *e, const struct rl_agent *a, int d);
void rl_tally_new(struct rl_engine *e, struct rl_agent *a);
uint32_t rl_tally_scope(const struct rl_engine *e, uint64_t scope, uint32_t by_state[RL_STATES]);
uint32_t rl_queue_staffed(const struct rl_queue *q);
uint32_t rl_reasons_count(const struct rl_reasons *r, const char *why);

/* rl_scope_next: the agents of the tenants in scope (and those only: an agent of no tenant is
 * in no scope), in agents[] order, each once, without a walk over the others: it->at[] starts
 * zeroed; returns the next agent's index, -1 at the end. */
struct rl_scope_iter {
	int next; /* every tenant in scope: a plain walk */
	int at[RL_MAX_TENANTS];
};
int rl_scope_next(const struct rl_engine *e, uint64_t scope, struct rl_scope_iter *it);
void rl_reasons_free(struct rl_reasons *r);
void rl_agent_tiers(struct rl_engine *e, struct rl_agent *a);
void rl_agent_set(struct rl_engine *e, struct rl_agent *a, Relais__AgentState st, const char *reason);
void rl_agent_login(struct rl_engine *e, struct rl_agent *a);
void rl_agent_after_contact(struct rl_engine *e, struct rl_agent *a);
void rl_agent_start_wrapup(struct rl_engine *e, struct rl_agent *a, struct rl_contact *c);
void rl_agent_move(struct rl_engine *e, struct rl_agent *a, int site);
void rl_agent_reach(struct rl_engine *e, struct rl_agent *a, int reachable);
void rl_agent_logout(struct rl_engine *e, struct rl_agent *a, const char *why);
void rl_agent_timers(struct rl_engine *e, struct rl_agent *a);

/* wheel.c */
/* rl_agent_schedule puts a in the wheel at its next due time (out of it when logged out);
 * rl_agent_schedule_soon does it only if a is not in the wheel yet (a heartbeat). */
void rl_agent_schedule(struct rl_engine *e, struct rl_agent *a);
void rl_agent_schedule_soon(struct rl_engine *e, struct rl_agent *a);
/* rl_wheel_tick runs the timers of the agents due by e->now. */
void rl_wheel_tick(struct rl_engine *e);
void rl_h_set_state(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_answer(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_hangup(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_wrapup(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_admin_state(struct rl_engine *e, struct rl_req *r, const rl_env *env);

/* contact.c */
struct rl_contact *rl_contact_find(struct rl_engine *e, const char *id);
struct rl_contact *rl_contact_adopt(struct rl_engine *e, Relais__ContactRecord *rec);
void rl_contact_destroy(struct rl_contact *c);
void rl_contact_to(struct rl_engine *e, struct rl_contact *c, enum rl_cstep step, uint64_t ms);
void rl_contact_end(struct rl_engine *e, struct rl_contact *c, Relais__ContactOutcome outcome, const char *why);
void rl_contact_close(struct rl_engine *e, struct rl_contact *c, int failed, const char *why);
/* rl_contact_take: a survivable site's own engine held c while the hub was lost; j (taken) is
 * its record as the site holds it now. c's record becomes j (its site boot kept), in j's
 * state, without an event (the site's journal brings that period's events); the caller binds
 * agents. */
void rl_contact_take(struct rl_engine *e, struct rl_contact *c, Relais__ContactRecord *j);
/* rl_answer_withdraw: rec (of queue qi) was answered here, but its site says its caller left
 * before any agent was connected: rec ends abandoned and the answer is taken back from the
 * KPIs (an EV_ANSWER_WITHDRAWN event). The caller writes rec. */
void rl_answer_withdraw(struct rl_engine *e, int qi, Relais__ContactRecord *rec);
void rl_contact_lost(struct rl_engine *e, const struct rl_contact *c);
void rl_contact_found(struct rl_engine *e, const struct rl_contact *c);
int rl_contact_get(struct rl_engine *e, const char *id, struct rl_contact **c, Relais__ContactRecord **rec);
void rl_contact_put(struct rl_engine *e, struct rl_contact *c, Relais__ContactRecord *rec);
void rl_contact_drop(struct rl_contact *c, Relais__ContactRecord *rec);
/* rl_contact_dispose sets the disposition of contact id (an agent's, as its wrap-up ends):
 * a contact that has ended is read from the store and written back without a copy of its
 * own on the heap (bump.h). */
void rl_contact_dispose(struct rl_engine *e, const char *id, const char *disposition);
void rl_pop_set(Relais__ContactRecord *rec, const char *key, const char *value);
void rl_h_submit(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_cancel(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_position(struct rl_engine *e, struct rl_req *r, const rl_env *env);

/* transfer.c */
void rl_h_transfer(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_transfer_result(struct rl_engine *e, struct rl_req *r, const rl_env *env);

/* route.c */
void rl_route(struct rl_engine *e);

/* event.c */
void rl_event(struct rl_engine *e, Relais__EventType type, const struct rl_contact *c, const struct rl_agent *a,
              uint64_t ms, const char *detail);
void rl_event_emit(struct rl_engine *e, int qi, const Relais__EventRecord *ev);
/* rl_event_state logs agent a's new state (its record's), with the state prev it left after ms
 * and that state's reason: an agent's time by state is a fold over these (reports). */
void rl_event_state(struct rl_engine *e, const struct rl_agent *a, Relais__AgentState prev, const char *prev_reason,
                    uint64_t ms);

/* kpi.c */
void rl_kpi_fold(struct rl_engine *e, int qi, const Relais__EventRecord *ev);
/* rl_kpi_add folds event ev into counters st of a queue whose service level counts answers
 * within sl_s; rl_kpi_rates derives the service level (answered within sl_s over answered
 * and abandoned; 1 with neither), the average speed of answer and handle time (0 without
 * calls). Live KPIs and reports both count with these, and only these. */
void rl_kpi_add(struct rl_qstats *st, uint32_t sl_s, const Relais__EventRecord *ev);
void rl_kpi_rates(const struct rl_qstats *st, double *sl, double *asa_ms, double *aht_ms);
void rl_kpi_day(struct rl_engine *e, struct rl_queue *q);
uint32_t rl_queue_workers(const struct rl_engine *e, int qi);
uint32_t rl_queue_ewt_s(const struct rl_queue *q, uint32_t position, uint32_t workers);
/* Staffing (Erlang C). rl_erlang_agents: the fewest agents that answer the share sl (0..1)
 * of contacts within t_s, for per_s arrivals a second of handle time aht_s (0 if none
 * arrive). rl_queue_agents_needed: that for queue q's service-level goal, its arrivals in the
 * last complete staffing interval and its recent handle time; 0 while unknown (no complete
 * interval yet), else 1 with *needed and the arrival rate *per_hour. */
#define RL_STAFF_INTERVAL_S 900u /* a quarter of an hour, as workforce planning counts */
#define RL_STAFF_MAX_AGENTS 100000u
uint32_t rl_erlang_agents(double per_s, double aht_s, double sl, double t_s);
int rl_queue_agents_needed(const struct rl_engine *e, const struct rl_queue *q, uint32_t *needed, double *per_hour);

/* media.c */
struct rl_plan *rl_plan_ensure(struct rl_engine *e, struct rl_contact *c);
void rl_call_finish(struct rl_engine *e, struct rl_contact *c);
void rl_h_quality(struct rl_engine *e, struct rl_req *r, const rl_env *env);

/* push.c */
void rl_fill_offer(Relais__Offer *o, const struct rl_contact *c);
void rl_fill_status(struct rl_engine *e, Relais__AgentStatus *st, Relais__Offer *o, const struct rl_agent *a);
void rl_push_to_agent(struct rl_engine *e, const struct rl_agent *a, rl_env *env);
/* rl_push_status sends a's status: as the answer to r, or unasked when r is NULL;
 * rl_push_status_as with logged_out set tells the link it is logged out, for that reason. */
void rl_push_status(struct rl_engine *e, struct rl_agent *a, const struct rl_req *r);
void rl_push_status_as(struct rl_engine *e, struct rl_agent *a, const struct rl_req *r, const char *logged_out);
void rl_push_offer(struct rl_engine *e, struct rl_agent *a, const struct rl_contact *c);
void rl_push_update(struct rl_engine *e, const struct rl_contact *c);
void rl_push_update_rec(struct rl_engine *e, int site, const Relais__ContactRecord *rec);
void rl_push_error(struct rl_engine *e, const struct rl_agent *a, Relais__ErrorCode code, const char *msg);
void rl_push_gone(struct rl_engine *e, int site, const char *id);

/* status.c */
void rl_h_status(struct rl_engine *e, struct rl_req *r, const rl_env *env);
/* queue i's row as an unscoped status shows it (metrics.c reads the same) */
void rl_status_queue(struct rl_engine *e, int i, Relais__QueueStat *x);

/* report.c */
void rl_h_report(struct rl_engine *e, struct rl_req *r, const rl_env *env);
/* rl_report_forget frees the finished reports kept (the engine closes). */
void rl_report_forget(struct rl_engine *e);
/* wallboard.c */
void rl_h_wallboard_ticket(struct rl_engine *e, struct rl_req *r, const rl_env *env);

/* site.c */
void rl_h_site_register(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_site_link(struct rl_engine *e, int site, uint32_t pipe);
void rl_site_link_down(struct rl_engine *e, int site, uint32_t pipe);
void rl_site_heard(struct rl_engine *e, int site);
void rl_site_tick(struct rl_engine *e);
int rl_site_route(struct rl_engine *e, int site);
int rl_site_serving(const struct rl_engine *e, int site);
void rl_site_state(struct rl_engine *e, int site, Relais__SiteState *st);

void rl_site_event(struct rl_engine *e, int site, const char *detail);
void rl_site_reroute(struct rl_engine *e, int site);
void rl_site_tell_agent(struct rl_engine *e, struct rl_agent *a);
void rl_site_tell(struct rl_engine *e, int site);

/* noc.c */
void rl_h_site_command(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_audit(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_noc_push_drain(struct rl_engine *e, int site);

/* survive.c */
int rl_survive_provision(struct rl_engine *e, const config_t *cfg);
void rl_h_site_model(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_site_journal(struct rl_engine *e, struct rl_req *r, const rl_env *env);
/* rl_journal_in: 1 if the last of `parts` parts of the site's journal journal_id is applied. */
int rl_journal_in(struct rl_engine *e, int site, uint64_t journal_id, uint32_t parts);

/* dialplan.c */
int rl_dialplan_provision(struct rl_engine *e, const config_setting_t *g);
void rl_dialplan_push(struct rl_engine *e, int site);

/* recording.c */
int rl_recording_provision(struct rl_engine *e, const config_t *cfg);
/* rl_recording_drawn: 1 if a contact with this id is recorded under a policy of pct percent
 * (0..100): the same answer for the same id, always. */
int rl_recording_drawn(const char *contact_id, int pct);
/* rl_recording_decide: at answer, whether c's call is recorded (c->rec->recording). */
void rl_recording_decide(struct rl_engine *e, struct rl_contact *c);
/* rl_recording_order fills o (pointers into c's record) and returns it if c's call is being
 * recorded, else NULL. */
Relais__RecordingOrder *rl_recording_order(const struct rl_contact *c, Relais__RecordingOrder *o);
void rl_h_recording_pause(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_recording_done(struct rl_engine *e, struct rl_req *r, const rl_env *env);
void rl_h_recording_list(struct rl_engine *e, struct rl_req *r, const rl_env *env);

/* provision.c */
int rl_provision(struct rl_engine *e, const config_t *cfg);
int rl_provision_agents(struct rl_engine *e, const config_t *cfg);

/* monitor.c */
void rl_h_monitor(struct rl_engine *e, struct rl_req *r, const rl_env *env);
/* rl_monitor_shown: the mode a's status shows (OFF unless its tenant's policy tells agents). */
Relais__MonitorMode rl_monitor_shown(const struct rl_engine *e, const struct rl_agent *a);
/* rl_monitor_call_end: c's call is over for its agent (ended, transferred): its supervisor goes. */
void rl_monitor_call_end(struct rl_engine *e, const struct rl_contact *c);
/* rl_monitor_tell_again sends c's site the supervisor's leg on c again, if there is one: after
 * each update of a connected call, so that a node that restarted or a call given a new plan
 * takes the leg back (a leg the node has already is kept: same SSRC). */
void rl_monitor_tell_again(struct rl_engine *e, const struct rl_contact *c);
/* rl_monitor_pipe_gone: link pipe closed; a supervisor on it leaves its call. */
void rl_monitor_pipe_gone(struct rl_engine *e, uint32_t pipe);
/* rl_monitor_provision reads the tenants' monitor_notify policy (tenants: the config's list). */
int rl_monitor_provision(struct rl_engine *e, const config_setting_t *tenants);
void rl_monitor_fini(struct rl_engine *e);

/* restore.c */
int rl_restore(struct rl_engine *e);

#endif
