/*
 * fnet.h - network namespaces for failover tests: real links to cut.
 *
 * A router namespace and one namespace per member (the hub, the carrier, each site). Each
 * member has one veth pair into the router and a /30 of one private /24: member k is
 * 10.99.77.(4k+2), the router's end 10.99.77.(4k+1), its default route. Nothing is made in
 * the machine's own namespace: deleting our namespaces removes every interface.
 *
 * Faults are made in the router: a cut between two members (fnet_cut) or around one member
 * (fnet_isolate) is a pair of policy rules that blackhole their packets, both ways, silently -
 * as a dead path looks - while every other path stays.
 *
 * Processes run in a member's namespace: fnet_enter switches the calling thread there (what
 * it forks and execs is born there), fnet_leave comes back. Every process in our namespaces
 * is ended by fnet_close, and by a watchdog process, forked by fnet_open, when the process
 * that opened them dies in any way (killed, timed out) - nothing outlives a run.
 */
#ifndef FNET_H
#define FNET_H

#include <stddef.h>
#include <sys/types.h>

#define FNET_MAX 8

struct fnet_member {
	char name[16]; /* "hub", "carrier", "casablanca"... */
	char ns[48];   /* its namespace: <prefix>-<name> */
	char ip[16];   /* its address */
	char net[24];  /* its /30, as policy rules name it */
};

struct fnet {
	char prefix[24]; /* "rlf<pid>": names our namespaces, and tells stale ones apart */
	char router[48]; /* the router's namespace */
	int n;
	struct fnet_member m[FNET_MAX];
	int root_fd; /* the namespace we started in */
	int in;      /* the member the calling thread is in, -1: none */
	pid_t watchdog;
	int watch_fd; /* its pipe: closed (or our death), it cleans up */
	char log[600];
	unsigned char cut[FNET_MAX][FNET_MAX];
	unsigned char isolated[FNET_MAX];
};

/* fnet_available: 1 if this process may make namespaces (root, `ip netns` works); else 0
 * with why in why. */
int fnet_available(char *why, size_t len);

/* fnet_open makes the router and a namespace for each of names (count <= FNET_MAX), up and
 * routed, and starts the watchdog; the `ip` commands' output goes to logpath. Returns 0, or
 * -1 (what was made is removed). */
int fnet_open(struct fnet *n, const char *const *names, int count, const char *logpath);

/* fnet_close ends every process left in our namespaces (SIGKILL) and deletes them. */
void fnet_close(struct fnet *n);

/* fnet_member: the index of the member called name, or -1. */
int fnet_member(const struct fnet *n, const char *name);

/* fnet_enter moves the calling thread into member i's namespace; fnet_leave back. */
void fnet_enter(struct fnet *n, int i);
void fnet_leave(struct fnet *n);

/* fnet_spawn runs argv in member i's namespace (rltest_spawn: output to logpath). */
pid_t fnet_spawn(struct fnet *n, int i, char *const argv[], const char *logpath);

/* fnet_cut drops (on) or restores every packet between members a and b; 0 or -1. */
int fnet_cut(struct fnet *n, int a, int b, int on);

/* fnet_isolate drops (on) or restores every packet to and from member a; 0 or -1. */
int fnet_isolate(struct fnet *n, int a, int on);

/* fnet_heal_all restores every cut and isolation (a failed test leaves none behind). */
void fnet_heal_all(struct fnet *n);

#endif
