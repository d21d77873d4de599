/* tls_live: the certificate the HTTPS port presents, switchable while it
 * serves. GnuTLS asks for it at each handshake (MHD's certificate
 * callback); tls_live_set swaps it, so the next handshake presents the new
 * one and connections already open keep theirs. The https-only setting
 * (host.set_https_only) lives here too. */
#ifndef XENON_TLS_LIVE_H
#define XENON_TLS_LIVE_H

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <stdbool.h>

#include "../base/xerr.h"

/* cert_pem may hold a chain after the certificate. */
int tls_live_set(const char *cert_pem, const char *key_pem, struct xerr *err);
/* For MHD_OPTION_HTTPS_CERT_CALLBACK. */
int tls_live_retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int nreqs,
		      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
		      unsigned int *pcert_length, gnutls_privkey_t *pkey);
/* Frees every certificate set (at exit, with the HTTPS port stopped). */
void tls_live_free(void);

void tls_live_set_https_only(bool on);
bool tls_live_https_only(void);

/* Client-certificate authentication (pool.enable_client_certificate_auth):
 * while on, each new TLS connection asks its client for a certificate
 * (tls_live_request_client_cert), and a login on a connection whose
 * client presented one that the pool's CA store (ca_dir: one PEM file
 * per CA) trusts, that no CRL in crl_dir revokes and that names name (its
 * DNS names, else its CN) gets a session of the client-cert role. */
void tls_live_set_client_auth(bool on, const char *name, const char *ca_dir, const char *crl_dir);
bool tls_live_client_auth(void);
/* At a connection's start (before its handshake): asks for a client
 * certificate when client-certificate authentication is on. */
void tls_live_request_client_cert(gnutls_session_t s);
/* The client of s presented a certificate as above. */
bool tls_live_client_verified(gnutls_session_t s);

#endif
