/* Secrets: argon2id hashing and reading from file or environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_err.h"
#include "rl_secret.h"
#include "rltest.h"

int main(void)
{
	char hash[256], buf[64], path[600];

	RL_REQUIRE(rl_secret_hash("s3cret!", RL_SECRET_MIN, hash, sizeof(hash)) == RL_OK);
	RL_CHECK(strncmp(hash, "$argon2id$", 10) == 0);
	RL_CHECK(rl_secret_verify(hash, "s3cret!") == RL_OK);
	RL_CHECK(rl_secret_verify(hash, "s3cret") == RL_EAUTH);
	RL_CHECK(rl_secret_verify("garbage", "s3cret!") == RL_EAUTH);
	RL_CHECK(rl_secret_verify(NULL, "x") == RL_EAUTH);

	snprintf(path, sizeof(path), "%s/agent.secret", rltest_tmpdir("secret"));
	FILE *f = fopen(path, "w");
	fputs("from-file\nsecond line\n", f);
	fclose(f);
	RL_CHECK(rl_secret_read(path, "RL_TEST_SECRET", buf, sizeof(buf)) == RL_OK);
	RL_CHECK(strcmp(buf, "from-file") == 0);
	setenv("RL_TEST_SECRET", "from-env", 1);
	RL_CHECK(rl_secret_read(NULL, "RL_TEST_SECRET", buf, sizeof(buf)) == RL_OK);
	RL_CHECK(strcmp(buf, "from-env") == 0);
	unsetenv("RL_TEST_SECRET");
	RL_CHECK(rl_secret_read(NULL, "RL_TEST_SECRET", buf, sizeof(buf)) == RL_ENOENT);
	RL_CHECK(rl_secret_read("/nonexistent/x", NULL, buf, sizeof(buf)) == RL_ENOENT);
	f = fopen(path, "w");
	for (int i = 0; i < 100; i++)
		fputc('x', f);
	fclose(f);
	RL_CHECK(rl_secret_read(path, NULL, buf, sizeof(buf)) == RL_ETOOBIG);
	return rltest_done();
}
