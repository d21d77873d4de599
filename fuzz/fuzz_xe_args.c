/* xe's command line: the input's NUL-separated words are ~/.xe's text,
 * XE_EXTRA_ARGS, then the arguments after "xe"; the parameters that come
 * out are looked up as commands do. */
#include "cli/xe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *words[66];
	int n = 0;
	words[n++] = "xe";
	const char *rc = buf, *extra = NULL;
	char *p = memchr(buf, '\0', size);
	if (p && (size_t)(p - buf) < size) {
		extra = p + 1;
		char *q = p + 1;
		while (n < 65 && (q = memchr(q, '\0', size - (size_t)(q - buf)))) {
			if ((size_t)(q - buf) >= size)
				break;
			words[n++] = ++q;
		}
	}
	words[n] = NULL;
	struct xe_cmdline cl;
	memset(&cl, 0, sizeof cl);
	struct xerr err = {0};
	if (xe_cmdline_parse(n, words, rc, extra, &cl, &err) == 0) {
		bool b;
		(void)xe_param(&cl.params, "uuid");
		(void)xe_param_bool(&cl.params, "force", false, &b, &err);
		xerr_clear(&err);
	}
	xe_cmdline_free(&cl);
	xerr_clear(&err);
	if (extra) {
		int ne = 0;
		char **ws = xe_split_extra(extra, &ne);
		for (int i = 0; ws && i < ne; i++)
			free(ws[i]);
		free(ws);
		struct xe_params ps = {0};
		if (xe_parse_words(n - 1, words + 1, &ps, &err) == 0)
			(void)xe_param_has(&ps, "vm");
		xe_params_free(&ps);
		xerr_clear(&err);
	}
	free(buf);
	return 0;
}
