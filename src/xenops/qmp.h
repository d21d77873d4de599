/* qmp: a small client for QEMU's machine protocol over a unix socket, and
 * for the guest agent that speaks the same JSON lines. One reader thread per
 * connection matches replies to callers by id and hands asynchronous events
 * to a callback, so many threads may run commands on one connection. */
#ifndef XENON_QMP_H
#define XENON_QMP_H

#include <jansson.h>
#include <stdbool.h>

#include "../base/xerr.h"

struct qmp;

/* Called on the reader thread, without any lock of the connection held:
 * they must not block for long and must not call qmp_close on q. data may be
 * NULL; it is borrowed for the duration of the call. */
struct qmp_handlers {
	void (*event)(void *arg, const char *name, json_t *data);
	/* The peer closed the connection (QEMU exited) — not called for
	 * qmp_close. */
	void (*closed)(void *arg);
	void *arg;
};

/* Connects, reads the greeting and negotiates capabilities within
 * timeout_ms. h may be NULL (events are then dropped). NULL with
 * INTERNAL_ERROR on failure. */
struct qmp *qmp_open(const char *path, int timeout_ms, const struct qmp_handlers *h,
		     struct xerr *err);
/* Runs cmd with args (stolen; may be NULL). On success *ret (if ret is not
 * NULL) gets the "return" value (owned). A QMP error or a timeout fills err
 * with INTERNAL_ERROR naming the command. */
int qmp_exec(struct qmp *q, const char *cmd, json_t *args, json_t **ret, int timeout_ms,
	     struct xerr *err);
/* Like qmp_exec, passing fd along (SCM_RIGHTS) — for getfd/add-fd. */
int qmp_exec_fd(struct qmp *q, const char *cmd, json_t *args, int fd, json_t **ret,
		int timeout_ms, struct xerr *err);
bool qmp_is_closed(struct qmp *q);
/* Disconnects and joins the reader; no callback runs after it returns. QEMU
 * keeps running and accepts the next client. */
void qmp_close(struct qmp *q);

/* The guest agent (qemu-ga) on its chardev socket: connects, syncs (so no
 * stale reply of an earlier client is taken for ours), then runs cmd (args
 * stolen). With want_reply false it only sends (guest-shutdown answers
 * nothing). -2 when no agent answers the sync, -1 on other failures. */
int qga_exec(const char *path, const char *cmd, json_t *args, bool want_reply, json_t **ret,
	     int timeout_ms, struct xerr *err);

#endif
