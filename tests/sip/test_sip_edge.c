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
 *     and in re-INVITEs (0.0.0.0 is hold, multicast is 488 and the call goes on).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_err.h"
#include "rl_log.h"
#include "rltest.h"
#include "sip.h"
#include "siptest.h"

#define RTP_PORT 40000 /* what the "node" answers with; uac_reinvite_addr checks it */

static int sip_port;

/* Opens a glue on a free port of 127.0.0.1 (another try if the port was taken meanwhile). */
static struct rl_sip *open_glue(struct rl_sip_conf *conf, int *port)
{
	static char listen[8][64];
	static int n;
	struct rl_sip *s = NULL;
	int rv = RL_ENET;

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
	rl_sip_set_draining(s, 1);
	refused(sip_port, "SIP/2.0 503 Service Unavailable", "30", NULL);
	rl_sip_set_draining(s, 0);
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

/* ---- calls: re-INVITE addresses ------------------------------------------------------------ */

/* The node's part in an answered call: ringing, answer. */
static int answer(struct rl_sip *s, struct rl_sip_event *inv)
{
	if (!siptest_wait_ev(RL_SIP_EV_INVITE, 0, 0, 5000, inv) || rl_sip_ringing(s, inv->call) != RL_OK)
		return 0;
	return rl_sip_answer(s, inv->call, "127.0.0.1", RTP_PORT, inv->media.codec, inv->media.dtmf_pt) == RL_OK;
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

	memset(&conf, 0, sizeof(conf));
	conf.retry_after_s = 30;
	conf.trunks = trunks;
	s = open_glue(&conf, &sip_port);
	node_rejects(s);
	batch_rejects(s);
	glue_refusals(s);
	reinvite_addr(s);
	rl_sip_close(s);
	printf("sipp logs in %s\n", tmp);
	return rltest_done();
}
