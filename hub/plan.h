/*
 * plan.h - the media plan of one connected call: how the site node and the agent exchange
 * its audio.
 *
 * The hub makes a plan when a call connects (and again after a hub restart: fresh keys and
 * SSRCs, nothing reused). A seated agent at the call's own site talks straight to the
 * site's media address; any other agent (home, or seated at another site after overflow)
 * goes through the hub's relay, which the plan registers with the two SSRCs. Keys are made
 * here from the CSPRNG, one per direction, and leave the hub only inside MediaLeg messages
 * on the TLS control links; the relay never sees them.
 */
#ifndef RL_PLAN_H
#define RL_PLAN_H

#include <stdint.h>
#include <sys/socket.h>

#include "relais.pb-c.h"
#include "rl_srtp.h"
#include "rl_wire.h"

struct rl_relay;

struct rl_plan {
	uint64_t relay_id;              /* nonzero: registered with the relay under this id */
	int suite;
	uint32_t epoch;
	uint32_t ssrc_site, ssrc_agent; /* what each end sends with */
	uint8_t key_site[RL_SRTP_KEY_MAX], key_agent[RL_SRTP_KEY_MAX]; /* each end's tx key */
	size_t key_len;
	char site_peer[RL_WIRE_MAX_ID + 1];  /* where the site sends ("" = latch on the agent) */
	char agent_peer[RL_WIRE_MAX_ID + 1]; /* where the agent sends */
	Relais__CallQuality q_site, q_agent; /* last reports (contact_id unset) */
	int has_q_site, has_q_agent;
};

struct rl_plan_where {
	const char *site_media;        /* the site's media address, "" if it gave none */
	int seated_here;               /* the agent is seated at the call's site */
	struct rl_relay *relay;        /* NULL: no relay configured */
	uint64_t relay_id;
	const struct sockaddr *ip_site, *ip_agent; /* relay latching restriction, NULL = none */
	int suite;
	uint32_t epoch;
};

/* rl_plan_new makes a plan. Errors: RL_ENOENT (no way for media: no relay and the site gave
 * no address), RL_EFULL / RL_EEXIST (relay refused), RL_ENOMEM. */
int rl_plan_new(struct rl_plan **out, const struct rl_plan_where *w);

/* rl_plan_leg fills leg (pointers into p, valid while p lives) with one end's view. */
void rl_plan_leg(const struct rl_plan *p, const char *contact_id, int agent_side, Relais__MediaLeg *leg);

/* rl_plan_quality keeps a copy of a report (side 1 site, 2 agent). */
void rl_plan_quality(struct rl_plan *p, int side, const Relais__CallQuality *q);

/* rl_plan_quality_dup returns a malloc'd copy of a kept report for a record, or NULL. */
Relais__CallQuality *rl_plan_quality_dup(const Relais__CallQuality *q);

/* rl_plan_free releases the relay call and wipes the keys (NULL is fine). */
void rl_plan_free(struct rl_plan *p, struct rl_relay *relay);

#endif
