#include "call_phase.h"

#include <stddef.h>

int rl_sc_waiting(enum rl_sc_phase p)
{
	return p == RL_SC_RINGING || p == RL_SC_EARLY || p == RL_SC_HOLD;
}

int rl_sc_hears_us(enum rl_sc_phase p)
{
	return p == RL_SC_EARLY || p == RL_SC_HOLD;
}

const char *rl_sc_phase_name(enum rl_sc_phase p)
{
	static const char *const names[RL_SC_PHASES] = {
	    [RL_SC_OFFERED] = "offered",
	    [RL_SC_IVR] = "ivr",
	    [RL_SC_RINGING] = "ringing",
	    [RL_SC_EARLY] = "early",
	    [RL_SC_HOLD] = "hold",
	    [RL_SC_CONNECTED] = "connected",
	    [RL_SC_TRANSFERRING] = "transferring",
	    [RL_SC_TRANSFERRED] = "transferred",
	    [RL_SC_RELEASED] = "released",
	    [RL_SC_GONE] = "gone",
	};

	return (unsigned)p < RL_SC_PHASES ? names[p] : "?";
}

static int rl_sc_set(struct rl_sc_move *m, enum rl_sc_phase to, unsigned todo)
{
	m->to = to;
	m->todo = todo;
	return 1;
}

/* The caller left: what plays stops, and the hub hears of it if the contact is still its
 * (not once we released the call: the contact is over, or never was). */
static int rl_sc_left(enum rl_sc_phase from, const struct rl_sc_facts *f, struct rl_sc_move *m)
{
	int contact = from != RL_SC_OFFERED && from != RL_SC_IVR && from != RL_SC_RELEASED;

	return rl_sc_set(m, RL_SC_GONE, RL_SC_DO_STOP | (contact && f->contact_known ? RL_SC_DO_CANCEL : 0));
}

/* Events of a call that is answered at once or queued from its INVITE. */
static int rl_sc_next_new(enum rl_sc_phase from, enum rl_sc_event ev, const struct rl_sc_facts *f, struct rl_sc_move *m)
{
	if (from == RL_SC_OFFERED && ev == RL_SC_EV_MENU)
		return rl_sc_set(m, RL_SC_IVR, RL_SC_DO_RINGING | RL_SC_DO_ANSWER | RL_SC_DO_MENU);
	if (from == RL_SC_OFFERED && ev == RL_SC_EV_QUEUE)
		return f->early ? rl_sc_set(m, RL_SC_EARLY, RL_SC_DO_PROGRESS | RL_SC_DO_SUBMIT | RL_SC_DO_MUSIC)
		                : rl_sc_set(m, RL_SC_RINGING, RL_SC_DO_RINGING | RL_SC_DO_SUBMIT | RL_SC_DO_SILENCE);
	if (from == RL_SC_OFFERED && ev == RL_SC_EV_NOT_QUEUED)
		return rl_sc_set(m, RL_SC_RELEASED, RL_SC_DO_REJECT);
	if (from == RL_SC_IVR && ev == RL_SC_EV_QUEUE)
		return rl_sc_set(m, RL_SC_HOLD, RL_SC_DO_SUBMIT | RL_SC_DO_MUSIC);
	if (from == RL_SC_IVR && (ev == RL_SC_EV_NOT_QUEUED || ev == RL_SC_EV_MENU_RELEASE))
		return rl_sc_set(m, RL_SC_RELEASED, RL_SC_DO_STOP | RL_SC_DO_HANGUP);
	return 0;
}

/* Events of a call whose contact is at the hub. */
static int rl_sc_next_queued(enum rl_sc_phase from, enum rl_sc_event ev, struct rl_sc_move *m)
{
	int answered = from != RL_SC_RINGING && from != RL_SC_EARLY;

	switch (ev) {
	case RL_SC_EV_AGENT:
		if (!rl_sc_waiting(from))
			return 0; /* a plan re-pushed for a call the agent has, or too late */
		return rl_sc_set(m, RL_SC_CONNECTED,
		                 (answered ? 0 : RL_SC_DO_ANSWER) | RL_SC_DO_STOP | RL_SC_DO_BRIDGE);
	case RL_SC_EV_REFUSED:
		if (!rl_sc_waiting(from))
			return 0;
		return rl_sc_set(m, RL_SC_RELEASED, RL_SC_DO_STOP | (answered ? RL_SC_DO_HANGUP : RL_SC_DO_UNAVAIL));
	case RL_SC_EV_NOT_QUEUED:
		/* The hub was lost before it took the contact: unanswered, a 503 sends the caller
		 * to another site through the SBC. */
		if (!rl_sc_waiting(from))
			return 0;
		return rl_sc_set(m, RL_SC_RELEASED, RL_SC_DO_STOP | (answered ? RL_SC_DO_HANGUP : RL_SC_DO_REJECT));
	case RL_SC_EV_REQUEUED:
		return from == RL_SC_CONNECTED ? rl_sc_set(m, RL_SC_HOLD, RL_SC_DO_MUSIC) : 0;
	case RL_SC_EV_XFER_ASK:
		return from == RL_SC_CONNECTED ? rl_sc_set(m, RL_SC_TRANSFERRING, RL_SC_DO_REFER) : 0;
	case RL_SC_EV_XFER_DONE:
		return from == RL_SC_TRANSFERRING ? rl_sc_set(m, RL_SC_TRANSFERRED, RL_SC_DO_RESULT) : 0;
	case RL_SC_EV_XFER_FAILED:
		return from == RL_SC_TRANSFERRING ? rl_sc_set(m, RL_SC_CONNECTED, RL_SC_DO_RESULT) : 0;
	case RL_SC_EV_ENDED:
		return rl_sc_set(m, RL_SC_RELEASED, RL_SC_DO_STOP | RL_SC_DO_HANGUP);
	default:
		return 0;
	}
}

int rl_sc_next(enum rl_sc_phase from, enum rl_sc_event ev, const struct rl_sc_facts *f, struct rl_sc_move *m)
{
	m->to = from;
	m->todo = 0;
	if (from == RL_SC_GONE) {
		/* Nothing brings the caller back. A contact the hub learns of only now is
		 * abandoned at once; a refusal or an end only closes the contact's side. */
		if (ev == RL_SC_EV_ACKED)
			return rl_sc_set(m, RL_SC_GONE, f->contact_known ? RL_SC_DO_CANCEL : 0);
		return ev == RL_SC_EV_REFUSED || ev == RL_SC_EV_NOT_QUEUED || ev == RL_SC_EV_ENDED
		           ? rl_sc_set(m, RL_SC_GONE, 0)
		           : 0;
	}
	if (ev == RL_SC_EV_LEFT || (ev == RL_SC_EV_DIALOG_ENDED && from != RL_SC_RELEASED))
		return rl_sc_left(from, f, m);
	if (from == RL_SC_OFFERED || from == RL_SC_IVR)
		return rl_sc_next_new(from, ev, f, m);
	if (from == RL_SC_RELEASED)
		return 0; /* the dialog's end (our own hangup) is on its way */
	return rl_sc_next_queued(from, ev, m);
}
