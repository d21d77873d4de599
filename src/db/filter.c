/* filter: a recursive-descent parser and evaluator for xapi's
 * get_all_records_where expression language (see filter.h). */
#include "filter.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

enum node_kind { N_TRUE, N_FALSE, N_NOT, N_AND, N_OR, N_EQ, N_NE };

struct operand {
	bool is_field;
	int field; /* -1: a field this class does not have */
	char *text;
};

struct db_filter {
	enum node_kind kind;
	struct db_filter *l, *r;
	struct operand a, b;
};

/* Bounds on what a client may send: nesting (parentheses, not) and
 * nodes in all, so parsing, evaluating and freeing, all recursive, stay
 * well inside a thread's stack. xapi's clients send a few terms. */
#define FILTER_MAX_DEPTH 64
#define FILTER_MAX_NODES 1024

struct parser {
	const char *p;
	int cls;
	bool failed;
	int depth, nodes;
};

static void skip_ws(struct parser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

static bool keyword(struct parser *ps, const char *kw)
{
	skip_ws(ps);
	size_t n = strlen(kw);
	if (strncmp(ps->p, kw, n) == 0 && !isalnum((unsigned char)ps->p[n]) && ps->p[n] != '_') {
		ps->p += n;
		return true;
	}
	return false;
}

static bool punct(struct parser *ps, const char *s)
{
	skip_ws(ps);
	size_t n = strlen(s);
	if (strncmp(ps->p, s, n) == 0) {
		ps->p += n;
		return true;
	}
	return false;
}

static char *string_lit(struct parser *ps)
{
	skip_ws(ps);
	if (*ps->p != '"') {
		ps->failed = true;
		return NULL;
	}
	ps->p++;
	struct strbuf sb = STRBUF_INIT;
	while (*ps->p && *ps->p != '"') {
		if (*ps->p == '\\' && ps->p[1])
			ps->p++;
		sb_putc(&sb, *ps->p++);
	}
	if (*ps->p != '"') {
		sb_free(&sb);
		ps->failed = true;
		return NULL;
	}
	ps->p++;
	return sb_detach(&sb);
}

/* DB column names join namespaces with "__"; the wire uses "_". */
static int column_field(int cls, const char *col)
{
	char buf[256];
	size_t j = 0;
	for (size_t i = 0; col[i] && j + 1 < sizeof buf; i++) {
		if (col[i] == '_' && col[i + 1] == '_')
			i++;
		buf[j++] = col[i];
	}
	buf[j] = '\0';
	return sc_field_find(cls, buf);
}

static bool operand(struct parser *ps, struct operand *o)
{
	if (keyword(ps, "field")) {
		o->is_field = true;
		o->text = string_lit(ps);
		if (!o->text)
			return false;
		o->field = column_field(ps->cls, o->text);
		return true;
	}
	o->is_field = false;
	o->text = string_lit(ps);
	return o->text != NULL;
}

static struct db_filter *expr_or(struct parser *ps);

static struct db_filter *node(struct parser *ps, enum node_kind k)
{
	if (++ps->nodes > FILTER_MAX_NODES)
		ps->failed = true;
	struct db_filter *f = xcalloc(1, sizeof *f);
	f->kind = k;
	return f;
}

/* Into a nested expression: false (and failed) past the bound. */
static bool nest(struct parser *ps)
{
	if (++ps->depth > FILTER_MAX_DEPTH)
		ps->failed = true;
	return !ps->failed;
}

static struct db_filter *atom(struct parser *ps)
{
	if (keyword(ps, "true"))
		return node(ps, N_TRUE);
	if (keyword(ps, "false"))
		return node(ps, N_FALSE);
	if (keyword(ps, "not")) {
		struct db_filter *f = node(ps, N_NOT);
		f->l = nest(ps) ? atom(ps) : NULL;
		ps->depth--;
		if (!f->l)
			ps->failed = true;
		return f;
	}
	if (punct(ps, "(")) {
		struct db_filter *f = nest(ps) ? expr_or(ps) : NULL;
		ps->depth--;
		if (!f || !punct(ps, ")"))
			ps->failed = true;
		return f;
	}
	struct db_filter *f = node(ps, N_EQ);
	if (!operand(ps, &f->a)) {
		ps->failed = true;
		return f;
	}
	if (punct(ps, "<>") || punct(ps, "!="))
		f->kind = N_NE;
	else if (!punct(ps, "="))
		ps->failed = true;
	if (!ps->failed && !operand(ps, &f->b))
		ps->failed = true;
	return f;
}

static struct db_filter *expr_and(struct parser *ps)
{
	struct db_filter *l = atom(ps);
	while (!ps->failed && keyword(ps, "and")) {
		struct db_filter *n = node(ps, N_AND);
		n->l = l;
		n->r = atom(ps);
		l = n;
	}
	return l;
}

static struct db_filter *expr_or(struct parser *ps)
{
	struct db_filter *l = expr_and(ps);
	while (!ps->failed && keyword(ps, "or")) {
		struct db_filter *n = node(ps, N_OR);
		n->l = l;
		n->r = expr_and(ps);
		l = n;
	}
	return l;
}

void db_filter_free(struct db_filter *f)
{
	if (!f)
		return;
	db_filter_free(f->l);
	db_filter_free(f->r);
	free(f->a.text);
	free(f->b.text);
	free(f);
}

struct db_filter *db_filter_parse(const char *expr, int cls, struct xerr *err)
{
	struct parser ps = {expr, cls, false, 0, 0};
	struct db_filter *f = expr_or(&ps);
	skip_ws(&ps);
	if (ps.failed || *ps.p) {
		db_filter_free(f);
		xerr_set(err, ERR_INVALID_VALUE, "expr", expr, NULL);
		return NULL;
	}
	return f;
}

static void quote_item(struct strbuf *sb, const char *s)
{
	sb_putc(sb, '\'');
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			sb_putc(sb, '\\');
		sb_putc(sb, *s);
	}
	sb_putc(sb, '\'');
}

static void scalar_string(struct strbuf *sb, const xv *v)
{
	char tmp[64];
	switch (v->kind) {
	case XV_STR:
		sb_puts(sb, v->u.s);
		break;
	case XV_INT:
	case XV_I32:
		sb_printf(sb, "%lld", (long long)v->u.i);
		break;
	case XV_BOOL:
		sb_puts(sb, v->u.b ? "true" : "false");
		break;
	case XV_FLOAT:
		sb_printf(sb, "%g", v->u.f);
		break;
	case XV_TIME:
		xv_time_format(v->u.i, tmp, sizeof tmp);
		sb_puts(sb, tmp);
		break;
	default:
		break;
	}
}

char *db_field_string(struct db *db, const struct db_obj *o, int field)
{
	xv v = db_get(db, o, field);
	struct strbuf sb = STRBUF_INIT;
	sb_puts(&sb, "");
	if (v.kind == XV_ARR) {
		sb_putc(&sb, '(');
		for (size_t i = 0; i < v.u.a->n; i++) {
			struct strbuf item = STRBUF_INIT;
			scalar_string(&item, &v.u.a->items[i]);
			if (i)
				sb_putc(&sb, ' ');
			quote_item(&sb, item.buf ? item.buf : "");
			sb_free(&item);
		}
		sb_putc(&sb, ')');
	} else if (v.kind == XV_MAP) {
		sb_putc(&sb, '(');
		for (size_t i = 0; i < v.u.m->n; i++) {
			struct strbuf item = STRBUF_INIT;
			scalar_string(&item, &v.u.m->vals[i]);
			if (i)
				sb_putc(&sb, ' ');
			sb_putc(&sb, '(');
			quote_item(&sb, v.u.m->keys[i]);
			sb_putc(&sb, ' ');
			quote_item(&sb, item.buf ? item.buf : "");
			sb_putc(&sb, ')');
			sb_free(&item);
		}
		sb_putc(&sb, ')');
	} else {
		scalar_string(&sb, &v);
	}
	xv_free(&v);
	return sb_detach(&sb);
}

static char *operand_value(const struct operand *op, struct db *db, const struct db_obj *o)
{
	if (!op->is_field)
		return xstrdup(op->text);
	if (op->field < 0)
		return xstrdup("");
	return db_field_string(db, o, op->field);
}

bool db_filter_eval(const struct db_filter *f, struct db *db, const struct db_obj *o)
{
	switch (f->kind) {
	case N_TRUE:
		return true;
	case N_FALSE:
		return false;
	case N_NOT:
		return !db_filter_eval(f->l, db, o);
	case N_AND:
		return db_filter_eval(f->l, db, o) && db_filter_eval(f->r, db, o);
	case N_OR:
		return db_filter_eval(f->l, db, o) || db_filter_eval(f->r, db, o);
	case N_EQ:
	case N_NE: {
		char *a = operand_value(&f->a, db, o), *b = operand_value(&f->b, db, o);
		bool eq = strcmp(a, b) == 0;
		free(a);
		free(b);
		return f->kind == N_EQ ? eq : !eq;
	}
	}
	return false;
}
