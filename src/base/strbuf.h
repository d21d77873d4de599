/* strbuf: a growing byte buffer, always NUL-terminated, used to build
 * wire bodies and xe output without a thousand small allocations. */
#ifndef XENON_STRBUF_H
#define XENON_STRBUF_H

#include <stddef.h>
#include <string.h>

struct strbuf {
	char *buf;
	size_t len, cap;
};

#define STRBUF_INIT {NULL, 0, 0}

void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
void sb_grow(struct strbuf *sb, size_t extra);

/* Appends; the capacity check is inline, sb_grow runs only to grow (a
 * record is thousands of these calls). */
static inline void sb_add(struct strbuf *sb, const char *data, size_t n)
{
	if (sb->len + n + 1 > sb->cap)
		sb_grow(sb, n);
	memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

static inline void sb_puts(struct strbuf *sb, const char *s) { sb_add(sb, s, strlen(s)); }

static inline void sb_putc(struct strbuf *sb, char c)
{
	if (sb->len + 2 > sb->cap)
		sb_grow(sb, 1);
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
}

/* Decimal, without printf's cost: ints are most of a record. */
void sb_put_i64(struct strbuf *sb, long long v);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the buffer to the caller (never NULL) and resets sb. */
char *sb_detach(struct strbuf *sb);
/* XML text escaping of &, <, > (and " in attributes). */
void sb_xml_escape(struct strbuf *sb, const char *s);
/* JSON string, with quotes; invalid UTF-8 bytes become U+FFFD. */
void sb_json_string(struct strbuf *sb, const char *s);
/* s percent-encoded for a URL's query (RFC 3986: all but unreserved). */
void sb_url_encode(struct strbuf *sb, const char *s);

#endif
