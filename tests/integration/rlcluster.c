#include "rlcluster.h"

#include <glob.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "rl_audio.h"
#include "rl_err.h"
#include "rl_time.h"
#include "rl_loop.h"
#include "rl_client.h"
#include "rl_key.h"
#include "rltest.h"

const char *rlc_path(struct rlc *c, const char *name)
{
	static char buf[4][800];
	static int n;
	char *p = buf[n++ & 3];

	snprintf(p, 800, "%s/%s", c->dir, name);
	return p;
}

void rlc_keygen(struct rlc *c, const char *id, char *pub, size_t cap)
{
	char cmd[1200], *out;

	snprintf(cmd, sizeof(cmd), "%s keygen %s/keys/%s.key", rltest_bin("ctl/relaisctl"), c->dir, id);
	out = rltest_capture(cmd);
	RL_REQUIRE(out != NULL && strlen(out) >= 44);
	out[strcspn(out, "\r\n")] = 0;
	snprintf(pub, cap, "%s", out);
	free(out);
}

/* rlc_keys: a key per site and per operator, and operators.conf, which the hub's and the
 * nodes' configs include: admin, noc, a supervisor per tenant, a viewer of everything. */
static void rlc_keys(struct rlc *c)
{
	static const char *const ops[][3] = {{"admin", "admin", ""},
	                                     {"noc", "noc", ""},
	                                     {"sup.telco", "supervisor", "tenants = [ \"telco\" ];"},
	                                     {"sup.bank", "supervisor", "tenants = [ \"bank\" ];"},
	                                     {"viewer", "viewer", ""}};
	static const char *const sites[] = {"casablanca", "fes", "dakar"};
	char pub[128];
	FILE *f;

	mkdir(rlc_path(c, "keys"), 0700);
	for (int i = 0; i < 3; i++)
		rlc_keygen(c, sites[i], c->site_key[i], sizeof(c->site_key[i]));
	RL_REQUIRE((f = fopen(rlc_path(c, "operators.conf"), "w")) != NULL);
	fprintf(f, "operators = (\n");
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		rlc_keygen(c, ops[i][0], pub, sizeof(pub));
		fprintf(f, "  { id = \"%s\"; role = \"%s\"; key = \"%s\"; %s }%s\n", ops[i][0], ops[i][1], pub,
		        ops[i][2], i + 1 < sizeof(ops) / sizeof(ops[0]) ? "," : "");
	}
	fprintf(f, ");\n");
	fclose(f);
}

void rlc_init(struct rlc *c, const char *name, int tls)
{
	char cmd[1200];

	memset(c, 0, sizeof(*c));
	setvbuf(stdout, NULL, _IOLBF, 0); /* a test killed by its timeout still shows its progress */
	snprintf(c->dir, sizeof(c->dir), "%s", rltest_tmpdir(name));
	snprintf(c->certs, sizeof(c->certs), "%s/certs", c->dir);
	c->tls = tls;
	c->hub_port = rltest_free_port();
	snprintf(c->hub_url, sizeof(c->hub_url), "%s://127.0.0.1:%d", tls ? "tls+tcp" : "tcp", c->hub_port);
	mkdir(rlc_path(c, "secrets"), 0700);
	rlc_keys(c);
	if (tls) {
		snprintf(cmd, sizeof(cmd), "sh %s %s casablanca fes dakar", rltest_src("deploy/mkcerts.sh"), c->certs);
		RL_REQUIRE(rltest_run(cmd, rlc_path(c, "setup.log")) == 0);
	}
}

static const char *rlc_tls_args(struct rlc *c, const char *who)
{
	static char buf[2][2048];
	static int n;
	char *p = buf[n++ & 1];

	if (!c->tls)
		return "";
	snprintf(p, 2048, "--ca %s/ca.pem --cert %s/%s.pem --key %s/%s.key", c->certs, c->certs, who, c->certs, who);
	return p;
}

void rlc_agent(struct rlc *c, const char *id, const char *tenants, const char *skills, const char *site)
{
	char path[700], cmd[2048], tl[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/secrets/%s.secret", c->dir, id);
	f = fopen(path, "w");
	RL_REQUIRE(f != NULL);
	fprintf(f, "pw-%s-%d\n", id, rand());
	fclose(f);
	chmod(path, 0600);
	snprintf(cmd, sizeof(cmd), "%s hash-secret --min < %s", rltest_bin("ctl/relaisctl"), path);
	char *hash = rltest_capture(cmd);
	RL_REQUIRE(hash != NULL && strncmp(hash, "$argon2id$", 10) == 0);
	hash[strcspn(hash, "\r\n")] = 0;
	/* "a,b" -> "\"a\", \"b\"" */
	for (const char *t = tenants; *t;) {
		size_t n = strcspn(t, ",");
		snprintf(tl + strlen(tl), sizeof(tl) - strlen(tl), "%s\"%.*s\"", tl[0] ? ", " : "", (int)n, t);
		t += n + (t[n] == ',');
	}
	size_t used = strlen(c->agents);
	int k =
	    snprintf(c->agents + used, sizeof(c->agents) - used,
	             "  { id = \"%s\"; tenants = [ %s ]; skills = { %s }; site = \"%s\"; secret_hash = \"%s\"; },\n",
	             id, tl, skills, site, hash);
	free(hash);
	RL_REQUIRE(k > 0 && (size_t)k < sizeof(c->agents) - used); /* a cut entry would break hub.conf */
}

void rlc_queue(struct rlc *c, const char *entry)
{
	snprintf(c->queues + strlen(c->queues), sizeof(c->queues) - strlen(c->queues), "%s  %s\n",
	         c->queues[0] ? "," : "", entry);
}

void rlc_write_hub_conf_as(struct rlc *c, const char *file, const char *id, const char *data, const char *url)
{
	FILE *f = fopen(rlc_path(c, file), "w");

	RL_REQUIRE(f != NULL);
	fprintf(f,
	        "hub: {\n  id = \"%s\";\n  data_dir = \"%s/%s\";\n  listen = [ \"%s\" ];\n"
	        "  agent_grace_s = 60;\n  offer_timeout_s = 5;\n  wrapup_s = 2;\n  log_level = \"info\";\n%s};\n",
	        id, c->dir, data, url, c->hub_extra);
	if (c->tls)
		fprintf(f, "tls: { ca = \"%s/ca.pem\"; cert = \"%s/hub.pem\"; key = \"%s/hub.key\"; };\n", c->certs,
		        c->certs, c->certs);
	fprintf(f, "%s\n", c->top_extra);
	fprintf(
	    f,
	    "sites = (\n  { id = \"casablanca\"; name = \"Casablanca\"; key = \"%s\"; },\n"
	    "  { id = \"fes\"; name = \"Fes\"; key = \"%s\"; },\n  { id = \"dakar\"; name = \"Dakar\"; key = \"%s\"; }\n);\n",
	    c->site_key[0], c->site_key[1], c->site_key[2]);
	fprintf(f, "@include \"%s\"\n", rlc_path(c, "operators.conf"));
	fprintf(f,
	        "tenants = (\n  { id = \"telco\"; name = \"Maroc Telco\"; %s },\n"
	        "  { id = \"bank\"; name = \"Banque Atlas\"; %s }\n);\n",
	        c->tenant_opts[0], c->tenant_opts[1]);
	fprintf(f, "queues = (\n%s);\n", c->queues);
	/* libconfig lists accept no trailing comma: strip the last one. */
	char *last = strrchr(c->agents, ',');
	if (last != NULL)
		*last = ' ';
	fprintf(f, "agents = (\n%s);\n", c->agents);
	if (last != NULL)
		*last = ',';
	fclose(f);
}

static void rlc_write_hub_conf(struct rlc *c)
{
	rlc_write_hub_conf_as(c, "hub.conf", "hub-test", "hubdata", c->hub_url);
}

void rlc_start_hub(struct rlc *c)
{
	char *argv[] = {(char *)rltest_bin("hub/relais-hub"), "-c", (char *)rlc_path(c, "hub.conf"), NULL};

	rlc_write_hub_conf(c);
	c->hub = rltest_spawn(argv, rlc_path(c, "hub.log"));
	for (int i = 0; i < 100; i++) {
		char *out = NULL;
		if (rlc_ctl(c, c->hub_url, "status queues", &out) == 0) {
			free(out);
			return;
		}
		free(out);
		rltest_sleep_ms(100);
	}
	RL_REQUIRE(!"hub did not come up");
}

void rlc_stop_hub(struct rlc *c, int sig)
{
	rltest_stop(c->hub, sig, 10000);
	c->hub = 0;
}

const char *rlc_start_node(struct rlc *c, const char *site, const char *generator, pid_t *pid)
{
	static char urls[4][128];
	int idx = c->nnodes++ & 3;
	char *url = urls[idx];
	char conf[64], logname[64], state[600];
	FILE *f;

	snprintf(url, 128, "%s://127.0.0.1:%d", c->tls ? "tls+tcp" : "tcp", rltest_free_port());
	snprintf(conf, sizeof(conf), "node-%s.conf", site);
	snprintf(logname, sizeof(logname), "node-%s.log", site);
	f = fopen(rlc_path(c, conf), "w");
	RL_REQUIRE(f != NULL);
	snprintf(state, sizeof(state), "%s/state-%s", c->dir, site);
	mkdir(state, 0700); /* kept across the node's restarts */
	fprintf(f,
	        "node: {\n  site_id = \"%s\";\n  name = \"%s\";\n  capacity = 100;\n  hub = \"%s\";\n"
	        "  listen = [ \"%s\" ];\n  log_level = \"info\";\n  key_file = \"%s/keys/%s.key\";\n"
	        "  state_dir = \"%s\";\n%s\n};\n",
	        site, site, c->hub_url, url, c->dir, site, state, c->node_opts);
	c->node_opts[0] = 0;
	fprintf(f, "@include \"%s\"\n", rlc_path(c, "operators.conf"));
	if (c->tls)
		fprintf(f, "tls: { ca = \"%s/ca.pem\"; cert = \"%s/node-%s.pem\"; key = \"%s/node-%s.key\"; };\n",
		        c->certs, c->certs, site, c->certs, site);
	fprintf(f, "generator = (%s);\n", generator ? generator : "");
	fprintf(f, "%s\n", c->node_extra);
	c->node_extra[0] = 0;
	if (c->media) {
		c->media_port[idx] = rltest_free_port();
		fprintf(
		    f,
		    "media = { listen = \"127.0.0.1:%d\"; caller_audio = \"%s\"; record_dir = \"%s\"; report_s = 1; };\n",
		    c->media_port[idx], c->caller_wav, c->dir);
	}
	fclose(f);
	char *argv[] = {(char *)rltest_bin("node/relais-node"), "-c", (char *)rlc_path(c, conf), NULL};
	pid_t p = rltest_spawn(argv, rlc_path(c, logname));
	RL_REQUIRE(c->nprocs < RLC_MAX_PROCS);
	c->procs[c->nprocs++] = p;
	if (pid != NULL)
		*pid = p;
	return url;
}

pid_t rlc_start_agents(struct rlc *c, const char *url, const char *ids, const char *script, const char *logname)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "exec %s %s --connect %s --agents %s --secret-dir %s/secrets --script %s %s",
	         rltest_bin("agent-client/relais-agent"), rlc_tls_args(c, "agent"), url, ids, c->dir, script,
	         c->agent_extra);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	pid_t p = rltest_spawn(argv, rlc_path(c, logname));
	RL_REQUIRE(c->nprocs < RLC_MAX_PROCS);
	c->procs[c->nprocs++] = p;
	return p;
}

void rlc_link_open(struct rlc_link *l, struct rlc *c, int role, const char *id, const struct rl_key *key)
{
	static char ca[700], cert[700], tkey[700];
	static struct rl_tls tls;
	const char *who = role == RELAIS__ROLE__ROLE_AGENT ? "agent" : role == RELAIS__ROLE__ROLE_CTL ? "ctl" : "node";
	struct rl_client_opts o = {.url = c->hub_url,
	                           .tls = c->tls ? &tls : NULL,
	                           .role = role,
	                           .site_id = role == RELAIS__ROLE__ROLE_NODE ? id : NULL,
	                           .principal = role == RELAIS__ROLE__ROLE_CTL ? id : NULL,
	                           .name = "rlcluster-link",
	                           .key = key};

	snprintf(ca, sizeof(ca), "%s/ca.pem", c->certs);
	if (role == RELAIS__ROLE__ROLE_NODE) {
		snprintf(cert, sizeof(cert), "%s/node-%s.pem", c->certs, id);
		snprintf(tkey, sizeof(tkey), "%s/node-%s.key", c->certs, id);
	} else {
		snprintf(cert, sizeof(cert), "%s/%s.pem", c->certs, who);
		snprintf(tkey, sizeof(tkey), "%s/%s.key", c->certs, who);
	}
	tls = (struct rl_tls){ca, cert, tkey, NULL};
	memset(l, 0, sizeof(*l));
	RL_REQUIRE(rl_loop_create(&l->loop) == RL_OK);
	RL_REQUIRE(rl_client_open(&l->cl, &o, l->loop, 1) == RL_OK);
}

void rlc_link_close(struct rlc_link *l)
{
	rl_wire_free(l->reply);
	rl_loop_destroy(l->loop);
	rl_client_close(l->cl);
}

rl_env *rlc_link_ask(struct rlc_link *l, rl_env *env)
{
	uint64_t end = rl_mono_us() + 10000000u;
	struct rl_loop_event evs[16];

	rl_wire_free(l->reply);
	l->reply = NULL;
	l->got = 0;
	RL_REQUIRE(rl_client_request(l->cl, env, l, NULL) == RL_OK);
	while (!l->got && rl_mono_us() < end) {
		int n = rl_loop_wait(l->loop, 20, evs, 16);
		for (int i = 0; i < n; i++) {
			rl_env *in;
			void *cookie;
			int is_reply;
			if (rl_client_input(l->cl, evs[i].msg, &in, &cookie, &is_reply) != RL_OK)
				continue;
			if (is_reply && cookie == l && !l->got) {
				l->reply = in;
				l->got = 1;
			} else {
				rl_wire_free(in);
			}
		}
		rl_client_tick(l->cl);
	}
	RL_REQUIRE(l->got);
	return l->reply;
}

const struct rl_key *rlc_site_key(struct rlc *c, const char *site)
{
	static struct rl_key k;
	char path[700];

	snprintf(path, sizeof(path), "%s/keys/%s.key", c->dir, site);
	RL_REQUIRE(rl_key_load(&k, path) == RL_OK);
	return &k;
}

int rlc_ctl(struct rlc *c, const char *url, const char *args, char **out)
{
	return rlc_ctl_as(c, "admin", url, args, out);
}

int rlc_ctl_as(struct rlc *c, const char *op, const char *url, const char *args, char **out)
{
	char cmd[4096];
	char *res;
	int status = -1;

	snprintf(
	    cmd, sizeof(cmd),
	    "%s %s --operator %s --operator-key %s/keys/%s.key --connect %s --timeout 3 %s 2>&1; echo \"::exit=$?\"",
	    rltest_bin("ctl/relaisctl"), rlc_tls_args(c, "ctl"), op, c->dir, op, url, args);
	res = rltest_capture(cmd);
	if (res != NULL) {
		char *e = strstr(res, "::exit=");
		if (e != NULL) {
			status = atoi(e + 7);
			*e = 0;
		}
	}
	if (out != NULL)
		*out = res;
	else
		free(res);
	return status;
}

cJSON *rlc_status(struct rlc *c)
{
	char *out = NULL;
	cJSON *j = NULL;

	/* The JSON follows what relaisctl logged on its way (a standby's redirect, with a list
	 * of hubs): it starts the first line that opens an object. */
	if (rlc_ctl(c, c->hub_url, "--json status all", &out) == 0) {
		const char *json = out;
		while (*json != '{' && (json = strchr(json, '\n')) != NULL)
			json++;
		j = json != NULL ? cJSON_Parse(json) : NULL;
	}
	free(out);
	return j;
}

int rlc_answers(struct rlc *c)
{
	cJSON *s = rlc_status(c);
	int ok = s != NULL;

	cJSON_Delete(s);
	return ok;
}

static cJSON *rlc_find(cJSON *status, const char *list, const char *key, const char *id)
{
	cJSON *arr = cJSON_GetObjectItemCaseSensitive(status, list), *e;

	cJSON_ArrayForEach(e, arr)
	{
		cJSON *k = cJSON_GetObjectItemCaseSensitive(e, key);
		if (cJSON_IsString(k) && strcmp(k->valuestring, id) == 0)
			return e;
	}
	return NULL;
}

double rlc_queue_num(cJSON *status, const char *qid, const char *field)
{
	cJSON *q = rlc_find(status, "queues", "queue_id", qid);
	cJSON *v = q ? cJSON_GetObjectItemCaseSensitive(q, field) : NULL;

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

const char *rlc_agent_str(cJSON *status, const char *aid, const char *field)
{
	cJSON *a = rlc_find(status, "agents", "agent_id", aid);
	cJSON *v = a ? cJSON_GetObjectItemCaseSensitive(a, field) : NULL;

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int rlc_agents_in(struct rlc *c, const char *ids, const char *state)
{
	cJSON *s = rlc_status(c);
	int all = s != NULL;

	for (const char *p = ids; all && *p;) {
		char id[64];
		size_t n = strcspn(p, ",");
		snprintf(id, sizeof(id), "%.*s", (int)n, p);
		const char *st = rlc_agent_str(s, id, "state");
		all = st != NULL && strcmp(st, state) == 0;
		p += n + (p[n] == ',');
	}
	cJSON_Delete(s);
	return all;
}

void rlc_stop_all(struct rlc *c)
{
	for (int i = c->nprocs - 1; i >= 0; i--)
		rltest_stop(c->procs[i], SIGTERM, 5000);
	c->nprocs = 0;
	if (c->hub > 0)
		rlc_stop_hub(c, SIGTERM);
}

int rlc_count_in_file(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

long rlc_log_field(const char *path, const char *needle, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[2048], k[40];
	long v = -1;

	if (f == NULL)
		return -1;
	snprintf(k, sizeof(k), " %s=", key);
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, needle), *q;
		if (p != NULL && (q = strstr(p, k)) != NULL)
			v = atol(q + strlen(k));
	}
	fclose(f);
	return v;
}

int rlc_find_file(struct rlc *c, const char *pattern, char *out, size_t len)
{
	char pat[900];
	glob_t g;
	int found;

	snprintf(pat, sizeof(pat), "%s/%s", c->dir, pattern);
	found = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0;
	snprintf(out, len, "%s", found ? g.gl_pathv[0] : "");
	globfree(&g);
	return found;
}

double rlc_voiced(const char *path, double floor)
{
	int16_t *pcm = NULL;
	size_t n = 0, win, on = 0, all = 0;
	unsigned rate = 0;

	if (rl_audio_read_wav(path, &pcm, &n, &rate) != RL_OK)
		return -1;
	win = rate / 10;
	for (size_t w = 0; w + win <= n; w += win, all++) {
		double e = 0;
		for (size_t i = w; i < w + win; i++)
			e += (double)pcm[i] * pcm[i];
		on += sqrt(e / (double)win) > floor;
	}
	free(pcm);
	return all ? (double)on / (double)all : 0;
}

pid_t rlc_sipp_start(struct rlc *c, const char *scenarios, const char *scenario, int sip_port, const char *did)
{
	char cmd[4096], log[600];
	const char *bin = getenv("SIPP") && getenv("SIPP")[0] ? getenv("SIPP") : "sipp";
	int port = rltest_free_ports(3);

	snprintf(log, sizeof(log), "%s/sipp-%s.log", c->dir, scenario);
	/* exec: the pid is sipp's own */
	snprintf(cmd, sizeof(cmd),
	         "cd %s && exec %s 127.0.0.1:%d -sf %s/%s.xml -s '%s' -m 1 -l 1 -i 127.0.0.1 -p %d "
	         "-mi 127.0.0.1 -mp %d -timeout 60s -timeout_error -nostdin -trace_err -error_file %s",
	         c->dir, bin, sip_port, rltest_src(scenarios), scenario, did, port, port + 2, log);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	return rltest_spawn(argv, log);
}

int rlc_sipp_call(struct rlc *c, const char *scenarios, const char *scenario, int sip_port, const char *did)
{
	pid_t pid = rlc_sipp_start(c, scenarios, scenario, sip_port, did);
	int st = -1, ws;

	if (pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws))
		st = WEXITSTATUS(ws);
	printf("sipp %-16s did %-14s exit %d\n", scenario, did, st);
	return st;
}

double rlc_qnum(struct rlc *c, const char *qid, const char *field)
{
	cJSON *s = rlc_status(c);
	double v = s ? rlc_queue_num(s, qid, field) : -1;

	cJSON_Delete(s);
	return v;
}

int rlc_wait_answered(struct rlc *c, const char *qid, int want, int seconds)
{
	for (int i = 0; i < seconds * 5; i++) {
		if (rlc_qnum(c, qid, "answered") >= want)
			return 1;
		rltest_sleep_ms(200);
	}
	return 0;
}

int rlc_scrape(struct rlc *c, int port, const char *token)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s http://127.0.0.1:%d/metrics %s %s",
	         rltest_src("tests/integration/scrape.py"), port, token, rlc_path(c, "samples.txt"));
	return rltest_run(cmd, rlc_path(c, "scrape.log")) == 0;
}

double rlc_sample(struct rlc *c, const char *line)
{
	FILE *f = fopen(rlc_path(c, "samples.txt"), "r");
	char buf[1024];
	size_t n = strlen(line);
	double v = -1;

	if (f == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, line, n) == 0 && buf[n] == ' ')
			v = atof(buf + n + 1);
	fclose(f);
	return v;
}
