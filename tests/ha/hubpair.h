/*
 * hubpair.h - two real hubs (relais-hub with an `ha` group) on a three-member etcd, for the
 * tests of a hub pair: their configs, starts and logs, the submitter's pace, and the checks
 * every such test ends with (the ledger on the leader's store, the standby's contacts the
 * leader's byte for byte, no term led twice, a deposed hub's exit status).
 *
 * Processes are born in the calling thread's network namespace: a test that puts the hubs
 * in namespaces of their own enters one before hp_start.
 */
#ifndef HUBPAIR_H
#define HUBPAIR_H

#include <stdint.h>
#include <sys/types.h>

#include "etcd3.h"
#include "rlcluster.h"
#include "rlledger.h"

#define HP_DEPOSED 75 /* a hub that lost the leadership exits so */

struct hp_hub {
	const char *name; /* "hub-a", "hub-b": its ha.name, hub.id, key and data dir's name */
	char url[64];     /* its control address (hub.listen, ha.advertise) */
	char repl[64];    /* its ha.repl_listen */
	char conf[32];    /* its config file, in the cluster dir */
	char log[32];     /* its current run's log file: <name>-<run>.log */
	pid_t pid;        /* 0: not running */
	int starts;       /* runs so far */
	char pub[64];     /* its public key */
	int metrics;      /* >0: its /metrics port (bearer token HP_TOKEN) */
};

#define HP_TOKEN "relais-test-scrape-token"

struct hp {
	struct rlc c;
	struct etcd3 e3;
	struct hp_hub hub[2];
	char agents[256]; /* the home agents' ids, "h00,h01,..." */
	int ttl_s;        /* the hubs' ha.ttl_s (0: 3) */
};

/* hp_init makes the cluster dir (TLS), the queue telco.billing and nagents home agents
 * h00.., and both hubs' keys; it starts nothing. */
void hp_init(struct hp *p, const char *name, int nagents);

/* hp_configure writes both hubs' configs (the cluster's, plus the `ha` group: etcd's
 * endpoints as p->e3 has them, ttl_s 3, sync prefer, the other hub as the only peer); their
 * url and repl must be set. The clients' list, p->c.hub_url, is both urls. */
void hp_configure(struct hp *p);

/* hp_start starts hub h (a new run, a new log). */
void hp_start(struct hp *p, struct hp_hub *h);

/* hp_leads: 1 if h runs and its current run logged `hub leads`. */
int hp_leads(struct hp *p, const struct hp_hub *h);

/* hp_synced: 1 if h leads and its current run has had standby named in etcd's sync key. */
int hp_synced(struct hp *p, const struct hp_hub *h, const struct hp_hub *standby);

/* hp_count: the lines of h's current run's log that hold needle (0: none or no log). */
int hp_count(struct hp *p, const struct hp_hub *h, const char *needle);

/* hp_stream submits n contacts at about 100/s. */
void hp_stream(struct rll *l, int n);

/* hp_resumed_ms submits into a failover until a new acknowledgement comes (the test fails
 * without one within 10 s) and returns the time since t0 (rl_mono_us). */
double hp_resumed_ms(struct rll *l, uint64_t t0);

/* hp_exited waits up to ms for h to exit and reaps it (h->pid becomes 0): its exit code
 * (128 + signal if killed), or -1 if it still runs. A run that logged `hub stops leading`
 * must have exited HP_DEPOSED (checked). */
int hp_exited(struct hp *p, struct hp_hub *h, int ms);

/* hp_kill stops h with sig (SIGKILL: a crash) and reaps it; its exit code as hp_exited. */
int hp_kill(struct hp *p, struct hp_hub *h, int sig);

/* hp_same_table: 1 when table of the two stopped stores holds the same keys and values. */
int hp_same_table(const char *a, const char *b, const char *table);

/* hp_check_terms checks that no revision was led twice: every `hub leads` line of every run
 * of both hubs names a revision of its own. */
void hp_check_terms(struct hp *p);

/* hp_check_stores stops the standby, then the leader (SIGTERM: the standby first, so that it
 * cannot take over), and checks the ledger on the leader's store and that the standby's
 * contacts are the leader's. */
void hp_check_stores(struct hp *p, struct rll *l, struct hp_hub *leader, struct hp_hub *standby);

/* hp_store_seq: the last batch h's store holds (meta "repl"), read while h may run. */
uint64_t hp_store_seq(struct hp *p, const struct hp_hub *h);

/* hp_model_check opens the engine on h's stopped store, as a hub starting on it would, and
 * runs the property test's model check on it (rl_engine_check). */
void hp_model_check(struct hp *p, const struct hp_hub *h);

/* hp_stop kills (SIGKILL) whatever runs: both hubs and etcd. For atexit. */
void hp_stop(struct hp *p);

#endif
