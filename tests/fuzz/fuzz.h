/* fuzz.h - the entry point every fuzz target defines (libFuzzer, and replay_main.c). */
#ifndef RL_FUZZ_H
#define RL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* CHECK: an invariant; a broken one aborts, which the fuzzer reports with its input. */
#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

#endif
