/* XML-RPC as xenond and the client read it: calls (both parsers), responses
 * and lone values (a task's result, an XVA's ova.xml). */
#include "wire/wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the parsers take NUL-free text of a given length; keep a copy that
	 * ends exactly there so reads past it are caught */
	char *p = malloc(size + 1);
	memcpy(p, data, size);
	p[size] = '\0';
	struct wire_call c = {0};
	struct xerr err = {0};
	if (wire_xmlrpc_parse_call(p, size, &c, &err) == 0)
		wire_call_free(&c);
	xerr_clear(&err);
	memset(&c, 0, sizeof c);
	if (wire_xmlrpc_parse_call_general(p, size, &c, &err) == 0) {
		/* what was read must write back out */
		struct strbuf sb = STRBUF_INIT;
		wire_xmlrpc_write_call(&sb, c.method, &c.params);
		sb_free(&sb);
		wire_call_free(&c);
	}
	xerr_clear(&err);
	xv v = XV_NIL_INIT;
	if (wire_xmlrpc_parse_response(p, size, &v, &err) == 0)
		xv_free(&v);
	xerr_clear(&err);
	if (wire_xml_parse_value(p, size, &v, &err) == 0) {
		struct strbuf sb = STRBUF_INIT;
		wire_xml_value(&sb, &v);
		sb_free(&sb);
		xv_free(&v);
	}
	xerr_clear(&err);
	free(p);
	return 0;
}
