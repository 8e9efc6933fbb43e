/*
 * rl_media.h - the voice path of calls: Opus inside SRTP over UDP, on every core.
 *
 * A media engine owns threads (shards, one per core by default; rl_media.c says how calls
 * and datagrams find their shard) each of which, every 20 ms, takes a frame from each call's audio
 * source, encodes it (Opus: wideband 16 kHz by default, VBR, in-band FEC), protects it
 * (SRTP, fresh keys per call and direction) and sends it; and that receives, authenticates
 * and decrypts the peer's packets, puts them through an adaptive jitter buffer and decodes
 * one frame per tick into the call's sink (Opus FEC for a lost frame when the next packet
 * is there, PLC otherwise). Every second each call sends an RTCP sender report so both ends
 * know loss, jitter and round-trip time; rl_media_quality turns them into a MOS (E-model).
 *
 * Sockets: a site node serves many calls on ONE shared UDP port (the address it gives its
 * seated agents and the relay) and tells calls apart by the sender's SSRC; an agent gives
 * each call a socket of its own. A call with a fixed peer (the relay, or the site's media
 * address) proves its leg there with latch packets (rl_latch.h) from the socket its RTP
 * leaves from. A call whose peer address is not known (a site waiting for its seated agent)
 * answers where the peer last proved its leg with a valid latch packet (the peer's secret,
 * a counter above every one taken before), and takes RTP/RTCP from there alone: a packet
 * that authenticates but comes from elsewhere is dropped (unlatched), so no one without the
 * peer's latch secret can steer the call's media, whether or not they know its SSRC.
 *
 * Every datagram is hostile: length-checked, authenticated before anything else is read
 * from its payload, and dropped with a count when it fails. All functions are thread-safe;
 * callbacks do not exist (quality is polled).
 */
#ifndef RL_MEDIA_H
#define RL_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "rl_audio.h"
#include "rl_id.h"
#include "rl_latch.h"
#include "rl_srtp.h"

#define RL_MEDIA_FRAME_MS  20
#define RL_MEDIA_RTP_CLOCK 48000 /* Opus RTP clock (RFC 7587), whatever the audio rate */
#define RL_MEDIA_PT_OPUS   111

/* One end of a call, as the control plane described it (MediaLeg). */
struct rl_media_leg {
	char id[RL_ID_MAX + 1]; /* the contact id */
	int suite;              /* enum rl_srtp_suite */
	uint8_t tx_key[RL_SRTP_KEY_MAX], rx_key[RL_SRTP_KEY_MAX];
	size_t key_len; /* must equal rl_srtp_key_len(suite) */
	uint32_t tx_ssrc, rx_ssrc;
	uint8_t pt;               /* 0: RL_MEDIA_PT_OPUS */
	char peer[RL_ID_MAX + 1]; /* "IP:port"; "" = answer where the peer proves its leg */
	/* The latch secrets (rl_latch.h): with has_latch_key, a call with a fixed peer proves its
	 * leg to it (the relay, or the site it talks straight to) from its socket; a call with no
	 * peer checks the peer's proofs with peer_latch_key, which it must have. */
	uint8_t latch_key[RL_LATCH_KEY_LEN];
	uint8_t peer_latch_key[RL_LATCH_KEY_LEN];
	int has_latch_key, has_peer_latch_key;
	int own_socket;             /* 1: a socket of its own; 0: the engine's shared one */
	unsigned rate;              /* audio rate of source and sink: 16000 (default) or 8000 */
	struct rl_audio_src *src;   /* taken by rl_media_add on success */
	struct rl_audio_sink *sink; /* taken by rl_media_add on success */
};

struct rl_media_quality {
	uint64_t sent, rx_packets;
	int64_t lost;             /* lost on the way here (before FEC) */
	double loss_pct;          /* lost / expected */
	double jitter_ms, rtt_ms; /* rtt < 0: not known yet */
	double playout_ms;        /* jitter buffer delay now */
	uint64_t fec, concealed, late;
	uint64_t dropped;    /* auth failures, replays, bad RTP, late; bad proofs, unlatched source */
	double mos;          /* E-model */
	uint64_t t0_wall_us; /* wall clock of the call's first frame (source and sink) */
	uint64_t frames;     /* frames played to the sink */
};

struct rl_media_counters {
	uint64_t rx, malformed, unknown_ssrc, auth_fail, replay, bad_rtp, sent, send_fail, late_ticks;
	uint64_t proofs;       /* valid latch packets taken from peers */
	uint64_t latched;      /* a call took a new peer address on a proof */
	uint64_t latch_bad;    /* latch packets with a wrong MAC, or for a call that checks none */
	uint64_t latch_replay; /* valid latch packets whose counter was not new */
	uint64_t unlatched;    /* authenticated RTP/RTCP from another address than the proven one */
	uint32_t calls;
};

struct rl_media;

/* rl_media_load: how busy the engine's busiest thread is, in percent of its time (a moving
 * average over about 200 ms; 100 = it no longer keeps up with the 20 ms ticks). Any thread,
 * no lock. */
unsigned rl_media_load(struct rl_media *m);

/* rl_media_open starts an engine of `threads` shards (0: one per online core, at most 64).
 * bind: "IP:port" for the shared port (port 0: any), or NULL for none (every call then needs
 * own_socket). A port another process holds is refused. Errors: RL_EINVAL, RL_ENET. */
int rl_media_open(struct rl_media **out, const char *bind, unsigned threads);

/* rl_media_threads: how many shards the engine runs (fewer than asked if the kernel could
 * not steer the shared port's datagrams by SSRC). */
unsigned rl_media_threads(const struct rl_media *m);

/* rl_media_local: the shared socket's "IP:port" (valid until close), "" if none. */
const char *rl_media_local(const struct rl_media *m);

/* rl_media_add starts a call. On success the engine owns leg->src and leg->sink (closed at
 * rl_media_del); on failure they stay the caller's. A call with the same id is replaced
 * (a new plan: new keys, new SSRCs; its peer proves itself afresh). Errors: RL_EINVAL (bad
 * key length, suite, address, rate; no peer and no peer_latch_key), RL_EEXIST (rx_ssrc
 * already used on the shared socket), RL_ENET, RL_EIO. */
int rl_media_add(struct rl_media *m, const struct rl_media_leg *leg);

/* rl_media_add_local starts a call without network under id: every 20 ms one frame goes from
 * play to `to` and one from listen to heard (any of them NULL: that way is idle). For a
 * caller in an IVR or on hold: the prompt plays to the carrier leg while the caller's audio
 * (and DTMF) is drained. rate: 8000 or 16000. On success the engine owns the four (closed at
 * rl_media_del or when the id is replaced). Errors: RL_EINVAL. */
int rl_media_add_local(struct rl_media *m, const char *id, unsigned rate, struct rl_audio_src *play,
                       struct rl_audio_sink *to, struct rl_audio_src *listen, struct rl_audio_sink *heard);

/* rl_media_record attaches recording rec (rl_record.h) to call id, NULL detaches it: from its
 * next tick the call's thread gives rec both parties' Opus packets, this end's as local and
 * the peer's as peer. rec stays the caller's: once this returns after detaching, or
 * rl_media_del has ended the call, the engine no longer touches it. A new plan for the call
 * (rl_media_add with its id) keeps the recording. Errors: RL_ENOENT, RL_EINVAL (a local call). */
struct rl_record;
int rl_media_record(struct rl_media *m, const char *id, struct rl_record *rec);

/* rl_media_played: 1 once the play source of call id has ended (RL_ENOENT), 0 while it plays,
 * -1 if there is no such call. */
int rl_media_played(struct rl_media *m, const char *id);

/* rl_media_has: 1 if call id is live and was set up with tx_ssrc. */
int rl_media_has(struct rl_media *m, const char *id, uint32_t tx_ssrc);

/* rl_media_quality fills q for call id. Errors: RL_ENOENT. */
int rl_media_quality(struct rl_media *m, const char *id, struct rl_media_quality *q);

/* rl_media_del ends call id; if q is non-NULL it gets the final quality. Errors: RL_ENOENT. */
int rl_media_del(struct rl_media *m, const char *id, struct rl_media_quality *q);

/* rl_media_each calls fn for every live call id (under the engine's lock: fn must not call
 * back into the engine). */
void rl_media_each(struct rl_media *m, void (*fn)(void *arg, const char *id), void *arg);

void rl_media_counters(struct rl_media *m, struct rl_media_counters *c);

/* rl_media_inject processes one datagram as if it came from `from` (a sockaddr) on the shared
 * socket - for fuzzing and tests; the engine thread must not be racing (it takes the lock). */
int rl_media_inject(struct rl_media *m, const uint8_t *buf, size_t len, const void *from, unsigned fromlen);

/* Listen, whisper, barge (rl_mix.c): a supervisor as a third party on a network call. */
enum rl_mix_mode {
	RL_MIX_LISTEN = 1,  /* the supervisor hears caller and agent; nobody hears it */
	RL_MIX_WHISPER = 2, /* ... and the agent hears it, the caller does not */
	RL_MIX_BARGE = 3,   /* everyone hears everyone */
};

/* rl_media_monitor puts the supervisor's leg on call id, or changes its mode when leg has the
 * same tx_ssrc as the one on. leg: the leg's keys, SSRCs and latch secret, peer (required:
 * the relay, where it proves itself); id, src, sink, own_socket and rate are the engine's
 * (a socket of its own, the call's rate). Another leg on the call is replaced. Errors:
 * RL_EINVAL (mode, no peer or latch key, keys), RL_ENOENT (no such network call), RL_ENET. */
int rl_media_monitor(struct rl_media *m, const char *id, const struct rl_media_leg *leg, int mode);

/* rl_media_unmonitor takes the supervisor's leg off call id; q (if not NULL) gets the leg's
 * final quality. Errors: RL_ENOENT (no such call, or no leg on it). */
int rl_media_unmonitor(struct rl_media *m, const char *id, struct rl_media_quality *q);

/* rl_media_unmonitor_all takes every supervisor's leg off every call; returns how many. */
unsigned rl_media_unmonitor_all(struct rl_media *m);

/* rl_media_close stops the thread and ends every call (NULL is fine). */
void rl_media_close(struct rl_media *m);

#endif
