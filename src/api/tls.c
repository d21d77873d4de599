/* tls: self-signed certificate generation with GnuTLS (see tls.h). */
#include "tls.h"
#include "../base/b64.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/uuid.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = xmalloc((size_t)n + 1);
	size_t got = fread(buf, 1, (size_t)n, f);
	buf[got] = '\0';
	fclose(f);
	return buf;
}

static int write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode) < 0) { /* one left by an older version */
		close(fd);
		return -1;
	}
	ssize_t w = write(fd, data, n);
	int r = (w == (ssize_t)n && fsync(fd) == 0) ? 0 : -1;
	close(fd);
	return r;
}

/* A new RSA key and a certificate for it naming hostname: a CA when
 * is_ca, else a TLS server certificate; signed by issuer (NULL: by
 * itself). */
static int make_cert(const char *hostname, bool is_ca, gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key,
		     gnutls_x509_crt_t *crt_out, gnutls_x509_privkey_t *key_out)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	unsigned char serial[16];
	if (gnutls_x509_privkey_init(&key) < 0 || gnutls_x509_privkey_generate(key, GNUTLS_PK_RSA, 2048, 0) < 0 ||
	    gnutls_x509_crt_init(&crt) < 0)
		goto fail;
	random_bytes(serial, sizeof serial);
	serial[0] &= 0x7f;
	time_t now = time(NULL);
	gnutls_x509_crt_set_version(crt, 3);
	gnutls_x509_crt_set_serial(crt, serial, sizeof serial);
	gnutls_x509_crt_set_activation_time(crt, now - 3600);
	gnutls_x509_crt_set_expiration_time(crt, now + 10L * 365 * 86400);
	gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, hostname, (unsigned)strlen(hostname));
	gnutls_x509_crt_set_key(crt, key);
	gnutls_x509_crt_set_basic_constraints(crt, is_ca, -1);
	if (is_ca) {
		gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
	} else {
		gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, hostname, (unsigned)strlen(hostname),
						     GNUTLS_FSAN_SET);
		gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT);
		gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
	}
	if (gnutls_x509_crt_sign2(crt, issuer ? issuer : crt, issuer ? issuer_key : key, GNUTLS_DIG_SHA256, 0) < 0)
		goto fail;
	*crt_out = crt;
	*key_out = key;
	return 0;
fail:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return -1;
}

static int export_pem(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *path, mode_t mode)
{
	char buf[16384];
	size_t len = sizeof buf;
	int r = crt ? gnutls_x509_crt_export(crt, GNUTLS_X509_FMT_PEM, buf, &len)
		    : gnutls_x509_privkey_export(key, GNUTLS_X509_FMT_PEM, buf, &len);
	return r < 0 ? -1 : write_file(path, buf, len, mode);
}

static int generate(const char *cert_path, const char *key_path, const char *hostname,
		    struct xerr *err)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	int r = -1;
	if (make_cert(hostname, false, NULL, NULL, &crt, &key) < 0 || export_pem(NULL, key, key_path, 0600) < 0 ||
	    export_pem(crt, NULL, cert_path, 0600) < 0)
		goto out;
	log_info("tls: created a self-signed certificate for %s in %s", hostname, cert_path);
	r = 0;
out:
	if (r < 0)
		xerr_internal(err, "cannot create a TLS certificate in %s", cert_path);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return r;
}

int tls_make_ca_signed(const char *dir, const char *hostname, char **ca_pem, struct xerr *err)
{
	char *ca_path = xasprintf("%s/ca-cert.pem", dir);
	char *cert_path = xasprintf("%s/server-cert.pem", dir);
	char *key_path = xasprintf("%s/server-key.pem", dir);
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	gnutls_x509_privkey_t ca_key = NULL, key = NULL;
	int r = 0;
	if (access(ca_path, R_OK) != 0 || access(cert_path, R_OK) != 0 || access(key_path, R_OK) != 0) {
		r = -1;
		if ((mkdir(dir, 0700) == 0 || errno == EEXIST) &&
		    make_cert(hostname, true, NULL, NULL, &ca, &ca_key) == 0 &&
		    make_cert(hostname, false, ca, ca_key, &crt, &key) == 0 &&
		    export_pem(NULL, key, key_path, 0600) == 0 && export_pem(crt, NULL, cert_path, 0600) == 0 &&
		    export_pem(ca, NULL, ca_path, 0600) == 0)
			r = 0;
	}
	if (r == 0 && !(*ca_pem = read_file(ca_path)))
		r = -1;
	if (r < 0)
		xerr_internal(err, "cannot create TLS credentials in %s", dir);
	if (ca)
		gnutls_x509_crt_deinit(ca);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (ca_key)
		gnutls_x509_privkey_deinit(ca_key);
	if (key)
		gnutls_x509_privkey_deinit(key);
	free(ca_path);
	free(cert_path);
	free(key_path);
	return r;
}

int tls_load_or_create(const char *cert_path, const char *key_path, const char *hostname,
		       char **cert_pem, char **key_pem, struct xerr *err)
{
	if ((access(cert_path, R_OK) != 0 || access(key_path, R_OK) != 0) &&
	    generate(cert_path, key_path, hostname, err) < 0)
		return -1;
	*cert_pem = read_file(cert_path);
	*key_pem = read_file(key_path);
	if (!*cert_pem || !*key_pem) {
		free(*cert_pem);
		free(*key_pem);
		return xerr_internal(err, "cannot read %s / %s: %s", cert_path, key_path, strerror(errno));
	}
	return 0;
}

char *tls_cert_pin(const char *cert_pem, struct xerr *err)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t in = {(unsigned char *)cert_pem, (unsigned)strlen(cert_pem)}, der = {NULL, 0};
	unsigned char digest[32];
	char *pin = NULL;
	if (gnutls_x509_crt_init(&crt) == 0 && gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) == 0 &&
	    gnutls_pubkey_init(&pub) == 0 && gnutls_pubkey_import_x509(pub, crt, 0) == 0 &&
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) == 0 &&
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, digest) == 0) {
		char *b = b64_encode(digest, sizeof digest);
		pin = xasprintf("sha256//%s", b);
		free(b);
	}
	gnutls_free(der.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (!pin)
		xerr_internal(err, "tls: not a PEM certificate");
	return pin;
}
