/* tls: the host's certificate — a self-signed one made on first start, as
 * XenServer does, kept in the data directory. */
#ifndef XENON_TLS_H
#define XENON_TLS_H

#include "../base/xerr.h"

/* Loads PEM cert and key from the files, creating both if missing. */
int tls_load_or_create(const char *cert_path, const char *key_path, const char *hostname,
		       char **cert_pem, char **key_pem, struct xerr *err);

/* In dir (created if missing): a CA of its own (ca-cert.pem) and a server
 * certificate it signed for hostname (server-cert.pem, server-key.pem), as
 * QEMU's x509 credentials want them — they refuse one self-signed
 * certificate as both. Kept once made. *ca_pem gets the CA certificate,
 * what a client trusts. */
int tls_make_ca_signed(const char *dir, const char *hostname, char **ca_pem, struct xerr *err);

/* The pin of a PEM certificate's public key as libcurl takes it
 * (CURLOPT_PINNEDPUBLICKEY): "sha256//" and the base64 of the SHA-256 of
 * its SubjectPublicKeyInfo. Caller frees; NULL with err set if the PEM is
 * no certificate. */
char *tls_cert_pin(const char *cert_pem, struct xerr *err);

#endif
