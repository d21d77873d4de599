/* Allocation wrappers: out of memory is not a condition the daemon can
 * answer with a XenAPI error, so it aborts loudly in one place. */
#ifndef XENON_MEM_H
#define XENON_MEM_H

#include <stddef.h>
#include <sys/types.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
