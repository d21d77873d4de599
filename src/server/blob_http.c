/* blob_http: GET and PUT /blob?ref=… (or uuid=…), a blob's bytes as
 * xapi_blob.ml serves them: GET answers them with the blob's mime type
 * (a public blob without a session too), PUT replaces them and sets size
 * and last_updated. An unknown blob is 404. */
#include "blob_http.h"
#include "../api/blob.h"
#include "../api/generic.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct blob_put {
	int fd;
	char *tmp, *file;
	char ref[REF_STRLEN + 1];
	uint64_t size;
};

/* The blob the query names, under the caller's read lock. */
static struct db_obj *find(struct route_req *rr)
{
	const char *ref = route_arg(rr, "ref"), *uuid = route_arg(rr, "uuid");
	if (ref)
		return db_lookup_cls(rr->srv->db, SC_C_blob, ref);
	return uuid ? db_lookup_uuid(rr->srv->db, SC_C_blob, uuid) : NULL;
}

static int unknown(struct route_req *rr)
{
	rr->status = route_arg(rr, "ref") || route_arg(rr, "uuid") ? 404 : 400;
	return xerr_set(&rr->err, ERR_HANDLE_INVALID, "blob",
			route_arg(rr, "ref") ?: route_arg(rr, "uuid") ?: "", NULL);
}

/* A public blob is read without a session (xapi: get_blob's own task). */
static bool public_blob(struct route_req *rr)
{
	db_rdlock(rr->srv->db);
	struct db_obj *b = find(rr);
	bool pub = b && db_peek_bool(b, SC_F_blob__public);
	db_unlock(rr->srv->db);
	return pub;
}

static int get_begin(struct route_req *rr)
{
	db_rdlock(rr->srv->db);
	struct db_obj *b = find(rr);
	char *file = b ? blob_file(rr->srv, db_peek_str(b, SC_F_blob__uuid)) : NULL;
	char *mime = b ? xstrdup(db_peek_str(b, SC_F_blob__mime_type)) : NULL;
	db_unlock(rr->srv->db);
	if (!b)
		return unknown(rr);
	struct strbuf sb = STRBUF_INIT;
	sb_puts(&sb, "");
	FILE *f = fopen(file, "rb");
	if (f) {
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, f)) > 0)
			sb_add(&sb, buf, n);
		fclose(f);
	}
	free(file);
	size_t len = sb.len;
	int rc = route_send_buffer(rr, sb_detach(&sb), len, mime);
	free(mime);
	return rc;
}

static int put_begin(struct route_req *rr)
{
	if (blob_dir_ensure(rr->srv, &rr->err) < 0)
		return -1;
	db_rdlock(rr->srv->db);
	struct db_obj *b = find(rr);
	char *file = b ? blob_file(rr->srv, db_peek_str(b, SC_F_blob__uuid)) : NULL;
	struct blob_put *p = xcalloc(1, sizeof *p);
	if (b)
		snprintf(p->ref, sizeof p->ref, "%s", b->ref);
	db_unlock(rr->srv->db);
	p->fd = -1;
	rr->h = p;
	if (!b)
		return unknown(rr);
	p->file = file;
	p->tmp = xasprintf("%s.%ld.tmp", file, (long)random());
	p->fd = open(p->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (p->fd < 0)
		return xerr_set(&rr->err, ERR_INTERNAL_ERROR, "cannot write the blob's file", NULL);
	return 0;
}

static int put_data(struct route_req *rr, const char *buf, size_t n)
{
	struct blob_put *p = rr->h;
	while (n) {
		ssize_t w = write(p->fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return xerr_set(&rr->err, ERR_INTERNAL_ERROR, "cannot write the blob's file", NULL);
		buf += w, n -= (size_t)w, p->size += (uint64_t)w;
	}
	return 0;
}

static int put_finish(struct route_req *rr)
{
	struct blob_put *p = rr->h;
	if (fsync(p->fd) < 0 || close(p->fd) < 0) {
		p->fd = -1;
		return xerr_set(&rr->err, ERR_INTERNAL_ERROR, "cannot write the blob's file", NULL);
	}
	p->fd = -1;
	struct db_txn *t = db_begin(rr->srv->db);
	struct db_obj *b = db_lookup_cls(rr->srv->db, SC_C_blob, p->ref);
	if (!b) { /* destroyed meanwhile */
		db_abort(t);
		rr->status = 404;
		return xerr_set(&rr->err, ERR_HANDLE_INVALID, "blob", p->ref, NULL);
	}
	if (rename(p->tmp, p->file) < 0) {
		db_abort(t);
		return xerr_set(&rr->err, ERR_INTERNAL_ERROR, "cannot write the blob's file", NULL);
	}
	db_set_int(t, b, SC_F_blob__size, (int64_t)p->size);
	db_set(t, b, SC_F_blob__last_updated, xv_time((int64_t)time(NULL)));
	return db_commit(t, &rr->err);
}

static void put_abort(struct route_req *rr)
{
	struct blob_put *p = rr->h;
	if (p && p->tmp)
		unlink(p->tmp);
}

static void put_free(struct route_req *rr)
{
	struct blob_put *p = rr->h;
	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	free(p->tmp);
	free(p->file);
	free(p);
	rr->h = NULL;
}

const struct route route_get_blob = {.method = "GET",
				     .path = "/blob",
				     .begin = get_begin,
				     .role = SC_ROLE_READ_ONLY,
				     .credential = public_blob};
const struct route route_put_blob = {.method = "PUT",
				     .path = "/blob",
				     .begin = put_begin,
				     .data = put_data,
				     .finish = put_finish,
				     .abort = put_abort,
				     .free = put_free,
				     .role = SC_ROLE_VM_POWER_ADMIN};
