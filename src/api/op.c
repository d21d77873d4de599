/* op: the one implementation of operation marks. Each class that has
 * current_operations names its field and the function that recomputes its
 * allowed_operations; the rest is the same for every class. */
#include "op.h"
#include "storage.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../schema/schema.h"

#include <stdlib.h>

struct op_class {
	int cls;
	int current; /* the current_operations field */
	void (*update_allowed)(struct db_txn *t, struct db_obj *o);
};

static const struct op_class classes[] = {
	{SC_C_VM, SC_F_VM__current_operations, vm_update_allowed_operations},
	{SC_C_VDI, SC_F_VDI__current_operations, storage_vdi_update_allowed},
	{SC_C_VBD, SC_F_VBD__current_operations, storage_vbd_update_allowed},
	{SC_C_VIF, SC_F_VIF__current_operations, vif_update_allowed},
	{SC_C_task, SC_F_task__current_operations, NULL},
};

static const struct op_class *class_of(const struct db_obj *o)
{
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (classes[i].cls == o->cls)
			return &classes[i];
	abort(); /* a class without current_operations: a programming error */
}

static const xv *current(const struct db_obj *o)
{
	return db_peek((struct db_obj *)o, class_of(o)->current);
}

bool op_busy(const struct db_obj *o)
{
	return xv_len(current(o)) > 0;
}

static int in_progress(const struct db_obj *o, bool sets, struct xerr *err)
{
	const xv *cur = current(o);
	if (!xv_len(cur))
		return 0;
	const char *cls = sc_classes[o->cls].name;
	const char *op = xv_as_str(&cur->u.m->vals[0]);
	if (!sets)
		return xerr_set(err, ERR_OTHER_OPERATION_IN_PROGRESS, cls, o->ref, op, cur->u.m->keys[0], NULL);
	char *ops = xasprintf("{%s}", op);
	char *refs = xasprintf("{%s}", cur->u.m->keys[0]);
	xerr_set(err, ERR_OTHER_OPERATION_IN_PROGRESS, cls, o->ref, ops, refs, NULL);
	free(ops);
	free(refs);
	return -1;
}

int op_check_idle(const struct db_obj *o, struct xerr *err)
{
	return in_progress(o, false, err);
}

int op_check_idle_sets(const struct db_obj *o, struct xerr *err)
{
	return in_progress(o, true, err);
}

void op_update_allowed(struct db_txn *t, struct db_obj *o)
{
	const struct op_class *c = class_of(o);
	if (c->update_allowed)
		c->update_allowed(t, o);
}

void op_mark(struct db_txn *t, struct db_obj *o, const char *op, const char *token)
{
	xv_map_set_str(db_edit(t, o, class_of(o)->current), token, op);
	op_update_allowed(t, o);
}

int op_begin(struct db_txn *t, struct db_obj *o, const char *op, const char *token, struct xerr *err)
{
	if (op_check_idle(o, err) < 0)
		return -1;
	op_mark(t, o, op, token);
	return 0;
}

void op_end(struct db_txn *t, struct db_obj *o, const char *token)
{
	int f = class_of(o)->current;
	if (xv_map_get(db_peek(o, f), token))
		xv_map_del(db_edit(t, o, f), token);
	op_update_allowed(t, o);
}

void op_clear_all(struct db_txn *t, struct db_obj *o)
{
	if (!op_busy(o))
		return;
	db_set(t, o, class_of(o)->current, xv_map_new());
	op_update_allowed(t, o);
}

void op_clear_marks(struct db *db, const xv *refs, const char *ref, const char *token)
{
	/* a clean-up lost to a failed commit would hold the objects until the
	 * daemon restarts: tried again, a few times */
	for (int attempt = 1;; attempt++) {
		struct db_txn *t = db_begin(db);
		for (size_t i = 0; refs && i < xv_len(refs); i++) {
			struct db_obj *o = db_lookup(db, xv_as_str(xv_arr_get(refs, i)));
			if (o)
				op_end(t, o, token);
		}
		struct db_obj *o = ref ? db_lookup(db, ref) : NULL;
		if (o)
			op_end(t, o, token);
		struct xerr e = XERR_INIT;
		int rc = db_commit(t, &e);
		if (rc < 0)
			log_error("cannot clear operation %s (attempt %d): %s", token, attempt, e.code);
		xerr_clear(&e);
		if (rc == 0 || attempt == 3)
			return;
	}
}

void op_task_progress(struct db *db, const char *task, double progress)
{
	struct db_txn *t = db_begin(db);
	struct db_obj *o = db_lookup_cls(db, SC_C_task, task);
	if (!o || strcmp(db_peek_str(o, SC_F_task__status), "pending") != 0 ||
	    db_peek(o, SC_F_task__progress)->u.f == progress) {
		db_abort(t);
		return;
	}
	db_set(t, o, SC_F_task__progress, xv_float(progress));
	struct xerr e = XERR_INIT;
	db_commit(t, &e);
	xerr_clear(&e);
}

bool op_task_cancelling(struct db *db, const char *task)
{
	bool r = false;
	db_rdlock(db);
	struct db_obj *o = db_lookup_cls(db, SC_C_task, task);
	if (o) {
		const xv *ops = db_peek(o, SC_F_task__current_operations);
		for (size_t i = 0; i < xv_len(ops); i++) {
			const char *v = xv_as_str(&ops->u.m->vals[i]);
			r = r || (v && !strcmp(v, "cancel"));
		}
		r = r || !strcmp(db_peek_str(o, SC_F_task__status), "cancelling");
	}
	db_unlock(db);
	return r;
}
