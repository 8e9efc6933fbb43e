/*
 * relaisctl refuses an incomplete command before dialling anyone: submit without --tenant or
 * --queue, or with an empty one, or a command from nobody (no operator and key), is a usage
 * error (exit 2), not a request the hub refuses or nobody answers (the URL below has no
 * listener: reaching it would exit 3). keygen writes a key once and never over it.
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
	/* Complete, the command goes out and finds nobody. */
	RL_CHECK(ctl("submit --tenant telco --queue telco.billing") == 3);
	return rltest_done();
}
