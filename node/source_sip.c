#include "source_sip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "call_phase.h"
#include "carrier.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_htab.h"
#include "rl_log.h"
#include "rl_scrape.h"
#include "rl_media.h"
#include "rl_time.h"

#define RL_ANNOUNCE_ASK_US 5000000u /* no position from the hub that soon: skip this announcement */

/* While a caller who hears us waits: where the cycle of music and announcements is. */
enum rl_sc_say {
	SAY_MUSIC,   /* the hold music plays; the position is asked for at say_at_us */
	SAY_ASKED,   /* the position was asked for; no answer by say_at_us: skip this one */
	SAY_PLAYING, /* an announcement plays instead of the music */
};

/* One carrier call. It lives until both its SIP dialog and its contact are over: the node
 * keeps it as the contact's cookie until the hub says the contact ended. Its phase
 * (call_phase.h) changes in rl_sc_event only. */
struct rl_scall {
	uint64_t call;
	struct rl_sip_event inv;  /* the INVITE: caller, DID, media */
	struct rl_dialplan *plan; /* the plan it started with (a reference): did points in it */
	const struct rl_dial_did *did;
	struct rl_carrier *leg;
	enum rl_sc_phase phase;
	int dialog_over;                  /* RL_SIP_EV_ENDED seen */
	int contact_live;                 /* submitted, and neither refused nor ended yet */
	int connected_once;               /* an agent was connected to the caller here */
	char contact[RL_WIRE_MAX_ID + 1]; /* the hub's id once acknowledged */
	char local[RL_WIRE_MAX_ID + 1];   /* id of the prompt/hold call in the media engine */
	int local_live;                   /* that call is in the engine */
	enum rl_sc_say say;               /* waiting phases that hear us only */
	uint64_t say_at_us;
	struct rl_ivr ivr;
};

/* What an event brings besides its kind (fields for other events are unused). */
struct rl_sc_arg {
	const char *queue;              /* QUEUE */
	uint32_t priority;              /* QUEUE */
	const Relais__ContactUpdate *u; /* AGENT, REQUEUED, XFER_ASK */
	const char *how;                /* LEFT, DIALOG_ENDED */
	int status;                     /* XFER_DONE, XFER_FAILED */
	const char *reason;             /* XFER_DONE, XFER_FAILED, REFUSED */
};

struct rl_sipsrc {
	struct rl_source base;
	struct rl_sip_source_conf conf;
	struct rl_sip *sip;
	struct rl_htab calls; /* by SIP call id */
	uint64_t answered, queued, abandoned, released, unknown_did, announcements, transferred, transfers_out,
	    overloaded, no_media_port, no_plan;
};

static struct rl_sipsrc *rl_ss(struct rl_source *s)
{
	return (struct rl_sipsrc *)s->impl;
}

static struct rl_media *rl_ss_media(struct rl_sipsrc *ss)
{
	return rl_node_media(ss->base.node);
}

/* The telephone-event payload type the carrier leg decodes: the offer's, unless it is none
 * or collides with the audio's. */
static int rl_sc_dtmf_pt(const struct rl_sip_media *m)
{
	return m->dtmf_pt >= 0 && m->dtmf_pt != m->pt ? m->dtmf_pt : -1;
}

/* ---------------------------------------------------------------------------------------- */
/* what the caller hears from us: prompts, music, announcements (a local call in the media
 * engine that plays to the carrier leg and drains what the caller sends, digits included) */

static void rl_sc_local_stop(struct rl_sipsrc *ss, struct rl_scall *c)
{
	if (c->local_live && rl_ss_media(ss) != NULL)
		rl_media_del(rl_ss_media(ss), c->local, NULL);
	c->local_live = 0;
}

/* rl_sc_rate: the audio rate of call c inside the node - its prompts, and its Opus towards the
 * agent. A G.711 caller is narrowband: 8 kHz carries all of it, at half the Opus encoder's
 * cost of 16 kHz (bench/codec (a)); an Opus carrier may send wideband speech, kept at 16 kHz. */
static unsigned rl_sc_rate(const struct rl_scall *c)
{
	return c->inv.media.codec == RL_SIP_OPUS ? 16000 : 8000;
}

/* rl_sc_play_src plays play (taken; NULL = silence) to the caller. */
static int rl_sc_play_src(struct rl_sipsrc *ss, struct rl_scall *c, struct rl_audio_src *play)
{
	struct rl_audio_src *listen;
	struct rl_audio_sink *to;
	struct rl_media *m = rl_ss_media(ss);
	int rv;

	if (m == NULL || c->leg == NULL) {
		if (play)
			play->close(play);
		return RL_ENOENT;
	}
	listen = rl_carrier_src(c->leg);
	to = rl_carrier_sink(c->leg);
	if ((rv = rl_media_add_local(m, c->local, rl_sc_rate(c), play, to, listen, NULL)) != RL_OK) {
		if (play)
			play->close(play);
		listen->close(listen);
		to->close(to);
		return rv;
	}
	c->local_live = 1;
	return RL_OK;
}

/* rl_sc_play plays path (loop: hold music) to the caller; path "" = silence. */
static int rl_sc_play(struct rl_sipsrc *ss, struct rl_scall *c, const char *path, int loop)
{
	struct rl_audio_src *play = NULL;
	int rv;

	if (path[0] && (rv = rl_audio_wav_src(&play, path, rl_sc_rate(c), loop)) != RL_OK) {
		rl_log(RL_LOG_WARNING, "prompt unavailable file=%s err=\"%s\"", path, rl_strerror(rv));
		play = NULL; /* silence: the call goes on */
	}
	return rl_sc_play_src(ss, c, play);
}

static void rl_sc_free(struct rl_sipsrc *ss, struct rl_scall *c)
{
	struct rl_carrier_stats st;

	rl_carrier_stats(c->leg, &st);
	rl_log(RL_LOG_NOTICE,
	       "carrier end call=%llu contact=%s caller=%s did=%s rx=%llu audio=%llu sent=%llu malformed=%llu "
	       "wrong_src=%llu concealed=%llu dtmf=%llu dtmf_info=%llu dtmf_dup=%llu",
	       (unsigned long long)c->call, c->contact[0] ? c->contact : "-", c->inv.caller, c->inv.dialled,
	       (unsigned long long)st.rx, (unsigned long long)st.audio, (unsigned long long)st.sent,
	       (unsigned long long)st.malformed, (unsigned long long)st.wrong_src, (unsigned long long)st.concealed,
	       (unsigned long long)st.dtmf_digits, (unsigned long long)st.dtmf_info, (unsigned long long)st.dtmf_dup);
	rl_sc_local_stop(ss, c);
	rl_carrier_close(c->leg);
	rl_htab_del(&ss->calls, c->call, c);
	rl_dialplan_unref(c->plan);
	free(c);
}

/* rl_sc_maybe_free frees c once both its dialog and its contact are over. */
static void rl_sc_maybe_free(struct rl_sipsrc *ss, struct rl_scall *c)
{
	if (c->dialog_over && !c->contact_live)
		rl_sc_free(ss, c);
}

/* ---------------------------------------------------------------------------------------- */
/* the steps of a move (see rl_sc_event) */

static void rl_sc_answer(struct rl_sipsrc *ss, struct rl_scall *c)
{
	rl_sip_answer(ss->sip, c->call, ss->conf.media_ip, (uint16_t)rl_carrier_port(c->leg), c->inv.media.codec,
	              rl_sc_dtmf_pt(&c->inv.media));
	ss->answered++;
}

static int rl_sc_progress(struct rl_sipsrc *ss, struct rl_scall *c)
{
	return rl_sip_progress(ss->sip, c->call, ss->conf.media_ip, (uint16_t)rl_carrier_port(c->leg),
	                       c->inv.media.codec, rl_sc_dtmf_pt(&c->inv.media));
}

/* rl_sc_submit hands the contact to the node: caller, DID, the menu's answers. */
static int rl_sc_submit(struct rl_sipsrc *ss, struct rl_scall *c, const char *queue, uint32_t priority)
{
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	Relais__KeyValue kv[RL_IVR_MAX_ANSWERS + 1], *kvp[RL_IVR_MAX_ANSWERS + 1];
	struct rl_contact_req req = {0};
	int n = 0, rv;

	pop.caller = c->inv.caller;
	pop.dialled = c->inv.dialled;
	for (int i = 0; i < c->ivr.nans && n < RL_IVR_MAX_ANSWERS; i++, n++) {
		relais__key_value__init(&kv[n]);
		kv[n].key = c->ivr.ans[i].key;
		kv[n].value = c->ivr.ans[i].value;
		kvp[n] = &kv[n];
	}
	if (c->inv.caller_name[0]) {
		relais__key_value__init(&kv[n]);
		kv[n].key = "caller_name";
		kv[n].value = c->inv.caller_name;
		kvp[n] = &kv[n];
		n++;
	}
	pop.n_data = (size_t)n;
	pop.data = kvp;
	req.tenant_id = c->did->tenant;
	req.queue_id = queue;
	req.priority = priority;
	req.pop = &pop;
	if ((rv = rl_node_submit(ss->base.node, &ss->base, &req, c)) != RL_OK)
		return rv;
	c->contact_live = 1;
	ss->queued++;
	return RL_OK;
}

/* rl_sc_refer asks the carrier to take the caller to the number the agent chose. */
static int rl_sc_refer(struct rl_sipsrc *ss, struct rl_scall *c, const Relais__ContactUpdate *u)
{
	int rv = rl_sip_refer(ss->sip, c->call, u->transfer_to);

	rl_log(RL_LOG_INFO, "carrier transfer asked call=%llu contact=%s to=%s err=\"%s\"", (unsigned long long)c->call,
	       c->contact, u->transfer_to, rv == RL_OK ? "" : rl_strerror(rv));
	if (rv != RL_OK)
		rl_node_transfer_result(ss->base.node, c->contact, 0, 0, rl_strerror(rv));
	return rv;
}

/* The hub hears what it must of the move: the caller left, or how a transfer went. */
static void rl_sc_tell_hub(struct rl_sipsrc *ss, struct rl_scall *c, unsigned todo, const struct rl_sc_arg *a)
{
	if (todo & RL_SC_DO_CANCEL) {
		/* Never connected: no agent was put through here - or one was, but the caller's
		 * CANCEL came first at the SIP stack (a CANCEL ends only an INVITE not yet answered:
		 * our 200 never went out, the caller heard nobody). */
		int cancelled = a->how != NULL && strcmp(a->how, "cancel") == 0;
		rl_node_cancel(ss->base.node, c->contact, RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED,
		               !c->connected_once || cancelled);
		ss->abandoned++;
	}
	if (todo & RL_SC_DO_RESULT)
		rl_node_transfer_result(ss->base.node, c->contact, a->status < 300, (unsigned)a->status, a->reason);
}

/* The caller's side of the SIP dialog, at the end of our part in it. */
static void rl_sc_release(struct rl_sipsrc *ss, struct rl_scall *c, unsigned todo)
{
	if (todo & RL_SC_DO_HANGUP)
		rl_sip_hangup(ss->sip, c->call);
	else if (todo & RL_SC_DO_REJECT)
		rl_sip_reject(ss->sip, c->call, 503, "Cannot queue the call", ss->conf.sip.retry_after_s);
	else if (todo & RL_SC_DO_UNAVAIL)
		rl_sip_reject(ss->sip, c->call, 480, "Temporarily unavailable", 0);
}

static void rl_sc_ivr_step(struct rl_sipsrc *ss, struct rl_scall *c, const struct rl_ivr_step *st);

/* What the caller hears on entering the new phase. */
static void rl_sc_enter(struct rl_sipsrc *ss, struct rl_scall *c, unsigned todo)
{
	if (todo & (RL_SC_DO_MUSIC | RL_SC_DO_SILENCE)) {
		/* In queue (again): announcements start over, the first after announce_first_s. */
		c->say = SAY_MUSIC;
		c->say_at_us = rl_mono_us() + (uint64_t)ss->conf.announce_first_s * 1000000u;
	}
	if (todo & RL_SC_DO_MUSIC)
		rl_sc_play(ss, c, ss->conf.hold_music, 1);
	else if (todo & RL_SC_DO_SILENCE)
		rl_sc_play(ss, c, "", 0); /* the leg is drained meanwhile (nothing is sent) */
	if (todo & RL_SC_DO_MENU) {
		struct rl_ivr_step st;
		rl_ivr_start(&c->ivr, &c->plan->menus, rl_ivr_find(&c->plan->menus, c->did->menu), rl_mono_us(), &st);
		rl_sc_ivr_step(ss, c, &st);
	}
}

/* The move's log line: the event's own at INFO where there is one, the phase change at DEBUG. */
static void rl_sc_log(const struct rl_scall *c, enum rl_sc_event ev, enum rl_sc_phase from, const struct rl_sc_arg *a)
{
	unsigned long long call = (unsigned long long)c->call;
	const char *contact = c->contact[0] ? c->contact : "-";

	if (c->phase != from)
		rl_log(RL_LOG_DEBUG, "carrier call phase call=%llu contact=%s from=%s to=%s", call, contact,
		       rl_sc_phase_name(from), rl_sc_phase_name(c->phase));
	if (ev == RL_SC_EV_QUEUE)
		rl_log(RL_LOG_INFO, "carrier call queued call=%llu caller=%s did=%s queue=%s priority=%u", call,
		       c->inv.caller, c->inv.dialled, a->queue, a->priority);
	else if (ev == RL_SC_EV_NOT_QUEUED)
		rl_log(RL_LOG_ERR, "cannot queue carrier call call=%llu", call);
	else if (ev == RL_SC_EV_REFUSED)
		rl_log(RL_LOG_WARNING, "hub refused a carrier call call=%llu err=\"%s\"", call, a->reason);
	else if (ev == RL_SC_EV_AGENT)
		rl_log(RL_LOG_INFO, "carrier call connected call=%llu contact=%s agent=%s", call, contact,
		       a->u->agent_id ? a->u->agent_id : "");
	else if (ev == RL_SC_EV_REQUEUED)
		rl_log(RL_LOG_INFO, "carrier call back in queue call=%llu contact=%s (transferred)", call, contact);
	else if (ev == RL_SC_EV_XFER_DONE || ev == RL_SC_EV_XFER_FAILED)
		rl_log(RL_LOG_INFO, "carrier transfer %s call=%llu contact=%s status=%d reason=\"%s\"",
		       ev == RL_SC_EV_XFER_DONE ? "done" : "failed", call, contact, a->status, a->reason);
	else if ((ev == RL_SC_EV_LEFT || ev == RL_SC_EV_DIALOG_ENDED) && c->phase == RL_SC_GONE)
		rl_log(RL_LOG_INFO, "caller left call=%llu how=%s contact=%s", call, a->how, contact);
}

/*
 * rl_sc_event: the one place where a carrier call changes phase. rl_sc_next (call_phase.c)
 * says where event ev takes the call and what to do; this does it, always in this order:
 * the SIP answer side (183/180, 200), the submission, the REFER, what plays stops and the leg
 * goes to the contact for the agent's media call, the hub hears of it, the dialog is ended,
 * the phase is set and the move logged, and the new phase's sound (or menu) starts. A step
 * that cannot be taken changes the move: no 183 means ringback instead of early media, no
 * submission means the call is released, no REFER means the agent keeps the caller.
 * Returns 1 if ev meant something in the call's phase. The caller frees the call when it
 * may be over.
 */
static int rl_sc_event(struct rl_sipsrc *ss, struct rl_scall *c, enum rl_sc_event ev, const struct rl_sc_arg *a)
{
	struct rl_sc_facts f = {.early = c->did->menu[0] == '\0' && c->did->early_media,
	                        .contact_known = c->contact[0] != '\0'};
	enum rl_sc_phase from = c->phase;
	struct rl_sc_move m;

	if (!rl_sc_next(from, ev, &f, &m))
		return 0;
	if ((m.todo & RL_SC_DO_PROGRESS) && rl_sc_progress(ss, c) != RL_OK) {
		f.early = 0;
		rl_sc_next(from, ev, &f, &m);
	}
	if (m.todo & RL_SC_DO_RINGING)
		rl_sip_ringing(ss->sip, c->call);
	if (m.todo & RL_SC_DO_ANSWER)
		rl_sc_answer(ss, c);
	if ((m.todo & RL_SC_DO_SUBMIT) && rl_sc_submit(ss, c, a->queue, a->priority) != RL_OK)
		return rl_sc_event(ss, c, RL_SC_EV_NOT_QUEUED, a);
	if ((m.todo & RL_SC_DO_REFER) && rl_sc_refer(ss, c, a->u) != RL_OK)
		return 1;
	if (m.todo & RL_SC_DO_STOP)
		rl_sc_local_stop(ss, c);
	c->connected_once |= (m.todo & RL_SC_DO_BRIDGE) != 0;
	if ((m.todo & RL_SC_DO_BRIDGE) &&
	    rl_node_attach_audio(ss->base.node, c->contact, rl_carrier_src(c->leg), rl_carrier_sink(c->leg)) != RL_OK)
		rl_log(RL_LOG_ERR, "cannot bridge carrier call contact=%s", c->contact);
	rl_sc_tell_hub(ss, c, m.todo, a);
	rl_sc_release(ss, c, m.todo);
	c->phase = m.to;
	rl_sc_log(c, ev, from, a);
	rl_sc_enter(ss, c, m.todo);
	return 1;
}

/* What the menu asks for: a prompt (within the menu), or the end of the menu. */
static void rl_sc_ivr_step(struct rl_sipsrc *ss, struct rl_scall *c, const struct rl_ivr_step *st)
{
	struct rl_sc_arg a = {0};

	if (st->what == RL_IVR_PLAY) {
		rl_sc_play(ss, c, st->prompt, 0);
	} else if (st->what == RL_IVR_QUEUE) {
		a.queue = st->queue;
		a.priority = st->priority;
		rl_sc_event(ss, c, RL_SC_EV_QUEUE, &a);
	} else if (st->what == RL_IVR_RELEASE && rl_sc_event(ss, c, RL_SC_EV_MENU_RELEASE, &a)) {
		ss->released++;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* SIP events, on the node's loop */

/* rl_ss_admit: may the site take a call to this number now? Answers it if not. */
static const struct rl_dial_did *rl_ss_admit(struct rl_sipsrc *ss, const struct rl_sip_event *ev)
{
	const struct rl_dialplan *plan = rl_node_dialplan(ss->base.node);
	const struct rl_dial_did *did = rl_dialplan_did(plan, ev->dialled);
	unsigned load;

	if (plan == NULL) {
		/* Started without the hub and without a saved plan: an SBC tries another site. */
		ss->no_plan++;
		rl_log(RL_LOG_NOTICE, "carrier call refused: no dial plan yet did=%s caller=%s", ev->dialled,
		       ev->caller);
		rl_sip_reject(ss->sip, ev->call, 503, "No dial plan yet", ss->conf.sip.retry_after_s);
		return NULL;
	}
	if (did == NULL) {
		ss->unknown_did++;
		rl_log(RL_LOG_NOTICE, "carrier call to an unknown number did=%s caller=%s", ev->dialled, ev->caller);
		rl_sip_reject(ss->sip, ev->call, 404, "No such number here", 0);
		return NULL;
	}
	load = rl_media_load(rl_ss_media(ss));
	if (ss->conf.max_media_load > 0 && load >= ss->conf.max_media_load) {
		/* A media thread no longer keeps up: a call taken now would not be answered in
		 * time, and would slow every call in progress. An SBC tries another site. */
		ss->overloaded++;
		rl_log(RL_LOG_NOTICE, "carrier call refused: media busy load=%u%% limit=%u%% caller=%s did=%s", load,
		       ss->conf.max_media_load, ev->caller, ev->dialled);
		rl_sip_reject(ss->sip, ev->call, 503, "Site busy", ss->conf.sip.retry_after_s);
		return NULL;
	}
	return did;
}

/* rl_sc_open_leg opens the call's RTP leg towards the carrier's offer. */
static int rl_sc_open_leg(struct rl_sipsrc *ss, struct rl_scall *c)
{
	const struct rl_sip_media *m = &c->inv.media;
	struct rl_carrier_conf cc;
	int rv;

	rl_carrier_conf_default(&cc);
	cc.codec = m->codec == RL_SIP_OPUS   ? RL_CARRIER_OPUS
	           : m->codec == RL_SIP_PCMA ? RL_CARRIER_G711A
	                                     : RL_CARRIER_G711U;
	cc.pt = m->pt; /* as offered: static or dynamic */
	cc.dtmf_pt = rl_sc_dtmf_pt(m);
	cc.dtmf_clock = m->dtmf_rate == 48000 ? 48000 : RL_CARRIER_CLOCK;
	cc.rate = rl_sc_rate(c);
	cc.port_min = ss->conf.rtp_min;
	cc.port_max = ss->conf.rtp_max;
	if ((rv = rl_carrier_open(&c->leg, ss->conf.media_ip, &cc)) != RL_OK ||
	    (rv = rl_carrier_set_peer(c->leg, m->ip, m->port)) != RL_OK) {
		rl_log(RL_LOG_ERR, "carrier leg unavailable call=%llu err=\"%s\"", (unsigned long long)c->call,
		       rl_strerror(rv));
		rl_carrier_close(c->leg);
		c->leg = NULL;
	}
	return rv;
}

static void rl_ss_invite(struct rl_sipsrc *ss, const struct rl_sip_event *ev)
{
	const struct rl_dial_did *did = rl_ss_admit(ss, ev);
	struct rl_sc_arg a = {0};
	struct rl_scall *c;
	int rv;

	if (did == NULL)
		return;
	c = rl_calloc(1, sizeof(*c));
	c->call = ev->call;
	c->inv = *ev;
	c->did = did;
	c->phase = RL_SC_OFFERED;
	snprintf(c->local, sizeof(c->local), "sip:%llu", (unsigned long long)ev->call);
	if ((rv = rl_sc_open_leg(ss, c)) != RL_OK) {
		/* At once, so an SBC tries another site. A spent port pool (RL_EFULL) is counted:
		 * max_calls is kept within the pool at start (main.c), so it means legs still held
		 * by calls whose dialogs just ended, or ports some other program holds. */
		free(c);
		if (rv == RL_EFULL)
			ss->no_media_port++;
		rl_sip_reject(ss->sip, ev->call, 503, "No media port", ss->conf.sip.retry_after_s);
		return;
	}
	c->plan = rl_dialplan_ref(rl_node_dialplan(ss->base.node));
	rl_htab_put(&ss->calls, c->call, c);
	if (did->menu[0] && rl_ivr_find(&c->plan->menus, did->menu) != NULL) {
		rl_sc_event(ss, c, RL_SC_EV_MENU, &a);
		return;
	}
	/* No menu: the caller hears the carrier's ringing until an agent answers, or our hold
	 * music in early media. */
	a.queue = did->queue;
	a.priority = did->priority;
	rl_sc_event(ss, c, RL_SC_EV_QUEUE, &a);
}

/* The caller left (BYE, CANCEL) or the dialog ended: the contact is abandoned wherever it
 * is, and the call is freed once the contact is over too. */
static void rl_ss_dialog(struct rl_sipsrc *ss, struct rl_scall *c, const struct rl_sip_event *ev)
{
	struct rl_sc_arg a = {0};

	if (ev->type == RL_SIP_EV_ENDED) {
		a.how = "ended";
		rl_sc_event(ss, c, RL_SC_EV_DIALOG_ENDED, &a);
		c->dialog_over = 1;
		rl_sc_maybe_free(ss, c);
		return;
	}
	a.how = ev->type == RL_SIP_EV_BYE ? "bye" : "cancel";
	rl_sc_event(ss, c, RL_SC_EV_LEFT, &a);
}

static void rl_ss_posted(struct rl_source *s, void *ptr)
{
	struct rl_sipsrc *ss = rl_ss(s);
	struct rl_sip_event *ev = ptr;
	struct rl_scall *c = rl_htab_get(&ss->calls, ev->call, NULL, NULL);
	struct rl_sc_arg a = {.status = ev->status, .reason = ev->reason};

	if (ev->type == RL_SIP_EV_INVITE && c == NULL) {
		rl_ss_invite(ss, ev);
	} else if (c == NULL) {
		/* a call we refused or already freed */
	} else if (ev->type == RL_SIP_EV_REINVITE) {
		rl_carrier_set_peer(c->leg, ev->media.ip, ev->media.port);
		rl_carrier_hold(c->leg, ev->media.hold);
		rl_log(RL_LOG_INFO, "carrier call %s call=%llu", ev->media.hold ? "on hold" : "resumed",
		       (unsigned long long)c->call);
	} else if (ev->type == RL_SIP_EV_REFER && ev->status >= 200 && ev->status != 202) {
		/* 200: the carrier has the caller (its BYE follows); else the call goes on. */
		if (rl_sc_event(ss, c, ev->status < 300 ? RL_SC_EV_XFER_DONE : RL_SC_EV_XFER_FAILED, &a) &&
		    ev->status < 300)
			ss->transfers_out++;
	} else if (ev->type == RL_SIP_EV_BYE || ev->type == RL_SIP_EV_CANCEL || ev->type == RL_SIP_EV_ENDED) {
		rl_ss_dialog(ss, c, ev);
	} else if (ev->type == RL_SIP_EV_DTMF) {
		/* Into the leg's digit queue, beside RFC 4733's: the IVR reads both alike, and the
		 * leg drops (and counts) the copy of a press that came both ways. */
		int rv = rl_carrier_put_dtmf(c->leg, ev->dtmf);
		rl_log(RL_LOG_DEBUG, "carrier info dtmf call=%llu digit=%c err=\"%s\"", (unsigned long long)c->call,
		       ev->dtmf, rv == RL_OK ? "" : rl_strerror(rv));
	}
	free(ev);
}

/* On the SIP thread: hand the event to the node's loop. */
static void rl_ss_sip_event(void *arg, const struct rl_sip_event *ev)
{
	struct rl_sipsrc *ss = arg;
	struct rl_sip_event *copy = rl_malloc(sizeof(*copy));

	*copy = *ev;
	if (rl_node_post(ss->base.node, &ss->base, copy) != RL_OK) {
		rl_log(RL_LOG_ERR, "SIP event lost (node loop full) call=%llu type=%d", (unsigned long long)ev->call,
		       ev->type);
		free(copy);
		/* A lost INVITE would leave the caller ringing: refuse it now (allowed here). */
		if (ev->type == RL_SIP_EV_INVITE)
			rl_sip_reject(ss->sip, ev->call, 503, "Site busy", ss->conf.sip.retry_after_s);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* the contact's side */

static void rl_ss_ack(struct rl_source *s, void *cookie, const Relais__SubmitContactOk *ok, int err, const char *msg)
{
	const char *contact_id = ok ? ok->contact_id : NULL;
	struct rl_sipsrc *ss = rl_ss(s);
	struct rl_scall *c = cookie;
	struct rl_sc_arg a = {.reason = msg ? msg : ""};

	if (contact_id == NULL) {
		c->contact_live = 0;
		/* Not queued for want of a hub (the node lost it): another site may take it. */
		rl_sc_event(ss, c, err == RELAIS__ERROR_CODE__ERR_UNAVAILABLE ? RL_SC_EV_NOT_QUEUED : RL_SC_EV_REFUSED,
		            &a);
		rl_sc_maybe_free(ss, c);
		return;
	}
	snprintf(c->contact, sizeof(c->contact), "%s", contact_id);
	rl_sc_event(ss, c, RL_SC_EV_ACKED, &a); /* a caller who left before: abandoned now */
}

static void rl_ss_update(struct rl_source *s, void *cookie, const Relais__ContactUpdate *u)
{
	struct rl_sipsrc *ss = rl_ss(s);
	struct rl_scall *c = cookie;
	struct rl_sc_arg a = {.u = u};

	switch (u->state) {
	case RELAIS__CONTACT_STATE__CONTACT_CONNECTED:
		/* An agent took the call; a later update may ask for an external transfer. */
		if ((u->media == NULL || !rl_sc_event(ss, c, RL_SC_EV_AGENT, &a)) && u->transfer_to &&
		    u->transfer_to[0])
			rl_sc_event(ss, c, RL_SC_EV_XFER_ASK, &a);
		break;
	case RELAIS__CONTACT_STATE__CONTACT_QUEUED:
		/* The agent sent the caller to another queue: hold music (and announcements) again. */
		if (rl_sc_event(ss, c, RL_SC_EV_REQUEUED, &a))
			ss->transferred++;
		break;
	case RELAIS__CONTACT_STATE__CONTACT_ENDED:
		/* The agent hung up (or the hub ended it): release the caller. One the hub counts
		 * answered who never reached an agent here (we were frozen or cut off while it was
		 * accepted elsewhere) was not: the hub takes that answer back. */
		c->contact_live = 0;
		if (u->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_HANDLED && !c->connected_once &&
		    rl_sc_waiting(c->phase))
			rl_node_cancel(ss->base.node, c->contact, RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED, 1);
		rl_sc_event(ss, c, RL_SC_EV_ENDED, &a);
		rl_sc_maybe_free(ss, c);
		break;
	default:
		break;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* announcements while waiting */

static int rl_sc_announces(const struct rl_sipsrc *ss, const struct rl_scall *c)
{
	/* Only a caller who hears us (answered, or in early media), not one hearing ringing. */
	return ss->conf.announce_dir[0] && ss->conf.announce_every_s > 0 && rl_sc_hears_us(c->phase) && c->contact[0];
}

static void rl_sc_announce_tick(struct rl_sipsrc *ss, struct rl_scall *c, uint64_t now)
{
	struct rl_media *m = rl_ss_media(ss);
	uint64_t every = (uint64_t)ss->conf.announce_every_s * 1000000u;

	if (!rl_sc_announces(ss, c))
		return;
	if (c->say == SAY_PLAYING) {
		if (m != NULL && rl_media_played(m, c->local) != 0) {
			/* Said: back to the music, until the next one. */
			c->say = SAY_MUSIC;
			c->say_at_us = now + every;
			rl_sc_play(ss, c, ss->conf.hold_music, 1);
		}
	} else if (c->say == SAY_ASKED) {
		if (now > c->say_at_us) {
			c->say = SAY_MUSIC;
			c->say_at_us = now + every;
		}
	} else if (now >= c->say_at_us) {
		if (rl_node_queue_position(ss->base.node, c->contact) == RL_OK) {
			c->say = SAY_ASKED;
			c->say_at_us = now + RL_ANNOUNCE_ASK_US;
		} else {
			c->say_at_us = now + every; /* hub unreachable: music only */
		}
	}
}

static void rl_ss_position(struct rl_source *s, void *cookie, const Relais__QueuePositionReply *r)
{
	struct rl_sipsrc *ss = rl_ss(s);
	struct rl_scall *c = cookie;
	char paths[RL_ANNOUNCE_MAX][RL_IVR_PATH], dir[RL_IVR_PATH];
	struct rl_audio_src *srcs[RL_ANNOUNCE_MAX], *seq;
	const char *lang = NULL;
	int n, k = 0;

	if (!rl_sc_announces(ss, c) || c->say != SAY_ASKED)
		return;
	c->say = SAY_MUSIC;
	c->say_at_us = rl_mono_us() + (uint64_t)ss->conf.announce_every_s * 1000000u;
	if (r->state != RELAIS__CONTACT_STATE__CONTACT_QUEUED || r->position == 0)
		return;
	for (int i = 0; i < c->ivr.nans; i++)
		if (strcmp(c->ivr.ans[i].key, "lang") == 0)
			lang = c->ivr.ans[i].value;
	rl_announce_dir(dir, ss->conf.announce_dir, lang);
	n = rl_announce_files(dir, r->position, r->ewt_known, r->ewt_s, paths);
	for (int i = 0; i < n; i++)
		if (rl_audio_wav_src(&srcs[k], paths[i], rl_sc_rate(c), 0) == RL_OK)
			k++;
	if (k == 0 || rl_audio_seq_src(&seq, srcs, k, rl_sc_rate(c)) != RL_OK || rl_sc_play_src(ss, c, seq) != RL_OK) {
		rl_log(RL_LOG_WARNING, "no announcement call=%llu dir=%s files=%d", (unsigned long long)c->call, dir,
		       n);
		return;
	}
	c->say = SAY_PLAYING;
	ss->announcements++;
	rl_log(RL_LOG_INFO, "announce call=%llu contact=%s position=%u waiting=%u agents=%u ewt_s=%s%u files=%d",
	       (unsigned long long)c->call, c->contact, r->position, r->waiting, r->agents,
	       r->ewt_known ? "" : "unknown:", r->ewt_s, k);
}

/* ---------------------------------------------------------------------------------------- */

/* rl_sc_ivr_tick: the caller's digits, the end of a prompt, the menu's timeouts. */
static void rl_sc_ivr_tick(struct rl_sipsrc *ss, struct rl_scall *c, uint64_t now)
{
	struct rl_media *m = rl_ss_media(ss);
	struct rl_ivr_step st;
	char d;

	while (c->phase == RL_SC_IVR && rl_carrier_dtmf(c->leg, &d) == RL_OK) {
		rl_log(RL_LOG_INFO, "caller pressed call=%llu digit=%c", (unsigned long long)c->call, d);
		rl_ivr_digit(&c->ivr, d, now, &st);
		rl_sc_ivr_step(ss, c, &st);
	}
	if (c->phase != RL_SC_IVR)
		return;
	if (c->ivr.playing && m != NULL && rl_media_played(m, c->local) == 1) {
		rl_ivr_played(&c->ivr, now, &st);
		rl_sc_ivr_step(ss, c, &st);
	}
	if (c->phase != RL_SC_IVR)
		return;
	rl_ivr_tick(&c->ivr, now, &st);
	rl_sc_ivr_step(ss, c, &st);
}

static void rl_ss_tick(struct rl_source *s, uint64_t now)
{
	struct rl_sipsrc *ss = rl_ss(s);

	for (size_t i = 0; i < ss->calls.cap; i++) {
		struct rl_scall *c = ss->calls.ents ? ss->calls.ents[i].val : NULL;
		if (c != NULL && rl_sc_waiting(c->phase))
			rl_sc_announce_tick(ss, c, now);
		else if (c != NULL && c->phase == RL_SC_IVR)
			rl_sc_ivr_tick(ss, c, now);
	}
}

static void rl_ss_drain(struct rl_source *s, unsigned percent)
{
	rl_sip_set_drain(rl_ss(s)->sip, percent);
}

static void rl_ss_stop(struct rl_source *s)
{
	struct rl_sipsrc *ss = rl_ss(s);
	struct rl_sip_counters sc;

	rl_sip_counters(ss->sip, &sc);
	/* No SIP callback runs once close starts; events already posted are dropped with the
	 * node's loop. */
	rl_sip_close(ss->sip);
	for (size_t i = 0; i < ss->calls.cap; i++) {
		struct rl_scall *c = ss->calls.ents ? ss->calls.ents[i].val : NULL;
		if (c != NULL) {
			rl_sc_local_stop(ss, c);
			rl_carrier_close(c->leg);
			rl_dialplan_unref(c->plan);
			free(c);
		}
	}
	rl_htab_fini(&ss->calls);
	rl_log(
	    RL_LOG_NOTICE,
	    "sip source stopped answered=%llu queued=%llu abandoned=%llu released=%llu unknown_did=%llu announcements=%llu "
	    "transferred=%llu transfers_out=%llu overloaded=%llu no_media_port=%llu no_plan=%llu invites=%llu "
	    "refused_draining=%llu refused_full=%llu stalls=%llu refused_stale=%llu",
	    (unsigned long long)ss->answered, (unsigned long long)ss->queued, (unsigned long long)ss->abandoned,
	    (unsigned long long)ss->released, (unsigned long long)ss->unknown_did,
	    (unsigned long long)ss->announcements, (unsigned long long)ss->transferred,
	    (unsigned long long)ss->transfers_out, (unsigned long long)ss->overloaded,
	    (unsigned long long)ss->no_media_port, (unsigned long long)ss->no_plan, (unsigned long long)sc.invites,
	    (unsigned long long)sc.refused_draining, (unsigned long long)sc.refused_full, (unsigned long long)sc.stalls,
	    (unsigned long long)sc.refused_stale);
	free(ss);
}

/* The codes a node answers INVITEs with (docs/sip.md), in its metrics when sent at least once. */
static const int rl_ss_codes[] = {180, 183, 200, 403, 404, 480, 486, 488, 500, 503, 603};

static void rl_ss_metrics(struct rl_source *s, struct rl_text *t)
{
	struct rl_sipsrc *ss = rl_ss(s);
	struct rl_sip_counters sc;

	rl_sip_counters(ss->sip, &sc);
	rl_prom_gauge(t, "relais_node_carrier_calls", "Carrier calls in progress.", (double)ss->calls.len);
	rl_prom_counter(t, "relais_node_sip_invites_total", "Initial INVITEs received, refused ones included.",
	                sc.invites);
	rl_prom_counter(t, "relais_node_carrier_answered_total", "Carrier calls answered by an agent.", ss->answered);
	rl_prom_counter(t, "relais_node_carrier_abandoned_total", "Callers who hung up before or while waiting.",
	                ss->abandoned);
	rl_prom_counter(t, "relais_node_carrier_overloaded_total", "Calls refused 503 for a busy media engine.",
	                ss->overloaded);
	rl_prom_help(t, "relais_node_sip_responses_total", "counter", "Responses sent to carriers, by status code.");
	for (size_t i = 0; i < sizeof(rl_ss_codes) / sizeof(rl_ss_codes[0]); i++)
		if (rl_sip_responses(rl_ss_codes[i]) > 0)
			rl_text_add(t, "relais_node_sip_responses_total{code=\"%d\"} %llu\n", rl_ss_codes[i],
			            (unsigned long long)rl_sip_responses(rl_ss_codes[i]));
}

static const struct rl_source_ops rl_ss_ops = {
    .name = "sip",
    .on_ack = rl_ss_ack,
    .on_update = rl_ss_update,
    .tick = rl_ss_tick,
    .stop = rl_ss_stop,
    .posted = rl_ss_posted,
    .drain = rl_ss_drain,
    .on_position = rl_ss_position,
    .metrics = rl_ss_metrics,
};

int rl_sip_source_create(struct rl_source **out, struct rl_node *n, const struct rl_sip_source_conf *conf)
{
	struct rl_sipsrc *ss;
	struct rl_sip_conf sc;
	int rv;

	if (rl_node_media(n) == NULL)
		return RL_ENOENT;
	ss = rl_calloc(1, sizeof(*ss));
	ss->conf = *conf;
	ss->base.ops = &rl_ss_ops;
	ss->base.node = n;
	ss->base.impl = ss;
	sc = conf->sip;
	sc.codecs = RL_SIP_PCMU | RL_SIP_PCMA | RL_SIP_OPUS; /* what the carrier leg takes */
	sc.fn = rl_ss_sip_event;
	sc.arg = ss;
	if ((rv = rl_sip_open(&ss->sip, &sc)) != RL_OK) {
		free(ss);
		return rv;
	}
	rl_log(RL_LOG_NOTICE, "sip listening addr=%s media_ip=%s", conf->sip.listen, conf->media_ip);
	*out = &ss->base;
	return RL_OK;
}
