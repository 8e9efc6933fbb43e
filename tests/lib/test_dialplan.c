/*
 * The dial plan (rl_dialplan.h): read from config text and checked whole; to the wire and
 * back unchanged, with a version that follows the content; a hub plan's prompt names become
 * paths in the node's prompt directory, and a plan that would reach outside it, or breaks
 * any rule, is refused whole; numbers fall back to "*"; references keep a plan alive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_dialplan.h"
#include "rl_err.h"
#include "rltest.h"

static const char *good =
    "dids = ( { did = \"+212522000100\"; tenant = \"telco\"; menu = \"main\"; },\n"
    "         { did = \"+212522000200\"; tenant = \"bank\"; queue = \"bank.cards\"; priority = 2; early_media = true; },\n"
    "         { did = \"*\"; tenant = \"telco\"; queue = \"telco.billing\"; } );\n"
    "menus = ( { id = \"main\"; prompt = \"menu.wav\"; invalid = \"again.wav\"; timeout_s = 4; tries = 2;\n"
    "            default_queue = \"telco.billing\";\n"
    "            options = ( { digit = \"1\"; queue = \"telco.billing\"; key = \"topic\"; value = \"bill\"; },\n"
    "                        { digit = \"#\"; menu = \"sub\"; } ); },\n"
    "          { id = \"sub\"; prompt = \"sub.wav\"; options = ( { digit = \"2\"; queue = \"telco.tech\"; priority = 1; } ); } );\n";

/* plan parses text; returns the plan (NULL and err set when refused). */
static struct rl_dialplan *plan(const char *text, int prompts, char *err, size_t len)
{
	config_t cfg;
	struct rl_dialplan *p = NULL;

	config_init(&cfg);
	err[0] = 0;
	if (!config_read_string(&cfg, text)) {
		snprintf(err, len, "syntax: %s", config_error_text(&cfg));
	} else if (rl_dialplan_from_config(&p, config_lookup(&cfg, "dids"), config_lookup(&cfg, "menus"), prompts, err,
	                                   len) != RL_OK) {
		p = NULL;
	}
	config_destroy(&cfg);
	return p;
}

static void refused(const char *text, int prompts, const char *why)
{
	char err[256];
	struct rl_dialplan *p = plan(text, prompts, err, sizeof(err));

	RL_CHECK(p == NULL);
	RL_CHECK(strstr(err, why) != NULL);
	if (strstr(err, why) == NULL)
		fprintf(stderr, "  expected \"%s\" in \"%s\"\n", why, err);
	rl_dialplan_unref(p);
}

static void test_config(void)
{
	char err[256];
	struct rl_dialplan *p = plan(good, RL_DIALPLAN_NAMES, err, sizeof(err));
	const struct rl_dial_did *d;
	const struct rl_ivr_menu *m;

	RL_REQUIRE(p != NULL);
	RL_CHECK(p->ndids == 3 && p->menus.n == 2);
	d = rl_dialplan_did(p, "+212522000200");
	RL_CHECK(d != NULL && strcmp(d->queue, "bank.cards") == 0 && d->priority == 2 && d->early_media);
	d = rl_dialplan_did(p, "+33100000000"); /* any other number */
	RL_CHECK(d != NULL && strcmp(d->did, "*") == 0);
	m = rl_ivr_find(&p->menus, "main");
	RL_CHECK(m != NULL && m->nopt == 2 && m->opt[1].digit == '#' && strcmp(m->opt[1].menu, "sub") == 0);
	RL_CHECK(m != NULL && m->timeout_ms == 4000 && m->tries == 2 && strcmp(m->invalid, "again.wav") == 0);
	rl_dialplan_unref(p);

	refused("dids = ( { did = \"1\"; tenant = \"t\"; } );", RL_DIALPLAN_PATHS,
	        "needs a tenant and a queue or a menu");
	refused("dids = ( { did = \"1\"; tenant = \"t\"; menu = \"nope\"; } );", RL_DIALPLAN_PATHS, "no menu nope");
	refused("menus = ( { id = \"m\"; prompt = \"p.wav\"; options = ( { digit = \"x\"; queue = \"q\"; } ); } );",
	        RL_DIALPLAN_PATHS, "each option needs a digit");
	refused("menus = ( { id = \"m\"; prompt = \"p.wav\"; options = ( { digit = \"1\"; menu = \"z\"; } ); } );",
	        RL_DIALPLAN_PATHS, "no menu z");
	refused("menus = ( { id = \"m\"; prompt = \"a.wav\"; }, { id = \"m\"; prompt = \"b.wav\"; } );",
	        RL_DIALPLAN_PATHS, "m twice");
	refused("menus = ( { id = \"m\"; prompt = \"/etc/x.wav\"; } );", RL_DIALPLAN_NAMES, "no directory");
	refused("menus = ( { id = \"m\"; prompt = \"a.wav\"; invalid = \"../b.wav\"; } );", RL_DIALPLAN_NAMES,
	        "no directory");
	refused("dids = ( { did = \"1\"; tenant = \"t\"; queue = \"q\"; colour = \"red\"; } );", RL_DIALPLAN_PATHS,
	        "colour");
	/* A node's own config may give paths. */
	p = plan("menus = ( { id = \"m\"; prompt = \"/srv/prompts/a.wav\"; } );", RL_DIALPLAN_PATHS, err, sizeof(err));
	RL_CHECK(p != NULL);
	rl_dialplan_unref(p);
}

/* wire packs m and unpacks it as a node receives it. */
static Relais__DialPlan *wire(const Relais__DialPlan *m)
{
	size_t len = relais__dial_plan__get_packed_size(m);
	uint8_t *buf = malloc(len + 1);
	Relais__DialPlan *back;

	relais__dial_plan__pack(m, buf);
	back = relais__dial_plan__unpack(NULL, len, buf);
	free(buf);
	return back;
}

static void test_wire(void)
{
	char err[256];
	struct rl_dialplan *p = plan(good, RL_DIALPLAN_NAMES, err, sizeof(err)), *q = NULL;
	Relais__DialPlan *m, *m2, *rx;
	uint64_t v;

	RL_REQUIRE(p != NULL);
	m = rl_dialplan_to_pb(p);
	v = m->version;
	RL_CHECK(v != 0 && p->version == v);
	m2 = rl_dialplan_to_pb(p);
	RL_CHECK(m2->version == v); /* same content, same version */
	rl_dialplan_pb_free(m2);
	rx = wire(m);
	RL_REQUIRE(rx != NULL);
	RL_CHECK(rl_dialplan_from_pb(&q, rx, "/srv/prompts", err, sizeof(err)) == RL_OK);
	RL_REQUIRE(q != NULL);
	RL_CHECK(q->version == v && q->ndids == 3 && q->menus.n == 2);
	RL_CHECK(strcmp(rl_ivr_find(&q->menus, "main")->prompt, "/srv/prompts/menu.wav") == 0);
	RL_CHECK(strcmp(rl_ivr_find(&q->menus, "main")->invalid, "/srv/prompts/again.wav") == 0);
	RL_CHECK(strcmp(rl_ivr_find(&q->menus, "sub")->invalid, "") == 0);
	RL_CHECK(rl_ivr_find(&q->menus, "main")->opt[0].digit == '1');
	RL_CHECK(strcmp(rl_ivr_find(&q->menus, "main")->opt[0].value, "bill") == 0);
	RL_CHECK(rl_dialplan_did(q, "+212522000200")->early_media == 1);
	rl_dialplan_unref(q);

	/* A changed plan has another version. */
	p->dids[0].priority = 7;
	m2 = rl_dialplan_to_pb(p);
	RL_CHECK(m2->version != v);
	rl_dialplan_pb_free(m2);

	relais__dial_plan__free_unpacked(rx, NULL);

	/* Bad plans from the wire are refused whole. */
	for (int k = 0; k < 5; k++) {
		char longid[200], *saved, **field;
		memset(longid, 'x', sizeof(longid) - 1);
		longid[sizeof(longid) - 1] = 0;
		rx = wire(m);
		RL_REQUIRE(rx != NULL);
		field = k == 0   ? &rx->menus[0]->prompt            /* outside the prompt directory */
		        : k == 1 ? &rx->menus[0]->options[0]->digit /* two digits */
		        : k == 2 ? &rx->dids[0]->tenant             /* too long */
		        : k == 3 ? &rx->dids[0]->menu               /* no such menu */
		                 : &rx->dids[1]->did;               /* none */
		saved = *field;
		*field = k == 0   ? (char *)"../../etc/shadow"
		         : k == 1 ? (char *)"12"
		         : k == 2 ? longid
		         : k == 3 ? (char *)"gone"
		                  : NULL;
		q = NULL;
		RL_CHECK(rl_dialplan_from_pb(&q, rx, "/srv/prompts", err, sizeof(err)) == RL_EPROTO && q == NULL);
		if (k == 3)
			RL_CHECK(strstr(err, "no menu gone") != NULL);
		*field = saved;
		relais__dial_plan__free_unpacked(rx, NULL);
	}
	rl_dialplan_pb_free(m);

	/* A call's reference keeps the plan it started with. */
	q = rl_dialplan_ref(p);
	rl_dialplan_unref(p);
	RL_CHECK(rl_dialplan_did(q, "+212522000100") != NULL);
	rl_dialplan_unref(q);
}

int main(void)
{
	test_config();
	test_wire();
	return rltest_done();
}
