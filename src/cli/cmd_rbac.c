/* cmd_rbac: xe's subject, role and audit log commands, as xapi's CLI has
 * them: subject-add resolves a name to its identifier (auth.*) and makes
 * the subject, subject-role-add/-remove take role-name= or role-uuid=,
 * audit-log-get downloads GET /audit_log. */
#include "cmd.h"
#include "base/mem.h"
#include "base/strbuf.h"
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

const struct xe_cmd xe_rbac_cmds[] = {
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
