#include "rl_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int rl_log_level = RL_LOG_NOTICE;
static const char *rl_log_prog = "relais";
static pthread_mutex_t rl_log_mtx = PTHREAD_MUTEX_INITIALIZER;

static const char *const rl_log_names[] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

void rl_log_init(const char *prog, int level)
{
	if (prog != NULL)
		rl_log_prog = prog;
	if (level >= RL_LOG_ERR && level <= RL_LOG_DEBUG)
		rl_log_level = level;
}

int rl_log_parse_level(const char *name)
{
	for (int i = RL_LOG_ERR; i <= RL_LOG_DEBUG; i++)
		if (strcmp(name, rl_log_names[i]) == 0)
			return i;
	return -1;
}

void rl_log_write(int level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s ", ts.tv_nsec / 1000000L, rl_log_prog,
	                      rl_log_names[level & 7]);
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
	}
	/* One write per line under a lock, so lines from threads never interleave. */
	pthread_mutex_lock(&rl_log_mtx);
	fputs(line, stderr);
	fputc('\n', stderr);
	pthread_mutex_unlock(&rl_log_mtx);
}
