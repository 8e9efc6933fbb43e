/*
 * What a waiting caller is told: the files chained for a position and an expected wait, from
 * a prompt set on disk (empty WAVs are enough: only their names matter here).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "announce.h"
#include "rl_audio.h"
#include "rl_err.h"
#include "rltest.h"

static const char *dir;

static void make(const char *name)
{
	char path[600];
	int16_t pcm[160] = {0};
	snprintf(path, sizeof(path), "%s/%s.wav", dir, name);
	RL_REQUIRE(rl_audio_write_wav(path, pcm, 160, 8000) == RL_OK);
}

/* said checks the announcement, given as the file names without directory and ".wav". */
static void said(uint32_t pos, int known, uint32_t ewt, const char *want)
{
	char paths[RL_ANNOUNCE_MAX][RL_IVR_PATH], got[1024] = "";
	int n = rl_announce_files(dir, pos, known, ewt, paths);
	size_t dl = strlen(dir) + 1;

	for (int i = 0; i < n; i++) {
		char *name = paths[i] + dl;
		name[strlen(name) - 4] = '\0';
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "", name);
	}
	if (strcmp(got, want) != 0)
		fprintf(stderr, "position %u wait %u: got \"%s\", want \"%s\"\n", pos, ewt, got, want);
	RL_CHECK(strcmp(got, want) == 0);
}

int main(void)
{
	char name[16];

	dir = rltest_tmpdir("prompts");
	/* Nothing recorded yet: nothing is said. */
	said(3, 1, 120, "");
	for (int i = 0; i <= 20; i++) {
		snprintf(name, sizeof(name), "%d", i);
		make(name);
	}
	for (int i = 30; i <= 90; i += 10) {
		snprintf(name, sizeof(name), "%d", i);
		make(name);
	}
	for (int i = 100; i <= 900; i += 100) {
		snprintf(name, sizeof(name), "%d", i);
		make(name);
	}
	make("71"); /* soixante et onze: said whole */
	make("queue-position");
	said(1, 0, 0, "queue-position 1");
	said(0, 1, 30, ""); /* not waiting */
	/* No wait prompt recorded: the wait is left out. */
	said(4, 1, 300, "queue-position 4");
	make("queue-wait");
	make("queue-wait-short");
	make("minute");
	make("minutes");
	said(4, 1, 300, "queue-position 4 queue-wait 5 minutes");
	said(2, 1, 59, "queue-position 2 queue-wait queue-wait-short");
	said(2, 1, 60, "queue-position 2 queue-wait 1 minute");
	said(2, 1, 89, "queue-position 2 queue-wait 1 minute");
	said(2, 1, 90, "queue-position 2 queue-wait 2 minutes");
	said(2, 0, 90, "queue-position 2"); /* nobody works the queue: no estimate */
	said(20, 1, 60 * 35, "queue-position 20 queue-wait 30 5 minutes");
	said(71, 1, 60 * 40, "queue-position 71 queue-wait 40 minutes");
	said(115, 0, 0, "queue-position 100 15");
	said(342, 0, 0, "queue-position 300 40 2");
	said(500, 0, 0, "queue-position 500");
	said(171, 0, 0, "queue-position 100 71");
	said(5000, 0, 0, "queue-position 900 90 9");

	/* A caller who chose a language hears its set when there is one. */
	char sub[700], got[RL_IVR_PATH];
	snprintf(sub, sizeof(sub), "%s/ar", dir);
	RL_REQUIRE(mkdir(sub, 0700) == 0);
	rl_announce_dir(got, dir, "ar");
	RL_CHECK(strcmp(got, sub) == 0);
	rl_announce_dir(got, dir, "fr"); /* no such set: the default one */
	RL_CHECK(strcmp(got, dir) == 0);
	rl_announce_dir(got, dir, NULL);
	RL_CHECK(strcmp(got, dir) == 0);
	rl_announce_dir(got, dir, "../ar"); /* not a plain name */
	RL_CHECK(strcmp(got, dir) == 0);
	return rltest_done();
}
