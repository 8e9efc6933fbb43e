/*
 * relais-bench-load: drives a running hub the way three site nodes full of agents do.
 *
 * Three node links (Hello ROLE_NODE; SiteRegister too in --idle runs) each relay their
 * share of the agents with distinct `chan` values, exactly as relais-node does. Agents log in, go ready, and
 * on every offer accept, hang up and finish wrap-up at once: each contact makes a full
 * lifecycle with a durable commit at every step. Contacts are submitted by the nodes at
 * --rate per second (0 = as fast as a window of --window in flight allows).
 *
 * Prints: lifecycles/s, enqueue->offer latency (hub enqueue timestamp to the agent seeing
 * the offer: same host, same clock), submit->ack latency, hub CPU and peak RSS, and the
 * hub's write transactions in the measured window: its own count (the admin link's status
 * counters) and LMDB's (--data: the hub's data_dir, read-only), hence contacts per commit.
 *
 * --idle: no contacts. Agents are laid out half at the first site, the rest at the other two
 * (bench/route writes the hub's config the same way). After the idle window the admin link
 * asks for status (as `relaisctl status` does) a few times, then the first site's node loses
 * its link to the hub and dials again, as a node does after a WAN blip: a new link, a
 * SiteRegister, its SeatsAlive, to which the hub answers "resume" for each of its agents,
 * who resume their sessions (AgentResume with their token) through the node. Prints the time
 * until every one is answered and ready again at the hub and the hub's CPU is back to its
 * idle level, the hub's CPU spent meanwhile, and the status latency at idle and during it.
 *   relais-bench-load --connect URL --hub-pid PID --agents N --secret S --keys DIR
 *                     [--rate R] [--seconds S] [--warmup S] [--idle] [--window W] [--data DIR]
 *                     [--blip-ms MS]
 */
#include <dirent.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rl_client.h"
#include "rl_err.h"
#include "rl_key.h"
#include "rl_log.h"
#include "rl_loop.h"
#include "rl_time.h"

#define NNODES     3
#define TAG_ADMIN  NNODES /* the loop's tag of the admin link (the nodes' are 0..NNODES-1) */
#define TOKEN_LEN  16
#define PROBES_CAP 100000

struct bagent {
	char id[24];
	int node;
	uint64_t chan;
	uint64_t session;
	uint8_t token[TOKEN_LEN]; /* proves the session on resume */
	int state;                /* 0 out, 1 logging in, 2 ready/working */
	int resuming;             /* an AgentResume awaits its answer */
	char contact[32];
	Relais__AgentState hub_state; /* the hub's view, as its pushes said: what a node tells it back */
	char hub_contact[32];
	uint64_t retry_at;
	uint64_t req_sent;
};

struct bsub {
	uint64_t sent_us;
};

/* The admin link: status requests (as relaisctl sends them) and the hub's counters. */
struct admin {
	struct rl_client *cl;
	uint64_t sent_us; /* the request in flight (0: none) */
	uint64_t *rtt;    /* where answers' round trips go now (NULL: nowhere) */
	size_t nrtt;
	uint64_t commits;  /* the hub's write transactions, as the last answer said */
	uint64_t requests; /* the requests it applied, as the last answer said */
	uint64_t ready;    /* agents ready, summed over the queues, as the last answer said */
	unsigned replies;
};

static const char *const sites[NNODES] = {"casablanca", "fes", "dakar"};
static struct rl_client *nodes[NNODES];
static struct rl_client_opts node_opts[NNODES];
static struct rl_key site_key[NNODES];
static struct rl_loop *loop;
static struct admin adm;
static MDB_env *hubenv; /* the hub's store, read-only: its transaction ids */
static struct bagent *agents;
static int nagents, idle, per_frame;
static uint64_t *lat_offer, *lat_ack, *lat_rt;
static size_t nlat_rt;
static size_t nlat_offer, nlat_ack, cap_lat = 4000000;
static uint64_t completed, completed_all, submitted, acked, errors, inflight, logins_done, measuring;
static uint64_t resumed, resumed_ready, not_logged_in, seats_at[NNODES];

static void send_agent(struct bagent *a, rl_env *env, int reliable)
{
	if (nodes[a->node] == NULL)
		return; /* its node's link is down (the wave's blip): the agent waits */
	env->chan = a->chan;
	env->session = a->session;
	if (reliable) {
		a->req_sent = rl_mono_us();
		rl_client_request(nodes[a->node], env, a, NULL);
	} else
		rl_client_send(nodes[a->node], env);
}

static void login(struct bagent *a, const char *secret)
{
	Relais__AgentLogin l = RELAIS__AGENT_LOGIN__INIT;
	rl_env env;

	rl_env_init(&env);
	l.agent_id = a->id;
	l.secret = (char *)secret;
	l.site_id = (char *)sites[a->node];
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_LOGIN;
	env.agent_login = &l;
	a->state = 1;
	send_agent(a, &env, 1);
}

/* resume re-attaches a's session on its node's link, as the agent client does when told
 * its session is not bound to the link it speaks on. */
static void resume(struct bagent *a)
{
	Relais__AgentResume r = RELAIS__AGENT_RESUME__INIT;
	rl_env env;

	rl_env_init(&env);
	r.session = a->session;
	r.token.data = a->token;
	r.token.len = TOKEN_LEN;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_RESUME;
	env.agent_resume = &r;
	a->resuming = 1;
	send_agent(a, &env, 1);
}

static void set_ready(struct bagent *a)
{
	Relais__AgentSetState s = RELAIS__AGENT_SET_STATE__INIT;
	rl_env env;

	rl_env_init(&env);
	s.state = RELAIS__AGENT_STATE__AGENT_READY;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_SET_STATE;
	env.agent_set_state = &s;
	send_agent(a, &env, 1);
}

static void on_status(struct bagent *a, const Relais__AgentStatus *st)
{
	rl_env env;
	rl_env_init(&env);

	if (st->state == RELAIS__AGENT_STATE__AGENT_NOT_READY) {
		set_ready(a);
	} else if (st->state == RELAIS__AGENT_STATE__AGENT_BUSY) {
		Relais__ContactHangup h = RELAIS__CONTACT_HANGUP__INIT;
		h.contact_id = a->contact;
		env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_HANGUP;
		env.contact_hangup = &h;
		send_agent(a, &env, 1);
	} else if (st->state == RELAIS__AGENT_STATE__AGENT_WRAPUP) {
		Relais__WrapupDone w = RELAIS__WRAPUP_DONE__INIT;
		w.contact_id = a->contact;
		w.disposition = "resolved";
		env.body_case = RELAIS__ENVELOPE__BODY_WRAPUP_DONE;
		env.wrapup_done = &w;
		send_agent(a, &env, 1);
		completed_all++;
		if (measuring)
			completed++;
	}
}

static void on_offer(struct bagent *a, const Relais__Offer *o)
{
	Relais__OfferAnswer ans = RELAIS__OFFER_ANSWER__INIT;
	rl_env env;
	uint64_t now = rl_wall_us();

	snprintf(a->contact, sizeof(a->contact), "%s", o->contact_id);
	if (measuring && nlat_offer < cap_lat && now > o->enqueued_us)
		lat_offer[nlat_offer++] = now - o->enqueued_us;
	rl_env_init(&env);
	ans.contact_id = a->contact;
	ans.accept = 1;
	env.body_case = RELAIS__ENVELOPE__BODY_OFFER_ANSWER;
	env.offer_answer = &ans;
	send_agent(a, &env, 1);
}

static void on_login_ok(struct bagent *a, const Relais__AgentLoginOk *ok)
{
	a->session = ok->session;
	if (ok->token.len == TOKEN_LEN)
		memcpy(a->token, ok->token.data, TOKEN_LEN);
	if (ok->status)
		a->hub_state = ok->status->state;
	a->state = 2;
	logins_done++;
	set_ready(a);
}

static void on_agent_status(struct bagent *a, const Relais__AgentStatus *st, int is_reply)
{
	const char *cid = st->contact && st->contact->contact_id ? st->contact->contact_id : "";
	/* A status pushed again (SeatsAlive) changes nothing: act on changes only. */
	int changed = st->state != a->hub_state || strcmp(cid, a->hub_contact) != 0 || is_reply;

	a->hub_state = st->state;
	snprintf(a->hub_contact, sizeof(a->hub_contact), "%s", cid);
	if (is_reply && a->resuming) {
		/* The answer to a resume: the session is bound to the node's new link. */
		a->resuming = 0;
		resumed++;
		resumed_ready += st->state == RELAIS__AGENT_STATE__AGENT_READY;
	} else if (is_reply && measuring && nlat_rt < cap_lat)
		lat_rt[nlat_rt++] = rl_mono_us() - a->req_sent;
	if (changed)
		on_status(a, st);
}

static void on_error(struct bagent *a, const Relais__Error *er)
{
	if (a->state == 1) {
		a->state = 0; /* verifier busy: try again later */
		a->retry_at = rl_mono_us() + 1000000u;
	} else if (er->code == RELAIS__ERROR_CODE__ERR_NOT_LOGGED_IN && a->session) {
		/* The session is not bound to the link the node speaks on now: resume it, once. */
		not_logged_in++;
		if (!a->resuming)
			resume(a);
	} else if (er->code != RELAIS__ERROR_CODE__ERR_BAD_STATE) {
		errors++;
	}
}

static void on_agent(struct bagent *a, const rl_env *env, int is_reply)
{
	switch (env->body_case) {
	case RELAIS__ENVELOPE__BODY_AGENT_LOGIN_OK:
		on_login_ok(a, env->agent_login_ok);
		break;
	case RELAIS__ENVELOPE__BODY_AGENT_STATUS:
		on_agent_status(a, env->agent_status, is_reply);
		break;
	case RELAIS__ENVELOPE__BODY_OFFER:
		on_offer(a, env->offer);
		break;
	case RELAIS__ENVELOPE__BODY_ERROR:
		on_error(a, env->error);
		break;
	default:
		break;
	}
}

static void admin_input(nng_msg *msg)
{
	rl_env *env;
	void *cookie;
	int is_reply;

	if (rl_client_input(adm.cl, msg, &env, &cookie, &is_reply) != RL_OK)
		return;
	if (is_reply && env->body_case == RELAIS__ENVELOPE__BODY_STATUS_REPLY && adm.sent_us != 0) {
		const Relais__StatusReply *r = env->status_reply;
		if (adm.rtt != NULL && adm.nrtt < PROBES_CAP)
			adm.rtt[adm.nrtt++] = rl_mono_us() - adm.sent_us;
		if (r->counters != NULL) {
			adm.commits = r->counters->commits;
			adm.requests = r->counters->requests;
		}
		adm.ready = 0;
		for (size_t i = 0; i < r->n_queues; i++)
			adm.ready += r->queues[i]->agents_ready;
		adm.sent_us = 0;
		adm.replies++;
	}
	rl_wire_free(env);
}

static void handle(int src, nng_msg *msg)
{
	rl_env *env;
	void *cookie;
	int is_reply;

	if (src == TAG_ADMIN) {
		admin_input(msg);
		return;
	}
	if (nodes[src] == NULL) {
		nng_msg_free(msg); /* from the link the blip closed */
		return;
	}
	if (rl_client_input(nodes[src], msg, &env, &cookie, &is_reply) != RL_OK)
		return;
	struct bagent *a = NULL;
	if (env->chan >= 1 && env->chan <= (uint64_t)nagents)
		a = &agents[env->chan - 1];
	if (is_reply && cookie != NULL && a == NULL) {
		/* A submission's answer. */
		struct bsub *s = cookie;
		inflight--;
		if (env->body_case == RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT_OK) {
			acked++;
			if (measuring && nlat_ack < cap_lat)
				lat_ack[nlat_ack++] = rl_mono_us() - s->sent_us;
		} else {
			errors++;
		}
		free(s);
	} else if (a != NULL) {
		on_agent(a, env, is_reply);
	}
	rl_wire_free(env);
}

/* send_seats: one SeatsAlive frame on a node link (arg: its client). */
static void send_seats(void *arg, rl_env *env)
{
	rl_client_send(arg, env);
}

/* seats_alive: node's heartbeat for its logged-in agents, in frames of at most
 * RL_WIRE_MAX_SEATS seats. */
static void seats_alive(int node)
{
	Relais__Seat *s = calloc((size_t)nagents + 1, sizeof(*s));
	Relais__Seat **v = calloc((size_t)nagents + 1, sizeof(*v));
	size_t k = 0;

	for (int i = 0; i < nagents; i++) {
		struct bagent *a = &agents[i];
		if (a->node != node || !a->session)
			continue;
		relais__seat__init(&s[k]);
		s[k].chan = a->chan;
		s[k].session = a->session;
		s[k].state = a->hub_state;
		s[k].contact_id = a->hub_contact;
		v[k] = &s[k];
		k++;
	}
	rl_wire_seats_alive(v, k, send_seats, nodes[node]);
	free(s);
	free(v);
}

static void submit(int node, uint64_t k)
{
	static const char *const queues[] = {"telco.billing", "telco.tech", "bank.cards"};
	static const char *const tenants[] = {"telco", "telco", "bank"};
	Relais__SubmitContact sc = RELAIS__SUBMIT_CONTACT__INIT;
	Relais__ScreenPop pop = RELAIS__SCREEN_POP__INIT;
	struct bsub *s = malloc(sizeof(*s));
	char ext[48], caller[24];
	rl_env env;

	rl_env_init(&env);
	snprintf(ext, sizeof(ext), "b%d-%llu-%llu", node, (unsigned long long)getpid(), (unsigned long long)k);
	snprintf(caller, sizeof(caller), "+2126%08llu", (unsigned long long)(k % 100000000ULL));
	sc.ext_id = ext;
	sc.tenant_id = (char *)tenants[k % 3];
	sc.queue_id = (char *)queues[k % 3];
	sc.priority = (uint32_t)(k % 3);
	pop.caller = caller;
	sc.pop = &pop;
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
	env.submit_contact = &sc;
	s->sent_us = rl_mono_us();
	if (rl_client_request(nodes[node], &env, s, NULL) != RL_OK) {
		free(s);
		errors++;
		return;
	}
	inflight++;
	submitted++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	return (double)v[(size_t)((double)(n - 1) * p)] / 1000.0;
}

/* stat_cpu: user + system seconds from a /proc stat file (a process's or one thread's). */
static int stat_cpu(const char *path, double *cpu_s)
{
	char buf[1024];
	unsigned long ut, st;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	char *p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	*cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

static int proc_cpu(int pid, double *cpu_s)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return stat_cpu(path, cpu_s);
}

/* engine_cpu: the hub's main thread, which runs its engine (hub/main.c's loop). */
static int engine_cpu(int pid, double *cpu_s)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, pid);
	return stat_cpu(path, cpu_s);
}

/* proc_switches: context switches of all the process's threads so far. */
static uint64_t proc_switches(int pid)
{
	char path[64], line[128];
	struct dirent *d;
	uint64_t n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if ((dir = opendir(path)) == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL) {
		FILE *f;
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/status", pid, d->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f))
			if (strstr(line, "ctxt_switches:") != NULL)
				n += strtoull(strchr(line, ':') + 1, NULL, 10);
		fclose(f);
	}
	closedir(dir);
	return n;
}

static long proc_kb(int pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			v = atol(line + strlen(field) + 1);
	fclose(f);
	return v;
}

/* pump handles the links' events for up to ms. Like relais-node, each emulated node sends
 * what one batch of events makes it send as one message (unless --per-frame). */
static void pump(int ms)
{
	struct rl_loop_event evs[512];
	int n = rl_loop_wait(loop, ms, evs, 512);

	for (int i = 0; i < NNODES && !per_frame; i++)
		if (nodes[i] != NULL)
			rl_client_cork(nodes[i]);
	for (int i = 0; i < n; i++)
		handle(evs[i].src, evs[i].msg);
	for (int i = 0; i < NNODES; i++)
		if (nodes[i] != NULL)
			rl_client_flush(nodes[i]);
}

static void tick_links(void)
{
	for (int i = 0; i < NNODES; i++)
		if (nodes[i] != NULL)
			rl_client_tick(nodes[i]);
	if (adm.cl != NULL)
		rl_client_tick(adm.cl);
}

/* serve: the links' traffic for up to ms, and the nodes' SeatsAlive once a second. */
static void serve(int ms)
{
	uint64_t now = rl_mono_us();

	/* Agents heartbeat their node; each node tells the hub once a second, for all of
	 * them, as relais-node does (SeatsAlive; a node whose link is down tells the hub as
	 * soon as it is up again, relais-node's seats.c). */
	for (int node = 0; node < NNODES; node++)
		if (now - seats_at[node] >= 1000000u && nodes[node] != NULL && rl_client_up(nodes[node])) {
			seats_at[node] = now;
			seats_alive(node);
		}
	pump(ms);
	tick_links();
}

/* ---------------------------------------------------------------------------------------- */
/* the hub's write transactions, and its status as an operator sees it */

/* hub_txnid: the id of the hub's last committed write transaction (0: unknown). LMDB gives a
 * commit that wrote nothing no id, so this counts the commits that reached the disk. */
static uint64_t hub_txnid(void)
{
	MDB_envinfo info;

	if (hubenv == NULL || mdb_env_info(hubenv, &info) != 0)
		return 0;
	return info.me_last_txnid;
}

static void hub_store_open(const char *dir)
{
	int rc;

	if ((rc = mdb_env_create(&hubenv)) != 0 || (rc = mdb_env_open(hubenv, dir, MDB_RDONLY, 0600)) != 0) {
		fprintf(stderr, "relais-bench-load: cannot read the hub's store at %s: %s\n", dir, mdb_strerror(rc));
		if (hubenv != NULL)
			mdb_env_close(hubenv);
		hubenv = NULL;
	}
}

/* admin_ask sends a StatusRequest: full asks what `relaisctl status` asks (queues, agents,
 * sites), else the queues (and the hub's counters) alone. One at a time. */
static void admin_ask(int full)
{
	Relais__StatusRequest sr = RELAIS__STATUS_REQUEST__INIT;
	rl_env env;

	if (adm.cl == NULL || adm.sent_us != 0)
		return;
	rl_env_init(&env);
	sr.queues = 1;
	sr.agents = sr.sites = full;
	env.body_case = RELAIS__ENVELOPE__BODY_STATUS_REQUEST;
	env.status_request = &sr;
	adm.sent_us = rl_mono_us();
	if (rl_client_request(adm.cl, &env, &adm, NULL) != RL_OK)
		adm.sent_us = 0;
}

/* admin_wait asks (or waits for the request in flight) and serves the links until the answer
 * or timeout_ms: 1 when answered. */
static int admin_wait(int full, int timeout_ms)
{
	unsigned before = adm.replies;
	uint64_t end = rl_mono_us() + (uint64_t)timeout_ms * 1000u;

	if (adm.cl == NULL)
		return 0;
	admin_ask(full);
	while (adm.replies == before && rl_mono_us() < end)
		serve(1);
	return adm.replies != before;
}

/* ---------------------------------------------------------------------------------------- */
/* the runs */

struct opts {
	const char *url, *secret, *keys, *data;
	int hub_pid, seconds, warmup, window, blip_ms;
	double rate;
	struct rl_tls tls; /* tls+tcp:// */
};

/* A run's figures, printed at the end. */
struct figures {
	double secs, hub_cpu, engine_cpu; /* engine_cpu: the hub's main thread's share */
	uint64_t switches;                /* the hub's context switches in the window */
	uint64_t commits, txns;           /* in the window: the hub's count, LMDB's */
	int have_commits;
	/* the idle run's probes and wave */
	uint64_t idle_rtt[64];
	size_t nidle;
	uint64_t *wave_rtt;
	size_t nwave;
	int wave_agents;
	uint64_t ready_before, ready_after;
	uint64_t requests; /* the hub applied during the wave (AgentResume, SeatsAlive, status ...) */
	uint64_t t_up, t_linked, t_told, t_answered; /* the wave's timeline (monotonic us, 0: never) */
	double down_s, resumed_s, settle_s, wave_cpu, idle_pct, settled_pct;
	int settled;
};

static int parse(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--idle") == 0) {
			idle = 1;
			continue;
		}
		if (strcmp(argv[i], "--per-frame") == 0) {
			per_frame = 1;
			continue;
		}
		if (i + 1 >= argc)
			return 2;
		const char *v = argv[++i], *k = argv[i - 1];
		if (strcmp(k, "--connect") == 0)
			o->url = v;
		else if (strcmp(k, "--hub-pid") == 0)
			o->hub_pid = atoi(v);
		else if (strcmp(k, "--agents") == 0)
			nagents = atoi(v);
		else if (strcmp(k, "--secret") == 0)
			o->secret = v;
		else if (strcmp(k, "--keys") == 0)
			o->keys = v;
		else if (strcmp(k, "--data") == 0)
			o->data = v;
		else if (strcmp(k, "--rate") == 0)
			o->rate = atof(v);
		else if (strcmp(k, "--seconds") == 0)
			o->seconds = atoi(v);
		else if (strcmp(k, "--warmup") == 0)
			o->warmup = atoi(v);
		else if (strcmp(k, "--window") == 0)
			o->window = atoi(v);
		else if (strcmp(k, "--blip-ms") == 0)
			o->blip_ms = atoi(v);
		else if (strcmp(k, "--ca") == 0)
			o->tls.ca_file = v;
		else if (strcmp(k, "--cert") == 0)
			o->tls.cert_file = v;
		else if (strcmp(k, "--key") == 0)
			o->tls.key_file = v;
		else
			return 2;
	}
	if (o->url == NULL || o->keys == NULL || nagents <= 0) {
		fprintf(stderr, "usage: relais-bench-load --connect URL --hub-pid PID --keys DIR --agents N [--rate R] "
		                "[--seconds S] [--idle] [--per-frame] [--data HUB_DATA_DIR] [--blip-ms MS]\n"
		                "       [--ca PEM --cert PEM --key PEM] (tls+tcp://: every link's TLS)\n"
		                "       DIR holds casablanca.key, fes.key and dakar.key (relaisctl keygen), and\n"
		                "       admin.key for the admin link (status latency, the hub's commit count)\n");
		return 2;
	}
	return 0;
}

/* site_register: what a node sends first on each new link (relais-node's rl_node_link_ready):
 * the site comes back at the hub only once registered on the link it speaks on. */
static void site_register(void *arg)
{
	int node = (int)(intptr_t)arg;
	Relais__SiteRegister sr = RELAIS__SITE_REGISTER__INIT;
	rl_env env;

	rl_env_init(&env);
	sr.site_id = (char *)sites[node];
	sr.capacity = 100;
	sr.health = 100;
	sr.boot_id = ((uint64_t)getpid() << 8) + (uint64_t)node + 1; /* the same boot after a blip */
	sr.name = "bench";
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_REGISTER;
	env.site_register = &sr;
	rl_client_request(nodes[node], &env, NULL, NULL);
}

static int open_links(const struct opts *o)
{
	static struct rl_key admin_key;
	char path[1024];

	for (int i = 0; i < NNODES; i++) {
		snprintf(path, sizeof(path), "%s/%s.key", o->keys, sites[i]);
		if (rl_key_load(&site_key[i], path) != RL_OK) {
			fprintf(stderr, "relais-bench-load: cannot read %s\n", path);
			return 1;
		}
		node_opts[i] = (struct rl_client_opts){.url = o->url,
		                                       .tls = &o->tls,
		                                       .role = RELAIS__ROLE__ROLE_NODE,
		                                       .site_id = sites[i],
		                                       .name = "bench",
		                                       .key = &site_key[i]};
		/* The idle run's blip needs the site registered again; the routing runs stay as
		 * they were measured before (no SiteRegister). */
		if (idle) {
			node_opts[i].on_ready = site_register;
			node_opts[i].ready_arg = (void *)(intptr_t)i;
		}
		if (rl_client_open(&nodes[i], &node_opts[i], loop, i) != RL_OK)
			return 1;
	}
	snprintf(path, sizeof(path), "%s/admin.key", o->keys);
	if (rl_key_load(&admin_key, path) == RL_OK) {
		struct rl_client_opts a = {.url = o->url,
		                           .tls = &o->tls,
		                           .role = RELAIS__ROLE__ROLE_CTL,
		                           .name = "bench",
		                           .principal = "admin",
		                           .key = &admin_key};
		if (rl_client_open(&adm.cl, &a, loop, TAG_ADMIN) != RL_OK)
			return 1;
	}
	if (o->data != NULL)
		hub_store_open(o->data);
	return 0;
}

/* place: the agents' sites. Routing runs: round robin (as always). Idle runs: the first half
 * at the first site - the one whose link blips - the rest at the other two (bench/route
 * writes the hub's config the same way). */
static void place(void)
{
	for (int i = 0; i < nagents; i++) {
		snprintf(agents[i].id, sizeof(agents[i].id), "b%06d", i);
		agents[i].node = !idle ? i % NNODES : i < nagents / 2 ? 0 : 1 + i % 2;
		agents[i].chan = (uint64_t)i + 1;
	}
}

/* Log everyone in, a window at a time (the hub verifies argon2id on one thread). */
static void login_all(const char *secret)
{
	uint64_t t0 = rl_mono_us();
	int next = 0;

	while (logins_done < (uint64_t)nagents && rl_mono_us() - t0 < 600000000u) {
		int pending = 0;
		for (int i = 0; i < next; i++)
			pending += agents[i].state == 1;
		for (int i = 0; i < nagents && pending < 500; i++) {
			struct bagent *a = &agents[i];
			if (a->state == 0 && rl_mono_us() >= a->retry_at && rl_client_up(nodes[a->node])) {
				login(a, secret);
				pending++;
				if (i >= next)
					next = i + 1;
			}
		}
		pump(5);
		tick_links();
	}
	printf("logged in: %llu agents in %.1f s\n", (unsigned long long)logins_done,
	       (double)(rl_mono_us() - t0) / 1e6);
}

/* drive offers the load (none when idle) through the warm-up and the measured window. */
static void drive(const struct opts *o, struct figures *fg)
{
	double cpu0 = 0, cpu1 = 0, eng0 = 0, eng1 = 0, credit = 0;
	uint64_t start = 0, k = 0, txn0 = 0, c0 = 0, sw0 = 0;
	uint64_t warm_end = rl_mono_us() + (uint64_t)o->warmup * 1000000u;
	uint64_t end = warm_end + (uint64_t)o->seconds * 1000000u, last = rl_mono_us();
	unsigned r0 = 0;
	int got0 = 0;

	while (rl_mono_us() < end) {
		uint64_t now = rl_mono_us();
		if (!measuring && now >= warm_end) {
			measuring = 1;
			start = now;
			proc_cpu(o->hub_pid, &cpu0);
			engine_cpu(o->hub_pid, &eng0);
			sw0 = proc_switches(o->hub_pid);
			txn0 = hub_txnid();
			r0 = adm.replies;
			admin_ask(0); /* the hub's commit count, answered while the load goes on */
		}
		if (!idle) {
			credit += o->rate > 0 ? o->rate * (double)(now - last) / 1e6 : 1e9;
			if (credit > 1000)
				credit = o->rate > 0 ? 1000 : 1e9;
			/* Closed loop: at most `window` contacts between submission and wrap-up. The
			 * nodes' submissions of one turn leave with what the turn's events send, as a
			 * node's calls arriving in one batch of its loop do (pump flushes). */
			for (int i = 0; i < NNODES && !per_frame; i++)
				if (nodes[i] != NULL)
					rl_client_cork(nodes[i]);
			while (credit >= 1 && submitted - completed_all < (uint64_t)o->window) {
				submit((int)(k % NNODES), k);
				k++;
				credit -= 1;
			}
		}
		last = now;
		if (!got0 && measuring && adm.replies > r0) {
			got0 = 1;
			c0 = adm.commits;
		}
		serve(1);
	}
	proc_cpu(o->hub_pid, &cpu1);
	engine_cpu(o->hub_pid, &eng1);
	fg->switches = proc_switches(o->hub_pid) - sw0;
	fg->engine_cpu = eng1 - eng0;
	fg->txns = hub_txnid() - txn0;
	fg->secs = (double)(rl_mono_us() - start) / 1e6;
	fg->hub_cpu = cpu1 - cpu0;
	measuring = 0;
	if (!got0 && admin_wait(0, 5000)) { /* the window's first answer, late */
		got0 = 1;
		c0 = adm.commits;
	}
	fg->have_commits = got0 && admin_wait(0, 5000);
	fg->commits = fg->have_commits ? adm.commits - c0 : 0;
}

/* idle_probes: the status latency of an idle hub, ten requests 200 ms apart. */
static void idle_probes(struct figures *fg)
{
	adm.rtt = fg->idle_rtt;
	adm.nrtt = 0;
	for (int i = 0; i < 10; i++) {
		uint64_t until;
		admin_wait(1, 5000);
		for (until = rl_mono_us() + 200000u; rl_mono_us() < until;)
			serve(10);
	}
	fg->nidle = adm.nrtt;
	adm.rtt = NULL;
}

/* relink: the first site's node dials the hub again, as after its link went silent. */
static int relink(void)
{
	return rl_client_open(&nodes[0], &node_opts[0], loop, 0);
}

/* wave_wait serves the links and asks for status every 250 ms (each costs the hub a walk
 * over its agents: asking more often would be most of its work) until every agent of the
 * wave is answered and the hub counts as many agents ready as before, or until the deadline;
 * returns the time it was so (0: never). */
static uint64_t wave_wait(struct figures *fg, uint64_t deadline)
{
	uint64_t next_probe = 0;
	unsigned seen = adm.replies;

	while (rl_mono_us() < deadline) {
		uint64_t now = rl_mono_us();
		if (adm.sent_us == 0 && now >= next_probe) {
			admin_ask(1);
			next_probe = now + 250000u;
		}
		serve(1);
		if (!fg->t_linked && nodes[0] != NULL && rl_client_up(nodes[0]))
			fg->t_linked = rl_mono_us();
		if (!fg->t_told && not_logged_in)
			fg->t_told = rl_mono_us();
		if (!fg->t_answered && resumed >= (uint64_t)fg->wave_agents)
			fg->t_answered = rl_mono_us();
		if (adm.replies != seen) {
			seen = adm.replies;
			fg->ready_after = adm.ready;
			if (resumed >= (uint64_t)fg->wave_agents && adm.ready >= fg->ready_before)
				return rl_mono_us();
		}
	}
	return 0;
}

/* wave_settle serves the links until a half second in which the hub's CPU is back at most
 * 5 points of a core above its idle level; returns that time (0: not before the deadline). */
static uint64_t wave_settle(const struct opts *o, struct figures *fg, uint64_t deadline)
{
	while (rl_mono_us() < deadline) {
		double c0 = 0, c1 = 0;
		uint64_t t0 = rl_mono_us(), end = t0 + 500000u;
		proc_cpu(o->hub_pid, &c0);
		while (rl_mono_us() < end)
			serve(10);
		proc_cpu(o->hub_pid, &c1);
		fg->settled_pct = (c1 - c0) / ((double)(rl_mono_us() - t0) / 1e6) * 100.0;
		if (fg->settled_pct <= fg->idle_pct + 5.0)
			return rl_mono_us();
	}
	return 0;
}

/* wave: the first site's link drops and its agents come back through it (see the top). */
static void wave(const struct opts *o, struct figures *fg)
{
	double cpu0 = 0, cpu1 = 0;
	uint64_t t_drop, t_up, t_ready, t_settled;

	fg->idle_pct = fg->hub_cpu / fg->secs * 100.0;
	for (int i = 0; i < nagents; i++)
		fg->wave_agents += agents[i].node == 0 && agents[i].session != 0;
	admin_wait(1, 5000);
	fg->ready_before = adm.ready;
	fg->requests = adm.requests;
	fg->wave_rtt = calloc(PROBES_CAP, sizeof(uint64_t));
	adm.rtt = fg->wave_rtt;
	adm.nrtt = 0;
	resumed = resumed_ready = not_logged_in = 0;
	proc_cpu(o->hub_pid, &cpu0);
	t_drop = rl_mono_us();
	rl_client_close(nodes[0]);
	nodes[0] = NULL;
	while (rl_mono_us() - t_drop < (uint64_t)o->blip_ms * 1000u)
		serve(10);
	if (relink() != RL_OK)
		return;
	fg->t_up = t_up = rl_mono_us();
	t_ready = wave_wait(fg, t_up + 120000000u);
	fg->nwave = adm.nrtt;
	if (adm.sent_us != 0)
		admin_wait(1, 10000); /* the request still in flight counts too */
	fg->nwave = adm.nrtt;
	fg->requests = adm.requests - fg->requests;
	adm.rtt = NULL;
	t_settled = t_ready ? wave_settle(o, fg, t_up + 120000000u) : 0;
	proc_cpu(o->hub_pid, &cpu1);
	fg->down_s = (double)(t_up - t_drop) / 1e6;
	fg->resumed_s = t_ready ? (double)(t_ready - t_up) / 1e6 : -1;
	fg->settled = t_settled != 0;
	fg->settle_s = t_settled ? (double)(t_settled - t_up) / 1e6 : -1;
	fg->wave_cpu = cpu1 - cpu0;
}

/* since: seconds from t0 to t (-1: never). */
static double since(uint64_t t, uint64_t t0)
{
	return t ? (double)(t - t0) / 1e6 : -1.0;
}

static void report_wave(struct figures *fg)
{
	qsort(fg->idle_rtt, fg->nidle, sizeof(uint64_t), cmp_u64);
	qsort(fg->wave_rtt, fg->nwave, sizeof(uint64_t), cmp_u64);
	printf("status at idle    p50 %.2f ms  max %.2f ms  (%zu of 10 answered; queues, agents, sites)\n",
	       pct(fg->idle_rtt, fg->nidle, 0.5), pct(fg->idle_rtt, fg->nidle, 1.0), fg->nidle);
	printf("reconnect wave    %d agents of %s: link closed, dialled again after %.1f s\n", fg->wave_agents,
	       sites[0], fg->down_s);
	printf("wave answered     %llu resumed (%llu ready, %llu told to resume)", (unsigned long long)resumed,
	       (unsigned long long)resumed_ready, (unsigned long long)not_logged_in);
	if (fg->resumed_s >= 0)
		printf(", all ready at the hub %.2f s after the link was back\n", fg->resumed_s);
	else
		printf(", NOT all ready at the hub within 120 s (hub ready count %llu of %llu)\n",
		       (unsigned long long)fg->ready_after, (unsigned long long)fg->ready_before);
	printf("wave timeline     link up %.3f s, first told to resume %.3f s, all answered %.3f s\n",
	       since(fg->t_linked, fg->t_up), since(fg->t_told, fg->t_up), since(fg->t_answered, fg->t_up));
	if (fg->settled)
		printf("wave settled      %.2f s after the link was back (hub CPU %.0f %% <= idle %.0f %% + 5)\n",
		       fg->settle_s, fg->settled_pct, fg->idle_pct);
	else
		printf("wave settled      no (hub CPU %.0f %% of one core in the last half second)\n", fg->settled_pct);
	printf("wave hub CPU      %.1f s, from the drop to settled; %llu requests applied (resumes, seats, status)\n",
	       fg->wave_cpu, (unsigned long long)fg->requests);
	printf("status in wave    p50 %.2f ms  max %.2f ms  (n=%zu)\n", pct(fg->wave_rtt, fg->nwave, 0.5),
	       pct(fg->wave_rtt, fg->nwave, 1.0), fg->nwave);
}

static void report(const struct opts *o, struct figures *fg)
{
	long hwm = proc_kb(o->hub_pid, "VmHWM:"), rss = proc_kb(o->hub_pid, "VmRSS:");
	double secs = fg->secs, hub_cpu = fg->hub_cpu;
	double per_commit = fg->txns ? (double)completed / (double)fg->txns : 0;

	qsort(lat_offer, nlat_offer, sizeof(uint64_t), cmp_u64);
	qsort(lat_ack, nlat_ack, sizeof(uint64_t), cmp_u64);
	qsort(lat_rt, nlat_rt, sizeof(uint64_t), cmp_u64);
	printf("agents            %d (3 sites)\n", nagents);
	if (!idle) {
		printf("offered rate      %s\n", o->rate > 0 ? "paced" : "max (window)");
		printf("lifecycles/s      %.0f  (%llu in %.1f s; submitted %llu, acked %llu, errors %llu)\n",
		       (double)completed / secs, (unsigned long long)completed, secs, (unsigned long long)submitted,
		       (unsigned long long)acked, (unsigned long long)errors);
		printf("enqueue->offer    p50 %.2f ms  p99 %.2f ms  max %.2f ms  (n=%zu)\n",
		       pct(lat_offer, nlat_offer, 0.5), pct(lat_offer, nlat_offer, 0.99),
		       pct(lat_offer, nlat_offer, 1.0), nlat_offer);
		printf("submit->ack       p50 %.2f ms  p99 %.2f ms\n", pct(lat_ack, nlat_ack, 0.5),
		       pct(lat_ack, nlat_ack, 0.99));
		printf("agent request rtt p50 %.2f ms  p90 %.2f ms  p99 %.2f ms\n", pct(lat_rt, nlat_rt, 0.5),
		       pct(lat_rt, nlat_rt, 0.9), pct(lat_rt, nlat_rt, 0.99));
		if (completed) {
			printf("hub CPU/contact   %.1f us\n", hub_cpu * 1e6 / (double)completed);
			printf(
			    "  by thread       engine %.1f us, I/O threads and the rest %.1f us; %.2f context switches\n",
			    fg->engine_cpu * 1e6 / (double)completed,
			    (hub_cpu - fg->engine_cpu) * 1e6 / (double)completed,
			    (double)fg->switches / (double)completed);
		}
		printf("hub commits       %llu LMDB write transactions (%.2f contacts each); the hub counted ",
		       (unsigned long long)fg->txns, per_commit);
		if (fg->have_commits)
			printf("%llu commits\n", (unsigned long long)fg->commits);
		else
			printf("? (no admin link)\n");
	}
	printf("hub CPU           %.0f %% of one core\n", hub_cpu / secs * 100.0);
	printf("hub RSS           %.1f MiB now, %.1f MiB peak\n", (double)rss / 1024.0, (double)hwm / 1024.0);
	if (idle)
		report_wave(fg);
	printf("RESULT lifecycles_per_s=%.0f p50_ms=%.3f p99_ms=%.3f cpu_pct=%.0f peak_rss_mib=%.1f",
	       idle ? 0.0 : (double)completed / secs, pct(lat_offer, nlat_offer, 0.5), pct(lat_offer, nlat_offer, 0.99),
	       hub_cpu / secs * 100.0, (double)hwm / 1024.0);
	if (!idle)
		printf(
		    " us_per_contact=%.1f engine_us_per_contact=%.1f switches_per_contact=%.2f per_commit=%.2f txns=%llu "
		    "hub_commits=%llu\n",
		    completed ? hub_cpu * 1e6 / (double)completed : 0.0,
		    completed ? fg->engine_cpu * 1e6 / (double)completed : 0.0,
		    completed ? (double)fg->switches / (double)completed : 0.0, per_commit,
		    (unsigned long long)fg->txns, (unsigned long long)fg->commits);
	else
		printf(
		    " status_idle_p50_ms=%.2f status_idle_max_ms=%.2f wave_agents=%d wave_ready_s=%.2f wave_settle_s=%.2f "
		    "wave_cpu_s=%.1f status_wave_p50_ms=%.2f status_wave_max_ms=%.2f\n",
		    pct(fg->idle_rtt, fg->nidle, 0.5), pct(fg->idle_rtt, fg->nidle, 1.0), fg->wave_agents,
		    fg->resumed_s, fg->settle_s, fg->wave_cpu, pct(fg->wave_rtt, fg->nwave, 0.5),
		    pct(fg->wave_rtt, fg->nwave, 1.0));
}

int main(int argc, char **argv)
{
	struct opts o = {.secret = "bench", .seconds = 10, .warmup = 2, .blip_ms = 1000};
	struct figures fg = {0};

	nagents = 300;
	if (parse(argc, argv, &o) != 0)
		return 2;
	rl_log_init("bench", RL_LOG_ERR);
	if (o.window <= 0)
		o.window = nagents; /* one contact per agent in flight: a saturated ACD */
	agents = calloc((size_t)nagents, sizeof(*agents));
	lat_offer = malloc(cap_lat * sizeof(uint64_t));
	lat_ack = malloc(cap_lat * sizeof(uint64_t));
	lat_rt = malloc(cap_lat * sizeof(uint64_t));
	if (rl_loop_create(&loop) != RL_OK || open_links(&o) != 0)
		return 1;
	place();
	login_all(o.secret);
	drive(&o, &fg);
	if (idle) {
		idle_probes(&fg);
		wave(&o, &fg);
	}
	report(&o, &fg);
	rl_loop_destroy(loop);
	for (int i = 0; i < NNODES; i++)
		rl_client_close(nodes[i]);
	rl_client_close(adm.cl);
	if (hubenv != NULL)
		mdb_env_close(hubenv);
	free(fg.wave_rtt);
	return 0;
}
