/*
 * fuzz_sdp: the node's own handling of the SDP a carrier sends - what node/sip_sdp.c makes
 * of sofia's parse of an offer (stream choice, codec and telephone-event negotiation,
 * addresses and ports, hold) - and the answer it writes back for it. The first input byte
 * picks the accepted codec set; the rest is the SDP body.
 */
#include "fuzz.h"
#include <stdint.h>
#include <string.h>

#include "rl_err.h"
#include "sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rl_sip_offer o;
	struct rl_sip_local l;
	char body[20000], answer[8192];
	unsigned accept;
	int n;

	if (size < 1 || size - 1 >= sizeof(body))
		return 0;
	accept = (data[0] & 7) ? (data[0] & 7) : (RL_SIP_PCMU | RL_SIP_PCMA);
	memcpy(body, data + 1, size - 1);
	body[size - 1] = 0;
	if (rl_sip_sdp_offer(&o, body, size - 1, accept) != RL_OK)
		return 0;
	/* What the node relies on from an accepted offer. */
	if (o.media.port == 0 || o.media.ip[0] == 0 || !(o.media.codec & accept) || o.n_streams == 0 ||
	    o.n_streams > RL_SIP_STREAMS_MAX || o.audio >= o.n_streams)
		__builtin_trap();
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
