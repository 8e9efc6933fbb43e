/*
 * rl_srtp.h - SRTP for the voice path (libsrtp2 underneath).
 *
 * One struct rl_srtp protects or unprotects ONE direction of one call leg: a sender holds an
 * outbound context with its tx key, the receiver an inbound context with the same key. Keys
 * (master key || master salt) are made fresh for every call and direction with
 * rl_srtp_keygen and travel only inside the TLS control channel. The default suite is
 * AEAD_AES_128_GCM; AES_CM_128_HMAC_SHA1_80 is supported for peers that need it.
 *
 * RTCP is multiplexed on the RTP port (RFC 5761) and goes through the same context with the
 * *_rtcp calls. A context is used by one thread at a time.
 */
#ifndef RL_SRTP_H
#define RL_SRTP_H

#include <stddef.h>
#include <stdint.h>

#include "rl_srtp_suite.h" /* the suites and their keys */

#define RL_SRTP_OVERHEAD  16 /* most bytes protect adds to an RTP packet */
#define RL_SRTCP_OVERHEAD 24 /* most bytes protect_rtcp adds to an RTCP packet */

struct rl_srtp;

/* rl_srtp_open makes a context for one direction. key/len as from rl_srtp_keygen (copied).
 * outbound: 1 to protect, 0 to unprotect. Replay protection is on for inbound contexts.
 * Initialises libsrtp once per process (thread-safe). Errors: RL_EINVAL, RL_EIO. */
int rl_srtp_open(struct rl_srtp **out, int suite, const uint8_t *key, size_t len, int outbound);

/* rl_srtp_protect encrypts the RTP packet in buf[0..*len) in place; buf must have room for
 * *len + RL_SRTP_OVERHEAD bytes (cap). *len becomes the SRTP length.
 * Errors: RL_EINVAL (not an RTP packet, cap too small), RL_EIO (libsrtp refused). */
int rl_srtp_protect(struct rl_srtp *s, uint8_t *buf, size_t *len, size_t cap);

/* rl_srtp_unprotect checks and decrypts the SRTP packet in buf[0..*len) in place; *len
 * becomes the RTP length. Errors: RL_EAUTH (authentication failed: wrong key, tampered),
 * RL_EEXIST (replayed or too old), RL_EINVAL (malformed, too short). Nothing is kept from a
 * packet that fails. */
int rl_srtp_unprotect(struct rl_srtp *s, uint8_t *buf, size_t *len);

/* The same for RTCP; cap must allow *len + RL_SRTCP_OVERHEAD. */
int rl_srtp_protect_rtcp(struct rl_srtp *s, uint8_t *buf, size_t *len, size_t cap);
int rl_srtp_unprotect_rtcp(struct rl_srtp *s, uint8_t *buf, size_t *len);

/* rl_srtp_close frees a context (NULL is fine); key material is wiped. */
void rl_srtp_close(struct rl_srtp *s);

#endif
