/*
 * fuzz_media: the voice path's receive side as a whole - what a site node or an agent does
 * with a datagram from the network: SSRC demultiplexing, SRTP/SRTCP authentication and
 * decryption, RTP and RTCP parsing, receive statistics, latch packets and latching, the
 * jitter buffer and the decoder behind it (the engine's thread plays what got in).
 *
 * The input is a sequence of records [kind:1][len:2 BE][bytes]: kind 0 (and 6, 7) injects
 * the bytes as they are; 1 protects them with the peer's key as RTP first (so they pass
 * authentication and reach the parsers and the jitter buffer), 2 the same as RTCP; 3 changes
 * the source address; 4 sends a valid proof of the peer's leg (its latch secret) from the
 * current source, with the record's first 8 bytes as counter; 5 injects the bytes as a latch
 * packet (first byte 0x0C) for rl_latch_parse. Each input starts with a fresh call (fresh
 * replay window and latch counter) and a proof from the first source, so that what follows
 * reaches past the source check.
 */
#include "fuzz.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rl_err.h"
#include "rl_latch.h"
#include "rl_media.h"
#include "rl_srtp.h"

#define RX_SSRC 0x11111111u
#define TX_SSRC 0x22222222u

static struct rl_media *g_media;
static uint8_t g_key_rx[RL_SRTP_KEY_MAX], g_key_tx[RL_SRTP_KEY_MAX], g_latch[RL_LATCH_KEY_LEN];

static int fz_setup(void)
{
	if (g_media != NULL)
		return 0;
	for (int i = 0; i < RL_SRTP_KEY_MAX; i++) {
		g_key_rx[i] = (uint8_t)(i * 7 + 1);
		g_key_tx[i] = (uint8_t)(i * 11 + 3);
	}
	for (int i = 0; i < RL_LATCH_KEY_LEN; i++)
		g_latch[i] = (uint8_t)(i * 13 + 5);
	return rl_media_open(&g_media, "127.0.0.1:0", 0) == RL_OK ? 0 : -1;
}

static int fz_call(void)
{
	struct rl_media_leg leg;

	memset(&leg, 0, sizeof(leg));
	snprintf(leg.id, sizeof(leg.id), "fuzz");
	leg.suite = RL_SRTP_AEAD_AES_128_GCM;
	leg.key_len = rl_srtp_key_len(leg.suite);
	memcpy(leg.tx_key, g_key_tx, leg.key_len);
	memcpy(leg.rx_key, g_key_rx, leg.key_len);
	leg.tx_ssrc = TX_SSRC;
	leg.rx_ssrc = RX_SSRC;
	leg.rate = 16000;
	memcpy(leg.peer_latch_key, g_latch, RL_LATCH_KEY_LEN); /* no peer: it latches on the peer's proofs */
	leg.has_peer_latch_key = 1;
	if (rl_audio_gen_src(&leg.src, 16000, 1, 0) != RL_OK)
		return -1;
	if (rl_audio_null_sink(&leg.sink, 16000) != RL_OK) {
		leg.src->close(leg.src);
		return -1;
	}
	if (rl_media_add(g_media, &leg) != RL_OK) {
		leg.src->close(leg.src);
		leg.sink->close(leg.sink);
		return -1;
	}
	return 0;
}

/* fz_prove injects a proof of the peer's leg with counter from `from`. */
static void fz_prove(uint64_t counter, const struct sockaddr_in *from)
{
	uint8_t p[RL_LATCH_LEN];

	rl_latch_write(p, RX_SSRC, counter, g_latch);
	rl_media_inject(g_media, p, sizeof(p), from, sizeof(*from));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rl_srtp *peer = NULL;
	struct sockaddr_in from = {
	    .sin_family = AF_INET, .sin_port = htons(40000), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	uint8_t buf[1600];

	if (fz_setup() != 0 || fz_call() != 0)
		return 0;
	if (rl_srtp_open(&peer, RL_SRTP_AEAD_AES_128_GCM, g_key_rx, rl_srtp_key_len(RL_SRTP_AEAD_AES_128_GCM), 1) !=
	    RL_OK)
		return 0;
	fz_prove(1, &from);
	while (size >= 3) {
		unsigned kind = data[0] & 7;
		size_t len = (size_t)data[1] << 8 | data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > 1500)
			len = 1500;
		memcpy(buf, data, len);
		data += len;
		size -= len;
		if (kind == 3) {
			from.sin_port = htons((uint16_t)(40000 + len));
			continue;
		}
		if (kind == 4) {
			uint64_t counter = 0;
			for (size_t i = 0; i < 8 && i < len; i++)
				counter = counter << 8 | buf[i];
			fz_prove(counter, &from);
			continue;
		}
		if (kind == 5 && len > 0)
			buf[0] = RL_LATCH_TYPE;
		if (kind == 1 && len >= 12) {
			/* make it RTP from the peer: version 2, the peer's SSRC */
			buf[0] = (uint8_t)((buf[0] & 0x3f) | 0x80);
			buf[8] = 0x11, buf[9] = 0x11, buf[10] = 0x11, buf[11] = 0x11;
			if (rl_srtp_protect(peer, buf, &len, sizeof(buf)) != RL_OK)
				continue;
		} else if (kind == 2 && len >= 8) {
			buf[0] = (uint8_t)((buf[0] & 0x3f) | 0x80);
			buf[1] = (uint8_t)(200 + (buf[1] & 1)); /* SR or RR */
			buf[4] = 0x11, buf[5] = 0x11, buf[6] = 0x11, buf[7] = 0x11;
			if (rl_srtp_protect_rtcp(peer, buf, &len, sizeof(buf)) != RL_OK)
				continue;
		}
		rl_media_inject(g_media, buf, len, &from, sizeof(from));
	}
	rl_srtp_close(peer);
	return 0;
}
