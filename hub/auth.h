/*
 * auth.h - argon2id verification off the hub's loop.
 *
 * Verifying a secret costs tens of milliseconds by design; one worker thread does it so
 * routing never waits. Finished jobs come back through the loop (rl_loop_post with tag).
 * An unknown agent is verified against a dummy hash so timing does not tell ids apart.
 */
#ifndef RL_AUTH_H
#define RL_AUTH_H

#include "engine.h"
#include "rl_loop.h"

struct rl_auth;

/* rl_auth_start starts the worker. Errors: RL_EIO (hashing or the thread failed). */
int rl_auth_start(struct rl_auth **out, struct rl_loop *loop, int tag);

/* rl_auth_submit queues a job (engine callback signature: arg is the struct rl_auth). */
void rl_auth_submit(void *arg, struct rl_auth_job *job);

/* rl_auth_stop joins the worker and frees unfinished jobs. */
void rl_auth_stop(struct rl_auth *a);

#endif
