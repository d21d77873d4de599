/* status_http: GET /system-status and GET /host_logs_download, the
 * host's status archive (api/host_diag.c) as a tar, for pool operators
 * (xapi's get_system_status and get_host_logs_download permissions). */
#include "status_http.h"
#include "../api/host_diag.h"

static int status_begin(struct route_req *rr)
{
	size_t len = 0;
	char *tar = system_status_archive(rr->srv, &len);
	return route_send_buffer(rr, tar, len, "application/x-tar");
}

const struct route route_system_status = {.method = "GET",
					  .path = "/system-status",
					  .begin = status_begin,
					  .role = SC_ROLE_POOL_OPERATOR};
const struct route route_host_logs_download = {.method = "GET",
					       .path = "/host_logs_download",
					       .begin = status_begin,
					       .role = SC_ROLE_POOL_OPERATOR};
