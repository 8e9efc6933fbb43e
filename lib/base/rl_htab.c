#include "rl_htab.h"

#include <stdlib.h>

#include "rl_alloc.h"

uint64_t rl_htab_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
	return h ? h : 1;
}

static size_t rl_htab_slot(uint64_t h, size_t cap)
{
	/* Mix the high bits in: integer keys (pipe ids) are small and sequential. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (cap - 1);
}

void *rl_htab_get(const struct rl_htab *t, uint64_t h, rl_htab_eq eq, const void *key)
{
	if (t->cap == 0)
		return NULL;
	for (size_t i = rl_htab_slot(h, t->cap);; i = (i + 1) & (t->cap - 1)) {
		const struct rl_htab_ent *e = &t->ents[i];
		if (e->val == NULL)
			return NULL;
		if (e->h == h && (eq == NULL || eq(e->val, key)))
			return e->val;
	}
}

static void rl_htab_grow(struct rl_htab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 64;
	struct rl_htab_ent *n = rl_calloc(ncap, sizeof(*n));

	for (size_t i = 0; i < t->cap; i++) {
		if (t->ents[i].val == NULL)
			continue;
		size_t j = rl_htab_slot(t->ents[i].h, ncap);
		while (n[j].val != NULL)
			j = (j + 1) & (ncap - 1);
		n[j] = t->ents[i];
	}
	free(t->ents);
	t->ents = n;
	t->cap = ncap;
}

void rl_htab_put(struct rl_htab *t, uint64_t h, void *val)
{
	if ((t->len + 1) * 4 > t->cap * 3)
		rl_htab_grow(t);
	size_t i = rl_htab_slot(h, t->cap);
	while (t->ents[i].val != NULL)
		i = (i + 1) & (t->cap - 1);
	t->ents[i].h = h;
	t->ents[i].val = val;
	t->len++;
}

int rl_htab_del(struct rl_htab *t, uint64_t h, const void *val)
{
	size_t i, j, k;

	if (t->cap == 0)
		return 0;
	for (i = rl_htab_slot(h, t->cap);; i = (i + 1) & (t->cap - 1)) {
		if (t->ents[i].val == NULL)
			return 0;
		if (t->ents[i].val == val)
			break;
	}
	/* Backward-shift deletion: move later entries of the run into the hole when their
	 * home slot does not lie cyclically between the hole and their position. */
	for (j = i;;) {
		t->ents[i].val = NULL;
		for (;;) {
			j = (j + 1) & (t->cap - 1);
			if (t->ents[j].val == NULL) {
				t->len--;
				return 1;
			}
			k = rl_htab_slot(t->ents[j].h, t->cap);
			if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		t->ents[i] = t->ents[j];
		i = j;
	}
}

void rl_htab_fini(struct rl_htab *t)
{
	free(t->ents);
	t->ents = NULL;
	t->cap = t->len = 0;
}
