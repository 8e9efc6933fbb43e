/*
 * phone.h - the agent's end of a call's voice path.
 *
 * When the hub reports the agent BUSY on a call with a media plan, the phone starts the
 * call's audio: the agent's voice (sound card, a WAV file, or the speech-like generator for
 * scripted agents) goes out as Opus/SRTP over a UDP socket of its own to the site node or
 * the hub relay, and the caller's voice plays back (sound card, WAV file, or nowhere). A new
 * plan re-keys the call in place; leaving BUSY ends it. The phone reports the call's quality
 * every few seconds and once at its end.
 */
#ifndef RL_PHONE_H
#define RL_PHONE_H

#include <stdint.h>

#include "relais.pb-c.h"

struct rl_media;
struct rl_agent_sess;

struct rl_phone_conf {
	struct rl_media *media; /* the process's media engine (one for all its agents) */
	const char *audio_in;   /* WAV file spoken by the agent; NULL: sound card or generator */
	const char *audio_out;  /* WAV file the caller is written to ("%c" = contact id,
	                            * "%a" = agent id); NULL: sound card or nowhere */
	int sound_card;         /* use ALSA for what the files do not cover */
	const char *device;     /* ALSA device, e.g. "default" */
	unsigned report_s;      /* quality report period */
};

/* rl_phone_status acts on the hub's status of the agent (after the session took it). */
void rl_phone_status(struct rl_agent_sess *a, const Relais__AgentStatus *st);

/* rl_phone_tick sends due quality reports. */
void rl_phone_tick(struct rl_agent_sess *a, uint64_t now_mono_us);

/* rl_phone_end ends the call's media (if any) and sends the final report. */
void rl_phone_end(struct rl_agent_sess *a);

#endif
