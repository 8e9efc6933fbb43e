/*
 * source_gen.c - the demo and load contact source: Poisson arrivals per configured stream,
 * callers with realistic numbers and IVR answers, and caller patience: a caller still
 * waiting (queued or ringing an agent) when patience runs out hangs up, which the hub
 * records as an abandoned contact.
 */
#include "source_gen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_time.h"

struct gen_call {
	struct gen_call *prev, *next;
	char contact[RL_WIRE_MAX_ID + 1];
	Relais__ContactState state;
	uint64_t patience_at;
	int acked, cancelled;
};

struct gen {
	struct rl_source src;
	struct rl_gen_stream *streams;
	int nstreams;
	uint64_t rng;
	struct gen_call *calls; /* live calls, doubly linked */
	uint64_t last_log;
	struct rl_gen_counters ctr;
};

double rl_gen_uniform(uint64_t *rng)
{
	*rng ^= *rng >> 12;
	*rng ^= *rng << 25;
	*rng ^= *rng >> 27;
	return ((double)((*rng * 2685821657736338717ULL) >> 11) + 0.5) / 9007199254740992.0;
}

double rl_gen_exp(uint64_t *rng, double mean)
{
	return -mean * log(rl_gen_uniform(rng));
}

static void gen_unlink(struct gen *g, struct gen_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		g->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

/* A caller number in the formats the sites see: Moroccan mobiles and fixed lines, Senegal. */
void rl_gen_caller(uint64_t *rng, char *buf, size_t len)
{
	static const char *const prefixes[] = {"+2126", "+2127", "+2125", "+22177", "+22178", "+22133"};
	int p = (int)(rl_gen_uniform(rng) * 6) % 6;
	int digits = p < 3 ? 8 : 7;
	size_t n = (size_t)snprintf(buf, len, "%s", prefixes[p]);

	for (int i = 0; i < digits && n + 1 < len; i++)
		buf[n++] = (char)('0' + (int)(rl_gen_uniform(rng) * 10) % 10);
	buf[n] = 0;
}

static void gen_ack(struct rl_source *s, void *cookie, const Relais__SubmitContactOk *ok, int err, const char *msg)
{
	const char *contact_id = ok ? ok->contact_id : NULL;
	struct gen *g = s->impl;
	struct gen_call *c = cookie;

	if (contact_id == NULL) {
		g->ctr.errors++;
		gen_unlink(g, c);
		return;
	}
	g->ctr.acked++;
	snprintf(c->contact, sizeof(c->contact), "%s", contact_id);
	c->acked = 1;
	c->state = RELAIS__CONTACT_STATE__CONTACT_QUEUED;
}

static void gen_update(struct rl_source *s, void *cookie, const Relais__ContactUpdate *u)
{
	struct gen *g = s->impl;
	struct gen_call *c = cookie;

	if (u->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED && c->state != u->state)
		g->ctr.connected++;
	c->state = u->state;
	if (u->state == RELAIS__CONTACT_STATE__CONTACT_ENDED) {
		if (u->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_HANDLED)
			g->ctr.ended++;
		gen_unlink(g, c);
	}
}

static void gen_tick(struct rl_source *s, uint64_t now)
{
	struct gen *g = s->impl;
	char caller[32];

	for (int i = 0; i < g->nstreams; i++) {
		struct rl_gen_stream *st = &g->streams[i];
		if (st->per_minute <= 0)
			continue;
		if (st->next_at == 0)
			st->next_at = now + (uint64_t)(rl_gen_exp(&g->rng, 60.0 / st->per_minute) * 1e6);
		/* Catch up at most a few arrivals per tick after a stall, never a burst storm. */
		for (int k = 0; k < 16 && now >= st->next_at; k++) {
			struct gen_call *c = rl_calloc(1, sizeof(*c));
			Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
			Relais__KeyValue kv[2] = {RELAIS__KEY_VALUE__INIT, RELAIS__KEY_VALUE__INIT},
			                 *kvp[2] = {&kv[0], &kv[1]};
			static const char *const langs[] = {"fr", "ar", "wo", "en"};
			struct rl_contact_req req = {0};

			st->next_at += (uint64_t)(rl_gen_exp(&g->rng, 60.0 / st->per_minute) * 1e6);
			rl_gen_caller(&g->rng, caller, sizeof(caller));
			pop.caller = caller;
			pop.dialled = st->dialled;
			kv[0].key = "lang";
			kv[0].value = (char *)langs[(int)(rl_gen_uniform(&g->rng) * 4) % 4];
			kv[1].key = "ivr";
			kv[1].value = st->queue;
			pop.n_data = 2;
			pop.data = kvp;
			req.tenant_id = st->tenant;
			req.queue_id = st->queue;
			req.priority = (uint32_t)st->priority;
			req.pop = &pop;
			c->patience_at = now + (uint64_t)(rl_gen_exp(&g->rng, st->patience_s) * 1e6);
			c->next = g->calls;
			if (g->calls)
				g->calls->prev = c;
			g->calls = c;
			if (rl_node_submit(s->node, s, &req, c) != RL_OK) {
				g->ctr.errors++;
				gen_unlink(g, c);
				continue;
			}
			g->ctr.generated++;
		}
	}
	for (struct gen_call *c = g->calls; c != NULL; c = c->next) {
		if (!c->acked || c->cancelled || now < c->patience_at)
			continue;
		if (c->state == RELAIS__CONTACT_STATE__CONTACT_QUEUED ||
		    c->state == RELAIS__CONTACT_STATE__CONTACT_OFFERED) {
			c->cancelled = 1;
			g->ctr.abandoned++;
			rl_node_cancel(s->node, c->contact, RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED, 1);
		}
	}
	if (now - g->last_log >= 10000000u) {
		g->last_log = now;
		if (g->ctr.generated)
			rl_log(
			    RL_LOG_NOTICE,
			    "generator site=%s generated=%llu acked=%llu connected=%llu handled=%llu abandoned=%llu errors=%llu",
			    rl_node_site(s->node), (unsigned long long)g->ctr.generated,
			    (unsigned long long)g->ctr.acked, (unsigned long long)g->ctr.connected,
			    (unsigned long long)g->ctr.ended, (unsigned long long)g->ctr.abandoned,
			    (unsigned long long)g->ctr.errors);
	}
}

static void gen_stop(struct rl_source *s)
{
	struct gen *g = s->impl;

	while (g->calls)
		gen_unlink(g, g->calls);
	free(g->streams);
	free(g);
}

static const struct rl_source_ops gen_ops = {
    .name = "generator", .on_ack = gen_ack, .on_update = gen_update, .tick = gen_tick, .stop = gen_stop};

struct rl_source *rl_gen_create(const struct rl_gen_stream *streams, int n, uint64_t seed)
{
	struct gen *g = rl_calloc(1, sizeof(*g));

	g->streams = rl_calloc((size_t)n + 1, sizeof(*streams));
	memcpy(g->streams, streams, (size_t)n * sizeof(*streams));
	g->nstreams = n;
	g->rng = seed ? seed : 0x2545f4914f6cdd1dULL;
	g->src.ops = &gen_ops;
	g->src.impl = g;
	g->last_log = rl_mono_us();
	return &g->src;
}

const struct rl_gen_counters *rl_gen_counters(const struct rl_source *s)
{
	return &((const struct gen *)s->impl)->ctr;
}
