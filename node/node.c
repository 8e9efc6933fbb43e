#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dialplan.h"
#include "internal.h"
#include "monitor.h"
#include "record.h"
#include "rl_addr.h"
#include "rl_alloc.h"
#include "rl_audio.h"
#include "rl_bundle.h"
#include "rl_client.h"
#include "rl_err.h"
#include "rl_greet.h"
#include "rl_hello.h"
#include "rl_htab.h"
#include "rl_log.h"
#include "rl_secret.h"
#include "rl_srv.h"
#include "rl_time.h"

static int rl_eq_contact(const void *v, const void *k)
{
	return strcmp(((const struct rl_contact *)v)->id, k) == 0;
}

/* rl_node_contact: the live contact id, or NULL. */
static struct rl_contact *rl_node_contact(struct rl_node *n, const char *id)
{
	return rl_htab_get(&n->contacts, rl_htab_hash(id), rl_eq_contact, id);
}

static struct rl_contact *rl_node_contact_add(struct rl_node *n, const char *id, struct rl_source *src, void *cookie)
{
	struct rl_contact *c = rl_contact_new(id, src, cookie);

	rl_htab_put(&n->contacts, rl_htab_hash(c->id), c);
	return c;
}

static void rl_node_contact_del(struct rl_node *n, struct rl_contact *c)
{
	n->nheld -= c->held != NULL;
	rl_htab_del(&n->contacts, rl_htab_hash(c->id), c);
	rl_contact_free(c);
}

const char *rl_node_site(const struct rl_node *n)
{
	return n->conf.site_id;
}

struct rl_dialplan *rl_node_dialplan(const struct rl_node *n)
{
	return rl_node_plan_get(n->plans);
}

const struct rl_node_counters *rl_node_counters(struct rl_node *n)
{
	struct rl_srv_counters k;

	rl_srv_counters(n->lsrv, &k);
	n->ctr.link_resets = k.resets;
	n->ctr.tls_failed = k.tls_failed;
	return &n->ctr;
}

/* rl_node_send queues env for a local link; rl_node_flush sends the batch. */
int rl_node_send(struct rl_node *n, uint32_t pipe, rl_env *env)
{
	uint8_t *buf;
	size_t len;
	int rv;

	if ((rv = rl_wire_encode(env, &buf, &len)) != RL_OK)
		return rv;
	rv = rl_bundler_add(n->down, pipe, buf, len);
	free(buf);
	return rv;
}

void rl_node_flush(struct rl_node *n)
{
	rl_alone_run(n);
	n->ctr.dropped_down += rl_bundler_flush_fn(n->down, rl_srv_bundle_send, n->lsrv);
	n->ctr.dropped_up += rl_client_flush(n->hub);
	rl_client_cork(n->hub); /* until the next flush: one message to the hub per batch */
}

/* ---------------------------------------------------------------------------------------- */
/* the relaisctl source: a tool on the node's listener submits as this site */

static void rl_ctl_ack(struct rl_source *s, void *cookie, const Relais__SubmitContactOk *ok, int err, const char *msg)
{
	struct rl_node *n = s->node;
	struct rl_ctl_cookie *cc = cookie;
	struct rl_lpeer *p = rl_htab_get(&n->peers, cc->pipe, NULL, NULL);
	rl_env env;
	Relais__Error er = RELAIS__ERROR__INIT;

	if (p != NULL) {
		for (int i = 0; i < RL_NODE_CTL_INFLIGHT; i++)
			if (p->inflight[i] == cc->req_id)
				p->inflight[i] = 0;
		rl_env_init(&env);
		env.req_id = cc->req_id;
		if (ok != NULL) {
			struct rl_contact *c = rl_node_contact(n, ok->contact_id);
			if (cc->audio[0] && c != NULL)
				rl_contact_voice(c, cc->audio);
			/* The hub's answer as it gave it: a re-sent submission is a duplicate, with the
			 * enqueue time it was first given. */
			env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT_OK;
			env.submit_contact_ok = (Relais__SubmitContactOk *)ok;
		} else {
			er.code = err;
			er.message = (char *)msg;
			env.body_case = RELAIS__ENVELOPE__BODY_ERROR;
			env.error = &er;
		}
		if (rl_node_send(n, cc->pipe, &env) != RL_OK)
			n->ctr.dropped_down++;
	}
	free(cc);
}

static const struct rl_source_ops rl_ctl_ops = {.name = "relaisctl", .on_ack = rl_ctl_ack};

struct rl_source *rl_node_source_ctl(struct rl_node *n)
{
	return &n->ctl;
}

/* ---------------------------------------------------------------------------------------- */

/* rl_node_turned_late: contact_id is a submission turned away, known by its request id (the
 * hub's late ack) or its ext id (the hub's update, its ack lost with the link it left on):
 * the contact is over before it began - its caller went elsewhere - and the hub hears so (an
 * answer it counted meanwhile is taken back). 1 if it was one. */
static int rl_node_turned_late(struct rl_node *n, uint64_t req_id, const char *ext, const char *contact_id)
{
	for (unsigned i = 0; i < RL_NODE_TURNED && i < n->nturned; i++) {
		struct rl_turned *t = &n->turned[i];
		int named = t->req_id == req_id || (ext != NULL && strcmp(t->ext, ext) == 0);
		if (t->req_id == 0 || !named)
			continue;
		rl_log(RL_LOG_NOTICE, "a submission turned away reached the hub late: ended contact=%s ext=%s",
		       contact_id ? contact_id : "", t->ext);
		rl_node_cancel(n, contact_id, RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED, 1);
		*t = (struct rl_turned){0};
		return 1;
	}
	return 0;
}

/* rl_node_turned_forget: ext is asked for again (a source's own id): no longer turned away. */
static void rl_node_turned_forget(struct rl_node *n, const char *ext)
{
	for (unsigned i = 0; i < RL_NODE_TURNED && i < n->nturned; i++)
		if (n->turned[i].req_id != 0 && strcmp(n->turned[i].ext, ext) == 0)
			n->turned[i] = (struct rl_turned){0};
}

int rl_node_submit(struct rl_node *n, struct rl_source *src, const struct rl_contact_req *req, void *cookie)
{
	Relais__SubmitContact sc = RELAIS__SUBMIT_CONTACT__INIT;
	struct rl_sub *sub;
	char ext[RL_WIRE_MAX_ID + 1];
	rl_env env;
	int rv;

	if (n->hub_lost && n->alone.local == NULL && (n->hub_reached || n->start_judged))
		return RL_ENET; /* the hub judged lost, and the site cannot serve alone: nobody queues it */
	if (req->ext_id != NULL)
		snprintf(ext, sizeof(ext), "%s", req->ext_id);
	else
		snprintf(ext, sizeof(ext), "%016llx-%llu", (unsigned long long)n->boot_id,
		         (unsigned long long)++n->seq);
	if (req->ext_id != NULL)
		rl_node_turned_forget(n, ext); /* (a source asking again with its own id wants it) */
	sub = rl_calloc(1, sizeof(*sub));
	sub->src = src;
	sub->cookie = cookie;
	rl_env_init(&env);
	sc.ext_id = ext;
	sc.tenant_id = (char *)req->tenant_id;
	sc.queue_id = (char *)req->queue_id;
	sc.priority = req->priority;
	sc.pop = (Relais__ScreenPop *)req->pop;
	sc.site_id = n->conf.site_id;
	sc.media = "voice";
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
	env.submit_contact = &sc;
	sub->asked_len = relais__submit_contact__get_packed_size(&sc);
	sub->asked = rl_malloc(sub->asked_len + 1);
	relais__submit_contact__pack(&sc, sub->asked);
	if ((rv = rl_node_ask(n, &env, sub)) != RL_OK) {
		free(sub->asked);
		free(sub);
		return rv;
	}
	n->ctr.submitted++;
	return RL_OK;
}

int rl_node_cancel(struct rl_node *n, const char *contact_id, Relais__ContactOutcome outcome, int never_connected)
{
	Relais__ContactCancel cc = RELAIS__CONTACT_CANCEL__INIT;
	rl_env env;

	rl_env_init(&env);
	cc.contact_id = (char *)contact_id;
	cc.outcome = outcome;
	cc.never_connected = never_connected != 0;
	env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_CANCEL;
	env.contact_cancel = &cc;
	n->ctr.cancels++;
	return rl_node_ask(n, &env, &n->marker);
}

int rl_node_queue_position(struct rl_node *n, const char *contact_id)
{
	Relais__QueuePosition qp = RELAIS__QUEUE_POSITION__INIT;
	rl_env env;

	if (n->alone.local == NULL && !rl_client_up(n->hub))
		return RL_ENET; /* not worth queueing: the caller hears the music meanwhile */
	rl_env_init(&env);
	qp.contact_id = (char *)contact_id;
	env.body_case = RELAIS__ENVELOPE__BODY_QUEUE_POSITION;
	env.queue_position = &qp;
	return rl_node_ask(n, &env, &n->marker);
}

int rl_node_transfer_result(struct rl_node *n, const char *contact_id, int ok, unsigned status, const char *reason)
{
	Relais__TransferResult tr = RELAIS__TRANSFER_RESULT__INIT;
	rl_env env;

	rl_env_init(&env);
	tr.contact_id = (char *)contact_id;
	tr.ok = ok != 0;
	tr.status = status;
	tr.reason = (char *)(reason ? reason : "");
	env.body_case = RELAIS__ENVELOPE__BODY_TRANSFER_RESULT;
	env.transfer_result = &tr;
	return rl_node_ask(n, &env, &n->marker);
}

/* rl_node_ask sends a request of the node's own to whoever decides now: the hub, or the
 * site's own engine while it serves alone. */
int rl_node_ask(struct rl_node *n, rl_env *env, void *cookie)
{
	if (n->alone.local != NULL) {
		rl_local_input(n->alone.local, 0, env, cookie);
		return RL_OK;
	}
	return rl_client_request(n->hub, env, cookie, NULL);
}

void rl_node_register(struct rl_node *n)
{
	Relais__SiteRegister sr = RELAIS__SITE_REGISTER__INIT;
	rl_env env;

	rl_env_init(&env);
	sr.site_id = n->conf.site_id;
	sr.capacity = n->conf.capacity;
	/* What the NOC asked of it; not the refusal of every call until the hub is reached,
	 * which this register ends (a node registered at start as 0 % healthy and stayed so). */
	sr.health = n->drain_pct >= 100 ? 0 : 100 - n->drain_pct;
	sr.boot_id = n->boot_id;
	sr.survivable = n->conf.survivable;
	sr.drain_pct = n->drain_pct;
	sr.command_seq = n->cmd_seq;
	sr.journal_parts = rl_alone_journal_parts(n);
	sr.journal_id = sr.journal_parts > 0 ? n->alone.journal_id : 0;
	sr.name = n->conf.name;
	sr.media_addr = n->bridge ? (char *)rl_bridge_addr(n->bridge) : (char *)"";
	/* The contacts we still hold: the hub re-tells the end of those it ended meanwhile. */
	char **live = rl_calloc(RL_WIRE_MAX_LIVE, sizeof(*live));
	for (size_t i = 0; i < n->contacts.cap && sr.n_live < RL_WIRE_MAX_LIVE; i++)
		if (n->contacts.ents && n->contacts.ents[i].val)
			live[sr.n_live++] = ((struct rl_contact *)n->contacts.ents[i].val)->id;
	sr.live = live;
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_REGISTER;
	env.site_register = &sr;
	rl_client_request(n->hub, &env, &n->marker, NULL);
	free(live);
}

int rl_node_post(struct rl_node *n, struct rl_source *s, void *ptr)
{
	struct rl_posted *p = rl_malloc(sizeof(*p));

	p->src = s;
	p->ptr = ptr;
	if (rl_loop_post(n->loop, RL_NODE_TAG_SOURCE, p) != RL_OK) {
		free(p);
		return RL_EFULL;
	}
	return RL_OK;
}

struct rl_media *rl_node_media(struct rl_node *n)
{
	return n->bridge ? rl_bridge_media(n->bridge) : NULL;
}

int rl_node_attach_audio(struct rl_node *n, const char *id, struct rl_audio_src *src, struct rl_audio_sink *sink)
{
	struct rl_contact *c = n->bridge != NULL ? rl_node_contact(n, id) : NULL;

	if (c == NULL) {
		src->close(src);
		sink->close(sink);
		return RL_ENOENT;
	}
	rl_contact_attach(c, src, sink);
	return RL_OK;
}

/* rl_node_apply_drain: the sources refuse what the NOC asked, or every new call while the
 * hub is lost and the site cannot serve alone (its callers could not be queued anywhere: the
 * carrier's SBC sends them to another site). */
void rl_node_apply_drain(struct rl_node *n)
{
	unsigned pct = n->hub_lost && n->alone.local == NULL ? 100 : n->drain_pct;

	if (pct == n->applied)
		return;
	n->applied = pct;
	rl_log(RL_LOG_NOTICE, "site refuses new calls site=%s percent=%u hub_lost=%d", n->conf.site_id, pct,
	       n->hub_lost);
	for (int i = 0; i < n->nsources; i++)
		if (n->sources[i]->ops->drain != NULL)
			n->sources[i]->ops->drain(n->sources[i], pct);
}

void rl_node_set_drain(struct rl_node *n, unsigned percent)
{
	n->drain_pct = percent > 100 ? 100 : percent;
	rl_node_apply_drain(n);
	rl_node_register(n); /* the hub hears the site's health */
}

/* rl_node_hub_drain: the NOC's drain, through the hub (the hub's is the newer word). */
static void rl_node_hub_drain(struct rl_node *n, const Relais__SiteDrain *d)
{
	rl_log(RL_LOG_NOTICE, "drain %u%% by operator=%s reason=\"%s\" command=%llu", d->on ? d->percent : 0,
	       d->by ? d->by : "", d->reason ? d->reason : "", (unsigned long long)d->command_seq);
	n->cmd_seq = d->command_seq;
	n->drain_pct = d->on ? (d->percent ? d->percent : 100) : 0;
	rl_node_apply_drain(n);
}

/* ---------------------------------------------------------------------------------------- */
/* from the hub */

/* rl_node_contact_apply: update u of contact c, for its object. */
static void rl_node_contact_apply(struct rl_node *n, struct rl_contact *c, const Relais__ContactUpdate *u)
{
	rl_alone_update(c, u);
	rl_contact_update(c, u, n->bridge, n->hub);
	if (n->recs != NULL) /* after the bridge: the media call is there, or gone */
		rl_recs_update(n->recs, c->id, c->media_ssrc != 0, u, rl_bridge_media(n->bridge), n->hub);
	if (u->state == RELAIS__CONTACT_STATE__CONTACT_ENDED)
		rl_node_contact_del(n, c);
}

/* rl_node_unhold forgets c's held update (said is why, NULL: it is being applied). */
static void rl_node_unhold(struct rl_node *n, struct rl_contact *c, const char *said)
{
	if (said != NULL)
		rl_log(RL_LOG_NOTICE, "connect held since the hub's link came back dropped contact=%s: %s", c->id,
		       said);
	free(c->held);
	c->held = NULL;
	c->held_len = 0;
	n->nheld--;
}

/*
 * rl_node_contact_update: a change of one of the site's contacts from the hub. A contact the
 * hub connects here that the node does not know (submitted before this node restarted) is
 * adopted, so that its media call has an owner until it ends.
 *
 * Right after the hub's link resumes, what comes first is what the hub said while we did not
 * hear it: an agent elsewhere took our caller while this node was stopped (or cut off), and
 * may have hung up since - an end that is a few frames behind. Answering the caller then and
 * hanging up at once would count an answer nobody had; so a CONNECTED for a caller not yet
 * put through (no media call) that comes within RL_NODE_CONNECT_HOLD_MS of the resumption is
 * held that long: a newer update drops it (the caller, never answered, is then released and
 * the hub takes its answer back: ContactCancel.never_connected), else it is applied
 * (rl_node_held_tick). A call already under way takes its new plan at once.
 */
static void rl_node_contact_update(struct rl_node *n, const Relais__ContactUpdate *u)
{
	const char *id = u->contact_id ? u->contact_id : "";
	struct rl_contact *c = rl_node_contact(n, id);

	if (c == NULL && id[0] && u->state != RELAIS__CONTACT_STATE__CONTACT_ENDED && u->ext_id != NULL &&
	    u->ext_id[0] && rl_node_turned_late(n, 0, u->ext_id, id))
		return;
	if (c == NULL && id[0] && n->bridge != NULL && u->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED &&
	    u->media != NULL)
		c = rl_node_contact_add(n, id, NULL, NULL);
	if (c == NULL)
		return;
	if (c->held != NULL)
		rl_node_unhold(n, c, "a newer update came first");
	if (u->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED && c->media_ssrc == 0 &&
	    rl_client_resumed_within(n->hub, RL_NODE_CONNECT_HOLD_MS)) {
		c->held_len = relais__contact_update__get_packed_size(u);
		c->held = rl_malloc(c->held_len + 1);
		relais__contact_update__pack(u, c->held);
		c->held_until = rl_mono_us() + RL_NODE_CONNECT_HOLD_MS * 1000u;
		n->nheld++;
		rl_log(RL_LOG_INFO, "connect held: the hub's link just came back contact=%s agent=%s hold_ms=%d", c->id,
		       u->agent_id ? u->agent_id : "", RL_NODE_CONNECT_HOLD_MS);
		return;
	}
	rl_node_contact_apply(n, c, u);
}

/* rl_node_held_tick applies the held updates whose time has come, all of them: a busy site
 * heard again may hold hundreds at once. */
static void rl_node_held_tick(struct rl_node *n, uint64_t now)
{
	char(*ids)[RL_WIRE_MAX_ID + 1];
	unsigned k = 0;

	if (n->nheld == 0)
		return;
	ids = rl_malloc(n->nheld * sizeof(*ids));
	for (size_t i = 0; i < n->contacts.cap && k < n->nheld; i++) {
		struct rl_contact *c = n->contacts.ents ? n->contacts.ents[i].val : NULL;
		if (c != NULL && c->held != NULL && now >= c->held_until)
			snprintf(ids[k++], sizeof(ids[0]), "%s", c->id);
	}
	for (unsigned i = 0; i < k; i++) { /* (applying may add or remove contacts) */
		struct rl_contact *c = rl_node_contact(n, ids[i]);
		Relais__ContactUpdate *u;
		if (c == NULL || c->held == NULL)
			continue;
		u = relais__contact_update__unpack(NULL, c->held_len, c->held);
		rl_node_unhold(n, c, NULL);
		if (u != NULL) {
			rl_node_contact_apply(n, c, u);
			relais__contact_update__free_unpacked(u, NULL);
		}
	}
	free(ids);
}

/* rl_node_down: a frame for one of our seated agents (or a tool's relayed request). */
static void rl_node_down(struct rl_node *n, rl_env *env)
{
	uint32_t pipe = (uint32_t)env->chan;
	struct rl_lpeer *p = rl_htab_get(&n->peers, pipe, NULL, NULL);

	env->chan = 0;
	if (p != NULL)
		rl_alone_seat_down(p, env);
	if (p == NULL || rl_node_send(n, pipe, env) != RL_OK)
		n->ctr.dropped_down++;
	else
		n->ctr.relayed_down++;
}

/* rl_node_acked: the answer to a submission of ours. */
static void rl_node_acked(struct rl_node *n, struct rl_sub *sub, const rl_env *env)
{
	if (env->body_case == RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT_OK) {
		const char *cid = env->submit_contact_ok->contact_id;
		struct rl_contact *c = rl_node_contact(n, cid);
		n->ctr.acked++;
		if (c == NULL) {
			c = rl_node_contact_add(n, cid, sub->src, sub->src->ops->on_update ? sub->cookie : NULL);
			c->facts = rl_alone_facts(n, sub, env->submit_contact_ok);
		}
		sub->src->ops->on_ack(sub->src, sub->cookie, env->submit_contact_ok, 0, NULL);
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_ERROR) {
		n->ctr.refused++;
		rl_log(RL_LOG_WARNING, "hub refused a contact source=%s err=\"%s\"", sub->src->ops->name,
		       env->error->message ? env->error->message : "");
		sub->src->ops->on_ack(sub->src, sub->cookie, NULL, env->error->code, env->error->message);
	}
	free(sub->asked);
	free(sub);
}

/* rl_node_upstream: a frame from whoever decides (the hub, or the site's own engine while it
 * serves alone), with the cookie of the request of ours it answers, if it does. */
void rl_node_upstream(struct rl_node *n, rl_env *env, void *cookie, int is_reply)
{
	if (env->chan != 0) {
		rl_node_down(n, env);
	} else if (is_reply && rl_alone_reply(n, env, cookie)) {
		return;
	} else if (is_reply && cookie != NULL && cookie != &n->marker) {
		rl_node_acked(n, cookie, env);
	} else if (!is_reply && env->body_case == RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT_OK) {
		rl_node_turned_late(n, env->req_id, NULL, env->submit_contact_ok->contact_id);
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_CONTACT_UPDATE) {
		rl_node_contact_update(n, env->contact_update);
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_SITE_DRAIN) {
		rl_node_hub_drain(n, env->site_drain);
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_DIAL_PLAN) {
		rl_node_plan_hub(n->plans, env->dial_plan);
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_MONITOR_LEG) {
		rl_node_monitor(n->bridge ? rl_bridge_media(n->bridge) : NULL, env->monitor_leg);
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_QUEUE_POSITION_REPLY) {
		const Relais__QueuePositionReply *r = env->queue_position_reply;
		struct rl_contact *c = rl_node_contact(n, r->contact_id ? r->contact_id : "");
		if (c != NULL)
			rl_contact_position(c, r);
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_ERROR && !is_reply) {
		rl_log(RL_LOG_WARNING, "hub says: %s", env->error->message ? env->error->message : "?");
	}
}

static void rl_node_from_hub(struct rl_node *n, nng_msg *msg)
{
	rl_env *env;
	void *cookie;
	int is_reply;

	if (rl_client_input(n->hub, msg, &env, &cookie, &is_reply) != RL_OK)
		return;
	rl_node_upstream(n, env, cookie, is_reply);
	rl_wire_free(env);
}

/* ---------------------------------------------------------------------------------------- */
/* from a local link */

/* rl_node_relay_up: an agent's frame goes on, on its chan, to whoever decides now. */
static void rl_node_relay_up(struct rl_node *n, struct rl_lpeer *p, rl_env *env)
{
	rl_alone_seat_up(p, env);
	if (n->alone.local != NULL) {
		rl_local_input(n->alone.local, p->pipe, env, NULL);
		n->ctr.relayed_up++;
		return;
	}
	env->chan = p->pipe;
	if (rl_client_send(n->hub, env) != RL_OK)
		n->ctr.dropped_up++; /* hub link down: the agent re-sends */
	else
		n->ctr.relayed_up++;
}

static void rl_node_local_reply(struct rl_node *n, uint32_t pipe, uint64_t req_id, Relais__ErrorCode code,
                                const char *msg)
{
	Relais__Error er;
	rl_env env;

	rl_wire_error(&env, &er, code, msg, 0);
	env.req_id = req_id;
	rl_node_send(n, pipe, &env);
}

static void rl_node_ctl_submit(struct rl_node *n, struct rl_lpeer *p, const rl_env *env)
{
	const Relais__SubmitContact *s = env->submit_contact;
	struct rl_contact_req req = {0};
	struct rl_ctl_cookie *cc;
	char ext[RL_WIRE_MAX_ID + 8];
	int rv;

	for (int i = 0; i < RL_NODE_CTL_INFLIGHT; i++)
		if (env->req_id != 0 && p->inflight[i] == env->req_id)
			return; /* a re-send of one already on its way */
	if (s->ext_id && s->ext_id[0]) {
		snprintf(ext, sizeof(ext), "ctl:%s", s->ext_id);
		if (!rl_wire_id_ok(ext)) {
			rl_node_local_reply(n, p->pipe, env->req_id, RELAIS__ERROR_CODE__ERR_BAD_REQUEST,
			                    "ext_id too long or bad characters");
			return;
		}
		req.ext_id = ext;
	}
	req.tenant_id = s->tenant_id;
	req.queue_id = s->queue_id;
	req.priority = s->priority;
	req.pop = s->pop;
	cc = rl_calloc(1, sizeof(*cc));
	cc->pipe = p->pipe;
	cc->req_id = env->req_id;
	if (s->caller_audio && s->caller_audio[0]) {
		if (n->bridge == NULL) {
			free(cc);
			rl_node_local_reply(n, p->pipe, env->req_id, RELAIS__ERROR_CODE__ERR_BAD_REQUEST,
			                    "this node carries no audio (no media group in its config)");
			return;
		}
		snprintf(cc->audio, sizeof(cc->audio), "%s", s->caller_audio);
	}
	if ((rv = rl_node_submit(n, &n->ctl, &req, cc)) != RL_OK) {
		free(cc);
		if (rv == RL_ENET)
			rl_node_local_reply(
			    n, p->pipe, env->req_id, RELAIS__ERROR_CODE__ERR_UNAVAILABLE,
			    "hub unreachable and this site does not serve alone: not queued, try again");
		else
			rl_node_local_reply(n, p->pipe, env->req_id, RELAIS__ERROR_CODE__ERR_INTERNAL,
			                    "node cannot queue the contact");
		return;
	}
	p->inflight[p->next++ % RL_NODE_CTL_INFLIGHT] = env->req_id;
}

/* rl_node_hello_ok answers a local Hello; challenge: the tool must prove its operator key. */
static void rl_node_hello_ok(struct rl_node *n, uint32_t pipe, uint64_t req_id, const uint8_t *challenge,
                             const char *granted)
{
	Relais__HelloOk ok;
	rl_env out;

	rl_hello_ok(&out, &ok, n->conf.site_id, rl_wall_us(), challenge, granted);
	out.req_id = req_id;
	rl_node_send(n, pipe, &out);
}

/* rl_node_tool_proof checks a tool's proof of an operator key (the node's `operators`). */
static void rl_node_tool_proof(struct rl_node *n, struct rl_lpeer *p, const rl_env *env)
{
	const Relais__Hello *h = env->hello;
	const struct rl_operator *op = rl_operator_find(n->conf.operators, n->conf.noperators, h->principal);
	char granted[RL_WIRE_MAX_TEXT + 1];

	if (rl_hello_proven(&p->gate, op ? op->key : NULL, h, op ? op->id : "") != RL_OK) {
		n->ctr.refused_tools++;
		rl_log(RL_LOG_WARNING, "tool proof refused operator=%s src=%s", h->principal ? h->principal : "",
		       p->ip[0] ? p->ip : "?");
		rl_node_local_reply(n, p->pipe, env->req_id, RELAIS__ERROR_CODE__ERR_AUTH,
		                    "unknown operator or bad proof");
		return;
	}
	p->op = op;
	snprintf(granted, sizeof(granted), "operator %s (%s)", op->id, rl_operator_role_name(op->role));
	rl_log(RL_LOG_NOTICE, "tool link up operator=%s role=%s src=%s", op->id, rl_operator_role_name(op->role),
	       p->ip[0] ? p->ip : "?");
	rl_node_hello_ok(n, p->pipe, env->req_id, NULL, granted);
}

/* A local link says who it is: a seated agent at once (its sessions prove themselves at the
 * hub), a tool once a second Hello proves an operator's key (docs/security.md). */
static void rl_node_local_hello(struct rl_node *n, struct rl_lpeer *p, uint32_t pipe, const rl_env *env)
{
	int role = env->hello->role;

	if (role != RELAIS__ROLE__ROLE_AGENT && role != RELAIS__ROLE__ROLE_CTL) {
		rl_node_local_reply(n, pipe, env->req_id, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "agents and tools only");
		return;
	}
	if (p == NULL) {
		struct sockaddr_storage ss;
		p = rl_calloc(1, sizeof(*p));
		p->pipe = pipe;
		if (rl_srv_peer_ip(n->lsrv, pipe, &ss) == RL_OK)
			rl_addr_ip((const struct sockaddr *)&ss, p->ip, sizeof(p->ip));
		rl_htab_put(&n->peers, pipe, p);
	}
	p->role = role;
	p->op = NULL;
	if (role == RELAIS__ROLE__ROLE_AGENT) {
		rl_node_hello_ok(n, pipe, env->req_id, NULL, "agent");
	} else if (env->hello->proof.len > 0) {
		rl_node_tool_proof(n, p, env);
	} else {
		rl_node_hello_ok(n, pipe, env->req_id, rl_hello_challenge(&p->gate), NULL);
	}
}

static void rl_node_local_heartbeat(struct rl_node *n, struct rl_lpeer *p, rl_env *env)
{
	Relais__Heartbeat hb = RELAIS__HEARTBEAT__INIT;
	rl_env out;

	if (env->session != 0 && p->role == RELAIS__ROLE__ROLE_AGENT) {
		rl_seat_heartbeat(n, p, env); /* an agent's: answered here; the hub hears all at once */
		return;
	}
	rl_env_init(&out);
	hb.sent_us = rl_wall_us();
	hb.echo_us = env->heartbeat->sent_us;
	out.body_case = RELAIS__ENVELOPE__BODY_HEARTBEAT;
	out.heartbeat = &hb;
	rl_node_send(n, p->pipe, &out);
}

static void rl_node_local_drain(struct rl_node *n, struct rl_lpeer *p, rl_env *env)
{
	Relais__Ok ok = RELAIS__OK__INIT;
	rl_env out;

	const Relais__SiteDrain *d = env->site_drain;
	unsigned pct = d->on ? (d->percent ? d->percent : 100) : 0;

	rl_log(RL_LOG_NOTICE, "drain %u%% by operator=%s src=%s (here)", pct, p->op->id, p->ip[0] ? p->ip : "?");
	rl_node_set_drain(n, pct);
	rl_env_init(&out);
	out.req_id = env->req_id;
	out.body_case = RELAIS__ENVELOPE__BODY_OK;
	out.ok = &ok;
	rl_node_send(n, p->pipe, &out);
}

static void rl_node_local_login(struct rl_node *n, struct rl_lpeer *p, rl_env *env)
{
	/* A seated agent is at this site, whatever it says; the hub checks it too, and counts
	 * failed logins per the address we saw the agent at. */
	env->agent_login->site_id = n->conf.site_id;
	env->agent_login->from_ip = p->ip;
	rl_node_relay_up(n, p, env);
	env->agent_login->site_id = NULL; /* not ours to free */
	env->agent_login->from_ip = NULL;
}

static void rl_node_local_relay(struct rl_node *n, struct rl_lpeer *p, rl_env *env)
{
	rl_node_relay_up(n, p, env);
}

static void rl_node_local_submit(struct rl_node *n, struct rl_lpeer *p, rl_env *env)
{
	rl_node_ctl_submit(n, p, env);
}

/* rl_node_local_fetch: a chunk of a recording held here, for an operator who may hear it. */
static void rl_node_local_fetch(struct rl_node *n, struct rl_lpeer *p, rl_env *env)
{
	static uint8_t buf[RL_RECORDING_CHUNK]; /* the loop thread's alone */
	Relais__RecordingChunk ch;
	Relais__ErrorCode code = RELAIS__ERROR_CODE__ERR_UNKNOWN_CONTACT;
	rl_env out;

	if (n->recs == NULL || (code = rl_recs_fetch(n->recs, p->op, env->recording_fetch, &ch, buf)) != 0) {
		rl_node_local_reply(n, p->pipe, env->req_id, code, "no such recording");
		return;
	}
	rl_env_init(&out);
	out.req_id = env->req_id;
	out.body_case = RELAIS__ENVELOPE__BODY_RECORDING_CHUNK;
	out.recording_chunk = &ch;
	rl_node_send(n, p->pipe, &out);
}

/*
 * What a local link may ask of the node. A seated agent's own requests go on to the hub on
 * the agent's chan (the hub checks them against the agent's session); a tool's site
 * commands are the node's to carry out, once the tool has proven an operator key with a role
 * allowed here. Tools ask the hub itself for status. Anything else stops here.
 */
enum { RL_LOCAL_AGENT = 1, RL_LOCAL_ADMIN = 2, RL_LOCAL_NOC = 4, RL_LOCAL_SUPERVISOR = 8 };

static const struct rl_local_req {
	Relais__Envelope__BodyCase body;
	unsigned who;
	void (*fn)(struct rl_node *n, struct rl_lpeer *p, rl_env *env);
} rl_local_reqs[] = {
    {RELAIS__ENVELOPE__BODY_HEARTBEAT, RL_LOCAL_AGENT | RL_LOCAL_ADMIN | RL_LOCAL_NOC, rl_node_local_heartbeat},
    {RELAIS__ENVELOPE__BODY_AGENT_LOGIN, RL_LOCAL_AGENT, rl_node_local_login},
    {RELAIS__ENVELOPE__BODY_AGENT_RESUME, RL_LOCAL_AGENT, rl_node_local_relay},
    {RELAIS__ENVELOPE__BODY_AGENT_SET_STATE, RL_LOCAL_AGENT, rl_node_local_relay},
    {RELAIS__ENVELOPE__BODY_OFFER_ANSWER, RL_LOCAL_AGENT, rl_node_local_relay},
    {RELAIS__ENVELOPE__BODY_CONTACT_HANGUP, RL_LOCAL_AGENT, rl_node_local_relay},
    {RELAIS__ENVELOPE__BODY_CONTACT_TRANSFER, RL_LOCAL_AGENT, rl_node_local_relay},
    {RELAIS__ENVELOPE__BODY_WRAPUP_DONE, RL_LOCAL_AGENT, rl_node_local_relay},
    {RELAIS__ENVELOPE__BODY_CALL_QUALITY, RL_LOCAL_AGENT, rl_node_local_relay},
    {RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT, RL_LOCAL_ADMIN, rl_node_local_submit},
    {RELAIS__ENVELOPE__BODY_SITE_DRAIN, RL_LOCAL_ADMIN | RL_LOCAL_NOC, rl_node_local_drain},
    {RELAIS__ENVELOPE__BODY_RECORDING_PAUSE, RL_LOCAL_AGENT, rl_node_local_relay},
    {RELAIS__ENVELOPE__BODY_RECORDING_FETCH, RL_LOCAL_ADMIN | RL_LOCAL_SUPERVISOR, rl_node_local_fetch},
};

/* rl_local_who: who speaks on a local link (0: a tool that has not proven a key). */
static unsigned rl_local_who(const struct rl_lpeer *p)
{
	if (p->role == RELAIS__ROLE__ROLE_AGENT)
		return RL_LOCAL_AGENT;
	if (p->op == NULL)
		return 0;
	return p->op->role == RL_OP_ADMIN        ? RL_LOCAL_ADMIN
	       : p->op->role == RL_OP_NOC        ? RL_LOCAL_NOC
	       : p->op->role == RL_OP_SUPERVISOR ? RL_LOCAL_SUPERVISOR
	                                         : 0;
}

/* rl_node_local_gate hands env to its row's handler if p may send it, else refuses it.
 * Heartbeats keep any hello'd link alive, proven or not. */
static void rl_node_local_gate(struct rl_node *n, struct rl_lpeer *p, rl_env *env)
{
	unsigned who = rl_local_who(p);

	for (size_t i = 0; i < sizeof(rl_local_reqs) / sizeof(rl_local_reqs[0]); i++) {
		if (rl_local_reqs[i].body != env->body_case)
			continue;
		if (env->body_case == RELAIS__ENVELOPE__BODY_HEARTBEAT || (rl_local_reqs[i].who & who)) {
			rl_local_reqs[i].fn(n, p, env);
			return;
		}
		break;
	}
	n->ctr.refused_tools += p->role == RELAIS__ROLE__ROLE_CTL;
	if (env->req_id)
		rl_node_local_reply(n, p->pipe, env->req_id, RELAIS__ERROR_CODE__ERR_FORBIDDEN,
		                    who == 0 && p->role == RELAIS__ROLE__ROLE_CTL
		                        ? "prove who you are first: Hello with your operator key's proof"
		                        : "not allowed on this link");
}

static void rl_node_from_local(struct rl_node *n, nng_msg *msg)
{
	rl_env *env = NULL;
	uint32_t pipe;
	int rv = rl_link_recv_env(msg, &env, &pipe);
	struct rl_lpeer *p;

	nng_msg_free(msg);
	if (rv != RL_OK) {
		if (rv == RL_EVERSION)
			rl_node_local_reply(n, pipe, env->req_id, RELAIS__ERROR_CODE__ERR_VERSION,
			                    "unsupported protocol version");
		rl_wire_free(env);
		return;
	}
	p = rl_htab_get(&n->peers, pipe, NULL, NULL);
	if (env->body_case == RELAIS__ENVELOPE__BODY_HELLO)
		rl_node_local_hello(n, p, pipe, env);
	else if (p == NULL && env->req_id)
		rl_node_local_reply(n, pipe, env->req_id, RELAIS__ERROR_CODE__ERR_HELLO_FIRST, "say Hello first");
	else if (p != NULL) {
		rl_seat_heard(p);
		rl_node_local_gate(n, p, env);
	}
	rl_wire_free(env);
}

void rl_node_event(struct rl_node *n, struct rl_loop_event *ev)
{
	if (ev->kind == RL_LOOP_MSG && ev->src == RL_NODE_TAG_HUB)
		rl_node_from_hub(n, ev->msg);
	else if (ev->kind == RL_LOOP_MSG && ev->src == RL_NODE_TAG_LISTEN)
		rl_node_from_local(n, ev->msg);
	else if (ev->kind == RL_LOOP_MSG)
		nng_msg_free(ev->msg);
	else if (ev->src == RL_NODE_TAG_SOURCE) {
		struct rl_posted *p = ev->ptr;
		if (p->src->ops->posted != NULL)
			p->src->ops->posted(p->src, p->ptr);
		free(p);
	} else if (ev->src == RL_NODE_TAG_PIPE) {
		uint32_t pipe = (uint32_t)(uintptr_t)ev->ptr;
		struct rl_lpeer *p = rl_htab_get(&n->peers, pipe, NULL, NULL);
		if (p != NULL) {
			rl_htab_del(&n->peers, pipe, p);
			free(p);
		}
	}
}

/* rl_node_link_ready: each new hub link, before anything else crosses it: the hub learns
 * which boot of the node speaks (a new one ends the earlier boot's contacts) before it
 * hears any contact of this one. */
static void rl_node_link_ready(void *arg)
{
	struct rl_node *n = arg;

	rl_log(RL_LOG_NOTICE, "hub link ready site=%s", n->conf.site_id);
	rl_alone_stop(n); /* the hub decides again: what the site did alone is handed over */
	rl_node_monitor_drop(n->bridge ? rl_bridge_media(n->bridge) : NULL);
	rl_node_register(n);
	rl_alone_ready(n);
}

/* rl_node_unqueue: a submission the lost hub never answered, at a site that cannot serve
 * alone: its source hears that it could not be queued here (a carrier call gets 503, and the
 * carrier's SBC tries another site) rather than waiting for the hub with its caller. */
static int rl_node_unqueue(void *cookie, uint64_t req_id, void *arg)
{
	struct rl_node *n = arg;
	struct rl_sub *sub = cookie;
	Relais__SubmitContact *sc;
	struct rl_turned *t;

	if (!rl_node_sub_cookie(n, cookie))
		return 0;
	/* Its ext id, from what was asked: how the hub's update names it if the ack is lost. */
	sc = relais__submit_contact__unpack(NULL, sub->asked_len, sub->asked);
	t = &n->turned[n->nturned++ % RL_NODE_TURNED];
	*t = (struct rl_turned){.req_id = req_id};
	snprintf(t->ext, sizeof(t->ext), "%s", sc != NULL && sc->ext_id != NULL ? sc->ext_id : "");
	if (sc != NULL)
		relais__submit_contact__free_unpacked(sc, NULL);
	n->ctr.refused++;
	sub->src->ops->on_ack(sub->src, sub->cookie, NULL, RELAIS__ERROR_CODE__ERR_UNAVAILABLE,
	                      "the hub is lost and the site cannot serve alone");
	free(sub->asked);
	free(sub);
	return 1;
}

/* rl_node_hub_judged: the hub was just found lost (or back): the site serves alone if it can,
 * else turns away what the hub never answered; its sources refuse new calls meanwhile. */
static void rl_node_hub_judged(struct rl_node *n)
{
	rl_alone_tick(n);
	rl_node_apply_drain(n);
	if (n->hub_lost && n->alone.local == NULL) {
		unsigned k = rl_client_take_pending(n->hub, rl_node_unqueue, n);
		if (k > 0)
			rl_log(RL_LOG_WARNING, "hub lost: calls it never answered turned away site=%s calls=%u",
			       n->conf.site_id, k);
	}
}

/* rl_node_greeted: 1 if a local link has said Hello (rl_greet_fn). */
static int rl_node_greeted(void *arg, uint32_t pipe)
{
	struct rl_node *n = arg;

	return rl_htab_get(&n->peers, pipe, NULL, NULL) != NULL;
}

void rl_node_tick(struct rl_node *n)
{
	uint64_t now = rl_mono_us();

	rl_client_tick(n->hub);
	n->ctr.silent_links += rl_greet_sweep(rl_srv_greet(n->lsrv), now, rl_node_greeted, n);
	if (n->hub_lost == rl_client_heard_within(n->hub, RL_NODE_HUB_LOST_MS)) {
		n->hub_lost = !n->hub_lost;
		rl_log(n->hub_lost ? RL_LOG_WARNING : RL_LOG_NOTICE, "hub %s site=%s survivable=%d",
		       n->hub_lost      ? "lost"
		       : n->hub_reached ? "back"
		                        : "reached",
		       n->conf.site_id, n->conf.survivable);
		n->hub_reached |= !n->hub_lost;
		rl_node_hub_judged(n);
	} else if (!n->hub_reached && n->hub_lost && now - n->opened_us > RL_NODE_HUB_LOST_MS * 1000u &&
	           !n->start_judged) {
		/* Started while the hub is out of reach: lost, as if it had been heard once. */
		n->start_judged = 1;
		rl_log(RL_LOG_WARNING, "hub not reached since the start site=%s survivable=%d", n->conf.site_id,
		       n->conf.survivable);
		rl_node_hub_judged(n);
	}
	for (int i = 0; i < n->nsources; i++)
		if (n->sources[i]->ops->tick)
			n->sources[i]->ops->tick(n->sources[i], now);
	if (n->bridge != NULL)
		rl_bridge_tick(n->bridge, n->hub, now);
	if (n->recs != NULL)
		rl_recs_tick(n->recs, rl_bridge_media(n->bridge), n->hub);
	rl_seats_tick(n, now);
	rl_node_held_tick(n, now);
}

int rl_node_add_source(struct rl_node *n, struct rl_source *src)
{
	if (n->nsources == RL_NODE_MAX_SOURCES)
		return RL_EFULL;
	src->node = n;
	n->sources[n->nsources++] = src;
	if (n->applied != 0 && src->ops->drain != NULL)
		src->ops->drain(src, n->applied); /* (the hub not reached yet, or a drain) */
	return RL_OK;
}

int rl_node_open(struct rl_node **out, const struct rl_node_conf *conf, struct rl_loop *loop)
{
	struct rl_node *n = rl_calloc(1, sizeof(*n));
	struct rl_client_opts o = {.url = conf->hub_url,
	                           .tls = &conf->tls,
	                           .role = RELAIS__ROLE__ROLE_NODE,
	                           .site_id = conf->site_id,
	                           .name = "relais-node",
	                           .key = &conf->key,
	                           .hb_ms = RL_NODE_HEARTBEAT_MS,
	                           .on_ready = rl_node_link_ready,
	                           .ready_arg = n};
	int rv;

	if ((rv = rl_bundler_create(&n->down)) != RL_OK) {
		rl_dialplan_unref(conf->plan);
		free(n);
		return rv;
	}
	n->conf = *conf;
	n->conf.plan = NULL; /* kept in n->plans */
	n->loop = loop;
	n->plans = rl_node_plan_open(conf->plan, conf->prompt_dir, conf->state_dir);
	n->hub_lost = 1; /* until it is reached: new calls are refused */
	n->opened_us = rl_mono_us();
	n->applied = 100;
	rl_alone_open(n);
	n->ctl.ops = &rl_ctl_ops;
	n->ctl.node = n;
	/* ext_ids must stay unique across restarts of this node: a random boot id. */
	rl_secret_random(&n->boot_id, sizeof(n->boot_id));
	if (conf->media != NULL && (rv = rl_bridge_open(&n->bridge, conf->media)) != RL_OK) {
		rl_log(RL_LOG_ERR, "media socket unavailable addr=%s err=\"%s\"", conf->media->listen, rl_strerror(rv));
		goto fail;
	}
	if (n->bridge != NULL &&
	    (rv = rl_recs_open(&n->recs, conf->recording_dir, conf->recording_queue_bytes)) != RL_OK)
		goto fail;
	if ((rv = rl_srv_open(&n->lsrv, &(struct rl_srv_conf){.loop = loop,
	                                                      .tag_msg = RL_NODE_TAG_LISTEN,
	                                                      .tag_gone = RL_NODE_TAG_PIPE,
	                                                      .max_backlog = RL_NODE_LINK_BACKLOG,
	                                                      .hello_ms = RL_NODE_HELLO_MS})) != RL_OK)
		goto fail;
	for (int i = 0; conf->listen && conf->listen[i]; i++) {
		if ((rv = rl_srv_listen(n->lsrv, conf->listen[i], &conf->tls)) != RL_OK)
			goto fail;
		rl_log(RL_LOG_NOTICE, "listening url=%s", conf->listen[i]);
	}
	if ((rv = rl_client_open(&n->hub, &o, loop, RL_NODE_TAG_HUB)) != RL_OK)
		goto fail;
	rl_client_cork(n->hub);
	*out = n;
	return RL_OK;
fail:
	rl_srv_close(n->lsrv);
	rl_bridge_close(n->bridge);
	rl_recs_close(n->recs);
	rl_bundler_destroy(n->down);
	rl_node_plan_close(n->plans);
	rl_alone_free(n);
	free(n);
	return rv;
}

int rl_node_sub_cookie(const struct rl_node *n, const void *cookie)
{
	return cookie != NULL && cookie != &n->marker && cookie != &n->alone.model_marker &&
	       cookie != &n->alone.journal_marker;
}

static void rl_node_free_pending(void *cookie, void *arg)
{
	struct rl_node *n = arg;
	struct rl_sub *sub = cookie;

	if (!rl_node_sub_cookie(n, cookie))
		return;
	if (sub->src == &n->ctl)
		free(sub->cookie);
	free(sub->asked);
	free(sub);
}

void rl_node_close(struct rl_node *n)
{
	if (n == NULL)
		return;
	rl_client_each_pending(n->hub, rl_node_free_pending, n);
	for (int i = 0; i < n->nsources; i++)
		if (n->sources[i]->ops->stop)
			n->sources[i]->ops->stop(n->sources[i]);
	rl_srv_close(n->lsrv);
	rl_client_flush(n->hub); /* what the sources said as they stopped */
	rl_client_close(n->hub);
	rl_bridge_close(n->bridge);
	rl_recs_close(n->recs); /* after the media engine: no call holds a recording now */
	rl_node_plan_close(n->plans);
	rl_alone_free(n);
	/* What sources posted and nobody handled: their threads are stopped, free it. */
	for (struct rl_loop_event ev; rl_loop_wait(n->loop, 0, &ev, 1) == 1;) {
		if (ev.kind == RL_LOOP_MSG)
			nng_msg_free(ev.msg);
		else if (ev.src == RL_NODE_TAG_SOURCE) {
			struct rl_posted *p = ev.ptr;
			free(p->ptr);
			free(p);
		}
	}
	for (size_t i = 0; i < n->peers.cap; i++)
		if (n->peers.ents && n->peers.ents[i].val)
			free(n->peers.ents[i].val);
	for (size_t i = 0; i < n->contacts.cap; i++)
		if (n->contacts.ents && n->contacts.ents[i].val)
			rl_contact_free(n->contacts.ents[i].val);
	rl_htab_fini(&n->peers);
	rl_htab_fini(&n->contacts);
	rl_bundler_destroy(n->down);
	free(n);
}
