/*
 * rlcluster.h - real Relais processes on loopback for black-box tests.
 *
 * A cluster lives in a fresh temp directory: certificates from deploy/mkcerts.sh, a key per
 * site and per operator (`relaisctl keygen`, keys/), agent secrets in 0600 files (hashed with
 * `relaisctl hash-secret --min`), a generated hub.conf, and one log file per process.
 * Processes are the real binaries of the build tree.
 */
#ifndef RLCLUSTER_H
#define RLCLUSTER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <sys/types.h>

#include "rl_client.h"
#include "rl_key.h"
#include "rl_time.h"
#include "rl_wire.h"
#include "rltest.h"

#define RLC_MAX_PROCS 32

struct rlc {
	char dir[512];
	char certs[600];
	int tls; /* 1: tls+tcp everywhere */
	int hub_port;
	char hub_url[128];
	pid_t hub;
	char agents[65536]; /* hub.conf agent entries (about 190 bytes each) */
	char queues[16384]; /* hub.conf queue entries */
	char hub_extra[1024];
	pid_t procs[RLC_MAX_PROCS];
	int nprocs;
	int nnodes;
	/* voice path */
	char top_extra[2048];     /* top-level hub.conf groups, e.g. media = { ... }; */
	int media;                /* nodes get a media group: */
	char caller_wav[600];     /*   the caller's voice ("" = generator) */
	int media_port[4];        /*   their media UDP ports, by start order */
	char agent_extra[1024];   /* more relais-agent arguments */
	char node_extra[8192];    /* more top-level groups for the next node's conf (then cleared) */
	char node_opts[512];      /* more settings inside the next node's `node` group (then cleared) */
	char site_key[3][64];     /* casablanca, fes, dakar: their nodes' public keys (keys/<site>.key) */
	char tenant_opts[2][256]; /* more settings inside the telco and bank tenants' entries */
};

/* rlc_init makes the directory (and certificates if tls). */
void rlc_init(struct rlc *c, const char *name, int tls);

/* rlc_agent provisions an agent: tenants "a,b", skills "billing = 5; fr = 6;", site or "". */
void rlc_agent(struct rlc *c, const char *id, const char *tenants, const char *skills, const char *site);

/* rlc_queue adds a raw libconfig queue entry, e.g. "{ id = ...; tenant = ...; ... }". */
void rlc_queue(struct rlc *c, const char *entry);

/* rlc_keygen makes the key of principal id in keys/<id>.key and returns its public half. */
void rlc_keygen(struct rlc *c, const char *id, char *pub, size_t cap);

/* rlc_write_hub_conf_as writes the hub config the cluster's hubs share, for hub id, its data
 * in <dir>/data, listening on url, as file in the cluster dir (rlc_start_hub: hub.conf). */
void rlc_write_hub_conf_as(struct rlc *c, const char *file, const char *id, const char *data, const char *url);

/* rlc_start_hub writes hub.conf and starts the hub; waits until it answers status. */
void rlc_start_hub(struct rlc *c);

/* rlc_stop_hub sends sig (SIGKILL for a crash) and reaps it. */
void rlc_stop_hub(struct rlc *c, int sig);

/* rlc_start_node starts a node for site with optional generator entries; returns its url. */
const char *rlc_start_node(struct rlc *c, const char *site, const char *generator, pid_t *pid);

/* rlc_start_agents runs scripted agents "a1,a2" against url; returns pid. */
pid_t rlc_start_agents(struct rlc *c, const char *url, const char *ids, const char *script, const char *logname);

/* rlc_ctl runs relaisctl as operator admin against url with args; returns exit status, output
 * in *out (malloc'd). rlc_ctl_as runs it as operator op: admin, noc, sup.telco, sup.bank or
 * viewer (keys/<op>.key; operators.conf, which hub.conf and the nodes' confs include). */
int rlc_ctl(struct rlc *c, const char *url, const char *args, char **out);
int rlc_ctl_as(struct rlc *c, const char *op, const char *url, const char *args, char **out);

/* rlc_status returns `relaisctl --json status all` from the hub, parsed (NULL on failure). */
cJSON *rlc_status(struct rlc *c);

/* rlc_answers: 1 if the hub answers `relaisctl status` (over a connection of its own). For
 * RL_WAIT. */
int rlc_answers(struct rlc *c);

/* rlc_queue_stat returns a number field of queue `qid` from status (or -1). */
double rlc_queue_num(cJSON *status, const char *qid, const char *field);

/* rlc_qnum: that field in the hub's status now (-1 if none). */
double rlc_qnum(struct rlc *c, const char *qid, const char *field);

/* rlc_agent_field returns a string field of agent `aid` from status (or NULL). */
const char *rlc_agent_str(cJSON *status, const char *aid, const char *field);

/* rlc_agents_in: 1 if every agent of ids ("a1,a2") is in state (e.g. "READY") at the hub,
 * per `relaisctl status all`; 0 otherwise or if the hub does not answer. For RL_WAIT. */
int rlc_agents_in(struct rlc *c, const char *ids, const char *state);

/* rlc_log_path returns the path of a log file in the cluster dir. */
const char *rlc_path(struct rlc *c, const char *name);

/* rlc_count_in_file counts the lines of path containing needle (-1: no file). */
int rlc_count_in_file(const char *path, const char *needle);

/* rlc_log_field: the number after " key=" on the last line of path that has needle (with
 * key after it); -1 if none. */
long rlc_log_field(const char *path, const char *needle, const char *key);

/* rlc_find_file puts the first file of the cluster dir matching pattern (glob) in out;
 * returns 1 if there is one (else out is ""). */
int rlc_find_file(struct rlc *c, const char *pattern, char *out, size_t len);

/* rlc_voiced: the share of 100 ms windows of a WAV whose RMS is above floor (-1: unreadable). */
double rlc_voiced(const char *path, double floor);

/* rlc_sipp_call runs sipp (env SIPP, else "sipp") for one call of scenarios/scenario.xml
 * (scenarios: a source-tree folder) to the SIP port on loopback, dialling did, from the
 * cluster's directory (captures the scenario names are found there); its output goes to
 * sipp-<scenario>.log. Returns sipp's exit status (0: the scenario passed). */
int rlc_sipp_call(struct rlc *c, const char *scenarios, const char *scenario, int sip_port, const char *did);
/* rlc_sipp_start starts that call and returns sipp's pid at once (its exit status says, as
 * above, whether the scenario passed): for a test that acts while the call is on. */
pid_t rlc_sipp_start(struct rlc *c, const char *scenarios, const char *scenario, int sip_port, const char *did);

/* rlc_wait_answered polls until queue qid has at least want answered; returns 1 if so. */
int rlc_wait_answered(struct rlc *c, const char *qid, int want, int seconds);

/* rlc_site_key: site's key (keys/<site>.key), for a test that speaks to the hub as its node
 * (static storage, valid until the next call). */
const struct rl_key *rlc_site_key(struct rlc *c, const char *site);

/* A link to the hub of the test's own, through the real client (rl_client.h): as a node of
 * site (proving key), as a tool (site: the operator's id, key its key) or as an agent link. */
struct rlc_link {
	struct rl_loop *loop;
	struct rl_client *cl;
	rl_env *reply; /* the last reply, kept until the next request */
	int got;
};
void rlc_link_open(struct rlc_link *l, struct rlc *c, int role, const char *id, const struct rl_key *key);
void rlc_link_close(struct rlc_link *l);

/* rlc_link_ask sends env as a request and waits up to 10 s for its reply (kept in l); the
 * test fails without one. */
rl_env *rlc_link_ask(struct rlc_link *l, rl_env *env);

/* rlc_scrape scrapes http://127.0.0.1:port/metrics with bearer token as Prometheus would
 * (tests/integration/scrape.py: 401 without the token, the text parsed by prometheus_client)
 * into samples.txt; 1 if it passed its checks. rlc_sample: the value of the sample written
 * exactly as `line` (name{labels}, labels sorted; name{} without) in it, or -1. */
int rlc_scrape(struct rlc *c, int port, const char *token);
double rlc_sample(struct rlc *c, const char *line);

/* rlc_stop_all stops every process (SIGTERM) and the hub. */
void rlc_stop_all(struct rlc *c);

#endif
