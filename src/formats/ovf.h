/* ovf: what an OVF descriptor says about a VM's basic shape: its name,
 * vCPUs, memory and disks (file and capacity, in the DiskSection's order).
 * Only this much is read; networks, controllers and the rest are left to
 * the defaults of a new VM. */
#ifndef XENON_OVF_H
#define XENON_OVF_H

#include <stddef.h>
#include <stdint.h>

#include "../base/xerr.h"

struct ovf_disk {
	char *href;       /* the File the disk's fileRef names (a name in the package) */
	int64_t capacity; /* bytes, 0 if not given */
};

struct ovf {
	char *name;
	int64_t vcpus;  /* 0 if not given */
	int64_t memory; /* bytes, 0 if not given */
	struct ovf_disk *disks;
	size_t ndisks;
};

/* Parses the descriptor; IMPORT_ERROR when it is not an OVF envelope or a
 * disk names no file. */
int ovf_parse(const char *xml, size_t len, struct ovf *out, struct xerr *err);
void ovf_free(struct ovf *o);

#endif
