/*
 * Hostile input at the hub: TCP garbage at the TLS port, and, over an authenticated TLS
 * link, junk frames, oversized frames, a wrong version, out-of-bound fields, requests before
 * Hello, and a burst of wrong secrets. The hub must answer what deserves an answer, count
 * what it drops, stay up, and rate-limit the wrong secrets.
 */
#include <arpa/inet.h>
#include <nng/nng.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rl_err.h"
#include "rl_link.h"
#include "rl_secret.h"
#include "rlcluster.h"
#include "rltest.h"

static struct rlc *g_cluster; /* so that an early exit (RL_REQUIRE) still stops the hub */
static nng_socket sock;
static nng_dialer dialer;
static atomic_int pipes_up, pipes_down; /* the test's link to the hub: connections made, lost */

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)arg;
	atomic_fetch_add(ev == NNG_PIPE_EV_ADD_POST ? &pipes_up : &pipes_down, 1);
}

/* link_open dials the hub on a fresh socket and waits until the connection is up (TLS
 * handshake done), so that what the test sends next reaches the hub. */
static void link_open(struct rlc *c, const struct rl_tls *tls)
{
	int up = atomic_load(&pipes_up);

	RL_REQUIRE(rl_link_client_open(&sock) == RL_OK);
	nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, on_pipe, NULL);
	nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, on_pipe, NULL);
	RL_REQUIRE(rl_link_dial(sock, c->hub_url, tls, &dialer) == RL_OK);
	RL_WAIT_REQUIRE(20000, atomic_load(&pipes_up) > up);
}

/* A socket being closed, on a thread of its own. */
struct closer {
	nng_socket sock;
	atomic_int done;
};

static void *close_run(void *arg)
{
	struct closer *k = arg;

	nng_close(k->sock);
	atomic_store(&k->done, 1);
	return NULL;
}

/* link_close closes the test's socket and waits for it up to 10 s. With nng 1.5.2 closing a
 * socket whose pipe the peer cut in the middle of a long message can hang for good; the
 * project's clients close on a thread too (rl_client.c). Such a close is said and left to
 * nng, the test goes on with a new socket: the hub's side is what is tested. */
static void link_close(void)
{
	static struct closer closers[4]; /* outlive a close left hanging */
	static int n;
	struct closer *k = &closers[n++ % 4];
	pthread_t t;

	k->sock = sock;
	atomic_store(&k->done, 0);
	if (pthread_create(&t, NULL, close_run, k) != 0) {
		nng_close(sock);
		return;
	}
	pthread_detach(t);
	for (int waited = 0; waited < 10000 && !atomic_load(&k->done); waited += 10)
		rltest_sleep_ms(10);
	if (!atomic_load(&k->done))
		fprintf(stderr, "nng did not close the test's socket in 10 s (nng 1.5.2): left to it\n");
}

static void send_raw(const void *buf, size_t len)
{
	RL_CHECK(nng_send(sock, (void *)buf, len, 0) == 0);
}

static void send_env(rl_env *env)
{
	RL_CHECK(rl_link_send(sock, 0, env) == RL_OK);
}

/* recv_env waits up to ms for a reply; returns NULL on timeout. */
static rl_env *recv_env(int ms)
{
	nng_msg *m;
	rl_env *env = NULL;

	nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, ms);
	if (nng_recvmsg(sock, &m, 0) != 0)
		return NULL;
	rl_link_recv_env(m, &env, NULL);
	nng_msg_free(m);
	return env;
}

/* version_error_came reads what the hub sends within ms: 1 if it is an ERR_VERSION error. */
static int version_error_came(int ms)
{
	rl_env *e = recv_env(ms);
	int v = e != NULL && e->body_case == RELAIS__ENVELOPE__BODY_ERROR &&
	        e->error->code == RELAIS__ERROR_CODE__ERR_VERSION;

	rl_wire_free(e);
	return v;
}

/* rpc sends env and returns the reply with the same req_id (others are skipped). */
static rl_env *rpc(rl_env *env)
{
	env->req_id = rl_link_new_req_id();
	send_env(env);
	for (int i = 0; i < 20; i++) {
		rl_env *r = recv_env(500);
		if (r != NULL && r->req_id == env->req_id)
			return r;
		rl_wire_free(r);
	}
	return NULL;
}

static void stop_all(void)
{
	rlc_stop_all(g_cluster);
}

static uint64_t counter(struct rlc *c, const char *name)
{
	cJSON *s = rlc_status(c);
	cJSON *ctr = s ? cJSON_GetObjectItemCaseSensitive(s, "counters") : NULL;
	cJSON *v = ctr ? cJSON_GetObjectItemCaseSensitive(ctr, name) : NULL;
	uint64_t n = cJSON_IsNumber(v) ? (uint64_t)v->valuedouble : 0;
	cJSON_Delete(s);
	return n;
}

int main(void)
{
	static struct rlc c; /* outlives main: stop_all runs at exit */
	char ca[700], cert[700], key[700];
	rl_env env, *r;

	rlc_init(&c, "hostile", 1);
	g_cluster = &c;
	atexit(stop_all);
	rlc_queue(&c, "{ id = \"telco.billing\"; tenant = \"telco\"; skills = { billing = 1; }; sites = [ ]; }");
	rlc_agent(&c, "a1", "telco", "billing = 5;", "");
	rlc_start_hub(&c);

	/* 1. Plain TCP garbage at the TLS port: a failed handshake, nothing more. */
	for (int i = 0; i < 5; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c.hub_port)};
		char junk[2048];
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		RL_REQUIRE(fd >= 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			rl_secret_random(junk, sizeof(junk));
			RL_CHECK(write(fd, junk, sizeof(junk)) > 0);
		}
		close(fd);
	}

	/* 2. An authenticated link that misbehaves. */
	snprintf(ca, sizeof(ca), "%s/ca.pem", c.certs);
	snprintf(cert, sizeof(cert), "%s/agent.pem", c.certs);
	snprintf(key, sizeof(key), "%s/agent.key", c.certs);
	struct rl_tls tls = {ca, cert, key, NULL};
	link_open(&c, &tls);

	/* A request before Hello gets a clear error, not silence or a crash. */
	Relais__AgentSetState ss = RELAIS__AGENT_SET_STATE__INIT;
	rl_env_init(&env);
	env.session = 12345;
	ss.state = RELAIS__AGENT_STATE__AGENT_READY;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_SET_STATE;
	env.agent_set_state = &ss;
	r = rpc(&env);
	RL_CHECK(r != NULL && r->body_case == RELAIS__ENVELOPE__BODY_ERROR);
	rl_wire_free(r);

	Relais__Hello h = RELAIS__HELLO__INIT;
	rl_env_init(&env);
	h.role = RELAIS__ROLE__ROLE_AGENT;
	h.name = "hostile";
	env.body_case = RELAIS__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	r = rpc(&env);
	RL_REQUIRE(r != NULL && r->body_case == RELAIS__ENVELOPE__BODY_HELLO_OK);
	rl_wire_free(r);

	uint64_t malformed0 = counter(&c, "malformed");
	uint64_t badfield0 = counter(&c, "bad_field");
	uint64_t badver0 = counter(&c, "bad_version");

	for (int i = 0; i < 50; i++) {
		uint8_t junk[512];
		rl_secret_random(junk, sizeof(junk));
		junk[0] = 0xff; /* never a valid first tag */
		send_raw(junk, 1 + (size_t)i * 10);
	}
	/* Wrong version: answered with ERR_VERSION. */
	uint8_t v7[] = {0x08, 0x07, 0x10, 0x05, 0x62, 0x00}; /* version 7, req_id 5, heartbeat {} */
	send_raw(v7, sizeof(v7));
	/* A 300-character agent id. */
	Relais__AgentLogin al = RELAIS__AGENT_LOGIN__INIT;
	char longid[301];
	memset(longid, 'x', 300);
	longid[300] = 0;
	rl_env_init(&env);
	al.agent_id = longid;
	al.secret = "x";
	env.req_id = 77;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_LOGIN;
	env.agent_login = &al;
	send_env(&env);
	RL_WAIT(20000, version_error_came(100));
	/* Counted as the hub takes them in (the last one may come after the version error). */
	RL_WAIT(20000, counter(&c, "malformed") >= malformed0 + 50);
	RL_WAIT(20000, counter(&c, "bad_field") >= badfield0 + 1);
	RL_WAIT(20000, counter(&c, "bad_version") >= badver0 + 1);

	/* Oversized: the transport refuses it (the pipe is closed); the hub stays up. No dialling
	 * again once the hub has cut the pipe: the frame would go out again on the new pipe. */
	int down = atomic_load(&pipes_down);
	nng_dialer_set_ms(dialer, NNG_OPT_RECONNMINT, 3600 * 1000);
	nng_dialer_set_ms(dialer, NNG_OPT_RECONNMAXT, 3600 * 1000);
	void *big = calloc(1, RL_WIRE_MAX_FRAME * 8);
	send_raw(big, RL_WIRE_MAX_FRAME * 8);
	free(big);
	RL_WAIT(20000, atomic_load(&pipes_down) > down);
	RL_WAIT_REQUIRE(20000, rlc_answers(&c)); /* still serving */
	link_close();

	/* 3. Wrong secrets: refused clearly, then rate limited. */
	link_open(&c, &tls);
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	r = rpc(&env);
	RL_REQUIRE(r != NULL && r->body_case == RELAIS__ENVELOPE__BODY_HELLO_OK);
	rl_wire_free(r);
	int auth = 0, limited = 0;
	for (int i = 0; i < 8; i++) {
		Relais__AgentLogin bad = RELAIS__AGENT_LOGIN__INIT;
		rl_env_init(&env);
		bad.agent_id = "a1";
		bad.secret = "wrong";
		env.body_case = RELAIS__ENVELOPE__BODY_AGENT_LOGIN;
		env.agent_login = &bad;
		r = rpc(&env);
		RL_CHECK(r != NULL && r->body_case == RELAIS__ENVELOPE__BODY_ERROR);
		if (r != NULL && r->body_case == RELAIS__ENVELOPE__BODY_ERROR) {
			if (r->error->code == RELAIS__ERROR_CODE__ERR_AUTH)
				auth++;
			if (r->error->code == RELAIS__ERROR_CODE__ERR_RATE_LIMITED && r->error->retry_after_ms > 0)
				limited++;
		}
		rl_wire_free(r);
	}
	printf("wrong secrets: %d refused, %d rate limited\n", auth, limited);
	RL_CHECK(auth >= 1);
	RL_CHECK(limited >= 1);
	/* An unknown agent id gets the same answer as a wrong secret. */
	Relais__AgentLogin unk = RELAIS__AGENT_LOGIN__INIT;
	rl_env_init(&env);
	unk.agent_id = "nobody";
	unk.secret = "x";
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_LOGIN;
	env.agent_login = &unk;
	r = rpc(&env);
	RL_CHECK(r != NULL && r->body_case == RELAIS__ENVELOPE__BODY_ERROR &&
	         r->error->code == RELAIS__ERROR_CODE__ERR_AUTH);
	rl_wire_free(r);
	/* ... and is rate limited the same way, so refusals do not tell which ids exist. */
	int unknown_limited = 0;
	for (int i = 0; i < 6; i++) {
		Relais__AgentLogin u2 = RELAIS__AGENT_LOGIN__INIT;
		rl_env_init(&env);
		u2.agent_id = "nobody2";
		u2.secret = "x";
		env.body_case = RELAIS__ENVELOPE__BODY_AGENT_LOGIN;
		env.agent_login = &u2;
		r = rpc(&env);
		if (r != NULL && r->body_case == RELAIS__ENVELOPE__BODY_ERROR &&
		    r->error->code == RELAIS__ERROR_CODE__ERR_RATE_LIMITED)
			unknown_limited++;
		rl_wire_free(r);
	}
	RL_CHECK(unknown_limited >= 1);
	link_close();

	/* Still alive and answering. */
	RL_CHECK(kill(c.hub, 0) == 0);
	cJSON *s = rlc_status(&c);
	RL_CHECK(s != NULL);
	cJSON_Delete(s);
	rlc_stop_all(&c);
	return rltest_done();
}
