/* ova: what a PUT /import that is not an XVA makes, decided without the
 * daemon — what the body's first bytes are, what each member of an OVA
 * package is for, and the new VM as a plain description (name, vCPUs,
 * memory, its disks in order with their capacities) from the OVA's OVF
 * (ovf.h) or for one bare image. server/ova_import.c streams the body and
 * stages the disks; api/transfer_ova.c makes the records. */
#ifndef XENON_OVA_H
#define XENON_OVA_H

#include <stddef.h>
#include <stdint.h>

#include "../base/xerr.h"
#include "ovf.h"

/* How many first bytes of a body ova_body_kind wants (one tar header). */
#define OVA_SNIFF 512
/* The largest descriptor read into memory. */
#define OVA_MAX_OVF (4 << 20)
#define OVA_DEFAULT_NAME "imported VM"
#define OVA_DEFAULT_MEMORY (INT64_C(1) << 30)

enum ova_body {
	OVA_BODY_IMAGE, /* a qcow2, VMDK (sparse) or dynamic VHD image */
	OVA_BODY_OVA,   /* a tar whose first member is an .ovf */
	OVA_BODY_OTHER, /* anything else: an XVA, or nothing we know */
};

/* What the first n bytes of a body are (n < OVA_SNIFF: the whole body). */
enum ova_body ova_body_kind(const void *p, size_t n);

enum ova_member {
	OVA_MEMBER_OVF,  /* the descriptor */
	OVA_MEMBER_SKIP, /* a manifest, a certificate, an empty member */
	OVA_MEMBER_FILE, /* staged: perhaps a disk the OVF names */
};

/* What the package's member name of size bytes is for (suffixes compared
 * without case). */
enum ova_member ova_member_kind(const char *name, uint64_t size);

struct ova_disk {
	char *href;       /* the package member holding it; NULL for a bare image */
	char *label;      /* the new VDI's name_label: "<VM name> disk <i>" */
	int64_t capacity; /* bytes the OVF asks for at least, 0 none */
};

/* A new VM: disks[i] becomes device i, the first bootable. */
struct ova_vm {
	char *name;              /* never empty */
	const char *description; /* its name_description */
	int64_t vcpus;           /* at least 1 */
	int64_t memory;          /* bytes, more than 0 */
	struct ova_disk *disks;
	size_t ndisks;
};

/* The VM an OVF describes: its name (else OVA_DEFAULT_NAME), vCPUs (else
 * 1), memory (else OVA_DEFAULT_MEMORY) and disks in the DiskSection's
 * order. IMPORT_ERROR when it describes no disk. */
int ova_vm_from_ovf(const struct ovf *o, struct ova_vm *out, struct xerr *err);
/* The VM of one bare image, named name (else OVA_DEFAULT_NAME). */
void ova_vm_from_image(const char *name, struct ova_vm *out);
void ova_vm_free(struct ova_vm *vm);

#endif
