#include "rl_dialplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_config.h"
#include "rl_err.h"

/* ---------------------------------------------------------------------------------------- */
/* from a config file */

struct did_entry {
	char did[RL_CFG_STRLEN], tenant[RL_CFG_STRLEN], queue[RL_CFG_STRLEN], menu[RL_CFG_STRLEN];
	int priority, early_media;
};

static const struct rl_cfg_opt did_opts[] = {
    {"did", RL_CFG_STR, 0, 64, NULL, offsetof(struct did_entry, did), "dialled number, \"*\" = any other"},
    {"tenant", RL_CFG_STR, 0, 64, NULL, offsetof(struct did_entry, tenant), "tenant id"},
    {"queue", RL_CFG_STR, 0, 64, "", offsetof(struct did_entry, queue), "queue (without a menu)"},
    {"menu", RL_CFG_STR, 0, 64, "", offsetof(struct did_entry, menu), "IVR menu id"},
    {"priority", RL_CFG_INT, 0, 9, "0", offsetof(struct did_entry, priority), "contact priority"},
    {"early_media", RL_CFG_BOOL, 0, 1, "false", offsetof(struct did_entry, early_media),
     "without a menu: 183 with our audio (music, announcements) until an agent answers"},
    {NULL, 0, 0, 0, NULL, 0, NULL},
};

struct menu_entry {
	char id[RL_CFG_STRLEN], prompt[RL_CFG_STRLEN], invalid[RL_CFG_STRLEN], default_queue[RL_CFG_STRLEN];
	int timeout_s, tries, default_priority;
};

static const struct rl_cfg_opt menu_opts[] = {
    {"id", RL_CFG_STR, 0, 64, NULL, offsetof(struct menu_entry, id), "menu id"},
    {"prompt", RL_CFG_STR, 0, 500, NULL, offsetof(struct menu_entry, prompt), "WAV played when the menu starts"},
    {"invalid", RL_CFG_STR, 0, 500, "", offsetof(struct menu_entry, invalid), "WAV after a timeout or wrong key"},
    {"timeout_s", RL_CFG_INT, 1, 120, "5", offsetof(struct menu_entry, timeout_s), "wait for a key after the prompt"},
    {"tries", RL_CFG_INT, 1, 10, "3", offsetof(struct menu_entry, tries), "failures before the default"},
    {"default_queue", RL_CFG_STR, 0, 64, "", offsetof(struct menu_entry, default_queue), "after `tries` failures"},
    {"default_priority", RL_CFG_INT, 0, 9, "0", offsetof(struct menu_entry, default_priority), "its priority"},
    {"options", RL_CFG_LIST, 0, 0, NULL, 0, "choices"},
    {NULL, 0, 0, 0, NULL, 0, NULL},
};

struct option_entry {
	char digit[RL_CFG_STRLEN], queue[RL_CFG_STRLEN], menu[RL_CFG_STRLEN], key[RL_CFG_STRLEN], value[RL_CFG_STRLEN];
	int priority;
};

static const struct rl_cfg_opt option_opts[] = {
    {"digit", RL_CFG_STR, 0, 1, NULL, offsetof(struct option_entry, digit), "0-9, * or #"},
    {"queue", RL_CFG_STR, 0, 64, "", offsetof(struct option_entry, queue), "go to this queue"},
    {"menu", RL_CFG_STR, 0, 64, "", offsetof(struct option_entry, menu), "or to this menu"},
    {"priority", RL_CFG_INT, 0, 9, "0", offsetof(struct option_entry, priority), "contact priority"},
    {"key", RL_CFG_STR, 0, 64, "", offsetof(struct option_entry, key), "screen-pop answer: key"},
    {"value", RL_CFG_STR, 0, 64, "", offsetof(struct option_entry, value), "screen-pop answer: value"},
    {NULL, 0, 0, 0, NULL, 0, NULL},
};

static struct rl_dialplan *rl_dialplan_new(int ndids, int nmenus, const char *origin)
{
	struct rl_dialplan *p = rl_calloc(1, sizeof(*p));

	p->refs = 1;
	p->origin = origin;
	p->dids = rl_calloc((size_t)ndids + 1, sizeof(*p->dids));
	p->menus.menu = rl_calloc((size_t)nmenus + 1, sizeof(*p->menus.menu));
	return p;
}

/* The text fields are bounded by the tables (64, 500), within their buffers. */
#define COPY(dst, src) snprintf((dst), sizeof(dst), "%.*s", (int)sizeof(dst) - 1, (src))

static int rl_dp_options(struct rl_ivr_menu *m, const config_setting_t *ol, char *err, size_t errlen)
{
	for (int k = 0; ol && k < config_setting_length(ol); k++) {
		struct option_entry oe;
		struct rl_ivr_option *o;
		if (m->nopt == RL_IVR_MAX_OPTIONS) {
			snprintf(err, errlen, "menus: %s has more than %d options", m->id, RL_IVR_MAX_OPTIONS);
			return RL_ECONFIG;
		}
		if (rl_cfg_apply(config_setting_get_elem(ol, (unsigned)k), option_opts, &oe, err, errlen) != RL_OK)
			return RL_ECONFIG;
		o = &m->opt[m->nopt++];
		o->digit = oe.digit[0];
		COPY(o->queue, oe.queue);
		COPY(o->menu, oe.menu);
		COPY(o->key, oe.key);
		COPY(o->value, oe.value);
		o->priority = (uint32_t)oe.priority;
	}
	return RL_OK;
}

static int rl_dp_menu(struct rl_ivr_menu *m, const config_setting_t *me, char *err, size_t errlen)
{
	struct menu_entry mm;

	if (rl_cfg_apply(me, menu_opts, &mm, err, errlen) != RL_OK)
		return RL_ECONFIG;
	COPY(m->id, mm.id);
	COPY(m->prompt, mm.prompt);
	COPY(m->invalid, mm.invalid);
	COPY(m->default_queue, mm.default_queue);
	m->timeout_ms = (uint32_t)mm.timeout_s * 1000u;
	m->tries = (uint32_t)mm.tries;
	m->default_priority = (uint32_t)mm.default_priority;
	return rl_dp_options(m, config_setting_get_member(me, "options"), err, errlen);
}

static int rl_dp_did(struct rl_dial_did *d, const config_setting_t *s, char *err, size_t errlen)
{
	struct did_entry de;

	if (rl_cfg_apply(s, did_opts, &de, err, errlen) != RL_OK)
		return RL_ECONFIG;
	COPY(d->did, de.did);
	COPY(d->tenant, de.tenant);
	COPY(d->queue, de.queue);
	COPY(d->menu, de.menu);
	d->priority = (uint32_t)de.priority;
	d->early_media = de.early_media;
	return RL_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* one check for both ways in */

static int rl_dp_name_ok(const char *name)
{
	return name[0] != '.' && strchr(name, '/') == NULL;
}

static int rl_dp_menu_ok(const struct rl_dialplan *p, const struct rl_ivr_menu *m, int prompts, char *err,
                         size_t errlen)
{
	if (!m->id[0] || !m->prompt[0]) {
		snprintf(err, errlen, "menus: each menu needs an id and a prompt");
		return 0;
	}
	if (prompts == RL_DIALPLAN_NAMES && (!rl_dp_name_ok(m->prompt) || !rl_dp_name_ok(m->invalid))) {
		snprintf(err, errlen, "menus: %s: prompts are file names in the nodes' prompt_dir, no directory",
		         m->id);
		return 0;
	}
	if (m->nopt > RL_IVR_MAX_OPTIONS) {
		snprintf(err, errlen, "menus: %s has more than %d options", m->id, RL_IVR_MAX_OPTIONS);
		return 0;
	}
	for (int k = 0; k < m->nopt; k++) {
		const struct rl_ivr_option *o = &m->opt[k];
		if (o->digit == 0 || !strchr("0123456789*#", o->digit) || (!o->queue[0] && !o->menu[0])) {
			snprintf(err, errlen, "menus: %s: each option needs a digit (0-9, *, #) and a queue or a menu",
			         m->id);
			return 0;
		}
		if (o->menu[0] && rl_ivr_find(&p->menus, o->menu) == NULL) {
			snprintf(err, errlen, "menus: %s: option %c: no menu %s", m->id, o->digit, o->menu);
			return 0;
		}
	}
	return 1;
}

static int rl_dp_check(const struct rl_dialplan *p, int prompts, char *err, size_t errlen)
{
	for (int i = 0; i < p->menus.n; i++) {
		if (!rl_dp_menu_ok(p, &p->menus.menu[i], prompts, err, errlen))
			return RL_ECONFIG;
		for (int j = 0; j < i; j++)
			if (strcmp(p->menus.menu[j].id, p->menus.menu[i].id) == 0) {
				snprintf(err, errlen, "menus: %s twice", p->menus.menu[i].id);
				return RL_ECONFIG;
			}
	}
	for (int i = 0; i < p->ndids; i++) {
		const struct rl_dial_did *d = &p->dids[i];
		if (!d->did[0] || !d->tenant[0] || (!d->queue[0] && !d->menu[0])) {
			snprintf(err, errlen, "dids: %.64s needs a tenant and a queue or a menu", d->did);
			return RL_ECONFIG;
		}
		if (d->menu[0] && rl_ivr_find(&p->menus, d->menu) == NULL) {
			snprintf(err, errlen, "dids: %s: no menu %s", d->did, d->menu);
			return RL_ECONFIG;
		}
	}
	return RL_OK;
}

int rl_dialplan_from_config(struct rl_dialplan **out, const config_setting_t *dids, const config_setting_t *menus,
                            int prompts, char *err, size_t errlen)
{
	int nd = dids ? config_setting_length(dids) : 0, nm = menus ? config_setting_length(menus) : 0;
	struct rl_dialplan *p;

	*out = NULL;
	if (nd > RL_DIALPLAN_MAX || nm > RL_DIALPLAN_MAX) {
		snprintf(err, errlen, "dids, menus: at most %d of each", RL_DIALPLAN_MAX);
		return RL_ECONFIG;
	}
	p = rl_dialplan_new(nd, nm, "config");
	for (int i = 0; i < nd; i++, p->ndids++)
		if (rl_dp_did(&p->dids[i], config_setting_get_elem(dids, (unsigned)i), err, errlen) != RL_OK)
			goto fail;
	for (int i = 0; i < nm; i++, p->menus.n++)
		if (rl_dp_menu(&p->menus.menu[i], config_setting_get_elem(menus, (unsigned)i), err, errlen) != RL_OK)
			goto fail;
	if (rl_dp_check(p, prompts, err, errlen) != RL_OK)
		goto fail;
	*out = p;
	return RL_OK;
fail:
	rl_dialplan_unref(p);
	return RL_ECONFIG;
}

/* ---------------------------------------------------------------------------------------- */
/* from and to the wire */

/* rl_dp_text copies a received string; too long (or absent where required) is refused. */
static int rl_dp_text(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size)
		return 0;
	memcpy(dst, src ? src : "", n);
	dst[n] = 0;
	return 1;
}

static int rl_dp_menu_pb(struct rl_ivr_menu *m, const Relais__DialPlanMenu *mm)
{
	int ok = mm != NULL && mm->n_options <= RL_IVR_MAX_OPTIONS && rl_dp_text(m->id, sizeof(m->id), mm->id) &&
	         rl_dp_text(m->prompt, sizeof(m->prompt), mm->prompt) &&
	         rl_dp_text(m->invalid, sizeof(m->invalid), mm->invalid) &&
	         rl_dp_text(m->default_queue, sizeof(m->default_queue), mm->default_queue);

	if (!ok)
		return 0;
	m->timeout_ms = mm->timeout_ms ? mm->timeout_ms : 5000;
	m->tries = mm->tries ? mm->tries : 1;
	m->default_priority = mm->default_priority;
	for (size_t k = 0; k < mm->n_options; k++) {
		const Relais__DialPlanOption *oo = mm->options[k];
		struct rl_ivr_option *o = &m->opt[m->nopt++];
		if (oo == NULL || oo->digit == NULL || strlen(oo->digit) != 1 ||
		    !rl_dp_text(o->queue, sizeof(o->queue), oo->queue) ||
		    !rl_dp_text(o->menu, sizeof(o->menu), oo->menu) || !rl_dp_text(o->key, sizeof(o->key), oo->key) ||
		    !rl_dp_text(o->value, sizeof(o->value), oo->value))
			return 0;
		o->digit = oo->digit[0];
		o->priority = oo->priority;
	}
	return 1;
}

static int rl_dp_did_pb(struct rl_dial_did *d, const Relais__DialPlanDid *dd)
{
	if (dd == NULL || !rl_dp_text(d->did, sizeof(d->did), dd->did) ||
	    !rl_dp_text(d->tenant, sizeof(d->tenant), dd->tenant) ||
	    !rl_dp_text(d->queue, sizeof(d->queue), dd->queue) || !rl_dp_text(d->menu, sizeof(d->menu), dd->menu))
		return 0;
	d->priority = dd->priority;
	d->early_media = dd->early_media;
	return 1;
}

/* rl_dp_resolve makes each prompt name a path in dir. */
static int rl_dp_resolve(struct rl_dialplan *p, const char *dir, char *err, size_t errlen)
{
	for (int i = 0; i < p->menus.n; i++) {
		struct rl_ivr_menu *m = &p->menus.menu[i];
		char prompt[RL_IVR_PATH], invalid[RL_IVR_PATH];
		int a = snprintf(prompt, sizeof(prompt), "%s/%s", dir, m->prompt);
		int b = m->invalid[0] ? snprintf(invalid, sizeof(invalid), "%s/%s", dir, m->invalid) : 0;
		if (a < 0 || (size_t)a >= sizeof(prompt) || b < 0 || (size_t)b >= sizeof(invalid)) {
			snprintf(err, errlen, "menus: %s: prompt path too long", m->id);
			return RL_EPROTO;
		}
		memcpy(m->prompt, prompt, sizeof(prompt));
		if (m->invalid[0])
			memcpy(m->invalid, invalid, sizeof(invalid));
	}
	return RL_OK;
}

int rl_dialplan_from_pb(struct rl_dialplan **out, const Relais__DialPlan *m, const char *prompt_dir, char *err,
                        size_t errlen)
{
	struct rl_dialplan *p;

	*out = NULL;
	if (m->n_dids > RL_DIALPLAN_MAX || m->n_menus > RL_DIALPLAN_MAX) {
		snprintf(err, errlen, "dids, menus: at most %d of each", RL_DIALPLAN_MAX);
		return RL_EPROTO;
	}
	p = rl_dialplan_new((int)m->n_dids, (int)m->n_menus, "hub");
	for (size_t i = 0; i < m->n_dids; i++, p->ndids++)
		if (!rl_dp_did_pb(&p->dids[i], m->dids[i])) {
			snprintf(err, errlen, "dids: entry %zu malformed", i);
			goto fail;
		}
	for (size_t i = 0; i < m->n_menus; i++, p->menus.n++)
		if (!rl_dp_menu_pb(&p->menus.menu[i], m->menus[i])) {
			snprintf(err, errlen, "menus: entry %zu malformed", i);
			goto fail;
		}
	if (rl_dp_check(p, RL_DIALPLAN_NAMES, err, errlen) != RL_OK ||
	    rl_dp_resolve(p, prompt_dir, err, errlen) != RL_OK)
		goto fail;
	p->version = m->version;
	*out = p;
	return RL_OK;
fail:
	rl_dialplan_unref(p);
	return RL_EPROTO;
}

static Relais__DialPlanMenu *rl_dp_menu_to_pb(const struct rl_ivr_menu *m)
{
	Relais__DialPlanMenu *mm = rl_calloc(1, sizeof(*mm));

	relais__dial_plan_menu__init(mm);
	mm->id = (char *)m->id;
	mm->prompt = (char *)m->prompt;
	mm->invalid = (char *)m->invalid;
	mm->timeout_ms = m->timeout_ms;
	mm->tries = m->tries;
	mm->default_queue = (char *)m->default_queue;
	mm->default_priority = m->default_priority;
	mm->options = rl_calloc((size_t)m->nopt + 1, sizeof(*mm->options));
	for (int k = 0; k < m->nopt; k++) {
		const struct rl_ivr_option *o = &m->opt[k];
		Relais__DialPlanOption *oo = rl_calloc(1, sizeof(*oo) + 2);
		relais__dial_plan_option__init(oo);
		oo->digit = (char *)(oo + 1); /* its one character lives just after it */
		oo->digit[0] = o->digit;
		oo->queue = (char *)o->queue;
		oo->menu = (char *)o->menu;
		oo->priority = o->priority;
		oo->key = (char *)o->key;
		oo->value = (char *)o->value;
		mm->options[mm->n_options++] = oo;
	}
	return mm;
}

/* FNV-1a over the packed plan: a version that changes when the plan does. */
static uint64_t rl_dp_hash(const Relais__DialPlan *m)
{
	size_t len = relais__dial_plan__get_packed_size(m);
	uint8_t *buf = rl_malloc(len + 1);
	uint64_t h = 14695981039346656037ull;

	relais__dial_plan__pack(m, buf);
	for (size_t i = 0; i < len; i++)
		h = (h ^ buf[i]) * 1099511628211ull;
	free(buf);
	return h ? h : 1;
}

Relais__DialPlan *rl_dialplan_to_pb(struct rl_dialplan *p)
{
	Relais__DialPlan *m = rl_calloc(1, sizeof(*m));

	relais__dial_plan__init(m);
	m->dids = rl_calloc((size_t)p->ndids + 1, sizeof(*m->dids));
	for (int i = 0; i < p->ndids; i++) {
		const struct rl_dial_did *d = &p->dids[i];
		Relais__DialPlanDid *dd = rl_calloc(1, sizeof(*dd));
		relais__dial_plan_did__init(dd);
		dd->did = (char *)d->did;
		dd->tenant = (char *)d->tenant;
		dd->queue = (char *)d->queue;
		dd->menu = (char *)d->menu;
		dd->priority = d->priority;
		dd->early_media = d->early_media;
		m->dids[m->n_dids++] = dd;
	}
	m->menus = rl_calloc((size_t)p->menus.n + 1, sizeof(*m->menus));
	for (int i = 0; i < p->menus.n; i++)
		m->menus[m->n_menus++] = rl_dp_menu_to_pb(&p->menus.menu[i]);
	m->version = p->version = rl_dp_hash(m); /* hashed with version 0 */
	return m;
}

void rl_dialplan_pb_free(Relais__DialPlan *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_dids; i++)
		free(m->dids[i]);
	for (size_t i = 0; i < m->n_menus; i++) {
		for (size_t k = 0; k < m->menus[i]->n_options; k++)
			free(m->menus[i]->options[k]);
		free(m->menus[i]->options);
		free(m->menus[i]);
	}
	free(m->dids);
	free(m->menus);
	free(m);
}

/* ---------------------------------------------------------------------------------------- */

const struct rl_dial_did *rl_dialplan_did(const struct rl_dialplan *p, const char *dialled)
{
	const struct rl_dial_did *any = NULL;

	for (int i = 0; p != NULL && i < p->ndids; i++) {
		if (strcmp(p->dids[i].did, dialled) == 0)
			return &p->dids[i];
		if (strcmp(p->dids[i].did, "*") == 0)
			any = &p->dids[i];
	}
	return any;
}

const struct rl_ivr_menu *rl_ivr_find(const struct rl_ivr_menus *ms, const char *id)
{
	for (int i = 0; ms != NULL && id != NULL && i < ms->n; i++)
		if (strcmp(ms->menu[i].id, id) == 0)
			return &ms->menu[i];
	return NULL;
}

struct rl_dialplan *rl_dialplan_ref(struct rl_dialplan *p)
{
	if (p != NULL)
		p->refs++;
	return p;
}

void rl_dialplan_unref(struct rl_dialplan *p)
{
	if (p == NULL || --p->refs > 0)
		return;
	free(p->dids);
	free(p->menus.menu);
	free(p);
}
