/*
 * rl_log.h - one logging macro with syslog levels.
 *
 * rl_log(RL_LOG_NOTICE, "agent login agent=%s site=%s", id, site);
 * The level is checked before any formatting. Lines go to stderr as
 *   2026-11-24T10:00:00.123Z relais-hub notice agent login agent=a1 site=casa
 * so NOC tooling can grep key=value fields.
 */
#ifndef RL_LOG_H
#define RL_LOG_H

enum rl_log_level {
	RL_LOG_ERR = 3,
	RL_LOG_WARNING = 4,
	RL_LOG_NOTICE = 5,
	RL_LOG_INFO = 6,
	RL_LOG_DEBUG = 7,
};

extern int rl_log_level;

/* rl_log_init sets the program name shown on each line and the maximum level printed. */
void rl_log_init(const char *prog, int level);

/* rl_log_parse_level maps "err".."debug" to a level; returns -1 if unknown. */
int rl_log_parse_level(const char *name);

void rl_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rl_log(level, ...)                                  \
	do {                                                \
		if ((level) <= rl_log_level)                \
			rl_log_write((level), __VA_ARGS__); \
	} while (0)

#endif
