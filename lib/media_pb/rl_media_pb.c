#include "rl_media_pb.h"

#include <stdio.h>
#include <string.h>

#include "rl_err.h"
#include "rl_id.h"
#include "rl_srtp.h"

int rl_media_leg_from_pb(struct rl_media_leg *leg, const Relais__MediaLeg *m)
{
	size_t kl = rl_srtp_key_len((int)m->suite);

	memset(leg, 0, sizeof(*leg));
	if (kl == 0 || m->tx_key.len != kl || m->rx_key.len != kl || m->tx_ssrc == 0 || m->rx_ssrc == 0 ||
	    m->tx_ssrc == m->rx_ssrc || m->payload_type > 127 || !rl_id_ok(m->contact_id) ||
	    !rl_text_ok(m->peer_addr, RL_ID_MAX) || (m->latch_key.len != 0 && m->latch_key.len != RL_LATCH_KEY_LEN) ||
	    (m->peer_latch_key.len != 0 && m->peer_latch_key.len != RL_LATCH_KEY_LEN))
		return RL_EINVAL;
	snprintf(leg->id, sizeof(leg->id), "%s", m->contact_id);
	leg->suite = (int)m->suite;
	memcpy(leg->tx_key, m->tx_key.data, kl);
	memcpy(leg->rx_key, m->rx_key.data, kl);
	leg->key_len = kl;
	leg->tx_ssrc = m->tx_ssrc;
	leg->rx_ssrc = m->rx_ssrc;
	leg->pt = (uint8_t)(m->payload_type ? m->payload_type : RL_MEDIA_PT_OPUS);
	snprintf(leg->peer, sizeof(leg->peer), "%s", m->peer_addr ? m->peer_addr : "");
	if ((leg->has_latch_key = m->latch_key.len != 0))
		memcpy(leg->latch_key, m->latch_key.data, RL_LATCH_KEY_LEN);
	if ((leg->has_peer_latch_key = m->peer_latch_key.len != 0))
		memcpy(leg->peer_latch_key, m->peer_latch_key.data, RL_LATCH_KEY_LEN);
	return RL_OK;
}

void rl_media_quality_pb(const struct rl_media_quality *q, const char *id, int final, Relais__CallQuality *out)
{
	relais__call_quality__init(out);
	out->contact_id = (char *)id;
	out->rx_packets = q->rx_packets;
	out->lost = q->lost;
	out->loss_pct = (float)q->loss_pct;
	out->jitter_ms = (float)q->jitter_ms;
	out->rtt_ms = (float)q->rtt_ms;
	out->playout_ms = (float)q->playout_ms;
	out->fec = q->fec;
	out->concealed = q->concealed;
	out->dropped = q->dropped;
	out->mos = (float)q->mos;
	out->final = final;
}
