/* qemu_disk: the protocol node under a disk's format node. Storage drivers
 * hand the VM backend a local path, or a URL when they reach a share in
 * userspace (no kernel mount): nfs://server/path for QEMU's own NFS client
 * (package qemu-block-extra), nbd+unix:///export?socket=PATH for an image
 * an NBD server serves (an ISO on an SMB share, src/sm/smb.c). */
#include "qemu_disk.h"
#include "qemu_int.h"
#include "../base/mem.h"

#include <stdlib.h>
#include <string.h>

/* The credentials go in explicitly: libnfs otherwise takes the process's
 * uid when a node is opened, which is root for the disks QEMU opens before
 * it drops to the VM's uid and that uid for one added later (a live
 * snapshot's overlay, a hot-plugged disk), which the export's root-owned
 * 0600 images refuse. The SR is the host's, reached as root as the storage
 * driver reaches it (the export must not squash root, as NFSSR's). */
static json_t *nfs_node(const char *url)
{
	const char *host = url + strlen("nfs://");
	const char *slash = strchr(host, '/');
	if (!slash || slash == host || strchr(url, '?'))
		return NULL;
	char *h = xstrndup(host, (size_t)(slash - host));
	json_t *n = json_pack("{ss s{ss ss} ss si si}", "driver", "nfs", "server", "type", "inet", "host", h,
			      "path", slash, "user", 0, "group", 0);
	free(h);
	return n;
}

static json_t *nbd_unix_node(const char *url)
{
	const char *p = url + strlen("nbd+unix://");
	const char *q = strchr(p, '?');
	if (!q || strncmp(q, "?socket=", 8) != 0 || !q[8])
		return NULL;
	const char *exp = *p == '/' ? p + 1 : p;
	char *name = xstrndup(exp, (size_t)(q - exp));
	json_t *n = json_pack("{ss s{ss ss}}", "driver", "nbd", "server", "type", "unix", "path", q + 8);
	if (n && *name)
		json_object_set_new(n, "export", json_string(name));
	free(name);
	return n;
}

json_t *qemu_disk_file_node(const char *path)
{
	if (!path)
		return NULL;
	if (!strncmp(path, "nfs://", 6))
		return nfs_node(path);
	if (!strncmp(path, "nbd+unix://", 11))
		return nbd_unix_node(path);
	if (path[0] != '/')
		return NULL;
	return json_pack("{ss ss}", "driver", "file", "filename", path);
}
