/* op: operation marking (current_operations, allowed_operations) for an
 * object of any class, written once: every message that holds an object
 * while it works marks it here, so conflicts answer alike everywhere. */
#ifndef XENON_API_OP_H
#define XENON_API_OP_H

#include "../base/xerr.h"
#include "../db/db.h"

#include <stdbool.h>

/* Whether any operation holds o. */
bool op_busy(const struct db_obj *o);
/* OTHER_OPERATION_IN_PROGRESS (class, ref, operation, token — xapi's
 * parameters) when an operation holds o; 0 otherwise. */
int op_check_idle(const struct db_obj *o, struct xerr *err);
/* The same with the operation and token as sets ("{plug}"), as xapi's
 * VIF checks report them. */
int op_check_idle_sets(const struct db_obj *o, struct xerr *err);
/* Marks op on o under token (no check) and recomputes allowed_operations. */
void op_mark(struct db_txn *t, struct db_obj *o, const char *op, const char *token);
/* op_check_idle, then op_mark. */
int op_begin(struct db_txn *t, struct db_obj *o, const char *op, const char *token,
	     struct xerr *err);
/* Clears token's mark (if any) and recomputes allowed_operations. */
void op_end(struct db_txn *t, struct db_obj *o, const char *token);
/* Clears every mark (no operation outlives the daemon that ran it). */
void op_clear_all(struct db_txn *t, struct db_obj *o);
/* Clears token from the objects named in refs and from ref (either may be
 * NULL), in a transaction of its own: the clean-up after a failed
 * operation. */
void op_clear_marks(struct db *db, const xv *refs, const char *ref, const char *token);
/* allowed_operations recomputed through the class's own rules. */
void op_update_allowed(struct db_txn *t, struct db_obj *o);

/* A task's progress (0..1), written while it is pending and only when it
 * changes. */
void op_task_progress(struct db *db, const char *task, double progress);
/* Whether the task was asked to cancel (task.cancel marks it "cancel" in
 * its current_operations, or its status is cancelling). */
bool op_task_cancelling(struct db *db, const char *task);

#endif
