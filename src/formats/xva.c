/* xva: XXH64 and the codecs XVA streams use (see xva.h). zstd compresses on several threads, as xapi's zstd export does
 * through an external multi-threaded zstd. */
#include "xva.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#define ZBUF (256 << 10)

uint64_t xva_xxh64(const void *p, size_t n)
{
	return XXH64(p, n, 0);
}

/* ---- compression ---- */

struct zout {
	enum zkind k;
	z_stream gz;
	ZSTD_CCtx *zc;
};

struct zout *zout_new(enum zkind k, struct xerr *err)
{
	struct zout *z = xcalloc(1, sizeof *z);
	z->k = k;
	if (k == ZK_GZIP && deflateInit2(&z->gz, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		xerr_internal(err, "deflateInit2 failed");
		return NULL;
	}
	if (k == ZK_ZSTD) {
		z->zc = ZSTD_createCCtx();
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		ZSTD_CCtx_setParameter(z->zc, ZSTD_c_compressionLevel, 3);
		/* ignored (error) by a single-threaded libzstd: then it runs inline */
		ZSTD_CCtx_setParameter(z->zc, ZSTD_c_nbWorkers, n > 1 ? (int)n : 1);
	}
	return z;
}

static int gz_run(struct zout *z, const void *in, size_t n, struct strbuf *out, int flush,
		  struct xerr *err)
{
	z->gz.next_in = (Bytef *)(uintptr_t)in;
	z->gz.avail_in = (uInt)n;
	int rc;
	do {
		sb_grow(out, ZBUF);
		z->gz.next_out = (Bytef *)out->buf + out->len;
		z->gz.avail_out = ZBUF;
		rc = deflate(&z->gz, flush);
		if (rc == Z_STREAM_ERROR)
			return xerr_internal(err, "deflate failed");
		out->len += ZBUF - z->gz.avail_out;
	} while (z->gz.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
	return 0;
}

static int zs_run(struct zout *z, const void *in, size_t n, struct strbuf *out,
		  ZSTD_EndDirective mode, struct xerr *err)
{
	ZSTD_inBuffer ib = {in, n, 0};
	size_t left;
	do {
		sb_grow(out, ZBUF);
		ZSTD_outBuffer ob = {out->buf + out->len, ZBUF, 0};
		left = ZSTD_compressStream2(z->zc, &ob, &ib, mode);
		if (ZSTD_isError(left))
			return xerr_internal(err, "zstd: %s", ZSTD_getErrorName(left));
		out->len += ob.pos;
	} while (ib.pos < ib.size || (mode == ZSTD_e_end && left));
	return 0;
}

int zout_write(struct zout *z, const void *in, size_t n, struct strbuf *out, struct xerr *err)
{
	if (z->k == ZK_GZIP)
		return gz_run(z, in, n, out, Z_NO_FLUSH, err);
	if (z->k == ZK_ZSTD)
		return zs_run(z, in, n, out, ZSTD_e_continue, err);
	sb_add(out, in, n);
	return 0;
}

int zout_end(struct zout *z, struct strbuf *out, struct xerr *err)
{
	if (z->k == ZK_GZIP)
		return gz_run(z, "", 0, out, Z_FINISH, err);
	if (z->k == ZK_ZSTD)
		return zs_run(z, "", 0, out, ZSTD_e_end, err);
	return 0;
}

void zout_free(struct zout *z)
{
	if (!z)
		return;
	if (z->k == ZK_GZIP)
		deflateEnd(&z->gz);
	ZSTD_freeCCtx(z->zc);
	free(z);
}

/* ---- decompression ---- */

struct zin {
	zsink sink;
	void *arg;
	enum zkind k;
	bool known, ended;
	unsigned char magic[4];
	size_t nmagic;
	z_stream gz;
	ZSTD_DCtx *zd;
	char *buf;
};

struct zin *zin_new(zsink sink, void *arg)
{
	struct zin *z = xcalloc(1, sizeof *z);
	z->sink = sink;
	z->arg = arg;
	z->buf = xmalloc(ZBUF);
	return z;
}

static int feed(struct zin *z, const char *in, size_t n, struct xerr *err)
{
	if (z->k == ZK_NONE)
		return z->sink(z->arg, in, n);
	if (z->k == ZK_GZIP) {
		z->gz.next_in = (Bytef *)(uintptr_t)in;
		z->gz.avail_in = (uInt)n;
		while (z->gz.avail_in && !z->ended) {
			z->gz.next_out = (Bytef *)z->buf;
			z->gz.avail_out = ZBUF;
			int rc = inflate(&z->gz, Z_NO_FLUSH);
			if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
				return xerr_set(err, ERR_IMPORT_ERROR, "corrupt gzip stream", NULL);
			if (rc == Z_STREAM_END)
				z->ended = true;
			if (ZBUF - z->gz.avail_out && z->sink(z->arg, z->buf, ZBUF - z->gz.avail_out) < 0)
				return -1;
		}
		return 0;
	}
	ZSTD_inBuffer ib = {in, n, 0};
	while (ib.pos < ib.size) {
		ZSTD_outBuffer ob = {z->buf, ZBUF, 0};
		size_t rc = ZSTD_decompressStream(z->zd, &ob, &ib);
		if (ZSTD_isError(rc))
			return xerr_set(err, ERR_IMPORT_ERROR, "corrupt zstd stream", NULL);
		z->ended = rc == 0;
		if (ob.pos && z->sink(z->arg, z->buf, ob.pos) < 0)
			return -1;
	}
	return 0;
}

int zin_feed(struct zin *z, const char *in, size_t n, struct xerr *err)
{
	if (z->known)
		return feed(z, in, n, err);
	/* the first four bytes decide */
	while (n && z->nmagic < 4) {
		z->magic[z->nmagic++] = (unsigned char)*in++;
		n--;
	}
	if (z->nmagic < 4)
		return 0;
	z->known = true;
	if (z->magic[0] == 0x1f && z->magic[1] == 0x8b) {
		z->k = ZK_GZIP;
		if (inflateInit2(&z->gz, 15 + 32) != Z_OK)
			return xerr_internal(err, "inflateInit2 failed");
	} else if (!memcmp(z->magic, "\x28\xb5\x2f\xfd", 4)) {
		z->k = ZK_ZSTD;
		z->zd = ZSTD_createDCtx();
	}
	if (feed(z, (const char *)z->magic, 4, err) < 0)
		return -1;
	return n ? feed(z, in, n, err) : 0;
}

bool zin_complete(const struct zin *z)
{
	/* fewer than the four bytes that tell the kind: held back, never passed on */
	if (!z->known)
		return z->nmagic == 0;
	return z->k == ZK_NONE || z->ended;
}

void zin_free(struct zin *z)
{
	if (!z)
		return;
	if (z->k == ZK_GZIP)
		inflateEnd(&z->gz);
	ZSTD_freeDCtx(z->zd);
	free(z->buf);
	free(z);
}
