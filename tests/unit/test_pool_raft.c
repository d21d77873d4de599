/* pool_raft: three Raft nodes (threads of this process, each with its own
 * store in SQLite and its own log) on loopback ports. A leader is elected;
 * 100 transactions submitted on it are on every store, the same; a submit
 * on a follower gets NOT_LEADER with the leader's address; the leader
 * stopped, another is elected within seconds and nothing committed is
 * lost. Also the entry encoding on its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/strbuf.h"
#include "db/db.h"
#include "db/durable.h"
#include "pool/raft.h"

#define N 3
#define TXNS 100

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
	close(s);
	return ntohs(a.sin_port);
}

static char *rm_dir;

static void cleanup(void)
{
	if (rm_dir && !getenv("XENON_KEEP_TMP")) {
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", rm_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", rm_dir);
	}
}

/* A transaction made on a scratch store and encoded, as db_commit on the
 * master will encode it: a VM named vm-<i> with a key in other_config,
 * or, for del, the deletion of ref. */
static size_t make_entry(struct db *scratch, int i, const char *del, struct strbuf *sb, char ref[64])
{
	int vm = sc_class_find("VM");
	struct db_txn *t = db_begin(scratch);
	size_t rows;
	if (del) {
		struct db_obj *o = db_create(t, vm, del);
		db_commit(t, NULL);
		t = db_begin(scratch);
		db_delete(t, o);
	} else {
		struct db_obj *o = db_create(t, vm, NULL);
		char name[32];
		snprintf(name, sizeof name, "vm-%d", i);
		db_set_str(t, o, sc_field_find(vm, "name_label"), name);
		xv *oc = db_edit(t, o, sc_field_find(vm, "other_config"));
		char v[32];
		snprintf(v, sizeof v, "%d", i * 7);
		xv_map_set(oc, "k", xv_str(v));
		snprintf(ref, 64, "%s", o->ref);
	}
	sb_reset(sb);
	rows = db_txn_encode(t, sb);
	db_abort(t);
	return rows;
}

/* Every VM of a, field by field, the same on b, and as many. */
static void assert_same_vms(struct db *a, struct db *b)
{
	int vm = sc_class_find("VM");
	db_rdlock(a);
	db_rdlock(b);
	assert_int_equal(db_count(a, vm), db_count(b, vm));
	for (struct db_obj *o = db_first(a, vm); o; o = db_next(o)) {
		struct db_obj *p = db_lookup_cls(b, vm, o->ref);
		assert_non_null(p);
		for (int f = 0; f < sc_classes[vm].nfields; f++)
			if (!sc_field_is_derived(&sc_classes[vm].fields[f]))
				assert_true(xv_equal(db_peek(o, f), db_peek(p, f)));
	}
	db_unlock(b);
	db_unlock(a);
}

static size_t vm_count(struct db *d)
{
	db_rdlock(d);
	size_t n = db_count(d, sc_class_find("VM"));
	db_unlock(d);
	return n;
}

static void test_entry_roundtrip(void **state)
{
	(void)state;
	struct db *src = db_open(NULL, NULL), *dst = db_open(NULL, NULL);
	int vm = sc_class_find("VM");
	struct strbuf sb = STRBUF_INIT;
	struct db_txn *t = db_begin(src);
	struct db_obj *o = db_create(t, vm, NULL);
	db_set_str(t, o, sc_field_find(vm, "name_label"), "tab\there \"quoted\"\nnewline é");
	struct db_obj *gone = db_create(t, vm, NULL);
	assert_int_equal(db_txn_encode(t, &sb), 2);
	assert_int_equal(db_commit(t, NULL), 0);
	assert_int_equal(db_apply_entry(dst, sb.buf, sb.len, NULL), 0);
	assert_same_vms(src, dst);

	t = db_begin(src);
	db_delete(t, gone);
	db_set_str(t, o, sc_field_find(vm, "name_label"), "renamed");
	sb_reset(&sb);
	assert_int_equal(db_txn_encode(t, &sb), 2);
	assert_int_equal(db_commit(t, NULL), 0);
	uint64_t g = db_generation(dst);
	assert_int_equal(db_apply_entry(dst, sb.buf, sb.len, NULL), 0);
	assert_int_equal(db_generation(dst), g + 1);
	assert_same_vms(src, dst);
	assert_int_equal(vm_count(dst), 1);

	struct xerr e = XERR_INIT;
	assert_int_equal(db_apply_entry(dst, "X\tnonsense\n", 11, &e), -1);
	xerr_clear(&e);
	assert_int_equal(vm_count(dst), 1);
	sb_free(&sb);
	db_close(src);
	db_close(dst);
}

/* Several entries in one transaction (a follower catching up): each row
 * ends as the last entry left it, a row created and deleted within the
 * batch is not there, one generation for the lot; a malformed entry fails
 * the batch with nothing applied. */
static void test_entries_batched(void **state)
{
	(void)state;
	struct db *src = db_open(NULL, NULL), *dst = db_open(NULL, NULL);
	int vm = sc_class_find("VM"), label = sc_field_find(vm, "name_label");
	struct strbuf sb[4] = {STRBUF_INIT, STRBUF_INIT, STRBUF_INIT, STRBUF_INIT};
	struct db_txn *t = db_begin(src);
	struct db_obj *a = db_create(t, vm, NULL), *b = db_create(t, vm, NULL);
	db_set_str(t, a, label, "a1");
	db_txn_encode(t, &sb[0]);
	assert_int_equal(db_commit(t, NULL), 0);
	t = db_begin(src);
	db_set_str(t, a, label, "a2");
	db_delete(t, b);
	struct db_obj *c = db_create(t, vm, NULL);
	db_set_str(t, c, label, "c1");
	db_txn_encode(t, &sb[1]);
	assert_int_equal(db_commit(t, NULL), 0);
	t = db_begin(src);
	db_set_str(t, a, label, "a3");
	db_txn_encode(t, &sb[2]);
	assert_int_equal(db_commit(t, NULL), 0);
	struct db_entry e[3];
	for (int i = 0; i < 3; i++)
		e[i] = (struct db_entry){sb[i].buf, sb[i].len, (uint64_t)(10 + i)};
	uint64_t g = db_generation(dst);
	assert_int_equal(db_apply_entries_at(dst, e, 3, NULL), 0);
	assert_int_equal(db_generation(dst), g + 1);
	assert_same_vms(src, dst);
	assert_int_equal(vm_count(dst), 2);

	struct db_entry bad[2] = {{sb[0].buf, sb[0].len, 20}, {"X\tnonsense\n", 11, 21}};
	struct db *other = db_open(NULL, NULL);
	struct xerr err = XERR_INIT;
	assert_int_equal(db_apply_entries_at(other, bad, 2, &err), -1);
	xerr_clear(&err);
	assert_int_equal(vm_count(other), 0);
	for (int i = 0; i < 4; i++)
		sb_free(&sb[i]);
	db_close(other);
	db_close(src);
	db_close(dst);
}

struct node {
	struct pool_raft *raft;
	struct db *db;
	char addr[64];
	char dir[512];
};

static int wait_leader(struct node *n, int skip, double timeout)
{
	double end = now() + timeout;
	while (now() < end) {
		for (int i = 0; i < N; i++)
			if (i != skip && n[i].raft && pool_raft_is_leader(n[i].raft))
				return i;
		usleep(5000);
	}
	return -1;
}

static void wait_count(struct node *n, int skip, size_t want, double timeout)
{
	double end = now() + timeout;
	for (;;) {
		bool all = true;
		for (int i = 0; i < N; i++)
			if (i != skip && vm_count(n[i].db) != want)
				all = false;
		if (all || now() > end)
			return;
		usleep(5000);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void test_three_nodes(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/xenon-raft-XXXXXX";
	rm_dir = strdup(mkdtemp(tmpl));
	atexit(cleanup);
	struct node n[N];
	struct pool_raft_peer peers[N];
	memset(n, 0, sizeof n);
	for (int i = 0; i < N; i++) {
		snprintf(n[i].addr, sizeof n[i].addr, "127.0.0.1:%d", free_port());
		peers[i] = (struct pool_raft_peer){(uint64_t)i + 1, n[i].addr};
	}
	double t0 = now();
	for (int i = 0; i < N; i++) {
		char path[600];
		snprintf(path, sizeof path, "%s/h%d/state.db", rm_dir, i + 1);
		snprintf(n[i].dir, sizeof n[i].dir, "%s/h%d/raft", rm_dir, i + 1);
		char hdir[560];
		snprintf(hdir, sizeof hdir, "%s/h%d", rm_dir, i + 1);
		assert_int_equal(mkdir(hdir, 0700), 0);
		struct xerr e = XERR_INIT;
		n[i].db = db_open(path, &e);
		assert_non_null(n[i].db);
		struct pool_raft_config c = {.id = (uint64_t)i + 1, .address = n[i].addr, .dir = n[i].dir,
					     .db = n[i].db, .peers = peers, .npeers = N};
		n[i].raft = pool_raft_start(&c, &e);
		if (!n[i].raft)
			fail_msg("start: %s", e.nparams ? e.params[0] : e.code);
		assert_non_null(n[i].raft);
	}
	int leader = wait_leader(n, -1, 10);
	assert_true(leader >= 0);
	printf("# leader elected after %.0f ms: node %d (%s)\n", (now() - t0) * 1000, leader + 1,
	       n[leader].addr);

	/* 100 transactions through the leader */
	struct db *scratch = db_open(NULL, NULL);
	struct strbuf sb = STRBUF_INIT;
	double lat[TXNS];
	char refs[TXNS][64];
	for (int i = 0; i < TXNS; i++) {
		assert_int_equal(make_entry(scratch, i, NULL, &sb, refs[i]), 1);
		char la[POOL_ADDR_MAX];
		struct xerr e = XERR_INIT;
		double s = now();
		enum pool_submit_result r = pool_raft_submit(n[leader].raft, sb.buf, sb.len, la, &e);
		lat[i] = now() - s;
		if (r != POOL_SUBMIT_OK)
			fail_msg("submit %d: %d %s", i, r, e.nparams ? e.params[0] : "");
		/* acknowledged means applied on the leader already */
		db_rdlock(n[leader].db);
		assert_non_null(db_lookup(n[leader].db, refs[i]));
		db_unlock(n[leader].db);
	}
	qsort(lat, TXNS, sizeof lat[0], cmp_double);
	printf("# commit latency over %d submits: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", TXNS,
	       lat[TXNS / 2] * 1000, lat[TXNS * 99 / 100] * 1000, lat[TXNS - 1] * 1000);
	wait_count(n, -1, TXNS, 5);
	for (int i = 0; i < N; i++)
		if (i != leader)
			assert_same_vms(n[leader].db, n[i].db);

	/* a follower refuses, naming the leader */
	int follower = (leader + 1) % N;
	char la[POOL_ADDR_MAX];
	assert_int_equal(pool_raft_submit(n[follower].raft, sb.buf, sb.len, la, NULL),
			 POOL_SUBMIT_NOT_LEADER);
	assert_string_equal(la, n[leader].addr);
	char known[POOL_ADDR_MAX];
	assert_int_equal(pool_raft_leader(n[follower].raft, known), (uint64_t)leader + 1);

	/* the leader goes: another within seconds, nothing committed lost */
	pool_raft_stop(n[leader].raft);
	n[leader].raft = NULL;
	t0 = now();
	int next = wait_leader(n, leader, 10);
	assert_true(next >= 0 && next != leader);
	printf("# new leader after the old one stopped: %.0f ms (node %d)\n", (now() - t0) * 1000, next + 1);
	for (int i = 0; i < 10; i++) {
		char ref[64];
		make_entry(scratch, TXNS + i, NULL, &sb, ref);
		assert_int_equal(pool_raft_submit(n[next].raft, sb.buf, sb.len, NULL, NULL), POOL_SUBMIT_OK);
	}
	wait_count(n, leader, TXNS + 10, 5);
	int other = 3 - leader - next;
	assert_same_vms(n[next].db, n[other].db);
	assert_int_equal(vm_count(n[next].db), TXNS + 10);
	for (int i = 0; i < TXNS; i++) {
		db_rdlock(n[next].db);
		assert_non_null(db_lookup(n[next].db, refs[i]));
		db_unlock(n[next].db);
	}
	/* db_commit through Raft: the stores' replicators registered, a write
	 * on the leader is acknowledged once committed and applied once there
	 * (one generation a commit), a write on a follower is HOST_IS_SLAVE */
	for (int i = 0; i < N; i++)
		if (i != leader)
			db_set_replicator(n[i].db, &(struct db_replicator){pool_raft_replicate, n[i].raft, pool_raft_replicate_async});
	int vmc = sc_class_find("VM");
	double clat[TXNS];
	for (int i = 0; i < TXNS; i++) {
		uint64_t g = db_generation(n[next].db);
		double s = now();
		struct db_txn *t = db_begin(n[next].db);
		struct db_obj *o = db_create(t, vmc, NULL);
		db_set_str(t, o, sc_field_find(vmc, "name_label"), "through db_commit");
		struct xerr e = XERR_INIT;
		if (db_commit(t, &e) != 0)
			fail_msg("db_commit %d: %s", i, e.code ? e.code : "?");
		clat[i] = now() - s;
		assert_int_equal(db_generation(n[next].db), g + 1);
	}
	qsort(clat, TXNS, sizeof clat[0], cmp_double);
	printf("# db_commit through Raft (2 of 3 up): p50 %.2f ms, p99 %.2f ms\n", clat[TXNS / 2] * 1000,
	       clat[TXNS * 99 / 100] * 1000);
	wait_count(n, leader, 2 * TXNS + 10, 5);
	assert_same_vms(n[next].db, n[other].db);
	struct db_txn *t = db_begin(n[other].db);
	db_create(t, vmc, NULL);
	struct xerr e = XERR_INIT;
	assert_int_equal(db_commit(t, &e), -1);
	assert_string_equal(e.code, "HOST_IS_SLAVE");
	assert_int_equal(e.nparams, 1);
	assert_string_equal(e.params[0], "127.0.0.1");
	xerr_clear(&e);
	assert_int_equal(vm_count(n[other].db), 2 * TXNS + 10);

	/* a new node, started with no configuration, added as a standby: it
	 * receives the whole log */
	struct node extra = {0};
	snprintf(extra.addr, sizeof extra.addr, "127.0.0.1:%d", free_port());
	snprintf(extra.dir, sizeof extra.dir, "%s/h4/raft", rm_dir);
	char xpath[600];
	snprintf(xpath, sizeof xpath, "%s/h4", rm_dir);
	assert_int_equal(mkdir(xpath, 0700), 0);
	snprintf(xpath, sizeof xpath, "%s/h4/state.db", rm_dir);
	extra.db = db_open(xpath, NULL);
	struct pool_raft_config xc = {.id = 4, .address = extra.addr, .dir = extra.dir, .db = extra.db};
	extra.raft = pool_raft_start(&xc, &e);
	assert_non_null(extra.raft);
	assert_int_equal(pool_raft_add_member(n[next].raft, 4, extra.addr, false, &e), 0);
	for (double end = now() + 5; vm_count(extra.db) != 2 * TXNS + 10 && now() < end;)
		usleep(5000);
	assert_same_vms(n[next].db, extra.db);
	assert_int_equal(pool_raft_voters(n[next].raft), 3);
	pool_raft_stop(extra.raft);
	db_close(extra.db);

	/* the old leader's store, reopened, holds what it had acknowledged */
	db_close(n[leader].db);
	char path[600];
	snprintf(path, sizeof path, "%s/h%d/state.db", rm_dir, leader + 1);
	n[leader].db = db_open(path, NULL);
	assert_int_equal(vm_count(n[leader].db), TXNS);

	for (int i = 0; i < N; i++) {
		pool_raft_stop(n[i].raft);
		db_close(n[i].db);
	}
	sb_free(&sb);
	db_close(scratch);
}

static size_t count_snapshots(const char *dir)
{
	char cmd[700];
	snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '^snapshot-.*[0-9]$'", dir);
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	if (f) {
		if (fscanf(f, "%zu", &n) != 1)
			n = 0;
		pclose(f);
	}
	return n;
}

static struct pool_raft *start_node(struct node *n, int i, struct pool_raft_peer *peers, const char *base)
{
	char path[600];
	snprintf(path, sizeof path, "%s/s%d/state.db", base, i + 1);
	snprintf(n->dir, sizeof n->dir, "%s/s%d/raft", base, i + 1);
	struct xerr e = XERR_INIT;
	if (!n->db)
		n->db = db_open(path, &e);
	assert_non_null(n->db);
	struct pool_raft_config c = {.id = (uint64_t)i + 1, .address = n->addr, .dir = n->dir, .db = n->db,
				     .db_path = path, .peers = peers, .npeers = N,
				     .snapshot_threshold = 32, .snapshot_trailing = 8};
	n->raft = pool_raft_start(&c, &e);
	if (!n->raft)
		fail_msg("start: %s", e.nparams ? e.params[0] : e.code);
	return n->raft;
}

/* Snapshots (threshold 32 entries, 8 kept after one): a follower down
 * while 200 entries commit gets the leader's SQLite image and then the
 * rest, and ends with the same store; a node restarted re-applies none of
 * the entries its SQLite holds, only those made while it was down. */
static void test_snapshots_and_restart(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/xenon-raftsnap-XXXXXX";
	char *base = mkdtemp(tmpl);
	assert_non_null(base);
	struct node n[N];
	struct pool_raft_peer peers[N];
	memset(n, 0, sizeof n);
	for (int i = 0; i < N; i++) {
		snprintf(n[i].addr, sizeof n[i].addr, "127.0.0.1:%d", free_port());
		peers[i] = (struct pool_raft_peer){(uint64_t)i + 1, n[i].addr};
		char d[560];
		snprintf(d, sizeof d, "%s/s%d", base, i + 1);
		assert_int_equal(mkdir(d, 0700), 0);
	}
	for (int i = 0; i < N; i++)
		start_node(&n[i], i, peers, base);
	int leader = wait_leader(n, -1, 10);
	assert_true(leader >= 0);
	struct db *scratch = db_open(NULL, NULL);
	struct strbuf sb = STRBUF_INIT;
	char ref[64];
	for (int i = 0; i < 10; i++) {
		make_entry(scratch, i, NULL, &sb, ref);
		assert_int_equal(pool_raft_submit(n[leader].raft, sb.buf, sb.len, NULL, NULL), POOL_SUBMIT_OK);
	}
	wait_count(n, -1, 10, 5);
	int down = (leader + 1) % N, other = 3 - leader - down;
	pool_raft_stop(n[down].raft);
	n[down].raft = NULL;
	db_close(n[down].db);
	n[down].db = NULL;
	for (int i = 10; i < 210; i++) {
		make_entry(scratch, i, NULL, &sb, ref);
		assert_int_equal(pool_raft_submit(n[leader].raft, sb.buf, sb.len, NULL, NULL), POOL_SUBMIT_OK);
	}
	/* and a deletion: the image must drop what the store holds no more */
	make_entry(scratch, 0, ref, &sb, ref);
	assert_int_equal(pool_raft_submit(n[leader].raft, sb.buf, sb.len, NULL, NULL), POOL_SUBMIT_OK);
	struct pool_raft_stats st;
	pool_raft_get_stats(n[leader].raft, &st);
	assert_true(st.snapshots_taken >= 5);
	assert_true(count_snapshots(n[leader].dir) >= 1);

	start_node(&n[down], down, peers, base);
	for (double end = now() + 10; vm_count(n[down].db) != 209 && now() < end;)
		usleep(5000);
	assert_int_equal(vm_count(n[down].db), 209);
	assert_same_vms(n[leader].db, n[down].db);
	for (double end = now() + 5; now() < end; usleep(5000)) { /* counted after the rows are in */
		pool_raft_get_stats(n[down].raft, &st);
		if (st.snapshots_installed)
			break;
	}
	assert_true(st.snapshots_installed >= 1);
	assert_true(st.replayed < 50); /* the image, then only the entries after it */
	printf("# behind by 201 entries: %llu snapshot(s) installed, %llu entries after\n",
	       (unsigned long long)st.snapshots_installed, (unsigned long long)st.replayed);

	/* a restart: nothing the SQLite of the node holds is applied again */
	uint64_t was = pool_raft_applied(n[other].raft);
	pool_raft_stop(n[other].raft);
	n[other].raft = NULL;
	db_close(n[other].db);
	n[other].db = NULL;
	for (int i = 0; i < 5; i++) {
		make_entry(scratch, 300 + i, NULL, &sb, ref);
		assert_int_equal(pool_raft_submit(n[leader].raft, sb.buf, sb.len, NULL, NULL), POOL_SUBMIT_OK);
	}
	start_node(&n[other], other, peers, base);
	assert_true(pool_raft_applied(n[other].raft) >= was - 1);
	for (double end = now() + 10; vm_count(n[other].db) != 214 && now() < end;)
		usleep(5000);
	assert_int_equal(vm_count(n[other].db), 214);
	assert_same_vms(n[leader].db, n[other].db);
	/* the applier counts a batch once its rows are in the store */
	for (double end = now() + 5; now() < end; usleep(5000)) {
		pool_raft_get_stats(n[other].raft, &st);
		if (st.replayed >= 5 || st.snapshots_installed)
			break;
	}
	printf("# restarted node: %llu entries applied, %llu skipped, %llu snapshot(s) installed\n",
	       (unsigned long long)st.replayed, (unsigned long long)st.skipped,
	       (unsigned long long)st.snapshots_installed);
	/* nothing it held is applied again: the 5 new entries, or (when the
	 * leader compacted its log meanwhile, as it may under load) an image
	 * and fewer entries after it */
	assert_true(st.replayed <= 5);
	assert_true(st.replayed == 5 ? st.snapshots_installed == 0 : st.snapshots_installed == 1);

	for (int i = 0; i < N; i++) {
		pool_raft_stop(n[i].raft);
		db_close(n[i].db);
	}
	sb_free(&sb);
	db_close(scratch);
	if (!getenv("XENON_KEEP_TMP")) {
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", base);
	}
}

/* Roles: a pool of two has one voter (the first; the other a standby that
 * holds the log), so the master keeps committing alone; in three, the
 * leadership moves to a chosen voter (libraft's transfer). */
static void test_roles_and_transfer(void **state)
{
	(void)state;
	assert_int_equal(pool_raft_voters_for(1), 1);
	assert_int_equal(pool_raft_voters_for(2), 1);
	assert_int_equal(pool_raft_voters_for(3), 3);
	assert_int_equal(pool_raft_voters_for(4), 3);
	assert_int_equal(pool_raft_voters_for(5), 5);
	assert_int_equal(pool_raft_voters_for(16), 5);
	char tmpl[] = "/tmp/xenon-raftroles-XXXXXX";
	char *base = mkdtemp(tmpl);
	assert_non_null(base);
	struct node n[N];
	struct pool_raft_peer peers[N];
	memset(n, 0, sizeof n);
	for (int i = 0; i < N; i++) {
		snprintf(n[i].addr, sizeof n[i].addr, "127.0.0.1:%d", free_port());
		peers[i] = (struct pool_raft_peer){(uint64_t)i + 1, n[i].addr};
		char d[560];
		snprintf(d, sizeof d, "%s/s%d", base, i + 1);
		assert_int_equal(mkdir(d, 0700), 0);
	}
	/* a pool of two */
	for (int i = 0; i < 2; i++) {
		char path[600];
		snprintf(path, sizeof path, "%s/s%d/state.db", base, i + 1);
		snprintf(n[i].dir, sizeof n[i].dir, "%s/s%d/raft2", base, i + 1);
		n[i].db = db_open(path, NULL);
		struct pool_raft_config c = {.id = (uint64_t)i + 1, .address = n[i].addr, .dir = n[i].dir,
					     .db = n[i].db, .peers = peers, .npeers = 2};
		n[i].raft = pool_raft_start(&c, NULL);
		assert_non_null(n[i].raft);
	}
	double end = now() + 10;
	while (!pool_raft_is_leader(n[0].raft) && now() < end)
		usleep(5000);
	assert_true(pool_raft_is_leader(n[0].raft));
	assert_false(pool_raft_is_leader(n[1].raft));
	assert_int_equal(pool_raft_voters(n[0].raft), 1);
	struct pool_raft_member m[4];
	assert_int_equal(pool_raft_members(n[0].raft, m, 4), 2);
	assert_true(m[0].voter);
	assert_false(m[1].voter);
	struct db *scratch = db_open(NULL, NULL);
	struct strbuf sb = STRBUF_INIT;
	char ref[64];
	for (int i = 0; i < 20; i++) {
		make_entry(scratch, i, NULL, &sb, ref);
		assert_int_equal(pool_raft_submit(n[0].raft, sb.buf, sb.len, NULL, NULL), POOL_SUBMIT_OK);
	}
	for (end = now() + 5; vm_count(n[1].db) != 20 && now() < end;)
		usleep(5000);
	assert_int_equal(vm_count(n[1].db), 20); /* the standby holds the log */
	pool_raft_stop(n[1].raft);
	n[1].raft = NULL;
	for (int i = 20; i < 25; i++) { /* the master alone still commits */
		make_entry(scratch, i, NULL, &sb, ref);
		assert_int_equal(pool_raft_submit(n[0].raft, sb.buf, sb.len, NULL, NULL), POOL_SUBMIT_OK);
	}
	pool_raft_stop(n[0].raft);
	for (int i = 0; i < 2; i++) {
		db_close(n[i].db);
		n[i].db = NULL;
	}

	/* three: the leadership moved to a chosen follower */
	for (int i = 0; i < N; i++) {
		char path[600];
		snprintf(path, sizeof path, "%s/s%d/state3.db", base, i + 1);
		snprintf(n[i].dir, sizeof n[i].dir, "%s/s%d/raft3", base, i + 1);
		n[i].db = db_open(path, NULL);
		struct pool_raft_config c = {.id = (uint64_t)i + 1, .address = n[i].addr, .dir = n[i].dir,
					     .db = n[i].db, .peers = peers, .npeers = N};
		n[i].raft = pool_raft_start(&c, NULL);
		assert_non_null(n[i].raft);
	}
	int leader = wait_leader(n, -1, 10);
	assert_true(leader >= 0);
	assert_int_equal(pool_raft_voters(n[leader].raft), 3);
	int target = (leader + 1) % N;
	struct xerr e = XERR_INIT;
	double t0 = now();
	assert_true(pool_raft_transfer(n[leader].raft, (uint64_t)target + 1, &e));
	assert_int_equal(wait_leader(n, leader, 5), target);
	printf("# leadership moved in %.0f ms\n", (now() - t0) * 1000);
	make_entry(scratch, 100, NULL, &sb, ref);
	assert_int_equal(pool_raft_submit(n[target].raft, sb.buf, sb.len, NULL, NULL), POOL_SUBMIT_OK);
	/* to itself or to no member: refused */
	assert_false(pool_raft_transfer(n[target].raft, (uint64_t)target + 1, &e));
	xerr_clear(&e);
	assert_false(pool_raft_transfer(n[target].raft, 99, &e));
	xerr_clear(&e);
	for (int i = 0; i < N; i++) {
		pool_raft_stop(n[i].raft);
		db_close(n[i].db);
	}
	sb_free(&sb);
	db_close(scratch);
	if (!getenv("XENON_KEEP_TMP")) {
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", base);
	}
}

/* Four members: three voters and a standby; a voter stopped for longer
 * than voter_timeout_ms is replaced by the standby (promoted, then the
 * silent one demoted), so losing one more host still leaves a majority. */
static void test_standby_promoted(void **state)
{
	(void)state;
	enum { M = 4 };
	char tmpl[] = "/tmp/xenon-raftpromo-XXXXXX";
	char *base = mkdtemp(tmpl);
	assert_non_null(base);
	struct node n[M];
	struct pool_raft_peer peers[M];
	memset(n, 0, sizeof n);
	for (int i = 0; i < M; i++) {
		snprintf(n[i].addr, sizeof n[i].addr, "127.0.0.1:%d", free_port());
		peers[i] = (struct pool_raft_peer){(uint64_t)i + 1, n[i].addr};
	}
	for (int i = 0; i < M; i++) {
		char path[600];
		snprintf(n[i].dir, sizeof n[i].dir, "%s/p%d/raft", base, i + 1);
		snprintf(path, sizeof path, "%s/p%d", base, i + 1);
		assert_int_equal(mkdir(path, 0700), 0);
		snprintf(path, sizeof path, "%s/p%d/state.db", base, i + 1);
		n[i].db = db_open(path, NULL);
		struct pool_raft_config c = {.id = (uint64_t)i + 1, .address = n[i].addr, .dir = n[i].dir,
					     .db = n[i].db, .peers = peers, .npeers = M, .voter_timeout_ms = 1500};
		n[i].raft = pool_raft_start(&c, NULL);
		assert_non_null(n[i].raft);
	}
	int leader = -1;
	for (double end = now() + 10; leader < 0 && now() < end; usleep(5000))
		for (int i = 0; i < M; i++)
			if (pool_raft_is_leader(n[i].raft))
				leader = i;
	assert_true(leader >= 0 && leader < 3); /* the first three vote */
	struct pool_raft_member m[M];
	assert_int_equal(pool_raft_members(n[leader].raft, m, M), M);
	assert_int_equal(pool_raft_voters(n[leader].raft), 3);
	assert_false(m[3].voter);
	int gone = (leader + 1) % 3;
	pool_raft_stop(n[gone].raft);
	n[gone].raft = NULL;
	double t0 = now();
	bool replaced = false;
	while (!replaced && now() < t0 + 15) {
		usleep(20000);
		pool_raft_members(n[leader].raft, m, M);
		replaced = m[3].voter && !m[gone].voter && pool_raft_voters(n[leader].raft) == 3;
	}
	assert_true(replaced);
	printf("# the standby voted in place of the stopped voter after %.1f s\n", now() - t0);
	/* one more voter lost: the remaining two of three still commit */
	int second = 3 - leader - gone;
	pool_raft_stop(n[second].raft);
	n[second].raft = NULL;
	struct db *scratch = db_open(NULL, NULL);
	struct strbuf sb = STRBUF_INIT;
	char ref[64];
	make_entry(scratch, 1, NULL, &sb, ref);
	assert_int_equal(pool_raft_submit(n[leader].raft, sb.buf, sb.len, NULL, NULL), POOL_SUBMIT_OK);
	for (int i = 0; i < M; i++) {
		pool_raft_stop(n[i].raft);
		db_close(n[i].db);
	}
	sb_free(&sb);
	db_close(scratch);
	if (!getenv("XENON_KEEP_TMP")) {
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", base);
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as xenond: peers that go mid-write */
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_roundtrip),
		cmocka_unit_test(test_entries_batched),
		cmocka_unit_test(test_three_nodes),
		cmocka_unit_test(test_snapshots_and_restart),
		cmocka_unit_test(test_roles_and_transfer),
		cmocka_unit_test(test_standby_promoted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
