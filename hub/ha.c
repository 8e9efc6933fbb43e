/*
 * ha.c - leader election and self-fencing on an etcd lease (ha.h, docs/ha.md).
 *
 * The fencing argument. etcd starts a lease's TTL when it applies the grant or a keepalive,
 * which is after the candidate sent it; so if a request sent at t succeeded with TTL T, the
 * lease cannot expire before t + T (etcd only ever pushes expiry later, e.g. when its own
 * leader changes). The leader key is attached to the lease and is only created when absent,
 * so no other candidate can lead before that instant either. The leader stops at
 * valid_until = t + T - margin, t being the send time of its last successful keepalive on
 * CLOCK_BOOTTIME; margin covers clock rate differences and the time the owner takes to stop.
 * Every etcd call the leader makes is bounded by valid_until, so none can keep it past it.
 */
#include "ha.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "etcd.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_loop.h"

/* How often a follower reads the leader key once its owner saw the leader go. */
#define HA_EAGER_MS 50
/* How soon a leader whose keepalive failed on every member tries again. */
#define HA_RETRY_MS 50

struct rl_ha {
	struct rl_ha_config cfg; /* its strings are the copies below */
	char *endpoints, *key, *name, *address, *repl, *sync_key;
	char *value; /* the leader key's value: {"name": ..., "address": ..., "repl": ...} */
	struct rl_etcd *etcd;
	rl_ha_cb cb;
	void *arg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;                       /* mu */
	int leading;                        /* mu; written by the thread only */
	struct rl_ha_term term;             /* mu; written by the thread only */
	uint64_t valid_until_us;            /* mu; written by the thread only */
	char sync_want[RL_HA_NAME_MAX + 1]; /* mu: the standby to record (asked once want_id != 0) */
	char sync_done[RL_HA_NAME_MAX + 1]; /* the thread's: recorded in this term (once done_id != 0) */
	int barred;                         /* the sync key names others: this one may not campaign */
	unsigned sync_gen;                  /* mu: rl_ha_set_sync calls, to cut a nap short */
	uint64_t want_id, done_id;          /* the sync id with sync_want (mu) and sync_done; 0: none */
	uint64_t local_id;                  /* mu: the sync id this candidate's store holds */
	uint64_t eager_until;               /* mu: poll fast until then (rl_ha_leader_gone) */
	/* The thread's own. */
	uint64_t last_send_us; /* send time of the last successful grant or keepalive */
	int64_t seen_revision; /* the term last reported as FOLLOWER */
	int etcd_down;         /* the last read or renewal failed on every member (logged once) */
};

uint64_t rl_ha_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int ms_until(uint64_t t)
{
	uint64_t now = rl_ha_clock_us();

	return t > now ? (int)((t - now + 999u) / 1000u) : 0;
}

int rl_ha_check_config(struct rl_ha_config *c)
{
	long ttl_ms = (long)c->ttl_s * 1000;

	if (!c->endpoints || !c->key || !c->name || !c->address || !*c->key || !*c->name || c->ttl_s < 1)
		return RL_EINVAL;
	if (strlen(c->name) >= RL_HA_NAME_MAX || strlen(c->address) >= RL_HA_ADDR_MAX ||
	    (c->repl != NULL && strlen(c->repl) >= RL_HA_ADDR_MAX))
		return RL_EINVAL;
	if (c->renew_ms == 0)
		c->renew_ms = (int)(ttl_ms / 3);
	if (c->request_ms == 0)
		c->request_ms = (int)(ttl_ms / 6);
	if (c->margin_ms == 0)
		c->margin_ms = (int)(ttl_ms / 6);
	if (c->poll_ms == 0)
		c->poll_ms = c->renew_ms / 2;
	if (c->renew_ms < 1 || c->request_ms < 1 || c->margin_ms < 1 || c->poll_ms < 1)
		return RL_EINVAL;
	/* Patroni's loop_wait + 2 * retry_timeout <= ttl, with the fencing margin taken out. */
	if ((long)c->renew_ms + 2L * c->request_ms + c->margin_ms > ttl_ms)
		return RL_EINVAL;
	return RL_OK;
}

const char *rl_ha_kind_name(int kind)
{
	switch (kind) {
	case RL_HA_LEADER:
		return "leader";
	case RL_HA_LOST:
		return "lost";
	case RL_HA_FOLLOWER:
		return "follower";
	case RL_HA_SYNC:
		return "sync";
	}
	return "?";
}

/* nap waits ms or until rl_ha_stop; returns 1 if stopping. */
static int nap(struct rl_ha *ha, int ms)
{
	struct timespec ts;
	uint64_t ns;
	int stopping;
	unsigned gen;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + (uint64_t)ms * 1000000u;
	ts.tv_sec = (time_t)(ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	pthread_mutex_lock(&ha->mu);
	gen = ha->sync_gen;
	while (!ha->stopping && gen == ha->sync_gen && pthread_cond_timedwait(&ha->cv, &ha->mu, &ts) == 0)
		;
	stopping = ha->stopping;
	pthread_mutex_unlock(&ha->mu);
	return stopping;
}

static void emit(struct rl_ha *ha, int kind, const struct rl_ha_term *term, uint64_t until, const char *reason)
{
	struct rl_ha_event ev = {.kind = kind, .at_us = rl_ha_clock_us(), .term = *term};

	ev.valid_until_us = until;
	ev.reason = reason;
	ha->cb(ha->arg, &ev);
}

static void become_leader(struct rl_ha *ha, const struct rl_ha_term *term, uint64_t sent_us, uint64_t until)
{
	pthread_mutex_lock(&ha->mu);
	ha->leading = 1;
	ha->term = *term;
	ha->valid_until_us = until;
	pthread_mutex_unlock(&ha->mu);
	ha->last_send_us = sent_us;
	ha->done_id = 0; /* a new term records its standby afresh */
	rl_log(RL_LOG_NOTICE, "ha leader name=%s lease=%lld revision=%lld", ha->name, (long long)term->lease,
	       (long long)term->revision);
	emit(ha, RL_HA_LEADER, term, until, NULL);
}

/* The budget of a call that may try every member once. */
static int full_budget(const struct rl_ha *ha)
{
	return ha->cfg.request_ms * rl_etcd_endpoints(ha->etcd);
}

/* fence stops leading, tells the owner, then lets the lease go so that another candidate
 * need not wait for its TTL (after the owner has stopped: never before). */
static void fence(struct rl_ha *ha, const char *reason)
{
	struct rl_ha_term term;
	uint64_t until, now = rl_ha_clock_us();

	pthread_mutex_lock(&ha->mu);
	ha->leading = 0;
	term = ha->term;
	until = ha->valid_until_us;
	ha->valid_until_us = 0;
	pthread_mutex_unlock(&ha->mu);
	if (now > until + (uint64_t)ha->cfg.margin_ms * 1000u)
		rl_log(RL_LOG_WARNING, "ha fenced late name=%s late_ms=%llu (was this process paused?)", ha->name,
		       (unsigned long long)((now - until) / 1000u));
	rl_log(RL_LOG_WARNING, "ha lost name=%s lease=%lld revision=%lld reason=\"%s\"", ha->name,
	       (long long)term.lease, (long long)term.revision, reason);
	emit(ha, RL_HA_LOST, &term, until, reason);
	rl_etcd_revoke(ha->etcd, term.lease, full_budget(ha));
	ha->seen_revision = 0;
}

/* note_leader reports the key's holder once per term. */
static void note_leader(struct rl_ha *ha, const struct rl_etcd_kv *kv)
{
	struct rl_ha_event ev = {.kind = RL_HA_FOLLOWER, .at_us = rl_ha_clock_us()};
	cJSON *v;
	const cJSON *name, *addr;

	/* Our own key, left from a term we fenced, is no one to follow: it goes with its lease. */
	if (!kv->present || kv->create_rev == ha->seen_revision || (ha->term.lease != 0 && kv->lease == ha->term.lease))
		return;
	ha->seen_revision = kv->create_rev;
	pthread_mutex_lock(&ha->mu);
	ha->eager_until = 0; /* a new leader is known: back to the normal pace */
	pthread_mutex_unlock(&ha->mu);
	ev.term.lease = kv->lease;
	ev.term.revision = kv->create_rev;
	v = cJSON_ParseWithLength(kv->value, kv->value_len);
	name = cJSON_GetObjectItemCaseSensitive(v, "name");
	addr = cJSON_GetObjectItemCaseSensitive(v, "address");
	snprintf(ev.leader, sizeof(ev.leader), "%s", cJSON_IsString(name) ? name->valuestring : "");
	snprintf(ev.address, sizeof(ev.address), "%s", cJSON_IsString(addr) ? addr->valuestring : "");
	addr = cJSON_GetObjectItemCaseSensitive(v, "repl");
	snprintf(ev.repl, sizeof(ev.repl), "%s", cJSON_IsString(addr) ? addr->valuestring : "");
	cJSON_Delete(v);
	rl_log(RL_LOG_NOTICE, "ha follower name=%s leader=%s address=%s revision=%lld", ha->name, ev.leader, ev.address,
	       (long long)kv->create_rev);
	ha->cb(ha->arg, &ev);
}

/* campaign grants a lease and tries to create the leader key under it. */
static void campaign(struct rl_ha *ha)
{
	struct rl_etcd_kv kv;
	struct rl_ha_term term = {0, 0};
	int64_t granted;
	uint64_t sent = rl_ha_clock_us(), until;
	int won = 0, rv;

	if (rl_etcd_grant(ha->etcd, ha->cfg.ttl_s, full_budget(ha), &term.lease, &granted) != RL_OK)
		return;
	rv = rl_etcd_create_key(ha->etcd, ha->key, ha->value, term.lease, full_budget(ha), &won, &kv);
	/* A retry on another member finds the key that our first, unanswered, attempt made. */
	if (rv == RL_OK && !won && kv.present && kv.lease == term.lease)
		won = 1;
	if (granted > ha->cfg.ttl_s)
		granted = ha->cfg.ttl_s;
	until = sent + (uint64_t)granted * 1000000u - (uint64_t)ha->cfg.margin_ms * 1000u;
	if (rv == RL_OK && won && rl_ha_clock_us() < until) {
		term.revision = kv.create_rev;
		become_leader(ha, &term, sent, until);
		return;
	}
	/* Not the leader key's lease (or won too late to use): let it go now. */
	rl_etcd_revoke(ha->etcd, term.lease, full_budget(ha));
	if (rv == RL_OK)
		note_leader(ha, &kv);
}

/* may_campaign: 1 if there is no sync key, or if it names this candidate (as the last leader
 * or its standby) and this candidate's store holds the key's id or a later one: only such a
 * store holds every batch acknowledged. A sync key that cannot be read bars too: a campaign
 * can wait for the next poll. */
static int may_campaign(struct rl_ha *ha)
{
	struct rl_etcd_kv kv;
	cJSON *v;
	const cJSON *l, *s, *id;
	uint64_t local;
	int ok, named;

	if (ha->sync_key == NULL)
		return 1;
	if (rl_etcd_get(ha->etcd, ha->sync_key, full_budget(ha), &kv) != RL_OK)
		return 0;
	if (!kv.present)
		return 1;
	v = cJSON_ParseWithLength(kv.value, kv.value_len);
	l = cJSON_GetObjectItemCaseSensitive(v, "leader");
	s = cJSON_GetObjectItemCaseSensitive(v, "standby");
	id = cJSON_GetObjectItemCaseSensitive(v, "id");
	pthread_mutex_lock(&ha->mu);
	local = ha->local_id;
	pthread_mutex_unlock(&ha->mu);
	named = (cJSON_IsString(l) && strcmp(l->valuestring, ha->name) == 0) ||
	        (cJSON_IsString(s) && strcmp(s->valuestring, ha->name) == 0);
	ok = named && cJSON_IsNumber(id) && (double)local >= id->valuedouble;
	if (!ok && !ha->barred)
		rl_log(RL_LOG_WARNING,
		       "ha waits name=%s: the last leader %s acknowledged batches that only %s holds "
		       "(sync id %.0f, this store's %llu)",
		       ha->name, cJSON_IsString(l) ? l->valuestring : "?",
		       cJSON_IsString(s) && s->valuestring[0] ? s->valuestring : "it",
		       cJSON_IsNumber(id) ? id->valuedouble : 0.0, (unsigned long long)local);
	ha->barred = !ok;
	cJSON_Delete(v);
	return ok;
}

/* follow reads the leader key: notes its holder, or campaigns when there is none. */
static void follow(struct rl_ha *ha)
{
	struct rl_etcd_kv kv;
	int rv = rl_etcd_get(ha->etcd, ha->key, full_budget(ha), &kv);

	if (rv != RL_OK) {
		if (!ha->etcd_down)
			rl_log(RL_LOG_WARNING, "ha etcd unreachable name=%s error=\"%s\"", ha->name, rl_strerror(rv));
		ha->etcd_down = 1;
	} else {
		ha->etcd_down = 0;
		if (kv.present)
			note_leader(ha, &kv);
		else if (may_campaign(ha))
			campaign(ha);
	}
	if (!ha->leading) {
		pthread_mutex_lock(&ha->mu);
		int eager = rl_ha_clock_us() < ha->eager_until;
		pthread_mutex_unlock(&ha->mu);
		nap(ha, eager && ha->cfg.poll_ms > HA_EAGER_MS ? HA_EAGER_MS : ha->cfg.poll_ms);
	}
}

/* confirm checks, after a renewal, that the leader key is still ours (an operator may have
 * deleted it). A failed read proves nothing: the lease, not the read, bounds the term. */
static void confirm(struct rl_ha *ha, uint64_t until)
{
	struct rl_etcd_kv kv;
	int budget = ms_until(until);

	if (rl_etcd_get(ha->etcd, ha->key, budget < ha->cfg.request_ms ? budget : ha->cfg.request_ms, &kv) != RL_OK)
		return;
	if (!kv.present || kv.lease != ha->term.lease || kv.create_rev != ha->term.revision)
		fence(ha, "leader key lost");
}

static void extend(struct rl_ha *ha, uint64_t sent, int64_t ttl_s)
{
	uint64_t until;

	if (ttl_s > ha->cfg.ttl_s)
		ttl_s = ha->cfg.ttl_s;
	until = sent + (uint64_t)ttl_s * 1000000u - (uint64_t)ha->cfg.margin_ms * 1000u;
	pthread_mutex_lock(&ha->mu);
	if (until > ha->valid_until_us)
		ha->valid_until_us = until;
	until = ha->valid_until_us;
	pthread_mutex_unlock(&ha->mu);
	ha->last_send_us = sent;
	confirm(ha, until);
}

/* record_sync writes the standby the owner asked for into the sync key, once per change. */
static void record_sync(struct rl_ha *ha, uint64_t until)
{
	char want[RL_HA_NAME_MAX + 1], *text;
	cJSON *o;
	uint64_t id;
	int done = 0, budget = ms_until(until);

	pthread_mutex_lock(&ha->mu);
	memcpy(want, ha->sync_want, sizeof(want));
	id = ha->want_id;
	pthread_mutex_unlock(&ha->mu);
	if (ha->sync_key == NULL || id == 0 || (strcmp(want, ha->sync_done) == 0 && id == ha->done_id) || budget <= 0)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "leader", ha->name);
	cJSON_AddStringToObject(o, "standby", want);
	cJSON_AddNumberToObject(o, "id", (double)id);
	if (!(text = cJSON_PrintUnformatted(o)))
		rl_oom_in("cJSON_PrintUnformatted");
	cJSON_Delete(o);
	if (rl_etcd_put_guarded(ha->etcd, ha->sync_key, text, ha->key, ha->term.revision,
	                        budget < ha->cfg.request_ms ? budget : ha->cfg.request_ms, &done) == RL_OK &&
	    done) {
		struct rl_ha_event ev = {.kind = RL_HA_SYNC, .at_us = rl_ha_clock_us(), .term = ha->term};
		memcpy(ha->sync_done, want, sizeof(want));
		ha->done_id = id;
		snprintf(ev.standby, sizeof(ev.standby), "%s", want);
		ev.sync_id = id;
		rl_log(RL_LOG_NOTICE, "ha sync standby=%s id=%llu", want[0] ? want : "(none)", (unsigned long long)id);
		ha->cb(ha->arg, &ev);
	}
	cJSON_free(text);
}

/* lead renews the lease when due, within the deadline; fences when it cannot. */
static void lead(struct rl_ha *ha)
{
	uint64_t until = ha->valid_until_us, next = ha->last_send_us + (uint64_t)ha->cfg.renew_ms * 1000u;
	uint64_t now = rl_ha_clock_us();
	int64_t ttl_s;
	int rv, left;

	if (now >= until) {
		fence(ha, "lease not renewed in time");
		return;
	}
	record_sync(ha, until);
	if ((now = rl_ha_clock_us()) < next) {
		left = ms_until(next);
		nap(ha, left < ms_until(until) ? left : ms_until(until));
		return;
	}
	rv = rl_etcd_keepalive(ha->etcd, ha->term.lease, ms_until(until), &ttl_s);
	if (rv == RL_OK && ttl_s > 0) {
		ha->etcd_down = 0;
		extend(ha, now, ttl_s);
	} else if (rv == RL_OK || rv == RL_ENOENT) {
		fence(ha, "lease expired at etcd");
	} else if ((left = ms_until(until)) > 0) {
		if (!ha->etcd_down)
			rl_log(RL_LOG_WARNING, "ha renewal failed name=%s error=\"%s\" left_ms=%d", ha->name,
			       rl_strerror(rv), left);
		ha->etcd_down = 1;
		nap(ha, left < HA_RETRY_MS ? left : HA_RETRY_MS);
	}
}

static int stopping(struct rl_ha *ha)
{
	int s;

	pthread_mutex_lock(&ha->mu);
	s = ha->stopping;
	pthread_mutex_unlock(&ha->mu);
	return s;
}

static void *ha_main(void *arg)
{
	struct rl_ha *ha = arg;

	while (!stopping(ha)) {
		if (ha->leading)
			lead(ha);
		else
			follow(ha);
	}
	if (ha->leading)
		fence(ha, "resigned");
	return NULL;
}

static char *leader_value(const struct rl_ha_config *cfg)
{
	cJSON *o = cJSON_CreateObject();
	char *text, *copy;

	cJSON_AddStringToObject(o, "name", cfg->name);
	cJSON_AddStringToObject(o, "address", cfg->address);
	if (cfg->repl != NULL)
		cJSON_AddStringToObject(o, "repl", cfg->repl);
	if (!(text = cJSON_PrintUnformatted(o)))
		rl_oom_in("cJSON_PrintUnformatted");
	copy = rl_strdup(text);
	cJSON_free(text);
	cJSON_Delete(o);
	return copy;
}

static void ha_free(struct rl_ha *ha)
{
	rl_etcd_destroy(ha->etcd);
	pthread_cond_destroy(&ha->cv);
	pthread_mutex_destroy(&ha->mu);
	free(ha->endpoints);
	free(ha->key);
	free(ha->name);
	free(ha->address);
	free(ha->repl);
	free(ha->sync_key);
	free(ha->value);
	free(ha);
}

int rl_ha_start(struct rl_ha **out, const struct rl_ha_config *cfg, rl_ha_cb cb, void *arg)
{
	struct rl_ha *ha;
	pthread_condattr_t ca;
	int rv;

	*out = NULL;
	ha = rl_calloc(1, sizeof(*ha));
	ha->cfg = *cfg;
	if ((rv = rl_ha_check_config(&ha->cfg)) != RL_OK) {
		free(ha);
		return rv;
	}
	ha->cfg.endpoints = ha->endpoints = rl_strdup(cfg->endpoints);
	ha->cfg.key = ha->key = rl_strdup(cfg->key);
	ha->cfg.name = ha->name = rl_strdup(cfg->name);
	ha->cfg.address = ha->address = rl_strdup(cfg->address);
	ha->cfg.repl = ha->repl = cfg->repl ? rl_strdup(cfg->repl) : NULL;
	ha->cfg.sync_key = ha->sync_key = cfg->sync_key ? rl_strdup(cfg->sync_key) : NULL;
	ha->value = leader_value(&ha->cfg);
	ha->cb = cb;
	ha->arg = arg;
	pthread_mutex_init(&ha->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ha->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rv = rl_etcd_create(&ha->etcd, ha->endpoints, ha->cfg.request_ms)) != RL_OK ||
	    pthread_create(&ha->thread, NULL, ha_main, ha) != 0) {
		ha_free(ha);
		return rv != RL_OK ? rv : RL_EAGAIN;
	}
	*out = ha;
	return RL_OK;
}

void rl_ha_stop(struct rl_ha *ha)
{
	if (!ha)
		return;
	pthread_mutex_lock(&ha->mu);
	ha->stopping = 1;
	pthread_cond_signal(&ha->cv);
	pthread_mutex_unlock(&ha->mu);
	pthread_join(ha->thread, NULL);
	ha_free(ha);
}

void rl_ha_leader_gone(struct rl_ha *ha)
{
	pthread_mutex_lock(&ha->mu);
	ha->eager_until = rl_ha_clock_us() + (uint64_t)ha->cfg.ttl_s * 1000000u + 1000000u;
	pthread_mutex_unlock(&ha->mu);
}

void rl_ha_set_local(struct rl_ha *ha, uint64_t id)
{
	pthread_mutex_lock(&ha->mu);
	ha->local_id = id;
	pthread_mutex_unlock(&ha->mu);
}

void rl_ha_set_sync(struct rl_ha *ha, const char *standby, uint64_t id)
{
	pthread_mutex_lock(&ha->mu);
	snprintf(ha->sync_want, sizeof(ha->sync_want), "%s", standby);
	ha->want_id = id;
	ha->sync_gen++;
	pthread_cond_signal(&ha->cv); /* record it now, not at the next renewal */
	pthread_mutex_unlock(&ha->mu);
}

int rl_ha_may_serve(struct rl_ha *ha, struct rl_ha_term *term)
{
	int ok;

	pthread_mutex_lock(&ha->mu);
	ok = ha->leading && rl_ha_clock_us() < ha->valid_until_us;
	if (ok && term)
		*term = ha->term;
	pthread_mutex_unlock(&ha->mu);
	return ok;
}

void rl_ha_post_event(void *arg, const struct rl_ha_event *ev)
{
	const struct rl_ha_sink *sink = arg;
	struct rl_ha_event *copy = rl_malloc(sizeof(*copy));

	*copy = *ev;
	if (rl_loop_post(sink->loop, sink->tag, copy) != RL_OK) {
		rl_log(RL_LOG_WARNING, "ha event dropped kind=%s (inbox full)", rl_ha_kind_name(ev->kind));
		free(copy);
	}
}
