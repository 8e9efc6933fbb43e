/*
 * sip_dtmf.c - the bodies of SIP INFO that carry a key press: application/dtmf-relay
 * ("Signal=5\r\nDuration=160\r\n", the format most carriers and gateways send) and
 * application/dtmf ("5"). A pure function over hostile input, no state, no threads: the body
 * is bounded, every byte checked, it must name one key of 0-9 * # A-D and at most one
 * Duration in bounds, and anything else refuses it whole (a body that could mean two things
 * means nothing).
 */
#include "sip.h"

#include <string.h>
#include <strings.h>

#include "rl_err.h"

static const char dtmf_keys[] = "0123456789*#ABCD";

/* The key a value names: one character of dtmf_keys (a-d as A-D), else 0. */
static char dtmf_key(const char *v, size_t n)
{
	char k;

	if (n != 1)
		return 0;
	k = v[0] >= 'a' && v[0] <= 'd' ? (char)(v[0] - 'a' + 'A') : v[0];
	return k != '\0' && strchr(dtmf_keys, k) != NULL ? k : 0;
}

static int dtmf_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trims [*p, *p + *n) of spaces, tabs, CRs and LFs at both ends. */
static void dtmf_trim(const char **p, size_t *n)
{
	while (*n > 0 && dtmf_space(**p))
		(*p)++, (*n)--;
	while (*n > 0 && dtmf_space((*p)[*n - 1]))
		(*n)--;
}

/* A Duration value: 1..5 decimal digits, at most RL_SIP_DTMF_MS_MAX. */
static int dtmf_duration(const char *v, size_t n, unsigned *ms)
{
	unsigned x = 0;

	if (n == 0)
		return RL_EPROTO;
	if (n > 5)
		return RL_ERANGE;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return RL_EPROTO;
		x = x * 10 + (unsigned)(v[i] - '0');
	}
	if (x > RL_SIP_DTMF_MS_MAX)
		return RL_ERANGE;
	*ms = x;
	return RL_OK;
}

/* One "Name=value" line of a dtmf-relay body (trimmed, not empty). */
static int dtmf_relay_line(const char *l, size_t n, char *digit, unsigned *ms, int *have_ms)
{
	const char *eq = memchr(l, '=', n), *v;
	size_t kn, vn;
	int rv;

	if (eq == NULL)
		return RL_EPROTO;
	kn = (size_t)(eq - l);
	v = eq + 1;
	vn = n - kn - 1;
	dtmf_trim(&l, &kn);
	dtmf_trim(&v, &vn);
	if (kn == 6 && strncasecmp(l, "Signal", 6) == 0) {
		if (*digit != 0 || (*digit = dtmf_key(v, vn)) == 0)
			return RL_EPROTO;
	} else if (kn == 8 && strncasecmp(l, "Duration", 8) == 0) {
		if (*have_ms)
			return RL_EPROTO;
		*have_ms = 1;
		if ((rv = dtmf_duration(v, vn, ms)) != RL_OK)
			return rv;
	}
	return RL_OK; /* other names are a vendor's business */
}

static int dtmf_relay(const char *body, size_t len, char *digit, unsigned *ms)
{
	int have_ms = 0, rv;

	for (size_t i = 0; i < len;) {
		const char *nl = memchr(body + i, '\n', len - i), *l = body + i;
		size_t n = nl ? (size_t)(nl - l) : len - i;
		i += n + 1;
		dtmf_trim(&l, &n);
		if (n > 0 && (rv = dtmf_relay_line(l, n, digit, ms, &have_ms)) != RL_OK)
			return rv;
	}
	return *digit != 0 ? RL_OK : RL_EPROTO;
}

int rl_sip_dtmf_body(const char *ctype, const char *body, size_t len, char *digit, unsigned *ms)
{
	int relay;
	int rv;

	*digit = 0;
	*ms = 0;
	if (ctype == NULL)
		return RL_ENOENT;
	if (strcasecmp(ctype, "application/dtmf-relay") == 0)
		relay = 1;
	else if (strcasecmp(ctype, "application/dtmf") == 0)
		relay = 0;
	else
		return RL_ENOENT;
	if (body == NULL || len == 0)
		return RL_EPROTO;
	if (len > RL_SIP_DTMF_BODY_MAX)
		return RL_ETOOBIG;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)body[i];
		if ((ch < 0x20 || ch > 0x7e) && ch != '\t' && ch != '\r' && ch != '\n')
			return RL_EPROTO;
	}
	if (relay) {
		rv = dtmf_relay(body, len, digit, ms);
	} else {
		dtmf_trim(&body, &len);
		*digit = dtmf_key(body, len);
		rv = *digit != 0 ? RL_OK : RL_EPROTO;
	}
	if (rv != RL_OK)
		*digit = 0, *ms = 0;
	return rv;
}
