/* log: timestamped lines to stderr, one write per line so concurrent
 * threads do not interleave. */
#include "log.h"

#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum log_level level = LOG_INFO;

/* The remote syslog: a connected UDP socket, or -1. */
static pthread_mutex_t remote_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int remote_fd = -1;

int log_set_remote(const char *dest)
{
	int fd = -1;
	if (dest && *dest) {
		char host[256], port[16] = "514";
		snprintf(host, sizeof host, "%s", dest);
		char *colon = strrchr(host, ':');
		if (colon && !strchr(colon + 1, ']') && strchr(host, ':') == colon) {
			*colon = '\0';
			snprintf(port, sizeof port, "%s", colon + 1);
		}
		struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai = NULL;
		if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
			return -1;
		fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			if (fd >= 0)
				close(fd);
			freeaddrinfo(ai);
			return -1;
		}
		freeaddrinfo(ai);
	}
	pthread_mutex_lock(&remote_lock);
	int old = remote_fd;
	remote_fd = fd;
	pthread_mutex_unlock(&remote_lock);
	if (old >= 0)
		close(old);
	return 0;
}

static void send_remote(enum log_level lvl, const char *msg, size_t len)
{
	static const int severity[] = {3, 4, 6, 7};
	pthread_mutex_lock(&remote_lock);
	if (remote_fd >= 0) {
		char buf[2200];
		int n = snprintf(buf, sizeof buf, "<%d>xenond: %.*s", 3 * 8 + severity[lvl], (int)len, msg);
		if (n > 0) {
			ssize_t w = send(remote_fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1,
					 MSG_DONTWAIT | MSG_NOSIGNAL);
			(void)w;
		}
	}
	pthread_mutex_unlock(&remote_lock);
}

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
	if (remote_fd >= 0) /* checked unlocked: only the send takes the lock */
		send_remote(lvl, line + 25, (size_t)n - 26);
}
