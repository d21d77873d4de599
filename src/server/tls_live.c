/* tls_live: see tls_live.h. A replaced certificate is kept until exit:
 * a handshake under way may still hold it, and installs are rare. */
#include "tls_live.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <gnutls/abstract.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
