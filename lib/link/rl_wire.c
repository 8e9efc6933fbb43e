#include "rl_wire.h"

#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_pb.h"

struct rl_wire_stats rl_wire_stats;

/*
 * Decoding allocates through a budgeted allocator: a frame of n bytes may expand to many
 * small objects (each empty sub-message costs a struct), so without a cap a 64 KiB frame of
 * repeated empty entries could ask for hundreds of MiB. The budget is a multiple of the
 * largest frame; past it protobuf-c sees an allocation failure and rejects the frame.
 *
 * The objects of one frame live in one arena: a chain of blocks carved in order, the first
 * holding this header and then the envelope (protobuf-c allocates the message before its
 * fields), so rl_wire_free finds the arena from the envelope and releases a frame with a
 * free per block instead of one per sub-message, string and list. Nothing may free or keep
 * a part of a decoded envelope on its own.
 *
 * rl_pb_unpack decodes the frames that take the common way (rl_pb.h) in one walk; any other
 * - a field this build does not know, a oneof or a message twice, a bytes field, malformed
 * input - is decoded by protobuf-c alone, on the arena emptied of the first attempt.
 */
#define RL_WIRE_ALLOC_BUDGET (RL_WIRE_MAX_FRAME * 16)
#define RL_WIRE_ALIGN        16 /* what malloc gives: enough for any field */
#define RL_WIRE_ROUND(n)     (((n) + RL_WIRE_ALIGN - 1) & ~(size_t)(RL_WIRE_ALIGN - 1))
#define RL_WIRE_BLOCK        4096 /* least size of a block after the first */

struct rl_wire_block {
	struct rl_wire_block *next;
};

struct rl_wire_arena {
	struct rl_wire_block *more; /* blocks after the first, newest first */
	uint8_t *cur, *end;         /* free room in the newest block */
	uint8_t *end0;              /* the first block's end */
	size_t used;                /* bytes asked for: the budget */
};

#define RL_WIRE_ARENA_HDR RL_WIRE_ROUND(sizeof(struct rl_wire_arena))

static void *rl_wire_alloc(void *data, size_t size)
{
	struct rl_wire_arena *a = data;
	size_t need = RL_WIRE_ROUND(size);
	uint8_t *p;

	if (size > RL_WIRE_ALLOC_BUDGET || a->used > RL_WIRE_ALLOC_BUDGET - size)
		return NULL;
	a->used += size;
	if (need > (size_t)(a->end - a->cur)) {
		size_t cap = need > RL_WIRE_BLOCK ? need : RL_WIRE_BLOCK;
		/* The one allocation of lib/ that may fail (rl_alloc.h): a refusal drops the frame. */
		struct rl_wire_block *b = malloc(RL_WIRE_ROUND(sizeof(*b)) + cap);
		if (b == NULL)
			return NULL;
		b->next = a->more;
		a->more = b;
		a->cur = (uint8_t *)b + RL_WIRE_ROUND(sizeof(*b));
		a->end = a->cur + cap;
	}
	p = a->cur;
	a->cur += need;
	return p;
}

static void rl_wire_release(void *data, void *ptr)
{
	/* Freed with the arena: protobuf-c's scratch and a failed decode's parts stay until then. */
	(void)data;
	(void)ptr;
}

/* rl_wire_arena_new: an arena whose first block has room for a frame of len bytes decoded. */
static struct rl_wire_arena *rl_wire_arena_new(size_t len)
{
	/* Room for most frames in one block (structs, NULs and pointers add to the wire size);
	 * a full 64 KiB bundle stays under glibc's mmap threshold. */
	size_t cap = RL_WIRE_ROUND(sizeof(rl_env)) + len + len / 2 + 512;
	struct rl_wire_arena *a = rl_malloc(RL_WIRE_ARENA_HDR + cap);

	a->more = NULL;
	a->cur = (uint8_t *)a + RL_WIRE_ARENA_HDR;
	a->end = a->end0 = a->cur + cap;
	a->used = 0;
	return a;
}

/* rl_wire_arena_reset empties a, as new, its first block kept */
static void rl_wire_arena_reset(struct rl_wire_arena *a)
{
	struct rl_wire_block *b = a->more;

	while (b != NULL) {
		struct rl_wire_block *next = b->next;
		free(b);
		b = next;
	}
	a->more = NULL;
	a->cur = (uint8_t *)a + RL_WIRE_ARENA_HDR;
	a->end = a->end0;
	a->used = 0;
}

static void rl_wire_arena_free(struct rl_wire_arena *a)
{
	rl_wire_arena_reset(a);
	free(a);
}

static int rl_wire_pop_ok(const Relais__ScreenPop *p)
{
	if (p == NULL)
		return 1;
	if (!rl_wire_text_ok(p->caller, RL_WIRE_MAX_ID) || !rl_wire_text_ok(p->dialled, RL_WIRE_MAX_ID))
		return 0;
	if (p->n_data > RL_WIRE_MAX_POP_ITEMS)
		return 0;
	for (size_t i = 0; i < p->n_data; i++)
		if (!rl_wire_text_ok(p->data[i]->key, RL_WIRE_MAX_ID) ||
		    !rl_wire_text_ok(p->data[i]->value, RL_WIRE_MAX_TEXT))
			return 0;
	return 1;
}

/*
 * Generic bounds that hold for every message from an untrusted peer. Semantic checks
 * (ids well formed, known tenant) belong to the handler; this only stops oversized text
 * and lists from travelling further into the program.
 */
static int rl_wire_media_ok(const Relais__MediaLeg *m)
{
	return m == NULL ||
	       (rl_wire_text_ok(m->contact_id, RL_WIRE_MAX_ID) && rl_wire_text_ok(m->peer_addr, RL_WIRE_MAX_ID) &&
	        m->tx_key.len <= RL_WIRE_MAX_KEY && m->rx_key.len <= RL_WIRE_MAX_KEY &&
	        m->latch_key.len <= RL_WIRE_MAX_KEY && m->peer_latch_key.len <= RL_WIRE_MAX_KEY);
}

static int rl_wire_live_ok(const Relais__SiteRegister *sr)
{
	if (sr->n_live > RL_WIRE_MAX_LIVE)
		return 0;
	for (size_t i = 0; i < sr->n_live; i++)
		if (!rl_wire_text_ok(sr->live[i], RL_WIRE_MAX_ID))
			return 0;
	return 1;
}

static int rl_wire_seats_ok(const Relais__SeatsAlive *sa)
{
	if (sa->n_seats > RL_WIRE_MAX_SEATS)
		return 0;
	for (size_t i = 0; i < sa->n_seats; i++)
		if (!rl_wire_text_ok(sa->seats[i]->contact_id, RL_WIRE_MAX_ID))
			return 0;
	return 1;
}

/* A recording order (NULL: none) and a recording's report carry ids and paths. */
static int rl_wire_order_ok(const Relais__RecordingOrder *o)
{
	return o == NULL ||
	       (rl_wire_text_ok(o->tenant_id, RL_WIRE_MAX_ID) && rl_wire_text_ok(o->queue_id, RL_WIRE_MAX_ID) &&
	        rl_wire_text_ok(o->caller, RL_WIRE_MAX_ID));
}

static int rl_wire_recording_ok(const Relais__Recording *r)
{
	return r != NULL && rl_wire_text_ok(r->site_id, RL_WIRE_MAX_ID) && rl_wire_text_ok(r->path, RL_WIRE_MAX_TEXT) &&
	       rl_wire_text_ok(r->sha256, RL_WIRE_MAX_ID) && rl_wire_text_ok(r->error, RL_WIRE_MAX_TEXT);
}

/* rl_wire_journal_ok: a survivable site's journal - its events' names and reasons, and its
 * contacts' recordings, which the hub logs and reports as they are. */
static int rl_wire_journal_ok(const Relais__SiteJournal *j)
{
	for (size_t i = 0; i < j->n_events; i++) {
		const Relais__EventRecord *ev = j->events[i];
		if (!rl_wire_text_ok(ev->contact_id, RL_WIRE_MAX_ID) ||
		    !rl_wire_text_ok(ev->agent_id, RL_WIRE_MAX_ID) || !rl_wire_text_ok(ev->queue_id, RL_WIRE_MAX_ID) ||
		    !rl_wire_text_ok(ev->tenant_id, RL_WIRE_MAX_ID) || !rl_wire_text_ok(ev->site_id, RL_WIRE_MAX_ID) ||
		    !rl_wire_text_ok(ev->operator_id, RL_WIRE_MAX_ID) ||
		    !rl_wire_text_ok(ev->prev_reason, RL_WIRE_MAX_ID))
			return 0;
	}
	for (size_t i = 0; i < j->n_contacts; i++)
		if (j->contacts[i]->recording != NULL && !rl_wire_recording_ok(j->contacts[i]->recording))
			return 0;
	return 1;
}

/* rl_wire_site_bounds_ok: the bounds of what only site nodes send about themselves; 1 for any
 * other body. */
static int rl_wire_site_bounds_ok(const rl_env *e)
{
	switch (e->body_case) {
	case RELAIS__ENVELOPE__BODY_SITE_REGISTER:
		return rl_wire_text_ok(e->site_register->site_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->site_register->name, RL_WIRE_MAX_TEXT) &&
		       rl_wire_text_ok(e->site_register->media_addr, RL_WIRE_MAX_ID) &&
		       rl_wire_live_ok(e->site_register);
	case RELAIS__ENVELOPE__BODY_SEATS_ALIVE:
		return rl_wire_seats_ok(e->seats_alive);
	case RELAIS__ENVELOPE__BODY_SITE_JOURNAL:
		return rl_wire_journal_ok(e->site_journal);
	/* A standby's redirect (docs/ha.md). */
	case RELAIS__ENVELOPE__BODY_ERROR:
		return rl_wire_text_ok(e->error->leader, RL_WIRE_MAX_TEXT);
	default:
		return 1;
	}
}

/* rl_wire_supervision_bounds_ok: the bounds of supervisors' requests (reports, listening in,
 * recordings); 1 for any other body. */
static int rl_wire_supervision_bounds_ok(const rl_env *e)
{
	switch (e->body_case) {
	case RELAIS__ENVELOPE__BODY_REPORT_REQUEST:
		return rl_wire_text_ok(e->report_request->tenant_id, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_MONITOR_REQUEST:
		return rl_wire_text_ok(e->monitor_request->agent_id, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_MONITOR_STATUS:
		return rl_wire_text_ok(e->monitor_status->agent_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->monitor_status->contact_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->monitor_status->end_reason, RL_WIRE_MAX_TEXT) &&
		       rl_wire_media_ok(e->monitor_status->media);
	case RELAIS__ENVELOPE__BODY_MONITOR_LEG:
		return rl_wire_text_ok(e->monitor_leg->contact_id, RL_WIRE_MAX_ID) &&
		       rl_wire_media_ok(e->monitor_leg->media);
	case RELAIS__ENVELOPE__BODY_RECORDING_PAUSE:
		return rl_wire_text_ok(e->recording_pause->contact_id, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_RECORDING_DONE:
		return rl_wire_text_ok(e->recording_done->contact_id, RL_WIRE_MAX_ID) &&
		       rl_wire_recording_ok(e->recording_done->recording);
	case RELAIS__ENVELOPE__BODY_RECORDING_LIST:
		return rl_wire_text_ok(e->recording_list->tenant_id, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_RECORDING_FETCH:
		return rl_wire_text_ok(e->recording_fetch->contact_id, RL_WIRE_MAX_ID);
	default:
		return 1;
	}
}

static int rl_wire_bounds_ok(const rl_env *e)
{
	switch (e->body_case) {
	case RELAIS__ENVELOPE__BODY_HELLO:
		return rl_wire_text_ok(e->hello->site_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->hello->name, RL_WIRE_MAX_TEXT) &&
		       rl_wire_text_ok(e->hello->principal, RL_WIRE_MAX_ID) && e->hello->proof.len <= RL_WIRE_MAX_KEY;
	case RELAIS__ENVELOPE__BODY_HELLO_OK:
		return e->hello_ok->challenge.len <= RL_WIRE_MAX_KEY &&
		       rl_wire_text_ok(e->hello_ok->granted, RL_WIRE_MAX_TEXT);
	case RELAIS__ENVELOPE__BODY_AGENT_LOGIN:
		return rl_wire_text_ok(e->agent_login->agent_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->agent_login->secret, RL_WIRE_MAX_SECRET) &&
		       rl_wire_text_ok(e->agent_login->site_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->agent_login->from_ip, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_AGENT_RESUME:
		return e->agent_resume->token.len <= 64;
	case RELAIS__ENVELOPE__BODY_AGENT_SET_STATE:
		return rl_wire_text_ok(e->agent_set_state->reason, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_OFFER_ANSWER:
		return rl_wire_text_ok(e->offer_answer->contact_id, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_CONTACT_HANGUP:
		return rl_wire_text_ok(e->contact_hangup->contact_id, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_WRAPUP_DONE:
		return rl_wire_text_ok(e->wrapup_done->contact_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->wrapup_done->disposition, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT: {
		const Relais__SubmitContact *s = e->submit_contact;
		return rl_wire_text_ok(s->ext_id, RL_WIRE_MAX_ID) && rl_wire_text_ok(s->tenant_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(s->queue_id, RL_WIRE_MAX_ID) && rl_wire_text_ok(s->site_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(s->media, RL_WIRE_MAX_ID) && rl_wire_pop_ok(s->pop) &&
		       rl_wire_text_ok(s->caller_audio, RL_WIRE_MAX_TEXT);
	}
	case RELAIS__ENVELOPE__BODY_CONTACT_CANCEL:
		return rl_wire_text_ok(e->contact_cancel->contact_id, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_CALL_QUALITY:
		return rl_wire_text_ok(e->call_quality->contact_id, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_CONTACT_UPDATE:
		return rl_wire_media_ok(e->contact_update->media) &&
		       rl_wire_text_ok(e->contact_update->transfer_to, RL_WIRE_MAX_ID) &&
		       rl_wire_order_ok(e->contact_update->recording);
	case RELAIS__ENVELOPE__BODY_QUEUE_POSITION:
		return rl_wire_text_ok(e->queue_position->contact_id, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_CONTACT_TRANSFER:
		return rl_wire_text_ok(e->contact_transfer->contact_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->contact_transfer->queue_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->contact_transfer->number, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->contact_transfer->note, RL_WIRE_MAX_TEXT);
	case RELAIS__ENVELOPE__BODY_TRANSFER_RESULT:
		return rl_wire_text_ok(e->transfer_result->contact_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->transfer_result->reason, RL_WIRE_MAX_TEXT);
	case RELAIS__ENVELOPE__BODY_SITE_COMMAND:
		return rl_wire_text_ok(e->site_command->site_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->site_command->to_site, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->site_command->reason, RL_WIRE_MAX_TEXT) && e->site_command->percent <= 100;
	case RELAIS__ENVELOPE__BODY_SITE_DRAIN:
		return rl_wire_text_ok(e->site_drain->reason, RL_WIRE_MAX_TEXT) &&
		       rl_wire_text_ok(e->site_drain->by, RL_WIRE_MAX_ID) && e->site_drain->percent <= 100;
	case RELAIS__ENVELOPE__BODY_STATUS_REQUEST:
		return rl_wire_text_ok(e->status_request->tenant_id, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_ADMIN_SET_AGENT_STATE:
		return rl_wire_text_ok(e->admin_set_agent_state->agent_id, RL_WIRE_MAX_ID) &&
		       rl_wire_text_ok(e->admin_set_agent_state->reason, RL_WIRE_MAX_ID);
	case RELAIS__ENVELOPE__BODY_OFFER:
		return rl_wire_pop_ok(e->offer->pop);
	case RELAIS__ENVELOPE__BODY_AGENT_STATUS:
		return (e->agent_status->contact == NULL || rl_wire_pop_ok(e->agent_status->contact->pop)) &&
		       rl_wire_media_ok(e->agent_status->media);
	default:
		/* Replies (status, errors) are bounded by the frame and the allocation budget. */
		return rl_wire_site_bounds_ok(e) && rl_wire_supervision_bounds_ok(e);
	}
}

int rl_wire_decode(const void *buf, size_t len, rl_env **out)
{
	struct rl_wire_arena *a;
	ProtobufCAllocator alloc = {rl_wire_alloc, rl_wire_release, NULL};
	rl_env *e;

	*out = NULL;
	if (len > RL_WIRE_MAX_FRAME) {
		atomic_fetch_add(&rl_wire_stats.oversized, 1);
		return RL_ETOOBIG;
	}
	a = rl_wire_arena_new(len);
	alloc.allocator_data = a;
	/* The common way in one walk; anything else (unknown fields, a oneof twice, malformed
	 * bytes...) is protobuf-c's, on an emptied arena. */
	if ((e = (rl_env *)rl_pb_unpack(&relais__envelope__descriptor, &alloc, len, buf)) == NULL) {
		rl_wire_arena_reset(a);
		e = relais__envelope__unpack(&alloc, len, buf);
		/* protobuf-c keeps a field numbered 0, which no schema has and no decoder reads
		 * back once it is packed again: malformed */
		if (e != NULL && rl_pb_field0(&e->base))
			e = NULL;
	}
	if (e != NULL && (uint8_t *)e != (uint8_t *)a + RL_WIRE_ARENA_HDR)
		abort(); /* protobuf-c allocates the message first; rl_wire_free relies on it */
	if (e == NULL || e->body_case == RELAIS__ENVELOPE__BODY__NOT_SET) {
		rl_wire_arena_free(a);
		atomic_fetch_add(&rl_wire_stats.malformed, 1);
		return RL_EPROTO;
	}
	if (e->version != RL_WIRE_VERSION) {
		atomic_fetch_add(&rl_wire_stats.badversion, 1);
		*out = e;
		return RL_EVERSION;
	}
	if (!rl_wire_bounds_ok(e)) {
		rl_wire_arena_free(a);
		atomic_fetch_add(&rl_wire_stats.badfield, 1);
		return RL_ERANGE;
	}
	atomic_fetch_add(&rl_wire_stats.decoded, 1);
	*out = e;
	return RL_OK;
}

void rl_wire_free(rl_env *env)
{
	if (env != NULL)
		rl_wire_arena_free((struct rl_wire_arena *)(void *)((uint8_t *)env - RL_WIRE_ARENA_HDR));
}

/*
 * Encoding. protobuf-c sizes and packs a message by walking every field of its descriptor,
 * and packs a sub-message by sizing it again first: an envelope costs two walks over its 50
 * and more body fields and two sizings of its body, which measured twice the body's own
 * packing (bench/wire, docs/benchmarks.md). So the envelope's head - the scalars version, req_id,
 * session, chan (fields 1-4, left out when 0, as proto3 says) and its body's tag and length -
 * is written here, in the order protobuf-c writes them, and the body is packed alone by rl_pb
 * (rl_pb.h: protobuf-c's message in one walk), before the head, which needs its length. The
 * message is protobuf-c's own, in as many bytes: test_wire compares them for every body,
 * test_pb for every message type (rl_pb_same). An envelope carrying fields this build does
 * not know is packed by protobuf-c whole.
 */
/* Each thread packs its frames here: the body at RL_WIRE_HEAD_ROOM, its head written just
 * before it once the body's length is known. */
#define RL_WIRE_HEAD_ROOM 64
static _Thread_local uint8_t rl_wire_scratch[RL_WIRE_HEAD_ROOM + RL_WIRE_MAX_FRAME];

size_t rl_wire_frame(rl_env *env, const uint8_t **out)
{
	const ProtobufCFieldDescriptor *f = NULL;
	const ProtobufCMessage *body = NULL;
	uint8_t head[RL_WIRE_HEAD_ROOM], *at = rl_wire_scratch + RL_WIRE_HEAD_ROOM;
	size_t h = 0, nbody = 0;

	env->version = RL_WIRE_VERSION;
	if (env->body_case != RELAIS__ENVELOPE__BODY__NOT_SET)
		f = protobuf_c_message_descriptor_get_field(&relais__envelope__descriptor, env->body_case);
	if (env->base.n_unknown_fields > 0 || (f != NULL && f->type != PROTOBUF_C_TYPE_MESSAGE)) {
		size_t n = relais__envelope__get_packed_size(env); /* what this build cannot write itself */
		if (n > RL_WIRE_MAX_FRAME)
			return 0;
		relais__envelope__pack(env, rl_wire_scratch);
		*out = rl_wire_scratch;
		return n;
	}
	head[h++] = 1 << 3; /* field 1, varint */
	h += rl_pb_varint(head + h, env->version);
	if (env->req_id != 0) {
		head[h++] = 2 << 3;
		h += rl_pb_varint(head + h, env->req_id);
	}
	if (env->session != 0) {
		head[h++] = 3 << 3;
		h += rl_pb_varint(head + h, env->session);
	}
	if (env->chan != 0) {
		head[h++] = 4 << 3;
		h += rl_pb_varint(head + h, env->chan);
	}
	if (f != NULL && (body = *(const ProtobufCMessage **)(void *)((uint8_t *)env + f->offset)) != NULL) {
		if ((nbody = rl_pb_pack_in(body, at, RL_WIRE_MAX_FRAME)) == 0 && rl_pb_size(body) > 0)
			return 0; /* longer than a frame */
		h += rl_pb_varint(head + h, (uint64_t)f->id << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
		h += rl_pb_varint(head + h, nbody);
	}
	if (h + nbody > RL_WIRE_MAX_FRAME)
		return 0;
	memcpy(at - h, head, h);
	*out = at - h;
	return h + nbody;
}

int rl_wire_encode(rl_env *env, uint8_t **buf, size_t *len)
{
	const uint8_t *frame;
	size_t n = rl_wire_frame(env, &frame);

	if (n == 0)
		return RL_ETOOBIG;
	*buf = rl_malloc(n);
	memcpy(*buf, frame, n);
	*len = n;
	return RL_OK;
}

void rl_wire_error(rl_env *env, Relais__Error *er, Relais__ErrorCode code, const char *msg, uint32_t retry_ms)
{
	rl_env_init(env);
	relais__error__init(er);
	er->code = code;
	er->message = (char *)msg;
	er->retry_after_ms = retry_ms;
	env->body_case = RELAIS__ENVELOPE__BODY_ERROR;
	env->error = er;
}

void rl_wire_set_str(char **field, const char *v)
{
	char *n = v == NULL || v[0] == '\0' ? (char *)protobuf_c_empty_string : rl_strdup(v);

	if (*field != NULL && *field != protobuf_c_empty_string)
		free(*field);
	*field = n;
}

void *rl_wire_copy(const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = rl_malloc(len + 1);
	ProtobufCMessage *c;

	protobuf_c_message_pack(m, buf);
	c = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
	free(buf);
	if (c == NULL)
		abort(); /* what protobuf-c packed, it unpacks; only memory can fail here */
	return c;
}

Relais__ContactRecord *rl_wire_record_copy(const Relais__ContactRecord *r)
{
	return rl_wire_copy(&r->base);
}

void rl_wire_seats_alive(Relais__Seat **v, size_t n, void (*send)(void *arg, rl_env *env), void *arg)
{
	for (size_t at = 0; at < n; at += RL_WIRE_MAX_SEATS) {
		Relais__SeatsAlive sa = RELAIS__SEATS_ALIVE__INIT;
		rl_env env;

		rl_env_init(&env);
		sa.n_seats = n - at < RL_WIRE_MAX_SEATS ? n - at : RL_WIRE_MAX_SEATS;
		sa.seats = v + at;
		env.body_case = RELAIS__ENVELOPE__BODY_SEATS_ALIVE;
		env.seats_alive = &sa;
		send(arg, &env);
	}
}
