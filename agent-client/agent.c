#include "agent.h"

#include <math.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_time.h"

const char *rl_agent_state_name(Relais__AgentState s)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&relais__agent_state__descriptor, (int)s);
	const char *n = v ? v->name : "UNKNOWN";

	return strncmp(n, "AGENT_", 6) == 0 ? n + 6 : n;
}

const char *rl_monitor_mode_name(int mode)
{
	static const char *const names[] = {"off", "listen", "whisper", "barge"};

	return mode >= 0 && mode < 4 ? names[mode] : "?";
}

int rl_script_parse(const char *spec, struct rl_script *s)
{
	char buf[256], *save = NULL;

	*s = (struct rl_script){.answer_s = 2, .talk_s = 30, .wrap_s = 10, .reject_p = 0, .break_p = 0, .break_s = 10};
	if (spec == NULL || strlen(spec) >= sizeof(buf))
		return RL_EINVAL;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *kv = strtok_r(buf, ",", &save); kv != NULL; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '='), *end;
		double v;
		if (eq == NULL)
			return RL_EINVAL;
		*eq = 0;
		if (strcmp(kv, "xfer") == 0 || strcmp(kv, "xfer_number") == 0) {
			char *dst = kv[4] ? s->xfer_number : s->xfer_queue;
			if (eq[1] == 0 || strlen(eq + 1) > RL_WIRE_MAX_ID)
				return RL_EINVAL;
			snprintf(dst, RL_WIRE_MAX_ID + 1, "%s", eq + 1);
			continue;
		}
		v = strtod(eq + 1, &end);
		if (*end != 0 || eq[1] == 0 || v < 0 || !isfinite(v))
			return RL_EINVAL;
		if (strcmp(kv, "answer") == 0)
			s->answer_s = v;
		else if (strcmp(kv, "talk") == 0)
			s->talk_s = v;
		else if (strcmp(kv, "wrap") == 0)
			s->wrap_s = v;
		else if (strcmp(kv, "reject") == 0 && v <= 1)
			s->reject_p = v;
		else if (strcmp(kv, "break") == 0 && v <= 1)
			s->break_p = v;
		else if (strcmp(kv, "breaklen") == 0)
			s->break_s = v;
		else if (strcmp(kv, "fixed") == 0 && v <= 1)
			s->fixed = v > 0;
		else if (strcmp(kv, "pause") == 0)
			s->pause_s = v;
		else if (strcmp(kv, "pauselen") == 0)
			s->pause_len_s = v;
		else
			return RL_EINVAL;
	}
	return RL_OK;
}

/* xorshift64*: a seeded stream per agent, so runs can be replayed. */
static double rl_rand01(struct rl_agent_sess *a)
{
	a->rng ^= a->rng >> 12;
	a->rng ^= a->rng << 25;
	a->rng ^= a->rng >> 27;
	return (double)((a->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

#define rl_emit rl_agent_emit
void rl_agent_emit(struct rl_agent_sess *a, const char *fmt, ...)
{
	va_list ap;

	if (a->out == NULL)
		return;
	fprintf(a->out, "agent=%s ", a->id);
	va_start(ap, fmt);
	vfprintf(a->out, fmt, ap);
	va_end(ap);
	fputc('\n', a->out);
	fflush(a->out);
}

int rl_agent_open(struct rl_agent_sess *a, const char *url, const struct rl_tls *tls, struct rl_loop *loop, int tag)
{
	struct rl_client_opts o = {.url = url, .tls = tls, .role = RELAIS__ROLE__ROLE_AGENT, .name = "relais-agent"};

	a->tag = tag;
	if (a->rng == 0) {
		a->rng = 0x9e3779b97f4a7c15ULL;
		for (const char *p = a->id; *p; p++)
			a->rng = (a->rng ^ (uint8_t)*p) * 1099511628211ULL;
	}
	return rl_client_open(&a->cl, &o, loop, tag);
}

static void rl_request(struct rl_agent_sess *a, rl_env *env)
{
	env->session = a->session;
	if (rl_client_request(a->cl, env, a, NULL) != RL_OK)
		rl_log(RL_LOG_WARNING, "agent=%s request not queued", a->id);
}

static void rl_send_login(struct rl_agent_sess *a)
{
	Relais__AgentLogin l = RELAIS__AGENT_LOGIN__INIT;
	rl_env env;

	rl_env_init(&env);
	l.agent_id = a->id;
	l.secret = a->secret;
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_LOGIN;
	env.agent_login = &l;
	a->login_pending = 1;
	env.session = 0;
	if (rl_client_request(a->cl, &env, &a->login_pending, NULL) != RL_OK)
		a->login_pending = 0;
}

static void rl_send_resume(struct rl_agent_sess *a)
{
	Relais__AgentResume r = RELAIS__AGENT_RESUME__INIT;
	rl_env env;

	rl_env_init(&env);
	r.session = a->session;
	r.token.data = a->token;
	r.token.len = sizeof(a->token);
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_RESUME;
	env.agent_resume = &r;
	a->login_pending = 1;
	env.session = a->session;
	if (rl_client_request(a->cl, &env, &a->login_pending, NULL) != RL_OK)
		a->login_pending = 0;
}

void rl_agent_set_state(struct rl_agent_sess *a, Relais__AgentState st, const char *reason)
{
	Relais__AgentSetState s = RELAIS__AGENT_SET_STATE__INIT;
	rl_env env;

	rl_env_init(&env);
	s.state = st;
	s.reason = (char *)(reason ? reason : "");
	env.body_case = RELAIS__ENVELOPE__BODY_AGENT_SET_STATE;
	env.agent_set_state = &s;
	rl_request(a, &env);
}

void rl_agent_answer(struct rl_agent_sess *a, int accept)
{
	Relais__OfferAnswer o = RELAIS__OFFER_ANSWER__INIT;
	rl_env env;

	rl_env_init(&env);
	o.contact_id = a->contact;
	o.accept = accept;
	env.body_case = RELAIS__ENVELOPE__BODY_OFFER_ANSWER;
	env.offer_answer = &o;
	rl_emit(a, "event=%s contact=%s", accept ? "accept" : "reject", a->contact);
	rl_request(a, &env);
}

void rl_agent_hangup(struct rl_agent_sess *a)
{
	Relais__ContactHangup h = RELAIS__CONTACT_HANGUP__INIT;
	rl_env env;

	rl_env_init(&env);
	h.contact_id = a->contact;
	env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_HANGUP;
	env.contact_hangup = &h;
	rl_emit(a, "event=hangup contact=%s", a->contact);
	rl_request(a, &env);
}

void rl_agent_pause(struct rl_agent_sess *a, int paused)
{
	Relais__RecordingPause p = RELAIS__RECORDING_PAUSE__INIT;
	rl_env env;

	rl_env_init(&env);
	p.contact_id = a->contact;
	p.paused = paused != 0;
	env.body_case = RELAIS__ENVELOPE__BODY_RECORDING_PAUSE;
	env.recording_pause = &p;
	rl_emit(a, "event=%s contact=%s", paused ? "pause" : "resume", a->contact);
	rl_request(a, &env);
}

void rl_agent_transfer(struct rl_agent_sess *a, const char *queue, const char *number, const char *note)
{
	Relais__ContactTransfer t = RELAIS__CONTACT_TRANSFER__INIT;
	rl_env env;

	rl_env_init(&env);
	t.contact_id = a->contact;
	t.queue_id = (char *)(queue ? queue : "");
	t.number = (char *)(queue ? "" : number ? number : "");
	t.note = (char *)(note ? note : "");
	env.body_case = RELAIS__ENVELOPE__BODY_CONTACT_TRANSFER;
	env.contact_transfer = &t;
	rl_emit(a, "event=transfer contact=%s to=%s", a->contact, queue ? queue : t.number);
	rl_request(a, &env);
}

void rl_agent_wrapup(struct rl_agent_sess *a, const char *disposition, unsigned extend_s)
{
	Relais__WrapupDone w = RELAIS__WRAPUP_DONE__INIT;
	rl_env env;

	rl_env_init(&env);
	w.contact_id = a->contact;
	w.disposition = (char *)(disposition ? disposition : "");
	w.extend_s = extend_s;
	env.body_case = RELAIS__ENVELOPE__BODY_WRAPUP_DONE;
	env.wrapup_done = &w;
	if (!extend_s)
		rl_emit(a, "event=wrapup contact=%s disposition=%s", a->contact, w.disposition);
	rl_request(a, &env);
}

/* rl_plan schedules the script's next move for the state the hub reports. */
static void rl_plan(struct rl_agent_sess *a)
{
	const struct rl_script *s = a->script;
	uint64_t now = rl_mono_us();
	enum rl_action want = RL_ACT_NONE;
	double delay = 0;

	if (s == NULL)
		return;
	switch (a->state) {
	case RELAIS__AGENT_STATE__AGENT_RESERVED:
		want = RL_ACT_ANSWER;
		delay = s->answer_s;
		break;
	case RELAIS__AGENT_STATE__AGENT_BUSY:
		want = RL_ACT_HANGUP;
		delay = s->fixed ? s->talk_s : -s->talk_s * log(1.0 - rl_rand01(a) * 0.999999);
		break;
	case RELAIS__AGENT_STATE__AGENT_WRAPUP:
		want = RL_ACT_WRAP;
		delay = s->wrap_s;
		break;
	case RELAIS__AGENT_STATE__AGENT_NOT_READY:
		want = RL_ACT_READY;
		delay = strcmp(a->reason, "break") == 0 ? s->break_s : 1.0;
		break;
	default:
		break;
	}
	if (want == a->act && strcmp(a->act_contact, a->contact) == 0)
		return; /* already planned for this state and contact */
	a->act = want;
	snprintf(a->act_contact, sizeof(a->act_contact), "%s", a->contact);
	a->act_at_us = now + (uint64_t)(delay * 1e6);
}

/* rl_keep_contact keeps a copy of o (an offer, or the contact a status carries) as the
 * contact shown with its screen-pop; a->offer owns it. */
static void rl_keep_contact(struct rl_agent_sess *a, const Relais__Offer *o)
{
	if (a->offer)
		relais__offer__free_unpacked(a->offer, NULL);
	a->offer = rl_wire_copy(&o->base);
}

/* rl_take_recording: the call's recording as st says (shown, and the script's pause planned
 * when a recorded call starts). */
static void rl_take_recording(struct rl_agent_sess *a, const Relais__AgentStatus *st, Relais__AgentState old)
{
	int rec = st->recording == NULL || !st->recording->on ? 0 : st->recording->paused ? 2 : 1;
	const struct rl_script *s = a->script;

	if (rec != a->recording)
		rl_emit(a, "event=recording state=%s contact=%s",
		        rec == 2 ? "paused"
		        : rec    ? "on"
		                 : "off",
		        a->contact[0] ? a->contact : "-");
	a->recording = rec;
	if (old != RELAIS__AGENT_STATE__AGENT_BUSY && a->state == RELAIS__AGENT_STATE__AGENT_BUSY && rec && s != NULL &&
	    s->pause_s > 0) {
		a->pause_at_us = rl_mono_us() + (uint64_t)(s->pause_s * 1e6);
		a->resume_at_us = a->pause_at_us + (uint64_t)(s->pause_len_s * 1e6);
	}
	if (a->state != RELAIS__AGENT_STATE__AGENT_BUSY)
		a->pause_at_us = a->resume_at_us = 0;
}

/* rl_script_pause: the script pauses and resumes a recorded call's recording on time. */
static void rl_script_pause(struct rl_agent_sess *a, uint64_t now)
{
	if (a->pause_at_us != 0 && now >= a->pause_at_us) {
		a->pause_at_us = 0;
		rl_agent_pause(a, 1);
	} else if (a->pause_at_us == 0 && a->resume_at_us != 0 && now >= a->resume_at_us) {
		a->resume_at_us = 0;
		rl_agent_pause(a, 0);
	}
}

static void rl_take_status(struct rl_agent_sess *a, const Relais__AgentStatus *st)
{
	Relais__AgentState old = a->state;
	const char *cid = st->contact && st->contact->contact_id ? st->contact->contact_id : "";
	int call_ended = old == RELAIS__AGENT_STATE__AGENT_BUSY && a->contact[0] &&
	                 (st->state != RELAIS__AGENT_STATE__AGENT_BUSY || strcmp(cid, a->contact) != 0);

	a->state = st->state;
	snprintf(a->reason, sizeof(a->reason), "%s", st->reason ? st->reason : "");
	snprintf(a->contact, sizeof(a->contact), "%s", cid);
	snprintf(a->site, sizeof(a->site), "%s", st->site_id ? st->site_id : "");
	a->state_since_us = st->state_since_us;
	a->deadline_us = st->deadline_us;
	/* A call this session held has ended (hung up by either side, or transferred): handled,
	 * whether a person or the script ended it, and even if it was answered before a takeover. */
	if (call_ended && a->state != RELAIS__AGENT_STATE__AGENT_LOGGED_OUT)
		a->handled++;
	/* A login, takeover or resume finds the agent with a contact this session was never
	 * offered (or has lost): the status carries it whole (the ended stub after wrap-up has no
	 * tenant), so its screen-pop comes back with it. */
	if (cid[0] && st->contact->tenant_id && st->contact->tenant_id[0] &&
	    (a->offer == NULL || strcmp(a->offer->contact_id, cid) != 0))
		rl_keep_contact(a, st->contact);
	if (old != a->state)
		rl_emit(a, "event=state state=%s reason=%s contact=%s", rl_agent_state_name(a->state), a->reason,
		        a->contact[0] ? a->contact : "-");
	if ((int)st->monitored != a->monitored) {
		a->monitored = (int)st->monitored;
		rl_emit(a, "event=monitored mode=%s contact=%s", rl_monitor_mode_name(a->monitored),
		        a->contact[0] ? a->contact : "-");
	}
	rl_take_recording(a, st, old);
	if (a->state == RELAIS__AGENT_STATE__AGENT_LOGGED_OUT) {
		rl_emit(a, "event=logged-out reason=%s", a->reason);
		a->session = 0;
		rl_client_set_session(a->cl, 0);
		/* Taken over or logged out by a supervisor: a script stops there. A person logs in
		 * again, unless leaving (stopped already: this is the logout it asked for). */
		if (a->script != NULL)
			a->stopped = 1;
		rl_phone_end(a);
		return;
	}
	rl_phone_status(a, st);
	rl_plan(a);
}

static void rl_take_offer(struct rl_agent_sess *a, const Relais__Offer *o)
{
	const char *caller = o->pop && o->pop->caller ? o->pop->caller : "";

	rl_keep_contact(a, o);
	a->offers++;
	rl_emit(a, "event=offer contact=%s tenant=%s queue=%s priority=%u caller=%s wait_ms=%llu", o->contact_id,
	        o->tenant_id, o->queue_id, o->priority, caller,
	        (unsigned long long)(o->offered_us > o->enqueued_us ? (o->offered_us - o->enqueued_us) / 1000u : 0));
	if (a->out != NULL && o->pop != NULL && o->pop->n_data > 0) {
		/* The screen-pop's data (IVR answers, transfer notes): one line, values quoted. */
		char line[2048];
		size_t len = 0;
		for (size_t i = 0; i < o->pop->n_data && len < sizeof(line); i++) {
			int k = snprintf(line + len, sizeof(line) - len, " %s=\"%s\"",
			                 o->pop->data[i]->key ? o->pop->data[i]->key : "",
			                 o->pop->data[i]->value ? o->pop->data[i]->value : "");
			if (k < 0)
				break;
			len += (size_t)k;
		}
		line[sizeof(line) - 1] = '\0';
		rl_emit(a, "event=screenpop contact=%s%s", o->contact_id, line);
	}
}

/* rl_take_site keeps the site's state the hub pushed, and says it. */
static void rl_take_site(struct rl_agent_sess *a, const Relais__SiteState *st)
{
	struct rl_site_view *v = &a->site_state;

	v->known = 1;
	v->up = st->up;
	v->drain_pct = st->drain_pct;
	snprintf(v->id, sizeof(v->id), "%s", st->site_id ? st->site_id : "");
	snprintf(v->name, sizeof(v->name), "%s", st->name && st->name[0] ? st->name : v->id);
	snprintf(v->failover, sizeof(v->failover), "%s", st->failed_over_to ? st->failed_over_to : "");
	snprintf(v->by, sizeof(v->by), "%s", st->by ? st->by : "");
	snprintf(v->reason, sizeof(v->reason), "%s", st->reason ? st->reason : "");
	rl_emit(a, "event=site site=%s up=%d drain=%u failover=%s by=%s reason=\"%s\" endpoint=%s", v->id, v->up,
	        v->drain_pct, v->failover[0] ? v->failover : "-", v->by[0] ? v->by : "-", v->reason,
	        rl_client_url(a->cl));
}

const char *rl_agent_site_line(const struct rl_agent_sess *a, char *buf, size_t len)
{
	const struct rl_site_view *v = &a->site_state;
	/* The endpoints after the first are the hub's (the node first, then the hub). */
	const char *via = rl_client_endpoint(a->cl) > 0 ? "working through the hub" : "";

	buf[0] = '\0';
	if (!v->known || strcmp(v->id, a->site) != 0)
		return buf; /* not told, or of a seat the agent has left */
	if (!v->up)
		snprintf(buf, len, "site %s lost%s%s", v->name, via[0] ? ": " : "", via);
	else if (v->failover[0])
		snprintf(buf, len, "site %s failed over to %s by %s: %s", v->name, v->failover, v->by, v->reason);
	else if (v->drain_pct > 0)
		snprintf(buf, len, "site %s drained %u %% by %s: %s", v->name, v->drain_pct, v->by, v->reason);
	else if (via[0])
		snprintf(buf, len, "site %s up; %s", v->name, via);
	return buf;
}

/* rl_login_refused: the hub refused the login (wrong credentials, or too many tries); no new
 * login before retry_ms. */
static void rl_login_refused(struct rl_agent_sess *a, const Relais__Error *er, unsigned retry_ms)
{
	a->login_pending = 0;
	a->retry_at_us = rl_mono_us() + (uint64_t)retry_ms * 1000u;
	if (er->code == RELAIS__ERROR_CODE__ERR_RATE_LIMITED)
		rl_emit(a, "event=login-refused reason=\"%s\" retry_ms=%u", er->message, er->retry_after_ms);
	else
		rl_emit(a, "event=login-refused reason=\"%s\"", er->message);
	if (a->out == NULL)
		fprintf(stderr, "relais-agent: login refused for %s: %s\n", a->id, er->message);
}

/* rl_take_error: is_login says the error answers our login or resume (not another request
 * of ours that crossed it). */
static void rl_take_error(struct rl_agent_sess *a, const Relais__Error *er, int is_login)
{
	switch (er->code) {
	case RELAIS__ERROR_CODE__ERR_NOT_LOGGED_IN:
		if (a->login_pending && is_login) {
			/* The resume was refused: the session is gone; log in afresh. */
			a->login_pending = 0;
			a->session = 0;
			rl_client_set_session(a->cl, 0);
			rl_emit(a, "event=session-expired");
		} else if (a->session && !a->login_pending) {
			rl_send_resume(a);
		}
		break;
	case RELAIS__ERROR_CODE__ERR_AUTH:
		a->refused = 1;
		rl_login_refused(a, er, 5000);
		break;
	case RELAIS__ERROR_CODE__ERR_RATE_LIMITED:
		rl_login_refused(a, er, er->retry_after_ms ? er->retry_after_ms : 1000);
		break;
	default:
		rl_emit(a, "event=error code=%d message=\"%s\"", er->code, er->message ? er->message : "");
		break;
	}
}

void rl_agent_input(struct rl_agent_sess *a, nng_msg *msg)
{
	rl_env *env;
	void *cookie;
	int is_reply, is_login;

	if (rl_client_input(a->cl, msg, &env, &cookie, &is_reply) != RL_OK)
		return;
	is_login = is_reply && cookie == &a->login_pending;
	switch (env->body_case) {
	case RELAIS__ENVELOPE__BODY_AGENT_LOGIN_OK: {
		const Relais__AgentLoginOk *ok = env->agent_login_ok;
		a->login_pending = 0;
		a->session = ok->session;
		if (ok->token.len == sizeof(a->token))
			memcpy(a->token, ok->token.data, sizeof(a->token));
		rl_client_set_session(a->cl, a->session);
		rl_emit(a, "event=login site=%s",
		        ok->status && ok->status->site_id && ok->status->site_id[0] ? ok->status->site_id : "home");
		if (ok->status)
			rl_take_status(a, ok->status);
		break;
	}
	case RELAIS__ENVELOPE__BODY_AGENT_STATUS:
		if (is_login && a->login_pending) {
			a->login_pending = 0;
			rl_emit(a, "event=resume state=%s", rl_agent_state_name(env->agent_status->state));
		}
		rl_take_status(a, env->agent_status);
		break;
	case RELAIS__ENVELOPE__BODY_OFFER:
		rl_take_offer(a, env->offer);
		break;
	case RELAIS__ENVELOPE__BODY_SITE_STATE:
		rl_take_site(a, env->site_state);
		break;
	case RELAIS__ENVELOPE__BODY_HEARTBEAT: {
		const Relais__Heartbeat *hb = env->heartbeat;
		const char *cid = hb->contact_id ? hb->contact_id : "";
		/* The hub's view differs from ours (a push was lost): fetch the full status. */
		if (a->session && !a->login_pending && (hb->agent_state != a->state || strcmp(cid, a->contact) != 0))
			rl_send_resume(a);
		break;
	}
	case RELAIS__ENVELOPE__BODY_ERROR:
		rl_take_error(a, env->error, is_login);
		break;
	default:
		break;
	}
	rl_wire_free(env);
}

void rl_agent_tick(struct rl_agent_sess *a)
{
	uint64_t now = rl_mono_us();
	unsigned gen;

	rl_client_tick(a->cl);
	rl_phone_tick(a, now);
	if (a->stopped)
		return;
	gen = rl_client_generation(a->cl);
	if (gen != a->gen_seen && gen != 0) {
		/* A new link: re-attach the session. A login or resume already in flight is
		 * re-sent by the link itself, so it is not sent twice. */
		a->gen_seen = gen;
		if (a->session && !a->login_pending)
			rl_send_resume(a);
	}
	if (gen != 0 && a->session == 0 && !a->login_pending && now >= a->retry_at_us && (!a->refused || a->script))
		rl_send_login(a);
	if (a->session && a->state == RELAIS__AGENT_STATE__AGENT_BUSY)
		rl_script_pause(a, now);
	if (a->script != NULL && a->act != RL_ACT_NONE && now >= a->act_at_us && a->session && !a->login_pending) {
		enum rl_action act = a->act;
		a->act = RL_ACT_NONE;
		a->act_at_us = UINT64_MAX;
		switch (act) {
		case RL_ACT_ANSWER:
			if (a->state == RELAIS__AGENT_STATE__AGENT_RESERVED)
				rl_agent_answer(a, rl_rand01(a) >= a->script->reject_p);
			break;
		case RL_ACT_HANGUP:
			if (a->state == RELAIS__AGENT_STATE__AGENT_BUSY) {
				if ((a->script->xfer_queue[0] || a->script->xfer_number[0]) &&
				    strcmp(a->xfer_tried, a->contact) != 0) {
					/* Once per call: if the transfer is refused, the plan comes back here
					 * and the agent hangs up instead. */
					snprintf(a->xfer_tried, sizeof(a->xfer_tried), "%s", a->contact);
					rl_agent_transfer(a, a->script->xfer_queue[0] ? a->script->xfer_queue : NULL,
					                  a->script->xfer_number, "scripted transfer");
				} else
					rl_agent_hangup(a);
			}
			break;
		case RL_ACT_WRAP:
			if (a->state == RELAIS__AGENT_STATE__AGENT_WRAPUP) {
				if (rl_rand01(a) < a->script->break_p)
					rl_agent_set_state(a, RELAIS__AGENT_STATE__AGENT_NOT_READY, "break");
				else
					rl_agent_wrapup(a, "resolved", 0);
			}
			break;
		case RL_ACT_READY:
			if (a->state == RELAIS__AGENT_STATE__AGENT_NOT_READY)
				rl_agent_set_state(a, RELAIS__AGENT_STATE__AGENT_READY, "");
			break;
		default:
			break;
		}
		/* Keep the plan in step if the hub does not answer (the request is re-sent). */
		a->act = act;
		a->act_at_us = now + 3000000u;
	}
}

void rl_agent_close(struct rl_agent_sess *a)
{
	rl_phone_end(a);
	sodium_memzero(a->secret, sizeof(a->secret));
	if (a->offer)
		relais__offer__free_unpacked(a->offer, NULL);
	a->offer = NULL;
	rl_client_close(a->cl);
	a->cl = NULL;
}
