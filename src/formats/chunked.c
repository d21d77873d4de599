/* chunked: the framing of xapi's chunked raw upload (chunked.h). */
#include "chunked.h"

#include <string.h>

void chunked_init(struct chunked *ck, const struct chunked_ops *ops, void *arg, uint64_t disk_size)
{
	memset(ck, 0, sizeof *ck);
	ck->ops = ops;
	ck->arg = arg;
	ck->disk_size = disk_size;
}

int chunked_feed(struct chunked *ck, const char *p, size_t n, struct xerr *err)
{
	while (n) {
		if (ck->ended)
			return xerr_set(err, ERR_IMPORT_ERROR, "data after the last chunk", NULL);
		if (ck->left) {
			size_t k = ck->left < n ? (size_t)ck->left : n;
			if (ck->ops->data(ck->arg, p, k, err) < 0)
				return -1;
			ck->left -= k;
			p += k;
			n -= k;
			continue;
		}
		size_t k = sizeof ck->hdr - ck->hfill < n ? sizeof ck->hdr - ck->hfill : n;
		memcpy(ck->hdr + ck->hfill, p, k);
		ck->hfill += k;
		p += k;
		n -= k;
		if (ck->hfill < sizeof ck->hdr)
			break;
		ck->hfill = 0;
		uint64_t off = 0;
		uint32_t len = 0;
		for (int i = 7; i >= 0; i--)
			off = off << 8 | ck->hdr[i];
		for (int i = 11; i >= 8; i--)
			len = len << 8 | ck->hdr[i];
		if (off == 0 && len == 0) { /* the end: the rest of the disk is zeros too */
			ck->ended = true;
			if (ck->ops->end(ck->arg, err) < 0)
				return -1;
			continue;
		}
		if (off > ck->disk_size || len > ck->disk_size - off)
			return xerr_set(err, ERR_IMPORT_ERROR, "the upload is larger than the disk", NULL);
		if (ck->ops->piece(ck->arg, off, len, err) < 0)
			return -1;
		ck->left = len;
	}
	return 0;
}
