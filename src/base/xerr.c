/* xerr: XenAPI error values (see xerr.h). */
#include "xerr.h"
#include "mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xerr_clear(struct xerr *e)
{
	if (!e)
		return;
	free(e->code);
	for (size_t i = 0; i < e->nparams; i++)
		free(e->params[i]);
	free(e->params);
	e->code = NULL;
	e->params = NULL;
	e->nparams = 0;
}

void xerr_add(struct xerr *e, const char *param)
{
	e->params = xrealloc(e->params, sizeof(char *) * (e->nparams + 1));
	e->params[e->nparams++] = xstrdup(param ? param : "");
}

int xerr_set(struct xerr *e, const char *code, ...)
{
	if (!e)
		return -1;
	xerr_clear(e);
	e->code = xstrdup(code);
	va_list ap;
	va_start(ap, code);
	const char *p;
	while ((p = va_arg(ap, const char *)) != NULL)
		xerr_add(e, p);
	va_end(ap);
	return -1;
}

int xerr_setv(struct xerr *e, const char *code, size_t n, const char *const *params)
{
	if (!e)
		return -1;
	xerr_clear(e);
	e->code = xstrdup(code);
	for (size_t i = 0; i < n; i++)
		xerr_add(e, params[i]);
	return -1;
}

int xerr_internal(struct xerr *e, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return xerr_set(e, ERR_INTERNAL_ERROR, buf, NULL);
}

void xerr_move(struct xerr *dst, struct xerr *src)
{
	xerr_clear(dst);
	*dst = *src;
	src->code = NULL;
	src->params = NULL;
	src->nparams = 0;
}

bool xerr_is(const struct xerr *e, const char *code)
{
	return e && e->code && strcmp(e->code, code) == 0;
}
