/*
 * rltest.h - fixtures shared by Relais tests.
 *
 * Checks: RL_CHECK(cond) records a failure and goes on; RL_REQUIRE(cond) records it and
 * exits the test at once. rltest_done() prints "N passed, N failed" and returns the exit code.
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

/* rltest_free_port returns a TCP port on 127.0.0.1 that was free a moment ago. */
int rltest_free_port(void);

/* rltest_sleep_ms sleeps. */
void rltest_sleep_ms(int ms);

/* rltest_run runs a command line via /bin/sh, output appended to logpath; returns exit status. */
int rltest_run(const char *cmdline, const char *logpath);

/* rltest_capture runs a command via /bin/sh and returns its stdout (malloc'd, caller frees). */
char *rltest_capture(const char *cmdline);

#endif
