/*
 * plan.h - the media plan of one connected call: how the site node and the agent exchange
 * its audio.
 *
 * The hub makes a plan when a call connects (and again after a hub restart: fresh keys and
 * SSRCs, nothing reused). A seated agent at the call's own site talks straight to the
 * site's media address; any other agent (home, or seated at another site after overflow)
 * goes through the hub's relay, which the plan registers with the two SSRCs. Keys are made
 * here from the CSPRNG, one per direction, and leave the hub only inside MediaLeg messages
 * on the TLS control links; the relay never sees them. So are the two latch secrets, one per
 * end, with which an end proves its leg (rl_latch.h): each end gets its own; the relay gets
 * both; a site whose seated agent talks straight to it gets the agent's, to check its proofs.
 */
#ifndef RL_PLAN_H
#define RL_PLAN_H

#include <stdint.h>

#include "relais.pb-c.h"
#include "rl_latch.h"
#include "rl_srtp_suite.h"
#include "rl_wire.h"

struct rl_relay;

/* The last quality report of each end of a call: [0] the site, [1] the agent. */
enum { RL_SIDE_SITE = 1, RL_SIDE_AGENT = 2 };
struct rl_call_quality {
	Relais__CallQuality q[2]; /* contact_id unset */
	int has[2];
};

/* rl_quality_keep keeps a copy of report q from side (RL_SIDE_*). */
void rl_quality_keep(struct rl_call_quality *cq, int side, const Relais__CallQuality *q);

/* rl_quality_get: side's last report, NULL if none (valid while cq lives). */
Relais__CallQuality *rl_quality_get(struct rl_call_quality *cq, int side);

/* rl_quality_dup: a malloc'd copy of side's last report for a record, NULL if none. */
Relais__CallQuality *rl_quality_dup(struct rl_call_quality *cq, int side);

struct rl_plan {
	uint64_t relay_id; /* nonzero: registered with the relay under this id */
	int suite;
	uint32_t epoch;
	uint32_t ssrc_site, ssrc_agent;                                /* what each end sends with */
	uint8_t key_site[RL_SRTP_KEY_MAX], key_agent[RL_SRTP_KEY_MAX]; /* each end's tx key */
	size_t key_len;
	uint8_t latch_site[RL_LATCH_KEY_LEN], latch_agent[RL_LATCH_KEY_LEN]; /* each end's latch secret */
	char site_peer[RL_WIRE_MAX_ID + 1];  /* where the site sends ("" = latch on the agent) */
	char agent_peer[RL_WIRE_MAX_ID + 1]; /* where the agent sends */
	struct rl_call_quality quality;
};

struct rl_plan_where {
	const char *site_media; /* the site's media address, "" if it gave none */
	int seated_here;        /* the agent is seated at the call's site */
	struct rl_relay *relay; /* NULL: no relay configured */
	uint64_t relay_id;
	int suite;
	uint32_t epoch;
};

/* rl_plan_new makes a plan. Errors: RL_ENOENT (no way for media: no relay and the site gave
 * no address), RL_EFULL / RL_EEXIST (relay refused), RL_EINVAL (unknown suite). */
int rl_plan_new(struct rl_plan **out, const struct rl_plan_where *w);

/* rl_plan_leg fills leg (pointers into p, valid while p lives) with one end's view: its own
 * keys and latch secret, and the agent's latch secret for a site that must check it. */
void rl_plan_leg(const struct rl_plan *p, const char *contact_id, int agent_side, Relais__MediaLeg *leg);

/* rl_plan_free releases the relay call and wipes the keys (NULL is fine). */
void rl_plan_free(struct rl_plan *p, struct rl_relay *relay);

#endif
