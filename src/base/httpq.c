/* httpq: query strings, header lines, cookies, credentials and Accept
 * preferences (httpq.h). */
#include "httpq.h"
#include "b64.h"
#include "mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* %XX and '+' decoded in place. */
void httpq_url_decode(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
			char hex[3] = {s[1], s[2], 0};
			*o++ = (char)strtol(hex, NULL, 16);
			s += 2;
		} else {
			*o++ = *s == '+' ? ' ' : *s;
		}
	}
	*o = '\0';
}

/* The value of key in a query string (decoded, owned), or NULL. */
char *httpq_query_arg(const char *query, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = query; p && *p;) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			char *v = xasprintf("%.*s", (int)(len - kl - 1), p + kl + 1);
			httpq_url_decode(v);
			return v;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

/* The value of a header (its line in head, case-insensitive name), owned. */
char *httpq_header(const char *head, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
		p += 2;
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			const char *e = strstr(v, "\r\n");
			return xasprintf("%.*s", (int)(e ? e - v : (long)strlen(v)), v);
		}
	}
	return NULL;
}

/* session_id=… from a Cookie header, owned. */
char *httpq_cookie_session(const char *cookie)
{
	for (const char *p = cookie; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > 11 && !strncmp(p, "session_id=", 11))
			return xasprintf("%.*s", (int)(len - 11), p + 11);
		p = end;
	}
	return NULL;
}

/* user and password from "Basic <base64>", owned. */
void httpq_basic_auth(const char *authz, char **user, char **pass)
{
	*user = *pass = NULL;
	if (!authz || strncasecmp(authz, "Basic ", 6))
		return;
	size_t n;
	unsigned char *raw = b64_decode(authz + 6, &n);
	char *colon = raw ? memchr(raw, ':', n) : NULL;
	if (colon) {
		*colon = '\0';
		*user = xstrdup((char *)raw);
		*pass = xstrdup(colon + 1);
	}
	free(raw);
}

/* The q of the best range of an Accept header matching type/sub. */
double httpq_accept_q(const char *accept, const char *type, const char *sub)
{
	double best = 0;
	int best_spec = -1;
	const char *p = accept;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char range[128];
		snprintf(range, sizeof range, "%.*s", (int)(len < sizeof range ? len : sizeof range - 1), p);
		double q = 1;
		char *semi = strchr(range, ';');
		if (semi) {
			char *qs = strstr(semi, "q=");
			if (qs)
				q = strtod(qs + 2, NULL);
			*semi = '\0';
		}
		char *r = range + strspn(range, " \t");
		r[strcspn(r, " \t")] = '\0';
		char *slash = strchr(r, '/');
		int spec = -1;
		if (slash) {
			*slash = '\0';
			const char *rt = r, *rs = slash + 1;
			if (!strcasecmp(rt, type) && !strcasecmp(rs, sub))
				spec = 2;
			else if (!strcasecmp(rt, type) && !strcmp(rs, "*"))
				spec = 1;
			else if (!strcmp(rt, "*") && !strcmp(rs, "*"))
				spec = 0;
		}
		if (spec > best_spec) {
			best_spec = spec;
			best = q;
		}
		p = end ? end + 1 : NULL;
	}
	return best;
}

bool httpq_parse_i64(const char *s, int64_t *out)
{
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

