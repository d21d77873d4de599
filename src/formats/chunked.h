/* chunked: xapi's "chunked" raw upload (vhd-tool's protocol) — pieces of a
 * disk, each a 12-byte header (offset u64, length u32, little-endian) and
 * its data, ended by a header of zeros. Read as it arrives, in pieces of
 * any size. Pure format code: the caller writes the data. */
#ifndef XENON_FORMATS_CHUNKED_H
#define XENON_FORMATS_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/xerr.h"

/* Callbacks return 0, or -1 with err set (which stops the reading). */
struct chunked_ops {
	/* a piece of len bytes at off begins (off + len within the disk) */
	int (*piece)(void *arg, uint64_t off, uint32_t len, struct xerr *err);
	int (*data)(void *arg, const char *p, size_t n, struct xerr *err);
	/* the end header came */
	int (*end)(void *arg, struct xerr *err);
};

struct chunked {
	const struct chunked_ops *ops;
	void *arg;
	uint64_t disk_size;
	unsigned char hdr[12];
	size_t hfill;
	uint64_t left; /* data bytes still due in the current piece */
	bool ended;
};

void chunked_init(struct chunked *ck, const struct chunked_ops *ops, void *arg, uint64_t disk_size);
/* 0, or -1 with err set: IMPORT_ERROR for data after the end or a piece
 * beyond the disk, or the callback's error. */
int chunked_feed(struct chunked *ck, const char *p, size_t n, struct xerr *err);

#endif
