/* cmd_install: making and removing whole VMs — vm-install from a template
 * (clone or copy, point the template's provisioning XML at an SR,
 * provision), vm/template/snapshot-uninstall with the disks they own, and
 * the snapshot commands that address a snapshot by uuid. */
#include "cmd.h"
#include "base/mem.h"
#include "base/uuid.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int get_str(struct xe_ctx *x, const char *method, const char *ref, char **out,
		   struct xerr *err)
{
	xv v = XV_NIL_INIT;
	if (xs_call(x->s, method, &v, err, ref, NULL) < 0)
		return -1;
	*out = xstrdup(xv_as_str(&v) ? xv_as_str(&v) : "");
	xv_free(&v);
	return 0;
}

static bool rec_bool(const xv *rec, const char *k)
{
	const xv *b = xv_map_get(rec, k);
	return b && b->kind == XV_BOOL && b->u.b;
}

/* Every sr="..." attribute of the <disk> elements in a template's
 * other-config:disks, pointed at sr_uuid (xe does this for every disk;
 * sr="" means "the default SR" to VM.provision). */
char *xe_rewrite_disks_sr(const char *xml, const char *sr_uuid)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = xml;
	for (;;) {
		const char *tag = strstr(p, "<disk");
		if (!tag) {
			sb_puts(&sb, p);
			break;
		}
		const char *end = strchr(tag, '>');
		if (!end) {
			sb_puts(&sb, p);
			break;
		}
		sb_add(&sb, p, (size_t)(tag - p));
		/* Within this tag, replace the value of the sr attribute. */
		const char *q = tag;
		while (q < end) {
			const char *a = strstr(q, "sr=");
			if (!a || a >= end || (a[-1] != ' ' && a[-1] != '\t' && a[-1] != '\n')) {
				if (a && a < end) {
					sb_add(&sb, q, (size_t)(a + 3 - q));
					q = a + 3;
					continue;
				}
				break;
			}
			char quote = a[3];
			const char *close = (quote == '"' || quote == '\'') ? strchr(a + 4, quote) : NULL;
			if (!close || close > end)
				break;
			sb_add(&sb, q, (size_t)(a - q));
			sb_printf(&sb, "sr=%c", quote);
			sb_xml_escape(&sb, sr_uuid);
			sb_putc(&sb, quote);
			q = close + 1;
		}
		sb_add(&sb, q, (size_t)(end + 1 - q));
		p = end + 1;
	}
	return sb_detach(&sb);
}

/* The template named by template-uuid=, template-name-label=,
 * template-name= or template= (a uuid, else a name). */
static int find_template(struct xe_ctx *x, char **ref, struct xerr *err)
{
	const char *uuid = xe_param(x->params, "template-uuid");
	if (uuid) {
		if (xs_by_uuid(x->s, SC_C_VM, uuid, ref, err) == 0)
			return 0;
		return xe_fail(err, "Cannot find template");
	}
	const char *name = xe_param(x->params, "template-name-label");
	if (!name)
		name = xe_param(x->params, "template-name");
	const char *either = xe_param(x->params, "template");
	if (!name && either) {
		struct xerr e = XERR_INIT;
		int rc = xs_by_uuid(x->s, SC_C_VM, either, ref, &e);
		xerr_clear(&e);
		if (rc == 0)
			return 0;
		name = either;
	}
	if (!name)
		return xe_fail(err, "Template must be specified by parameter 'template-uuid', "
				    "'template-name', 'template-name-label' or 'template'");
	xv all = XV_NIL_INIT;
	if (xs_get_all(x->s, SC_C_VM, &all, err) < 0)
		return -1;
	size_t hits = 0;
	for (size_t i = 0; i < xv_len(&all); i++) {
		const xv *r = &all.u.m->vals[i];
		const char *nl = xv_map_get_str(r, "name_label");
		if (rec_bool(r, "is_a_template") && !rec_bool(r, "is_control_domain") && nl &&
		    strcmp(nl, name) == 0 && hits++ == 0)
			*ref = xstrdup(all.u.m->keys[i]);
	}
	xv_free(&all);
	if (hits == 1)
		return 0;
	if (hits > 1)
		free(*ref);
	return xe_fail(err, hits ? "More than one matching template found" : "No templates matched");
}

/* sr-uuid= / sr-name-label= -> *sr (NULL if neither). */
static int chosen_sr(struct xe_ctx *x, char **sr, struct xerr *err)
{
	*sr = NULL;
	const char *uuid = xe_param(x->params, "sr-uuid");
	const char *name = xe_param(x->params, "sr-name-label");
	if (uuid && xs_by_uuid(x->s, SC_C_SR, uuid, sr, err) < 0)
		return -1;
	if (!name)
		return 0;
	xv refs = XV_NIL_INIT;
	if (xs_call(x->s, "SR.get_by_name_label", &refs, err, name, NULL) < 0)
		return -1;
	int rc = 0;
	size_t n = xv_len(&refs);
	if (n == 0) {
		rc = xe_fail(err, "No SR with that name-label found");
	} else if (*sr) {
		bool found = false;
		for (size_t i = 0; i < n; i++)
			found = found || strcmp(xv_as_str(xv_arr_get(&refs, i)), *sr) == 0;
		if (!found)
			rc = xe_fail(err, "SR specified via sr-uuid doesn't have the name specified via "
					  "sr-name-label");
	} else if (n > 1) {
		rc = xe_fail(err, "Multiple SRs with that name-label found");
	} else {
		*sr = xstrdup(xv_as_str(xv_arr_get(&refs, 0)));
	}
	xv_free(&refs);
	return rc;
}

/* The pool's default SR's uuid, or NULL. */
static char *default_sr_uuid(struct xe_ctx *x)
{
	struct xerr e = XERR_INIT;
	xv pools = XV_NIL_INIT;
	char *uuid = NULL, *sr = NULL;
	if (xc_call(x->c, "pool.get_all", NULL, &pools, &e) == 0 && xv_len(&pools) > 0 &&
	    get_str(x, "pool.get_default_SR", xv_as_str(xv_arr_get(&pools, 0)), &sr, &e) == 0 &&
	    !ref_is_null(sr) && get_str(x, "SR.get_uuid", sr, &uuid, &e) < 0)
		uuid = NULL;
	xerr_clear(&e);
	xv_free(&pools);
	free(sr);
	return uuid;
}

/* After the clone/copy: description, suspend SR, disks XML, vendor device,
 * provisioning. Any failure destroys the half-made VM. */
static int finish_install(struct xe_ctx *x, const char *tmpl, const char *vm, const char *suspend_sr,
			  const char *sr_uuid, struct xerr *err)
{
	if (xs_call(x->s, "VM.set_name_description", NULL, err, vm, "Installed via xe CLI", NULL) < 0)
		return -1;
	if (suspend_sr && xs_call(x->s, "VM.set_suspend_SR", NULL, err, vm, suspend_sr, NULL) < 0)
		return -1;
	xv oc = XV_NIL_INIT;
	if (xs_call(x->s, "VM.get_other_config", &oc, err, vm, NULL) < 0)
		return -1;
	const char *disks = xv_map_get_str(&oc, "disks");
	int rc = 0;
	if (disks) {
		char *nd = xe_rewrite_disks_sr(disks, sr_uuid);
		rc = xs_call(x->s, "VM.remove_from_other_config", NULL, err, vm, "disks", NULL);
		if (rc == 0)
			rc = xs_call(x->s, "VM.add_to_other_config", NULL, err, vm, "disks", nd, NULL);
		free(nd);
	}
	xv_free(&oc);
	if (rc < 0)
		return -1;
	/* has-vendor-device follows the template's recommendation. */
	char *rec = NULL;
	struct xerr e = XERR_INIT;
	if (get_str(x, "VM.get_recommendations", tmpl, &rec, &e) == 0) {
		bool want = strstr(rec, "field=\"has-vendor-device\" value=\"true\"") != NULL;
		xv a = xv_arr_new();
		xv_arr_push_str(&a, vm);
		xv_arr_push(&a, xv_bool(want));
		xc_call(x->c, "VM.set_has_vendor_device", &a, NULL, &e);
		xv_free(&a);
	}
	xerr_clear(&e);
	free(rec);
	xv a = xv_arr_new();
	xv_arr_push_str(&a, vm);
	rc = xe_call_wait(x, "VM.provision", &a, NULL, err);
	xv_free(&a);
	if (rc < 0)
		return -1;
	const char *from = xe_param(x->params, "copy-bios-strings-from");
	if (from) {
		char *host = NULL;
		if (xs_by_uuid(x->s, SC_C_host, from, &host, err) < 0)
			return -1;
		rc = xs_call(x->s, "VM.copy_bios_strings", NULL, err, vm, host, NULL);
		free(host);
	}
	return rc;
}

int xe_vm_install(struct xe_ctx *x, struct xerr *err)
{
	char *tmpl = NULL, *sr = NULL, *suspend_sr = NULL, *sr_uuid = NULL, *vm = NULL;
	xv trec = XV_NIL_INIT;
	int rc = -1;
	if (find_template(x, &tmpl, err) < 0)
		goto out;
	if (xs_get_record(x->s, SC_C_VM, tmpl, &trec, err) < 0)
		goto out;
	if (!rec_bool(&trec, "is_a_template")) {
		xe_fail(err, "Can only install from templates");
		goto out;
	}
	bool snapshot = rec_bool(&trec, "is_a_snapshot");
	if (snapshot && (xe_param_has(x->params, "sr-uuid") || xe_param_has(x->params, "sr-name-label"))) {
		xe_fail(err, "Do not use the sr-name-label or sr-uuid argument when installing from a "
			     "snapshot. By default, it will install each new disk on the same SR as the "
			     "corresponding snapshot disks.");
		goto out;
	}
	if (!snapshot && chosen_sr(x, &sr, err) < 0)
		goto out;
	const char *tsus = xv_map_get_str(&trec, "suspend_SR");
	suspend_sr = xstrdup(sr ? sr : tsus ? tsus : REF_NULL);
	if (sr) {
		if (get_str(x, "SR.get_uuid", sr, &sr_uuid, err) < 0)
			goto out;
	} else if (!(sr_uuid = default_sr_uuid(x))) {
		const xv *oc = xv_map_get(&trec, "other_config");
		if (oc && xv_map_get(oc, "disks")) {
			xe_fail(err, "Failed to find a valid default SR for the Pool. Please provide an "
				     "sr-name-label or sr-uuid parameter.");
			goto out;
		}
		sr_uuid = xstrdup("");
	}
	xv a = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&a, tmpl);
	xv_arr_push_str(&a, xe_req(x, "new-name-label"));
	if (sr)
		xv_arr_push_str(&a, sr);
	rc = xe_call_wait(x, sr ? "VM.copy" : "VM.clone", &a, &res, err);
	xv_free(&a);
	if (rc < 0)
		goto out;
	vm = xstrdup(xv_as_str(&res) ? xv_as_str(&res) : "");
	xv_free(&res);
	rc = finish_install(x, tmpl, vm, suspend_sr, sr_uuid, err);
	if (rc == 0)
		rc = xe_print_uuid_of(x, SC_C_VM, vm, err);
	if (rc < 0) {
		struct xerr e = XERR_INIT;
		xs_call(x->s, "VM.destroy", NULL, &e, vm, NULL);
		xerr_clear(&e);
	}
out:
	free(tmpl);
	free(sr);
	free(suspend_sr);
	free(sr_uuid);
	free(vm);
	xv_free(&trec);
	return rc;
}

/* ---- uninstall ---- */

struct doomed {
	struct strbuf plan;    /* what will go, as printed before asking */
	xv vms, vdis;          /* refs */
};

static void plan_vdi(struct xe_ctx *x, struct doomed *d, const char *vdi)
{
	xv r = XV_NIL_INIT;
	struct xerr e = XERR_INIT;
	if (xs_get_record(x->s, SC_C_VDI, vdi, &r, &e) < 0) {
		xerr_clear(&e);
		return;
	}
	const xv *vbds = xv_map_get(&r, "VBDs");
	sb_printf(&d->plan, "VDI: %s (%s) %s\n", xv_map_get_str(&r, "uuid"),
		  xv_map_get_str(&r, "name_label"),
		  vbds && xv_len(vbds) > 1 ? " ** WARNING: disk is shared by other VMs" : "");
	xv_arr_push_str(&d->vdis, vdi);
	xv_free(&r);
}

/* A VM goes with the VDIs its VBDs own (other-config:owner) and its
 * suspend image. */
static void plan_vm(struct xe_ctx *x, struct doomed *d, const char *vm)
{
	xv r = XV_NIL_INIT;
	struct xerr e = XERR_INIT;
	if (xs_get_record(x->s, SC_C_VM, vm, &r, &e) < 0) {
		xerr_clear(&e);
		return;
	}
	sb_printf(&d->plan, "VM : %s (%s)\n", xv_map_get_str(&r, "uuid"), xv_map_get_str(&r, "name_label"));
	xv_arr_push_str(&d->vms, vm);
	const xv *vbds = xv_map_get(&r, "VBDs");
	for (size_t i = 0; vbds && i < xv_len(vbds); i++) {
		xv vbd = XV_NIL_INIT;
		if (xs_get_record(x->s, SC_C_VBD, xv_as_str(xv_arr_get(vbds, i)), &vbd, &e) == 0) {
			const xv *oc = xv_map_get(&vbd, "other_config");
			const char *vdi = xv_map_get_str(&vbd, "VDI");
			if (oc && xv_map_get(oc, "owner") && vdi && !ref_is_null(vdi))
				plan_vdi(x, d, vdi);
		}
		xerr_clear(&e);
		xv_free(&vbd);
	}
	const char *sus = xv_map_get_str(&r, "suspend_VDI");
	if (sus && !ref_is_null(sus))
		plan_vdi(x, d, sus);
	xv_free(&r);
}

static int uninstall(struct xe_ctx *x, const xv *vms, struct xerr *err)
{
	struct doomed d = {STRBUF_INIT, xv_arr_new(), xv_arr_new()};
	for (size_t i = 0; i < xv_len(vms); i++)
		plan_vm(x, &d, xv_as_str(xv_arr_get(vms, i)));
	xe_print_line(x->out, "The following items are about to be destroyed");
	if (d.plan.len) {
		d.plan.buf[--d.plan.len] = 0; /* print_line adds the last newline */
		xe_print_line(x->out, d.plan.buf);
	}
	bool yes = false;
	int rc = xe_confirm(x, &yes, err);
	for (size_t i = 0; rc == 0 && yes && i < xv_len(&d.vms); i++) {
		const char *vm = xv_as_str(xv_arr_get(&d.vms, i));
		xv ps = XV_NIL_INIT;
		struct xerr e = XERR_INIT;
		if (xs_call(x->s, "VM.get_power_state", &ps, &e, vm, NULL) == 0 && xv_as_str(&ps) &&
		    strcasecmp(xv_as_str(&ps), "Halted") != 0)
			rc = xs_call(x->s, "VM.hard_shutdown", NULL, err, vm, NULL);
		xerr_clear(&e);
		xv_free(&ps);
		if (rc == 0)
			rc = xs_call(x->s, "VM.destroy", NULL, err, vm, NULL);
	}
	for (size_t i = 0; rc == 0 && yes && i < xv_len(&d.vdis); i++) {
		struct xerr e = XERR_INIT;
		/* The suspend image may already have gone with its VM. */
		xs_call(x->s, "VDI.destroy", NULL, &e, xv_as_str(xv_arr_get(&d.vdis, i)), NULL);
		xerr_clear(&e);
	}
	if (rc == 0 && yes)
		xe_print_line(x->out, "All objects destroyed");
	sb_free(&d.plan);
	xv_free(&d.vms);
	xv_free(&d.vdis);
	return rc;
}

static int op_collect(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	(void)x;
	(void)err;
	xv_arr_push_str(ud, o->ref);
	const xv *snaps = xv_map_get(o->rec, "snapshots");
	for (size_t i = 0; snaps && i < xv_len(snaps); i++)
		xv_arr_push(ud, xv_copy(xv_arr_get(snaps, i)));
	return 0;
}

int xe_vm_uninstall(struct xe_ctx *x, struct xerr *err)
{
	xv vms = xv_arr_new();
	int rc = xe_do_selected(x, "vm", false, false, true, op_collect, &vms, err);
	if (rc == 0)
		rc = uninstall(x, &vms, err);
	xv_free(&vms);
	return rc;
}

/* A VM by uuid that must have a flag set (a template, a snapshot). */
static int flagged_vm(struct xe_ctx *x, const char *uuid, const char *flag, const char *what,
		      char **ref, struct xerr *err)
{
	if (xs_by_uuid(x->s, SC_C_VM, uuid, ref, err) < 0)
		return -1;
	xv v = XV_NIL_INIT;
	char *m = xasprintf("VM.get_%s", flag);
	int rc = xs_call(x->s, m, &v, err, *ref, NULL);
	free(m);
	bool set = v.kind == XV_BOOL ? v.u.b : (xv_as_str(&v) && !strcmp(xv_as_str(&v), "true"));
	xv_free(&v);
	if (rc == 0 && !set)
		rc = xe_fail(err, "This operation can only be performed on a VM %s. %s is not a VM %s.",
			     what, uuid, what);
	if (rc < 0) {
		free(*ref);
		*ref = NULL;
	}
	return rc;
}

static int snapshot_ref(struct xe_ctx *x, char **ref, struct xerr *err)
{
	const char *uuid = xe_param(x->params, "snapshot-uuid");
	if (!uuid)
		uuid = xe_param(x->params, "uuid");
	if (!uuid)
		return xe_fail(err, "Required parameter not found: snapshot-uuid or uuid.");
	return flagged_vm(x, uuid, "is_a_snapshot", "snapshot", ref, err);
}

int xe_template_uninstall(struct xe_ctx *x, struct xerr *err)
{
	char *ref;
	if (flagged_vm(x, xe_req(x, "template-uuid"), "is_a_template", "template", &ref, err) < 0)
		return -1;
	xv vms = xv_arr_new();
	xv_arr_push_str(&vms, ref);
	int rc = uninstall(x, &vms, err);
	xv_free(&vms);
	free(ref);
	return rc;
}

int xe_snapshot_uninstall(struct xe_ctx *x, struct xerr *err)
{
	char *ref;
	if (snapshot_ref(x, &ref, err) < 0)
		return -1;
	xv vms = xv_arr_new();
	xv_arr_push_str(&vms, ref);
	int rc = uninstall(x, &vms, err);
	xv_free(&vms);
	free(ref);
	return rc;
}

int xe_snapshot_revert(struct xe_ctx *x, struct xerr *err)
{
	char *ref;
	if (snapshot_ref(x, &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	int rc = xe_call_wait(x, "VM.revert", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

int xe_snapshot_destroy(struct xe_ctx *x, struct xerr *err)
{
	char *ref;
	if (snapshot_ref(x, &ref, err) < 0)
		return -1;
	xv ps = XV_NIL_INIT;
	int rc = xs_call(x->s, "VM.get_power_state", &ps, err, ref, NULL);
	if (rc == 0 && xv_as_str(&ps) && strcasecmp(xv_as_str(&ps), "Halted") != 0)
		rc = xs_call(x->s, "VM.hard_shutdown", NULL, err, ref, NULL);
	if (rc == 0)
		rc = xs_call(x->s, "VM.destroy", NULL, err, ref, NULL);
	xv_free(&ps);
	free(ref);
	return rc;
}

static int snapshot_make(struct xe_ctx *x, bool copy, struct xerr *err)
{
	char *ref, *sr = NULL;
	if (snapshot_ref(x, &ref, err) < 0)
		return -1;
	const char *sr_uuid = xe_param(x->params, "sr-uuid");
	if (copy && sr_uuid && xs_by_uuid(x->s, SC_C_SR, sr_uuid, &sr, err) < 0) {
		free(ref);
		return -1;
	}
	xv a = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&a, ref);
	xv_arr_push_str(&a, xe_req(x, "new-name-label"));
	if (copy)
		xv_arr_push_str(&a, sr ? sr : REF_NULL);
	int rc = xe_call_wait(x, copy ? "VM.copy" : "VM.clone", &a, &res, err);
	const char *made = xv_as_str(&res);
	const char *desc = xe_param(x->params, "new-name-description");
	if (rc == 0 && desc)
		rc = xs_call(x->s, "VM.set_name_description", NULL, err, made, desc, NULL);
	if (rc == 0)
		rc = xe_print_uuid_of(x, SC_C_VM, made, err);
	xv_free(&a);
	xv_free(&res);
	free(ref);
	free(sr);
	return rc;
}

int xe_snapshot_clone(struct xe_ctx *x, struct xerr *err)
{
	return snapshot_make(x, false, err);
}

int xe_snapshot_copy(struct xe_ctx *x, struct xerr *err)
{
	return snapshot_make(x, true, err);
}

int xe_snapshot_reset_powerstate(struct xe_ctx *x, struct xerr *err)
{
	bool force;
	if (xe_param_bool(x->params, "force", false, &force, err) < 0)
		return -1;
	if (!force)
		return xe_fail(err, "This operation is dangerous and may cause data loss. This "
				    "operation must be forced (use --force).");
	char *ref;
	if (snapshot_ref(x, &ref, err) < 0)
		return -1;
	int rc = xs_call(x->s, "VM.power_state_reset", NULL, err, ref, NULL);
	free(ref);
	return rc;
}
