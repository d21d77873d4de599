/* Unit tests of host bootstrap: a fresh in-memory store gets one pool,
 * host and control domain, storage, network and templates; a second run
 * refreshes without duplicating anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db.h"
#include "api/bootstrap.h"
#include "api/templates.h"

struct fixture {
	char dir[64];
	struct db *db;
	struct bootstrap_opts opts;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/xenon-boot-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	struct xerr err = XERR_INIT;
	f->db = db_open(NULL, &err);
	assert_non_null(f->db);
	f->opts = (struct bootstrap_opts){.hostname = "testhost", .data_dir = f->dir};
	*state = f;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	db_close(f->db);
	if (nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

static void run_bootstrap(struct fixture *f)
{
	struct xerr err = XERR_INIT;
	int rc = bootstrap_host(f->db, &f->opts, &err);
	if (rc != 0)
		fprintf(stderr, "bootstrap: %s\n", err.code ? err.code : "?");
	assert_int_equal(rc, 0);
	xerr_clear(&err);
}

/* Logical CPUs as /proc/cpuinfo lists them (what host_CPUs mirrors). */
static size_t cpuinfo_processors(void)
{
	FILE *fp = fopen("/proc/cpuinfo", "r");
	char line[4096];
	size_t n = 0;
	while (fp && fgets(line, sizeof line, fp))
		if (strncmp(line, "processor", 9) == 0)
			n++;
	if (fp)
		fclose(fp);
	return n ? n : (size_t)sysconf(_SC_NPROCESSORS_ONLN);
}

static size_t count_where(struct db *db, int cls, int field, const char *ref)
{
	size_t n = 0;
	for (struct db_obj *o = db_first(db, cls); o; o = db_next(o))
		n += strcmp(db_peek_str(o, field), ref) == 0;
	return n;
}

static struct db_obj *vm_named(struct db *db, const char *name)
{
	for (struct db_obj *o = db_first(db, SC_C_VM); o; o = db_next(o))
		if (strcmp(db_peek_str(o, SC_F_VM__name_label), name) == 0)
			return o;
	return NULL;
}

static void check_pool_host_dom0(struct db *db)
{
	assert_int_equal(db_count(db, SC_C_pool), 1);
	assert_int_equal(db_count(db, SC_C_host), 1);
	struct db_obj *pool = db_first(db, SC_C_pool);
	struct db_obj *host = bootstrap_this_host(db);
	assert_non_null(host);
	assert_string_equal(db_peek_str(pool, SC_F_pool__master), host->ref);
	assert_string_equal(db_peek_str(host, SC_F_host__hostname), "testhost");
	assert_string_equal(xv_map_get_str(db_peek(pool, SC_F_pool__restrictions),
					   "restrict_zstd_export"), "false");

	const xv *sv = db_peek(host, SC_F_host__software_version);
	assert_string_equal(xv_map_get_str(sv, "product_version"), "8.3.0");
	assert_string_equal(xv_map_get_str(sv, "platform_version"), "3.4.0");
	const xv *caps = db_peek(host, SC_F_host__capabilities);
	assert_true(xv_len(caps) > 0);
	assert_int_equal(strncmp(xv_as_str(xv_arr_get(caps, 0)), "hvm", 3), 0);

	size_t dom0s = 0;
	for (struct db_obj *o = db_first(db, SC_C_VM); o; o = db_next(o))
		dom0s += db_peek_bool(o, SC_F_VM__is_control_domain);
	assert_int_equal(dom0s, 1);
	struct db_obj *dom0 = db_lookup_cls(db, SC_C_VM, db_peek_str(host, SC_F_host__control_domain));
	assert_non_null(dom0);
	assert_true(db_peek_bool(dom0, SC_F_VM__is_control_domain));
	assert_string_equal(db_peek_str(dom0, SC_F_VM__power_state), "Running");
	assert_int_equal(db_peek_int(dom0, SC_F_VM__domid), 0);
	assert_string_equal(db_peek_str(dom0, SC_F_VM__resident_on), host->ref);
	assert_string_equal(db_peek_str(dom0, SC_F_VM__name_label), "Control domain on host: testhost");
	assert_non_null(xv_map_get_str(db_peek(dom0, SC_F_VM__platform), "cores-per-socket"));

	struct db_obj *hm = db_lookup_cls(db, SC_C_host_metrics, db_peek_str(host, SC_F_host__metrics));
	assert_non_null(hm);
	assert_true(db_peek_bool(hm, SC_F_host_metrics__live));
	assert_true(db_peek_int(hm, SC_F_host_metrics__memory_total) > 0);
}

static void check_cpus(struct db *db)
{
	struct db_obj *host = bootstrap_this_host(db);
	size_t n = cpuinfo_processors();
	xv cpus = db_get(db, host, SC_F_host__host_CPUs);
	assert_int_equal(xv_len(&cpus), n);
	xv_free(&cpus);
	assert_int_equal(db_count(db, SC_C_host_cpu), n);
	assert_int_equal(count_where(db, SC_C_host_cpu, SC_F_host_cpu__host, host->ref), n);
	char num[24];
	snprintf(num, sizeof num, "%zu", n);
	assert_string_equal(xv_map_get_str(db_peek(host, SC_F_host__cpu_info), "cpu_count"), num);
}

static void check_templates(struct db *db)
{
	for (size_t i = 0; i < templates_count(); i++) {
		const char *name = templates_name(i);
		struct db_obj *vm = vm_named(db, name);
		assert_non_null(vm);
		assert_true(db_peek_bool(vm, SC_F_VM__is_a_template));
		assert_true(db_peek_bool(vm, SC_F_VM__is_default_template));
		assert_string_equal(db_peek_str(vm, SC_F_VM__power_state), "Halted");
		const xv *oc = db_peek(vm, SC_F_VM__other_config);
		assert_string_equal(xv_map_get_str(oc, "default_template"), "true");
		const char *disks = xv_map_get_str(oc, "disks");
		if (strcmp(name, "Other install media") == 0) {
			assert_null(disks);
			continue;
		}
		assert_non_null(disks);
		assert_int_equal(strncmp(disks, "<provision><disk device=\"0\" size=\"", 34), 0);
		assert_non_null(strstr(disks, "sr=\"\""));
		assert_non_null(strstr(disks, "type=\"system\"/></provision>"));
		assert_true(atoll(disks + 34) >= (1LL << 30));
		assert_int_equal(strncmp(db_peek_str(vm, SC_F_VM__recommendations), "<restrictions>", 14), 0);
	}
	struct db_obj *deb = vm_named(db, "Debian Bookworm 12");
	assert_int_equal(db_peek_int(deb, SC_F_VM__memory_static_min), 1LL << 30);
	assert_int_equal(db_peek_int(deb, SC_F_VM__memory_static_max), 2LL << 30);
	assert_string_equal(xv_map_get_str(db_peek(deb, SC_F_VM__HVM_boot_params), "firmware"), "uefi");
	struct db_obj *win = vm_named(db, "Windows Server 2022 (64-bit)");
	assert_int_equal(db_peek_int(win, SC_F_VM__VCPUs_max), 2);
	assert_string_equal(xv_map_get_str(db_peek(win, SC_F_VM__platform), "viridian"), "true");
}

static void check_storage_network(struct db *db)
{
	struct db_obj *host = bootstrap_this_host(db);
	struct db_obj *pool = db_first(db, SC_C_pool);
	struct db_obj *sr = db_lookup_cls(db, SC_C_SR, db_peek_str(pool, SC_F_pool__default_SR));
	assert_non_null(sr);
	assert_string_equal(db_peek_str(sr, SC_F_SR__name_label), "Local storage");
	assert_int_equal(db_count(db, SC_C_SR), 2);
	assert_int_equal(db_count(db, SC_C_PBD), 2);
	assert_int_equal(db_count(db, SC_C_SM), 2);
	for (struct db_obj *p = db_first(db, SC_C_PBD); p; p = db_next(p)) {
		assert_true(db_peek_bool(p, SC_F_PBD__currently_attached));
		assert_string_equal(db_peek_str(p, SC_F_PBD__host), host->ref);
	}
	assert_int_equal(count_where(db, SC_C_PBD, SC_F_PBD__SR, sr->ref), 1);
	xv pbds = db_get(db, sr, SC_F_SR__PBDs);
	assert_int_equal(xv_len(&pbds), 1);
	xv_free(&pbds);

	assert_int_equal(db_count(db, SC_C_network), 1);
	assert_int_equal(db_count(db, SC_C_PIF), 1);
	struct db_obj *pif = db_first(db, SC_C_PIF);
	assert_string_equal(db_peek_str(pif, SC_F_PIF__bond_slave_of), "OpaqueRef:NULL");
	assert_string_equal(db_peek_str(pif, SC_F_PIF__host), host->ref);
	assert_true(db_peek_bool(pif, SC_F_PIF__management));
	assert_int_equal(strlen(db_peek_str(pif, SC_F_PIF__MAC)), 17);
	assert_non_null(db_lookup_cls(db, SC_C_PIF_metrics, db_peek_str(pif, SC_F_PIF__metrics)));
	struct db_obj *net = db_first(db, SC_C_network);
	assert_string_equal(db_peek_str(net, SC_F_network__bridge), "xenbr0");
}

static void test_fresh(void **state)
{
	struct fixture *f = *state;
	run_bootstrap(f);
	check_pool_host_dom0(f->db);
	check_cpus(f->db);
	check_templates(f->db);
	check_storage_network(f->db);
	char path[128];
	struct stat st;
	snprintf(path, sizeof path, "%s/iso", f->dir);
	assert_int_equal(stat(path, &st), 0);
}

/* Counts of every class, to compare runs. */
static void snapshot_counts(struct db *db, size_t *out)
{
	for (int c = 0; c < sc_nclasses; c++)
		out[c] = sc_classes[c].stored ? db_count(db, c) : 0;
}

static void test_second_run(void **state)
{
	struct fixture *f = *state;
	run_bootstrap(f);
	size_t *before = calloc((size_t)sc_nclasses, sizeof *before);
	size_t *after = calloc((size_t)sc_nclasses, sizeof *after);
	snapshot_counts(f->db, before);
	run_bootstrap(f);
	snapshot_counts(f->db, after);
	for (int c = 0; c < sc_nclasses; c++)
		assert_int_equal(before[c], after[c]);
	check_pool_host_dom0(f->db);
	check_cpus(f->db);
	check_storage_network(f->db);
	free(before);
	free(after);
}

/* A deleted default template comes back; a user's template is untouched. */
static void test_missing_template_recreated(void **state)
{
	struct fixture *f = *state;
	run_bootstrap(f);
	struct db_txn *t = db_begin(f->db);
	db_delete(t, vm_named(f->db, "Rocky Linux 9"));
	struct db_obj *mine = vm_named(f->db, "Debian Bullseye 11");
	db_set_str(t, mine, SC_F_VM__name_description, "mine");
	struct xerr err = XERR_INIT;
	assert_int_equal(db_commit(t, &err), 0);
	size_t vms = db_count(f->db, SC_C_VM);

	f->opts.hostname = "renamed";
	run_bootstrap(f);
	assert_int_equal(db_count(f->db, SC_C_VM), vms + 1);
	assert_non_null(vm_named(f->db, "Rocky Linux 9"));
	assert_string_equal(db_peek_str(vm_named(f->db, "Debian Bullseye 11"), SC_F_VM__name_description),
			    "mine");
	struct db_obj *host = bootstrap_this_host(f->db);
	assert_string_equal(db_peek_str(host, SC_F_host__name_label), "renamed");
	assert_non_null(vm_named(f->db, "Control domain on host: renamed"));
}

/* A restart reloads the records from the durable log and refreshes them
 * in place: same host, same control domain, nothing added. */
static void test_restart_durable(void **state)
{
	struct fixture *f = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/db.sqlite", f->dir);
	struct xerr err = XERR_INIT;
	db_close(f->db);
	f->db = db_open(path, &err);
	assert_non_null(f->db);
	run_bootstrap(f);
	char host_uuid[UUID_STRLEN + 1], dom0[REF_STRLEN + 1];
	struct db_obj *host = bootstrap_this_host(f->db);
	snprintf(host_uuid, sizeof host_uuid, "%s", db_peek_str(host, SC_F_host__uuid));
	snprintf(dom0, sizeof dom0, "%s", db_peek_str(host, SC_F_host__control_domain));
	size_t *before = calloc((size_t)sc_nclasses, sizeof *before);
	snapshot_counts(f->db, before);
	db_close(f->db);

	f->db = db_open(path, &err);
	assert_non_null(f->db);
	run_bootstrap(f);
	host = bootstrap_this_host(f->db);
	assert_string_equal(db_peek_str(host, SC_F_host__uuid), host_uuid);
	assert_string_equal(db_peek_str(host, SC_F_host__control_domain), dom0);
	for (int c = 0; c < sc_nclasses; c++)
		assert_int_equal(sc_classes[c].stored ? db_count(f->db, c) : 0, before[c]);
	check_pool_host_dom0(f->db);
	check_cpus(f->db);
	check_templates(f->db);
	check_storage_network(f->db);
	free(before);
}

/* In a pool the master may be another host: a member elected master at
 * its start refreshes its own record - a bare one, made for a configured
 * member, gets its control domain - and leaves the master's alone. */
static void test_pooled_member_record(void **state)
{
	struct fixture *f = *state;
	run_bootstrap(f);
	struct db_obj *master = bootstrap_this_host(f->db);
	char master_ref[REF_STRLEN + 1], master_dom0[REF_STRLEN + 1];
	snprintf(master_ref, sizeof master_ref, "%s", master->ref);
	snprintf(master_dom0, sizeof master_dom0, "%s", db_peek_str(master, SC_F_host__control_domain));
	struct db_txn *t = db_begin(f->db);
	struct db_obj *bare = db_create(t, SC_C_host, NULL);
	db_set_str(t, bare, SC_F_host__name_label, "10.0.0.2");
	db_set_str(t, bare, SC_F_host__address, "10.0.0.2");
	struct xerr err = XERR_INIT;
	assert_int_equal(db_commit(t, &err), 0);
	char bare_ref[REF_STRLEN + 1];
	snprintf(bare_ref, sizeof bare_ref, "%s", bare->ref);

	f->opts.hostname = "member";
	f->opts.pooled = true;
	f->opts.host_ref = bare_ref;
	run_bootstrap(f);
	bare = db_lookup_cls(f->db, SC_C_host, bare_ref);
	struct db_obj *dom0 = db_lookup_cls(f->db, SC_C_VM, db_peek_str(bare, SC_F_host__control_domain));
	assert_non_null(dom0);
	assert_true(db_peek_bool(dom0, SC_F_VM__is_control_domain));
	assert_string_equal(db_peek_str(dom0, SC_F_VM__resident_on), bare_ref);
	assert_string_equal(db_peek_str(dom0, SC_F_VM__name_label), "Control domain on host: member");
	assert_non_null(db_lookup_cls(f->db, SC_C_host_metrics, db_peek_str(bare, SC_F_host__metrics)));
	master = db_lookup_cls(f->db, SC_C_host, master_ref);
	assert_string_equal(db_peek_str(master, SC_F_host__hostname), "testhost");
	assert_string_equal(db_peek_str(master, SC_F_host__control_domain), master_dom0);
	size_t dom0s = 0;
	for (struct db_obj *o = db_first(f->db, SC_C_VM); o; o = db_next(o))
		dom0s += db_peek_bool(o, SC_F_VM__is_control_domain);
	assert_int_equal(dom0s, 2);

	/* again: nothing more made; a member whose record is not there yet
	 * has nothing to refresh */
	size_t vms = db_count(f->db, SC_C_VM);
	run_bootstrap(f);
	assert_int_equal(db_count(f->db, SC_C_VM), vms);
	f->opts.host_ref = NULL;
	run_bootstrap(f);
	assert_int_equal(db_count(f->db, SC_C_VM), vms);
	assert_int_equal(db_count(f->db, SC_C_host), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_template_recreated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_durable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pooled_member_record, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
