/*
 * rl_htab.h - an open-addressing hash table from 64-bit keys to pointers.
 *
 * String-keyed tables hash the string with rl_htab_hash and pass an equality callback that
 * compares the stored object's own key, so a 64-bit hash collision is still told apart.
 * Deletion uses backward-shift, so there are no tombstones and lookups stay short.
 */
#ifndef RL_HTAB_H
#define RL_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct rl_htab_ent {
	uint64_t h;
	void *val; /* NULL = empty slot */
};

struct rl_htab {
	struct rl_htab_ent *ents;
	size_t cap; /* power of two */
	size_t len;
};

typedef int (*rl_htab_eq)(const void *val, const void *key);

/* rl_htab_hash: FNV-1a of a NUL-terminated string, never 0. */
uint64_t rl_htab_hash(const char *s);

/* rl_htab_get returns the value for (h, key) or NULL. eq may be NULL for integer keys. */
void *rl_htab_get(const struct rl_htab *t, uint64_t h, rl_htab_eq eq, const void *key);

/* rl_htab_put inserts val (non-NULL) under h; the caller ensures the key is absent. */
void rl_htab_put(struct rl_htab *t, uint64_t h, void *val);

/* rl_htab_del removes the entry holding exactly val under h; returns 1 if found. */
int rl_htab_del(struct rl_htab *t, uint64_t h, const void *val);

void rl_htab_fini(struct rl_htab *t);

#endif
