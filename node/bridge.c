#include "bridge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_media.h"
#include "rl_media_pb.h"
#include "rl_scrape.h"
#include "rl_time.h"

/* The ended calls' quality, as their final reports said (what the agent's end sent us). */
static const double rl_mos_le[] = {1, 2, 3, 3.5, 4, 4.2, 4.4};
static const double rl_loss_le[] = {0.005, 0.01, 0.02, 0.05, 0.1};
static const double rl_jitter_le[] = {0.005, 0.01, 0.02, 0.04, 0.08};

struct rl_bridge {
	struct rl_bridge_conf conf;
	struct rl_prom_hist mos, loss, jitter;
	char caller_audio[1024], record_dir[1024], advertise[RL_WIRE_MAX_ID + 1];
	struct rl_media *media;
	uint64_t next_report_us;
	uint32_t seed;
};

int rl_bridge_open(struct rl_bridge **out, const struct rl_bridge_conf *conf)
{
	struct rl_bridge *b = rl_calloc(1, sizeof(*b));
	int rv;

	b->conf = *conf;
	b->mos = (struct rl_prom_hist){.le = rl_mos_le, .n = sizeof(rl_mos_le) / sizeof(rl_mos_le[0])};
	b->loss = (struct rl_prom_hist){.le = rl_loss_le, .n = sizeof(rl_loss_le) / sizeof(rl_loss_le[0])};
	b->jitter = (struct rl_prom_hist){.le = rl_jitter_le, .n = sizeof(rl_jitter_le) / sizeof(rl_jitter_le[0])};
	snprintf(b->caller_audio, sizeof(b->caller_audio), "%s", conf->caller_audio ? conf->caller_audio : "");
	snprintf(b->record_dir, sizeof(b->record_dir), "%s", conf->record_dir ? conf->record_dir : "");
	if (b->conf.rate == 0)
		b->conf.rate = 16000;
	if (b->conf.report_s == 0)
		b->conf.report_s = 5;
	if ((rv = rl_media_open(&b->media, conf->listen, conf->threads)) != RL_OK) {
		free(b);
		return rv;
	}
	snprintf(b->advertise, sizeof(b->advertise), "%s",
	         conf->advertise && conf->advertise[0] ? conf->advertise : rl_media_local(b->media));
	rl_log(RL_LOG_NOTICE, "media listening addr=%s advertise=%s threads=%u", rl_media_local(b->media), b->advertise,
	       rl_media_threads(b->media));
	*out = b;
	return RL_OK;
}

const char *rl_bridge_addr(const struct rl_bridge *b)
{
	return b->advertise;
}

struct rl_media *rl_bridge_media(struct rl_bridge *b)
{
	return b->media;
}

static void rl_bridge_report(struct rl_bridge *b, struct rl_client *hub, const char *id,
                             const struct rl_media_quality *q, int final)
{
	Relais__CallQuality cq;
	rl_env env;

	rl_media_quality_pb(q, id, final, &cq);
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_CALL_QUALITY;
	env.call_quality = &cq;
	rl_client_send(hub, &env); /* not acknowledged: the next report supersedes a lost one */
}

/* rl_bridge_voice gives leg a caller without a carrier leg: the WAV chosen for contact c,
 * else the configured WAV, else the generator; and a sink for the agent's voice (recorded,
 * or dropped). On failure nothing is left open. */
static int rl_bridge_voice(struct rl_bridge *b, const struct rl_contact *c, struct rl_media_leg *leg)
{
	char path[1200] = "";
	int rv = RL_ENOENT;

	if (c->voice[0] && (rv = rl_audio_wav_src(&leg->src, c->voice, leg->rate, 0)) != RL_OK)
		rl_log(RL_LOG_WARNING, "caller audio unavailable contact=%s file=%s err=\"%s\"", leg->id, c->voice,
		       rl_strerror(rv));
	if (rv != RL_OK && b->caller_audio[0])
		rv = rl_audio_wav_src(&leg->src, b->caller_audio, leg->rate, b->conf.caller_loop);
	else if (rv != RL_OK)
		rv = rl_audio_gen_src(&leg->src, leg->rate, b->seed++, 0);
	if (rv != RL_OK) {
		rl_log(RL_LOG_ERR, "caller audio unavailable file=%s err=\"%s\"", b->caller_audio, rl_strerror(rv));
		return rv;
	}
	if (b->record_dir[0]) {
		snprintf(path, sizeof(path), "%s/%s.agent.wav", b->record_dir, leg->id);
		rv = rl_audio_wav_sink(&leg->sink, path, leg->rate);
	} else {
		rv = rl_audio_null_sink(&leg->sink, leg->rate);
	}
	if (rv != RL_OK) {
		rl_log(RL_LOG_ERR, "cannot record contact=%s path=%s", leg->id, path);
		leg->src->close(leg->src);
	}
	return rv;
}

/* rl_bridge_start starts (or re-keys) contact c's media call on the plan in u. A carrier leg
 * c holds goes to the call; if the call cannot start, c keeps it. */
static void rl_bridge_start(struct rl_bridge *b, struct rl_contact *c, const Relais__ContactUpdate *u)
{
	struct rl_media_leg leg;
	int carrier = c->audio_src != NULL;
	int rv;

	if (rl_media_leg_from_pb(&leg, u->media) != RL_OK || strcmp(leg.id, c->id) != 0) {
		rl_log(RL_LOG_WARNING, "media plan refused contact=%s", c->id);
		return;
	}
	if (c->media_ssrc == leg.tx_ssrc)
		return; /* the same plan again (a re-pushed update) */
	leg.own_socket = 0;
	leg.rate = carrier ? c->audio_src->rate : b->conf.rate; /* a carrier leg's own rate */
	if (carrier) {
		/* the caller's own voice, and where the agent's goes */
		leg.src = c->audio_src;
		leg.sink = c->audio_sink;
	} else if (rl_bridge_voice(b, c, &leg) != RL_OK) {
		return;
	}
	if ((rv = rl_media_add(b->media, &leg)) != RL_OK) {
		rl_log(RL_LOG_ERR, "media start failed contact=%s err=\"%s\"", leg.id, rl_strerror(rv));
		if (!carrier) {
			leg.src->close(leg.src);
			leg.sink->close(leg.sink);
		}
		return;
	}
	if (carrier) {
		c->audio_src = NULL;
		c->audio_sink = NULL;
	}
	c->media_ssrc = leg.tx_ssrc;
	rl_log(RL_LOG_INFO, "media start contact=%s relayed=%d peer=%s%s", leg.id, u->media->relayed,
	       leg.peer[0] ? leg.peer : "(latch)", carrier ? " carrier=1" : "");
}

/* rl_bridge_end stops contact c's media call, logs and reports its final quality. */
static void rl_bridge_end(struct rl_bridge *b, struct rl_contact *c, struct rl_client *hub, const char *why)
{
	struct rl_media_quality q;

	if (c->media_ssrc == 0)
		return;
	c->media_ssrc = 0;
	if (rl_media_del(b->media, c->id, &q) != RL_OK)
		return;
	rl_log(RL_LOG_NOTICE,
	       "media end contact=%s why=%s t0_us=%llu frames=%llu rx=%llu lost=%lld fec=%llu concealed=%llu "
	       "jitter_ms=%.1f rtt_ms=%.1f mos=%.2f",
	       c->id, why, (unsigned long long)q.t0_wall_us, (unsigned long long)q.frames,
	       (unsigned long long)q.rx_packets, (long long)q.lost, (unsigned long long)q.fec,
	       (unsigned long long)q.concealed, q.jitter_ms, q.rtt_ms, q.mos);
	rl_bridge_report(b, hub, c->id, &q, 1);
	if (q.frames > 0) {
		rl_prom_hist_add(&b->mos, q.mos);
		rl_prom_hist_add(&b->loss, q.loss_pct / 100.0);
		rl_prom_hist_add(&b->jitter, q.jitter_ms / 1000.0);
	}
}

void rl_bridge_metrics(struct rl_bridge *b, struct rl_text *t)
{
	rl_prom_hist_write(t, "relais_node_call_mos",
	                   "Ended calls' MOS (E-model) as heard at the node, from the agent.", &b->mos);
	rl_prom_hist_write(t, "relais_node_call_loss_ratio", "Ended calls' packet loss from the agent, before FEC.",
	                   &b->loss);
	rl_prom_hist_write(t, "relais_node_call_jitter_seconds", "Ended calls' interarrival jitter from the agent.",
	                   &b->jitter);
}

void rl_bridge_update(struct rl_bridge *b, struct rl_contact *c, const Relais__ContactUpdate *u, struct rl_client *hub)
{
	if (u->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED && u->media != NULL)
		rl_bridge_start(b, c, u);
	else if (u->state == RELAIS__CONTACT_STATE__CONTACT_QUEUED)
		rl_bridge_end(b, c, hub, "transferred"); /* to another queue: this agent's call is over */
	else if (u->state == RELAIS__CONTACT_STATE__CONTACT_ENDED)
		rl_bridge_end(b, c, hub, "ended");
}

struct rl_report_ctx {
	char (*ids)[RL_WIRE_MAX_ID + 1];
	size_t n, cap;
};

static void rl_collect(void *arg, const char *id)
{
	struct rl_report_ctx *x = arg;

	if (x->n < x->cap)
		snprintf(x->ids[x->n++], RL_WIRE_MAX_ID + 1, "%s", id);
}

void rl_bridge_tick(struct rl_bridge *b, struct rl_client *hub, uint64_t now)
{
	struct rl_media_counters mc;
	struct rl_report_ctx x = {0};
	struct rl_media_quality q;

	if (now < b->next_report_us)
		return;
	b->next_report_us = now + (uint64_t)b->conf.report_s * 1000000u;
	rl_media_counters(b->media, &mc);
	if (mc.calls == 0)
		return;
	x.cap = mc.calls + 16;
	x.ids = rl_calloc(x.cap, sizeof(*x.ids));
	rl_media_each(b->media, rl_collect, &x);
	for (size_t i = 0; i < x.n; i++)
		if (rl_media_quality(b->media, x.ids[i], &q) == RL_OK)
			rl_bridge_report(b, hub, x.ids[i], &q, 0);
	free(x.ids);
}

unsigned rl_bridge_calls(struct rl_bridge *b)
{
	struct rl_media_counters mc;

	rl_media_counters(b->media, &mc);
	return mc.calls;
}

void rl_bridge_close(struct rl_bridge *b)
{
	if (b == NULL)
		return;
	rl_media_close(b->media);
	free(b);
}
