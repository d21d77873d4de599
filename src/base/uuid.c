/* uuid: v4 UUIDs and OpaqueRefs (see uuid.h). */
#include "uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void random_bytes(void *buf, unsigned long n)
{
	unsigned char *p = buf;
	while (n) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			perror("getrandom");
			abort();
		}
		p += r;
		n -= (unsigned long)r;
	}
}

void uuid_generate_str(char out[UUID_STRLEN + 1])
{
	unsigned char b[16];
	random_bytes(b, sizeof b);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, UUID_STRLEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
		 b[11], b[12], b[13], b[14], b[15]);
}

void ref_generate(char out[REF_STRLEN + 1])
{
	memcpy(out, "OpaqueRef:", 10);
	uuid_generate_str(out + 10);
}

bool uuid_is_valid(const char *s)
{
	if (strlen(s) != UUID_STRLEN)
		return false;
	for (int i = 0; i < UUID_STRLEN; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return true;
}

bool ref_is_null(const char *ref)
{
	return !ref || !*ref || strcmp(ref, REF_NULL) == 0;
}
