/*
 * relais-bench-failover - failover cases on real links, at a carrier's call rate: the figures
 * of each case against their goals. bench/failover builds and runs it; the harness (the
 * cluster in network namespaces, the carrier's calls, the ledger) is the failover test's,
 * tests/failover/.
 *
 *   relais-bench-failover [--rate R] [--warm S] [--fault S] [--after S] [--agents N]
 *                         [--answer S] [--talk S] [--patience S] [--site ID] [--cases "kill ..."]
 *
 * Each case on the same cluster, healthy again before it: R calls a second through the SBC,
 * the fault after --warm s, the heal after --fault s, calls for --after s more, then every
 * call is left to end. Agents: N seated at each site, answering after --answer s, talking
 * --talk s, 0.3 s of wrap-up. Dakar is survivable (it serves alone when it loses the hub):
 * the cut case cuts it off; --site (default casablanca) is the site the kill, the freeze and
 * the drain hit.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcase.h"
#include "rltest.h"

static struct fc g_fc;

static void cleanup(void)
{
	fc_close(&g_fc);
}

static void on_signal(int sig)
{
	/* The harness's watchdog stops what we started and removes the namespaces. */
	_exit(128 + sig);
}

struct opts {
	double rate, answer, talk, patience;
	int warm, fault, after, agents, site;
	char cases[128];
};

static int parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.rate = 50,
	                   .answer = 0.5,
	                   .talk = 1,
	                   .patience = 10,
	                   .warm = 10,
	                   .fault = 20,
	                   .after = 10,
	                   .agents = 60,
	                   .site = 0};
	snprintf(o->cases, sizeof(o->cases), "kill freeze cut drain partition");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL)
			return -1;
		if (strcmp(a, "--rate") == 0)
			o->rate = atof(v);
		else if (strcmp(a, "--warm") == 0)
			o->warm = atoi(v);
		else if (strcmp(a, "--fault") == 0)
			o->fault = atoi(v);
		else if (strcmp(a, "--after") == 0)
			o->after = atoi(v);
		else if (strcmp(a, "--agents") == 0)
			o->agents = atoi(v);
		else if (strcmp(a, "--answer") == 0)
			o->answer = atof(v);
		else if (strcmp(a, "--talk") == 0)
			o->talk = atof(v);
		else if (strcmp(a, "--patience") == 0)
			o->patience = atof(v);
		else if (strcmp(a, "--site") == 0 && (o->site = fc_site_idx(v)) < 0)
			return -1;
		else if (strcmp(a, "--cases") == 0)
			snprintf(o->cases, sizeof(o->cases), "%s", v);
		else if (strcmp(a, "--site") != 0)
			return -1;
		i++;
	}
	return o->rate > 0 && o->agents > 0 && o->agents <= 99 && o->fault > 0 ? 0 : -1;
}

static void secs(char *buf, size_t len, double ms)
{
	if (ms < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f s", ms / 1000.0);
}

static void pct(char *buf, size_t len, int n, int of)
{
	if (of == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f %% (%d/%d)", 100.0 * n / of, n, of);
}

/* can_take: how many of the new calls given to the site serving alone its agents could take:
 * each agent takes one call every answer + talk + wrap-up seconds while it serves alone (from
 * the node's detection of the loss to the heal). */
static int can_take(const struct opts *o, const struct fc_plan *p, const struct fc_result *r)
{
	double alone_s = p->fault_s - (r->node_detect_ms > 0 ? r->node_detect_ms / 1000.0 : 0);
	double n = o->agents * alone_s / (o->answer + o->talk + 0.3);

	return n < r->alone_calls ? (int)n : r->alone_calls;
}

/* row prints a case's figures under the table's header. */
static void row(const struct opts *o, const struct fc_plan *p, const struct fc_result *r)
{
	char det[16], sbc[16], sw[16], fail[32], back[16], lost[16], drained[16], alone[32], ans[32], none[16];

	secs(det, sizeof(det), r->detect_ms);
	secs(sbc, sizeof(sbc), r->sbc_detect_ms);
	secs(sw, sizeof(sw), r->switch_ms);
	secs(back, sizeof(back), r->recover_ms);
	pct(fail, sizeof(fail), r->switch_failed, r->switch_calls);
	snprintf(lost, sizeof(lost), "%s", p->kind == FC_PARTITION ? "-" : "");
	if (!lost[0])
		snprintf(lost, sizeof(lost), "%d", r->lost_elsewhere);
	snprintf(drained, sizeof(drained), "%s", p->kind == FC_DRAIN ? "" : "-");
	if (!drained[0])
		snprintf(drained, sizeof(drained), "%d of %d", r->drained_lost, r->drained_waiting);
	if (r->alone_calls > 0)
		snprintf(alone, sizeof(alone), "%d/%d (%d)", r->alone_answered, r->alone_calls, can_take(o, p, r));
	else
		snprintf(alone, sizeof(alone), "-");
	snprintf(ans, sizeof(ans), "%d / %d", r->st_answered, r->carrier_answered);
	snprintf(none, sizeof(none), "%d", r->phantoms + r->unreached);
	printf("%-18s %7s %7s %7s %18s %9s %12s %16s %5d %9s %13s %8s\n", r->name, det, sbc, sw, fail, lost, drained,
	       alone, r->duplicates, none, ans, back);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct fc_opts fo;
	struct fc_plan plans[FC_NKINDS];
	struct fc_result res[FC_NKINDS];
	char why[300], script[128];
	int n = 0, rv;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse(argc, argv, &o) != 0) {
		fprintf(stderr,
		        "usage: relais-bench-failover [--rate R] [--warm S] [--fault S] [--after S] [--agents N] "
		        "[--answer S] [--talk S] [--patience S] [--site ID] [--cases \"kill freeze cut drain "
		        "partition\"]\n");
		return 2;
	}
	snprintf(script, sizeof(script), "answer=%.2f,talk=%.2f,wrap=0.3,fixed=1", o.answer, o.talk);
	fo = (struct fc_opts){.agents = o.agents, .script = script, .survivable = "dakar"};
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rv = fc_open(&g_fc, &fo, why, sizeof(why));
	if (rv != 0) {
		fprintf(stderr, "relais-bench-failover: %s\n", why);
		return rv == 1 ? 77 : 1;
	}
	atexit(cleanup);
	printf("cluster: %s (every process's log)\n", g_fc.c.dir);
	printf("agents: %d seated at each of 3 sites, %s, no audio; calls: %.0f/s through Kamailio, patience %.0f s;"
	       " dakar survivable\n",
	       o.agents, script, o.rate, o.patience);
	for (int k = 0; k < FC_NKINDS; k++) {
		if (strstr(o.cases, fc_kind_name((enum fc_kind)k)) == NULL)
			continue;
		/* The cut is of dakar, the survivable site: it serves alone meanwhile. */
		plans[n] = (struct fc_plan){.kind = (enum fc_kind)k,
		                            .site = k == FC_CUT ? fc_site_idx(fo.survivable) : o.site,
		                            .rate = o.rate,
		                            .warm_s = o.warm,
		                            .fault_s = o.fault,
		                            .after_s = o.after,
		                            .patience_ms = (int)(o.patience * 1000),
		                            .bye_ms = (int)(o.talk * 1000) + o.fault * 1000 + 10000,
		                            .num = k + 1};
		if (fc_case_run(&g_fc, &plans[n], &res[n]) != 0) {
			printf("%s: the cluster did not get healthy; stopped\n", fc_kind_name((enum fc_kind)k));
			break;
		}
		fc_result_print(&res[n], stdout);
		n++;
	}
	printf("\n%-18s %7s %7s %7s %18s %9s %12s %16s %5s %9s %13s %8s\n", "case", "detect", "SBC", "switch",
	       "new calls failed", "lost", "drained", "served alone", "", "answered", "answered", "back");
	printf("%-18s %7s %7s %7s %18s %9s %12s %16s %5s %9s %13s %8s\n", "", "", "down", "", "in the first 5 s",
	       "elsewhere", "waiting lost", "answered/given", "dups", "no caller", "hub / carrier", "at heal");
	printf("%-18s %7s %7s %7s %18s %9s %12s %16s %5s %9s %13s %8s\n", "goal", "<= 3 s", "", "<= 5 s", "<= 2 %", "0",
	       "0", "(could take)", "0", "0", "equal", "");
	for (int i = 0; i < n; i++)
		row(&o, &plans[i], &res[i]);
	return 0;
}
