/* JSON-RPC (1.0 and 2.0) as xenond and the client read it: calls (both
 * parsers) and responses; what parses is written back out. */
#include "wire/wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size + 1);
	memcpy(p, data, size);
	p[size] = '\0';
	struct wire_call c = {0};
	struct xerr err = {0};
	if (wire_jsonrpc_parse_call(p, size, &c, &err) == 0) {
		struct strbuf sb = STRBUF_INIT;
		wire_write_success(&sb, c.proto, &c.id, &c.params);
		sb_free(&sb);
		wire_call_free(&c);
	}
	xerr_clear(&err);
	memset(&c, 0, sizeof c);
	if (wire_jsonrpc_parse_call_general(p, size, &c, &err) == 0) {
		struct strbuf sb = STRBUF_INIT;
		wire_jsonrpc_write_call(&sb, c.method, &c.params, 1);
		sb_free(&sb);
		wire_call_free(&c);
	}
	xerr_clear(&err);
	xv v = XV_NIL_INIT;
	if (wire_jsonrpc_parse_response(p, size, &v, &err) == 0)
		xv_free(&v);
	xerr_clear(&err);
	free(p);
	return 0;
}
