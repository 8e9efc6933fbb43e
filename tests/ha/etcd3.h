/*
 * etcd3.h - a three-member etcd for tests (Debian's etcd-server; the path comes from the
 * environment's ETCD, which CMake sets): members m0..m2 on free ports of one address
 * (loopback, or a network namespace's), data and logs in a directory of the test's,
 * elections tuned for a local network (heartbeat 50 ms, election timeout 500 ms).
 */
#ifndef ETCD3_H
#define ETCD3_H

#include <sys/types.h>

struct etcd3 {
	pid_t pid[3]; /* 0: not running */
	int client[3], peer[3];
	char endpoints[256]; /* every member's client URL, comma-separated */
	char dir[512];
	char ip[16]; /* the address every member listens on */
};

/* etcd3_start starts the members on 127.0.0.1 (the test exits with a message when there is
 * no etcd). etcd3_start_at starts them on ip, in the calling thread's network namespace
 * (where their processes are born): the ports are drawn free there. */
void etcd3_start(struct etcd3 *e, const char *dir);
void etcd3_start_at(struct etcd3 *e, const char *dir, const char *ip);

/* etcd3_kill kills member i (SIGKILL, reaped). */
void etcd3_kill(struct etcd3 *e, int i);

/* etcd3_stop kills every member still running. */
void etcd3_stop(struct etcd3 *e);

#endif
