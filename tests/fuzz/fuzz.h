/* fuzz.h - the entry point every fuzz target defines (libFuzzer, and replay_main.c). */
#ifndef RL_FUZZ_H
#define RL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
