/*
 * The voice path end to end, with real processes and real UDP on loopback.
 *
 * A speech-like WAV enters at the Casablanca node as the caller's voice, crosses the hub's
 * relay to a home agent who writes what it hears to a WAV file, while the agent's own WAV
 * travels back and the node records it. Both directions are aligned and compared
 * (correlation), first on a clean path, then with 5 % random loss and 10..70 ms jitter
 * (an impairment stage in this harness, in front of the relay: the relay's advertised
 * address is this test's UDP proxy). A seated agent's call must not touch the relay.
 * Garbage, truncated, replayed and wrong-key packets are thrown at the relay and at the
 * agent: they are dropped and counted, and the calls go on.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rl_audio.h"
#include "rl_err.h"
#include "rl_time.h"
#include "rlcluster.h"
#include "rltest.h"

#define RATE     16000
#define SPEECH_S 4

/* ---------------------------------------------------------------------------------------- */
/* the impairment proxy: clients -> proxy -> relay, and back */

#define PX_CLIENTS 8
#define PX_QUEUE   4096

struct px_pkt {
	uint64_t due_us;
	int client;
	size_t len;
	uint8_t buf[1500];
};

struct proxy {
	int fd; /* the advertised address */
	struct sockaddr_in relay;
	struct sockaddr_in client[PX_CLIENTS];
	int up[PX_CLIENTS]; /* one socket towards the relay per client */
	int nclients;
	struct px_pkt *q; /* delayed client->relay packets */
	int nq;
	atomic_int loss_pm;   /* per mille */
	atomic_int jitter_ms; /* delay 40 +- jitter_ms */
	atomic_int stop;
	uint64_t rng;
	pthread_t th;
	pthread_mutex_t mu;
	/* the last relay->client packet of each client, for replays */
	uint8_t last[PX_CLIENTS][1500];
	size_t last_len[PX_CLIENTS];
	unsigned long forwarded, dropped;
};

static uint32_t px_rand(struct proxy *p)
{
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return (uint32_t)((p->rng * 2685821657736338717ULL) >> 32);
}

static int px_client(struct proxy *p, const struct sockaddr_in *from)
{
	for (int i = 0; i < p->nclients; i++)
		if (p->client[i].sin_port == from->sin_port && p->client[i].sin_addr.s_addr == from->sin_addr.s_addr)
			return i;
	if (p->nclients == PX_CLIENTS)
		return -1;
	int i = p->nclients;
	p->client[i] = *from;
	p->up[i] = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(p->up[i], (struct sockaddr *)&any, sizeof(any));
	p->nclients++;
	return i;
}

static void *px_run(void *arg)
{
	struct proxy *p = arg;
	uint8_t buf[2048];

	while (!atomic_load(&p->stop)) {
		struct pollfd pfd[PX_CLIENTS + 1];
		int n = 0;
		pthread_mutex_lock(&p->mu);
		pfd[n++] = (struct pollfd){.fd = p->fd, .events = POLLIN};
		for (int i = 0; i < p->nclients; i++)
			pfd[n++] = (struct pollfd){.fd = p->up[i], .events = POLLIN};
		pthread_mutex_unlock(&p->mu);
		poll(pfd, (nfds_t)n, 2);
		uint64_t now = rl_mono_us();
		pthread_mutex_lock(&p->mu);
		if (pfd[0].revents & POLLIN) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t len = recvfrom(p->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
			int c = len > 0 ? px_client(p, &from) : -1;
			if (c >= 0 && len <= 1500) {
				if ((int)(px_rand(p) % 1000) < atomic_load(&p->loss_pm)) {
					p->dropped++;
				} else if (p->nq < PX_QUEUE) {
					int j = atomic_load(&p->jitter_ms);
					struct px_pkt *k = &p->q[p->nq++];
					k->due_us =
					    now + (j ? (uint64_t)(40000 - j * 1000 +
					                          (int)(px_rand(p) % (unsigned)(2 * j * 1000 + 1)))
					             : 0);
					k->client = c;
					k->len = (size_t)len;
					memcpy(k->buf, buf, (size_t)len);
				}
			}
		}
		for (int i = 1; i < n; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			ssize_t len = recv(p->up[i - 1], buf, sizeof(buf), 0);
			if (len > 0 && len <= 1500) {
				sendto(p->fd, buf, (size_t)len, 0, (struct sockaddr *)&p->client[i - 1],
				       sizeof(p->client[0]));
				memcpy(p->last[i - 1], buf, (size_t)len);
				p->last_len[i - 1] = (size_t)len;
			}
		}
		for (int i = 0; i < p->nq;) {
			if (p->q[i].due_us <= now) {
				sendto(p->up[p->q[i].client], p->q[i].buf, p->q[i].len, 0, (struct sockaddr *)&p->relay,
				       sizeof(p->relay));
				p->forwarded++;
				p->q[i] = p->q[--p->nq];
			} else {
				i++;
			}
		}
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

static int px_start(struct proxy *p, int port, int relay_port)
{
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	memset(p, 0, sizeof(*p));
	p->rng = 0x1234567887654321ULL;
	p->q = calloc(PX_QUEUE, sizeof(*p->q));
	pthread_mutex_init(&p->mu, NULL);
	p->relay = (struct sockaddr_in){
	    .sin_family = AF_INET, .sin_port = htons((uint16_t)relay_port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	p->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		return -1;
	return pthread_create(&p->th, NULL, px_run, p);
}

static void px_stop(struct proxy *p)
{
	atomic_store(&p->stop, 1);
	pthread_join(p->th, NULL);
	close(p->fd);
	for (int i = 0; i < p->nclients; i++)
		close(p->up[i]);
	free(p->q);
}

/* ---------------------------------------------------------------------------------------- */
/* signals */

static void make_speech(const char *path, uint32_t seed)
{
	struct rl_audio_src *s;
	int16_t *pcm = calloc(RATE * SPEECH_S, sizeof(int16_t));

	RL_REQUIRE(pcm != NULL && rl_audio_gen_src(&s, RATE, seed, SPEECH_S) == RL_OK);
	s->read(s, pcm, RATE * SPEECH_S);
	s->close(s);
	RL_REQUIRE(rl_audio_write_wav(path, pcm, RATE * SPEECH_S, RATE) == RL_OK);
	free(pcm);
}

/* corr_at: correlation of ref[w .. w+n) with out shifted by lag (out[w+i+lag]). */
static double corr_at(const int16_t *ref, size_t w, size_t n, const int16_t *out, size_t nout, long lag, int step)
{
	double sab = 0, saa = 0, sbb = 0;

	for (size_t i = 0; i < n; i += (size_t)step) {
		long j = (long)(w + i) + lag;
		if (j < 0 || (size_t)j >= nout)
			continue;
		sab += (double)ref[w + i] * out[j];
		saa += (double)ref[w + i] * ref[w + i];
		sbb += (double)out[j] * out[j];
	}
	return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

/* best_lag: the lag in [lo, hi] (out later by lag samples) that maximises the correlation of
 * ref[w..w+n) with out - a coarse pass every 4th lag on every 4th sample, then a fine one. */
static long best_lag(const int16_t *ref, size_t w, size_t n, const int16_t *out, size_t nout, long lo, long hi)
{
	double best = -2;
	long bl = lo;

	for (long l = lo; l <= hi; l += 4) {
		double c = corr_at(ref, w, n, out, nout, l, 4);
		if (c > best) {
			best = c;
			bl = l;
		}
	}
	long flo = bl - 8 < lo ? lo : bl - 8, fhi = bl + 8 > hi ? hi : bl + 8;
	best = -2;
	for (long l = flo; l <= fhi; l++) {
		double c = corr_at(ref, w, n, out, nout, l, 1);
		if (c > best) {
			best = c;
			bl = l;
		}
	}
	return bl;
}

/* aligned_corr aligns out to ref and returns their correlation. An adaptive jitter buffer
 * moves playout by whole frames in silences, so after one global alignment each 250 ms
 * piece of ref may move by up to +-320 ms (the buffer's range) around it; the correlation
 * sums the pieces at their own lags. *lag gets the global lag (samples). */
static double aligned_corr(const int16_t *ref, size_t nref, const int16_t *out, size_t nout, long *lag)
{
	const size_t win = RATE / 4;
	const long range = RATE * 320 / 1000;
	double sab = 0, saa = 0, sbb = 0;

	*lag = best_lag(ref, 0, nref, out, nout, -RATE, RATE);
	for (size_t w = 0; w + win <= nref; w += win) {
		long l = best_lag(ref, w, win, out, nout, *lag - range, *lag + range);
		for (size_t i = 0; i < win; i++) {
			long j = (long)(w + i) + l;
			if (j < 0 || (size_t)j >= nout)
				continue;
			sab += (double)ref[w + i] * out[j];
			saa += (double)ref[w + i] * ref[w + i];
			sbb += (double)out[j] * out[j];
		}
	}
	return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

/* compare: correlation of a reference WAV with a received WAV; prints and returns it. */
static double compare(const char *what, const char *ref_path, const char *out_path, uint64_t t0_send, uint64_t t0_recv)
{
	int16_t *ref = NULL, *out = NULL;
	size_t nref = 0, nout = 0;
	unsigned r1 = 0, r2 = 0;
	long lag = 0;
	double c;

	if (rl_audio_read_wav(ref_path, &ref, &nref, &r1) != RL_OK ||
	    rl_audio_read_wav(out_path, &out, &nout, &r2) != RL_OK) {
		fprintf(stderr, "%s: cannot read %s or %s\n", what, ref_path, out_path);
		free(ref);
		return -1;
	}
	c = aligned_corr(ref, nref, out, nout, &lag);
	double latency_ms = ((double)t0_recv - (double)t0_send) / 1000.0 + lag * 1000.0 / RATE;
	printf("%-40s correlation %.3f, one-way latency %.1f ms (out %zu samples)\n", what, c, latency_ms, nout);
	free(ref);
	free(out);
	return c;
}

/* ---------------------------------------------------------------------------------------- */
/* logs and status */

static cJSON *calls_status(struct rlc *c)
{
	char *out = NULL;
	cJSON *j = NULL;

	if (rlc_ctl(c, c->hub_url, "--json status calls", &out) == 0)
		j = cJSON_Parse(out);
	free(out);
	return j;
}

static double relay_num(struct rlc *c, const char *field)
{
	cJSON *j = calls_status(c);
	cJSON *r = j ? cJSON_GetObjectItemCaseSensitive(j, "relay") : NULL;
	cJSON *v = r ? cJSON_GetObjectItemCaseSensitive(r, field) : NULL;
	double d = cJSON_IsNumber(v) ? v->valuedouble : -1;

	cJSON_Delete(j);
	return d;
}

/* call_row: a copy of the status row of contact id (NULL if absent). */
static cJSON *call_row(struct rlc *c, const char *id)
{
	cJSON *j = calls_status(c), *e, *row = NULL;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "calls"))
	{
		cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "contact_id");
		if (cJSON_IsString(k) && strcmp(k->valuestring, id) == 0)
			row = cJSON_Duplicate(e, 1);
	}
	cJSON_Delete(j);
	return row;
}

/* ends_reported: 1 once the hub holds both ends' final quality report for contact id. */
static int ends_reported(struct rlc *c, const char *id)
{
	cJSON *row = call_row(c, id);
	cJSON *qa = cJSON_GetObjectItemCaseSensitive(row, "agent"), *qs = cJSON_GetObjectItemCaseSensitive(row, "site");
	int both = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(qa, "final")) &&
	           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(qs, "final"));

	cJSON_Delete(row);
	return both;
}

/* agent_leg: the newest client of the proxy, from index `from` on, that is an agent's socket
 * (not the node's media port) and has had a packet from the relay; -1 if none yet. */
static int agent_leg(struct proxy *p, int from, int node_port)
{
	int leg = -1;

	pthread_mutex_lock(&p->mu);
	for (int i = from; i < p->nclients; i++)
		if (ntohs(p->client[i].sin_port) != node_port && p->last_len[i] > 12)
			leg = i;
	pthread_mutex_unlock(&p->mu);
	return leg;
}

/* proxy_clients: how many client sockets the proxy has seen (an agent has one per call). */
static int proxy_clients(struct proxy *p)
{
	pthread_mutex_lock(&p->mu);
	int n = p->nclients;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* submit a contact through the node; returns its id (static buffer) or NULL. */
static const char *submit(struct rlc *c, const char *node_url, const char *queue, const char *extra)
{
	static char id[128];
	char args[1024], *out = NULL;

	snprintf(args, sizeof(args), "submit --tenant telco --queue %s --caller +212522000001 %s", queue, extra);
	if (rlc_ctl(c, node_url, args, &out) != 0 || out == NULL) {
		free(out);
		return NULL;
	}
	/* relaisctl prints the contact id */
	snprintf(id, sizeof(id), "%.*s", (int)strcspn(out, " \r\n"), out);
	free(out);
	return id;
}

/* wait_line waits until path has a line with both needles. */
static int wait_line(const char *path, const char *n1, const char *n2, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		FILE *f = fopen(path, "r");
		char line[4096];
		int found = 0;
		while (f && !found && fgets(line, sizeof(line), f))
			found = strstr(line, n1) && (!n2 || strstr(line, n2));
		if (f)
			fclose(f);
		if (found)
			return 1;
		rltest_sleep_ms(100);
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------- */

struct leg_result {
	double to_agent, to_caller;
};

/* one_call: a relayed call to home agent a9; returns both directions' correlation. */
static struct leg_result one_call(struct rlc *c, const char *casa, const char *tag)
{
	struct leg_result r = {-1, -1};
	char caller_ref[600], agent_ref[600], heard[700], recorded[700], what[160], agent_log[64];
	const char *id = submit(c, casa, "telco.home", "");

	RL_REQUIRE(id != NULL);
	char cid[128];
	snprintf(cid, sizeof(cid), "%s", id);
	snprintf(agent_log, sizeof(agent_log), "agent-a9.log");
	snprintf(what, sizeof(what), "contact=%s", cid);
	RL_CHECK(wait_line(rlc_path(c, agent_log), "event=media_end", what, 30));
	RL_CHECK(wait_line(rlc_path(c, "node-casablanca.log"), "media end", what, 10));
	snprintf(caller_ref, sizeof(caller_ref), "%s", rlc_path(c, "caller.wav"));
	snprintf(agent_ref, sizeof(agent_ref), "%s", rlc_path(c, "agent.wav"));
	snprintf(heard, sizeof(heard), "%s/heard-%s.wav", c->dir, cid);
	snprintf(recorded, sizeof(recorded), "%s/%s.agent.wav", c->dir, cid);
	uint64_t t0_agent = (uint64_t)rltest_log_num(rlc_path(c, agent_log), "event=media_end", what, "t0_us");
	uint64_t t0_node = (uint64_t)rltest_log_num(rlc_path(c, "node-casablanca.log"), "media end", what, "t0_us");
	snprintf(what, sizeof(what), "%s caller -> home agent", tag);
	r.to_agent = compare(what, caller_ref, heard, t0_node, t0_agent);
	snprintf(what, sizeof(what), "%s home agent -> caller", tag);
	r.to_caller = compare(what, agent_ref, recorded, t0_agent, t0_node);
	printf("%s at the agent: mos=%.2f fec=%.0f concealed=%.0f lost=%.0f jitter_ms=%.1f rtt_ms=%.1f\n", tag,
	       rltest_log_num(rlc_path(c, agent_log), "event=media_end", cid, "mos"),
	       rltest_log_num(rlc_path(c, agent_log), "event=media_end", cid, "fec"),
	       rltest_log_num(rlc_path(c, agent_log), "event=media_end", cid, "concealed"),
	       rltest_log_num(rlc_path(c, agent_log), "event=media_end", cid, "lost"),
	       rltest_log_num(rlc_path(c, agent_log), "event=media_end", cid, "jitter_ms"),
	       rltest_log_num(rlc_path(c, agent_log), "event=media_end", cid, "rtt_ms"));
	/* The hub keeps both ends' quality with the call, after it ended. */
	RL_WAIT(20000, ends_reported(c, cid));
	cJSON *row = call_row(c, cid);
	RL_CHECK(row != NULL);
	if (row != NULL) {
		RL_CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "relayed")));
		cJSON *qa = cJSON_GetObjectItemCaseSensitive(row, "agent"),
		      *qs = cJSON_GetObjectItemCaseSensitive(row, "site");
		RL_CHECK(qa != NULL && qs != NULL);
		cJSON *m = qa ? cJSON_GetObjectItemCaseSensitive(qa, "mos") : NULL;
		RL_CHECK(cJSON_IsNumber(m) && m->valuedouble >= 1.0 && m->valuedouble <= 4.5);
		cJSON_Delete(row);
	}
	return r;
}

int main(void)
{
	struct rlc c;
	struct proxy px;
	char *out = NULL;

	rlc_init(&c, "voice", 1);
	int relay_port = rltest_free_port(), proxy_port = rltest_free_port();
	snprintf(c.top_extra, sizeof(c.top_extra),
	         "media = { relay_listen = \"127.0.0.1:%d\"; relay_advertise = \"127.0.0.1:%d\"; relay_idle_s = 10; };",
	         relay_port, proxy_port);
	RL_REQUIRE(px_start(&px, proxy_port, relay_port) == 0);
	c.media = 1;
	snprintf(c.caller_wav, sizeof(c.caller_wav), "%s", rlc_path(&c, "caller.wav"));
	make_speech(rlc_path(&c, "caller.wav"), 11);
	make_speech(rlc_path(&c, "agent.wav"), 22);
	make_speech(rlc_path(&c, "caller2.wav"), 33);

	rlc_queue(&c, "{ id = \"telco.home\"; tenant = \"telco\"; skills = { home = 1; }; wrapup_s = 1; }");
	rlc_queue(
	    &c,
	    "{ id = \"telco.seated\"; tenant = \"telco\"; skills = { seated = 1; }; sites = [ \"casablanca\" ]; wrapup_s = 1; }");
	rlc_agent(&c, "a9", "telco", "home = 5;", "");
	rlc_agent(&c, "a1", "telco", "seated = 5;", "casablanca");
	rlc_start_hub(&c);
	const char *casa = rlc_start_node(&c, "casablanca", NULL, NULL);
	char casa_url[128];
	snprintf(casa_url, sizeof(casa_url), "%s", casa);

	/* The home agent speaks agent.wav and writes what it hears per call. */
	snprintf(c.agent_extra, sizeof(c.agent_extra), "--audio-in %s --audio-out %s/heard-%%c.wav",
	         rlc_path(&c, "agent.wav"), c.dir);
	rlc_start_agents(&c, c.hub_url, "a9", "answer=0.2,talk=5,wrap=0.5,fixed=1", "agent-a9.log");
	/* The seated agent, through its node, with its own voice files. */
	snprintf(c.agent_extra, sizeof(c.agent_extra), "--audio-in %s --audio-out %s/seated-%%c.wav",
	         rlc_path(&c, "agent.wav"), c.dir);
	rlc_start_agents(&c, casa_url, "a1", "answer=0.2,talk=3,wrap=0.5,fixed=1", "agent-a1.log");
	RL_WAIT_REQUIRE(30000, rlc_agents_in(&c, "a9,a1", "READY"));

	/* 1. Clean path through the relay. */
	struct leg_result clean = one_call(&c, casa_url, "clean:");
	RL_CHECK(clean.to_agent >= 0.9);
	RL_CHECK(clean.to_caller >= 0.9);

	/* 2. A seated agent's call goes straight to its node: the relay sees none of it. The
	 * caller's voice is chosen for this call by relaisctl at the node. */
	char audio_arg[700];
	snprintf(audio_arg, sizeof(audio_arg), "--audio %s", rlc_path(&c, "caller2.wav"));
	double rx_before = relay_num(&c, "rx");
	const char *sid = submit(&c, casa_url, "telco.seated", audio_arg);
	RL_REQUIRE(sid != NULL);
	char seated_id[128], what[160];
	snprintf(seated_id, sizeof(seated_id), "%s", sid);
	snprintf(what, sizeof(what), "contact=%s", seated_id);
	RL_CHECK(wait_line(rlc_path(&c, "agent-a1.log"), "event=media_end", what, 30));
	uint64_t t0a = (uint64_t)rltest_log_num(rlc_path(&c, "agent-a1.log"), "event=media_end", what, "t0_us");
	RL_CHECK(wait_line(rlc_path(&c, "node-casablanca.log"), "media end", what, 10));
	uint64_t t0n = (uint64_t)rltest_log_num(rlc_path(&c, "node-casablanca.log"), "media end", what, "t0_us");
	char heard[700];
	snprintf(heard, sizeof(heard), "%s/seated-%s.wav", c.dir, seated_id);
	double cs = compare("seated: caller -> seated agent", rlc_path(&c, "caller2.wav"), heard, t0n, t0a);
	RL_CHECK(cs >= 0.9);
	double rx_after = relay_num(&c, "rx");
	printf("relay packets in during the seated call: %.0f\n", rx_after - rx_before);
	RL_CHECK(rx_before >= 0 && rx_after == rx_before);
	RL_CHECK(rltest_log_num(rlc_path(&c, "agent-a1.log"), "event=media_start", what, "relayed") == 0);

	/* 3. 5 % loss and 40 +- 30 ms delay on the way into the relay (both directions). */
	atomic_store(&px.loss_pm, 50);
	atomic_store(&px.jitter_ms, 30);
	struct leg_result bad = one_call(&c, casa_url, "impaired:");
	RL_CHECK(bad.to_agent >= 0.8);
	RL_CHECK(bad.to_caller >= 0.8);
	printf("proxy: %lu forwarded, %lu dropped\n", px.forwarded, px.dropped);
	RL_CHECK(px.dropped > 0);
	atomic_store(&px.loss_pm, 0);
	atomic_store(&px.jitter_ms, 0);

	/* 4. Hostile packets at the relay and at the agent while a call runs. */
	int legs = proxy_clients(&px);
	const char *hid = submit(&c, casa_url, "telco.home", "");
	RL_REQUIRE(hid != NULL);
	char hostile_id[128];
	snprintf(hostile_id, sizeof(hostile_id), "%s", hid);
	snprintf(what, sizeof(what), "contact=%s", hostile_id);
	RL_CHECK(wait_line(rlc_path(&c, "agent-a9.log"), "event=media_start", what, 20));
	/* The relay has sent this call's agent a packet: one to replay. */
	RL_WAIT(20000, agent_leg(&px, legs, c.media_port[0]) >= 0);
	double drop_before = relay_num(&c, "dropped");
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in relay = {
	    .sin_family = AF_INET, .sin_port = htons((uint16_t)relay_port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	uint8_t junk[1400];
	int agent_client = -1, sent_relay = 0;
	pthread_mutex_lock(&px.mu);
	for (int i = 0; i < px.nclients; i++)
		if (ntohs(px.client[i].sin_port) != c.media_port[0] && px.last_len[i] > 12)
			agent_client = i; /* the latest agent socket */
	struct sockaddr_in agent_addr = agent_client >= 0 ? px.client[agent_client] : relay;
	uint8_t replay[1500];
	size_t replay_len = agent_client >= 0 ? px.last_len[agent_client] : 0;
	if (replay_len)
		memcpy(replay, px.last[agent_client], replay_len);
	pthread_mutex_unlock(&px.mu);
	RL_CHECK(agent_client >= 0 && replay_len > 12);
	srand(7);
	for (int i = 0; i < 200; i++) {
		size_t len = 1 + (size_t)(rand() % (int)sizeof(junk));
		for (size_t k = 0; k < len; k++)
			junk[k] = (uint8_t)rand();
		if (i % 4 == 0 && len > 12)
			junk[0] = 0x80; /* RTP-shaped, unknown SSRC */
		sendto(s, junk, len, 0, (struct sockaddr *)&relay, sizeof(relay));
		sent_relay++;
		sendto(s, junk, len, 0, (struct sockaddr *)&agent_addr, sizeof(agent_addr));
	}
	for (int i = 0; i < 50 && replay_len; i++) {
		/* the same packet again (replay), a truncated copy, and a tampered copy (wrong key) */
		sendto(s, replay, replay_len, 0, (struct sockaddr *)&agent_addr, sizeof(agent_addr));
		sendto(s, replay, 10, 0, (struct sockaddr *)&agent_addr, sizeof(agent_addr));
		uint8_t t[1500];
		memcpy(t, replay, replay_len);
		t[replay_len - 1] ^= 0x5a;
		/* a sequence number not seen yet: not a replay but a forgery */
		uint16_t seq = (uint16_t)((replay[2] << 8 | replay[3]) + 1000 + i);
		t[2] = (uint8_t)(seq >> 8);
		t[3] = (uint8_t)seq;
		sendto(s, t, replay_len, 0, (struct sockaddr *)&agent_addr, sizeof(agent_addr));
		/* at the relay: a known SSRC from a stranger's address */
		sendto(s, replay, replay_len, 0, (struct sockaddr *)&relay, sizeof(relay));
		sent_relay++;
	}
	close(s);
	RL_CHECK(wait_line(rlc_path(&c, "agent-a9.log"), "event=media_end", what, 30));
	double drop_after = relay_num(&c, "dropped");
	printf("relay dropped %.0f of %d hostile packets\n", drop_after - drop_before, sent_relay);
	RL_CHECK(drop_after - drop_before >= sent_relay);
	char heard_h[700];
	snprintf(heard_h, sizeof(heard_h), "%s/heard-%s.wav", c.dir, hostile_id);
	uint64_t t0ah = (uint64_t)rltest_log_num(rlc_path(&c, "agent-a9.log"), "event=media_end", what, "t0_us");
	RL_CHECK(wait_line(rlc_path(&c, "node-casablanca.log"), "media end", what, 10));
	uint64_t t0nh = (uint64_t)rltest_log_num(rlc_path(&c, "node-casablanca.log"), "media end", what, "t0_us");
	RL_CHECK(compare("under attack: caller -> home agent", rlc_path(&c, "caller.wav"), heard_h, t0nh, t0ah) >= 0.9);

	/* 5. The hub crashes during a relayed call: after its restart both ends get a new plan
	 * (new keys, new SSRCs, a new relay call) and the audio flows again. */
	legs = proxy_clients(&px);
	const char *kid = submit(&c, casa_url, "telco.home", "");
	RL_REQUIRE(kid != NULL);
	char crash_id[128];
	snprintf(crash_id, sizeof(crash_id), "%s", kid);
	snprintf(what, sizeof(what), "contact=%s", crash_id);
	RL_CHECK(wait_line(rlc_path(&c, "agent-a9.log"), "event=media_start", what, 20));
	RL_WAIT(20000, agent_leg(&px, legs, c.media_port[0]) >= 0); /* the call's audio flows */
	rlc_stop_hub(&c, SIGKILL);
	rlc_start_hub(&c);
	RL_CHECK(wait_line(rlc_path(&c, "agent-a9.log"), "event=media_end", what, 40));
	int starts = 0;
	{
		FILE *f = fopen(rlc_path(&c, "agent-a9.log"), "r");
		char line[4096];
		while (f && fgets(line, sizeof(line), f))
			starts += strstr(line, "event=media_start") && strstr(line, what);
		if (f)
			fclose(f);
	}
	double rx_after_restart = rltest_log_num(rlc_path(&c, "agent-a9.log"), "event=media_end", what, "rx");
	printf("hub crash mid-call: %d media plans at the agent, %.0f packets received on the new one\n", starts,
	       rx_after_restart);
	RL_CHECK(starts >= 2);
	RL_CHECK(rx_after_restart >= 25); /* at least half a second of audio after the restart */

	/* Everything ends cleanly; the agent counted what it threw away. */
	rlc_stop_all(&c);
	px_stop(&px);
	double af = rltest_log_num(rlc_path(&c, "agent-a9.log"), "event=media_counters", NULL, "auth_fail");
	double rp = rltest_log_num(rlc_path(&c, "agent-a9.log"), "event=media_counters", NULL, "replay");
	double mf = rltest_log_num(rlc_path(&c, "agent-a9.log"), "event=media_counters", NULL, "malformed");
	double us = rltest_log_num(rlc_path(&c, "agent-a9.log"), "event=media_counters", NULL, "unknown_ssrc");
	printf("agent dropped: auth_fail=%.0f replay=%.0f malformed=%.0f unknown_ssrc=%.0f\n", af, rp, mf, us);
	RL_CHECK(af >= 50 && rp >= 50 && mf + us >= 200);
	/* No sanitizer report from any process (leaks are reported when they exit). */
	const char *logs[] = {"hub.log", "node-casablanca.log", "agent-a9.log", "agent-a1.log"};
	for (int i = 0; i < 4; i++) {
		RL_CHECK(rlc_count_in_file(rlc_path(&c, logs[i]), "Sanitizer") == 0);
		RL_CHECK(rlc_count_in_file(rlc_path(&c, logs[i]), "runtime error") == 0);
	}
	free(out);
	return rltest_done();
}
