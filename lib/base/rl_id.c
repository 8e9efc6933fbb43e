#include "rl_id.h"

#include <string.h>

int rl_id_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL || *s == 0)
		return 0;
	for (; s[n] != 0; n++) {
		char c = s[n];
		if (n >= RL_ID_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == ':' || c == '@' || c == '+' || c == '-'))
			return 0;
	}
	return 1;
}

int rl_text_ok(const char *s, size_t max)
{
	return s == NULL || strnlen(s, max + 1) <= max;
}
