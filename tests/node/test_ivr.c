/* The IVR state machine: choices, submenus, barge-in, timeouts, wrong keys, defaults. */
#include <string.h>

#include "ivr.h"
#include "rltest.h"

static struct rl_ivr_menu g_menu[2];

static void setup(void)
{
	struct rl_ivr_menu *m = &g_menu[0];

	memset(g_menu, 0, sizeof(g_menu));
	snprintf(m->id, sizeof(m->id), "main");
	snprintf(m->prompt, sizeof(m->prompt), "main.wav");
	snprintf(m->invalid, sizeof(m->invalid), "invalid.wav");
	m->timeout_ms = 5000;
	m->tries = 3;
	snprintf(m->default_queue, sizeof(m->default_queue), "telco.billing");
	m->opt[0] = (struct rl_ivr_option){.digit = '1', .priority = 0};
	snprintf(m->opt[0].queue, sizeof(m->opt[0].queue), "telco.billing");
	snprintf(m->opt[0].key, sizeof(m->opt[0].key), "topic");
	snprintf(m->opt[0].value, sizeof(m->opt[0].value), "billing");
	m->opt[1] = (struct rl_ivr_option){.digit = '2', .priority = 3};
	snprintf(m->opt[1].queue, sizeof(m->opt[1].queue), "telco.tech");
	m->opt[2] = (struct rl_ivr_option){.digit = '9'};
	snprintf(m->opt[2].menu, sizeof(m->opt[2].menu), "lang");
	snprintf(m->opt[2].key, sizeof(m->opt[2].key), "lang");
	snprintf(m->opt[2].value, sizeof(m->opt[2].value), "ar");
	m->nopt = 3;
	m = &g_menu[1];
	snprintf(m->id, sizeof(m->id), "lang");
	snprintf(m->prompt, sizeof(m->prompt), "lang.wav");
	m->timeout_ms = 3000;
	m->tries = 1; /* one chance, then released */
	m->opt[0] = (struct rl_ivr_option){.digit = '#', .priority = 5};
	snprintf(m->opt[0].queue, sizeof(m->opt[0].queue), "telco.vip");
	m->nopt = 1;
}

int main(void)
{
	struct rl_ivr_menus ms = {g_menu, 2};
	struct rl_ivr v;
	struct rl_ivr_step s;
	uint64_t t = 1000000;

	setup();
	RL_CHECK(rl_ivr_find(&ms, "lang") == &g_menu[1] && rl_ivr_find(&ms, "x") == NULL);

	/* A choice after the prompt. */
	rl_ivr_start(&v, &ms, &g_menu[0], t, &s);
	RL_CHECK(s.what == RL_IVR_PLAY && strcmp(s.prompt, "main.wav") == 0);
	rl_ivr_tick(&v, t + 60000000, &s);
	RL_CHECK(s.what == RL_IVR_WAIT); /* no timeout while the prompt plays */
	rl_ivr_played(&v, t + 3000000, &s);
	RL_CHECK(s.what == RL_IVR_WAIT);
	rl_ivr_digit(&v, '2', t + 4000000, &s);
	RL_CHECK(s.what == RL_IVR_QUEUE && strcmp(s.queue, "telco.tech") == 0 && s.priority == 3);
	rl_ivr_digit(&v, '1', t + 4100000, &s);
	RL_CHECK(s.what == RL_IVR_WAIT); /* done: nothing more happens */

	/* Barge-in during the prompt, with a screen-pop answer. */
	rl_ivr_start(&v, &ms, &g_menu[0], t, &s);
	rl_ivr_digit(&v, '1', t + 500000, &s);
	RL_CHECK(s.what == RL_IVR_QUEUE && strcmp(s.queue, "telco.billing") == 0);
	RL_CHECK(v.nans == 1 && strcmp(v.ans[0].key, "topic") == 0 && strcmp(v.ans[0].value, "billing") == 0);

	/* A wrong key: the invalid prompt, then the menu again, then a good key. */
	rl_ivr_start(&v, &ms, &g_menu[0], t, &s);
	rl_ivr_played(&v, t + 1000, &s);
	rl_ivr_digit(&v, '7', t + 2000, &s);
	RL_CHECK(s.what == RL_IVR_PLAY && strcmp(s.prompt, "invalid.wav") == 0);
	rl_ivr_played(&v, t + 3000, &s);
	RL_CHECK(s.what == RL_IVR_PLAY && strcmp(s.prompt, "main.wav") == 0);
	rl_ivr_played(&v, t + 4000, &s);
	rl_ivr_digit(&v, '1', t + 5000, &s);
	RL_CHECK(s.what == RL_IVR_QUEUE);

	/* Three timeouts: the default queue. */
	rl_ivr_start(&v, &ms, &g_menu[0], t, &s);
	uint64_t now = t;
	int plays = 1, queued = 0;
	for (int i = 0; i < 100 && !queued; i++) {
		rl_ivr_played(&v, now, &s);
		plays += s.what == RL_IVR_PLAY;
		now += 1000000;
		rl_ivr_tick(&v, now, &s);
		plays += s.what == RL_IVR_PLAY;
		queued = s.what == RL_IVR_QUEUE;
	}
	RL_CHECK(queued && strcmp(s.queue, "telco.billing") == 0);
	RL_CHECK(now - t >= 3 * 5000000ULL); /* three full timeouts */
	RL_CHECK(v.nans == 1 && strcmp(v.ans[0].value, "no-choice") == 0);

	/* A submenu; one wrong key there releases the caller (no default). */
	rl_ivr_start(&v, &ms, &g_menu[0], t, &s);
	rl_ivr_digit(&v, '9', t + 1000, &s);
	RL_CHECK(s.what == RL_IVR_PLAY && strcmp(s.prompt, "lang.wav") == 0);
	RL_CHECK(v.nans == 1 && strcmp(v.ans[0].key, "lang") == 0);
	rl_ivr_digit(&v, '5', t + 2000, &s);
	RL_CHECK(s.what == RL_IVR_RELEASE);

	rl_ivr_start(&v, &ms, &g_menu[0], t, &s);
	rl_ivr_digit(&v, '9', t + 1000, &s);
	rl_ivr_digit(&v, '#', t + 2000, &s);
	RL_CHECK(s.what == RL_IVR_QUEUE && strcmp(s.queue, "telco.vip") == 0 && s.priority == 5);
	return rltest_done();
}
