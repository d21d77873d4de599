/* cmd_transfer: vm-export, vm-import, vdi-export and vdi-import. The data
 * goes over the server's HTTP handlers (/export, /import, /export_raw_vdi,
 * /import_raw_vdi) streamed between a local file (or stdin/stdout for
 * filename=-) and the socket; each transfer runs under a task xe creates
 * and waits for, so the server's verdict is what xe reports. */
#include "cmd.h"
#include "reader.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <curl/curl.h>
#include <errno.h>
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

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* What an upload reads: a regular file, read ahead of curl by reader.c,
 * or a pipe. A raw disk image goes as xapi's "chunked" pieces (offset,
 * length, data) of its allocated extents only, found with SEEK_DATA: the
 * holes of a sparse image never travel. */
#define PIECE_MAX (64 << 20)

struct upload {
	FILE *f;
	int fd;
	bool pipe;
	off_t pos, size;
	struct reader *rd;
	struct reader_seg whole;   /* a plain file: all of it */
	struct reader_seg *pieces; /* chunked: the allocated extents, in order */
	size_t npieces, cur;
	off_t done_in_piece; /* of the current piece's data */
	unsigned char hdr[12];
	size_t hdr_left; /* header bytes still to send; 12 = not started */
	bool trailer_sent;
};

static size_t read_data(struct upload *u, off_t off, char *p, size_t max)
{
	ssize_t k = reader_get(u->rd, off, p, max);
	return k > 0 ? (size_t)k : 0;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

static size_t read_chunked(struct upload *u, char *p, size_t max)
{
	size_t out = 0;
	while (out < max) {
		if (u->cur == u->npieces) {
			if (u->trailer_sent)
				break;
			if (u->hdr_left == 12)
				memset(u->hdr, 0, sizeof u->hdr); /* the last chunk: all zeros */
		} else if (u->hdr_left == 12 && u->done_in_piece == 0) {
			put_le(u->hdr, (uint64_t)u->pieces[u->cur].off, 8);
			put_le(u->hdr + 8, (uint64_t)u->pieces[u->cur].len, 4);
		}
		if (u->hdr_left) {
			size_t k = u->hdr_left < max - out ? u->hdr_left : max - out;
			memcpy(p + out, u->hdr + 12 - u->hdr_left, k);
			u->hdr_left -= k;
			out += k;
			if (!u->hdr_left && u->cur == u->npieces)
				u->trailer_sent = true;
			continue;
		}
		struct reader_seg *pc = &u->pieces[u->cur];
		size_t want = (size_t)(pc->len - u->done_in_piece) < max - out ? (size_t)(pc->len - u->done_in_piece)
									 : max - out;
		size_t k = read_data(u, pc->off + u->done_in_piece, p + out, want);
		if (!k) /* a read failed, or the file shrank: end short, the server says so */
			return CURL_READFUNC_ABORT;
		out += k;
		u->done_in_piece += (off_t)k;
		if (u->done_in_piece == pc->len) {
			u->cur++;
			u->done_in_piece = 0;
			u->hdr_left = 12;
		}
	}
	return out;
}

static size_t read_upload(char *p, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	if (u->pieces)
		return read_chunked(u, p, size * n);
	if (u->pipe) {
		/* at its end the connection is dropped (the announced 1 PiB
		 * cannot arrive); the server then finds the upload whole or not */
		size_t k = fread(p, 1, size * n, u->f);
		return k ? k : CURL_READFUNC_ABORT;
	}
	if (u->pos == u->size)
		return 0;
	size_t k = read_data(u, u->pos, p, size * n);
	if (!k)
		return CURL_READFUNC_ABORT;
	u->pos += (off_t)k;
	return k;
}

/* The allocated extents of a regular file, cut into pieces; returns the
 * bytes the chunked body will have. */
static curl_off_t plan_chunks(struct upload *u)
{
	size_t cap = 0;
	curl_off_t body = 12; /* the last chunk */
	off_t pos = 0;
	while (pos < u->size) {
		off_t d = lseek(u->fd, pos, SEEK_DATA);
		if (d < 0) {
			if (errno == ENXIO) /* only a hole is left */
				break;
			d = pos; /* no SEEK_DATA here: all of it is data */
		}
		off_t h = lseek(u->fd, d, SEEK_HOLE);
		if (h < 0 || h > u->size)
			h = u->size;
		for (off_t o = d; o < h; o += PIECE_MAX) {
			if (u->npieces == cap)
				u->pieces = xrealloc(u->pieces, (cap = cap ? cap * 2 : 64) * sizeof *u->pieces);
			off_t len = h - o < PIECE_MAX ? h - o : PIECE_MAX;
			u->pieces[u->npieces++] = (struct reader_seg){o, len};
			body += 12 + (curl_off_t)len;
		}
		pos = h;
	}
	if (!u->pieces) /* an empty or all-hole file: just the last chunk */
		u->pieces = xmalloc(sizeof *u->pieces);
	return body;
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

static int show_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			 curl_off_t ulnow)
{
	struct progress *pg = arg;
	bool up = ultotal > 0 || ulnow > 0;
	curl_off_t total = up ? ultotal : dltotal, done = up ? ulnow : dlnow;
	double t = now_s();
	if (t - pg->last < 0.25 || done == 0)
		return 0;
	pg->last = t;
	pg->shown = true;
	double mib = (double)done / 1048576.0, rate = mib / (t - pg->t0 > 1e-3 ? t - pg->t0 : 1e-3);
	if (total > 0 && total < ((curl_off_t)1 << 50))
		fprintf(stderr, "\r%s %.0f / %.0f MiB (%3.0f%%) %.0f MiB/s  ", up ? "sent" : "received",
			mib, (double)total / 1048576.0, 100.0 * (double)done / (double)total, rate);
	else
		fprintf(stderr, "\r%s %.0f MiB %.0f MiB/s  ", up ? "sent" : "received", mib, rate);
	return 0;
}

/* Streams path?query between the server and filename; then waits for the
 * task and returns its result. raw_disk: an upload that is a raw disk
 * image, sent as chunks when it is a regular file. */
static int transfer(struct xe_ctx *x, bool put, const char *path, struct strbuf *q,
		    const char *filename, bool raw_disk, xv *result, struct xerr *err)
{
	bool std = !strcmp(filename, "-");
	FILE *f = std ? (put ? stdin : stdout) : fopen(filename, put ? "rb" : "wb");
	if (!f)
		return xe_fail(err, "cannot open %s", filename);
	struct upload u = {.f = f, .fd = fileno(f), .hdr_left = 12};
	curl_off_t len = 0;
	if (put) {
		struct stat st;
		u.pipe = fstat(u.fd, &st) < 0 || !S_ISREG(st.st_mode);
		u.size = u.pipe ? 0 : st.st_size;
		/* a pipe's length is unknown: say 1 PiB and hang up after the
		 * data, as Xen Orchestra does; the server judges completeness */
		len = u.pipe ? (curl_off_t)1 << 50 : st.st_size;
		if (!u.pipe && raw_disk) {
			len = plan_chunks(&u);
			add_q(q, "chunked", "true");
		}
		if (!u.pipe) {
			u.whole = (struct reader_seg){0, u.size};
			u.rd = u.pieces ? reader_start(u.fd, filename, u.pieces, u.npieces)
					: reader_start(u.fd, filename, &u.whole, 1);
		}
	}
	xv t = XV_NIL_INIT;
	if (xs_call(x->s, "task.create", &t, err, put ? "xe import" : "xe export", "", NULL) < 0) {
		reader_stop(u.rd);
		if (!std)
			fclose(f);
		free(u.pieces);
		return -1;
	}
	char *task = xstrdup(xv_as_str(&t));
	xv_free(&t);
	add_q(q, "session_id", xc_session(x->c));
	add_q(q, "task_id", task);
	char *url = xasprintf("%s%s%s", x->server_url, path, q->buf);
	int rc = -1;
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L << 10);
	struct progress pg = {.t0 = now_s()};
	if (isatty(2)) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, show_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, &pg);
	}
	struct curl_slist *hdrs = NULL;
	if (put) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 2L << 20);
		curl_easy_setopt(h, CURLOPT_READDATA, &u);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_upload);
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
	if (pg.shown)
		fputc('\n', stderr);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	reader_stop(u.rd);
	free(u.pieces);
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
