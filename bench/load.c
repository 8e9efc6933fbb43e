/*
 * relais-bench-load: drives a running hub the way three site nodes full of agents do.
 *
 * Three node links (Hello ROLE_NODE, SiteRegister) each relay their share of the agents
 * with distinct `chan` values, exactly as relais-node does. Agents log in, go ready, and
 * on every offer accept, hang up and finish wrap-up at once: each contact makes a full
 * lifecycle with a durable commit at every step. Contacts are submitted by the nodes at
 * --rate per second (0 = as fast as a window of --window in flight allows).
 *
 * Prints: lifecycles/s, enqueue->offer latency (hub enqueue timestamp to the agent seeing
 * the offer: same host, same clock), submit->ack latency, hub CPU and peak RSS.
 *   relais-bench-load --connect URL --hub-pid PID --agents N --secret S
 *                     [--rate R] [--seconds S] [--warmup S] [--idle] [--window W]
 */
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

#define NNODES 3

struct bagent {
	char id[24];
	int node;
	uint64_t chan;
	uint64_t session;
	int state; /* 0 out, 1 logging in, 2 ready/working */
	char contact[32];
	Relais__AgentState hub_state; /* the hub's view, as its pushes said: what a node tells it back */
	char hub_contact[32];
	uint64_t retry_at;
	uint64_t req_sent;
};

struct bsub {
	uint64_t sent_us;
};

static const char *const sites[NNODES] = {"casablanca", "fes", "dakar"};
static struct rl_client *nodes[NNODES];
static struct bagent *agents;
static int nagents;
static uint64_t *lat_offer, *lat_ack, *lat_rt;
static size_t nlat_rt;
static size_t nlat_offer, nlat_ack, cap_lat = 4000000;
static uint64_t completed, completed_all, submitted, acked, errors, inflight, logins_done, measuring;

static void send_agent(struct bagent *a, rl_env *env, int reliable)
{
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

static void handle(int node, nng_msg *msg)
{
	rl_env *env;
	void *cookie;
	int is_reply;

	if (rl_client_input(nodes[node], msg, &env, &cookie, &is_reply) != RL_OK)
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
		switch (env->body_case) {
		case RELAIS__ENVELOPE__BODY_AGENT_LOGIN_OK:
			a->session = env->agent_login_ok->session;
			if (env->agent_login_ok->status)
				a->hub_state = env->agent_login_ok->status->state;
			a->state = 2;
			logins_done++;
			set_ready(a);
			break;
		case RELAIS__ENVELOPE__BODY_AGENT_STATUS: {
			const Relais__AgentStatus *st = env->agent_status;
			const char *cid = st->contact && st->contact->contact_id ? st->contact->contact_id : "";
			/* A status pushed again (SeatsAlive) changes nothing: act on changes only. */
			int changed = st->state != a->hub_state || strcmp(cid, a->hub_contact) != 0 || is_reply;
			a->hub_state = st->state;
			snprintf(a->hub_contact, sizeof(a->hub_contact), "%s", cid);
			if (is_reply && measuring && nlat_rt < cap_lat)
				lat_rt[nlat_rt++] = rl_mono_us() - a->req_sent;
			if (changed)
				on_status(a, st);
			break;
		}
		case RELAIS__ENVELOPE__BODY_OFFER:
			on_offer(a, env->offer);
			break;
		case RELAIS__ENVELOPE__BODY_ERROR:
			if (a->state == 1) {
				a->state = 0; /* verifier busy: try again later */
				a->retry_at = rl_mono_us() + 1000000u;
			} else if (env->error->code != RELAIS__ERROR_CODE__ERR_BAD_STATE) {
				errors++;
			}
			break;
		default:
			break;
		}
	}
	rl_wire_free(env);
}

/* send_seats: one SeatsAlive frame from node with the seats v[0..k). */
static void send_seats(int node, Relais__Seat **v, size_t k)
{
	Relais__SeatsAlive sa = RELAIS__SEATS_ALIVE__INIT;
	rl_env env;

	rl_env_init(&env);
	sa.n_seats = k;
	sa.seats = v;
	env.body_case = RELAIS__ENVELOPE__BODY_SEATS_ALIVE;
	env.seats_alive = &sa;
	rl_client_send(nodes[node], &env);
}

/* seats_alive: each node's heartbeat for its logged-in agents, in frames of at most
 * RL_WIRE_MAX_SEATS seats. */
static void seats_alive(void)
{
	Relais__Seat *s = calloc(RL_WIRE_MAX_SEATS, sizeof(*s));
	Relais__Seat **v = calloc(RL_WIRE_MAX_SEATS, sizeof(*v));

	for (int node = 0; node < NNODES; node++) {
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
			if (++k == RL_WIRE_MAX_SEATS) {
				send_seats(node, v, k);
				k = 0;
			}
		}
		if (k > 0)
			send_seats(node, v, k);
	}
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

static int proc_cpu(int pid, double *cpu_s)
{
	char path[64], buf[1024];
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
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

static void pump(struct rl_loop *loop, int ms)
{
	struct rl_loop_event evs[512];
	int n = rl_loop_wait(loop, ms, evs, 512);

	for (int i = 0; i < n; i++)
		handle(evs[i].src, evs[i].msg);
}

int main(int argc, char **argv)
{
	const char *url = NULL, *secret = "bench", *keys = NULL;
	struct rl_key site_key[NNODES];
	int hub_pid = 0, seconds = 10, warmup = 2, idle = 0, window = 0;
	double rate = 0;
	struct rl_loop *loop;

	nagents = 300;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--idle") == 0) {
			idle = 1;
			continue;
		}
		if (i + 1 >= argc)
			return 2;
		const char *v = argv[++i];
		if (strcmp(argv[i - 1], "--connect") == 0)
			url = v;
		else if (strcmp(argv[i - 1], "--hub-pid") == 0)
			hub_pid = atoi(v);
		else if (strcmp(argv[i - 1], "--agents") == 0)
			nagents = atoi(v);
		else if (strcmp(argv[i - 1], "--secret") == 0)
			secret = v;
		else if (strcmp(argv[i - 1], "--keys") == 0)
			keys = v;
		else if (strcmp(argv[i - 1], "--rate") == 0)
			rate = atof(v);
		else if (strcmp(argv[i - 1], "--seconds") == 0)
			seconds = atoi(v);
		else if (strcmp(argv[i - 1], "--warmup") == 0)
			warmup = atoi(v);
		else if (strcmp(argv[i - 1], "--window") == 0)
			window = atoi(v);
		else
			return 2;
	}
	if (url == NULL || keys == NULL || nagents <= 0) {
		fprintf(stderr, "usage: relais-bench-load --connect URL --hub-pid PID --keys DIR --agents N [--rate R] "
		                "[--seconds S] [--idle]\n"
		                "       DIR holds casablanca.key, fes.key and dakar.key (relaisctl keygen)\n");
		return 2;
	}
	rl_log_init("bench", RL_LOG_ERR);
	if (window <= 0)
		window = nagents; /* one contact per agent in flight: a saturated ACD */
	agents = calloc((size_t)nagents, sizeof(*agents));
	lat_offer = malloc(cap_lat * sizeof(uint64_t));
	lat_ack = malloc(cap_lat * sizeof(uint64_t));
	lat_rt = malloc(cap_lat * sizeof(uint64_t));
	if (rl_loop_create(&loop) != RL_OK)
		return 1;
	for (int i = 0; i < NNODES; i++) {
		struct rl_client_opts o = {.url = url,
		                           .role = RELAIS__ROLE__ROLE_NODE,
		                           .site_id = sites[i],
		                           .name = "bench",
		                           .key = &site_key[i]};
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s.key", keys, sites[i]);
		if (rl_key_load(&site_key[i], path) != RL_OK) {
			fprintf(stderr, "relais-bench-load: cannot read %s\n", path);
			return 1;
		}
		if (rl_client_open(&nodes[i], &o, loop, i) != RL_OK)
			return 1;
	}
	for (int i = 0; i < nagents; i++) {
		snprintf(agents[i].id, sizeof(agents[i].id), "b%06d", i);
		agents[i].node = i % NNODES;
		agents[i].chan = (uint64_t)i + 1;
	}
	/* Log everyone in, a window at a time (the hub verifies argon2id on one thread). */
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
		pump(loop, 5);
		for (int i = 0; i < NNODES; i++)
			rl_client_tick(nodes[i]);
	}
	printf("logged in: %llu agents in %.1f s\n", (unsigned long long)logins_done,
	       (double)(rl_mono_us() - t0) / 1e6);

	double cpu0 = 0, cpu1 = 0;
	uint64_t start = 0, end, k = 0;
	uint64_t warm_end = rl_mono_us() + (uint64_t)warmup * 1000000u;
	end = warm_end + (uint64_t)seconds * 1000000u;
	double credit = 0;
	uint64_t last = rl_mono_us(), last_seats = 0;
	while (rl_mono_us() < end) {
		uint64_t now = rl_mono_us();
		if (!measuring && now >= warm_end) {
			measuring = 1;
			start = now;
			proc_cpu(hub_pid, &cpu0);
		}
		if (!idle) {
			credit += rate > 0 ? rate * (double)(now - last) / 1e6 : 1e9;
			if (credit > 1000)
				credit = rate > 0 ? 1000 : 1e9;
			/* Closed loop: at most `window` contacts between submission and wrap-up. */
			while (credit >= 1 && submitted - completed_all < (uint64_t)window) {
				submit((int)(k % NNODES), k);
				k++;
				credit -= 1;
			}
		}
		last = now;
		/* Agents heartbeat their node; each node tells the hub once a second, for all of
		 * them, as relais-node does (SeatsAlive). */
		if (now - last_seats >= 1000000u) {
			last_seats = now;
			seats_alive();
		}
		pump(loop, 1);
		for (int i = 0; i < NNODES; i++)
			rl_client_tick(nodes[i]);
	}
	proc_cpu(hub_pid, &cpu1);
	double secs = (double)(rl_mono_us() - start) / 1e6;
	long hwm = proc_kb(hub_pid, "VmHWM:"), rss = proc_kb(hub_pid, "VmRSS:");
	qsort(lat_offer, nlat_offer, sizeof(uint64_t), cmp_u64);
	qsort(lat_ack, nlat_ack, sizeof(uint64_t), cmp_u64);
	qsort(lat_rt, nlat_rt, sizeof(uint64_t), cmp_u64);
	double hub_cpu = cpu1 - cpu0;
	printf("agents            %d (3 sites)\n", nagents);
	if (!idle) {
		printf("offered rate      %s\n", rate > 0 ? "paced" : "max (window)");
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
		if (completed)
			printf("hub CPU/contact   %.1f us\n", hub_cpu * 1e6 / (double)completed);
	}
	printf("hub CPU           %.0f %% of one core\n", hub_cpu / secs * 100.0);
	printf("hub RSS           %.1f MiB now, %.1f MiB peak\n", (double)rss / 1024.0, (double)hwm / 1024.0);
	printf("RESULT lifecycles_per_s=%.0f p50_ms=%.3f p99_ms=%.3f cpu_pct=%.0f peak_rss_mib=%.1f\n",
	       idle ? 0.0 : (double)completed / secs, pct(lat_offer, nlat_offer, 0.5), pct(lat_offer, nlat_offer, 0.99),
	       hub_cpu / secs * 100.0, (double)hwm / 1024.0);
	rl_loop_destroy(loop);
	for (int i = 0; i < NNODES; i++)
		rl_client_close(nodes[i]);
	return 0;
}
