#include "survive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_secret.h"
#include "rl_time.h"
#include "store.h"

#define RL_LOCAL_PIPE    1           /* the node's link to its own engine */
#define RL_LOCAL_MAP_MB  1024        /* the journal's LMDB map (sparse: only what is used) */
#define RL_JOURNAL_PART  (40 * 1024) /* packed bytes of one SiteJournal, well within a frame */
#define RL_LOCAL_FOREVER (1 << 30)   /* the node is the site: its engine never judges it lost */

struct rl_frame {
	uint8_t *buf;
	size_t len;
	void *cookie; /* the node's request (chan 0), or NULL */
};

struct rl_waiting {
	uint64_t req_id;
	void *cookie;
};

struct rl_local {
	struct rl_engine *e;
	char site_id[RL_WIRE_MAX_ID + 1];
	struct rl_key key;
	struct rl_frame *in, *outq; /* queued for the engine; what it sent in this batch */
	size_t nin, capin, nout, capout;
	struct rl_waiting *wait; /* the node's requests the engine has not answered */
	size_t nwait, capwait;
	struct rl_auth_job **jobs; /* logins: no secrets here, refused at the next run */
	size_t njobs, capjobs;
	uint64_t next_req;
	int proving; /* during open: the engine's challenge is answered here */
	rl_local_out_fn out;
	void *arg;
};

/* ---------------------------------------------------------------------------------------- */
/* seeding the journal with what the node knows */

static void rl_seed_agent(struct rl_store *s, const struct rl_seat *st, const char *site, uint64_t now)
{
	Relais__AgentRecord r = RELAIS__AGENT_RECORD__INIT;

	r.agent_id = (char *)st->agent_id;
	r.state = st->state;
	r.session = st->session;
	r.token.data = (uint8_t *)st->token;
	r.token.len = st->has_token ? RL_TOKEN_LEN : 0;
	r.contact_id = (char *)st->contact;
	r.site_id = (char *)site;
	r.state_since_us = now;
	r.idle_since_us = now;
	r.last_seen_us = now;
	rl_store_put_agent(s, &r);
}

static int rl_seed(const struct rl_local_conf *c)
{
	struct rl_store *s;
	uint64_t now = rl_wall_us();
	int rv;

	if ((rv = rl_store_open(&s, c->dir, RL_LOCAL_MAP_MB)) != RL_OK || (rv = rl_store_begin(s)) != RL_OK) {
		rl_store_close(s);
		return rv;
	}
	for (int i = 0; i < c->nseats; i++)
		if (c->seats[i].session != 0 && c->seats[i].has_token)
			rl_seed_agent(s, &c->seats[i], c->site_id, now);
	for (int i = 0; i < c->ncontacts; i++)
		rl_store_put_contact(s, c->contacts[i], 1);
	rv = rl_store_commit(s);
	rl_store_close(s);
	return rv;
}

/* ---------------------------------------------------------------------------------------- */
/* the engine's side */

static void rl_frame_add(struct rl_frame **v, size_t *n, size_t *cap, const uint8_t *buf, size_t len, void *cookie)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = rl_realloc(*v, *cap * sizeof(**v));
	}
	(*v)[*n].buf = rl_malloc(len + 1);
	memcpy((*v)[*n].buf, buf, len);
	(*v)[*n].len = len;
	(*v)[*n].cookie = cookie;
	(*n)++;
}

static void rl_local_send(void *arg, uint32_t pipe, const uint8_t *buf, size_t len)
{
	struct rl_local *l = arg;

	if (pipe == RL_LOCAL_PIPE)
		rl_frame_add(&l->outq, &l->nout, &l->capout, buf, len, NULL);
}

static void rl_local_auth(void *arg, struct rl_auth_job *job)
{
	struct rl_local *l = arg;

	if (l->njobs == l->capjobs) {
		l->capjobs = l->capjobs ? l->capjobs * 2 : 8;
		l->jobs = rl_realloc(l->jobs, l->capjobs * sizeof(*l->jobs));
	}
	l->jobs[l->njobs++] = job;
}

/* rl_local_waiting: the cookie of the node's request req_id, taken off the list. */
static int rl_local_waiting(struct rl_local *l, uint64_t req_id, void **cookie)
{
	for (size_t i = 0; req_id != 0 && i < l->nwait; i++)
		if (l->wait[i].req_id == req_id) {
			*cookie = l->wait[i].cookie;
			l->wait[i] = l->wait[--l->nwait];
			return 1;
		}
	return 0;
}

/* rl_local_prove answers the engine's challenge to the node's Hello. */
static void rl_local_prove(struct rl_local *l, const Relais__HelloOk *ok)
{
	Relais__Hello h = RELAIS__HELLO__INIT;
	uint8_t proof[RL_KEY_SIG];
	rl_env env;

	rl_key_prove(&l->key, ok->challenge.data, RELAIS__ROLE__ROLE_NODE, l->site_id, proof);
	rl_env_init(&env);
	h.role = RELAIS__ROLE__ROLE_NODE;
	h.site_id = l->site_id;
	h.name = "relais-node (alone)";
	h.proof.data = proof;
	h.proof.len = sizeof(proof);
	env.body_case = RELAIS__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	rl_local_input(l, 0, &env, NULL);
}

static void rl_local_deliver(struct rl_local *l, rl_env *env)
{
	void *cookie = NULL;
	int is_reply = env->chan == 0 && rl_local_waiting(l, env->req_id, &cookie);

	if (l->proving && env->body_case == RELAIS__ENVELOPE__BODY_HELLO_OK) {
		if (env->hello_ok->challenge.len == RL_KEY_CHALLENGE)
			rl_local_prove(l, env->hello_ok);
		else
			l->proving = 0; /* granted */
		return;
	}
	l->out(l->arg, env, cookie, is_reply);
}

int rl_local_busy(const struct rl_local *l)
{
	return l->nin > 0 || l->njobs > 0;
}

void rl_local_run(struct rl_local *l)
{
	size_t n = l->nin;
	struct rl_frame *in = l->in;

	l->in = NULL;
	l->nin = l->capin = 0;
	if (rl_engine_begin(l->e, rl_wall_us()) != RL_OK) {
		rl_log(RL_LOG_ERR, "the site's own engine cannot write its journal: the node stops");
		abort(); /* as the hub: never run with memory that disagrees with the disk */
	}
	for (size_t i = 0; i < l->njobs; i++) {
		l->jobs[i]->ok = 0; /* no secrets here: a new login waits for the hub */
		rl_engine_auth_done(l->e, l->jobs[i]);
	}
	l->njobs = 0;
	for (size_t i = 0; i < n; i++) {
		rl_env *env = NULL;
		if (rl_wire_decode(in[i].buf, in[i].len, &env) == RL_OK)
			rl_engine_input(l->e, RL_LOCAL_PIPE, env);
		rl_wire_free(env);
		free(in[i].buf);
	}
	free(in);
	rl_engine_tick(l->e);
	if (rl_engine_commit(l->e) != RL_OK) {
		rl_log(RL_LOG_ERR, "the site's own engine cannot commit its journal: the node stops");
		abort();
	}
	for (size_t i = 0; i < l->nout; i++) {
		rl_env *env = NULL;
		if (rl_wire_decode(l->outq[i].buf, l->outq[i].len, &env) == RL_OK)
			rl_local_deliver(l, env);
		rl_wire_free(env);
		free(l->outq[i].buf);
	}
	l->nout = 0;
}

void rl_local_input(struct rl_local *l, uint64_t chan, const rl_env *env, void *cookie)
{
	rl_env copy = *env;
	uint8_t *buf;
	size_t len;

	copy.chan = chan;
	if (chan == 0) {
		/* The node's own request: answered under an id of ours. */
		copy.req_id = ++l->next_req;
		if (cookie != NULL) {
			if (l->nwait == l->capwait) {
				l->capwait = l->capwait ? l->capwait * 2 : 64;
				l->wait = rl_realloc(l->wait, l->capwait * sizeof(*l->wait));
			}
			l->wait[l->nwait].req_id = copy.req_id;
			l->wait[l->nwait++].cookie = cookie;
		}
	}
	if (rl_wire_encode(&copy, &buf, &len) != RL_OK)
		return; /* (only too big: the node's own frames never are) */
	rl_frame_add(&l->in, &l->nin, &l->capin, buf, len, NULL);
	free(buf);
}

/* rl_local_hello proves the node to its engine and registers the site. */
static void rl_local_hello(struct rl_local *l, const struct rl_local_conf *c)
{
	Relais__Hello h = RELAIS__HELLO__INIT;
	Relais__SiteRegister sr = RELAIS__SITE_REGISTER__INIT;
	rl_env env;

	rl_env_init(&env);
	h.role = RELAIS__ROLE__ROLE_NODE;
	h.site_id = (char *)c->site_id;
	h.name = "relais-node (alone)";
	env.body_case = RELAIS__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	l->proving = 1;
	rl_local_input(l, 0, &env, NULL);
	rl_local_run(l); /* -> the challenge, answered */
	rl_local_run(l); /* -> granted */
	rl_env_init(&env);
	sr.site_id = (char *)c->site_id;
	sr.boot_id = c->boot_id;
	sr.survivable = 1;
	sr.media_addr = (char *)(c->media_addr ? c->media_addr : "");
	sr.capacity = 100;
	sr.health = 100;
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_REGISTER;
	env.site_register = &sr;
	rl_local_input(l, 0, &env, NULL);
	rl_local_run(l);
}

int rl_local_open(struct rl_local **out, const struct rl_local_conf *c)
{
	struct rl_local *l = rl_calloc(1, sizeof(*l));
	struct rl_hub_conf hc = {.map_size_mb = RL_LOCAL_MAP_MB,
	                         .agent_grace_s = 24 * 3600,
	                         .offer_timeout_s = 15,
	                         .wrapup_s = 30,
	                         .batch_max = 4096,
	                         .site_dead_ms = RL_LOCAL_FOREVER,
	                         .site_lost_end_s = RL_LOCAL_FOREVER,
	                         .represent_window_s = 300,
	                         .no_logins = 1};
	char *text = rl_malloc(c->model_len + 1);
	int fresh = !rl_journal_waiting(c->dir), rv;
	config_t cfg;

	mkdir(c->dir, 0700);
	snprintf(l->site_id, sizeof(l->site_id), "%s", c->site_id);
	l->key = *c->key;
	l->out = c->out;
	l->arg = c->arg;
	snprintf(hc.id, sizeof(hc.id), "%s-alone", c->site_id);
	snprintf(hc.data_dir, sizeof(hc.data_dir), "%s", c->dir);
	/* Numbered apart from the hub's, and from an earlier period alone (its journal wiped, the
	 * count starts again): the period's start, in seconds, is in the prefix. */
	snprintf(hc.contact_prefix, sizeof(hc.contact_prefix), "%.12s.L%08llx.", c->site_id,
	         (unsigned long long)(rl_wall_us() / 1000000u) & 0xffffffffull);
	memcpy(text, c->model, c->model_len);
	text[c->model_len] = 0;
	config_init(&cfg);
	rv = config_read_string(&cfg, text) == CONFIG_TRUE ? rl_seed(c) : RL_ECONFIG;
	if (rv == RL_OK)
		rv = rl_engine_open(&l->e, &hc, &cfg, rl_local_send, l, rl_local_auth, l, rl_wall_us());
	config_destroy(&cfg);
	free(text);
	if (rv != RL_OK) {
		rl_log(RL_LOG_ERR, "the site cannot serve alone: its own engine did not start err=\"%s\"",
		       rl_strerror(rv));
		if (fresh)
			rl_journal_wipe(c->dir); /* nothing happened: nothing to hand over */
		rl_key_wipe(&l->key);
		free(l);
		return rv;
	}
	rl_engine_set_media(l->e, NULL, c->suite);
	rl_local_hello(l, c);
	*out = l;
	return RL_OK;
}

void rl_local_close(struct rl_local *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->njobs; i++)
		free(l->jobs[i]);
	for (size_t i = 0; i < l->nin; i++)
		free(l->in[i].buf);
	rl_engine_close(l->e);
	free(l->jobs);
	free(l->in);
	free(l->outq);
	free(l->wait);
	rl_key_wipe(&l->key);
	free(l);
}

/* ---------------------------------------------------------------------------------------- */
/* the handover */

int rl_journal_waiting(const char *dir)
{
	char path[1100];
	struct stat st;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	return stat(path, &st) == 0;
}

/* What the journal holds, read back from the store. */
struct rl_jread {
	Relais__ContactRecord **c;
	Relais__EventRecord **ev;
	Relais__AgentRecord **a;
	size_t nc, nev, na, capc, capev, capa;
};

#define RL_PUSH(v, n, cap, x)                                        \
	do {                                                         \
		if ((n) == (cap)) {                                  \
			(cap) = (cap) ? (cap)*2 : 64;                \
			(v) = rl_realloc((v), (cap) * sizeof(*(v))); \
		}                                                    \
		(v)[(n)++] = (x);                                    \
	} while (0)

static int rl_jread_contact(void *arg, Relais__ContactRecord *r)
{
	struct rl_jread *j = arg;

	if (r->state == RELAIS__CONTACT_STATE__CONTACT_OFFERED) {
		r->state = RELAIS__CONTACT_STATE__CONTACT_QUEUED; /* the hub offers it again */
		if (r->agent_id && r->agent_id[0])
			r->agent_id[0] = 0;
	}
	RL_PUSH(j->c, j->nc, j->capc, r);
	return 0;
}

static int rl_jread_event(void *arg, const Relais__EventRecord *ev)
{
	struct rl_jread *j = arg;
	Relais__EventRecord *copy = rl_wire_copy(&ev->base);

	RL_PUSH(j->ev, j->nev, j->capev, copy);
	return 0;
}

static int rl_jread_agent(void *arg, Relais__AgentRecord *r)
{
	struct rl_jread *j = arg;

	if (r->state == RELAIS__AGENT_STATE__AGENT_RESERVED) {
		r->state = RELAIS__AGENT_STATE__AGENT_READY; /* its offer went back to waiting */
		if (r->contact_id && r->contact_id[0])
			r->contact_id[0] = 0;
	}
	RL_PUSH(j->a, j->na, j->capa, r);
	return 0;
}

static void rl_jread_free(struct rl_jread *j)
{
	for (size_t i = 0; i < j->nc; i++)
		relais__contact_record__free_unpacked(j->c[i], NULL);
	for (size_t i = 0; i < j->nev; i++)
		relais__event_record__free_unpacked(j->ev[i], NULL);
	for (size_t i = 0; i < j->na; i++)
		relais__agent_record__free_unpacked(j->a[i], NULL);
	free(j->c);
	free(j->ev);
	free(j->a);
}

/* rl_jread_sort puts ended contacts first: the hub takes the live ones with the agents. */
static void rl_jread_sort(struct rl_jread *j)
{
	size_t k = 0;

	for (size_t i = 0; i < j->nc; i++)
		if (j->c[i]->state == RELAIS__CONTACT_STATE__CONTACT_ENDED) {
			Relais__ContactRecord *t = j->c[k];
			j->c[k++] = j->c[i];
			j->c[i] = t;
		}
}

/* A part: a slice of the contacts, a slice of the events, and the agents in the last. */
struct rl_slice {
	size_t c0, nc, e0, ne;
};

/* rl_journal_slices cuts j into parts of under RL_JOURNAL_PART packed bytes each; returns
 * how many (in *out, the caller's), or -1 if one record alone is larger. */
static int rl_journal_slices(const struct rl_jread *j, struct rl_slice **out)
{
	size_t ic = 0, iev = 0, cap = 0;
	int n = 0;

	*out = NULL;
	do {
		struct rl_slice sl = {ic, 0, iev, 0};
		size_t bytes = 0;
		while (ic < j->nc && (bytes += relais__contact_record__get_packed_size(j->c[ic]) + 8) < RL_JOURNAL_PART)
			ic++, sl.nc++;
		while (ic == j->nc && iev < j->nev &&
		       (bytes += relais__event_record__get_packed_size(j->ev[iev]) + 8) < RL_JOURNAL_PART)
			iev++, sl.ne++;
		if (sl.nc == 0 && sl.ne == 0 && (ic < j->nc || iev < j->nev)) {
			rl_log(RL_LOG_ERR, "a journal record larger than a part: no handover");
			free(*out);
			return -1;
		}
		if ((size_t)n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = rl_realloc(*out, cap * sizeof(**out));
		}
		(*out)[n++] = sl;
	} while (ic < j->nc || iev < j->nev);
	return n;
}

static int rl_journal_cut(const struct rl_jread *j, uint64_t journal_id, struct rl_journal_part **parts)
{
	struct rl_slice *sl;
	int n = rl_journal_slices(j, &sl);

	*parts = n > 0 ? rl_calloc((size_t)n, sizeof(**parts)) : NULL;
	for (int i = 0; i < n; i++) {
		Relais__SiteJournal sj = RELAIS__SITE_JOURNAL__INIT;
		sj.journal_id = journal_id;
		sj.part = (uint32_t)i;
		sj.parts = (uint32_t)n;
		sj.contacts = j->c + sl[i].c0;
		sj.n_contacts = sl[i].nc;
		sj.events = j->ev + sl[i].e0;
		sj.n_events = sl[i].ne;
		if (i == n - 1) {
			sj.agents = j->a; /* a site's agents fit one part */
			sj.n_agents = j->na;
		}
		(*parts)[i].len = relais__site_journal__get_packed_size(&sj);
		(*parts)[i].buf = rl_malloc((*parts)[i].len + 1);
		relais__site_journal__pack(&sj, (*parts)[i].buf);
	}
	if (n > 0)
		free(sl);
	return n;
}

int rl_journal_parts(const char *dir, uint64_t journal_id, struct rl_journal_part **parts)
{
	struct rl_jread j = {0};
	struct rl_store *s;
	int n = -1;

	*parts = NULL;
	if (rl_store_open(&s, dir, RL_LOCAL_MAP_MB) != RL_OK)
		return -1;
	if (rl_store_each_contact(s, rl_jread_contact, &j) == RL_OK &&
	    rl_store_each_event_since(s, 0, rl_jread_event, &j) == RL_OK &&
	    rl_store_each_agent(s, rl_jread_agent, &j) == RL_OK) {
		rl_jread_sort(&j);
		n = rl_journal_cut(&j, journal_id, parts);
	}
	rl_store_close(s);
	rl_jread_free(&j);
	return n;
}

void rl_journal_free(struct rl_journal_part *parts, int n)
{
	for (int i = 0; i < n; i++)
		free(parts[i].buf);
	free(parts);
}

void rl_journal_wipe(const char *dir)
{
	static const char *const files[] = {"data.mdb", "lock.mdb"};
	char path[1100];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}
