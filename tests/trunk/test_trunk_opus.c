/*
 * A carrier that offers only Opus, end to end with a real SIP peer (sipp): hub, a site node
 * with a SIP trunk, one seated agent who records what she hears.
 *
 * sipp plays RTP only from a capture file, so the test writes one first: six seconds of the
 * speech-like generator, encoded with libopus at 16 kHz in 20 ms packets on the 48 kHz RTP
 * clock, payload type 111 (opus_pcap.c). The scenario (call_opus.xml) offers opus/48000/2 and
 * telephone-event/48000 and nothing else, and checks that the 200's SDP answers Opus on type
 * 111. Then the caller's Opus must reach the agent (her recording is voiced), the agent's
 * voice must go back to the carrier (the leg sent RTP for the call's length), and every Opus
 * packet of the capture must have been taken (none malformed or of the wrong duration).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opus_pcap.h"
#include "rl_audio.h"
#include "rl_err.h"
#include "rlcluster.h"
#include "rltest.h"

#define CALLER_S    6 /* seconds of caller audio in the capture */
#define CALLER_RATE 16000

static int g_sip_port;

/* sipp runs one call of scenario against the node; returns its exit status (0 = passed). */
static int sipp(struct rlc *c, const char *scenario, const char *did)
{
	return rlc_sipp_call(c, "tests/trunk/scenarios", scenario, g_sip_port, did);
}

int main(void)
{
	struct rlc c;
	char pcap[700], heard[700];
	unsigned npkts = 0;

	rlc_init(&c, "trunk-opus", 1);
	c.media = 1;
	snprintf(c.top_extra, sizeof(c.top_extra), "media = { relay_listen = \"127.0.0.1:%d\"; };", rltest_free_port());

	/* The caller's voice, as the carrier will send it. */
	snprintf(pcap, sizeof(pcap), "%s", rlc_path(&c, "caller-opus.pcap"));
	{
		static int16_t pcm[CALLER_RATE * CALLER_S];
		struct rl_audio_src *g;
		RL_REQUIRE(rl_audio_gen_src(&g, CALLER_RATE, 11, CALLER_S) == RL_OK);
		RL_REQUIRE(g->read(g, pcm, sizeof(pcm) / sizeof(pcm[0])) == RL_OK);
		g->close(g);
		RL_REQUIRE(rl_opus_pcap_write(pcap, pcm, sizeof(pcm) / sizeof(pcm[0]), CALLER_RATE, 111, 0x4f505553,
		                              &npkts) == RL_OK);
		printf("capture: %u Opus packets (%s)\n", npkts, pcap);
		RL_REQUIRE(npkts == CALLER_S * 50);
	}

	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; wrapup_s = 1; }");
	rlc_agent(&c, "a1", "telco", "billing = 5;", "casablanca");
	rlc_start_hub(&c);
	g_sip_port = rltest_free_port();
	snprintf(c.node_extra, sizeof(c.node_extra),
	         "sip = {\n"
	         "  listen = \"127.0.0.1:%d\"; media_ip = \"127.0.0.1\"; trunks = [ \"127.0.0.1\" ];\n"
	         "  dids = ( { did = \"+212522000100\"; tenant = \"telco\"; queue = \"telco.billing\"; } );\n"
	         "};\n",
	         g_sip_port);
	const char *url = rlc_start_node(&c, "casablanca", NULL, NULL);
	snprintf(c.agent_extra, sizeof(c.agent_extra), "--audio-out %s/heard-%%a-%%c.wav", c.dir);
	rlc_start_agents(&c, url, "a1", "answer=0.3,talk=6,wrap=0.5,fixed=1", "agents.log");
	/* The node takes SIP calls and every agent is READY at the hub. */
	RL_WAIT_REQUIRE(30000, rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "sip listening addr=") >= 1);
	RL_WAIT_REQUIRE(30000, rlc_agents_in(&c, "a1", "READY"));

	/* The call: Opus answered (the scenario checks the SDP), audio both ways, the agent
	 * hangs up. sipp read the whole capture. */
	RL_CHECK(sipp(&c, "call_opus", "+212522000100") == 0);
	{
		char want[64];
		snprintf(want, sizeof(want), "In pcap caller-opus.pcap, npkts %u", npkts);
		RL_CHECK(rlc_count_in_file(rlc_path(&c, "sipp-call_opus.log"), want) == 1);
	}
	RL_CHECK(rlc_wait_answered(&c, "telco.billing", 1, 10));
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "codec=opus") >= 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "codec=PCM") == 0);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agents.log"), "event=media_end") >= 1);

	/* The caller's Opus reached the agent. */
	rlc_find_file(&c, "heard-a1-*.wav", heard, sizeof(heard));
	double v = rlc_voiced(heard, 300);
	printf("caller audio at the agent: %.0f %% of 100 ms windows voiced (%s)\n", v * 100, heard);
	RL_CHECK(v >= 0.3);

	/* The carrier leg: every packet of the capture taken, the agent's voice sent back. */
	{
		const char *node = rlc_path(&c, "node-casablanca.log");
		long rx = rlc_log_field(node, "carrier end", "rx"), audio = rlc_log_field(node, "carrier end", "audio");
		long sent = rlc_log_field(node, "carrier end", "sent"),
		     malformed = rlc_log_field(node, "carrier end", "malformed");
		long concealed = rlc_log_field(node, "carrier end", "concealed");
		printf("carrier leg: %ld RTP packets sent, %ld received, %ld audio, %ld malformed, %ld concealed\n",
		       sent, rx, audio, malformed, concealed);
		RL_CHECK(sent >= 250);                   /* 6 s of talk at 50 packets/s, with margin */
		RL_CHECK(audio >= (long)npkts * 9 / 10); /* the capture's packets, less any the call ended on */
		RL_CHECK(malformed == 0);
	}

	rlc_stop_all(&c);
	const char *logs[] = {"hub.log", "node-casablanca.log", "agents.log"};
	for (int i = 0; i < 3; i++) {
		RL_CHECK(rlc_count_in_file(rlc_path(&c, logs[i]), "Sanitizer") == 0);
		RL_CHECK(rlc_count_in_file(rlc_path(&c, logs[i]), "runtime error") == 0);
	}
	return rltest_done();
}
