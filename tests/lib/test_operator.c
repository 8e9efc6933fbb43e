/* rl_operator: the operators list - roles, keys, tenant scopes - and what it refuses. */
#include <stdio.h>
#include <string.h>

#include "rl_err.h"
#include "rl_key.h"
#include "rl_operator.h"
#include "rltest.h"

static int load(const char *text, struct rl_operator **ops, int *n)
{
	config_t cfg;
	char err[256];
	int rv;

	config_init(&cfg);
	RL_REQUIRE(config_read_string(&cfg, text) == CONFIG_TRUE);
	rv = rl_operators_load(config_lookup(&cfg, "operators"), ops, n, err, sizeof(err));
	if (rv != RL_OK)
		printf("refused: %s\n", err);
	config_destroy(&cfg);
	return rv;
}

int main(void)
{
	struct rl_key k;
	char pub[RL_KEY_TEXT], text[2048];
	struct rl_operator *ops;
	const struct rl_operator *o;
	int n;

	rl_key_generate(&k);
	rl_key_pub_text(k.pk, pub);
	snprintf(text, sizeof(text),
	         "operators = ( { id = \"noc\"; role = \"noc\"; key = \"%s\"; },\n"
	         "  { id = \"sup.telco\"; role = \"supervisor\"; tenants = [ \"telco\", \"bank\" ]; key = \"%s\"; },\n"
	         "  { id = \"wall\"; role = \"viewer\"; key = \"%s\"; } );\n",
	         pub, pub, pub);
	RL_REQUIRE(load(text, &ops, &n) == RL_OK && n == 3);
	RL_CHECK((o = rl_operator_find(ops, n, "sup.telco")) != NULL && o->role == RL_OP_SUPERVISOR &&
	         o->ntenants == 2 && strcmp(o->tenants[1], "bank") == 0);
	RL_CHECK((o = rl_operator_find(ops, n, "noc")) != NULL && o->ntenants == 0 && memcmp(o->key, k.pk, 32) == 0);
	RL_CHECK(rl_operator_find(ops, n, "nobody") == NULL);
	RL_CHECK(strcmp(rl_operator_role_name(RL_OP_VIEWER), "viewer") == 0);
	rl_operators_free(ops, n);
	RL_CHECK(load("x = 1;", &ops, &n) == RL_OK && n == 0); /* no list: no operators */
	rl_operators_free(ops, n);

	/* Refused: an unknown role, a bad key, a supervisor of nothing, an admin with a scope,
	 * a duplicate, a bad tenant id. */
	static const char *const bad[] = {
	    "operators = ( { id = \"a\"; role = \"root\"; key = \"%s\"; } );",
	    "operators = ( { id = \"a\"; role = \"admin\"; key = \"AAAA%s\"; } );",
	    "operators = ( { id = \"a\"; role = \"supervisor\"; key = \"%s\"; } );",
	    "operators = ( { id = \"a\"; role = \"admin\"; tenants = [ \"telco\" ]; key = \"%s\"; } );",
	    "operators = ( { id = \"a\"; role = \"admin\"; key = \"%s\"; }, { id = \"a\"; role = \"noc\"; key = \"%s\"; } );",
	    "operators = ( { id = \"a\"; role = \"viewer\"; tenants = [ \"bad tenant\" ]; key = \"%s\"; } );",
	    "operators = ( { id = \"a b\"; role = \"admin\"; key = \"%s\"; } );",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), bad[i], pub, pub);
		RL_CHECK(load(text, &ops, &n) == RL_ECONFIG);
		rl_operators_free(ops, n);
	}
	return rltest_done();
}
