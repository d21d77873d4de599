/* httpq: the small pieces of HTTP request text xenond reads itself, apart
 * from what libmicrohttpd parses — query strings and header lines of the
 * CONNECT requests it takes before MHD, cookies, Basic credentials, the
 * Accept header's preferences and the integers of /rrd_updates' query.
 * Pure string code (fuzz/fuzz_httpq.c feeds it arbitrary text). */
#ifndef XENON_HTTPQ_H
#define XENON_HTTPQ_H

#include <stdbool.h>
#include <stdint.h>

/* %XX and '+' decoded in place. */
void httpq_url_decode(char *s);
/* The value of key in a query string (decoded, owned), or NULL. */
char *httpq_query_arg(const char *query, const char *key);
/* The value of a header (its line in head, case-insensitive name), owned. */
char *httpq_header(const char *head, const char *name);
/* session_id=… from a Cookie header, owned. */
char *httpq_cookie_session(const char *cookie);
/* user and password from "Basic <base64>", owned (both NULL otherwise). */
void httpq_basic_auth(const char *authz, char **user, char **pass);
/* The q of the best range of an Accept header matching type/sub (0: none). */
double httpq_accept_q(const char *accept, const char *type, const char *sub);
/* A whole decimal integer, nothing before or after it. */
bool httpq_parse_i64(const char *s, int64_t *out);

#endif
