/* private: keeps xenond's data and run directories to its own user. Any
 * local user could otherwise read the store (secret values in plain text,
 * in db.sqlite and its WAL), the root password and the TLS key. */
#ifndef XENON_PRIVATE_H
#define XENON_PRIVATE_H

#include "../base/xerr.h"

/* Adds group and other to the umask, whatever the daemon was started
 * with: every file and directory it (and what it runs) makes afterwards
 * is its user's alone, SQLite's WAL and shared-memory files included,
 * which take the database file's mode. Call first, before any thread. */
void private_umask(void);
/* Takes the group and other bits off dir and every directory and regular
 * file under it that xenond's user owns, without following symbolic links
 * or crossing into mounts: a directory made by an older version or under
 * a wider umask is tightened at start. A sticky directory (/tmp) is
 * refused, being shared. */
int private_tighten(const char *dir, struct xerr *err);

#endif
