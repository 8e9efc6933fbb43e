/*
 * siptest.h - fixtures for tests of the SIP glue (node/sip.h) against real sipp processes:
 * an event recorder the glue's callback feeds and the test thread waits on, sipp runs of the
 * scenarios in tests/sip/scenarios/, and a reader of what sipp received (its -trace_msg
 * file), so that a test can check a response's exact status line on the wire.
 *
 * One recorder per process (the glue's callbacks run on its SIP thread; the recorder locks).
 */
#ifndef SIPTEST_H
#define SIPTEST_H

#include <stdint.h>
#include <sys/types.h>

#include "sip.h"

#define SIPTEST_MAX_EVS 256

/* siptest_init makes the test's temporary directory and checks that sipp is there (env SIPP,
 * else /usr/bin/sipp), failing the test if not. Returns the directory. */
const char *siptest_init(const char *name);

/* The recorder: pass siptest_on_event (arg unused) as rl_sip_conf.fn. */
void siptest_on_event(void *arg, const struct rl_sip_event *ev);
void siptest_rec_reset(void);
unsigned siptest_rec_count(void);
/* siptest_wait_ev waits up to timeout_ms for the nth (0-based) event of type for call (any
 * call if 0) and copies it to out (may be NULL; zeroed if none). 1 if it came. */
int siptest_wait_ev(int type, uint64_t call, unsigned nth, int timeout_ms, struct rl_sip_event *out);
/* siptest_count_ev: how many events of type were recorded for call (any call if 0). */
unsigned siptest_count_ev(int type, uint64_t call);

/* One sipp process playing the carrier: one call of scenario `scen` (tests/sip/scenarios/
 * <scen>.xml, or an absolute path) to 127.0.0.1:port. */
struct siptest_sipp {
	const char *scen;
	int port;
	const char *transport; /* sipp's -t: NULL = "u1" */
	const char *local_ip;  /* -i: NULL = 127.0.0.1 */
	const char *service;   /* -s, the dialled number: NULL = "0522000999" */
	const char *keys[16];  /* -key name value pairs for the scenario's [name], NULL-ended */
	/* Set by siptest_sipp_start: */
	int local_port, media_port;
	char msg_file[640]; /* every message sent and received (-trace_msg) */
	char log[600];      /* sipp's output; .errors.log beside it */
};

/* siptest_sipp_start starts sipp (output to r->log); returns its pid. */
pid_t siptest_sipp_start(struct siptest_sipp *r);

/* siptest_sipp_wait waits up to timeout_ms for its exit: sipp's status (0: the call went as
 * scripted), or -1 (killed after the timeout). */
int siptest_sipp_wait(const struct siptest_sipp *r, pid_t pid, int timeout_ms);

/* A response sipp received, as it came. */
struct siptest_resp {
	int code;
	char line[256];       /* the status line, without its CRLF */
	char retry_after[32]; /* the Retry-After header's value, "" if none */
};

/* siptest_responses reads the responses sipp received, in order, from its -trace_msg file
 * into out (up to max); returns how many. */
int siptest_responses(const struct siptest_sipp *r, struct siptest_resp *out, int max);

/* siptest_final checks that every final response sipp received (retransmissions included)
 * has exactly the status line `line` and a Retry-After of `retry_after` ("" = none), and
 * that there was one; prints what came otherwise. 1 if so. */
int siptest_final(const struct siptest_sipp *r, const char *line, const char *retry_after);

#endif
