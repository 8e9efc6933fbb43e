/*
 * rlpair.c - a hub pair on loopback (rlpair.h).
 */
#include "rlpair.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "rltest.h"

/* rlp_conf writes hub h's config: the cluster's, plus its `ha` group naming peer. */
static void rlp_conf(struct rlpair *p, struct rlp_hub *h, const struct rlp_hub *peer, const char *peer_pub, int ttl_s)
{
	struct rlc *c = p->c;

	snprintf(c->top_extra, sizeof(c->top_extra),
	         "ha = { etcd = \"%s\"; key = \"/relais/test\"; name = \"%s\"; advertise = \"%s\";\n"
	         "  repl_listen = \"%s\"; key_file = \"%s/keys/%s.key\"; ttl_s = %d; sync = \"prefer\";\n"
	         "  peers = ( { name = \"%s\"; key = \"%s\"; } ); };\n",
	         p->e3.endpoints, h->name, h->url, h->repl, c->dir, h->name, ttl_s, peer->name, peer_pub);
	snprintf(h->conf, sizeof(h->conf), "%s.conf", h->name);
	rlc_write_hub_conf_as(c, h->conf, h->name, h->name, h->url);
	c->top_extra[0] = 0;
}

void rlp_init(struct rlpair *p, struct rlc *c, int ttl_s)
{
	char pub[2][64];

	memset(p, 0, sizeof(*p));
	p->c = c;
	p->hubs[0].name = "hub-a";
	p->hubs[1].name = "hub-b";
	etcd3_start(&p->e3, c->dir);
	for (int i = 0; i < 2; i++) {
		struct rlp_hub *h = &p->hubs[i];
		snprintf(h->url, sizeof(h->url), "tls+tcp://127.0.0.1:%d", rltest_free_port());
		snprintf(h->repl, sizeof(h->repl), "tls+tcp://127.0.0.1:%d", rltest_free_port());
		rlc_keygen(c, h->name, pub[i], sizeof(pub[i]));
	}
	rlp_conf(p, &p->hubs[0], &p->hubs[1], pub[1], ttl_s);
	rlp_conf(p, &p->hubs[1], &p->hubs[0], pub[0], ttl_s);
	snprintf(c->hub_url, sizeof(c->hub_url), "%s,%s", p->hubs[0].url, p->hubs[1].url);
}

void rlp_start(struct rlpair *p, struct rlp_hub *h)
{
	char *argv[] = {(char *)rltest_bin("hub/relais-hub"), "-c", (char *)rlc_path(p->c, h->conf), NULL};

	snprintf(h->log, sizeof(h->log), "%s-%d.log", h->name, ++h->starts);
	h->pid = rltest_spawn(argv, rlc_path(p->c, h->log));
}

int rlp_leads(const struct rlpair *p, const struct rlp_hub *h)
{
	return h->pid > 0 && rlc_count_in_file(rlc_path(p->c, h->log), "hub leads") > 0;
}

int rlp_synced(const struct rlpair *p, const struct rlp_hub *h, const struct rlp_hub *standby)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "ha sync standby=%s", standby->name);
	return rlp_leads(p, h) && rlc_count_in_file(rlc_path(p->c, h->log), needle) > 0;
}

void rlp_stop(struct rlpair *p)
{
	for (int i = 0; i < 2; i++)
		if (p->hubs[i].pid > 0)
			rltest_stop(p->hubs[i].pid, SIGKILL, 5000);
	for (int i = 0; i < 2; i++)
		p->hubs[i].pid = 0;
	etcd3_stop(&p->e3);
}
