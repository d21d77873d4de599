/* vdi_inspect: what the /vdi_file transfer (server/vdi_file_http.c) needs
 * of the disk inspection calls: a file of a VDI's guest filesystem copied
 * to or from a host file, under the caller's context, with the same checks
 * as VDI.read_file and VDI.write_file. */
#ifndef XENON_API_VDI_INSPECT_H
#define XENON_API_VDI_INSPECT_H

#include "api.h"

#include <stdint.h>

/* A private staging file in the run directory (fd open read-write). */
char *vdi_file_staging(struct rpc_ctx *ctx, int *fd, struct xerr *err);
/* path (in filesystem fs, "" for the guest's own) of VDI vdi (ref or
 * uuid) into host_file; *size its length. */
int vdi_file_download(struct rpc_ctx *ctx, const char *vdi, const char *fs, const char *path,
		      const char *host_file, uint64_t *size, struct xerr *err);
/* host_file as path with mode (-1: kept, or 0644 for a new file). */
int vdi_file_upload(struct rpc_ctx *ctx, const char *vdi, const char *fs, const char *path,
		    const char *host_file, int mode, struct xerr *err);
/* "0755" → 0755; "" or NULL → -1. */
int vdi_file_parse_mode(const char *s, int *mode, struct xerr *err);
/* The most a transfer may carry. */
uint64_t vdi_file_max(void);

#endif
