/*
 * Two site nodes behind a carrier-side SBC: Kamailio (tm + dispatcher, kamailio.cfg.in) spreads
 * the carrier's calls (sipp) round-robin over casablanca and fes, probes both with OPTIONS every
 * second, and retries a call refused with 503 on the other node. Agents are seated at both
 * sites and serve one queue. Each call is counted where it lands: the node's "carrier call
 * queued" lines, the SBC's "sbc ..." log lines, the hub's queue counters.
 *
 *   1. both nodes up: the calls land on both;
 *   2. casablanca drains while the SBC's probes are paused (kamcmd dispatcher.ping_active 0):
 *      the SBC still takes it for active, gets 503 and fails over, every call lands on fes;
 *   3. the probes resume: casablanca answers OPTIONS 503 and is marked down; new calls go
 *      straight to fes, casablanca sees none of them;
 *   4. drain off: the next probe marks casablanca up and calls spread again.
 *
 * Every sipp run must exit 0 (every call answered, the node's BYE received through the SBC),
 * and the hub must count each call once: a refused INVITE that was retried elsewhere is not
 * a second contact.
 */
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

#include "rlcluster.h"
#include "rltest.h"

#define DID "+212522000500"

static struct rlc c;      /* the cluster: global so that the exit paths can stop it */
static pid_t g_kam;       /* kamailio's main process */
static pid_t g_sipp_pid;  /* the sipp running, if any */
static int g_sbc_port;    /* kamailio's UDP port */
static int g_sip_port[2]; /* the nodes' SIP ports, by g_site */
static const char *g_site[2] = {"casablanca", "fes"};
static char g_kamailio[600], g_kamcmd[600], g_ctl[700], g_sipp[600];

/* ------------------------------------------------------------------------------------------ */
/* Clean-up, also on RL_REQUIRE's exit and on SIGINT/SIGTERM */

/* kam_children lists kamailio's worker processes (they are its children, it does not
 * daemonize with -DD), so that none outlives a main process that had to be SIGKILLed. */
static int kam_children(pid_t *kids, int max)
{
	char path[64], buf[1024];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)g_kam, (int)g_kam);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL)
		for (char *t = strtok(buf, " \n"); t != NULL && n < max; t = strtok(NULL, " \n"))
			kids[n++] = (pid_t)atoi(t);
	fclose(f);
	return n;
}

/* stop_kamailio stops the SBC; returns its exit status as rltest_stop does (-1: none). */
static int stop_kamailio(void)
{
	pid_t kids[64];
	int n, st;

	if (g_kam <= 0)
		return -1;
	n = kam_children(kids, 64);
	st = rltest_stop(g_kam, SIGTERM, 5000);
	g_kam = 0;
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

static void cleanup(void)
{
	if (g_sipp_pid > 0)
		rltest_stop(g_sipp_pid, SIGTERM, 2000);
	stop_kamailio();
	rlc_stop_all(&c);
}

static void on_signal(int sig)
{
	/* Only async-signal-safe calls: signal what we started and leave. */
	if (g_sipp_pid > 0)
		kill(g_sipp_pid, SIGTERM);
	if (g_kam > 0)
		kill(g_kam, SIGTERM);
	for (int i = 0; i < c.nprocs; i++)
		if (c.procs[i] > 0)
			kill(c.procs[i], SIGTERM);
	if (c.hub > 0)
		kill(c.hub, SIGTERM);
	_exit(128 + sig);
}

/* ------------------------------------------------------------------------------------------ */
/* Tools and measurements */

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

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* free_port returns a port of 127.0.0.1 that was free a moment ago for UDP, and for TCP too
 * if tcp (the nodes bind both). Kamailio and sipp listen on UDP, which rltest_free_port (TCP)
 * does not look at. */
static int free_port(int tcp)
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

/* sipp_calls places n calls through the SBC, 5 a second, all at once if need be; returns
 * sipp's exit status (0: every call went as scripted). */
static int sipp_calls(const char *tag, int n)
{
	char cmd[4096], log[600];
	int status, st = -1;

	snprintf(log, sizeof(log), "%s/sipp-%s.log", c.dir, tag);
	/* 254: sipp could not bind its ports (taken since we looked) and placed no call: again. */
	for (int tries = 0; tries < 5 && (tries == 0 || st == 254); tries++) {
		/* exec: the pid is sipp's own, so that the exit paths can stop it */
		snprintf(cmd, sizeof(cmd),
		         "cd %s && exec %s 127.0.0.1:%d -sf %s -s '%s' -m %d -l %d -r 5 -i 127.0.0.1 -p %d "
		         "-mi 127.0.0.1 -mp %d -timeout 60s -timeout_error -nostdin -trace_err -error_file %s",
		         c.dir, g_sipp, g_sbc_port, rltest_src("tests/kamailio/scenarios/call.xml"), DID, n, n,
		         free_port(0), free_port(0), log);
		char *argv[] = {"/bin/sh", "-c", cmd, NULL};
		g_sipp_pid = rltest_spawn(argv, log);
		while (waitpid(g_sipp_pid, &status, 0) < 0)
			if (errno != EINTR) {
				status = -1;
				break;
			}
		g_sipp_pid = 0;
		st = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (st == 254)
			printf("sipp %-10s could not bind its ports, again\n", tag);
	}
	printf("sipp %-10s %d calls through the SBC: exit %d\n", tag, n, st);
	return st;
}

static int node_count(int site, const char *needle)
{
	char name[64];

	snprintf(name, sizeof(name), "node-%s.log", g_site[site]);
	return rlc_count_in_file(rlc_path(&c, name), needle);
}

static int queued(int site)
{
	return node_count(site, "carrier call queued");
}

/* refused: INVITEs the node turned away with 503 because it drains. */
static int refused(int site)
{
	return node_count(site, "sip refused reason=draining");
}

static int sbc_count(const char *needle)
{
	return rlc_count_in_file(rlc_path(&c, "kamailio.log"), needle);
}

/* wait_sbc polls kamailio's log for a line; returns the milliseconds it took, -1 if none. */
static long wait_sbc(const char *needle, int ms)
{
	long t0 = now_ms();

	while (now_ms() - t0 < ms) {
		if (sbc_count(needle) > 0)
			return now_ms() - t0;
		rltest_sleep_ms(50);
	}
	return -1;
}

/* kamcmd runs an RPC against the SBC; returns its exit status, output in *out (malloc'd). */
static int kamcmd(const char *args, char **out)
{
	char cmd[2048];
	int st = -1;

	snprintf(cmd, sizeof(cmd), "%s -s unix:%s %s 2>&1; echo \"::exit=$?\"", g_kamcmd, g_ctl, args);
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

/* ds_state returns the SBC's view of a site node: 'A' active, 'I' inactive, 'T' trying,
 * 'D' disabled ('?' if dispatcher.list does not show it). */
static char ds_state(int site)
{
	char *out = NULL, uri[64], st = '?';

	snprintf(uri, sizeof(uri), "URI: sip:127.0.0.1:%d", g_sip_port[site]);
	if (kamcmd("dispatcher.list", &out) == 0 && out != NULL) {
		char *p = strstr(out, uri), *f = p ? strstr(p, "FLAGS: ") : NULL;
		if (f != NULL)
			st = f[7];
	}
	free(out);
	return st;
}

/* sbc_in_flight: the SBC's SIP transactions still waiting for a final answer (tm.stats:
 * those not yet in their wait state), -1 if kamcmd does not say. With no call up, these are
 * the dispatcher's OPTIONS probes. */
static int sbc_in_flight(void)
{
	char *out = NULL;
	int n = -1;

	if (kamcmd("tm.stats", &out) == 0 && out != NULL) {
		const char *cur = strstr(out, "current: "), *wait = strstr(out, "waiting: ");
		if (cur != NULL && wait != NULL)
			n = atoi(cur + 9) - atoi(wait + 9);
	}
	free(out);
	return n;
}

static double qnum(const char *field)
{
	cJSON *s = rlc_status(&c);
	double v = s ? rlc_queue_num(s, "telco.billing", field) : -1;

	cJSON_Delete(s);
	return v;
}

static int agents_ready(int want)
{
	for (int i = 0; i < 150; i++) {
		cJSON *s = rlc_status(&c);
		const char *ids[] = {"c1", "c2", "f1", "f2"};
		int ready = 0;
		for (int k = 0; k < 4; k++) {
			const char *st = s ? rlc_agent_str(s, ids[k], "state") : NULL;
			ready += st != NULL && strcmp(st, "READY") == 0;
		}
		cJSON_Delete(s);
		if (ready >= want)
			return 1;
		rltest_sleep_ms(200);
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The SBC */

/* write_sbc_conf fills in kamailio.cfg.in and the dispatcher list. */
static void write_sbc_conf(void)
{
	char line[1024];
	FILE *in = fopen(rltest_src("tests/kamailio/kamailio.cfg.in"), "r");
	FILE *out = fopen(rlc_path(&c, "kamailio.cfg"), "w");
	FILE *ds = fopen(rlc_path(&c, "dispatcher.list"), "w");

	RL_REQUIRE(in != NULL && out != NULL && ds != NULL);
	/* set 1: the two site nodes (kamailio keeps them in reverse order; round-robin goes
	 * through them in turn either way) */
	for (int i = 0; i < 2; i++)
		fprintf(ds, "1 sip:127.0.0.1:%d 0 0 site=%s\n", g_sip_port[i], g_site[i]);
	fclose(ds);
	while (fgets(line, sizeof(line), in) != NULL) {
		const char *vars[] = {"@SBC_PORT@", "@CTL_SOCKET@", "@DS_LIST@"};
		char *at, *from = line;
		while ((at = strchr(from, '@')) != NULL) {
			char val[700], rest[1024];
			int v = -1;
			for (int k = 0; k < 3; k++)
				if (strncmp(at, vars[k], strlen(vars[k])) == 0)
					v = k;
			if (v < 0) {
				from = at + 1; /* an @ of the text, e.g. in a comment */
				continue;
			}
			if (v == 0)
				snprintf(val, sizeof(val), "%d", g_sbc_port);
			else
				snprintf(val, sizeof(val), "%s", v == 1 ? g_ctl : rlc_path(&c, "dispatcher.list"));
			snprintf(rest, sizeof(rest), "%s", at + strlen(vars[v]));
			snprintf(at, sizeof(line) - (size_t)(at - line), "%s%s", val, rest);
			from = at + strlen(val);
		}
		fputs(line, out);
	}
	fclose(in);
	fclose(out);
}

/* start_sbc starts kamailio and waits until it serves; returns the milliseconds that took, or
 * -1. A port taken since we looked makes kamailio exit at once: then again on another. */
static long start_sbc(void)
{
	char pidfile[600], rundir[560];

	snprintf(rundir, sizeof(rundir), "%s/kamailio-run", c.dir);
	snprintf(pidfile, sizeof(pidfile), "%s/kamailio.pid", rundir);
	/* A unix socket path must fit in sun_path (108 bytes). */
	snprintf(g_ctl, sizeof(g_ctl), "%s/ctl.sock", rundir);
	RL_REQUIRE(strlen(g_ctl) < 100);
	RL_REQUIRE(mkdir(rundir, 0700) == 0);
	for (int tries = 0; tries < 3; tries++) {
		long t0 = now_ms();
		int status;

		g_sbc_port = free_port(0);
		write_sbc_conf();
		char *argv[] = {
		    g_kamailio, "-DD",  "-E", "-S",    "-m", "32",   "-M", "8",
		    "-Y",       rundir, "-P", pidfile, "-w", rundir, "-f", (char *)rlc_path(&c, "kamailio.cfg"),
		    NULL};
		g_kam = rltest_spawn(argv, rlc_path(&c, "kamailio.log"));
		while (now_ms() - t0 < 10000) {
			if (sbc_count("sbc ready") > 0)
				return now_ms() - t0;
			if (waitpid(g_kam, &status, WNOHANG) == g_kam) {
				char failed[64];
				printf("kamailio exited at start (udp port %d), again\n", g_sbc_port);
				/* its log apart, so that the final checks read the SBC that served */
				snprintf(failed, sizeof(failed), "kamailio-start%d.log", tries);
				rename(rlc_path(&c, "kamailio.log"), rlc_path(&c, failed));
				g_kam = 0;
				break;
			}
			rltest_sleep_ms(50);
		}
		if (g_kam > 0)
			return -1;
	}
	return -1;
}

/* wait_states polls dispatcher.list until the nodes are in the given states ("AA", "IA"...). */
static int wait_states(const char *want, int ms)
{
	long t0 = now_ms();

	do {
		if (ds_state(0) == want[0] && ds_state(1) == want[1])
			return 1;
		rltest_sleep_ms(100);
	} while (now_ms() - t0 < ms);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */

struct snap {
	int queued[2], refused, failovers;
};

static struct snap snap(void)
{
	struct snap s = {{queued(0), queued(1)}, refused(0), sbc_count("sbc failover")};
	return s;
}

int main(void)
{
	char urls[2][128], line[256];
	struct snap s0;
	int d0, d1, calls = 0;
	long t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	RL_REQUIRE(tool(g_kamailio, sizeof(g_kamailio), "KAMAILIO", "/usr/sbin/kamailio"));
	RL_REQUIRE(tool(g_kamcmd, sizeof(g_kamcmd), "KAMCMD", "/usr/sbin/kamcmd"));
	RL_REQUIRE(tool(g_sipp, sizeof(g_sipp), "SIPP", "/usr/bin/sipp"));

	rlc_init(&c, "kamailio", 1);
	printf("cluster, logs and kamailio.cfg in %s\n", c.dir);
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	c.media = 1;
	snprintf(c.top_extra, sizeof(c.top_extra), "media = { relay_listen = \"127.0.0.1:%d\"; };", free_port(0));
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; wrapup_s = 1; }");
	rlc_agent(&c, "c1", "telco", "billing = 5;", "casablanca");
	rlc_agent(&c, "c2", "telco", "billing = 5;", "casablanca");
	rlc_agent(&c, "f1", "telco", "billing = 5;", "fes");
	rlc_agent(&c, "f2", "telco", "billing = 5;", "fes");
	rlc_start_hub(&c);
	for (int i = 0; i < 2; i++) {
		g_sip_port[i] = free_port(1);
		snprintf(
		    c.node_extra, sizeof(c.node_extra),
		    "sip = {\n"
		    "  listen = \"127.0.0.1:%d\"; media_ip = \"127.0.0.1\"; trunks = [ \"127.0.0.1\" ]; retry_after_s = 5;\n"
		    "  dids = ( { did = \"*\"; tenant = \"telco\"; queue = \"telco.billing\"; } );\n"
		    "};\n",
		    g_sip_port[i]);
		snprintf(urls[i], sizeof(urls[i]), "%s", rlc_start_node(&c, g_site[i], NULL, NULL));
	}
	rlc_start_agents(&c, urls[0], "c1,c2", "answer=0.3,talk=2,wrap=0.5,fixed=1", "agents-casablanca.log");
	rlc_start_agents(&c, urls[1], "f1,f2", "answer=0.3,talk=2,wrap=0.5,fixed=1", "agents-fes.log");
	RL_REQUIRE(agents_ready(4));
	RL_REQUIRE(node_count(0, "sip listening addr=") == 1 && node_count(1, "sip listening addr=") == 1);

	t = start_sbc();
	printf("kamailio up in %ld ms on udp 127.0.0.1:%d; nodes casablanca :%d, fes :%d\n", t, g_sbc_port,
	       g_sip_port[0], g_sip_port[1]);
	RL_REQUIRE(t >= 0);
	RL_REQUIRE(wait_states("AA", 5000));

	/* 1. Both nodes up: round-robin puts calls on both. */
	s0 = snap();
	RL_CHECK(sipp_calls("spread", 4) == 0);
	calls += 4;
	d0 = queued(0) - s0.queued[0], d1 = queued(1) - s0.queued[1];
	printf("both up: casablanca took %d calls, fes %d; SBC failovers %d\n", d0, d1, sbc_count("sbc failover"));
	RL_CHECK(d0 >= 1 && d1 >= 1);
	RL_CHECK(d0 + d1 == 4);
	RL_CHECK(sbc_count("sbc route ") == 4);
	RL_CHECK(sbc_count("sbc failover") == 0);

	/* 2. casablanca drains while the SBC does not probe: it still takes casablanca for
	 * active, so a call sent there gets 503 and is retried on fes. */
	RL_CHECK(kamcmd("dispatcher.ping_active 0", NULL) == 0);
	RL_WAIT(10000, sbc_in_flight() == 0); /* a probe already on its way got its answer from a node still up */
	RL_CHECK(rlc_ctl(&c, urls[0], "drain on", NULL) == 0);
	s0 = snap();
	RL_CHECK(sipp_calls("failover", 2) == 0);
	calls += 2;
	d0 = queued(0) - s0.queued[0], d1 = queued(1) - s0.queued[1];
	{
		int fo = sbc_count("sbc failover") - s0.failovers, rf = refused(0) - s0.refused;
		char st = ds_state(0);
		printf("casablanca draining, probes paused: casablanca took %d calls, fes %d; casablanca refused %d "
		       "INVITEs with 503, the SBC failed over %d times; casablanca is '%c' at the SBC\n",
		       d0, d1, rf, fo, st);
		RL_CHECK(d0 == 0 && d1 == 2);
		RL_CHECK(fo >= 1 && rf == fo);
		RL_CHECK(st == 'A'); /* the failover, not a probe, moved these calls */
		snprintf(line, sizeof(line), "from=sip:127.0.0.1:%d status=503", g_sip_port[0]);
		RL_CHECK(sbc_count(line) == fo);
		RL_CHECK(sbc_count("sbc destination down") == 0);
	}

	/* 3. Probes again: casablanca answers OPTIONS 503 and leaves the rotation. */
	RL_CHECK(kamcmd("dispatcher.ping_active 1", NULL) == 0);
	snprintf(line, sizeof(line), "sbc destination down uri=sip:127.0.0.1:%d", g_sip_port[0]);
	t = wait_sbc(line, 5000);
	printf("probes resumed: casablanca marked down after %ld ms; at the SBC casablanca '%c', fes '%c'\n", t,
	       ds_state(0), ds_state(1));
	RL_CHECK(t >= 0);
	RL_CHECK(ds_state(0) == 'I' && ds_state(1) == 'A');
	s0 = snap();
	RL_CHECK(sipp_calls("drained", 4) == 0);
	calls += 4;
	d0 = queued(0) - s0.queued[0], d1 = queued(1) - s0.queued[1];
	printf("casablanca down at the SBC: casablanca took %d calls, fes %d; casablanca refused %d INVITEs, "
	       "failovers %d\n",
	       d0, d1, refused(0) - s0.refused, sbc_count("sbc failover") - s0.failovers);
	RL_CHECK(d0 == 0 && d1 == 4);
	RL_CHECK(refused(0) == s0.refused); /* the SBC did not even try casablanca */
	RL_CHECK(sbc_count("sbc failover") == s0.failovers);

	/* 4. drain off: the next probe brings casablanca back and calls spread again. */
	RL_CHECK(rlc_ctl(&c, urls[0], "drain off", NULL) == 0);
	snprintf(line, sizeof(line), "sbc destination up uri=sip:127.0.0.1:%d", g_sip_port[0]);
	t = wait_sbc(line, 5000);
	printf("drain off: casablanca marked up after %ld ms\n", t);
	RL_CHECK(t >= 0);
	RL_CHECK(wait_states("AA", 2000));
	s0 = snap();
	RL_CHECK(sipp_calls("respread", 4) == 0);
	calls += 4;
	d0 = queued(0) - s0.queued[0], d1 = queued(1) - s0.queued[1];
	printf("both up again: casablanca took %d calls, fes %d\n", d0, d1);
	RL_CHECK(d0 >= 1 && d1 >= 1);
	RL_CHECK(d0 + d1 == 4);
	RL_CHECK(sbc_count("sbc failover") == s0.failovers);

	/* Every call is one contact at the hub, answered; the refused INVITEs made none. */
	RL_CHECK(rlc_wait_answered(&c, "telco.billing", calls, 15));
	double offered = qnum("offered"), answered = qnum("answered"), abandoned = qnum("abandoned");
	printf("hub: %d calls placed, %.0f contacts offered, %.0f answered, %.0f abandoned\n", calls, offered, answered,
	       abandoned);
	RL_CHECK(offered == calls && answered == calls && abandoned == 0);
	RL_CHECK(queued(0) + queued(1) == calls);

	int st = stop_kamailio();
	if (st == -1)
		printf("kamailio stopped: no status\n");
	else
		printf("kamailio stopped: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	RL_CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	RL_CHECK(sbc_count("CRITICAL") == 0 && sbc_count("ERROR") == 0);
	rlc_stop_all(&c);
	const char *logs[] = {"hub.log", "node-casablanca.log", "node-fes.log", "agents-casablanca.log",
	                      "agents-fes.log"};
	for (int i = 0; i < 5; i++) {
		RL_CHECK(rlc_count_in_file(rlc_path(&c, logs[i]), "Sanitizer") == 0);
		RL_CHECK(rlc_count_in_file(rlc_path(&c, logs[i]), "runtime error") == 0);
	}
	return rltest_done();
}
