/* qemu_save: a VM's memory and device state to a file and back — QEMU's
 * migration stream over a file descriptor handed to it on the monitor
 * socket (getfd), so QEMU opens no path and no shell runs. Suspend saves
 * and quits; resume starts QEMU with -incoming defer and loads. */
#include "qemu_int.h"
#include "qmp.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIGRATE_TIMEOUT_S 600
#define QMP_MS 10000

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Waits for the migration (either side) to end: 0 when completed. */
static int wait_migration(struct qmp *q, const char *what, struct xerr *err)
{
	for (int waited = 0; waited < MIGRATE_TIMEOUT_S * 1000; waited += 50) {
		json_t *info = NULL;
		if (qmp_exec(q, "query-migrate", NULL, &info, QMP_MS, err) < 0)
			return -1;
		const char *st = json_string_value(json_object_get(info, "status"));
		st = st ? st : "";
		if (!strcmp(st, "completed")) {
			json_decref(info);
			return 0;
		}
		if (!strcmp(st, "failed") || !strcmp(st, "cancelled")) {
			const char *why = json_string_value(json_object_get(info, "error-desc"));
			xerr_internal(err, "%s: migration %s%s%s", what, st, why ? ": " : "", why ? why : "");
			json_decref(info);
			return -1;
		}
		json_decref(info);
		sleep_ms(50);
	}
	struct xerr e = XERR_INIT;
	qmp_exec(q, "migrate_cancel", NULL, NULL, QMP_MS, &e);
	xerr_clear(&e);
	return xerr_internal(err, "%s: not done within %d s", what, MIGRATE_TIMEOUT_S);
}

static int pass_fd(struct qmp *q, int fd, const char *name, struct xerr *err)
{
	return qmp_exec_fd(q, "getfd", json_pack("{ss}", "fdname", name), fd, NULL, QMP_MS, err);
}

int qemu_save_state(struct qmp *q, const char *path, struct xerr *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		xerr_internal(err, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	int r = pass_fd(q, fd, "xenon-save", err);
	close(fd); /* QEMU has its own copy */
	if (r == 0)
		r = qmp_exec(q, "migrate", json_pack("{ss}", "uri", "fd:xenon-save"), NULL, QMP_MS, err);
	if (r == 0)
		r = wait_migration(q, "suspend", err);
	if (r == 0) {
		/* the image must be on disk before the domain goes */
		fd = open(tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0 || rename(tmp, path) < 0)
			r = xerr_internal(err, "cannot keep %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

int qemu_load_state(struct qmp *q, const char *path, struct xerr *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return xerr_internal(err, "no suspend image %s: %s", path, strerror(errno));
	int r = pass_fd(q, fd, "xenon-restore", err);
	close(fd);
	if (r == 0)
		r = qmp_exec(q, "migrate-incoming", json_pack("{ss}", "uri", "fd:xenon-restore"), NULL,
			     QMP_MS, err);
	if (r == 0)
		r = wait_migration(q, "resume", err);
	return r;
}
