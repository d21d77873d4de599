/* dio: see dio.h. mincore on a mapping of the file tells which pages the
 * cache holds without reading them (preadv2's RWF_NOWAIT would start the
 * cache's read-ahead while refusing). */
#include "dio.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void dio_open(struct dio *d, int fd, const char *path)
{
	d->map = NULL;
	d->map_len = 0;
	d->fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	struct stat st;
	if (d->fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0)
		return;
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m != MAP_FAILED) {
		d->map = m;
		d->map_len = (size_t)st.st_size;
	}
}

bool dio_cached(const struct dio *d, int64_t off, size_t len)
{
	if (d->fd < 0)
		return true;
	if (!d->map || off < 0 || (uint64_t)off + len > d->map_len)
		return false;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t first = (size_t)off / pg, end = ((size_t)off + len + pg - 1) / pg;
	unsigned char vec[1024];
	for (size_t p = first; p < end; p += sizeof vec) {
		size_t n = end - p < sizeof vec ? end - p : sizeof vec;
		if (mincore(d->map + p * pg, n * pg, vec) < 0)
			return false;
		for (size_t i = 0; i < n; i++)
			if (!(vec[i] & 1))
				return false;
	}
	return true;
}

void dio_close(struct dio *d)
{
	if (d->fd >= 0)
		close(d->fd);
	if (d->map)
		munmap(d->map, d->map_len);
	d->fd = -1;
	d->map = NULL;
}
