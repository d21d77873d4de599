/* wire_int: helpers shared by the XML-RPC and JSON-RPC codecs, and the
 * per-protocol response writers that wire_write_success/failure dispatch
 * to. Not part of the wire contract; only src/wire includes it. */
#ifndef XENON_WIRE_INT_H
#define XENON_WIRE_INT_H

#include "wire.h"

/* Values nested deeper than this are refused: XenAPI values nest about
 * four deep, and the limit keeps recursion bounded on hostile input. */
#define WIRE_MAX_DEPTH 64

/* Sets err from items[0] (the code) and items[1..] (the parameters), as
 * ErrorDescription and JSON-RPC 1 errors carry them. Non-string items are
 * written as text. Returns 1, or -1 with PARSE_FAILURE when items is not
 * an array starting with a non-empty string. */
int wire_err_from_list(const xv *items, struct xerr *err);
/* Text of a scalar as an error parameter; arrays and maps as JSON. */
char *wire_param_text(const xv *v);

void wire_xmlrpc_write_success(struct strbuf *out, const xv *result);
void wire_xmlrpc_write_success_head(struct strbuf *out);
void wire_xmlrpc_write_success_tail(struct strbuf *out);
void wire_xmlrpc_write_failure(struct strbuf *out, const struct xerr *e);
void wire_jsonrpc_write_success(struct strbuf *out, enum wire_proto proto, const xv *id,
				const xv *result);
void wire_jsonrpc_write_failure(struct strbuf *out, enum wire_proto proto, const xv *id,
				const struct xerr *e);

#endif
