/*
 * recordings.c - `relaisctl recordings`: the recorded calls an operator may hear, listed by
 * the hub, and one recording fetched from the node that holds it, chunk by chunk under the
 * frame cap. The fetched file's SHA-256 is printed, to compare with the list's.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "rl_time.h"
#include "rl_wire.h"

static void rec_time(uint64_t us, char *buf, size_t cap)
{
	time_t t = (time_t)(us / 1000000u);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void rec_print_table(const Relais__RecordingListReply *r)
{
	printf("%-20s %-10s %-16s %-10s %-20s %8s %8s %-10s %s\n", "CONTACT", "TENANT", "QUEUE", "AGENT", "ANSWERED",
	       "SECONDS", "PAUSED", "STATE", "SITE PATH SHA256");
	for (size_t i = 0; i < r->n_recordings; i++) {
		const Relais__RecordingInfo *x = r->recordings[i];
		const Relais__Recording *g = x->recording;
		char at[32];
		rec_time(x->answered_us, at, sizeof(at));
		printf("%-20s %-10s %-16s %-10s %-20s %8.1f %8.1f %-10s %s %s %s\n", x->contact_id, x->tenant_id,
		       x->queue_id, x->agent_id, at, g ? (double)g->duration_ms / 1000.0 : 0,
		       g ? (double)g->paused_ms / 1000.0 : 0,
		       g == NULL       ? "-"
		       : g->incomplete ? "incomplete"
		                       : "complete",
		       g ? g->site_id : "-", g ? g->path : "-", g ? g->sha256 : "-");
	}
}

static void rec_print_json(const Relais__RecordingListReply *r)
{
	cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "recordings");
	char *s;

	for (size_t i = 0; i < r->n_recordings; i++) {
		const Relais__RecordingInfo *x = r->recordings[i];
		const Relais__Recording *g = x->recording;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "contact_id", x->contact_id);
		cJSON_AddStringToObject(o, "tenant_id", x->tenant_id);
		cJSON_AddStringToObject(o, "queue_id", x->queue_id);
		cJSON_AddStringToObject(o, "agent_id", x->agent_id);
		cJSON_AddStringToObject(o, "caller", x->caller);
		cJSON_AddNumberToObject(o, "answered_us", (double)x->answered_us);
		cJSON_AddNumberToObject(o, "ended_us", (double)x->ended_us);
		if (g != NULL) {
			cJSON_AddStringToObject(o, "site_id", g->site_id);
			cJSON_AddStringToObject(o, "path", g->path);
			cJSON_AddStringToObject(o, "sha256", g->sha256);
			cJSON_AddNumberToObject(o, "bytes", (double)g->bytes);
			cJSON_AddNumberToObject(o, "duration_ms", (double)g->duration_ms);
			cJSON_AddNumberToObject(o, "paused_ms", (double)g->paused_ms);
			cJSON_AddNumberToObject(o, "pauses", g->pauses);
			cJSON_AddBoolToObject(o, "complete", !g->incomplete);
			cJSON_AddStringToObject(o, "error", g->error);
		}
		cJSON_AddItemToArray(arr, o);
	}
	s = cJSON_PrintUnformatted(root);
	puts(s);
	free(s);
	cJSON_Delete(root);
}

static int rec_list(struct ctl *c, int argc, char **argv)
{
	Relais__RecordingList q = RELAIS__RECORDING_LIST__INIT;
	rl_env env, *r;
	int rv;

	for (int i = 0; i < argc; i++) {
		if (i + 1 >= argc)
			return ctl_usage();
		if (strcmp(argv[i], "--tenant") == 0)
			q.tenant_id = argv[i + 1];
		else if (!ctl_opt_window(argv[i], argv[i + 1], &q.since_us, &q.limit, 100))
			return ctl_usage();
		i++;
	}
	if ((rv = ctl_open(c)) != 0)
		return rv;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_RECORDING_LIST;
	env.recording_list = &q;
	if ((r = ctl_ask(c, &env, &rv)) != NULL && r->body_case == RELAIS__ENVELOPE__BODY_RECORDING_LIST_REPLY) {
		if (c->json)
			rec_print_json(r->recording_list_reply);
		else
			rec_print_table(r->recording_list_reply);
	}
	rl_wire_free(r);
	ctl_close(c);
	return rv;
}

/* rec_fetch_loop asks for chunk after chunk of contact id into f, hashing them; 0 or the exit
 * status. */
static int rec_fetch_loop(struct ctl *c, const char *id, FILE *f, crypto_hash_sha256_state *sha, uint64_t *got)
{
	Relais__RecordingFetch q = RELAIS__RECORDING_FETCH__INIT;
	uint64_t total = 1;
	rl_env env, *r;
	int rv = 0;

	q.contact_id = (char *)id;
	for (*got = 0; *got < total;) {
		q.offset = *got;
		rl_env_init(&env);
		env.body_case = RELAIS__ENVELOPE__BODY_RECORDING_FETCH;
		env.recording_fetch = &q;
		if ((r = ctl_ask(c, &env, &rv)) == NULL)
			return rv;
		if (r->body_case != RELAIS__ENVELOPE__BODY_RECORDING_CHUNK || r->recording_chunk->offset != *got ||
		    (r->recording_chunk->data.len == 0 && *got < r->recording_chunk->total)) {
			fprintf(stderr, "relaisctl: unexpected answer to a recording fetch\n");
			rl_wire_free(r);
			return 3;
		}
		total = r->recording_chunk->total;
		fwrite(r->recording_chunk->data.data, 1, r->recording_chunk->data.len, f);
		crypto_hash_sha256_update(sha, r->recording_chunk->data.data, r->recording_chunk->data.len);
		*got += r->recording_chunk->data.len;
		rl_wire_free(r);
	}
	return 0;
}

static int rec_fetch(struct ctl *c, int argc, char **argv)
{
	const char *id = NULL, *out = NULL;
	crypto_hash_sha256_state sha;
	uint8_t md[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	uint64_t got = 0;
	FILE *f;
	int rv;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (id == NULL && argv[i][0] != '-')
			id = argv[i];
		else
			return ctl_usage();
	}
	if (id == NULL || out == NULL)
		return ctl_usage();
	if ((f = fopen(out, "wbx")) == NULL) {
		fprintf(stderr, "relaisctl: %s: %s (an existing file is never overwritten)\n", out, strerror(errno));
		return 2;
	}
	if ((rv = ctl_open(c)) == 0) {
		crypto_hash_sha256_init(&sha);
		rv = rec_fetch_loop(c, id, f, &sha, &got);
		ctl_close(c);
	}
	if (fclose(f) != 0 && rv == 0)
		rv = 1;
	if (rv != 0) {
		remove(out);
		return rv;
	}
	crypto_hash_sha256_final(&sha, md);
	sodium_bin2hex(hex, sizeof(hex), md, sizeof(md));
	printf("%s bytes=%" PRIu64 " sha256=%s\n", out, got, hex);
	return 0;
}

int ctl_cmd_recordings(struct ctl *c, int argc, char **argv)
{
	if (argc > 0 && strcmp(argv[0], "fetch") == 0)
		return rec_fetch(c, argc - 1, argv + 1);
	if (argc > 0 && strcmp(argv[0], "list") == 0)
		return rec_list(c, argc - 1, argv + 1);
	return rec_list(c, argc, argv);
}
