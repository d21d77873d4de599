/* vm_migrate_pool: a VM moves live to another host of its pool —
 * VM.pool_migrate (its disks stay on SRs both hosts reach) and
 * VM.migrate_send within the pool (xapi's intra-pool storage motion: its
 * disks move to SRs of the destination; the record, ref and uuid stay).
 *
 * The source's xenond drives it over the pool's channel:
 *   1. host.pool_migrate_prepare on the destination builds the domain from
 *      the pool's records (on new VDIs it makes for the disks that move),
 *      its QEMU waiting for the stream and exporting those disks;
 *   2. the source's QEMU mirrors the moving disks into the exports while
 *      the guest runs, then sends the memory, over TLS unless the network
 *      is marked for plain streams (vm_migrate.h: the credentials);
 *   3. host.migrate_receive_finish commits on the destination: the VM runs
 *      there, resident_on, domid and its VBDs (on the new VDIs) in one
 *      write. Only then does the source end its QEMU and destroy the old
 *      VDIs. Any failure before 3 leaves the VM running here as before and
 *      nothing on the destination. */
#include "api.h"
#include "generic.h"
#include "metrics.h"
#include "pool_forward.h"
#include "storage.h"
#include "transfer.h"
#include "vm_migrate.h"
#include "vm_ops.h"
#include "../base/clock.h"
#include "../base/jsonv.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The destination's side: the VM's domain built from the pool's records,
 * waiting for the stream on the address the source names (its address on
 * the migration's network; "": the host's), over TLS when the source sends
 * the CA of its credentials (tls_ca; the answer carries this side's).
 * With disks (storage motion within the pool: a map VBD -> SR here, in
 * JSON), a new VDI is made on that SR for each, and the domain built on
 * them, exported to the source's mirrors; the VBDs are pointed at them
 * only when the migration commits (host.migrate_receive_finish). */
static int host_pool_migrate_prepare(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct server *srv = ctx->srv;
	if (!srv->backend->migrate_receive)
		return xerr_set(err, ERR_VM_MIGRATE_FAILED, REF_NULL, "", srv->host_ref,
				"this host's VM backend cannot receive a migration", NULL);
	xv moves = XV_NIL_INIT;
	const char *mtext = arg_str(args, 5);
	if (mtext && *mtext && jsonv_parse(mtext, strlen(mtext), &moves, err) < 0)
		return -1;
	if (moves.kind != XV_NIL && moves.kind != XV_MAP) {
		xv_free(&moves);
		return xerr_set(err, ERR_FIELD_TYPE_ERROR, "disks", NULL);
	}
	struct incoming *in = xcalloc(1, sizeof *in);
	in->vdis = xv_arr_new();
	in->moved = xv_map_new();
	in->pooled = true;
	char addr[64] = "";
	xv recs = xv_arr_new(); /* the new VDIs' records, in the order of moves */
	int *nbd = xcalloc(xv_len(&moves) + 1, sizeof *nbd);
	size_t n_nbd = 0;
	db_rdlock(ctx->db);
	struct db_obj *host = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	struct db_obj *vm = host ? generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 1), err) : NULL;
	int rc = vm ? 0 : -1;
	if (rc == 0 && strcmp(host->ref, srv->host_ref) != 0)
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "the host is not this one", NULL);
	if (rc == 0) {
		snprintf(addr, sizeof addr, "%s", db_peek_str(host, SC_F_host__address));
		int64_t free_mem = vm_host_free_memory(srv, vm);
		int64_t need = db_peek_int(vm, SC_F_VM__memory_dynamic_max) + db_peek_int(vm, SC_F_VM__memory_overhead);
		if (free_mem >= 0 && need > free_mem) {
			char n[32], a[32];
			snprintf(n, sizeof n, "%lld", (long long)need);
			snprintf(a, sizeof a, "%lld", (long long)free_mem);
			rc = xerr_set(err, ERR_HOST_NOT_ENOUGH_FREE_MEMORY, n, a, NULL);
		}
	}
	for (size_t i = 0; rc == 0 && i < xv_len(&moves); i++) {
		const char *vbd_ref = moves.u.m->keys[i], *sr_ref = xv_as_str(&moves.u.m->vals[i]);
		struct db_obj *vbd = db_lookup_cls(ctx->db, SC_C_VBD, vbd_ref);
		struct db_obj *vdi = vbd ? db_lookup_cls(ctx->db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI)) : NULL;
		struct db_obj *sr = sr_ref ? db_lookup_cls(ctx->db, SC_C_SR, sr_ref) : NULL;
		if (!vbd || !vdi || strcmp(db_peek_str(vbd, SC_F_VBD__VM), vm->ref) != 0)
			rc = handle_invalid(err, SC_C_VBD, vbd_ref);
		else if (!sr)
			rc = handle_invalid(err, SC_C_SR, sr_ref ? sr_ref : "");
		else if (!storage_pbd(ctx->db, srv->host_ref, sr))
			rc = xerr_set(err, ERR_SR_NOT_ATTACHED, sr->ref, NULL);
		if (rc < 0)
			break;
		xv rec = xv_map_new();
		xv_map_set_str(&rec, "name_label", db_peek_str(vdi, SC_F_VDI__name_label));
		xv_map_set_str(&rec, "name_description", db_peek_str(vdi, SC_F_VDI__name_description));
		xv_map_set_str(&rec, "SR", sr->ref);
		xv_map_set(&rec, "virtual_size", xv_int(db_peek_int(vdi, SC_F_VDI__virtual_size)));
		xv_map_set_str(&rec, "type", db_peek_str(vdi, SC_F_VDI__type));
		xv_map_set(&rec, "other_config", xv_copy(db_peek(vdi, SC_F_VDI__other_config)));
		xv_arr_push(&recs, rec);
		nbd[n_nbd++] = storage_vbd_position(db_peek_str(vbd, SC_F_VBD__userdevice));
	}
	db_unlock(ctx->db);
	/* the new disks, empty, on this host's SRs */
	for (size_t i = 0; rc == 0 && i < xv_len(&recs); i++) {
		char vdi_ref[REF_STRLEN + 1];
		xv rec = xv_copy(xv_arr_get(&recs, i));
		if (transfer_vdi_create(ctx, rec, vdi_ref, err) < 0) {
			rc = -1;
			break;
		}
		xv_arr_push_str(&in->vdis, vdi_ref);
		xv_map_set_str(&in->moved, moves.u.m->keys[i], vdi_ref);
	}
	xv_free(&recs);
	xv_free(&moves);
	if (rc == 0) {
		db_rdlock(ctx->db);
		vm = db_lookup_cls(ctx->db, SC_C_VM, xv_as_str(xv_arr_get(args, 1)));
		if (!vm) {
			rc = handle_invalid(err, SC_C_VM, xv_as_str(xv_arr_get(args, 1)));
		} else {
			snprintf(in->vm_ref, sizeof in->vm_ref, "%s", vm->ref);
			snprintf(in->token, sizeof in->token, "%s", arg_str(args, 2) ? arg_str(args, 2) : "");
			vm_spec_of(vm, &in->spec);
			in->spec.domid = vm_next_domid(ctx->db);
			if (vm_boot_files(srv, &in->spec, err) < 0 ||
			    vif_spec_nics(ctx->db, vm, &in->spec, false, err) < 0 ||
			    !(in->build = vm_build_collect_with(srv, vm, &in->moved, err)))
				rc = -1;
		}
		db_unlock(ctx->db);
	}
	/* the address on the network the source asked for */
	const char *want_addr = arg_str(args, 4);
	if (want_addr && *want_addr)
		snprintf(addr, sizeof addr, "%s", want_addr);
	if (rc == 0)
		rc = vm_build_attach(in->build, &in->spec, err);
	struct xenops_mig_listen l;
	memset(&l, 0, sizeof l);
	snprintf(l.addr, sizeof l.addr, "%s", addr);
	/* the source's CA given: the stream is TLS */
	const char *peer_ca = arg_str(args, 3);
	struct mig_creds creds;
	memset(&creds, 0, sizeof creds);
	bool tls = peer_ca && *peer_ca;
	if (rc == 0 && tls && mig_creds_make(srv, &creds, err) == 0)
		l.tls = mig_creds_trust(&creds, peer_ca, "");
	else if (rc == 0 && tls)
		rc = -1;
	if (rc == 0)
		rc = srv->backend->migrate_receive(&srv->xh, &in->spec, nbd, n_nbd, &l, err);
	free(nbd);
	if (rc < 0) {
		mig_creds_free(&creds);
		/* the pool's records stay as they are: the new disks go */
		in->vm_ref[0] = '\0';
		mig_discard(srv, in);
		mig_incoming_free(in);
		return -1;
	}
	xv out = xv_map_new();
	xv_map_set_str(&out, "address", l.addr);
	xv_map_set(&out, "port", xv_int(l.port));
	xv_map_set(&out, "nbd_port", xv_int(l.nbd_port));
	xv_map_set(&out, "vdis", xv_copy(&in->moved));
	if (tls)
		xv_map_set_str(&out, "tls_ca", creds.ca);
	mig_creds_free(&creds);
	mig_incoming_add(in);
	struct strbuf sb;
	sb_init(&sb);
	jsonv_write(&sb, &out);
	xv_free(&out);
	*result = xv_str_own(sb_detach(&sb));
	return 0;
}

static bool truthy(const char *v)
{
	return v && (!strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"));
}

/* The host's PIF network whose address is ip (the address a dest map
 * names), NULL when none is. */
static struct db_obj *net_of_address(struct db *db, struct db_obj *host, const char *ip)
{
	for (struct db_obj *pif = db_first(db, SC_C_PIF); pif; pif = db_next(pif)) {
		if (strcmp(db_peek_str(pif, SC_F_PIF__host), host->ref) != 0)
			continue;
		const char *a = db_peek_str(pif, SC_F_PIF__IP);
		if (!*a && db_peek_bool(pif, SC_F_PIF__management))
			a = db_peek_str(host, SC_F_host__address);
		if (!strcmp(a, ip))
			return db_lookup_cls(db, SC_C_network, db_peek_str(pif, SC_F_PIF__network));
	}
	return NULL;
}

/* The VM to another host of the pool, live. VM.pool_migrate (vdi_map
 * NULL): its disks stay where they are, on SRs the destination reaches.
 * VM.migrate_send within the pool (vdi_map given; xapi's intra-pool
 * storage motion): the VM's record, ref and uuid stay; each disk whose VDI
 * the map sends to another SR gets a new VDI there (made by the
 * destination), mirrored into while the guest runs, then the memory
 * follows; at the commit its VBD names the new VDI and the old one is
 * destroyed here. A disk the map leaves out stays where it is if the
 * destination reaches its SR (VDI_NOT_IN_MAP otherwise). dry: the checks
 * only (VM.assert_can_migrate). */
static int pool_move(struct rpc_ctx *ctx, const xv *vm_arg, const xv *host_arg, const xv *opts, const xv *vdi_map,
		     const xv *vif_map, const char *dest_ip, bool dry, xv *result, struct xerr *err)
{
	struct server *srv = ctx->srv;
	*result = XV_NIL_INIT;
	bool sxm = vdi_map != NULL;
	const char *opname = sxm ? "migrate_send" : "pool_migrate";
	const char *live = xv_map_get_str(opts, "live");
	if (live && !truthy(live) && strcmp(live, "false") && strcmp(live, "off") && strcmp(live, "0"))
		return xerr_set(err, ERR_INVALID_VALUE, "live", live, NULL);
	char token[REF_STRLEN + 1];
	if (ctx->task[0])
		snprintf(token, sizeof token, "%s", ctx->task);
	else
		ref_generate(token);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, vm_arg, err);
	struct db_obj *dest = vm ? generic_lookup(ctx, SC_C_host, host_arg, err) : NULL;
	int rc = dest ? 0 : -1;
	/* xapi: within a pool the VIFs stay on their networks */
	if (rc == 0 && sxm && xv_len(vif_map))
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "a VIF map is for another pool: the VIFs stay here", NULL);
	if (rc == 0 && (db_peek_bool(vm, SC_F_VM__is_a_template) || db_peek_bool(vm, SC_F_VM__is_a_snapshot)))
		rc = xerr_set(err, ERR_VM_IS_TEMPLATE, vm->ref, NULL);
	const char *ps = rc == 0 ? db_peek_str(vm, SC_F_VM__power_state) : "";
	if (rc == 0 && strcmp(ps, "Running") != 0)
		rc = xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, "running", ps, NULL);
	if (rc == 0 && vm_check_op(vm, opname, err) < 0)
		rc = -1;
	if (rc == 0 && !strcmp(db_peek_str(vm, SC_F_VM__resident_on), dest->ref))
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "the VM runs on that host already", NULL);
	if (rc == 0 && strcmp(db_peek_str(vm, SC_F_VM__resident_on), srv->host_ref) != 0)
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "the VM does not run on this host", NULL);
	if (rc == 0 && !db_peek_bool(dest, SC_F_host__enabled))
		rc = xerr_set(err, ERR_HOST_DISABLED, dest->ref, NULL);
	if (rc == 0) {
		struct db_obj *m = db_lookup_cls(ctx->db, SC_C_host_metrics, db_peek_str(dest, SC_F_host__metrics));
		if (!m || !db_peek_bool(m, SC_F_host_metrics__live))
			rc = xerr_set(err, ERR_HOST_OFFLINE, dest->ref, NULL);
	}
	/* every disk on an SR the destination reaches (else storage motion:
	 * VM_REQUIRES_SR, early, as XO expects), or moved by the map to one */
	xv vbds = rc == 0 ? db_get(ctx->db, vm, SC_F_VM__VBDs) : xv_arr_new();
	xv moves = xv_map_new(), old_vdis = xv_arr_new();
	int *mirror = xcalloc(xv_len(&vbds) + 1, sizeof *mirror);
	size_t nmirror = 0;
	for (size_t i = 0; rc == 0 && i < xv_len(&vbds); i++) {
		struct db_obj *vbd = db_lookup_cls(ctx->db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		struct db_obj *vdi = vbd && !db_peek_bool(vbd, SC_F_VBD__empty)
					     ? db_lookup_cls(ctx->db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI))
					     : NULL;
		struct db_obj *sr = vdi ? db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
		if (!sr)
			continue;
		bool cd = !strcmp(db_peek_str(vbd, SC_F_VBD__type), "CD");
		const char *to = sxm && !cd ? xv_map_get_str(vdi_map, vdi->ref) : NULL;
		if (to && strcmp(to, sr->ref) != 0) {
			struct db_obj *tsr = db_lookup_cls(ctx->db, SC_C_SR, to);
			if (!tsr)
				rc = handle_invalid(err, SC_C_SR, to);
			else if (!storage_pbd(ctx->db, dest->ref, tsr))
				rc = xerr_set(err, ERR_VM_REQUIRES_SR, vm->ref, tsr->ref, NULL);
			else if (db_peek_bool(vdi, SC_F_VDI__cbt_enabled))
				rc = xerr_set(err, ERR_VDI_CBT_ENABLED, vdi->ref, NULL);
			if (rc < 0)
				break;
			xv_map_set_str(&moves, vbd->ref, tsr->ref);
			xv_arr_push_str(&old_vdis, vdi->ref);
			mirror[nmirror++] = storage_vbd_position(db_peek_str(vbd, SC_F_VBD__userdevice));
		} else if (!storage_pbd(ctx->db, dest->ref, sr)) {
			rc = sxm && !cd && !to ? xerr_set(err, ERR_VDI_NOT_IN_MAP, vdi->ref, NULL)
					: xerr_set(err, ERR_VM_REQUIRES_SR, vm->ref, sr->ref, NULL);
		}
	}
	xv_free(&vbds);
	/* xapi's limit of storage migrations at once from this host */
	bool counted = false;
	if (rc == 0 && nmirror) {
		rc = mig_storage_take(!dry, err);
		counted = rc == 0 && !dry;
	}
	/* the network the stream goes over (options:network, else the
	 * destination's management network): TLS unless the pool marks it */
	const xv *netv = xv_map_get(opts, "network");
	struct db_obj *net = NULL;
	char addr[64] = "";
	if (rc == 0 && netv && xv_as_str(netv) && *xv_as_str(netv) && strcmp(xv_as_str(netv), REF_NULL) != 0) {
		net = generic_lookup(ctx, SC_C_network, netv, err);
		if (!net || mig_address_on(ctx->db, dest, net, addr, err) < 0)
			rc = -1;
	} else if (rc == 0 && dest_ip && *dest_ip && (net = net_of_address(ctx->db, dest, dest_ip))) {
		/* the network of the dest map's address */
		snprintf(addr, sizeof addr, "%s", dest_ip);
	}
	bool plain = rc == 0 && mig_stream_plain(ctx->db, dest, net);
	if (dry || rc < 0) {
		db_abort(t);
		if (counted) {
			mig_storage_give();
		}
		xv_free(&moves);
		xv_free(&old_vdis);
		free(mirror);
		return rc;
	}
	char vm_ref[REF_STRLEN + 1], dest_ref[REF_STRLEN + 1], dest_uuid[UUID_STRLEN + 1];
	struct vm_spec spec;
	memset(&spec, 0, sizeof spec);
	if (rc == 0) {
		snprintf(vm_ref, sizeof vm_ref, "%s", vm->ref);
		snprintf(dest_ref, sizeof dest_ref, "%s", dest->ref);
		snprintf(dest_uuid, sizeof dest_uuid, "%s", db_peek_str(dest, SC_F_host__uuid));
		vm_spec_of(vm, &spec);
		spec.domid = db_peek_int(vm, SC_F_VM__domid);
		op_mark(t, vm, opname, token);
		rc = db_commit(t, err);
	} else {
		db_abort(t);
	}
	if (rc < 0) {
		vm_spec_free(&spec);
		if (counted) {
			mig_storage_give();
		}
		xv_free(&moves);
		xv_free(&old_vdis);
		free(mirror);
		return -1;
	}
	/* the disks as this host attached them, to let go of afterwards */
	db_rdlock(ctx->db);
	vm = db_lookup_cls(ctx->db, SC_C_VM, vm_ref);
	struct xerr be = XERR_INIT;
	struct vm_build *build = vm ? vm_build_collect(srv, vm, &be) : NULL;
	db_unlock(ctx->db);
	xerr_clear(&be);

	/* the destination waits for the stream */
	int64_t t_prep = clock_now_ms();
	struct mig_creds creds;
	memset(&creds, 0, sizeof creds);
	rc = plain ? 0 : mig_creds_make(srv, &creds, err);
	xv pargs = xv_arr_new(), prep = XV_NIL_INIT, ans = XV_NIL_INIT;
	xv_arr_push_str(&pargs, dest_ref);
	xv_arr_push_str(&pargs, vm_ref);
	xv_arr_push_str(&pargs, token);
	xv_arr_push_str(&pargs, plain || !creds.ca ? "" : creds.ca);
	xv_arr_push_str(&pargs, addr);
	if (nmirror) {
		struct strbuf sb;
		sb_init(&sb);
		jsonv_write(&sb, &moves);
		xv_arr_push(&pargs, xv_str_own(sb_detach(&sb)));
	} else {
		xv_arr_push_str(&pargs, "");
	}
	if (rc == 0)
		rc = pool_call_on_host(srv, dest_ref, "host.pool_migrate_prepare", &pargs, NULL, &prep, err);
	xv_free(&pargs);
	struct xenops_mig_target tg;
	memset(&tg, 0, sizeof tg);
	xv new_vdis = XV_NIL_INIT; /* VBD -> the VDI the destination made for it */
	if (rc == 0) {
		const char *txt = xv_as_str(&prep);
		if (!txt || jsonv_parse(txt, strlen(txt), &ans, err) < 0)
			rc = xerr_set(err, ERR_VM_MIGRATE_FAILED, vm_ref, srv->host_ref, dest_ref,
				      "the destination's answer is no migration", NULL);
	}
	bool prepared = rc == 0;
	if (rc == 0) {
		snprintf(tg.addr, sizeof tg.addr, "%s", mig_jstr(&ans, "address"));
		const xv *port = xv_map_get(&ans, "port");
		tg.port = port && port->kind == XV_INT ? (int)port->u.i : 0;
		const xv *nport = xv_map_get(&ans, "nbd_port"), *made = xv_map_get(&ans, "vdis");
		tg.nbd_port = nport && nport->kind == XV_INT ? (int)nport->u.i : 0;
		if (made && made->kind == XV_MAP)
			new_vdis = xv_copy(made);
		tg.mirror = mirror;
		tg.nmirror = nmirror;
		/* a destination that would take it plain gets nothing */
		if (nmirror && (!tg.nbd_port || xv_len(made) != nmirror))
			rc = xerr_set(err, ERR_VM_MIGRATE_FAILED, vm_ref, srv->host_ref, dest_ref,
				      "the destination made no disks for the mirrors", NULL);
		else if (!plain && !*mig_jstr(&ans, "tls_ca"))
			rc = xerr_set(err, ERR_VM_MIGRATE_FAILED, vm_ref, srv->host_ref, dest_ref,
				      "the destination offers no TLS for the stream", NULL);
		else if (!plain)
			tg.tls = mig_creds_trust(&creds, mig_jstr(&ans, "tls_ca"), dest_uuid);
	}
	struct watch w;
	mig_watch_begin(&w, srv, rc == 0 ? ctx->task : "", &tg);
	tg.max_bandwidth = (int64_t)srv->cfg.migration_bandwidth << 20;
	struct xenops_mig_stats st;
	memset(&st, 0, sizeof st);
	int64_t t_send = clock_now_ms();
	int sent = rc == 0 ? srv->backend->migrate_send(&srv->xh, &spec, &tg, &st, err) : -1;
	int64_t t_finish = clock_now_ms();
	mig_watch_end(&w);
	if (rc == 0 && sent < 0) {
		log_warn("pool_migrate: VM %s: %s %s", spec.uuid, err->code ? err->code : "",
			 err->nparams ? err->params[0] : "");
		xerr_clear(err);
		if (sent == -2)
			xerr_set(err, ERR_TASK_CANCELLED, ctx->task, NULL);
		else if (st.phase == 0 && nmirror)
			xerr_set(err, ERR_MIRROR_FAILED, xv_as_str(xv_arr_get(&old_vdis, 0)), NULL);
		else
			xerr_set(err, ERR_VM_MIGRATE_FAILED, vm_ref, srv->host_ref, dest_ref,
				 "the memory did not reach the destination", NULL);
		rc = -1;
	}
	bool committed = false;
	if (prepared) {
		xv fargs = xv_arr_new(), r = XV_NIL_INIT;
		xv_arr_push_str(&fargs, dest_ref);
		xv_arr_push_str(&fargs, vm_ref);
		xv_arr_push(&fargs, xv_bool(rc == 0));
		xv_arr_push(&fargs, rc == 0 ? mig_console_history(srv, spec.uuid) : xv_str(""));
		struct xerr fe = XERR_INIT;
		int fr = pool_call_on_host(srv, dest_ref, "host.migrate_receive_finish", &fargs, NULL, &r, &fe);
		xv_free(&fargs);
		xv_free(&r);
		if (rc == 0 && fr == 0) {
			committed = true;
		} else if (rc == 0 && fe.code && !strcmp(fe.code, ERR_HOST_OFFLINE)) {
			/* no answer: whether it runs there is unknown, so it stays
			 * stopped here rather than run twice */
			log_error("pool_migrate: VM %s: no answer from the destination at the end: left paused here",
				  spec.uuid);
			xerr_set(err, ERR_VM_MIGRATE_FAILED, vm_ref, srv->host_ref, dest_ref,
				 "the destination did not confirm; the VM is paused here", NULL);
			rc = -1;
		} else if (rc == 0) {
			/* it does not run there: it goes on here */
			struct xerr e = XERR_INIT;
			if (srv->backend->unpause(&srv->xh, &spec, &e) < 0)
				log_error("pool_migrate: VM %s: cannot resume it here: %s", spec.uuid, e.code);
			xerr_clear(&e);
			xerr_set(err, ERR_VM_MIGRATE_FAILED, vm_ref, srv->host_ref, dest_ref,
				 fe.nparams ? fe.params[fe.nparams - 1] : fe.code ? fe.code : "", NULL);
			rc = -1;
		}
		xerr_clear(&fe);
	}
	xv_free(&prep);
	xv_free(&ans);
	mig_creds_free(&creds);
	int64_t t_end = clock_now_ms();
	if (committed) {
		/* the destination recorded it running there; this host's domain,
		 * taps and attachments go */
		struct xerr e = XERR_INIT;
		if (srv->backend->shutdown(&srv->xh, &spec, false, &e) < 0)
			log_warn("pool_migrate: VM %s: ending the source's domain: %s", spec.uuid, e.code);
		xerr_clear(&e);
		vm_build_detach(build);
		/* its disks that moved: the old VDIs go once this host's store has
		 * the VBDs naming the new ones (the destination wrote it; a member
		 * applies the pool's writes a moment later) */
		for (int64_t until = clock_now_ms() + 10000; xv_len(&new_vdis) && clock_now_ms() < until;) {
			size_t seen = 0;
			db_rdlock(ctx->db);
			for (size_t i = 0; i < xv_len(&new_vdis); i++) {
				struct db_obj *b = db_lookup_cls(ctx->db, SC_C_VBD, new_vdis.u.m->keys[i]);
				seen += b && !strcmp(db_peek_str(b, SC_F_VBD__VDI), xv_as_str(&new_vdis.u.m->vals[i]));
			}
			db_unlock(ctx->db);
			if (seen == xv_len(&new_vdis))
				break;
			struct timespec ts = {0, 20 * 1000000L};
			nanosleep(&ts, NULL);
		}
		struct rpc_ctx self;
		mig_self_ctx(srv, &self);
		for (size_t i = 0; i < xv_len(&old_vdis); i++) {
			const char *ref = xv_as_str(xv_arr_get(&old_vdis, i));
			if (vdi_destroy(&self, ref, &e) < 0)
				log_warn("migrate_send: VM %s: the old VDI %s stays: %s", spec.uuid, ref, e.code);
			xerr_clear(&e);
		}
		log_info("%s: VM %s moved to %s, %s (disks %lld ms, memory %lld ms, downtime %lld ms; prepare %lld ms, send "
			 "%lld ms, finish %lld ms, source ended %lld ms)",
			 opname, spec.uuid, dest_ref, plain ? "plain" : "TLS", (long long)st.mirror_ms, (long long)st.total_ms, (long long)st.downtime_ms,
			 (long long)(t_send - t_prep), (long long)(t_finish - t_send), (long long)(t_end - t_finish),
			 (long long)(clock_now_ms() - t_end));
	}
	vm_build_free(build);
	if (!committed) {
		t = db_begin(ctx->db);
		vm = db_lookup_cls(ctx->db, SC_C_VM, vm_ref);
		if (vm)
			op_end(t, vm, token);
		struct xerr e = XERR_INIT;
		db_commit(t, &e);
		xerr_clear(&e);
	}
	vm_spec_free(&spec);
	if (counted) {
		mig_storage_give();
	}
	xv_free(&moves);
	xv_free(&old_vdis);
	xv_free(&new_vdis);
	free(mirror);
	if (committed)
		metrics_move_now(srv); /* its RRD follows it */
	if (committed && sxm)
		*result = xv_str(vm_ref); /* the same VM */
	return committed ? 0 : -1;
}

static int vm_pool_migrate(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return pool_move(ctx, xv_arr_get(args, 0), xv_arr_get(args, 1), xv_arr_get(args, 2), NULL, NULL, NULL, false,
			 result, err);
}

int vm_pool_migrate_to(struct rpc_ctx *ctx, const char *vm, const char *host, const char *network,
		       struct xerr *err)
{
	xv args = xv_arr_new(), opts = xv_map_new(), res = XV_NIL_INIT;
	xv_map_set_str(&opts, "live", "true");
	if (network)
		xv_map_set_str(&opts, "network", network);
	xv_arr_push_str(&args, vm);
	xv_arr_push_str(&args, host);
	xv_arr_push(&args, opts);
	int rc = vm_pool_migrate(ctx, &args, &res, err);
	xv_free(&args);
	xv_free(&res);
	return rc;
}

/* A dest map of a host of this pool (host.migrate_receive called on it):
 * storage motion within the pool. The address of its xenops URL into ip. */
bool mig_dest_in_pool(struct db *db, const xv *dest, char ip[128])
{
	const char *h = xv_map_get_str(dest, "host");
	const char *url = xv_map_get_str(dest, "xenops");
	ip[0] = '\0';
	db_rdlock(db);
	bool in = h && db_lookup_cls(db, SC_C_host, h);
	db_unlock(db);
	bool tls;
	if (in && url && mig_parse_master(url, ip, &tls) == 0) {
		char *colon = strrchr(ip, ':');
		if (colon)
			*colon = '\0';
	}
	return in;
}

int mig_intra_pool(struct rpc_ctx *ctx, xv *args, bool dry, xv *result, struct xerr *err)
{
	const xv *dest = xv_arr_get(args, 1);
	char ip[128];
	mig_dest_in_pool(ctx->db, dest, ip);
	xv host = xv_str(xv_map_get_str(dest, "host"));
	const xv *opts = xv_arr_get(args, 5);
	xv none = xv_map_new();
	int rc = pool_move(ctx, xv_arr_get(args, 0), &host, opts && opts->kind == XV_MAP ? opts : &none,
			   xv_arr_get(args, 3) ? xv_arr_get(args, 3) : &none, xv_arr_get(args, 4), ip, dry, result,
			   err);
	xv_free(&host);
	xv_free(&none);
	return rc;
}

/* VM.restart_device_models: a running VM's device model (here, its QEMU)
 * replaced by a fresh one on the same host while the guest runs on, as
 * xapi does it by a live migration to the VM's own host: marked as that
 * migration (pool_migrate) in its operations, room for a second copy of
 * its memory asked for, a new domid, its disks attached and its taps made
 * for the new domain; the backend hands the
 * guest over (xenops restart_dm). A failure leaves the VM running in its
 * old device model, records unchanged. */
static int vm_restart_device_models(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct server *srv = ctx->srv;
	*result = XV_NIL_INIT;
	int64_t t0 = clock_now_ms();
	char token[REF_STRLEN + 1];
	if (ctx->task[0])
		snprintf(token, sizeof token, "%s", ctx->task);
	else
		ref_generate(token);
	struct vm_spec spec;
	memset(&spec, 0, sizeof spec);
	char vm_ref[REF_STRLEN + 1] = "";
	int64_t old_domid = -1;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	int rc = vm ? 0 : -1;
	if (rc == 0 && (db_peek_bool(vm, SC_F_VM__is_a_template) || db_peek_bool(vm, SC_F_VM__is_a_snapshot)))
		rc = xerr_set(err, ERR_VM_IS_TEMPLATE, vm->ref, NULL);
	const char *ps = rc == 0 ? db_peek_str(vm, SC_F_VM__power_state) : "";
	if (rc == 0 && strcmp(ps, "Running") != 0)
		rc = xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, "Running", ps, NULL);
	if (rc == 0 && strcmp(db_peek_str(vm, SC_F_VM__resident_on), srv->host_ref) != 0)
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "the VM does not run on this host", NULL);
	if (rc == 0 && !srv->backend->restart_dm)
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "this host's VM backend cannot restart a device model",
			      NULL);
	if (rc == 0 && vm_check_op(vm, "pool_migrate", err) < 0)
		rc = -1;
	if (rc == 0) {
		/* both domains hold the guest's memory while it moves */
		int64_t free_mem = vm_host_free_memory(srv, NULL);
		int64_t need = db_peek_int(vm, SC_F_VM__memory_dynamic_max) + db_peek_int(vm, SC_F_VM__memory_overhead);
		if (free_mem >= 0 && need > free_mem) {
			char n[32], a[32];
			snprintf(n, sizeof n, "%lld", (long long)need);
			snprintf(a, sizeof a, "%lld", (long long)free_mem);
			rc = xerr_set(err, ERR_HOST_NOT_ENOUGH_FREE_MEMORY, n, a, NULL);
		}
	}
	if (rc == 0) {
		snprintf(vm_ref, sizeof vm_ref, "%s", vm->ref);
		vm_spec_of(vm, &spec);
		old_domid = db_peek_int(vm, SC_F_VM__domid);
		spec.domid = vm_next_domid(ctx->db);
		op_mark(t, vm, "pool_migrate", token);
		rc = db_commit(t, err);
	} else {
		db_abort(t);
	}
	if (rc < 0) {
		vm_spec_free(&spec);
		return -1;
	}
	/* the new domain as a start builds it, with only the NICs and disks
	 * the running one has plugged (the guest's state has those), its disks
	 * attached for it; the attachments the old domain had, to let go of
	 * afterwards */
	xv vcpu_params = XV_NIL_INIT;
	db_rdlock(ctx->db);
	vm = db_lookup_cls(ctx->db, SC_C_VM, vm_ref);
	struct xerr be = XERR_INIT;
	struct vm_build *old_build = vm ? vm_build_collect_plugged(srv, vm, &be) : NULL;
	xerr_clear(&be);
	struct vm_build *build = NULL;
	rc = vm ? 0 : handle_invalid(err, SC_C_VM, vm_ref);
	if (rc == 0 && (vm_boot_files(srv, &spec, err) < 0 || vif_spec_nics(ctx->db, vm, &spec, true, err) < 0 ||
			!(build = vm_build_collect_plugged(srv, vm, err))))
		rc = -1;
	if (rc == 0)
		vcpu_params = db_get(ctx->db, vm, SC_F_VM__VCPUs_params);
	db_unlock(ctx->db);
	bool attached = false;
	if (rc == 0)
		attached = (rc = vm_build_attach(build, &spec, err)) == 0;
	struct xenops_mig_stats st;
	memset(&st, 0, sizeof st);
	if (rc == 0 && srv->backend->restart_dm(&srv->xh, &spec, &st, err) < 0) {
		rc = -1;
		bool alive = !srv->backend->active || srv->backend->active(&srv->xh, spec.uuid);
		log_warn("VM.restart_device_models: VM %s: %s %s", spec.uuid, err->code ? err->code : "",
			 err->nparams ? err->params[0] : "");
		char *why = xasprintf("the new device model did not take the guest over (%s)%s",
				      err->nparams ? err->params[err->nparams - 1] : err->code ? err->code : "",
				      alive ? "; the VM runs on in its old one" : ", and the old one is gone");
		xerr_clear(err);
		xerr_set(err, ERR_VM_MIGRATE_FAILED, vm_ref, srv->host_ref, srv->host_ref, why, NULL);
		free(why);
	}
	xv applied = XV_NIL_INIT;
	if (rc == 0)
		vm_apply_vcpu_params(srv, &spec, &vcpu_params, &applied);
	t = db_begin(ctx->db);
	vm = db_lookup_cls(ctx->db, SC_C_VM, vm_ref);
	if (vm && rc == 0) {
		/* the same VBDs and VIFs plugged as before: only the domain is new */
		vm_record_running(t, vm, srv, false, -1, false);
		db_set_int(t, vm, SC_F_VM__domid, spec.domid);
		vm_record_vcpu_params(t, vm, &applied);
	}
	if (vm)
		op_end(t, vm, token);
	struct xerr ce = XERR_INIT;
	db_commit(t, &ce);
	xerr_clear(&ce);
	if (rc == 0) {
		/* the new domain holds its attachments; the old one's go */
		vm_build_detach(old_build);
	} else if (attached) {
		vm_build_detach(build);
	}
	vm_build_free(old_build);
	vm_build_free(build);
	xv_free(&applied);
	xv_free(&vcpu_params);
	if (rc == 0)
		log_info("VM.restart_device_models: VM %s: domid %lld -> %lld in %lld ms (guest paused %lld ms as "
			 "QEMU reports)",
			 spec.uuid, (long long)old_domid, (long long)spec.domid, (long long)(clock_now_ms() - t0),
			 (long long)st.downtime_ms);
	vm_spec_free(&spec);
	return rc;
}

/* ---- the extension message and the table ---- */

static const struct sc_type t_string = {.kind = SC_STRING, .text = "string"};
static const struct sc_type t_host = {.kind = SC_REF, .cls = SC_C_host, .text = "host ref"};
static const struct sc_type t_vm = {.kind = SC_REF, .cls = SC_C_VM, .text = "VM ref"};

static const struct sc_param pool_prepare_params[] = {{"host", &t_host},      {"vm", &t_vm},
						       {"token", &t_string},    {"tls_ca", &t_string},
						       {"address", &t_string},  {"disks", &t_string}};

static const struct sc_message msg_pool_prepare = {
	.name = "pool_migrate_prepare", .session = true, .async = false,
	.roles = SC_ROLE_POOL_ADMIN | SC_ROLE_POOL_OPERATOR | SC_ROLE_VM_POWER_ADMIN,
	.nparams = 6, .params = pool_prepare_params, .result = &t_string};

RPC_IMPL(VM, pool_migrate, vm_pool_migrate, RPC_SLOW);
RPC_IMPL(VM, restart_device_models, vm_restart_device_models, RPC_SLOW);
RPC_EXTRA(host, pool_migrate_prepare, &msg_pool_prepare, host_pool_migrate_prepare, RPC_SLOW);
