#include "sbctest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rltest.h"

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* tool finds a program: $env if set (CMake passes what find_program found), else def. */
static int tool(char *out, size_t len, const char *env, const char *def)
{
	const char *v = getenv(env);

	snprintf(out, len, "%s", v != NULL && v[0] && strstr(v, "NOTFOUND") == NULL ? v : def);
	if (access(out, X_OK) != 0) {
		fprintf(stderr, "%s not found (%s): install Debian's %s package\n", env, out,
		        strcmp(env, "SIPP") == 0 ? "sip-tester" : "kamailio");
		return 0;
	}
	return 1;
}

int sbc_init(struct sbc *b, struct rlc *c)
{
	memset(b, 0, sizeof(*b));
	b->c = c;
	return tool(b->kamailio, sizeof(b->kamailio), "KAMAILIO", "/usr/sbin/kamailio") &&
	       tool(b->kamcmd, sizeof(b->kamcmd), "KAMCMD", "/usr/sbin/kamcmd") &&
	       tool(b->sipp_bin, sizeof(b->sipp_bin), "SIPP", "/usr/bin/sipp");
}

void sbc_site(struct sbc *b, const char *name, int port)
{
	RL_REQUIRE(b->nsites < SBC_SITES_MAX);
	snprintf(b->site[b->nsites], sizeof(b->site[0]), "%s", name);
	b->site_port[b->nsites++] = port;
}

int sbc_free_port(int tcp)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = -1, port = -1;

		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (u >= 0 && bind(u, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		    getsockname(u, (struct sockaddr *)&sa, &len) == 0)
			port = ntohs(sa.sin_port);
		if (port > 0 && tcp) {
			t = socket(AF_INET, SOCK_STREAM, 0);
			if (t < 0 || bind(t, (struct sockaddr *)&sa, sizeof(sa)) != 0)
				port = -1;
		}
		if (t >= 0)
			close(t);
		if (u >= 0)
			close(u);
		if (port > 0)
			return port;
	}
	return -1;
}

/* sbc_write runs deploy/kamailio/sbc.sh for the sites and groups into the cluster's
 * directory; returns its exit status. */
static int sbc_write(struct sbc *b)
{
	char cmd[4096], timer[64] = "";
	size_t n;
	FILE *f = fopen(rlc_path(b->c, "sbc-groups"), "w");

	RL_REQUIRE(f != NULL);
	fputs(b->groups, f);
	fclose(f);
	if (b->no_answer_ms > 0)
		snprintf(timer, sizeof(timer), " --no-answer-ms %d", b->no_answer_ms);
	n = (size_t)snprintf(cmd, sizeof(cmd), "sh %s --out %s --listen 127.0.0.1:%d --groups %s --ctl %s%s",
	                     rltest_src("deploy/kamailio/sbc.sh"), rlc_path(b->c, "sbc"), b->port,
	                     rlc_path(b->c, "sbc-groups"), b->ctl, timer);
	for (int i = 0; i < b->nsites && n < sizeof(cmd); i++)
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " --site %s=127.0.0.1:%d", b->site[i], b->site_port[i]);
	RL_REQUIRE(n < sizeof(cmd));
	return rltest_run(cmd, rlc_path(b->c, "sbc-conf.log"));
}

long sbc_start(struct sbc *b)
{
	char pidfile[600], rundir[560];

	snprintf(rundir, sizeof(rundir), "%s/kamailio-run", b->c->dir);
	snprintf(pidfile, sizeof(pidfile), "%s/kamailio.pid", rundir);
	/* A unix socket path must fit in sun_path (108 bytes). */
	snprintf(b->ctl, sizeof(b->ctl), "%s/ctl.sock", rundir);
	RL_REQUIRE(strlen(b->ctl) < 100);
	RL_REQUIRE(mkdir(rundir, 0700) == 0);
	/* A port taken since we looked makes kamailio exit at once: then again on another. */
	for (int tries = 0; tries < 3; tries++) {
		long t0 = now_ms();
		int status;

		b->port = sbc_free_port(0);
		RL_REQUIRE(sbc_write(b) == 0);
		char *argv[] = {
		    b->kamailio, "-DD",  "-E", "-S",    "-m", "32",   "-M", "8",
		    "-Y",        rundir, "-P", pidfile, "-w", rundir, "-f", (char *)rlc_path(b->c, "sbc/kamailio.cfg"),
		    NULL};
		b->pid = rltest_spawn(argv, rlc_path(b->c, "kamailio.log"));
		while (now_ms() - t0 < 10000) {
			if (sbc_count(b, "sbc ready") > 0)
				return now_ms() - t0;
			if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
				char failed[64];
				printf("kamailio exited at start (udp port %d), again\n", b->port);
				/* its log apart, so that the checks read the SBC that served */
				snprintf(failed, sizeof(failed), "kamailio-start%d.log", tries);
				rename(rlc_path(b->c, "kamailio.log"), rlc_path(b->c, failed));
				b->pid = 0;
				break;
			}
			rltest_sleep_ms(50);
		}
		if (b->pid > 0)
			return -1;
	}
	return -1;
}

/* sbc_children lists kamailio's worker processes (they are its children: it does not
 * daemonize with -DD), so that none outlives a main process that had to be SIGKILLed. */
static int sbc_children(struct sbc *b, pid_t *kids, int max)
{
	char path[64], buf[1024];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)b->pid, (int)b->pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL)
		for (char *t = strtok(buf, " \n"); t != NULL && n < max; t = strtok(NULL, " \n"))
			kids[n++] = (pid_t)atoi(t);
	fclose(f);
	return n;
}

int sbc_stop(struct sbc *b)
{
	pid_t kids[64];
	int n, st;

	if (b->pid <= 0)
		return -1;
	n = sbc_children(b, kids, 64);
	st = rltest_stop(b->pid, SIGTERM, 5000);
	b->pid = 0;
	/* A main process that stops by itself has reaped its workers; one that had to be
	 * SIGKILLed leaves them behind. */
	for (int i = 0; st != -1 && WIFSIGNALED(st) && i < n; i++) {
		char path[64], comm[32] = "";
		FILE *f;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)kids[i]);
		if ((f = fopen(path, "r")) != NULL) {
			if (fgets(comm, sizeof(comm), f) == NULL)
				comm[0] = 0;
			fclose(f);
		}
		if (strncmp(comm, "kamailio", 8) == 0)
			kill(kids[i], SIGKILL);
	}
	return st;
}

static struct sbc *g_sbc; /* sbc_setup's, for the exit paths */

static void sbc_cleanup(void)
{
	if (g_sbc->frozen > 0)
		kill(g_sbc->frozen, SIGCONT); /* a stopped process would not hear SIGTERM */
	if (g_sbc->sipp > 0)
		rltest_stop(g_sbc->sipp, SIGTERM, 2000);
	sbc_stop(g_sbc);
	rlc_stop_all(g_sbc->c);
}

static void sbc_on_signal(int sig)
{
	struct rlc *c = g_sbc->c;

	/* Only async-signal-safe calls: signal what we started and leave. */
	if (g_sbc->frozen > 0)
		kill(g_sbc->frozen, SIGCONT);
	if (g_sbc->sipp > 0)
		kill(g_sbc->sipp, SIGTERM);
	if (g_sbc->pid > 0)
		kill(g_sbc->pid, SIGTERM);
	for (int i = 0; i < c->nprocs; i++)
		if (c->procs[i] > 0)
			kill(c->procs[i], SIGTERM);
	if (c->hub > 0)
		kill(c->hub, SIGTERM);
	_exit(128 + sig);
}

void sbc_setup(struct sbc *b, struct rlc *c, const char *name)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	rlc_init(c, name, 1);
	RL_REQUIRE(sbc_init(b, c));
	printf("cluster, logs and the SBC's configuration (sbc/) in %s\n", c->dir);
	g_sbc = b;
	atexit(sbc_cleanup);
	signal(SIGINT, sbc_on_signal);
	signal(SIGTERM, sbc_on_signal);
}

void sbc_check_logs(struct sbc *b)
{
	char name[64];

	for (int i = -1; i < 2 * b->nsites; i++) {
		if (i < 0)
			snprintf(name, sizeof(name), "hub.log");
		else
			snprintf(name, sizeof(name), "%s-%s.log", i % 2 ? "agents" : "node", b->site[i / 2]);
		RL_CHECK(rlc_count_in_file(rlc_path(b->c, name), "Sanitizer") == 0);
		RL_CHECK(rlc_count_in_file(rlc_path(b->c, name), "runtime error") == 0);
	}
}

int sbc_count(struct sbc *b, const char *needle)
{
	return rlc_count_in_file(rlc_path(b->c, "kamailio.log"), needle);
}

long sbc_wait(struct sbc *b, const char *needle, int ms)
{
	long t0 = now_ms();

	while (now_ms() - t0 < ms) {
		if (sbc_count(b, needle) > 0)
			return now_ms() - t0;
		rltest_sleep_ms(50);
	}
	return -1;
}

int sbc_kamcmd(struct sbc *b, const char *args, char **out)
{
	char cmd[2048];
	int st = -1;

	snprintf(cmd, sizeof(cmd), "%s -s unix:%s %s 2>&1; echo \"::exit=$?\"", b->kamcmd, b->ctl, args);
	char *res = rltest_capture(cmd);
	if (res != NULL && strstr(res, "::exit=") != NULL) {
		st = atoi(strstr(res, "::exit=") + 7);
		*strstr(res, "::exit=") = 0;
	}
	if (out != NULL)
		*out = res;
	else
		free(res);
	return st;
}

char sbc_state(struct sbc *b, int port)
{
	char *out = NULL, uri[64], st = 0;

	snprintf(uri, sizeof(uri), "URI: sip:127.0.0.1:%d", port);
	if (sbc_kamcmd(b, "dispatcher.list", &out) == 0 && out != NULL) {
		for (char *p = strstr(out, uri); p != NULL; p = strstr(p + 1, uri)) {
			char *f = strstr(p, "FLAGS: ");
			if (f == NULL || (st != 0 && st != f[7])) {
				st = '?';
				break;
			}
			st = f[7];
		}
	}
	free(out);
	return st != 0 ? st : '?';
}

long sbc_stat(struct sbc *b, const char *name)
{
	char *out = NULL, key[128];
	long v = -1;

	/* The group's counters, one "script:NAME = VALUE" a line (kamcmd finds one counter by
	 * its bare name only, which another module's could shadow). */
	snprintf(key, sizeof(key), "script:%s = ", name);
	if (sbc_kamcmd(b, "stats.get_statistics script:", &out) == 0 && out != NULL)
		for (char *p = strstr(out, key); p != NULL; p = strstr(p + 1, key))
			if (p == out || p[-1] == '\n')
				v = atol(p + strlen(key));
	free(out);
	return v;
}

void sbc_sipp_start(struct sbc *b, const char *tag, const char *args)
{
	char cmd[4096], log[600], errors[600];

	snprintf(log, sizeof(log), "%s/sipp-%s.log", b->c->dir, tag);
	snprintf(errors, sizeof(errors), "%s/sipp-%s-errors.log", b->c->dir, tag);
	/* exec: the pid is sipp's own, so that the exit paths can stop it */
	snprintf(cmd, sizeof(cmd),
	         "cd %s && exec %s 127.0.0.1:%d %s -i 127.0.0.1 -p %d -mi 127.0.0.1 -mp %d -nostdin -trace_err "
	         "-error_file %s",
	         b->c->dir, b->sipp_bin, b->port, args, sbc_free_port(0), sbc_free_port(0), errors);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	b->sipp = rltest_spawn(argv, log);
}

int sbc_sipp_wait(struct sbc *b)
{
	int status;

	if (b->sipp <= 0)
		return -1;
	while (waitpid(b->sipp, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	b->sipp = 0;
	return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int sbc_sipp(struct sbc *b, const char *tag, const char *args)
{
	int st = -1;

	/* 254: sipp could not bind its ports (taken since we looked) and placed no call. */
	for (int tries = 0; tries < 5 && (tries == 0 || st == 254); tries++) {
		if (tries > 0)
			printf("sipp %-10s could not bind its ports, again\n", tag);
		sbc_sipp_start(b, tag, args);
		st = sbc_sipp_wait(b);
	}
	return st;
}
