/* Unit tests of xe's pure parts: command-line parsing (~/.xe,
 * XE_EXTRA_ARGS, switches, key=value words), the printer's layout and
 * --minimal escaping, record rendering through a fake resolver, filters,
 * selectors, field selection, help and the provisioning XML rewrite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "cli/cmd.h"
#include "cli/filter.h"
#include "cli/records.h"
#include "cli/xe.h"
#include "schema/schema.h"
#include "base/jsonv.h"

/* ---- command line ---- */

static void test_cmdline_basic(void **state)
{
	(void)state;
	char *argv[] = {"xe",          "-s",   "host1",          "-p",
			"8080",        "--nossl", "-u",            "admin",
			"-pw",         "pw",   "vm-param-set",   "uuid=abc",
			"other-config:key=a=b", "--force", "name-label=", "flag"};
	struct xe_cmdline cl;
	struct xerr err = XERR_INIT;
	assert_int_equal(xe_cmdline_parse(16, argv, NULL, NULL, &cl, &err), 0);
	assert_string_equal(cl.conn.server, "host1");
	assert_int_equal(cl.conn.port, 8080);
	assert_true(cl.conn.nossl);
	assert_string_equal(cl.conn.username, "admin");
	assert_string_equal(cl.conn.password, "pw");
	assert_string_equal(cl.cmd, "vm-param-set");
	assert_string_equal(xe_param(&cl.params, "uuid"), "abc");
	/* Split at the first '=' only: map keys and values keep theirs. */
	assert_string_equal(xe_param(&cl.params, "other-config:key"), "a=b");
	assert_string_equal(xe_param(&cl.params, "force"), "true");
	assert_string_equal(xe_param(&cl.params, "name-label"), "");
	assert_string_equal(xe_param(&cl.params, "flag"), "");
	assert_null(xe_param(&cl.params, "server"));
	xe_cmdline_free(&cl);
}

static void test_cmdline_defaults_and_precedence(void **state)
{
	(void)state;
	char *argv0[] = {"xe", "vm-list"};
	struct xe_cmdline cl;
	struct xerr err = XERR_INIT;
	assert_int_equal(xe_cmdline_parse(2, argv0, NULL, NULL, &cl, &err), 0);
	assert_string_equal(cl.conn.server, "127.0.0.1");
	assert_int_equal(cl.conn.port, 0); /* 443, or 80 with nossl */
	assert_false(cl.conn.nossl);
	assert_string_equal(cl.conn.username, "root");
	xe_cmdline_free(&cl);

	/* ~/.xe < XE_EXTRA_ARGS < argv; unknown rc keys become params. */
	const char *rc = "server=rc-host\nport=1\nusername=rcuser\n\nparams=uuid\nnossl=true\n";
	char *argv[] = {"xe", "vm-list", "-p", "3"};
	assert_int_equal(xe_cmdline_parse(4, argv, rc, "port=2,password=a\\,b", &cl, &err), 0);
	assert_string_equal(cl.conn.server, "rc-host");
	assert_int_equal(cl.conn.port, 3);
	assert_string_equal(cl.conn.username, "rcuser");
	assert_string_equal(cl.conn.password, "a,b");
	assert_true(cl.conn.nossl);
	assert_string_equal(xe_param(&cl.params, "params"), "uuid");
	xe_cmdline_free(&cl);

	/* server=/port= words on the command line are connection settings. */
	char *argv2[] = {"xe", "host-list", "server=h2", "port=99", "name-label=x"};
	assert_int_equal(xe_cmdline_parse(5, argv2, NULL, NULL, &cl, &err), 0);
	assert_string_equal(cl.conn.server, "h2");
	assert_int_equal(cl.conn.port, 99);
	assert_string_equal(xe_param(&cl.params, "name-label"), "x");
	assert_int_equal(cl.params.n, 1);
	xe_cmdline_free(&cl);
}

static void test_cmdline_errors(void **state)
{
	(void)state;
	struct xe_cmdline cl;
	struct xerr err = XERR_INIT;
	char *argv[] = {"xe"};
	assert_int_equal(xe_cmdline_parse(1, argv, NULL, NULL, &cl, &err), 0);
	assert_true(cl.usage);
	xe_cmdline_free(&cl);

	char *argv2[] = {"xe", "uuid=abc"};
	assert_int_equal(xe_cmdline_parse(2, argv2, NULL, NULL, &cl, &err), -1);
	assert_string_equal(err.code, XE_ERR_SYNTAX);
	xerr_clear(&err);
	xe_cmdline_free(&cl);

	char *argv3[] = {"xe", "-p", "notaport", "vm-list"};
	assert_int_equal(xe_cmdline_parse(4, argv3, NULL, NULL, &cl, &err), -1);
	assert_string_equal(err.code, XE_ERR_FAILURE);
	xerr_clear(&err);
	xe_cmdline_free(&cl);

	char *argv4[] = {"xe", "-version"};
	assert_int_equal(xe_cmdline_parse(2, argv4, NULL, NULL, &cl, &err), 0);
	assert_true(cl.version);
	xe_cmdline_free(&cl);
}

static void test_split_extra(void **state)
{
	(void)state;
	int n;
	char **w = xe_split_extra("a=1,,b=x\\,y,c", &n);
	assert_int_equal(n, 3);
	assert_string_equal(w[0], "a=1");
	assert_string_equal(w[1], "b=x,y");
	assert_string_equal(w[2], "c");
	for (int i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

static void test_param_bool(void **state)
{
	(void)state;
	struct xe_params p = {0};
	struct xerr err = XERR_INIT;
	bool b;
	xe_params_add(&p, "force", "true");
	xe_params_add(&p, "live", "No");
	xe_params_add(&p, "bad", "maybe");
	assert_int_equal(xe_param_bool(&p, "force", false, &b, &err), 0);
	assert_true(b);
	assert_int_equal(xe_param_bool(&p, "live", true, &b, &err), 0);
	assert_false(b);
	assert_int_equal(xe_param_bool(&p, "absent", true, &b, &err), 0);
	assert_true(b);
	assert_int_equal(xe_param_bool(&p, "bad", false, &b, &err), -1);
	xerr_clear(&err);
	xe_params_free(&p);
}

/* ---- printing ---- */

static xv record_of(const char *const *kv)
{
	xv r = xv_map_new();
	for (size_t i = 0; kv[i]; i += 2)
		xv_map_append(&r, kv[i], xv_str(kv[i + 1]));
	return r;
}

static void test_format_record(void **state)
{
	(void)state;
	const char *kv[] = {"uuid ( RO)",        "u1", "name-label ( RW)", "Control domain on host: h1",
			    "power-state ( RO)", "running", NULL};
	xv r = record_of(kv);
	struct strbuf sb = STRBUF_INIT;
	xe_format_record(&sb, &r);
	assert_string_equal(sb.buf, "uuid ( RO)           : u1\n"
				    "     name-label ( RW): Control domain on host: h1\n"
				    "    power-state ( RO): running\n");
	sb_free(&sb);
	xv_free(&r);
}

static char *capture_table(bool minimal, const xv *rows, bool list)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct xe_out o = {.out = f, .err = f, .minimal = minimal};
	if (list) {
		const char *items[] = {"a,b", "c\\d"};
		xe_print_list(&o, items, 2);
	} else {
		xe_print_table(&o, rows);
	}
	xe_out_flush(&o);
	fclose(f);
	return buf;
}

static void test_print_table_and_minimal(void **state)
{
	(void)state;
	const char *kv1[] = {"uuid ( RO)", "u1", "name-label ( RW)", "a,b", NULL};
	const char *kv2[] = {"uuid ( RO)", "u2", "name-label ( RW)", "c", NULL};
	xv rows = xv_arr_new();
	xv_arr_push(&rows, record_of(kv1));
	xv_arr_push(&rows, record_of(kv2));
	char *s = capture_table(false, &rows, false);
	/* Each record is followed by two blank lines. */
	assert_string_equal(s, "uuid ( RO)          : u1\n    name-label ( RW): a,b\n\n\n"
			       "uuid ( RO)          : u2\n    name-label ( RW): c\n\n\n");
	free(s);
	s = capture_table(true, &rows, false);
	assert_string_equal(s, "u1,u2\n");
	free(s);
	xv_free(&rows);
	/* No record at all still prints the (empty) minimal line. */
	rows = xv_arr_new();
	s = capture_table(true, &rows, false);
	assert_string_equal(s, "\n");
	free(s);
	xv_free(&rows);
	/* Lists: one line each, or comma-joined with escaping. */
	s = capture_table(false, NULL, true);
	assert_string_equal(s, "a,b\nc\\d\n");
	free(s);
	s = capture_table(true, NULL, true);
	assert_string_equal(s, "a\\,b,c\\\\d\n");
	free(s);
}

static void test_escape_and_wrap(void **state)
{
	(void)state;
	char *e = xe_escape_commas("x,y\\z");
	assert_string_equal(e, "x\\,y\\\\z");
	free(e);
	const char *cmds[] = {"aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccc",
			      "dddddddddddddddddddd", "e"};
	xv l = xe_wrap_list(cmds, 5);
	assert_int_equal(xv_len(&l), 2);
	assert_string_equal(xv_as_str(xv_arr_get(&l, 0)),
			    "    aaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbb, cccccccccccccccccccc");
	assert_string_equal(xv_as_str(xv_arr_get(&l, 1)), "    dddddddddddddddddddd, e");
	xv_free(&l);
}

/* ---- records through a fake resolver ---- */

struct fake_obj {
	const char *ref;
	int cls;
	const char *json;
	xv rec;
};

static struct fake_obj fakes[] = {
	{"OpaqueRef:vm1", SC_C_VM,
	 "{\"uuid\":\"vm-uuid-1\",\"name_label\":\"web\",\"power_state\":\"Running\","
	 "\"is_a_template\":false,\"is_control_domain\":false,\"resident_on\":\"OpaqueRef:h1\","
	 "\"affinity\":\"OpaqueRef:NULL\",\"metrics\":\"OpaqueRef:m1\","
	 "\"guest_metrics\":\"OpaqueRef:gone\",\"other_config\":{\"a\":\"1\",\"b\":\"x,y\"},"
	 "\"tags\":[\"t1\",\"t2\"],\"VBDs\":[\"OpaqueRef:vbd1\"],"
	 "\"actions_after_softreboot\":\"soft_reboot\",\"HVM_shadow_multiplier\":1.5,"
	 "\"memory_static_max\":\"1073741824\",\"blocked_operations\":{\"start\":\"no\"},"
	 "\"current_operations\":{\"OpaqueRef:t\":\"clean_shutdown\"},"
	 "\"snapshot_time\":\"20240102T03:04:05Z\"}",
	 XV_NIL_INIT},
	{"OpaqueRef:vm2", SC_C_VM,
	 "{\"uuid\":\"vm-uuid-2\",\"name_label\":\"db\",\"power_state\":\"Halted\","
	 "\"is_a_template\":false,\"is_control_domain\":false,\"tags\":[],"
	 "\"other_config\":{\"a\":\"2\"}}",
	 XV_NIL_INIT},
	{"OpaqueRef:dom0", SC_C_VM,
	 "{\"uuid\":\"dom0-uuid\",\"name_label\":\"Control domain\",\"power_state\":\"Running\","
	 "\"is_a_template\":false,\"is_control_domain\":true}",
	 XV_NIL_INIT},
	{"OpaqueRef:h1", SC_C_host, "{\"uuid\":\"host-uuid-1\",\"name_label\":\"h1\",\"hostname\":\"node1\"}",
	 XV_NIL_INIT},
	{"OpaqueRef:m1", SC_C_VM_metrics, "{\"uuid\":\"m-uuid\",\"memory_actual\":536870912}",
	 XV_NIL_INIT},
	{"OpaqueRef:vbd1", SC_C_VBD, "{\"uuid\":\"vbd-uuid-1\",\"empty\":true}", XV_NIL_INIT},
	{"OpaqueRef:sr1", SC_C_SR, "{\"uuid\":\"sr-uuid\",\"PBDs\":[\"OpaqueRef:p1\",\"OpaqueRef:p2\"]}",
	 XV_NIL_INIT},
	{"OpaqueRef:sr2", SC_C_SR, "{\"uuid\":\"sr-uuid-2\",\"PBDs\":[\"OpaqueRef:p1\"]}", XV_NIL_INIT},
	{"OpaqueRef:p1", SC_C_PBD, "{\"uuid\":\"pbd-uuid\",\"host\":\"OpaqueRef:h1\"}", XV_NIL_INIT},
};
#define NFAKES (sizeof fakes / sizeof fakes[0])

static const xv *fake_record(struct xe_resolver *r, int cls, const char *ref)
{
	(void)r;
	for (size_t i = 0; i < NFAKES; i++)
		if (ref && strcmp(fakes[i].ref, ref) == 0 && fakes[i].cls == cls)
			return &fakes[i].rec;
	return NULL;
}

static struct xe_resolver fake = {fake_record, NULL};

static int setup(void **state)
{
	(void)state;
	schema_init();
	for (size_t i = 0; i < NFAKES; i++) {
		struct xerr e = XERR_INIT;
		if (jsonv_parse(fakes[i].json, strlen(fakes[i].json), &fakes[i].rec, &e) < 0)
			return -1;
		xe_record_coerce(fakes[i].cls, &fakes[i].rec);
	}
	xe_cmdtable_init();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < NFAKES; i++)
		xv_free(&fakes[i].rec);
	return 0;
}

static struct xe_obj obj(size_t i)
{
	return (struct xe_obj){fakes[i].cls, fakes[i].ref, &fakes[i].rec};
}

static char *text(const char *cls, size_t i, const char *param)
{
	const struct xe_class *xc = xe_class_find(cls);
	assert_non_null(xc);
	const struct xe_param *p = xe_param_find(xc, param);
	assert_non_null(p);
	struct xe_obj o = obj(i);
	return xe_param_text(&fake, xc, p, &o);
}

#define ASSERT_TEXT(cls, i, param, want)                  \
	do {                                              \
		char *got_ = text(cls, i, param);         \
		assert_string_equal(got_, want);          \
		free(got_);                               \
	} while (0)

static void test_render(void **state)
{
	(void)state;
	ASSERT_TEXT("vm", 0, "uuid", "vm-uuid-1");
	ASSERT_TEXT("vm", 0, "power-state", "running");        /* lower-cased */
	ASSERT_TEXT("vm", 0, "resident-on", "host-uuid-1");    /* ref -> uuid */
	ASSERT_TEXT("vm", 0, "affinity", "<not in database>"); /* null ref */
	ASSERT_TEXT("vm", 0, "other-config", "a: 1; b: x,y");
	ASSERT_TEXT("vm", 0, "tags", "t1, t2");
	ASSERT_TEXT("vm", 0, "VBDs", "vbd-uuid-1");
	ASSERT_TEXT("vm", 0, "actions-after-softreboot", "Soft reboot");
	ASSERT_TEXT("vm", 0, "HVM-shadow-multiplier", "1.500");
	ASSERT_TEXT("vm", 0, "memory-static-max", "1073741824"); /* string int coerced */
	ASSERT_TEXT("vm", 0, "memory-actual", "536870912");      /* via VM.metrics */
	ASSERT_TEXT("vm", 0, "os-version", "<not in database>"); /* dangling metrics */
	ASSERT_TEXT("vm", 0, "current-operations", "clean_shutdown");
	ASSERT_TEXT("vm", 0, "snapshot-time", "20240102T03:04:05Z");
	ASSERT_TEXT("vm", 1, "tags", "");
	ASSERT_TEXT("vm", 1, "snapshot-time", "19700101T00:00:00Z"); /* absent: default */
	ASSERT_TEXT("sr", 6, "host", "<shared>");
	ASSERT_TEXT("sr", 7, "host", "h1");
}

static void test_style_enum(void **state)
{
	(void)state;
	char *s = xe_style_enum(XS_SR_OPS, "vdi_create");
	assert_string_equal(s, "VDI.create");
	free(s);
	s = xe_style_enum(XS_UPPER, "rfb");
	assert_string_equal(s, "RFB");
	free(s);
	s = xe_style_enum(XS_DOMAIN_TYPE, "pv_in_pvh");
	assert_string_equal(s, "pv-in-pvh");
	free(s);
}

static void test_match(void **state)
{
	(void)state;
	const struct xe_class *xc = xe_class_find("vm");
	struct xe_obj o = obj(0);
	struct xerr err = XERR_INIT;
	bool m;
	assert_int_equal(xe_match(&fake, xc, &o, "power-state", "running", &m, &err), 0);
	assert_true(m);
	assert_int_equal(xe_match(&fake, xc, &o, "power-state", "halted", &m, &err), 0);
	assert_false(m);
	assert_int_equal(xe_match(&fake, xc, &o, "other-config:a", "1", &m, &err), 0);
	assert_true(m);
	assert_int_equal(xe_match(&fake, xc, &o, "other-config-b", "x,y", &m, &err), 0);
	assert_true(m); /* the older map-key form */
	assert_int_equal(xe_match(&fake, xc, &o, "tags:contains", "t2", &m, &err), 0);
	assert_true(m);
	assert_int_equal(xe_match(&fake, xc, &o, "tags:contains", "t9", &m, &err), 0);
	assert_false(m);
	assert_int_equal(xe_match(&fake, xc, &o, "resident-on", "host-uuid-1", &m, &err), 0);
	assert_true(m);
	assert_int_equal(xe_match(&fake, xc, &o, "no-such-field", "x", &m, &err), -1);
	assert_string_equal(err.code, XE_ERR_FAILURE);
	assert_string_equal(err.params[0], "Unknown field 'no-such-field'");
	xerr_clear(&err);
	assert_int_equal(xe_match(&fake, xc, &o, "tags:has", "t1", &m, &err), -1);
	xerr_clear(&err);
	assert_int_equal(xe_match(&fake, xc, &o, "name-label:x", "t1", &m, &err), -1);
	assert_string_equal(err.params[0], "Field 'name-label' is not a set or map");
	xerr_clear(&err);
}

static void test_filter_and_selectors(void **state)
{
	(void)state;
	const struct xe_class *xc = xe_class_find("vm");
	struct xe_obj objs[3] = {obj(0), obj(1), obj(2)};
	size_t n = 3;
	struct xe_params f = {0};
	struct xerr err = XERR_INIT;
	/* What a VM selector adds: no control domain, no templates. */
	xe_params_add(&f, "is-control-domain", "false");
	xe_params_add(&f, "is-a-template", "false");
	assert_int_equal(xe_filter(&fake, xc, objs, &n, &f, &err), 0);
	assert_int_equal(n, 2);
	xe_params_add(&f, "other-config:a", "2");
	n = 3;
	objs[0] = obj(0), objs[1] = obj(1), objs[2] = obj(2);
	assert_int_equal(xe_filter(&fake, xc, objs, &n, &f, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(objs[0].ref, "OpaqueRef:vm2");
	xe_params_free(&f);
	/* An empty list is not checked for unknown fields, as in xapi. */
	xe_params_add(&f, "bogus", "1");
	n = 0;
	assert_int_equal(xe_filter(&fake, xc, objs, &n, &f, &err), 0);
	n = 1;
	assert_int_equal(xe_filter(&fake, xc, objs, &n, &f, &err), -1);
	xerr_clear(&err);
	xe_params_free(&f);
	/* vm= / host= pseudo-fields. */
	assert_true(xe_pseudo_match("vm", &fakes[0].rec, "web"));
	assert_true(xe_pseudo_match("vm", &fakes[0].rec, "vm-uuid-1"));
	assert_false(xe_pseudo_match("vm", &fakes[0].rec, "db"));
	assert_true(xe_pseudo_match("host", &fakes[3].rec, "node1"));
	assert_false(xe_pseudo_match("vm", &fakes[3].rec, "node1"));
}

static void test_record_fields(void **state)
{
	(void)state;
	const struct xe_class *xc = xe_class_find("vm");
	struct xe_obj o = obj(0);
	/* Defaults print in the record's order, not the list's. */
	xv r = xe_record_fields(&fake, xc, &o, NULL, xc->list_params, true);
	assert_int_equal(xv_len(&r), 3);
	assert_string_equal(r.u.m->keys[0], "uuid ( RO)");
	assert_string_equal(r.u.m->keys[1], "name-label ( RW)");
	assert_string_equal(r.u.m->keys[2], "power-state ( RO)");
	xv_free(&r);
	r = xe_record_fields(&fake, xc, &o, "power-state,uuid,nonsense,other-config", NULL, true);
	assert_int_equal(xv_len(&r), 3);
	assert_string_equal(r.u.m->keys[0], "uuid ( RO)");
	assert_string_equal(r.u.m->keys[2], "other-config (MRW)");
	xv_free(&r);
	/* Expensive fields are not computed by -list. */
	r = xe_record_fields(&fake, xc, &o, "possible-hosts", NULL, true);
	assert_string_equal(xv_as_str(&r.u.m->vals[0]), "<expensive field>");
	xv_free(&r);
	r = xe_record_fields(&fake, xc, &o, "ha-always-run", NULL, false);
	assert_string_equal(r.u.m->keys[0], "ha-always-run ( RW) [DEPRECATED]");
	xv_free(&r);
	r = xe_record_fields(&fake, xc, &o, "all", NULL, false);
	assert_int_equal(xv_len(&r), xc->nparams);
	xv_free(&r);
}

/* ---- command table and help ---- */

static char *capture_help(const char *const *kv)
{
	struct xe_params p = {0};
	bool minimal = false;
	for (size_t i = 0; kv[i]; i += 2) {
		xe_params_add(&p, kv[i], kv[i + 1]);
		minimal = minimal || strcmp(kv[i], "minimal") == 0;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct xe_out o = {.out = f, .err = f, .minimal = minimal};
	xe_help(&o, "xe", &p);
	xe_out_flush(&o);
	fclose(f);
	xe_params_free(&p);
	return buf;
}

static void test_cmdtable(void **state)
{
	(void)state;
	const char *gen[] = {"vm-list", "template-list", "snapshot-list", "host-cpu-list",
			     "vm-param-set", "vm-param-add", "sr-param-clear", "vbd-param-get",
			     "network-param-remove", "task-list", "bond-list", "vlan-list",
			     "secret-list", "blob-list", "vm-start", "vm-install", "help"};
	for (size_t i = 0; i < sizeof gen / sizeof gen[0]; i++)
		if (strcmp(gen[i], "help") != 0)
			assert_non_null(xe_cmd_find(gen[i]));
	assert_null(xe_cmd_find("vm-frobnicate"));
	const struct xe_cmd *c = xe_cmd_find("vm-param-get");
	struct xe_params p = {0};
	xe_params_add(&p, "uuid", "x");
	assert_string_equal(xe_cmd_missing(c, &p), "param-name");
	xe_params_add(&p, "param-name", "y");
	assert_null(xe_cmd_missing(c, &p));
	xe_params_free(&p);
	/* param-set offers map keys as "map:" */
	c = xe_cmd_find("vm-param-set");
	bool found = false;
	for (size_t i = 0; c->optn[i]; i++)
		found = found || strcmp(c->optn[i], "other-config:") == 0;
	assert_true(found);
}

static void test_help(void **state)
{
	(void)state;
	const char *one[] = {"vm-shutdown", "", NULL};
	char *s = capture_help(one);
	assert_non_null(strstr(s, "command name            : vm-shutdown\n"
				  "        reqd params     : \n"
				  "        optional params : force, <vm-selectors>\n"
				  "        description     : "));
	free(s);
	const char *all_min[] = {"minimal", "true", "all", "true", NULL};
	s = capture_help(all_min);
	assert_non_null(strstr(s, "vm-list,"));
	assert_non_null(strstr(s, "host-cpu-list"));
	assert_null(strchr(s, ' '));
	free(s);
	const char *unknown[] = {"vm-nothing", "", NULL};
	s = capture_help(unknown);
	assert_string_equal(s, "Unknown command 'vm-nothing'\n");
	free(s);
}

static void test_rewrite_disks(void **state)
{
	(void)state;
	char *s = xe_rewrite_disks_sr("<provision><disk device=\"0\" size=\"10\" sr=\"\" "
				      "bootable=\"true\" type=\"system\"/><disk device=\"1\" "
				      "sr=\"old\"/></provision>",
				      "SR-UUID");
	assert_string_equal(s, "<provision><disk device=\"0\" size=\"10\" sr=\"SR-UUID\" "
			       "bootable=\"true\" type=\"system\"/><disk device=\"1\" "
			       "sr=\"SR-UUID\"/></provision>");
	free(s);
}

static void test_error_print(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct xe_out o = {.out = f, .err = f};
	struct xerr e = XERR_INIT;
	xerr_set(&e, "UUID_INVALID", "VM", "abc", NULL);
	xe_print_error(&o, &e);
	xerr_set(&e, "SOME_NEW_ERROR", "p1", "p2", NULL);
	xe_print_error(&o, &e);
	xerr_set(&e, XE_ERR_PARAM, "uuid", NULL);
	xe_print_error(&o, &e);
	fclose(f);
	assert_string_equal(buf, "The uuid you supplied was invalid.\ntype: VM\nuuid: abc\n"
				 "Error code: SOME_NEW_ERROR\nError parameters: p1, p2\n"
				 "Required parameter not found: uuid\nFor usage run: 'xe help'\n");
	free(buf);
	xerr_clear(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmdline_basic),
		cmocka_unit_test(test_cmdline_defaults_and_precedence),
		cmocka_unit_test(test_cmdline_errors),
		cmocka_unit_test(test_split_extra),
		cmocka_unit_test(test_param_bool),
		cmocka_unit_test(test_format_record),
		cmocka_unit_test(test_print_table_and_minimal),
		cmocka_unit_test(test_escape_and_wrap),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_style_enum),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_filter_and_selectors),
		cmocka_unit_test(test_record_fields),
		cmocka_unit_test(test_cmdtable),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_rewrite_disks),
		cmocka_unit_test(test_error_print),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
