/*
 * Two site nodes behind the carrier-side SBC: the shipped one (deploy/kamailio, written by
 * deploy/kamailio/sbc.sh) with two DID groups, one homed at casablanca with fes as its backup
 * and one homed at fes with casablanca as its backup; sipp, the carrier, dials the two numbers
 * in turn. The SBC probes both nodes with OPTIONS every second and retries a call refused with
 * 503 on the group's next site. Agents are seated at both sites and serve one queue. Each
 * call is counted where it lands: the node's "carrier call queued" lines, the SBC's "sbc ..."
 * log lines, the hub's queue counters.
 *
 *   1. both nodes up: each group's calls land at its home site, so both take calls;
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "rlcluster.h"
#include "rltest.h"
#include "sbctest.h"

/* The two DID groups: one homed at casablanca (fes its backup), one at fes. */
#define DID_CASA "+212522000500"
#define DID_FES  "+212522000600"

static struct rlc c;      /* the cluster: global so that the exit paths can stop it */
static struct sbc b;      /* the SBC in front of it */
static int g_sip_port[2]; /* the nodes' SIP ports, by g_site */
static const char *g_site[2] = {"casablanca", "fes"};

/* ------------------------------------------------------------------------------------------ */
/* Measurements */

/* sipp_calls places n calls through the SBC, 5 a second, all at once if need be, dialling
 * DID_CASA and DID_FES in turn; returns sipp's exit status (0: every call went as scripted). */
static int sipp_calls(const char *tag, int n)
{
	char args[1024];
	int st;

	snprintf(args, sizeof(args), "-sf %s -inf %s -m %d -l %d -r 5 -timeout 60s -timeout_error",
	         rltest_src("tests/kamailio/scenarios/call.xml"), rlc_path(&c, "dids.csv"), n, n);
	st = sbc_sipp(&b, tag, args);
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

/* sbc_in_flight: the SBC's SIP transactions still waiting for a final answer (tm.stats:
 * those not yet in their wait state), -1 if kamcmd does not say. With no call up, these are
 * the dispatcher's OPTIONS probes. */
static int sbc_in_flight(struct sbc *sb)
{
	char *out = NULL;
	int n = -1;

	if (sbc_kamcmd(sb, "tm.stats", &out) == 0 && out != NULL) {
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

static char ds_state(int site)
{
	return sbc_state(&b, g_sip_port[site]);
}

/* wait_states polls dispatcher.list until the nodes are in the given states ("AA", "IA"...). */
static int wait_states(const char *want, int ms)
{
	for (int t = 0;; t += 100) {
		if (ds_state(0) == want[0] && ds_state(1) == want[1])
			return 1;
		if (t >= ms)
			return 0;
		rltest_sleep_ms(100);
	}
}

/* ------------------------------------------------------------------------------------------ */

struct snap {
	int queued[2], refused, failovers;
};

static struct snap snap(void)
{
	struct snap s = {{queued(0), queued(1)}, refused(0), sbc_count(&b, "sbc failover")};
	return s;
}

int main(void)
{
	char urls[2][128], line[256];
	struct snap s0;
	int d0, d1, calls = 0;
	long t;

	sbc_setup(&b, &c, "kamailio");
	c.media = 1;
	snprintf(c.top_extra, sizeof(c.top_extra), "media = { relay_listen = \"127.0.0.1:%d\"; };", sbc_free_port(0));
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; wrapup_s = 1; }");
	rlc_agent(&c, "c1", "telco", "billing = 5;", "casablanca");
	rlc_agent(&c, "c2", "telco", "billing = 5;", "casablanca");
	rlc_agent(&c, "f1", "telco", "billing = 5;", "fes");
	rlc_agent(&c, "f2", "telco", "billing = 5;", "fes");
	rlc_start_hub(&c);
	for (int i = 0; i < 2; i++) {
		g_sip_port[i] = sbc_free_port(1);
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

	/* The DID groups, and sipp's numbers: the two groups in turn. */
	snprintf(b.groups, sizeof(b.groups), "casa casablanca,fes %s\nfes fes,casablanca %s\n", DID_CASA, DID_FES);
	{
		FILE *f = fopen(rlc_path(&c, "dids.csv"), "w");
		RL_REQUIRE(f != NULL);
		fprintf(f, "SEQUENTIAL\n%s;\n%s;\n", DID_CASA, DID_FES);
		fclose(f);
	}
	for (int i = 0; i < 2; i++)
		sbc_site(&b, g_site[i], g_sip_port[i]);
	t = sbc_start(&b);
	printf("kamailio up in %ld ms on udp 127.0.0.1:%d; nodes casablanca :%d, fes :%d\n", t, b.port, g_sip_port[0],
	       g_sip_port[1]);
	RL_REQUIRE(t >= 0);
	RL_REQUIRE(wait_states("AA", 5000));

	/* 1. Both nodes up: each group's calls go to its home site, so both take calls. */
	s0 = snap();
	RL_CHECK(sipp_calls("spread", 4) == 0);
	calls += 4;
	d0 = queued(0) - s0.queued[0], d1 = queued(1) - s0.queued[1];
	printf("both up: casablanca took %d calls, fes %d; SBC failovers %d\n", d0, d1, sbc_count(&b, "sbc failover"));
	RL_CHECK(d0 >= 1 && d1 >= 1);
	RL_CHECK(d0 + d1 == 4);
	RL_CHECK(sbc_count(&b, "sbc route ") == 4);
	RL_CHECK(sbc_count(&b, "sbc failover") == 0);

	/* 2. casablanca drains while the SBC does not probe: it still takes casablanca for
	 * active, so a call of casablanca's group sent there gets 503 and is retried on fes. */
	RL_CHECK(sbc_kamcmd(&b, "dispatcher.ping_active 0", NULL) == 0);
	RL_WAIT(10000, sbc_in_flight(&b) == 0); /* a probe already on its way got its answer from a node still up */
	RL_CHECK(rlc_ctl(&c, urls[0], "drain on", NULL) == 0);
	s0 = snap();
	RL_CHECK(sipp_calls("failover", 2) == 0);
	calls += 2;
	d0 = queued(0) - s0.queued[0], d1 = queued(1) - s0.queued[1];
	{
		int fo = sbc_count(&b, "sbc failover") - s0.failovers, rf = refused(0) - s0.refused;
		char st = ds_state(0);
		printf("casablanca draining, probes paused: casablanca took %d calls, fes %d; casablanca refused %d "
		       "INVITEs with 503, the SBC failed over %d times; casablanca is '%c' at the SBC\n",
		       d0, d1, rf, fo, st);
		RL_CHECK(d0 == 0 && d1 == 2);
		RL_CHECK(fo >= 1 && rf == fo);
		RL_CHECK(st == 'A'); /* the failover, not a probe, moved these calls */
		snprintf(line, sizeof(line), "from=sip:127.0.0.1:%d status=503", g_sip_port[0]);
		RL_CHECK(sbc_count(&b, line) == fo);
		RL_CHECK(sbc_count(&b, "sbc destination down") == 0);
	}

	/* 3. Probes again: casablanca answers OPTIONS 503 and leaves the rotation. */
	RL_CHECK(sbc_kamcmd(&b, "dispatcher.ping_active 1", NULL) == 0);
	snprintf(line, sizeof(line), "sbc destination down uri=sip:127.0.0.1:%d", g_sip_port[0]);
	t = sbc_wait(&b, line, 5000);
	/* casablanca is in both groups' sets, each entry probed on its own: both are down a few
	 * milliseconds apart. */
	RL_CHECK(wait_states("IA", 2000));
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
	       d0, d1, refused(0) - s0.refused, sbc_count(&b, "sbc failover") - s0.failovers);
	RL_CHECK(d0 == 0 && d1 == 4);
	RL_CHECK(refused(0) == s0.refused); /* the SBC did not even try casablanca */
	RL_CHECK(sbc_count(&b, "sbc failover") == s0.failovers);

	/* 4. drain off: the next probe brings casablanca back and calls spread again. */
	RL_CHECK(rlc_ctl(&c, urls[0], "drain off", NULL) == 0);
	snprintf(line, sizeof(line), "sbc destination up uri=sip:127.0.0.1:%d", g_sip_port[0]);
	t = sbc_wait(&b, line, 5000);
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
	RL_CHECK(sbc_count(&b, "sbc failover") == s0.failovers);

	/* Every call is one contact at the hub, answered; the refused INVITEs made none. */
	RL_CHECK(rlc_wait_answered(&c, "telco.billing", calls, 15));
	double offered = qnum("offered"), answered = qnum("answered"), abandoned = qnum("abandoned");
	printf("hub: %d calls placed, %.0f contacts offered, %.0f answered, %.0f abandoned\n", calls, offered, answered,
	       abandoned);
	RL_CHECK(offered == calls && answered == calls && abandoned == 0);
	RL_CHECK(queued(0) + queued(1) == calls);

	/* The SBC's own counters say the same: where each call went. */
	{
		long ac = sbc_stat(&b, "answered_casablanca"), af = sbc_stat(&b, "answered_fes");
		long fo = sbc_stat(&b, "failover_casablanca");
		printf(
		    "SBC counters: calls %ld, answered at casablanca %ld, at fes %ld, failovers from casablanca %ld\n",
		    sbc_stat(&b, "calls"), ac, af, fo);
		RL_CHECK(sbc_stat(&b, "calls") == calls);
		RL_CHECK(ac == queued(0) && af == queued(1));
		RL_CHECK(fo == sbc_count(&b, "sbc failover") && sbc_stat(&b, "failover_fes") == 0);
		RL_CHECK(sbc_stat(&b, "no_site") == 0 && sbc_stat(&b, "failed") == 0);
	}
	int st = sbc_stop(&b);
	if (st == -1)
		printf("kamailio stopped: no status\n");
	else
		printf("kamailio stopped: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	RL_CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	RL_CHECK(sbc_count(&b, "CRITICAL") == 0 && sbc_count(&b, "ERROR") == 0);
	rlc_stop_all(&c);
	sbc_check_logs(&b);
	return rltest_done();
}
