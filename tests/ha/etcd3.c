/*
 * etcd3.c - a three-member etcd on loopback for tests (etcd3.h).
 */
#include "etcd3.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rltest.h"

static void etcd3_member(struct etcd3 *e, int i, const char *etcd, const char *cluster)
{
	char name[8], data[600], curls[64], purls[64], log[600];
	char *argv[] = {(char *)etcd, "--name", name, "--data-dir", data, "--listen-client-urls", curls,
	                "--advertise-client-urls", curls, "--listen-peer-urls", purls, "--initial-advertise-peer-urls",
	                purls, "--initial-cluster", (char *)cluster, "--initial-cluster-state", "new",
	                "--initial-cluster-token", "relais-test",
	                /* loopback: elections in about a second, not five */
	                "--heartbeat-interval", "50", "--election-timeout", "500", NULL};

	snprintf(name, sizeof(name), "m%d", i);
	snprintf(data, sizeof(data), "%s/m%d", e->dir, i);
	snprintf(curls, sizeof(curls), "http://%s:%d", e->ip, e->client[i]);
	snprintf(purls, sizeof(purls), "http://%s:%d", e->ip, e->peer[i]);
	snprintf(log, sizeof(log), "%s/etcd-m%d.log", e->dir, i);
	e->pid[i] = rltest_spawn(argv, log);
}

void etcd3_start_at(struct etcd3 *e, const char *dir, const char *ip)
{
	const char *etcd = getenv("ETCD");
	char cluster[256];
	int n = 0;

	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "%s", dir);
	snprintf(e->ip, sizeof(e->ip), "%s", ip);
	if (!etcd || !*etcd || access(etcd, X_OK) != 0) {
		fprintf(stderr, "no etcd (ETCD=%s): install etcd-server (deploy/deps.sh --test)\n", etcd ? etcd : "");
		exit(1);
	}
	for (int i = 0; i < 3; i++) {
		e->client[i] = rltest_free_port();
		e->peer[i] = rltest_free_port();
		n += snprintf(cluster + n, sizeof(cluster) - (size_t)n, "%sm%d=http://%s:%d", i ? "," : "", i, ip,
		              e->peer[i]);
	}
	snprintf(e->endpoints, sizeof(e->endpoints), "http://%s:%d,http://%s:%d,http://%s:%d", ip, e->client[0], ip,
	         e->client[1], ip, e->client[2]);
	for (int i = 0; i < 3; i++)
		etcd3_member(e, i, etcd, cluster);
}

void etcd3_start(struct etcd3 *e, const char *dir)
{
	etcd3_start_at(e, dir, "127.0.0.1");
}

void etcd3_kill(struct etcd3 *e, int i)
{
	if (e->pid[i] > 0)
		rltest_stop(e->pid[i], SIGKILL, 5000);
	e->pid[i] = 0;
}

void etcd3_stop(struct etcd3 *e)
{
	for (int i = 0; i < 3; i++)
		etcd3_kill(e, i);
}
