/* resolve: a path inside a guest filesystem made canonical the way the
 * guest's own kernel would, but bounded by the filesystem's root: ".."
 * stops at the root and an absolute symlink starts again from the guest's
 * root, never the host's or the appliance's. */
#include "inspect.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <stdlib.h>
#include <string.h>

#define PATH_LIMIT 4096
#define LINK_LIMIT 40

static int invalid(struct xerr *err, const char *path, const char *why)
{
	return xerr_set(err, ERR_INSPECT_PATH_INVALID, path, why, NULL);
}

/* Takes the next component off *rest (a malloc'd string it advances in). */
static bool next_comp(const char **rest, char *comp, size_t cap)
{
	const char *p = *rest;
	while (*p == '/')
		p++;
	if (!*p) {
		*rest = p;
		return false;
	}
	size_t n = strcspn(p, "/");
	if (n >= cap)
		n = cap - 1;
	memcpy(comp, p, n);
	comp[n] = '\0';
	*rest = p + strcspn(p, "/");
	return true;
}

static bool only_slashes(const char *p)
{
	return p[strspn(p, "/")] == '\0';
}

char *insp_resolve(const char *path, bool keep_last, insp_lookup lookup, void *arg, struct xerr *err)
{
	if (!path || path[0] != '/') {
		invalid(err, path ? path : "", "not an absolute path");
		return NULL;
	}
	if (strlen(path) > PATH_LIMIT || memchr(path, '\n', strlen(path))) {
		invalid(err, path, "too long or not a path");
		return NULL;
	}
	struct strbuf done = STRBUF_INIT; /* "" stands for the root */
	sb_add(&done, "", 0);
	char *todo = xstrdup(path);
	const char *rest = todo;
	int links = 0;
	char comp[256];
	char *out = NULL;
	while (next_comp(&rest, comp, sizeof comp)) {
		if (strlen(comp) >= 255) {
			invalid(err, path, "a name is too long");
			goto fail;
		}
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			char *slash = strrchr(done.buf, '/');
			if (slash) { /* at the root ".." is the root */
				done.len = (size_t)(slash - done.buf);
				done.buf[done.len] = '\0';
			}
			continue;
		}
		size_t before = done.len;
		sb_printf(&done, "/%s", comp);
		if (keep_last && only_slashes(rest))
			continue;
		char *target = NULL;
		int r = lookup(arg, done.buf, &target, err);
		if (r < 0)
			goto fail;
		if (r == 0)
			continue;
		if (++links > LINK_LIMIT) {
			free(target);
			invalid(err, path, "too many levels of symbolic links");
			goto fail;
		}
		/* the link's text replaces its name: from the root when it is
		 * absolute, else beside it */
		done.len = target[0] == '/' ? 0 : before;
		done.buf[done.len] = '\0';
		char *next = xasprintf("%s/%s", target, rest);
		free(target);
		free(todo);
		todo = next;
		rest = todo;
		if (strlen(todo) > PATH_LIMIT) {
			invalid(err, path, "too long after following symbolic links");
			goto fail;
		}
	}
	out = xstrdup(done.len ? done.buf : "/");
fail:
	free(todo);
	sb_free(&done);
	return out;
}
