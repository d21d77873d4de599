/* xerr: a XenAPI error — a code from the schema's error table and its
 * string parameters — filled by whatever fails and passed up unchanged to
 * the wire, so clients see exactly what xapi would send. */
#ifndef XENON_XERR_H
#define XENON_XERR_H

#include <stdbool.h>
#include <stddef.h>

/* ERR_<CODE>: every code xenond sends, generated from the datamodel (macros
 * only, so any layer may use them). */
#include "errors_gen.h"

struct xerr {
	char *code;      /* NULL when no error is set */
	size_t nparams;
	char **params;
};

#define XERR_INIT {NULL, 0, NULL}

/* Sets code and parameters (NULL-terminated list); replaces any previous error.
 * Always returns -1 so failures read `return xerr_set(e, ...);`. */
int xerr_set(struct xerr *e, const char *code, ...) __attribute__((sentinel));
int xerr_setv(struct xerr *e, const char *code, size_t n, const char *const *params);
/* Appends a parameter to the current error. */
void xerr_add(struct xerr *e, const char *param);
int xerr_internal(struct xerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xerr_clear(struct xerr *e);
void xerr_move(struct xerr *dst, struct xerr *src);
bool xerr_is(const struct xerr *e, const char *code);

#endif
