#include "rl_latch.h"

#include <sodium.h>
#include <string.h>

#include "rl_err.h"
#include "rl_secret.h"
#include "rl_time.h"

#define RL_LATCH_SIGNED 16 /* bytes the MAC covers: type .. counter */

void rl_latch_keygen(uint8_t *key)
{
	rl_secret_random(key, RL_LATCH_KEY_LEN);
}

static void rl_latch_mac(const uint8_t *signed_part, const uint8_t *key, uint8_t *mac)
{
	uint8_t full[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256(full, signed_part, RL_LATCH_SIGNED, key);
	memcpy(mac, full, RL_LATCH_MAC_LEN);
	sodium_memzero(full, sizeof(full));
}

void rl_latch_write(uint8_t *out, uint32_t ssrc, uint64_t counter, const uint8_t *key)
{
	out[0] = RL_LATCH_TYPE;
	out[1] = RL_LATCH_VERSION;
	out[2] = out[3] = 0;
	for (int i = 0; i < 4; i++)
		out[4 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		out[8 + i] = (uint8_t)(counter >> (56 - 8 * i));
	rl_latch_mac(out, key, out + RL_LATCH_SIGNED);
}

int rl_latch_parse(const uint8_t *buf, size_t len, uint32_t *ssrc, uint64_t *counter)
{
	uint64_t c = 0;

	if (len != RL_LATCH_LEN || buf[0] != RL_LATCH_TYPE || buf[1] != RL_LATCH_VERSION || buf[2] != 0 || buf[3] != 0)
		return RL_EINVAL;
	*ssrc = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
	for (int i = 8; i < 16; i++)
		c = c << 8 | buf[i];
	*counter = c;
	return RL_OK;
}

int rl_latch_verify(const uint8_t *buf, const uint8_t *key)
{
	uint8_t mac[RL_LATCH_MAC_LEN];
	int same;

	rl_latch_mac(buf, key, mac);
	same = sodium_memcmp(mac, buf + RL_LATCH_SIGNED, RL_LATCH_MAC_LEN) == 0;
	return same ? RL_OK : RL_EAUTH;
}

int rl_latch_tx_due(const struct rl_latch_tx *tx, uint64_t now)
{
	return tx->next_us == 0 || now >= tx->next_us;
}

void rl_latch_tx_next(struct rl_latch_tx *tx, uint8_t *out, uint32_t ssrc, const uint8_t *key, uint64_t now)
{
	uint64_t wall = rl_wall_us();

	/* the wall clock keeps the counter increasing across a restart of this end (rl_latch.h) */
	tx->counter = wall > tx->counter ? wall : tx->counter + 1;
	rl_latch_write(out, ssrc, tx->counter, key);
	tx->sent++;
	tx->next_us = now + (tx->sent < RL_LATCH_BURST ? RL_LATCH_BURST_US : RL_LATCH_PERIOD_US);
}
