/*
 * wallboard.c - the web wallboard, engine side: the ticket an operator trades in a browser
 * for a session of its own scope, and the state each watched scope sees, as JSON.
 *
 * What a scope sees follows status.c: queues, agents and calls of its tenants only (of an
 * agent serving several tenants, those in scope), sites' links, health and failover but
 * their counts only for an unscoped operator. Times are absolute (ms since the epoch) so a
 * rendering changes only when the model does and the page counts the seconds itself; the
 * serving side drops a rendering equal to the last one. Rows are capped so a rendering stays
 * small whatever the centre's size (RL_WB_AGENT_ROWS, RL_WB_CALL_ROWS): per-queue and
 * per-state counts cover every agent.
 */
#include "wallboard.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "rl_alloc.h"
#include "store.h"

#define RL_WB_AGENT_ROWS 300 /* agents listed (all are counted) */
#define RL_WB_CALL_ROWS  120 /* live calls listed */
#define RL_WB_RECENT     16  /* ended calls listed, the latest first */
#define RL_WB_SCOPES     32

struct rl_wallboard {
	struct rl_wallserve *serve;
	char url[256];
	uint64_t seen;       /* the model's version at the last look */
	uint64_t changed_ms; /* the first change not published yet (wall ms; 0: none) */
	uint64_t last_us;    /* the last rendering (monotonic) */
	uint64_t interval_us;
	uint64_t renders, render_us; /* made so far, and the engine thread's CPU time they took */
};

static const char *const rl_wb_states[] = {"unspecified", "logged_out", "ready",    "reserved",
                                           "busy",        "wrapup",     "not_ready"};

static const char *rl_wb_role(unsigned who)
{
	switch (who) {
	case RL_WHO_ADMIN:
		return "admin";
	case RL_WHO_NOC:
		return "noc";
	case RL_WHO_SUPERVISOR:
		return "supervisor";
	default:
		return "viewer";
	}
}

void rl_h_wallboard_ticket(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	Relais__WallboardTicket t = RELAIS__WALLBOARD_TICKET__INIT;
	char ticket[64], url[384];
	rl_env out;

	(void)env;
	if (e->wallboard == NULL || r->peer == NULL || r->peer->op < 0) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNAVAILABLE, "this hub serves no wallboard", 0);
		return;
	}
	rl_wallserve_ticket(e->wallboard->serve, r->scope, e->operators[r->peer->op].id, rl_wb_role(r->who), ticket,
	                    sizeof(ticket));
	/* The ticket after '#': browsers do not send it, so no log or proxy on the way keeps it. */
	snprintf(url, sizeof(url), "%s#ticket=%s", e->wallboard->url, ticket);
	t.ticket = ticket;
	t.url = url;
	t.ttl_s = RL_WALLBOARD_TICKET_S;
	rl_env_init(&out);
	out.body_case = RELAIS__ENVELOPE__BODY_WALLBOARD_TICKET;
	out.wallboard_ticket = &t;
	rl_reply(e, r, &out);
}

/* ---------------------------------------------------------------------------------------- */
/* rendering */

static int rl_wb_shown(uint64_t scope, int tenant)
{
	return (scope >> tenant) & 1;
}

static double rl_wb_ms(uint64_t us)
{
	return (double)(us / 1000u);
}

/* rl_wb_queue: one queue's row (its KPIs as status shows them); counts go in later. */
static cJSON *rl_wb_queue(struct rl_engine *e, int i)
{
	Relais__QueueStat x;
	struct rl_queue *q = &e->queues[i];
	cJSON *o = cJSON_CreateObject();

	rl_status_queue(e, i, &x);
	cJSON_AddStringToObject(o, "id", x.queue_id);
	cJSON_AddStringToObject(o, "name", q->name);
	cJSON_AddStringToObject(o, "tenant", x.tenant_id);
	cJSON_AddNumberToObject(o, "waiting", x.waiting);
	cJSON_AddNumberToObject(o, "oldest", q->fifo_head != NULL ? rl_wb_ms(q->fifo_head->rec->enqueued_us) : 0);
	if (x.ewt_known)
		cJSON_AddNumberToObject(o, "ewt_s", x.ewt_s);
	cJSON_AddNumberToObject(o, "sl", x.service_level);
	cJSON_AddNumberToObject(o, "sl_target", x.sl_target_pct / 100.0);
	cJSON_AddNumberToObject(o, "sl_s", x.sl_seconds);
	cJSON_AddNumberToObject(o, "asa_ms", (double)(uint64_t)x.asa_ms);
	cJSON_AddNumberToObject(o, "aht_ms", (double)(uint64_t)x.aht_ms);
	cJSON_AddNumberToObject(o, "offered", (double)x.offered);
	cJSON_AddNumberToObject(o, "answered", (double)x.answered);
	cJSON_AddNumberToObject(o, "abandoned", (double)x.abandoned);
	cJSON_AddNumberToObject(o, "staffed", x.agents_staffed);
	if (x.staffing_known)
		cJSON_AddNumberToObject(o, "needed", x.agents_needed);
	return o;
}

/* A queue's agents by state, and its not-ready ones by reason (the first RL_WB_REASONS). */
#define RL_WB_REASONS 8

/* rl_wb_counts_put writes queue q's counts (tally.c) into its row o. */
static void rl_wb_counts_put(cJSON *o, const struct rl_queue *q)
{
	cJSON *st = cJSON_AddObjectToObject(o, "agents"), *r = cJSON_AddObjectToObject(o, "reasons");

	for (unsigned s = 2; s < RL_STATES; s++)
		cJSON_AddNumberToObject(st, rl_wb_states[s], q->by_state[s]);
	for (uint32_t k = 0; k < q->reasons.len && k < RL_WB_REASONS; k++)
		cJSON_AddNumberToObject(r, q->reasons.v[k].why[0] ? q->reasons.v[k].why : "-", q->reasons.v[k].n);
}

/* rl_wb_agent: an agent's row, with its tenants in scope. */
/* An agent's row is an array, its fields in the order the rendering's "agent_fields" names:
 * the agents are most of a rendering, and their names once per row would double it. */
static const char *const rl_wb_agent_fields[] = {"id",   "name",    "state",     "reason", "since",
                                                 "site", "contact", "reachable", "tenants"};

static const char *rl_wb_str(const char *s)
{
	return s != NULL ? s : "";
}

/* rl_wb_agent: an agent's row; its tenants in scope as their places in the rendering's
 * "tenants" list. */
static cJSON *rl_wb_agent(struct rl_engine *e, const struct rl_agent *a, uint64_t scope)
{
	const Relais__AgentRecord *r = a->rec;
	cJSON *o = cJSON_CreateArray(), *t = cJSON_CreateArray();
	int place = 0;

	cJSON_AddItemToArray(o, cJSON_CreateString(r->agent_id));
	cJSON_AddItemToArray(o, cJSON_CreateString(rl_wb_str(r->name)));
	cJSON_AddItemToArray(o, cJSON_CreateString(rl_wb_states[r->state < 7 ? r->state : 0]));
	cJSON_AddItemToArray(o, cJSON_CreateString(rl_wb_str(r->reason)));
	cJSON_AddItemToArray(o, cJSON_CreateNumber(rl_wb_ms(r->state_since_us)));
	cJSON_AddItemToArray(o, cJSON_CreateString(rl_wb_str(r->site_id)));
	cJSON_AddItemToArray(o, cJSON_CreateString(rl_wb_str(r->contact_id)));
	cJSON_AddItemToArray(o, cJSON_CreateNumber(a->reachable != 0));
	for (int k = 0; k < e->ntenants; k++) {
		if (!rl_wb_shown(scope, k))
			continue;
		if ((a->tenants >> k) & 1)
			cJSON_AddItemToArray(t, cJSON_CreateNumber(place));
		place++;
	}
	cJSON_AddItemToArray(o, t);
	return o;
}

/* rl_wb_agents: the queues' counts of their agents, the agents in scope in all and by state,
 * and the first rows. Counts are kept as agents change (tally.c): a rendering walks the
 * agents in scope only (rl_scope_next), and only until its rows are full. */
static void rl_wb_agents(struct rl_engine *e, uint64_t scope, cJSON *root, cJSON **qrow)
{
	cJSON *rows;
	unsigned listed = 0;
	uint32_t by_state[RL_STATES];
	struct rl_scope_iter it = {0};
	int i;

	cJSON_AddItemToObject(
	    root, "agent_fields",
	    cJSON_CreateStringArray(rl_wb_agent_fields, sizeof(rl_wb_agent_fields) / sizeof(rl_wb_agent_fields[0])));
	rows = cJSON_AddArrayToObject(root, "agents");

	while (listed < RL_WB_AGENT_ROWS && (i = rl_scope_next(e, scope, &it)) >= 0) {
		const struct rl_agent *a = e->agents[i];
		if (!rl_agent_live(a))
			continue;
		cJSON_AddItemToArray(rows, rl_wb_agent(e, a, scope));
		listed++;
	}
	for (int q = 0; q < e->nqueues && q < 64; q++)
		if (qrow[q] != NULL)
			rl_wb_counts_put(qrow[q], &e->queues[q]);
	cJSON_AddNumberToObject(root, "agents_total", rl_tally_scope(e, scope, by_state));
	cJSON *st = cJSON_AddObjectToObject(root, "agents_by_state");
	for (unsigned s = 1; s < RL_STATES; s++)
		cJSON_AddNumberToObject(st, rl_wb_states[s], by_state[s]);
}

static void rl_wb_quality(cJSON *o, const char *name, Relais__CallQuality *q)
{
	if (q == NULL)
		return;
	cJSON *x = cJSON_AddObjectToObject(o, name);
	/* Rounded to what the page shows, so that noise below it sends no update. */
	cJSON_AddNumberToObject(x, "mos", round(q->mos * 100.0) / 100.0);
	cJSON_AddNumberToObject(x, "loss_pct", round(q->loss_pct * 10.0) / 10.0);
	cJSON_AddNumberToObject(x, "jitter_ms", round(q->jitter_ms * 10.0) / 10.0);
	cJSON_AddNumberToObject(x, "rtt_ms", round(q->rtt_ms));
}

static cJSON *rl_wb_call(const char *id, const char *tenant, const char *agent, const char *site, int relayed,
                         uint64_t answered_us, struct rl_call_quality *cq)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "contact", id);
	cJSON_AddStringToObject(o, "tenant", tenant);
	cJSON_AddStringToObject(o, "agent", agent ? agent : "");
	cJSON_AddStringToObject(o, "site", site && site[0] ? site : "");
	cJSON_AddStringToObject(o, "path", relayed ? "relay" : "direct");
	cJSON_AddNumberToObject(o, "answered", rl_wb_ms(answered_us));
	rl_wb_quality(o, "site_end", rl_quality_get(cq, RL_SIDE_SITE));
	rl_wb_quality(o, "agent_end", rl_quality_get(cq, RL_SIDE_AGENT));
	return o;
}

static void rl_wb_calls(struct rl_engine *e, uint64_t scope, cJSON *root)
{
	cJSON *live = cJSON_AddArrayToObject(root, "calls"), *ended = cJSON_AddArrayToObject(root, "ended");
	unsigned n = 0;

	for (size_t i = 0; i < e->contact_by_id.cap && n < RL_WB_CALL_ROWS; i++) {
		struct rl_contact *c = e->contact_by_id.ents[i].val;
		if (c == NULL || c->plan == NULL || !rl_wb_shown(scope, e->queues[c->queue].tenant))
			continue;
		cJSON *o = rl_wb_call(c->id, e->tenants[e->queues[c->queue].tenant].id, c->rec->agent_id,
		                      c->rec->site_id, c->plan->relay_id != 0, c->rec->answered_us, &c->plan->quality);
		cJSON_AddStringToObject(o, "queue", e->queues[c->queue].id);
		cJSON_AddItemToArray(live, o);
		n++;
	}
	for (unsigned k = 0, m = 0; k < e->nrecent && k < RL_RECENT_CALLS && m < RL_WB_RECENT; k++) {
		struct rl_recent *rc = &e->recent[(e->nrecent - 1 - k) % RL_RECENT_CALLS];
		if (!rl_wb_shown(scope, rc->tenant))
			continue;
		cJSON *o = rl_wb_call(rc->id, e->tenants[rc->tenant].id, rc->agent, rc->site, rc->relayed,
		                      rc->answered_us, &rc->quality);
		cJSON_AddNumberToObject(o, "ended", rl_wb_ms(rc->ended_us));
		cJSON_AddItemToArray(ended, o);
		m++;
	}
}

static void rl_wb_sites(struct rl_engine *e, uint64_t scope, cJSON *root)
{
	cJSON *rows = cJSON_AddArrayToObject(root, "sites");
	Relais__SiteState st;

	for (int i = 0; i < e->nsites; i++) {
		cJSON *o = cJSON_CreateObject();
		relais__site_state__init(&st);
		rl_site_state(e, i, &st);
		cJSON_AddStringToObject(o, "id", e->sites[i].id);
		cJSON_AddStringToObject(o, "name", e->sites[i].name);
		cJSON_AddBoolToObject(o, "linked", e->sites[i].pipe != 0);
		cJSON_AddBoolToObject(o, "up", st.up);
		cJSON_AddNumberToObject(o, "health", e->sites[i].health);
		cJSON_AddBoolToObject(o, "survivable", st.survivable);
		cJSON_AddNumberToObject(o, "drain_pct", st.drain_pct);
		cJSON_AddStringToObject(o, "failed_over_to", st.failed_over_to ? st.failed_over_to : "");
		cJSON_AddStringToObject(o, "covered_by", st.covered_by ? st.covered_by : "");
		/* A site's counts span tenants: for unscoped operators only (docs/security.md). */
		if (scope == RL_SCOPE_ALL) {
			cJSON_AddNumberToObject(o, "agents", e->sites[i].agents);
			cJSON_AddNumberToObject(o, "contacts", e->sites[i].contacts);
		}
		cJSON_AddItemToArray(rows, o);
	}
}

char *rl_wallboard_render(struct rl_engine *e, uint64_t scope)
{
	cJSON *root = cJSON_CreateObject(), *queues, *tenants;
	cJSON *qrow[64] = {0};
	char *text;

	tenants = cJSON_AddArrayToObject(root, "tenants");
	for (int t = 0; t < e->ntenants; t++)
		if (rl_wb_shown(scope, t))
			cJSON_AddItemToArray(tenants, cJSON_CreateString(e->tenants[t].id));
	queues = cJSON_AddArrayToObject(root, "queues");
	for (int i = 0; i < e->nqueues && i < 64; i++) {
		if (!rl_wb_shown(scope, e->queues[i].tenant))
			continue;
		qrow[i] = rl_wb_queue(e, i);
		cJSON_AddItemToArray(queues, qrow[i]);
	}
	rl_wb_agents(e, scope, root, qrow);
	rl_wb_sites(e, scope, root);
	rl_wb_calls(e, scope, root);
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* ---------------------------------------------------------------------------------------- */
/* publishing */

void rl_engine_set_wallboard(struct rl_engine *e, struct rl_wallserve *w, const char *page_url, unsigned interval_ms)
{
	if (e->wallboard == NULL && w != NULL)
		e->wallboard = rl_calloc(1, sizeof(*e->wallboard));
	if (w == NULL) {
		free(e->wallboard);
		e->wallboard = NULL;
		return;
	}
	/* cJSON allocates through rl_alloc: out of memory is fatal, so no rendering is NULL. */
	cJSON_InitHooks(&(cJSON_Hooks){.malloc_fn = rl_malloc, .free_fn = free});
	e->wallboard->serve = w;
	if (interval_ms < RL_WALLBOARD_MIN_MS)
		interval_ms = RL_WALLBOARD_MIN_MS;
	if (interval_ms > RL_WALLBOARD_MAX_MS)
		interval_ms = RL_WALLBOARD_MAX_MS;
	e->wallboard->interval_us = interval_ms * 1000ull;
	snprintf(e->wallboard->url, sizeof(e->wallboard->url), "%s", page_url);
}

/* rl_wb_version: a number that moves whenever the model may have: requests applied,
 * commits, calls ended. */
static uint64_t rl_wb_version(struct rl_engine *e)
{
	return e->ctr.requests + rl_store_commits(e->store) + e->nrecent + e->ctr.offers;
}

void rl_engine_wallboard_work(const struct rl_engine *e, uint64_t *renders, uint64_t *us)
{
	*renders = e->wallboard ? e->wallboard->renders : 0;
	*us = e->wallboard ? e->wallboard->render_us : 0;
}

/* rl_wb_cpu_us: the calling thread's CPU time (a wall clock would count the time the
 * machine gave other threads). */
static uint64_t rl_wb_cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void rl_engine_wallboard(struct rl_engine *e, uint64_t mono_us)
{
	struct rl_wallboard *wb = e->wallboard;
	uint64_t scopes[RL_WB_SCOPES], v, since, cpu;
	int n;

	if (wb == NULL)
		return;
	if ((v = rl_wb_version(e)) != wb->seen) {
		wb->seen = v;
		if (wb->changed_ms == 0)
			wb->changed_ms = e->now / 1000u;
	}
	since = mono_us - wb->last_us;
	if (since < wb->interval_us || (wb->changed_ms == 0 && since < RL_WALLBOARD_MAX_MS * 1000u))
		return;
	wb->last_us = mono_us;
	cpu = rl_wb_cpu_us();
	n = rl_wallserve_scopes(wb->serve, scopes, RL_WB_SCOPES);
	for (int i = 0; i < n; i++) {
		char *body = rl_wallboard_render(e, scopes[i]);
		rl_wallserve_publish(wb->serve, scopes[i], body, strlen(body), e->now / 1000u,
		                     wb->changed_ms ? wb->changed_ms : e->now / 1000u);
		free(body);
	}
	wb->changed_ms = 0;
	wb->renders += (uint64_t)n;
	wb->render_us += rl_wb_cpu_us() - cpu;
}
