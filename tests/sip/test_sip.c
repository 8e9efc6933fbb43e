/*
 * The SIP glue against real sipp processes on loopback.
 *
 * The glue listens on 127.0.0.1:<free port>; its callback records every event; the test
 * thread plays the node (ringing, answer, hangup...) while a sipp process
 * plays the carrier from a scenario in tests/sip/scenarios/. sipp checks what it receives
 * (status codes, our SDP through regexp actions) and exits 0 only if its call went as
 * scripted; the test checks the events. Also here: the SDP glue on hostile offers, the
 * argument checks, and garbage thrown at the SIP port.
 *
 * Early media (183) and blind transfer (REFER) are sipp scenarios too. TLS needs a TLS peer,
 * which Debian's sipp is not: kamailio with its tls module (kamailio_tls.cfg.in) plays the
 * carrier's SBC, taking sipp's calls over UDP and relaying them to the glue's TLS port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rl_err.h"
#include "rl_log.h"
#include "rltest.h"
#include "sip.h"

/*
 * Sofia 1.12.11 (Debian bookworm's libsofia-sip-ua0) leaks on every TLS connection: its
 * tls_free() shuts the OpenSSL connection down but never SSL_free()s it (the SSL made in
 * tls_init_secondary, some 70 KiB with its buffers), and the certificate check in
 * tls_connect() drops a GENERAL_NAMES stack. Later sofia-sip frees both; docs/sip.md says
 * what the leak means for a node. Only those two sofia functions are excused, and as OpenSSL
 * has no frame pointers, allocation stacks are unwound the slow way so that they show.
 */
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}
const char *__lsan_default_suppressions(void)
{
	return "leak:tls_init_secondary\nleak:tls_connect\n";
}

#define RTP_PORT 40000 /* what the "node" answers with; the scenarios check it */
#define MAX_EVS  256

/* ---- event recorder (the callback runs on the SIP thread) --------------------------------- */

static struct {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	struct rl_sip_event evs[MAX_EVS];
	unsigned n;
} rec = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0};

static void on_event(void *arg, const struct rl_sip_event *ev)
{
	(void)arg;
	pthread_mutex_lock(&rec.mtx);
	if (rec.n < MAX_EVS)
		rec.evs[rec.n] = *ev;
	rec.n++;
	pthread_cond_broadcast(&rec.cv);
	pthread_mutex_unlock(&rec.mtx);
}

static void rec_reset(void)
{
	pthread_mutex_lock(&rec.mtx);
	rec.n = 0;
	pthread_mutex_unlock(&rec.mtx);
}

static unsigned rec_count(void)
{
	pthread_mutex_lock(&rec.mtx);
	unsigned n = rec.n;
	pthread_mutex_unlock(&rec.mtx);
	return n;
}

/* Waits for the nth (0-based) event of type (for call, or any call if 0); 1 if found. */
static int wait_ev(int type, uint64_t call, unsigned nth, int timeout_ms, struct rl_sip_event *out)
{
	struct timespec dl;
	int found = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&rec.mtx);
	for (;;) {
		unsigned seen = 0;
		for (unsigned i = 0; i < rec.n && i < MAX_EVS; i++) {
			if (rec.evs[i].type != type || (call != 0 && rec.evs[i].call != call))
				continue;
			if (seen++ == nth) {
				if (out != NULL)
					*out = rec.evs[i];
				found = 1;
				break;
			}
		}
		if (found || pthread_cond_timedwait(&rec.cv, &rec.mtx, &dl) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&rec.mtx);
	if (!found && out != NULL)
		memset(out, 0, sizeof(*out)); /* later checks fail cleanly, never read garbage */
	return found;
}

/* How many events of type were recorded for call. */
static unsigned count_ev(int type, uint64_t call)
{
	unsigned n = 0;

	pthread_mutex_lock(&rec.mtx);
	for (unsigned i = 0; i < rec.n && i < MAX_EVS; i++)
		if (rec.evs[i].type == type && rec.evs[i].call == call)
			n++;
	pthread_mutex_unlock(&rec.mtx);
	return n;
}

/* The types of the recorded events in order, e.g. "1,2,4,6". */
static const char *rec_types(void)
{
	static char buf[256];
	size_t n = 0;

	buf[0] = '\0';
	pthread_mutex_lock(&rec.mtx);
	for (unsigned i = 0; i < rec.n && i < MAX_EVS && n + 4 < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d", i ? "," : "", rec.evs[i].type);
	pthread_mutex_unlock(&rec.mtx);
	return buf;
}

/* The glue's counters now: RL_WAIT(ms, counters(s).bad_sdp > n) waits for one to move. */
static struct rl_sip_counters counters(struct rl_sip *s)
{
	struct rl_sip_counters c;

	rl_sip_counters(s, &c);
	return c;
}

/* ---- sipp ------------------------------------------------------------------------------ */

static const char *tmp;
static char sipp_log[512];
static int sip_port;
static int media_port; /* sipp's -mp: the RTP port its SDP offers */

/* Starts sipp as a UAC running scenario (tests/sip/scenarios/<scen>.xml) once, to port. */
static pid_t sipp_start(const char *scen, const char *transport, int port)
{
	const char *sipp = getenv("SIPP") && getenv("SIPP")[0] ? getenv("SIPP") : "/usr/bin/sipp";
	char remote[64], lport[16], mport[16], sf[512], errf[512], logf[512], file[64];
	static unsigned run;

	snprintf(file, sizeof(file), "tests/sip/scenarios/%s.xml", scen);
	snprintf(sf, sizeof(sf), "%s", rltest_src(file));
	snprintf(remote, sizeof(remote), "127.0.0.1:%d", port);
	snprintf(lport, sizeof(lport), "%d", rltest_free_port());
	media_port = rltest_free_ports(4);
	snprintf(mport, sizeof(mport), "%d", media_port);
	snprintf(errf, sizeof(errf), "%s/%02u-%s.errors.log", tmp, run, scen);
	snprintf(logf, sizeof(logf), "%s/%02u-%s.log", tmp, run, scen);
	snprintf(sipp_log, sizeof(sipp_log), "%s", logf);
	run++;
	char *argv[] = {(char *)sipp,
	                remote,
	                "-sf",
	                sf,
	                "-m",
	                "1",
	                "-l",
	                "1",
	                "-timeout",
	                "20s",
	                "-timeout_error",
	                "-nostdin",
	                "-i",
	                "127.0.0.1",
	                "-p",
	                lport,
	                "-mp",
	                mport,
	                "-t",
	                (char *)transport,
	                "-s",
	                "0522000999",
	                "-max_retrans",
	                "3",
	                "-trace_err",
	                "-error_file",
	                errf,
	                NULL};
	return rltest_spawn(argv, logf);
}

/* Waits for sipp's exit; its status (0 = every call went as scripted) or -1. */
static int sipp_wait(pid_t pid, int timeout_ms)
{
	int st;

	for (int waited = 0; waited < timeout_ms; waited += 20) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
			if (rc != 0)
				fprintf(stderr, "sipp exit %d, see %s and its .errors.log\n", rc, sipp_log);
			return rc;
		}
		if (r < 0)
			return -1;
		rltest_sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	fprintf(stderr, "sipp did not finish in time\n");
	return -1;
}

/* Runs a scenario the glue answers alone (no node action); sipp's status. */
static int sipp_run(const char *scen, const char *transport, int port)
{
	return sipp_wait(sipp_start(scen, transport, port), 30000);
}

/* The node's part in an answered call: ringing, then the answer (the SIP thread runs
 * commands in order: the 180 leaves before the 200). */
static int node_answer(struct rl_sip *s, struct rl_sip_event *inv)
{
	if (!wait_ev(RL_SIP_EV_INVITE, 0, 0, 5000, inv))
		return 0;
	if (rl_sip_ringing(s, inv->call) != RL_OK)
		return 0;
	return rl_sip_answer(s, inv->call, "127.0.0.1", RTP_PORT, inv->media.codec, inv->media.dtmf_pt) == RL_OK;
}

/* ---- scenarios ------------------------------------------------------------------------- */

static void answered_call(struct rl_sip *s, const char *transport)
{
	struct rl_sip_event inv, ev;
	int tcp = strcmp(transport, "t1") == 0;

	rec_reset();
	pid_t pid = sipp_start(tcp ? "uac_answer_tcp" : "uac_answer", transport, sip_port);
	RL_CHECK(node_answer(s, &inv));
	RL_CHECK(inv.call != 0);
	RL_CHECK(strcmp(inv.dialled, "0522000999") == 0);
	RL_CHECK(strcmp(inv.src_ip, "127.0.0.1") == 0);
	RL_CHECK(inv.tcp == tcp);
	RL_CHECK(strcmp(inv.media.ip, "127.0.0.1") == 0);
	RL_CHECK(inv.media.port == media_port);
	RL_CHECK(inv.media.hold == 0);
	RL_CHECK(inv.media.dtmf_pt == 101);
	RL_CHECK(inv.media.ptime == 20);
	RL_CHECK(inv.call_id[0] != '\0');
	if (tcp) {
		/* P-Asserted-Identity wins over From; PCMA was offered first. */
		RL_CHECK(strcmp(inv.caller, "+212600000001") == 0);
		RL_CHECK(strcmp(inv.caller_name, "Asserted Caller") == 0);
		RL_CHECK(inv.media.codec == RL_SIP_PCMA && inv.media.pt == 8);
	} else {
		RL_CHECK(strcmp(inv.caller, "+212522000111") == 0);
		RL_CHECK(strcmp(inv.caller_name, "Alice Caller") == 0);
		RL_CHECK(inv.media.codec == RL_SIP_PCMU && inv.media.pt == 0);
	}
	RL_CHECK(inv.media.offered == (RL_SIP_PCMU | RL_SIP_PCMA));
	RL_CHECK(wait_ev(RL_SIP_EV_ANSWERED, inv.call, 0, 5000, NULL));
	RL_CHECK(wait_ev(RL_SIP_EV_BYE, inv.call, 0, 5000, NULL));
	RL_CHECK(wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 5000, &ev));
	RL_CHECK(sipp_wait(pid, 30000) == 0);
	RL_CHECK(strcmp(rec_types(), "1,2,4,6") == 0);
}

static void cancel_call(struct rl_sip *s)
{
	struct rl_sip_event inv, ev;

	rec_reset();
	pid_t pid = sipp_start("uac_cancel", "u1", sip_port);
	RL_CHECK(wait_ev(RL_SIP_EV_INVITE, 0, 0, 5000, &inv));
	RL_CHECK(rl_sip_ringing(s, inv.call) == RL_OK);
	RL_CHECK(wait_ev(RL_SIP_EV_CANCEL, inv.call, 0, 5000, NULL));
	RL_CHECK(wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 5000, &ev));
	RL_CHECK(ev.status == 487);
	RL_CHECK(sipp_wait(pid, 30000) == 0);
	RL_CHECK(strcmp(rec_types(), "1,5,6") == 0);
	/* Too late for the node to answer: dropped, not a crash, not a 200. */
	RL_CHECK(rl_sip_answer(s, inv.call, "127.0.0.1", RTP_PORT, RL_SIP_PCMU, -1) == RL_OK);
}

/* Early media: 183 with our SDP, then the 200 with the same SDP (sipp compares them). The
 * node's ringing after the 183 is ignored (sipp fails on a 180 there), and a transfer asked
 * before the call is up is refused at once (REFER 491). */
static void early_media(struct rl_sip *s)
{
	struct rl_sip_event inv, ev;
	struct rl_sip_counters before, after;

	rec_reset();
	rl_sip_counters(s, &before);
	pid_t pid = sipp_start("uac_early", "u1", sip_port);
	RL_CHECK(wait_ev(RL_SIP_EV_INVITE, 0, 0, 5000, &inv));
	RL_CHECK(rl_sip_progress(s, inv.call, "127.0.0.1", RTP_PORT, inv.media.codec, inv.media.dtmf_pt) == RL_OK);
	RL_CHECK(rl_sip_ringing(s, inv.call) == RL_OK);
	RL_CHECK(rl_sip_refer(s, inv.call, "+212600000777") == RL_OK);
	RL_CHECK(wait_ev(RL_SIP_EV_REFER, inv.call, 0, 5000, &ev));
	RL_CHECK(ev.status == 491);
	RL_WAIT(10000, counters(s).early > before.early); /* the 183 is out: the caller hears the node */
	RL_CHECK(rl_sip_answer(s, inv.call, "127.0.0.1", RTP_PORT, inv.media.codec, inv.media.dtmf_pt) == RL_OK);
	RL_CHECK(wait_ev(RL_SIP_EV_ANSWERED, inv.call, 0, 5000, NULL));
	RL_CHECK(wait_ev(RL_SIP_EV_BYE, inv.call, 0, 5000, NULL));
	RL_CHECK(wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 5000, &ev));
	RL_CHECK(ev.status == 200);
	RL_CHECK(sipp_wait(pid, 30000) == 0);
	RL_CHECK(strcmp(rec_types(), "1,7,2,4,6") == 0);
	rl_sip_counters(s, &after);
	RL_CHECK(after.early == before.early + 1);
	RL_CHECK(after.answered == before.answered + 1);
	RL_CHECK(after.refer_failed == before.refer_failed + 1);
	RL_CHECK(after.refers == before.refers);
}

/* The caller hangs up during the early media: one CANCEL, one ENDED (487), nothing after. */
static void early_cancel(struct rl_sip *s)
{
	struct rl_sip_event inv, ev;

	rec_reset();
	pid_t pid = sipp_start("uac_early_cancel", "u1", sip_port);
	RL_CHECK(wait_ev(RL_SIP_EV_INVITE, 0, 0, 5000, &inv));
	RL_CHECK(rl_sip_progress(s, inv.call, "127.0.0.1", RTP_PORT, RL_SIP_PCMA, -1) == RL_OK);
	RL_CHECK(wait_ev(RL_SIP_EV_CANCEL, inv.call, 0, 5000, NULL));
	RL_CHECK(wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 5000, &ev));
	RL_CHECK(ev.status == 487);
	RL_CHECK(sipp_wait(pid, 30000) == 0);
	/* The node answers late: dropped, and still exactly one ENDED. */
	uint64_t dropped = counters(s).cmd_dropped;
	RL_CHECK(rl_sip_answer(s, inv.call, "127.0.0.1", RTP_PORT, RL_SIP_PCMA, -1) == RL_OK);
	RL_CHECK(rl_sip_hangup(s, inv.call) == RL_OK);
	RL_WAIT(10000, counters(s).cmd_dropped >= dropped + 2);
	RL_CHECK(count_ev(RL_SIP_EV_ENDED, inv.call) == 1);
	RL_CHECK(strcmp(rec_types(), "1,5,6") == 0);
}

/* Blind transfers against a carrier (sipp) that accepts, refuses, reports a busy target,
 * never reports, or reports success but keeps the call. */
static void transfer(struct rl_sip *s, const char *scen, const char *target, int want, const char *types)
{
	struct rl_sip_event inv, ev;
	struct rl_sip_counters before, after;
	int done = want == 200, bye_in = strcmp(scen, "uac_refer_ok") == 0;

	rec_reset();
	rl_sip_counters(s, &before);
	pid_t pid = sipp_start(scen, "u1", sip_port);
	RL_CHECK(node_answer(s, &inv));
	RL_CHECK(wait_ev(RL_SIP_EV_ANSWERED, inv.call, 0, 5000, NULL));
	RL_CHECK(rl_sip_refer(s, inv.call, target) == RL_OK);
	if (want != 403) {
		RL_CHECK(wait_ev(RL_SIP_EV_REFER, inv.call, 0, 5000, &ev));
		RL_CHECK(ev.status == 202);
	}
	/* The outcome: within the glue's bound (2 s here) for the timeout. */
	RL_CHECK(wait_ev(RL_SIP_EV_REFER, inv.call, want == 403 ? 0 : 1, 5000, &ev));
	RL_CHECK(ev.status == want);
	if (!done) {
		/* A failed transfer leaves the call up: nothing ends it until the node does. A quiet
		 * period, the time this check watches for an end that should not come. */
		rltest_sleep_ms(300);
		RL_CHECK(count_ev(RL_SIP_EV_ENDED, inv.call) == 0);
		RL_CHECK(rl_sip_hangup(s, inv.call) == RL_OK);
	}
	/* After success the carrier hangs up, or the glue does within about 4 s. */
	RL_CHECK(wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 8000, &ev));
	RL_CHECK(ev.status == 200);
	RL_CHECK(sipp_wait(pid, 30000) == 0);
	rltest_sleep_ms(200); /* a quiet period: no second ENDED comes after the carrier is done */
	RL_CHECK(count_ev(RL_SIP_EV_ENDED, inv.call) == 1);
	if (strcmp(rec_types(), types) != 0)
		fprintf(stderr, "%s: events %s, want %s\n", scen, rec_types(), types);
	RL_CHECK(strcmp(rec_types(), types) == 0);
	rl_sip_counters(s, &after);
	RL_CHECK(after.refers == before.refers + 1);
	RL_CHECK(after.refer_ok == before.refer_ok + (done ? 1 : 0));
	RL_CHECK(after.refer_failed == before.refer_failed + (done ? 0 : 1));
	RL_CHECK(after.byes_in == before.byes_in + (bye_in ? 1 : 0));
	RL_CHECK(after.byes_out == before.byes_out + (bye_in ? 0 : 1));
}

static void transfers(struct rl_sip *s)
{
	transfer(s, "uac_refer_ok", "+212600000777", 200, "1,2,7,7,4,6");
	transfer(s, "uac_refer_refused", "sip:queue-7@pbx.example.com;transport=tcp", 403, "1,2,7,6");
	transfer(s, "uac_refer_busy", "+212600000777", 486, "1,2,7,7,6");
	transfer(s, "uac_refer_timeout", "+212600000777", 408, "1,2,7,7,6");
	transfer(s, "uac_refer_nobye", "+212600000777", 200, "1,2,7,7,6");
}

static void draining(struct rl_sip *s)
{
	struct rl_sip_counters before, after;

	rec_reset();
	rl_sip_counters(s, &before);
	RL_CHECK(sipp_run("options_200", "u1", sip_port) == 0);
	rl_sip_set_drain(s, 100);
	RL_CHECK(sipp_run("invite_503", "u1", sip_port) == 0);
	RL_CHECK(sipp_run("options_503", "u1", sip_port) == 0);
	rl_sip_set_drain(s, 0);
	RL_CHECK(sipp_run("options_200", "u1", sip_port) == 0);
	RL_WAIT(10000, counters(s).options >= before.options + 3);
	rl_sip_counters(s, &after);
	RL_CHECK(after.refused_draining == before.refused_draining + 1);
	RL_CHECK(after.invites == before.invites + 1);
	RL_CHECK(after.options == before.options + 3);
	RL_CHECK(rec_count() == 0); /* refusals are counted, not reported */
}

static void node_hangup(struct rl_sip *s)
{
	struct rl_sip_event inv, ev;
	struct rl_sip_counters before, after;

	rec_reset();
	rl_sip_counters(s, &before);
	pid_t pid = sipp_start("uac_remote_bye", "u1", sip_port);
	RL_CHECK(node_answer(s, &inv));
	RL_CHECK(wait_ev(RL_SIP_EV_ANSWERED, inv.call, 0, 5000, NULL));
	RL_CHECK(rl_sip_hangup(s, inv.call) == RL_OK);
	RL_CHECK(wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 5000, &ev));
	RL_CHECK(sipp_wait(pid, 30000) == 0);
	RL_CHECK(strcmp(rec_types(), "1,2,6") == 0);
	rl_sip_counters(s, &after);
	RL_CHECK(after.byes_out == before.byes_out + 1);
	RL_CHECK(after.byes_in == before.byes_in);
}

static void hold_resume(struct rl_sip *s)
{
	struct rl_sip_event inv, r1, r2;

	rec_reset();
	pid_t pid = sipp_start("uac_reinvite", "u1", sip_port);
	RL_CHECK(node_answer(s, &inv));
	RL_CHECK(wait_ev(RL_SIP_EV_ANSWERED, inv.call, 0, 5000, NULL));
	RL_CHECK(wait_ev(RL_SIP_EV_REINVITE, inv.call, 0, 5000, &r1));
	RL_CHECK(r1.media.hold == 1);
	RL_CHECK(r1.media.dir == 1); /* sendonly */
	RL_CHECK(r1.media.port == media_port + 2);
	RL_CHECK(wait_ev(RL_SIP_EV_REINVITE, inv.call, 1, 5000, &r2));
	RL_CHECK(r2.media.hold == 0);
	RL_CHECK(r2.media.dir == 3);
	RL_CHECK(r2.media.port == media_port + 2);
	RL_CHECK(wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 5000, NULL));
	RL_CHECK(sipp_wait(pid, 30000) == 0);
	RL_CHECK(strcmp(rec_types(), "1,2,3,3,4,6") == 0);
}

static void offerless_reinvite(struct rl_sip *s)
{
	struct rl_sip_event inv, r;

	rec_reset();
	pid_t pid = sipp_start("uac_reinvite_offerless", "u1", sip_port);
	RL_CHECK(node_answer(s, &inv));
	RL_CHECK(wait_ev(RL_SIP_EV_ANSWERED, inv.call, 0, 5000, NULL));
	/* Reported once the ACK brings the answer to our offer. */
	RL_CHECK(wait_ev(RL_SIP_EV_REINVITE, inv.call, 0, 5000, &r));
	RL_CHECK(r.media.port == media_port + 4 && r.media.hold == 0);
	RL_CHECK(wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 5000, NULL));
	RL_CHECK(sipp_wait(pid, 30000) == 0);
	RL_CHECK(strcmp(rec_types(), "1,2,3,4,6") == 0);
}

static void no_codec(struct rl_sip *s)
{
	struct rl_sip_counters before, after;

	rec_reset();
	rl_sip_counters(s, &before);
	RL_CHECK(sipp_run("invite_488", "u1", sip_port) == 0);
	RL_WAIT(10000, counters(s).bad_sdp > before.bad_sdp);
	rl_sip_counters(s, &after);
	RL_CHECK(after.bad_sdp == before.bad_sdp + 1);
	RL_CHECK(rec_count() == 0);
}

/* ---- raw SIP over UDP/TCP, for garbage and for the call limit ------------------------------ */

static void send_udp(int port, const void *buf, size_t len)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0) {
		sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
	}
}

static void send_tcp(int port, const void *buf, size_t len)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		const char *p = buf;
		size_t off = 0;
		while (off < len) {
			ssize_t w = send(fd, p + off, len - off, MSG_NOSIGNAL);
			if (w <= 0)
				break; /* sofia closed on us: fine */
			off += (size_t)w;
		}
	}
	if (fd >= 0)
		close(fd);
}

/* A complete INVITE from 127.0.0.1:<via_port> (9 = nobody listens: responses are lost,
 * which is fine for most tests) with the given From user, Call-ID and SDP. */
static size_t make_invite_via(char *buf, size_t cap, int port, int via_port, const char *from_user, const char *callid,
                              const char *sdp)
{
	int n = snprintf(buf, cap,
	                 "INVITE sip:0522000999@127.0.0.1:%d SIP/2.0\r\n"
	                 "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s\r\n"
	                 "From: <sip:%s@127.0.0.1:%d>;tag=t-%s\r\n"
	                 "To: <sip:0522000999@127.0.0.1:%d>\r\n"
	                 "Call-ID: %s\r\n"
	                 "CSeq: 1 INVITE\r\n"
	                 "Contact: <sip:x@127.0.0.1:%d>\r\n"
	                 "Max-Forwards: 70\r\n"
	                 "Content-Type: application/sdp\r\n"
	                 "Content-Length: %zu\r\n\r\n%s",
	                 port, via_port, callid, from_user, via_port, callid, port, callid, via_port, strlen(sdp), sdp);
	return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

static size_t make_invite(char *buf, size_t cap, int port, const char *from_user, const char *callid, const char *sdp)
{
	return make_invite_via(buf, cap, port, 9, from_user, callid, sdp);
}

/* A UDP socket on 127.0.0.1 to send from and read responses on; its port in *port. */
static int udp_bound(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct timeval tv = {0, 200000};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Reads what arrived on fd (up to timeout_ms); 1 if a response starting with status came. */
static int udp_got_status(int fd, const char *status, int timeout_ms)
{
	char buf[4096];

	for (int waited = 0; waited < timeout_ms; waited += 200) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strncmp(buf, status, strlen(status)) == 0)
			return 1;
	}
	return 0;
}

static const char good_sdp[] = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                               "m=audio 4000 RTP/AVP 0\r\n";

static void garbage(struct rl_sip *s)
{
	static char big[70000];
	char buf[8192], user[300];
	struct rl_sip_counters before, after;
	struct rl_sip_event inv;
	unsigned seed = 12345;

	rec_reset();
	rl_sip_counters(s, &before);
	/* Random bytes of many sizes, over UDP and TCP. */
	for (int i = 0; i < 200; i++) {
		size_t len = 1 + (size_t)(rand_r(&seed) % 1500);
		for (size_t j = 0; j < len; j++)
			buf[j] = (char)rand_r(&seed);
		send_udp(sip_port, buf, len);
		/* Paced, so the kernel's socket buffer does not drop the INVITEs below. */
		if (i % 20 == 19)
			rltest_sleep_ms(5);
	}
	for (size_t j = 0; j < sizeof(big); j++)
		big[j] = (char)rand_r(&seed);
	send_udp(sip_port, big, 65000);
	send_tcp(sip_port, big, sizeof(big));
	/* A header block that never ends, over TCP: cut at sofia's message cap. */
	memcpy(big, "INVITE sip:x@127.0.0.1 SIP/2.0\r\nSubject: ", 41);
	memset(big + 41, 'a', sizeof(big) - 41);
	send_tcp(sip_port, big, sizeof(big));

	/* Truncated and malformed SIP. */
	size_t n = make_invite(buf, sizeof(buf), sip_port, "+1", "g1", good_sdp);
	for (size_t cut = 1; cut < n; cut += 37)
		send_udp(sip_port, buf, cut);
	const char *bad[] = {
	    "INVITE sip:x SIP/2.0\r\n\r\n",
	    "INVITE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9\r\nContent-Length: 99999\r\n\r\nv=0",
	    "INVITE sip:x@127.0.0.1 SIP/3.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKq\r\n\r\n",
	    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKr\r\nCSeq: 1 INVITE\r\n\r\n",
	    "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKs\r\nFrom: <<<>>>\r\n"
	    "To: <sip:a@b>\r\nCall-ID: q\r\nCSeq: x OPTIONS\r\n\r\n",
	    "BYE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKt\r\nFrom: <sip:a@b>;tag=1\r\n"
	    "To: <sip:x@y>;tag=2\r\nCall-ID: nope\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
	    "\r\n\r\n\r\n\r\n",
	    "\0\0\0\0INVITE",
	    /* NOTIFYs for transfers that do not exist, outside and inside a (made-up) dialog. */
	    "NOTIFY sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKn1\r\nFrom: <sip:a@b>;tag=1\r\n"
	    "To: <sip:x@y>\r\nCall-ID: notify-1\r\nCSeq: 1 NOTIFY\r\nEvent: refer\r\nSubscription-State: active\r\n"
	    "Content-Type: message/sipfrag\r\nContent-Length: 16\r\n\r\nSIP/2.0 200 OK\r\n",
	    "NOTIFY sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKn2\r\nFrom: <sip:a@b>;tag=1\r\n"
	    "To: <sip:x@y>;tag=2\r\nCall-ID: notify-2\r\nCSeq: 1 NOTIFY\r\nEvent: refer;id=7\r\n"
	    "Subscription-State: terminated\r\nContent-Type: message/sipfrag\r\nContent-Length: 8\r\n\r\nSIP/2.0 ",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		send_udp(sip_port, bad[i], strlen(bad[i]) ? strlen(bad[i]) : 10);

	/* Well-formed SIP carrying hostile SDP: each one is a 488, never a call. */
	const char *bad_sdp[] = {
	    "garbage",
	    "v=0\r\nm=audio 99999999 RTP/AVP 0\r\n",
	    "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 carrier.example.com\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
	    "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 224.1.1.1/16\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
	    "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
	    "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n",
	    "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n",
	};
	for (size_t i = 0; i < sizeof(bad_sdp) / sizeof(bad_sdp[0]); i++) {
		char id[16];
		snprintf(id, sizeof(id), "gs%zu", i);
		n = make_invite(buf, sizeof(buf), sip_port, "+1", id, bad_sdp[i]);
		send_udp(sip_port, buf, n);
	}
	RL_WAIT(20000, counters(s).bad_sdp >= before.bad_sdp + sizeof(bad_sdp) / sizeof(bad_sdp[0]));

	/* A valid call with an absurd caller: reported, cut to the array, then refused. */
	memset(user, '7', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	n = make_invite(buf, sizeof(buf), sip_port, user, "long-from", good_sdp);
	int got = 0;
	for (int i = 0; i < 5 && !got; i++) {
		send_udp(sip_port, buf, n); /* a retransmission is absorbed by sofia */
		got = wait_ev(RL_SIP_EV_INVITE, 0, 0, 1000, &inv);
	}
	RL_CHECK(got);
	RL_CHECK(strlen(inv.caller) == RL_SIP_NUM_MAX - 1);
	RL_CHECK(strcmp(inv.call_id, "long-from") == 0);
	RL_CHECK(rl_sip_reject(s, inv.call, 486, "Busy \r\nX-Injected: 1", 0) == RL_OK);
	RL_CHECK(wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 5000, &inv));
	RL_CHECK(inv.status == 486);

	rl_sip_counters(s, &after);
	RL_CHECK(after.bad_sdp >= before.bad_sdp + sizeof(bad_sdp) / sizeof(bad_sdp[0]));
	RL_CHECK(after.rejected == before.rejected + 1);
	RL_CHECK(strcmp(rec_types(), "1,6") == 0);

	/* And the endpoint still takes a normal call. */
	answered_call(s, "u1");
}

/* The call limit and the trunk allow-list, each on an instance of its own. */
static void limits(void)
{
	struct rl_sip_conf conf;
	struct rl_sip *s2;
	struct rl_sip_counters c;
	struct rl_sip_event inv;
	const char *trunks[] = {"127.0.0.2", NULL};
	char listen[64], buf[4096];
	int port = rltest_free_port();

	memset(&conf, 0, sizeof(conf));
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	conf.listen = listen;
	conf.fn = on_event;
	conf.trunks = trunks;
	RL_REQUIRE(rl_sip_open(&s2, &conf) == RL_OK);
	rec_reset();
	RL_CHECK(sipp_run("invite_403", "u1", port) == 0);
	RL_WAIT(10000, counters(s2).refused_trunk >= 1);
	rl_sip_counters(s2, &c);
	RL_CHECK(c.refused_trunk == 1 && c.invites == 1);
	RL_CHECK(rec_count() == 0);
	rl_sip_close(s2);

	port = rltest_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	conf.trunks = NULL;
	conf.max_calls = 1;
	conf.retry_after_s = 5;
	RL_REQUIRE(rl_sip_open(&s2, &conf) == RL_OK);
	rec_reset();
	int uport, ufd = udp_bound(&uport);
	RL_REQUIRE(ufd >= 0);
	size_t n = make_invite_via(buf, sizeof(buf), port, uport, "+1", "full-1", good_sdp);
	struct sockaddr_in to;
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons((uint16_t)port);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sendto(ufd, buf, n, 0, (struct sockaddr *)&to, sizeof(to));
	RL_CHECK(wait_ev(RL_SIP_EV_INVITE, 0, 0, 5000, &inv));
	n = make_invite(buf, sizeof(buf), port, "+2", "full-2", good_sdp);
	send_udp(port, buf, n);
	RL_WAIT(10000, counters(s2).refused_full >= 1);
	rl_sip_counters(s2, &c);
	RL_CHECK(c.invites == 2 && c.refused_full == 1);
	RL_CHECK(rec_count() == 1);
	/* Closing with a call still ringing: it gets 503 (not sofia's 410), and no callback
	 * starts after close. */
	rl_sip_close(s2);
	RL_CHECK(rec_count() == 1);
	RL_CHECK(udp_got_status(ufd, "SIP/2.0 503", 2000));
	close(ufd);
}

/* ---- TLS ---------------------------------------------------------------------------------- */

static pid_t kam_pid; /* kamailio, the TLS-speaking SBC, while it runs */
static char kam_log[600];

static void kam_stop(void)
{
	if (kam_pid > 0)
		rltest_stop(kam_pid, SIGTERM, 5000);
	kam_pid = 0;
}

/* Writes the kamailio config from tests/sip/kamailio_tls.cfg.in, @NAME@ -> value. */
static int kam_conf(const char *out_path, const char *const *subst)
{
	FILE *in = fopen(rltest_src("tests/sip/kamailio_tls.cfg.in"), "r");
	FILE *out = fopen(out_path, "w");
	char line[1024];

	if (in == NULL || out == NULL) {
		if (in)
			fclose(in);
		if (out)
			fclose(out);
		return 0;
	}
	while (fgets(line, sizeof(line), in) != NULL) {
		char *at;
		while ((at = strchr(line, '@')) != NULL) {
			char rest[1024];
			size_t i;
			for (i = 0; subst[i] != NULL; i += 2)
				if (strncmp(at + 1, subst[i], strlen(subst[i])) == 0 && at[1 + strlen(subst[i])] == '@')
					break;
			if (subst[i] == NULL)
				break;
			snprintf(rest, sizeof(rest), "%s", at + 2 + strlen(subst[i]));
			snprintf(at, sizeof(line) - (size_t)(at - line), "%s%s", subst[i + 1], rest);
		}
		fputs(line, out);
	}
	fclose(in);
	fclose(out);
	return 1;
}

/* 1 once kamailio's log has the line, 0 after timeout_ms (or if kamailio exited). */
static int kam_wait_log(const char *needle, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 50) {
		FILE *f = fopen(kam_log, "r");
		char line[1024];
		int found = 0;
		while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL)
			found = strstr(line, needle) != NULL;
		if (f != NULL)
			fclose(f);
		if (found)
			return 1;
		if (waitpid(kam_pid, NULL, WNOHANG) == kam_pid) {
			kam_pid = 0;
			return 0;
		}
		rltest_sleep_ms(50);
	}
	return 0;
}

/* A plain TCP client on the TLS port: sofia's handshake fails, the connection is closed, it
 * is counted, and nothing reaches the node. 1 if the connection was closed in time. */
static int plain_on_tls(int port)
{
	struct sockaddr_in sa;
	struct timeval tv = {3, 0};
	char buf[2048];
	int fd = socket(AF_INET, SOCK_STREAM, 0), closed = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		size_t n = make_invite(buf, sizeof(buf), port, "+1", "plain-on-tls", good_sdp);
		if (send(fd, buf, n, MSG_NOSIGNAL) == (ssize_t)n) {
			/* Whatever comes back is no SIP; the end is what counts. */
			for (int i = 0; i < 10; i++) {
				ssize_t r = recv(fd, buf, sizeof(buf), 0);
				if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
					closed = 1;
					break;
				}
				if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
					break; /* 3 s and still open */
			}
		}
	}
	close(fd);
	return closed;
}

static void tls_tests(void)
{
	struct rl_sip_conf conf;
	struct rl_sip *t = NULL, *x = NULL;
	struct rl_sip_counters c;
	struct rl_sip_event inv, ev;
	char certs[512], sdir[512], bad[512], cmd[4096], listen[64], cfg[600], rundir[600], pidf[700];
	char cert[600], key[600], ca[600], udp_s[16], tls_s[16], node_s[16];
	const char *kam = getenv("KAMAILIO") && getenv("KAMAILIO")[0] ? getenv("KAMAILIO") : "/usr/sbin/kamailio";
	int port = rltest_free_port(), tls_port = rltest_free_port();

	if (access(kam, X_OK) != 0)
		fprintf(stderr, "kamailio not found at %s (Debian: apt-get install kamailio kamailio-tls-modules)\n",
		        kam);
	RL_REQUIRE(access(kam, X_OK) == 0);

	/* The node's certificate from deploy/mkcerts.sh, laid out as sofia wants it: agent.pem
	 * is the key then the certificate, cafile.pem the CA. */
	snprintf(certs, sizeof(certs), "%s/certs", tmp);
	snprintf(sdir, sizeof(sdir), "%s/sofia-tls", tmp);
	snprintf(cmd, sizeof(cmd),
	         "sh %s %s sip && mkdir -p %s && cat %s/node-sip.key %s/node-sip.pem > %s/agent.pem && "
	         "cp %s/ca.pem %s/cafile.pem",
	         rltest_src("deploy/mkcerts.sh"), certs, sdir, certs, certs, sdir, certs, sdir);
	RL_REQUIRE(rltest_run(cmd, NULL) == 0);

	/* Configurations that cannot work are refused at open. */
	memset(&conf, 0, sizeof(conf));
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	conf.listen = listen;
	conf.fn = on_event;
	conf.tls_port = (uint16_t)tls_port;
	RL_CHECK(rl_sip_open(&x, &conf) == RL_EINVAL && x == NULL); /* no directory */
	conf.tls_dir = sdir;
	conf.tls_port = (uint16_t)port;
	RL_CHECK(rl_sip_open(&x, &conf) == RL_EINVAL); /* the TCP port again */
	conf.tls_port = (uint16_t)tls_port;
	conf.tls_dir = certs; /* no agent.pem there */
	RL_CHECK(rl_sip_open(&x, &conf) == RL_ECONFIG && x == NULL);
	snprintf(bad, sizeof(bad), "%s/sofia-bad", tmp);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && echo 'not a certificate' > %s/agent.pem", bad, bad);
	RL_REQUIRE(rltest_run(cmd, NULL) == 0);
	conf.tls_dir = bad; /* sofia cannot load it */
	RL_CHECK(rl_sip_open(&x, &conf) == RL_ECONFIG && x == NULL);

	conf.tls_dir = sdir;
	int orv = RL_ENET;
	for (int attempt = 0; attempt < 10 && orv == RL_ENET; attempt++) {
		port = rltest_free_port();
		tls_port = rltest_free_port();
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
		conf.tls_port = (uint16_t)tls_port;
		orv = port != tls_port ? rl_sip_open(&t, &conf) : RL_ENET;
	}
	RL_REQUIRE(orv == RL_OK);

	/* Plain TCP on the TLS port fails cleanly and is counted. */
	rec_reset();
	RL_CHECK(plain_on_tls(tls_port));
	RL_WAIT(10000, counters(t).tls_failed >= 1);
	rl_sip_counters(t, &c);
	RL_CHECK(c.tls_failed == 1);
	RL_CHECK(c.invites == 0 && rec_count() == 0);

	/* A request over plain TCP whose Via claims TLS: sofia drops it (its Via check), so the
	 * tls flag of an event cannot be claimed. */
	char fake[2048];
	int fn =
	    snprintf(fake, sizeof(fake),
	             "INVITE sip:0522000999@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bK-ft\r\n"
	             "From: <sip:+1@127.0.0.1>;tag=ft\r\nTo: <sip:0522000999@127.0.0.1>\r\nCall-ID: fake-tls\r\n"
	             "CSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.1:9>\r\nMax-Forwards: 70\r\n"
	             "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
	             port, strlen(good_sdp), good_sdp);
	send_tcp(port, fake, (size_t)fn);
	rltest_sleep_ms(300); /* a quiet period: the glue neither counts nor reports what sofia drops */
	rl_sip_counters(t, &c);
	RL_CHECK(c.invites == 0 && rec_count() == 0);

	/* kamailio between sipp (UDP) and the node (TLS). A port taken since we looked makes it
	 * exit at once: then again on others. */
	int kam_udp = 0, started = 0;
	snprintf(cert, sizeof(cert), "%s/hub.pem", certs);
	snprintf(key, sizeof(key), "%s/hub.key", certs);
	snprintf(ca, sizeof(ca), "%s/ca.pem", certs);
	snprintf(node_s, sizeof(node_s), "%d", tls_port);
	snprintf(cfg, sizeof(cfg), "%s/kamailio_tls.cfg", tmp);
	snprintf(rundir, sizeof(rundir), "%s/kamailio-run", tmp);
	snprintf(pidf, sizeof(pidf), "%s/kamailio.pid", rundir);
	RL_REQUIRE(mkdir(rundir, 0700) == 0);
	atexit(kam_stop);
	for (int attempt = 0; attempt < 3 && !started; attempt++) {
		kam_udp = rltest_free_port();
		snprintf(udp_s, sizeof(udp_s), "%d", kam_udp);
		snprintf(tls_s, sizeof(tls_s), "%d", rltest_free_port());
		const char *subst[] = {"UDP_PORT", udp_s,  "TLS_PORT", tls_s, "NODE_TLS_PORT",
		                       node_s,     "CERT", cert,       "KEY", key,
		                       "CA",       ca,     NULL};
		snprintf(kam_log, sizeof(kam_log), "%s/kamailio-%d.log", tmp, attempt);
		RL_REQUIRE(kam_conf(cfg, subst));
		char *argv[] = {(char *)kam, "-DD", "-E", "-m", "32",   "-M", "8", "-Y",
		                rundir,      "-P",  pidf, "-w", rundir, "-f", cfg, NULL};
		kam_pid = rltest_spawn(argv, kam_log);
		started = kam_wait_log("tls-sbc ready", 10000);
		if (!started) {
			fprintf(stderr, "kamailio did not start, see %s\n", kam_log);
			kam_stop();
		}
	}
	RL_REQUIRE(started);

	/* A call over TLS: answered, the caller hangs up. */
	rec_reset();
	pid_t pid = sipp_start("uac_answer", "u1", kam_udp);
	RL_CHECK(node_answer(t, &inv));
	RL_CHECK(inv.tls == 1 && inv.tcp == 1);
	RL_CHECK(strcmp(inv.src_ip, "127.0.0.1") == 0);
	RL_CHECK(strcmp(inv.caller, "+212522000111") == 0 && strcmp(inv.dialled, "0522000999") == 0);
	RL_CHECK(inv.media.port == media_port);
	RL_CHECK(wait_ev(RL_SIP_EV_ANSWERED, inv.call, 0, 5000, NULL));
	RL_CHECK(wait_ev(RL_SIP_EV_BYE, inv.call, 0, 5000, NULL));
	RL_CHECK(wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 5000, &ev));
	RL_CHECK(ev.status == 200);
	RL_CHECK(sipp_wait(pid, 30000) == 0);
	RL_CHECK(strcmp(rec_types(), "1,2,4,6") == 0);
	RL_CHECK(kam_wait_log("tls-sbc in-dialog BYE", 1000));

	/* And one the node hangs up: our BYE goes back over TLS along the recorded route. */
	rec_reset();
	pid = sipp_start("uac_remote_bye", "u1", kam_udp);
	RL_CHECK(node_answer(t, &inv));
	RL_CHECK(inv.tls == 1);
	RL_CHECK(wait_ev(RL_SIP_EV_ANSWERED, inv.call, 0, 5000, NULL));
	RL_CHECK(rl_sip_hangup(t, inv.call) == RL_OK);
	RL_CHECK(wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 5000, &ev));
	RL_CHECK(sipp_wait(pid, 30000) == 0);
	RL_CHECK(strcmp(rec_types(), "1,2,6") == 0);

	/* Plain UDP still works on the same instance, and says so. */
	rec_reset();
	pid = sipp_start("uac_answer", "u1", port);
	RL_CHECK(node_answer(t, &inv));
	RL_CHECK(inv.tls == 0 && inv.tcp == 0);
	RL_CHECK(wait_ev(RL_SIP_EV_ENDED, inv.call, 0, 8000, NULL));
	RL_CHECK(sipp_wait(pid, 30000) == 0);

	rl_sip_counters(t, &c);
	RL_CHECK(c.tls_failed == 1); /* kamailio's handshakes went through */
	RL_CHECK(c.answered == 3 && c.byes_in == 2 && c.byes_out == 1);
	kam_stop();
	rl_sip_close(t);
}

static void sdp_unit(void)
{
	struct rl_sip_offer o;
	struct rl_sip_local l;
	char ans[1024];
	static char huge[20000];

	const char *av = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	                 "m=video 5000 RTP/AVP 31\r\n"
	                 "m=audio 4000 RTP/AVP 18 96 8 97\r\na=rtpmap:96 opus/48000/2\r\n"
	                 "a=rtpmap:97 telephone-event/8000\r\na=ptime:30\r\na=inactive\r\n";
	RL_CHECK(rl_sip_sdp_offer(&o, av, strlen(av), RL_SIP_PCMU | RL_SIP_PCMA) == RL_OK);
	RL_CHECK(o.n_streams == 2 && o.audio == 1);
	RL_CHECK(o.media.codec == RL_SIP_PCMA && o.media.pt == 8);
	RL_CHECK(o.media.offered == (RL_SIP_OPUS | RL_SIP_PCMA));
	RL_CHECK(o.media.pt_opus == 96 && o.media.pt_pcmu == -1 && o.media.dtmf_pt == 97);
	RL_CHECK(o.media.hold == 1 && o.media.dir == 0 && o.media.ptime == 30);
	RL_CHECK(strcmp(o.media.ip, "10.0.0.1") == 0 && o.media.port == 4000);
	/* Opus first when it is accepted. */
	RL_CHECK(rl_sip_sdp_offer(&o, av, strlen(av), RL_SIP_PCMA | RL_SIP_OPUS) == RL_OK);
	RL_CHECK(o.media.codec == RL_SIP_OPUS && o.media.pt == 96);
	memset(&l, 0, sizeof(l));
	snprintf(l.ip, sizeof(l.ip), "192.0.2.7");
	l.port = 30000;
	l.codec = RL_SIP_OPUS;
	l.dtmf_pt = 97;
	l.sess_id = 42;
	l.version = 1;
	RL_CHECK(rl_sip_sdp_answer(ans, sizeof(ans), &o, &l) > 0);
	RL_CHECK(strstr(ans, "m=video 0 RTP/AVP 31\r\nm=audio 30000 RTP/AVP 96 97\r\n") != NULL);
	RL_CHECK(strstr(ans, "a=rtpmap:96 opus/48000/2\r\n") != NULL);
	RL_CHECK(strstr(ans, "a=fmtp:97 0-16\r\n") != NULL);
	RL_CHECK(strstr(ans, "a=inactive\r\n") != NULL);
	RL_CHECK(strstr(ans, "c=IN IP4 192.0.2.7\r\n") != NULL);
	l.codec = RL_SIP_PCMU; /* not offered */
	RL_CHECK(rl_sip_sdp_answer(ans, sizeof(ans), &o, &l) == -RL_EINVAL);
	l.codec = RL_SIP_PCMA;
	RL_CHECK(rl_sip_sdp_answer(ans, 64, &o, &l) == -RL_ETOOBIG);
	snprintf(l.ip, sizeof(l.ip), "not-an-ip");
	RL_CHECK(rl_sip_sdp_answer(ans, sizeof(ans), &o, &l) == -RL_EINVAL);

	/* IPv6, recvonly offer -> sendonly answer, static PT without rtpmap. */
	const char *v6 = "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0\r\n"
	                 "c=IN IP6 2001:db8::1\r\na=recvonly\r\n";
	RL_CHECK(rl_sip_sdp_offer(&o, v6, strlen(v6), 0xff) == RL_OK);
	RL_CHECK(strcmp(o.media.ip, "2001:db8::1") == 0 && o.media.codec == RL_SIP_PCMU && o.media.dtmf_pt == -1);
	snprintf(l.ip, sizeof(l.ip), "2001:db8::2");
	l.codec = RL_SIP_PCMU;
	RL_CHECK(rl_sip_sdp_answer(ans, sizeof(ans), &o, &l) > 0);
	RL_CHECK(strstr(ans, "a=sendonly\r\n") != NULL && strstr(ans, "c=IN IP6 2001:db8::2\r\n") != NULL);
	RL_CHECK(strstr(ans, "telephone-event") == NULL); /* not offered: not answered */

	/* telephone-event/48000 next to Opus (RFC 4733: the audio's clock), answered at 48000;
	 * /8000 is preferred when both are offered; a G.711 call takes no /48000 events. */
	const char *ev48 = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	                   "m=audio 4000 RTP/AVP 111 0 110\r\na=rtpmap:111 opus/48000/2\r\n"
	                   "a=rtpmap:110 telephone-event/48000\r\n";
	RL_CHECK(rl_sip_sdp_offer(&o, ev48, strlen(ev48), RL_SIP_OPUS | RL_SIP_PCMU) == RL_OK);
	RL_CHECK(o.media.codec == RL_SIP_OPUS && o.media.dtmf_pt == 110 && o.media.dtmf_rate == 48000);
	snprintf(l.ip, sizeof(l.ip), "192.0.2.7");
	l.codec = RL_SIP_OPUS;
	l.dtmf_pt = 110;
	RL_CHECK(rl_sip_sdp_answer(ans, sizeof(ans), &o, &l) > 0);
	RL_CHECK(strstr(ans, "a=rtpmap:110 telephone-event/48000\r\n") != NULL);
	RL_CHECK(rl_sip_sdp_offer(&o, ev48, strlen(ev48), RL_SIP_PCMU) == RL_OK);
	RL_CHECK(o.media.codec == RL_SIP_PCMU && o.media.dtmf_pt == -1 && o.media.dtmf_rate == 0);
	const char *both = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	                   "m=audio 4000 RTP/AVP 111 110 126\r\na=rtpmap:111 opus/48000/2\r\n"
	                   "a=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n";
	RL_CHECK(rl_sip_sdp_offer(&o, both, strlen(both), RL_SIP_OPUS) == RL_OK);
	RL_CHECK(o.media.dtmf_pt == 126 && o.media.dtmf_rate == 8000);
	/* Payload types 64..95 (RTCP's range) are passed over: here PCMA on 8 is taken. */
	const char *rtcpish = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	                      "m=audio 4000 RTP/AVP 72 8\r\na=rtpmap:72 PCMU/8000\r\n";
	RL_CHECK(rl_sip_sdp_offer(&o, rtcpish, strlen(rtcpish), RL_SIP_PCMU | RL_SIP_PCMA) == RL_OK);
	RL_CHECK(o.media.codec == RL_SIP_PCMA && o.media.pt == 8);

	/* Hostile offers. */
	const char *g729 =
	    "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\n";
	RL_CHECK(rl_sip_sdp_offer(&o, g729, strlen(g729), RL_SIP_PCMU) == RL_ENOENT);
	RL_CHECK(o.n_streams == 0 && o.media.codec == 0);
	RL_CHECK(rl_sip_sdp_offer(&o, "", 0, RL_SIP_PCMU) == RL_EPROTO);
	RL_CHECK(rl_sip_sdp_offer(&o, NULL, 10, RL_SIP_PCMU) == RL_EPROTO);
	RL_CHECK(rl_sip_sdp_offer(&o, "\x01\x02\xff", 3, RL_SIP_PCMU) == RL_EPROTO);
	memset(huge, 'a', sizeof(huge));
	RL_CHECK(rl_sip_sdp_offer(&o, huge, sizeof(huge), RL_SIP_PCMU) == RL_ETOOBIG);
	char many[2048];
	size_t n = (size_t)snprintf(many, sizeof(many),
	                            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n");
	for (int i = 0; i < RL_SIP_STREAMS_MAX + 1; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "m=audio %d RTP/AVP 0\r\n", 4000 + 2 * i);
	RL_CHECK(rl_sip_sdp_offer(&o, many, n, RL_SIP_PCMU) == RL_ETOOBIG);
	/* Tokens echoed into the answer keep only token characters. */
	const char *odd = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
	                  "m=te\"xt 9 TCP/<x> a\"b\r\nm=audio 4000 RTP/AVP 0\r\n";
	if (rl_sip_sdp_offer(&o, odd, strlen(odd), RL_SIP_PCMU) == RL_OK) {
		snprintf(l.ip, sizeof(l.ip), "192.0.2.7");
		RL_CHECK(rl_sip_sdp_answer(ans, sizeof(ans), &o, &l) > 0);
		RL_CHECK(strchr(ans, '"') == NULL && strchr(ans, '<') == NULL);
	}
	RL_CHECK(strcmp(rl_sip_codec_name(RL_SIP_PCMA), "PCMA") == 0);
	RL_CHECK(strcmp(rl_sip_codec_name(99), "none") == 0);
}

static void api_checks(struct rl_sip *s)
{
	struct rl_sip_conf conf;
	struct rl_sip *x = NULL;
	struct rl_sip_counters before, after;
	char listen[64];
	const char *bad_trunks[] = {"127.0.0.1", "not-an-ip", NULL};

	RL_CHECK(rl_sip_answer(s, 1, "localhost", RTP_PORT, RL_SIP_PCMU, -1) == RL_EINVAL);
	RL_CHECK(rl_sip_answer(s, 1, "127.0.0.1", 0, RL_SIP_PCMU, -1) == RL_EINVAL);
	RL_CHECK(rl_sip_answer(s, 1, "127.0.0.1", RTP_PORT, RL_SIP_PCMU | RL_SIP_PCMA, -1) == RL_EINVAL);
	RL_CHECK(rl_sip_answer(s, 1, "127.0.0.1", RTP_PORT, RL_SIP_PCMU, 128) == RL_EINVAL);
	RL_CHECK(rl_sip_answer(s, 1, NULL, RTP_PORT, RL_SIP_PCMU, -1) == RL_EINVAL);
	RL_CHECK(rl_sip_reject(s, 1, 200, NULL, 0) == RL_EINVAL);
	RL_CHECK(rl_sip_reject(s, 1, 700, NULL, 0) == RL_EINVAL);
	/* The 183 takes what the 200 takes. */
	RL_CHECK(rl_sip_progress(s, 1, "localhost", RTP_PORT, RL_SIP_PCMU, -1) == RL_EINVAL);
	RL_CHECK(rl_sip_progress(s, 1, "127.0.0.1", 0, RL_SIP_PCMU, -1) == RL_EINVAL);
	RL_CHECK(rl_sip_progress(s, 1, "127.0.0.1", RTP_PORT, 0, -1) == RL_EINVAL);
	RL_CHECK(rl_sip_progress(s, 1, "127.0.0.1", RTP_PORT, RL_SIP_PCMU, 128) == RL_EINVAL);
	RL_CHECK(rl_sip_progress(s, 1, NULL, RTP_PORT, RL_SIP_PCMU, -1) == RL_EINVAL);
	/* Transfer targets: a SIP URI or a number, nothing else. */
	char longuri[RL_SIP_URI_MAX + 8];
	memset(longuri, 'a', sizeof(longuri) - 1);
	longuri[sizeof(longuri) - 1] = '\0';
	memcpy(longuri, "sip:", 4);
	const char *bad_targets[] = {"",          "alice",     "12 34",          "+",      "1+2",  "tel:+1234", "sip:",
	                             "sip:a b@c", "sip:<x>@c", "sips:a\r\nX: y", "0600\n", longuri};
	RL_CHECK(rl_sip_refer(s, 1, NULL) == RL_EINVAL);
	for (size_t i = 0; i < sizeof(bad_targets) / sizeof(bad_targets[0]); i++)
		RL_CHECK(rl_sip_refer(s, 1, bad_targets[i]) == RL_EINVAL);

	/* Commands for calls that do not exist are dropped and counted. */
	rl_sip_counters(s, &before);
	RL_CHECK(rl_sip_ringing(s, 987654) == RL_OK);
	RL_CHECK(rl_sip_hangup(s, 0) == RL_OK);
	RL_CHECK(rl_sip_progress(s, 987654, "127.0.0.1", RTP_PORT, RL_SIP_PCMU, -1) == RL_OK);
	RL_CHECK(rl_sip_refer(s, 987654, "*72#") == RL_OK);
	RL_CHECK(rl_sip_refer(s, 987654, "sips:agent@192.0.2.9:5061") == RL_OK);
	RL_WAIT(10000, counters(s).cmd_dropped >= before.cmd_dropped + 5);
	rl_sip_counters(s, &after);
	RL_CHECK(after.cmd_dropped == before.cmd_dropped + 5);
	RL_CHECK(after.refers == before.refers && after.refer_failed == before.refer_failed);

	memset(&conf, 0, sizeof(conf));
	conf.fn = on_event;
	conf.listen = "nonsense";
	RL_CHECK(rl_sip_open(&x, &conf) == RL_EINVAL && x == NULL);
	conf.listen = "127.0.0.1:0";
	RL_CHECK(rl_sip_open(&x, &conf) == RL_EINVAL);
	conf.listen = "127.0.0.1:70000";
	RL_CHECK(rl_sip_open(&x, &conf) == RL_EINVAL);
	conf.listen = "[::1:5060";
	RL_CHECK(rl_sip_open(&x, &conf) == RL_EINVAL);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", rltest_free_port());
	conf.listen = listen;
	conf.trunks = bad_trunks;
	RL_CHECK(rl_sip_open(&x, &conf) == RL_EINVAL);
	conf.trunks = NULL;
	conf.fn = NULL;
	RL_CHECK(rl_sip_open(&x, &conf) == RL_EINVAL);
	/* The port the main instance holds. */
	conf.fn = on_event;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", sip_port);
	RL_CHECK(rl_sip_open(&x, &conf) == RL_ENET && x == NULL);
	rl_sip_close(NULL);
}

int main(void)
{
	struct rl_sip_conf conf;
	struct rl_sip_counters c;
	struct rl_sip *s = NULL;
	char listen[64];
	/* The allow-list is on for every call below: 127.0.0.1 is in it. */
	const char *trunks[] = {"192.0.2.1", "127.0.0.1", NULL};

	signal(SIGPIPE, SIG_IGN);
	rl_log_init("test_sip", getenv("RELAIS_LOG") ? rl_log_parse_level(getenv("RELAIS_LOG")) : RL_LOG_NOTICE);
	tmp = rltest_tmpdir("sip");
	const char *sipp = getenv("SIPP") && getenv("SIPP")[0] ? getenv("SIPP") : "/usr/bin/sipp";
	if (access(sipp, X_OK) != 0)
		fprintf(stderr, "sipp not found at %s (Debian: apt-get install sip-tester)\n", sipp);
	RL_REQUIRE(access(sipp, X_OK) == 0);

	sdp_unit();

	memset(&conf, 0, sizeof(conf));
	conf.listen = listen;
	conf.retry_after_s = 30;
	conf.trunks = trunks;
	conf.fn = on_event;
	conf.refer_timeout_s = 2; /* so that the no-NOTIFY transfer fails quickly */
	/* A port free for TCP a moment ago may be taken for UDP by another process: try again. */
	int orv = RL_ENET;
	for (int attempt = 0; attempt < 10 && orv == RL_ENET; attempt++) {
		sip_port = rltest_free_port();
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", sip_port);
		orv = rl_sip_open(&s, &conf);
	}
	RL_REQUIRE(orv == RL_OK);

	api_checks(s);
	answered_call(s, "u1");
	answered_call(s, "t1");
	cancel_call(s);
	early_media(s);
	early_cancel(s);
	transfers(s);
	draining(s);
	node_hangup(s);
	hold_resume(s);
	offerless_reinvite(s);
	no_codec(s);
	garbage(s);
	limits();
	tls_tests();

	rl_sip_counters(s, &c);
	RL_CHECK(c.answered == 12);
	RL_CHECK(c.byes_in == 7);
	RL_CHECK(c.byes_out == 5);
	RL_CHECK(c.cancels == 2);
	RL_CHECK(c.early == 2);
	RL_CHECK(c.refers == 5 && c.refer_ok == 2 && c.refer_failed == 4);
	RL_CHECK(c.reinvites == 3);
	RL_CHECK(c.refused_trunk == 0);
	rl_sip_close(s);
	printf("sipp logs in %s\n", tmp);
	return rltest_done();
}
