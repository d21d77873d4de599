/* log: timestamped lines to stderr, one write per line so concurrent
 * threads do not interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level level = LOG_INFO;

void log_set_level(enum log_level lvl) { level = lvl; }
enum log_level log_get_level(void) { return level; }

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	if (lvl > level)
		return;
	char line[2048];
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ [%s] ",
		      (long)(tv.tv_usec / 1000), names[lvl]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	ssize_t w = write(2, line, (size_t)n);
	(void)w;
}
