/* vhd_in: a VHD upload parsed as it streams in. A dynamic VHD's footer,
 * header and BAT come first; its blocks are then taken in file order
 * (sorted BAT) as they pass, each applied through its sector bitmap. A
 * fixed VHD is raw data followed by its footer. Differencing VHDs are
 * refused: their parent is not part of the upload. */
#include "vhd.h"
#include "../base/mem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEAD (64 << 20)

struct blk {
	uint64_t at; /* file offset */
	uint32_t idx;
};

struct vhd_in {
	vhd_write_fn write;
	void *arg;
	int64_t body_len;
	uint64_t pos;  /* bytes of the file seen */
	int phase;     /* 0 head, 1 blocks, 2 fixed (raw), 3 done */
	char *head;
	size_t hlen;
	uint64_t head_need;
	int64_t vsize;
	uint32_t block_size, bitmap_len;
	struct blk *blks;
	size_t nblks, next;
	char *blk; /* bitmap + data of the block being read */
	size_t bfill;
	unsigned char tail[512]; /* fixed: the footer after the data, checked at the end */
	size_t tfill;
};

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t rd64(const unsigned char *p)
{
	return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

/* The one's complement of the byte sum, the checksum field counted as zero. */
static bool sum_ok(const unsigned char *p, size_t n, size_t at)
{
	uint32_t s = 0;
	for (size_t i = 0; i < n; i++)
		if (i < at || i >= at + 4)
			s += p[i];
	return ~s == rd32(p + at);
}

struct vhd_in *vhd_in_new(vhd_write_fn write, void *arg, int64_t body_len)
{
	struct vhd_in *v = xcalloc(1, sizeof *v);
	v->write = write;
	v->arg = arg;
	v->body_len = body_len;
	v->head_need = 512;
	return v;
}

static int cmp_blk(const void *a, const void *b)
{
	const struct blk *x = a, *y = b;
	return x->at < y->at ? -1 : x->at > y->at;
}

static int bad(struct xerr *err, const char *why)
{
	return xerr_set(err, ERR_IMPORT_ERROR, why, NULL);
}

/* The head buffer holds head_need bytes: decide what comes next. */
static int head_step(struct vhd_in *v, struct xerr *err)
{
	const unsigned char *h = (const unsigned char *)v->head;
	if (v->hlen == 512) { /* the footer copy, or raw data of a fixed VHD */
		if (memcmp(h, "conectix", 8)) {
			if (v->body_len < 512)
				return bad(err, "a fixed VHD needs a Content-Length");
			v->phase = 2;
			v->vsize = v->body_len - 512;
			return 0;
		}
		if (!sum_ok(h, 512, 64))
			return bad(err, "bad VHD footer checksum");
		uint32_t type = rd32(h + 60);
		if (type == 4)
			return bad(err, "differencing VHDs cannot be imported");
		if (type != 3)
			return bad(err, "unsupported VHD type");
		v->vsize = (int64_t)rd64(h + 48);
		uint64_t hdr = rd64(h + 16);
		if (hdr < 512 || hdr > MAX_HEAD)
			return bad(err, "bad VHD header offset");
		v->head_need = hdr + 1024;
		return 0;
	}
	uint64_t hdr = rd64(h + 16);
	const unsigned char *d = h + hdr;
	if (v->hlen == hdr + 1024) {
		if (memcmp(d, "cxsparse", 8))
			return bad(err, "bad VHD dynamic header");
		if (!sum_ok(d, 1024, 36))
			return bad(err, "bad VHD dynamic header checksum");
		uint64_t bat = rd64(d + 16);
		uint32_t n = rd32(d + 28);
		v->block_size = rd32(d + 32);
		if (v->block_size < 512 || v->block_size > (64u << 20) || v->block_size % 512)
			return bad(err, "bad VHD block size");
		if ((uint64_t)n * v->block_size < (uint64_t)v->vsize)
			return bad(err, "VHD BAT too small for its size");
		uint64_t end = bat + (uint64_t)n * 4;
		if (bat < 512 || end > MAX_HEAD)
			return bad(err, "bad VHD BAT offset");
		v->head_need = end > v->hlen ? end : v->hlen;
		if (v->head_need > v->hlen)
			return 0;
	}
	/* BAT complete */
	uint64_t bat = rd64(d + 16);
	uint32_t n = rd32(d + 28);
	v->blks = xmalloc(((size_t)n + 1) * sizeof *v->blks);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t s = rd32(h + bat + (uint64_t)i * 4);
		if (s == 0xffffffffu)
			continue;
		v->blks[v->nblks++] = (struct blk){(uint64_t)s * 512, i};
	}
	qsort(v->blks, v->nblks, sizeof *v->blks, cmp_blk);
	if (v->nblks && v->blks[0].at < v->hlen)
		return bad(err, "VHD block overlaps its metadata");
	v->bitmap_len = ((v->block_size / 512 + 7) / 8 + 511) & ~511u;
	v->blk = xmalloc(v->bitmap_len + v->block_size);
	v->phase = 1;
	return 0;
}

static int block_done(struct vhd_in *v, struct xerr *err)
{
	const struct blk *b = &v->blks[v->next++];
	unsigned char *bm = (unsigned char *)v->blk;
	char *data = v->blk + v->bitmap_len;
	/* sectors the bitmap does not mark hold no data */
	for (uint32_t s = 0; s < v->block_size / 512; s++)
		if (!(bm[s / 8] & (0x80 >> (s % 8))))
			memset(data + (size_t)s * 512, 0, 512);
	int64_t off = (int64_t)b->idx * v->block_size;
	if (off >= v->vsize)
		return 0;
	size_t n = v->vsize - off < (int64_t)v->block_size ? (size_t)(v->vsize - off) : v->block_size;
	return v->write(v->arg, off, data, n, err);
}

int vhd_in_feed(struct vhd_in *v, const char *p, size_t n, struct xerr *err)
{
	while (n) {
		if (v->phase == 0) {
			size_t k = v->head_need - v->hlen < n ? (size_t)(v->head_need - v->hlen) : n;
			v->head = xrealloc(v->head, v->hlen + k);
			memcpy(v->head + v->hlen, p, k);
			v->hlen += k, v->pos += k, p += k, n -= k;
			if (v->hlen == v->head_need && head_step(v, err) < 0)
				return -1;
			if (v->phase == 2 && v->write(v->arg, 0, v->head, v->hlen, err) < 0)
				return -1;
			continue;
		}
		if (v->phase == 2) { /* fixed: raw up to the footer */
			uint64_t left = (uint64_t)v->vsize > v->pos ? (uint64_t)v->vsize - v->pos : 0;
			size_t k = left < n ? (size_t)left : n;
			if (k && v->write(v->arg, (int64_t)v->pos, p, k, err) < 0)
				return -1;
			size_t t = n - k < sizeof v->tail - v->tfill ? n - k : sizeof v->tail - v->tfill;
			memcpy(v->tail + v->tfill, p + k, t);
			v->tfill += t;
			v->pos += n;
			return 0;
		}
		if (v->phase == 3 || v->next == v->nblks) { /* the closing footer */
			v->phase = 3;
			v->pos += n;
			return 0;
		}
		const struct blk *b = &v->blks[v->next];
		if (v->pos < b->at) { /* gap before the next block */
			size_t k = b->at - v->pos < n ? (size_t)(b->at - v->pos) : n;
			v->pos += k, p += k, n -= k;
			continue;
		}
		size_t want = v->bitmap_len + v->block_size;
		size_t k = want - v->bfill < n ? want - v->bfill : n;
		memcpy(v->blk + v->bfill, p, k);
		v->bfill += k, v->pos += k, p += k, n -= k;
		if (v->bfill == want) {
			v->bfill = 0;
			if (block_done(v, err) < 0)
				return -1;
		}
	}
	return 0;
}

int vhd_in_end(struct vhd_in *v, struct xerr *err)
{
	if (v->phase == 2 && (int64_t)v->pos == v->body_len) {
		/* without its footer it was never a VHD, just bytes */
		if (v->tfill < sizeof v->tail || memcmp(v->tail, "conectix", 8))
			return bad(err, "no VHD footer at the end");
		if (!sum_ok(v->tail, 512, 64) || rd32(v->tail + 60) != 2)
			return bad(err, "bad fixed VHD footer");
		return 0;
	}
	if ((v->phase == 1 || v->phase == 3) && v->next == v->nblks)
		return 0;
	return xerr_set(err, ERR_IMPORT_ERROR_PREMATURE_EOF, NULL);
}

int64_t vhd_in_size(const struct vhd_in *v)
{
	return v->vsize;
}

void vhd_in_free(struct vhd_in *v)
{
	if (!v)
		return;
	free(v->head);
	free(v->blks);
	free(v->blk);
	free(v);
}
