/*
 * rl_id.h - the shape of ids and the bound of texts, shared by every layer.
 *
 * Ids (tenant, queue, agent, site, contact, submitter's ext_id) are short printable tokens
 * that go into logs, keys and file names unquoted; texts are bounded in length only. The
 * control plane checks them on every frame (rl_wire.h) and the voice path checks the call
 * ids it is given, without either seeing the other.
 */
#ifndef RL_ID_H
#define RL_ID_H

#include <stddef.h>

#define RL_ID_MAX 64 /* bytes in an id, not counting the NUL */

/* rl_id_ok: 1 if s is 1..RL_ID_MAX chars of [A-Za-z0-9._:@+-], else 0 (NULL included). */
int rl_id_ok(const char *s);

/* rl_text_ok: 1 if s is NULL or at most max bytes long, else 0. */
int rl_text_ok(const char *s, size_t max);

/* rl_copy copies s (NULL: "") into dst of cap >= 1 bytes, cut to cap - 1, NUL-terminated;
 * returns the bytes copied. What snprintf(dst, cap, "%s", s) does, without its format walk
 * (ids and keys are copied on every step of a contact). */
size_t rl_copy(char *dst, size_t cap, const char *s);

/* rl_join writes a, sep, b into dst (cut to cap - 1 as rl_copy): the hub's "site/ext" keys. */
size_t rl_join(char *dst, size_t cap, const char *a, char sep, const char *b);

#endif
