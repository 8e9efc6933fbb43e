/*
 * Listen, whisper, barge with real processes on loopback: a hub with its relay, Casablanca's
 * node, home agents (relais-agent, scripted) and a supervisor (relais-agent --operator
 * --monitor). Each party speaks its own tone: the caller (the node's WAV) 500 Hz, the agent
 * 1000 Hz, the supervisor 1500 Hz. What each one heard is a WAV: the agent's --audio-out,
 * the supervisor's --audio-out, and for the caller what the node sends towards it (its
 * record_dir copy of the agent's side). A Goertzel filter over windows lined up by the wall
 * clock (each WAV's first frame, each mode change) says who heard whom:
 *   listen:  the supervisor hears caller and agent, nobody hears the supervisor;
 *   whisper: the agent hears the supervisor, the caller does not;
 *   barge:   both do;
 * and before the supervisor comes and after it leaves nobody hears it. The same again with a
 * carrier call (sipp signals it; the test's own socket is the carrier's media: it sends the
 * caller's tone in G.711 and keeps what the node sends towards the caller). telco's policy tells
 * its agents they are monitored (the agent's event line), bank's does not; a supervisor of
 * bank asking for telco's agent, or of telco for bank's, is told the agent is unknown.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rl_audio.h"
#include "rl_err.h"
#include "rl_g711.h"
#include "rlcluster.h"
#include "rltest.h"

#define RATE     16000
#define F_CALLER 500.0
#define F_AGENT  1000.0
#define F_SUP    1500.0

static void make_tone(const char *path, double f, unsigned seconds)
{
	size_t n = (size_t)RATE * seconds;
	int16_t *pcm = malloc(n * sizeof(*pcm));

	RL_REQUIRE(pcm != NULL);
	for (size_t i = 0; i < n; i++)
		pcm[i] = (int16_t)(6000.0 * sin(2 * M_PI * f * (double)i / RATE));
	RL_REQUIRE(rl_audio_write_wav(path, pcm, n, RATE) == RL_OK);
	free(pcm);
}

/* A WAV someone heard, and the wall clock of its first sample. */
struct heard {
	int16_t *pcm;
	size_t n;
	unsigned rate;
	double t0_us;
};

static void heard_load(struct heard *h, const char *path, double t0_us)
{
	memset(h, 0, sizeof(*h));
	h->t0_us = t0_us;
	if (rl_audio_read_wav(path, &h->pcm, &h->n, &h->rate) != RL_OK)
		fprintf(stderr, "cannot read %s\n", path);
	RL_CHECK(h->pcm != NULL && t0_us > 0);
}

/* share: the part of the power of h between wall clocks a and b (us) that is at f. */
static double share(const struct heard *h, double a_us, double b_us, double f)
{
	double k = 2 * cos(2 * M_PI * f / h->rate), s1 = 0, s2 = 0, total = 0;
	double from = (a_us - h->t0_us) / 1e6 * h->rate, to = (b_us - h->t0_us) / 1e6 * h->rate;

	if (h->pcm == NULL || from < 0 || to > (double)h->n || to - from < h->rate / 4)
		return -1;
	for (size_t i = (size_t)from; i < (size_t)to; i++) {
		double x = h->pcm[i], s0 = x + k * s1 - s2;
		s2 = s1;
		s1 = s0;
		total += x * x;
	}
	return total > 0 ? (s1 * s1 + s2 * s2 - k * s1 * s2) * 2 / ((to - from) * total) : 0;
}

/* hears: 1 if f is clearly in h between a and b, 0 if clearly not, -1 otherwise. */
static int hears(const char *who, const struct heard *h, double a_us, double b_us, double f)
{
	double sh = share(h, a_us, b_us, f);

	printf("  %s: %.0f Hz share %.4f\n", who, f, sh);
	return sh > 0.05 ? 1 : sh >= 0 && sh < 0.005 ? 0 : -1;
}

/* submit a contact through the node; returns its id (static) or NULL. */
static const char *submit(struct rlc *c, const char *node_url, const char *tenant, const char *queue)
{
	static char id[128];
	char args[512], *out = NULL;

	snprintf(args, sizeof(args), "submit --tenant %s --queue %s --caller +212522000001", tenant, queue);
	if (rlc_ctl(c, node_url, args, &out) != 0 || out == NULL) {
		free(out);
		return NULL;
	}
	snprintf(id, sizeof(id), "%.*s", (int)strcspn(out, " \r\n"), out);
	free(out);
	return id;
}

/* supervise runs the supervisor's client as op on agent's call with script; its output is
 * kept in sup-<op>.log; returns its exit status. */
static int supervise(struct rlc *c, const char *op, const char *agent, const char *script)
{
	char cmd[4096], log[128];

	snprintf(log, sizeof(log), "sup-%s.log", op);
	snprintf(cmd, sizeof(cmd),
	         "%s --ca %s/ca.pem --cert %s/ctl.pem --key %s/ctl.key --connect %s --operator %s "
	         "--operator-key %s/keys/%s.key --monitor %s --monitor-script %s --audio-in %s "
	         "--audio-out %s/sup-%%c.wav >>%s 2>&1",
	         rltest_bin("agent-client/relais-agent"), c->certs, c->certs, c->certs, c->hub_url, op, c->dir, op,
	         agent, script, rlc_path(c, "sup.wav"), c->dir, rlc_path(c, log));
	return WEXITSTATUS(system(cmd));
}

/* The three modes on telco's call cid, and who heard whom in each (caller: what went towards
 * the caller). */
static void check_modes(struct rlc *c, const char *cid, const struct heard *callerp)
{
	const char *sup_log = rlc_path(c, "sup-sup.telco.log");
	static const char *const modes[] = {"mode=listen", "mode=whisper", "mode=barge", "mode=off"};
	struct heard agent, caller = *callerp, sup;
	char path[700], what[160];
	double at[4];

	snprintf(what, sizeof(what), "contact=%s", cid);
	for (int i = 0; i < 4; i++)
		at[i] = rltest_log_num(sup_log, "event=monitor ", modes[i], "at_us");
	printf("mode changes at %.0f %.0f %.0f %.0f\n", at[0], at[1], at[2], at[3]);
	RL_REQUIRE(at[0] > 0 && at[1] > at[0] && at[2] > at[1] && at[3] > at[2]);
	snprintf(path, sizeof(path), "%s/heard-%s.wav", c->dir, cid);
	heard_load(&agent, path, rltest_log_num(rlc_path(c, "agent-a9.log"), "event=media_end", what, "t0_us"));
	snprintf(path, sizeof(path), "%s/sup-%s.wav", c->dir, cid);
	heard_load(&sup, path, rltest_log_num(sup_log, "event=media_end", what, "t0_us"));
	/* Before the supervisor came: nobody heard it. */
	printf("before:\n");
	RL_CHECK(hears("agent", &agent, at[0] - 2.5e6, at[0] - 0.3e6, F_SUP) == 0);
	RL_CHECK(hears("caller", &caller, at[0] - 2.5e6, at[0] - 0.3e6, F_SUP) == 0);
	RL_CHECK(hears("agent", &agent, at[0] - 2.5e6, at[0] - 0.3e6, F_CALLER) == 1);
	RL_CHECK(hears("caller", &caller, at[0] - 2.5e6, at[0] - 0.3e6, F_AGENT) == 1);
	for (int m = 0; m < 3; m++) {
		double a = at[m] + 1.0e6, b = at[m + 1] - 0.3e6;
		printf("%s:\n", modes[m]);
		RL_CHECK(hears("supervisor", &sup, a, b, F_CALLER) == 1);
		RL_CHECK(hears("supervisor", &sup, a, b, F_AGENT) == 1);
		RL_CHECK(hears("supervisor", &sup, a, b, F_SUP) == 0);
		RL_CHECK(hears("agent", &agent, a, b, F_CALLER) == 1);
		RL_CHECK(hears("agent", &agent, a, b, F_SUP) == (m >= 1)); /* whisper, barge */
		RL_CHECK(hears("caller", &caller, a, b, F_AGENT) == 1);
		RL_CHECK(hears("caller", &caller, a, b, F_SUP) == (m == 2)); /* barge only */
	}
	/* After it left: nobody hears it, the call goes on. */
	printf("after:\n");
	RL_CHECK(hears("agent", &agent, at[3] + 1.0e6, at[3] + 3.0e6, F_SUP) == 0);
	RL_CHECK(hears("caller", &caller, at[3] + 1.0e6, at[3] + 3.0e6, F_SUP) == 0);
	RL_CHECK(hears("caller", &caller, at[3] + 1.0e6, at[3] + 3.0e6, F_AGENT) == 1);
	free(agent.pcm);
	free(sup.pcm);
}

/* ---------------------------------------------------------------------------------------- */
/* the carrier's media: the caller's tone out in PCMU, what the node sends kept by timestamp */

struct carrier {
	int fd, port;
	atomic_int stop;
	pthread_t th;
	struct sockaddr_in node;
	int have_node, have_ts;
	uint32_t ts0, ts;
	uint16_t seq;
	double phase;
	struct heard heard; /* 8 kHz, t0: the first packet's arrival */
	size_t cap;
};

static void carrier_rx(struct carrier *k, const uint8_t *b, ssize_t len, const struct sockaddr_in *from)
{
	size_t hl = 12 + 4u * (b[0] & 0x0f);
	uint32_t ts = ((uint32_t)b[4] << 24) | ((uint32_t)b[5] << 16) | ((uint32_t)b[6] << 8) | b[7];

	if (len < 12 || (b[1] & 0x7f) != 0 || (size_t)len <= hl)
		return;
	k->node = *from;
	k->have_node = 1;
	if (!k->have_ts) {
		k->ts0 = ts;
		k->heard.t0_us = (double)rl_wall_us();
		k->have_ts = 1;
	}
	size_t at = (uint32_t)(ts - k->ts0), n = (size_t)len - hl;
	if (at + n <= k->cap) {
		rl_g711_ulaw_decode(k->heard.pcm + at, b + hl, n);
		if (at + n > k->heard.n)
			k->heard.n = at + n;
	}
}

static void carrier_tx(struct carrier *k)
{
	uint8_t pkt[12 + 160];
	int16_t pcm[160];

	for (int i = 0; i < 160; i++) {
		pcm[i] = (int16_t)(6000.0 * sin(k->phase));
		k->phase += 2 * M_PI * F_CALLER / 8000;
	}
	pkt[0] = 0x80;
	pkt[1] = 0;
	pkt[2] = (uint8_t)(k->seq >> 8);
	pkt[3] = (uint8_t)k->seq++;
	for (int i = 0; i < 4; i++)
		pkt[4 + i] = (uint8_t)(k->ts >> (24 - 8 * i));
	memcpy(pkt + 8, "\x0c\xa1\x1e\x50", 4);
	k->ts += 160;
	rl_g711_ulaw_encode(pkt + 12, pcm, 160);
	sendto(k->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&k->node, sizeof(k->node));
}

static void *carrier_run(void *arg)
{
	struct carrier *k = arg;
	uint64_t next = rl_mono_us();
	uint8_t b[1600];

	while (!atomic_load(&k->stop)) {
		struct pollfd p = {.fd = k->fd, .events = POLLIN};
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		poll(&p, 1, 5);
		ssize_t len =
		    (p.revents & POLLIN) ? recvfrom(k->fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl) : -1;
		if (len > 0)
			carrier_rx(k, b, len, &from);
		for (; k->have_node && rl_mono_us() >= next; next += 20000)
			carrier_tx(k);
		if (!k->have_node)
			next = rl_mono_us();
	}
	return NULL;
}

static void carrier_start(struct carrier *k)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);

	memset(k, 0, sizeof(*k));
	k->cap = 8000 * 90;
	k->heard.pcm = calloc(k->cap, sizeof(int16_t));
	k->heard.rate = 8000;
	k->fd = socket(AF_INET, SOCK_DGRAM, 0);
	RL_REQUIRE(k->fd >= 0 && k->heard.pcm != NULL && bind(k->fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	getsockname(k->fd, (struct sockaddr *)&a, &al);
	k->port = ntohs(a.sin_port);
	RL_REQUIRE(pthread_create(&k->th, NULL, carrier_run, k) == 0);
}

static void carrier_stop(struct carrier *k)
{
	atomic_store(&k->stop, 1);
	pthread_join(k->th, NULL);
	close(k->fd);
	free(k->heard.pcm);
}

/* The sipp call (its signalling only), on a thread: the agent ends it. */
struct sipp_run {
	struct rlc *c;
	int sip_port, rtp_port, status;
	pthread_t th;
};

static void *sipp_run(void *arg)
{
	struct sipp_run *r = arg;
	char cmd[4096], log[700];
	const char *bin = getenv("SIPP") && getenv("SIPP")[0] ? getenv("SIPP") : "sipp";

	snprintf(log, sizeof(log), "%s/sipp-monitor.log", r->c->dir);
	snprintf(cmd, sizeof(cmd),
	         "cd %s && %s 127.0.0.1:%d -sf %s/call_monitor.xml -s +212522000900 -key rtp_port %d -m 1 -l 1 "
	         "-i 127.0.0.1 -p %d -timeout 90s -timeout_error -nostdin -trace_err -error_file %s >>%s 2>&1",
	         r->c->dir, bin, r->sip_port, rltest_src("tests/voice/scenarios"), r->rtp_port, rltest_free_port(), log,
	         log);
	r->status = WEXITSTATUS(system(cmd));
	return NULL;
}

/* last_contact: the contact= of the last line of path with needle, into out ("" if none). */
static void last_contact(const char *path, const char *needle, char *out, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[4096];

	out[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "contact=");
		if (strstr(line, needle) && p != NULL)
			snprintf(out, len, "%.*s", (int)strcspn(p + 8, " \n"), p + 8);
	}
	if (f)
		fclose(f);
}

/* A carrier call to a9, monitored through the three modes. */
static void carrier_call(struct rlc *c, int sip_port)
{
	struct carrier k;
	struct sipp_run r = {.c = c, .sip_port = sip_port, .status = -1};
	char cid[128], what[160];
	int before = rlc_count_in_file(rlc_path(c, "agent-a9.log"), "event=media_start");

	carrier_start(&k);
	r.rtp_port = k.port;
	RL_REQUIRE(pthread_create(&r.th, NULL, sipp_run, &r) == 0);
	RL_WAIT(30000, rlc_count_in_file(rlc_path(c, "agent-a9.log"), "event=media_start") > before);
	rltest_sleep_ms(3000);
	RL_CHECK(supervise(c, "sup.telco", "a9", "listen:4,whisper:4,barge:4") == 0);
	pthread_join(r.th, NULL);
	RL_CHECK(r.status == 0);
	printf("carrier leg: %zu samples from the node\n", k.heard.n);
	last_contact(rlc_path(c, "sup-sup.telco.log"), "event=media_end", cid, sizeof(cid));
	snprintf(what, sizeof(what), "contact=%s", cid);
	RL_WAIT(30000, rltest_log_num(rlc_path(c, "agent-a9.log"), "event=media_end", what, "t0_us") > 0);
	printf("carrier call %s:\n", cid);
	check_modes(c, cid, &k.heard);
	carrier_stop(&k);
}

int main(void)
{
	struct rlc c;
	char what[160], cid[128], bid[128];
	const char *id;

	rlc_init(&c, "monitor", 1);
	snprintf(c.top_extra, sizeof(c.top_extra), "media = { relay_listen = \"127.0.0.1:%d\"; relay_idle_s = 10; };",
	         rltest_free_port());
	c.media = 1;
	snprintf(c.caller_wav, sizeof(c.caller_wav), "%s", rlc_path(&c, "caller.wav"));
	snprintf(c.tenant_opts[0], sizeof(c.tenant_opts[0]), "monitor_notify = true;"); /* telco tells, bank not */
	make_tone(rlc_path(&c, "caller.wav"), F_CALLER, 40);
	make_tone(rlc_path(&c, "agent.wav"), F_AGENT, 40);
	make_tone(rlc_path(&c, "sup.wav"), F_SUP, 40);
	rlc_queue(&c, "{ id = \"telco.home\"; tenant = \"telco\"; skills = { home = 1; }; wrapup_s = 1; }");
	rlc_queue(&c, "{ id = \"bank.home\"; tenant = \"bank\"; skills = { home = 1; }; wrapup_s = 1; }");
	rlc_agent(&c, "a9", "telco", "home = 5;", "");
	rlc_agent(&c, "b9", "bank", "home = 5;", "");
	rlc_start_hub(&c);
	int sip_port = rltest_free_port();
	snprintf(c.node_extra, sizeof(c.node_extra),
	         "sip = {\n  listen = \"127.0.0.1:%d\"; media_ip = \"127.0.0.1\"; trunks = [ \"127.0.0.1\" ];\n"
	         "  dids = ( { did = \"+212522000900\"; tenant = \"telco\"; queue = \"telco.home\"; } );\n};\n",
	         sip_port);
	const char *casa = rlc_start_node(&c, "casablanca", NULL, NULL);
	char casa_url[128];
	snprintf(casa_url, sizeof(casa_url), "%s", casa);
	snprintf(c.agent_extra, sizeof(c.agent_extra), "--audio-in %s --audio-out %s/heard-%%c.wav",
	         rlc_path(&c, "agent.wav"), c.dir);
	rlc_start_agents(&c, c.hub_url, "a9", "answer=0.2,talk=22,wrap=0.5,fixed=1", "agent-a9.log");
	rlc_start_agents(&c, c.hub_url, "b9", "answer=0.2,talk=8,wrap=0.5,fixed=1", "agent-b9.log");
	RL_WAIT_REQUIRE(30000, rlc_agents_in(&c, "a9,b9", "READY"));

	/* 1. Nobody joins a call that is not there. */
	RL_CHECK(supervise(&c, "sup.telco", "a9", "listen:1") == 2);
	/* 2. telco's call: 3 s alone, then the supervisor listens, whispers, barges, leaves. */
	RL_REQUIRE((id = submit(&c, casa_url, "telco", "telco.home")) != NULL);
	snprintf(cid, sizeof(cid), "%s", id);
	snprintf(what, sizeof(what), "contact=%s", cid);
	RL_WAIT_REQUIRE(20000, rlc_count_in_file(rlc_path(&c, "agent-a9.log"), "event=media_start") > 0);
	rltest_sleep_ms(3000);
	RL_CHECK(supervise(&c, "sup.bank", "a9", "listen:1") == 2); /* another tenant's: unknown */
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "sup-sup.bank.log"), "code=4") == 1);
	RL_CHECK(supervise(&c, "sup.telco", "a9", "listen:4,whisper:4,barge:4") == 0);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "sup-sup.telco.log"), "event=media_start") == 1);
	/* The agent was told, in each mode (telco's policy). */
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-a9.log"), "event=monitored mode=listen") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-a9.log"), "event=monitored mode=whisper") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-a9.log"), "event=monitored mode=barge") == 1);
	RL_WAIT(5000, rlc_count_in_file(rlc_path(&c, "agent-a9.log"), "event=monitored mode=off") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "node-casablanca.log"), "monitor end contact=") == 1);
	RL_WAIT(30000, rltest_log_num(rlc_path(&c, "agent-a9.log"), "event=media_end", what, "t0_us") > 0);
	RL_WAIT(10000, rltest_log_num(rlc_path(&c, "node-casablanca.log"), "media end", what, "t0_us") > 0);
	{
		struct heard caller;
		char path[700];
		snprintf(path, sizeof(path), "%s/%s.agent.wav", c.dir, cid);
		heard_load(&caller, path,
		           rltest_log_num(rlc_path(&c, "node-casablanca.log"), "media end", what, "t0_us"));
		check_modes(&c, cid, &caller);
		free(caller.pcm);
	}

	/* 3. bank's call: telco's supervisor is told the agent is unknown; bank's listens, and
	 * the agent is not told (bank's policy). */
	RL_REQUIRE((id = submit(&c, casa_url, "bank", "bank.home")) != NULL);
	snprintf(bid, sizeof(bid), "%s", id);
	snprintf(what, sizeof(what), "contact=%s", bid);
	RL_WAIT_REQUIRE(20000, rlc_count_in_file(rlc_path(&c, "agent-b9.log"), "event=media_start") > 0);
	RL_CHECK(supervise(&c, "sup.telco", "b9", "listen:1") == 2);
	RL_CHECK(supervise(&c, "sup.bank", "b9", "listen:2") == 0);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "sup-sup.bank.log"), "mode=listen") == 1);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-b9.log"), "event=monitored") == 0);

	/* 4. A carrier call (G.711): what the node sends to the carrier. */
	carrier_call(&c, sip_port);
	rlc_stop_all(&c);
	return rltest_done();
}
