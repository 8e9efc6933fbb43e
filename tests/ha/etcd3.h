/*
 * etcd3.h - a three-member etcd on loopback for tests (Debian's etcd-server; the path comes
 * from the environment's ETCD, which CMake sets): members m0..m2 on free ports, data and
 * logs in a directory of the test's, elections tuned for loopback (heartbeat 50 ms,
 * election timeout 500 ms).
 */
#ifndef ETCD3_H
#define ETCD3_H

#include <sys/types.h>

struct etcd3 {
	pid_t pid[3]; /* 0: not running */
	int client[3], peer[3];
	char endpoints[256]; /* every member's client URL, comma-separated */
	char dir[512];
};

/* etcd3_start starts the members (the test exits with a message when there is no etcd). */
void etcd3_start(struct etcd3 *e, const char *dir);

/* etcd3_kill kills member i (SIGKILL, reaped). */
void etcd3_kill(struct etcd3 *e, int i);

/* etcd3_stop kills every member still running. */
void etcd3_stop(struct etcd3 *e);

#endif
