/*
 * rl_hello.h - the answering side of Hello: the challenge a link must sign and the check of
 * its proof (rl_key.h), and the HelloOk. The hub answers nodes and tools with it; a node
 * answers its local tools. One challenge per link until a proof is tried, so a re-sent Hello
 * that crossed its answer gets the same one.
 */
#ifndef RL_HELLO_H
#define RL_HELLO_H

#include <stdint.h>

#include "rl_key.h"
#include "rl_wire.h"

struct rl_hello_gate {
	uint8_t challenge[RL_KEY_CHALLENGE];
	int out; /* a challenge is out, waiting for its proof */
};

/* rl_hello_challenge: the link's challenge, made fresh unless one is already out. */
const uint8_t *rl_hello_challenge(struct rl_hello_gate *g);

/* rl_hello_proven: RL_OK if h's proof signs the outstanding challenge, role and id under pk
 * (pk NULL: an unknown principal), else RL_EAUTH. Either way the challenge is spent. */
int rl_hello_proven(struct rl_hello_gate *g, const uint8_t *pk, const Relais__Hello *h, const char *id);

/* rl_hello_ok fills env (and ok, which it points to) with a HelloOk: server's id and clock, a
 * challenge to prove (NULL: none) and what the link is granted (NULL: nothing yet). */
void rl_hello_ok(rl_env *env, Relais__HelloOk *ok, const char *server_id, uint64_t now_us, const uint8_t *challenge,
                 const char *granted);

#endif
