/*
 * fcluster.h - the failover harness's cluster: real Relais processes in network namespaces
 * of their own (fnet.h), so that links can be cut for real.
 *
 *   hub       relais-hub (tls+tcp :7400, media relay :7401)
 *   carrier   Kamailio (the SBC, :5060, kamailio.cfg.in) and sipp, the carrier, calling it
 *   <site>    relais-node (SIP :5060, media :7420, its agents on loopback) and the site's
 *             seated scripted agents (relais-agent), for casablanca, fes and dakar
 *
 * All sites serve one queue, telco.billing, whose agents are everywhere (tier 0: any site);
 * the SBC spreads the carrier's calls over the three nodes and fails over on 503 or silence.
 * The cluster's files (configs, keys, every process's log) are in f->c.dir, kept after the
 * run. Faults: kill -9 a node and start it again (a new boot), SIGSTOP/SIGCONT it, cut one
 * site from the hub only (it still reaches the carrier), partition the hub from everything,
 * drain and undrain a site as the NOC.
 */
#ifndef FCLUSTER_H
#define FCLUSTER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <sys/types.h>

#include "fnet.h"
#include "rlcluster.h"

#define FC_SITES 3
#define FC_DID   "+212522000100"
#define FC_QUEUE "telco.billing"

struct fc_opts {
	int agents;             /* seated agents per site (<= 99) */
	const char *script;     /* their behaviour: relais-agent --script */
	const char *hub;        /* more hub settings ("site_dead_ms = 2500;"), or NULL */
	const char *survivable; /* the site whose node serves alone when it loses the hub, or NULL */
};

struct fc_site {
	const char *id;   /* casablanca, fes, dakar */
	int member;       /* its namespace in net */
	pid_t node;       /* its relais-node (0: not running) */
	pid_t agents;     /* its relais-agent process */
	char url[128];    /* the node's URL for agents and tools, in its namespace */
	char conf[600];   /* the node's config file */
	char sip_uri[64]; /* as the SBC knows it: sip:IP:5060 */
	int frozen;
	int restarts;
};

struct fc {
	struct rlc c;
	struct fnet net;
	struct fc_opts o;
	struct fc_site site[FC_SITES];
	int hub_m, carrier_m;
	pid_t kam;
	char kam_ctl[700]; /* kamcmd's socket */
	char sipp[600], kamailio[600], kamcmd[600];
	int next_port; /* the next pair of UDP ports for a sipp in the carrier namespace */
	int hub_isolated;
	int cut[FC_SITES];
};

/* fc_open starts the cluster. Returns 0; 1 if this machine cannot run it (why says so: not
 * root, no network namespaces); -1 if something needed is missing or did not start (why). */
int fc_open(struct fc *f, const struct fc_opts *o, char *why, size_t len);

/* fc_close stops everything, heals every link and removes the namespaces. */
void fc_close(struct fc *f);

/* fc_site_idx: the index of site id, or -1; fc_site_id: the id of site s, or "-". */
int fc_site_idx(const char *id);
const char *fc_site_id(int s);

/* Faults. fc_kill_node: SIGKILL, reaped. fc_start_node: (again) the site's node, a new boot.
 * fc_freeze_node: SIGSTOP (on) / SIGCONT. fc_cut_site: the site's path to the hub only.
 * fc_partition_hub: the hub's path to everyone. fc_drain: the NOC drains (100 %) or undrains
 * the site, through the hub; returns 0 if the hub took the command. */
void fc_kill_node(struct fc *f, int s);
void fc_start_node(struct fc *f, int s);
void fc_freeze_node(struct fc *f, int s, int on);
void fc_cut_site(struct fc *f, int s, int on);
void fc_partition_hub(struct fc *f, int on);
int fc_drain(struct fc *f, int s, int on, const char *reason);

/* fc_status: `relaisctl --json status all` from the hub as the NOC (parsed; NULL if none). */
cJSON *fc_status(struct fc *f);

/* fc_sbc_state: the SBC's view of site s: 'A' active, 'I' inactive, 'T' trying, '?' unknown. */
char fc_sbc_state(struct fc *f, int s);

/* fc_sbc_any_active: 1 if the SBC has a site to send calls to. */
int fc_sbc_any_active(struct fc *f);

/* fc_wait_healthy waits until every site is up at the hub and active at the SBC, every agent
 * is logged in and ready and no contact is live (an RL_WAIT: a check); returns 1, or 0 after
 * seconds (and says what was missing). */
int fc_wait_healthy(struct fc *f, int seconds);

/* fc_now_ms: the wall clock in ms (the logs' clock). */
double fc_now_ms(void);

/* The carrier's calls: sipp in the carrier's namespace, through the SBC. Each call: INVITE; a
 * failure answer ends it "failed" with its code (a BYE before any answer: code 0); 200
 * (within patience_ms, else CANCEL: "abandoned") then ACK and a wait of up to bye_ms for the
 * site's BYE ("completed"), else the caller hangs up ("cut"). Every step is a line in l->log
 * (fledger.c reads it). */
struct fc_calls {
	const char *tag;    /* names the files: calls-<tag>.log, sipp-<tag>.log */
	const char *caller; /* callers are <caller><call number>... */
	const char *csv;    /* ...or the numbers of this sipp injection file, one a line */
	const char *name;   /* each call's display name, <name><call number>: the contact's caller_name */
	double rate;
	int calls, patience_ms, bye_ms;
};

struct fc_load {
	char tag[64];
	char log[700]; /* the calls' lines */
	char out[700]; /* sipp's own output */
	char err[700]; /* sipp's error file: why a call ended with no outcome */
	pid_t pid;
	int calls;
	double rate;
	double t0; /* wall clock at start */
};
void fc_load_start(struct fc *f, struct fc_load *l, const struct fc_calls *k);

/* fc_scenario_write writes the sipp scenario of such a call to path (callers and names as in
 * struct fc_calls; sipp's keywords allowed). A site may answer in orders the steps do not
 * expect: a BYE close behind its 200, a provisional answer after it, a BYE to a caller who
 * gave up - each still ends the call with an outcome (test_failover_calls checks them). */
void fc_scenario_write(const char *path, const char *caller, const char *name, int patience_ms, int bye_ms);

/* fc_load_wait waits up to seconds for sipp to finish; returns its exit status (-1: killed at
 * the deadline). */
int fc_load_wait(struct fc *f, struct fc_load *l, int seconds);

#endif
