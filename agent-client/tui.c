#include "tui.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "rl_err.h"
#include "rl_time.h"

static struct termios rl_tui_saved;
static int rl_tui_raw;
static struct rl_loop *rl_tui_loop;
static int rl_tui_tag;
static char rl_tui_menu; /* 'n' reason menu, 'w' disposition menu, 't' transfer menu, 0 none */
static char rl_tui_menu_contact[RL_WIRE_MAX_ID + 1]; /* the call a 'w' or 't' menu is for */

static const char *const rl_reasons[] = {"break", "lunch", "training", "meeting"};
#define RL_TUI_TARGETS 9
static char rl_tui_targets[RL_TUI_TARGETS][RL_WIRE_MAX_ID + 1]; /* transfer menu */
static int rl_tui_ntargets;

int rl_tui_set_targets(const char *list)
{
	const char *p = list;

	rl_tui_ntargets = 0;
	while (p != NULL && *p) {
		size_t n = strcspn(p, ",");
		if (n == 0 || n > RL_WIRE_MAX_ID || rl_tui_ntargets == RL_TUI_TARGETS)
			return RL_EINVAL;
		snprintf(rl_tui_targets[rl_tui_ntargets++], RL_WIRE_MAX_ID + 1, "%.*s", (int)n, p);
		p += n + (p[n] == ',');
	}
	return RL_OK;
}

/* A target starting with '+' or a digit is an external number, anything else a queue. */
static int rl_tui_is_number(const char *t)
{
	return t[0] == '+' || (t[0] >= '0' && t[0] <= '9');
}
static const char *const rl_dispositions[] = {"resolved", "callback", "escalated", "no-answer"};

static void *rl_tui_reader(void *arg)
{
	(void)arg;
	for (;;) {
		unsigned char ch;
		if (read(0, &ch, 1) != 1) {
			rl_loop_post(rl_tui_loop, rl_tui_tag, (void *)(uintptr_t)'q');
			return NULL;
		}
		while (rl_loop_post(rl_tui_loop, rl_tui_tag, (void *)(uintptr_t)ch) != RL_OK)
			usleep(1000);
	}
}

int rl_tui_start(struct rl_loop *loop, int tag)
{
	struct termios t;
	pthread_t th;

	rl_tui_loop = loop;
	rl_tui_tag = tag;
	if (tcgetattr(0, &rl_tui_saved) == 0) {
		t = rl_tui_saved;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(0, TCSANOW, &t) == 0)
			rl_tui_raw = 1;
	}
	if (pthread_create(&th, NULL, rl_tui_reader, NULL) != 0)
		return RL_ENOMEM;
	pthread_detach(th);
	return RL_OK;
}

void rl_tui_stop(void)
{
	if (rl_tui_raw)
		tcsetattr(0, TCSANOW, &rl_tui_saved);
	rl_tui_raw = 0;
	printf("\n");
}

/* rl_tui_open opens menu m for the agent's current contact. */
static void rl_tui_open(const struct rl_agent_sess *a, char m)
{
	rl_tui_menu = m;
	snprintf(rl_tui_menu_contact, sizeof(rl_tui_menu_contact), "%s", a->contact);
}

/* The disposition menu belongs to one call's wrap-up, the transfer menu to one call in
 * progress: once the hub has moved the agent on (the wrap-up timer made it READY, the caller
 * hung up), the menu closes by itself, and its keys no longer act on a call that is gone. */
static void rl_tui_menu_check(const struct rl_agent_sess *a)
{
	Relais__AgentState need =
	    rl_tui_menu == 'w' ? RELAIS__AGENT_STATE__AGENT_WRAPUP : RELAIS__AGENT_STATE__AGENT_BUSY;

	if ((rl_tui_menu == 'w' || rl_tui_menu == 't') &&
	    (a->state != need || strcmp(a->contact, rl_tui_menu_contact) != 0))
		rl_tui_menu = 0;
}

int rl_tui_key(struct rl_agent_sess *a, int key)
{
	rl_tui_menu_check(a);
	if (rl_tui_menu == 'n' && key >= '1' && key <= '4') {
		rl_agent_set_state(a, RELAIS__AGENT_STATE__AGENT_NOT_READY, rl_reasons[key - '1']);
		rl_tui_menu = 0;
		return 0;
	}
	if (rl_tui_menu == 't' && key >= '1' && key < '1' + rl_tui_ntargets) {
		const char *t = rl_tui_targets[key - '1'];
		if (a->state == RELAIS__AGENT_STATE__AGENT_BUSY)
			rl_agent_transfer(a, rl_tui_is_number(t) ? NULL : t, t, "");
		rl_tui_menu = 0;
		return 0;
	}
	if (rl_tui_menu == 'w' && key >= '1' && key <= '4') {
		rl_agent_wrapup(a, rl_dispositions[key - '1'], 0);
		rl_tui_menu = 0;
		return 0;
	}
	rl_tui_menu = 0;
	switch (key) {
	case 'r':
		rl_agent_set_state(a, RELAIS__AGENT_STATE__AGENT_READY, "");
		break;
	case 'n':
		rl_tui_open(a, 'n');
		break;
	case 'a':
		if (a->state == RELAIS__AGENT_STATE__AGENT_RESERVED)
			rl_agent_answer(a, 1);
		break;
	case 'x':
		if (a->state == RELAIS__AGENT_STATE__AGENT_RESERVED)
			rl_agent_answer(a, 0);
		break;
	case 'h':
		if (a->state == RELAIS__AGENT_STATE__AGENT_BUSY)
			rl_agent_hangup(a);
		break;
	case 'p': /* pause the recording (a card number), or resume it */
		if (a->state == RELAIS__AGENT_STATE__AGENT_BUSY && a->recording)
			rl_agent_pause(a, a->recording == 1);
		break;
	case 't':
		if (a->state == RELAIS__AGENT_STATE__AGENT_BUSY && rl_tui_ntargets)
			rl_tui_open(a, 't');
		break;
	case 'w':
		if (a->state == RELAIS__AGENT_STATE__AGENT_WRAPUP)
			rl_tui_open(a, 'w');
		break;
	case 'e':
		if (a->state == RELAIS__AGENT_STATE__AGENT_WRAPUP)
			rl_agent_wrapup(a, "", 30);
		break;
	case 'q':
		return 1;
	default:
		break;
	}
	return 0;
}

static void rl_secs(char *buf, size_t len, uint64_t us)
{
	uint64_t s = us / 1000000u;
	snprintf(buf, len, "%llu:%02llu", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
}

void rl_tui_draw(const struct rl_agent_sess *a, const char *url)
{
	uint64_t now = rl_wall_us();
	char t1[32], t2[32], site[RL_WIRE_MAX_TEXT * 2 + 128];

	rl_tui_menu_check(a);
	printf("\033[H\033[2J");
	printf("Relais agent %s   link %s %s", a->id, rl_client_up(a->cl) ? "up" : "DOWN", url);
	if (rl_client_rtt_us(a->cl))
		printf("  rtt %.1f ms", (double)rl_client_rtt_us(a->cl) / 1000.0);
	printf("\r\n\r\n");
	if (a->refused) {
		printf("  Login refused: wrong agent id or secret.\r\n");
	} else if (a->session == 0) {
		printf("  Logging in...\r\n");
	} else {
		rl_secs(t1, sizeof(t1), now > a->state_since_us ? now - a->state_since_us : 0);
		printf("  State:  %s%s%s   for %s   site: %s\r\n", rl_agent_state_name(a->state),
		       a->reason[0] ? " - " : "", a->reason, t1, a->site[0] ? a->site : "home");
		if (a->deadline_us > now) {
			rl_secs(t2, sizeof(t2), a->deadline_us - now);
			printf("  %s in %s\r\n",
			       a->state == RELAIS__AGENT_STATE__AGENT_RESERVED ? "Ring-no-answer" : "Wrap-up ends", t2);
		}
		if (rl_agent_site_line(a, site, sizeof(site))[0])
			printf("  %s\r\n", site);
	}
	if (a->offer != NULL && a->contact[0] && strcmp(a->offer->contact_id, a->contact) == 0) {
		const Relais__Offer *o = a->offer;
		rl_secs(t1, sizeof(t1), o->offered_us > o->enqueued_us ? o->offered_us - o->enqueued_us : 0);
		printf("\r\n  Contact %s   tenant %s   queue %s   priority %u\r\n", o->contact_id, o->tenant_id,
		       o->queue_id, o->priority);
		if (o->pop) {
			printf("  Caller: %s   Dialled: %s   Waited: %s\r\n", o->pop->caller ? o->pop->caller : "-",
			       o->pop->dialled && o->pop->dialled[0] ? o->pop->dialled : "-", t1);
			for (size_t i = 0; i < o->pop->n_data; i++)
				printf("    %s: %s\r\n", o->pop->data[i]->key, o->pop->data[i]->value);
		}
	}
	if (a->call[0])
		printf("  Audio: %s, Opus/SRTP%s\r\n", a->call_relayed ? "through the hub relay" : "direct to the site",
		       a->last_mos > 0 ? "" : " (quality after 5 s)");
	if (a->recording && a->state == RELAIS__AGENT_STATE__AGENT_BUSY)
		printf("  %s\r\n", a->recording == 2 ? "Recording PAUSED ([p] resumes)"
		                                     : "RECORDING ([p] pauses, for card numbers)");
	if (a->last_mos > 0)
		printf("  Call quality (MOS, last call or now): %.2f\r\n", a->last_mos);
	if (a->monitored)
		printf("  A supervisor is on this call: %s\r\n", rl_monitor_mode_name(a->monitored));
	printf("\r\n  Handled: %u\r\n\r\n", a->handled);
	if (rl_tui_menu == 'n')
		printf("  Not ready because: 1 break  2 lunch  3 training  4 meeting\r\n");
	else if (rl_tui_menu == 'w')
		printf("  Disposition: 1 resolved  2 callback  3 escalated  4 no-answer\r\n");
	else if (rl_tui_menu == 't') {
		printf("  Transfer to:");
		for (int i = 0; i < rl_tui_ntargets; i++)
			printf("  %d %s", i + 1, rl_tui_targets[i]);
		printf("\r\n");
	} else
		printf(
		    "  [r] ready  [n] not ready  [a] accept  [x] reject  [h] hang up  [t] transfer  [w] end wrap-up  [e] +30 s"
		    "  [q] quit\r\n");
	fflush(stdout);
}
