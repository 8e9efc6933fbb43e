/*
 * carrier.h - the carrier's RTP leg of a call at a site node: plain RTP (trunks do not do
 * SRTP), G.711 PCMU/PCMA or Opus at 20 ms on the payload type the SDP negotiated, RFC 4733
 * telephone-events, seen by the rest of the node as an rl_audio source (what the caller
 * says) and sink (what the caller hears).
 *
 * One struct rl_carrier per call leg, one UDP socket of its own. The media engine (rl_media)
 * calls the source's read and the sink's write every 20 ms from its thread, which moves
 * audio both ways: read first drains the socket without blocking, then returns one frame
 * from the jitter buffer; write encodes one frame and sends it. The node's thread steers the
 * leg (set_peer, hold, send_dtmf) and polls it (dtmf, stats). Nothing here runs by itself.
 *
 * Codecs and payload types. conf.codec says what the audio is (G.711 mu-law, A-law, Opus),
 * conf.pt which RTP payload type carries it on the wire - 0 and 8 are PCMU's and PCMA's
 * static types, but an SDP may map either to a dynamic type, and Opus always has one (RFC
 * 7587). conf.dtmf_pt is the telephone-event type and conf.dtmf_clock the clock its rtpmap
 * names (telephone-event/8000, or /48000 as offered next to Opus). Types 64..95 are refused
 * (they would read as RTCP with the marker bit, RFC 5761 4), and pt != dtmf_pt.
 *
 * Receive. Every datagram is hostile: over RL_RTP_MAX_PACKET it is dropped before parsing,
 * then rl_rtp_parse bounds its header; RTCP is recognised and ignored (trunks do without it;
 * we send none); anything but conf.pt and conf.dtmf_pt is dropped. An Opus payload must
 * parse as an Opus packet (its TOC and frame lengths, opus_packet_parse) and hold exactly
 * 20 ms: other packet durations (2.5 to 120 ms are legal Opus) are counted (wrong_ptime) and
 * dropped, not decoded - our answer says a=ptime:20 and the buffer plays 20 ms frames. Each
 * drop is counted. The arrival time of a datagram is the kernel's receive timestamp
 * (SO_TIMESTAMPNS), so that draining once per 20 ms tick does not blur the jitter buffer's
 * view of network jitter. Audio goes into an rl_jbuf of 20 ms frames on the codec's RTP
 * clock (8000 for G.711, 48000 for Opus). A G.711 packet of k x 20 ms is split into k
 * frames; other packet times (10, 30 ms) are repacketised into 20 ms frames in arrival order
 * (a lost or reordered packet then costs the frames it touches). G.711 frames that decode
 * below -54 dBFS, and Opus packets of 10 bytes or less (silence, comfort noise), are flagged
 * as silence, so the buffer may drop them to shrink its delay after a spike.
 *
 * Source address (strict RTP and symmetric RTP). The leg learns the source of the first valid
 * RTP packet of an expected payload type - at open, and again after every set_peer (an SDP
 * answer or re-INVITE may move the media) - and from then on drops datagrams from any other
 * address (wrong_src): a third party cannot inject audio or digits into a call whose media
 * it does not see. With conf.symmetric (the default), the leg also SENDS to that learned
 * address rather than to the SDP one, which is what carriers behind NAT need (the address in
 * their SDP is often private or not the one their media leaves from). Nothing is sent before
 * set_peer, learned source or not: the SDP is our consent to talk to this carrier.
 *
 * SSRC. The first audio SSRC is followed; another one is followed only after
 * RL_CARRIER_SSRC_SWITCH consecutive in-sequence audio packets carry it (carriers change it
 * on re-INVITE or when a media server takes over), so a stray packet never resets the
 * stream. A switch restarts the jitter buffer (the new stream has its own sequence and
 * timestamps) and the Opus decoder. Telephone-events are accepted whatever their SSRC (some
 * senders use a stream of their own for them) and are keyed by SSRC and timestamp.
 *
 * Loss concealment, G.711 (which has none of its own): a lost frame continues the last good
 * audio by repeating its last pitch period (estimated by autocorrelation over 2.5..15 ms), at
 * full level for 10 ms and fading out to silence at 60 ms; the first good frame after a loss
 * is cross-faded over 5 ms. This is the idea of G.711 Appendix I without its refinements.
 * Opus, as the agent leg does it (rl_media): when a frame is missing and the next packet is
 * already in the buffer, the lost frame is rebuilt from that packet's in-band FEC (fec; a
 * packet without FEC data makes libopus conceal instead); otherwise, and while the buffer
 * holds to grow its delay, the decoder's own PLC conceals it (concealed), which also carries
 * a sender's DTX pauses and fades out a stream that stopped.
 *
 * Rates. conf.rate (8000 or 16000) is the audio rate towards the node. The Opus decoder and
 * encoder run at that rate themselves (libopus resamples inside; the RTP clock stays 48000,
 * 960 per 20 ms whatever the audio bandwidth). The G.711 wire is 8 kHz; with conf.rate 16000
 * the leg converts inside: 2x up- and down-sampling through one linear-phase halfband FIR (63
 * taps, Kaiser beta 7; 32 multiplies per 8 kHz sample): flat within 0.01 dB to 3.4 kHz (the
 * whole G.711 band), -6 dB at 4 kHz, at least 70 dB of image or alias rejection above 4.6
 * kHz, 31 samples at 16 kHz (1.9 ms) of delay each way. Telephone speech has nothing above 4
 * kHz, so wideband Opus towards the agent gets the same narrowband caller as 8 kHz would, at
 * twice the Opus cost; 8000 is the cheaper choice for G.711 carriers. An Opus carrier may
 * send wideband speech, which conf.rate 16000 keeps.
 *
 * Opus encoding (what the caller hears): application VOIP (the carrier's far end is a
 * telephone), 20 ms, VBR, in-band FEC on with 5 % expected loss (no RTCP from trunks tells
 * us better), complexity 5, at most 22 kb/s at 8 kHz and 28 kb/s at 16 kHz (VBR: 17 to 21
 * and 21 to 26 kb/s on our synthetic speech). Lower caps would silently lose the FEC: libopus
 * 1.3 only codes it at 5 % loss from about 19 kb/s narrowband and 25 kb/s wideband (at 16
 * and 24 kb/s it codes none). Mono, whatever "/2" in the rtpmap
 * says (RFC 7587 7: a receiver decodes mono as mono or stereo alike). No DTX: a packet every
 * 20 ms.
 *
 * DTMF (RFC 4733). One key press yields exactly one digit, on the first packet of the event
 * seen (start, update or end: a lost start costs nothing); later packets of the same event -
 * updates, the three end packets, retransmissions, duplicates - carry the same RTP timestamp
 * and are recognised by it (the last 16 events are remembered). A long press that the sender
 * splits into segments (duration field full) stays one digit. Events 0..15 are digits
 * ('0'-'9', '*', '#', 'A'-'D'); others (flash...) are counted and ignored. Only the first
 * event block of a payload is read. Durations are in units of conf.dtmf_clock. When that
 * clock differs from the audio's (telephone-event/8000 next to Opus), event timestamps are
 * those of the audio stream they interrupt (one SSRC, one timeline), durations still count
 * the event clock; segment continuation is judged with the larger of the two.
 *
 * DTMF in signalling. Some carriers send key presses in SIP INFO instead of RTP, some in both.
 * rl_carrier_put_dtmf puts an INFO's digit in the same queue as the RFC 4733 ones, so that
 * rl_carrier_dtmf's reader cannot tell them apart. A key press that comes both ways is
 * delivered once, by whichever path came first: a digit is the other path's copy of an
 * earlier press of the same key that came within RL_CARRIER_DTMF_PAIR_MS of it (either order)
 * and has no copy yet, the oldest such press if several (counted in dtmf_dup, dropped). One
 * copy per press, so a key pressed twice quickly stays two presses on a carrier that sends
 * both, and nothing is ever paired on a carrier that sends one way only.
 *
 * Send. write downsamples if needed and sends one RTP packet per 20 ms of audio: our random
 * SSRC, sequence number and timestamp (advancing 160 per 20 ms for G.711, 960 for Opus), the
 * marker bit on the first packet and on the first after a hold. On hold, or before set_peer,
 * nothing is sent (nor encoded) but the timestamp keeps running (as RTP wants across a
 * pause). rl_carrier_send_dtmf queues RFC 4733 events that write sends instead of audio:
 * start with the marker, an update every 20 ms, the end packet three times.
 *
 * Threads and ownership. All functions are thread-safe (one mutex per leg, never held
 * across anything that blocks). The leg is reference counted: rl_carrier_open gives the
 * owner one reference; rl_carrier_src and rl_carrier_sink each take one more, which the
 * returned object's close() drops. rl_carrier_close ends the leg at once - the socket is
 * closed, read then returns silence and RL_ENOENT, write RL_EIO - and drops the owner's
 * reference; the memory (Opus state included) goes with the last reference, so the media
 * engine and the node may let go in either order.
 */
#ifndef RL_CARRIER_H
#define RL_CARRIER_H

#include <stddef.h>
#include <stdint.h>

#include "rl_audio.h"
#include "rl_jbuf.h"

/* What the audio is; the payload type carrying it is conf.pt. */
enum rl_carrier_codec {
	RL_CARRIER_G711U = 1, /* PCMU/8000 */
	RL_CARRIER_G711A,     /* PCMA/8000 */
	RL_CARRIER_OPUS,      /* opus/48000/2, mono content */
};

#define RL_CARRIER_PT_PCMU     0 /* static payload types (RFC 3551) */
#define RL_CARRIER_PT_PCMA     8
#define RL_CARRIER_CLOCK       8000  /* G.711 RTP clock; the default telephone-event clock */
#define RL_CARRIER_OPUS_CLOCK  48000 /* Opus RTP clock (RFC 7587), whatever the audio rate */
#define RL_CARRIER_FRAME_MS    20
#define RL_CARRIER_SSRC_SWITCH 3  /* consecutive packets before a new SSRC is followed */
#define RL_CARRIER_DTMF_QUEUE  32 /* received digits not yet taken; more are dropped */
/* An RFC 4733 digit and an INFO digit of one key press come this close (an INFO may be sent
 * at the key's release). */
#define RL_CARRIER_DTMF_PAIR_MS 2000u

struct rl_carrier_conf {
	int codec;                   /* enum rl_carrier_codec */
	int pt;                      /* its payload type, 0..63 or 96..127; -1: the codec's static
	                            * type (0 or 8; Opus has none and needs one) */
	int dtmf_pt;                 /* telephone-event payload type (as pt, != pt); -1: none */
	unsigned dtmf_clock;         /* its rtpmap clock: 8000, 16000 or 48000 */
	unsigned rate;               /* src/sink audio rate: 8000 or 16000 */
	uint16_t port_min, port_max; /* even ports to bind in [min, max]; 0, 0: the kernel's choice */
	int symmetric;               /* 1: send to the learned source (symmetric RTP); 0: to the SDP */
	uint32_t jb_min_ms, jb_start_ms, jb_max_ms, jb_slots; /* jitter buffer (see rl_jbuf.h) */
};

struct rl_carrier_stats {
	uint64_t rx;              /* datagrams received (and injected) */
	uint64_t oversized;       /* over RL_RTP_MAX_PACKET: dropped unparsed */
	uint64_t malformed;       /* not RTP version 2, bad lengths, empty or short payload, not
	                            * an Opus packet */
	uint64_t rtcp;            /* RTCP datagrams, ignored */
	uint64_t wrong_pt;        /* neither conf.pt nor conf.dtmf_pt */
	uint64_t wrong_ptime;     /* Opus packets of other than 20 ms */
	uint64_t wrong_src;       /* from another address than the learned source */
	uint64_t wrong_ssrc;      /* audio from an SSRC not (yet) followed */
	uint64_t ssrc_changes;    /* SSRC switches followed */
	uint64_t audio;           /* audio packets accepted */
	uint64_t frames;          /* 20 ms frames read by the src side */
	uint64_t concealed;       /* of which concealed (lost, or buffer growing) */
	uint64_t fec;             /* of which decoded from the next packet's Opus in-band FEC */
	uint64_t dtmf_packets;    /* telephone-event packets accepted */
	uint64_t dtmf_digits;     /* digits decoded from RFC 4733 events */
	uint64_t dtmf_info;       /* digits put by rl_carrier_put_dtmf (SIP INFO) */
	uint64_t dtmf_dup;        /* of both, dropped as the other path's copy of a press */
	uint64_t dtmf_other;      /* events other than digits, ignored */
	uint64_t dtmf_overflow;   /* digits dropped: nobody took them */
	uint64_t sent, send_fail; /* RTP packets sent (audio and events); sendto (or Opus
	                            * encoder) failures */
	uint64_t sent_bytes;      /* audio payload bytes sent (Opus: the bitrate in use) */
	uint64_t dtmf_sent;       /* events sent (one per digit) */
	struct rl_jbuf_stats jb;  /* summed over the buffers of every SSRC followed */
	int learned;              /* 1: source learned (source holds it) */
	char source[64];          /* "IP:port" of the learned source, "" if none */
};

struct rl_carrier;

/* rl_carrier_conf_default fills conf with G.711 mu-law on its static type (pt -1: 0),
 * telephone-event 101 at 8000, rate 8000, any port, symmetric 1, and jitter buffer
 * 20/40/300 ms, 64 slots. */
void rl_carrier_conf_default(struct rl_carrier_conf *conf);

/* rl_carrier_port_legs: how many legs a port range holds at once, as rl_carrier_open binds
 * them: one even port each, the odd one above it left for its RTCP (RFC 3550 11; trunks do
 * without, we send none), so a range of 300 ports holds 150 legs. RL_CARRIER_LEGS_ANY for
 * 0, 0 (the kernel's choice); 0 for a range no leg can use (min 0 alone, min over max, no
 * even port). Ports other programs hold count as free here. */
#define RL_CARRIER_LEGS_ANY 0xFFFFFFFFu
unsigned rl_carrier_port_legs(uint16_t port_min, uint16_t port_max);

/* rl_carrier_open creates a leg whose socket is bound to bind_ip (numeric IPv4 or IPv6; an
 * IPv6 socket also reaches IPv4 peers) on an even port in [conf->port_min, conf->port_max],
 * tried from a random start, or on the kernel's choice if both are 0. conf NULL: defaults.
 * Errors: RL_EINVAL (address, codec, payload types, event clock, rate, port range, jitter
 * buffer), RL_EFULL (no free port in the range), RL_ENET. */
int rl_carrier_open(struct rl_carrier **out, const char *bind_ip, const struct rl_carrier_conf *conf);

/* rl_carrier_port: the local UDP port, for our SDP. */
unsigned rl_carrier_port(const struct rl_carrier *c);

/* rl_carrier_set_peer sets the address from the carrier's SDP (c= and m= lines) and starts
 * learning the source again; ip NULL forgets it (nothing is sent). An IPv4 peer of an IPv6
 * leg is mapped (::ffff:a.b.c.d). Errors: RL_EINVAL (not a numeric address of a family the
 * socket reaches, port 0 or over 65535). */
int rl_carrier_set_peer(struct rl_carrier *c, const char *ip, unsigned port);

/* rl_carrier_hold: on (1) sends nothing and makes the source side silent; off (0) resumes
 * (the next packet has the marker bit). Packets are still received and digits decoded. */
void rl_carrier_hold(struct rl_carrier *c, int on);

/* rl_carrier_src / rl_carrier_sink return the leg's source (rate conf.rate, 20 ms frames are
 * what the jitter buffer is paced for) and sink, each taking a reference that its close()
 * drops. One reader and one writer at a time. Valid until that close(). */
struct rl_audio_src *rl_carrier_src(struct rl_carrier *c);
struct rl_audio_sink *rl_carrier_sink(struct rl_carrier *c);

/* rl_carrier_dtmf takes the next received digit ('0'-'9', '*', '#', 'A'-'D') into *digit,
 * from RFC 4733 events and rl_carrier_put_dtmf alike, in arrival order.
 * Errors: RL_ENOENT (none waiting). */
int rl_carrier_dtmf(struct rl_carrier *c, char *digit);

/* rl_carrier_put_dtmf delivers a digit the carrier signalled outside RTP (SIP INFO) as if an
 * RFC 4733 event had brought it now (see "DTMF in signalling" above). Errors: RL_EINVAL (not
 * '0'-'9', '*', '#', 'A'-'D'), RL_EEXIST (dropped: this press came as an RFC 4733 event
 * already), RL_EFULL (queue full: dropped, counted in dtmf_overflow), RL_ECLOSED. */
int rl_carrier_put_dtmf(struct rl_carrier *c, char digit);

/* rl_carrier_send_dtmf queues a digit to send as an RFC 4733 event of duration_ms (clamped
 * to 40..8000, and to what the 16-bit duration field holds in one segment: 4095 ms at an
 * event clock of 16000, 1365 at 48000), 60 ms of audio apart from the one before; write
 * sends it when not on hold.
 * Errors: RL_EINVAL (not a digit, or no telephone-event type), RL_EFULL (16 queued). */
int rl_carrier_send_dtmf(struct rl_carrier *c, char digit, unsigned duration_ms);

/* rl_carrier_stats copies the counters. */
void rl_carrier_stats(struct rl_carrier *c, struct rl_carrier_stats *st);

/* rl_carrier_inject processes one datagram as if it had arrived now from `from` (a sockaddr
 * of fromlen bytes) - for fuzzing and tests. Errors: RL_ETOOBIG (dropped as oversized),
 * RL_ECLOSED. */
int rl_carrier_inject(struct rl_carrier *c, const uint8_t *buf, size_t len, const void *from, unsigned fromlen);

/* rl_carrier_set_clock replaces the monotonic clock (microseconds) that paces the jitter
 * buffer with now(arg) - for deterministic tests and fuzzing; NULL restores rl_mono_us.
 * With a replaced clock a datagram's arrival time is the clock's at the read that drains it
 * (kernel timestamps are not on that clock). Call it before the leg is used. */
void rl_carrier_set_clock(struct rl_carrier *c, uint64_t (*now)(void *arg), void *arg);

/* rl_carrier_close ends the leg (see above) and drops the owner's reference. NULL is fine. */
void rl_carrier_close(struct rl_carrier *c);

#endif
