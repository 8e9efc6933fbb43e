/*
 * hubha.h - a hub's part in a hub pair (docs/ha.md): the `ha` config group, and the leader's
 * rule for when a committed batch may speak.
 *
 * The rule. The sync key in etcd names the leader and the standby that holds every batch the
 * leader acknowledges ("" for none); only those two may campaign while it exists. A batch's
 * replies leave when:
 *   - the key (as last written in this term) names a standby, and that standby has acked the
 *     batch durable; or
 *   - the key names none: then only this hub may lead again. sync = "prefer" goes on alone,
 *     alarmed; sync = "strict" refuses clients' writes meanwhile (ERR_UNAVAILABLE).
 * The leader asks for the key to name its standby once the standby has caught up, and for
 * "" once it is gone; until etcd has it, it acts on what the key said before.
 * Every release first checks that the lease still holds (rl_ha_may_serve).
 */
#ifndef RL_HUBHA_H
#define RL_HUBHA_H

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>

#include "ha.h"
#include "repl.h"
#include "store.h"
#include "rl_config.h"
#include "rl_key.h"

struct rl_hubha_settings {
	char etcd[RL_CFG_STRLEN];
	char key[RL_CFG_STRLEN];
	char name[RL_CFG_STRLEN];
	char advertise[RL_CFG_STRLEN];
	char repl_listen[RL_CFG_STRLEN];
	char key_file[RL_CFG_STRLEN];
	char sync[RL_CFG_STRLEN];
	int ttl_s;
	int standby_timeout_ms;
	int log_mb;
};

struct rl_hubha {
	struct rl_hubha_settings s;
	char leader_key[RL_CFG_STRLEN + 16], sync_key[RL_CFG_STRLEN + 16];
	struct rl_ha_config hc;
	struct rl_key key;
	struct rl_repl_peer *peers;
	int npeers;
	int strict;
	struct rl_ha *ha;
	struct rl_repl *repl;
	struct rl_ha_term term;
	struct rl_store_pos before; /* the store's position before the engine opened it */
	/* The sync key as written in this term, once it is: the standby it names ("": none). */
	int key_written;
	char confirmed[RL_HA_NAME_MAX + 1];
	/* Moving it to name target: a new sync id is written in the store (step WRITE, in the
	 * next batch), reaches the target (SHIP: acked up to id_seq), then goes to etcd (ASKED). */
	char target[RL_HA_NAME_MAX + 1];
	int step;
	uint64_t sync_id, id_seq, ids;
	uint64_t released;
	int alone_logged;
};

/* rl_hubha_alone: the sync key, written in this term, names no standby (hubha.h's rule). */
int rl_hubha_alone(const struct rl_hubha *x);

/* rl_hubha_stat fills a status reply's hub pair row (an rl_engine_ha_fn, arg the hubha). */
void rl_hubha_stat(void *arg, Relais__HaStat *out);

/* rl_hubha_metrics appends the pair's gauges to a /metrics rendering (rl_scrape.h). */
struct rl_text;
void rl_hubha_metrics(const struct rl_hubha *x, struct rl_text *t);

/* rl_hubha_batch writes, in the open batch, the sync id the leader is about to record. */
void rl_hubha_batch(struct rl_hubha *x, struct rl_store *s);

/*
 * rl_hubha_load reads the `ha` group of cfg into x (zeroed first). Returns 0 when there is
 * none (a single hub), 1 when there is one, -1 with err set on a bad group (a field, a peer,
 * the key file, Patroni's bound on the timings).
 */
int rl_hubha_load(struct rl_hubha *x, const config_t *cfg, const char *hub_id, char *err, size_t errlen);
void rl_hubha_free(struct rl_hubha *x);

/* rl_hubha_leading: this hub has just won term; batches from now on carry it. */
void rl_hubha_leading(struct rl_hubha *x, const struct rl_ha_term *term);

/* rl_hubha_event takes an election event on the leader (freed); returns 1 when the hub
 * must stop serving now (RL_HA_LOST). */
int rl_hubha_event(struct rl_hubha *x, struct rl_ha_event *ev);

/* rl_hubha_release_upto: the last batch whose replies may leave now (rule above); 0 for
 * none. Also moves the sync key to follow the standby (after the batches of this loop turn
 * have committed). Returns -1 when the lease may
 * have ended: the hub must stop without releasing anything more. */
int64_t rl_hubha_release_upto(struct rl_hubha *x);

#endif
