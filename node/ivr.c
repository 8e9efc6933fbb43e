#include "ivr.h"

#include <stdio.h>
#include <string.h>

static void rl_ivr_play(struct rl_ivr *v, int which, struct rl_ivr_step *out)
{
	v->playing = which;
	out->what = RL_IVR_PLAY;
	out->prompt = which == 2 ? v->cur->invalid : v->cur->prompt;
}

static void rl_ivr_answer(struct rl_ivr *v, const char *key, const char *value)
{
	if (key[0] == 0 || v->nans == RL_IVR_MAX_ANSWERS)
		return;
	snprintf(v->ans[v->nans].key, sizeof(v->ans[0].key), "%s", key);
	snprintf(v->ans[v->nans].value, sizeof(v->ans[0].value), "%s", value);
	v->nans++;
}

static void rl_ivr_enter(struct rl_ivr *v, const struct rl_ivr_menu *m, struct rl_ivr_step *out)
{
	v->cur = m;
	v->failures = 0;
	rl_ivr_play(v, 1, out);
}

/* rl_ivr_fail: a timeout or a wrong key. */
static void rl_ivr_fail(struct rl_ivr *v, struct rl_ivr_step *out)
{
	if (++v->failures >= (v->cur->tries ? v->cur->tries : 1)) {
		v->done = 1;
		if (v->cur->default_queue[0]) {
			out->what = RL_IVR_QUEUE;
			out->queue = v->cur->default_queue;
			out->priority = v->cur->default_priority;
			rl_ivr_answer(v, "ivr", "no-choice");
		} else {
			out->what = RL_IVR_RELEASE;
		}
		return;
	}
	rl_ivr_play(v, v->cur->invalid[0] ? 2 : 1, out);
}

void rl_ivr_start(struct rl_ivr *v, const struct rl_ivr_menus *ms, const struct rl_ivr_menu *menu, uint64_t now_us,
                  struct rl_ivr_step *out)
{
	memset(v, 0, sizeof(*v));
	memset(out, 0, sizeof(*out));
	v->menus = ms;
	rl_ivr_enter(v, menu, out);
}

void rl_ivr_digit(struct rl_ivr *v, char d, uint64_t now_us, struct rl_ivr_step *out)
{
	memset(out, 0, sizeof(*out));
	if (v->done || v->cur == NULL)
		return;
	for (int i = 0; i < v->cur->nopt; i++) {
		const struct rl_ivr_option *o = &v->cur->opt[i];
		const struct rl_ivr_menu *next;
		if (o->digit != d)
			continue;
		rl_ivr_answer(v, o->key, o->value);
		if (o->menu[0] && (next = rl_ivr_find(v->menus, o->menu)) != NULL) {
			rl_ivr_enter(v, next, out);
			return;
		}
		if (o->queue[0]) {
			v->done = 1;
			out->what = RL_IVR_QUEUE;
			out->queue = o->queue;
			out->priority = o->priority;
			return;
		}
	}
	rl_ivr_fail(v, out);
}

void rl_ivr_played(struct rl_ivr *v, uint64_t now_us, struct rl_ivr_step *out)
{
	memset(out, 0, sizeof(*out));
	if (v->done || v->cur == NULL || !v->playing)
		return;
	if (v->playing == 2) {
		/* after "that is not a valid choice", the menu again */
		rl_ivr_play(v, 1, out);
		return;
	}
	v->playing = 0;
	v->deadline_us = now_us + (uint64_t)(v->cur->timeout_ms ? v->cur->timeout_ms : 5000) * 1000u;
}

void rl_ivr_tick(struct rl_ivr *v, uint64_t now_us, struct rl_ivr_step *out)
{
	memset(out, 0, sizeof(*out));
	if (v->done || v->cur == NULL || v->playing || now_us < v->deadline_us)
		return;
	rl_ivr_fail(v, out);
}
