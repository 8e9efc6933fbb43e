#include "announce.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct rl_say {
	const char *dir;
	char (*paths)[RL_IVR_PATH];
	int n;
};

/* rl_say_file adds dir/name.wav if it exists; returns 1 if added. */
static int rl_say_file(struct rl_say *s, const char *name)
{
	char path[RL_IVR_PATH];
	int len = snprintf(path, sizeof(path), "%s/%s.wav", s->dir, name);

	if (len < 0 || (size_t)len >= sizeof(path) || s->n >= RL_ANNOUNCE_MAX || access(path, R_OK) != 0)
		return 0;
	snprintf(s->paths[s->n++], RL_IVR_PATH, "%s", path);
	return 1;
}

static int rl_say_has(const struct rl_say *s, uint32_t v)
{
	char path[RL_IVR_PATH];
	int len = snprintf(path, sizeof(path), "%s/%u.wav", s->dir, v);

	return len > 0 && (size_t)len < sizeof(path) && access(path, R_OK) == 0;
}

static void rl_say_number(struct rl_say *s, uint32_t v)
{
	char name[16];

	if (v > 999)
		v = 999;
	if (!rl_say_has(s, v) && v >= 100) {
		snprintf(name, sizeof(name), "%u", v / 100 * 100);
		rl_say_file(s, name);
		v %= 100;
		if (v == 0)
			return;
	}
	if (!rl_say_has(s, v) && v > 20) {
		snprintf(name, sizeof(name), "%u", v / 10 * 10);
		rl_say_file(s, name);
		v %= 10;
		if (v == 0)
			return;
	}
	snprintf(name, sizeof(name), "%u", v);
	rl_say_file(s, name);
}

void rl_announce_dir(char out[RL_IVR_PATH], const char *dir, const char *lang)
{
	struct stat st;
	int len;

	snprintf(out, RL_IVR_PATH, "%s", dir ? dir : "");
	if (dir == NULL || lang == NULL || lang[0] == '\0' || strlen(lang) > 32 ||
	    strspn(lang, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != strlen(lang))
		return;
	len = snprintf(out, RL_IVR_PATH, "%s/%s", dir, lang);
	if (len < 0 || len >= RL_IVR_PATH || stat(out, &st) != 0 || !S_ISDIR(st.st_mode))
		snprintf(out, RL_IVR_PATH, "%s", dir);
}

int rl_announce_files(const char *dir, uint32_t position, int ewt_known, uint32_t ewt_s,
                      char paths[RL_ANNOUNCE_MAX][RL_IVR_PATH])
{
	struct rl_say s = {dir, paths, 0};

	if (dir == NULL || dir[0] == '\0' || position == 0)
		return 0;
	if (rl_say_file(&s, "queue-position"))
		rl_say_number(&s, position);
	if (ewt_known && rl_say_file(&s, "queue-wait")) {
		if (ewt_s < 60) {
			rl_say_file(&s, "queue-wait-short");
		} else {
			uint32_t min = (ewt_s + 30) / 60;
			rl_say_number(&s, min);
			rl_say_file(&s, min == 1 ? "minute" : "minutes");
		}
	}
	return s.n;
}
