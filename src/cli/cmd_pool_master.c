/* cmd_pool_master: moving a pool's master — pool-designate-new-master,
 * pool-sync-database, and the emergency pair for a pool whose master is
 * gone (pool-emergency-transition-to-master on a slave, then
 * pool-recover-slaves on it). */
#include "cmd.h"
#include "base/mem.h"

#include <stdlib.h>

static int h_designate(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (xs_by_uuid(x->s, SC_C_host, xe_req(x, "host-uuid"), &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	int rc = xc_call(x->c, "pool.designate_new_master", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

static int h_call0(struct xe_ctx *x, struct xerr *err)
{
	xv a = xv_arr_new();
	int rc = xc_call(x->c, (const char *)x->cmd->data, &a, NULL, err);
	xv_free(&a);
	return rc;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

const struct xe_cmd xe_pool_master_cmds[] = {
	{"pool-designate-new-master", L("host-uuid"), NULL,
	 "Make the given host the pool's master (the leadership moves to it once it holds the whole "
	 "database).",
	 0, h_designate, NULL},
	{"pool-sync-database", NULL, NULL,
	 "Wait until every host of the pool holds the database up to its last change.", 0, h_call0,
	 "pool.sync_database"},
};
const size_t xe_pool_master_ncmds = sizeof xe_pool_master_cmds / sizeof xe_pool_master_cmds[0];
