/*
 * The agent's terminal UI, driven by keys through a pseudo-terminal against a real hub, site
 * node and scripted agent, its screen read back as a person would see it.
 *
 * A scripted home agent answers a call and talks on; the person logs in as the same agent in
 * the terminal UI and takes the session over mid-call: the screen shows the call in progress
 * with its screen-pop (caller, IVR data), restored from the hub's login answer. The person
 * hangs up and wraps up: "Handled" counts the call. A second call is offered, accepted, hung
 * up; the person opens the disposition menu and lets the wrap-up timer end it: once the hub
 * makes the agent READY, the menu is gone from the screen. Quitting logs the agent out.
 */
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rlcluster.h"
#include "rltest.h"
#include "rl_time.h"

#define CLEAR "\033[H\033[2J" /* each redraw starts with it */

/* The terminal UI's process and what it has written so far (the tail of it). */
struct tui {
	int fd; /* pty master */
	pid_t pid;
	char out[1 << 16];
	size_t len;
	char frame[8192]; /* the last complete screen */
};

static void tui_start(struct tui *t, struct rlc *c, const char *agent)
{
	struct winsize ws = {.ws_row = 40, .ws_col = 160};
	char secret[700];

	snprintf(secret, sizeof(secret), "%s/secrets/%s.secret", c->dir, agent);
	memset(t, 0, sizeof(*t));
	t->pid = forkpty(&t->fd, NULL, NULL, &ws);
	RL_REQUIRE(t->pid >= 0);
	if (t->pid == 0) {
		char ca[700], cert[700], key[700];
		snprintf(ca, sizeof(ca), "%s/ca.pem", c->certs);
		snprintf(cert, sizeof(cert), "%s/agent.pem", c->certs);
		snprintf(key, sizeof(key), "%s/agent.key", c->certs);
		execl(rltest_bin("agent-client/relais-agent"), "relais-agent", "--ca", ca, "--cert", cert, "--key", key,
		      "--connect", c->hub_url, "--agent", agent, "--secret-file", secret, "--no-audio", (char *)NULL);
		_exit(127);
	}
}

/* tui_read drains what the UI wrote for up to ms, and keeps its last complete screen (the
 * text between the last two clears) in t->frame. */
static void tui_read(struct tui *t, int ms)
{
	uint64_t end = rl_mono_us() + (uint64_t)ms * 1000u;

	do {
		struct pollfd p = {.fd = t->fd, .events = POLLIN};
		if (poll(&p, 1, 20) > 0) {
			if (t->len > sizeof(t->out) / 2) { /* keep the tail: the last screens are what count */
				memmove(t->out, t->out + t->len - sizeof(t->out) / 4, sizeof(t->out) / 4);
				t->len = sizeof(t->out) / 4;
			}
			ssize_t n = read(t->fd, t->out + t->len, sizeof(t->out) - 1 - t->len);
			if (n > 0)
				t->len += (size_t)n;
		}
	} while (rl_mono_us() < end);
	t->out[t->len] = 0;
	char *last = NULL, *prev = NULL;
	for (char *p = strstr(t->out, CLEAR); p != NULL; p = strstr(p + 1, CLEAR)) {
		prev = last;
		last = p;
	}
	if (prev != NULL)
		snprintf(t->frame, sizeof(t->frame), "%.*s", (int)(last - prev - strlen(CLEAR)), prev + strlen(CLEAR));
}

/* tui_wait reads until the screen shows want (up to seconds); returns 1 if it does. */
static int tui_wait(struct tui *t, const char *want, int seconds)
{
	for (int i = 0; i < seconds * 5; i++) {
		tui_read(t, 200);
		if (strstr(t->frame, want) != NULL)
			return 1;
	}
	printf("screen never showed \"%s\"; last screen:\n%s\n", want, t->frame);
	return 0;
}

static void tui_key(struct tui *t, char key)
{
	RL_REQUIRE(write(t->fd, &key, 1) == 1);
	tui_read(t, 300);
}

/* hang_up ends the call on screen and opens the disposition menu of its wrap-up. */
static void hang_up(struct tui *t)
{
	tui_key(t, 'h');
	RL_CHECK(tui_wait(t, "State:  WRAPUP", 10));
	tui_key(t, 'w');
	RL_CHECK(tui_wait(t, "Disposition: 1 resolved", 5));
}

/* agent_state polls the hub until agent is in state (up to seconds); puts its contact in cid. */
static int agent_state(struct rlc *c, const char *agent, const char *state, char *cid, size_t len, int seconds)
{
	for (int i = 0; i < seconds * 5; i++) {
		cJSON *s = rlc_status(c);
		const char *st = rlc_agent_str(s, agent, "state"), *ct = rlc_agent_str(s, agent, "contact_id");
		int ok = st != NULL && strcmp(st, state) == 0;
		if (ok && cid != NULL)
			snprintf(cid, len, "%s", ct ? ct : "");
		cJSON_Delete(s);
		if (ok)
			return 1;
		rltest_sleep_ms(200);
	}
	return 0;
}

int main(void)
{
	struct rlc c;
	struct tui t;
	char cid[64] = "", want[128];
	int status = -1;

	signal(SIGPIPE, SIG_IGN);
	rlc_init(&c, "tui", 1);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; wrapup_s = 8; "
	              "offer_timeout_s = 30; }");
	rlc_agent(&c, "h1", "telco", "billing = 5;", "");
	rlc_start_hub(&c);
	char node[128];
	snprintf(node, sizeof(node), "%s", rlc_start_node(&c, "casablanca", NULL, NULL));
	/* The scripted agent answers at once and talks for ten minutes. */
	rlc_start_agents(&c, c.hub_url, "h1", "answer=0.2,talk=600,wrap=600,fixed=1", "h1.log");
	RL_REQUIRE(agent_state(&c, "h1", "READY", NULL, 0, 20));
	RL_REQUIRE(
	    rlc_ctl(&c, node,
	            "submit --tenant telco --queue telco.billing --caller +212600000001 --data topic=facturation",
	            NULL) == 0);
	RL_REQUIRE(agent_state(&c, "h1", "BUSY", cid, sizeof(cid), 20));
	printf("scripted h1 is on call %s; taking the session over in the terminal UI\n", cid);

	/* Taken over mid-call: the call in progress is on screen with its screen-pop. */
	tui_start(&t, &c, "h1");
	RL_CHECK(tui_wait(&t, "State:  BUSY", 20));
	snprintf(want, sizeof(want), "Contact %s", cid);
	RL_CHECK(tui_wait(&t, want, 5));
	RL_CHECK(strstr(t.frame, "Caller: +212600000001") != NULL);
	RL_CHECK(strstr(t.frame, "topic: facturation") != NULL);
	RL_CHECK(strstr(t.frame, "Handled: 0") != NULL);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "h1.log"), "event=logged-out reason=session taken over") == 1);

	/* Hung up and wrapped up with a disposition: the call is counted. */
	hang_up(&t);
	tui_key(&t, '1');
	RL_CHECK(tui_wait(&t, "State:  READY", 10));
	RL_CHECK(strstr(t.frame, "Handled: 1") != NULL);
	RL_CHECK(strstr(t.frame, "Disposition:") == NULL);

	/* A second call, accepted and hung up; the disposition menu is left open until the
	 * wrap-up timer (8 s) makes the agent READY: the menu goes with the wrap-up. */
	RL_REQUIRE(rlc_ctl(&c, node, "submit --tenant telco --queue telco.billing --caller +212600000002", NULL) == 0);
	RL_CHECK(tui_wait(&t, "State:  RESERVED", 20));
	RL_CHECK(strstr(t.frame, "Caller: +212600000002") != NULL);
	tui_key(&t, 'a');
	RL_CHECK(tui_wait(&t, "State:  BUSY", 10));
	hang_up(&t);
	RL_CHECK(tui_wait(&t, "State:  READY", 20));
	tui_read(&t, 1000); /* a few more screens: the menu must not come back */
	printf("screen once READY:\n%s\n", t.frame);
	RL_CHECK(strstr(t.frame, "State:  READY") != NULL);
	RL_CHECK(strstr(t.frame, "Disposition:") == NULL);
	RL_CHECK(strstr(t.frame, "[r] ready") != NULL);
	RL_CHECK(strstr(t.frame, "Handled: 2") != NULL);
	/* The menu's keys went with it: '1' now does nothing, the agent stays READY. */
	tui_key(&t, '1');
	RL_CHECK(agent_state(&c, "h1", "READY", NULL, 0, 2));

	/* Quit: the UI logs out, exits, and the agent stays logged out (no login on the way out). */
	tui_key(&t, 'q');
	for (int i = 0; i < 50 && waitpid(t.pid, &status, WNOHANG) == 0; i++)
		tui_read(&t, 100);
	if (status == -1) { /* still there: the check below fails; leave nothing behind */
		kill(t.pid, SIGKILL);
		waitpid(t.pid, NULL, 0);
	}
	RL_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	RL_CHECK(agent_state(&c, "h1", "LOGGED_OUT", NULL, 0, 5));
	close(t.fd);
	rlc_stop_all(&c);
	return rltest_done();
}
