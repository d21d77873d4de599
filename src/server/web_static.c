/* web_static: the console's files. index.html is asked again every time
 * (no-cache, answered 304 from its ETag); the files under /assets carry a
 * hash of their content in their name and are cached for a year. Each
 * file may have a .br and a .gz beside it, made at build time. */
#include "web_static.h"
#include "../base/mem.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Everything the page loads is from its own origin; no inline script, no
 * eval, no frames, no plugins. Styles allow inline because the terminal
 * (xterm.js) writes its own <style> for its colours. */
#define CSP                                                                                        \
	"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "  \
	"data: blob:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "                \
	"manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

char *web_static_default_dir(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			/* <build>/src/server/xenond -> <build>/web/ui */
			*slash = '\0';
			char *p = xasprintf("%s/../../web/ui", exe);
			char *idx = xasprintf("%s/index.html", p);
			bool there = access(idx, R_OK) == 0;
			free(idx);
			if (there)
				return p;
			free(p);
		}
	}
#ifdef XENON_WEB_DIR
	return xstrdup(XENON_WEB_DIR);
#else
	return xstrdup("");
#endif
}

bool web_static_name_ok(const char *name)
{
	if (!name[0] || name[0] == '.' || strlen(name) > 200)
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
			return false;
	return true;
}

const char *web_static_mime(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
		{".png", "image/png"},                 {".ico", "image/x-icon"},
		{".woff2", "font/woff2"},              {".json", "application/json"},
		{".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(name, '.');
	if (dot)
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
			if (!strcmp(dot, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

bool web_static_accepts(const char *ae, const char *coding)
{
	if (!ae)
		return false;
	size_t n = strlen(coding);
	const char *p = ae;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *tok = p;
		while (*p && *p != ',' && *p != ';' && *p != ' ')
			p++;
		bool match = (size_t)(p - tok) == n && !strncasecmp(tok, coding, n);
		/* parameters: only q matters, and only q=0 refuses */
		bool refused = false;
		while (*p && *p != ',') {
			if (*p == ';') {
				p++;
				while (*p == ' ')
					p++;
				if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
					refused = strtod(p + 2, NULL) <= 0.0;
				continue;
			}
			p++;
		}
		if (match && !refused)
			return true;
	}
	return false;
}

static MHD_RESULT_T send_small(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "text/plain");
	MHD_RESULT_T ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Opens path, or its .br / .gz copy when the client takes it; *enc names
 * the coding (NULL: none). -1 when the plain file is missing. */
static int open_best(struct MHD_Connection *c, const char *path, const char **enc, struct stat *st)
{
	const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
	static const struct {
		const char *coding, *suffix;
	} alts[] = {{"br", ".br"}, {"gzip", ".gz"}};
	*enc = NULL;
	for (size_t i = 0; i < sizeof alts / sizeof alts[0]; i++) {
		if (!web_static_accepts(ae, alts[i].coding))
			continue;
		char *p = xasprintf("%s%s", path, alts[i].suffix);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		free(p);
		if (fd < 0)
			continue;
		if (fstat(fd, st) == 0 && S_ISREG(st->st_mode)) {
			*enc = alts[i].coding;
			return fd;
		}
		close(fd);
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -1;
	}
	return fd;
}

bool web_static_serve(struct MHD_Connection *c, const char *dir, const char *url, MHD_RESULT_T *ret)
{
	size_t plen = strcspn(url, "?");
	bool index = plen == 1 && url[0] == '/';
	static const char assets[] = "/assets/";
	char name[256];
	if (index) {
		snprintf(name, sizeof name, "index.html");
	} else {
		size_t alen = sizeof assets - 1;
		size_t nlen = plen > alen ? plen - alen : 0;
		if (strncmp(url, assets, alen) != 0 || nlen == 0 || nlen >= sizeof name) {
			*ret = send_small(c, MHD_HTTP_NOT_FOUND, "not found\n");
			return true;
		}
		memcpy(name, url + alen, nlen);
		name[nlen] = '\0';
		if (!web_static_name_ok(name)) {
			*ret = send_small(c, MHD_HTTP_NOT_FOUND, "not found\n");
			return true;
		}
	}
	if (!dir || !dir[0]) {
		if (index)
			return false;
		*ret = send_small(c, MHD_HTTP_NOT_FOUND, "not found\n");
		return true;
	}
	char *path = xasprintf("%s/%s%s", dir, index ? "" : "assets/", name);
	const char *enc;
	struct stat st;
	int fd = open_best(c, path, &enc, &st);
	free(path);
	if (fd < 0) {
		if (index)
			return false;
		*ret = send_small(c, MHD_HTTP_NOT_FOUND, "not found\n");
		return true;
	}
	char etag[96];
	snprintf(etag, sizeof etag, "\"%llx-%llx-%s\"", (unsigned long long)st.st_mtime,
		 (unsigned long long)st.st_size, enc ? enc : "id");
	const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
	struct MHD_Response *r;
	unsigned status = MHD_HTTP_OK;
	if (inm && !strcmp(inm, etag)) {
		close(fd);
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_NOT_MODIFIED;
	} else {
		r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
		if (!r) {
			close(fd);
			*ret = send_small(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read file\n");
			return true;
		}
		MHD_add_response_header(r, "Content-Type", web_static_mime(name));
		if (enc)
			MHD_add_response_header(r, "Content-Encoding", enc);
	}
	MHD_add_response_header(r, "ETag", etag);
	MHD_add_response_header(r, "Vary", "Accept-Encoding");
	MHD_add_response_header(r, "Cache-Control",
				index ? "no-cache" : "public, max-age=31536000, immutable");
	MHD_add_response_header(r, "Content-Security-Policy", CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	*ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return true;
}
