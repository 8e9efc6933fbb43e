/*
 * wallserve.c - the web wallboard's HTTPS side (wallserve.h): static files, tickets traded
 * for session cookies, and one server-sent-event stream per browser.
 *
 * A stream is an HTTP connection taken over from nng's server (nng_http_hijack) after its
 * cookie was checked; from then on it only carries "data: <frame>\n\n" writes. Each scope
 * keeps its latest frame (refcounted); a stream writes one frame at a time and, when a write
 * ends, the latest frame of its scope if that is newer than what it wrote: so a browser that
 * reads slowly skips frames instead of queueing them, and memory stays bounded by streams x 2
 * frames. A read stays posted on each stream to see the browser go. Streams that end are
 * marked dead on nng's threads and freed by the engine's next rl_wallserve_scopes, where
 * waiting for their callbacks cannot deadlock.
 */
#include "wallserve.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_file.h"
#include "rl_log.h"
#include "rl_scrape.h"
#include "rl_time.h"

#define WS_TICKETS    64  /* tickets outstanding at once (the oldest is replaced) */
#define WS_SESSIONS   256 /* sessions at once (the oldest is replaced) */
#define WS_SCOPES     32  /* distinct scopes streaming at once */
#define WS_TOKEN      32  /* random bytes in a ticket or a cookie */
#define WS_TOKEN_TEXT 48  /* its base64url text, NUL included */
#define WS_COOKIE     "rlwb"
#define WS_ID         64
#define WS_FILE_MAX   (1 << 22) /* a page file, a certificate or a key */

/* A rendering as it goes on the wire, shared by the streams of its scope. */
struct ws_frame {
	unsigned refs;
	uint64_t seq;                   /* 0: a stream's header; else the order renderings were published in */
	size_t len, body_off, body_len; /* the body (for comparison) is inside data */
	char data[];
};

struct ws_cred {
	uint8_t hash[crypto_hash_sha256_BYTES]; /* of the ticket or cookie text */
	uint64_t scope, expires_us;
	char op[WS_ID], role[16];
	int live;
};

struct ws_scope {
	uint64_t scope;
	struct ws_frame *latest;
	unsigned streams;
};

struct ws_stream {
	struct ws_stream *next;
	struct rl_wallserve *w;
	nng_http_conn *conn;
	nng_aio *wr, *rd;
	struct ws_frame *writing;
	uint64_t written; /* seq of the last frame written */
	int scope;        /* index in w->scopes */
	uint64_t expires_us;
	uint8_t rdbuf[64];
	int dead, closed;
};

struct ws_file {
	const char *path, *name, *ctype;
	char *data;
	size_t len;
};

struct rl_wallserve {
	nng_http_server *srv;
	nng_tls_config *tls;
	int secure;
	struct rl_wallserve_conf conf;
	struct ws_file files[3];
	pthread_mutex_t mu;
	struct ws_cred tickets[WS_TICKETS], sessions[WS_SESSIONS];
	unsigned next_ticket, next_session;
	struct ws_scope scopes[WS_SCOPES];
	struct ws_stream *streams;
	uint64_t seq;
	struct rl_wallserve_counters ctr;
};

/* Every answer: nothing cached, nothing but the page's own files, never in a frame. */
#define WS_CSP                                                                                                           \
	"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; " \
	"form-action 'none'; frame-ancestors 'none'"

/* ws_reply answers aio with status, a body of ctype and the headers every answer has. */
static void ws_reply(nng_aio *aio, uint16_t status, const char *ctype, const void *body, size_t len, const char *cookie)
{
	const char *const headers[] = {"Content-Type",
	                               ctype,
	                               "Cache-Control",
	                               "no-store",
	                               "X-Content-Type-Options",
	                               "nosniff",
	                               "Referrer-Policy",
	                               "no-referrer",
	                               "X-Frame-Options",
	                               "DENY",
	                               "Content-Security-Policy",
	                               WS_CSP,
	                               cookie != NULL ? "Set-Cookie" : NULL,
	                               cookie,
	                               NULL};

	rl_http_reply(aio, status, headers, body, len);
}

static void ws_text(nng_aio *aio, uint16_t status, const char *msg)
{
	ws_reply(aio, status, "text/plain; charset=utf-8", msg, strlen(msg), NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* tickets and sessions */

static void ws_token(char *text)
{
	uint8_t raw[WS_TOKEN];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(text, WS_TOKEN_TEXT, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* ws_find: the live, unexpired credential of tab whose text is text, or NULL. Locked. */
static struct ws_cred *ws_find(struct ws_cred *tab, unsigned n, const char *text, size_t len, uint64_t now)
{
	uint8_t h[crypto_hash_sha256_BYTES];
	struct ws_cred *hit = NULL;

	crypto_hash_sha256(h, (const unsigned char *)text, len);
	/* Every slot is compared, in constant time: nothing tells how close a guess came. */
	for (unsigned i = 0; i < n; i++)
		if (tab[i].live && sodium_memcmp(tab[i].hash, h, sizeof(h)) == 0)
			hit = &tab[i];
	if (hit != NULL && hit->expires_us <= now) {
		hit->live = 0;
		hit = NULL;
	}
	return hit;
}

static void ws_cred_set(struct ws_cred *c, const char *text, uint64_t scope, const char *op, const char *role,
                        uint64_t expires_us)
{
	crypto_hash_sha256(c->hash, (const unsigned char *)text, strlen(text));
	c->scope = scope;
	c->expires_us = expires_us;
	snprintf(c->op, sizeof(c->op), "%s", op);
	snprintf(c->role, sizeof(c->role), "%s", role);
	c->live = 1;
}

void rl_wallserve_ticket(struct rl_wallserve *w, uint64_t scope, const char *op, const char *role, char *out,
                         size_t cap)
{
	char text[WS_TOKEN_TEXT];

	ws_token(text);
	pthread_mutex_lock(&w->mu);
	ws_cred_set(&w->tickets[w->next_ticket++ % WS_TICKETS], text, scope, op, role,
	            rl_mono_us() + (uint64_t)w->conf.ticket_ttl_s * 1000000u);
	w->ctr.tickets++;
	pthread_mutex_unlock(&w->mu);
	snprintf(out, cap, "%s", text);
}

/* ws_cross_site: 1 if req comes from a page of another site (its Origin is not the host it
 * asks): such a page could sign a browser in with a ticket of its own choosing. */
static int ws_cross_site(nng_http_req *req)
{
	const char *origin = nng_http_req_get_header(req, "Origin"), *host = nng_http_req_get_header(req, "Host");
	const char *o = origin != NULL ? strstr(origin, "://") : NULL;

	if (origin == NULL)
		return 0; /* not a browser's cross-site request: those carry their Origin */
	return o == NULL || host == NULL || strcmp(o + 3, host) != 0;
}

/* ws_session_cb: POST /session with a ticket as its body; a good ticket (once) gets the cookie. */
static void ws_session_cb(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	struct rl_wallserve *w = nng_http_handler_get_data(nng_aio_get_input(aio, 1));
	char cookie[WS_TOKEN_TEXT], header[160], who[160];
	struct ws_cred *t;
	void *body;
	size_t len;
	uint64_t now = rl_mono_us();

	nng_http_req_get_data(req, &body, &len);
	if (ws_cross_site(req)) {
		pthread_mutex_lock(&w->mu);
		w->ctr.refused_tickets++;
		pthread_mutex_unlock(&w->mu);
		rl_log(RL_LOG_NOTICE, "wallboard ticket refused: from another site's page");
		ws_text(aio, 403, "a wallboard ticket is taken from the wallboard's own page only\n");
		return;
	}
	pthread_mutex_lock(&w->mu);
	if (len == 0 || len >= WS_TOKEN_TEXT || (t = ws_find(w->tickets, WS_TICKETS, body, len, now)) == NULL) {
		w->ctr.refused_tickets++;
		pthread_mutex_unlock(&w->mu);
		rl_log(RL_LOG_NOTICE, "wallboard ticket refused");
		ws_text(aio, 401, "this ticket is unknown, used or expired: ask for another (relaisctl wallboard)\n");
		return;
	}
	t->live = 0; /* once */
	ws_token(cookie);
	ws_cred_set(&w->sessions[w->next_session++ % WS_SESSIONS], cookie, t->scope, t->op, t->role,
	            now + (uint64_t)w->conf.session_ttl_s * 1000000u);
	w->ctr.sessions++;
	snprintf(who, sizeof(who), "{\"operator\":\"%s\",\"role\":\"%s\"}", t->op, t->role);
	pthread_mutex_unlock(&w->mu);
	rl_log(RL_LOG_NOTICE, "wallboard session operator=%s", t->op);
	snprintf(header, sizeof(header), WS_COOKIE "=%s; Path=/; Max-Age=%u; HttpOnly; SameSite=Strict%s", cookie,
	         w->conf.session_ttl_s, w->secure ? "; Secure" : "");
	ws_reply(aio, 200, "application/json", who, strlen(who), header);
}

/* ws_cookie finds our cookie's value in a Cookie header; its length in *len, or NULL. */
static const char *ws_cookie(const char *h, size_t *len)
{
	for (const char *p = h; p != NULL && *p; p = strchr(p, ';')) {
		while (*p == ';' || *p == ' ')
			p++;
		if (strncmp(p, WS_COOKIE "=", sizeof(WS_COOKIE)) == 0) {
			p += sizeof(WS_COOKIE);
			*len = strcspn(p, "; ");
			return p;
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* streams */

static void ws_frame_drop(struct ws_frame *f)
{
	if (f != NULL && --f->refs == 0)
		free(f);
}

/* ws_write starts writing f on s (which takes a reference). Locked. */
static void ws_write(struct ws_stream *s, struct ws_frame *f)
{
	nng_iov iov = {f->data, f->len};

	f->refs++;
	s->writing = f;
	s->written = f->seq;
	nng_aio_set_iov(s->wr, 1, &iov);
	nng_http_conn_write_all(s->conn, s->wr);
}

/* ws_kill marks s dead; 1 if it was not (the caller then closes it with ws_close_conn).
 * Nothing starts on a dead stream. Locked. */
static int ws_kill(struct ws_stream *s)
{
	if (s->dead)
		return 0;
	s->dead = 1;
	s->w->scopes[s->scope].streams--;
	s->w->ctr.streams--;
	return 1;
}

/* ws_close_conn closes the connection of s, which the caller has just marked dead (dead_now),
 * so that its aios end; only then may rl_wallserve_scopes free it. Not locked: closing waits
 * for nng's own callbacks. */
static void ws_close_conn(struct ws_stream *s, int dead_now)
{
	if (!dead_now)
		return;
	nng_http_conn_close(s->conn);
	pthread_mutex_lock(&s->w->mu);
	s->closed = 1;
	pthread_mutex_unlock(&s->w->mu);
}

static void ws_wr_cb(void *arg)
{
	struct ws_stream *s = arg;
	struct rl_wallserve *w = s->w;
	struct ws_frame *latest;
	int dead_now = 0;

	pthread_mutex_lock(&w->mu);
	ws_frame_drop(s->writing);
	s->writing = NULL;
	if (nng_aio_result(s->wr) != 0) {
		dead_now = ws_kill(s);
	} else if (!s->dead) {
		w->ctr.frames_sent++;
		latest = w->scopes[s->scope].latest;
		/* The latest frame of its scope if it came since this one was started. */
		if (latest != NULL && latest->seq > s->written)
			ws_write(s, latest);
	}
	pthread_mutex_unlock(&w->mu);
	ws_close_conn(s, dead_now);
}

/* ws_rd_cb: a browser sends nothing on its stream; a read that ends in error means it went. */
static void ws_rd_cb(void *arg)
{
	struct ws_stream *s = arg;
	int dead_now = 0;

	pthread_mutex_lock(&s->w->mu);
	if (nng_aio_result(s->rd) != 0) {
		dead_now = ws_kill(s);
	} else if (!s->dead) {
		nng_iov iov = {s->rdbuf, sizeof(s->rdbuf)};
		nng_aio_set_iov(s->rd, 1, &iov);
		nng_http_conn_read(s->conn, s->rd);
	}
	pthread_mutex_unlock(&s->w->mu);
	ws_close_conn(s, dead_now);
}

/* ws_scope_find: the index of scope in w->scopes if a stream has it, else -1. Locked. */
static int ws_scope_find(struct rl_wallserve *w, uint64_t scope)
{
	for (int i = 0; i < WS_SCOPES; i++)
		if (w->scopes[i].streams > 0 && w->scopes[i].scope == scope)
			return i;
	return -1;
}

/* ws_scope_slot: the index of scope in w->scopes, taking a free slot (its last rendering,
 * of a scope nobody watched, dropped); -1 if full. Locked. */
static int ws_scope_slot(struct rl_wallserve *w, uint64_t scope)
{
	int i = ws_scope_find(w, scope);

	for (int k = 0; k < WS_SCOPES && i < 0; k++) {
		if (w->scopes[k].streams == 0) {
			ws_frame_drop(w->scopes[k].latest);
			w->scopes[k] = (struct ws_scope){.scope = scope};
			i = k;
		}
	}
	return i;
}

/* The stream's own header, written first: nng's server no longer answers for it. */
static const char ws_sse_head[] = "HTTP/1.1 200 OK\r\n"
                                  "Content-Type: text/event-stream\r\n"
                                  "Cache-Control: no-store\r\n"
                                  "X-Content-Type-Options: nosniff\r\n"
                                  "Connection: keep-alive\r\n\r\n"
                                  "retry: 2000\n\n";

static struct ws_frame *ws_frame_new(const char *pre, const char *body, size_t len, const char *post)
{
	size_t a = strlen(pre), c = strlen(post);
	struct ws_frame *f = rl_malloc(sizeof(*f) + a + len + c + 1);

	f->refs = 1;
	f->seq = 0;
	memcpy(f->data, pre, a);
	memcpy(f->data + a, body, len);
	memcpy(f->data + a + len, post, c + 1);
	f->len = a + len + c;
	f->body_off = a;
	f->body_len = len;
	return f;
}

/* ws_stream_start takes conn over as a stream of session c's scope. Locked. */
static int ws_stream_start(struct rl_wallserve *w, nng_http_conn *conn, const struct ws_cred *c)
{
	int slot = ws_scope_slot(w, c->scope);
	struct ws_stream *s;
	struct ws_frame *head;
	nng_iov rd;

	if (slot < 0 || w->ctr.streams >= w->conf.max_streams)
		return -1;
	s = rl_calloc(1, sizeof(*s));
	s->w = w;
	s->conn = conn;
	s->scope = slot;
	s->expires_us = c->expires_us;
	if (nng_aio_alloc(&s->wr, ws_wr_cb, s) != 0 || nng_aio_alloc(&s->rd, ws_rd_cb, s) != 0)
		rl_oom_in("nng_aio_alloc");
	w->scopes[slot].streams++;
	w->ctr.streams++;
	s->next = w->streams;
	w->streams = s;
	nng_http_hijack(conn);
	/* The header; its write's end sends the scope's latest rendering if there is one. */
	head = ws_frame_new(ws_sse_head, "", 0, "");
	rd = (nng_iov){s->rdbuf, sizeof(s->rdbuf)};
	ws_write(s, head);
	ws_frame_drop(head);
	nng_aio_set_iov(s->rd, 1, &rd);
	nng_http_conn_read(conn, s->rd);
	return 0;
}

/* ws_events_cb: GET /events with a session cookie becomes a stream of its scope's frames. */
static void ws_events_cb(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	struct rl_wallserve *w = nng_http_handler_get_data(nng_aio_get_input(aio, 1));
	nng_http_conn *conn = nng_aio_get_input(aio, 2);
	const char *h = nng_http_req_get_header(req, "Cookie"), *v;
	struct ws_cred *c = NULL;
	size_t len = 0;

	pthread_mutex_lock(&w->mu);
	if ((v = ws_cookie(h, &len)) == NULL || len >= WS_TOKEN_TEXT ||
	    (c = ws_find(w->sessions, WS_SESSIONS, v, len, rl_mono_us())) == NULL) {
		w->ctr.refused_cookies++;
		pthread_mutex_unlock(&w->mu);
		ws_text(aio, 401, "no wallboard session: open the URL relaisctl wallboard prints\n");
		return;
	}
	if (ws_stream_start(w, conn, c) != 0) {
		w->ctr.refused_streams++;
		pthread_mutex_unlock(&w->mu);
		ws_text(aio, 503, "too many wallboards are open\n");
		return;
	}
	pthread_mutex_unlock(&w->mu);
	/* Hijacked: the request is ours to free, and nng's server answers nothing. */
	nng_http_req_free(req);
	nng_aio_finish(aio, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* what the engine calls */

/* ws_reap frees the dead streams (their aios are over or end at once: the connection is
 * closed); returns how many streams are left. Engine thread; never an nng callback, so
 * waiting for callbacks is safe. */
static int ws_reap(struct rl_wallserve *w)
{
	struct ws_stream *dead = NULL, **pp, *s, *expired[16];
	int nexpired = 0, left = 0;
	uint64_t now = rl_mono_us();

	pthread_mutex_lock(&w->mu);
	for (pp = &w->streams; (s = *pp) != NULL;) {
		/* Its session is over: closed now, freed next time. */
		if (!s->dead && s->expires_us <= now && nexpired < 16 && ws_kill(s))
			expired[nexpired++] = s;
		if (s->dead && s->closed) {
			*pp = s->next;
			s->next = dead;
			dead = s;
		} else {
			pp = &s->next;
			left++;
		}
	}
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < nexpired; i++)
		ws_close_conn(expired[i], 1);
	while ((s = dead) != NULL) {
		dead = s->next;
		nng_aio_free(s->wr);
		nng_aio_free(s->rd);
		pthread_mutex_lock(&w->mu);
		ws_frame_drop(s->writing);
		pthread_mutex_unlock(&w->mu);
		free(s);
	}
	return left;
}

int rl_wallserve_scopes(struct rl_wallserve *w, uint64_t *scopes, int cap)
{
	int n = 0;

	ws_reap(w);
	pthread_mutex_lock(&w->mu);
	for (int i = 0; i < WS_SCOPES && n < cap; i++)
		if (w->scopes[i].streams > 0)
			scopes[n++] = w->scopes[i].scope;
	pthread_mutex_unlock(&w->mu);
	return n;
}

int rl_wallserve_publish(struct rl_wallserve *w, uint64_t scope, const char *body, size_t len, uint64_t now_ms,
                         uint64_t changed_ms)
{
	char pre[96];
	struct ws_frame *f;
	struct ws_scope *sc;
	int i;

	/* Made before the lock: the streams' writes wait on it, never on this copy. */
	snprintf(pre, sizeof(pre), "data: {\"now\":%llu,\"changed\":%llu,\"data\":", (unsigned long long)now_ms,
	         (unsigned long long)changed_ms);
	f = ws_frame_new(pre, body, len, "}\n\n");
	pthread_mutex_lock(&w->mu);
	if ((i = ws_scope_find(w, scope)) < 0 ||
	    (w->scopes[i].latest != NULL && w->scopes[i].latest->body_len == len &&
	     memcmp(w->scopes[i].latest->data + w->scopes[i].latest->body_off, body, len) == 0)) {
		pthread_mutex_unlock(&w->mu);
		free(f);
		return 0;
	}
	sc = &w->scopes[i];
	f->seq = ++w->seq;
	ws_frame_drop(sc->latest);
	sc->latest = f;
	for (struct ws_stream *s = w->streams; s != NULL; s = s->next) {
		if (s->dead || &w->scopes[s->scope] != sc)
			continue;
		if (s->writing == NULL)
			ws_write(s, f);
		else
			w->ctr.frames_skipped++; /* it gets this one, or a newer, when its write ends */
	}
	pthread_mutex_unlock(&w->mu);
	return 1;
}

void rl_wallserve_counters(struct rl_wallserve *w, struct rl_wallserve_counters *c)
{
	pthread_mutex_lock(&w->mu);
	*c = w->ctr;
	pthread_mutex_unlock(&w->mu);
}

/* ---------------------------------------------------------------------------------------- */
/* opening and closing */

static void ws_file_cb(nng_aio *aio)
{
	const struct ws_file *f = nng_http_handler_get_data(nng_aio_get_input(aio, 1));

	ws_reply(aio, 200, f->ctype, f->data, f->len, NULL);
}

/* ws_handler adds a handler for path (method, body limit) with data to w's server. */
static int ws_handler(struct rl_wallserve *w, const char *path, const char *method, size_t body, void (*cb)(nng_aio *),
                      void *data)
{
	nng_http_handler *h;

	if (nng_http_handler_alloc(&h, path, cb) != 0)
		return RL_ENET;
	nng_http_handler_set_data(h, data, NULL);
	if ((method != NULL && nng_http_handler_set_method(h, method) != 0) ||
	    (body > 0 && nng_http_handler_collect_body(h, true, body) != 0) ||
	    nng_http_server_add_handler(w->srv, h) != 0) {
		nng_http_handler_free(h);
		return RL_ENET;
	}
	return RL_OK;
}

/* ws_tls loads the certificate and key for https. */
static int ws_tls(struct rl_wallserve *w)
{
	char *cert = NULL, *key = NULL;
	size_t n;
	int rv = RL_ECONFIG;

	if (w->conf.cert_file == NULL || w->conf.key_file == NULL ||
	    rl_file_read(w->conf.cert_file, WS_FILE_MAX, &cert, &n) != 0 ||
	    rl_file_read(w->conf.key_file, WS_FILE_MAX, &key, &n) != 0)
		goto out;
	if (nng_tls_config_alloc(&w->tls, NNG_TLS_MODE_SERVER) != 0 ||
	    nng_tls_config_auth_mode(w->tls, NNG_TLS_AUTH_MODE_NONE) != 0 ||
	    nng_tls_config_own_cert(w->tls, cert, key, NULL) != 0 || nng_http_server_set_tls(w->srv, w->tls) != 0)
		goto out;
	rv = RL_OK;
out:
	if (key != NULL)
		sodium_memzero(key, strlen(key));
	free(cert);
	free(key);
	return rv;
}

/* ws_routes reads the page's files and adds every handler. */
static int ws_routes(struct rl_wallserve *w)
{
	static const char *const names[3][3] = {{"index.html", "/", "text/html; charset=utf-8"},
	                                        {"wallboard.js", "/wallboard.js", "text/javascript; charset=utf-8"},
	                                        {"wallboard.css", "/wallboard.css", "text/css; charset=utf-8"}};
	char path[1200];

	for (int i = 0; i < 3; i++) {
		struct ws_file *f = &w->files[i];
		snprintf(path, sizeof(path), "%s/%s", w->conf.web_dir, names[i][0]);
		f->name = names[i][1];
		f->ctype = names[i][2];
		if (rl_file_read(path, WS_FILE_MAX, &f->data, &f->len) != RL_OK) {
			rl_log(RL_LOG_ERR, "wallboard: cannot read %s (hub.wallboard_dir)", path);
			return RL_ECONFIG;
		}
		if (ws_handler(w, f->name, NULL, 0, ws_file_cb, f) != RL_OK)
			return RL_ENET;
	}
	if (ws_handler(w, "/session", "POST", 256, ws_session_cb, w) != RL_OK ||
	    ws_handler(w, "/events", NULL, 0, ws_events_cb, w) != RL_OK)
		return RL_ENET;
	return RL_OK;
}

int rl_wallserve_open(struct rl_wallserve **out, const struct rl_wallserve_conf *conf)
{
	struct rl_wallserve *w = rl_calloc(1, sizeof(*w));
	nng_url *u = NULL;
	int rv = RL_ECONFIG;

	pthread_mutex_init(&w->mu, NULL);
	w->conf = *conf;
	if (nng_url_parse(&u, conf->url) != 0)
		goto fail;
	w->secure = strcmp(u->u_scheme, "https") == 0;
	/* Plain HTTP would carry tickets and cookies in clear: loopback only. */
	if (!w->secure && (strcmp(u->u_scheme, "http") != 0 || !rl_scrape_local(conf->url))) {
		rl_log(RL_LOG_ERR, "wallboard: %s: https://, or http:// on loopback only", conf->url);
		goto fail;
	}
	if (nng_http_server_hold(&w->srv, u) != 0) {
		rv = RL_ENET;
		goto fail;
	}
	if ((w->secure && (rv = ws_tls(w)) != RL_OK) || (rv = ws_routes(w)) != RL_OK)
		goto fail;
	if (nng_http_server_start(w->srv) != 0) {
		rv = RL_ENET;
		goto fail;
	}
	nng_url_free(u);
	rl_log(RL_LOG_NOTICE, "wallboard listen=%s", conf->url);
	*out = w;
	return RL_OK;
fail:
	if (u != NULL)
		nng_url_free(u);
	rl_wallserve_close(w);
	return rv;
}

void rl_wallserve_close(struct rl_wallserve *w)
{
	if (w == NULL)
		return;
	if (w->srv != NULL) {
		nng_http_server_stop(w->srv);
		nng_http_server_release(w->srv);
	}
	/* Every stream closed (nng's callbacks may still mark some dead meanwhile), then freed. */
	for (;;) {
		struct ws_stream *s;
		pthread_mutex_lock(&w->mu);
		for (s = w->streams; s != NULL && s->dead; s = s->next)
			;
		int dead_now = s != NULL && ws_kill(s);
		pthread_mutex_unlock(&w->mu);
		if (s == NULL)
			break;
		ws_close_conn(s, dead_now);
	}
	while (ws_reap(w) > 0)
		nng_msleep(10); /* a callback is closing its stream */
	for (int i = 0; i < WS_SCOPES; i++)
		ws_frame_drop(w->scopes[i].latest);
	for (int i = 0; i < 3; i++)
		free(w->files[i].data);
	if (w->tls != NULL)
		nng_tls_config_free(w->tls);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
