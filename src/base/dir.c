/* dir: mkdir -p (see dir.h). */
#include "dir.h"
#include "mem.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>

/* mkdir, where a directory already there counts as made (even one in a
 * parent we may not write: EACCES, EROFS); anything else there is
 * ENOTDIR. */
static int make_one(const char *p, mode_t mode)
{
	if (mkdir(p, mode) == 0)
		return 0;
	int e = errno;
	struct stat st;
	if (stat(p, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	return -e;
}

int dir_make_all(const char *path, mode_t mode, char **failed)
{
	if (!*path)
		return -ENOENT;
	char *p = xstrdup(path);
	int rc = 0;
	for (char *s = p + 1;; s++) {
		bool end = *s == '\0';
		if (*s != '/' && !end)
			continue;
		*s = '\0';
		if (*p && (rc = make_one(p, mode)) < 0) {
			if (failed)
				*failed = xstrdup(p);
			break;
		}
		if (end)
			break;
		*s = '/';
	}
	free(p);
	return rc;
}
