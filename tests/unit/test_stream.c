/* Unit tests of whole-table answers sent in pieces: for every protocol,
 * the success envelope's head, the pieces a get_all_records /
 * get_all_records_where / get_all stream gives, and the tail are byte for
 * byte the answer built whole (wire_write_success of the handler's
 * result), whatever the piece size; rows deleted after the refs were taken
 * are left out; small tables are still answered whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "db/db.h"
#include "api/generic.h"
#include "server/rpc.h"
#include "wire/wire.h"

#define NVMS 600 /* above the streaming threshold */

static struct db *db;
static char refs[NVMS][REF_STRLEN + 1];

static void populate(struct db *d, int n)
{
	struct db_txn *t = db_begin(d);
	for (int i = 0; i < n; i++) {
		struct db_obj *vm = db_create(t, SC_C_VM, NULL);
		memcpy(refs[i], vm->ref, REF_STRLEN + 1);
		char name[64];
		snprintf(name, sizeof name, "vm <%d> & \"quoted\" \xc3\xa9", i);
		db_set_str(t, vm, SC_F_VM__name_label, name);
		db_set_str(t, vm, SC_F_VM__name_description, i % 2 ? "odd" : "even");
		db_set_int(t, vm, SC_F_VM__memory_static_max, (int64_t)i << 30);
		xv *oc = db_edit(t, vm, SC_F_VM__other_config);
		xv_map_set(oc, "k<1>", xv_str("v&1"));
		if (i % 7 == 0) { /* a derived set (VM.VBDs) that is not empty */
			struct db_obj *vbd = db_create(t, SC_C_VBD, NULL);
			db_set_str(t, vbd, SC_F_VBD__VM, vm->ref);
		}
	}
	assert_int_equal(db_commit(t, NULL), 0);
}

static int setup(void **state)
{
	(void)state;
	struct xerr e = XERR_INIT;
	db = db_open(NULL, &e);
	assert_non_null(db);
	populate(db, NVMS);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	db_close(db);
	return 0;
}

static int run(const char *msg, const char *where, enum wire_proto proto, bool may_stream,
	       struct rpc_ctx *ctx, xv *result)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->db = db;
	ctx->cls = SC_C_VM;
	ctx->msg = sc_message_find(SC_C_VM, msg);
	assert_non_null(ctx->msg);
	ctx->proto = (int)proto;
	ctx->may_stream = may_stream;
	rpc_handler fn = generic_handler(SC_C_VM, ctx->msg);
	assert_non_null(fn);
	xv args = xv_arr_new();
	if (where)
		xv_arr_push_str(&args, where);
	struct xerr err = XERR_INIT;
	*result = XV_NIL_INIT;
	int rc = fn(ctx, &args, result, &err);
	xv_free(&args);
	xerr_clear(&err);
	return rc;
}

static void whole(const char *msg, const char *where, enum wire_proto proto, const xv *id,
		  struct strbuf *out)
{
	struct rpc_ctx ctx;
	xv result;
	assert_int_equal(run(msg, where, proto, false, &ctx, &result), 0);
	assert_null(ctx.stream);
	wire_write_success(out, proto, id, &result);
	xv_free(&result);
}

/* The streamed answer, in pieces of about want bytes; after the first
 * piece, del (if any) is destroyed. */
static void streamed(const char *msg, const char *where, enum wire_proto proto, const xv *id,
		     size_t want, const char *del, struct strbuf *out)
{
	struct rpc_ctx ctx;
	xv result;
	assert_int_equal(run(msg, where, proto, true, &ctx, &result), 0);
	assert_non_null(ctx.stream);
	assert_int_equal(result.kind, XV_NIL);
	struct rpc_stream *s = ctx.stream;
	wire_write_success_head(out, proto);
	size_t pieces = 0;
	for (;;) {
		size_t before = out->len;
		bool done = s->next(s, out, want);
		pieces++;
		/* without a filter, a piece that is not the last holds at least
		 * want bytes (with one, or past 512 rows, it may stop early) */
		if (!done && !where && want <= 64 * 1024)
			assert_true(out->len - before >= want);
		if (del && pieces == 1) {
			struct db_txn *t = db_begin(db);
			struct db_obj *o = db_lookup_cls(db, SC_C_VM, del);
			assert_non_null(o);
			db_delete(t, o);
			assert_int_equal(db_commit(t, NULL), 0);
		}
		if (done)
			break;
	}
	wire_write_success_tail(out, proto, id);
	s->free(s);
	if (want < 1000 && !where)
		assert_true(pieces > 100);
}

static void assert_same(const struct strbuf *a, const struct strbuf *b)
{
	assert_int_equal(a->len, b->len);
	assert_memory_equal(a->buf, b->buf, a->len);
}

static const enum wire_proto protos[] = {WIRE_XMLRPC, WIRE_JSONRPC1, WIRE_JSONRPC2};

static void check_all(const char *msg, const char *where)
{
	xv ids[] = {xv_int(7), xv_str("id \"x\"")};
	static const size_t wants[] = {1, 3000, 64 * 1024, 1u << 30};
	for (size_t p = 0; p < 3; p++)
		for (size_t i = 0; i < 2; i++) {
			struct strbuf w = STRBUF_INIT;
			whole(msg, where, protos[p], &ids[i], &w);
			for (size_t k = 0; k < sizeof wants / sizeof wants[0]; k++) {
				struct strbuf s = STRBUF_INIT;
				streamed(msg, where, protos[p], &ids[i], wants[k], NULL, &s);
				assert_same(&w, &s);
				sb_free(&s);
			}
			sb_free(&w);
		}
	xv_free(&ids[0]);
	xv_free(&ids[1]);
}

static void test_get_all_records_bytes(void **state)
{
	(void)state;
	check_all("get_all_records", NULL);
}

static void test_get_all_records_where_bytes(void **state)
{
	(void)state;
	check_all("get_all_records_where", "field \"name__description\" = \"odd\"");
	check_all("get_all_records_where", "field \"name__description\" = \"none\"");
}

static void test_get_all_bytes(void **state)
{
	(void)state;
	check_all("get_all", NULL);
}

static void test_whole_answer_is_what_it_was(void **state)
{
	(void)state;
	/* the head and tail around a value give wire_write_success's bytes */
	xv v = xv_map_new();
	xv_map_set(&v, "a", xv_int(1));
	xv id = xv_int(3);
	for (size_t p = 0; p < 3; p++) {
		struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
		wire_write_success(&a, protos[p], &id, &v);
		wire_write_success_head(&b, protos[p]);
		size_t at = b.len;
		wire_write_success_tail(&b, protos[p], &id);
		char *tail = strdup(b.buf + at);
		b.len = at;
		b.buf[at] = '\0';
		if (protos[p] == WIRE_XMLRPC)
			wire_xml_value(&b, &v);
		else
			sb_puts(&b, "{\"a\":1}");
		sb_puts(&b, tail);
		free(tail);
		assert_same(&a, &b);
		sb_free(&a);
		sb_free(&b);
	}
	xv_free(&v);
}

static void test_deleted_rows_left_out(void **state)
{
	(void)state;
	for (size_t p = 0; p < 3; p++) {
		struct strbuf s = STRBUF_INIT, w = STRBUF_INIT;
		const char *victim = refs[NVMS - 1 - p];
		streamed("get_all_records", NULL, protos[p], NULL, 1, victim, &s);
		whole("get_all_records", NULL, protos[p], NULL, &w); /* after the delete */
		assert_null(strstr(w.buf, victim));
		assert_same(&w, &s);
		sb_free(&s);
		sb_free(&w);
	}
}

static void test_small_tables_whole(void **state)
{
	(void)state;
	struct xerr e = XERR_INIT;
	struct db *small = db_open(NULL, &e);
	struct db *keep = db;
	db = small;
	populate(small, 10);
	struct rpc_ctx ctx;
	xv result;
	assert_int_equal(run("get_all_records", NULL, WIRE_JSONRPC2, true, &ctx, &result), 0);
	assert_null(ctx.stream);
	assert_int_equal(result.kind, XV_RAW);
	xv_free(&result);
	/* no protocol (a task's result): never a stream */
	db = keep;
	assert_int_equal(run("get_all_records", NULL, WIRE_XMLRPC, true, &ctx, &result), 0);
	assert_non_null(ctx.stream);
	ctx.stream->free(ctx.stream);
	memset(&ctx, 0, sizeof ctx);
	ctx.db = db;
	ctx.cls = SC_C_VM;
	ctx.msg = sc_message_find(SC_C_VM, "get_all_records");
	ctx.proto = -1;
	ctx.may_stream = true;
	xv args = xv_arr_new();
	struct xerr err = XERR_INIT;
	assert_int_equal(generic_handler(SC_C_VM, ctx.msg)(&ctx, &args, &result, &err), 0);
	assert_null(ctx.stream);
	assert_int_equal(result.kind, XV_MAP);
	xv_free(&result);
	xv_free(&args);
	db_close(small);
}

/* VM.get_record answers with the record encoded straight from the store
 * (XV_RAW) when the protocol is known; its bytes must be those of the
 * record built as a value (what a task's result gets) and encoded by the
 * wire writers, for every protocol: derived sets empty, of one and of
 * several refs, escapes, floats, times. */
static void test_get_record_bytes(void **state)
{
	(void)state;
	struct db_txn *t = db_begin(db);
	struct db_obj *vm = db_create(t, SC_C_VM, NULL);
	db_set_str(t, vm, SC_F_VM__name_label, "ctl \x01\t\r\n <&> \"q\" \\ \xc3\xa9 \xff end");
	for (int i = 0; i < 3; i++) {
		struct db_obj *vbd = db_create(t, SC_C_VBD, NULL);
		db_set_str(t, vbd, SC_F_VBD__VM, vm->ref);
	}
	*db_edit(t, vm, SC_F_VM__HVM_shadow_multiplier) = xv_float(1.5);
	*db_edit(t, vm, SC_F_VM__snapshot_time) = xv_time(1704110400);
	char ref[REF_STRLEN + 1];
	memcpy(ref, vm->ref, sizeof ref);
	assert_int_equal(db_commit(t, NULL), 0);
	const char *which[] = {ref, refs[0], refs[1], refs[7]};
	xv id = xv_str("id \"x\"");
	for (size_t w = 0; w < sizeof which / sizeof which[0]; w++)
		for (size_t p = 0; p < 3; p++) {
			struct rpc_ctx ctx;
			memset(&ctx, 0, sizeof ctx);
			ctx.db = db;
			ctx.cls = SC_C_VM;
			ctx.msg = sc_message_find(SC_C_VM, "get_record");
			rpc_handler fn = generic_handler(SC_C_VM, ctx.msg);
			xv args = xv_arr_new();
			xv_arr_push_str(&args, which[w]);
			struct xerr err = XERR_INIT;
			xv raw = XV_NIL_INIT, tree = XV_NIL_INIT;
			ctx.proto = (int)protos[p];
			assert_int_equal(fn(&ctx, &args, &raw, &err), 0);
			assert_int_equal(raw.kind, XV_RAW);
			ctx.proto = -1;
			assert_int_equal(fn(&ctx, &args, &tree, &err), 0);
			assert_int_equal(tree.kind, XV_MAP);
			struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
			wire_write_success(&a, protos[p], &id, &raw);
			wire_write_success(&b, protos[p], &id, &tree);
			assert_same(&a, &b);
			if (w == 0)
				assert_non_null(strstr(a.buf, "OpaqueRef:"));
			sb_free(&a);
			sb_free(&b);
			xv_free(&raw);
			xv_free(&tree);
			xv_free(&args);
		}
	xv_free(&id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_answer_is_what_it_was),
		cmocka_unit_test(test_get_record_bytes),
		cmocka_unit_test(test_get_all_records_bytes),
		cmocka_unit_test(test_get_all_records_where_bytes),
		cmocka_unit_test(test_get_all_bytes),
		cmocka_unit_test(test_small_tables_whole),
		cmocka_unit_test(test_deleted_rows_left_out),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
