/*
 * sip.h - the site node's SIP endpoint: carriers and SBCs send their INVITEs here.
 *
 * The glue runs sofia-sip's NUA on one thread of its own: its own su_root, NUA's stack
 * threading turned off, so every sofia call happens on that thread and nowhere else. The
 * node and the glue meet in two places only:
 *
 *  - Events. conf.fn is called ON THE SIP THREAD with a struct rl_sip_event that owns all
 *    its data (fixed arrays, no pointer into sofia memory). The pointer is valid only during
 *    the call: copy the struct and post it to the node's loop. The callback must not block
 *    and must not call rl_sip_close; the other rl_sip_* calls are fine from it.
 *  - Commands. rl_sip_ringing/progress/answer/reject/hangup/refer from any thread check their
 *    arguments, copy them into a bounded queue and wake the SIP thread (an eventfd
 *    registered with su_root), which runs them in order. RL_OK means queued. A command
 *    naming a call that has meanwhile ended is dropped quietly: its RL_SIP_EV_ENDED is
 *    delivered or on its way.
 *
 * A call's life as the node sees it:
 *   INVITE -> (node: ringing | progress, answer) -> ANSWERED (the ACK) -> REINVITE* -> BYE -> ENDED
 *   INVITE -> CANCEL -> ENDED            INVITE -> (node: reject or hangup) -> ENDED
 *   ... ANSWERED -> (node: refer) -> REFER 202 -> REFER 200 -> BYE (or our own BYE) -> ENDED
 *   ... ANSWERED -> (node: refer) -> REFER 4xx-6xx/408 -> the call goes on
 * Every call reported by RL_SIP_EV_INVITE gets exactly one RL_SIP_EV_ENDED, last, whatever
 * ends it (BYE either way, CANCEL, reject, ACK timeout, transport error), until rl_sip_close
 * (which delivers nothing more); after it the call id is never used again. Call ids are
 * unique for the life of the rl_sip.
 *
 * The glue answers by itself, counts, and does not report: INVITEs from a source outside the
 * trunk allow-list (403), INVITEs that waited in the socket while the SIP thread was stalled
 * (503 "Stale INVITE" + Retry-After: the SBC has given up on them, see conf.stall_ms), INVITEs
 * while draining (503 + Retry-After), INVITEs over max_calls (503), offers without an acceptable audio codec, with broken SDP or with an address a trunk
 * may not use (488), OPTIONS (200, or 503 while draining), re-INVITEs (200 with our SDP,
 * reported as RL_SIP_EV_REINVITE) and INFO (200; a key press in it is reported as
 * RL_SIP_EV_DTMF, at any time between INVITE and ENDED). Every response the glue sends
 * carries its reason phrase from memory that outlives sofia's use of it. docs/sip.md has the
 * details: transports (UDP, TCP, and TLS when conf.tls_port and conf.tls_dir are set), codecs
 * and DTMF, early media, transfer.
 */
#ifndef RL_SIP_H
#define RL_SIP_H

#include <stddef.h>
#include <stdint.h>

#define RL_SIP_NUM_MAX     64  /* user parts (numbers), display names; longer ones are cut */
#define RL_SIP_IP_MAX      46  /* IPv4 or IPv6 text, with its NUL */
#define RL_SIP_CALLID_MAX  96  /* Call-ID kept for logs and carrier tickets; longer is cut */
#define RL_SIP_REASON_MAX  64  /* reason phrases */
#define RL_SIP_TRUNKS_MAX  64  /* allow-list entries */
#define RL_SIP_STREAMS_MAX 8   /* m= lines in an offer; more is refused (488) */
#define RL_SIP_URI_MAX     256 /* transfer targets (rl_sip_refer), with the NUL */
#define RL_SIP_PATH_MAX    512 /* conf.tls_dir, with the NUL */

/* Audio codecs, as bits of a set. PCMU and PCMA are RTP PT 0 and 8 (or a dynamic PT with a
 * matching rtpmap), Opus is opus/48000/2 on a dynamic PT. */
enum rl_sip_codec {
	RL_SIP_PCMU = 1,
	RL_SIP_PCMA = 2,
	RL_SIP_OPUS = 4,
};

/* rl_sip_codec_name: "PCMU", "PCMA", "opus", or "none". */
const char *rl_sip_codec_name(int codec);

/* One side's audio stream as an SDP offer describes it. */
struct rl_sip_media {
	char ip[RL_SIP_IP_MAX];            /* c= address: a unicast IP literal, or 0.0.0.0 / :: (hold) */
	uint16_t port;                     /* m= port, 1..65535 */
	uint8_t hold;                      /* 1: a=sendonly or a=inactive or c=0.0.0.0 (or ::) */
	uint8_t unspecified;               /* 1: c= is 0.0.0.0 or :: (RFC 2543 hold): no address to send
	                                    * to; a re-INVITE may say so, a new call may not (488) */
	uint8_t dir;                       /* offered direction: 0 inactive, 1 sendonly, 2 recvonly, 3 sendrecv */
	int codec;                         /* the glue's pick: the first offered codec in conf.codecs */
	int pt;                            /* the pick's payload type in the offer */
	unsigned offered;                  /* every known codec the offer carries (bits) */
	int16_t pt_pcmu, pt_pcma, pt_opus; /* their payload types, -1 = not offered */
	int dtmf_pt;                       /* telephone-event payload type (see dtmf_rate), -1 = not offered */
	unsigned dtmf_rate;                /* dtmf_pt's rtpmap clock: 8000, or 48000 when the offer has only
	                         * telephone-event/48000 and the pick is Opus; 0 = no dtmf_pt */
	uint16_t ptime;                    /* a=ptime, 0 = not given */
};

enum rl_sip_ev_type {
	RL_SIP_EV_INVITE = 1, /* a new call: every field below is set */
	RL_SIP_EV_ANSWERED,   /* our 200 was ACKed: the call is up */
	RL_SIP_EV_REINVITE,   /* re-INVITE answered 200: media holds the new remote side */
	RL_SIP_EV_BYE,        /* the caller hung up after answer (ENDED follows) */
	RL_SIP_EV_CANCEL,     /* the caller gave up before answer (ENDED follows) */
	RL_SIP_EV_ENDED,      /* the call is over: status/reason say how; forget the id */
	RL_SIP_EV_REFER,      /* news of a transfer asked with rl_sip_refer: see status */
	RL_SIP_EV_DTMF,       /* the caller pressed a key, said in a SIP INFO: see dtmf */
};

struct rl_sip_event {
	int type;      /* enum rl_sip_ev_type */
	uint64_t call; /* call handle, never 0 */
	/* INVITE only (zeroed otherwise). */
	char caller[RL_SIP_NUM_MAX];      /* user of P-Asserted-Identity, else of From */
	char caller_name[RL_SIP_NUM_MAX]; /* display name, same source */
	char dialled[RL_SIP_NUM_MAX];     /* user of the Request-URI */
	char src_ip[RL_SIP_IP_MAX];       /* where the INVITE came from (the trunk) */
	uint16_t src_port;
	uint8_t tcp; /* 1: arrived over TCP (TLS included), 0: UDP */
	uint8_t tls; /* 1: arrived over TLS (the sips listener) */
	char call_id[RL_SIP_CALLID_MAX];
	/* INVITE and REINVITE: the remote audio and the codec negotiation. */
	struct rl_sip_media media;
	/* ENDED: the SIP status that ended the call (200 for a BYE either way, 487 after CANCEL,
	 * the reject status, 408 for a missing ACK...) and sofia's phrase for it.
	 * REFER: 202 = the carrier accepted the transfer (the outcome follows in a second REFER
	 * event); 200 = the carrier reports the target answered (the carrier's BYE, or ours a
	 * few seconds later, then ends the call); 300..699 = the transfer failed (the REFER was
	 * refused, or the carrier's NOTIFY reported that status), among them 408 = no outcome
	 * in conf.refer_timeout_s, 487 = the carrier ended the transfer without an outcome,
	 * 491 = the call was not up or had a transfer in progress, 400 = no Refer-To could be
	 * made of the target. After a failure the call goes on as before. */
	int status;
	char reason[RL_SIP_REASON_MAX];
	/* DTMF: the key ('0'-'9', '*', '#', 'A'-'D') of an INFO application/dtmf-relay or
	 * application/dtmf body, and its Duration in ms (0: not given). Carriers may send the
	 * same key press as an RFC 4733 event too: the glue does not know, the carrier leg
	 * pairs them (rl_carrier_put_dtmf). */
	char dtmf;
	uint16_t dtmf_ms;
};

struct rl_sip_conf {
	const char *listen;        /* "IP:port" ("[v6]:port"); UDP and TCP both bind there */
	unsigned codecs;           /* accepted codec set; 0 = PCMU|PCMA */
	const char *const *trunks; /* source IPs allowed to INVITE, NULL-terminated; NULL or
	                               * empty = anyone */
	unsigned retry_after_s;    /* Retry-After of the automatic 503s; 0 = no header */
	unsigned max_calls;        /* live calls before new INVITEs get 503; 0 = 1024 */
	const char *user_agent;    /* Server / User-Agent; NULL = "relais-node" */
	uint16_t tls_port;         /* SIP over TLS (sips:) on the listen IP at this port; 0 = no
	                               * TLS. Needs tls_dir; must differ from the listen port. */
	const char *tls_dir;       /* directory holding agent.pem (our private key followed by
	                               * our certificate chain, PEM) and optionally cafile.pem;
	                               * read once at open */
	unsigned refer_timeout_s;  /* how long a transfer may wait for its outcome after the
	                               * carrier's 202, up to 3600; 0 = 60 */
	unsigned stall_ms;         /* a gap this long in the SIP thread's own clock is a stall (the
	                               * process frozen, a VM paused): the new INVITEs that waited
	                               * in the socket through it get 503 "Stale INVITE". Keep it at
	                               * or under the SBC's no-answer timer. 100..60000; 0 = 1000 */
	void (*fn)(void *arg, const struct rl_sip_event *ev); /* required, on the SIP thread */
	void *arg;
};

/* Counters since open. "rejected" counts the node's rejects and hangups before answer;
 * the glue's own refusals have their own counters. */
struct rl_sip_counters {
	uint64_t invites;  /* initial INVITEs received, refused ones included */
	uint64_t answered; /* calls whose 200 was ACKed */
	uint64_t rejected;
	uint64_t cancels;
	uint64_t byes_in, byes_out;
	uint64_t reinvites;        /* re-INVITEs answered 200 */
	uint64_t options;          /* OPTIONS answered (200 or 503) */
	uint64_t refused_trunk;    /* 403: source not in the allow-list */
	uint64_t refused_stale;    /* 503: the INVITE waited in the socket through a stall */
	uint64_t stalls;           /* stalls of the SIP thread seen (gaps over conf.stall_ms) */
	uint64_t refused_draining; /* 503 while draining */
	uint64_t refused_full;     /* 503 over max_calls */
	uint64_t bad_sdp;          /* 488: no SDP, broken SDP, no acceptable codec, bad address */
	uint64_t bad_addr;         /* of bad_sdp (and re-INVITE 488s): a c= address a trunk may
	                            * not use (multicast, broadcast; 0.0.0.0 or :: in a new call) */
	uint64_t info_dtmf;        /* keys reported from INFO bodies (RL_SIP_EV_DTMF) */
	uint64_t info_bad;         /* INFO DTMF bodies refused: not one key, bad Duration, too long */
	uint64_t cmd_dropped;      /* commands for calls already gone */
	uint64_t tls_failed;       /* TLS connections whose handshake failed (plain TCP or
	                            * garbage on the TLS port, bad client hello, ...) */
	uint64_t early;            /* 183 Session Progress with SDP sent */
	uint64_t refers;           /* REFERs sent */
	uint64_t refer_ok;         /* transfers the carrier reported done (final NOTIFY 2xx) */
	uint64_t refer_failed;     /* REFER refused, failure NOTIFY, no outcome in time, or
	                            * refused by the glue (491) */
};

struct rl_sip;

/*
 * rl_sip_open binds UDP and TCP on conf->listen, TLS on conf->tls_port if set, and starts
 * the SIP thread. conf is copied (tls_dir too). Errors: RL_EINVAL (bad address, no
 * callback, bad trunk entry, tls_port without tls_dir or equal to the listen port, tls_dir
 * too long, refer_timeout_s over 3600, stall_ms out of its range), RL_ECONFIG (tls_dir/agent.pem missing or
 * unreadable, or sofia cannot load the key and certificate in it), RL_ENET (cannot bind),
 * RL_ENOMEM.
 */
int rl_sip_open(struct rl_sip **out, const struct rl_sip_conf *conf);

/* rl_sip_ringing sends 180 Ringing (no SDP, no early media); ignored once rl_sip_progress
 * ran (a 180 there would make many phones drop the early media for local ringback).
 * Errors: RL_EFULL. */
int rl_sip_ringing(struct rl_sip *s, uint64_t call);

/*
 * rl_sip_progress sends 183 Session Progress carrying our SDP answer, built as rl_sip_answer
 * builds it, so the node can play ringback, prompts or music to the caller before answering
 * (early media: the caller's side listens from now on). May be sent again. The later
 * rl_sip_answer's 200 carries the same SDP with the same o= version when given the same
 * arguments (RFC 3264: the answer does not change); other arguments make a new version. A
 * codec the offer lacks is answered 488 and the call ends. Ignored after the answer.
 * Errors: as rl_sip_answer (RL_EINVAL, RL_EFULL).
 */
int rl_sip_progress(struct rl_sip *s, uint64_t call, const char *local_ip, uint16_t rtp_port, int codec, int dtmf_pt);

/*
 * rl_sip_answer sends 200 OK with our SDP: c= local_ip, m=audio rtp_port RTP/AVP with codec
 * (one RL_SIP_* the offer carries, normally ev->media.codec) and telephone-event on dtmf_pt
 * if dtmf_pt >= 0 and the offer had telephone-event (the offer's PT is the one to pass),
 * ptime 20, sendrecv. RL_SIP_EV_ANSWERED follows the caller's ACK. A codec the offer lacks
 * is answered 488 and the call ends. Errors: RL_EINVAL (ip not an IP literal, port 0, codec
 * not one RL_SIP_* bit, dtmf_pt over 127), RL_EFULL.
 */
int rl_sip_answer(struct rl_sip *s, uint64_t call, const char *local_ip, uint16_t rtp_port, int codec, int dtmf_pt);

/*
 * rl_sip_reject answers an unanswered call with status (300..699; e.g. 486, 480, 503) and
 * reason (NULL = the standard phrase; cut to RL_SIP_REASON_MAX - 1, control characters
 * replaced), with Retry-After if retry_after_s > 0. Errors: RL_EINVAL, RL_EFULL.
 */
int rl_sip_reject(struct rl_sip *s, uint64_t call, int status, const char *reason, unsigned retry_after_s);

/* rl_sip_hangup ends a call from our side: BYE once a 200 was sent, 480 before. RL_EFULL. */
int rl_sip_hangup(struct rl_sip *s, uint64_t call);

/*
 * rl_sip_refer asks the carrier to take an answered call elsewhere (blind transfer, RFC
 * 3515): a REFER in the call's dialog whose Refer-To is target, either a SIP URI
 * ("sip:..." or "sips:...", sent as given) or a number (digits, an optional leading '+',
 * '*', '#', '-', '.'; sent as sip:<number>@<the carrier's host:port from its Contact>).
 * The outcome comes as RL_SIP_EV_REFER events (see struct rl_sip_event's status): 202 then
 * 200 when the transfer is done, after which the carrier normally hangs up and, if it has
 * not within a few seconds, the glue does (one BYE, then ENDED as for any hangup); or one
 * failure status, after which the call goes on. One transfer at a time per call. Errors:
 * RL_EINVAL (target NULL, empty, RL_SIP_URI_MAX or longer, neither a SIP URI nor a
 * number, or with spaces or control characters), RL_EFULL.
 */
int rl_sip_refer(struct rl_sip *s, uint64_t call, const char *target);

/* rl_sip_set_drain: percent (0..100) of new INVITEs get 503 + Retry-After, spread evenly; at
 * 100 OPTIONS get 503 too, so
 * an SBC's probing marks this node down; calls in progress go on. Takes effect at once. */
void rl_sip_set_drain(struct rl_sip *s, unsigned percent);

/* rl_sip_counters copies the counters (any thread). */
void rl_sip_counters(struct rl_sip *s, struct rl_sip_counters *out);

/* rl_sip_responses: how many responses of status (100..699) the node has sent to carriers
 * (its own answers; not what sofia-sip sends by itself, such as 100 Trying). */
uint64_t rl_sip_responses(int status);

/*
 * rl_sip_close ends every call (BYE once answered, 503 + Retry-After before), waits for
 * sofia's shutdown (normally a round trip; at most about 30 s when a peer never answers our
 * BYE), joins the thread and frees everything. No callback starts once rl_sip_close is
 * called (one already running finishes first), so calls get no RL_SIP_EV_ENDED. s may be
 * NULL.
 */
void rl_sip_close(struct rl_sip *s);

/*
 * SDP glue (sip_sdp.c), pure functions used by the SIP thread and exposed for tests and
 * fuzzing. An offer keeps its m= lines because the answer must list as many, in order
 * (RFC 3264 6), refusing the ones we do not use with port 0.
 */
struct rl_sip_offer {
	struct rl_sip_media media; /* the audio stream we take */
	unsigned n_streams;        /* m= lines in the offer */
	unsigned audio;            /* index of ours among them */
	struct {
		char type[16], proto[24], fmt[8]; /* echoed in the port-0 refusal */
	} streams[RL_SIP_STREAMS_MAX];
};

/*
 * rl_sip_sdp_offer parses an SDP body with sofia's parser and picks the first RTP/AVP audio
 * stream with a usable address and the first codec of `accept` it offers. A usable address
 * is an IP literal that is unicast (loopback included), or the unspecified address 0.0.0.0
 * or :: (hold: media.unspecified and media.hold say so). Errors: RL_EPROTO (unparsable, no
 * usable audio stream, bad address or port), RL_EPERM (no usable audio stream, and one was
 * refused for its address: multicast 224.0.0.0/4 or ff00::/8, or the broadcast
 * 255.255.255.255, IPv4-mapped ones included), RL_ETOOBIG (over 16 KiB or over
 * RL_SIP_STREAMS_MAX streams), RL_ENOENT (no codec in accept).
 */
int rl_sip_sdp_offer(struct rl_sip_offer *o, const char *body, size_t len, unsigned accept);

/* What we put in an answer. */
struct rl_sip_local {
	char ip[RL_SIP_IP_MAX];
	uint16_t port;
	int codec;        /* RL_SIP_*, must be in o->media.offered */
	int dtmf_pt;      /* -1 = none; ignored if the offer had no telephone-event */
	uint64_t sess_id; /* o= session id and version */
	uint64_t version;
};

/*
 * rl_sip_sdp_answer writes the answer to offer o into buf (NUL-terminated). The direction
 * mirrors the offer's (sendonly <-> recvonly, inactive -> inactive, sendrecv -> sendrecv).
 * Returns the length, or -RL_EINVAL (codec not offered, bad ip) / -RL_ETOOBIG.
 */
int rl_sip_sdp_answer(char *buf, size_t cap, const struct rl_sip_offer *o, const struct rl_sip_local *l);

/* DTMF in SIP INFO (sip_dtmf.c), a pure function used by the SIP thread and exposed for tests
 * and fuzzing. */
#define RL_SIP_DTMF_BODY_MAX 256   /* longest INFO DTMF body read; a real one is under 40 bytes */
#define RL_SIP_DTMF_MS_MAX   10000 /* longest Duration taken */

/*
 * rl_sip_dtmf_body reads the key of an INFO body of content type ctype (its type/subtype,
 * without parameters): application/dtmf-relay ("Signal=5\r\nDuration=160\r\n": one Signal
 * line, an optional Duration line of 1..5 decimal digits in ms, other Name=value lines
 * ignored, names case-insensitive, spaces around names and values allowed) or
 * application/dtmf ("5", whitespace around allowed). The key is one of 0-9 * # A-D (a-d taken
 * as A-D), put in *digit; *ms gets the Duration (0: none). The body is hostile: bytes must be
 * printable ASCII, tab, CR or LF. Errors: RL_ENOENT (ctype NULL or another type: not ours),
 * RL_EPROTO (empty, a byte or line that does not belong, no key, another key, two Signal or
 * Duration lines), RL_ETOOBIG (over RL_SIP_DTMF_BODY_MAX bytes), RL_ERANGE (Duration over
 * RL_SIP_DTMF_MS_MAX or over 5 digits).
 */
int rl_sip_dtmf_body(const char *ctype, const char *body, size_t len, char *digit, unsigned *ms);

#endif
