/*
 * libFuzzer target: the envelope decoder, which sees every frame from every peer.
 * Built with -DRELAIS_FUZZ=ON (clang) as a fuzzer; always built as a corpus replay test.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "rl_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rl_env *env = NULL;
	uint8_t *buf;
	size_t len;

	int rv = rl_wire_decode(data, size, &env);
	if (env != NULL) {
		/* Whatever decodes must re-encode within the frame bound. */
		if (rv == 0 && rl_wire_encode(env, &buf, &len) == 0)
			free(buf);
		rl_wire_free(env);
	}
	return 0;
}
