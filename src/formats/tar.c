/* tar: ustar headers written and read (see tar.h), the framing of XVA
 * exports and imports and of OVA packages. */
#include "tar.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tar_header(unsigned char h[512], const char *name, uint64_t size)
{
	memset(h, 0, 512);
	snprintf((char *)h, 100, "%s", name);
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	snprintf((char *)h + 136, 12, "%011llo", (unsigned long long)0);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
}

int tar_parse(const unsigned char h[512], char name[256], uint64_t *size)
{
	bool zero = true;
	for (int i = 0; i < 512 && zero; i++)
		zero = !h[i];
	if (zero)
		return 1;
	/* the checksum field may start with spaces (some writers pad it) */
	unsigned sum = 0, want = 0;
	for (int i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	int i = 148;
	while (i < 156 && h[i] == ' ')
		i++;
	for (; i < 156 && h[i] >= '0' && h[i] <= '7'; i++)
		want = want * 8 + (h[i] - '0');
	if (sum != want)
		return -1;
	uint64_t s = 0;
	if (h[124] & 0x80) { /* GNU base-256 */
		for (int k = 125; k < 136; k++)
			s = (s << 8) | h[k];
	} else {
		for (int k = 124; k < 136 && h[k] >= '0' && h[k] <= '7'; k++)
			s = s * 8 + (uint64_t)(h[k] - '0');
	}
	*size = s;
	/* ustar prefix + name */
	char prefix[156] = "";
	if (!memcmp(h + 257, "ustar", 5) && h[345])
		snprintf(prefix, sizeof prefix, "%.154s/", (const char *)h + 345);
	snprintf(name, 256, "%s%.100s", prefix, (const char *)h);
	if (h[156] != '0' && h[156] != '\0')
		name[0] = '\0'; /* not a regular file: ignored */
	return 0;
}

void tar_reader_init(struct tar_reader *t, const struct tar_reader_ops *ops, void *arg)
{
	memset(t, 0, sizeof *t);
	t->ops = ops;
	t->arg = arg;
}

bool tar_reader_ended(const struct tar_reader *t)
{
	return t->st == 3;
}

/* A whole header in t->hdr: the next member, or the end. */
static int header_done(struct tar_reader *t)
{
	char name[256];
	int r = tar_parse(t->hdr, name, &t->remain);
	if (r < 0)
		return TAR_BAD_HEADER;
	if (r == 1) {
		t->st = 3;
		return 0;
	}
	t->pad = (512 - t->remain % 512) % 512;
	int rc = t->ops->member(t->arg, name, t->remain);
	if (rc < 0)
		return rc;
	t->st = 1;
	if (t->remain == 0) {
		t->st = t->pad ? 2 : 0;
		return t->ops->member_end(t->arg);
	}
	return 0;
}

int tar_reader_feed(struct tar_reader *t, const char *p, size_t n)
{
	while (n) {
		if (t->st == 3)
			return 0; /* past the end-of-archive blocks: padding */
		if (t->st == 0) {
			size_t k = 512 - t->hfill < n ? 512 - t->hfill : n;
			memcpy(t->hdr + t->hfill, p, k);
			t->hfill += k, p += k, n -= k;
			if (t->hfill < 512)
				return 0;
			t->hfill = 0;
			int rc = header_done(t);
			if (rc < 0)
				return rc;
			continue;
		}
		if (t->st == 1) {
			size_t k = t->remain < n ? (size_t)t->remain : n;
			int rc = t->ops->data(t->arg, p, k);
			if (rc < 0)
				return rc;
			t->remain -= k, p += k, n -= k;
			if (t->remain == 0) {
				t->st = t->pad ? 2 : 0;
				if ((rc = t->ops->member_end(t->arg)) < 0)
					return rc;
			}
			continue;
		}
		size_t k = t->pad < n ? (size_t)t->pad : n;
		t->pad -= k, p += k, n -= k;
		if (t->pad == 0)
			t->st = 0;
	}
	return 0;
}
