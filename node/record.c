/*
 * record.c - the site's call recordings (record.h): the hub's orders to the media engine and
 * the recorder, the reports back, and the files served to operators.
 */
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rl_alloc.h"
#include "rl_client.h"
#include "rl_err.h"
#include "rl_htab.h"
#include "rl_log.h"
#include "rl_media.h"
#include "rl_operator.h"
#include "rl_record.h"
#include "rl_scrape.h"
#include "rl_time.h"
#include "rl_wire.h"

#define RL_RECS_TAGS 9

/* One recording open at this site. */
struct rl_rec_entry {
	char id[RL_WIRE_MAX_ID + 1];
	struct rl_record *rec;
	int paused;
};

struct rl_recs {
	char dir[RL_RECORD_PATH_MAX / 2];
	struct rl_recorder *w;
	struct rl_htab live; /* struct rl_rec_entry by contact id */
	unsigned nlive;
	uint64_t alarms, reported; /* recordings stopped early here; reports sent */
};

static int rl_rec_eq(const void *v, const void *k)
{
	return strcmp(((const struct rl_rec_entry *)v)->id, k) == 0;
}

int rl_recs_open(struct rl_recs **out, const char *dir, size_t queue_bytes)
{
	struct rl_recs *rs = rl_calloc(1, sizeof(*rs));
	int rv;

	snprintf(rs->dir, sizeof(rs->dir), "%s", dir ? dir : "");
	if ((rv = rl_recorder_open(&rs->w, queue_bytes)) != RL_OK) {
		free(rs);
		return rv;
	}
	*out = rs;
	return RL_OK;
}

/* rl_recs_report tells the hub (until it acknowledges) what became of a recording. */
static void rl_recs_report(struct rl_recs *rs, struct rl_client *hub, const struct rl_record_result *res,
                           const char *error)
{
	Relais__RecordingDone d = RELAIS__RECORDING_DONE__INIT;
	Relais__Recording r = RELAIS__RECORDING__INIT;
	rl_env env;
	int rv;

	r.on = 1;
	r.path = (char *)res->path;
	r.sha256 = (char *)res->sha256;
	r.bytes = res->bytes;
	r.duration_ms = res->frames * 20;
	r.paused_ms = res->paused_frames * 20;
	r.incomplete = error != NULL;
	r.error = (char *)(error ? error : "");
	r.answered_us = res->tag;
	d.contact_id = (char *)res->key;
	d.recording = &r;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_RECORDING_DONE;
	env.recording_done = &d;
	if ((rv = rl_client_request(hub, &env, NULL, NULL)) != RL_OK)
		rl_log(RL_LOG_ERR, "recording report not sent contact=%s err=\"%s\"", res->key, rl_strerror(rv));
	rs->reported++;
}

/* rl_recs_path: where contact id's recording of order o goes. */
static void rl_recs_path(const struct rl_recs *rs, const char *id, const Relais__RecordingOrder *o, char *path,
                         size_t cap)
{
	time_t t = (time_t)(o->answered_us / 1000000u);
	struct tm tm;
	char day[16];

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	snprintf(path, cap, "%s/%s/%s/%s-%lld.opus", rs->dir, o->tenant_id, day, id, (long long)t);
}

/* rl_recs_tags: the file's OpusTags comments (tags[i] points into text). */
static size_t rl_recs_tags(const char *id, const Relais__ContactUpdate *u, const Relais__RecordingOrder *o,
                           char text[RL_RECS_TAGS][320], const char *tags[RL_RECS_TAGS])
{
	time_t t = (time_t)(o->answered_us / 1000000u), now = (time_t)(rl_wall_us() / 1000000u);
	struct tm tm;
	char answered[32], started[32];

	gmtime_r(&t, &tm);
	strftime(answered, sizeof(answered), "%Y-%m-%dT%H:%M:%SZ", &tm);
	gmtime_r(&now, &tm);
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(text[0], 320, "TITLE=contact %s", id);
	snprintf(text[1], 320, "RELAIS_CONTACT=%s", id);
	snprintf(text[2], 320, "RELAIS_TENANT=%s", o->tenant_id);
	snprintf(text[3], 320, "RELAIS_QUEUE=%s", o->queue_id);
	snprintf(text[4], 320, "RELAIS_AGENT=%s", u->agent_id ? u->agent_id : "");
	snprintf(text[5], 320, "RELAIS_CALLER=%s", o->caller);
	snprintf(text[6], 320, "RELAIS_ANSWERED=%s", answered);
	snprintf(text[7], 320, "RELAIS_STARTED=%s", started);
	snprintf(text[8], 320, "RELAIS_CHANNELS=left caller, right agent");
	for (size_t i = 0; i < RL_RECS_TAGS; i++)
		tags[i] = text[i];
	return RL_RECS_TAGS;
}

/* rl_recs_start opens contact id's recording and gives it to its media call. */
static struct rl_rec_entry *rl_recs_start(struct rl_recs *rs, const char *id, const Relais__ContactUpdate *u,
                                          struct rl_media *m, struct rl_client *hub)
{
	const Relais__RecordingOrder *o = u->recording;
	struct rl_record_result res = {0};
	char path[RL_RECORD_PATH_MAX], text[RL_RECS_TAGS][320];
	const char *tags[RL_RECS_TAGS];
	struct rl_rec_entry *x;

	snprintf(res.key, sizeof(res.key), "%s", id);
	res.tag = o->answered_us;
	if (rs->dir[0] == 0 || !rl_wire_id_ok(o->tenant_id)) {
		rl_log(RL_LOG_ERR, "recording impossible contact=%s: no recording dir at this site", id);
		rs->alarms++;
		rl_recs_report(rs, hub, &res, "no recording dir at this site");
		return NULL;
	}
	rl_recs_path(rs, id, o, path, sizeof(path));
	x = rl_calloc(1, sizeof(*x));
	snprintf(x->id, sizeof(x->id), "%s", id);
	x->rec = rl_record_open(rs->w, id, path, 0, tags, rl_recs_tags(id, u, o, text, tags));
	rl_record_tag(x->rec, o->answered_us);
	if (rl_media_record(m, id, x->rec) != RL_OK) {
		rl_record_close(x->rec); /* no media call: the file ends empty */
		free(x);
		return NULL;
	}
	rl_htab_put(&rs->live, rl_htab_hash(id), x);
	rs->nlive++;
	rl_log(RL_LOG_INFO, "recording start contact=%s path=%s", id, path);
	return x;
}

/* rl_recs_stop takes x's recording off its call and closes the file (reported when done). */
static void rl_recs_stop(struct rl_recs *rs, struct rl_rec_entry *x, struct rl_media *m)
{
	rl_media_record(m, x->id, NULL); /* RL_ENOENT if the call is gone already: fine */
	rl_record_close(x->rec);
	rl_htab_del(&rs->live, rl_htab_hash(x->id), x);
	rs->nlive--;
	free(x);
}

void rl_recs_update(struct rl_recs *rs, const char *id, int media_live, const Relais__ContactUpdate *u,
                    struct rl_media *m, struct rl_client *hub)
{
	struct rl_rec_entry *x = rl_htab_get(&rs->live, rl_htab_hash(id), rl_rec_eq, id);
	const Relais__RecordingOrder *o = u->recording;

	if (u->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED) {
		if (o == NULL || !o->on)
			return;
		if (x == NULL && media_live)
			x = rl_recs_start(rs, id, u, m, hub);
		if (x != NULL && x->paused != o->paused) {
			x->paused = o->paused;
			rl_record_pause(x->rec, o->paused);
			rl_log(RL_LOG_INFO, "recording %s contact=%s", o->paused ? "paused" : "resumed", id);
		}
	} else if (x != NULL) {
		rl_recs_stop(rs, x, m); /* queued again (a transfer) or ended */
	}
}

static const char *rl_recs_why(const struct rl_record_result *res, char *buf, size_t cap)
{
	if (res->err == RL_OK)
		return NULL;
	if (res->err == RL_EFULL)
		return "the writer fell behind (queue full)";
	snprintf(buf, cap, "write failed: %s", strerror(res->sys_errno));
	return buf;
}

void rl_recs_tick(struct rl_recs *rs, struct rl_media *m, struct rl_client *hub)
{
	struct rl_record_result res;
	char why[128];

	for (size_t i = 0; i < rs->live.cap; i++) {
		struct rl_rec_entry *x = rs->live.ents ? rs->live.ents[i].val : NULL;
		int err = x ? rl_record_failed(x->rec) : 0;
		if (err == 0)
			continue;
		/* The alarm: the call goes on without its recording. */
		rs->alarms++;
		rl_log(RL_LOG_ERR, "recording alarm contact=%s stopped, the call goes on: %s", x->id,
		       err == RL_EFULL ? "the writer fell behind" : "write failed");
		rl_recs_stop(rs, x, m);
		i = (size_t)-1; /* the table changed: look again */
	}
	while (rl_recorder_poll(rs->w, &res)) {
		const char *error = rl_recs_why(&res, why, sizeof(why));
		rl_log(error ? RL_LOG_WARNING : RL_LOG_INFO,
		       "recording %s contact=%s path=%s bytes=%" PRIu64 " sha256=%s%s%s", error ? "incomplete" : "done",
		       res.key, res.path, res.bytes, res.sha256, error ? " error=" : "", error ? error : "");
		rl_recs_report(rs, hub, &res, error);
	}
}

/* rl_recs_find: the newest recording of contact id (path, and its tenant, the folder under
 * dir). 0 or -1. */
static int rl_recs_find(const struct rl_recs *rs, const char *id, char *path, size_t cap, char *tenant, size_t tcap)
{
	char pat[RL_RECORD_PATH_MAX + 64];
	glob_t g;
	int rv = -1;

	if (rs->dir[0] == 0 || !rl_wire_id_ok(id))
		return -1;
	snprintf(pat, sizeof(pat), "%s/*/*/%s-*.opus", rs->dir, id);
	if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
		const char *p = g.gl_pathv[g.gl_pathc - 1]; /* sorted: the newest answer last */
		const char *t = p + strlen(rs->dir) + 1, *slash = strchr(t, '/');
		snprintf(path, cap, "%s", p);
		snprintf(tenant, tcap, "%.*s", slash ? (int)(slash - t) : 0, t);
		rv = 0;
	}
	globfree(&g);
	return rv;
}

static int rl_op_sees(const struct rl_operator *op, const char *tenant)
{
	if (op->role == RL_OP_ADMIN)
		return 1;
	if (op->role != RL_OP_SUPERVISOR)
		return 0;
	for (int i = 0; i < op->ntenants; i++)
		if (strcmp(op->tenants[i], tenant) == 0)
			return 1;
	return op->ntenants == 0;
}

Relais__ErrorCode rl_recs_fetch(struct rl_recs *rs, const struct rl_operator *op, const Relais__RecordingFetch *f,
                                Relais__RecordingChunk *out, uint8_t *buf)
{
	char path[RL_RECORD_PATH_MAX], tenant[RL_WIRE_MAX_ID + 1];
	size_t max = f->max == 0 || f->max > RL_RECORDING_CHUNK ? RL_RECORDING_CHUNK : f->max;
	struct stat st;
	ssize_t n;
	int fd;

	if (rl_recs_find(rs, f->contact_id, path, sizeof(path), tenant, sizeof(tenant)) != 0 || !rl_op_sees(op, tenant))
		return RELAIS__ERROR_CODE__ERR_UNKNOWN_CONTACT; /* out of scope: as unknown */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return RELAIS__ERROR_CODE__ERR_UNKNOWN_CONTACT;
	if (fstat(fd, &st) != 0 || (n = pread(fd, buf, max, (off_t)f->offset)) < 0) {
		close(fd);
		return RELAIS__ERROR_CODE__ERR_INTERNAL;
	}
	close(fd);
	relais__recording_chunk__init(out);
	out->contact_id = f->contact_id;
	out->offset = f->offset;
	out->total = (uint64_t)st.st_size;
	out->data.data = buf;
	out->data.len = (size_t)n;
	rl_log(RL_LOG_INFO, "recording fetch contact=%s operator=%s offset=%" PRIu64 " bytes=%zd", f->contact_id,
	       op->id, f->offset, n);
	return RELAIS__ERROR_CODE__ERR_NONE;
}

void rl_recs_metrics(struct rl_recs *rs, struct rl_text *t)
{
	struct rl_recorder_stats st;

	rl_recorder_stats(rs->w, &st);
	rl_prom_gauge(t, "relais_node_recordings", "Calls being recorded now.", rs->nlive);
	rl_prom_counter(t, "relais_node_recordings_started_total", "Recordings started.", st.started);
	rl_prom_counter(t, "relais_node_recordings_complete_total", "Recordings closed whole.", st.complete);
	rl_prom_counter(t, "relais_node_recordings_incomplete_total",
	                "Recordings that stopped early (write error, writer behind); the calls went on.",
	                st.incomplete);
	rl_prom_counter(t, "relais_node_recording_write_errors_total",
	                "Recordings stopped by a failed write (disk full).", st.write_errors);
	rl_prom_counter(t, "relais_node_recording_overflows_total",
	                "Recordings stopped because the writer fell behind by its whole queue.", st.overflows);
	rl_prom_counter(t, "relais_node_recording_alarms_total", "Recordings stopped early or impossible at this site.",
	                rs->alarms);
	rl_prom_counter(t, "relais_node_recording_bytes_total", "Bytes written to recordings.", st.bytes);
	rl_prom_gauge(t, "relais_node_recording_queue_bytes", "Recorded audio waiting for the writer.",
	              (double)st.queued_bytes);
}

void rl_recs_close(struct rl_recs *rs)
{
	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->live.cap; i++) {
		struct rl_rec_entry *x = rs->live.ents ? rs->live.ents[i].val : NULL;
		if (x != NULL) {
			rl_record_close(x->rec);
			free(x);
		}
	}
	rl_htab_fini(&rs->live);
	rl_recorder_close(rs->w);
	free(rs);
}
