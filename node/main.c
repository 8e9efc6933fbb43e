/*
 * relais-node: a site. Relays its seated agents to the hub over one link, and brings the
 * site's contacts (relaisctl through the node, the demo generator; SIP trunks next).
 *
 *   relais-node -c node.conf [--log-level LEVEL] [--seed N]
 */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node.h"
#include "rl_config.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_time.h"
#include "source_gen.h"

enum { TAG_STOP = 100 };

struct node_settings {
	char site_id[RL_CFG_STRLEN];
	char name[RL_CFG_STRLEN];
	int capacity;
	char hub[RL_CFG_STRLEN];
	char log_level[RL_CFG_STRLEN];
};

static const struct rl_cfg_opt node_opts[] = {
	{"site_id", RL_CFG_STR, 0, 64, NULL, offsetof(struct node_settings, site_id), "site this node serves"},
	{"name", RL_CFG_STR, 0, 256, "", offsetof(struct node_settings, name), "display name"},
	{"capacity", RL_CFG_INT, 0, 100000, "100", offsetof(struct node_settings, capacity), "concurrent calls"},
	{"hub", RL_CFG_STR, 0, 1000, NULL, offsetof(struct node_settings, hub), "hub URL"},
	{"listen", RL_CFG_LIST, 0, 0, NULL, 0, "URLs for seated agents and tools"},
	{"log_level", RL_CFG_STR, 0, 16, "notice", offsetof(struct node_settings, log_level), "err..debug"},
	{NULL, 0, 0, 0, NULL, 0, NULL},
};

/* The voice path (optional group `media`). */
struct media_settings {
	char listen[RL_CFG_STRLEN], advertise[RL_CFG_STRLEN], caller_audio[RL_CFG_STRLEN], record_dir[RL_CFG_STRLEN];
	int caller_loop, report_s;
};

static const struct rl_cfg_opt media_opts[] = {
	{"listen", RL_CFG_STR, 0, 64, NULL, offsetof(struct media_settings, listen), "IP:port of the site's media socket"},
	{"advertise", RL_CFG_STR, 0, 64, "", offsetof(struct media_settings, advertise),
	 "IP:port seated agents send to; empty = listen"},
	{"caller_audio", RL_CFG_STR, 0, 1000, "", offsetof(struct media_settings, caller_audio),
	 "WAV played as the caller's voice; empty = speech-like generator"},
	{"caller_loop", RL_CFG_BOOL, 0, 1, "false", offsetof(struct media_settings, caller_loop), "loop caller_audio"},
	{"record_dir", RL_CFG_STR, 0, 1000, "", offsetof(struct media_settings, record_dir),
	 "write what agents say to <dir>/<contact>.agent.wav"},
	{"report_s", RL_CFG_INT, 1, 300, "5", offsetof(struct media_settings, report_s), "call quality report period"},
	{NULL, 0, 0, 0, NULL, 0, NULL},
};

/* Strings in the tables land in fixed buffers; the stream struct has smaller ones. */
struct gen_entry {
	char tenant[RL_CFG_STRLEN], queue[RL_CFG_STRLEN], dialled[RL_CFG_STRLEN];
	double per_minute;
	int priority;
	double patience_s;
};

static const struct rl_cfg_opt gen_entry_opts[] = {
	{"tenant", RL_CFG_STR, 0, 64, NULL, offsetof(struct gen_entry, tenant), "tenant id"},
	{"queue", RL_CFG_STR, 0, 64, NULL, offsetof(struct gen_entry, queue), "queue id"},
	{"dialled", RL_CFG_STR, 0, 64, "", offsetof(struct gen_entry, dialled), "DID shown to the agent"},
	{"per_minute", RL_CFG_DOUBLE, 0, 600000, NULL, offsetof(struct gen_entry, per_minute), "arrival rate"},
	{"priority", RL_CFG_INT, 0, 9, "0", offsetof(struct gen_entry, priority), "contact priority"},
	{"patience_s", RL_CFG_DOUBLE, 0.1, 86400, "60", offsetof(struct gen_entry, patience_s), "mean caller patience"},
	{NULL, 0, 0, 0, NULL, 0, NULL},
};

static struct rl_loop *g_loop;

int main(int argc, char **argv)
{
	const char *conf_path = NULL, *level = NULL;
	unsigned long long seed = 0;
	struct node_settings ns;
	struct media_settings ms;
	struct rl_bridge_conf bc;
	struct rl_node_conf nc;
	struct rl_node *node = NULL;
	struct rl_gen_stream *streams = NULL;
	const char *listen[9] = {0};
	config_t cfg;
	char err[512];
	int nstreams = 0, exit_code = 1;

	rl_signals_block(); /* before any thread exists */
	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0))
			conf_path = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--log-level") == 0)
			level = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--seed") == 0)
			seed = strtoull(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: relais-node -c node.conf [--log-level LEVEL] [--seed N]\n");
			return 2;
		}
	}
	if (conf_path == NULL) {
		fprintf(stderr, "usage: relais-node -c node.conf [--log-level LEVEL] [--seed N]\n");
		return 2;
	}
	rl_log_init("relais-node", RL_LOG_NOTICE);
	if (rl_cfg_load(&cfg, conf_path, err, sizeof(err)) != RL_OK ||
	    rl_cfg_apply(config_lookup(&cfg, "node"), node_opts, &ns, err, sizeof(err)) != RL_OK) {
		fprintf(stderr, "relais-node: %s: %s\n", conf_path, err);
		config_destroy(&cfg);
		return 1;
	}
	rl_log_init("relais-node", rl_log_parse_level(level ? level : ns.log_level));
	memset(&nc, 0, sizeof(nc));
	if (!rl_wire_id_ok(ns.site_id)) {
		fprintf(stderr, "relais-node: node.site_id is not a valid id\n");
		goto out;
	}
	snprintf(nc.site_id, sizeof(nc.site_id), "%.64s", ns.site_id);
	snprintf(nc.name, sizeof(nc.name), "%.256s", ns.name[0] ? ns.name : ns.site_id);
	nc.capacity = (uint32_t)ns.capacity;
	nc.hub_url = ns.hub;
	const config_setting_t *ls = config_lookup(&cfg, "node.listen");
	for (int i = 0; ls && i < config_setting_length(ls) && i < 8; i++)
		listen[i] = config_setting_get_string_elem(ls, i);
	nc.listen = listen;
	config_lookup_string(&cfg, "tls.ca", &nc.tls.ca_file);
	config_lookup_string(&cfg, "tls.cert", &nc.tls.cert_file);
	config_lookup_string(&cfg, "tls.key", &nc.tls.key_file);

	const config_setting_t *mg = config_lookup(&cfg, "media");
	if (mg != NULL) {
		if (rl_cfg_apply(mg, media_opts, &ms, err, sizeof(err)) != RL_OK) {
			fprintf(stderr, "relais-node: %s: media.%s\n", conf_path, err);
			goto out;
		}
		memset(&bc, 0, sizeof(bc));
		bc.listen = ms.listen;
		bc.advertise = ms.advertise;
		bc.caller_audio = ms.caller_audio;
		bc.caller_loop = ms.caller_loop;
		bc.record_dir = ms.record_dir;
		bc.rate = 16000;
		bc.report_s = (unsigned)ms.report_s;
		nc.media = &bc;
	}

	const config_setting_t *gl = config_lookup(&cfg, "generator");
	nstreams = gl ? config_setting_length(gl) : 0;
	if (nstreams > 0 && (streams = calloc((size_t)nstreams, sizeof(*streams))) == NULL)
		goto out;
	for (int i = 0; i < nstreams; i++) {
		struct gen_entry ge;
		if (rl_cfg_apply(config_setting_get_elem(gl, (unsigned)i), gen_entry_opts, &ge, err, sizeof(err)) != RL_OK) {
			fprintf(stderr, "relais-node: %s: generator entry %d: %s\n", conf_path, i + 1, err);
			goto out;
		}
		snprintf(streams[i].tenant, sizeof(streams[i].tenant), "%.64s", ge.tenant);
		snprintf(streams[i].queue, sizeof(streams[i].queue), "%.64s", ge.queue);
		snprintf(streams[i].dialled, sizeof(streams[i].dialled), "%.64s", ge.dialled);
		streams[i].per_minute = ge.per_minute;
		streams[i].priority = ge.priority;
		streams[i].patience_s = ge.patience_s;
	}

	if (rl_loop_create(&g_loop) != RL_OK || rl_loop_catch_signals(g_loop, TAG_STOP) != RL_OK)
		goto out;
	if (rl_node_open(&node, &nc, g_loop) != RL_OK) {
		fprintf(stderr, "relais-node: cannot start (see log)\n");
		goto out;
	}
	rl_node_add_source(node, rl_node_source_ctl(node));
	if (nstreams > 0) {
		struct rl_source *gen = rl_gen_create(streams, nstreams, seed);
		if (gen == NULL || rl_node_add_source(node, gen) != RL_OK)
			goto out;
	}
	rl_log(RL_LOG_NOTICE, "node up site=%s hub=%s generator_streams=%d", nc.site_id, nc.hub_url, nstreams);
	uint64_t last_tick = 0;
	for (int stop = 0; !stop;) {
		struct rl_loop_event evs[256];
		int n = rl_loop_wait(g_loop, 100, evs, 256);
		for (int i = 0; i < n; i++) {
			if (evs[i].kind == RL_LOOP_POST && evs[i].src == TAG_STOP)
				stop = 1;
			else
				rl_node_event(node, &evs[i]);
		}
		if (rl_mono_us() - last_tick >= 50000u) {
			last_tick = rl_mono_us();
			rl_node_tick(node);
		}
		rl_node_flush(node);
	}
	const struct rl_node_counters *c = rl_node_counters(node);
	rl_log(RL_LOG_NOTICE, "counters relayed_up=%llu relayed_down=%llu dropped_up=%llu dropped_down=%llu submitted=%llu acked=%llu refused=%llu cancels=%llu",
	       (unsigned long long)c->relayed_up, (unsigned long long)c->relayed_down, (unsigned long long)c->dropped_up,
	       (unsigned long long)c->dropped_down, (unsigned long long)c->submitted, (unsigned long long)c->acked,
	       (unsigned long long)c->refused, (unsigned long long)c->cancels);
	exit_code = 0;
	rl_exit_watchdog(5, exit_code);
out:
	/* Sockets close first: their callbacks post into the loop, which must outlive them. */
	rl_node_close(node);
	rl_loop_destroy(g_loop);
	free(streams);
	config_destroy(&cfg);
	return exit_code;
}
