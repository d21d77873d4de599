"""XML-RPC as XenAPI.py speaks it: xmlrpc.client.ServerProxy, results
unwrapped from {Status, Value}, failures from ErrorDescription, re-login on
SESSION_INVALID; plus the exact value encodings xapi writes (bare <value>
strings, int64 as strings, YYYYMMDDTHH:MM:SSZ datetimes) in the raw XML
(xapi-surface.md §1.3)."""

import os
import sys
import time
import unittest
import xml.etree.ElementTree as ET
import xmlrpc.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import REF_RE, TOKEN_RE, XMLRPC_DATETIME_RE, Failure  # noqa: E402

BOGUS_REF = "OpaqueRef:00000000-0000-0000-0000-00000000beef"


def struct_members(value_el):
    """{name: <value> element} of an XML-RPC <value><struct>."""
    st = value_el.find("struct")
    assert st is not None, ET.tostring(value_el)
    return {m.find("name").text: m.find("value") for m in st.findall("member")}


class XenAPIStyle(harness.ServerTestCase):
    def setUp(self):
        super().setUp()
        self.x = self.srv.xenapi_session()
        self.x.xenapi.login_with_password("root", self.srv.password, "1.0", "xenon-tests")

    def tearDown(self):
        try:
            self.x.xenapi.session.logout()
        except Exception:
            pass

    def test_login_and_api_version(self):
        self.assertRegex(self.x.handle, REF_RE)
        major, minor = self.x.API_version.split(".")
        self.assertEqual(major, "2")
        self.assertTrue(minor.isdigit())

    def test_default_path_is_rpc2_and_root_works_too(self):
        # ServerProxy("http://h:p") posts to /RPC2; XenAPI users also give a trailing "/"
        for path in ("", "/"):
            x = self.srv.xenapi_session(path)
            x.xenapi.login_with_password("root", self.srv.password)
            self.assertTrue(x.xenapi.VM.get_all())

    def test_get_all_records_types(self):
        recs = self.x.xenapi.VM.get_all_records()
        self.assertIsInstance(recs, dict)
        self.assertTrue(recs)
        dom0 = [r for r in recs.values() if r["is_control_domain"]]
        self.assertEqual(len(dom0), 1)
        d = dom0[0]
        # int64 travels as a string in XML-RPC
        for f in ("memory_static_max", "memory_dynamic_min", "VCPUs_max", "VCPUs_at_startup", "user_version",
                  "domid"):
            self.assertIsInstance(d[f], str, f)
            self.assertRegex(d[f], r"^-?\d+$", f)
        self.assertEqual(d["domid"], "0")
        self.assertIs(d["is_a_template"], False)
        self.assertIs(d["is_control_domain"], True)
        self.assertEqual(d["power_state"], "Running")
        self.assertIsInstance(d["other_config"], dict)
        self.assertIsInstance(d["VBDs"], list)
        self.assertIsInstance(d["HVM_shadow_multiplier"], float)
        self.assertRegex(d["resident_on"], REF_RE)

    def test_floats_and_datetimes(self):
        host = self.x.xenapi.host.get_all()[0]
        cpus = self.x.xenapi.host_cpu.get_all_records()
        for c in cpus.values():
            self.assertIsInstance(c["utilisation"], float)
            self.assertIsInstance(c["number"], str)
        hm = self.x.xenapi.host_metrics.get_record(self.x.xenapi.host.get_metrics(host))
        self.assertIsInstance(hm["last_updated"], xmlrpc.client.DateTime)
        self.assertRegex(hm["last_updated"].value, XMLRPC_DATETIME_RE)
        self.assertIsInstance(hm["memory_total"], str)
        last_active = self.x.xenapi.session.get_last_active(self.x.handle)
        self.assertIsInstance(last_active, xmlrpc.client.DateTime)
        self.assertRegex(last_active.value, XMLRPC_DATETIME_RE)
        self.assertTrue(last_active.value.startswith("20"), last_active.value)

    def test_failure_error_description(self):
        with self.assertRaises(Failure) as cm:
            self.x.xenapi.VM.get_record(BOGUS_REF)
        self.assertEqual(cm.exception.details, ["HANDLE_INVALID", "VM", BOGUS_REF])
        with self.assertRaises(Failure) as cm:
            self.x.xenapi.VM.no_such_message()
        self.assertEqual(cm.exception.details, ["MESSAGE_METHOD_UNKNOWN", "VM.no_such_message"])
        with self.assertRaises(Failure) as cm:
            self.x.xenapi.VM.get_record()
        self.assertEqual(cm.exception.details, ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_record", "1", "0"])

    def test_bad_login(self):
        x = self.srv.xenapi_session()
        with self.assertRaises(Failure) as cm:
            x.xenapi.login_with_password("root", "wrong")
        self.assertEqual(cm.exception.details[0], "SESSION_AUTHENTICATION_FAILED")

    def test_session_invalid_triggers_relogin(self):
        old = self.x.handle
        self.srv.call("session.logout", old)
        # XenAPI.py sees SESSION_INVALID, logs in again and retries
        self.assertTrue(self.x.xenapi.VM.get_all())
        self.assertNotEqual(self.x.handle, old)
        self.assertRegex(self.x.handle, REF_RE)

    def test_int64_arguments_as_strings_and_ints(self):
        vm = self.x.xenapi.VM.clone(self.x.xenapi.VM.get_by_name_label("Other install media")[0], "xml-int64")
        try:
            self.x.xenapi.VM.set_user_version(vm, "12")
            self.assertEqual(self.x.xenapi.VM.get_user_version(vm), "12")
            self.x.xenapi.VM.set_user_version(vm, 13)  # <int>
            self.assertEqual(self.x.xenapi.VM.get_user_version(vm), "13")
            self.x.xenapi.VM.set_user_version(vm, str(2 ** 40))
            self.assertEqual(self.x.xenapi.VM.get_user_version(vm), str(2 ** 40))
            # void results come back as ""
            self.assertEqual(self.x.xenapi.VM.set_name_label(vm, "xml-int64-renamed"), "")
            self.assertEqual(self.x.xenapi.VM.get_name_label(vm), "xml-int64-renamed")
        finally:
            self.x.xenapi.VM.destroy(vm)

    def test_event_from_over_xmlrpc(self):
        res = getattr(self.x.xenapi.event, "from")(["vm"], "", 0.1)  # "from" is a Python keyword
        self.assertEqual(set(res), {"events", "valid_ref_counts", "token"})
        self.assertRegex(res["token"], TOKEN_RE)
        self.assertIsInstance(res["valid_ref_counts"]["vm"], int)
        self.assertEqual(res["valid_ref_counts"]["vm"], len(self.x.xenapi.VM.get_all()))
        self.assertTrue(res["events"])
        ev = res["events"][0]
        self.assertEqual(ev["class"], "vm")
        self.assertEqual(ev["operation"], "add")
        self.assertIsInstance(ev["snapshot"], dict)

    def test_async_task_result_is_xml_text(self):
        tpl = self.x.xenapi.VM.get_by_name_label("Other install media")[0]
        task = self.x.xenapi.Async.VM.clone(tpl, "xml-async")
        self.assertRegex(task, REF_RE)
        for _ in range(500):
            rec = self.x.xenapi.task.get_record(task)
            if rec["status"] != "pending":
                break
            time.sleep(0.02)
        self.assertEqual(rec["status"], "success", rec)
        self.assertRegex(rec["result"], r"^<value>OpaqueRef:[0-9a-f-]{36}</value>$")
        vm = rec["result"][len("<value>"):-len("</value>")]
        self.assertEqual(self.x.xenapi.VM.get_name_label(vm), "xml-async")
        self.x.xenapi.VM.destroy(vm)
        self.x.xenapi.task.destroy(task)


class RawXml(harness.ServerTestCase):
    def rpc(self, method, params, path="/"):
        r = self.srv.post(path, harness.xmlrpc_body(method, params), {"Content-Type": "text/xml"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.content_type, "text/xml")
        self.assertNotIn(b"<fault>", r.body)
        root = ET.fromstring(r.body)
        self.assertEqual(root.tag, "methodResponse")
        val = root.find("params/param/value")
        self.assertIsNotNone(val)
        m = struct_members(val)
        return m, r.body

    def bare(self, value_el):
        """The text of a <value> that has no type child (xapi's strings)."""
        self.assertEqual(list(value_el), [], "expected a bare <value>, got %s" % ET.tostring(value_el))
        return value_el.text or ""

    def login(self):
        m, _ = self.rpc("session.login_with_password", ["root", self.srv.password])
        self.assertEqual(self.bare(m["Status"]), "Success")
        return self.bare(m["Value"])

    def test_bare_value_strings(self):
        s = self.login()
        self.assertRegex(s, REF_RE)
        m, body = self.rpc("VM.get_all_records", [s])
        self.assertEqual(self.bare(m["Status"]), "Success")
        self.assertNotIn(b"<string>", body)
        recs = struct_members(m["Value"])
        dom0 = None
        for ref, v in recs.items():
            rec = struct_members(v)
            self.assertRegex(self.bare(rec["uuid"]), harness.UUID_RE)
            if rec["is_control_domain"].find("boolean").text == "1":
                dom0 = rec
        self.assertIsNotNone(dom0)
        # string, int64, bool, enum, float, ref, map, set
        self.assertTrue(self.bare(dom0["name_label"]))
        self.assertRegex(self.bare(dom0["memory_static_max"]), r"^\d+$")
        self.assertEqual(self.bare(dom0["domid"]), "0")
        self.assertEqual(self.bare(dom0["power_state"]), "Running")
        self.assertRegex(self.bare(dom0["resident_on"]), REF_RE)
        self.assertEqual(dom0["is_a_template"].find("boolean").text, "0")
        self.assertIsNotNone(dom0["HVM_shadow_multiplier"].find("double"))
        self.assertIsNotNone(dom0["other_config"].find("struct"))
        self.assertIsNotNone(dom0["VBDs"].find("array/data"))

    def test_datetime_format(self):
        s = self.login()
        m, _ = self.rpc("host_metrics.get_all_records", [s])
        for ref, v in struct_members(m["Value"]).items():
            dt = struct_members(v)["last_updated"].find("dateTime.iso8601")
            self.assertIsNotNone(dt)
            self.assertRegex(dt.text, XMLRPC_DATETIME_RE)

    def test_failure_envelope(self):
        s = self.login()
        m, _ = self.rpc("VM.get_record", [s, BOGUS_REF])
        self.assertEqual(set(m), {"Status", "ErrorDescription"})
        self.assertEqual(self.bare(m["Status"]), "Failure")
        items = m["ErrorDescription"].findall("array/data/value")
        self.assertEqual([self.bare(v) for v in items], ["HANDLE_INVALID", "VM", BOGUS_REF])

    def test_void_is_empty_string(self):
        s = self.login()
        pool = ET.fromstring(self.srv.post("/", harness.xmlrpc_body("pool.get_all", [s]),
                                           {"Content-Type": "text/xml"}).body)
        pref = pool.find("params/param/value/struct/member/value/array/data/value").text
        m, _ = self.rpc("pool.add_to_other_config", [s, pref, "raw-xml", "1"])
        self.assertEqual(self.bare(m["Status"]), "Success")
        self.assertEqual(self.bare(m["Value"]), "")
        self.rpc("pool.remove_from_other_config", [s, pref, "raw-xml"])

    def test_accepted_parameter_types(self):
        s = self.login()
        vm = self.srv.call("VM.clone", s, self.srv.call("VM.get_by_name_label", s, "Other install media")[0], "raw")
        try:
            def raw(method, *vals):
                params = "".join("<param><value>%s</value></param>" % v for v in vals)
                body = ("<?xml version='1.0'?><methodCall><methodName>%s</methodName><params>%s</params>"
                        "</methodCall>" % (method, params)).encode()
                r = self.srv.post("/RPC2", body, {"Content-Type": "text/xml"})
                self.assertEqual(r.status, 200, r)
                mm = struct_members(ET.fromstring(r.body).find("params/param/value"))
                if self.bare(mm["Status"]) != "Success":
                    self.fail("%s failed: %s" % (method, ET.tostring(mm["ErrorDescription"])))
                return mm.get("Value")
            # bare strings, <string>, <i4>, <int>, <i8>, and an empty <value/>
            raw("VM.set_name_label", s, vm, "bare-name")
            self.assertEqual(self.srv.call("VM.get_name_label", s, vm), "bare-name")
            raw("VM.set_name_label", "<string>%s</string>" % s, "<string>%s</string>" % vm, "<string>typed</string>")
            self.assertEqual(self.srv.call("VM.get_name_label", s, vm), "typed")
            for tag, n in (("i4", 21), ("int", 22), ("i8", 2 ** 40)):
                raw("VM.set_user_version", s, vm, "<%s>%d</%s>" % (tag, n, tag))
                self.assertEqual(self.srv.call("VM.get_user_version", s, vm), n)
            raw("VM.set_user_version", s, vm, "<string>23</string>")
            self.assertEqual(self.srv.call("VM.get_user_version", s, vm), 23)
            body = ("<?xml version='1.0'?><methodCall><methodName>VM.set_name_description</methodName><params>"
                    "<param><value>%s</value></param><param><value>%s</value></param><param><value/></param>"
                    "</params></methodCall>" % (s, vm)).encode()
            r = self.srv.post("/", body, {"Content-Type": "text/xml"})
            self.assertIn(b"Success", r.body)
            self.assertEqual(self.srv.call("VM.get_name_description", s, vm), "")
            raw("VM.set_is_a_template", s, vm, "<boolean>0</boolean>")
            self.assertIs(self.srv.call("VM.get_is_a_template", s, vm), False)
            tok = raw("event.from", s, "<array><data><value>vm</value></data></array>", "", "<double>0.05</double>")
            self.assertIsNotNone(tok)
        finally:
            self.srv.call("VM.destroy", s, vm)


if __name__ == "__main__":
    harness.main()
