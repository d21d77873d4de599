/* net_services: the built-in DHCP server and NAT of internal networks,
 * reconciled to the networks' other_config (net/dhcp_nat.c does the
 * work). One thread watches the network records: a network that asks for
 * a service (and has no PIF) gets its bridge, the host's address on it,
 * dnsmasq and its nftables table; a network that stops asking, or is
 * destroyed, loses them (its bridge too, once no port is left). The
 * daemon's start ends what a previous one left; its stop ends them all. */
#include "api.h"
#include "../base/dir.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../db/db.h"
#include "../net/dhcp_nat.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct svc {
	char uuid[UUID_STRLEN + 1];
	char bridge[16];
	char *fingerprint; /* the config it was last applied with */
	bool failed;       /* that config was refused: not retried until it changes */
	bool seen;
	struct svc *next;
};

static struct {
	struct server *srv;
	pthread_t thread;
	bool started, stop, dirty;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct db_waiter waiter;
	struct svc *running;
} S = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static char *state_dir(const char *bridge)
{
	return xasprintf("%s/net/%s", S.srv->cfg.run_dir, bridge);
}

/* What one network asks for, read under the lock. */
struct want {
	char uuid[UUID_STRLEN + 1];
	char bridge[16];
	char *ip_begin, *ip_end, *netmask, *dhcp, *nat, *boot;
	bool has_pifs;
};

static char *dup_key(const xv *oc, const char *k)
{
	const char *v = xv_map_get_str(oc, k);
	return v ? xstrdup(v) : NULL;
}

static void want_free(struct want *w)
{
	free(w->ip_begin);
	free(w->ip_end);
	free(w->netmask);
	free(w->dhcp);
	free(w->nat);
	free(w->boot);
}

static struct svc *find(const char *uuid)
{
	for (struct svc *s = S.running; s; s = s->next)
		if (!strcmp(s->uuid, uuid))
			return s;
	return NULL;
}

static void svc_down(struct svc *s, bool gone)
{
	char *dir = state_dir(s->bridge);
	net_dhcp_nat_down(s->bridge, dir, gone);
	log_info("net: %s (%s): services stopped", s->bridge, s->uuid);
	free(dir);
}

static void apply(const struct want *w)
{
	struct net_dhcp_nat c;
	struct xerr err = XERR_INIT;
	int asks = w->has_pifs ? 1 : net_dhcp_nat_parse(w->ip_begin, w->ip_end, w->netmask, w->dhcp, w->nat, &c, &err);
	struct strbuf fp = STRBUF_INIT;
	sb_printf(&fp, "%s|%s|%s|%s|%s|%s|%s", w->bridge, w->ip_begin ? w->ip_begin : "", w->ip_end ? w->ip_end : "",
		  w->netmask ? w->netmask : "", w->dhcp ? w->dhcp : "", w->nat ? w->nat : "", w->boot ? w->boot : "");
	struct svc *s = find(w->uuid);
	if (s)
		s->seen = true;
	if (s && asks != 1 && !strcmp(s->fingerprint, fp.buf)) {
		sb_free(&fp);
		xerr_clear(&err);
		return; /* as it runs */
	}
	if (s) { /* changed: down first, then as it asks now */
		if (!s->failed)
			svc_down(s, false);
		free(s->fingerprint);
		s->fingerprint = xstrdup("");
		s->failed = true; /* nothing runs until it is up again */
	}
	if (asks == 1) {
		sb_free(&fp);
		if (s)
			s->seen = false; /* forgotten below */
		return;
	}
	if (!s) {
		s = xcalloc(1, sizeof *s);
		snprintf(s->uuid, sizeof s->uuid, "%s", w->uuid);
		snprintf(s->bridge, sizeof s->bridge, "%s", w->bridge);
		s->fingerprint = xstrdup("");
		s->failed = true;
		s->seen = true;
		s->next = S.running;
		S.running = s;
	}
	char *dir = state_dir(w->bridge), *tftp = NULL;
	if (asks == 0 && w->boot && *w->boot) {
		tftp = xasprintf("%s/tftp/%s", S.srv->cfg.data_dir, w->uuid);
		char *failed = NULL;
		if (dir_make_all(tftp, 0700, &failed) < 0) {
			log_warn("net: cannot make %s", failed ? failed : tftp);
			free(failed);
		}
		c.tftp_root = tftp;
		c.boot_file = w->boot;
	}
	if (asks == 0) {
		c.bridge = w->bridge;
		c.state_dir = dir;
	}
	if (asks < 0 || net_dhcp_nat_up(&c, &err) < 0) {
		/* kept as refused: not retried until the config changes */
		log_warn("net: network %s (%s): %s %s %s", w->uuid, w->bridge, err.code,
			 err.nparams ? err.params[0] : "", err.nparams > 1 ? err.params[1] : "");
		s->failed = true;
	} else {
		s->failed = false;
	}
	free(s->fingerprint);
	s->fingerprint = sb_detach(&fp);
	sb_free(&fp);
	xerr_clear(&err);
	free(dir);
	free(tftp);
}

static void reconcile(void)
{
	struct db *db = S.srv->db;
	struct want *w = NULL;
	size_t n = 0;
	db_rdlock(db);
	for (struct db_obj *net = db_first(db, SC_C_network); net; net = db_next(net)) {
		const xv *oc = db_peek(net, SC_F_network__other_config);
		w = xrealloc(w, (n + 1) * sizeof *w);
		struct want *x = &w[n++];
		memset(x, 0, sizeof *x);
		snprintf(x->uuid, sizeof x->uuid, "%s", db_peek_str(net, SC_F_network__uuid));
		snprintf(x->bridge, sizeof x->bridge, "%s", db_peek_str(net, SC_F_network__bridge));
		x->ip_begin = dup_key(oc, "ip_begin");
		x->ip_end = dup_key(oc, "ip_end");
		x->netmask = dup_key(oc, "netmask");
		x->dhcp = dup_key(oc, "dhcp");
		x->nat = dup_key(oc, "nat");
		x->boot = dup_key(oc, "pxe_boot_file");
		xv pifs = db_get(db, net, SC_F_network__PIFs);
		x->has_pifs = xv_len(&pifs) > 0;
		xv_free(&pifs);
	}
	db_unlock(db);
	for (struct svc *s = S.running; s; s = s->next)
		s->seen = false;
	for (size_t i = 0; i < n; i++) {
		if (w[i].bridge[0] && strchr(w[i].bridge, '/') == NULL)
			apply(&w[i]);
		want_free(&w[i]);
	}
	free(w);
	/* networks gone, or asking for nothing now */
	for (struct svc **p = &S.running; *p;) {
		struct svc *s = *p;
		if (s->seen) {
			p = &s->next;
			continue;
		}
		bool gone = true;
		db_rdlock(db);
		gone = db_lookup_uuid(db, SC_C_network, s->uuid) == NULL;
		db_unlock(db);
		if (gone || !s->failed)
			svc_down(s, gone);
		*p = s->next;
		free(s->fingerprint);
		free(s);
	}
}

static void wake(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&S.lock);
	S.dirty = true;
	pthread_cond_signal(&S.cond);
	pthread_mutex_unlock(&S.lock);
}

static void *main_loop(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&S.lock);
	while (!S.stop) {
		if (S.dirty) {
			S.dirty = false;
			pthread_mutex_unlock(&S.lock);
			reconcile();
			pthread_mutex_lock(&S.lock);
			continue;
		}
		pthread_cond_wait(&S.cond, &S.lock);
	}
	pthread_mutex_unlock(&S.lock);
	return NULL;
}

/* What a daemon that died left: every state directory's services. */
static void end_strays(void)
{
	char *root = xasprintf("%s/net", S.srv->cfg.run_dir);
	DIR *d = opendir(root);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.' || strlen(e->d_name) >= 16)
				continue;
			char *dir = xasprintf("%s/%s", root, e->d_name);
			net_dhcp_nat_down(e->d_name, dir, false);
			free(dir);
		}
		closedir(d);
	}
	mkdir(root, 0700);
	free(root);
}

void net_services_start(struct server *srv)
{
	if (S.started || !strcmp(srv->cfg.backend, "sim"))
		return; /* the simulator touches no network */
	S.srv = srv;
	S.stop = false;
	S.dirty = true;
	end_strays();
	S.waiter.wake = wake;
	S.waiter.arg = NULL;
	memset(S.waiter.classes, 0, sizeof S.waiter.classes);
	S.waiter.classes[SC_C_network / 64] |= 1ull << (SC_C_network % 64);
	db_waiter_add(srv->db, &S.waiter);
	if (pthread_create(&S.thread, NULL, main_loop, NULL) == 0)
		S.started = true;
	else
		db_waiter_remove(srv->db, &S.waiter);
}

void net_services_stop(void)
{
	if (!S.started)
		return;
	db_waiter_remove(S.srv->db, &S.waiter);
	pthread_mutex_lock(&S.lock);
	S.stop = true;
	pthread_cond_signal(&S.cond);
	pthread_mutex_unlock(&S.lock);
	pthread_join(S.thread, NULL);
	while (S.running) {
		struct svc *s = S.running;
		S.running = s->next;
		if (!s->failed)
			svc_down(s, false);
		free(s->fingerprint);
		free(s);
	}
	S.started = false;
}
