/* tls: self-signed certificate generation with GnuTLS (see tls.h). */
#include "tls.h"
#include "../base/b64.h"
#include "../base/file.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../base/uuid.h"
#include "../base/xv.h"

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
/* peer: a short-lived ECDSA P-256 key (made in a few ms) and, for a
 * leaf, the TLS client's purpose beside the server's. */
static int make_cert2(const char *hostname, bool is_ca, bool peer, gnutls_x509_crt_t issuer,
		      gnutls_x509_privkey_t issuer_key, gnutls_x509_crt_t *crt_out, gnutls_x509_privkey_t *key_out)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	unsigned char serial[16];
	if (gnutls_x509_privkey_init(&key) < 0 ||
	    (peer ? gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
						 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)
		  : gnutls_x509_privkey_generate(key, GNUTLS_PK_RSA, 2048, 0)) < 0 ||
	    gnutls_x509_crt_init(&crt) < 0)
		goto fail;
	random_bytes(serial, sizeof serial);
	serial[0] &= 0x7f;
	time_t now = time(NULL);
	gnutls_x509_crt_set_version(crt, 3);
	gnutls_x509_crt_set_serial(crt, serial, sizeof serial);
	gnutls_x509_crt_set_activation_time(crt, now - 3600);
	gnutls_x509_crt_set_expiration_time(crt, now + (peer ? 86400L : 10L * 365 * 86400));
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
		if (peer)
			gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
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

static int make_cert(const char *hostname, bool is_ca, gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key,
		     gnutls_x509_crt_t *crt_out, gnutls_x509_privkey_t *key_out)
{
	return make_cert2(hostname, is_ca, false, issuer, issuer_key, crt_out, key_out);
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
	if (r == 0 && !(*ca_pem = file_read(ca_path, 0, NULL)))
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

static char *pem_of(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key)
{
	gnutls_datum_t d = {NULL, 0};
	int r = crt ? gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d)
		    : gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d);
	if (r < 0)
		return NULL;
	char *s = xmalloc(d.size + 1);
	memcpy(s, d.data, d.size);
	s[d.size] = '\0';
	gnutls_free(d.data);
	return s;
}

int tls_new_peer_creds(const char *name, char **ca_pem, char **cert_pem, char **key_pem, struct xerr *err)
{
	gnutls_x509_crt_t ca = NULL, crt = NULL;
	gnutls_x509_privkey_t ca_key = NULL, key = NULL;
	*ca_pem = *cert_pem = *key_pem = NULL;
	int r = -1;
	if (make_cert2(name, true, true, NULL, NULL, &ca, &ca_key) == 0 &&
	    make_cert2(name, false, true, ca, ca_key, &crt, &key) == 0 && (*ca_pem = pem_of(ca, NULL)) &&
	    (*cert_pem = pem_of(crt, NULL)) && (*key_pem = pem_of(NULL, key)))
		r = 0;
	if (r < 0) {
		free(*ca_pem);
		free(*cert_pem);
		free(*key_pem);
		*ca_pem = *cert_pem = *key_pem = NULL;
		xerr_internal(err, "cannot make TLS credentials for %s", name);
	}
	if (ca)
		gnutls_x509_crt_deinit(ca);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (ca_key)
		gnutls_x509_privkey_deinit(ca_key);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return r;
}

char *tls_dh_params_pem(void)
{
	gnutls_dh_params_t dh = NULL;
	gnutls_datum_t out = {NULL, 0};
	char *pem = NULL;
	if (gnutls_dh_params_init(&dh) == 0 &&
	    gnutls_dh_params_import_raw2(dh, &gnutls_ffdhe_2048_group_prime, &gnutls_ffdhe_2048_group_generator,
					 gnutls_ffdhe_2048_key_bits) == 0 &&
	    gnutls_dh_params_export2_pkcs3(dh, GNUTLS_X509_FMT_PEM, &out) == 0) {
		pem = xmalloc(out.size + 1);
		memcpy(pem, out.data, out.size);
		pem[out.size] = '\0';
	}
	gnutls_free(out.data);
	if (dh)
		gnutls_dh_params_deinit(dh);
	return pem;
}

int tls_load_or_create(const char *cert_path, const char *key_path, const char *hostname,
		       char **cert_pem, char **key_pem, struct xerr *err)
{
	if ((access(cert_path, R_OK) != 0 || access(key_path, R_OK) != 0) &&
	    generate(cert_path, key_path, hostname, err) < 0)
		return -1;
	*cert_pem = file_read(cert_path, 0, NULL);
	*key_pem = file_read(key_path, 0, NULL);
	if (!*cert_pem || !*key_pem) {
		free(*cert_pem);
		free(*key_pem);
		return xerr_internal(err, "cannot read %s / %s: %s", cert_path, key_path, strerror(errno));
	}
	return 0;
}

/* ---- installed certificates (host.install_server_certificate, pool CAs) ---- */

static gnutls_datum_t datum(const char *s)
{
	return (gnutls_datum_t){(unsigned char *)(uintptr_t)s, (unsigned)strlen(s)};
}

static void fill_info(gnutls_x509_crt_t crt, struct tls_cert_info *info)
{
	unsigned char d[32];
	size_t n = sizeof d;
	info->fingerprint[0] = 0;
	if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, d, &n) < 0)
		n = 0;
	size_t o = 0; /* "AB:CD:…" */
	for (size_t i = 0; i < n && o < sizeof info->fingerprint; i++)
		o += (size_t)snprintf(info->fingerprint + o, sizeof info->fingerprint - o, "%s%02X", i ? ":" : "", d[i]);
	info->not_before = (int64_t)gnutls_x509_crt_get_activation_time(crt);
	info->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
}

int tls_cert_info(const char *cert_pem, struct tls_cert_info *info)
{
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -1;
	gnutls_datum_t d = datum(cert_pem);
	int r = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM);
	if (r == 0)
		fill_info(crt, info);
	gnutls_x509_crt_deinit(crt);
	return r < 0 ? -1 : 0;
}

static void time_text(int64_t t, char *buf, size_t n)
{
	xv_time_format(t, buf, n);
}

int tls_check_server(const char *cert_pem, const char *key_pem, const char *chain_pem,
		     struct tls_cert_info *info, struct xerr *err)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	int r = -1;
	gnutls_datum_t kd = datum(key_pem), cd = datum(cert_pem);
	if (gnutls_x509_privkey_init(&key) < 0 || gnutls_x509_privkey_import(key, &kd, GNUTLS_X509_FMT_PEM) < 0) {
		xerr_set(err, ERR_SERVER_CERTIFICATE_KEY_INVALID, NULL);
		goto out;
	}
	unsigned bits = 0;
	int algo = gnutls_x509_privkey_get_pk_algorithm2(key, &bits);
	if (algo != GNUTLS_PK_RSA) {
		xerr_set(err, ERR_SERVER_CERTIFICATE_KEY_ALGORITHM_NOT_SUPPORTED, gnutls_pk_get_name((gnutls_pk_algorithm_t)algo) ?
			 gnutls_pk_get_name((gnutls_pk_algorithm_t)algo) : "unknown", NULL);
		goto out;
	}
	if (bits < 2048 || bits > 4096) {
		char b[16];
		snprintf(b, sizeof b, "%u", bits);
		xerr_set(err, ERR_SERVER_CERTIFICATE_KEY_RSA_LENGTH_NOT_SUPPORTED, b, NULL);
		goto out;
	}
	if (gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_import(crt, &cd, GNUTLS_X509_FMT_PEM) < 0) {
		xerr_set(err, ERR_SERVER_CERTIFICATE_INVALID, NULL);
		goto out;
	}
	fill_info(crt, info);
	int64_t now = time(NULL);
	char tn[32], tc[32];
	time_text(now, tn, sizeof tn);
	if (info->not_before > now) {
		time_text(info->not_before, tc, sizeof tc);
		xerr_set(err, ERR_SERVER_CERTIFICATE_NOT_VALID_YET, tn, tc, NULL);
		goto out;
	}
	if (info->not_after < now) {
		time_text(info->not_after, tc, sizeof tc);
		xerr_set(err, ERR_SERVER_CERTIFICATE_EXPIRED, tn, tc, NULL);
		goto out;
	}
	int sig = gnutls_x509_crt_get_signature_algorithm(crt);
	gnutls_digest_algorithm_t dig = gnutls_sign_get_hash_algorithm((gnutls_sign_algorithm_t)sig);
	if (dig != GNUTLS_DIG_SHA256 && dig != GNUTLS_DIG_SHA384 && dig != GNUTLS_DIG_SHA512) {
		xerr_set(err, ERR_SERVER_CERTIFICATE_SIGNATURE_NOT_SUPPORTED, NULL);
		goto out;
	}
	/* the key must be the certificate's */
	unsigned char a[64], b[64];
	size_t an = sizeof a, bn = sizeof b;
	if (gnutls_x509_crt_get_key_id(crt, 0, a, &an) < 0 || gnutls_x509_privkey_get_key_id(key, 0, b, &bn) < 0 ||
	    an != bn || memcmp(a, b, an) != 0) {
		xerr_set(err, ERR_SERVER_CERTIFICATE_KEY_MISMATCH, NULL);
		goto out;
	}
	if (chain_pem && *chain_pem) {
		gnutls_x509_crt_t *list = NULL;
		unsigned n = 0;
		gnutls_datum_t chd = datum(chain_pem);
		if (gnutls_x509_crt_list_import2(&list, &n, &chd, GNUTLS_X509_FMT_PEM, 0) < 0 || n == 0) {
			xerr_set(err, ERR_SERVER_CERTIFICATE_CHAIN_INVALID, NULL);
			goto out;
		}
		for (unsigned i = 0; i < n; i++)
			gnutls_x509_crt_deinit(list[i]);
		gnutls_free(list);
	}
	r = 0;
out:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return r;
}

int tls_new_self_signed(const char *hostname, char **cert_pem, char **key_pem, struct xerr *err)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t c = {NULL, 0}, k = {NULL, 0};
	int r = -1;
	if (make_cert(hostname, false, NULL, NULL, &crt, &key) == 0 &&
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &c) == 0 &&
	    gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &k) == 0) {
		*cert_pem = xasprintf("%.*s", (int)c.size, (const char *)c.data);
		*key_pem = xasprintf("%.*s", (int)k.size, (const char *)k.data);
		r = 0;
	} else {
		xerr_internal(err, "cannot make a certificate for %s", hostname);
	}
	gnutls_free(c.data);
	gnutls_free(k.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return r;
}

int tls_write_file(const char *path, const char *pem, mode_t mode, struct xerr *err)
{
	char *tmp = xasprintf("%s.new", path);
	int r = write_file(tmp, pem, strlen(pem), mode);
	if (r == 0 && rename(tmp, path) != 0)
		r = -1;
	if (r < 0) {
		xerr_internal(err, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return r;
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

char *tls_leaf_pem(const char *pem)
{
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0;
	gnutls_datum_t in = datum(pem), out = {NULL, 0};
	char *leaf = NULL;
	if (gnutls_x509_crt_list_import2(&list, &n, &in, GNUTLS_X509_FMT_PEM, 0) < 0)
		return NULL;
	if (n && gnutls_x509_crt_export2(list[0], GNUTLS_X509_FMT_PEM, &out) == 0)
		leaf = xasprintf("%.*s", (int)out.size, (const char *)out.data);
	gnutls_free(out.data);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	return leaf;
}

int tls_crl_check(const char *pem)
{
	gnutls_x509_crl_t *list = NULL;
	unsigned n = 0;
	gnutls_datum_t in = datum(pem);
	if (!strstr(pem, "-----BEGIN X509 CRL-----") ||
	    gnutls_x509_crl_list_import2(&list, &n, &in, GNUTLS_X509_FMT_PEM, 0) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crl_deinit(list[i]);
	gnutls_free(list);
	return n ? 0 : -1;
}

char *tls_cert_pins(const char *pem, struct xerr *err)
{
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0;
	gnutls_datum_t in = datum(pem);
	if (gnutls_x509_crt_list_import2(&list, &n, &in, GNUTLS_X509_FMT_PEM, 0) < 0 || !n) {
		gnutls_free(list);
		return tls_cert_pin(pem, err); /* its error */
	}
	struct strbuf sb = STRBUF_INIT;
	for (unsigned i = 0; i < n; i++) {
		gnutls_datum_t out = {NULL, 0};
		if (gnutls_x509_crt_export2(list[i], GNUTLS_X509_FMT_PEM, &out) == 0) {
			char *one = xasprintf("%.*s", (int)out.size, (const char *)out.data);
			char *pin = tls_cert_pin(one, err);
			if (pin) {
				if (sb.len)
					sb_puts(&sb, ";");
				sb_puts(&sb, pin);
			}
			free(pin);
			free(one);
		}
		gnutls_free(out.data);
		gnutls_x509_crt_deinit(list[i]);
	}
	gnutls_free(list);
	if (!sb.len)
		return NULL;
	xerr_clear(err);
	sb_add(&sb, "", 0);
	return sb_detach(&sb);
}
