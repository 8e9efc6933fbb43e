#include "phone.h"

#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "audio_alsa.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_media.h"
#include "rl_media_pb.h"
#include "rl_time.h"

/* rl_phone_path expands %c (contact) and %a (agent) in a file name. */
static void rl_phone_path(char *out, size_t len, const char *tmpl, const char *contact, const char *agent)
{
	size_t o = 0;

	for (const char *p = tmpl; *p && o + 1 < len; p++) {
		const char *ins = NULL;
		if (p[0] == '%' && p[1] == 'c')
			ins = contact;
		else if (p[0] == '%' && p[1] == 'a')
			ins = agent;
		if (ins != NULL) {
			o += (size_t)snprintf(out + o, len - o, "%s", ins);
			if (o >= len)
				o = len - 1;
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = 0;
}

static void rl_phone_report(struct rl_agent_sess *a, const struct rl_media_quality *q, int final)
{
	Relais__CallQuality cq;
	rl_env env;

	rl_media_quality_pb(q, a->call, final, &cq);
	rl_env_init(&env);
	env.session = a->session;
	env.body_case = RELAIS__ENVELOPE__BODY_CALL_QUALITY;
	env.call_quality = &cq;
	rl_client_send(a->cl, &env); /* not acknowledged: the next report supersedes a lost one */
}

void rl_phone_end(struct rl_agent_sess *a)
{
	struct rl_media_quality q;

	if (a->phone == NULL || !a->call[0])
		return;
	if (rl_media_del(a->phone->media, a->call, &q) == RL_OK) {
		rl_agent_emit(a,
		              "event=media_end contact=%s relayed=%d t0_us=%llu frames=%llu rx=%llu lost=%lld fec=%llu "
		              "concealed=%llu jitter_ms=%.1f rtt_ms=%.1f playout_ms=%.0f mos=%.2f",
		              a->call, a->call_relayed, (unsigned long long)q.t0_wall_us, (unsigned long long)q.frames,
		              (unsigned long long)q.rx_packets, (long long)q.lost, (unsigned long long)q.fec,
		              (unsigned long long)q.concealed, q.jitter_ms, q.rtt_ms, q.playout_ms, q.mos);
		a->last_mos = q.mos;
		if (a->session)
			rl_phone_report(a, &q, 1);
	}
	a->call[0] = 0;
	a->call_ssrc = 0;
}

static int rl_phone_open_audio(struct rl_agent_sess *a, struct rl_media_leg *leg)
{
	const struct rl_phone_conf *pc = a->phone;
	char path[1200];
	int rv;

	if (pc->audio_in != NULL)
		rv = rl_audio_wav_src(&leg->src, pc->audio_in, leg->rate, 0);
	else if (pc->sound_card)
		rv = rl_audio_alsa_src(&leg->src, pc->device, leg->rate);
	else
		rv = rl_audio_gen_src(&leg->src, leg->rate, (uint32_t)a->rng, 0);
	if (rv != RL_OK) {
		rl_log(RL_LOG_ERR, "agent=%s no voice source err=\"%s\"", a->id, rl_strerror(rv));
		return rv;
	}
	if (pc->audio_out != NULL) {
		rl_phone_path(path, sizeof(path), pc->audio_out, leg->id, a->id);
		rv = rl_audio_wav_sink(&leg->sink, path, leg->rate);
	} else if (pc->sound_card) {
		rv = rl_audio_alsa_sink(&leg->sink, pc->device, leg->rate);
	} else {
		rv = rl_audio_null_sink(&leg->sink, leg->rate);
	}
	if (rv != RL_OK) {
		rl_log(RL_LOG_ERR, "agent=%s no playback err=\"%s\"", a->id, rl_strerror(rv));
		leg->src->close(leg->src);
		leg->src = NULL;
	}
	return rv;
}

void rl_phone_status(struct rl_agent_sess *a, const Relais__AgentStatus *st)
{
	struct rl_media_leg leg;
	int rv;

	if (a->phone == NULL)
		return;
	/* Leaving the call (hung up, caller left, logged out): its media ends. */
	if (a->call[0] && (st->state != RELAIS__AGENT_STATE__AGENT_BUSY || strcmp(a->call, a->contact) != 0))
		rl_phone_end(a);
	if (st->state != RELAIS__AGENT_STATE__AGENT_BUSY || st->media == NULL)
		return;
	if (rl_media_leg_from_pb(&leg, st->media) != RL_OK || strcmp(leg.id, a->contact) != 0) {
		rl_log(RL_LOG_WARNING, "agent=%s media plan refused", a->id);
		return;
	}
	if (a->call[0] && a->call_ssrc == leg.tx_ssrc)
		return; /* the same plan, told again */
	leg.own_socket = 1;
	leg.rate = 16000;
	if (rl_phone_open_audio(a, &leg) != RL_OK)
		return;
	if ((rv = rl_media_add(a->phone->media, &leg)) != RL_OK) {
		rl_log(RL_LOG_ERR, "agent=%s media start failed err=\"%s\"", a->id, rl_strerror(rv));
		leg.src->close(leg.src);
		leg.sink->close(leg.sink);
		return;
	}
	snprintf(a->call, sizeof(a->call), "%s", leg.id);
	a->call_ssrc = leg.tx_ssrc;
	a->call_relayed = st->media->relayed;
	a->next_report_us = rl_mono_us() + (uint64_t)(a->phone->report_s ? a->phone->report_s : 5) * 1000000u;
	rl_agent_emit(a, "event=media_start contact=%s relayed=%d peer=%s suite=%s", leg.id, a->call_relayed, leg.peer,
	              rl_srtp_suite_name(leg.suite));
}

void rl_phone_tick(struct rl_agent_sess *a, uint64_t now)
{
	struct rl_media_quality q;

	if (a->phone == NULL || !a->call[0] || now < a->next_report_us)
		return;
	a->next_report_us = now + (uint64_t)(a->phone->report_s ? a->phone->report_s : 5) * 1000000u;
	if (rl_media_quality(a->phone->media, a->call, &q) == RL_OK && a->session) {
		a->last_mos = q.mos;
		rl_phone_report(a, &q, 0);
	}
}
