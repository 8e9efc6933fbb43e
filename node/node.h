/*
 * node.h - the site node core: one link to the hub carrying the site's own requests and
 * its seated agents' traffic (each agent link a `chan` on it), a listener for those agents
 * and for local tools, and the table of the site's live contacts: one object each
 * (contact.h) holding its source's cookie, its caller's audio and its media call.
 */
#ifndef RL_NODE_H
#define RL_NODE_H

#include "rl_link.h"
#include "rl_loop.h"
#include "rl_operator.h"
#include "bridge.h"
#include "source.h"

struct rl_node_conf {
	char site_id[RL_WIRE_MAX_ID + 1];
	char name[RL_WIRE_MAX_TEXT + 1];
	uint32_t capacity;
	const char *hub_url;
	const char *const *listen; /* NULL-terminated */
	struct rl_tls tls;
	const struct rl_bridge_conf *media;  /* the voice path; NULL = none */
	int survivable;                      /* serves its carrier calls alone when the hub is lost */
	struct rl_key key;                   /* the site's key, proven to the hub at Hello */
	const struct rl_operator *operators; /* who local tools may be (docs/security.md) */
	int noperators;
	/* The dial plan: the node config's (taken by rl_node_open; NULL = none), replaced by the
	 * hub's when it comes (dialplan.h); the hub's prompt names are files in prompt_dir; the
	 * hub's plan is saved in state_dir ("" = not saved). */
	struct rl_dialplan *plan;
	const char *prompt_dir;
	const char *state_dir;
	/* Call recordings (record.h): their folder ("" = none) and the writer's queue bound. */
	const char *recording_dir;
	size_t recording_queue_bytes;
};

struct rl_node_counters {
	uint64_t relayed_up, relayed_down, dropped_up, dropped_down, submitted, acked, refused, cancels;
	uint64_t refused_tools; /* local tool requests refused: no proven operator, or a role without the right */
	uint64_t silent_links;  /* local links closed for saying no Hello in time (rl_greet.h) */
	uint64_t link_resets;   /* local links reset during their TLS handshake (rl_srv.h) */
	uint64_t tls_failed;    /* local links whose TLS failed: no certificate, another CA's */
};

/* rl_node_open dials the hub and listens. Errors: RL_ENET, RL_ECONFIG, RL_ENOMEM. */
int rl_node_open(struct rl_node **out, const struct rl_node_conf *conf, struct rl_loop *loop);

/* rl_node_add_source attaches a source (the node calls its tick and stop). */
struct rl_media;
int rl_node_add_source(struct rl_node *n, struct rl_source *src);

/* rl_node_source_ctl returns the built-in source for relaisctl submissions. */
struct rl_source *rl_node_source_ctl(struct rl_node *n);

/* rl_node_event handles one loop event of the node's sockets. */
void rl_node_event(struct rl_node *n, struct rl_loop_event *ev);

/* rl_node_flush sends what the events handled so far produced, for local links and for the
 * hub (each as one message where it can: the hub's link is corked between flushes). Call it
 * after each batch of events. */
void rl_node_flush(struct rl_node *n);

/* rl_node_tick: link upkeep and the sources' timers. */
void rl_node_tick(struct rl_node *n);

const struct rl_node_counters *rl_node_counters(struct rl_node *n);

/* rl_node_metrics renders the node's metrics for Prometheus into t (node/metrics.c). */
struct rl_text;
void rl_node_metrics(struct rl_node *n, struct rl_text *t);

/* Tags the node uses in the loop. */
enum { RL_NODE_TAG_HUB = 1, RL_NODE_TAG_LISTEN = 2, RL_NODE_TAG_PIPE = 3, RL_NODE_TAG_SOURCE = 4 };

/* rl_node_set_drain: percent % of new carrier calls are refused (503), spread evenly, so SBCs
 * try another site (100: all, and OPTIONS probes too); the hub hears the site's health (100 -
 * percent); calls in progress go on. The hub's SiteDrain does the same. */
void rl_node_set_drain(struct rl_node *n, unsigned percent);

void rl_node_close(struct rl_node *n);

#endif
