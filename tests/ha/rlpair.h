/*
 * rlpair.h - a hub pair on loopback, for tests and benches: three etcd members (etcd3.h) and
 * two real relais-hub processes, hub-a and hub-b, each with an `ha` group that names the other
 * as the peer that may stand by for it, both with the cluster's provisioning (rlcluster.h).
 * Each start of a hub logs to <name>-<n>.log in the cluster's directory (n counts its
 * starts); its store is <cluster dir>/<name>.
 */
#ifndef RLPAIR_H
#define RLPAIR_H

#include <sys/types.h>

#include "etcd3.h"
#include "rlcluster.h"

struct rlp_hub {
	const char *name;
	char url[64], repl[64], conf[32], log[32];
	pid_t pid; /* 0: not running */
	int starts;
};

struct rlpair {
	struct rlc *c;
	struct etcd3 e3;
	struct rlp_hub hubs[2];
};

/* rlp_init starts etcd in c's directory, makes both hubs' keys and configs (tls+tcp, lease
 * TTL ttl_s, sync "prefer") and sets c->hub_url to both hubs' control addresses, "A,B". No hub
 * is started. c must have its queues and agents already; p keeps c (the caller's). */
void rlp_init(struct rlpair *p, struct rlc *c, int ttl_s);

/* rlp_start starts h (a new log file). */
void rlp_start(struct rlpair *p, struct rlp_hub *h);

/* rlp_leads: 1 if h runs and its log since its last start says `hub leads`. */
int rlp_leads(const struct rlpair *p, const struct rlp_hub *h);

/* rlp_synced: 1 if h leads and has had etcd name standby as holding every batch it
 * acknowledges (`ha sync standby=<standby>` in its log since its last start). */
int rlp_synced(const struct rlpair *p, const struct rlp_hub *h, const struct rlp_hub *standby);

/* rlp_stop kills (SIGKILL) the hubs still running, then etcd. */
void rlp_stop(struct rlpair *p);

#endif
