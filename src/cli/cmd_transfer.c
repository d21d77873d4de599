/* cmd_transfer: vm-export, vm-import, vdi-export and vdi-import. The data
 * goes over the server's HTTP handlers (/export, /import, /export_raw_vdi,
 * /import_raw_vdi) streamed between a local file (or stdin/stdout for
 * filename=-) and the socket; each transfer runs under a task xe creates
 * and waits for, so the server's verdict is what xe reports. */
#include "cmd.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void add_q(struct strbuf *sb, const char *k, const char *v)
{
	if (!v)
		return;
	char *e = curl_easy_escape(NULL, v, 0);
	sb_printf(sb, "%s%s=%s", strchr(sb->buf ? sb->buf : "", '?') ? "&" : "?", k, e);
	curl_free(e);
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* Pipes: at their end the connection is dropped (the announced 1 PiB
 * cannot arrive); the server then finds the upload whole or not. */
static size_t read_pipe(char *p, size_t size, size_t n, void *arg)
{
	size_t k = fread(p, 1, size * n, arg);
	return k ? k : CURL_READFUNC_ABORT;
}

/* Streams path?query between the server and filename; then waits for the
 * task and returns its result. */
static int transfer(struct xe_ctx *x, bool put, const char *path, struct strbuf *q,
		    const char *filename, xv *result, struct xerr *err)
{
	xv t = XV_NIL_INIT;
	if (xs_call(x->s, "task.create", &t, err, put ? "xe import" : "xe export", "", NULL) < 0)
		return -1;
	char *task = xstrdup(xv_as_str(&t));
	xv_free(&t);
	add_q(q, "session_id", xc_session(x->c));
	add_q(q, "task_id", task);
	char *url = xasprintf("%s%s%s", x->server_url, path, q->buf);
	bool std = !strcmp(filename, "-");
	FILE *f = std ? (put ? stdin : stdout) : fopen(filename, put ? "rb" : "wb");
	int rc = -1;
	if (!f) {
		xe_fail(err, "cannot open %s", filename);
		goto out;
	}
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L << 10);
	struct curl_slist *hdrs = NULL;
	if (put) {
		struct stat st;
		/* a pipe's length is unknown: say 1 PiB and hang up after the
		 * data, as Xen Orchestra does; the server judges completeness */
		curl_off_t len = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ? st.st_size
										    : (curl_off_t)1 << 50;
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READDATA, f);
		if (len == (curl_off_t)1 << 50)
			curl_easy_setopt(h, CURLOPT_READFUNCTION, read_pipe);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, len);
		hdrs = curl_slist_append(hdrs, "Expect:");
		/* the reply's body repeats the task's result: not for stdout */
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	} else {
		curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
		curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	}
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (!std)
		fclose(f);
	else
		fflush(f);
	/* an upload of unknown length ends in a transport error by design */
	if (cc != CURLE_OK && !put) {
		xe_fail(err, "transfer failed: %s", curl_easy_strerror(cc));
		xc_task_wait(x->c, task, 5, false, NULL, &(struct xerr)XERR_INIT);
		goto out;
	}
	rc = xc_task_wait(x->c, task, -1, false, result, err);
out:
	free(url);
	free(task);
	return rc;
}

static const char *compression(struct xe_ctx *x)
{
	const char *c = xe_param(x->params, "compress");
	if (!c || !strcmp(c, "false"))
		return "false";
	return !strcmp(c, "zstd") ? "zstd" : "true";
}

static int h_vm_export(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (xe_vm_ref(x, &ref, err) < 0)
		return -1;
	bool meta = false;
	if (xe_param_bool(x->params, "metadata", false, &meta, err) < 0) {
		free(ref);
		return -1;
	}
	struct strbuf q = STRBUF_INIT;
	add_q(&q, "ref", ref);
	if (!meta)
		add_q(&q, "use_compression", compression(x));
	int rc = transfer(x, false, meta ? "/export_metadata" : "/export", &q,
			  xe_req(x, "filename"), NULL, err);
	sb_free(&q);
	free(ref);
	return rc;
}

static int h_vm_import(struct xe_ctx *x, struct xerr *err)
{
	struct strbuf q = STRBUF_INIT;
	add_q(&q, "sr_uuid", xe_param(x->params, "sr-uuid"));
	static const char *const flags[][2] = {{"force", "force"}, {"preserve", "restore"},
					       {"dry-run", "dry_run"}};
	for (size_t i = 0; i < 3; i++) {
		bool b = false;
		if (xe_param_bool(x->params, flags[i][0], false, &b, err) < 0) {
			sb_free(&q);
			return -1;
		}
		if (b)
			add_q(&q, flags[i][1], "true");
	}
	/* metadata=true: a description whose disks exist here (xe's own flag) */
	bool meta = false;
	if (xe_param_bool(x->params, "metadata", false, &meta, err) < 0) {
		sb_free(&q);
		return -1;
	}
	xv res = XV_NIL_INIT;
	int rc = transfer(x, true, meta ? "/import_metadata" : "/import", &q,
			  xe_req(x, "filename"), &res, err);
	sb_free(&q);
	for (size_t i = 0; rc == 0 && i < xv_len(&res); i++)
		rc = xe_print_uuid_of(x, SC_C_VM, xv_as_str(xv_arr_get(&res, i)), err);
	xv_free(&res);
	return rc;
}

static int h_vdi_transfer(struct xe_ctx *x, bool put, struct xerr *err)
{
	struct strbuf q = STRBUF_INIT;
	add_q(&q, "vdi", xe_req(x, "uuid"));
	add_q(&q, "format", xe_param(x->params, "format"));
	if (!put && xe_param(x->params, "base")) /* base= is a VDI uuid */
		add_q(&q, "base", xe_param(x->params, "base"));
	int rc = transfer(x, put, put ? "/import_raw_vdi" : "/export_raw_vdi", &q,
			  xe_req(x, "filename"), NULL, err);
	sb_free(&q);
	return rc;
}

static int h_vdi_export(struct xe_ctx *x, struct xerr *err)
{
	return h_vdi_transfer(x, false, err);
}

static int h_vdi_import(struct xe_ctx *x, struct xerr *err)
{
	return h_vdi_transfer(x, true, err);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

const struct xe_cmd xe_transfer_cmds[] = {
	{"vm-export", L("filename"), L("vm", "uuid", "compress", "metadata", "preserve-power-state"),
	 "Export a VM to an XVA file (filename=- for stdout); compress=true|zstd compresses it, "
	 "metadata=true exports only its description.",
	 XE_CMD_STANDARD, h_vm_export, NULL},
	{"vm-import", L("filename"), L("sr-uuid", "force", "preserve", "dry-run", "metadata"),
	 "Import a VM from an XVA file (filename=- for stdin, plain, gzip or zstd), an OVA "
	 "package or a single qcow2, VMDK or VHD disk image (told apart by their contents); "
	 "metadata=true imports a description (vm-export metadata=true) whose disks exist "
	 "here. Prints the new VM's uuid.",
	 XE_CMD_STANDARD, h_vm_import, NULL},
	{"vdi-export", L("uuid", "filename"), L("format", "base"),
	 "Export a VDI's data to a file (filename=- for stdout): format=raw (default), vhd or "
	 "qcow2.",
	 0, h_vdi_export, NULL},
	{"vdi-import", L("uuid", "filename"), L("format"),
	 "Import data into a VDI from a file (filename=- for stdin): format=raw (default), vhd, "
	 "qcow2 or vmdk.",
	 0, h_vdi_import, NULL},
};
const size_t xe_transfer_ncmds = sizeof xe_transfer_cmds / sizeof xe_transfer_cmds[0];
