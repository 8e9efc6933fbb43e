/*
 * rl_nngfix.h - help for nng 1.5.2 where it cannot be helped through its API.
 *
 * A listener that stops for good. nng 1.5.2 reports EPIPE from sendmsg as NNG_ECLOSED, the
 * error that also means "this object was closed". While a new connection negotiates (TLS
 * handshake, SP header), a failure is handed to the listener waiting for the next connection
 * as that listener's own error; given NNG_ECLOSED, the listener takes it for its own closing
 * and never accepts again (nng issue 1518, fixed after 1.5.2). Below it the transport goes on
 * negotiating connections that nobody takes: every new client completes TLS, then waits
 * unanswered, and the server's ends sit in CLOSE-WAIT once clients give up. EPIPE is what a
 * server gets when it writes its handshake to a peer that sent its FIN and then reset the
 * connection: anyone who reaches the port can do that, with no certificate. A dialer whose
 * handshake meets it stops re-dialling for good the same way.
 *
 * rl_nngfix_install makes nng's own sendmsg calls report that case as what it is, a reset by
 * the peer (ECONNRESET), which nng handles as a remote failure: the listener takes the next
 * connection, the dialer dials again, an established pipe closes as it did. The program's own
 * sendmsg calls and other libraries' are left alone. It works by this file defining sendmsg:
 * the executable exports it in place of libc's, so the shared libnng calls it (through its
 * PLT) and it calls the next definition (libc's, or a sanitizer's). A program has the wrapper
 * only if it calls rl_nngfix_install; until it does, the wrapper changes nothing.
 */
#ifndef RL_NNGFIX_H
#define RL_NNGFIX_H

#include <nng/nng.h>
#include <stdint.h>

/* rl_nngfix_install turns the correction on (once; any thread). Returns RL_OK, or RL_ENOENT
 * when nng is not a shared library of its own (linked statically, it cannot be told apart). */
int rl_nngfix_install(void);

/* rl_nngfix_resets returns how many of nng's sends have met a connection its peer had reset
 * (EPIPE, reported as ECONNRESET) since the start. */
uint64_t rl_nngfix_resets(void);

#endif
