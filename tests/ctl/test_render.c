/*
 * relaisctl's JSON rendering of a status reply: every section and field, in a fixed order,
 * with the special cases (agent state names, tenant lists, an unknown expected wait as null,
 * a call's two quality ends, the calls section only when there are calls or a relay); a site's
 * state in status, alone (a site command's answer) and as `site status` lists them, and the
 * audit trail, as JSON and as tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "rltest.h"

/* The reply without calls, relay or counters: the start of the full one, closed. */
#define RL_HEAD                                                                                                                                                         \
	"{\"now_us\":1700000000123456,\"queues\":[{\"queue_id\":\"telco.billing\",\"tenant_id\":\"telco\","                                                             \
	"\"waiting\":3,\"longest_wait_ms\":12500,\"offered\":40,\"answered\":35,\"answered_in_sl\":30,"                                                                 \
	"\"abandoned\":2,\"service_level\":0.75,\"asa_ms\":4250.5,\"aht_ms\":61000,\"handled\":33,\"ewt_s\":42,"                                                        \
	"\"sl_target_pct\":90,\"sl_seconds\":10,\"agents_ready\":2,\"agents_staffed\":6,\"agents_needed\":7,\"offered_per_hour\":120},"                                 \
	"{\"queue_id\":\"bank.cards\",\"tenant_id\":\"bank\",\"waiting\":0,\"longest_wait_ms\":0,\"offered\":0,"                                                        \
	"\"answered\":0,\"answered_in_sl\":0,\"abandoned\":0,\"service_level\":0,\"asa_ms\":0,\"aht_ms\":0,"                                                            \
	"\"handled\":0,\"ewt_s\":null,\"sl_target_pct\":0,\"sl_seconds\":0,\"agents_ready\":0,\"agents_staffed\":0,\"agents_needed\":null,\"offered_per_hour\":null}]," \
	"\"agents\":[{\"agent_id\":\"a1001\",\"state\":\"NOT_READY\",\"reason\":\"break\",\"site_id\":\"casablanca\","                                                  \
	"\"tenants\":[\"telco\",\"bank\"],\"in_state_ms\":65000,\"contact_id\":\"\",\"connected\":true,\"handled\":7}],"                                                \
	"\"agents_total\":30,\"sites\":[{\"site_id\":\"fes\",\"name\":\"Fès\",\"connected\":true,\"health\":100,"                                                      \
	"\"capacity\":120,\"agents\":6,\"contacts\":4}]"

static const char *const rl_bare = RL_HEAD "}";
static const char *const rl_full = RL_HEAD
    ",\"calls\":[{\"contact_id\":\"c0000000007\","
    "\"agent_id\":\"a9004\",\"site_id\":\"fes\",\"relayed\":true,\"live\":false,\"answered_us\":1.7e+15,"
    "\"ended_us\":1.70000002e+15,\"site\":{\"rx_packets\":1000,\"lost\":-2,\"loss_pct\":0.5,\"jitter_ms\":1.25,"
    "\"rtt_ms\":-1,\"playout_ms\":40,\"fec\":3,\"concealed\":1,\"dropped\":5,\"mos\":4.375,\"final\":true}}],"
    "\"relay\":{\"addr\":\"127.0.0.1:7500\",\"rx\":1062,\"fwd\":1058,\"dropped\":4,\"calls\":2},"
    "\"counters\":{\"frames\":513,\"malformed\":1,\"oversized\":2,\"bad_version\":3,\"bad_field\":4,"
    "\"send_drops\":5,\"auth_failures\":6,\"commits\":7,\"requests\":8,\"peer_resets\":9,\"forbidden\":10,\"link_drops\":11,\"silent_links\":12}}";

static int same(const char *what, char *got, const char *want)
{
	int ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		printf("%s:\n got  %s\n want %s\n", what, got ? got : "(null)", want);
	free(got);
	return ok;
}

#define RL_MSG(name) .base = PROTOBUF_C_MESSAGE_INIT(&relais__##name##__descriptor)

/* table prints through fn into a string (caller frees). */
#define RL_TABLE(out, call)                              \
	do {                                             \
		size_t len_;                             \
		FILE *f = open_memstream(&(out), &len_); \
		call;                                    \
		fclose(f);                               \
	} while (0)

static void test_sites(void)
{
	Relais__SiteState st = {RL_MSG(site_state),      .site_id = "casablanca",
	                        .name = "Casablanca",    .up = 1,
	                        .survivable = 0,         .drain_pct = 50,
	                        .failed_over_to = "",    .by = "noc",
	                        .reason = "fibre works", .since_us = 1700000000000000ULL,
	                        .command_seq = 3,        .covered_by = ""},
	                  lost = {RL_MSG(site_state),
	                          .site_id = "fes",
	                          .name = "Fes",
	                          .up = 0,
	                          .survivable = 1,
	                          .drain_pct = 100,
	                          .failed_over_to = "home",
	                          .by = "admin",
	                          .reason = "flood",
	                          .since_us = 1700000000000000ULL,
	                          .command_seq = 4,
	                          .covered_by = "casablanca"};
	Relais__SiteStat s1 = {RL_MSG(site_stat), .site_id = "casablanca", .name = "Casablanca", .connected = 1,
	                       .state = &st},
	                 s2 = {RL_MSG(site_stat), .site_id = "dakar", .name = "Dakar"}, *ss[] = {&s1, &s2};
	Relais__StatusReply r = {RL_MSG(status_reply), .now_us = 1700000185000000ULL, .n_sites = 2, .sites = ss};
	const Relais__SiteState *both[] = {&st, &lost};
	char *t;

	RL_CHECK(same("site state", rl_render_site_state_json(&st),
	              "{\"site_id\":\"casablanca\",\"name\":\"Casablanca\",\"up\":true,\"survivable\":false,"
	              "\"drain_pct\":50,\"failed_over_to\":\"\",\"by\":\"noc\",\"reason\":\"fibre works\","
	              "\"since_us\":1.7e+15,\"command_seq\":3,\"covered_by\":\"\"}"));
	/* A site without a state (a hub that sends none) is left out of the list. */
	RL_CHECK(same("site states", rl_render_sites_json(&r),
	              "{\"now_us\":1.700000185e+15,\"sites\":[{\"site_id\":\"casablanca\",\"name\":\"Casablanca\","
	              "\"up\":true,\"survivable\":false,\"drain_pct\":50,\"failed_over_to\":\"\",\"by\":\"noc\","
	              "\"reason\":\"fibre works\",\"since_us\":1.7e+15,\"command_seq\":3,\"covered_by\":\"\"}]}"));
	RL_TABLE(t, rl_render_site_states(f, both, 2, r.now_us));
	RL_CHECK(same(
	    "site table", t,
	    "SITE         NAME         LINK SURVIVABLE DRAIN FAILED OVER CALLS TO     BY           SINCE      REASON\n"
	    "casablanca   Casablanca   up   no           50% -           -            noc          3m05s ago  fibre works\n"
	    "fes          Fes          lost yes         100% home        casablanca   admin        3m05s ago  flood\n"));
}

static void test_audit(void)
{
	Relais__AuditEntry e1 = {RL_MSG(audit_entry), .ts_us = 1700000000000000ULL, .operator_id = "noc",
	                         .site_id = "casablanca", .detail = "drain 50% reason=\"fibre works\" -> done"},
	                   e2 = {RL_MSG(audit_entry), .ts_us = 1700000060000000ULL, .operator_id = "admin",
	                         .site_id = "rabat", .detail = "undrain reason=\"x\" -> refused: no such site"},
	                   *es[] = {&e1, &e2};
	Relais__AuditReply r = {RL_MSG(audit_reply), .n_entries = 2, .entries = es};
	char *t;

	RL_CHECK(same("audit", rl_render_audit_json(&r),
	              "{\"entries\":[{\"ts_us\":1.7e+15,\"operator_id\":\"noc\",\"site_id\":\"casablanca\","
	              "\"detail\":\"drain 50% reason=\\\"fibre works\\\" -> done\"},{\"ts_us\":1.70000006e+15,"
	              "\"operator_id\":\"admin\",\"site_id\":\"rabat\",\"detail\":\"undrain reason=\\\"x\\\" -> "
	              "refused: no such site\"}]}"));
	setenv("TZ", "UTC", 1);
	RL_TABLE(t, rl_render_audit(f, &r));
	RL_CHECK(same("audit table", t,
	              "TIME                OPERATOR     SITE         DETAIL\n"
	              "2023-11-14 22:13:20 noc          casablanca   drain 50% reason=\"fibre works\" -> done\n"
	              "2023-11-14 22:14:20 admin        rabat        undrain reason=\"x\" -> refused: no such site\n"));
}

int main(void)
{
	char *tenants[] = {"telco", "bank"};
	Relais__QueueStat q1 = {RL_MSG(queue_stat),
	                        .queue_id = "telco.billing",
	                        .tenant_id = "telco",
	                        .waiting = 3,
	                        .longest_wait_ms = 12500,
	                        .offered = 40,
	                        .answered = 35,
	                        .answered_in_sl = 30,
	                        .abandoned = 2,
	                        .service_level = 0.75,
	                        .asa_ms = 4250.5,
	                        .aht_ms = 61000,
	                        .handled = 33,
	                        .ewt_known = 1,
	                        .ewt_s = 42,
	                        .sl_target_pct = 90,
	                        .sl_seconds = 10,
	                        .agents_ready = 2,
	                        .agents_staffed = 6,
	                        .staffing_known = 1,
	                        .agents_needed = 7,
	                        .offered_per_hour = 120},
	                  q2 = {RL_MSG(queue_stat), .queue_id = "bank.cards", .tenant_id = "bank"}, *qs[] = {&q1, &q2};
	Relais__AgentStat a1 = {RL_MSG(agent_stat),
	                        .agent_id = "a1001",
	                        .state = RELAIS__AGENT_STATE__AGENT_NOT_READY,
	                        .reason = "break",
	                        .site_id = "casablanca",
	                        .n_tenants = 2,
	                        .tenants = tenants,
	                        .in_state_ms = 65000,
	                        .contact_id = "",
	                        .connected = 1,
	                        .handled = 7},
	                  *as[] = {&a1};
	Relais__SiteStat s1 = {RL_MSG(site_stat), .site_id = "fes", .name = "Fès", .connected = 1,
	                       .health = 100,     .capacity = 120,  .agents = 6,   .contacts = 4},
	                 *ss[] = {&s1};
	Relais__CallQuality cq = {RL_MSG(call_quality), .rx_packets = 1000, .lost = -2,       .loss_pct = 0.5f,
	                          .jitter_ms = 1.25f,   .rtt_ms = -1,       .playout_ms = 40, .fec = 3,
	                          .concealed = 1,       .dropped = 5,       .mos = 4.375f,    .final = 1};
	Relais__CallStat c1 = {RL_MSG(call_stat),
	                       .contact_id = "c0000000007",
	                       .agent_id = "a9004",
	                       .site_id = "fes",
	                       .relayed = 1,
	                       .answered_us = 1700000000000000ULL,
	                       .ended_us = 1700000020000000ULL,
	                       .site = &cq},
	                 *cs[] = {&c1};
	Relais__RelayStat relay = {RL_MSG(relay_stat), .addr = "127.0.0.1:7500", .rx = 1062, .fwd = 1058, .dropped = 4,
	                           .calls = 2};
	Relais__HubCounters ctr = {RL_MSG(hub_counters), .frames = 513,     .malformed = 1,   .oversized = 2,
	                           .bad_version = 3,     .bad_field = 4,    .send_drops = 5,  .auth_failures = 6,
	                           .commits = 7,         .requests = 8,     .peer_resets = 9, .forbidden = 10,
	                           .link_drops = 11,     .silent_links = 12};
	Relais__StatusReply r = {RL_MSG(status_reply), .now_us = 1700000000123456ULL,
	                         .n_queues = 2,        .queues = qs,
	                         .n_agents = 1,        .agents = as,
	                         .agents_total = 30,   .n_sites = 1,
	                         .sites = ss};

	/* Without calls, relay or counters: those sections are left out. */
	RL_CHECK(same("bare", rl_render_json(&r), rl_bare));

	r.n_calls = 1;
	r.calls = cs;
	r.relay = &relay;
	r.counters = &ctr;
	RL_CHECK(same("full", rl_render_json(&r), rl_full));
	test_sites();
	test_audit();
	return rltest_done();
}
