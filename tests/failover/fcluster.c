#include "fcluster.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rl_wire.h"
#include "rltest.h"

#define FC_HUB_PORT   7400
#define FC_RELAY_PORT 7401
#define FC_SIP_PORT   5060
#define FC_MEDIA_PORT 7420

static const char *const fc_ids[FC_SITES] = {"casablanca", "fes", "dakar"};

double fc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int fc_site_idx(const char *id)
{
	for (int s = 0; s < FC_SITES; s++)
		if (id != NULL && strcmp(id, fc_ids[s]) == 0)
			return s;
	return -1;
}

const char *fc_site_id(int s)
{
	return s >= 0 && s < FC_SITES ? fc_ids[s] : "-";
}

static const char *fc_ip(const struct fc *f, int member)
{
	return f->net.m[member].ip;
}

/* fc_tool finds a program: $env if set (CMake passes what find_program found), else def. */
static int fc_tool(char *out, size_t len, const char *env, const char *def, char *why, size_t wlen)
{
	const char *v = getenv(env);

	snprintf(out, len, "%s", v != NULL && v[0] && strstr(v, "NOTFOUND") == NULL ? v : def);
	if (access(out, X_OK) == 0)
		return 1;
	snprintf(why, wlen, "%s not found (%s): install Debian's %s package", env, out,
	         strcmp(env, "SIPP") == 0 ? "sip-tester" : "kamailio");
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The hub and the sites */

/* fc_provision: the queue every site serves, and each site's seated agents (c01.., f01..,
 * d01..), whose secrets and hashes rlcluster makes. */
static void fc_provision(struct fc *f)
{
	rlc_queue(&f->c, "{ id = \"" FC_QUEUE "\"; tenant = \"telco\"; skills = { billing = 1; }; wrapup_s = 1; "
	                 "sl_seconds = 5; }");
	for (int s = 0; s < FC_SITES; s++)
		for (int i = 1; i <= f->o.agents; i++) {
			char id[16];
			snprintf(id, sizeof(id), "%c%02d", fc_ids[s][0], i);
			rlc_agent(&f->c, id, "telco", "billing = 5;", fc_ids[s]);
		}
}

static void fc_start_hub(struct fc *f)
{
	const char *ip = fc_ip(f, f->hub_m);

	f->c.hub_port = FC_HUB_PORT;
	snprintf(f->c.hub_url, sizeof(f->c.hub_url), "tls+tcp://%s:%d", ip, FC_HUB_PORT);
	snprintf(f->c.top_extra, sizeof(f->c.top_extra), "media = { relay_listen = \"%s:%d\"; };", ip, FC_RELAY_PORT);
	snprintf(f->c.hub_extra, sizeof(f->c.hub_extra), "%s\n", f->o.hub ? f->o.hub : "");
	fnet_enter(&f->net, f->hub_m);
	rlc_start_hub(&f->c);
	fnet_leave(&f->net);
}

/* fc_first_node starts site s's node the first time, through rlcluster (its config: the
 * site's SIP trunk, which takes calls from the SBC only, and its media socket). */
static void fc_first_node(struct fc *f, int s)
{
	struct fc_site *st = &f->site[s];
	const char *ip = fc_ip(f, st->member);

	snprintf(f->c.node_extra, sizeof(f->c.node_extra),
	         "sip = {\n  listen = \"%s:%d\"; media_ip = \"%s\"; trunks = [ \"%s\" ]; retry_after_s = 5;\n"
	         "  dids = ( { did = \"*\"; tenant = \"telco\"; queue = \"" FC_QUEUE "\"; } );\n};\n"
	         "media = { listen = \"%s:%d\"; report_s = 5; };\n",
	         ip, FC_SIP_PORT, ip, fc_ip(f, f->carrier_m), ip, FC_MEDIA_PORT);
	snprintf(st->sip_uri, sizeof(st->sip_uri), "sip:%s:%d", ip, FC_SIP_PORT);
	if (f->o.survivable != NULL && strcmp(f->o.survivable, st->id) == 0)
		snprintf(f->c.node_opts, sizeof(f->c.node_opts), "  survivable = true;");
	fnet_enter(&f->net, st->member);
	snprintf(st->url, sizeof(st->url), "%s", rlc_start_node(&f->c, st->id, NULL, &st->node));
	fnet_leave(&f->net);
	snprintf(st->conf, sizeof(st->conf), "%s/node-%s.conf", f->c.dir, st->id);
}

static void fc_start_agents(struct fc *f, int s)
{
	struct fc_site *st = &f->site[s];
	char ids[32], log[64];

	snprintf(ids, sizeof(ids), "%c01-%c%02d", st->id[0], st->id[0], f->o.agents);
	snprintf(log, sizeof(log), "agents-%s.log", st->id);
	fnet_enter(&f->net, st->member);
	st->agents = rlc_start_agents(&f->c, st->url, ids, f->o.script, log);
	fnet_leave(&f->net);
}

/* fc_proc_slot: where rlcluster keeps pid (its stop list), or -1. */
static int fc_proc_slot(struct fc *f, pid_t pid)
{
	for (int i = 0; i < f->c.nprocs; i++)
		if (f->c.procs[i] == pid)
			return i;
	return -1;
}

void fc_kill_node(struct fc *f, int s)
{
	struct fc_site *st = &f->site[s];
	int slot = fc_proc_slot(f, st->node);

	if (st->node <= 0)
		return;
	kill(st->node, SIGKILL);
	while (waitpid(st->node, NULL, 0) < 0 && errno == EINTR)
		;
	/* Reaped: its pid may be anyone's now, never to be signalled again. */
	if (slot >= 0)
		f->c.procs[slot] = 0;
	st->node = 0;
	st->frozen = 0;
}

void fc_start_node(struct fc *f, int s)
{
	struct fc_site *st = &f->site[s];
	char log[64];
	int slot = fc_proc_slot(f, 0);

	if (st->node > 0)
		return;
	snprintf(log, sizeof(log), "node-%s.log", st->id);
	char *argv[] = {(char *)rltest_bin("node/relais-node"), "-c", st->conf, NULL};
	st->node = fnet_spawn(&f->net, st->member, argv, rlc_path(&f->c, log));
	st->restarts++;
	if (slot >= 0)
		f->c.procs[slot] = st->node;
	else if (f->c.nprocs < RLC_MAX_PROCS)
		f->c.procs[f->c.nprocs++] = st->node;
}

void fc_freeze_node(struct fc *f, int s, int on)
{
	struct fc_site *st = &f->site[s];

	if (st->node > 0 && st->frozen != on) {
		kill(st->node, on ? SIGSTOP : SIGCONT);
		st->frozen = on;
	}
}

void fc_cut_site(struct fc *f, int s, int on)
{
	RL_CHECK(fnet_cut(&f->net, f->hub_m, f->site[s].member, on) == 0);
	f->cut[s] = on;
}

void fc_partition_hub(struct fc *f, int on)
{
	RL_CHECK(fnet_isolate(&f->net, f->hub_m, on) == 0);
	f->hub_isolated = on;
}

int fc_drain(struct fc *f, int s, int on, const char *reason)
{
	Relais__SiteCommand sc = RELAIS__SITE_COMMAND__INIT;
	struct rlc_link l;
	rl_env env, *r;
	int ok;

	rl_env_init(&env);
	sc.site_id = (char *)f->site[s].id;
	sc.action = on ? RELAIS__SITE_ACTION__SITE_DRAIN : RELAIS__SITE_ACTION__SITE_UNDRAIN;
	sc.percent = on ? 100 : 0;
	sc.reason = (char *)reason;
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_COMMAND;
	env.site_command = &sc;
	/* The link's threads are born in the hub's namespace, where they stay: the harness's
	 * only nng links are these. */
	fnet_enter(&f->net, f->hub_m);
	rlc_link_open(&l, &f->c, RELAIS__ROLE__ROLE_CTL, "noc", rlc_site_key(&f->c, "noc"));
	r = rlc_link_ask(&l, &env);
	ok = r->body_case == RELAIS__ENVELOPE__BODY_SITE_STATE;
	if (!ok)
		printf("drain %s %s: refused (%s)\n", f->site[s].id, on ? "on" : "off",
		       r->body_case == RELAIS__ENVELOPE__BODY_ERROR && r->error->message ? r->error->message : "?");
	rlc_link_close(&l);
	fnet_leave(&f->net);
	return ok ? 0 : -1;
}

cJSON *fc_status(struct fc *f)
{
	cJSON *j;

	fnet_enter(&f->net, f->hub_m);
	j = rlc_status(&f->c);
	fnet_leave(&f->net);
	return j;
}

/* ------------------------------------------------------------------------------------------ */
/* The SBC */

/* fc_subst copies in to out replacing each "@NAME@" of names with its value. */
static void fc_subst(FILE *in, FILE *out, const char *const names[][2], int n)
{
	char line[1024];

	while (fgets(line, sizeof(line), in) != NULL) {
		for (int k = 0; k < n; k++) {
			char *at;
			size_t nl = strlen(names[k][0]);
			while ((at = strstr(line, names[k][0])) != NULL) {
				char rest[1024];
				snprintf(rest, sizeof(rest), "%s", at + nl);
				snprintf(at, sizeof(line) - (size_t)(at - line), "%s%s", names[k][1], rest);
			}
		}
		fputs(line, out);
	}
}

static void fc_sbc_conf(struct fc *f, const char *rundir)
{
	char port[8], list[700];
	FILE *in = fopen(rltest_src("tests/failover/kamailio.cfg.in"), "r");
	FILE *out = fopen(rlc_path(&f->c, "kamailio.cfg"), "w");
	FILE *ds;

	snprintf(list, sizeof(list), "%s/dispatcher.list", rundir);
	ds = fopen(list, "w");
	RL_REQUIRE(in != NULL && out != NULL && ds != NULL);
	for (int s = 0; s < FC_SITES; s++)
		fprintf(ds, "1 %s 0 0 site=%s\n", f->site[s].sip_uri, f->site[s].id);
	fclose(ds);
	snprintf(port, sizeof(port), "%d", FC_SIP_PORT);
	const char *const names[][2] = {
	    {"@ADDR@", fc_ip(f, f->carrier_m)}, {"@PORT@", port}, {"@CTL_SOCKET@", f->kam_ctl}, {"@DS_LIST@", list}};
	fc_subst(in, out, names, 4);
	fclose(in);
	fclose(out);
}

/* fc_sbc_started: Kamailio serves, or has exited (then f->kam is 0). */
static int fc_sbc_started(struct fc *f)
{
	if (rlc_count_in_file(rlc_path(&f->c, "kamailio.log"), "sbc ready") > 0)
		return 1;
	if (waitpid(f->kam, NULL, WNOHANG) == f->kam) {
		f->kam = 0;
		return 1;
	}
	return 0;
}

/* fc_start_sbc starts Kamailio in the carrier's namespace; 0 once it serves, else -1. */
static int fc_start_sbc(struct fc *f)
{
	char rundir[600], pidfile[700];

	snprintf(rundir, sizeof(rundir), "%s/kamailio-run", f->c.dir);
	snprintf(pidfile, sizeof(pidfile), "%s/kamailio.pid", rundir);
	snprintf(f->kam_ctl, sizeof(f->kam_ctl), "%s/ctl.sock", rundir);
	if (strlen(f->kam_ctl) >= 100 || mkdir(rundir, 0700) != 0) /* sun_path holds 108 bytes */
		return -1;
	fc_sbc_conf(f, rundir);
	char *argv[] = {f->kamailio, "-DD",  "-E", "-S",    "-m", "64",   "-M", "8",
	                "-Y",        rundir, "-P", pidfile, "-w", rundir, "-f", (char *)rlc_path(&f->c, "kamailio.cfg"),
	                NULL};
	f->kam = fnet_spawn(&f->net, f->carrier_m, argv, rlc_path(&f->c, "kamailio.log"));
	RL_WAIT(10000, fc_sbc_started(f));
	return f->kam > 0 && rlc_count_in_file(rlc_path(&f->c, "kamailio.log"), "sbc ready") > 0 ? 0 : -1;
}

char fc_sbc_state(struct fc *f, int s)
{
	char cmd[1400], uri[80], st = '?';
	char *out;

	snprintf(cmd, sizeof(cmd), "%s -s unix:%s dispatcher.list 2>&1", f->kamcmd, f->kam_ctl);
	snprintf(uri, sizeof(uri), "URI: %s", f->site[s].sip_uri);
	if ((out = rltest_capture(cmd)) != NULL) {
		char *p = strstr(out, uri), *fl = p ? strstr(p, "FLAGS: ") : NULL;
		if (fl != NULL)
			st = fl[7];
	}
	free(out);
	return st;
}

/* ------------------------------------------------------------------------------------------ */

int fc_open(struct fc *f, const struct fc_opts *o, char *why, size_t len)
{
	const char *names[2 + FC_SITES] = {"hub", "carrier", fc_ids[0], fc_ids[1], fc_ids[2]};

	memset(f, 0, sizeof(*f));
	f->o = *o;
	f->hub_m = 0;
	f->carrier_m = 1;
	f->next_port = 5070;
	if (!fnet_available(why, len))
		return 1;
	if (!fc_tool(f->sipp, sizeof(f->sipp), "SIPP", "/usr/bin/sipp", why, len) ||
	    !fc_tool(f->kamailio, sizeof(f->kamailio), "KAMAILIO", "/usr/sbin/kamailio", why, len) ||
	    !fc_tool(f->kamcmd, sizeof(f->kamcmd), "KAMCMD", "/usr/sbin/kamcmd", why, len))
		return -1;
	rlc_init(&f->c, "failover", 1);
	if (fnet_open(&f->net, names, 2 + FC_SITES, rlc_path(&f->c, "net.log")) != 0) {
		snprintf(why, len, "could not make the namespaces (see %s/net.log)", f->c.dir);
		return -1;
	}
	for (int s = 0; s < FC_SITES; s++) {
		f->site[s].id = fc_ids[s];
		f->site[s].member = 2 + s;
	}
	snprintf(f->c.agent_extra, sizeof(f->c.agent_extra), "--no-audio");
	fc_provision(f);
	fc_start_hub(f);
	for (int s = 0; s < FC_SITES; s++)
		fc_first_node(f, s);
	for (int s = 0; s < FC_SITES; s++)
		fc_start_agents(f, s);
	if (fc_start_sbc(f) != 0) {
		snprintf(why, len, "kamailio did not start (see %s/kamailio.log)", f->c.dir);
		return -1;
	}
	return 0;
}

void fc_close(struct fc *f)
{
	if (f->net.root_fd <= 0)
		return;
	for (int s = 0; s < FC_SITES; s++)
		fc_freeze_node(f, s, 0); /* a stopped process does not hear SIGTERM */
	fnet_heal_all(&f->net);
	if (f->kam > 0)
		rltest_stop(f->kam, SIGTERM, 5000);
	f->kam = 0;
	for (int i = 0; i < f->c.nprocs; i++)
		if (f->c.procs[i] <= 0)
			f->c.procs[i] = f->c.procs[--f->c.nprocs], i--;
	rlc_stop_all(&f->c);
	fnet_close(&f->net);
}

/* ------------------------------------------------------------------------------------------ */
/* Health */

/* fc_healthy: 1 if the cluster is healthy; else 0, and what it lacks in what. */
static int fc_healthy(struct fc *f, char *what, size_t len)
{
	cJSON *st = fc_status(f), *e;
	int ready = 0, live = 0, up = 0;

	what[0] = 0;
	if (st == NULL) {
		snprintf(what, len, "no status from the hub");
		return 0;
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(st, "sites"))
	{
		cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "contacts");
		up += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "connected"));
		live += cJSON_IsNumber(c) ? c->valueint : 0;
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(st, "agents"))
	{
		cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "state");
		ready += cJSON_IsString(s) && strcmp(s->valuestring, "READY") == 0;
	}
	cJSON_Delete(st);
	if (up < FC_SITES)
		snprintf(what, len, "%d of %d sites up at the hub", up, FC_SITES);
	else if (ready < FC_SITES * f->o.agents)
		snprintf(what, len, "%d of %d agents ready", ready, FC_SITES * f->o.agents);
	else if (live > 0)
		snprintf(what, len, "%d contacts still live", live);
	for (int s = 0; s < FC_SITES && !what[0]; s++)
		if (fc_sbc_state(f, s) != 'A')
			snprintf(what, len, "%s is '%c' at the SBC", f->site[s].id, fc_sbc_state(f, s));
	return !what[0];
}

int fc_wait_healthy(struct fc *f, int seconds)
{
	char what[128] = "";

	if (RL_WAIT(seconds * 1000, fc_healthy(f, what, sizeof(what))))
		return 1;
	printf("not healthy after %d s: %s\n", seconds, what);
	return 0;
}

int fc_sbc_any_active(struct fc *f)
{
	for (int s = 0; s < FC_SITES; s++)
		if (fc_sbc_state(f, s) == 'A')
			return 1;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The carrier */

/* The carrier call's sipp scenario (fcluster.h says what each call does), written by the
 * helpers below. Every line it logs starts "ev=" and carries the call's number and the wall
 * clock (s u). */

/* The provisional answers a call may get. */
static const int fc_provisional[] = {100, 180, 183};

/* Failure answers to an INVITE that a call may meet; each ends it (or its CANCEL). */
static const int fc_codes[] = {400, 403, 404, 408, 480, 481, 486, 487, 488, 500, 502, 503, 504, 603};

/* fc_req writes a request of the call: in the dialog (along the SBC's Record-Route: dialog 1)
 * or on the INVITE's transaction (its branch: the INVITE, its CANCEL, the ACK of a failure).
 * body: the INVITE's Contact, SDP and their headers (NULL: none). */
static void fc_req(FILE *f, const char *method, int cseq, int dialog, const char *from, const char *body)
{
	int ack = strcmp(method, "ACK") == 0, new_tx = strcmp(method, "INVITE") == 0 || strcmp(method, "CANCEL") == 0;

	fprintf(f, "<send%s><![CDATA[\n%s %s SIP/2.0\n", ack ? "" : " retrans=\"500\"", method,
	        dialog ? "[next_url]" : "sip:[service]@[remote_ip]:[remote_port]");
	fprintf(f, "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=%s\n%s\n",
	        dialog ? "[branch]" : "z9hG4bK-[pid]-[call_number]-inv", from);
	fprintf(f, "To: <sip:[service]@[remote_ip]:[remote_port]>%s\nCall-ID: [call_id]\nCSeq: %d %s\n%s",
	        new_tx ? "" : "[peer_tag_param]", cseq, method, dialog ? "[routes]\n" : "");
	fprintf(f, "Max-Forwards: 70\n%s]]></send>\n", body ? body : "Content-Length: 0\n");
}

/* fc_log_action: the actions that log "ev=<ev> call=N <more> s=.. u=.." (an end also sets
 * "ended": an outcome is logged once). */
static void fc_log_action(FILE *f, const char *ev, const char *more)
{
	fprintf(f, "%s<gettimeofday assign_to=\"s,u\"/><log message=\"ev=%s call=[call_number] %s%ss=[$s] u=[$u]\"/>",
	        strcmp(ev, "end") == 0 ? "<assign assign_to=\"ended\" value=\"1\"/>" : "", ev, more,
	        more[0] ? " " : "");
}

/* fc_log logs it in a nop, then goes to label next (NULL: on). */
static void fc_log(FILE *f, const char *next, const char *ev, const char *more)
{
	fprintf(f, "<nop%s%s%s><action>", next ? " next=\"" : "", next ? next : "", next ? "\"" : "");
	fc_log_action(f, ev, more);
	fprintf(f, "</action></nop>\n");
}

/* fc_ok_bye answers the BYE just taken. */
static void fc_ok_bye(FILE *f, const char *next)
{
	fprintf(f,
	        "<send%s%s%s><![CDATA[\nSIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n"
	        "[last_CSeq:]\nContent-Length: 0\n]]></send>\n",
	        next ? " next=\"" : "", next ? next : "", next ? "\"" : "");
}

/* fc_unexpected: where sipp goes with a message no step of the call expects at that moment,
 * instead of dropping the call with no outcome logged. The orders a site may legally send
 * that the steps above do not take: a BYE right behind the 200 (sipp may take it before it
 * has stepped past the ACK) - the answered caller's end, or a caller answered and hung up at
 * once (failed, code 0) if the 200 never came; a provisional answer or a stray 200 (of the
 * CANCEL, or repeated) - nothing to do: back to where the call was. Anything else is dropped
 * as before, and its line in sipp's error file names it. */
static void fc_unexpected(FILE *f, const char *from)
{
	fprintf(f, "<label id=\"_unexp.main\"/>\n<recv request=\"BYE\" optional=\"true\" next=\"unexpbye\"/>\n");
	for (size_t i = 0; i < sizeof(fc_provisional) / sizeof(fc_provisional[0]); i++)
		fprintf(f, "<recv response=\"%d\" optional=\"true\" next=\"unexpback\"/>\n", fc_provisional[i]);
	fprintf(f, "<recv response=\"200\" next=\"unexpback\"/>\n<label id=\"unexpbye\"/>\n");
	fc_ok_bye(f, NULL);
	fprintf(f, "<nop next=\"end\" test=\"ended\"/>\n<nop next=\"unexpans\" test=\"answered\"/>\n");
	fc_log(f, "end", "end", "out=failed code=0");
	fprintf(f, "<label id=\"unexpans\"/>\n");
	fc_log(f, NULL, "end", "out=completed code=200");
	fc_req(f, "ACK", 1, 1, from, NULL); /* (again, if it was sent: an ACK has no answer) */
	fprintf(f, "<nop next=\"end\"/>\n<label id=\"unexpback\"/>\n"
	           "<nop><action><assign assign_to=\"back\" variable=\"_unexp.retaddr\"/>"
	           "<assign assign_to=\"_unexp.retaddr\" value=\"0\"/><jump variable=\"back\"/></action></nop>\n");
}

/* fc_recv_codes: each failure answer, optional, goes to next; timeout_ms later: ontimeout. */
static void fc_recv_codes(FILE *f, const char *next, int timeout_ms, const char *ontimeout, int skip)
{
	for (size_t i = 0; i < sizeof(fc_codes) / sizeof(fc_codes[0]); i++)
		if (fc_codes[i] != skip)
			fprintf(f,
			        "<recv response=\"%d\" optional=\"true\" next=\"%s\" timeout=\"%d\" ontimeout=\"%s\">"
			        "<action><ereg regexp=\"^SIP/2.0 ([0-9]+)\" search_in=\"msg\" assign_to=\"all,code\"/>"
			        "</action></recv>\n",
			        fc_codes[i], next, timeout_ms, ontimeout);
}

/* fc_recv_late: a 200 that may answer the CANCEL, or the INVITE (crossing it): "late". */
static void fc_recv_late(FILE *f)
{
	fprintf(f,
	        "<recv response=\"200\" optional=\"true\" rrs=\"true\" next=\"late\" test=\"late\" timeout=\"10000\" "
	        "ontimeout=\"abandoned\"><action><ereg regexp=\"INVITE\" search_in=\"hdr\" header=\"CSeq:\" "
	        "assign_to=\"late\"/></action></recv>\n");
}

void fc_scenario_write(const char *path, const char *caller, const char *name, int patience_ms, int bye_ms)
{
	FILE *f = fopen(path, "w");
	char from[200], what[160], sdp[600];

	RL_REQUIRE(f != NULL);
	snprintf(from, sizeof(from), "From: \"%s\" <sip:%s@[local_ip]:[local_port]>;tag=[pid]T[call_number]", name,
	         caller);
	snprintf(sdp, sizeof(sdp),
	         "Contact: <sip:%s@[local_ip]:[local_port]>\nContent-Type: application/sdp\nContent-Length: [len]\n\n"
	         "v=0\no=carrier 1 1 IN IP4 [local_ip]\ns=-\nc=IN IP4 [media_ip]\nt=0 0\n"
	         "m=audio [media_port] RTP/AVP 8 0 101\na=rtpmap:8 PCMA/8000\na=rtpmap:0 PCMU/8000\n"
	         "a=rtpmap:101 telephone-event/8000\na=ptime:20\n",
	         caller);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"failover call\">\n");
	snprintf(what, sizeof(what), "cid=[call_id] caller=%s name=%s", caller, name);
	fc_log(f, NULL, "inv", what);
	fc_req(f, "INVITE", 1, 0, from, sdp);
	/* sipp waits at the first of a run of optional answers, under that one's timeout: each
	 * carries the patience (restarted by a provisional answer, which comes at once). */
	for (size_t i = 0; i < sizeof(fc_provisional) / sizeof(fc_provisional[0]); i++)
		fprintf(f, "<recv response=\"%d\" optional=\"true\" timeout=\"%d\" ontimeout=\"giveup\"/>\n",
		        fc_provisional[i], patience_ms);
	fc_recv_codes(f, "failed", patience_ms, "giveup", 0);
	/* A site that wakes from a stall may answer and hang up at once (its agent left while it
	 * was frozen): the BYE can overtake the 200. The caller talked to nobody: failed, code 0. */
	fprintf(f, "<recv request=\"BYE\" optional=\"true\" next=\"byefirst\"/>\n");
	/* The answer is logged as the 200 is taken, not in a step after the ACK: a BYE close
	 * behind the 200 may reach sipp before it has run that step (fc_unexpected). */
	fprintf(f,
	        "<recv response=\"200\" rrs=\"true\" timeout=\"%d\" ontimeout=\"giveup\"><action>"
	        "<assign assign_to=\"answered\" value=\"1\"/>",
	        patience_ms);
	fc_log_action(f, "ans", "");
	fprintf(f, "</action></recv>\n");
	fc_req(f, "ACK", 1, 1, from, NULL);
	/* The site hangs up when the agent does; a site that cannot is "cut": the caller does. */
	fprintf(f, "<recv request=\"BYE\" timeout=\"%d\" ontimeout=\"cut\"/>\n", bye_ms);
	fc_log(f, NULL, "end", "out=completed code=200");
	fc_ok_bye(f, "end");
	fprintf(f, "<label id=\"byefirst\"/>\n");
	fc_log(f, NULL, "end", "out=failed code=0");
	fc_ok_bye(f, "end");
	fprintf(f, "<label id=\"cut\"/>\n");
	fc_log(f, NULL, "end", "out=cut code=200");
	fc_req(f, "BYE", 2, 1, from, NULL);
	fprintf(f, "<recv response=\"200\" optional=\"true\" next=\"end\" timeout=\"4000\" ontimeout=\"end\"/>\n"
	           "<recv response=\"408\" optional=\"true\" next=\"end\" timeout=\"4000\" ontimeout=\"end\"/>\n"
	           "<recv response=\"481\" next=\"end\" timeout=\"4000\" ontimeout=\"end\"/>\n");
	/* A failure answer: logged with its code, ACKed (hop by hop: the INVITE's branch). */
	fprintf(f, "<label id=\"failed\"/>\n");
	fc_log(f, NULL, "end", "out=failed code=[$code]");
	fc_req(f, "ACK", 1, 0, from, NULL);
	fprintf(f, "<nop next=\"end\"/>\n");
	/* Patience over: CANCEL. The INVITE still ends with a final answer - 487, or an answer that
	 * crossed the CANCEL (a 200 is ACKed and hung up: "late") - before or after the CANCEL's
	 * own 200 (the SBC's processes race): every order is taken. */
	fprintf(f, "<label id=\"giveup\"/>\n");
	fc_log(f, NULL, "giveup", "");
	fc_req(f, "CANCEL", 1, 0, from, NULL);
	for (int pass = 0; pass < 2; pass++) {
		fc_recv_late(f);
		fprintf(f, "<recv response=\"481\" optional=\"true\" timeout=\"10000\" ontimeout=\"abandoned\"/>\n");
		fc_recv_codes(f, "ackgiveup", 10000, "abandoned", 481);
	}
	fprintf(f, "<recv response=\"487\" timeout=\"10000\" ontimeout=\"abandoned\"/>\n<label id=\"ackgiveup\"/>\n");
	fc_log(f, NULL, "end", "out=abandoned code=487");
	fc_req(f, "ACK", 1, 0, from, NULL);
	fprintf(f, "<nop next=\"end\"/>\n<label id=\"abandoned\"/>\n");
	fc_log(f, "end", "end", "out=abandoned code=487");
	fprintf(f, "<label id=\"late\"/>\n");
	fc_log(f, NULL, "ans", "");
	fc_log(f, NULL, "end", "out=late code=200");
	fc_req(f, "ACK", 1, 1, from, NULL);
	fc_req(f, "BYE", 2, 1, from, NULL);
	fprintf(f, "<recv response=\"200\" next=\"end\" timeout=\"4000\" ontimeout=\"end\"/>\n");
	fc_unexpected(f, from);
	fprintf(f, "<label id=\"end\"/>\n</scenario>\n");
	fclose(f);
}

void fc_load_start(struct fc *f, struct fc_load *l, const struct fc_calls *k)
{
	char scen[700], caller[64], name[64], inf[800] = "", cmd[4096];
	int port = f->next_port;

	memset(l, 0, sizeof(*l));
	snprintf(l->tag, sizeof(l->tag), "%s", k->tag);
	snprintf(l->log, sizeof(l->log), "%s/calls-%s.log", f->c.dir, k->tag);
	snprintf(l->out, sizeof(l->out), "%s/sipp-%s.log", f->c.dir, k->tag);
	snprintf(l->err, sizeof(l->err), "%s/sipp-%s-errors.log", f->c.dir, k->tag);
	snprintf(scen, sizeof(scen), "%s/call-%s.xml", f->c.dir, k->tag);
	l->calls = k->calls;
	l->rate = k->rate;
	f->next_port += 10; /* sipp binds the port, and media ports from port + 2 up */
	if (k->csv != NULL) {
		snprintf(caller, sizeof(caller), "[field0]");
		snprintf(inf, sizeof(inf), "-inf %s", k->csv);
	} else {
		snprintf(caller, sizeof(caller), "%s[call_number]", k->caller);
	}
	snprintf(name, sizeof(name), "%s[call_number]", k->name);
	fc_scenario_write(scen, caller, name, k->patience_ms, k->bye_ms);
	/* exec: the pid is sipp's own. -aa: sipp answers what a site may send besides (OPTIONS,
	 * INFO, NOTIFY, UPDATE). */
	snprintf(cmd, sizeof(cmd),
	         "cd %s && exec %s %s:%d -sf %s -s %s %s -r %.2f -rp 1000 -m %d -l 10000 -i %s -p %d -mi %s -mp %d "
	         "-aa -nostdin -trace_logs -log_file %s -trace_err -error_file %s "
	         "-trace_stat -stf %s/sipp-%s-stat.csv -fd 1",
	         f->c.dir, f->sipp, fc_ip(f, f->carrier_m), FC_SIP_PORT, scen, FC_DID, inf, k->rate, k->calls,
	         fc_ip(f, f->carrier_m), port, fc_ip(f, f->carrier_m), port + 2, l->log, l->err, f->c.dir, k->tag);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	l->t0 = fc_now_ms();
	l->pid = fnet_spawn(&f->net, f->carrier_m, argv, l->out);
}

int fc_load_wait(struct fc *f, struct fc_load *l, int seconds)
{
	double end = fc_now_ms() + seconds * 1000.0;
	int st;

	(void)f;
	if (l->pid <= 0)
		return -1;
	while (fc_now_ms() < end) {
		pid_t r = waitpid(l->pid, &st, WNOHANG);
		if (r == l->pid) {
			l->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		}
		rltest_sleep_ms(100);
	}
	printf("sipp %s still running after %d s: stopped\n", l->tag, seconds);
	rltest_stop(l->pid, SIGTERM, 3000);
	l->pid = 0;
	return -1;
}
