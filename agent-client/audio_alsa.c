#include "audio_alsa.h"

#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"

#ifdef RL_HAVE_ALSA
#include <alsa/asoundlib.h>

#define RL_ALSA_LATENCY_US 60000

struct rl_alsa {
	union {
		struct rl_audio_src src;
		struct rl_audio_sink sink;
	} base;
	snd_pcm_t *pcm;
	unsigned long xruns;
};

static int rl_alsa_open(snd_pcm_t **pcm, const char *dev, snd_pcm_stream_t dir, unsigned rate)
{
	int rv;

	if ((rv = snd_pcm_open(pcm, dev ? dev : "default", dir, SND_PCM_NONBLOCK)) < 0) {
		rl_log(RL_LOG_ERR, "sound card unavailable dev=%s err=\"%s\"", dev ? dev : "default", snd_strerror(rv));
		return RL_ENOENT;
	}
	if ((rv = snd_pcm_set_params(*pcm, SND_PCM_FORMAT_S16, SND_PCM_ACCESS_RW_INTERLEAVED, 1, rate, 1,
	                             RL_ALSA_LATENCY_US)) < 0) {
		rl_log(RL_LOG_ERR, "sound card refused mono 16-bit rate=%u err=\"%s\"", rate, snd_strerror(rv));
		snd_pcm_close(*pcm);
		return RL_EIO;
	}
	return RL_OK;
}

static int rl_alsa_read(struct rl_audio_src *s, int16_t *pcm, size_t n)
{
	struct rl_alsa *a = (struct rl_alsa *)s;
	snd_pcm_sframes_t got = snd_pcm_readi(a->pcm, pcm, n);

	if (got == -EPIPE || got == -ESTRPIPE) {
		a->xruns++;
		snd_pcm_recover(a->pcm, (int)got, 1);
		snd_pcm_start(a->pcm);
		got = 0;
	} else if (got < 0) {
		if (got == -EAGAIN && snd_pcm_state(a->pcm) == SND_PCM_STATE_PREPARED)
			snd_pcm_start(a->pcm);
		got = 0;
	}
	if ((size_t)got < n)
		memset(pcm + got, 0, (n - (size_t)got) * sizeof(*pcm));
	return RL_OK;
}

static int rl_alsa_write(struct rl_audio_sink *s, const int16_t *pcm, size_t n)
{
	struct rl_alsa *a = (struct rl_alsa *)s;
	snd_pcm_sframes_t put = snd_pcm_writei(a->pcm, pcm, n);

	if (put == -EPIPE || put == -ESTRPIPE) {
		a->xruns++;
		snd_pcm_recover(a->pcm, (int)put, 1);
		put = snd_pcm_writei(a->pcm, pcm, n);
	}
	return put < 0 && put != -EAGAIN ? RL_EIO : RL_OK;
}

static void rl_alsa_close_src(struct rl_audio_src *s)
{
	struct rl_alsa *a = (struct rl_alsa *)s;

	snd_pcm_close(a->pcm);
	free(a);
}

static void rl_alsa_close_sink(struct rl_audio_sink *s)
{
	struct rl_alsa *a = (struct rl_alsa *)s;

	snd_pcm_drop(a->pcm);
	snd_pcm_close(a->pcm);
	free(a);
}

int rl_audio_alsa_src(struct rl_audio_src **out, const char *dev, unsigned rate)
{
	struct rl_alsa *a = rl_calloc(1, sizeof(*a));
	int rv;

	if ((rv = rl_alsa_open(&a->pcm, dev, SND_PCM_STREAM_CAPTURE, rate)) != RL_OK) {
		free(a);
		return rv;
	}
	snd_pcm_start(a->pcm);
	a->base.src.read = rl_alsa_read;
	a->base.src.close = rl_alsa_close_src;
	a->base.src.rate = rate;
	*out = &a->base.src;
	return RL_OK;
}

int rl_audio_alsa_sink(struct rl_audio_sink **out, const char *dev, unsigned rate)
{
	struct rl_alsa *a = rl_calloc(1, sizeof(*a));
	int rv;

	if ((rv = rl_alsa_open(&a->pcm, dev, SND_PCM_STREAM_PLAYBACK, rate)) != RL_OK) {
		free(a);
		return rv;
	}
	a->base.sink.write = rl_alsa_write;
	a->base.sink.close = rl_alsa_close_sink;
	a->base.sink.rate = rate;
	*out = &a->base.sink;
	return RL_OK;
}

#else /* no ALSA at build time */

int rl_audio_alsa_src(struct rl_audio_src **out, const char *dev, unsigned rate)
{
	rl_log(RL_LOG_ERR, "this relais-agent was built without ALSA: use --audio-in/--audio-out");
	return RL_ENOENT;
}

int rl_audio_alsa_sink(struct rl_audio_sink **out, const char *dev, unsigned rate)
{
	rl_log(RL_LOG_ERR, "this relais-agent was built without ALSA: use --audio-in/--audio-out");
	return RL_ENOENT;
}

#endif
