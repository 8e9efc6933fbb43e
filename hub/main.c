/*
 * relais-hub: global queues, routing and agent sessions.
 *
 *   relais-hub -c hub.conf [--log-level LEVEL]
 *
 * The main loop: take a batch of frames from the loop, apply them in one write
 * transaction, fire timers, commit (fsync), then send the batch's replies and pushes.
 */
#include <getopt.h>
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "engine.h"
#include "hubha.h"
#include "standby.h"
#include "store.h"
#include "metrics.h"
#include "wallboard.h"
#include "relay.h"
#include "report.h"
#include "rl_scrape.h"
#include "rl_addr.h"
#include "rl_bundle.h"
#include "rl_config.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_greet.h"
#include "rl_srv.h"
#include "rl_link.h"
#include "rl_log.h"
#include "rl_nngfix.h"
#include "rl_srtp_suite.h"
#include "rl_loop.h"
#include "rl_time.h"

#define HUB_HELLO_MS 10000 /* a link that says no Hello this long is closed (rl_greet.h) */
/* bytes queued to one link beyond which frames to it are refused and counted: 128 full
 * bundles, a node's agents' traffic for seconds, where nng's pair1 kept two messages */
#define HUB_LINK_BACKLOG (128u * 65536u)

enum {
	TAG_SOCK = 1,
	TAG_AUTH = 2,
	TAG_PIPE = 3,
	TAG_STOP = 4,
	TAG_REPORT = 5,
	TAG_HA = 6,
	TAG_REPL = 7,
	TAG_REPL_EV = 8,
	TAG_STANDBY = 9
};

/* A hub that loses the leadership exits with this, for its supervisor to start it again
 * (as a standby): nothing it holds in memory can be trusted to be the leader's any more. */
#define HUB_EXIT_DEPOSED 75

struct hub_settings {
	char id[RL_CFG_STRLEN];
	char data_dir[RL_CFG_STRLEN];
	int map_size_mb;
	int agent_grace_s;
	int offer_timeout_s;
	int wrapup_s;
	int batch_max;
	int site_dead_ms;
	int site_lost_end_s;
	int represent_window_s;
	char log_level[RL_CFG_STRLEN];
	char metrics_listen[RL_CFG_STRLEN], metrics_token_sha256[RL_CFG_STRLEN];
	char wallboard_listen[RL_CFG_STRLEN], wallboard_url[RL_CFG_STRLEN], wallboard_dir[RL_CFG_STRLEN];
	char wallboard_cert[RL_CFG_STRLEN], wallboard_key[RL_CFG_STRLEN];
	int wallboard_session_s, wallboard_max_streams, wallboard_interval_ms;
};

static const struct rl_cfg_opt hub_opts[] = {
    {"id", RL_CFG_STR, 0, 64, "hub-1", offsetof(struct hub_settings, id), "hub name in logs and replies"},
    {"data_dir", RL_CFG_STR, 0, 1000, NULL, offsetof(struct hub_settings, data_dir), "LMDB directory"},
    {"map_size_mb", RL_CFG_INT, 16, 1 << 20, "4096", offsetof(struct hub_settings, map_size_mb), "LMDB map size"},
    {"agent_grace_s", RL_CFG_INT, 5, 86400, "60", offsetof(struct hub_settings, agent_grace_s),
     "silence before logout"},
    {"offer_timeout_s", RL_CFG_INT, 1, 300, "15", offsetof(struct hub_settings, offer_timeout_s), "default RONA time"},
    {"wrapup_s", RL_CFG_INT, 0, 3600, "30", offsetof(struct hub_settings, wrapup_s), "default wrap-up time"},
    {"batch_max", RL_CFG_INT, 1, 65536, "2048", offsetof(struct hub_settings, batch_max), "requests per commit"},
    {"site_dead_ms", RL_CFG_INT, 500, 60000, "2500", offsetof(struct hub_settings, site_dead_ms),
     "a proven node silent this long: its site is lost"},
    {"site_lost_end_s", RL_CFG_INT, 0, 86400, "10", offsetof(struct hub_settings, site_lost_end_s),
     "a lost site that cannot serve alone: its waiting contacts end after this"},
    {"represent_window_s", RL_CFG_INT, 0, 86400, "300", offsetof(struct hub_settings, represent_window_s),
     "a caller lost with a site who calls again within this gets its place back"},
    {"log_level", RL_CFG_STR, 0, 16, "notice", offsetof(struct hub_settings, log_level), "err..debug"},
    {"metrics_listen", RL_CFG_STR, 0, 200, "", offsetof(struct hub_settings, metrics_listen),
     "http://IP:port serving /metrics for Prometheus; empty = none"},
    {"metrics_token_sha256", RL_CFG_STR, 0, 64, "", offsetof(struct hub_settings, metrics_token_sha256),
     "SHA-256 (hex) of the bearer token scrapes must carry; empty = none"},
    {"wallboard_listen", RL_CFG_STR, 0, 200, "", offsetof(struct hub_settings, wallboard_listen),
     "https://IP:port serving the web wallboard (http:// on loopback only); empty = none"},
    {"wallboard_url", RL_CFG_STR, 0, 200, "", offsetof(struct hub_settings, wallboard_url),
     "the wallboard's address as browsers reach it; empty = wallboard_listen"},
    {"wallboard_dir", RL_CFG_STR, 0, 1000, RELAIS_WEB_DIR, offsetof(struct hub_settings, wallboard_dir),
     "the page's files"},
    {"wallboard_cert", RL_CFG_STR, 0, 1000, "", offsetof(struct hub_settings, wallboard_cert),
     "PEM certificate for https; empty = tls.cert"},
    {"wallboard_key", RL_CFG_STR, 0, 1000, "", offsetof(struct hub_settings, wallboard_key),
     "PEM key for https; empty = tls.key"},
    {"wallboard_session_s", RL_CFG_INT, 60, 7 * 86400, "43200", offsetof(struct hub_settings, wallboard_session_s),
     "a browser's session lasts this long"},
    {"wallboard_max_streams", RL_CFG_INT, 1, 10000, "200", offsetof(struct hub_settings, wallboard_max_streams),
     "browsers watching at once"},
    {"wallboard_interval_ms", RL_CFG_INT, 250, 1000, "250", offsetof(struct hub_settings, wallboard_interval_ms),
     "a changed model is rendered for browsers at most this often"},
    {"listen", RL_CFG_LIST, 0, 0, NULL, 0, "URLs to listen on (read below)"},
    {NULL, 0, 0, 0, NULL, 0, NULL},
};

/* The voice path: the relay for calls whose agent is not seated at the call's site. */
struct media_settings {
	char relay_listen[RL_CFG_STRLEN];
	char relay_advertise[RL_CFG_STRLEN];
	int relay_threads;
	int relay_idle_s;
	int relay_check_ip; /* obsolete, ignored: read so that configs which set it still load */
	char srtp_suite[RL_CFG_STRLEN];
};

static const struct rl_cfg_opt media_opts[] = {
    {"relay_listen", RL_CFG_STR, 0, 64, "", offsetof(struct media_settings, relay_listen),
     "IP:port of the media relay's UDP socket; empty = no relay"},
    {"relay_advertise", RL_CFG_STR, 0, 64, "", offsetof(struct media_settings, relay_advertise),
     "IP:port peers send to (NAT, load balancer); empty = relay_listen"},
    {"relay_threads", RL_CFG_INT, 1, 16, "1", offsetof(struct media_settings, relay_threads), "relay threads"},
    {"relay_idle_s", RL_CFG_INT, 5, 3600, "30", offsetof(struct media_settings, relay_idle_s),
     "release a relay call after this silence"},
    {"relay_check_ip", RL_CFG_BOOL, 0, 1, "true", offsetof(struct media_settings, relay_check_ip),
     "obsolete and ignored: a relay leg latches where it proves itself (docs/voice.md)"},
    {"srtp_suite", RL_CFG_STR, 0, 64, "AEAD_AES_128_GCM", offsetof(struct media_settings, srtp_suite),
     "AEAD_AES_128_GCM or AES_CM_128_HMAC_SHA1_80"},
    {NULL, 0, 0, 0, NULL, 0, NULL},
};

struct hub {
	struct rl_srv *srv; /* the control links (rl_srv.h) */
	struct rl_relay *relay;
	struct rl_loop *loop;
	struct rl_engine *engine;
	struct rl_auth *auth;
	struct rl_report_worker *reports; /* reports are folded on a thread of their own */
	struct rl_bundler *out;           /* this batch's frames, one send per pipe */
	uint64_t send_drops;
	struct rl_scrape *scrape;  /* /metrics; NULL: not served */
	struct rl_text metrics;    /* its last rendering */
	struct rl_wallserve *wall; /* the web wallboard; NULL: not served */
	struct rl_hubha *ha;       /* one of a hub pair (docs/ha.md); NULL: a single hub */
	struct rl_ha_sink ha_sink;
	struct rl_tls tls;
};

static void send_cb(void *arg, uint32_t pipe, const uint8_t *buf, size_t len)
{
	struct hub *h = arg;

	if (rl_bundler_add(h->out, pipe, buf, len) != RL_OK)
		h->send_drops++;
}

/* link_send: an envelope to a control link (the standby's answers) */
static int link_send(void *arg, uint32_t pipe, rl_env *env)
{
	const uint8_t *frame;
	size_t n = rl_wire_frame(env, &frame);

	return n == 0 ? RL_ETOOBIG : rl_srv_bundle_send(((struct hub *)arg)->srv, pipe, frame, n);
}

static void wire_counters(struct hub *h)
{
	Relais__HubCounters c = RELAIS__HUB_COUNTERS__INIT;
	struct rl_srv_counters k;

	c.frames = rl_wire_stats.decoded;
	c.malformed = rl_wire_stats.malformed;
	c.oversized = rl_wire_stats.oversized;
	c.bad_version = rl_wire_stats.badversion;
	c.bad_field = rl_wire_stats.badfield;
	c.send_drops = h->send_drops + rl_engine_counters(h->engine)->send_drops;
	rl_srv_counters(h->srv, &k);
	c.peer_resets = rl_nngfix_resets() + k.resets; /* nng's listeners' and dialers', and rl_srv's */
	c.link_drops = k.send_drops;
	c.oversized += k.oversized;                /* frames past the bound: the link is cut */
	c.malformed += k.malformed + k.bad_header; /* broken framing, or not an SP pair1 peer */
	c.silent_links = rl_greet_closed(rl_srv_greet(h->srv));
	rl_engine_set_wire_counters(h->engine, &c);
}

static void log_counters(struct hub *h, int level)
{
	const struct rl_engine_counters *ec = rl_engine_counters(h->engine);
	struct rl_wallserve_counters wc = {0};
	struct rl_srv_counters k;
	uint64_t renders, render_us;

	rl_srv_counters(h->srv, &k);
	if (h->wall != NULL)
		rl_wallserve_counters(h->wall, &wc);
	rl_engine_wallboard_work(h->engine, &renders, &render_us);

	rl_log(level,
	       "counters frames=%llu malformed=%llu oversized=%llu bad_version=%llu bad_field=%llu "
	       "requests=%llu offers=%llu send_drops=%llu auth_failures=%llu forbidden=%llu peer_resets=%llu "
	       "link_drops=%llu silent_links=%llu scrapes_refused=%llu wallboard_tickets_refused=%llu "
	       "wallboard_cookies_refused=%llu wallboard_streams=%llu wallboard_frames_skipped=%llu "
	       "wallboard_renders=%llu wallboard_render_ms=%llu tls_failed=%llu",
	       (unsigned long long)rl_wire_stats.decoded,
	       (unsigned long long)(rl_wire_stats.malformed + k.malformed + k.bad_header),
	       (unsigned long long)(rl_wire_stats.oversized + k.oversized),
	       (unsigned long long)rl_wire_stats.badversion, (unsigned long long)rl_wire_stats.badfield,
	       (unsigned long long)ec->requests, (unsigned long long)ec->offers,
	       (unsigned long long)(h->send_drops + ec->send_drops), (unsigned long long)ec->auth_failures,
	       (unsigned long long)ec->forbidden, (unsigned long long)(rl_nngfix_resets() + k.resets),
	       (unsigned long long)k.send_drops, (unsigned long long)rl_greet_closed(rl_srv_greet(h->srv)),
	       (unsigned long long)(h->scrape ? rl_scrape_refused(h->scrape) : 0),
	       (unsigned long long)wc.refused_tickets, (unsigned long long)wc.refused_cookies,
	       (unsigned long long)wc.streams, (unsigned long long)wc.frames_skipped, (unsigned long long)renders,
	       (unsigned long long)(render_us / 1000u), (unsigned long long)k.tls_failed);
}

/* greeted: 1 if a link has said Hello (rl_greet_fn). */
static int greeted(void *arg, uint32_t pipe)
{
	struct hub *h = arg;

	return rl_engine_greeted(h->engine, pipe);
}

/* pipe_ip: a link's remote IP as text, for login lockouts (rl_engine_addr_fn). */
static int pipe_ip(void *arg, uint32_t pipe, char *ip, size_t cap)
{
	struct sockaddr_storage ss;

	if (rl_srv_peer_ip(((struct hub *)arg)->srv, pipe, &ss) != RL_OK ||
	    rl_addr_ip((const struct sockaddr *)&ss, ip, cap) != RL_OK)
		return -1;
	return 0;
}

/* open_metrics serves /metrics (rl_scrape.h) as hs says. */
static int open_metrics(struct rl_scrape **out, const struct hub_settings *hs, const char *conf_path)
{
	int rv = rl_scrape_open(out, hs->metrics_listen, hs->metrics_token_sha256);

	if (rv != RL_OK)
		fprintf(stderr,
		        "relais-hub: %s: hub.metrics_listen=%s: %s (http://IP:port; a token's SHA-256 in hex)\n",
		        conf_path, hs->metrics_listen, rl_strerror(rv));
	return rv;
}

/*
 * Commit grouping that follows the rate: each batch is one commit (an fsync), and at a
 * moderate rate a batch taken as soon as frames wait holds a contact or two, so the fsync,
 * not the work, sets the cost. When frames were already waiting (traffic is steady) and the
 * batch is small, the loop waits HUB_LINGER_US once more for those on their way. An idle
 * hub (the first frame after a pause) and full batches never wait.
 */
#define HUB_LINGER_US    1000 /* the most a batch waits: bounds the latency it adds */
#define HUB_LINGER_BELOW 32   /* frames: a batch this small may wait */
#define HUB_STEADY_US    200  /* the wait for the batch's first frame was this short */

/* hub_gather takes a batch into evs (up to max): the frames waiting, else the first to come
 * within 100 ms, grouped as above. Returns the count (0: timer tick), -1 once stopped. */
static int hub_gather(struct hub *h, struct rl_loop_event *evs, int max)
{
	uint64_t t0 = rl_mono_us();
	int n = rl_loop_wait(h->loop, 100, evs, max), more;
	struct timespec linger = {0, HUB_LINGER_US * 1000L};

	if (n <= 0 || n >= HUB_LINGER_BELOW || n >= max || rl_mono_us() - t0 > HUB_STEADY_US)
		return n;
	for (int i = 0; i < n; i++)
		if (evs[i].src == TAG_REPL)
			return n; /* a standby's acknowledgement releases replies: no waiting on it */
	nanosleep(&linger, NULL);
	more = rl_loop_wait(h->loop, 0, evs + n, max - n);
	return more > 0 ? n + more : n; /* stopped: the next wait says so */
}

/* open_wallboard serves the web wallboard (wallserve.h) as hs says, with the hub's TLS
 * certificate unless it names one of its own. */
static int open_wallboard(struct hub *h, const struct hub_settings *hs, const config_t *cfg, const char *conf_path)
{
	const char *cert = hs->wallboard_cert, *key = hs->wallboard_key;
	struct rl_wallserve_conf wc = {.url = hs->wallboard_listen,
	                               .web_dir = hs->wallboard_dir,
	                               .ticket_ttl_s = RL_WALLBOARD_TICKET_S,
	                               .session_ttl_s = (unsigned)hs->wallboard_session_s,
	                               .max_streams = (unsigned)hs->wallboard_max_streams};
	char url[RL_CFG_STRLEN + 2];
	int rv;

	if (!cert[0])
		config_lookup_string(cfg, "tls.cert", &cert);
	if (!key[0])
		config_lookup_string(cfg, "tls.key", &key);
	wc.cert_file = cert && cert[0] ? cert : NULL;
	wc.key_file = key && key[0] ? key : NULL;
	if ((rv = rl_wallserve_open(&h->wall, &wc)) != RL_OK) {
		fprintf(stderr,
		        "relais-hub: %s: hub.wallboard_listen=%s: %s (https://IP:port with a certificate and key)\n",
		        conf_path, hs->wallboard_listen, rl_strerror(rv));
		return rv;
	}
	snprintf(url, sizeof(url), "%s/", hs->wallboard_url[0] ? hs->wallboard_url : hs->wallboard_listen);
	rl_engine_set_wallboard(h->engine, h->wall, url, (unsigned)hs->wallboard_interval_ms);
	return RL_OK;
}

/* hub_event applies one loop event; 1: stop (*code the exit code). */
static int hub_event(struct hub *h, struct rl_loop_event *ev, int *code)
{
	if (ev->kind == RL_LOOP_MSG && ev->src == TAG_REPL) {
		rl_repl_input(h->ha->repl, ev->msg, rl_mono_us());
	} else if (ev->kind == RL_LOOP_MSG && ev->src == TAG_STANDBY) {
		nng_msg_free(ev->msg); /* the last of the link this hub had as a standby */
	} else if (ev->kind == RL_LOOP_MSG) {
		rl_env *env = NULL;
		uint32_t pipe;
		int rv = rl_link_recv_env(ev->msg, &env, &pipe);
		nng_msg_free(ev->msg);
		if (rv == RL_OK)
			rl_engine_input(h->engine, pipe, env);
		else if (rv == RL_EVERSION)
			rl_engine_bad_version(h->engine, pipe, env);
		else
			rl_log(RL_LOG_INFO, "dropped frame pipe=%u err=\"%s\"", pipe, rl_strerror(rv));
		rl_wire_free(env);
	} else if (ev->src == TAG_AUTH) {
		rl_engine_auth_done(h->engine, ev->ptr);
	} else if (ev->src == TAG_REPORT) {
		rl_engine_report_done(h->engine, ev->ptr);
	} else if (ev->src == TAG_PIPE) {
		rl_engine_pipe_gone(h->engine, (uint32_t)(uintptr_t)ev->ptr);
	} else if (ev->src == TAG_REPL_EV) {
		rl_repl_event(h->ha->repl, ev->ptr);
	} else if (ev->src == TAG_HA) {
		if (rl_hubha_event(h->ha, ev->ptr)) {
			*code = HUB_EXIT_DEPOSED;
			return 1;
		}
	} else if (ev->src == TAG_STOP) {
		return 1;
	}
	return 0;
}

/* hub_release sends what the standby now holds (hubha.h); 1: the lease may have ended. */
static int hub_release(struct hub *h, uint64_t mono)
{
	int64_t upto;

	if (h->ha == NULL)
		return 0;
	rl_repl_pump(h->ha->repl, mono);
	if ((upto = rl_hubha_release_upto(h->ha)) < 0) {
		rl_log(RL_LOG_ERR, "hub stops leading: its lease may have ended (held replies dropped)");
		return 1;
	}
	/* sync = strict without a standby: say so to those who would write, rather than hold them */
	rl_engine_refuse_writes(h->engine, h->ha->strict && rl_hubha_alone(h->ha)
	                                       ? "no standby holds what this hub would acknowledge (ha.sync strict)"
	                                       : NULL);
	h->ha->released = (uint64_t)upto;
	rl_engine_release(h->engine, (uint64_t)upto); /* what followed the batch waits no more */
	return 0;
}

/* hub_run is the loop; returns the exit code. */
static int hub_run(struct hub *h, const struct rl_hub_conf *hc)
{
	struct rl_loop_event *evs = rl_calloc((size_t)hc->batch_max, sizeof(*evs));
	uint64_t last_tick = 0, last_log = rl_mono_us(), last_metrics = 0;
	int stop = 0, code = 0;

	while (!stop) {
		/* Timers tick every 100 ms; frames are taken as they come, up to batch_max. */
		int n = hub_gather(h, evs, hc->batch_max);
		if (n < 0)
			break;
		if (rl_engine_begin(h->engine, rl_wall_us()) != RL_OK) {
			rl_log(RL_LOG_ERR, "cannot begin a write transaction: stopping");
			free(evs);
			return 1;
		}
		for (int i = 0; i < n; i++)
			stop |= hub_event(h, &evs[i], &code);
		if (code == HUB_EXIT_DEPOSED) {
			rl_engine_abort(h->engine); /* nothing more is written, nothing held leaves */
			break;
		}
		uint64_t mono = rl_mono_us();
		if (mono - last_tick >= 100000u) {
			last_tick = mono;
			rl_greet_sweep(rl_srv_greet(h->srv), mono, greeted, h);
			wire_counters(h);
			rl_engine_tick(h->engine);
			if (h->scrape != NULL && mono - last_metrics >= 1000000u) {
				last_metrics = mono;
				/* once a second: what the next scrapes get */
				rl_engine_metrics(h->engine, &h->metrics);
				if (h->ha != NULL)
					rl_hubha_metrics(h->ha, &h->metrics);
				rl_scrape_publish(h->scrape, h->metrics.p, h->metrics.len);
			}
		}
		if (h->ha != NULL && !rl_ha_may_serve(h->ha->ha, NULL)) {
			/* A leader whose lease may have ended (frozen past it, cut from etcd) writes
			 * nothing more: the batch is dropped, and the process leaves. */
			rl_log(RL_LOG_ERR, "hub stops leading: its lease may have ended (batch dropped)");
			rl_engine_abort(h->engine);
			code = HUB_EXIT_DEPOSED;
			break;
		}
		if (h->ha != NULL)
			rl_hubha_batch(h->ha, rl_engine_store(h->engine));
		if (rl_engine_commit(h->engine) != RL_OK) {
			/* Memory is ahead of disk: stop; a restart recovers from the last commit. */
			rl_log(RL_LOG_ERR, "commit failed: stopping (fail-stop, restart recovers)");
			free(evs);
			return 1;
		}
		if (hub_release(h, mono)) {
			code = HUB_EXIT_DEPOSED;
			break;
		}
		h->send_drops += rl_bundler_flush_fn(h->out, rl_srv_bundle_send, h->srv);
		rl_engine_wallboard(h->engine, mono);
		if (mono - last_log >= 60000000u) {
			last_log = mono;
			log_counters(h, RL_LOG_INFO);
		}
	}
	log_counters(h, RL_LOG_NOTICE);
	free(evs);
	return code;
}

/* hub_listen opens the control socket and listens on hub.listen. */
static int hub_listen(struct hub *h, const config_t *cfg)
{
	const config_setting_t *listen = config_lookup(cfg, "hub.listen");

	struct rl_srv_conf sc = {.loop = h->loop,
	                         .tag_msg = TAG_SOCK,
	                         .tag_gone = TAG_PIPE,
	                         .max_backlog = HUB_LINK_BACKLOG,
	                         .hello_ms = HUB_HELLO_MS};

	if (rl_srv_open(&h->srv, &sc) != RL_OK)
		return RL_EFULL;
	if (listen == NULL || config_setting_length(listen) == 0) {
		fprintf(stderr, "relais-hub: hub.listen needs at least one URL\n");
		return RL_ECONFIG;
	}
	for (int i = 0; i < config_setting_length(listen); i++) {
		const char *url = config_setting_get_string_elem(listen, i);
		if (url == NULL || rl_srv_listen(h->srv, url, &h->tls) != RL_OK) {
			fprintf(stderr, "relais-hub: cannot listen on %s\n", url ? url : "(not a string)");
			return RL_ENET;
		}
		rl_log(RL_LOG_NOTICE, "listening url=%s", url);
	}
	return RL_OK;
}

/* hub_stand_by runs for the leadership and stands by until won: RL_STANDBY_*. */
static int hub_stand_by(struct hub *h, const struct rl_hub_conf *hc)
{
	struct rl_hubha *x = h->ha;
	struct rl_ha_event won;
	struct rl_standby_conf sc = {.data_dir = hc->data_dir,
	                             .map_mb = (size_t)hc->map_size_mb,
	                             .name = x->s.name,
	                             .key = &x->key,
	                             .tls = &h->tls,
	                             .send = link_send,
	                             .send_arg = h,
	                             .ha = NULL,
	                             .loop = h->loop,
	                             .tag_ctl = TAG_SOCK,
	                             .tag_ha = TAG_HA,
	                             .tag_stop = TAG_STOP,
	                             .tag_repl = TAG_STANDBY};
	int rv;

	h->ha_sink = (struct rl_ha_sink){h->loop, TAG_HA};
	if ((rv = rl_ha_start(&x->ha, &x->hc, rl_ha_post_event, &h->ha_sink)) != RL_OK) {
		fprintf(stderr, "relais-hub: ha: %s\n", rl_strerror(rv));
		return RL_STANDBY_FAILED;
	}
	sc.ha = x->ha;
	rl_log(RL_LOG_NOTICE, "hub runs for the leadership name=%s etcd=%s", x->s.name, x->s.etcd);
	if ((rv = rl_standby_run(&sc, &won)) == RL_STANDBY_PROMOTED)
		rl_hubha_leading(x, &won.term);
	return rv;
}

/* hub_before_lead: the store's position before the engine opens it (rl_repl_conf.before),
 * and the term and capture of every batch the engine commits from its first. */
static void hub_before_lead(struct hub *h, struct rl_hub_conf *hc)
{
	char path[sizeof(hc->data_dir) + 16];

	snprintf(path, sizeof(path), "%s/data.mdb", hc->data_dir);
	if (rl_store_copy_pos(path, &h->ha->before) != RL_OK)
		h->ha->before = (struct rl_store_pos){0, 0};
	hc->term = h->ha->term.revision;
	hc->capture = 1;
}

/* hub_lead makes the engine's batches wait for the standby (hubha.h). */
static int hub_lead(struct hub *h, const struct rl_hub_conf *hc)
{
	struct rl_hubha *x = h->ha;
	char snap[RL_CFG_STRLEN + 32];
	struct rl_repl_conf rc = {.listen = x->s.repl_listen,
	                          .tls = &h->tls,
	                          .peers = x->peers,
	                          .npeers = x->npeers,
	                          .snap_path = snap,
	                          .store = rl_engine_store(h->engine),
	                          .log_bytes = (size_t)x->s.log_mb << 20,
	                          .standby_timeout_ms = (unsigned)x->s.standby_timeout_ms,
	                          .before = x->before};
	int rv;

	snprintf(snap, sizeof(snap), "%s/repl-copy.mdb", hc->data_dir);
	if ((rv = rl_repl_open(&x->repl, &rc, h->loop, TAG_REPL, TAG_REPL_EV)) != RL_OK) {
		fprintf(stderr, "relais-hub: ha.repl_listen %s: %s\n", x->s.repl_listen, rl_strerror(rv));
		return rv;
	}
	rl_engine_set_hold(h->engine, rl_repl_batch, x->repl);
	rl_engine_set_ha_stat(h->engine, rl_hubha_stat, x);
	rl_log(RL_LOG_NOTICE, "hub leads name=%s revision=%lld", x->s.name, (long long)x->term.revision);
	return RL_OK;
}

static void usage(void)
{
	fprintf(stderr, "usage: relais-hub -c hub.conf [--log-level err|warning|notice|info|debug]\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {{"config", required_argument, NULL, 'c'},
	                                      {"log-level", required_argument, NULL, 'l'},
	                                      {"help", no_argument, NULL, 'h'},
	                                      {NULL, 0, NULL, 0}};
	const char *conf_path = NULL, *level = NULL;
	struct hub_settings hs;
	struct media_settings ms;
	int suite;
	struct rl_hub_conf hc;
	struct hub h;
	struct rl_hubha hx;
	config_t cfg;
	char err[512];
	int c, rv, exit_code = 1;

	rl_signals_block(); /* before any thread exists */
	memset(&h, 0, sizeof(h));
	while ((c = getopt_long(argc, argv, "c:l:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf_path = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (conf_path == NULL) {
		usage();
		return 2;
	}
	rl_log_init("relais-hub", RL_LOG_NOTICE);
	if (rl_cfg_load(&cfg, conf_path, err, sizeof(err)) != RL_OK) {
		fprintf(stderr, "relais-hub: %s\n", err);
		config_destroy(&cfg);
		return 1;
	}
	if (rl_cfg_apply(config_lookup(&cfg, "hub"), hub_opts, &hs, err, sizeof(err)) != RL_OK) {
		fprintf(stderr, "relais-hub: %s: hub.%s\n", conf_path, err);
		config_destroy(&cfg);
		return 1;
	}
	if (rl_cfg_apply(config_lookup(&cfg, "media"), media_opts, &ms, err, sizeof(err)) != RL_OK) {
		fprintf(stderr, "relais-hub: %s: media.%s\n", conf_path, err);
		config_destroy(&cfg);
		return 1;
	}
	if (strcmp(ms.srtp_suite, "AEAD_AES_128_GCM") == 0)
		suite = RL_SRTP_AEAD_AES_128_GCM;
	else if (strcmp(ms.srtp_suite, "AES_CM_128_HMAC_SHA1_80") == 0)
		suite = RL_SRTP_AES_CM_128_HMAC_SHA1_80;
	else {
		fprintf(stderr, "relais-hub: %s: media.srtp_suite: AEAD_AES_128_GCM or AES_CM_128_HMAC_SHA1_80\n",
		        conf_path);
		config_destroy(&cfg);
		return 1;
	}
	if ((rv = rl_hubha_load(&hx, &cfg, hs.id, err, sizeof(err))) < 0) {
		fprintf(stderr, "relais-hub: %s: %s\n", conf_path, err);
		rl_hubha_free(&hx);
		config_destroy(&cfg);
		return 1;
	}
	h.ha = rv == 1 ? &hx : NULL;
	config_lookup_string(&cfg, "tls.ca", &h.tls.ca_file);
	config_lookup_string(&cfg, "tls.cert", &h.tls.cert_file);
	config_lookup_string(&cfg, "tls.key", &h.tls.key_file);
	rl_log_init("relais-hub", rl_log_parse_level(level ? level : hs.log_level));
	/* Before any listener: a peer's reset handshake must not stop one (rl_nngfix.h). */
	if (rl_nngfix_install() != RL_OK)
		rl_log(RL_LOG_WARNING, "nng is linked in statically: a peer that resets its TLS handshake "
		                       "can stop a listener for good (docs/protocol.md, nng 1.5.2)");
	memset(&hc, 0, sizeof(hc));
	snprintf(hc.id, sizeof(hc.id), "%.64s", hs.id);
	snprintf(hc.data_dir, sizeof(hc.data_dir), "%s", hs.data_dir);
	hc.map_size_mb = hs.map_size_mb;
	hc.agent_grace_s = hs.agent_grace_s;
	hc.offer_timeout_s = hs.offer_timeout_s;
	hc.wrapup_s = hs.wrapup_s;
	hc.batch_max = hs.batch_max;
	hc.site_dead_ms = hs.site_dead_ms;
	hc.site_lost_end_s = hs.site_lost_end_s;
	hc.represent_window_s = hs.represent_window_s;

	if (rl_loop_create(&h.loop) != RL_OK || rl_bundler_create(&h.out) != RL_OK)
		goto out;
	if (rl_loop_catch_signals(h.loop, TAG_STOP) != RL_OK)
		goto out;
	if (rl_auth_start(&h.auth, h.loop, TAG_AUTH) != RL_OK)
		goto out;
	if (h.ha != NULL) { /* a hub pair: stand by (on the control socket too) until leading */
		if (hub_listen(&h, &cfg) != RL_OK)
			goto out;
		if ((rv = hub_stand_by(&h, &hc)) != RL_STANDBY_PROMOTED) {
			exit_code = rv == RL_STANDBY_STOPPED ? 0 : 1;
			goto out;
		}
		hub_before_lead(&h, &hc);
	}
	if ((rv = rl_engine_open(&h.engine, &hc, &cfg, send_cb, &h, rl_auth_submit, h.auth, rl_wall_us())) != RL_OK) {
		fprintf(stderr, "relais-hub: cannot start: %s (see log above)\n", rl_strerror(rv));
		goto out;
	}
	if (ms.relay_listen[0]) {
		struct rl_relay_conf rc = {ms.relay_listen, ms.relay_advertise[0] ? ms.relay_advertise : NULL,
		                           (unsigned)ms.relay_threads, (unsigned)ms.relay_idle_s * 1000u, 65536};
		if ((rv = rl_relay_open(&h.relay, &rc)) != RL_OK) {
			fprintf(stderr, "relais-hub: media relay on %s: %s\n", ms.relay_listen, rl_strerror(rv));
			goto out;
		}
		rl_log(RL_LOG_NOTICE, "media relay listen=%s advertise=%s", ms.relay_listen,
		       rl_relay_advertise(h.relay));
	}
	if (config_lookup(&cfg, "media.relay_check_ip") != NULL)
		rl_log(RL_LOG_WARNING, "config media.relay_check_ip is obsolete and ignored: a relay leg latches "
		                       "where it proves itself, whatever its IP (docs/voice.md)");
	rl_engine_set_media(h.engine, h.relay, suite);
	if (rl_report_worker_start(&h.reports, h.loop, TAG_REPORT) != RL_OK)
		goto out;
	rl_engine_set_reporter(h.engine, rl_report_submit, h.reports);
	rl_engine_set_addr_fn(h.engine, pipe_ip, &h);
	if (hs.metrics_listen[0] && open_metrics(&h.scrape, &hs, conf_path) != RL_OK)
		goto out;
	if (hs.wallboard_listen[0] && open_wallboard(&h, &hs, &cfg, conf_path) != RL_OK)
		goto out;
	if (h.ha == NULL && hub_listen(&h, &cfg) != RL_OK)
		goto out;
	if (h.ha != NULL && hub_lead(&h, &hc) != RL_OK)
		goto out;
	exit_code = hub_run(&h, &hc);
	if (exit_code == HUB_EXIT_DEPOSED) {
		/* Nothing this process holds may reach anyone now (held replies, pushes, a last
		 * commit): leave at once, as a crash would, and let the supervisor restart it. */
		fflush(NULL);
		_exit(HUB_EXIT_DEPOSED);
	}
	rl_exit_watchdog(5, exit_code); /* all is committed; do not hang on a peer */
out:
	if (h.ha != NULL) {
		rl_ha_stop(h.ha->ha); /* a leader resigns: its standby takes over at once */
		rl_repl_close(h.ha->repl);
	}
	rl_srv_close(h.srv);
	rl_scrape_close(h.scrape);
	if (h.engine != NULL)
		rl_engine_set_wallboard(h.engine, NULL, "", 0);
	rl_wallserve_close(h.wall);
	free(h.metrics.p);
	rl_auth_stop(h.auth);
	rl_report_worker_stop(h.reports); /* before the engine closes the store it reads */
	if (h.loop != NULL) {
		/* Drain what is still queued: messages, and logins the worker finished. */
		struct rl_loop_event ev;
		while (rl_loop_wait(h.loop, 0, &ev, 1) == 1) {
			if (ev.kind == RL_LOOP_MSG)
				nng_msg_free(ev.msg);
			else if (ev.src == TAG_AUTH)
				free(ev.ptr);
			else if (ev.src == TAG_REPORT)
				rl_report_job_free(ev.ptr);
			else if (ev.src == TAG_HA)
				free(ev.ptr);
			else if (ev.src == TAG_REPL_EV)
				rl_repl_event_free(ev.ptr);
		}
	}
	rl_engine_close(h.engine); /* releases its relay calls first */
	rl_relay_close(h.relay);
	rl_bundler_destroy(h.out);
	rl_loop_destroy(h.loop);
	if (h.ha != NULL)
		rl_hubha_free(h.ha);
	config_destroy(&cfg);
	return exit_code;
}
