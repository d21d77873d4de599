/* capture_http: the live capture endpoint (GET /capture, route_capture in
 * http_route.h) and what the HTTP server's stop needs of it. */
#ifndef XENON_CAPTURE_HTTP_H
#define XENON_CAPTURE_HTTP_H

/* Ends every running capture and waits (a few seconds at most) until none
 * holds its connection suspended, which MHD cannot stop with. */
void capture_http_stop_all(void);

#endif
