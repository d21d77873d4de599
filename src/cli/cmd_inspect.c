/* cmd_inspect: xe's disk inspection commands (Xenon extensions, on the
 * server's libguestfs): vdi-inspect and vm-inspect print what a disk holds
 * (partition tables, filesystems, operating systems), vdi-ls lists a
 * directory inside it. vdi-file-read and vdi-file-write stream over
 * /vdi_file (cmd_transfer.c). */
#include "cmd.h"
#include "session.h"
#include "../base/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_of(const xv *m, const char *k)
{
	const char *s = xv_map_get_str(m, k);
	return s ? s : "";
}

static long long i_of(const xv *m, const char *k)
{
	const xv *v = xv_map_get(m, k);
	if (v && v->kind == XV_INT)
		return (long long)v->u.i;
	if (v && v->kind == XV_STR)
		return atoll(v->u.s);
	return -1;
}

static void print_report(FILE *f, const xv *r)
{
	const xv *disks = xv_map_get(r, "disks");
	for (size_t i = 0; i < xv_len(disks); i++) {
		const xv *d = xv_arr_get(disks, i);
		fprintf(f, "disk %s: vdi %s%s%s%s, %lld bytes, partition table %s\n", s_of(d, "device"),
			s_of(d, "key"), *s_of(d, "userdevice") ? ", userdevice " : "", s_of(d, "userdevice"),
			xv_map_get(d, "snapshot") && xv_map_get(d, "snapshot")->kind == XV_BOOL &&
					xv_map_get(d, "snapshot")->u.b
				? " (read through a snapshot)"
				: "",
			i_of(d, "size"), s_of(d, "partition_table"));
		const xv *parts = xv_map_get(d, "partitions");
		for (size_t j = 0; j < xv_len(parts); j++) {
			const xv *p = xv_arr_get(parts, j);
			fprintf(f, "  partition %lld %s: type %s%s%s, start %lld, size %lld\n", i_of(p, "number"),
				s_of(p, "device"), s_of(p, "type"), *s_of(p, "name") ? ", name " : "", s_of(p, "name"),
				i_of(p, "start"), i_of(p, "size"));
		}
	}
	const xv *fss = xv_map_get(r, "filesystems");
	for (size_t i = 0; i < xv_len(fss); i++) {
		const xv *fs = xv_arr_get(fss, i);
		fprintf(f, "filesystem %s: %s, label \"%s\", uuid %s, size %lld, used %lld\n", s_of(fs, "device"),
			s_of(fs, "type"), s_of(fs, "label"), s_of(fs, "uuid"), i_of(fs, "size"), i_of(fs, "used"));
	}
	const xv *oss = xv_map_get(r, "operating_systems");
	for (size_t i = 0; i < xv_len(oss); i++) {
		const xv *o = xv_arr_get(oss, i);
		fprintf(f, "os on %s: %s %s %lld.%lld, product \"%s\", hostname \"%s\", applications %lld\n",
			s_of(o, "root"), s_of(o, "type"), s_of(o, "distro"), i_of(o, "major_version"),
			i_of(o, "minor_version"), s_of(o, "product_name"), s_of(o, "hostname"),
			i_of(o, "applications"));
	}
	if (!xv_len(oss))
		fprintf(f, "no operating system found\n");
}

static int vdi_ref(struct xe_ctx *x, char **ref, struct xerr *err)
{
	return xs_by_uuid(x->s, SC_C_VDI, xe_req(x, "uuid"), ref, err);
}

static int h_vdi_inspect(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (vdi_ref(x, &ref, err) < 0)
		return -1;
	xv args = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&args, ref);
	free(ref);
	int rc = xe_call_wait(x, "VDI.inspect", &args, &res, err);
	xv_free(&args);
	if (rc == 0) {
		xe_out_flush(x->out);
		print_report(x->out->out, &res);
	}
	xv_free(&res);
	return rc;
}

static int h_vm_inspect(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (xe_vm_ref(x, &ref, err) < 0)
		return -1;
	xv args = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&args, ref);
	free(ref);
	int rc = xe_call_wait(x, "VM.inspect", &args, &res, err);
	xv_free(&args);
	if (rc == 0) {
		xe_out_flush(x->out);
		print_report(x->out->out, &res);
	}
	xv_free(&res);
	return rc;
}

static int h_vdi_ls(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (vdi_ref(x, &ref, err) < 0)
		return -1;
	const char *fs = xe_param(x->params, "filesystem");
	xv res = XV_NIL_INIT;
	int rc = xc_call_strs(x->c, "VDI.list_directory", &res, err, ref, fs ? fs : "", xe_req(x, "path"), NULL);
	free(ref);
	if (rc == 0) {
		xe_out_flush(x->out);
		for (size_t i = 0; i < xv_len(&res); i++) {
			const xv *e = xv_arr_get(&res, i);
			fprintf(x->out->out, "%s %-9s %12lld %s%s%s\n", s_of(e, "mode"), s_of(e, "type"),
				i_of(e, "size"), s_of(e, "name"), *s_of(e, "target") ? " -> " : "", s_of(e, "target"));
		}
	}
	xv_free(&res);
	return rc;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

const struct xe_cmd xe_inspect_cmds[] = {
	{"vdi-inspect", L("uuid"), NULL,
	 "Show what the VDI holds: partition table (MBR or GPT, types, sizes), filesystems (type, "
	 "label, uuid, size, used) and operating systems (libguestfs; a Xenon extension). A disk "
	 "a running VM uses is read through a snapshot made for the purpose.",
	 XE_CMD_STANDARD, h_vdi_inspect, NULL},
	{"vm-inspect", NULL, L("vm", "uuid"),
	 "Show what every disk of the VM holds, as vdi-inspect (a Xenon extension).", XE_CMD_STANDARD,
	 h_vm_inspect, NULL},
	{"vdi-ls", L("uuid", "path"), L("filesystem"),
	 "List a directory inside the VDI's guest filesystem (the operating system's, or "
	 "filesystem=/dev/sdaN; a Xenon extension).",
	 XE_CMD_STANDARD, h_vdi_ls, NULL},
};
const size_t xe_inspect_ncmds = sizeof xe_inspect_cmds / sizeof xe_inspect_cmds[0];
