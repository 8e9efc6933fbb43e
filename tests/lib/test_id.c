/* test_id: ids' shape and the copies that replace snprintf("%s") on the hub's hot paths */
#include <string.h>

#include "rl_id.h"
#include "rltest.h"

static void shape(void)
{
	char longest[RL_ID_MAX + 2];

	memset(longest, 'a', sizeof(longest));
	longest[RL_ID_MAX] = '\0';
	RL_CHECK(rl_id_ok("agent-07@casa.ma") && rl_id_ok(longest));
	longest[RL_ID_MAX] = 'a';
	longest[RL_ID_MAX + 1] = '\0';
	RL_CHECK(!rl_id_ok(longest)); /* one byte too long */
	RL_CHECK(!rl_id_ok(NULL) && !rl_id_ok("") && !rl_id_ok("a b") && !rl_id_ok("a/b") && !rl_id_ok("é"));
	RL_CHECK(rl_text_ok(NULL, 0) && rl_text_ok("abc", 3) && !rl_text_ok("abcd", 3));
}

static void copies(void)
{
	char d[8];

	memset(d, 'x', sizeof(d));
	RL_CHECK(rl_copy(d, sizeof(d), "queue") == 5 && strcmp(d, "queue") == 0);
	RL_CHECK(rl_copy(d, sizeof(d), "telco.billing") == 7 && strcmp(d, "telco.b") == 0); /* cut */
	RL_CHECK(rl_copy(d, sizeof(d), NULL) == 0 && d[0] == '\0');
	RL_CHECK(rl_copy(d, 1, "abc") == 0 && d[0] == '\0');
	memset(d, 'x', sizeof(d));
	RL_CHECK(rl_join(d, sizeof(d), "fes", '/', "e1") == 6 && strcmp(d, "fes/e1") == 0);
	RL_CHECK(rl_join(d, sizeof(d), "fes", '/', "e1234") == 7 && strcmp(d, "fes/e12") == 0);
	RL_CHECK(rl_join(d, sizeof(d), "casablanca", '/', "e1") == 7 && strcmp(d, "casabla") == 0);
	RL_CHECK(rl_join(d, sizeof(d), "dakar12", '/', "e1") == 7 && strcmp(d, "dakar12") == 0);
	RL_CHECK(rl_join(d, sizeof(d), "dakar1", '/', "e1") == 7 && strcmp(d, "dakar1/") == 0);
	RL_CHECK(rl_join(d, sizeof(d), NULL, '/', NULL) == 1 && strcmp(d, "/") == 0);
}

int main(void)
{
	shape();
	copies();
	return rltest_done();
}
