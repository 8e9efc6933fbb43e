/*
 * rl_srtp_suite.h - the SRTP crypto suites of Relais and their keys, without libsrtp.
 *
 * The hub makes a fresh master key (key || salt) per call and direction and sends it in the
 * call's MediaLeg over the TLS control channel; the ends open SRTP contexts with it
 * (rl_srtp.h). Both sides need the suites' names and key lengths, and the hub needs nothing
 * else of SRTP, so this part stays out of the voice path's library.
 */
#ifndef RL_SRTP_SUITE_H
#define RL_SRTP_SUITE_H

#include <stddef.h>
#include <stdint.h>

enum rl_srtp_suite {
	RL_SRTP_AEAD_AES_128_GCM = 1,
	RL_SRTP_AES_CM_128_HMAC_SHA1_80 = 2,
};

#define RL_SRTP_KEY_MAX 30 /* longest master key + salt of the suites above */

/* rl_srtp_key_len returns the master key + salt length of suite (28 GCM, 30 CM), 0 if unknown. */
size_t rl_srtp_key_len(int suite);

/* rl_srtp_suite_name returns "AEAD_AES_128_GCM" etc., or "?" */
const char *rl_srtp_suite_name(int suite);

/* rl_srtp_keygen fills key with rl_srtp_key_len(suite) bytes from the CSPRNG.
 * Errors: RL_EINVAL (unknown suite or len too small). */
int rl_srtp_keygen(int suite, uint8_t *key, size_t len);

#endif
