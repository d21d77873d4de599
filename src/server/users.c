/* users: the local password file and PAM (see users.h). Hashes are
 * crypt(3) SHA-512 through libxcrypt's crypt_rn (crypt_r is intercepted
 * by ASan without a working fallback); the file is rewritten atomically. */
#include "users.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../base/uuid.h"
#include "../schema/schema.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

struct user {
	char *name, *hash, *roles;
};

struct users {
	pthread_mutex_t lock;
	char *path;
	bool pam;
	struct user *v;
	size_t n;
};

uint32_t users_roles_from_names(const char *csv)
{
	static const char *names[] = {"pool-admin", "pool-operator", "vm-power-admin", "vm-admin",
				      "vm-operator", "read-only", "client-cert"};
	uint32_t bits = 0;
	char *copy = xstrdup(csv), *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			if (strcmp(tok, names[i]) == 0)
				bits |= 1u << i;
	free(copy);
	/* each role may call what the roles below it may */
	if (bits & SC_ROLE_POOL_ADMIN)
		bits |= SC_ROLE_POOL_OPERATOR;
	if (bits & SC_ROLE_POOL_OPERATOR)
		bits |= SC_ROLE_VM_POWER_ADMIN;
	if (bits & SC_ROLE_VM_POWER_ADMIN)
		bits |= SC_ROLE_VM_ADMIN;
	if (bits & SC_ROLE_VM_ADMIN)
		bits |= SC_ROLE_VM_OPERATOR;
	if (bits & SC_ROLE_VM_OPERATOR)
		bits |= SC_ROLE_READ_ONLY;
	return bits;
}

static void add_user(struct users *u, const char *name, const char *hash, const char *roles)
{
	u->v = xrealloc(u->v, sizeof(struct user) * (u->n + 1));
	u->v[u->n++] = (struct user){xstrdup(name), xstrdup(hash), xstrdup(roles)};
}

static struct user *find(struct users *u, const char *name)
{
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->v[i].name, name) == 0)
			return &u->v[i];
	return NULL;
}

struct users *users_open(const char *path, const char *auth, struct xerr *err)
{
	struct users *u = xcalloc(1, sizeof *u);
	pthread_mutex_init(&u->lock, NULL);
	u->path = xstrdup(path);
	u->pam = auth && strcmp(auth, "pam") == 0;
#ifndef HAVE_PAM
	if (u->pam) {
		users_free(u);
		xerr_internal(err, "auth=pam but xenond was built without PAM");
		return NULL;
	}
#endif
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return u;
		xerr_internal(err, "cannot read %s: %s", path, strerror(errno));
		users_free(u);
		return NULL;
	}
	char line[1024];
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c1)
			continue;
		*c1 = '\0';
		if (c2)
			*c2 = '\0';
		add_user(u, line, c1 + 1, c2 ? c2 + 1 : "pool-admin");
	}
	fclose(f);
	return u;
}

void users_free(struct users *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n; i++) {
		free(u->v[i].name);
		free(u->v[i].hash);
		free(u->v[i].roles);
	}
	free(u->v);
	free(u->path);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

#ifdef HAVE_PAM
#ifndef XENON_AUTH_HELPER
#define XENON_AUTH_HELPER "/usr/libexec/xenon/xenon-auth"
#endif

static char helper[4096];

/* The PAM check runs in the xenon-auth helper (xenon_auth.c), found next
 * to this executable (a build tree), else where it is installed. */
static void find_helper(void)
{
	char self[2048];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			snprintf(helper, sizeof helper, "%s/xenon-auth", self);
			if (access(helper, X_OK) == 0)
				return;
		}
	}
	snprintf(helper, sizeof helper, "%s", XENON_AUTH_HELPER);
}

static pthread_once_t helper_once = PTHREAD_ONCE_INIT;

static int pam_check(const char *name, const char *password)
{
	pthread_once(&helper_once, find_helper);
	int in[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	char *argv[] = {helper, NULL};
	char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, helper, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	if (rc != 0) {
		log_error("users: cannot run %s: %s", helper, strerror(rc));
		close(in[1]);
		return -1;
	}
	struct strbuf sb = STRBUF_INIT;
	sb_add(&sb, name, strlen(name) + 1);
	sb_add(&sb, password, strlen(password) + 1);
	ssize_t w = write(in[1], sb.buf, sb.len);
	explicit_bzero(sb.buf, sb.len);
	sb_free(&sb);
	close(in[1]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return w > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}
#endif

int users_check(struct users *u, const char *name, const char *password, uint32_t *roles)
{
#ifdef HAVE_PAM
	if (u->pam) {
		if (pam_check(name, password) < 0)
			return -1;
		pthread_mutex_lock(&u->lock);
		struct user *known = find(u, name);
		*roles = users_roles_from_names(known ? known->roles : "pool-admin");
		pthread_mutex_unlock(&u->lock);
		return 0;
	}
#endif
	pthread_mutex_lock(&u->lock);
	struct user *usr = find(u, name);
	int r = -1;
	if (usr && usr->hash[0]) {
		struct crypt_data cd;
		memset(&cd, 0, sizeof cd);
		const char *h = crypt_rn(password, usr->hash, &cd, (int)sizeof cd);
		if (h && strcmp(h, usr->hash) == 0) {
			*roles = users_roles_from_names(usr->roles);
			r = 0;
		}
	}
	pthread_mutex_unlock(&u->lock);
	return r;
}

int users_system_check(struct users *u, const char *name, const char *password)
{
	(void)u;
#ifdef HAVE_PAM
	return pam_check(name, password);
#else
	(void)name;
	(void)password;
	return -1;
#endif
}

const char *users_pam_unavailable(void)
{
#ifdef HAVE_PAM
	pthread_once(&helper_once, find_helper);
	if (access(helper, X_OK) != 0)
		return "the PAM helper xenon-auth is not installed on this host";
	/* PAM falls back to the "other" service when "xenon" has none */
	if (access("/etc/pam.d/xenon", R_OK) != 0 && access("/etc/pam.d/other", R_OK) != 0 &&
	    access("/etc/pam.conf", R_OK) != 0)
		return "this host has no PAM configuration (/etc/pam.d/xenon)";
	return NULL;
#else
	return "xenond was built without PAM";
#endif
}

bool users_exists(struct users *u, const char *name)
{
	pthread_mutex_lock(&u->lock);
	bool r = find(u, name) != NULL;
	pthread_mutex_unlock(&u->lock);
	return r;
}

static int save(struct users *u, struct xerr *err)
{
	char *tmp = xasprintf("%s.tmp", u->path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		xerr_internal(err, "cannot write %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	fchmod(fileno(f), 0600);
	for (size_t i = 0; i < u->n; i++)
		fprintf(f, "%s:%s:%s\n", u->v[i].name, u->v[i].hash, u->v[i].roles);
	int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, u->path) != 0) {
		xerr_internal(err, "cannot save %s: %s", u->path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

int users_set_password(struct users *u, const char *name, const char *password, struct xerr *err)
{
	unsigned char rnd[12];
	random_bytes(rnd, sizeof rnd);
	char salt_chars[17];
	static const char alphabet[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	for (int i = 0; i < 16; i++)
		salt_chars[i] = alphabet[(rnd[i % 12] + i * 7) % 64];
	salt_chars[16] = '\0';
	char setting[32];
	snprintf(setting, sizeof setting, "$6$%s$", salt_chars);
	struct crypt_data cd;
	memset(&cd, 0, sizeof cd);
	const char *h = crypt_rn(password, setting, &cd, (int)sizeof cd);
	if (!h || h[0] == '*')
		return xerr_internal(err, "cannot hash a password");
	pthread_mutex_lock(&u->lock);
	struct user *usr = find(u, name);
	if (usr) {
		free(usr->hash);
		usr->hash = xstrdup(h);
	} else {
		add_user(u, name, h, "pool-admin");
	}
	int r = save(u, err);
	pthread_mutex_unlock(&u->lock);
	return r;
}
