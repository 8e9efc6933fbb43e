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

#include "carrier.h"
#include "node.h"
#include "rl_alloc.h"
#include "rl_config.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_scrape.h"
#include "rl_nngfix.h"
#include "rl_time.h"
#include "source_gen.h"
#include "source_sip.h"

enum { TAG_STOP = 100 };

struct node_settings {
	char site_id[RL_CFG_STRLEN];
	char name[RL_CFG_STRLEN];
	int capacity;
	char hub[RL_CFG_STRLEN];
	char key_file[RL_CFG_STRLEN];
	char log_level[RL_CFG_STRLEN];
	char state_dir[RL_CFG_STRLEN];
	int survivable;
	char metrics_listen[RL_CFG_STRLEN], metrics_token_sha256[RL_CFG_STRLEN];
};

static const struct rl_cfg_opt node_opts[] = {
    {"site_id", RL_CFG_STR, 0, 64, NULL, offsetof(struct node_settings, site_id), "site this node serves"},
    {"name", RL_CFG_STR, 0, 256, "", offsetof(struct node_settings, name), "display name"},
    {"capacity", RL_CFG_INT, 0, 100000, "100", offsetof(struct node_settings, capacity), "concurrent calls"},
    {"hub", RL_CFG_STR, 0, 1000, NULL, offsetof(struct node_settings, hub), "hub URL"},
    {"key_file", RL_CFG_STR, 0, 1000, NULL, offsetof(struct node_settings, key_file),
     "the site's key (relaisctl keygen), proven to the hub"},
    {"listen", RL_CFG_LIST, 0, 0, NULL, 0, "URLs for seated agents and tools"},
    {"log_level", RL_CFG_STR, 0, 16, "notice", offsetof(struct node_settings, log_level), "err..debug"},
    {"state_dir", RL_CFG_STR, 0, 400, "", offsetof(struct node_settings, state_dir),
     "where the node keeps what must outlive it (the hub's dial plan); \"\": nothing kept"},
    {"survivable", RL_CFG_BOOL, 0, 1, "false", offsetof(struct node_settings, survivable),
     "serve the site's carrier calls alone while the hub is lost (needs state_dir; docs/failover.md)"},
    {"metrics_listen", RL_CFG_STR, 0, 200, "", offsetof(struct node_settings, metrics_listen),
     "http://IP:port serving /metrics for Prometheus; empty = none"},
    {"metrics_token_sha256", RL_CFG_STR, 0, 64, "", offsetof(struct node_settings, metrics_token_sha256),
     "SHA-256 (hex) of the bearer token scrapes must carry; empty = none"},
    {NULL, 0, 0, 0, NULL, 0, NULL},
};

/* The voice path (optional group `media`). */
struct media_settings {
	char listen[RL_CFG_STRLEN], advertise[RL_CFG_STRLEN], caller_audio[RL_CFG_STRLEN], record_dir[RL_CFG_STRLEN];
	int caller_loop, report_s, threads;
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
    {"threads", RL_CFG_INT, 0, 64, "0", offsetof(struct media_settings, threads),
     "media threads (shards of the site's calls); 0 = one per core"},
    {NULL, 0, 0, 0, NULL, 0, NULL},
};

/* Call recordings (optional group `recording`): see docs/config.md. */
struct recording_settings {
	char dir[RL_CFG_STRLEN];
	int queue_kib;
};

static const struct rl_cfg_opt recording_opts[] = {
    {"dir", RL_CFG_STR, 0, 500, "", offsetof(struct recording_settings, dir),
     "folder of the calls' recordings (<dir>/<tenant>/<day>/<contact>-<answered>.opus); empty = none"},
    {"queue_kib", RL_CFG_INT, 64, 1048576, "16384", offsetof(struct recording_settings, queue_kib),
     "recorded audio waiting for the disk, at most; beyond it recordings stop with an alarm"},
    {NULL, 0, 0, 0, NULL, 0, NULL},
};

/* SIP trunks (optional group `sip`): see docs/config.md. */
struct sip_settings {
	char listen[RL_CFG_STRLEN], media_ip[RL_CFG_STRLEN], hold_music[RL_CFG_STRLEN], announce_dir[RL_CFG_STRLEN];
	char tls_dir[RL_CFG_STRLEN], prompt_dir[RL_CFG_STRLEN];
	int rtp_min, rtp_max, retry_after_s, max_calls, announce_first_s, announce_every_s, tls_port, refer_timeout_s;
	int max_media_load, stall_ms;
};

static const struct rl_cfg_opt sip_opts[] = {
    {"listen", RL_CFG_STR, 0, 64, NULL, offsetof(struct sip_settings, listen), "IP:port for SIP over UDP and TCP"},
    {"tls_port", RL_CFG_INT, 0, 65535, "0", offsetof(struct sip_settings, tls_port),
     "SIP over TLS on the listen IP at this port (0: none)"},
    {"tls_dir", RL_CFG_STR, 0, 500, "", offsetof(struct sip_settings, tls_dir),
     "directory with agent.pem (key + certificate chain) and cafile.pem for SIP TLS"},
    {"media_ip", RL_CFG_STR, 0, 45, NULL, offsetof(struct sip_settings, media_ip), "our RTP address towards carriers"},
    {"rtp_min", RL_CFG_INT, 0, 65534, "0", offsetof(struct sip_settings, rtp_min), "lowest RTP port (0: any)"},
    {"rtp_max", RL_CFG_INT, 0, 65535, "0", offsetof(struct sip_settings, rtp_max), "highest RTP port"},
    {"retry_after_s", RL_CFG_INT, 0, 86400, "30", offsetof(struct sip_settings, retry_after_s),
     "Retry-After of 503s (draining, full)"},
    {"max_calls", RL_CFG_INT, 1, 100000, "1024", offsetof(struct sip_settings, max_calls), "carrier calls at once"},
    {"max_media_load", RL_CFG_INT, 0, 100, "85", offsetof(struct sip_settings, max_media_load),
     "busiest media thread's busy % above which new calls get 503 (0: no limit)"},
    {"hold_music", RL_CFG_STR, 0, 500, "", offsetof(struct sip_settings, hold_music), "WAV looped while waiting"},
    {"refer_timeout_s", RL_CFG_INT, 1, 3600, "60", offsetof(struct sip_settings, refer_timeout_s),
     "an external transfer's wait for the carrier's outcome"},
    {"stall_ms", RL_CFG_INT, 100, 60000, "1000", offsetof(struct sip_settings, stall_ms),
     "a stall of the SIP thread this long makes the INVITEs that waited through it get 503"},
    {"announce_dir", RL_CFG_STR, 0, 500, "", offsetof(struct sip_settings, announce_dir),
     "prompt set for queue position and expected wait (\"\": none)"},
    {"announce_first_s", RL_CFG_INT, 0, 3600, "20", offsetof(struct sip_settings, announce_first_s),
     "first announcement after queueing"},
    {"announce_every_s", RL_CFG_INT, 0, 3600, "60", offsetof(struct sip_settings, announce_every_s),
     "then every (0: never)"},
    {"trunks", RL_CFG_LIST, 0, 0, NULL, 0, "source IPs allowed to send calls (empty: any)"},
    {"prompt_dir", RL_CFG_STR, 0, 400, "", offsetof(struct sip_settings, prompt_dir),
     "where the hub's dial plan's prompts are (\"\": announce_dir)"},
    {"dids", RL_CFG_LIST, 0, 0, NULL, 0, "dialled numbers: tenant, menu or queue (the hub's dial plan replaces them)"},
    {"menus", RL_CFG_LIST, 0, 0, NULL, 0, "IVR menus"},
    {NULL, 0, 0, 0, NULL, 0, NULL},
};

/*
 * sip_ports_check: the RTP range must be one the carrier legs can use, and max_calls within
 * what it holds. Each leg takes an even port and leaves the odd one above it for RTCP
 * (rl_carrier_port_legs), so 300 ports hold 150 calls. A larger max_calls was never reached:
 * the calls beyond the pool were taken, tried for a port, and got 503 "No media port". It is
 * lowered to the pool, loudly, rather than refused: a node that will not start after a
 * restart takes the whole site down, while the lowered limit is the capacity the site had
 * anyway, and the calls over it now get their 503 from the limit, at once.
 */
static int sip_ports_check(const struct sip_settings *ss, struct rl_sip_source_conf *conf, char *err, size_t errlen)
{
	unsigned legs;

	if ((ss->rtp_min == 0) != (ss->rtp_max == 0) || ss->rtp_min > ss->rtp_max) {
		snprintf(err, errlen,
		         "rtp_min, rtp_max: both 0 (any port) or a range with rtp_min <= rtp_max, not %d, %d",
		         ss->rtp_min, ss->rtp_max);
		return RL_ECONFIG;
	}
	legs = rl_carrier_port_legs((uint16_t)ss->rtp_min, (uint16_t)ss->rtp_max);
	if (legs == 0) {
		snprintf(err, errlen, "rtp_min, rtp_max: %d..%d has no even port for RTP", ss->rtp_min, ss->rtp_max);
		return RL_ECONFIG;
	}
	if (legs != RL_CARRIER_LEGS_ANY && conf->sip.max_calls > legs) {
		rl_log(
		    RL_LOG_WARNING,
		    "sip max_calls lowered from=%u to=%u rtp_min=%d rtp_max=%d: each carrier call takes an even RTP port "
		    "and the odd one above it, so the range holds %u calls; widen it to %u ports to take %u",
		    conf->sip.max_calls, legs, ss->rtp_min, ss->rtp_max, legs, 2 * conf->sip.max_calls,
		    conf->sip.max_calls);
		conf->sip.max_calls = legs;
	}
	return RL_OK;
}

/* load_sip reads the `sip` group into conf, its own dial plan (if any) into *plan and where
 * the hub's prompts are into prompt_dir. */
static int load_sip(const config_setting_t *g, struct rl_sip_source_conf *conf, struct rl_dialplan **plan,
                    char *prompt_dir, const char **trunks, char *err, size_t errlen)
{
	struct sip_settings ss;
	const config_setting_t *l, *dids, *menus;

	if (rl_cfg_apply(g, sip_opts, &ss, err, errlen) != RL_OK)
		return RL_ECONFIG;
	memset(conf, 0, sizeof(*conf));
	conf->sip.listen = rl_strdup(ss.listen);
	conf->sip.tls_port = (uint16_t)ss.tls_port;
	conf->sip.tls_dir = ss.tls_dir[0] ? rl_strdup(ss.tls_dir) : NULL;
	conf->sip.refer_timeout_s = (unsigned)ss.refer_timeout_s;
	conf->sip.stall_ms = (unsigned)ss.stall_ms;
	snprintf(conf->media_ip, sizeof(conf->media_ip), "%.63s", ss.media_ip);
	snprintf(conf->hold_music, sizeof(conf->hold_music), "%.500s", ss.hold_music);
	snprintf(conf->announce_dir, sizeof(conf->announce_dir), "%.500s", ss.announce_dir);
	conf->announce_first_s = (uint32_t)ss.announce_first_s;
	conf->announce_every_s = (uint32_t)ss.announce_every_s;
	conf->rtp_min = (uint16_t)ss.rtp_min;
	conf->rtp_max = (uint16_t)ss.rtp_max;
	conf->sip.retry_after_s = (unsigned)ss.retry_after_s;
	conf->sip.max_calls = (unsigned)ss.max_calls;
	conf->max_media_load = (unsigned)ss.max_media_load;
	if (sip_ports_check(&ss, conf, err, errlen) != RL_OK)
		return RL_ECONFIG;
	l = config_setting_get_member(g, "trunks");
	for (int i = 0; l && i < config_setting_length(l) && i < RL_SIP_TRUNKS_MAX; i++)
		trunks[i] = config_setting_get_string_elem(l, i);
	conf->sip.trunks = trunks;
	dids = config_setting_get_member(g, "dids");
	menus = config_setting_get_member(g, "menus");
	snprintf(prompt_dir, RL_IVR_PATH, "%.400s", ss.prompt_dir[0] ? ss.prompt_dir : ss.announce_dir);
	if ((dids == NULL || config_setting_length(dids) == 0) && menus == NULL)
		return RL_OK; /* the hub's plan, when it comes */
	return rl_dialplan_from_config(plan, dids, menus, RL_DIALPLAN_PATHS, err, errlen);
}

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

/* open_metrics serves /metrics (rl_scrape.h) as ns says. */
static int open_metrics(struct rl_scrape **out, const struct node_settings *ns, const char *conf_path)
{
	int rv = rl_scrape_open(out, ns->metrics_listen, ns->metrics_token_sha256);

	if (rv != RL_OK)
		fprintf(stderr,
		        "relais-node: %s: node.metrics_listen=%s: %s (http://IP:port; a token's SHA-256 in hex)\n",
		        conf_path, ns->metrics_listen, rl_strerror(rv));
	return rv;
}

/* load_recording reads the optional `recording` group into nc, which points into rs. */
static int load_recording(const config_t *cfg, struct recording_settings *rs, struct rl_node_conf *nc, char *err,
                          size_t errlen)
{
	const config_setting_t *g = config_lookup(cfg, "recording");

	memset(rs, 0, sizeof(*rs));
	rs->queue_kib = 16384;
	if (g != NULL && rl_cfg_apply(g, recording_opts, rs, err, errlen) != RL_OK)
		return RL_ECONFIG;
	nc->recording_dir = rs->dir;
	nc->recording_queue_bytes = (size_t)rs->queue_kib * 1024u;
	return RL_OK;
}

int main(int argc, char **argv)
{
	const char *conf_path = NULL, *level = NULL;
	unsigned long long seed = 0;
	struct node_settings ns;
	struct media_settings ms;
	struct recording_settings rs;
	struct rl_bridge_conf bc;
	struct rl_sip_source_conf sipc = {0};
	char prompt_dir[RL_IVR_PATH] = "";
	const char *trunks[RL_SIP_TRUNKS_MAX + 1] = {0};
	int have_sip = 0;
	struct rl_node_conf nc;
	struct rl_node *node = NULL;
	struct rl_scrape *scrape = NULL; /* /metrics; NULL: not served */
	struct rl_text metrics = {0};
	struct rl_gen_stream *streams = NULL;
	const char *listen[9] = {0};
	config_t cfg;
	char err[512];
	int nstreams = 0, exit_code = 1, rv, nops = 0;
	struct rl_operator *ops = NULL;

	rl_signals_block();       /* before any thread exists */
	signal(SIGXFSZ, SIG_IGN); /* a file size limit is a failed write (a recording stops), not death */
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
	/* Before any listener or dialer: a peer's reset handshake must not stop one (rl_nngfix.h). */
	if (rl_nngfix_install() != RL_OK)
		rl_log(RL_LOG_WARNING, "nng is linked in statically: a peer that resets its TLS handshake "
		                       "can stop a listener for good (docs/protocol.md, nng 1.5.2)");
	memset(&nc, 0, sizeof(nc));
	if (!rl_wire_id_ok(ns.site_id)) {
		fprintf(stderr, "relais-node: node.site_id is not a valid id\n");
		goto out;
	}
	snprintf(nc.site_id, sizeof(nc.site_id), "%.64s", ns.site_id);
	snprintf(nc.name, sizeof(nc.name), "%.256s", ns.name[0] ? ns.name : ns.site_id);
	nc.capacity = (uint32_t)ns.capacity;
	nc.survivable = ns.survivable;
	if (ns.survivable && !ns.state_dir[0]) {
		fprintf(stderr, "relais-node: node.survivable needs node.state_dir (the journal of its time alone)\n");
		goto out;
	}
	nc.hub_url = ns.hub;
	const config_setting_t *ls = config_lookup(&cfg, "node.listen");
	for (int i = 0; ls && i < config_setting_length(ls) && i < 8; i++)
		listen[i] = config_setting_get_string_elem(ls, i);
	nc.listen = listen;
	if ((rv = rl_key_load(&nc.key, ns.key_file)) != RL_OK) {
		fprintf(stderr, "relais-node: node.key_file %s: %s\n", ns.key_file, rl_strerror(rv));
		goto out;
	}
	if (rl_operators_load(config_lookup(&cfg, "operators"), &ops, &nops, err, sizeof(err)) != RL_OK) {
		fprintf(stderr, "relais-node: %s: operators %s\n", conf_path, err);
		goto out;
	}
	nc.operators = ops;
	nc.noperators = nops;
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
		bc.threads = (unsigned)ms.threads;
		nc.media = &bc;
	}

	const config_setting_t *sg = config_lookup(&cfg, "sip");
	if (sg != NULL) {
		if (mg == NULL) {
			fprintf(stderr, "relais-node: %s: sip needs a media group (calls carry audio)\n", conf_path);
			goto out;
		}
		if (load_sip(sg, &sipc, &nc.plan, prompt_dir, trunks, err, sizeof(err)) != RL_OK) {
			fprintf(stderr, "relais-node: %s: sip.%s\n", conf_path, err);
			goto out;
		}
		have_sip = 1;
	}

	const config_setting_t *gl = config_lookup(&cfg, "generator");
	nstreams = gl ? config_setting_length(gl) : 0;
	if (nstreams > 0)
		streams = rl_calloc((size_t)nstreams, sizeof(*streams));
	for (int i = 0; i < nstreams; i++) {
		struct gen_entry ge;
		if (rl_cfg_apply(config_setting_get_elem(gl, (unsigned)i), gen_entry_opts, &ge, err, sizeof(err)) !=
		    RL_OK) {
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
	nc.prompt_dir = prompt_dir;
	nc.state_dir = ns.state_dir;
	if (load_recording(&cfg, &rs, &nc, err, sizeof(err)) != RL_OK) {
		fprintf(stderr, "relais-node: %s: recording.%s\n", conf_path, err);
		goto out;
	}
	rv = rl_node_open(&node, &nc, g_loop);
	nc.plan = NULL; /* the node's now, whatever came of it */
	if (rv != RL_OK) {
		fprintf(stderr, "relais-node: cannot start (see log)\n");
		goto out;
	}
	rl_node_add_source(node, rl_node_source_ctl(node));
	if (nstreams > 0) {
		struct rl_source *gen = rl_gen_create(streams, nstreams, seed);
		if (rl_node_add_source(node, gen) != RL_OK)
			goto out;
	}
	if (have_sip) {
		struct rl_source *sip;
		rv = rl_sip_source_create(&sip, node, &sipc);
		if (rv != RL_OK) {
			fprintf(stderr, "relais-node: cannot start SIP on %s: %s\n", sipc.sip.listen, rl_strerror(rv));
			goto out;
		}
		rl_node_add_source(node, sip);
	}
	rl_log(RL_LOG_NOTICE, "node up site=%s hub=%s generator_streams=%d sip=%d", nc.site_id, nc.hub_url, nstreams,
	       have_sip);
	if (ns.metrics_listen[0] && open_metrics(&scrape, &ns, conf_path) != RL_OK)
		goto out;
	uint64_t last_tick = 0, last_metrics = 0;
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
		if (scrape != NULL && rl_mono_us() - last_metrics >= 1000000u) {
			/* once a second: what the next scrapes get */
			last_metrics = rl_mono_us();
			rl_node_metrics(node, &metrics);
			rl_scrape_publish(scrape, metrics.p, metrics.len);
		}
		rl_node_flush(node);
	}
	const struct rl_node_counters *c = rl_node_counters(node);
	rl_log(RL_LOG_NOTICE,
	       "counters relayed_up=%llu relayed_down=%llu dropped_up=%llu dropped_down=%llu submitted=%llu acked=%llu "
	       "refused=%llu cancels=%llu peer_resets=%llu silent_links=%llu tls_failed=%llu",
	       (unsigned long long)c->relayed_up, (unsigned long long)c->relayed_down,
	       (unsigned long long)c->dropped_up, (unsigned long long)c->dropped_down, (unsigned long long)c->submitted,
	       (unsigned long long)c->acked, (unsigned long long)c->refused, (unsigned long long)c->cancels,
	       (unsigned long long)(rl_nngfix_resets() + c->link_resets), (unsigned long long)c->silent_links,
	       (unsigned long long)c->tls_failed);
	exit_code = 0;
	rl_exit_watchdog(5, exit_code);
out:
	/* Sockets close first: their callbacks post into the loop, which must outlive them. */
	rl_scrape_close(scrape);
	free(metrics.p);
	rl_node_close(node);
	rl_loop_destroy(g_loop);
	free(streams);
	rl_dialplan_unref(nc.plan);
	free((char *)sipc.sip.listen);
	free((char *)sipc.sip.tls_dir);
	rl_operators_free(ops, nops);
	rl_key_wipe(&nc.key);
	config_destroy(&cfg);
	return exit_code;
}
