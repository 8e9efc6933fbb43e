/*
 * rl_record.c - call recordings in Ogg Opus, written off the media threads (rl_record.h).
 *
 * Why stereo from two mono streams rather than two logical Ogg streams or two files: every
 * Ogg Opus player (opusdec, browsers, VLC, ffmpeg) plays both parties of one file at once,
 * left and right, while a second logical stream is ignored by most of them and two files
 * must be lined up by hand. Channel mapping family 1 lets each channel be an uncoupled mono
 * stream, so the packets the call already has go into the file as they are: recording costs
 * a copy, a page and a hash, not an encoder.
 *
 * The media thread builds each frame's multistream packet and appends it, as a 2-byte
 * length and the bytes, to the recording's current block; a full block goes to the writer's
 * queue (bounded by bytes) without waiting: if the writer holds the queue's lock (it may have
 * been preempted holding it), the block stays with the recording until the next one is full. The writer thread owns everything else: the file, the Ogg stream
 * state, the hash. Items for one recording (open, blocks, close) go through the one queue in
 * order.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "rl_record.h"

#include <errno.h>
#include <fcntl.h>
#include <ogg/ogg.h>
#include <opus/opus.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"

#define RL_RECORD_BLOCK       8192
#define RL_RECORD_PKT         1500 /* the most a call's packet carries */
#define RL_RECORD_MS_MAX      (2 * RL_RECORD_PKT + 128)
#define RL_RECORD_FRAME       960 /* 20 ms at 48 kHz, the granule position's clock */
#define RL_RECORD_PRESKIP     312 /* the encoder's look-ahead, 6.5 ms at 48 kHz */
#define RL_RECORD_QUEUE_BYTES (16u << 20)

/* A CELT frame with its silence flag set: 20 ms of digital silence (decodes to zeros). */
static const uint8_t rl_record_silence[] = {0xF8, 0xFF, 0xFE};

enum rl_ritem_kind { RL_RITEM_OPEN, RL_RITEM_DATA, RL_RITEM_CLOSE };

struct rl_ritem {
	struct rl_ritem *next;
	enum rl_ritem_kind kind;
	struct rl_record *rec;
	size_t len; /* bytes of data used (DATA) */
	uint8_t data[];
};

struct rl_record {
	struct rl_recorder *r;
	char key[RL_ID_MAX + 1];
	char path[RL_RECORD_PATH_MAX];
	unsigned rate;
	char **tags;
	size_t ntags;
	uint64_t tag; /* the owner's (rl_record_tag) */
	atomic_int paused, failed;
	/* the media thread's */
	struct rl_ritem *cur;
	struct rl_ritem *pend, *pend_tail;  /* full blocks the writer has not taken yet */
	uint8_t local[RL_RECORD_PKT + 128]; /* this frame's local packet, self-delimited */
	size_t local_len;
	uint8_t peer_toc; /* of the last good peer packet; 0 = none yet */
	uint64_t frames, paused_frames;
	/* the writer's */
	int fd;
	ogg_stream_state os;
	int os_init;
	crypto_hash_sha256_state sha;
	uint64_t bytes, written_frames;
	uint8_t held[RL_RECORD_MS_MAX]; /* the last packet, kept back to be marked end of stream */
	size_t held_len;
	int err, sys_errno;
};

struct rl_recorder {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rl_ritem *head, *tail;
	int stop;
	size_t max_bytes;
	struct rl_recorder_stats st;
	atomic_uint_fast64_t overflows; /* counted by media threads, without the lock */
	struct rl_record_result *done;
	size_t ndone, capdone;
};

/* ---------------------------------------------------------------------------------------- */
/* the queue */

static struct rl_ritem *rl_ritem_new(enum rl_ritem_kind kind, struct rl_record *rec, size_t cap)
{
	struct rl_ritem *it = rl_malloc(sizeof(*it) + cap);

	it->next = NULL;
	it->kind = kind;
	it->rec = rec;
	it->len = 0;
	return it;
}

/* rl_recorder_put appends it to the queue; under r->mu. */
static void rl_recorder_put(struct rl_recorder *r, struct rl_ritem *it)
{
	if (r->tail)
		r->tail->next = it;
	else
		r->head = it;
	r->tail = it;
}

/* rl_recorder_push queues an open or a close (the owner's thread: it may wait for the lock). */
static void rl_recorder_push(struct rl_recorder *r, struct rl_ritem *it)
{
	pthread_mutex_lock(&r->mu);
	rl_recorder_put(r, it);
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* rl_recorder_hand queues rec's full blocks, in order, as far as the bound lets them. A media
 * thread never waits (wait 0): if the writer holds the lock - it may have been preempted
 * holding it - the blocks stay with rec until the next try. Returns 1 if they went, 0 if
 * they wait, -1 if they did not fit (freed: the recording stops). */
static int rl_recorder_hand(struct rl_recorder *r, struct rl_record *rec, int wait)
{
	int rv = 1;

	if (rec->pend == NULL)
		return 1;
	if (wait)
		pthread_mutex_lock(&r->mu);
	else if (pthread_mutex_trylock(&r->mu) != 0)
		return 0;
	while (rec->pend != NULL) {
		struct rl_ritem *it = rec->pend;
		rec->pend = it->next;
		it->next = NULL;
		if (rv == 1 && r->st.queued_bytes + it->len <= r->max_bytes) {
			r->st.queued_bytes += it->len;
			rl_recorder_put(r, it);
		} else {
			rv = -1;
			free(it);
		}
	}
	rec->pend_tail = NULL;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return rv;
}

/* ---------------------------------------------------------------------------------------- */
/* the media thread's side */

/* rl_opus_len writes a frame length as Opus does (RFC 6716 3.1): 1 or 2 bytes. */
static size_t rl_opus_len(uint8_t *p, size_t n)
{
	if (n < 252) {
		p[0] = (uint8_t)n;
		return 1;
	}
	p[0] = (uint8_t)(252 + (n & 3));
	p[1] = (uint8_t)((n - p[0]) >> 2);
	return 2;
}

/* rl_record_sd writes a 20 ms packet in self-delimited framing (RFC 6716 appendix B) into
 * out (RL_RECORD_PKT + 128 bytes), keeping its frames: code 0 for one frame, else code 3
 * with every frame's length. Returns its length, 0 if pkt is not a valid 20 ms packet. */
static size_t rl_record_sd(const uint8_t *pkt, size_t len, uint8_t *out)
{
	const unsigned char *fr[48];
	opus_int16 sz[48];
	unsigned char toc;
	size_t o;
	int n;

	if (len == 0 || len > RL_RECORD_PKT ||
	    opus_packet_get_nb_samples(pkt, (opus_int32)len, 48000) != RL_RECORD_FRAME)
		return 0;
	if ((n = opus_packet_parse(pkt, (opus_int32)len, &toc, fr, sz, NULL)) < 1)
		return 0;
	if (n == 1) {
		out[0] = toc & 0xFC;
		o = 1;
	} else {
		out[0] = (uint8_t)((toc & 0xFC) | 3);
		out[1] = (uint8_t)(0x80 | n); /* VBR, no padding */
		o = 2;
	}
	for (int i = 0; i < n; i++)
		o += rl_opus_len(out + o, (size_t)sz[i]);
	for (int i = 0; i < n; i++) {
		memcpy(out + o, fr[i], (size_t)sz[i]);
		o += (size_t)sz[i];
	}
	return o;
}

/* rl_record_flush hands rec's current block (and those still waiting) to the writer. */
static void rl_record_flush(struct rl_record *rec, int wait)
{
	struct rl_ritem *it = rec->cur;
	int running = 0;

	rec->cur = NULL;
	if (it != NULL && it->len == 0) {
		free(it);
	} else if (it != NULL) {
		if (rec->pend_tail)
			rec->pend_tail->next = it;
		else
			rec->pend = it;
		rec->pend_tail = it;
	}
	/* -1: the writer is behind by the whole bound: stop this recording, once. */
	if (rl_recorder_hand(rec->r, rec, wait) < 0 && atomic_compare_exchange_strong(&rec->failed, &running, RL_EFULL))
		atomic_fetch_add(&rec->r->overflows, 1);
}

static void rl_record_append(struct rl_record *rec, const uint8_t *p, size_t n)
{
	uint8_t *d;

	if (rec->cur != NULL && rec->cur->len + 2 + n > RL_RECORD_BLOCK)
		rl_record_flush(rec, 0);
	if (rec->cur == NULL)
		rec->cur = rl_ritem_new(RL_RITEM_DATA, rec, RL_RECORD_BLOCK);
	d = rec->cur->data + rec->cur->len;
	d[0] = (uint8_t)(n >> 8);
	d[1] = (uint8_t)n;
	memcpy(d + 2, p, n);
	rec->cur->len += 2 + n;
}

void rl_record_local(struct rl_record *rec, const uint8_t *pkt, size_t len)
{
	if (atomic_load_explicit(&rec->failed, memory_order_relaxed))
		return;
	rec->local_len = rl_record_sd(pkt, len, rec->local);
}

/* rl_record_frame builds the frame's multistream packet into ms: the local party
 * (self-delimited) then the peer; silence for both while paused. Returns its length. */
static size_t rl_record_frame(struct rl_record *rec, const uint8_t *pkt, size_t len, uint8_t *ms)
{
	size_t o;

	if (atomic_load_explicit(&rec->paused, memory_order_relaxed)) {
		rec->paused_frames++;
		o = rl_record_sd(rl_record_silence, sizeof(rl_record_silence), ms);
		memcpy(ms + o, rl_record_silence, sizeof(rl_record_silence));
		return o + sizeof(rl_record_silence);
	}
	if (rec->local_len > 0) {
		memcpy(ms, rec->local, rec->local_len);
		o = rec->local_len;
	} else {
		o = rl_record_sd(rl_record_silence, sizeof(rl_record_silence), ms);
	}
	if (pkt != NULL && len <= RL_RECORD_PKT &&
	    opus_packet_get_nb_samples(pkt, (opus_int32)len, 48000) == RL_RECORD_FRAME) {
		rec->peer_toc = pkt[0];
		memcpy(ms + o, pkt, len);
		return o + len;
	}
	if (rec->peer_toc != 0) {
		/* lost: a 20 ms frame of no bytes, which the player conceals as the call did */
		ms[o] = rec->peer_toc & 0xFC;
		return o + 1;
	}
	/* before the peer's first packet there is nothing to conceal from */
	memcpy(ms + o, rl_record_silence, sizeof(rl_record_silence));
	return o + sizeof(rl_record_silence);
}

void rl_record_peer(struct rl_record *rec, const uint8_t *pkt, size_t len)
{
	uint8_t ms[RL_RECORD_MS_MAX];
	size_t n;

	if (atomic_load_explicit(&rec->failed, memory_order_relaxed))
		return;
	n = rl_record_frame(rec, pkt, len, ms);
	rec->local_len = 0;
	rec->frames++;
	rl_record_append(rec, ms, n);
}

void rl_record_pause(struct rl_record *rec, int paused)
{
	atomic_store(&rec->paused, paused ? 1 : 0);
}

int rl_record_failed(const struct rl_record *rec)
{
	return atomic_load(&rec->failed);
}

/* ---------------------------------------------------------------------------------------- */
/* the owner's side */

struct rl_record *rl_record_open(struct rl_recorder *r, const char *key, const char *path, unsigned rate,
                                 const char *const *tags, size_t ntags)
{
	struct rl_record *rec = rl_calloc(1, sizeof(*rec));

	rec->r = r;
	rec->fd = -1;
	rec->rate = rate;
	snprintf(rec->key, sizeof(rec->key), "%s", key);
	snprintf(rec->path, sizeof(rec->path), "%s", path);
	rec->tags = rl_calloc(ntags ? ntags : 1, sizeof(*rec->tags));
	for (size_t i = 0; i < ntags; i++)
		rec->tags[i] = rl_strdup(tags[i]);
	rec->ntags = ntags;
	pthread_mutex_lock(&r->mu);
	r->st.started++;
	r->st.active++;
	pthread_mutex_unlock(&r->mu);
	rl_recorder_push(r, rl_ritem_new(RL_RITEM_OPEN, rec, 0));
	return rec;
}

void rl_record_tag(struct rl_record *rec, uint64_t tag)
{
	rec->tag = tag; /* the writer reads it at the close, which the queue's lock orders after */
}

void rl_record_close(struct rl_record *rec)
{
	if (rec == NULL)
		return;
	rl_record_flush(rec, 1);
	rl_recorder_push(rec->r, rl_ritem_new(RL_RITEM_CLOSE, rec, 0));
}

int rl_recorder_poll(struct rl_recorder *r, struct rl_record_result *res)
{
	int got = 0;

	pthread_mutex_lock(&r->mu);
	if (r->ndone > 0) {
		*res = r->done[0];
		memmove(r->done, r->done + 1, (r->ndone - 1) * sizeof(*r->done));
		r->ndone--;
		got = 1;
	}
	pthread_mutex_unlock(&r->mu);
	return got;
}

void rl_recorder_stats(struct rl_recorder *r, struct rl_recorder_stats *st)
{
	pthread_mutex_lock(&r->mu);
	*st = r->st;
	pthread_mutex_unlock(&r->mu);
	st->overflows = atomic_load(&r->overflows);
}

/* ---------------------------------------------------------------------------------------- */
/* the writer thread */

/* rl_record_fail stops writing rec after a failed call (errno e): the file is cut back to the
 * last whole page written, so it stays playable and its hash is that of what is on disk. */
static void rl_record_fail(struct rl_record *rec, const char *what, int e)
{
	rec->err = RL_EIO;
	rec->sys_errno = e;
	atomic_store(&rec->failed, RL_EIO);
	if (rec->fd >= 0) {
		if (ftruncate(rec->fd, (off_t)rec->bytes) != 0)
			rec->bytes = (uint64_t)lseek(rec->fd, 0, SEEK_END);
		close(rec->fd);
		rec->fd = -1;
	}
	pthread_mutex_lock(&rec->r->mu);
	rec->r->st.write_errors++;
	pthread_mutex_unlock(&rec->r->mu);
	rl_log(RL_LOG_ERR, "recording stopped contact=%s path=%s %s err=\"%s\"", rec->key, rec->path, what,
	       strerror(e));
}

static int rl_record_write(struct rl_record *rec, const uint8_t *p, size_t n)
{
	const uint8_t *start = p;
	size_t left = n;

	while (left > 0) {
		ssize_t w = write(rec->fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rl_record_fail(rec, "write failed", w < 0 ? errno : ENOSPC);
			return RL_EIO;
		}
		p += w;
		left -= (size_t)w;
	}
	crypto_hash_sha256_update(&rec->sha, start, n);
	rec->bytes += n;
	pthread_mutex_lock(&rec->r->mu);
	rec->r->st.bytes += n;
	pthread_mutex_unlock(&rec->r->mu);
	return RL_OK;
}

static int rl_record_page(struct rl_record *rec, const ogg_page *og)
{
	int rv = rl_record_write(rec, og->header, (size_t)og->header_len);

	return rv == RL_OK ? rl_record_write(rec, og->body, (size_t)og->body_len) : rv;
}

/* rl_record_pages writes the pages ready (all of them with flush). */
static void rl_record_pages(struct rl_record *rec, int flush)
{
	ogg_page og;

	while (rec->fd >= 0 && (flush ? ogg_stream_flush(&rec->os, &og) : ogg_stream_pageout(&rec->os, &og)) != 0)
		if (rl_record_page(rec, &og) != RL_OK)
			return;
}

static void rl_record_packetin(struct rl_record *rec, uint8_t *p, size_t n, int64_t granule, int bos, int eos)
{
	ogg_packet op = {.packet = p,
	                 .bytes = (long)n,
	                 .b_o_s = bos,
	                 .e_o_s = eos,
	                 .granulepos = granule,
	                 .packetno = (ogg_int64_t)rec->os.packetno};

	ogg_stream_packetin(&rec->os, &op);
}

static void rl_le16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void rl_le32(uint8_t *p, uint32_t v)
{
	rl_le16(p, v & 0xFFFF);
	rl_le16(p + 2, v >> 16);
}

/* rl_record_headers writes OpusHead (RFC 7845 5.1: two channels, mapping family 1, two
 * uncoupled streams, left = local party, right = peer) and OpusTags, each on its own page. */
static void rl_record_headers(struct rl_record *rec)
{
	uint8_t head[23] = "OpusHead";
	size_t vlen = strlen("relais"), len = 8 + 4 + vlen + 4, o;
	uint8_t *tags;

	head[8] = 1;
	head[9] = 2;
	rl_le16(head + 10, RL_RECORD_PRESKIP);
	rl_le32(head + 12, rec->rate);
	rl_le16(head + 16, 0);
	head[18] = 1; /* family 1 */
	head[19] = 2; /* streams */
	head[20] = 0; /* coupled */
	head[21] = 0; /* left: stream 0, the local party */
	head[22] = 1; /* right: stream 1, the peer */
	rl_record_packetin(rec, head, sizeof(head), 0, 1, 0);
	rl_record_pages(rec, 1);
	for (size_t i = 0; i < rec->ntags; i++)
		len += 4 + strlen(rec->tags[i]);
	tags = rl_malloc(len);
	memcpy(tags, "OpusTags", 8);
	rl_le32(tags + 8, (uint32_t)vlen);
	memcpy(tags + 12, "relais", vlen);
	o = 12 + vlen;
	rl_le32(tags + o, (uint32_t)rec->ntags);
	o += 4;
	for (size_t i = 0; i < rec->ntags; i++) {
		size_t n = strlen(rec->tags[i]);
		rl_le32(tags + o, (uint32_t)n);
		memcpy(tags + o + 4, rec->tags[i], n);
		o += 4 + n;
	}
	rl_record_packetin(rec, tags, o, 0, 0, 0);
	free(tags);
	rl_record_pages(rec, 1);
}

/* rl_mkdirs makes the folders above path (0750), as mkdir -p. */
static int rl_mkdirs(const char *path)
{
	char tmp[RL_RECORD_PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

static void rl_record_start(struct rl_record *rec)
{
	crypto_hash_sha256_init(&rec->sha);
	if (rl_mkdirs(rec->path) != 0 ||
	    (rec->fd = open(rec->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0) {
		rl_record_fail(rec, "open failed", errno);
		return;
	}
	ogg_stream_init(&rec->os, (int)randombytes_random());
	rec->os_init = 1;
	rl_record_headers(rec);
}

/* rl_record_data puts a block's packets into the stream, each one keeping the one before it
 * back until then, so that the last can be marked end of stream at close. */
static void rl_record_data(struct rl_record *rec, const struct rl_ritem *it)
{
	for (size_t o = 0; o + 2 <= it->len && rec->fd >= 0;) {
		size_t n = (size_t)it->data[o] << 8 | it->data[o + 1];
		if (rec->held_len > 0) {
			rec->written_frames++;
			rl_record_packetin(rec, rec->held, rec->held_len,
			                   (int64_t)(rec->written_frames * RL_RECORD_FRAME), 0, 0);
			rl_record_pages(rec, 0);
		}
		memcpy(rec->held, it->data + o + 2, n);
		rec->held_len = n;
		o += 2 + n;
	}
}

static void rl_record_finish(struct rl_recorder *r, struct rl_record *rec)
{
	struct rl_record_result res = {0};
	uint8_t md[crypto_hash_sha256_BYTES];

	if (rec->fd >= 0) {
		if (rec->held_len == 0) { /* no frame at all: one of silence, to end the stream */
			size_t o = rl_record_sd(rl_record_silence, sizeof(rl_record_silence), rec->held);
			memcpy(rec->held + o, rl_record_silence, sizeof(rl_record_silence));
			rec->held_len = o + sizeof(rl_record_silence);
		}
		rec->written_frames++;
		rl_record_packetin(rec, rec->held, rec->held_len, (int64_t)(rec->written_frames * RL_RECORD_FRAME), 0,
		                   1);
		rl_record_pages(rec, 1);
	}
	if (rec->fd >= 0 && fsync(rec->fd) != 0)
		rl_record_fail(rec, "fsync failed", errno);
	if (rec->fd >= 0)
		close(rec->fd);
	crypto_hash_sha256_final(&rec->sha, md);
	snprintf(res.key, sizeof(res.key), "%s", rec->key);
	snprintf(res.path, sizeof(res.path), "%s", rec->path);
	sodium_bin2hex(res.sha256, sizeof(res.sha256), md, sizeof(md));
	res.bytes = rec->bytes;
	res.frames = rec->frames;
	res.paused_frames = rec->paused_frames;
	res.err = rec->err ? rec->err : atomic_load(&rec->failed);
	res.sys_errno = rec->sys_errno;
	res.tag = rec->tag;
	if (res.err == RL_EFULL)
		rl_log(RL_LOG_ERR, "recording stopped contact=%s path=%s writer behind: queue full", rec->key,
		       rec->path);
	pthread_mutex_lock(&r->mu);
	r->st.active--;
	if (res.err == RL_OK)
		r->st.complete++;
	else
		r->st.incomplete++;
	if (r->ndone == r->capdone) {
		r->capdone = r->capdone ? 2 * r->capdone : 16;
		r->done = rl_realloc(r->done, r->capdone * sizeof(*r->done));
	}
	r->done[r->ndone++] = res;
	pthread_mutex_unlock(&r->mu);
	if (rec->os_init)
		ogg_stream_clear(&rec->os);
	for (size_t i = 0; i < rec->ntags; i++)
		free(rec->tags[i]);
	free(rec->tags);
	free(rec);
}

static void rl_recorder_do(struct rl_recorder *r, struct rl_ritem *it)
{
	switch (it->kind) {
	case RL_RITEM_OPEN:
		rl_record_start(it->rec);
		break;
	case RL_RITEM_DATA:
		rl_record_data(it->rec, it);
		break;
	case RL_RITEM_CLOSE:
		rl_record_finish(r, it->rec);
		break;
	}
	free(it);
}

static void *rl_recorder_run(void *arg)
{
	struct rl_recorder *r = arg;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct rl_ritem *it;
		while (r->head == NULL && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		if ((it = r->head) == NULL)
			break;
		if ((r->head = it->next) == NULL)
			r->tail = NULL;
		if (it->kind == RL_RITEM_DATA)
			r->st.queued_bytes -= it->len;
		pthread_mutex_unlock(&r->mu);
		rl_recorder_do(r, it);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int rl_recorder_open(struct rl_recorder **out, size_t queue_bytes)
{
	struct rl_recorder *r = rl_calloc(1, sizeof(*r));

	r->max_bytes = queue_bytes ? queue_bytes : RL_RECORD_QUEUE_BYTES;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (pthread_create(&r->thread, NULL, rl_recorder_run, r) != 0) {
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cv);
		free(r);
		return RL_EIO;
	}
	pthread_setname_np(r->thread, "recorder"); /* what top -H and bench/trunk show */
	*out = r;
	return RL_OK;
}

void rl_recorder_close(struct rl_recorder *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r->done);
	free(r);
}
