/* file.h: the qcow2 copy-on-write logic of the file driver (file.c), shared
 * with drivers whose SR is the same directory of <uuid>.qcow2 files reached
 * another way (nfs.c through libnfs). All go through the SR's sm_fs. */
#ifndef XENON_SM_FILE_H
#define XENON_SM_FILE_H

#include "sm.h"

int sm_file_sr_attach(struct sm_sr *sr, struct xerr *err);
int sm_file_sr_detach(struct sm_sr *sr, struct xerr *err);
int sm_file_sr_scan(struct sm_sr *sr, struct sm_vdi_list *out, struct xerr *err);
int sm_file_sr_delete(struct sm_sr *sr, struct xerr *err);
int sm_file_sr_stat(struct sm_sr *sr, struct sm_stat *st, struct xerr *err);
int sm_file_vdi_create(struct sm_sr *sr, struct sm_vdi *vdi, struct xerr *err);
int sm_file_vdi_delete(struct sm_sr *sr, const struct sm_vdi *vdi, xv *gc, struct xerr *err);
int sm_file_vdi_snapshot(struct sm_sr *sr, struct sm_vdi *vdi, struct sm_vdi *base,
			 struct sm_vdi *snap, struct xerr *err);
int sm_file_vdi_clone(struct sm_sr *sr, struct sm_vdi *vdi, struct sm_vdi *base,
		      struct sm_vdi *snap, struct xerr *err);
int sm_file_vdi_clone_undo(struct sm_sr *sr, struct sm_vdi *vdi, const struct sm_vdi *base,
			   const struct sm_vdi *snap, struct xerr *err);
int sm_file_vdi_resize(struct sm_sr *sr, struct sm_vdi *vdi, int64_t *size, struct xerr *err);
int sm_file_vdi_attach(struct sm_sr *sr, const struct sm_vdi *vdi, bool writable,
		       struct sm_attach_info *out, struct xerr *err);
int sm_file_vdi_detach(struct sm_sr *sr, const struct sm_vdi *vdi, struct xerr *err);
int sm_file_vdi_coalesce(struct sm_sr *sr, struct sm_vdi *child, const struct sm_live_ops *live,
			 const char *vm_uuid,
			 const char *userdevice, char gone[UUID_STRLEN + 1], struct xerr *err);

#endif
