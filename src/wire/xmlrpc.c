/* xmlrpc: XML-RPC calls, responses and single values. Reading streams the
 * document through expat into xv with a stack of open elements; writing
 * reproduces xapi's bytes (ocaml-rpc's layout) exactly. */
#include "wire_int.h"
#include "../base/b64.h"
#include "../base/jsonv.h"
#include "../base/mem.h"

#include <errno.h>
#include <expat.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading ---- */

enum el {
	EL_ROOT, /* pseudo-element holding what the document element yields */
	EL_METHODCALL,
	EL_METHODRESPONSE,
	EL_METHODNAME,
	EL_PARAMS,
	EL_PARAM,
	EL_FAULT,
	EL_VALUE,
	EL_ARRAY,
	EL_DATA,
	EL_STRUCT,
	EL_MEMBER,
	EL_NAME,
	/* the scalar types, kept last: child_ok and takes_text test ranges */
	EL_NIL,
	EL_STRING,
	EL_INT,
	EL_BOOLEAN,
	EL_DOUBLE,
	EL_DATETIME,
	EL_BASE64,
};

static const struct {
	const char *name;
	enum el el;
} el_names[] = {
	{"methodCall", EL_METHODCALL}, {"methodResponse", EL_METHODRESPONSE},
	{"methodName", EL_METHODNAME}, {"params", EL_PARAMS},
	{"param", EL_PARAM},           {"fault", EL_FAULT},
	{"value", EL_VALUE},           {"array", EL_ARRAY},
	{"data", EL_DATA},             {"struct", EL_STRUCT},
	{"member", EL_MEMBER},         {"name", EL_NAME},
	{"nil", EL_NIL},               {"string", EL_STRING},
	{"int", EL_INT},               {"i4", EL_INT},
	{"i8", EL_INT},                {"boolean", EL_BOOLEAN},
	{"double", EL_DOUBLE},         {"dateTime.iso8601", EL_DATETIME},
	{"base64", EL_BASE64},
};

struct frame {
	enum el el;
	bool filled;        /* the single value slot (val) is taken */
	xv val;             /* slot, or the array/map being built */
	char *name;         /* member name; method name on EL_ROOT */
	struct strbuf text; /* character data, kept only where it means something */
};

struct xparse {
	XML_Parser p;
	enum el want_root;
	struct frame *stack;
	size_t depth, cap;
	size_t value_depth;
	bool failed, fault;
	struct xerr *err;
};

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_ws(s[i]))
			return false;
	return true;
}

/* Trims in place; returns the start of the trimmed text. */
static char *trim(char *s)
{
	while (is_ws(*s))
		s++;
	size_t n = strlen(s);
	while (n && is_ws(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static void fail(struct xparse *st, const char *code, const char *why)
{
	if (st->failed)
		return;
	st->failed = true;
	xerr_set(st->err, code, why, NULL);
	XML_StopParser(st->p, XML_FALSE);
}

static struct frame *top(struct xparse *st) { return &st->stack[st->depth - 1]; }

static bool takes_text(enum el el)
{
	return el == EL_VALUE || el == EL_NAME || el == EL_METHODNAME || el >= EL_STRING;
}

static bool child_ok(const struct xparse *st, const struct frame *parent, enum el child)
{
	switch (parent->el) {
	case EL_ROOT:
		return child == st->want_root && !parent->filled;
	case EL_METHODCALL:
		return child == EL_METHODNAME || child == EL_PARAMS;
	case EL_METHODRESPONSE:
		return child == EL_PARAMS || child == EL_FAULT;
	case EL_PARAMS:
		return child == EL_PARAM;
	case EL_PARAM:
	case EL_FAULT:
	case EL_DATA:
		return child == EL_VALUE;
	case EL_VALUE:
		return !parent->filled && (child == EL_ARRAY || child == EL_STRUCT || child >= EL_NIL);
	case EL_ARRAY:
		return child == EL_DATA;
	case EL_STRUCT:
		return child == EL_MEMBER;
	case EL_MEMBER:
		return child == EL_NAME || child == EL_VALUE;
	default:
		return false;
	}
}

static int el_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof el_names / sizeof el_names[0]; i++)
		if (strcmp(el_names[i].name, name) == 0)
			return (int)el_names[i].el;
	return -1;
}

static void push(struct xparse *st, enum el el)
{
	if (st->depth == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 16;
		st->stack = xrealloc(st->stack, sizeof(struct frame) * st->cap);
	}
	struct frame *f = &st->stack[st->depth++];
	*f = (struct frame){.el = el, .val = XV_NIL_INIT};
	sb_init(&f->text);
	if (el == EL_PARAMS || el == EL_DATA)
		f->val = xv_arr_new();
	else if (el == EL_STRUCT)
		f->val = xv_map_new();
}

/* The frame's text, trimmed, never NULL. */
static char *frame_text(struct frame *f)
{
	sb_add(&f->text, "", 0);
	return trim(f->text.buf);
}

static void frame_free(struct frame *f)
{
	xv_free(&f->val);
	free(f->name);
	sb_free(&f->text);
}

/* Puts v into parent's slot, or appends it to a list; takes ownership. */
static void deliver(struct xparse *st, struct frame *parent, xv v)
{
	if (parent->el == EL_DATA || parent->el == EL_PARAMS) {
		xv_arr_push(&parent->val, v);
		return;
	}
	if (parent->filled) {
		xv_free(&v);
		fail(st, "PARSE_FAILURE", "more than one value");
		return;
	}
	parent->val = v;
	parent->filled = true;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct xparse *st = ud;
	(void)attrs; /* XML-RPC gives attributes no meaning */
	if (st->failed)
		return;
	int el = el_lookup(name);
	if (el < 0 || !child_ok(st, top(st), (enum el)el)) {
		fail(st, "PARSE_FAILURE", "unexpected element");
		return;
	}
	if (el == EL_VALUE && ++st->value_depth > WIRE_MAX_DEPTH) {
		fail(st, "PARSE_FAILURE", "values nested too deeply");
		return;
	}
	push(st, (enum el)el);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct xparse *st = ud;
	if (st->failed)
		return;
	struct frame *f = top(st);
	if (takes_text(f->el))
		sb_add(&f->text, s, (size_t)len);
	else if (!blank(s, (size_t)len))
		fail(st, "PARSE_FAILURE", "unexpected text");
}

static int parse_int(const char *s, xv *out)
{
	char *end;
	errno = 0;
	long long i = strtoll(s, &end, 10);
	if (!*s || *end || errno)
		return -1;
	*out = xv_int(i);
	return 0;
}

/* Overflow and underflow are accepted as strtod rounds them (inf, 0). */
static int parse_double(const char *s, xv *out)
{
	char *end;
	double d = strtod(s, &end);
	if (!*s || *end)
		return -1;
	*out = xv_float(d);
	return 0;
}

static int parse_bool(const char *s, xv *out)
{
	if (strcmp(s, "1") == 0 || strcmp(s, "true") == 0)
		*out = xv_bool(true);
	else if (strcmp(s, "0") == 0 || strcmp(s, "false") == 0)
		*out = xv_bool(false);
	else
		return -1;
	return 0;
}

static int parse_time(const char *s, xv *out)
{
	int64_t t;
	if (xv_time_parse(s, &t) < 0)
		return -1;
	*out = xv_time(t);
	return 0;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		unsigned lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0;
			if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += len;
	}
	return true;
}

static int parse_base64(struct xparse *st, const char *s, xv *out)
{
	size_t n;
	unsigned char *buf = b64_decode(s, &n);
	if (!buf)
		return -1;
	/* xv strings are C strings, and xapi refuses non-UTF-8 parameters */
	if (memchr(buf, 0, n) || !utf8_valid(buf, n)) {
		free(buf);
		fail(st, "INVALID_VALUE", "base64");
		return -1;
	}
	buf[n] = '\0';
	*out = xv_str_own((char *)buf);
	return 0;
}

/* Converts a closed scalar element's text; on failure st is failed. */
static void end_scalar(struct xparse *st, struct frame *f, struct frame *parent)
{
	xv v = XV_NIL_INIT;
	int r = 0;
	if (f->el == EL_STRING) {
		v = xv_str_own(sb_detach(&f->text));
		deliver(st, parent, v);
		return;
	}
	char *s = frame_text(f);
	switch (f->el) {
	case EL_NIL:
		r = *s ? -1 : 0;
		break;
	case EL_INT:
		r = parse_int(s, &v);
		break;
	case EL_BOOLEAN:
		r = parse_bool(s, &v);
		break;
	case EL_DOUBLE:
		r = parse_double(s, &v);
		break;
	case EL_DATETIME:
		r = parse_time(s, &v);
		break;
	case EL_BASE64:
		r = parse_base64(st, s, &v);
		break;
	default:
		r = -1;
		break;
	}
	if (r < 0)
		fail(st, "PARSE_FAILURE", "bad scalar value");
	else
		deliver(st, parent, v);
}

static void end_value(struct xparse *st, struct frame *f, struct frame *parent)
{
	st->value_depth--;
	if (f->filled) {
		if (!blank(f->text.buf, f->text.len)) {
			fail(st, "PARSE_FAILURE", "text beside a typed value");
			return;
		}
		deliver(st, parent, f->val);
		f->val = XV_NIL_INIT;
		return;
	}
	/* a bare <value> is a string, its text kept byte for byte */
	deliver(st, parent, xv_str_own(sb_detach(&f->text)));
}

static void end_member(struct xparse *st, struct frame *f, struct frame *parent)
{
	if (!f->name || !f->filled) {
		fail(st, "PARSE_FAILURE", "member without name or value");
		return;
	}
	xv_map_set(&parent->val, f->name, f->val);
	f->val = XV_NIL_INIT;
}

static void end_name(struct xparse *st, struct frame *f, struct frame *parent)
{
	if (parent->name) {
		fail(st, "PARSE_FAILURE", "duplicate name");
		return;
	}
	if (parent->el == EL_METHODCALL) {
		char *t = frame_text(f);
		if (!*t) {
			fail(st, "PARSE_FAILURE", "empty methodName");
			return;
		}
		parent->name = xstrdup(t);
	} else {
		parent->name = sb_detach(&f->text);
	}
}

/* <params> closing inside a response must hold exactly one param. */
static void end_params(struct xparse *st, struct frame *f, struct frame *parent)
{
	xv v = f->val;
	f->val = XV_NIL_INIT;
	if (parent->el == EL_METHODRESPONSE) {
		if (v.u.a->n != 1) {
			xv_free(&v);
			fail(st, "PARSE_FAILURE", "response needs exactly one param");
			return;
		}
		xv one = v.u.a->items[0];
		v.u.a->n = 0;
		xv_free(&v);
		v = one;
	}
	deliver(st, parent, v);
}

/* Elements that carry one value up to their parent when they close. */
static void end_slot(struct xparse *st, struct frame *f, struct frame *parent)
{
	if (!f->filled) {
		/* a call without <params> has none; <array/> is empty */
		if (f->el != EL_METHODCALL && f->el != EL_ARRAY) {
			fail(st, "PARSE_FAILURE", "missing value");
			return;
		}
		f->val = xv_arr_new();
	}
	if (f->el == EL_METHODCALL) {
		if (!f->name) {
			fail(st, "PARSE_FAILURE", "missing methodName");
			return;
		}
		parent->name = f->name;
		f->name = NULL;
	}
	if (f->el == EL_FAULT)
		st->fault = true;
	deliver(st, parent, f->val);
	f->val = XV_NIL_INIT;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct xparse *st = ud;
	(void)name; /* expat has already matched it with the start tag */
	if (st->failed)
		return;
	struct frame *f = top(st), *parent = f - 1;
	switch (f->el) {
	case EL_VALUE:
		end_value(st, f, parent);
		break;
	case EL_MEMBER:
		end_member(st, f, parent);
		break;
	case EL_NAME:
	case EL_METHODNAME:
		end_name(st, f, parent);
		break;
	case EL_PARAMS:
		end_params(st, f, parent);
		break;
	case EL_DATA:
	case EL_STRUCT:
		deliver(st, parent, f->val);
		f->val = XV_NIL_INIT;
		break;
	case EL_METHODCALL:
	case EL_METHODRESPONSE:
	case EL_PARAM:
	case EL_FAULT:
	case EL_ARRAY:
		end_slot(st, f, parent);
		break;
	default:
		end_scalar(st, f, parent);
		break;
	}
	frame_free(f);
	st->depth--;
}

/* A DTD could declare entities that expand without bound, or pull in
 * external files; XML-RPC never needs one, so any DOCTYPE is refused. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	(void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
	fail(ud, "PARSE_FAILURE", "DOCTYPE not allowed");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
				   const XML_Char *value, int value_len, const XML_Char *base,
				   const XML_Char *sysid, const XML_Char *pubid,
				   const XML_Char *notation)
{
	(void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)sysid;
	(void)pubid, (void)notation;
	fail(ud, "PARSE_FAILURE", "entity declarations not allowed");
}

/* Parses body whose document element must be root. On success *out is
 * what the root yielded (params array, response value or value) and
 * *method the method name for calls. */
static int xml_parse(const char *body, size_t len, enum el root, xv *out, char **method,
		     bool *fault, struct xerr *err)
{
	*out = XV_NIL_INIT;
	if (len > INT_MAX)
		return xerr_set(err, ERR_PARSE_FAILURE, "body too large", NULL);
	struct xparse st = {.want_root = root, .err = err};
	st.p = XML_ParserCreate(NULL);
	if (!st.p)
		return xerr_internal(err, "XML parser allocation failed");
	XML_SetUserData(st.p, &st);
	XML_SetElementHandler(st.p, on_start, on_end);
	XML_SetCharacterDataHandler(st.p, on_text);
	XML_SetStartDoctypeDeclHandler(st.p, on_doctype);
	XML_SetEntityDeclHandler(st.p, on_entity_decl);
	XML_SetParamEntityParsing(st.p, XML_PARAM_ENTITY_PARSING_NEVER);
	push(&st, EL_ROOT);

	enum XML_Status r = XML_Parse(st.p, body, (int)len, XML_TRUE);
	if (!st.failed && r != XML_STATUS_OK) {
		char why[128];
		snprintf(why, sizeof why, "line %lu: %s",
			 (unsigned long)XML_GetCurrentLineNumber(st.p),
			 XML_ErrorString(XML_GetErrorCode(st.p)));
		xerr_set(err, ERR_PARSE_FAILURE, why, NULL);
		st.failed = true;
	}
	if (!st.failed && st.depth == 1 && st.stack[0].filled) {
		*out = st.stack[0].val;
		st.stack[0].val = XV_NIL_INIT;
		if (method) {
			*method = st.stack[0].name;
			st.stack[0].name = NULL;
		}
		if (fault)
			*fault = st.fault;
	} else if (!st.failed) {
		xerr_set(err, ERR_PARSE_FAILURE, "incomplete document", NULL);
		st.failed = true;
	}
	while (st.depth)
		frame_free(&st.stack[--st.depth]);
	free(st.stack);
	XML_ParserFree(st.p);
	return st.failed ? -1 : 0;
}

/* ---- the common call, read without expat ----
 * Nearly every call is <methodCall><methodName>M</methodName><params> with
 * <param><value><string>S</string></value></param> (or a bare <value>S
 * </value>) per parameter, in plain ASCII without references. Setting up
 * expat and the frames for it costs more than the call it carries. This
 * reads exactly that shape, with white space between the elements, and
 * gives up (returns -1, out untouched) on anything else -- a DOCTYPE,
 * comments, references, attributes, other types, non-ASCII bytes -- which
 * xml_parse then takes, so the result is the same. */

static const char *fx_ws(const char *p, const char *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

/* p past tag (e.g. "<params>"), or NULL */
static const char *fx_tag(const char *p, const char *end, const char *tag, size_t n)
{
	if ((size_t)(end - p) < n || memcmp(p, tag, n))
		return NULL;
	return p + n;
}
#define FX_TAG(p, end, lit) fx_tag(p, end, lit, sizeof lit - 1)

/* Text up to the next '<': bytes 0x20-0x7e but '&' and '>' (no
 * references, no "]]>"), so it is its own value byte for byte. */
static const char *fx_text(const char *p, const char *end)
{
	while (p < end && *p != '<') {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c > 0x7e || c == '&' || c == '>')
			return NULL;
		p++;
	}
	return p;
}

static int fast_parse_call(const char *body, size_t len, struct wire_call *out)
{
	const char *p = body, *end = body + len;
	xv params = XV_NIL_INIT;
	const char *q;
	if ((q = FX_TAG(p, end, "<?xml version=\"1.0\"?>")) ||
	    (q = FX_TAG(p, end, "<?xml version='1.0'?>")))
		p = q;
	else if ((size_t)(end - p) >= 2 && p[0] == '<' && p[1] == '?')
		return -1;
	p = fx_ws(p, end);
	if (!(p = FX_TAG(p, end, "<methodCall>")))
		return -1;
	p = fx_ws(p, end);
	if (!(p = FX_TAG(p, end, "<methodName>")))
		return -1;
	/* a name of letters, digits, '.', '_' and '-', untrimmed */
	const char *ms = p;
	while (p < end && (((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') || (*p >= '0' && *p <= '9') ||
			   *p == '.' || *p == '_' || *p == '-'))
		p++;
	const char *me = p;
	if (ms == me || !(p = FX_TAG(p, end, "</methodName>")))
		return -1;
	p = fx_ws(p, end);
	if (!(p = FX_TAG(p, end, "<params>")))
		return -1;
	params = xv_arr_new();
	for (;;) {
		p = fx_ws(p, end);
		if ((q = FX_TAG(p, end, "</params>"))) {
			p = q;
			break;
		}
		if (!(p = FX_TAG(p, end, "<param>")))
			goto fail;
		p = fx_ws(p, end);
		if (!(p = FX_TAG(p, end, "<value>")))
			goto fail;
		bool typed = false;
		if ((q = FX_TAG(p, end, "<string>"))) {
			p = q;
			typed = true;
		}
		const char *vs = p;
		if (!(p = fx_text(p, end)))
			goto fail;
		const char *ve = p;
		if (typed && !(p = FX_TAG(p, end, "</string>")))
			goto fail;
		if (!(p = FX_TAG(p, end, "</value>")))
			goto fail;
		p = fx_ws(p, end);
		if (!(p = FX_TAG(p, end, "</param>")))
			goto fail;
		xv_arr_push(&params, xv_strn(vs, (size_t)(ve - vs)));
	}
	p = fx_ws(p, end);
	if (!(p = FX_TAG(p, end, "</methodCall>")) || fx_ws(p, end) != end)
		goto fail;
	out->method = xstrndup(ms, (size_t)(me - ms));
	out->params = params;
	return 0;
fail:
	xv_free(&params);
	return -1;
}

int wire_xmlrpc_parse_call(const char *body, size_t len, struct wire_call *out, struct xerr *err)
{
	*out = (struct wire_call){.proto = WIRE_XMLRPC, .params = XV_NIL_INIT, .id = XV_NIL_INIT};
	if (fast_parse_call(body, len, out) == 0)
		return 0;
	return wire_xmlrpc_parse_call_general(body, len, out, err);
}

int wire_xmlrpc_parse_call_general(const char *body, size_t len, struct wire_call *out,
				   struct xerr *err)
{
	*out = (struct wire_call){.proto = WIRE_XMLRPC, .params = XV_NIL_INIT, .id = XV_NIL_INIT};
	return xml_parse(body, len, EL_METHODCALL, &out->params, &out->method, NULL, err);
}

int wire_xml_parse_value(const char *text, size_t len, xv *out, struct xerr *err)
{
	if (blank(text, len)) {
		*out = XV_NIL_INIT;
		return 0;
	}
	return xml_parse(text, len, EL_VALUE, out, NULL, NULL, err);
}

/* <fault> is not something xapi sends, but other XML-RPC servers do. */
static int fault_to_err(const xv *v, struct xerr *err)
{
	const xv *code = xv_map_get(v, "faultCode");
	const xv *msg = xv_map_get(v, "faultString");
	if (!code || !msg)
		return xerr_set(err, ERR_PARSE_FAILURE, "malformed fault", NULL);
	char *c = wire_param_text(code), *m = wire_param_text(msg);
	xerr_set(err, ERR_XMLRPC_FAULT, c, m, NULL);
	free(c);
	free(m);
	return 1;
}

/* Unwraps xapi's {Status, Value | ErrorDescription} envelope. */
static int envelope_to_result(xv *v, xv *result, struct xerr *err)
{
	const char *status = xv_map_get_str(v, "Status");
	if (status && strcmp(status, "Success") == 0) {
		xv *val = xv_map_get_mut(v, "Value");
		if (val) {
			*result = *val;
			*val = XV_NIL_INIT;
			return 0;
		}
	} else if (status && strcmp(status, "Failure") == 0) {
		const xv *desc = xv_map_get(v, "ErrorDescription");
		if (desc)
			return wire_err_from_list(desc, err);
	}
	return xerr_set(err, ERR_PARSE_FAILURE, "not a XenAPI response envelope", NULL);
}

int wire_xmlrpc_parse_response(const char *body, size_t len, xv *result, struct xerr *err)
{
	xv v;
	bool fault = false;
	*result = XV_NIL_INIT;
	if (xml_parse(body, len, EL_METHODRESPONSE, &v, NULL, &fault, err) < 0)
		return -1;
	int r = fault ? fault_to_err(&v, err) : envelope_to_result(&v, result, err);
	xv_free(&v);
	return r;
}

/* ---- writing ---- */

static void put_float(struct strbuf *out, double f)
{
	char tmp[64];
	if (isnan(f) || isinf(f))
		sb_puts(out, "NaN");
	else if (fabs(f) < 1e15 && f == (double)(long long)f && (f != 0 || !signbit(f)))
		sb_put_i64(out, (long long)f); /* what %.16g gives, without printf's cost */
	else {
		snprintf(tmp, sizeof tmp, "%.16g", f);
		sb_puts(out, tmp);
	}
}

void wire_xml_value(struct strbuf *out, const xv *v)
{
	char tmp[64];
	switch (v->kind) {
	case XV_NIL:
		sb_puts(out, "<value></value>");
		break;
	case XV_STR:
		sb_puts(out, "<value>");
		sb_xml_escape(out, v->u.s);
		sb_puts(out, "</value>");
		break;
	case XV_INT:
		sb_puts(out, "<value>");
		sb_put_i64(out, (long long)v->u.i);
		sb_puts(out, "</value>");
		break;
	case XV_RAW:
		sb_puts(out, v->u.s);
		break;
	case XV_I32:
		sb_puts(out, "<value><i4>");
		sb_put_i64(out, (long long)v->u.i);
		sb_puts(out, "</i4></value>");
		break;
	case XV_BOOL:
		sb_puts(out, v->u.b ? "<value><boolean>1</boolean></value>"
				    : "<value><boolean>0</boolean></value>");
		break;
	case XV_FLOAT:
		sb_puts(out, "<value><double>");
		put_float(out, v->u.f);
		sb_puts(out, "</double></value>");
		break;
	case XV_TIME:
		xv_time_format(v->u.i, tmp, sizeof tmp);
		sb_puts(out, "<value><dateTime.iso8601>");
		sb_puts(out, tmp);
		sb_puts(out, "</dateTime.iso8601></value>");
		break;
	case XV_ARR:
		sb_puts(out, "<value><array><data>");
		for (size_t i = 0; i < v->u.a->n; i++)
			wire_xml_value(out, &v->u.a->items[i]);
		sb_puts(out, "</data></array></value>");
		break;
	case XV_MAP:
		sb_puts(out, "<value><struct>");
		for (size_t i = 0; i < v->u.m->n; i++) {
			sb_puts(out, "<member><name>");
			sb_xml_escape(out, v->u.m->keys[i]);
			sb_puts(out, "</name>");
			wire_xml_value(out, &v->u.m->vals[i]);
			sb_puts(out, "</member>");
		}
		sb_puts(out, "</struct></value>");
		break;
	}
}

void wire_xmlrpc_write_call(struct strbuf *out, const char *method, const xv *params)
{
	sb_puts(out, "<?xml version=\"1.0\"?><methodCall><methodName>");
	sb_xml_escape(out, method);
	sb_puts(out, "</methodName><params>");
	for (size_t i = 0; params && params->kind == XV_ARR && i < xv_len(params); i++) {
		sb_puts(out, "<param>");
		wire_xml_value(out, &params->u.a->items[i]);
		sb_puts(out, "</param>");
	}
	sb_puts(out, "</params></methodCall>");
}

static void envelope_open(struct strbuf *out, const char *status)
{
	sb_puts(out, "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
		     "<member><name>Status</name><value>");
	sb_puts(out, status);
	sb_puts(out, "</value></member><member><name>");
}

static void envelope_close(struct strbuf *out)
{
	sb_puts(out, "</member></struct></value></param></params></methodResponse>");
}

void wire_xmlrpc_write_success_head(struct strbuf *out)
{
	envelope_open(out, "Success");
	sb_puts(out, "Value</name>");
}

void wire_xmlrpc_write_success_tail(struct strbuf *out) { envelope_close(out); }

void wire_xmlrpc_write_success(struct strbuf *out, const xv *result)
{
	wire_xmlrpc_write_success_head(out);
	wire_xml_value(out, result); /* XV_NIL is <value></value>: xapi's void "" */
	wire_xmlrpc_write_success_tail(out);
}

void wire_xmlrpc_write_failure(struct strbuf *out, const struct xerr *e)
{
	envelope_open(out, "Failure");
	sb_puts(out, "ErrorDescription</name><value><array><data><value>");
	sb_xml_escape(out, e->code ? e->code : "INTERNAL_ERROR");
	sb_puts(out, "</value>");
	for (size_t i = 0; i < e->nparams; i++) {
		sb_puts(out, "<value>");
		sb_xml_escape(out, e->params[i]);
		sb_puts(out, "</value>");
	}
	sb_puts(out, "</data></array></value>");
	envelope_close(out);
}
