/*
 * A carrier load run, black box, with sipp as the carrier: 200 calls placed at 10 calls/s, all
 * 200 up at once at the site node (SIP + media), every call accounted for.
 *
 * The site has a DID "*" to a queue without menu: a call rings (180) while it waits and gets
 * its 200 when an agent accepts. AGENTS seated scripted agents (answer 0.5 s, talk TALK_S,
 * wrap 1 s, all fixed) take the calls in order; after the 200 the caller plays G.711 from a
 * pcap, looped, until the agent hangs up (the node's BYE). A caller still ringing after 34 s
 * of patience gives up (CANCEL): abandoned. The node's max_calls is 200: once it holds the
 * 200 calls, a second sipp places OVERFLOW more, which get 503. The timings make patience run
 * out only while every agent talks (see the comment at the constants), so an answer and a
 * CANCEL do not cross by design; the scenario still copes if they do (outcome=late), and the
 * accounting below holds either way.
 *
 * Accounting, each figure from its own source:
 *   sipp      calls created = successful, none failed; outcomes (its -trace_logs):
 *             answered + abandoned + rejected + late = calls; the node held all 200 at once;
 *   node      one `sip refused reason=full` per 503, as many as sipp saw; one `carrier end`
 *             per call it took, with caller audio in every call it answered (200 ACKed) and
 *             kept; one `sip answered` per 200 sipp ACKed;
 *   hub       per queue offered = answered + abandoned, nothing waiting at the end;
 *             offered = calls - refusals; answered = the calls an agent accepted (the node's
 *             `carrier call connected`, or the agent's media for a call whose CANCEL the
 *             node saw first); abandoned = sipp's abandoned calls less those;
 *   agents    every accept either taken (answered) or refused as withdrawn; one media_end
 *             per answered call, <= 1 % of the packets lost; none BUSY or RESERVED at the
 *             end (READY, or WRAPUP for the last few).
 *
 * 40 agents: under ASan each side of a call with audio (the node's bridge, an agent's phone)
 * costs about 1.5 % of a core, so 40 calls talking take some 60 % of a core in the node and
 * as much in the agents' process on this 2-core machine; the other 160 calls wait ringing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rlcluster.h"
#include "rltest.h"

#define CALLS    200
#define RATE     10
#define OVERFLOW 5 /* calls placed while the node holds CALLS: 503 */
/*
 * Timeline (arrivals at RATE/s, the last at t = 20 s): the first AGENTS calls are answered
 * at once. Agent i takes call i at about (i-1)/RATE + 0.5 s and talks TALK_S, so no call ends
 * before t = 20 s: the node holds all 200. Call AGENTS+i (arrived at (AGENTS+i-1)/RATE) is
 * answered when agent i is back, after waiting about TALK_S - 2 = 28 s, 6 s within the
 * caller's 34 s patience. Calls from 2 * AGENTS + 1 on (arrived from t = 8 s) give up at
 * t = 42..54 s, while the second wave still talks (it hangs up from t ~ 2 * TALK_S + 3 = 63 s),
 * 9 s ahead of any agent coming free.
 */
#define AGENTS  40
#define TALK_S  30
#define XSTR(x) #x
#define STR(x)  XSTR(x)
#define SCRIPT  "answer=0.5,talk=" STR(TALK_S) ",wrap=1,fixed=1"
#define QUEUE   "telco.load"
#define MAXIDS  1024

static struct rlc g_c; /* global so that an early exit still stops the processes */

static void stop_all(void)
{
	rlc_stop_all(&g_c);
}

/* can_bind says whether port is free on 127.0.0.1 for type (SOCK_DGRAM, SOCK_STREAM). */
static int can_bind(int type, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, type, 0), ok;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* sipp_ports returns the first of 12 ports free for UDP and TCP, below the kernel's
 * ephemeral range (32768 up): the node's 200 carrier legs take ephemeral UDP ports while the
 * test runs and must not take the overflow sipp's, which starts 20 s later. Each sipp uses
 * base (SIP) and base + 2 (RTP; sipp binds base + 4 for video too), the overflow base + 6. */
static int sipp_ports(void)
{
	for (int i = 0; i < 1000; i++) {
		int p = 20000 + rand() % 12000, ok = 1;
		for (int k = 0; k < 12 && ok; k++)
			ok = can_bind(SOCK_DGRAM, p + k) && can_bind(SOCK_STREAM, p + k);
		if (ok)
			return p;
	}
	return -1;
}

static const char *sipp_bin(void)
{
	const char *b = getenv("SIPP");
	return b && b[0] ? b : "sipp";
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* proc_cpu_s returns the user + system CPU seconds of pid so far (-1 if gone). */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[2048];
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the name may hold spaces */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* count_word counts the lines of path holding needle. */
static int count_word(struct rlc *c, const char *file, const char *needle)
{
	int n = rlc_count_in_file(rlc_path(c, file), needle);
	return n < 0 ? 0 : n;
}

/* csv_last reads sipp's -trace_stat file: the value of column name in its last row. */
static double csv_last(const char *path, const char *name)
{
	FILE *f = fopen(path, "r");
	char head[8192], line[8192], last[8192] = "";
	int col = -1, i = 0;

	if (f == NULL || fgets(head, sizeof(head), f) == NULL) {
		if (f)
			fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (strchr(line, ';') != NULL)
			snprintf(last, sizeof(last), "%s", line);
	fclose(f);
	for (char *s = head, *t; s != NULL; s = t ? t + 1 : NULL, i++) {
		t = strchr(s, ';');
		if ((size_t)(t ? t - s : (long)strcspn(s, "\r\n")) == strlen(name) &&
		    strncmp(s, name, strlen(name)) == 0) {
			col = i;
			break;
		}
	}
	if (col < 0 || !last[0])
		return -1;
	char *s = last;
	for (i = 0; i < col && s != NULL; i++)
		s = strchr(s, ';') ? strchr(s, ';') + 1 : NULL;
	return s ? atof(s) : -1;
}

/* csv_max reads sipp's -trace_stat file: the largest value of column name over its rows. */
static double csv_max(const char *path, const char *name)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	int col = -1, i = 0;
	double max = -1;

	if (f == NULL || fgets(line, sizeof(line), f) == NULL) {
		if (f)
			fclose(f);
		return -1;
	}
	for (char *s = line, *t; s != NULL; s = t ? t + 1 : NULL, i++) {
		t = strchr(s, ';');
		if ((size_t)(t ? t - s : (long)strcspn(s, "\r\n")) == strlen(name) &&
		    strncmp(s, name, strlen(name)) == 0) {
			col = i;
			break;
		}
	}
	while (col >= 0 && fgets(line, sizeof(line), f) != NULL) {
		char *s = line;
		for (i = 0; i < col && s != NULL; i++)
			s = strchr(s, ';') ? strchr(s, ';') + 1 : NULL;
		if (s != NULL && atof(s) > max)
			max = atof(s);
	}
	fclose(f);
	return max;
}

/* start_sipp places calls calls at rate/s, at most calls at once, from ports[0] (SIP) and
 * ports[1] (RTP); its files are sipp-<tag>-*. */
static pid_t start_sipp(struct rlc *c, int sip_port, const int ports[2], int calls, int rate, const char *tag)
{
	char cmd[4096], log[64];

	snprintf(
	    cmd, sizeof(cmd),
	    "cd %s && exec %s 127.0.0.1:%d -sf %s -s +212522000100 -r %d -m %d -l %d -i 127.0.0.1 -p %d "
	    "-mi 127.0.0.1 -mp %d -timeout 200s -timeout_error -nostdin -trace_err -error_file %s/sipp-%s-errors.log "
	    "-trace_logs -log_file %s/sipp-%s-outcomes.log -trace_stat -stf %s/sipp-%s-stat.csv -fd 1",
	    c->dir, sipp_bin(), sip_port, rltest_src("tests/trunk_load/scenarios/load_call.xml"), rate, calls, calls,
	    ports[0], ports[1], c->dir, tag, c->dir, tag, c->dir, tag);
	snprintf(log, sizeof(log), "sipp-%s.log", tag);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	return rltest_spawn(argv, rlc_path(c, log));
}

/* sipp_tally adds up one sipp run: its exit status, calls created/successful/failed, outcomes. */
struct tally {
	int exit;
	double created, ok, failed, peak;
	int answered, abandoned, rejected, late;
};

static void sipp_tally(struct rlc *c, const char *tag, int status, struct tally *t)
{
	char stat[64], out[64];

	snprintf(stat, sizeof(stat), "sipp-%s-stat.csv", tag);
	snprintf(out, sizeof(out), "sipp-%s-outcomes.log", tag);
	t->exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	t->created = csv_last(rlc_path(c, stat), "TotalCallCreated");
	t->ok = csv_last(rlc_path(c, stat), "SuccessfulCall(C)");
	t->failed = csv_last(rlc_path(c, stat), "FailedCall(C)");
	t->peak = csv_max(rlc_path(c, stat), "CurrentCall");
	t->answered = count_word(c, out, "outcome=answered");
	t->abandoned = count_word(c, out, "outcome=abandoned");
	t->rejected = count_word(c, out, "outcome=rejected");
	t->late = count_word(c, out, "outcome=late");
	printf(
	    "sipp %-8s exit %d: %.0f calls created, %.0f successful, %.0f failed, at most %.0f at once; answered %d, "
	    "abandoned %d, rejected %d, late answer %d\n",
	    tag, t->exit, t->created, t->ok, t->failed, t->peak, t->answered, t->abandoned, t->rejected, t->late);
}

/* What the logs say about each call the node took, by the SIP glue's call id. */
struct callrec {
	unsigned long long id;
	char contact[40];
	int connected, sip_answered, cancelled, ended, agent_media;
	long audio, rx, concealed;
};

static struct callrec *rec_get(struct callrec *r, int *n, unsigned long long id)
{
	for (int i = 0; i < *n; i++)
		if (r[i].id == id)
			return &r[i];
	if (*n == MAXIDS)
		return NULL;
	memset(&r[*n], 0, sizeof(r[*n]));
	r[*n].id = id;
	return &r[(*n)++];
}

static long field(const char *line, const char *key)
{
	const char *p = strstr(line, key);
	return p ? atol(p + strlen(key)) : -1;
}

static void field_str(const char *line, const char *key, char *out, size_t len)
{
	const char *p = strstr(line, key);
	size_t n = p ? strcspn(p + strlen(key), " \r\n") : 0;

	snprintf(out, len, "%.*s", (int)n, p ? p + strlen(key) : "");
}

static int parse_node_log(const char *path, struct callrec *r, int *n)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	struct callrec *x;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p;
		if ((p = strstr(line, "carrier end call=")) != NULL) {
			if ((x = rec_get(r, n, strtoull(p + 17, NULL, 10))) != NULL) {
				x->ended++;
				x->audio = field(p, " audio=");
				x->rx = field(p, " rx=");
				x->concealed = field(p, " concealed=");
			}
		} else if ((p = strstr(line, "carrier call connected call=")) != NULL) {
			if ((x = rec_get(r, n, strtoull(p + 28, NULL, 10))) != NULL) {
				x->connected++;
				field_str(p, " contact=", x->contact, sizeof(x->contact));
			}
		} else if ((p = strstr(line, "sip answered call=")) != NULL) {
			if ((x = rec_get(r, n, strtoull(p + 18, NULL, 10))) != NULL)
				x->sip_answered++;
		} else if ((p = strstr(line, "caller left call=")) != NULL && strstr(p, "how=cancel") != NULL) {
			if ((x = rec_get(r, n, strtoull(p + 17, NULL, 10))) != NULL) {
				x->cancelled++;
				field_str(p, " contact=", x->contact, sizeof(x->contact));
			}
		}
	}
	fclose(f);
	return 0;
}

/* agents_busy counts agents in BUSY or RESERVED, and those in neither READY nor WRAPUP. */
static void agent_states(cJSON *s, int *busy, int *other)
{
	cJSON *as = cJSON_GetObjectItemCaseSensitive(s, "agents"), *a;

	*busy = *other = 0;
	cJSON_ArrayForEach(a, as)
	{
		cJSON *st = cJSON_GetObjectItemCaseSensitive(a, "state");
		const char *v = cJSON_IsString(st) ? st->valuestring : "";
		if (strcmp(v, "BUSY") == 0 || strcmp(v, "RESERVED") == 0)
			(*busy)++;
		else if (strcmp(v, "READY") != 0 && strcmp(v, "WRAPUP") != 0)
			(*other)++;
	}
}

int main(void)
{
	static struct callrec calls[MAXIDS];
	struct rlc *c = &g_c;
	struct tally m = {0}, o = {0};
	int ports[2][2], base;
	char id[16], ids[32];
	pid_t node = 0, agents, sipp, over = 0;
	int ncalls = 0, sip_port, st = -1, ost = -1;

	rlc_init(c, "trunkload", 1);
	atexit(stop_all);
	c->media = 1;
	snprintf(c->top_extra, sizeof(c->top_extra), "media = { relay_listen = \"127.0.0.1:%d\"; };",
	         rltest_free_port());
	rlc_queue(c, "{ id = \"" QUEUE
	             "\"; tenant = \"telco\"; skills = { billing = 1; }; wrapup_s = 2; offer_timeout_s = 10; }");
	for (int i = 1; i <= AGENTS; i++) {
		snprintf(id, sizeof(id), "a%d", i);
		rlc_agent(c, id, "telco", "billing = 5;", "casablanca");
	}
	RL_REQUIRE(strlen(c->agents) + 1 < sizeof(c->agents)); /* every agent fitted in hub.conf */
	rlc_start_hub(c);

	sip_port = rltest_free_port();
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	RL_REQUIRE((base = sipp_ports()) > 0);
	ports[0][0] = base, ports[0][1] = base + 2, ports[1][0] = base + 6, ports[1][1] = base + 8;
	snprintf(c->node_extra, sizeof(c->node_extra),
	         "sip = {\n"
	         "  listen = \"127.0.0.1:%d\"; media_ip = \"127.0.0.1\"; trunks = [ \"127.0.0.1\" ];\n"
	         /* Only max_calls refuses calls here: under the sanitizers the media thread is several
	          * times slower than in a release build and would pass its load limit. */
	         "  max_calls = %d; retry_after_s = 5; max_media_load = 0;\n"
	         "  dids = ( { did = \"*\"; tenant = \"telco\"; queue = \"" QUEUE "\"; } );\n"
	         "};\n",
	         sip_port, CALLS);
	const char *url = rlc_start_node(c, "casablanca", NULL, &node);
	snprintf(ids, sizeof(ids), "a1-a%d", AGENTS);
	agents = rlc_start_agents(c, url, ids, SCRIPT, "agents.log");

	/* Every agent seated and READY before the first call. */
	int ready = 0;
	for (int i = 0; i < 150 && ready < AGENTS; i++) {
		cJSON *s = rlc_status(c);
		ready = s ? (int)rlc_queue_num(s, QUEUE, "agents_ready") : 0;
		cJSON_Delete(s);
		if (ready < AGENTS)
			rltest_sleep_ms(200);
	}
	printf("agents ready: %d of %d\n", ready, AGENTS);
	RL_REQUIRE(ready == AGENTS);

	/* The carrier: CALLS calls at RATE/s, up to CALLS at once. */
	double cpu0[3] = {proc_cpu_s(c->hub), proc_cpu_s(node), proc_cpu_s(agents)};
	double t0 = mono_s();
	sipp = start_sipp(c, sip_port, ports[0], CALLS, RATE, "main");

	/* While it runs: the most calls at the node (waiting at the hub or with an agent), and
	 * the overflow once the node holds all CALLS. */
	int max_wait = 0, max_busy = 0, max_held = 0, secs = 0, main_done = 0, over_done = 0;
	for (; secs < 240 && !(main_done && over_done); secs++) {
		if (!main_done && waitpid(sipp, &st, WNOHANG) == sipp)
			main_done = 1;
		if (over > 0 && !over_done && waitpid(over, &ost, WNOHANG) == over)
			over_done = 1;
		cJSON *s = rlc_status(c);
		if (s != NULL) {
			int busy, other, w = (int)rlc_queue_num(s, QUEUE, "waiting");
			agent_states(s, &busy, &other);
			max_wait = w > max_wait ? w : max_wait;
			max_busy = busy > max_busy ? busy : max_busy;
			max_held = w + busy > max_held ? w + busy : max_held;
			if (over == 0 && rlc_queue_num(s, QUEUE, "offered") >= CALLS) {
				printf(
				    "t=%.0f s: the node holds %d calls (%d waiting, %d agents on a call): %d more calls\n",
				    mono_s() - t0, w + busy, w, busy, OVERFLOW);
				over = start_sipp(c, sip_port, ports[1], OVERFLOW, RATE, "overflow");
			}
			cJSON_Delete(s);
		}
		if (over == 0 && main_done)
			over_done = 1; /* never full: the checks below say so */
		rltest_sleep_ms(1000); /* the sampling period of the peaks above */
	}
	if (!main_done) {
		fprintf(stderr, "sipp main did not finish in %d s: stopped\n", secs);
		rltest_stop(sipp, SIGKILL, 1000);
		st = -1;
	}
	if (over > 0 && !over_done) {
		fprintf(stderr, "sipp overflow did not finish in %d s: stopped\n", secs);
		rltest_stop(over, SIGKILL, 1000);
		ost = -1;
	}
	double cpu[3] = {proc_cpu_s(c->hub) - cpu0[0], proc_cpu_s(node) - cpu0[1], proc_cpu_s(agents) - cpu0[2]};
	double el = mono_s() - t0;
	printf(
	    "sipp done after %.1f s; cpu meanwhile: hub %.1f s, node %.1f s, agents %.1f s (%.0f %%, %.0f %%, %.0f %% of "
	    "one core)\n",
	    el, cpu[0], cpu[1], cpu[2], 100 * cpu[0] / el, 100 * cpu[1] / el, 100 * cpu[2] / el);
	sipp_tally(c, "main", st, &m);
	if (over > 0)
		sipp_tally(c, "overflow", ost, &o);

	/* The hub once the last calls are over: nothing waiting, no agent left on a call. */
	cJSON *s = NULL;
	int busy = -1, other = -1;
	for (int i = 0; i < 60; i++) {
		cJSON_Delete(s);
		s = rlc_status(c);
		if (s != NULL) {
			agent_states(s, &busy, &other);
			if (busy == 0 && rlc_queue_num(s, QUEUE, "waiting") == 0)
				break;
		}
		rltest_sleep_ms(500);
	}
	RL_REQUIRE(s != NULL);
	double offered = rlc_queue_num(s, QUEUE, "offered"), answered = rlc_queue_num(s, QUEUE, "answered");
	double abandoned = rlc_queue_num(s, QUEUE, "abandoned"), waiting = rlc_queue_num(s, QUEUE, "waiting");
	cJSON_Delete(s);

	/* The node's log, call by call. */
	RL_CHECK(parse_node_log(rlc_path(c, "node-casablanca.log"), calls, &ncalls) == 0);
	int refused = count_word(c, "node-casablanca.log", "sip refused reason=full");
	/* The agents' side: every accept the hub took gives a call with media, one media_end. */
	int accepts = count_word(c, "agents.log", "event=accept ");
	int withdrawn = count_word(c, "agents.log", "no such offer ringing"); /* accepted too late */
	int media_ends = 0;
	long long frames = 0, lost = 0;
	{
		FILE *f = fopen(rlc_path(c, "agents.log"), "r");
		char line[2048], contact[40];
		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			if (strstr(line, "event=media_end") == NULL)
				continue;
			media_ends++;
			frames += field(line, " frames=");
			lost += field(line, " lost=");
			field_str(line, " contact=", contact, sizeof(contact));
			for (int i = 0; i < ncalls; i++)
				if (strcmp(calls[i].contact, contact) == 0)
					calls[i].agent_media++;
		}
		if (f != NULL)
			fclose(f);
	}
	int ends = 0, dup_ends = 0, connected = 0, sip_ans = 0, taken = 0, crossed = 0, no_audio = 0;
	long audio = 0, rx = 0, concealed = 0, audio_min = -1;
	for (int i = 0; i < ncalls; i++) {
		struct callrec *x = &calls[i];
		ends += x->ended > 0;
		dup_ends += x->ended > 1;
		connected += x->connected > 0;
		sip_ans += x->sip_answered > 0;
		taken += x->connected || x->agent_media;   /* an agent accepted it */
		crossed += x->cancelled && x->agent_media; /* ... as the caller's CANCEL came */
		if (x->sip_answered) {
			no_audio += x->audio <= 0;
			audio += x->audio, rx += x->rx, concealed += x->concealed;
			audio_min = audio_min < 0 || x->audio < audio_min ? x->audio : audio_min;
		}
	}

	int calls_all = (int)(m.created + (over > 0 ? o.created : 0));
	int s_ans = m.answered + o.answered, s_ab = m.abandoned + o.abandoned, s_rej = m.rejected + o.rejected;
	int s_late = m.late + o.late;
	printf(
	    "node:   %d refused (503, max_calls %d), %d carrier ends (%d twice), %d connected to an agent, %d answered "
	    "(200 ACKed), %d answers crossed by a CANCEL (0 by design)\n",
	    refused, CALLS, ends, dup_ends, connected, sip_ans, crossed);
	printf(
	    "node:   answered calls' carrier legs: %ld RTP packets in, %ld audio, %ld frames concealed, fewest audio "
	    "packets in a call %ld, calls without audio %d\n",
	    rx, audio, concealed, audio_min, no_audio);
	printf("hub:    offered %.0f = answered %.0f + abandoned %.0f; waiting %.0f\n", offered, answered, abandoned,
	       waiting);
	printf(
	    "agents: %d accepts (%d after the caller had left), %d media ends (%lld frames played, %lld lost); at the "
	    "end %d on a call, %d neither READY nor WRAPUP\n",
	    accepts, withdrawn, media_ends, frames, lost, busy, other);
	printf("peak:   %d calls at the node at once (%d waiting at most), %d agents on a call at once\n", max_held,
	       max_wait, max_busy);
	printf("total:  %d calls = %d answered + %d abandoned + %d rejected + %d late answers\n", calls_all, s_ans,
	       s_ab, s_rej, s_late);

	/* sipp: every call went as scripted, each outcome logged once; the node held all CALLS. */
	RL_CHECK(m.exit == 0 && m.created == CALLS && m.ok == CALLS && m.failed == 0);
	RL_CHECK(over > 0 && o.exit == 0 && o.created == OVERFLOW && o.ok == OVERFLOW && o.failed == 0);
	RL_CHECK(s_ans + s_ab + s_rej + s_late == calls_all);
	RL_CHECK(m.peak == CALLS && max_held == CALLS);
	/* The node refused exactly what sipp saw refused, and kept one record per other call. */
	RL_CHECK(refused == s_rej && s_rej == OVERFLOW);
	RL_CHECK(ends == calls_all - refused && dup_ends == 0);
	/* The hub counted every call the node took, once, and each ended answered or abandoned. */
	RL_CHECK(offered == calls_all - refused);
	RL_CHECK(offered == answered + abandoned);
	RL_CHECK(waiting == 0);
	RL_CHECK(answered == taken);
	RL_CHECK(sip_ans == s_ans + s_late);
	RL_CHECK(connected >= sip_ans && connected - sip_ans <= crossed); /* 200s a CANCEL overtook */
	RL_CHECK(abandoned == s_ab - crossed);
	RL_CHECK(s_ab > 0 && max_wait > 0);
	/* Audio reached the node on every answered call (a late answer hangs up at once), and
	 * the agents heard it. */
	RL_CHECK(sip_ans > 0 && no_audio <= s_late);
	RL_CHECK(frames > 0 && lost * 100 <= frames);
	/* The agents: every accept taken or refused, one media end per answered call, none stuck. */
	RL_CHECK(accepts == answered + withdrawn);
	RL_CHECK(media_ends == answered);
	RL_CHECK(busy == 0 && other == 0);

	rlc_stop_all(c);
	const char *logs[] = {"hub.log", "node-casablanca.log", "agents.log"};
	for (int i = 0; i < 3; i++) {
		RL_CHECK(rlc_count_in_file(rlc_path(c, logs[i]), "Sanitizer") == 0);
		RL_CHECK(rlc_count_in_file(rlc_path(c, logs[i]), "runtime error") == 0);
	}
	printf("logs in %s\n", c->dir);
	return rltest_done();
}
