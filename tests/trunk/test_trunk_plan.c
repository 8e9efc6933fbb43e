/*
 * The dial plan held at the hub, with real processes and a real carrier (sipp): two site
 * nodes whose own configs name no number get the hub's plan when they register, and either
 * takes a call to any number of it:
 *
 *   1. a call to casablanca's number arrives at fes (as an SBC sends it when casablanca is
 *      down): queued there, answered by casablanca's seated agent (media through the relay);
 *   2. a number with an IVR menu at casablanca: the hub's prompt name is played from the
 *      node's prompt_dir, the caller presses 2 and lands in the menu's queue;
 *   3. fes restarts while the hub is down: it knows the plan from the copy it saved.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rl_audio.h"
#include "rl_err.h"
#include "rlcluster.h"
#include "rltest.h"

/* wait_log waits up to seconds for needle in the log name (at least n times). */
static int wait_log(struct rlc *c, const char *name, const char *needle, int n, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		if (rlc_count_in_file(rlc_path(c, name), needle) >= n)
			return 1;
		rltest_sleep_ms(100);
	}
	return 0;
}

static void write_prompt(const char *path)
{
	struct rl_audio_src *g;
	int16_t pcm[16000];

	RL_REQUIRE(rl_audio_gen_src(&g, 16000, 5, 1) == RL_OK);
	g->read(g, pcm, 16000);
	g->close(g);
	RL_REQUIRE(rl_audio_write_wav(path, pcm, 16000, 16000) == RL_OK);
}

/* sip_node starts site's node with SIP on its own port and no numbers of its own (rlcluster
 * gives each node a state directory); returns its SIP port. */
static int sip_node(struct rlc *c, const char *site, const char *prompts, char *url, size_t len, pid_t *pid)
{
	int port = rltest_free_port();

	snprintf(c->node_extra, sizeof(c->node_extra),
	         "sip = { listen = \"127.0.0.1:%d\"; media_ip = \"127.0.0.1\"; trunks = [ \"127.0.0.1\" ];\n"
	         "        prompt_dir = \"%s\"; };\n",
	         port, prompts);
	snprintf(url, len, "%s", rlc_start_node(c, site, NULL, pid));
	return port;
}

int main(void)
{
	struct rlc c;
	char prompts[700], path[800], casa_url[128], fes_url[128];
	pid_t fes;
	int casa_port, fes_port;

	rlc_init(&c, "trunkplan", 1);
	c.media = 1;
	snprintf(prompts, sizeof(prompts), "%s/prompts", c.dir);
	RL_REQUIRE(mkdir(prompts, 0700) == 0);
	snprintf(path, sizeof(path), "%s/menu.wav", prompts);
	write_prompt(path);
	snprintf(
	    c.top_extra, sizeof(c.top_extra),
	    "media = { relay_listen = \"127.0.0.1:%d\"; };\n"
	    "dial_plan = {\n"
	    "  dids = ( { did = \"+212522000100\"; tenant = \"telco\"; queue = \"telco.billing\"; },\n"
	    "           { did = \"+212522000200\"; tenant = \"telco\"; menu = \"main\"; } );\n"
	    "  menus = ( { id = \"main\"; prompt = \"menu.wav\"; timeout_s = 8; tries = 2;\n"
	    "              default_queue = \"telco.billing\";\n"
	    "              options = ( { digit = \"2\"; queue = \"telco.tech\"; key = \"topic\"; value = \"tech\"; } );"
	    " } );\n"
	    "};\n",
	    rltest_free_port());
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; wrapup_s = 1; }");
	rlc_queue(&c, "{ id = \"telco.tech\"; tenant = \"telco\"; skills = { tech = 1; }; wrapup_s = 1; }");
	rlc_agent(&c, "a1", "telco", "billing = 5; tech = 5;", "casablanca");
	rlc_start_hub(&c);
	RL_CHECK(wait_log(&c, "hub.log", "dial plan version=", 1, 5));

	casa_port = sip_node(&c, "casablanca", prompts, casa_url, sizeof(casa_url), NULL);
	fes_port = sip_node(&c, "fes", prompts, fes_url, sizeof(fes_url), &fes);
	RL_CHECK(wait_log(&c, "node-casablanca.log", "dial plan in force from=hub", 1, 10));
	RL_CHECK(wait_log(&c, "node-fes.log", "dial plan in force from=hub", 1, 10));
	rlc_start_agents(&c, casa_url, "a1", "answer=0.3,talk=2,wrap=0.5,fixed=1", "agents.log");
	RL_CHECK(wait_log(&c, "agents.log", "state=READY", 1, 10));

	/* 1. Casablanca's number, at fes. */
	RL_CHECK(rlc_sipp_call(&c, "tests/trunk/scenarios", "call_audio", fes_port, "+212522000100") == 0);
	RL_CHECK(rlc_wait_answered(&c, "telco.billing", 1, 10));
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-fes.log"), "carrier end") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agents.log"), "event=offer") == 1);

	/* 2. The hub's menu at casablanca: its prompt, from the node's prompt_dir. */
	RL_CHECK(rlc_sipp_call(&c, "tests/trunk/scenarios", "ivr_dtmf", casa_port, "+212522000200") == 0);
	RL_CHECK(rlc_wait_answered(&c, "telco.tech", 1, 10));
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "caller pressed") >= 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "prompt unavailable") == 0);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agents.log"), "topic") >= 1);

	/* 3. Fes starts again while the hub is down: the saved copy. */
	rlc_stop_hub(&c, SIGTERM);
	for (int i = 0; i < c.nprocs; i++)
		if (c.procs[i] == fes)
			c.procs[i] = c.procs[--c.nprocs];
	rltest_stop(fes, SIGTERM, 5000);
	sip_node(&c, "fes", prompts, fes_url, sizeof(fes_url), NULL);
	RL_CHECK(wait_log(&c, "node-fes.log", "dial plan in force from=saved", 1, 10));

	rlc_stop_all(&c);
	return rltest_done();
}
