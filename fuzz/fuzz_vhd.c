/* A VHD upload (format=vhd) as vhd_in reads it while it streams in: the
 * first byte sets the size of the pieces it arrives in, the second whether
 * the upload's length is known; written data must lie within the disk the
 * footer announces. */
#include "formats/vhd.h"

#include "base/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *arg, int64_t off, const char *p, size_t n, struct xerr *err)
{
	(void)p;
	(void)err;
	int64_t *hi = arg;
	if (off < 0) {
		fprintf(stderr, "write at negative offset %lld\n", (long long)off);
		abort();
	}
	if (off + (int64_t)n > *hi)
		*hi = off + (int64_t)n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(LOG_ERROR); /* refusals are expected: no line each */
	if (size < 2)
		return 0;
	size_t piece = 1 + data[0] * 37u;
	int64_t len = data[1] & 1 ? (int64_t)(size - 2) : -1;
	data += 2;
	size -= 2;
	int64_t hi = 0;
	struct vhd_in *v = vhd_in_new(sink, &hi, len);
	struct xerr err = {0};
	int rc = 0;
	for (size_t at = 0; at < size && rc == 0; at += piece)
		rc = vhd_in_feed(v, (const char *)data + at, size - at < piece ? size - at : piece, &err);
	if (rc == 0 && vhd_in_end(v, &err) == 0 && hi > vhd_in_size(v)) {
		fprintf(stderr, "data written up to %lld beyond the disk's %lld bytes\n", (long long)hi,
			(long long)vhd_in_size(v));
		abort();
	}
	xerr_clear(&err);
	vhd_in_free(v);
	return 0;
}
