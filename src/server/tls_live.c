/* tls_live: see tls_live.h. A replaced certificate is kept until exit:
 * a handshake under way may still hold it, and installs are rare. */
#include "tls_live.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <dirent.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CHAIN 8

struct cred {
	gnutls_pcert_st pcerts[MAX_CHAIN];
	unsigned n;
	gnutls_privkey_t key;
	struct cred *older;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct cred *current;
static atomic_bool https_only;
static atomic_bool client_auth;
static char *client_name, *ca_dir, *crl_dir; /* under lock */

int tls_live_set(const char *cert_pem, const char *key_pem, struct xerr *err)
{
	struct cred *c = xcalloc(1, sizeof *c);
	c->n = MAX_CHAIN;
	gnutls_datum_t cd = {(unsigned char *)(uintptr_t)cert_pem, (unsigned)strlen(cert_pem)};
	gnutls_datum_t kd = {(unsigned char *)(uintptr_t)key_pem, (unsigned)strlen(key_pem)};
	int r = gnutls_pcert_list_import_x509_raw(c->pcerts, &c->n, &cd, GNUTLS_X509_FMT_PEM, 0);
	if (r < 0) {
		free(c);
		return xerr_internal(err, "tls: cannot load the certificate: %s", gnutls_strerror(r));
	}
	if ((r = gnutls_privkey_init(&c->key)) < 0 ||
	    (r = gnutls_privkey_import_x509_raw(c->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		if (c->key)
			gnutls_privkey_deinit(c->key);
		for (unsigned i = 0; i < c->n; i++)
			gnutls_pcert_deinit(&c->pcerts[i]);
		free(c);
		return xerr_internal(err, "tls: cannot load the key: %s", gnutls_strerror(r));
	}
	pthread_mutex_lock(&lock);
	c->older = current;
	current = c;
	pthread_mutex_unlock(&lock);
	return 0;
}

int tls_live_retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int nreqs,
		      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
		      unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	(void)s;
	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	pthread_mutex_lock(&lock);
	struct cred *c = current;
	pthread_mutex_unlock(&lock);
	if (!c)
		return -1;
	*pcert = c->pcerts;
	*pcert_length = c->n;
	*pkey = c->key;
	return 0;
}

void tls_live_free(void)
{
	pthread_mutex_lock(&lock);
	struct cred *c = current;
	current = NULL;
	pthread_mutex_unlock(&lock);
	tls_live_set_client_auth(false, NULL, NULL, NULL);
	while (c) {
		struct cred *o = c->older;
		for (unsigned i = 0; i < c->n; i++)
			gnutls_pcert_deinit(&c->pcerts[i]);
		gnutls_privkey_deinit(c->key);
		free(c);
		c = o;
	}
}

void tls_live_set_https_only(bool on)
{
	atomic_store(&https_only, on);
}

bool tls_live_https_only(void)
{
	return atomic_load(&https_only);
}

void tls_live_set_client_auth(bool on, const char *name, const char *cas, const char *crls)
{
	pthread_mutex_lock(&lock);
	free(client_name);
	free(ca_dir);
	free(crl_dir);
	client_name = on ? xstrdup(name ? name : "") : NULL;
	ca_dir = on ? xstrdup(cas) : NULL;
	crl_dir = on ? xstrdup(crls) : NULL;
	atomic_store(&client_auth, on);
	pthread_mutex_unlock(&lock);
}

bool tls_live_client_auth(void)
{
	return atomic_load(&client_auth);
}

void tls_live_request_client_cert(gnutls_session_t s)
{
	if (s && atomic_load(&client_auth))
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
}

/* Adds each regular file of dir: CA certificates, or (crl) revocation
 * lists, which must be signed by a CA already added. */
static void add_dir(gnutls_x509_trust_list_t tl, const char *dir, bool crl)
{
	DIR *d = dir ? opendir(dir) : NULL;
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		int r = crl ? gnutls_x509_trust_list_add_trust_file(tl, NULL, path, GNUTLS_X509_FMT_PEM,
								     GNUTLS_TL_VERIFY_CRL, 0)
			    : gnutls_x509_trust_list_add_trust_file(tl, path, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
		if (r < 0)
			log_warn("tls: %s not used for client certificates: %s", path, gnutls_strerror(r));
		free(path);
	}
	if (d)
		closedir(d);
}

/* Whether crt names name as OpenSSL's host check (stunnel's checkHost)
 * does: its DNS names when it has any, else its CN. GnuTLS falls back to
 * the CN only for server certificates. */
static bool names(gnutls_x509_crt_t crt, const char *name)
{
	char buf[1024];
	for (unsigned i = 0;; i++) {
		size_t n = sizeof buf;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &n, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type == GNUTLS_SAN_DNSNAME)
			return gnutls_x509_crt_check_hostname(crt, name) != 0;
	}
	size_t n = sizeof buf;
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &n) < 0)
		return false;
	char other[8]; /* exactly one CN */
	size_t on = sizeof other;
	return gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 1, 0, other, &on) ==
		       GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE &&
	       strcasecmp(buf, name) == 0;
}

bool tls_live_client_verified(gnutls_session_t s)
{
	if (!s || !atomic_load(&client_auth))
		return false;
	unsigned n = 0;
	const gnutls_datum_t *peers = gnutls_certificate_get_peers(s, &n);
	if (!peers || !n)
		return false;
	pthread_mutex_lock(&lock);
	char *name = xstrdup(client_name ? client_name : ""), *cas = xstrdup(ca_dir ? ca_dir : ""),
	     *crls = xstrdup(crl_dir ? crl_dir : "");
	pthread_mutex_unlock(&lock);
	gnutls_x509_crt_t chain[MAX_CHAIN];
	unsigned nc = 0;
	bool ok = false;
	gnutls_x509_trust_list_t tl = NULL;
	for (; nc < n && nc < MAX_CHAIN; nc++) {
		if (gnutls_x509_crt_init(&chain[nc]) < 0)
			goto out;
		if (gnutls_x509_crt_import(chain[nc], &peers[nc], GNUTLS_X509_FMT_DER) < 0) {
			gnutls_x509_crt_deinit(chain[nc]);
			goto out;
		}
	}
	if (gnutls_x509_trust_list_init(&tl, 0) < 0) {
		tl = NULL;
		goto out;
	}
	add_dir(tl, cas, false);
	add_dir(tl, crls, true);
	gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_CLIENT, 0};
	unsigned status = ~0u;
	if (gnutls_x509_trust_list_verify_crt2(tl, chain, nc, &purpose, 1, 0, &status, NULL) == 0 && status == 0)
		ok = name[0] && names(chain[0], name);
	log_info("tls: a client certificate %s (status 0x%x, name %s)", ok ? "accepted" : "refused", status, name);
out:
	if (tl)
		gnutls_x509_trust_list_deinit(tl, 1);
	for (unsigned i = 0; i < nc; i++)
		gnutls_x509_crt_deinit(chain[i]);
	free(name);
	free(cas);
	free(crls);
	return ok;
}
