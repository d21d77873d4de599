/* b64: standard base64 (RFC 4648, with padding): XML-RPC's <base64>, the
 * guest-agent calls' bytes, CBT bitmaps, the WebSocket handshake — daemon
 * and xe alike. */
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

static int digit(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Whitespace is skipped (RFC 2045 writers break lines); padding must
 * complete the last quantum and nothing may follow it. */
unsigned char *b64_decode(const char *s, size_t *len)
{
	unsigned char *out = xmalloc(strlen(s) / 4 * 3 + 4), *o = out;
	unsigned v = 0;
	int bits = 0, pad = 0;
	size_t digits = 0;
	for (; *s; s++) {
		if (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
			continue;
		if (*s == '=') {
			pad++;
			continue;
		}
		int d = digit(*s);
		if (d < 0 || pad)
			goto bad;
		digits++;
		v = (v << 6 | (unsigned)d) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (unsigned char)(v >> bits);
		}
	}
	if (digits % 4 == 1 || pad > 2 || (pad && (digits + (size_t)pad) % 4))
		goto bad;
	*o = 0;
	*len = (size_t)(o - out);
	return out;
bad:
	free(out);
	return NULL;
}
