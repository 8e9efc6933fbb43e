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

size_t rl_copy(char *dst, size_t cap, const char *s)
{
	size_t n = s == NULL ? 0 : strnlen(s, cap - 1);

	memcpy(dst, s == NULL ? "" : s, n);
	dst[n] = '\0';
	return n;
}

size_t rl_join(char *dst, size_t cap, const char *a, char sep, const char *b)
{
	size_t n = rl_copy(dst, cap, a);

	if (n + 1 < cap) {
		dst[n++] = sep;
		n += rl_copy(dst + n, cap - n, b);
	}
	return n;
}
