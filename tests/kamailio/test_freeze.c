/*
 * A site node frozen behind the SBC under steady traffic, and what it does with the INVITEs
 * that waited in its socket meanwhile.
 *
 * casablanca and fes behind the shipped SBC (deploy/kamailio, sbc.sh with a 1 s no-answer
 * timer), one DID group homed at casablanca with fes as its backup; sipp, the carrier, places
 * 2 calls a second. Each node queues its calls in a queue of its own (telco.casa,
 * telco.fes), so the hub's count of contacts a node submitted is that queue's `offered`, and
 * the agents seated at that site serve it. (An agent elsewhere could take a frozen site's
 * contact before the hub sees the site lost, and hang up before the node wakes to connect
 * the caller: a call lost to the freeze, not a phantom, which this test does not look at.)
 *
 * Once casablanca has taken calls it is frozen (SIGSTOP) until the SBC has given up on it
 * (an INVITE unanswered for 1 s, failed over to fes; casablanca marked down) and the hub has
 * marked the site lost, and for 6 s at least; then SIGCONT. Its socket then holds INVITEs
 * (and their retransmissions) the SBC has already placed at fes. The node must see that it
 * stalled and refuse them (503 "Stale INVITE", counted): none may become a contact, which
 * would be offered to an agent with nobody on the line. So, once the traffic is over:
 *
 *   - every sipp call ended answered (by which site: the 200's Contact) or refused with a
 *     status, and sipp exits 0 (no call lost to a timeout or an unexpected message);
 *   - the contacts casablanca submitted (telco.casa offered) are exactly the calls the carrier
 *     got connected through casablanca, and all were answered; the same for fes;
 *   - casablanca did refuse stale INVITEs, and no call was answered twice.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rlcluster.h"
#include "rltest.h"
#include "sbctest.h"

#define DID   "+212522000500"
#define CALLS 40 /* at 2 a second: the freeze falls in the middle */

static struct rlc c;
static struct sbc b;
static pid_t g_casa; /* casablanca's node */
static int g_sip_port[2];
static const char *g_site[2] = {"casablanca", "fes"};
static const char *g_queue[2] = {"telco.casa", "telco.fes"};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int node_count(int site, const char *needle)
{
	char name[64];

	snprintf(name, sizeof(name), "node-%s.log", g_site[site]);
	return rlc_count_in_file(rlc_path(&c, name), needle);
}

static int hub_count(const char *needle)
{
	return rlc_count_in_file(rlc_path(&c, "hub.log"), needle);
}

/* carrier_count: lines of sipp's log actions (one per call, see steady.xml) with needle. */
static int carrier_count(const char *needle)
{
	return rlc_count_in_file(rlc_path(&c, "sipp-steady-calls.log"), needle);
}

static int answered_by(int site)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "site_port=%d", g_sip_port[site]);
	return carrier_count(needle);
}

/* queue_nums reads a queue's offered, answered, abandoned and waiting from the hub (-1: no
 * answer). */
static void queue_nums(int site, double v[4])
{
	static const char *const f[4] = {"offered", "answered", "abandoned", "waiting"};
	cJSON *s = rlc_status(&c);

	for (int i = 0; i < 4; i++)
		v[i] = s ? rlc_queue_num(s, g_queue[site], f[i]) : -1;
	cJSON_Delete(s);
}

static int agents_ready(void)
{
	const char *ids[] = {"c1", "c2", "c3", "c4", "f1", "f2", "f3", "f4"};

	for (int i = 0; i < 150; i++) {
		cJSON *s = rlc_status(&c);
		int ready = 0;
		for (int k = 0; k < 8; k++) {
			const char *st = s ? rlc_agent_str(s, ids[k], "state") : NULL;
			ready += st != NULL && strcmp(st, "READY") == 0;
		}
		cJSON_Delete(s);
		if (ready == 8)
			return 1;
		rltest_sleep_ms(200);
	}
	return 0;
}

/* settled: every contact of both queues is over (answered or abandoned, none waiting) and the
 * counts have stopped moving. */
static int settled(int ms)
{
	double last[2][4] = {{-1}};
	int still = 0;

	for (long t0 = now_ms(); now_ms() - t0 < ms; rltest_sleep_ms(500)) {
		double v[2][4];
		int over = 1;
		queue_nums(0, v[0]);
		queue_nums(1, v[1]);
		for (int q = 0; q < 2; q++)
			over &= v[q][0] >= 0 && v[q][3] == 0 && v[q][1] + v[q][2] == v[q][0];
		still = over && memcmp(v, last, sizeof(v)) == 0 ? still + 1 : 0;
		memcpy(last, v, sizeof(v));
		if (still >= 4) /* 2 s without a change */
			return 1;
	}
	return 0;
}

static void start_cluster(void)
{
	char urls[2][128];

	c.media = 1;
	snprintf(c.top_extra, sizeof(c.top_extra), "media = { relay_listen = \"127.0.0.1:%d\"; };", sbc_free_port(0));
	for (int q = 0; q < 2; q++) {
		char entry[256];
		snprintf(
		    entry, sizeof(entry),
		    "{ id = \"%s\"; tenant = \"telco\"; skills = { billing = 1; }; wrapup_s = 1; sites = [ \"%s\" ]; }",
		    g_queue[q], g_site[q]);
		rlc_queue(&c, entry);
	}
	for (int i = 1; i <= 4; i++) {
		char id[8];
		snprintf(id, sizeof(id), "c%d", i);
		rlc_agent(&c, id, "telco", "billing = 5;", "casablanca");
		snprintf(id, sizeof(id), "f%d", i);
		rlc_agent(&c, id, "telco", "billing = 5;", "fes");
	}
	rlc_start_hub(&c);
	for (int i = 0; i < 2; i++) {
		g_sip_port[i] = sbc_free_port(1);
		snprintf(c.node_extra, sizeof(c.node_extra),
		         "sip = {\n"
		         "  listen = \"127.0.0.1:%d\"; media_ip = \"127.0.0.1\"; trunks = [ \"127.0.0.1\" ];\n"
		         "  retry_after_s = 5; max_calls = 200;\n"
		         "  dids = ( { did = \"*\"; tenant = \"telco\"; queue = \"%s\"; } );\n"
		         "};\n",
		         g_sip_port[i], g_queue[i]);
		snprintf(urls[i], sizeof(urls[i]), "%s", rlc_start_node(&c, g_site[i], NULL, i == 0 ? &g_casa : NULL));
	}
	rlc_start_agents(&c, urls[0], "c1,c2,c3,c4", "answer=0.3,talk=1,wrap=0.3,fixed=1", "agents-casablanca.log");
	rlc_start_agents(&c, urls[1], "f1,f2,f3,f4", "answer=0.3,talk=1,wrap=0.3,fixed=1", "agents-fes.log");
	RL_REQUIRE(agents_ready());
}

/* freeze stops casablanca until the SBC gave up on it and the hub lost it, 6 s at least;
 * returns how long it was frozen (ms). */
static long freeze(void)
{
	char down[128];
	long t0, t;

	snprintf(down, sizeof(down), "sbc destination down uri=sip:127.0.0.1:%d", g_sip_port[0]);
	b.frozen = g_casa; /* continued on any exit */
	RL_REQUIRE(kill(g_casa, SIGSTOP) == 0);
	t0 = now_ms();
	printf("casablanca frozen (SIGSTOP) after %d calls queued there\n", node_count(0, "carrier call queued"));
	while ((t = now_ms() - t0) < 30000) {
		if (t >= 6000 && sbc_count(&b, "status=408 site=casablanca") > 0 && sbc_count(&b, down) > 0 &&
		    hub_count("site lost site=casablanca") > 0)
			break;
		rltest_sleep_ms(100);
	}
	RL_REQUIRE(kill(g_casa, SIGCONT) == 0);
	b.frozen = 0;
	printf("casablanca woken (SIGCONT) after %ld ms: the SBC failed %d calls over from it for no answer; "
	       "marked it down: %s; the hub lost it: %s\n",
	       t, sbc_count(&b, "status=408 site=casablanca"), sbc_count(&b, down) > 0 ? "yes" : "NO",
	       hub_count("site lost site=casablanca") > 0 ? "yes" : "NO");
	return t;
}

int main(void)
{
	char args[1024];
	double v[2][4];
	long frozen;
	int st;

	sbc_setup(&b, &c, "freeze");
	start_cluster();

	snprintf(b.groups, sizeof(b.groups), "casa casablanca,fes %s\n", DID);
	b.no_answer_ms = 1000;
	for (int i = 0; i < 2; i++)
		sbc_site(&b, g_site[i], g_sip_port[i]);
	RL_REQUIRE(sbc_start(&b) >= 0);
	for (long t0 = now_ms(); sbc_state(&b, g_sip_port[0]) != 'A' || sbc_state(&b, g_sip_port[1]) != 'A';) {
		RL_REQUIRE(now_ms() - t0 < 5000);
		rltest_sleep_ms(100);
	}

	snprintf(args, sizeof(args),
	         "-sf %s -s %s -m %d -r 2 -l %d -timeout 150s -timeout_error -trace_logs -log_file %s",
	         rltest_src("tests/kamailio/scenarios/steady.xml"), DID, CALLS, CALLS,
	         rlc_path(&c, "sipp-steady-calls.log"));
	sbc_sipp_start(&b, "steady", args);
	for (long t0 = now_ms(); node_count(0, "carrier call queued") < 4; rltest_sleep_ms(100))
		RL_REQUIRE(now_ms() - t0 < 20000);
	frozen = freeze();
	RL_CHECK(frozen >= 6000 && frozen < 30000);

	/* Awake: it sees its stall, refuses what waited through it, and reads its fence back. */
	for (long t0 = now_ms(); node_count(0, "sip stall over") == 0; rltest_sleep_ms(100))
		RL_REQUIRE(now_ms() - t0 < 15000);
	printf("casablanca saw its stall: %d stale INVITEs refused (%s)\n", node_count(0, "sip refused reason=stale"),
	       node_count(0, "fence=back") > 0 ? "its fence came back" : "its fence was lost");
	st = sbc_sipp_wait(&b);
	printf("sipp: %d calls, exit %d: %d answered (casablanca %d, fes %d), %d refused\n", CALLS, st,
	       carrier_count("answered call="), answered_by(0), answered_by(1), carrier_count("refused call="));
	RL_CHECK(st == 0);
	RL_CHECK(carrier_count("answered call=") + carrier_count("refused call=") == CALLS);
	RL_CHECK(answered_by(0) + answered_by(1) == carrier_count("answered call="));

	/* The hub: each node's contacts are the calls connected through it, all answered. */
	RL_CHECK(settled(30000));
	queue_nums(0, v[0]);
	queue_nums(1, v[1]);
	for (int i = 0; i < 2; i++) {
		printf("%s: submitted %.0f contacts (offered in %s), %.0f answered, %.0f abandoned; the carrier got %d "
		       "calls connected through it\n",
		       g_site[i], v[i][0], g_queue[i], v[i][1], v[i][2], answered_by(i));
		RL_CHECK(v[i][0] == answered_by(i));
		RL_CHECK(v[i][1] == v[i][0] && v[i][2] == 0);
	}
	RL_CHECK(node_count(0, "sip stalled ms=") == 1);
	RL_CHECK(node_count(0, "sip refused reason=stale") >= 1);
	RL_CHECK(node_count(1, "sip refused reason=stale") == 0);
	RL_CHECK(sbc_stat(&b, "answered_casablanca") == answered_by(0));
	RL_CHECK(sbc_stat(&b, "answered_fes") == answered_by(1));
	RL_CHECK(sbc_stat(&b, "failover_casablanca") >= 1);

	RL_CHECK(sbc_stop(&b) != -1);
	rlc_stop_all(&c);
	sbc_check_logs(&b);
	return rltest_done();
}
