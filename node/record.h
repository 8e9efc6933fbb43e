/*
 * record.h - the site's call recordings: started, paused and stopped as the hub orders
 * (ContactUpdate.recording), written by the recorder's thread (rl_record.h), reported to the
 * hub when each file is closed, and served in chunks to operators who may hear them.
 *
 * Files: <dir>/<tenant>/<YYYY-MM-DD of the answer, UTC>/<contact>-<answer, unix seconds>.opus,
 * stereo Ogg Opus, the caller left and the agent right (docs/supervision.md, Recording). A
 * recording that stops early (a full disk, a write error, a writer behind) stops with an
 * alarm - a log line, counters, metrics - and the call goes on. Everything runs on the node's
 * loop thread except the recorder's writer.
 */
#ifndef RL_NODE_RECORD_H
#define RL_NODE_RECORD_H

#include <stddef.h>

#include "relais.pb-c.h"

struct rl_client;
struct rl_media;
struct rl_operator;
struct rl_text;
struct rl_recs;

/* rl_recs_open: recordings into dir ("" = this site records nothing: an order to record is
 * reported incomplete at once), the writer's queue bounded by queue_bytes (0: 16 MiB).
 * Errors: RL_EIO. */
int rl_recs_open(struct rl_recs **out, const char *dir, size_t queue_bytes);

/* rl_recs_update acts on u about contact id, whose media call in m is live (media_live) or
 * not: a connected call the hub says to record starts (once) and follows the order's pause;
 * a call that leaves its agent (queued again, ended) stops. Reports go to hub. Call it after
 * the bridge has seen u. */
void rl_recs_update(struct rl_recs *rs, const char *id, int media_live, const Relais__ContactUpdate *u,
                    struct rl_media *m, struct rl_client *hub);

/* rl_recs_tick stops the recordings that failed (the alarm) and reports closed files. */
void rl_recs_tick(struct rl_recs *rs, struct rl_media *m, struct rl_client *hub);

/* rl_recs_fetch fills out (its data in buf, RL_RECORDING_CHUNK bytes) with a chunk of the
 * recording f names, if operator op may hear it: an admin any, a supervisor its tenants'.
 * Returns 0, or an error code for the answer (ERR_UNKNOWN_CONTACT also when out of scope). */
Relais__ErrorCode rl_recs_fetch(struct rl_recs *rs, const struct rl_operator *op, const Relais__RecordingFetch *f,
                                Relais__RecordingChunk *out, uint8_t *buf);

/* rl_recs_metrics appends the recordings' metrics (rl_scrape.h) to t. */
void rl_recs_metrics(struct rl_recs *rs, struct rl_text *t);

/* rl_recs_close finishes the files still open (their calls must be gone from the media
 * engine), stops the writer and frees rs (NULL is fine). */
void rl_recs_close(struct rl_recs *rs);

#endif
