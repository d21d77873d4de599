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

/* One block of the plan, in order: data holds its bytes, or is NULL when
 * the reader left it unread because the page cache holds it and the
 * caller sends it from the file itself (sendfile). */
struct reader_block {
	off_t off;
	size_t len;
	const char *data;
};

/* Starts reading segs (kept by the caller until reader_stop) of fd, which
 * is open on path. from_file: leave the blocks the page cache holds
 * unread. Blocks never span two segs. */
struct reader *reader_start(int fd, const char *path, const struct reader_seg *segs, size_t nsegs,
			    bool from_file);
/* The plan's next block, waiting until it is read: 0, or an errno when a
 * read failed or the file shrank. Valid until reader_release. */
int reader_next(struct reader *r, struct reader_block *b);
void reader_release(struct reader *r);
void reader_stop(struct reader *r);

#endif
