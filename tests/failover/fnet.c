#define _GNU_SOURCE /* setns */
#include "fnet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rltest.h"

#define FNET_NET "10.99.77" /* the private /24; no packet of ours leaves our namespaces */

/* fnet_ip runs an `ip` command line (after "ip "); returns its exit status. */
static int fnet_ip(const struct fnet *n, const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int k = snprintf(cmd, sizeof(cmd), "ip ");

	va_start(ap, fmt);
	vsnprintf(cmd + k, sizeof(cmd) - (size_t)k, fmt, ap);
	va_end(ap);
	return rltest_run(cmd, n->log[0] ? n->log : NULL);
}

int fnet_available(char *why, size_t len)
{
	char probe[64], cmd[200];

	if (geteuid() != 0) {
		snprintf(why, len, "not root: network namespaces need CAP_SYS_ADMIN");
		return 0;
	}
	if (rltest_run("command -v ip", NULL) != 0) {
		snprintf(why, len, "no `ip` command (iproute2)");
		return 0;
	}
	snprintf(probe, sizeof(probe), "rlf%d-probe", (int)getpid());
	snprintf(cmd, sizeof(cmd), "ip netns add %s && ip netns del %s", probe, probe);
	if (rltest_run(cmd, NULL) != 0) {
		snprintf(why, len, "`ip netns add` does not work here (a container without CAP_SYS_ADMIN?)");
		return 0;
	}
	return 1;
}

int fnet_member(const struct fnet *n, const char *name)
{
	for (int i = 0; i < n->n; i++)
		if (strcmp(n->m[i].name, name) == 0)
			return i;
	return -1;
}

/* fnet_kill_ns sends SIGKILL to every process in namespace ns but ourselves; returns how many
 * there were. */
static int fnet_kill_ns(const char *ns)
{
	char cmd[128], *out, *save = NULL;
	int k = 0;

	snprintf(cmd, sizeof(cmd), "ip netns pids %s 2>/dev/null", ns);
	if ((out = rltest_capture(cmd)) == NULL)
		return 0;
	for (char *t = strtok_r(out, " \n", &save); t != NULL; t = strtok_r(NULL, " \n", &save)) {
		pid_t p = (pid_t)atoi(t);
		if (p > 1 && p != getpid()) {
			kill(p, SIGKILL);
			k++;
		}
	}
	free(out);
	return k;
}

/* fnet_reap ends what runs in our namespaces and deletes them (the router last). */
static void fnet_reap(const struct fnet *n)
{
	char cmd[128];

	for (int round = 0; round < 20; round++) {
		int left = 0;
		for (int i = 0; i < n->n; i++)
			left += fnet_kill_ns(n->m[i].ns);
		left += fnet_kill_ns(n->router);
		if (left == 0)
			break;
		rltest_sleep_ms(100);
	}
	for (int i = 0; i <= n->n; i++) {
		snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", i < n->n ? n->m[i].ns : n->router);
		rltest_run(cmd, NULL);
	}
}

/* fnet_watch forks the watchdog: it waits for its pipe to close - when we close it, or when
 * we die, however - then reaps our namespaces. Forked twice, so that it is nobody's child
 * here: a test runner that kills the test's process tree on a timeout does not kill it. */
static int fnet_watch(struct fnet *n)
{
	int fds[2], st;
	pid_t mid;

	if (pipe(fds) != 0)
		return -1;
	fflush(NULL);
	if ((mid = fork()) < 0)
		return -1;
	if (mid == 0) {
		char c;
		setsid();
		if (fork() != 0)
			_exit(0);
		int nul = open("/dev/null", O_RDWR);
		close(fds[1]);
		/* Nothing of the test's: a runner waits for its output to close. */
		for (int fd = 0; fd < 3 && nul >= 0; fd++)
			dup2(nul, fd);
		for (int fd = 3; fd < 1024; fd++)
			if (fd != fds[0])
				close(fd);
		for (;;) {
			ssize_t r = read(fds[0], &c, 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
		}
		/* The owner is done or dead: nothing of ours may outlive it. */
		fnet_reap(n);
		_exit(0);
	}
	close(fds[0]);
	waitpid(mid, &st, 0);
	n->watch_fd = fds[1];
	fcntl(n->watch_fd, F_SETFD, FD_CLOEXEC); /* our children must not keep it open */
	return 0;
}

/* fnet_sweep deletes namespaces that an earlier run left, empty, when its watchdog could not
 * run (the machine rebooted meanwhile keeps none; a kill -9 of both does). */
static void fnet_sweep(void)
{
	DIR *d = opendir("/run/netns");
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char cmd[400], *out;
		int pid;
		if (sscanf(e->d_name, "rlf%d-", &pid) != 1 || pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(cmd, sizeof(cmd), "ip netns pids %s 2>/dev/null", e->d_name);
		out = rltest_capture(cmd);
		if (out != NULL && out[0] == '\0') {
			snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", e->d_name);
			rltest_run(cmd, NULL);
		}
		free(out);
	}
	closedir(d);
}

static int fnet_fd(const char *ns)
{
	char path[128];

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* fnet_forward turns IPv4 forwarding on in the router (its own /proc/sys/net). */
static int fnet_forward(struct fnet *n)
{
	int fd = fnet_fd(n->router), ok = 0;
	FILE *f;

	if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if ((f = fopen("/proc/sys/net/ipv4/ip_forward", "w")) != NULL) {
		ok = fputs("1\n", f) >= 0;
		ok &= fclose(f) == 0;
	}
	close(fd);
	setns(n->root_fd, CLONE_NEWNET);
	return ok ? 0 : -1;
}

/* fnet_add_member makes member k's namespace and its link into the router. */
static int fnet_add_member(struct fnet *n, int k)
{
	struct fnet_member *m = &n->m[k];
	const char *r = n->router;

	if (fnet_ip(n, "netns add %s", m->ns) != 0 ||
	    fnet_ip(n, "link add m%d netns %s type veth peer name eth0 netns %s", k, r, m->ns) != 0 ||
	    fnet_ip(n, "-n %s addr add %s.%d/30 dev m%d", r, FNET_NET, 4 * k + 1, k) != 0 ||
	    fnet_ip(n, "-n %s link set m%d up", r, k) != 0 || fnet_ip(n, "-n %s link set lo up", m->ns) != 0 ||
	    fnet_ip(n, "-n %s addr add %s/30 dev eth0", m->ns, m->ip) != 0 ||
	    fnet_ip(n, "-n %s link set eth0 up", m->ns) != 0 ||
	    fnet_ip(n, "-n %s route add default via %s.%d", m->ns, FNET_NET, 4 * k + 1) != 0)
		return -1;
	return 0;
}

int fnet_open(struct fnet *n, const char *const *names, int count, const char *logpath)
{
	memset(n, 0, sizeof(*n));
	n->in = -1;
	n->watch_fd = -1;
	if (count > FNET_MAX || (n->root_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	snprintf(n->log, sizeof(n->log), "%s", logpath ? logpath : "");
	snprintf(n->prefix, sizeof(n->prefix), "rlf%d", (int)getpid());
	snprintf(n->router, sizeof(n->router), "%s-router", n->prefix);
	n->n = count;
	for (int k = 0; k < count; k++) {
		struct fnet_member *m = &n->m[k];
		snprintf(m->name, sizeof(m->name), "%s", names[k]);
		snprintf(m->ns, sizeof(m->ns), "%s-%s", n->prefix, names[k]);
		snprintf(m->ip, sizeof(m->ip), "%s.%d", FNET_NET, 4 * k + 2);
		snprintf(m->net, sizeof(m->net), "%s.%d/30", FNET_NET, 4 * k);
	}
	fnet_sweep();
	if (fnet_watch(n) != 0)
		return -1;
	if (fnet_ip(n, "netns add %s", n->router) != 0 || fnet_ip(n, "-n %s link set lo up", n->router) != 0 ||
	    fnet_forward(n) != 0)
		goto fail;
	for (int k = 0; k < count; k++)
		if (fnet_add_member(n, k) != 0)
			goto fail;
	return 0;
fail:
	fnet_close(n);
	return -1;
}

void fnet_close(struct fnet *n)
{
	if (n->in >= 0)
		fnet_leave(n);
	fnet_reap(n);
	if (n->watch_fd >= 0)
		close(n->watch_fd); /* the watchdog finds nothing left, and goes */
	n->watch_fd = -1;
	if (n->root_fd >= 0)
		close(n->root_fd);
	n->root_fd = -1;
}

void fnet_enter(struct fnet *n, int i)
{
	int fd = fnet_fd(n->m[i].ns);

	RL_REQUIRE(fd >= 0);
	RL_REQUIRE(setns(fd, CLONE_NEWNET) == 0);
	close(fd);
	n->in = i;
}

void fnet_leave(struct fnet *n)
{
	RL_REQUIRE(setns(n->root_fd, CLONE_NEWNET) == 0);
	n->in = -1;
}

pid_t fnet_spawn(struct fnet *n, int i, char *const argv[], const char *logpath)
{
	pid_t p;

	fnet_enter(n, i);
	p = rltest_spawn(argv, logpath);
	fnet_leave(n);
	return p;
}

/* fnet_rule adds or deletes one blackhole rule in the router ("from X", "to Y", or both). */
static int fnet_rule(struct fnet *n, int on, const char *sel)
{
	return fnet_ip(n, "-n %s rule %s %s blackhole", n->router, on ? "add" : "del", sel);
}

int fnet_cut(struct fnet *n, int a, int b, int on)
{
	char sel[80];
	int rv = 0;

	if (n->cut[a][b] == on)
		return 0;
	snprintf(sel, sizeof(sel), "from %s to %s", n->m[a].net, n->m[b].net);
	rv |= fnet_rule(n, on, sel);
	snprintf(sel, sizeof(sel), "from %s to %s", n->m[b].net, n->m[a].net);
	rv |= fnet_rule(n, on, sel);
	n->cut[a][b] = n->cut[b][a] = (unsigned char)on;
	return rv ? -1 : 0;
}

int fnet_isolate(struct fnet *n, int a, int on)
{
	char sel[80];
	int rv = 0;

	if (n->isolated[a] == on)
		return 0;
	snprintf(sel, sizeof(sel), "from %s", n->m[a].net);
	rv |= fnet_rule(n, on, sel);
	snprintf(sel, sizeof(sel), "to %s", n->m[a].net);
	rv |= fnet_rule(n, on, sel);
	n->isolated[a] = (unsigned char)on;
	return rv ? -1 : 0;
}

void fnet_heal_all(struct fnet *n)
{
	for (int a = 0; a < n->n; a++) {
		fnet_isolate(n, a, 0);
		for (int b = a + 1; b < n->n; b++)
			fnet_cut(n, a, b, 0);
	}
}
