/* vm_console: the console records of a running VM. A VM gets one rfb and
 * one vt100 console when its domain starts (or is adopted) and loses them
 * when it halts; location is xapi's https://<host address>/console?uuid=. */
#include "api.h"
#include "vm_console.h"
#include "vm_ops.h"

#include <stdio.h>
#include <string.h>

void vm_consoles_ensure(struct db_txn *t, struct db_obj *vm, struct server *srv)
{
	struct db *db = db_txn_db(t);
	xv cons = db_get(db, vm, SC_F_VM__consoles);
	size_t n = xv_len(&cons);
	xv_free(&cons);
	if (n)
		return;
	struct db_obj *host = db_lookup_cls(db, SC_C_host, srv->host_ref);
	const char *addr = host ? db_peek_str(host, SC_F_host__address) : "";
	if (!addr || !*addr)
		addr = "localhost";
	static const char *const protos[] = {"rfb", "vt100"};
	for (size_t i = 0; i < 2; i++) {
		struct db_obj *c = db_create(t, SC_C_console, NULL);
		char loc[512];
		snprintf(loc, sizeof loc, "https://%s/console?uuid=%s", addr,
			 db_peek_str(c, SC_F_console__uuid));
		db_set_str(t, c, SC_F_console__protocol, protos[i]);
		db_set_str(t, c, SC_F_console__location, loc);
		db_set_str(t, c, SC_F_console__VM, vm->ref);
	}
}

void vm_consoles_destroy(struct db_txn *t, struct db_obj *vm)
{
	struct db *db = db_txn_db(t);
	xv cons = db_get(db, vm, SC_F_VM__consoles);
	for (size_t i = 0; i < xv_len(&cons); i++) {
		struct db_obj *c = db_lookup_cls(db, SC_C_console, xv_as_str(xv_arr_get(&cons, i)));
		if (c)
			db_delete(t, c);
	}
	xv_free(&cons);
}

int vm_console_target(struct server *srv, const char *uuid, const char *ref, char proto[16],
		      char vm_uuid[64], struct xerr *err)
{
	db_rdlock(srv->db);
	struct db_obj *c = uuid ? db_lookup_uuid(srv->db, SC_C_console, uuid)
			   : ref ? db_lookup_cls(srv->db, SC_C_console, ref) : NULL;
	struct db_obj *vm = c ? db_lookup_cls(srv->db, SC_C_VM, db_peek_str(c, SC_F_console__VM)) : NULL;
	if (vm) {
		snprintf(proto, 16, "%s", db_peek_str(c, SC_F_console__protocol));
		snprintf(vm_uuid, 64, "%s", db_peek_str(vm, SC_F_VM__uuid));
	}
	db_unlock(srv->db);
	if (!vm)
		return xerr_set(err, ERR_HANDLE_INVALID, "console", uuid ? uuid : ref ? ref : "", NULL);
	return 0;
}
