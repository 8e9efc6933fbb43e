/*
 * A client finds the leading hub among its endpoints, over real sockets on loopback: hubs
 * played here by rl_link servers that either lead (HelloOk, requests answered) or stand by
 * (every Hello answered Error{ERR_NOT_LEADER, leader}).
 *   - "standby,leader", the standby naming the leader: the client is on the leader within
 *     1 s (not RL_LINK_DEAD_MS), and the request it made before is answered there; named
 *     past a third endpoint, it goes straight to the leader;
 *   - a standby naming an address the client was not given: it goes to its next endpoint and
 *     never dials that address; with one endpoint it stays, says so once, and is answered
 *     once that hub leads;
 *   - hubs that all stand by with no leader to name: the client goes from one to the next at
 *     most every RL_CLIENT_MOVE_MS, and is answered once one of them leads;
 *   - the hub it is up on stops leading and answers a request so: it follows the answer to
 *     a new Hello;
 *   - the leader's socket closed (its process gone) while the client has a second endpoint:
 *     the client is up on the second within 1 s; with one endpoint it stays and comes back
 *     when the same address answers again.
 */
#include <fcntl.h>
#include <nng/nng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rl_client.h"
#include "rl_err.h"
#include "rl_link.h"
#include "rl_loop.h"
#include "rl_time.h"
#include "rltest.h"

#define MAX_HUBS   4
#define TAG_CLIENT 100

struct hub {
	nng_socket sock;
	char url[64];
	const char *leader; /* NULL: leads; else stands by, naming this as the leader */
	unsigned hellos, requests;
	int open;
};

struct world {
	struct rl_loop *loop;
	struct hub hubs[MAX_HUBS];
	struct rl_client *c;
	unsigned replies;
	void *cookie;
};

static void hub_handle(struct hub *h, nng_msg *m)
{
	rl_env *env = NULL, out;
	uint32_t pipe;
	Relais__HelloOk ok = RELAIS__HELLO_OK__INIT;
	Relais__Error err = RELAIS__ERROR__INIT;
	Relais__Ok okb = RELAIS__OK__INIT;
	int rv = rl_link_recv_env(m, &env, &pipe);

	nng_msg_free(m); /* decoded apart from it */
	if (rv != RL_OK) {
		rl_wire_free(env);
		return;
	}
	rl_env_init(&out);
	out.req_id = env->req_id;
	if (env->body_case == RELAIS__ENVELOPE__BODY_HELLO) {
		h->hellos++;
		if (h->leader == NULL) {
			out.body_case = RELAIS__ENVELOPE__BODY_HELLO_OK;
			out.hello_ok = &ok;
		} else {
			err.code = RELAIS__ERROR_CODE__ERR_NOT_LEADER;
			err.leader = (char *)h->leader;
			out.body_case = RELAIS__ENVELOPE__BODY_ERROR;
			out.error = &err;
		}
		rl_link_send(h->sock, pipe, &out);
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_STATUS_REQUEST) {
		h->requests++;
		out.body_case = RELAIS__ENVELOPE__BODY_OK;
		out.ok = &okb;
		if (h->leader != NULL) { /* stopped leading under a link that was up */
			err.code = RELAIS__ERROR_CODE__ERR_NOT_LEADER;
			err.leader = (char *)h->leader;
			out.body_case = RELAIS__ENVELOPE__BODY_ERROR;
			out.error = &err;
		}
		rl_link_send(h->sock, pipe, &out);
	}
	rl_wire_free(env);
}

/* hub_reopen listens again at i's address: the same hub, restarted. */
static void hub_reopen(struct world *w, unsigned i)
{
	struct hub *h = &w->hubs[i];

	RL_REQUIRE(rl_link_server_open(&h->sock) == RL_OK);
	RL_REQUIRE(rl_link_listen(h->sock, h->url, NULL) == RL_OK);
	RL_REQUIRE(rl_loop_add_socket(w->loop, h->sock, (int)i + 1) == RL_OK);
	h->open = 1;
}

/* hub_open listens at i's own free port; leader as in struct hub. */
static void hub_open(struct world *w, unsigned i, const char *leader)
{
	struct hub *h = &w->hubs[i];

	snprintf(h->url, sizeof(h->url), "tcp://127.0.0.1:%d", rltest_free_port());
	h->leader = leader;
	hub_reopen(w, i);
}

/* hub_close closes i's socket: to the client, its process is gone. */
static void hub_close(struct world *w, unsigned i)
{
	nng_close(w->hubs[i].sock);
	w->hubs[i].open = 0;
}

static void world_begin(struct world *w)
{
	memset(w, 0, sizeof(*w));
	RL_REQUIRE(rl_loop_create(&w->loop) == RL_OK);
}

static void world_end(struct world *w)
{
	rl_loop_destroy(w->loop);
	rl_client_close(w->c);
	for (unsigned i = 0; i < MAX_HUBS; i++)
		if (w->hubs[i].open)
			hub_close(w, i);
}

static void request(struct world *w, void *cookie)
{
	Relais__StatusRequest sr = RELAIS__STATUS_REQUEST__INIT;
	rl_env env;

	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_STATUS_REQUEST;
	env.status_request = &sr;
	RL_REQUIRE(rl_client_request(w->c, &env, cookie, NULL) == RL_OK);
}

/* client_open dials list with a request pending from the start. */
static void client_open(struct world *w, const char *list)
{
	struct rl_client_opts o = {.url = list, .role = RELAIS__ROLE__ROLE_CTL, .name = "test"};

	RL_REQUIRE(rl_client_open(&w->c, &o, w->loop, TAG_CLIENT) == RL_OK);
	request(w, w);
}

/* pump runs the loop for up to ms, until the client has seen `want` replies (0: the whole
 * time); returns the ms it ran. */
static unsigned pump(struct world *w, unsigned want, int ms)
{
	struct rl_loop_event evs[16];
	uint64_t start = rl_mono_us(), end = start + (uint64_t)ms * 1000u;

	while (rl_mono_us() < end && (want == 0 || w->replies < want)) {
		int n = rl_loop_wait(w->loop, 10, evs, 16);
		for (int i = 0; i < n; i++) {
			rl_env *env;
			void *cookie;
			int is_reply;
			if (evs[i].src != TAG_CLIENT) {
				hub_handle(&w->hubs[evs[i].src - 1], evs[i].msg);
			} else if (rl_client_input(w->c, evs[i].msg, &env, &cookie, &is_reply) == RL_OK) {
				w->replies += is_reply;
				w->cookie = is_reply ? cookie : w->cookie;
				rl_wire_free(env);
			}
		}
		rl_client_tick(w->c);
	}
	return (unsigned)((rl_mono_us() - start) / 1000u);
}

/* settle: the link is up within ms. A reply can come before the client has seen the pipe's
 * arrival (nng tells it on a thread of its own), which makes it say Hello once more. */
static int settle(struct world *w, int ms)
{
	uint64_t end = rl_mono_us() + (uint64_t)ms * 1000u;

	while (!rl_client_up(w->c) && rl_mono_us() < end)
		pump(w, 0, 10);
	return rl_client_up(w->c);
}

/* follow: the standby at 0 names the leader, the last of n hubs; those between would lead too
 * but are never reached. The client is answered by the leader within 1 s. */
static void follow(unsigned n)
{
	struct world w;
	char list[256] = "";
	unsigned ms;

	world_begin(&w);
	for (unsigned i = 0; i < n; i++)
		hub_open(&w, i, NULL);
	w.hubs[0].leader = w.hubs[n - 1].url;
	for (unsigned i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "", w.hubs[i].url);
	client_open(&w, list);
	ms = pump(&w, 1, 1000);
	printf("follow (%u endpoints): answered by the leader after %u ms\n", n, ms);
	RL_CHECK(w.replies == 1 && w.cookie == &w);
	RL_CHECK(settle(&w, 1000) && rl_client_endpoint(w.c) == n - 1);
	RL_CHECK(strcmp(rl_client_url(w.c), w.hubs[n - 1].url) == 0);
	RL_CHECK(w.hubs[0].hellos >= 1 && w.hubs[0].requests == 0);
	RL_CHECK(w.hubs[n - 1].requests >= 1);
	for (unsigned i = 1; i + 1 < n; i++)
		RL_CHECK(w.hubs[i].hellos == 0); /* not dialled on the way */
	RL_CHECK(rl_client_redirects(w.c) == 1 && rl_client_redials(w.c) == 0);
	world_end(&w);
}

/* unknown: the standby names an address (a hub listening there) that is not in the list: the
 * client goes to its next endpoint, and the named one never hears from it. */
static void unknown(void)
{
	struct world w;
	char list[256];

	world_begin(&w);
	hub_open(&w, 1, NULL); /* the next endpoint, leading */
	hub_open(&w, 2, NULL); /* the address named, not the client's */
	hub_open(&w, 0, w.hubs[2].url);
	snprintf(list, sizeof(list), "%s,%s", w.hubs[0].url, w.hubs[1].url);
	client_open(&w, list);
	pump(&w, 1, 1000);
	RL_CHECK(w.replies == 1);
	RL_CHECK(settle(&w, 1000) && rl_client_endpoint(w.c) == 1);
	pump(&w, 0, 500);
	RL_CHECK(w.hubs[2].hellos == 0 && w.hubs[2].requests == 0);
	RL_CHECK(w.hubs[1].requests >= 1 && w.hubs[0].requests == 0);
	RL_CHECK(rl_client_redirects(w.c) == 1 && rl_client_endpoint(w.c) == 1);
	world_end(&w);
}

/* count_in counts the lines of path holding what. */
static unsigned count_in(const char *path, const char *what)
{
	char line[1200];
	unsigned n = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* alone: a client whose one endpoint stands by naming another address stays there (it has
 * nowhere else to go, and the address named is not its own), logs it once however often that
 * hub answers so, and is answered once that hub leads. */
static void alone(void)
{
	struct world w;
	char log[600];
	int saved = dup(2), fd;

	snprintf(log, sizeof(log), "%s/alone.log", rltest_tmpdir("follow"));
	world_begin(&w);
	hub_open(&w, 1, NULL);
	hub_open(&w, 0, w.hubs[1].url);
	fflush(stderr);
	RL_REQUIRE(saved >= 0 && (fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	dup2(fd, 2);
	close(fd);
	client_open(&w, w.hubs[0].url);
	pump(&w, 1, 2600); /* three Hellos at least, a second apart */
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	RL_CHECK(w.replies == 0 && !rl_client_up(w.c));
	RL_CHECK(w.hubs[0].hellos >= 3 && w.hubs[1].hellos == 0);
	RL_CHECK(rl_client_endpoint(w.c) == 0 && rl_client_redirects(w.c) == 0 && rl_client_redials(w.c) == 0);
	RL_CHECK(count_in(log, "hub is not the leader") == 1);
	w.hubs[0].leader = NULL; /* it leads now */
	pump(&w, 1, 2000);
	RL_CHECK(w.replies == 1 && w.hubs[0].requests >= 1 && w.hubs[1].hellos == 0);
	world_end(&w);
}

/* leaderless: two hubs stand by and name nobody. The client goes from one to the next, at most
 * every RL_CLIENT_MOVE_MS; once the second leads it is answered there. */
static void leaderless(void)
{
	struct world w;
	char list[256];
	unsigned ms, moves;

	world_begin(&w);
	hub_open(&w, 0, "");
	hub_open(&w, 1, "");
	snprintf(list, sizeof(list), "%s,%s", w.hubs[0].url, w.hubs[1].url);
	client_open(&w, list);
	ms = pump(&w, 0, 1300);
	moves = rl_client_redirects(w.c);
	printf("leaderless: %u moves in %u ms\n", moves, ms);
	RL_CHECK(w.replies == 0 && w.hubs[0].requests == 0 && w.hubs[1].requests == 0);
	RL_CHECK(w.hubs[0].hellos >= 2 && w.hubs[1].hellos >= 2);    /* it went back and forth */
	RL_CHECK(moves >= 3 && moves <= ms / RL_CLIENT_MOVE_MS + 1); /* not sooner than allowed */
	RL_CHECK(rl_client_redials(w.c) == 0);
	w.hubs[1].leader = NULL; /* elected */
	ms = pump(&w, 1, 1000);
	printf("leaderless: answered %u ms after a leader was elected\n", ms);
	RL_CHECK(w.replies == 1 && w.hubs[1].requests >= 1 && w.hubs[0].requests == 0);
	RL_CHECK(settle(&w, 1000) && rl_client_endpoint(w.c) == 1);
	world_end(&w);
}

/* demoted: the hub the client is up on stops leading without closing the link, and answers a
 * request ERR_NOT_LEADER naming the other: the client says Hello again, goes to the leader on
 * that answer, and the request is answered there. */
static void demoted(void)
{
	struct world w;
	char list[256];
	unsigned ms;

	world_begin(&w);
	hub_open(&w, 0, NULL);
	hub_open(&w, 1, NULL);
	snprintf(list, sizeof(list), "%s,%s", w.hubs[0].url, w.hubs[1].url);
	client_open(&w, list);
	pump(&w, 1, 5000);
	RL_REQUIRE(w.replies == 1 && settle(&w, 1000) && rl_client_endpoint(w.c) == 0);
	w.hubs[0].leader = w.hubs[1].url;
	request(&w, NULL);
	ms = pump(&w, 2, 1000);
	printf("demoted: answered by the leader after %u ms\n", ms);
	RL_CHECK(w.replies == 2 && w.hubs[1].requests >= 1);
	RL_CHECK(settle(&w, 1000) && rl_client_endpoint(w.c) == 1 && rl_client_redirects(w.c) == 1);
	world_end(&w);
}

/* gone: the client is up on the first of n leading hubs when that one's socket closes. With a
 * second endpoint it is up there within 1 s; with one, it stays, and is up again once the same
 * address answers. Either way a request made then is answered where it is. */
static void gone(unsigned n)
{
	struct world w;
	char list[256];
	unsigned ms, before;
	uint64_t t0;

	world_begin(&w);
	hub_open(&w, 0, NULL);
	if (n > 1)
		hub_open(&w, 1, NULL);
	snprintf(list, sizeof(list), "%s%s%s", w.hubs[0].url, n > 1 ? "," : "", n > 1 ? w.hubs[1].url : "");
	client_open(&w, list);
	pump(&w, 1, 5000);
	RL_REQUIRE(w.replies == 1 && settle(&w, 1000) && rl_client_endpoint(w.c) == 0);
	hub_close(&w, 0);
	t0 = rl_mono_us();
	if (n == 1) {
		pump(&w, 0, 1000);
		RL_CHECK(!rl_client_up(w.c) && rl_client_endpoint(w.c) == 0 && rl_client_redials(w.c) == 0);
		hub_reopen(&w, 0);
	}
	while (rl_mono_us() - t0 < (n > 1 ? 1000000u : 5000000u) &&
	       !(rl_client_up(w.c) && rl_client_endpoint(w.c) == n - 1))
		pump(&w, 0, 10);
	ms = (unsigned)((rl_mono_us() - t0) / 1000u);
	printf("gone (%u endpoints): up after %u ms on endpoint %u\n", n, ms, rl_client_endpoint(w.c));
	RL_CHECK(rl_client_up(w.c) && rl_client_endpoint(w.c) == n - 1);
	RL_CHECK(n == 1 || ms < 1000);
	RL_CHECK(rl_client_redials(w.c) == n - 1 && rl_client_redirects(w.c) == 0);
	before = w.hubs[n - 1].requests;
	request(&w, NULL);
	pump(&w, 2, 2000);
	RL_CHECK(w.replies == 2 && w.hubs[n - 1].requests > before);
	world_end(&w);
}

/* failover: the client is up on the leader (hub 0) when its socket closes; the standby (hub 1)
 * still names it, as a standby does until the lease ends. The client must wait on the standby,
 * saying Hello every RL_CLIENT_MOVE_MS, not go back to the dead address (a second lost each
 * time): once the standby leads, the client is answered there within about that. */
static void failover(void)
{
	struct world w;
	char list[256];
	unsigned ms, hellos;

	world_begin(&w);
	hub_open(&w, 0, NULL);
	hub_open(&w, 1, NULL);
	w.hubs[1].leader = w.hubs[0].url;
	snprintf(list, sizeof(list), "%s,%s", w.hubs[0].url, w.hubs[1].url);
	client_open(&w, list);
	pump(&w, 1, 5000);
	RL_REQUIRE(w.replies == 1 && settle(&w, 1000) && rl_client_endpoint(w.c) == 0);
	hub_close(&w, 0);
	pump(&w, 2, 1500); /* (nothing to answer) the lease has not ended yet */
	hellos = w.hubs[1].hellos;
	printf("failover: %u Hellos to the standby in 1.5 s, endpoint %u, redials %u\n", hellos,
	       rl_client_endpoint(w.c), rl_client_redials(w.c));
	RL_CHECK(rl_client_endpoint(w.c) == 1 && rl_client_redials(w.c) == 1); /* never back to the dead one */
	RL_CHECK(hellos >= 3);
	w.hubs[1].leader = NULL; /* elected */
	request(&w, NULL);
	ms = pump(&w, 2, 2000);
	printf("failover: answered %u ms after the standby was elected\n", ms);
	RL_CHECK(w.replies == 2 && ms <= 2 * RL_CLIENT_MOVE_MS + 100);
	world_end(&w);
}

int main(void)
{
	failover();
	follow(2);
	follow(3);
	unknown();
	alone();
	leaderless();
	demoted();
	gone(2);
	gone(1);
	return rltest_done();
}
