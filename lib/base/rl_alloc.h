/*
 * rl_alloc.h - memory allocation with one policy: running out of memory is fatal.
 *
 * rl_malloc, rl_calloc, rl_realloc and rl_strdup never return NULL: when the system refuses
 * memory they print the size asked for and abort() (as redis's zmalloc does). Callers do not
 * check, and no untested recovery branch remains. Memory they return is released with free().
 * The one exception is decoding hostile input, which uses a budgeted allocator that refuses
 * (rl_wire.c): a peer must not be able to stop a process by asking for memory.
 */
#ifndef RL_ALLOC_H
#define RL_ALLOC_H

#include <stddef.h>

void *rl_malloc(size_t size);
void *rl_calloc(size_t n, size_t size);
void *rl_realloc(void *p, size_t size);
/* rl_strdup copies s; NULL is copied as "". */
char *rl_strdup(const char *s);

/* rl_oom reports a failed allocation of size bytes and aborts. */
_Noreturn void rl_oom(size_t size);

#endif
