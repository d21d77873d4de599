/* xe: shared declarations of the command-line client — the parsed command
 * line, the printer that reproduces xapi's output, the per-run context
 * handed to every command, and the error codes xe itself raises. */
#ifndef XENON_XE_H
#define XENON_XE_H

#include <stdbool.h>
#include <stdio.h>

#include "base/strbuf.h"
#include "base/xerr.h"
#include "base/xv.h"

/* ---- command line (args.c) ---- */

struct xe_kv {
	char *k, *v;
};

/* Parameters in command-line order; duplicates are kept and lookups take
 * the first, as xapi's List.assoc does. */
struct xe_params {
	size_t n, cap;
	struct xe_kv *items;
};

void xe_params_add(struct xe_params *p, const char *k, const char *v);
void xe_params_free(struct xe_params *p);
const char *xe_param(const struct xe_params *p, const char *k);
bool xe_param_has(const struct xe_params *p, const char *k);
/* true/false/yes/no/1/0 (any case); -1 with err set on anything else. */
int xe_param_bool(const struct xe_params *p, const char *k, bool dflt, bool *out, struct xerr *err);
/* Words after the command name: "--x" is x=true, "-u/-pw/-s/-h/-p" take
 * the next word, anything else splits at its first '='. */
int xe_parse_words(int n, char *const *words, struct xe_params *out, struct xerr *err);

struct xe_conn {
	char *server;
	int port; /* 0: 443, or 80 with nossl */
	char *username, *password, *pwfile;
	bool nossl, debug, xmlrpc;
};

struct xe_cmdline {
	struct xe_conn conn;
	char *argv0;
	char *cmd; /* NULL: none given */
	struct xe_params params;
	bool usage;   /* -help / --help / nothing to do */
	bool version; /* -version */
};

/* Builds the command line as the thin client and the server would
 * together: defaults, then ~/.xe (rc_text, may be NULL), then
 * XE_EXTRA_ARGS (extra, may be NULL), then argv; connection keywords are
 * taken out, everything else becomes command parameters. */
int xe_cmdline_parse(int argc, char *const *argv, const char *rc_text, const char *extra,
		     struct xe_cmdline *out, struct xerr *err);
void xe_cmdline_free(struct xe_cmdline *cl);
/* Reads a -pwf file: user on the first line, password on the second. */
int xe_read_pwfile(struct xe_conn *conn, struct xerr *err);
/* Splits XE_EXTRA_ARGS at unescaped commas, dropping the backslashes. */
char **xe_split_extra(const char *s, int *n);

/* ---- output (out.c) ---- */

/* Mirrors xapi's printer: tables of records, lists of lines, messages and
 * stderr text; with --minimal, tables and lists are collected and printed
 * comma-joined at the end. */
struct xe_out {
	FILE *out, *err;
	bool minimal;
	size_t nmin;
	char **min; /* collected --minimal chunks, in print order */
};

/* A record to print: an XV_MAP from "name ( RO)" keys to XV_STR values. */
void xe_print_table(struct xe_out *o, const xv *records);
void xe_print_list(struct xe_out *o, const char *const *items, size_t n);
void xe_print_line(struct xe_out *o, const char *s);
void xe_print_err(struct xe_out *o, const char *s);
void xe_out_flush(struct xe_out *o);
void xe_out_free(struct xe_out *o);
/* One record laid out as xapi does: first key padded right, the others
 * padded left, to 4 + the longest key; "key: value" lines. */
void xe_format_record(struct strbuf *sb, const xv *record);
/* --minimal escaping: ',' -> "\,", '\' -> "\\". Owned. */
char *xe_escape_commas(const char *s);
/* Wraps a comma-separated list into indented lines under 75 columns, as
 * `xe help` prints command lists. Returns an XV_ARR of lines. */
xv xe_wrap_list(const char *const *items, size_t n);

/* ---- errors xe raises itself (printed by errors.c) ---- */

#define XE_ERR_FAILURE "XE_CLI_FAILURE"       /* [msg]: "Error: msg" */
#define XE_ERR_PARAM "XE_PARAM_NOT_FOUND"     /* [name] */
#define XE_ERR_UNKNOWN_CMD "XE_UNKNOWN_COMMAND" /* [name] */
#define XE_ERR_SYNTAX "XE_SYNTAX_ERROR"       /* [msg] */
#define XE_ERR_MULTIPLE "XE_MULTIPLE_FAILURE" /* [uuid, msg, uuid, msg, ...] */
#define XE_ERR_AUTH "XE_AUTH"                 /* [msg] */
#define XE_ERR_EXIT "XE_EXIT"                 /* [] already reported */

int xe_fail(struct xerr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints err the way xe does (friendly text for known XenAPI errors). */
void xe_print_error(struct xe_out *o, const struct xerr *err);
/* The text of one failure for "operation failed on <uuid>: ..." lines. */
char *xe_error_line(const struct xerr *err);
/* The one-paragraph text for a XenAPI error, or NULL if xe has none. */
const char *xe_error_doc(const char *code);

#endif
