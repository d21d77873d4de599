/* uuid: random (v4) UUIDs from the kernel's CSPRNG, and opaque refs. */
#ifndef XENON_UUID_H
#define XENON_UUID_H

#include <stdbool.h>

#define UUID_STRLEN 36
#define REF_STRLEN 46 /* "OpaqueRef:" + uuid */
#define REF_NULL "OpaqueRef:NULL"

void uuid_generate_str(char out[UUID_STRLEN + 1]);
void ref_generate(char out[REF_STRLEN + 1]);
bool uuid_is_valid(const char *s);
bool ref_is_null(const char *ref);
/* Random bytes from getrandom(2); aborts if the kernel cannot give them. */
void random_bytes(void *buf, unsigned long n);

#endif
