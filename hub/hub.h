/*
 * hub.h - the hub's internal model, shared by its modules.
 *
 * The hub is one thread. Memory holds the live model (tenants, sites, queues, agents, live
 * contacts, the router's ordered sets); LMDB holds the durable truth (store.c). Each batch
 * of requests runs in one write transaction (engine.c): records change in memory and are
 * marked dirty, the batch's commit writes each dirty record once and commits, then the
 * replies of the batch go out. A failed write or commit stops the hub (fail-stop); start-up
 * rebuilds memory from LMDB (restore.c). internal.h maps the engine's files.
 */
#ifndef RL_HUB_H
#define RL_HUB_H

#include <stdint.h>

#include "rl_htab.h"
#include "relais.pb-c.h"
#include "rl_wire.h"

#define RL_MAX_SKILLS  64 /* distinct skill names across the hub */
#define RL_MAX_TENANTS 64 /* tenant bit masks */
#define RL_MAX_SITES   64
#define RL_MAX_BACKUPS 8
#define RL_MAX_TIERS   5  /* tier 0 + up to 4 overflow rules */
#define RL_STATES      7  /* AgentState's values, unspecified to not ready */
#define RL_REPLY_CACHE 4  /* per agent session */
#define RL_PEER_CACHE  64 /* per node / ctl link */

/* Agents not ready, by reason: exact counts; a reason nobody has any more is dropped. */
struct rl_reasons {
	struct rl_reason_n {
		char why[RL_WIRE_MAX_ID + 1];
		uint32_t n;
	} * v;
	uint32_t len, cap;
};

enum rl_widen { RL_WIDEN_ALL_SITES = 1, RL_WIDEN_HOME = 2, RL_WIDEN_SKILLS2 = 4 };
enum rl_policy { RL_POLICY_LONGEST_IDLE, RL_POLICY_MOST_SKILLED };

struct rl_tenant {
	char id[RL_WIRE_MAX_ID + 1];
	char name[RL_WIRE_MAX_TEXT + 1];
	int record_pct; /* calls recorded, percent (recording.c) */
};

struct rl_site {
	char id[RL_WIRE_MAX_ID + 1];
	char name[RL_WIRE_MAX_TEXT + 1];
	uint32_t pipe; /* node link, 0 = not connected */
	uint32_t capacity, health;
	uint32_t agents;                     /* logged-in agents seated here */
	uint32_t contacts;                   /* live contacts submitted here */
	char media_addr[RL_WIRE_MAX_ID + 1]; /* where its seated agents send media ("" = unknown) */
	uint8_t key[32];                     /* the node's Ed25519 public key (rl_key.h) */
	int has_key;                         /* 0: no node can speak for this site */
	/* Liveness (site.c) and the NOC's commands (noc.c). */
	uint64_t boot_id;   /* of its node now, from SiteRegister */
	uint32_t reg_pipe;  /* the link its node registered on (boot_id holds for that link) */
	int survivable;     /* its node serves its calls alone while the hub is lost */
	int lost;           /* its node was proven, then not heard for site_dead_ms (or its link closed) */
	uint64_t heard_us;  /* the last frame from its node */
	uint64_t lost_us;   /* when it was lost */
	int ended_waiting;  /* lost too long: its waiting contacts were ended */
	uint32_t drain_pct; /* share of new carrier calls its node refuses (NOC) */
	int failover;       /* -1: none; a site index, or RL_FAILOVER_HOME: its agents route as there */
	uint64_t cmd_seq;   /* the last command applied */
	char by[RL_WIRE_MAX_ID + 1];
	char reason[RL_WIRE_MAX_TEXT + 1];
	uint64_t since_us; /* of the last command */
	/* Backups (config `backup`, in order): while this site is gone (lost or failed over), the
	 * first of them that serves takes its queues' calls as its own (tier 0). */
	int backup[RL_MAX_BACKUPS];
	int nbackup;
	int covered_by; /* the backup taking its calls now; -1 = none */
	/* Survivable sites (survive.c): its model as text, and whether its seated agents wait for
	 * the journal of what the site did alone (no offers until its last part). */
	char *model;
	size_t model_len;
	uint64_t model_version;
	int held;
	uint64_t covers; /* the gone sites this one takes the calls of now (bit per site) */
};

#define RL_FAILOVER_HOME (-2)

struct rl_overflow {
	uint32_t after_s, waiting_over;
	unsigned widen; /* RL_WIDEN_* */
};

struct rl_contact;
struct rl_agent;

#define RL_SKIP_LEVELS 12 /* a ready list's levels: 4^12 agents before its search slows */

/* A ready agent's place in one (queue, tier) list: a skip list ordered by the key it was
 * linked with (router.c), doubly linked at its base. */
struct rl_member {
	struct rl_member *prev, *next;
	struct rl_member **up; /* next at levels 1 .. height - 1 (NULL for height 1) */
	struct rl_agent *agent;
	uint64_t idle_us, seq; /* the key: score desc, idle since asc, then first linked first */
	int score;
	int queue, tier;
	uint8_t height;
	int linked;
};

struct rl_list {
	struct rl_member *head, *tail;
	struct rl_member *top[RL_SKIP_LEVELS];  /* first member at each level above the base */
	struct rl_member *last[RL_SKIP_LEVELS]; /* and the last ([0] unused: tail) */
	uint32_t len;
	uint64_t seq;
};

/* Contacts' counters over some span: a queue's today (live), or a report's row (report_fold.c);
 * rl_kpi_add (kpi.c) is the one fold of events into them. */
#define RL_WAIT_BUCKETS 7 /* abandons by wait: RL_WAIT_BUCKET_S upper bounds, then longer */
extern const uint32_t RL_WAIT_BUCKET_S[RL_WAIT_BUCKETS - 1];
struct rl_qstats {
	uint64_t offered, answered, answered_in_sl, abandoned;
	uint64_t answer_wait_ms, handle_ms, handled;
	uint64_t wrap_ms;                         /* the wrap-up share of handle_ms */
	uint64_t transfers;                       /* calls an agent sent on: another queue, or a number */
	uint64_t abandoned_wait[RL_WAIT_BUCKETS]; /* abandons by how long the caller waited */
	uint32_t day;                             /* days since epoch the counters are for */
};

struct rl_queue {
	char id[RL_WIRE_MAX_ID + 1];
	char name[RL_WIRE_MAX_TEXT + 1];
	int tenant;
	uint8_t need[RL_MAX_SKILLS];  /* minimum level per skill index, 0 = not required */
	uint8_t need2[RL_MAX_SKILLS]; /* second skill set (widen skills2) */
	int has_need2;
	uint64_t sites; /* bit per site index; 0 = any site or home */
	uint32_t sl_pct, sl_s, wrapup_s, offer_timeout_s, sticky_s;
	enum rl_policy policy;
	int record_pct; /* calls recorded, percent; -1: as its tenant (recording.c) */
	struct rl_overflow overflow[RL_MAX_TIERS - 1];
	int noverflow;
	/* Waiting contacts: a binary heap, best first (priority desc, enqueue asc, seq). */
	struct rl_contact **heap;
	uint32_t nheap, capheap;
	/* The same contacts by original enqueue time: the head is the longest waiting, whatever
	 * its priority (overflow by wait, longest-wait figures). */
	struct rl_contact *fifo_head, *fifo_tail;
	struct rl_list ready[RL_MAX_TIERS];
	/* Its agents logged in and eligible at some tier (staffed: rl_queue_staffed), kept as they
	 * change (tally.c): by state, the not-ready ones by reason, and those working it
	 * (rl_queue_workers). */
	uint32_t by_state[RL_STATES];
	struct rl_reasons reasons;
	uint32_t workers;
	struct rl_qstats st;
	/* Recent handle time for expected-wait estimates: moving averages of talk and of
	 * wrap-up over the last calls (RL_AHT_WEIGHT), aht_s until there is history. */
	uint32_t aht_s;
	double talk_avg_ms, wrap_avg_ms;
	uint32_t talk_n, wrap_n;
	/* Arrivals per staffing interval (RL_STAFF_INTERVAL_S): the one in progress and the last
	 * complete one before it, for the Erlang C estimate of the agents needed (kpi.c). */
	uint32_t iv_idx, iv_prev_idx; /* interval numbers since the epoch; 0 = none yet */
	uint32_t iv_first;            /* the interval of the first arrival seen (0 = none) */
	uint32_t iv_offered, iv_prev_offered;
	int dirty;
};

struct rl_contact {
	char id[RL_WIRE_MAX_ID + 1];
	Relais__ContactRecord *rec; /* owned; the durable record's image */
	int queue;
	int site;          /* submitting site, -1 = ctl / none */
	uint32_t heap_idx; /* valid while queued */
	struct rl_contact *fifo_prev, *fifo_next;
	int queued;
	struct rl_agent *agent;               /* offered / connected agent */
	char last_reject[RL_WIRE_MAX_ID + 1]; /* agent who refused it last */
	struct rl_plan *plan;                 /* connected: its media plan (plan.h), made on first push */
	int no_media_logged;                  /* "no media path" said for this contact */
	int dirty;                            /* its record changed in this batch (written at commit) */
	int ended;                            /* ended in this batch: out of the live table, freed after commit */
};

struct rl_reply {
	uint64_t req_id;
	uint8_t *buf; /* encoded reply; NULL while the request is still in the batch */
	size_t len;
};

struct rl_agent {
	char id[RL_WIRE_MAX_ID + 1];
	Relais__AgentRecord *rec; /* owned; the durable record's image */
	uint64_t tenants;         /* bit per tenant index */
	uint8_t level[RL_MAX_SKILLS];
	int site;                  /* logged in at this site index; -1 = home */
	int route_site;            /* the site it is routed as: its site, or where its site failed over */
	uint64_t covers;           /* the gone sites its route site backs up now (bit per site) */
	int tier[64];              /* per queue index: eligibility tier, -1 = none (<= 64 queues) */
	struct rl_member *members; /* one per queue */
	int nmembers;
	struct rl_contact *contact; /* offered / connected */
	/* Link binding: where this session's last message came from. */
	uint32_t pipe;
	uint64_t chan;
	int bound;
	int reachable;                    /* heard within RL_LINK_DEAD_MS */
	struct rl_agent *w_next, *w_prev; /* its slot in the timer wheel (wheel.c), if w_in */
	uint64_t w_at;
	int w_in;
	uint64_t last_seen_us; /* batch clock of the last message */
	uint64_t wrap_started_us;
	int wrap_queue;
	struct rl_reply cache[RL_REPLY_CACHE];
	unsigned cache_next;
	int dirty;           /* its record changed in this batch (written at commit) */
	int mask;            /* its set of tenants' index in the engine's tallies (tally.c) */
	char good_ip[4][48]; /* addresses it logged in from lately: never slowed by others' failures */
	unsigned good_next;
};

#endif
