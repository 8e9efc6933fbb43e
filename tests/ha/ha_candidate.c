/*
 * ha_candidate - one hub candidate for test_ha: runs rl_ha as the hub will, its events
 * posted into a rl_loop whose owner (main) stands for the engine. Each event is printed as
 * one line with its timestamps (rl_ha_clock_us, one clock for every process of the host), and
 * so is every change of what rl_ha_may_serve says, checked every few milliseconds as the
 * engine would before releasing a batch:
 *   leader at=US lease=N rev=N until=US
 *   lost at=US lease=N rev=N until=US reason=TEXT
 *   follower at=US leader=NAME address=ADDR rev=N
 *   serving from=US rev=N          (may_serve became true; US: when first seen)
 *   stopped last=US                (may_serve became false; US: the last time it was true)
 * SIGTERM resigns (rl_ha_stop) and exits 0.
 *
 * ha_candidate ENDPOINTS KEY NAME ADDRESS TTL_S
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ha.h"
#include "rl_loop.h"

enum { TAG_HA = 1, TAG_SIGNAL = 2 };

struct serving {
	int on;
	uint64_t last_us;
};

static void print_event(const struct rl_ha_event *ev)
{
	if (ev->kind == RL_HA_FOLLOWER)
		printf("follower at=%llu leader=%s address=%s rev=%lld\n", (unsigned long long)ev->at_us, ev->leader,
		       ev->address, (long long)ev->term.revision);
	else
		printf("%s at=%llu lease=%lld rev=%lld until=%llu reason=%s\n", rl_ha_kind_name(ev->kind),
		       (unsigned long long)ev->at_us, (long long)ev->term.lease, (long long)ev->term.revision,
		       (unsigned long long)ev->valid_until_us, ev->reason ? ev->reason : "-");
	fflush(stdout);
}

static void check_serving(struct rl_ha *ha, struct serving *s)
{
	struct rl_ha_term term;
	uint64_t now = rl_ha_clock_us();
	int on = rl_ha_may_serve(ha, &term);

	if (on && !s->on)
		printf("serving from=%llu rev=%lld\n", (unsigned long long)now, (long long)term.revision);
	else if (!on && s->on)
		printf("stopped last=%llu\n", (unsigned long long)s->last_us);
	fflush(stdout);
	if (on)
		s->last_us = now;
	s->on = on;
}

/* drain prints and frees the events posted so far; returns 1 on the stop signal. */
static int drain(struct rl_loop *loop, int timeout_ms)
{
	struct rl_loop_event evs[16];
	int n = rl_loop_wait(loop, timeout_ms, evs, 16), stop = 0;

	for (int i = 0; i < n; i++) {
		if (evs[i].src == TAG_SIGNAL) {
			stop = 1;
			continue;
		}
		print_event(evs[i].ptr);
		free(evs[i].ptr);
	}
	return stop || n < 0;
}

int main(int argc, char **argv)
{
	struct rl_ha_config cfg = {0};
	struct rl_loop *loop;
	struct rl_ha_sink sink;
	struct rl_ha *ha;
	struct serving s = {0, 0};

	if (argc != 6) {
		fprintf(stderr, "usage: ha_candidate ENDPOINTS KEY NAME ADDRESS TTL_S\n");
		return 2;
	}
	/* The test freezes candidates (SIGSTOP). In the test's process group, a stopped candidate
	 * gets SIGHUP and SIGCONT from the kernel if that group is orphaned meanwhile (a run
	 * started from a background job whose shell has gone), and the SIGHUP ends it without a
	 * word; a group of its own, whose parent (the test) lives, is never orphaned. */
	setpgid(0, 0);
	rl_signals_block();
	rl_loop_create(&loop);
	rl_loop_catch_signals(loop, TAG_SIGNAL);
	cfg.endpoints = argv[1];
	cfg.key = argv[2];
	cfg.name = argv[3];
	cfg.address = argv[4];
	cfg.ttl_s = atoi(argv[5]);
	sink.loop = loop;
	sink.tag = TAG_HA;
	if (rl_ha_start(&ha, &cfg, rl_ha_post_event, &sink) != 0) {
		fprintf(stderr, "ha_candidate: bad configuration\n");
		return 2;
	}
	while (!drain(loop, 5))
		check_serving(ha, &s);
	rl_ha_stop(ha);
	if (s.on)
		printf("stopped last=%llu\n", (unsigned long long)s.last_us);
	drain(loop, 0);
	rl_loop_destroy(loop);
	return 0;
}
