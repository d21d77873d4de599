/* xenond: the per-host daemon. Reads its configuration, opens the store,
 * makes sure the host's own records exist, and serves the XenAPI until it
 * is told to stop. Running VMs do not depend on this process. */
#include "../api/bootstrap.h"
#include "audit.h"
#include "cert_calls.h"
#include "../api/pool_forward.h"
#include "../api/pool_join.h"
#include "../api/pool_ha.h"
#include "http.h"
#include "private.h"
#include "restart.h"
#include "rpc.h"
#include "config.h"
#include "session.h"
#include "task.h"
#include "../api/tls.h"
#include "users.h"
#include "workq.h"
#include "../api/api.h"
#include "../api/rbac.h"
#include "url_table.h"
#include "../base/fault.h"
#include "../api/metrics.h"
#include "../api/vif_policy.h"
#include "../base/dir.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/uuid.h"
#include "../pool/raft.h"
#include "../net/net.h"
#include "../sm/sm.h"
#include "../xenops/xenops.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#else
#define sd_notify(unset, state) ((void)(state), 0)
#define sd_watchdog_enabled(unset, usec) ((void)(usec), 0)
#endif

/* An orderly stop that takes longer than this is cut short: SIGTERM
 * always ends the daemon (its VMs run on, and are adopted next time). */
#define STOP_GRACE_S 20

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	if (stop_requested)
		_exit(1); /* a second signal: no more waiting */
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fputs("usage: xenond [--config FILE] [--data-dir DIR] [--run-dir DIR]\n"
	      "              [--listen ADDR:PORT] [--tls-listen ADDR:PORT]\n"
	      "              [--root-password-file FILE] [--backend sim|qemu|xen]\n"
	      "              [--guest-kernel-dir DIR] [--log-level error|warn|info|debug]\n"
	      "              [--debug-faults]\n"
	      "Serves the XenAPI in the foreground. An empty --listen or --tls-listen\n"
	      "turns that listener off.\n",
	      f);
}

/* The root password file holds "root\n<password>\n" (xe -pwf reads it
 * as-is) or just the password. Missing: a random password is made. */
static int setup_root_password(struct server *srv, char **password_out, struct xerr *err)
{
	const char *path = srv->cfg.root_password_file;
	FILE *f = fopen(path, "r");
	char line[512], pw[512] = "";
	if (f) {
		int lines = 0;
		while (fgets(line, sizeof line, f)) {
			line[strcspn(line, "\r\n")] = '\0';
			if (!line[0])
				continue;
			lines++;
			snprintf(pw, sizeof pw, "%s", line);
		}
		fclose(f);
		if (!pw[0])
			return xerr_internal(err, "%s holds no password", path);
		(void)lines;
	} else {
		unsigned char rnd[12];
		random_bytes(rnd, sizeof rnd);
		static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
		for (size_t i = 0; i < sizeof rnd; i++)
			pw[i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
		pw[sizeof rnd] = '\0';
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		FILE *w = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!w) {
			if (fd >= 0)
				close(fd);
			return xerr_internal(err, "cannot create %s: %s", path, strerror(errno));
		}
		fprintf(w, "root\n%s\n", pw);
		fclose(w);
		log_info("created %s with a new root password", path);
	}
	uint32_t roles;
	if (users_check(srv->users, "root", pw, &roles) != 0 &&
	    users_set_password(srv->users, "root", pw, err) < 0)
		return -1;
	*password_out = xstrdup(pw);
	return 0;
}

static int parse_args(int argc, char **argv, struct server_config *cfg)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"data-dir", required_argument, NULL, 'd'},
		{"run-dir", required_argument, NULL, 'r'},
		{"listen", required_argument, NULL, 'l'},
		{"tls-listen", required_argument, NULL, 't'},
		{"root-password-file", required_argument, NULL, 'p'},
		{"backend", required_argument, NULL, 'b'},
		{"guest-kernel-dir", required_argument, NULL, 'g'},
		{"log-level", required_argument, NULL, 'L'},
		{"debug-faults", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	/* the config file first, so flags override it */
	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--config") == 0) {
			struct xerr e = XERR_INIT;
			if (server_config_load(cfg, argv[i + 1], &e) < 0) {
				fprintf(stderr, "xenond: %s\n", e.nparams ? e.params[0] : e.code);
				return -1;
			}
		}
	}
	int c;
	struct xerr e = XERR_INIT;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char *key = NULL;
		switch (c) {
		case 'c': continue;
		case 'd': key = "data-dir"; break;
		case 'r': key = "run-dir"; break;
		case 'l': key = "listen"; break;
		case 't': key = "tls-listen"; break;
		case 'p': key = "root-password-file"; break;
		case 'b': key = "backend"; break;
		case 'g': key = "guest-kernel-dir"; break;
		case 'L':
			log_set_level(!strcmp(optarg, "debug") ? LOG_DEBUG : !strcmp(optarg, "warn") ? LOG_WARN
				      : !strcmp(optarg, "error") ? LOG_ERROR : LOG_INFO);
			continue;
		case 'F': fault_enable(); continue; /* and debug.fault_* (tests only) */
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
		if (server_config_set(cfg, key, optarg, &e) < 0) {
			fprintf(stderr, "xenond: %s\n", e.params[0]);
			return -1;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static void fill_derived_paths(struct server_config *cfg)
{
	char *d = cfg->data_dir;
	if (!cfg->root_password_file[0]) {
		free(cfg->root_password_file);
		cfg->root_password_file = xasprintf("%s/root-password", d);
	}
	if (!cfg->run_dir[0]) {
		free(cfg->run_dir);
		cfg->run_dir = xasprintf("%s/run", d);
	}
	if (!cfg->cert_file[0]) {
		free(cfg->cert_file);
		cfg->cert_file = xasprintf("%s/xapi-ssl.crt", d);
	}
	if (!cfg->key_file[0]) {
		free(cfg->key_file);
		cfg->key_file = xasprintf("%s/xapi-ssl.key", d);
	}
	if (!cfg->guest_kernel_dir[0]) {
		free(cfg->guest_kernel_dir);
		cfg->guest_kernel_dir = xasprintf("%s/guest-kernels", d);
	}
}

/* One daemon per data directory: a second one would serve a diverging
 * copy of the store. The lock is held until the daemon is done with the
 * store (released before a restart re-executes it). */
static int lock_data_dir(const char *dir, struct xerr *err)
{
	char *path = xasprintf("%s/xenond.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (fd < 0)
		return xerr_internal(err, "cannot open the lock in %s: %s", dir, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return xerr_internal(err, "another xenond is using %s", dir);
	}
	return fd;
}

/* A pooled host: <data-dir>/pool.conf (pool-* keys, as the join writes
 * them) or the same keys in the configuration. None: a pool of one, and
 * no Raft at all. */
static int pool_config(struct server_config *cfg, struct xerr *err)
{
	char *path = xasprintf("%s/pool.conf", cfg->data_dir);
	int r = access(path, F_OK) == 0 ? server_config_load(cfg, path, err) : 0;
	free(path);
	if (r == 0 && cfg->pool_address[0] && cfg->pool_id <= 0)
		r = xerr_internal(err, "config: pool-address needs a pool-id > 0");
	return r;
}

/* Starts this host's Raft node and makes it the store's replicator. */
static int pool_start(struct server *srv, struct xerr *err)
{
	struct server_config *c = &srv->cfg;
	struct pool_raft_peer peers[16];
	size_t n = 0;
	char *list = xstrdup(c->pool_peers), *save = NULL;
	for (char *tok = strtok_r(list, ",", &save); tok && n < 16; tok = strtok_r(NULL, ",", &save)) {
		char *at = strchr(tok, '@');
		if (!at || atoi(tok) <= 0) {
			free(list);
			return xerr_internal(err, "config: pool-peers: '%s' is not ID@IP:PORT", tok);
		}
		*at = 0;
		peers[n++] = (struct pool_raft_peer){(uint64_t)atoi(tok), at + 1};
	}
	char *dir = xasprintf("%s/raft", c->data_dir), *dbpath = xasprintf("%s/db.sqlite", c->data_dir);
	struct pool_raft_config rc = {.id = (uint64_t)c->pool_id, .address = c->pool_address, .dir = dir,
				      .db = srv->db, .db_path = dbpath, .peers = peers, .npeers = n,
				      .snapshot_threshold = (unsigned)c->pool_snapshot_threshold,
				      .snapshot_trailing = (unsigned)c->pool_snapshot_trailing};
	srv->raft = pool_raft_start(&rc, err);
	free(dir);
	free(dbpath);
	free(list);
	if (!srv->raft)
		return -1;
	db_set_replicator(srv->db, &(struct db_replicator){pool_replicate, srv, pool_submit});
	return 0;
}

/* Waits a while for a leader; true if it is this host. A host elected
 * leader knows it before it may write (until the entries of earlier terms
 * are applied): only another host as leader ends the wait early. */
static bool pool_wait_leader(struct server *srv, int seconds)
{
	for (int i = 0; i < seconds * 20 && !stop_requested; i++) {
		if (pool_raft_is_leader(srv->raft))
			return true;
		uint64_t leader = pool_raft_leader(srv->raft, NULL);
		if (leader != 0 && leader != (uint64_t)srv->cfg.pool_id)
			return false;
		usleep(50000);
	}
	return false;
}

/* A member waits until the log has brought its own record (none named:
 * nothing to wait for). */
static bool pool_wait_own_host(struct server *srv, int seconds)
{
	char *path = xasprintf("%s/%s", srv->cfg.data_dir, POOL_HOST_FILE);
	bool named = access(path, F_OK) == 0;
	free(path);
	for (int i = 0; named && i < seconds * 20 && !stop_requested; i++) {
		db_rdlock(srv->db);
		bool there = pool_own_host(srv) != NULL;
		db_unlock(srv->db);
		if (there)
			return true;
		usleep(50000);
	}
	return !named;
}

static void print_banner(struct server *srv, const char *password)
{
	const char *l = srv->cfg.listen, *t = srv->cfg.tls_listen;
	const char *port = l[0] ? strrchr(l, ':') + 1 : strrchr(t, ':') + 1;
	char host[64];
	snprintf(host, sizeof host, "%.*s", (int)(strrchr(l[0] ? l : t, ':') - (l[0] ? l : t)),
		 l[0] ? l : t);
	if (!host[0] || !strcmp(host, "0.0.0.0"))
		snprintf(host, sizeof host, "127.0.0.1");
	fprintf(stderr,
		"\nxenond is serving the XenAPI\n"
		"  URL:      %s://%s:%s/\n"
		"  login:    root / %s   (kept in %s)\n"
		"  xe:       xe -s %s -p %s%s -u root -pwf %s vm-list\n\n",
		l[0] ? "http" : "https", host, port, password, srv->cfg.root_password_file, host, port,
		l[0] ? " --nossl" : "", srv->cfg.root_password_file);
}

int main(int argc, char **argv)
{
	struct server srv;
	memset(&srv, 0, sizeof srv);
	if (argc > 1 && strcmp(argv[1], "--ha-watchdog") == 0)
		return pool_ha_watchdog_main(argc, argv);
	private_umask();
	restart_save_argv(argc, argv);
	server_config_defaults(&srv.cfg);
	if (parse_args(argc, argv, &srv.cfg) < 0)
		return 2;
	/* fault points armed for a test: XENON_FAULT=qmp:3,qemu_img:1 */
	const char *faults = getenv("XENON_FAULT");
	if (faults && *faults) {
		if (fault_arm_spec(faults) < 0) {
			fprintf(stderr, "xenond: XENON_FAULT: cannot read %s\n", faults);
			return 2;
		}
		fault_enable();
		log_warn("fault points enabled: %s", faults);
	}
	fill_derived_paths(&srv.cfg);
	sm_set_run_dir(srv.cfg.run_dir); /* helper sockets of storage drivers */
	schema_init();
	/* every client parked in event.from holds a socket */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct xerr err = XERR_INIT;
	char *password = NULL, *cert = NULL, *key = NULL, *dbpath = NULL, *users_path = NULL;
	struct http_server *hs = NULL;
	int rc = 1, lock_fd = -1;
	bool restarting = false;
	char *failed = NULL;
	int made = dir_make_all(srv.cfg.data_dir, 0700, &failed);
	if (made == 0)
		made = dir_make_all(srv.cfg.run_dir, 0700, &failed);
	if (made < 0) {
		log_error("cannot create %s: %s", failed, strerror(-made));
		free(failed);
		goto out;
	}
	if ((lock_fd = lock_data_dir(srv.cfg.data_dir, &err)) < 0)
		goto fail;
	if (private_tighten(srv.cfg.data_dir, &err) < 0 || private_tighten(srv.cfg.run_dir, &err) < 0)
		goto fail;
	if (net_backend_init(srv.cfg.network_backend, srv.cfg.data_dir, &err) < 0)
		goto fail;
	srv.request_restart = restart_request;
	srv.open_foreign_session = session_open_db;
	srv.foreign_store_of = session_db;
	srv.backend = xenops_find(srv.cfg.backend);
	if (!srv.backend) {
		log_error("unknown backend '%s'", srv.cfg.backend);
		goto out;
	}
	users_path = xasprintf("%s/users", srv.cfg.data_dir);
	srv.users = users_open(users_path, srv.cfg.auth, &err);
	if (!srv.users || setup_root_password(&srv, &password, &err) < 0)
		goto fail;
	if (pool_join_reset(srv.cfg.data_dir) < 0) { /* a join or an eject: a new store */
		log_error("cannot reset the store for the pool: %s", strerror(errno));
		goto out;
	}
	dbpath = xasprintf("%s/db.sqlite", srv.cfg.data_dir);
	srv.db = db_open(dbpath, &err);
	if (!srv.db)
		goto fail;
	if (pool_config(&srv.cfg, &err) < 0 || (srv.cfg.pool_address[0] && pool_start(&srv, &err) < 0))
		goto fail;
	/* a pooled host writes its records only as master; a slave's come
	 * through the log */
	struct bootstrap_opts bo = {.data_dir = srv.cfg.data_dir, .pooled = srv.raft != NULL,
				    .memory_total = srv.backend->host_memory ? srv.backend->host_memory() : 0};
	if (!srv.raft || pool_wait_leader(&srv, 10)) {
		char own[REF_STRLEN + 1] = "";
		if (srv.raft) {
			db_rdlock(srv.db);
			struct db_obj *h = pool_own_host(&srv);
			if (h)
				snprintf(own, sizeof own, "%s", h->ref);
			db_unlock(srv.db);
			bo.host_ref = own[0] ? own : NULL;
		}
		if (bootstrap_host(srv.db, &bo, &err) < 0)
			goto fail;
	}
	if (srv.raft && !pool_raft_leader(srv.raft, NULL))
		pool_report_no_leader(&srv, 10);
	if (srv.raft && !pool_wait_own_host(&srv, 60)) {
		xerr_internal(&err, "pool: this host's record did not come from the pool");
		goto fail;
	}
	url_table_permissions(rbac_add_http_perm);
	if (audit_open(srv.cfg.data_dir, (size_t)srv.cfg.audit_log_max, srv.cfg.audit_log_keep, &err) < 0)
		goto fail;
	if ((!srv.raft || pool_raft_is_leader(srv.raft)) && rbac_install(srv.db, &err) < 0)
		goto fail;
	db_rdlock(srv.db);
	struct db_obj *host = pool_own_host(&srv);
	if (!host)
		host = bootstrap_this_host(srv.db);
	if (srv.raft && !pool_raft_is_leader(srv.raft) && !pool_own_host(&srv))
		host = NULL; /* a configured member without a record of its own */
	struct db_obj *pool = db_first(srv.db, SC_C_pool);
	snprintf(srv.host_ref, sizeof srv.host_ref, "%s", host ? host->ref : REF_NULL);
	snprintf(srv.pool_ref, sizeof srv.pool_ref, "%s", pool ? pool->ref : REF_NULL);
	char hostname[256];
	snprintf(hostname, sizeof hostname, "%s", host ? db_peek_str(host, SC_F_host__hostname) : "xenon");
	db_unlock(srv.db);
	if (srv.raft && !pool_raft_is_leader(srv.raft) && !ref_is_null(srv.host_ref))
		pool_member_refresh(&srv);
	vm_events_host_init(&srv);
	if (srv.backend->init(&srv.xh, &err) < 0)
		goto fail;
	if (srv.cfg.tls_listen[0] &&
	    tls_load_or_create(srv.cfg.cert_file, srv.cfg.key_file, hostname, &cert, &key, &err) < 0)
		goto fail;
	if (cert_startup(&srv, cert, &err) < 0)
		goto fail;
	rpc_init();
	if (fault_is_enabled())
		api_debug_fault_init(); /* debug.fault_*: test runs only */
	srv.wq = workq_new(srv.cfg.workers);
	vm_guest_start(&srv);
	storage_coalesce_start(&srv);
	vmss_start(&srv);
	dr_start(&srv);
	metrics_start(&srv);
	net_services_start(&srv);
	vif_policy_start(&srv);
	hs = http_start(&srv, cert, key, &err);
	if (!hs)
		goto fail;
	pool_heartbeat_start(&srv);
	pool_ha_start(&srv);
	print_banner(&srv, password);
	/* under systemd (Type=notify): serving now; the watchdog, when the
	 * unit sets WatchdogSec, is fed from this loop, so a daemon whose main
	 * loop hangs is restarted */
	sd_notify(0, "READY=1");
	uint64_t wd_usec = 0;
	bool watchdog = sd_watchdog_enabled(0, &wd_usec) > 0;
	int ticks = 0;
	while (!stop_requested && !(restarting = restart_due())) {
		sleep(1);
		if (watchdog)
			sd_notify(0, "WATCHDOG=1");
		session_gc(&srv); /* cheap: one pass over the session index */
		pool_master_tick(&srv);
		if (++ticks % 10 == 0) {
			task_gc(&srv);
			vdi_nbd_gc(&srv, false);
			net_backend_check();
		}
		if (ticks % 3600 == 0)
			cert_expiry_check(&srv);
	}
	log_info(restarting ? "restarting (host.restart_agent)" : "stopping");
	sd_notify(0, restarting ? "RELOADING=1" : "STOPPING=1");
	if (!restarting) {
		signal(SIGALRM, SIG_DFL);
		alarm(STOP_GRACE_S);
	}
	rc = 0;
	goto out;
fail:
	log_error("%s%s%s", err.code ? err.code : "failed", err.nparams ? ": " : "",
		  err.nparams ? err.params[0] : "");
out:;
	int plain_fd = -1, tls_fd = -1;
	if (restarting)
		http_stop_handover(hs, &plain_fd, &tls_fd);
	else
		http_stop(hs);
	pool_ha_stop();
	pool_heartbeat_stop();
	vmss_stop();
	dr_stop();
	storage_coalesce_stop();
	metrics_stop(&srv);
	net_services_stop();
	cert_pool_stop();
	vif_policy_stop();
	vm_guest_stop();
	if (srv.db)
		vdi_nbd_gc(&srv, true); /* the sessions they serve end with the daemon */
	workq_free(srv.wq);
	if (srv.db && srv.backend && srv.backend->fini)
		srv.backend->fini(&srv.xh); /* VMs run on; the next xenond adopts them */
	if (srv.raft) {
		pool_raft_stop(srv.raft);
		db_set_replicator(srv.db, NULL);
	}
	audit_close();
	db_close(srv.db);
	users_free(srv.users);
	xerr_clear(&err);
	free(password);
	free(cert);
	free(key);
	free(dbpath);
	free(users_path);
	server_config_free(&srv.cfg);
	if (lock_fd >= 0)
		close(lock_fd); /* the store is closed: the next daemon may have it */
	if (restarting) {
		restart_exec(plain_fd, tls_fd);
		rc = 1; /* the new image did not start: say so, like a crash */
	}
	return rc;
}
