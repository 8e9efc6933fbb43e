#include "rl_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rl_oom(size_t size)
{
	fprintf(stderr, "relais: out of memory allocating %zu bytes\n", size);
	fflush(stderr);
	abort();
}

void rl_oom_in(const char *what)
{
	fprintf(stderr, "relais: out of memory in %s\n", what);
	fflush(stderr);
	abort();
}

void *rl_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		rl_oom(size);
	return p;
}

void *rl_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		rl_oom(n * size);
	return p;
}

void *rl_realloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);

	if (q == NULL)
		rl_oom(size);
	return q;
}

char *rl_strdup(const char *s)
{
	size_t len = s ? strlen(s) : 0;
	char *d = rl_malloc(len + 1);

	memcpy(d, s ? s : "", len);
	d[len] = '\0';
	return d;
}
