"""JSON-RPC (1.0 and 2.0) surface: envelopes, content types, error codes and
parameters, generic accessors, get_all_records_where, map/set edits, int64
encoding, the contents of a fresh host and the record invariants Xen
Orchestra relies on (xo-client.md §1.2-§1.4, §2; xapi-surface.md §1)."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import NULL_REF, REF_RE, UUID_RE, XapiError  # noqa: E402

BOGUS_REF = "OpaqueRef:00000000-0000-0000-0000-00000000dead"


class Envelopes(harness.ServerTestCase):
    def test_v2_success_envelope(self):
        for rid in (0, 17, "abc"):
            r = self.srv.jsonrpc_raw("session.login_with_password", ["root", self.srv.password], 2, rid)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.content_type, "application/json")
            env = r.json()
            self.assertEqual(set(env), {"jsonrpc", "result", "id"}, env)
            self.assertEqual(env["jsonrpc"], "2.0")
            self.assertEqual(env["id"], rid)
            self.assertRegex(env["result"], REF_RE)

    def test_v2_error_envelope(self):
        r = self.srv.jsonrpc_raw("VM.get_record", [self.srv.session, BOGUS_REF], 2, 0)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.content_type, "application/json")
        env = r.json()
        self.assertEqual(set(env), {"jsonrpc", "error", "id"}, env)
        self.assertEqual(env["id"], 0)
        err = env["error"]
        self.assertEqual(set(err), {"code", "message", "data"}, err)
        self.assertEqual(err["code"], 1)
        self.assertIsInstance(err["code"], int)
        self.assertEqual(err["message"], "HANDLE_INVALID")
        self.assertEqual(err["data"], ["VM", BOGUS_REF])
        self.assertTrue(all(isinstance(x, str) for x in err["data"]))

    def test_v1_success_envelope(self):
        r = self.srv.jsonrpc_raw("session.login_with_password", ["root", self.srv.password], 1, 5)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.content_type, "application/json")
        env = r.json()
        self.assertEqual(set(env), {"result", "error", "id"}, env)
        self.assertIsNone(env["error"])
        self.assertEqual(env["id"], 5)
        self.assertRegex(env["result"], REF_RE)

    def test_v1_error_envelope(self):
        r = self.srv.jsonrpc_raw("VM.get_record", [self.srv.session, BOGUS_REF], 1, "x1")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.content_type, "application/json")
        env = r.json()
        self.assertEqual(set(env), {"result", "error", "id"}, env)
        self.assertIsNone(env["result"])
        self.assertEqual(env["error"], ["HANDLE_INVALID", "VM", BOGUS_REF])
        self.assertEqual(env["id"], "x1")

    def test_xmlrpc_content_type_on_all_paths(self):
        body = harness.xmlrpc_body("session.login_with_password", ["root", self.srv.password])
        for path in ("/", "/RPC2", "/xmlrpc"):
            r = self.srv.post(path, body, {"Content-Type": "text/xml"})
            self.assertEqual(r.status, 200, path)
            self.assertEqual(r.content_type, "text/xml", path)
            self.assertIn(b"<name>Status</name>", r.body)
            self.assertIn(b"Success", r.body)

    def test_sessions_interchangeable_between_protocols(self):
        js = self.srv.login()
        x = self.srv.xenapi_session()
        x._session = js
        self.assertTrue(x.xenapi.VM.get_all())
        x.xenapi.login_with_password("root", self.srv.password, "1.0", "t")
        self.assertIsInstance(self.srv.call("VM.get_all", x.handle), list)

    def test_login_two_args_and_four_args(self):
        s2 = self.srv.call("session.login_with_password", "root", self.srv.password)
        s4 = self.srv.call("session.login_with_password", "root", self.srv.password, "1.1", "orig")
        self.assertRegex(s2, REF_RE)
        self.assertRegex(s4, REF_RE)
        self.assertNotEqual(s2, s4)

    def test_cors_preflight(self):
        r = self.srv.post("/jsonrpc", b"", {"Origin": "http://example.org",
                                            "Access-Control-Request-Method": "POST"}, method="OPTIONS")
        self.assertLess(r.status, 300)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")

    def test_json_without_id_is_http_500(self):
        r = self.srv.post("/jsonrpc", json.dumps({"jsonrpc": "2.0", "method": "system.listMethods",
                                                  "params": []}).encode(),
                          {"Content-Type": "application/json"})
        self.assertEqual(r.status, 500)
        r = self.srv.post("/jsonrpc", json.dumps({"jsonrpc": "2.0", "method": "system.listMethods",
                                                  "params": [], "id": None}).encode(),
                          {"Content-Type": "application/json"})
        self.assertEqual(r.status, 500)


class Errors(harness.ServerTestCase):
    def test_unknown_method(self):
        self.assertXapiError("MESSAGE_METHOD_UNKNOWN", self.srv.call, "VM.no_such_message",
                             self.srv.session, params=["VM.no_such_message"])
        self.assertXapiError("MESSAGE_METHOD_UNKNOWN", self.srv.call, "nosuchclass.get_all",
                             params=["nosuchclass.get_all"])

    def test_unknown_method_v1(self):
        self.assertXapiError("MESSAGE_METHOD_UNKNOWN", self.srv.call1, "VM.no_such_message",
                             self.srv.session, params=["VM.no_such_message"])

    def test_parameter_count_mismatch(self):
        s = self.srv.session
        self.assertXapiError("MESSAGE_PARAMETER_COUNT_MISMATCH", self.srv.call, "VM.get_record", s,
                             params=["VM.get_record", "1", "0"])
        vm = self.api.VM.get_all()[0]
        self.assertXapiError("MESSAGE_PARAMETER_COUNT_MISMATCH", self.srv.call, "VM.get_record", s, vm, "x",
                             params=["VM.get_record", "1", "2"])
        self.assertXapiError("MESSAGE_PARAMETER_COUNT_MISMATCH", self.srv.call, "VM.set_name_label", s, vm,
                             params=["VM.set_name_label", "2", "1"])

    def test_authentication_failed(self):
        self.assertXapiError("SESSION_AUTHENTICATION_FAILED", self.srv.call, "session.login_with_password",
                             "root", "definitely-not-the-password")
        self.assertXapiError("SESSION_AUTHENTICATION_FAILED", self.srv.call, "session.login_with_password",
                             "nosuchuser", self.srv.password)

    def test_session_invalid(self):
        self.assertXapiError("SESSION_INVALID", self.srv.call, "VM.get_all", BOGUS_REF, params=[BOGUS_REF])
        self.assertXapiError("SESSION_INVALID", self.srv.call, "VM.get_all", "garbage", params=["garbage"])

    def test_logout_invalidates(self):
        s = self.srv.login()
        self.srv.call("VM.get_all", s)
        self.srv.call("session.logout", s)
        self.assertXapiError("SESSION_INVALID", self.srv.call, "VM.get_all", s, params=[s])

    def test_handle_invalid_per_class(self):
        for cls in ("VM", "host", "SR", "network", "pool", "PIF", "PBD", "VDI", "task"):
            self.assertXapiError("HANDLE_INVALID", self.srv.call, cls + ".get_record", self.srv.session,
                                 BOGUS_REF, params=[cls, BOGUS_REF])
        self.assertXapiError("HANDLE_INVALID", self.api.VM.get_name_label, BOGUS_REF, params=["VM", BOGUS_REF])
        self.assertXapiError("HANDLE_INVALID", self.api.VM.set_name_label, BOGUS_REF, "x",
                             params=["VM", BOGUS_REF])
        self.assertXapiError("HANDLE_INVALID", self.api.VM.add_to_other_config, BOGUS_REF, "k", "v",
                             params=["VM", BOGUS_REF])

    def test_ref_of_wrong_class_is_handle_invalid(self):
        host = self.api.host.get_all()[0]
        self.assertXapiError("HANDLE_INVALID", self.api.VM.get_record, host, params=["VM", host])

    def test_uuid_invalid(self):
        u = "00000000-0000-0000-0000-000000000000"
        self.assertXapiError("UUID_INVALID", self.api.VM.get_by_uuid, u, params=["VM", u])
        self.assertXapiError("UUID_INVALID", self.api.SR.get_by_uuid, u, params=["SR", u])
        # a host uuid is not a VM uuid
        hu = self.api.host.get_uuid(self.api.host.get_all()[0])
        self.assertXapiError("UUID_INVALID", self.api.VM.get_by_uuid, hu, params=["VM", hu])

    def test_underscore_method_name(self):
        # xapi accepts Class_msg as well as Class.msg
        self.assertEqual(sorted(self.srv.call("VM_get_all", self.srv.session)), sorted(self.api.VM.get_all()))


class GenericAccessors(harness.ServerTestCase):
    CLASSES = ("VM", "host", "host_metrics", "host_cpu", "SR", "PBD", "SM", "network", "PIF", "pool")

    def test_get_all_and_get_all_records_agree(self):
        for cls in self.CLASSES:
            refs = self.srv.call(cls + ".get_all", self.srv.session)
            recs = self.srv.call(cls + ".get_all_records", self.srv.session)
            self.assertIsInstance(refs, list, cls)
            self.assertIsInstance(recs, dict, cls)
            self.assertEqual(sorted(refs), sorted(recs), cls)
            self.assertTrue(refs, "fresh host has no %s" % cls)

    def test_get_record_uuid_and_field_getters(self):
        s = self.srv.session
        for cls in self.CLASSES:
            recs = self.srv.call(cls + ".get_all_records", s)
            ref, rec = sorted(recs.items())[0]
            self.assertEqual(self.srv.call(cls + ".get_record", s, ref), rec, cls)
            self.assertEqual(self.srv.call(cls + ".get_by_uuid", s, rec["uuid"]), ref, cls)
            for field, value in rec.items():
                with self.subTest(cls=cls, field=field):
                    got = self.srv.call("%s.get_%s" % (cls, field), s, ref)
                    self.assertEqual(got, value)

    def test_get_by_name_label_returns_set(self):
        got = self.api.VM.get_by_name_label("Debian Bookworm 12")
        self.assertIsInstance(got, list)
        self.assertEqual(len(got), 1)
        self.assertEqual(self.api.VM.get_by_name_label("no such name at all"), [])
        srs = self.api.SR.get_by_name_label("Local storage")
        self.assertEqual(len(srs), 1)

    def test_rw_setters(self):
        vm = self.api.VM.get_by_name_label("Other install media")[0]
        host = self.api.host.get_all()[0]
        net = self.api.network.get_all()[0]
        pool = self.api.pool.get_all()[0]
        for cls, ref in (("VM", vm), ("host", host), ("network", net), ("pool", pool)):
            with self.subTest(cls=cls):
                old = self.srv.call(cls + ".get_name_description", self.srv.session, ref)
                self.srv.call(cls + ".set_name_description", self.srv.session, ref, "desc é ✓ " + cls)
                self.assertEqual(self.srv.call(cls + ".get_name_description", self.srv.session, ref),
                                 "desc é ✓ " + cls)
                self.assertEqual(self.srv.call(cls + ".get_record", self.srv.session, ref)["name_description"],
                                 "desc é ✓ " + cls)
                self.srv.call(cls + ".set_name_description", self.srv.session, ref, old)

    def test_ro_field_setters_absent(self):
        vm = self.api.VM.get_all()[0]
        host = self.api.host.get_all()[0]
        methods = set(self.srv.call("system.listMethods"))
        for name, args in (("VM.set_power_state", [vm, "Running"]), ("VM.set_uuid", [vm, "x"]),
                           ("VM.set_resident_on", [vm, host]), ("VM.set_domid", [vm, 5]),
                           ("VM.set_is_control_domain", [vm, True]), ("VM.set_VBDs", [vm, []]),
                           ("host.set_API_version_major", [host, 3]), ("host.set_metrics", [host, NULL_REF]),
                           ("VM.add_to_current_operations", [vm, "a", "b"])):
            with self.subTest(method=name):
                self.assertNotIn(name, methods)
                self.assertXapiError("MESSAGE_METHOD_UNKNOWN", self.srv.call, name, self.srv.session, *args,
                                     params=[name])

    def test_create_destroy_generic(self):
        net = self.api.network.create({"name_label": "it-net", "name_description": "", "MTU": 1500,
                                       "other_config": {}})
        self.assertRegex(net, REF_RE)
        rec = self.api.network.get_record(net)
        self.assertEqual(rec["name_label"], "it-net")
        self.assertRegex(rec["uuid"], UUID_RE)
        self.api.network.destroy(net)
        self.assertXapiError("HANDLE_INVALID", self.api.network.get_record, net, params=["network", net])


class Where(harness.ServerTestCase):
    def where(self, cls, expr):
        return self.srv.call(cls + ".get_all_records_where", self.srv.session, expr)

    def test_expressions(self):
        allv = self.api.VM.get_all_records()
        templates = {r for r, v in allv.items() if v["is_a_template"]}
        nontemplates = set(allv) - templates
        self.assertEqual(set(self.where("VM", 'field "is_a_template"="true"')), templates)
        self.assertEqual(set(self.where("VM", 'not (field "is_a_template"="true")')), nontemplates)
        self.assertEqual(set(self.where("VM", "true")), set(allv))
        self.assertEqual(self.where("VM", "false"), {})
        one = self.where("VM", 'field "name__label"="Debian Bookworm 12"')
        self.assertEqual(len(one), 1)
        ref = next(iter(one))
        self.assertEqual(one[ref], allv[ref])
        self.assertEqual(set(self.where("VM", 'field "is_a_template"="true" and field "name__label"="Other install media"')),
                         set(self.api.VM.get_by_name_label("Other install media")))
        self.assertEqual(set(self.where("VM", 'field "name__label"="Debian Bookworm 12" or field "is_control_domain"="true"')),
                         {ref} | {r for r, v in allv.items() if v["is_control_domain"]})
        self.assertEqual(set(self.where("VM", '"Running"=field "power_state"')),
                         {r for r, v in allv.items() if v["power_state"] == "Running"})
        self.assertEqual(set(self.where("VM", '(field "power_state"="Halted") and (not field "is_a_template"="false")')),
                         {r for r, v in allv.items() if v["power_state"] == "Halted" and v["is_a_template"]})

    def test_other_classes(self):
        iso = self.where("SR", 'field "type"="iso"')
        self.assertEqual([v["name_label"] for v in iso.values()], ["ISO library"])
        hosts = self.where("host", "true")
        self.assertEqual(set(hosts), set(self.api.host.get_all()))

    def test_bad_expression_is_a_xapi_error(self):
        for expr in ('field "name__label"=', "this is ( not an expression"):
            with self.assertRaises(XapiError) as cm:
                self.where("VM", expr)
            self.assertNotEqual(cm.exception.code, "MESSAGE_METHOD_UNKNOWN")

    def test_deep_expression_is_refused(self):
        # 100,000 parentheses (200 KB) once took the daemon's stack; now it
        # is INVALID_VALUE and the daemon answers on
        for expr in ("(" * 100000 + "true" + ")" * 100000, "not " * 50000 + "true",
                     "true" + " or true" * 20000):
            with self.assertRaises(XapiError) as cm:
                self.where("VM", expr)
            self.assertEqual(cm.exception.code, "INVALID_VALUE")
        self.assertEqual(len(self.where("VM", "(" * 64 + "true" + ")" * 64)), len(self.api.VM.get_all()))


class MapsAndSets(harness.ServerTestCase):
    def setUp(self):
        super().setUp()
        self.vm = self.api.VM.clone(self.template(), "maps-vm")

    def tearDown(self):
        self.api.VM.destroy(self.vm)

    def test_add_remove_map(self):
        self.api.VM.add_to_other_config(self.vm, "k1", "v1")
        self.assertEqual(self.api.VM.get_other_config(self.vm).get("k1"), "v1")
        self.assertXapiError("MAP_DUPLICATE_KEY", self.api.VM.add_to_other_config, self.vm, "k1", "v2",
                             # xapi's db_cache_impl raises Duplicate_key with the
                             # object's ref in the slot the datamodel calls "uuid"
                             params=["VM", "other_config", self.vm, "k1"])
        self.assertEqual(self.api.VM.get_other_config(self.vm)["k1"], "v1")
        self.api.VM.remove_from_other_config(self.vm, "k1")
        self.assertNotIn("k1", self.api.VM.get_other_config(self.vm))
        # removing an absent key is not an error (xen-api's update_<map> relies on it)
        self.api.VM.remove_from_other_config(self.vm, "k1")
        self.api.VM.remove_from_other_config(self.vm, "never-there")

    def test_set_whole_map(self):
        self.api.VM.set_other_config(self.vm, {"a": "1", "b": "2"})
        self.assertEqual(self.api.VM.get_other_config(self.vm), {"a": "1", "b": "2"})
        self.api.VM.set_other_config(self.vm, {})
        self.assertEqual(self.api.VM.get_other_config(self.vm), {})

    def test_other_maps_and_classes(self):
        self.api.VM.add_to_platform(self.vm, "it-key", "x")
        self.assertEqual(self.api.VM.get_platform(self.vm)["it-key"], "x")
        self.api.VM.remove_from_platform(self.vm, "it-key")
        pool = self.api.pool.get_all()[0]
        self.api.pool.add_to_other_config(pool, "xo:barrier:test", "123")
        self.assertEqual(self.api.pool.get_other_config(pool)["xo:barrier:test"], "123")
        self.assertXapiError("MAP_DUPLICATE_KEY", self.api.pool.add_to_other_config, pool, "xo:barrier:test", "9",
                             params=["pool", "other_config", pool, "xo:barrier:test"])
        self.api.pool.remove_from_other_config(pool, "xo:barrier:test")
        self.api.pool.remove_from_other_config(pool, "xo:barrier:test")
        host = self.api.host.get_all()[0]
        self.api.host.add_to_other_config(host, "it", "y")
        self.assertEqual(self.api.host.get_other_config(host)["it"], "y")
        self.api.host.remove_from_other_config(host, "it")
        self.assertNotIn("it", self.api.host.get_other_config(host))

    def test_sets(self):
        self.api.VM.add_tags(self.vm, "t1")
        self.api.VM.add_tags(self.vm, "t2")
        self.assertEqual(sorted(self.api.VM.get_tags(self.vm)), ["t1", "t2"])
        self.api.VM.add_tags(self.vm, "t1")  # a set: no duplicate
        self.assertEqual(sorted(self.api.VM.get_tags(self.vm)), ["t1", "t2"])
        self.api.VM.remove_tags(self.vm, "t1")
        self.assertEqual(self.api.VM.get_tags(self.vm), ["t2"])
        self.api.VM.remove_tags(self.vm, "absent")
        self.api.VM.set_tags(self.vm, ["a", "b"])
        self.assertEqual(sorted(self.api.VM.get_tags(self.vm)), ["a", "b"])

    def test_map_value_types(self):
        self.assertXapiError("FIELD_TYPE_ERROR", self.api.VM.set_other_config, self.vm, ["not", "a", "map"])
        self.assertXapiError("FIELD_TYPE_ERROR", self.api.VM.set_tags, self.vm, {"not": "a set"})


class Int64(harness.ServerTestCase):
    def test_int64_is_json_number(self):
        vm = self.api.VM.get_all()[0]
        rec = self.api.VM.get_record(vm)
        for f in ("memory_static_max", "memory_dynamic_max", "VCPUs_max", "user_version", "domid"):
            self.assertIs(type(rec[f]), int, f)
            self.assertIs(type(self.srv.call("VM.get_" + f, self.srv.session, vm)), int, f)
        host = self.api.host.get_all()[0]
        self.assertIs(type(self.api.host.get_API_version_major(host)), int)
        hm = self.api.host_metrics.get_record(self.api.host.get_metrics(host))
        self.assertIs(type(hm["memory_total"]), int)
        self.assertGreater(hm["memory_total"], 2 ** 31)

    def test_int64_accepted_as_number_and_string(self):
        vm = self.api.VM.clone(self.template(), "int64-vm")
        try:
            self.api.VM.set_user_version(vm, 7)
            self.assertEqual(self.api.VM.get_user_version(vm), 7)
            self.api.VM.set_user_version(vm, "8")
            self.assertEqual(self.api.VM.get_user_version(vm), 8)
            self.api.VM.set_user_version(vm, 2 ** 40)
            self.assertEqual(self.api.VM.get_user_version(vm), 2 ** 40)
            self.api.VM.set_user_version(vm, str(2 ** 41))
            self.assertEqual(self.api.VM.get_user_version(vm), 2 ** 41)
            self.assertXapiError("FIELD_TYPE_ERROR", self.api.VM.set_user_version, vm, "eight")
        finally:
            self.api.VM.destroy(vm)

    def test_datetime_is_string(self):
        host = self.api.host.get_all()[0]
        hm = self.api.host_metrics.get_record(self.api.host.get_metrics(host))
        self.assertIsInstance(hm["last_updated"], str)
        self.assertRegex(hm["last_updated"], r"^\d{8}T\d\d:\d\d:\d\dZ$")


class FreshHost(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.srv.session
        cls.classes = harness.classes_with(cls.srv)
        cls.all = {}
        for c in cls.classes:  # a failing class is reported by ListMethods
            try:
                cls.all[c] = cls.srv.call(c + ".get_all_records", s)
            except harness.XapiError:
                pass

    def recs(self, cls):
        return self.all[cls]

    def test_contents(self):
        pools, hosts = self.recs("pool"), self.recs("host")
        self.assertEqual(len(pools), 1)
        self.assertEqual(len(hosts), 1)
        pool = next(iter(pools.values()))
        host_ref, host = next(iter(hosts.items()))
        self.assertEqual(pool["master"], host_ref)
        # host metrics and one host_cpu per CPU
        self.assertIn(host["metrics"], self.recs("host_metrics"))
        cpus = self.recs("host_cpu")
        self.assertTrue(cpus)
        self.assertEqual(sorted(host["host_CPUs"]), sorted(cpus))
        self.assertEqual(sorted(int(c["number"]) for c in cpus.values()), list(range(len(cpus))))
        self.assertTrue(all(c["host"] == host_ref for c in cpus.values()))
        # dom0
        dom0 = [(r, v) for r, v in self.recs("VM").items() if v["is_control_domain"]]
        self.assertEqual(len(dom0), 1)
        d_ref, d = dom0[0]
        self.assertEqual(d["power_state"], "Running")
        self.assertEqual(d["resident_on"], host_ref)
        self.assertEqual(host["control_domain"], d_ref)
        self.assertIn(d_ref, host["resident_VMs"])
        self.assertFalse(d["is_a_template"])
        self.assertEqual(d["domid"], 0)
        # storage
        srs = {v["name_label"]: (r, v) for r, v in self.recs("SR").items()}
        self.assertIn("Local storage", srs)
        self.assertIn("ISO library", srs)
        lref, local = srs["Local storage"]
        self.assertEqual(local["type"], "ext")
        iref, iso = srs["ISO library"]
        self.assertEqual(iso["type"], "iso")
        self.assertEqual(iso["content_type"], "iso")
        pbds = self.recs("PBD")
        local_pbds = [p for p in pbds.values() if p["SR"] == lref]
        self.assertEqual(len(local_pbds), 1)
        self.assertEqual(local_pbds[0]["host"], host_ref)
        self.assertTrue(local_pbds[0]["currently_attached"])
        self.assertEqual(sorted(local["PBDs"]), sorted(r for r, p in pbds.items() if p["SR"] == lref))
        self.assertTrue(set(host["PBDs"]) >= set(r for r, p in pbds.items() if p["SR"] == lref))
        sm_types = {v["type"] for v in self.recs("SM").values()}
        self.assertIn("ext", sm_types)
        self.assertIn("iso", sm_types)
        self.assertEqual(pool["default_SR"], lref)
        # network
        nets, pifs = self.recs("network"), self.recs("PIF")
        self.assertTrue(nets)
        self.assertTrue(pifs)
        for r, p in pifs.items():
            self.assertIn(p["network"], nets)
            self.assertEqual(p["host"], host_ref)
            self.assertIn(r, nets[p["network"]]["PIFs"])
        self.assertEqual(sorted(host["PIFs"]), sorted(pifs))
        self.assertTrue(any(p["management"] for p in pifs.values()))
        # templates
        tpls = {v["name_label"]: v for v in self.recs("VM").values() if v["is_a_template"]}
        for name in ("Other install media", "Debian Bookworm 12"):
            self.assertIn(name, tpls)
            t = tpls[name]
            self.assertEqual(t["power_state"], "Halted")
            self.assertFalse(t["is_a_snapshot"])
            self.assertEqual(t["resident_on"], NULL_REF)
        self.assertIn("<provision>", tpls["Debian Bookworm 12"]["other_config"].get("disks", ""))

    def test_host_api_version_and_software_version(self):
        host = next(iter(self.recs("host").values()))
        self.assertEqual(host["API_version_major"], 2)
        self.assertIsInstance(host["API_version_minor"], int)
        sv = host["software_version"]
        for k in ("product_version", "platform_version", "product_brand", "build_number", "xapi"):
            self.assertIn(k, sv)
        hm = self.recs("host_metrics")[host["metrics"]]
        self.assertTrue(hm["live"])
        self.assertGreater(hm["memory_total"], 0)
        self.assertRegex(host["address"], r"^\d+\.\d+\.\d+\.\d+$")

    def test_xo_required_fields(self):
        """xo-client.md §2: fields whose absence makes XO hide the object."""
        def check(cls, maps=(), sets=(), refs=()):
            for ref, rec in self.recs(cls).items():
                for f in maps:
                    self.assertIsInstance(rec.get(f), dict, "%s %s.%s" % (cls, ref, f))
                for f in sets:
                    self.assertIsInstance(rec.get(f), list, "%s %s.%s" % (cls, ref, f))
                for f in refs:
                    self.assertIsInstance(rec.get(f), str, "%s %s.%s" % (cls, ref, f))
                    self.assertTrue(rec[f] == NULL_REF or REF_RE.match(rec[f]), "%s.%s=%r" % (cls, f, rec[f]))
        check("pool", maps=("other_config", "restrictions", "cpu_info"), sets=("ha_statefiles", "tags"),
              refs=("master", "default_SR", "crash_dump_SR", "suspend_image_SR"))
        check("host", maps=("software_version", "chipset_info", "license_params", "other_config", "cpu_info"),
              sets=("capabilities", "resident_VMs", "PIFs", "PBDs", "PCIs", "PGPUs"), refs=("metrics", "control_domain"))
        check("VM", maps=("other_config", "platform", "HVM_boot_params", "blocked_operations", "current_operations",
                          "VCPUs_params"),
              sets=("VBDs", "VIFs", "snapshots", "tags", "allowed_operations"),
              refs=("resident_on", "snapshot_of", "metrics", "guest_metrics", "affinity", "suspend_VDI"))
        check("SR", maps=("other_config", "sm_config"), sets=("PBDs", "VDIs", "tags"))
        check("PIF", maps=("other_config",), refs=("bond_slave_of", "metrics", "network", "host"))
        check("network", maps=("other_config",), sets=("PIFs", "VIFs", "purpose"))
        check("PBD", maps=("device_config", "other_config"), refs=("host", "SR"))
        check("host_metrics", maps=("other_config",))
        for cls in ("VDI", "VIF", "task"):
            if cls in self.all:
                check(cls, maps=("other_config",))
        pool = next(iter(self.recs("pool").values()))
        for k in ("restrict_zstd_export", "restrict_vtpm"):
            self.assertIn(k, pool["restrictions"])
        self.assertIn(pool["master"], self.recs("host"))
        host = self.recs("host")[pool["master"]]
        self.assertIn("platform_version", host["software_version"])
        self.assertTrue(any(c.startswith("hvm") for c in host["capabilities"]), host["capabilities"])
        for r, p in self.recs("PIF").items():
            self.assertEqual(p["bond_slave_of"], NULL_REF)
        for r, s in self.recs("SR").items():
            self.assertTrue(s["PBDs"], "SR %s has no PBD" % s["name_label"])
        cpu = pool["cpu_info"]
        self.assertIn("cpu_count", cpu)
        self.assertIn("socket_count", cpu)

    def test_platform_has_cores_per_socket(self):
        # xo-client.md §2: otherwise XO writes it into every VM while listing
        for r, v in self.recs("VM").items():
            self.assertIn("cores-per-socket", v["platform"], v["name_label"])

    def test_same_key_set_per_class_and_no_nulls(self):
        def walk(v, path):
            if v is None:
                self.fail("null at %s" % path)
            if isinstance(v, dict):
                for k, x in v.items():
                    walk(x, path + "." + k)
            elif isinstance(v, list):
                for i, x in enumerate(v):
                    walk(x, "%s[%d]" % (path, i))
        for cls, recs in self.all.items():
            keysets = {frozenset(r) for r in recs.values()}
            self.assertLessEqual(len(keysets), 1, "%s records differ in key sets" % cls)
            for ref, rec in recs.items():
                self.assertRegex(ref, REF_RE, cls)
                self.assertIn("uuid", rec, cls)
                walk(rec, "%s[%s]" % (cls, ref))

    def test_empty_refs_are_opaqueref_null(self):
        vms = self.recs("VM")
        tpl = next(v for v in vms.values() if v["name_label"] == "Other install media")
        for f in ("resident_on", "affinity", "snapshot_of", "suspend_VDI", "parent"):
            self.assertEqual(tpl[f], NULL_REF, f)
        pool = next(iter(self.recs("pool").values()))
        self.assertEqual(pool["redo_log_vdi"], NULL_REF)
        # through the getter too
        t_ref = next(r for r, v in vms.items() if v["name_label"] == "Other install media")
        self.assertEqual(self.api.VM.get_resident_on(t_ref), NULL_REF)

    def test_uuids_unique_across_classes(self):
        seen = {}
        for cls, recs in self.all.items():
            for ref, rec in recs.items():
                u = rec["uuid"]
                self.assertRegex(u, UUID_RE, "%s %s" % (cls, ref))
                self.assertNotIn(u, seen, "uuid %s of %s also used by %s" % (u, cls, seen.get(u)))
                seen[u] = cls
        refs = [r for recs in self.all.values() for r in recs]
        self.assertEqual(len(refs), len(set(refs)), "refs shared between classes")


class ListMethods(harness.ServerTestCase):
    def test_no_session_needed_and_no_async(self):
        r = self.srv.jsonrpc("system.listMethods", [], 2)
        names = r["result"]
        self.assertIsInstance(names, list)
        self.assertEqual(len(names), len(set(names)))
        for m in ("VM.get_all_records", "session.login_with_password", "event.from", "event.inject",
                  "VM.start", "VM.clone", "task.cancel", "pool.add_to_other_config", "VM.remove_from_other_config"):
            self.assertIn(m, names)
        asyncs = [n for n in names if n.startswith("Async.") or "Async" in n.split(".")[0]]
        self.assertEqual(asyncs, [])
        for n in names:
            self.assertRegex(n, r"^[A-Za-z_0-9]+\.[A-Za-z_0-9]+$")

    def test_get_all_records_classes(self):
        classes = harness.classes_with(self.srv)
        for c in ("pool", "host", "VM", "SR", "VDI", "VBD", "VIF", "PIF", "PBD", "network", "task", "SM",
                  "host_metrics", "host_cpu", "VM_metrics"):
            self.assertIn(c, classes)
        # each advertised class answers get_all_records
        for c in classes:
            with self.subTest(cls=c):
                self.assertIsInstance(self.srv.call(c + ".get_all_records", self.srv.session), dict)

    def test_advertised_methods_exist(self):
        # every advertised getter is dispatchable (no MESSAGE_METHOD_UNKNOWN)
        names = self.srv.call("system.listMethods")
        for n in names:
            if not n.endswith(".get_all"):
                continue
            with self.subTest(method=n):
                self.assertIsInstance(self.srv.call(n, self.srv.session), list)


if __name__ == "__main__":
    harness.main()
