/*
 * relaisctl's JSON rendering of a status reply: every section and field, in a fixed order,
 * with the special cases (agent state names, tenant lists, an unknown expected wait as null,
 * a call's two quality ends, the calls section only when there are calls or a relay).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "rltest.h"

static const char *const rl_full =
    "{\"now_us\":1700000000123456,\"queues\":[{\"queue_id\":\"telco.billing\",\"tenant_id\":\"telco\","
    "\"waiting\":3,\"longest_wait_ms\":12500,\"offered\":40,\"answered\":35,\"answered_in_sl\":30,"
    "\"abandoned\":2,\"service_level\":0.75,\"asa_ms\":4250.5,\"aht_ms\":61000,\"handled\":33,\"ewt_s\":42,"
    "\"sl_target_pct\":90,\"sl_seconds\":10,\"agents_ready\":2,\"agents_staffed\":6},"
    "{\"queue_id\":\"bank.cards\",\"tenant_id\":\"bank\",\"waiting\":0,\"longest_wait_ms\":0,\"offered\":0,"
    "\"answered\":0,\"answered_in_sl\":0,\"abandoned\":0,\"service_level\":0,\"asa_ms\":0,\"aht_ms\":0,"
    "\"handled\":0,\"ewt_s\":null,\"sl_target_pct\":0,\"sl_seconds\":0,\"agents_ready\":0,\"agents_staffed\":0}],"
    "\"agents\":[{\"agent_id\":\"a1001\",\"state\":\"NOT_READY\",\"reason\":\"break\",\"site_id\":\"casablanca\","
    "\"tenants\":[\"telco\",\"bank\"],\"in_state_ms\":65000,\"contact_id\":\"\",\"connected\":true,\"handled\":7}],"
    "\"agents_total\":30,\"sites\":[{\"site_id\":\"fes\",\"name\":\"Fès\",\"connected\":true,\"health\":100,"
    "\"capacity\":120,\"agents\":6,\"contacts\":4}],\"calls\":[{\"contact_id\":\"c0000000007\","
    "\"agent_id\":\"a9004\",\"site_id\":\"fes\",\"relayed\":true,\"live\":false,\"answered_us\":1.7e+15,"
    "\"ended_us\":1.70000002e+15,\"site\":{\"rx_packets\":1000,\"lost\":-2,\"loss_pct\":0.5,\"jitter_ms\":1.25,"
    "\"rtt_ms\":-1,\"playout_ms\":40,\"fec\":3,\"concealed\":1,\"dropped\":5,\"mos\":4.375,\"final\":true}}],"
    "\"relay\":{\"addr\":\"127.0.0.1:7500\",\"rx\":1062,\"fwd\":1058,\"dropped\":4,\"calls\":2},"
    "\"counters\":{\"frames\":513,\"malformed\":1,\"oversized\":2,\"bad_version\":3,\"bad_field\":4,"
    "\"send_drops\":5,\"auth_failures\":6,\"commits\":7,\"requests\":8}}";

static const char *const rl_bare =
    "{\"now_us\":1700000000123456,\"queues\":[{\"queue_id\":\"telco.billing\",\"tenant_id\":\"telco\","
    "\"waiting\":3,\"longest_wait_ms\":12500,\"offered\":40,\"answered\":35,\"answered_in_sl\":30,"
    "\"abandoned\":2,\"service_level\":0.75,\"asa_ms\":4250.5,\"aht_ms\":61000,\"handled\":33,\"ewt_s\":42,"
    "\"sl_target_pct\":90,\"sl_seconds\":10,\"agents_ready\":2,\"agents_staffed\":6},"
    "{\"queue_id\":\"bank.cards\",\"tenant_id\":\"bank\",\"waiting\":0,\"longest_wait_ms\":0,\"offered\":0,"
    "\"answered\":0,\"answered_in_sl\":0,\"abandoned\":0,\"service_level\":0,\"asa_ms\":0,\"aht_ms\":0,"
    "\"handled\":0,\"ewt_s\":null,\"sl_target_pct\":0,\"sl_seconds\":0,\"agents_ready\":0,\"agents_staffed\":0}],"
    "\"agents\":[{\"agent_id\":\"a1001\",\"state\":\"NOT_READY\",\"reason\":\"break\",\"site_id\":\"casablanca\","
    "\"tenants\":[\"telco\",\"bank\"],\"in_state_ms\":65000,\"contact_id\":\"\",\"connected\":true,\"handled\":7}],"
    "\"agents_total\":30,\"sites\":[{\"site_id\":\"fes\",\"name\":\"Fès\",\"connected\":true,\"health\":100,"
    "\"capacity\":120,\"agents\":6,\"contacts\":4}]}";

static int same(const char *what, char *got, const char *want)
{
	int ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		printf("%s:\n got  %s\n want %s\n", what, got ? got : "(null)", want);
	free(got);
	return ok;
}

int main(void)
{
	Relais__StatusReply r = RELAIS__STATUS_REPLY__INIT;
	Relais__QueueStat q1 = RELAIS__QUEUE_STAT__INIT, q2 = RELAIS__QUEUE_STAT__INIT, *qs[] = {&q1, &q2};
	Relais__AgentStat a1 = RELAIS__AGENT_STAT__INIT, *as[] = {&a1};
	Relais__SiteStat s1 = RELAIS__SITE_STAT__INIT, *ss[] = {&s1};
	Relais__CallStat c1 = RELAIS__CALL_STAT__INIT, *cs[] = {&c1};
	Relais__CallQuality cq = RELAIS__CALL_QUALITY__INIT;
	Relais__RelayStat relay = RELAIS__RELAY_STAT__INIT;
	Relais__HubCounters ctr = RELAIS__HUB_COUNTERS__INIT;
	char *tenants[] = {"telco", "bank"};

	r.now_us = 1700000000123456ULL;
	q1.queue_id = "telco.billing";
	q1.tenant_id = "telco";
	q1.waiting = 3;
	q1.longest_wait_ms = 12500;
	q1.offered = 40;
	q1.answered = 35;
	q1.answered_in_sl = 30;
	q1.abandoned = 2;
	q1.service_level = 0.75;
	q1.asa_ms = 4250.5;
	q1.aht_ms = 61000;
	q1.handled = 33;
	q1.ewt_known = 1;
	q1.ewt_s = 42;
	q1.sl_target_pct = 90;
	q1.sl_seconds = 10;
	q1.agents_ready = 2;
	q1.agents_staffed = 6;
	q2.queue_id = "bank.cards";
	q2.tenant_id = "bank";
	r.n_queues = 2;
	r.queues = qs;
	a1.agent_id = "a1001";
	a1.state = RELAIS__AGENT_STATE__AGENT_NOT_READY;
	a1.reason = "break";
	a1.site_id = "casablanca";
	a1.n_tenants = 2;
	a1.tenants = tenants;
	a1.in_state_ms = 65000;
	a1.contact_id = "";
	a1.connected = 1;
	a1.handled = 7;
	r.n_agents = 1;
	r.agents = as;
	r.agents_total = 30;
	s1.site_id = "fes";
	s1.name = "Fès";
	s1.connected = 1;
	s1.health = 100;
	s1.capacity = 120;
	s1.agents = 6;
	s1.contacts = 4;
	r.n_sites = 1;
	r.sites = ss;

	/* Without calls, relay or counters: those sections are left out. */
	RL_CHECK(same("bare", rl_render_json(&r), rl_bare));

	c1.contact_id = "c0000000007";
	c1.agent_id = "a9004";
	c1.site_id = "fes";
	c1.relayed = 1;
	c1.live = 0;
	c1.answered_us = 1700000000000000ULL;
	c1.ended_us = 1700000020000000ULL;
	cq.rx_packets = 1000;
	cq.lost = -2;
	cq.loss_pct = 0.5f;
	cq.jitter_ms = 1.25f;
	cq.rtt_ms = -1;
	cq.playout_ms = 40;
	cq.fec = 3;
	cq.concealed = 1;
	cq.dropped = 5;
	cq.mos = 4.375f;
	cq.final = 1;
	c1.site = &cq;
	r.n_calls = 1;
	r.calls = cs;
	relay.addr = "127.0.0.1:7500";
	relay.rx = 1062;
	relay.fwd = 1058;
	relay.dropped = 4;
	relay.calls = 2;
	r.relay = &relay;
	ctr.frames = 513;
	ctr.malformed = 1;
	ctr.oversized = 2;
	ctr.bad_version = 3;
	ctr.bad_field = 4;
	ctr.send_drops = 5;
	ctr.auth_failures = 6;
	ctr.commits = 7;
	ctr.requests = 8;
	r.counters = &ctr;
	RL_CHECK(same("full", rl_render_json(&r), rl_full));
	return rltest_done();
}
