/*
 * rl_greet.h - a listener's links must say Hello in time.
 *
 * A peer that completes the TCP (and TLS) handshake and then says nothing holds a socket, its
 * buffers and a TLS context for as long as it likes; a few thousand of them exhaust a daemon's
 * descriptors without ever sending a frame its gate could refuse. rl_greet watches a
 * listening socket's new pipes and closes each one that has not said Hello (as its owner
 * judges) within the deadline, with a log line and a count.
 *
 * Threads: nng's pipe callback records new pipes (under the watcher's lock); the owner's
 * thread sweeps, asking its own state whether each pipe has said Hello.
 */
#ifndef RL_GREET_H
#define RL_GREET_H

#include <nng/nng.h>
#include <stdint.h>

struct rl_greet;

/* rl_greet_open watches sock's new pipes (it takes the socket's NNG_PIPE_EV_ADD_POST
 * notification); timeout_ms: how long a link has to say Hello. */
void rl_greet_open(struct rl_greet **out, nng_socket sock, unsigned timeout_ms);

/* rl_greet_open_fn watches pipes the owner adds with rl_greet_add (rl_srv's, whose on_new
 * may call it from any thread) and closes the silent ones with close (0: closed). */
typedef int (*rl_greet_close_fn)(void *arg, uint32_t pipe);
void rl_greet_open_fn(struct rl_greet **out, unsigned timeout_ms, rl_greet_close_fn close, void *arg);
void rl_greet_add(struct rl_greet *g, uint32_t pipe);

/* greeted: 1 if the owner has seen pipe say Hello. */
typedef int (*rl_greet_fn)(void *arg, uint32_t pipe);

/* rl_greet_sweep forgets the pipes that said Hello and closes those that did not in time;
 * returns how many it closed. Call it from the owner's thread, a few times a second. */
unsigned rl_greet_sweep(struct rl_greet *g, uint64_t now_mono_us, rl_greet_fn greeted, void *arg);

/* rl_greet_closed: the links closed for silence since the start. */
uint64_t rl_greet_closed(const struct rl_greet *g);

/* rl_greet_close frees the watcher; close the socket first (its callback may still run). */
void rl_greet_close(struct rl_greet *g);

#endif
