/*
 * The media engine on several threads: a site engine of four shards on one loopback port,
 * and 24 calls from agent engines whose SSRCs fall on every shard. The kernel must hand each
 * datagram to the shard that owns its call (none counted as of an unknown SSRC), every call
 * must carry audio both ways, a call replaced with a new SSRC moves to its new shard, and a
 * port another socket holds is refused rather than shared.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rl_addr.h"
#include "rl_err.h"
#include "rl_media.h"
#include "rl_srtp.h"
#include "rl_time.h"
#include "rltest.h"

#define RATE   16000
#define NCALLS 24
#define SHARDS 4

static uint8_t g_key_site[RL_SRTP_KEY_MAX], g_key_agent[RL_SRTP_KEY_MAX];
static uint8_t g_latch_agent[RL_LATCH_KEY_LEN];

/* leg: call id's end at the site (agent_side 0: no peer, checks the agent's proofs) or at the
 * agent (a socket of its own, sending to the site at `site`). */
static void leg(struct rl_media_leg *l, const char *id, int agent_side, uint32_t site_ssrc, uint32_t agent_ssrc,
                const char *site)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->id, sizeof(l->id), "%s", id);
	l->suite = RL_SRTP_AEAD_AES_128_GCM;
	l->key_len = rl_srtp_key_len(l->suite);
	l->rate = RATE;
	memcpy(l->tx_key, agent_side ? g_key_agent : g_key_site, l->key_len);
	memcpy(l->rx_key, agent_side ? g_key_site : g_key_agent, l->key_len);
	l->tx_ssrc = agent_side ? agent_ssrc : site_ssrc;
	l->rx_ssrc = agent_side ? site_ssrc : agent_ssrc;
	if (agent_side) {
		snprintf(l->peer, sizeof(l->peer), "%s", site);
		memcpy(l->latch_key, g_latch_agent, RL_LATCH_KEY_LEN);
		l->has_latch_key = 1;
		l->own_socket = 1;
	} else {
		memcpy(l->peer_latch_key, g_latch_agent, RL_LATCH_KEY_LEN);
		l->has_peer_latch_key = 1;
	}
	RL_REQUIRE(rl_audio_gen_src(&l->src, RATE, site_ssrc ^ agent_ssrc, 0) == RL_OK);
	RL_REQUIRE(rl_audio_null_sink(&l->sink, RATE) == RL_OK);
}

static uint64_t rx(struct rl_media *m, const char *id)
{
	struct rl_media_quality q;

	return rl_media_quality(m, id, &q) == RL_OK ? q.rx_packets : 0;
}

/* all_heard: 1 once every call has received want packets at both ends. */
static int all_heard(struct rl_media *site, struct rl_media *agent, uint64_t want)
{
	char id[16];

	for (int i = 0; i < NCALLS; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		if (rx(site, id) < want || rx(agent, id) < want)
			return 0;
	}
	return 1;
}

/* A port held by another socket, with or without SO_REUSEPORT, is not joined. */
static void test_port_taken(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[RL_ADDR_STRLEN];
	struct rl_media *m = NULL;
	int one = 1;

	for (int reuse = 0; reuse < 2; reuse++) {
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		RL_REQUIRE(fd >= 0);
		if (reuse)
			RL_REQUIRE(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0);
		RL_REQUIRE(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
		len = sizeof(ss);
		RL_REQUIRE(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
		rl_addr_format((struct sockaddr *)&ss, addr, sizeof(addr));
		RL_CHECK(rl_media_open(&m, addr, SHARDS) == RL_ENET);
		close(fd);
	}
}

int main(void)
{
	struct rl_media *site, *agent;
	struct rl_media_leg ls, la;
	struct rl_media_counters mc;
	char id[16];

	test_port_taken();
	RL_CHECK(rl_srtp_keygen(RL_SRTP_AEAD_AES_128_GCM, g_key_site, sizeof(g_key_site)) == RL_OK);
	RL_CHECK(rl_srtp_keygen(RL_SRTP_AEAD_AES_128_GCM, g_key_agent, sizeof(g_key_agent)) == RL_OK);
	rl_latch_keygen(g_latch_agent);
	RL_REQUIRE(rl_media_open(&site, "127.0.0.1:0", SHARDS) == RL_OK);
	RL_REQUIRE(rl_media_open(&agent, NULL, 2) == RL_OK);
	RL_CHECK(rl_media_threads(site) == SHARDS);
	/* SSRCs 0x100 + i: every shard gets NCALLS / SHARDS of them. */
	for (int i = 0; i < NCALLS; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		leg(&ls, id, 0, 0x8000u + (uint32_t)i, 0x100u + (uint32_t)i, NULL);
		leg(&la, id, 1, 0x8000u + (uint32_t)i, 0x100u + (uint32_t)i, rl_media_local(site));
		RL_REQUIRE(rl_media_add(site, &ls) == RL_OK);
		RL_REQUIRE(rl_media_add(agent, &la) == RL_OK);
	}
	RL_WAIT(20000, all_heard(site, agent, 50));
	RL_CHECK(all_heard(site, agent, 50));

	/* c0 gets a new plan whose SSRC belongs to another shard: it moves and goes on. */
	leg(&ls, "c0", 0, 0x9000u, 0x201u, NULL);
	leg(&la, "c0", 1, 0x9000u, 0x201u, rl_media_local(site));
	RL_CHECK(rl_media_add(site, &ls) == RL_OK);
	RL_CHECK(rl_media_add(agent, &la) == RL_OK);
	RL_CHECK(rl_media_has(site, "c0", 0x9000u) == 1);
	RL_WAIT(20000, rx(site, "c0") >= 25 && rx(agent, "c0") >= 25);
	RL_CHECK(rx(site, "c0") >= 25 && rx(agent, "c0") >= 25);

	rl_media_counters(site, &mc);
	printf("site: %u calls on %u threads, rx %llu sent %llu unknown_ssrc %llu unlatched %llu send_fail %llu\n",
	       mc.calls, rl_media_threads(site), (unsigned long long)mc.rx, (unsigned long long)mc.sent,
	       (unsigned long long)mc.unknown_ssrc, (unsigned long long)mc.unlatched, (unsigned long long)mc.send_fail);
	RL_CHECK(mc.calls == NCALLS);
	/* Every datagram reached the shard that owns its call; the moved call's old SSRC may
	 * still have had packets in flight when it moved. */
	RL_CHECK(mc.unknown_ssrc <= 5);
	RL_CHECK(mc.send_fail == 0);
	for (int i = 0; i < NCALLS; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		RL_CHECK(rl_media_del(site, id, NULL) == RL_OK);
		RL_CHECK(rl_media_del(agent, id, NULL) == RL_OK);
	}
	rl_media_counters(site, &mc);
	RL_CHECK(mc.calls == 0);
	rl_media_close(site);
	rl_media_close(agent);
	return rltest_done();
}
