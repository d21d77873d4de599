/* nfs: the "nfs" driver — XenServer's NFS SR with qcow2 in place of VHD:
 * the SR is the directory <serverpath>/<sr-uuid> on the server's export,
 * holding <vdi-uuid>.qcow2 chains exactly as the ext driver lays them out
 * (file.c's copy-on-write logic, run through libnfs by fs_nfs.c). Nothing
 * is mounted: the daemon reaches the files with libnfs, qemu-img and QEMU
 * open them as nfs:// URLs, so it works on hosts and in containers without
 * a kernel NFS client. */
#include "drivers.h"
#include "sm.h"
#include "file.h"
#include "fs_nfs.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const features[] = {
	"SR_PROBE", "1", "SR_UPDATE", "1", "VDI_CREATE", "1", "VDI_DELETE", "1", "VDI_ATTACH", "1",
	"VDI_DETACH", "1", "VDI_UPDATE", "1", "VDI_CLONE", "1", "VDI_SNAPSHOT", "1",
	"VDI_RESIZE", "1", "VDI_GENERATE_CONFIG", "1", "THIN_PROVISIONING", "1",
	"VDI_CONFIG_CBT", "1", "SR_METADATA", "1", NULL,
};

/* NFSSR's CONFIGURATION */
static const char *const configuration[] = {
	"server", "hostname or IP address of NFS server (required)",
	"serverpath", "path on remote server (required)",
	"nfsversion", "NFS protocol version - 3, 4, 4.0, 4.1",
	NULL,
};

/* NFSSR.load: server and serverpath are required, in that order; the SR
 * lives in its own directory below serverpath (SR.probe: the export). */
static int nfs_sr_open(struct sm_sr *sr, struct xerr *err)
{
	const xv *dc = &sr->device_config;
	const char *server = xv_map_get_str(dc, "server");
	const char *serverpath = xv_map_get_str(dc, "serverpath");
	if (!server || !*server)
		return sm_fail(err, SM_E_CONFIG_SERVER_MISSING, NULL, "");
	if (!serverpath || !*serverpath)
		return sm_fail(err, SM_E_CONFIG_SERVERPATH_MISSING, NULL, "");
	if (!sm_dir_path_ok(serverpath)) {
		char *why = xasprintf("'%s' is not an absolute path without . or .. components",
				      serverpath);
		sm_fail(err, SM_E_CONFIG_SERVERPATH_BAD, why, "");
		free(why);
		return -1;
	}
	return sm_nfs_open(sr, server, serverpath, sr->uuid, xv_map_get_str(dc, "nfsversion"), err);
}

static void nfs_sr_close(struct sm_sr *sr)
{
	sm_nfs_close(sr);
}

static int connect_sr(struct sm_sr *sr, struct xerr *err)
{
	return sm_nfs_connect(sr, SM_E_NFS_TARGET, SM_E_NFS_MOUNT, err);
}

/* The SR's directory must be there: a missing one is a failed mount of
 * <serverpath>/<uuid>, as NFSSR attaches it. */
static int nfs_sr_attach(struct sm_sr *sr, struct xerr *err)
{
	if (connect_sr(sr, err) < 0)
		return -1;
	struct stat st;
	if (sr->fs->stat(sr, sr->path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		char *why = xasprintf("%s: %s", sr->path, strerror(errno ? errno : ENOTDIR));
		sm_fail(err, SM_E_NFS_MOUNT, why, "");
		free(why);
		return -1;
	}
	return 0;
}

/* Nothing stays mounted between operations. */
static int nfs_sr_detach(struct sm_sr *sr, struct xerr *err)
{
	(void)sr;
	(void)err;
	return 0;
}

static int nfs_sr_scan(struct sm_sr *sr, struct sm_vdi_list *out, struct xerr *err)
{
	if (nfs_sr_attach(sr, err) < 0)
		return -1;
	return sm_file_sr_scan(sr, out, err);
}

/* NFSSR.create: the export must mount; <serverpath>/<uuid> is made, and
 * one already holding files belongs to another SR. */
static int nfs_sr_create(struct sm_sr *sr, struct xerr *err)
{
	if (connect_sr(sr, err) < 0)
		return -1;
	char **names;
	size_t n;
	if (sr->fs->list(sr, sr->path, &names, &n) == 0) {
		sm_fs_names_free(names, n);
		return n ? sm_fail(err, SM_E_SR_EXISTS, sr->path, "") : 0;
	}
	/* not listable: made now, or something else (a file) has its name */
	if (sr->fs->mkdir(sr, sr->path, 0755) < 0) {
		char *why = xasprintf("remote directory creation error is %d", errno);
		sm_fail(err, SM_E_NFS_CREATE, why, strerror(errno));
		free(why);
		return -1;
	}
	return 0;
}

/* nfs.scan_srlist: every uuid-named directory of the export is an SR. */
static int nfs_sr_probe(struct sm_sr *sr, char **xml, struct xerr *err)
{
	if (connect_sr(sr, err) < 0)
		return -1;
	char **names;
	size_t n;
	if (sr->fs->list(sr, sr->path, &names, &n) < 0) {
		char *why = xasprintf("cannot list %s: %s", sr->path, strerror(errno));
		sm_fail(err, SM_E_NFS_MOUNT, why, "");
		free(why);
		return -1;
	}
	struct strbuf sb = {0};
	sb_printf(&sb, "<?xml version=\"1.0\" ?>\n<SRlist>\n");
	for (size_t i = 0; i < n; i++) {
		if (!uuid_is_valid(names[i]))
			continue;
		char *p = sm_path(sr, names[i], NULL);
		struct stat st;
		if (p && sr->fs->stat(sr, p, &st) == 0 && S_ISDIR(st.st_mode))
			sb_printf(&sb, "\t<SR>\n\t\t<UUID>%s</UUID>\n\t</SR>\n", names[i]);
		free(p);
	}
	sb_printf(&sb, "</SRlist>\n");
	sm_fs_names_free(names, n);
	*xml = sb_detach(&sb);
	return 0;
}

static int nfs_sr_delete(struct sm_sr *sr, struct xerr *err)
{
	if (connect_sr(sr, err) < 0)
		return -1;
	return sm_file_sr_delete(sr, err);
}

static int nfs_sr_stat(struct sm_sr *sr, struct sm_stat *st, struct xerr *err)
{
	if (connect_sr(sr, err) < 0)
		return -1;
	return sm_file_sr_stat(sr, st, err);
}

const struct sm_driver sm_nfs_driver = {
	.type = "nfs",
	.name = "NFS qcow2",
	.description = "SR plugin which stores disks as qcow2 files on a remote NFS filesystem",
	.content_type = "user",
	.image_format = "qcow2",
	.features = features,
	.configuration = configuration,
	.shared = true,
	.sr_open = nfs_sr_open,
	.sr_close = nfs_sr_close,
	.sr_create = nfs_sr_create,
	.sr_attach = nfs_sr_attach,
	.sr_detach = nfs_sr_detach,
	.sr_scan = nfs_sr_scan,
	.sr_probe = nfs_sr_probe,
	.sr_delete = nfs_sr_delete,
	.sr_stat = nfs_sr_stat,
	.vdi_create = sm_file_vdi_create,
	.vdi_delete = sm_file_vdi_delete,
	.vdi_snapshot = sm_file_vdi_snapshot,
	.vdi_clone = sm_file_vdi_clone,
	.vdi_clone_undo = sm_file_vdi_clone_undo,
	.vdi_resize = sm_file_vdi_resize,
	.vdi_attach = sm_file_vdi_attach,
	.vdi_detach = sm_file_vdi_detach,
	.vdi_changed_blocks = sm_cbt_changed_blocks,
	.vdi_coalesce = sm_file_vdi_coalesce,
};
