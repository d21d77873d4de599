/* The HTTP request text xenond reads itself (base/httpq.c): the input is
 * taken as a query string, a request head, a Cookie header, an
 * Authorization header and an Accept header in turn. */
#include "base/httpq.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	static const char *const keys[] = {"uuid", "ref", "session_id", "start", "x"};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		free(httpq_query_arg(s, keys[i]));
	free(httpq_header(s, "Cookie"));
	free(httpq_header(s, "Authorization"));
	free(httpq_cookie_session(s));
	char *user, *pass;
	httpq_basic_auth(s, &user, &pass);
	free(user);
	free(pass);
	(void)httpq_accept_q(s, "application", "json");
	(void)httpq_accept_q(s, "text", "xml");
	int64_t v;
	(void)httpq_parse_i64(s, &v);
	char *d = strdup(s);
	httpq_url_decode(d);
	free(d);
	free(s);
	return 0;
}
