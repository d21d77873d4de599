/* url_table: every path the daemon serves, in one table — the RPC paths,
 * the status page, the transfers and the console — consulted by http.c for
 * every request and by console_connect.c for CONNECT. */
#ifndef XENON_URL_TABLE_H
#define XENON_URL_TABLE_H

#include "http_route.h"

enum url_kind {
	URL_NOT_FOUND,  /* no such path: 404 */
	URL_BAD_METHOD, /* the path exists, not for this method (answered as not found) */
	URL_RPC_XML,    /* XML-RPC calls (POST) */
	URL_RPC_JSON,   /* JSON-RPC calls (POST) */
	URL_STATUS,     /* the status page (GET /) */
	URL_TRANSFER,   /* a transfer (http_route.c), its route in url_match.route */
	URL_CONSOLE,    /* /console: CONNECT, WebSocket or Upgrade (console_http.c) */
};

struct url_match {
	enum url_kind kind;
	const struct route *route; /* URL_TRANSFER only */
};

/* What serves method on url. A path matches "/p", "/p/" and "/p?query";
 * "/" matches only itself (and "/?query"). */
struct url_match url_lookup(const char *method, const char *url);

#endif
