/*
 * The carrier edge through a whole site (hub, node with a SIP trunk, sipp as the carrier):
 *
 *   1. the RTP range is checked at start: a range no leg can use stops the node with a clear
 *      message; one that holds fewer calls than max_calls lowers max_calls, loudly;
 *   2. every rejection the carrier can meet, read back from what sipp received, status line
 *      and Retry-After exactly: 503 "No media port" (the pool's ports taken by another
 *      program), 503 from the call limit the pool set (at once, while the pool is full), 404
 *      unknown number, 480 when the hub refuses the call, 403 from a source off the trunk
 *      list, 488 for a multicast media address, 503 while draining;
 *   3. keys pressed in an IVR menu signalled by SIP INFO only (application/dtmf-relay, and
 *      application/dtmf two menus deep), and by both INFO and RFC 4733 at once, which must
 *      count once.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rl_audio.h"
#include "rl_err.h"
#include "rlcluster.h"
#include "rltest.h"
#include "siptest.h"

#define DID_MENU    "+212522000200"
#define DID_NOQUEUE "+212522000666" /* a queue the hub does not have */

static int g_sip_port;
static char g_node_log[800];

/* A UDP socket bound to 127.0.0.1:port, or -1. */
static int udp_on(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Waits until the node's log has at least n lines with needle. */
static int wait_log(const char *needle, int n, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		if (rlc_count_in_file(g_node_log, needle) >= n)
			return 1;
		rltest_sleep_ms(100);
	}
	fprintf(stderr, "node log: %d lines with \"%s\", want %d\n", rlc_count_in_file(g_node_log, needle), needle, n);
	return 0;
}

/* One call sipp places to did with scenario scen; its exit status. */
static int call(struct siptest_sipp *r, const char *scen, const char *did)
{
	r->scen = scen;
	r->port = g_sip_port;
	r->service = did;
	return siptest_sipp_wait(r, siptest_sipp_start(r), 60000);
}

/* One call refused: sipp must read exactly line (and Retry-After ra, "" = none). */
static void refused(const char *did, const char *line, const char *ra)
{
	struct siptest_sipp r = {0};

	RL_CHECK(call(&r, "invite_reject", did) == 0);
	RL_CHECK(siptest_final(&r, line, ra));
}

/* relais-node on a config whose sip group has rtp_min, rtp_max: its exit status and output. */
static int node_with_ports(struct rlc *c, int rtp_min, int rtp_max, char *out, size_t cap)
{
	char cmd[2048], *res;
	FILE *f = fopen(rlc_path(c, "bad-ports.conf"), "w");
	int st = -1;

	RL_REQUIRE(f != NULL);
	fprintf(f,
	        "node: { site_id = \"casablanca\"; hub = \"tcp://127.0.0.1:9\"; listen = [ \"tcp://127.0.0.1:%d\" ];\n"
	        "        key_file = \"%s/keys/casablanca.key\"; };\n"
	        "media = { listen = \"127.0.0.1:%d\"; };\n"
	        "sip = { listen = \"127.0.0.1:%d\"; media_ip = \"127.0.0.1\"; rtp_min = %d; rtp_max = %d;\n"
	        "        dids = ( { did = \"*\"; tenant = \"telco\"; queue = \"q\"; } ); };\n",
	        rltest_free_port(), c->dir, rltest_free_port(), rltest_free_port(), rtp_min, rtp_max);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "timeout 20 %s -c %s 2>&1; echo \"::exit=$?\"", rltest_bin("node/relais-node"),
	         rlc_path(c, "bad-ports.conf"));
	res = rltest_capture(cmd);
	if (res != NULL && strstr(res, "::exit=") != NULL)
		st = atoi(strstr(res, "::exit=") + 7);
	snprintf(out, cap, "%s", res ? res : "");
	free(res);
	return st;
}

static void config_checks(struct rlc *c)
{
	char out[4096];

	RL_CHECK(node_with_ports(c, 20001, 20001, out, sizeof(out)) == 1);
	RL_CHECK(strstr(out, "sip.rtp_min, rtp_max: 20001..20001 has no even port for RTP") != NULL);
	RL_CHECK(node_with_ports(c, 0, 30000, out, sizeof(out)) == 1);
	RL_CHECK(
	    strstr(out, "sip.rtp_min, rtp_max: both 0 (any port) or a range with rtp_min <= rtp_max, not 0, 30000") !=
	    NULL);
	RL_CHECK(node_with_ports(c, 30010, 30000, out, sizeof(out)) == 1);
	RL_CHECK(strstr(out, "not 30010, 30000") != NULL);
}

/* The pool of two legs: its ports taken by another program, then full with two calls. */
static void port_pool(int rtp_min)
{
	int fd0 = udp_on(rtp_min), fd2 = udp_on(rtp_min + 2);
	struct siptest_sipp hold[2] = {{0}};
	pid_t pid[2];
	int answered = rlc_count_in_file(g_node_log, "sip answered");

	/* Another program holds both even ports: the node answers 503 at once. */
	RL_CHECK(fd0 >= 0 && fd2 >= 0);
	refused(DID_MENU, "SIP/2.0 503 No media port", "17");
	close(fd0);
	close(fd2);
	RL_CHECK(rlc_count_in_file(g_node_log, "carrier leg unavailable") == 1);

	/* Two calls hold both legs; the third is refused by the limit the pool set, at once. */
	for (int i = 0; i < 2; i++) {
		hold[i].scen = "ivr_hold";
		hold[i].port = g_sip_port;
		hold[i].service = DID_MENU;
		pid[i] = siptest_sipp_start(&hold[i]);
	}
	RL_CHECK(wait_log("sip answered", answered + 2, 10));
	refused(DID_MENU, "SIP/2.0 503 Service Unavailable", "17");
	RL_CHECK(rlc_count_in_file(g_node_log, "sip refused reason=full calls=2") == 1);
	RL_CHECK(rlc_count_in_file(g_node_log, "carrier leg unavailable") == 1); /* never tried */
	for (int i = 0; i < 2; i++)
		RL_CHECK(siptest_sipp_wait(&hold[i], pid[i], 30000) == 0);
	RL_CHECK(wait_log("carrier end", 2, 10)); /* both legs back in the pool */
}

static void rejections(struct rlc *c, const char *node_url)
{
	struct siptest_sipp r = {0};
	int ends = rlc_count_in_file(g_node_log, "carrier end");

	refused("+212599999999", "SIP/2.0 404 No such number here", "");
	refused(DID_NOQUEUE, "SIP/2.0 480 Temporarily unavailable", "");
	RL_CHECK(wait_log("carrier end", ends + 1, 10));
	r.local_ip = "127.0.0.2"; /* not on the trunk list */
	RL_CHECK(call(&r, "invite_reject", DID_MENU) == 0);
	RL_CHECK(siptest_final(&r, "SIP/2.0 403 Forbidden", ""));
	memset(&r, 0, sizeof(r));
	r.keys[0] = "c_type", r.keys[1] = "IP4", r.keys[2] = "c_addr", r.keys[3] = "224.0.0.1";
	RL_CHECK(call(&r, "invite_addr", DID_MENU) == 0);
	RL_CHECK(siptest_final(&r, "SIP/2.0 488 Not Acceptable Here", ""));
	RL_CHECK(rlc_count_in_file(g_node_log, "sip refused reason=bad_addr") == 1);
	RL_CHECK(rlc_ctl(c, node_url, "drain on", NULL) == 0);
	refused(DID_MENU, "SIP/2.0 503 Service Unavailable", "17");
	RL_CHECK(rlc_ctl(c, node_url, "drain off", NULL) == 0);
}

/* An IVR call with keys in INFO (and RFC 4733): it must land in queue q, its digits heard
 * `pressed` times, and its leg must count dup digits paired. */
static void ivr_call(const char *scen, const char *q, int pressed, long dup)
{
	struct siptest_sipp r = {0};
	char queued[96];
	int ends = rlc_count_in_file(g_node_log, "carrier end"),
	    before = rlc_count_in_file(g_node_log, "caller pressed");

	snprintf(queued, sizeof(queued), "did=%s queue=%s", DID_MENU, q);
	int in_q = rlc_count_in_file(g_node_log, queued);
	RL_CHECK(call(&r, scen, DID_MENU) == 0); /* every INFO got its 200 */
	RL_CHECK(wait_log("carrier end", ends + 1, 10));
	RL_CHECK(rlc_count_in_file(g_node_log, queued) == in_q + 1);
	RL_CHECK(rlc_count_in_file(g_node_log, "caller pressed") == before + pressed);
	RL_CHECK(rlc_log_field(g_node_log, "carrier end", "dtmf_dup") == dup);
}

int main(void)
{
	struct rlc c;
	char prompt[600];
	int rtp_min = 0;

	siptest_init("trunk_edge");
	rlc_init(&c, "trunk_edge", 1);
	c.media = 1;
	snprintf(c.top_extra, sizeof(c.top_extra), "media = { relay_listen = \"127.0.0.1:%d\"; };", rltest_free_port());
	config_checks(&c);

	/* The menus' prompt: one second of speech-like sound. */
	snprintf(prompt, sizeof(prompt), "%s", rlc_path(&c, "menu.wav"));
	{
		struct rl_audio_src *g;
		int16_t pcm[16000];
		RL_REQUIRE(rl_audio_gen_src(&g, 16000, 5, 1) == RL_OK);
		g->read(g, pcm, 16000);
		g->close(g);
		RL_REQUIRE(rl_audio_write_wav(prompt, pcm, 16000, 16000) == RL_OK);
	}
	const char *qs[] = {"telco.tech", "telco.one", "telco.nine", "telco.default"};
	for (int i = 0; i < 4; i++) {
		char q[200];
		snprintf(q, sizeof(q), "{ id = \"%s\"; tenant = \"telco\"; skills = { x = 1; }; wrapup_s = 1; }",
		         qs[i]);
		rlc_queue(&c, q);
	}
	rlc_start_hub(&c);

	/* Four ports, two even ones free now: a pool of two carrier legs. */
	for (int i = 0; i < 50 && rtp_min == 0; i++) {
		int p = rltest_free_port() & ~1, a = udp_on(p), b = udp_on(p + 2);
		if (a >= 0 && b >= 0)
			rtp_min = p;
		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
	}
	RL_REQUIRE(rtp_min > 0);
	g_sip_port = rltest_free_port();
	snprintf(
	    c.node_extra, sizeof(c.node_extra),
	    "sip = {\n"
	    "  listen = \"127.0.0.1:%d\"; media_ip = \"127.0.0.1\"; trunks = [ \"127.0.0.1\" ]; retry_after_s = 17;\n"
	    "  rtp_min = %d; rtp_max = %d; max_media_load = 0;\n"
	    "  dids = ( { did = \"" DID_MENU "\"; tenant = \"telco\"; menu = \"main\"; },\n"
	    "           { did = \"" DID_NOQUEUE "\"; tenant = \"telco\"; queue = \"telco.ghost\"; } );\n"
	    "  menus = ( { id = \"main\"; prompt = \"%s\"; timeout_s = 8; tries = 2; default_queue = \"telco.default\";\n"
	    "              options = ( { digit = \"2\"; queue = \"telco.tech\"; },\n"
	    "                          { digit = \"9\"; menu = \"sub\"; } ); },\n"
	    "            { id = \"sub\"; prompt = \"%s\"; timeout_s = 8; tries = 2; default_queue = \"telco.default\";\n"
	    "              options = ( { digit = \"1\"; queue = \"telco.one\"; },\n"
	    "                          { digit = \"9\"; queue = \"telco.nine\"; } ); } );\n"
	    "};\n",
	    g_sip_port, rtp_min, rtp_min + 3, prompt, prompt);
	const char *url = rlc_start_node(&c, "casablanca", NULL, NULL);
	char node_url[128];
	snprintf(node_url, sizeof(node_url), "%s", url);
	snprintf(g_node_log, sizeof(g_node_log), "%s", rlc_path(&c, "node-casablanca.log"));
	RL_REQUIRE(wait_log("hub link ready", 1, 20));
	RL_CHECK(rlc_count_in_file(g_node_log, "sip max_calls lowered from=1024 to=2") == 1);

	port_pool(rtp_min);
	rejections(&c, node_url);
	ivr_call("ivr_info_relay", "telco.tech", 1, 0);
	ivr_call("ivr_info_plain", "telco.one", 2, 0);
	ivr_call("ivr_info_both", "telco.one", 2, 1);
	RL_CHECK(rlc_count_in_file(g_node_log, "queue=telco.nine") == 0);

	rlc_stop_all(&c);
	const char *logs[] = {"hub.log", "node-casablanca.log"};
	for (int i = 0; i < 2; i++) {
		RL_CHECK(rlc_count_in_file(rlc_path(&c, logs[i]), "Sanitizer") == 0);
		RL_CHECK(rlc_count_in_file(rlc_path(&c, logs[i]), "runtime error") == 0);
	}
	RL_CHECK(rlc_count_in_file(g_node_log, "no_media_port=1") == 1); /* the source's counter */
	return rltest_done();
}
