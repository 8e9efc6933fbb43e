/*
 * rl_nngfix: a TLS listener goes on taking connections after peers reset their handshakes
 * while it answers them (without the correction, nng 1.5.2 stops it for good at one of the
 * first), the resets met are counted, and the program's own sendmsg calls keep their EPIPE.
 */
#include <errno.h>
#include <nng/nng.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rl_err.h"
#include "rl_link.h"
#include "rl_nngfix.h"
#include "rltest.h"

#define CUTS    20  /* handshakes cut short */
#define PACE_MS 150 /* between two: more than nng's 100 ms pause after a failed accept */

static atomic_int taken; /* connections the server's listener handed to its socket */

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)ev;
	(void)arg;
	atomic_fetch_add(&taken, 1);
}

/* own_send_epipe: a sendmsg of this program's own to a closed peer still fails with EPIPE. */
static int own_send_epipe(void)
{
	int sv[2];
	char byte = 'x';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;
	int err;

	RL_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	close(sv[1]);
	n = sendmsg(sv[0], &m, MSG_NOSIGNAL);
	err = errno;
	close(sv[0]);
	return n < 0 && err == EPIPE;
}

int main(void)
{
	static struct rltest_certs c;
	char url[64];
	nng_socket server, client;
	int port = rltest_free_port();

	RL_REQUIRE(rltest_certs("nngfix", &c) == 0);
	struct rl_tls stls = {c.ca, c.hub, c.hub_key, NULL}, ctls = {c.ca, c.agent, c.agent_key, NULL};
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);

	RL_REQUIRE(rl_nngfix_install() == RL_OK);
	RL_REQUIRE(rl_link_server_open(&server) == RL_OK);
	nng_pipe_notify(server, NNG_PIPE_EV_ADD_POST, on_pipe, NULL);
	RL_REQUIRE(rl_link_listen(server, url, &stls) == RL_OK);

	/* Each cut finds the listener waiting for its next connection. */
	for (int i = 0; i < CUTS; i++) {
		rltest_cut_handshake(port);
		rltest_sleep_ms(PACE_MS);
	}
	printf("resets met: %llu of %d cut handshakes\n", (unsigned long long)rl_nngfix_resets(), CUTS);
	RL_CHECK(rl_nngfix_resets() >= 1);
	RL_CHECK(atomic_load(&taken) == 0);

	/* A real client's connection is still taken. */
	RL_REQUIRE(rl_link_client_open(&client) == RL_OK);
	RL_REQUIRE(rl_link_dial(client, url, &ctls, NULL) == RL_OK);
	RL_WAIT(10000, atomic_load(&taken) == 1);

	RL_CHECK(own_send_epipe());
	/* (with the full pipe's peer gone, nng 1.5.2's close may never finish: bounded) */
	rl_link_close(client, 3000);
	rl_link_close(server, 3000);
	return rltest_done();
}
