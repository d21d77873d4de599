/* strbuf: growing buffers and the escapes the wire formats need. */
#include "strbuf.h"
#include "fault.h"
#include "mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_init(struct strbuf *sb)
{
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

void sb_free(struct strbuf *sb)
{
	free(sb->buf);
	sb_init(sb);
}

void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

void sb_grow(struct strbuf *sb, size_t extra)
{
	if (sb->len + extra + 1 <= sb->cap)
		return;
	fault_alloc_note();
	size_t cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	sb->buf = xrealloc(sb->buf, cap);
	sb->cap = cap;
}

void sb_put_i64(struct strbuf *sb, long long v)
{
	char tmp[24];
	int i = (int)sizeof tmp;
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--i] = '-';
	sb_add(sb, tmp + i, sizeof tmp - (size_t)i);
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char tmp[256];
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof tmp) {
		sb_add(sb, tmp, (size_t)n);
		return;
	}
	sb_grow(sb, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

char *sb_detach(struct strbuf *sb)
{
	char *p = sb->buf ? sb->buf : xstrdup("");
	sb_init(sb);
	return p;
}

/* Bytes copied as they are: 1 in XML text, 2 in a JSON string. */
#define PLAIN_XML 1
#define PLAIN_JSON 2
static const unsigned char plain[256] = {
	['\t'] = PLAIN_XML, ['\n'] = PLAIN_XML,
	[0x20] = 3, 3, 0 /* " */, 3, 3, 3, 2 /* & */, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x20-0x2f */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2 /* < */, 3, 2 /* > */, 3,          /* 0x30-0x3f */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,                          /* 0x40-0x4f */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1 /* \ */, 3, 3, 3,                  /* 0x50-0x5f */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,                          /* 0x60-0x6f */
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,                          /* 0x70-0x7f */
	/* 0x80-0xff: XML copies them, JSON checks the UTF-8 */
	[0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

void sb_xml_escape(struct strbuf *sb, const char *s)
{
	const char *run = s;
	for (;; s++) {
		while (plain[(unsigned char)*s] & PLAIN_XML)
			s++;
		if (!*s)
			break;
		const char *rep;
		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\r': rep = "&#13;"; break;
		/* XML 1.0 cannot carry other C0 controls even as references;
		 * xapi drops them too */
		default: rep = ""; break;
		}
		sb_add(sb, run, (size_t)(s - run));
		sb_puts(sb, rep);
		run = s + 1;
	}
	sb_add(sb, run, (size_t)(s - run));
}

/* Length of a valid UTF-8 sequence at p, or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (p[0] == 0xe0 && p[1] < 0xa0)
			return 0;
		if (p[0] == 0xed && p[1] > 0x9f)
			return 0;
		return 3;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return 0;
		if (p[0] == 0xf0 && p[1] < 0x90)
			return 0;
		if (p[0] == 0xf4 && p[1] > 0x8f)
			return 0;
		return 4;
	}
	return 0;
}

void sb_json_string(struct strbuf *sb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	sb_putc(sb, '"');
	const unsigned char *run = p;
	for (;;) {
		while (plain[*p] & PLAIN_JSON)
			p++;
		if (!*p)
			break;
		const char *rep = NULL;
		char tmp[8];
		size_t adv = 1;
		if (*p == '"')
			rep = "\\\"";
		else if (*p == '\\')
			rep = "\\\\";
		else if (*p == '\n')
			rep = "\\n";
		else if (*p == '\r')
			rep = "\\r";
		else if (*p == '\t')
			rep = "\\t";
		else if (*p < 0x20) {
			snprintf(tmp, sizeof tmp, "\\u%04x", *p);
			rep = tmp;
		} else {
			adv = utf8_seq(p);
			if (adv == 0) {
				rep = "\xef\xbf\xbd";
				adv = 1;
			}
		}
		if (rep) {
			sb_add(sb, (const char *)run, (size_t)(p - run));
			sb_puts(sb, rep);
			p += adv;
			run = p;
		} else {
			p += adv;
		}
	}
	sb_add(sb, (const char *)run, (size_t)(p - run));
	sb_putc(sb, '"');
}

void sb_url_encode(struct strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			sb_putc(sb, (char)c);
		} else {
			sb_putc(sb, '%');
			sb_putc(sb, hex[c >> 4]);
			sb_putc(sb, hex[c & 15]);
		}
	}
}
