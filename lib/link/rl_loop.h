/*
 * rl_loop.h - one event loop per daemon thread.
 *
 * nng receives on its own threads; rl_loop turns that into a single-threaded loop: each
 * socket added gets an async receive whose completion pushes the message into one bounded
 * inbox; other threads (auth worker, stdin reader) post their own events into the same
 * inbox. The owning thread drains it with rl_loop_wait in batches, so it can apply a whole
 * batch in one store transaction (group commit).
 *
 * When the inbox is full a socket's receive is not re-armed until the owner drains below
 * half, which pushes back through nng's queues to TCP rather than growing memory.
 * Bundles (rl_bundle.h) are split here into their frames, so owners see single frames.
 */
#ifndef RL_LOOP_H
#define RL_LOOP_H

#include <nng/nng.h>
#include <stdint.h>

#define RL_LOOP_INBOX 131072

enum rl_loop_kind {
	RL_LOOP_MSG = 1,  /* msg from socket `src` (the owner now owns msg) */
	RL_LOOP_POST = 2, /* ptr posted with rl_loop_post by another thread */
};

struct rl_loop_event {
	int kind;
	int src;      /* socket tag or post tag */
	nng_msg *msg; /* RL_LOOP_MSG */
	void *ptr;    /* RL_LOOP_POST */
};

struct rl_loop;

/* rl_loop_create allocates a loop into *out (freed with rl_loop_destroy). Returns RL_OK:
 * running out of memory aborts (rl_alloc.h). */
int rl_loop_create(struct rl_loop **out);

/*
 * rl_loop_add_socket starts receiving from s; events carry src = tag. At most 256 sockets.
 * Errors: RL_EFULL.
 */
int rl_loop_add_socket(struct rl_loop *l, nng_socket s, int tag);

/*
 * rl_loop_add_source registers a receiver that is not an nng socket (rl_srv.h): the frames it
 * hands over with rl_loop_source_deliver (from any thread; the loop owns them then) carry
 * src = tag. Delivery returns 1 while the inbox has room, 0 once it passes its bound (the
 * frames are still taken, or dropped and counted when it is full): the source stops reading
 * then, and resume(arg) is called from rl_loop_wait's thread when the owner has drained it
 * below half. At most 256 sockets and sources together. Errors: RL_EFULL.
 */
struct rl_loop_rx;
int rl_loop_add_source(struct rl_loop *l, int tag, void (*resume)(void *arg), void *arg, struct rl_loop_rx **out);
int rl_loop_source_deliver(struct rl_loop_rx *rx, nng_msg **frames, unsigned n);
/* rl_loop_source_close: the source delivers no more and is never resumed (its owner goes). */
void rl_loop_source_close(struct rl_loop_rx *rx);

/*
 * rl_loop_swap_socket receives from s instead of old from now on (same tag): for a link that
 * replaces its socket. Call it from the thread that runs rl_loop_wait. Messages old had
 * already handed over stay queued. Errors: RL_ENOENT (old not added).
 */
int rl_loop_swap_socket(struct rl_loop *l, nng_socket old, nng_socket s);

/* rl_loop_post queues ptr for the owner from any thread. RL_EFULL if the inbox is full. */
int rl_loop_post(struct rl_loop *l, int tag, void *ptr);

/*
 * rl_loop_wait waits up to timeout_ms (-1 = forever, 0 = poll) for events and moves up to
 * max of them into evs. Returns the number of events (0 on timeout), or -1 after
 * rl_loop_stop.
 */
int rl_loop_wait(struct rl_loop *l, int timeout_ms, struct rl_loop_event *evs, int max);

/*
 * rl_signals_block blocks SIGINT and SIGTERM and ignores SIGPIPE in the calling thread. Call
 * it first in main, before any nng call starts threads, so every thread inherits the mask.
 */
void rl_signals_block(void);

/*
 * rl_loop_catch_signals starts a thread that waits for SIGINT/SIGTERM (blocked by
 * rl_signals_block) and posts (tag, NULL) to the loop: a daemon stops from its own loop,
 * at a safe point, instead of inside a signal handler. Errors: RL_EAGAIN (no thread could be
 * started).
 */
int rl_loop_catch_signals(struct rl_loop *l, int tag);

/*
 * rl_exit_watchdog ends the process with code after seconds unless it exits first. Daemons
 * start it when they begin shutting down: everything durable is already committed, and
 * closing nng sockets can wait on peers that never finish their side.
 */
void rl_exit_watchdog(int seconds, int code);

/* rl_loop_stop makes rl_loop_wait return -1 (async-signal-unsafe; call from a thread). */
void rl_loop_stop(struct rl_loop *l);

/*
 * rl_loop_destroy stops receives and frees queued messages. Pointers still queued from
 * rl_loop_post are not freed: posters stop (join their threads) and drain first.
 * Close sockets after this.
 */
void rl_loop_destroy(struct rl_loop *l);

#endif
