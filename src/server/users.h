/* users: whose password is good. root and a local file of
 * `name:crypt-hash:roles` lines (roles comma-separated, default
 * pool-admin) under the data directory, checked against the file, or by
 * PAM for those names when configured with auth=pam; any other name is a
 * system account (a subject's, rbac.h), checked by PAM. PAM runs in the
 * xenon-auth helper process. */
#ifndef XENON_USERS_H
#define XENON_USERS_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/xerr.h"

struct users;

struct users *users_open(const char *path, const char *auth, struct xerr *err);
void users_free(struct users *u);
/* 0 and the user's role bits when the password is right, -1 otherwise. */
int users_check(struct users *u, const char *name, const char *password, uint32_t *roles);
/* Creates or updates a user's password (hashed) and saves the file. */
int users_set_password(struct users *u, const char *name, const char *password, struct xerr *err);
/* 0 when PAM accepts the system account's password (subjects), else -1. */
int users_system_check(struct users *u, const char *name, const char *password);
bool users_exists(struct users *u, const char *name);
/* NULL when this host can check system accounts' passwords (a PAM build,
 * the xenon-auth helper, a PAM configuration for it), else why not. */
const char *users_pam_unavailable(void);
/* Role names to bits; unknown names are ignored. */
uint32_t users_roles_from_names(const char *csv);

#endif
