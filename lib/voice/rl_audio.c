#include "rl_audio.h"

#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"

/* ---------------------------------------------------------------------------------------- */
/* WAV (libsndfile) */

struct rl_wav_src {
	struct rl_audio_src base;
	SNDFILE *f;
	int channels;
	unsigned file_rate;
	int loop, ended;
	double pos;      /* read position in file samples (resampling) */
	float prev, cur; /* the two file samples around pos */
	float *buf;      /* one read of interleaved frames */
	size_t buf_frames;
};

/* rl_wav_next returns the next mono file sample, or 0 after the end (sets ended). */
static float rl_wav_next(struct rl_wav_src *w)
{
	float v = 0;

	if (w->ended)
		return 0;
	if (sf_readf_float(w->f, w->buf, 1) != 1) {
		if (!w->loop || sf_seek(w->f, 0, SEEK_SET) < 0 || sf_readf_float(w->f, w->buf, 1) != 1) {
			w->ended = 1;
			return 0;
		}
	}
	for (int c = 0; c < w->channels; c++)
		v += w->buf[c];
	return v / (float)w->channels;
}

static int16_t rl_clip16(float v)
{
	v *= 32767.0f;
	if (v > 32767.0f)
		return 32767;
	if (v < -32768.0f)
		return -32768;
	return (int16_t)lrintf(v);
}

static int rl_wav_read(struct rl_audio_src *s, int16_t *pcm, size_t n)
{
	struct rl_wav_src *w = (struct rl_wav_src *)s;
	double step = (double)w->file_rate / (double)s->rate;

	for (size_t i = 0; i < n; i++) {
		/* Linear interpolation between the two file samples around pos. */
		while (w->pos >= 1.0) {
			w->prev = w->cur;
			w->cur = rl_wav_next(w);
			w->pos -= 1.0;
		}
		pcm[i] = rl_clip16(w->prev + (w->cur - w->prev) * (float)w->pos);
		w->pos += step;
	}
	return w->ended ? RL_ENOENT : RL_OK;
}

static void rl_wav_src_close(struct rl_audio_src *s)
{
	struct rl_wav_src *w = (struct rl_wav_src *)s;

	if (w == NULL)
		return;
	if (w->f)
		sf_close(w->f);
	free(w->buf);
	free(w);
}

int rl_audio_wav_src(struct rl_audio_src **out, const char *path, unsigned rate, int loop)
{
	struct rl_wav_src *w = rl_calloc(1, sizeof(*w));
	SF_INFO info = {0};

	if ((w->f = sf_open(path, SFM_READ, &info)) == NULL) {
		free(w);
		return RL_ENOENT;
	}
	if (info.channels < 1 || info.channels > 64 || info.samplerate < 1000 || info.samplerate > 384000 ||
	    info.frames < 1 || rate < 1000) {
		sf_close(w->f);
		free(w);
		return RL_EINVAL;
	}
	w->buf = rl_calloc((size_t)info.channels, sizeof(float));
	w->channels = info.channels;
	w->file_rate = (unsigned)info.samplerate;
	w->loop = loop;
	w->pos = 1.0; /* load the first sample pair on the first read */
	w->cur = rl_wav_next(w);
	w->base.read = rl_wav_read;
	w->base.close = rl_wav_src_close;
	w->base.rate = rate;
	*out = &w->base;
	return RL_OK;
}

struct rl_wav_sink {
	struct rl_audio_sink base;
	SNDFILE *f;
};

static int rl_wav_write(struct rl_audio_sink *s, const int16_t *pcm, size_t n)
{
	struct rl_wav_sink *w = (struct rl_wav_sink *)s;

	return sf_write_short(w->f, pcm, (sf_count_t)n) == (sf_count_t)n ? RL_OK : RL_EIO;
}

static void rl_wav_sink_close(struct rl_audio_sink *s)
{
	struct rl_wav_sink *w = (struct rl_wav_sink *)s;

	if (w == NULL)
		return;
	sf_close(w->f); /* writes the final header */
	free(w);
}

int rl_audio_wav_sink(struct rl_audio_sink **out, const char *path, unsigned rate)
{
	struct rl_wav_sink *w = rl_calloc(1, sizeof(*w));
	SF_INFO info = {.samplerate = (int)rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};

	if ((w->f = sf_open(path, SFM_WRITE, &info)) == NULL) {
		free(w);
		return RL_EIO;
	}
	w->base.write = rl_wav_write;
	w->base.close = rl_wav_sink_close;
	w->base.rate = rate;
	*out = &w->base;
	return RL_OK;
}

int rl_audio_write_wav(const char *path, const int16_t *pcm, size_t n, unsigned rate)
{
	struct rl_audio_sink *s;
	int rv;

	if ((rv = rl_audio_wav_sink(&s, path, rate)) != RL_OK)
		return rv;
	rv = s->write(s, pcm, n);
	s->close(s);
	return rv;
}

int rl_audio_read_wav(const char *path, int16_t **pcm, size_t *n, unsigned *rate)
{
	struct rl_audio_src *s;
	SF_INFO info = {0};
	SNDFILE *f = sf_open(path, SFM_READ, &info);
	int rv;

	if (f == NULL)
		return RL_ENOENT;
	sf_close(f);
	if (info.frames < 1 || info.frames > 100000000 || info.samplerate < 1000)
		return RL_EINVAL;
	if ((rv = rl_audio_wav_src(&s, path, (unsigned)info.samplerate, 0)) != RL_OK)
		return rv;
	*pcm = rl_malloc((size_t)info.frames * sizeof(int16_t));
	s->read(s, *pcm, (size_t)info.frames);
	s->close(s);
	*n = (size_t)info.frames;
	*rate = (unsigned)info.samplerate;
	return RL_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* one source after another (announcements made of recorded pieces) */

#define RL_SEQ_MAX 32

struct rl_seq_src {
	struct rl_audio_src base;
	struct rl_audio_src *srcs[RL_SEQ_MAX];
	int n, cur;
};

static int rl_seq_read(struct rl_audio_src *s, int16_t *pcm, size_t n)
{
	struct rl_seq_src *q = (struct rl_seq_src *)s;

	while (q->cur < q->n) {
		int rv = q->srcs[q->cur]->read(q->srcs[q->cur], pcm, n);
		if (rv != RL_ENOENT)
			return RL_OK;
		q->srcs[q->cur]->close(q->srcs[q->cur]);
		q->srcs[q->cur++] = NULL;
		/* The piece ended inside this frame: its tail and silence make the frame. */
		return q->cur < q->n ? RL_OK : RL_ENOENT;
	}
	memset(pcm, 0, n * sizeof(*pcm));
	return RL_ENOENT;
}

static void rl_seq_close(struct rl_audio_src *s)
{
	struct rl_seq_src *q = (struct rl_seq_src *)s;

	if (q == NULL)
		return;
	for (int i = q->cur; i < q->n; i++)
		q->srcs[i]->close(q->srcs[i]);
	free(q);
}

int rl_audio_seq_src(struct rl_audio_src **out, struct rl_audio_src **srcs, int n, unsigned rate)
{
	struct rl_seq_src *q;
	int ok = n >= 1 && n <= RL_SEQ_MAX;

	for (int i = 0; ok && i < n; i++)
		ok = srcs[i] != NULL && srcs[i]->rate == rate;
	if (!ok) {
		for (int i = 0; i < n; i++)
			if (srcs[i] != NULL)
				srcs[i]->close(srcs[i]);
		return RL_EINVAL;
	}
	q = rl_calloc(1, sizeof(*q));
	memcpy(q->srcs, srcs, (size_t)n * sizeof(*srcs));
	q->n = n;
	q->base.read = rl_seq_read;
	q->base.close = rl_seq_close;
	q->base.rate = rate;
	*out = &q->base;
	return RL_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* speech-like generator */

struct rl_gen_src {
	struct rl_audio_src base;
	uint64_t rng;
	uint64_t t, end;   /* samples produced, samples before the end (0 = endless) */
	uint64_t seg_left; /* samples left in the current segment */
	int kind;          /* 0 pause, 1 voiced, 2 unvoiced */
	double phase, f0, f0_to, f1, f2, amp, env;
	double lp; /* noise colouring */
};

static uint32_t rl_gen_rand(struct rl_gen_src *g)
{
	/* xorshift64* - deterministic, not for secrets */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return (uint32_t)((g->rng * 2685821657736338717ULL) >> 32);
}

static double rl_gen_uni(struct rl_gen_src *g, double lo, double hi)
{
	return lo + (hi - lo) * (rl_gen_rand(g) / 4294967296.0);
}

static void rl_gen_segment(struct rl_gen_src *g)
{
	unsigned r = rl_gen_rand(g) % 10;
	double ms;

	/* Syllables of 80..300 ms, mostly voiced, with pauses like a talker's. */
	if (g->kind != 0 && r < 3) {
		g->kind = 0;
		ms = rl_gen_uni(g, 80, 400);
	} else if (r < 8) {
		g->kind = 1;
		ms = rl_gen_uni(g, 80, 300);
		g->f0 = rl_gen_uni(g, 90, 260);
		g->f0_to = g->f0 * rl_gen_uni(g, 0.8, 1.25);
		g->f1 = rl_gen_uni(g, 300, 900);
		g->f2 = rl_gen_uni(g, 900, 2500);
		g->amp = rl_gen_uni(g, 0.15, 0.45);
	} else {
		g->kind = 2;
		ms = rl_gen_uni(g, 40, 120);
		g->amp = rl_gen_uni(g, 0.03, 0.1);
	}
	g->seg_left = (uint64_t)(ms * g->base.rate / 1000.0);
	if (g->seg_left == 0)
		g->seg_left = 1;
}

static int rl_gen_read(struct rl_audio_src *s, int16_t *pcm, size_t n)
{
	struct rl_gen_src *g = (struct rl_gen_src *)s;
	double rate = s->rate, nyq = rate / 2;

	for (size_t i = 0; i < n; i++, g->t++) {
		double v = 0, target = 0;
		if (g->end && g->t >= g->end) {
			memset(pcm + i, 0, (n - i) * sizeof(*pcm));
			return RL_ENOENT;
		}
		if (g->seg_left == 0)
			rl_gen_segment(g);
		g->seg_left--;
		if (g->kind == 1) {
			double f0 = g->f0_to + (g->f0 - g->f0_to) * 0.999; /* slow glide */
			g->f0 = f0;
			g->phase += 2 * M_PI * f0 / rate;
			if (g->phase > 2 * M_PI)
				g->phase -= 2 * M_PI;
			/* Harmonics weighted by two formant resonances. */
			for (int h = 1; h * f0 < nyq && h <= 24; h++) {
				double fh = h * f0;
				double w = 1.0 / (1.0 + pow((fh - g->f1) / 150.0, 2)) +
				           0.5 / (1.0 + pow((fh - g->f2) / 250.0, 2));
				v += w * sin(h * g->phase) / h;
			}
			target = g->amp;
		} else if (g->kind == 2) {
			double w = rl_gen_uni(g, -1, 1);
			g->lp = 0.6 * g->lp + 0.4 * w;
			v = w - g->lp; /* high-passed noise: fricative-like */
			target = g->amp;
		}
		/* Smooth onsets and offsets (5 ms). */
		g->env += (target - g->env) * (1.0 - exp(-1.0 / (0.005 * rate)));
		pcm[i] = rl_clip16((float)(v * g->env));
	}
	return RL_OK;
}

static void rl_gen_close(struct rl_audio_src *s)
{
	free(s);
}

int rl_audio_gen_src(struct rl_audio_src **out, unsigned rate, uint32_t seed, unsigned seconds)
{
	struct rl_gen_src *g = rl_calloc(1, sizeof(*g));

	g->rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)seed << 1 | 1);
	g->end = (uint64_t)seconds * rate;
	g->base.read = rl_gen_read;
	g->base.close = rl_gen_close;
	g->base.rate = rate;
	*out = &g->base;
	return RL_OK;
}

static int rl_null_write(struct rl_audio_sink *s, const int16_t *pcm, size_t n)
{
	return RL_OK;
}

static void rl_null_close(struct rl_audio_sink *s)
{
	free(s);
}

int rl_audio_null_sink(struct rl_audio_sink **out, unsigned rate)
{
	struct rl_audio_sink *s = rl_calloc(1, sizeof(*s));

	s->write = rl_null_write;
	s->close = rl_null_close;
	s->rate = rate;
	*out = s;
	return RL_OK;
}
