/*
 * fuzz_sdp: the node's own handling of the bodies a carrier sends its SIP glue. The first
 * input byte picks what the rest is:
 *   - bit 7 clear: an SDP offer - what node/sip_sdp.c makes of sofia's parse of it (stream
 *     choice, codec and telephone-event negotiation, addresses and ports, hold) and the answer
 *     it writes back; bits 0-2 are the accepted codec set;
 *   - bit 7 set: the body of a SIP INFO carrying a key press (node/sip_dtmf.c), of type
 *     application/dtmf when bit 6 is set, application/dtmf-relay when it is clear.
 */
#include "fuzz.h"
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "rl_err.h"
#include "sip.h"

/* What an accepted offer's address must be: unicast, or unspecified and then on hold. Judged
 * here from the text, independently of sip_sdp.c. */
static void check_addr(const struct rl_sip_media *m)
{
	uint8_t a[16];
	const uint8_t *v4 = NULL;
	int unspec = 0;

	if (inet_pton(AF_INET, m->ip, a) == 1) {
		v4 = a;
	} else if (inet_pton(AF_INET6, m->ip, a) == 1) {
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		static const uint8_t zero[16];
		if (a[0] == 0xff)
			__builtin_trap(); /* IPv6 multicast */
		unspec = memcmp(a, zero, 16) == 0;
		if (memcmp(a, mapped, 12) == 0)
			v4 = a + 12;
	} else {
		__builtin_trap(); /* not an IP literal */
	}
	if (v4 != NULL) {
		if ((v4[0] & 0xf0) == 0xe0 || (v4[0] & v4[1] & v4[2] & v4[3]) == 0xff)
			__builtin_trap(); /* IPv4 multicast or broadcast */
		unspec = unspec || (v4[0] | v4[1] | v4[2] | v4[3]) == 0;
	}
	if (unspec != m->unspecified || (unspec && !m->hold))
		__builtin_trap();
}

static void dtmf_body(const uint8_t *data, size_t size)
{
	const char *ctype = (data[0] & 0x40) ? "application/dtmf" : "application/dtmf-relay";
	unsigned ms = 12345;
	char key = 'x';
	int rv = rl_sip_dtmf_body(ctype, (const char *)data + 1, size - 1, &key, &ms);

	if (rv == RL_OK) {
		if (key == '\0' || strchr("0123456789*#ABCD", key) == NULL || ms > RL_SIP_DTMF_MS_MAX ||
		    size - 1 > RL_SIP_DTMF_BODY_MAX)
			__builtin_trap();
	} else if (key != '\0' || ms != 0) {
		__builtin_trap(); /* a refused body leaves nothing half-read */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rl_sip_offer o;
	struct rl_sip_local l;
	char body[20000], answer[8192];
	unsigned accept;
	int n;

	if (size < 1 || size - 1 >= sizeof(body))
		return 0;
	if (data[0] & 0x80) {
		dtmf_body(data, size);
		return 0;
	}
	accept = (data[0] & 7) ? (data[0] & 7) : (RL_SIP_PCMU | RL_SIP_PCMA);
	memcpy(body, data + 1, size - 1);
	body[size - 1] = 0;
	if (rl_sip_sdp_offer(&o, body, size - 1, accept) != RL_OK)
		return 0;
	/* What the node relies on from an accepted offer. */
	if (o.media.port == 0 || o.media.ip[0] == 0 || !(o.media.codec & accept) || o.n_streams == 0 ||
	    o.n_streams > RL_SIP_STREAMS_MAX || o.audio >= o.n_streams)
		__builtin_trap();
	check_addr(&o.media);
	memset(&l, 0, sizeof(l));
	strcpy(l.ip, "127.0.0.1");
	l.port = 40000;
	l.codec = o.media.codec;
	l.dtmf_pt = o.media.dtmf_pt;
	l.sess_id = 1;
	l.version = 1;
	n = rl_sip_sdp_answer(answer, sizeof(answer), &o, &l);
	if (n >= 0 && (size_t)n >= sizeof(answer))
		__builtin_trap();
	if (n >= 0) {
		/* Our answer must be an offer we accept in turn (a parse round trip). */
		struct rl_sip_offer back;
		if (rl_sip_sdp_offer(&back, answer, (size_t)n, (unsigned)l.codec) == RL_OK && back.media.port != 40000)
			__builtin_trap();
	}
	return 0;
}
