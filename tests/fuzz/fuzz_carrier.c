/*
 * fuzz_carrier: the carrier's RTP leg (node/carrier.c) as the network and the node drive
 * it: datagrams from several sources (strict RTP, latching), RTP parsing, SSRC following,
 * splitting and repacketising into the jitter buffer, G.711 decoding and concealment,
 * 8 <-> 16 kHz resampling, Opus packet checks, decoding, FEC and PLC, Opus encoding, RFC
 * 4733 events both ways (at event clocks of 8000 and 48000), hold and re-INVITEs.
 *
 * The first byte chooses the leg: bit 0 PCMA, bit 1 16 kHz, bit 2 symmetric RTP off, bit 3
 * Opus on type 111 (bits 0 and 4 are then ignored), bit 4 G.711 on a dynamic type (97), bit 5
 * telephone-event/48000. Then records [kind:1][len:2 BE][bytes], kind & 7:
 *   0 inject the bytes as they are (up to 1600: oversized ones too)
 *   1 the same made RTP audio: version 2, no CSRC/extension/padding, the leg's type
 *   2 the same made a telephone-event (type 101)
 *   3 switch the source address among 8 (bytes[0]), or to none if bytes[0] & 0x80
 *   4 read one 20 ms frame, the clock moving 20 ms plus bytes[0] ms of jitter
 *   5 write one 20 ms frame made of the bytes
 *   6 steer: set_peer (a re-INVITE), forget the peer, hold on/off, queue a digit to send
 *   7 take the received digits
 * Each input gets a fresh leg on a virtual clock. Invariants: every datagram is counted in
 * exactly one class; digits are digits, and taken + dropped = decoded; on hold the source
 * is silent; a read is a frame, concealed or FEC-rebuilt at most once; a G.711 leg has no
 * Opus-only counts.
 */
#include "fuzz.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "carrier.h"
#include "rl_err.h"

#define PT_EV 101

/* Sockets that never read: the sources datagrams claim to come from, so that whatever the
 * leg sends (to the SDP peer, or to a learned source) lands on a socket of ours. */
#define NSRC 8
static int g_ready;
static unsigned g_port[NSRC];

static uint64_t fz_now(void *arg)
{
	return *(uint64_t *)arg;
}

static int fz_setup(void)
{
	int small = 4096;

	if (g_ready)
		return 0;
	for (int i = 0; i < NSRC; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(a);
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
			close(fd);
			return -1;
		}
		g_port[i] = ntohs(a.sin_port); /* kept open for the life of the process */
	}
	g_ready = 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rl_carrier_conf conf;
	struct rl_carrier *c;
	struct rl_carrier_stats st;
	struct rl_audio_src *src;
	struct rl_audio_sink *sink;
	struct sockaddr_in from = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001), .sin_port = 0};
	int has_from = 1, hold = 0;
	uint64_t clk = 1000000, injected = 0, reads = 0, taken = 0;
	static uint8_t buf[1600];
	int16_t pcm[640];
	char d;

	if (size < 1 || fz_setup() != 0)
		return 0;
	rl_carrier_conf_default(&conf);
	if (data[0] & 8) {
		conf.codec = RL_CARRIER_OPUS;
		conf.pt = 111;
	} else {
		conf.codec = data[0] & 1 ? RL_CARRIER_G711A : RL_CARRIER_G711U;
		conf.pt = data[0] & 16 ? 97 : -1;
	}
	conf.dtmf_pt = PT_EV;
	conf.dtmf_clock = data[0] & 32 ? 48000 : 8000;
	conf.rate = data[0] & 2 ? 16000 : 8000;
	conf.symmetric = !(data[0] & 4);
	data++;
	size--;
	if (rl_carrier_open(&c, "127.0.0.1", &conf) != RL_OK)
		return 0;
	rl_carrier_set_clock(c, fz_now, &clk);
	from.sin_port = htons((uint16_t)g_port[0]);
	src = rl_carrier_src(c);
	sink = rl_carrier_sink(c);
	const size_t frame = conf.rate / 50;
	const uint8_t pt = (uint8_t)(conf.pt >= 0 ? conf.pt : conf.codec == RL_CARRIER_G711A ? 8 : 0);

	while (size >= 3) {
		unsigned kind = data[0] & 7;
		size_t len = (size_t)data[1] << 8 | data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > sizeof(buf))
			len = sizeof(buf);
		memcpy(buf, data, len);
		data += len;
		size -= len;
		switch (kind) {
		case 1:
		case 2:
			if (len >= 12) {
				buf[0] = 0x80;
				buf[1] = (uint8_t)((buf[1] & 0x80) | (kind == 1 ? pt : PT_EV));
			}
			/* fall through */
		case 0: {
			int rv = rl_carrier_inject(c, buf, len, has_from ? &from : NULL, has_from ? sizeof(from) : 0);
			CHECK(rv == (len > 1500 ? RL_ETOOBIG : RL_OK));
			injected++;
			break;
		}
		case 3:
			has_from = !(len > 0 && (buf[0] & 0x80));
			from.sin_port = htons((uint16_t)g_port[len > 0 ? buf[0] % NSRC : 0]);
			break;
		case 4:
			CHECK(src->read(src, pcm, frame) == RL_OK);
			reads++;
			if (hold)
				for (size_t i = 0; i < frame; i++)
					CHECK(pcm[i] == 0);
			clk += 20000 + (len > 0 ? (uint64_t)buf[0] * 1000 : 0);
			break;
		case 5:
			memset(pcm, 0, sizeof(pcm));
			memcpy(pcm, buf, len < frame * 2 ? len : frame * 2);
			CHECK(sink->write(sink, pcm, frame) == RL_OK);
			break;
		case 6:
			if (len == 0)
				break;
			switch (buf[0] & 3) {
			case 0:
				CHECK(rl_carrier_set_peer(c, "127.0.0.1", g_port[NSRC - 1]) == RL_OK);
				break;
			case 1:
				CHECK(rl_carrier_set_peer(c, NULL, 0) == RL_OK);
				break;
			case 2:
				hold = (buf[0] >> 2) & 1;
				rl_carrier_hold(c, hold);
				break;
			default: {
				int rv = rl_carrier_send_dtmf(c, "0123456789*#ABCDx"[(buf[0] >> 2) % 17],
				                              len > 1 ? buf[1] * 40u : 100);
				CHECK(rv == RL_OK || rv == RL_EFULL || rv == RL_EINVAL);
				break;
			}
			}
			break;
		default:
			while (rl_carrier_dtmf(c, &d) == RL_OK) {
				CHECK(d != 0 && strchr("0123456789*#ABCD", d) != NULL);
				taken++;
			}
			break;
		}
	}
	while (rl_carrier_dtmf(c, &d) == RL_OK) {
		CHECK(d != 0 && strchr("0123456789*#ABCD", d) != NULL);
		taken++;
	}
	rl_carrier_stats(c, &st);
	CHECK(st.rx == injected);
	CHECK(st.rx == st.oversized + st.malformed + st.rtcp + st.wrong_pt + st.wrong_ptime + st.wrong_src +
	                   st.wrong_ssrc + st.audio + st.dtmf_packets);
	CHECK(st.frames == reads);
	CHECK(st.dtmf_digits == taken + st.dtmf_overflow);
	CHECK(st.concealed + st.fec <= st.frames);
	CHECK(conf.codec == RL_CARRIER_OPUS || (st.wrong_ptime == 0 && st.fec == 0));
	src->close(src);
	rl_carrier_close(c);
	sink->close(sink);
	return 0;
}
