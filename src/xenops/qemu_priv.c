/* qemu_priv: the unprivileged user each QEMU runs as, and the files it is
 * let into. A VM of domid d runs as uid and gid QEMU_UID_BASE + d (no
 * passwd entry: -runas takes uid:gid). QEMU opens what its command line
 * names while still root and then drops to that uid; what it opens later —
 * a live snapshot's overlay, a hot-plugged disk, a CD put in, a backing
 * file reopened for writing by a commit — it opens as that uid. So each
 * file of the VM's disk chains gets an ACL entry for the uid (read-write
 * for the image a disk writes to, read-only for its backing files and for
 * read-only disks and CDs), and each directory above them
 * that others cannot search an entry to search it; no other VM's uid is in
 * them. Every grant is written to <vm-dir>/grants, so the entries are taken
 * away when the domain is destroyed, also by a restarted xenond. */
#include "qemu_int.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../formats/foreign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

uid_t qemu_vm_uid(int64_t domid)
{
	return (uid_t)(QEMU_UID_BASE + (uint64_t)domid % QEMU_UID_RANGE);
}

/* Adds (perms != 0) or removes (perms == 0) uid's entry in path's ACL. */
static int acl_user(const char *path, uid_t uid, acl_perm_t perms)
{
	acl_t acl = acl_get_file(path, ACL_TYPE_ACCESS);
	if (!acl)
		return -1;
	acl_entry_t e, found = NULL;
	for (int w = ACL_FIRST_ENTRY; acl_get_entry(acl, w, &e) == 1; w = ACL_NEXT_ENTRY) {
		acl_tag_t tag;
		if (acl_get_tag_type(e, &tag) == 0 && tag == ACL_USER) {
			uid_t *q = acl_get_qualifier(e);
			bool same = q && *q == uid;
			acl_free(q);
			if (same) {
				found = e;
				break;
			}
		}
	}
	int rc = 0;
	if (!perms) {
		if (!found) {
			acl_free(acl);
			return 0;
		}
		rc = acl_delete_entry(acl, found);
	} else {
		if (!found && (acl_create_entry(&acl, &found) < 0 || acl_set_tag_type(found, ACL_USER) < 0 ||
			       acl_set_qualifier(found, &uid) < 0))
			rc = -1;
		acl_permset_t ps;
		if (rc == 0 && (acl_get_permset(found, &ps) < 0 || acl_clear_perms(ps) < 0))
			rc = -1;
		for (acl_perm_t bit = ACL_EXECUTE; rc == 0 && bit <= ACL_READ; bit <<= 1)
			if ((perms & bit) && acl_add_perm(ps, bit) < 0)
				rc = -1;
		if (rc == 0)
			rc = acl_set_permset(found, ps);
	}
	if (rc == 0)
		rc = acl_calc_mask(&acl);
	if (rc == 0)
		rc = acl_set_file(path, ACL_TYPE_ACCESS, acl);
	int e2 = errno;
	acl_free(acl);
	errno = e2;
	return rc;
}

static void record(const char *dir, uid_t uid, const char *path)
{
	char *g = qemu_file(dir, "grants");
	FILE *f = fopen(g, "a");
	if (f) {
		fprintf(f, "%u %s\n", (unsigned)uid, path);
		fclose(f);
	}
	free(g);
}

/* Lets uid search every directory above path that others cannot. */
static int grant_dirs(const char *dir, uid_t uid, const char *path)
{
	char *p = xstrdup(path);
	for (char *slash = strrchr(p, '/'); slash && slash > p; slash = strrchr(p, '/')) {
		*slash = '\0';
		struct stat st;
		if (stat(p, &st) < 0) {
			free(p);
			return -1;
		}
		if (!(st.st_mode & S_IXOTH)) {
			if (acl_user(p, uid, ACL_EXECUTE) < 0) {
				free(p);
				return -1;
			}
			record(dir, uid, p);
		}
	}
	free(p);
	return 0;
}

int qemu_grant_path(const char *dir, uid_t uid, const char *path, bool write, struct xerr *err)
{
	if (acl_user(path, uid, write ? ACL_READ | ACL_WRITE : ACL_READ) < 0 || grant_dirs(dir, uid, path) < 0)
		return xerr_internal(err, "cannot let the VM's QEMU (uid %u) open %s: %s", (unsigned)uid, path,
				     strerror(errno));
	record(dir, uid, path);
	return 0;
}

int qemu_grant_disk(const char *dir, uid_t uid, const char *path, bool write, struct xerr *err)
{
	if (!path)
		return 0;
	if (strncmp(path, "nbd+unix://", 11) == 0) {
		/* a socket path in ?socket=…: connecting needs write on it */
		const char *s = strstr(path, "socket=");
		if (!s)
			return 0;
		char *sock = xstrndup(s + 7, strcspn(s + 7, "&"));
		int r = qemu_grant_path(dir, uid, sock, true, err);
		free(sock);
		return r;
	}
	if (path[0] != '/')
		return 0; /* nfs:// and the like: no local file */
	/* the image and its qcow2 backing chain (a bounded walk) */
	char *cur = xstrdup(path);
	for (int depth = 0; cur && depth < 256; depth++) {
		/* the backing files read-only: a base stays without write bits
		 * (the mark the storage layer knows bases by, sm/file.c), and
		 * QEMU writes only the top (block-stream copies into it) */
		if (qemu_grant_path(dir, uid, cur, write && depth == 0, err) < 0) {
			free(cur);
			return -1;
		}
		unsigned char hdr[4096];
		int fd = open(cur, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? pread(fd, hdr, sizeof hdr, 0) : -1;
		if (fd >= 0)
			close(fd);
		char name[4096];
		char *next = NULL;
		if (n > 0 && foreign_qcow2_backing(hdr, (size_t)n, name, sizeof name) == 1) {
			if (name[0] == '/') {
				next = xstrdup(name);
			} else if (!strstr(name, "://") && !strchr(name, ':')) {
				char *slash = strrchr(cur, '/');
				next = xasprintf("%.*s/%s", (int)(slash - cur), cur, name);
			}
		}
		free(cur);
		cur = next;
	}
	free(cur);
	return 0;
}

void qemu_revoke_all(const char *dir)
{
	char *g = qemu_file(dir, "grants");
	FILE *f = fopen(g, "re");
	if (f) {
		char line[4200];
		while (fgets(line, sizeof line, f)) {
			line[strcspn(line, "\n")] = '\0';
			char *sp = strchr(line, ' ');
			if (!sp)
				continue;
			uid_t uid = (uid_t)strtoul(line, NULL, 10);
			if (acl_user(sp + 1, uid, 0) < 0 && errno != ENOENT)
				log_warn("qemu: cannot take uid %u out of %s's ACL: %s", (unsigned)uid, sp + 1,
					 strerror(errno));
		}
		fclose(f);
	}
	unlink(g);
	free(g);
}
