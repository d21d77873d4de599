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
