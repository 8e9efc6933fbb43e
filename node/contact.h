/*
 * contact.h - one object per live contact at the site node.
 *
 * Everything the node keeps about one contact is a struct rl_contact, in one table of the
 * node by contact id (node.c), from the hub's acknowledgement of its submission until the
 * hub says it ended:
 *  - the source that submitted it and that source's cookie, which source callbacks get;
 *  - the caller's audio endpoint its call will be bridged with when an agent takes it: a
 *    carrier leg's source and sink (rl_contact_attach), or a WAV the caller speaks
 *    (rl_contact_voice; else the bridge's configured voice);
 *  - its media call towards the agent, which the bridge starts, re-keys and ends on it.
 * A contact the hub connects at this site that the node does not know (submitted before a
 * restart of the node) is adopted: it has no source, and only its media call.
 *
 * rl_contact_update is the one place where a ContactUpdate reaches the media side (the
 * bridge) and the contact's source, in an order stated there. Everything runs on the node's
 * loop thread.
 */
#ifndef RL_CONTACT_H
#define RL_CONTACT_H

#include <stdint.h>

#include "relais.pb-c.h"
#include "rl_wire.h"

struct rl_audio_src;
struct rl_audio_sink;
struct rl_bridge;
struct rl_client;
struct rl_source;

struct rl_contact {
	char id[RL_WIRE_MAX_ID + 1];
	struct rl_source *src; /* who submitted it; NULL: adopted */
	void *cookie;          /* the source's; NULL: the source takes no updates */
	/* The caller's side of the media call, owned here until the call takes it. */
	struct rl_audio_src *audio_src; /* a carrier leg's; NULL: a voice (below) */
	struct rl_audio_sink *audio_sink;
	char voice[RL_WIRE_MAX_TEXT + 1]; /* WAV the caller speaks once; "" = the bridge's voice */
	/* The media call in the bridge's engine, under this contact's id: the SSRC we send with
	 * in its current plan; 0 = no media call. */
	uint32_t media_ssrc;
	/* What the node knows of it, as a record (owned; NULL = nothing): a survivable site
	 * carries on with it when the hub is lost (survive.h). */
	Relais__ContactRecord *facts;
	/* A CONNECTED update held back (node.c, rl_node_contact_update): packed, applied at
	 * held_until unless a newer update comes first (NULL: none). */
	uint8_t *held;
	size_t held_len;
	uint64_t held_until;
};

/* rl_contact_new makes a contact id (copied) of src with cookie (both may be NULL); freed by
 * rl_contact_free. */
struct rl_contact *rl_contact_new(const char *id, struct rl_source *src, void *cookie);

/* rl_contact_attach: the caller's audio, when the call connects, is src/sink (both taken;
 * closed by rl_contact_free if no media call took them). Replaces what was attached. */
void rl_contact_attach(struct rl_contact *c, struct rl_audio_src *src, struct rl_audio_sink *sink);

/* rl_contact_voice: the caller speaks the WAV at path (copied; cut to RL_WIRE_MAX_TEXT) once,
 * then silence, instead of the bridge's configured voice. */
void rl_contact_voice(struct rl_contact *c, const char *path);

/* rl_contact_update hands u (about c) to the media side, bridge b (NULL: the node has no
 * media), which reports quality to hub, and to c's source; see contact.c for the order. c
 * stays the caller's to free, also after an ENDED update. */
void rl_contact_update(struct rl_contact *c, const Relais__ContactUpdate *u, struct rl_bridge *b,
                       struct rl_client *hub);

/* rl_contact_position hands the hub's answer to rl_node_queue_position to c's source. */
void rl_contact_position(struct rl_contact *c, const Relais__QueuePositionReply *r);

/* rl_contact_free closes an attached audio endpoint no media call took and frees c (NULL is
 * fine). The media call, if any, is the bridge's to end. */
void rl_contact_free(struct rl_contact *c);

#endif
