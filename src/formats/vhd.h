/* vhd: the Microsoft VHD format both ways — a dynamic VHD generated from an
 * image as it is read (vhd_out.c) and an upload parsed as it streams in
 * (vhd_in.c). Pure formats: no daemon state. */
#ifndef XENON_FORMATS_VHD_H
#define XENON_FORMATS_VHD_H

#include <stdint.h>
#include <sys/types.h>

#include "img.h"

/* A dynamic VHD of an image, generated as it is read: footer, header and
 * BAT from the allocation map, then the allocated 2 MiB blocks. With a
 * base, only the blocks that differ from it (a delta to apply on it). */
struct vhd_out;
struct vhd_out *vhd_out_new(struct img *im, struct img *base, const char *uuid, struct xerr *err);
uint64_t vhd_out_size(const struct vhd_out *v);
ssize_t vhd_out_read(struct vhd_out *v, struct img *im, uint64_t pos, char *buf, size_t max,
		     struct xerr *err);
void vhd_out_free(struct vhd_out *v);

/* A VHD upload (dynamic or fixed) parsed as it streams in (vhd_in.c);
 * write gets the disk's data in order of the file, holes left out.
 * body_len is the upload's length (-1 if unknown). */
typedef int (*vhd_write_fn)(void *arg, int64_t off, const char *p, size_t n, struct xerr *err);
struct vhd_in;
struct vhd_in *vhd_in_new(vhd_write_fn write, void *arg, int64_t body_len);
int vhd_in_feed(struct vhd_in *v, const char *p, size_t n, struct xerr *err);
/* Whether everything the headers promised arrived. */
int vhd_in_end(struct vhd_in *v, struct xerr *err);
int64_t vhd_in_size(const struct vhd_in *v);
void vhd_in_free(struct vhd_in *v);

#endif
