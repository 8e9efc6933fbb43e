#include "rlrec.h"

#include <math.h>
#include <ogg/ogg.h>
#include <opus/opus_multistream.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t le32(const unsigned char *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}

static void rlrec_tags(struct rlrec *r, const unsigned char *p, long n)
{
	size_t o, cnt;

	if (n < 16 || memcmp(p, "OpusTags", 8) != 0)
		return;
	o = 12 + le32(p + 8);
	if (o + 4 > (size_t)n)
		return;
	cnt = le32(p + o);
	o += 4;
	for (size_t i = 0; i < cnt && o + 4 <= (size_t)n; i++) {
		size_t l = le32(p + o);
		if (o + 4 + l > (size_t)n)
			break;
		size_t have = strlen(r->tags);
		snprintf(r->tags + have, sizeof(r->tags) - have, "%.*s\n", (int)l, p + o + 4);
		o += 4 + l;
	}
}

static OpusMSDecoder *rlrec_head(struct rlrec *r, const unsigned char *p, long n, int *preskip)
{
	int err;
	unsigned char map[2] = {0, 1};
	int streams = 1, coupled = 0;

	if (n < 19 || memcmp(p, "OpusHead", 8) != 0 || p[9] < 1 || p[9] > 2)
		return NULL;
	r->channels = p[9];
	*preskip = (int)le16(p + 10);
	if (p[18] == 0) {
		coupled = r->channels == 2;
	} else {
		if (n < 21 + r->channels)
			return NULL;
		streams = p[19];
		coupled = p[20];
		memcpy(map, p + 21, (size_t)r->channels);
	}
	return opus_multistream_decoder_create(48000, r->channels, streams, coupled, map, &err);
}

static int rlrec_packet(struct rlrec *r, OpusMSDecoder *d, const ogg_packet *op, size_t *cap)
{
	int n;

	if (r->frames + 5760 > *cap) {
		*cap = (*cap + 5760) * 2;
		r->pcm = realloc(r->pcm, *cap * (size_t)r->channels * sizeof(int16_t));
	}
	n = opus_multistream_decode(d, op->packet, (opus_int32)op->bytes, r->pcm + r->frames * (size_t)r->channels,
	                            5760, 0);
	if (n < 0) {
		fprintf(stderr, "rlrec: packet %lld does not decode: %s\n", (long long)op->packetno, opus_strerror(n));
		return -1;
	}
	r->frames += (size_t)n;
	return 0;
}

static int rlrec_decode(FILE *f, struct rlrec *r)
{
	ogg_sync_state oy;
	ogg_stream_state os;
	ogg_page og;
	ogg_packet op;
	OpusMSDecoder *d = NULL;
	int started = 0, rv = 0, preskip = 0;
	long npk = 0;
	size_t cap = 0;

	ogg_sync_init(&oy);
	for (;;) {
		char *buf = ogg_sync_buffer(&oy, 4096);
		size_t got = fread(buf, 1, 4096, f);
		ogg_sync_wrote(&oy, (long)got);
		while (ogg_sync_pageout(&oy, &og) == 1) {
			if (!started) {
				ogg_stream_init(&os, ogg_page_serialno(&og));
				started = 1;
			}
			if (ogg_stream_pagein(&os, &og) != 0)
				continue; /* another logical stream */
			r->eos = ogg_page_eos(&og);
			r->granule = ogg_page_granulepos(&og);
			while (rv == 0 && ogg_stream_packetout(&os, &op) == 1) {
				if (npk == 0 && (d = rlrec_head(r, op.packet, op.bytes, &preskip)) == NULL)
					rv = -1;
				else if (npk == 1)
					rlrec_tags(r, op.packet, op.bytes);
				else if (npk > 1)
					rv = rlrec_packet(r, d, &op, &cap);
				npk++;
			}
		}
		if (got == 0 || rv != 0)
			break;
	}
	if (started)
		ogg_stream_clear(&os);
	ogg_sync_clear(&oy);
	if (d)
		opus_multistream_decoder_destroy(d);
	if (rv == 0 && (npk < 2 || d == NULL)) {
		fprintf(stderr, "rlrec: no Opus headers\n");
		rv = -1;
	}
	if (rv == 0 && (size_t)preskip <= r->frames) {
		memmove(r->pcm, r->pcm + (size_t)preskip * (size_t)r->channels,
		        (r->frames - (size_t)preskip) * (size_t)r->channels * sizeof(int16_t));
		r->frames -= (size_t)preskip;
	}
	return rv;
}

int rlrec_read(const char *path, struct rlrec *r)
{
	FILE *f = fopen(path, "rb");
	int rv;

	memset(r, 0, sizeof(*r));
	if (f == NULL) {
		fprintf(stderr, "rlrec: cannot open %s\n", path);
		return -1;
	}
	rv = rlrec_decode(f, r);
	fclose(f);
	return rv;
}

void rlrec_free(struct rlrec *r)
{
	free(r->pcm);
	r->pcm = NULL;
}

double rlrec_tone(const struct rlrec *r, int ch, size_t from, size_t n, double hz)
{
	double w = 2 * M_PI * hz / 48000, c = 2 * cos(w), s1 = 0, s2 = 0;

	if (from + n > r->frames || n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		double s0 = r->pcm[(from + i) * (size_t)r->channels + (size_t)ch] / 32768.0 + c * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	return 2 * sqrt(s1 * s1 + s2 * s2 - c * s1 * s2) / (double)n;
}

double rlrec_rms(const struct rlrec *r, int ch, size_t from, size_t n)
{
	double acc = 0;

	if (from + n > r->frames || n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		double v = r->pcm[(from + i) * (size_t)r->channels + (size_t)ch];
		acc += v * v;
	}
	return sqrt(acc / (double)n) / 32768.0;
}

int rlrec_sha256_file(const char *path, char out[65])
{
	crypto_hash_sha256_state st;
	unsigned char buf[8192], md[32];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return -1;
	crypto_hash_sha256_init(&st);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		crypto_hash_sha256_update(&st, buf, n);
	fclose(f);
	crypto_hash_sha256_final(&st, md);
	sodium_bin2hex(out, 65, md, sizeof(md));
	return 0;
}
