/* host_diag: host calls for diagnostics and host settings.
 *
 * - dmesg: the kernel's ring buffer (xapi gives Xen's console ring; this
 *   host runs no Xen, its kernel's is the one there is).
 * - send_debug_keys: Xen debug keys; with no hypervisor nothing reads them,
 *   as xapi's simulated xenopsd answers (accepted, no effect).
 * - get_sched_gran / set_sched_gran: xapi reads Xen's command line (no
 *   entry: cpu) and refuses changes unless xapi.conf allows them
 *   (OPERATION_NOT_ALLOWED "Disabled by xapi.conf", its default).
 * - enable_display / disable_display: xapi's state machine of host.display
 *   (a change takes effect at the next boot), returning the new state.
 * - sync_data: a host of its own pool holds every blob already.
 * - set_hostname_live: xapi's name checks, the kernel's hostname, the
 *   record and the control domain's name.
 * - syslog_reconfigure: the daemon's log also goes to logging:
 *   syslog_destination (host[:port], UDP, RFC 3164), or stops going there.
 * - get_system_status_capabilities and bugreport_upload: what the status
 *   archive (GET /system-status) holds, and that archive sent by HTTP PUT
 *   to a URL. The archive is built from an allow-list: records without the
 *   classes and fields that hold secrets, the audit log (secrets already
 *   masked in it), the kernel log and the system's identity. */
#include "api.h"
#include "host_diag.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../formats/tar.h"
#include "../base/jsonv.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static struct db_obj *host_arg(struct rpc_ctx *ctx, xv *args, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	db_unlock(ctx->db);
	return h;
}

/* The kernel's log buffer, or NULL with err. */
static char *kernel_log(struct xerr *err)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	if (size <= 0)
		size = 1 << 20;
	char *buf = xmalloc((size_t)size + 1);
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (n < 0) {
		free(buf);
		xerr_set(err, ERR_INTERNAL_ERROR, "cannot read the kernel log", NULL);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static int host_dmesg(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	if (!host_arg(ctx, args, err))
		return -1;
	char *log = kernel_log(err);
	if (!log)
		return -1;
	*result = xv_str_own(log);
	return 0;
}

static int host_send_debug_keys(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return host_arg(ctx, args, err) ? 0 : -1;
}

static int host_get_sched_gran(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	if (!host_arg(ctx, args, err))
		return -1;
	*result = xv_str("cpu");
	return 0;
}

static int host_set_sched_gran(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (!host_arg(ctx, args, err))
		return -1;
	return xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "Disabled by xapi.conf", NULL);
}

/* xapi_host.ml update_display: (current, action) -> new state. */
static const char *display_next(const char *cur, bool enable)
{
	static const char *const t[][3] = {
		{"enabled", "enabled", "disable_on_reboot"},
		{"disable_on_reboot", "enabled", "disable_on_reboot"},
		{"disabled", "enable_on_reboot", "disabled"},
		{"enable_on_reboot", "enable_on_reboot", "disabled"},
	};
	for (size_t i = 0; i < 4; i++)
		if (!strcmp(cur, t[i][0]))
			return t[i][enable ? 1 : 2];
	return enable ? "enabled" : "disabled";
}

static int host_display(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	bool enable = !strcmp(ctx->msg->name, "enable_display");
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	if (!h) {
		db_abort(t);
		return -1;
	}
	const char *next = display_next(db_peek_str(h, SC_F_host__display), enable);
	*result = xv_str(next);
	db_set_str(t, h, SC_F_host__display, next);
	if (db_commit(t, err) < 0) {
		xv_free(result);
		return -1;
	}
	return 0;
}

static int host_sync_data(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return host_arg(ctx, args, err) ? 0 : -1;
}

static int host_set_hostname_live(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *name = arg_str(args, 1);
	size_t len = strlen(name);
	if (!host_arg(ctx, args, err))
		return -1;
	if (len == 0)
		return xerr_set(err, ERR_HOST_NAME_INVALID, "hostname empty", NULL);
	if (len > 255)
		return xerr_set(err, ERR_HOST_NAME_INVALID, "hostname is too long", NULL);
	bool ok = name[0] != '-' && name[len - 1] != '-';
	for (const char *p = name; *p && ok; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		     *p == '.';
	if (!ok)
		return xerr_set(err, ERR_HOST_NAME_INVALID, "hostname contains invalid characters", NULL);
	if (sethostname(name, len) < 0)
		return xerr_set(err, ERR_INTERNAL_ERROR, "cannot set the kernel's hostname", NULL);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	if (!h) {
		db_abort(t);
		return -1;
	}
	db_set_str(t, h, SC_F_host__hostname, name);
	struct db_obj *dom0 = db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(h, SC_F_host__control_domain));
	if (dom0) {
		char *label = xasprintf("Control domain on host: %s", name);
		db_set_str(t, dom0, SC_F_VM__name_label, label);
		free(label);
	}
	return db_commit(t, err);
}

static int host_syslog_reconfigure(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	char *dest = h ? xstrdup(xv_map_get_str(db_peek(h, SC_F_host__logging), "syslog_destination") ?: "") : NULL;
	db_unlock(ctx->db);
	if (!h)
		return -1;
	int rc = log_set_remote(dest);
	if (rc < 0)
		xerr_set(err, ERR_INVALID_VALUE, "syslog_destination", dest, NULL);
	else
		log_info("syslog: %s%s", *dest ? "forwarding to " : "not forwarding", dest);
	free(dest);
	return rc;
}

/* ---- the status archive ---- */

struct capability {
	const char *key, *ctype, *pii;
};

static const struct capability caps[] = {
	{"system-identity", "text/plain", "no"},
	{"kernel-log", "text/plain", "maybe"},
	{"xenon-records", "application/json", "maybe"},
	{"xenon-audit-log", "text/plain", "yes"},
};

static int host_get_system_status_capabilities(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	if (!host_arg(ctx, args, err))
		return -1;
	struct strbuf sb = STRBUF_INIT;
	sb_puts(&sb, "<?xml version=\"1.0\" ?>\n<system-status-capabilities>\n");
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
		sb_printf(&sb,
			  "  <capability content-type=\"%s\" default-checked=\"yes\" key=\"%s\" max-size=\"-1\" "
			  "max-time=\"-1\" min-size=\"-1\" min-time=\"-1\" pii=\"%s\" />\n",
			  caps[i].ctype, caps[i].key, caps[i].pii);
	sb_puts(&sb, "</system-status-capabilities>\n");
	*result = xv_str_own(sb_detach(&sb));
	return 0;
}

static void tar_add(struct strbuf *out, const char *name, const char *data, size_t len)
{
	unsigned char hdr[512];
	tar_header(hdr, name, len);
	sb_add(out, (const char *)hdr, 512);
	sb_add(out, data, len);
	static const char zero[512];
	if (len % 512)
		sb_add(out, zero, 512 - len % 512);
}

static void tar_add_file(struct strbuf *out, const char *name, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return;
	struct strbuf sb = STRBUF_INIT;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		sb_add(&sb, buf, n);
	fclose(f);
	tar_add(out, name, sb.buf ? sb.buf : "", sb.len);
	sb_free(&sb);
}

/* Classes whose records are secrets or credentials: left out whole. */
static bool secret_class(int cls)
{
	return cls == SC_C_secret || cls == SC_C_session || cls == SC_C_Certificate;
}

/* Fields left out of every record: anything named like a credential. */
static bool secret_field(const char *name)
{
	return strstr(name, "password") || strstr(name, "secret") || strstr(name, "private") ||
	       strstr(name, "token") || strstr(name, "key") != NULL;
}

/* Keys of maps (device_config, other_config, …) left out likewise. */
static bool secret_key(const char *k)
{
	return strcasestr(k, "password") || strcasestr(k, "passwd") || strcasestr(k, "secret") ||
	       strcasestr(k, "token") || strcasestr(k, "private") || strcasestr(k, "credential");
}

static void scrub_maps(xv *rec)
{
	for (size_t i = 0; rec->kind == XV_MAP && i < xv_len(rec); i++) {
		xv *v = &rec->u.m->vals[i];
		if (v->kind != XV_MAP)
			continue;
		for (size_t j = 0; j < xv_len(v);) {
			if (secret_key(v->u.m->keys[j])) {
				char *k = xstrdup(v->u.m->keys[j]);
				xv_map_del(v, k);
				free(k);
			} else {
				j++;
			}
		}
	}
}

static char *records_json(struct db *db)
{
	xv all = xv_map_new();
	db_rdlock(db);
	for (int c = 0; c < sc_nclasses; c++) {
		if (secret_class(c) || !sc_classes[c].nfields)
			continue;
		xv recs = xv_map_new();
		for (struct db_obj *o = db_first(db, c); o; o = db_next(o)) {
			xv rec = db_record(db, o);
			for (int f = 0; f < sc_classes[c].nfields; f++)
				if (secret_field(sc_classes[c].fields[f].name))
					xv_map_del(&rec, sc_classes[c].fields[f].name);
			scrub_maps(&rec);
			xv_map_set(&recs, o->ref, rec);
		}
		if (xv_len(&recs))
			xv_map_set(&all, sc_classes[c].name, recs);
		else
			xv_free(&recs);
	}
	db_unlock(db);
	struct strbuf sb = STRBUF_INIT;
	jsonv_write(&sb, &all);
	xv_free(&all);
	return sb_detach(&sb);
}

char *system_status_archive(struct server *srv, size_t *len)
{
	struct strbuf out = STRBUF_INIT;
	sb_puts(&out, "");
	struct strbuf id = STRBUF_INIT;
	struct utsname u;
	if (uname(&u) == 0)
		sb_printf(&id, "%s %s %s %s %s\n", u.sysname, u.nodename, u.release, u.version, u.machine);
	time_t now = time(NULL);
	char stamp[32];
	strftime(stamp, sizeof stamp, "%Y%m%dT%H:%M:%SZ", gmtime(&now));
	sb_printf(&id, "collected %s\n", stamp);
	tar_add(&out, "system-status/identity.txt", id.buf, id.len);
	sb_free(&id);
	tar_add_file(&out, "system-status/os-release", "/etc/os-release");
	tar_add_file(&out, "system-status/meminfo", "/proc/meminfo");
	tar_add_file(&out, "system-status/cpuinfo", "/proc/cpuinfo");
	struct xerr e = XERR_INIT;
	char *klog = kernel_log(&e);
	xerr_clear(&e);
	if (klog)
		tar_add(&out, "system-status/dmesg.txt", klog, strlen(klog));
	free(klog);
	char *json = records_json(srv->db);
	if (json)
		tar_add(&out, "system-status/xenon-records.json", json, strlen(json));
	free(json);
	char *audit = xasprintf("%s/audit.log", srv->cfg.data_dir);
	tar_add_file(&out, "system-status/audit.log", audit);
	free(audit);
	static const char end[1024];
	sb_add(&out, end, sizeof end);
	*len = out.len;
	return sb_detach(&out);
}

struct upload {
	const char *p;
	size_t left;
};

static size_t upload_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t k = size * n < u->left ? size * n : u->left;
	memcpy(buf, u->p, k);
	u->p += k, u->left -= k;
	return k;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p, (void)arg;
	return size * n;
}

/* The archive PUT to url (http only). */
static int host_bugreport_upload(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *url = arg_str(args, 1);
	if (!host_arg(ctx, args, err))
		return -1;
	if (!*url || strncmp(url, "http://", 7))
		return xerr_set(err, ERR_INVALID_VALUE, "url", url, NULL);
	size_t len = 0;
	char *tar = system_status_archive(ctx->srv, &len);
	struct upload u = {tar, len};
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &u);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	const xv *opts = xv_arr_get(args, 2);
	const char *proxy = xv_map_get_str(opts, "http_proxy");
	if (proxy)
		curl_easy_setopt(h, CURLOPT_PROXY, proxy);
	CURLcode cc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	free(tar);
	if (cc != CURLE_OK) {
		char *msg = xasprintf("bug report upload failed: %s", curl_easy_strerror(cc));
		xerr_set(err, ERR_INTERNAL_ERROR, msg, NULL);
		free(msg);
		return -1;
	}
	return 0;
}

RPC_IMPL(host, dmesg, host_dmesg, 0);
RPC_IMPL(host, send_debug_keys, host_send_debug_keys, 0);
RPC_IMPL(host, get_sched_gran, host_get_sched_gran, 0);
RPC_IMPL(host, set_sched_gran, host_set_sched_gran, 0);
RPC_IMPL(host, enable_display, host_display, 0);
RPC_IMPL(host, disable_display, host_display, 0);
RPC_IMPL(host, sync_data, host_sync_data, 0);
RPC_IMPL(host, set_hostname_live, host_set_hostname_live, 0);
RPC_IMPL(host, syslog_reconfigure, host_syslog_reconfigure, 0);
RPC_IMPL(host, get_system_status_capabilities, host_get_system_status_capabilities, 0);
RPC_IMPL(host, bugreport_upload, host_bugreport_upload, RPC_SLOW);
