#include "scrape.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"

#define RL_SCRAPE_CTYPE "text/plain; version=0.0.4; charset=utf-8"

struct rl_scrape {
	nng_http_server *srv;
	nng_http_handler *h;
	pthread_mutex_t mu;
	char *text; /* the last rendering */
	size_t len;
	uint8_t token[crypto_hash_sha256_BYTES]; /* SHA-256 of the token */
	int has_token;
	uint64_t refused;
};

static void rl_scrape_reply(nng_aio *aio, uint16_t status, const char *body, size_t len, int challenge)
{
	nng_http_res *res;

	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_http_res_set_status(res, status);
	nng_http_res_set_header(res, "Content-Type", RL_SCRAPE_CTYPE);
	if (challenge)
		nng_http_res_set_header(res, "WWW-Authenticate", "Bearer realm=\"relais\"");
	if (len > 0 && nng_http_res_copy_data(res, body, len) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* rl_scrape_allowed: 1 if req carries the token (or none is asked for). Constant time. */
static int rl_scrape_allowed(struct rl_scrape *s, nng_http_req *req)
{
	const char *auth = nng_http_req_get_header(req, "Authorization");
	uint8_t h[crypto_hash_sha256_BYTES];

	if (!s->has_token)
		return 1;
	if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0)
		return 0;
	crypto_hash_sha256(h, (const unsigned char *)auth + 7, strlen(auth + 7));
	return sodium_memcmp(h, s->token, sizeof(h)) == 0;
}

static void rl_scrape_cb(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	struct rl_scrape *s = nng_http_handler_get_data(nng_aio_get_input(aio, 1));
	char *copy;
	size_t len;

	if (!rl_scrape_allowed(s, req)) {
		pthread_mutex_lock(&s->mu);
		s->refused++;
		pthread_mutex_unlock(&s->mu);
		rl_scrape_reply(aio, 401, "a bearer token is needed\n", 25, 1);
		return;
	}
	pthread_mutex_lock(&s->mu);
	len = s->len;
	copy = len ? rl_malloc(len) : NULL;
	if (len)
		memcpy(copy, s->text, len);
	pthread_mutex_unlock(&s->mu);
	if (copy == NULL)
		rl_scrape_reply(aio, 503, "no metrics yet\n", 15, 0);
	else
		rl_scrape_reply(aio, 200, copy, len, 0);
	free(copy);
}

static int rl_scrape_token(struct rl_scrape *s, const char *hex)
{
	size_t n = 0;

	if (hex == NULL || hex[0] == 0)
		return RL_OK;
	if (sodium_hex2bin(s->token, sizeof(s->token), hex, strlen(hex), NULL, &n, NULL) != 0 || n != sizeof(s->token))
		return RL_ECONFIG;
	s->has_token = 1;
	return RL_OK;
}

int rl_scrape_open(struct rl_scrape **out, const char *url, const char *token_sha256_hex)
{
	struct rl_scrape *s = rl_calloc(1, sizeof(*s));
	nng_url *u = NULL;
	int rv = RL_ECONFIG;

	pthread_mutex_init(&s->mu, NULL);
	if (rl_scrape_token(s, token_sha256_hex) != RL_OK || nng_url_parse(&u, url) != 0 ||
	    strcmp(u->u_scheme, "http") != 0)
		goto fail;
	rv = RL_ENET;
	if (nng_http_server_hold(&s->srv, u) != 0 || nng_http_handler_alloc(&s->h, "/metrics", rl_scrape_cb) != 0)
		goto fail;
	nng_http_handler_set_data(s->h, s, NULL);
	if (nng_http_server_add_handler(s->srv, s->h) != 0) {
		nng_http_handler_free(s->h);
		goto fail;
	}
	if (nng_http_server_start(s->srv) != 0)
		goto fail;
	nng_url_free(u);
	*out = s;
	return RL_OK;
fail:
	if (u != NULL)
		nng_url_free(u);
	if (s->srv != NULL)
		nng_http_server_release(s->srv);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return rv;
}

void rl_scrape_publish(struct rl_scrape *s, const char *text, size_t len)
{
	char *copy = rl_malloc(len + 1);

	memcpy(copy, text, len);
	pthread_mutex_lock(&s->mu);
	free(s->text);
	s->text = copy;
	s->len = len;
	pthread_mutex_unlock(&s->mu);
}

uint64_t rl_scrape_refused(struct rl_scrape *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->mu);
	n = s->refused;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void rl_scrape_close(struct rl_scrape *s)
{
	if (s == NULL)
		return;
	nng_http_server_stop(s->srv);
	nng_http_server_release(s->srv);
	pthread_mutex_destroy(&s->mu);
	free(s->text);
	free(s);
}
