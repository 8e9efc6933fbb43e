/*
 * sbctest.h - the carrier-side SBC of the Kamailio tests: the shipped one (deploy/kamailio),
 * written out by deploy/kamailio/sbc.sh for the test's site nodes and DID groups into the
 * cluster's directory, run in the foreground, asked with kamcmd; and sipp, the carrier,
 * calling through it.
 *
 * The SBC's log is kamailio.log in the cluster's directory; lines starting "sbc " are its own
 * (docs/sbc.md).
 */
#ifndef SBCTEST_H
#define SBCTEST_H

#include <sys/types.h>

#include "rlcluster.h"

#define SBC_SITES_MAX 3

struct sbc {
	struct rlc *c;     /* the cluster: its directory holds the SBC's files */
	pid_t pid;         /* kamailio's main process, 0 when stopped */
	pid_t sipp;        /* the sipp running, 0 if none */
	int port;          /* the SBC's UDP port on 127.0.0.1 */
	char ctl[700];     /* kamcmd's socket */
	char groups[2048]; /* the DID groups file's text (deploy/kamailio/sbc.sh --groups) */
	int nsites;
	char site[SBC_SITES_MAX][32]; /* the site nodes, and their SIP ports on 127.0.0.1 */
	int site_port[SBC_SITES_MAX];
	int no_answer_ms; /* sbc.sh --no-answer-ms; 0 = its default */
	pid_t frozen;     /* a process the test stopped (SIGSTOP), continued before the end */
	char kamailio[600], kamcmd[600], sipp_bin[600];
};

/* sbc_init: the fixture for cluster c, with the tools found ($KAMAILIO, $KAMCMD, $SIPP, else
 * their Debian paths); returns 0, saying what to install, if one is missing. */
int sbc_init(struct sbc *b, struct rlc *c);

/* sbc_setup starts a test: the cluster's directory (rlc_init, with TLS), the fixture (the test
 * fails if a tool is missing), and the end: at exit, and on SIGINT or SIGTERM, every process
 * the cluster and the fixture started is stopped (b->frozen continued first). One per test. */
void sbc_setup(struct sbc *b, struct rlc *c, const char *name);

/* sbc_site declares a site node listening for SIP on 127.0.0.1:port. */
void sbc_site(struct sbc *b, const char *name, int port);

/* sbc_free_port returns a port of 127.0.0.1 that was free a moment ago for UDP, and for TCP
 * too if tcp (the nodes bind both); rltest_free_port looks at TCP only. */
int sbc_free_port(int tcp);

/* sbc_start writes the SBC's configuration with sbc.sh and starts kamailio; waits until it
 * serves. Returns the milliseconds that took, or -1. */
long sbc_start(struct sbc *b);

/* sbc_stop stops the SBC and its workers; returns its exit status as rltest_stop does (-1:
 * none running). */
int sbc_stop(struct sbc *b);

/* sbc_check_logs checks that the hub's log, and the node-<site>.log and agents-<site>.log of
 * each site, tell of no sanitizer finding (call it once they are stopped). */
void sbc_check_logs(struct sbc *b);

/* sbc_count: lines of the SBC's log containing needle. */
int sbc_count(struct sbc *b, const char *needle);

/* sbc_wait polls the SBC's log for a line; returns the milliseconds it took, -1 if none came
 * within ms. */
long sbc_wait(struct sbc *b, const char *needle, int ms);

/* sbc_kamcmd runs an RPC against the SBC; returns kamcmd's exit status, its output in *out
 * (malloc'd; out may be NULL). */
int sbc_kamcmd(struct sbc *b, const char *args, char **out);

/* sbc_state: the SBC's view of the site node on port, in every dispatcher set that has it:
 * 'A' active, 'I' inactive, 'T' trying, 'D' disabled; '?' if the sets disagree or none has
 * it. */
char sbc_state(struct sbc *b, int port);

/* sbc_stat: the SBC's counter NAME (kamcmd stats.get_statistics script:), -1 if unknown. */
long sbc_stat(struct sbc *b, const char *name);

/* sbc_sipp_start starts sipp as the carrier against the SBC, from the cluster's directory,
 * with args (scenario, calls, rate...; the local ports are chosen here); its output goes to
 * sipp-<tag>.log, its errors to sipp-<tag>-errors.log. sbc_sipp_wait waits for it and
 * returns its exit status (0: every call went as scripted; 254: it could not bind its ports,
 * -1: it died). */
void sbc_sipp_start(struct sbc *b, const char *tag, const char *args);
int sbc_sipp_wait(struct sbc *b);

/* sbc_sipp runs sipp (as sbc_sipp_start) to its end, again on other ports if it could not
 * bind them; returns its exit status. */
int sbc_sipp(struct sbc *b, const char *tag, const char *args);

#endif
