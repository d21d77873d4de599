/* tar: the ustar headers of XVA and OVA packages, one 512-byte block per
 * file. Pure format code. */
#ifndef XENON_FORMATS_TAR_H
#define XENON_FORMATS_TAR_H

#include <stdint.h>

/* A 512-byte ustar header for a regular file. */
void tar_header(unsigned char hdr[512], const char *name, uint64_t size);
/* Name and size of a header; 1 for an all-zero block (the end), 0 for a
 * file, -1 if the header is damaged. */
int tar_parse(const unsigned char hdr[512], char name[256], uint64_t *size);

#endif
