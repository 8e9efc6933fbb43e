/*
 * rl_wire.h - the envelope codec.
 *
 * Every control message is one relais.Envelope (proto/relais.proto). Decoding treats the
 * frame as hostile: it is bounded in size, decoded with an allocation budget, and checked
 * for version and field bounds. Rejected frames are counted in rl_wire_stats.
 */
#ifndef RL_WIRE_H
#define RL_WIRE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "relais.pb-c.h"
#include "rl_id.h"

#define RL_WIRE_VERSION          1
#define RL_WIRE_MAX_FRAME        (64 * 1024) /* NNG_OPT_RECVMAXSZ on every socket */
#define RL_WIRE_MAX_ID           RL_ID_MAX   /* ids: tenant, queue, agent, site, contact, ext */
#define RL_WIRE_MAX_TEXT         256         /* other strings: reasons, names, pop values */
#define RL_WIRE_MAX_SECRET       256
#define RL_WIRE_MAX_KEY          64     /* MediaLeg keys (SRTP master key + salt), Hello proofs */
#define RL_WIRE_MAX_LIVE         2000   /* SiteRegister.live entries */
#define RL_WIRE_MAX_SEATS        1000   /* SeatsAlive.seats entries (a node sends more frames) */
#define RL_WIRE_MAX_POP_ITEMS    32     /* ScreenPop.data entries */
#define RL_WIRE_MAX_STATUS_ITEMS 200000 /* StatusReply rows (trusted direction only) */
#define RL_RECORDING_CHUNK       49152  /* RecordingChunk bytes: a chunk and its envelope fit a frame */

#define RL_HEARTBEAT_MS 2000
#define RL_LINK_DEAD_MS 6000

typedef Relais__Envelope rl_env;

/* Counters of frames seen by rl_wire_decode in this process (all threads). */
struct rl_wire_stats {
	atomic_ullong decoded;   /* accepted */
	atomic_ullong malformed; /* protobuf did not parse, or allocation budget exceeded */
	atomic_ullong oversized; /* frame longer than RL_WIRE_MAX_FRAME */
	atomic_ullong badversion;
	atomic_ullong badfield; /* parsed, but an id/text/list broke its bound */
};
extern struct rl_wire_stats rl_wire_stats;

/*
 * rl_wire_decode parses len bytes at buf into *out. On success the caller owns *out and
 * frees it with rl_wire_free. Errors: RL_ETOOBIG (frame too long), RL_EPROTO (not an
 * envelope, or no body), RL_EVERSION (other version; *out is still set so the caller can
 * answer with req_id), RL_ERANGE (a field broke its bound). On any error but RL_EVERSION
 * *out is NULL.
 */
int rl_wire_decode(const void *buf, size_t len, rl_env **out);

/* rl_wire_free releases an envelope from rl_wire_decode with everything in it: its
 * sub-messages, strings and lists share one allocation, so none of them may be freed, or
 * kept past this call, on its own (copy what must stay). NULL is allowed. */
void rl_wire_free(rl_env *env);

/*
 * rl_wire_encode packs env (setting env->version) into a new buffer. On success *buf is a
 * malloc'd buffer the caller frees, *len its length. Errors: RL_ETOOBIG if the packed size
 * exceeds RL_WIRE_MAX_FRAME.
 */
int rl_wire_encode(rl_env *env, uint8_t **buf, size_t *len);

/* rl_wire_frame packs env (setting env->version) into this thread's buffer, the message
 * protobuf-c's relais__envelope__pack packs, in as many bytes, at a fraction of its cost
 * (rl_wire.c), and points *out at them: they stay until the thread's next call. Returns
 * their length, or 0 if the envelope is longer than RL_WIRE_MAX_FRAME. */
size_t rl_wire_frame(rl_env *env, const uint8_t **out);

/* rl_wire_error fills env (initialised first) with an Error er of code, msg (not copied) and
 * retry_ms (0: none), er pointing into it; the caller sets req_id and the rest after. */
void rl_wire_error(rl_env *env, Relais__Error *er, Relais__ErrorCode code, const char *msg, uint32_t retry_ms);

/* rl_wire_set_str sets a string field of a message protobuf-c unpacked (or one built with
 * the same allocation) to a copy of v, freeing the old one (never protobuf-c's shared empty
 * string); an empty v (or NULL) sets that shared empty string, as protobuf-c's init and
 * unpack leave an absent string: no allocation, and packing sees it is empty without
 * reading it. */
void rl_wire_set_str(char **field, const char *v);

/* rl_wire_copy: a message of one's own (unpacked: every field freeable, free it with
 * protobuf_c_message_free_unpacked or the type's free_unpacked) from m, which may live inside
 * a received frame or be built on the stack. rl_wire_record_copy: the same for a contact
 * record. */
void *rl_wire_copy(const ProtobufCMessage *m);
Relais__ContactRecord *rl_wire_record_copy(const Relais__ContactRecord *r);

/* rl_wire_seats_alive hands send the seats v[0..n) as SeatsAlive envelopes of at most
 * RL_WIRE_MAX_SEATS seats each (none if n is 0). */
void rl_wire_seats_alive(Relais__Seat **v, size_t n, void (*send)(void *arg, rl_env *env), void *arg);

/* rl_wire_id_ok: an id on the wire follows the one rule of rl_id_ok (1..RL_WIRE_MAX_ID chars
 * of [A-Za-z0-9._:@+-]). */
static inline int rl_wire_id_ok(const char *s)
{
	return rl_id_ok(s);
}

/* rl_wire_text_ok: NULL or at most max bytes (rl_text_ok). */
static inline int rl_wire_text_ok(const char *s, size_t max)
{
	return rl_text_ok(s, max);
}

/* Convenience: a zeroed envelope with version set. */
static inline void rl_env_init(rl_env *env)
{
	relais__envelope__init(env);
	env->version = RL_WIRE_VERSION;
}

#endif
