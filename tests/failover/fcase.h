/*
 * fcase.h - failover cases on the harness's cluster (fcluster.h), and what each one measured.
 *
 * A case: the cluster healthy, the carrier calls at a steady rate through the SBC; after
 * warm_s the fault; after fault_s the heal; calls go on for after_s, then every call and
 * contact is left to end. Callers who were waiting at the lost site when it was lost, and
 * gave up, call again at the heal (they get their place back: the hub re-presents them). The
 * ledger is then checked (fc_result's fields) and the figures computed.
 */
#ifndef FCASE_H
#define FCASE_H

#include <stdio.h>

#include "fcluster.h"

enum fc_kind {
	FC_KILL,      /* kill -9 the site's node; heal: start it again (a new boot) */
	FC_FREEZE,    /* SIGSTOP the node; heal: SIGCONT */
	FC_CUT,       /* cut the site's path to the hub only; heal: restore it */
	FC_DRAIN,     /* the NOC drains the site; heal: undrains it */
	FC_PARTITION, /* cut the hub from everyone; heal: restore */
	FC_NKINDS
};

struct fc_plan {
	enum fc_kind kind;
	int site;    /* the site hit (not for the partition) */
	double rate; /* carrier calls a second */
	int warm_s, fault_s, after_s;
	int patience_ms; /* a caller waits this long for an answer */
	int bye_ms;      /* and, answered, this long for the site's BYE */
	int num;         /* the case's number (1-99): its callers are +21266<num>0<n> */
};

struct fc_result {
	char name[48];
	double t_fault, t_heal;
	/* the carrier: every call, by outcome */
	int calls, redials, completed, cut, late, abandoned, failed, pending, carrier_answered;
	int hung_up_at_once;    /* answered, and the site's BYE within 200 ms: a caller nobody talked to */
	char codes[160];        /* the failure codes seen, "503x12 408x1" */
	char pending_what[420]; /* the first call with no outcome, and why (sipp's error file) */
	/* the hub, as status says (this case's share; -1 if the day changed) and as its store
	 * holds it */
	long offered, answered, abandoned_hub, waiting_end, live_end;
	int contacts, st_answered, st_abandoned, st_failed, st_live;
	int samples, identity_breaks; /* status samples taken, and those where the sums broke */
	int day_changed;              /* the case crossed midnight (UTC): status counts not compared */
	int acked_lost;               /* contacts the hub acked that ended failed at a site not hit */
	char acked_lost_what[256];
	/* agents */
	int double_holds, overlaps;
	int late_ends; /* store overlaps that are a call the hub learnt the end of at the heal (fledger.h) */
	char double_what[160];
	/* figures (ms; -1: not measured or not applicable) */
	double detect_ms, node_detect_ms, sbc_detect_ms, switch_ms, recover_ms;
	int switch_calls, switch_failed; /* new calls in [loss, loss + 5 s) and those not answered */
	int fault_calls, fault_failed;   /* new calls between the loss and the heal */
	int lost_elsewhere;              /* calls the fault did not touch, lost all the same */
	int abandoned_elsewhere;         /* of which abandoned */
	char lost_what[200];
	int drained_waiting, drained_lost;
	int alone_calls, alone_answered; /* new calls given to a site serving alone, and answered */
	int duplicates;                  /* answered contacts beyond the carrier's answered calls, caller by caller */
	int phantoms;                    /* answered contacts of callers the carrier never saw answered */
	int unreached;                   /* of which answered elsewhere while their node was out of reach (fcase.c) */
	char phantom_what[400];
	int redialled;          /* callers who called again */
	int represent_expected; /* those whose first contact the hub had lost with its site */
	int represented;        /* contacts that took a lost contact's place */
	int represented_kept;   /* and kept its enqueue time */
};

const char *fc_kind_name(enum fc_kind k);

/* fc_case_run runs one case; r gets its ledger and figures. Returns 0, or -1 if the cluster
 * did not get healthy before it (r then says nothing). */
int fc_case_run(struct fc *f, const struct fc_plan *p, struct fc_result *r);

/* fc_result_print prints the case's ledger and figures. */
void fc_result_print(const struct fc_result *r, FILE *out);

#endif
