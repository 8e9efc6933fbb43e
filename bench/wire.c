/*
 * relais-bench-wire: what encoding one envelope costs, protobuf-c packing the whole
 * envelope (its floor: the library alone) beside rl_wire_encode (the head written by
 * lib/link/rl_wire.c, the body packed by protobuf-c), for the frames the hub sends most per
 * contact. Both produce the same bytes (checked here and in test_wire). Then what packing
 * one of the hub's event records costs, sized then packed beside packed in one walk into a
 * growing buffer, as hub/store.c does.
 *   relais-bench-wire [--reps N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_time.h"
#include "rl_wire.h"

struct sample {
	const char *name;
	rl_env env;
};

typedef int (*encode_fn)(rl_env *env, uint8_t **buf, size_t *len);

/* whole_encode: protobuf-c sizes and packs the whole envelope into a new buffer, as
 * rl_wire_encode did before it wrote the head itself. */
static int whole_encode(rl_env *env, uint8_t **buf, size_t *len)
{
	env->version = RL_WIRE_VERSION;
	*len = relais__envelope__get_packed_size(env);
	*buf = rl_malloc(*len);
	relais__envelope__pack(env, *buf);
	return RL_OK;
}

/* encode_ns: what one encoding of env by enc costs, in ns (the buffer's free included). */
static double encode_ns(encode_fn enc, rl_env *env, long reps)
{
	uint64_t t0 = rl_mono_us();
	size_t sink = 0;

	for (long i = 0; i < reps; i++) {
		uint8_t *b;
		size_t n;
		if (enc(env, &b, &n) != RL_OK)
			abort();
		sink += b[n - 1];
		free(b);
	}
	if (sink == 1)
		fputs("", stderr); /* keep the loop */
	return (double)(rl_mono_us() - t0) * 1000.0 / (double)reps;
}

static int same(rl_env *env)
{
	uint8_t *a, *b;
	size_t n, m;
	int ok;

	if (rl_wire_encode(env, &a, &n) != RL_OK)
		return 0;
	whole_encode(env, &b, &m);
	ok = n == m && memcmp(a, b, n) == 0;
	free(a);
	free(b);
	return ok;
}

/* event_ns: one event record packed, sized first (mode 0) or into a buffer (mode 1). */
static double event_ns(const Relais__EventRecord *ev, int mode, long reps)
{
	uint64_t t0 = rl_mono_us();
	uint8_t stackbuf[2048];
	size_t sink = 0;

	for (long i = 0; i < reps; i++) {
		if (mode == 0) {
			size_t n = relais__event_record__get_packed_size(ev);
			relais__event_record__pack(ev, stackbuf);
			sink += stackbuf[n - 1];
		} else {
			ProtobufCBufferSimple b = PROTOBUF_C_BUFFER_SIMPLE_INIT(stackbuf);
			relais__event_record__pack_to_buffer(ev, &b.base);
			sink += b.data[b.len - 1];
			PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&b);
		}
	}
	if (sink == 1)
		fputs("", stderr);
	return (double)(rl_mono_us() - t0) * 1000.0 / (double)reps;
}

/* events: the store's packing of an agent-state event of a bench/route lifecycle. */
static void events(long reps)
{
	Relais__EventRecord ev = RELAIS__EVENT_RECORD__INIT;
	double sized, walk;

	ev.ts_us = 1765000000000000ull;
	ev.type = RELAIS__EVENT_TYPE__EV_AGENT_STATE;
	ev.contact_id = "c-00000000123456";
	ev.agent_id = "agent-00123";
	ev.queue_id = "telco.billing";
	ev.tenant_id = "telco";
	ev.site_id = "casablanca";
	ev.agent_state = RELAIS__AGENT_STATE__AGENT_BUSY;
	ev.wait_ms = 1234;
	sized = event_ns(&ev, 0, reps);
	walk = event_ns(&ev, 1, reps);
	printf("\n%-30s %8s %14s %14s %7s\n", "record", "bytes", "size+pack ns", "one walk ns", "ratio");
	printf("%-30s %8zu %14.0f %14.0f %6.2fx\n", "EventRecord", relais__event_record__get_packed_size(&ev), sized,
	       walk, walk / sized);
	printf("RESULT record=event bytes=%zu sized_ns=%.0f walk_ns=%.0f ratio=%.2f\n",
	       relais__event_record__get_packed_size(&ev), sized, walk, walk / sized);
}

int main(int argc, char **argv)
{
	long reps = 2000000;
	Relais__Ok ok = RELAIS__OK__INIT;
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	Relais__Offer o = RELAIS__OFFER__INIT;
	Relais__AgentStatus st = RELAIS__AGENT_STATUS__INIT;
	Relais__ContactUpdate u = RELAIS__CONTACT_UPDATE__INIT;
	char *tenants[1] = {"telco"};
	struct sample s[3] = {
	    {.name = "Ok (a reply)"}, {.name = "AgentStatus with its contact"}, {.name = "ContactUpdate"}};

	if (argc == 3 && strcmp(argv[1], "--reps") == 0)
		reps = atol(argv[2]);
	if (reps <= 0) {
		fprintf(stderr, "usage: relais-bench-wire [--reps N]\n");
		return 2;
	}
	/* The frames of a bench/route lifecycle, with its ids and sizes. */
	pop.caller = "+212600000001";
	o.contact_id = "c-00000000123456";
	o.tenant_id = "telco";
	o.queue_id = "telco.billing";
	o.pop = &pop;
	o.enqueued_us = 1765000000000000ull;
	o.offered_us = 1765000000000100ull;
	o.state = RELAIS__CONTACT_STATE__CONTACT_CONNECTED;
	o.site_id = "casablanca";
	st.agent_id = "agent-00123";
	st.state = RELAIS__AGENT_STATE__AGENT_BUSY;
	st.state_since_us = 1765000000000000ull;
	st.site_id = "casablanca";
	st.n_tenants = 1;
	st.tenants = tenants;
	st.contact = &o;
	u.contact_id = o.contact_id;
	u.ext_id = "casablanca:123456";
	u.state = RELAIS__CONTACT_STATE__CONTACT_CONNECTED;
	u.agent_id = st.agent_id;
	for (int i = 0; i < 3; i++)
		rl_env_init(&s[i].env);
	s[0].env.body_case = RELAIS__ENVELOPE__BODY_OK;
	s[0].env.ok = &ok;
	s[0].env.req_id = 4242;
	s[0].env.session = 987654321;
	s[1].env.body_case = RELAIS__ENVELOPE__BODY_AGENT_STATUS;
	s[1].env.agent_status = &st;
	s[1].env.req_id = 4243;
	s[1].env.session = 987654321;
	s[2].env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_UPDATE;
	s[2].env.contact_update = &u;
	printf("%-30s %8s %14s %14s %7s\n", "frame", "bytes", "protobuf-c ns", "rl_wire ns", "ratio");
	for (int i = 0; i < 3; i++) {
		double w, r;
		if (!same(&s[i].env)) {
			fprintf(stderr, "%s: rl_wire_encode's bytes are not protobuf-c's\n", s[i].name);
			return 1;
		}
		w = encode_ns(whole_encode, &s[i].env, reps);
		r = encode_ns(rl_wire_encode, &s[i].env, reps);
		printf("%-30s %8zu %14.0f %14.0f %6.2fx\n", s[i].name, relais__envelope__get_packed_size(&s[i].env), w,
		       r, r / w);
		printf("RESULT frame=%d bytes=%zu protobuf_ns=%.0f wire_ns=%.0f ratio=%.2f\n", i,
		       relais__envelope__get_packed_size(&s[i].env), w, r, r / w);
	}
	events(reps);
	return 0;
}
