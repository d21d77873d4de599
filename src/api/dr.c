/* dr: disaster recovery, as XenServer's. A pool keeps its database in a
 * VDI of type metadata on each SR given to SR.enable_database_replication
 * (an SR whose SM declares SR_METADATA): a header block (magic, pool uuid,
 * length) then the SQLite image of the store, rewritten by a writer
 * thread after changes, at most once a second. Another pool that reaches
 * the SR opens that database (VDI.open_database, or a file with
 * session.create_from_db_file) as a session answered read-only from it,
 * and recovers its VMs (dr_recover.c). DR_task.destroy forgets the SRs a
 * task introduced. */
#include "api.h"
#include "storage.h"
#include "../base/file.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../db/durable.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DR_MAGIC "XENON-DR-DB 1\n"
#define DR_HDR 4096
#define DR_VDI_SIZE (256LL << 20) /* as xapi's metadata VDIs */
#define DR_INTERVAL_MS 1000
#define DR_FILE_MAX (1LL << 30)

/* The SM's features: its record's, else its driver's (an SR introduced
 * has no SM record made by SR.create). */
static bool sm_has_feature(struct db *db, const char *type, const char *feature)
{
	const struct sm_driver *drv = sm_driver_find(type);
	for (const char *const *f = drv && drv->features ? drv->features : NULL; f && f[0]; f += 2)
		if (!strcmp(f[0], feature))
			return true;
	for (struct db_obj *sm = db_first(db, SC_C_SM); sm; sm = db_next(sm))
		if (!strcmp(db_peek_str(sm, SC_F_SM__type), type))
			return xv_map_get(db_peek(sm, SC_F_SM__features), feature) != NULL;
	return false;
}

/* ---- the database as a VDI holds it ---- */

/* The header's pool uuid and image length; -1 when buf holds none. */
static int parse_header(const char *buf, size_t have, char pool[UUID_STRLEN + 1], size_t *len)
{
	if (have < DR_HDR || strncmp(buf, DR_MAGIC, strlen(DR_MAGIC)))
		return -1;
	char hdr[DR_HDR + 1];
	memcpy(hdr, buf, DR_HDR);
	hdr[DR_HDR] = 0;
	const char *p = strstr(hdr, "\npool "), *l = strstr(hdr, "\nlength ");
	if (!p || !l || sscanf(p + 6, "%36s", pool) != 1 || !uuid_is_valid(pool))
		return -1;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(l + 8, &end, 10);
	if (errno || *end != '\n' || n < 100 || n > (unsigned long long)DR_FILE_MAX)
		return -1;
	*len = (size_t)n;
	return 0;
}

/* A store holding the image's rows, or NULL with err. */
static struct db *db_of_image(const void *img, size_t len, struct xerr *err)
{
	struct db *db = db_open(NULL, err);
	if (!db)
		return NULL;
	struct xerr e = XERR_INIT;
	if (db_install_image(db, img, len, 0, NULL, &e) < 0 || !db_first(db, SC_C_pool)) {
		log_warn("dr: no database in the image: %s", e.nparams ? e.params[0] : "no pool");
		xerr_clear(&e);
		db_close(db);
		xerr_set(err, ERR_COULD_NOT_IMPORT_DATABASE, "the image holds no pool database", NULL);
		return NULL;
	}
	return db;
}

/* Opens the SR of a VDI record and the driver's view of it, under the
 * read lock. */
static int vdi_open(struct rpc_ctx *ctx, struct db_obj *v, struct sm_sr *sr, struct sm_vdi *view,
		    struct xerr *err)
{
	struct db_obj *sro = db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(v, SC_F_VDI__SR));
	if (!sro)
		return handle_invalid(err, SC_C_SR, db_peek_str(v, SC_F_VDI__SR));
	if (storage_sr_open(ctx, sro, true, sr, err) < 0)
		return -1;
	storage_vdi_view(v, view);
	return 0;
}

/* The database a VDI holds: the pool's uuid and the whole buffer read
 * (the image at DR_HDR, *len bytes); 1 when the VDI holds none. */
static int read_vdi(struct sm_sr *sr, const struct sm_vdi *view, char pool[UUID_STRLEN + 1], void **buf,
		    size_t *len, struct xerr *err)
{
	*buf = NULL;
	if (view->virtual_size < DR_HDR)
		return 1;
	void *hdr = NULL;
	if (sm_vdi_read_data(sr, view, DR_HDR, &hdr, err) < 0)
		return -1;
	int rc = parse_header(hdr, DR_HDR, pool, len);
	free(hdr);
	if (rc < 0 || *len > (size_t)view->virtual_size - DR_HDR)
		return 1;
	if (sm_vdi_read_data(sr, view, DR_HDR + *len, buf, err) < 0)
		return -1;
	return 0;
}

/* ---- the writer ---- */

struct written {
	char vdi[REF_STRLEN + 1];
	uint64_t gen;
};

static struct {
	pthread_mutex_t lock; /* the fields below */
	pthread_mutex_t io;   /* one write at a time */
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stop;
	struct server *srv;
	struct written *w;
	size_t nw;
} W = {.lock = PTHREAD_MUTEX_INITIALIZER, .io = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static uint64_t *written_gen(const char *vdi)
{
	for (size_t i = 0; i < W.nw; i++)
		if (!strcmp(W.w[i].vdi, vdi))
			return &W.w[i].gen;
	W.w = xrealloc(W.w, (W.nw + 1) * sizeof *W.w);
	snprintf(W.w[W.nw].vdi, sizeof W.w[W.nw].vdi, "%s", vdi);
	W.w[W.nw].gen = 0;
	return &W.w[W.nw++].gen;
}

/* Writes the pool's database into a metadata VDI, unless it holds this
 * generation already (or force). */
static int write_vdi(struct server *srv, const char *vdi_ref, bool force, struct xerr *err)
{
	struct rpc_ctx c = {.srv = srv, .db = srv->db, .cls = SC_C_VDI, .proto = -1};
	struct sm_sr sr = {0};
	struct sm_vdi view;
	sm_vdi_init(&view);
	char pool[UUID_STRLEN + 1] = "";
	pthread_mutex_lock(&W.io);
	db_rdlock(srv->db);
	uint64_t gen = db_generation(srv->db);
	struct db_obj *v = db_lookup_cls(srv->db, SC_C_VDI, vdi_ref), *p = db_first(srv->db, SC_C_pool);
	int rc = v && p ? vdi_open(&c, v, &sr, &view, err) : handle_invalid(err, SC_C_VDI, vdi_ref);
	if (p)
		snprintf(pool, sizeof pool, "%s", db_peek_str(p, SC_F_pool__uuid));
	db_unlock(srv->db);
	pthread_mutex_lock(&W.lock);
	uint64_t *have = written_gen(vdi_ref);
	bool skip = !force && *have == gen;
	pthread_mutex_unlock(&W.lock);
	void *img = NULL;
	size_t len = 0;
	uint64_t idx;
	char *path = xasprintf("%s/db.sqlite", srv->cfg.data_dir);
	if (rc == 0 && !skip && durable_image(path, malloc, &img, &len, &idx, err) == 0) {
		if (DR_HDR + len > (size_t)view.virtual_size) {
			rc = xerr_set(err, ERR_SR_FULL, "database", "metadata VDI", NULL);
		} else {
			char *buf = xcalloc(1, DR_HDR + len);
			snprintf(buf, DR_HDR, "%spool %s\nlength %zu\ngeneration %llu\n", DR_MAGIC, pool, len,
				 (unsigned long long)gen);
			memcpy(buf + DR_HDR, img, len);
			rc = sm_vdi_write_data(&sr, &view, buf, DR_HDR + len, err);
			free(buf);
		}
		free(img);
		if (rc == 0) {
			pthread_mutex_lock(&W.lock);
			*written_gen(vdi_ref) = gen;
			pthread_mutex_unlock(&W.lock);
		}
	} else if (rc == 0 && !skip) {
		rc = -1;
	}
	free(path);
	sm_vdi_free(&view);
	sm_sr_close(&sr);
	pthread_mutex_unlock(&W.io);
	return rc;
}

/* The metadata VDIs of this pool on SRs this host has plugged, and its
 * redo log's VDI while pool.redo_log_enabled (redo_log.c); only the pool's
 * master writes. */
static xv replica_vdis(struct server *srv)
{
	xv out = xv_arr_new();
	db_rdlock(srv->db);
	struct db_obj *p = db_first(srv->db, SC_C_pool);
	bool master = p && !strcmp(db_peek_str(p, SC_F_pool__master), srv->host_ref);
	const char *redo = master && db_peek_bool(p, SC_F_pool__redo_log_enabled) ? db_peek_str(p, SC_F_pool__redo_log_vdi)
										 : "";
	for (struct db_obj *v = master ? db_first(srv->db, SC_C_VDI) : NULL; v; v = db_next(v)) {
		if ((strcmp(db_peek_str(v, SC_F_VDI__type), "metadata") ||
		     strcmp(db_peek_str(v, SC_F_VDI__metadata_of_pool), p->ref)) &&
		    strcmp(v->ref, redo))
			continue;
		struct db_obj *sr = db_lookup_cls(srv->db, SC_C_SR, db_peek_str(v, SC_F_VDI__SR));
		struct db_obj *pbd = sr ? storage_pbd(srv->db, srv->host_ref, sr) : NULL;
		if (pbd && db_peek_bool(pbd, SC_F_PBD__currently_attached))
			xv_arr_push_str(&out, v->ref);
	}
	db_unlock(srv->db);
	return out;
}

static void *writer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&W.lock);
	while (!W.stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)DR_INTERVAL_MS % 1000 * 1000000L;
		ts.tv_sec += DR_INTERVAL_MS / 1000 + ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&W.cond, &W.lock, &ts);
		if (W.stop)
			break;
		struct server *srv = W.srv;
		pthread_mutex_unlock(&W.lock);
		xv vdis = replica_vdis(srv);
		for (size_t i = 0; i < xv_len(&vdis); i++) {
			struct xerr e = XERR_INIT;
			if (write_vdi(srv, xv_as_str(xv_arr_get(&vdis, i)), false, &e) < 0)
				log_warn("dr: cannot write the database to VDI %s: %s %s",
					 xv_as_str(xv_arr_get(&vdis, i)), e.code, e.nparams > 1 ? e.params[1] : e.nparams ? e.params[0] : "");
			xerr_clear(&e);
		}
		xv_free(&vdis);
		pthread_mutex_lock(&W.lock);
	}
	pthread_mutex_unlock(&W.lock);
	return NULL;
}

void dr_start(struct server *srv)
{
	pthread_mutex_lock(&W.lock);
	W.srv = srv;
	W.stop = false;
	W.running = pthread_create(&W.thread, NULL, writer, NULL) == 0;
	pthread_mutex_unlock(&W.lock);
}

void dr_stop(void)
{
	pthread_mutex_lock(&W.lock);
	bool running = W.running;
	W.stop = true;
	pthread_cond_signal(&W.cond);
	pthread_mutex_unlock(&W.lock);
	if (running)
		pthread_join(W.thread, NULL);
	W.running = false;
	free(W.w);
	W.w = NULL;
	W.nw = 0;
}

int dr_write_now(struct server *srv, const char *vdi_ref, struct xerr *err)
{
	int rc = write_vdi(srv, vdi_ref, true, err);
	pthread_mutex_lock(&W.lock);
	pthread_cond_signal(&W.cond);
	pthread_mutex_unlock(&W.lock);
	return rc;
}

void dr_quiesce(void)
{
	pthread_mutex_lock(&W.io);
	pthread_mutex_unlock(&W.io);
}

/* ---- SR.*_database_replication ---- */

/* xapi_sr.ml assert_supports_database_replication: every host has a
 * plugged PBD of the SR (SR_HAS_NO_PBDS), its SM has SR_METADATA. */
static int assert_replication(struct rpc_ctx *ctx, struct db_obj *sr, struct xerr *err)
{
	xv pbds = db_get(ctx->db, sr, SC_F_SR__PBDs);
	size_t hosts = db_count(ctx->db, SC_C_host), plugged = 0;
	for (size_t i = 0; i < xv_len(&pbds); i++) {
		struct db_obj *p = db_lookup_cls(ctx->db, SC_C_PBD, xv_as_str(xv_arr_get(&pbds, i)));
		plugged += p && db_peek_bool(p, SC_F_PBD__currently_attached);
	}
	size_t n = xv_len(&pbds);
	xv_free(&pbds);
	if (n < hosts || plugged < n)
		return xerr_set(err, ERR_SR_HAS_NO_PBDS, sr->ref, NULL);
	if (!sm_has_feature(ctx->db, db_peek_str(sr, SC_F_SR__type), "SR_METADATA"))
		return xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, sr->ref, NULL);
	return 0;
}

static int sr_assert_supports_replication(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *sr = generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 0), err);
	int rc = sr ? assert_replication(ctx, sr, err) : -1;
	db_unlock(ctx->db);
	return rc;
}

/* The metadata VDIs of this pool on sr. */
static xv pool_vdis_on(struct db *db, struct db_obj *sr)
{
	struct db_obj *pool = db_first(db, SC_C_pool);
	xv out = xv_arr_new();
	xv vdis = db_get(db, sr, SC_F_SR__VDIs);
	for (size_t i = 0; pool && i < xv_len(&vdis); i++) {
		struct db_obj *v = db_lookup_cls(db, SC_C_VDI, xv_as_str(xv_arr_get(&vdis, i)));
		if (v && !strcmp(db_peek_str(v, SC_F_VDI__type), "metadata") &&
		    !strcmp(db_peek_str(v, SC_F_VDI__metadata_of_pool), pool->ref))
			xv_arr_push_str(&out, v->ref);
	}
	xv_free(&vdis);
	return out;
}

/* A metadata VDI of this pool on the SR (made unless there is one) holds
 * the database from now on; it is written once before the call returns
 * and the VDI made goes again when that fails. */
static int sr_enable_replication(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *sr = generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 0), err);
	int rc = sr ? assert_replication(ctx, sr, err) : -1;
	char sr_ref[REF_STRLEN + 1] = "", vdi[REF_STRLEN + 1] = "";
	if (rc == 0) {
		snprintf(sr_ref, sizeof sr_ref, "%s", sr->ref);
		xv have = pool_vdis_on(ctx->db, sr);
		if (xv_len(&have))
			snprintf(vdi, sizeof vdi, "%s", xv_as_str(xv_arr_get(&have, 0)));
		xv_free(&have);
	}
	db_unlock(ctx->db);
	if (rc < 0)
		return -1;
	bool made = false;
	if (!vdi[0]) {
		xv rec = xv_map_new();
		xv_map_set_str(&rec, "SR", sr_ref);
		xv_map_set_str(&rec, "name_label", "Metadata for DR");
		xv_map_set_str(&rec, "name_description", "Used for disaster recovery");
		xv_map_set(&rec, "virtual_size", xv_int(DR_VDI_SIZE));
		xv_map_set_str(&rec, "type", "metadata");
		xv res = XV_NIL_INIT;
		rc = vdi_create(ctx, &rec, &res, err);
		xv_free(&rec);
		if (rc < 0)
			return -1;
		snprintf(vdi, sizeof vdi, "%s", xv_as_str(&res));
		xv_free(&res);
		made = true;
		struct db_txn *t = db_begin(ctx->db);
		struct db_obj *v = db_lookup_cls(ctx->db, SC_C_VDI, vdi), *p = db_first(ctx->db, SC_C_pool);
		if (v && p)
			db_set_str(t, v, SC_F_VDI__metadata_of_pool, p->ref);
		rc = db_commit(t, err);
	}
	if (rc == 0)
		rc = write_vdi(ctx->srv, vdi, true, err);
	if (rc < 0 && made) {
		struct xerr e = XERR_INIT;
		vdi_destroy(ctx, vdi, &e);
		xerr_clear(&e);
	}
	if (rc == 0) {
		db_rdlock(ctx->db);
		struct db_obj *v = db_lookup_cls(ctx->db, SC_C_VDI, vdi);
		bool latest = v && db_peek_bool(v, SC_F_VDI__metadata_latest);
		db_unlock(ctx->db);
		if (v && !latest) {
			struct db_txn *t = db_begin(ctx->db);
			v = db_lookup_cls(ctx->db, SC_C_VDI, vdi);
			if (v)
				db_set_bool(t, v, SC_F_VDI__metadata_latest, true);
			rc = db_commit(t, err);
		}
		pthread_mutex_lock(&W.lock);
		pthread_cond_signal(&W.cond);
		pthread_mutex_unlock(&W.lock);
	}
	return rc;
}

/* xapi: the pool's metadata VDIs on the SR stop being written and are
 * destroyed. */
static int sr_disable_replication(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *sr = generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 0), err);
	xv gone = sr ? pool_vdis_on(ctx->db, sr) : xv_arr_new();
	db_unlock(ctx->db);
	int rc = sr ? 0 : -1;
	/* no write under way from here: the writer finds the VDI gone */
	pthread_mutex_lock(&W.io);
	for (size_t i = 0; rc == 0 && i < xv_len(&gone); i++)
		rc = vdi_destroy(ctx, xv_as_str(xv_arr_get(&gone, i)), err);
	pthread_mutex_unlock(&W.io);
	xv_free(&gone);
	return rc;
}

/* ---- reading a database back ---- */

/* The database a VDI holds (uuid of its pool, the store), for
 * VDI.open_database and read_database_pool_uuid. A VDI of another type
 * whose data is a database (a metadata VDI a scan found again after its
 * SR was introduced) becomes type metadata. Returns 1 when the VDI holds
 * none. */
static int vdi_database(struct rpc_ctx *ctx, const xv *ref, char pool[UUID_STRLEN + 1], struct db **out,
			struct xerr *err)
{
	struct sm_sr sr = {0};
	struct sm_vdi view;
	sm_vdi_init(&view);
	char vdi[REF_STRLEN + 1] = "";
	bool metadata = false;
	db_rdlock(ctx->db);
	struct db_obj *v = generic_lookup(ctx, SC_C_VDI, ref, err);
	int rc = v ? vdi_open(ctx, v, &sr, &view, err) : -1;
	if (v) {
		snprintf(vdi, sizeof vdi, "%s", v->ref);
		/* a redo log's VDI holds the same image and keeps its type */
		metadata = !strcmp(db_peek_str(v, SC_F_VDI__type), "metadata") ||
			   !strcmp(db_peek_str(v, SC_F_VDI__type), "redo_log");
	}
	db_unlock(ctx->db);
	void *buf = NULL;
	size_t len = 0;
	if (rc == 0)
		rc = read_vdi(&sr, &view, pool, &buf, &len, err);
	sm_vdi_free(&view);
	sm_sr_close(&sr);
	if (rc == 0 && out) {
		*out = db_of_image((char *)buf + DR_HDR, len, err);
		rc = *out ? 0 : -1;
	}
	free(buf);
	if (rc == 0 && !metadata) {
		struct db_txn *t = db_begin(ctx->db);
		v = db_lookup_cls(ctx->db, SC_C_VDI, vdi);
		if (v)
			db_set_str(t, v, SC_F_VDI__type, "metadata");
		struct xerr e = XERR_INIT;
		db_commit(t, &e);
		xerr_clear(&e);
	}
	return rc;
}

/* VDI.open_database: a session whose calls read the database the VDI
 * holds; COULD_NOT_IMPORT_DATABASE when it holds none. */
static int vdi_open_database(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	if (!ctx->srv || !ctx->srv->open_foreign_session)
		return xerr_internal(err, "no sessions on other databases here");
	char pool[UUID_STRLEN + 1];
	struct db *db = NULL;
	int rc = vdi_database(ctx, xv_arr_get(args, 0), pool, &db, err);
	if (rc == 1) {
		db_rdlock(ctx->db);
		struct db_obj *v = db_lookup_cls(ctx->db, SC_C_VDI, arg_str(args, 0));
		if (v && strcmp(db_peek_str(v, SC_F_VDI__type), "metadata"))
			rc = xerr_set(err, ERR_VDI_INCOMPATIBLE_TYPE, v->ref, db_peek_str(v, SC_F_VDI__type), NULL);
		else
			rc = xerr_set(err, ERR_COULD_NOT_IMPORT_DATABASE, "no database found on the VDI", NULL);
		db_unlock(ctx->db);
	}
	if (rc < 0)
		return -1;
	char ref[REF_STRLEN + 1];
	if (ctx->srv->open_foreign_session(ctx->srv, ctx, db, ref, err) < 0)
		return -1;
	log_info("dr: session %.20s… reads the database of pool %s", ref + 10, pool);
	*result = xv_str(ref);
	return 0;
}

/* The uuid of the pool whose database the VDI holds, "" when none. */
static int vdi_read_database_pool_uuid(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	char pool[UUID_STRLEN + 1] = "";
	int rc = vdi_database(ctx, xv_arr_get(args, 0), pool, NULL, err);
	if (rc < 0)
		return -1;
	*result = xv_str(rc == 0 ? pool : "");
	return 0;
}

/* session.create_from_db_file(filename): a session on the database in a
 * local file — a pool database (SQLite, as db.sqlite or a metadata VDI's
 * image) or what a metadata VDI holds. Pool admins only, as xapi. */
static int session_create_from_db_file(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	if (!ctx->rbac_exempt && !(ctx->roles & SC_ROLE_POOL_ADMIN))
		return xerr_set(err, ERR_RBAC_PERMISSION_DENIED, "session.create_from_db_file",
				"The session's role is not pool-admin", NULL);
	if (!ctx->srv || !ctx->srv->open_foreign_session)
		return xerr_internal(err, "no sessions on other databases here");
	const char *name = arg_str(args, 0);
	size_t len;
	char *buf = file_read(name, (size_t)DR_FILE_MAX, &len);
	if (!buf)
		return xerr_set(err, ERR_COULD_NOT_IMPORT_DATABASE, strerror(errno), NULL);
	char pool[UUID_STRLEN + 1];
	size_t img_len = len;
	const char *img = buf;
	void *sql = NULL;
	uint64_t idx;
	struct xerr e = XERR_INIT;
	if (parse_header(buf, len, pool, &img_len) == 0 && DR_HDR + img_len <= len) {
		img = buf + DR_HDR;
	} else if (len >= 16 && !memcmp(buf, "SQLite format 3", 16)) {
		/* a database file: read through SQLite, with what its WAL holds */
		if (durable_image(name, malloc, &sql, &img_len, &idx, &e) == 0)
			img = sql;
		xerr_clear(&e);
	}
	struct db *db = db_of_image(img, img == buf ? len : img_len, err);
	free(sql);
	free(buf);
	if (!db)
		return -1;
	char ref[REF_STRLEN + 1];
	if (ctx->srv->open_foreign_session(ctx->srv, ctx, db, ref, err) < 0)
		return -1;
	*result = xv_str(ref);
	return 0;
}

/* ---- DR_task ---- */

/* The SRs whose metadata VDIs the storage device_config names holds:
 * each image of a database's size whose data is a database, the SR
 * record of that database that has the image as a VDI. An array of maps
 * (uuid, name_label, name_description). */
static int probe_metadata(const char *type, const xv *dc, xv *out, struct xerr *err)
{
	char tmp_uuid[UUID_STRLEN + 1];
	uuid_generate_str(tmp_uuid);
	struct sm_sr sr = {0};
	if (sm_sr_open(&sr, type, tmp_uuid, dc, err) < 0)
		return -1;
	struct sm_vdi_list l = {0};
	int rc = sr.drv->sr_attach ? sr.drv->sr_attach(&sr, err) : 0;
	bool attached = rc == 0;
	if (rc == 0) {
		storage_scan_lock();
		rc = sr.drv->sr_scan(&sr, &l, err);
		storage_unlock();
	}
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		if (l.v[i].hidden || l.v[i].virtual_size != DR_VDI_SIZE)
			continue;
		char pool[UUID_STRLEN + 1];
		void *buf = NULL;
		size_t len = 0;
		struct xerr e = XERR_INIT;
		int r = read_vdi(&sr, &l.v[i], pool, &buf, &len, &e);
		struct db *db = r == 0 ? db_of_image((char *)buf + DR_HDR, len, &e) : NULL;
		free(buf);
		xerr_clear(&e);
		if (!db)
			continue;
		struct db_obj *v = db_lookup_uuid(db, SC_C_VDI, l.v[i].uuid);
		struct db_obj *o = v ? db_lookup_cls(db, SC_C_SR, db_peek_str(v, SC_F_VDI__SR)) : NULL;
		xv *seen = NULL;
		for (size_t k = 0; o && k < xv_len(out); k++)
			if (!strcmp(xv_map_get_str(xv_arr_get(out, k), "uuid"), db_peek_str(o, SC_F_SR__uuid)))
				seen = (xv *)xv_arr_get(out, k);
		if (o && !seen) {
			xv m = xv_map_new();
			xv_map_set_str(&m, "uuid", db_peek_str(o, SC_F_SR__uuid));
			xv_map_set_str(&m, "name_label", db_peek_str(o, SC_F_SR__name_label));
			xv_map_set_str(&m, "name_description", db_peek_str(o, SC_F_SR__name_description));
			xv_map_set(&m, "metadata_VDIs", xv_arr_new());
			xv_arr_push(out, m);
			seen = (xv *)xv_arr_get(out, xv_len(out) - 1);
		}
		if (seen)
			xv_arr_push_str((xv *)xv_map_get(seen, "metadata_VDIs"), l.v[i].uuid);
		db_close(db);
	}
	sm_vdi_list_free(&l);
	if (attached && sr.drv->sr_detach) {
		struct xerr e = XERR_INIT;
		sr.drv->sr_detach(&sr, &e);
		xerr_clear(&e);
	}
	sm_sr_close(&sr);
	return rc;
}

/* Undoes what a DR task made of its SRs: PBDs unplugged and gone, SRs
 * forgotten. */
static void dr_undo(struct rpc_ctx *ctx, const xv *srs)
{
	for (size_t i = 0; i < xv_len(srs); i++) {
		const char *sr = xv_as_str(xv_arr_get(srs, i));
		db_rdlock(ctx->db);
		struct db_obj *o = db_lookup_cls(ctx->db, SC_C_SR, sr);
		xv pbds = o ? db_get(ctx->db, o, SC_F_SR__PBDs) : xv_arr_new();
		db_unlock(ctx->db);
		struct rpc_ctx sub = *ctx;
		xv res = XV_NIL_INIT;
		struct xerr e = XERR_INIT;
		for (size_t k = 0; k < xv_len(&pbds); k++) {
			xv a = xv_arr_new();
			xv_arr_push(&a, xv_copy(xv_arr_get(&pbds, k)));
			sub.cls = SC_C_PBD;
			rpc_impl_PBD__unplug.fn(&sub, &a, &res, &e);
			xerr_clear(&e);
			xv_free(&res);
			xv_free(&a);
		}
		xv_free(&pbds);
		xv a = xv_arr_new();
		xv_arr_push_str(&a, sr);
		sub.cls = SC_C_SR;
		rpc_impl_SR__forget.fn(&sub, &a, &res, &e);
		xerr_clear(&e);
		xv_free(&res);
		xv_free(&a);
	}
}

/* DR_task.create(type, device_config, whitelist), as xapi's: SR types
 * whose SM lacks SR_METADATA are refused before anything; the storage is
 * probed for the SRs whose metadata VDIs it holds, those of the whitelist
 * are introduced (shared, introduced_by the task) with a PBD of
 * device_config plugged on every host. An SR this pool has already is
 * left as it is. Any failure undoes the SRs and the task. */
static int dr_task_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const char *type = arg_str(args, 0);
	db_rdlock(ctx->db);
	bool meta = sm_has_feature(ctx->db, type, "SR_METADATA");
	db_unlock(ctx->db);
	if (!meta) {
		char *msg = xasprintf("Disaster recovery not supported on SRs of type %s", type);
		xerr_set(err, ERR_OPERATION_NOT_ALLOWED, msg, NULL);
		free(msg);
		return -1;
	}
	const xv *dc = xv_arr_get(args, 1), *white = xv_arr_get(args, 2);
	xv found = xv_arr_new(), made = xv_arr_new();
	int rc = probe_metadata(type, dc, &found, err);
	char task[REF_STRLEN + 1] = "";
	if (rc == 0) {
		struct db_txn *t = db_begin(ctx->db);
		struct db_obj *d = db_create(t, SC_C_DR_task, NULL);
		char u[UUID_STRLEN + 1];
		uuid_generate_str(u);
		db_set_str(t, d, SC_F_DR_task__uuid, u);
		snprintf(task, sizeof task, "%s", d->ref);
		rc = db_commit(t, err);
	}
	for (size_t i = 0; rc == 0 && i < xv_len(&found); i++) {
		const xv *m = xv_arr_get(&found, i);
		xv uuid = xv_str(xv_map_get_str(m, "uuid"));
		bool wanted = white && xv_arr_contains(white, &uuid);
		db_rdlock(ctx->db);
		bool have = db_lookup_uuid(ctx->db, SC_C_SR, xv_as_str(&uuid)) != NULL;
		db_unlock(ctx->db);
		if (!wanted || have) {
			xv_free(&uuid);
			continue;
		}
		struct rpc_ctx sub = *ctx;
		sub.cls = SC_C_SR;
		xv a = xv_arr_new(), res = XV_NIL_INIT;
		xv_arr_push(&a, uuid);
		xv_arr_push_str(&a, xv_map_get_str(m, "name_label"));
		xv_arr_push_str(&a, xv_map_get_str(m, "name_description"));
		xv_arr_push_str(&a, type);
		xv_arr_push_str(&a, "");
		xv_arr_push(&a, xv_bool(true));
		xv_arr_push(&a, xv_map_new());
		rc = rpc_impl_SR__introduce.fn(&sub, &a, &res, err);
		xv_free(&a);
		if (rc < 0)
			break;
		char sr[REF_STRLEN + 1];
		snprintf(sr, sizeof sr, "%s", xv_as_str(&res));
		xv_arr_push(&made, res);
		xv hosts = xv_arr_new();
		struct db_txn *t = db_begin(ctx->db);
		struct db_obj *o = db_lookup_cls(ctx->db, SC_C_SR, sr);
		if (o)
			db_set_str(t, o, SC_F_SR__introduced_by, task);
		for (struct db_obj *h = db_first(ctx->db, SC_C_host); h; h = db_next(h))
			xv_arr_push_str(&hosts, h->ref);
		rc = db_commit(t, err);
		for (size_t k = 0; rc == 0 && k < xv_len(&hosts); k++) {
			xv rec = xv_map_new(), pbd = XV_NIL_INIT;
			xv_map_set_str(&rec, "host", xv_as_str(xv_arr_get(&hosts, k)));
			xv_map_set_str(&rec, "SR", sr);
			xv_map_set(&rec, "device_config", xv_copy(dc));
			xv_map_set(&rec, "other_config", xv_map_new());
			sub.cls = SC_C_PBD;
			rc = generic_create(&sub, SC_C_PBD, &rec, &pbd, err);
			xv_free(&rec);
			if (rc == 0) {
				xv pa = xv_arr_new(), pres = XV_NIL_INIT;
				xv_arr_push(&pa, pbd);
				pbd = XV_NIL_INIT;
				rc = rpc_impl_PBD__plug.fn(&sub, &pa, &pres, err);
				xv_free(&pa);
				xv_free(&pres);
			}
			xv_free(&pbd);
		}
		xv_free(&hosts);
		/* the scan of the plug found the metadata VDIs as images */
		const xv *metas = xv_map_get(m, "metadata_VDIs");
		struct db_txn *mt = rc == 0 ? db_begin(ctx->db) : NULL;
		for (size_t k = 0; mt && k < xv_len(metas); k++) {
			struct db_obj *v = db_lookup_uuid(ctx->db, SC_C_VDI, xv_as_str(xv_arr_get(metas, k)));
			if (v)
				db_set_str(mt, v, SC_F_VDI__type, "metadata");
		}
		if (mt)
			rc = db_commit(mt, err);
	}
	if (rc < 0) {
		dr_undo(ctx, &made);
		if (task[0]) {
			struct db_txn *t = db_begin(ctx->db);
			struct db_obj *d = db_lookup_cls(ctx->db, SC_C_DR_task, task);
			if (d)
				db_delete(t, d);
			struct xerr e = XERR_INIT;
			db_commit(t, &e);
			xerr_clear(&e);
		}
	} else {
		*result = xv_str(task);
	}
	xv_free(&found);
	xv_free(&made);
	return rc;
}

/* DR_task.destroy: the SRs it introduced are unplugged and forgotten,
 * then the task. */
static int dr_task_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *d = generic_lookup(ctx, SC_C_DR_task, xv_arr_get(args, 0), err);
	char ref[REF_STRLEN + 1] = "";
	xv srs = d ? db_get(ctx->db, d, SC_F_DR_task__introduced_SRs) : xv_arr_new();
	if (d)
		snprintf(ref, sizeof ref, "%s", d->ref);
	db_unlock(ctx->db);
	int rc = d ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < xv_len(&srs); i++) {
		const char *sr = xv_as_str(xv_arr_get(&srs, i));
		db_rdlock(ctx->db);
		struct db_obj *o = db_lookup_cls(ctx->db, SC_C_SR, sr);
		xv pbds = o ? db_get(ctx->db, o, SC_F_SR__PBDs) : xv_arr_new();
		db_unlock(ctx->db);
		struct rpc_ctx sub = *ctx;
		for (size_t k = 0; rc == 0 && k < xv_len(&pbds); k++) {
			xv a = xv_arr_new();
			xv_arr_push(&a, xv_copy(xv_arr_get(&pbds, k)));
			sub.cls = SC_C_PBD;
			rc = rpc_impl_PBD__unplug.fn(&sub, &a, result, err);
			xv_free(&a);
		}
		xv_free(&pbds);
		if (rc == 0 && o) {
			xv a = xv_arr_new();
			xv_arr_push_str(&a, sr);
			sub.cls = SC_C_SR;
			rc = rpc_impl_SR__forget.fn(&sub, &a, result, err);
			xv_free(&a);
		}
	}
	xv_free(&srs);
	if (rc < 0)
		return -1;
	struct db_txn *t = db_begin(ctx->db);
	d = db_lookup_cls(ctx->db, SC_C_DR_task, ref);
	if (d)
		db_delete(t, d);
	return db_commit(t, err);
}

RPC_IMPL(DR_task, create, dr_task_create, RPC_SLOW);
RPC_IMPL(DR_task, destroy, dr_task_destroy, RPC_SLOW);
RPC_IMPL(SR, assert_supports_database_replication, sr_assert_supports_replication, 0);
RPC_IMPL(SR, enable_database_replication, sr_enable_replication, RPC_SLOW);
RPC_IMPL(SR, disable_database_replication, sr_disable_replication, RPC_SLOW);
RPC_IMPL(VDI, open_database, vdi_open_database, RPC_SLOW);
RPC_IMPL(VDI, read_database_pool_uuid, vdi_read_database_pool_uuid, RPC_SLOW);
RPC_IMPL(session, create_from_db_file, session_create_from_db_file, RPC_SLOW);
