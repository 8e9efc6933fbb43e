#include "render.h"

#include <cjson/cJSON.h>
#include <string.h>

const char *rl_render_state(Relais__AgentState s)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&relais__agent_state__descriptor, (int)s);
	const char *n = v ? v->name : "UNKNOWN";

	return strncmp(n, "AGENT_", 6) == 0 ? n + 6 : n;
}

const char *rl_render_duration(char *buf, size_t len, unsigned long long ms)
{
	unsigned long long s = ms / 1000;

	if (s < 60)
		snprintf(buf, len, "%llus", s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else
		snprintf(buf, len, "%lluh%02llum", s / 3600, (s / 60) % 60);
	return buf;
}

static void rl_render_quality(cJSON *o, const char *name, const Relais__CallQuality *q)
{
	cJSON *x;

	if (q == NULL)
		return;
	x = cJSON_AddObjectToObject(o, name);
	cJSON_AddNumberToObject(x, "rx_packets", (double)q->rx_packets);
	cJSON_AddNumberToObject(x, "lost", (double)q->lost);
	cJSON_AddNumberToObject(x, "loss_pct", q->loss_pct);
	cJSON_AddNumberToObject(x, "jitter_ms", q->jitter_ms);
	cJSON_AddNumberToObject(x, "rtt_ms", q->rtt_ms);
	cJSON_AddNumberToObject(x, "playout_ms", q->playout_ms);
	cJSON_AddNumberToObject(x, "fec", (double)q->fec);
	cJSON_AddNumberToObject(x, "concealed", (double)q->concealed);
	cJSON_AddNumberToObject(x, "dropped", (double)q->dropped);
	cJSON_AddNumberToObject(x, "mos", q->mos);
	cJSON_AddBoolToObject(x, "final", q->final);
}

char *rl_render_json(const Relais__StatusReply *r)
{
	cJSON *root = cJSON_CreateObject(), *qs, *as, *ss, *ctr;
	char *out;

	if (root == NULL)
		return NULL;
	cJSON_AddNumberToObject(root, "now_us", (double)r->now_us);
	qs = cJSON_AddArrayToObject(root, "queues");
	for (size_t i = 0; i < r->n_queues; i++) {
		const Relais__QueueStat *q = r->queues[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "queue_id", q->queue_id);
		cJSON_AddStringToObject(o, "tenant_id", q->tenant_id);
		cJSON_AddNumberToObject(o, "waiting", q->waiting);
		cJSON_AddNumberToObject(o, "longest_wait_ms", (double)q->longest_wait_ms);
		cJSON_AddNumberToObject(o, "offered", (double)q->offered);
		cJSON_AddNumberToObject(o, "answered", (double)q->answered);
		cJSON_AddNumberToObject(o, "answered_in_sl", (double)q->answered_in_sl);
		cJSON_AddNumberToObject(o, "abandoned", (double)q->abandoned);
		cJSON_AddNumberToObject(o, "service_level", q->service_level);
		cJSON_AddNumberToObject(o, "asa_ms", q->asa_ms);
		cJSON_AddNumberToObject(o, "aht_ms", q->aht_ms);
		cJSON_AddNumberToObject(o, "handled", (double)q->handled);
		if (q->ewt_known)
			cJSON_AddNumberToObject(o, "ewt_s", q->ewt_s);
		else
			cJSON_AddNullToObject(o, "ewt_s");
		cJSON_AddNumberToObject(o, "sl_target_pct", q->sl_target_pct);
		cJSON_AddNumberToObject(o, "sl_seconds", q->sl_seconds);
		cJSON_AddNumberToObject(o, "agents_ready", q->agents_ready);
		cJSON_AddNumberToObject(o, "agents_staffed", q->agents_staffed);
		cJSON_AddItemToArray(qs, o);
	}
	as = cJSON_AddArrayToObject(root, "agents");
	for (size_t i = 0; i < r->n_agents; i++) {
		const Relais__AgentStat *a = r->agents[i];
		cJSON *o = cJSON_CreateObject(), *t;
		cJSON_AddStringToObject(o, "agent_id", a->agent_id);
		cJSON_AddStringToObject(o, "state", rl_render_state(a->state));
		cJSON_AddStringToObject(o, "reason", a->reason);
		cJSON_AddStringToObject(o, "site_id", a->site_id);
		t = cJSON_AddArrayToObject(o, "tenants");
		for (size_t k = 0; k < a->n_tenants; k++)
			cJSON_AddItemToArray(t, cJSON_CreateString(a->tenants[k]));
		cJSON_AddNumberToObject(o, "in_state_ms", (double)a->in_state_ms);
		cJSON_AddStringToObject(o, "contact_id", a->contact_id);
		cJSON_AddBoolToObject(o, "connected", a->connected);
		cJSON_AddNumberToObject(o, "handled", (double)a->handled);
		cJSON_AddItemToArray(as, o);
	}
	cJSON_AddNumberToObject(root, "agents_total", r->agents_total);
	ss = cJSON_AddArrayToObject(root, "sites");
	for (size_t i = 0; i < r->n_sites; i++) {
		const Relais__SiteStat *s = r->sites[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "site_id", s->site_id);
		cJSON_AddStringToObject(o, "name", s->name);
		cJSON_AddBoolToObject(o, "connected", s->connected);
		cJSON_AddNumberToObject(o, "health", s->health);
		cJSON_AddNumberToObject(o, "capacity", s->capacity);
		cJSON_AddNumberToObject(o, "agents", s->agents);
		cJSON_AddNumberToObject(o, "contacts", s->contacts);
		cJSON_AddItemToArray(ss, o);
	}
	if (r->n_calls > 0 || r->relay != NULL) {
		cJSON *cs = cJSON_AddArrayToObject(root, "calls");
		for (size_t i = 0; i < r->n_calls; i++) {
			const Relais__CallStat *x = r->calls[i];
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "contact_id", x->contact_id);
			cJSON_AddStringToObject(o, "agent_id", x->agent_id);
			cJSON_AddStringToObject(o, "site_id", x->site_id);
			cJSON_AddBoolToObject(o, "relayed", x->relayed);
			cJSON_AddBoolToObject(o, "live", x->live);
			cJSON_AddNumberToObject(o, "answered_us", (double)x->answered_us);
			cJSON_AddNumberToObject(o, "ended_us", (double)x->ended_us);
			rl_render_quality(o, "site", x->site);
			rl_render_quality(o, "agent", x->agent);
			cJSON_AddItemToArray(cs, o);
		}
		if (r->relay != NULL) {
			cJSON *ro = cJSON_AddObjectToObject(root, "relay");
			cJSON_AddStringToObject(ro, "addr", r->relay->addr);
			cJSON_AddNumberToObject(ro, "rx", (double)r->relay->rx);
			cJSON_AddNumberToObject(ro, "fwd", (double)r->relay->fwd);
			cJSON_AddNumberToObject(ro, "dropped", (double)r->relay->dropped);
			cJSON_AddNumberToObject(ro, "calls", r->relay->calls);
		}
	}
	if (r->counters != NULL) {
		const Relais__HubCounters *c = r->counters;
		ctr = cJSON_AddObjectToObject(root, "counters");
		cJSON_AddNumberToObject(ctr, "frames", (double)c->frames);
		cJSON_AddNumberToObject(ctr, "malformed", (double)c->malformed);
		cJSON_AddNumberToObject(ctr, "oversized", (double)c->oversized);
		cJSON_AddNumberToObject(ctr, "bad_version", (double)c->bad_version);
		cJSON_AddNumberToObject(ctr, "bad_field", (double)c->bad_field);
		cJSON_AddNumberToObject(ctr, "send_drops", (double)c->send_drops);
		cJSON_AddNumberToObject(ctr, "auth_failures", (double)c->auth_failures);
		cJSON_AddNumberToObject(ctr, "commits", (double)c->commits);
		cJSON_AddNumberToObject(ctr, "requests", (double)c->requests);
	}
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

/* rl_render_q writes "MOS loss% jitter rtt" of one end, or "-". */
static const char *rl_render_q(char *buf, size_t len, const Relais__CallQuality *q)
{
	if (q == NULL)
		snprintf(buf, len, "-");
	else if (q->rtt_ms >= 0)
		snprintf(buf, len, "%.2f %4.1f%% %3.0fms %3.0fms", q->mos, q->loss_pct, q->jitter_ms, q->rtt_ms);
	else
		snprintf(buf, len, "%.2f %4.1f%% %3.0fms     -", q->mos, q->loss_pct, q->jitter_ms);
	return buf;
}

void rl_render_tables(FILE *f, const Relais__StatusReply *r, int queues, int agents, int sites, int calls)
{
	char b1[32], b2[32];

	if (queues) {
		fprintf(f, "%-16s %-8s %7s %8s %8s %14s %7s %8s %9s %8s %11s\n", "QUEUE", "TENANT", "WAITING",
		        "LONGEST", "EWT", "SL (TARGET)", "ASA", "AHT", "ANSWERED", "ABANDON", "READY/STAFF");
		for (size_t i = 0; i < r->n_queues; i++) {
			const Relais__QueueStat *q = r->queues[i];
			char sl[32], rs[24];
			snprintf(sl, sizeof(sl), "%.0f%% (%u%%/%us)", q->service_level * 100.0, q->sl_target_pct,
			         q->sl_seconds);
			snprintf(rs, sizeof(rs), "%u/%u", q->agents_ready, q->agents_staffed);
			char ewt[32] = "-";
			if (q->ewt_known)
				rl_render_duration(ewt, sizeof(ewt), (unsigned long long)q->ewt_s * 1000u);
			fprintf(f, "%-16s %-8s %7u %8s %8s %14s %7s %8s %9llu %8llu %11s\n", q->queue_id, q->tenant_id,
			        q->waiting, rl_render_duration(b1, sizeof(b1), q->longest_wait_ms), ewt, sl,
			        rl_render_duration(b2, sizeof(b2), (unsigned long long)q->asa_ms),
			        rl_render_duration((char[32]){0}, 32, (unsigned long long)q->aht_ms),
			        (unsigned long long)q->answered, (unsigned long long)q->abandoned, rs);
		}
	}
	if (agents) {
		if (queues)
			fputc('\n', f);
		fprintf(f, "%-10s %-22s %-11s %-14s %8s %-12s %-5s %7s\n", "AGENT", "STATE", "SITE", "TENANTS",
		        "IN STATE", "CONTACT", "LINK", "HANDLED");
		for (size_t i = 0; i < r->n_agents; i++) {
			const Relais__AgentStat *a = r->agents[i];
			char st[64], tn[64] = "";
			snprintf(st, sizeof(st), "%s%s%s", rl_render_state(a->state),
			         a->reason && a->reason[0] ? ":" : "", a->reason ? a->reason : "");
			for (size_t k = 0; k < a->n_tenants; k++)
				snprintf(tn + strlen(tn), sizeof(tn) - strlen(tn), "%s%s", k ? "," : "", a->tenants[k]);
			fprintf(f, "%-10s %-22s %-11s %-14s %8s %-12s %-5s %7llu\n", a->agent_id, st,
			        a->site_id && a->site_id[0] ? a->site_id : "home", tn,
			        rl_render_duration(b1, sizeof(b1), a->in_state_ms),
			        a->contact_id && a->contact_id[0] ? a->contact_id : "-", a->connected ? "up" : "down",
			        (unsigned long long)a->handled);
		}
		if (r->agents_total > r->n_agents)
			fprintf(f, "(%u of %u agents shown)\n", (unsigned)r->n_agents, r->agents_total);
	}
	if (sites) {
		if (queues || agents)
			fputc('\n', f);
		fprintf(f, "%-12s %-12s %-5s %6s %8s %6s %8s\n", "SITE", "NAME", "LINK", "HEALTH", "CAPACITY", "AGENTS",
		        "CONTACTS");
		for (size_t i = 0; i < r->n_sites; i++) {
			const Relais__SiteStat *s = r->sites[i];
			fprintf(f, "%-12s %-12s %-5s %6u %8u %6u %8u\n", s->site_id, s->name,
			        s->connected ? "up" : "down", s->health, s->capacity, s->agents, s->contacts);
		}
	}
	if (calls) {
		char qa[64], qs[64];
		if (queues || agents || sites)
			fputc('\n', f);
		fprintf(f, "%-24s %-8s %-11s %-7s %-6s %-30s %-30s\n", "CALL", "AGENT", "SITE", "PATH", "STATE",
		        "AT AGENT: MOS LOSS JIT RTT", "AT SITE: MOS LOSS JIT RTT");
		for (size_t i = 0; i < r->n_calls; i++) {
			const Relais__CallStat *x = r->calls[i];
			fprintf(f, "%-24s %-8s %-11s %-7s %-6s %-30s %-30s\n", x->contact_id, x->agent_id, x->site_id,
			        x->relayed ? "relay" : "direct", x->live ? "live" : "ended",
			        rl_render_q(qa, sizeof(qa), x->agent), rl_render_q(qs, sizeof(qs), x->site));
		}
		if (r->relay != NULL)
			fprintf(f, "relay %s: %u calls, %llu packets in, %llu forwarded, %llu dropped\n",
			        r->relay->addr, r->relay->calls, (unsigned long long)r->relay->rx,
			        (unsigned long long)r->relay->fwd, (unsigned long long)r->relay->dropped);
	}
}
