/* foreign (formats): magic, header and qemu-img info checks of foreign
 * images, on bytes and strings only (see foreign.h). */
#include "foreign.h"
#include "../base/jsonv.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/xv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *foreign_sniff(const void *p, size_t n)
{
	const unsigned char *b = p;
	if (n >= 4 && !memcmp(b, "QFI\xfb", 4))
		return "qcow2";
	if (n >= 4 && !memcmp(b, "KDMV", 4))
		return "vmdk";
	if (n >= 8 && !memcmp(b, "conectix", 8))
		return "vhd";
	return NULL;
}

const char *foreign_sniff_tail(const void *p, size_t n)
{
	const unsigned char *b = p;
	return n >= 512 && !memcmp(b + n - 512, "conectix", 8) ? "vhd" : NULL;
}

bool foreign_format(const char *fmt)
{
	return fmt && (!strcmp(fmt, "qcow2") || !strcmp(fmt, "vmdk") || !strcmp(fmt, "vhd"));
}

const char *foreign_qemu_fmt(const char *fmt)
{
	return !strcmp(fmt, "vhd") ? "vpc" : fmt;
}

static int bad(struct xerr *err, const char *fmt, const char *why)
{
	char *msg = xasprintf("not a valid %s image: %s", fmt, why);
	xerr_set(err, ERR_IMPORT_ERROR, msg, NULL); /* copies it */
	free(msg);
	return -1;
}

static int names_other(struct xerr *err, const char *fmt)
{
	log_warn("import: refused %s image naming another file", fmt);
	return xerr_set(err, ERR_IMPORT_ERROR, FOREIGN_NAMES_OTHER_FILE, NULL);
}

static int too_large(struct xerr *err)
{
	char m[32];
	snprintf(m, sizeof m, "%lld", (long long)FOREIGN_MAX_SIZE);
	return xerr_set(err, ERR_VDI_TOO_LARGE, "OpaqueRef:NULL", m, NULL);
}

static uint64_t be(const unsigned char *b, size_t len)
{
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++)
		v = v << 8 | b[i];
	return v;
}

static uint64_t le(const unsigned char *b, size_t len)
{
	uint64_t v = 0;
	for (size_t i = len; i-- > 0;)
		v = v << 8 | b[i];
	return v;
}

/* qcow2 (big-endian): version at 4, backing_file_offset at 8, cluster_bits
 * at 20, size at 24; version 3 adds incompatible_features at 72 (bit 2: an
 * external data file) up to header_length at 100. */
#define QCOW2_V2_LEN 72
#define QCOW2_V3_LEN 104
#define QCOW2_INCOMPAT_DATA_FILE (UINT64_C(1) << 2)

static int check_qcow2(const unsigned char *b, size_t n, struct xerr *err)
{
	if (n < QCOW2_V2_LEN)
		return bad(err, "qcow2", "truncated header");
	uint64_t version = be(b + 4, 4);
	if (version != 2 && version != 3)
		return bad(err, "qcow2", "unknown version");
	if (version == 3 && n < QCOW2_V3_LEN)
		return bad(err, "qcow2", "truncated header");
	if (be(b + 8, 8) != 0 || be(b + 16, 4) != 0)
		return names_other(err, "qcow2");
	if (version == 3 && (be(b + 72, 8) & QCOW2_INCOMPAT_DATA_FILE))
		return names_other(err, "qcow2");
	uint64_t cluster_bits = be(b + 20, 4);
	if (cluster_bits < 9 || cluster_bits > 21)
		return bad(err, "qcow2", "cluster size out of range");
	if (be(b + 24, 8) > (uint64_t)FOREIGN_MAX_SIZE)
		return too_large(err);
	return 0;
}

int foreign_qcow2_backing(const void *p, size_t n, char *out, size_t cap)
{
	const unsigned char *b = p;
	if (n < QCOW2_V2_LEN || memcmp(b, "QFI\xfb", 4) != 0)
		return -1;
	uint64_t off = be(b + 8, 8), len = be(b + 16, 4);
	if (off == 0 || len == 0)
		return 0;
	if (off >= n || len > n - off || len >= cap || memchr(b + off, '\0', len))
		return -1;
	memcpy(out, b + off, len);
	out[len] = '\0';
	return 1;
}

/* A VMDK sparse extent header (little-endian): version at 4, capacity in
 * sectors at 12, grain size at 20, descriptor offset and size at 28 and
 * 36, up to compressAlgorithm at 77. */
#define VMDK_HEADER_LEN 79
#define VMDK_MAX_SECTORS ((uint64_t)FOREIGN_MAX_SIZE / 512)

static int check_vmdk(const unsigned char *b, size_t n, struct xerr *err)
{
	if (n < VMDK_HEADER_LEN)
		return bad(err, "vmdk", "truncated header");
	uint64_t version = le(b + 4, 4);
	if (version < 1 || version > 3)
		return bad(err, "vmdk", "unknown version");
	if (le(b + 12, 8) > VMDK_MAX_SECTORS)
		return too_large(err);
	return 0;
}

/* A VHD footer (big-endian): current size at 48, disk type at 60 (2
 * fixed, 3 dynamic, 4 differencing: it names its parent's file). */
#define VHD_FOOTER_LEN 64

static int check_vhd(const unsigned char *b, size_t n, struct xerr *err)
{
	if (n < VHD_FOOTER_LEN)
		return bad(err, "vhd", "truncated footer");
	uint64_t type = be(b + 60, 4);
	if (type == 4)
		return names_other(err, "vhd");
	if (type != 2 && type != 3)
		return bad(err, "vhd", "unknown disk type");
	if (be(b + 48, 8) > (uint64_t)FOREIGN_MAX_SIZE)
		return too_large(err);
	return 0;
}

int foreign_check_header(const char *fmt, const void *p, size_t n, struct xerr *err)
{
	if (!foreign_format(fmt))
		return xerr_set(err, ERR_INVALID_VALUE, "format", fmt ? fmt : "", NULL);
	const char *seen = foreign_sniff(p, n);
	if (!seen || strcmp(seen, fmt))
		return bad(err, fmt, "wrong magic");
	if (!strcmp(fmt, "qcow2"))
		return check_qcow2(p, n, err);
	if (!strcmp(fmt, "vmdk"))
		return check_vmdk(p, n, err);
	return check_vhd(p, n, err);
}

/* A filename qemu would open for this image that is not path itself. */
static bool other_file(const xv *name, const char *path)
{
	const char *f = xv_as_str(name);
	return !f || strcmp(f, path);
}

/* Whether a qemu-img info record names any file but path: a backing file,
 * an external data file, a VMDK extent elsewhere, a child node (newer
 * qemu-img lists them) that is a backing or data file or another file. */
static bool names_other_file(const xv *info, const char *path)
{
	static const char *const backing[] = {"backing-filename", "full-backing-filename",
					      "backing-filename-format", "backing-image", NULL};
	for (size_t i = 0; backing[i]; i++)
		if (xv_map_get(info, backing[i]))
			return true;
	const xv *name = xv_map_get(info, "filename");
	if (name && other_file(name, path))
		return true;
	const xv *data = xv_map_get(xv_map_get(info, "format-specific"), "data");
	if (xv_map_get(data, "data-file") || xv_map_get(data, "data-file-raw"))
		return true;
	const xv *ext = xv_map_get(data, "extents");
	for (size_t i = 0; ext && i < xv_len(ext); i++)
		if (other_file(xv_map_get(xv_arr_get(ext, i), "filename"), path))
			return true;
	const xv *children = xv_map_get(info, "children");
	for (size_t i = 0; children && i < xv_len(children); i++) {
		const xv *c = xv_arr_get(children, i);
		const char *role = xv_as_str(xv_map_get(c, "name"));
		if (!role || !strcmp(role, "backing") || !strcmp(role, "data-file") ||
		    other_file(xv_map_get(xv_map_get(c, "info"), "filename"), path))
			return true;
	}
	return false;
}

int foreign_check_info(const char *json, const char *path, const char *fmt, int64_t *vsize,
		       struct xerr *err)
{
	*vsize = -1;
	xv info = XV_NIL_INIT;
	struct xerr e = XERR_INIT;
	int rc = json ? jsonv_parse(json, strlen(json), &info, &e) : -1;
	xerr_clear(&e);
	if (rc < 0 || info.kind != XV_MAP) {
		xv_free(&info);
		return bad(err, fmt, "unreadable qemu-img info");
	}
	const xv *vs = xv_map_get(&info, "virtual-size");
	*vsize = vs && vs->kind == XV_INT ? vs->u.i : -1;
	bool other = names_other_file(&info, path);
	xv_free(&info);
	if (other)
		return names_other(err, fmt);
	if (*vsize <= 0)
		return bad(err, fmt, "no virtual size");
	if (*vsize > FOREIGN_MAX_SIZE)
		return too_large(err);
	return 0;
}
