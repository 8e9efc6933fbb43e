/* ctl.h - what relaisctl's commands share: the command line's settings, the link to the hub
 * or a node, and one request answered. */
#ifndef RL_CTL_H
#define RL_CTL_H

#include "rl_client.h"
#include "rl_key.h"
#include "rl_loop.h"

struct ctl {
	const char *url;
	struct rl_tls tls;
	const char *operator;     /* who we are: an operator id ... */
	const char *operator_key; /* ... and the file of its key (relaisctl keygen) */
	struct rl_key key;
	int json;
	int timeout_s;
	struct rl_loop *loop;
	struct rl_client *client;
};

/* ctl_usage prints the usage and returns the usage exit status (2). */
int ctl_usage(void);

/* ctl_open loads the operator's key and dials c->url: 0, or the exit status (2, said on
 * stderr). ctl_close undoes it (and copes with a ctl that was never opened). */
int ctl_open(struct ctl *c);
void ctl_close(struct ctl *c);

/* ctl_ask sends env and waits for its answer. Returns the reply (caller frees with
 * rl_wire_free), or NULL with *rv set to the exit status when there is none (3, said on
 * stderr) or it is an Error (1, the server's message printed). */
rl_env *ctl_ask(struct ctl *c, rl_env *env, int *rv);

/* site.c: `site status|drain|undrain|failover|failback` and `audit`; each returns the exit
 * status. */
int ctl_cmd_site(struct ctl *c, int argc, char **argv);
int ctl_cmd_audit(struct ctl *c, int argc, char **argv);
/* ctl_opt_window takes option opt with its value val if it is "--since SECONDS_AGO" (into
 * *since_us, a wall clock) or "--limit N" (1..max, into *limit): 1 if so, else 0. */
int ctl_opt_window(const char *opt, const char *val, uint64_t *since_us, uint32_t *limit, unsigned long max);

/* recordings.c: `recordings [list]` at the hub, `recordings fetch` at the node holding it. */
int ctl_cmd_recordings(struct ctl *c, int argc, char **argv);

/* report.c: `report`, the hub's reports as CSV or JSON; returns the exit status. */
int ctl_cmd_report(struct ctl *c, int argc, char **argv);

/* wallboard.c: `wallboard` (a ticket for the hub's web wallboard); returns the exit status. */
int ctl_cmd_wallboard(struct ctl *c, int argc, char **argv);

#endif
