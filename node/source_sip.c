#include "source_sip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "carrier.h"
#include "rl_err.h"
#include "rl_htab.h"
#include "rl_log.h"
#include "rl_media.h"
#include "rl_time.h"

#define RL_SIP_RATE 16000 /* the bridge's audio rate: the carrier leg converts 8k <-> 16k */

enum rl_scall_state {
	SC_IVR,       /* answered, in the menu */
	SC_WAITING,   /* submitted (or about to be): queued at the hub, hold music or ringing */
	SC_CONNECTED, /* an agent has it */
};

/* One carrier call. It lives until both its SIP dialog and its contact are over: the node
 * keeps this as the contact's cookie until the hub says the contact ended. */
struct rl_scall {
	uint64_t call;
	struct rl_sip_event inv; /* the INVITE: caller, DID, media */
	const struct rl_sip_did *did;
	struct rl_carrier *leg;
	int state;
	int sip_answered;                 /* our 200 went out */
	int early;                        /* our 183 with SDP went out: the caller hears us */
	int sip_done;                     /* RL_SIP_EV_ENDED seen */
	int submitted, contact_done;      /* the contact: asked for, and over (or never made) */
	int gone;                         /* the caller left */
	char contact[RL_WIRE_MAX_ID + 1]; /* the hub's id once acknowledged */
	char local[RL_WIRE_MAX_ID + 1];   /* id of the prompt/hold call in the media engine */
	int local_live;
	uint64_t next_announce_us; /* waiting: when to ask the hub for the next announcement */
	uint64_t asked_us;         /* 0, or when the position was asked for */
	int announcing;            /* an announcement plays instead of the music */
	int xfer;                  /* an external transfer (REFER) is under way */
	struct rl_ivr ivr;
};

struct rl_sipsrc {
	struct rl_source base;
	struct rl_sip_source_conf conf;
	struct rl_sip *sip;
	struct rl_htab calls; /* by SIP call id */
	uint64_t answered, queued, abandoned, released, unknown_did, announcements, transferred, transfers_out,
	    overloaded;
};

static struct rl_sipsrc *rl_ss(struct rl_source *s)
{
	return (struct rl_sipsrc *)s->impl;
}

static struct rl_media *rl_ss_media(struct rl_sipsrc *ss)
{
	return rl_node_media(ss->base.node);
}

static const struct rl_sip_did *rl_ss_did(struct rl_sipsrc *ss, const char *dialled)
{
	const struct rl_sip_did *any = NULL;

	for (int i = 0; i < ss->conf.ndids; i++) {
		if (strcmp(ss->conf.dids[i].did, dialled) == 0)
			return &ss->conf.dids[i];
		if (strcmp(ss->conf.dids[i].did, "*") == 0)
			any = &ss->conf.dids[i];
	}
	return any;
}

static void rl_sc_local_stop(struct rl_sipsrc *ss, struct rl_scall *c)
{
	if (c->local_live && rl_ss_media(ss) != NULL)
		rl_media_del(rl_ss_media(ss), c->local, NULL);
	c->local_live = 0;
}

/* rl_sc_play_src plays play (taken; NULL = silence) to the caller while draining what the
 * caller sends (and the digits in it). */
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
	if ((rv = rl_media_add_local(m, c->local, RL_SIP_RATE, play, to, listen, NULL)) != RL_OK) {
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

	if (path[0] && (rv = rl_audio_wav_src(&play, path, RL_SIP_RATE, loop)) != RL_OK) {
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
	       "wrong_src=%llu concealed=%llu dtmf=%llu",
	       (unsigned long long)c->call, c->contact[0] ? c->contact : "-", c->inv.caller, c->inv.dialled,
	       (unsigned long long)st.rx, (unsigned long long)st.audio, (unsigned long long)st.sent,
	       (unsigned long long)st.malformed, (unsigned long long)st.wrong_src, (unsigned long long)st.concealed,
	       (unsigned long long)st.dtmf_digits);
	rl_sc_local_stop(ss, c);
	rl_carrier_close(c->leg);
	rl_htab_del(&ss->calls, c->call, c);
	free(c);
}

/* rl_sc_maybe_free frees c once both its dialog and its contact are over. */
static void rl_sc_maybe_free(struct rl_sipsrc *ss, struct rl_scall *c)
{
	if (c->sip_done && (c->contact_done || !c->submitted))
		rl_sc_free(ss, c);
}

/* rl_sc_wait: the call (back) in queue: announcements start over, the first after
 * announce_first_s. */
static void rl_sc_wait(struct rl_sipsrc *ss, struct rl_scall *c)
{
	c->state = SC_WAITING;
	c->asked_us = 0;
	c->announcing = 0;
	c->next_announce_us = rl_mono_us() + (uint64_t)ss->conf.announce_first_s * 1000000u;
}

static void rl_sc_submit(struct rl_sipsrc *ss, struct rl_scall *c, const char *queue, uint32_t priority)
{
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	Relais__KeyValue kv[RL_IVR_MAX_ANSWERS + 1], *kvp[RL_IVR_MAX_ANSWERS + 1];
	struct rl_contact_req req = {0};
	int n = 0;

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
	if (rl_node_submit(ss->base.node, &ss->base, &req, c) != RL_OK) {
		rl_log(RL_LOG_ERR, "cannot queue carrier call call=%llu", (unsigned long long)c->call);
		rl_sip_reject(ss->sip, c->call, 503, "Cannot queue the call", ss->conf.sip.retry_after_s);
		return;
	}
	c->submitted = 1;
	rl_sc_wait(ss, c);
	ss->queued++;
	rl_log(RL_LOG_INFO, "carrier call queued call=%llu caller=%s did=%s queue=%s priority=%u",
	       (unsigned long long)c->call, c->inv.caller, c->inv.dialled, queue, priority);
}

static void rl_sc_step(struct rl_sipsrc *ss, struct rl_scall *c, const struct rl_ivr_step *st)
{
	switch (st->what) {
	case RL_IVR_PLAY:
		rl_sc_play(ss, c, st->prompt, 0);
		break;
	case RL_IVR_QUEUE:
		rl_sc_submit(ss, c, st->queue, st->priority);
		if (c->submitted)
			rl_sc_play(ss, c, ss->conf.hold_music, 1);
		break;
	case RL_IVR_RELEASE:
		ss->released++;
		rl_sc_local_stop(ss, c);
		rl_sip_hangup(ss->sip, c->call);
		break;
	default:
		break;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* SIP events, on the node's loop */

static void rl_ss_invite(struct rl_sipsrc *ss, const struct rl_sip_event *ev)
{
	struct rl_scall *c;
	struct rl_carrier_conf cc;
	const struct rl_sip_did *did = rl_ss_did(ss, ev->dialled);
	int rv;

	if (did == NULL) {
		ss->unknown_did++;
		rl_log(RL_LOG_NOTICE, "carrier call to an unknown number did=%s caller=%s", ev->dialled, ev->caller);
		rl_sip_reject(ss->sip, ev->call, 404, "No such number here", 0);
		return;
	}
	unsigned load = rl_media_load(rl_ss_media(ss));
	if (ss->conf.max_media_load > 0 && load >= ss->conf.max_media_load) {
		/* The media thread no longer keeps up: a call taken now would not be answered in
		 * time, and would slow every call in progress. An SBC tries another site. */
		ss->overloaded++;
		rl_log(RL_LOG_NOTICE, "carrier call refused: media busy load=%u%% limit=%u%% caller=%s did=%s", load,
		       ss->conf.max_media_load, ev->caller, ev->dialled);
		rl_sip_reject(ss->sip, ev->call, 503, "Site busy", ss->conf.sip.retry_after_s);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rl_sip_reject(ss->sip, ev->call, 503, NULL, ss->conf.sip.retry_after_s);
		return;
	}
	c->call = ev->call;
	c->inv = *ev;
	c->did = did;
	snprintf(c->local, sizeof(c->local), "sip:%llu", (unsigned long long)ev->call);
	rl_carrier_conf_default(&cc);
	cc.codec = ev->media.codec == RL_SIP_OPUS   ? RL_CARRIER_OPUS
	           : ev->media.codec == RL_SIP_PCMA ? RL_CARRIER_G711A
	                                            : RL_CARRIER_G711U;
	cc.pt = ev->media.pt; /* as offered: static or dynamic */
	cc.dtmf_pt = ev->media.dtmf_pt >= 0 && ev->media.dtmf_pt != cc.pt ? ev->media.dtmf_pt : -1;
	cc.dtmf_clock = ev->media.dtmf_rate == 48000 ? 48000 : RL_CARRIER_CLOCK;
	cc.rate = RL_SIP_RATE;
	cc.port_min = ss->conf.rtp_min;
	cc.port_max = ss->conf.rtp_max;
	if ((rv = rl_carrier_open(&c->leg, ss->conf.media_ip, &cc)) != RL_OK ||
	    (rv = rl_carrier_set_peer(c->leg, ev->media.ip, ev->media.port)) != RL_OK) {
		rl_log(RL_LOG_ERR, "carrier leg unavailable call=%llu err=\"%s\"", (unsigned long long)ev->call,
		       rl_strerror(rv));
		rl_carrier_close(c->leg);
		free(c);
		rl_sip_reject(ss->sip, ev->call, 503, "No media port", ss->conf.sip.retry_after_s);
		return;
	}
	rl_htab_put(&ss->calls, c->call, c);
	if (did->menu[0] == '\0' && did->early_media &&
	    rl_sip_progress(ss->sip, c->call, ss->conf.media_ip, (uint16_t)rl_carrier_port(c->leg), ev->media.codec,
	                    cc.dtmf_pt) == RL_OK)
		c->early = 1;
	else
		rl_sip_ringing(ss->sip, c->call);
	if (did->menu[0] && rl_ivr_find(ss->conf.menus, did->menu) != NULL) {
		struct rl_ivr_step st;
		rl_sip_answer(ss->sip, c->call, ss->conf.media_ip, (uint16_t)rl_carrier_port(c->leg), ev->media.codec,
		              cc.dtmf_pt);
		c->sip_answered = 1;
		c->state = SC_IVR;
		ss->answered++;
		rl_ivr_start(&c->ivr, ss->conf.menus, rl_ivr_find(ss->conf.menus, did->menu), rl_mono_us(), &st);
		rl_sc_step(ss, c, &st);
	} else {
		/* No menu: the caller hears the carrier's ringing until an agent answers, or our
		 * hold music in early media. */
		rl_sc_submit(ss, c, did->queue, did->priority);
		if (!c->submitted)
			return;
		/* Without early media the leg is drained meanwhile (nothing is sent). */
		rl_sc_play(ss, c, c->early ? ss->conf.hold_music : "", c->early);
	}
}

/* The caller left: the contact is abandoned wherever it is. */
static void rl_ss_caller_left(struct rl_sipsrc *ss, struct rl_scall *c, const char *how)
{
	if (c->gone)
		return;
	c->gone = 1;
	rl_sc_local_stop(ss, c);
	if (c->contact[0] && !c->contact_done) {
		rl_node_cancel(ss->base.node, c->contact, RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED);
		ss->abandoned++;
	}
	rl_log(RL_LOG_INFO, "caller left call=%llu how=%s contact=%s", (unsigned long long)c->call, how,
	       c->contact[0] ? c->contact : "-");
}

static void rl_ss_posted(struct rl_source *s, void *ptr)
{
	struct rl_sipsrc *ss = rl_ss(s);
	struct rl_sip_event *ev = ptr;
	struct rl_scall *c = rl_htab_get(&ss->calls, ev->call, NULL, NULL);

	switch (ev->type) {
	case RL_SIP_EV_INVITE:
		if (c == NULL)
			rl_ss_invite(ss, ev);
		break;
	case RL_SIP_EV_REINVITE:
		if (c != NULL && c->leg != NULL) {
			rl_carrier_set_peer(c->leg, ev->media.ip, ev->media.port);
			rl_carrier_hold(c->leg, ev->media.hold);
			rl_log(RL_LOG_INFO, "carrier call %s call=%llu", ev->media.hold ? "on hold" : "resumed",
			       (unsigned long long)c->call);
		}
		break;
	case RL_SIP_EV_REFER:
		if (c != NULL && c->xfer && ev->status != 202) {
			/* 200: the carrier has the caller (its BYE follows); else the call goes on. */
			c->xfer = 0;
			if (ev->status >= 200 && ev->status < 300)
				ss->transfers_out++;
			rl_log(RL_LOG_INFO, "carrier transfer %s call=%llu contact=%s status=%d reason=\"%s\"",
			       ev->status < 300 ? "done" : "failed", (unsigned long long)c->call, c->contact,
			       ev->status, ev->reason);
			if (c->contact[0])
				rl_node_transfer_result(ss->base.node, c->contact, ev->status < 300,
				                        (unsigned)ev->status, ev->reason);
		}
		break;
	case RL_SIP_EV_BYE:
	case RL_SIP_EV_CANCEL:
		if (c != NULL)
			rl_ss_caller_left(ss, c, ev->type == RL_SIP_EV_BYE ? "bye" : "cancel");
		break;
	case RL_SIP_EV_ENDED:
		if (c != NULL) {
			/* Ended while the contact lives (timeout, transport): the caller is gone. */
			if (!c->contact_done)
				rl_ss_caller_left(ss, c, "ended");
			c->sip_done = 1;
			rl_sc_maybe_free(ss, c);
		}
		break;
	default:
		break;
	}
	free(ev);
}

/* On the SIP thread: hand the event to the node's loop. */
static void rl_ss_sip_event(void *arg, const struct rl_sip_event *ev)
{
	struct rl_sipsrc *ss = arg;
	struct rl_sip_event *copy = malloc(sizeof(*copy));

	if (copy == NULL)
		return;
	*copy = *ev;
	if (rl_node_post(ss->base.node, &ss->base, copy) != RL_OK) {
		rl_log(RL_LOG_ERR, "SIP event lost (node loop full) call=%llu type=%d", (unsigned long long)ev->call,
		       ev->type);
		free(copy);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* the contact's side */

static void rl_ss_ack(struct rl_source *s, void *cookie, const char *contact_id, int err, const char *msg)
{
	struct rl_sipsrc *ss = rl_ss(s);
	struct rl_scall *c = cookie;

	if (contact_id == NULL) {
		rl_log(RL_LOG_WARNING, "hub refused a carrier call call=%llu err=\"%s\"", (unsigned long long)c->call,
		       msg ? msg : "");
		c->contact_done = 1;
		if (!c->gone) {
			rl_sc_local_stop(ss, c);
			if (c->sip_answered)
				rl_sip_hangup(ss->sip, c->call);
			else
				rl_sip_reject(ss->sip, c->call, 480, "Temporarily unavailable", 0);
		}
		rl_sc_maybe_free(ss, c);
		return;
	}
	snprintf(c->contact, sizeof(c->contact), "%s", contact_id);
	if (c->gone) {
		/* The caller left before the hub knew the contact. */
		rl_node_cancel(ss->base.node, c->contact, RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED);
		ss->abandoned++;
	}
}

static void rl_ss_update(struct rl_source *s, void *cookie, const Relais__ContactUpdate *u)
{
	struct rl_sipsrc *ss = rl_ss(s);
	struct rl_scall *c = cookie;

	if (u->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED && u->media != NULL && c->state != SC_CONNECTED &&
	    !c->gone) {
		if (!c->sip_answered) {
			rl_sip_answer(ss->sip, c->call, ss->conf.media_ip, (uint16_t)rl_carrier_port(c->leg),
			              c->inv.media.codec, c->inv.media.dtmf_pt);
			c->sip_answered = 1;
			ss->answered++;
		}
		/* The prompt/hold call gives the leg back; the bridge carries it to the agent. */
		rl_sc_local_stop(ss, c);
		c->announcing = 0;
		if (rl_node_attach_audio(ss->base.node, u->contact_id, rl_carrier_src(c->leg),
		                         rl_carrier_sink(c->leg)) != RL_OK)
			rl_log(RL_LOG_ERR, "cannot bridge carrier call contact=%s", u->contact_id);
		c->state = SC_CONNECTED;
		rl_log(RL_LOG_INFO, "carrier call connected call=%llu contact=%s agent=%s", (unsigned long long)c->call,
		       u->contact_id, u->agent_id ? u->agent_id : "");
	} else if (u->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED && u->transfer_to && u->transfer_to[0] &&
	           c->state == SC_CONNECTED && !c->gone && !c->sip_done && !c->xfer) {
		/* The agent sends the caller to a number: the carrier places that call (REFER). */
		int rv = rl_sip_refer(ss->sip, c->call, u->transfer_to);
		rl_log(RL_LOG_INFO, "carrier transfer asked call=%llu contact=%s to=%s err=\"%s\"",
		       (unsigned long long)c->call, u->contact_id, u->transfer_to, rv == RL_OK ? "" : rl_strerror(rv));
		if (rv == RL_OK)
			c->xfer = 1;
		else
			rl_node_transfer_result(ss->base.node, c->contact, 0, 0, rl_strerror(rv));
	} else if (u->state == RELAIS__CONTACT_STATE__CONTACT_QUEUED && c->state == SC_CONNECTED && !c->gone) {
		/* The agent sent the caller to another queue: hold music (and announcements) again. */
		rl_sc_wait(ss, c);
		rl_sc_play(ss, c, ss->conf.hold_music, 1);
		ss->transferred++;
		rl_log(RL_LOG_INFO, "carrier call back in queue call=%llu contact=%s (transferred)",
		       (unsigned long long)c->call, u->contact_id);
	} else if (u->state == RELAIS__CONTACT_STATE__CONTACT_ENDED) {
		c->contact_done = 1;
		rl_sc_local_stop(ss, c);
		if (!c->gone && !c->sip_done) {
			/* The agent hung up (or the hub ended it): release the caller. */
			rl_sip_hangup(ss->sip, c->call);
		}
		rl_sc_maybe_free(ss, c);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* announcements while waiting */

#define RL_ANNOUNCE_ASK_US 5000000u /* no answer from the hub that soon: skip this one */

static int rl_sc_announces(const struct rl_sipsrc *ss, const struct rl_scall *c)
{
	/* Only a caller who hears us (answered, or in early media), not one hearing ringing. */
	return ss->conf.announce_dir[0] && ss->conf.announce_every_s > 0 && c->state == SC_WAITING &&
	       (c->sip_answered || c->early) && !c->gone && !c->sip_done && c->contact[0];
}

static void rl_sc_announce_tick(struct rl_sipsrc *ss, struct rl_scall *c, uint64_t now)
{
	struct rl_media *m = rl_ss_media(ss);
	uint64_t every = (uint64_t)ss->conf.announce_every_s * 1000000u;

	if (!rl_sc_announces(ss, c))
		return;
	if (c->announcing) {
		if (m != NULL && rl_media_played(m, c->local) != 0) {
			/* Said: back to the music, until the next one. */
			c->announcing = 0;
			rl_sc_play(ss, c, ss->conf.hold_music, 1);
			c->next_announce_us = now + every;
		}
		return;
	}
	if (c->asked_us != 0) {
		if (now - c->asked_us > RL_ANNOUNCE_ASK_US) {
			c->asked_us = 0;
			c->next_announce_us = now + every;
		}
		return;
	}
	if (now < c->next_announce_us)
		return;
	if (rl_node_queue_position(ss->base.node, c->contact) == RL_OK)
		c->asked_us = now;
	else
		c->next_announce_us = now + every; /* hub unreachable: music only */
}

static void rl_ss_position(struct rl_source *s, void *cookie, const Relais__QueuePositionReply *r)
{
	struct rl_sipsrc *ss = rl_ss(s);
	struct rl_scall *c = cookie;
	char paths[RL_ANNOUNCE_MAX][RL_IVR_PATH];
	struct rl_audio_src *srcs[RL_ANNOUNCE_MAX], *seq;
	int n, k = 0;

	if (!rl_sc_announces(ss, c) || c->asked_us == 0 || c->announcing)
		return;
	c->asked_us = 0;
	c->next_announce_us = rl_mono_us() + (uint64_t)ss->conf.announce_every_s * 1000000u;
	if (r->state != RELAIS__CONTACT_STATE__CONTACT_QUEUED || r->position == 0)
		return;
	const char *lang = NULL;
	char dir[RL_IVR_PATH];
	for (int i = 0; i < c->ivr.nans; i++)
		if (strcmp(c->ivr.ans[i].key, "lang") == 0)
			lang = c->ivr.ans[i].value;
	rl_announce_dir(dir, ss->conf.announce_dir, lang);
	n = rl_announce_files(dir, r->position, r->ewt_known, r->ewt_s, paths);
	for (int i = 0; i < n; i++)
		if (rl_audio_wav_src(&srcs[k], paths[i], RL_SIP_RATE, 0) == RL_OK)
			k++;
	if (k == 0 || rl_audio_seq_src(&seq, srcs, k, RL_SIP_RATE) != RL_OK || rl_sc_play_src(ss, c, seq) != RL_OK) {
		rl_log(RL_LOG_WARNING, "no announcement call=%llu dir=%s files=%d", (unsigned long long)c->call, dir,
		       n);
		return;
	}
	c->announcing = 1;
	ss->announcements++;
	rl_log(RL_LOG_INFO, "announce call=%llu contact=%s position=%u waiting=%u agents=%u ewt_s=%s%u files=%d",
	       (unsigned long long)c->call, c->contact, r->position, r->waiting, r->agents,
	       r->ewt_known ? "" : "unknown:", r->ewt_s, k);
}

/* ---------------------------------------------------------------------------------------- */

static void rl_ss_tick(struct rl_source *s, uint64_t now)
{
	struct rl_sipsrc *ss = rl_ss(s);
	struct rl_media *m = rl_ss_media(ss);

	for (size_t i = 0; i < ss->calls.cap; i++) {
		struct rl_scall *c = ss->calls.ents ? ss->calls.ents[i].val : NULL;
		struct rl_ivr_step st;
		char d;
		if (c != NULL && c->state == SC_WAITING)
			rl_sc_announce_tick(ss, c, now);
		if (c == NULL || c->state != SC_IVR || c->gone || c->sip_done)
			continue;
		while (c->state == SC_IVR && rl_carrier_dtmf(c->leg, &d) == RL_OK) {
			rl_log(RL_LOG_INFO, "caller pressed call=%llu digit=%c", (unsigned long long)c->call, d);
			rl_ivr_digit(&c->ivr, d, now, &st);
			rl_sc_step(ss, c, &st);
		}
		if (c->state != SC_IVR)
			continue;
		if (c->ivr.playing && m != NULL && rl_media_played(m, c->local) == 1) {
			rl_ivr_played(&c->ivr, now, &st);
			rl_sc_step(ss, c, &st);
		}
		rl_ivr_tick(&c->ivr, now, &st);
		rl_sc_step(ss, c, &st);
	}
}

static void rl_ss_drain(struct rl_source *s, int on)
{
	rl_sip_set_draining(rl_ss(s)->sip, on);
}

static void rl_ss_stop(struct rl_source *s)
{
	struct rl_sipsrc *ss = rl_ss(s);

	/* No SIP callback runs once close starts; events already posted are dropped with the
	 * node's loop. */
	rl_sip_close(ss->sip);
	for (size_t i = 0; i < ss->calls.cap; i++) {
		struct rl_scall *c = ss->calls.ents ? ss->calls.ents[i].val : NULL;
		if (c != NULL) {
			rl_sc_local_stop(ss, c);
			rl_carrier_close(c->leg);
			free(c);
		}
	}
	rl_htab_fini(&ss->calls);
	rl_log(
	    RL_LOG_NOTICE,
	    "sip source stopped answered=%llu queued=%llu abandoned=%llu released=%llu unknown_did=%llu announcements=%llu "
	    "transferred=%llu transfers_out=%llu overloaded=%llu",
	    (unsigned long long)ss->answered, (unsigned long long)ss->queued, (unsigned long long)ss->abandoned,
	    (unsigned long long)ss->released, (unsigned long long)ss->unknown_did,
	    (unsigned long long)ss->announcements, (unsigned long long)ss->transferred,
	    (unsigned long long)ss->transfers_out, (unsigned long long)ss->overloaded);
	free(ss);
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
};

int rl_sip_source_create(struct rl_source **out, struct rl_node *n, const struct rl_sip_source_conf *conf)
{
	struct rl_sipsrc *ss;
	struct rl_sip_conf sc;
	int rv;

	if (rl_node_media(n) == NULL)
		return RL_ENOENT;
	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return RL_ENOMEM;
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
	rl_log(RL_LOG_NOTICE, "sip listening addr=%s media_ip=%s dids=%d", conf->sip.listen, conf->media_ip,
	       conf->ndids);
	*out = &ss->base;
	return RL_OK;
}
