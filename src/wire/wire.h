/* wire: XML-RPC and JSON-RPC envelopes, both directions. The server parses
 * calls and writes responses; the client library writes calls and parses
 * responses. Values are xv; typing to the schema happens in sc_coerce. */
#ifndef XENON_WIRE_H
#define XENON_WIRE_H

#include <stddef.h>

#include "../base/strbuf.h"
#include "../base/xerr.h"
#include "../base/xv.h"

enum wire_proto {
	WIRE_XMLRPC = 0,
	WIRE_JSONRPC1, /* no "jsonrpc" member */
	WIRE_JSONRPC2, /* "jsonrpc": "2.0" */
};

struct wire_call {
	enum wire_proto proto;
	char *method;
	xv params; /* XV_ARR */
	xv id;     /* JSON-RPC id (XV_STR or XV_INT); XV_NIL for XML-RPC */
};

void wire_call_free(struct wire_call *c);

/* ---- server side ---- */

/* Parse an XML-RPC <methodCall>. XML-RPC types map to xv as: string, bare
 * <value>text</value> and empty <value/> -> XV_STR; int/i4/i8 -> XV_INT;
 * boolean -> XV_BOOL; double -> XV_FLOAT; dateTime.iso8601 -> XV_TIME;
 * base64 -> XV_STR (decoded); array -> XV_ARR; struct -> XV_MAP;
 * nil -> XV_NIL. Malformed XML, a missing methodName or invalid UTF-8 give
 * -1 with err set (code "PARSE_FAILURE" or "INVALID_VALUE"). */
int wire_xmlrpc_parse_call(const char *body, size_t len, struct wire_call *out, struct xerr *err);

/* Parse a JSON-RPC request object: {"method","params":[...],"id"}; presence
 * of "jsonrpc":"2.0" selects WIRE_JSONRPC2. A missing or null id, a missing
 * method, or params that are not an array give -1 ("PARSE_FAILURE"). */
int wire_jsonrpc_parse_call(const char *body, size_t len, struct wire_call *out, struct xerr *err);
/* The general readers behind the two above, which first try a quick read
 * of the usual shape (string parameters, plain ASCII) and hand anything
 * else to these. Same results; the unit tests compare the two. */
int wire_xmlrpc_parse_call_general(const char *body, size_t len, struct wire_call *out,
				   struct xerr *err);
int wire_jsonrpc_parse_call_general(const char *body, size_t len, struct wire_call *out,
				    struct xerr *err);

/* Responses, in xapi's exact envelopes:
 *  XML-RPC: <methodResponse><params><param><value><struct>
 *    <member><name>Status</name><value>Success</value></member>
 *    <member><name>Value</name>VALUE</member></struct>... ; a void result
 *    (XV_NIL) is written as an empty string value. Failure has Status
 *    "Failure" and ErrorDescription = array of [code, params...].
 *  JSON-RPC 1: {"result":R,"error":null,"id":ID} / {"result":null,"error":[..],"id":ID}
 *  JSON-RPC 2: {"jsonrpc":"2.0","result":R,"id":ID} /
 *    {"jsonrpc":"2.0","error":{"code":1,"message":CODE,"data":[params]},"id":ID}
 */
void wire_write_success(struct strbuf *out, enum wire_proto proto, const xv *id, const xv *result);
void wire_write_failure(struct strbuf *out, enum wire_proto proto, const xv *id, const struct xerr *e);
/* A success envelope written in pieces, for results encoded as they are
 * read: head, then the result's own encoding (what wire_xml_value or
 * jsonv_write give), then tail. head + value + tail is byte for byte what
 * wire_write_success writes for the same result. */
void wire_write_success_head(struct strbuf *out, enum wire_proto proto);
void wire_write_success_tail(struct strbuf *out, enum wire_proto proto, const xv *id);

/* One XML-RPC <value>…</value> as xapi writes it: strings bare and escaped,
 * XV_INT bare (as a string), XV_I32 <i4>, booleans <boolean>0|1</boolean>,
 * floats <double>%.16g</double>, times <dateTime.iso8601>20240101T12:00:00Z
 * </dateTime.iso8601>, arrays <array><data>…</data></array>, maps <struct>
 * with <member><name>k</name><value>…</value></member>; XV_NIL as
 * <value></value>. Used for task results too. */
void wire_xml_value(struct strbuf *out, const xv *v);
/* Parses text holding one <value>…</value> (a task result). "" is XV_NIL. */
int wire_xml_parse_value(const char *text, size_t len, xv *out, struct xerr *err);

/* ---- client side ---- */

/* <?xml version="1.0"?><methodCall><methodName>M</methodName><params>… */
void wire_xmlrpc_write_call(struct strbuf *out, const char *method, const xv *params);
/* {"jsonrpc":"2.0","method":M,"params":[...],"id":ID} */
void wire_jsonrpc_write_call(struct strbuf *out, const char *method, const xv *params, long id);
/* Parse a response. Returns 0 with *result set on Success, 1 with err set
 * to the server's error on Failure, -1 with err set ("PARSE_FAILURE") when
 * the body is not a valid response. Works for XML-RPC, or JSON-RPC 1/2. */
int wire_xmlrpc_parse_response(const char *body, size_t len, xv *result, struct xerr *err);
int wire_jsonrpc_parse_response(const char *body, size_t len, xv *result, struct xerr *err);

#endif
