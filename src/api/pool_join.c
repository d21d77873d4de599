/* pool_join: pool.join, pool.join_force, pool.eject, pool.initial_auth,
 * and the master's side of a join (see pool_join.h).
 *
 * The join runs on the joining host, as in xapi: it logs in to the master
 * (JOINING_HOST_CONNECTION_FAILED / _SERVICE_FAILED / the master's own
 * error), runs the pre-join checks, fetches the pool secret, and hands its
 * own records (host, host_metrics, CPUs, PIFs, networks, SRs, PBDs, VDIs,
 * VMs and their devices: one store entry, as the replicated log carries
 * them) to the master's internal pool.join_merge. The master merges them
 * in one replicated transaction (a network with the bridge of one of the
 * pool's is replaced by it), gives the host PBDs for the pool's shared SRs,
 * and adds the host to Raft as a standby (the Raft node makes standbys
 * voters while the pool has fewer than 3, or 5 from 5 hosts). A master that was a pool of one first
 * becomes a Raft node alone and puts its whole store in the log, so a
 * member that starts with an empty log (or gets a snapshot) has the pool.
 * Then the hosts' certificates are exchanged (the internal
 * pool.exchange_certificates_on_join; <data-dir>/pool-certs), and the
 * joiner writes its pool.conf and restarts: its store and Raft log start
 * empty and fill from the pool; its host record is the one it sent
 * (<data-dir>/pool-host names it).
 *
 * Nothing half-made: every refusal comes before the master writes; the
 * master's merge is one transaction, undone if Raft cannot take the host;
 * the joiner changes nothing of its own until the master has accepted. Not
 * undone: a pool of one that became a Raft node for a join that then
 * failed stays one (its store is as it was).
 *
 * Eject (on the master): refused for the master and while a VM runs on the
 * host; the host leaves Raft, is told (pool.eject_self, authenticated by
 * the pool secret) to drop its pool.conf, store, log and certificates and
 * restart as a fresh pool of one (unreachable: HOST_OFFLINE, and it is a
 * member again), and the master deletes its records.
 *
 * host.destroy forgets a host that is gone (the same records, and out of
 * Raft); pool.rotate_secret gives every host a new pool secret, staged
 * beside the old one first so that no host refuses another meanwhile. */
#include "pool_ha.h"
#include "pool_join.h"
#include "pool_forward.h"
#include "api.h"
#include "pool_peer.h"
#include "pool_trust.h"
#include "hostinfo.h"
#include "tls.h"
#include "../base/file.h"
#include "../base/jsonv.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../base/uuid.h"
#include "../db/durable.h"
#include "../pool/raft.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t join_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- files of the data directory ---- */

static char *data_path(struct server *srv, const char *name)
{
	return xasprintf("%s/%s", srv->cfg.data_dir, name);
}

static int write_file(const char *path, const char *text, struct xerr *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t n = strlen(text);
	bool ok = fd >= 0 && write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	if (ok && rename(tmp, path) == 0) {
		free(tmp);
		return 0;
	}
	int e = errno;
	unlink(tmp);
	free(tmp);
	return xerr_internal(err, "cannot write %s: %s", path, strerror(e));
}

static char *read_line(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char buf[256];
	char *r = fgets(buf, sizeof buf, f) ? (buf[strcspn(buf, "\r\n")] = 0, xstrdup(buf)) : NULL;
	fclose(f);
	if (r && !r[0]) {
		free(r);
		r = NULL;
	}
	return r;
}

/* The pool secret (made when first asked for on a pool of one). */
static char *pool_secret(struct server *srv, bool make, struct xerr *err)
{
	char *path = data_path(srv, POOL_SECRET_FILE);
	char *s = read_line(path);
	if (!s && make) {
		char u[UUID_STRLEN + 1];
		uuid_generate_str(u);
		char *text = xasprintf("%s\n", u);
		if (write_file(path, text, err) == 0)
			s = read_line(path);
		free(text);
	}
	free(path);
	return s;
}

int pool_api_port(struct server *srv)
{
	const char *l = srv->cfg.listen[0] ? srv->cfg.listen : srv->cfg.tls_listen;
	const char *colon = strrchr(l, ':');
	return colon ? atoi(colon + 1) : 80;
}

/* Removes the files of a directory (a Raft log: no subdirectories) and
 * the directory. */
static void remove_dir_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

int pool_join_reset(const char *data_dir)
{
	char *marker = xasprintf("%s/%s", data_dir, POOL_RESET_FILE);
	if (access(marker, F_OK) != 0) {
		free(marker);
		return 0;
	}
	static const char *const names[] = {"db.sqlite", "db.sqlite-wal", "db.sqlite-shm"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char *p = xasprintf("%s/%s", data_dir, names[i]);
		unlink(p);
		free(p);
	}
	char *raft = xasprintf("%s/raft", data_dir), *certs = xasprintf("%s/%s", data_dir, POOL_CERTS_DIR);
	remove_dir_files(raft);
	char *why = read_line(marker);
	if (why && !strcmp(why, "eject")) /* a join keeps the certificates it was given */
		remove_dir_files(certs);
	free(why);
	free(raft);
	free(certs);
	log_info("pool: the store and Raft log start empty (a join or an eject)");
	int rc = unlink(marker);
	free(marker);
	return rc;
}

/* ---- records ---- */

static struct db_obj *this_host(struct server *srv)
{
	return db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
}

static const char *other_config_get(const struct db_obj *o, int field, const char *key)
{
	return xv_map_get_str(db_peek(o, field), key);
}

/* The classes whose rows a joining host brings (its pool, SM plugins,
 * default templates, users and messages stay behind). */
static bool joins_pool(const struct db_obj *o)
{
	switch (o->cls) {
	case SC_C_VM:
		return !db_peek_bool(o, SC_F_VM__is_default_template);
	case SC_C_host: case SC_C_host_metrics: case SC_C_host_cpu: case SC_C_PIF: case SC_C_PIF_metrics:
	case SC_C_network: case SC_C_SR: case SC_C_PBD: case SC_C_VDI: case SC_C_VM_metrics:
	case SC_C_VM_guest_metrics: case SC_C_VBD: case SC_C_VIF:
	case SC_C_console:
		return true;
	default:
		return false;
	}
}

/* Every row of the store (all: true) or those a joining host brings, as
 * one entry of the replicated log. Under the caller's read lock. */
static char *store_entry(struct db *db, bool all)
{
	size_t n = 0, cap = 256;
	struct db_obj **objs = xmalloc(cap * sizeof *objs);
	for (int c = 0; c < sc_nclasses; c++)
		for (struct db_obj *o = db_first(db, c); o; o = db_next(o)) {
			if (!all && !joins_pool(o))
				continue;
			if (n == cap)
				objs = xrealloc(objs, (cap *= 2) * sizeof *objs);
			objs[n++] = o;
		}
	struct strbuf sb = STRBUF_INIT;
	durable_entry_encode(objs, n, &sb);
	free(objs);
	if (!sb.buf)
		sb_puts(&sb, "");
	return sb_detach(&sb);
}

/* ---- the master's side ---- */

static void remove_pool_files(struct server *srv)
{
	static const char *const names[] = {POOL_CONF_FILE, POOL_HOST_FILE};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char *p = data_path(srv, names[i]);
		unlink(p);
		free(p);
	}
}

/* The store's replicator changed between two transactions (db_begin
 * holds the write lock a commit reads it under). */
static void set_replicator(struct db *db, const struct db_replicator *r)
{
	struct db_txn *t = db_begin(db);
	db_set_replicator(db, r);
	db_abort(t);
}

/* A pool of one becomes a Raft node alone (id 1), its whole store the
 * log's first entry, and writes its pool.conf. */
static int form_pool(struct server *srv, struct xerr *err)
{
	db_rdlock(srv->db);
	struct db_obj *h = this_host(srv);
	char *address = h ? xstrdup(db_peek_str(h, SC_F_host__address)) : NULL;
	char *uuid = h ? xstrdup(db_peek_str(h, SC_F_host__uuid)) : NULL;
	db_unlock(srv->db);
	if (!address) {
		free(uuid);
		return xerr_set(err, ERR_HOST_STILL_BOOTING, NULL);
	}
	char *raft_addr = xasprintf("%s:%d", address, POOL_RAFT_PORT);
	char *dir = data_path(srv, "raft");
	remove_dir_files(dir); /* a log without a pool.conf is left from a failed join: not replayed */
	struct pool_raft_peer self = {1, raft_addr};
	struct pool_raft_config cfg = {.id = 1, .address = raft_addr, .dir = dir, .db = srv->db,
				      .peers = &self, .npeers = 1};
	struct pool_raft *raft = pool_raft_start(&cfg, err);
	char *conf = NULL, *entry = NULL, *conf_path = data_path(srv, POOL_CONF_FILE);
	char *host_path = data_path(srv, POOL_HOST_FILE), *secret = NULL;
	int rc = -1;
	if (!raft)
		goto out;
	for (int i = 0; i < 200 && !pool_raft_is_leader(raft); i++)
		usleep(50000);
	if (!pool_raft_is_leader(raft)) {
		xerr_internal(err, "pool: the new Raft node did not become leader");
		goto fail;
	}
	db_rdlock(srv->db);
	entry = store_entry(srv->db, true);
	db_unlock(srv->db);
	char leader[POOL_ADDR_MAX];
	set_replicator(srv->db, &(struct db_replicator){pool_replicate, srv, pool_submit});
	if (pool_raft_submit(raft, entry, strlen(entry), leader, err) != POOL_SUBMIT_OK) {
		if (!err->code)
			xerr_internal(err, "pool: the store's entry was refused");
		goto fail;
	}
	if (!(secret = pool_secret(srv, true, err)))
		goto fail;
	conf = xasprintf("pool-address=%s\npool-id=1\npool-peers=1@%s\n", raft_addr, raft_addr);
	char *hostline = xasprintf("%s\n", uuid);
	int w = write_file(host_path, hostline, err);
	free(hostline);
	if (w < 0 || write_file(conf_path, conf, err) < 0)
		goto fail;
	__atomic_store_n(&srv->raft, raft, __ATOMIC_RELEASE);
	log_info("pool: this host is now the master of a Raft pool (%s)", raft_addr);
	rc = 0;
	goto out;
fail:
	set_replicator(srv->db, NULL);
	pool_raft_stop(raft);
	remove_pool_files(srv);
	remove_dir_files(dir); /* no log left for a later attempt to replay */
out:
	free(secret);
	free(conf);
	free(entry);
	free(conf_path);
	free(host_path);
	free(dir);
	free(raft_addr);
	free(address);
	free(uuid);
	return rc;
}

/* The fields of an entry's line "P\t<ref>\t<class>\t<row>": false for
 * other lines. */
struct entry_line {
	const char *ref, *cls, *row;
	size_t ref_len, row_len;
};

static bool entry_put(const char *line, const char *end, struct entry_line *l)
{
	const char *f1 = memchr(line, '\t', (size_t)(end - line));
	const char *f2 = f1 ? memchr(f1 + 1, '\t', (size_t)(end - f1 - 1)) : NULL;
	const char *f3 = f2 ? memchr(f2 + 1, '\t', (size_t)(end - f2 - 1)) : NULL;
	if (line[0] != 'P' || !f3)
		return false;
	l->ref = f1 + 1;
	l->ref_len = (size_t)(f2 - f1 - 1);
	l->cls = f2 + 1;
	l->row = f3 + 1;
	l->row_len = (size_t)(end - f3 - 1);
	return true;
}

#define MERGE_MAX 64

/* What the first pass learns of the joiner's records: the networks of its
 * physical PIFs, and the bridges of its networks. */
struct merge_scan {
	char phys[MERGE_MAX][REF_STRLEN + 1];
	size_t nphys;
	char bridges[MERGE_MAX][16];
	size_t nbridges;
};

static int merge_scan(const char *entry, struct merge_scan *m, struct xerr *err)
{
	for (const char *line = entry, *next; *line; line = next) {
		const char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : line + strlen(line);
		struct entry_line l;
		if (!entry_put(line, nl ? nl : next, &l))
			continue;
		bool pif = !strncmp(l.cls, "PIF\t", 4), net = !strncmp(l.cls, "network\t", 8);
		if (!pif && !net)
			continue;
		xv row = XV_NIL_INIT;
		if (jsonv_parse(l.row, l.row_len, &row, err) < 0)
			return -1;
		const xv *phys = xv_map_get(&row, "physical");
		const char *pnet = xv_map_get_str(&row, "network");
		if (pif && phys && phys->kind == XV_BOOL && phys->u.b && pnet && m->nphys < MERGE_MAX)
			snprintf(m->phys[m->nphys++], REF_STRLEN + 1, "%s", pnet);
		const char *bridge = xv_map_get_str(&row, "bridge");
		if (net && bridge && m->nbridges < MERGE_MAX)
			snprintf(m->bridges[m->nbridges++], 16, "%s", bridge);
		xv_free(&row);
	}
	return 0;
}

static bool scan_has(char (*list)[REF_STRLEN + 1], size_t n, const char *ref)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], ref))
			return true;
	return false;
}

static bool bridge_in_use(struct db *db, const struct merge_scan *m, const char *bridge)
{
	for (size_t i = 0; i < m->nbridges; i++)
		if (!strcmp(m->bridges[i], bridge))
			return true;
	for (struct db_obj *n = db_first(db, SC_C_network); n; n = db_next(n))
		if (!strcmp(db_peek_str(n, SC_F_network__bridge), bridge))
			return true;
	return false;
}

/* As xapi: a physical network of the joiner (one with a physical PIF) with
 * the bridge of one of the pool's becomes that one: its line is dropped and
 * its ref replaced everywhere. Any other network of the joiner whose bridge
 * the pool already uses (an internal xapi<N>) stays a network of its own
 * and gets a bridge name free in the pool. */
static char *merge_networks(struct db *db, const char *entry, struct xerr *err)
{
	struct merge_scan *m = xcalloc(1, sizeof *m);
	if (merge_scan(entry, m, err) < 0) {
		free(m);
		return NULL;
	}
	struct strbuf out = STRBUF_INIT;
	struct { char from[REF_STRLEN + 1], to[REF_STRLEN + 1]; } map[MERGE_MAX];
	size_t nmap = 0;
	unsigned counter = 0;
	for (const char *line = entry, *next; *line; line = next) {
		const char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : line + strlen(line);
		size_t len = (size_t)(next - line);
		struct entry_line l;
		if (entry_put(line, nl ? nl : next, &l) && !strncmp(l.cls, "network\t", 8) && nmap < MERGE_MAX) {
			xv row = XV_NIL_INIT;
			if (jsonv_parse(l.row, l.row_len, &row, err) < 0) {
				free(m);
				sb_free(&out);
				return NULL;
			}
			const char *bridge = xv_map_get_str(&row, "bridge");
			struct db_obj *same = NULL;
			for (struct db_obj *n = db_first(db, SC_C_network); n && bridge && bridge[0]; n = db_next(n))
				if (!strcmp(db_peek_str(n, SC_F_network__bridge), bridge)) {
					same = n;
					break;
				}
			char ref[REF_STRLEN + 1];
			snprintf(ref, sizeof ref, "%.*s", (int)l.ref_len, l.ref);
			bool physical = scan_has(m->phys, m->nphys, ref);
			if (same && physical) {
				snprintf(map[nmap].from, sizeof map[nmap].from, "%s", ref);
				snprintf(map[nmap].to, sizeof map[nmap].to, "%s", same->ref);
				nmap++;
				xv_free(&row);
				continue;
			}
			if (same) {
				char fresh[16];
				do
					snprintf(fresh, sizeof fresh, "xapi%u", counter++);
				while (bridge_in_use(db, m, fresh));
				if (m->nbridges < MERGE_MAX)
					snprintf(m->bridges[m->nbridges++], 16, "%s", fresh);
				log_info("pool: the joiner's network %s (bridge %s) gets bridge %s", ref, bridge, fresh);
				xv_map_set_str(&row, "bridge", fresh);
				sb_add(&out, line, (size_t)(l.row - line));
				jsonv_write(&out, &row);
				if (nl)
					sb_puts(&out, "\n");
				xv_free(&row);
				continue;
			}
			xv_free(&row);
		}
		sb_add(&out, line, len);
	}
	free(m);
	if (!out.buf)
		sb_puts(&out, "");
	char *s = sb_detach(&out);
	for (size_t i = 0; i < nmap; i++) {
		struct strbuf r = STRBUF_INIT;
		size_t fl = strlen(map[i].from);
		for (const char *p = s, *hit; *p; p = hit + fl) {
			hit = strstr(p, map[i].from);
			if (!hit) {
				sb_puts(&r, p);
				break;
			}
			sb_add(&r, p, (size_t)(hit - p));
			sb_puts(&r, map[i].to);
		}
		free(s);
		if (!r.buf)
			sb_puts(&r, "");
		s = sb_detach(&r);
	}
	return s;
}

/* The refs an entry puts, as an entry deleting them (the undo). */
static char *undo_entry(const char *entry)
{
	struct strbuf sb = STRBUF_INIT;
	for (const char *line = entry, *next; *line; line = next) {
		const char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : line + strlen(line);
		const char *f1 = strchr(line, '\t'), *f2 = f1 ? strchr(f1 + 1, '\t') : NULL;
		const char *f3 = f2 ? strchr(f2 + 1, '\t') : NULL;
		if (line[0] == 'P' && f3)
			sb_printf(&sb, "D\t%.*s\n", (int)(f3 - f1 - 1), f1 + 1);
	}
	if (!sb.buf)
		sb_puts(&sb, "");
	return sb_detach(&sb);
}

/* A configuration change waits for the one in progress (a promotion
 * catching a member up) and for a leadership lost a moment: retried for
 * up to 30 s. */
static int change_members(struct server *srv, uint64_t id, const char *address, bool add, struct xerr *err)
{
	for (int i = 0;; i++) {
		struct xerr e = XERR_INIT;
		int rc = add ? pool_raft_add_member(srv->raft, id, address, false, &e)
			     : pool_raft_remove_member(srv->raft, id, &e);
		/* retried: a change in progress, and a leadership lost a moment
		 * (an election under load) that this host wins back */
		bool again = e.nparams && (strstr(e.params[0], "in progress") || strstr(e.params[0], "leader"));
		if (rc == 0 || i == 300 || !again) {
			if (rc < 0)
				xerr_move(err, &e);
			xerr_clear(&e);
			return rc;
		}
		xerr_clear(&e);
		usleep(100000);
	}
}

/* The new host's id in Raft, its PBDs for the pool's shared SRs: one
 * transaction after the merge. */
static int after_merge(struct server *srv, const char *host_uuid, uint64_t id, struct xerr *err)
{
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *h = db_lookup_uuid(srv->db, SC_C_host, host_uuid);
	if (!h) {
		db_abort(t);
		return xerr_internal(err, "pool: the merged host %s is not there", host_uuid);
	}
	char idtext[24];
	snprintf(idtext, sizeof idtext, "%llu", (unsigned long long)id);
	xv_map_set_str(db_edit(t, h, SC_F_host__other_config), POOL_MEMBER_KEY, idtext);
	/* live once it answers as a member (the heartbeats) */
	struct db_obj *hm = db_lookup_cls(srv->db, SC_C_host_metrics, db_peek_str(h, SC_F_host__metrics));
	if (hm)
		db_set_bool(t, hm, SC_F_host_metrics__live, false);
	for (struct db_obj *sr = db_first(srv->db, SC_C_SR); sr; sr = db_next(sr)) {
		if (!db_peek_bool(sr, SC_F_SR__shared))
			continue;
		const xv *cfg = NULL;
		for (struct db_obj *pbd = db_first(srv->db, SC_C_PBD); pbd; pbd = db_next(pbd))
			if (!strcmp(db_peek_str(pbd, SC_F_PBD__SR), sr->ref)) {
				cfg = db_peek(pbd, SC_F_PBD__device_config);
				break;
			}
		char ref[REF_STRLEN + 1], uuid[UUID_STRLEN + 1];
		ref_generate(ref);
		uuid_generate_str(uuid);
		struct db_obj *pbd = db_create(t, SC_C_PBD, ref);
		db_set_str(t, pbd, SC_F_PBD__uuid, uuid);
		db_set_str(t, pbd, SC_F_PBD__host, h->ref);
		db_set_str(t, pbd, SC_F_PBD__SR, sr->ref);
		xv dc = cfg ? xv_copy(cfg) : xv_map_new();
		xv_map_del(&dc, "SRmaster");
		db_set(t, pbd, SC_F_PBD__device_config, dc);
		db_set(t, pbd, SC_F_PBD__other_config, xv_map_new());
		db_set_bool(t, pbd, SC_F_PBD__currently_attached, false);
	}
	return db_commit(t, err);
}

static int join_merge(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct server *srv = ctx->srv;
	const char *uuid = xv_as_str(xv_arr_get(args, 0));
	const char *address = xv_as_str(xv_arr_get(args, 1));
	const char *entry = xv_as_str(xv_arr_get(args, 2));
	if (!uuid || !address || !entry || !address[0])
		return xerr_set(err, ERR_FIELD_TYPE_ERROR, "entry", NULL);
	pthread_mutex_lock(&join_lock);
	int rc = -1;
	char *merged = NULL, *undo = NULL;
	bool formed = false;
	db_rdlock(srv->db);
	bool known = db_lookup_uuid(srv->db, SC_C_host, uuid) != NULL;
	db_unlock(srv->db);
	if (known) {
		xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "The host is already a member of this pool", NULL);
		goto out;
	}
	if (!srv->raft) {
		if (form_pool(srv, err) < 0)
			goto out;
		formed = true;
	}
	if (!pool_raft_is_leader(srv->raft)) {
		char m[POOL_ADDR_MAX];
		pool_raft_leader(srv->raft, m);
		char *colon = strrchr(m, ':');
		if (colon)
			*colon = 0;
		xerr_set(err, ERR_HOST_IS_SLAVE, m, NULL);
		goto out;
	}
	uint64_t id = 1;
	db_rdlock(srv->db);
	for (struct db_obj *h = db_first(srv->db, SC_C_host); h; h = db_next(h)) {
		const char *s = other_config_get(h, SC_F_host__other_config, POOL_MEMBER_KEY);
		uint64_t v = s ? strtoull(s, NULL, 10) : 1;
		if (v >= id)
			id = v + 1;
	}
	merged = merge_networks(srv->db, entry, err);
	db_unlock(srv->db);
	if (!merged)
		goto out;
	undo = undo_entry(merged);
	if (db_write_entry(srv->db, merged, strlen(merged), err) < 0)
		goto out;
	char raft_addr[POOL_ADDR_MAX];
	snprintf(raft_addr, sizeof raft_addr, "%s:%d", address, POOL_RAFT_PORT);
	if (after_merge(srv, uuid, id, err) < 0 ||
	    change_members(srv, id, raft_addr, true, err) < 0) {
		struct xerr e = XERR_INIT;
		if (db_write_entry(srv->db, undo, strlen(undo), &e) < 0)
			log_error("pool: undoing a failed join: %s", e.nparams ? e.params[0] : e.code);
		xerr_clear(&e);
		goto out;
	}
	log_info("pool: host %s (%s) joined as member %llu", uuid, address, (unsigned long long)id);
	db_rdlock(srv->db);
	struct db_obj *joined = db_lookup_uuid(srv->db, SC_C_host, uuid);
	char joined_ref[REF_STRLEN + 1];
	snprintf(joined_ref, sizeof joined_ref, "%s", joined ? joined->ref : REF_NULL);
	db_unlock(srv->db);
	pool_plug_joined(srv, joined_ref);
	char idtext[24];
	snprintf(idtext, sizeof idtext, "%llu", (unsigned long long)id);
	*result = xv_map_new();
	xv_map_set_str(result, "member_id", idtext);
	xv_map_set_str(result, "raft_address", raft_addr);
	rc = 0;
out:
	db_rdlock(srv->db);
	bool alone = db_count(srv->db, SC_C_host) == 1;
	db_unlock(srv->db);
	if (rc < 0 && formed && alone) {
		/* the pool this join made has no other host: the next start is a
		 * pool of one again (the node runs on until then; its store is
		 * the same either way) */
		remove_pool_files(srv);
		log_info("pool: the join failed; a pool of one again at the next start");
	}
	pthread_mutex_unlock(&join_lock);
	free(merged);
	free(undo);
	return rc;
}

/* ---- certificates ---- */

static int store_cert(struct server *srv, const char *uuid, const char *pem, struct xerr *err)
{
	if (!uuid_is_valid(uuid))
		return xerr_set(err, ERR_UUID_INVALID, "host", uuid, NULL);
	char *pin = tls_cert_pin(pem, err);
	if (!pin)
		return -1;
	free(pin);
	char *dir = data_path(srv, POOL_CERTS_DIR);
	mkdir(dir, 0700);
	char *path = xasprintf("%s/%s.pem", dir, uuid);
	int rc = write_file(path, pem, err);
	free(path);
	free(dir);
	return rc;
}

static char *own_cert(struct server *srv)
{
	return srv->cfg.tls_listen[0] ? file_read(srv->cfg.cert_file, 0, NULL) : NULL;
}

/* pool.exchange_certificates_on_join(uuid, certificate): keeps the
 * joining host's certificate (on the master: also on every live member)
 * and returns the pool's, "<uuid>.pem" -> PEM, this host's among them. */
static int exchange_certificates(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct server *srv = ctx->srv;
	const char *uuid = xv_as_str(xv_arr_get(args, 0));
	const char *pem = xv_as_str(xv_arr_get(args, 1));
	if (!uuid || !pem)
		return xerr_set(err, ERR_FIELD_TYPE_ERROR, "certificate", NULL);
	char *have = NULL;
	if (uuid_is_valid(uuid)) {
		char *path = xasprintf("%s/%s/%s.pem", srv->cfg.data_dir, POOL_CERTS_DIR, uuid);
		have = file_read(path, 0, NULL);
		free(path);
	}
	/* a host's key, once exchanged, is replaced only by the pool's hosts */
	bool replace = have && have[0] && pem[0] && strcmp(have, pem) && !pool_call_is_forwarded(ctx);
	free(have);
	if (replace)
		return xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "The host's certificate is already known", NULL);
	if (pem[0] && store_cert(srv, uuid, pem, err) < 0)
		return -1;
	db_rdlock(srv->db);
	struct db_obj *me = this_host(srv);
	char my_uuid[UUID_STRLEN + 1];
	snprintf(my_uuid, sizeof my_uuid, "%s", me ? db_peek_str(me, SC_F_host__uuid) : "");
	struct { char ref[REF_STRLEN + 1]; } others[64];
	size_t n = 0;
	for (struct db_obj *h = db_first(srv->db, SC_C_host); h && n < 64; h = db_next(h))
		if (me && h != me && strcmp(db_peek_str(h, SC_F_host__uuid), uuid))
			snprintf(others[n++].ref, sizeof others[0].ref, "%s", h->ref);
	db_unlock(srv->db);
	struct pool_raft *raft = __atomic_load_n(&srv->raft, __ATOMIC_ACQUIRE);
	if (pem[0] && raft && pool_raft_is_leader(raft))
		for (size_t i = 0; i < n; i++) { /* the members, for when one of them is master */
			struct xerr e = XERR_INIT;
			if (pool_call_on_host(srv, others[i].ref, "pool.exchange_certificates_on_join", args, NULL, NULL,
					      &e) < 0)
				log_warn("pool: a certificate not passed to %s: %s", others[i].ref, e.code);
			xerr_clear(&e);
		}
	*result = xv_map_new();
	char *mine = own_cert(srv);
	if (mine && my_uuid[0]) {
		char *key = xasprintf("%s.pem", my_uuid);
		xv_map_set(result, key, xv_str_own(mine));
		free(key);
	} else {
		free(mine);
	}
	char *dir = data_path(srv, POOL_CERTS_DIR);
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		if (len != UUID_STRLEN + 4 || strcmp(e->d_name + UUID_STRLEN, ".pem"))
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		char *pem_text = file_read(path, 0, NULL);
		free(path);
		if (pem_text && pem_text[0])
			xv_map_set(result, e->d_name, xv_str_own(pem_text));
		else
			free(pem_text);
	}
	if (d)
		closedir(d);
	free(dir);
	return 0;
}

static int initial_auth(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	char *s = pool_secret(ctx->srv, true, err);
	if (!s)
		return -1;
	*result = xv_str_own(s);
	return 0;
}

/* ---- the joining host ---- */

static int peer_error(enum peer_result r, struct xerr *e, struct xerr *err)
{
	if (r == PEER_UNREACHABLE || r == PEER_BAD_ANSWER) {
		log_warn("pool.join: %s", e->nparams ? e->params[0] : e->code ? e->code : "?");
		xerr_clear(e);
		return xerr_set(err, r == PEER_UNREACHABLE ? ERR_JOINING_HOST_CONNECTION_FAILED
							 : ERR_JOINING_HOST_SERVICE_FAILED, NULL);
	}
	xerr_move(err, e);
	return -1;
}

static char *remote_str(struct peer *p, const char *method, const char *arg, struct xerr *err, int *rc)
{
	xv res = XV_NIL_INIT;
	struct xerr e = XERR_INIT;
	enum peer_result r = peer_call_strs(p, method, &res, &e, arg, NULL);
	if (r != PEER_OK) {
		*rc = peer_error(r, &e, err);
		xv_free(&res);
		return NULL;
	}
	const xv *v = &res;
	const xv *first = xv_arr_get(&res, 0);
	if (!xv_as_str(v) && first) /* a set: its first element */
		v = first;
	char *s = xv_as_str(v) ? xstrdup(xv_as_str(v)) : NULL;
	if (!s && res.kind == XV_INT)
		s = xasprintf("%lld", (long long)res.u.i);
	xv_free(&res);
	if (!s)
		*rc = xerr_set(err, ERR_JOINING_HOST_SERVICE_FAILED, NULL);
	return s;
}

/* The checks on the joining host's own store (xapi_pool.ml's order for
 * the ones that apply here). */
static int local_checks(struct server *srv, struct xerr *err)
{
	int rc = 0;
	db_rdlock(srv->db);
	if (srv->raft && db_count(srv->db, SC_C_host) > 1)
		rc = xerr_set(err, ERR_JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS, NULL);
	for (struct db_obj *vm = db_first(srv->db, SC_C_VM); vm && !rc; vm = db_next(vm)) {
		if (db_peek_bool(vm, SC_F_VM__is_control_domain) || db_peek_bool(vm, SC_F_VM__is_a_template))
			continue;
		const char *ps = db_peek_str(vm, SC_F_VM__power_state);
		if (strcmp(ps, "Halted") && strcmp(ps, "Suspended"))
			rc = xerr_set(err, ERR_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS, NULL);
		else if (xv_len(db_peek(vm, SC_F_VM__current_operations)) > 0)
			rc = xerr_set(err, ERR_JOINING_HOST_CANNOT_HAVE_VMS_WITH_CURRENT_OPERATIONS, NULL);
	}
	for (struct db_obj *sr = db_first(srv->db, SC_C_SR); sr && !rc; sr = db_next(sr))
		if (db_peek_bool(sr, SC_F_SR__shared))
			rc = xerr_set(err, ERR_JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS, NULL);
	/* xapi's network rules: the joiner's networks must be plain NICs (and
	 * the management VLAN), so that they can merge with the pool's */
	if (!rc && db_first(srv->db, SC_C_Bond))
		rc = xerr_set(err, ERR_POOL_JOINING_HOST_HAS_BONDS, NULL);
	if (!rc && db_first(srv->db, SC_C_tunnel))
		rc = xerr_set(err, ERR_POOL_JOINING_HOST_HAS_TUNNELS, NULL);
	for (struct db_obj *v = db_first(srv->db, SC_C_VLAN); v && !rc; v = db_next(v)) {
		struct db_obj *pif = db_lookup_cls(srv->db, SC_C_PIF, db_peek_str(v, SC_F_VLAN__untagged_PIF));
		if (!pif || !db_peek_bool(pif, SC_F_PIF__management))
			rc = xerr_set(err, ERR_POOL_JOINING_HOST_HAS_NON_MANAGEMENT_VLANS, NULL);
	}
	db_unlock(srv->db);
	return rc;
}

static int remote_checks(struct server *srv, struct peer *p, bool force, struct xerr *err)
{
	int rc = -1;
	char *pool = NULL, *master = NULL, *muuid = NULL, *major = NULL, *minor = NULL, *vendor = NULL;
	char *pv = NULL;
	if (!(pool = remote_str(p, "pool.get_all", NULL, err, &rc)) ||
	    !(master = remote_str(p, "pool.get_master", pool, err, &rc)) ||
	    !(muuid = remote_str(p, "host.get_uuid", master, err, &rc)) ||
	    !(major = remote_str(p, "host.get_API_version_major", master, err, &rc)) ||
	    !(minor = remote_str(p, "host.get_API_version_minor", master, err, &rc)))
		goto out;
	xv cpu = XV_NIL_INIT, sv = XV_NIL_INIT;
	struct xerr e = XERR_INIT;
	enum peer_result r = peer_call_strs(p, "host.get_cpu_info", &cpu, &e, master, NULL);
	if (r == PEER_OK)
		r = peer_call_strs(p, "host.get_software_version", &sv, &e, master, NULL);
	if (r != PEER_OK) {
		rc = peer_error(r, &e, err);
		xv_free(&cpu);
		xv_free(&sv);
		goto out;
	}
	vendor = xstrdup(xv_map_get_str(&cpu, "vendor") ? xv_map_get_str(&cpu, "vendor") : "");
	pv = xstrdup(xv_map_get_str(&sv, "product_version") ? xv_map_get_str(&sv, "product_version") : "");
	xv_free(&cpu);
	xv_free(&sv);

	db_rdlock(srv->db);
	struct db_obj *h = this_host(srv);
	char mine[UUID_STRLEN + 1] = "", mine_api[48], my_vendor[64] = "", my_pv[64] = "";
	long long my_major = h ? db_peek_int(h, SC_F_host__API_version_major) : 0;
	long long my_minor = h ? db_peek_int(h, SC_F_host__API_version_minor) : 0;
	if (h) {
		snprintf(mine, sizeof mine, "%s", db_peek_str(h, SC_F_host__uuid));
		const char *v = other_config_get(h, SC_F_host__cpu_info, "vendor");
		snprintf(my_vendor, sizeof my_vendor, "%s", v ? v : "");
		v = other_config_get(h, SC_F_host__software_version, "product_version");
		snprintf(my_pv, sizeof my_pv, "%s", v ? v : "");
	}
	db_unlock(srv->db);
	snprintf(mine_api, sizeof mine_api, "%lld.%lld", my_major, my_minor);
	char *theirs = xasprintf("%s.%s", major, minor);
	if (!h)
		rc = xerr_set(err, ERR_HOST_STILL_BOOTING, NULL);
	else if (!strcmp(mine, muuid))
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "Host cannot become slave of itself.", NULL);
	else if (strcmp(mine_api, theirs))
		rc = xerr_set(err, ERR_POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION, mine_api, theirs, NULL);
	else if (!force && strcmp(my_vendor, vendor))
		rc = xerr_set(err, ERR_HOSTS_NOT_HOMOGENEOUS, "CPUs differ.", NULL);
	else if (!force && strcmp(my_pv, pv))
		rc = xerr_set(err, ERR_HOSTS_NOT_HOMOGENEOUS, "Software version differs.", NULL);
	else
		rc = 0;
	free(theirs);
out:
	free(pool);
	free(master);
	free(muuid);
	free(major);
	free(minor);
	free(vendor);
	free(pv);
	return rc;
}

static int do_join(struct rpc_ctx *ctx, xv *args, bool force, struct xerr *err)
{
	if (pool_ha_refuse(ctx->db, err) < 0)
		return -1;
	struct server *srv = ctx->srv;
	const char *addr = xv_as_str(xv_arr_get(args, 0));
	const char *user = xv_as_str(xv_arr_get(args, 1));
	const char *pw = xv_as_str(xv_arr_get(args, 2));
	if (!addr || !user || !pw)
		return xerr_set(err, ERR_FIELD_TYPE_ERROR, "master_address", NULL);
	if (srv->raft) /* a member already, or the master of others */
		return xerr_set(err, ERR_JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS, NULL);
	if (!addr[0])
		return xerr_set(err, ERR_JOINING_HOST_CONNECTION_FAILED, NULL);
	pthread_mutex_lock(&join_lock);
	int rc = -1;
	struct peer *p = peer_open(addr, pool_api_port(srv), 120);
	char *entry = NULL, *secret = NULL, *conf = NULL, *my_uuid = NULL, *my_addr = NULL;
	xv res = XV_NIL_INIT;
	struct xerr e = XERR_INIT;
	if (!p) {
		xerr_set(err, ERR_JOINING_HOST_CONNECTION_FAILED, NULL);
		goto out;
	}
	enum peer_result r = peer_login(p, user, pw, &e);
	if (r != PEER_OK) {
		peer_error(r, &e, err);
		goto out;
	}
	if (remote_checks(srv, p, force, err) < 0 || local_checks(srv, err) < 0)
		goto out;
	if (!(secret = remote_str(p, "pool.initial_auth", NULL, err, &rc)))
		goto out;
	db_rdlock(srv->db);
	struct db_obj *h = this_host(srv);
	my_uuid = xstrdup(db_peek_str(h, SC_F_host__uuid));
	my_addr = xstrdup(db_peek_str(h, SC_F_host__address));
	entry = store_entry(srv->db, false);
	db_unlock(srv->db);
	r = peer_call_strs(p, "pool.join_merge", &res, &e, my_uuid, my_addr, entry, NULL);
	if (r != PEER_OK) {
		rc = peer_error(r, &e, err);
		goto out;
	}
	const char *id = xv_map_get_str(&res, "member_id");
	if (!id) {
		rc = xerr_set(err, ERR_JOINING_HOST_SERVICE_FAILED, NULL);
		goto out;
	}
	/* accepted: from here on this host belongs to the pool; the hosts'
	 * certificates are exchanged (TLS between them from the restart) */
	xv bundle = XV_NIL_INIT, ex = xv_arr_new();
	char *mine = own_cert(srv);
	xv_arr_push_str(&ex, my_uuid);
	xv_arr_push_str(&ex, mine ? mine : "");
	free(mine);
	r = peer_call(p, "pool.exchange_certificates_on_join", &ex, &bundle, &e);
	xv_free(&ex);
	if (r != PEER_OK) {
		log_warn("pool.join: no certificates exchanged: %s", e.nparams ? e.params[0] : e.code ? e.code : "?");
		xerr_clear(&e);
	}
	for (size_t i = 0; r == PEER_OK && bundle.kind == XV_MAP && i < bundle.u.m->n; i++) {
		const char *name = bundle.u.m->keys[i], *pem = xv_as_str(&bundle.u.m->vals[i]);
		char uuid[UUID_STRLEN + 1];
		snprintf(uuid, sizeof uuid, "%.36s", name);
		struct xerr ce = XERR_INIT;
		if (!pem || store_cert(srv, uuid, pem, &ce) < 0)
			log_warn("pool.join: certificate %s not kept", name);
		xerr_clear(&ce);
	}
	xv_free(&bundle);
	/* and this host's trusted CAs and revocation lists are added to the
	 * pool's, which this host takes (its store's rows of them give way to
	 * the pool's); missed here, the master sends them once this host
	 * answers as a member */
	struct xerr te = XERR_INIT;
	if (pool_trust_fetch(srv, p, &te) < 0)
		log_warn("pool.join: the pool's CAs and CRLs not taken yet: %s", te.code ? te.code : "?");
	xerr_clear(&te);
	conf = xasprintf("pool-address=%s:%d\npool-id=%s\n", my_addr, POOL_RAFT_PORT, id);
	char *sp = data_path(srv, POOL_SECRET_FILE), *hp = data_path(srv, POOL_HOST_FILE);
	char *cp = data_path(srv, POOL_CONF_FILE), *rp = data_path(srv, POOL_RESET_FILE);
	char *secret_line = xasprintf("%s\n", secret), *host_line = xasprintf("%s\n", my_uuid);
	rc = write_file(sp, secret_line, err) < 0 || write_file(hp, host_line, err) < 0 ||
		     write_file(rp, "join\n", err) < 0 || write_file(cp, conf, err) < 0
		     ? -1 : 0;
	free(sp);
	free(hp);
	free(cp);
	free(rp);
	free(secret_line);
	free(host_line);
	if (rc == 0) {
		log_info("pool.join: joined the pool of %s as member %s; restarting as a member", addr, id);
		if (srv->request_restart)
			srv->request_restart();
	}
out:
	pthread_mutex_unlock(&join_lock);
	xv_free(&res);
	xerr_clear(&e);
	peer_close(p);
	free(entry);
	free(secret);
	free(conf);
	free(my_uuid);
	free(my_addr);
	return rc;
}

static int pool_join(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return do_join(ctx, args, false, err);
}

static int pool_join_force(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return do_join(ctx, args, true, err);
}

/* ---- eject ---- */

static void delete_refs(struct db_txn *t, struct db *db, int cls, int field, const char *ref)
{
	for (struct db_obj *o = db_first(db, cls), *next; o; o = next) {
		next = db_next(o);
		if (!strcmp(db_peek_str(o, field), ref))
			db_delete(t, o);
	}
}

/* The records of an ejected host: itself, its metrics, CPUs, PIFs, PBDs,
 * control domain, and its local SRs with their VDIs and the VBDs on them. */
static int delete_host_records(struct server *srv, const char *href, struct xerr *err)
{
	struct db *db = srv->db;
	struct db_txn *t = db_begin(db);
	struct db_obj *h = db_lookup_cls(db, SC_C_host, href);
	if (!h) {
		db_abort(t);
		return 0;
	}
	struct db_obj *m = db_lookup_cls(db, SC_C_host_metrics, db_peek_str(h, SC_F_host__metrics));
	if (m)
		db_delete(t, m);
	delete_refs(t, db, SC_C_host_cpu, SC_F_host_cpu__host, href);
	for (struct db_obj *pif = db_first(db, SC_C_PIF), *next; pif; pif = next) {
		next = db_next(pif);
		if (strcmp(db_peek_str(pif, SC_F_PIF__host), href))
			continue;
		struct db_obj *pm = db_lookup_cls(db, SC_C_PIF_metrics, db_peek_str(pif, SC_F_PIF__metrics));
		if (pm)
			db_delete(t, pm);
		db_delete(t, pif);
	}
	for (struct db_obj *pbd = db_first(db, SC_C_PBD), *next; pbd; pbd = next) {
		next = db_next(pbd);
		if (strcmp(db_peek_str(pbd, SC_F_PBD__host), href))
			continue;
		struct db_obj *sr = db_lookup_cls(db, SC_C_SR, db_peek_str(pbd, SC_F_PBD__SR));
		db_delete(t, pbd);
		if (!sr || db_peek_bool(sr, SC_F_SR__shared))
			continue;
		for (struct db_obj *vdi = db_first(db, SC_C_VDI), *nv; vdi; vdi = nv) {
			nv = db_next(vdi);
			if (strcmp(db_peek_str(vdi, SC_F_VDI__SR), sr->ref))
				continue;
			delete_refs(t, db, SC_C_VBD, SC_F_VBD__VDI, vdi->ref);
			db_delete(t, vdi);
		}
		db_delete(t, sr);
	}
	for (struct db_obj *vm = db_first(db, SC_C_VM), *next; vm; vm = next) {
		next = db_next(vm);
		if (!db_peek_bool(vm, SC_F_VM__is_control_domain) ||
		    strcmp(db_peek_str(vm, SC_F_VM__resident_on), href))
			continue;
		delete_refs(t, db, SC_C_VBD, SC_F_VBD__VM, vm->ref);
		delete_refs(t, db, SC_C_VIF, SC_F_VIF__VM, vm->ref);
		delete_refs(t, db, SC_C_console, SC_F_console__VM, vm->ref);
		struct db_obj *vmm = db_lookup_cls(db, SC_C_VM_metrics, db_peek_str(vm, SC_F_VM__metrics));
		if (vmm)
			db_delete(t, vmm);
		db_delete(t, vm);
	}
	for (struct db_obj *vm = db_first(db, SC_C_VM); vm; vm = db_next(vm)) {
		if (!strcmp(db_peek_str(vm, SC_F_VM__affinity), href))
			db_set_str(t, vm, SC_F_VM__affinity, REF_NULL);
		if (!strcmp(db_peek_str(vm, SC_F_VM__resident_on), href))
			db_set_str(t, vm, SC_F_VM__resident_on, REF_NULL);
	}
	db_delete(t, h);
	return db_commit(t, err);
}

static int pool_eject(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (pool_ha_refuse(ctx->db, err) < 0)
		return -1;
	struct server *srv = ctx->srv;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	char href[REF_STRLEN + 1] = "", address[96] = "", uuid[UUID_STRLEN + 1] = "";
	const char *idtext = NULL;
	uint64_t id = 0;
	int rc = 0;
	if (h) {
		snprintf(href, sizeof href, "%s", h->ref);
		snprintf(address, sizeof address, "%s", db_peek_str(h, SC_F_host__address));
		snprintf(uuid, sizeof uuid, "%s", db_peek_str(h, SC_F_host__uuid));
		idtext = other_config_get(h, SC_F_host__other_config, POOL_MEMBER_KEY);
		id = idtext ? strtoull(idtext, NULL, 10) : 0;
		struct db_obj *pool = db_first(ctx->db, SC_C_pool);
		if (pool && !strcmp(db_peek_str(pool, SC_F_pool__master), h->ref))
			rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "Cannot eject the pool master", NULL);
		for (struct db_obj *vm = db_first(ctx->db, SC_C_VM); vm && !rc; vm = db_next(vm))
			if (!db_peek_bool(vm, SC_F_VM__is_control_domain) &&
			    !strcmp(db_peek_str(vm, SC_F_VM__resident_on), h->ref) &&
			    strcmp(db_peek_str(vm, SC_F_VM__power_state), "Halted"))
				rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "VM resident on host", NULL);
	}
	db_unlock(ctx->db);
	if (!h || rc < 0)
		return -1;
	if (!srv->raft || !id)
		return xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "The host is not a pool member", NULL);
	pthread_mutex_lock(&join_lock);
	char *secret = pool_secret(srv, false, err);
	struct peer *p = secret ? pool_open_peer(srv, uuid, address, 30) : NULL;
	struct xerr e = XERR_INIT;
	if (!secret) {
		rc = -1;
	} else if (change_members(srv, id, NULL, false, err) < 0) {
		rc = -1;
	} else if (!p || peer_call_strs(p, "pool.eject_self", NULL, &e, secret, uuid, NULL) != PEER_OK) {
		log_warn("pool.eject: %s: %s", address, e.nparams ? e.params[0] : e.code ? e.code : "?");
		rc = xerr_set(err, ERR_HOST_OFFLINE, href, NULL);
		char raft_addr[POOL_ADDR_MAX];
		snprintf(raft_addr, sizeof raft_addr, "%s:%d", address, POOL_RAFT_PORT);
		struct xerr e2 = XERR_INIT;
		if (change_members(srv, id, raft_addr, true, &e2) < 0) /* back as it was */
			log_error("pool.eject: re-adding member %llu: %s", (unsigned long long)id,
				  e2.nparams ? e2.params[0] : "?");
		xerr_clear(&e2);
		} else if (delete_host_records(srv, href, err) < 0) {
		rc = -1;
	} else {
		char *cert = xasprintf("%s/%s/%s.pem", srv->cfg.data_dir, POOL_CERTS_DIR, uuid);
		unlink(cert);
		free(cert);
		log_info("pool: host %s (%s) ejected", uuid, address);
	}
	xerr_clear(&e);
	peer_close(p);
	free(secret);
	pthread_mutex_unlock(&join_lock);
	return rc;
}

/* On the ejected host, called by the master with the pool secret: the
 * next start is a fresh pool of one. */
static int eject_self(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct server *srv = ctx->srv;
	const char *given = xv_as_str(xv_arr_get(args, 0));
	const char *uuid = xv_as_str(xv_arr_get(args, 1));
	char *secret = pool_secret(srv, false, err);
	bool ok = secret && given && !strcmp(secret, given);
	free(secret);
	if (!ok)
		return xerr_set(err, ERR_SESSION_AUTHENTICATION_FAILED, NULL);
	db_rdlock(srv->db);
	struct db_obj *h = this_host(srv);
	ok = h && uuid && !strcmp(db_peek_str(h, SC_F_host__uuid), uuid);
	db_unlock(srv->db);
	if (!ok)
		return xerr_set(err, ERR_HOST_UNKNOWN_TO_MASTER, uuid ? uuid : "", NULL);
	char *rp = data_path(srv, POOL_RESET_FILE), *sp = data_path(srv, POOL_SECRET_FILE);
	int rc = write_file(rp, "eject\n", err);
	if (rc == 0) {
		remove_pool_files(srv);
		unlink(sp);
		log_info("pool: ejected from the pool; restarting as a pool of one");
		if (srv->request_restart)
			srv->request_restart();
	}
	free(rp);
	free(sp);
	return rc;
}

/* ---- host.destroy ---- */

/* host.destroy(self): forgets a host that is gone (xe host-forget). As
 * xapi: HOST_IS_LIVE while it is live (its heartbeat, or it answers),
 * HOST_CANNOT_DESTROY_SELF for the master, HOST_HAS_RESIDENT_VMS while a
 * VM of its own is resident there; then it leaves the Raft configuration
 * (if it is still in it) and its records go: PIFs, PBDs, CPUs, metrics,
 * control domain, its local SRs, the VMs' links to it. */
static int host_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct server *srv = ctx->srv;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	char href[REF_STRLEN + 1] = "", address[96] = "", uuid[UUID_STRLEN + 1] = "";
	uint64_t id = 0;
	int rc = h ? 0 : -1;
	bool self = false;
	if (h) {
		snprintf(href, sizeof href, "%s", h->ref);
		snprintf(address, sizeof address, "%s", db_peek_str(h, SC_F_host__address));
		snprintf(uuid, sizeof uuid, "%s", db_peek_str(h, SC_F_host__uuid));
		const char *idtext = other_config_get(h, SC_F_host__other_config, POOL_MEMBER_KEY);
		id = idtext ? strtoull(idtext, NULL, 10) : 0;
		struct db_obj *m = db_lookup_cls(ctx->db, SC_C_host_metrics, db_peek_str(h, SC_F_host__metrics));
		struct db_obj *pool = db_first(ctx->db, SC_C_pool);
		self = !strcmp(href, srv->host_ref) || (pool && !strcmp(db_peek_str(pool, SC_F_pool__master), href));
		if (m && db_peek_bool(m, SC_F_host_metrics__live))
			rc = xerr_set(err, ERR_HOST_IS_LIVE, href, NULL);
		else if (self)
			rc = xerr_set(err, ERR_HOST_CANNOT_DESTROY_SELF, href, NULL);
		for (struct db_obj *vm = db_first(ctx->db, SC_C_VM); vm && rc == 0; vm = db_next(vm))
			if (!db_peek_bool(vm, SC_F_VM__is_control_domain) &&
			    !strcmp(db_peek_str(vm, SC_F_VM__resident_on), href))
				rc = xerr_set(err, ERR_HOST_HAS_RESIDENT_VMS, href, NULL);
	}
	db_unlock(ctx->db);
	if (rc < 0)
		return -1;
	/* a heartbeat may be late: a host that answers is live */
	if (srv->raft && address[0] && pool_member_answers(srv, uuid, address))
		return xerr_set(err, ERR_HOST_IS_LIVE, href, NULL);
	pthread_mutex_lock(&join_lock);
	bool member = false;
	if (srv->raft && id) {
		struct pool_raft_member ms[64];
		unsigned n = pool_raft_members(srv->raft, ms, 64);
		for (unsigned i = 0; i < n && !member; i++)
			member = ms[i].id == id;
	}
	rc = member ? change_members(srv, id, NULL, false, err) : 0;
	if (rc == 0)
		rc = delete_host_records(srv, href, err);
	if (rc == 0) {
		char *cert = xasprintf("%s/%s/%s.pem", srv->cfg.data_dir, POOL_CERTS_DIR, uuid);
		unlink(cert);
		free(cert);
		log_info("pool: host %s (%s) forgotten%s", uuid, address, member ? ", and out of Raft" : "");
	}
	pthread_mutex_unlock(&join_lock);
	return rc;
}

/* ---- pool.rotate_secret ---- */

/* The secret in two steps, so that no host refuses another meanwhile:
 * every host first accepts the new one beside its own (staged), then each
 * takes it as its own and drops the old. */
static int secret_step(struct server *srv, const char *step, const char *secret, struct xerr *err)
{
	char *sp = data_path(srv, POOL_SECRET_FILE), *stp = data_path(srv, POOL_SECRET_STAGED_FILE);
	int rc = 0;
	if (!strcmp(step, "stage")) {
		char *text = xasprintf("%s\n", secret);
		rc = write_file(stp, text, err);
		free(text);
	} else if (!strcmp(step, "commit")) {
		char *staged = read_line(stp);
		if (!staged || strcmp(staged, secret) != 0)
			rc = xerr_internal(err, "pool: no such secret staged here");
		else if (rename(stp, sp) < 0)
			rc = xerr_internal(err, "cannot replace %s: %s", sp, strerror(errno));
		free(staged);
	} else if (!strcmp(step, "abort")) {
		unlink(stp);
	} else {
		rc = xerr_set(err, ERR_INVALID_VALUE, "step", step, NULL);
	}
	free(sp);
	free(stp);
	return rc;
}

/* The internal pool.secret_step(step, secret), from the master under the
 * pool's session only. */
static int pool_secret_step(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (!pool_call_is_forwarded(ctx))
		return xerr_set(err, ERR_PERMISSION_DENIED, "pool.secret_step is the pool's own", NULL);
	const char *secret = arg_str(args, 1);
	if (strlen(secret) != UUID_STRLEN)
		return xerr_set(err, ERR_INVALID_VALUE, "secret", "", NULL);
	return secret_step(ctx->srv, arg_str(args, 0), secret, err);
}

/* Runs the step on every other host; the hosts it reached in done. */
static int secret_everywhere(struct server *srv, xv *hosts, const char *step, const char *secret, xv *done,
			     struct xerr *err)
{
	for (size_t i = 0; i < xv_len(hosts); i++) {
		const char *href = xv_as_str(xv_arr_get(hosts, i));
		xv a = xv_arr_new(), r = XV_NIL_INIT;
		xv_arr_push_str(&a, step);
		xv_arr_push_str(&a, secret);
		struct xerr e = XERR_INIT;
		int rc = pool_call_on_host_within(srv, href, "pool.secret_step", &a, 10, &r, &e);
		xv_free(&a);
		xv_free(&r);
		if (rc < 0) {
			log_warn("pool.rotate_secret: %s on %s: %s", step, href, e.nparams ? e.params[0] : e.code);
			xerr_clear(&e);
			return xerr_set(err, ERR_CANNOT_CONTACT_HOST, href, NULL);
		}
		if (done)
			xv_arr_push_str(done, href);
	}
	return 0;
}

/* pool.rotate_secret: a new pool secret on every host; the old one no
 * longer opens the pool's session anywhere. Every host must be reached
 * (CANNOT_CONTACT_HOST, and nothing changes). */
static int pool_rotate_secret(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)result;
	struct server *srv = ctx->srv;
	pthread_mutex_lock(&join_lock);
	char *old = pool_secret(srv, true, err);
	if (!old) {
		pthread_mutex_unlock(&join_lock);
		return -1;
	}
	free(old);
	xv others = xv_arr_new(), staged = xv_arr_new();
	db_rdlock(srv->db);
	for (struct db_obj *h = db_first(srv->db, SC_C_host); h; h = db_next(h))
		if (strcmp(h->ref, srv->host_ref) != 0)
			xv_arr_push_str(&others, h->ref);
	db_unlock(srv->db);
	char secret[UUID_STRLEN + 1];
	uuid_generate_str(secret);
	int rc = secret_step(srv, "stage", secret, err);
	if (rc == 0 && secret_everywhere(srv, &others, "stage", secret, &staged, err) < 0) {
		struct xerr e = XERR_INIT;
		secret_everywhere(srv, &staged, "abort", secret, NULL, &e);
		xerr_clear(&e);
		secret_step(srv, "abort", secret, &e);
		xerr_clear(&e);
		rc = -1;
	}
	/* every host takes both now: the others switch first (asked with the
	 * old secret, still theirs; what they send meanwhile comes with the
	 * new one, staged here), then this host */
	struct xerr ce = XERR_INIT;
	if (rc == 0 && secret_everywhere(srv, &others, "commit", secret, NULL, &ce) < 0)
		log_error("pool.rotate_secret: a host did not take the new secret");
	xerr_clear(&ce);
	if (rc == 0)
		rc = secret_step(srv, "commit", secret, err);
	if (rc == 0)
		log_info("pool: secret rotated on %zu host(s)", xv_len(&others) + 1);
	xv_free(&others);
	xv_free(&staged);
	pthread_mutex_unlock(&join_lock);
	return rc;
}

/* ---- a member at start ---- */

void pool_member_refresh(struct server *srv)
{
	struct hostinfo hi;
	hostinfo_read(&hi, NULL, NULL, 0);
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *h = this_host(srv);
	if (h && hi.address[0] && strcmp(db_peek_str(h, SC_F_host__address), hi.address)) {
		log_info("pool: this host's address is now %s", hi.address);
		db_set_str(t, h, SC_F_host__address, hi.address);
	}
	struct xerr e = XERR_INIT;
	if (db_commit(t, &e) < 0)
		log_warn("pool: updating this host's address: %s", e.nparams ? e.params[0] : e.code);
	xerr_clear(&e);
	hostinfo_free(&hi);
}

/* ---- heartbeats: the master marks host_metrics.live ---- */

/* A host that (again) answers gets every certificate of the pool it may
 * lack (one it missed while restarting), so it can talk TLS to all if it
 * becomes master, and the pool's CAs and revocation lists. */
static void push_certs(struct server *srv, const char *uuid)
{
	db_rdlock(srv->db);
	struct db_obj *h = db_lookup_uuid(srv->db, SC_C_host, uuid), *me = this_host(srv);
	char href[REF_STRLEN + 1], mine[UUID_STRLEN + 1];
	snprintf(href, sizeof href, "%s", h ? h->ref : "");
	snprintf(mine, sizeof mine, "%s", me ? db_peek_str(me, SC_F_host__uuid) : "");
	db_unlock(srv->db);
	if (!href[0])
		return;
	struct xerr te = XERR_INIT;
	if (pool_trust_push(srv, href, &te) < 0)
		log_warn("pool: the pool's CAs and CRLs not passed to %s: %s", uuid, te.code ? te.code : "?");
	xerr_clear(&te);
	char *dir = data_path(srv, POOL_CERTS_DIR);
	DIR *d = opendir(dir);
	xv one = xv_arr_new();
	char *own = own_cert(srv);
	if (own && mine[0]) {
		xv_arr_push_str(&one, mine);
		xv_arr_push(&one, xv_str_own(own));
		own = NULL;
	}
	free(own);
	for (struct dirent *e = NULL;;) {
		if (xv_len(&one) == 2) {
			struct xerr err = XERR_INIT;
			if (pool_call_on_host(srv, href, "pool.exchange_certificates_on_join", &one, NULL, NULL, &err) < 0)
				log_warn("pool: certificates not passed to %s: %s", uuid, err.code ? err.code : "?");
			xerr_clear(&err);
		}
		xv_free(&one);
		one = xv_arr_new();
		if (!d || !(e = readdir(d)))
			break;
		size_t len = strlen(e->d_name);
		if (len != UUID_STRLEN + 4 || strcmp(e->d_name + UUID_STRLEN, ".pem") || !strncmp(e->d_name, uuid, UUID_STRLEN))
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		char *pem = file_read(path, 0, NULL);
		free(path);
		if (pem) {
			xv_arr_push(&one, xv_strn(e->d_name, UUID_STRLEN));
			xv_arr_push(&one, xv_str_own(pem));
		}
	}
	xv_free(&one);
	if (d)
		closedir(d);
	free(dir);
}

static pthread_t hb_thread;
static bool hb_running;
static volatile bool hb_stop;

static void *heartbeat_main(void *arg)
{
	struct server *srv = arg;
	while (!hb_stop) {
		struct pool_raft *raft = __atomic_load_n(&srv->raft, __ATOMIC_ACQUIRE);
		if (raft)
			pool_hosts_refresh(srv);
		if (raft && pool_raft_is_leader(raft)) {
			struct probe {
				char metrics[REF_STRLEN + 1], ref[REF_STRLEN + 1], uuid[UUID_STRLEN + 1], address[128];
				bool self, live, was;
			} pr[64];
			size_t n = 0;
			db_rdlock(srv->db);
			for (struct db_obj *h = db_first(srv->db, SC_C_host); h && n < 64; h = db_next(h)) {
				struct db_obj *m = db_lookup_cls(srv->db, SC_C_host_metrics,
								 db_peek_str(h, SC_F_host__metrics));
				if (!m)
					continue;
				snprintf(pr[n].metrics, sizeof pr[n].metrics, "%s", m->ref);
				snprintf(pr[n].ref, sizeof pr[n].ref, "%s", h->ref);
				snprintf(pr[n].address, sizeof pr[n].address, "%s", db_peek_str(h, SC_F_host__address));
				snprintf(pr[n].uuid, sizeof pr[n].uuid, "%s", db_peek_str(h, SC_F_host__uuid));
				pr[n].self = !strcmp(h->ref, srv->host_ref);
				pr[n].was = db_peek_bool(m, SC_F_host_metrics__live);
				n++;
			}
			db_unlock(srv->db);
			bool change = false;
			for (size_t i = 0; i < n && !hb_stop; i++) {
				pr[i].live = pr[i].self || pool_member_answers(srv, pr[i].uuid, pr[i].address);
				change |= pr[i].live != pr[i].was;
			}
			if (change && !hb_stop) {
				struct db_txn *t = db_begin(srv->db);
				for (size_t i = 0; i < n; i++) {
					struct db_obj *m = db_lookup_cls(srv->db, SC_C_host_metrics, pr[i].metrics);
					if (m && pr[i].live != pr[i].was)
						db_set_bool(t, m, SC_F_host_metrics__live, pr[i].live);
				}
				struct xerr e = XERR_INIT;
				db_commit(t, &e);
				xerr_clear(&e);
				for (size_t i = 0; i < n && !hb_stop; i++)
					if (pr[i].live && !pr[i].was && !pr[i].self)
						push_certs(srv, pr[i].uuid);
			}
			for (size_t i = 0; i < n && !hb_stop; i++)
				if (pr[i].live && pr[i].was && !pr[i].self)
					pool_trust_retry(srv, pr[i].ref);
		}
		for (int i = 0; i < 20 && !hb_stop; i++)
			usleep(100000);
	}
	return NULL;
}

void pool_heartbeat_start(struct server *srv)
{
	hb_stop = false;
	hb_running = pthread_create(&hb_thread, NULL, heartbeat_main, srv) == 0;
}

void pool_heartbeat_stop(void)
{
	if (!hb_running)
		return;
	hb_stop = true;
	pthread_join(hb_thread, NULL);
	hb_running = false;
}

/* ---- the table ---- */

static const struct sc_type t_string = {.kind = SC_STRING, .text = "string"};
static const struct sc_type t_map = {
	.kind = SC_MAP, .key = &t_string, .val = &t_string, .text = "(string -> string) map"};
static const struct sc_type t_void = {.kind = SC_VOID, .text = "void"};
static const struct sc_param merge_params[] = {
	{"host_uuid", &t_string}, {"address", &t_string}, {"entry", &t_string}};
static const struct sc_param eject_params[] = {{"pool_secret", &t_string}, {"host_uuid", &t_string}};

#define POOL_ADMIN (SC_ROLE_POOL_ADMIN | SC_ROLE_POOL_OPERATOR)

static const struct sc_message msg_initial_auth = {
	.name = "initial_auth", .session = true, .roles = SC_ROLE_POOL_ADMIN, .nparams = 0,
	.result = &t_string};
static const struct sc_message msg_join_merge = {
	.name = "join_merge", .session = true, .roles = POOL_ADMIN, .nparams = 3,
	.params = merge_params, .result = &t_map};
static const struct sc_param exchange_params[] = {{"uuid", &t_string}, {"certificate", &t_string}};
static const struct sc_message msg_exchange = {
	.name = "exchange_certificates_on_join", .session = true, .roles = SC_ROLE_POOL_ADMIN, .nparams = 2,
	.params = exchange_params, .result = &t_map};
static const struct sc_param secret_params[] = {{"step", &t_string}, {"secret", &t_string}};
static const struct sc_message msg_secret_step = {
	.name = "secret_step", .session = true, .roles = SC_ROLE_POOL_ADMIN, .nparams = 2,
	.params = secret_params, .result = &t_void};
static const struct sc_message msg_eject_self = {
	.name = "eject_self", .session = false, .nparams = 2, .params = eject_params, .result = &t_void};

RPC_IMPL(pool, join, pool_join, RPC_SLOW);
RPC_IMPL(pool, join_force, pool_join_force, RPC_SLOW);
RPC_IMPL(pool, eject, pool_eject, RPC_SLOW);
RPC_EXTRA(pool, initial_auth, &msg_initial_auth, initial_auth, 0);
RPC_EXTRA(pool, join_merge, &msg_join_merge, join_merge, RPC_SLOW);
RPC_EXTRA(pool, eject_self, &msg_eject_self, eject_self, RPC_SLOW);
RPC_EXTRA(pool, exchange_certificates_on_join, &msg_exchange, exchange_certificates, RPC_SLOW);
RPC_EXTRA(pool, secret_step, &msg_secret_step, pool_secret_step, RPC_SLOW);
RPC_IMPL(pool, rotate_secret, pool_rotate_secret, RPC_SLOW);
RPC_IMPL(host, destroy, host_destroy, RPC_SLOW);
