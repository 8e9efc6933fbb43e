/*
 * source_sip.h - carrier calls as a contact source: SIP trunks at the site.
 *
 * A call arriving on a trunk (node/sip.c) is matched by its dialled number (DID) to a tenant
 * and either an IVR menu or a queue. With a menu the call is answered at once, the menu's
 * prompts play and the caller's DTMF choices (RFC 4733) pick the queue, priority and
 * screen-pop answers; without one the caller hears ringing until an agent answers, or, with
 * early_media, the hold music and announcements in early media (183 with our SDP) - the call
 * is answered (200) only when an agent takes it. The
 * contact is then submitted to the hub with the caller's number, the DID and the IVR answers
 * as screen-pop data. While it waits, the caller hears the hold music, interrupted every
 * announce_every_s by its position in queue and expected wait (asked from the hub, spoken
 * from the prompt set in announce_dir: announce.h). When an agent takes
 * it, the call attaches its carrier leg (rl_carrier: G.711 or Opus from the trunk) to the
 * node's contact object, and the media bridge carries it to the agent's Opus/SRTP call.
 * Either side hanging up ends the other: the caller leaving (BYE, or CANCEL before answer)
 * abandons the contact wherever it is; the agent hanging up sends BYE. A draining site
 * answers new INVITEs 503 with Retry-After. Each call is in one phase (call_phase.h), changed
 * by one transition function in source_sip.c.
 */
#ifndef RL_SOURCE_SIP_H
#define RL_SOURCE_SIP_H

#include "ivr.h"
#include "sip.h"
#include "source.h"

struct rl_sip_source_conf {
	struct rl_sip_conf sip;         /* listen, codecs, trunks, retry_after_s, max_calls */
	char media_ip[64];              /* our RTP address in SDP */
	uint16_t rtp_min, rtp_max;      /* RTP port range (even ports); 0, 0 = any */
	char hold_music[RL_IVR_PATH];   /* WAV looped while the caller waits; "" = silence */
	char announce_dir[RL_IVR_PATH]; /* prompt set for position/wait (announce.h); "" = none */
	uint32_t announce_first_s;      /* first announcement this long after queueing */
	uint32_t announce_every_s;      /* then every so often; 0 = never */
	unsigned max_media_load;        /* media thread busy % above which new calls get 503; 0 = no limit */
};

/* rl_sip_source_create starts the SIP endpoint for node n (which must have media).
 * Errors: RL_ENOENT (the node has no media), RL_EINVAL, RL_ENET, RL_ENOMEM. */
int rl_sip_source_create(struct rl_source **out, struct rl_node *n, const struct rl_sip_source_conf *conf);

#endif
