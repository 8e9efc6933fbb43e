/*
 * Call recording with real processes: a hub whose tenants and queues record all, none or
 * half of their calls; a node that records them; seated agents speaking a tone of their own
 * (1000 Hz) to callers speaking another (440 Hz). A recorded call's file decodes (our own
 * decoder and opus-tools), has the caller left and the agent right, silence as long as the
 * agent's pause, the checksum the contact's record gives; a queue that records nothing
 * leaves no file; a percentage records exactly the contacts its rule draws; relaisctl lists
 * per tenant and fetches the same bytes, role-checked. A second site whose files may not
 * grow past 40 KiB (a real EFBIG from the kernel): its recording stops with an alarm, the
 * call goes on, and the record says incomplete.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "rl_audio.h"
#include "rl_err.h"
#include "rlcluster.h"
#include "rlrec.h"

#define TALK_S  10
#define PAUSE_S 3
#define PLEN_S  2

static void tone_wav(const char *path, double hz, int seconds)
{
	size_t n = (size_t)16000 * (size_t)seconds;
	int16_t *pcm = malloc(n * sizeof(*pcm));

	for (size_t i = 0; i < n; i++)
		pcm[i] = (int16_t)(8000 * sin(2 * M_PI * hz * (double)i / 16000));
	RL_REQUIRE(rl_audio_write_wav(path, pcm, n, 16000) == RL_OK);
	free(pcm);
}

/* submit: a contact to queue of tenant through the node; its id (static). */
static const char *submit(struct rlc *c, const char *node, const char *tenant, const char *queue)
{
	static char id[128];
	char args[512], *out = NULL;

	snprintf(args, sizeof(args), "submit --tenant %s --queue %s --caller +212522000777", tenant, queue);
	id[0] = 0;
	if (rlc_ctl(c, node, args, &out) == 0 && out != NULL)
		snprintf(id, sizeof(id), "%.*s", (int)strcspn(out, " \r\n"), out);
	free(out);
	return id;
}

/* list: `relaisctl --json recordings ARGS` as op at the hub, parsed (NULL if it failed). */
static cJSON *list(struct rlc *c, const char *op, const char *args)
{
	char cmd[256], *out = NULL;
	cJSON *j = NULL;

	snprintf(cmd, sizeof(cmd), "--json recordings %s", args);
	if (rlc_ctl_as(c, op, c->hub_url, cmd, &out) == 0 && out != NULL)
		j = cJSON_Parse(out);
	free(out);
	return j;
}

/* row: the listed recording of contact id in j, or NULL. */
static cJSON *row(cJSON *j, const char *id)
{
	cJSON *r;

	cJSON_ArrayForEach(r, cJSON_GetObjectItem(j, "recordings"))
	{
		const char *cid = cJSON_GetStringValue(cJSON_GetObjectItem(r, "contact_id"));
		if (cid && strcmp(cid, id) == 0)
			return r;
	}
	return NULL;
}

static const char *str(cJSON *r, const char *k)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(r, k));
	return v ? v : "";
}

/* listed: 1 once contact id's recording is in admin's list (for RL_WAIT). */
static int listed(struct rlc *c, const char *id)
{
	cJSON *j = list(c, "admin", "");
	int ok = j && row(j, id) != NULL;

	cJSON_Delete(j);
	return ok;
}

/* longest_silence: the longest run, in 20 ms windows, where both channels are silent. */
static int longest_silence(const struct rlrec *d, size_t *at)
{
	int best = 0, run = 0;

	for (size_t w = 0; (w + 1) * 960 <= d->frames; w++) {
		int quiet = rlrec_rms(d, 0, w * 960, 960) < 0.002 && rlrec_rms(d, 1, w * 960, 960) < 0.002;
		run = quiet ? run + 1 : 0;
		if (run > best) {
			best = run;
			*at = (w + 1 - (size_t)run) * 960;
		}
	}
	return best;
}

/* The rule of a percentage policy, as docs/supervision.md gives it. */
static int drawn(const char *id, int pct)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *s = id; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return (int)(h % 100u) < pct;
}

static void check_file(struct rlc *c, cJSON *r)
{
	const char *path = str(r, "path");
	char sha[65], cmd[1400];
	struct rlrec d;
	size_t at = 0, s1 = 48000;

	RL_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(r, "complete")));
	RL_REQUIRE(rlrec_sha256_file(path, sha) == 0);
	RL_CHECK(strcmp(sha, str(r, "sha256")) == 0);
	RL_REQUIRE(rlrec_read(path, &d) == 0);
	RL_CHECK(d.channels == 2 && d.eos);
	RL_CHECK(strstr(d.tags, "RELAIS_TENANT=telco\n") && strstr(d.tags, "RELAIS_AGENT=a1\n") &&
	         strstr(d.tags, "RELAIS_CALLER=+212522000777\n") && strstr(d.tags, "RELAIS_QUEUE=telco.sales\n"));
	/* the whole call: about TALK_S seconds */
	RL_CHECK(d.frames > (size_t)(TALK_S - 2) * s1 && d.frames < (size_t)(TALK_S + 2) * s1);
	/* the caller left, the agent right, one second in */
	RL_CHECK(rlrec_tone(&d, 0, s1, s1, 440) > 0.05 && rlrec_tone(&d, 0, s1, s1, 1000) < 0.02);
	RL_CHECK(rlrec_tone(&d, 1, s1, s1, 1000) > 0.05 && rlrec_tone(&d, 1, s1, s1, 440) < 0.02);
	/* the pause: silence both sides, as long as it lasted (the hub's round trip aside) */
	int quiet = longest_silence(&d, &at);
	fprintf(stderr, "pause: %d ms of silence at %.2f s\n", quiet * 20, (double)at / 48000);
	RL_CHECK(quiet >= PLEN_S * 50 - 10 && quiet <= PLEN_S * 50 + 10);
	RL_CHECK(at > (size_t)(PAUSE_S - 1) * s1 && at < (size_t)(PAUSE_S + 2) * s1);
	/* and after it, both parties again */
	RL_CHECK(rlrec_tone(&d, 0, at + (size_t)(PLEN_S + 1) * s1, s1 / 2, 440) > 0.05);
	RL_CHECK(rlrec_tone(&d, 1, at + (size_t)(PLEN_S + 1) * s1, s1 / 2, 1000) > 0.05);
	rlrec_free(&d);
	snprintf(cmd, sizeof(cmd), "opusinfo %s | grep -q 'Channels: 2' && opusdec --quiet %s %s", path, path,
	         rlc_path(c, "decoded.wav"));
	RL_CHECK(rltest_run(cmd, rlc_path(c, "opus-tools.log")) == 0);
}

static void check_fetch(struct rlc *c, const char *node, const char *id, cJSON *r)
{
	char args[900], *out = NULL, cmd[2200];

	/* an admin at the node: the same bytes, in more than one chunk */
	snprintf(args, sizeof(args), "recordings fetch %s --out %s", id, rlc_path(c, "fetched.opus"));
	RL_CHECK(rlc_ctl(c, node, args, &out) == 0 && out && strstr(out, str(r, "sha256")) != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "cmp %s %s", str(r, "path"), rlc_path(c, "fetched.opus"));
	RL_CHECK(rltest_run(cmd, rlc_path(c, "cmp.log")) == 0);
	RL_CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "bytes")) > 49152);
	/* a supervisor of the telco: yes; of the bank: as if there were none; a noc: not here */
	snprintf(args, sizeof(args), "recordings fetch %s --out %s", id, rlc_path(c, "sup.opus"));
	RL_CHECK(rlc_ctl_as(c, "sup.telco", node, args, &out) == 0);
	free(out);
	snprintf(args, sizeof(args), "recordings fetch %s --out %s", id, rlc_path(c, "bank.opus"));
	RL_CHECK(rlc_ctl_as(c, "sup.bank", node, args, &out) == 1 && out && strstr(out, "no such recording"));
	free(out);
	RL_CHECK(rlc_ctl_as(c, "noc", node, args, &out) == 1);
	free(out);
}

static void check_scope(struct rlc *c, const char *telco_id, const char *bank_id)
{
	cJSON *j;
	char *out = NULL;

	j = list(c, "sup.telco", "");
	RL_CHECK(j && row(j, telco_id) && (bank_id[0] == 0 || !row(j, bank_id)));
	cJSON_Delete(j);
	if (bank_id[0]) {
		j = list(c, "sup.bank", "");
		RL_CHECK(j && row(j, bank_id) && !row(j, telco_id));
		cJSON_Delete(j);
	}
	RL_CHECK(rlc_ctl_as(c, "sup.telco", c->hub_url, "recordings --tenant bank", &out) == 1);
	free(out);
	RL_CHECK(rlc_ctl_as(c, "viewer", c->hub_url, "recordings", &out) == 1);
	free(out);
}

/* The percentage queue: six calls, recorded exactly as the rule draws. */
static void check_percentage(struct rlc *c, const char *node, char *bank_recorded, size_t cap)
{
	char ids[6][128];
	int want = 0, got = 0;

	bank_recorded[0] = 0;
	for (int i = 0; i < 6; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%s", submit(c, node, "bank", "bank.half"));
		RL_REQUIRE(ids[i][0]);
		RL_WAIT(30000, rlc_count_in_file(rlc_path(c, "agent-a2.log"), "event=wrapup") > i);
	}
	for (int i = 0; i < 6; i++) {
		int w = drawn(ids[i], 50);
		want += w;
		if (w) {
			RL_CHECK(RL_WAIT(20000, listed(c, ids[i])));
			snprintf(bank_recorded, cap, "%.64s", ids[i]);
		}
	}
	cJSON *j = list(c, "admin", "--tenant bank");
	for (int i = 0; i < 6; i++) {
		int is = j && row(j, ids[i]) != NULL;
		got += is;
		RL_CHECK(is == drawn(ids[i], 50));
	}
	cJSON_Delete(j);
	fprintf(stderr, "percentage: %d of 6 recorded, as drawn\n", got);
	RL_CHECK(got == want);
}

/* Fès: files may not grow past 40 KiB. The recording stops, the call goes on. */
static void check_disk_full(struct rlc *c)
{
	struct rlimit old, lim;
	char node_url[128], script[128];
	struct stat sb;
	char sha[65];

	RL_REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
	lim = old;
	lim.rlim_cur = 40 * 1024;
	snprintf(c->node_extra, sizeof(c->node_extra), "recording = { dir = \"%s\"; };", rlc_path(c, "rec-fes"));
	RL_REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	snprintf(node_url, sizeof(node_url), "%s", rlc_start_node(c, "fes", NULL, NULL));
	RL_REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
	snprintf(script, sizeof(script), "answer=0.2,talk=%d,wrap=0.5,fixed=1", TALK_S);
	rlc_start_agents(c, node_url, "a3", script, "agent-a3.log");
	RL_WAIT_REQUIRE(30000, rlc_agents_in(c, "a3", "READY"));
	const char *id = submit(c, node_url, "telco", "telco.fes");
	RL_REQUIRE(id[0]);
	char cid[128];
	snprintf(cid, sizeof(cid), "%s", id);
	RL_CHECK(RL_WAIT(30000, rlc_count_in_file(rlc_path(c, "node-fes.log"), "recording alarm") == 1));
	/* the call goes on to its end, the agent's hang-up after TALK_S */
	RL_CHECK(RL_WAIT(30000, rlc_count_in_file(rlc_path(c, "agent-a3.log"), "event=hangup") == 1));
	RL_CHECK(RL_WAIT(10000, rlc_count_in_file(rlc_path(c, "node-fes.log"), "media end") == 1));
	RL_CHECK(rlc_log_field(rlc_path(c, "node-fes.log"), "media end", "frames") > (TALK_S - 1) * 50);
	RL_CHECK(RL_WAIT(20000, listed(c, cid)));
	cJSON *j = list(c, "admin", "--tenant telco"), *r = j ? row(j, cid) : NULL;
	RL_CHECK(r && cJSON_IsFalse(cJSON_GetObjectItem(r, "complete")) && strstr(str(r, "error"), "File too large"));
	RL_CHECK(r && stat(str(r, "path"), &sb) == 0 && sb.st_size <= 40 * 1024 &&
	         (double)sb.st_size == cJSON_GetNumberValue(cJSON_GetObjectItem(r, "bytes")));
	RL_CHECK(r && rlrec_sha256_file(str(r, "path"), sha) == 0 && strcmp(sha, str(r, "sha256")) == 0);
	cJSON_Delete(j);
}

int main(void)
{
	struct rlc c;
	char casa[128], script[128], telco_id[128], none_id[128], bank_id[128], glob[1024];

	rlc_init(&c, "recording", 1);
	c.media = 1;
	tone_wav(rlc_path(&c, "caller.wav"), 440, 30);
	tone_wav(rlc_path(&c, "agent.wav"), 1000, 30);
	snprintf(c.caller_wav, sizeof(c.caller_wav), "%s", rlc_path(&c, "caller.wav"));
	snprintf(c.tenant_opts[0], sizeof(c.tenant_opts[0]), "recording = \"all\";");
	rlc_queue(&c, "{ id = \"telco.sales\"; tenant = \"telco\"; skills = { sales = 1; }; wrapup_s = 1; }");
	rlc_queue(&c, "{ id = \"telco.private\"; tenant = \"telco\"; skills = { sales = 1; }; wrapup_s = 1; "
	              "recording = \"none\"; }");
	rlc_queue(&c, "{ id = \"telco.fes\"; tenant = \"telco\"; skills = { fes = 1; }; wrapup_s = 1; }");
	rlc_queue(&c, "{ id = \"bank.half\"; tenant = \"bank\"; skills = { half = 1; }; wrapup_s = 1; "
	              "recording = \"50%\"; }");
	rlc_agent(&c, "a1", "telco", "sales = 5;", "casablanca");
	rlc_agent(&c, "a2", "bank", "half = 5;", "casablanca");
	rlc_agent(&c, "a3", "telco", "fes = 5;", "fes");
	rlc_start_hub(&c);
	snprintf(c.node_extra, sizeof(c.node_extra), "recording = { dir = \"%s\"; };", rlc_path(&c, "rec"));
	snprintf(casa, sizeof(casa), "%s", rlc_start_node(&c, "casablanca", NULL, NULL));
	snprintf(c.agent_extra, sizeof(c.agent_extra), "--audio-in %s", rlc_path(&c, "agent.wav"));
	snprintf(script, sizeof(script), "answer=0.2,talk=%d,wrap=0.5,fixed=1,pause=%d,pauselen=%d", TALK_S, PAUSE_S,
	         PLEN_S);
	rlc_start_agents(&c, casa, "a1", script, "agent-a1.log");
	rlc_start_agents(&c, casa, "a2", "answer=0.2,talk=1,wrap=0.2,fixed=1", "agent-a2.log");
	RL_WAIT_REQUIRE(30000, rlc_agents_in(&c, "a1,a2", "READY"));

	/* 1. A recorded call with a pause. */
	snprintf(telco_id, sizeof(telco_id), "%s", submit(&c, casa, "telco", "telco.sales"));
	RL_REQUIRE(telco_id[0]);
	RL_CHECK(RL_WAIT(30000, rlc_count_in_file(rlc_path(&c, "agent-a1.log"), "event=recording state=on") >= 1));
	RL_CHECK(RL_WAIT(30000, rlc_count_in_file(rlc_path(&c, "agent-a1.log"), "event=recording state=paused") == 1));
	RL_WAIT_REQUIRE(40000, listed(&c, telco_id));
	cJSON *j = list(&c, "admin", ""), *r = row(j, telco_id);
	RL_REQUIRE(r != NULL);
	RL_CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "pauses")) == 1);
	check_file(&c, r);
	check_fetch(&c, casa, telco_id, r);
	cJSON_Delete(j);

	/* 2. A queue that records nothing. */
	snprintf(none_id, sizeof(none_id), "%s", submit(&c, casa, "telco", "telco.private"));
	RL_REQUIRE(none_id[0]);
	RL_CHECK(RL_WAIT(40000, rlc_count_in_file(rlc_path(&c, "agent-a1.log"), "event=wrapup") == 2));
	snprintf(glob, sizeof(glob), "rec/*/*/%s-*.opus", none_id);
	RL_CHECK(!rlc_find_file(&c, glob, glob, sizeof(glob)));
	RL_CHECK(!listed(&c, none_id));
	snprintf(glob, sizeof(glob), "event=recording state=on contact=%s", none_id);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-a1.log"), glob) == 0);
	snprintf(glob, sizeof(glob), "event=recording state=on contact=%s", telco_id);
	RL_CHECK(rlc_count_in_file(rlc_path(&c, "agent-a1.log"), glob) == 2); /* at answer, at resume */

	/* 3. Half of the bank's calls; 4. who sees what. */
	check_percentage(&c, casa, bank_id, sizeof(bank_id));
	check_scope(&c, telco_id, bank_id);

	/* 5. A disk that fills up. */
	check_disk_full(&c);
	rlc_stop_all(&c);
	return rltest_done();
}
