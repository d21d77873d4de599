/* foreign: disk images made elsewhere (qcow2, VMDK, VHD) uploaded into a
 * VDI or as a new VM's disks. An upload is staged in a file of the SR,
 * inspected with qemu-img (always with an explicit format, never probing)
 * and copied into the VDI's own image through formats/img.c. Uploaded images
 * are hostile until proven otherwise: one that names another file (a
 * backing file, a data file, a VMDK extent) would make qemu read the
 * server's files, so it is refused before anything opens it. */
#ifndef XENON_FOREIGN_H
#define XENON_FOREIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/xerr.h"
#include "../formats/img.h"

/* The largest virtual size accepted (VDI_TOO_LARGE beyond): what a qcow2
 * VDI of the file SR is allowed to grow to. */
#define FOREIGN_MAX_SIZE (64ll << 40)

/* The format an image's first bytes announce: "qcow2", "vmdk" (a sparse
 * extent, KDMV), "vhd" (a dynamic VHD's footer copy), else NULL. */
const char *foreign_sniff(const void *p, size_t n);
/* The same for a file, also finding a fixed VHD by its footer at the end. */
const char *foreign_sniff_file(const char *path);
/* Whether fmt is one of the staged upload formats (qcow2, vmdk, vhd). */
bool foreign_format(const char *fmt);

/* Checks the staged file at path as an image of fmt: its magic agrees,
 * qemu-img opens it as fmt, it names no other file, it is whole (qemu-img
 * check where the format has one) and not larger than FOREIGN_MAX_SIZE.
 * Sets *vsize. IMPORT_ERROR (or VDI_TOO_LARGE) otherwise. */
int foreign_inspect(const char *path, const char *fmt, int64_t *vsize, struct xerr *err);

/* Copies the inspected image into dst extent by extent; holes stay holes
 * when dst is fresh (all zero), else are zeroed. */
int foreign_copy(const char *path, const char *fmt, struct img *dst, bool fresh,
		 struct xerr *err);

#endif
