/*
 * The phases of a carrier call (node/call_phase.c): the paths a call takes from its INVITE
 * to its end, and rules that must hold for every phase and event - the caller is answered
 * at most once, ended once, nothing happens to a caller who left, the hub hears of a
 * caller leaving only while it holds the contact.
 */
#include "call_phase.h"
#include "rltest.h"

static const struct rl_sc_facts g_plain = {0}, g_early = {.early = 1}, g_known = {.contact_known = 1};

/* Moves c with ev; checks where it lands and what is done, exactly. */
static int step(enum rl_sc_phase *c, enum rl_sc_event ev, const struct rl_sc_facts *f, enum rl_sc_phase to,
                unsigned todo)
{
	struct rl_sc_move m;
	int applies = rl_sc_next(*c, ev, f, &m);

	if (!applies || m.to != to || m.todo != todo) {
		fprintf(stderr, "from %s event %d: applies=%d to %s todo %#x (want %s %#x)\n", rl_sc_phase_name(*c),
		        (int)ev, applies, rl_sc_phase_name(m.to), m.todo, rl_sc_phase_name(to), todo);
		return 0;
	}
	*c = m.to;
	return 1;
}

/* ev means nothing to a call in phase c. */
static int ignored(enum rl_sc_phase c, enum rl_sc_event ev, const struct rl_sc_facts *f)
{
	struct rl_sc_move m;

	return rl_sc_next(c, ev, f, &m) == 0 && m.to == c && m.todo == 0;
}

/* A DID with a menu: answered at once, queued by the caller's choice, taken by an agent, sent
 * to another queue, taken again, ended by the agent; the carrier's BYE crosses ours. */
static void menu_call(void)
{
	enum rl_sc_phase c = RL_SC_OFFERED;

	RL_CHECK(step(&c, RL_SC_EV_MENU, &g_plain, RL_SC_IVR, RL_SC_DO_RINGING | RL_SC_DO_ANSWER | RL_SC_DO_MENU));
	RL_CHECK(ignored(c, RL_SC_EV_AGENT, &g_plain));
	RL_CHECK(step(&c, RL_SC_EV_QUEUE, &g_early, RL_SC_HOLD, RL_SC_DO_SUBMIT | RL_SC_DO_MUSIC));
	RL_CHECK(ignored(c, RL_SC_EV_ACKED, &g_known));
	RL_CHECK(step(&c, RL_SC_EV_AGENT, &g_known, RL_SC_CONNECTED, RL_SC_DO_STOP | RL_SC_DO_BRIDGE));
	RL_CHECK(ignored(c, RL_SC_EV_AGENT, &g_known)); /* a re-pushed plan */
	RL_CHECK(step(&c, RL_SC_EV_REQUEUED, &g_known, RL_SC_HOLD, RL_SC_DO_MUSIC));
	RL_CHECK(ignored(c, RL_SC_EV_REQUEUED, &g_known));
	RL_CHECK(step(&c, RL_SC_EV_AGENT, &g_known, RL_SC_CONNECTED, RL_SC_DO_STOP | RL_SC_DO_BRIDGE));
	RL_CHECK(step(&c, RL_SC_EV_ENDED, &g_known, RL_SC_RELEASED, RL_SC_DO_STOP | RL_SC_DO_HANGUP));
	RL_CHECK(step(&c, RL_SC_EV_LEFT, &g_known, RL_SC_GONE, RL_SC_DO_STOP)); /* no cancel: it ended */
	RL_CHECK(ignored(c, RL_SC_EV_DIALOG_ENDED, &g_known));
}

/* Without a menu: ringback until an agent answers, or our music in early media. */
static void queued_calls(void)
{
	enum rl_sc_phase c = RL_SC_OFFERED;

	RL_CHECK(
	    step(&c, RL_SC_EV_QUEUE, &g_plain, RL_SC_RINGING, RL_SC_DO_RINGING | RL_SC_DO_SUBMIT | RL_SC_DO_SILENCE));
	RL_CHECK(rl_sc_waiting(c) && !rl_sc_hears_us(c));
	RL_CHECK(
	    step(&c, RL_SC_EV_AGENT, &g_known, RL_SC_CONNECTED, RL_SC_DO_ANSWER | RL_SC_DO_STOP | RL_SC_DO_BRIDGE));
	RL_CHECK(step(&c, RL_SC_EV_DIALOG_ENDED, &g_known, RL_SC_GONE, RL_SC_DO_STOP | RL_SC_DO_CANCEL));
	RL_CHECK(step(&c, RL_SC_EV_ENDED, &g_known, RL_SC_GONE, 0));

	c = RL_SC_OFFERED;
	RL_CHECK(step(&c, RL_SC_EV_QUEUE, &g_early, RL_SC_EARLY, RL_SC_DO_PROGRESS | RL_SC_DO_SUBMIT | RL_SC_DO_MUSIC));
	RL_CHECK(rl_sc_waiting(c) && rl_sc_hears_us(c));
	RL_CHECK(
	    step(&c, RL_SC_EV_AGENT, &g_known, RL_SC_CONNECTED, RL_SC_DO_ANSWER | RL_SC_DO_STOP | RL_SC_DO_BRIDGE));

	/* The site cannot queue it: before an answer a 503 (an SBC tries another site), after
	 * the menu's answer a hangup. */
	c = RL_SC_OFFERED;
	RL_CHECK(step(&c, RL_SC_EV_NOT_QUEUED, &g_plain, RL_SC_RELEASED, RL_SC_DO_REJECT));
	c = RL_SC_IVR;
	RL_CHECK(step(&c, RL_SC_EV_NOT_QUEUED, &g_plain, RL_SC_RELEASED, RL_SC_DO_STOP | RL_SC_DO_HANGUP));
	c = RL_SC_IVR;
	RL_CHECK(step(&c, RL_SC_EV_MENU_RELEASE, &g_plain, RL_SC_RELEASED, RL_SC_DO_STOP | RL_SC_DO_HANGUP));
	RL_CHECK(ignored(c, RL_SC_EV_DIALOG_ENDED, &g_plain)); /* our own hangup's end */
}

/* The hub refuses the contact: 480 to a caller not answered yet, BYE to one who is. */
static void refused(void)
{
	enum rl_sc_phase c;

	c = RL_SC_RINGING;
	RL_CHECK(step(&c, RL_SC_EV_REFUSED, &g_plain, RL_SC_RELEASED, RL_SC_DO_STOP | RL_SC_DO_UNAVAIL));
	c = RL_SC_EARLY;
	RL_CHECK(step(&c, RL_SC_EV_REFUSED, &g_plain, RL_SC_RELEASED, RL_SC_DO_STOP | RL_SC_DO_UNAVAIL));
	c = RL_SC_HOLD;
	RL_CHECK(step(&c, RL_SC_EV_REFUSED, &g_plain, RL_SC_RELEASED, RL_SC_DO_STOP | RL_SC_DO_HANGUP));
	c = RL_SC_GONE;
	RL_CHECK(step(&c, RL_SC_EV_REFUSED, &g_plain, RL_SC_GONE, 0));
	/* Never queued: the node lost the hub first and cannot serve alone. Unanswered, a 503
	 * (the SBC tries another site); answered (after the menu), a hangup. */
	c = RL_SC_RINGING;
	RL_CHECK(step(&c, RL_SC_EV_NOT_QUEUED, &g_plain, RL_SC_RELEASED, RL_SC_DO_STOP | RL_SC_DO_REJECT));
	c = RL_SC_EARLY;
	RL_CHECK(step(&c, RL_SC_EV_NOT_QUEUED, &g_plain, RL_SC_RELEASED, RL_SC_DO_STOP | RL_SC_DO_REJECT));
	c = RL_SC_HOLD;
	RL_CHECK(step(&c, RL_SC_EV_NOT_QUEUED, &g_plain, RL_SC_RELEASED, RL_SC_DO_STOP | RL_SC_DO_HANGUP));
	c = RL_SC_GONE;
	RL_CHECK(step(&c, RL_SC_EV_NOT_QUEUED, &g_plain, RL_SC_GONE, 0));
}

/* The caller leaves while queued: the hub hears it at once if it knows the contact, else
 * when it acknowledges it. */
static void abandoned(void)
{
	enum rl_sc_phase c = RL_SC_RINGING;

	RL_CHECK(step(&c, RL_SC_EV_LEFT, &g_plain, RL_SC_GONE, RL_SC_DO_STOP));
	RL_CHECK(step(&c, RL_SC_EV_ACKED, &g_known, RL_SC_GONE, RL_SC_DO_CANCEL));
	c = RL_SC_HOLD;
	RL_CHECK(step(&c, RL_SC_EV_LEFT, &g_known, RL_SC_GONE, RL_SC_DO_STOP | RL_SC_DO_CANCEL));
	RL_CHECK(ignored(c, RL_SC_EV_LEFT, &g_known)); /* BYE, then the dialog's end: once */
	RL_CHECK(ignored(c, RL_SC_EV_DIALOG_ENDED, &g_known));
	c = RL_SC_IVR;
	RL_CHECK(step(&c, RL_SC_EV_LEFT, &g_plain, RL_SC_GONE, RL_SC_DO_STOP)); /* no contact yet */
}

/* An external transfer: refused by the carrier (the agent keeps the caller), asked again,
 * done; the carrier then hangs up. */
static void external_transfer(void)
{
	enum rl_sc_phase c = RL_SC_CONNECTED;

	RL_CHECK(step(&c, RL_SC_EV_XFER_ASK, &g_known, RL_SC_TRANSFERRING, RL_SC_DO_REFER));
	RL_CHECK(ignored(c, RL_SC_EV_XFER_ASK, &g_known)); /* one REFER at a time */
	RL_CHECK(ignored(c, RL_SC_EV_AGENT, &g_known));
	RL_CHECK(step(&c, RL_SC_EV_XFER_FAILED, &g_known, RL_SC_CONNECTED, RL_SC_DO_RESULT));
	RL_CHECK(ignored(c, RL_SC_EV_XFER_DONE, &g_known)); /* no transfer under way */
	RL_CHECK(step(&c, RL_SC_EV_XFER_ASK, &g_known, RL_SC_TRANSFERRING, RL_SC_DO_REFER));
	RL_CHECK(step(&c, RL_SC_EV_XFER_DONE, &g_known, RL_SC_TRANSFERRED, RL_SC_DO_RESULT));
	RL_CHECK(ignored(c, RL_SC_EV_XFER_ASK, &g_known));
	RL_CHECK(ignored(c, RL_SC_EV_XFER_FAILED, &g_known));
	RL_CHECK(step(&c, RL_SC_EV_LEFT, &g_known, RL_SC_GONE, RL_SC_DO_STOP | RL_SC_DO_CANCEL));
	c = RL_SC_TRANSFERRING;
	RL_CHECK(step(&c, RL_SC_EV_ENDED, &g_known, RL_SC_RELEASED, RL_SC_DO_STOP | RL_SC_DO_HANGUP));
}

/* The rules one move breaks (0: none). */
static int broken(enum rl_sc_phase p, const struct rl_sc_facts *f, int applies, const struct rl_sc_move *m)
{
	const unsigned sip_end = RL_SC_DO_HANGUP | RL_SC_DO_REJECT | RL_SC_DO_UNAVAIL;
	const unsigned sip_any = RL_SC_DO_PROGRESS | RL_SC_DO_RINGING | RL_SC_DO_ANSWER | RL_SC_DO_REFER | sip_end;
	const unsigned ends = m->todo & sip_end;
	int answered = p == RL_SC_IVR || p == RL_SC_HOLD || p == RL_SC_CONNECTED || p == RL_SC_TRANSFERRING ||
	               p == RL_SC_TRANSFERRED;
	int bad = 0;

	bad += !applies && (m->to != p || m->todo != 0);
	bad += applies && m->to == RL_SC_OFFERED;       /* nothing goes back */
	bad += answered && (m->todo & RL_SC_DO_ANSWER); /* one 200 */
	bad += (ends & (ends - 1)) != 0;                /* one way to end the dialog */
	bad += ends && m->to != RL_SC_RELEASED;         /* and it is a release */
	bad += m->to == RL_SC_RELEASED && p != RL_SC_RELEASED && !ends;
	/* Towards a caller who left, or a call we ended, nothing more goes out. */
	bad += (p == RL_SC_GONE || p == RL_SC_RELEASED) && (m->todo & ~(unsigned)(RL_SC_DO_STOP | RL_SC_DO_CANCEL));
	bad += p == RL_SC_GONE && (m->to != RL_SC_GONE || (m->todo & sip_any));
	bad += m->to == RL_SC_GONE && p != RL_SC_GONE && !(m->todo & RL_SC_DO_STOP);
	bad += (m->todo & RL_SC_DO_CANCEL) && !f->contact_known;
	/* Waiting plays music or silence on the way in, and only then. */
	bad += rl_sc_waiting(m->to) && !rl_sc_waiting(p) && !(m->todo & (RL_SC_DO_MUSIC | RL_SC_DO_SILENCE));
	bad += !rl_sc_waiting(m->to) && (m->todo & (RL_SC_DO_MUSIC | RL_SC_DO_SILENCE));
	/* The agent's media call gets the leg only on the way to an agent. */
	bad += (m->todo & RL_SC_DO_BRIDGE) && m->to != RL_SC_CONNECTED;
	return bad;
}

/* Rules over every phase, event and fact. */
static void every_move(void)
{
	int moves = 0, bad = 0;

	for (int pi = 0; pi < RL_SC_PHASES; pi++)
		for (int e = 0; e < RL_SC_EVENTS; e++)
			for (int k = 0; k < 4; k++) {
				enum rl_sc_phase p = (enum rl_sc_phase)pi;
				struct rl_sc_facts f = {.early = k & 1, .contact_known = k >> 1};
				struct rl_sc_move m;
				int applies = rl_sc_next(p, (enum rl_sc_event)e, &f, &m);
				moves += applies;
				if (broken(p, &f, applies, &m)) {
					fprintf(stderr, "rule broken: from %s event %d facts %d -> %s todo %#x\n",
					        rl_sc_phase_name(p), e, k, rl_sc_phase_name(m.to), m.todo);
					bad++;
				}
			}
	RL_CHECK(bad == 0);
	RL_CHECK(moves > 0);
	RL_CHECK(rl_sc_phase_name(RL_SC_TRANSFERRED)[0] == 't' && rl_sc_phase_name(RL_SC_PHASES)[0] == '?');
}

int main(void)
{
	menu_call();
	queued_calls();
	refused();
	abandoned();
	external_transfer();
	every_move();
	return rltest_done();
}
