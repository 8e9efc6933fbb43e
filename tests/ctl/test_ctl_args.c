/*
 * relaisctl refuses an incomplete command before dialling anyone: submit without --tenant or
 * --queue, or with an empty one, is a usage error (exit 2), not a request the hub refuses or
 * nobody answers (the URL below has no listener: reaching it would exit 3).
 */
#include <stdio.h>

#include "rltest.h"

static int ctl(const char *args)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s --connect tcp://127.0.0.1:1 --timeout 1 %s", rltest_bin("ctl/relaisctl"), args);
	return rltest_run(cmd, "/dev/null");
}

int main(void)
{
	RL_CHECK(ctl("submit --tenant telco") == 2);
	RL_CHECK(ctl("submit --queue telco.billing") == 2);
	RL_CHECK(ctl("submit --tenant telco --queue ''") == 2);
	RL_CHECK(ctl("submit --tenant '' --queue telco.billing") == 2);
	RL_CHECK(ctl("agent-state a1") == 2);
	/* Complete, the command goes out and finds nobody. */
	RL_CHECK(ctl("submit --tenant telco --queue telco.billing") == 3);
	return rltest_done();
}
