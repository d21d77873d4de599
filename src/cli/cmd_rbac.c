/* cmd_rbac: xe's subject, role, audit log and certificate commands, as
 * xapi's CLI has them: subject-add resolves a name to its identifier
 * (auth.*) and makes the subject, subject-role-add/-remove take role-name=
 * or role-uuid=, audit-log-get downloads GET /audit_log, the certificate
 * commands send PEM files read here. */
#include "cmd.h"
#include "base/file.h"
#include "base/mem.h"
#include "schema/schema.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static int h_subject_add(struct xe_ctx *x, struct xerr *err)
{
	xv sid = XV_NIL_INIT, info = XV_NIL_INIT, ref = XV_NIL_INIT;
	int rc = -1;
	if (xs_call(x->s, "auth.get_subject_identifier", &sid, err, xe_req(x, "subject-name"), NULL) < 0)
		return -1;
	if (xs_call(x->s, "auth.get_subject_information_from_identifier", &info, err, xv_as_str(&sid), NULL) < 0)
		goto out;
	xv rec = xv_map_new(), args = xv_arr_new();
	xv_map_set_str(&rec, "subject_identifier", xv_as_str(&sid));
	xv_map_set(&rec, "other_config", xv_copy(&info));
	xv_arr_push(&args, rec);
	rc = xc_call(x->c, "subject.create", &args, &ref, err);
	xv_free(&args);
	if (rc < 0)
		goto out;
	xv uuid = XV_NIL_INIT;
	rc = xs_call(x->s, "subject.get_uuid", &uuid, err, xv_as_str(&ref), NULL);
	if (rc == 0)
		xe_print_line(x->out, xv_as_str(&uuid));
	xv_free(&uuid);
out:
	xv_free(&sid);
	xv_free(&info);
	xv_free(&ref);
	return rc;
}

static int subject_ref(struct xe_ctx *x, const char *key, char **ref, struct xerr *err)
{
	return xs_by_uuid(x->s, SC_C_subject, xe_req(x, key), ref, err);
}

static int h_subject_remove(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (subject_ref(x, "subject-uuid", &ref, err) < 0)
		return -1;
	xv r = XV_NIL_INIT;
	int rc = xs_call(x->s, "subject.destroy", &r, err, ref, NULL);
	xv_free(&r);
	free(ref);
	return rc;
}

/* The role named by role-name= or role-uuid=. */
static int role_ref(struct xe_ctx *x, char **ref, struct xerr *err)
{
	const char *uuid = xe_param(x->params, "role-uuid");
	if (uuid)
		return xs_by_uuid(x->s, SC_C_role, uuid, ref, err);
	const char *name = xe_param(x->params, "role-name");
	if (!name)
		return xe_fail(err, "role-name or role-uuid is required");
	xv refs = XV_NIL_INIT;
	if (xs_call(x->s, "role.get_by_name_label", &refs, err, name, NULL) < 0)
		return -1;
	int rc = 0;
	if (xv_len(&refs) != 1)
		rc = xe_fail(err, "No role named '%s'", name);
	else
		*ref = xstrdup(xv_as_str(xv_arr_get(&refs, 0)));
	xv_free(&refs);
	return rc;
}

static int role_edit(struct xe_ctx *x, const char *method, struct xerr *err)
{
	char *subj = NULL, *role = NULL;
	int rc = -1;
	if (subject_ref(x, "uuid", &subj, err) == 0 && role_ref(x, &role, err) == 0) {
		xv r = XV_NIL_INIT;
		rc = xs_call(x->s, method, &r, err, subj, role, NULL);
		xv_free(&r);
	}
	free(subj);
	free(role);
	return rc;
}

static int h_subject_role_add(struct xe_ctx *x, struct xerr *err)
{
	return role_edit(x, "subject.add_to_roles", err);
}

static int h_subject_role_remove(struct xe_ctx *x, struct xerr *err)
{
	return role_edit(x, "subject.remove_from_roles", err);
}

static int h_audit_log_get(struct xe_ctx *x, struct xerr *err)
{
	const char *filename = xe_req(x, "filename");
	const char *since = xe_param(x->params, "since");
	bool std = !strcmp(filename, "-");
	FILE *f = std ? stdout : fopen(filename, "wb");
	if (!f)
		return xe_fail(err, "cannot open %s", filename);
	char *sid = curl_easy_escape(NULL, xc_session(x->c), 0);
	char *s = since ? curl_easy_escape(NULL, since, 0) : NULL;
	char *url = xasprintf("%s/audit_log?session_id=%s%s%s", x->server_url, sid, s ? "&since=" : "",
			      s ? s : "");
	curl_free(sid);
	if (s)
		curl_free(s);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	free(url);
	if (!std)
		fclose(f);
	else
		fflush(f);
	if (cc != CURLE_OK)
		return xe_fail(err, "audit-log-get failed: %s", curl_easy_strerror(cc));
	if (status != 200) {
		if (!std)
			remove(filename);
		return xe_fail(err, "audit-log-get failed: HTTP %ld%s", status,
			       status == 403 ? " (RBAC_PERMISSION_DENIED http/get_audit_log)" : "");
	}
	return 0;
}

/* A whole PEM file (owned), or NULL with err. */
static char *slurp(const char *path, struct xerr *err)
{
	char *pem = file_read(path, 1u << 20, NULL);
	if (!pem)
		xe_fail(err, "cannot read %s", path);
	return pem;
}

/* host-uuid=, else the pool's master (the host xe talks to). */
static int host_ref(struct xe_ctx *x, char **ref, struct xerr *err)
{
	const char *uuid = xe_param(x->params, "host-uuid");
	if (uuid)
		return xs_by_uuid(x->s, SC_C_host, uuid, ref, err);
	xv pools = XV_NIL_INIT, master = XV_NIL_INIT;
	if (xs_call(x->s, "pool.get_all", &pools, err, NULL) < 0)
		return -1;
	int rc = xs_call(x->s, "pool.get_master", &master, err, xv_as_str(xv_arr_get(&pools, 0)), NULL);
	if (rc == 0)
		*ref = xstrdup(xv_as_str(&master));
	xv_free(&pools);
	xv_free(&master);
	return rc;
}

static int h_cert_install(struct xe_ctx *x, struct xerr *err)
{
	char *host = NULL, *cert = NULL, *key = NULL, *chain = NULL;
	const char *chain_file = xe_param(x->params, "certificate-chain");
	int rc = -1;
	if (host_ref(x, &host, err) < 0 || !(cert = slurp(xe_req(x, "certificate"), err)) ||
	    !(key = slurp(xe_req(x, "private-key"), err)) || (chain_file && !(chain = slurp(chain_file, err))))
		goto out;
	xv r = XV_NIL_INIT;
	rc = xs_call(x->s, "host.install_server_certificate", &r, err, host, cert, key, chain ? chain : "", NULL);
	xv_free(&r);
out:
	free(host);
	free(cert);
	if (key)
		memset(key, 0, strlen(key));
	free(key);
	free(chain);
	return rc;
}

static int h_cert_reset(struct xe_ctx *x, struct xerr *err)
{
	char *host = NULL;
	if (host_ref(x, &host, err) < 0)
		return -1;
	xv r = XV_NIL_INIT;
	int rc = xs_call(x->s, "host.reset_server_certificate", &r, err, host, NULL);
	xv_free(&r);
	free(host);
	return rc;
}

static int h_ca_install(struct xe_ctx *x, struct xerr *err)
{
	const char *file = xe_req(x, "filename");
	const char *name = xe_param(x->params, "name");
	if (!name) {
		name = strrchr(file, '/');
		name = name ? name + 1 : file;
	}
	char *cert = slurp(file, err);
	if (!cert)
		return -1;
	xv r = XV_NIL_INIT;
	int rc = xs_call(x->s, "pool.install_ca_certificate", &r, err, name, cert, NULL);
	xv_free(&r);
	free(cert);
	return rc;
}

static int h_ca_uninstall(struct xe_ctx *x, struct xerr *err)
{
	xv r = XV_NIL_INIT;
	int rc = xs_call(x->s, "pool.uninstall_ca_certificate", &r, err, xe_req(x, "name"), NULL);
	xv_free(&r);
	return rc;
}

/* uuid=, else the pool. */
static int pool_ref(struct xe_ctx *x, char **ref, struct xerr *err)
{
	const char *uuid = xe_param(x->params, "uuid");
	if (uuid)
		return xs_by_uuid(x->s, SC_C_pool, uuid, ref, err);
	xv pools = XV_NIL_INIT;
	if (xs_call(x->s, "pool.get_all", &pools, err, NULL) < 0)
		return -1;
	int rc = xv_len(&pools) ? 0 : xe_fail(err, "no pool");
	if (rc == 0)
		*ref = xstrdup(xv_as_str(xv_arr_get(&pools, 0)));
	xv_free(&pools);
	return rc;
}

/* config:key=value pairs as a map. */
static xv config_map(struct xe_ctx *x)
{
	xv m = xv_map_new();
	for (size_t i = 0; i < x->params->n; i++)
		if (!strncmp(x->params->items[i].k, "config:", 7))
			xv_map_set_str(&m, x->params->items[i].k + 7, x->params->items[i].v);
	return m;
}

/* Calls method(obj, config[, service-name, auth-type]). */
static int extauth_call(struct xe_ctx *x, const char *method, const char *obj, bool enable, struct xerr *err)
{
	xv args = xv_arr_new(), r = XV_NIL_INIT;
	xv_arr_push_str(&args, obj);
	xv_arr_push(&args, config_map(x));
	if (enable) {
		xv_arr_push_str(&args, xe_req(x, "service-name"));
		xv_arr_push_str(&args, xe_req(x, "auth-type"));
	}
	int rc = xc_call(x->c, method, &args, &r, err);
	xv_free(&args);
	xv_free(&r);
	return rc;
}

static int h_pool_extauth(struct xe_ctx *x, struct xerr *err)
{
	char *pool = NULL;
	if (pool_ref(x, &pool, err) < 0)
		return -1;
	bool enable = !strcmp(x->cmd->name, "pool-enable-external-auth");
	int rc = extauth_call(x, enable ? "pool.enable_external_auth" : "pool.disable_external_auth", pool, enable, err);
	free(pool);
	return rc;
}

static int h_host_extauth(struct xe_ctx *x, struct xerr *err)
{
	char *host = NULL;
	if (xs_by_uuid(x->s, SC_C_host, xe_req(x, "host-uuid"), &host, err) < 0)
		return -1;
	bool enable = !strcmp(x->cmd->name, "host-enable-external-auth");
	int rc = extauth_call(x, enable ? "host.enable_external_auth" : "host.disable_external_auth", host, enable, err);
	free(host);
	return rc;
}

static int h_crl_install(struct xe_ctx *x, struct xerr *err)
{
	const char *file = xe_req(x, "filename");
	const char *name = strrchr(file, '/');
	name = name ? name + 1 : file;
	char *crl = slurp(file, err);
	if (!crl)
		return -1;
	xv r = XV_NIL_INIT;
	int rc = xs_call(x->s, "pool.crl_install", &r, err, name, crl, NULL);
	xv_free(&r);
	free(crl);
	return rc;
}

static int h_crl_uninstall(struct xe_ctx *x, struct xerr *err)
{
	xv r = XV_NIL_INIT;
	int rc = xs_call(x->s, "pool.crl_uninstall", &r, err, xe_req(x, "name"), NULL);
	xv_free(&r);
	return rc;
}

static int h_crl_list(struct xe_ctx *x, struct xerr *err)
{
	xv r = XV_NIL_INIT;
	int rc = xs_call(x->s, "pool.crl_list", &r, err, NULL);
	for (size_t i = 0; rc == 0 && i < xv_len(&r); i++)
		xe_print_line(x->out, xv_as_str(xv_arr_get(&r, i)));
	xv_free(&r);
	return rc;
}

/* pool-certificate-sync, pool-enable-tls-verification: no argument. */
static int h_pool_plain(struct xe_ctx *x, struct xerr *err)
{
	xv r = XV_NIL_INIT;
	int rc = xs_call(x->s, x->cmd->data, &r, err, NULL);
	xv_free(&r);
	return rc;
}

static int h_client_auth(struct xe_ctx *x, struct xerr *err)
{
	char *pool = NULL;
	if (pool_ref(x, &pool, err) < 0)
		return -1;
	xv r = XV_NIL_INIT;
	int rc = !strcmp(x->cmd->name, "pool-enable-client-certificate-auth")
			 ? xs_call(x->s, "pool.enable_client_certificate_auth", &r, err, pool, xe_req(x, "name"), NULL)
			 : xs_call(x->s, "pool.disable_client_certificate_auth", &r, err, pool, NULL);
	xv_free(&r);
	free(pool);
	return rc;
}

/* host=: a host's uuid or name. */
static int named_host(struct xe_ctx *x, const char *given, char **ref, struct xerr *err)
{
	xv refs = XV_NIL_INIT;
	if (xs_call(x->s, "host.get_by_name_label", &refs, err, given, NULL) < 0)
		return -1;
	int rc = 0;
	if (xv_len(&refs) == 1)
		*ref = xstrdup(xv_as_str(xv_arr_get(&refs, 0)));
	else
		rc = xs_by_uuid(x->s, SC_C_host, given, ref, err);
	xv_free(&refs);
	return rc;
}

static int h_cert_refresh(struct xe_ctx *x, struct xerr *err)
{
	char *host = NULL;
	if (named_host(x, xe_req(x, "host"), &host, err) < 0)
		return -1;
	xv r = XV_NIL_INIT;
	int rc = xs_call(x->s, "host.refresh_server_certificate", &r, err, host, NULL);
	xv_free(&r);
	free(host);
	return rc;
}

static int h_cert_get(struct xe_ctx *x, struct xerr *err)
{
	char *host = NULL;
	const char *uuid = xe_param(x->params, "uuid");
	if (uuid ? xs_by_uuid(x->s, SC_C_host, uuid, &host, err) < 0 : host_ref(x, &host, err) < 0)
		return -1;
	xv r = XV_NIL_INIT;
	int rc = xs_call(x->s, "host.get_server_certificate", &r, err, host, NULL);
	if (rc == 0) {
		char *pem = xstrdup(xv_as_str(&r) ? xv_as_str(&r) : "");
		size_t n = strlen(pem);
		while (n && pem[n - 1] == '\n')
			pem[--n] = 0;
		xe_print_line(x->out, pem);
		free(pem);
	}
	xv_free(&r);
	free(host);
	return rc;
}

const struct xe_cmd xe_rbac_cmds[] = {
	{"pool-enable-external-auth", L("auth-type", "service-name"), L("uuid", "config:"),
	 "Enable external authentication on every host of the pool (auth-type=PAM: the accounts PAM and NSS "
	 "know can be subjects).",
	 0, h_pool_extauth, NULL},
	{"pool-disable-external-auth", NULL, L("uuid", "config:"),
	 "Disable external authentication on every host of the pool; subjects' sessions end.", 0, h_pool_extauth,
	 NULL},
	{"host-enable-external-auth", L("host-uuid", "auth-type", "service-name"), L("config:"),
	 "Enable external authentication on one host.", 0, h_host_extauth, NULL},
	{"host-disable-external-auth", L("host-uuid"), L("config:"), "Disable external authentication on one host.", 0,
	 h_host_extauth, NULL},
	{"pool-crl-install", L("filename"), NULL,
	 "Install a certificate revocation list (PEM file, named after it) for client certificates.", 0,
	 h_crl_install, NULL},
	{"pool-crl-uninstall", L("name"), NULL, "Uninstall the named certificate revocation list.", 0,
	 h_crl_uninstall, NULL},
	{"pool-crl-list", NULL, NULL, "List the installed certificate revocation lists.", 0, h_crl_list, NULL},
	{"pool-certificate-sync", NULL, NULL, "Give every host of the pool every host's current certificate.", 0,
	 h_pool_plain, "pool.certificate_sync"},
	{"pool-enable-tls-verification", NULL, NULL,
	 "Make the pool's hosts verify each other's certificates from now on.", 0, h_pool_plain,
	 "pool.enable_tls_verification"},
	{"pool-enable-client-certificate-auth", L("name"), L("uuid"),
	 "Log in clients whose certificate a trusted CA signed for name, with the client-cert role.", 0,
	 h_client_auth, NULL},
	{"pool-disable-client-certificate-auth", NULL, L("uuid"), "Stop logging in clients by their certificate.", 0,
	 h_client_auth, NULL},
	{"host-refresh-server-certificate", L("host"), NULL,
	 "Replace the host's certificate by a new self-signed one (its pool learns it).", 0, h_cert_refresh, NULL},
	{"host-get-server-certificate", NULL, L("uuid", "host-uuid"), "Print the host's TLS server certificate (PEM).",
	 0, h_cert_get, NULL},
	{"host-server-certificate-install", L("certificate", "private-key"), L("certificate-chain", "host-uuid"),
	 "Install a TLS server certificate and its key (PEM files) on the host; the HTTPS port presents it "
	 "from the next connection.",
	 0, h_cert_install, NULL},
	{"host-reset-server-certificate", NULL, L("host-uuid"),
	 "Replace the host's TLS server certificate by a new self-signed one.", 0, h_cert_reset, NULL},
	{"pool-install-ca-certificate", L("filename"), L("name"),
	 "Trust a CA certificate (PEM file) in the pool, under name (default: the file's name).", 0,
	 h_ca_install, NULL},
	{"pool-uninstall-ca-certificate", L("name"), NULL, "Stop trusting the named CA certificate.", 0,
	 h_ca_uninstall, NULL},
	{"subject-add", L("subject-name"), NULL,
	 "Add a user or group the host's accounts (PAM/NSS) know as a subject; prints its uuid.", 0,
	 h_subject_add, NULL},
	{"subject-remove", L("subject-uuid"), NULL, "Remove a subject.", 0, h_subject_remove, NULL},
	{"subject-role-add", L("uuid"), L("role-name", "role-uuid"),
	 "Give a subject a role (it applies from the subject's next login).", 0, h_subject_role_add, NULL},
	{"subject-role-remove", L("uuid"), L("role-name", "role-uuid"),
	 "Take a role from a subject (it applies from the subject's next login).", 0, h_subject_role_remove,
	 NULL},
	{"audit-log-get", L("filename"), L("since"),
	 "Write the audit log (lines since the given time, if any) to filename ('-': standard output).", 0,
	 h_audit_log_get, NULL},
};
const size_t xe_rbac_ncmds = sizeof xe_rbac_cmds / sizeof xe_rbac_cmds[0];
