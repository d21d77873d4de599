/* status_http: GET /system-status and /host_logs_download (status_http.c). */
#ifndef XENON_STATUS_HTTP_H
#define XENON_STATUS_HTTP_H

#include "http_route.h"

extern const struct route route_system_status, route_host_logs_download;

#endif
