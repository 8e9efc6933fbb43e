/*
 * fledger.h - what a failover case leaves to count: every carrier call as the carrier (sipp's
 * "ev=" lines, fcluster.c) and the SBC (Kamailio's "sbc " lines) saw it, every contact as the
 * hub's store holds it, and the times the processes' logs give. All times are wall-clock
 * milliseconds.
 */
#ifndef FLEDGER_H
#define FLEDGER_H

#include <stddef.h>

enum fl_out {
	FL_PENDING,   /* no end line: sipp gave up on it (its error file says why) */
	FL_COMPLETED, /* answered, and the site hung up when the agent did */
	FL_CUT,       /* answered, and the site never hung up: the caller did */
	FL_LATE,      /* answered as the caller gave up (a 200 crossing the CANCEL) */
	FL_ABANDONED, /* the caller gave up waiting */
	FL_FAILED     /* a failure answer (code) */
};

struct fl_call {
	int n;           /* sipp's call number */
	char cid[96];    /* Call-ID */
	char caller[32]; /* the caller's number */
	char name[32];   /* its display name: unique, the hub's contacts carry it (caller_name) */
	double t_inv;    /* INVITE sent */
	double t_ans;    /* 200 received (0: never) */
	double t_giveup; /* the caller gave up waiting: CANCEL (0: did not) */
	double t_end;    /* outcome */
	enum fl_out out;
	int code;         /* the final answer's code */
	int site;         /* where the SBC last sent it (-1: nowhere) */
	unsigned tried;   /* the sites the SBC sent it to, a bit each */
	int nosite;       /* the SBC had no site for it */
	int redial;       /* a caller calling again */
	int agent_site;   /* the site of the agent who answered it (-1: none known) */
	int contacts;     /* the hub's contacts for it */
	int hub_answered; /* those answered */
};

struct fl_calls {
	struct fl_call *v;
	int n;
};

/* fl_calls_read appends the calls of a sipp log (redial: they call again); returns how many. */
int fl_calls_read(struct fl_calls *c, const char *log, int redial);
void fl_calls_free(struct fl_calls *c);

/* fl_answered: the call got a 200. */
int fl_answered(const struct fl_call *k);

/* fl_sipp_why: what sipp's error file (-trace_err) says of the call whose Call-ID is cid - the
 * first entry naming it, on one line, at most len - 1 characters; 1 if there is one. */
int fl_sipp_why(const char *errlog, const char *cid, char *out, size_t len);

/* fl_sbc_read fills each call's site, tried and nosite from Kamailio's log; site_ip[s] is
 * site s's address (nsites of them). */
void fl_sbc_read(struct fl_calls *c, const char *kamlog, const char *const site_ip[], int nsites);

/* fl_sbc_time: the first "sbc t=... <what> uri=<uri>" at or after after_ms, or -1. */
double fl_sbc_time(const char *kamlog, const char *what, const char *uri, double after_ms);

struct fl_contact {
	char id[40];
	char caller[32];
	char name[32];   /* the caller's name: its carrier call's display name */
	char site[24];   /* the site holding its caller */
	char agent[24];  /* its (last) agent */
	char reason[40]; /* why it ended, if not the caller's or agent's doing */
	char from[40];   /* represented_from: the contact whose place it took */
	int state, outcome, suspended;
	double enq, ans, end;
};

struct fl_contacts {
	struct fl_contact *v;
	int n;
};

/* fl_store_read reads the contacts whose caller starts with prefix from the hub's LMDB in
 * dir (a consistent snapshot; the hub may be running). Returns 0 or -1. */
int fl_store_read(struct fl_contacts *c, const char *dir, const char *prefix);
void fl_contacts_free(struct fl_contacts *c);

/* fl_contact_by_id: the contact id of c, or NULL. */
const struct fl_contact *fl_contact_by_id(const struct fl_contacts *c, const char *id);

/* fl_store_overlaps: agents that held two answered contacts of c at once (how many times);
 * the first is described in what. Those where the first is a hub's call whose end is known
 * only from heal_ms on, and the second one the agent's site took serving alone (its id is
 * "<site>.L..."), are counted in *late instead: an agent of a site serving alone left a call
 * the hub had given it - from elsewhere, or from its own site before the cut - which the hub
 * kept until it heard again (its record's end is when it learnt it, not when the agent hung
 * up). The agents' own logs (fl_double_holds) say whether one held two calls. */
int fl_store_overlaps(const struct fl_contacts *c, double heal_ms, int *late, char *what, size_t len);

/* fl_double_holds reads a relais-agent log: how many times an agent was offered a contact or
 * rang with one while on another call (one it had not hung up); the first is described in
 * what. */
int fl_double_holds(const char *agent_log, char *what, size_t len);

#endif
