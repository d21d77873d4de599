/* foreign (formats): what can be told about a disk image made elsewhere
 * (qcow2, VMDK, VHD) without opening it — from its first bytes, from its
 * header, and from the JSON `qemu-img info` printed about it — with no file,
 * process or daemon state. sm/foreign.c runs qemu-img and calls these.
 * Uploaded images are hostile until proven otherwise: one that names
 * another file (a backing file, a data file, a VMDK extent) would make qemu
 * read the server's files, so it is refused before anything opens it. */
#ifndef XENON_FORMATS_FOREIGN_H
#define XENON_FORMATS_FOREIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/xerr.h"

/* The largest virtual size accepted (VDI_TOO_LARGE beyond): what a qcow2
 * VDI of the file SR is allowed to grow to. */
#define FOREIGN_MAX_SIZE (64ll << 40)

/* How many bytes of an image's start (or, for a fixed VHD, of its end)
 * foreign_check_header looks at. */
#define FOREIGN_HEADER_BYTES 512

/* The message of the refusal of an image naming another file. */
#define FOREIGN_NAMES_OTHER_FILE                                                                  \
	"the image names another file (backing file, data file or extent): not accepted"

/* The format an image's first bytes announce: "qcow2", "vmdk" (a sparse
 * extent, KDMV), "vhd" (a dynamic VHD's footer copy), else NULL. */
const char *foreign_sniff(const void *p, size_t n);
/* The same for the last bytes of an image: "vhd" when the 512 bytes
 * before the end are a VHD footer (a fixed VHD has nothing else). */
const char *foreign_sniff_tail(const void *p, size_t n);
/* Whether fmt is one of the staged upload formats (qcow2, vmdk, vhd). */
bool foreign_format(const char *fmt);
/* qemu's driver name for an upload format name ("vhd" is "vpc"). */
const char *foreign_qemu_fmt(const char *fmt);

/* Checks the header of an image of fmt (its first bytes, or a VHD's
 * footer): the magic agrees, the header is whole and of a known version,
 * it names no backing file, external data file or parent, its size is at
 * most FOREIGN_MAX_SIZE. IMPORT_ERROR (or VDI_TOO_LARGE) otherwise. */
int foreign_check_header(const char *fmt, const void *p, size_t n, struct xerr *err);

/* Checks what `qemu-img info --output=json` said (json, NUL-terminated)
 * about the image at path opened as fmt: it names no other file (backing
 * file, data file, an extent or a child node elsewhere), and its virtual
 * size is positive and at most FOREIGN_MAX_SIZE. Sets *vsize (-1 when
 * there is none). IMPORT_ERROR (or VDI_TOO_LARGE) otherwise. */
int foreign_check_info(const char *json, const char *path, const char *fmt, int64_t *vsize,
		       struct xerr *err);

/* The backing file a qcow2 header (its first n bytes) names, copied into
 * out (NUL-terminated, as written: relative names are relative to the
 * image's directory): 1; 0 when it names none; -1 when the header is not
 * a qcow2 header or the name does not lie whole in the n bytes or cap. */
int foreign_qcow2_backing(const void *p, size_t n, char *out, size_t cap);

#endif
