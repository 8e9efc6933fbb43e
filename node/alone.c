/*
 * alone.c - a survivable site's side of the node (survive.h, docs/failover.md): what it
 * would carry on with (its agents' sessions and states, its contacts' facts, kept from the
 * frames it relays), the model it asks the hub for and keeps in state_dir, serving alone
 * while the hub is lost, and the handover when it is back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge.h"
#include "internal.h"
#include "rl_alloc.h"
#include "rl_client.h"
#include "rl_err.h"
#include "rl_file.h"
#include "rl_log.h"
#include "rl_secret.h"
#include "rl_srtp_suite.h"
#include "rl_time.h"

#define RL_ALONE_RUN_US  100000u     /* the site's engine's timers, when nothing else runs it */
#define RL_MODEL_MAX     (16u << 20) /* a model larger than this is refused */
#define RL_ALONE_DIR_MAX 600

static void rl_alone_path(const struct rl_node *n, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", n->conf.state_dir, name);
}

static int rl_alone_can(const struct rl_node *n)
{
	return n->conf.survivable && n->conf.state_dir != NULL && n->conf.state_dir[0];
}

/* ---------------------------------------------------------------------------------------- */
/* what the node would carry on with */

void rl_alone_seat_up(struct rl_lpeer *p, const rl_env *env)
{
	const Relais__AgentResume *r = env->agent_resume;

	if (env->body_case != RELAIS__ENVELOPE__BODY_AGENT_RESUME || r->token.len != RL_TOKEN_LEN)
		return;
	p->seat.session = r->session;
	memcpy(p->seat.token, r->token.data, RL_TOKEN_LEN);
	p->seat.has_token = 1;
}

static void rl_seat_status(struct rl_seat *s, const Relais__AgentStatus *st)
{
	if (st == NULL)
		return;
	if (st->agent_id && st->agent_id[0])
		snprintf(s->agent_id, sizeof(s->agent_id), "%s", st->agent_id);
	s->state = st->state;
	snprintf(s->contact, sizeof(s->contact), "%s",
	         st->contact && st->contact->contact_id ? st->contact->contact_id : "");
}

void rl_alone_seat_down(struct rl_lpeer *p, const rl_env *env)
{
	struct rl_seat *s = &p->seat;

	if (env->body_case == RELAIS__ENVELOPE__BODY_AGENT_LOGIN_OK) {
		const Relais__AgentLoginOk *ok = env->agent_login_ok;
		s->session = ok->session;
		s->has_token = ok->token.len == RL_TOKEN_LEN;
		if (s->has_token)
			memcpy(s->token, ok->token.data, RL_TOKEN_LEN);
		rl_seat_status(s, ok->status);
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_AGENT_STATUS) {
		rl_seat_status(s, env->agent_status);
		if (env->agent_status->state == RELAIS__AGENT_STATE__AGENT_LOGGED_OUT)
			s->session = 0;
	}
}

Relais__ContactRecord *rl_alone_facts(struct rl_node *n, const struct rl_sub *sub, const Relais__SubmitContactOk *ok)
{
	Relais__SubmitContact *sc =
	    sub->asked ? relais__submit_contact__unpack(NULL, sub->asked_len, sub->asked) : NULL;
	Relais__ContactRecord r = RELAIS__CONTACT_RECORD__INIT, *c;
	uint64_t now = rl_wall_us();

	if (sc == NULL)
		return NULL;
	r.contact_id = ok->contact_id;
	r.ext_id = sc->ext_id;
	r.tenant_id = sc->tenant_id;
	r.queue_id = sc->queue_id;
	r.priority = sc->priority;
	r.pop = sc->pop;
	r.site_id = n->conf.site_id;
	r.state = RELAIS__CONTACT_STATE__CONTACT_QUEUED;
	r.enqueued_us = ok->enqueued_us ? ok->enqueued_us : now;
	r.submitted_us = r.enqueued_us;
	r.media = "voice";
	r.submitter = n->conf.site_id;
	r.site_boot = n->boot_id;
	c = rl_wire_record_copy(&r);
	relais__submit_contact__free_unpacked(sc, NULL);
	return c;
}

void rl_alone_update(struct rl_contact *c, const Relais__ContactUpdate *u)
{
	Relais__ContactRecord *f = c->facts;

	if (f == NULL)
		return;
	if (u->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED && f->answered_us == 0)
		f->answered_us = rl_wall_us();
	f->state = u->state;
	rl_wire_set_str(&f->agent_id, u->agent_id);
	/* An agent elsewhere talks through the hub's relay: out of reach when the hub is. */
	f->relayed = u->agent_site && f->site_id && strcmp(u->agent_site, f->site_id) != 0;
}

/* ---------------------------------------------------------------------------------------- */
/* the model */

static uint64_t rl_model_hash(const char *text, size_t len)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)text[i]) * 1099511628211ull;
	return h ? h : 1;
}

static void rl_model_ask(struct rl_node *n, uint32_t part)
{
	Relais__SiteModel m = RELAIS__SITE_MODEL__INIT;
	rl_env env;

	rl_env_init(&env);
	m.part = part;
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_MODEL;
	env.site_model = &m;
	rl_client_request(n->hub, &env, &n->alone.model_marker, NULL);
}

/* rl_model_save writes the model beside the dial plan, whole or not at all. */
static void rl_model_save(struct rl_node *n)
{
	char path[RL_ALONE_DIR_MAX], tmp[RL_ALONE_DIR_MAX + 8];
	int fd, ok;

	rl_alone_path(n, "model.conf", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ok = fd >= 0 && write(fd, n->alone.model, n->alone.model_len) == (ssize_t)n->alone.model_len && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	if (!ok || rename(tmp, path) != 0) {
		rl_log(RL_LOG_WARNING, "site model not saved path=%s err=\"%s\"", path, strerror(errno));
		unlink(tmp);
	}
}

static void rl_model_take(struct rl_node *n, const Relais__SiteModel *m)
{
	struct rl_alone *a = &n->alone;

	if (m->part == 0) {
		if (m->version == a->model_version)
			return; /* the one we have */
		free(a->asm_buf);
		a->asm_buf = NULL;
		a->asm_len = 0;
		a->asm_version = m->version;
		a->asm_parts = m->parts;
	} else if (m->version != a->asm_version || m->part != a->asm_next) {
		rl_model_ask(n, 0); /* it changed meanwhile: from the start */
		return;
	}
	if (a->asm_len + m->text.len > RL_MODEL_MAX) {
		rl_log(RL_LOG_ERR, "site model too large: not taken bytes=%zu", a->asm_len + m->text.len);
		return;
	}
	a->asm_buf = rl_realloc(a->asm_buf, a->asm_len + m->text.len + 1);
	memcpy(a->asm_buf + a->asm_len, m->text.data, m->text.len);
	a->asm_len += m->text.len;
	a->asm_next = m->part + 1;
	if (a->asm_next < a->asm_parts) {
		rl_model_ask(n, a->asm_next);
		return;
	}
	free(a->model);
	a->asm_buf[a->asm_len] = 0;
	a->model = (char *)a->asm_buf;
	a->model_len = a->asm_len;
	a->model_version = a->asm_version;
	a->asm_buf = NULL;
	rl_log(RL_LOG_NOTICE, "site model from the hub version=%016llx bytes=%zu: the site can serve alone",
	       (unsigned long long)a->model_version, a->model_len);
	rl_model_save(n);
}

void rl_alone_open(struct rl_node *n)
{
	struct rl_alone *a = &n->alone;
	char path[RL_ALONE_DIR_MAX];

	if (!rl_alone_can(n))
		return;
	rl_alone_path(n, "model.conf", path, sizeof(path));
	if (rl_file_read(path, RL_MODEL_MAX, &a->model, &a->model_len) != RL_OK)
		return;
	a->model_version = rl_model_hash(a->model, a->model_len);
	rl_log(RL_LOG_NOTICE, "site model from %s bytes=%zu", path, a->model_len);
}

/* ---------------------------------------------------------------------------------------- */
/* serving alone */

static void rl_alone_out(void *arg, rl_env *env, void *cookie, int is_reply)
{
	rl_node_upstream(arg, env, cookie, is_reply);
}

/* rl_alone_seeds: the node's live contacts as the site's engine starts with them. A caller
 * offered, or talking to an agent elsewhere (through the relay, out of reach now), waits
 * again at its place. */
static Relais__ContactRecord **rl_alone_seeds(struct rl_node *n, int *nout)
{
	Relais__ContactRecord **v = rl_calloc(n->contacts.len + 1, sizeof(*v));
	int k = 0;

	for (size_t i = 0; i < n->contacts.cap; i++) {
		struct rl_contact *c = n->contacts.ents ? n->contacts.ents[i].val : NULL;
		Relais__ContactRecord *r;
		if (c == NULL || c->facts == NULL || c->facts->state == RELAIS__CONTACT_STATE__CONTACT_ENDED)
			continue;
		r = v[k++] = rl_wire_record_copy(c->facts);
		if (r->state == RELAIS__CONTACT_STATE__CONTACT_OFFERED ||
		    (r->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED && r->relayed)) {
			r->state = RELAIS__CONTACT_STATE__CONTACT_QUEUED;
			rl_wire_set_str(&r->agent_id, "");
		}
	}
	*nout = k;
	return v;
}

/* rl_alone_seats: the seated agents, as the site's engine starts with them. */
static struct rl_seat *rl_alone_seats(struct rl_node *n, int *nout)
{
	struct rl_seat *v = rl_calloc(n->peers.len + 1, sizeof(*v));
	int k = 0;

	for (size_t i = 0; i < n->peers.cap; i++) {
		struct rl_lpeer *p = n->peers.ents ? n->peers.ents[i].val : NULL;
		if (p == NULL || p->role != RELAIS__ROLE__ROLE_AGENT || p->seat.session == 0 || !p->seat.agent_id[0])
			continue;
		v[k] = p->seat;
		if (v[k].state == RELAIS__AGENT_STATE__AGENT_RESERVED) {
			v[k].state = RELAIS__AGENT_STATE__AGENT_READY; /* its offer waits again */
			v[k].contact[0] = 0;
		}
		k++;
	}
	*nout = k;
	return v;
}

/* rl_alone_bind: each seated agent's session is bound to its link at the site's engine before
 * any of its frames reach it, as the hub had it: a request the agent sent to the hub and
 * sends again now is taken, not refused for want of a resume. The engine's answer reaches
 * the agent as a push of its state. */
static void rl_alone_bind(struct rl_node *n)
{
	for (size_t i = 0; i < n->peers.cap; i++) {
		struct rl_lpeer *p = n->peers.ents ? n->peers.ents[i].val : NULL;
		Relais__AgentResume r = RELAIS__AGENT_RESUME__INIT;
		rl_env env;
		if (p == NULL || p->role != RELAIS__ROLE__ROLE_AGENT || p->seat.session == 0 || !p->seat.has_token)
			continue;
		rl_env_init(&env);
		r.session = p->seat.session;
		r.token.data = p->seat.token;
		r.token.len = RL_TOKEN_LEN;
		env.body_case = RELAIS__ENVELOPE__BODY_AGENT_RESUME;
		env.agent_resume = &r;
		rl_local_input(n->alone.local, p->pipe, &env, NULL);
	}
}

/* rl_alone_take_sub: a submission the lost hub never answered goes to the site's engine
 * instead - its caller waits here. (Had the hub taken it after all, the handover finds it by
 * its ext id.) */
static int rl_alone_take_sub(void *cookie, uint64_t req_id, void *arg)
{
	struct rl_node *n = arg;
	const struct rl_sub *sub = cookie;
	Relais__SubmitContact *sc;
	rl_env env;

	(void)req_id;
	if (!rl_node_sub_cookie(n, cookie) || sub->asked == NULL ||
	    (sc = relais__submit_contact__unpack(NULL, sub->asked_len, sub->asked)) == NULL)
		return 0;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
	env.submit_contact = sc;
	rl_local_input(n->alone.local, 0, &env, cookie);
	relais__submit_contact__free_unpacked(sc, NULL);
	return 1;
}

static void rl_alone_start(struct rl_node *n)
{
	struct rl_alone *a = &n->alone;
	struct rl_local_conf lc = {0};
	char dir[RL_ALONE_DIR_MAX];
	Relais__ContactRecord **seeds;
	struct rl_seat *seats;
	int nseeds, nseats;

	rl_alone_path(n, "local", dir, sizeof(dir));
	seeds = rl_alone_seeds(n, &nseeds);
	seats = rl_alone_seats(n, &nseats);
	lc.site_id = n->conf.site_id;
	lc.key = &n->conf.key;
	lc.dir = dir;
	lc.model = a->model;
	lc.model_len = a->model_len;
	lc.boot_id = n->boot_id;
	lc.media_addr = n->bridge ? rl_bridge_addr(n->bridge) : "";
	lc.suite = RL_SRTP_AEAD_AES_128_GCM;
	lc.seats = seats;
	lc.nseats = nseats;
	lc.contacts = seeds;
	lc.ncontacts = nseeds;
	lc.out = rl_alone_out;
	lc.arg = n;
	if (rl_local_open(&a->local, &lc) == RL_OK) {
		rl_alone_bind(n);
		unsigned taken = rl_client_take_pending(n->hub, rl_alone_take_sub, n);
		rl_log(RL_LOG_WARNING, "hub lost: the site serves alone site=%s agents=%d contacts=%d submissions=%u",
		       n->conf.site_id, nseats, nseeds, taken);
	}
	for (int i = 0; i < nseeds; i++)
		relais__contact_record__free_unpacked(seeds[i], NULL);
	free(seeds);
	free(seats);
}

void rl_alone_tick(struct rl_node *n)
{
	struct rl_alone *a = &n->alone;

	if (!rl_alone_can(n))
		return;
	if (n->hub_lost && a->local == NULL && a->parts == NULL && a->model != NULL)
		rl_alone_start(n);
	else if (n->hub_lost && a->local == NULL)
		rl_log(RL_LOG_WARNING, "hub lost: the site cannot serve alone (%s)",
		       a->model == NULL ? "no model from the hub yet" : "its last handover is not finished");
	else if (!n->hub_lost && a->local != NULL) {
		/* The hub is heard again on the same link: it decides again. */
		rl_alone_stop(n);
		rl_node_register(n);
		rl_alone_ready(n);
	}
}

void rl_alone_run(struct rl_node *n)
{
	struct rl_alone *a = &n->alone;
	uint64_t now = rl_mono_us();

	if (a->local == NULL || (!rl_local_busy(a->local) && now - a->last_run_us < RL_ALONE_RUN_US))
		return;
	a->last_run_us = now;
	rl_local_run(a->local);
}

/* ---------------------------------------------------------------------------------------- */
/* the handover */

static void rl_journal_send(struct rl_node *n)
{
	struct rl_alone *a = &n->alone;
	const struct rl_journal_part *p = &a->parts[a->next_part];
	Relais__SiteJournal *sj = relais__site_journal__unpack(NULL, p->len, p->buf);
	rl_env env;

	if (sj == NULL)
		abort(); /* we packed it */
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_JOURNAL;
	env.site_journal = sj;
	rl_client_request(n->hub, &env, &n->alone.journal_marker, NULL);
	relais__site_journal__free_unpacked(sj, NULL);
	a->inflight = 1;
}

void rl_alone_stop(struct rl_node *n)
{
	struct rl_alone *a = &n->alone;
	char dir[RL_ALONE_DIR_MAX];

	if (!rl_alone_can(n))
		return;
	if (a->local != NULL) {
		rl_local_run(a->local); /* what was queued for it */
		rl_local_close(a->local);
		a->local = NULL;
		rl_log(RL_LOG_NOTICE, "hub back: it decides again; the site hands over what it did alone site=%s",
		       n->conf.site_id);
	}
	rl_alone_path(n, "local", dir, sizeof(dir));
	if (a->parts != NULL || !rl_journal_waiting(dir))
		return;
	rl_secret_random(&a->journal_id, sizeof(a->journal_id));
	a->nparts = rl_journal_parts(dir, a->journal_id, &a->parts);
	a->next_part = 0;
	a->inflight = 0;
	if (a->nparts <= 0) {
		rl_log(RL_LOG_ERR, "the journal of the site's time alone cannot be read dir=%s", dir);
		a->nparts = 0;
		a->parts = NULL;
	}
}

uint32_t rl_alone_journal_parts(struct rl_node *n)
{
	return n->alone.parts != NULL ? (uint32_t)n->alone.nparts : 0;
}

void rl_alone_ready(struct rl_node *n)
{
	struct rl_alone *a = &n->alone;

	if (!rl_alone_can(n))
		return;
	if (a->parts != NULL && !a->inflight)
		rl_journal_send(n); /* (one in flight goes again by itself on the new link) */
	rl_model_ask(n, 0);
}

static void rl_journal_answered(struct rl_node *n, const rl_env *env)
{
	struct rl_alone *a = &n->alone;
	char dir[RL_ALONE_DIR_MAX];

	a->inflight = 0;
	if (env->body_case == RELAIS__ENVELOPE__BODY_ERROR) {
		/* Only a malformed part is refused: kept on disk, for the next link to try again. */
		rl_log(RL_LOG_ERR, "hub refused a part of the site's journal part=%d err=\"%s\"", a->next_part,
		       env->error->message ? env->error->message : "");
		rl_journal_free(a->parts, a->nparts);
		a->parts = NULL;
		a->nparts = 0;
		return;
	}
	if (++a->next_part < a->nparts) {
		rl_journal_send(n);
		return;
	}
	rl_log(RL_LOG_NOTICE, "site handed over what it did alone parts=%d", a->nparts);
	rl_journal_free(a->parts, a->nparts);
	a->parts = NULL;
	a->nparts = 0;
	rl_alone_path(n, "local", dir, sizeof(dir));
	rl_journal_wipe(dir);
}

int rl_alone_reply(struct rl_node *n, const rl_env *env, void *cookie)
{
	if (cookie == &n->alone.model_marker) {
		if (env->body_case == RELAIS__ENVELOPE__BODY_SITE_MODEL)
			rl_model_take(n, env->site_model);
		else if (env->body_case == RELAIS__ENVELOPE__BODY_ERROR)
			rl_log(RL_LOG_WARNING, "hub gave no site model err=\"%s\"",
			       env->error->message ? env->error->message : "");
		return 1;
	}
	if (cookie == &n->alone.journal_marker) {
		rl_journal_answered(n, env);
		return 1;
	}
	return 0;
}

void rl_alone_free(struct rl_node *n)
{
	struct rl_alone *a = &n->alone;

	if (a->local != NULL) {
		rl_local_run(a->local);
		rl_local_close(a->local);
	}
	rl_journal_free(a->parts, a->nparts);
	free(a->model);
	free(a->asm_buf);
	memset(a, 0, sizeof(*a));
}
