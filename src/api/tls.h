/* tls: the host's certificate — a self-signed one made on first start, as
 * XenServer does, kept in the data directory. */
#ifndef XENON_TLS_H
#define XENON_TLS_H

#include <stdint.h>
#include <sys/types.h>

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

/* New credentials for one migration's stream, made in memory: a CA of its
 * own and one certificate it signed for name, good as a TLS server's and a
 * client's, with its key (ECDSA P-256, valid for a day). The CA's key is
 * thrown away once it signed: the CA vouches for that certificate only.
 * Owned PEMs. */
int tls_new_peer_creds(const char *name, char **ca_pem, char **cert_pem, char **key_pem, struct xerr *err);

/* RFC 7919's ffdhe2048 group as PKCS#3 PEM (dh-params.pem), owned; NULL
 * on failure. QEMU's TLS server generates DH parameters when it is given
 * none, which takes 0.3 to 2.5 s here at each migration. */
char *tls_dh_params_pem(void);

/* What a certificate says of itself: its SHA-256 fingerprint as xapi
 * writes it (AB:CD:…) and its validity. */
struct tls_cert_info {
	char fingerprint[100];
	int64_t not_before, not_after;
};
int tls_cert_info(const char *cert_pem, struct tls_cert_info *info);

/* The checks of host.install_server_certificate, with xapi's errors: an
 * RSA key of 2048 to 4096 bits, a certificate valid now, signed with
 * SHA-2, for that key, and a chain (may be NULL or "") that parses. */
int tls_check_server(const char *cert_pem, const char *key_pem, const char *chain_pem,
		     struct tls_cert_info *info, struct xerr *err);
/* A new self-signed server certificate and key for hostname (owned PEM). */
int tls_new_self_signed(const char *hostname, char **cert_pem, char **key_pem, struct xerr *err);
/* Replaces path with pem (written aside, then renamed). */
int tls_write_file(const char *path, const char *pem, mode_t mode, struct xerr *err);
/* The pin of a PEM certificate's public key as libcurl takes it
 * (CURLOPT_PINNEDPUBLICKEY): "sha256//" and the base64 of the SHA-256 of
 * its SubjectPublicKeyInfo. Caller frees; NULL with err set if the PEM is
 * no certificate. */
char *tls_cert_pin(const char *cert_pem, struct xerr *err);
/* The pins of every certificate in pem, for libcurl ("sha256//…;sha256//…"):
 * a host's file holds two while its certificate changes. */
char *tls_cert_pins(const char *pem, struct xerr *err);
/* The first certificate of a PEM text (a chain's leaf), as PEM; owned,
 * NULL if there is none. */
char *tls_leaf_pem(const char *pem);
/* 0 when pem holds one or more certificate revocation lists, each
 * parsing, else -1. */
int tls_crl_check(const char *pem);

#endif
