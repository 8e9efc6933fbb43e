/*
 * rl_greet.h - a listener's links must say Hello in time.
 *
 * A peer that completes the TCP (and TLS) handshake and then says nothing holds a socket, its
 * buffers and a TLS context for as long as it likes; a few thousand of them exhaust a daemon's
 * descriptors without ever sending a frame its gate could refuse. rl_greet watches a
 * listener's new pipes (rl_srv adds each as it accepts it) and closes each one that has not
 * said Hello (as its owner judges) within the deadline, with a log line and a count.
 *
 * Threads: pipes are added from any thread (under the watcher's lock); the owner's thread
 * sweeps, asking its own state whether each pipe has said Hello.
 */
#ifndef RL_GREET_H
#define RL_GREET_H

#include <stdint.h>

struct rl_greet;

/* rl_greet_open watches the pipes given to rl_greet_add (from any thread) and closes those
 * silent for timeout_ms with close(arg, pipe) (0: closed; else it was gone already). */
typedef int (*rl_greet_close_fn)(void *arg, uint32_t pipe);
void rl_greet_open(struct rl_greet **out, unsigned timeout_ms, rl_greet_close_fn close, void *arg);
void rl_greet_add(struct rl_greet *g, uint32_t pipe);

/* greeted: 1 if the owner has seen pipe say Hello. */
typedef int (*rl_greet_fn)(void *arg, uint32_t pipe);

/* rl_greet_sweep forgets the pipes that said Hello and closes those that did not in time;
 * returns how many it closed. Call it from the owner's thread, a few times a second. */
unsigned rl_greet_sweep(struct rl_greet *g, uint64_t now_mono_us, rl_greet_fn greeted, void *arg);

/* rl_greet_closed: the links closed for silence since the start. */
uint64_t rl_greet_closed(const struct rl_greet *g);

/* rl_greet_close frees the watcher; no rl_greet_add may follow (close the listener first). */
void rl_greet_close(struct rl_greet *g);

#endif
