#include "rl_srtp_suite.h"

#include "rl_err.h"
#include "rl_secret.h"

size_t rl_srtp_key_len(int suite)
{
	switch (suite) {
	case RL_SRTP_AEAD_AES_128_GCM:
		return 16 + 12; /* RFC 7714: 128-bit key, 96-bit salt */
	case RL_SRTP_AES_CM_128_HMAC_SHA1_80:
		return 16 + 14; /* RFC 3711: 128-bit key, 112-bit salt */
	}
	return 0;
}

const char *rl_srtp_suite_name(int suite)
{
	switch (suite) {
	case RL_SRTP_AEAD_AES_128_GCM:
		return "AEAD_AES_128_GCM";
	case RL_SRTP_AES_CM_128_HMAC_SHA1_80:
		return "AES_CM_128_HMAC_SHA1_80";
	}
	return "?";
}

int rl_srtp_keygen(int suite, uint8_t *key, size_t len)
{
	size_t n = rl_srtp_key_len(suite);

	if (n == 0 || key == NULL || len < n)
		return RL_EINVAL;
	rl_secret_random(key, n);
	return RL_OK;
}
