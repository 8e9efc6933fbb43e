/* Envelope codec: round trip, and hostile frames are rejected and counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_err.h"
#include "rl_pb.h"
#include "rl_wire.h"
#include "rltest.h"

/* long_text fills buf (n bytes) with c, a string of n - 1. */
static void long_text(char *buf, size_t n, char c)
{
	memset(buf, c, n - 1);
	buf[n - 1] = 0;
}

static void roundtrip(void)
{
	Relais__SubmitContact sc = RELAIS__SUBMIT_CONTACT__INIT;
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	Relais__KeyValue kv = RELAIS__KEY_VALUE__INIT, *kvs[1] = {&kv};
	rl_env env, *out = NULL;
	uint8_t *buf;
	size_t len;

	rl_env_init(&env);
	env.req_id = 42;
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
	env.submit_contact = &sc;
	sc.ext_id = "n1:7";
	sc.tenant_id = "telco";
	sc.queue_id = "telco.billing";
	sc.priority = 3;
	sc.pop = &pop;
	pop.caller = "+212522000000";
	pop.n_data = 1;
	pop.data = kvs;
	kv.key = "lang";
	kv.value = "fr";
	RL_REQUIRE(rl_wire_encode(&env, &buf, &len) == RL_OK);
	RL_REQUIRE(rl_wire_decode(buf, len, &out) == RL_OK);
	RL_CHECK(out->req_id == 42);
	RL_CHECK(out->body_case == RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT);
	RL_CHECK(strcmp(out->submit_contact->queue_id, "telco.billing") == 0);
	RL_CHECK(out->submit_contact->pop->n_data == 1);
	RL_CHECK(strcmp(out->submit_contact->pop->data[0]->value, "fr") == 0);
	rl_wire_free(out);

	/* Wrong version: decoded so the caller can answer, but flagged. */
	unsigned long long before = rl_wire_stats.badversion;
	env.version = 7;
	size_t n = relais__envelope__get_packed_size(&env);
	uint8_t *b2 = malloc(n);
	relais__envelope__pack(&env, b2);
	RL_CHECK(rl_wire_decode(b2, n, &out) == RL_EVERSION);
	RL_CHECK(out != NULL && out->req_id == 42);
	rl_wire_free(out);
	RL_CHECK(rl_wire_stats.badversion == before + 1);
	free(b2);
	free(buf);
}

/* same_as_protobuf: rl_wire_encode writes env as protobuf-c's own packing does: the same
 * message in as many bytes (rl_pb_same: rl_wire.c writes the envelope's head itself, its body's
 * fields grouped by kind). */
static void same_as_protobuf(rl_env *env, const char *what)
{
	uint8_t *mine, *theirs;
	size_t len, n;

	RL_REQUIRE(rl_wire_encode(env, &mine, &len) == RL_OK);
	n = relais__envelope__get_packed_size(env);
	theirs = malloc(n);
	relais__envelope__pack(env, theirs);
	if (!rl_pb_same(&relais__envelope__descriptor, mine, len, theirs, n))
		fprintf(stderr, "not protobuf-c's message: %s (%zu against %zu bytes)\n", what, len, n);
	RL_CHECK(rl_pb_same(&relais__envelope__descriptor, mine, len, theirs, n));
	free(mine);
	free(theirs);
}

/* Every body the envelope may carry (empty), under heads with and without each scalar. */
static void same_bytes_every_body(void)
{
	const ProtobufCMessageDescriptor *d = &relais__envelope__descriptor;
	const uint64_t heads[][3] = {{0, 0, 0}, {1, 300, 0}, {0, 1ull << 40, 7}, {UINT64_MAX, UINT64_MAX, UINT64_MAX}};
	unsigned bodies = 0;
	rl_env env;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		ProtobufCMessage *body;
		if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			continue;
		body = calloc(1, ((const ProtobufCMessageDescriptor *)f->descriptor)->sizeof_message);
		protobuf_c_message_init(f->descriptor, body);
		for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
			rl_env_init(&env);
			env.req_id = heads[h][0];
			env.session = heads[h][1];
			env.chan = heads[h][2];
			env.body_case = f->id;
			*(ProtobufCMessage **)(void *)((uint8_t *)&env + f->offset) = body;
			same_as_protobuf(&env, f->name);
		}
		free(body);
		bodies++;
	}
	RL_CHECK(bodies > 50);
}

static void same_bytes(void)
{
	rl_env env;

	same_bytes_every_body();
	/* A full body: an agent's status with its contact, screen pop and data. */
	Relais__AgentStatus st = RELAIS__AGENT_STATUS__INIT;
	Relais__Offer o = RELAIS__OFFER__INIT;
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	Relais__KeyValue kv = RELAIS__KEY_VALUE__INIT, *kvs[2] = {&kv, &kv};
	char *tenants[2] = {"telco", "bank"}, big[3000];
	long_text(big, sizeof(big), 'v'); /* a body whose length takes two bytes */
	kv.key = "ref";
	kv.value = big;
	pop.caller = "+212522000000";
	pop.n_data = 2;
	pop.data = kvs;
	o.contact_id = "c-00000000000001";
	o.pop = &pop;
	o.enqueued_us = 1765000000000000ull;
	st.agent_id = "a-0001";
	st.state = RELAIS__AGENT_STATE__AGENT_BUSY;
	st.contact = &o;
	st.n_tenants = 2;
	st.tenants = tenants;
	rl_env_init(&env);
	env.req_id = 9;
	env.session = 1234567;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_STATUS;
	env.agent_status = &st;
	same_as_protobuf(&env, "agent status");

	/* No body, and a body case whose pointer is NULL: protobuf-c writes only the head. */
	rl_env_init(&env);
	same_as_protobuf(&env, "no body");
	env.body_case = RELAIS__ENVELOPE__BODY_OFFER;
	same_as_protobuf(&env, "NULL body");

	/* Fields this build does not know (a newer peer's) go out again as protobuf-c keeps them. */
	uint8_t frame[64], *out;
	size_t n, len;
	rl_env *in;
	Relais__Ok ok = RELAIS__OK__INIT;
	rl_env_init(&env);
	env.req_id = 5;
	env.body_case = RELAIS__ENVELOPE__BODY_OK;
	env.ok = &ok;
	env.version = 1;
	n = relais__envelope__pack(&env, frame);
	frame[n++] = 0xb8; /* field 999, varint: 999 << 3 = 0x1f38 */
	frame[n++] = 0x3e;
	frame[n++] = 5;
	RL_REQUIRE(rl_wire_decode(frame, n, &in) == RL_OK);
	RL_CHECK(in->base.n_unknown_fields == 1);
	same_as_protobuf(in, "unknown field");
	RL_REQUIRE(rl_wire_encode(in, &out, &len) == RL_OK);
	RL_CHECK(len == n && memcmp(out, frame, n) == 0);
	free(out);
	rl_wire_free(in);
}

static void hostile(void)
{
	rl_env *out = (rl_env *)1;
	uint8_t junk[64];
	static uint8_t big[RL_WIRE_MAX_FRAME + 1];

	memset(junk, 0xff, sizeof(junk));
	RL_CHECK(rl_wire_decode(junk, sizeof(junk), &out) == RL_EPROTO);
	RL_CHECK(out == NULL);
	RL_CHECK(rl_wire_decode(big, sizeof(big), &out) == RL_ETOOBIG);
	RL_CHECK(rl_wire_stats.oversized == 1);
	/* An empty frame is a valid protobuf but has no body. */
	RL_CHECK(rl_wire_decode(junk, 0, &out) == RL_EPROTO);

	/* A field over its bound: a 300-byte agent id. */
	Relais__AgentLogin al = RELAIS__AGENT_LOGIN__INIT;
	char longid[300];
	rl_env env;
	uint8_t *buf;
	size_t len;
	long_text(longid, sizeof(longid), 'a');
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_LOGIN;
	env.agent_login = &al;
	al.agent_id = longid;
	al.secret = "x";
	RL_REQUIRE(rl_wire_encode(&env, &buf, &len) == RL_OK);
	RL_CHECK(rl_wire_decode(buf, len, &out) == RL_ERANGE);
	RL_CHECK(rl_wire_stats.badfield == 1);
	free(buf);

	/*
	 * Allocation bomb: thousands of empty repeated sub-messages in one frame. Each costs
	 * two bytes on the wire but a struct and a pointer in memory; the budget stops it.
	 */
	size_t n = 0;
	uint8_t *bomb = malloc(RL_WIRE_MAX_FRAME);
	/* Envelope field 51 (status_reply), length-delimited, containing repeated field 2
	 * (agents) entries of zero length: tag 0x12 0x00. */
	size_t inner = (RL_WIRE_MAX_FRAME - 16) / 2 * 2;
	bomb[n++] = 0x08; /* version = 1 */
	bomb[n++] = 0x01;
	bomb[n++] = (uint8_t)((((51 << 3) | 2) & 0x7f) | 0x80);
	bomb[n++] = (uint8_t)(((51 << 3) | 2) >> 7);
	/* varint length of inner */
	size_t l = inner;
	while (l >= 0x80) {
		bomb[n++] = (uint8_t)(l | 0x80);
		l >>= 7;
	}
	bomb[n++] = (uint8_t)l;
	for (size_t i = 0; i < inner && n + 2 <= RL_WIRE_MAX_FRAME; i += 2) {
		bomb[n++] = 0x12;
		bomb[n++] = 0x00;
	}
	unsigned long long malformed = rl_wire_stats.malformed;
	RL_CHECK(rl_wire_decode(bomb, n, &out) == RL_EPROTO);
	RL_CHECK(out == NULL);
	RL_CHECK(rl_wire_stats.malformed == malformed + 1);
	free(bomb);

	/* A field numbered 0 (its key 5, written in two bytes: a 32-bit value), which protobuf-c
	 * keeps as an unknown field and would pack as a key no decoder reads back: malformed. */
	uint8_t zero[] = {0x08, 0x01, 0x6a, 0x00, 0x85, 0x00, 1, 2, 3, 4};
	RL_CHECK(rl_wire_decode(zero, sizeof(zero), &out) == RL_EPROTO);
	RL_CHECK(out == NULL);
	RL_CHECK(rl_wire_stats.malformed == malformed + 2);
	zero[4] = 0x8d; /* field 1 (version) as a 32-bit value instead: a wire type protobuf-c refuses */
	RL_CHECK(rl_wire_decode(zero, sizeof(zero), &out) == RL_EPROTO);
}

static void ids(void)
{
	RL_CHECK(rl_wire_id_ok("telco.billing"));
	RL_CHECK(rl_wire_id_ok("a1001"));
	RL_CHECK(rl_wire_id_ok("+212600000000"));
	RL_CHECK(!rl_wire_id_ok(""));
	RL_CHECK(!rl_wire_id_ok(NULL));
	RL_CHECK(!rl_wire_id_ok("has space"));
	RL_CHECK(!rl_wire_id_ok("semi;colon"));
	char id[RL_WIRE_MAX_ID + 2];
	long_text(id, sizeof(id), 'x');
	RL_CHECK(!rl_wire_id_ok(id));
	id[RL_WIRE_MAX_ID] = 0;
	RL_CHECK(rl_wire_id_ok(id));
	RL_CHECK(rl_wire_text_ok(NULL, 3));
	RL_CHECK(rl_wire_text_ok("abc", 3));
	RL_CHECK(!rl_wire_text_ok("abcd", 3));
}

/* Seats are sent in frames of at most RL_WIRE_MAX_SEATS, all of them, in order. */
static size_t g_frames, g_seats;
static uint64_t g_next;

static void count_seats(void *arg, rl_env *env)
{
	(void)arg;
	RL_CHECK(env->body_case == RELAIS__ENVELOPE__BODY_SEATS_ALIVE);
	RL_CHECK(env->seats_alive->n_seats >= 1 && env->seats_alive->n_seats <= RL_WIRE_MAX_SEATS);
	for (size_t i = 0; i < env->seats_alive->n_seats; i++)
		RL_CHECK(env->seats_alive->seats[i]->chan == g_next++);
	g_frames++;
	g_seats += env->seats_alive->n_seats;
}

static void seats(void)
{
	size_t n = 2 * RL_WIRE_MAX_SEATS + 500;
	Relais__Seat *s = calloc(n, sizeof(*s));
	Relais__Seat **v = calloc(n, sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		relais__seat__init(&s[i]);
		s[i].chan = i;
		v[i] = &s[i];
	}
	rl_wire_seats_alive(v, 0, count_seats, NULL);
	RL_CHECK(g_frames == 0);
	rl_wire_seats_alive(v, n, count_seats, NULL);
	RL_CHECK(g_frames == 3 && g_seats == n);
	free(s);
	free(v);
}

/* decodes: rl_wire_decode's answer to env, encoded. */
static int decodes(rl_env *env)
{
	uint8_t *buf;
	size_t len;
	rl_env *out = NULL;
	int rv;

	RL_REQUIRE(rl_wire_encode(env, &buf, &len) == RL_OK);
	rv = rl_wire_decode(buf, len, &out);
	rl_wire_free(out);
	free(buf);
	return rv;
}

/* A node's report of a recording: its file's path is bounded, and the recording is there. */
static void recording_bounds(void)
{
	Relais__RecordingDone d = RELAIS__RECORDING_DONE__INIT;
	Relais__Recording r = RELAIS__RECORDING__INIT;
	Relais__RecordingPause p = RELAIS__RECORDING_PAUSE__INIT;
	char longpath[300];
	rl_env env;

	long_text(longpath, sizeof(longpath), 'p');
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_RECORDING_DONE;
	env.recording_done = &d;
	d.contact_id = "c1";
	RL_CHECK(decodes(&env) == RL_ERANGE); /* no recording */
	d.recording = &r;
	r.path = "/var/lib/relais/recordings/telco/2026-12-05/c1-1.opus";
	RL_CHECK(decodes(&env) == RL_OK);
	r.path = longpath;
	RL_CHECK(decodes(&env) == RL_ERANGE);
	env.body_case = RELAIS__ENVELOPE__BODY_RECORDING_PAUSE;
	env.recording_pause = &p;
	p.contact_id = longpath;
	RL_CHECK(decodes(&env) == RL_ERANGE);
}

/* A survivable site's journal: an event's reason past the bound is refused whole. */
static void journal_bounds(void)
{
	Relais__SiteJournal j = RELAIS__SITE_JOURNAL__INIT;
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT, *evs[1] = {&ev};
	char longreason[300];
	rl_env env;

	long_text(longreason, sizeof(longreason), 'r');
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_JOURNAL;
	env.site_journal = &j;
	j.parts = 1;
	j.n_events = 1;
	j.events = evs;
	ev.type = RELAIS__EVENT_TYPE__EV_AGENT_STATE;
	ev.agent_id = "a1";
	ev.prev_reason = "break";
	RL_CHECK(decodes(&env) == RL_OK);
	ev.prev_reason = longreason;
	RL_CHECK(decodes(&env) == RL_ERANGE);
}

/* A standby's redirect: the leader's address is bounded. */
static void ha_bounds(void)
{
	Relais__Error er = RELAIS__ERROR__INIT;
	char longaddr[300];
	rl_env env;

	long_text(longaddr, sizeof(longaddr), 'h');
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_ERROR;
	env.error = &er;
	er.code = RELAIS__ERROR_CODE__ERR_NOT_LEADER;
	er.leader = "tls+tcp://10.0.0.11:7400";
	RL_CHECK(decodes(&env) == RL_OK);
	er.leader = longaddr;
	RL_CHECK(decodes(&env) == RL_ERANGE);
}

/* frame_bound: an envelope of exactly RL_WIRE_MAX_FRAME bytes is packed as protobuf-c packs
 * it; one byte more is refused (RL_ETOOBIG), whether the body or the head makes it longer. */
static void frame_bound(void)
{
	Relais__RecordingChunk ch = RELAIS__RECORDING_CHUNK__INIT;
	static uint8_t data[RL_WIRE_MAX_FRAME];
	rl_env env;
	uint8_t *buf = NULL;
	size_t len, n;

	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_RECORDING_CHUNK;
	env.recording_chunk = &ch;
	ch.contact_id = "c-1";
	ch.data.data = data;
	ch.data.len = RL_WIRE_MAX_FRAME - 64;
	n = relais__envelope__get_packed_size(&env); /* then grown to the bound exactly */
	ch.data.len += RL_WIRE_MAX_FRAME - n;
	RL_REQUIRE(relais__envelope__get_packed_size(&env) == RL_WIRE_MAX_FRAME);
	same_as_protobuf(&env, "a chunk of the frame's length");
	ch.data.len++;
	RL_CHECK(rl_wire_encode(&env, &buf, &len) == RL_ETOOBIG && buf == NULL);
	ch.data.len--;
	env.req_id = 1; /* two bytes more of head */
	RL_CHECK(rl_wire_encode(&env, &buf, &len) == RL_ETOOBIG && buf == NULL);
	ch.data.len = sizeof(data); /* the body alone past the frame */
	RL_CHECK(rl_wire_encode(&env, &buf, &len) == RL_ETOOBIG && buf == NULL);
}

int main(void)
{
	seats();
	roundtrip();
	same_bytes();
	frame_bound();
	hostile();
	ids();
	recording_bounds();
	journal_bounds();
	ha_bounds();
	return rltest_done();
}
