/*
 * etcd.h - a small client of etcd's v3 JSON gateway (grpc-gateway: POST /v3/...), over
 * libcurl, for the hub's leader election (ha.h). Keys and values travel base64-encoded and
 * 64-bit integers as decimal strings, as the gateway renders them; every JSON text is built
 * and parsed with cJSON.
 *
 * A client holds a list of endpoints (the members of one etcd cluster) and the one it last
 * reached. Each call tries that endpoint, then the next ones in turn, each attempt bounded by
 * the client's attempt timeout and the whole call by the budget the caller gives, so a call
 * never outlives the time its caller can wait. Not thread-safe: one thread uses a client.
 */
#ifndef RL_ETCD_H
#define RL_ETCD_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The longest response body read from a member; longer answers are refused (RL_ETOOBIG). */
#define RL_ETCD_BODY_MAX (64 * 1024)
/* The longest key or value this client writes or reads back. */
#define RL_ETCD_VALUE_MAX 1024

struct rl_etcd;

/* One key as read: present 0 when the key does not exist (then the rest is zero). */
struct rl_etcd_kv {
	int present;
	int64_t create_rev, mod_rev, lease;
	size_t value_len;
	char value[RL_ETCD_VALUE_MAX + 1]; /* NUL-terminated copy of the value */
};

/*
 * rl_etcd_create makes a client into *out for endpoints, a comma-separated list of client
 * URLs ("http://10.0.0.1:2379,http://10.0.0.2:2379"; copied), each attempt on one endpoint
 * bounded by attempt_ms. Errors: RL_EINVAL (no endpoint, or attempt_ms < 1).
 */
int rl_etcd_create(struct rl_etcd **out, const char *endpoints, int attempt_ms);

/* rl_etcd_destroy frees c (NULL is fine). */
void rl_etcd_destroy(struct rl_etcd *c);

/* rl_etcd_endpoints returns how many endpoints c has. */
int rl_etcd_endpoints(const struct rl_etcd *c);

/*
 * rl_etcd_call posts req (not taken) to path ("/v3/kv/range") and stores the parsed answer
 * in *resp (the caller frees it with cJSON_Delete). budget_ms bounds the whole call.
 * Errors: RL_ETIMEDOUT (no member answered in time), RL_ENET (none reachable), RL_ENOENT
 * (etcd's NotFound: an unknown lease), RL_EIO (an error answer), RL_EPROTO (not JSON),
 * RL_ETOOBIG (answer over RL_ETCD_BODY_MAX).
 */
int rl_etcd_call(struct rl_etcd *c, const char *path, const cJSON *req, int budget_ms, cJSON **resp);

/* rl_etcd_grant asks for a lease of ttl_s seconds; *lease its id, *granted_s the TTL etcd
 * gave. Errors: those of rl_etcd_call, RL_EPROTO (no id in the answer). */
int rl_etcd_grant(struct rl_etcd *c, int ttl_s, int budget_ms, int64_t *lease, int64_t *granted_s);

/* rl_etcd_keepalive renews lease once; *ttl_s is its TTL from now, 0 if etcd no longer has
 * it (expired or revoked). Errors: those of rl_etcd_call. */
int rl_etcd_keepalive(struct rl_etcd *c, int64_t lease, int budget_ms, int64_t *ttl_s);

/* rl_etcd_revoke ends lease and deletes the keys attached to it. An unknown lease is no
 * error. Errors: those of rl_etcd_call. */
int rl_etcd_revoke(struct rl_etcd *c, int64_t lease, int budget_ms);

/* rl_etcd_get reads key into *kv. Errors: those of rl_etcd_call, RL_EINVAL (key over
 * RL_ETCD_VALUE_MAX), RL_ETOOBIG (value over RL_ETCD_VALUE_MAX), RL_EPROTO (bad base64). */
int rl_etcd_get(struct rl_etcd *c, const char *key, int budget_ms, struct rl_etcd_kv *kv);

/*
 * rl_etcd_create_key writes key = value attached to lease only if the key does not exist
 * (one transaction comparing its create revision with 0). *won says whether this write made
 * it; either way *kv is the key as the transaction left it (ours, or the holder's).
 * Errors: those of rl_etcd_get; RL_EINVAL (key or value over RL_ETCD_VALUE_MAX).
 */
int rl_etcd_create_key(struct rl_etcd *c, const char *key, const char *value, int64_t lease, int budget_ms, int *won,
                       struct rl_etcd_kv *kv);

/*
 * rl_etcd_put_guarded writes key = value (no lease) only if guard's create revision is
 * guard_rev (a leader writes only while its leader key is the one it created: the term's
 * fencing token). *done says whether it was written. Errors: those of rl_etcd_call,
 * RL_EINVAL (a key or the value over RL_ETCD_VALUE_MAX).
 */
int rl_etcd_put_guarded(struct rl_etcd *c, const char *key, const char *value, const char *guard, int64_t guard_rev,
                        int budget_ms, int *done);

/* rl_etcd_delete deletes key whatever holds it (a forced takeover when it is a leader key).
 * Errors: those of rl_etcd_call, RL_EINVAL (key over RL_ETCD_VALUE_MAX). */
int rl_etcd_delete(struct rl_etcd *c, const char *key, int budget_ms);

#endif
