/*
 * seats.c - the seated agents' heartbeats. An agent heartbeats its node; the node answers it
 * with the view of its state it last passed down (what the hub or the site's own engine
 * said), and tells whoever decides, once per RL_SEATS_MS for all of them, which agents it
 * still hears (SeatsAlive in the schema). 100,000 agents behind their nodes are then a few
 * frames a second at the hub, not 50,000.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rl_alloc.h"
#include "rl_time.h"

#define RL_SEATS_MS 1000 /* the hub takes an agent as lost after RL_LINK_DEAD_MS unheard */

void rl_seat_heard(struct rl_lpeer *p)
{
	p->seat.heard_us = rl_mono_us();
}

/* rl_seat_heartbeat answers a seated agent's heartbeat: with its view, or, for a session the
 * node does not know on this link, with ERR_NOT_LOGGED_IN (the agent resumes). */
void rl_seat_heartbeat(struct rl_node *n, struct rl_lpeer *p, const rl_env *env)
{
	Relais__Heartbeat hb = RELAIS__HEARTBEAT__INIT;
	Relais__Error er = RELAIS__ERROR__INIT;
	rl_env out;

	rl_env_init(&out);
	out.session = env->session;
	if (p->seat.session == 0 || p->seat.session != env->session) {
		er.code = RELAIS__ERROR_CODE__ERR_NOT_LOGGED_IN;
		er.message = "session not bound to this link: resume";
		out.body_case = RELAIS__ENVELOPE__BODY_ERROR;
		out.error = &er;
	} else {
		hb.sent_us = rl_wall_us();
		hb.echo_us = env->heartbeat->sent_us;
		hb.agent_state = p->seat.state;
		hb.contact_id = p->seat.contact;
		out.body_case = RELAIS__ENVELOPE__BODY_HEARTBEAT;
		out.heartbeat = &hb;
	}
	rl_node_send(n, p->pipe, &out);
}

/* rl_seats_send sends a SeatsAlive to whoever decides. */
static void rl_seats_send(void *arg, rl_env *env)
{
	struct rl_node *n = arg;

	if (n->alone.local != NULL)
		rl_local_input(n->alone.local, 0, env, NULL);
	else
		(void)rl_client_send(n->hub, env); /* link down: the hub hears them on the next beat */
}

void rl_seats_tick(struct rl_node *n, uint64_t now)
{
	Relais__Seat *s, **v;
	size_t k = 0;

	if (now - n->seats_sent_us < RL_SEATS_MS * 1000u || (n->alone.local == NULL && !rl_client_up(n->hub)))
		return;
	n->seats_sent_us = now;
	s = rl_calloc(n->peers.len + 1, sizeof(*s));
	v = rl_calloc(n->peers.len + 1, sizeof(*v));
	for (size_t i = 0; i < n->peers.cap; i++) {
		struct rl_lpeer *p = n->peers.ents ? n->peers.ents[i].val : NULL;
		if (p == NULL || p->role != RELAIS__ROLE__ROLE_AGENT || p->seat.session == 0 ||
		    now - p->seat.heard_us > (uint64_t)RL_LINK_DEAD_MS * 1000u)
			continue;
		relais__seat__init(&s[k]);
		s[k].chan = p->pipe;
		s[k].session = p->seat.session;
		s[k].state = p->seat.state;
		s[k].contact_id = p->seat.contact;
		v[k] = &s[k];
		k++;
	}
	rl_wire_seats_alive(v, k, rl_seats_send, n);
	free(s);
	free(v);
}
