/*
 * Links over real sockets: hello, reliable requests with re-send, mutual TLS (and refusal
 * of a client from another CA), the receive-size cap, a client that replaces its dialer
 * when a peer takes its connection but never answers, and one given two endpoints that moves
 * to the second when the first never answers (and refuses a list with an empty endpoint); a
 * link heard again after a silence says it resumed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rl_client.h"
#include "rl_err.h"
#include "rl_link.h"
#include "rl_loop.h"
#include "rl_time.h"
#include "rltest.h"

enum { TAG_SERVER = 1, TAG_CLIENT = 2 };

struct server {
	nng_socket sock;
	unsigned hellos, requests, drop_first; /* drop_first: ignore the first copy of each request */
	unsigned frames;                       /* every frame received, bundled or not */
	uint64_t last_req;
	uint32_t last_pipe; /* the pipe of the last request */
};

struct client_seen {
	unsigned replies;
	void *cookie;
};

static void server_handle(struct server *s, nng_msg *m)
{
	rl_env *env = NULL;
	uint32_t pipe;
	rl_env out;
	Relais__HelloOk ok = RELAIS__HELLO_OK__INIT;
	Relais__Ok okb = RELAIS__OK__INIT;

	if (rl_link_recv_env(m, &env, &pipe) != RL_OK) {
		nng_msg_free(m);
		rl_wire_free(env);
		return;
	}
	nng_msg_free(m);
	s->frames++;
	s->last_pipe = pipe;
	rl_env_init(&out);
	out.req_id = env->req_id;
	if (env->body_case == RELAIS__ENVELOPE__BODY_HELLO) {
		s->hellos++;
		out.body_case = RELAIS__ENVELOPE__BODY_HELLO_OK;
		out.hello_ok = &ok;
		rl_link_send(s->sock, pipe, &out);
	} else if (env->body_case == RELAIS__ENVELOPE__BODY_STATUS_REQUEST) {
		s->requests++;
		if (!(s->drop_first && env->req_id != s->last_req)) {
			out.body_case = RELAIS__ENVELOPE__BODY_OK;
			out.ok = &okb;
			rl_link_send(s->sock, pipe, &out);
		}
		s->last_req = env->req_id;
	}
	rl_wire_free(env);
}

/* pump runs the loop for up to ms, until the client has seen `want` replies. */
static void pump(struct rl_loop *loop, struct server *s, struct rl_client *c, struct client_seen *seen, unsigned want,
                 int ms)
{
	struct rl_loop_event evs[16];
	uint64_t end = rl_mono_us() + (uint64_t)ms * 1000u;

	while (rl_mono_us() < end && seen->replies < want) {
		int n = rl_loop_wait(loop, 50, evs, 16);
		for (int i = 0; i < n; i++) {
			if (evs[i].src == TAG_SERVER) {
				server_handle(s, evs[i].msg);
			} else {
				rl_env *env;
				void *cookie;
				int is_reply;
				if (rl_client_input(c, evs[i].msg, &env, &cookie, &is_reply) == RL_OK) {
					if (is_reply) {
						seen->replies++;
						seen->cookie = cookie;
					}
					rl_wire_free(env);
				}
			}
		}
		rl_client_tick(c);
	}
}

static void request(struct rl_client *c, void *cookie)
{
	Relais__StatusRequest sr = RELAIS__STATUS_REQUEST__INIT;
	rl_env env;

	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_STATUS_REQUEST;
	env.status_request = &sr;
	RL_CHECK(rl_client_request(c, &env, cookie, NULL) == RL_OK);
}

/* peer_ip: the client's pipe at the server is from 127.0.0.1, with no port. */
static void peer_ip(uint32_t pipe)
{
	struct sockaddr_storage ss;
	const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

	RL_CHECK(rl_link_peer_ip(pipe, &ss) == RL_OK);
	RL_CHECK(ss.ss_family == AF_INET && in->sin_addr.s_addr == htonl(INADDR_LOOPBACK) && in->sin_port == 0);
	RL_CHECK(rl_link_peer_ip(0, &ss) == RL_ENOENT);
	RL_CHECK(rl_link_peer_ip(0x7ffffff0u, &ss) == RL_ENOENT);
}

/* rx_msgs: the messages socket s has received (nng's statistic). */
static uint64_t rx_msgs(nng_socket s)
{
	nng_stat *root, *st;
	uint64_t v = 0;

	RL_REQUIRE(nng_stats_get(&root) == 0);
	if ((st = nng_stat_find_socket(root, s)) != NULL && (st = nng_stat_find(st, "rx_msgs")) != NULL)
		v = nng_stat_value(st);
	nng_stats_free(root);
	return v;
}

/* corked: two requests sent while corked reach the server as one message and are answered
 * as two; whatever else the client sent meanwhile (a heartbeat) went as its own. */
static void corked(struct rl_loop *loop, struct server *s, struct rl_client *c, struct client_seen *seen)
{
	uint64_t msgs = rx_msgs(s->sock);
	unsigned frames = s->frames, want = seen->replies + 2;

	s->drop_first = 0;
	rl_client_cork(c);
	request(c, NULL);
	request(c, NULL);
	RL_CHECK(s->frames == frames); /* held */
	RL_CHECK(rl_client_flush(c) == 0);
	pump(loop, s, c, seen, want, 5000);
	RL_CHECK(seen->replies == want);
	RL_CHECK(s->frames - frames >= 2);
	RL_CHECK(rx_msgs(s->sock) - msgs == s->frames - frames - 1);
}

static void exchange(const char *url, const struct rl_tls *stls, const struct rl_tls *ctls)
{
	struct rl_loop *loop;
	struct server s = {0};
	struct rl_client *c;
	struct client_seen seen = {0};
	struct rl_client_opts o = {.url = url, .tls = ctls, .role = RELAIS__ROLE__ROLE_CTL, .name = "test"};
	int cookie;

	RL_REQUIRE(rl_loop_create(&loop) == RL_OK);
	RL_REQUIRE(rl_link_server_open(&s.sock) == RL_OK);
	RL_REQUIRE(rl_link_listen(s.sock, url, stls) == RL_OK);
	RL_REQUIRE(rl_loop_add_socket(loop, s.sock, TAG_SERVER) == RL_OK);
	RL_REQUIRE(rl_client_open(&c, &o, loop, TAG_CLIENT) == RL_OK);

	request(c, &cookie); /* queued until the hello completes */
	pump(loop, &s, c, &seen, 1, 5000);
	RL_CHECK(s.hellos >= 1);
	RL_CHECK(seen.replies == 1 && seen.cookie == &cookie);
	RL_CHECK(rl_client_up(c));
	RL_CHECK(rl_client_pending(c) == 0);
	peer_ip(s.last_pipe);

	/* The server ignores the first copy: the client re-sends the same req_id. */
	s.drop_first = 1;
	unsigned before = s.requests;
	request(c, &cookie);
	pump(loop, &s, c, &seen, 2, 5000);
	RL_CHECK(seen.replies == 2);
	RL_CHECK(s.requests == before + 2);

	corked(loop, &s, c, &seen);

	/* A link heard steadily has not resumed; one silent RL_CLIENT_RESUME_MS and heard again
	 * has, just now (a node holds a connect then: node.c). */
	RL_CHECK(!rl_client_resumed_within(c, 60000));
	rltest_sleep_ms(RL_CLIENT_RESUME_MS + 100); /* the silence is what is tested */
	request(c, &cookie);
	pump(loop, &s, c, &seen, seen.replies + 1, 5000);
	RL_CHECK(rl_client_resumed_within(c, 1000));
	rl_loop_destroy(loop);
	rl_client_close(c);
	nng_close(s.sock);
}

static void tls_refused(const char *url, const struct rl_tls *stls, const struct rl_tls *bad)
{
	struct rl_loop *loop;
	struct server s = {0};
	struct rl_client *c;
	struct client_seen seen = {0};
	struct rl_client_opts o = {.url = url, .tls = bad, .role = RELAIS__ROLE__ROLE_CTL};

	RL_REQUIRE(rl_loop_create(&loop) == RL_OK);
	RL_REQUIRE(rl_link_server_open(&s.sock) == RL_OK);
	RL_REQUIRE(rl_link_listen(s.sock, url, stls) == RL_OK);
	RL_REQUIRE(rl_loop_add_socket(loop, s.sock, TAG_SERVER) == RL_OK);
	RL_REQUIRE(rl_client_open(&c, &o, loop, TAG_CLIENT) == RL_OK);
	request(c, NULL);
	pump(loop, &s, c, &seen, 1, 2500);
	RL_CHECK(s.hellos == 0);
	RL_CHECK(seen.replies == 0);
	RL_CHECK(!rl_client_up(c));
	rl_loop_destroy(loop);
	rl_client_close(c);
	nng_close(s.sock);
}

static void oversized(const char *url)
{
	struct rl_loop *loop;
	struct server s = {0};
	nng_socket raw;
	struct rl_loop_event evs[4];
	int got = 0;

	RL_REQUIRE(rl_loop_create(&loop) == RL_OK);
	RL_REQUIRE(rl_link_server_open(&s.sock) == RL_OK);
	RL_REQUIRE(rl_link_listen(s.sock, url, NULL) == RL_OK);
	RL_REQUIRE(rl_loop_add_socket(loop, s.sock, TAG_SERVER) == RL_OK);
	RL_REQUIRE(nng_pair1_open(&raw) == 0);
	RL_REQUIRE(nng_dial(raw, url, NULL, 0) == 0);
	size_t big = RL_WIRE_MAX_FRAME * 4;
	void *buf = calloc(1, big);
	RL_CHECK(nng_send(raw, buf, big, 0) == 0);
	free(buf);
	for (int i = 0; i < 20; i++) {
		int n = rl_loop_wait(loop, 50, evs, 4);
		for (int k = 0; k < n; k++) {
			got++;
			nng_msg_free(evs[k].msg);
		}
	}
	RL_CHECK(got == 0); /* the transport refused the frame before it reached us */
	nng_close(raw);
	rl_loop_destroy(loop);
	nng_close(s.sock);
}

/* A listener whose connections complete in the kernel but never hear a byte back (a hung
 * process, a half-open middlebox): the client must give up on it after RL_LINK_DEAD_MS and
 * dial again, then come up as soon as a real server answers on that address. */
static void stuck_peer(int port)
{
	struct rl_loop *loop;
	struct server s = {0};
	struct rl_client *c;
	struct client_seen seen = {0};
	char url[64];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	struct rl_client_opts o = {.url = url, .role = RELAIS__ROLE__ROLE_CTL, .name = "test"};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	RL_REQUIRE(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	RL_REQUIRE(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	RL_REQUIRE(listen(fd, 16) == 0); /* never accept()ed */
	RL_REQUIRE(rl_loop_create(&loop) == RL_OK);
	RL_REQUIRE(rl_client_open(&c, &o, loop, TAG_CLIENT) == RL_OK);
	request(c, &seen);
	pump(loop, &s, c, &seen, 1, RL_LINK_DEAD_MS + 1500);
	RL_CHECK(seen.replies == 0);
	RL_CHECK(!rl_client_up(c));
	RL_CHECK(rl_client_redials(c) >= 1);

	close(fd);
	RL_REQUIRE(rl_link_server_open(&s.sock) == RL_OK);
	RL_REQUIRE(rl_link_listen(s.sock, url, NULL) == RL_OK);
	RL_REQUIRE(rl_loop_add_socket(loop, s.sock, TAG_SERVER) == RL_OK);
	pump(loop, &s, c, &seen, 1, RL_LINK_DEAD_MS + 5000);
	RL_CHECK(seen.replies == 1); /* the request made while stuck was kept and answered */
	RL_CHECK(rl_client_up(c));
	printf("stuck peer: %u re-dials, then up\n", rl_client_redials(c));
	rl_loop_destroy(loop);
	rl_client_close(c);
	nng_close(s.sock);
}

/* endpoints: "DEAD,LIVE" - nobody listens at the first; the client gives up on it after
 * RL_LINK_DEAD_MS, dials the second, stays there, and the request made meanwhile is answered. */
static void endpoints(int dead, int live)
{
	struct rl_loop *loop;
	struct server s = {0};
	struct rl_client *c;
	struct client_seen seen = {0};
	char urls[128], url[64];
	struct rl_client_opts o = {.url = "tcp://127.0.0.1:1,,tcp://127.0.0.1:2", .role = RELAIS__ROLE__ROLE_CTL};

	RL_REQUIRE(rl_loop_create(&loop) == RL_OK);
	RL_CHECK(rl_client_open(&c, &o, loop, TAG_CLIENT) == RL_EINVAL);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", live);
	snprintf(urls, sizeof(urls), "tcp://127.0.0.1:%d,%s", dead, url);
	o.url = urls;
	RL_REQUIRE(rl_link_server_open(&s.sock) == RL_OK);
	RL_REQUIRE(rl_link_listen(s.sock, url, NULL) == RL_OK);
	RL_REQUIRE(rl_loop_add_socket(loop, s.sock, TAG_SERVER) == RL_OK);
	RL_REQUIRE(rl_client_open(&c, &o, loop, TAG_CLIENT) == RL_OK);
	RL_CHECK(rl_client_endpoint(c) == 0 && strcmp(rl_client_url(c), urls) != 0);
	request(c, &seen);
	pump(loop, &s, c, &seen, 1, RL_LINK_DEAD_MS + 5000);
	RL_CHECK(seen.replies == 1);
	RL_CHECK(rl_client_up(c) && rl_client_endpoint(c) == 1 && strcmp(rl_client_url(c), url) == 0);
	pump(loop, &s, c, &seen, 2, 1000); /* up and heard: it stays */
	RL_CHECK(rl_client_endpoint(c) == 1 && rl_client_redials(c) == 1);
	rl_loop_destroy(loop);
	rl_client_close(c);
	nng_close(s.sock);
}

int main(void)
{
	char url[128];
	static struct rltest_certs mine, other;

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", rltest_free_port());
	exchange(url, NULL, NULL);

	RL_REQUIRE(rltest_certs("certs", &mine) == 0 && rltest_certs("othercerts", &other) == 0);
	struct rl_tls stls = {mine.ca, mine.hub, mine.hub_key, NULL};
	struct rl_tls ctls = {mine.ca, mine.agent, mine.agent_key, NULL};
	struct rl_tls foreign = {other.ca, other.agent, other.agent_key, NULL}; /* another CA entirely */
	struct rl_tls wrongname = {mine.ca, mine.agent, mine.agent_key, "relais-elsewhere"};

	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", rltest_free_port());
	exchange(url, &stls, &ctls);
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", rltest_free_port());
	tls_refused(url, &stls, &foreign);
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", rltest_free_port());
	tls_refused(url, &stls, &wrongname);

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", rltest_free_port());
	oversized(url);
	stuck_peer(rltest_free_port());
	endpoints(rltest_free_port(), rltest_free_port());
	return rltest_done();
}
