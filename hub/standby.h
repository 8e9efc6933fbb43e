/*
 * standby.h - a hub that stands by (docs/ha.md): it keeps a copy of the leader's store, batch
 * by batch, and sends every client to the leader.
 *
 * It dials the replication address the leader publishes in etcd, proves its key, subscribes
 * from its store's last batch, installs a copy of the leader's store when sent one, applies
 * each batch in one LMDB transaction (several that arrive together share one) and
 * acknowledges the last batch once durable. On its control socket it answers every frame
 * with Error{ERR_NOT_LEADER, leader = the leader's address}. It runs until this hub wins the
 * leadership (RL_STANDBY_PROMOTED: its store is closed, everything it acknowledged in it), or
 * the process is told to stop.
 */
#ifndef RL_STANDBY_H
#define RL_STANDBY_H

#include <nng/nng.h>
#include <stddef.h>

#include "ha.h"
#include "rl_key.h"
#include "rl_link.h"

struct rl_loop;

struct rl_standby_conf {
	const char *data_dir; /* the store (created if missing) */
	size_t map_mb;
	const char *name;         /* this hub, as the leader's ha.peers know it */
	const struct rl_key *key; /* its key */
	const struct rl_tls *tls;
	/* the hub's control links, listening, in loop under tag_ctl: send answers one */
	int (*send)(void *arg, uint32_t pipe, rl_env *env);
	void *send_arg;   /* send's */
	struct rl_ha *ha; /* told the sync id the store holds (rl_ha_set_local) */
	struct rl_loop *loop;
	int tag_ctl, tag_ha, tag_stop, tag_repl;
};

enum { RL_STANDBY_PROMOTED = 1, RL_STANDBY_STOPPED, RL_STANDBY_FAILED };

/* rl_standby_run stands by until promoted (*won: the LEADER event), stopped or failed. */
int rl_standby_run(const struct rl_standby_conf *c, struct rl_ha_event *won);

#endif
