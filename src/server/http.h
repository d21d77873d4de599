/* http: the HTTP and HTTPS listeners serving the XenAPI (see http.c). */
#ifndef XENON_HTTP_H
#define XENON_HTTP_H

#include "../base/xerr.h"

struct server;
struct http_server;

struct http_server *http_start(struct server *srv, const char *cert_pem, const char *key_pem,
			       struct xerr *err);
void http_stop(struct http_server *hs);
/* Stops like http_stop but keeps the listening sockets open and hands
 * them to the caller (-1 for a listener that is off), for the daemon's
 * next image. */
void http_stop_handover(struct http_server *hs, int *plain_fd, int *tls_fd);

#endif
