#include "plan.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"
#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_secret.h"

static uint32_t rl_plan_ssrc(struct rl_relay *relay, uint32_t other)
{
	uint32_t s;

	/* Random, nonzero, distinct from the other end's and from every live relay call's. */
	do
		rl_secret_random(&s, sizeof(s));
	while (s == 0 || s == other || (relay != NULL && !rl_relay_ssrc_free(relay, s)));
	return s;
}

int rl_plan_new(struct rl_plan **out, const struct rl_plan_where *w)
{
	struct rl_plan *p;
	int relayed = !w->seated_here || !w->site_media[0];
	int rv;

	if (relayed && w->relay == NULL) {
		if (!w->site_media[0])
			return RL_ENOENT;
		relayed = 0; /* no relay: the agent must reach the site itself */
	}
	p = rl_calloc(1, sizeof(*p));
	p->suite = w->suite ? w->suite : RL_SRTP_AEAD_AES_128_GCM;
	p->epoch = w->epoch;
	p->key_len = rl_srtp_key_len(p->suite);
	if (p->key_len == 0 || rl_srtp_keygen(p->suite, p->key_site, sizeof(p->key_site)) != RL_OK ||
	    rl_srtp_keygen(p->suite, p->key_agent, sizeof(p->key_agent)) != RL_OK) {
		free(p);
		return RL_EINVAL;
	}
	rl_latch_keygen(p->latch_site);
	rl_latch_keygen(p->latch_agent);
	p->ssrc_site = rl_plan_ssrc(relayed ? w->relay : NULL, 0);
	p->ssrc_agent = rl_plan_ssrc(relayed ? w->relay : NULL, p->ssrc_site);
	if (relayed) {
		if ((rv = rl_relay_add(w->relay, w->relay_id, p->ssrc_site, p->ssrc_agent, p->latch_site,
		                       p->latch_agent)) != RL_OK) {
			sodium_memzero(p, sizeof(*p));
			free(p);
			return rv;
		}
		p->relay_id = w->relay_id;
		snprintf(p->site_peer, sizeof(p->site_peer), "%s", rl_relay_advertise(w->relay));
		snprintf(p->agent_peer, sizeof(p->agent_peer), "%s", rl_relay_advertise(w->relay));
	} else {
		p->site_peer[0] = 0; /* the site answers where its seated agent last proved its leg */
		snprintf(p->agent_peer, sizeof(p->agent_peer), "%s", w->site_media);
	}
	*out = p;
	return RL_OK;
}

void rl_plan_leg(const struct rl_plan *p, const char *contact_id, int agent_side, Relais__MediaLeg *leg)
{
	relais__media_leg__init(leg);
	leg->contact_id = (char *)contact_id;
	leg->epoch = p->epoch;
	leg->relayed = p->relay_id != 0;
	leg->suite = (Relais__SrtpSuite)p->suite;
	leg->payload_type = 111;
	if (agent_side) {
		leg->peer_addr = (char *)p->agent_peer;
		leg->tx_ssrc = p->ssrc_agent;
		leg->tx_key.data = (uint8_t *)p->key_agent;
		leg->rx_ssrc = p->ssrc_site;
		leg->rx_key.data = (uint8_t *)p->key_site;
		leg->latch_key.data = (uint8_t *)p->latch_agent;
	} else {
		leg->peer_addr = (char *)p->site_peer;
		leg->tx_ssrc = p->ssrc_site;
		leg->tx_key.data = (uint8_t *)p->key_site;
		leg->rx_ssrc = p->ssrc_agent;
		leg->rx_key.data = (uint8_t *)p->key_agent;
		leg->latch_key.data = (uint8_t *)p->latch_site;
		if (p->relay_id == 0) {
			/* the agent talks straight to the site, which checks its proofs */
			leg->peer_latch_key.data = (uint8_t *)p->latch_agent;
			leg->peer_latch_key.len = RL_LATCH_KEY_LEN;
		}
	}
	leg->tx_key.len = p->key_len;
	leg->rx_key.len = p->key_len;
	leg->latch_key.len = RL_LATCH_KEY_LEN;
}

void rl_quality_keep(struct rl_call_quality *cq, int side, const Relais__CallQuality *q)
{
	int i = side == RL_SIDE_SITE ? 0 : 1;

	cq->q[i] = *q;
	cq->q[i].contact_id = (char *)protobuf_c_empty_string;
	cq->q[i].side = (uint32_t)side;
	cq->has[i] = 1;
}

Relais__CallQuality *rl_quality_get(struct rl_call_quality *cq, int side)
{
	int i = side == RL_SIDE_SITE ? 0 : 1;

	return cq->has[i] ? &cq->q[i] : NULL;
}

Relais__CallQuality *rl_quality_dup(struct rl_call_quality *cq, int side)
{
	const Relais__CallQuality *q = rl_quality_get(cq, side);
	Relais__CallQuality *d;

	if (q == NULL)
		return NULL;
	d = rl_malloc(sizeof(*d));
	*d = *q;
	return d;
}

void rl_plan_free(struct rl_plan *p, struct rl_relay *relay)
{
	if (p == NULL)
		return;
	if (p->relay_id && relay != NULL)
		rl_relay_del(relay, p->relay_id);
	sodium_memzero(p, sizeof(*p));
	free(p);
}
