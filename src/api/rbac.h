/* rbac: xapi's roles and permissions. The permissions and the roles that
 * hold them are static: a table generated at build time from the schema's
 * per-message roles (gen_rbac.py → rbac_gen.c) plus the transport's HTTP
 * actions, which it adds before rbac_install. Each role and permission is
 * also a row of class role with xapi's fixed ref and uuid (MD5 of its
 * name), so the generic role getters serve them. Subjects are users and
 * groups the system's NSS knows, named by identifiers "u<uid>" and
 * "g<gid>". */
#ifndef XENON_RBAC_H
#define XENON_RBAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/xerr.h"
#include "../base/xv.h"
#include "../db/db.h"

struct rpc_ctx;

struct rbac_perm {
	const char *name; /* lowercased wire name: vm.start, http/get_export */
	const char *uuid; /* MD5 of the wire name as written */
	uint32_t roles;   /* SC_ROLE_* bits of the roles that hold it */
};

struct rbac_key_guard {
	int msg;         /* SC_M_* of a map setter */
	const char *key; /* a key, or a prefix ending in '*' */
	int perm;        /* its permission in rbac_perms */
	uint32_t roles;
};

/* Generated (rbac_gen.c). */
extern const struct rbac_perm rbac_perms[];
extern const size_t rbac_nperms;
extern const uint16_t rbac_msg_perm[];
extern const size_t rbac_nmsg_perm;
extern const struct rbac_key_guard rbac_key_guards[];
extern const size_t rbac_nkey_guards;

#define RBAC_NROLES 7 /* SC_ROLE_* bits 0..6, most privileged first */

/* "pool-admin"…"client-cert" for bit i. */
const char *rbac_role_name(int i);
/* The role's fixed ref (OpaqueRef:<uuid>) for bit i. */
const char *rbac_role_ref(int i);
/* The bit of the role named so (or whose ref is given), or -1. */
int rbac_role_find(const char *name_or_ref);
/* The names of the permissions the roles in bits hold (xapi's
 * session.rbac_permissions). */
xv rbac_perm_names(uint32_t bits);
/* A role's bits with every role it includes (pool-admin: all six). */
uint32_t rbac_role_closure(uint32_t bits);

/* An HTTP action's permission (http/<action>) held by roles; the
 * transport adds its routes' before rbac_install. */
void rbac_add_http_perm(const char *name, uint32_t roles);
/* The permission named name (lowercased), or NULL. */
const struct rbac_perm *rbac_perm_find(const char *name);

/* Makes sure the store holds a row for each role and permission. */
int rbac_install(struct db *db, struct xerr *err);

/* RBAC_PERMISSION_DENIED [perm; "No permission in user session. (Roles
 * with this permission: …)"], as xapi words it; returns -1. */
int rbac_denied(struct xerr *err, const char *perm, uint32_t roles);
/* The guard of map key key for message msg_id (an add_to_/remove_from_
 * call), or NULL: a guarded key's permission replaces the call's. */
const struct rbac_key_guard *rbac_key_guard(int msg_id, const char *key);

/* The role bits of the subjects among sids (a user's and its groups'
 * identifiers): the union of their roles (with their closures); *matched
 * gets the refs of the subjects found (an array, the user's own first).
 * Takes the read lock. */
uint32_t rbac_subject_roles(struct db *db, const char *const *sids, size_t n, xv *matched);

/* The identifiers of a user: "u<uid>" and "g<gid>" of every group it is
 * in (primary first). An owned array of owned strings; NULL if unknown. */
char **rbac_user_sids(const char *name, size_t *n);
void rbac_sids_free(char **v, size_t n);

/* External authentication is on for this host (host.external_auth_type
 * "PAM", host.enable_external_auth): subjects are looked up and the
 * system's accounts log in. Off, auth.* and subject.create answer
 * AUTH_IS_DISABLED and only root and the local password file log in. */
struct server;
bool rbac_extauth_enabled(struct server *srv);

#endif
