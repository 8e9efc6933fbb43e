/*
 * relais-agent - the agent's client.
 *
 *   relais-agent --connect URL --agent ID [--secret-file F] [--ca F --cert F --key F]
 *                [--tui | --script SPEC] [--duration S] [--seed N] [--log-level L]
 *   relais-agent --connect URL --agents a1001-a1020|a1,a2 --secret-dir D --script SPEC ...
 *
 * URL is the hub (home agent) or the agent's site node (seated agent); a seated agent lists
 * its node first and the hub after it, "--connect NODE_URL,HUB_URL": when its node stops
 * answering (RL_LINK_DEAD_MS), the session moves to the hub and resumes there, and stays
 * there (docs/architecture.md). The secret comes from --secret-file, --secret-dir
 * D/<id>.secret, or RELAIS_AGENT_SECRET; never argv.
 * SPEC: answer=2,talk=30,wrap=10,reject=0.05,break=0.02[,breaklen=10] (seconds, probabilities).
 *
 * Audio: the terminal UI uses the sound card; scripted agents speak with a speech-like
 * generator and play nowhere. --audio-in F.wav is spoken instead, --audio-out F.wav records
 * what the caller says ("%c" in the name = contact id, "%a" = agent id), --no-audio turns
 * the voice path off, --sound-card / --device D select ALSA. --transfer-targets lists the
 * queues and numbers the [t] menu offers during a call.
 *
 * A supervisor runs it as an operator, to listen to, whisper to or barge into an agent's call
 * (supervise.h; docs/supervision.md):
 *   relais-agent --connect HUB_URL --operator ID --operator-key F --monitor AGENT
 *                [--mode listen|whisper|barge | --monitor-script listen:3,whisper:3,barge:3]
 * keys l, w, b change the mode, q leaves; it exits when the call ends.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_media.h"
#include "rl_secret.h"
#include "rl_time.h"
#include "supervise.h"
#include "tui.h"

#define MAX_AGENTS 200
enum { TAG_KEY = 1000, TAG_STOP = 1001 };

static struct rl_loop *g_loop;

/* parse_ids expands "a1,a2" and "a1001-a1020" (same prefix, numeric suffix) into ids. */
static int parse_ids(const char *spec, char ids[][RL_WIRE_MAX_ID + 1], int max)
{
	char buf[4096], *save = NULL;
	int n = 0;

	if (strlen(spec) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		if (dash != NULL) {
			*dash = 0;
			char *hi = dash + 1;
			size_t pl = strcspn(tok, "0123456789");
			if (strncmp(tok, hi, pl) != 0 || !tok[pl] || !hi[pl])
				return -1;
			long a = strtol(tok + pl, NULL, 10), b = strtol(hi + pl, NULL, 10);
			int width = (int)strlen(tok + pl);
			if (b < a || b - a > max)
				return -1;
			for (long i = a; i <= b; i++) {
				if (n == max)
					return -1;
				snprintf(ids[n++], RL_WIRE_MAX_ID + 1, "%.*s%0*ld", (int)pl, tok, width, i);
			}
		} else {
			if (n == max || !rl_wire_id_ok(tok))
				return -1;
			snprintf(ids[n++], RL_WIRE_MAX_ID + 1, "%s", tok);
		}
	}
	return n;
}

/* pump waits up to 50 ms for the loop and hands each agent its messages. keys: apply the
 * person's keys (to the first agent) and heed SIGINT/SIGTERM; returns 1 when they ask to stop.
 * Without keys (leaving) both are dropped. */
static int pump(struct rl_agent_sess *agents, int n, int keys)
{
	struct rl_loop_event evs[64];
	int k = rl_loop_wait(g_loop, 50, evs, 64), stop = 0;

	for (int i = 0; i < k; i++) {
		if (evs[i].kind == RL_LOOP_MSG && evs[i].src >= 0 && evs[i].src < n)
			rl_agent_input(&agents[evs[i].src], evs[i].msg);
		else if (evs[i].kind == RL_LOOP_MSG)
			nng_msg_free(evs[i].msg);
		else if (keys && evs[i].src == TAG_STOP)
			stop = 1;
		else if (keys && evs[i].src == TAG_KEY && rl_tui_key(&agents[0], (int)(uintptr_t)evs[i].ptr))
			stop = 1;
	}
	return stop;
}

/* supervise runs the supervisor's session (--monitor) and returns the exit code. */
static int supervise(struct rl_supervise_conf *sc, struct rl_phone_conf *phone, int no_audio, int sound_card)
{
	struct rl_media *media = NULL;
	int rv;

	sc->keys = sc->nsteps == 0 && isatty(0); /* a person at a terminal: keys, and the sound card */
	if (!no_audio) {
		if ((rv = rl_media_open(&media, NULL, 1)) != RL_OK) {
			fprintf(stderr, "relais-agent: cannot start audio: %s\n", rl_strerror(rv));
			return 1;
		}
		phone->media = media;
		phone->sound_card = sound_card >= 0 ? sound_card : sc->keys;
		sc->phone = phone;
	}
	if (rl_loop_create(&g_loop) != RL_OK || rl_loop_catch_signals(g_loop, TAG_STOP) != RL_OK ||
	    (sc->keys && rl_tui_start(g_loop, TAG_KEY) != RL_OK))
		return 1;
	if (sc->keys)
		printf("Listening to %s's call as %s: l listen, w whisper, b barge, q leave\r\n", sc->agent, sc->op);
	rv = rl_supervise_run(sc, g_loop, TAG_KEY, TAG_STOP);
	if (sc->keys)
		rl_tui_stop();
	rl_loop_destroy(g_loop);
	rl_media_close(media);
	return rv;
}

static int usage(void)
{
	fprintf(
	    stderr,
	    "usage: relais-agent --connect URL[,URL...] (--agent ID | --agents LIST) [--secret-file F | --secret-dir D]\n"
	    "                    [--ca F --cert F --key F] [--tui | --script SPEC] [--duration S] [--seed N]\n"
	    "                    [--audio-in F.wav] [--audio-out F.wav] [--sound-card] [--device D] [--no-audio]\n"
	    "                    [--transfer-targets QUEUE,+NUMBER,...]\n"
	    "       relais-agent --connect HUB_URL --operator ID --operator-key F --monitor AGENT\n"
	    "                    [--mode listen|whisper|barge | --monitor-script MODE:SECONDS,...] [audio options]\n"
	    "  --connect NODE,HUB: the agent's node first, then the hub, where the session moves if the node\n"
	    "  stops answering\n");
	return 2;
}

int main(int argc, char **argv)
{
	static char ids[MAX_AGENTS][RL_WIRE_MAX_ID + 1];
	static struct rl_agent_sess agents[MAX_AGENTS];
	const char *url = NULL, *one = NULL, *many = NULL, *secret_file = NULL, *secret_dir = NULL, *spec = NULL;
	struct rl_tls tls = {0};
	struct rl_script script;
	int tui = 0, n = 0, duration = 0, rv, exit_code = 0, no_audio = 0, sound_card = -1;
	struct rl_phone_conf phone = {0};
	struct rl_supervise_conf sup = {.mode = RELAIS__MONITOR_MODE__MONITOR_LISTEN, .tls = &tls};
	struct rl_media *media = NULL;
	unsigned long long seed = 0;

	rl_signals_block(); /* before any thread exists */
	rl_log_init("relais-agent", RL_LOG_WARNING);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--tui") == 0) {
			tui = 1;
			continue;
		}
		if (strcmp(a, "--no-audio") == 0) {
			no_audio = 1;
			continue;
		}
		if (strcmp(a, "--sound-card") == 0) {
			sound_card = 1;
			continue;
		}
		if (i + 1 >= argc)
			return usage();
		const char *v = argv[++i];
		if (strcmp(a, "--connect") == 0)
			url = v;
		else if (strcmp(a, "--agent") == 0)
			one = v;
		else if (strcmp(a, "--agents") == 0)
			many = v;
		else if (strcmp(a, "--secret-file") == 0)
			secret_file = v;
		else if (strcmp(a, "--secret-dir") == 0)
			secret_dir = v;
		else if (strcmp(a, "--ca") == 0)
			tls.ca_file = v;
		else if (strcmp(a, "--cert") == 0)
			tls.cert_file = v;
		else if (strcmp(a, "--key") == 0)
			tls.key_file = v;
		else if (strcmp(a, "--server-name") == 0)
			tls.server_name = v;
		else if (strcmp(a, "--script") == 0)
			spec = v;
		else if (strcmp(a, "--audio-in") == 0)
			phone.audio_in = v;
		else if (strcmp(a, "--audio-out") == 0)
			phone.audio_out = v;
		else if (strcmp(a, "--device") == 0)
			phone.device = v;
		else if (strcmp(a, "--transfer-targets") == 0) {
			if (rl_tui_set_targets(v) != RL_OK)
				return usage();
		} else if (strcmp(a, "--duration") == 0)
			duration = atoi(v);
		else if (strcmp(a, "--seed") == 0)
			seed = strtoull(v, NULL, 10);
		else if (strcmp(a, "--log-level") == 0)
			rl_log_init("relais-agent", rl_log_parse_level(v));
		else if (strcmp(a, "--operator") == 0)
			sup.op = v;
		else if (strcmp(a, "--operator-key") == 0)
			sup.key_file = v;
		else if (strcmp(a, "--monitor") == 0)
			sup.agent = v;
		else if (strcmp(a, "--mode") == 0 && rl_supervise_mode_parse(v) > 0)
			sup.mode = (Relais__MonitorMode)rl_supervise_mode_parse(v);
		else if (strcmp(a, "--monitor-script") == 0 && rl_supervise_script_parse(v, &sup) == RL_OK)
			continue;
		else
			return usage();
	}
	if (sup.agent != NULL || sup.op != NULL) {
		if (url == NULL || sup.agent == NULL || sup.op == NULL || sup.key_file == NULL ||
		    !rl_wire_id_ok(sup.agent))
			return usage();
		sup.url = url;
		return supervise(&sup, &phone, no_audio, sound_card);
	}
	if (url == NULL || (one == NULL) == (many == NULL))
		return usage();
	if (spec != NULL && rl_script_parse(spec, &script) != RL_OK) {
		fprintf(stderr, "relais-agent: bad --script (e.g. answer=2,talk=30,wrap=10,reject=0.05,break=0.02)\n");
		return 2;
	}
	if (spec == NULL && many != NULL) {
		fprintf(stderr, "relais-agent: several agents need --script\n");
		return 2;
	}
	if (one != NULL) {
		if (!rl_wire_id_ok(one))
			return usage();
		snprintf(ids[0], sizeof(ids[0]), "%s", one);
		n = 1;
	} else if ((n = parse_ids(many, ids, MAX_AGENTS)) <= 0) {
		fprintf(stderr, "relais-agent: bad --agents list\n");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		char path[1200];
		const char *f = secret_file;
		if (secret_dir != NULL) {
			snprintf(path, sizeof(path), "%.1000s/%.64s.secret", secret_dir, ids[i]);
			f = path;
		}
		snprintf(agents[i].id, sizeof(agents[i].id), "%.64s", ids[i]);
		rv = rl_secret_read(f, "RELAIS_AGENT_SECRET", agents[i].secret, sizeof(agents[i].secret));
		if (rv != RL_OK) {
			fprintf(
			    stderr,
			    "relais-agent: no secret for %s (%s): use --secret-file, --secret-dir or RELAIS_AGENT_SECRET\n",
			    ids[i], rl_strerror(rv));
			return 2;
		}
		agents[i].script = spec ? &script : NULL;
		agents[i].out = spec ? stdout : NULL;
		agents[i].rng = seed ? seed * 1000003ULL + (unsigned long long)i + 1 : 0;
	}
	if (spec == NULL)
		tui = 1;
	if (!no_audio) {
		/* One media engine (one thread) carries the calls of every agent of this process. */
		if ((rv = rl_media_open(&media, NULL, 1)) != RL_OK) {
			fprintf(stderr, "relais-agent: cannot start audio: %s\n", rl_strerror(rv));
			return 1;
		}
		phone.media = media;
		phone.sound_card = sound_card >= 0 ? sound_card : tui;
		phone.report_s = 5;
		for (int i = 0; i < n; i++)
			agents[i].phone = &phone;
	}

	if (rl_loop_create(&g_loop) != RL_OK || rl_loop_catch_signals(g_loop, TAG_STOP) != RL_OK)
		return 1;
	for (int i = 0; i < n; i++) {
		if (rl_agent_open(&agents[i], url, &tls, g_loop, i) != RL_OK) {
			fprintf(stderr, "relais-agent: cannot dial %s\n", url);
			return 1;
		}
	}
	if (tui && rl_tui_start(g_loop, TAG_KEY) != RL_OK)
		return 1;

	uint64_t end = duration > 0 ? rl_mono_us() + (uint64_t)duration * 1000000u : UINT64_MAX;
	uint64_t last_draw = 0;
	int stop = 0;
	while (!stop && rl_mono_us() < end) {
		stop = pump(agents, n, 1);
		for (int i = 0; i < n; i++)
			rl_agent_tick(&agents[i]);
		if (!tui && n == 1 && agents[0].refused && agents[0].script == NULL) {
			exit_code = 2;
			break;
		}
		if (tui && rl_mono_us() - last_draw > 250000u) {
			last_draw = rl_mono_us();
			rl_tui_draw(&agents[0], rl_client_url(agents[0].cl));
		}
		if (tui && agents[0].refused) {
			rl_tui_draw(&agents[0], rl_client_url(agents[0].cl));
			exit_code = 2;
			break;
		}
	}
	if (tui)
		rl_tui_stop();
	/* Log out cleanly (best effort, one second): the hub frees the agents' seats now
	 * rather than after the grace period. An agent on a call stays until it ends. */
	int pending = 0;
	for (int i = 0; i < n; i++) {
		if (agents[i].session && agents[i].state != RELAIS__AGENT_STATE__AGENT_BUSY) {
			rl_agent_set_state(&agents[i], RELAIS__AGENT_STATE__AGENT_LOGGED_OUT, "logout");
			pending++;
		}
		agents[i].stopped = 1; /* leaving: no new login, no script moves */
	}
	for (uint64_t until = rl_mono_us() + 1000000u; pending && rl_mono_us() < until;) {
		pump(agents, n, 0);
		pending = 0;
		for (int i = 0; i < n; i++) {
			rl_agent_tick(&agents[i]);
			pending += agents[i].session != 0 && rl_client_pending(agents[i].cl) > 0;
		}
	}
	rl_exit_watchdog(5, exit_code);
	for (int i = 0; i < n; i++)
		rl_phone_end(&agents[i]); /* final quality reports, while the links are up */
	if (media != NULL && spec != NULL) {
		struct rl_media_counters mc;
		rl_media_counters(media, &mc);
		printf(
		    "agent=%s event=media_counters rx=%llu auth_fail=%llu replay=%llu malformed=%llu unknown_ssrc=%llu "
		    "bad_rtp=%llu sent=%llu send_fail=%llu late_ticks=%llu\n",
		    agents[0].id, (unsigned long long)mc.rx, (unsigned long long)mc.auth_fail,
		    (unsigned long long)mc.replay, (unsigned long long)mc.malformed,
		    (unsigned long long)mc.unknown_ssrc, (unsigned long long)mc.bad_rtp, (unsigned long long)mc.sent,
		    (unsigned long long)mc.send_fail, (unsigned long long)mc.late_ticks);
		fflush(stdout);
	}
	rl_loop_destroy(g_loop);
	for (int i = 0; i < n; i++)
		rl_agent_close(&agents[i]);
	rl_media_close(media);
	return exit_code;
}
