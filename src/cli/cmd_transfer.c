/* cmd_transfer: vm-export, vm-import, vdi-export and vdi-import. The data
 * goes over the server's HTTP handlers (/export, /import, /export_raw_vdi,
 * /import_raw_vdi) streamed between a local file (or stdin/stdout for
 * filename=-) and the socket; each transfer runs under a task xe creates
 * and waits for, so the server's verdict is what xe reports. */
#include "cmd.h"
#include "put.h"
#include "reader.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void add_q(struct strbuf *sb, const char *k, const char *v)
{
	if (!v)
		return;
	char *e = curl_easy_escape(NULL, v, 0);
	sb_printf(sb, "%s%s=%s", strchr(sb->buf ? sb->buf : "", '?') ? "&" : "?", k, e);
	curl_free(e);
}

/* A raw disk image from a regular file goes as xapi's "chunked" pieces
 * (offset, length, data) of its allocated extents only, found with
 * SEEK_DATA: the holes of a sparse image never travel. */
#define PIECE_MAX (64 << 20)

/* The allocated extents of fd's size bytes, cut into pieces. */
static struct reader_seg *plan_chunks(int fd, off_t size, size_t *n)
{
	struct reader_seg *pieces = NULL;
	size_t cap = 0;
	off_t pos = 0;
	*n = 0;
	while (pos < size) {
		off_t d = lseek(fd, pos, SEEK_DATA);
		if (d < 0) {
			if (errno == ENXIO) /* only a hole is left */
				break;
			d = pos; /* no SEEK_DATA here: all of it is data */
		}
		off_t h = lseek(fd, d, SEEK_HOLE);
		if (h < 0 || h > size)
			h = size;
		for (off_t o = d; o < h; o += PIECE_MAX) {
			if (*n == cap)
				pieces = xrealloc(pieces, (cap = cap ? cap * 2 : 64) * sizeof *pieces);
			off_t len = h - o < PIECE_MAX ? h - o : PIECE_MAX;
			pieces[(*n)++] = (struct reader_seg){o, len};
		}
		pos = h;
	}
	return pieces;
}

/* Progress on a terminal: done / total, percent and rate, 4 times a second. */
struct progress {
	double t0, last;
	bool shown;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void show(struct progress *pg, bool up, uint64_t done, uint64_t total)
{
	double t = now_s();
	if (t - pg->last < 0.25 || done == 0)
		return;
	pg->last = t;
	pg->shown = true;
	double mib = (double)done / 1048576.0, rate = mib / (t - pg->t0 > 1e-3 ? t - pg->t0 : 1e-3);
	if (total > 0 && total < ((uint64_t)1 << 50))
		fprintf(stderr, "\r%s %.0f / %.0f MiB (%3.0f%%) %.0f MiB/s  ", up ? "sent" : "received",
			mib, (double)total / 1048576.0, 100.0 * (double)done / (double)total, rate);
	else
		fprintf(stderr, "\r%s %.0f MiB %.0f MiB/s  ", up ? "sent" : "received", mib, rate);
}

static int show_download(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			 curl_off_t ulnow)
{
	(void)ultotal;
	(void)ulnow;
	show(arg, false, (uint64_t)dlnow, (uint64_t)dltotal);
	return 0;
}

static void show_upload(void *arg, uint64_t done, uint64_t total)
{
	show(arg, true, done, total);
}

/* The upload of fd (st its fstat; a regular file, or a pipe) to url.
 * raw_disk: a raw disk image, sent as chunks of its data when it is a
 * regular file (transfer() put chunked=true in url then). path: for
 * O_DIRECT reads of a regular file. -1 when nothing could be sent, else
 * the HTTP status (0: no answer). */
static int upload(const char *url, int fd, const struct stat *st, const char *path, bool raw_disk,
		  struct progress *pg, struct strbuf *why)
{
	struct put_body b = {.fd = fd, .path = path, .pipe = !S_ISREG(st->st_mode)};
	if (isatty(2)) {
		b.progress = show_upload;
		b.progress_arg = pg;
	}
	struct reader_seg whole = {0, st->st_size}, *pieces = NULL;
	if (b.pipe) {
		/* a pipe's length is unknown: say 1 PiB and end our side after
		 * the data, as Xen Orchestra does; the server judges whether
		 * the upload is whole */
		b.length = (uint64_t)1 << 50;
	} else if (raw_disk) {
		size_t n;
		pieces = plan_chunks(fd, st->st_size, &n);
		b.segs = pieces;
		b.nsegs = n;
		b.chunked = true;
		b.length = put_chunked_length(pieces, n);
	} else {
		b.segs = &whole;
		b.nsegs = 1;
		b.length = (uint64_t)st->st_size;
	}
	int status = put_send(url, &b, why);
	free(pieces);
	return status;
}

/* Streams path?query between the server and filename; then waits for the
 * task and returns its result. raw_disk: an upload that is a raw disk
 * image, sent as chunks when it is a regular file. */
static int transfer(struct xe_ctx *x, bool put, const char *path, struct strbuf *q,
		    const char *filename, bool raw_disk, xv *result, struct xerr *err)
{
	bool std = !strcmp(filename, "-");
	FILE *f = NULL;
	int in = -1; /* an upload's input, opened and looked at once */
	struct stat st;
	if (put) {
		in = std ? 0 : open(filename, O_RDONLY | O_CLOEXEC);
		if (in < 0 || fstat(in, &st) < 0) {
			if (in > 0)
				close(in);
			return xe_fail(err, "cannot open %s", filename);
		}
		if (raw_disk && S_ISREG(st.st_mode)) /* stdin from a file too */
			add_q(q, "chunked", "true");
	} else if (!(f = std ? stdout : fopen(filename, "wb"))) {
		return xe_fail(err, "cannot open %s", filename);
	}
	xv t = XV_NIL_INIT;
	if (xs_call(x->s, "task.create", &t, err, put ? "xe import" : "xe export", "", NULL) < 0) {
		if (f && !std)
			fclose(f);
		if (in > 0)
			close(in);
		return -1;
	}
	char *task = xstrdup(xv_as_str(&t));
	xv_free(&t);
	add_q(q, "session_id", xc_session(x->c));
	add_q(q, "task_id", task);
	char *url = xasprintf("%s%s%s", x->server_url, path, q->buf);
	int rc = -1;
	struct progress pg = {.t0 = now_s()};
	if (put) {
		struct strbuf why = STRBUF_INIT;
		/* stdin from a file: opened again (O_DIRECT) through /dev/stdin */
		int status = upload(url, in, &st, std ? "/dev/stdin" : filename, raw_disk, &pg, &why);
		if (in > 0)
			close(in);
		if (pg.shown)
			fputc('\n', stderr);
		if (status < 0) { /* nothing was sent: the task is ours to end */
			xe_fail(err, "transfer failed: %s", why.buf);
			xc_task_wait(x->c, task, 5, false, NULL, &(struct xerr)XERR_INIT);
		} else if (status / 100 == 2 || why.len) {
			/* the verdict is the task's (a cut-short upload too) */
			rc = xc_task_wait(x->c, task, -1, false, result, err);
		} else {
			/* an error answer: the task has it, unless the request
			 * never got as far as the task (then the status says) */
			rc = xc_task_wait(x->c, task, 10, false, result, err);
			if (rc < 0 && xerr_is(err, XC_ERR_TIMEOUT)) {
				xerr_clear(err);
				xe_fail(err, "transfer failed: HTTP %d", status);
			}
		}
		sb_free(&why);
		goto out;
	}
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L << 10);
	if (isatty(2)) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, show_download);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, &pg);
	}
	curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	CURLcode cc = curl_easy_perform(h);
	if (pg.shown)
		fputc('\n', stderr);
	curl_easy_cleanup(h);
	if (!std)
		fclose(f);
	else
		fflush(f);
	if (cc != CURLE_OK) {
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
			  xe_req(x, "filename"), false, NULL, err);
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
			  xe_req(x, "filename"), false, &res, err);
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
	const char *fmt = xe_param(x->params, "format");
	int rc = transfer(x, put, put ? "/import_raw_vdi" : "/export_raw_vdi", &q,
			  xe_req(x, "filename"), put && (!fmt || !strcmp(fmt, "raw")), NULL, err);
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

/* vdi-file-read and vdi-file-write: a file inside a VDI's guest
 * filesystem over /vdi_file (disk inspection, a Xenon extension). */
static int h_vdi_file(struct xe_ctx *x, bool put, struct xerr *err)
{
	struct strbuf q = STRBUF_INIT;
	add_q(&q, "vdi", xe_req(x, "uuid"));
	add_q(&q, "path", xe_req(x, "path"));
	add_q(&q, "filesystem", xe_param(x->params, "filesystem"));
	if (put)
		add_q(&q, "mode", xe_param(x->params, "mode"));
	int rc = transfer(x, put, "/vdi_file", &q, xe_req(x, "filename"), false, NULL, err);
	sb_free(&q);
	return rc;
}

/* blob-create: Class.create_new_blob on the one object named by its uuid. */
static int h_blob_create(struct xe_ctx *x, struct xerr *err)
{
	static const struct {
		const char *param, *cls;
		int sc;
	} owners[] = {{"vm-uuid", "VM", SC_C_VM},
		      {"host-uuid", "host", SC_C_host},
		      {"sr-uuid", "SR", SC_C_SR},
		      {"network-uuid", "network", SC_C_network},
		      {"pool-uuid", "pool", SC_C_pool}};
	size_t which = 0, given = 0;
	for (size_t i = 0; i < sizeof owners / sizeof owners[0]; i++)
		if (xe_param(x->params, owners[i].param))
			which = i, given++;
	if (given != 1)
		return xe_fail(err, "Exactly one of vm-uuid, host-uuid, sr-uuid, network-uuid or pool-uuid "
				    "must be given");
	bool pub = false;
	if (xe_param_bool(x->params, "public", false, &pub, err) < 0)
		return -1;
	char *ref = NULL;
	if (xs_by_uuid(x->s, owners[which].sc, xe_param(x->params, owners[which].param), &ref, err) < 0)
		return -1;
	const char *mime = xe_param(x->params, "mime-type");
	xv a = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&a, ref);
	xv_arr_push_str(&a, xe_req(x, "name"));
	xv_arr_push_str(&a, mime ? mime : "");
	xv_arr_push(&a, xv_bool(pub));
	char *m = xasprintf("%s.create_new_blob", owners[which].cls);
	int rc = xc_call(x->c, m, &a, &res, err);
	if (rc == 0)
		rc = xe_print_uuid_of(x, SC_C_blob, xv_as_str(&res), err);
	free(m);
	xv_free(&a);
	xv_free(&res);
	free(ref);
	return rc;
}

/* blob-get / blob-put: the bytes through GET and PUT /blob. */
static int h_blob_transfer(struct xe_ctx *x, bool put, struct xerr *err)
{
	char *ref = NULL;
	if (xs_by_uuid(x->s, SC_C_blob, xe_req(x, "uuid"), &ref, err) < 0)
		return -1;
	struct strbuf q = STRBUF_INIT;
	add_q(&q, "ref", ref);
	int rc = transfer(x, put, "/blob", &q, xe_req(x, "filename"), false, NULL, err);
	sb_free(&q);
	free(ref);
	return rc;
}

static int h_blob_get(struct xe_ctx *x, struct xerr *err)
{
	return h_blob_transfer(x, false, err);
}

static int h_blob_put(struct xe_ctx *x, struct xerr *err)
{
	return h_blob_transfer(x, true, err);
}

/* host-logs-download [file-name=]: the host's status archive (a tar). */
static int h_host_logs_download(struct xe_ctx *x, struct xerr *err)
{
	struct strbuf q = STRBUF_INIT;
	const char *f = xe_param(x->params, "file-name");
	int rc = transfer(x, false, "/host_logs_download", &q, f ? f : "system-status.tar", false, NULL, err);
	sb_free(&q);
	return rc;
}

static int h_vdi_file_read(struct xe_ctx *x, struct xerr *err)
{
	return h_vdi_file(x, false, err);
}

static int h_vdi_file_write(struct xe_ctx *x, struct xerr *err)
{
	return h_vdi_file(x, true, err);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

const struct xe_cmd xe_transfer_cmds[] = {
	{"vdi-file-read", L("uuid", "path", "filename"), L("filesystem"),
	 "Copy the file path inside the VDI's guest filesystem into the local file filename "
	 "(filename=- for stdout); a disk a running VM uses is read through a snapshot "
	 "(libguestfs; a Xenon extension).",
	 XE_CMD_STANDARD, h_vdi_file_read, NULL},
	{"vdi-file-write", L("uuid", "path", "filename"), L("filesystem", "mode"),
	 "Copy the local file filename (filename=- for stdin) into the VDI's guest filesystem as "
	 "path, with mode (octal, e.g. 0755); refused while a VM uses the disk (libguestfs; a "
	 "Xenon extension).",
	 XE_CMD_STANDARD, h_vdi_file_write, NULL},
	{"host-logs-download", NULL, L("file-name"),
	 "Download the host's status archive (system identity, kernel log, records without secrets, "
	 "audit log) as a tar file.",
	 XE_CMD_STANDARD, h_host_logs_download, NULL},
	{"blob-create", L("name"), L("mime-type", "public", "vm-uuid", "host-uuid", "sr-uuid", "network-uuid",
				     "pool-uuid"),
	 "Create a binary blob attached to the VM, host, SR, network or pool given; prints its uuid.", 0,
	 h_blob_create, NULL},
	{"blob-get", L("uuid", "filename"), NULL, "Save the binary blob's data to a file (filename=- for stdout).",
	 0, h_blob_get, NULL},
	{"blob-put", L("uuid", "filename"), NULL,
	 "Replace the binary blob's data with a file's (filename=- for stdin).", 0, h_blob_put, NULL},
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
