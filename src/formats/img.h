/* img: the image reader and writer — sequential access to a disk image's
 * data for transfers, with no daemon state. The image
 * is served by a qemu-nbd child (socket activation through libnbd), so
 * every format qemu reads works, backing chains are followed, and the
 * allocation map (NBD block status) lets readers skip holes: a 100 GiB
 * empty disk costs a few requests, not 100 GiB of reads. */
#ifndef XENON_FORMATS_IMG_H
#define XENON_FORMATS_IMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/xerr.h"

struct img;
struct imgmap;

/* format: "qcow2", "raw", "vpc"… Writable opens allow pwrite. map (taken,
 * may be NULL): the image's extent map (imgmap.h) when the caller has one —
 * reads then go straight to the files, else through qemu-nbd. sm_img_open
 * (sm/sm.h) finds the map with qemu-img. */
struct img *img_open(const char *path, const char *format, bool writable, struct imgmap *map,
		     struct xerr *err);
/* A new image for a VDI that holds nothing yet (a local qcow2 just made):
 * written in order without qemu-nbd (qcow2w.c) beside path, and put in its
 * place by img_flush; closing unflushed leaves path as it was. Writes and
 * zeroes only, at growing offsets. */
struct img *img_open_fresh(const char *path, int64_t size, struct xerr *err);
void img_close(struct img *im);
int64_t img_size(const struct img *im);
/* The extent holding off: *len bytes from off that are all data
 * (*data = true) or all zero (*data = false). */
int img_extent(struct img *im, int64_t off, int64_t *len, bool *data, struct xerr *err);
/* Reads n bytes at off, holes as zeros (only data extents are read). */
int img_read(struct img *im, void *buf, size_t n, int64_t off, struct xerr *err);
/* Queued: buf may be reused at once; errors show on a later write or on
 * img_flush, which waits for every queued write. */
int img_write(struct img *im, const void *buf, size_t n, int64_t off, struct xerr *err);
/* The same without the copy: buf comes from img_wbuf and is the image's
 * from now on, freed once written (or on failure). */
void *img_wbuf(size_t n);
void img_wbuf_free(void *buf);
int img_write_take(struct img *im, void *buf, size_t n, int64_t off, struct xerr *err);
int img_zero(struct img *im, size_t n, int64_t off, struct xerr *err);
int img_flush(struct img *im, struct xerr *err);

bool buf_is_zero(const void *buf, size_t n);

#endif
