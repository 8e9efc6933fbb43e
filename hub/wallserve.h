/*
 * wallserve.h - the web wallboard's serving side: an HTTPS server (nng's HTTP server over
 * mbedTLS) with the page's three files, the browser's login and the live stream of updates
 * as server-sent events. It never runs engine code and never makes the engine wait: the
 * engine (wallboard.c) publishes a rendering per scope and the serving side hands the latest
 * one to each browser of that scope; a slow browser skips renderings, it is never queued
 * more than one behind.
 *
 * Login: an operator proven on the control plane asks the hub for a ticket (`relaisctl
 * wallboard`); the ticket is good once, for ticket_ttl_s, and only its SHA-256 is kept. The
 * page posts it to /session and gets a session cookie (HttpOnly, Secure, SameSite=Strict)
 * that carries the operator's id, role and tenants (scope) for session_ttl_s. /events needs
 * the cookie. Refused tickets and cookies get 401 and are counted.
 *
 * Threads: rl_wallserve_ticket, _scopes and _publish are for the engine's thread; nng's
 * threads serve requests; one mutex guards what both see and is never held across I/O.
 */
#ifndef RL_HUB_WALLSERVE_H
#define RL_HUB_WALLSERVE_H

#include <stddef.h>
#include <stdint.h>

struct rl_wallserve;

struct rl_wallserve_conf {
	const char *url;        /* "https://IP:port"; "http://127.x.y.z:port" (loopback only) */
	const char *cert_file;  /* PEM certificate (chain) and key, for https */
	const char *key_file;   /* */
	const char *web_dir;    /* index.html, wallboard.js, wallboard.css (read once at open) */
	unsigned ticket_ttl_s;  /* a ticket is good this long, once */
	unsigned session_ttl_s; /* a session (cookie) lasts this long */
	unsigned max_streams;   /* browsers streaming at once; more get 503 */
};

struct rl_wallserve_counters {
	uint64_t tickets, sessions;    /* issued */
	uint64_t refused_tickets;      /* /session with a ticket unknown, used or expired */
	uint64_t refused_cookies;      /* /events without a valid session */
	uint64_t streams, frames_sent; /* streams open now; frames written */
	uint64_t frames_skipped;       /* renderings a slow browser never got (a newer one did) */
	uint64_t refused_streams;      /* 503: max_streams reached */
};

/* rl_wallserve_open serves conf->url. Errors: RL_ECONFIG (url, files; logged), RL_ENET. */
int rl_wallserve_open(struct rl_wallserve **out, const struct rl_wallserve_conf *conf);

/* rl_wallserve_ticket issues a ticket for an operator (id, role name) who sees scope (bit per
 * tenant index; UINT64_MAX: all) and writes it, NUL-terminated base64url, in out (cap >=
 * 48). Engine thread. */
void rl_wallserve_ticket(struct rl_wallserve *w, uint64_t scope, const char *op, const char *role, char *out,
                         size_t cap);

/* rl_wallserve_scopes writes the distinct scopes browsers stream now (at most cap) in
 * scopes and returns how many; it also closes expired sessions' streams and frees closed
 * ones. Engine thread. */
int rl_wallserve_scopes(struct rl_wallserve *w, uint64_t *scopes, int cap);

/* rl_wallserve_publish hands scope's browsers body (a JSON object, copied) as the frame
 * {"now":now_ms,"changed":changed_ms,"data":body}, unless it equals the last body published
 * for that scope. Returns 1 if it went out. Engine thread. */
int rl_wallserve_publish(struct rl_wallserve *w, uint64_t scope, const char *body, size_t len, uint64_t now_ms,
                         uint64_t changed_ms);

/* rl_wallserve_counters copies the counters. Any thread. */
void rl_wallserve_counters(struct rl_wallserve *w, struct rl_wallserve_counters *c);

/* rl_wallserve_close stops serving and closes every stream (NULL is fine). */
void rl_wallserve_close(struct rl_wallserve *w);

#endif
