/* reader: a file's parts read ahead, in order, for an upload (reader.c). */
#ifndef XENON_CLI_READER_H
#define XENON_CLI_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A part of the file: its offset a multiple of 4 KiB (0, or where
 * SEEK_DATA found data), its length anything. */
struct reader_seg {
	off_t off, len;
};

struct reader;

/* Starts reading segs (kept by the caller until reader_stop) of fd, which
 * is open on path. */
struct reader *reader_start(int fd, const char *path, const struct reader_seg *segs, size_t nsegs);
/* Up to max bytes at off, which must be where the plan has got to: bytes
 * copied, or -1 when a read failed. Blocks until they are read. */
ssize_t reader_get(struct reader *r, off_t off, char *p, size_t max);
void reader_stop(struct reader *r);

#endif
