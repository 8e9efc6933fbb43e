/*
 * Hostile input at the hub: TCP garbage at the TLS port, and, over an authenticated TLS
 * link, junk frames, oversized frames, a wrong version, out-of-bound fields, requests before
 * Hello, and a burst of wrong secrets. The hub must answer what deserves an answer, count
 * what it drops, stay up, and rate-limit the wrong secrets.
 */
#include <arpa/inet.h>
#include <nng/nng.h>
#include <signal.h>
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

static nng_socket sock;

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
	struct rlc c;
	char ca[700], cert[700], key[700];
	rl_env env, *r;

	rlc_init(&c, "hostile", 1);
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
	RL_REQUIRE(rl_link_client_open(&sock) == RL_OK);
	RL_REQUIRE(rl_link_dial(sock, c.hub_url, &tls, NULL) == RL_OK);
	rltest_sleep_ms(500);

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
	rltest_sleep_ms(300);
	int got_version_error = 0;
	for (rl_env *e; (e = recv_env(300)) != NULL; rl_wire_free(e))
		if (e->body_case == RELAIS__ENVELOPE__BODY_ERROR && e->error->code == RELAIS__ERROR_CODE__ERR_VERSION)
			got_version_error = 1;
	RL_CHECK(got_version_error);

	RL_CHECK(counter(&c, "malformed") >= malformed0 + 50);
	RL_CHECK(counter(&c, "bad_field") >= badfield0 + 1);
	RL_CHECK(counter(&c, "bad_version") >= badver0 + 1);

	/* Oversized: the transport refuses it (the pipe is closed); the hub stays up. */
	void *big = calloc(1, RL_WIRE_MAX_FRAME * 8);
	send_raw(big, RL_WIRE_MAX_FRAME * 8);
	free(big);
	rltest_sleep_ms(300);
	nng_close(sock);

	/* 3. Wrong secrets: refused clearly, then rate limited. */
	RL_REQUIRE(rl_link_client_open(&sock) == RL_OK);
	RL_REQUIRE(rl_link_dial(sock, c.hub_url, &tls, NULL) == RL_OK);
	rltest_sleep_ms(300);
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
	nng_close(sock);

	/* Still alive and answering. */
	RL_CHECK(kill(c.hub, 0) == 0);
	cJSON *s = rlc_status(&c);
	RL_CHECK(s != NULL);
	cJSON_Delete(s);
	rlc_stop_all(&c);
	return rltest_done();
}
