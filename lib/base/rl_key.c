#include "rl_key.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rl_err.h"
#include "rl_id.h"

#define RL_KEY_SEED 32
#define RL_KEY_B64  sodium_base64_VARIANT_ORIGINAL

static void rl_key_init(void)
{
	/* idempotent and thread-safe; it fails only without entropy */
	if (sodium_init() < 0)
		abort();
}

void rl_key_generate(struct rl_key *k)
{
	rl_key_init();
	crypto_sign_keypair(k->pk, k->sk);
}

void rl_key_wipe(struct rl_key *k)
{
	sodium_memzero(k->sk, sizeof(k->sk));
}

int rl_key_save(const struct rl_key *k, const char *path)
{
	char text[RL_KEY_TEXT];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600), ok;

	if (fd < 0)
		return errno == EEXIST ? RL_EEXIST : RL_EIO;
	sodium_bin2base64(text, sizeof(text), k->sk, RL_KEY_SEED, RL_KEY_B64);
	strcat(text, "\n");
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	sodium_memzero(text, sizeof(text));
	if (close(fd) != 0 || !ok)
		return RL_EIO;
	return RL_OK;
}

int rl_key_load(struct rl_key *k, const char *path)
{
	uint8_t seed[RL_KEY_SEED];
	char text[RL_KEY_TEXT + 2];
	size_t n = 0;
	struct stat st;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return errno == ENOENT ? RL_ENOENT : RL_EIO;
	if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
		fclose(f);
		return RL_EPERM; /* a secret others can read is no longer one */
	}
	if (fgets(text, sizeof(text), f) == NULL)
		text[0] = '\0';
	fclose(f);
	text[strcspn(text, "\r\n")] = '\0';
	if (sodium_base642bin(seed, sizeof(seed), text, strlen(text), NULL, &n, NULL, RL_KEY_B64) != 0 ||
	    n != sizeof(seed)) {
		sodium_memzero(text, sizeof(text));
		return RL_EINVAL;
	}
	rl_key_init();
	crypto_sign_seed_keypair(k->pk, k->sk, seed);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(text, sizeof(text));
	return RL_OK;
}

void rl_key_pub_text(const uint8_t pk[RL_KEY_PUB], char *out)
{
	sodium_bin2base64(out, RL_KEY_TEXT, pk, RL_KEY_PUB, RL_KEY_B64);
}

int rl_key_pub_parse(const char *text, uint8_t pk[RL_KEY_PUB])
{
	size_t n = 0;

	if (text == NULL || strlen(text) >= RL_KEY_TEXT ||
	    sodium_base642bin(pk, RL_KEY_PUB, text, strlen(text), NULL, &n, NULL, RL_KEY_B64) != 0 || n != RL_KEY_PUB)
		return RL_EINVAL;
	return RL_OK;
}

void rl_key_challenge(uint8_t challenge[RL_KEY_CHALLENGE])
{
	rl_key_init();
	randombytes_buf(challenge, RL_KEY_CHALLENGE);
}

/* rl_key_message: what a proof signs - a context, the challenge, the role, the id. */
static size_t rl_key_message(uint8_t *msg, size_t cap, const uint8_t *challenge, int role, const char *id)
{
	static const char ctx[] = "relais hello proof v1";
	size_t idlen = strnlen(id ? id : "", RL_ID_MAX);

	if (sizeof(ctx) + RL_KEY_CHALLENGE + 1 + idlen > cap)
		return 0;
	memcpy(msg, ctx, sizeof(ctx)); /* with its NUL: the context ends where the challenge starts */
	memcpy(msg + sizeof(ctx), challenge, RL_KEY_CHALLENGE);
	msg[sizeof(ctx) + RL_KEY_CHALLENGE] = (uint8_t)role;
	memcpy(msg + sizeof(ctx) + RL_KEY_CHALLENGE + 1, id ? id : "", idlen);
	return sizeof(ctx) + RL_KEY_CHALLENGE + 1 + idlen;
}

void rl_key_prove(const struct rl_key *k, const uint8_t challenge[RL_KEY_CHALLENGE], int role, const char *id,
                  uint8_t sig[RL_KEY_SIG])
{
	uint8_t msg[256];
	size_t n = rl_key_message(msg, sizeof(msg), challenge, role, id);

	crypto_sign_detached(sig, NULL, msg, n, k->sk);
}

int rl_key_check(const uint8_t pk[RL_KEY_PUB], const uint8_t challenge[RL_KEY_CHALLENGE], int role, const char *id,
                 const uint8_t *sig, size_t len)
{
	uint8_t msg[256];
	size_t n = rl_key_message(msg, sizeof(msg), challenge, role, id);

	if (n == 0 || sig == NULL || len != RL_KEY_SIG || crypto_sign_verify_detached(sig, msg, n, pk) != 0)
		return RL_EAUTH;
	return RL_OK;
}
