/* tar: the ustar headers of XVA and OVA packages, one 512-byte block per
 * file. Pure format code. */
#ifndef XENON_FORMATS_TAR_H
#define XENON_FORMATS_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A 512-byte ustar header for a regular file. */
void tar_header(unsigned char hdr[512], const char *name, uint64_t size);
/* Name and size of a header; 1 for an all-zero block (the end), 0 for a
 * file, -1 if the header is damaged. */
int tar_parse(const unsigned char hdr[512], char name[256], uint64_t *size);

/* A tar stream read as it arrives, in pieces of any size: each member is
 * announced, its data handed on, its end told; padding and the end blocks
 * are taken care of. Callbacks return 0, or a negative value that stops
 * the reading and is returned by tar_reader_feed. */
struct tar_reader_ops {
	int (*member)(void *arg, const char *name, uint64_t size);
	int (*data)(void *arg, const char *p, size_t n);
	int (*member_end)(void *arg);
};

struct tar_reader {
	const struct tar_reader_ops *ops;
	void *arg;
	unsigned char hdr[512];
	size_t hfill;
	int st; /* 0 header, 1 data, 2 padding, 3 past the end */
	uint64_t remain, pad;
};

#define TAR_BAD_HEADER (-2)

void tar_reader_init(struct tar_reader *t, const struct tar_reader_ops *ops, void *arg);
/* 0; a callback's negative value; TAR_BAD_HEADER for a damaged header. */
int tar_reader_feed(struct tar_reader *t, const char *p, size_t n);
/* The end-of-archive blocks have been read. */
bool tar_reader_ended(const struct tar_reader *t);

#endif
