#include "rl_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_err.h"

int rl_cfg_load(config_t *cfg, const char *path, char *err, size_t errlen)
{
	config_init(cfg);
	if (config_read_file(cfg, path) != CONFIG_TRUE) {
		if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot read file", path);
		else
			snprintf(err, errlen, "%s:%d: %s", config_error_file(cfg) ? config_error_file(cfg) : path,
			         config_error_line(cfg), config_error_text(cfg));
		return RL_ECONFIG;
	}
	return RL_OK;
}

static const struct rl_cfg_opt *rl_cfg_find(const struct rl_cfg_opt *t, const char *name)
{
	for (; t->name != NULL; t++)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

/* rl_cfg_set_default parses the textual default of opt into its field. */
static int rl_cfg_set_default(const struct rl_cfg_opt *o, void *field, char *err, size_t errlen)
{
	switch (o->type) {
	case RL_CFG_INT:
	case RL_CFG_BOOL:
		*(int *)field = atoi(o->def);
		break;
	case RL_CFG_DOUBLE:
		*(double *)field = strtod(o->def, NULL);
		break;
	case RL_CFG_STR:
		snprintf(field, RL_CFG_STRLEN, "%s", o->def);
		break;
	case RL_CFG_LIST:
		break;
	}
	return RL_OK;
}

static int rl_cfg_set(const struct rl_cfg_opt *o, const config_setting_t *s, void *field, char *err, size_t errlen)
{
	int t = config_setting_type(s);
	double v;

	switch (o->type) {
	case RL_CFG_LIST:
		if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY) {
			snprintf(err, errlen, "%s: expected a list like [ \"a\", \"b\" ]", o->name);
			return RL_ECONFIG;
		}
		return RL_OK;
	case RL_CFG_BOOL:
		if (t != CONFIG_TYPE_BOOL) {
			snprintf(err, errlen, "%s: expected true or false", o->name);
			return RL_ECONFIG;
		}
		*(int *)field = config_setting_get_bool(s);
		return RL_OK;
	case RL_CFG_INT:
	case RL_CFG_DOUBLE:
		if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
			v = (double)config_setting_get_int64(s);
		else if (t == CONFIG_TYPE_FLOAT && o->type == RL_CFG_DOUBLE)
			v = config_setting_get_float(s);
		else {
			snprintf(err, errlen, "%s: expected %s", o->name,
			         o->type == RL_CFG_INT ? "an integer" : "a number");
			return RL_ECONFIG;
		}
		if (v < o->min || v > o->max) {
			snprintf(err, errlen, "%s: %g is out of range [%g, %g]", o->name, v, o->min, o->max);
			return RL_ECONFIG;
		}
		if (o->type == RL_CFG_INT)
			*(int *)field = (int)v;
		else
			*(double *)field = v;
		return RL_OK;
	case RL_CFG_STR: {
		const char *str = config_setting_get_string(s);
		size_t max = o->max > 0 ? (size_t)o->max : RL_CFG_STRLEN - 1;
		if (t != CONFIG_TYPE_STRING || str == NULL) {
			snprintf(err, errlen, "%s: expected a string", o->name);
			return RL_ECONFIG;
		}
		if (strlen(str) > max || strlen(str) >= RL_CFG_STRLEN) {
			snprintf(err, errlen, "%s: longer than %zu characters", o->name, max);
			return RL_ECONFIG;
		}
		snprintf(field, RL_CFG_STRLEN, "%s", str);
		return RL_OK;
	}
	}
	return RL_ECONFIG;
}

int rl_cfg_apply(const config_setting_t *group, const struct rl_cfg_opt *table, void *target, char *err, size_t errlen)
{
	const struct rl_cfg_opt *o;
	int rv;

	for (o = table; o->name != NULL; o++) {
		void *field = (char *)target + o->offset;
		const config_setting_t *s = group ? config_setting_get_member(group, o->name) : NULL;
		if (s != NULL) {
			if ((rv = rl_cfg_set(o, s, field, err, errlen)) != RL_OK)
				return rv;
		} else if (o->def != NULL || o->type == RL_CFG_LIST) {
			if (o->def != NULL)
				rl_cfg_set_default(o, field, err, errlen);
		} else {
			snprintf(err, errlen, "%s: required setting is missing", o->name);
			return RL_ECONFIG;
		}
	}
	if (group != NULL) {
		int n = config_setting_length(group);
		for (int i = 0; i < n; i++) {
			const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
			const char *name = config_setting_name(s);
			if (name != NULL && rl_cfg_find(table, name) == NULL) {
				snprintf(err, errlen, "%s (line %d): unknown setting", name,
				         config_setting_source_line(s));
				return RL_ECONFIG;
			}
		}
	}
	return RL_OK;
}

const char *rl_cfg_string(const config_setting_t *group, const char *name, const char *def)
{
	const char *v;

	if (group != NULL && config_setting_lookup_string(group, name, &v) == CONFIG_TRUE)
		return v;
	return def;
}

int rl_cfg_int(const config_setting_t *group, const char *name, int def)
{
	int v;

	if (group != NULL && config_setting_lookup_int(group, name, &v) == CONFIG_TRUE)
		return v;
	return def;
}

double rl_cfg_double(const config_setting_t *group, const char *name, double def)
{
	double d;
	int i;

	if (group == NULL)
		return def;
	if (config_setting_lookup_float(group, name, &d) == CONFIG_TRUE)
		return d;
	if (config_setting_lookup_int(group, name, &i) == CONFIG_TRUE)
		return i;
	return def;
}

static int rl_cfg_skipped(const char *name, const char *const *skip)
{
	for (int i = 0; name != NULL && skip != NULL && skip[i] != NULL; i++)
		if (strcmp(name, skip[i]) == 0)
			return 1;
	return 0;
}

/* rl_cfg_copy_value gives d (made by the caller, of s's type) s's value, or s's members. */
static void rl_cfg_copy_value(config_setting_t *d, const config_setting_t *s, const char *const *skip)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		config_setting_set_int(d, config_setting_get_int(s));
		break;
	case CONFIG_TYPE_INT64:
		config_setting_set_int64(d, config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		config_setting_set_float(d, config_setting_get_float(s));
		break;
	case CONFIG_TYPE_BOOL:
		config_setting_set_bool(d, config_setting_get_bool(s));
		break;
	case CONFIG_TYPE_STRING:
		config_setting_set_string(d, config_setting_get_string(s));
		break;
	default: /* group, list, array */
		for (int i = 0; i < config_setting_length(s); i++)
			rl_cfg_copy(d, config_setting_get_elem(s, (unsigned)i), skip);
		break;
	}
}

void rl_cfg_copy(config_setting_t *parent, const config_setting_t *s, const char *const *skip)
{
	const char *name = config_setting_name(s);
	config_setting_t *d;

	if (rl_cfg_skipped(name, skip))
		return;
	/* Members of a group have names; elements of a list or an array do not. */
	d = config_setting_add(parent, config_setting_is_group(parent) ? name : NULL, config_setting_type(s));
	if (d != NULL)
		rl_cfg_copy_value(d, s, skip);
}

char *rl_cfg_text(const config_t *cfg, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (f == NULL)
		return NULL;
	config_write(cfg, f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (len != NULL)
		*len = n;
	return buf;
}
