/*
 * rl_secret.h - agent secrets.
 *
 * Secrets never travel on argv: they come from a file (first line) or an environment
 * variable. The hub stores argon2id hashes (libsodium crypto_pwhash_str), which embed
 * their own cost parameters, so verification needs no settings.
 */
#ifndef RL_SECRET_H
#define RL_SECRET_H

#include <stddef.h>

/*
 * rl_secret_read fills buf (size len) from file `path` (first line, newline stripped) if
 * path is not NULL, else from environment variable `env`. Errors: RL_ENOENT (nothing
 * there), RL_ETOOBIG, RL_EIO.
 */
int rl_secret_read(const char *path, const char *env, char *buf, size_t len);

/* Cost levels for rl_secret_hash: interactive (production) or minimal (tests, benches). */
enum rl_secret_cost { RL_SECRET_INTERACTIVE, RL_SECRET_MIN };

/* rl_secret_hash writes an argon2id string (< 128 bytes) into out. Errors: RL_EINVAL (outlen
 * too small); the memory the cost asks for being refused aborts (rl_alloc.h). */
int rl_secret_hash(const char *secret, enum rl_secret_cost cost, char *out, size_t outlen);

/* rl_secret_verify: RL_OK if secret matches hash, RL_EAUTH otherwise. */
int rl_secret_verify(const char *hash, const char *secret);

/* rl_secret_random fills buf with len bytes from the CSPRNG. */
void rl_secret_random(void *buf, size_t len);

#endif
