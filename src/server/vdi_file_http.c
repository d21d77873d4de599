/* vdi_file_http: GET and PUT /vdi_file?vdi=…&path=…[&filesystem=…][&mode=…],
 * a file inside a VDI's guest filesystem streamed through a staging file
 * in the run directory rather than base64 in a call (api/vdi_inspect.c
 * does the work under the caller's context and role). */
#include "http_route.h"
#include "../api/vdi_inspect.h"
#include "../base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vf {
	char *tmp;
	int fd;
	uint64_t size;
};

static struct vf *vf_new(struct route_req *rr)
{
	struct vf *v = xcalloc(1, sizeof *v);
	v->fd = -1;
	rr->h = v;
	v->tmp = vdi_file_staging(&rr->ctx, &v->fd, &rr->err);
	return v->tmp ? v : NULL;
}

static void vf_free(struct route_req *rr)
{
	struct vf *v = rr->h;
	if (!v)
		return;
	if (v->fd >= 0)
		close(v->fd);
	if (v->tmp)
		unlink(v->tmp);
	free(v->tmp);
	free(v);
	rr->h = NULL;
}

static int need_path(struct route_req *rr)
{
	const char *p = route_arg(rr, "path");
	if (!p || !*p)
		return xerr_set(&rr->err, ERR_INVALID_VALUE, "path", "", NULL);
	return 0;
}

static ssize_t read_staged(struct route_req *rr, uint64_t pos, char *buf, size_t max)
{
	struct vf *v = rr->h;
	ssize_t n = pread(v->fd, buf, max, (off_t)pos);
	if (n < 0)
		xerr_internal(&rr->err, "staging file: %s", strerror(errno));
	return n;
}

static int get_begin(struct route_req *rr)
{
	if (need_path(rr) < 0)
		return -1;
	struct vf *v = vf_new(rr);
	if (!v)
		return -1;
	if (vdi_file_download(&rr->ctx, route_arg(rr, "vdi"), route_arg(rr, "filesystem"), route_arg(rr, "path"),
			      v->tmp, &v->size, &rr->err) < 0)
		return -1;
	route_progress(rr, 1.0);
	return route_send_stream(rr, v->size, "application/octet-stream", NULL, read_staged);
}

static int put_begin(struct route_req *rr)
{
	int mode;
	if (need_path(rr) < 0 || vdi_file_parse_mode(route_arg(rr, "mode"), &mode, &rr->err) < 0)
		return -1;
	if (rr->has_length && rr->content_length != ROUTE_UNKNOWN_LENGTH && rr->content_length > vdi_file_max())
		return xerr_set(&rr->err, ERR_INSPECT_FILE_TOO_LARGE, route_arg(rr, "path"), "(Content-Length)",
				"(limit)", NULL);
	return vf_new(rr) ? 0 : -1;
}

static int put_data(struct route_req *rr, const char *buf, size_t n)
{
	struct vf *v = rr->h;
	if (v->size + n > vdi_file_max()) {
		char s[24], l[24];
		snprintf(s, sizeof s, "%llu", (unsigned long long)(v->size + n));
		snprintf(l, sizeof l, "%llu", (unsigned long long)vdi_file_max());
		return xerr_set(&rr->err, ERR_INSPECT_FILE_TOO_LARGE, route_arg(rr, "path"), s, l, NULL);
	}
	for (size_t off = 0; off < n;) {
		ssize_t w = write(v->fd, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return xerr_internal(&rr->err, "staging file: %s", strerror(errno));
		off += (size_t)w;
	}
	v->size += n;
	return 0;
}

static int put_finish(struct route_req *rr)
{
	struct vf *v = rr->h;
	int mode;
	vdi_file_parse_mode(route_arg(rr, "mode"), &mode, &rr->err);
	return vdi_file_upload(&rr->ctx, route_arg(rr, "vdi"), route_arg(rr, "filesystem"), route_arg(rr, "path"),
			       v->tmp, mode, &rr->err);
}

const struct route route_vdi_file_get = {
	.method = "GET", .path = "/vdi_file", .begin = get_begin, .free = vf_free,
};

/* a write changes a disk: vm-power-admin, as VDI.write_file */
const struct route route_vdi_file_put = {
	.method = "PUT", .path = "/vdi_file", .begin = put_begin, .data = put_data,
	.finish = put_finish, .free = vf_free, .role = SC_ROLE_VM_POWER_ADMIN,
};
