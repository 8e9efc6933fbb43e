#include "rl_link.h"

#include <netinet/in.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_secret.h"

static int rl_link_common(nng_socket s)
{
	if (nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, RL_WIRE_MAX_FRAME) != 0)
		return RL_ENET;
	/* A dead peer must not hold a pipe forever; heartbeats do the fast detection. */
	nng_socket_set_bool(s, NNG_OPT_TCP_KEEPALIVE, true);
	nng_socket_set_bool(s, NNG_OPT_TCP_NODELAY, true);
	return RL_OK;
}

int rl_link_server_open(nng_socket *s)
{
	int rv;

	if (nng_pair1_open_poly(s) != 0)
		return RL_ENET;
	if ((rv = rl_link_common(*s)) != RL_OK) {
		nng_close(*s);
		return rv;
	}
	/* Deep buffers: one socket carries every peer's traffic. */
	nng_socket_set_int(*s, NNG_OPT_RECVBUF, 8192);
	nng_socket_set_int(*s, NNG_OPT_SENDBUF, 8192);
	return RL_OK;
}

int rl_link_client_open(nng_socket *s)
{
	int rv;

	if (nng_pair1_open(s) != 0)
		return RL_ENET;
	if ((rv = rl_link_common(*s)) != RL_OK) {
		nng_close(*s);
		return rv;
	}
	nng_socket_set_ms(*s, NNG_OPT_RECONNMINT, 100);
	nng_socket_set_ms(*s, NNG_OPT_RECONNMAXT, 2000);
	nng_socket_set_int(*s, NNG_OPT_RECVBUF, 1024);
	nng_socket_set_int(*s, NNG_OPT_SENDBUF, 1024);
	return RL_OK;
}

/* rl_link_read_pem returns a file's contents as a NUL-terminated string (max 64 KiB). */
static char *rl_link_read_pem(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = rl_malloc(65536 + 1);
	n = fread(buf, 1, 65536, f);
	fclose(f);
	buf[n] = 0;
	if (n == 0 || n == 65536) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int rl_link_is_tls(const char *url)
{
	return strncmp(url, "tls+", 4) == 0;
}

/*
 * Both ends authenticate: servers require a client certificate signed by the CA, clients
 * verify the server's. The config is handed to nng, which keeps its own reference.
 */
static int rl_link_tls_config(nng_tls_config **out, nng_tls_mode mode, const struct rl_tls *tls)
{
	nng_tls_config *cfg = NULL;
	char *cert = NULL, *key = NULL;
	int rv;

	if (tls == NULL || tls->ca_file == NULL || tls->cert_file == NULL || tls->key_file == NULL) {
		rl_log(RL_LOG_ERR, "tls url needs ca, cert and key files");
		return RL_ECONFIG;
	}
	if ((rv = nng_tls_config_alloc(&cfg, mode)) != 0) {
		if (rv == NNG_ENOMEM)
			rl_oom_in("nng_tls_config_alloc");
		rl_log(RL_LOG_ERR, "tls unavailable err=\"%s\"", nng_strerror(rv));
		return RL_ECONFIG;
	}
	if ((rv = nng_tls_config_ca_file(cfg, tls->ca_file)) != 0) {
		rl_log(RL_LOG_ERR, "tls ca file=%s err=\"%s\"", tls->ca_file, nng_strerror(rv));
		goto fail;
	}
	if ((cert = rl_link_read_pem(tls->cert_file)) == NULL || (key = rl_link_read_pem(tls->key_file)) == NULL) {
		rl_log(RL_LOG_ERR, "tls cannot read cert=%s key=%s", tls->cert_file, tls->key_file);
		goto fail;
	}
	if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
		rl_log(RL_LOG_ERR, "tls cert=%s key=%s err=\"%s\"", tls->cert_file, tls->key_file, nng_strerror(rv));
		goto fail;
	}
	if (nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED) != 0)
		goto fail;
	if (mode == NNG_TLS_MODE_CLIENT &&
	    nng_tls_config_server_name(cfg, tls->server_name ? tls->server_name : "relais") != 0)
		goto fail;
	free(cert);
	free(key);
	*out = cfg;
	return RL_OK;
fail:
	free(cert);
	free(key);
	nng_tls_config_free(cfg);
	return RL_ECONFIG;
}

int rl_link_tls_server_config(nng_tls_config **out, const struct rl_tls *tls)
{
	return rl_link_tls_config(out, NNG_TLS_MODE_SERVER, tls);
}

int rl_link_listen(nng_socket s, const char *url, const struct rl_tls *tls)
{
	nng_listener l;
	nng_tls_config *cfg = NULL;
	int rv;

	if ((rv = nng_listener_create(&l, s, url)) != 0) {
		rl_log(RL_LOG_ERR, "listen url=%s err=\"%s\"", url, nng_strerror(rv));
		return RL_ENET;
	}
	if (rl_link_is_tls(url)) {
		if ((rv = rl_link_tls_config(&cfg, NNG_TLS_MODE_SERVER, tls)) != RL_OK)
			goto fail;
		rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
		nng_tls_config_free(cfg);
		if (rv != 0) {
			rv = RL_ECONFIG;
			goto fail;
		}
	}
	if ((rv = nng_listener_start(l, 0)) != 0) {
		rl_log(RL_LOG_ERR, "listen url=%s err=\"%s\"", url, nng_strerror(rv));
		rv = RL_ENET;
		goto fail;
	}
	return RL_OK;
fail:
	nng_listener_close(l);
	return rv;
}

int rl_link_dial(nng_socket s, const char *url, const struct rl_tls *tls, nng_dialer *out)
{
	nng_dialer d;
	nng_tls_config *cfg = NULL;
	int rv;

	if ((rv = nng_dialer_create(&d, s, url)) != 0) {
		rl_log(RL_LOG_ERR, "dial url=%s err=\"%s\"", url, nng_strerror(rv));
		return RL_ENET;
	}
	if (rl_link_is_tls(url)) {
		if ((rv = rl_link_tls_config(&cfg, NNG_TLS_MODE_CLIENT, tls)) != RL_OK)
			goto fail;
		rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
		nng_tls_config_free(cfg);
		if (rv != 0) {
			rv = RL_ECONFIG;
			goto fail;
		}
	}
	/* Non-blocking: the dialer keeps retrying in the background until the peer is up. */
	if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
		rl_log(RL_LOG_ERR, "dial url=%s err=\"%s\"", url, nng_strerror(rv));
		rv = RL_ENET;
		goto fail;
	}
	if (out != NULL)
		*out = d;
	return RL_OK;
fail:
	nng_dialer_close(d);
	return rv;
}

/* rl_link_sendmsg sends m (taken) to pipe without blocking. */
static int rl_link_sendmsg(nng_socket s, uint32_t pipe, nng_msg *m)
{
	int rv;

	if (pipe != 0) {
		nng_pipe p = NNG_PIPE_INITIALIZER;
		p.id = pipe;
		nng_msg_set_pipe(m, p);
	}
	if ((rv = nng_sendmsg(s, m, NNG_FLAG_NONBLOCK)) != 0) {
		nng_msg_free(m);
		return rv == NNG_EAGAIN ? RL_EAGAIN : RL_ENET;
	}
	return RL_OK;
}

int rl_link_send(nng_socket s, uint32_t pipe, rl_env *env)
{
	const uint8_t *frame;
	size_t n = rl_wire_frame(env, &frame);

	if (n == 0)
		return RL_ETOOBIG;
	return rl_link_send_bytes(s, pipe, frame, n);
}

int rl_link_send_bytes(nng_socket s, uint32_t pipe, const void *buf, size_t len)
{
	nng_msg *m;

	if (nng_msg_alloc(&m, len) != 0)
		rl_oom(len);
	memcpy(nng_msg_body(m), buf, len);
	return rl_link_sendmsg(s, pipe, m);
}

/*
 * Closing a socket waits for nng to reap its pipes and dialers. With nng 1.5.2 that wait can
 * last forever: a dialer wedged in a connection attempt that never completes (seen after the
 * server was killed mid-handshake, on a busy machine), a listener's pipe whose peer closed
 * while a send to it was stuck (docs/protocol.md, nng 1.5.2). So the close runs on a thread
 * of its own, and the caller waits for it at most ms.
 */
struct rl_closer {
	nng_socket sock;
	nng_mtx *mu;
	nng_cv *cv;
	int done;
	atomic_int refs; /* the closing thread's, and the waiting caller's */
};

static void rl_closer_put(struct rl_closer *k)
{
	if (atomic_fetch_sub(&k->refs, 1) == 1) {
		nng_cv_free(k->cv);
		nng_mtx_free(k->mu);
		free(k);
	}
}

static void *rl_closer_run(void *arg)
{
	struct rl_closer *k = arg;

	nng_close(k->sock);
	nng_mtx_lock(k->mu);
	k->done = 1;
	nng_cv_wake(k->cv);
	nng_mtx_unlock(k->mu);
	rl_closer_put(k);
	return NULL;
}

/* rl_closer_wait waits at most ms for k's close; 1 if it finished. */
static int rl_closer_wait(struct rl_closer *k, int ms)
{
	nng_time until = nng_clock() + (nng_time)ms;
	int done;

	nng_mtx_lock(k->mu);
	while (!k->done && nng_cv_until(k->cv, until) == 0)
		;
	done = k->done;
	nng_mtx_unlock(k->mu);
	return done;
}

int rl_link_close(nng_socket s, int ms)
{
	struct rl_closer *k = rl_calloc(1, sizeof(*k));
	pthread_t t;
	int done = 0;

	if (nng_mtx_alloc(&k->mu) != 0 || nng_cv_alloc(&k->cv, k->mu) != 0)
		rl_oom_in("nng_mtx_alloc");
	k->sock = s;
	atomic_init(&k->refs, ms > 0 ? 2 : 1);
	if (pthread_create(&t, NULL, rl_closer_run, k) != 0) {
		nng_close(s); /* no thread to be had: here, unbounded */
		atomic_store(&k->refs, 1);
		rl_closer_put(k);
		return 1;
	}
	pthread_detach(t);
	if (ms > 0) {
		done = rl_closer_wait(k, ms);
		rl_closer_put(k);
	}
	return done;
}

int rl_link_recv_env(nng_msg *msg, rl_env **env, uint32_t *pipe)
{
	if (pipe != NULL)
		*pipe = nng_pipe_id(nng_msg_get_pipe(msg));
	return rl_wire_decode(nng_msg_body(msg), nng_msg_len(msg), env);
}

int rl_link_peer_ip(uint32_t pipe, struct sockaddr_storage *ss)
{
	nng_pipe p = NNG_PIPE_INITIALIZER;
	nng_sockaddr sa;

	p.id = pipe;
	memset(ss, 0, sizeof(*ss));
	if (pipe == 0 || nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
		return RL_ENOENT;
	return rl_link_sockaddr(&sa, ss);
}

int rl_link_sockaddr(const nng_sockaddr *a, struct sockaddr_storage *ss)
{
	nng_sockaddr sa = *a;

	memset(ss, 0, sizeof(*ss));
	if (sa.s_family == NNG_AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = sa.s_in.sa_addr; /* both in network order */
		return RL_OK;
	}
	if (sa.s_family == NNG_AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		memcpy(in6->sin6_addr.s6_addr, sa.s_in6.sa_addr, 16);
		return RL_OK;
	}
	return RL_ENOENT;
}

uint64_t rl_link_new_req_id(void)
{
	static atomic_ullong next;
	unsigned long long cur = atomic_load(&next);

	if (cur == 0) {
		unsigned long long base;
		rl_secret_random(&base, sizeof(base));
		base = (base & 0xffffffffffffULL) | 1; /* random 48-bit base, never 0 */
		atomic_compare_exchange_strong(&next, &cur, base);
	}
	unsigned long long id = atomic_fetch_add(&next, 1);
	return id ? id : atomic_fetch_add(&next, 1);
}
