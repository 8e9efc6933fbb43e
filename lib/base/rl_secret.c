#include "rl_secret.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"

static void rl_secret_init(void)
{
	/* sodium_init is idempotent and thread-safe; it fails only without entropy. */
	if (sodium_init() < 0)
		abort();
}

int rl_secret_read(const char *path, const char *env, char *buf, size_t len)
{
	size_t n;

	if (len == 0)
		return RL_EINVAL;
	if (path != NULL) {
		FILE *f = fopen(path, "r");
		if (f == NULL)
			return errno == ENOENT ? RL_ENOENT : RL_EIO;
		if (fgets(buf, (int)len, f) == NULL) {
			fclose(f);
			buf[0] = 0;
			return RL_ENOENT;
		}
		fclose(f);
		n = strcspn(buf, "\r\n");
		if (buf[n] == 0 && n == len - 1) {
			sodium_memzero(buf, len);
			return RL_ETOOBIG; /* no newline within the buffer: too long */
		}
		buf[n] = 0;
	} else {
		const char *v = env ? getenv(env) : NULL;
		if (v == NULL)
			return RL_ENOENT;
		if (strlen(v) >= len)
			return RL_ETOOBIG;
		strcpy(buf, v);
	}
	return buf[0] ? RL_OK : RL_ENOENT;
}

int rl_secret_hash(const char *secret, enum rl_secret_cost cost, char *out, size_t outlen)
{
	unsigned long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	size_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;

	rl_secret_init();
	if (outlen < crypto_pwhash_STRBYTES)
		return RL_EINVAL;
	if (cost == RL_SECRET_MIN) {
		ops = crypto_pwhash_OPSLIMIT_MIN;
		mem = crypto_pwhash_MEMLIMIT_MIN;
	}
	/* argon2id fails only when the memory its cost asks for is refused. */
	if (crypto_pwhash_str_alg(out, secret, strlen(secret), ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
		rl_oom(mem);
	return RL_OK;
}

int rl_secret_verify(const char *hash, const char *secret)
{
	rl_secret_init();
	if (hash == NULL || secret == NULL || strnlen(hash, crypto_pwhash_STRBYTES) >= crypto_pwhash_STRBYTES)
		return RL_EAUTH;
	if (crypto_pwhash_str_verify(hash, secret, strlen(secret)) != 0)
		return RL_EAUTH;
	return RL_OK;
}

void rl_secret_random(void *buf, size_t len)
{
	rl_secret_init();
	randombytes_buf(buf, len);
}
