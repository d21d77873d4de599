/* vm_guest: what Xenon learns from and does through a VM's guest agent —
 * a poller thread that keeps VM_guest_metrics live, and the extension calls
 * VM.guest_exec, VM.guest_file_read and VM.guest_file_write. */
#include "api.h"
#include "../base/b64.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../xenops/xenops.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_TIMEOUT_MS 2000
#define POLL_EVERY_S 5
#define FILE_MAX (64u << 20)
#define CHUNK (768u << 10) /* raw bytes per guest-file-read/write */

/* ---- one agent command ---- */

/* Runs execute(args) (args stolen, may be NULL) in the VM's agent. A VM
 * without an agent (or a backend without any) gets VM_MISSING_PV_DRIVERS,
 * xapi's error for "the guest's tools are not there". */
static int agent(struct server *srv, const char *uuid, const char *ref, const char *execute,
		 json_t *args, xv *ret, int timeout_ms, struct xerr *err)
{
	*ret = XV_NIL_INIT;
	if (!srv->backend->agent_call) {
		json_decref(args);
		return xerr_set(err, ERR_VM_MISSING_PV_DRIVERS, ref, NULL);
	}
	json_t *cmd = json_pack("{ss}", "execute", execute);
	if (args)
		json_object_set_new(cmd, "arguments", args);
	char *text = json_dumps(cmd, JSON_COMPACT);
	json_decref(cmd);
	struct xerr e = XERR_INIT;
	int r = srv->backend->agent_call(&srv->xh, uuid, text, ret, timeout_ms, &e);
	free(text);
	if (r == -2) {
		xerr_clear(&e);
		return xerr_set(err, ERR_VM_MISSING_PV_DRIVERS, ref, NULL);
	}
	if (r < 0)
		xerr_move(err, &e);
	return r < 0 ? -1 : 0;
}

static int64_t get_int(const xv *m, const char *k, int64_t dflt)
{
	const xv *v = xv_map_get(m, k);
	return v && v->kind == XV_INT ? v->u.i : dflt;
}

static bool get_bool(const xv *m, const char *k)
{
	const xv *v = xv_map_get(m, k);
	return v && v->kind == XV_BOOL && v->u.b;
}

/* ---- the calls ---- */

/* The running VM the call names: its uuid and ref. */
static int running_vm(struct rpc_ctx *ctx, xv *args, char *uuid, char *ref, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!vm) {
		db_unlock(ctx->db);
		return -1;
	}
	snprintf(ref, REF_STRLEN + 1, "%s", vm->ref);
	snprintf(uuid, 40, "%s", db_peek_str(vm, SC_F_VM__uuid));
	const char *ps = db_peek_str(vm, SC_F_VM__power_state);
	int r = 0;
	if (strcmp(ps, "Running") != 0)
		r = xerr_set(err, ERR_VM_BAD_POWER_STATE, ref, "running", ps, NULL);
	db_unlock(ctx->db);
	return r;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static xv decoded_str(const xv *status, const char *key)
{
	const char *s = xv_map_get_str(status, key);
	size_t n = 0;
	unsigned char *d = s ? b64_decode(s, &n) : NULL;
	xv v = d ? xv_strn((const char *)d, n) : xv_str("");
	free(d);
	return v;
}

/* VM.guest_exec(vm, argv, stdin, timeout) -> {exitcode, stdout, stderr} */
static int vm_guest_exec(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	char uuid[40], ref[REF_STRLEN + 1];
	if (running_vm(ctx, args, uuid, ref, err) < 0)
		return -1;
	const xv *argv = xv_arr_get(args, 1);
	if (!argv || xv_len(argv) == 0)
		return xerr_set(err, ERR_INVALID_VALUE, "argv", "[]", NULL);
	const char *in = arg_str(args, 2);
	int64_t timeout = arg_int(args, 3);
	if (timeout <= 0 || timeout > 3600)
		timeout = 60;
	json_t *a = json_array();
	for (size_t i = 1; i < xv_len(argv); i++)
		json_array_append_new(a, json_string(xv_as_str(xv_arr_get(argv, i))));
	json_t *ja = json_pack("{sssosb}", "path", xv_as_str(xv_arr_get(argv, 0)), "arg", a,
			       "capture-output", 1);
	if (*in) {
		char *e = b64_encode((const unsigned char *)in, strlen(in));
		json_object_set_new(ja, "input-data", json_string(e));
		free(e);
	}
	xv ret;
	if (agent(ctx->srv, uuid, ref, "guest-exec", ja, &ret, 10000, err) < 0)
		return -1;
	int64_t pid = get_int(&ret, "pid", -1);
	xv_free(&ret);
	if (pid < 0)
		return xerr_internal(err, "guest-exec returned no pid");
	int64_t deadline = clock_now_ms() + timeout * 1000;
	for (int wait = 20;; wait = wait < 500 ? wait * 2 : 500) {
		if (agent(ctx->srv, uuid, ref, "guest-exec-status", json_pack("{sI}", "pid", (json_int_t)pid),
			  &ret, 10000, err) < 0)
			return -1;
		if (get_bool(&ret, "exited"))
			break;
		xv_free(&ret);
		if (clock_now_ms() > deadline)
			return xerr_internal(err, "guest command timed out after %lld s", (long long)timeout);
		sleep_ms(wait);
	}
	char code[24];
	snprintf(code, sizeof code, "%lld", (long long)get_int(&ret, "exitcode", -1));
	*result = xv_map_new();
	xv_map_set_str(result, "exitcode", code);
	xv_map_set(result, "stdout", decoded_str(&ret, "out-data"));
	xv_map_set(result, "stderr", decoded_str(&ret, "err-data"));
	xv_free(&ret);
	return 0;
}

static int file_open(struct rpc_ctx *ctx, const char *uuid, const char *ref, const char *path,
		     const char *mode, int64_t *handle, struct xerr *err)
{
	xv ret;
	if (agent(ctx->srv, uuid, ref, "guest-file-open", json_pack("{ssss}", "path", path, "mode", mode),
		  &ret, 10000, err) < 0)
		return -1;
	*handle = ret.kind == XV_INT ? ret.u.i : -1;
	xv_free(&ret);
	return *handle < 0 ? xerr_internal(err, "guest-file-open returned no handle") : 0;
}

static void file_close(struct rpc_ctx *ctx, const char *uuid, const char *ref, int64_t handle)
{
	xv ret;
	struct xerr e = XERR_INIT;
	if (agent(ctx->srv, uuid, ref, "guest-file-close", json_pack("{sI}", "handle", (json_int_t)handle),
		  &ret, 10000, &e) < 0)
		xerr_clear(&e);
	xv_free(&ret);
}

/* VM.guest_file_write(vm, path, data_base64) */
static int vm_guest_file_write(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	char uuid[40], ref[REF_STRLEN + 1];
	if (running_vm(ctx, args, uuid, ref, err) < 0)
		return -1;
	size_t n;
	unsigned char *data = b64_decode(arg_str(args, 2), &n);
	if (!data)
		return xerr_set(err, ERR_INVALID_VALUE, "data", "not base64", NULL);
	if (n > FILE_MAX) {
		free(data);
		return xerr_set(err, ERR_INVALID_VALUE, "data", "larger than 64 MiB", NULL);
	}
	int64_t h;
	if (file_open(ctx, uuid, ref, arg_str(args, 1), "wb", &h, err) < 0) {
		free(data);
		return -1;
	}
	int r = 0;
	for (size_t off = 0; off < n && r == 0; off += CHUNK) {
		size_t len = n - off < CHUNK ? n - off : CHUNK;
		char *e = b64_encode(data + off, len);
		xv ret;
		r = agent(ctx->srv, uuid, ref, "guest-file-write",
			  json_pack("{sIss}", "handle", (json_int_t)h, "buf-b64", e), &ret, 30000, err);
		free(e);
		xv_free(&ret);
	}
	free(data);
	file_close(ctx, uuid, ref, h);
	return r;
}

/* VM.guest_file_read(vm, path) -> base64 */
static int vm_guest_file_read(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	char uuid[40], ref[REF_STRLEN + 1];
	if (running_vm(ctx, args, uuid, ref, err) < 0)
		return -1;
	int64_t h;
	if (file_open(ctx, uuid, ref, arg_str(args, 1), "rb", &h, err) < 0)
		return -1;
	struct strbuf sb;
	sb_init(&sb);
	int r = 0;
	for (;;) {
		xv ret;
		r = agent(ctx->srv, uuid, ref, "guest-file-read",
			  json_pack("{sIsI}", "handle", (json_int_t)h, "count", (json_int_t)CHUNK), &ret,
			  30000, err);
		if (r < 0)
			break;
		size_t n = 0;
		const char *s = xv_map_get_str(&ret, "buf-b64");
		unsigned char *d = s ? b64_decode(s, &n) : NULL;
		if (d)
			sb_add(&sb, (const char *)d, n);
		free(d);
		bool eof = get_bool(&ret, "eof") || n == 0;
		xv_free(&ret);
		if (sb.len > FILE_MAX) {
			r = xerr_set(err, ERR_INVALID_VALUE, "path", "file larger than 64 MiB", NULL);
			break;
		}
		if (eof)
			break;
	}
	file_close(ctx, uuid, ref, h);
	if (r == 0)
		*result = xv_str_own(b64_encode((const unsigned char *)sb.buf, sb.len));
	sb_free(&sb);
	return r;
}

/* ---- the extension messages ---- */

static const struct sc_type t_string = {.kind = SC_STRING, .text = "string"};
static const struct sc_type t_int = {.kind = SC_INT, .text = "int"};
static const struct sc_type t_void = {.kind = SC_VOID, .text = "void"};
static const struct sc_type t_vm = {.kind = SC_REF, .cls = SC_C_VM, .text = "VM ref"};
static const struct sc_type t_strings = {.kind = SC_SET, .elem = &t_string, .text = "string set"};
static const struct sc_type t_map = {
	.kind = SC_MAP, .key = &t_string, .val = &t_string, .text = "(string -> string) map"};

static const struct sc_param exec_params[] = {
	{"vm", &t_vm}, {"argv", &t_strings}, {"stdin", &t_string}, {"timeout", &t_int}};
static const struct sc_param write_params[] = {{"vm", &t_vm}, {"path", &t_string}, {"data", &t_string}};
static const struct sc_param read_params[] = {{"vm", &t_vm}, {"path", &t_string}};

#define ADMIN (SC_ROLE_POOL_ADMIN | SC_ROLE_POOL_OPERATOR | SC_ROLE_VM_POWER_ADMIN | SC_ROLE_VM_ADMIN)

static const struct sc_message msg_exec = {
	.name = "guest_exec", .session = true, .async = true, .roles = ADMIN,
	.nparams = 4, .params = exec_params, .result = &t_map};
static const struct sc_message msg_write = {
	.name = "guest_file_write", .session = true, .async = true, .roles = ADMIN,
	.nparams = 3, .params = write_params, .result = &t_void};
static const struct sc_message msg_read = {
	.name = "guest_file_read", .session = true, .async = true, .roles = ADMIN,
	.nparams = 2, .params = read_params, .result = &t_string};

RPC_EXTRA(VM, guest_exec, &msg_exec, vm_guest_exec, RPC_SLOW);
RPC_EXTRA(VM, guest_file_write, &msg_write, vm_guest_file_write, RPC_SLOW);
RPC_EXTRA(VM, guest_file_read, &msg_read, vm_guest_file_read, RPC_SLOW);

/* ---- VM_guest_metrics: the poller ---- */

/* What the agent says about the guest, as VM_guest_metrics fields. */
struct guest_view {
	xv os, nets, pv, other;
};

static void view_free(struct guest_view *g)
{
	xv_free(&g->os);
	xv_free(&g->nets);
	xv_free(&g->pv);
	xv_free(&g->other);
}

static void put_version(xv *m, const char *version, const char *const *keys, int nkeys)
{
	const char *p = version ? version : "";
	for (int i = 0; i < nkeys; i++) {
		char num[24];
		snprintf(num, sizeof num, "%ld", strtol(p, NULL, 10));
		xv_map_set_str(m, keys[i], num);
		p = strchr(p, '.');
		p = p ? p + 1 : "";
	}
}

static void fill_os(struct guest_view *g, const xv *info)
{
	const char *name = xv_map_get_str(info, "pretty-name");
	if (!name)
		name = xv_map_get_str(info, "name");
	xv_map_set_str(&g->os, "name", name ? name : "");
	const char *id = xv_map_get_str(info, "id");
	if (id)
		xv_map_set_str(&g->os, "distro", id);
	static const char *const mm[] = {"major", "minor"};
	if (xv_map_get_str(info, "version-id"))
		put_version(&g->os, xv_map_get_str(info, "version-id"), mm, 2);
	const char *uname = xv_map_get_str(info, "kernel-release");
	if (uname)
		xv_map_set_str(&g->os, "uname", uname);
}

/* xapi's keys: "<i>/ip" (the first IPv4), "<i>/ipv4/<n>", "<i>/ipv6/<n>",
 * i counting the guest's interfaces other than lo. */
static void fill_nets(struct guest_view *g, const xv *ifs)
{
	int idx = 0;
	for (size_t i = 0; i < xv_len(ifs); i++) {
		const xv *ifc = xv_arr_get(ifs, i);
		const char *name = xv_map_get_str(ifc, "name");
		if (!name || !strcmp(name, "lo"))
			continue;
		/* qemu-ga leaves the key out for an interface without addresses
		 * (a NIC just hot-plugged) */
		const xv *addrs = xv_map_get(ifc, "ip-addresses");
		int n4 = 0, n6 = 0;
		for (size_t j = 0; addrs && j < xv_len(addrs); j++) {
			const xv *a = xv_arr_get(addrs, j);
			const char *type = xv_map_get_str(a, "ip-address-type");
			const char *ip = xv_map_get_str(a, "ip-address");
			if (!type || !ip)
				continue;
			char key[48];
			bool v4 = !strcmp(type, "ipv4");
			if (v4 && n4 == 0) {
				snprintf(key, sizeof key, "%d/ip", idx);
				xv_map_set_str(&g->nets, key, ip);
			}
			snprintf(key, sizeof key, "%d/%s/%d", idx, v4 ? "ipv4" : "ipv6", v4 ? n4++ : n6++);
			xv_map_set_str(&g->nets, key, ip);
		}
		idx++;
	}
}

static void fill_info(struct guest_view *g, const xv *info)
{
	static const char *const ver[] = {"major", "minor", "micro", "build"};
	put_version(&g->pv, xv_map_get_str(info, "version"), ver, 4);
	const xv *cmds = xv_map_get(info, "supported_commands");
	for (size_t i = 0; cmds && i < xv_len(cmds); i++) {
		const xv *c = xv_arr_get(cmds, i);
		const char *name = xv_map_get_str(c, "name");
		if (!name || !get_bool(c, "enabled"))
			continue;
		if (!strcmp(name, "guest-shutdown")) {
			xv_map_set_str(&g->other, "feature-shutdown", "1");
			xv_map_set_str(&g->other, "feature-poweroff", "1");
			xv_map_set_str(&g->other, "feature-reboot", "1");
		} else if (!strcmp(name, "guest-exec")) {
			xv_map_set_str(&g->other, "feature-exec", "1");
		} else if (!strcmp(name, "guest-file-open")) {
			xv_map_set_str(&g->other, "feature-file", "1");
		}
	}
}

/* Asks the agent; -1 when it does not answer. */
static int query_guest(struct server *srv, const char *uuid, const char *ref, struct guest_view *g)
{
	struct xerr e = XERR_INIT;
	xv info;
	g->os = xv_map_new();
	g->nets = xv_map_new();
	g->pv = xv_map_new();
	g->other = xv_map_new();
	if (agent(srv, uuid, ref, "guest-info", NULL, &info, POLL_TIMEOUT_MS, &e) < 0) {
		xerr_clear(&e);
		return -1;
	}
	fill_info(g, &info);
	xv_free(&info);
	if (agent(srv, uuid, ref, "guest-get-osinfo", NULL, &info, POLL_TIMEOUT_MS, &e) == 0)
		fill_os(g, &info);
	xerr_clear(&e);
	xv_free(&info);
	if (agent(srv, uuid, ref, "guest-network-get-interfaces", NULL, &info, POLL_TIMEOUT_MS, &e) == 0)
		fill_nets(g, &info);
	xerr_clear(&e);
	xv_free(&info);
	return 0;
}

static void set_if_changed(struct db_txn *t, struct db_obj *o, int f, xv v, bool *changed)
{
	if (xv_equal(db_peek(o, f), &v)) {
		xv_free(&v);
		return;
	}
	db_set(t, o, f, v);
	*changed = true;
}

/* Records g (NULL: the agent did not answer) for the VM ref. */
static void record(struct server *srv, const char *ref, struct guest_view *g)
{
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *vm = db_lookup_cls(srv->db, SC_C_VM, ref);
	struct db_obj *m = vm ? db_lookup_cls(srv->db, SC_C_VM_guest_metrics,
					       db_peek_str(vm, SC_F_VM__guest_metrics))
			      : NULL;
	if (!vm || (!m && !g)) {
		db_abort(t);
		return;
	}
	bool changed = false;
	if (!m) {
		m = db_create(t, SC_C_VM_guest_metrics, NULL);
		db_set_str(t, vm, SC_F_VM__guest_metrics, m->ref);
		changed = true;
	}
	set_if_changed(t, m, SC_F_VM_guest_metrics__live, xv_bool(g != NULL), &changed);
	if (g) {
		set_if_changed(t, m, SC_F_VM_guest_metrics__os_version, xv_copy(&g->os), &changed);
		set_if_changed(t, m, SC_F_VM_guest_metrics__networks, xv_copy(&g->nets), &changed);
		set_if_changed(t, m, SC_F_VM_guest_metrics__PV_drivers_version, xv_copy(&g->pv), &changed);
		set_if_changed(t, m, SC_F_VM_guest_metrics__other, xv_copy(&g->other), &changed);
		set_if_changed(t, m, SC_F_VM_guest_metrics__PV_drivers_detected, xv_bool(true), &changed);
		set_if_changed(t, m, SC_F_VM_guest_metrics__PV_drivers_up_to_date, xv_bool(true), &changed);
	}
	if (!changed) {
		db_abort(t);
		return;
	}
	db_set(t, m, SC_F_VM_guest_metrics__last_updated, xv_time(time(NULL)));
	struct xerr e = XERR_INIT;
	if (db_commit(t, &e) < 0) {
		log_warn("vm %s: guest metrics: %s", ref, e.code ? e.code : "commit failed");
		xerr_clear(&e);
	}
}

struct target {
	char uuid[40], ref[REF_STRLEN + 1];
	bool running;
};

static struct {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started, stop;
	struct server *srv;
} P = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* When the poller last asked each running VM (in memory: an answer that
 * changes nothing is not written to the store). */
struct polled {
	char uuid[40];
	time_t at;
	bool seen;
};

static struct polled *polled;
static size_t npolled;

static struct polled *polled_of(const char *uuid)
{
	for (size_t i = 0; i < npolled; i++)
		if (!strcmp(polled[i].uuid, uuid))
			return &polled[i];
	polled = xrealloc(polled, (npolled + 1) * sizeof *polled);
	struct polled *p = &polled[npolled++];
	snprintf(p->uuid, sizeof p->uuid, "%s", uuid);
	p->at = 0;
	return p;
}

/* Forgets the VMs that are no longer running. */
static void polled_prune(void)
{
	size_t k = 0;
	for (size_t i = 0; i < npolled; i++)
		if (polled[i].seen) {
			polled[i].seen = false;
			polled[k++] = polled[i];
		}
	npolled = k;
}

/* The VMs to look at this round: running ones not asked for POLL_EVERY_S
 * (or not yet answering: a new VM is asked every round until its agent is
 * up), and stopped ones whose metrics still say live. */
static size_t targets(struct server *srv, struct target **out)
{
	size_t n = 0, cap = 0;
	struct target *v = NULL;
	time_t now = time(NULL);
	db_rdlock(srv->db);
	for (struct db_obj *vm = db_first(srv->db, SC_C_VM); vm; vm = db_next(vm)) {
		if (db_peek_bool(vm, SC_F_VM__is_a_template) || db_peek_bool(vm, SC_F_VM__is_control_domain))
			continue;
		bool running = !strcmp(db_peek_str(vm, SC_F_VM__power_state), "Running");
		struct db_obj *m = db_lookup_cls(srv->db, SC_C_VM_guest_metrics,
						 db_peek_str(vm, SC_F_VM__guest_metrics));
		bool live = m && db_peek_bool(m, SC_F_VM_guest_metrics__live);
		struct polled *p = running ? polled_of(db_peek_str(vm, SC_F_VM__uuid)) : NULL;
		if (p)
			p->seen = true;
		if (running ? live && now - p->at < POLL_EVERY_S : !live)
			continue;
		if (p)
			p->at = now;
		if (n == cap)
			v = xrealloc(v, (cap = cap ? cap * 2 : 8) * sizeof *v);
		snprintf(v[n].uuid, sizeof v[n].uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
		snprintf(v[n].ref, sizeof v[n].ref, "%s", vm->ref);
		v[n++].running = running;
	}
	db_unlock(srv->db);
	polled_prune();
	*out = v;
	return n;
}

static void *poller(void *arg)
{
	struct server *srv = arg;
	pthread_mutex_lock(&P.lock);
	while (!P.stop) {
		pthread_mutex_unlock(&P.lock);
		struct target *v;
		size_t n = targets(srv, &v);
		for (size_t i = 0; i < n; i++) {
			struct guest_view g;
			bool ok = v[i].running && query_guest(srv, v[i].uuid, v[i].ref, &g) == 0;
			record(srv, v[i].ref, ok ? &g : NULL);
			if (v[i].running)
				view_free(&g);
		}
		free(v);
		pthread_mutex_lock(&P.lock);
		if (P.stop)
			break;
		struct timespec ts;
		clock_realtime_after(&ts, 1000);
		pthread_cond_timedwait(&P.cond, &P.lock, &ts);
	}
	pthread_mutex_unlock(&P.lock);
	free(polled);
	polled = NULL;
	npolled = 0;
	return NULL;
}

void vm_guest_start(struct server *srv)
{
	if (!srv->backend->agent_call || P.started)
		return;
	P.srv = srv;
	P.stop = false;
	if (pthread_create(&P.thread, NULL, poller, srv) == 0)
		P.started = true;
}

void vm_guest_stop(void)
{
	if (!P.started)
		return;
	pthread_mutex_lock(&P.lock);
	P.stop = true;
	pthread_cond_signal(&P.cond);
	pthread_mutex_unlock(&P.lock);
	pthread_join(P.thread, NULL);
	P.started = false;
}
