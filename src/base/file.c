#include "file.h"
#include "mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

char *file_read(const char *path, size_t max, size_t *len)
{
	if (len)
		*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap + 1);
	for (;;) {
		size_t want = cap - n;
		if (max && want > max - n)
			want = max - n;
		size_t got = want ? fread(buf + n, 1, want, f) : 0;
		n += got;
		if (got < want || (max && n >= max))
			break;
		cap *= 2;
		buf = xrealloc(buf, cap + 1);
	}
	int failed = ferror(f);
	fclose(f);
	if (failed) {
		free(buf);
		errno = EIO;
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}
