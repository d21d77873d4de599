/* vm_ops: what VM modules share — allowed-operations bookkeeping and
 * memory checks (vm.c), copies, snapshots and provisioning (vm_copy.c). */
#ifndef XENON_VM_OPS_H
#define XENON_VM_OPS_H

#include "../db/db.h"

void vm_update_allowed_operations(struct db_txn *t, struct db_obj *vm);
int vm_check_memory_constraints(struct db_obj *vm, struct xerr *err);
void vm_copy_init(void);
/* Whether op may start on vm now: power state, template, control domain,
 * blocked_operations and operations in progress, with xapi's errors. */
int vm_check_op(struct db_obj *vm, const char *op, struct xerr *err);

#endif
