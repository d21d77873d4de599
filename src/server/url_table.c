/* url_table: the one list of paths and what serves them, so that routing
 * is decided in one place and a new endpoint is one line here. */
#include "url_table.h"
#include "audit.h"
#include "blob_http.h"
#include "status_http.h"
#include "console.h"

#include <string.h>
#include <strings.h>

struct url_entry {
	const char *path;
	const char *method; /* NULL: any (the console answers methods itself) */
	enum url_kind kind;
	const struct route *route; /* a transfer: path and method are its own */
};

static const struct url_entry table[] = {
	{"/", "POST", URL_RPC_XML, NULL},
	{"/", "GET", URL_STATUS, NULL},
	{"/", "HEAD", URL_STATUS, NULL},
	{"/RPC2", "POST", URL_RPC_XML, NULL},
	{"/xmlrpc", "POST", URL_RPC_XML, NULL},
	{"/json", "POST", URL_RPC_XML, NULL},
	{"/jsonrpc", "POST", URL_RPC_JSON, NULL},
	{"/console", NULL, URL_CONSOLE, NULL},
	{"/assets/", "GET", URL_STATIC, NULL}, /* the web console's files (web_static.c) */
	{"/assets/", "HEAD", URL_STATIC, NULL},
	{NULL, NULL, URL_TRANSFER, &route_export_raw_vdi},
	{NULL, NULL, URL_TRANSFER, &route_import_raw_vdi},
	{NULL, NULL, URL_TRANSFER, &route_export_xva},
	{NULL, NULL, URL_TRANSFER, &route_export_metadata},
	{NULL, NULL, URL_TRANSFER, &route_import},
	{NULL, NULL, URL_TRANSFER, &route_import_metadata},
	{NULL, NULL, URL_TRANSFER, &route_rrd_updates},
	{NULL, NULL, URL_TRANSFER, &route_host_rrd},
	{NULL, NULL, URL_TRANSFER, &route_host_rrds},
	{NULL, NULL, URL_TRANSFER, &route_vm_rrd},
	{NULL, NULL, URL_TRANSFER, &route_vm_rrds},
	{NULL, NULL, URL_TRANSFER, &route_sr_rrd},
	{NULL, NULL, URL_TRANSFER, &route_metrics},
	{NULL, NULL, URL_TRANSFER, &route_audit_log},
	{NULL, NULL, URL_TRANSFER, &route_capture},
	{NULL, NULL, URL_TRANSFER, &route_vdi_file_get},
	{NULL, NULL, URL_TRANSFER, &route_vdi_file_put},
	{NULL, NULL, URL_TRANSFER, &route_get_blob},
	{NULL, NULL, URL_TRANSFER, &route_put_blob},
	{NULL, NULL, URL_TRANSFER, &route_system_status},
	{NULL, NULL, URL_TRANSFER, &route_host_logs_download},
};

void url_table_permissions(void (*fn)(const char *perm, uint32_t roles))
{
	char perm[80];
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (table[i].route) {
			route_permission(table[i].route, perm, sizeof perm);
			fn(perm, route_roles(table[i].route));
		}
	fn(CONSOLE_PERMISSION, (SC_ROLE_VM_OPERATOR << 1) - 1);
}

/* "/p", "/p/" and "/p?…"; "/" only as itself (or "/?…"); a path "/p/"
 * ending in a slash is a prefix: "/p/name". */
static bool path_match(const char *url, const char *p)
{
	size_t n = strlen(p);
	if (strncmp(url, p, n) != 0)
		return false;
	if (n > 1 && p[n - 1] == '/')
		return url[n] != '\0' && url[n] != '?';
	if (url[n] == '\0' || url[n] == '?')
		return true;
	return n > 1 && url[n] == '/' && (url[n + 1] == '\0' || url[n + 1] == '?');
}

struct url_match url_lookup(const char *method, const char *url)
{
	struct url_match m = {URL_NOT_FOUND, NULL};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct url_entry *e = &table[i];
		const char *path = e->route ? e->route->path : e->path;
		const char *want = e->route ? e->route->method : e->method;
		if (!path_match(url, path))
			continue;
		if (want && strcmp(want, method) != 0) {
			m.kind = URL_BAD_METHOD;
			continue;
		}
		return (struct url_match){e->kind, e->route};
	}
	return m;
}

enum url_kind url_console_kind(const char *method, const char *upgrade, const char *ws_key)
{
	bool connect = !strcmp(method, "CONNECT");
	if (!connect && strcmp(method, "GET"))
		return URL_BAD_METHOD;
	if (upgrade && !strcasecmp(upgrade, "websocket") && ws_key)
		return URL_CONSOLE_WS;
	if (!connect && !upgrade)
		return URL_CONSOLE_NO_UPGRADE;
	return URL_CONSOLE;
}

struct url_match url_lookup_upgrade(const char *method, const char *url, const char *upgrade,
				    const char *ws_key)
{
	struct url_match m = url_lookup(method, url);
	if (m.kind == URL_CONSOLE)
		m.kind = url_console_kind(method, upgrade, ws_key);
	return m;
}
