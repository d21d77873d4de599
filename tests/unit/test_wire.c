/* Unit tests of the XML-RPC and JSON-RPC codecs: xapi's exact bytes, the
 * input forms clients send, and clean rejection of malformed bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

/* ---- helpers ---- */

static xv sample_all_kinds(void)
{
	xv m = xv_map_new();
	xv_map_set_str(&m, "str", "a <b> & \"c\" é\n\tend");
	xv_map_set(&m, "int", xv_int(INT64_MIN));
	xv_map_set(&m, "i32", xv_i32(-7));
	xv_map_set(&m, "yes", xv_bool(true));
	xv_map_set(&m, "no", xv_bool(false));
	xv_map_set(&m, "float", xv_float(-1.25e300));
	xv_map_set(&m, "time", xv_time(1704110400));
	xv arr = xv_arr_new();
	xv_arr_push_str(&arr, "x");
	xv_arr_push(&arr, xv_arr_new());
	xv inner = xv_map_new();
	xv_map_set(&inner, "k", xv_arr_new());
	xv_arr_push(&arr, inner);
	xv_map_set(&m, "arr", arr);
	xv_map_set(&m, "empty_map", xv_map_new());
	xv_map_set_str(&m, "empty_str", "");
	return m;
}

static xv xml_value_ok(const char *text)
{
	struct xerr e = XERR_INIT;
	xv v;
	int r = wire_xml_parse_value(text, strlen(text), &v, &e);
	if (r != 0)
		fail_msg("parse of %s failed: %s", text, e.code);
	xerr_clear(&e);
	return v;
}

/* Expects text to be rejected with code; checks nothing leaks on the way. */
static void xml_value_bad(const char *text, const char *code)
{
	struct xerr e = XERR_INIT;
	xv v = xv_bool(true); /* must come back as XV_NIL */
	assert_int_equal(wire_xml_parse_value(text, strlen(text), &v, &e), -1);
	assert_string_equal(e.code, code);
	assert_int_equal(v.kind, XV_NIL);
	xerr_clear(&e);
}

static void xml_call_bad(const char *body)
{
	struct xerr e = XERR_INIT;
	struct wire_call c;
	if (wire_xmlrpc_parse_call(body, strlen(body), &c, &e) != -1)
		fail_msg("accepted: %s", body);
	assert_non_null(e.code);
	assert_null(c.method);
	assert_int_equal(c.params.kind, XV_NIL);
	wire_call_free(&c);
	xerr_clear(&e);
}

static void json_call_bad(const char *body)
{
	struct xerr e = XERR_INIT;
	struct wire_call c;
	if (wire_jsonrpc_parse_call(body, strlen(body), &c, &e) != -1)
		fail_msg("accepted: %s", body);
	assert_string_equal(e.code, "PARSE_FAILURE");
	assert_null(c.method);
	assert_int_equal(c.params.kind, XV_NIL);
	assert_int_equal(c.id.kind, XV_NIL);
	wire_call_free(&c);
	xerr_clear(&e);
}

static void assert_xml_bytes(const xv *v, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	wire_xml_value(&sb, v);
	assert_string_equal(sb.buf, want);
	sb_free(&sb);
}

static struct xerr sample_err(void)
{
	struct xerr e = XERR_INIT;
	xerr_set(&e, "VM_BAD_POWER_STATE", "OpaqueRef:vm", "halted", "run\"ning", NULL);
	return e;
}

/* ---- XML-RPC writing ---- */

static void test_xml_value_bytes(void **state)
{
	(void)state;
	xv v = xv_str("a<&>\"\rb");
	assert_xml_bytes(&v, "<value>a&lt;&amp;&gt;&quot;&#13;b</value>");
	xv_free(&v);
	v = xv_str("ctl\x01\x1f" "ok");
	assert_xml_bytes(&v, "<value>ctlok</value>"); /* xapi drops C0 controls */
	xv_free(&v);
	v = xv_int(9007199254740993LL);
	assert_xml_bytes(&v, "<value>9007199254740993</value>");
	v = xv_i32(-3);
	assert_xml_bytes(&v, "<value><i4>-3</i4></value>");
	v = xv_bool(true);
	assert_xml_bytes(&v, "<value><boolean>1</boolean></value>");
	v = xv_bool(false);
	assert_xml_bytes(&v, "<value><boolean>0</boolean></value>");
	v = xv_float(0.1);
	assert_xml_bytes(&v, "<value><double>0.1</double></value>");
	v = xv_float(1.0 / 3);
	assert_xml_bytes(&v, "<value><double>0.3333333333333333</double></value>");
	v = xv_float(0.0 / 0.0);
	assert_xml_bytes(&v, "<value><double>NaN</double></value>");
	v = xv_time(1704110400);
	assert_xml_bytes(&v, "<value><dateTime.iso8601>20240101T12:00:00Z</dateTime.iso8601></value>");
	v = XV_NIL_INIT;
	assert_xml_bytes(&v, "<value></value>");

	v = xv_arr_new();
	assert_xml_bytes(&v, "<value><array><data></data></array></value>");
	xv_arr_push_str(&v, "a");
	xv_arr_push(&v, xv_int(1));
	assert_xml_bytes(&v, "<value><array><data><value>a</value><value>1</value></data></array></value>");
	xv_free(&v);
	v = xv_map_new();
	assert_xml_bytes(&v, "<value><struct></struct></value>");
	xv_map_set_str(&v, "k&", "v");
	assert_xml_bytes(&v, "<value><struct><member><name>k&amp;</name><value>v</value></member>"
			     "</struct></value>");
	xv_free(&v);
}

static void test_xml_response_bytes(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	xv r = xv_str("OpaqueRef:abc");
	wire_write_success(&sb, WIRE_XMLRPC, NULL, &r);
	assert_string_equal(sb.buf,
		"<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
		"<member><name>Status</name><value>Success</value></member>"
		"<member><name>Value</name><value>OpaqueRef:abc</value></member>"
		"</struct></value></param></params></methodResponse>");
	xv_free(&r);

	sb_reset(&sb);
	wire_write_success(&sb, WIRE_XMLRPC, NULL, NULL); /* void */
	assert_string_equal(sb.buf,
		"<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
		"<member><name>Status</name><value>Success</value></member>"
		"<member><name>Value</name><value></value></member>"
		"</struct></value></param></params></methodResponse>");

	sb_reset(&sb);
	struct xerr e = XERR_INIT;
	xerr_set(&e, "SESSION_INVALID", "OpaqueRef:x", NULL);
	wire_write_failure(&sb, WIRE_XMLRPC, NULL, &e);
	assert_string_equal(sb.buf,
		"<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
		"<member><name>Status</name><value>Failure</value></member>"
		"<member><name>ErrorDescription</name><value><array><data>"
		"<value>SESSION_INVALID</value><value>OpaqueRef:x</value>"
		"</data></array></value></member>"
		"</struct></value></param></params></methodResponse>");
	xerr_clear(&e);
	sb_free(&sb);
}

static void test_xml_call_bytes(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	xv p = xv_arr_new();
	xv_arr_push_str(&p, "root");
	xv_arr_push_str(&p, "pw<");
	wire_xmlrpc_write_call(&sb, "session.login_with_password", &p);
	assert_string_equal(sb.buf,
		"<?xml version=\"1.0\"?><methodCall><methodName>session.login_with_password"
		"</methodName><params><param><value>root</value></param>"
		"<param><value>pw&lt;</value></param></params></methodCall>");
	xv_free(&p);
	sb_free(&sb);
}

/* ---- JSON-RPC writing ---- */

static void test_json_response_bytes(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	xv r = xv_str("OpaqueRef:abc");
	xv iid = xv_int(7), sid = xv_str("a");
	struct xerr e = XERR_INIT;
	xerr_set(&e, "SESSION_INVALID", "OpaqueRef:x", NULL);

	wire_write_success(&sb, WIRE_JSONRPC1, &iid, &r);
	assert_string_equal(sb.buf, "{\"result\":\"OpaqueRef:abc\",\"error\":null,\"id\":7}");
	sb_reset(&sb);
	wire_write_failure(&sb, WIRE_JSONRPC1, &iid, &e);
	assert_string_equal(sb.buf,
		"{\"result\":null,\"error\":[\"SESSION_INVALID\",\"OpaqueRef:x\"],\"id\":7}");
	sb_reset(&sb);
	wire_write_success(&sb, WIRE_JSONRPC2, &sid, &r);
	assert_string_equal(sb.buf, "{\"jsonrpc\":\"2.0\",\"result\":\"OpaqueRef:abc\",\"id\":\"a\"}");
	assert_null(strstr(sb.buf, "error"));
	sb_reset(&sb);
	wire_write_failure(&sb, WIRE_JSONRPC2, &sid, &e);
	assert_string_equal(sb.buf,
		"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"SESSION_INVALID\","
		"\"data\":[\"OpaqueRef:x\"]},\"id\":\"a\"}");

	/* void results are "" as in XML-RPC; parameterless errors give [] */
	sb_reset(&sb);
	wire_write_success(&sb, WIRE_JSONRPC2, &iid, NULL);
	assert_string_equal(sb.buf, "{\"jsonrpc\":\"2.0\",\"result\":\"\",\"id\":7}");
	sb_reset(&sb);
	xerr_set(&e, "SESSION_AUTHENTICATION_FAILED", NULL);
	wire_write_failure(&sb, WIRE_JSONRPC2, &iid, &e);
	assert_string_equal(sb.buf,
		"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":"
		"\"SESSION_AUTHENTICATION_FAILED\",\"data\":[]},\"id\":7}");
	sb_reset(&sb);
	wire_write_failure(&sb, WIRE_JSONRPC1, &iid, &e);
	assert_string_equal(sb.buf,
		"{\"result\":null,\"error\":[\"SESSION_AUTHENTICATION_FAILED\"],\"id\":7}");

	xerr_clear(&e);
	xv_free(&r);
	xv_free(&sid);
	sb_free(&sb);
}

static void test_json_call_bytes(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	xv p = xv_arr_new();
	xv_arr_push_str(&p, "OpaqueRef:s");
	xv_arr_push(&p, xv_int(42));
	wire_jsonrpc_write_call(&sb, "VM.get_all", &p, 0);
	assert_string_equal(sb.buf,
		"{\"jsonrpc\":\"2.0\",\"method\":\"VM.get_all\",\"params\":[\"OpaqueRef:s\",42],\"id\":0}");
	xv_free(&p);
	sb_free(&sb);
}

/* ---- round trips ---- */

static void test_xml_roundtrip(void **state)
{
	(void)state;
	xv m = sample_all_kinds();
	struct strbuf sb = STRBUF_INIT;
	wire_xml_value(&sb, &m);
	xv back = xml_value_ok(sb.buf);
	/* int64 travels as a bare string, as xapi writes it; typing it back is
	 * sc_coerce's job */
	assert_string_equal(xv_map_get_str(&back, "int"), "-9223372036854775808");
	xv_map_set(&back, "int", xv_int(INT64_MIN));
	assert_int_equal(xv_map_get(&back, "i32")->kind, XV_INT);
	assert_int_equal(xv_map_get(&back, "time")->kind, XV_TIME);
	assert_int_equal(xv_map_get(&back, "float")->kind, XV_FLOAT);
	assert_true(xv_equal(&m, &back));
	xv_free(&back);

	/* the same through a whole call */
	sb_reset(&sb);
	xv params = xv_arr_new();
	xv_arr_push(&params, xv_copy(&m));
	xv_arr_push_str(&params, "tail");
	wire_xmlrpc_write_call(&sb, "VM.create", &params);
	struct wire_call c;
	struct xerr e = XERR_INIT;
	assert_int_equal(wire_xmlrpc_parse_call(sb.buf, sb.len, &c, &e), 0);
	assert_int_equal(c.proto, WIRE_XMLRPC);
	assert_string_equal(c.method, "VM.create");
	assert_int_equal(c.id.kind, XV_NIL);
	xv_map_set(&c.params.u.a->items[0], "int", xv_int(INT64_MIN));
	assert_true(xv_equal(&c.params, &params));
	wire_call_free(&c);

	/* nil writes as <value></value>, which reads back as "" */
	xv nil = XV_NIL_INIT;
	sb_reset(&sb);
	wire_xml_value(&sb, &nil);
	back = xml_value_ok(sb.buf);
	assert_int_equal(back.kind, XV_STR);
	assert_string_equal(back.u.s, "");
	xv_free(&back);

	/* \r and \r\n survive (as &#13;), unlike raw CRs in XML text */
	xv s = xv_str("a\r\nb\rc\n");
	sb_reset(&sb);
	wire_xml_value(&sb, &s);
	back = xml_value_ok(sb.buf);
	assert_true(xv_equal(&s, &back));
	xv_free(&back);
	xv_free(&s);

	xv_free(&params);
	xv_free(&m);
	sb_free(&sb);
}

static void test_json_roundtrip(void **state)
{
	(void)state;
	xv m = sample_all_kinds();
	xv_map_set(&m, "nil", XV_NIL_INIT);
	xv_map_set(&m, "max", xv_int(INT64_MAX));
	xv params = xv_arr_new();
	xv_arr_push(&params, xv_copy(&m));
	xv_arr_push(&params, xv_float(2.0));
	struct strbuf sb = STRBUF_INIT;
	wire_jsonrpc_write_call(&sb, "VM.create", &params, 12);

	struct wire_call c;
	struct xerr e = XERR_INIT;
	assert_int_equal(wire_jsonrpc_parse_call(sb.buf, sb.len, &c, &e), 0);
	assert_int_equal(c.proto, WIRE_JSONRPC2);
	assert_string_equal(c.method, "VM.create");
	assert_int_equal(c.id.kind, XV_INT);
	assert_int_equal(c.id.u.i, 12);
	xv *got = &c.params.u.a->items[0];
	/* JSON has no datetime: it travels as xapi's string form */
	assert_string_equal(xv_map_get_str(got, "time"), "20240101T12:00:00Z");
	xv_map_set(got, "time", xv_time(1704110400));
	assert_int_equal(xv_map_get(got, "int")->kind, XV_INT);
	assert_int_equal(xv_map_get(got, "nil")->kind, XV_NIL);
	assert_int_equal(c.params.u.a->items[1].kind, XV_FLOAT);
	assert_true(xv_equal(&c.params, &params));
	wire_call_free(&c);
	wire_call_free(&c); /* idempotent */

	xv_free(&params);
	xv_free(&m);
	sb_free(&sb);
}

/* What the server writes, the client reads back identically. */
static void test_response_roundtrip(void **state)
{
	(void)state;
	enum wire_proto protos[] = {WIRE_XMLRPC, WIRE_JSONRPC1, WIRE_JSONRPC2};
	xv id = xv_str("id-1");
	xv result = sample_all_kinds();
	xv_map_del(&result, "int"); /* XML-RPC would hand it back as a string */
	xv_map_del(&result, "time"); /* JSON would */
	for (size_t i = 0; i < 3; i++) {
		struct strbuf sb = STRBUF_INIT;
		struct xerr e = XERR_INIT, want = sample_err();
		xv got;
		int (*parse)(const char *, size_t, xv *, struct xerr *) =
			protos[i] == WIRE_XMLRPC ? wire_xmlrpc_parse_response
						 : wire_jsonrpc_parse_response;
		wire_write_success(&sb, protos[i], &id, &result);
		assert_int_equal(parse(sb.buf, sb.len, &got, &e), 0);
		assert_true(xv_equal(&got, &result));
		xv_free(&got);

		sb_reset(&sb);
		wire_write_failure(&sb, protos[i], &id, &want);
		assert_int_equal(parse(sb.buf, sb.len, &got, &e), 1);
		assert_int_equal(got.kind, XV_NIL);
		assert_string_equal(e.code, want.code);
		assert_int_equal(e.nparams, want.nparams);
		for (size_t k = 0; k < want.nparams; k++)
			assert_string_equal(e.params[k], want.params[k]);
		xerr_clear(&e);
		xerr_clear(&want);
		sb_free(&sb);
	}
	xv_free(&result);
	xv_free(&id);
}

/* ---- XML-RPC input forms ---- */

static void test_xml_bare_and_string(void **state)
{
	(void)state;
	xv v = xml_value_ok("<value>  spaced\n text </value>");
	assert_string_equal(v.u.s, "  spaced\n text ");
	xv_free(&v);
	v = xml_value_ok("<value> </value>");
	assert_string_equal(v.u.s, " ");
	xv_free(&v);
	v = xml_value_ok("<value><string> kept </string></value>");
	assert_string_equal(v.u.s, " kept ");
	xv_free(&v);
	v = xml_value_ok("<value>\n  <string>x</string>\n</value>");
	assert_string_equal(v.u.s, "x");
	xv_free(&v);
	v = xml_value_ok("<value>a&amp;b&lt;&#233;&#x20AC;<![CDATA[<raw>]]></value>");
	assert_string_equal(v.u.s, "a&b<\xc3\xa9\xe2\x82\xac<raw>");
	xv_free(&v);
	v = xml_value_ok("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<value>x</value>\n");
	assert_string_equal(v.u.s, "x");
	xv_free(&v);
	/* 9007199254740993 is not a double; bare ints stay exact strings */
	v = xml_value_ok("<value>9007199254740993</value>");
	assert_int_equal(v.kind, XV_STR);
	assert_string_equal(v.u.s, "9007199254740993");
	xv_free(&v);
}

static void test_xml_empty_values(void **state)
{
	(void)state;
	const char *empties[] = {"<value/>", "<value></value>", "<value><string/></value>",
				 "<value><string></string></value>"};
	for (size_t i = 0; i < sizeof empties / sizeof *empties; i++) {
		xv v = xml_value_ok(empties[i]);
		assert_int_equal(v.kind, XV_STR);
		assert_string_equal(v.u.s, "");
		xv_free(&v);
	}
	xv v = xml_value_ok("<value><nil/></value>");
	assert_int_equal(v.kind, XV_NIL);
	v = xml_value_ok("<value><array><data/></array></value>");
	assert_int_equal(v.kind, XV_ARR);
	assert_int_equal(xv_len(&v), 0);
	xv_free(&v);
	v = xml_value_ok("<value><array/></value>");
	assert_int_equal(xv_len(&v), 0);
	xv_free(&v);
	v = xml_value_ok("<value><struct/></value>");
	assert_int_equal(v.kind, XV_MAP);
	xv_free(&v);

	struct xerr e = XERR_INIT;
	assert_int_equal(wire_xml_parse_value("", 0, &v, &e), 0);
	assert_int_equal(v.kind, XV_NIL);
	assert_int_equal(wire_xml_parse_value(" \n", 2, &v, &e), 0);
	assert_int_equal(v.kind, XV_NIL);
	assert_null(e.code);
}

static void test_xml_typed_scalars(void **state)
{
	(void)state;
	struct {
		const char *xml;
		xv want;
	} cases[] = {
		{"<value><int>42</int></value>", xv_int(42)},
		{"<value><i4>-5</i4></value>", xv_int(-5)},
		{"<value><i8> 9223372036854775807 </i8></value>", xv_int(INT64_MAX)},
		{"<value><boolean>1</boolean></value>", xv_bool(true)},
		{"<value><boolean>0</boolean></value>", xv_bool(false)},
		{"<value><double>2.5</double></value>", xv_float(2.5)},
		{"<value><double>-1e-3</double></value>", xv_float(-1e-3)},
		{"<value><dateTime.iso8601>20240101T12:00:00Z</dateTime.iso8601></value>",
		 xv_time(1704110400)},
		{"<value><dateTime.iso8601>2024-01-01T12:00:00Z</dateTime.iso8601></value>",
		 xv_time(1704110400)},
		{"<value><dateTime.iso8601>2024-01-01T14:00:00+02:00</dateTime.iso8601></value>",
		 xv_time(1704110400)},
		{"<value><dateTime.iso8601>20240101T12:00:00</dateTime.iso8601></value>",
		 xv_time(1704110400)},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		xv v = xml_value_ok(cases[i].xml);
		assert_int_equal(v.kind, cases[i].want.kind);
		assert_true(xv_equal(&v, &cases[i].want));
	}
	xv v = xml_value_ok("<value><base64>aGVsbG8gd29y\nbGQ=</base64></value>");
	assert_string_equal(v.u.s, "hello world");
	xv_free(&v);
	v = xml_value_ok("<value><base64>w6k=</base64></value>");
	assert_string_equal(v.u.s, "\xc3\xa9");
	xv_free(&v);
	v = xml_value_ok("<value><base64></base64></value>");
	assert_string_equal(v.u.s, "");
	xv_free(&v);
}

static void test_xml_bad_scalars(void **state)
{
	(void)state;
	const char *bad[] = {
		"<value><int>12a</int></value>",
		"<value><int></int></value>",
		"<value><i8>99999999999999999999</i8></value>",
		"<value><boolean>2</boolean></value>",
		"<value><double>1.5x</double></value>",
		"<value><dateTime.iso8601>yesterday</dateTime.iso8601></value>",
		"<value><dateTime.iso8601>20241301T00:00:00Z</dateTime.iso8601></value>",
		"<value><base64>a=b=</base64></value>",
		"<value><base64>abcde</base64></value>",
		"<value><base64>ab!c</base64></value>",
		"<value><nil>x</nil></value>",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		xml_value_bad(bad[i], "PARSE_FAILURE");
	/* decoded bytes must still be a UTF-8 C string */
	xml_value_bad("<value><base64>/w==</base64></value>", "INVALID_VALUE");
	xml_value_bad("<value><base64>YQBi</base64></value>", "INVALID_VALUE");
}

static void test_xml_nested(void **state)
{
	(void)state;
	const char *text =
		"<value><struct>\n"
		"  <member><name>a</name><value><array><data>\n"
		"    <value><struct><member><name>b</name>"
		"<value><array><data><value>1</value><value><i4>2</i4></value></data></array></value>"
		"</member></struct></value>\n"
		"    <value><array><data></data></array></value>\n"
		"  </data></array></value></member>\n"
		"  <member><name>a</name><value>dup wins</value></member>\n"
		"  <member>\n<name> spaced name </name>\n<value/></member>\n"
		"</struct></value>";
	xv v = xml_value_ok(text);
	assert_int_equal(xv_len(&v), 2);
	assert_string_equal(xv_map_get_str(&v, "a"), "dup wins");
	assert_string_equal(xv_map_get_str(&v, " spaced name "), "");
	xv_free(&v);

	v = xml_value_ok("<value><array><data><value><struct><member><name>b</name>"
			 "<value><array><data><value>1</value></data></array></value></member>"
			 "</struct></value><value/></data></array></value>");
	const xv *s = xv_arr_get(&v, 0);
	const xv *b = xv_map_get(s, "b");
	assert_string_equal(xv_arr_get(b, 0)->u.s, "1");
	assert_string_equal(xv_arr_get(&v, 1)->u.s, "");
	xv_free(&v);
}

static char *nested_xml(int depth)
{
	struct strbuf sb = STRBUF_INIT;
	for (int i = 0; i < depth - 1; i++)
		sb_puts(&sb, "<value><array><data>");
	sb_puts(&sb, "<value>x</value>");
	for (int i = 0; i < depth - 1; i++)
		sb_puts(&sb, "</data></array></value>");
	return sb_detach(&sb);
}

static void test_xml_depth_limit(void **state)
{
	(void)state;
	char *ok = nested_xml(64);
	xv v = xml_value_ok(ok);
	xv_free(&v);
	free(ok);
	char *deep = nested_xml(65);
	xml_value_bad(deep, "PARSE_FAILURE");
	free(deep);
	char *very = nested_xml(100000);
	xml_value_bad(very, "PARSE_FAILURE");
	free(very);
}

static void test_xml_malformed(void **state)
{
	(void)state;
	const char *bad[] = {
		"<value>",                               /* truncated */
		"<value><array><data><value>x</value>",  /* truncated inside */
		"<value>a</valu>",                       /* mismatched */
		"<value>\xff</value>",                   /* invalid UTF-8 */
		"<value>\xc0\xaf</value>",               /* overlong */
		"<value>\xed\xa0\x80</value>",           /* surrogate */
		"<value>&#0;</value>",                   /* NUL by reference */
		"<value>&bogus;</value>",                /* undefined entity */
		"<string>x</string>",                    /* wrong root */
		"<values>x</values>",
		"<value>x</value><value>y</value>",      /* two roots */
		"<value>x<string>y</string></value>",    /* text beside a type */
		"<value><string>a</string><string>b</string></value>",
		"<value><struct>junk</struct></value>",
		"<value><struct><member><value>x</value></member></struct></value>",
		"<value><struct><member><name>a</name></member></struct></value>",
		"<value><struct><member><name>a</name><name>b</name><value/></member></struct></value>",
		"<value><struct><member><name>a</name><value/><value/></member></struct></value>",
		"<value><array><value>x</value></array></value>", /* no <data> */
		"<value><array><data/><data/></array></value>",
		"<value><int><i4>1</i4></int></value>",
		"<value><blob>1</blob></value>",
		"<value><struct><name>a</name></struct></value>",
		"not xml at all",
		"<!DOCTYPE value [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;\">]>"
		"<value>&b;</value>",                    /* entity expansion */
		"<!DOCTYPE value SYSTEM \"file:///etc/passwd\"><value>x</value>",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		xml_value_bad(bad[i], "PARSE_FAILURE");
	/* an embedded NUL byte ends nothing early: the whole body is parsed */
	struct xerr e = XERR_INIT;
	xv v;
	assert_int_equal(wire_xml_parse_value("<value>a\0b</value>", 18, &v, &e), -1);
	assert_string_equal(e.code, "PARSE_FAILURE");
	xerr_clear(&e);
}

/* ---- XML-RPC calls and responses ---- */

static void test_xml_parse_call(void **state)
{
	(void)state;
	const char *body =
		"<?xml version='1.0'?>\r\n<methodCall>\r\n"
		"<methodName> VM.start </methodName>\r\n<params>\r\n"
		"<param>\n<value><string>OpaqueRef:s</string></value>\n</param>\n"
		"<param><value>OpaqueRef:vm</value></param>\n"
		"<param><value><boolean>0</boolean></value></param>\n"
		"<param><value><boolean>1</boolean></value></param>\n"
		"</params>\n</methodCall>\n";
	struct wire_call c;
	struct xerr e = XERR_INIT;
	assert_int_equal(wire_xmlrpc_parse_call(body, strlen(body), &c, &e), 0);
	assert_string_equal(c.method, "VM.start");
	assert_int_equal(xv_len(&c.params), 4);
	assert_string_equal(xv_arr_get(&c.params, 0)->u.s, "OpaqueRef:s");
	assert_string_equal(xv_arr_get(&c.params, 1)->u.s, "OpaqueRef:vm");
	assert_false(xv_arr_get(&c.params, 2)->u.b);
	assert_true(xv_arr_get(&c.params, 3)->u.b);
	wire_call_free(&c);

	/* no <params> at all, and an empty one */
	const char *noparams[] = {"<methodCall><methodName>host.get_all</methodName></methodCall>",
				  "<methodCall><methodName>host.get_all</methodName><params/></methodCall>"};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(wire_xmlrpc_parse_call(noparams[i], strlen(noparams[i]), &c, &e), 0);
		assert_string_equal(c.method, "host.get_all");
		assert_int_equal(c.params.kind, XV_ARR);
		assert_int_equal(xv_len(&c.params), 0);
		wire_call_free(&c);
	}
	assert_null(e.code);
}

static void test_xml_bad_calls(void **state)
{
	(void)state;
	const char *bad[] = {
		"",
		"<methodCall><params/></methodCall>",                         /* no methodName */
		"<methodCall><methodName> </methodName></methodCall>",        /* empty */
		"<methodCall><methodName>a</methodName><methodName>b</methodName></methodCall>",
		"<methodCall><methodName>a</methodName><params/><params/></methodCall>",
		"<methodCall><methodName>a</methodName><params><param/></params></methodCall>",
		"<methodCall><methodName>a</methodName><params><param><value/><value/></param>"
		"</params></methodCall>",
		"<methodCall><methodName>a<b/></methodName></methodCall>",
		"<methodResponse><params/></methodResponse>",                 /* wrong root */
		"<value>x</value>",
		"<methodCall><methodName>a</methodName><params><value/></params></methodCall>",
		"<methodCall><methodName>a</methodName>stray<params/></methodCall>",
		"<methodCall><methodName>a</methodName><params><param><value>x",  /* truncated */
		"<methodCall><methodName>\xfe</methodName></methodCall>",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		xml_call_bad(bad[i]);
}

static int xml_response(const char *body, xv *out, struct xerr *e)
{
	return wire_xmlrpc_parse_response(body, strlen(body), out, e);
}

static void test_xml_parse_response(void **state)
{
	(void)state;
	xv v;
	struct xerr e = XERR_INIT;
	assert_int_equal(xml_response(
		"<?xml version=\"1.0\"?>\n<methodResponse><params><param><value><struct>"
		"<member><name>Status</name><value>Success</value></member>"
		"<member><name>Value</name><value><array><data><value>OpaqueRef:a</value>"
		"</data></array></value></member></struct></value></param></params>"
		"</methodResponse>", &v, &e), 0);
	assert_int_equal(v.kind, XV_ARR);
	assert_string_equal(xv_arr_get(&v, 0)->u.s, "OpaqueRef:a");
	xv_free(&v);

	assert_int_equal(xml_response(
		"<methodResponse><params><param><value><struct>"
		"<member><name>Status</name><value>Failure</value></member>"
		"<member><name>ErrorDescription</name><value><array><data>"
		"<value>HANDLE_INVALID</value><value>VM</value><value><i4>3</i4></value>"
		"</data></array></value></member></struct></value></param></params>"
		"</methodResponse>", &v, &e), 1);
	assert_int_equal(v.kind, XV_NIL);
	assert_string_equal(e.code, "HANDLE_INVALID");
	assert_int_equal(e.nparams, 2);
	assert_string_equal(e.params[0], "VM");
	assert_string_equal(e.params[1], "3");

	assert_int_equal(xml_response(
		"<methodResponse><fault><value><struct>"
		"<member><name>faultCode</name><value><int>4</int></value></member>"
		"<member><name>faultString</name><value>Too many params</value></member>"
		"</struct></value></fault></methodResponse>", &v, &e), 1);
	assert_string_equal(e.code, "XMLRPC_FAULT");
	assert_string_equal(e.params[0], "4");
	assert_string_equal(e.params[1], "Too many params");

	const char *bad[] = {
		"<methodResponse/>",
		"<methodResponse><params/></methodResponse>",
		"<methodResponse><params><param><value>a</value></param>"
		"<param><value>b</value></param></params></methodResponse>",
		/* not xapi's envelope */
		"<methodResponse><params><param><value>a</value></param></params></methodResponse>",
		"<methodResponse><params><param><value><struct>"
		"<member><name>Status</name><value>Success</value></member>"
		"</struct></value></param></params></methodResponse>",
		"<methodResponse><params><param><value><struct>"
		"<member><name>Status</name><value>Failure</value></member>"
		"<member><name>ErrorDescription</name><value><array><data/></array></value></member>"
		"</struct></value></param></params></methodResponse>",
		"<methodResponse><params><param><value><struct>"
		"<member><name>Status</name><value>Maybe</value></member>"
		"</struct></value></param></params></methodResponse>",
		"<methodResponse><fault><value>x</value></fault></methodResponse>",
		"<methodResponse><params><param><value><struct>",
		"<methodCall><methodName>x</methodName></methodCall>",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (xml_response(bad[i], &v, &e) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_string_equal(e.code, "PARSE_FAILURE");
		assert_int_equal(v.kind, XV_NIL);
	}
	xerr_clear(&e);
}

/* Every prefix of a valid body is invalid, and parsing it must neither
 * crash nor leak (run under ASan). */
static void test_xml_truncations(void **state)
{
	(void)state;
	xv p = xv_arr_new();
	xv_arr_push(&p, sample_all_kinds());
	struct strbuf sb = STRBUF_INIT;
	wire_xmlrpc_write_call(&sb, "VM.create", &p);
	for (size_t n = 0; n < sb.len; n++) {
		struct wire_call c;
		struct xerr e = XERR_INIT;
		assert_int_equal(wire_xmlrpc_parse_call(sb.buf, n, &c, &e), -1);
		assert_string_equal(e.code, "PARSE_FAILURE");
		xerr_clear(&e);
	}
	/* flipped bytes: any outcome is fine as long as it is clean */
	srand(1);
	for (int i = 0; i < 2000; i++) {
		char *copy = malloc(sb.len);
		memcpy(copy, sb.buf, sb.len);
		copy[rand() % sb.len] = (char)(rand() % 256);
		copy[rand() % sb.len] = (char)(rand() % 256);
		struct wire_call c;
		struct xerr e = XERR_INIT;
		if (wire_xmlrpc_parse_call(copy, sb.len, &c, &e) == 0)
			assert_null(e.code);
		else
			assert_non_null(e.code);
		wire_call_free(&c);
		xerr_clear(&e);
		free(copy);
	}
	sb_free(&sb);
	xv_free(&p);
}

/* ---- JSON-RPC calls and responses ---- */

static void test_json_parse_call(void **state)
{
	(void)state;
	struct wire_call c;
	struct xerr e = XERR_INIT;
	const char *v1 = "{\"method\":\"session.login_with_password\","
			 "\"params\":[\"root\",\"pw\",\"1.0\",\"xo\"],\"id\":\"abc\"}";
	assert_int_equal(wire_jsonrpc_parse_call(v1, strlen(v1), &c, &e), 0);
	assert_int_equal(c.proto, WIRE_JSONRPC1);
	assert_string_equal(c.method, "session.login_with_password");
	assert_int_equal(xv_len(&c.params), 4);
	assert_int_equal(c.id.kind, XV_STR);
	assert_string_equal(c.id.u.s, "abc");
	wire_call_free(&c);

	/* what the xen-api npm client sends */
	const char *v2 = "{\"id\":0,\"jsonrpc\":\"2.0\",\"method\":\"VM.get_all_records\","
			 "\"params\":[\"OpaqueRef:s\"]}";
	assert_int_equal(wire_jsonrpc_parse_call(v2, strlen(v2), &c, &e), 0);
	assert_int_equal(c.proto, WIRE_JSONRPC2);
	assert_int_equal(c.id.kind, XV_INT);
	assert_int_equal(c.id.u.i, 0);
	wire_call_free(&c);

	/* 2.0 may leave params out */
	const char *v2np = "{\"jsonrpc\":\"2.0\",\"method\":\"pool.get_all\",\"id\":5}";
	assert_int_equal(wire_jsonrpc_parse_call(v2np, strlen(v2np), &c, &e), 0);
	assert_int_equal(c.params.kind, XV_ARR);
	assert_int_equal(xv_len(&c.params), 0);
	wire_call_free(&c);
	assert_null(e.code);
}

static void test_json_bad_calls(void **state)
{
	(void)state;
	const char *bad[] = {
		"",
		"[]",
		"\"method\"",
		"{\"method\":\"a\",\"params\":[]}",                   /* no id */
		"{\"method\":\"a\",\"params\":[],\"id\":null}",
		"{\"method\":\"a\",\"params\":[],\"id\":1.5}",
		"{\"method\":\"a\",\"params\":[],\"id\":true}",
		"{\"method\":\"a\",\"params\":[],\"id\":[1]}",
		"{\"params\":[],\"id\":1}",                           /* no method */
		"{\"method\":\"\",\"params\":[],\"id\":1}",
		"{\"method\":7,\"params\":[],\"id\":1}",
		"{\"method\":\"a\",\"id\":1}",                        /* 1.0 needs params */
		"{\"method\":\"a\",\"params\":\"x\",\"id\":1}",
		"{\"method\":\"a\",\"params\":{\"k\":1},\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":{},\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":7,\"id\":1}",
		"{\"jsonrpc\":\"1.0\",\"method\":\"a\",\"params\":[],\"id\":1}",
		"{\"jsonrpc\":2,\"method\":\"a\",\"params\":[],\"id\":1}",
		"{\"method\":\"a\",\"params\":[\"x\"],\"id\":1",     /* truncated */
		"{\"method\":\"a\",\"params\":[\"\xff\"],\"id\":1}",  /* invalid UTF-8 */
		"{\"method\":\"a\",\"params\":[\"a\\u0000b\"],\"id\":1}",
		"{\"method\":\"a\",\"params\":[99999999999999999999],\"id\":1}",
		"{\"method\":\"a\",\"params\":[],\"id\":1} trailing",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		json_call_bad(bad[i]);

	/* nesting: 64 levels of value are fine, 65 are not */
	for (int depth = 64; depth <= 65; depth++) {
		struct strbuf sb = STRBUF_INIT;
		sb_puts(&sb, "{\"method\":\"a\",\"id\":1,\"params\":[");
		for (int i = 0; i < depth; i++)
			sb_putc(&sb, '[');
		for (int i = 0; i < depth; i++)
			sb_putc(&sb, ']');
		sb_puts(&sb, "]}");
		if (depth == 65) {
			json_call_bad(sb.buf);
		} else {
			struct wire_call c;
			struct xerr e = XERR_INIT;
			assert_int_equal(wire_jsonrpc_parse_call(sb.buf, sb.len, &c, &e), 0);
			wire_call_free(&c);
		}
		sb_free(&sb);
	}
}

static int json_response(const char *body, xv *out, struct xerr *e)
{
	return wire_jsonrpc_parse_response(body, strlen(body), out, e);
}

static void test_json_parse_response(void **state)
{
	(void)state;
	xv v;
	struct xerr e = XERR_INIT;
	assert_int_equal(json_response("{\"result\":[\"OpaqueRef:a\"],\"error\":null,\"id\":1}", &v, &e), 0);
	assert_string_equal(xv_arr_get(&v, 0)->u.s, "OpaqueRef:a");
	xv_free(&v);
	assert_int_equal(json_response("{\"jsonrpc\":\"2.0\",\"result\":{\"a\":1},\"id\":\"x\"}", &v, &e), 0);
	assert_int_equal(xv_map_get(&v, "a")->u.i, 1);
	xv_free(&v);
	assert_int_equal(json_response("{\"result\":null,\"error\":null,\"id\":1}", &v, &e), 0);
	assert_int_equal(v.kind, XV_NIL);

	assert_int_equal(json_response("{\"result\":null,\"error\":[\"SR_FULL\",\"10\",20],\"id\":1}",
				       &v, &e), 1);
	assert_string_equal(e.code, "SR_FULL");
	assert_int_equal(e.nparams, 2);
	assert_string_equal(e.params[1], "20");
	assert_int_equal(v.kind, XV_NIL);

	assert_int_equal(json_response("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":"
				       "\"VDI_IN_USE\",\"data\":[\"OpaqueRef:v\",\"destroy\"]},\"id\":0}",
				       &v, &e), 1);
	assert_string_equal(e.code, "VDI_IN_USE");
	assert_int_equal(e.nparams, 2);
	assert_string_equal(e.params[0], "OpaqueRef:v");
	assert_string_equal(e.params[1], "destroy");

	/* data that is not an array is dropped, as xen-api does */
	assert_int_equal(json_response("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,"
				       "\"message\":\"MESSAGE_METHOD_UNKNOWN\",\"data\":\"x\"},\"id\":0}",
				       &v, &e), 1);
	assert_string_equal(e.code, "MESSAGE_METHOD_UNKNOWN");
	assert_int_equal(e.nparams, 0);

	const char *bad[] = {
		"",
		"null",
		"[1]",
		"{\"result\":1,\"error\":null}",                                   /* no id */
		"{\"result\":1,\"error\":null,\"id\":null}",
		"{\"result\":1,\"id\":1}",                                         /* 1.0 needs error */
		"{\"error\":null,\"id\":1}",
		"{\"result\":1,\"error\":[\"X\"],\"id\":1}",
		"{\"result\":null,\"error\":[],\"id\":1}",
		"{\"result\":null,\"error\":[5],\"id\":1}",
		"{\"result\":null,\"error\":\"X\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"result\":1,\"error\":null,\"id\":1}",       /* XO rejects this */
		"{\"jsonrpc\":\"2.0\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"error\":{\"message\":\"X\"},\"id\":1}",     /* no code */
		"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1},\"id\":1}",           /* no message */
		"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":\"1\",\"message\":\"X\"},\"id\":1}",
		"{\"jsonrpc\":\"3.0\",\"result\":1,\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"result\":\"\xc3\",\"id\":1}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (json_response(bad[i], &v, &e) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_string_equal(e.code, "PARSE_FAILURE");
		assert_int_equal(v.kind, XV_NIL);
	}
	xerr_clear(&e);
}

/* ---- task results ---- */

static void test_task_result_values(void **state)
{
	(void)state;
	xv v = xml_value_ok("<value>OpaqueRef:x</value>");
	assert_string_equal(v.u.s, "OpaqueRef:x");
	xv_free(&v);
	/* VM import's result, which Xen Orchestra destructures */
	xv arr = xv_arr_new();
	xv_arr_push_str(&arr, "OpaqueRef:vm");
	struct strbuf sb = STRBUF_INIT;
	wire_xml_value(&sb, &arr);
	assert_string_equal(sb.buf, "<value><array><data><value>OpaqueRef:vm</value></data></array></value>");
	v = xml_value_ok(sb.buf);
	assert_true(xv_equal(&v, &arr));
	xv_free(&v);
	xv_free(&arr);
	sb_free(&sb);
	/* a bare ref is not a task result */
	xml_value_bad("OpaqueRef:x", "PARSE_FAILURE");
}

/* Whole numbers are written without printf, the rest with %.16g: the
 * bytes are %.16g's either way (".0" added in JSON to keep it a real). */
static void test_float_bytes(void **state)
{
	(void)state;
	static const struct {
		double f;
		const char *text;
	} cases[] = {
		{0.0, "0"}, {-0.0, "-0"}, {1, "1"}, {-3, "-3"}, {0.5, "0.5"},
		{999999999999999.0, "999999999999999"}, {1e15, "1000000000000000"}, {-1e15, "-1000000000000000"}, {1e16, "1e+16"},
		{123456789012345.0, "123456789012345"}, {1e300, "1e+300"}, {-2.5e-7, "-2.5e-07"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char want[96];
		struct strbuf sb = STRBUF_INIT;
		xv v = xv_float(cases[i].f);
		wire_xml_value(&sb, &v);
		snprintf(want, sizeof want, "<value><double>%s</double></value>", cases[i].text);
		assert_string_equal(sb.buf, want);
		sb_reset(&sb);
		wire_write_success(&sb, WIRE_JSONRPC2, &(xv){.kind = XV_INT, .u.i = 1}, &v);
		snprintf(want, sizeof want, "{\"jsonrpc\":\"2.0\",\"result\":%s%s,\"id\":1}", cases[i].text,
			 strpbrk(cases[i].text, ".e") ? "" : ".0");
		assert_string_equal(sb.buf, want);
		sb_free(&sb);
	}
}

/* ---- the quick readers of the usual call against the general ones ---- */

typedef int (*call_parser)(const char *, size_t, struct wire_call *, struct xerr *);

/* body read by both readers: same outcome, method, params, id, error */
static void same_call(const char *body, size_t len, call_parser quick, call_parser general)
{
	struct wire_call a, b;
	struct xerr ea = XERR_INIT, eb = XERR_INIT;
	int ra = quick(body, len, &a, &ea), rb = general(body, len, &b, &eb);
	if (ra != rb)
		fail_msg("%.*s: %d vs %d", (int)len, body, ra, rb);
	if (ra == 0) {
		assert_int_equal(a.proto, b.proto);
		assert_string_equal(a.method, b.method);
		if (!xv_equal(&a.params, &b.params) || !xv_equal(&a.id, &b.id) ||
		    a.params.kind != b.params.kind || a.id.kind != b.id.kind)
			fail_msg("%.*s: values differ", (int)len, body);
	} else {
		assert_string_equal(ea.code, eb.code);
		assert_int_equal(ea.nparams, eb.nparams);
		for (size_t i = 0; i < ea.nparams; i++)
			assert_string_equal(ea.params[i], eb.params[i]);
	}
	wire_call_free(&a);
	wire_call_free(&b);
	xerr_clear(&ea);
	xerr_clear(&eb);
}

/* each body, then 3,000 variants with a byte replaced, inserted or
 * removed, a few at a time, from bytes that mean something to the readers */
static void same_calls(const char *const *bodies, size_t n, call_parser quick, call_parser general)
{
	static const char alphabet[] = "\"\\{}[]:,<>/&; \t\r\n0123456789-.eE\x01\x80\xc3\xa9" "ax";
	char buf[512];
	unsigned seed = 7;
	for (size_t i = 0; i < n; i++) {
		same_call(bodies[i], strlen(bodies[i]), quick, general);
		for (int k = 0; k < 3000; k++) {
			size_t len = strlen(bodies[i]);
			memcpy(buf, bodies[i], len);
			for (int m = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 3; m > 0; m--) {
				seed = seed * 1103515245u + 12345u;
				size_t at = (seed >> 8) % (len + 1);
				char c = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
				switch ((seed >> 28) % 3) {
				case 0:
					if (at < len)
						buf[at] = c;
					break;
				case 1:
					if (len + 1 < sizeof buf) {
						memmove(buf + at + 1, buf + at, len - at);
						buf[at] = c;
						len++;
					}
					break;
				default:
					if (at < len) {
						memmove(buf + at, buf + at + 1, len - at - 1);
						len--;
					}
					break;
				}
			}
			same_call(buf, len, quick, general);
		}
	}
}

static void test_json_quick_call(void **state)
{
	(void)state;
	static const char *const bodies[] = {
		"{\"jsonrpc\":\"2.0\",\"method\":\"VM.get_record\",\"params\":[\"OpaqueRef:s\","
		"\"OpaqueRef:0002810c-0b2e-4d63-95b4-ea22d7361b21\"],\"id\":1}",
		"{\"method\":\"session.login_with_password\",\"params\":[\"root\",\"pw\",\"1.0\",\"xo\"],"
		"\"id\":\"abc\"}",
		"{\"id\":0,\"jsonrpc\":\"2.0\",\"method\":\"VM.get_all_records\",\"params\":[\"s\"]}",
		" { \"jsonrpc\" : \"2.0\" , \"method\" : \"pool.get_all\" , \"id\" : 5 } \n",
		"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[],\"id\":123456789012345678}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[],\"id\":999999999999999999}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[],\"id\":9223372036854775807}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[],\"id\":99999999999999999999}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[\"\",\"a b\"],\"id\":\"\"}",
		"{\"method\":\"m\",\"id\":1}",
		"{\"jsonrpc\":\"1.0\",\"method\":\"m\",\"params\":[],\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[1,true,null],\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[\"x\"],\"id\":1,\"id\":2}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"\",\"params\":[\"x\"],\"id\":-1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[\"\\u00e9\"],\"id\":1.5}",
		"{}",
		"[]",
	};
	same_calls(bodies, sizeof bodies / sizeof bodies[0], wire_jsonrpc_parse_call,
		   wire_jsonrpc_parse_call_general);
}

static void test_xml_quick_call(void **state)
{
	(void)state;
	static const char *const bodies[] = {
		"<?xml version=\"1.0\"?><methodCall><methodName>VM.get_record</methodName><params>"
		"<param><value><string>OpaqueRef:s</string></value></param><param><value><string>"
		"OpaqueRef:0002810c-0b2e-4d63-95b4-ea22d7361b21</string></value></param></params>"
		"</methodCall>",
		/* Python's xmlrpc.client */
		"<?xml version='1.0'?>\n<methodCall>\n<methodName>session.login_with_password"
		"</methodName>\n<params>\n<param>\n<value><string>root</string></value>\n</param>\n"
		"<param>\n<value><string>pw</string></value>\n</param>\n</params>\n</methodCall>\n",
		"<methodCall><methodName>pool.get_all</methodName><params></params></methodCall>",
		"<methodCall><methodName>m</methodName><params><param><value>bare text</value></param>"
		"<param><value></value></param><param><value><string></string></value></param>"
		"</params></methodCall>",
		"<methodCall><methodName> m </methodName><params/></methodCall>",
		"<methodCall><methodName>m</methodName></methodCall>",
		"<methodCall><methodName>m</methodName><params><param><value><int>1</int></value>"
		"</param></params></methodCall>",
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><methodCall><methodName>m</methodName>"
		"<params><param><value>a &amp; b</value></param></params></methodCall>",
		"<methodCall><methodName>m</methodName><params><param><value>x</value><value>y"
		"</value></param></params></methodCall>",
	};
	same_calls(bodies, sizeof bodies / sizeof bodies[0], wire_xmlrpc_parse_call,
		   wire_xmlrpc_parse_call_general);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_value_bytes),
		cmocka_unit_test(test_xml_response_bytes),
		cmocka_unit_test(test_xml_call_bytes),
		cmocka_unit_test(test_json_response_bytes),
		cmocka_unit_test(test_json_call_bytes),
		cmocka_unit_test(test_xml_roundtrip),
		cmocka_unit_test(test_json_roundtrip),
		cmocka_unit_test(test_response_roundtrip),
		cmocka_unit_test(test_xml_bare_and_string),
		cmocka_unit_test(test_xml_empty_values),
		cmocka_unit_test(test_xml_typed_scalars),
		cmocka_unit_test(test_xml_bad_scalars),
		cmocka_unit_test(test_xml_nested),
		cmocka_unit_test(test_xml_depth_limit),
		cmocka_unit_test(test_xml_malformed),
		cmocka_unit_test(test_xml_parse_call),
		cmocka_unit_test(test_xml_bad_calls),
		cmocka_unit_test(test_xml_parse_response),
		cmocka_unit_test(test_xml_truncations),
		cmocka_unit_test(test_json_parse_call),
		cmocka_unit_test(test_json_bad_calls),
		cmocka_unit_test(test_json_parse_response),
		cmocka_unit_test(test_task_result_values),
		cmocka_unit_test(test_float_bytes),
		cmocka_unit_test(test_json_quick_call),
		cmocka_unit_test(test_xml_quick_call),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
