/* vdi_stream: what the disk and VM transfer handlers share — a VDI's image
 * opened for streaming (VHD itself is formats/vhd.h). */
#ifndef XENON_VDI_STREAM_H
#define XENON_VDI_STREAM_H

#include "http_route.h"
#include "../sm/sm.h"
#include "../formats/img.h"

struct vdi_image {
	char ref[REF_STRLEN + 1];
	/* the transfer's mark in VDI.current_operations (its task), cleared by
	 * vdi_image_close */
	struct db *db;
	char mark[REF_STRLEN + 1];
	struct sm_sr sr;
	struct sm_vdi v;
	struct sm_attach_info att;
	bool attached;
	struct img *im;
};

/* The VDI named by id (ref or uuid), attached and served for streaming;
 * on failure rr->err is set and vdi_image_close still must be called.
 * While open, the VDI is marked busy with the request's task, as xapi's
 * handlers hold theirs attached: a concurrent destroy, resize or second
 * transfer gets OTHER_OPERATION_IN_PROGRESS; a writable open of a disk a
 * running VM uses is VDI_IN_USE. */
int vdi_image_open(struct route_req *rr, const char *id, bool writable, struct vdi_image *out);
/* The same for a VDI just made for an import, whose data comes in order:
 * a local qcow2 is written without qemu-nbd (img_open_fresh). */
int vdi_image_open_new(struct route_req *rr, const char *id, struct vdi_image *out);
/* For writes in order into an existing VDI: written directly when its
 * local qcow2 still holds nothing, through qemu-nbd otherwise. */
int vdi_image_open_in_order(struct route_req *rr, const char *id, struct vdi_image *out);
void vdi_image_close(struct vdi_image *vi);
/* The SR an import goes to: sr_id or sr_uuid (ref or uuid), else the
 * pool's default SR. */
int route_target_sr(struct route_req *rr, char out[REF_STRLEN + 1]);
/* Opens the import's target SR (route_target_sr, its ref into sr_ref) and
 * checks that factor times the announced upload fits in it (no check for
 * an upload of unknown length); on failure the SR is not left open. */
int route_open_target_sr(struct route_req *rr, char sr_ref[REF_STRLEN + 1], struct sm_sr *sr,
			 int factor);
/* VDI.create of a user disk of size bytes in sr_ref, as the request's
 * session; its ref into out. */
int route_create_vdi(struct route_req *rr, const char *sr_ref, const char *label, int64_t size,
		     char out[REF_STRLEN + 1]);
/* Where an upload is staged before qemu-img reads it: the SR's own
 * directory when it is local (same filesystem, space checked), else the
 * run directory (a share is reached by URL, not by path). */
const char *route_staging_dir(const struct sm_sr *sr);

#endif
