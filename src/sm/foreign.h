/* foreign: disk images made elsewhere (qcow2, VMDK, VHD) uploaded into a
 * VDI or as a new VM's disks. An upload is staged in a file of the SR, its
 * header checked, inspected with qemu-img (always with an explicit format,
 * never probing) and copied into the VDI's own image through formats/img.c.
 * What is decided on bytes and on qemu-img's answers is in
 * formats/foreign.c; here are the file reads and the qemu-img runs. */
#ifndef XENON_FOREIGN_H
#define XENON_FOREIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/xerr.h"
#include "../formats/foreign.h"
#include "../formats/img.h"

/* The format a file announces (foreign_sniff), also finding a fixed VHD
 * by its footer at the end. */
const char *foreign_sniff_file(const char *path);

/* Checks the staged file at path as an image of fmt: its header passes
 * foreign_check_header, qemu-img opens it as fmt and its info passes
 * foreign_check_info (no other file named, not larger than
 * FOREIGN_MAX_SIZE), it is whole (qemu-img check where the format has one).
 * Sets *vsize. IMPORT_ERROR (or VDI_TOO_LARGE) otherwise. */
int foreign_inspect(const char *path, const char *fmt, int64_t *vsize, struct xerr *err);

/* Copies the inspected image into dst extent by extent; holes stay holes
 * when dst is fresh (all zero), else are zeroed. */
int foreign_copy(const char *path, const char *fmt, struct img *dst, bool fresh,
		 struct xerr *err);

#endif
