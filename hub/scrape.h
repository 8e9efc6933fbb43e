/*
 * scrape.h - the hub's metrics served over HTTP for Prometheus (nng's HTTP server): GET
 * /metrics answers the last rendering (metrics.c), made once a second on the engine's thread,
 * so a scrape never waits on the engine and never runs its code on nng's threads.
 *
 * Who may scrape: with a token configured (its SHA-256 in hex), a request must carry
 * "Authorization: Bearer <token>" (401 otherwise, counted); without one, anyone who reaches
 * the address - keep it on loopback or a management network (the hub warns when it is not
 * loopback). Served over plain HTTP.
 */
#ifndef RL_HUB_SCRAPE_H
#define RL_HUB_SCRAPE_H

#include <stddef.h>
#include <stdint.h>

struct rl_scrape;

/* rl_scrape_open serves url ("http://IP:port"; the path is /metrics whatever url says).
 * token_sha256_hex: "" = no token. Errors: RL_ECONFIG (bad url or token), RL_ENET. */
int rl_scrape_open(struct rl_scrape **out, const char *url, const char *token_sha256_hex);

/* rl_scrape_publish replaces what scrapes get (copied). Any thread. */
void rl_scrape_publish(struct rl_scrape *s, const char *text, size_t len);

/* rl_scrape_refused: scrapes refused for a missing or wrong token. */
uint64_t rl_scrape_refused(struct rl_scrape *s);

/* rl_scrape_close stops serving (NULL is fine). */
void rl_scrape_close(struct rl_scrape *s);

#endif
