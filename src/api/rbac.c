/* rbac: roles, permissions, subjects and the auth.* lookups (see rbac.h). */
#include "rbac.h"
#include "api.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <gnutls/crypto.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

static const char *const role_names[RBAC_NROLES] = {
	"pool-admin", "pool-operator", "vm-power-admin", "vm-admin", "vm-operator", "read-only", "client-cert",
};
/* "OpaqueRef:" + MD5 of the name as a uuid, as xapi fixes them */
static const char *const role_refs[RBAC_NROLES] = {
	"OpaqueRef:0165f154-ba3e-034e-6b27-5d271af109ba", "OpaqueRef:b9ce9791-0604-50cd-0649-09b3284c7dfd",
	"OpaqueRef:7955168d-7bec-10ed-105f-c6a7e6e63249", "OpaqueRef:aaa00ab5-7340-bfbc-0d1b-7cf342639a6e",
	"OpaqueRef:fb8d4ff9-310c-a959-0613-54101535d3d5", "OpaqueRef:7233b8e3-eacb-d7da-2c95-f2e581cdbf4e",
	"OpaqueRef:2c42debf-c64a-2ecd-f674-3350f06409f7",
};
static const char *const role_descriptions[RBAC_NROLES] = {
	"The Pool Administrator role has full access to all features and settings, including accessing Dom0 and "
	"managing subjects, roles and external authentication",
	"The Pool Operator role manages host- and pool-wide resources, including setting up storage, creating "
	"resource pools and managing patches, high availability (HA) and workload balancing (WLB)",
	"The Virtual Machine Power Administrator role has full access to VM and template management and can "
	"choose where to start VMs and use the dynamic memory control and VM snapshot features",
	"The Virtual Machine Administrator role can manage VMs and templates",
	"The Virtual Machine Operator role can use VMs and interact with VM consoles",
	"The Read-Only role can log in with basic read-only access",
	"The Client Certificate role is granted to logins with a client certificate",
};

const char *rbac_role_name(int i)
{
	return i >= 0 && i < RBAC_NROLES ? role_names[i] : "";
}

const char *rbac_role_ref(int i)
{
	return i >= 0 && i < RBAC_NROLES ? role_refs[i] : "";
}

int rbac_role_find(const char *s)
{
	for (int i = 0; s && i < RBAC_NROLES; i++)
		if (!strcmp(s, role_names[i]) || !strcmp(s, role_refs[i]))
			return i;
	return -1;
}

uint32_t rbac_role_closure(uint32_t bits)
{
	/* each of the six includes the ones after it; client-cert stands alone */
	for (int i = 0; i < 5; i++)
		if (bits & (1u << i))
			bits |= 1u << (i + 1);
	return bits;
}

/* ---- the permission table: generated ones, then the HTTP actions ---- */

#define HTTP_MAX 64
static struct {
	struct rbac_perm p;
	char name[64], uuid[40];
} http_perms[HTTP_MAX];
static size_t n_http;

/* MD5 of name formatted as a uuid, as xapi makes role uuids */
static void uuid_from_md5(const char *name, char out[40])
{
	unsigned char d[16];
	gnutls_hash_fast(GNUTLS_DIG_MD5, name, strlen(name), d);
	snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", d[0], d[1],
		 d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]);
}

void rbac_add_http_perm(const char *name, uint32_t roles)
{
	if (n_http == HTTP_MAX || rbac_perm_find(name))
		return;
	__typeof__(http_perms[0]) *h = &http_perms[n_http];
	snprintf(h->name, sizeof h->name, "%s", name);
	for (char *c = h->name; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	uuid_from_md5(name, h->uuid);
	h->p = (struct rbac_perm){h->name, h->uuid, roles};
	n_http++;
}

static int perm_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct rbac_perm *)e)->name);
}

const struct rbac_perm *rbac_perm_find(const char *name)
{
	const struct rbac_perm *p = bsearch(name, rbac_perms, rbac_nperms, sizeof *p, perm_cmp);
	for (size_t i = 0; !p && i < n_http; i++)
		if (!strcmp(http_perms[i].p.name, name))
			p = &http_perms[i].p;
	return p;
}

static size_t nperms_all(void)
{
	return rbac_nperms + n_http;
}

static const struct rbac_perm *perm_at(size_t i)
{
	return i < rbac_nperms ? &rbac_perms[i] : &http_perms[i - rbac_nperms].p;
}

static void perm_ref(const struct rbac_perm *p, char out[REF_STRLEN + 1])
{
	snprintf(out, REF_STRLEN + 1, "OpaqueRef:%s", p->uuid);
}

int rbac_install(struct db *db, struct xerr *err)
{
	struct db_txn *t = db_begin(db);
	size_t made = 0;
	for (int i = 0; i < RBAC_NROLES; i++) {
		struct db_obj *o = db_lookup_cls(db, SC_C_role, role_refs[i]);
		if (!o) {
			o = db_create(t, SC_C_role, role_refs[i]);
			made++;
		}
		db_set_str(t, o, SC_F_role__uuid, role_refs[i] + strlen("OpaqueRef:"));
		db_set_str(t, o, SC_F_role__name_label, role_names[i]);
		db_set_str(t, o, SC_F_role__name_description, role_descriptions[i]);
		xv sub = xv_arr_new();
		char ref[REF_STRLEN + 1];
		for (size_t k = 0; k < nperms_all(); k++)
			if (perm_at(k)->roles & (1u << i)) {
				perm_ref(perm_at(k), ref);
				xv_arr_push_str(&sub, ref);
			}
		db_set(t, o, SC_F_role__subroles, sub);
		db_set_bool(t, o, SC_F_role__is_internal, false);
	}
	for (size_t k = 0; k < nperms_all(); k++) {
		const struct rbac_perm *p = perm_at(k);
		char ref[REF_STRLEN + 1];
		perm_ref(p, ref);
		if (db_lookup_cls(db, SC_C_role, ref))
			continue;
		struct db_obj *o = db_create(t, SC_C_role, ref);
		db_set_str(t, o, SC_F_role__uuid, p->uuid);
		db_set_str(t, o, SC_F_role__name_label, p->name);
		db_set_bool(t, o, SC_F_role__is_internal, true);
		made++;
	}
	if (db_commit(t, err) < 0)
		return -1;
	if (made)
		log_info("rbac: %zu roles and permissions added to the store", made);
	return 0;
}

/* ---- checks ---- */

int rbac_denied(struct xerr *err, const char *perm, uint32_t roles)
{
	struct strbuf sb = STRBUF_INIT;
	sb_puts(&sb, "No permission in user session. (Roles with this permission: ");
	bool first = true;
	for (int i = 0; i < RBAC_NROLES; i++)
		if (roles & (1u << i)) {
			sb_printf(&sb, "%s%s", first ? "" : ", ", role_names[i]);
			first = false;
		}
	sb_puts(&sb, ")");
	xerr_set(err, ERR_RBAC_PERMISSION_DENIED, perm, sb.buf, NULL);
	sb_free(&sb);
	return -1;
}

static bool key_matches(const char *pattern, const char *key)
{
	size_t n = strlen(pattern);
	if (n && pattern[n - 1] == '*')
		return strncasecmp(pattern, key, n - 1) == 0;
	return strcasecmp(pattern, key) == 0;
}

const struct rbac_key_guard *rbac_key_guard(int msg_id, const char *key)
{
	for (size_t i = 0; key && i < rbac_nkey_guards; i++) {
		const struct rbac_key_guard *g = &rbac_key_guards[i];
		if (g->msg == msg_id && key_matches(g->key, key))
			return g;
	}
	return NULL;
}

/* ---- subjects ---- */

uint32_t rbac_subject_roles(struct db *db, const char *const *sids, size_t n, xv *matched)
{
	uint32_t bits = 0;
	*matched = xv_arr_new();
	db_rdlock(db);
	for (struct db_obj *o = db_first(db, SC_C_subject); o; o = db_next(o)) {
		const char *sid = db_peek_str(o, SC_F_subject__subject_identifier);
		bool hit = false;
		for (size_t i = 0; sid && i < n && !hit; i++)
			hit = strcmp(sid, sids[i]) == 0;
		if (!hit)
			continue;
		xv_arr_push_str(matched, o->ref);
		size_t last = xv_len(matched) - 1;
		if (last && !strcmp(sid, sids[0])) { /* the user's own first */
			xv *items = matched->u.a->items, t = items[0];
			items[0] = items[last];
			items[last] = t;
		}
		const xv *roles = db_peek(o, SC_F_subject__roles);
		for (size_t i = 0; i < xv_len(roles); i++) {
			int b = rbac_role_find(xv_as_str(xv_arr_get(roles, i)));
			if (b >= 0)
				bits |= rbac_role_closure(1u << b);
		}
	}
	db_unlock(db);
	return bits;
}

void rbac_sids_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

char **rbac_user_sids(const char *name, size_t *n)
{
	*n = 0;
	char buf[16384];
	struct passwd pw, *pwp = NULL;
	if (getpwnam_r(name, &pw, buf, sizeof buf, &pwp) != 0 || !pwp)
		return NULL;
	int ng = 64;
	gid_t groups[64];
	if (getgrouplist(name, pw.pw_gid, groups, &ng) < 0)
		ng = 64; /* more than fit: the first 64 */
	char **v = xcalloc((size_t)ng + 1, sizeof *v);
	v[(*n)++] = xasprintf("u%lu", (unsigned long)pw.pw_uid);
	v[(*n)++] = xasprintf("g%lu", (unsigned long)pw.pw_gid);
	for (int i = 0; i < ng; i++)
		if (groups[i] != pw.pw_gid)
			v[(*n)++] = xasprintf("g%lu", (unsigned long)groups[i]);
	return v;
}

/* "u<uid>" / "g<gid>": fills info (may be NULL) with what NSS says. */
static bool resolve_sid(const char *sid, xv *info)
{
	char buf[16384], *end;
	if (!sid || (sid[0] != 'u' && sid[0] != 'g') || !sid[1])
		return false;
	unsigned long id = strtoul(sid + 1, &end, 10);
	if (*end)
		return false;
	char num[32];
	snprintf(num, sizeof num, "%lu", id);
	if (sid[0] == 'u') {
		struct passwd pw, *p = NULL;
		if (getpwuid_r((uid_t)id, &pw, buf, sizeof buf, &p) != 0 || !p)
			return false;
		if (info) {
			xv_map_set_str(info, "subject-name", pw.pw_name);
			xv_map_set_str(info, "subject-uid", sid);
			char gid[32];
			snprintf(gid, sizeof gid, "g%lu", (unsigned long)pw.pw_gid);
			xv_map_set_str(info, "subject-gid", gid);
			xv_map_set_str(info, "subject-gecos", pw.pw_gecos ? pw.pw_gecos : "");
			xv_map_set_str(info, "subject-displayname",
				       pw.pw_gecos && *pw.pw_gecos ? pw.pw_gecos : pw.pw_name);
			xv_map_set_str(info, "subject-is-group", "false");
			xv_map_set_str(info, "subject-account-disabled", "false");
		}
		return true;
	}
	struct group gr, *g = NULL;
	if (getgrgid_r((gid_t)id, &gr, buf, sizeof buf, &g) != 0 || !g)
		return false;
	if (info) {
		xv_map_set_str(info, "subject-name", gr.gr_name);
		xv_map_set_str(info, "subject-gid", sid);
		xv_map_set_str(info, "subject-displayname", gr.gr_name);
		xv_map_set_str(info, "subject-is-group", "true");
	}
	return true;
}

/* ---- auth.* ---- */

bool rbac_extauth_enabled(struct server *srv)
{
	db_rdlock(srv->db);
	struct db_obj *h = db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
	bool on = h && !strcmp(db_peek_str(h, SC_F_host__external_auth_type), "PAM");
	db_unlock(srv->db);
	return on;
}

static int auth_get_subject_identifier(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	if (!rbac_extauth_enabled(ctx->srv))
		return xerr_set(err, ERR_AUTH_IS_DISABLED, NULL);
	const char *name = arg_str(args, 0);
	char buf[16384];
	struct passwd pw, *p = NULL;
	if (getpwnam_r(name, &pw, buf, sizeof buf, &p) == 0 && p) {
		*result = xv_str_own(xasprintf("u%lu", (unsigned long)pw.pw_uid));
		return 0;
	}
	struct group gr, *g = NULL;
	if (getgrnam_r(name, &gr, buf, sizeof buf, &g) == 0 && g) {
		*result = xv_str_own(xasprintf("g%lu", (unsigned long)gr.gr_gid));
		return 0;
	}
	return xerr_set(err, ERR_SUBJECT_CANNOT_BE_RESOLVED, NULL);
}

static int auth_get_info(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	if (!rbac_extauth_enabled(ctx->srv))
		return xerr_set(err, ERR_AUTH_IS_DISABLED, NULL);
	xv info = xv_map_new();
	if (!resolve_sid(arg_str(args, 0), &info)) {
		xv_free(&info);
		return xerr_set(err, ERR_SUBJECT_CANNOT_BE_RESOLVED, NULL);
	}
	*result = info;
	return 0;
}

static int auth_get_group_membership(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	if (!rbac_extauth_enabled(ctx->srv))
		return xerr_set(err, ERR_AUTH_IS_DISABLED, NULL);
	const char *sid = arg_str(args, 0);
	xv info = xv_map_new();
	if (!resolve_sid(sid, &info)) {
		xv_free(&info);
		return xerr_set(err, ERR_SUBJECT_CANNOT_BE_RESOLVED, NULL);
	}
	*result = xv_arr_new();
	if (sid[0] == 'u') {
		size_t n;
		char **v = rbac_user_sids(xv_map_get_str(&info, "subject-name"), &n);
		for (size_t i = 1; v && i < n; i++) /* its groups, not itself */
			xv_arr_push_str(result, v[i]);
		rbac_sids_free(v, n);
	}
	xv_free(&info);
	return 0;
}

/* ---- subject.* ---- */

static int subject_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const xv *rec = xv_arr_get(args, 0);
	const char *sid = xv_map_get_str(rec, "subject_identifier");
	if (!sid || !*sid)
		return xerr_set(err, ERR_SUBJECT_CANNOT_BE_RESOLVED, NULL);
	if (!rbac_extauth_enabled(ctx->srv))
		return xerr_set(err, ERR_AUTH_IS_DISABLED, NULL);
	xv info = xv_map_new();
	if (!resolve_sid(sid, &info)) {
		xv_free(&info);
		return xerr_set(err, ERR_SUBJECT_CANNOT_BE_RESOLVED, NULL);
	}
	const xv *oc = xv_map_get(rec, "other_config");
	for (size_t i = 0; oc && oc->kind == XV_MAP && i < oc->u.m->n; i++)
		xv_map_set(&info, oc->u.m->keys[i], xv_copy(&oc->u.m->vals[i]));
	struct db_txn *t = db_begin(ctx->db);
	for (struct db_obj *o = db_first(ctx->db, SC_C_subject); o; o = db_next(o)) {
		const char *s = db_peek_str(o, SC_F_subject__subject_identifier);
		if (s && !strcmp(s, sid)) {
			db_abort(t);
			xv_free(&info);
			return xerr_set(err, ERR_SUBJECT_ALREADY_EXISTS, NULL);
		}
	}
	struct db_obj *o = db_create(t, SC_C_subject, NULL);
	db_set_str(t, o, SC_F_subject__subject_identifier, sid);
	db_set(t, o, SC_F_subject__other_config, info);
	const xv *roles = xv_map_get(rec, "roles");
	xv keep = xv_arr_new();
	for (size_t i = 0; roles && i < xv_len(roles); i++) {
		int b = rbac_role_find(xv_as_str(xv_arr_get(roles, i)));
		if (b < 0) {
			db_abort(t);
			xv_free(&keep);
			return xerr_set(err, ERR_ROLE_NOT_FOUND, NULL);
		}
		xv_arr_push_str(&keep, role_refs[b]);
	}
	db_set(t, o, SC_F_subject__roles, keep);
	*result = xv_str(o->ref);
	if (db_commit(t, err) < 0) {
		xv_free(result);
		return -1;
	}
	return 0;
}

static int subject_roles_edit(struct rpc_ctx *ctx, xv *args, struct xerr *err, bool add)
{
	int b = rbac_role_find(arg_str(args, 1));
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *o = generic_lookup(ctx, SC_C_subject, xv_arr_get(args, 0), err);
	if (!o) {
		db_abort(t);
		return -1;
	}
	if (b < 0) {
		db_abort(t);
		return xerr_set(err, ERR_ROLE_NOT_FOUND, NULL);
	}
	xv ref = xv_str(role_refs[b]);
	const xv *cur = db_peek(o, SC_F_subject__roles);
	bool has = cur && xv_arr_contains(cur, &ref);
	if (has == add) {
		xv_free(&ref);
		db_abort(t);
		return xerr_set(err, add ? ERR_ROLE_ALREADY_EXISTS : ERR_ROLE_NOT_FOUND, NULL);
	}
	xv *roles = db_edit(t, o, SC_F_subject__roles);
	if (add)
		xv_arr_push(roles, ref);
	else {
		xv_arr_remove(roles, &ref);
		xv_free(&ref);
	}
	return db_commit(t, err);
}

static int subject_add_to_roles(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return subject_roles_edit(ctx, args, err, true);
}

static int subject_remove_from_roles(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return subject_roles_edit(ctx, args, err, false);
}

/* The names of the permissions of role bits. */
xv rbac_perm_names(uint32_t bits)
{
	xv out = xv_arr_new();
	for (size_t k = 0; k < nperms_all(); k++)
		if (perm_at(k)->roles & bits)
			xv_arr_push_str(&out, perm_at(k)->name);
	return out;
}

static int subject_get_permissions_name_label(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *o = generic_lookup(ctx, SC_C_subject, xv_arr_get(args, 0), err);
	uint32_t bits = 0;
	const xv *roles = o ? db_peek(o, SC_F_subject__roles) : NULL;
	for (size_t i = 0; roles && i < xv_len(roles); i++) {
		int b = rbac_role_find(xv_as_str(xv_arr_get(roles, i)));
		if (b >= 0)
			bits |= 1u << b;
	}
	db_unlock(ctx->db);
	if (!o)
		return -1;
	*result = rbac_perm_names(bits);
	return 0;
}

/* ---- role.* ---- */

/* The role (bit) or permission (*perm) a ref names; -1 and HANDLE_INVALID
 * for neither. */
static int role_of_ref(const char *ref, const struct rbac_perm **perm, struct xerr *err)
{
	*perm = NULL;
	int b = rbac_role_find(ref);
	if (b >= 0)
		return b;
	char r[REF_STRLEN + 1];
	for (size_t k = 0; ref && k < nperms_all(); k++) {
		perm_ref(perm_at(k), r);
		if (!strcmp(r, ref)) {
			*perm = perm_at(k);
			return RBAC_NROLES;
		}
	}
	return handle_invalid(err, SC_C_role, ref ? ref : "") - 1;
}

static int role_get_permissions(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx;
	const struct rbac_perm *p;
	int b = role_of_ref(arg_str(args, 0), &p, err);
	if (b < 0)
		return -1;
	*result = xv_arr_new();
	char r[REF_STRLEN + 1];
	for (size_t k = 0; b < RBAC_NROLES && k < nperms_all(); k++)
		if (perm_at(k)->roles & (1u << b)) {
			perm_ref(perm_at(k), r);
			xv_arr_push_str(result, r);
		}
	return 0;
}

static int role_get_permissions_name_label(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx;
	const struct rbac_perm *p;
	int b = role_of_ref(arg_str(args, 0), &p, err);
	if (b < 0)
		return -1;
	*result = b < RBAC_NROLES ? rbac_perm_names(1u << b) : xv_arr_new();
	return 0;
}

static xv roles_holding(const struct rbac_perm *p)
{
	xv out = xv_arr_new();
	for (int i = 0; p && i < RBAC_NROLES; i++)
		if (p->roles & (1u << i))
			xv_arr_push_str(&out, role_refs[i]);
	return out;
}

static int role_get_by_permission(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx;
	const struct rbac_perm *p;
	if (role_of_ref(arg_str(args, 0), &p, err) < 0)
		return -1;
	*result = roles_holding(p);
	return 0;
}

static int role_get_by_permission_name_label(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx;
	(void)err;
	char name[256];
	snprintf(name, sizeof name, "%s", arg_str(args, 0));
	for (char *c = name; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	*result = roles_holding(rbac_perm_find(name));
	return 0;
}

RPC_IMPL(auth, get_subject_identifier, auth_get_subject_identifier, 0);
RPC_IMPL(auth, get_subject_information_from_identifier, auth_get_info, 0);
RPC_IMPL(auth, get_group_membership, auth_get_group_membership, 0);
RPC_IMPL(subject, create, subject_create, 0);
RPC_IMPL(subject, add_to_roles, subject_add_to_roles, 0);
RPC_IMPL(subject, remove_from_roles, subject_remove_from_roles, 0);
RPC_IMPL(subject, get_permissions_name_label, subject_get_permissions_name_label, 0);
RPC_IMPL(role, get_permissions, role_get_permissions, 0);
RPC_IMPL(role, get_permissions_name_label, role_get_permissions_name_label, 0);
RPC_IMPL(role, get_by_permission, role_get_by_permission, 0);
RPC_IMPL(role, get_by_permission_name_label, role_get_by_permission_name_label, 0);
