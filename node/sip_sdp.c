/*
 * sip_sdp.c - SDP offer/answer for the SIP glue: sofia's sdp_parse reads the offer, the
 * answer is printed from a fixed template. Pure functions, no state, no threads.
 */
#include <ctype.h>
#include "sip.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>

#include "rl_addr.h"
#include "rl_err.h"

/* Bigger offers are refused before parsing: a real one is well under 2 KiB. */
#define SDP_MAX 16384

const char *rl_sip_codec_name(int codec)
{
	switch (codec) {
	case RL_SIP_PCMU:
		return "PCMU";
	case RL_SIP_PCMA:
		return "PCMA";
	case RL_SIP_OPUS:
		return "opus";
	default:
		return "none";
	}
}

/* The offer's payload type for codec, or -1. */
static int codec_pt(const struct rl_sip_media *m, int codec)
{
	switch (codec) {
	case RL_SIP_PCMU:
		return m->pt_pcmu;
	case RL_SIP_PCMA:
		return m->pt_pcma;
	case RL_SIP_OPUS:
		return m->pt_opus;
	default:
		return -1;
	}
}

/* Copies a token echoed back into our SDP (media type, proto, format), keeping only token
 * characters so nothing the peer sent can break our lines; def if nothing is left. */
static void copy_token(char *dst, size_t cap, const char *src, const char *def)
{
	size_t n = 0;

	for (; src != NULL && *src != '\0' && n + 1 < cap; src++) {
		char c = *src;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
		    c == '.' || c == '-' || c == '_' || c == '+')
			dst[n++] = c;
	}
	dst[n] = '\0';
	if (n == 0)
		snprintf(dst, cap, "%s", def);
}

/*
 * addr_usable: whether a trunk's media may go to ss. A call's RTP goes to one peer: multicast
 * (224.0.0.0/4, ff00::/8) and the broadcast address 255.255.255.255 are refused (RL_EPERM),
 * they would have the node send a caller's audio to a group or a whole segment. sofia marks
 * c_mcast only for an address with a TTL ("224.1.1.1/16"), so the address itself is judged
 * here. An IPv4-mapped IPv6 address is judged as the IPv4 one. The unspecified address
 * (0.0.0.0, ::) is RFC 2543's hold, usable and flagged (*unspec); loopback is unicast and
 * usable (docs/sip.md: the local cluster's carrier is on it).
 */
static int addr_usable(const struct sockaddr_storage *ss, uint8_t *unspec)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t zero[16];
	const uint8_t *a;

	if (ss->ss_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
		if (a[0] == 0xff)
			return RL_EPERM;
		*unspec = memcmp(a, zero, 16) == 0;
		if (memcmp(a, mapped, 12) != 0)
			return RL_OK;
		a += 12;
	} else {
		a = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr.s_addr;
	}
	if ((a[0] & 0xf0) == 0xe0 || (a[0] == 0xff && a[1] == 0xff && a[2] == 0xff && a[3] == 0xff))
		return RL_EPERM;
	*unspec = *unspec || (a[0] | a[1] | a[2] | a[3]) == 0;
	return RL_OK;
}

/* The stream's address: media-level c= first, then session-level. Must be an IP literal of
 * its family (FQDNs are not for trunks) that addr_usable takes: RL_EPROTO, RL_EPERM. */
static int stream_addr(const sdp_session_t *sdp, const sdp_media_t *m, char *ip, size_t cap, uint8_t *unspec)
{
	const sdp_connection_t *c = m->m_connections ? m->m_connections : sdp->sdp_connection;
	struct sockaddr_storage ss;
	socklen_t len;
	int af, rv;

	if (c == NULL || c->c_nettype != sdp_net_in || c->c_address == NULL || c->c_mcast)
		return RL_EPROTO;
	if (c->c_addrtype == sdp_addr_ip4)
		af = AF_INET;
	else if (c->c_addrtype == sdp_addr_ip6)
		af = AF_INET6;
	else
		return RL_EPROTO;
	if (strlen(c->c_address) >= cap || rl_addr_from_ip(c->c_address, 0, 0, &ss, &len) != RL_OK ||
	    ss.ss_family != af)
		return RL_EPROTO;
	*unspec = 0;
	if ((rv = addr_usable(&ss, unspec)) != RL_OK)
		return rv;
	/* Re-print rather than copy, so the text is canonical. */
	return rl_addr_ip((struct sockaddr *)&ss, ip, cap) == RL_OK ? RL_OK : RL_EPROTO;
}

/* Reads the codecs of one audio stream into m (offer order decides the pick). */
static void stream_codecs(const sdp_media_t *sm, unsigned accept, struct rl_sip_media *m)
{
	int ev48 = -1;

	for (const sdp_rtpmap_t *rm = sm->m_rtpmaps; rm != NULL; rm = rm->rm_next) {
		int codec = 0;
		/* 64..95 would collide with RTCP packet types (RFC 5761): the carrier leg takes
		 * none of them, so they are not taken here either (another codec, or 488). */
		if (rm->rm_encoding == NULL || (rm->rm_pt >= 64 && rm->rm_pt <= 95))
			continue;
		if (strcasecmp(rm->rm_encoding, "PCMU") == 0 && rm->rm_rate == 8000)
			codec = RL_SIP_PCMU;
		else if (strcasecmp(rm->rm_encoding, "PCMA") == 0 && rm->rm_rate == 8000)
			codec = RL_SIP_PCMA;
		else if (strcasecmp(rm->rm_encoding, "opus") == 0 && rm->rm_rate == 48000)
			codec = RL_SIP_OPUS;
		else if (strcasecmp(rm->rm_encoding, "telephone-event") == 0 && rm->rm_rate == 8000) {
			if (m->dtmf_pt < 0)
				m->dtmf_pt = rm->rm_pt;
			continue;
		} else if (strcasecmp(rm->rm_encoding, "telephone-event") == 0 && rm->rm_rate == 48000) {
			if (ev48 < 0)
				ev48 = rm->rm_pt;
			continue;
		} else
			continue;
		if (m->offered & (unsigned)codec)
			continue; /* the same codec twice: the first one counts */
		m->offered |= (unsigned)codec;
		if (codec == RL_SIP_PCMU)
			m->pt_pcmu = rm->rm_pt;
		else if (codec == RL_SIP_PCMA)
			m->pt_pcma = rm->rm_pt;
		else
			m->pt_opus = rm->rm_pt;
		if (m->codec == 0 && (accept & (unsigned)codec)) {
			m->codec = codec;
			m->pt = rm->rm_pt;
		}
	}
	m->dtmf_rate = m->dtmf_pt >= 0 ? 8000 : 0;
	/* telephone-event/48000 (RFC 4733 2.1: the audio's clock) only next to Opus, and only
	 * where no /8000 is offered; the answer must then name it /48000 (dtmf_rate). */
	if (m->dtmf_pt < 0 && ev48 >= 0 && m->codec == RL_SIP_OPUS) {
		m->dtmf_pt = ev48;
		m->dtmf_rate = 48000;
	}
}

/* rl_sdp_fmt_ok: every m= line keeps to RFC 4566's grammar for its fields. sofia-sip
 * 1.12.11's parser, given an m= line with a transport it does not know and a non-token such
 * as ":" in it ("m=audio 4000 FOO ::1", "m=audio 4002 RT::P/AVP 0"), computes a list size in
 * the gigabytes and allocates it (found by fuzzing): one INVITE could exhaust the node's
 * memory. This guards that one line's grammar, it is not a parser: sofia parses everything. */
/* rl_sdp_proto_known: the transport of an m= line (its third field) is one sofia knows;
 * unknown ones are where its parser goes wrong, and we carry none of them anyway. */
static int rl_sdp_proto_known(const char *line, size_t len)
{
	static const char *const known[] = {
	    "RTP/AVP",           "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVP",
	    "UDP/TLS/RTP/SAVPF", "udptl",    "TCP",      "UDP",       NULL};
	size_t f = 0, k = 0, start = 0, plen;

	/* skip media and port */
	for (; k < len && f < 2; k++)
		if (line[k] == ' ' && k > 0 && line[k - 1] != ' ')
			f++;
	while (k < len && line[k] == ' ')
		k++;
	start = k;
	while (k < len && line[k] != ' ' && line[k] != '\r')
		k++;
	plen = k - start;
	for (int i = 0; known[i] != NULL; i++)
		if (strlen(known[i]) == plen && strncasecmp(known[i], line + start, plen) == 0)
			return 1;
	return 0;
}

static int rl_sdp_fmt_ok(const char *body, size_t len)
{
	static const char tok[] = "!#$%&'*+-.^_`{|}~";
	size_t i = 0;

	while (i < len) {
		size_t end = i;
		while (end < len && body[end] != '\n' && body[end] != '\r') /* sofia ends lines at either */
			end++;
		/* every non-empty line is "<letter>=...", nothing before it */
		if (end > i && (end - i < 2 || body[i] < 'a' || body[i] > 'z' || body[i + 1] != '='))
			return 0;
		for (size_t k = i; k < end; k++)
			if (body[k] == '\t')
				return 0;
		if (end - i >= 2 && body[i] == 'm' && body[i + 1] == '=') {
			unsigned field = 0;
			int in = 0;
			for (size_t k = i + 2; k < end; k++) {
				char ch = body[k];
				if (ch == '\t')
					return 0; /* fields are separated by single spaces */
				if (ch == ' ' || ch == '\r') {
					in = 0;
					continue;
				}
				if (!in) {
					in = 1;
					field++;
				}
				/* media and formats are tokens, the port digits ("/count"), the
				 * transport tokens joined by "/" (RFC 4566 5.14) */
				int ok = field == 2 ? (isdigit((unsigned char)ch) || ch == '/')
				                    : (isalnum((unsigned char)ch) || (ch && strchr(tok, ch)) ||
				                       (field == 3 && ch == '/'));
				if (!ok)
					return 0;
			}
			if (!rl_sdp_proto_known(body + i + 2, end - i - 2))
				return 0;
		}
		i = end + 1;
	}
	return 1;
}

/* sdp_bytes_ok: sofia's SDP parser mishandles bytes above 0x7f in some tokens (fuzzing found
 * an m= line that makes it ask for 2 GiB): SDP's grammar is ASCII except free text (s=, i=)
 * that we never read, so anything else is refused before sofia sees it, as are NULs and
 * control characters other than CR, LF and TAB. */
static int sdp_bytes_ok(const char *body, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)body[i];
		if (ch >= 0x80 || (ch < 0x20 && ch != '\r' && ch != '\n' && ch != '\t'))
			return 0;
	}
	return 1;
}

/* offer_echo keeps what the answer repeats of stream n (its refusal with port 0). */
static void offer_echo(struct rl_sip_offer *o, unsigned n, const sdp_media_t *sm)
{
	copy_token(o->streams[n].type, sizeof(o->streams[n].type), sm->m_type_name, "audio");
	copy_token(o->streams[n].proto, sizeof(o->streams[n].proto), sm->m_proto_name, "RTP/AVP");
	/* sofia keeps RTP formats as rtpmaps, others as a text list. */
	if (sm->m_rtpmaps != NULL)
		snprintf(o->streams[n].fmt, sizeof(o->streams[n].fmt), "%u", (unsigned)sm->m_rtpmaps->rm_pt);
	else
		copy_token(o->streams[n].fmt, sizeof(o->streams[n].fmt), sm->m_format ? sm->m_format->l_text : NULL,
		           "0");
}

/* offer_audio reads an RTP audio stream into *m: RL_OK if it has a usable address and a codec
 * of accept; RL_ENOENT if only the codec is missing; RL_EPERM if its address is refused;
 * RL_EPROTO if it is not usable audio. */
static int offer_audio(const sdp_session_t *sdp, const sdp_media_t *sm, unsigned accept, struct rl_sip_media *m)
{
	const sdp_attribute_t *a;
	int rv;

	if (sm->m_type != sdp_media_audio || sm->m_proto != sdp_proto_rtp || sm->m_rejected || sm->m_port == 0 ||
	    sm->m_port > 65535)
		return RL_EPROTO;
	memset(m, 0, sizeof(*m));
	m->pt = m->pt_pcmu = m->pt_pcma = m->pt_opus = m->dtmf_pt = -1;
	if ((rv = stream_addr(sdp, sm, m->ip, sizeof(m->ip), &m->unspecified)) != RL_OK)
		return rv;
	m->port = (uint16_t)sm->m_port;
	stream_codecs(sm, accept, m);
	if (m->codec == 0)
		return RL_ENOENT;
	m->dir = (uint8_t)(sm->m_mode & 3);
	m->hold = m->dir == sdp_sendonly || m->dir == sdp_inactive || m->unspecified;
	if ((a = sdp_attribute_find(sm->m_attributes, "ptime")) == NULL)
		a = sdp_attribute_find(sdp->sdp_attributes, "ptime");
	if (a != NULL && a->a_value != NULL) {
		unsigned long pt = strtoul(a->a_value, NULL, 10);
		m->ptime = pt >= 1 && pt <= 1000 ? (uint16_t)pt : 0;
	}
	return RL_OK;
}

/* offer_streams reads every m= line of sdp into o: the first usable audio stream with a codec
 * of accept is ours. Errors as rl_sip_sdp_offer. */
static int offer_streams(struct rl_sip_offer *o, const sdp_session_t *sdp, unsigned accept)
{
	int found = 0, audio_seen = 0, refused = 0;
	unsigned n = 0;

	for (const sdp_media_t *sm = sdp->sdp_media; sm != NULL; sm = sm->m_next, n++) {
		struct rl_sip_media m;
		int rv;

		if (n >= RL_SIP_STREAMS_MAX)
			return RL_ETOOBIG;
		offer_echo(o, n, sm);
		if (found || (rv = offer_audio(sdp, sm, accept, &m)) == RL_EPROTO)
			continue;
		if (rv == RL_EPERM) {
			refused = 1;
			continue;
		}
		audio_seen = 1;
		if (rv != RL_OK)
			continue;
		o->media = m;
		o->audio = n;
		found = 1;
	}
	o->n_streams = n;
	return found ? RL_OK : audio_seen ? RL_ENOENT : refused ? RL_EPERM : RL_EPROTO;
}

int rl_sip_sdp_offer(struct rl_sip_offer *o, const char *body, size_t len, unsigned accept)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	sdp_parser_t *p = NULL;
	const sdp_session_t *sdp;
	int rv = RL_EPROTO;

	memset(o, 0, sizeof(*o));
	if (body == NULL || len == 0)
		return RL_EPROTO;
	if (len > SDP_MAX)
		return RL_ETOOBIG;
	if (!sdp_bytes_ok(body, len) || !rl_sdp_fmt_ok(body, len))
		return RL_EPROTO;
	p = sdp_parse(home, body, (issize_t)len, 0);
	if ((sdp = p ? sdp_session(p) : NULL) != NULL)
		rv = offer_streams(o, sdp, accept);
	if (p != NULL)
		sdp_parser_free(p);
	su_home_deinit(home);
	if (rv != RL_OK) {
		/* Leave nothing half-filled for a caller that ignores the code. */
		memset(o, 0, sizeof(*o));
		o->media.pt = o->media.pt_pcmu = o->media.pt_pcma = o->media.pt_opus = o->media.dtmf_pt = -1;
	}
	return rv;
}

/* Appends with bounds; *n becomes > cap on overflow, which the caller checks once. */
static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*n >= cap)
		return;
	va_start(ap, fmt);
	r = vsnprintf(buf + *n, cap - *n, fmt, ap);
	va_end(ap);
	*n += r < 0 ? cap : (size_t)r;
}

int rl_sip_sdp_answer(char *buf, size_t cap, const struct rl_sip_offer *o, const struct rl_sip_local *l)
{
	static const char *const dirs[4] = {"inactive", "sendonly", "recvonly", "sendrecv"};
	int af = rl_addr_ip_family(l->ip);
	const char *fam = af == AF_INET ? "IP4" : "IP6";
	int pt = codec_pt(&o->media, l->codec);
	int dtmf = (l->dtmf_pt >= 0 && o->media.dtmf_pt >= 0) ? l->dtmf_pt : -1;
	size_t n = 0;

	if (dtmf == pt)
		dtmf = -1; /* a hostile offer mapping both on one PT: audio wins */
	if (cap == 0)
		return -RL_ETOOBIG;
	if (pt < 0 || o->n_streams == 0 || o->audio >= o->n_streams || l->port == 0 || dtmf > 127 || af == 0)
		return -RL_EINVAL;

	put(buf, cap, &n, "v=0\r\no=relais %llu %llu IN %s %s\r\ns=relais\r\nc=IN %s %s\r\nt=0 0\r\n",
	    (unsigned long long)l->sess_id, (unsigned long long)l->version, fam, l->ip, fam, l->ip);
	for (unsigned i = 0; i < o->n_streams; i++) {
		if (i != o->audio) {
			put(buf, cap, &n, "m=%s 0 %s %s\r\n", o->streams[i].type, o->streams[i].proto,
			    o->streams[i].fmt);
			continue;
		}
		put(buf, cap, &n, "m=audio %u RTP/AVP %d", l->port, pt);
		if (dtmf >= 0)
			put(buf, cap, &n, " %d", dtmf);
		put(buf, cap, &n, "\r\n");
		if (l->codec == RL_SIP_OPUS)
			put(buf, cap, &n, "a=rtpmap:%d opus/48000/2\r\n", pt);
		else
			put(buf, cap, &n, "a=rtpmap:%d %s/8000\r\n", pt, rl_sip_codec_name(l->codec));
		if (dtmf >= 0)
			put(buf, cap, &n, "a=rtpmap:%d telephone-event/%u\r\na=fmtp:%d 0-16\r\n", dtmf,
			    o->media.dtmf_rate == 48000 && l->codec == RL_SIP_OPUS ? 48000u : 8000u, dtmf);
		/* Mirror the offer: its sendonly is our recvonly (RFC 3264 6.1). */
		unsigned d = o->media.dir & 3;
		d = ((d & 1) << 1) | ((d & 2) >> 1);
		put(buf, cap, &n, "a=ptime:20\r\na=%s\r\n", dirs[d]);
	}
	if (n >= cap)
		return -RL_ETOOBIG;
	return (int)n;
}
