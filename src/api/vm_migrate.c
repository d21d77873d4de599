/* vm_migrate: a running VM moves to another host with its disks (storage
 * motion, xapi's SXM) — host.migrate_receive on the destination gives the
 * dest map, VM.assert_can_migrate checks, VM.migrate_send moves.
 *
 * The source's xenond drives it through the destination's XenAPI, under
 * the session of the dest map:
 *   1. host.migrate_receive_prepare (Xenon's own, on the destination): the
 *      VM's metadata (its fields, disks on the SRs of vdi_map, VIFs on the
 *      networks of vif_map) imported as records there (the VM keeps its
 *      uuid, Halted and marked migrate_send until the end), its new VDIs
 *      made and attached, and its QEMU started waiting for the stream, its
 *      NBD server exporting those disks;
 *   2. the source's QEMU mirrors each disk into its export while the guest
 *      runs, then sends the memory (xenops migrate_send);
 *   3. host.migrate_receive_finish commits: the destination runs the guest
 *      and records it Running there. Only then is the source's VM
 *      destroyed here, with its VDIs.
 * Any failure before 3 aborts on the destination (QEMU, taps, VDIs,
 * records all go) and leaves the VM running here as before; so does a
 * cancel of the call's task. The streams are TLS (the credentials' CAs
 * exchanged in 1).
 *
 * A dest map of a host of this pool is storage motion within the pool:
 * vm_migrate_pool.c, with VM.pool_migrate, over the same destination's
 * finish as here (vm_migrate.h: what both share). */
#include "api.h"
#include "generic.h"
#include "op.h"
#include "metrics.h"
#include "pool_forward.h"
#include "pool_peer.h"
#include "storage.h"
#include "tls.h"
#include "vm_migrate.h"
#include "transfer.h"
#include "vm_ops.h"
#include "../base/b64.h"
#include "../base/jsonv.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../base/clock.h"
#include "server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* xapi's limit of concurrent storage migrations from one host */
#define MAX_STORAGE_MIGRATES 3
#define PEER_TIMEOUT_S 120
#define FINISH_TIMEOUT_S 60

void mig_self_ctx(struct server *srv, struct rpc_ctx *ctx)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->srv = srv;
	ctx->db = srv->db;
	ctx->proto = -1;
}

/* This host's API port (its plain listener, else its TLS one). */
static int api_port(struct server *srv)
{
	const char *l = srv->cfg.listen && *srv->cfg.listen ? srv->cfg.listen : srv->cfg.tls_listen;
	const char *c = l ? strrchr(l, ':') : NULL;
	return c ? atoi(c + 1) : 80;
}

/* ---- the stream's TLS ---- */


int mig_creds_make(struct server *srv, struct mig_creds *c, struct xerr *err)
{
	memset(c, 0, sizeof *c);
	db_rdlock(srv->db);
	struct db_obj *me = db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
	snprintf(c->name, sizeof c->name, "%s", me ? db_peek_str(me, SC_F_host__uuid) : "xenon");
	db_unlock(srv->db);
	return tls_new_peer_creds(c->name, &c->ca, &c->cert, &c->key, err);
}

/* Trusts the peer's CA beside its own; the peer's certificate must name
 * peer_name (the source checks it; "" on the destination). */
const struct xenops_mig_tls *mig_creds_trust(struct mig_creds *c, const char *peer_ca, const char *peer_name)
{
	free(c->bundle);
	c->bundle = xasprintf("%s%s", c->ca, peer_ca);
	c->tls.ca = c->bundle;
	c->tls.cert = c->cert;
	c->tls.key = c->key;
	if (!c->dh)
		c->dh = tls_dh_params_pem();
	c->tls.dh = c->dh;
	snprintf(c->tls.name, sizeof c->tls.name, "%s", peer_name);
	return &c->tls;
}

void mig_creds_free(struct mig_creds *c)
{
	free(c->ca);
	free(c->cert);
	free(c->key);
	free(c->bundle);
	free(c->dh);
	memset(c, 0, sizeof *c);
}

/* Whether a pool's migration stream may go plain: when the network it
 * goes over is marked for it, other_config:insecure_migration=true (as a
 * network's insecure_nbd purpose lets NBD go plain). The network: the one
 * asked for (net), else the destination's management network. */
bool mig_stream_plain(struct db *db, struct db_obj *dest, struct db_obj *net)
{
	for (struct db_obj *pif = db_first(db, SC_C_PIF); !net && pif; pif = db_next(pif))
		if (!strcmp(db_peek_str(pif, SC_F_PIF__host), dest->ref) && db_peek_bool(pif, SC_F_PIF__management))
			net = db_lookup_cls(db, SC_C_network, db_peek_str(pif, SC_F_PIF__network));
	if (!net)
		return false;
	const char *v = xv_map_get_str(db_peek(net, SC_F_network__other_config), "insecure_migration");
	return v && !strcmp(v, "true");
}

/* ---- host.migrate_receive: the dest map ---- */

/* The address of this host on network: its PIF's IP there, the host's
 * address for the management PIF without one. */
int mig_address_on(struct db *db, struct db_obj *host, struct db_obj *net, char out[64], struct xerr *err)
{
	for (struct db_obj *pif = db_first(db, SC_C_PIF); pif; pif = db_next(pif)) {
		if (strcmp(db_peek_str(pif, SC_F_PIF__host), host->ref) != 0 ||
		    strcmp(db_peek_str(pif, SC_F_PIF__network), net->ref) != 0)
			continue;
		const char *ip = db_peek_str(pif, SC_F_PIF__IP);
		if (!*ip && db_peek_bool(pif, SC_F_PIF__management))
			ip = db_peek_str(host, SC_F_host__address);
		if (!*ip)
			return xerr_set(err, ERR_INTERFACE_HAS_NO_IP, pif->ref, NULL);
		snprintf(out, 64, "%s", ip);
		return 0;
	}
	return xerr_set(err, ERR_HOST_CANNOT_ATTACH_NETWORK, host->ref, net->ref, NULL);
}

static int host_migrate_receive(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *host = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	struct db_obj *net = host ? generic_lookup(ctx, SC_C_network, xv_arr_get(args, 1), err) : NULL;
	char addr[64];
	int rc = !net ? -1 : mig_address_on(ctx->db, host, net, addr, err);
	if (rc == 0 && strcmp(host->ref, ctx->srv->host_ref) != 0)
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "the host is not this one: call its own xenond",
			      NULL);
	if (rc == 0 && !db_peek_bool(host, SC_F_host__enabled))
		rc = xerr_set(err, ERR_HOST_DISABLED, host->ref, NULL);
	char href[REF_STRLEN + 1];
	if (rc == 0)
		snprintf(href, sizeof href, "%s", host->ref);
	db_unlock(ctx->db);
	if (rc < 0)
		return -1;
	int port = api_port(ctx->srv);
	char base[96];
	snprintf(base, sizeof base, port == 80 ? "http://%s" : "http://%s:%d", addr, port);
	*result = xv_map_new();
	xv_map_set(result, "SM", xv_str_own(xasprintf("%s/services/SM?session_id=%s", base, ctx->session)));
	xv_map_set_str(result, "host", href);
	xv_map_set(result, "xenops",
		   xv_str_own(xasprintf("%s/services/xenops?session_id=%s", base, ctx->session)));
	/* the caller's own session: same subject, same permissions */
	xv_map_set_str(result, "session_id", ctx->session);
	xv_map_set_str(result, "master", base);
	return 0;
}

/* ---- the destination's side of VM.migrate_send ---- */


static pthread_mutex_t in_lock = PTHREAD_MUTEX_INITIALIZER;
static struct incoming *incomings;

void mig_incoming_add(struct incoming *in)
{
	pthread_mutex_lock(&in_lock);
	in->next = incomings;
	incomings = in;
	pthread_mutex_unlock(&in_lock);
}

static struct incoming *take_incoming(const char *vm_ref)
{
	pthread_mutex_lock(&in_lock);
	struct incoming *found = NULL;
	for (struct incoming **pp = &incomings; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->vm_ref, vm_ref)) {
			found = *pp;
			*pp = found->next;
			break;
		}
	}
	pthread_mutex_unlock(&in_lock);
	return found;
}

/* The VM's fields a migration carries (the rest are the destination's). */
static const int carried[] = {
	SC_F_VM__name_label, SC_F_VM__name_description, SC_F_VM__user_version, SC_F_VM__memory_static_max,
	SC_F_VM__memory_dynamic_max, SC_F_VM__memory_dynamic_min, SC_F_VM__memory_static_min,
	SC_F_VM__VCPUs_params, SC_F_VM__VCPUs_max, SC_F_VM__VCPUs_at_startup, SC_F_VM__actions_after_shutdown,
	SC_F_VM__actions_after_reboot, SC_F_VM__actions_after_crash, SC_F_VM__PV_bootloader, SC_F_VM__PV_kernel,
	SC_F_VM__PV_ramdisk, SC_F_VM__PV_args, SC_F_VM__PV_bootloader_args, SC_F_VM__PV_legacy_args,
	SC_F_VM__HVM_boot_policy, SC_F_VM__HVM_boot_params, SC_F_VM__platform, SC_F_VM__PCI_bus,
	SC_F_VM__other_config, SC_F_VM__recommendations, SC_F_VM__xenstore_data, SC_F_VM__tags,
	SC_F_VM__domain_type, SC_F_VM__has_vendor_device, SC_F_VM__generation_id, SC_F_VM__hardware_platform_version,
};

/* What goes wrong here undoes what was made: the VM's records and VDIs. */
void mig_discard(struct server *srv, struct incoming *in)
{
	struct rpc_ctx ctx;
	mig_self_ctx(srv, &ctx);
	if (in->build) {
		vm_build_detach(in->build);
		vm_build_free(in->build);
		in->build = NULL;
	}
	if (in->vm_ref[0]) {
		struct db_txn *t = db_begin(srv->db);
		struct db_obj *vm = db_lookup_cls(srv->db, SC_C_VM, in->vm_ref);
		if (vm) {
			vm_record_halted(t, vm, "Halted");
			op_clear_all(t, vm);
		}
		struct xerr e = XERR_INIT;
		db_commit(t, &e);
		xerr_clear(&e);
		if (vm_destroy(&ctx, in->vm_ref, &e) < 0)
			log_warn("migrate: cannot remove VM %s: %s", in->vm_ref, e.code);
		xerr_clear(&e);
	}
	for (size_t i = 0; i < xv_len(&in->vdis); i++) {
		struct xerr e = XERR_INIT;
		const char *ref = xv_as_str(xv_arr_get(&in->vdis, i));
		if (vdi_destroy(&ctx, ref, &e) < 0)
			log_warn("migrate: cannot remove VDI %s: %s", ref, e.code);
		xerr_clear(&e);
	}
}

void mig_incoming_free(struct incoming *in)
{
	vm_spec_free(&in->spec);
	xv_free(&in->vdis);
	xv_free(&in->moved);
	free(in);
}

const char *mig_jstr(const xv *m, const char *k)
{
	const char *s = xv_map_get_str(m, k);
	return s ? s : "";
}

/* The VM's records from spec (the source's JSON), its VDIs made. */
static int import_records(struct rpc_ctx *ctx, const xv *spec, struct incoming *in, struct xerr *err)
{
	const xv *rec = xv_map_get(spec, "vm");
	const char *uuid = rec ? mig_jstr(rec, "uuid") : "";
	if (!rec || !*uuid)
		return xerr_set(err, ERR_VM_MIGRATE_FAILED, REF_NULL, "", "", "the VM's metadata is missing", NULL);
	db_rdlock(ctx->db);
	bool taken = db_lookup_uuid(ctx->db, SC_C_VM, uuid) != NULL;
	db_unlock(ctx->db);
	if (taken)
		return xerr_set(err, ERR_DUPLICATE_VM, uuid, NULL);
	xv vm_rec = xv_copy(rec);
	xv_map_del(&vm_rec, "uuid");
	if (transfer_vm_create(ctx, vm_rec, in->vm_ref, err) < 0) {
		in->vm_ref[0] = '\0';
		return -1;
	}
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, in->vm_ref);
	if (vm) {
		db_set_str(t, vm, SC_F_VM__uuid, uuid);
	}
	if (db_commit(t, err) < 0)
		return -1;

	const xv *disks = xv_map_get(spec, "disks");
	for (size_t i = 0; i < xv_len(disks); i++) {
		const xv *d = xv_arr_get(disks, i);
		char vdi_ref[REF_STRLEN + 1] = "";
		if (!xv_map_get_str(d, "empty") || strcmp(mig_jstr(d, "empty"), "true") != 0) {
			const xv *size = xv_map_get(d, "virtual_size");
			xv vrec = xv_map_new();
			xv_map_set_str(&vrec, "name_label", mig_jstr(d, "name_label"));
			xv_map_set_str(&vrec, "name_description", mig_jstr(d, "name_description"));
			xv_map_set_str(&vrec, "SR", mig_jstr(d, "SR"));
			xv_map_set(&vrec, "virtual_size", size ? xv_copy(size) : xv_int(0));
			xv_map_set_str(&vrec, "type", "user");
			if (transfer_vdi_create(ctx, vrec, vdi_ref, err) < 0)
				return -1;
			xv_arr_push_str(&in->vdis, vdi_ref);
		}
		xv vbd = xv_map_new();
		xv_map_set_str(&vbd, "VM", in->vm_ref);
		xv_map_set_str(&vbd, "VDI", vdi_ref[0] ? vdi_ref : REF_NULL);
		xv_map_set_str(&vbd, "userdevice", mig_jstr(d, "userdevice"));
		xv_map_set(&vbd, "bootable", xv_bool(!strcmp(mig_jstr(d, "bootable"), "true")));
		xv_map_set_str(&vbd, "mode", mig_jstr(d, "mode"));
		xv_map_set_str(&vbd, "type", mig_jstr(d, "type"));
		xv_map_set(&vbd, "empty", xv_bool(!vdi_ref[0]));
		xv_map_set(&vbd, "unpluggable", xv_bool(false));
		xv_map_set(&vbd, "other_config", xv_map_new());
		xv_map_set_str(&vbd, "qos_algorithm_type", "");
		xv_map_set(&vbd, "qos_algorithm_params", xv_map_new());
		if (transfer_vbd_create(ctx, vbd, err) < 0)
			return -1;
	}
	const xv *vifs = xv_map_get(spec, "vifs");
	t = db_begin(ctx->db);
	vm = db_lookup_cls(ctx->db, SC_C_VM, in->vm_ref);
	for (size_t i = 0; vm && i < xv_len(vifs); i++) {
		const xv *f = xv_arr_get(vifs, i);
		struct db_obj *net = db_lookup_cls(ctx->db, SC_C_network, mig_jstr(f, "network"));
		if (!net) {
			db_abort(t);
			return handle_invalid(err, SC_C_network, mig_jstr(f, "network"));
		}
		struct db_obj *o = db_create(t, SC_C_VIF, NULL);
		db_set_str(t, o, SC_F_VIF__VM, vm->ref);
		db_set_str(t, o, SC_F_VIF__network, net->ref);
		db_set_str(t, o, SC_F_VIF__device, mig_jstr(f, "device"));
		db_set_str(t, o, SC_F_VIF__MAC, mig_jstr(f, "MAC"));
		db_set_int(t, o, SC_F_VIF__MTU, atoll(mig_jstr(f, "MTU")));
		vif_update_allowed(t, o);
	}
	/* nothing starts it before the migration ends */
	if (vm)
		op_mark(t, vm, "migrate_send", in->token);
	return db_commit(t, err);
}

static int host_migrate_receive_prepare(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct server *srv = ctx->srv;
	db_rdlock(ctx->db);
	struct db_obj *host = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	int rc = host ? 0 : -1;
	if (rc == 0 && strcmp(host->ref, srv->host_ref) != 0)
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "the host is not this one", NULL);
	if (rc == 0 && !db_peek_bool(host, SC_F_host__enabled))
		rc = xerr_set(err, ERR_HOST_DISABLED, host->ref, NULL);
	char addr[64] = "";
	if (rc == 0)
		snprintf(addr, sizeof addr, "%s", db_peek_str(host, SC_F_host__address));
	db_unlock(ctx->db);
	if (rc < 0)
		return -1;
	if (!srv->backend->migrate_receive)
		return xerr_set(err, ERR_VM_MIGRATE_FAILED, REF_NULL, "", srv->host_ref,
				"this host's VM backend cannot receive a migration", NULL);
	const char *text = arg_str(args, 1);
	xv spec = XV_NIL_INIT;
	if (!text || jsonv_parse(text, strlen(text), &spec, err) < 0)
		return -1;
	const xv *rec = xv_map_get(&spec, "vm");
	const char *want_addr = xv_map_get_str(&spec, "address");
	if (want_addr && *want_addr)
		snprintf(addr, sizeof addr, "%s", want_addr);
	/* the source's CA given: the streams are TLS */
	char *peer_ca = xv_map_get_str(&spec, "tls_ca") ? xstrdup(xv_map_get_str(&spec, "tls_ca")) : NULL;

	/* room for it, as VM.start would ask */
	int64_t need = 0;
	if (rec) {
		const xv *m = xv_map_get(rec, "memory_static_max");
		need = m && m->kind == XV_INT ? m->u.i : m && xv_as_str(m) ? atoll(xv_as_str(m)) : 0;
	}
	db_rdlock(ctx->db);
	int64_t free_mem = vm_host_free_memory(srv, NULL);
	db_unlock(ctx->db);
	if (free_mem >= 0 && need > free_mem) {
		char n[32], a[32];
		snprintf(n, sizeof n, "%lld", (long long)need);
		snprintf(a, sizeof a, "%lld", (long long)free_mem);
		xv_free(&spec);
		free(peer_ca);
		return xerr_set(err, ERR_HOST_NOT_ENOUGH_FREE_MEMORY, n, a, NULL);
	}

	struct incoming *in = xcalloc(1, sizeof *in);
	in->vdis = xv_arr_new();
	ref_generate(in->token);
	rc = import_records(ctx, &spec, in, err);
	xv_free(&spec);
	/* the new domain as VM.start builds one, waiting for the stream */
	int *nbd = NULL;
	size_t n_nbd = 0;
	if (rc == 0) {
		struct db_txn *t = db_begin(ctx->db);
		struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, in->vm_ref);
		if (!vm) {
			rc = handle_invalid(err, SC_C_VM, in->vm_ref);
		} else {
			vm_spec_of(vm, &in->spec);
			in->spec.domid = vm_next_domid(ctx->db);
			if (vm_boot_files(srv, &in->spec, err) < 0 ||
			    vif_spec_nics(ctx->db, vm, &in->spec, false, err) < 0 ||
			    !(in->build = vm_build_collect(srv, vm, err)))
				rc = -1;
		}
		db_abort(t);
	}
	if (rc == 0)
		rc = vm_build_attach(in->build, &in->spec, err);
	if (rc == 0) {
		nbd = xcalloc(in->spec.ndisks + 1, sizeof *nbd);
		for (size_t i = 0; i < in->spec.ndisks; i++)
			if (!in->spec.disks[i].is_cdrom && in->spec.disks[i].path)
				nbd[n_nbd++] = in->spec.disks[i].position;
	}
	struct xenops_mig_listen l;
	memset(&l, 0, sizeof l);
	snprintf(l.addr, sizeof l.addr, "%s", addr);
	struct mig_creds creds;
	memset(&creds, 0, sizeof creds);
	bool tls = peer_ca && *peer_ca;
	if (rc == 0 && tls && mig_creds_make(srv, &creds, err) == 0)
		l.tls = mig_creds_trust(&creds, peer_ca, "");
	else if (rc == 0 && tls)
		rc = -1;
	free(peer_ca);
	if (rc == 0)
		rc = srv->backend->migrate_receive(&srv->xh, &in->spec, nbd, n_nbd, &l, err);
	free(nbd);
	if (rc < 0) {
		mig_creds_free(&creds);
		mig_discard(srv, in);
		mig_incoming_free(in);
		return -1;
	}
	pthread_mutex_lock(&in_lock);
	in->next = incomings;
	incomings = in;
	pthread_mutex_unlock(&in_lock);
	xv out = xv_map_new();
	xv_map_set_str(&out, "vm", in->vm_ref);
	xv_map_set_str(&out, "address", l.addr);
	xv_map_set(&out, "port", xv_int(l.port));
	xv_map_set(&out, "nbd_port", xv_int(l.nbd_port));
	if (tls) {
		xv_map_set_str(&out, "tls_ca", creds.ca);
		xv_map_set_str(&out, "tls_name", creds.name);
	}
	mig_creds_free(&creds);
	struct strbuf sb;
	sb_init(&sb);
	jsonv_write(&sb, &out);
	xv_free(&out);
	*result = xv_str_own(sb_detach(&sb));
	log_info("migrate: VM %s (%s) waits for its stream on %s:%d", in->spec.uuid, in->vm_ref, l.addr, l.port);
	return 0;
}

static int host_migrate_receive_finish(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct server *srv = ctx->srv;
	const char *vm_ref = arg_str(args, 1);
	bool commit = arg_bool(args, 2);
	struct incoming *in = vm_ref ? take_incoming(vm_ref) : NULL;
	if (!in)
		return xerr_set(err, ERR_VM_MIGRATE_FAILED, vm_ref ? vm_ref : REF_NULL, "", srv->host_ref,
				"no migration of this VM is waiting here", NULL);
	int rc = 0;
	size_t hlen = 0;
	const char *h64 = arg_str(args, 3);
	unsigned char *hist = h64 && *h64 ? b64_decode(h64, &hlen) : NULL;
	if (commit)
		rc = srv->backend->migrate_finish(&srv->xh, &in->spec, false, FINISH_TIMEOUT_S, (const char *)hist,
						  hist ? hlen : 0, err);
	free(hist);
	if (!commit || rc < 0) {
		srv->backend->migrate_abort(&srv->xh, &in->spec);
		if (in->pooled) {
			/* the pool's records stay as they are: only the disks go */
			vm_build_detach(in->build);
			vm_build_free(in->build);
			in->build = NULL;
			in->vm_ref[0] = '\0';
		}
		mig_discard(srv, in);
		mig_incoming_free(in);
		*result = XV_NIL_INIT;
		return rc;
	}
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, in->vm_ref);
	if (vm) {
		/* its disks moved here: the VBDs name the new VDIs from now on */
		for (size_t i = 0; i < xv_len(&in->moved); i++) {
			struct db_obj *vbd = db_lookup_cls(ctx->db, SC_C_VBD, in->moved.u.m->keys[i]);
			if (vbd)
				db_set_str(t, vbd, SC_F_VBD__VDI, xv_as_str(&in->moved.u.m->vals[i]));
		}
		if (in->pooled)
			vm_consoles_destroy(t, vm); /* the source's; this host's are made next */
		vm_record_running(t, vm, srv, false, in->spec.domid, true);
		/* for VM.pool_migrate the source's mark, ended with the outcome in
		 * one write: the source writes nothing of the VM after this */
		op_end(t, vm, in->token);
	}
	rc = db_commit(t, err);
	vm_build_free(in->build); /* attached: the domain holds them */
	in->build = NULL;
	log_info("migrate: VM %s runs here now (domid %lld)", in->spec.uuid, (long long)in->spec.domid);
	mig_incoming_free(in);
	*result = XV_NIL_INIT;
	return rc;
}

/* The source's console history (its last 256 KiB), base64, for the
 * destination's log; "" when there is none. */
xv mig_console_history(struct server *srv, const char *uuid)
{
	char *buf = NULL;
	size_t n = 0;
	if (!srv->backend->console_read || srv->backend->console_read(&srv->xh, uuid, 256 << 10, &buf, &n) < 0)
		return xv_str("");
	xv v = xv_str_own(b64_encode((const unsigned char *)buf, n));
	free(buf);
	return v;
}

/* ---- the source's side ---- */

static int storage_migrates;
static pthread_mutex_t mig_lock = PTHREAD_MUTEX_INITIALIZER;

int mig_storage_take(bool count, struct xerr *err)
{
	pthread_mutex_lock(&mig_lock);
	int rc = storage_migrates >= MAX_STORAGE_MIGRATES ? xerr_set(err, ERR_TOO_MANY_STORAGE_MIGRATES, "3", NULL) : 0;
	if (rc == 0 && count)
		storage_migrates++;
	pthread_mutex_unlock(&mig_lock);
	return rc;
}

void mig_storage_give(void)
{
	pthread_mutex_lock(&mig_lock);
	storage_migrates--;
	pthread_mutex_unlock(&mig_lock);
}

struct plan {
	char vm_ref[REF_STRLEN + 1];
	char vm_uuid[40];
	char src_host[REF_STRLEN + 1];
	char dest_host[REF_STRLEN + 1];
	xv spec;       /* what prepare gets */
	xv local_vdis; /* the VDIs moved (destroyed here after success) */
	int *mirror;   /* disk positions */
	size_t nmirror;
};

static void plan_free(struct plan *p)
{
	xv_free(&p->spec);
	xv_free(&p->local_vdis);
	free(p->mirror);
}

static xv field_value(struct db *db, struct db_obj *o, int f)
{
	return db_get(db, o, f);
}

/* VM.assert_can_migrate's checks, and the plan of what moves. Hold the
 * store's lock. */
static int plan_migration(struct rpc_ctx *ctx, struct db_obj *vm, const xv *dest, const xv *vdi_map,
			  const xv *vif_map, struct plan *p, struct xerr *err)
{
	struct db *db = ctx->db;
	memset(p, 0, sizeof *p);
	p->spec = xv_map_new();
	p->local_vdis = xv_arr_new();
	snprintf(p->vm_ref, sizeof p->vm_ref, "%s", vm->ref);
	snprintf(p->vm_uuid, sizeof p->vm_uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
	snprintf(p->src_host, sizeof p->src_host, "%s", ctx->srv->host_ref);
	const char *dh = xv_map_get_str(dest, "host");
	snprintf(p->dest_host, sizeof p->dest_host, "%s", dh ? dh : REF_NULL);
	if (db_peek_bool(vm, SC_F_VM__is_a_template) || db_peek_bool(vm, SC_F_VM__is_a_snapshot))
		return xerr_set(err, ERR_VM_IS_TEMPLATE, vm->ref, NULL);
	const char *ps = db_peek_str(vm, SC_F_VM__power_state);
	if (strcmp(ps, "Running") != 0)
		return xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, "running", ps, NULL);
	if (strcmp(db_peek_str(vm, SC_F_VM__resident_on), ctx->srv->host_ref) != 0)
		return xerr_set(err, ERR_VM_MIGRATE_FAILED, vm->ref, p->src_host, p->dest_host,
				"the VM does not run on this host", NULL);
	if (vm_check_op(vm, "migrate_send", err) < 0)
		return -1;
	if (!xv_map_get_str(dest, "master") || !xv_map_get_str(dest, "session_id") || !dh)
		return xerr_set(err, ERR_VM_MIGRATE_FAILED, vm->ref, p->src_host, p->dest_host,
				"the dest map lacks master, session_id or host (host.migrate_receive makes it)", NULL);

	xv vmrec = xv_map_new();
	const struct sc_class *c = &sc_classes[SC_C_VM];
	for (size_t i = 0; i < sizeof carried / sizeof carried[0]; i++)
		xv_map_set(&vmrec, c->fields[carried[i]].name, field_value(db, vm, carried[i]));
	xv_map_set_str(&vmrec, "uuid", p->vm_uuid);
	xv_map_set(&p->spec, "vm", vmrec);

	xv disks = xv_arr_new();
	p->mirror = xcalloc(64, sizeof *p->mirror);
	xv vbds = db_get(db, vm, SC_F_VM__VBDs);
	int rc = 0;
	for (size_t i = 0; i < xv_len(&vbds) && rc == 0; i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (!vbd)
			continue;
		struct db_obj *vdi = db_peek_bool(vbd, SC_F_VBD__empty)
					     ? NULL
					     : db_lookup_cls(db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI));
		bool cd = !strcmp(db_peek_str(vbd, SC_F_VBD__type), "CD");
		xv d = xv_map_new();
		xv_map_set_str(&d, "userdevice", db_peek_str(vbd, SC_F_VBD__userdevice));
		xv_map_set_str(&d, "bootable", db_peek_bool(vbd, SC_F_VBD__bootable) ? "true" : "false");
		xv_map_set_str(&d, "mode", db_peek_str(vbd, SC_F_VBD__mode));
		xv_map_set_str(&d, "type", db_peek_str(vbd, SC_F_VBD__type));
		if (vdi && cd) {
			/* an ISO lives on an SR of this host: the destination cannot
			 * reach it */
			rc = xerr_set(err, ERR_VM_MIGRATE_FAILED, vm->ref, p->src_host, p->dest_host,
				      "the VM has a CD inserted: eject it first", NULL);
		} else if (vdi) {
			const char *sr = xv_map_get_str(vdi_map, vdi->ref);
			if (!sr)
				rc = xerr_set(err, ERR_VDI_NOT_IN_MAP, vdi->ref, NULL);
			else if (db_peek_bool(vdi, SC_F_VDI__cbt_enabled))
				rc = xerr_set(err, ERR_VDI_CBT_ENABLED, vdi->ref, NULL);
			else if (p->nmirror >= 64)
				rc = xerr_set(err, ERR_VM_MIGRATE_FAILED, vm->ref, p->src_host, p->dest_host,
					      "too many disks", NULL);
			if (rc == 0) {
				xv_map_set_str(&d, "SR", sr);
				xv_map_set(&d, "virtual_size", xv_int(db_peek_int(vdi, SC_F_VDI__virtual_size)));
				xv_map_set_str(&d, "name_label", db_peek_str(vdi, SC_F_VDI__name_label));
				xv_map_set_str(&d, "name_description", db_peek_str(vdi, SC_F_VDI__name_description));
				xv_arr_push_str(&p->local_vdis, vdi->ref);
				p->mirror[p->nmirror++] = storage_vbd_position(db_peek_str(vbd, SC_F_VBD__userdevice));
			}
		} else {
			xv_map_set_str(&d, "empty", "true");
		}
		xv_arr_push(&disks, d);
	}
	xv_free(&vbds);
	xv_map_set(&p->spec, "disks", disks);
	if (rc < 0)
		return -1;

	xv nics = xv_arr_new();
	xv vifs = db_get(db, vm, SC_F_VM__VIFs);
	for (size_t i = 0; i < xv_len(&vifs) && rc == 0; i++) {
		struct db_obj *vif = db_lookup_cls(db, SC_C_VIF, xv_as_str(xv_arr_get(&vifs, i)));
		if (!vif)
			continue;
		const char *net = xv_map_get_str(vif_map, vif->ref);
		if (!net) {
			rc = xerr_set(err, ERR_VIF_NOT_IN_MAP, vif->ref, NULL);
			break;
		}
		xv f = xv_map_new();
		xv_map_set_str(&f, "device", db_peek_str(vif, SC_F_VIF__device));
		xv_map_set_str(&f, "MAC", db_peek_str(vif, SC_F_VIF__MAC));
		xv_map_set(&f, "MTU", xv_str_own(xasprintf("%lld", (long long)db_peek_int(vif, SC_F_VIF__MTU))));
		xv_map_set_str(&f, "network", net);
		xv_arr_push(&nics, f);
	}
	xv_free(&vifs);
	xv_map_set(&p->spec, "vifs", nics);
	return rc;
}

/* "http://ADDR:PORT" (or https) into "ADDR:PORT" and whether TLS. */
int mig_parse_master(const char *url, char out[128], bool *tls)
{
	*tls = !strncmp(url, "https://", 8);
	const char *s = *tls ? url + 8 : !strncmp(url, "http://", 7) ? url + 7 : url;
	size_t n = strcspn(s, "/?");
	if (!n || n >= 128)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static struct peer *dest_open(const xv *dest, struct xerr *err, const char *vm_ref, const char *src,
			      const char *dst)
{
	char hostport[128];
	bool tls;
	if (mig_parse_master(xv_map_get_str(dest, "master"), hostport, &tls) < 0 || tls) {
		xerr_set(err, ERR_VM_MIGRATE_FAILED, vm_ref, src, dst,
			 "the master of the dest map is no plain HTTP address", NULL);
		return NULL;
	}
	struct peer *p = peer_open(hostport, 80, PEER_TIMEOUT_S);
	if (p)
		peer_set_session(p, xv_map_get_str(dest, "session_id"));
	return p;
}

/* A peer's failure as the caller sees it: its own XenAPI error, or
 * CANNOT_CONTACT_HOST. */
static int peer_error(enum peer_result r, const xv *dest, struct xerr *err)
{
	if (r == PEER_FAILURE)
		return -1;
	char hostport[128] = "";
	bool tls;
	mig_parse_master(xv_map_get_str(dest, "master"), hostport, &tls);
	xerr_clear(err);
	return xerr_set(err, ERR_CANNOT_CONTACT_HOST, hostport, NULL);
}


static void watch_progress(void *arg, double fraction)
{
	struct watch *w = arg;
	int ppm = fraction <= 0 ? 0 : fraction >= 1 ? 1000000 : (int)(fraction * 1e6);
	__atomic_store_n(&w->progress, ppm, __ATOMIC_RELEASE);
}

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	int shown = 0;
	int64_t shown_at = 0;
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		bool c = op_task_cancelling(w->srv->db, w->task);
		if (c)
			__atomic_store_n(&w->cancel, true, __ATOMIC_RELEASE);
		/* the memory sent, never going back, short of 1 (the task's end);
		 * a write for each 1% more, 4 a second at most */
		int ppm = __atomic_load_n(&w->progress, __ATOMIC_ACQUIRE);
		if (ppm > 990000)
			ppm = 990000;
		if (!c && ppm >= shown + 10000 && clock_now_ms() >= shown_at + 250) {
			op_task_progress(w->srv->db, w->task, ppm / 1e6);
			shown = ppm;
			shown_at = clock_now_ms();
		}
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

void mig_watch_begin(struct watch *w, struct server *srv, const char *task, struct xenops_mig_target *tg)
{
	memset(w, 0, sizeof *w);
	w->srv = srv;
	snprintf(w->task, sizeof w->task, "%s", task);
	if (task[0])
		w->running = pthread_create(&w->thread, NULL, watch_main, w) == 0;
	tg->cancel = &w->cancel;
	tg->progress = watch_progress;
	tg->progress_arg = w;
}

void mig_watch_end(struct watch *w)
{
	if (w->running) {
		__atomic_store_n(&w->stop, true, __ATOMIC_RELEASE);
		pthread_join(w->thread, NULL);
		w->running = false;
	}
}

/* The source's VM after the destination took over: its domain, disks,
 * records and VDIs go. */
static void remove_source(struct server *srv, const struct plan *p, const struct vm_spec *s)
{
	struct rpc_ctx ctx;
	mig_self_ctx(srv, &ctx);
	struct xerr e = XERR_INIT;
	if (srv->backend->shutdown(&srv->xh, s, false, &e) < 0)
		log_warn("migrate: VM %s: ending the source's domain: %s", p->vm_uuid, e.code);
	xerr_clear(&e);
	db_rdlock(srv->db);
	struct db_obj *vm = db_lookup_cls(srv->db, SC_C_VM, p->vm_ref);
	struct vm_build *b = vm ? vm_build_collect(srv, vm, &e) : NULL;
	db_unlock(srv->db);
	xerr_clear(&e);
	if (b) {
		vm_build_detach(b);
		vm_build_free(b);
	}
	struct db_txn *t = db_begin(srv->db);
	vm = db_lookup_cls(srv->db, SC_C_VM, p->vm_ref);
	if (vm) {
		vm_record_halted(t, vm, "Halted");
		op_clear_all(t, vm);
	}
	db_commit(t, &e);
	xerr_clear(&e);
	if (vm_destroy(&ctx, p->vm_ref, &e) < 0)
		log_warn("migrate: VM %s: removing its records here: %s", p->vm_uuid, e.code);
	xerr_clear(&e);
	for (size_t i = 0; i < xv_len(&p->local_vdis); i++) {
		const char *ref = xv_as_str(xv_arr_get(&p->local_vdis, i));
		if (vdi_destroy(&ctx, ref, &e) < 0)
			log_warn("migrate: VM %s: removing VDI %s here: %s", p->vm_uuid, ref, e.code);
		xerr_clear(&e);
	}
}

static int assert_can_migrate(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	char ip[128];
	if (mig_dest_in_pool(ctx->db, xv_arr_get(args, 1), ip)) {
		int rc = mig_intra_pool(ctx, args, true, result, err);
		*result = XV_NIL_INIT;
		return rc;
	}
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	struct plan p;
	memset(&p, 0, sizeof p);
	int rc = vm ? plan_migration(ctx, vm, xv_arr_get(args, 1), xv_arr_get(args, 3), xv_arr_get(args, 4), &p,
				     err)
		    : -1;
	db_unlock(ctx->db);
	pthread_mutex_lock(&mig_lock);
	if (rc == 0 && storage_migrates >= MAX_STORAGE_MIGRATES)
		rc = xerr_set(err, ERR_TOO_MANY_STORAGE_MIGRATES, "3", NULL);
	pthread_mutex_unlock(&mig_lock);
	if (rc == 0) {
		/* the destination answers under the dest map's session */
		const xv *dest = xv_arr_get(args, 1);
		struct peer *peer = dest_open(dest, err, p.vm_ref, p.src_host, p.dest_host);
		xv r = XV_NIL_INIT;
		enum peer_result pr = peer ? peer_call_strs(peer, "host.get_enabled", &r, err, p.dest_host, NULL)
					   : PEER_FAILURE;
		if (!peer)
			rc = -1;
		else if (pr != PEER_OK)
			rc = peer_error(pr, dest, err);
		else if (r.kind == XV_BOOL && !r.u.b)
			rc = xerr_set(err, ERR_HOST_DISABLED, p.dest_host, NULL);
		xv_free(&r);
		if (peer)
			peer_close(peer);
	}
	plan_free(&p);
	*result = XV_NIL_INIT;
	return rc;
}

static int migrate_send(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct server *srv = ctx->srv;
	char ip[128];
	if (mig_dest_in_pool(ctx->db, xv_arr_get(args, 1), ip))
		return mig_intra_pool(ctx, args, false, result, err);
	const xv *dest = xv_arr_get(args, 1);
	char token[REF_STRLEN + 1];
	if (ctx->task[0])
		snprintf(token, sizeof token, "%s", ctx->task);
	else
		ref_generate(token);
	if (!srv->backend->migrate_send)
		return xerr_set(err, ERR_VM_MIGRATE_FAILED, REF_NULL, srv->host_ref, "",
				"this host's VM backend cannot migrate", NULL);

	struct plan p;
	memset(&p, 0, sizeof p);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	int rc = vm ? plan_migration(ctx, vm, dest, xv_arr_get(args, 3), xv_arr_get(args, 4), &p, err) : -1;
	bool counted = false;
	if (rc == 0) {
		pthread_mutex_lock(&mig_lock);
		if (storage_migrates >= MAX_STORAGE_MIGRATES)
			rc = xerr_set(err, ERR_TOO_MANY_STORAGE_MIGRATES, "3", NULL);
		else
			counted = ++storage_migrates > 0;
		pthread_mutex_unlock(&mig_lock);
	}
	struct vm_spec spec;
	memset(&spec, 0, sizeof spec);
	if (rc == 0) {
		vm_spec_of(vm, &spec);
		spec.domid = db_peek_int(vm, SC_F_VM__domid);
		op_mark(t, vm, "migrate_send", token);
		rc = db_commit(t, err);
	} else {
		db_abort(t);
	}
	if (rc < 0) {
		if (counted) {
			pthread_mutex_lock(&mig_lock);
			storage_migrates--;
			pthread_mutex_unlock(&mig_lock);
		}
		vm_spec_free(&spec);
		plan_free(&p);
		return -1;
	}

	/* 1. the destination gets the VM's metadata and waits; the streams
	 * to another pool are always TLS */
	struct peer *peer = dest_open(dest, err, p.vm_ref, p.src_host, p.dest_host);
	xv prep = XV_NIL_INIT, ans = XV_NIL_INIT;
	char dest_vm[REF_STRLEN + 1] = "";
	struct xenops_mig_target tg;
	memset(&tg, 0, sizeof tg);
	struct mig_creds creds;
	memset(&creds, 0, sizeof creds);
	rc = peer ? mig_creds_make(srv, &creds, err) : -1;
	if (rc == 0)
		xv_map_set_str(&p.spec, "tls_ca", creds.ca);
	if (rc == 0) {
		struct strbuf sb;
		sb_init(&sb);
		jsonv_write(&sb, &p.spec);
		char *text = sb_detach(&sb);
		enum peer_result pr =
			peer_call_strs(peer, "host.migrate_receive_prepare", &prep, err, p.dest_host, text, NULL);
		free(text);
		if (pr != PEER_OK)
			rc = peer_error(pr, dest, err);
	}
	if (rc == 0) {
		const char *s = xv_as_str(&prep);
		if (!s || jsonv_parse(s, strlen(s), &ans, err) < 0)
			rc = xerr_set(err, ERR_VM_MIGRATE_FAILED, p.vm_ref, p.src_host, p.dest_host,
				      "the destination's answer is no migration", NULL);
	}
	if (rc == 0) {
		snprintf(dest_vm, sizeof dest_vm, "%s", mig_jstr(&ans, "vm"));
		snprintf(tg.addr, sizeof tg.addr, "%s", mig_jstr(&ans, "address"));
		const xv *port = xv_map_get(&ans, "port"), *nport = xv_map_get(&ans, "nbd_port");
		tg.port = port && port->kind == XV_INT ? (int)port->u.i : 0;
		tg.nbd_port = nport && nport->kind == XV_INT ? (int)nport->u.i : 0;
		tg.mirror = p.mirror;
		tg.nmirror = p.nmirror;
		if (!*mig_jstr(&ans, "tls_ca"))
			rc = xerr_set(err, ERR_VM_MIGRATE_FAILED, p.vm_ref, p.src_host, p.dest_host,
				      "the destination offers no TLS for the streams", NULL);
		else
			tg.tls = mig_creds_trust(&creds, mig_jstr(&ans, "tls_ca"), mig_jstr(&ans, "tls_name"));
	}

	/* 2. disks, then memory; the task's cancel is watched meanwhile */
	struct watch w;
	mig_watch_begin(&w, srv, rc == 0 ? ctx->task : "", &tg);
	tg.max_bandwidth = (int64_t)srv->cfg.migration_bandwidth << 20;
	struct xenops_mig_stats st;
	memset(&st, 0, sizeof st);
	int sent = rc == 0 ? srv->backend->migrate_send(&srv->xh, &spec, &tg, &st, err) : -1;
	mig_watch_end(&w);
	if (rc == 0 && sent < 0) {
		log_warn("migrate: VM %s: %s %s", p.vm_uuid, err->code ? err->code : "",
			 err->nparams ? err->params[0] : "");
		xerr_clear(err);
		if (sent == -2)
			xerr_set(err, ERR_TASK_CANCELLED, ctx->task, NULL);
		else if (st.phase == 0 && p.nmirror)
			xerr_set(err, ERR_MIRROR_FAILED, xv_as_str(xv_arr_get(&p.local_vdis, 0)), NULL);
		else
			xerr_set(err, ERR_VM_MIGRATE_FAILED, p.vm_ref, p.src_host, p.dest_host,
				 "the memory did not reach the destination", NULL);
		rc = -1;
	}

	/* 3. the destination runs it, or forgets it */
	bool committed = false;
	if (dest_vm[0]) {
		bool commit = rc == 0;
		xv fargs = xv_arr_new(), r = XV_NIL_INIT;
		xv_arr_push_str(&fargs, p.dest_host);
		xv_arr_push_str(&fargs, dest_vm);
		xv_arr_push(&fargs, xv_bool(commit));
		xv_arr_push(&fargs, commit ? mig_console_history(srv, p.vm_uuid) : xv_str(""));
		struct xerr fe = XERR_INIT;
		enum peer_result pr = peer_call(peer, "host.migrate_receive_finish", &fargs, &r, &fe);
		xv_free(&fargs);
		xv_free(&r);
		if (commit && pr == PEER_OK) {
			committed = true;
		} else if (commit && pr == PEER_FAILURE) {
			/* the destination could not run it and removed it: the guest
			 * goes on here */
			struct xerr e = XERR_INIT;
			if (srv->backend->unpause(&srv->xh, &spec, &e) < 0)
				log_error("migrate: VM %s: cannot resume it here: %s", p.vm_uuid, e.code);
			xerr_clear(&e);
			xerr_set(err, ERR_VM_MIGRATE_FAILED, p.vm_ref, p.src_host, p.dest_host,
				 fe.nparams ? fe.params[fe.nparams - 1] : fe.code ? fe.code : "", NULL);
			rc = -1;
		} else if (commit) {
			/* no answer: whether it runs there is unknown, so it stays
			 * stopped here rather than run twice */
			log_error("migrate: VM %s: no answer from the destination at the end: left paused here",
				  p.vm_uuid);
			xerr_set(err, ERR_VM_MIGRATE_FAILED, p.vm_ref, p.src_host, p.dest_host,
				 "the destination did not confirm; the VM is paused here", NULL);
			rc = -1;
			struct db_txn *pt = db_begin(ctx->db);
			struct db_obj *o = db_lookup_cls(ctx->db, SC_C_VM, p.vm_ref);
			if (o)
				vm_record_running(pt, o, srv, true, -1, false);
			struct xerr e = XERR_INIT;
			db_commit(pt, &e);
			xerr_clear(&e);
		}
		xerr_clear(&fe);
	}
	xv_free(&prep);
	xv_free(&ans);
	mig_creds_free(&creds);
	if (peer)
		peer_close(peer);
	if (committed) {
		remove_source(srv, &p, &spec);
		log_info("migrate: VM %s moved to %s as %s (disks %lld ms, memory %lld ms, downtime %lld ms)",
			 p.vm_uuid, p.dest_host, dest_vm, (long long)st.mirror_ms, (long long)st.total_ms,
			 (long long)st.downtime_ms);
		*result = xv_str(dest_vm);
	} else {
		t = db_begin(ctx->db);
		vm = db_lookup_cls(ctx->db, SC_C_VM, p.vm_ref);
		if (vm)
			op_end(t, vm, token);
		struct xerr e = XERR_INIT;
		db_commit(t, &e);
		xerr_clear(&e);
	}
	pthread_mutex_lock(&mig_lock);
	storage_migrates--;
	pthread_mutex_unlock(&mig_lock);
	vm_spec_free(&spec);
	plan_free(&p);
	return committed ? 0 : -1;
}

/* ---- VDI.pool_migrate: one disk of a running VM to another SR here ---- */

/* The VDI's SR opened and its view, for its driver. */
static int open_vdi(struct rpc_ctx *ctx, const char *vdi_ref, struct sm_sr *sr, struct sm_vdi *v, struct xerr *err)
{
	sm_vdi_init(v);
	memset(sr, 0, sizeof *sr);
	db_rdlock(ctx->db);
	struct db_obj *vdi = db_lookup_cls(ctx->db, SC_C_VDI, vdi_ref);
	struct db_obj *sro = vdi ? db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
	int rc = !vdi ? handle_invalid(err, SC_C_VDI, vdi_ref)
		 : !sro ? handle_invalid(err, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR))
			: storage_sr_open(ctx, sro, true, sr, err);
	if (rc == 0)
		storage_vdi_view(vdi, v);
	db_unlock(ctx->db);
	return rc;
}

/* The VDI attached for the backend: its image's path and format. */
static int attach_vdi(struct rpc_ctx *ctx, const char *vdi_ref, struct sm_sr *sr, struct sm_vdi *v,
		      struct vm_disk *d, struct xerr *err)
{
	int rc = open_vdi(ctx, vdi_ref, sr, v, err);
	if (rc == 0 && !sr->drv->vdi_attach)
		rc = xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, vdi_ref, NULL);
	struct sm_attach_info ai = {0};
	if (rc == 0)
		rc = sr->drv->vdi_attach(sr, v, true, &ai, err);
	if (rc == 0) {
		d->path = ai.path;
		ai.path = NULL;
		snprintf(d->format, sizeof d->format, "%s", ai.format ? ai.format : "raw");
		sm_attach_info_free(&ai);
	} else if (sr->drv) {
		sm_sr_close(sr);
	}
	return rc;
}

static void detach_vdi(struct sm_sr *sr, struct sm_vdi *v)
{
	struct xerr e = XERR_INIT;
	if (sr->drv && sr->drv->vdi_detach && sr->drv->vdi_detach(sr, v, &e) < 0)
		log_warn("VDI.pool_migrate: detaching %s: %s", v->uuid, e.code);
	xerr_clear(&e);
	sm_sr_close(sr);
	sm_vdi_free(v);
}

static int vdi_pool_migrate(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct server *srv = ctx->srv;
	db_rdlock(ctx->db);
	struct db_obj *vdi = generic_lookup(ctx, SC_C_VDI, xv_arr_get(args, 0), err);
	struct db_obj *sr = vdi ? generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 1), err) : NULL;
	struct db_obj *vbd = sr ? storage_vdi_running_vbd(ctx->db, vdi) : NULL;
	struct db_obj *vm = vbd ? db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM)) : NULL;
	int rc = sr ? 0 : -1;
	if (rc == 0 && !vm) {
		/* xapi moves only disks of running VMs this way */
		struct db_obj *any = NULL;
		xv vbds = db_get(ctx->db, vdi, SC_F_VDI__VBDs);
		if (xv_len(&vbds))
			any = db_lookup_cls(ctx->db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, 0)));
		xv_free(&vbds);
		struct db_obj *o = any ? db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(any, SC_F_VBD__VM)) : NULL;
		rc = o ? xerr_set(err, ERR_VM_BAD_POWER_STATE, o->ref, "running", db_peek_str(o, SC_F_VM__power_state),
				  NULL)
		       : xerr_set(err, ERR_VDI_NEEDS_VM_FOR_MIGRATE, vdi->ref, NULL);
	}
	if (rc == 0 && strcmp(db_peek_str(vm, SC_F_VM__resident_on), srv->host_ref) != 0)
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "the VM runs on another host: call its xenond", NULL);
	if (rc == 0 && !strcmp(db_peek_str(vdi, SC_F_VDI__SR), sr->ref))
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "the VDI is on that SR already", NULL);
	if (rc == 0 && db_peek_bool(vdi, SC_F_VDI__cbt_enabled))
		rc = xerr_set(err, ERR_VDI_CBT_ENABLED, vdi->ref, NULL);
	if (rc == 0 && !storage_pbd(ctx->db, srv->host_ref, sr))
		rc = xerr_set(err, ERR_SR_NOT_ATTACHED, sr->ref, NULL);
	if (rc == 0 && op_busy(vm))
		rc = op_check_idle(vm, err);
	char vdi_ref[REF_STRLEN + 1], vbd_ref[REF_STRLEN + 1], vm_uuid[40];
	int pos = -1;
	xv rec = XV_NIL_INIT;
	if (rc == 0) {
		snprintf(vdi_ref, sizeof vdi_ref, "%s", vdi->ref);
		snprintf(vbd_ref, sizeof vbd_ref, "%s", vbd->ref);
		snprintf(vm_uuid, sizeof vm_uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
		pos = storage_vbd_position(db_peek_str(vbd, SC_F_VBD__userdevice));
		rec = xv_map_new();
		xv_map_set_str(&rec, "name_label", db_peek_str(vdi, SC_F_VDI__name_label));
		xv_map_set_str(&rec, "name_description", db_peek_str(vdi, SC_F_VDI__name_description));
		xv_map_set_str(&rec, "SR", sr->ref);
		xv_map_set(&rec, "virtual_size", xv_int(db_peek_int(vdi, SC_F_VDI__virtual_size)));
		xv_map_set_str(&rec, "type", db_peek_str(vdi, SC_F_VDI__type));
		xv_map_set(&rec, "other_config", xv_copy(db_peek(vdi, SC_F_VDI__other_config)));
	}
	db_unlock(ctx->db);
	if (rc < 0)
		return -1;
	if (!srv->backend->disk_move) {
		xv_free(&rec);
		return xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "this host's VM backend cannot move disks", NULL);
	}
	char new_ref[REF_STRLEN + 1];
	if (transfer_vdi_create(ctx, rec, new_ref, err) < 0)
		return -1;
	struct sm_sr nsr, osr;
	struct sm_vdi nv, ov;
	struct vm_disk d;
	memset(&d, 0, sizeof d);
	d.position = pos;
	rc = attach_vdi(ctx, new_ref, &nsr, &nv, &d, err);
	bool attached = rc == 0;
	if (rc == 0)
		rc = srv->backend->disk_move(&srv->xh, vm_uuid, &d, err);
	free(d.path);
	if (rc == 0) {
		struct db_txn *t = db_begin(ctx->db);
		struct db_obj *b = db_lookup_cls(ctx->db, SC_C_VBD, vbd_ref);
		if (b)
			db_set_str(t, b, SC_F_VBD__VDI, new_ref);
		rc = db_commit(t, err);
	}
	if (rc < 0) {
		if (attached)
			detach_vdi(&nsr, &nv);
		transfer_vdi_discard(ctx, new_ref);
		return -1;
	}
	/* the domain holds the new image; the old one goes */
	sm_sr_close(&nsr);
	sm_vdi_free(&nv);
	/* the detach that pairs with the attach the VM's start made */
	if (open_vdi(ctx, vdi_ref, &osr, &ov, err) == 0)
		detach_vdi(&osr, &ov);
	xerr_clear(err);
	struct xerr e = XERR_INIT;
	if (vdi_destroy(ctx, vdi_ref, &e) < 0)
		log_warn("VDI.pool_migrate: the old VDI %s stays: %s", vdi_ref, e.code);
	xerr_clear(&e);
	log_info("VDI.pool_migrate: disk %d of VM %s moved to %s", pos, vm_uuid, new_ref);
	*result = xv_str(new_ref);
	return 0;
}

/* ---- the extension messages and the table ---- */

static const struct sc_type t_string = {.kind = SC_STRING, .text = "string"};
static const struct sc_type t_bool = {.kind = SC_BOOL, .text = "bool"};
static const struct sc_type t_void = {.kind = SC_VOID, .text = "void"};
static const struct sc_type t_host = {.kind = SC_REF, .cls = SC_C_host, .text = "host ref"};
static const struct sc_type t_vm = {.kind = SC_REF, .cls = SC_C_VM, .text = "VM ref"};

static const struct sc_param prepare_params[] = {{"host", &t_host}, {"spec", &t_string}};
static const struct sc_param finish_params[] = {
	{"host", &t_host}, {"vm", &t_vm}, {"commit", &t_bool}, {"console", &t_string}};

static const struct sc_message msg_prepare = {
	.name = "migrate_receive_prepare", .session = true, .async = false,
	.roles = SC_ROLE_POOL_ADMIN | SC_ROLE_POOL_OPERATOR | SC_ROLE_VM_POWER_ADMIN,
	.nparams = 2, .params = prepare_params, .result = &t_string};
static const struct sc_message msg_finish = {
	.name = "migrate_receive_finish", .session = true, .async = false,
	.roles = SC_ROLE_POOL_ADMIN | SC_ROLE_POOL_OPERATOR | SC_ROLE_VM_POWER_ADMIN,
	.nparams = 4, .params = finish_params, .result = &t_void};

RPC_IMPL(host, migrate_receive, host_migrate_receive, 0);
RPC_EXTRA(host, migrate_receive_prepare, &msg_prepare, host_migrate_receive_prepare, RPC_SLOW);
RPC_EXTRA(host, migrate_receive_finish, &msg_finish, host_migrate_receive_finish, RPC_SLOW);
RPC_IMPL(VM, assert_can_migrate, assert_can_migrate, RPC_SLOW);
RPC_IMPL(VM, migrate_send, migrate_send, RPC_SLOW);
RPC_IMPL(VDI, pool_migrate, vdi_pool_migrate, RPC_SLOW);
