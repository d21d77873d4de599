/* vbd_live: VBD changes carried into a running domain (see vbd_live.c). */
#ifndef XENON_VBD_LIVE_H
#define XENON_VBD_LIVE_H

#include <stdbool.h>

#include "../db/db.h"
#include "rpc_table.h"

struct server;

enum vbd_live_op { VBD_LIVE_PLUG, VBD_LIVE_UNPLUG, VBD_LIVE_INSERT, VBD_LIVE_EJECT };

/* Whether a change to vm's VBDs must reach a domain: the VM is running or
 * paused and the backend hot-plugs (otherwise the records are all). */
bool vbd_live_applies(struct server *srv, struct db_obj *vm);
/* Marks op in the VBD's current_operations under token, in t;
 * OTHER_OPERATION_IN_PROGRESS when another is marked. */
int vbd_live_begin(struct db_txn *t, struct db_obj *vbd, const char *token, enum vbd_live_op op,
		   struct xerr *err);
/* After the marking transaction committed: does the change (force: an
 * unplug that waits less for the guest), then records the outcome and
 * clears the mark. An insert whose medium change fails leaves the drive
 * empty again. */
int vbd_live_run(struct rpc_ctx *ctx, const char *vbd_ref, const char *token, enum vbd_live_op op,
		 bool force, struct xerr *err);

#endif
