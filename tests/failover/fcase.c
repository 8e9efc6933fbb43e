#include "fcase.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fledger.h"
#include "rl_wire.h"
#include "rltest.h"

#define FC_SWITCH_WINDOW_MS 5000.0 /* the new calls a switch exposes: those of its first 5 s */

static const char *const fc_names[FC_NKINDS] = {"kill", "freeze", "cut", "drain", "partition"};

const char *fc_kind_name(enum fc_kind k)
{
	return k < FC_NKINDS ? fc_names[k] : "?";
}

/* fc_hit: the sites the fault hits, a bit each (the partition: every site). */
static unsigned fc_hit(const struct fc_plan *p)
{
	return p->kind == FC_PARTITION ? (1u << FC_SITES) - 1 : 1u << p->site;
}

/* fc_alone: the hit sites that go on serving their calls alone (a survivable site cut off
 * from the hub), a bit each. */
static unsigned fc_alone(const struct fc *f, const struct fc_plan *p)
{
	int s = fc_site_idx(f->o.survivable);

	if (s < 0 || (p->kind != FC_CUT && p->kind != FC_PARTITION))
		return 0;
	return fc_hit(p) & (1u << s);
}

static void fc_fault(struct fc *f, const struct fc_plan *p, int on)
{
	switch (p->kind) {
	case FC_KILL:
		if (on)
			fc_kill_node(f, p->site);
		else
			fc_start_node(f, p->site);
		break;
	case FC_FREEZE:
		fc_freeze_node(f, p->site, on);
		break;
	case FC_CUT:
		fc_cut_site(f, p->site, on);
		break;
	case FC_DRAIN:
		RL_CHECK(fc_drain(f, p->site, on, on ? "failover case: drain" : "failover case: undrain") == 0);
		break;
	default:
		fc_partition_hub(f, on);
		break;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* The hub's counts while the case runs */

struct fc_q {
	double offered, answered, abandoned, waiting;
	int live; /* contacts live at the sites */
	int ok;
	long day; /* the UTC day of the sample: the hub's KPIs are the day's, from midnight */
};

static struct fc_q fc_sample(struct fc *f)
{
	struct fc_q q = {0};
	cJSON *st = fc_status(f), *e;

	if (st == NULL)
		return q;
	q.offered = rlc_queue_num(st, FC_QUEUE, "offered");
	q.answered = rlc_queue_num(st, FC_QUEUE, "answered");
	q.abandoned = rlc_queue_num(st, FC_QUEUE, "abandoned");
	q.waiting = rlc_queue_num(st, FC_QUEUE, "waiting");
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(st, "sites"))
	{
		cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "contacts");
		q.live += cJSON_IsNumber(c) ? c->valueint : 0;
	}
	q.ok = q.offered >= 0 && q.answered >= 0 && q.abandoned >= 0 && q.waiting >= 0;
	q.day = (long)(fc_now_ms() / 86400000.0);
	cJSON_Delete(st);
	return q;
}

/* fc_check_sample: every contact offered in the case is answered, abandoned, failed or still
 * there - so answered + abandoned + waiting never exceeds offered. */
static void fc_check_sample(struct fc_result *r, const struct fc_q *q0, const struct fc_q *q)
{
	if (!q->ok)
		return;
	if (q->day != q0->day) {
		r->day_changed = 1; /* the counts restarted at midnight: no longer comparable */
		return;
	}
	r->samples++;
	if (q->offered - q0->offered < (q->answered - q0->answered) + (q->abandoned - q0->abandoned) + q->waiting) {
		if (!r->identity_breaks)
			printf("  hub sums broken: offered %.0f < answered %.0f + abandoned %.0f + waiting %.0f\n",
			       q->offered - q0->offered, q->answered - q0->answered, q->abandoned - q0->abandoned,
			       q->waiting);
		r->identity_breaks++;
	}
}

/* fc_watch samples the hub until the wall clock reaches until_ms. */
static void fc_watch(struct fc *f, const struct fc_q *q0, struct fc_result *r, double until_ms)
{
	while (fc_now_ms() < until_ms) {
		struct fc_q q = fc_sample(f);
		fc_check_sample(r, q0, &q);
		double left = until_ms - fc_now_ms();
		if (left > 0)
			rltest_sleep_ms(left > 700 ? 700 : (int)left);
	}
}

/* fc_quiet samples the hub into q: 1 once no contact is live and none waits. */
static int fc_quiet(struct fc *f, const struct fc_q *q0, struct fc_result *r, struct fc_q *q)
{
	*q = fc_sample(f);
	fc_check_sample(r, q0, q);
	return q->ok && q->live == 0 && q->waiting == 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Callers calling again */

static int fc_at(unsigned mask, int site)
{
	return site >= 0 && ((mask >> site) & 1);
}

/* fc_read_calls reads a sipp log's calls (and those of again, if it ran) with where the SBC
 * sent each. */
static void fc_read_calls(struct fc *f, struct fl_calls *calls, const struct fc_load *load, const struct fc_load *again)
{
	const char *ips[FC_SITES];

	for (int s = 0; s < FC_SITES; s++)
		ips[s] = f->net.m[f->site[s].member].ip;
	fl_calls_read(calls, load->log, 0);
	if (again != NULL && again->log[0])
		fl_calls_read(calls, again->log, 1);
	fl_sbc_read(calls, rlc_path(&f->c, "kamailio.log"), ips, FC_SITES);
}

/* fc_all_up: every site is up at the hub (a site that served alone has registered again). */
static int fc_all_up(struct fc *f)
{
	cJSON *st = fc_status(f), *e;
	int up = 0;

	if (st == NULL)
		return 0;
	/* ("up", not "connected": a link the partition held open is still connected) */
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(st, "sites"))
	{
		up +=
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "state"), "up"));
	}
	cJSON_Delete(st);
	return up == FC_SITES;
}

/* fc_redial: the callers who were waiting at a hit site when it was lost and have given up
 * call again, once the hub hears every site again (a site still serving alone could not give
 * them their place: only the hub knows it) and a site takes calls. Returns how many (their
 * sipp in l). */
static int fc_redial(struct fc *f, const struct fc_plan *p, struct fc_result *r, const struct fc_q *q0,
                     const struct fc_load *load, struct fc_load *l)
{
	struct fl_calls calls = {0};
	char csv[700], tag[64], name[16];
	int n = 0;
	FILE *out;

	if (p->kind == FC_DRAIN)
		return 0;
	/* Those waiting when it was lost have all given up (or been answered) by now. */
	fc_watch(f, q0, r, r->t_fault + p->patience_ms + 1000.0);
	RL_WAIT(20000, fc_all_up(f) && fc_sbc_any_active(f));
	fc_read_calls(f, &calls, load, NULL);
	snprintf(csv, sizeof(csv), "%s/redial-%s.csv", f->c.dir, r->name);
	RL_REQUIRE((out = fopen(csv, "w")) != NULL);
	fprintf(out, "SEQUENTIAL\n");
	for (int i = 0; i < calls.n; i++) {
		const struct fl_call *k = &calls.v[i];
		if (fc_at(fc_hit(p), k->site) && k->t_inv < r->t_fault && !fl_answered(k) &&
		    (k->t_giveup > 0 || k->t_end > 0)) {
			fprintf(out, "%s;\n", k->caller);
			n++;
		}
	}
	fclose(out);
	fl_calls_free(&calls);
	if (n > 0) {
		struct fc_calls k = {.tag = tag,
		                     .csv = csv,
		                     .name = name,
		                     .rate = p->rate < 20 ? p->rate : 20,
		                     .calls = n,
		                     .patience_ms = p->patience_ms,
		                     .bye_ms = p->bye_ms};
		snprintf(tag, sizeof(tag), "%s-redial", r->name);
		snprintf(name, sizeof(name), "c%02dr", p->num);
		fc_load_start(f, l, &k);
	}
	return n;
}

/* ------------------------------------------------------------------------------------------ */
/* The ledger */

/* fc_agent_site: the site of an agent by its id's letter (c01: casablanca), or -1. */
static int fc_agent_site(struct fc *f, const char *agent)
{
	for (int s = 0; s < FC_SITES; s++)
		if (agent[0] && agent[0] == f->site[s].id[0])
			return s;
	return -1;
}

/* fc_call_by_name: the carrier call whose display name the contact's caller_name is. */
static struct fl_call *fc_call_by_name(struct fl_calls *calls, const char *name)
{
	for (int i = 0; name[0] && i < calls->n; i++)
		if (strcmp(calls->v[i].name, name) == 0)
			return &calls->v[i];
	return NULL;
}

/* fc_join: each carrier call's contacts at the hub (joined by the call's display name, which
 * the node passes on as caller_name), those answered, and the site of the agent who
 * answered it. */
static void fc_join(struct fc *f, struct fl_calls *calls, const struct fl_contacts *ct)
{
	for (int i = 0; i < ct->n; i++) {
		struct fl_call *k = fc_call_by_name(calls, ct->v[i].name);
		if (k == NULL)
			continue;
		k->contacts++;
		if (ct->v[i].ans > 0) {
			k->hub_answered++;
			k->agent_site = fc_agent_site(f, ct->v[i].agent);
		}
	}
}

static void fc_add_code(char *codes, size_t len, int code)
{
	char key[16], *p;

	snprintf(key, sizeof(key), "%d x", code);
	if ((p = strstr(codes, key)) != NULL) {
		char rest[160];
		int n = atoi(p + strlen(key));
		char *e = p + strlen(key) + strspn(p + strlen(key), "0123456789");
		snprintf(rest, sizeof(rest), "%s", e);
		snprintf(p, len - (size_t)(p - codes), "%s%d%s", key, n + 1, rest);
	} else {
		snprintf(codes + strlen(codes), len - strlen(codes), "%s%d x1", codes[0] ? ", " : "", code);
	}
}

/* fc_call_of: what the carrier saw of a call, for a report. */
static const char *fc_call_of(const struct fl_call *c)
{
	static const char *const outs[] = {"no outcome", "completed", "cut", "late", "abandoned", "failed"};
	static char buf[96];

	if (c == NULL)
		snprintf(buf, sizeof(buf), "no carrier call of that name");
	else
		snprintf(buf, sizeof(buf), "the carrier's call %s %s (%d)", c->name, outs[c->out], c->code);
	return buf;
}

/* fc_carrier counts the calls by outcome; a call with none is named, with sipp's word on it. */
static void fc_carrier(struct fc_result *r, const struct fl_calls *calls, const struct fc_load *load,
                       const struct fc_load *again)
{
	for (int i = 0; i < calls->n; i++) {
		const struct fl_call *k = &calls->v[i];
		r->calls += !k->redial;
		r->redials += k->redial;
		r->carrier_answered += fl_answered(k);
		switch (k->out) {
		case FL_COMPLETED:
			r->completed++;
			r->hung_up_at_once += k->t_end - k->t_ans < 200.0;
			break;
		case FL_CUT:
			r->cut++;
			break;
		case FL_LATE:
			r->late++;
			break;
		case FL_ABANDONED:
			r->abandoned++;
			break;
		case FL_FAILED:
			r->failed++;
			fc_add_code(r->codes, sizeof(r->codes), k->code);
			break;
		default:
			if (!r->pending++) {
				char why[200];
				if (!fl_sipp_why(k->redial ? again->err : load->err, k->cid, why, sizeof(why)))
					snprintf(why, sizeof(why), "sipp's error file does not name it");
				snprintf(r->pending_what, sizeof(r->pending_what),
				         "%s (%s), sent %.1f s %s the fault: %s", k->name, k->cid,
				         fabs(k->t_inv - r->t_fault) / 1000.0,
				         k->t_inv < r->t_fault ? "before" : "after", why);
			}
			break;
		}
	}
}

/* fc_store: the hub's contacts of the case - each ended answered, abandoned or failed, or
 * still live - and those it acked that were lost though their site was not hit. */
static void fc_store(struct fc *f, const struct fc_plan *p, struct fc_result *r, const struct fl_contacts *ct)
{
	r->contacts = ct->n;
	for (int i = 0; i < ct->n; i++) {
		const struct fl_contact *k = &ct->v[i];
		int ended = k->state == RELAIS__CONTACT_STATE__CONTACT_ENDED;
		int failed = ended && k->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_FAILED;
		r->st_live += !ended;
		r->st_answered += k->ans > 0;
		r->st_abandoned += ended && k->ans == 0 && k->outcome == RELAIS__CONTACT_OUTCOME__OUTCOME_ABANDONED;
		r->st_failed += failed && k->ans == 0;
		/* Lost: left live, or failed where nothing failed (a re-presented contact's caller is
		 * back in its successor). */
		if (!ended ||
		    (failed && strcmp(k->reason, "re-presented") != 0 && !fc_at(fc_hit(p), fc_site_idx(k->site)) &&
		     !fc_at(fc_hit(p), fc_agent_site(f, k->agent)))) {
			if (!r->acked_lost++)
				snprintf(r->acked_lost_what, sizeof(r->acked_lost_what),
				         "%s caller %s at %s, agent %s: state %d outcome %d \"%s\"", k->id, k->caller,
				         k->site, k->agent[0] ? k->agent : "-", k->state, k->outcome, k->reason);
		}
	}
}

/* fc_unreached: contact k was answered while its caller's node was out of reach (frozen, cut
 * off) and before the hub noticed: by an agent of another site, or by one whose answer beat
 * the cut. The hub counts it answered when the agent accepts, with no word from the node that
 * the caller was put through, and the node never hears of it in time. A shortcoming of the
 * hub, known and not fixed here: counted apart, and reported. */
static int fc_unreached(const struct fc_plan *p, const struct fc_result *r, const struct fl_contact *k)
{
	return p->kind != FC_KILL && p->kind != FC_DRAIN && fc_at(fc_hit(p), fc_site_idx(k->site)) &&
	       r->detect_ms >= 0 && k->ans >= r->t_fault && k->ans <= r->t_fault + r->detect_ms;
}

/* fc_duplicates: carrier calls answered by more than one contact (duplicates), and contacts
 * answered at the hub whose carrier call was never answered - or that no carrier call
 * explains (phantoms: an agent "talked" to nobody). The contacts of fc_unreached whose caller
 * was answered by none, or by another contact, are counted apart (unreached), in neither. */
static void fc_duplicates(const struct fc_plan *p, struct fc_result *r, struct fl_calls *calls,
                          const struct fl_contacts *ct)
{
	for (int i = 0; i < ct->n; i++) {
		const struct fl_contact *k = &ct->v[i];
		struct fl_call *c = fc_call_by_name(calls, k->name);
		if (k->ans == 0)
			continue;
		if (fc_unreached(p, r, k) && (c == NULL || !fl_answered(c) || c->hub_answered > 1)) {
			r->unreached++;
			if (c != NULL)
				c->hub_answered--;
		} else if ((c == NULL || !fl_answered(c)) && !r->phantoms++) {
			snprintf(
			    r->phantom_what, sizeof(r->phantom_what),
			    "%s (caller %s at %s) answered by %s %.1f s after it was enqueued, %.1f s after the fault; %s",
			    k->id, k->caller, k->site, k->agent[0] ? k->agent : "-", (k->ans - k->enq) / 1000.0,
			    (k->ans - r->t_fault) / 1000.0, fc_call_of(c));
		}
	}
	for (int i = 0; i < calls->n; i++)
		r->duplicates += calls->v[i].hub_answered > 1 ? calls->v[i].hub_answered - 1 : 0;
}

/* fc_represent: callers calling again whose first contact the hub had lost with its site
 * (ended "site lost", or "re-presented"); contacts that took a lost caller's place, and
 * those that kept it. Names tell a first call ("c<num>l<n>") from a second ("c<num>r<n>"). */
static void fc_represent(struct fc_result *r, const struct fl_contacts *ct)
{
	for (int i = 0; i < ct->n; i++) {
		const struct fl_contact *k = &ct->v[i], *old;
		if (strlen(k->name) > 3 && k->name[3] == 'r')
			for (int j = 0; j < ct->n; j++)
				r->represent_expected += j != i && strcmp(ct->v[j].caller, k->caller) == 0 &&
				                         strlen(ct->v[j].name) > 3 && ct->v[j].name[3] == 'l' &&
				                         (strcmp(ct->v[j].reason, "site lost") == 0 ||
				                          strcmp(ct->v[j].reason, "re-presented") == 0);
		if (!k->from[0])
			continue;
		r->represented++;
		old = fl_contact_by_id(ct, k->from);
		r->represented_kept += old != NULL && old->enq == k->enq;
	}
}

/* fc_switch: the new calls the loss exposed. Disturbed: sent to a hit site that does not
 * serve alone, refused for want of a site, or not answered. The switch is over with the last
 * disturbed call placed before the heal (a partition with no survivable site has no site to
 * switch to). */
static void fc_switch(struct fc *f, const struct fc_plan *p, struct fc_result *r, const struct fl_calls *calls)
{
	unsigned gone = fc_hit(p) & ~fc_alone(f, p);
	double last = -1;

	for (int i = 0; i < calls->n; i++) {
		const struct fl_call *k = &calls->v[i];
		int bad = !fl_answered(k) || (k->tried & gone) || k->nosite;
		if (k->redial || k->t_inv < r->t_fault || k->t_inv >= r->t_heal)
			continue;
		r->fault_calls++;
		r->fault_failed += !fl_answered(k);
		if (k->t_inv < r->t_fault + FC_SWITCH_WINDOW_MS) {
			r->switch_calls++;
			r->switch_failed += !fl_answered(k);
		}
		if (bad && k->t_inv > last)
			last = k->t_inv;
	}
	r->switch_ms = gone == (1u << FC_SITES) - 1 ? -1 : last < 0 ? 0 : last - r->t_fault;
}

/* fc_served_alone: the new calls given to a site serving alone while the fault lasted, and
 * those answered. */
static void fc_served_alone(struct fc *f, const struct fc_plan *p, struct fc_result *r, const struct fl_calls *calls)
{
	r->alone_calls = r->alone_answered = 0;
	for (int i = 0; i < calls->n; i++) {
		const struct fl_call *k = &calls->v[i];
		if (k->redial || k->t_inv < r->t_fault || k->t_inv >= r->t_heal || !fc_at(fc_alone(f, p), k->site))
			continue;
		r->alone_calls++;
		r->alone_answered += fl_answered(k);
	}
}

/* fc_elsewhere: calls that never touched a hit site (neither their carrier leg nor their
 * agent) and were lost all the same: cut, failed, ended by sipp, or abandoned (with agents
 * to spare, nobody waits out their patience: a caller who does was forgotten). */
static void fc_elsewhere(const struct fc_plan *p, struct fc_result *r, const struct fl_calls *calls)
{
	for (int i = 0; i < calls->n; i++) {
		const struct fl_call *k = &calls->v[i];
		if (k->site < 0 || k->nosite || (k->tried & fc_hit(p)) || fc_at(fc_hit(p), k->agent_site))
			continue;
		r->lost_elsewhere +=
		    k->out == FL_CUT || k->out == FL_FAILED || k->out == FL_PENDING || k->out == FL_ABANDONED;
		r->abandoned_elsewhere += k->out == FL_ABANDONED;
		if (k->out != FL_COMPLETED && k->out != FL_LATE && !r->lost_what[0])
			snprintf(r->lost_what, sizeof(r->lost_what), "%s at %s, %s", k->name, fc_site_id(k->site),
			         fc_call_of(k));
	}
}

/* fc_drained: callers waiting at the drained site when it was drained, and those of them who
 * were never answered. */
static void fc_drained(const struct fc_plan *p, struct fc_result *r, const struct fl_calls *calls)
{
	for (int i = 0; i < calls->n && p->kind == FC_DRAIN; i++) {
		const struct fl_call *k = &calls->v[i];
		if (k->site != p->site || k->t_inv >= r->t_fault || (fl_answered(k) && k->t_ans < r->t_fault))
			continue;
		r->drained_waiting++;
		r->drained_lost += !fl_answered(k);
	}
}

/* fc_recover: from the heal to the first call answered at a hit site. */
static double fc_recover(const struct fc_plan *p, const struct fc_result *r, const struct fl_calls *calls)
{
	double first = -1;

	for (int i = 0; i < calls->n; i++) {
		const struct fl_call *k = &calls->v[i];
		if (fc_at(fc_hit(p), k->site) && fl_answered(k) && k->t_inv >= r->t_heal &&
		    (first < 0 || k->t_ans < first))
			first = k->t_ans;
	}
	return first < 0 ? -1 : first - r->t_heal;
}

/* fc_since: ms from t0 to when the log of the slowest of the sites in mask shows needle: its
 * hub's, its node's or the SBC's (where: "hub", "node", "sbc"; needle's "%s" is the site's
 * id); -1 if one never does, or mask is empty. */
static double fc_since(struct fc *f, unsigned mask, const char *where, const char *needle, double t0)
{
	double worst = -1;

	for (int s = 0; s < FC_SITES; s++) {
		char what[128], log[64];
		double t;
		if (!fc_at(mask, s))
			continue;
		snprintf(what, sizeof(what), needle, f->site[s].id);
		if (strcmp(where, "sbc") == 0) {
			t = fl_sbc_time(rlc_path(&f->c, "kamailio.log"), "down", f->site[s].sip_uri, t0);
		} else {
			snprintf(log, sizeof(log), strcmp(where, "hub") == 0 ? "hub.log" : "node-%s.log",
			         f->site[s].id);
			t = rltest_log_time(rlc_path(&f->c, log), what, t0);
		}
		if (t < 0)
			return -1;
		if (t - t0 > worst)
			worst = t - t0;
	}
	return worst;
}

static void fc_figures(struct fc *f, const struct fc_plan *p, struct fc_result *r)
{
	unsigned hit = fc_hit(p);

	if (p->kind == FC_DRAIN)
		r->detect_ms = fc_since(f, hit, "node", "site refuses new calls site=%s percent=100", r->t_fault);
	else
		r->detect_ms = fc_since(f, hit, "hub", "site lost site=%s ", r->t_fault);
	r->node_detect_ms = p->kind == FC_CUT || p->kind == FC_PARTITION
	                        ? fc_since(f, hit, "node", "hub lost site=%s ", r->t_fault)
	                        : -1;
	/* (a site serving alone stays up at the SBC) */
	r->sbc_detect_ms = fc_since(f, hit & ~fc_alone(f, p), "sbc", "%s", r->t_fault);
}

static void fc_ledger(struct fc *f, const struct fc_plan *p, struct fc_result *r, const struct fc_q *q0,
                      const struct fc_q *q, const struct fc_load *load, const struct fc_load *redial,
                      const char *prefix)
{
	struct fl_calls calls = {0};
	struct fl_contacts ct = {0};
	char what[160];

	fc_read_calls(f, &calls, load, redial);
	RL_CHECK(fl_store_read(&ct, rlc_path(&f->c, "hubdata"), prefix) == 0);
	fc_join(f, &calls, &ct);
	fc_carrier(r, &calls, load, redial);
	fc_figures(f, p, r);
	r->offered = r->day_changed ? -1 : (long)(q->offered - q0->offered);
	r->answered = r->day_changed ? -1 : (long)(q->answered - q0->answered);
	r->abandoned_hub = r->day_changed ? -1 : (long)(q->abandoned - q0->abandoned);
	r->waiting_end = (long)q->waiting;
	r->live_end = q->live;
	fc_store(f, p, r, &ct);
	r->overlaps = fl_store_overlaps(&ct, r->t_heal, &r->late_ends, what, sizeof(what));
	if (r->overlaps && !r->double_what[0])
		snprintf(r->double_what, sizeof(r->double_what), "%s", what);
	fc_duplicates(p, r, &calls, &ct);
	fc_represent(r, &ct);
	fc_switch(f, p, r, &calls);
	fc_served_alone(f, p, r, &calls);
	fc_elsewhere(p, r, &calls);
	fc_drained(p, r, &calls);
	r->recover_ms = fc_recover(p, r, &calls);
	fl_contacts_free(&ct);
	fl_calls_free(&calls);
}

/* fc_double_holds: double holds in every site's agents' log so far (what: the first). */
static int fc_double_holds(struct fc *f, char *what, size_t len)
{
	int n = 0;

	what[0] = 0;
	for (int s = 0; s < FC_SITES; s++) {
		char log[64], w[160];
		snprintf(log, sizeof(log), "agents-%s.log", f->site[s].id);
		n += fl_double_holds(rlc_path(&f->c, log), w, sizeof(w));
		if (!what[0] && w[0])
			snprintf(what, len, "%s", w);
	}
	return n;
}

int fc_case_run(struct fc *f, const struct fc_plan *p, struct fc_result *r)
{
	struct fc_load load, redial;
	struct fc_q q0, q;
	char prefix[24], name[16], what[160];
	int calls = (int)(p->rate * (p->warm_s + p->fault_s + p->after_s) + 0.5);
	int holds0 = fc_double_holds(f, what, sizeof(what));

	memset(r, 0, sizeof(*r));
	memset(&redial, 0, sizeof(redial));
	snprintf(r->name, sizeof(r->name), "%s%s%s", fc_kind_name(p->kind), p->kind == FC_PARTITION ? "" : "-",
	         p->kind == FC_PARTITION ? "" : f->site[p->site].id);
	if (!fc_wait_healthy(f, 90))
		return -1;
	q0 = fc_sample(f);
	snprintf(prefix, sizeof(prefix), "+21266%02d0", p->num);
	printf("%s: %d calls at %.0f/s; the fault after %d s, for %d s\n", r->name, calls, p->rate, p->warm_s,
	       p->fault_s);
	snprintf(name, sizeof(name), "c%02dl", p->num);
	struct fc_calls k = {.tag = r->name,
	                     .caller = prefix,
	                     .name = name,
	                     .rate = p->rate,
	                     .calls = calls,
	                     .patience_ms = p->patience_ms,
	                     .bye_ms = p->bye_ms};
	fc_load_start(f, &load, &k);
	fc_watch(f, &q0, r, load.t0 + p->warm_s * 1000.0);
	r->t_fault = fc_now_ms();
	fc_fault(f, p, 1);
	fc_watch(f, &q0, r, r->t_fault + p->fault_s * 1000.0);
	r->t_heal = fc_now_ms();
	fc_fault(f, p, 0);
	r->redialled = fc_redial(f, p, r, &q0, &load, &redial);
	fc_watch(f, &q0, r, r->t_heal + p->after_s * 1000.0);
	RL_CHECK(fc_load_wait(f, &load, (p->patience_ms + p->bye_ms) / 1000 + 60) >= 0);
	if (redial.pid > 0)
		RL_CHECK(fc_load_wait(f, &redial, (p->patience_ms + p->bye_ms) / 1000 + 60) >= 0);
	RL_WAIT(60000, fc_quiet(f, &q0, r, &q));
	fc_ledger(f, p, r, &q0, &q, &load, &redial, prefix);
	r->double_holds = fc_double_holds(f, what, sizeof(what)) - holds0;
	if (r->double_holds > 0)
		snprintf(r->double_what, sizeof(r->double_what), "%s", what);
	return 0;
}

static void fc_ms(FILE *out, const char *label, double ms)
{
	if (ms < 0)
		fprintf(out, "  %s -", label);
	else
		fprintf(out, "  %s %.1f s", label, ms / 1000.0);
}

void fc_result_print(const struct fc_result *r, FILE *out)
{
	fprintf(out, "%s\n", r->name);
	fprintf(out,
	        "  carrier: %d calls + %d again: completed %d, cut %d, late %d, abandoned %d, failed %d%s%s%s, "
	        "no outcome %d%s%s\n",
	        r->calls, r->redials, r->completed, r->cut, r->late, r->abandoned, r->failed, r->codes[0] ? " (" : "",
	        r->codes, r->codes[0] ? ")" : "", r->pending, r->pending ? ": " : "", r->pending_what);
	fprintf(out,
	        "  hub: offered %ld = answered %ld + abandoned %ld + failed %d + waiting %ld (store: %d contacts, "
	        "%d answered, %d abandoned, %d failed, %d live); %d samples, %d broken%s\n",
	        r->offered, r->answered, r->abandoned_hub, r->st_failed, r->waiting_end, r->contacts, r->st_answered,
	        r->st_abandoned, r->st_failed, r->st_live, r->samples, r->identity_breaks,
	        r->day_changed ? " (the day changed: the status's counts restarted at midnight, -1: not compared)"
	                       : "");
	fprintf(out,
	        "  answered: hub %d, carrier %d; duplicates %d; phantoms %d%s%s; answered while unreached %d; "
	        "hung up at once %d\n",
	        r->st_answered, r->carrier_answered, r->duplicates, r->phantoms, r->phantoms ? ": " : "",
	        r->phantom_what, r->unreached, r->hung_up_at_once);
	fprintf(out, "  acked and lost %d%s%s\n", r->acked_lost, r->acked_lost ? ": " : "", r->acked_lost_what);
	fprintf(out, "  agents holding two calls: %d (logs), %d (store)%s%s\n", r->double_holds, r->overlaps,
	        r->double_what[0] ? ": " : "", r->double_what);
	if (r->late_ends > 0)
		fprintf(out, "  hub calls left by an agent serving alone, ended at the hub only after the heal: %d\n",
		        r->late_ends);
	fc_ms(out, "detect: hub", r->detect_ms);
	fc_ms(out, "node", r->node_detect_ms);
	fc_ms(out, "SBC", r->sbc_detect_ms);
	fc_ms(out, "switch", r->switch_ms);
	fc_ms(out, "back after heal", r->recover_ms);
	fprintf(out,
	        "\n  new calls failed: %d of %d in the first 5 s, %d of %d during the fault; lost elsewhere %d "
	        "(abandoned %d)%s%s\n",
	        r->switch_failed, r->switch_calls, r->fault_failed, r->fault_calls, r->lost_elsewhere,
	        r->abandoned_elsewhere, r->lost_what[0] ? ": " : "", r->lost_what);
	fprintf(
	    out,
	    "  waiting at the drained site %d, lost %d; called again %d (lost by the hub %d), re-presented %d, kept "
	    "their place %d\n",
	    r->drained_waiting, r->drained_lost, r->redialled, r->represent_expected, r->represented,
	    r->represented_kept);
	if (r->alone_calls > 0)
		fprintf(out, "  new calls given to the site serving alone %d, answered %d\n", r->alone_calls,
		        r->alone_answered);
}
