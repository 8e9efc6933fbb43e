/* rl_key: key files, public key text, and the Hello proof (who signed what, and nothing else). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "rl_err.h"
#include "rl_key.h"
#include "rltest.h"

int main(void)
{
	const char *dir = rltest_tmpdir("key");
	char path[512], text[RL_KEY_TEXT];
	struct rl_key k, l, other;
	uint8_t ch[RL_KEY_CHALLENGE], ch2[RL_KEY_CHALLENGE], sig[RL_KEY_SIG], pk[RL_KEY_PUB];
	FILE *f;

	rl_key_generate(&k);
	rl_key_generate(&other);
	snprintf(path, sizeof(path), "%s/site.key", dir);
	RL_CHECK(rl_key_save(&k, path) == RL_OK);
	RL_CHECK(rl_key_save(&k, path) == RL_EEXIST); /* never overwritten */
	RL_CHECK(rl_key_load(&l, path) == RL_OK);
	RL_CHECK(memcmp(k.pk, l.pk, RL_KEY_PUB) == 0 && memcmp(k.sk, l.sk, sizeof(k.sk)) == 0);
	chmod(path, 0644);
	RL_CHECK(rl_key_load(&l, path) == RL_EPERM); /* readable by others: refused */
	snprintf(path, sizeof(path), "%s/none.key", dir);
	RL_CHECK(rl_key_load(&l, path) == RL_ENOENT);
	snprintf(path, sizeof(path), "%s/bad.key", dir);
	RL_REQUIRE((f = fopen(path, "w")) != NULL);
	fputs("not base64 at all!\n", f);
	fclose(f);
	chmod(path, 0600);
	RL_CHECK(rl_key_load(&l, path) == RL_EINVAL);

	/* Public keys as text, and back. */
	rl_key_pub_text(k.pk, text);
	RL_CHECK(strlen(text) == 44);
	RL_CHECK(rl_key_pub_parse(text, pk) == RL_OK && memcmp(pk, k.pk, RL_KEY_PUB) == 0);
	RL_CHECK(rl_key_pub_parse("AAAA", pk) == RL_EINVAL);         /* too short */
	RL_CHECK(rl_key_pub_parse("@@@@@@@@@@@@", pk) == RL_EINVAL); /* not base64 */
	RL_CHECK(rl_key_pub_parse(NULL, pk) == RL_EINVAL);

	/* The proof binds the key, the challenge, the role and the id. */
	rl_key_challenge(ch);
	rl_key_challenge(ch2);
	RL_CHECK(memcmp(ch, ch2, sizeof(ch)) != 0);
	rl_key_prove(&k, ch, 2, "casablanca", sig);
	RL_CHECK(rl_key_check(k.pk, ch, 2, "casablanca", sig, sizeof(sig)) == RL_OK);
	RL_CHECK(rl_key_check(other.pk, ch, 2, "casablanca", sig, sizeof(sig)) == RL_EAUTH);
	RL_CHECK(rl_key_check(k.pk, ch2, 2, "casablanca", sig, sizeof(sig)) == RL_EAUTH);
	RL_CHECK(rl_key_check(k.pk, ch, 3, "casablanca", sig, sizeof(sig)) == RL_EAUTH);
	RL_CHECK(rl_key_check(k.pk, ch, 2, "fes", sig, sizeof(sig)) == RL_EAUTH);
	RL_CHECK(rl_key_check(k.pk, ch, 2, "casablanca", sig, sizeof(sig) - 1) == RL_EAUTH);
	RL_CHECK(rl_key_check(k.pk, ch, 2, "casablanca", NULL, 0) == RL_EAUTH);
	sig[10] ^= 1;
	RL_CHECK(rl_key_check(k.pk, ch, 2, "casablanca", sig, sizeof(sig)) == RL_EAUTH);
	rl_key_wipe(&k);
	return rltest_done();
}
