/*
 * fuzz_media: the voice path's receive side as a whole - what a site node or an agent does
 * with a datagram from the network: SSRC demultiplexing, SRTP/SRTCP authentication and
 * decryption, RTP and RTCP parsing, receive statistics, latching, the jitter buffer and the
 * decoder behind it (the engine's thread plays what got in).
 *
 * The input is a sequence of records [kind:1][len:2 BE][bytes]: kind 0 injects the bytes as
 * they are; 1 protects them with the peer's key as RTP first (so they pass authentication
 * and reach the parsers and the jitter buffer), 2 the same as RTCP; 3 changes the source
 * address. Each input starts with a fresh call (fresh replay window).
 */
#include "fuzz.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rl_err.h"
#include "rl_media.h"
#include "rl_srtp.h"

#define RX_SSRC 0x11111111u
#define TX_SSRC 0x22222222u

static struct rl_media *g_media;
static uint8_t g_key_rx[RL_SRTP_KEY_MAX], g_key_tx[RL_SRTP_KEY_MAX];

static int fz_setup(void)
{
	if (g_media != NULL)
		return 0;
	for (int i = 0; i < RL_SRTP_KEY_MAX; i++) {
		g_key_rx[i] = (uint8_t)(i * 7 + 1);
		g_key_tx[i] = (uint8_t)(i * 11 + 3);
	}
	return rl_media_open(&g_media, "127.0.0.1:0") == RL_OK ? 0 : -1;
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
	while (size >= 3) {
		unsigned kind = data[0] & 3;
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
