/* out: xe's printer, reproducing xapi's cli_printer and the thin client
 * together: every printed chunk ends with the newline the client adds, a
 * record is followed by two blank lines, and --minimal collects values to
 * print once, comma-joined, when the command succeeds. */
#include "xe.h"
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

char *xe_escape_commas(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	for (; *s; s++) {
		if (*s == ',' || *s == '\\')
			sb_putc(&sb, '\\');
		sb_putc(&sb, *s);
	}
	return sb_detach(&sb);
}

void xe_format_record(struct strbuf *sb, const xv *rec)
{
	size_t n = xv_len(rec), maxlen = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(rec->u.m->keys[i]);
		if (l > maxlen)
			maxlen = l;
	}
	maxlen += 4;
	for (size_t i = 0; i < n; i++) {
		const char *k = rec->u.m->keys[i];
		const char *v = xv_as_str(&rec->u.m->vals[i]);
		int pad = (int)(maxlen - strlen(k));
		if (i == 0)
			sb_printf(sb, "%s%*s: %s", k, pad, "", v ? v : "");
		else
			sb_printf(sb, "%*s%s: %s", pad, "", k, v ? v : "");
		if (i + 1 < n)
			sb_putc(sb, '\n');
	}
	sb_putc(sb, '\n');
}

static void collect(struct xe_out *o, char *chunk)
{
	o->min = xrealloc(o->min, sizeof(char *) * (o->nmin + 1));
	o->min[o->nmin++] = chunk;
}

static char *join_escaped(const char *const *items, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		char *e = xe_escape_commas(items[i]);
		if (i)
			sb_putc(&sb, ',');
		sb_puts(&sb, e);
		free(e);
	}
	return sb_detach(&sb);
}

void xe_print_table(struct xe_out *o, const xv *records)
{
	size_t n = xv_len(records);
	if (o->minimal) {
		/* The first field of every record (normally the uuid). */
		if (n == 0 || xv_len(xv_arr_get(records, 0)) == 0)
			return;
		const char **vals = xcalloc(n, sizeof(char *));
		for (size_t i = 0; i < n; i++) {
			const xv *r = xv_arr_get(records, i);
			vals[i] = xv_len(r) ? xv_as_str(&r->u.m->vals[0]) : "";
		}
		collect(o, join_escaped(vals, n));
		free(vals);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct strbuf sb = STRBUF_INIT;
		xe_format_record(&sb, xv_arr_get(records, i));
		fprintf(o->out, "%s\n\n", sb.buf);
		sb_free(&sb);
	}
}

void xe_print_list(struct xe_out *o, const char *const *items, size_t n)
{
	if (o->minimal) {
		collect(o, join_escaped(items, n));
		return;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(o->out, "%s\n", items[i]);
}

void xe_print_line(struct xe_out *o, const char *s)
{
	if (!o->minimal)
		fprintf(o->out, "%s\n", s);
}

void xe_print_err(struct xe_out *o, const char *s)
{
	if (!o->minimal)
		fprintf(o->err, "%s", s);
}

void xe_out_flush(struct xe_out *o)
{
	if (o->minimal) {
		/* xapi keeps its chunks newest first and prints them that way. */
		for (size_t i = o->nmin; i-- > 0;)
			fprintf(o->out, "%s%s", o->min[i], i ? "," : "");
		fputc('\n', o->out);
	}
	fflush(o->out);
	xe_out_free(o);
}

void xe_out_free(struct xe_out *o)
{
	for (size_t i = 0; i < o->nmin; i++)
		free(o->min[i]);
	free(o->min);
	o->min = NULL;
	o->nmin = 0;
}

xv xe_wrap_list(const char *const *items, size_t n)
{
	xv lines = xv_arr_new();
	if (n == 0)
		return lines;
	struct strbuf cur = STRBUF_INIT;
	sb_printf(&cur, "    %s", items[0]);
	for (size_t i = 1; i < n; i++) {
		if (cur.len + strlen(items[i]) > 74) {
			xv_arr_push(&lines, xv_str_own(sb_detach(&cur)));
			sb_printf(&cur, "    %s", items[i]);
		} else {
			sb_printf(&cur, ", %s", items[i]);
		}
	}
	xv_arr_push(&lines, xv_str_own(sb_detach(&cur)));
	return lines;
}
