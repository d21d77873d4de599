/* The checks on an uploaded foreign image before qemu-img opens it: the
 * format its first bytes (or a VHD's last 512) announce, and the header
 * checks of qcow2, VMDK and VHD (backing files, data files, sizes), and
 * the backing file a qcow2 header names (what xenond follows to give a
 * VM's QEMU its disk chain). The first byte picks the format the upload
 * claims. */
#include "formats/foreign.h"

#include "base/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(LOG_ERROR); /* refusals are expected: no line each */
	if (size < 1)
		return 0;
	static const char *const fmts[] = {"qcow2", "vmdk", "vhd"};
	const char *claimed = fmts[data[0] % 3];
	data++;
	size--;
	/* a copy of exactly size bytes, so a read past it is caught */
	unsigned char *p = malloc(size ? size : 1);
	memcpy(p, data, size);
	(void)foreign_sniff(p, size);
	(void)foreign_sniff_tail(p, size);
	struct xerr err = {0};
	(void)foreign_check_header(claimed, p, size, &err);
	xerr_clear(&err);
	const char *sniffed = foreign_sniff(p, size);
	if (sniffed && strcmp(sniffed, claimed)) {
		(void)foreign_check_header(sniffed, p, size, &err);
		xerr_clear(&err);
	}
	char name[1024];
	int r = foreign_qcow2_backing(p, size, name, sizeof name);
	if (r == 1 && strlen(name) >= sizeof name)
		abort();
	free(p);
	return 0;
}
