/* iso: the "iso" driver — a directory of CD/DVD images (*.iso, *.img),
 * each a read-only VDI whose location is its file name, as SM's ISOSR. The
 * directory is local (legacy mode), or a share reached in userspace: NFS
 * (location server:/path, through libnfs; QEMU reads images by nfs:// URL)
 * or SMB (location //server/share, through libsmbclient; images reach QEMU
 * as NBD exports of nbdkit). A scan is the source of truth: new files
 * appear, removed ones disappear. */
#include "drivers.h"
#include "sm.h"
#include "fs.h"
#include "fs_nfs.h"
#include "fs_smb.h"
#include "../base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const path_keys[] = {"location", NULL};

/* ISOSR's CONFIGURATION */
static const char *const configuration[] = {
	"location", "path to mount (required) (e.g. server:/path)",
	"options", "extra options to pass to mount (deprecated) (e.g. '-o ro')",
	"type", "cifs (SMB) or nfs_iso",
	"nfsversion", "NFS protocol version - 3, 4, 4.0, 4.1",
	"vers", "SMB version (1.0 or 3.0)",
	"username", "Username to authenticate to SMB",
	"cifspassword", "Password to authenticate to SMB",
	NULL,
};

static bool is_smb(const struct sm_sr *sr)
{
	return sr->fs == &sm_smb_fs;
}

static bool is_nfs(const struct sm_sr *sr)
{
	return sr->fs == &sm_nfs_fs;
}

/* server:/path (ISOSR._parse_nfs_location) */
static int open_nfs(struct sm_sr *sr, const char *loc, struct xerr *err)
{
	const char *colon = strchr(loc, ':');
	if (!colon || colon == loc || colon[1] != '/')
		return sm_fail(err, SM_E_ISO_LOCATION_STRING, NULL, "");
	char *server = xstrndup(loc, (size_t)(colon - loc));
	int rc = 0;
	if (!sm_dir_path_ok(colon + 1))
		rc = sm_fail(err, SM_E_ISO_LOCATION_STRING, NULL, "");
	else
		rc = sm_nfs_open(sr, server, colon + 1, "",
				 xv_map_get_str(&sr->device_config, "nfsversion"), err);
	free(server);
	return rc;
}

/* //server[:port]/share[/dir] or \\server\share[\dir] */
static int open_smb(struct sm_sr *sr, const char *loc, struct xerr *err)
{
	char *l = xstrdup(loc);
	for (char *c = l; *c; c++)
		if (*c == '\\')
			*c = '/';
	int rc = -1;
	char *server = NULL, *share = NULL;
	if (strncmp(l, "//", 2) != 0) {
		sm_fail(err, SM_E_ISO_LOCATION_STRING, NULL, "");
		goto out;
	}
	const char *h = l + 2, *slash = strchr(h, '/');
	if (!slash || slash == h || !slash[1]) {
		sm_fail(err, SM_E_ISO_LOCATION_STRING, NULL, "");
		goto out;
	}
	server = xstrndup(h, (size_t)(slash - h));
	int port = 0;
	char *pc = strchr(server, ':');
	if (pc) {
		char *end;
		long v = strtol(pc + 1, &end, 10);
		if (*end || v <= 0 || v > 65535) {
			sm_fail(err, SM_E_ISO_LOCATION_STRING, NULL, "");
			goto out;
		}
		port = (int)v;
		*pc = '\0';
	}
	share = xstrdup(slash + 1);
	size_t n = strlen(share);
	while (n && share[n - 1] == '/')
		share[--n] = '\0';
	char *abs = xasprintf("/%s", share);
	bool ok = *server && n && sm_dir_path_ok(abs);
	free(abs);
	if (!ok) {
		sm_fail(err, SM_E_ISO_LOCATION_STRING, NULL, "");
		goto out;
	}
	const xv *dc = &sr->device_config;
	rc = sm_smb_open(sr, server, port, share, xv_map_get_str(dc, "username"),
			 xv_map_get_str(dc, "cifspassword"), xv_map_get_str(dc, "workgroup"), err);
out:
	free(server);
	free(share);
	free(l);
	return rc;
}

/* ISOSR.attach's choice: type=cifs or nfs_iso when given, else ":/" in
 * the location means NFS; a plain absolute path is a local directory. */
static int iso_sr_open(struct sm_sr *sr, struct xerr *err)
{
	const char *loc = xv_map_get_str(&sr->device_config, "location");
	const char *type = xv_map_get_str(&sr->device_config, "type");
	if (!loc || !*loc)
		return sm_fail(err, SM_E_ISO_LOCATION_MISSING, NULL, "");
	if (type && !strcmp(type, "cifs"))
		return open_smb(sr, loc, err);
	if (type && !strcmp(type, "nfs_iso"))
		return open_nfs(sr, loc, err);
	if (loc[0] == '/' && loc[1] != '/') {
		if (!sm_dir_path_ok(loc)) {
			char *why = xasprintf("'%s' is not an absolute path without . or .. components", loc);
			sm_fail(err, SM_E_ISO_LOCAL_PATH, why, "");
			free(why);
			return -1;
		}
		sr->path = xstrdup(loc);
		return 0;
	}
	if (strstr(loc, ":/"))
		return open_nfs(sr, loc, err);
	if (!strncmp(loc, "//", 2) || !strncmp(loc, "\\\\", 2))
		return open_smb(sr, loc, err);
	char *why = xasprintf("'%s' is not an absolute path, server:/path or //server/share", loc);
	sm_fail(err, SM_E_ISO_LOCAL_PATH, why, "");
	free(why);
	return -1;
}

static void iso_sr_close(struct sm_sr *sr)
{
	if (is_nfs(sr))
		sm_nfs_close(sr);
	else if (is_smb(sr))
		sm_smb_close(sr);
}

static const char *const features[] = {
	"VDI_CREATE", "1", "VDI_DELETE", "1", "VDI_ATTACH", "1", "VDI_DETACH", "1",
	"SR_SCAN", "1", "SR_ATTACH", "1", "SR_DETACH", "1", NULL,
};

static int iso_sr_attach(struct sm_sr *sr, struct xerr *err)
{
	if (is_nfs(sr) && sm_nfs_connect(sr, SM_E_NFS_TARGET, SM_E_ISO_MOUNT_FAILURE, err) < 0)
		return -1;
	if (is_smb(sr))
		return sm_smb_connect(sr, SM_E_ISO_MOUNT_FAILURE, SM_E_ISO_SHARENAME_FAILURE, err);
	struct stat st;
	if (sr->fs->stat(sr, sr->path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		char *why = xasprintf("no such directory %s", sr->path);
		sm_fail(err, SM_E_ISO_MOUNT_FAILURE, why, "");
		free(why);
		return -1;
	}
	return 0;
}

static int iso_sr_detach(struct sm_sr *sr, struct xerr *err)
{
	(void)sr;
	(void)err;
	return 0;
}

static bool image_ext(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && (strcasecmp(name + n - 4, ".iso") == 0 || strcasecmp(name + n - 4, ".img") == 0);
}

static int iso_sr_scan(struct sm_sr *sr, struct sm_vdi_list *out, struct xerr *err)
{
	if (sr->fs != &sm_posix_fs && iso_sr_attach(sr, err) < 0)
		return -1;
	char **names;
	size_t n;
	if (sr->fs->list(sr, sr->path, &names, &n) < 0) {
		char *why = xasprintf("no such directory %s", sr->path);
		sm_fail(err, SM_E_SR_UNAVAILABLE, why, "");
		free(why);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = names[i];
		if (!image_ext(name) || !sm_name_ok(name))
			continue;
		char *path = sm_path(sr, name, NULL);
		struct stat st;
		/* links into the library are the admin's; directories are not images */
		if (path && sr->fs->stat(sr, path, &st) == 0 && S_ISREG(st.st_mode)) {
			struct sm_vdi *v = sm_vdi_list_add(out);
			v->location = xstrdup(name);
			v->name_label = xstrdup(name);
			v->virtual_size = v->physical_utilisation = (int64_t)st.st_size;
			v->read_only = true;
			/* "<uuid>.iso" keeps its uuid, as ISOSR does */
			if (strlen(name) == UUID_STRLEN + 4) {
				char u[UUID_STRLEN + 1];
				memcpy(u, name, UUID_STRLEN);
				u[UUID_STRLEN] = '\0';
				if (uuid_is_valid(u))
					memcpy(v->uuid, u, sizeof u);
			}
		}
		free(path);
	}
	sm_fs_names_free(names, n);
	return 0;
}

static int iso_sr_create(struct sm_sr *sr, struct xerr *err)
{
	return iso_sr_attach(sr, err);
}

static int iso_sr_probe(struct sm_sr *sr, char **xml, struct xerr *err)
{
	if (iso_sr_attach(sr, err) < 0)
		return -1;
	*xml = xstrdup("<?xml version=\"1.0\" ?>\n<SRlist/>\n");
	return 0;
}

/* The images are the user's library: deleting the SR leaves them. */
static int iso_sr_delete(struct sm_sr *sr, struct xerr *err)
{
	(void)sr;
	(void)err;
	return 0;
}

static int iso_sr_stat(struct sm_sr *sr, struct sm_stat *st, struct xerr *err)
{
	if (sm_sr_statvfs(sr, st, NULL) < 0) {
		char *why = xasprintf("cannot stat %s: %s", sr->path, strerror(errno));
		sm_fail(err, SM_E_SR_UNAVAILABLE, why, "");
		free(why);
		return -1;
	}
	return 0;
}

/* ISOSR's rule for a requested file name (sm_config path). */
static bool path_ok(const char *name)
{
	if (!sm_name_ok(name) || !image_ext(name))
		return false;
	for (const char *p = name; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
		    *p != '.' && *p != '-' && *p != '_')
			return false;
	return true;
}

/* A blank image to upload into (sm_config path names it, else <uuid>.img). */
static int iso_vdi_create(struct sm_sr *sr, struct sm_vdi *vdi, struct xerr *err)
{
	const char *want = xv_map_get_str(&vdi->sm_config, "path");
	char *name = want ? xstrdup(want) : xasprintf("%s.img", vdi->uuid);
	if (!path_ok(name)) {
		char *why = xasprintf("Invalid path \"%s\"", name);
		sm_fail(err, SM_E_VDI_CREATE, why, "");
		free(why);
		free(name);
		return -1;
	}
	if (vdi->virtual_size < 0) {
		free(name);
		return sm_fail(err, SM_E_VDI_SIZE, "size out of range", "");
	}
	char *path = sm_path(sr, name, err);
	int rc = -1;
	if (!path)
		goto out;
	if (sr->fs->create_excl(sr, path, 0644, vdi->virtual_size) < 0) {
		if (errno == EEXIST)
			sm_fail(err, SM_E_VDI_EXISTS, name, "");
		else {
			char *why = xasprintf("could not create file: \"%s\": %s", path, strerror(errno));
			sm_fail(err, SM_E_VDI_CREATE, why, "");
			free(why);
		}
		goto out;
	}
	char date[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%Y%m%dT%H:%M:%SZ", &tm);
	xv_map_set_str(&vdi->sm_config, "created", date);
	free(vdi->location);
	vdi->location = name;
	name = NULL;
	vdi->physical_utilisation = 0;
	vdi->read_only = false;
	rc = 0;
out:
	free(path);
	free(name);
	return rc;
}

static int iso_vdi_delete(struct sm_sr *sr, const struct sm_vdi *vdi, xv *gc, struct xerr *err)
{
	(void)gc;
	char *path = sm_path(sr, vdi->location, err);
	if (!path)
		return -1;
	int rc = 0;
	if (sr->fs->unlink(sr, path) < 0 && errno != ENOENT) {
		char *why = xasprintf("cannot remove %s: %s", path, strerror(errno));
		rc = sm_fail(err, SM_E_VDI_REMOVE, why, "");
		free(why);
	}
	free(path);
	return rc;
}

static int iso_vdi_attach(struct sm_sr *sr, const struct sm_vdi *vdi, bool writable,
			  struct sm_attach_info *out, struct xerr *err)
{
	char *path = sm_path(sr, vdi->location, err);
	if (!path)
		return -1;
	struct stat st;
	if (sr->fs->stat(sr, path, &st) < 0 || !S_ISREG(st.st_mode)) {
		free(path);
		return sm_fail(err, SM_E_VDI_MISSING, vdi->location, "");
	}
	if (is_smb(sr)) {
		/* QEMU has no SMB client: an NBD export of the file */
		int rc = sm_smb_attach(sr, path, out, err);
		free(path);
		return rc;
	}
	out->path = path;
	out->format = "raw";
	out->read_only = !writable || vdi->read_only;
	return 0;
}

static int iso_vdi_detach(struct sm_sr *sr, const struct sm_vdi *vdi, struct xerr *err)
{
	(void)sr;
	(void)vdi;
	(void)err;
	return 0;
}

const struct sm_driver sm_iso_driver = {
	.type = "iso",
	.name = "ISO",
	.description = "CD and DVD images stored as files in ISO format",
	.content_type = "iso",
	.image_format = "raw",
	.path_keys = path_keys,
	.features = features,
	.configuration = configuration,
	.sr_open = iso_sr_open,
	.sr_close = iso_sr_close,
	.sr_create = iso_sr_create,
	.sr_attach = iso_sr_attach,
	.sr_detach = iso_sr_detach,
	.sr_scan = iso_sr_scan,
	.sr_probe = iso_sr_probe,
	.sr_delete = iso_sr_delete,
	.sr_stat = iso_sr_stat,
	.vdi_create = iso_vdi_create,
	.vdi_delete = iso_vdi_delete,
	.vdi_attach = iso_vdi_attach,
	.vdi_detach = iso_vdi_detach,
};
