/* task: task records through their life (see task.h). A task's result is
 * the XML-RPC text of the value even for JSON-RPC clients, as xapi does:
 * Xen Orchestra parses it with an XML-RPC value parser. */
#include "task.h"
#include "../api/op.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../wire/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int task_create(struct server *srv, const char *label, const char *desc, const char *session,
		char out[REF_STRLEN + 1], struct xerr *err)
{
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *o = db_create(t, SC_C_task, NULL);
	db_set_str(t, o, SC_F_task__name_label, label);
	db_set_str(t, o, SC_F_task__name_description, desc);
	db_set(t, o, SC_F_task__created, xv_time(time(NULL)));
	db_set_str(t, o, SC_F_task__status, "pending");
	db_set(t, o, SC_F_task__progress, xv_float(0.0));
	db_set_str(t, o, SC_F_task__resident_on, srv->host_ref[0] ? srv->host_ref : REF_NULL);
	xv ops = xv_arr_new();
	xv_arr_push_str(&ops, "cancel");
	db_set(t, o, SC_F_task__allowed_operations, ops);
	(void)session;
	snprintf(out, REF_STRLEN + 1, "%s", o->ref);
	return db_commit(t, err);
}

static void finish(struct server *srv, const char *task, const char *status, xv result_text,
		   xv error_info)
{
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *o = db_lookup_cls(srv->db, SC_C_task, task);
	if (!o) { /* destroyed while running: nothing to report to */
		db_abort(t);
		xv_free(&result_text);
		xv_free(&error_info);
		return;
	}
	db_set_str(t, o, SC_F_task__status, status);
	db_set(t, o, SC_F_task__finished, xv_time(time(NULL)));
	if (strcmp(status, "success") == 0)
		db_set(t, o, SC_F_task__progress, xv_float(1.0));
	db_set(t, o, SC_F_task__result, result_text);
	db_set(t, o, SC_F_task__error_info, error_info);
	op_clear_all(t, o);
	xv ops = xv_arr_new();
	xv_arr_push_str(&ops, "destroy");
	db_set(t, o, SC_F_task__allowed_operations, ops);
	struct xerr e = XERR_INIT;
	if (db_commit(t, &e) < 0) {
		log_error("task %s: could not record completion: %s", task, e.code);
		xerr_clear(&e);
	}
}

void task_complete(struct server *srv, const char *task, const xv *result)
{
	/* a void result is xapi's empty string: "<value></value>" */
	struct strbuf sb = STRBUF_INIT;
	wire_xml_value(&sb, result);
	finish(srv, task, "success", xv_str_own(sb_detach(&sb)), xv_arr_new());
}

void task_fail(struct server *srv, const char *task, const struct xerr *e)
{
	xv info = xv_arr_new();
	xv_arr_push_str(&info, e->code ? e->code : "INTERNAL_ERROR");
	for (size_t i = 0; i < e->nparams; i++)
		xv_arr_push_str(&info, e->params[i]);
	const char *status = e->code && strcmp(e->code, "TASK_CANCELLED") == 0 ? "cancelled" : "failure";
	finish(srv, task, status, xv_str(""), info);
}

bool task_cancelling(struct server *srv, const char *task)
{
	bool r = false;
	db_rdlock(srv->db);
	struct db_obj *o = db_lookup_cls(srv->db, SC_C_task, task);
	if (o) {
		const xv *ops = db_peek(o, SC_F_task__current_operations);
		for (size_t i = 0; i < xv_len(ops); i++)
			if (strcmp(xv_as_str(&ops->u.m->vals[i]) ?: "", "cancel") == 0)
				r = true;
		r = r || strcmp(db_peek_str(o, SC_F_task__status), "cancelling") == 0;
	}
	db_unlock(srv->db);
	return r;
}

void task_set_progress(struct server *srv, const char *task, double progress)
{
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *o = db_lookup_cls(srv->db, SC_C_task, task);
	if (!o) {
		db_abort(t);
		return;
	}
	db_set(t, o, SC_F_task__progress, xv_float(progress));
	struct xerr e = XERR_INIT;
	db_commit(t, &e);
	xerr_clear(&e);
}

/* A task still running: pending, or asked to cancel and not yet ended
 * (it has no finish time yet). */
static bool task_live(struct db_obj *o)
{
	const char *st = db_peek_str(o, SC_F_task__status);
	return strcmp(st, "pending") == 0 || strcmp(st, "cancelling") == 0;
}

static int cmp_finished(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

void task_gc(struct server *srv)
{
	int64_t now = time(NULL);
	struct db_txn *t = db_begin(srv->db);
	size_t done = 0;
	for (struct db_obj *o = db_first(srv->db, SC_C_task); o; o = db_next(o))
		if (!task_live(o))
			done++;
	/* the finish time below which completed tasks go, to keep max_tasks */
	int64_t cutoff = now - srv->cfg.task_gc_s;
	if (done > (size_t)srv->cfg.max_tasks) {
		int64_t *times = xmalloc(sizeof(int64_t) * done);
		size_t i = 0;
		for (struct db_obj *o = db_first(srv->db, SC_C_task); o; o = db_next(o))
			if (!task_live(o))
				times[i++] = db_peek(o, SC_F_task__finished)->u.i;
		qsort(times, i, sizeof(int64_t), cmp_finished);
		int64_t keep_from = times[done - (size_t)srv->cfg.max_tasks];
		if (keep_from > cutoff)
			cutoff = keep_from;
		free(times);
	}
	for (struct db_obj *o = db_first(srv->db, SC_C_task), *n; o; o = n) {
		n = db_next(o);
		bool pending = task_live(o);
		int64_t when = pending ? db_peek(o, SC_F_task__created)->u.i
				       : db_peek(o, SC_F_task__finished)->u.i;
		if ((pending && when < now - 86400) || (!pending && when < cutoff))
			db_delete(t, o);
	}
	struct xerr e = XERR_INIT;
	db_commit(t, &e);
	xerr_clear(&e);
}
