/*
 * agent.h - one agent's session with the hub (directly, or through its site node).
 *
 * The session logs in, resumes after link drops or hub restarts (same session, same
 * state), re-logs in only when the hub no longer knows the session, and keeps a local view
 * of the agent's state and current contact that the hub's heartbeats confirm. Two drivers
 * sit on top: the scripted behaviour (script spec below) and the terminal UI (tui.c).
 */
#ifndef RL_AGENT_H
#define RL_AGENT_H

#include <stdint.h>
#include <stdio.h>

#include "rl_client.h"
#include "rl_loop.h"
#include "phone.h"

struct rl_script {
	double answer_s;                      /* delay before answering an offer */
	double talk_s;                        /* mean talk time (exponential) */
	double wrap_s;                        /* wrap-up time */
	double reject_p;                      /* probability to reject an offer */
	double break_p;                       /* probability of a short not-ready break after a call */
	double break_s;                       /* break length */
	int fixed;                            /* 1: talk time exactly talk_s (tests), else exponential */
	char xfer_queue[RL_WIRE_MAX_ID + 1];  /* at the end of talk: transfer to this queue ... */
	char xfer_number[RL_WIRE_MAX_ID + 1]; /* ... or to this number, instead of hanging up */
	double pause_s, pause_len_s;          /* recorded calls: pause this long into the call, for pause_len_s */
};

/* rl_script_parse reads "answer=2,talk=30,wrap=10,reject=0.05,break=0.02" (numbers), and
 * xfer=QUEUE or xfer_number=NUMBER (the agent transfers every call at the end of its talk
 * time instead of hanging up), pause=S,pauselen=L (a recorded call's recording is paused S
 * seconds into the call and resumed L seconds later, as for a card number). RL_EINVAL. */
int rl_script_parse(const char *spec, struct rl_script *s);

/* The agent's site as the hub last told it (SiteState: pushed when it changes, and at a
 * resume). */
struct rl_site_view {
	int known; /* 0: never told */
	int up;
	unsigned drain_pct;
	char id[RL_WIRE_MAX_ID + 1];
	char name[RL_WIRE_MAX_TEXT + 1];
	char failover[RL_WIRE_MAX_ID + 1]; /* "" = not failed over; a site id, or "home" */
	char by[RL_WIRE_MAX_ID + 1];
	char reason[RL_WIRE_MAX_TEXT + 1];
};

enum rl_action { RL_ACT_NONE, RL_ACT_ANSWER, RL_ACT_HANGUP, RL_ACT_WRAP, RL_ACT_READY };

struct rl_agent_sess {
	char id[RL_WIRE_MAX_ID + 1];
	char secret[RL_WIRE_MAX_SECRET + 1];
	struct rl_client *cl;
	int tag;
	uint64_t session;
	uint8_t token[16];
	unsigned gen_seen;
	int login_pending;
	uint64_t retry_at_us; /* mono: no login before then */
	int refused;          /* wrong credentials (interactive: exit) */
	int stopped;
	/* The hub's view, as last told. */
	Relais__AgentState state;
	char reason[RL_WIRE_MAX_ID + 1];
	char contact[RL_WIRE_MAX_ID + 1];
	uint64_t state_since_us, deadline_us;
	Relais__Offer *offer; /* the contact shown with its screen-pop (owned): the last offer, or the
	                       * contact the hub's status carried at login, takeover or resume */
	char site[RL_WIRE_MAX_ID + 1];
	struct rl_site_view site_state;
	/* Scripted behaviour. */
	const struct rl_script *script;
	enum rl_action act;
	char act_contact[RL_WIRE_MAX_ID + 1];
	uint64_t act_at_us;
	uint64_t rng;
	char xfer_tried[RL_WIRE_MAX_ID + 1]; /* contact an external transfer was tried for */
	FILE *out;                           /* event lines (scripted), NULL = quiet */
	/* The voice path (phone.c). */
	const struct rl_phone_conf *phone; /* NULL: no audio */
	char call[RL_WIRE_MAX_ID + 1];     /* contact whose media runs, "" = none */
	uint32_t call_ssrc;
	int call_relayed;
	uint64_t next_report_us;
	double last_mos;
	int monitored;    /* a supervisor is on the call (Relais__MonitorMode), when the tenant says so */
	unsigned offers;  /* offers received */
	unsigned handled; /* calls that ended (hung up or transferred) while this session held them */
	/* The call's recording as the hub last told it: 0 none, 1 recording, 2 paused. */
	int recording;
	uint64_t pause_at_us, resume_at_us; /* the script's pause of this call (mono; 0 = done) */
};

/* rl_agent_open dials url for agent id; tag identifies its socket in loop. url may list
 * several endpoints, "NODE,HUB": the session moves to the next when the one it is on stops
 * answering, and resumes there (rl_client.h). */
int rl_agent_open(struct rl_agent_sess *a, const char *url, const struct rl_tls *tls, struct rl_loop *loop, int tag);

/* rl_agent_input handles one message for this agent (consumes msg). */
void rl_agent_input(struct rl_agent_sess *a, nng_msg *msg);

/* rl_agent_tick drives link upkeep, login/resume and the script. */
void rl_agent_tick(struct rl_agent_sess *a);

/* Requests a person (or the script) can make. */
void rl_agent_set_state(struct rl_agent_sess *a, Relais__AgentState st, const char *reason);
void rl_agent_answer(struct rl_agent_sess *a, int accept);
void rl_agent_hangup(struct rl_agent_sess *a);
/* rl_agent_pause pauses (paused) or resumes the recording of the current call. */
void rl_agent_pause(struct rl_agent_sess *a, int paused);
/* rl_agent_transfer sends the current call to queue (same tenant) or, queue NULL, to an
 * external number over the site's trunk; note goes to the next agent's screen-pop. */
void rl_agent_transfer(struct rl_agent_sess *a, const char *queue, const char *number, const char *note);
void rl_agent_wrapup(struct rl_agent_sess *a, const char *disposition, unsigned extend_s);

/* rl_agent_emit writes one event line "agent=ID ..." (scripted mode). */
void rl_agent_emit(struct rl_agent_sess *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* rl_agent_close logs out (best effort if linked) and frees. */
void rl_agent_close(struct rl_agent_sess *a);

/* rl_agent_site_line writes what the person should know of the agent's site into buf
 * ("site Casablanca drained 100 % by noc: inspection", "site Casablanca lost: working through
 * the hub"); "" when there is nothing to say (the site is up and serving, or not known).
 * Returns buf. */
const char *rl_agent_site_line(const struct rl_agent_sess *a, char *buf, size_t len);

/* rl_monitor_mode_name: "off", "listen", "whisper", "barge" for a Relais__MonitorMode. */
const char *rl_monitor_mode_name(int mode);

/* rl_agent_state_name: "READY" etc. */
const char *rl_agent_state_name(Relais__AgentState s);

#endif
