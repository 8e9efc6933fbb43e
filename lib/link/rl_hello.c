#include "rl_hello.h"

#include "rl_err.h"

const uint8_t *rl_hello_challenge(struct rl_hello_gate *g)
{
	if (!g->out)
		rl_key_challenge(g->challenge);
	g->out = 1;
	return g->challenge;
}

int rl_hello_proven(struct rl_hello_gate *g, const uint8_t *pk, const Relais__Hello *h, const char *id)
{
	int out = g->out;

	g->out = 0;
	if (pk == NULL || !out)
		return RL_EAUTH;
	return rl_key_check(pk, g->challenge, (int)h->role, id, h->proof.data, h->proof.len);
}

void rl_hello_ok(rl_env *env, Relais__HelloOk *ok, const char *server_id, uint64_t now_us, const uint8_t *challenge,
                 const char *granted)
{
	rl_env_init(env);
	relais__hello_ok__init(ok);
	ok->server_time_us = now_us;
	ok->hub_id = (char *)server_id;
	ok->challenge.data = (uint8_t *)challenge;
	ok->challenge.len = challenge ? RL_KEY_CHALLENGE : 0;
	ok->granted = (char *)granted;
	env->body_case = RELAIS__ENVELOPE__BODY_HELLO_OK;
	env->hello_ok = ok;
}
