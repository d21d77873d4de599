/* absent_features: the classes of features this host has no hardware or
 * service for — licences beyond the free edition, update repositories,
 * GPUs, SR-IOV, USB pass-through, PVS, clustering — answered as xapi
 * answers them on a host without them (no PGPU, PUSB or PIF with the
 * capability; no repository enabled; the bridge network backend; no
 * cluster daemon), and the records that need nothing but the store
 * (GPU and USB groups, repositories, the SDN controller) kept as xapi
 * keeps them. */
#include "api.h"
#include "../base/b64.h"
#include "../base/uuid.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The object args[i] names, of class cls, or NULL with HANDLE_INVALID;
 * under the read lock only for the check. */
static bool exists(struct rpc_ctx *ctx, int cls, xv *args, size_t i, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *o = generic_lookup(ctx, cls, xv_arr_get(args, i), err);
	db_unlock(ctx->db);
	return o != NULL;
}

/* Calls on an object of a class no call here creates (PGPU, VGPU,
 * network_sriov, PVS_*, Cluster*, pool_update): the object named does not
 * exist, so HANDLE_INVALID as xapi's. Were one given (a restored database),
 * destroy and forget remove it and the rest answer that the feature's
 * service is missing here. */
static int no_such_object(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *o = generic_lookup(ctx, ctx->cls, xv_arr_get(args, 0), err);
	if (!o) {
		db_abort(t);
		return -1;
	}
	const char *name = ctx->msg->name;
	if (!strcmp(name, "destroy") || !strcmp(name, "forget") || !strcmp(name, "force_destroy")) {
		db_delete(t, o);
		return db_commit(t, err);
	}
	db_abort(t);
	return xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "this host has no service for this feature", NULL);
}

/* ---- licensing: the host's one edition (free, never expires) ---- */

static int check_edition(struct rpc_ctx *ctx, struct db_obj *h, const char *edition, struct xerr *err)
{
	(void)ctx;
	if (strcmp(db_peek_str(h, SC_F_host__edition), edition))
		return xerr_set(err, ERR_INVALID_EDITION, edition, NULL);
	return 0;
}

static int host_apply_edition(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	int rc = h ? check_edition(ctx, h, arg_str(args, 1), err) : -1;
	db_unlock(ctx->db);
	return rc;
}

static int pool_apply_edition(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	int rc = generic_lookup(ctx, SC_C_pool, xv_arr_get(args, 0), err) ? 0 : -1;
	for (struct db_obj *h = db_first(ctx->db, SC_C_host); h && rc == 0; h = db_next(h))
		rc = check_edition(ctx, h, arg_str(args, 1), err);
	db_unlock(ctx->db);
	return rc;
}

static int pool_get_license_state(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *p = generic_lookup(ctx, SC_C_pool, xv_arr_get(args, 0), err);
	struct db_obj *h = db_first(ctx->db, SC_C_host);
	if (p) {
		*result = xv_map_new();
		xv_map_set_str(result, "edition", h ? db_peek_str(h, SC_F_host__edition) : "");
		xv_map_set_str(result, "expiry", "never");
	}
	db_unlock(ctx->db);
	return p ? 0 : -1;
}

/* xapi decodes the file (LICENSE_PROCESSING_ERROR when it is not base64)
 * and hands it to the licensing daemon; the free edition takes no file. */
static int host_license_add(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (!exists(ctx, SC_C_host, args, 0, err))
		return -1;
	size_t n = 0;
	unsigned char *bytes = b64_decode(arg_str(args, 1), &n);
	if (!bytes)
		return xerr_set(err, ERR_LICENSE_PROCESSING_ERROR, NULL);
	free(bytes);
	return xerr_set(err, ERR_LICENSE_FILE_DEPRECATED, NULL);
}

static int host_license_remove(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return exists(ctx, SC_C_host, args, 0, err) ? 0 : -1;
}

/* ---- updates: repositories are kept; none can be synced from here ---- */

static int no_repository_enabled(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	bool ok = generic_lookup(ctx, ctx->cls, xv_arr_get(args, 0), err) != NULL;
	db_unlock(ctx->db);
	return ok ? xerr_set(err, ERR_NO_REPOSITORY_ENABLED, NULL) : -1;
}

/* xapi's assert_url_is_valid: http or https with a host. */
static bool url_valid(const char *url)
{
	const char *rest = !strncmp(url, "http://", 7) ? url + 7 : !strncmp(url, "https://", 8) ? url + 8 : NULL;
	return rest && *rest && *rest != '/' && *rest != ':';
}

static int repository_introduce(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const char *label = arg_str(args, 0), *binary = arg_str(args, 2), *source = arg_str(args, 3);
	if (!url_valid(binary))
		return xerr_set(err, ERR_INVALID_BASE_URL, binary, NULL);
	if (!url_valid(source))
		return xerr_set(err, ERR_INVALID_BASE_URL, source, NULL);
	struct db_txn *t = db_begin(ctx->db);
	for (struct db_obj *r = db_first(ctx->db, SC_C_Repository); r; r = db_next(r))
		if (!strcmp(db_peek_str(r, SC_F_Repository__name_label), label) ||
		    !strcmp(db_peek_str(r, SC_F_Repository__binary_url), binary)) {
			xerr_set(err, ERR_REPOSITORY_ALREADY_EXISTS, r->ref, NULL);
			db_abort(t);
			return -1;
		}
	struct db_obj *r = db_create(t, SC_C_Repository, NULL);
	db_set_str(t, r, SC_F_Repository__name_label, label);
	db_set_str(t, r, SC_F_Repository__name_description, arg_str(args, 1));
	db_set_str(t, r, SC_F_Repository__binary_url, binary);
	db_set_str(t, r, SC_F_Repository__source_url, source);
	db_set_bool(t, r, SC_F_Repository__update, arg_bool(args, 4));
	db_set_str(t, r, SC_F_Repository__gpgkey_path, arg_str(args, 5));
	*result = xv_str(r->ref);
	if (db_commit(t, err) < 0) {
		xv_free(result);
		return -1;
	}
	return 0;
}

static int repository_forget(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *r = generic_lookup(ctx, SC_C_Repository, xv_arr_get(args, 0), err);
	bool used = false;
	for (struct db_obj *p = db_first(ctx->db, SC_C_pool); r && p; p = db_next(p)) {
		xv ref = xv_str(r->ref);
		used |= xv_arr_contains(db_peek(p, SC_F_pool__repositories), &ref);
		xv_free(&ref);
	}
	if (!r || used) {
		db_abort(t);
		return r ? xerr_set(err, ERR_REPOSITORY_IS_IN_USE, NULL) : -1;
	}
	db_delete(t, r);
	return db_commit(t, err);
}

/* pool.add_repository and remove_repository: the pool's enabled list. */
static int pool_edit_repository(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	bool add = !strcmp(ctx->msg->name, "add_repository");
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = generic_lookup(ctx, SC_C_pool, xv_arr_get(args, 0), err);
	struct db_obj *r = p ? generic_lookup(ctx, SC_C_Repository, xv_arr_get(args, 1), err) : NULL;
	if (!r) {
		db_abort(t);
		return -1;
	}
	xv ref = xv_str(r->ref);
	xv *list = db_edit(t, p, SC_F_pool__repositories);
	if (add && !xv_arr_contains(list, &ref))
		xv_arr_push(list, xv_copy(&ref));
	else if (!add)
		xv_arr_remove(list, &ref);
	xv_free(&ref);
	return db_commit(t, err);
}

static int pool_configure_repository_proxy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *url = arg_str(args, 1), *user = arg_str(args, 2), *password = arg_str(args, 3);
	if (!url_valid(url))
		return xerr_set(err, ERR_INVALID_REPOSITORY_PROXY_URL, url, NULL);
	if (!*user != !*password)
		return xerr_set(err, ERR_INVALID_REPOSITORY_PROXY_CREDENTIAL, NULL);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = generic_lookup(ctx, SC_C_pool, xv_arr_get(args, 0), err);
	if (!p) {
		db_abort(t);
		return -1;
	}
	db_set_str(t, p, SC_F_pool__repository_proxy_url, url);
	db_set_str(t, p, SC_F_pool__repository_proxy_username, user);
	/* the password in a secret of its own, as xapi keeps it */
	struct db_obj *old = db_lookup_cls(ctx->db, SC_C_secret, db_peek_str(p, SC_F_pool__repository_proxy_password));
	if (old)
		db_delete(t, old);
	const char *sref = REF_NULL;
	if (*password) {
		struct db_obj *s = db_create(t, SC_C_secret, NULL);
		db_set_str(t, s, SC_F_secret__value, password);
		sref = s->ref;
	}
	db_set_str(t, p, SC_F_pool__repository_proxy_password, sref);
	return db_commit(t, err);
}

static int pool_disable_repository_proxy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = generic_lookup(ctx, SC_C_pool, xv_arr_get(args, 0), err);
	if (!p) {
		db_abort(t);
		return -1;
	}
	struct db_obj *old = db_lookup_cls(ctx->db, SC_C_secret, db_peek_str(p, SC_F_pool__repository_proxy_password));
	if (old)
		db_delete(t, old);
	db_set_str(t, p, SC_F_pool__repository_proxy_url, "");
	db_set_str(t, p, SC_F_pool__repository_proxy_username, "");
	db_set_str(t, p, SC_F_pool__repository_proxy_password, REF_NULL);
	return db_commit(t, err);
}

/* xapi: a weekly sync needs a day 0..6, a daily one takes none (0). */
static int pool_configure_update_sync(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *freq = arg_str(args, 1);
	int64_t day = arg_int(args, 2);
	bool weekly = !strcmp(freq, "weekly");
	if ((weekly && (day < 0 || day > 6)) || (!weekly && day != 0)) {
		char d[24];
		snprintf(d, sizeof d, "%lld", (long long)day);
		return xerr_set(err, ERR_INVALID_UPDATE_SYNC_DAY, d, NULL);
	}
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = generic_lookup(ctx, SC_C_pool, xv_arr_get(args, 0), err);
	if (!p) {
		db_abort(t);
		return -1;
	}
	db_set_str(t, p, SC_F_pool__update_sync_frequency, freq);
	db_set_int(t, p, SC_F_pool__update_sync_day, day);
	return db_commit(t, err);
}

/* xapi reads an update ISO's update.xml from the VDI; none holds one here. */
static int pool_update_introduce(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (!exists(ctx, SC_C_VDI, args, 0, err))
		return -1;
	return xerr_set(err, ERR_INVALID_UPDATE, "the VDI holds no update (no update.xml)", NULL);
}

/* ---- the guest agent's configuration and extensions ---- */

static bool agent_config_text_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

static int pool_guest_agent_config(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	bool add = !strcmp(ctx->msg->name, "add_to_guest_agent_config");
	const char *key = arg_str(args, 1), *value = add ? arg_str(args, 2) : "";
	if (!agent_config_text_ok(key))
		return xerr_set(err, ERR_INVALID_VALUE, "key", key, NULL);
	if (!agent_config_text_ok(value))
		return xerr_set(err, ERR_INVALID_VALUE, "value", value, NULL);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = generic_lookup(ctx, SC_C_pool, xv_arr_get(args, 0), err);
	if (!p) {
		db_abort(t);
		return -1;
	}
	xv *m = db_edit(t, p, SC_F_pool__guest_agent_config);
	if (add)
		xv_map_set_str(m, key, value);
	else
		xv_map_del(m, key);
	return db_commit(t, err);
}

/* No extension is installed: has_extension false, call_extension as
 * xapi's find_extension answers an unknown name. */
static int has_extension(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	if (!exists(ctx, ctx->cls, args, 0, err))
		return -1;
	*result = xv_bool(false);
	return 0;
}

static int host_call_extension(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (!exists(ctx, SC_C_host, args, 0, err))
		return -1;
	/* the JSON-RPC call's method name */
	const char *call = arg_str(args, 1), *m = strstr(call, "\"method\"");
	char name[128] = "";
	if (m && (m = strchr(m + 8, '"')) != NULL) {
		size_t n = strcspn(m + 1, "\"");
		snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), m + 1);
	} else {
		return xerr_set(err, ERR_INTERNAL_ERROR, "call_extension: the call is not a JSON-RPC request", NULL);
	}
	return xerr_set(err, ERR_MESSAGE_METHOD_UNKNOWN, name, NULL);
}

/* xapi: a new uuid in a new secret; the old secret goes. */
static int pool_reset_telemetry_uuid(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = generic_lookup(ctx, SC_C_pool, xv_arr_get(args, 0), err);
	if (!p) {
		db_abort(t);
		return -1;
	}
	struct db_obj *old = db_lookup_cls(ctx->db, SC_C_secret, db_peek_str(p, SC_F_pool__telemetry_uuid));
	if (old)
		db_delete(t, old);
	char uuid[UUID_STRLEN + 1];
	uuid_generate_str(uuid);
	struct db_obj *s = db_create(t, SC_C_secret, NULL);
	db_set_str(t, s, SC_F_secret__value, uuid);
	db_set_str(t, p, SC_F_pool__telemetry_uuid, s->ref);
	return db_commit(t, err);
}

/* The datamodel forwards this to the host extension of the same name;
 * none is installed (xapi's find_extension: MESSAGE_METHOD_UNKNOWN). */
static int lvhd_enable_thin_provisioning(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	bool ok = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err) &&
		  generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 1), err);
	db_unlock(ctx->db);
	return ok ? xerr_set(err, ERR_MESSAGE_METHOD_UNKNOWN, "LVHD.enable_thin_provisioning", NULL) : -1;
}

static int pool_test_archive_target(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx, (void)args, (void)result;
	return xerr_set(err, ERR_MESSAGE_REMOVED, NULL);
}

/* ---- GPU: groups are records; no PGPU here ---- */

static int group_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	bool gpu = ctx->cls == SC_C_GPU_group;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *g = db_create(t, ctx->cls, NULL);
	db_set_str(t, g, gpu ? SC_F_GPU_group__name_label : SC_F_USB_group__name_label, arg_str(args, 0));
	db_set_str(t, g, gpu ? SC_F_GPU_group__name_description : SC_F_USB_group__name_description,
		   arg_str(args, 1));
	const xv *oc = xv_arr_get(args, 2);
	if (oc && oc->kind == XV_MAP)
		db_set(t, g, gpu ? SC_F_GPU_group__other_config : SC_F_USB_group__other_config, xv_copy(oc));
	*result = xv_str(g->ref);
	if (db_commit(t, err) < 0) {
		xv_free(result);
		return -1;
	}
	return 0;
}

/* xapi: refused while VGPUs (VUSBs) or PGPUs (PUSBs) are in the group,
 * each error listing them. */
static int group_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	bool gpu = ctx->cls == SC_C_GPU_group;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *g = generic_lookup(ctx, ctx->cls, xv_arr_get(args, 0), err);
	if (!g) {
		db_abort(t);
		return -1;
	}
	xv virt = db_get(ctx->db, g, gpu ? SC_F_GPU_group__VGPUs : SC_F_USB_group__VUSBs);
	xv phys = db_get(ctx->db, g, gpu ? SC_F_GPU_group__PGPUs : SC_F_USB_group__PUSBs);
	const xv *in = xv_len(&virt) ? &virt : xv_len(&phys) ? &phys : NULL;
	int rc = 0;
	if (in) {
		const char *code = in == &virt ? (gpu ? ERR_GPU_GROUP_CONTAINS_VGPU : ERR_USB_GROUP_CONTAINS_VUSB)
					       : (gpu ? ERR_GPU_GROUP_CONTAINS_PGPU : ERR_USB_GROUP_CONTAINS_PUSB);
		const char *p[64];
		size_t n = xv_len(in) < 64 ? xv_len(in) : 64;
		for (size_t i = 0; i < n; i++)
			p[i] = xv_as_str(xv_arr_get(in, i));
		rc = xerr_setv(err, code, n, p);
	}
	xv_free(&virt);
	xv_free(&phys);
	if (rc < 0) {
		db_abort(t);
		return -1;
	}
	db_delete(t, g);
	return db_commit(t, err);
}

static int gpu_group_get_remaining_capacity(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *g = generic_lookup(ctx, SC_C_GPU_group, xv_arr_get(args, 0), err);
	int rc = -1;
	if (g) {
		xv pgpus = db_get(ctx->db, g, SC_F_GPU_group__PGPUs);
		if (xv_len(&pgpus))
			*result = xv_int(0), rc = 0; /* no VGPU type fits a PGPU this host cannot drive */
		else
			rc = xerr_set(err, ERR_GPU_GROUP_CONTAINS_NO_PGPUS, g->ref, NULL);
		xv_free(&pgpus);
	}
	db_unlock(ctx->db);
	return rc;
}

/* xapi checks the VM is halted, then the VGPU type: there is none here. */
static int vgpu_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	struct db_obj *g = vm ? generic_lookup(ctx, SC_C_GPU_group, xv_arr_get(args, 1), err) : NULL;
	int rc = -1;
	if (g) {
		const char *ps = db_peek_str(vm, SC_F_VM__power_state);
		if (strcmp(ps, "Halted"))
			rc = xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, "halted", ps, NULL);
		else
			rc = xerr_set(err, ERR_INVALID_VALUE, "type", arg_str(args, 4), NULL);
	}
	db_unlock(ctx->db);
	return rc;
}

/* ---- SR-IOV: no PIF here has the capability ---- */

static int network_sriov_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *pif = generic_lookup(ctx, SC_C_PIF, xv_arr_get(args, 0), err);
	struct db_obj *net = pif ? generic_lookup(ctx, SC_C_network, xv_arr_get(args, 1), err) : NULL;
	db_unlock(ctx->db);
	return net ? xerr_set(err, ERR_PIF_IS_NOT_SRIOV_CAPABLE, pif->ref, NULL) : -1;
}

/* ---- USB: a scan finds no device; groups and VUSB records are kept ---- */

static int pusb_scan(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return exists(ctx, SC_C_host, args, 0, err) ? 0 : -1;
}

static int vusb_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	struct db_obj *g = vm ? generic_lookup(ctx, SC_C_USB_group, xv_arr_get(args, 1), err) : NULL;
	if (!g) {
		db_abort(t);
		return -1;
	}
	xv vusbs = db_get(ctx->db, vm, SC_F_VM__VUSBs);
	int rc = 0;
	if (xv_len(&vusbs) >= 6)
		rc = xerr_set(err, ERR_TOO_MANY_VUSBS, "6", NULL);
	for (size_t i = 0; rc == 0 && i < xv_len(&vusbs); i++) {
		struct db_obj *u = db_lookup_cls(ctx->db, SC_C_VUSB, xv_as_str(xv_arr_get(&vusbs, i)));
		if (u && !strcmp(db_peek_str(u, SC_F_VUSB__USB_group), g->ref))
			rc = xerr_set(err, ERR_USB_GROUP_CONFLICT, g->ref, NULL);
	}
	xv_free(&vusbs);
	if (rc == 0 && strcmp(db_peek_str(vm, SC_F_VM__power_state), "Halted"))
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "VM must be halted to create a VUSB", NULL);
	if (rc < 0) {
		db_abort(t);
		return -1;
	}
	struct db_obj *u = db_create(t, SC_C_VUSB, NULL);
	db_set_str(t, u, SC_F_VUSB__VM, vm->ref);
	db_set_str(t, u, SC_F_VUSB__USB_group, g->ref);
	const xv *oc = xv_arr_get(args, 2);
	if (oc && oc->kind == XV_MAP)
		db_set(t, u, SC_F_VUSB__other_config, xv_copy(oc));
	*result = xv_str(u->ref);
	if (db_commit(t, err) < 0) {
		xv_free(result);
		return -1;
	}
	return 0;
}

static int vusb_unplug(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *u = generic_lookup(ctx, SC_C_VUSB, xv_arr_get(args, 0), err);
	int rc = u ? xerr_set(err, ERR_DEVICE_ALREADY_DETACHED, u->ref, NULL) : -1;
	db_unlock(ctx->db);
	return rc;
}

static int vusb_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *u = generic_lookup(ctx, SC_C_VUSB, xv_arr_get(args, 0), err);
	if (!u || db_peek_bool(u, SC_F_VUSB__currently_attached)) {
		db_abort(t);
		return u ? xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "VUSB is currently attached", NULL) : -1;
	}
	db_delete(t, u);
	return db_commit(t, err);
}

/* ---- PVS: needs Open vSwitch; the host's network backend is the bridge ---- */

static int pvs_needs_vswitch(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args, (void)result;
	db_rdlock(ctx->db);
	struct db_obj *h = db_first(ctx->db, SC_C_host);
	const char *backend = h ? xv_map_get_str(db_peek(h, SC_F_host__software_version), "network_backend") : NULL;
	bool ovs = backend && !strcmp(backend, "openvswitch");
	db_unlock(ctx->db);
	if (!ovs)
		return xerr_set(err, ERR_OPENVSWITCH_NOT_ACTIVE, NULL);
	return xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "no PVS server support on this host", NULL);
}

/* ---- the SDN controller: one record, as xapi's db_introduce checks it ---- */

static int sdn_controller_introduce(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const char *protocol = arg_str(args, 0), *address = arg_str(args, 1);
	int64_t port = arg_int(args, 2);
	char p[24];
	snprintf(p, sizeof p, "%lld", (long long)port);
	bool ssl = !strcmp(protocol, "ssl");
	if (!ssl) { /* pssl: the controller connects to us */
		if (*address)
			return xerr_set(err, ERR_INVALID_VALUE, "address", address, NULL);
		if (port != 0)
			return xerr_set(err, ERR_INVALID_VALUE, "port", p, NULL);
	} else {
		struct in_addr a;
		if (!*address || inet_pton(AF_INET, address, &a) != 1)
			return xerr_set(err, ERR_INVALID_VALUE, "address", address, NULL);
	}
	if (port < 0 || port > 65535)
		return xerr_set(err, ERR_INVALID_VALUE, "port", p, NULL);
	struct db_txn *t = db_begin(ctx->db);
	if (db_first(ctx->db, SC_C_SDN_controller)) {
		db_abort(t);
		return xerr_set(err, ERR_OPERATION_NOT_ALLOWED,
				"SDN controller has been configured. Please forget it first.", NULL);
	}
	struct db_obj *s = db_create(t, SC_C_SDN_controller, NULL);
	db_set_str(t, s, SC_F_SDN_controller__protocol, protocol);
	db_set_str(t, s, SC_F_SDN_controller__address, address);
	db_set_int(t, s, SC_F_SDN_controller__port, ssl && port == 0 ? 6632 : port);
	*result = xv_str(s->ref);
	if (db_commit(t, err) < 0) {
		xv_free(result);
		return -1;
	}
	return 0;
}

/* ---- clustering: checked as xapi checks it; no cluster daemon here ---- */

static double arg_float(xv *args, size_t i)
{
	const xv *v = xv_arr_get(args, i);
	return v && v->kind == XV_FLOAT ? v->u.f : v && v->kind == XV_INT ? (double)v->u.i : 0.0;
}

static int cluster_check(struct rpc_ctx *ctx, int cls, xv *args, const char *stack, double timeout,
			 double coefficient, struct xerr *err)
{
	if (strcmp(stack, "corosync"))
		return xerr_set(err, ERR_INVALID_CLUSTER_STACK, stack, NULL);
	char v[32];
	if (timeout < 1.0) {
		snprintf(v, sizeof v, "%g", timeout);
		return xerr_set(err, ERR_INVALID_VALUE, "token_timeout", v, NULL);
	}
	if (coefficient < 0.65) {
		snprintf(v, sizeof v, "%g", coefficient);
		return xerr_set(err, ERR_INVALID_VALUE, "token_timeout_coefficient", v, NULL);
	}
	if (!exists(ctx, cls, args, 0, err))
		return -1;
	return xerr_set(err, ERR_INTERNAL_ERROR, "no cluster daemon (xapi-clusterd) on this host", NULL);
}

static int cluster_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return cluster_check(ctx, SC_C_PIF, args, arg_str(args, 1), arg_float(args, 3), arg_float(args, 4), err);
}

static int cluster_pool_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return cluster_check(ctx, SC_C_network, args, arg_str(args, 1), arg_float(args, 2), arg_float(args, 3),
			     err);
}

/* Cluster_host.create names a cluster: none exists without the daemon. */
static int cluster_host_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (!exists(ctx, SC_C_Cluster, args, 0, err))
		return -1;
	return xerr_set(err, ERR_INTERNAL_ERROR, "no cluster daemon (xapi-clusterd) on this host", NULL);
}

RPC_IMPL(host, apply_edition, host_apply_edition, 0);
RPC_IMPL(pool, apply_edition, pool_apply_edition, 0);
RPC_IMPL(pool, get_license_state, pool_get_license_state, 0);
RPC_IMPL(host, license_add, host_license_add, 0);
RPC_IMPL(host, license_remove, host_license_remove, 0);

RPC_IMPL(pool, sync_updates, no_repository_enabled, 0);
RPC_IMPL(pool, check_update_readiness, no_repository_enabled, 0);
RPC_IMPL(host, apply_updates, no_repository_enabled, 0);
RPC_IMPL(Repository, introduce, repository_introduce, 0);
RPC_IMPL(Repository, forget, repository_forget, 0);
RPC_IMPL(pool, add_repository, pool_edit_repository, 0);
RPC_IMPL(pool, remove_repository, pool_edit_repository, 0);
RPC_IMPL(pool, configure_repository_proxy, pool_configure_repository_proxy, 0);
RPC_IMPL(pool, disable_repository_proxy, pool_disable_repository_proxy, 0);
RPC_IMPL(pool, configure_update_sync, pool_configure_update_sync, 0);
RPC_IMPL(pool_update, introduce, pool_update_introduce, 0);
RPC_IMPL(pool_update, precheck, no_such_object, 0);
RPC_IMPL(pool_update, apply, no_such_object, 0);
RPC_IMPL(pool_update, pool_apply, no_such_object, 0);
RPC_IMPL(pool_update, pool_clean, no_such_object, 0);
RPC_IMPL(pool_update, destroy, no_such_object, 0);

RPC_IMPL(pool, add_to_guest_agent_config, pool_guest_agent_config, 0);
RPC_IMPL(pool, remove_from_guest_agent_config, pool_guest_agent_config, 0);
RPC_IMPL(pool, has_extension, has_extension, 0);
RPC_IMPL(host, has_extension, has_extension, 0);
RPC_IMPL(host, call_extension, host_call_extension, 0);
RPC_IMPL(pool, reset_telemetry_uuid, pool_reset_telemetry_uuid, 0);
RPC_IMPL(LVHD, enable_thin_provisioning, lvhd_enable_thin_provisioning, 0);
RPC_IMPL(pool, test_archive_target, pool_test_archive_target, 0);

RPC_IMPL(GPU_group, create, group_create, 0);
RPC_IMPL(GPU_group, destroy, group_destroy, 0);
RPC_IMPL(GPU_group, get_remaining_capacity, gpu_group_get_remaining_capacity, 0);
RPC_IMPL(VGPU, create, vgpu_create, 0);
RPC_IMPL(VGPU, destroy, no_such_object, 0);
RPC_IMPL(PGPU, add_enabled_VGPU_types, no_such_object, 0);
RPC_IMPL(PGPU, remove_enabled_VGPU_types, no_such_object, 0);
RPC_IMPL(PGPU, get_remaining_capacity, no_such_object, 0);
RPC_IMPL(PGPU, enable_dom0_access, no_such_object, 0);
RPC_IMPL(PGPU, disable_dom0_access, no_such_object, 0);

RPC_IMPL(network_sriov, create, network_sriov_create, 0);
RPC_IMPL(network_sriov, destroy, no_such_object, 0);
RPC_IMPL(network_sriov, get_remaining_capacity, no_such_object, 0);

RPC_IMPL(PUSB, scan, pusb_scan, 0);
RPC_IMPL(USB_group, create, group_create, 0);
RPC_IMPL(USB_group, destroy, group_destroy, 0);
RPC_IMPL(VUSB, create, vusb_create, 0);
RPC_IMPL(VUSB, unplug, vusb_unplug, 0);
RPC_IMPL(VUSB, destroy, vusb_destroy, 0);

RPC_IMPL(PVS_site, introduce, pvs_needs_vswitch, 0);
RPC_IMPL(PVS_site, forget, no_such_object, 0);
RPC_IMPL(PVS_server, introduce, pvs_needs_vswitch, 0);
RPC_IMPL(PVS_server, forget, no_such_object, 0);
RPC_IMPL(PVS_proxy, create, pvs_needs_vswitch, 0);
RPC_IMPL(PVS_proxy, destroy, no_such_object, 0);

RPC_IMPL(SDN_controller, introduce, sdn_controller_introduce, 0);
RPC_IMPL(SDN_controller, forget, no_such_object, 0);

RPC_IMPL(Cluster, create, cluster_create, 0);
RPC_IMPL(Cluster, pool_create, cluster_pool_create, 0);
RPC_IMPL(Cluster, destroy, no_such_object, 0);
RPC_IMPL(Cluster, pool_destroy, no_such_object, 0);
RPC_IMPL(Cluster, pool_force_destroy, no_such_object, 0);
RPC_IMPL(Cluster, pool_resync, no_such_object, 0);
RPC_IMPL(Cluster, get_network, no_such_object, 0);
RPC_IMPL(Cluster_host, create, cluster_host_create, 0);
RPC_IMPL(Cluster_host, destroy, no_such_object, 0);
RPC_IMPL(Cluster_host, force_destroy, no_such_object, 0);
RPC_IMPL(Cluster_host, enable, no_such_object, 0);
RPC_IMPL(Cluster_host, disable, no_such_object, 0);

RPC_IMPL(crashdump, destroy, no_such_object, 0);
RPC_IMPL(host_crashdump, destroy, no_such_object, 0);
RPC_IMPL(host_crashdump, upload, no_such_object, 0);
