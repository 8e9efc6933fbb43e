/*
 * rl_latch.h - the latch packet: an end's proof that it holds the secret of a call leg, sent
 * from the socket it sends its RTP from, so that whoever forwards the leg's media to it (the
 * hub relay; a site node for its seated agent) sends it to that address and to nobody who
 * lacks the secret. ICE consent freshness (RFC 7675) is the model, without STUN.
 *
 * The hub makes one secret per end of a call (32 bytes from the CSPRNG) and hands it out in
 * MediaLeg, on the TLS control links only: to the end itself, and to whoever checks that end
 * (the relay always; a site node for a seated agent talking straight to it).
 *
 * Wire format, 32 bytes, integers big-endian:
 *
 *    0       type 0x0C: outside RTP/RTCP (128..191), STUN (0..3), ZRTP (16..19), DTLS
 *            (20..63), TURN channels (64..79) and QUIC (80..127, 192..255) in the first-byte
 *            demultiplexing of RFC 7983 and RFC 9443, so never mistaken for any of them
 *    1       version 1
 *    2..3    zero
 *    4..7    the SSRC of the leg proven (the sender's own RTP SSRC)
 *    8..15   counter, strictly increasing for the life of the secret
 *    16..31  HMAC-SHA-256(secret, bytes 0..15), its first 16 bytes
 *
 * The counter is the sender's wall clock in microseconds, or the last counter plus one if
 * the clock has not moved past it: it keeps increasing across a restart of the sender that
 * resumes the same call with the same secret, where a count from zero would be refused as a
 * replay. A checker keeps the highest counter it accepted per leg and refuses any other.
 *
 * Who sends when (rl_latch_tx): an end that sends to a fixed address (the relay, or the
 * site's media address) sends a proof before its first RTP packet, twice more 40 ms apart
 * (for loss), then every 2 s for as long as the call lasts; a new plan (new secret) starts
 * over. Everything here is plain functions over caller-owned memory, thread-safe.
 */
#ifndef RL_LATCH_H
#define RL_LATCH_H

#include <stddef.h>
#include <stdint.h>

#define RL_LATCH_TYPE      0x0c
#define RL_LATCH_VERSION   1
#define RL_LATCH_LEN       32
#define RL_LATCH_KEY_LEN   32
#define RL_LATCH_MAC_LEN   16
#define RL_LATCH_BURST     3        /* proofs at a call's start */
#define RL_LATCH_BURST_US  40000u   /* between those */
#define RL_LATCH_PERIOD_US 2000000u /* then one every 2 s */

/* rl_latch_is: 1 if a datagram's first byte makes it a latch packet (valid or not), else 0. */
static inline int rl_latch_is(const uint8_t *buf, size_t len)
{
	return len > 0 && buf[0] == RL_LATCH_TYPE;
}

/* rl_latch_keygen fills key with RL_LATCH_KEY_LEN bytes from the CSPRNG. */
void rl_latch_keygen(uint8_t *key);

/* rl_latch_write writes the proof of (ssrc, counter) under key into out (RL_LATCH_LEN bytes). */
void rl_latch_write(uint8_t *out, uint32_t ssrc, uint64_t counter, const uint8_t *key);

/* rl_latch_parse reads the SSRC and counter of a latch packet without checking its MAC.
 * Errors: RL_EINVAL (not RL_LATCH_LEN bytes, another type or version, reserved bytes set). */
int rl_latch_parse(const uint8_t *buf, size_t len, uint32_t *ssrc, uint64_t *counter);

/* rl_latch_verify checks the MAC of a packet rl_latch_parse accepted, in constant time.
 * Returns RL_OK, or RL_EAUTH (made without key). */
int rl_latch_verify(const uint8_t *buf, const uint8_t *key);

/* The sending side of one leg: its last counter and its schedule (monotonic microseconds). */
struct rl_latch_tx {
	uint64_t counter; /* the last one sent */
	uint64_t next_us; /* 0: the first proof is due at once */
	unsigned sent;
};

/* rl_latch_tx_due: 1 if tx's next proof is due at now, else 0. */
int rl_latch_tx_due(const struct rl_latch_tx *tx, uint64_t now);

/* rl_latch_tx_next writes tx's next proof of ssrc under key into out (RL_LATCH_LEN bytes),
 * with a fresh counter, and schedules the one after it. */
void rl_latch_tx_next(struct rl_latch_tx *tx, uint8_t *out, uint32_t ssrc, const uint8_t *key, uint64_t now);

#endif
