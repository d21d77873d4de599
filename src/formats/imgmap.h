/* imgmap: where a local image's bytes live. qemu-img names the files of
 * the image's backing chain and, for each extent of the virtual disk, the
 * chain member and file offset holding its data, or that it reads as
 * zeros. With that map a read-only transfer preads the files itself: no
 * NBD server in between, so an export runs at the speed of the disk. Only
 * plain qcow2 and raw chains qualify; anything else (compressed or
 * encrypted clusters, other formats, files named by protocol) is refused
 * and the caller keeps the NBD path, which reads every format. */
#ifndef XENON_FORMATS_IMGMAP_H
#define XENON_FORMATS_IMGMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/dio.h"

struct imgmap_ext {
	int64_t off, len; /* in the virtual disk */
	bool data;        /* false: reads as zeros */
	int depth;        /* data: which chain member (0 = the image itself) */
	int64_t foff;     /* data: offset in that member's file */
};

struct imgmap {
	int64_t size; /* the virtual size */
	int *fds;     /* read-only, one per chain member */
	size_t nfds;
	struct imgmap_ext *ext; /* sorted, contiguous, covering [0, size) */
	size_t n;
	/* Data the page cache does not hold is read with O_DIRECT into a
	 * window of the file, so a cold export neither fills the cache nor
	 * pays a page allocation per 4 KiB (base/dio.h): one per member.
	 * A thread reads the window after it meanwhile (ahead). */
	struct dio *dio;
	char *win;
	int win_depth;
	int64_t win_off, win_len;
	struct imgmap_ahead *ahead;
	uint64_t ahead_hits; /* windows found read ahead */
};

/* The map of the image at path from what `qemu-img info --backing-chain
 * --output=json` and `qemu-img map --output=json` printed for it (the
 * caller runs them: sm_imgmap_open in sm/sm.h), its chain's files opened.
 * NULL when the image does not qualify (the reason is logged at debug
 * level). */
struct imgmap *imgmap_open_json(const char *path, const char *info_json, const char *map_json);
void imgmap_free(struct imgmap *m);

/* Parses `qemu-img info --backing-chain --output=json` and `qemu-img map
 * --output=json` output into m (fds left unopened, nfds = members named in
 * *files, owned). Split out for unit tests; -1 when it does not qualify. */
int imgmap_parse(const char *info_json, const char *map_json, struct imgmap *m, char ***files);

/* The extent holding off (off < m->size). */
const struct imgmap_ext *imgmap_find(const struct imgmap *m, int64_t off);
/* The same in any sorted, contiguous extent list of n > 0 entries
 * starting at or before off. */
const struct imgmap_ext *imgmap_ext_find(const struct imgmap_ext *ext, size_t n, int64_t off);

/* n bytes at off into buf, zeros for holes. -1 with errno on failure.
 * One reader at a time (the window). */
int imgmap_read(struct imgmap *m, void *buf, size_t n, int64_t off);

#endif
