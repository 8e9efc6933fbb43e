/*
 * The node's contact object with a real media bridge: who sees a ContactUpdate first (the
 * source when the call goes to an agent, the media side when it leaves one), a carrier leg's
 * audio attached to the contact and taken by the media call, re-keyed in place, and closed
 * exactly once whichever way the contact goes.
 */
#include <stddef.h>
#include <string.h>

#include "bridge.h"
#include "contact.h"
#include "rl_audio.h"
#include "rl_client.h"
#include "rl_err.h"
#include "rl_loop.h"
#include "rl_media.h"
#include "rltest.h"
#include "source.h"

/* The caller's side of a carrier leg as the media call sees it: silence, counted. */
struct ends {
	struct rl_audio_src src;
	struct rl_audio_sink sink;
	int reads, writes, src_closed, sink_closed;
};

static int ends_read(struct rl_audio_src *s, int16_t *pcm, size_t n)
{
	struct ends *e = (struct ends *)((char *)s - offsetof(struct ends, src));

	__atomic_add_fetch(&e->reads, 1, __ATOMIC_RELAXED);
	memset(pcm, 0, n * sizeof(*pcm));
	return RL_OK;
}

static void ends_src_close(struct rl_audio_src *s)
{
	struct ends *e = (struct ends *)((char *)s - offsetof(struct ends, src));

	__atomic_add_fetch(&e->src_closed, 1, __ATOMIC_RELAXED);
}

static int ends_write(struct rl_audio_sink *s, const int16_t *pcm, size_t n)
{
	struct ends *e = (struct ends *)((char *)s - offsetof(struct ends, sink));

	(void)pcm;
	(void)n;
	__atomic_add_fetch(&e->writes, 1, __ATOMIC_RELAXED);
	return RL_OK;
}

static void ends_sink_close(struct rl_audio_sink *s)
{
	struct ends *e = (struct ends *)((char *)s - offsetof(struct ends, sink));

	__atomic_add_fetch(&e->sink_closed, 1, __ATOMIC_RELAXED);
}

static void ends_init(struct ends *e)
{
	memset(e, 0, sizeof(*e));
	e->src.read = ends_read;
	e->src.close = ends_src_close;
	e->sink.write = ends_write;
	e->sink.close = ends_sink_close;
}

static int ends_reads(struct ends *e)
{
	return __atomic_load_n(&e->reads, __ATOMIC_RELAXED);
}

/* A source as the SIP one behaves towards the node: on CONNECTED it attaches its caller's
 * audio to the contact. It notes how many media calls the bridge had when it was told. */
static struct rl_bridge *g_bridge;

struct call {
	struct rl_contact *contact;
	struct ends *ends; /* attached on the first CONNECTED; NULL = none */
	int updates, positions;
	unsigned calls_seen[8];
	Relais__ContactState states[8];
};

static void t_update(struct rl_source *s, void *cookie, const Relais__ContactUpdate *u)
{
	struct call *k = cookie;

	(void)s;
	if (k->updates < 8) {
		k->calls_seen[k->updates] = rl_bridge_calls(g_bridge);
		k->states[k->updates] = u->state;
	}
	k->updates++;
	if (u->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED && k->ends != NULL && k->contact->media_ssrc == 0 &&
	    k->contact->audio_src == NULL)
		rl_contact_attach(k->contact, &k->ends->src, &k->ends->sink);
}

static void t_position(struct rl_source *s, void *cookie, const Relais__QueuePositionReply *r)
{
	(void)s;
	(void)r;
	((struct call *)cookie)->positions++;
}

static const struct rl_source_ops t_ops = {.name = "test", .on_update = t_update, .on_position = t_position};
static struct rl_source t_src = {.ops = &t_ops};

/* A plan for contact id as the hub makes one. */
struct plan {
	Relais__MediaLeg leg;
	uint8_t tx[30], rx[30];
};

static void plan_init(struct plan *p, const char *id, uint32_t tx_ssrc, uint32_t rx_ssrc)
{
	relais__media_leg__init(&p->leg);
	memset(p->tx, 0x11, sizeof(p->tx));
	memset(p->rx, 0x22, sizeof(p->rx));
	p->leg.contact_id = (char *)id;
	p->leg.peer_addr = "127.0.0.1:9";
	p->leg.suite = RELAIS__SRTP_SUITE__SRTP_AES_CM_128_HMAC_SHA1_80;
	p->leg.tx_ssrc = tx_ssrc;
	p->leg.rx_ssrc = rx_ssrc;
	p->leg.tx_key.data = p->tx;
	p->leg.tx_key.len = sizeof(p->tx);
	p->leg.rx_key.data = p->rx;
	p->leg.rx_key.len = sizeof(p->rx);
}

static void update(struct rl_contact *c, struct rl_client *hub, Relais__ContactState st, struct plan *p)
{
	Relais__ContactUpdate u = RELAIS__CONTACT_UPDATE__INIT;

	u.contact_id = c->id;
	u.state = st;
	u.media = p != NULL ? &p->leg : NULL;
	rl_contact_update(c, &u, g_bridge, hub);
}

/* A carrier call: queued, offered, connected, re-keyed, sent back to a queue, connected again
 * to another agent, ended. */
static void carrier_call(struct rl_client *hub)
{
	struct ends e;
	struct call k = {0};
	struct plan p1, p2, p3;
	struct rl_contact *c;
	int reads;

	ends_init(&e);
	k.ends = &e;
	c = k.contact = rl_contact_new("c-carrier", &t_src, &k);
	plan_init(&p1, c->id, 0x1001, 0x2001);
	plan_init(&p2, c->id, 0x1002, 0x2002);
	plan_init(&p3, c->id, 0x1003, 0x2003);

	update(c, hub, RELAIS__CONTACT_STATE__CONTACT_OFFERED, NULL);
	RL_CHECK(k.updates == 1 && rl_bridge_calls(g_bridge) == 0 && c->media_ssrc == 0);

	/* Towards the agent: the source first (no media call yet), and the call takes its leg. */
	update(c, hub, RELAIS__CONTACT_STATE__CONTACT_CONNECTED, &p1);
	RL_CHECK(k.updates == 2 && k.calls_seen[1] == 0);
	RL_CHECK(rl_bridge_calls(g_bridge) == 1);
	RL_CHECK(c->media_ssrc == 0x1001 && c->audio_src == NULL && c->audio_sink == NULL);
	RL_WAIT(10000, ends_reads(&e) > 0); /* the media thread reads the caller from the attached leg */
	reads = ends_reads(&e);

	/* The same plan again: nothing moves. A new plan re-keys the call, the leg goes on. */
	update(c, hub, RELAIS__CONTACT_STATE__CONTACT_CONNECTED, &p1);
	RL_CHECK(rl_bridge_calls(g_bridge) == 1 && c->media_ssrc == 0x1001);
	update(c, hub, RELAIS__CONTACT_STATE__CONTACT_CONNECTED, &p2);
	RL_CHECK(rl_bridge_calls(g_bridge) == 1 && c->media_ssrc == 0x1002);
	RL_WAIT(10000, ends_reads(&e) > reads);
	RL_CHECK(e.src_closed == 0 && e.sink_closed == 0);

	/* Away from the agent: the media side first, so the source finds the leg free. */
	update(c, hub, RELAIS__CONTACT_STATE__CONTACT_QUEUED, NULL);
	RL_CHECK(k.updates == 5 && k.calls_seen[4] == 0);
	RL_CHECK(c->media_ssrc == 0 && rl_bridge_calls(g_bridge) == 0);
	RL_CHECK(e.src_closed == 1 && e.sink_closed == 1); /* the call's end closed the leg it took */

	/* Another agent: the source attaches again (a carrier leg gives a new reference). */
	ends_init(&e);
	update(c, hub, RELAIS__CONTACT_STATE__CONTACT_CONNECTED, &p3);
	RL_CHECK(k.calls_seen[5] == 0 && c->media_ssrc == 0x1003 && rl_bridge_calls(g_bridge) == 1);
	update(c, hub, RELAIS__CONTACT_STATE__CONTACT_ENDED, NULL);
	RL_CHECK(k.calls_seen[6] == 0 && k.states[6] == RELAIS__CONTACT_STATE__CONTACT_ENDED);
	RL_CHECK(rl_bridge_calls(g_bridge) == 0);
	RL_CHECK(e.src_closed == 1 && e.sink_closed == 1);
	rl_contact_free(c);
	RL_CHECK(e.src_closed == 1 && e.sink_closed == 1); /* not twice */
}

/* Audio attached and never used: the contact ends before an agent takes it, or the plan is
 * refused; the contact closes it once. */
static void unused_audio(struct rl_client *hub)
{
	struct ends e;
	struct plan bad;
	struct rl_contact *c = rl_contact_new("c-unused", &t_src, NULL);

	ends_init(&e);
	rl_contact_attach(c, &e.src, &e.sink);
	plan_init(&bad, "another-contact", 0x3001, 0x4001);
	update(c, hub, RELAIS__CONTACT_STATE__CONTACT_CONNECTED, &bad);
	RL_CHECK(rl_bridge_calls(g_bridge) == 0 && c->media_ssrc == 0 && c->audio_src == &e.src);
	update(c, hub, RELAIS__CONTACT_STATE__CONTACT_ENDED, NULL);
	RL_CHECK(e.src_closed == 0);
	rl_contact_free(c);
	RL_CHECK(e.src_closed == 1 && e.sink_closed == 1 && e.reads == 0);

	/* A second attach replaces (and closes) the first. */
	struct ends e2;
	ends_init(&e);
	ends_init(&e2);
	c = rl_contact_new("c-twice", &t_src, NULL);
	rl_contact_attach(c, &e.src, &e.sink);
	rl_contact_attach(c, &e2.src, &e2.sink);
	RL_CHECK(e.src_closed == 1 && e.sink_closed == 1 && e2.src_closed == 0);
	rl_contact_free(c);
	RL_CHECK(e2.src_closed == 1 && e2.sink_closed == 1);
}

/* A caller without a carrier leg (relaisctl, the generator, an adopted contact): the media
 * call gets the chosen WAV, or the configured voice when that WAV cannot be read. */
static void voiced(struct rl_client *hub, const char *dir)
{
	char wav[512];
	int16_t pcm[1600] = {0};
	struct plan p;
	struct rl_contact *c = rl_contact_new("c-voice", NULL, NULL);
	Relais__QueuePositionReply r = RELAIS__QUEUE_POSITION_REPLY__INIT;

	snprintf(wav, sizeof(wav), "%s/caller.wav", dir);
	RL_REQUIRE(rl_audio_write_wav(wav, pcm, 1600, 16000) == RL_OK);
	rl_contact_voice(c, wav);
	RL_CHECK(strcmp(c->voice, wav) == 0);
	plan_init(&p, c->id, 0x5001, 0x6001);
	update(c, hub, RELAIS__CONTACT_STATE__CONTACT_CONNECTED, &p);
	RL_CHECK(c->media_ssrc == 0x5001 && rl_bridge_calls(g_bridge) == 1);
	rl_contact_position(c, &r); /* no source: nobody to tell */
	update(c, hub, RELAIS__CONTACT_STATE__CONTACT_ENDED, NULL);
	RL_CHECK(c->media_ssrc == 0 && rl_bridge_calls(g_bridge) == 0);
	rl_contact_free(c);

	c = rl_contact_new("c-novoice", NULL, NULL);
	rl_contact_voice(c, "/nonexistent/caller.wav");
	plan_init(&p, c->id, 0x5002, 0x6002);
	update(c, hub, RELAIS__CONTACT_STATE__CONTACT_CONNECTED, &p);
	RL_CHECK(c->media_ssrc == 0x5002 && rl_bridge_calls(g_bridge) == 1);
	update(c, hub, RELAIS__CONTACT_STATE__CONTACT_ENDED, NULL);
	rl_contact_free(c);
}

static void position(void)
{
	struct call k = {0};
	Relais__QueuePositionReply r = RELAIS__QUEUE_POSITION_REPLY__INIT;
	struct rl_contact *c = rl_contact_new("c-pos", &t_src, &k);

	rl_contact_position(c, &r);
	RL_CHECK(k.positions == 1);
	rl_contact_free(c);
	rl_contact_free(NULL);
}

int main(void)
{
	struct rl_bridge_conf bc = {
	    .listen = "127.0.0.1:0", .caller_audio = "", .record_dir = "", .rate = 16000, .report_s = 5};
	struct rl_client_opts o = {.url = NULL, .role = RELAIS__ROLE__ROLE_NODE, .site_id = "test", .name = "test"};
	struct rl_loop *loop;
	struct rl_client *hub;
	char url[64];

	/* A hub link that never comes up: quality reports find it down, as during a blip. */
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", rltest_free_port());
	o.url = url;
	RL_REQUIRE(rl_loop_create(&loop) == RL_OK);
	RL_REQUIRE(rl_client_open(&hub, &o, loop, 1) == RL_OK);
	RL_REQUIRE(rl_bridge_open(&g_bridge, &bc) == RL_OK);

	carrier_call(hub);
	unused_audio(hub);
	voiced(hub, rltest_tmpdir("contact"));
	position();

	rl_bridge_close(g_bridge);
	rl_client_close(hub);
	rl_loop_destroy(loop);
	return rltest_done();
}
