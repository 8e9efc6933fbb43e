/*
 * Carrier calls end to end with a real SIP peer (sipp): hub, a site node with a SIP trunk,
 * seated agents. Every call is checked where it lands: the hub's queue counters, the agents'
 * offers and recorded audio, the node's carrier leg.
 *
 *   1. a call to a DID without menu rings until an agent answers; G.711 audio from a pcap
 *      reaches the agent, the agent's voice reaches the carrier; the agent hangs up (BYE);
 *   2. a DID with a menu: the caller presses 2 (RFC 4733) and lands in the tech queue with
 *      the IVR's answer as screen-pop data;
 *   3. the caller presses 3 (a queue nobody staffs) and hangs up while queued: abandoned;
 *   4. the caller cancels while an agent's phone rings: abandoned, the offer withdrawn;
 *   5. the site drains: 503 with Retry-After; after `drain off` calls are taken again.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rl_audio.h"
#include "rl_err.h"
#include "rlcluster.h"
#include "rltest.h"

#define TOKEN        "relais-test-scrape-token" /* its SHA-256 below */
#define TOKEN_SHA256 "0a5b1abadc500fc6915c9308d01151d3dc77f28a2cc7af84cda4ba514e7b67d1"

static int g_sip_port;

/* sipp runs one call of scenario against the node; returns its exit status (0 = passed). */
static int sipp(struct rlc *c, const char *scenario, const char *did)
{
	return rlc_sipp_call(c, "tests/trunk/scenarios", scenario, g_sip_port, did);
}

static int wait_q(struct rlc *c, const char *q, const char *field, double want, int seconds)
{
	for (int i = 0; i < seconds * 5; i++) {
		if (rlc_qnum(c, q, field) >= want)
			return 1;
		rltest_sleep_ms(200);
	}
	return 0;
}

int main(void)
{
	struct rlc c;
	char prompt[600], heard[700];

	rlc_init(&c, "trunk", 1);
	c.media = 1;
	snprintf(c.top_extra, sizeof(c.top_extra), "media = { relay_listen = \"127.0.0.1:%d\"; };", rltest_free_port());
	/* The IVR prompt: one second of speech-like sound. */
	snprintf(prompt, sizeof(prompt), "%s", rlc_path(&c, "menu.wav"));
	{
		struct rl_audio_src *g;
		int16_t pcm[16000];
		RL_REQUIRE(rl_audio_gen_src(&g, 16000, 5, 1) == RL_OK);
		g->read(g, pcm, 16000);
		g->close(g);
		RL_REQUIRE(rl_audio_write_wav(prompt, pcm, 16000, 16000) == RL_OK);
	}
	/* The announcement prompt set: short tones are enough (what is said is in the node's log). */
	char prompts[700];
	snprintf(prompts, sizeof(prompts), "%s/prompts", c.dir);
	RL_REQUIRE(mkdir(prompts, 0700) == 0);
	{
		const char *names[] = {"queue-position", "queue-wait", "queue-wait-short", "minutes", "1", "2", "3"};
		int16_t tone[4800];
		for (int i = 0; i < 4800; i++)
			tone[i] = (int16_t)(6000 * sin(2 * M_PI * 440 * i / 16000.0));
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			char path[800];
			snprintf(path, sizeof(path), "%s/%s.wav", prompts, names[i]);
			RL_REQUIRE(rl_audio_write_wav(path, tone, 4800, 16000) == RL_OK);
		}
	}
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; wrapup_s = 1; }");
	rlc_queue(&c, "{ id = \"telco.tech\"; tenant = \"telco\"; skills = { tech = 1; }; wrapup_s = 1; }");
	rlc_queue(&c, "{ id = \"telco.empty\"; tenant = \"telco\"; skills = { nobody = 1; }; wrapup_s = 1; }");
	rlc_queue(
	    &c,
	    "{ id = \"telco.slow\"; tenant = \"telco\"; skills = { slow = 1; }; wrapup_s = 1; offer_timeout_s = 20; }");
	rlc_agent(&c, "a1", "telco", "billing = 5;", "casablanca");
	rlc_agent(&c, "a2", "telco", "tech = 5;", "casablanca");
	rlc_agent(&c, "a3", "telco", "slow = 5;", "casablanca");
	rlc_queue(&c, "{ id = \"telco.partner\"; tenant = \"telco\"; skills = { partner = 1; }; wrapup_s = 1; }");
	rlc_agent(&c, "a4", "telco", "partner = 5;", "casablanca");
	int hub_metrics = rltest_free_port();
	snprintf(c.hub_extra, sizeof(c.hub_extra),
	         "  metrics_listen = \"http://127.0.0.1:%d\";\n  metrics_token_sha256 = \"%s\";\n", hub_metrics,
	         TOKEN_SHA256);
	rlc_start_hub(&c);

	g_sip_port = rltest_free_port();
	snprintf(
	    c.node_extra, sizeof(c.node_extra),
	    "sip = {\n"
	    "  listen = \"127.0.0.1:%d\"; media_ip = \"127.0.0.1\"; trunks = [ \"127.0.0.1\" ]; retry_after_s = 17;\n"
	    "  announce_dir = \"%s\"; announce_first_s = 1; announce_every_s = 1; hold_music = \"%s\";\n"
	    "  dids = ( { did = \"+212522000100\"; tenant = \"telco\"; queue = \"telco.billing\"; },\n"
	    "           { did = \"+212522000200\"; tenant = \"telco\"; menu = \"main\"; },\n"
	    "           { did = \"+212522000300\"; tenant = \"telco\"; queue = \"telco.slow\"; },\n"
	    "           { did = \"+212522000400\"; tenant = \"telco\"; queue = \"telco.empty\"; early_media = true; },\n"
	    "           { did = \"+212522000500\"; tenant = \"telco\"; queue = \"telco.partner\"; } );\n"
	    "  menus = ( { id = \"main\"; prompt = \"%s\"; timeout_s = 8; tries = 2; default_queue = \"telco.billing\";\n"
	    "              options = ( { digit = \"2\"; queue = \"telco.tech\"; key = \"topic\"; value = \"tech\"; },\n"
	    "                          { digit = \"3\"; queue = \"telco.empty\"; } ); } );\n"
	    "};\n",
	    g_sip_port, prompts, prompt, prompt);
	int metrics_port = rltest_free_port();
	snprintf(c.node_opts, sizeof(c.node_opts),
	         "  metrics_listen = \"http://127.0.0.1:%d\";\n"
	         "  metrics_token_sha256 = \"%s\";\n",
	         metrics_port, TOKEN_SHA256);
	const char *casa = rlc_start_node(&c, "casablanca", NULL, NULL);
	char casa_url[128];
	snprintf(casa_url, sizeof(casa_url), "%s", casa);
	snprintf(c.agent_extra, sizeof(c.agent_extra), "--audio-out %s/heard-%%a-%%c.wav", c.dir);
	rlc_start_agents(&c, casa_url, "a1,a2", "answer=0.3,talk=6,wrap=0.5,fixed=1", "agents.log");
	rlc_start_agents(&c, casa_url, "a3", "answer=8,talk=3,wrap=0.5,fixed=1", "agent-a3.log");
	rlc_start_agents(&c, casa_url, "a4", "answer=0.3,talk=1,wrap=0.5,fixed=1,xfer_number=+33140000000",
	                 "agent-a4.log");
	/* The node takes SIP calls and every agent is READY at the hub. */
	RL_WAIT_REQUIRE(30000, rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "sip listening addr=") >= 1);
	RL_WAIT_REQUIRE(30000, rlc_agents_in(&c, "a1,a2,a3,a4", "READY"));

	/* 1. Ringing, then audio both ways; the agent hangs up. */
	RL_CHECK(sipp(&c, "call_audio", "+212522000100") == 0);
	RL_CHECK(wait_q(&c, "telco.billing", "answered", 1, 10));
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agents.log"), "event=media_end") >= 1);
	rlc_find_file(&c, "heard-a1-*.wav", heard, sizeof(heard));
	double v = rlc_voiced(heard, 300);
	printf("caller audio at the agent: %.0f %% of 100 ms windows voiced (%s)\n", v * 100, heard);
	RL_CHECK(v >= 0.3);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "carrier end") >= 1);
	{
		/* The agent's voice went to the carrier: the leg sent RTP for the call's length. */
		const char *node = rlc_path(&c, "node-casablanca.log");
		long sent = rlc_log_field(node, "carrier end", "sent"),
		     audio = rlc_log_field(node, "carrier end", "audio");
		printf("carrier leg: %ld RTP packets sent, %ld audio packets received\n", sent, audio);
		RL_CHECK(sent >= 200);  /* 6 s of talk at 50 packets/s, with margin */
		RL_CHECK(audio >= 100); /* the pcap's packets */
	}

	/* 2. IVR: 2 -> telco.tech, with the answer on the agent's screen. */
	RL_CHECK(sipp(&c, "ivr_dtmf", "+212522000200") == 0);
	RL_CHECK(wait_q(&c, "telco.tech", "answered", 1, 10));
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agents.log"), "queue=telco.tech") >= 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "caller pressed") >= 1);

	/* 3. Abandon while queued, after hearing its position (nobody staffs that queue: no
	 * estimate of the wait is given). */
	RL_CHECK(sipp(&c, "abandon_queued", "+212522000200") == 0);
	RL_CHECK(wait_q(&c, "telco.empty", "abandoned", 1, 10));
	RL_CHECK(rlc_qnum(&c, "telco.empty", "waiting") == 0);
	int said =
	    rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "position=1 waiting=1 agents=0 ewt_s=unknown");
	printf("announcements to the waiting caller: %d\n", said);
	RL_CHECK(said >= 1);

	/* 3b. Early media: 183 with our SDP, the caller hears the music and its position before
	 * any answer, then gives up (CANCEL): abandoned, and the leg did send audio. */
	RL_CHECK(sipp(&c, "early_cancel", "+212522000400") == 0);
	RL_CHECK(wait_q(&c, "telco.empty", "abandoned", 2, 10));
	{
		/* The carrier end line of that call ("... did=+212522000400 rx=... sent=..."). */
		long sent = rlc_log_field(rlc_path(&c, "node-casablanca.log"), "did=+212522000400 rx=", "sent");
		printf("early media: %ld RTP packets sent before any answer\n", sent);
		RL_CHECK(sent >= 100); /* 4.5 s of music and announcements at 50 packets/s */
	}
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "position=1 waiting=1 agents=0") > said);

	/* 4. CANCEL while the agent's phone rings. */
	RL_CHECK(sipp(&c, "cancel_ringing", "+212522000300") == 0);
	RL_CHECK(wait_q(&c, "telco.slow", "abandoned", 1, 10));
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-a3.log"), "event=offer") >= 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-a3.log"), "event=accept") == 0);

	/* 5. Draining: 503 + Retry-After; then calls again. */
	RL_CHECK(rlc_ctl(&c, casa_url, "drain on", NULL) == 0);
	RL_CHECK(sipp(&c, "draining", "+212522000100") == 0);
	RL_CHECK(rlc_ctl(&c, casa_url, "drain off", NULL) == 0);
	RL_CHECK(sipp(&c, "call_audio", "+212522000100") == 0);
	RL_CHECK(wait_q(&c, "telco.billing", "answered", 2, 10));

	/* 6. External transfer: the agent sends the caller to +33140000000; the carrier takes it
	 * (REFER 202, NOTIFY 200) and hangs up our leg; the agent goes to wrap-up. */
	RL_CHECK(sipp(&c, "xfer_out", "+212522000500") == 0);
	RL_CHECK(wait_q(&c, "telco.partner", "handled", 1, 10));
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-a4.log"), "event=transfer") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-a4.log"), "event=hangup") == 0);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "carrier transfer done") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "hub.log"), "external transfer done") == 1);

	/* 7. The carrier refuses the transfer (403): the agent is told, keeps the caller, hangs up. */
	RL_CHECK(sipp(&c, "xfer_refused", "+212522000500") == 0);
	RL_CHECK(wait_q(&c, "telco.partner", "handled", 2, 10));
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-a4.log"), "transfer to +33140000000 failed: 403") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-a4.log"), "event=hangup") == 1);

	/* Every call is accounted for at the hub: offered = answered + abandoned. */
	cJSON *s = rlc_status(&c);
	double offered = 0, done = 0;
	const char *qs[] = {"telco.billing", "telco.tech", "telco.empty", "telco.slow", "telco.partner"};
	for (int i = 0; i < 5; i++) {
		offered += rlc_queue_num(s, qs[i], "offered");
		done += rlc_queue_num(s, qs[i], "answered") + rlc_queue_num(s, qs[i], "abandoned");
	}
	cJSON_Delete(s);
	printf("hub: %.0f contacts offered, %.0f answered or abandoned\n", offered, done);
	RL_CHECK(offered == 8 && done == 8);

	/* The node's metrics say the same of its trunk (docs/supervision.md). */
	RL_CHECK(rlc_scrape(&c, metrics_port, TOKEN));
	double invites = rlc_sample(&c, "relais_node_sip_invites_total{}");
	double ok200 = rlc_sample(&c, "relais_node_sip_responses_total{code=\"200\"}");
	printf("node metrics: %.0f INVITEs, %.0f answered 200, %.0f carrier calls up, %.0f media threads\n", invites,
	       ok200, rlc_sample(&c, "relais_node_carrier_calls{}"), rlc_sample(&c, "relais_node_media_threads{}"));
	RL_CHECK(invites >= 8 && ok200 >= 1 && ok200 <= invites);
	RL_CHECK(rlc_sample(&c, "relais_node_carrier_answered_total{}") >= 1);
	RL_CHECK(rlc_sample(&c, "relais_node_media_threads{}") >= 1);
	RL_CHECK(rlc_sample(&c, "relais_node_media_load_ratio{}") >= 0);
	/* the ended calls' quality: each answered call that carried audio, in the MOS histogram */
	double mos_n = rlc_sample(&c, "relais_node_call_mos_count{}"),
	       mos_sum = rlc_sample(&c, "relais_node_call_mos_sum{}");
	printf("node metrics: %.0f ended calls' MOS, mean %.2f\n", mos_n, mos_n > 0 ? mos_sum / mos_n : 0);
	RL_CHECK(mos_n >= 1 && mos_sum / mos_n > 3.5);
	/* Every metric the sample Grafana dashboard asks for is served by the hub or a node. */
	char cmd[2048];
	RL_CHECK(rename(rlc_path(&c, "samples.txt"), rlc_path(&c, "samples-node.txt")) == 0);
	RL_CHECK(rlc_scrape(&c, hub_metrics, TOKEN));
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s %s %s", rltest_src("tests/integration/dashboard_check.py"),
	         rltest_src("deploy/grafana/relais-dashboard.json"), rlc_path(&c, "samples.txt"),
	         rlc_path(&c, "samples-node.txt"));
	RL_CHECK(rltest_run(cmd, rlc_path(&c, "dashboard.log")) == 0);

	rlc_stop_all(&c);
	const char *logs[] = {"hub.log", "node-casablanca.log", "agents.log", "agent-a3.log"};
	for (int i = 0; i < 4; i++) {
		RL_CHECK(rlc_count_in_file(rlc_path(&c, logs[i]), "Sanitizer") == 0);
		RL_CHECK(rlc_count_in_file(rlc_path(&c, logs[i]), "runtime error") == 0);
	}
	return rltest_done();
}
