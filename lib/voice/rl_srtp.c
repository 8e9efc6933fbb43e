/*
 * rl_srtp.c - SRTP contexts over libsrtp2.
 *
 * libsrtp 2.x is not told how big the caller's buffer is: srtp_protect() "assumes that it can
 * write SRTP_MAX_TRAILER_LEN" (144) bytes after the packet, srtp_protect_rtcp() four more,
 * although the suites used here add at most 16 (RTP) and 20 (RTCP). Our contract is the
 * tight RL_SRTP_OVERHEAD / RL_SRTCP_OVERHEAD, so a packet whose cap does not cover libsrtp's
 * worst case is protected in a stack buffer that does, and copied back once we know the
 * result fits cap; with a roomy buffer (the usual 1500-byte datagram) it is done in place.
 * The stack buffer holds packets up to RL_RTP_MAX_PACKET (1500) bytes: a longer one is
 * protected only if cap also covers libsrtp's worst case, else refused (RL_EINVAL).
 *
 * Outbound contexts keep allow_repeat_tx off: protecting the same sequence number twice is
 * refused (RL_EEXIST), which also rules out reusing a GCM nonce. Inbound contexts keep the
 * default 128-packet replay window. The master key is only needed while srtp_create derives
 * the session keys; our copy is wiped right after, and libsrtp wipes its session keys when
 * the context is freed.
 */
#include "rl_srtp.h"

#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_rtp.h"

#define RTP_HDR       12
#define RTCP_HDR      8
#define SRTCP_INDEX   4 /* E flag + 31-bit index, before the tag */
#define SCRATCH_SLACK (SRTP_MAX_TRAILER_LEN + SRTCP_INDEX)
#define SCRATCH_MAX   RL_RTP_MAX_PACKET /* largest packet protected through the scratch buffer */

struct rl_srtp {
	srtp_t ctx;
	int suite;
	int outbound;
	size_t tag_len; /* authentication tag bytes of the suite */
};

static pthread_once_t srtp_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t srtp_init_status;

static void srtp_init_once(void)
{
	srtp_init_status = srtp_init();
}

static int map_err(srtp_err_status_t e)
{
	switch (e) {
	case srtp_err_status_ok:
		return RL_OK;
	case srtp_err_status_auth_fail:
		return RL_EAUTH;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		return RL_EEXIST;
	case srtp_err_status_alloc_fail:
		rl_oom_in("libsrtp");
	case srtp_err_status_bad_param:
	case srtp_err_status_parse_err:
	case srtp_err_status_no_ctx:
		return RL_EINVAL;
	default:
		return RL_EIO;
	}
}

/* On the receive side anything libsrtp refuses other than auth or replay is a packet we cannot
 * make sense of (running out of memory aborts in map_err). */
static int map_rx_err(srtp_err_status_t e)
{
	int rv = map_err(e);

	return rv == RL_EIO ? RL_EINVAL : rv;
}

int rl_srtp_open(struct rl_srtp **out, int suite, const uint8_t *key, size_t len, int outbound)
{
	uint8_t k[RL_SRTP_KEY_MAX];
	srtp_policy_t p;
	struct rl_srtp *s;
	srtp_err_status_t e;

	if (out == NULL)
		return RL_EINVAL;
	*out = NULL;
	if (key == NULL || rl_srtp_key_len(suite) == 0 || len != rl_srtp_key_len(suite))
		return RL_EINVAL;
	pthread_once(&srtp_once, srtp_init_once);
	if (srtp_init_status != srtp_err_status_ok)
		return RL_EIO;
	s = rl_calloc(1, sizeof(*s));
	s->suite = suite;
	s->outbound = outbound != 0;

	memset(&p, 0, sizeof(p));
	if (suite == RL_SRTP_AEAD_AES_128_GCM) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
	} else {
		srtp_crypto_policy_set_rtp_default(&p.rtp);
		srtp_crypto_policy_set_rtcp_default(&p.rtcp);
	}
	s->tag_len = (size_t)p.rtp.auth_tag_len;
	p.ssrc.type = s->outbound ? ssrc_any_outbound : ssrc_any_inbound;
	memcpy(k, key, len);
	p.key = k;
	p.window_size = 0; /* libsrtp's default, 128 */
	p.allow_repeat_tx = 0;
	p.next = NULL;
	e = srtp_create(&s->ctx, &p);
	sodium_memzero(k, sizeof(k));
	if (e == srtp_err_status_alloc_fail)
		rl_oom_in("srtp_create");
	if (e != srtp_err_status_ok) {
		free(s);
		return RL_EIO;
	}
	*out = s;
	return RL_OK;
}

/* rtp_check: 1 if buf[0..len) holds a version-2 RTP header (CSRCs and extension within len). */
static int rtp_check(const uint8_t *buf, size_t len)
{
	size_t h = RTP_HDR;

	if (len < RTP_HDR || (buf[0] >> 6) != 2)
		return 0;
	h += 4 * (size_t)(buf[0] & 0x0f);
	if (buf[0] & 0x10) {
		if (h + 4 > len)
			return 0;
		h += 4 + 4 * (((size_t)buf[h + 2] << 8) | buf[h + 3]);
	}
	return h <= len;
}

static int rtcp_check(const uint8_t *buf, size_t len)
{
	return len >= RTCP_HDR && (buf[0] >> 6) == 2;
}

typedef srtp_err_status_t (*srtp_fn)(srtp_t, void *, int *);

/* protect runs fn (srtp_protect or srtp_protect_rtcp) on buf[0..*len) without writing past
 * cap, whatever libsrtp assumes about the room after the packet. */
static int protect(struct rl_srtp *s, srtp_fn fn, uint8_t *buf, size_t *len, size_t cap, size_t overhead)
{
	uint8_t scratch[SCRATCH_MAX + SCRATCH_SLACK];
	srtp_err_status_t e;
	int n;

	if (*len > SIZE_MAX - SCRATCH_SLACK || *len + SCRATCH_SLACK > INT_MAX)
		return RL_EINVAL;
	n = (int)*len;
	if (cap >= *len + SCRATCH_SLACK) {
		/* Room for libsrtp's worst case: in place. */
		if ((e = fn(s->ctx, buf, &n)) != srtp_err_status_ok)
			return map_err(e);
	} else {
		if (*len > SCRATCH_MAX)
			return RL_EINVAL;
		memcpy(scratch, buf, *len);
		if ((e = fn(s->ctx, scratch, &n)) != srtp_err_status_ok)
			return map_err(e);
		/* Cannot happen with cap >= *len + overhead; checked so a libsrtp surprise
		 * becomes an error and not an overflow. */
		if (n < 0 || (size_t)n > cap)
			return RL_EIO;
		memcpy(buf, scratch, (size_t)n);
	}
	if (n < 0 || (size_t)n > *len + overhead)
		return RL_EIO;
	*len = (size_t)n;
	return RL_OK;
}

static int unprotect(struct rl_srtp *s, srtp_fn fn, uint8_t *buf, size_t *len)
{
	srtp_err_status_t e;
	int n;

	if (*len > INT_MAX)
		return RL_EINVAL;
	n = (int)*len;
	if ((e = fn(s->ctx, buf, &n)) != srtp_err_status_ok)
		return map_rx_err(e);
	if (n < 0 || (size_t)n > *len)
		return RL_EIO;
	*len = (size_t)n;
	return RL_OK;
}

int rl_srtp_protect(struct rl_srtp *s, uint8_t *buf, size_t *len, size_t cap)
{
	if (s == NULL || !s->outbound || buf == NULL || len == NULL)
		return RL_EINVAL;
	if (!rtp_check(buf, *len))
		return RL_EINVAL;
	if (cap < *len || cap - *len < RL_SRTP_OVERHEAD)
		return RL_EINVAL;
	return protect(s, srtp_protect, buf, len, cap, RL_SRTP_OVERHEAD);
}

int rl_srtp_unprotect(struct rl_srtp *s, uint8_t *buf, size_t *len)
{
	if (s == NULL || s->outbound || buf == NULL || len == NULL)
		return RL_EINVAL;
	/* A header and a whole tag at least; libsrtp is not left to find out. */
	if (!rtp_check(buf, *len) || *len < RTP_HDR + s->tag_len)
		return RL_EINVAL;
	return unprotect(s, srtp_unprotect, buf, len);
}

int rl_srtp_protect_rtcp(struct rl_srtp *s, uint8_t *buf, size_t *len, size_t cap)
{
	if (s == NULL || !s->outbound || buf == NULL || len == NULL)
		return RL_EINVAL;
	if (!rtcp_check(buf, *len))
		return RL_EINVAL;
	if (cap < *len || cap - *len < RL_SRTCP_OVERHEAD)
		return RL_EINVAL;
	return protect(s, srtp_protect_rtcp, buf, len, cap, RL_SRTCP_OVERHEAD);
}

int rl_srtp_unprotect_rtcp(struct rl_srtp *s, uint8_t *buf, size_t *len)
{
	if (s == NULL || s->outbound || buf == NULL || len == NULL)
		return RL_EINVAL;
	if (!rtcp_check(buf, *len) || *len < RTCP_HDR + SRTCP_INDEX + s->tag_len)
		return RL_EINVAL;
	return unprotect(s, srtp_unprotect_rtcp, buf, len);
}

void rl_srtp_close(struct rl_srtp *s)
{
	if (s == NULL)
		return;
	if (s->ctx != NULL)
		srtp_dealloc(s->ctx);
	sodium_memzero(s, sizeof(*s));
	free(s);
}
