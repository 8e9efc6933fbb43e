/*
 * rl_alloc.h - memory allocation with one policy: running out of memory is fatal.
 *
 * rl_malloc, rl_calloc, rl_realloc and rl_strdup never return NULL: when the system refuses
 * memory they print the size asked for and abort() (as redis's zmalloc does). Callers do not
 * check, and no untested recovery branch remains. Memory they return is released with free().
 * The same holds for memory other libraries allocate for us (nng messages and aios, Opus
 * and SRTP states): their out-of-memory errors end in rl_oom or rl_oom_in. The one exception
 * is decoding hostile input, which uses a budgeted allocator that refuses (rl_wire.c): a
 * peer must not be able to stop a process by asking for memory.
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

/* rl_oom_in reports that a library call (what, e.g. "nng_aio_alloc") ran out of memory and
 * aborts: the same policy for what other libraries allocate on our behalf, whose sizes we
 * do not know. */
_Noreturn void rl_oom_in(const char *what);

#endif
