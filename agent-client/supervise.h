/*
 * supervise.h - the agent client as a supervisor's: listen to, whisper to, or barge into an
 * agent's live call (docs/supervision.md).
 *
 * The client links to the hub as an operator (ROLE_CTL, proving its Ed25519 key as relaisctl
 * does), asks to join the call the agent is on (MonitorRequest) and runs its own leg of the
 * call's audio when the hub answers with one (MonitorStatus): Opus/SRTP over a socket of its
 * own to the hub's relay, the supervisor's voice from --audio-in, the sound card or nothing
 * (silence), what it hears to --audio-out or the sound card. Keys (l, w, b) or a script change
 * the mode; q (or the script's end, or Ctrl-C) leaves. When the link comes back after a drop
 * (the hub ended the monitor then) the client asks again. It exits when the call ends.
 */
#ifndef RL_SUPERVISE_H
#define RL_SUPERVISE_H

#include "phone.h"
#include "relais.pb-c.h"
#include "rl_link.h"
#include "rl_loop.h"

#define RL_SUPERVISE_STEPS 16

/* One step of a script: a mode (MONITOR_OFF: leave) for some seconds. */
struct rl_supervise_step {
	Relais__MonitorMode mode;
	double seconds;
};

struct rl_supervise_conf {
	const char *url;
	const struct rl_tls *tls;
	const char *op;           /* the operator's id */
	const char *key_file;     /* its key (0600) */
	const char *agent;        /* whose call */
	Relais__MonitorMode mode; /* the first mode (no script) */
	struct rl_supervise_step steps[RL_SUPERVISE_STEPS];
	int nsteps;                        /* 0: no script: keys, until q or the call ends */
	const struct rl_phone_conf *phone; /* media (NULL: no audio), audio_in, audio_out, sound card */
	int keys;                          /* read keys from the terminal */
};

/* rl_supervise_mode_parse: "listen", "whisper", "barge", "off" (or "leave"); -1 if none. */
int rl_supervise_mode_parse(const char *s);

/* rl_supervise_script_parse reads "listen:3,whisper:2.5,barge:3" (mode:seconds) into c's steps;
 * the client leaves after the last. RL_EINVAL. */
int rl_supervise_script_parse(const char *spec, struct rl_supervise_conf *c);

/* rl_supervise_run runs the supervisor's session on loop until it leaves, the call ends, or a
 * stop (stop_tag) or q key (key_tag) comes; prints one event line per change on stdout.
 * Returns the process's exit code: 0 left or the call ended, 2 refused (who, what, or the
 * key), 1 could not start. */
int rl_supervise_run(const struct rl_supervise_conf *c, struct rl_loop *loop, int key_tag, int stop_tag);

#endif
