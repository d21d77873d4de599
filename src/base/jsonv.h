/* jsonv: JSON text <-> xv, in base because every layer above speaks it:
 * the schema's defaults, the durable log, JSON-RPC, the guest agent.
 * Decoding uses jansson; encoding writes directly. */
#ifndef XENON_JSONV_H
#define XENON_JSONV_H

#include <stddef.h>

#include "../base/strbuf.h"
#include "../base/xerr.h"
#include "../base/xv.h"

/* Parses one JSON value. Integers become XV_INT, reals XV_FLOAT, objects
 * XV_MAP, null XV_NIL. Returns 0, or -1 with err set. */
int jsonv_parse(const char *text, size_t len, xv *out, struct xerr *err);
/* Converts a jansson value (json_t *) to xv. */
int jsonv_from_jansson(const void *json, xv *out, struct xerr *err);
/* Writes v as JSON: XV_TIME as "YYYYMMDDTHH:MM:SSZ", floats %.16g. */
void jsonv_write(struct strbuf *sb, const xv *v);

#endif
