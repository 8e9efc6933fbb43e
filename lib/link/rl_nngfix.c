#define _GNU_SOURCE /* RTLD_NEXT, dladdr */
#include "rl_nngfix.h"

#include <dlfcn.h>
#include <errno.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "rl_err.h"

typedef ssize_t (*rl_sendmsg_fn)(int, const struct msghdr *, int);

static pthread_once_t rl_nngfix_once = PTHREAD_ONCE_INIT;
static rl_sendmsg_fn rl_next_sendmsg; /* libc's, or a sanitizer's that calls libc's */
static const void *rl_nng_base;       /* where libnng is loaded (NULL: not told apart) */
static atomic_int rl_nngfix_on;
static atomic_ullong rl_nngfix_count;

/* rl_nngfix_base: the load address of the object that holds the code at addr (NULL if none). */
static const void *rl_nngfix_base(const void *addr)
{
	Dl_info info;

	return dladdr(addr, &info) != 0 ? info.dli_fbase : NULL;
}

static void rl_nngfix_resolve(void)
{
	const void *nng, *self;

	*(void **)&rl_next_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
	if (rl_next_sendmsg == NULL) {
		fprintf(stderr, "rl_nngfix: no sendmsg after this one: %s\n", dlerror());
		abort();
	}
	nng = rl_nngfix_base(dlsym(RTLD_DEFAULT, "nng_send"));
	self = rl_nngfix_base(&rl_nngfix_count);
	rl_nng_base = nng != self ? nng : NULL; /* nng linked in: its calls are not told apart */
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	const void *caller = __builtin_return_address(0);
	ssize_t n;

	pthread_once(&rl_nngfix_once, rl_nngfix_resolve);
	n = rl_next_sendmsg(fd, msg, flags);
	if (n < 0 && errno == EPIPE && atomic_load(&rl_nngfix_on)) {
		int from_nng = rl_nngfix_base(caller) == rl_nng_base;
		if (from_nng)
			atomic_fetch_add(&rl_nngfix_count, 1);
		errno = from_nng ? ECONNRESET : EPIPE; /* set either way: dladdr may change it */
	}
	return n;
}

int rl_nngfix_install(void)
{
	pthread_once(&rl_nngfix_once, rl_nngfix_resolve);
	if (rl_nng_base == NULL)
		return RL_ENOENT;
	atomic_store(&rl_nngfix_on, 1);
	return RL_OK;
}

uint64_t rl_nngfix_resets(void)
{
	return atomic_load(&rl_nngfix_count);
}
