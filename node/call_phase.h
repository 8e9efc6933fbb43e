/*
 * call_phase.h - the phases of a carrier call at the site node, and what each change does.
 *
 * A carrier call (source_sip.c) is always in exactly one phase. Events - from the SIP
 * dialog, from the hub, from the IVR - move it; rl_sc_next says, without side effects, where
 * an event takes a call in a given phase and what must be done on the way (a bit set of
 * RL_SC_DO_*), or that the event means nothing there. The SIP source's one transition
 * function carries the moves out, in a fixed order, and nothing else changes a call's phase.
 *
 *   OFFERED --menu--> IVR --queue--> HOLD
 *   OFFERED --queue--> RINGING (180, the carrier's ringback) | EARLY (183, our music)
 *   RINGING | EARLY | HOLD --agent--> CONNECTED --requeued--> HOLD
 *   CONNECTED --xfer ask--> TRANSFERRING --failed--> CONNECTED
 *                           TRANSFERRING --done--> TRANSFERRED
 *   any phase --contact ended, refused, not queued, menu release--> RELEASED (we end the call)
 *   any phase --BYE, CANCEL, dialog ended--> GONE (the caller left)
 * RELEASED and GONE last until both the dialog and the contact are over; then the call is
 * freed. Pure functions: used by the source and by the unit test.
 */
#ifndef RL_CALL_PHASE_H
#define RL_CALL_PHASE_H

enum rl_sc_phase {
	RL_SC_OFFERED,      /* the INVITE is in; nothing decided yet */
	RL_SC_IVR,          /* answered at once: the menu's prompts play, the caller's digits choose */
	RL_SC_RINGING,      /* queued, unanswered: the caller hears the carrier's ringback (180) */
	RL_SC_EARLY,        /* queued, unanswered: the caller hears our music and announcements (183) */
	RL_SC_HOLD,         /* queued, answered (after the menu, or sent back to a queue by an agent) */
	RL_SC_CONNECTED,    /* an agent has it: the carrier leg is the contact's audio */
	RL_SC_TRANSFERRING, /* the carrier was asked to take the caller to a number; the agent stays on */
	RL_SC_TRANSFERRED,  /* the carrier took the caller elsewhere: its BYE and the contact's end follow */
	RL_SC_RELEASED,     /* we ended the call (rejected it or hung up) */
	RL_SC_GONE,         /* the caller left (BYE, CANCEL, or the dialog ended under us) */
	RL_SC_PHASES
};

enum rl_sc_event {
	RL_SC_EV_MENU,         /* the DID has a menu: answer and start it */
	RL_SC_EV_QUEUE,        /* queue the call (the DID's queue, or the menu's choice) */
	RL_SC_EV_NOT_QUEUED,   /* the contact could not be submitted */
	RL_SC_EV_MENU_RELEASE, /* the menu has no queue for this caller */
	RL_SC_EV_ACKED,        /* the hub acknowledged the contact: its id is known */
	RL_SC_EV_REFUSED,      /* the hub refused the contact */
	RL_SC_EV_AGENT,        /* ContactUpdate CONNECTED with a media plan: an agent took the call */
	RL_SC_EV_REQUEUED,     /* ContactUpdate QUEUED: the agent sent the caller to another queue */
	RL_SC_EV_XFER_ASK,     /* ContactUpdate CONNECTED with transfer_to: the agent sends it to a number */
	RL_SC_EV_XFER_DONE,    /* the carrier reports the transfer target answered (REFER 2xx) */
	RL_SC_EV_XFER_FAILED,  /* the transfer failed (REFER 3xx-6xx, or no REFER could be sent) */
	RL_SC_EV_ENDED,        /* ContactUpdate ENDED: the contact is over (the agent hung up...) */
	RL_SC_EV_LEFT,         /* BYE or CANCEL from the caller */
	RL_SC_EV_DIALOG_ENDED, /* the SIP dialog is over (after a BYE either way, a timeout...) */
	RL_SC_EVENTS
};

/* What a move does, in the order the source does it. */
enum rl_sc_do {
	RL_SC_DO_PROGRESS = 1 << 0, /* 183 with our SDP (if it cannot be sent: 180, no early media) */
	RL_SC_DO_RINGING = 1 << 1,  /* 180 Ringing */
	RL_SC_DO_ANSWER = 1 << 2,   /* 200 with our SDP */
	RL_SC_DO_SUBMIT = 1 << 3,   /* submit the contact to the hub (if it cannot: NOT_QUEUED instead) */
	RL_SC_DO_REFER = 1 << 4,    /* ask the carrier to take the caller to the number */
	RL_SC_DO_STOP = 1 << 5,     /* stop what plays to the caller (prompt, music, announcement) */
	RL_SC_DO_BRIDGE = 1 << 6,   /* attach the carrier leg to the contact, for the agent's media call */
	RL_SC_DO_CANCEL = 1 << 7,   /* tell the hub the caller left (ABANDONED) */
	RL_SC_DO_RESULT = 1 << 8,   /* tell the hub how the external transfer went */
	RL_SC_DO_HANGUP = 1 << 9,   /* BYE (480 before the answer) */
	RL_SC_DO_REJECT = 1 << 10,  /* 503 with Retry-After: the site could not queue the call */
	RL_SC_DO_UNAVAIL = 1 << 11, /* 480 Temporarily unavailable: the hub refused the contact */
	RL_SC_DO_MUSIC = 1 << 12,   /* waiting: hold music, announcements from the start */
	RL_SC_DO_SILENCE = 1 << 13, /* waiting: we send nothing (the ringback is the carrier's) */
	RL_SC_DO_MENU = 1 << 14,    /* start the DID's menu (its first prompt) */
};

/* What rl_sc_next needs to know besides the phase. */
struct rl_sc_facts {
	int early;         /* the DID plays early media (183) while the call waits unanswered */
	int contact_known; /* the hub has acknowledged the contact (its id is known) */
};

struct rl_sc_move {
	enum rl_sc_phase to; /* may equal the phase it comes from */
	unsigned todo;       /* RL_SC_DO_* bits */
};

/* rl_sc_next: where event ev takes a call in phase from, and what to do on the way (in *m).
 * Returns 1 if the event means something in that phase, 0 if it is to be ignored (m is then
 * {from, 0}). */
int rl_sc_next(enum rl_sc_phase from, enum rl_sc_event ev, const struct rl_sc_facts *f, struct rl_sc_move *m);

/* rl_sc_waiting: 1 for the phases in which the contact waits in a queue. */
int rl_sc_waiting(enum rl_sc_phase p);

/* rl_sc_hears_us: 1 for the waiting phases in which the caller hears our music and
 * announcements (not the carrier's ringback). */
int rl_sc_hears_us(enum rl_sc_phase p);

/* rl_sc_phase_name: "offered", "ivr", ... (static strings). */
const char *rl_sc_phase_name(enum rl_sc_phase p);

#endif
