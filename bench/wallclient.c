/*
 * relais-bench-wall: many browsers on the hub's web wallboard, for bench/wallboard.
 *
 *   relais-bench-wall --url https://IP:PORT --cookie C [--cookie C2 ...] --clients N
 *
 * Opens N streams of /events (client i with cookie i mod the number given), each on a thread
 * of its own, over TLS as a browser would (the certificate not checked: the bench's own CA).
 * Says "connected N" on standard output once every stream has its first frame, then counts
 * until SIGINT or SIGTERM, and prints how late each frame came:
 *   change->client  from the first change the frame shows (its "changed", the hub's clock)
 *   render->client  from its rendering ("now")
 * to its last byte arriving here (same machine, same clock), p50, p99 and max over every
 * frame of every client.
 */
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rl_time.h"

#define MAX_CLIENTS 1000
#define MAX_COOKIES 8

struct client {
	pthread_t th;
	int id;
	nng_http_conn *conn;
	double *lat, *render; /* ms per frame */
	size_t n, cap;
	uint64_t bytes; /* of the frames counted */
	int first;
	int failed;
};

static struct {
	const char *url;
	const char *cookies[MAX_COOKIES];
	int ncookies, nclients;
	nng_http_client *http;
	nng_tls_config *tls;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ready, stop;
	struct client c[MAX_CLIENTS];
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void note(struct client *c, const char *frame, size_t len)
{
	const char *ch = strstr(frame, "\"changed\":"), *now = strstr(frame, "\"now\":");
	double t = (double)rl_wall_us() / 1000.0;

	if (ch == NULL || now == NULL)
		return;
	pthread_mutex_lock(&g.mu);
	if (!c->first) {
		c->first = 1;
		g.ready++;
		pthread_cond_broadcast(&g.cv);
	} else if (g.ready == g.nclients && !g.stop) {
		/* Counted once every stream is up: a stream's first frame is its scope's last. */
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 1024;
			c->lat = realloc(c->lat, c->cap * sizeof(double));
			c->render = realloc(c->render, c->cap * sizeof(double));
			if (c->lat == NULL || c->render == NULL)
				abort();
		}
		c->bytes += len;
		c->lat[c->n] = t - strtod(ch + 10, NULL);
		c->render[c->n++] = t - strtod(now + 6, NULL);
	}
	pthread_mutex_unlock(&g.mu);
}

/* open_stream connects client c and sends its GET /events; 0 on success. */
static int open_stream(struct client *c)
{
	nng_aio *aio;
	nng_http_req *req;
	nng_http_res *res;
	nng_url *u;
	int rv;

	if (nng_aio_alloc(&aio, NULL, NULL) != 0 || nng_url_parse(&u, g.url) != 0)
		return -1;
	nng_http_client_connect(g.http, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		fprintf(stderr, "client %d: connect: %s\n", c->id, nng_strerror(rv));
		nng_aio_free(aio);
		nng_url_free(u);
		return -1;
	}
	c->conn = nng_aio_get_output(aio, 0);
	nng_http_req_alloc(&req, u);
	nng_http_req_set_uri(req, "/events");
	nng_http_req_set_header(req, "Cookie", g.cookies[c->id % g.ncookies]);
	nng_http_req_set_header(req, "Accept", "text/event-stream");
	nng_http_conn_write_req(c->conn, req, aio);
	nng_aio_wait(aio);
	nng_http_res_alloc(&res);
	if ((rv = nng_aio_result(aio)) == 0) {
		nng_http_conn_read_res(c->conn, res, aio);
		nng_aio_wait(aio);
		rv = nng_aio_result(aio) != 0 ? -1 : nng_http_res_get_status(res) == 200 ? 0 : -1;
	}
	if (rv != 0)
		fprintf(stderr, "client %d: /events refused (status %d)\n", c->id, nng_http_res_get_status(res));
	nng_http_res_free(res);
	nng_http_req_free(req);
	nng_aio_free(aio);
	nng_url_free(u);
	return rv;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap + 1);
	nng_aio *aio;

	if (buf == NULL || nng_aio_alloc(&aio, NULL, NULL) != 0 || open_stream(c) != 0) {
		c->failed = 1;
		free(buf);
		return NULL;
	}
	for (;;) {
		nng_iov iov = {buf + len, cap - len};
		char *end;
		nng_aio_set_iov(aio, 1, &iov);
		nng_http_conn_read(c->conn, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0)
			break;
		len += nng_aio_count(aio);
		buf[len] = 0;
		/* Whole events only; the rest waits for its end. */
		char *p = buf;
		while ((end = strstr(p, "\n\n")) != NULL) {
			*end = 0;
			if (strncmp(p, "data: ", 6) == 0)
				note(c, p, (size_t)(end - p) + 2);
			p = end + 2;
		}
		len -= (size_t)(p - buf);
		memmove(buf, p, len);
		if (len == cap) {
			c->failed = 1; /* an event over 1 MiB */
			break;
		}
	}
	nng_aio_free(aio);
	free(buf);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp);
	if (n == 0) {
		printf("%-16s no frames\n", what);
		return;
	}
	printf("%-16s p50 %.1f ms  p99 %.1f ms  max %.1f ms  (n=%zu)\n", what, v[n / 2], v[(size_t)((double)n * 0.99)],
	       v[n - 1], n);
}

static int args(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--url") == 0)
			g.url = argv[i + 1];
		else if (strcmp(argv[i], "--cookie") == 0 && g.ncookies < MAX_COOKIES)
			g.cookies[g.ncookies++] = argv[i + 1];
		else if (strcmp(argv[i], "--clients") == 0)
			g.nclients = atoi(argv[i + 1]);
		else
			return -1;
	}
	return g.url && g.ncookies && g.nclients > 0 && g.nclients <= MAX_CLIENTS ? 0 : -1;
}

int main(int argc, char **argv)
{
	sigset_t sigs;
	nng_url *u;
	int sig;

	if (args(argc, argv) != 0) {
		fprintf(stderr, "usage: relais-bench-wall --url https://IP:PORT --cookie C [...] --clients N\n");
		return 2;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (nng_url_parse(&u, g.url) != 0 || nng_http_client_alloc(&g.http, u) != 0 ||
	    nng_tls_config_alloc(&g.tls, NNG_TLS_MODE_CLIENT) != 0 ||
	    nng_tls_config_auth_mode(g.tls, NNG_TLS_AUTH_MODE_NONE) != 0 ||
	    nng_http_client_set_tls(g.http, g.tls) != 0) {
		fprintf(stderr, "relais-bench-wall: cannot set up a client for %s\n", g.url);
		return 1;
	}
	nng_url_free(u);
	for (int i = 0; i < g.nclients; i++) {
		g.c[i].id = i;
		pthread_create(&g.c[i].th, NULL, client_main, &g.c[i]);
	}
	pthread_mutex_lock(&g.mu);
	while (g.ready < g.nclients) {
		int failed = 0;
		for (int i = 0; i < g.nclients; i++)
			failed += g.c[i].failed;
		if (failed) {
			pthread_mutex_unlock(&g.mu);
			fprintf(stderr, "relais-bench-wall: %d streams failed\n", failed);
			return 1;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&g.cv, &g.mu, &ts);
	}
	pthread_mutex_unlock(&g.mu);
	printf("connected %d\n", g.nclients);
	fflush(stdout);
	sigwait(&sigs, &sig);
	pthread_mutex_lock(&g.mu);
	g.stop = 1;
	pthread_mutex_unlock(&g.mu);

	size_t total = 0, k = 0, lost = 0;
	uint64_t bytes = 0;
	struct rusage ru;
	for (int i = 0; i < g.nclients; i++) {
		total += g.c[i].n;
		bytes += g.c[i].bytes;
		lost += g.c[i].failed;
	}
	double *lat = malloc((total + 1) * sizeof(double)), *ren = malloc((total + 1) * sizeof(double));
	pthread_mutex_lock(&g.mu);
	for (int i = 0; i < g.nclients; i++) {
		memcpy(lat + k, g.c[i].lat, g.c[i].n * sizeof(double));
		memcpy(ren + k, g.c[i].render, g.c[i].n * sizeof(double));
		k += g.c[i].n;
	}
	pthread_mutex_unlock(&g.mu);
	printf("streams           %d (%zu lost on the way)\n", g.nclients, lost);
	printf("frames            %zu received, %.1f per stream, %.1f KiB each on average\n", total,
	       (double)total / g.nclients, total ? (double)bytes / 1024.0 / (double)total : 0.0);
	getrusage(RUSAGE_SELF, &ru);
	printf("streams' CPU      %.2f s (the bench's own clients, on the same machine)\n",
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	report("change->client", lat, k);
	report("render->client", ren, k);
	fflush(stdout);
	/* The streams' threads are blocked in reads; the process ends them. */
	_exit(0);
}
