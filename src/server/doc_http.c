/* doc_http: the API reference (docs/apidoc.c's pages) at GET /doc and
 * /doc/<name>, read by anyone: it holds nothing about this host. */
#include "doc_http.h"
#include "web_static.h"
#include "../base/mem.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *doc_http_default_dir(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			/* <build>/src/server/xenond -> <build>/docs/api */
			*slash = '\0';
			char *p = xasprintf("%s/../../docs/api", exe);
			char *idx = xasprintf("%s/index.html", p);
			bool there = access(idx, R_OK) == 0;
			free(idx);
			if (there)
				return p;
			free(p);
		}
	}
#ifdef XENON_DOC_DIR
	return xstrdup(XENON_DOC_DIR);
#else
	return xstrdup("");
#endif
}

static MHD_RESULT_T send_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "text/plain");
	MHD_RESULT_T ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

MHD_RESULT_T doc_http_serve(struct MHD_Connection *c, const char *dir, const char *url)
{
	size_t plen = strcspn(url, "?");
	char name[256];
	if (plen <= 5) { /* "/doc" or "/doc/" */
		snprintf(name, sizeof name, "index.html");
	} else {
		size_t nlen = plen - 5;
		if (nlen >= sizeof name)
			return send_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
		memcpy(name, url + 5, nlen);
		name[nlen] = '\0';
		if (!web_static_name_ok(name))
			return send_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	if (!dir || !*dir)
		return send_text(c, MHD_HTTP_NOT_FOUND, "the API reference is not installed\n");
	char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return send_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!r) {
		close(fd);
		return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read file\n");
	}
	MHD_add_response_header(r, "Content-Type", web_static_mime(name));
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	MHD_add_response_header(r, "Content-Security-Policy", "default-src 'none'; style-src 'self'; base-uri 'none'");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_RESULT_T ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}
