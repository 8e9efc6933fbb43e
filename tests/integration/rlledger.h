/*
 * rlledger.h - a submitter that acts as the casablanca site node, streams SubmitContact
 * requests with unique ext ids ("<prefix>-<i>") to the cluster's hub (its URL list) and keeps
 * every acknowledgement, and the ledger's checks: after the agents have handled everything,
 * the hub's LMDB read directly must hold every acknowledged contact exactly once, with the
 * contact id and enqueue time it was acknowledged with, handled, and none left offered.
 */
#ifndef RLLEDGER_H
#define RLLEDGER_H

#include <stdint.h>

#include "rl_client.h"
#include "rl_loop.h"
#include "rlcluster.h"

struct rll_sub {
	char ext[32];
	uint64_t req;
	int acked;
	char contact[RL_WIRE_MAX_ID + 1];
	uint64_t enq_us;
	int acks;         /* acknowledgements received (re-sends after a crash may add one) */
	int dup_mismatch; /* a repeated acknowledgement named another contact or time */
	uint64_t ack_us;  /* rl_mono_us() when the first acknowledgement came */
};

struct rll {
	struct rll_sub *subs;
	int n, next;
	char prefix[16];
	int quiet; /* 1: rll_read_store names no contact (a bench's thousands) */
	struct rl_loop *loop;
	struct rl_client *cl;
	char ca[700], cert[700], key[700];
};

/* rll_open links to c->hub_url as casablanca's node, for n contacts named prefix-<i>. */
void rll_open(struct rll *l, struct rlc *c, int n, const char *prefix);
void rll_close(struct rll *l);

/* rll_submit sends the next contact (none once all n are sent); rll_pump drives the link. */
void rll_submit(struct rll *l);
void rll_pump(struct rll *l, int ms);

int rll_acked(const struct rll *l);
int rll_mismatches(const struct rll *l);

/* rll_drain waits (pumping) until the hub's queue has nothing waiting, at least answered
 * contacts answered, and no agent on a call; returns 1 if so. */
int rll_drain(struct rll *l, struct rlc *c, int answered);

/* What a stopped hub's store holds of the ledger's contacts. */
struct rll_store {
	int *seen;      /* by contact index: records with its ext id (malloc'd, l->n; the caller frees) */
	int total;      /* records in the store, the ledger's or not */
	int mismatched; /* records of acknowledged contacts with another contact id or enqueue time */
	int handled, offered_left;
};

/* rll_read_store reads the stopped hub's LMDB in dir into *s (the test exits if it cannot). */
void rll_read_store(const struct rll *l, const char *dir, struct rll_store *s);

/* rll_verify_store reads the stopped hub's LMDB in dir and checks the ledger (RL_CHECK). */
void rll_verify_store(const struct rll *l, const char *dir);

#endif
