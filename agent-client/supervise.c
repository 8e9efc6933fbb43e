/*
 * supervise.c - the agent client as a supervisor's (supervise.h).
 */
#include "supervise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "audio_alsa.h"
#include "rl_alloc.h"
#include "rl_client.h"
#include "rl_err.h"
#include "rl_key.h"
#include "rl_log.h"
#include "rl_media.h"
#include "rl_media_pb.h"
#include "rl_time.h"

#define RL_SUP_LEAVE_WAIT_US 2000000u /* after asking to leave, wait this long for the answer */

struct rl_sup {
	const struct rl_supervise_conf *conf;
	struct rl_client *cl;
	Relais__MonitorMode want; /* the mode asked for */
	int ask;                  /* the request must go (again): a new mode, or a new link */
	int asked;                /* a request is on its way (rl_client re-sends it) */
	int done, exit_code;
	int step;                      /* the script's step now */
	uint64_t step_end_us;          /* when it ends */
	uint64_t leave_by_us;          /* leaving: give up waiting for the answer then */
	char call[RL_WIRE_MAX_ID + 1]; /* the contact whose leg runs, "" = none */
	uint32_t call_ssrc;
};

int rl_supervise_mode_parse(const char *s)
{
	static const char *const names[] = {"off", "listen", "whisper", "barge"};

	if (strcmp(s, "leave") == 0)
		return RELAIS__MONITOR_MODE__MONITOR_OFF;
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

int rl_supervise_script_parse(const char *spec, struct rl_supervise_conf *c)
{
	char buf[512], *save = NULL;

	if (strlen(spec) >= sizeof(buf))
		return RL_EINVAL;
	snprintf(buf, sizeof(buf), "%s", spec);
	c->nsteps = 0;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		int mode;
		if (colon == NULL || c->nsteps == RL_SUPERVISE_STEPS)
			return RL_EINVAL;
		*colon = 0;
		if ((mode = rl_supervise_mode_parse(tok)) < 0 || atof(colon + 1) <= 0)
			return RL_EINVAL;
		c->steps[c->nsteps++] = (struct rl_supervise_step){(Relais__MonitorMode)mode, atof(colon + 1)};
	}
	return c->nsteps > 0 ? RL_OK : RL_EINVAL;
}

/* ---------------------------------------------------------------------------------------- */
/* the supervisor's leg */

/* A supervisor who gave no voice says nothing: silence, not the scripted agents' generator. */
static int rl_quiet_read(struct rl_audio_src *s, int16_t *pcm, size_t n)
{
	(void)s;
	memset(pcm, 0, n * sizeof(*pcm));
	return RL_OK;
}

static void rl_quiet_close(struct rl_audio_src *s)
{
	free(s);
}

/* rl_sup_audio opens the leg's voice and ears; on failure nothing is left open. */
static int rl_sup_audio(const struct rl_phone_conf *pc, struct rl_media_leg *leg)
{
	char path[1200];
	int rv = RL_OK;

	if (pc->audio_in != NULL) {
		rv = rl_audio_wav_src(&leg->src, pc->audio_in, leg->rate, 0);
	} else if (pc->sound_card) {
		rv = rl_audio_alsa_src(&leg->src, pc->device, leg->rate);
	} else {
		leg->src = rl_calloc(1, sizeof(*leg->src));
		*leg->src = (struct rl_audio_src){.read = rl_quiet_read, .close = rl_quiet_close, .rate = leg->rate};
	}
	if (rv != RL_OK)
		return rv;
	snprintf(path, sizeof(path), "%s", pc->audio_out ? pc->audio_out : "");
	char *pct = strstr(path, "%c"); /* the contact's id in the file name, as the agent's */
	if (pct != NULL)
		snprintf(pct, sizeof(path) - (size_t)(pct - path), "%s%s", leg->id, strstr(pc->audio_out, "%c") + 2);
	if (pc->audio_out != NULL)
		rv = rl_audio_wav_sink(&leg->sink, path, leg->rate);
	else if (pc->sound_card)
		rv = rl_audio_alsa_sink(&leg->sink, pc->device, leg->rate);
	else
		rv = rl_audio_null_sink(&leg->sink, leg->rate);
	if (rv != RL_OK) {
		leg->src->close(leg->src);
		leg->src = NULL;
	}
	return rv;
}

static void rl_sup_leg_end(struct rl_sup *s)
{
	struct rl_media_quality q;

	if (!s->call[0] || s->conf->phone == NULL)
		return;
	if (rl_media_del(s->conf->phone->media, s->call, &q) == RL_OK)
		printf("supervisor=%s event=media_end contact=%s t0_us=%llu frames=%llu rx=%llu lost=%lld mos=%.2f\n",
		       s->conf->op, s->call, (unsigned long long)q.t0_wall_us, (unsigned long long)q.frames,
		       (unsigned long long)q.rx_packets, (long long)q.lost, q.mos);
	s->call[0] = 0;
	s->call_ssrc = 0;
}

/* rl_sup_leg_start runs the leg the hub planned (again only if it is a new one). */
static void rl_sup_leg_start(struct rl_sup *s, const Relais__MediaLeg *m)
{
	struct rl_media_leg leg;
	int rv;

	if (s->conf->phone == NULL || m == NULL)
		return;
	if (rl_media_leg_from_pb(&leg, m) != RL_OK) {
		rl_log(RL_LOG_WARNING, "supervisor leg refused: bad media plan");
		return;
	}
	if (s->call[0] && s->call_ssrc == leg.tx_ssrc)
		return;
	rl_sup_leg_end(s);
	leg.own_socket = 1;
	leg.rate = 16000;
	if ((rv = rl_sup_audio(s->conf->phone, &leg)) == RL_OK &&
	    (rv = rl_media_add(s->conf->phone->media, &leg)) != RL_OK) {
		leg.src->close(leg.src);
		leg.sink->close(leg.sink);
	}
	if (rv != RL_OK) {
		rl_log(RL_LOG_ERR, "supervisor leg cannot start err=\"%s\"", rl_strerror(rv));
		return;
	}
	snprintf(s->call, sizeof(s->call), "%s", leg.id);
	s->call_ssrc = leg.tx_ssrc;
	printf("supervisor=%s event=media_start contact=%s peer=%s\n", s->conf->op, leg.id, leg.peer);
}

/* ---------------------------------------------------------------------------------------- */
/* the session */

static void rl_sup_ready(void *arg)
{
	struct rl_sup *s = arg;

	s->ask = 1; /* a new link: the hub ended what the old one had */
}

static void rl_sup_want(struct rl_sup *s, Relais__MonitorMode mode)
{
	s->want = mode;
	s->ask = 1;
	if (mode == RELAIS__MONITOR_MODE__MONITOR_OFF && s->leave_by_us == 0)
		s->leave_by_us = rl_mono_us() + RL_SUP_LEAVE_WAIT_US;
}

static void rl_sup_request(struct rl_sup *s)
{
	Relais__MonitorRequest mr = RELAIS__MONITOR_REQUEST__INIT;
	rl_env env;

	if (!s->ask || s->asked || !rl_client_up(s->cl))
		return;
	rl_env_init(&env);
	mr.agent_id = (char *)s->conf->agent;
	mr.mode = s->want;
	env.body_case = RELAIS__ENVELOPE__BODY_MONITOR_REQUEST;
	env.monitor_request = &mr;
	if (rl_client_request(s->cl, &env, s, NULL) == RL_OK) {
		s->ask = 0;
		s->asked = 1;
	}
}

/* rl_sup_status takes the hub's word on the monitor: the answer to our request, or a change. */
static void rl_sup_status(struct rl_sup *s, const Relais__MonitorStatus *ms, int is_reply)
{
	char why[RL_WIRE_MAX_TEXT + 16] = "";

	if (ms->end_reason && ms->end_reason[0])
		snprintf(why, sizeof(why), " reason=\"%s\"", ms->end_reason);
	/* at_us: the wall clock when the hub's word came, to line recordings up with mode changes */
	printf("supervisor=%s event=monitor agent=%s contact=%s mode=%s at_us=%llu%s\n", s->conf->op, s->conf->agent,
	       ms->contact_id && ms->contact_id[0] ? ms->contact_id : "-", rl_monitor_mode_name(ms->mode),
	       (unsigned long long)rl_wall_us(), why);
	if (ms->mode != RELAIS__MONITOR_MODE__MONITOR_OFF) {
		rl_sup_leg_start(s, ms->media);
		return;
	}
	rl_sup_leg_end(s);
	/* Off: we left, or the call ended (unasked). An answer that is off while we still want
	 * a mode is our own earlier leave being answered: not the end. */
	if (!is_reply || s->want == RELAIS__MONITOR_MODE__MONITOR_OFF)
		s->done = 1;
}

static void rl_sup_input(struct rl_sup *s, nng_msg *msg)
{
	rl_env *env;
	void *cookie;
	int is_reply;

	if (rl_client_input(s->cl, msg, &env, &cookie, &is_reply) != RL_OK)
		return;
	if (is_reply && cookie == s)
		s->asked = 0;
	if (env->body_case == RELAIS__ENVELOPE__BODY_MONITOR_STATUS) {
		rl_sup_status(s, env->monitor_status, is_reply);
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_ERROR && is_reply) {
		printf("supervisor=%s event=monitor_refused agent=%s code=%d message=\"%s\"\n", s->conf->op,
		       s->conf->agent, (int)env->error->code, env->error->message ? env->error->message : "");
		s->done = 1;
		s->exit_code = 2;
	}
	fflush(stdout);
	rl_wire_free(env);
}

/* rl_sup_script moves the script to its next step when the step's time is up. */
static void rl_sup_script(struct rl_sup *s, uint64_t now)
{
	const struct rl_supervise_conf *c = s->conf;

	if (c->nsteps == 0 || now < s->step_end_us || s->want == RELAIS__MONITOR_MODE__MONITOR_OFF)
		return;
	if (++s->step >= c->nsteps) {
		rl_sup_want(s, RELAIS__MONITOR_MODE__MONITOR_OFF);
		return;
	}
	s->step_end_us = now + (uint64_t)(c->steps[s->step].seconds * 1e6);
	rl_sup_want(s, c->steps[s->step].mode);
}

/* rl_sup_key: l, w, b change the mode; q (or Ctrl-C in raw mode) leaves. */
static void rl_sup_key(struct rl_sup *s, int key)
{
	static const char keys[] = "?lwb";
	const char *k = key > 0 ? strchr(keys + 1, key) : NULL;

	if (k != NULL)
		rl_sup_want(s, (Relais__MonitorMode)(k - keys));
	else if (key == 'q' || key == 3)
		rl_sup_want(s, RELAIS__MONITOR_MODE__MONITOR_OFF);
}

static int rl_sup_open(struct rl_sup *s, struct rl_loop *loop, struct rl_key *key)
{
	const struct rl_supervise_conf *c = s->conf;
	struct rl_client_opts o = {.url = c->url,
	                           .tls = c->tls,
	                           .role = RELAIS__ROLE__ROLE_CTL,
	                           .name = "relais-agent (supervisor)",
	                           .principal = c->op,
	                           .key = key,
	                           .on_ready = rl_sup_ready,
	                           .ready_arg = s};
	int rv;

	if ((rv = rl_key_load(key, c->key_file)) != RL_OK) {
		fprintf(stderr, "relais-agent: %s: %s\n", c->key_file, rl_strerror(rv));
		return 2;
	}
	rv = rl_client_open(&s->cl, &o, loop, 0);
	rl_key_wipe(key);
	if (rv != RL_OK) {
		fprintf(stderr, "relais-agent: cannot dial %s\n", c->url);
		return 1;
	}
	return 0;
}

int rl_supervise_run(const struct rl_supervise_conf *c, struct rl_loop *loop, int key_tag, int stop_tag)
{
	struct rl_sup s = {.conf = c};
	struct rl_loop_event evs[32];
	struct rl_key key;
	int rv;

	if ((rv = rl_sup_open(&s, loop, &key)) != 0)
		return rv;
	s.step_end_us = c->nsteps ? rl_mono_us() + (uint64_t)(c->steps[0].seconds * 1e6) : UINT64_MAX;
	rl_sup_want(&s, c->nsteps ? c->steps[0].mode : c->mode);
	while (!s.done && (s.leave_by_us == 0 || rl_mono_us() < s.leave_by_us)) {
		int n = rl_loop_wait(loop, 50, evs, 32);
		for (int i = 0; i < n; i++) {
			if (evs[i].kind == RL_LOOP_MSG && evs[i].src == 0)
				rl_sup_input(&s, evs[i].msg);
			else if (evs[i].kind == RL_LOOP_MSG)
				nng_msg_free(evs[i].msg);
			else if (evs[i].src == stop_tag)
				rl_sup_want(&s, RELAIS__MONITOR_MODE__MONITOR_OFF);
			else if (c->keys && evs[i].src == key_tag)
				rl_sup_key(&s, (int)(uintptr_t)evs[i].ptr);
		}
		rl_sup_script(&s, rl_mono_us());
		rl_sup_request(&s);
		rl_client_tick(s.cl);
	}
	rl_sup_leg_end(&s);
	fflush(stdout);
	rl_client_close(s.cl);
	return s.exit_code;
}
