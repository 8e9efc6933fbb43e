/*
 * rl_bundle.h - coalescing outgoing frames per pipe.
 *
 * nng's pair1 polyamorous sockets queue at most two messages per pipe and silently drop
 * the rest, so a burst to one peer (a node link carrying many agents, or a batch's reply,
 * offer and status to one agent) must leave as one frame. A bundler collects encoded
 * envelopes per pipe during a batch and sends each pipe's collection as one Bundle
 * envelope (or the lone frame as is). rl_loop splits bundles back into frames on receipt,
 * so consumers never see them.
 */
#ifndef RL_BUNDLE_H
#define RL_BUNDLE_H

#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

#define RL_BUNDLE_MAX_FRAMES 4096 /* the 64 KiB frame bound usually binds first */

struct rl_bundler;

/* rl_bundler_create: an empty bundler in *out (freed with rl_bundler_destroy). Returns RL_OK:
 * running out of memory aborts (rl_alloc.h). */
int rl_bundler_create(struct rl_bundler **out);

/* rl_bundler_add copies buf (one encoded envelope) for pipe. Errors: RL_ETOOBIG. */
int rl_bundler_add(struct rl_bundler *b, uint32_t pipe, const uint8_t *buf, size_t len);

/* rl_bundler_flush sends everything collected on s and empties the bundler; returns the
 * number of frames that could not be sent (counted by the caller as drops). */
unsigned rl_bundler_flush(struct rl_bundler *b, nng_socket s);

/* rl_bundler_flush_fn is rl_bundler_flush through send (RL_OK when the frame is queued), for
 * links that are not nng sockets (rl_srv.h). */
typedef int (*rl_bundle_send_fn)(void *arg, uint32_t pipe, const void *buf, size_t len);
unsigned rl_bundler_flush_fn(struct rl_bundler *b, rl_bundle_send_fn send, void *arg);

void rl_bundler_destroy(struct rl_bundler *b);

/*
 * rl_bundle_split: if msg is a Bundle, returns its frames as new messages (same pipe) in
 * out (up to max; *n set) and frees msg; returns 1. Otherwise (not a bundle, or one that
 * does not decode: its consumer decodes and counts it) returns 0 and leaves msg.
 * rl_bundle_split_buf does the same for the len bytes at body, received on pipe: a listener
 * splits a bundle where it read it, without a message of its own first.
 */
int rl_bundle_split(nng_msg *msg, nng_msg **out, unsigned max, unsigned *n);
int rl_bundle_split_buf(const uint8_t *body, size_t len, nng_pipe pipe, nng_msg **out, unsigned max, unsigned *n);

#endif
