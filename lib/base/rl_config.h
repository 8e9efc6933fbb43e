/*
 * rl_config.h - configuration files.
 *
 * Files are libconfig syntax (Debian libconfig). Scalar settings are declared in a table
 * of struct rl_cfg_opt (name, type, bounds, default, target field) and applied by one
 * function; lists (tenants, queues, agents, sites) are walked by their owners with the
 * libconfig API and the rl_cfg_* helpers.
 */
#ifndef RL_CONFIG_H
#define RL_CONFIG_H

#include <libconfig.h>
#include <stddef.h>

/* RL_CFG_LIST: a list or array read by the owner; the table only admits the key. */
enum rl_cfg_type { RL_CFG_INT, RL_CFG_BOOL, RL_CFG_DOUBLE, RL_CFG_STR, RL_CFG_LIST };

struct rl_cfg_opt {
	const char *name;
	enum rl_cfg_type type;
	double min, max; /* INT/DOUBLE bounds; STR: max length (0 = 1023) */
	const char *def; /* default as text; NULL = required */
	size_t offset;   /* offsetof(target struct, field) */
	const char *help;
};
/* Field types: INT -> int, BOOL -> int, DOUBLE -> double, STR -> char[RL_CFG_STRLEN]. */
#define RL_CFG_STRLEN 1024

/*
 * rl_cfg_load reads path into cfg (config_init'd here; caller config_destroy's). Errors:
 * RL_ECONFIG with a "file:line: message" in err.
 */
int rl_cfg_load(config_t *cfg, const char *path, char *err, size_t errlen);

/*
 * rl_cfg_apply sets each field of target from group (NULL = all defaults) per table
 * (terminated by an entry with name NULL). Unknown keys in group are errors, so typos
 * are caught. Errors: RL_ECONFIG with a message naming the key.
 */
int rl_cfg_apply(const config_setting_t *group, const struct rl_cfg_opt *table, void *target, char *err, size_t errlen);

/* rl_cfg_string: string member `name` of group, or def when missing. */
const char *rl_cfg_string(const config_setting_t *group, const char *name, const char *def);

/* rl_cfg_int: int member `name` of group, or def when missing. */
int rl_cfg_int(const config_setting_t *group, const char *name, int def);

/* rl_cfg_double: number member `name` of group (int or float), or def when missing. */
double rl_cfg_double(const config_setting_t *group, const char *name, double def);

/* rl_cfg_copy adds a deep copy of s under parent (a group: by s's name; a list or an array:
 * as its next element), leaving out every member, at any depth, whose name is in skip (a
 * NULL-terminated list; NULL = none). */
void rl_cfg_copy(config_setting_t *parent, const config_setting_t *s, const char *const *skip);

/* rl_cfg_text writes cfg as libconfig text into a new string (the caller frees it; its
 * length in *len if not NULL), or returns NULL. */
char *rl_cfg_text(const config_t *cfg, size_t *len);

#endif
