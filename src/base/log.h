/* log: the one logger. Levels, timestamps and an optional context tag
 * (task or session), to stderr; never printf from library code. */
#ifndef XENON_LOG_H
#define XENON_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Also send every line to a remote syslog: dest "host" or "host:port"
 * (UDP, default port 514, RFC 3164 with facility daemon); "" stops it.
 * 0, or -1 when dest cannot be resolved (the previous setting stays). */
int log_set_remote(const char *dest);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                 \
	do {                                           \
		if (log_get_level() >= LOG_DEBUG)      \
			log_msg(LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
