/* log: timestamped lines to stderr, one write per line so concurrent
 * threads do not interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level level = LOG_INFO;
/* stderr goes to the systemd journal (JOURNAL_STREAM names its device and
 * inode): each line starts with its syslog priority, <3> to <7>, which the
 * journal reads (sd-daemon(3)), and no timestamp of ours */
static int journal = -1;

static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_set_level(enum log_level lvl) { level = lvl; }
enum log_level log_get_level(void) { return level; }

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	static const char *const prio[] = {"<3>", "<4>", "<6>", "<7>"};
	if (lvl > level)
		return;
	if (journal < 0)
		journal = stderr_is_journal();
	char line[2048];
	int n;
	if (journal) {
		n = snprintf(line, sizeof line, "%s", prio[lvl]);
	} else {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		struct tm tm;
		gmtime_r(&tv.tv_sec, &tm);
		n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
		n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ [%s] ", (long)(tv.tv_usec / 1000),
			      names[lvl]);
	}
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
