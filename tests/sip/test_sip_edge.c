/*
 * The carrier edge against a hostile carrier, at the SIP glue (node/sip.h), with real sipp
 * processes on loopback:
 *
 *   - every rejection on the wire, read back from what sipp received (its -trace_msg file):
 *     the exact status line and Retry-After of the node's rejects (404, 503 with their
 *     reasons, 480, 486, 499, control characters in a reason, a hangup before answer, an
 *     answer the offer cannot take) and of the glue's own refusals (403 trunk, 503 draining
 *     and full, 488 bad SDP); and rejects queued together, each with its own reason;
 *   - SDP media addresses a trunk may not use (multicast, broadcast, unspecified in a new
 *     call), refused 488 and counted, as unit checks of rl_sip_sdp_offer and on the wire,
 *     and in re-INVITEs (0.0.0.0 is hold, multicast is 488 and the call goes on);
 *   - DTMF in SIP INFO: the body parser on hostile bodies, the keys an answered call reports
 *     from sipp's INFOs, and the carrier leg's pairing of INFO digits with RFC 4733 ones;
 *   - a stalled SIP thread: the INVITE that waited in the socket through the stall gets 503
 *     "Stale INVITE", the calls before and after it are the node's.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "carrier.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_rtp.h"
#include "rltest.h"
#include "sip.h"
#include "siptest.h"

#define RTP_PORT 40000 /* what the "node" answers with; uac_reinvite_addr checks it */

static int sip_port;

/* Opens a glue on a free port of 127.0.0.1 (another try if the port was taken meanwhile),
 * reporting to the recorder unless conf->fn says otherwise. */
static struct rl_sip *open_glue(struct rl_sip_conf *conf, int *port)
{
	static char listen[8][64];
	static int n;
	struct rl_sip *s = NULL;
	int rv = RL_ENET;

	if (conf->fn == NULL)
		conf->fn = siptest_on_event;
	for (int attempt = 0; attempt < 10 && rv == RL_ENET; attempt++) {
		*port = rltest_free_port();
		snprintf(listen[n & 7], sizeof(listen[0]), "127.0.0.1:%d", *port);
		conf->listen = listen[n & 7];
		rv = rl_sip_open(&s, conf);
	}
	n++;
	RL_REQUIRE(rv == RL_OK);
	return s;
}

/* ---- unit: SDP addresses ------------------------------------------------------------------ */

static int offer_addr(const char *c_line, struct rl_sip_offer *o)
{
	char sdp[512];

	snprintf(sdp, sizeof(sdp),
	         "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n%s\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", c_line);
	return rl_sip_sdp_offer(o, sdp, strlen(sdp), RL_SIP_PCMU);
}

static void sdp_addresses(void)
{
	static const char *const refused[] = {
	    "c=IN IP4 224.0.0.1",        "c=IN IP4 239.255.255.250",
	    "c=IN IP4 230.1.2.3",        "c=IN IP4 255.255.255.255",
	    "c=IN IP6 ff02::1",          "c=IN IP6 ff0e::1:2",
	    "c=IN IP6 ::ffff:224.1.2.3", "c=IN IP6 ::ffff:255.255.255.255",
	};
	static const char *const unicast[] = {
	    "c=IN IP4 127.0.0.1",       "c=IN IP6 ::1",         "c=IN IP4 192.0.2.1",       "c=IN IP4 223.255.255.255",
	    "c=IN IP4 255.255.255.254", "c=IN IP6 2001:db8::1", "c=IN IP6 ::ffff:192.0.2.9"};
	static const char *const unspecified[] = {"c=IN IP4 0.0.0.0", "c=IN IP6 ::", "c=IN IP6 ::ffff:0.0.0.0"};
	struct rl_sip_offer o;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		int rv = offer_addr(refused[i], &o);
		if (rv != RL_EPERM)
			fprintf(stderr, "%s: %s, want refused\n", refused[i], rl_strerror(rv));
		RL_CHECK(rv == RL_EPERM && o.media.ip[0] == '\0');
	}
	for (size_t i = 0; i < sizeof(unicast) / sizeof(unicast[0]); i++) {
		RL_CHECK(offer_addr(unicast[i], &o) == RL_OK);
		RL_CHECK(o.media.hold == 0 && o.media.unspecified == 0);
	}
	for (size_t i = 0; i < sizeof(unspecified) / sizeof(unspecified[0]); i++) {
		RL_CHECK(offer_addr(unspecified[i], &o) == RL_OK);
		RL_CHECK(o.media.hold == 1 && o.media.unspecified == 1 && o.media.dir == 3);
	}
	/* With a TTL sofia itself says multicast: not usable, as before. */
	RL_CHECK(offer_addr("c=IN IP4 224.1.1.1/16", &o) == RL_EPROTO);
	/* The media-level c= decides; a refused stream leaves the next audio stream ours. */
	const char *two = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	                  "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 239.1.1.1\r\nm=audio 4002 RTP/AVP 0\r\n";
	RL_CHECK(rl_sip_sdp_offer(&o, two, strlen(two), RL_SIP_PCMU) == RL_OK);
	RL_CHECK(o.n_streams == 2 && o.audio == 1 && o.media.port == 4002 && strcmp(o.media.ip, "192.0.2.1") == 0);
	const char *media_mc = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	                       "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 224.2.2.2\r\n";
	RL_CHECK(rl_sip_sdp_offer(&o, media_mc, strlen(media_mc), RL_SIP_PCMU) == RL_EPERM);
	const char *session_mc = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 224.2.2.2\r\nt=0 0\r\n"
	                         "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.5\r\n";
	RL_CHECK(rl_sip_sdp_offer(&o, session_mc, strlen(session_mc), RL_SIP_PCMU) == RL_OK);
	RL_CHECK(strcmp(o.media.ip, "192.0.2.5") == 0);
}

/* ---- unit: INFO bodies -------------------------------------------------------------------- */

static void dtmf_bodies(void)
{
	static char big[RL_SIP_DTMF_BODY_MAX + 2];
	static const struct {
		const char *ctype, *body;
		int rv;
		char key;
		unsigned ms;
	} cases[] = {
	    {"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", RL_OK, '5', 160},
	    {"Application/DTMF-Relay", "signal= 9\nduration =250", RL_OK, '9', 250},
	    {"application/dtmf-relay", "Duration=100\r\nSignal=#\r\n", RL_OK, '#', 100},
	    {"application/dtmf-relay", "Signal=*", RL_OK, '*', 0},
	    {"application/dtmf-relay", "Signal=d\r\nX-Vendor=anything=at all\r\n", RL_OK, 'D', 0},
	    {"application/dtmf-relay", "\r\n\r\nSignal=0\r\n\r\n", RL_OK, '0', 0},
	    {"application/dtmf-relay", "Signal=1\r\nDuration=10000\r\n", RL_OK, '1', 10000},
	    {"application/dtmf", "5", RL_OK, '5', 0},
	    {"application/dtmf", " A\r\n", RL_OK, 'A', 0},
	    {"application/dtmf-relay", "Signal=1\r\nDuration=10001\r\n", RL_ERANGE, 0, 0},
	    {"application/dtmf-relay", "Signal=1\r\nDuration=999999\r\n", RL_ERANGE, 0, 0},
	    {"application/dtmf-relay", "Signal=1\r\nDuration=-1\r\n", RL_EPROTO, 0, 0},
	    {"application/dtmf-relay", "Signal=1\r\nDuration=\r\n", RL_EPROTO, 0, 0},
	    {"application/dtmf-relay", "Signal=1\r\nDuration=1\r\nDuration=2\r\n", RL_EPROTO, 0, 0},
	    {"application/dtmf-relay", "Signal=55", RL_EPROTO, 0, 0},
	    {"application/dtmf-relay", "Signal=10", RL_EPROTO, 0, 0},
	    {"application/dtmf-relay", "Signal=E", RL_EPROTO, 0, 0},
	    {"application/dtmf-relay", "Signal=", RL_EPROTO, 0, 0},
	    {"application/dtmf-relay", "Signal=1\r\nSignal=1\r\n", RL_EPROTO, 0, 0},
	    {"application/dtmf-relay", "Duration=160\r\n", RL_EPROTO, 0, 0},
	    {"application/dtmf-relay", "5", RL_EPROTO, 0, 0},
	    {"application/dtmf-relay", "Signal=1\x1b", RL_EPROTO, 0, 0},
	    {"application/dtmf-relay", "Signal=\xc3\xa9", RL_EPROTO, 0, 0},
	    {"application/dtmf-relay", "", RL_EPROTO, 0, 0},
	    {"application/dtmf", "12", RL_EPROTO, 0, 0},
	    {"application/dtmf", "\r\n", RL_EPROTO, 0, 0},
	    {"application/dtmf", "x", RL_EPROTO, 0, 0},
	    {"application/sdp", "Signal=1", RL_ENOENT, 0, 0},
	    {"text/plain", "1", RL_ENOENT, 0, 0},
	    {NULL, "Signal=1", RL_ENOENT, 0, 0},
	};
	char key;
	unsigned ms;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rv = rl_sip_dtmf_body(cases[i].ctype, cases[i].body, strlen(cases[i].body), &key, &ms);
		if (rv != cases[i].rv || key != cases[i].key || ms != cases[i].ms)
			fprintf(stderr, "dtmf body %zu: rv %d key %d ms %u\n", i, rv, key, ms);
		RL_CHECK(rv == cases[i].rv && key == cases[i].key && ms == cases[i].ms);
	}
	/* A NUL inside, a NULL body, and the length cap. */
	RL_CHECK(rl_sip_dtmf_body("application/dtmf-relay", "Signal=1\0", 9, &key, &ms) == RL_EPROTO);
	RL_CHECK(rl_sip_dtmf_body("application/dtmf", NULL, 4, &key, &ms) == RL_EPROTO);
	memset(big, ' ', sizeof(big));
	memcpy(big, "Signal=1", 8);
	RL_CHECK(rl_sip_dtmf_body("application/dtmf-relay", big, RL_SIP_DTMF_BODY_MAX, &key, &ms) == RL_OK);
	RL_CHECK(key == '1');
	RL_CHECK(rl_sip_dtmf_body("application/dtmf-relay", big, RL_SIP_DTMF_BODY_MAX + 1, &key, &ms) == RL_ETOOBIG);
	RL_CHECK(key == 0);
}

/* ---- unit: the carrier leg pairs INFO digits with RFC 4733 ones --------------------------- */

static uint64_t fake_now;

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

/* One RFC 4733 key press as the carrier sends it: start (marker), then three end packets. */
static void rtp_press(struct rl_carrier *c, char key, uint32_t ts, uint16_t *seq)
{
	static const char keys[] = "0123456789*#ABCD";
	struct sockaddr_in from;
	uint8_t pkt[16];

	memset(&from, 0, sizeof(from));
	from.sin_family = AF_INET;
	from.sin_port = htons(30000);
	from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 4; i++) {
		rl_rtp_write(pkt, sizeof(pkt), 101, i == 0, (*seq)++, ts, 0x1234);
		uint16_t dur = i == 0 ? 0 : 640; /* 80 ms at 8000 */
		pkt[12] = (uint8_t)(strchr(keys, key) - keys);
		pkt[13] = (uint8_t)(i == 0 ? 0x0a : 0x8a); /* E on the end packets, volume 10 */
		pkt[14] = (uint8_t)(dur >> 8);
		pkt[15] = (uint8_t)(dur & 0xff);
		RL_CHECK(rl_carrier_inject(c, pkt, sizeof(pkt), &from, sizeof(from)) == RL_OK);
	}
}

/* The digits waiting, in order, as a string. */
static const char *taken(struct rl_carrier *c)
{
	static char buf[64];
	size_t n = 0;
	char d;

	while (n + 1 < sizeof(buf) && rl_carrier_dtmf(c, &d) == RL_OK)
		buf[n++] = d;
	buf[n] = '\0';
	return buf;
}

static void dtmf_pairing(void)
{
	struct rl_carrier *c;
	struct rl_carrier_stats st;
	uint16_t seq = 1;

	RL_REQUIRE(rl_carrier_open(&c, "127.0.0.1", NULL) == RL_OK);
	rl_carrier_set_clock(c, fake_clock, NULL);
	/* RTP first, its INFO copy 50 ms later: one digit. */
	fake_now = 1000000;
	rtp_press(c, '5', 1000, &seq);
	fake_now += 50000;
	RL_CHECK(rl_carrier_put_dtmf(c, '5') == RL_EEXIST);
	RL_CHECK(strcmp(taken(c), "5") == 0);
	/* INFO first (sent at the key's release, 900 ms on), its RTP event after: one digit. */
	fake_now += 350000;
	RL_CHECK(rl_carrier_put_dtmf(c, '5') == RL_OK);
	fake_now += 900000;
	rtp_press(c, '5', 5000, &seq);
	RL_CHECK(strcmp(taken(c), "5") == 0);
	/* The same key by both paths further apart than RL_CARRIER_DTMF_PAIR_MS: two presses. */
	fake_now += 10000000;
	RL_CHECK(rl_carrier_put_dtmf(c, '7') == RL_OK);
	fake_now += (RL_CARRIER_DTMF_PAIR_MS + 500) * 1000ull;
	rtp_press(c, '7', 90000, &seq);
	RL_CHECK(strcmp(taken(c), "77") == 0);
	/* A key pressed twice quickly on a carrier that sends both: two, not one nor four. */
	fake_now += 10000000;
	rtp_press(c, '2', 200000, &seq);
	fake_now += 50000;
	RL_CHECK(rl_carrier_put_dtmf(c, '2') == RL_EEXIST);
	fake_now += 250000;
	rtp_press(c, '2', 202400, &seq);
	fake_now += 50000;
	RL_CHECK(rl_carrier_put_dtmf(c, '2') == RL_EEXIST);
	RL_CHECK(strcmp(taken(c), "22") == 0);
	/* INFO only, a key twice: both (nothing to pair with); other keys are not paired. */
	fake_now += 10000000;
	RL_CHECK(rl_carrier_put_dtmf(c, '1') == RL_OK);
	fake_now += 200000;
	RL_CHECK(rl_carrier_put_dtmf(c, '1') == RL_OK);
	rtp_press(c, '3', 300000, &seq);
	RL_CHECK(rl_carrier_put_dtmf(c, '#') == RL_OK);
	RL_CHECK(strcmp(taken(c), "113#") == 0);
	RL_CHECK(rl_carrier_put_dtmf(c, 'x') == RL_EINVAL && rl_carrier_put_dtmf(c, '\0') == RL_EINVAL);
	rl_carrier_stats(c, &st);
	RL_CHECK(st.dtmf_digits == 6 && st.dtmf_info == 8 && st.dtmf_dup == 4);
	/* The queue's bound holds for INFO digits too. */
	for (int i = 0; i < RL_CARRIER_DTMF_QUEUE; i++)
		RL_CHECK(rl_carrier_put_dtmf(c, 'A') == RL_OK);
	RL_CHECK(rl_carrier_put_dtmf(c, 'A') == RL_EFULL);
	struct rl_audio_src *src = rl_carrier_src(c);
	rl_carrier_close(c);
	RL_CHECK(rl_carrier_put_dtmf(c, '1') == RL_ECLOSED); /* src's reference keeps it alive */
	src->close(src);
}

/* ---- rejections on the wire --------------------------------------------------------------- */

enum how { REJECT, HANGUP, BAD_ANSWER };

struct reject_case {
	enum how how;
	int status;
	const char *reason;
	unsigned retry_after_s;
	const char *line; /* what the carrier must read */
	const char *ra;   /* and its Retry-After, "" = none */
};

/* What the node itself answers with (node/source_sip.c), and the glue's phrases for it. */
static const struct reject_case node_cases[] = {
    {REJECT, 404, "No such number here", 0, "SIP/2.0 404 No such number here", ""},
    {REJECT, 503, "No media port", 30, "SIP/2.0 503 No media port", "30"},
    {REJECT, 503, "Site busy", 30, "SIP/2.0 503 Site busy", "30"},
    {REJECT, 503, "Cannot queue the call", 17, "SIP/2.0 503 Cannot queue the call", "17"},
    {REJECT, 480, "Temporarily unavailable", 0, "SIP/2.0 480 Temporarily unavailable", ""},
    {REJECT, 486, NULL, 0, "SIP/2.0 486 Busy Here", ""},
    {REJECT, 499, NULL, 0, "SIP/2.0 499 Rejected", ""},
    {REJECT, 486, "Busy \r\nX-Injected: 1", 0, "SIP/2.0 486 Busy __X-Injected: 1", ""},
    {HANGUP, 0, NULL, 0, "SIP/2.0 480 Temporarily Unavailable", ""},
    {BAD_ANSWER, 0, NULL, 0, "SIP/2.0 488 Not Acceptable Here", ""},
};

static int node_act(struct rl_sip *s, uint64_t call, const struct reject_case *k)
{
	if (k->how == HANGUP)
		return rl_sip_hangup(s, call);
	if (k->how == BAD_ANSWER) /* Opus: the offer has PCMU and PCMA only */
		return rl_sip_answer(s, call, "127.0.0.1", RTP_PORT, RL_SIP_OPUS, -1);
	return rl_sip_reject(s, call, k->status, k->reason, k->retry_after_s);
}

static void node_rejects(struct rl_sip *s)
{
	for (size_t i = 0; i < sizeof(node_cases) / sizeof(node_cases[0]); i++) {
		struct siptest_sipp r = {.scen = "invite_reject", .port = sip_port};
		struct rl_sip_event inv, end;

		siptest_rec_reset();
		pid_t pid = siptest_sipp_start(&r);
		RL_CHECK(siptest_wait_ev(RL_SIP_EV_INVITE, 0, 0, 5000, &inv));
		RL_CHECK(node_act(s, inv.call, &node_cases[i]) == RL_OK);
		RL_CHECK(siptest_wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 5000, &end));
		RL_CHECK(end.status == atoi(node_cases[i].line + 8));
		RL_CHECK(siptest_sipp_wait(&r, pid, 30000) == 0);
		RL_CHECK(siptest_final(&r, node_cases[i].line, node_cases[i].ra));
	}
}

/* Rejects queued at once run in one batch on the SIP thread: each keeps its own reason. */
static void batch_rejects(struct rl_sip *s)
{
	enum { N = 4 };
	static const int codes[N] = {480, 486, 404, 503}; /* among invite_reject's */
	struct siptest_sipp r[N];
	struct rl_sip_event inv[N];
	char reason[N][64], line[N][96];
	pid_t pid[N];

	siptest_rec_reset();
	for (int i = 0; i < N; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].scen = "invite_reject";
		r[i].port = sip_port;
		pid[i] = siptest_sipp_start(&r[i]);
	}
	for (int i = 0; i < N; i++)
		RL_CHECK(siptest_wait_ev(RL_SIP_EV_INVITE, 0, (unsigned)i, 8000, &inv[i]));
	for (int i = 0; i < N; i++) {
		/* Which sipp sent it: by its port. */
		int k = 0;
		while (k < N && r[k].local_port != inv[i].src_port)
			k++;
		RL_REQUIRE(k < N);
		snprintf(reason[k], sizeof(reason[k]), "Reason number %d of the batch", k + 1);
		snprintf(line[k], sizeof(line[k]), "SIP/2.0 %d %s", codes[k], reason[k]);
		RL_CHECK(rl_sip_reject(s, inv[i].call, codes[k], reason[k], 0) == RL_OK);
		reason[k][0] = 'X'; /* the caller's copy may change at once */
	}
	for (int k = 0; k < N; k++) {
		RL_CHECK(siptest_sipp_wait(&r[k], pid[k], 30000) == 0);
		RL_CHECK(siptest_final(&r[k], line[k], ""));
	}
}

/* sipp's call refused by the glue alone: nothing reported. */
static void refused(int port, const char *line, const char *ra, const char *const *keys)
{
	struct siptest_sipp r = {.scen = keys ? "invite_addr" : "invite_reject", .port = port};

	for (int i = 0; keys != NULL && keys[i] != NULL && i < 15; i++)
		r.keys[i] = keys[i];
	siptest_rec_reset();
	RL_CHECK(siptest_sipp_wait(&r, siptest_sipp_start(&r), 30000) == 0);
	RL_CHECK(siptest_final(&r, line, ra));
	RL_CHECK(siptest_rec_count() == 0);
}

static void glue_refusals(struct rl_sip *s)
{
	static const char *const addrs[][5] = {
	    {"c_type", "IP4", "c_addr", "224.0.0.1", NULL},
	    {"c_type", "IP4", "c_addr", "239.255.255.250", NULL},
	    {"c_type", "IP4", "c_addr", "255.255.255.255", NULL},
	    {"c_type", "IP4", "c_addr", "0.0.0.0", NULL},
	    {"c_type", "IP6", "c_addr", "ff02::1", NULL},
	    {"c_type", "IP6", "c_addr", "::ffff:224.1.2.3", NULL},
	    {"c_type", "IP6", "c_addr", "::", NULL},
	};
	struct rl_sip_counters before, after;
	struct rl_sip_conf conf;
	struct rl_sip *x;
	const char *other_trunk[] = {"127.0.0.2", NULL};
	int port;

	rl_sip_counters(s, &before);
	rl_sip_set_drain(s, 100);
	refused(sip_port, "SIP/2.0 503 Service Unavailable", "30", NULL);
	rl_sip_set_drain(s, 0);
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		refused(sip_port, "SIP/2.0 488 Not Acceptable Here", "", addrs[i]);
	rl_sip_counters(s, &after);
	RL_CHECK(after.refused_draining == before.refused_draining + 1);
	RL_CHECK(after.bad_sdp == before.bad_sdp + 7 && after.bad_addr == before.bad_addr + 7);

	/* The allow-list, on an instance of its own. */
	memset(&conf, 0, sizeof(conf));
	conf.trunks = other_trunk;
	x = open_glue(&conf, &port);
	refused(port, "SIP/2.0 403 Forbidden", "", NULL);
	rl_sip_close(x);

	/* The call limit: one call held, the next refused at once, then the first rejected. */
	memset(&conf, 0, sizeof(conf));
	conf.max_calls = 1;
	conf.retry_after_s = 5;
	x = open_glue(&conf, &port);
	struct siptest_sipp held = {.scen = "invite_reject", .port = port};
	struct rl_sip_event inv;
	siptest_rec_reset();
	pid_t pid = siptest_sipp_start(&held);
	RL_CHECK(siptest_wait_ev(RL_SIP_EV_INVITE, 0, 0, 5000, &inv));
	struct siptest_sipp over = {.scen = "invite_reject", .port = port};
	RL_CHECK(siptest_sipp_wait(&over, siptest_sipp_start(&over), 30000) == 0);
	RL_CHECK(siptest_final(&over, "SIP/2.0 503 Service Unavailable", "5"));
	RL_CHECK(rl_sip_reject(x, inv.call, 486, "Busy", 0) == RL_OK);
	RL_CHECK(siptest_sipp_wait(&held, pid, 30000) == 0);
	RL_CHECK(siptest_final(&held, "SIP/2.0 486 Busy", ""));
	rl_sip_counters(x, &after);
	RL_CHECK(after.refused_full == 1 && after.rejected == 1);
	rl_sip_close(x);
}

/* ---- a stalled SIP thread: what waited through the stall is stale ------------------------- */

static int stall_armed; /* the next INVITE's callback holds the SIP thread... */
static int stall_held;  /* ...until this goes back to 0 */

/* The recorder, and a stall of the SIP thread on demand: a callback that does not return
 * is, to the glue, a thread that cannot run (a frozen process, a paused VM). */
static void stalling_event(void *arg, const struct rl_sip_event *ev)
{
	siptest_on_event(arg, ev);
	if (ev->type == RL_SIP_EV_INVITE && __atomic_exchange_n(&stall_armed, 0, __ATOMIC_ACQ_REL))
		while (__atomic_load_n(&stall_held, __ATOMIC_ACQUIRE))
			rltest_sleep_ms(5);
}

/* udp_queued: the bytes waiting in the receive queue of the UDP socket bound to
 * 127.0.0.1:port (/proc/net/udp), -1 if there is none. */
static long udp_queued(int port)
{
	char line[512];
	long q = -1;
	FILE *f = fopen("/proc/net/udp", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* "sl: local_address rem_address st tx_queue:rx_queue ...", in hex */
		unsigned long addr, rx;
		unsigned lport;
		if (sscanf(line, " %*d: %lx:%x %*x:%*x %*x %*x:%lx", &addr, &lport, &rx) == 3 && addr == 0x0100007Ful &&
		    (int)lport == port)
			q = (long)rx;
	}
	fclose(f);
	return q;
}

/*
 * Call A's INVITE holds the SIP thread (stall_ms 300) until call B's INVITE is waiting in the
 * glue's socket, and half a second at least: B waited through the stall and gets 503 "Stale
 * INVITE" with Retry-After, unreported. A, reported before the stall, is the node's as usual
 * (rejected 486 here). Call C, placed once the glue has read its fence back, is reported and
 * served.
 */
static void stalled(void)
{
	struct rl_sip_counters cnt;
	struct rl_sip_conf conf;
	struct rl_sip_event inv_a, inv_c;
	struct rl_sip *x;
	int port;

	memset(&conf, 0, sizeof(conf));
	conf.retry_after_s = 5;
	conf.stall_ms = 300;
	conf.fn = stalling_event;
	x = open_glue(&conf, &port);
	siptest_rec_reset();

	struct siptest_sipp a = {.scen = "invite_reject", .port = port};
	__atomic_store_n(&stall_held, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&stall_armed, 1, __ATOMIC_RELEASE);
	pid_t pa = siptest_sipp_start(&a);
	RL_CHECK(siptest_wait_ev(RL_SIP_EV_INVITE, 0, 0, 5000, &inv_a));
	/* The SIP thread is held now: B's INVITE waits in the socket. */
	struct siptest_sipp b = {.scen = "invite_reject", .port = port};
	pid_t pb = siptest_sipp_start(&b);
	int held_ms = 0;
	for (; held_ms < 10000 && (held_ms < 500 || udp_queued(port) <= 0); held_ms += 10)
		rltest_sleep_ms(10);
	printf("stall: SIP thread held %d ms, %ld bytes waiting in its socket\n", held_ms, udp_queued(port));
	RL_CHECK(udp_queued(port) > 0);
	__atomic_store_n(&stall_held, 0, __ATOMIC_RELEASE);
	RL_CHECK(siptest_sipp_wait(&b, pb, 30000) == 0);
	RL_CHECK(siptest_final(&b, "SIP/2.0 503 Stale INVITE", "5"));
	RL_CHECK(siptest_count_ev(RL_SIP_EV_INVITE, 0) == 1);
	RL_CHECK(rl_sip_reject(x, inv_a.call, 486, NULL, 0) == RL_OK);
	RL_CHECK(siptest_sipp_wait(&a, pa, 30000) == 0);
	RL_CHECK(siptest_final(&a, "SIP/2.0 486 Busy Here", ""));
	rl_sip_counters(x, &cnt);
	printf("stall: A reported before it, B refused after it (refused_stale %llu, stalls %llu)\n",
	       (unsigned long long)cnt.refused_stale, (unsigned long long)cnt.stalls);
	RL_CHECK(cnt.stalls == 1 && cnt.refused_stale == 1);

	/* B's 503 went out after the fence was sent; the fence's return follows within a turn
	 * or two of the loop. C comes after it and is the node's. */
	rltest_sleep_ms(200);
	struct siptest_sipp c = {.scen = "invite_reject", .port = port};
	pid_t pc = siptest_sipp_start(&c);
	RL_CHECK(siptest_wait_ev(RL_SIP_EV_INVITE, 0, 1, 5000, &inv_c));
	RL_CHECK(rl_sip_reject(x, inv_c.call, 486, NULL, 0) == RL_OK);
	RL_CHECK(siptest_sipp_wait(&c, pc, 30000) == 0);
	RL_CHECK(siptest_final(&c, "SIP/2.0 486 Busy Here", ""));
	rl_sip_counters(x, &cnt);
	RL_CHECK(cnt.stalls == 1 && cnt.refused_stale == 1 && cnt.invites == 3);
	rl_sip_close(x);
}

/* ---- calls: INFO DTMF, re-INVITE addresses ------------------------------------------------- */

/* The node's part in an answered call: ringing, answer. */
static int answer(struct rl_sip *s, struct rl_sip_event *inv)
{
	if (!siptest_wait_ev(RL_SIP_EV_INVITE, 0, 0, 5000, inv) || rl_sip_ringing(s, inv->call) != RL_OK)
		return 0;
	return rl_sip_answer(s, inv->call, "127.0.0.1", RTP_PORT, inv->media.codec, inv->media.dtmf_pt) == RL_OK;
}

static void info_dtmf(struct rl_sip *s)
{
	static const struct {
		char key;
		unsigned ms;
	} want[] = {{'5', 160}, {'#', 0}, {'B', 0}, {'*', 250}};
	struct siptest_sipp r = {.scen = "uac_info_dtmf", .port = sip_port};
	struct rl_sip_counters before, after;
	struct rl_sip_event inv, ev;

	siptest_rec_reset();
	rl_sip_counters(s, &before);
	pid_t pid = siptest_sipp_start(&r);
	RL_CHECK(answer(s, &inv));
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		RL_CHECK(siptest_wait_ev(RL_SIP_EV_DTMF, inv.call, i, 8000, &ev));
		RL_CHECK(ev.dtmf == want[i].key && ev.dtmf_ms == want[i].ms);
	}
	RL_CHECK(siptest_wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 8000, NULL));
	RL_CHECK(siptest_sipp_wait(&r, pid, 30000) == 0); /* every INFO got its 200 */
	RL_CHECK(siptest_count_ev(RL_SIP_EV_DTMF, inv.call) == 4);
	rl_sip_counters(s, &after);
	RL_CHECK(after.info_dtmf == before.info_dtmf + 4);
	RL_CHECK(after.info_bad == before.info_bad + 6);
}

static void reinvite_addr(struct rl_sip *s)
{
	struct siptest_sipp r = {.scen = "uac_reinvite_addr", .port = sip_port};
	struct rl_sip_counters before, after;
	struct rl_sip_event inv, ev;

	siptest_rec_reset();
	rl_sip_counters(s, &before);
	pid_t pid = siptest_sipp_start(&r);
	RL_CHECK(answer(s, &inv));
	RL_CHECK(inv.media.unspecified == 0 && inv.media.hold == 0);
	RL_CHECK(siptest_wait_ev(RL_SIP_EV_REINVITE, inv.call, 0, 5000, &ev));
	RL_CHECK(ev.media.hold == 1 && ev.media.unspecified == 1 && strcmp(ev.media.ip, "0.0.0.0") == 0);
	RL_CHECK(siptest_wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 8000, NULL));
	RL_CHECK(siptest_sipp_wait(&r, pid, 30000) == 0);
	RL_CHECK(siptest_count_ev(RL_SIP_EV_REINVITE, inv.call) == 1); /* the multicast one: 488 */
	rl_sip_counters(s, &after);
	RL_CHECK(after.reinvites == before.reinvites + 1);
	RL_CHECK(after.bad_sdp == before.bad_sdp + 1 && after.bad_addr == before.bad_addr + 1);
}

int main(void)
{
	const char *trunks[] = {"192.0.2.1", "127.0.0.1", NULL};
	struct rl_sip_conf conf;
	struct rl_sip *s;

	rl_log_init("test_sip_edge", getenv("RELAIS_LOG") ? rl_log_parse_level(getenv("RELAIS_LOG")) : RL_LOG_NOTICE);
	const char *tmp = siptest_init("sip_edge");

	sdp_addresses();
	dtmf_bodies();
	dtmf_pairing();

	memset(&conf, 0, sizeof(conf));
	conf.retry_after_s = 30;
	conf.trunks = trunks;
	s = open_glue(&conf, &sip_port);
	node_rejects(s);
	batch_rejects(s);
	glue_refusals(s);
	info_dtmf(s);
	reinvite_addr(s);
	rl_sip_close(s);
	stalled();
	printf("sipp logs in %s\n", tmp);
	return rltest_done();
}
