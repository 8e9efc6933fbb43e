/*
 * rl_key.h - principal keys: Ed25519 (libsodium) keys of site nodes and operators, and the
 * proof a link gives at Hello that it holds one.
 *
 * The Debian nng (1.5.2) does not tell the application the names in a peer's TLS
 * certificate, so a certificate signed by the cluster's CA proves only that the peer belongs
 * to the cluster, not which site or operator it is. Each site and each operator therefore has
 * a key pair of its own: the public half is in the configs of those who check it (the hub;
 * a node for the operators its local tools act as), the secret half only in a file of the
 * principal's (mode 0600). At Hello the checking side sends a fresh 32-byte challenge and
 * the principal answers with a signature over it, its role and its id (rl_key_prove).
 *
 * Files and config values are base64 (libsodium's original variant): a secret key file holds
 * the 32-byte seed on one line; a public key is 32 bytes (44 characters).
 */
#ifndef RL_KEY_H
#define RL_KEY_H

#include <stddef.h>
#include <stdint.h>

#define RL_KEY_PUB       32
#define RL_KEY_SIG       64
#define RL_KEY_CHALLENGE 32
#define RL_KEY_TEXT      64 /* room for a base64 public key or seed and its NUL */

struct rl_key {
	uint8_t pk[RL_KEY_PUB];
	uint8_t sk[64]; /* libsodium's secret key: seed and public key */
};

/* rl_key_generate makes a new key pair from the CSPRNG. */
void rl_key_generate(struct rl_key *k);

/* rl_key_save writes k's seed to path (created 0600, never overwritten). Errors: RL_EEXIST,
 * RL_EIO. */
int rl_key_save(const struct rl_key *k, const char *path);

/* rl_key_load reads a key file written by rl_key_save. Errors: RL_ENOENT, RL_EIO, RL_EINVAL
 * (not a key), RL_EPERM (the file can be read by others than its owner). */
int rl_key_load(struct rl_key *k, const char *path);

/* rl_key_wipe erases the secret half. */
void rl_key_wipe(struct rl_key *k);

/* rl_key_pub_text writes k's public key in base64 into out (RL_KEY_TEXT bytes). */
void rl_key_pub_text(const uint8_t pk[RL_KEY_PUB], char *out);

/* rl_key_pub_parse reads a base64 public key. Errors: RL_EINVAL. */
int rl_key_pub_parse(const char *text, uint8_t pk[RL_KEY_PUB]);

/* rl_key_challenge fills a fresh challenge from the CSPRNG. */
void rl_key_challenge(uint8_t challenge[RL_KEY_CHALLENGE]);

/* rl_key_prove signs (challenge, role, id) with k: the proof a principal gives at Hello. */
void rl_key_prove(const struct rl_key *k, const uint8_t challenge[RL_KEY_CHALLENGE], int role, const char *id,
                  uint8_t sig[RL_KEY_SIG]);

/* rl_key_check: RL_OK when sig (len bytes) is the proof of (challenge, role, id) under pk,
 * else RL_EAUTH. */
int rl_key_check(const uint8_t pk[RL_KEY_PUB], const uint8_t challenge[RL_KEY_CHALLENGE], int role, const char *id,
                 const uint8_t *sig, size_t len);

#endif
