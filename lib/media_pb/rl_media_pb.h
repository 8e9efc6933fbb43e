/*
 * rl_media_pb.h - the control plane's view of a call's media: MediaLeg and CallQuality
 * (proto/relais.proto) to and from the voice path's own structs (rl_media.h).
 *
 * It sits above both layers so that the voice path never sees the wire schema; the site
 * node and the agent client, which speak both, use it.
 */
#ifndef RL_MEDIA_PB_H
#define RL_MEDIA_PB_H

#include "relais.pb-c.h"
#include "rl_media.h"

/* rl_media_leg_from_pb fills leg (ids, keys, latch secrets, SSRCs, peer) from a MediaLeg of
 * the control plane; src, sink, own_socket and rate are left for the caller. Nothing in leg
 * points into m. Errors: RL_EINVAL (unknown suite, key lengths that do not fit it, latch
 * secrets neither absent nor RL_LATCH_KEY_LEN bytes, zero SSRCs, bad ids). */
int rl_media_leg_from_pb(struct rl_media_leg *leg, const Relais__MediaLeg *m);

/* rl_media_quality_pb fills out from q for a CallQuality report; out->contact_id points to
 * id, which must outlive out. */
void rl_media_quality_pb(const struct rl_media_quality *q, const char *id, int final, Relais__CallQuality *out);

#endif
