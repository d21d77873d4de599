/* jsonrpc: JSON-RPC 1.0 and 2.0 calls and responses, read with jansson and
 * written with jsonv in xapi's envelopes. Also home to the protocol-neutral
 * entry points (wire_call_free, wire_write_*) and the shared error helpers. */
#include "wire_int.h"
#include "../base/jsonv.h"
#include "../base/mem.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const xv nil_value = {.kind = XV_NIL};

void wire_call_free(struct wire_call *c)
{
	if (!c)
		return;
	free(c->method);
	c->method = NULL;
	xv_free(&c->params);
	xv_free(&c->id);
}

/* ---- shared helpers ---- */

char *wire_param_text(const xv *v)
{
	char tmp[64];
	struct strbuf sb = STRBUF_INIT;
	switch (v->kind) {
	case XV_NIL:
		return xstrdup("");
	case XV_STR:
		return xstrdup(v->u.s);
	case XV_INT:
	case XV_I32:
		return xasprintf("%lld", (long long)v->u.i);
	case XV_BOOL:
		return xstrdup(v->u.b ? "true" : "false");
	case XV_FLOAT:
		return xasprintf("%.16g", v->u.f);
	case XV_TIME:
		xv_time_format(v->u.i, tmp, sizeof tmp);
		return xstrdup(tmp);
	case XV_ARR:
	case XV_MAP:
	case XV_RAW:
		break;
	}
	jsonv_write(&sb, v);
	return sb_detach(&sb);
}

int wire_err_from_list(const xv *items, struct xerr *err)
{
	const xv *code = xv_arr_get(items, 0);
	if (!code || code->kind != XV_STR || !code->u.s[0])
		return xerr_set(err, ERR_PARSE_FAILURE, "error is not [code, params...]", NULL);
	xerr_set(err, code->u.s, NULL);
	for (size_t i = 1; i < items->u.a->n; i++) {
		char *p = wire_param_text(&items->u.a->items[i]);
		xerr_add(err, p);
		free(p);
	}
	return 1;
}

/* ---- reading ---- */

static int perr(struct xerr *err, const char *why)
{
	return xerr_set(err, ERR_PARSE_FAILURE, why, NULL);
}

static bool depth_ok(const json_t *j, int depth)
{
	const char *k;
	json_t *item;
	size_t i;
	if (depth > WIRE_MAX_DEPTH)
		return false;
	if (json_is_array(j)) {
		json_array_foreach(j, i, item)
			if (!depth_ok(item, depth + 1))
				return false;
	} else if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, item)
			if (!depth_ok(item, depth + 1))
				return false;
	}
	return true;
}

/* Converts j, which sits at nesting level depth (a parameter is level 1,
 * as in XML-RPC), refusing anything nested deeper than WIRE_MAX_DEPTH. */
static int to_xv(const json_t *j, int depth, xv *out, struct xerr *err)
{
	*out = XV_NIL_INIT;
	if (!depth_ok(j, depth))
		return perr(err, "values nested too deeply");
	return jsonv_from_jansson(j, out, err);
}

static json_t *load_object(const char *body, size_t len, struct xerr *err)
{
	json_error_t je;
	/* no JSON_ALLOW_NUL: xv strings are C strings */
	json_t *j = json_loadb(body, len, 0, &je);
	if (!j) {
		perr(err, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		perr(err, "not a JSON object");
		return NULL;
	}
	return j;
}

/* Returns 1 for 2.0, 0 when absent, -1 for anything else. */
static int json_version(const json_t *j)
{
	const json_t *v = json_object_get(j, "jsonrpc");
	if (!v)
		return 0;
	return json_is_string(v) && strcmp(json_string_value(v), "2.0") == 0 ? 1 : -1;
}

static bool valid_id(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id);
}

static int call_params(const json_t *j, struct wire_call *out, struct xerr *err)
{
	const json_t *p = json_object_get(j, "params");
	/* 2.0 lets a call without parameters leave them out */
	if (out->proto == WIRE_JSONRPC2 && (!p || json_is_null(p))) {
		out->params = xv_arr_new();
		return 0;
	}
	if (!json_is_array(p))
		return perr(err, "params must be an array");
	return to_xv(p, 0, &out->params, err);
}

static int call_from_json(const json_t *j, struct wire_call *out, struct xerr *err)
{
	int ver = json_version(j);
	if (ver < 0)
		return perr(err, "unsupported jsonrpc version");
	out->proto = ver ? WIRE_JSONRPC2 : WIRE_JSONRPC1;
	const json_t *m = json_object_get(j, "method");
	if (!json_is_string(m) || json_string_length(m) == 0)
		return perr(err, "missing method");
	/* xapi treats id-less requests as notifications it will not answer */
	const json_t *id = json_object_get(j, "id");
	if (!valid_id(id))
		return perr(err, "id must be a string or an integer");
	if (call_params(j, out, err) < 0 || jsonv_from_jansson(id, &out->id, err) < 0)
		return -1;
	out->method = xstrdup(json_string_value(m));
	return 0;
}

/* ---- the common call, read without jansson ----
 * Nearly every call is {"jsonrpc":"2.0","method":M,"params":[strings],
 * "id":N} in some key order, with plain ASCII strings; building jansson's
 * tree for it costs more than the call it carries. This reads exactly that
 * shape and gives up (returns -1, out untouched) on anything else --
 * escapes, non-ASCII bytes, other keys or value types, a key twice --
 * which the general reader below then takes, so the result is the same. */

static const char *fast_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* A string of bytes 0x20-0x7e without escapes: its text is [*s, *e). */
static const char *fast_str(const char *p, const char *end, const char **s, const char **e)
{
	if (p == end || *p != '"')
		return NULL;
	*s = ++p;
	while (p < end && *p != '"') {
		if (*p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return NULL;
		p++;
	}
	if (p == end)
		return NULL;
	*e = p;
	return p + 1;
}

static int fast_parse_call(const char *body, size_t len, struct wire_call *out)
{
	const char *p = body, *end = body + len;
	const char *ms = NULL, *me = NULL, *is = NULL, *ie = NULL;
	bool have_ver = false, have_params = false, have_id = false, id_int = false;
	long long idn = 0;
	xv params = XV_NIL_INIT;
	p = fast_ws(p, end);
	if (p == end || *p++ != '{')
		return -1;
	for (bool first = true;; first = false) {
		p = fast_ws(p, end);
		if (p < end && *p == '}' && first)
			goto fail; /* {}: the general reader says what is missing */
		const char *ks, *ke;
		if (!(p = fast_str(p, end, &ks, &ke)))
			goto fail;
		size_t kl = (size_t)(ke - ks);
		p = fast_ws(p, end);
		if (p == end || *p++ != ':')
			goto fail;
		p = fast_ws(p, end);
		const char *vs, *ve;
		if (kl == 7 && !memcmp(ks, "jsonrpc", 7) && !have_ver) {
			if (!(p = fast_str(p, end, &vs, &ve)) || ve - vs != 3 || memcmp(vs, "2.0", 3))
				goto fail;
			have_ver = true;
		} else if (kl == 6 && !memcmp(ks, "method", 6) && !ms) {
			if (!(p = fast_str(p, end, &ms, &me)) || ms == me)
				goto fail;
		} else if (kl == 6 && !memcmp(ks, "params", 6) && !have_params) {
			if (p == end || *p++ != '[')
				goto fail;
			params = xv_arr_new();
			have_params = true;
			p = fast_ws(p, end);
			if (p < end && *p == ']') {
				p++;
			} else {
				for (;;) {
					if (!(p = fast_str(p, end, &vs, &ve)))
						goto fail;
					xv_arr_push(&params, xv_strn(vs, (size_t)(ve - vs)));
					p = fast_ws(p, end);
					if (p < end && *p == ',') {
						p = fast_ws(p + 1, end);
						continue;
					}
					if (p == end || *p++ != ']')
						goto fail;
					break;
				}
			}
		} else if (kl == 2 && !memcmp(ks, "id", 2) && !have_id) {
			if (p < end && *p == '"') {
				if (!(p = fast_str(p, end, &is, &ie)))
					goto fail;
			} else {
				/* 0 or [1-9][0-9]*, at most 18 digits: no sign, fraction,
				 * exponent or overflow to think about */
				const char *ds = p;
				for (; p < end && *p >= '0' && *p <= '9'; p++) {
					if (p - ds == 18)
						goto fail;
					idn = idn * 10 + (*p - '0');
				}
				if (p == ds || (*ds == '0' && p - ds > 1))
					goto fail;
				id_int = true;
			}
			have_id = true;
		} else {
			goto fail;
		}
		p = fast_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p == end || *p++ != '}')
			goto fail;
		break;
	}
	if (fast_ws(p, end) != end || !ms || !have_id || (!have_params && !have_ver))
		goto fail;
	out->proto = have_ver ? WIRE_JSONRPC2 : WIRE_JSONRPC1;
	out->method = xstrndup(ms, (size_t)(me - ms));
	out->params = have_params ? params : xv_arr_new();
	out->id = id_int ? xv_int(idn) : xv_strn(is, (size_t)(ie - is));
	return 0;
fail:
	xv_free(&params);
	return -1;
}

int wire_jsonrpc_parse_call(const char *body, size_t len, struct wire_call *out, struct xerr *err)
{
	*out = (struct wire_call){.proto = WIRE_JSONRPC1, .params = XV_NIL_INIT, .id = XV_NIL_INIT};
	if (fast_parse_call(body, len, out) == 0)
		return 0;
	return wire_jsonrpc_parse_call_general(body, len, out, err);
}

int wire_jsonrpc_parse_call_general(const char *body, size_t len, struct wire_call *out,
				    struct xerr *err)
{
	*out = (struct wire_call){.proto = WIRE_JSONRPC1, .params = XV_NIL_INIT, .id = XV_NIL_INIT};
	json_t *j = load_object(body, len, err);
	if (!j)
		return -1;
	int r = call_from_json(j, out, err);
	json_decref(j);
	if (r < 0)
		wire_call_free(out);
	return r;
}

/* {"code":int,"message":CODE,"data":[params]}; data that is not an array
 * is dropped, as the xen-api npm client does. */
static int error_object(const json_t *e, struct xerr *err)
{
	const json_t *code = json_object_get(e, "code");
	const json_t *msg = json_object_get(e, "message");
	const json_t *data = json_object_get(e, "data");
	if (!json_is_integer(code) || !json_is_string(msg) || json_string_length(msg) == 0)
		return perr(err, "error object needs an integer code and a message");
	xv params = XV_NIL_INIT;
	if (json_is_array(data) && to_xv(data, 1, &params, err) < 0)
		return -1;
	xerr_set(err, json_string_value(msg), NULL);
	for (size_t i = 0; i < xv_len(&params); i++) {
		char *p = wire_param_text(&params.u.a->items[i]);
		xerr_add(err, p);
		free(p);
	}
	xv_free(&params);
	return 1;
}

/* A failed call's error: xapi's 1.0 [code, params...] or a 2.0 object. */
static int error_to_err(const json_t *e, struct xerr *err)
{
	if (json_is_object(e))
		return error_object(e, err);
	if (!json_is_array(e))
		return perr(err, "error is neither an array nor an object");
	xv items;
	if (to_xv(e, 1, &items, err) < 0)
		return -1;
	int r = wire_err_from_list(&items, err);
	xv_free(&items);
	return r;
}

static int response_from_json(const json_t *j, xv *result, struct xerr *err)
{
	if (!valid_id(json_object_get(j, "id")))
		return perr(err, "id must be a string or an integer");
	int ver = json_version(j);
	if (ver < 0)
		return perr(err, "unsupported jsonrpc version");
	const json_t *res = json_object_get(j, "result");
	const json_t *e = json_object_get(j, "error");
	if (ver) {
		if (res && !e)
			return to_xv(res, 1, result, err);
		if (e && !res)
			return error_to_err(e, err);
		return perr(err, "a 2.0 response has exactly one of result and error");
	}
	if (!res || !e)
		return perr(err, "a 1.0 response has both result and error");
	if (json_is_null(e))
		return to_xv(res, 1, result, err);
	if (!json_is_null(res))
		return perr(err, "a 1.0 response has a null result or a null error");
	return error_to_err(e, err);
}

int wire_jsonrpc_parse_response(const char *body, size_t len, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	json_t *j = load_object(body, len, err);
	if (!j)
		return -1;
	int r = response_from_json(j, result, err);
	json_decref(j);
	if (r != 0)
		xv_free(result);
	return r;
}

/* ---- writing ---- */

static void put_id(struct strbuf *out, const xv *id)
{
	if (id && (id->kind == XV_STR || id->kind == XV_INT || id->kind == XV_I32))
		jsonv_write(out, id);
	else
		sb_puts(out, "null");
}

/* xapi marshals a void result as "" in every protocol. */
static void put_result(struct strbuf *out, const xv *result)
{
	if (!result || result->kind == XV_NIL)
		sb_puts(out, "\"\"");
	else
		jsonv_write(out, result);
}

static void jsonrpc_success_head(struct strbuf *out, enum wire_proto proto)
{
	/* json-rpc-protocol, used by Xen Orchestra, rejects "error":null in 2.0 */
	sb_puts(out, proto == WIRE_JSONRPC2 ? "{\"jsonrpc\":\"2.0\",\"result\":" : "{\"result\":");
}

static void jsonrpc_success_tail(struct strbuf *out, enum wire_proto proto, const xv *id)
{
	if (proto != WIRE_JSONRPC2)
		sb_puts(out, ",\"error\":null");
	sb_puts(out, ",\"id\":");
	put_id(out, id);
	sb_putc(out, '}');
}

void wire_jsonrpc_write_success(struct strbuf *out, enum wire_proto proto, const xv *id,
				const xv *result)
{
	jsonrpc_success_head(out, proto);
	put_result(out, result);
	jsonrpc_success_tail(out, proto, id);
}

static void put_params(struct strbuf *out, const struct xerr *e, bool comma_first)
{
	for (size_t i = 0; i < e->nparams; i++) {
		if (i || comma_first)
			sb_putc(out, ',');
		sb_json_string(out, e->params[i]);
	}
}

void wire_jsonrpc_write_failure(struct strbuf *out, enum wire_proto proto, const xv *id,
				const struct xerr *e)
{
	const char *code = e->code ? e->code : "INTERNAL_ERROR";
	if (proto == WIRE_JSONRPC2) {
		/* xapi's error code is always 1; the XenAPI code is the message */
		sb_puts(out, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":");
		sb_json_string(out, code);
		sb_puts(out, ",\"data\":[");
		put_params(out, e, false);
		sb_puts(out, "]}");
	} else {
		sb_puts(out, "{\"result\":null,\"error\":[");
		sb_json_string(out, code);
		put_params(out, e, true);
		sb_putc(out, ']');
	}
	sb_puts(out, ",\"id\":");
	put_id(out, id);
	sb_putc(out, '}');
}

void wire_jsonrpc_write_call(struct strbuf *out, const char *method, const xv *params, long id)
{
	sb_puts(out, "{\"jsonrpc\":\"2.0\",\"method\":");
	sb_json_string(out, method);
	sb_puts(out, ",\"params\":");
	if (params && params->kind == XV_ARR)
		jsonv_write(out, params);
	else
		sb_puts(out, "[]");
	sb_printf(out, ",\"id\":%ld}", id);
}

void wire_write_success(struct strbuf *out, enum wire_proto proto, const xv *id, const xv *result)
{
	if (!result)
		result = &nil_value;
	if (proto == WIRE_XMLRPC)
		wire_xmlrpc_write_success(out, result);
	else
		wire_jsonrpc_write_success(out, proto, id, result);
}

void wire_write_success_head(struct strbuf *out, enum wire_proto proto)
{
	if (proto == WIRE_XMLRPC)
		wire_xmlrpc_write_success_head(out);
	else
		jsonrpc_success_head(out, proto);
}

void wire_write_success_tail(struct strbuf *out, enum wire_proto proto, const xv *id)
{
	if (proto == WIRE_XMLRPC)
		wire_xmlrpc_write_success_tail(out);
	else
		jsonrpc_success_tail(out, proto, id);
}

void wire_write_failure(struct strbuf *out, enum wire_proto proto, const xv *id, const struct xerr *e)
{
	if (proto == WIRE_XMLRPC)
		wire_xmlrpc_write_failure(out, e);
	else
		wire_jsonrpc_write_failure(out, proto, id, e);
}
