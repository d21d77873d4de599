"""Hostile and broken input: truncated XML, invalid UTF-8, wrong root
elements, oversized bodies, wrong parameter types, JSON without id, deeply
nested documents, entity expansion. Each gets HTTP 500 (malformed body,
xapi-surface.md §1.1), 413 (body over 1 MiB) or a XenAPI error, never a
crash; the server is still answering at the end."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import XapiError  # noqa: E402

MiB = 1 << 20
XML = {"Content-Type": "text/xml"}
JSON = {"Content-Type": "application/json"}


def xml_call(method, params_xml=""):
    return ("<?xml version='1.0'?><methodCall><methodName>%s</methodName><params>%s</params></methodCall>"
            % (method, params_xml)).encode()


class Malformed(harness.ServerTestCase):
    def tearDown(self):
        # after every hostile request the daemon must still be there and sane
        self.assertTrue(self.srv.alive(), "xenond died (status %s)" % (self.srv.proc.returncode,))
        self.assertTrue(self.srv.call("system.listMethods"))

    def assert500(self, r, what):
        self.assertEqual(r.status, 500, "%s: %r" % (what, r))

    # ---- XML-RPC ----

    def test_truncated_xml(self):
        full = harness.xmlrpc_body("session.login_with_password", ["root", self.srv.password])
        for cut in (1, 10, len(full) // 2, len(full) - 5):
            r = self.srv.post("/", full[:cut], XML)
            self.assert500(r, "truncated at %d" % cut)

    def test_empty_and_garbage_bodies(self):
        for body in (b"", b"   ", b"not xml at all", b"\x00\x01\x02\xff", b"<", b"<?xml version='1.0'?>"):
            with self.subTest(body=body):
                self.assert500(self.srv.post("/", body, XML), repr(body))
                self.assert500(self.srv.post("/jsonrpc", body, JSON), repr(body))

    def test_wrong_root(self):
        for body in (b"<methodResponse><params/></methodResponse>", b"<foo/>",
                     b"<methodCall><params/></methodCall>",  # no methodName
                     b"<methodCall><methodName></methodName><params/></methodCall>",
                     b"<methodCall><methodName>system.listMethods</methodName><params><param><value>"
                     b"<struct><member><value>x</value></member></struct></value></param></params></methodCall>",
                     b"<methodCall><methodName>system.listMethods</methodName><params><param><value>"
                     b"<int>notanumber</int></value></param></params></methodCall>",
                     b"<methodCall><methodName>system.listMethods</methodName><params><param><value>"
                     b"<unknowntype>1</unknowntype></value></param></params></methodCall>"):
            with self.subTest(body=body):
                r = self.srv.post("/", body, XML)
                self.assert500(r, repr(body))

    def test_invalid_utf8(self):
        vm = self.api.VM.clone(self.template(), "utf8")
        try:
            body = xml_call("VM.set_name_label", "<param><value>%s</value></param><param><value>%s</value></param>"
                            "<param><value>" % (self.srv.session, vm)) + b"bad\xff\xfeutf8" + \
                b"</value></param></params></methodCall>"
            r = self.srv.post("/", body, XML)
            # not well-formed XML (HTTP 500), or xapi's INVALID_VALUE for a non-UTF-8 string
            if r.status == 200:
                self.assertIn(b"INVALID_VALUE", r.body)
            else:
                self.assert500(r, "invalid UTF-8 in XML")
            self.assertEqual(self.api.VM.get_name_label(vm), "utf8")
            jbody = (b'{"jsonrpc":"2.0","id":1,"method":"VM.set_name_label","params":["' +
                     self.srv.session.encode() + b'","' + vm.encode() + b'","bad\xff\xfe"]}')
            r = self.srv.post("/jsonrpc", jbody, JSON)
            if r.status == 200:
                self.assertEqual(r.json()["error"]["message"], "INVALID_VALUE")
            else:
                self.assert500(r, "invalid UTF-8 in JSON")
            self.assertEqual(self.api.VM.get_name_label(vm), "utf8")
            # a lone surrogate escape is not valid UTF-8 either
            jbody = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "VM.set_name_label",
                                "params": [self.srv.session, vm, "x"]}).replace('"x"', '"\\ud800"').encode()
            r = self.srv.post("/jsonrpc", jbody, JSON)
            if r.status == 200:
                self.assertIn("error", r.json())
            else:
                self.assert500(r, "lone surrogate")
            self.assertEqual(self.api.VM.get_name_label(vm), "utf8")
        finally:
            self.api.VM.destroy(vm)

    def test_valid_unicode_round_trips(self):
        vm = self.api.VM.clone(self.template(), "unicode")
        try:
            for name in ("żółw 🐢", "日本語", "tab\tand\nnewline", "<&>'\"", "a" * 10000):
                self.api.VM.set_name_label(vm, name)
                self.assertEqual(self.api.VM.get_name_label(vm), name)
                x = self.srv.xenapi_session()
                x.xenapi.login_with_password("root", self.srv.password)
                self.assertEqual(x.xenapi.VM.get_name_label(vm), name)
        finally:
            self.api.VM.destroy(vm)

    # ---- sizes ----

    def test_huge_body_413(self):
        pad = b"x" * (MiB + 1024)
        body = xml_call("session.login_with_password", "<param><value>root</value></param><param><value>") + pad + \
            b"</value></param></params></methodCall>"
        req = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n"
               b"Connection: close\r\n\r\n" % len(body)) + body
        resp = self.srv.raw_request(req, timeout=30)
        self.assertTrue(resp.startswith(b"HTTP/1.1 413") or resp.startswith(b"HTTP/1.0 413"), resp[:200])
        jbody = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "system.listMethods",
                            "params": ["y" * (2 * MiB)]}).encode()
        req = (b"POST /jsonrpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(jbody)) + jbody
        resp = self.srv.raw_request(req, timeout=30)
        self.assertTrue(resp.split(b"\r\n", 1)[0].endswith(b"413 Content Too Large") or b" 413 " in resp[:20],
                        resp[:200])

    def test_body_just_under_limit_is_served(self):
        # a large but legal body is parsed normally
        s = self.srv.session
        desc = "d" * (MiB - 4096)
        vm = self.api.VM.clone(self.template(), "big-desc")
        try:
            r = self.srv.jsonrpc_raw("VM.set_name_description", [s, vm, desc])
            self.assertEqual(r.status, 200)
            self.assertNotIn("error", r.json())
            self.assertEqual(len(self.api.VM.get_name_description(vm)), len(desc))
        finally:
            self.api.VM.destroy(vm)

    def test_lying_content_length(self):
        # announces more than it sends, then closes: must not wedge a worker
        req = b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"a\":"
        self.srv.raw_request(req, timeout=3)
        self.assertTrue(self.srv.call("system.listMethods"))

    # ---- types and envelopes ----

    def test_wrong_types_field_type_error(self):
        vm = self.api.VM.clone(self.template(), "types")
        s = self.srv.session
        try:
            for method, args in (("VM.set_name_label", [vm, {"a": "b"}]), ("VM.set_name_label", [vm, ["x"]]),
                                 ("VM.set_user_version", [vm, "notanumber"]), ("VM.set_user_version", [vm, 1.5]),
                                 ("VM.set_user_version", [vm, {"x": 1}]),
                                 ("VM.set_is_a_template", [vm, "maybe"]), ("VM.set_is_a_template", [vm, {}]),
                                 ("VM.set_other_config", [vm, "not a map"]), ("VM.set_other_config", [vm, [1, 2]]),
                                 ("VM.set_tags", [vm, "not a set"]), ("VM.get_record", [{"not": "a ref"}]),
                                 ("event.from", [["*"], "", "soon"]), ("event.from", ["*", "", 1.0])):
                with self.subTest(method=method, args=args):
                    e = self.assertXapiError("FIELD_TYPE_ERROR", self.srv.call, method, s, *args)
                    self.assertTrue(e.params, "FIELD_TYPE_ERROR should name the field")
            # an unknown enum value: xapi rejects it (it does not store it)
            with self.assertRaises(XapiError):
                self.api.VM.set_actions_after_crash(vm, "explode")
            self.assertNotEqual(self.api.VM.get_actions_after_crash(vm), "explode")
            self.assertEqual(self.api.VM.get_name_label(vm), "types")
        finally:
            self.api.VM.destroy(vm)

    def test_json_envelope_errors(self):
        for body in ({"jsonrpc": "2.0", "method": "system.listMethods", "params": []},           # no id
                     {"jsonrpc": "2.0", "method": "system.listMethods", "params": [], "id": None},
                     {"jsonrpc": "2.0", "params": [], "id": 1},                                # no method
                     {"jsonrpc": "2.0", "method": 42, "params": [], "id": 1},
                     {"jsonrpc": "2.0", "method": "system.listMethods", "params": [], "id": [1]},
                     {"jsonrpc": "2.0", "method": "system.listMethods", "params": [], "id": {"a": 1}},
                     ["not", "an", "object"], "just a string", 42):
            with self.subTest(body=body):
                self.assert500(self.srv.post("/jsonrpc", json.dumps(body).encode(), JSON), repr(body))

    def test_json_params_not_a_list(self):
        r = self.srv.post("/jsonrpc", json.dumps({"jsonrpc": "2.0", "method": "VM.get_all", "id": 1,
                                                  "params": {"session": self.srv.session}}).encode(), JSON)
        if r.status == 200:
            self.assertIn("error", r.json())
        else:
            self.assert500(r, "params object")

    def test_json_trailing_garbage_and_duplicates(self):
        good = json.dumps({"jsonrpc": "2.0", "method": "system.listMethods", "params": [], "id": 1}).encode()
        self.assert500(self.srv.post("/jsonrpc", good + b"}}}", JSON), "trailing garbage")
        self.assert500(self.srv.post("/jsonrpc", good[:-1], JSON), "truncated json")

    # ---- bombs ----

    def test_nested_json_bomb(self):
        depth = 200000
        body = b'{"jsonrpc":"2.0","id":1,"method":"system.listMethods","params":[' + b"[" * depth + b"]" * depth + b"]}"
        t0 = time.monotonic()
        r = self.srv.post("/jsonrpc", body, JSON, timeout=30)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertIn(r.status, (200, 413, 500))
        if r.status == 200:
            self.assertIn("error", r.json())

    def test_nested_xml_bomb(self):
        depth = 50000
        inner = b"<value><array><data>" * depth + b"</data></array></value>" * depth
        body = b"<?xml version='1.0'?><methodCall><methodName>system.listMethods</methodName><params><param>" + \
            inner + b"</param></params></methodCall>"
        t0 = time.monotonic()
        r = self.srv.post("/", body, XML, timeout=30)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertIn(r.status, (200, 413, 500))
        if r.status == 200:
            self.assertIn(b"Failure", r.body)

    def test_entity_expansion_bomb(self):
        lol = ["<!ENTITY lol0 \"lollollollollollollollollollol\">"]
        for i in range(1, 10):
            lol.append("<!ENTITY lol%d \"%s\">" % (i, ("&lol%d;" % (i - 1)) * 10))
        body = ("<?xml version='1.0'?><!DOCTYPE m [%s]><methodCall><methodName>session.login_with_password"
                "</methodName><params><param><value>&lol9;</value></param><param><value>x</value></param>"
                "</params></methodCall>" % "".join(lol)).encode()
        t0 = time.monotonic()
        r = self.srv.post("/", body, XML, timeout=30)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertIn(r.status, (200, 500))
        if r.status == 200:
            self.assertIn(b"Failure", r.body)

    def test_external_entity_not_resolved(self):
        body = ("<?xml version='1.0'?><!DOCTYPE m [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><methodCall>"
                "<methodName>session.login_with_password</methodName><params><param><value>&x;</value></param>"
                "<param><value>x</value></param></params></methodCall>").encode()
        r = self.srv.post("/", body, XML)
        self.assertNotIn(b"root:x:0:0", r.body)

    def test_many_parameters(self):
        params = "".join("<param><value>%d</value></param>" % i for i in range(20000))
        r = self.srv.post("/", xml_call("VM.get_all", params), XML)
        self.assertEqual(r.status, 200)
        self.assertIn(b"MESSAGE_PARAMETER_COUNT_MISMATCH", r.body)

    def test_huge_method_name(self):
        name = "VM." + "a" * 100000
        r = self.srv.jsonrpc_raw(name, [self.srv.session])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["error"]["message"], "MESSAGE_METHOD_UNKNOWN")

    # ---- HTTP level ----

    def test_unknown_paths_and_methods(self):
        self.assertEqual(self.srv.post("/nosuchpath", b"{}", JSON).status, 404)
        r = self.srv.post("/jsonrpc", None, method="GET")
        self.assertNotEqual(r.status, 200)
        r = self.srv.post("/", b"x", {"Content-Type": "text/xml"}, method="PUT")
        self.assertNotEqual(r.status, 200)

    def test_garbage_http(self):
        for raw in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello
                    b"GARBAGE\r\n\r\n", b"POST / HTTP/9.9\r\n\r\n", b"\r\n\r\n\r\n"):
            self.srv.raw_request(raw, timeout=3)
        self.assertTrue(self.srv.call("system.listMethods"))

    def test_slow_and_half_open_clients_do_not_block(self):
        import socket
        socks = []
        try:
            for _ in range(50):
                s = socket.create_connection(("127.0.0.1", self.srv.port))
                s.sendall(b"POST /jsonrpc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
                socks.append(s)
            t0 = time.monotonic()
            self.assertTrue(self.srv.call("system.listMethods"))
            self.assertLess(time.monotonic() - t0, 2.0)
        finally:
            for s in socks:
                s.close()


if __name__ == "__main__":
    harness.main()
