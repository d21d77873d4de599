/* vdi_nbd: VDI.get_nbd_info and the network purposes it goes by. Each
 * call starts a read-only qemu-nbd export of the VDI on every address of
 * this host on a network with purpose nbd (TLS, with a certificate whose
 * CA the answer carries for the client to trust) or
 * insecure_nbd (plain); the export serves one client connection and exits,
 * and one never used ends with the session that asked for it. */
#include "api.h"
#include "storage.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "server.h"
#include "tls.h"


#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool has_purpose(struct db_obj *net, const char *p)
{
	xv s = xv_str(p);
	bool yes = xv_arr_contains(db_peek(net, SC_F_network__purpose), &s);
	xv_free(&s);
	return yes;
}

/* network.add_purpose: nbd and insecure_nbd exclude each other pool-wide. */
static int network_add_purpose(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *value = arg_str(args, 1);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *net = generic_lookup(ctx, SC_C_network, xv_arr_get(args, 0), err);
	if (net && strcmp(value, "nbd") != 0 && strcmp(value, "insecure_nbd") != 0) {
		xerr_set(err, ERR_INVALID_VALUE, "purpose", value, NULL);
		net = NULL;
	}
	const char *other = !strcmp(value, "nbd") ? "insecure_nbd" : "nbd";
	for (struct db_obj *n = db_first(ctx->db, SC_C_network); net && n; n = db_next(n))
		if (has_purpose(n, other)) {
			xerr_set(err, ERR_NETWORK_INCOMPATIBLE_PURPOSES, value, other, NULL);
			net = NULL;
		}
	if (!net) {
		db_abort(t);
		return -1;
	}
	if (!has_purpose(net, value))
		xv_arr_push_str(db_edit(t, net, SC_F_network__purpose), value);
	return db_commit(t, err);
}

static int network_remove_purpose(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *net = generic_lookup(ctx, SC_C_network, xv_arr_get(args, 0), err);
	if (!net) {
		db_abort(t);
		return -1;
	}
	xv s = xv_str(arg_str(args, 1));
	xv_arr_remove(db_edit(t, net, SC_F_network__purpose), &s);
	xv_free(&s);
	return db_commit(t, err);
}

/* A free TCP port on addr (the kernel's choice; qemu-nbd binds it next). */
static int free_port(const char *addr)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof sa;
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* qemu-nbd --fork returns once the export listens; init reaps it. */
/* <run-dir>/nbd: a pid file per export, named <session-uuid>.<port>.pid,
 * so exports end with the session that asked for them (vdi_nbd_gc). */
static char *pid_dir(struct server *srv)
{
	char *d = xasprintf("%s/nbd", srv->cfg.run_dir);
	mkdir(d, 0700);
	return d;
}

static int start_export(const struct sm_attach_info *a, const char *addr, int port,
			const char *name, const char *tls_dir, const char *pid_file, struct xerr *err)
{
	char p[16];
	snprintf(p, sizeof p, "%d", port);
	/* no image lock, as formats/img.c: a running VM's QEMU may hold it */
	struct strbuf opts = STRBUF_INIT;
	sb_printf(&opts, "driver=%s,file.driver=file,file.locking=off,file.filename=", a->format);
	for (const char *c = a->path; *c; c++) { /* commas are doubled in option values */
		if (*c == ',')
			sb_putc(&opts, ',');
		sb_putc(&opts, *c);
	}
	const char *argv[19] = {"qemu-nbd", "--fork", "-r", "-b", addr, "-p", p, "-x", name,
				"--image-opts", opts.buf, NULL};
	size_t n = 11;
	if (a->path[0] != '/') { /* a share's URL (nfs://…): no local file to unlock */
		argv[9] = "-f";
		argv[10] = a->format;
		argv[11] = a->path;
		n = 12;
	}
	char *obj = NULL;
	if (tls_dir) {
		/* clients are not asked for certificates, as with xapi's exports */
		obj = xasprintf("tls-creds-x509,id=tls0,endpoint=server,verify-peer=off,dir=%s", tls_dir);
		argv[n++] = "--object";
		argv[n++] = obj;
		argv[n++] = "--tls-creds";
		argv[n++] = "tls0";
	}
	argv[n++] = "--pid-file";
	argv[n++] = pid_file;
	argv[n] = NULL;
	struct sm_run r;
	int rc = sm_run(argv, &r);
	sb_free(&opts);
	free(obj);
	if (rc != 0)
		sm_fail(err, SM_E_VDI_UNAVAILABLE, "qemu-nbd failed", r.err);
	sm_run_free(&r);
	return rc ? -1 : 0;
}

/* qemu-nbd's x509 credentials for TLS exports, in the run directory;
 * *cert_pem gets the CA certificate a client verifies the export with. */
static char *tls_dir(struct server *srv, const char *hostname, char **cert_pem, struct xerr *err)
{
	char *dir = xasprintf("%s/nbd-tls", srv->cfg.run_dir);
	if (tls_make_ca_signed(dir, hostname, cert_pem, err) < 0) {
		free(dir);
		return NULL;
	}
	return dir;
}

struct target {
	char address[64], subject[256];
	bool tls;
};

static int vdi_get_nbd_info(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct sm_sr sr = {0};
	struct sm_vdi v;
	sm_vdi_init(&v);
	struct target *tg = NULL;
	size_t nt = 0;
	int rc = -1;
	db_rdlock(ctx->db);
	struct db_obj *vdi = generic_lookup(ctx, SC_C_VDI, xv_arr_get(args, 0), err);
	struct db_obj *sro = vdi ? db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
	struct db_obj *host = db_lookup_cls(ctx->db, SC_C_host, ctx->srv->host_ref);
	if (!vdi) {
	} else if (!strcmp(db_peek_str(vdi, SC_F_VDI__type), "cbt_metadata")) {
		xerr_set(err, ERR_VDI_INCOMPATIBLE_TYPE, vdi->ref, "cbt_metadata", NULL);
	} else if (!sro) {
		handle_invalid(err, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR));
	} else if (storage_sr_open(ctx, sro, false, &sr, err) == 0) {
		storage_vdi_view(vdi, &v);
		rc = 0;
		/* this host's PIFs with an address on nbd (TLS) or insecure_nbd
		 * networks */
		for (struct db_obj *p = db_first(ctx->db, SC_C_PIF); p; p = db_next(p)) {
			struct db_obj *net = db_lookup_cls(ctx->db, SC_C_network,
							   db_peek_str(p, SC_F_PIF__network));
			const char *ip = db_peek_str(p, SC_F_PIF__IP);
			bool tls = net && has_purpose(net, "nbd");
			if (!net || !ip[0] || strcmp(db_peek_str(p, SC_F_PIF__host), ctx->srv->host_ref) ||
			    !(tls || has_purpose(net, "insecure_nbd")))
				continue;
			tg = xrealloc(tg, (nt + 1) * sizeof *tg);
			snprintf(tg[nt].address, sizeof tg[nt].address, "%s", ip);
			snprintf(tg[nt].subject, sizeof tg[nt].subject, "%s",
				 host ? db_peek_str(host, SC_F_host__hostname) : "");
			tg[nt].tls = tls;
			nt++;
		}
	}
	db_unlock(ctx->db);
	xv out = xv_arr_new();
	struct sm_attach_info a = {0};
	if (rc == 0 && nt)
		rc = sr.drv->vdi_attach(&sr, &v, false, &a, err);
	char *name = xasprintf("/%s?session_id=%s", v.uuid, ctx->session);
	char *cert = NULL, *tdir = NULL;
	for (size_t i = 0; rc == 0 && i < nt; i++) {
		if (tg[i].tls && !tdir && !(tdir = tls_dir(ctx->srv, tg[i].subject, &cert, err))) {
			rc = -1;
			break;
		}
		int port = free_port(tg[i].address);
		if (port < 0)
			continue; /* not an IPv4 address of ours */
		char *pdir = pid_dir(ctx->srv);
		const char *sess = ctx->session + (strncmp(ctx->session, "OpaqueRef:", 10) ? 0 : 10);
		char *pid_file = xasprintf("%s/%s.%d.pid", pdir, sess, port);
		int src = start_export(&a, tg[i].address, port, name, tg[i].tls ? tdir : NULL, pid_file, err);
		free(pid_file);
		free(pdir);
		if (src < 0) {
			rc = -1;
			break;
		}
		xv rec = xv_map_new();
		xv_map_set_str(&rec, "exportname", name);
		xv_map_set_str(&rec, "address", tg[i].address);
		xv_map_set(&rec, "port", xv_int(port));
		xv_map_set_str(&rec, "cert", tg[i].tls ? cert : "");
		xv_map_set_str(&rec, "subject", tg[i].subject);
		xv_arr_push(&out, rec);
	}
	free(name);
	free(cert);
	free(tdir);
	if (rc == 0)
		*result = out;
	else
		xv_free(&out);
	sm_attach_info_free(&a);
	free(tg);
	sm_vdi_free(&v);
	sm_sr_close(&sr);
	return rc;
}

/* Whether pid is a qemu-nbd (not a recycled pid). */
static bool is_qemu_nbd(pid_t pid)
{
	char path[64], comm[64] = "";
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool yes = fgets(comm, sizeof comm, f) && !strncmp(comm, "qemu-nbd", 8);
	fclose(f);
	return yes;
}

void vdi_nbd_gc(struct server *srv, bool all)
{
	char *dir = pid_dir(srv);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char sess[64];
		int port;
		if (sscanf(e->d_name, "%63[^.].%d.pid", sess, &port) != 2)
			continue;
		char *ref = xasprintf("OpaqueRef:%s", sess);
		bool live = false;
		if (!all) {
			db_rdlock(srv->db);
			live = db_lookup_cls(srv->db, SC_C_session, ref) != NULL;
			db_unlock(srv->db);
		}
		free(ref);
		char *path = xasprintf("%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "r");
		int pid = 0;
		if (f) {
			if (fscanf(f, "%d", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		bool running = pid > 0 && is_qemu_nbd((pid_t)pid);
		if (!running || !live || all) {
			if (running) {
				kill((pid_t)pid, SIGTERM);
				log_info("nbd: export on port %d ended with its session", port);
			}
			unlink(path);
		}
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
}

RPC_IMPL(VDI, get_nbd_info, vdi_get_nbd_info, RPC_SLOW);
RPC_IMPL(network, add_purpose, network_add_purpose, 0);
RPC_IMPL(network, remove_purpose, network_remove_purpose, 0);
