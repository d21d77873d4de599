/* vtpm: VTPM.create and VTPM.destroy with xapi's checks (xapi_vtpm.ml).
 * The records only: no host here runs a TPM emulator, so a VM with a
 * VTPM starts without one, as on a host without vTPM support. */
#include "api.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* The pool's licence allows vTPMs unless restrictions say otherwise:
 * FEATURE_RESTRICTED restrict_vtpm as xapi's assert_not_restricted. */
static int assert_not_restricted(struct rpc_ctx *ctx, struct xerr *err)
{
	struct db_obj *p = db_first(ctx->db, SC_C_pool);
	const xv *r = p ? xv_map_get(db_peek(p, SC_F_pool__restrictions), "restrict_vtpm") : NULL;
	if (!r || strcmp(xv_as_str(r), "false"))
		return xerr_set(err, ERR_FEATURE_RESTRICTED, "restrict_vtpm", NULL);
	return 0;
}

/* The VM's power state as xapi's errors write it (halted, running...). */
static void lower_state(struct db_obj *vm, char *out, size_t n)
{
	snprintf(out, n, "%s", db_peek_str(vm, SC_F_VM__power_state));
	for (char *c = out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
}

/* xapi: licence, at most one VTPM a VM (VTPM_MAX_AMOUNT_REACHED with the
 * count), the VM halted. */
static int vtpm_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!vm || assert_not_restricted(ctx, err) < 0) {
		db_abort(t);
		return -1;
	}
	xv have = db_get(ctx->db, vm, SC_F_VM__VTPMs);
	size_t n = xv_len(&have);
	xv_free(&have);
	char ps[16];
	lower_state(vm, ps, sizeof ps);
	int rc = 0;
	if (n > 0) {
		char count[24];
		snprintf(count, sizeof count, "%zu", n);
		rc = xerr_set(err, ERR_VTPM_MAX_AMOUNT_REACHED, count, NULL);
	} else if (strcmp(ps, "halted")) {
		rc = xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, "halted", ps, NULL);
	}
	if (rc < 0) {
		db_abort(t);
		return -1;
	}
	struct db_obj *v = db_create(t, SC_C_VTPM, NULL);
	db_set_str(t, v, SC_F_VTPM__VM, vm->ref);
	db_set_str(t, v, SC_F_VTPM__backend, REF_NULL);
	db_set_str(t, v, SC_F_VTPM__persistence_backend, "xapi");
	db_set_bool(t, v, SC_F_VTPM__is_unique, arg_bool(args, 1));
	db_set_bool(t, v, SC_F_VTPM__is_protected, false);
	xv ref = xv_str(v->ref);
	if (db_commit(t, err) < 0) {
		xv_free(&ref);
		return -1;
	}
	*result = ref;
	return 0;
}

/* xapi: only while the VM is halted or suspended. */
static int vtpm_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *v = generic_lookup(ctx, SC_C_VTPM, xv_arr_get(args, 0), err);
	if (!v) {
		db_abort(t);
		return -1;
	}
	struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(v, SC_F_VTPM__VM));
	char ps[16] = "halted";
	if (vm)
		lower_state(vm, ps, sizeof ps);
	if (strcmp(ps, "halted") && strcmp(ps, "suspended")) {
		db_abort(t);
		return xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, "halted;suspended", ps, NULL);
	}
	db_delete(t, v);
	return db_commit(t, err);
}

RPC_IMPL(VTPM, create, vtpm_create, 0);
RPC_IMPL(VTPM, destroy, vtpm_destroy, 0);
