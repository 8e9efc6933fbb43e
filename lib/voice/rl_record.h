/*
 * rl_record.h - call recordings: both parties of a call in one Ogg Opus file, written by a
 * thread of its own.
 *
 * A recording is a stereo Ogg Opus file (RFC 7845, channel mapping family 1: two mono
 * streams, uncoupled): the left channel is this end's party (at a site node, the caller),
 * the right the peer's (the agent). Nothing is encoded again: each 20 ms the media thread
 * hands over the Opus packet it just encoded for the peer and the one it took out of its
 * jitter buffer, and the two become one multistream packet (the first in self-delimited
 * framing, RFC 6716 appendix B). A peer frame that was lost is concealed by the player
 * (a zero-length frame); while the recording is paused both channels get a silence packet,
 * so the file keeps the pause's length as silence and nothing said during it.
 *
 * Threads: a media thread calls rl_record_local/rl_record_peer for a call it carries (never
 * blocking: the packets gather in a block of memory that goes to the writer when full);
 * any thread may pause; the owner opens and closes. The writer thread (one per recorder)
 * makes the Ogg pages, hashes what it writes (SHA-256) and writes it. The queue towards the
 * writer is bounded: a block that does not fit stops that recording (overflow), as does a
 * write error (a full disk): the file keeps what was written, whole pages, and the result
 * says incomplete. The call is never held up.
 */
#ifndef RL_RECORD_H
#define RL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "rl_id.h"

#define RL_RECORD_PATH_MAX 1024

struct rl_recorder;
struct rl_record;

/* What became of a recording, once its file is closed (rl_recorder_poll). */
struct rl_record_result {
	char key[RL_ID_MAX + 1];        /* as given to rl_record_open (the contact id) */
	char path[RL_RECORD_PATH_MAX];  /* the file */
	char sha256[65];                /* hex, of the file as it is on disk */
	uint64_t bytes;                 /* the file's size */
	uint64_t frames, paused_frames; /* 20 ms frames in the file; of them, paused (silence) */
	int err;                        /* RL_OK: complete; RL_EIO: a write failed; RL_EFULL: overflow */
	int sys_errno;                  /* with RL_EIO: errno of the failed call */
	uint64_t tag;                   /* as given to rl_record_tag */
};

struct rl_recorder_stats {
	uint64_t started, complete, incomplete; /* recordings */
	uint64_t write_errors, overflows;       /* why incomplete */
	uint64_t bytes;                         /* written */
	uint64_t queued_bytes;                  /* waiting for the writer now */
	unsigned active;                        /* open now */
};

/* rl_recorder_open starts a writer thread whose queue holds at most queue_bytes of audio
 * (0: 16 MiB). Errors: RL_EIO (no thread). */
int rl_recorder_open(struct rl_recorder **out, size_t queue_bytes);

/* rl_recorder_close finishes every recording still queued (their results are dropped),
 * stops the thread and frees r (NULL is fine). Recordings not closed before are leaked. */
void rl_recorder_close(struct rl_recorder *r);

/* rl_record_open starts a recording of key (a contact id) into path, a new file (its missing
 * folders are made; an existing file is an error, reported in the result). rate: the audio
 * rate the parties were encoded at (8000, 16000; a header field). tags: ntags "KEY=value"
 * comments for OpusTags (copied). Returns the recording, owned by the caller until
 * rl_record_close. */
struct rl_record *rl_record_open(struct rl_recorder *r, const char *key, const char *path, unsigned rate,
                                 const char *const *tags, size_t ntags);

/* rl_record_tag: a number of the owner's for the result (the node: which answer the file
 * records). The owner's thread, before rl_record_close. */
void rl_record_tag(struct rl_record *rec, uint64_t tag);

/* rl_record_local: this end's Opus packet for the frame now (one 20 ms frame; len 0 = none).
 * rl_record_peer: the peer's packet for the same frame, or NULL when it was lost; completes
 * the frame. Media thread only, always in that order, never after rl_record_close. */
void rl_record_local(struct rl_record *rec, const uint8_t *pkt, size_t len);
void rl_record_peer(struct rl_record *rec, const uint8_t *pkt, size_t len);

/* rl_record_pause: 1 = silence from the next frame on, 0 = record again. Any thread. */
void rl_record_pause(struct rl_record *rec, int paused);

/* rl_record_failed: 0 while the recording goes on, else why it stopped (RL_EIO, RL_EFULL). */
int rl_record_failed(const struct rl_record *rec);

/* rl_record_close: no more frames (the media thread must have let go of rec: the call
 * deleted or the recording detached). The writer finishes the file; its result comes out of
 * rl_recorder_poll. rec is the recorder's from now on. */
void rl_record_close(struct rl_record *rec);

/* rl_recorder_poll takes one finished recording's result into *res: 1 if there was one, 0 if
 * none. Any thread. */
int rl_recorder_poll(struct rl_recorder *r, struct rl_record_result *res);

void rl_recorder_stats(struct rl_recorder *r, struct rl_recorder_stats *st);

#endif
