/* file: the "ext" (alias "file") driver — a directory of qcow2 images
 * named <vdi-uuid>.qcow2, copy-on-write as XenServer's FileSR does it with
 * VHDs: a snapshot or clone turns the disk's data into a hidden read-only
 * base and leaves two empty overlays on it, so it costs the same for a
 * 1 MiB or a 1 TiB disk. Bases are marked by their mode (no write bits). */
#include "drivers.h"
#include "sm.h"
#include "file.h"
#include "fs.h"
#include "../base/dir.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXT ".qcow2"
#define STALE_IMPORT_S 3600
#define SECTOR 512

static const char *const path_keys[] = {"path", "location", NULL};

static const char *const features[] = {
	"SR_PROBE", "1", "SR_UPDATE", "1", "VDI_CREATE", "1", "VDI_DELETE", "1", "VDI_ATTACH", "1",
	"VDI_DETACH", "1", "VDI_UPDATE", "1", "VDI_CLONE", "1", "VDI_SNAPSHOT", "1",
	"VDI_RESIZE", "1", "VDI_GENERATE_CONFIG", "1", "THIN_PROVISIONING", "1",
	"VDI_CONFIG_CBT", "1", NULL,
};

/* The shared-directory type also keeps a pool's database for disaster
 * recovery (SM's SR_METADATA), as the file and NFS SRs of XenServer do. */
static const char *const shared_features[] = {
	"SR_PROBE", "1", "SR_UPDATE", "1", "VDI_CREATE", "1", "VDI_DELETE", "1", "VDI_ATTACH", "1",
	"VDI_DETACH", "1", "VDI_UPDATE", "1", "VDI_CLONE", "1", "VDI_SNAPSHOT", "1",
	"VDI_RESIZE", "1", "VDI_GENERATE_CONFIG", "1", "THIN_PROVISIONING", "1",
	"VDI_CONFIG_CBT", "1", "SR_METADATA", "1", NULL,
};

/* ---- the qcow2 header: size and backing file, read without spawning
 * qemu-img, so a scan of many images stays cheap ---- */

struct qhdr {
	int64_t size;
	char backing[256]; /* as written in the image, "" if none */
};

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int read_qhdr(const struct sm_sr *sr, const char *path, struct qhdr *h)
{
	memset(h, 0, sizeof *h);
	const struct sm_fs *fs = sm_fs_of(sr);
	unsigned char b[32];
	if (fs->pread(sr, path, b, sizeof b, 0) != (ssize_t)sizeof b || memcmp(b, "QFI\xfb", 4) != 0)
		return -1;
	uint64_t boff = be64(b + 8);
	uint32_t blen = be32(b + 16);
	h->size = (int64_t)be64(b + 24);
	if (boff && blen) {
		if (blen >= sizeof h->backing)
			return -1;
		if (fs->pread(sr, path, h->backing, blen, (off_t)boff) != (ssize_t)blen)
			return -1;
		h->backing[blen] = '\0';
	}
	return 0;
}

/* The uuid a backing file name refers to: bases are always written as the
 * bare "<uuid>.qcow2", resolved by QEMU next to the overlay. */
static void backing_uuid(const char *backing, char out[UUID_STRLEN + 1])
{
	out[0] = '\0';
	const char *base = strrchr(backing, '/');
	base = base ? base + 1 : backing;
	size_t n = strlen(base);
	if (n != UUID_STRLEN + strlen(EXT) || strcmp(base + UUID_STRLEN, EXT) != 0)
		return;
	char u[UUID_STRLEN + 1];
	memcpy(u, base, UUID_STRLEN);
	u[UUID_STRLEN] = '\0';
	if (uuid_is_valid(u))
		memcpy(out, u, UUID_STRLEN + 1);
}

static int64_t allocated(const struct sm_sr *sr, const char *path)
{
	struct stat st;
	return sm_fs_of(sr)->stat(sr, path, &st) == 0 ? (int64_t)st.st_blocks * 512 : 0;
}

static bool is_hidden(const struct sm_sr *sr, const char *path)
{
	struct stat st;
	return sm_fs_of(sr)->stat(sr, path, &st) == 0 && !(st.st_mode & 0222);
}

/* <dir>/<uuid>.qcow2 for a location, which must be a uuid. */
static char *image_path(const struct sm_sr *sr, const char *location, struct xerr *err)
{
	if (!location || !uuid_is_valid(location)) {
		char *why = xasprintf("location '%s' is not a VDI of SR %s", location ? location : "",
				      sr->uuid);
		sm_fail(err, SM_E_VDI_UNAVAILABLE, why, "");
		free(why);
		return NULL;
	}
	char name[UUID_STRLEN + sizeof EXT];
	snprintf(name, sizeof name, "%s%s", location, EXT);
	return sm_path(sr, name, err);
}

static int fail_errno(struct xerr *err, int code, const char *what, const char *path)
{
	char *why = xasprintf("%s %s: %s", what, path, strerror(errno));
	sm_fail(err, code, why, "");
	free(why);
	return -1;
}

/* How many images make up the chain from uuid down (0 for ""). */
static int chain_depth(const struct sm_sr *sr, const char *uuid)
{
	char cur[UUID_STRLEN + 1];
	snprintf(cur, sizeof cur, "%s", uuid);
	int n = 0;
	while (cur[0] && n < 1000) {
		char parent[UUID_STRLEN + 1];
		if (sm_file_backing(sr, cur, parent) < 0)
			break;
		n++;
		memcpy(cur, parent, sizeof cur);
	}
	return n;
}

/* Fills v from the image at path (location = uuid). */
static int describe(const struct sm_sr *sr, const char *uuid_in, const char *path, struct sm_vdi *v)
{
	struct qhdr h;
	if (read_qhdr(sr, path, &h) < 0)
		return -1;
	/* uuid_in may be v's own uuid or location */
	char uuid[UUID_STRLEN + 1];
	snprintf(uuid, sizeof uuid, "%s", uuid_in);
	memcpy(v->uuid, uuid, sizeof uuid);
	free(v->location);
	v->location = xstrdup(uuid);
	v->virtual_size = h.size;
	v->physical_utilisation = allocated(sr, path);
	v->hidden = is_hidden(sr, path);
	v->read_only = v->hidden;
	backing_uuid(h.backing, v->parent);
	xv_map_set_str(&v->sm_config, "image-format", "qcow2");
	/* images QEMU opens for this one, itself included */
	char depth[16];
	snprintf(depth, sizeof depth, "%d", 1 + chain_depth(sr, v->parent));
	xv_map_set_str(&v->sm_config, "chain-depth", depth);
	if (v->parent[0])
		xv_map_set_str(&v->sm_config, "vhd-parent", v->parent);
	else
		xv_map_del(&v->sm_config, "vhd-parent");
	return 0;
}

int sm_file_backing(const struct sm_sr *sr, const char *uuid, char parent[UUID_STRLEN + 1])
{
	char *path = image_path(sr, uuid, NULL);
	struct qhdr h;
	int rc = path ? read_qhdr(sr, path, &h) : -1;
	free(path);
	if (rc == 0)
		backing_uuid(h.backing, parent);
	return rc;
}

/* ---- SR ---- */

int sm_file_sr_attach(struct sm_sr *sr, struct xerr *err)
{
	struct stat st;
	if (sm_fs_of(sr)->stat(sr, sr->path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		char *why = xasprintf("no such directory %s", sr->path);
		sm_fail(err, SM_E_SR_UNAVAILABLE, why, "");
		free(why);
		return -1;
	}
	return 0;
}

int sm_file_sr_detach(struct sm_sr *sr, struct xerr *err)
{
	(void)sr;
	(void)err;
	return 0;
}

static bool image_name(const char *name, char uuid[UUID_STRLEN + 1])
{
	size_t n = strlen(name);
	if (n != UUID_STRLEN + strlen(EXT) || strcmp(name + UUID_STRLEN, EXT) != 0)
		return false;
	memcpy(uuid, name, UUID_STRLEN);
	uuid[UUID_STRLEN] = '\0';
	return uuid_is_valid(uuid);
}

static int scan_locked(struct sm_sr *sr, struct sm_vdi_list *out, struct xerr *err)
{
	char **names;
	size_t n;
	if (sm_fs_of(sr)->list(sr, sr->path, &names, &n) < 0)
		return fail_errno(err, SM_E_SR_SCAN, "cannot read", sr->path);
	for (size_t i = 0; i < n; i++) {
		char uuid[UUID_STRLEN + 1];
		if (!image_name(names[i], uuid))
			continue;
		char *path = sm_path(sr, names[i], NULL);
		struct sm_vdi *v = sm_vdi_list_add(out);
		if (!path || describe(sr, uuid, path, v) < 0) {
			log_warn("sm file: %s is not a qcow2 image; left out of the scan", path);
			sm_vdi_free(v);
			out->n--;
		}
		free(path);
	}
	sm_fs_names_free(names, n);
	return 0;
}

/* Removes the <uuid>.qcow2.import files of imports a daemon crash cut
 * short (an import in progress writes its file all along, so one
 * untouched for an hour is nobody's). Local SRs only: only they are
 * written directly. */
static void drop_stale_imports(struct sm_sr *sr)
{
	if (sr->path[0] != '/')
		return;
	char **names;
	size_t n;
	if (sm_fs_of(sr)->list(sr, sr->path, &names, &n) < 0)
		return;
	time_t now = time(NULL);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		if (len < 7 || strcmp(names[i] + len - 7, ".import"))
			continue;
		char *path = sm_path(sr, names[i], NULL);
		struct stat st;
		if (path && lstat(path, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime > STALE_IMPORT_S &&
		    unlink(path) == 0)
			log_info("sm file: removed %s, an import that never finished", path);
		free(path);
	}
	sm_fs_names_free(names, n);
}

int sm_file_sr_scan(struct sm_sr *sr, struct sm_vdi_list *out, struct xerr *err)
{
	if (sm_file_sr_attach(sr, err) < 0)
		return -1;
	sm_lock();
	int rc = scan_locked(sr, out, err);
	sm_unlock();
	if (rc == 0)
		drop_stale_imports(sr);
	return rc;
}

static int file_sr_create(struct sm_sr *sr, struct xerr *err)
{
	struct stat st;
	if (stat(sr->path, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			char *why = xasprintf("%s exists and is not a directory", sr->path);
			sm_fail(err, SM_E_FILE_SR_CREATE, why, "");
			free(why);
			return -1;
		}
		/* images already there belong to another SR: introduce it instead */
		struct sm_vdi_list l = {0};
		int rc = sm_file_sr_scan(sr, &l, err);
		size_t n = l.n;
		sm_vdi_list_free(&l);
		if (rc < 0)
			return -1;
		if (n)
			return sm_fail(err, SM_E_SR_EXISTS, sr->path, "");
		return 0;
	}
	/* parents first: the SR root may not exist yet on a fresh host */
	char *failed = NULL;
	int e = dir_make_all(sr->path, 0755, &failed);
	if (e < 0) {
		errno = -e;
		int rc = fail_errno(err, SM_E_FILE_SR_CREATE, "cannot create", failed);
		free(failed);
		return rc;
	}
	return 0;
}

static int file_sr_probe(struct sm_sr *sr, char **xml, struct xerr *err)
{
	if (sm_file_sr_attach(sr, err) < 0)
		return -1;
	/* qcow2 files carry no SR identity to report */
	*xml = xstrdup("<?xml version=\"1.0\" ?>\n<SRlist/>\n");
	return 0;
}

int sm_file_sr_stat(struct sm_sr *sr, struct sm_stat *st, struct xerr *err)
{
	if (sm_sr_statvfs(sr, st, NULL) < 0)
		return fail_errno(err, SM_E_SR_UNAVAILABLE, "cannot stat", sr->path);
	return 0;
}

int sm_file_sr_delete(struct sm_sr *sr, struct xerr *err)
{
	struct sm_vdi_list l = {0};
	sm_lock();
	int rc = scan_locked(sr, &l, err);
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		if (!l.v[i].hidden)
			rc = sm_fail(err, SM_E_SR_NOT_EMPTY, NULL, "");
	/* what is left are bases whose disks are gone */
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		char *path = image_path(sr, l.v[i].location, err);
		if (path && sm_fs_of(sr)->unlink(sr, path) < 0 && errno != ENOENT)
			rc = fail_errno(err, SM_E_VDI_REMOVE, "cannot remove", path);
		free(path);
	}
	sm_unlock();
	sm_vdi_list_free(&l);
	if (rc < 0)
		return -1;
	/* files that are not ours stay, and so does their directory */
	if (sm_fs_of(sr)->rmdir(sr, sr->path) < 0 && errno != ENOENT) {
		if (errno != ENOTEMPTY && errno != EEXIST)
			return fail_errno(err, SM_E_FILE_SR_RMDIR, "cannot remove", sr->path);
		log_warn("sm file: %s holds other files; left in place", sr->path);
	}
	return 0;
}

/* ---- VDI ---- */

static int64_t round_up(int64_t size)
{
	return (size + SECTOR - 1) / SECTOR * SECTOR;
}

int sm_file_vdi_create(struct sm_sr *sr, struct sm_vdi *vdi, struct xerr *err)
{
	if (vdi->virtual_size < 0 || vdi->virtual_size > (INT64_C(1) << 55))
		return sm_fail(err, SM_E_VDI_SIZE, "size out of range", "");
	if (sm_space_for(sr, 0, round_up(vdi->virtual_size), 1, sr->thick, err) < 0)
		return -1;
	char *path = image_path(sr, vdi->uuid, err);
	if (!path)
		return -1;
	/* reserve the name: qemu-img would silently overwrite */
	if (sm_fs_of(sr)->create_excl(sr, path, 0644, 0) < 0) {
		int rc = errno == EEXIST ? sm_fail(err, SM_E_VDI_EXISTS, vdi->uuid, "")
					 : fail_errno(err, SM_E_VDI_CREATE, "cannot create", path);
		free(path);
		return rc;
	}
	int64_t size = round_up(vdi->virtual_size);
	char sz[32];
	snprintf(sz, sizeof sz, "%lld", (long long)size);
	const char *args[] = {"create", "-q", "-f", "qcow2", path, sz, NULL, NULL, NULL};
	if (sr->thick) {
		/* the whole disk reserved now: writes can never find the SR full */
		args[6] = "-o";
		args[7] = "preallocation=falloc";
	}
	int rc = sm_qemu_img(args, NULL, SM_E_VDI_CREATE, "qemu-img create failed", err);
	if (rc == 0)
		rc = describe(sr, vdi->uuid, path, vdi) < 0 ? sm_fail(err, SM_E_VDI_CREATE, "unreadable image", "") : 0;
	if (rc < 0)
		sm_fs_of(sr)->unlink(sr, path);
	free(path);
	return rc;
}

/* Bases nothing depends on any more go, walking up the chain. */
static void gc_chain(struct sm_sr *sr, const char *parent, xv *gc)
{
	char p[UUID_STRLEN + 1];
	snprintf(p, sizeof p, "%s", parent);
	while (p[0]) {
		char *path = image_path(sr, p, NULL);
		struct qhdr h;
		if (!path || !is_hidden(sr, path) || read_qhdr(sr, path, &h) < 0) {
			free(path);
			return;
		}
		struct sm_vdi_list l = {0};
		bool used = scan_locked(sr, &l, NULL) < 0; /* unreadable: keep it */
		for (size_t i = 0; i < l.n && !used; i++)
			used = strcmp(l.v[i].parent, p) == 0;
		sm_vdi_list_free(&l);
		if (used || sm_fs_of(sr)->unlink(sr, path) < 0) {
			free(path);
			return;
		}
		log_info("sm file: removed base %s, no image depends on it", path);
		free(path);
		if (gc)
			xv_arr_push_str(gc, p);
		backing_uuid(h.backing, p);
	}
}

int sm_file_vdi_delete(struct sm_sr *sr, const struct sm_vdi *vdi, xv *gc, struct xerr *err)
{
	char *path = image_path(sr, vdi->location, err);
	if (!path)
		return -1;
	sm_lock();
	struct qhdr h;
	char parent[UUID_STRLEN + 1] = "";
	if (read_qhdr(sr, path, &h) == 0)
		backing_uuid(h.backing, parent);
	int rc = 0;
	/* already gone is what delete wants */
	if (sm_fs_of(sr)->unlink(sr, path) < 0 && errno != ENOENT)
		rc = fail_errno(err, SM_E_VDI_REMOVE, "cannot remove", path);
	if (rc == 0 && parent[0])
		gc_chain(sr, parent, gc);
	sm_unlock();
	free(path);
	return rc;
}

/* The two empty qcow2 overlays of a snapshot or clone on <base>.qcow2,
 * made by two qemu-img runs at once: the new image at its own name, and
 * A's through a temporary name renamed over A, so A's name always holds
 * either the old image or the complete new one. */
static int make_overlays(const struct sm_sr *sr, const char *a_path, const char *s_path,
			 const char *base_uuid, int64_t size, int code, struct xerr *err)
{
	const struct sm_fs *fs = sm_fs_of(sr);
	char *tmp = xasprintf("%s.new", a_path);
	char *backing = xasprintf("%s%s", base_uuid, EXT);
	if (fs->full_backing_names) {
		char *full = sm_path(sr, backing, NULL);
		free(backing);
		backing = full;
	}
	char sz[32];
	snprintf(sz, sizeof sz, "%lld", (long long)size);
	fs->unlink(sr, tmp);
	const char *a_args[] = {"create", "-q", "-f", "qcow2", "-b", backing, "-F", "qcow2", tmp, sz, NULL};
	const char *s_args[] = {"create", "-q", "-f", "qcow2", "-b", backing, "-F", "qcow2", s_path, sz, NULL};
	const char *const *all[] = {a_args, s_args};
	int rc = sm_qemu_img_many(all, 2, code, "cannot create overlay", err);
	if (rc == 0 && fs->rename(sr, tmp, a_path) < 0)
		rc = fail_errno(err, code, "cannot rename", tmp);
	if (rc < 0) {
		fs->unlink(sr, tmp);
		fs->unlink(sr, s_path);
	}
	free(tmp);
	free(backing);
	return rc;
}

static int cow(struct sm_sr *sr, struct sm_vdi *vdi, struct sm_vdi *base, struct sm_vdi *snap,
	       int code, struct xerr *err)
{
	char *src = image_path(sr, vdi->location, err);
	if (!src)
		return -1;
	char bu[UUID_STRLEN + 1], su[UUID_STRLEN + 1];
	uuid_generate_str(bu);
	uuid_generate_str(su);
	char *bpath = image_path(sr, bu, err), *spath = image_path(sr, su, err);
	int rc = -1;
	const struct sm_fs *fs = sm_fs_of(sr);
	sm_lock();
	struct qhdr h;
	if (read_qhdr(sr, src, &h) < 0) {
		fail_errno(err, SM_E_VDI_UNAVAILABLE, "cannot read", src);
		goto out;
	}
	if (is_hidden(sr, src)) {
		sm_fail(err, code, "hidden VDI", "");
		goto out;
	}
	/* the new overlay sits one deeper than the image does now */
	if (1 + chain_depth(sr, vdi->location) > SM_MAX_CHAIN) {
		sm_fail(err, SM_E_CHAIN_TOO_LONG, NULL, "");
		goto out;
	}
	/* two empty overlays; on a thick SR a clone may fill its whole size */
	if (sm_space_for(sr, 0, h.size, 2, sr->thick && code == SM_E_VDI_CLONE, err) < 0)
		goto out;
	/* the data keeps living in the same inode, now also named as the base;
	 * A's name is only ever re-pointed atomically at the new overlay */
	bool linked = fs->link && fs->link(sr, src, bpath) == 0;
	if (!linked && fs->rename(sr, src, bpath) < 0) {
		fail_errno(err, code, "cannot rename", src);
		goto out;
	}
	if (make_overlays(sr, src, spath, bu, h.size, code, err) < 0) {
		/* A's name was not touched: only the base's name goes */
		if (linked)
			fs->unlink(sr, bpath);
		else
			fs->rename(sr, bpath, src);
		goto out;
	}
	/* now the base's only name is its own: make it read-only, the mark of
	 * a base that garbage collection and scans go by (and its owner's
	 * alone, as every image) */
	fs->chmod(sr, bpath, 0400);
	rc = 0;
	describe(sr, bu, bpath, base);
	describe(sr, su, spath, snap);
	describe(sr, vdi->location, src, vdi);
out:
	sm_unlock();
	free(src);
	free(bpath);
	free(spath);
	return rc;
}

int sm_file_vdi_snapshot(struct sm_sr *sr, struct sm_vdi *vdi, struct sm_vdi *base,
			     struct sm_vdi *snap, struct xerr *err)
{
	return cow(sr, vdi, base, snap, SM_E_VDI_SNAPSHOT, err);
}

int sm_file_vdi_clone(struct sm_sr *sr, struct sm_vdi *vdi, struct sm_vdi *base,
			  struct sm_vdi *snap, struct xerr *err)
{
	return cow(sr, vdi, base, snap, SM_E_VDI_CLONE, err);
}

int sm_file_vdi_clone_undo(struct sm_sr *sr, struct sm_vdi *vdi, const struct sm_vdi *base,
			       const struct sm_vdi *snap, struct xerr *err)
{
	char *src = image_path(sr, vdi->location, err);
	char *bpath = src ? image_path(sr, base->location, err) : NULL;
	char *spath = bpath ? image_path(sr, snap->location, err) : NULL;
	int rc = -1;
	sm_lock();
	if (spath) {
		const struct sm_fs *fs = sm_fs_of(sr);
		fs->unlink(sr, spath);
		fs->chmod(sr, bpath, 0600);
		/* the base holds A's data as it was: it is A again */
		rc = fs->rename(sr, bpath, src) < 0 ? fail_errno(err, SM_E_VDI_CLONE, "cannot restore", src) : 0;
		if (rc == 0)
			describe(sr, vdi->location, src, vdi);
	}
	sm_unlock();
	free(src);
	free(bpath);
	free(spath);
	return rc;
}

int sm_file_vdi_resize(struct sm_sr *sr, struct sm_vdi *vdi, int64_t *size, struct xerr *err)
{
	char *path = image_path(sr, vdi->location, err);
	if (!path)
		return -1;
	int rc = -1;
	sm_lock();
	struct qhdr h;
	if (read_qhdr(sr, path, &h) < 0) {
		fail_errno(err, SM_E_VDI_UNAVAILABLE, "cannot read", path);
		goto out;
	}
	if (is_hidden(sr, path)) {
		sm_fail(err, SM_E_VDI_RESIZE, "hidden VDI", "");
		goto out;
	}
	if (*size < h.size) {
		sm_fail(err, SM_E_VDI_SIZE, "shrinking not allowed", "");
		goto out;
	}
	int64_t want = round_up(*size);
	if (want != h.size && sm_space_for(sr, h.size, want, 1, sr->thick, err) < 0)
		goto out;
	if (want != h.size) {
		char sz[32];
		snprintf(sz, sizeof sz, "%lld", (long long)want);
		const char *args[] = {"resize", "-q", "-f", "qcow2", path, sz, NULL, NULL};
		if (sr->thick) {
			args[4] = "--preallocation=falloc";
			args[5] = path;
			args[6] = sz;
		}
		if (sm_qemu_img(args, NULL, SM_E_VDI_RESIZE, "qemu-img resize failed", err) < 0)
			goto out;
	}
	describe(sr, vdi->location, path, vdi);
	*size = vdi->virtual_size;
	rc = 0;
out:
	sm_unlock();
	free(path);
	return rc;
}

int sm_file_vdi_attach(struct sm_sr *sr, const struct sm_vdi *vdi, bool writable,
		       struct sm_attach_info *out, struct xerr *err)
{
	char *path = image_path(sr, vdi->location, err);
	if (!path)
		return -1;
	struct stat st;
	if (sm_fs_of(sr)->stat(sr, path, &st) < 0) {
		int rc = fail_errno(err, SM_E_VDI_UNAVAILABLE, "cannot open", path);
		free(path);
		return rc;
	}
	out->path = path;
	out->format = "qcow2";
	out->read_only = !writable || !(st.st_mode & 0222);
	return 0;
}

int sm_file_vdi_detach(struct sm_sr *sr, const struct sm_vdi *vdi, struct xerr *err)
{
	(void)sr;
	(void)vdi;
	(void)err;
	return 0;
}

/* ---- coalescing ---- */

int sm_file_vdi_coalesce(struct sm_sr *sr, struct sm_vdi *child, const struct sm_live_ops *live,
			 const char *vm_uuid,
			 const char *userdevice, char gone[UUID_STRLEN + 1], struct xerr *err)
{
	gone[0] = '\0';
	const struct sm_fs *fs = sm_fs_of(sr);
	char *path = image_path(sr, child->location, err);
	char *bpath = NULL, *ppath = NULL, *name = NULL;
	char bu[UUID_STRLEN + 1] = "", pu[UUID_STRLEN + 1] = "";
	int rc = -1;
	if (!path)
		return -1;
	struct qhdr h, hb;
	sm_lock();
	bool ok = read_qhdr(sr, path, &h) == 0;
	if (ok)
		backing_uuid(h.backing, bu);
	if (ok && bu[0])
		bpath = image_path(sr, bu, NULL);
	/* only a hidden base with this one image on it, read whole */
	ok = ok && bpath && is_hidden(sr, bpath) && read_qhdr(sr, bpath, &hb) == 0;
	if (ok) {
		struct sm_vdi_list l = {0};
		size_t users = 0;
		ok = scan_locked(sr, &l, NULL) == 0;
		for (size_t i = 0; ok && i < l.n; i++)
			users += strcmp(l.v[i].parent, bu) == 0;
		sm_vdi_list_free(&l);
		ok = ok && users == 1;
	}
	sm_unlock();
	if (!ok) {
		rc = 0; /* nothing to do (now) */
		goto out;
	}
	backing_uuid(hb.backing, pu);
	if (pu[0]) {
		ppath = image_path(sr, pu, err);
		if (!ppath)
			goto out;
		name = xasprintf("%s%s", pu, EXT);
		if (fs->full_backing_names) {
			char *full = sm_path(sr, name, NULL);
			free(name);
			name = full;
		}
	}
	if (vm_uuid && live && live->stream) {
		/* the running emulator copies while the guest goes on writing */
		if (live->stream(vm_uuid, userdevice, ppath, name ? name : "", err) < 0)
			goto out;
	} else if (vm_uuid) {
		rc = 0; /* open in a VM that cannot stream: later */
		goto out;
	} else {
		/* safe mode: what the base holds and its parent does not is
		 * copied into the image first, so no byte it reads changes */
		const char *args[] = {"rebase", "-q", "-f", "qcow2", "-F", "qcow2", "-b", name ? name : "", path, NULL};
		const char *args_none[] = {"rebase", "-q", "-f", "qcow2", "-b", "", path, NULL};
		if (sm_qemu_img(name ? args : args_none, NULL, SM_E_VDI_UNAVAILABLE, "cannot coalesce", err) < 0)
			goto out;
	}
	/* the base goes if still nothing else backs onto it (a snapshot taken
	 * meanwhile backs onto the image, whose inode it keeps) */
	sm_lock();
	struct sm_vdi_list l = {0};
	bool used = scan_locked(sr, &l, NULL) < 0;
	for (size_t i = 0; i < l.n && !used; i++)
		used = strcmp(l.v[i].parent, bu) == 0;
	sm_vdi_list_free(&l);
	if (!used && fs->unlink(sr, bpath) == 0) {
		snprintf(gone, UUID_STRLEN + 1, "%s", bu);
		log_info("sm file: coalesced base %s into %s", bu, child->location);
	}
	describe(sr, child->location, path, child);
	sm_unlock();
	rc = 0;
out:
	free(path);
	free(bpath);
	free(ppath);
	free(name);
	return rc;
}

#define FILE_DRIVER_OPS                                                                 \
	.content_type = "user", .image_format = "qcow2", .path_keys = path_keys,        \
	.sr_create = file_sr_create, .sr_attach = sm_file_sr_attach, \
	.sr_detach = sm_file_sr_detach, .sr_scan = sm_file_sr_scan, .sr_probe = file_sr_probe, \
	.sr_delete = sm_file_sr_delete, .sr_stat = sm_file_sr_stat,                           \
	.vdi_create = sm_file_vdi_create, .vdi_delete = sm_file_vdi_delete,                   \
	.vdi_snapshot = sm_file_vdi_snapshot, .vdi_clone = sm_file_vdi_clone,                 \
	.vdi_clone_undo = sm_file_vdi_clone_undo, .vdi_resize = sm_file_vdi_resize,           \
	.vdi_attach = sm_file_vdi_attach, .vdi_detach = sm_file_vdi_detach,                  \
	.vdi_changed_blocks = sm_cbt_changed_blocks, .vdi_coalesce = sm_file_vdi_coalesce

const struct sm_driver sm_file_driver = {
	.type = "ext",
	.name = "Local file storage",
	.description = "Disks as copy-on-write image files in a local directory",
	.features = features,
	FILE_DRIVER_OPS,
};

const struct sm_driver sm_file_alias_driver = {
	.type = "file",
	.name = "Local file storage",
	.description = "Disks as copy-on-write image files in a directory",
	.features = shared_features,
	FILE_DRIVER_OPS,
};
