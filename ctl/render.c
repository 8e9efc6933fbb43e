#include "render.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rl_alloc.h"

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

/*
 * JSON objects follow the protobuf-c descriptors of the status messages: the list for each
 * message names the fields shown, in the order shown, and the descriptor says where each one
 * is and how to read it. "x?known" shows x, or null when the boolean field known is false.
 */
static const char *const rl_j_queue[] = {"queue_id",
                                         "tenant_id",
                                         "waiting",
                                         "longest_wait_ms",
                                         "offered",
                                         "answered",
                                         "answered_in_sl",
                                         "abandoned",
                                         "service_level",
                                         "asa_ms",
                                         "aht_ms",
                                         "handled",
                                         "ewt_s?ewt_known",
                                         "sl_target_pct",
                                         "sl_seconds",
                                         "agents_ready",
                                         "agents_staffed",
                                         "agents_needed?staffing_known",
                                         "offered_per_hour?staffing_known",
                                         NULL};
static const char *const rl_j_agent[] = {"agent_id",    "state",      "reason",    "site_id", "tenants",
                                         "in_state_ms", "contact_id", "connected", "handled", NULL};
static const char *const rl_j_site[] = {"site_id", "name",     "connected", "health", "capacity",
                                        "agents",  "contacts", "state",     NULL};
static const char *const rl_j_site_state[] = {"site_id",   "name",           "up",         "survivable",
                                              "drain_pct", "failed_over_to", "by",         "reason",
                                              "since_us",  "command_seq",    "covered_by", NULL};
static const char *const rl_j_audit[] = {"ts_us", "operator_id", "site_id", "detail", NULL};
static const char *const rl_j_call[] = {"contact_id",  "agent_id", "site_id", "relayed", "live",
                                        "answered_us", "ended_us", "site",    "agent",   NULL};
static const char *const rl_j_quality[] = {"rx_packets", "lost",      "loss_pct", "jitter_ms", "rtt_ms", "playout_ms",
                                           "fec",        "concealed", "dropped",  "mos",       "final",  NULL};
static const char *const rl_j_relay[] = {"addr", "rx", "fwd", "dropped", "calls", NULL};
static const char *const rl_j_ha[] = {"leader", "term", "standby", "synced", "alone", "strict", "lag_batches", NULL};
static const char *const rl_j_counters[] = {"frames",     "malformed",     "oversized",    "bad_version", "bad_field",
                                            "send_drops", "auth_failures", "commits",      "requests",    "peer_resets",
                                            "forbidden",  "link_drops",    "silent_links", NULL};

static const struct {
	const ProtobufCMessageDescriptor *d;
	const char *const *fields;
} rl_j_shown[] = {
    {&relais__queue_stat__descriptor, rl_j_queue},      {&relais__agent_stat__descriptor, rl_j_agent},
    {&relais__site_stat__descriptor, rl_j_site},        {&relais__call_stat__descriptor, rl_j_call},
    {&relais__call_quality__descriptor, rl_j_quality},  {&relais__relay_stat__descriptor, rl_j_relay},
    {&relais__hub_counters__descriptor, rl_j_counters}, {&relais__site_state__descriptor, rl_j_site_state},
    {&relais__audit_entry__descriptor, rl_j_audit},     {&relais__ha_stat__descriptor, rl_j_ha}};

static cJSON *rl_json_object(const ProtobufCMessage *m);

/* rl_json_number reads a numeric field at p. */
static double rl_json_number(const ProtobufCFieldDescriptor *f, const char *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_UINT32:
		return *(const uint32_t *)p;
	case PROTOBUF_C_TYPE_UINT64:
		return (double)*(const uint64_t *)p;
	case PROTOBUF_C_TYPE_INT64:
		return (double)*(const int64_t *)p;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)p;
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)p;
	default:
		return 0;
	}
}

/* rl_json_field adds field spec ("name" or "name?known") of m to o; an unknown name adds nothing. */
static void rl_json_field(cJSON *o, const ProtobufCMessage *m, const char *spec)
{
	const char *q = strchr(spec, '?'), *base = (const char *)m, *p;
	const ProtobufCFieldDescriptor *f, *known;
	char name[64];

	snprintf(name, sizeof(name), "%.*s", q ? (int)(q - spec) : (int)strlen(spec), spec);
	if ((f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name)) == NULL)
		return;
	known = q ? protobuf_c_message_descriptor_get_field_by_name(m->descriptor, q + 1) : NULL;
	p = base + f->offset;
	if (known != NULL && !*(const protobuf_c_boolean *)(base + known->offset)) {
		cJSON_AddNullToObject(o, name);
	} else if (f->label == PROTOBUF_C_LABEL_REPEATED) { /* strings: the status has no other lists */
		cJSON *arr = cJSON_AddArrayToObject(o, name);
		for (size_t k = 0; k < *(const size_t *)(base + f->quantifier_offset); k++)
			cJSON_AddItemToArray(arr, cJSON_CreateString((*(char *const *const *)p)[k]));
	} else if (f->type == PROTOBUF_C_TYPE_STRING) {
		cJSON_AddStringToObject(o, name, *(char *const *)p);
	} else if (f->type == PROTOBUF_C_TYPE_BOOL) {
		cJSON_AddBoolToObject(o, name, *(const protobuf_c_boolean *)p);
	} else if (f->type == PROTOBUF_C_TYPE_ENUM) { /* the agent's state, by name */
		cJSON_AddStringToObject(o, name, rl_render_state(*(const Relais__AgentState *)p));
	} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		if (*(const ProtobufCMessage *const *)p != NULL)
			cJSON_AddItemToObject(o, name, rl_json_object(*(const ProtobufCMessage *const *)p));
	} else {
		cJSON_AddNumberToObject(o, name, rl_json_number(f, p));
	}
}

/* rl_json_object returns a new object with the fields shown of m (none for a message with
 * no list). */
static cJSON *rl_json_object(const ProtobufCMessage *m)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; i < sizeof(rl_j_shown) / sizeof(rl_j_shown[0]); i++) {
		if (rl_j_shown[i].d != m->descriptor)
			continue;
		for (const char *const *f = rl_j_shown[i].fields; *f != NULL; f++)
			rl_json_field(o, m, *f);
	}
	return o;
}

char *rl_render_json(const Relais__StatusReply *r)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char *out;

	cJSON_AddNumberToObject(root, "now_us", (double)r->now_us);
	arr = cJSON_AddArrayToObject(root, "queues");
	for (size_t i = 0; i < r->n_queues; i++)
		cJSON_AddItemToArray(arr, rl_json_object(&r->queues[i]->base));
	arr = cJSON_AddArrayToObject(root, "agents");
	for (size_t i = 0; i < r->n_agents; i++)
		cJSON_AddItemToArray(arr, rl_json_object(&r->agents[i]->base));
	cJSON_AddNumberToObject(root, "agents_total", r->agents_total);
	arr = cJSON_AddArrayToObject(root, "sites");
	for (size_t i = 0; i < r->n_sites; i++)
		cJSON_AddItemToArray(arr, rl_json_object(&r->sites[i]->base));
	if (r->n_calls > 0 || r->relay != NULL) {
		arr = cJSON_AddArrayToObject(root, "calls");
		for (size_t i = 0; i < r->n_calls; i++)
			cJSON_AddItemToArray(arr, rl_json_object(&r->calls[i]->base));
		if (r->relay != NULL)
			cJSON_AddItemToObject(root, "relay", rl_json_object(&r->relay->base));
	}
	if (r->counters != NULL)
		cJSON_AddItemToObject(root, "counters", rl_json_object(&r->counters->base));
	if (r->ha != NULL)
		cJSON_AddItemToObject(root, "ha", rl_json_object(&r->ha->base));
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

/* rl_json_list returns {"now_us": now_us (if not 0), name: [the n messages' objects]} as text. */
static char *rl_json_list(uint64_t now_us, const char *name, const ProtobufCMessage *const *m, size_t n)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char *out;

	if (now_us != 0)
		cJSON_AddNumberToObject(root, "now_us", (double)now_us);
	arr = cJSON_AddArrayToObject(root, name);
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, rl_json_object(m[i]));
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

char *rl_render_sites_json(const Relais__StatusReply *r)
{
	const ProtobufCMessage **v = rl_calloc(r->n_sites + 1, sizeof(*v));
	size_t n = 0;
	char *out;

	for (size_t i = 0; i < r->n_sites; i++)
		if (r->sites[i]->state != NULL)
			v[n++] = &r->sites[i]->state->base;
	out = rl_json_list(r->now_us, "sites", v, n);
	free(v);
	return out;
}

char *rl_render_site_state_json(const Relais__SiteState *st)
{
	cJSON *o = rl_json_object(&st->base);
	char *out = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	return out;
}

char *rl_render_audit_json(const Relais__AuditReply *r)
{
	return rl_json_list(0, "entries", (const ProtobufCMessage *const *)r->entries, r->n_entries);
}

void rl_render_site_states(FILE *f, const Relais__SiteState *const *st, size_t n, uint64_t now_us)
{
	fprintf(f, "%-12s %-12s %-4s %-10s %5s %-11s %-12s %-12s %-10s %s\n", "SITE", "NAME", "LINK", "SURVIVABLE",
	        "DRAIN", "FAILED OVER", "CALLS TO", "BY", "SINCE", "REASON");
	for (size_t i = 0; i < n; i++) {
		const Relais__SiteState *s = st[i];
		char drain[16], since[48] = "-";
		snprintf(drain, sizeof(drain), "%u%%", s->drain_pct);
		if (s->since_us != 0 && now_us >= s->since_us)
			snprintf(since, sizeof(since), "%s ago",
			         rl_render_duration((char[32]){0}, 32, (now_us - s->since_us) / 1000u));
		fprintf(f, "%-12s %-12s %-4s %-10s %5s %-11s %-12s %-12s %-10s %s\n", s->site_id, s->name,
		        s->up ? "up" : "lost", s->survivable ? "yes" : "no", drain,
		        s->failed_over_to[0] ? s->failed_over_to : "-", s->covered_by[0] ? s->covered_by : "-",
		        s->by[0] ? s->by : "-", since, s->reason[0] ? s->reason : "-");
	}
}

void rl_render_audit(FILE *f, const Relais__AuditReply *r)
{
	fprintf(f, "%-19s %-12s %-12s %s\n", "TIME", "OPERATOR", "SITE", "DETAIL");
	for (size_t i = 0; i < r->n_entries; i++) {
		const Relais__AuditEntry *x = r->entries[i];
		time_t t = (time_t)(x->ts_us / 1000000u);
		char when[32] = "?";
		struct tm tm;
		if (localtime_r(&t, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(f, "%-19s %-12s %-12s %s\n", when, x->operator_id, x->site_id, x->detail);
	}
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

/* rl_render_sites: the sites' table, then the hub pair's line when the hub is one. */
static void rl_render_sites(FILE *f, const Relais__StatusReply *r)
{
	fprintf(f, "%-12s %-12s %-5s %6s %8s %6s %8s\n", "SITE", "NAME", "LINK", "HEALTH", "CAPACITY", "AGENTS",
	        "CONTACTS");
	for (size_t i = 0; i < r->n_sites; i++) {
		const Relais__SiteStat *s = r->sites[i];
		fprintf(f, "%-12s %-12s %-5s %6u %8u %6u %8u\n", s->site_id, s->name, s->connected ? "up" : "down",
		        s->health, s->capacity, s->agents, s->contacts);
	}
	if (r->ha == NULL)
		return;
	fprintf(f, "hub pair: %s leads (term %lld); standby %s%s\n", r->ha->leader, (long long)r->ha->term,
	        r->ha->standby[0] ? r->ha->standby : "none",
	        r->ha->synced  ? " in sync"
	        : r->ha->alone ? (r->ha->strict ? " - ALONE: writes refused" : " - ALONE: acknowledging alone")
	                       : " catching up");
}

void rl_render_tables(FILE *f, const Relais__StatusReply *r, int queues, int agents, int sites, int calls)
{
	char b1[32], b2[32];

	if (queues) {
		fprintf(f, "%-16s %-8s %7s %8s %8s %14s %7s %8s %9s %8s %11s %6s\n", "QUEUE", "TENANT", "WAITING",
		        "LONGEST", "EWT", "SL (TARGET)", "ASA", "AHT", "ANSWERED", "ABANDON", "READY/STAFF", "NEEDED");
		for (size_t i = 0; i < r->n_queues; i++) {
			const Relais__QueueStat *q = r->queues[i];
			char sl[32], rs[24];
			snprintf(sl, sizeof(sl), "%.0f%% (%u%%/%us)", q->service_level * 100.0, q->sl_target_pct,
			         q->sl_seconds);
			snprintf(rs, sizeof(rs), "%u/%u", q->agents_ready, q->agents_staffed);
			char ewt[32] = "-", need[16] = "-";
			if (q->staffing_known)
				snprintf(need, sizeof(need), "%u", q->agents_needed);
			if (q->ewt_known)
				rl_render_duration(ewt, sizeof(ewt), (unsigned long long)q->ewt_s * 1000u);
			fprintf(f, "%-16s %-8s %7u %8s %8s %14s %7s %8s %9llu %8llu %11s %6s\n", q->queue_id,
			        q->tenant_id, q->waiting, rl_render_duration(b1, sizeof(b1), q->longest_wait_ms), ewt,
			        sl, rl_render_duration(b2, sizeof(b2), (unsigned long long)q->asa_ms),
			        rl_render_duration((char[32]){0}, 32, (unsigned long long)q->aht_ms),
			        (unsigned long long)q->answered, (unsigned long long)q->abandoned, rs, need);
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
		rl_render_sites(f, r);
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
