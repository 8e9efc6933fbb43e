/*
 * provision.c - the directory from the hub's config: sites, tenants, queues (skills, service
 * level, timers, overflow rules, policy) and agents (tenants, skills, home site, secret
 * hash). An agent's record keeps its live state across restarts; provisioning refreshes only
 * its static fields. docs/config.md describes every setting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rl_alloc.h"
#include "rl_config.h"
#include "rl_err.h"
#include "rl_key.h"
#include "rl_log.h"
#include "store.h"

static int rl_cfg_err(const config_setting_t *s, const char *what)
{
	rl_log(RL_LOG_ERR, "config line=%d: %s", s ? config_setting_source_line(s) : 0, what);
	return RL_ECONFIG;
}

static int rl_skill_idx(struct rl_engine *e, const char *name)
{
	for (int i = 0; i < e->nskills; i++)
		if (strcmp(e->skills[i], name) == 0)
			return i;
	if (e->nskills == RL_MAX_SKILLS)
		return -1;
	snprintf(e->skills[e->nskills], sizeof(e->skills[0]), "%s", name);
	return e->nskills++;
}

static int rl_load_skills(struct rl_engine *e, const config_setting_t *g, uint8_t *levels)
{
	if (g == NULL)
		return RL_OK;
	if (!config_setting_is_group(g))
		return rl_cfg_err(g, "skills must be a group like { billing = 5; fr = 7; }");
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		int lvl = config_setting_get_int(s), idx;
		if (config_setting_type(s) != CONFIG_TYPE_INT || lvl < 1 || lvl > 10)
			return rl_cfg_err(s, "skill levels are integers 1..10");
		if ((idx = rl_skill_idx(e, config_setting_name(s))) < 0)
			return rl_cfg_err(s, "too many distinct skills (64 at most)");
		levels[idx] = (uint8_t)lvl;
	}
	return RL_OK;
}

/* rl_load_named reads the ids (and names) of a list of sites or tenants into id/name fields
 * stride bytes apart; returns how many, or an error. */
static int rl_load_named(const config_setting_t *list, const char *what, char *ids, char *names, size_t stride, int max)
{
	int n = list ? config_setting_length(list) : 0;

	if (n > max)
		return rl_cfg_err(list, what);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
		const char *id = NULL, *name = NULL;
		config_setting_lookup_string(s, "id", &id);
		config_setting_lookup_string(s, "name", &name);
		if (!rl_wire_id_ok(id))
			return rl_cfg_err(s, "every entry needs a valid id");
		snprintf(ids + (size_t)i * stride, RL_WIRE_MAX_ID + 1, "%s", id);
		snprintf(names + (size_t)i * stride, RL_WIRE_MAX_TEXT + 1, "%s", name ? name : id);
	}
	return n;
}

static int rl_load_overflow(struct rl_queue *q, const config_setting_t *ov)
{
	if (config_setting_length(ov) > RL_MAX_TIERS - 1)
		return rl_cfg_err(ov, "at most 4 overflow rules");
	for (int i = 0; i < config_setting_length(ov); i++) {
		const config_setting_t *r = config_setting_get_elem(ov, (unsigned)i);
		const config_setting_t *w = config_setting_get_member(r, "widen");
		struct rl_overflow *o = &q->overflow[q->noverflow++];
		o->after_s = (uint32_t)rl_cfg_int(r, "after_s", 0);
		o->waiting_over = (uint32_t)rl_cfg_int(r, "waiting_over", 0);
		for (int k = 0; w && k < config_setting_length(w); k++) {
			const char *wv = config_setting_get_string_elem(w, k);
			if (wv && strcmp(wv, "all_sites") == 0)
				o->widen |= RL_WIDEN_ALL_SITES;
			else if (wv && strcmp(wv, "home") == 0)
				o->widen |= RL_WIDEN_HOME;
			else if (wv && strcmp(wv, "skills2") == 0)
				o->widen |= RL_WIDEN_SKILLS2;
			else
				return rl_cfg_err(w, "widen values: all_sites, home, skills2");
		}
	}
	return RL_OK;
}

/* rl_load_queue_numbers: the queue's service level, timers and policy, with their bounds. */
static int rl_load_queue_numbers(struct rl_engine *e, struct rl_queue *q, const config_setting_t *s)
{
	const char *policy = "longest_idle";

	config_setting_lookup_string(s, "policy", &policy);
	q->sl_pct = (uint32_t)rl_cfg_int(s, "sl_pct", 80);
	q->sl_s = (uint32_t)rl_cfg_int(s, "sl_seconds", 20);
	q->wrapup_s = (uint32_t)rl_cfg_int(s, "wrapup_s", e->conf.wrapup_s);
	q->offer_timeout_s = (uint32_t)rl_cfg_int(s, "offer_timeout_s", e->conf.offer_timeout_s);
	q->sticky_s = (uint32_t)rl_cfg_int(s, "sticky_s", 0);
	q->aht_s = (uint32_t)rl_cfg_int(s, "aht_s", 180);
	if (q->aht_s < 1 || q->aht_s > 7200)
		return rl_cfg_err(s, "aht_s (expected handle time before there is history) is 1..7200");
	if (q->sl_pct > 100 || q->sl_s > 3600 || q->wrapup_s > 3600 || q->offer_timeout_s < 1 ||
	    q->offer_timeout_s > 300)
		return rl_cfg_err(s, "queue setting out of range (sl_pct 0..100, sl_seconds/wrapup_s <= 3600, "
		                     "offer_timeout_s 1..300)");
	if (strcmp(policy, "longest_idle") == 0)
		q->policy = RL_POLICY_LONGEST_IDLE;
	else if (strcmp(policy, "most_skilled") == 0)
		q->policy = RL_POLICY_MOST_SKILLED;
	else
		return rl_cfg_err(s, "policy is longest_idle or most_skilled");
	return RL_OK;
}

static int rl_load_queue(struct rl_engine *e, struct rl_queue *q, const config_setting_t *s)
{
	const char *id = NULL, *tenant = NULL, *name = NULL;
	const config_setting_t *sites, *ov;
	int rv;

	config_setting_lookup_string(s, "id", &id);
	config_setting_lookup_string(s, "tenant", &tenant);
	config_setting_lookup_string(s, "name", &name);
	if (!rl_wire_id_ok(id))
		return rl_cfg_err(s, "queue needs a valid id");
	snprintf(q->id, sizeof(q->id), "%s", id);
	snprintf(q->name, sizeof(q->name), "%s", name ? name : id);
	if (tenant == NULL || (q->tenant = rl_tenant_idx(e, tenant)) < 0)
		return rl_cfg_err(s, "queue tenant unknown");
	if ((rv = rl_load_skills(e, config_setting_get_member(s, "skills"), q->need)) != RL_OK)
		return rv;
	if (config_setting_get_member(s, "skills2") != NULL) {
		q->has_need2 = 1;
		if ((rv = rl_load_skills(e, config_setting_get_member(s, "skills2"), q->need2)) != RL_OK)
			return rv;
	}
	if ((sites = config_setting_get_member(s, "sites")) != NULL) {
		for (int i = 0; i < config_setting_length(sites); i++) {
			const char *sid = config_setting_get_string_elem(sites, i);
			int si = sid ? rl_site_idx(e, sid) : -1;
			if (si < 0)
				return rl_cfg_err(sites, "queue site unknown");
			q->sites |= 1ULL << si;
		}
	}
	if ((rv = rl_load_queue_numbers(e, q, s)) != RL_OK)
		return rv;
	if ((ov = config_setting_get_member(s, "overflow")) != NULL)
		return rl_load_overflow(q, ov);
	return RL_OK;
}

static int rl_load_queues(struct rl_engine *e, const config_setting_t *queues)
{
	int rv;

	e->nqueues = queues ? config_setting_length(queues) : 0;
	if (e->nqueues > 64)
		return rl_cfg_err(queues, "at most 64 queues");
	e->queues = rl_calloc((size_t)e->nqueues + 1, sizeof(*e->queues));
	for (int i = 0; i < e->nqueues; i++) {
		if ((rv = rl_load_queue(e, &e->queues[i], config_setting_get_elem(queues, (unsigned)i))) != RL_OK)
			return rv;
		if (rl_queue_idx(e, e->queues[i].id) != i)
			return rl_cfg_err(queues, "duplicate queue id");
	}
	return RL_OK;
}

/* rl_load_site_keys reads each site's node key; a site without one cannot be served. */
static int rl_load_site_keys(struct rl_engine *e, const config_setting_t *list)
{
	for (int i = 0; i < e->nsites; i++) {
		const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
		const char *key = NULL;
		e->sites[i].health = 100;
		e->sites[i].failover = -1;
		if (!config_setting_lookup_string(s, "key", &key)) {
			rl_log(RL_LOG_WARNING, "site has no key: no node can serve it site=%s", e->sites[i].id);
			continue;
		}
		if (rl_key_pub_parse(key, e->sites[i].key) != RL_OK)
			return rl_cfg_err(s, "site key: a base64 Ed25519 public key (relaisctl keygen)");
		e->sites[i].has_key = 1;
	}
	return RL_OK;
}

/* rl_load_backups reads each site's backups (known sites, not itself, in order). The id
 * "home" is kept for the home agents (a failover target). */
static int rl_load_backups(struct rl_engine *e, const config_setting_t *list)
{
	for (int i = 0; i < e->nsites; i++) {
		const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
		const config_setting_t *b = config_setting_get_member(s, "backup");
		int n = b ? config_setting_length(b) : 0;
		e->sites[i].covered_by = -1;
		if (strcmp(e->sites[i].id, "home") == 0)
			return rl_cfg_err(s, "site id \"home\" is reserved for the home agents");
		if (n > RL_MAX_BACKUPS)
			return rl_cfg_err(b, "at most 8 backup sites");
		for (int k = 0; k < n; k++) {
			const char *id = config_setting_get_string_elem(b, k);
			int bi = id ? rl_site_idx(e, id) : -1;
			if (bi < 0 || bi == i)
				return rl_cfg_err(b, "backup: known sites other than the site itself");
			e->sites[i].backup[e->sites[i].nbackup++] = bi;
		}
	}
	return RL_OK;
}

/* rl_load_operators reads the operators (rl_operator.h) and each one's tenant scope. */
static int rl_load_operators(struct rl_engine *e, const config_setting_t *list)
{
	char err[256];

	if (rl_operators_load(list, &e->operators, &e->noperators, err, sizeof(err)) != RL_OK) {
		rl_log(RL_LOG_ERR, "config operators %s", err);
		return RL_ECONFIG;
	}
	e->op_scope = rl_calloc((size_t)e->noperators + 1, sizeof(*e->op_scope));
	for (int i = 0; i < e->noperators; i++) {
		const struct rl_operator *op = &e->operators[i];
		e->op_scope[i] = op->ntenants ? 0 : RL_SCOPE_ALL;
		for (int t = 0; t < op->ntenants; t++) {
			int ti = rl_tenant_idx(e, op->tenants[t]);
			if (ti < 0)
				return rl_cfg_err(list, "operator tenant unknown");
			e->op_scope[i] |= 1ULL << ti;
		}
	}
	return RL_OK;
}

int rl_provision(struct rl_engine *e, const config_t *cfg)
{
	const config_setting_t *sites = config_lookup(cfg, "sites");
	int n, rv;

	n = rl_load_named(sites, "at most 64 sites", e->sites[0].id, e->sites[0].name, sizeof(struct rl_site),
	                  RL_MAX_SITES);
	if (n < 0)
		return n;
	e->nsites = n;
	if ((rv = rl_load_site_keys(e, sites)) != RL_OK || (rv = rl_load_backups(e, sites)) != RL_OK)
		return rv;
	n = rl_load_named(config_lookup(cfg, "tenants"), "at most 64 tenants", e->tenants[0].id, e->tenants[0].name,
	                  sizeof(struct rl_tenant), RL_MAX_TENANTS);
	if (n < 0)
		return n;
	e->ntenants = n;
	if ((rv = rl_monitor_provision(e, config_lookup(cfg, "tenants"))) != RL_OK ||
	    (rv = rl_load_operators(e, config_lookup(cfg, "operators"))) != RL_OK ||
	    (rv = rl_load_queues(e, config_lookup(cfg, "queues"))) != RL_OK ||
	    (rv = rl_recording_provision(e, cfg)) != RL_OK)
		return rv;
	return rl_dialplan_provision(e, config_lookup(cfg, "dial_plan"));
}

/* ---------------------------------------------------------------------------------------- */
/* agents */

static void rl_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* rl_agent_record: the stored record of agent id, or a new logged-out one. */
static Relais__AgentRecord *rl_agent_record(struct rl_engine *e, const char *id)
{
	Relais__AgentRecord *rec = NULL;

	if (rl_store_get_agent(e->store, id, &rec) == RL_OK)
		return rec;
	rec = rl_calloc(1, sizeof(*rec));
	relais__agent_record__init(rec);
	rec->agent_id = rl_strdup(id);
	rec->state = RELAIS__AGENT_STATE__AGENT_LOGGED_OUT; /* reason, contact, site: init's empty strings */
	return rec;
}

/* rl_agent_tenants sets the agent's tenants from list tl (NULL: none). */
static int rl_agent_tenants(struct rl_engine *e, struct rl_agent *a, const config_setting_t *tl)
{
	Relais__AgentRecord *rec = a->rec;
	int n = tl ? config_setting_length(tl) : 0;

	rl_strv_free(rec->tenants, rec->n_tenants);
	rec->tenants = rl_calloc((size_t)n + 1, sizeof(char *));
	rec->n_tenants = 0;
	for (int i = 0; i < n; i++) {
		const char *t = config_setting_get_string_elem(tl, i);
		int ti = t ? rl_tenant_idx(e, t) : -1;
		if (ti < 0)
			return rl_cfg_err(tl, "agent tenant unknown");
		a->tenants |= 1ULL << ti;
		rec->tenants[rec->n_tenants++] = rl_strdup(t);
	}
	return RL_OK;
}

/* rl_agent_skills sets the agent's skill levels (and their copy in its record) from g. */
static int rl_agent_skills(struct rl_engine *e, struct rl_agent *a, const config_setting_t *g)
{
	Relais__AgentRecord *rec = a->rec;
	int rv;

	for (size_t i = 0; i < rec->n_skills; i++)
		relais__skill__free_unpacked(rec->skills[i], NULL);
	free(rec->skills);
	rec->skills = rl_calloc(RL_MAX_SKILLS, sizeof(*rec->skills));
	rec->n_skills = 0;
	if ((rv = rl_load_skills(e, g, a->level)) != RL_OK)
		return rv;
	for (int i = 0; i < RL_MAX_SKILLS; i++) {
		Relais__Skill *sk;
		if (!a->level[i])
			continue;
		sk = rl_malloc(sizeof(*sk));
		relais__skill__init(sk);
		sk->name = rl_strdup(e->skills[i]);
		sk->level = a->level[i];
		rec->skills[rec->n_skills++] = sk;
	}
	return RL_OK;
}

/* rl_load_agent applies the provisioned (static) fields of an agent entry to its record. */
static int rl_load_agent(struct rl_engine *e, const config_setting_t *s)
{
	const char *id = NULL, *hash = NULL, *site = "", *name = NULL;
	struct rl_agent *a;
	int rv;

	config_setting_lookup_string(s, "id", &id);
	config_setting_lookup_string(s, "secret_hash", &hash);
	config_setting_lookup_string(s, "site", &site);
	config_setting_lookup_string(s, "name", &name);
	if (!rl_wire_id_ok(id))
		return rl_cfg_err(s, "agent needs a valid id");
	if (e->conf.no_logins && hash == NULL)
		hash = ""; /* nobody logs in here: sessions are carried on (survivable sites) */
	else if (hash == NULL || strncmp(hash, "$argon2id$", 10) != 0)
		return rl_cfg_err(s, "agent needs secret_hash (argon2id; see relaisctl hash-secret)");
	if (rl_agent_find(e, id) != NULL)
		return rl_cfg_err(s, "duplicate agent id");
	if (site[0] && rl_site_idx(e, site) < 0)
		return rl_cfg_err(s, "agent site unknown");
	a = rl_agent_new(e, id);
	a->rec = rl_agent_record(e, id);
	rl_wire_set_str(&a->rec->secret_hash, hash);
	rl_wire_set_str(&a->rec->home_site, site);
	rl_wire_set_str(&a->rec->name, name ? name : id);
	if ((rv = rl_agent_tenants(e, a, config_setting_get_member(s, "tenants"))) != RL_OK ||
	    (rv = rl_agent_skills(e, a, config_setting_get_member(s, "skills"))) != RL_OK) {
		rl_agent_free(a);
		return rv;
	}
	if (e->nagents % 1024 == 0)
		e->agents = rl_realloc(e->agents, ((size_t)e->nagents + 1024) * sizeof(*e->agents));
	e->agents[e->nagents++] = a;
	rl_htab_put(&e->agent_by_id, rl_htab_hash(a->id), a);
	rl_tally_new(e, a);
	return RL_OK;
}

int rl_provision_agents(struct rl_engine *e, const config_t *cfg)
{
	const config_setting_t *agents = config_lookup(cfg, "agents");
	int rv;

	for (int i = 0; agents && i < config_setting_length(agents); i++)
		if ((rv = rl_load_agent(e, config_setting_get_elem(agents, (unsigned)i))) != RL_OK)
			return rv;
	return RL_OK;
}
