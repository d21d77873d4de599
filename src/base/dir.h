/* dir: directories made with their parents (mkdir -p), for the data and
 * run directories, SR roots and their like. */
#ifndef XENON_BASE_DIR_H
#define XENON_BASE_DIR_H

#include <sys/types.h>

/* Makes path and every missing parent with mode; one that exists already
 * as a directory is fine, anything else there is -ENOTDIR. 0, or -errno of
 * the first component that could not be made, with *failed (if given)
 * that component, owned. */
int dir_make_all(const char *path, mode_t mode, char **failed);

#endif
