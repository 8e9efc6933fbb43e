/*
 * rl_scrape.h - a daemon's metrics served over HTTP for Prometheus (nng's HTTP server): GET
 * /metrics answers the last text the daemon published (the hub's hub/metrics.c, a node's
 * node/metrics.c), which it renders on its own thread once a second, so a scrape never
 * waits on the daemon's loop and never runs its code on nng's threads.
 *
 * Who may scrape: with a token configured (its SHA-256 in hex), a request must carry
 * "Authorization: Bearer <token>" (401 otherwise, counted); without one, anyone who reaches
 * the address - keep it on loopback or a management network (rl_scrape_local says which).
 * Served over plain HTTP.
 */
#ifndef RL_SCRAPE_H
#define RL_SCRAPE_H

#include <stddef.h>
#include <stdint.h>

struct rl_scrape;

/* rl_scrape_open serves url ("http://IP:port"; the path is /metrics whatever url says), and
 * logs it (with a warning if anyone may scrape an address that is not loopback).
 * token_sha256_hex: "" = no token. Errors: RL_ECONFIG (bad url or token), RL_ENET. */
int rl_scrape_open(struct rl_scrape **out, const char *url, const char *token_sha256_hex);

/* rl_scrape_publish replaces what scrapes get (copied). Any thread. */
void rl_scrape_publish(struct rl_scrape *s, const char *text, size_t len);

/* rl_http_reply answers an nng HTTP handler's aio with status, the headers (name, value
 * pairs, NULL-terminated; NULL: none) and body (copied; len 0: none). Out of memory finishes
 * the aio with NNG_ENOMEM. For the hub's wallboard too. */
struct nng_aio;
void rl_http_reply(struct nng_aio *aio, uint16_t status, const char *const *headers, const void *body, size_t len);

/* rl_scrape_refused: scrapes refused for a missing or wrong token. */
uint64_t rl_scrape_refused(struct rl_scrape *s);

/* Writing the text (Prometheus's exposition format 0.0.4): a growing buffer. */
struct rl_text {
	char *p;
	size_t len, cap;
};

/* rl_text_reset empties t (allocating its first block); rl_text_add appends. */
void rl_text_reset(struct rl_text *t);
void rl_text_add(struct rl_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* rl_prom_help writes a family's HELP and TYPE lines. */
void rl_prom_help(struct rl_text *t, const char *name, const char *type, const char *help);

/* rl_prom_counter, rl_prom_gauge: a family of one unlabelled sample. */
void rl_prom_counter(struct rl_text *t, const char *name, const char *help, uint64_t v);
void rl_prom_gauge(struct rl_text *t, const char *name, const char *help, double v);

/* A histogram: n upper bounds le[] (ascending), counts per bucket (the last: above them all). */
#define RL_PROM_HIST_MAX 16
struct rl_prom_hist {
	const double *le;
	unsigned n; /* < RL_PROM_HIST_MAX */
	uint64_t counts[RL_PROM_HIST_MAX];
	double sum;
};

/* rl_prom_hist_add counts v; rl_prom_hist_write writes the family (cumulative buckets, +Inf,
 * _sum, _count). */
void rl_prom_hist_add(struct rl_prom_hist *h, double v);
void rl_prom_hist_write(struct rl_text *t, const char *name, const char *help, const struct rl_prom_hist *h);

/* rl_prom_label: v as a label value (backslash, quote and newline escaped) in out. */
const char *rl_prom_label(const char *v, char *out, size_t cap);

/* rl_scrape_local: 1 if url's host is a loopback address. */
int rl_scrape_local(const char *url);

/* rl_scrape_close stops serving (NULL is fine). */
void rl_scrape_close(struct rl_scrape *s);

#endif
