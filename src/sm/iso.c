/* iso: the "iso" driver — a directory of CD/DVD images (*.iso, *.img),
 * each a read-only VDI whose location is its file name, as SM's ISOSR in
 * legacy (local directory) mode. A scan is the source of truth: new files
 * appear, removed ones disappear. */
#include "sm.h"
#include "../base/mem.h"

#include <dirent.h>
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

static const char *const features[] = {
	"VDI_CREATE", "1", "VDI_DELETE", "1", "VDI_ATTACH", "1", "VDI_DETACH", "1",
	"SR_SCAN", "1", "SR_ATTACH", "1", "SR_DETACH", "1", NULL,
};

static int iso_sr_attach(struct sm_sr *sr, struct xerr *err)
{
	struct stat st;
	if (stat(sr->path, &st) < 0 || !S_ISDIR(st.st_mode)) {
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
	DIR *d = opendir(sr->path);
	if (!d) {
		char *why = xasprintf("no such directory %s", sr->path);
		sm_fail(err, SM_E_SR_UNAVAILABLE, why, "");
		free(why);
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!image_ext(e->d_name) || !sm_name_ok(e->d_name))
			continue;
		char *path = xasprintf("%s/%s", sr->path, e->d_name);
		struct stat st;
		/* links into the library are the admin's; directories are not images */
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			struct sm_vdi *v = sm_vdi_list_add(out);
			v->location = xstrdup(e->d_name);
			v->name_label = xstrdup(e->d_name);
			v->virtual_size = v->physical_utilisation = (int64_t)st.st_size;
			v->read_only = true;
			/* "<uuid>.iso" keeps its uuid, as ISOSR does */
			if (strlen(e->d_name) == UUID_STRLEN + 4) {
				char u[UUID_STRLEN + 1];
				memcpy(u, e->d_name, UUID_STRLEN);
				u[UUID_STRLEN] = '\0';
				if (uuid_is_valid(u))
					memcpy(v->uuid, u, sizeof u);
			}
		}
		free(path);
	}
	closedir(d);
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
	if (sm_statvfs(sr->path, st) < 0) {
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
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			sm_fail(err, SM_E_VDI_EXISTS, name, "");
		else {
			char *why = xasprintf("could not create file: \"%s\": %s", path, strerror(errno));
			sm_fail(err, SM_E_VDI_CREATE, why, "");
			free(why);
		}
		goto out;
	}
	if (ftruncate(fd, (off_t)vdi->virtual_size) < 0) {
		char *why = xasprintf("could not size file: \"%s\": %s", path, strerror(errno));
		sm_fail(err, SM_E_VDI_CREATE, why, "");
		free(why);
		close(fd);
		unlink(path);
		goto out;
	}
	close(fd);
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
	if (unlink(path) < 0 && errno != ENOENT) {
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
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		free(path);
		return sm_fail(err, SM_E_VDI_MISSING, vdi->location, "");
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
