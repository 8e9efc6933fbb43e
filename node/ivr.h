/*
 * ivr.h - IVR pre-qualification: menus of prompts and DTMF choices that lead a caller to a
 * queue (with a priority and screen-pop answers) before the contact is queued at the hub.
 *
 * A pure state machine: the caller of these functions plays prompts, passes digits, tells
 * when a prompt has finished and ticks the clock; each call returns the next step. A digit
 * pressed during a prompt interrupts it (barge-in). No input for timeout_ms after a prompt,
 * or a digit no option takes, counts as a failure: the invalid-entry prompt plays and the
 * menu starts again; after `tries` failures the caller goes to the menu's default queue (or
 * is released when the menu has none).
 */
#ifndef RL_IVR_H
#define RL_IVR_H

#include <stdint.h>

#include "rl_dialplan.h" /* the menus: struct rl_ivr_menu(s), rl_ivr_find */

#define RL_IVR_MAX_ANSWERS 8

enum rl_ivr_do {
	RL_IVR_WAIT = 0, /* nothing to do now */
	RL_IVR_PLAY,     /* play step.prompt (stop what plays) */
	RL_IVR_QUEUE,    /* done: queue to step.queue at step.priority with the answers */
	RL_IVR_RELEASE,  /* done: no queue for this caller (hang up) */
};

struct rl_ivr_step {
	int what;           /* enum rl_ivr_do */
	const char *prompt; /* RL_IVR_PLAY: a path inside the menus */
	const char *queue;  /* RL_IVR_QUEUE */
	uint32_t priority;
};

struct rl_ivr {
	const struct rl_ivr_menus *menus;
	const struct rl_ivr_menu *cur;
	int playing; /* 1: the menu prompt, 2: the invalid-entry prompt */
	uint32_t failures;
	uint64_t deadline_us;
	int done;
	struct {
		char key[RL_WIRE_MAX_ID + 1], value[RL_WIRE_MAX_ID + 1];
	} ans[RL_IVR_MAX_ANSWERS];
	int nans;
};

/* rl_ivr_start begins at menu (from rl_ivr_find). */
void rl_ivr_start(struct rl_ivr *v, const struct rl_ivr_menus *ms, const struct rl_ivr_menu *menu, uint64_t now_us,
                  struct rl_ivr_step *out);

/* rl_ivr_digit: the caller pressed d. */
void rl_ivr_digit(struct rl_ivr *v, char d, uint64_t now_us, struct rl_ivr_step *out);

/* rl_ivr_played: the prompt asked for last has finished playing. */
void rl_ivr_played(struct rl_ivr *v, uint64_t now_us, struct rl_ivr_step *out);

/* rl_ivr_tick: time passes (call every 100 ms or so). */
void rl_ivr_tick(struct rl_ivr *v, uint64_t now_us, struct rl_ivr_step *out);

#endif
