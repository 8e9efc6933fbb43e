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

#endif
