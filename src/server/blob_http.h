/* blob_http: GET and PUT /blob (blob_http.c). */
#ifndef XENON_BLOB_HTTP_H
#define XENON_BLOB_HTTP_H

#include "http_route.h"

extern const struct route route_get_blob, route_put_blob;

#endif
