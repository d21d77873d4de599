/* restart: re-executing xenond in place for host.restart_agent (see
 * restart.h). The pid stays the same, so whoever supervises the daemon
 * keeps tracking it; QEMUs run in sessions of their own and are untouched. */
#include "../api/pool_ha.h"
#include "restart.h"
#include "http_listen.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RESTART_DELAY_MS 1000

static char **saved_argv;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t due_at; /* CLOCK_MONOTONIC ms; 0: none asked for */

void restart_save_argv(int argc, char **argv)
{
	saved_argv = xcalloc((size_t)argc + 1, sizeof *saved_argv);
	for (int i = 0; i < argc; i++)
		saved_argv[i] = xstrdup(argv[i]);
}

void restart_request(void)
{
	pthread_mutex_lock(&lock);
	if (!due_at)
		due_at = clock_now_ms() + RESTART_DELAY_MS;
	pthread_mutex_unlock(&lock);
}

bool restart_due(void)
{
	pthread_mutex_lock(&lock);
	bool due = due_at && clock_now_ms() >= due_at;
	pthread_mutex_unlock(&lock);
	return due;
}

/* Every descriptor but 0-2 and keep[] closes at exec: whatever a thread
 * still holds (a console bridge, a half-read request) must not leak into
 * the new image. */
static void cloexec_all_but(const int *keep, size_t nkeep)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	int dfd = dirfd(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd < 3 || fd == dfd)
			continue;
		bool kept = false;
		for (size_t i = 0; i < nkeep; i++)
			kept |= keep[i] == fd;
		int fl = fcntl(fd, F_GETFD);
		if (fl >= 0)
			fcntl(fd, F_SETFD, kept ? fl & ~FD_CLOEXEC : fl | FD_CLOEXEC);
	}
	closedir(d);
}

static void set_fd_env(const char *name, int fd)
{
	if (fd < 0) {
		unsetenv(name);
		return;
	}
	char v[16];
	snprintf(v, sizeof v, "%d", fd);
	setenv(name, v, 1);
}

void restart_exec(int plain_fd, int tls_fd)
{
	if (!saved_argv) {
		log_error("restart: no command line saved");
		return;
	}
	int keep[] = {plain_fd, tls_fd, pool_ha_watchdog_fd()};
	cloexec_all_but(keep, 3);
	set_fd_env(HTTP_ENV_PLAIN_FD, plain_fd);
	set_fd_env(HTTP_ENV_TLS_FD, tls_fd);
	set_fd_env("XENON_HA_WD_FD", pool_ha_watchdog_fd()); /* the HA watchdog's pipe goes on */
	log_info("restart: executing a new image of %s", saved_argv[0]);
	fflush(NULL);
	/* /proc/self/exe: the binary this process runs, even if argv[0] was
	 * relative or found through PATH */
	execv("/proc/self/exe", saved_argv);
	log_error("restart: cannot execute /proc/self/exe: %s", strerror(errno));
}
