/* task: the lifecycle of task records — created pending by Async.* calls,
 * task.create or HTTP transfers; completed with an XML-RPC value text as
 * result, or failed with error_info; garbage-collected once old. */
#ifndef XENON_TASK_H
#define XENON_TASK_H

#include <stdbool.h>

#include "../base/uuid.h"
#include "../base/xerr.h"
#include "../base/xv.h"
#include "../api/server.h"

int task_create(struct server *srv, const char *label, const char *desc, const char *session,
		char out[REF_STRLEN + 1], struct xerr *err);
void task_complete(struct server *srv, const char *task, const xv *result);
void task_fail(struct server *srv, const char *task, const struct xerr *e);
bool task_cancelling(struct server *srv, const char *task);
void task_set_progress(struct server *srv, const char *task, double progress);
/* Destroys completed tasks older than cfg.task_gc_s and the oldest ones
 * beyond cfg.max_tasks; pending ones after a day. */
void task_gc(struct server *srv);

#endif
