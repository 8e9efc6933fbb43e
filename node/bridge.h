/*
 * bridge.h - the site's end of its calls' voice path.
 *
 * When the hub says one of the site's contacts is connected (a ContactUpdate carrying a
 * MediaLeg), the bridge starts the contact's media call: the caller's audio goes out as
 * Opus/SRTP to the agent (straight to a seated agent, or through the hub relay), the
 * agent's audio comes back and goes to the caller. The caller's side is what the contact
 * object holds (contact.h): a carrier leg attached by the SIP source (G.711 or Opus from the
 * trunk, transcoded here), else the WAV chosen for that caller, else the configured WAV or
 * the speech-like generator; what the agent says to such a caller can be recorded to WAV
 * files. A new plan for a live call (hub restart, relay change) re-keys it in place; the
 * contact going back to a queue or ending stops it. Every few seconds, and once at the end,
 * the bridge reports the call's quality.
 */
#ifndef RL_BRIDGE_H
#define RL_BRIDGE_H

#include <stdint.h>

#include "contact.h"
#include "relais.pb-c.h"
#include "rl_client.h"

struct rl_bridge_conf {
	const char *listen;       /* "IP:port" of the site's media socket */
	const char *advertise;    /* what seated agents are told; NULL = the bound address */
	const char *caller_audio; /* WAV played as the caller ("" = the generator) */
	int caller_loop;          /* loop the WAV */
	const char *record_dir;   /* "" = no recording; else <dir>/<contact>.agent.wav */
	unsigned rate;            /* 16000 */
	unsigned report_s;        /* quality report period */
	unsigned threads;         /* media threads; 0 = one per core */
};

struct rl_bridge;

/* rl_bridge_open binds the media socket. Errors: RL_EINVAL, RL_ENET, RL_ENOMEM. */
int rl_bridge_open(struct rl_bridge **out, const struct rl_bridge_conf *conf);

/* rl_bridge_addr: the address seated agents send to (SiteRegister.media_addr). */
const char *rl_bridge_addr(const struct rl_bridge *b);

/* rl_bridge_update acts on a ContactUpdate u about contact c (of the node's table): starts,
 * re-keys or ends c's media call, taking the audio endpoint c holds; quality reports go to
 * hub. Call it through rl_contact_update, which decides when. */
void rl_bridge_update(struct rl_bridge *b, struct rl_contact *c, const Relais__ContactUpdate *u, struct rl_client *hub);

/* rl_bridge_media: the bridge's media engine. */
struct rl_media *rl_bridge_media(struct rl_bridge *b);

/* rl_bridge_tick sends due quality reports. */
void rl_bridge_tick(struct rl_bridge *b, struct rl_client *hub, uint64_t now_mono_us);

/* rl_bridge_metrics appends the ended calls' quality histograms (rl_scrape.h) to t. */
struct rl_text;
void rl_bridge_metrics(struct rl_bridge *b, struct rl_text *t);

/* rl_bridge_calls: live calls. */
unsigned rl_bridge_calls(struct rl_bridge *b);

void rl_bridge_close(struct rl_bridge *b);

#endif
