/*
 * rl_link.h - nng sockets for Relais links.
 *
 * Servers (hub, node towards its agents) open pair1 in polyamorous mode; clients open plain
 * pair1. Every socket gets NNG_OPT_RECVMAXSZ = RL_WIRE_MAX_FRAME before any listener or
 * dialer exists. tls+tcp:// URLs use mutual TLS from struct rl_tls (CA, own cert, key):
 * servers require and verify client certificates, clients verify the server.
 */
#ifndef RL_LINK_H
#define RL_LINK_H

#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rl_wire.h"

struct rl_tls {
	const char *ca_file;   /* PEM CA chain that signs peers */
	const char *cert_file; /* PEM own certificate */
	const char *key_file;  /* PEM own private key */
	const char *
	    server_name; /* clients: expected server name (default "relais", which every Relais server certificate carries) */
};

/* rl_link_server_open opens a polyamorous pair1 socket. Errors: RL_ENET. */
int rl_link_server_open(nng_socket *s);

/* rl_link_client_open opens a pair1 socket with reconnect times 100 ms .. 2 s. */
int rl_link_client_open(nng_socket *s);

/* rl_link_listen listens on url; tls must be given for tls+tcp://. Errors: RL_ENET, RL_ECONFIG. */
int rl_link_listen(nng_socket s, const char *url, const struct rl_tls *tls);

/*
 * rl_link_dial dials url in the background (nng re-dials forever); *d (if not NULL) gets
 * the dialer, whose nng_dialer_close also closes its pipe. Errors: RL_ENET, RL_ECONFIG.
 */
int rl_link_dial(nng_socket s, const char *url, const struct rl_tls *tls, nng_dialer *d);

/*
 * rl_link_send encodes env and sends it without blocking. pipe: the target pipe on a
 * polyamorous socket (0 = any/the only peer). Errors: RL_ETOOBIG, RL_EAGAIN (peer
 * backlog full: the message is dropped), RL_ENET.
 */
int rl_link_send(nng_socket s, uint32_t pipe, rl_env *env);

/* rl_link_send_bytes sends len bytes already encoded (an envelope, a bundle) the same way. */
int rl_link_send_bytes(nng_socket s, uint32_t pipe, const void *buf, size_t len);

/* rl_link_close closes s on a thread of its own and waits for it at most ms (0: not at all).
 * 1 if the close finished; 0 if it goes on in the background - nng 1.5.2's close can wait
 * forever on a wedged dialer or pipe (rl_link.c) - and whatever its callbacks reach must stay. */
int rl_link_close(nng_socket s, int ms);

/*
 * rl_link_recv_env decodes msg (not freed) into *env; *pipe gets the pipe it came from.
 * Same errors as rl_wire_decode.
 */
int rl_link_recv_env(nng_msg *msg, rl_env **env, uint32_t *pipe);

/* rl_link_peer_ip writes the remote IP of pipe, port 0, into *ss: where the peer's media may
 * come from (the hub's relay latches a leg only from its control link's IP). Errors:
 * RL_ENOENT (pipe 0 or gone, or a transport without IP addresses: ipc, inproc). */
int rl_link_peer_ip(uint32_t pipe, struct sockaddr_storage *ss);

/* rl_link_sockaddr writes nng's address a, port 0, into *ss. Errors: RL_ENOENT (not IP). */
int rl_link_sockaddr(const nng_sockaddr *a, struct sockaddr_storage *ss);

/* rl_link_tls_server_config: a server's mutual-TLS config (CA, own cert and key, client
 * certificates required) in *out, freed by the caller with nng_tls_config_free. */
struct nng_tls_config;
int rl_link_tls_server_config(struct nng_tls_config **out, const struct rl_tls *tls);

/* rl_link_new_req_id returns a fresh nonzero request id (random base, then +1). */
uint64_t rl_link_new_req_id(void);

#endif
