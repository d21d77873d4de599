/* Unit tests of the storage drivers with real qemu-img: qcow2 creation,
 * copy-on-write snapshot/clone chains (checked with qemu-img info
 * --backing-chain and by reading data back), resize, delete with garbage
 * collection of bases, full copies, the ISO scan, failure clean-up and
 * hostile locations. Each test works in its own temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "formats/imgmap.h"
#include "formats/qcow2w.h"
#include "sm/sm.h"
#include "formats/img.h"
#include "base/jsonv.h"

#define MiB (INT64_C(1) << 20)

struct fx {
	char dir[64];
	struct sm_sr sr;
};

static void rm_rf(const char *path)
{
	const char *argv[] = {"rm", "-rf", path, NULL};
	struct sm_run r;
	sm_run(argv, &r);
	sm_run_free(&r);
}

static int open_sr(struct sm_sr *sr, const char *type, const char *key, const char *path)
{
	xv dc = xv_map_new();
	xv_map_set_str(&dc, key, path);
	char uuid[UUID_STRLEN + 1];
	uuid_generate_str(uuid);
	struct xerr e = XERR_INIT;
	int rc = sm_sr_open(sr, type, uuid, &dc, &e);
	xv_free(&dc);
	xerr_clear(&e);
	return rc;
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/xenon-sm-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char *path = xasprintf("%s/sr", f->dir);
	assert_int_equal(open_sr(&f->sr, "ext", "path", path), 0);
	free(path);
	struct xerr e = XERR_INIT;
	assert_int_equal(f->sr.drv->sr_create(&f->sr, &e), 0);
	assert_int_equal(f->sr.drv->sr_attach(&f->sr, &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sm_set_qemu_img(NULL);
	sm_sr_close(&f->sr);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* Runs a command; returns its status, stdout in *out when asked. */
static int run(char **out, const char *a0, ...)
{
	const char *argv[16] = {a0};
	va_list ap;
	va_start(ap, a0);
	for (int i = 1; i < 15 && (argv[i] = va_arg(ap, const char *)); i++)
		;
	va_end(ap);
	struct sm_run r;
	int rc = sm_run(argv, &r);
	if (rc != 0)
		fprintf(stderr, "%s: status %d: %s\n", a0, rc, r.err);
	if (out) {
		*out = r.out;
		r.out = NULL;
	}
	sm_run_free(&r);
	return rc;
}

static char *image(struct fx *f, const char *uuid)
{
	return xasprintf("%s/%s.qcow2", f->sr.path, uuid);
}

static void make_vdi(struct fx *f, struct sm_vdi *v, int64_t size)
{
	struct xerr e = XERR_INIT;
	sm_vdi_init(v);
	uuid_generate_str(v->uuid);
	v->virtual_size = size;
	assert_int_equal(f->sr.drv->vdi_create(&f->sr, v, &e), 0);
	assert_string_equal(v->location, v->uuid);
}

/* qemu-io writes a pattern / checks it reads back. */
static void write_pattern(const char *path, int pattern, const char *off, const char *len)
{
	char cmd[64];
	snprintf(cmd, sizeof cmd, "write -P %d %s %s", pattern, off, len);
	assert_int_equal(run(NULL, "qemu-io", "-f", "qcow2", "-c", cmd, path, NULL), 0);
}

static bool reads_pattern(const char *path, int pattern, const char *off, const char *len)
{
	char cmd[64], *out = NULL;
	snprintf(cmd, sizeof cmd, "read -P %d %s %s", pattern, off, len);
	int rc = run(&out, "qemu-io", "-r", "-f", "qcow2", "-c", cmd, path, NULL);
	bool ok = rc == 0 && out && !strstr(out, "Pattern verification failed");
	free(out);
	return ok;
}

/* The chain of an image as qemu-img sees it: filenames, top first. */
static xv chain(const char *path)
{
	char *out = NULL;
	assert_int_equal(run(&out, "qemu-img", "info", "--backing-chain", "--output=json", path, NULL), 0);
	xv v;
	struct xerr e = XERR_INIT;
	assert_int_equal(jsonv_parse(out, strlen(out), &v, &e), 0);
	free(out);
	assert_int_equal(v.kind, XV_ARR);
	return v;
}

static const char *chain_file(const xv *c, size_t i)
{
	const char *p = xv_map_get_str(xv_arr_get(c, i), "filename");
	const char *slash = p ? strrchr(p, '/') : NULL;
	return slash ? slash + 1 : p;
}

static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void assert_backend_failure(struct xerr *e, const char *code)
{
	assert_non_null(e->code);
	assert_string_equal(e->code, "SR_BACKEND_FAILURE");
	assert_int_equal(e->nparams, 3);
	assert_string_equal(e->params[0], code);
	xerr_clear(e);
}

static void test_create(void **state)
{
	struct fx *f = *state;
	struct sm_vdi v;
	make_vdi(f, &v, MiB + 1);
	assert_int_equal(v.virtual_size, MiB + 512); /* whole sectors */
	assert_string_equal(xv_map_get_str(&v.sm_config, "image-format"), "qcow2");
	assert_false(v.hidden);
	char *p = image(f, v.uuid);
	xv c = chain(p);
	assert_int_equal(xv_len(&c), 1);
	assert_string_equal(xv_map_get_str(xv_arr_get(&c, 0), "format"), "qcow2");
	assert_int_equal(xv_map_get(xv_arr_get(&c, 0), "virtual-size")->u.i, MiB + 512);
	xv_free(&c);
	/* the same uuid twice is refused, the first image untouched */
	struct sm_vdi again;
	sm_vdi_init(&again);
	memcpy(again.uuid, v.uuid, sizeof again.uuid);
	again.virtual_size = MiB;
	struct xerr e = XERR_INIT;
	assert_int_equal(f->sr.drv->vdi_create(&f->sr, &again, &e), -1);
	assert_backend_failure(&e, "43");
	sm_vdi_free(&again);
	struct sm_stat st;
	assert_int_equal(f->sr.drv->sr_stat(&f->sr, &st, &e), 0);
	assert_true(st.physical_size > 0 && st.physical_utilisation > 0);
	free(p);
	sm_vdi_free(&v);
}

static void test_snapshot_chain(void **state)
{
	struct fx *f = *state;
	struct xerr e = XERR_INIT;
	struct sm_vdi a, base, snap;
	make_vdi(f, &a, 64 * MiB);
	char *pa = image(f, a.uuid);
	write_pattern(pa, 0xab, "0", "1M");
	struct stat st;
	assert_int_equal(stat(pa, &st), 0);
	int64_t used = (int64_t)st.st_blocks * 512;
	sm_vdi_init(&base);
	sm_vdi_init(&snap);
	char uuid[UUID_STRLEN + 1];
	memcpy(uuid, a.uuid, sizeof uuid);
	assert_int_equal(f->sr.drv->vdi_snapshot(&f->sr, &a, &base, &snap, &e), 0);

	/* A keeps its uuid and location (its VBDs do not change); the data
	 * moved to a hidden read-only base both images now sit on */
	assert_string_equal(a.uuid, uuid);
	assert_string_equal(a.location, uuid);
	assert_true(base.hidden && base.read_only);
	assert_string_equal(a.parent, base.uuid);
	assert_string_equal(snap.parent, base.uuid);
	assert_string_equal(xv_map_get_str(&a.sm_config, "vhd-parent"), base.uuid);
	assert_string_equal(xv_map_get_str(&snap.sm_config, "vhd-parent"), base.uuid);
	assert_null(xv_map_get(&base.sm_config, "vhd-parent"));
	assert_int_equal(snap.virtual_size, 64 * MiB);
	assert_true(base.physical_utilisation >= MiB);
	assert_true(a.physical_utilisation < used);
	char *pb = image(f, base.uuid), *ps = image(f, snap.uuid);
	assert_int_equal(stat(pb, &st), 0);
	assert_int_equal(st.st_mode & 0222, 0);

	char bname[64], sname[64];
	snprintf(bname, sizeof bname, "%s.qcow2", base.uuid);
	snprintf(sname, sizeof sname, "%s.qcow2", snap.uuid);
	xv c = chain(pa);
	assert_int_equal(xv_len(&c), 2);
	assert_string_equal(chain_file(&c, 1), bname);
	assert_string_equal(xv_map_get_str(xv_arr_get(&c, 0), "backing-filename"), bname);
	xv_free(&c);
	c = chain(ps);
	assert_int_equal(xv_len(&c), 2);
	assert_string_equal(chain_file(&c, 0), sname);
	assert_string_equal(chain_file(&c, 1), bname);
	xv_free(&c);

	/* data written before the snapshot reads back in it, and writes to A
	 * after it do not reach it */
	assert_true(reads_pattern(ps, 0xab, "0", "1M"));
	write_pattern(pa, 0xcd, "0", "1M");
	assert_true(reads_pattern(pa, 0xcd, "0", "1M"));
	assert_true(reads_pattern(ps, 0xab, "0", "1M"));
	assert_true(reads_pattern(pb, 0xab, "0", "1M"));

	/* a snapshot of a snapshot's parent chain: depth grows by one */
	struct sm_vdi base2, snap2;
	sm_vdi_init(&base2);
	sm_vdi_init(&snap2);
	assert_int_equal(f->sr.drv->vdi_snapshot(&f->sr, &a, &base2, &snap2, &e), 0);
	assert_string_equal(base2.parent, base.uuid);
	assert_string_equal(xv_map_get_str(&base2.sm_config, "vhd-parent"), base.uuid);
	c = chain(pa);
	assert_int_equal(xv_len(&c), 3);
	xv_free(&c);
	char *ps2 = image(f, snap2.uuid);
	assert_true(reads_pattern(ps2, 0xcd, "0", "1M"));

	/* a base is not snapshotted itself */
	struct sm_vdi hb, x, y;
	sm_vdi_init(&hb);
	sm_vdi_init(&x);
	sm_vdi_init(&y);
	hb.location = xstrdup(base.uuid);
	memcpy(hb.uuid, base.uuid, sizeof hb.uuid);
	assert_int_equal(f->sr.drv->vdi_clone(&f->sr, &hb, &x, &y, &e), -1);
	assert_backend_failure(&e, "81");
	sm_vdi_free(&hb);
	sm_vdi_free(&x);
	sm_vdi_free(&y);

	/* the scan sees every image with its parent and hidden flag */
	struct sm_vdi_list l = {0};
	assert_int_equal(f->sr.drv->sr_scan(&f->sr, &l, &e), 0);
	assert_int_equal(l.n, 5);
	size_t hidden = 0;
	for (size_t i = 0; i < l.n; i++)
		hidden += l.v[i].hidden;
	assert_int_equal(hidden, 2);
	sm_vdi_list_free(&l);

	free(pa), free(pb), free(ps), free(ps2);
	sm_vdi_free(&a), sm_vdi_free(&base), sm_vdi_free(&snap);
	sm_vdi_free(&base2), sm_vdi_free(&snap2);
}

static bool in_gc(const xv *gc, const char *uuid)
{
	xv u = xv_str(uuid);
	bool r = xv_arr_contains(gc, &u);
	xv_free(&u);
	return r;
}

static void test_delete_gc(void **state)
{
	struct fx *f = *state;
	struct xerr e = XERR_INIT;
	struct sm_vdi a, b1, s, b2, c;
	make_vdi(f, &a, 8 * MiB);
	sm_vdi_init(&b1), sm_vdi_init(&s), sm_vdi_init(&b2), sm_vdi_init(&c);
	assert_int_equal(f->sr.drv->vdi_snapshot(&f->sr, &a, &b1, &s, &e), 0);
	assert_int_equal(f->sr.drv->vdi_clone(&f->sr, &a, &b2, &c, &e), 0);
	/* b1 <- s ; b1 <- b2 <- a ; b2 <- c */
	assert_int_equal(count_files(f->sr.path), 5);

	xv gc = xv_arr_new();
	assert_int_equal(f->sr.drv->vdi_delete(&f->sr, &c, &gc, &e), 0);
	assert_int_equal(xv_len(&gc), 0); /* b2 still holds a */
	assert_int_equal(f->sr.drv->vdi_delete(&f->sr, &a, &gc, &e), 0);
	assert_int_equal(xv_len(&gc), 1); /* b2 goes; b1 still holds s */
	assert_true(in_gc(&gc, b2.uuid));
	assert_int_equal(count_files(f->sr.path), 2);
	assert_int_equal(f->sr.drv->vdi_delete(&f->sr, &s, &gc, &e), 0);
	assert_int_equal(xv_len(&gc), 2);
	assert_true(in_gc(&gc, b1.uuid));
	assert_int_equal(count_files(f->sr.path), 0);
	/* deleting what is already gone is not an error */
	assert_int_equal(f->sr.drv->vdi_delete(&f->sr, &s, NULL, &e), 0);
	xv_free(&gc);
	sm_vdi_free(&a), sm_vdi_free(&b1), sm_vdi_free(&s), sm_vdi_free(&b2), sm_vdi_free(&c);

	/* an empty SR can go; one with a disk cannot */
	struct sm_vdi keep;
	make_vdi(f, &keep, MiB);
	assert_int_equal(f->sr.drv->sr_delete(&f->sr, &e), -1);
	assert_backend_failure(&e, "39");
	assert_int_equal(f->sr.drv->vdi_delete(&f->sr, &keep, NULL, &e), 0);
	assert_int_equal(f->sr.drv->sr_delete(&f->sr, &e), 0);
	struct stat st;
	assert_int_equal(stat(f->sr.path, &st), -1);
	sm_vdi_free(&keep);
}

static void test_clone_undo(void **state)
{
	struct fx *f = *state;
	struct xerr e = XERR_INIT;
	struct sm_vdi a, b, s;
	make_vdi(f, &a, 4 * MiB);
	char *pa = image(f, a.uuid);
	write_pattern(pa, 0x11, "0", "64k");
	sm_vdi_init(&b), sm_vdi_init(&s);
	assert_int_equal(f->sr.drv->vdi_clone(&f->sr, &a, &b, &s, &e), 0);
	assert_int_equal(count_files(f->sr.path), 3);
	assert_int_equal(f->sr.drv->vdi_clone_undo(&f->sr, &a, &b, &s, &e), 0);
	assert_int_equal(count_files(f->sr.path), 1);
	xv c = chain(pa);
	assert_int_equal(xv_len(&c), 1);
	xv_free(&c);
	assert_true(reads_pattern(pa, 0x11, "0", "64k"));
	assert_false(a.parent[0]);
	free(pa);
	sm_vdi_free(&a), sm_vdi_free(&b), sm_vdi_free(&s);
}

static void test_resize(void **state)
{
	struct fx *f = *state;
	struct xerr e = XERR_INIT;
	struct sm_vdi a;
	make_vdi(f, &a, 16 * MiB);
	int64_t size = 32 * MiB + 100;
	assert_int_equal(f->sr.drv->vdi_resize(&f->sr, &a, &size, &e), 0);
	assert_int_equal(size, 32 * MiB + 512);
	assert_int_equal(a.virtual_size, size);
	char *pa = image(f, a.uuid);
	xv c = chain(pa);
	assert_int_equal(xv_map_get(xv_arr_get(&c, 0), "virtual-size")->u.i, 32 * MiB + 512);
	xv_free(&c);
	/* shrinking is refused, nothing changed */
	size = 8 * MiB;
	assert_int_equal(f->sr.drv->vdi_resize(&f->sr, &a, &size, &e), -1);
	assert_backend_failure(&e, "79");
	c = chain(pa);
	assert_int_equal(xv_map_get(xv_arr_get(&c, 0), "virtual-size")->u.i, 32 * MiB + 512);
	xv_free(&c);
	/* an overlay grows past its base */
	struct sm_vdi b, s;
	sm_vdi_init(&b), sm_vdi_init(&s);
	assert_int_equal(f->sr.drv->vdi_snapshot(&f->sr, &a, &b, &s, &e), 0);
	size = 64 * MiB;
	assert_int_equal(f->sr.drv->vdi_resize(&f->sr, &a, &size, &e), 0);
	assert_int_equal(a.virtual_size, 64 * MiB);
	assert_int_equal(s.virtual_size, 32 * MiB + 512);
	free(pa);
	sm_vdi_free(&a), sm_vdi_free(&b), sm_vdi_free(&s);
}

static void test_copy(void **state)
{
	struct fx *f = *state;
	struct xerr e = XERR_INIT;
	struct sm_vdi a, b, s, d;
	make_vdi(f, &a, 8 * MiB);
	char *pa = image(f, a.uuid);
	write_pattern(pa, 0x21, "0", "1M");
	sm_vdi_init(&b), sm_vdi_init(&s);
	assert_int_equal(f->sr.drv->vdi_snapshot(&f->sr, &a, &b, &s, &e), 0);
	write_pattern(pa, 0x22, "1M", "1M");

	/* into another SR: a flat copy of the whole chain */
	struct sm_sr other;
	char *path = xasprintf("%s/other", f->dir);
	assert_int_equal(open_sr(&other, "file", "location", path), 0);
	assert_int_equal(other.drv->sr_create(&other, &e), 0);
	sm_vdi_init(&d);
	uuid_generate_str(d.uuid);
	d.virtual_size = a.virtual_size;
	assert_int_equal(other.drv->vdi_create(&other, &d, &e), 0);
	assert_int_equal(sm_vdi_copy(&f->sr, &a, &other, &d, &e), 0);
	char *pd = xasprintf("%s/%s.qcow2", path, d.uuid);
	xv c = chain(pd);
	assert_int_equal(xv_len(&c), 1);
	xv_free(&c);
	assert_int_equal(run(NULL, "qemu-img", "compare", "-q", pa, pd, NULL), 0);
	assert_true(reads_pattern(pd, 0x22, "1M", "1M"));

	/* an ISO into a disk SR */
	char *isodir = xasprintf("%s/iso", f->dir);
	mkdir(isodir, 0755);
	char *iso = xasprintf("%s/x.iso", isodir);
	FILE *fp = fopen(iso, "w");
	for (int i = 0; i < 4096; i++)
		fputc(i & 0xff, fp);
	fclose(fp);
	struct sm_sr isr;
	assert_int_equal(open_sr(&isr, "iso", "location", isodir), 0);
	struct sm_vdi_list l = {0};
	assert_int_equal(isr.drv->sr_scan(&isr, &l, &e), 0);
	assert_int_equal(l.n, 1);
	struct sm_vdi dd;
	sm_vdi_init(&dd);
	uuid_generate_str(dd.uuid);
	dd.virtual_size = l.v[0].virtual_size;
	assert_int_equal(other.drv->vdi_create(&other, &dd, &e), 0);
	assert_int_equal(sm_vdi_copy(&isr, &l.v[0], &other, &dd, &e), 0);
	char *pdd = xasprintf("%s/%s.qcow2", path, dd.uuid);
	assert_int_equal(run(NULL, "qemu-img", "compare", "-q", "-f", "raw", "-F", "qcow2", iso, pdd, NULL), 0);

	sm_vdi_list_free(&l);
	sm_sr_close(&isr);
	sm_sr_close(&other);
	free(path), free(pa), free(pd), free(isodir), free(iso), free(pdd);
	sm_vdi_free(&a), sm_vdi_free(&b), sm_vdi_free(&s), sm_vdi_free(&d), sm_vdi_free(&dd);
}

static void test_iso(void **state)
{
	struct fx *f = *state;
	struct xerr e = XERR_INIT;
	char *dir = xasprintf("%s/isos", f->dir);
	mkdir(dir, 0755);
	static const char *const files[] = {"a.iso", "B.IMG", "notes.txt", ".hidden.iso", NULL};
	for (const char *const *n = files; *n; n++) {
		char *p = xasprintf("%s/%s", dir, *n);
		FILE *fp = fopen(p, "w");
		fputs("0123456789", fp);
		fclose(fp);
		free(p);
	}
	char *sub = xasprintf("%s/dir.iso", dir);
	mkdir(sub, 0755);
	struct sm_sr sr;
	assert_int_equal(open_sr(&sr, "iso", "location", dir), 0);
	assert_int_equal(sr.drv->sr_create(&sr, &e), 0);
	struct sm_vdi_list l = {0};
	assert_int_equal(sr.drv->sr_scan(&sr, &l, &e), 0);
	assert_int_equal(l.n, 2);
	for (size_t i = 0; i < l.n; i++) {
		assert_true(!strcmp(l.v[i].location, "a.iso") || !strcmp(l.v[i].location, "B.IMG"));
		assert_int_equal(l.v[i].virtual_size, 10);
		assert_true(l.v[i].read_only);
	}
	sm_vdi_list_free(&l);

	/* a blank image to upload into, named by sm_config path */
	struct sm_vdi v;
	sm_vdi_init(&v);
	uuid_generate_str(v.uuid);
	v.virtual_size = MiB;
	xv_map_set_str(&v.sm_config, "path", "new.iso");
	assert_int_equal(sr.drv->vdi_create(&sr, &v, &e), 0);
	assert_string_equal(v.location, "new.iso");
	assert_non_null(xv_map_get(&v.sm_config, "created"));
	/* a name that leaves the directory is refused */
	struct sm_vdi bad;
	sm_vdi_init(&bad);
	uuid_generate_str(bad.uuid);
	xv_map_set_str(&bad.sm_config, "path", "../evil.iso");
	assert_int_equal(sr.drv->vdi_create(&sr, &bad, &e), -1);
	assert_backend_failure(&e, "78");
	char *evil = xasprintf("%s/evil.iso", f->dir);
	struct stat st;
	assert_int_equal(stat(evil, &st), -1);
	sm_vdi_free(&bad);
	assert_int_equal(sr.drv->sr_scan(&sr, &l, &e), 0);
	assert_int_equal(l.n, 3);
	sm_vdi_list_free(&l);
	assert_int_equal(sr.drv->vdi_delete(&sr, &v, NULL, &e), 0);

	/* a missing directory */
	struct sm_sr gone;
	char *nodir = xasprintf("%s/nowhere", f->dir);
	assert_int_equal(open_sr(&gone, "iso", "location", nodir), 0);
	assert_int_equal(gone.drv->sr_create(&gone, &e), -1);
	assert_backend_failure(&e, "222");
	sm_sr_close(&gone);

	sm_vdi_free(&v);
	sm_sr_close(&sr);
	free(dir), free(sub), free(evil), free(nodir);
}

static void test_hostile(void **state)
{
	struct fx *f = *state;
	struct xerr e = XERR_INIT;
	static const char *const bad[] = {"..", "../x", "/etc/passwd", "a/b", "", ".x", NULL};
	for (const char *const *b = bad; *b; b++) {
		assert_false(sm_name_ok(*b));
		struct sm_vdi v;
		sm_vdi_init(&v);
		v.location = xstrdup(*b);
		struct sm_attach_info a = {0};
		assert_int_equal(f->sr.drv->vdi_attach(&f->sr, &v, true, &a, &e), -1);
		assert_backend_failure(&e, "46");
		assert_int_equal(f->sr.drv->vdi_delete(&f->sr, &v, NULL, &e), -1);
		assert_backend_failure(&e, "46");
		int64_t size = MiB;
		assert_int_equal(f->sr.drv->vdi_resize(&f->sr, &v, &size, &e), -1);
		assert_backend_failure(&e, "46");
		sm_vdi_free(&v);
	}
	/* a VDI uuid that is not one cannot name a file either */
	struct sm_vdi v;
	sm_vdi_init(&v);
	snprintf(v.uuid, sizeof v.uuid, "../../../../tmp/owned");
	v.virtual_size = MiB;
	assert_int_equal(f->sr.drv->vdi_create(&f->sr, &v, &e), -1);
	assert_backend_failure(&e, "46");
	sm_vdi_free(&v);

	/* SR directories must be plain absolute paths */
	assert_false(sm_dir_path_ok("relative/dir"));
	assert_false(sm_dir_path_ok("/srv/../etc"));
	assert_false(sm_dir_path_ok("/srv/./x"));
	assert_true(sm_dir_path_ok("/srv/sr/"));
	struct sm_sr sr;
	xv dc = xv_map_new();
	xv_map_set_str(&dc, "path", "/tmp/../etc");
	assert_int_equal(sm_sr_open(&sr, "ext", "u", &dc, &e), -1);
	assert_backend_failure(&e, "94");
	sm_sr_close(&sr);
	xv_free(&dc);
	dc = xv_map_new();
	assert_int_equal(sm_sr_open(&sr, "iso", "u", &dc, &e), -1);
	assert_backend_failure(&e, "220");
	sm_sr_close(&sr);
	assert_int_equal(sm_sr_open(&sr, "nfs-of-doom", "u", &dc, &e), -1);
	assert_string_equal(e.code, "SR_UNKNOWN_DRIVER");
	xerr_clear(&e);
	sm_sr_close(&sr);
	xv_free(&dc);
}

static void test_failures_leave_nothing(void **state)
{
	struct fx *f = *state;
	struct xerr e = XERR_INIT;
	struct sm_vdi a;
	make_vdi(f, &a, 4 * MiB);
	char *pa = image(f, a.uuid);
	write_pattern(pa, 0x33, "0", "64k");

	/* qemu-img failing: its stderr comes back, no file stays */
	char *fake = xasprintf("%s/fake-qemu-img", f->dir);
	FILE *fp = fopen(fake, "w");
	fputs("#!/bin/sh\necho \"qemu-img: injected failure\" >&2\nexit 1\n", fp);
	fclose(fp);
	chmod(fake, 0755);
	sm_set_qemu_img(fake);
	struct sm_vdi v;
	sm_vdi_init(&v);
	uuid_generate_str(v.uuid);
	v.virtual_size = MiB;
	assert_int_equal(f->sr.drv->vdi_create(&f->sr, &v, &e), -1);
	assert_string_equal(e.params[2], "qemu-img: injected failure");
	assert_backend_failure(&e, "78");
	assert_int_equal(count_files(f->sr.path), 1);

	/* a snapshot that cannot make its overlay puts A back as it was */
	struct sm_vdi b, s;
	sm_vdi_init(&b), sm_vdi_init(&s);
	assert_int_equal(f->sr.drv->vdi_snapshot(&f->sr, &a, &b, &s, &e), -1);
	assert_backend_failure(&e, "82");
	sm_set_qemu_img(NULL);
	assert_int_equal(count_files(f->sr.path), 1);
	xv c = chain(pa);
	assert_int_equal(xv_len(&c), 1);
	xv_free(&c);
	assert_true(reads_pattern(pa, 0x33, "0", "64k"));
	struct stat st;
	assert_int_equal(stat(pa, &st), 0);
	assert_true(st.st_mode & 0200);

	/* no qemu-img at all */
	sm_set_qemu_img("/nonexistent/qemu-img");
	assert_int_equal(f->sr.drv->vdi_create(&f->sr, &v, &e), -1);
	assert_backend_failure(&e, "78");
	sm_set_qemu_img(NULL);
	assert_int_equal(count_files(f->sr.path), 1);

	free(pa), free(fake);
	sm_vdi_free(&a), sm_vdi_free(&v), sm_vdi_free(&b), sm_vdi_free(&s);
}

/* Changed blocks between two snapshots: blocks written in between, one bit
 * per 64 KiB block, LSB first; still answered once the older snapshot's
 * image is gone (data_destroy keeps its parent). */
static void test_changed_blocks(void **state)
{
	struct fx *f = *state;
	struct xerr e = XERR_INIT;
	struct sm_vdi a, b1, s1, b2, s2;
	make_vdi(f, &a, 4 * MiB);
	char *pa = image(f, a.uuid);
	write_pattern(pa, 1, "0", "64k");
	sm_vdi_init(&b1);
	sm_vdi_init(&s1);
	assert_int_equal(f->sr.drv->vdi_snapshot(&f->sr, &a, &b1, &s1, &e), 0);
	write_pattern(pa, 2, "1M", "8k");
	write_pattern(pa, 3, "3M", "128k");
	sm_vdi_init(&b2);
	sm_vdi_init(&s2);
	assert_int_equal(f->sr.drv->vdi_snapshot(&f->sr, &a, &b2, &s2, &e), 0);
	char *out = NULL;
	assert_int_equal(f->sr.drv->vdi_changed_blocks(&f->sr, &s1, &s2, &out, &e), 0);
	/* 64 blocks = 8 bytes: block 16 (byte 2 bit 0), 48 and 49 (byte 6) */
	assert_string_equal(out, "AAABAAAAAwA=");
	free(out);
	assert_int_equal(f->sr.drv->vdi_changed_blocks(&f->sr, &s2, &s2, &out, &e), 0);
	assert_string_equal(out, "AAAAAAAAAAA=");
	free(out);
	xv gc = xv_arr_new();
	assert_int_equal(f->sr.drv->vdi_delete(&f->sr, &s1, &gc, &e), 0);
	assert_int_equal(xv_len(&gc), 0); /* b1 is still b2's base */
	assert_int_equal(f->sr.drv->vdi_changed_blocks(&f->sr, &s1, &s2, &out, &e), 0);
	assert_string_equal(out, "AAABAAAAAwA=");
	free(out);
	xv_free(&gc);
	free(pa);
	sm_vdi_free(&a);
	sm_vdi_free(&b1);
	sm_vdi_free(&s1);
	sm_vdi_free(&b2);
	sm_vdi_free(&s2);
}

/* SR_FULL(requested, maximum) when a disk cannot fit; a thick SR
 * preallocates whole disks and checks for all of them. */
static void test_space(void **state)
{
	struct fx *f = *state;
	struct xerr e = XERR_INIT;
	assert_int_equal(sm_space_check(&f->sr, INT64_C(1) << 60, &e), -1);
	assert_string_equal(e.code, "SR_FULL");
	assert_int_equal(e.nparams, 2);
	assert_string_equal(e.params[0], "1152921504606846976");
	assert_true(strtoll(e.params[1], NULL, 10) == sm_free_space(f->sr.path));
	xerr_clear(&e);
	assert_int_equal(sm_space_check(&f->sr, 4096, &e), 0);

	/* thin: a disk larger than the filesystem is fine */
	struct sm_vdi v, t;
	make_vdi(f, &v, INT64_C(1) << 40);
	f->sr.thick = true;
	sm_vdi_init(&t);
	uuid_generate_str(t.uuid);
	t.virtual_size = INT64_C(1) << 50;
	assert_int_equal(f->sr.drv->vdi_create(&f->sr, &t, &e), -1);
	assert_string_equal(e.code, "SR_FULL");
	xerr_clear(&e);
	sm_vdi_free(&t);
	make_vdi(f, &t, 4 * MiB);
	assert_true(t.physical_utilisation >= 4 * MiB);
	int64_t size = 8 * MiB;
	assert_int_equal(f->sr.drv->vdi_resize(&f->sr, &t, &size, &e), 0);
	assert_true(t.physical_utilisation >= 8 * MiB);
	size = INT64_C(1) << 50;
	assert_int_equal(f->sr.drv->vdi_resize(&f->sr, &t, &size, &e), -1);
	assert_string_equal(e.code, "SR_FULL");
	xerr_clear(&e);
	assert_int_equal(t.virtual_size, 8 * MiB);
	sm_vdi_free(&v);
	sm_vdi_free(&t);
}

/* A scan removes what an import cut short left an hour ago, not what one
 * is writing now. */
static void test_scan_drops_stale_imports(void **state)
{
	struct fx *f = *state;
	char *stale = xasprintf("%s/sr/%s.qcow2.import", f->dir, "11111111-2222-3333-4444-555555555555");
	char *fresh = xasprintf("%s/sr/%s.qcow2.import", f->dir, "66666666-7777-8888-9999-000000000000");
	for (int i = 0; i < 2; i++) {
		FILE *fp = fopen(i ? fresh : stale, "w");
		assert_non_null(fp);
		fputs("partial", fp);
		fclose(fp);
	}
	struct timespec old[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
	assert_int_equal(utimensat(AT_FDCWD, stale, old, 0), 0);
	struct sm_vdi_list l = {0};
	struct xerr e = XERR_INIT;
	assert_int_equal(f->sr.drv->sr_scan(&f->sr, &l, &e), 0);
	sm_vdi_list_free(&l);
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(access(fresh, F_OK), 0);
	free(stale);
	free(fresh);
}

/* Chains are bounded as XenServer bounds VHD chains: the snapshot that
 * would go past SM_MAX_CHAIN fails with 109 and changes nothing. */
static void test_chain_bounded(void **state)
{
	struct fx *f = *state;
	struct xerr e = XERR_INIT;
	struct sm_vdi a;
	make_vdi(f, &a, 8 * MiB);
	for (int i = 1; i < SM_MAX_CHAIN; i++) {
		struct sm_vdi base, snap;
		sm_vdi_init(&base);
		sm_vdi_init(&snap);
		assert_int_equal(f->sr.drv->vdi_snapshot(&f->sr, &a, &base, &snap, &e), 0);
		sm_vdi_free(&base);
		sm_vdi_free(&snap);
	}
	assert_string_equal(xv_map_get_str(&a.sm_config, "chain-depth"), "30");
	char *pa = image(f, a.uuid);
	struct stat before, after;
	assert_int_equal(stat(pa, &before), 0);
	struct sm_vdi base, snap;
	sm_vdi_init(&base);
	sm_vdi_init(&snap);
	assert_int_equal(f->sr.drv->vdi_snapshot(&f->sr, &a, &base, &snap, &e), -1);
	assert_string_equal(e.code, "SR_BACKEND_FAILURE");
	assert_string_equal(e.params[0], "109");
	assert_string_equal(e.params[1], "The snapshot chain is too long");
	xerr_clear(&e);
	assert_int_equal(stat(pa, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	sm_vdi_free(&base);
	sm_vdi_free(&snap);
	sm_vdi_free(&a);
	free(pa);
}

static void test_run(void **state)
{
	(void)state;
	const char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
	struct sm_run r;
	assert_int_equal(sm_run(argv, &r), 3);
	assert_string_equal(r.out, "out\n");
	assert_string_equal(r.err, "err\n");
	sm_run_free(&r);
	/* arguments are never seen by a shell */
	const char *argv2[] = {"echo", "$(id); `id`", NULL};
	assert_int_equal(sm_run(argv2, &r), 0);
	assert_string_equal(r.out, "$(id); `id`\n");
	sm_run_free(&r);
	const char *argv3[] = {"/no/such/program", NULL};
	assert_int_equal(sm_run(argv3, &r), 127);
	sm_run_free(&r);
}

/* stdout is the answer and is kept whole (a qemu-img map runs long) */
static void test_run_long_output(void **state)
{
	(void)state;
	const char *argv[] = {"sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a", NULL};
	struct sm_run r;
	assert_int_equal(sm_run(argv, &r), 0);
	assert_int_equal(strlen(r.out), 300000);
	sm_run_free(&r);
}

static void test_imgmap_parse(void **state)
{
	(void)state;
	struct imgmap m;
	char **files;
	const char *info = "[{\"filename\": \"/a/top.qcow2\", \"format\": \"qcow2\", \"virtual-size\": 3145728},"
			   " {\"filename\": \"/a/base.qcow2\", \"format\": \"qcow2\", \"virtual-size\": 3145728}]";
	const char *map = "[{\"start\": 0, \"length\": 1048576, \"depth\": 1, \"present\": true, \"zero\": false,"
			  " \"data\": true, \"offset\": 327680},"
			  " {\"start\": 1048576, \"length\": 1048576, \"depth\": 1, \"present\": false, \"zero\": true, \"data\": false},"
			  " {\"start\": 2097152, \"length\": 1048576, \"depth\": 0, \"present\": true, \"zero\": true, \"data\": false}]";
	assert_int_equal(imgmap_parse(info, map, &m, &files), 0);
	assert_int_equal(m.size, 3 * MiB);
	assert_int_equal(m.nfds, 2);
	assert_string_equal(files[1], "/a/base.qcow2");
	/* the two zero extents are one hole */
	assert_int_equal(m.n, 2);
	assert_true(m.ext[0].data);
	assert_int_equal(m.ext[0].depth, 1);
	assert_int_equal(m.ext[0].foff, 327680);
	assert_false(m.ext[1].data);
	assert_int_equal(m.ext[1].len, 2 * MiB);
	assert_ptr_equal(imgmap_find(&m, 2 * MiB + 5), &m.ext[1]);
	free(files[0]);
	free(files[1]);
	free(files);
	free(m.ext);
	/* what cannot be read with pread is refused: compressed data, data
	 * with no offset, relative or protocol names, other formats, gaps */
	const char *bad_maps[] = {
		"[{\"start\": 0, \"length\": 3145728, \"depth\": 0, \"present\": true, \"zero\": false,"
		" \"data\": true, \"offset\": 0, \"compressed\": true}]",
		"[{\"start\": 0, \"length\": 3145728, \"depth\": 0, \"present\": true, \"zero\": false, \"data\": true}]",
		"[{\"start\": 0, \"length\": 1048576, \"depth\": 0, \"present\": false, \"zero\": true, \"data\": false}]",
		"[{\"start\": 0, \"length\": 3145728, \"depth\": 5, \"present\": true, \"zero\": false,"
		" \"data\": true, \"offset\": 0}]",
		"not json",
	};
	for (size_t i = 0; i < sizeof bad_maps / sizeof *bad_maps; i++) {
		assert_int_equal(imgmap_parse(info, bad_maps[i], &m, &files), -1);
		assert_null(files);
	}
	const char *ok_map = "[{\"start\": 0, \"length\": 3145728, \"depth\": 0, \"present\": false,"
			     " \"zero\": true, \"data\": false}]";
	const char *bad_infos[] = {
		"[{\"filename\": \"top.qcow2\", \"format\": \"qcow2\", \"virtual-size\": 3145728}]",
		"[{\"filename\": \"nfs://h/x\", \"format\": \"qcow2\", \"virtual-size\": 3145728}]",
		"[{\"filename\": \"/a/x.vmdk\", \"format\": \"vmdk\", \"virtual-size\": 3145728}]",
		"[{\"filename\": \"/a/x\", \"format\": \"qcow2\", \"virtual-size\": 3145728, \"encrypted\": true}]",
		"[]",
	};
	for (size_t i = 0; i < sizeof bad_infos / sizeof *bad_infos; i++)
		assert_int_equal(imgmap_parse(bad_infos[i], ok_map, &m, &files), -1);
	/* a single image: qemu-img prints an object, not a list */
	assert_int_equal(imgmap_parse("{\"filename\": \"/a/x.raw\", \"format\": \"raw\", \"virtual-size\": 3145728}",
				      ok_map, &m, &files), 0);
	free(files[0]);
	free(files);
	free(m.ext);
}

static void qimg(const char *const *args)
{
	struct sm_run r;
	int rc = sm_run(args, &r);
	if (rc)
		fprintf(stderr, "%s: %s\n", args[0], r.err);
	assert_int_equal(rc, 0);
	sm_run_free(&r);
}

/* The in-order qcow2 writer makes an image qemu-img checks clean and reads
 * back byte for byte: whole and partial clusters, zero clusters left out,
 * gaps, an unaligned end, data past the first L2 table's 512 MiB. */
static void test_qcow2_writer(void **state)
{
	struct fx *f = *state;
	char *path = xasprintf("%s/w.qcow2", f->dir), *raw = xasprintf("%s/w.raw", f->dir);
	const int64_t size = 1536 * MiB + 1536; /* sectors, not clusters */
	struct qcow2w *w = qcow2w_create(path, size);
	assert_non_null(w);
	assert_null(qcow2w_create(path, size)); /* never over an existing file */
	unsigned char *a = xmalloc(MiB), *b = xmalloc(MiB);
	for (int64_t i = 0; i < MiB; i++) {
		a[i] = (unsigned char)(i * 7 + 1);
		b[i] = (unsigned char)(i * 13 + 5);
	}
	memset(a + 256 * 1024, 0, 65536); /* a zero cluster inside data */
	assert_int_equal(qcow2w_write(w, a, MiB, 0), 0);
	assert_int_equal(qcow2w_write(w, b, 5000, 2 * MiB + 100), 0);      /* partial cluster */
	assert_int_equal(qcow2w_write(w, b + 5000, 70000, 2 * MiB + 5100), 0); /* across clusters */
	assert_int_equal(qcow2w_write(w, b, MiB, 700 * MiB), 0);           /* second L2 table */
	assert_int_equal(qcow2w_write(w, a, 1000, size - 1000), 0);        /* the unaligned end */
	assert_int_equal(qcow2w_write(w, a, 10, 0), -1);                   /* backwards */
	assert_int_equal(qcow2w_write(w, a, 10, size), -1);                /* past the end */
	assert_int_equal(qcow2w_finish(w), 0);
	qcow2w_free(w);
	qimg((const char *[]){"qemu-img", "check", "-q", "-f", "qcow2", path, NULL});
	qimg((const char *[]){"qemu-img", "convert", "-f", "qcow2", "-O", "raw", path, raw, NULL});
	FILE *fp = fopen(raw, "rb");
	assert_non_null(fp);
	unsigned char *got = xmalloc(MiB);
	struct { int64_t off; const unsigned char *want; size_t n; } checks[] = {
		{0, a, MiB},
		{2 * MiB + 100, b, 75000},
		{700 * MiB, b, MiB},
		{size - 1000, a, 1000},
	};
	for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
		fseeko(fp, checks[i].off, SEEK_SET);
		assert_int_equal(fread(got, 1, checks[i].n, fp), checks[i].n);
		assert_memory_equal(got, checks[i].want, checks[i].n);
	}
	/* gaps read as zeros */
	fseeko(fp, MiB, SEEK_SET);
	assert_int_equal(fread(got, 1, MiB, fp), MiB);
	assert_true(buf_is_zero(got, MiB));
	fclose(fp);
	/* what was stored: 15 data clusters + 2 + 16 + 1 + 1, far below the 1.5 GiB */
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size < 4 * MiB);
	free(a);
	free(b);
	free(got);
	free(path);
	free(raw);
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	rewind(f);
	char *b = xmalloc(*n ? *n : 1);
	assert_int_equal(fread(b, 1, *n, f), *n);
	fclose(f);
	return b;
}

/* A cold image read front to back in 1 MiB pieces: the window after the
 * current one is read ahead on a thread and taken over when reached; read
 * back to front, every guess is wrong and the bytes still right. Each MiB
 * holds its own pattern, so a window taken at the wrong place shows. */
static void test_imgmap_read_ahead(void **state)
{
	struct fx *f = *state;
	enum { N = 24 };
	char *img = xasprintf("%s/big.qcow2", f->dir), *flat = xasprintf("%s/big.raw", f->dir);
	qimg((const char *[]){"qemu-img", "create", "-q", "-f", "qcow2", img, "32M", NULL});
	const char *args[2 * N + 3];
	char *cmds[N];
	size_t a = 0;
	args[a++] = "qemu-io";
	for (int i = 0; i < N; i++) {
		cmds[i] = xasprintf("write -P %d %dM 1M", 0x40 + i, i);
		args[a++] = "-c";
		args[a++] = cmds[i];
	}
	args[a++] = img;
	args[a] = NULL;
	qimg(args);
	qimg((const char *[]){"qemu-img", "convert", "-f", "qcow2", "-O", "raw", img, flat, NULL});
	size_t n;
	char *want = slurp(flat, &n);
	char *got = xmalloc(n);
	for (int order = 0; order < 2; order++) {
		int fd = open(img, O_RDONLY);
		assert_true(fd >= 0);
		fsync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
		struct imgmap *m = sm_imgmap_open(img, "qcow2");
		assert_non_null(m);
		memset(got, 0, n);
		for (size_t i = 0; i < n / MiB; i++) {
			size_t off = (order == 0 ? i : n / MiB - 1 - i) * MiB;
			assert_int_equal(imgmap_read(m, got + off, MiB, (int64_t)off), 0);
		}
		assert_memory_equal(got, want, n);
		/* with O_DIRECT here: of the 6 windows of data, all but the
		 * first are found read ahead; back to front, none */
		if (m->dio[0].fd >= 0 && order == 0)
			assert_true(m->ahead_hits >= 4);
		if (order == 1)
			assert_int_equal(m->ahead_hits, 0);
		imgmap_free(m);
	}
	for (int i = 0; i < N; i++)
		free(cmds[i]);
	free(got);
	free(want);
	free(img);
	free(flat);
}

/* A real chain read with pread gives what qemu-img reads, byte for byte;
 * a compressed image is left to the NBD path. */
static void test_imgmap_chain(void **state)
{
	struct fx *f = *state;
	char *base = xasprintf("%s/base.qcow2", f->dir), *top = xasprintf("%s/top.qcow2", f->dir);
	char *flat = xasprintf("%s/flat.raw", f->dir), *comp = xasprintf("%s/comp.qcow2", f->dir);
	qimg((const char *[]){"qemu-img", "create", "-q", "-f", "qcow2", base, "4M", NULL});
	qimg((const char *[]){"qemu-io", "-c", "write -P 0x11 0 1M", "-c", "write -P 0x22 3M 512k", base, NULL});
	qimg((const char *[]){"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, top, NULL});
	qimg((const char *[]){"qemu-io", "-c", "write -P 0x33 512k 1M", "-c", "write -z 3M 64k", top, NULL});
	qimg((const char *[]){"qemu-img", "convert", "-f", "qcow2", "-O", "raw", top, flat, NULL});
	size_t n;
	char *want = slurp(flat, &n);
	assert_int_equal(n, 4 * MiB);
	struct imgmap *m = sm_imgmap_open(top, "qcow2");
	assert_non_null(m);
	assert_int_equal(m->size, 4 * MiB);
	assert_int_equal(m->nfds, 2);
	char *got = xmalloc(n);
	/* in odd pieces, so reads cross extent boundaries */
	for (size_t off = 0; off < n; off += 300000) {
		size_t k = n - off < 300000 ? n - off : 300000;
		assert_int_equal(imgmap_read(m, got + off, k, (int64_t)off), 0);
	}
	assert_memory_equal(got, want, n);
	assert_int_equal(imgmap_read(m, got, 2, 4 * MiB - 1), -1);
	/* out of the page cache: read with O_DIRECT into the window (where the
	 * filesystem has O_DIRECT), the same bytes */
	const char *members[] = {top, base};
	for (size_t i = 0; i < 2; i++) {
		int fd = open(members[i], O_RDONLY);
		assert_true(fd >= 0);
		fsync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	memset(got, 0, n);
	for (size_t off = 0; off < n; off += 300000) {
		size_t k = n - off < 300000 ? n - off : 300000;
		assert_int_equal(imgmap_read(m, got + off, k, (int64_t)off), 0);
	}
	assert_memory_equal(got, want, n);
	if (m->dio[0].fd >= 0)
		assert_non_null(m->win);
	imgmap_free(m);
	/* raw files qualify too */
	m = sm_imgmap_open(flat, "raw");
	assert_non_null(m);
	assert_int_equal(imgmap_read(m, got, n, 0), 0);
	assert_memory_equal(got, want, n);
	imgmap_free(m);
	qimg((const char *[]){"qemu-img", "convert", "-c", "-f", "qcow2", "-O", "qcow2", top, comp, NULL});
	assert_null(sm_imgmap_open(comp, "qcow2"));
	assert_null(sm_imgmap_open(comp, "vpc"));
	assert_null(sm_imgmap_open("relative.qcow2", "qcow2"));
	free(got);
	free(want);
	free(base);
	free(top);
	free(flat);
	free(comp);
}

/* Where remote SRs point, decided when they are opened (no server is
 * contacted yet): the URL their files are reached by, or SM's error for a
 * device_config XenServer refuses. */
static int open_dc(struct sm_sr *sr, const char *type, const char *uuid, const char *const *kv,
		   struct xerr *e)
{
	xv dc = xv_map_new();
	for (; kv[0]; kv += 2)
		xv_map_set_str(&dc, kv[0], kv[1]);
	int rc = sm_sr_open(sr, type, uuid, &dc, e);
	xv_free(&dc);
	return rc;
}

static void expect_path(const char *type, const char *const *kv, const char *path)
{
	struct sm_sr sr;
	struct xerr e = XERR_INIT;
	assert_int_equal(open_dc(&sr, type, "5d8b3c51-2f3e-4b1a-9c7d-0e6f1a2b3c4d", kv, &e), 0);
	assert_string_equal(sr.path, path);
	sm_sr_close(&sr);
}

static void expect_failure(const char *type, const char *const *kv, const char *code)
{
	struct sm_sr sr;
	struct xerr e = XERR_INIT;
	assert_int_equal(open_dc(&sr, type, "u", kv, &e), -1);
	assert_backend_failure(&e, code);
	sm_sr_close(&sr);
}

static void test_remote_locations(void **state)
{
	(void)state;
	/* NFS SR: <serverpath>/<sr-uuid> on the export */
	expect_path("nfs", (const char *const[]){"server", "nas", "serverpath", "/exports/vm/", NULL},
		    "nfs://nas/exports/vm/5d8b3c51-2f3e-4b1a-9c7d-0e6f1a2b3c4d");
	expect_path("nfs", (const char *const[]){"server", "10.0.0.5", "serverpath", "/", "nfsversion",
						 "4.1", NULL},
		    "nfs://10.0.0.5/5d8b3c51-2f3e-4b1a-9c7d-0e6f1a2b3c4d");
	/* NFSSR.load's checks, in its order */
	expect_failure("nfs", (const char *const[]){"serverpath", "/x", NULL}, "102");
	expect_failure("nfs", (const char *const[]){"server", "nas", NULL}, "101");
	expect_failure("nfs", (const char *const[]){"server", "nas", "serverpath", "/a/../b", NULL}, "103");
	expect_failure("nfs", (const char *const[]){"server", "nas", "serverpath", "/x", "nfsversion", "2",
						    NULL},
		       "72");
	expect_failure("nfs", (const char *const[]){"server", "nas/evil", "serverpath", "/x", NULL}, "140");
	/* ISO SRs: a local directory, NFS server:/path, SMB //server/share */
	expect_path("iso", (const char *const[]){"location", "/srv/isos", NULL}, "/srv/isos");
	expect_path("iso", (const char *const[]){"location", "nas:/isos/linux", NULL}, "nfs://nas/isos/linux");
	expect_path("iso", (const char *const[]){"location", "//nas/isos", NULL}, "smb://nas/isos");
	expect_path("iso", (const char *const[]){"location", "//nas:4450/isos/linux/", "type", "cifs", NULL},
		    "smb://nas:4450/isos/linux");
	expect_path("iso", (const char *const[]){"location", "\\\\nas\\isos", NULL}, "smb://nas/isos");
	expect_path("iso", (const char *const[]){"location", "nas:/isos", "type", "nfs_iso", NULL},
		    "nfs://nas/isos");
	/* a location of the wrong kind for the type given, or no share */
	expect_failure("iso", (const char *const[]){"location", "nas:/isos", "type", "cifs", NULL}, "225");
	expect_failure("iso", (const char *const[]){"location", "//nas/isos", "type", "nfs_iso", NULL}, "225");
	expect_failure("iso", (const char *const[]){"location", "//nas", NULL}, "225");
	expect_failure("iso", (const char *const[]){"location", "//nas:99999/isos", NULL}, "225");
	expect_failure("iso", (const char *const[]){"location", "nas:/isos/../etc", NULL}, "225");
	expect_failure("iso", (const char *const[]){"location", "relative/dir", NULL}, "226");
}

int main(void)
{
	const char *qi[] = {"qemu-img", "--version", NULL};
	struct sm_run r;
	int have = sm_run(qi, &r);
	sm_run_free(&r);
	if (have != 0) {
		fprintf(stderr, "qemu-img not found (scripts/deps.sh installs qemu-utils): skipped\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run),
		cmocka_unit_test(test_run_long_output),
		cmocka_unit_test(test_imgmap_parse),
		cmocka_unit_test_setup_teardown(test_imgmap_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_imgmap_read_ahead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_drops_stale_imports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qcow2_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iso, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures_leave_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_space, setup, teardown),
		cmocka_unit_test(test_remote_locations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
