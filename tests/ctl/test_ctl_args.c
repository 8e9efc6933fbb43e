/*
 * relaisctl refuses an incomplete command before dialling anyone: submit without --tenant or
 * --queue, or with an empty one, or a command from nobody (no operator and key), is a usage
 * error (exit 2), not a request the hub refuses or nobody answers (the URL below has no
 * listener: reaching it would exit 3). So is a site command without its site or a reason, with
 * a percentage out of 1..100, or with an option its action does not take, and an audit with a
 * bad --since or --limit. keygen writes a key once and never over it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rltest.h"

static char key[600];

static int ctl_raw(const char *args)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "%s --connect tcp://127.0.0.1:1 --timeout 1 %s", rltest_bin("ctl/relaisctl"), args);
	return rltest_run(cmd, "/dev/null");
}

static int ctl(const char *args)
{
	char with[1500];

	snprintf(with, sizeof(with), "--operator admin --operator-key %s %s", key, args);
	return ctl_raw(with);
}

int main(void)
{
	char cmd[1024], *pub;

	snprintf(key, sizeof(key), "%s/admin.key", rltest_tmpdir("ctlargs"));
	snprintf(cmd, sizeof(cmd), "%s keygen %s", rltest_bin("ctl/relaisctl"), key);
	pub = rltest_capture(cmd);
	RL_REQUIRE(pub != NULL && strlen(pub) == 45); /* 44 base64 characters and a newline */
	free(pub);
	RL_CHECK(rltest_run(cmd, "/dev/null") != 0); /* the key exists: not overwritten */
	RL_CHECK(ctl_raw("status") == 2);            /* nobody */
	RL_CHECK(ctl_raw("--operator admin --operator-key /nonexistent status") == 2);
	RL_CHECK(ctl("submit --tenant telco") == 2);
	RL_CHECK(ctl("submit --queue telco.billing") == 2);
	RL_CHECK(ctl("submit --tenant telco --queue ''") == 2);
	RL_CHECK(ctl("submit --tenant '' --queue telco.billing") == 2);
	RL_CHECK(ctl("agent-state a1") == 2);
	RL_CHECK(ctl("site") == 2);
	RL_CHECK(ctl("site status extra") == 2);
	RL_CHECK(ctl("site evacuate casablanca --reason x") == 2);
	RL_CHECK(ctl("site drain --reason x") == 2);
	RL_CHECK(ctl("site drain casablanca") == 2); /* no reason */
	RL_CHECK(ctl("site drain casablanca --reason ''") == 2);
	RL_CHECK(ctl("site drain casablanca --reason") == 2);
	RL_CHECK(ctl("site drain casablanca --percent 0 --reason x") == 2);
	RL_CHECK(ctl("site drain casablanca --percent 101 --reason x") == 2);
	RL_CHECK(ctl("site drain casablanca --percent 5x --reason x") == 2);
	RL_CHECK(ctl("site drain casablanca --to fes --reason x") == 2);
	RL_CHECK(ctl("site undrain casablanca --percent 50 --reason x") == 2);
	RL_CHECK(ctl("site undrain casablanca --force --reason x") == 2);
	RL_CHECK(ctl("site failover casablanca --to fes") == 2);
	RL_CHECK(ctl("site failover casablanca --percent 50 --reason x") == 2);
	RL_CHECK(ctl("site failback casablanca") == 2);
	RL_CHECK(ctl("audit --limit 0") == 2);
	RL_CHECK(ctl("audit --since -5") == 2);
	RL_CHECK(ctl("audit --since") == 2);
	/* Complete, the command goes out and finds nobody. */
	RL_CHECK(ctl("submit --tenant telco --queue telco.billing") == 3);
	RL_CHECK(ctl("site status") == 3);
	RL_CHECK(ctl("site drain casablanca --percent 50 --reason 'fibre works'") == 3);
	RL_CHECK(ctl("site drain casablanca --reason x --force") == 3);
	RL_CHECK(ctl("site undrain casablanca --reason x") == 3);
	RL_CHECK(ctl("site failover casablanca --to home --reason x --force") == 3);
	RL_CHECK(ctl("site failback casablanca --reason x") == 3);
	RL_CHECK(ctl("audit --since 3600 --limit 10") == 3);
	return rltest_done();
}
