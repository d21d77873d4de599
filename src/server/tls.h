/* tls: the host's certificate — a self-signed one made on first start, as
 * XenServer does, kept in the data directory. */
#ifndef XENON_TLS_H
#define XENON_TLS_H

#include "../base/xerr.h"

/* Loads PEM cert and key from the files, creating both if missing. */
int tls_load_or_create(const char *cert_path, const char *key_path, const char *hostname,
		       char **cert_pem, char **key_pem, struct xerr *err);

#endif
