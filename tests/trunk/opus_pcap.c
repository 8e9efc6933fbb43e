/*
 * opus_pcap.c - see opus_pcap.h. Plain byte writing: no libpcap, no packet library.
 */
#include "opus_pcap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opus/opus.h>

#include "rl_err.h"

#define OP_CLOCK    48000           /* Opus RTP clock (RFC 7587) */
#define OP_FRAME_TS (OP_CLOCK / 50) /* 20 ms on that clock */
#define OP_MAX      1275            /* largest Opus frame (RFC 6716 3.4) */
#define OP_BPS      28000           /* as a wideband carrier would send, FEC included (node/carrier.h) */
#define OP_ETH      14
#define OP_IP       20
#define OP_UDP      8
#define OP_RTP      12
#define OP_HDRS     (OP_ETH + OP_IP + OP_UDP + OP_RTP)
#define OP_SPORT    4000 /* placeholders: sipp sends from its media port to the node's */
#define OP_DPORT    6000
#define OP_T0       1700000000u /* capture time of the first packet (any will do) */

static void be16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	be16(p, v >> 16);
	be16(p + 2, v & 0xffff);
}

/* The pcap headers are in the writer's byte order, told by the magic: we write little-endian. */
static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The IPv4 header checksum (RFC 791) over len bytes. */
static unsigned ip_sum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

/* Writes the Ethernet, IPv4, UDP and RTP headers of a packet with len payload bytes. */
static void headers(uint8_t *h, size_t len, int pt, int marker, unsigned seq, uint32_t ts, uint32_t ssrc)
{
	static const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01}; /* dst, src */
	uint8_t *ip = h + OP_ETH, *udp = ip + OP_IP, *rtp = udp + OP_UDP;

	memset(h, 0, OP_HDRS);
	memcpy(h, macs, sizeof(macs));
	be16(h + 12, 0x0800);
	ip[0] = 0x45; /* version 4, 5 words */
	be16(ip + 2, (unsigned)(OP_IP + OP_UDP + OP_RTP + len));
	be16(ip + 4, seq);
	be16(ip + 6, 0x4000); /* don't fragment */
	ip[8] = 64;
	ip[9] = 17; /* UDP */
	be32(ip + 12, 0x7f000001);
	be32(ip + 16, 0x7f000001);
	be16(ip + 10, ip_sum(ip, OP_IP));
	be16(udp, OP_SPORT);
	be16(udp + 2, OP_DPORT);
	be16(udp + 4, (unsigned)(OP_UDP + OP_RTP + len)); /* checksum 0: none (IPv4), sipp sets it */
	rtp[0] = 0x80;
	rtp[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
	be16(rtp + 2, seq);
	be32(rtp + 4, ts);
	be32(rtp + 8, ssrc);
}

int rl_opus_pcap_write(const char *path, const int16_t *pcm, size_t n, unsigned rate, int pt, uint32_t ssrc,
                       unsigned *npkts)
{
	uint8_t gh[24], rec[16 + OP_HDRS + OP_MAX];
	int16_t *frame = NULL;
	OpusEncoder *enc = NULL;
	FILE *f = NULL;
	size_t fn = rate / 50;
	unsigned count = 0;
	int err, rv = RL_OK;

	if (npkts != NULL)
		*npkts = 0;
	if ((rate != 8000 && rate != 12000 && rate != 16000 && rate != 24000 && rate != 48000) || pt < 96 || pt > 127 ||
	    pcm == NULL || n == 0)
		return RL_EINVAL;
	if ((frame = malloc(fn * sizeof(*frame))) == NULL)
		return RL_ENOMEM;
	if ((enc = opus_encoder_create((opus_int32)rate, 1, OPUS_APPLICATION_VOIP, &err)) == NULL) {
		rv = err == OPUS_ALLOC_FAIL ? RL_ENOMEM : RL_EPROTO;
		goto out;
	}
	opus_encoder_ctl(enc, OPUS_SET_BITRATE(OP_BPS));
	opus_encoder_ctl(enc, OPUS_SET_VBR(1));
	opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1)); /* what a=fmtp:... useinbandfec=1 promises */
	opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(5));
	opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	if ((f = fopen(path, "wb")) == NULL) {
		rv = RL_EIO;
		goto out;
	}
	le32(gh, 0xa1b2c3d4);
	gh[4] = 2, gh[5] = 0, gh[6] = 4, gh[7] = 0; /* version 2.4, little-endian 16-bit fields */
	le32(gh + 8, 0);                            /* thiszone */
	le32(gh + 12, 0);                           /* sigfigs */
	le32(gh + 16, 65535);                       /* snaplen */
	le32(gh + 20, 1);                           /* LINKTYPE_ETHERNET */
	if (fwrite(gh, sizeof(gh), 1, f) != 1) {
		rv = RL_EIO;
		goto out;
	}
	for (size_t at = 0; at < n; at += fn, count++) {
		size_t take = n - at < fn ? n - at : fn;
		uint8_t *pkt = rec + 16;
		uint64_t us = (uint64_t)count * 20000;
		int len;

		memcpy(frame, pcm + at, take * sizeof(*frame));
		memset(frame + take, 0, (fn - take) * sizeof(*frame));
		len = opus_encode(enc, frame, (int)fn, pkt + OP_HDRS, OP_MAX);
		if (len <= 0) {
			rv = len == OPUS_ALLOC_FAIL ? RL_ENOMEM : RL_EPROTO;
			goto out;
		}
		headers(pkt, (size_t)len, pt, count == 0, (count + 1) & 0xffff, (uint32_t)count * OP_FRAME_TS, ssrc);
		le32(rec, OP_T0 + (uint32_t)(us / 1000000));
		le32(rec + 4, (uint32_t)(us % 1000000));
		le32(rec + 8, (uint32_t)(OP_HDRS + len));  /* captured */
		le32(rec + 12, (uint32_t)(OP_HDRS + len)); /* on the wire: the same, sipp wants whole packets */
		if (fwrite(rec, 16 + OP_HDRS + (size_t)len, 1, f) != 1) {
			rv = RL_EIO;
			goto out;
		}
	}
	if (npkts != NULL)
		*npkts = count;
out:
	if (f != NULL && fclose(f) != 0 && rv == RL_OK)
		rv = RL_EIO;
	if (enc != NULL)
		opus_encoder_destroy(enc);
	free(frame);
	return rv;
}
