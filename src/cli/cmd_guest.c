/* cmd_guest: xe's commands over a VM's guest agent (Xenon extensions):
 * vm-guest-exec runs a shell command line and exits with its exit code,
 * vm-guest-file-read/-write copy a file between the guest and this host. */
#include "cmd.h"
#include "base/b64.h"
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int guest_call(struct xe_ctx *x, const char *method, const char *ref, xv *extra, int n,
		      xv *result, struct xerr *err)
{
	xv args = xv_arr_new();
	xv_arr_push_str(&args, ref);
	for (int i = 0; i < n; i++)
		xv_arr_push(&args, extra[i]);
	int rc = xc_call(x->c, method, &args, result, err);
	xv_free(&args);
	return rc;
}

static void put(FILE *f, const xv *m, const char *k)
{
	const xv *v = xv_map_get(m, k);
	if (v && v->kind == XV_STR)
		fputs(v->u.s, f);
}

static int op_exec(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	(void)ud;
	const char *cmd = xe_param(x->params, "command");
	const char *in = xe_param(x->params, "stdin");
	const char *t = xe_param(x->params, "timeout");
	xv argv = xv_arr_new();
	xv_arr_push_str(&argv, "/bin/sh");
	xv_arr_push_str(&argv, "-c");
	xv_arr_push_str(&argv, cmd);
	xv a[] = {argv, xv_str(in ? in : ""), xv_int(t ? strtoll(t, NULL, 10) : 60)};
	xv res = XV_NIL_INIT;
	if (guest_call(x, "VM.guest_exec", o->ref, a, 3, &res, err) < 0)
		return -1;
	xe_out_flush(x->out);
	put(x->out->out, &res, "stdout");
	put(x->out->err, &res, "stderr");
	const char *code = xv_map_get_str(&res, "exitcode");
	int rc = code ? atoi(code) : 1;
	xv_free(&res);
	fflush(x->out->out);
	fflush(x->out->err);
	if (rc != 0) {
		/* the guest's exit code is xe's */
		struct xerr e = XERR_INIT;
		xc_logout(x->c, &e);
		xerr_clear(&e);
		exit(rc & 255 ? rc & 255 : 1);
	}
	return 0;
}

static int op_read(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	(void)ud;
	xv a[] = {xv_str(xe_param(x->params, "path"))};
	xv res = XV_NIL_INIT;
	if (guest_call(x, "VM.guest_file_read", o->ref, a, 1, &res, err) < 0)
		return -1;
	size_t n = 0;
	unsigned char *d = res.kind == XV_STR ? b64_decode(res.u.s, &n) : NULL;
	xv_free(&res);
	if (!d)
		return xe_fail(err, "the server's reply is not base64");
	const char *fn = xe_param(x->params, "filename");
	FILE *f = fopen(fn, "wb");
	int rc = 0;
	if (!f || fwrite(d, 1, n, f) != n)
		rc = xe_fail(err, "cannot write %s", fn);
	if (f && fclose(f) != 0 && rc == 0)
		rc = xe_fail(err, "cannot write %s", fn);
	free(d);
	return rc;
}

static int op_write(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	(void)ud;
	const char *fn = xe_param(x->params, "filename");
	FILE *f = fopen(fn, "rb");
	if (!f)
		return xe_fail(err, "cannot open %s", fn);
	size_t n = 0, cap = 1 << 16;
	unsigned char *d = xmalloc(cap);
	for (size_t r; (r = fread(d + n, 1, cap - n, f)) > 0;) {
		n += r;
		if (n == cap)
			d = xrealloc(d, cap *= 2);
	}
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		free(d);
		return xe_fail(err, "cannot read %s", fn);
	}
	xv a[] = {xv_str(xe_param(x->params, "path")), xv_str_own(b64_encode(d, n))};
	free(d);
	return guest_call(x, "VM.guest_file_write", o->ref, a, 2, NULL, err);
}

int xe_vm_guest_exec(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "vm", false, false, false, op_exec, NULL, err);
}

int xe_vm_guest_file_read(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "vm", false, false, false, op_read, NULL, err);
}

int xe_vm_guest_file_write(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "vm", false, false, false, op_write, NULL, err);
}
