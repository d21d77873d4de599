/* dio: reading a file past the page cache where the cache lacks the data
 * (dio.c). A cold disk image read through the cache costs a page
 * allocation and a copy per 4 KiB; read with O_DIRECT it costs neither,
 * but data the cache already holds is better copied from it. */
#ifndef XENON_BASE_DIO_H
#define XENON_BASE_DIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dio {
	int fd;    /* O_DIRECT; -1 where the filesystem has none */
	char *map; /* the file mapped, only to ask mincore; NULL: none */
	size_t map_len;
};

/* Opens path (whose ordinary descriptor is fd) for direct reads; d->fd is
 * -1 when that is not possible, and dio_cached then always says true. */
void dio_open(struct dio *d, int fd, const char *path);
/* Whether the page cache holds all of [off, off + len): read it the
 * ordinary way then. */
bool dio_cached(const struct dio *d, int64_t off, size_t len);
void dio_close(struct dio *d);

#endif
