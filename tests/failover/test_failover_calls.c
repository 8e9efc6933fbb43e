/*
 * The failover cases' carrier call (fc_scenario_write) against a site that answers in orders
 * the call's steps do not expect - a sipp of its own on loopback playing the site, one call a
 * case. Each call must still end with an outcome in its log: a call sipp drops (an
 * "unexpected" message) has none, and test_failover then fails with "no outcome" for the
 * carrier's sake, not the cluster's. The orders are those a site that wakes from a stall may
 * send: its BYE right behind its 200 (the hub ended the contact while it was frozen), a
 * provisional answer after the 200, a BYE to a caller who has given up.
 *
 * Needs sipp (Debian's sip-tester); without it the test fails and says so.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fcluster.h"
#include "fledger.h"
#include "rltest.h"

#define PATIENCE_MS 1000
#define BYE_MS      2000

static const char *sipp;
static const char *dir;

/* The site's answers: status to the INVITE (its headers from it), a BYE, and waits. */
static const char site_answer[] = "<send><![CDATA[\nSIP/2.0 %d %s\n[last_Via:]\n[last_From:]\n"
                                  "[last_To:];tag=[pid]S[call_number]\n[last_Call-ID:]\n[last_CSeq:]\n"
                                  "Contact: <sip:site@[local_ip]:[local_port]>\nContent-Length: 0\n]]></send>\n";
static const char site_bye[] = "<send><![CDATA[\nBYE sip:caller@[remote_ip]:[remote_port] SIP/2.0\n"
                               "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
                               "From: <sip:site@[local_ip]>;tag=[pid]S[call_number]\nTo: <sip:caller@[remote_ip]>\n"
                               "Call-ID: [call_id]\nCSeq: 2 BYE\nMax-Forwards: 70\nContent-Length: 0\n]]></send>\n";

enum step { RING, ANSWER, RING_AGAIN, BYE, WAIT_ACK, MAYBE_ACK, WAIT_OK, PAUSE_PAST_PATIENCE, END };

static void site_write(const char *path, const enum step *steps)
{
	FILE *f = fopen(path, "w");

	RL_REQUIRE(f != NULL);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"site\">\n"
	           "<recv request=\"INVITE\" crlf=\"true\"/>\n");
	for (; *steps != END; steps++) {
		switch (*steps) {
		case RING:
		case RING_AGAIN:
			fprintf(f, site_answer, 180, "Ringing");
			break;
		case ANSWER:
			fprintf(f, site_answer, 200, "OK");
			break;
		case BYE:
			fprintf(f, "%s", site_bye);
			break;
		case WAIT_ACK:
			fprintf(f, "<recv request=\"ACK\"/>\n");
			break;
		case MAYBE_ACK:
			fprintf(f, "<recv request=\"ACK\" optional=\"true\"/>\n");
			break;
		case WAIT_OK:
			fprintf(f, "<recv response=\"200\"/>\n");
			break;
		case PAUSE_PAST_PATIENCE: /* (the caller's CANCEL meanwhile: ignored, -pause_msg_ign) */
			fprintf(f, "<pause milliseconds=\"%d\"/>\n", PATIENCE_MS + 500);
			break;
		case END:
			break;
		}
	}
	/* The site's own sipp takes the caller's ACK between two of its sends as unexpected too,
	 * and a CANCEL it left unanswered: taken, and back to the send. */
	fprintf(
	    f,
	    "<nop next=\"siteend\"/>\n<label id=\"_unexp.main\"/>\n"
	    "<recv request=\"CANCEL\" optional=\"true\" next=\"siteback\"/>\n<recv request=\"ACK\" next=\"siteback\"/>\n"
	    "<label id=\"siteback\"/>\n<nop><action><assign assign_to=\"back\" variable=\"_unexp.retaddr\"/>"
	    "<assign assign_to=\"_unexp.retaddr\" value=\"0\"/><jump variable=\"back\"/></action></nop>\n"
	    "<label id=\"siteend\"/>\n</scenario>\n");
	fclose(f);
}

/* udp_bound: something has bound UDP port on 127.0.0.1. */
static int udp_bound(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), taken;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	taken = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0;
	if (fd >= 0)
		close(fd);
	return taken;
}

/* one_call plays the site with steps against one carrier call; its outcome goes to k. */
static void one_call(const char *name, const enum step *steps, struct fl_call *k)
{
	char site[600], scen[600], log[600], port_s[16], sport_s[16], mport_s[16], target[64], slog[600];
	char site_err[600], err[600];
	int port = rltest_free_ports(4), st = -1;
	struct fl_calls calls = {0};
	pid_t site_pid, call_pid;

	snprintf(site, sizeof(site), "%s/site-%s.xml", dir, name);
	snprintf(scen, sizeof(scen), "%s/call-%s.xml", dir, name);
	snprintf(log, sizeof(log), "%s/calls-%s.log", dir, name);
	snprintf(slog, sizeof(slog), "%s/sipp-%s.log", dir, name);
	snprintf(sport_s, sizeof(sport_s), "%d", port);
	snprintf(port_s, sizeof(port_s), "%d", port + 1);
	snprintf(mport_s, sizeof(mport_s), "%d", port + 2);
	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	site_write(site, steps);
	fc_scenario_write(scen, "+2126600[call_number]", "t[call_number]", PATIENCE_MS, BYE_MS);
	snprintf(site_err, sizeof(site_err), "%s/sipp-site-%s-errors.log", dir, name);
	snprintf(err, sizeof(err), "%s/sipp-%s-errors.log", dir, name);
	char *site_argv[] = {(char *)sipp,  "-sf",    site, "-i",       "127.0.0.1",      "-p",
	                     sport_s,       "-m",     "1",  "-nostdin", "-pause_msg_ign", "-trace_err",
	                     "-error_file", site_err, NULL};
	site_pid = rltest_spawn(site_argv, slog);
	RL_WAIT(5000, udp_bound(port));
	char *call_argv[] = {(char *)sipp, target, "-sf",        scen,          "-s",        "100",      "-i",
	                     "127.0.0.1",  "-p",   port_s,       "-mi",         "127.0.0.1", "-mp",      mport_s,
	                     "-m",         "1",    "-r",         "1",           "-aa",       "-nostdin", "-trace_logs",
	                     "-log_file",  log,    "-trace_err", "-error_file", err,         NULL};
	call_pid = rltest_spawn(call_argv, slog);
	for (int i = 0; i < 200 && waitpid(call_pid, &st, WNOHANG) == 0; i++)
		rltest_sleep_ms(50);
	if (waitpid(call_pid, &st, WNOHANG) == 0)
		rltest_stop(call_pid, SIGTERM, 2000);
	rltest_stop(site_pid, SIGTERM, 2000);
	fl_calls_read(&calls, log, 0);
	memset(k, 0, sizeof(*k));
	if (calls.n == 1)
		*k = calls.v[0];
	else
		printf("%s: %d calls in %s\n", name, calls.n, log);
	if (k->out == FL_PENDING) {
		char why[300];
		if (fl_sipp_why(err, k->cid, why, sizeof(why)))
			printf("%s: no outcome; sipp: %s\n", name, why);
	}
	fl_calls_free(&calls);
}

int main(void)
{
	static const enum step plain[] = {RING, ANSWER, WAIT_ACK, BYE, WAIT_OK, END};
	static const enum step bye_behind_200[] = {RING, ANSWER, BYE, MAYBE_ACK, WAIT_OK, END};
	static const enum step ring_after_200[] = {RING, ANSWER, WAIT_ACK, RING_AGAIN, BYE, WAIT_OK, END};
	static const enum step bye_after_giveup[] = {RING, PAUSE_PAST_PATIENCE, BYE, WAIT_OK, END};
	struct fl_call k;

	setvbuf(stdout, NULL, _IOLBF, 0);
	sipp = getenv("SIPP");
	if (sipp == NULL || sipp[0] == 0 || access(sipp, X_OK) != 0) {
		printf("sipp not found: apt-get install sip-tester\n");
		return 1;
	}
	dir = rltest_tmpdir("failover-calls");

	one_call("plain", plain, &k);
	RL_CHECK(k.out == FL_COMPLETED && k.t_ans > 0);

	/* The hub ended the contact while the site was frozen: it answers and hangs up at once. */
	one_call("bye-behind-200", bye_behind_200, &k);
	RL_CHECK(k.out == FL_COMPLETED && k.t_ans > 0);

	one_call("ring-after-200", ring_after_200, &k);
	RL_CHECK(k.out == FL_COMPLETED && k.t_ans > 0);

	/* A BYE with no 200 before it: the caller talked to nobody. */
	one_call("bye-after-giveup", bye_after_giveup, &k);
	RL_CHECK(k.out == FL_FAILED && k.code == 0 && k.t_giveup > 0 && k.t_ans == 0);
	return rltest_done();
}
