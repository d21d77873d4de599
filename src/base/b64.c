/* b64: standard base64 (RFC 4648, with padding), for the guest-agent
 * calls whose bytes travel as base64 strings — daemon and xe alike. */
#include "b64.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *b64_encode(const unsigned char *p, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1), *o = out;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

unsigned char *b64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s);
	unsigned char *out = xmalloc(n / 4 * 3 + 4), *o = out;
	unsigned v = 0;
	int bits = 0, pad = 0;
	for (; *s; s++) {
		const char *c = strchr(b64, *s);
		if (*s == '=') {
			pad++;
			continue;
		}
		if (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
			continue;
		if (!c || !*s || pad) {
			free(out);
			return NULL;
		}
		v = v << 6 | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (unsigned char)(v >> bits);
		}
	}
	*o = 0;
	*len = (size_t)(o - out);
	return out;
}
