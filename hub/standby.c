/*
 * standby.c - a hub that stands by (standby.h, docs/ha.md).
 */
#include "standby.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rl_alloc.h"
#include "rl_client.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_loop.h"
#include "rl_time.h"
#include "store.h"

#define SB_BATCH        64 /* loop events taken at once: their batches share one commit */
#define SB_MAX_PARTS    4096
#define SB_HEARTBEAT    500 /* ms: the leader hears its standby at least this often */
#define SB_ACK_AGAIN_MS 250 /* the last acknowledgement is sent again this often while nothing new */
#define SB_COPY_SUFFIX  "/standby-copy.mdb"

struct sb {
	const struct rl_standby_conf *c;
	struct rl_store *store;
	struct rl_client *link; /* to the leader's replication address */
	char leader[RL_HA_ADDR_MAX], repl[RL_HA_ADDR_MAX];
	int64_t leader_term;
	/* The batch being received, part by part. */
	rl_env *parts[SB_MAX_PARTS];
	unsigned nparts;
	uint64_t applied; /* the last batch applied in the open transaction (0: none open) */
	int copy_fd;      /* a store copy being received */
	char copy_path[RL_HA_ADDR_MAX + 1100];
	int want_sub;                      /* subscribe once the open transaction is committed */
	uint64_t sync_id;                  /* the leader's sync id in our store, as told to the candidate */
	int link_up;                       /* the link to the leader was up at the last tick */
	uint64_t acked_seq, acked_sent_us; /* the last acknowledgement sent, and when */
};

/* sb_redirect answers a client of the control socket: this hub does not lead. */
static void sb_redirect(struct sb *s, nng_msg *msg)
{
	Relais__Error er;
	rl_env *in = NULL, out;
	uint32_t pipe;

	if (rl_link_recv_env(msg, &in, &pipe) == RL_OK) {
		rl_wire_error(&out, &er, RELAIS__ERROR_CODE__ERR_NOT_LEADER, "this hub stands by: ask the leader",
		              s->leader[0] ? 0 : 1000);
		out.req_id = in->req_id;
		er.leader = s->leader;
		(void)s->c->send(s->c->send_arg, pipe, &out);
	}
	rl_wire_free(in);
	nng_msg_free(msg);
}

static void sb_drop_parts(struct sb *s)
{
	for (unsigned i = 0; i < s->nparts; i++)
		rl_wire_free(s->parts[i]);
	s->nparts = 0;
}

/* sb_subscribe asks the leader for what follows our store's last batch (on each new link,
 * after a broken stream, after a copy): done by sb_commit, once the open transaction's
 * batches count in that last batch. */
static void sb_subscribe(void *arg)
{
	struct sb *s = arg;

	s->want_sub = 1;
}

static void sb_send_subscribe(struct sb *s)
{
	Relais__ReplSubscribe sub = RELAIS__REPL_SUBSCRIBE__INIT;
	struct rl_store_pos pos;
	rl_env env;

	s->want_sub = 0;
	rl_store_pos(s->store, &pos);
	sub.seq = pos.seq;
	sub.term = pos.term;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_REPL_SUBSCRIBE;
	env.repl_subscribe = &sub;
	sb_drop_parts(s);
	if (rl_client_request(s->link, &env, NULL, NULL) != RL_OK)
		s->want_sub = 1; /* the next turn tries again */
}

/* sb_connect dials the leader's replication address (again, when it changed). */
static void sb_connect(struct sb *s)
{
	struct rl_client_opts o = {.url = s->repl,
	                           .tls = s->c->tls,
	                           .role = RELAIS__ROLE__ROLE_HUB,
	                           .name = "relais-hub standby",
	                           .principal = s->c->name,
	                           .key = s->c->key,
	                           .hb_ms = SB_HEARTBEAT,
	                           .on_ready = sb_subscribe,
	                           .ready_arg = s};

	rl_client_close(s->link);
	s->link = NULL;
	s->want_sub = 0;
	sb_drop_parts(s);
	if (!s->repl[0])
		return;
	if (rl_client_open(&s->link, &o, s->c->loop, s->c->tag_repl) != RL_OK) {
		rl_log(RL_LOG_ERR, "standby cannot dial the leader's replication url=%s", s->repl);
		s->link = NULL;
	}
}

/* sb_local tells the candidate which sync id our store holds: what lets it campaign. */
static void sb_local(struct sb *s)
{
	uint64_t id = rl_store_meta(s->store, RL_HA_SYNC_META);

	if (id != s->sync_id) {
		s->sync_id = id;
		rl_ha_set_local(s->c->ha, id);
	}
}

/* sb_commit makes the batches applied so far durable and tells the leader. */
static int sb_commit(struct sb *s)
{
	Relais__ReplAck ack = RELAIS__REPL_ACK__INIT;
	struct rl_store_pos pos;
	rl_env env;
	int rv;

	if (s->applied) {
		if ((rv = rl_store_commit(s->store)) != RL_OK) {
			rl_log(RL_LOG_ERR, "standby commit failed err=\"%s\": stopping", rl_strerror(rv));
			return rv;
		}
		s->applied = 0;
		sb_local(s);
	}
	if (s->link == NULL)
		return RL_OK;
	if (s->want_sub)
		sb_send_subscribe(s);
	rl_store_pos(s->store, &pos);
	/* Each new batch at once; the same one again now and then, in case it was lost. */
	if (pos.seq == 0 || (pos.seq == s->acked_seq && rl_mono_us() - s->acked_sent_us < SB_ACK_AGAIN_MS * 1000u))
		return RL_OK;
	ack.seq = pos.seq;
	ack.term = pos.term;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_REPL_ACK;
	env.repl_ack = &ack;
	(void)rl_client_send(s->link, &env);
	s->acked_seq = pos.seq;
	s->acked_sent_us = rl_mono_us();
	return RL_OK;
}

/* sb_apply applies the batch whose parts are all here. */
static int sb_apply(struct sb *s)
{
	const Relais__ReplBatch *b = s->parts[0]->repl_batch;
	Relais__StoreOp **ops;
	size_t n = 0, k = 0;
	int rv;

	for (unsigned i = 0; i < s->nparts; i++)
		n += s->parts[i]->repl_batch->n_ops;
	ops = rl_calloc(n ? n : 1, sizeof(*ops));
	for (unsigned i = 0; i < s->nparts; i++)
		for (size_t j = 0; j < s->parts[i]->repl_batch->n_ops; j++)
			ops[k++] = s->parts[i]->repl_batch->ops[j];
	if (!s->applied && (rv = rl_store_begin(s->store)) != RL_OK) {
		free(ops);
		return rv;
	}
	rv = rl_store_apply(s->store, b->seq, b->term, ops, n);
	free(ops);
	if (rv == RL_OK)
		s->applied = b->seq;
	return rv;
}

/* sb_batch takes one part; applies the batch at its last part. A part that does not follow
 * (lost frames, a leader that moved on) ends the stream: subscribe again from the store. */
static int sb_batch(struct sb *s, rl_env *env)
{
	const Relais__ReplBatch *b = env->repl_batch;
	struct rl_store_pos pos;
	uint64_t expect;
	int rv;

	rl_store_pos(s->store, &pos);
	expect = s->applied ? s->applied + 1 : pos.seq + 1;
	if (b->seq < expect) { /* a repeat after a re-subscribe */
		rl_wire_free(env);
		return RL_OK;
	}
	if (b->seq == expect && b->part == 0)
		sb_drop_parts(s); /* the batch sent again from its start (we subscribed again) */
	if (b->seq != expect || b->part != s->nparts || b->term != s->leader_term || s->nparts == SB_MAX_PARTS) {
		rl_log(RL_LOG_WARNING,
		       "standby stream broken seq=%llu part=%u term=%lld expected=%llu leader_term=%lld",
		       (unsigned long long)b->seq, b->part, (long long)b->term, (unsigned long long)expect,
		       (long long)s->leader_term);
		rl_wire_free(env);
		sb_drop_parts(s);
		sb_subscribe(s);
		return RL_OK;
	}
	s->parts[s->nparts++] = env;
	if (!b->last)
		return RL_OK;
	rv = sb_apply(s);
	sb_drop_parts(s);
	if (rv != RL_OK)
		rl_log(RL_LOG_ERR, "standby cannot apply batch seq=%llu err=\"%s\"", (unsigned long long)expect,
		       rl_strerror(rv));
	return rv;
}

/* sb_copy writes one chunk of the leader's store copy; at the last, installs it. */
static int sb_copy(struct sb *s, const Relais__ReplSnapshot *sn)
{
	int rv;

	if (sn->offset == 0) {
		if (s->copy_fd >= 0)
			close(s->copy_fd);
		s->copy_fd = open(s->copy_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
	if (s->copy_fd < 0 ||
	    pwrite(s->copy_fd, sn->data.data, sn->data.len, (off_t)sn->offset) != (ssize_t)sn->data.len)
		return RL_EIO;
	if (!sn->last)
		return RL_OK;
	close(s->copy_fd);
	s->copy_fd = -1;
	if ((rv = sb_commit(s)) != RL_OK)
		return rv;
	rl_store_close(s->store);
	s->store = NULL;
	if ((rv = rl_store_install(s->c->data_dir, s->copy_path)) != RL_OK ||
	    (rv = rl_store_open(&s->store, s->c->data_dir, s->c->map_mb)) != RL_OK)
		return rv;
	rl_log(RL_LOG_NOTICE, "standby installed the leader's store copy bytes=%llu", (unsigned long long)sn->size);
	sb_local(s);
	sb_subscribe(s);
	return RL_OK;
}

/* sb_link handles a frame from the leader. */
static int sb_link(struct sb *s, nng_msg *msg)
{
	rl_env *env = NULL;
	void *cookie;
	int is_reply, rv;

	if (s->link == NULL) {
		nng_msg_free(msg);
		return RL_OK;
	}
	if (rl_client_input(s->link, msg, &env, &cookie, &is_reply) != RL_OK || env == NULL)
		return RL_OK;
	if (env->body_case == RELAIS__ENVELOPE__BODY_REPL_BATCH)
		return sb_batch(s, env); /* takes env */
	rv = RL_OK;
	if (env->body_case == RELAIS__ENVELOPE__BODY_REPL_SNAPSHOT)
		rv = sb_copy(s, env->repl_snapshot);
	else if (env->body_case == RELAIS__ENVELOPE__BODY_ERROR &&
	         env->error->code == RELAIS__ERROR_CODE__ERR_BAD_STATE)
		sb_subscribe(s); /* it stopped sending us batches: ask again from our last */
	else if (env->body_case == RELAIS__ENVELOPE__BODY_ERROR)
		rl_log(RL_LOG_WARNING, "leader refused the standby err=\"%s\"",
		       env->error->message ? env->error->message : "");
	rl_wire_free(env);
	return rv;
}

/* sb_ha takes an election event; 1 when this hub now leads. */
static int sb_ha(struct sb *s, struct rl_ha_event *ev, struct rl_ha_event *won)
{
	int promoted = ev->kind == RL_HA_LEADER;

	if (promoted)
		*won = *ev;
	if (ev->kind == RL_HA_FOLLOWER) {
		snprintf(s->leader, sizeof(s->leader), "%s", ev->address);
		s->leader_term = ev->term.revision;
		if (strcmp(s->repl, ev->repl) != 0 || s->link == NULL) {
			snprintf(s->repl, sizeof(s->repl), "%s", ev->repl);
			sb_connect(s); /* a new leader: follow it from our store's last batch */
		} else {
			sb_subscribe(s); /* same address, new term: it starts over from our batch */
		}
	}
	free(ev);
	return promoted;
}

/* sb_events handles one batch of loop events; returns 0 to go on, else how it ended. */
static int sb_events(struct sb *s, struct rl_loop_event *evs, int n, struct rl_ha_event *won)
{
	int end = 0;

	for (int i = 0; i < n; i++) {
		struct rl_loop_event *ev = &evs[i];
		if (ev->kind == RL_LOOP_MSG && ev->src == s->c->tag_ctl)
			sb_redirect(s, ev->msg);
		else if (ev->kind == RL_LOOP_MSG && ev->src == s->c->tag_repl)
			end = sb_link(s, ev->msg) != RL_OK ? RL_STANDBY_FAILED : end;
		else if (ev->kind == RL_LOOP_MSG)
			nng_msg_free(ev->msg);
		else if (ev->src == s->c->tag_ha && sb_ha(s, ev->ptr, won) && !end)
			end = RL_STANDBY_PROMOTED;
		else if (ev->src == s->c->tag_stop)
			end = RL_STANDBY_STOPPED;
	}
	return end;
}

int rl_standby_run(const struct rl_standby_conf *c, struct rl_ha_event *won)
{
	struct rl_loop_event evs[SB_BATCH];
	struct sb s = {.c = c, .copy_fd = -1};
	uint64_t last_tick = 0;
	int end = 0, rv;

	snprintf(s.copy_path, sizeof(s.copy_path), "%s%s", c->data_dir, SB_COPY_SUFFIX);
	if ((rv = rl_store_open(&s.store, c->data_dir, c->map_mb)) != RL_OK)
		return RL_STANDBY_FAILED;
	s.sync_id = UINT64_MAX;
	sb_local(&s);
	rl_log(RL_LOG_NOTICE, "hub stands by name=%s", c->name);
	while (!end) {
		int n = rl_loop_wait(c->loop, 100, evs, SB_BATCH);
		if (n < 0)
			end = RL_STANDBY_STOPPED;
		else if (n > 0)
			end = sb_events(&s, evs, n, won);
		if (s.store == NULL || sb_commit(&s) != RL_OK)
			end = RL_STANDBY_FAILED;
		uint64_t now = rl_mono_us();
		if (s.link != NULL && now - last_tick >= 100000u) {
			last_tick = now;
			rl_client_tick(s.link);
			if (s.link_up && !rl_client_up(s.link))
				rl_ha_leader_gone(c->ha); /* its link closed: it may be dead; watch etcd closely */
			s.link_up = rl_client_up(s.link);
		}
	}
	sb_drop_parts(&s);
	if (end == RL_STANDBY_PROMOTED)
		rl_client_close_nowait(s.link); /* its leader is likely dead: not a moment to wait */
	else
		rl_client_close(s.link);
	if (s.copy_fd >= 0)
		close(s.copy_fd);
	rl_store_close(s.store);
	return end;
}
