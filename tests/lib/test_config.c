/* Declarative config table: defaults, bounds, types and unknown keys. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "rl_config.h"
#include "rl_err.h"
#include "rltest.h"

struct conf {
	int port;
	int verbose;
	double rate;
	char name[RL_CFG_STRLEN];
};

static const struct rl_cfg_opt table[] = {
    {"port", RL_CFG_INT, 1, 65535, "7400", offsetof(struct conf, port), "listen port"},
    {"verbose", RL_CFG_BOOL, 0, 1, "0", offsetof(struct conf, verbose), "chatty logs"},
    {"rate", RL_CFG_DOUBLE, 0, 1000, "1.5", offsetof(struct conf, rate), "per minute"},
    {"name", RL_CFG_STR, 0, 16, NULL, offsetof(struct conf, name), "required name"},
    {NULL, 0, 0, 0, NULL, 0, NULL},
};

static int load(const char *text, struct conf *c, char *err, size_t errlen)
{
	const char *dir = rltest_tmpdir("cfg");
	char path[600];
	config_t cfg;
	int rv;

	snprintf(path, sizeof(path), "%s/t.conf", dir);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	if ((rv = rl_cfg_load(&cfg, path, err, errlen)) != RL_OK) {
		config_destroy(&cfg);
		return rv;
	}
	memset(c, 0, sizeof(*c));
	rv = rl_cfg_apply(config_lookup(&cfg, "g"), table, c, err, errlen);
	config_destroy(&cfg);
	return rv;
}

/* A deep copy leaves out what it is told to, at any depth, and reads back the same. */
static void test_copy(void)
{
	static const char *const skip[] = {"secret", NULL};
	config_t src, dst, back;
	config_setting_t *l;
	const char *s = NULL;
	char *text;
	size_t len = 0;
	int i = 0;
	double d = 0;

	config_init(&src);
	config_init(&dst);
	config_init(&back);
	RL_CHECK(config_read_string(&src, "people = ( { id = \"a\"; secret = \"x\"; n = 3; w = 1.5; ok = true;\n"
	                                  "  tags = [ \"t1\", \"t2\" ]; sub = { secret = 1; keep = 2; }; } );\n"
	                                  "other = 7;") == CONFIG_TRUE);
	rl_cfg_copy(config_root_setting(&dst), config_lookup(&src, "people"), skip);
	text = rl_cfg_text(&dst, &len);
	RL_REQUIRE(text != NULL && len == strlen(text));
	RL_CHECK(strstr(text, "secret") == NULL && strstr(text, "other") == NULL);
	RL_CHECK(config_read_string(&back, text) == CONFIG_TRUE);
	l = config_lookup(&back, "people");
	RL_REQUIRE(l != NULL && config_setting_length(l) == 1);
	RL_CHECK(config_setting_lookup_string(config_setting_get_elem(l, 0), "id", &s) && strcmp(s, "a") == 0);
	RL_CHECK(config_lookup_int(&back, "people.[0].n", &i) && i == 3);
	RL_CHECK(config_lookup_float(&back, "people.[0].w", &d) && d == 1.5);
	RL_CHECK(config_lookup_bool(&back, "people.[0].ok", &i) && i == 1);
	RL_CHECK(config_lookup_string(&back, "people.[0].tags.[1]", &s) && strcmp(s, "t2") == 0);
	RL_CHECK(config_lookup_int(&back, "people.[0].sub.keep", &i) && i == 2);
	RL_CHECK(config_lookup(&back, "people.[0].sub.secret") == NULL);
	free(text);
	config_destroy(&src);
	config_destroy(&dst);
	config_destroy(&back);
}

int main(void)
{
	struct conf c;

	test_copy();
	char err[256];

	RL_CHECK(load("g: { name = \"hub\"; };", &c, err, sizeof(err)) == RL_OK);
	RL_CHECK(c.port == 7400 && c.verbose == 0 && c.rate == 1.5 && strcmp(c.name, "hub") == 0);
	RL_CHECK(load("g: { name = \"x\"; port = 80; verbose = true; rate = 3; };", &c, err, sizeof(err)) == RL_OK);
	RL_CHECK(c.port == 80 && c.verbose == 1 && c.rate == 3.0);
	RL_CHECK(load("g: { name = \"x\"; port = 70000; };", &c, err, sizeof(err)) == RL_ECONFIG);
	RL_CHECK(strstr(err, "port") != NULL && strstr(err, "range") != NULL);
	RL_CHECK(load("g: { name = \"x\"; prot = 1; };", &c, err, sizeof(err)) == RL_ECONFIG);
	RL_CHECK(strstr(err, "prot") != NULL && strstr(err, "unknown") != NULL);
	RL_CHECK(load("g: { port = 1; };", &c, err, sizeof(err)) == RL_ECONFIG);
	RL_CHECK(strstr(err, "name") != NULL && strstr(err, "required") != NULL);
	RL_CHECK(load("g: { name = \"waytoolongforsixteen\"; };", &c, err, sizeof(err)) == RL_ECONFIG);
	RL_CHECK(load("g: { name = \"x\"; port = \"80\"; };", &c, err, sizeof(err)) == RL_ECONFIG);
	RL_CHECK(load("g: { name = ", &c, err, sizeof(err)) == RL_ECONFIG);
	RL_CHECK(strstr(err, ":1:") != NULL); /* file:line: message */
	return rltest_done();
}
