/*
 * relaisctl - status, agent state, contact submission, the NOC's site commands, reports, secret hashing.
 *
 *   relaisctl [--connect URL] [--ca F --cert F --key F] [--operator ID --operator-key F] [--json]
 *             [--timeout S] COMMAND ...
 *     status [queues|agents|sites|calls|all] [--tenant T] [--watch SECONDS]
 *     agent-state AGENT ready|not-ready [REASON]|logout
 *     submit --tenant T --queue Q [--priority P] [--caller N] [--dialled N] [--audio F.wav]
 *            [--data k=v ...] [--ext-id ID]
 *     site status                  (every site: up or lost, drain, failover, by whom, why, since)
 *     site drain SITE [--percent P] --reason TEXT [--force]
 *     site undrain SITE --reason TEXT
 *     site failover SITE [--to SITE|home] --reason TEXT [--force]
 *     site failback SITE --reason TEXT
 *     audit [--since SECONDS_AGO] [--limit N]   (the site commands given, oldest first)
 *     report [queue|agent|tenant|site|billing] [--day D | --from T [--to T]]
 *            [--interval 15m|hour|day|all] [--tenant T] [--csv]   (from the hub's event log)
 *     recordings [list] [--tenant T] [--since S] [--limit N]; recordings fetch CONTACT --out FILE
 *     wallboard                                 (the web wallboard's address, with a ticket)
 *     drain on|off                 (at a node: its local drain, while the hub is out of reach)
 *     hash-secret [--min]          (reads the secret on standard input)
 *     keygen FILE                  (a site's or an operator's key: secret half to FILE, public half out)
 *     pubkey FILE                  (the public half of an existing key)
 *
 * URL defaults to $RELAIS_HUB; TLS paths to $RELAIS_CA, $RELAIS_CERT, $RELAIS_KEY.
 * Exit: 0 ok, 1 refused (the hub's message is printed), 2 usage, 3 no answer in time.
 */
#include <cjson/cJSON.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "render.h"
#include "rl_alloc.h"
#include "rl_client.h"
#include "rl_err.h"
#include "rl_key.h"
#include "rl_log.h"
#include "rl_loop.h"
#include "rl_secret.h"
#include "rl_time.h"

static volatile sig_atomic_t stop;

static void on_int(int sig)
{
	(void)sig;
	stop = 1;
}

int ctl_usage(void)
{
	fprintf(
	    stderr,
	    "usage: relaisctl [--connect URL] [--ca F --cert F --key F] [--operator ID --operator-key F] [--json]\n"
	    "                 [--timeout S] COMMAND\n"
	    "  status [queues|agents|sites|calls|all] [--tenant T] [--watch SECONDS]\n"
	    "  agent-state AGENT ready|not-ready [REASON]|logout\n"
	    "  submit --tenant T --queue Q [--priority P] [--caller N] [--dialled N] [--data k=v]... [--ext-id ID]\n"
	    "         [--audio F.wav]   (at a node: the caller's voice for this contact)\n"
	    "  site status                 (at the hub: every site's liveness, drain and failover)\n"
	    "  site drain SITE [--percent P] --reason TEXT [--force]   (P 1..100, default 100)\n"
	    "  site undrain SITE --reason TEXT\n"
	    "  site failover SITE [--to SITE|home] --reason TEXT [--force]\n"
	    "  site failback SITE --reason TEXT\n"
	    "                        (site commands go to the hub, which tells the site's node and audits them;\n"
	    "                         --force stops the last site still taking calls)\n"
	    "  audit [--since SECONDS_AGO] [--limit N]   (the site commands given and refused, oldest first)\n"
	    "  report [queue|agent|tenant|site|billing] [--day YYYY-MM-DD | --from T [--to T]]\n"
	    "         [--interval 15m|hour|day|all] [--tenant T] [--csv]\n"
	    "                        (from the hub's event log; T: YYYY-MM-DD[THH:MM[:SS]] UTC or epoch seconds;\n"
	    "                         default today, a row per day; CSV, or JSON with --json)\n"
	    "  recordings [list] [--tenant T] [--since SECONDS_AGO] [--limit N]   (recorded calls, newest first)\n"
	    "  recordings fetch CONTACT --out FILE   (at the node that holds it: the file, and its SHA-256)\n"
	    "  wallboard             (the address of the hub's web wallboard, with a one-time ticket)\n"
	    "  drain on|off          (at a node: refuse new carrier calls with 503 / take them again; the node's\n"
	    "                         own tool for when the hub is out of reach, not audited: prefer site drain)\n"
	    "  hash-secret [--min]   (secret on standard input)\n"
	    "  keygen FILE           (new key: secret half to FILE, 0600; public half printed for the configs)\n"
	    "  pubkey FILE           (the public half of an existing key)\n");
	return 2;
}

int ctl_open(struct ctl *c)
{
	struct rl_client_opts o = {.url = c->url,
	                           .tls = &c->tls,
	                           .role = RELAIS__ROLE__ROLE_CTL,
	                           .name = "relaisctl",
	                           .principal = c->operator,
	                           .key = & c->key };
	int rv;

	if (c->url == NULL) {
		fprintf(stderr, "relaisctl: no --connect URL (or RELAIS_HUB)\n");
		return 2;
	}
	if (c->operator== NULL || c->operator_key == NULL) {
		fprintf(stderr, "relaisctl: who are you? --operator ID --operator-key FILE (or RELAIS_OPERATOR, "
		                "RELAIS_OPERATOR_KEY)\n");
		return 2;
	}
	if ((rv = rl_key_load(&c->key, c->operator_key)) != RL_OK) {
		fprintf(stderr, "relaisctl: %s: %s\n", c->operator_key, rl_strerror(rv));
		return 2;
	}
	if (rl_loop_create(&c->loop) != RL_OK || rl_client_open(&c->client, &o, c->loop, 1) != RL_OK) {
		fprintf(stderr, "relaisctl: cannot set up a link to %s\n", c->url);
		return 2;
	}
	return 0;
}

void ctl_close(struct ctl *c)
{
	if (c->loop)
		rl_loop_destroy(c->loop);
	rl_client_close(c->client);
	rl_key_wipe(&c->key);
}

/* rpc sends env and waits for its answer; returns the reply (caller frees) or NULL. */
static rl_env *rpc(struct ctl *c, rl_env *env)
{
	struct rl_loop_event evs[16];
	uint64_t end = rl_mono_us() + (uint64_t)c->timeout_s * 1000000u;
	int marker;

	if (rl_client_request(c->client, env, &marker, NULL) != RL_OK)
		return NULL;
	rl_client_tick(c->client);
	while (rl_mono_us() < end && !stop) {
		int n = rl_loop_wait(c->loop, 50, evs, 16);
		rl_env *found = NULL;
		for (int i = 0; i < n; i++) {
			rl_env *r;
			void *cookie;
			int is_reply;
			if (rl_client_input(c->client, evs[i].msg, &r, &cookie, &is_reply) != RL_OK)
				continue;
			if (is_reply && cookie == &marker && found == NULL)
				found = r;
			else
				rl_wire_free(r);
		}
		if (found)
			return found;
		rl_client_tick(c->client);
	}
	return NULL;
}

rl_env *ctl_ask(struct ctl *c, rl_env *env, int *rv)
{
	rl_env *r = rpc(c, env);

	if (r == NULL) {
		fprintf(stderr, "relaisctl: no answer from %s\n", c->url);
		*rv = 3;
	} else if (r->body_case == RELAIS__ENVELOPE__BODY_ERROR) {
		fprintf(stderr, "relaisctl: refused: %s\n", r->error->message ? r->error->message : "error");
		rl_wire_free(r);
		r = NULL;
		*rv = 1;
	}
	return r;
}

static int cmd_status(struct ctl *c, int argc, char **argv)
{
	Relais__StatusRequest sr = RELAIS__STATUS_REQUEST__INIT;
	const char *what = "all";
	int watch = 0, rv = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc)
			sr.tenant_id = argv[++i];
		else if (strcmp(argv[i], "--watch") == 0 && i + 1 < argc)
			watch = atoi(argv[++i]);
		else if (argv[i][0] != '-')
			what = argv[i];
		else
			return ctl_usage();
	}
	sr.queues = strcmp(what, "queues") == 0 || strcmp(what, "all") == 0;
	sr.agents = strcmp(what, "agents") == 0 || strcmp(what, "all") == 0;
	sr.sites = strcmp(what, "sites") == 0 || strcmp(what, "all") == 0;
	sr.calls = strcmp(what, "calls") == 0; /* live and recent calls with their quality */
	if (!sr.queues && !sr.agents && !sr.sites && !sr.calls)
		return ctl_usage();
	if ((rv = ctl_open(c)) != 0)
		return rv;
	do {
		rl_env env, *r;
		rl_env_init(&env);
		env.body_case = RELAIS__ENVELOPE__BODY_STATUS_REQUEST;
		env.status_request = &sr;
		if ((r = ctl_ask(c, &env, &rv)) == NULL)
			break;
		if (r->body_case == RELAIS__ENVELOPE__BODY_STATUS_REPLY) {
			if (watch && isatty(1))
				printf("\033[H\033[2J");
			if (c->json) {
				char *s = rl_render_json(r->status_reply);
				puts(s);
				free(s);
			} else {
				rl_render_tables(stdout, r->status_reply, sr.queues, sr.agents, sr.sites, sr.calls);
			}
			fflush(stdout);
		}
		rl_wire_free(r);
		for (int i = 0; watch && i < watch * 10 && !stop; i++)
			usleep(100000);
	} while (watch && !stop);
	ctl_close(c);
	return rv;
}

/* ctl_command sends a request that is answered Ok or Error: 0 when done, else the exit
 * status (ctl_ask()'s). */
static int ctl_command(struct ctl *c, rl_env *env)
{
	int rv;

	if ((rv = ctl_open(c)) != 0)
		return rv;
	rl_wire_free(ctl_ask(c, env, &rv));
	ctl_close(c);
	return rv;
}

/* drain on|off, at a site node: stop or resume taking new carrier calls there. */
static int cmd_drain(struct ctl *c, int argc, char **argv)
{
	Relais__SiteDrain sd = RELAIS__SITE_DRAIN__INIT;
	rl_env env;
	int rv;

	if (argc != 1 || (strcmp(argv[0], "on") != 0 && strcmp(argv[0], "off") != 0))
		return ctl_usage();
	sd.on = strcmp(argv[0], "on") == 0;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_SITE_DRAIN;
	env.site_drain = &sd;
	if ((rv = ctl_command(c, &env)) == 0)
		printf("drain %s\n", argv[0]);
	return rv;
}

static int cmd_agent_state(struct ctl *c, int argc, char **argv)
{
	Relais__AdminSetAgentState as = RELAIS__ADMIN_SET_AGENT_STATE__INIT;
	rl_env env;
	int rv;

	if (argc < 2)
		return ctl_usage();
	as.agent_id = argv[0];
	if (strcmp(argv[1], "ready") == 0)
		as.state = RELAIS__AGENT_STATE__AGENT_READY;
	else if (strcmp(argv[1], "not-ready") == 0) {
		as.state = RELAIS__AGENT_STATE__AGENT_NOT_READY;
		as.reason = argc > 2 ? argv[2] : "supervisor";
	} else if (strcmp(argv[1], "logout") == 0)
		as.state = RELAIS__AGENT_STATE__AGENT_LOGGED_OUT;
	else
		return ctl_usage();
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_ADMIN_SET_AGENT_STATE;
	env.admin_set_agent_state = &as;
	if ((rv = ctl_command(c, &env)) == 0)
		printf("agent %s: %s\n", as.agent_id, argv[1]);
	return rv;
}

/* A contact to submit, as the command line gives it (the message points into the struct). */
struct submit {
	Relais__SubmitContact sc;
	Relais__ScreenPop pop;
	Relais__KeyValue kvs[RL_WIRE_MAX_POP_ITEMS], *kvp[RL_WIRE_MAX_POP_ITEMS];
	char ext[64], audio[PATH_MAX];
};

/* submit_args fills s from the command's arguments; 0, or the exit status (2). */
static int submit_args(struct submit *s, int argc, char **argv)
{
	Relais__SubmitContact *sc = &s->sc;
	Relais__ScreenPop *pop = &s->pop;

	relais__submit_contact__init(sc);
	relais__screen_pop__init(pop);
	sc->pop = pop;
	pop->data = s->kvp;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL)
			return ctl_usage();
		if (strcmp(a, "--tenant") == 0)
			sc->tenant_id = argv[++i];
		else if (strcmp(a, "--queue") == 0)
			sc->queue_id = argv[++i];
		else if (strcmp(a, "--priority") == 0)
			sc->priority = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(a, "--caller") == 0)
			pop->caller = argv[++i];
		else if (strcmp(a, "--dialled") == 0)
			pop->dialled = argv[++i];
		else if (strcmp(a, "--ext-id") == 0)
			sc->ext_id = argv[++i];
		else if (strcmp(a, "--audio") == 0) {
			/* a WAV on the node's host: made absolute, the node may run elsewhere in the tree */
			if (realpath(argv[++i], s->audio) == NULL) {
				fprintf(stderr, "relaisctl: %s: cannot find the file\n", argv[i]);
				return 2;
			}
			sc->caller_audio = s->audio;
		} else if (strcmp(a, "--data") == 0) {
			char *kv = argv[++i], *eq = strchr(kv, '=');
			if (eq == NULL || pop->n_data == RL_WIRE_MAX_POP_ITEMS)
				return ctl_usage();
			*eq = 0;
			relais__key_value__init(&s->kvs[pop->n_data]);
			s->kvs[pop->n_data].key = kv;
			s->kvs[pop->n_data].value = eq + 1;
			s->kvp[pop->n_data] = &s->kvs[pop->n_data];
			pop->n_data++;
		} else
			return ctl_usage();
	}
	/* protobuf-c's INIT leaves strings "" (never NULL): empty means not given. */
	if (!sc->tenant_id[0] || !sc->queue_id[0])
		return ctl_usage();
	if (!sc->ext_id[0]) {
		/* One id for this command, so its re-sends are one contact. */
		uint64_t rnd;
		rl_secret_random(&rnd, sizeof(rnd));
		snprintf(s->ext, sizeof(s->ext), "ctl-%016llx", (unsigned long long)rnd);
		sc->ext_id = s->ext;
	}
	sc->media = "voice";
	return 0;
}

/* submitted prints the contact's id ("(duplicate)" if the ext id was known), or JSON. */
static void submitted(const struct ctl *c, const Relais__SubmitContactOk *ok)
{
	if (c->json) {
		cJSON *o = cJSON_CreateObject();
		char *txt;
		cJSON_AddStringToObject(o, "contact_id", ok->contact_id);
		cJSON_AddBoolToObject(o, "duplicate", ok->duplicate);
		txt = cJSON_PrintUnformatted(o);
		puts(txt);
		free(txt);
		cJSON_Delete(o);
	} else
		printf("%s%s\n", ok->contact_id, ok->duplicate ? " (duplicate)" : "");
}

static int cmd_submit(struct ctl *c, int argc, char **argv)
{
	struct submit s;
	rl_env env, *r;
	int rv;

	if ((rv = submit_args(&s, argc, argv)) != 0)
		return rv;
	if ((rv = ctl_open(c)) != 0)
		return rv;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT;
	env.submit_contact = &s.sc;
	if ((r = ctl_ask(c, &env, &rv)) != NULL && r->body_case == RELAIS__ENVELOPE__BODY_SUBMIT_CONTACT_OK)
		submitted(c, r->submit_contact_ok);
	rl_wire_free(r);
	ctl_close(c);
	return rv;
}

static int cmd_hash(int argc, char **argv)
{
	char secret[RL_WIRE_MAX_SECRET + 2], hash[256];
	int min = argc > 0 && strcmp(argv[0], "--min") == 0;

	if (fgets(secret, sizeof(secret), stdin) == NULL) {
		fprintf(stderr, "relaisctl: no secret on standard input\n");
		return 2;
	}
	secret[strcspn(secret, "\r\n")] = 0;
	if (secret[0] == 0 || strlen(secret) > RL_WIRE_MAX_SECRET) {
		fprintf(stderr, "relaisctl: secret must be 1..%d characters\n", RL_WIRE_MAX_SECRET);
		return 2;
	}
	if (rl_secret_hash(secret, min ? RL_SECRET_MIN : RL_SECRET_INTERACTIVE, hash, sizeof(hash)) != RL_OK)
		return 1;
	puts(hash);
	return 0;
}

/* keygen FILE: a new key pair; the secret half goes to FILE (0600, never overwritten), the
 * public half to standard output, for the config of whoever checks it. */
static int cmd_keygen(int argc, char **argv)
{
	struct rl_key k;
	char pub[RL_KEY_TEXT];
	int rv;

	if (argc != 1)
		return ctl_usage();
	rl_key_generate(&k);
	if ((rv = rl_key_save(&k, argv[0])) != RL_OK) {
		fprintf(stderr, "relaisctl: %s: %s\n", argv[0], rl_strerror(rv));
		rl_key_wipe(&k);
		return 1;
	}
	rl_key_pub_text(k.pk, pub);
	rl_key_wipe(&k);
	puts(pub);
	return 0;
}

/* pubkey FILE: the public half of an existing key, for the configs. */
static int cmd_pubkey(int argc, char **argv)
{
	struct rl_key k;
	char pub[RL_KEY_TEXT];
	int rv;

	if (argc != 1)
		return ctl_usage();
	if ((rv = rl_key_load(&k, argv[0])) != RL_OK) {
		fprintf(stderr, "relaisctl: %s: %s\n", argv[0], rl_strerror(rv));
		return 1;
	}
	rl_key_pub_text(k.pk, pub);
	rl_key_wipe(&k);
	puts(pub);
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl c = {.url = getenv("RELAIS_HUB"), .timeout_s = 5};
	int i;

	c.tls.ca_file = getenv("RELAIS_CA");
	c.tls.cert_file = getenv("RELAIS_CERT");
	c.tls.key_file = getenv("RELAIS_KEY");
	c.operator= getenv("RELAIS_OPERATOR");
	c.operator_key = getenv("RELAIS_OPERATOR_KEY");
	rl_log_init("relaisctl", RL_LOG_WARNING);
	/* cJSON allocates through rl_alloc: out of memory is fatal, so no JSON is ever NULL. */
	cJSON_InitHooks(&(cJSON_Hooks){.malloc_fn = rl_malloc, .free_fn = free});
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_int);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0)
			c.json = 1;
		else if (i + 1 >= argc)
			return ctl_usage();
		else if (strcmp(a, "--connect") == 0)
			c.url = argv[++i];
		else if (strcmp(a, "--ca") == 0)
			c.tls.ca_file = argv[++i];
		else if (strcmp(a, "--cert") == 0)
			c.tls.cert_file = argv[++i];
		else if (strcmp(a, "--key") == 0)
			c.tls.key_file = argv[++i];
		else if (strcmp(a, "--operator") == 0)
			c.operator= argv[++i];
		else if (strcmp(a, "--operator-key") == 0)
			c.operator_key = argv[++i];
		else if (strcmp(a, "--timeout") == 0)
			c.timeout_s = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 5;
		else if (strcmp(a, "--server-name") == 0)
			c.tls.server_name = argv[++i];
		else
			return ctl_usage();
	}
	if (i >= argc)
		return ctl_usage();
	if (strcmp(argv[i], "status") == 0)
		return cmd_status(&c, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "agent-state") == 0)
		return cmd_agent_state(&c, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "submit") == 0)
		return cmd_submit(&c, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "site") == 0)
		return ctl_cmd_site(&c, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "audit") == 0)
		return ctl_cmd_audit(&c, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "report") == 0)
		return ctl_cmd_report(&c, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "recordings") == 0)
		return ctl_cmd_recordings(&c, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "wallboard") == 0)
		return ctl_cmd_wallboard(&c, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "drain") == 0)
		return cmd_drain(&c, argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "hash-secret") == 0)
		return cmd_hash(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "keygen") == 0)
		return cmd_keygen(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "pubkey") == 0)
		return cmd_pubkey(argc - i - 1, argv + i + 1);
	return ctl_usage();
}
