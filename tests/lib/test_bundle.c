/*
 * Bursts to one peer of a polyamorous socket: nng keeps two messages per pipe and drops
 * the rest, so a burst must travel as bundles. 1,000 frames sent in one batch to one
 * client arrive, all of them, in order, split back into frames by the receiving loop.
 * The same burst sent frame by frame usually loses many of them (the reason bundles exist).
 */
#include <nng/nng.h>
#include <stdio.h>
#include <string.h>

#include "rl_bundle.h"
#include "rl_err.h"
#include "rl_link.h"
#include "rl_loop.h"
#include "rl_time.h"
#include "rltest.h"

#define BURST 1000

static uint32_t server_pipe(struct rl_loop *loop, nng_socket srv, nng_socket cli)
{
	struct rl_loop_event ev;
	uint8_t hello[] = {0x08, 0x01, 0x62, 0x00}; /* version 1, heartbeat {} */
	uint32_t pipe = 0;

	RL_REQUIRE(nng_send(cli, hello, sizeof(hello), 0) == 0);
	for (int i = 0; i < 100 && pipe == 0; i++)
		if (rl_loop_wait(loop, 50, &ev, 1) == 1) {
			pipe = nng_pipe_id(nng_msg_get_pipe(ev.msg));
			nng_msg_free(ev.msg);
		}
	return pipe;
}

static unsigned burst(int bundled)
{
	struct rl_loop *sloop, *cloop;
	struct rl_bundler *b;
	nng_socket srv, cli;
	char url[64];
	unsigned got = 0, in_order = 1;

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", rltest_free_port());
	RL_REQUIRE(rl_loop_create(&sloop) == RL_OK && rl_loop_create(&cloop) == RL_OK);
	RL_REQUIRE(rl_link_server_open(&srv) == RL_OK && rl_link_listen(srv, url, NULL) == RL_OK);
	RL_REQUIRE(rl_loop_add_socket(sloop, srv, 1) == RL_OK);
	RL_REQUIRE(rl_link_client_open(&cli) == RL_OK && rl_link_dial(cli, url, NULL, NULL) == RL_OK);
	uint32_t pipe = server_pipe(sloop, srv, cli);
	RL_REQUIRE(pipe != 0);
	RL_REQUIRE(rl_loop_add_socket(cloop, cli, 2) == RL_OK);
	RL_REQUIRE(rl_bundler_create(&b) == RL_OK);
	for (unsigned i = 0; i < BURST; i++) {
		Relais__Heartbeat hb = RELAIS__HEARTBEAT__INIT;
		rl_env env;
		uint8_t *buf;
		size_t len;
		rl_env_init(&env);
		hb.sent_us = i + 1;
		env.body_case = RELAIS__ENVELOPE__BODY_HEARTBEAT;
		env.heartbeat = &hb;
		if (bundled) {
			RL_REQUIRE(rl_wire_encode(&env, &buf, &len) == RL_OK);
			RL_REQUIRE(rl_bundler_add(b, pipe, buf, len) == RL_OK);
			free(buf);
		} else {
			rl_link_send(srv, pipe, &env);
		}
	}
	if (bundled)
		RL_CHECK(rl_bundler_flush(b, srv) == 0);
	for (uint64_t end = rl_mono_us() + 2000000u; rl_mono_us() < end && got < BURST;) {
		struct rl_loop_event evs[256];
		int n = rl_loop_wait(cloop, 50, evs, 256);
		for (int i = 0; i < n; i++) {
			rl_env *env = NULL;
			if (rl_link_recv_env(evs[i].msg, &env, NULL) == RL_OK &&
			    env->body_case == RELAIS__ENVELOPE__BODY_HEARTBEAT) {
				if (env->heartbeat->sent_us != got + 1)
					in_order = 0;
				got++;
			}
			rl_wire_free(env);
			nng_msg_free(evs[i].msg);
		}
	}
	if (bundled)
		RL_CHECK(in_order);
	rl_bundler_destroy(b);
	rl_loop_destroy(sloop);
	rl_loop_destroy(cloop);
	nng_close(cli);
	nng_close(srv);
	return got;
}

int main(void)
{
	unsigned unbundled = burst(0), bundled = burst(1);

	printf("burst of %d frames to one pipe: %u arrive frame by frame, %u bundled\n", BURST, unbundled, bundled);
	/* How many survive frame by frame depends on how fast the writer drains (usually far
	 * fewer than all); bundled, every one must arrive. */
	RL_CHECK(bundled == BURST);
	return rltest_done();
}
