/* private: what xenond keeps under its data and run directories (the
 * store, with secret values in it and in its WAL, password hashes, the
 * root password, TLS keys, VM consoles and sockets) is for xenond's user
 * alone (see private.h). */
#include "private.h"
#include "../base/log.h"

#include <errno.h>
#include <stdbool.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OPEN_BITS ((mode_t)(S_IRWXG | S_IRWXO))

void private_umask(void)
{
	umask(umask(0) | OPEN_BITS);
}

/* One entry of the walk: a directory or regular file of ours with group
 * or other bits loses them. Symbolic links, sockets and FIFOs are left as
 * they are (the directories they are in keep others out). */
static int tighten_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	bool dir = type == FTW_D || type == FTW_DNR;
	if (!(dir || (type == FTW_F && S_ISREG(st->st_mode))) || !(st->st_mode & OPEN_BITS) ||
	    st->st_uid != geteuid())
		return 0;
	if (chmod(path, st->st_mode & 07777 & ~OPEN_BITS) < 0)
		log_warn("cannot make %s private: %s", path, strerror(errno));
	return 0;
}

int private_tighten(const char *dir, struct xerr *err)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return xerr_internal(err, "cannot look at %s: %s", dir, strerror(errno));
	/* a shared directory such as /tmp is nobody's to close */
	if (!S_ISDIR(st.st_mode) || (st.st_mode & S_ISVTX))
		return xerr_internal(err, "%s is not a directory of xenond's own", dir);
	/* not into mounts (an NFS SR's) nor along symbolic links */
	if (nftw(dir, tighten_one, 16, FTW_PHYS | FTW_MOUNT) < 0)
		return xerr_internal(err, "cannot walk %s: %s", dir, strerror(errno));
	return 0;
}
