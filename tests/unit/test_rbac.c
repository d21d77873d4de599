/* Unit tests of src/api/rbac and its generated table (gen_rbac.py): every
 * schema message has its permission, named as xapi names it (the call
 * lowercased) and held by exactly the datamodel's roles; the table is
 * sorted and its uuids are the MD5 of the wire names; role closures,
 * guarded keys and the denial text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "api/rbac.h"
#include "schema/schema.h"

static void test_every_message_has_its_permission(void **state)
{
	(void)state;
	assert_int_equal(rbac_nmsg_perm, SC_NMESSAGES);
	for (int c = 0; c < sc_nclasses; c++)
		for (int i = 0; i < sc_classes[c].nmessages; i++) {
			const struct sc_message *m = &sc_classes[c].messages[i];
			const struct rbac_perm *p = &rbac_perms[rbac_msg_perm[sc_message_id(c, m)]];
			char want[160];
			snprintf(want, sizeof want, "%s.%s", sc_classes[c].name, m->name);
			for (char *s = want; *s; s++)
				*s = (char)tolower((unsigned char)*s);
			assert_string_equal(p->name, want);
			assert_int_equal(p->roles, m->roles);
			assert_ptr_equal(rbac_perm_find(want), p);
		}
}

static void test_table_sorted_with_md5_uuids(void **state)
{
	(void)state;
	for (size_t i = 1; i < rbac_nperms; i++)
		assert_true(strcmp(rbac_perms[i - 1].name, rbac_perms[i].name) < 0);
	/* MD5("VM.start"), the wire name as written, as xapi makes it */
	assert_string_equal(rbac_perm_find("vm.start")->uuid, "24b924aa-926c-879e-d2c1-fe778e82ccee");
	assert_non_null(rbac_perm_find("task.destroy/any"));
	assert_int_equal(rbac_perm_find("task.destroy/any")->roles, SC_ROLE_POOL_ADMIN | SC_ROLE_POOL_OPERATOR);
	assert_null(rbac_perm_find("vm.no_such_call"));
	rbac_add_http_perm("http/get_unit_test", SC_ROLE_POOL_ADMIN);
	assert_string_equal(rbac_perm_find("http/get_unit_test")->uuid, "5ebfa177-0df0-6d7d-fc69-b18cfce4d52b");
}

static void test_roles(void **state)
{
	(void)state;
	assert_string_equal(rbac_role_name(0), "pool-admin");
	assert_string_equal(rbac_role_ref(0), "OpaqueRef:0165f154-ba3e-034e-6b27-5d271af109ba");
	assert_int_equal(rbac_role_find("read-only"), 5);
	assert_int_equal(rbac_role_find("OpaqueRef:7233b8e3-eacb-d7da-2c95-f2e581cdbf4e"), 5);
	assert_int_equal(rbac_role_find("root"), -1);
	assert_int_equal(rbac_role_closure(SC_ROLE_POOL_ADMIN), 0x3f);
	assert_int_equal(rbac_role_closure(SC_ROLE_VM_ADMIN), SC_ROLE_VM_ADMIN | SC_ROLE_VM_OPERATOR | SC_ROLE_READ_ONLY);
	assert_int_equal(rbac_role_closure(SC_ROLE_CLIENT_CERT), SC_ROLE_CLIENT_CERT);
}

static void test_guarded_keys(void **state)
{
	(void)state;
	const struct sc_message *m = sc_message_find(SC_C_VM, "add_to_other_config");
	int id = sc_message_id(SC_C_VM, m);
	const struct rbac_key_guard *g = rbac_key_guard(id, "folder");
	assert_non_null(g);
	assert_string_equal(rbac_perms[g->perm].name, "vm.add_to_other_config/key:folder");
	assert_int_equal(g->roles, 0x1f); /* vm-operator and above */
	g = rbac_key_guard(id, "XenCenter.CustomFields.owner");
	assert_non_null(g);
	assert_string_equal(rbac_perms[g->perm].name, "vm.add_to_other_config/key:xencenter.customfields.*");
	g = rbac_key_guard(id, "pci");
	assert_int_equal(g->roles, SC_ROLE_POOL_ADMIN);
	assert_null(rbac_key_guard(id, "note"));
	assert_null(rbac_key_guard(sc_message_id(SC_C_VM, sc_message_find(SC_C_VM, "start")), "folder"));
}

static void test_denial_text(void **state)
{
	(void)state;
	struct xerr e = XERR_INIT;
	assert_int_equal(rbac_denied(&e, "vm.destroy", 0xf), -1);
	assert_string_equal(e.code, "RBAC_PERMISSION_DENIED");
	assert_int_equal(e.nparams, 2);
	assert_string_equal(e.params[0], "vm.destroy");
	assert_string_equal(e.params[1], "No permission in user session. (Roles with this permission: pool-admin, "
					 "pool-operator, vm-power-admin, vm-admin)");
	xerr_clear(&e);
}

int main(void)
{
	schema_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_message_has_its_permission),
		cmocka_unit_test(test_table_sorted_with_md5_uuids),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_guarded_keys),
		cmocka_unit_test(test_denial_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
