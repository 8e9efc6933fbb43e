#include "fledger.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rl_err.h"
#include "rl_file.h"
#include "rl_wire.h"

/* fl_field copies the value of " key=" in line (up to a space) into out; 1 if found. */
static int fl_field(const char *line, const char *key, char *out, size_t len)
{
	char k[40];
	const char *p;
	size_t n;

	snprintf(k, sizeof(k), " %s=", key);
	if ((p = strstr(line, k)) == NULL)
		return 0;
	p += strlen(k);
	n = strcspn(p, " \n");
	snprintf(out, len, "%.*s", (int)n, p);
	return 1;
}

static double fl_num(const char *line, const char *key)
{
	char v[64];

	return fl_field(line, key, v, sizeof(v)) ? strtod(v, NULL) : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The carrier's calls */

static struct fl_call *fl_call_get(struct fl_calls *c, int first, int n)
{
	for (int i = c->n; i-- > first;)
		if (c->v[i].n == n)
			return &c->v[i];
	return NULL;
}

int fl_calls_read(struct fl_calls *c, const char *log, int redial)
{
	FILE *f = fopen(log, "r");
	char line[512], ev[16], out[16];
	int first = c->n;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		struct fl_call *k;
		double t;
		int n;
		if (sscanf(line, "ev=%15s call=%d", ev, &n) != 2)
			continue;
		t = fl_num(line, "s") * 1000.0 + fl_num(line, "u") / 1000.0;
		if (strcmp(ev, "inv") == 0) {
			c->v = realloc(c->v, (size_t)(c->n + 1) * sizeof(*c->v));
			k = &c->v[c->n++];
			memset(k, 0, sizeof(*k));
			k->n = n;
			k->t_inv = t;
			k->site = k->agent_site = -1;
			k->redial = redial;
			fl_field(line, "cid", k->cid, sizeof(k->cid));
			fl_field(line, "caller", k->caller, sizeof(k->caller));
			fl_field(line, "name", k->name, sizeof(k->name));
		} else if ((k = fl_call_get(c, first, n)) == NULL) {
			continue;
		} else if (strcmp(ev, "ans") == 0) {
			k->t_ans = t;
		} else if (strcmp(ev, "giveup") == 0) {
			k->t_giveup = t;
		} else if (strcmp(ev, "end") == 0 && fl_field(line, "out", out, sizeof(out))) {
			static const char *const names[] = {"pending", "completed", "cut",
			                                    "late",    "abandoned", "failed"};
			for (int o = 0; o < 6; o++)
				if (strcmp(out, names[o]) == 0)
					k->out = (enum fl_out)o;
			k->code = (int)fl_num(line, "code");
			k->t_end = t;
		}
	}
	fclose(f);
	return c->n - first;
}

void fl_calls_free(struct fl_calls *c)
{
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

int fl_answered(const struct fl_call *k)
{
	return k->t_ans > 0;
}

int fl_sipp_why(const char *errlog, const char *cid, char *out, size_t len)
{
	char *text, *at, *start;
	size_t n, o = 0;

	out[0] = 0;
	if (cid[0] == 0 || rl_file_read(errlog, 64u << 20, &text, &n) != RL_OK)
		return 0;
	if ((at = strstr(text, cid)) == NULL) {
		free(text);
		return 0;
	}
	/* An entry is "<date>\t<time>\t<epoch>: <what>", entries not always a line each: start
	 * after the nearest ": " that follows a digit. */
	for (start = at; start > text + 1 && !(start[-1] == ' ' && start[-2] == ':' && start - 2 > text &&
	                                       start[-3] >= '0' && start[-3] <= '9');
	     start--)
		;
	for (const char *p = start; *p && o + 1 < len; p++)
		out[o++] = (*p == '\r' || *p == '\n' || *p == '\t') ? ' ' : *p;
	out[o] = 0;
	free(text);
	return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* The SBC */

/* fl_site_of: the site whose address is in text (as "@IP:" or "sip:IP:"), or -1. */
static int fl_site_of(const char *text, const char *const site_ip[], int nsites)
{
	for (int s = 0; s < nsites; s++) {
		char a[40], b[40];
		snprintf(a, sizeof(a), "@%s:", site_ip[s]);
		snprintf(b, sizeof(b), "sip:%s:", site_ip[s]);
		if (strstr(text, a) != NULL || strstr(text, b) != NULL)
			return s;
	}
	return -1;
}

/* A Call-ID index over the calls, for the SBC's lines. */
struct fl_index {
	int *slot;
	size_t cap;
};

static size_t fl_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void fl_index_build(struct fl_index *x, const struct fl_calls *c)
{
	x->cap = 16;
	while (x->cap < (size_t)c->n * 2 + 1)
		x->cap *= 2;
	x->slot = malloc(x->cap * sizeof(*x->slot));
	for (size_t i = 0; i < x->cap; i++)
		x->slot[i] = -1;
	for (int i = 0; i < c->n; i++) {
		size_t h = fl_hash(c->v[i].cid) & (x->cap - 1);
		while (x->slot[h] >= 0)
			h = (h + 1) & (x->cap - 1);
		x->slot[h] = i;
	}
}

static struct fl_call *fl_index_get(const struct fl_index *x, struct fl_calls *c, const char *cid)
{
	for (size_t h = fl_hash(cid) & (x->cap - 1); x->slot[h] >= 0; h = (h + 1) & (x->cap - 1))
		if (strcmp(c->v[x->slot[h]].cid, cid) == 0)
			return &c->v[x->slot[h]];
	return NULL;
}

void fl_sbc_read(struct fl_calls *c, const char *kamlog, const char *const site_ip[], int nsites)
{
	FILE *f = fopen(kamlog, "r");
	char line[1024], cid[96];
	struct fl_index x;

	if (f == NULL)
		return;
	fl_index_build(&x, c);
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, "sbc t=");
		struct fl_call *k;
		int s;
		if (p == NULL || !fl_field(p, "call_id", cid, sizeof(cid)) || (k = fl_index_get(&x, c, cid)) == NULL)
			continue;
		if (strstr(p, " route ") != NULL && (s = fl_site_of(p, site_ip, nsites)) >= 0) {
			k->site = s;
			k->tried |= 1u << s;
		} else if (strstr(p, " nosite ") != NULL) {
			k->nosite = 1;
		}
	}
	free(x.slot);
	fclose(f);
}

double fl_sbc_time(const char *kamlog, const char *what, const char *uri, double after_ms)
{
	FILE *f = fopen(kamlog, "r");
	char line[1024], needle[120];
	double t = -1;

	if (f == NULL)
		return -1;
	snprintf(needle, sizeof(needle), " %s uri=%s", what, uri);
	while (t < 0 && fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, "sbc t=");
		double at;
		if (p == NULL || strstr(p, needle) == NULL)
			continue;
		at = strtod(p + 6, NULL) * 1000.0;
		if (at >= after_ms)
			t = at;
	}
	fclose(f);
	return t;
}

/* ------------------------------------------------------------------------------------------ */
/* The hub's store */

static const char *fl_pop(const Relais__ContactRecord *r, const char *key)
{
	for (size_t i = 0; r->pop != NULL && i < r->pop->n_data; i++)
		if (r->pop->data[i]->key && strcmp(r->pop->data[i]->key, key) == 0)
			return r->pop->data[i]->value;
	return NULL;
}

static void fl_contact_take(struct fl_contact *k, const Relais__ContactRecord *r)
{
	const char *from = fl_pop(r, "represented_from"), *name = fl_pop(r, "caller_name");

	memset(k, 0, sizeof(*k));
	snprintf(k->id, sizeof(k->id), "%s", r->contact_id);
	snprintf(k->caller, sizeof(k->caller), "%s", r->pop->caller);
	snprintf(k->name, sizeof(k->name), "%s", name ? name : "");
	snprintf(k->site, sizeof(k->site), "%s", r->site_id ? r->site_id : "");
	snprintf(k->agent, sizeof(k->agent), "%s", r->agent_id ? r->agent_id : "");
	snprintf(k->reason, sizeof(k->reason), "%s", r->end_reason ? r->end_reason : "");
	snprintf(k->from, sizeof(k->from), "%s", from ? from : "");
	k->state = r->state;
	k->outcome = r->outcome;
	k->suspended = r->suspended;
	k->enq = (double)r->enqueued_us / 1000.0;
	k->ans = (double)r->answered_us / 1000.0;
	k->end = (double)r->ended_us / 1000.0;
}

int fl_store_read(struct fl_contacts *c, const char *dir, const char *prefix)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_dbi dbi;
	MDB_val k, v;
	int rv = -1;

	c->v = NULL;
	c->n = 0;
	if (mdb_env_create(&env) != 0)
		return -1;
	mdb_env_set_maxdbs(env, 32);
	if (mdb_env_open(env, dir, MDB_RDONLY, 0600) != 0 || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0 ||
	    mdb_dbi_open(txn, "contacts", 0, &dbi) != 0 || mdb_cursor_open(txn, dbi, &cur) != 0)
		goto out;
	while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
		Relais__ContactRecord *r = relais__contact_record__unpack(NULL, v.mv_size, v.mv_data);
		if (r == NULL)
			goto out;
		if (r->pop != NULL && r->pop->caller != NULL && strncmp(r->pop->caller, prefix, strlen(prefix)) == 0) {
			c->v = realloc(c->v, (size_t)(c->n + 1) * sizeof(*c->v));
			fl_contact_take(&c->v[c->n++], r);
		}
		relais__contact_record__free_unpacked(r, NULL);
	}
	rv = 0;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return rv;
}

void fl_contacts_free(struct fl_contacts *c)
{
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

const struct fl_contact *fl_contact_by_id(const struct fl_contacts *c, const char *id)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->v[i].id, id) == 0)
			return &c->v[i];
	return NULL;
}

static int fl_by_agent_then_answer(const void *a, const void *b)
{
	const struct fl_contact *x = *(const struct fl_contact *const *)a, *y = *(const struct fl_contact *const *)b;
	int d = strcmp(x->agent, y->agent);

	return d ? d : (x->ans > y->ans) - (x->ans < y->ans);
}

int fl_store_overlaps(const struct fl_contacts *c, double heal_ms, int *late, char *what, size_t len)
{
	const struct fl_contact **v = calloc((size_t)c->n + 1, sizeof(*v));
	int n = 0, bad = 0;

	what[0] = 0;
	*late = 0;
	for (int i = 0; i < c->n; i++)
		if (c->v[i].ans > 0 && c->v[i].agent[0])
			v[n++] = &c->v[i];
	qsort(v, (size_t)n, sizeof(*v), fl_by_agent_then_answer);
	for (int i = 1; i < n; i++) {
		const struct fl_contact *a = v[i - 1], *b = v[i];
		/* a still live (no end) or ended after b was answered: the agent held both */
		if (strcmp(a->agent, b->agent) != 0 || (a->end != 0 && a->end <= b->ans))
			continue;
		if (a->end >= heal_ms && strstr(a->id, ".L") == NULL && strstr(b->id, ".L") != NULL)
			(*late)++;
		else if (!bad++)
			snprintf(what, len, "agent %s answered %s while on %s", b->agent, b->id, a->id);
	}
	free(v);
	return bad;
}

/* ------------------------------------------------------------------------------------------ */
/* The agents' logs */

struct fl_agent {
	char id[24];
	char state[24];
	char contact[40];
};

static struct fl_agent *fl_agent_get(struct fl_agent **v, int *n, const char *id)
{
	for (int i = 0; i < *n; i++)
		if (strcmp((*v)[i].id, id) == 0)
			return &(*v)[i];
	*v = realloc(*v, (size_t)(*n + 1) * sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	snprintf((*v)[*n].id, sizeof((*v)[*n].id), "%s", id);
	return &(*v)[(*n)++];
}

int fl_double_holds(const char *agent_log, char *what, size_t len)
{
	FILE *f = fopen(agent_log, "r");
	struct fl_agent *v = NULL, *a;
	char line[1024], id[24], ev[24], st[24], cid[40];
	int n = 0, bad = 0;

	what[0] = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "agent=%23s event=%23s", id, ev) != 2)
			continue;
		a = fl_agent_get(&v, &n, id);
		if (strcmp(ev, "login") == 0 || strcmp(ev, "logged-out") == 0 || strcmp(ev, "session-expired") == 0) {
			/* A new session: what the agent holds comes with its next state. */
			snprintf(a->state, sizeof(a->state), "-");
			continue;
		}
		if (!fl_field(line, "contact", cid, sizeof(cid)))
			continue;
		int on_call = strcmp(a->state, "BUSY") == 0 && strcmp(a->contact, cid) != 0;
		if (strcmp(ev, "hangup") == 0 && strcmp(a->contact, cid) == 0) {
			/* It left the call, whether or not the answer came (lost at a handover, say). */
			snprintf(a->state, sizeof(a->state), "-");
		} else if (strcmp(ev, "offer") == 0 && on_call) {
			if (!bad++)
				snprintf(what, len, "agent %s offered %s while on %s", id, cid, a->contact);
		} else if (strcmp(ev, "state") == 0 && fl_field(line, "state", st, sizeof(st))) {
			if ((strcmp(st, "RESERVED") == 0 || strcmp(st, "BUSY") == 0) && on_call && !bad++)
				snprintf(what, len, "agent %s %s with %s while on %s", id, st, cid, a->contact);
			snprintf(a->state, sizeof(a->state), "%s", st);
			snprintf(a->contact, sizeof(a->contact), "%s", cid);
		}
	}
	fclose(f);
	free(v);
	return bad;
}
