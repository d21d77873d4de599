/* api: hand-written message implementations, one file per class. Each
 * file defines its handlers' entries with RPC_IMPL (rpc_table.h) for the
 * messages api/messages.list names. */
#ifndef XENON_API_H
#define XENON_API_H

#include "generic.h"
#include "op.h"
#include "rpc_table.h"
#include "server.h"

#include <time.h>

/* A message (an alert, as xapi's Xapi_alert.add), in t, about the object
 * of class cls ("VM", "Host", "SR", "Pool", …) with obj_uuid, timed now
 * (api/message_calls.c). */
struct db_obj *message_add(struct db_txn *t, const char *name, int64_t priority, const char *cls,
			   const char *obj_uuid, const char *body);

/* debug.fault_* (api/debug_fault.c): only when fault points are enabled */
void api_debug_fault_init(void);
/* The guest-metrics poller (api/vm_guest.c): one thread for all VMs, only
 * for backends with a guest agent. */
void vm_guest_start(struct server *srv);
void vm_guest_stop(void);
/* The built-in DHCP server and NAT of internal networks (api/net_services.c):
 * one thread reconciling them to the networks' other_config; stop ends
 * them all. Not with the simulated backend. */
void net_services_start(struct server *srv);
void net_services_stop(void);
/* The coalescer (api/coalesce.c): one thread folding hidden bases with a
 * single image left on them into that image. kick: look now (a VDI was
 * destroyed, an SR scanned). */
void storage_coalesce_start(struct server *srv);
void storage_coalesce_stop(void);
void storage_coalesce_kick(void);
/* Ends NBD exports (VDI.get_nbd_info) whose session is gone (all: every
 * one, when the daemon stops, since sessions do not outlive it), and
 * forgets those that ended (api/vdi_nbd.c). */
void vdi_nbd_gc(struct server *srv, bool all);

/* Fills srv->xh, what the VM backend is given (xenops.h): the run
 * directory and the VM logic's report operations. Before backend->init. */
void vm_events_host_init(struct server *srv);

/* The VM snapshot schedules' thread (api/appliance.c). */
void vmss_start(struct server *srv);
void vmss_stop(void);
/* dr.c: the writer of the pool's database into its metadata VDIs */
void dr_start(struct server *srv);
void dr_stop(void);
/* The database written into a VDI now (a metadata or the redo log's), the
 * writer woken; and a wait for any write under way to end. */
int dr_write_now(struct server *srv, const char *vdi_ref, struct xerr *err);
void dr_quiesce(void);
/* Whether a schedule of frequency freq (hourly, daily, weekly) and keys
 * sch (min, hour, days) has a slot, in local time, after last and not
 * after now: it is due. */
bool vmss_slot_due(const char *freq, const xv *sch, int64_t last, time_t now);

/* Once a second on a pooled host (api/pool_master.c): on the master,
 * host records for every member, pool.master, POOL_MASTER_TRANSITION. */
void pool_master_tick(struct server *srv);
/* This host's record in a pool, under the caller's lock: the one
 * <data-dir>/pool-host names (a host that joined or made the pool), else
 * the one at its pool address (a configured member's, made by the master);
 * NULL while the log has not brought it. */
struct db_obj *pool_own_host(struct server *srv);
/* Says clearly, on stderr and in the log, that no master was elected
 * within seconds of starting, and what this host can reach. */
void pool_report_no_leader(struct server *srv, int seconds);

/* Drops per-session state kept outside the store. */
void event_session_gone(const char *session);
/* Sessions registered for the legacy event.next queue. */
size_t event_registered_count(void);

/* The answer of VM.get_allowed_VBD_devices and _VIF_devices: the numbers
 * 0..max that used[] does not mark, in order, as strings (vm.c). */
xv vm_free_devices(const bool *used, int max);

/* Argument helpers: borrowed views of args[i]. */
static inline const char *arg_str(xv *args, size_t i)
{
	const char *s = xv_as_str(xv_arr_get(args, i));
	return s ? s : "";
}

static inline int64_t arg_int(xv *args, size_t i)
{
	const xv *v = xv_arr_get(args, i);
	return v && v->kind == XV_INT ? v->u.i : 0;
}

static inline bool arg_bool(xv *args, size_t i)
{
	const xv *v = xv_arr_get(args, i);
	return v && v->kind == XV_BOOL && v->u.b;
}

#endif
