/* vhd_out: a dynamic VHD (Microsoft VHD spec 1.0) written as a stream.
 * Layout: footer copy, dynamic header, BAT (padded to a sector), then for
 * each allocated block its sector bitmap (all set) and 2 MiB of data, then
 * the footer. Only blocks holding data are emitted, so the stream's size is
 * known before the first byte goes out. */
#include "vhd.h"
#include "../base/mem.h"
#include "../base/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCK (2u << 20)
#define BITMAP 512u /* 4096 sectors → 512 bytes, already a sector */
#define VHD_EPOCH 946684800 /* 2000-01-01 */

struct vhd_out {
	int64_t vsize;
	uint32_t nblocks, nalloc;
	uint32_t *alloc; /* block numbers in order */
	unsigned char *head; /* footer + header + BAT */
	size_t headlen;
	unsigned char foot[512];
};

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

static void be64(unsigned char *p, uint64_t v)
{
	be32(p, v >> 32);
	be32(p + 4, (uint32_t)v);
}

static uint32_t checksum(const unsigned char *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += p[i];
	return ~s;
}

/* CHS as the spec's algorithm computes it. */
static uint32_t geometry(int64_t size)
{
	uint64_t ts = (uint64_t)size / 512, cth;
	uint32_t spt, heads;
	if (ts > 65535ull * 16 * 255)
		ts = 65535ull * 16 * 255;
	if (ts >= 65535ull * 16 * 63) {
		spt = 255, heads = 16, cth = ts / spt;
	} else {
		spt = 17, cth = ts / spt;
		heads = (uint32_t)((cth + 1023) / 1024);
		if (heads < 4)
			heads = 4;
		if (cth >= heads * 1024ull || heads > 16)
			spt = 31, heads = 16, cth = ts / spt;
		if (cth >= heads * 1024ull)
			spt = 63, heads = 16, cth = ts / spt;
	}
	uint32_t cyl = (uint32_t)(cth / heads);
	return (cyl << 16) | (heads << 8) | spt;
}

static void uuid_bytes(const char *s, unsigned char out[16])
{
	size_t k = 0;
	for (size_t i = 0; s[i] && k < 16; i++) {
		if (s[i] == '-')
			continue;
		unsigned v;
		if (sscanf(s + i, "%2x", &v) != 1)
			break;
		out[k++] = (unsigned char)v;
		i++;
	}
}

/* Whether [off, off+len) of im reads as zeros, from the allocation map. */
static int all_zero(struct img *im, int64_t off, int64_t len, bool *zero, struct xerr *err)
{
	*zero = true;
	int64_t end = off + len < img_size(im) ? off + len : img_size(im);
	while (off < end && *zero) {
		int64_t n;
		bool data;
		if (img_extent(im, off, &n, &data, err) < 0)
			return -1;
		if (n <= 0)
			break;
		*zero = !data;
		off += n;
	}
	return 0;
}

/* With a base: a block goes out only if its contents differ from the
 * base's (read and compared; both all-zero by the maps counts as equal). */
static int differs(struct img *im, struct img *base, int64_t off, char *a, char *b, bool *out,
		   struct xerr *err)
{
	bool za, zb;
	if (all_zero(im, off, BLOCK, &za, err) < 0 || all_zero(base, off, BLOCK, &zb, err) < 0)
		return -1;
	if (za && zb) {
		*out = false;
		return 0;
	}
	size_t n = img_size(im) - off < BLOCK ? (size_t)(img_size(im) - off) : BLOCK;
	size_t nb = off >= img_size(base) ? 0
		  : (img_size(base) - off < (int64_t)n ? (size_t)(img_size(base) - off) : n);
	if (img_read(im, a, n, off, err) < 0 || (nb && img_read(base, b, nb, off, err) < 0))
		return -1;
	memset(b + nb, 0, n - nb);
	*out = memcmp(a, b, n) != 0;
	return 0;
}

struct vhd_out *vhd_out_new(struct img *im, struct img *base, const char *uuid, struct xerr *err)
{
	int64_t size = img_size(im);
	if (size > 2040LL << 30) {
		xerr_set(err, ERR_VDI_IO_ERROR, "VHD is limited to 2 TiB", NULL);
		return NULL;
	}
	struct vhd_out *v = xcalloc(1, sizeof *v);
	v->vsize = size;
	v->nblocks = (uint32_t)((size + BLOCK - 1) / BLOCK);
	v->alloc = xmalloc(((size_t)v->nblocks + 1) * sizeof *v->alloc);
	if (base) {
		char *a = xmalloc(BLOCK), *b = xmalloc(BLOCK);
		int rc = 0;
		for (uint32_t k = 0; rc == 0 && k < v->nblocks; k++) {
			bool d = false;
			rc = differs(im, base, (int64_t)k * BLOCK, a, b, &d, err);
			if (d)
				v->alloc[v->nalloc++] = k;
		}
		free(a);
		free(b);
		if (rc < 0) {
			vhd_out_free(v);
			return NULL;
		}
	}
	/* which blocks hold data, from the allocation map */
	for (int64_t off = 0; !base && off < size;) {
		int64_t len;
		bool data;
		if (img_extent(im, off, &len, &data, err) < 0) {
			vhd_out_free(v);
			return NULL;
		}
		if (data) {
			uint32_t first = (uint32_t)(off / BLOCK), last = (uint32_t)((off + len - 1) / BLOCK);
			for (uint32_t b = first; b <= last; b++)
				if (!v->nalloc || v->alloc[v->nalloc - 1] < b)
					v->alloc[v->nalloc++] = b;
		}
		off += len;
	}
	size_t batlen = ((size_t)v->nblocks * 4 + 511) & ~(size_t)511;
	v->headlen = 512 + 1024 + batlen;
	v->head = xmalloc(v->headlen);
	memset(v->head, 0, v->headlen);

	unsigned char *f = v->foot;
	memcpy(f, "conectix", 8);
	be32(f + 8, 2);
	be32(f + 12, 0x00010000);
	be64(f + 16, 512);
	be32(f + 24, (uint32_t)(time(NULL) - VHD_EPOCH));
	memcpy(f + 28, "tap\0", 4); /* blktap/vhd-tool; qemu then trusts current_size */
	be32(f + 32, 0x00010000);
	memcpy(f + 36, "Lnux", 4);
	be64(f + 40, (uint64_t)size);
	be64(f + 48, (uint64_t)size);
	be32(f + 56, geometry(size));
	be32(f + 60, 3); /* dynamic */
	uuid_bytes(uuid, f + 68);
	be32(f + 64, checksum(f, 512));
	memcpy(v->head, f, 512);

	unsigned char *h = v->head + 512;
	memcpy(h, "cxsparse", 8);
	be64(h + 8, ~0ull);
	be64(h + 16, 1536);
	be32(h + 24, 0x00010000);
	be32(h + 28, v->nblocks);
	be32(h + 32, BLOCK);
	be32(h + 36, checksum(h, 1024));

	unsigned char *bat = v->head + 1536;
	memset(bat, 0xff, batlen);
	for (uint32_t i = 0; i < v->nalloc; i++) {
		uint64_t at = v->headlen + (uint64_t)i * (BITMAP + BLOCK);
		be32(bat + (size_t)v->alloc[i] * 4, (uint32_t)(at / 512));
	}
	return v;
}

uint64_t vhd_out_size(const struct vhd_out *v)
{
	return v->headlen + (uint64_t)v->nalloc * (BITMAP + BLOCK) + 512;
}

ssize_t vhd_out_read(struct vhd_out *v, struct img *im, uint64_t pos, char *buf, size_t max,
		     struct xerr *err)
{
	uint64_t total = vhd_out_size(v);
	if (pos >= total)
		return 0;
	if (pos < v->headlen) {
		size_t n = v->headlen - pos < max ? (size_t)(v->headlen - pos) : max;
		memcpy(buf, v->head + pos, n);
		return (ssize_t)n;
	}
	uint64_t body = total - 512;
	if (pos >= body) {
		size_t n = total - pos < max ? (size_t)(total - pos) : max;
		memcpy(buf, v->foot + (pos - body), n);
		return (ssize_t)n;
	}
	uint64_t rel = pos - v->headlen;
	uint32_t k = (uint32_t)(rel / (BITMAP + BLOCK));
	uint64_t in = rel % (BITMAP + BLOCK);
	if (in < BITMAP) {
		size_t n = BITMAP - in < max ? (size_t)(BITMAP - in) : max;
		memset(buf, 0xff, n);
		return (ssize_t)n;
	}
	in -= BITMAP;
	size_t n = BLOCK - in < max ? (size_t)(BLOCK - in) : max;
	int64_t off = (int64_t)v->alloc[k] * BLOCK + (int64_t)in;
	/* the last block may run past the disk's end: zeros there */
	size_t inside = off >= v->vsize ? 0 : (v->vsize - off < (int64_t)n ? (size_t)(v->vsize - off) : n);
	if (inside && img_read(im, buf, inside, off, err) < 0)
		return -1;
	memset(buf + inside, 0, n - inside);
	return (ssize_t)n;
}

void vhd_out_free(struct vhd_out *v)
{
	if (!v)
		return;
	free(v->alloc);
	free(v->head);
	free(v);
}
