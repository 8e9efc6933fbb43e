/*
 * source.h - where a site's contacts come from.
 *
 * A contact source (carrier calls on the SIP trunks, relaisctl through the node, the demo
 * generator) hands contacts to the node core with rl_node_submit; the core makes the
 * submission reliable (re-sent until the hub acknowledges, idempotent by ext_id) and calls
 * back: on_ack once with the hub's answer, then on_update for every ContactUpdate the hub
 * pushes about that contact, until it ends. Once acknowledged, the contact is an object of
 * the node (contact.h) that holds the source's cookie; a source with a caller's audio of
 * its own (a carrier leg) attaches it there, and the node's media bridge carries it to the
 * agent. Callbacks run on the node's loop thread.
 */
#ifndef RL_SOURCE_H
#define RL_SOURCE_H

#include <stdint.h>

#include "relais.pb-c.h"
#include "rl_wire.h"

struct rl_node;
struct rl_source;
struct rl_text;

struct rl_contact_req {
	const char *ext_id; /* NULL: the node makes one, unique across node restarts */
	const char *tenant_id;
	const char *queue_id;
	uint32_t priority;
	const Relais__ScreenPop *pop; /* caller, dialled, IVR answers; may be NULL */
};

struct rl_source_ops {
	const char *name;
	/* The hub's answer: contact_id on success, else err (ErrorCode) and its message. */
	/* ok: the hub's SubmitContactOk (its contact id, whether it had the contact already, its
	 * enqueue time), valid during the call; NULL with err when refused. */
	void (*on_ack)(struct rl_source *s, void *cookie, const Relais__SubmitContactOk *ok, int err, const char *msg);
	/* A change of a contact this source submitted (offered, connected, ended). */
	void (*on_update)(struct rl_source *s, void *cookie, const Relais__ContactUpdate *u);
	/* Called about every 100 ms. */
	void (*tick)(struct rl_source *s, uint64_t now_mono_us);
	/* Frees the source's state. */
	void (*stop)(struct rl_source *s);
	/* Something the source's own thread handed over with rl_node_post, now on the loop. */
	void (*posted)(struct rl_source *s, void *ptr);
	/* The site refuses percent % of new calls (100: all; 0: takes them all again); calls in
	 * progress go on. */
	void (*drain)(struct rl_source *s, unsigned percent);
	/* The hub's answer to rl_node_queue_position for one of this source's contacts. */
	void (*on_position)(struct rl_source *s, void *cookie, const Relais__QueuePositionReply *r);
	/* Appends the source's own metrics (rl_scrape.h) to t; NULL: none. */
	void (*metrics)(struct rl_source *s, struct rl_text *t);
};

struct rl_source {
	const struct rl_source_ops *ops;
	struct rl_node *node;
	void *impl;
};

/* rl_node_submit queues a contact for the hub (or the site's own engine while it serves
 * alone). Errors: RL_EFULL, RL_ENOMEM, RL_ETOOBIG; RL_ENET when the hub is lost and the site
 * cannot serve alone (a carrier call is then refused, and the SBC tries another site). */
int rl_node_submit(struct rl_node *n, struct rl_source *src, const struct rl_contact_req *req, void *cookie);

/* rl_node_cancel tells the hub the caller left (ABANDONED) or the call was lost (FAILED);
 * never_connected: before any agent was connected to it here. */
int rl_node_cancel(struct rl_node *n, const char *contact_id, Relais__ContactOutcome outcome, int never_connected);

/* rl_node_queue_position asks the hub where contact_id stands in its queue; the answer comes
 * to the contact's source as on_position (nothing comes if the hub is unreachable). */
int rl_node_queue_position(struct rl_node *n, const char *contact_id);

/* rl_node_transfer_result tells the hub how an external transfer of contact_id went. */
int rl_node_transfer_result(struct rl_node *n, const char *contact_id, int ok, unsigned status, const char *reason);

/* rl_node_post hands ptr (one malloc'd block) from any thread to s->ops->posted on the
 * node's loop thread, which frees it; posts never handled (node closing) are freed with
 * free(). Errors: RL_EFULL (the loop's inbox is full: the caller keeps ptr). */
int rl_node_post(struct rl_node *n, struct rl_source *s, void *ptr);

/* rl_node_media returns the node's media engine (calls' audio), NULL if it has none. */
struct rl_media *rl_node_media(struct rl_node *n);

/* rl_node_dialplan: the dial plan in force (borrowed: a call takes a reference to keep it),
 * or NULL when the node has none yet (dialplan.h). */
struct rl_dialplan;
struct rl_dialplan *rl_node_dialplan(const struct rl_node *n);

/* rl_node_attach_audio: the caller of contact id (acknowledged, not ended) speaks through
 * src and hears through sink when its media call starts (in on_update of a CONNECTED update,
 * in time for that call). Taken in every case: held by the contact until its media call
 * takes them, closed if the contact ends first. Errors: RL_ENOENT (the node has no media, or
 * no such contact: both are closed at once). */
struct rl_audio_src;
struct rl_audio_sink;
int rl_node_attach_audio(struct rl_node *n, const char *id, struct rl_audio_src *src, struct rl_audio_sink *sink);

/* rl_node_site returns this node's site id. */
const char *rl_node_site(const struct rl_node *n);

#endif
