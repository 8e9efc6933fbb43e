/*
 * repl.c - the leader's end of synchronous replication (repl.h, docs/ha.md).
 */
#include "repl.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_hello.h"
#include "rl_log.h"
#include "rl_loop.h"
#include "rl_time.h"
#include "store.h"

#define REPL_SENDBUF 256 /* messages the socket queues for the standby before sends wait */

struct repl_part {
	uint8_t *p; /* an encoded Envelope{repl_batch} */
	size_t len;
};

/* One committed batch, as the frames that carry it. */
struct repl_batch {
	uint64_t seq;
	int64_t term;
	uint64_t at_us; /* when it was committed (monotonic) */
	size_t nparts, bytes;
	struct repl_part *parts;
};

/* What the helper threads and nng's pipe callback post to the loop. */
enum { REPL_EV_SNAP = 1, REPL_EV_PIPE_GONE, REPL_EV_PIPE_ADD };

/* A link must prove itself a standby this soon: the socket takes one peer at a time, and one
 * that holds it without proving (a stray client with a cluster certificate) keeps the
 * standby out. */
#define REPL_PROVE_MS 1000
struct repl_event {
	int kind;
	struct rl_repl *r;
	unsigned gen; /* SNAP: the standby it was made for */
	int fd, rv;   /* SNAP: the copy, and how its making went */
	uint32_t pipe;
	struct rl_store_pos pos; /* SNAP: the copy's last batch */
};

struct rl_repl {
	nng_socket sock;
	struct rl_loop *loop;
	int tag_ev;
	struct rl_repl_peer *peers;
	int npeers;
	char *snap_path;
	struct rl_store *store;
	size_t log_bytes;
	unsigned timeout_ms;
	/* The log: batches base_seq + 1 .. last_seq, at log[head .. nlog). */
	struct repl_batch *log;
	size_t head, nlog, caplog, log_total;
	uint64_t base_seq, last_seq;
	int64_t base_term, last_term;
	/* The standby: one link at a time (pair1 without polyamory). */
	uint32_t pipe;
	uint64_t pipe_us;          /* when it came (monotonic) */
	int peer;                  /* index in peers once proven, -1 before */
	struct rl_hello_gate gate; /* its proof of a peer's key */
	int subscribed;
	uint64_t next_seq; /* the next batch to send it, and the part */
	size_t next_part;
	uint64_t acked, target;
	uint64_t ack_us; /* when acked last moved (or the standby subscribed) */
	unsigned gen;    /* counts standby links, so a late copy is not sent to the next one */
	/* A copy of the store for it. */
	pthread_t snap_thread;
	int snap_running, snap_fd;
	uint64_t snap_off, snap_size;
	struct rl_store_pos snap_pos;
	uint64_t pin_seq; /* while a copy is made or sent: batches after this stay in the log */
	int pinned;
};

/* ---------------------------------------------------------------------------------------- */
/* the log */

static struct repl_batch *repl_find(struct rl_repl *r, uint64_t seq)
{
	if (r->head == r->nlog || seq <= r->base_seq || seq > r->last_seq)
		return NULL;
	return &r->log[r->head + (seq - r->base_seq - 1)];
}

static void repl_batch_free(struct repl_batch *b)
{
	for (size_t i = 0; i < b->nparts; i++)
		free(b->parts[i].p);
	free(b->parts);
}

/* repl_trim drops the oldest batches beyond log_bytes that no standby still needs. */
static void repl_trim(struct rl_repl *r)
{
	while (r->head < r->nlog && r->log_total > r->log_bytes) {
		struct repl_batch *b = &r->log[r->head];
		if ((r->subscribed && b->seq > r->acked) || (r->pinned && b->seq > r->pin_seq))
			break;
		r->base_seq = b->seq;
		r->base_term = b->term;
		r->log_total -= b->bytes;
		repl_batch_free(b);
		r->head++;
	}
	if (r->head == r->nlog) {
		r->head = r->nlog = 0;
	} else if (r->head > r->nlog / 2 && r->head > 64) {
		memmove(r->log, r->log + r->head, (r->nlog - r->head) * sizeof(*r->log));
		r->nlog -= r->head;
		r->head = 0;
	}
}

/* repl_part encodes ops [from, to) of b as one ReplBatch frame. */
static int repl_part(struct repl_batch *lb, const struct rl_store_batch *b, Relais__StoreOp **pp, size_t n, int last)
{
	Relais__ReplBatch rb = RELAIS__REPL_BATCH__INIT;
	rl_env env;
	struct repl_part *t;
	uint8_t *buf;
	size_t len;

	rb.seq = b->seq;
	rb.term = b->term;
	rb.part = (uint32_t)lb->nparts;
	rb.last = last;
	rb.n_ops = n;
	rb.ops = pp;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_REPL_BATCH;
	env.repl_batch = &rb;
	if (rl_wire_encode(&env, &buf, &len) != RL_OK)
		return RL_ETOOBIG;
	lb->parts = rl_realloc(lb->parts, (lb->nparts + 1) * sizeof(*lb->parts));
	t = &lb->parts[lb->nparts++];
	t->p = buf;
	t->len = len;
	lb->bytes += len;
	return RL_OK;
}

/* repl_encode cuts b into frames of at most RL_REPL_PART_BYTES of ops. */
static int repl_encode(struct repl_batch *lb, const struct rl_store_batch *b)
{
	Relais__StoreOp *ops = rl_calloc(b->nops ? b->nops : 1, sizeof(*ops));
	Relais__StoreOp **pp = rl_calloc(b->nops ? b->nops : 1, sizeof(*pp));
	size_t from = 0, size = 0;
	int rv = RL_OK;

	for (size_t i = 0; i < b->nops; i++) {
		const struct rl_store_op *o = &b->ops[i];
		relais__store_op__init(&ops[i]);
		ops[i].table = o->table;
		ops[i].del = o->del;
		ops[i].key = (ProtobufCBinaryData){o->klen, (uint8_t *)o->key};
		ops[i].value = (ProtobufCBinaryData){o->vlen, (uint8_t *)o->val};
		pp[i] = &ops[i];
		if (size > 0 && size + o->klen + o->vlen + 16 > RL_REPL_PART_BYTES) {
			if ((rv = repl_part(lb, b, pp + from, i - from, 0)) != RL_OK)
				break;
			from = i;
			size = 0;
		}
		size += o->klen + o->vlen + 16;
	}
	if (rv == RL_OK)
		rv = repl_part(lb, b, pp + from, b->nops - from, 1);
	free(pp);
	free(ops);
	return rv;
}

/* ---------------------------------------------------------------------------------------- */
/* the standby's link */

static void repl_forget_standby(struct rl_repl *r)
{
	r->peer = -1;
	r->gate = (struct rl_hello_gate){0};
	r->subscribed = 0;
	r->acked = r->target = 0;
	r->next_part = 0;
	r->gen++;
	if (r->snap_fd >= 0 && !r->snap_running) {
		close(r->snap_fd);
		unlink(r->snap_path);
	}
	if (!r->snap_running)
		r->snap_fd = -1;
	r->pinned = r->snap_running;
}

static void repl_drop(struct rl_repl *r, const char *why)
{
	nng_pipe p;

	rl_log(RL_LOG_WARNING, "standby dropped name=%s reason=\"%s\" acked=%llu last=%llu",
	       r->peer >= 0 ? r->peers[r->peer].name : "?", why, (unsigned long long)r->acked,
	       (unsigned long long)r->last_seq);
	p.id = r->pipe;
	if (r->pipe != 0)
		nng_pipe_close(p);
	r->pipe = 0;
	repl_forget_standby(r);
}

/* repl_link: the link a frame or a new pipe names; a new one starts afresh (whatever the last
 * one was doing is over), with REPL_PROVE_MS to prove itself. */
static void repl_link(struct rl_repl *r, uint32_t pipe)
{
	if (pipe == r->pipe)
		return;
	r->pipe = pipe;
	r->pipe_us = rl_mono_us();
	repl_forget_standby(r);
}

static void repl_send_env(struct rl_repl *r, rl_env *env)
{
	(void)rl_link_send(r->sock, 0, env); /* answers: a lost one is asked again */
}

static void repl_error(struct rl_repl *r, uint64_t req_id, Relais__ErrorCode code, const char *msg)
{
	Relais__Error er;
	rl_env env;

	rl_wire_error(&env, &er, code, msg, 0);
	env.req_id = req_id;
	repl_send_env(r, &env);
}

/* repl_resync stops streaming to a proven standby that fell behind and tells it to subscribe
 * again (ERR_BAD_STATE): the link stays, so it need not notice a closed one first. Until it
 * has caught up again it is not in sync (rl_repl_synced). */
static void repl_resync(struct rl_repl *r, const char *why)
{
	rl_log(RL_LOG_WARNING, "standby out of step name=%s reason=\"%s\" acked=%llu last=%llu", r->peers[r->peer].name,
	       why, (unsigned long long)r->acked, (unsigned long long)r->last_seq);
	r->subscribed = 0;
	r->acked = r->target = 0;
	r->next_part = 0;
	repl_error(r, 0, RELAIS__ERROR_CODE__ERR_BAD_STATE, why);
}

/* repl_hello: a standby names itself, then proves its key (as a node does at the hub). */
static void repl_hello(struct rl_repl *r, const rl_env *in)
{
	const Relais__Hello *h = in->hello;
	Relais__HelloOk ok;
	rl_env env;
	int i;

	for (i = 0; i < r->npeers; i++)
		if (h->principal != NULL && strcmp(h->principal, r->peers[i].name) == 0)
			break;
	if (h->role != RELAIS__ROLE__ROLE_HUB || i == r->npeers) {
		rl_log(RL_LOG_WARNING, "replication link refused principal=%s (not a hub of ha.peers)",
		       h->principal ? h->principal : "");
		repl_error(r, in->req_id, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "not a hub this leader knows");
		return;
	}
	if (h->proof.len == 0) {
		rl_hello_ok(&env, &ok, NULL, rl_wall_us(), rl_hello_challenge(&r->gate), NULL);
	} else if (rl_hello_proven(&r->gate, r->peers[i].pk, h, r->peers[i].name) != RL_OK) {
		rl_log(RL_LOG_WARNING, "replication link refused principal=%s (wrong proof)", r->peers[i].name);
		repl_error(r, in->req_id, RELAIS__ERROR_CODE__ERR_AUTH, "wrong proof");
		return;
	} else {
		r->peer = i;
		rl_hello_ok(&env, &ok, NULL, rl_wall_us(), NULL, "standby");
		rl_log(RL_LOG_NOTICE, "standby linked name=%s", r->peers[i].name);
	}
	env.req_id = in->req_id;
	repl_send_env(r, &env);
}

static void *repl_copy_main(void *arg)
{
	struct repl_event *ev = arg;

	ev->rv = rl_store_copy_fd(ev->r->store, ev->fd);
	if (ev->rv == RL_OK)
		ev->rv = rl_store_copy_pos(ev->r->snap_path, &ev->pos);
	if (rl_loop_post(ev->r->loop, ev->r->tag_ev, ev) != RL_OK) {
		/* The loop is closing (it takes no more): the copy is of no use. */
		close(ev->fd);
		free(ev);
	}
	return NULL;
}

/* repl_copy starts copying the store for a standby that cannot continue from its batch. */
static void repl_copy(struct rl_repl *r)
{
	struct repl_event *ev;
	int fd;

	if (r->snap_running)
		return; /* the copy in the making will do: it is newer than the request */
	if ((fd = open(r->snap_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		rl_log(RL_LOG_ERR, "cannot write a store copy for the standby path=%s", r->snap_path);
		return;
	}
	ev = rl_calloc(1, sizeof(*ev));
	*ev = (struct repl_event){.kind = REPL_EV_SNAP, .r = r, .gen = r->gen, .fd = fd, .rv = RL_OK};
	r->pinned = 1;
	r->pin_seq = r->last_seq;
	if (pthread_create(&r->snap_thread, NULL, repl_copy_main, ev) != 0) {
		close(fd);
		free(ev);
		r->pinned = 0;
		return;
	}
	r->snap_running = 1;
	rl_log(RL_LOG_NOTICE, "standby needs a copy of the store name=%s last=%llu", r->peers[r->peer].name,
	       (unsigned long long)r->last_seq);
}

/* repl_subscribe: stream from the standby's batch, or copy the store first. */
static void repl_subscribe(struct rl_repl *r, const Relais__ReplSubscribe *s)
{
	const struct repl_batch *b = repl_find(r, s->seq);
	int from = (s->seq == r->last_seq && s->term == r->last_term) ||
	           (s->seq == r->base_seq && s->term == r->base_term) || (b != NULL && b->term == s->term);

	r->subscribed = 0;
	if (!from) {
		repl_copy(r);
		return;
	}
	r->subscribed = 1;
	r->next_seq = s->seq + 1;
	r->next_part = 0;
	r->acked = s->seq;
	r->ack_us = rl_mono_us();
	r->target = r->last_seq;
	r->pinned = r->snap_running;
	rl_log(RL_LOG_NOTICE, "standby subscribed name=%s from=%llu last=%llu", r->peers[r->peer].name,
	       (unsigned long long)s->seq, (unsigned long long)r->last_seq);
}

void rl_repl_input(struct rl_repl *r, nng_msg *msg, uint64_t now_us)
{
	rl_env *env = NULL;
	uint32_t pipe;
	int rv = rl_link_recv_env(msg, &env, &pipe);

	nng_msg_free(msg);
	if (rv != RL_OK) {
		rl_wire_free(env);
		return;
	}
	repl_link(r, pipe);
	if (env->body_case == RELAIS__ENVELOPE__BODY_HELLO) {
		repl_hello(r, env);
	} else if (r->peer < 0) {
		repl_error(r, env->req_id, RELAIS__ERROR_CODE__ERR_HELLO_FIRST, "prove who you are first");
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_HEARTBEAT) {
		Relais__Heartbeat hb = RELAIS__HEARTBEAT__INIT;
		rl_env out;
		rl_env_init(&out);
		hb.echo_us = env->heartbeat->sent_us;
		out.body_case = RELAIS__ENVELOPE__BODY_HEARTBEAT;
		out.heartbeat = &hb;
		repl_send_env(r, &out);
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_REPL_SUBSCRIBE) {
		Relais__Ok ok = RELAIS__OK__INIT;
		rl_env out;
		repl_subscribe(r, env->repl_subscribe);
		rl_env_init(&out); /* the standby asks until it hears this */
		out.req_id = env->req_id;
		out.body_case = RELAIS__ENVELOPE__BODY_OK;
		out.ok = &ok;
		repl_send_env(r, &out);
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_REPL_ACK) {
		if (r->subscribed && env->repl_ack->seq > r->acked && env->repl_ack->seq < r->next_seq) {
			r->acked = env->repl_ack->seq;
			r->ack_us = now_us;
		}
	} else {
		repl_error(r, env->req_id, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "not a replication message");
	}
	rl_wire_free(env);
}

/* ---------------------------------------------------------------------------------------- */
/* sending */

/* repl_pump_copy sends the store's copy chunk by chunk; 1 while some is left. */
static int repl_pump_copy(struct rl_repl *r)
{
	static uint8_t chunk[RL_REPL_PART_BYTES];
	Relais__ReplSnapshot s = RELAIS__REPL_SNAPSHOT__INIT;
	rl_env env;

	while (r->snap_fd >= 0 && !r->snap_running) {
		ssize_t n = pread(r->snap_fd, chunk, sizeof(chunk), (off_t)r->snap_off);
		if (n < 0 || (n == 0 && r->snap_off < r->snap_size)) {
			repl_drop(r, "cannot read the store's copy");
			return 1;
		}
		s.offset = r->snap_off;
		s.data = (ProtobufCBinaryData){(size_t)n, chunk};
		s.size = r->snap_size;
		s.seq = r->snap_pos.seq;
		s.term = r->snap_pos.term;
		s.last = r->snap_off + (uint64_t)n >= r->snap_size;
		rl_env_init(&env);
		env.body_case = RELAIS__ENVELOPE__BODY_REPL_SNAPSHOT;
		env.repl_snapshot = &s;
		if (rl_link_send(r->sock, 0, &env) != RL_OK)
			return 1; /* the socket's queue is full: the rest at the next pump */
		r->snap_off += (uint64_t)n;
		if (s.last) { /* the standby installs it and subscribes again */
			close(r->snap_fd);
			unlink(r->snap_path);
			r->snap_fd = -1;
			rl_log(RL_LOG_NOTICE, "store copy sent to the standby bytes=%llu seq=%llu",
			       (unsigned long long)r->snap_size, (unsigned long long)r->snap_pos.seq);
		}
	}
	return r->snap_running;
}

void rl_repl_pump(struct rl_repl *r, uint64_t now_us)
{
	struct repl_batch *b;

	if (r->pipe != 0 && r->peer < 0 && now_us > r->pipe_us && now_us - r->pipe_us > REPL_PROVE_MS * 1000u) {
		repl_drop(r, "not proven in time");
		return;
	}
	if (r->peer < 0 || repl_pump_copy(r) || !r->subscribed)
		return;
	while ((b = repl_find(r, r->next_seq)) != NULL) {
		for (; r->next_part < b->nparts; r->next_part++)
			if (rl_link_send_bytes(r->sock, 0, b->parts[r->next_part].p, b->parts[r->next_part].len) !=
			    RL_OK)
				goto sent; /* the socket's queue is full: the rest at the next pump */
		r->next_seq++;
		r->next_part = 0;
	}
sent:
	/* A standby that catches up gets old batches: the time counts from when it last moved on. */
	b = repl_find(r, r->acked + 1);
	if (b != NULL && now_us > b->at_us && now_us - b->at_us > (uint64_t)r->timeout_ms * 1000u &&
	    now_us > r->ack_us && now_us - r->ack_us > (uint64_t)r->timeout_ms * 1000u) {
		repl_resync(r, "a batch unacknowledged too long");
		return;
	}
	if (r->log_total > 4 * r->log_bytes)
		repl_resync(r, "too far behind");
	repl_trim(r);
}

void rl_repl_batch(void *arg, struct rl_store *s)
{
	struct rl_repl *r = arg;
	const struct rl_store_batch *b = rl_store_last_batch(s);
	struct repl_batch *lb;

	if (b == NULL || b->seq == r->last_seq)
		return; /* a batch that wrote nothing commits no position */
	if (r->nlog == r->caplog) {
		r->caplog = r->caplog ? r->caplog * 2 : 1024;
		r->log = rl_realloc(r->log, r->caplog * sizeof(*r->log));
	}
	lb = &r->log[r->nlog];
	*lb = (struct repl_batch){b->seq, b->term, rl_mono_us(), 0, 0, NULL};
	if (b->seq != r->last_seq + 1 || repl_encode(lb, b) != RL_OK) {
		/* Not one that follows (a commit outside the hold) or too big for a frame: a
		 * standby can no longer follow the log; it gets a copy when it asks again. */
		rl_log(RL_LOG_ERR, "batch cannot be replicated seq=%llu last=%llu", (unsigned long long)b->seq,
		       (unsigned long long)r->last_seq);
		repl_batch_free(lb);
		for (size_t i = r->head; i < r->nlog; i++)
			repl_batch_free(&r->log[i]);
		r->head = r->nlog = r->log_total = 0;
		r->base_seq = r->last_seq = b->seq;
		r->base_term = r->last_term = b->term;
		if (r->subscribed)
			repl_resync(r, "the log broke");
		return;
	}
	r->nlog++;
	r->log_total += lb->bytes;
	r->last_seq = b->seq;
	r->last_term = b->term;
}

void rl_repl_event(struct rl_repl *r, void *job)
{
	struct repl_event *ev = job;
	struct stat st;

	if (ev->kind == REPL_EV_PIPE_ADD) {
		repl_link(r, ev->pipe);
		free(ev);
		return;
	}
	if (ev->kind == REPL_EV_PIPE_GONE) {
		if (ev->pipe == r->pipe) {
			rl_log(RL_LOG_NOTICE, "standby link closed name=%s",
			       r->peer >= 0 ? r->peers[r->peer].name : "?");
			r->pipe = 0;
			repl_forget_standby(r);
		}
		free(ev);
		return;
	}
	pthread_join(r->snap_thread, NULL);
	r->snap_running = 0;
	if (ev->gen != r->gen || ev->rv != RL_OK || fstat(ev->fd, &st) != 0) {
		if (ev->rv != RL_OK)
			rl_log(RL_LOG_ERR, "store copy failed err=\"%s\"", rl_strerror(ev->rv));
		close(ev->fd);
		unlink(r->snap_path);
		r->pinned = 0;
	} else {
		r->snap_fd = ev->fd;
		r->snap_off = 0;
		r->snap_size = (uint64_t)st.st_size;
		r->snap_pos = ev->pos;
	}
	free(ev);
}

static void repl_pipe_cb(nng_pipe p, nng_pipe_ev what, void *arg)
{
	struct rl_repl *r = arg;
	struct repl_event *ev;

	ev = rl_calloc(1, sizeof(*ev));
	ev->kind = what == NNG_PIPE_EV_REM_POST ? REPL_EV_PIPE_GONE : REPL_EV_PIPE_ADD;
	ev->r = r;
	ev->pipe = nng_pipe_id(p);
	if (rl_loop_post(r->loop, r->tag_ev, ev) != RL_OK)
		free(ev);
}

/* ---------------------------------------------------------------------------------------- */
/* life */

int rl_repl_open(struct rl_repl **out, const struct rl_repl_conf *c, struct rl_loop *loop, int tag_sock, int tag_snap)
{
	struct rl_repl *r = rl_calloc(1, sizeof(*r));
	const struct rl_store_batch *b;
	struct rl_store_pos pos;
	int rv;

	r->loop = loop;
	r->tag_ev = tag_snap;
	r->npeers = c->npeers;
	r->peers = rl_calloc(c->npeers ? (size_t)c->npeers : 1, sizeof(*r->peers));
	memcpy(r->peers, c->peers, (size_t)c->npeers * sizeof(*r->peers));
	r->snap_path = rl_strdup(c->snap_path);
	r->store = c->store;
	r->log_bytes = c->log_bytes;
	r->timeout_ms = c->standby_timeout_ms;
	r->peer = -1;
	r->snap_fd = -1;
	rl_store_pos(c->store, &pos);
	b = rl_store_last_batch(c->store);
	if (b != NULL && b->seq == pos.seq && b->seq == c->before.seq + 1)
		pos = c->before; /* the engine's first batch follows it: logged below */
	else
		b = NULL;
	r->base_seq = r->last_seq = pos.seq;
	r->base_term = r->last_term = pos.term;
	if (b != NULL)
		rl_repl_batch(r, c->store);
	rl_store_capture(c->store, 1);
	if ((rv = rl_link_client_open(&r->sock)) != RL_OK) {
		rl_repl_close(r);
		return rv;
	}
	nng_socket_set_int(r->sock, NNG_OPT_SENDBUF, REPL_SENDBUF);
	nng_pipe_notify(r->sock, NNG_PIPE_EV_REM_POST, repl_pipe_cb, r);
	nng_pipe_notify(r->sock, NNG_PIPE_EV_ADD_POST, repl_pipe_cb, r);
	if ((rv = rl_loop_add_socket(loop, r->sock, tag_sock)) != RL_OK ||
	    (rv = rl_link_listen(r->sock, c->listen, c->tls)) != RL_OK) {
		rl_repl_close(r);
		return rv;
	}
	rl_log(RL_LOG_NOTICE, "replication listening url=%s from=%llu", c->listen, (unsigned long long)pos.seq);
	*out = r;
	return RL_OK;
}

void rl_repl_close(struct rl_repl *r)
{
	if (r == NULL)
		return;
	if (r->sock.id != 0)
		nng_close(r->sock);
	if (r->snap_running) /* its event may still be in the loop: the loop's owner frees it */
		pthread_join(r->snap_thread, NULL);
	if (r->snap_fd >= 0) {
		close(r->snap_fd);
		unlink(r->snap_path);
	}
	for (size_t i = r->head; i < r->nlog; i++)
		repl_batch_free(&r->log[i]);
	free(r->log);
	free(r->peers);
	free(r->snap_path);
	free(r);
}

const char *rl_repl_synced(const struct rl_repl *r)
{
	if (r->peer < 0 || !r->subscribed || r->acked < r->target)
		return "";
	return r->peers[r->peer].name;
}

const char *rl_repl_standby(const struct rl_repl *r)
{
	return r->peer >= 0 ? r->peers[r->peer].name : "";
}

void rl_repl_event_free(void *job)
{
	struct repl_event *ev = job;

	if (ev->kind == REPL_EV_SNAP)
		close(ev->fd);
	free(ev);
}

uint64_t rl_repl_acked(const struct rl_repl *r)
{
	return r->subscribed ? r->acked : 0;
}

uint64_t rl_repl_last(const struct rl_repl *r)
{
	return r->last_seq;
}
