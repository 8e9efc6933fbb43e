/*
 * etcd.c - etcd's v3 JSON gateway over libcurl (etcd.h).
 *
 * The gateway maps each gRPC call to POST /v3/<service>/<method> with the request message as
 * JSON; proto3 leaves zero values out, so an absent field reads as 0 (a keepalive without
 * "TTL" means the lease is gone, a transaction without "succeeded" failed its compare).
 */
#include "etcd.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl_alloc.h"
#include "rl_err.h"
#include "rl_log.h"
#include "rl_time.h"

/* etcd's gRPC code for NotFound (an unknown lease). */
#define ETCD_NOT_FOUND 5

struct rl_etcd {
	char **urls;
	int n, cur; /* cur: the endpoint that answered last, tried first */
	int attempt_ms;
	CURL *curl;
	struct curl_slist *headers;
	char *body; /* the current answer, RL_ETCD_BODY_MAX + 1 bytes */
	size_t len;
	int over; /* the answer was longer than RL_ETCD_BODY_MAX */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* Once per process: curl's global state, and cJSON allocating as the rest of Relais does
 * (running out of memory aborts), so no cJSON call below returns NULL for want of memory. */
static void curl_start(void)
{
	static cJSON_Hooks hooks = {.malloc_fn = rl_malloc, .free_fn = free};

	cJSON_InitHooks(&hooks);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		rl_oom_in("curl_global_init");
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct rl_etcd *c = arg;
	size_t len = size * n;

	if (len > RL_ETCD_BODY_MAX - c->len) {
		c->over = 1;
		return 0; /* makes curl fail the transfer */
	}
	memcpy(c->body + c->len, p, len);
	c->len += len;
	return len;
}

static void split_endpoints(struct rl_etcd *c, const char *endpoints)
{
	char *copy = rl_strdup(endpoints), *save = NULL, *tok;

	for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		c->urls = rl_realloc(c->urls, (size_t)(c->n + 1) * sizeof(*c->urls));
		c->urls[c->n++] = rl_strdup(tok);
	}
	free(copy);
}

int rl_etcd_create(struct rl_etcd **out, const char *endpoints, int attempt_ms)
{
	struct rl_etcd *c;

	*out = NULL;
	if (!endpoints || attempt_ms < 1)
		return RL_EINVAL;
	pthread_once(&curl_once, curl_start);
	c = rl_calloc(1, sizeof(*c));
	split_endpoints(c, endpoints);
	if (c->n == 0) {
		rl_etcd_destroy(c);
		return RL_EINVAL;
	}
	c->attempt_ms = attempt_ms;
	c->body = rl_malloc(RL_ETCD_BODY_MAX + 1);
	if (!(c->curl = curl_easy_init()))
		rl_oom_in("curl_easy_init");
	if (!(c->headers = curl_slist_append(NULL, "Content-Type: application/json")))
		rl_oom_in("curl_slist_append");
	/* NOSIGNAL: timeouts without SIGALRM, which a threaded process cannot take. */
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	*out = c;
	return RL_OK;
}

void rl_etcd_destroy(struct rl_etcd *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		free(c->urls[i]);
	free(c->urls);
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	free(c->body);
	free(c);
}

int rl_etcd_endpoints(const struct rl_etcd *c)
{
	return c->n;
}

/* An error answer: {"error": ..., "code": N}. NotFound is the one code callers tell apart. */
static int error_answer(struct rl_etcd *c, long status)
{
	cJSON *o = cJSON_ParseWithLength(c->body, c->len);
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "code");
	int rv = (cJSON_IsNumber(code) && code->valueint == ETCD_NOT_FOUND) ? RL_ENOENT : RL_EIO;

	rl_log(RL_LOG_DEBUG, "etcd error status=%ld body=%.*s", status, (int)c->len, c->body);
	cJSON_Delete(o);
	return rv;
}

/* One POST to one endpoint within timeout_ms. */
static int post_once(struct rl_etcd *c, const char *url, const char *path, const char *req, int timeout_ms,
                     cJSON **resp)
{
	char full[512];
	long status = 0;
	CURLcode cc;

	snprintf(full, sizeof(full), "%s%s", url, path);
	c->len = 0;
	c->over = 0;
	curl_easy_setopt(c->curl, CURLOPT_URL, full);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, req);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	cc = curl_easy_perform(c->curl);
	if (c->over)
		return RL_ETOOBIG;
	if (cc != CURLE_OK) {
		rl_log(RL_LOG_DEBUG, "etcd unreachable url=%s error=\"%s\"", full, curl_easy_strerror(cc));
		return cc == CURLE_OPERATION_TIMEDOUT ? RL_ETIMEDOUT : RL_ENET;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return error_answer(c, status);
	if (!(*resp = cJSON_ParseWithLength(c->body, c->len)))
		return RL_EPROTO;
	return RL_OK;
}

int rl_etcd_call(struct rl_etcd *c, const char *path, const cJSON *req, int budget_ms, cJSON **resp)
{
	char *text = cJSON_PrintUnformatted(req);
	uint64_t end = rl_mono_us() + (uint64_t)(budget_ms > 0 ? budget_ms : 0) * 1000u;
	int rv = RL_ETIMEDOUT;

	*resp = NULL;
	if (!text)
		rl_oom_in("cJSON_PrintUnformatted");
	for (int i = 0; i < c->n; i++) {
		uint64_t now = rl_mono_us();
		int left_ms = now < end ? (int)((end - now) / 1000u) : 0;

		if (left_ms < 1)
			break;
		rv = post_once(c, c->urls[c->cur], path, text, left_ms < c->attempt_ms ? left_ms : c->attempt_ms, resp);
		/* An answer, even NotFound, is etcd's word: another member would say the same. */
		if (rv == RL_OK || rv == RL_ENOENT)
			break;
		c->cur = (c->cur + 1) % c->n;
	}
	cJSON_free(text);
	return rv;
}

/* The gateway writes 64-bit integers as strings; read either form, absent as 0. */
static int64_t json_i64(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_IsString(v))
		return strtoll(v->valuestring, NULL, 10);
	if (cJSON_IsNumber(v))
		return (int64_t)v->valuedouble;
	return 0;
}

static void add_i64(cJSON *o, const char *name, int64_t v)
{
	char text[24];

	snprintf(text, sizeof(text), "%" PRId64, v);
	cJSON_AddStringToObject(o, name, text);
}

/* add_b64 adds name = base64(s); s is at most RL_ETCD_VALUE_MAX bytes (checked by callers). */
static void add_b64(cJSON *o, const char *name, const char *s)
{
	char text[sodium_base64_ENCODED_LEN(RL_ETCD_VALUE_MAX, sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(text, sizeof(text), (const unsigned char *)s, strlen(s), sodium_base64_VARIANT_ORIGINAL);
	cJSON_AddStringToObject(o, name, text);
}

/* A request with one 64-bit field, such as {"ID": "123"}: the lease calls. */
static int lease_call(struct rl_etcd *c, const char *path, const char *field, int64_t v, int budget_ms, cJSON **resp)
{
	cJSON *req = cJSON_CreateObject();
	int rv;

	add_i64(req, field, v);
	rv = rl_etcd_call(c, path, req, budget_ms, resp);
	cJSON_Delete(req);
	return rv;
}

int rl_etcd_grant(struct rl_etcd *c, int ttl_s, int budget_ms, int64_t *lease, int64_t *granted_s)
{
	cJSON *resp;
	int rv;

	if ((rv = lease_call(c, "/v3/lease/grant", "TTL", ttl_s, budget_ms, &resp)) != RL_OK)
		return rv;
	*lease = json_i64(resp, "ID");
	*granted_s = json_i64(resp, "TTL");
	cJSON_Delete(resp);
	return *lease != 0 && *granted_s > 0 ? RL_OK : RL_EPROTO;
}

int rl_etcd_keepalive(struct rl_etcd *c, int64_t lease, int budget_ms, int64_t *ttl_s)
{
	cJSON *resp;
	int rv;

	/* A stream on the gRPC side: the gateway answers each request as {"result": ...}. */
	if ((rv = lease_call(c, "/v3/lease/keepalive", "ID", lease, budget_ms, &resp)) != RL_OK)
		return rv;
	*ttl_s = json_i64(cJSON_GetObjectItemCaseSensitive(resp, "result"), "TTL");
	cJSON_Delete(resp);
	return RL_OK;
}

int rl_etcd_revoke(struct rl_etcd *c, int64_t lease, int budget_ms)
{
	cJSON *resp = NULL;
	int rv = lease_call(c, "/v3/lease/revoke", "ID", lease, budget_ms, &resp);

	cJSON_Delete(resp);
	return rv == RL_ENOENT ? RL_OK : rv;
}

/* read_kv fills kv from a range answer ({"kvs": [...]}, no "kvs" when the key is absent). */
static int read_kv(const cJSON *range, struct rl_etcd_kv *kv)
{
	const cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(range, "kvs"), 0);
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(item, "value");
	const char *b64 = cJSON_IsString(value) ? value->valuestring : "";

	memset(kv, 0, sizeof(*kv));
	if (!cJSON_IsObject(item))
		return RL_OK;
	kv->present = 1;
	kv->create_rev = json_i64(item, "create_revision");
	kv->mod_rev = json_i64(item, "mod_revision");
	kv->lease = json_i64(item, "lease");
	if (strlen(b64) > sodium_base64_ENCODED_LEN(RL_ETCD_VALUE_MAX, sodium_base64_VARIANT_ORIGINAL))
		return RL_ETOOBIG;
	if (sodium_base642bin((unsigned char *)kv->value, RL_ETCD_VALUE_MAX, b64, strlen(b64), NULL, &kv->value_len,
	                      NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return RL_EPROTO;
	kv->value[kv->value_len] = '\0';
	return RL_OK;
}

static cJSON *key_request(const char *key)
{
	cJSON *o = cJSON_CreateObject();

	add_b64(o, "key", key);
	return o;
}

/* A request that names one key, such as {"key": "..."}: range and deleterange. */
static int key_call(struct rl_etcd *c, const char *path, const char *key, int budget_ms, cJSON **resp)
{
	cJSON *req;
	int rv;

	*resp = NULL;
	if (strlen(key) > RL_ETCD_VALUE_MAX)
		return RL_EINVAL;
	req = key_request(key);
	rv = rl_etcd_call(c, path, req, budget_ms, resp);
	cJSON_Delete(req);
	return rv;
}

int rl_etcd_get(struct rl_etcd *c, const char *key, int budget_ms, struct rl_etcd_kv *kv)
{
	cJSON *resp;
	int rv;

	if ((rv = key_call(c, "/v3/kv/range", key, budget_ms, &resp)) != RL_OK)
		return rv;
	rv = read_kv(resp, kv);
	cJSON_Delete(resp);
	return rv;
}

/* op returns {name: item}, one request of a transaction's branch; item is taken. */
static cJSON *op(const char *name, cJSON *item)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddItemToObject(o, name, item);
	return o;
}

/* The transaction: if create_revision(key) == 0 then put key (with lease) and read it back,
 * else read it. Both branches end with the key's range, so the answer names its holder. */
static cJSON *create_txn(const char *key, const char *value, int64_t lease)
{
	cJSON *txn = cJSON_CreateObject(), *cmp = key_request(key), *put = key_request(key);
	cJSON *ok = cJSON_AddArrayToObject(txn, "success"), *ko = cJSON_AddArrayToObject(txn, "failure");

	cJSON_AddStringToObject(cmp, "target", "CREATE");
	cJSON_AddStringToObject(cmp, "result", "EQUAL");
	add_i64(cmp, "create_revision", 0);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(txn, "compare"), cmp);
	add_b64(put, "value", value);
	add_i64(put, "lease", lease);
	cJSON_AddItemToArray(ok, op("request_put", put));
	cJSON_AddItemToArray(ok, op("request_range", key_request(key)));
	cJSON_AddItemToArray(ko, op("request_range", key_request(key)));
	return txn;
}

int rl_etcd_create_key(struct rl_etcd *c, const char *key, const char *value, int64_t lease, int budget_ms, int *won,
                       struct rl_etcd_kv *kv)
{
	cJSON *req, *resp, *last;
	int rv;

	*won = 0;
	if (strlen(key) > RL_ETCD_VALUE_MAX || strlen(value) > RL_ETCD_VALUE_MAX)
		return RL_EINVAL;
	req = create_txn(key, value, lease);
	rv = rl_etcd_call(c, "/v3/kv/txn", req, budget_ms, &resp);
	cJSON_Delete(req);
	if (rv != RL_OK)
		return rv;
	*won = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "succeeded"));
	/* The range is the last response of either branch. */
	last = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(resp, "responses"), *won ? 1 : 0);
	rv = read_kv(cJSON_GetObjectItemCaseSensitive(last, "response_range"), kv);
	cJSON_Delete(resp);
	return rv;
}

int rl_etcd_put_guarded(struct rl_etcd *c, const char *key, const char *value, const char *guard, int64_t guard_rev,
                        int budget_ms, int *done)
{
	cJSON *txn, *cmp, *put, *resp;
	int rv;

	*done = 0;
	if (strlen(key) > RL_ETCD_VALUE_MAX || strlen(value) > RL_ETCD_VALUE_MAX || strlen(guard) > RL_ETCD_VALUE_MAX)
		return RL_EINVAL;
	txn = cJSON_CreateObject();
	cmp = key_request(guard);
	put = key_request(key);
	cJSON_AddStringToObject(cmp, "target", "CREATE");
	cJSON_AddStringToObject(cmp, "result", "EQUAL");
	add_i64(cmp, "create_revision", guard_rev);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(txn, "compare"), cmp);
	add_b64(put, "value", value);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(txn, "success"), op("request_put", put));
	rv = rl_etcd_call(c, "/v3/kv/txn", txn, budget_ms, &resp);
	cJSON_Delete(txn);
	if (rv != RL_OK)
		return rv;
	*done = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "succeeded"));
	cJSON_Delete(resp);
	return RL_OK;
}

int rl_etcd_delete(struct rl_etcd *c, const char *key, int budget_ms)
{
	cJSON *resp;
	int rv = key_call(c, "/v3/kv/deleterange", key, budget_ms, &resp);

	cJSON_Delete(resp);
	return rv;
}
