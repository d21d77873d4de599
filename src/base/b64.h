/* b64: standard base64 encoding and decoding (RFC 4648, padded). */
#ifndef XENON_B64_H
#define XENON_B64_H

#include <stddef.h>

/* A new NUL-terminated string. */
char *b64_encode(const unsigned char *p, size_t n);
/* Decodes s (whitespace ignored) into a new buffer of *len bytes (one
 * spare byte, NUL); NULL when s is not base64. */
unsigned char *b64_decode(const char *s, size_t *len);

#endif
