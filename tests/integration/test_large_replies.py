"""Large whole-table replies: VM.get_all_records, get_all_records_where and
get_all on a store of a few thousand VMs, which xenond sends in pieces as
it encodes them (chunked), over XML-RPC and JSON-RPC 1.0 and 2.0. Every
answer must parse, hold every VM, and each record must equal what
VM.get_record says of it; small tables still answer with a Content-Length;
and several readers at once must not make the daemon's memory grow with
the size of their answers."""

import http.client
import json
import os
import sys
import threading
import time
import unittest
import xmlrpc.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NVMS = int(os.environ.get("XENON_TEST_LARGE_NVMS", "2000"))
READERS = 8


class Conn:
    """A keep-alive connection that posts raw bodies and returns the response."""

    def __init__(self, port, timeout=120):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def post(self, path, body, ctype):
        self.c.request("POST", path, body, {"Content-Type": ctype})
        r = self.c.getresponse()
        data = r.read()
        return r, data

    def json(self, method, params, version=2, rid=1):
        req = {"method": method, "params": params, "id": rid}
        if version == 2:
            req["jsonrpc"] = "2.0"
        r, data = self.post("/jsonrpc", json.dumps(req), "application/json")
        return r, data

    def xml(self, method, params):
        r, data = self.post("/", xmlrpc.client.dumps(tuple(params), method, allow_none=True), "text/xml")
        return r, data

    def close(self):
        self.c.close()


def vm_status_rss(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) // 1024
    return out


def xml_value(data):
    (resp,), _ = xmlrpc.client.loads(data)
    assert resp["Status"] == "Success", resp
    return resp["Value"]


class LargeReplies(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        # AddressSanitizer keeps up to 256 MiB of freed memory out of reuse
        # (its quarantine), which would count here as growth: keep it small
        opts = os.environ.get("ASAN_OPTIONS", "")
        os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=16"
        super().setUpClass()
        s = cls.srv.session
        tmpl = cls.srv.call1("VM.get_by_name_label", s, "Other install media")[0]
        # cloned from a few keep-alive clients at once: VM.clone commits
        # once per call, so one client would wait on every commit
        errors = []

        def work(lo, hi):
            try:
                c = Conn(cls.srv.port)
                for i in range(lo, hi):
                    r, data = c.json("VM.clone", [s, tmpl, "large-%05d" % i])
                    env = json.loads(data)
                    if "result" not in env:
                        raise RuntimeError(env)
                c.close()
            except Exception as e:  # reported below
                errors.append(e)

        n = 4
        per = (NVMS + n - 1) // n
        ts = [threading.Thread(target=work, args=(k * per, min(NVMS, (k + 1) * per))) for k in range(n)]
        t0 = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]
        sys.stderr.write("\n(%d VMs cloned in %.1f s)\n" % (NVMS, time.monotonic() - t0))
        cls.nvm = len(cls.srv.call1("VM.get_all", s))
        assert cls.nvm >= NVMS

    def setUp(self):
        super().setUp()
        self.c = Conn(self.srv.port)

    def tearDown(self):
        self.c.close()

    def per_record(self, refs):
        """VM.get_record of each ref, over one keep-alive JSON connection."""
        out = {}
        for ref in refs:
            r, data = self.c.json("VM.get_record", [self.srv.session, ref])
            out[ref] = json.loads(data)["result"]
        return out

    def test_json_get_all_records_equals_get_record(self):
        s = self.srv.session
        for version in (1, 2):
            r, data = self.c.json("VM.get_all_records", [s], version=version, rid="v%d" % version)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.getheader("Content-Type"), "application/json")
            self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
            self.assertIsNone(r.getheader("Content-Length"))
            env = json.loads(data)
            if version == 2:
                self.assertEqual(set(env), {"jsonrpc", "result", "id"})
            else:
                self.assertEqual(set(env), {"result", "error", "id"})
                self.assertIsNone(env["error"])
            self.assertEqual(env["id"], "v%d" % version)
            recs = env["result"]
            self.assertEqual(len(recs), self.nvm)
            self.assertEqual(sorted(recs), sorted(self.srv.call1("VM.get_all", s)))
        self.assertEqual(recs, self.per_record(recs))

    def test_xml_get_all_records_equals_get_record(self):
        s = self.srv.session
        r, data = self.c.xml("VM.get_all_records", [s])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"), "text/xml")
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        recs = xml_value(data)
        self.assertEqual(len(recs), self.nvm)
        # the XML-RPC records against XML-RPC get_record (ints are strings there)
        for ref in list(recs)[:: max(1, len(recs) // 200)] + list(recs)[-3:]:
            r, one = self.c.xml("VM.get_record", [s, ref])
            self.assertEqual(recs[ref], xml_value(one), ref)
        self.assertEqual(sorted(recs), sorted(self.srv.call1("VM.get_all", s)))

    def test_xmlrpc_client_library(self):
        """XenAPI.py's way: xmlrpc.client.ServerProxy reads the chunked body."""
        x = self.srv.xenapi_session()
        x.xenapi.login_with_password("root", self.srv.password, "1.0", "xenon-tests")
        try:
            recs = x.xenapi.VM.get_all_records()
            self.assertEqual(len(recs), self.nvm)
            refs = x.xenapi.VM.get_all()
            self.assertEqual(sorted(refs), sorted(recs))
        finally:
            x.xenapi.session.logout()
            x("close")()

    def test_get_all_and_where(self):
        s = self.srv.session
        r, data = self.c.json("VM.get_all", [s])
        refs = json.loads(data)["result"]
        self.assertEqual(len(refs), self.nvm)
        r, data = self.c.xml("VM.get_all", [s])
        self.assertEqual(xml_value(data), refs)
        r, data = self.c.json("VM.get_all_records_where", [s, 'field "name__label" = "large-00007"'])
        self.assertEqual(r.status, 200)
        recs = json.loads(data)["result"]
        self.assertEqual([v["name_label"] for v in recs.values()], ["large-00007"])
        self.assertEqual(recs, self.per_record(recs))
        r, data = self.c.xml("VM.get_all_records_where", [s, 'field "is_a_template" = "false"'])
        recs = xml_value(data)
        self.assertTrue(all(not v["is_a_template"] for v in recs.values()))
        # an error before the answer starts is an ordinary error answer
        r, data = self.c.json("VM.get_all_records_where", [s, 'field "name__label" ='])
        self.assertEqual(r.status, 200)
        self.assertIn("error", json.loads(data))
        self.assertIsNotNone(r.getheader("Content-Length"))
        r, data = self.c.json("VM.get_all_records", ["OpaqueRef:bogus"])
        self.assertEqual(json.loads(data)["error"]["message"], "SESSION_INVALID")

    def test_small_tables_keep_content_length(self):
        r, data = self.c.json("host.get_all_records", [self.srv.session])
        self.assertEqual(r.status, 200)
        self.assertIsNotNone(r.getheader("Content-Length"))
        self.assertEqual(len(json.loads(data)["result"]), 1)

    def test_deletes_during_a_read(self):
        """Rows destroyed while an answer is being sent are left out or
        whole, never cut; the answer still parses."""
        s = self.srv.session
        victims = [v for v in self.srv.call1("VM.get_all", s)][-50:]
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=60)
        conn.request("POST", "/jsonrpc", json.dumps({"jsonrpc": "2.0", "method": "VM.get_all_records",
                                                      "params": [s], "id": 1}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        head = resp.read(4096)  # the answer has started
        for v in victims:
            self.srv.call1("VM.destroy", s, v)
        recs = json.loads(head + resp.read())["result"]
        conn.close()
        self.assertTrue(self.nvm - len(victims) <= len(recs) <= self.nvm)
        type(self).nvm -= len(victims)

    def test_concurrent_readers_bounded_rss(self):
        """READERS clients reading the whole table over and over: the
        daemon's RSS grows by far less than the answers in flight."""
        s = self.srv.session
        pid = self.srv.pid
        c = Conn(self.srv.port)
        c.json("VM.get_all_records", [s])  # warm: pools, caches
        c.xml("VM.get_all_records", [s])
        c.close()
        before = vm_status_rss(pid)
        sizes = []
        errors = []
        deadline = time.monotonic() + 12

        def reader(k):
            try:
                c = Conn(self.srv.port)
                while time.monotonic() < deadline:
                    if k % 2:
                        r, data = c.xml("VM.get_all_records", [s])
                        if b"<value>Success</value>" not in data[:300]:
                            raise RuntimeError(data[:300])
                    else:
                        r, data = c.json("VM.get_all_records", [s])
                        if not data.startswith(b'{"jsonrpc":"2.0","result":{'):
                            raise RuntimeError(data[:300])
                    sizes.append(len(data))
                c.close()
            except Exception as e:  # reported below
                errors.append(e)

        peak = [0]
        ts = [threading.Thread(target=reader, args=(k,)) for k in range(READERS)]
        for t in ts:
            t.start()
        while any(t.is_alive() for t in ts):
            peak[0] = max(peak[0], vm_status_rss(pid)["VmRSS"])
            time.sleep(0.05)
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        after = vm_status_rss(pid)
        growth = max(peak[0], after["VmRSS"]) - before["VmRSS"]
        in_flight = READERS * max(sizes) / 2**20
        sys.stderr.write("\n(RSS before %d MiB, peak %d MiB, growth %d MiB; %d answers of up to %.1f MiB, "
                         "%.0f MiB if all %d were held whole)\n" % (
                             before["VmRSS"], peak[0], growth, len(sizes), max(sizes) / 2**20,
                             in_flight, READERS))
        self.assertGreaterEqual(len(sizes), READERS)
        self.assertLess(growth, 150)


if __name__ == "__main__":
    harness.main()
