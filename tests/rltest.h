/*
 * rltest.h - fixtures shared by Relais tests.
 *
 * Checks: RL_CHECK(cond) records a failure and goes on; RL_REQUIRE(cond) records it and
 * exits the test at once. rltest_done() prints "N passed, N failed" and returns the exit code.
 * Waits: RL_WAIT(ms, cond) polls a condition up to a deadline and is a check itself.
 * Processes: rltest_spawn starts a real program (stdout+stderr to a log file), rltest_stop
 * sends a signal and reaps it. Paths: rltest_bin("hub/relais-hub") under the build tree,
 * rltest_src("deploy/...") under the source tree; rltest_tmpdir makes a fresh directory.
 */
#ifndef RLTEST_H
#define RLTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

extern unsigned rltest_passed, rltest_failed;

#define RL_CHECK(cond)                                                                           \
	do {                                                                                     \
		if (cond) {                                                                      \
			rltest_passed++;                                                         \
		} else {                                                                         \
			rltest_failed++;                                                         \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                                \
	} while (0)

#define RL_REQUIRE(cond)                                                                     \
	do {                                                                                 \
		if (cond) {                                                                  \
			rltest_passed++;                                                     \
		} else {                                                                     \
			rltest_failed++;                                                     \
			fprintf(stderr, "%s:%d: required: %s\n", __FILE__, __LINE__, #cond); \
			exit(rltest_done());                                                 \
		}                                                                            \
	} while (0)

/* rltest_done prints the tally line and returns 0 if nothing failed (and something ran). */
int rltest_done(void);

/* rltest_tmpdir creates a new directory under $TMPDIR (or /tmp); returns its static path. */
const char *rltest_tmpdir(const char *prefix);

/* rltest_bin / rltest_src return a static path (rotating buffers, 8 at a time). */
const char *rltest_bin(const char *rel);
const char *rltest_src(const char *rel);

/* rltest_spawn runs argv (argv[0] a path) with output appended to logpath; returns pid. */
pid_t rltest_spawn(char *const argv[], const char *logpath);

/* rltest_spawn_env is rltest_spawn with extra "K=V" entries (NULL-terminated) in the env. */
pid_t rltest_spawn_env(char *const argv[], char *const env[], const char *logpath);

/* rltest_stop sends sig, waits up to timeout_ms, SIGKILLs after; returns exit status or -1. */
int rltest_stop(pid_t pid, int sig, int timeout_ms);

/* rltest_free_port returns a port on 127.0.0.1 free a moment ago for both TCP and UDP;
 * rltest_free_ports the first of n such in a row (sipp's media takes port and port + 2).
 * They are drawn at random below the kernel's ephemeral range, so a connection or a UDP
 * socket that another process opens meanwhile cannot be given the same port. */
int rltest_free_port(void);
int rltest_free_ports(int n);

/* rltest_sleep_ms sleeps. Tests wait on conditions (RL_WAIT below); a fixed sleep is only for
 * what is itself timed: pacing a sender, real-time audio, a quiet period a check relies on. */
void rltest_sleep_ms(int ms);

/*
 * Waiting for a condition, not for a time. RL_WAIT(ms, cond) evaluates cond until it is true
 * or ms milliseconds have passed: at once, then after 1, 2, 4 ... ms, at most 100 ms apart
 * (a cond that runs a program, like relaisctl, is not run in a tight loop), and once more at
 * the deadline. It is a check: a pass if cond came true, else a failure that names cond and
 * how long it waited. Its value is 1 if cond came true, else 0. RL_WAIT_REQUIRE also exits
 * the test on a timeout, as RL_REQUIRE does. Give generous deadlines (10 to 30 s, sanitizers
 * on a loaded machine): a fast machine waits only as long as cond takes.
 */
#define RL_WAIT(ms, cond)         RLTEST_WAIT_(ms, cond, #cond, 0)
#define RL_WAIT_REQUIRE(ms, cond) RLTEST_WAIT_(ms, cond, #cond, 1)

struct rltest_wait {
	long long start_ms, deadline_ms; /* CLOCK_MONOTONIC */
	int pause_ms;                    /* the next pause between two tries */
};

/* rltest_wait_begin starts a wait of timeout_ms; rltest_wait_again pauses before the next
 * try, returns 0 once the deadline has passed; rltest_wait_end records the check (what: the
 * condition's text) and returns ok, or exits if require and !ok. Used by RL_WAIT. */
void rltest_wait_begin(struct rltest_wait *w, int timeout_ms);
int rltest_wait_again(struct rltest_wait *w);
int rltest_wait_end(const struct rltest_wait *w, int ok, const char *file, int line, const char *what, int require);

#define RLTEST_WAIT_(ms, cond, what, require)                                                 \
	__extension__({                                                                       \
		struct rltest_wait rltest_w_;                                                 \
		int rltest_ok_;                                                               \
		rltest_wait_begin(&rltest_w_, (ms));                                          \
		while (!(rltest_ok_ = (cond) ? 1 : 0) && rltest_wait_again(&rltest_w_))       \
			;                                                                     \
		rltest_wait_end(&rltest_w_, rltest_ok_, __FILE__, __LINE__, what, (require)); \
	})

/* rltest_certs makes a CA and the hub's and an agent's certificates in a new directory
 * (deploy/mkcerts.sh); 0 on success. */
struct rltest_certs {
	char ca[600], hub[600], hub_key[600], agent[600], agent_key[600];
};
int rltest_certs(const char *prefix, struct rltest_certs *c);

/* rltest_run runs a command line via /bin/sh, output appended to logpath; returns exit status. */
int rltest_run(const char *cmdline, const char *logpath);

/* rltest_log_num: the number after " key=" on the last line of path that holds n1 and n2 (n2
 * NULL: n1 alone), or -1. */
double rltest_log_num(const char *path, const char *n1, const char *n2, const char *key);

/* rltest_log_time: the wall-clock time, in ms since the epoch, of the first line of a Relais log
 * (ISO time first: "2026-12-04T23:21:01.547Z ...") at or after after_ms that contains needle,
 * or -1. */
double rltest_log_time(const char *path, const char *needle, double after_ms);

/* rltest_capture runs a command via /bin/sh and returns its stdout (malloc'd, caller frees). */
char *rltest_capture(const char *cmdline);

/*
 * Hostile TLS peers, for the ports of hub and node (real connections to 127.0.0.1:port).
 * rltest_cut_handshake sends a TLS 1.2 ClientHello that a server with the cluster's EC
 * certificates answers (ECDHE-ECDSA on P-256), waits for the first bytes of the answer, then
 * ends its side and resets the connection: the server, still writing its answer, writes to a
 * connection its peer has reset (EPIPE). rltest_half_hello connects and sends the first half of such a hello; it
 * returns the connection, left open for the caller to close.
 */
void rltest_cut_handshake(int port);
int rltest_half_hello(int port);

#endif
