#include "rl_scrape.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
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

void rl_http_reply(nng_aio *aio, uint16_t status, const char *const *headers, const void *body, size_t len)
{
	nng_http_res *res;

	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_http_res_set_status(res, status);
	for (; headers != NULL && headers[0] != NULL; headers += 2)
		nng_http_res_set_header(res, headers[0], headers[1]);
	if (len > 0 && nng_http_res_copy_data(res, body, len) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void rl_scrape_reply(nng_aio *aio, uint16_t status, const char *body, size_t len, int challenge)
{
	const char *const headers[] = {"Content-Type", RL_SCRAPE_CTYPE, challenge ? "WWW-Authenticate" : NULL,
	                               "Bearer realm=\"relais\"", NULL};

	rl_http_reply(aio, status, headers, body, len);
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
	rl_log(RL_LOG_NOTICE, "metrics listen=%s/metrics token=%s", url, s->has_token ? "required" : "none");
	if (!rl_scrape_local(url) && !s->has_token)
		rl_log(RL_LOG_WARNING, "metrics are served to anyone who reaches %s: set metrics_token_sha256", url);
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

/* ---------------------------------------------------------------------------------------- */
/* writing the text */

void rl_text_add(struct rl_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len)
			break;
		t->cap = t->cap * 2 + (n > 0 ? (size_t)n : 0) + 256;
		t->p = rl_realloc(t->p, t->cap);
	}
	t->len += (size_t)n;
}

const char *rl_prom_label(const char *v, char *out, size_t cap)
{
	size_t k = 0;

	for (; *v && k + 3 < cap; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n')
			out[k++] = '\\';
		out[k++] = *v == '\n' ? 'n' : *v;
	}
	out[k] = 0;
	return out;
}

void rl_prom_help(struct rl_text *t, const char *name, const char *type, const char *help)
{
	rl_text_add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void rl_prom_counter(struct rl_text *t, const char *name, const char *help, uint64_t v)
{
	rl_prom_help(t, name, "counter", help);
	rl_text_add(t, "%s %llu\n", name, (unsigned long long)v);
}

void rl_prom_gauge(struct rl_text *t, const char *name, const char *help, double v)
{
	rl_prom_help(t, name, "gauge", help);
	rl_text_add(t, "%s %.17g\n", name, v);
}

void rl_prom_hist_add(struct rl_prom_hist *h, double v)
{
	unsigned i = 0;

	while (i < h->n && v > h->le[i])
		i++;
	h->counts[i]++;
	h->sum += v;
}

void rl_prom_hist_write(struct rl_text *t, const char *name, const char *help, const struct rl_prom_hist *h)
{
	uint64_t cum = 0;

	rl_prom_help(t, name, "histogram", help);
	for (unsigned i = 0; i < h->n; i++) {
		cum += h->counts[i];
		rl_text_add(t, "%s_bucket{le=\"%g\"} %llu\n", name, h->le[i], (unsigned long long)cum);
	}
	cum += h->counts[h->n];
	rl_text_add(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.17g\n%s_count %llu\n", name, (unsigned long long)cum,
	            name, h->sum, name, (unsigned long long)cum);
}

void rl_text_reset(struct rl_text *t)
{
	t->len = 0;
	if (t->cap == 0) {
		t->cap = 4096;
		t->p = rl_malloc(t->cap);
	}
	t->p[0] = 0;
}

int rl_scrape_local(const char *url)
{
	return strstr(url, "://127.") != NULL || strstr(url, "://[::1]") != NULL || strstr(url, "://localhost") != NULL;
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
