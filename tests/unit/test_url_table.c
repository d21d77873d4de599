/* Unit tests of src/server/url_table: which kind of handler serves a
 * method on a path — exact paths, a trailing slash, query strings, a
 * method the path does not take, unknown paths, CONNECT to the console,
 * and the console's kind told by the method and the Upgrade and
 * Sec-WebSocket-Key headers (WebSocket, raw, no upgrade, other methods);
 * the web console's /assets/ prefix and the names, types and
 * encodings web_static picks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/url_table.h"
#include "server/web_static.h"

static enum url_kind kind(const char *method, const char *url)
{
	return url_lookup(method, url).kind;
}

static void test_rpc_paths(void **state)
{
	(void)state;
	assert_int_equal(kind("POST", "/"), URL_RPC_XML);
	assert_int_equal(kind("POST", "/RPC2"), URL_RPC_XML);
	assert_int_equal(kind("POST", "/xmlrpc"), URL_RPC_XML);
	assert_int_equal(kind("POST", "/json"), URL_RPC_XML);
	assert_int_equal(kind("POST", "/jsonrpc"), URL_RPC_JSON);
	assert_int_equal(kind("GET", "/"), URL_STATUS);
}

static void test_trailing_slash_and_query(void **state)
{
	(void)state;
	assert_int_equal(kind("POST", "/jsonrpc/"), URL_RPC_JSON);
	assert_int_equal(kind("POST", "/RPC2?x=1"), URL_RPC_XML);
	assert_int_equal(kind("GET", "/export?uuid=abc&use_compression=zstd"), URL_TRANSFER);
	assert_int_equal(kind("PUT", "/import_raw_vdi/"), URL_TRANSFER);
	assert_int_equal(kind("GET", "/?x=1"), URL_STATUS);
	/* "/" is no prefix of every path, and no double slash */
	assert_int_equal(kind("POST", "//"), URL_NOT_FOUND);
	assert_int_equal(kind("POST", "/jsonrpc/x"), URL_NOT_FOUND);
	assert_int_equal(kind("GET", "/exportx"), URL_NOT_FOUND);
}

static void test_assets(void **state)
{
	(void)state;
	assert_int_equal(kind("GET", "/assets/index-AB12.js"), URL_STATIC);
	assert_int_equal(kind("GET", "/assets/x.css?v=1"), URL_STATIC);
	/* the prefix alone names no file, and only GET reads one */
	assert_int_equal(kind("GET", "/assets/"), URL_NOT_FOUND);
	assert_int_equal(kind("GET", "/assets"), URL_NOT_FOUND);
	assert_int_equal(kind("GET", "/assetsx/a.js"), URL_NOT_FOUND);
	assert_int_equal(kind("HEAD", "/assets/a.js"), URL_STATIC);
	assert_int_equal(kind("HEAD", "/"), URL_STATUS);
	assert_int_equal(kind("POST", "/assets/a.js"), URL_BAD_METHOD);
	/* names: what the build writes, nothing that leaves the directory */
	assert_true(web_static_name_ok("index-3F2A1B.js"));
	assert_true(web_static_name_ok("vm_page-X_Y.css"));
	assert_false(web_static_name_ok(""));
	assert_false(web_static_name_ok(".."));
	assert_false(web_static_name_ok(".hidden"));
	assert_false(web_static_name_ok("a/b.js"));
	assert_false(web_static_name_ok("a%2fb.js"));
	assert_string_equal(web_static_mime("a.js"), "text/javascript; charset=utf-8");
	assert_string_equal(web_static_mime("a.css"), "text/css; charset=utf-8");
	assert_string_equal(web_static_mime("index.html"), "text/html; charset=utf-8");
	assert_string_equal(web_static_mime("a.bin"), "application/octet-stream");
	/* Accept-Encoding: tokens, any case, q=0 refuses */
	assert_true(web_static_accepts("gzip, deflate, br, zstd", "br"));
	assert_true(web_static_accepts("gzip, deflate, br, zstd", "gzip"));
	assert_true(web_static_accepts("GZIP;q=0.5", "gzip"));
	assert_false(web_static_accepts("gzip;q=0, br", "gzip"));
	assert_true(web_static_accepts("gzip;q=0, br", "br"));
	assert_false(web_static_accepts("x-gzip, brotli", "gzip"));
	assert_false(web_static_accepts("x-gzip, brotli", "br"));
	assert_false(web_static_accepts(NULL, "gzip"));
	assert_false(web_static_accepts("", "gzip"));
}

static void test_transfers(void **state)
{
	(void)state;
	struct url_match m = url_lookup("GET", "/export");
	assert_int_equal(m.kind, URL_TRANSFER);
	assert_ptr_equal(m.route, &route_export_xva);
	assert_ptr_equal(url_lookup("GET", "/export_metadata").route, &route_export_metadata);
	assert_ptr_equal(url_lookup("GET", "/export_raw_vdi").route, &route_export_raw_vdi);
	assert_ptr_equal(url_lookup("PUT", "/import_raw_vdi").route, &route_import_raw_vdi);
	assert_ptr_equal(url_lookup("PUT", "/import").route, &route_import);
	assert_ptr_equal(url_lookup("PUT", "/import_metadata").route, &route_import_metadata);
	/* one path, a route per method */
	assert_ptr_equal(url_lookup("GET", "/vdi_file?vdi=x&path=/etc/hostname").route, &route_vdi_file_get);
	assert_ptr_equal(url_lookup("PUT", "/vdi_file?vdi=x&path=/x").route, &route_vdi_file_put);
	assert_int_equal(url_lookup("POST", "/vdi_file").kind, URL_BAD_METHOD);
	assert_null(url_lookup("POST", "/").route);
}

static void test_unknown_and_method_mismatch(void **state)
{
	(void)state;
	assert_int_equal(kind("GET", "/nope"), URL_NOT_FOUND);
	assert_int_equal(kind("GET", ""), URL_NOT_FOUND);
	assert_int_equal(kind("PUT", "/export"), URL_BAD_METHOD);
	assert_int_equal(kind("GET", "/import"), URL_BAD_METHOD);
	assert_int_equal(kind("GET", "/jsonrpc"), URL_BAD_METHOD);
	assert_int_equal(kind("PUT", "/"), URL_BAD_METHOD);
	assert_null(url_lookup("PUT", "/export").route);
}

static void test_console(void **state)
{
	(void)state;
	assert_int_equal(kind("CONNECT", "/console?uuid=abc"), URL_CONSOLE);
	assert_int_equal(kind("CONNECT", "/console/"), URL_CONSOLE);
	assert_int_equal(kind("GET", "/console?ref=OpaqueRef:x"), URL_CONSOLE);
	assert_int_equal(kind("CONNECT", "/consolex"), URL_NOT_FOUND);
	assert_int_equal(kind("CONNECT", "/export"), URL_BAD_METHOD);
}

static enum url_kind ukind(const char *method, const char *url, const char *up, const char *key)
{
	return url_lookup_upgrade(method, url, up, key).kind;
}

static void test_console_upgrade(void **state)
{
	(void)state;
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
	/* a WebSocket: the header's value in any case, with its key */
	assert_int_equal(ukind("GET", "/console?uuid=abc", "websocket", key), URL_CONSOLE_WS);
	assert_int_equal(ukind("GET", "/console/", "WebSocket", key), URL_CONSOLE_WS);
	assert_int_equal(ukind("CONNECT", "/console", "websocket", key), URL_CONSOLE_WS);
	/* no key: a raw upgrade that happens to be called websocket */
	assert_int_equal(ukind("GET", "/console", "websocket", NULL), URL_CONSOLE);
	/* another protocol, or CONNECT: raw bytes */
	assert_int_equal(ukind("GET", "/console?ref=OpaqueRef:x", "console", NULL), URL_CONSOLE);
	assert_int_equal(ukind("GET", "/console", "websockets", key), URL_CONSOLE);
	assert_int_equal(ukind("GET", "/console", "", key), URL_CONSOLE);
	assert_int_equal(ukind("CONNECT", "/console?uuid=abc", NULL, NULL), URL_CONSOLE);
	assert_int_equal(ukind("CONNECT", "/console", "console", NULL), URL_CONSOLE);
	/* a plain GET asks for nothing the console serves */
	assert_int_equal(ukind("GET", "/console", NULL, NULL), URL_CONSOLE_NO_UPGRADE);
	assert_int_equal(ukind("GET", "/console", NULL, key), URL_CONSOLE_NO_UPGRADE);
	/* other methods, upgrade or not */
	assert_int_equal(ukind("POST", "/console", "websocket", key), URL_BAD_METHOD);
	assert_int_equal(ukind("PUT", "/console", NULL, NULL), URL_BAD_METHOD);
	assert_int_equal(ukind("get", "/console", "websocket", key), URL_BAD_METHOD);
	/* the path-only lookup leaves the decision to the console's handler */
	assert_int_equal(kind("POST", "/console"), URL_CONSOLE);
	/* the headers change nothing elsewhere */
	assert_int_equal(ukind("GET", "/", "websocket", key), URL_STATUS);
	assert_int_equal(ukind("POST", "/jsonrpc", "websocket", key), URL_RPC_JSON);
	assert_int_equal(ukind("GET", "/consolex", "websocket", key), URL_NOT_FOUND);
	assert_ptr_equal(url_lookup_upgrade("GET", "/export", "websocket", key).route, &route_export_xva);
	/* the decision alone, for a request already routed to /console */
	assert_int_equal(url_console_kind("GET", "websocket", key), URL_CONSOLE_WS);
	assert_int_equal(url_console_kind("GET", NULL, NULL), URL_CONSOLE_NO_UPGRADE);
	assert_int_equal(url_console_kind("DELETE", NULL, NULL), URL_BAD_METHOD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rpc_paths),
		cmocka_unit_test(test_trailing_slash_and_query),
		cmocka_unit_test(test_assets),
		cmocka_unit_test(test_transfers),
		cmocka_unit_test(test_unknown_and_method_mismatch),
		cmocka_unit_test(test_console),
		cmocka_unit_test(test_console_upgrade),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
