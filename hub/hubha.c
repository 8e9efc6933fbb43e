/*
 * hubha.c - the `ha` config group and the leader's release rule (hubha.h, docs/ha.md).
 */
#include "hubha.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_scrape.h"
#include "store.h"

enum { HA_STEP_NONE, HA_STEP_WRITE, HA_STEP_WRITTEN, HA_STEP_SHIP, HA_STEP_ASKED };

static const struct rl_cfg_opt ha_opts[] = {
    {"etcd", RL_CFG_STR, 1, 1000, NULL, offsetof(struct rl_hubha_settings, etcd), "etcd client URLs, comma-separated"},
    {"key", RL_CFG_STR, 1, 200, "/relais/hub", offsetof(struct rl_hubha_settings, key),
     "key prefix: <key>/leader, <key>/sync"},
    {"name", RL_CFG_STR, 0, RL_HA_NAME_MAX - 1, "", offsetof(struct rl_hubha_settings, name),
     "this hub's name among its pair; empty = hub.id"},
    {"advertise", RL_CFG_STR, 1, RL_HA_ADDR_MAX - 1, NULL, offsetof(struct rl_hubha_settings, advertise),
     "the control URL clients are sent to while this hub leads"},
    {"repl_listen", RL_CFG_STR, 1, RL_HA_ADDR_MAX - 1, NULL, offsetof(struct rl_hubha_settings, repl_listen),
     "the URL standbys dial for the store's batches"},
    {"key_file", RL_CFG_STR, 1, 1000, NULL, offsetof(struct rl_hubha_settings, key_file),
     "this hub's Ed25519 key (relaisctl keygen)"},
    {"sync", RL_CFG_STR, 1, 16, "prefer", offsetof(struct rl_hubha_settings, sync),
     "prefer: a leader without a standby goes on, alarmed; strict: it refuses writes"},
    {"ttl_s", RL_CFG_INT, 1, 60, "3", offsetof(struct rl_hubha_settings, ttl_s), "the leader lease's TTL"},
    {"standby_timeout_ms", RL_CFG_INT, 100, 60000, "2000", offsetof(struct rl_hubha_settings, standby_timeout_ms),
     "a batch the standby leaves unacknowledged this long: it is dropped"},
    {"log_mb", RL_CFG_INT, 1, 65536, "64", offsetof(struct rl_hubha_settings, log_mb),
     "recent batches kept for a standby that comes back"},
    {"peers", RL_CFG_LIST, 0, 0, NULL, 0, "hubs that may stand by: ( { name = ...; key = \"<public key>\"; } )"},
    {NULL, 0, 0, 0, NULL, 0, NULL},
};

/* ha_peers reads ha.peers: each hub that may stand by, with its public key. */
static int ha_peers(struct rl_hubha *x, const config_setting_t *g, char *err, size_t errlen)
{
	const config_setting_t *l = config_setting_get_member(g, "peers");
	int n = l ? config_setting_length(l) : 0;

	x->peers = rl_calloc(n ? (size_t)n : 1, sizeof(*x->peers));
	for (int i = 0; i < n; i++) {
		const config_setting_t *p = config_setting_get_elem(l, (unsigned)i);
		const char *name = NULL, *key = NULL;
		config_setting_lookup_string(p, "name", &name);
		config_setting_lookup_string(p, "key", &key);
		if (name == NULL || !name[0] || strlen(name) > RL_WIRE_MAX_ID || key == NULL ||
		    rl_key_pub_parse(key, x->peers[i].pk) != RL_OK) {
			snprintf(err, errlen, "ha.peers[%d]: a name and a base64 public key", i);
			return -1;
		}
		snprintf(x->peers[i].name, sizeof(x->peers[i].name), "%s", name);
	}
	x->npeers = n;
	return 0;
}

int rl_hubha_load(struct rl_hubha *x, const config_t *cfg, const char *hub_id, char *err, size_t errlen)
{
	const config_setting_t *g = config_lookup(cfg, "ha");
	int rv;

	memset(x, 0, sizeof(*x));
	if (g == NULL)
		return 0;
	if (rl_cfg_apply(g, ha_opts, &x->s, err, errlen) != RL_OK)
		return -1;
	if (!x->s.name[0])
		snprintf(x->s.name, sizeof(x->s.name), "%.*s", RL_HA_NAME_MAX - 1, hub_id);
	x->strict = strcmp(x->s.sync, "strict") == 0;
	if (!x->strict && strcmp(x->s.sync, "prefer") != 0) {
		snprintf(err, errlen, "ha.sync: prefer or strict");
		return -1;
	}
	if ((rv = rl_key_load(&x->key, x->s.key_file)) != RL_OK) {
		snprintf(err, errlen, "ha.key_file %s: %s", x->s.key_file, rl_strerror(rv));
		return -1;
	}
	if (ha_peers(x, g, err, errlen) != 0)
		return -1;
	snprintf(x->leader_key, sizeof(x->leader_key), "%s/leader", x->s.key);
	snprintf(x->sync_key, sizeof(x->sync_key), "%s/sync", x->s.key);
	x->hc = (struct rl_ha_config){.endpoints = x->s.etcd,
	                              .key = x->leader_key,
	                              .name = x->s.name,
	                              .address = x->s.advertise,
	                              .ttl_s = x->s.ttl_s,
	                              .repl = x->s.repl_listen,
	                              .sync_key = x->sync_key};
	if (rl_ha_check_config(&x->hc) != RL_OK) {
		snprintf(err, errlen, "ha: renew + 2 x request + margin must fit in ttl_s (docs/ha.md)");
		return -1;
	}
	return 1;
}

void rl_hubha_free(struct rl_hubha *x)
{
	rl_key_wipe(&x->key);
	free(x->peers);
	x->peers = NULL;
}

void rl_hubha_leading(struct rl_hubha *x, const struct rl_ha_term *term)
{
	x->term = *term;
	x->key_written = 0;
	x->step = HA_STEP_NONE;
	x->alone_logged = 0;
}

int rl_hubha_event(struct rl_hubha *x, struct rl_ha_event *ev)
{
	int stop = ev->kind == RL_HA_LOST;

	if (ev->kind == RL_HA_SYNC && ev->term.revision == x->term.revision && ev->sync_id == x->sync_id &&
	    x->step == HA_STEP_ASKED) {
		snprintf(x->confirmed, sizeof(x->confirmed), "%s", ev->standby);
		x->key_written = 1;
		x->step = HA_STEP_NONE;
	}
	if (stop)
		rl_log(RL_LOG_ERR, "hub stops leading reason=\"%s\": it starts again as a standby", ev->reason);
	free(ev);
	return stop;
}

void rl_hubha_batch(struct rl_hubha *x, struct rl_store *s)
{
	if (x->step != HA_STEP_WRITE)
		return;
	rl_store_set_meta(s, RL_HA_SYNC_META, x->sync_id);
	x->step = HA_STEP_WRITTEN;
}

/* ha_follow moves the sync key towards want: a fresh id into the store, to the standby, to
 * etcd - in that order, so that whoever the key names holds the id, and every batch up to it. */
static void ha_follow(struct rl_hubha *x, const char *want)
{
	const char *linked = rl_repl_standby(x->repl);

	if (want != NULL && x->step != HA_STEP_ASKED &&
	    (x->step == HA_STEP_NONE ? !x->key_written || strcmp(want, x->confirmed) != 0
	                             : strcmp(want, x->target) != 0)) {
		snprintf(x->target, sizeof(x->target), "%s", want);
		x->sync_id = (uint64_t)x->term.revision * 1000000u + ++x->ids; /* grows across terms */
		x->step = HA_STEP_WRITE;
	}
	if (x->step == HA_STEP_WRITTEN) { /* the batch that wrote it has just committed */
		x->id_seq = rl_repl_last(x->repl);
		rl_ha_set_local(x->ha, x->sync_id);
		x->step = HA_STEP_SHIP;
	}
	if (x->step == HA_STEP_SHIP &&
	    (!x->target[0] || (strcmp(linked, x->target) == 0 && rl_repl_acked(x->repl) >= x->id_seq))) {
		rl_ha_set_sync(x->ha, x->target, x->sync_id);
		x->step = HA_STEP_ASKED;
	}
}

int rl_hubha_alone(const struct rl_hubha *x)
{
	return x->key_written && !x->confirmed[0];
}

void rl_hubha_stat(void *arg, Relais__HaStat *out)
{
	struct rl_hubha *x = arg;

	out->leader = x->s.name;
	out->term = x->term.revision;
	out->standby = (char *)rl_repl_standby(x->repl);
	out->synced = x->key_written && x->confirmed[0];
	out->alone = rl_hubha_alone(x);
	out->strict = x->strict;
	out->lag_batches = rl_repl_last(x->repl) - rl_repl_acked(x->repl);
}

void rl_hubha_metrics(const struct rl_hubha *x, struct rl_text *t)
{
	int named = x->key_written && x->confirmed[0];

	rl_prom_gauge(t, "relais_hub_ha_term", "The leader's term (its etcd key's create revision).",
	              (double)x->term.revision);
	rl_prom_gauge(t, "relais_hub_ha_standby_synced",
	              "1 while the sync key names a standby that holds every batch acknowledged.", named);
	rl_prom_gauge(t, "relais_hub_ha_alone",
	              "1 while the leader has no standby (prefer: it acknowledges alone; strict: it refuses "
	              "writes): alarm on it.",
	              rl_hubha_alone(x));
	rl_prom_gauge(t, "relais_hub_ha_standby_lag_batches", "Committed batches the standby has not acknowledged.",
	              (double)(rl_repl_last(x->repl) - rl_repl_acked(x->repl)));
}

int64_t rl_hubha_release_upto(struct rl_hubha *x)
{
	const char *synced = rl_repl_synced(x->repl), *linked = rl_repl_standby(x->repl);

	if (!rl_ha_may_serve(x->ha, NULL))
		return -1;
	/* Caught up: from now on it must hold what we acknowledge. Gone or catching up: it
	 * must not take over. */
	ha_follow(x, synced[0] ? synced : "");
	if (!x->key_written)
		return 0; /* nothing written in this term yet */
	if (!x->confirmed[0]) {
		/* Alone: only this hub may lead again, so what it commits is as safe as its disk.
		 * prefer takes clients' writes so; strict refuses them (main.c) and lets the rest
		 * (timers, reads, the refusals themselves) through. */
		if (!x->alone_logged && rl_repl_last(x->repl) > x->released)
			rl_log(RL_LOG_WARNING, "ha alone: %s without a standby",
			       x->strict ? "refusing writes (sync strict)" : "acknowledging (sync prefer)");
		x->alone_logged = 1;
		return (int64_t)rl_repl_last(x->repl);
	}
	x->alone_logged = 0;
	return strcmp(linked, x->confirmed) == 0 ? (int64_t)rl_repl_acked(x->repl) : 0;
}
