/* Unit tests of the generated schema tables and type coercion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "schema/schema.h"

static void test_lookup(void **state)
{
	(void)state;
	int vm = sc_class_find("VM");
	assert_int_equal(vm, SC_C_VM);
	assert_int_equal(sc_class_find_lower("vm"), SC_C_VM);
	assert_int_equal(sc_class_find_lower("VM_guest_metrics"), SC_C_VM_guest_metrics);
	assert_int_equal(sc_class_find("VMPP"), -1); /* removed classes are not served */
	assert_int_equal(sc_field_find(vm, "name_label"), SC_F_VM__name_label);
	assert_int_equal(sc_field_find_xe(vm, "name-label"), SC_F_VM__name_label);
	assert_int_equal(sc_field_find(vm, "is_snapshot_from_vmpp"), -1); /* removed field */
	const struct sc_message *m = sc_message_find(vm, "start");
	assert_non_null(m);
	assert_int_equal(m->nparams, 3);
	assert_true(m->async);
	assert_true(m->session);
	m = sc_message_find(vm, "get_name_label");
	assert_int_equal(m->kind, SC_MSG_GET_FIELD);
	assert_int_equal(m->field, SC_F_VM__name_label);
	assert_false(m->async);
	m = sc_message_find(SC_C_session, "login_with_password");
	assert_false(m->session);
	assert_non_null(sc_error_find("HANDLE_INVALID"));
	assert_int_equal(sc_error_find("HANDLE_INVALID")->nparams, 2);
}

static void test_defaults(void **state)
{
	(void)state;
	const xv *d = sc_field_default(SC_C_VM, SC_F_VM__domid);
	assert_int_equal(d->kind, XV_INT);
	assert_int_equal(d->u.i, -1);
	d = sc_field_default(SC_C_VM, SC_F_VM__power_state);
	assert_string_equal(d->u.s, "Halted");
	d = sc_field_default(SC_C_VM, SC_F_VM__resident_on);
	assert_string_equal(d->u.s, "OpaqueRef:NULL");
	d = sc_field_default(SC_C_VM, SC_F_VM__other_config);
	assert_int_equal(d->kind, XV_MAP);
	d = sc_field_default(SC_C_task, SC_F_task__created);
	assert_int_equal(d->kind, XV_TIME);
}

static void test_coerce(void **state)
{
	(void)state;
	const struct sc_message *m = sc_message_find(SC_C_VM, "set_memory");
	struct xerr e = XERR_INIT;
	xv v = xv_str("1024");
	assert_int_equal(sc_coerce(m->params[1].type, "value", &v, &e), 0);
	assert_int_equal(v.kind, XV_INT);
	assert_int_equal(v.u.i, 1024);
	xv_free(&v);
	v = xv_str("12x");
	assert_int_equal(sc_coerce(m->params[1].type, "value", &v, &e), -1);
	assert_string_equal(e.code, "FIELD_TYPE_ERROR");
	xv_free(&v);
	xerr_clear(&e);
	/* enums are matched case-insensitively and canonicalised */
	const struct sc_field *f = &sc_classes[SC_C_VM].fields[SC_F_VM__power_state];
	v = xv_str("running");
	assert_int_equal(sc_coerce(f->type, "power_state", &v, &e), 0);
	assert_string_equal(v.u.s, "Running");
	xv_free(&v);
	v = xv_str("sideways");
	assert_int_equal(sc_coerce(f->type, "power_state", &v, &e), -1);
	assert_string_equal(e.code, "INVALID_VALUE");
	xv_free(&v);
	xerr_clear(&e);
	/* datetimes in both spellings */
	f = &sc_classes[SC_C_task].fields[SC_F_task__created];
	v = xv_str("2024-01-01T12:00:00Z");
	assert_int_equal(sc_coerce(f->type, "created", &v, &e), 0);
	assert_int_equal(v.kind, XV_TIME);
	assert_int_equal(v.u.i, 1704110400);
	xv_free(&v);
}

int main(void)
{
	schema_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_coerce),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
