/* xva: the XVA container shared by export and import — chunk size, XXH64
 * checksums and the gzip/zstd codecs (xva.c); its tar framing is tar.h. */
#ifndef XENON_XVA_H
#define XENON_XVA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/strbuf.h"
#include "../base/xerr.h"

#include "tar.h"

#define XVA_CHUNK (1 << 20)

uint64_t xva_xxh64(const void *p, size_t n);

enum zkind { ZK_NONE, ZK_GZIP, ZK_ZSTD };

/* Compressor: input is appended compressed to out. */
struct zout;
struct zout *zout_new(enum zkind k, struct xerr *err);
int zout_write(struct zout *z, const void *in, size_t n, struct strbuf *out, struct xerr *err);
int zout_end(struct zout *z, struct strbuf *out, struct xerr *err);
void zout_free(struct zout *z);

/* Decompressor: the kind comes from the stream's first bytes (gzip
 * 1f 8b, zstd 28 b5 2f fd, else plain); output goes to sink. */
typedef int (*zsink)(void *arg, const char *p, size_t n);
struct zin;
struct zin *zin_new(zsink sink, void *arg);
int zin_feed(struct zin *z, const char *in, size_t n, struct xerr *err);
/* The compressed stream ended cleanly (always true for plain). */
bool zin_complete(const struct zin *z);
void zin_free(struct zin *z);

#endif
