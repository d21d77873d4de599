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
	URL_STATUS,     /* the web console's index.html, else a status page (GET /) */
	URL_STATIC,     /* the web console's hashed files (GET /assets/<name>) */
	URL_TRANSFER,   /* a transfer (http_route.c), its route in url_match.route */
	URL_CONSOLE,    /* /console (console_http.c); with the headers known: raw bytes after
			 * a CONNECT or an Upgrade other than a WebSocket */
	URL_CONSOLE_WS, /* /console: a WebSocket upgrade (Upgrade: websocket and a key) */
	URL_CONSOLE_NO_UPGRADE, /* /console: a GET asking for no upgrade (400) */
};

struct url_match {
	enum url_kind kind;
	const struct route *route; /* URL_TRANSFER only */
};

/* What serves method on url. A path matches "/p", "/p/" and "/p?query";
 * "/" matches only itself (and "/?query"); "/assets/" is a prefix. */
struct url_match url_lookup(const char *method, const char *url);

/* The same, told by the request's Upgrade and Sec-WebSocket-Key headers
 * (NULL when absent) what kind of console it asks for: /console is
 * URL_CONSOLE_WS for a WebSocket upgrade (any method the console takes),
 * URL_CONSOLE for CONNECT or another Upgrade, URL_CONSOLE_NO_UPGRADE for
 * a GET without one and URL_BAD_METHOD for other methods. */
struct url_match url_lookup_upgrade(const char *method, const char *url, const char *upgrade,
				    const char *ws_key);
/* That decision for a request already routed to /console. */
enum url_kind url_console_kind(const char *method, const char *upgrade, const char *ws_key);

/* Calls fn with each HTTP action's RBAC permission and the roles that
 * hold it (the routes' and the console's). */
void url_table_permissions(void (*fn)(const char *perm, uint32_t roles));

#endif
