/* Unit tests of src/server/url_table: which kind of handler serves a
 * method on a path — exact paths, a trailing slash, query strings, a
 * method the path does not take, unknown paths, CONNECT to the console. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/url_table.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rpc_paths),
		cmocka_unit_test(test_trailing_slash_and_query),
		cmocka_unit_test(test_transfers),
		cmocka_unit_test(test_unknown_and_method_mismatch),
		cmocka_unit_test(test_console),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
