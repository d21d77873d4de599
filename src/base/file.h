/* file: a whole file read into memory, for certificates, keys, small
 * state files and their like. */
#ifndef XENON_BASE_FILE_H
#define XENON_BASE_FILE_H

#include <stddef.h>

/* The file at path, at most max bytes of it (0: all of it), in a buffer
 * the caller frees, with a NUL after its last byte (so text reads as a
 * string); *len (if given) its length. NULL with errno set (and *len 0)
 * when the file cannot be opened or read. */
char *file_read(const char *path, size_t max, size_t *len);

#endif
