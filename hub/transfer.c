/*
 * transfer.c - an agent sends its connected call on: to another queue of the same tenant
 * (the caller waits there again, the agent wraps up), or to an external number through the
 * call's site (SIP REFER at the node; the site reports how it went).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "rl_err.h"
#include "rl_log.h"

/* rl_xfer_to: the external number the site is sending a connected contact to, or "" (in the
 * record: a restarted hub still knows what it asked). */
static const char *rl_xfer_to(const struct rl_contact *c)
{
	return c->rec->transfer_to ? c->rec->transfer_to : "";
}

/* rl_number_ok: an external number is digits, with an optional leading '+', 3..32 long. */
static int rl_number_ok(const char *n)
{
	size_t len = strlen(n), i = n[0] == '+';

	if (len - i < 3 || len > 32)
		return 0;
	for (; i < len; i++)
		if (n[i] < '0' || n[i] > '9')
			return 0;
	return 1;
}

/* rl_transfer_queue: the agent's call goes to queue qi. The agent starts wrap-up as after a
 * hangup; the caller (still on the line at the site, hearing the hold music again) waits in
 * the new queue from now, with the screen-pop saying where it comes from. */
static void rl_transfer_queue(struct rl_engine *e, struct rl_agent *a, struct rl_contact *c, int qi, const char *note)
{
	struct rl_queue *from = &e->queues[c->queue], *to = &e->queues[qi];
	uint64_t talk_ms =
	    c->rec->answered_us && e->now > c->rec->answered_us ? (e->now - c->rec->answered_us) / 1000u : 0;

	rl_agent_start_wrapup(e, a, c);
	if (c->plan != NULL)
		rl_call_finish(e, c);
	rl_event(e, RELAIS__EVENT_TYPE__EV_CONTACT_TRANSFERRED, c, a, talk_ms, to->id);
	rl_pop_set(c->rec, "transferred_from", from->id);
	rl_pop_set(c->rec, "transferred_by", a->id);
	if (note != NULL && note[0])
		rl_pop_set(c->rec, "transfer_note", note);
	a->contact = NULL;
	c->agent = NULL;
	c->last_reject[0] = '\0';
	c->queue = qi;
	rl_wire_set_str(&c->rec->queue_id, to->id);
	rl_wire_set_str(&c->rec->agent_id, "");
	if (c->rec->submitted_us == 0)
		c->rec->submitted_us = c->rec->enqueued_us; /* what a re-sent submit is still told */
	c->rec->enqueued_us = e->now;                       /* its wait in the new queue */
	c->rec->offered_us = c->rec->answered_us = 0;
	c->rec->transfers++;
	rl_contact_to(e, c, RL_C_TRANSFERRED, 0);
	rl_log(RL_LOG_INFO, "contact transferred contact=%s agent=%s from=%s to=%s", c->id, a->id, from->id, to->id);
}

/* rl_transfer_number asks the call's site to send the caller to number (the agent stays on
 * the call meanwhile). */
static void rl_transfer_number(struct rl_engine *e, const struct rl_req *r, struct rl_contact *c, const char *number,
                               const char *note)
{
	if (!rl_number_ok(number)) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "number: digits, optional leading +", 0);
		return;
	}
	if (c->site < 0 || e->sites[c->site].pipe == 0) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "the call's site is not reachable", 0);
		return;
	}
	rl_wire_set_str(&c->rec->transfer_to, number);
	if (note && note[0])
		rl_pop_set(c->rec, "transfer_note", note);
	rl_dirty_contact(e, c);
	rl_push_update(e, c);
	rl_log(RL_LOG_INFO, "external transfer asked contact=%s agent=%s number=%s", c->id, r->agent->id, number);
	rl_reply_ok(e, r);
}

void rl_h_transfer(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__ContactTransfer *t = env->contact_transfer;
	struct rl_agent *a = r->agent;
	struct rl_contact *c = a->contact;
	const char *queue = t->queue_id ? t->queue_id : "", *number = t->number ? t->number : "";
	int qi;

	if (a->rec->state != RELAIS__AGENT_STATE__AGENT_BUSY || c == NULL || t->contact_id == NULL ||
	    strcmp(c->id, t->contact_id) != 0) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "no such contact connected", 0);
	} else if ((queue[0] != '\0') == (number[0] != '\0')) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_REQUEST, "transfer to a queue or to a number", 0);
	} else if (rl_xfer_to(c)[0]) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_BAD_STATE, "a transfer is already under way", 0);
	} else if (number[0]) {
		rl_transfer_number(e, r, c, number, t->note);
	} else if ((qi = rl_queue_idx(e, queue)) < 0 || e->queues[qi].tenant != e->queues[c->queue].tenant) {
		/* Another tenant's queue is as good as unknown: data stays apart. */
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_UNKNOWN_QUEUE, "no such queue for this tenant", 0);
	} else {
		rl_transfer_queue(e, a, c, qi, t->note);
		rl_push_status(e, a, r);
	}
}

/* rl_transfer_failed: the carrier refused; the caller is still with the agent, who is told. */
static void rl_transfer_failed(struct rl_engine *e, struct rl_contact *c, const Relais__TransferResult *tr)
{
	char msg[RL_WIRE_MAX_TEXT + 1];

	snprintf(msg, sizeof(msg), "transfer to %s failed: %u %s", rl_xfer_to(c), tr->status,
	         tr->reason ? tr->reason : "");
	rl_wire_set_str(&c->rec->transfer_to, "");
	rl_dirty_contact(e, c);
	rl_push_error(e, c->agent, RELAIS__ERROR_CODE__ERR_BAD_STATE, msg);
	rl_push_update(e, c);
}

/* A site's answer to an external transfer. */
void rl_h_transfer_result(struct rl_engine *e, struct rl_req *r, const rl_env *env)
{
	const Relais__TransferResult *tr = env->transfer_result;
	struct rl_contact *c = rl_contact_find(e, tr->contact_id);
	struct rl_agent *a;

	if (c != NULL && c->site != r->peer->site) {
		rl_reply_error(e, r, RELAIS__ERROR_CODE__ERR_FORBIDDEN, "contact belongs to another site", 0);
		return;
	}
	if (c == NULL || !rl_xfer_to(c)[0] || (a = c->agent) == NULL ||
	    c->rec->state != RELAIS__CONTACT_STATE__CONTACT_CONNECTED) {
		rl_reply_ok(e, r); /* already over (a re-send, or the call ended first) */
		return;
	}
	rl_log(RL_LOG_INFO, "external transfer %s contact=%s agent=%s number=%s status=%u reason=\"%s\"",
	       tr->ok ? "done" : "failed", c->id, a->id, rl_xfer_to(c), tr->status, tr->reason ? tr->reason : "");
	if (tr->ok) {
		rl_pop_set(c->rec, "transferred_to", rl_xfer_to(c));
		rl_wire_set_str(&c->rec->transfer_to, "");
		rl_agent_start_wrapup(e, a, c);
		rl_contact_end(e, c, RELAIS__CONTACT_OUTCOME__OUTCOME_TRANSFERRED, NULL);
		rl_push_status(e, a, NULL);
	} else {
		rl_transfer_failed(e, c, tr);
	}
	rl_reply_ok(e, r);
}
