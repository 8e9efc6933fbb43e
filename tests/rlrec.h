/*
 * rlrec.h - reading a recording back in tests: an Ogg Opus file (rl_record.h) decoded with
 * libogg and libopus's multistream decoder, independently of the writer's code.
 */
#ifndef RLREC_H
#define RLREC_H

#include <stddef.h>
#include <stdint.h>

struct rlrec {
	int16_t *pcm;    /* interleaved, 48 kHz, channels per frame, pre-skip removed; malloc'd */
	size_t frames;   /* samples per channel */
	int channels;    /* from OpusHead */
	char tags[2048]; /* the OpusTags comments, one "KEY=value\n" each */
	int eos;         /* the last page was marked end of stream */
	int64_t granule; /* the last page's granule position */
};

/* rlrec_read decodes path; returns 0, or -1 (with why on stderr) if the file is not a valid
 * Ogg Opus file of 1 or 2 channels. Free with rlrec_free. */
int rlrec_read(const char *path, struct rlrec *r);
void rlrec_free(struct rlrec *r);

/* rlrec_tone: the strength of frequency hz in channel ch over [from, from+n) (Goertzel,
 * normalised: a full-scale sine gives about 1). */
double rlrec_tone(const struct rlrec *r, int ch, size_t from, size_t n, double hz);

/* rlrec_rms: root mean square of channel ch over [from, from+n), full scale = 32768. */
double rlrec_rms(const struct rlrec *r, int ch, size_t from, size_t n);

/* rlrec_sha256_file: hex SHA-256 of a file into out (65 bytes); 0 or -1. */
int rlrec_sha256_file(const char *path, char out[65]);

#endif
