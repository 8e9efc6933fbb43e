/*
 * sip.c - the SIP endpoint glue over sofia-sip NUA (see sip.h for the contract).
 *
 * Threading. One thread owns everything sofia: it creates the su_root, turns NUA's stack
 * threading off (so NUA does not start a second thread of its own), creates the NUA, then
 * sits in su_root_run. Other threads only touch the command queue, the counters and the
 * draining flag, all behind s->mtx or atomics; they wake the SIP thread through an eventfd
 * registered with the root. Closing queues nothing: it sets s->stop and wakes the thread,
 * which calls nua_shutdown, breaks the root once NUA reports the shutdown final, destroys
 * the NUA and the root, and returns to the join.
 *
 * Calls. Every initial INVITE gets a struct sip_call bound to its NUA handle, refused ones
 * too, because NUA hands the application every handle it reports and the handle may only be
 * destroyed once its call state is "terminated" (destroying it earlier would drop the
 * server transaction that retransmits our final response). Calls the node knows about
 * (reported) are in s->calls by id; that table is how commands find them.
 *
 * SDP. NUA's own offer/answer engine is off (NUTAG_MEDIA_ENABLE(0)): we read offers with
 * sofia's SDP parser and print our answers ourselves (sip_sdp.c), which keeps codec choice,
 * telephone-event and hold handling in our hands. A 183 carries the same answer the 200 will
 * carry (c->sdp), so early media and the answered call agree on o= and on the media.
 *
 * TLS. Sofia's transport layer opens a sips: listener next to UDP and TCP from a certificate
 * directory (TPTAG_CERTIFICATE). Sofia 1.12 has no hook for the application to hear about
 * TLS trouble: a failed handshake is only a line in its transport log, and a certificate it
 * cannot load still leaves a listener that fails every handshake. So the glue listens to
 * sofia's log (su_log_default, where every module's lines go), recognises those few lines by
 * their format string, and charges them to the rl_sip whose SIP thread logged them (sofia
 * logs on the thread that runs it): a failed handshake is counted, an unusable certificate
 * makes rl_sip_open fail. Which transport a request came over is read from its top Via,
 * whose protocol sofia's transaction layer checks against the real transport (a request
 * whose Via claims another one is dropped), so "SIP/2.0/TLS" there means TLS.
 *
 * Responses. Every response goes out through sip_respond, because nua_respond keeps only a
 * pointer to the reason phrase until the stack runs: the phrase is made to outlive that
 * (sofia's static table, or a copy in the NUA handle's memory).
 *
 * DTMF. NUA answers INFO 200 itself; the glue reads application/dtmf-relay and
 * application/dtmf bodies (sip_dtmf.c) and reports their key as RL_SIP_EV_DTMF.
 *
 * Transfer. A REFER in the call's dialog creates an implicit subscription in NUA: the
 * carrier's NOTIFYs (message/sipfrag) come back on the call's handle as nua_i_notify, NUA
 * answers them, and we read their status line with sofia's parser. One su_timer per call
 * bounds the wait for the outcome, and then the wait for the carrier's BYE after success.
 *
 * Stalls. See the comment above stall_check: INVITEs that waited in the socket while the
 * thread could not run are refused, between the moment the thread sees its own clock jump and
 * the return of a fence it sends itself.
 */
#define _GNU_SOURCE
#include "sip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

struct rl_sip;
struct sip_call;
#define SU_ROOT_MAGIC_T struct rl_sip
#define SU_WAKEUP_ARG_T struct rl_sip
#define NUA_MAGIC_T     struct rl_sip
#define NUA_HMAGIC_T    struct sip_call
#define SU_TIMER_ARG_T  struct sip_call

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/msg_mime.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tagarg.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/tport_tag.h>
#include <sofia-sip/url.h>

#include "rl_alloc.h"
#include "rl_addr.h"
#include "rl_err.h"
#include "rl_htab.h"
#include "rl_log.h"
#include "rl_secret.h"
#include "rl_time.h"

#define CMDQ_MAX                1024  /* queued commands; more is RL_EFULL */
#define SIP_MSG_MAX             65536 /* biggest SIP message sofia accepts from the network */
#define ANSWER_MAX              1024  /* our SDP */
#define DEFAULT_MAX_CALLS       1024
#define DEFAULT_REFER_TIMEOUT_S 60    /* a transfer target may ring for a while */
#define REFER_BYE_WAIT_MS       4000  /* after a transfer, how long the carrier has to hang up */
#define SIPFRAG_LINE_MAX        256   /* the status line of a NOTIFY's sipfrag */
#define DEFAULT_STALL_MS        1000  /* a gap in the thread's clock this long is a stall */
#define STALL_BEAT_MS           100   /* the heartbeat: the thread never sleeps longer */
#define FENCE_RESEND_MS         500   /* a fence not back yet is sent again (a full socket drops it) */
#define STALE_WINDOW_MAX_MS     10000 /* no fence back by then: serve INVITEs again anyway */
#define STALE_PHRASE            "Stale INVITE"

enum cmd_op { CMD_RINGING = 1, CMD_PROGRESS, CMD_ANSWER, CMD_REJECT, CMD_HANGUP, CMD_REFER };

struct sip_cmd {
	int op;
	uint64_t call;
	uint16_t port;
	int codec, dtmf_pt, status;
	unsigned retry_after_s;
	char ip[RL_SIP_IP_MAX];
	char reason[RL_SIP_REASON_MAX];
	char target[RL_SIP_URI_MAX];
};

enum call_state {
	CALL_OFFERED,   /* INVITE reported, nothing sent but 100 */
	CALL_RINGING,   /* 180 sent */
	CALL_EARLY,     /* 183 with our SDP sent: early media */
	CALL_ANSWERING, /* 200 sent, waiting for the ACK */
	CALL_UP,        /* ACKed */
	CALL_ENDING,    /* final non-2xx or BYE sent, or BYE/CANCEL received */
};

enum refer_state {
	REFER_NONE,     /* no transfer, or the last one failed */
	REFER_SENT,     /* REFER sent, no answer yet */
	REFER_ACCEPTED, /* 202 reported, waiting for the final NOTIFY (c->timer) */
	REFER_DONE,     /* transfer done, waiting for the carrier's BYE (c->timer) */
};

struct sip_call {
	struct sip_call *next, **prevp; /* s->all */
	uint64_t id;                    /* 0 for calls the glue refused itself (never reported) */
	nua_handle_t *nh;
	enum call_state state;
	struct rl_sip_offer offer; /* the remote side's latest offer */
	struct rl_sip_local local; /* our side, once answered */
	int offerless_reinvite;    /* our 200 carried an offer; the ACK has the answer */
	char sdp[ANSWER_MAX];      /* our last SDP, to bump o= version only on change */
	char call_id[RL_SIP_CALLID_MAX];
	char remote_target[RL_SIP_URI_MAX]; /* the carrier's Contact, for Refer-To numbers */
	enum refer_state refer;
	su_timer_t *timer; /* REFER_ACCEPTED: outcome bound; REFER_DONE: BYE wait */
};

struct trunk {
	int af;
	unsigned char addr[16];
};

struct rl_sip {
	struct rl_sip_conf conf;
	char listen_ip[RL_SIP_IP_MAX];
	uint16_t listen_port;
	char user_agent[64];
	char tls_dir[RL_SIP_PATH_MAX];
	struct trunk trunks[RL_SIP_TRUNKS_MAX];
	unsigned n_trunks;
	unsigned max_calls;

	pthread_t thread;
	int efd;

	/* Shared with other threads, under mtx. */
	pthread_mutex_t mtx;
	pthread_cond_t started_cv;
	int started, start_rv;
	struct sip_cmd q[CMDQ_MAX];
	unsigned q_head, q_len;
	struct rl_sip_counters cnt;
	unsigned drain_pct; /* atomic: the share of new INVITEs refused (100: all, and OPTIONS 503) */
	unsigned drain_acc; /* SIP thread: spreads a partial drain evenly over the INVITEs */
	int stop;
	int closing;

	/* SIP thread only. */
	su_root_t *root;
	nua_t *nua;
	su_wait_t wait[1];
	int registered;
	int shutting;
	int tls_cert_bad;     /* sofia logged that it could not load our key or certificate */
	struct rl_htab calls; /* id -> reported struct sip_call */
	struct sip_call *all; /* every struct sip_call alive, refused ones included */
	unsigned n_calls;
	uint64_t next_id;

	/* Stalls (SIP thread only; see stall_check). */
	su_timer_t *beat;       /* the heartbeat */
	uint64_t seen_ms;       /* the thread's clock when it last ran (monotonic) */
	uint64_t stale_ms;      /* a stall was seen then: INVITEs are stale until the fence; 0 = none */
	uint64_t fence_sent_ms; /* the fence's last sending */
	uint64_t stall_len_ms;  /* the last stall's length */
	uint64_t stale_refused; /* INVITEs refused since stale_ms */
	unsigned stall_n;       /* stalls seen: numbers the fences */
	int fence_fd;           /* our own UDP socket the fences leave from; -1 until needed */
	char fence_token[17];   /* random: no one else can end the window */
	char fence_prefix[64];  /* Call-ID prefix of the current stall's fences */
};

#define COUNT(s, field)                          \
	do {                                     \
		pthread_mutex_lock(&(s)->mtx);   \
		(s)->cnt.field++;                \
		pthread_mutex_unlock(&(s)->mtx); \
	} while (0)

/* ---- process-wide sofia setup ---------------------------------------------------------- */

static pthread_once_t sofia_once = PTHREAD_ONCE_INIT;
static msg_mclass_t *sofia_mclass;            /* the SIP parser with the extra headers (P-Asserted-Identity) */
static _Thread_local struct rl_sip *sip_self; /* the rl_sip whose SIP thread this is */

/* The lines of sofia's transport log (tport_tls.c, level 1 and 3, format strings of sofia
 * 1.12.11) that carry TLS news nothing else reports; see the comment at the top. */
static void sofia_tls_news(struct rl_sip *s, const char *fmt)
{
	if (strstr(fmt, "TLS setup failed") != NULL) {
		COUNT(s, tls_failed);
		rl_log(RL_LOG_INFO, "sip tls handshake failed");
	} else if (strstr(fmt, "invalid local certificate") != NULL || strstr(fmt, "invalid private key") != NULL ||
	           strstr(fmt, "private key does not match") != NULL) {
		s->tls_cert_bad = 1;
	}
}

/* Sofia's own log lines (all its modules fall back to su_log_default) go to rl_log. */
static void sofia_logger(void *stream, char const *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)stream;
	if (sip_self != NULL && sip_self->tls_dir[0] != '\0' && fmt != NULL)
		sofia_tls_news(sip_self, fmt);
	if (rl_log_level < RL_LOG_DEBUG)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n > 0)
		rl_log_write(RL_LOG_DEBUG, "sofia %s", line);
}

static void sofia_init(void)
{
	/* su_init: thread-safe su_home, SIGPIPE ignored (sofia wants EPIPE), logs set up. */
	su_init();
	su_log_redirect(su_log_default, sofia_logger, NULL);
	/* The TLS lines above are at level 3, sofia's default; a lower SOFIA_DEBUG would hide
	 * them (a module's own TPORT_DEBUG still wins: keep it unset or at 3 and up). */
	su_log_init(su_log_default);
	if (su_log_default->log_level < 3)
		su_log_set_level(su_log_default, 3);
	sofia_mclass = sip_extend_mclass(NULL);
}

/* ---- small helpers ----------------------------------------------------------------------- */

/* Parses "IP:port" or "[IPv6]:port" into the IP's text and the port. */
static int parse_listen(const char *s, char *ip, size_t cap, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (rl_addr_parse(s, 0, &ss, &len) != RL_OK || rl_addr_ip((struct sockaddr *)&ss, ip, cap) != RL_OK)
		return RL_EINVAL;
	*port = (uint16_t)rl_addr_port((struct sockaddr *)&ss);
	return RL_OK;
}

/* Binds and releases a socket of each transport on the address (TCP only if stream_only).
 * sofia cannot say why it failed to bind, and a failed nua_create leaks sofia's port (a
 * reference its half-started stack keeps on our su_root), so the common failure is caught
 * here first. */
static int probe_bind(const char *ip, uint16_t port, int stream_only, char *why, size_t cap)
{
	static const int types[2] = {SOCK_DGRAM, SOCK_STREAM};
	struct sockaddr_storage ss;
	socklen_t len;

	if (rl_addr_from_ip(ip, port, 0, &ss, &len) != RL_OK)
		return RL_EINVAL;
	for (int i = stream_only ? 1 : 0; i < 2; i++) {
		int one = 1, fd = socket(ss.ss_family, types[i] | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(why, cap, "socket: %s", strerror(errno));
			return RL_ENET;
		}
		/* As sofia does for TCP, so TIME_WAIT leftovers do not count as busy. */
		if (types[i] == SOCK_STREAM)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
			snprintf(why, cap, "%s: %s",
			         types[i] == SOCK_DGRAM ? "udp"
			         : stream_only          ? "tls"
			                                : "tcp",
			         strerror(errno));
			close(fd);
			return RL_ENET;
		}
		close(fd);
	}
	return RL_OK;
}

/* Copies text from the network into a fixed array: cut at cap - 1, nothing that could break
 * a log line or a screen pop (controls, quotes, backslashes become '_'). */
static void copy_safe(char *dst, size_t cap, const char *src, size_t srclen)
{
	size_t n = 0;

	for (size_t i = 0; src != NULL && i < srclen && src[i] != '\0' && n + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[n++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '_' : (char)c;
	}
	dst[n] = '\0';
}

/* The number in a SIP or tel URI: its user part up to any ';' user parameter, unescaped. */
static void copy_number(char *dst, size_t cap, const url_t *u)
{
	char tmp[256];
	const char *user;
	size_t n;

	dst[0] = '\0';
	if (u == NULL)
		return;
	user = u->url_user;
	if (user == NULL && u->url_type == url_tel)
		user = u->url_host;
	if (user == NULL)
		return;
	n = strcspn(user, ";");
	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	memcpy(tmp, user, n);
	tmp[n] = '\0';
	url_unescape(tmp, tmp);
	copy_safe(dst, cap, tmp, sizeof(tmp));
}

static void copy_display(char *dst, size_t cap, const char *display)
{
	char tmp[256];

	dst[0] = '\0';
	if (display == NULL)
		return;
	if (display[0] == '"' && strlen(display) < sizeof(tmp)) {
		if (msg_unquote(tmp, display) == NULL)
			return;
		copy_safe(dst, cap, tmp, sizeof(tmp));
	} else {
		copy_safe(dst, cap, display, strlen(display));
	}
}

/* The request's source address as text, IPv4-mapped IPv6 shown as IPv4, and its transport:
 * TLS is TCP whose top Via says TLS (sofia drops requests whose Via protocol is not the
 * transport's, so the Via cannot lie about it). */
static int request_source(nua_t *nua, const sip_t *sip, char *ip, size_t cap, uint16_t *port, uint8_t *tcp,
                          uint8_t *tls, struct trunk *bin)
{
	msg_t *msg = nua_current_request(nua);
	su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;
	const su_sockaddr_t *su;

	ip[0] = '\0';
	*port = 0;
	*tcp = 0;
	*tls = 0;
	memset(bin, 0, sizeof(*bin));
	if (ai == NULL || ai->ai_addr == NULL)
		return RL_ENOENT;
	su = (const su_sockaddr_t *)ai->ai_addr;
	*tcp = ai->ai_protocol == IPPROTO_TCP;
	*tls = *tcp && sip->sip_via != NULL && sip->sip_via->v_protocol != NULL &&
	       su_casematch(sip->sip_via->v_protocol, sip_transport_tls);
	if (su->su_family == AF_INET) {
		bin->af = AF_INET;
		memcpy(bin->addr, &su->su_sin.sin_addr, 4);
		*port = ntohs(su->su_sin.sin_port);
	} else if (su->su_family == AF_INET6) {
		const unsigned char *a = (const unsigned char *)&su->su_sin6.sin6_addr;
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, mapped, 12) == 0) {
			bin->af = AF_INET;
			memcpy(bin->addr, a + 12, 4);
		} else {
			bin->af = AF_INET6;
			memcpy(bin->addr, a, 16);
		}
		*port = ntohs(su->su_sin6.sin6_port);
	} else {
		return RL_ENOENT;
	}
	if (inet_ntop(bin->af, bin->addr, ip, (socklen_t)cap) == NULL) {
		ip[0] = '\0';
		return RL_ENOENT;
	}
	return RL_OK;
}

static int trunk_allowed(const struct rl_sip *s, const struct trunk *src)
{
	if (s->n_trunks == 0)
		return 1;
	for (unsigned i = 0; i < s->n_trunks; i++)
		if (s->trunks[i].af == src->af &&
		    memcmp(s->trunks[i].addr, src->addr, src->af == AF_INET ? 4 : 16) == 0)
			return 1;
	return 0;
}

/* The SDP body of a request: application/sdp, or the SDP part of a multipart body (carriers
 * sending SIP-I put ISUP beside it). Parsed parts live in home. */
static int request_sdp(const sip_t *sip, su_home_t *home, const char **body, size_t *len)
{
	const sip_content_type_t *ct = sip->sip_content_type;
	sip_payload_t *pl = sip->sip_payload;

	*body = NULL;
	*len = 0;
	if (pl == NULL || pl->pl_data == NULL || pl->pl_len == 0)
		return RL_ENOENT;
	if (ct == NULL || ct->c_type == NULL)
		return RL_EPROTO;
	if (su_casematch(ct->c_type, "application/sdp")) {
		*body = pl->pl_data;
		*len = pl->pl_len;
		return RL_OK;
	}
	if (su_casenmatch(ct->c_type, "multipart/", 10)) {
		for (msg_multipart_t *mp = msg_multipart_parse(home, ct, pl); mp != NULL; mp = mp->mp_next) {
			if (mp->mp_content_type && mp->mp_content_type->c_type &&
			    su_casematch(mp->mp_content_type->c_type, "application/sdp") && mp->mp_payload &&
			    mp->mp_payload->pl_data && mp->mp_payload->pl_len > 0) {
				*body = mp->mp_payload->pl_data;
				*len = mp->mp_payload->pl_len;
				return RL_OK;
			}
		}
	}
	return RL_EPROTO;
}

/* Parses the SDP offer of a request. RL_ENOENT: no body at all. */
static int request_offer(const sip_t *sip, unsigned accept, struct rl_sip_offer *o)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	const char *body;
	size_t len;
	int rv;

	if ((rv = request_sdp(sip, home, &body, &len)) == RL_OK) {
		rv = rl_sip_sdp_offer(o, body, len, accept);
		if (rv == RL_ENOENT)
			rv = RL_ERANGE; /* keep ENOENT for "no body" */
	}
	su_home_deinit(home);
	return rv;
}

static void emit(struct rl_sip *s, struct rl_sip_event *ev)
{
	if (__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE))
		return;
	s->conf.fn(s->conf.arg, ev);
}

static void emit_simple(struct rl_sip *s, struct sip_call *c, int type)
{
	struct rl_sip_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.call = c->id;
	if (type == RL_SIP_EV_REINVITE)
		ev.media = c->offer.media;
	emit(s, &ev);
}

/* ---- stalls --------------------------------------------------------------------------- */

/*
 * A node that cannot run for a while (SIGSTOP, a paused VM, swapping) still receives: the
 * kernel queues the SBC's INVITEs, and their retransmissions, in our socket. The SBC gives up
 * on each after its no-answer timer and sends the call to another site, without a CANCEL (a
 * branch that never answered is not cancelled). When the node runs again sofia reads that
 * backlog as new calls, and each would become a contact with nobody on the line.
 *
 * Sofia cannot say how long a request waited: the time it gives a message (tport's receive
 * time, nta_incoming_received) is when it read it, and it reads datagrams with a plain
 * recvmsg, without the kernel's receive timestamps (SO_TIMESTAMP); SIOCGSTAMP would give the
 * last datagram's only, and by the time NUA reports an INVITE sofia may have read others. So
 * the thread watches its own clock. A heartbeat timer keeps it from sleeping longer than
 * STALL_BEAT_MS, and every turn of ours (the heartbeat, a NUA event, a command) checks the
 * time since the last one: a gap over conf.stall_ms is a stall. NUA reports what sofia read
 * on the next turn of the loop, after this check, so no INVITE read since the stall began is
 * decided before it is seen.
 *
 * Then the glue sends itself a fence: an OPTIONS, with a Call-ID only it knows, from a socket
 * of its own to its listen address. The kernel queues it behind everything that arrived
 * during the stall, and sofia reads a UDP socket in order: every new INVITE read before the
 * fence comes back waited through the stall, and gets 503 "Stale INVITE" with Retry-After
 * (refused_stale; an SBC still waiting for it tries the next site). INVITEs read after the
 * fence arrived after the stall and are served. That is exact for the socket the fence goes
 * through (the listen address; loopback when listening on 0.0.0.0 or ::). TCP and TLS
 * connections and sofia's other sockets are read in the same turns of the loop, so the window
 * covers their backlog too, closely but not exactly. A fence not back after FENCE_RESEND_MS
 * is sent again (a full socket buffer drops datagrams); after STALE_WINDOW_MAX_MS INVITEs are
 * served again whatever happened to the fences.
 */

/* fence_socket opens (once) the UDP socket our fences leave from, on ip; puts its address in
 * *from. RL_OK, or RL_ENET (logged by the caller). */
static int fence_socket(struct rl_sip *s, const char *ip, struct sockaddr_storage *from)
{
	struct sockaddr_storage any;
	socklen_t anylen, fromlen = sizeof(*from);

	if (s->fence_fd < 0 && rl_addr_from_ip(ip, 0, 0, &any, &anylen) == RL_OK) {
		s->fence_fd = socket(any.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s->fence_fd >= 0 && bind(s->fence_fd, (struct sockaddr *)&any, anylen) != 0) {
			close(s->fence_fd);
			s->fence_fd = -1;
		}
	}
	if (s->fence_fd < 0 || getsockname(s->fence_fd, (struct sockaddr *)from, &fromlen) != 0)
		return RL_ENET;
	return RL_OK;
}

/* stall_fence sends the current stall's fence: an OPTIONS to our listen address (loopback if
 * that is 0.0.0.0 or ::). Failing to is logged; the window then ends after
 * STALE_WINDOW_MAX_MS. */
static void stall_fence(struct rl_sip *s, uint64_t now)
{
	const char *ip = strcmp(s->listen_ip, "0.0.0.0") == 0 ? "127.0.0.1"
	                 : strcmp(s->listen_ip, "::") == 0    ? "::1"
	                                                      : s->listen_ip;
	struct sockaddr_storage to, from;
	socklen_t tolen;
	char msg[1024], dst[RL_ADDR_STRLEN], src[RL_ADDR_STRLEN], drain[64];
	int n;

	s->fence_sent_ms = now;
	if (rl_addr_from_ip(ip, s->listen_port, 0, &to, &tolen) != RL_OK || fence_socket(s, ip, &from) != RL_OK) {
		rl_log(RL_LOG_ERR, "sip stall fence not sent err=\"%s\"", strerror(errno));
		return;
	}
	/* Our answers to earlier fences: nothing to read in them. */
	while (recv(s->fence_fd, drain, sizeof(drain), 0) > 0)
		;
	rl_addr_format_ip(ip, s->listen_port, dst, sizeof(dst));
	rl_addr_format((struct sockaddr *)&from, src, sizeof(src));
	n = snprintf(msg, sizeof(msg),
	             "OPTIONS sip:relais-fence@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s%llu\r\n"
	             "Max-Forwards: 70\r\nFrom: <sip:relais-fence@%s>;tag=%s\r\nTo: <sip:relais-fence@%s>\r\n"
	             "Call-ID: %s%llu\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
	             dst, src, s->fence_prefix, (unsigned long long)now, src, s->fence_token, dst, s->fence_prefix,
	             (unsigned long long)now);
	if (sendto(s->fence_fd, msg, (size_t)n, 0, (struct sockaddr *)&to, tolen) != n)
		rl_log(RL_LOG_ERR, "sip stall fence not sent err=\"%s\"", strerror(errno));
}

/* stall_over ends the stale window: the fence came back, or it never did. */
static void stall_over(struct rl_sip *s, uint64_t now, int fenced)
{
	rl_log(fenced ? RL_LOG_NOTICE : RL_LOG_WARNING,
	       "sip stall over stalled_ms=%llu stale=%llu backlog_ms=%llu fence=%s",
	       (unsigned long long)s->stall_len_ms, (unsigned long long)s->stale_refused,
	       (unsigned long long)(now - s->stale_ms), fenced ? "back" : "lost");
	s->stale_ms = 0;
}

/* stall_check is every turn's first step on the SIP thread (see above). */
static void stall_check(struct rl_sip *s)
{
	uint64_t now = rl_mono_us() / 1000u;

	if (s->seen_ms != 0 && now - s->seen_ms > s->conf.stall_ms) {
		COUNT(s, stalls);
		s->stall_n++;
		s->stall_len_ms = now - s->seen_ms;
		s->stale_ms = now;
		s->stale_refused = 0;
		snprintf(s->fence_prefix, sizeof(s->fence_prefix), "relais-fence-%s-%u-", s->fence_token, s->stall_n);
		rl_log(RL_LOG_WARNING, "sip stalled ms=%llu: new INVITEs read until our fence comes back get 503",
		       (unsigned long long)s->stall_len_ms);
		stall_fence(s, now);
	} else if (s->stale_ms != 0 && now - s->stale_ms > STALE_WINDOW_MAX_MS) {
		stall_over(s, now, 0);
	} else if (s->stale_ms != 0 && now - s->fence_sent_ms > FENCE_RESEND_MS) {
		stall_fence(s, now);
	}
	s->seen_ms = now;
}

/* stall_fenced: 1 if the OPTIONS is one of our fences (of any stall: a late one is no news),
 * and ends the window if it is the current stall's. */
static int stall_fenced(struct rl_sip *s, const sip_t *sip)
{
	const char *id = sip->sip_call_id != NULL ? sip->sip_call_id->i_id : NULL;
	char ours[64];

	snprintf(ours, sizeof(ours), "relais-fence-%s-", s->fence_token);
	if (id == NULL || strncmp(id, ours, strlen(ours)) != 0)
		return 0;
	if (s->stale_ms != 0 && strncmp(id, s->fence_prefix, strlen(s->fence_prefix)) == 0)
		stall_over(s, rl_mono_us() / 1000u, 1);
	return 1;
}

static void on_beat(struct rl_sip *s, su_timer_t *t, struct sip_call *unused)
{
	(void)unused;
	stall_check(s);
	su_timer_set(t, on_beat, NULL);
}

/* ---- calls ----------------------------------------------------------------------------- */

/* Keeps the carrier's Contact (the dialog's remote target), printed by sofia, for building
 * Refer-To from a number; one that does not fit is left out (the source address is used). */
static void call_remote_target(struct sip_call *c, const sip_t *sip)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	char *str;

	if (sip->sip_contact == NULL || sip->sip_contact->m_url->url_host == NULL)
		return;
	str = url_as_string(home, sip->sip_contact->m_url);
	if (str != NULL && strlen(str) < sizeof(c->remote_target))
		memcpy(c->remote_target, str, strlen(str) + 1);
	su_home_deinit(home);
}

static struct sip_call *call_new(struct rl_sip *s, nua_handle_t *nh, const sip_t *sip)
{
	struct sip_call *c = rl_calloc(1, sizeof(*c));

	c->nh = nh;
	c->state = CALL_OFFERED;
	if (sip != NULL && sip->sip_call_id != NULL && sip->sip_call_id->i_id != NULL)
		copy_safe(c->call_id, sizeof(c->call_id), sip->sip_call_id->i_id, strlen(sip->sip_call_id->i_id));
	if (sip != NULL)
		call_remote_target(c, sip);
	nua_handle_bind(nh, c);
	if ((c->next = s->all) != NULL)
		c->next->prevp = &c->next;
	c->prevp = &s->all;
	s->all = c;
	s->n_calls++;
	return c;
}

/* The call is over for sofia: tell the node (if it knew), forget the handle and the call. */
static void call_free(struct rl_sip *s, struct sip_call *c, int status, const char *phrase)
{
	if (c->id != 0) {
		struct rl_sip_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.type = RL_SIP_EV_ENDED;
		ev.call = c->id;
		ev.status = status;
		copy_safe(ev.reason, sizeof(ev.reason), phrase, phrase ? strlen(phrase) : 0);
		rl_log(RL_LOG_INFO, "sip ended call=%llu status=%d reason=\"%s\" call_id=%s", (unsigned long long)c->id,
		       status, ev.reason, c->call_id);
		rl_htab_del(&s->calls, c->id, c);
		emit(s, &ev);
	}
	if (c->timer != NULL)
		su_timer_destroy(c->timer);
	nua_handle_bind(c->nh, NULL);
	nua_handle_destroy(c->nh);
	if ((*c->prevp = c->next) != NULL)
		c->next->prevp = c->prevp;
	s->n_calls--;
	free(c);
}

static struct sip_call *call_find(struct rl_sip *s, uint64_t id)
{
	return id != 0 ? rl_htab_get(&s->calls, id, NULL, NULL) : NULL;
}

/* Our SDP for the call's current offer; bumps the o= version when the content changes. */
static int call_answer_sdp(struct sip_call *c)
{
	char buf[ANSWER_MAX];
	int n = rl_sip_sdp_answer(buf, sizeof(buf), &c->offer, &c->local);

	if (n < 0)
		return -n;
	if (c->sdp[0] != '\0' && strcmp(buf, c->sdp) != 0) {
		c->local.version++;
		n = rl_sip_sdp_answer(buf, sizeof(buf), &c->offer, &c->local);
		if (n < 0)
			return -n;
	}
	memcpy(c->sdp, buf, (size_t)n + 1);
	return RL_OK;
}

/*
 * sip_respond is the glue's one way to answer a request: nua_respond, with a phrase whose
 * lifetime is certain. nua_respond does not copy the phrase: it queues a signal holding the
 * pointer, and the stack reads it later, from su_root_run, to build the response (and again
 * for the call-state event); only the tagged headers are copied into the signal. A phrase in
 * a command or on the stack is gone by then, and the carrier read random bytes as our
 * reason. So a phrase sofia's status table has is passed as that table's (static) string,
 * and any other is copied into the handle's own memory: it lives as long as the handle, and
 * the queued signal holds a reference on the handle, so the copy outlives every use even if
 * the call is freed before the stack runs. NULL phrase: the table's, or sofia's default.
 */
/* The responses this process's SIP stack sent, by status (one stack per node). */
static atomic_ullong rl_sip_sent[600];

uint64_t rl_sip_responses(int status)
{
	return status >= 100 && status < 700 ? atomic_load(&rl_sip_sent[status - 100]) : 0;
}

static void sip_respond(nua_handle_t *nh, int status, const char *phrase, tag_type_t tag, tag_value_t value, ...)
{
	const char *std = sip_status_phrase(status);
	ta_list ta;

	if (status >= 100 && status < 700)
		atomic_fetch_add(&rl_sip_sent[status - 100], 1);
	if (phrase == NULL || (std != NULL && strcmp(phrase, std) == 0))
		phrase = std;
	else
		phrase = su_strdup(nua_handle_home(nh), phrase);
	ta_start(ta, tag, value);
	nua_respond(nh, status, phrase, ta_tags(ta));
	ta_end(ta);
}

static void respond_retry(nua_handle_t *nh, int status, const char *phrase, unsigned retry_after_s)
{
	char ra[16];

	/* Tag strings are copied into the signal: ra may go. */
	snprintf(ra, sizeof(ra), "%u", retry_after_s);
	sip_respond(nh, status, phrase, TAG_IF(retry_after_s > 0, SIPTAG_RETRY_AFTER_STR(ra)), TAG_END());
}

/* drain_refuses: while the site drains P %, refuse P of every 100 new INVITEs, spread evenly
 * (the SBC's failure route sends them to the next site: traffic moves in steps). */
static int drain_refuses(struct rl_sip *s)
{
	unsigned pct = __atomic_load_n(&s->drain_pct, __ATOMIC_ACQUIRE);

	if (pct >= 100)
		return 1;
	s->drain_acc += pct;
	if (s->drain_acc < 100)
		return 0;
	s->drain_acc -= 100;
	return 1;
}

/* invite_refused answers an INVITE the glue refuses itself (trunk, draining, full, SDP)
 * and says so (1); 0 for one to report, whose offer is then in c->offer. */
static int invite_refused(struct rl_sip *s, struct sip_call *c, const sip_t *sip, const struct rl_sip_event *ev,
                          const struct trunk *src)
{
	int rv;

	if (!trunk_allowed(s, src)) {
		COUNT(s, refused_trunk);
		rl_log(RL_LOG_WARNING, "sip refused reason=trunk src=%s", ev->src_ip[0] ? ev->src_ip : "?");
		c->state = CALL_ENDING;
		sip_respond(c->nh, SIP_403_FORBIDDEN, TAG_END());
		return 1;
	}
	if (s->stale_ms != 0) {
		/* It waited in the socket through a stall: the SBC has most likely given up on it
		 * and placed the call elsewhere (see stall_check). */
		COUNT(s, refused_stale);
		s->stale_refused++;
		rl_log(RL_LOG_NOTICE, "sip refused reason=stale src=%s call_id=%s", ev->src_ip, c->call_id);
		c->state = CALL_ENDING;
		respond_retry(c->nh, 503, STALE_PHRASE, s->conf.retry_after_s);
		return 1;
	}
	if (drain_refuses(s)) {
		COUNT(s, refused_draining);
		rl_log(RL_LOG_INFO, "sip refused reason=draining src=%s", ev->src_ip);
		c->state = CALL_ENDING;
		respond_retry(c->nh, SIP_503_SERVICE_UNAVAILABLE, s->conf.retry_after_s);
		return 1;
	}
	if (s->calls.len >= s->max_calls) {
		COUNT(s, refused_full);
		rl_log(RL_LOG_WARNING, "sip refused reason=full calls=%zu src=%s", s->calls.len, ev->src_ip);
		c->state = CALL_ENDING;
		respond_retry(c->nh, SIP_503_SERVICE_UNAVAILABLE, s->conf.retry_after_s);
		return 1;
	}
	/* c=0.0.0.0 (or ::) is hold: it may pause a call, not start one. The leg would have
	 * nowhere to send the prompts, or would send them to the node itself (Linux delivers
	 * what is sent to 0.0.0.0 locally). */
	if ((rv = request_offer(sip, s->conf.codecs, &c->offer)) == RL_OK && c->offer.media.unspecified)
		rv = RL_EPERM;
	if (rv != RL_OK) {
		/* No offer (late-offer INVITE), broken SDP, no codec we take or an address a trunk
		 * may not use: 488 (not done yet for late offers, see docs/sip.md). */
		COUNT(s, bad_sdp);
		if (rv == RL_EPERM)
			COUNT(s, bad_addr);
		rl_log(RL_LOG_NOTICE, "sip refused reason=%s src=%s call_id=%s",
		       rv == RL_ENOENT   ? "no_sdp"
		       : rv == RL_ERANGE ? "no_codec"
		       : rv == RL_EPERM  ? "bad_addr"
		                         : "bad_sdp",
		       ev->src_ip, c->call_id);
		c->state = CALL_ENDING;
		sip_respond(c->nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
		return 1;
	}
	return 0;
}

/* invite_report gives the call its id and tells the node: who calls, which number, the
 * offer (ev already holds where the INVITE came from). */
static void invite_report(struct rl_sip *s, struct sip_call *c, const sip_t *sip, struct rl_sip_event *ev)
{
	const sip_p_asserted_identity_t *pai = sip_p_asserted_identity(sip);
	const url_t *from = pai ? pai->paid_url : sip->sip_from ? sip->sip_from->a_url : NULL;
	const char *display = pai ? pai->paid_display : sip->sip_from ? sip->sip_from->a_display : NULL;

	c->id = ++s->next_id;
	rl_htab_put(&s->calls, c->id, c);
	ev->type = RL_SIP_EV_INVITE;
	ev->call = c->id;
	copy_number(ev->caller, sizeof(ev->caller), from);
	copy_display(ev->caller_name, sizeof(ev->caller_name), display);
	copy_number(ev->dialled, sizeof(ev->dialled), sip->sip_request ? sip->sip_request->rq_url : NULL);
	memcpy(ev->call_id, c->call_id, sizeof(ev->call_id));
	ev->media = c->offer.media;
	rl_log(
	    RL_LOG_INFO,
	    "sip invite call=%llu caller=%s dialled=%s src=%s tcp=%d tls=%d rtp=%s:%u codec=%s dtmf_pt=%d call_id=%s",
	    (unsigned long long)c->id, ev->caller, ev->dialled, ev->src_ip, ev->tcp, ev->tls, ev->media.ip,
	    ev->media.port, rl_sip_codec_name(ev->media.codec), ev->media.dtmf_pt, c->call_id);
	emit(s, ev);
}

/* A new INVITE: refuse it ourselves, or report it to the node. */
static void on_invite(struct rl_sip *s, nua_t *nua, nua_handle_t *nh, const sip_t *sip)
{
	struct rl_sip_event ev;
	struct sip_call *c;
	struct trunk src;

	COUNT(s, invites);
	c = call_new(s, nh, sip);
	memset(&ev, 0, sizeof(ev));
	request_source(nua, sip, ev.src_ip, sizeof(ev.src_ip), &ev.src_port, &ev.tcp, &ev.tls, &src);
	if (c->remote_target[0] == '\0' && ev.src_ip[0] != '\0') {
		/* No Contact: Refer-To numbers go to where the INVITE came from. */
		char hp[RL_ADDR_STRLEN];
		snprintf(c->remote_target, sizeof(c->remote_target), "sip:%s",
		         rl_addr_format_ip(ev.src_ip, ev.src_port, hp, sizeof(hp)));
	}
	if (!invite_refused(s, c, sip, &ev, &src))
		invite_report(s, c, sip, &ev);
}

/* A re-INVITE on a call: answer it ourselves with our SDP and report the new remote side. */
static void on_reinvite(struct rl_sip *s, struct sip_call *c, const sip_t *sip)
{
	struct rl_sip_offer o;
	int rv;

	if (c->state != CALL_UP || c->id == 0) {
		sip_respond(c->nh, 491, "Request Pending", TAG_END());
		return;
	}
	rv = request_offer(sip, (unsigned)c->local.codec, &o);
	if (rv == RL_ENOENT) {
		/* No offer: ours goes in the 200 (sendrecv), the answer comes in the ACK. */
		c->offer.media.dir = 3;
		if (call_answer_sdp(c) != RL_OK) {
			sip_respond(c->nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
			return;
		}
		c->offerless_reinvite = 1;
		sip_respond(c->nh, SIP_200_OK, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(c->sdp),
		            TAG_END());
		return;
	}
	if (rv != RL_OK) {
		/* The call goes on as it was (RFC 3261 14.2). */
		COUNT(s, bad_sdp);
		if (rv == RL_EPERM)
			COUNT(s, bad_addr);
		rl_log(RL_LOG_NOTICE, "sip reinvite refused call=%llu err=\"%s\"", (unsigned long long)c->id,
		       rl_strerror(rv));
		sip_respond(c->nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
		return;
	}
	struct rl_sip_offer old = c->offer;
	c->offer = o;
	if (call_answer_sdp(c) != RL_OK) {
		c->offer = old;
		sip_respond(c->nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
		return;
	}
	sip_respond(c->nh, SIP_200_OK, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(c->sdp),
	            TAG_END());
	call_remote_target(c, sip); /* a re-INVITE may move the carrier's side (RFC 3261 12.2) */
	COUNT(s, reinvites);
	rl_log(RL_LOG_INFO, "sip reinvite call=%llu rtp=%s:%u hold=%d", (unsigned long long)c->id, o.media.ip,
	       o.media.port, o.media.hold);
	emit_simple(s, c, RL_SIP_EV_REINVITE);
}

static void on_ack(struct rl_sip *s, struct sip_call *c, const sip_t *sip)
{
	if (c->state == CALL_ANSWERING) {
		c->state = CALL_UP;
		COUNT(s, answered);
		rl_log(RL_LOG_INFO, "sip answered call=%llu", (unsigned long long)c->id);
		emit_simple(s, c, RL_SIP_EV_ANSWERED);
		return;
	}
	if (c->offerless_reinvite) {
		struct rl_sip_offer o;
		c->offerless_reinvite = 0;
		/* The ACK carries the answer to our offer; an answer is parsed like an offer. */
		if (sip != NULL && request_offer(sip, (unsigned)c->local.codec, &o) == RL_OK) {
			c->offer = o;
			COUNT(s, reinvites);
			rl_log(RL_LOG_INFO, "sip reinvite call=%llu rtp=%s:%u hold=%d offerless=1",
			       (unsigned long long)c->id, o.media.ip, o.media.port, o.media.hold);
			emit_simple(s, c, RL_SIP_EV_REINVITE);
		}
	}
}

static void on_options(struct rl_sip *s, nua_t *nua, nua_handle_t *nh, struct sip_call *c, const sip_t *sip)
{
	char ra[16];

	/* Our own fence after a stall (stall_check) is answered too, and not counted. */
	if (c == NULL && sip != NULL && stall_fenced(s, sip)) {
		sip_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	COUNT(s, options);
	/* Not an INVITE: nua_respond must be told which request (NUTAG_WITH_THIS). */
	if (__atomic_load_n(&s->drain_pct, __ATOMIC_ACQUIRE) >= 100) {
		snprintf(ra, sizeof(ra), "%u", s->conf.retry_after_s);
		sip_respond(nh, SIP_503_SERVICE_UNAVAILABLE, NUTAG_WITH_THIS(nua),
		            TAG_IF(s->conf.retry_after_s > 0, SIPTAG_RETRY_AFTER_STR(ra)), TAG_END());
	} else {
		sip_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), SIPTAG_ACCEPT_STR("application/sdp"), TAG_END());
	}
	/* An OPTIONS outside a call came on a handle made for it alone. */
	if (c == NULL)
		nua_handle_destroy(nh);
}

/* An INFO on a call, which NUA has answered 200: a key the caller pressed, from carriers
 * that signal DTMF in SIP rather than in RTP (or in both: the carrier leg pairs the two).
 * Reported at any time the node knows the call; a DTMF body that is not one key is counted
 * and dropped; other bodies (and empty INFOs, used as keep-alives) are not ours. */
static void on_info(struct rl_sip *s, struct sip_call *c, const sip_t *sip)
{
	const sip_content_type_t *ct = sip->sip_content_type;
	const sip_payload_t *pl = sip->sip_payload;
	struct rl_sip_event ev;
	unsigned ms;
	char key;
	int rv;

	if (c->id == 0 || c->state == CALL_ENDING)
		return;
	rv = rl_sip_dtmf_body(ct ? ct->c_type : NULL, pl ? pl->pl_data : NULL, pl ? pl->pl_len : 0, &key, &ms);
	if (rv == RL_ENOENT)
		return;
	if (rv != RL_OK) {
		COUNT(s, info_bad);
		rl_log(RL_LOG_NOTICE, "sip info dtmf refused call=%llu err=\"%s\"", (unsigned long long)c->id,
		       rl_strerror(rv));
		return;
	}
	COUNT(s, info_dtmf);
	memset(&ev, 0, sizeof(ev));
	ev.type = RL_SIP_EV_DTMF;
	ev.call = c->id;
	ev.dtmf = key;
	ev.dtmf_ms = (uint16_t)ms;
	rl_log(RL_LOG_INFO, "sip info dtmf call=%llu digit=%c duration_ms=%u", (unsigned long long)c->id, key, ms);
	emit(s, &ev);
}

/* ---- transfer (REFER) --------------------------------------------------------------------- */

static void refer_event(struct rl_sip *s, struct sip_call *c, int status, const char *phrase)
{
	struct rl_sip_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = RL_SIP_EV_REFER;
	ev.call = c->id;
	ev.status = status;
	copy_safe(ev.reason, sizeof(ev.reason), phrase, phrase ? strlen(phrase) : 0);
	rl_log(RL_LOG_INFO, "sip refer call=%llu status=%d reason=\"%s\"", (unsigned long long)c->id, status,
	       ev.reason);
	emit(s, &ev);
}

static void on_call_timer(struct rl_sip *s, su_timer_t *t, struct sip_call *c);

/* (Re)arms the call's timer; without one (out of memory) the bound is lost, and said so. */
static void call_timer(struct rl_sip *s, struct sip_call *c, su_duration_t ms)
{
	if (c->timer == NULL && (c->timer = su_timer_create(su_root_task(s->root), 0)) == NULL) {
		rl_log(RL_LOG_ERR, "sip timer lost call=%llu", (unsigned long long)c->id);
		return;
	}
	su_timer_set_interval(c->timer, on_call_timer, c, ms);
}

static void refer_accepted(struct rl_sip *s, struct sip_call *c)
{
	if (c->refer != REFER_SENT)
		return;
	c->refer = REFER_ACCEPTED;
	refer_event(s, c, 202, "Accepted");
	call_timer(s, c, (su_duration_t)s->conf.refer_timeout_s * 1000);
}

/* The carrier reports the target answered: expect its BYE, or send ours soon. */
static void refer_done(struct rl_sip *s, struct sip_call *c, const char *phrase)
{
	refer_accepted(s, c); /* a NOTIFY may overtake the 202 */
	if (c->refer != REFER_ACCEPTED)
		return;
	c->refer = REFER_DONE;
	COUNT(s, refer_ok);
	refer_event(s, c, 200, phrase && phrase[0] ? phrase : "OK");
	if (c->state == CALL_UP)
		call_timer(s, c, REFER_BYE_WAIT_MS);
}

/* The transfer failed: the call goes on, the node decides. */
static void refer_fail(struct rl_sip *s, struct sip_call *c, int status, const char *phrase)
{
	if (c->refer != REFER_SENT && c->refer != REFER_ACCEPTED)
		return;
	c->refer = REFER_NONE;
	if (c->timer != NULL)
		su_timer_reset(c->timer);
	COUNT(s, refer_failed);
	refer_event(s, c, status, phrase);
}

static void on_call_timer(struct rl_sip *s, su_timer_t *t, struct sip_call *c)
{
	(void)t;
	if (c->refer == REFER_ACCEPTED) {
		refer_fail(s, c, 408, "Transfer Timeout");
	} else if (c->refer == REFER_DONE && c->state == CALL_UP) {
		rl_log(RL_LOG_INFO, "sip refer call=%llu carrier kept the call: bye", (unsigned long long)c->id);
		COUNT(s, byes_out);
		c->state = CALL_ENDING;
		nua_bye(c->nh, TAG_END());
	}
}

/* The Refer-To URI for target: a SIP URI as given, or sip:<number>@<the carrier's host:port>
 * for a number (sips: if the carrier's Contact is). Parts live in home. */
static url_t *refer_target(su_home_t *home, const struct sip_call *c, const char *target)
{
	url_t *u, *rt;
	char *user;
	isize_t len;

	if (su_casenmatch(target, "sip:", 4) || su_casenmatch(target, "sips:", 5)) {
		u = url_make(home, target);
		if (u == NULL || (u->url_type != url_sip && u->url_type != url_sips) || u->url_host == NULL)
			return NULL;
		return u;
	}
	if (c->remote_target[0] == '\0' || (rt = url_make(home, c->remote_target)) == NULL || rt->url_host == NULL)
		return NULL;
	len = url_esclen(target, ""); /* "" keeps a leading + as it is, escapes # */
	if ((user = su_alloc(home, (size_t)len + 1)) == NULL || (u = su_zalloc(home, sizeof(*u))) == NULL)
		return NULL;
	url_escape(user, target, "");
	url_init(u, rt->url_type == url_sips ? url_sips : url_sip);
	u->url_user = user;
	u->url_host = rt->url_host;
	u->url_port = rt->url_port;
	return u;
}

static void refer_start(struct rl_sip *s, struct sip_call *c, const char *target)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	sip_refer_to_t rt[1];
	url_t *u;

	if (c->state != CALL_UP || c->refer != REFER_NONE) {
		COUNT(s, refer_failed);
		refer_event(s, c, 491, "Request Pending");
		return;
	}
	if ((u = refer_target(home, c, target)) == NULL) {
		COUNT(s, refer_failed);
		refer_event(s, c, 400, "Bad Transfer Target");
		su_home_deinit(home);
		return;
	}
	sip_refer_to_init(rt);
	*rt->r_url = *u;
	/* NUA copies the header into the request before returning. */
	nua_refer(c->nh, SIPTAG_REFER_TO(rt), TAG_END());
	c->refer = REFER_SENT;
	COUNT(s, refers);
	{
		char *str = url_as_string(home, u);
		rl_log(RL_LOG_INFO, "sip refer call=%llu to=%s", (unsigned long long)c->id, str ? str : "?");
	}
	su_home_deinit(home);
}

/* The status of a NOTIFY's message/sipfrag body: its first line, parsed by sofia as a status
 * line. 0 if there is none. */
static int sipfrag_status(const sip_t *sip, char *phrase, size_t cap)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	const sip_payload_t *pl = sip->sip_payload;
	const sip_content_type_t *ct = sip->sip_content_type;
	char line[SIPFRAG_LINE_MAX];
	sip_status_t *st;
	size_t n = 0;
	int code = 0;

	phrase[0] = '\0';
	if (pl == NULL || pl->pl_data == NULL || ct == NULL || ct->c_type == NULL ||
	    !su_casematch(ct->c_type, "message/sipfrag"))
		return 0;
	while (n < pl->pl_len && n + 1 < sizeof(line) && pl->pl_data[n] != '\r' && pl->pl_data[n] != '\n' &&
	       pl->pl_data[n] != '\0') {
		line[n] = pl->pl_data[n];
		n++;
	}
	line[n] = '\0';
	if ((st = sip_status_make(home, line)) != NULL && st->st_status >= 100 && st->st_status <= 699) {
		code = st->st_status;
		copy_safe(phrase, cap, st->st_phrase, st->st_phrase ? strlen(st->st_phrase) : 0);
	}
	su_home_deinit(home);
	return code;
}

/* A NOTIFY on a call: the carrier's news of our transfer (NUA has answered it). */
static void on_notify(struct rl_sip *s, struct sip_call *c, int status, const char *phrase, const sip_t *sip,
                      tagi_t tags[])
{
	char fphrase[RL_SIP_REASON_MAX];
	int substate = -1, frag;

	if (c->refer != REFER_SENT && c->refer != REFER_ACCEPTED)
		return;
	if (sip == NULL) {
		/* NUA's own, e.g. its subscription expired without a NOTIFY. */
		if (status >= 300)
			refer_fail(s, c, status, phrase);
		return;
	}
	if (sip->sip_event == NULL || sip->sip_event->o_type == NULL || !su_casematch(sip->sip_event->o_type, "refer"))
		return;
	tl_gets(tags, NUTAG_SUBSTATE_REF(substate), TAG_END());
	frag = sipfrag_status(sip, fphrase, sizeof(fphrase));
	rl_log(RL_LOG_DEBUG, "sip refer notify call=%llu sipfrag=%d substate=%d", (unsigned long long)c->id, frag,
	       substate);
	if (frag >= 300)
		refer_fail(s, c, frag, fphrase);
	else if (frag >= 200)
		refer_done(s, c, fphrase);
	else if (substate == nua_substate_terminated)
		refer_fail(s, c, 487, "Transfer Ended Without Outcome");
	else
		refer_accepted(s, c);
}

static void on_nua(nua_event_t event, int status, char const *phrase, nua_t *nua, struct rl_sip *s, nua_handle_t *nh,
                   struct sip_call *c, sip_t const *sip, tagi_t tags[])
{
	stall_check(s);
	switch (event) {
	case nua_i_invite:
		if (sip == NULL || nh == NULL)
			break;
		if (c != NULL) {
			if (status < 200) /* else sofia answered it already (overlap, glare) */
				on_reinvite(s, c, sip);
		} else if (status < 200)
			on_invite(s, nua, nh, sip);
		else
			nua_handle_destroy(nh); /* sofia already refused it */
		break;
	case nua_i_ack:
		if (c != NULL && status < 300)
			on_ack(s, c, sip);
		break;
	case nua_i_cancel:
		if (c != NULL && c->id != 0) {
			COUNT(s, cancels);
			c->state = CALL_ENDING;
			rl_log(RL_LOG_INFO, "sip cancel call=%llu", (unsigned long long)c->id);
			emit_simple(s, c, RL_SIP_EV_CANCEL);
		}
		break;
	case nua_i_bye:
		if (c != NULL && c->id != 0) {
			COUNT(s, byes_in);
			c->state = CALL_ENDING;
			rl_log(RL_LOG_INFO, "sip bye call=%llu", (unsigned long long)c->id);
			emit_simple(s, c, RL_SIP_EV_BYE);
		}
		break;
	case nua_i_state: {
		int cs = -1;
		tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
		if (c != NULL && cs == nua_callstate_terminated)
			call_free(s, c, status, phrase);
		break;
	}
	case nua_i_options:
		if (nh != NULL)
			on_options(s, nua, nh, c, sip);
		break;
	case nua_i_info:
		if (c != NULL && sip != NULL && status < 300)
			on_info(s, c, sip);
		else if (nh != NULL && c == NULL)
			nua_handle_destroy(nh); /* outside any call: sofia answered it */
		break;
	case nua_r_shutdown:
		if (status >= 200)
			su_root_break(s->root);
		break;
	case nua_i_error:
		rl_log(RL_LOG_WARNING, "sip error call=%llu status=%d phrase=\"%s\"",
		       (unsigned long long)(c ? c->id : 0), status, phrase ? phrase : "");
		break;
	case nua_r_refer:
		if (c != NULL && c->id != 0 && c->refer == REFER_SENT) {
			if (status >= 300)
				refer_fail(s, c, status, phrase);
			else if (status >= 200)
				refer_accepted(s, c);
		}
		break;
	case nua_i_notify:
		if (c != NULL && c->id != 0)
			on_notify(s, c, status, phrase, sip, tags);
		else if (nh != NULL && c == NULL)
			nua_handle_destroy(nh); /* outside any call: sofia answered 481 */
		break;
	case nua_r_bye:
	case nua_i_terminated:
	case nua_i_active:
	case nua_r_set_params:
		break;
	default:
		/* Any other request came on a handle sofia made for us (MESSAGE, SUBSCRIBE...) and
		 * sofia has answered it; the handle is ours to destroy. */
		if (nh != NULL && c == NULL && (event < nua_r_set_params || event == nua_i_register))
			nua_handle_destroy(nh);
		break;
	}
}

/* ---- commands ------------------------------------------------------------------------ */

/* Our side of the media, from a progress or answer command. The o= session id is fixed by
 * the first SDP we send; call_answer_sdp bumps the version when the SDP changes. */
static void call_local(struct sip_call *c, const struct sip_cmd *cmd)
{
	snprintf(c->local.ip, sizeof(c->local.ip), "%s", cmd->ip);
	c->local.port = cmd->port;
	c->local.codec = cmd->codec;
	c->local.dtmf_pt = cmd->dtmf_pt;
	if (c->sdp[0] == '\0') {
		c->local.sess_id = (rl_wall_us() & 0xffffffffffULL) ^ c->id;
		c->local.version = 1;
	}
}

static void run_cmd(struct rl_sip *s, const struct sip_cmd *cmd)
{
	struct sip_call *c = call_find(s, cmd->call);

	if (c == NULL || c->state == CALL_ENDING || s->shutting) {
		COUNT(s, cmd_dropped);
		rl_log(RL_LOG_DEBUG, "sip command dropped op=%d call=%llu", cmd->op, (unsigned long long)cmd->call);
		return;
	}
	switch (cmd->op) {
	case CMD_RINGING:
		if (c->state == CALL_OFFERED) {
			sip_respond(c->nh, SIP_180_RINGING, TAG_END());
			c->state = CALL_RINGING;
		}
		break;
	case CMD_PROGRESS:
	case CMD_ANSWER:
		if (c->state > CALL_EARLY) {
			COUNT(s, cmd_dropped);
			break;
		}
		call_local(c, cmd);
		if (call_answer_sdp(c) != RL_OK) {
			rl_log(RL_LOG_ERR, "sip %s refused call=%llu codec=%s (not offered)",
			       cmd->op == CMD_ANSWER ? "answer" : "progress", (unsigned long long)c->id,
			       rl_sip_codec_name(cmd->codec));
			COUNT(s, rejected);
			c->state = CALL_ENDING;
			sip_respond(c->nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
			break;
		}
		if (cmd->op == CMD_PROGRESS) {
			/* Unreliable (no 100rel): a lost 183 costs only the early media, the 200
			 * carries the same answer. */
			sip_respond(c->nh, SIP_183_SESSION_PROGRESS, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
			            SIPTAG_PAYLOAD_STR(c->sdp), TAG_END());
			c->state = CALL_EARLY;
			COUNT(s, early);
			rl_log(RL_LOG_INFO, "sip progress call=%llu rtp=%s:%u codec=%s", (unsigned long long)c->id,
			       c->local.ip, c->local.port, rl_sip_codec_name(c->local.codec));
			break;
		}
		sip_respond(c->nh, SIP_200_OK, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(c->sdp),
		            TAG_END());
		c->state = CALL_ANSWERING;
		break;
	case CMD_REJECT:
	case CMD_HANGUP:
		if (c->state <= CALL_EARLY) {
			int st = cmd->op == CMD_REJECT ? cmd->status : 480;
			const char *ph = cmd->op == CMD_REJECT && cmd->reason[0] ? cmd->reason : sip_status_phrase(st);
			COUNT(s, rejected);
			c->state = CALL_ENDING;
			/* sofia's table has "" for statuses it does not name */
			respond_retry(c->nh, st, ph && ph[0] ? ph : "Rejected",
			              cmd->op == CMD_REJECT ? cmd->retry_after_s : 0);
		} else if (cmd->op == CMD_HANGUP) {
			COUNT(s, byes_out);
			c->state = CALL_ENDING;
			nua_bye(c->nh, TAG_END());
		} else {
			COUNT(s, cmd_dropped); /* reject after answer: that is a hangup */
		}
		break;
	case CMD_REFER:
		refer_start(s, c, cmd->target);
		break;
	}
}

static int on_wakeup(struct rl_sip *s, su_wait_t *w, struct rl_sip *arg)
{
	uint64_t v;
	struct sip_cmd cmd;

	(void)w;
	(void)arg;
	stall_check(s);
	if (read(s->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		rl_log(RL_LOG_WARNING, "sip eventfd read err=\"%s\"", strerror(errno));
	for (;;) {
		pthread_mutex_lock(&s->mtx);
		if (s->q_len == 0) {
			pthread_mutex_unlock(&s->mtx);
			break;
		}
		cmd = s->q[s->q_head];
		s->q_head = (s->q_head + 1) % CMDQ_MAX;
		s->q_len--;
		pthread_mutex_unlock(&s->mtx);
		run_cmd(s, &cmd);
	}
	if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE) && !s->shutting) {
		s->shutting = 1;
		/* End the calls ourselves first: sofia's shutdown would answer a ringing call
		 * "410 Gone", which carriers take for a dead number; 503 makes an SBC try another
		 * node. nua_shutdown then waits for what is in flight (it runs after these, in
		 * order) and nua_r_shutdown breaks the root. */
		for (struct sip_call *c = s->all; c != NULL; c = c->next) {
			if (c->id == 0 || c->state == CALL_ENDING)
				continue;
			if (c->state <= CALL_EARLY)
				respond_retry(c->nh, SIP_503_SERVICE_UNAVAILABLE, s->conf.retry_after_s);
			else
				nua_bye(c->nh, TAG_END());
			c->state = CALL_ENDING;
		}
		nua_shutdown(s->nua);
	}
	return 0;
}

static int push_cmd(struct rl_sip *s, const struct sip_cmd *cmd)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->mtx);
	if (s->q_len >= CMDQ_MAX) {
		pthread_mutex_unlock(&s->mtx);
		return RL_EFULL;
	}
	s->q[(s->q_head + s->q_len) % CMDQ_MAX] = *cmd;
	s->q_len++;
	pthread_mutex_unlock(&s->mtx);
	if (write(s->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return RL_EIO;
	return RL_OK;
}

int rl_sip_ringing(struct rl_sip *s, uint64_t call)
{
	struct sip_cmd cmd = {.op = CMD_RINGING, .call = call};
	return push_cmd(s, &cmd);
}

/* The answer and the 183 take the same arguments. */
static int push_media_cmd(struct rl_sip *s, int op, uint64_t call, const char *local_ip, uint16_t rtp_port, int codec,
                          int dtmf_pt)
{
	struct sip_cmd cmd = {.op = op, .call = call, .port = rtp_port, .codec = codec, .dtmf_pt = dtmf_pt};

	if (rl_addr_ip_family(local_ip) == 0 || strlen(local_ip) >= sizeof(cmd.ip) || rtp_port == 0 ||
	    (codec != RL_SIP_PCMU && codec != RL_SIP_PCMA && codec != RL_SIP_OPUS) || dtmf_pt > 127)
		return RL_EINVAL;
	if (dtmf_pt < 0)
		cmd.dtmf_pt = -1;
	snprintf(cmd.ip, sizeof(cmd.ip), "%s", local_ip);
	return push_cmd(s, &cmd);
}

int rl_sip_progress(struct rl_sip *s, uint64_t call, const char *local_ip, uint16_t rtp_port, int codec, int dtmf_pt)
{
	return push_media_cmd(s, CMD_PROGRESS, call, local_ip, rtp_port, codec, dtmf_pt);
}

int rl_sip_answer(struct rl_sip *s, uint64_t call, const char *local_ip, uint16_t rtp_port, int codec, int dtmf_pt)
{
	return push_media_cmd(s, CMD_ANSWER, call, local_ip, rtp_port, codec, dtmf_pt);
}

int rl_sip_reject(struct rl_sip *s, uint64_t call, int status, const char *reason, unsigned retry_after_s)
{
	struct sip_cmd cmd = {.op = CMD_REJECT, .call = call, .status = status, .retry_after_s = retry_after_s};

	if (status < 300 || status > 699 || retry_after_s > 86400)
		return RL_EINVAL;
	if (reason != NULL)
		copy_safe(cmd.reason, sizeof(cmd.reason), reason, strlen(reason));
	return push_cmd(s, &cmd);
}

int rl_sip_hangup(struct rl_sip *s, uint64_t call)
{
	struct sip_cmd cmd = {.op = CMD_HANGUP, .call = call};
	return push_cmd(s, &cmd);
}

/* The syntax a transfer target may have; sofia parses the URI on the SIP thread. */
static int refer_target_ok(const char *t)
{
	size_t n;

	if (t == NULL || (n = strlen(t)) == 0 || n >= RL_SIP_URI_MAX)
		return 0;
	if (strncasecmp(t, "sip:", 4) == 0 || strncasecmp(t, "sips:", 5) == 0) {
		/* Printable, no spaces, nothing that would end the header's <...> early. */
		for (size_t i = 0; i < n; i++)
			if (t[i] <= ' ' || t[i] >= 0x7f || t[i] == '<' || t[i] == '>' || t[i] == '"')
				return 0;
		return strchr(t, ':')[1] != '\0';
	}
	if (n >= RL_SIP_NUM_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || t[i] == '*' || t[i] == '#' || t[i] == '-' || t[i] == '.' ||
		      (t[i] == '+' && i == 0)))
			return 0;
	return strspn(t, "+-.") < n; /* something besides separators */
}

int rl_sip_refer(struct rl_sip *s, uint64_t call, const char *target)
{
	struct sip_cmd cmd = {.op = CMD_REFER, .call = call};

	if (!refer_target_ok(target))
		return RL_EINVAL;
	snprintf(cmd.target, sizeof(cmd.target), "%s", target);
	return push_cmd(s, &cmd);
}

void rl_sip_set_drain(struct rl_sip *s, unsigned percent)
{
	__atomic_store_n(&s->drain_pct, percent > 100 ? 100 : percent, __ATOMIC_RELEASE);
	rl_log(RL_LOG_NOTICE, "sip drain_pct=%u", percent > 100 ? 100 : percent);
}

void rl_sip_counters(struct rl_sip *s, struct rl_sip_counters *out)
{
	pthread_mutex_lock(&s->mtx);
	*out = s->cnt;
	pthread_mutex_unlock(&s->mtx);
}

/* ---- the thread -------------------------------------------------------------------------- */

static void started(struct rl_sip *s, int rv)
{
	pthread_mutex_lock(&s->mtx);
	s->started = 1;
	s->start_rv = rv;
	pthread_cond_signal(&s->started_cv);
	pthread_mutex_unlock(&s->mtx);
}

/* Frees what the SIP thread built; copes with any stage of construction. */
static void sip_teardown(struct rl_sip *s)
{
	if (s->beat != NULL)
		su_timer_destroy(s->beat);
	s->beat = NULL;
	if (s->fence_fd >= 0)
		close(s->fence_fd);
	s->fence_fd = -1;
	if (s->nua != NULL) {
		nua_destroy(s->nua);
		s->nua = NULL;
	}
	/* nua_destroy took the handles; our calls are left without them. */
	while (s->all != NULL) {
		struct sip_call *c = s->all;
		s->all = c->next;
		s->n_calls--;
		if (c->timer != NULL)
			su_timer_destroy(c->timer);
		free(c);
	}
	rl_htab_fini(&s->calls);
	if (s->registered)
		su_root_unregister(s->root, s->wait, on_wakeup, s);
	s->registered = 0;
	if (s->root != NULL)
		su_root_destroy(s->root);
	s->root = NULL;
}

static void *sip_main(void *arg)
{
	struct rl_sip *s = arg;
	char url[128], sips_url[128], why[128];
	int tls = s->conf.tls_port != 0;
	unsigned left;

	sip_self = s;
	pthread_once(&sofia_once, sofia_init);
	if (probe_bind(s->listen_ip, s->listen_port, 0, why, sizeof(why)) != RL_OK ||
	    (tls && probe_bind(s->listen_ip, s->conf.tls_port, 1, why, sizeof(why)) != RL_OK)) {
		rl_log(RL_LOG_ERR, "sip cannot listen addr=%s port=%u tls_port=%u err=\"%s\"", s->listen_ip,
		       s->listen_port, s->conf.tls_port, why);
		started(s, RL_ENET);
		return NULL;
	}
	if ((s->root = su_root_create(s)) == NULL) {
		started(s, RL_ENOMEM);
		return NULL;
	}
	su_root_threading(s->root, 0);
	if (su_wait_create(s->wait, s->efd, SU_WAIT_IN) != 0 ||
	    su_root_register(s->root, s->wait, on_wakeup, s, 0) < 0) {
		sip_teardown(s);
		started(s, RL_ENOMEM);
		return NULL;
	}
	s->registered = 1;
	if (strchr(s->listen_ip, ':') != NULL) {
		snprintf(url, sizeof(url), "sip:[%s]:%u", s->listen_ip, s->listen_port);
		snprintf(sips_url, sizeof(sips_url), "sips:[%s]:%u", s->listen_ip, s->conf.tls_port);
	} else {
		snprintf(url, sizeof(url), "sip:%s:%u", s->listen_ip, s->listen_port);
		snprintf(sips_url, sizeof(sips_url), "sips:%s:%u", s->listen_ip, s->conf.tls_port);
	}
	/* A sip: URL without a transport parameter binds UDP and TCP both; a sips: one binds
	 * TLS, with the key and certificate sofia finds in the certificate directory. */
	s->nua = nua_create(s->root, on_nua, s, NUTAG_URL(url), TAG_IF(tls, NUTAG_SIPS_URL(sips_url)),
	                    TAG_IF(tls, TPTAG_CERTIFICATE(s->tls_dir)), NUTAG_MEDIA_ENABLE(0), NUTAG_AUTOALERT(0),
	                    NUTAG_AUTOANSWER(0), NUTAG_APPL_METHOD("OPTIONS"),
	                    /* No UPDATE (sofia would answer an UPDATE offer without SDP when media
	                     * is off), no incoming REFER/SUBSCRIBE/MESSAGE, no PRACK. NOTIFY is for
	                     * the outcome of our own REFERs (NUA answers 481 to any other). */
	                    SIPTAG_ALLOW_STR("INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY"),
	                    /* No 100rel, no session timers: sofia would refresh with offerless
	                     * re-INVITEs it cannot complete without its media engine. */
	                    SIPTAG_SUPPORTED_STR(""), SIPTAG_USER_AGENT_STR(s->user_agent), NTATAG_MCLASS(sofia_mclass),
	                    NTATAG_MAXSIZE(SIP_MSG_MAX), TAG_END());
	if (s->nua == NULL) {
		rl_log(RL_LOG_ERR, "sip cannot listen url=%s", url);
		sip_teardown(s);
		started(s, RL_ENET);
		return NULL;
	}
	if (s->tls_cert_bad) {
		/* Sofia listens even so, failing every handshake: refuse to start instead. NUA
		 * must be shut down before it is destroyed; nua_r_shutdown breaks the root. */
		rl_log(RL_LOG_ERR, "sip cannot load the tls key and certificate dir=%s", s->tls_dir);
		s->shutting = 1;
		nua_shutdown(s->nua);
		su_root_run(s->root);
		sip_teardown(s);
		started(s, RL_ECONFIG);
		return NULL;
	}
	/* The heartbeat (stall_check); without it a stall is still seen at the next event. */
	if ((s->beat = su_timer_create(su_root_task(s->root), STALL_BEAT_MS)) == NULL ||
	    su_timer_set(s->beat, on_beat, NULL) != 0)
		rl_log(RL_LOG_ERR, "sip heartbeat timer not started");
	rl_log(RL_LOG_NOTICE, "sip listening url=%s%s%s transports=udp,tcp%s trunks=%u stall_ms=%u", url,
	       tls ? " sips_url=" : "", tls ? sips_url : "", tls ? ",tls" : "", s->n_trunks, s->conf.stall_ms);
	started(s, RL_OK);

	su_root_run(s->root);

	left = s->n_calls;
	sip_teardown(s);
	rl_log(RL_LOG_INFO, "sip stopped calls_left=%u", left);
	return NULL;
}

/* sip_conf_limits checks and completes the codecs, limits, timeouts and User-Agent of
 * s->conf (copied from the caller's). */
static int sip_conf_limits(struct rl_sip *s)
{
	if (s->conf.codecs == 0)
		s->conf.codecs = RL_SIP_PCMU | RL_SIP_PCMA;
	s->conf.codecs &= RL_SIP_PCMU | RL_SIP_PCMA | RL_SIP_OPUS;
	if (s->conf.codecs == 0 || s->conf.retry_after_s > 86400)
		return RL_EINVAL;
	s->max_calls = s->conf.max_calls ? s->conf.max_calls : DEFAULT_MAX_CALLS;
	if (s->conf.refer_timeout_s == 0)
		s->conf.refer_timeout_s = DEFAULT_REFER_TIMEOUT_S;
	if (s->conf.refer_timeout_s > 3600)
		return RL_EINVAL;
	if (s->conf.stall_ms == 0)
		s->conf.stall_ms = DEFAULT_STALL_MS;
	if (s->conf.stall_ms < 100 || s->conf.stall_ms > 60000)
		return RL_EINVAL;
	snprintf(s->user_agent, sizeof(s->user_agent), "%s", s->conf.user_agent ? s->conf.user_agent : "relais-node");
	s->conf.user_agent = s->user_agent;
	return RL_OK;
}

/* sip_conf_tls copies the TLS settings of conf into s, checking the certificate file. */
static int sip_conf_tls(struct rl_sip *s, const struct rl_sip_conf *conf)
{
	char pem[RL_SIP_PATH_MAX + 16];

	s->conf.tls_dir = NULL;
	if (conf->tls_port == 0)
		return RL_OK;
	if (conf->tls_port == s->listen_port || conf->tls_dir == NULL || conf->tls_dir[0] == '\0' ||
	    strlen(conf->tls_dir) >= sizeof(s->tls_dir))
		return RL_EINVAL;
	snprintf(s->tls_dir, sizeof(s->tls_dir), "%s", conf->tls_dir);
	s->conf.tls_dir = s->tls_dir;
	/* Sofia would listen without its key and certificate; name the usual mistake. */
	snprintf(pem, sizeof(pem), "%s/agent.pem", s->tls_dir);
	if (access(pem, R_OK) != 0) {
		rl_log(RL_LOG_ERR, "sip tls certificate unreadable file=%s err=\"%s\"", pem, strerror(errno));
		return RL_ECONFIG;
	}
	return RL_OK;
}

/* sip_start starts the SIP thread and waits until it listens (or failed to). On failure
 * nothing of it is left but s->efd, which the caller closes. */
static int sip_start(struct rl_sip *s)
{
	int rv;

	if ((s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return RL_ENOMEM;
	pthread_mutex_init(&s->mtx, NULL);
	pthread_cond_init(&s->started_cv, NULL);
	if (pthread_create(&s->thread, NULL, sip_main, s) != 0) {
		rv = RL_ENOMEM;
		goto fail;
	}
	pthread_mutex_lock(&s->mtx);
	while (!s->started)
		pthread_cond_wait(&s->started_cv, &s->mtx);
	rv = s->start_rv;
	pthread_mutex_unlock(&s->mtx);
	if (rv == RL_OK)
		return RL_OK;
	pthread_join(s->thread, NULL);
fail:
	pthread_cond_destroy(&s->started_cv);
	pthread_mutex_destroy(&s->mtx);
	return rv;
}

/* fence_token: the random part of our fences' Call-IDs, so that no one else ends a stale
 * window early (stall_check). */
static void fence_token(struct rl_sip *s)
{
	unsigned char r[8];

	rl_secret_random(r, sizeof(r));
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(s->fence_token + 2 * i, 3, "%02x", r[i]);
}

int rl_sip_open(struct rl_sip **out, const struct rl_sip_conf *conf)
{
	struct rl_sip *s;
	int rv;

	*out = NULL;
	if (conf == NULL || conf->fn == NULL)
		return RL_EINVAL;
	s = rl_calloc(1, sizeof(*s));
	s->efd = -1;
	s->fence_fd = -1;
	fence_token(s);
	s->conf = *conf;
	s->conf.trunks = NULL;
	if ((rv = parse_listen(conf->listen, s->listen_ip, sizeof(s->listen_ip), &s->listen_port)) != RL_OK)
		goto fail_free;
	if ((rv = sip_conf_limits(s)) != RL_OK || (rv = sip_conf_tls(s, conf)) != RL_OK)
		goto fail_free;
	s->conf.listen = NULL;
	for (unsigned i = 0; conf->trunks != NULL && conf->trunks[i] != NULL; i++) {
		struct trunk *t = &s->trunks[s->n_trunks];
		if (s->n_trunks >= RL_SIP_TRUNKS_MAX) {
			rv = RL_EINVAL;
			goto fail_free;
		}
		if (inet_pton(AF_INET, conf->trunks[i], t->addr) == 1)
			t->af = AF_INET;
		else if (inet_pton(AF_INET6, conf->trunks[i], t->addr) == 1)
			t->af = AF_INET6;
		else {
			rv = RL_EINVAL;
			goto fail_free;
		}
		s->n_trunks++;
	}
	if ((rv = sip_start(s)) != RL_OK)
		goto fail_free;
	*out = s;
	return RL_OK;

fail_free:
	if (s->efd >= 0)
		close(s->efd);
	free(s);
	return rv;
}

void rl_sip_close(struct rl_sip *s)
{
	uint64_t one = 1;

	if (s == NULL)
		return;
	__atomic_store_n(&s->closing, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	while (write(s->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->started_cv);
	pthread_mutex_destroy(&s->mtx);
	close(s->efd);
	free(s);
}
