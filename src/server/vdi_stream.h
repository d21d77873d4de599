/* vdi_stream: what the disk and VM transfer handlers share — a VDI's image
 * opened for streaming (api/transfer.h) as the request's caller, and the
 * import's target SR from the query (VHD itself is formats/vhd.h). */
#ifndef XENON_VDI_STREAM_H
#define XENON_VDI_STREAM_H

#include "http_route.h"
#include "../api/transfer.h"

/* transfer_image_open as the request's caller, errors into rr->err. */
int stream_open_image(struct route_req *rr, const char *id, bool writable, enum transfer_fresh fresh,
		      struct transfer_image *out);
/* The SR an import goes to: the query's sr_id or sr_uuid (ref or uuid),
 * else the pool's default SR. */
int import_target_sr(struct route_req *rr, char out[REF_STRLEN + 1]);
/* Opens the import's target SR (import_target_sr, its ref into sr_ref)
 * and checks that factor times the announced upload fits in it (no check
 * for an upload of unknown length); on failure the SR is not left open. */
int import_open_target_sr(struct route_req *rr, char sr_ref[REF_STRLEN + 1], struct sm_sr *sr,
			  int factor);

#endif
