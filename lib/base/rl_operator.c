#include "rl_operator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"

static const char *const rl_roles[] = {"admin", "noc", "supervisor", "viewer"};
#define RL_NROLES (int)(sizeof(rl_roles) / sizeof(rl_roles[0]))

const char *rl_operator_role_name(enum rl_op_role role)
{
	return (int)role >= 0 && (int)role < RL_NROLES ? rl_roles[role] : "?";
}

static int rl_op_err(const config_setting_t *s, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "line %d: %s", s ? config_setting_source_line(s) : 0, what);
	return RL_ECONFIG;
}

static int rl_op_tenants(struct rl_operator *op, const config_setting_t *tl, char *err, size_t errlen)
{
	int n = tl ? config_setting_length(tl) : 0;

	if (tl != NULL && (op->role == RL_OP_ADMIN || op->role == RL_OP_NOC))
		return rl_op_err(tl, "admin and noc operators see every tenant: no tenants list", err, errlen);
	if (tl == NULL && op->role == RL_OP_SUPERVISOR)
		return rl_op_err(tl, "a supervisor needs its tenants = [ ... ]", err, errlen);
	op->tenants = n ? rl_calloc((size_t)n, sizeof(char *)) : NULL;
	for (int i = 0; i < n; i++) {
		const char *t = config_setting_get_string_elem(tl, i);
		if (!rl_id_ok(t))
			return rl_op_err(tl, "operator tenants are tenant ids", err, errlen);
		op->tenants[op->ntenants++] = rl_strdup(t);
	}
	return RL_OK;
}

static int rl_op_load(struct rl_operator *op, const config_setting_t *s, char *err, size_t errlen)
{
	const char *id = NULL, *role = NULL, *key = NULL;
	int r;

	config_setting_lookup_string(s, "id", &id);
	config_setting_lookup_string(s, "role", &role);
	config_setting_lookup_string(s, "key", &key);
	if (!rl_id_ok(id))
		return rl_op_err(s, "operator needs a valid id", err, errlen);
	snprintf(op->id, sizeof(op->id), "%s", id);
	for (r = 0; role && r < RL_NROLES && strcmp(role, rl_roles[r]) != 0; r++)
		;
	if (role == NULL || r == RL_NROLES)
		return rl_op_err(s, "operator role: admin, noc, supervisor or viewer", err, errlen);
	op->role = (enum rl_op_role)r;
	if (rl_key_pub_parse(key, op->key) != RL_OK)
		return rl_op_err(s, "operator key: a base64 Ed25519 public key (relaisctl keygen)", err, errlen);
	return rl_op_tenants(op, config_setting_get_member(s, "tenants"), err, errlen);
}

int rl_operators_load(const config_setting_t *list, struct rl_operator **ops, int *n, char *err, size_t errlen)
{
	int len = list ? config_setting_length(list) : 0, rv;

	*ops = rl_calloc((size_t)len + 1, sizeof(**ops));
	*n = 0;
	for (int i = 0; i < len; i++) {
		const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
		*n = i + 1;
		if ((rv = rl_op_load(&(*ops)[i], s, err, errlen)) != RL_OK)
			return rv;
		if (rl_operator_find(*ops, i, (*ops)[i].id) != NULL)
			return rl_op_err(s, "duplicate operator id", err, errlen);
	}
	return RL_OK;
}

void rl_operators_free(struct rl_operator *ops, int n)
{
	for (int i = 0; ops != NULL && i < n; i++) {
		for (int t = 0; t < ops[i].ntenants; t++)
			free(ops[i].tenants[t]);
		free(ops[i].tenants);
	}
	free(ops);
}

const struct rl_operator *rl_operator_find(const struct rl_operator *ops, int n, const char *id)
{
	for (int i = 0; id != NULL && i < n; i++)
		if (strcmp(ops[i].id, id) == 0)
			return &ops[i];
	return NULL;
}
