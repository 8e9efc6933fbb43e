/*
 * rl_operator.h - operators: the people and tools that use relaisctl, each with an id, a
 * role, an Ed25519 public key (rl_key.h) and, for the roles scoped to tenants, the tenants
 * they see. The hub and the site nodes read the same list (`operators = ( ... )`, usually one
 * file @include'd by both configs); docs/security.md gives each role's rights:
 *   admin       everything (provisioning, contacts, every status)
 *   noc         sites: drain, failover, failback; every status
 *   supervisor  status and agent state for its tenants only
 *   viewer      status, for its tenants if it has a list, else all
 */
#ifndef RL_OPERATOR_H
#define RL_OPERATOR_H

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>

#include "rl_id.h"
#include "rl_key.h"

enum rl_op_role { RL_OP_ADMIN, RL_OP_NOC, RL_OP_SUPERVISOR, RL_OP_VIEWER };

struct rl_operator {
	char id[RL_ID_MAX + 1];
	enum rl_op_role role;
	uint8_t key[RL_KEY_PUB];
	char **tenants; /* owned; NULL with ntenants 0: every tenant (admin, noc, a viewer without list) */
	int ntenants;
};

/*
 * rl_operators_load reads the list (NULL: none) into a new array *ops of *n entries (the
 * caller frees it with rl_operators_free). Each entry: id, role (admin, noc, supervisor,
 * viewer), key (base64), tenants (a supervisor's is required, admin's and noc's refused).
 * Errors: RL_ECONFIG with "line N: what" in err.
 */
int rl_operators_load(const config_setting_t *list, struct rl_operator **ops, int *n, char *err, size_t errlen);

void rl_operators_free(struct rl_operator *ops, int n);

/* rl_operator_find: the operator with id, or NULL. */
const struct rl_operator *rl_operator_find(const struct rl_operator *ops, int n, const char *id);

/* rl_operator_role_name: "admin", "noc", "supervisor" or "viewer". */
const char *rl_operator_role_name(enum rl_op_role role);

#endif
