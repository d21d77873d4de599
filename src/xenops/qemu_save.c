/* qemu_save: a VM's memory and device state into its suspend VDI and back.
 * QEMU writes (or reads) its migration stream on a pipe handed to it on the
 * monitor socket (getfd), so QEMU opens no path and no shell runs; a pump
 * thread here moves the stream between the pipe and the VDI's image,
 * opened through QEMU's block layer (qemu-nbd, formats/img.c), so the image
 * can be any format its storage driver keeps (a qcow2 on the file SR).
 * Suspend saves and quits; resume starts QEMU with -incoming defer and
 * loads. */
#include "qemu_int.h"
#include "qmp.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../formats/img.h"
#include "../sm/sm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIGRATE_TIMEOUT_S 600
#define QMP_MS 10000
#define CHUNK (1 << 20)

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

/* ---- the pump between the pipe and the image ---- */

struct pump {
	struct img *im;
	int fd;          /* this side of the pipe */
	bool save;       /* pipe → image; else image → pipe */
	bool stop; /* the migration is over: drain (save) or quit (load); __atomic */
	int rc;
	struct xerr err;
	int64_t bytes;
};

/* Waits until fd is ready for ev; 0 when stop was set meanwhile and
 * nothing is ready. */
static int wait_fd(struct pump *p, short ev)
{
	for (;;) {
		struct pollfd pf = {.fd = p->fd, .events = ev};
		int r = poll(&pf, 1, 200);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE))
			return 0;
	}
}

/* QEMU's stream into the image, from offset 0. Zero chunks are skipped:
 * the fresh image reads as zeros there and stays sparse. */
static void pump_save(struct pump *p, char *buf)
{
	int64_t size = img_size(p->im), off = 0;
	for (;;) {
		size_t n = 0;
		while (n < CHUNK) {
			int w = wait_fd(p, POLLIN);
			if (w <= 0)
				break;
			ssize_t r = read(p->fd, buf + n, CHUNK - n);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			n += (size_t)r;
		}
		if (!n)
			break;
		if (off + (int64_t)n > size) {
			p->rc = xerr_internal(&p->err, "the suspend image is too small (%lld bytes)",
					      (long long)size);
			return;
		}
		if (!buf_is_zero(buf, n) && img_write(p->im, buf, n, off, &p->err) < 0) {
			p->rc = -1;
			return;
		}
		off += (int64_t)n;
	}
	p->bytes = off;
	if (img_flush(p->im, &p->err) < 0)
		p->rc = -1;
}

/* The image into QEMU until it has read its stream's end and closed the
 * pipe (EPIPE), or the migration is over. */
static void pump_load(struct pump *p, char *buf)
{
	int64_t size = img_size(p->im);
	for (int64_t off = 0; off < size && !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE);) {
		size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		if (img_read(p->im, buf, n, off, &p->err) < 0) {
			p->rc = -1;
			return;
		}
		for (size_t done = 0; done < n;) {
			int w = wait_fd(p, POLLOUT);
			if (w <= 0)
				return; /* the migration ended: QEMU read what it needed */
			ssize_t r = write(p->fd, buf + done, n - done);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return; /* EPIPE: QEMU is done with the stream */
			done += (size_t)r;
			p->bytes += r;
		}
		off += (int64_t)n;
	}
}

static void *pump_main(void *arg)
{
	struct pump *p = arg;
	char *buf = xmalloc(CHUNK);
	if (p->save)
		pump_save(p, buf);
	else
		pump_load(p, buf);
	free(buf);
	/* QEMU sees the end of the pipe: a save that failed here fails the
	 * migration, and the guest runs on */
	close(p->fd);
	p->fd = -1;
	return NULL;
}

/* Runs QEMU's side (migrate or migrate-incoming on fd:<name>) with a pump
 * between the pipe and the image at path. */
static int stream(struct qmp *q, const char *path, const char *format, bool save, struct xerr *err)
{
	struct pump p = {.save = save, .err = XERR_INIT};
	p.im = sm_img_open(path, format, save, err);
	if (!p.im)
		return -1;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		img_close(p.im);
		return xerr_internal(err, "pipe: %s", strerror(errno));
	}
	/* QEMU gets the write end to save into, the read end to load from */
	int theirs = save ? fds[1] : fds[0];
	p.fd = save ? fds[0] : fds[1];
	const char *name = save ? "xenon-save" : "xenon-restore";
	int r = pass_fd(q, theirs, name, err);
	close(theirs); /* QEMU has its own copy */
	pthread_t t;
	bool pumping = false;
	if (r == 0) {
		pumping = pthread_create(&t, NULL, pump_main, &p) == 0;
		if (!pumping)
			r = xerr_internal(err, "cannot start the suspend image pump");
	}
	char uri[32];
	snprintf(uri, sizeof uri, "fd:%s", name);
	if (r == 0)
		r = qmp_exec(q, save ? "migrate" : "migrate-incoming", json_pack("{ss}", "uri", uri), NULL,
			     QMP_MS, err);
	if (r == 0)
		r = wait_migration(q, save ? "suspend" : "resume", err);
	__atomic_store_n(&p.stop, true, __ATOMIC_RELEASE);
	if (pumping) {
		pthread_join(t, NULL);
	} else {
		close(p.fd);
	}
	if (r == 0 && p.rc < 0) {
		/* QEMU finished but the image did not take it all */
		xerr_move(err, &p.err);
		r = -1;
	}
	xerr_clear(&p.err);
	if (r == 0)
		log_info("qemu: %s %lld bytes of state %s %s", save ? "saved" : "loaded",
			 (long long)p.bytes, save ? "into" : "from", path);
	img_close(p.im);
	return r;
}

int qemu_save_state(struct qmp *q, const char *path, const char *format, struct xerr *err)
{
	return stream(q, path, format, true, err);
}

int qemu_load_state(struct qmp *q, const char *path, const char *format, struct xerr *err)
{
	return stream(q, path, format, false, err);
}
