"""Metrics against a real xenond (sim backend): a running VM's and the
host's data sources in /rrd_updates as xapi serves it (XML and JSON, the
legend Xen Orchestra matches, newest rows first), its refusals (no start:
400, no session: 401; read-only allowed), the data source messages and xe
commands, and RRDs that outlive a restart of the daemon."""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest
import urllib.parse
import warnings
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # the users file holds crypt(3) hashes

XO_LEGEND = re.compile(r"^AVERAGE:([^:]+):(.+):(.+)$")
PASSWORD = "s3cret-pw"
TOKEN = "scrape-0123456789abcdef"
PROMTOOL = shutil.which("promtool")


class MetricsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        data_dir = harness._tmpdir("xenon-metrics-")
        with open(os.path.join(data_dir, "users"), "w") as f:
            h = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_SHA512))
            f.write("reader:%s:read-only\n" % h)
        conf = os.path.join(data_dir, "xenond.conf")
        with open(conf, "w") as f:
            f.write("metrics-token = %s\n" % TOKEN)
        cls.srv = harness.Server(data_dir=data_dir)
        cls.srv.extra_args += ["--config", conf]
        cls.srv.start()
        api = cls.srv.api
        tpl = [r for r, v in api.VM.get_all_records().items()
               if v["is_a_template"] and v["name_label"] == "Other install media"][0]
        cls.vm = api.VM.clone(tpl, "metrics-vm")
        api.VM.provision(cls.vm)
        api.VM.start(cls.vm, False, False)
        cls.vm_uuid = api.VM.get_uuid(cls.vm)
        cls.host = api.host.get_all()[0]
        cls.host_uuid = api.host.get_uuid(cls.host)
        # three ticks: the first has no rates yet
        time.sleep(16)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def get(self, path, session=True, headers=None, **q):
        if session:
            q.setdefault("session_id", self.srv.session if session is True else session)
        c = self.srv.connection()
        try:
            c.request("GET", path + "?" + urllib.parse.urlencode(q, doseq=True), headers=headers or {})
            r = c.getresponse()
            return harness.HttpResponse(r.status, r.getheaders(), r.read())
        finally:
            c.close()

    def servertime(self):
        t = self.srv.api.host.get_servertime(self.host)
        return int(time.mktime(time.strptime(t, "%Y%m%dT%H:%M:%SZ")) - time.timezone)

    def test_json_as_xen_orchestra_asks(self):
        start = self.servertime() - 5 * 120 + 5
        r = self.get("/rrd_updates", cf="AVERAGE", host="true", interval=5, json="true", start=start)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")
        self.assertEqual(r.content_type, "application/json")
        j = json.loads(r.body)
        self.assertEqual(j["meta"]["step"], 5)
        legends = j["meta"]["legend"]
        self.assertEqual(j["meta"]["columns"], len(legends))
        parsed = [XO_LEGEND.match(l).groups() for l in legends]
        self.assertEqual(parsed[0][:2], ("host", self.host_uuid))
        names = {(k, n) for k, _, n in parsed}
        for n in ("cpu0", "cpu_avg", "loadavg", "memory_total_kib", "memory_free_kib"):
            self.assertIn(("host", n), names)
        for n in ("cpu0", "cpu_usage", "memory", "memory_internal_free"):
            self.assertIn(("vm", n), names)
        self.assertTrue(any(u == self.vm_uuid for _, u, _ in parsed))
        rows = j["data"]
        self.assertGreaterEqual(len(rows), 2)
        self.assertGreater(rows[0]["t"], rows[1]["t"])  # newest first
        for row in rows:
            self.assertEqual(len(row["values"]), len(legends))
            self.assertTrue(all(isinstance(v, str) for v in row["values"]))
        col = legends.index("AVERAGE:vm:%s:cpu0" % self.vm_uuid)
        v = float(rows[0]["values"][col])
        self.assertTrue(0 <= v <= 1, v)

    def test_xml_and_accept(self):
        r = self.get("/rrd_updates", start=-60, vm_uuid=self.vm_uuid)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.content_type, "text/xml")
        self.assertTrue(r.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<xport><meta><start>'))
        x = ET.fromstring(r.body)
        entries = [e.text for e in x.find("meta/legend")]
        self.assertTrue(all(e.startswith("AVERAGE:vm:%s:" % self.vm_uuid) for e in entries))
        self.assertEqual(int(x.find("meta/columns").text), len(entries))
        r = self.get("/rrd_updates", headers={"Accept": "application/json"}, start=-60)
        self.assertEqual(r.content_type, "application/json")
        # repeated vm_uuid, an unknown one left out; none at all: no VM
        r = self.get("/rrd_updates", start=-60, json="1", vm_uuid=[self.vm_uuid, "nope", self.vm_uuid],
                     host="true")
        legends = json.loads(r.body)["meta"]["legend"]
        vm_cols = [l for l in legends if ":vm:" in l]
        self.assertEqual(len(vm_cols) % 2, 0)
        self.assertTrue(vm_cols)
        r = self.get("/rrd_updates", start=-60, json="1", vm_uuid="none", host="true")
        self.assertFalse([l for l in json.loads(r.body)["meta"]["legend"] if ":vm:" in l])

    def test_refusals_and_roles(self):
        self.assertEqual(self.get("/rrd_updates", host="true").status, 400)
        r = self.get("/rrd_updates", host="true", start="soon")
        self.assertEqual((r.status, r.body.split()[:3]), (400, [b"INVALID_VALUE", b"start", b"soon"]))
        self.assertEqual(self.get("/rrd_updates", session=False, start=-60).status, 401)
        self.assertEqual(self.get("/rrd_updates", session="OpaqueRef:nope", start=-60).status, 401)
        reader = self.srv.login("reader", PASSWORD)
        r = self.get("/rrd_updates", session=reader, start=-60, host="true", json="1")
        self.assertEqual(r.status, 200, r.body)
        r = self.get("/host_rrd", session=reader)
        self.assertEqual(r.status, 200, r.body)
        self.assertIn(b"<rrd><version>0003</version><step>5</step>", r.body)
        r = self.get("/vm_rrd", uuid=self.vm_uuid)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.get("/vm_rrd", uuid="nope").status, 404)

    def test_data_source_messages_and_xe(self):
        api = self.srv.api
        ds = api.VM.get_data_sources(self.vm)
        byname = {d["name_label"]: d for d in ds}
        self.assertTrue(byname["cpu0"]["enabled"])
        self.assertEqual(byname["memory"]["units"], "B")
        self.assertTrue(byname["vbd_xvda_iops_read"]["enabled"] if "vbd_xvda_iops_read" in byname else True)
        mem = api.VM.query_data_source(self.vm, "memory")
        self.assertGreater(mem, 0)
        hds = {d["name_label"] for d in api.host.get_data_sources(self.host)}
        self.assertIn("memory_total_kib", hds)
        self.assertGreater(api.host.query_data_source(self.host, "memory_total_kib"), 0)
        # xapi relays rrdd's exception as INTERNAL_ERROR [the exception printed]
        with self.assertRaises(harness.XapiError) as cm:
            api.VM.query_data_source(self.vm, "no_such_source")
        self.assertEqual((cm.exception.code, cm.exception.params),
                         ("INTERNAL_ERROR", ['Rrd.Invalid_data_source("no_such_source")']))
        api.VM.forget_data_source_archives(self.vm, "memory_target")
        r = self.srv.xe("vm-data-source-list", "vm=metrics-vm")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("cpu0", r.stdout)
        r = self.srv.xe("vm-data-source-query", "vm=metrics-vm", "data-source=memory")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(float(r.stdout.strip()), 0)
        r = self.srv.xe("host-data-source-list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("loadavg", r.stdout)
        r = self.srv.xe("host-data-source-query", "data-source=memory_total_kib")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_prometheus(self):
        r = self.get("/metrics")
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.content_type.startswith("text/plain"), r.content_type)
        self.assertIn("version=0.0.4", r.header("Content-Type"))
        text = r.body.decode()
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                samples[k] = float(v)
        vm_labels = '{vm_uuid="%s",vm_name="metrics-vm"}' % self.vm_uuid
        self.assertIn("xen_vm_cpu0" + vm_labels, samples)
        self.assertGreater(samples["xen_vm_memory" + vm_labels], 0)
        self.assertGreater(samples['xen_host_memory_total_kib{host_uuid="%s"}' % self.host_uuid], 0)
        self.assertGreaterEqual(samples['xenond_api_calls_total{method="VM.start",status="success"}'], 1)
        self.assertGreater(samples["xenond_api_call_duration_seconds_count"], 0)
        self.assertEqual(samples['xenond_api_call_duration_seconds_bucket{le="+Inf"}'],
                         samples["xenond_api_call_duration_seconds_count"])
        self.assertGreater(samples["xenond_db_objects_stored"], 0)
        self.assertIn("xenond_tasks", samples)
        self.assertIn("xenond_event_waiting_calls", samples)
        if "vbd_xvda_read" in text:  # a gauge never ends in _total
            self.assertIn("xen_vm_vbd_xvda_iops_all" + vm_labels, samples)
        if PROMTOOL:
            p = subprocess.run([PROMTOOL, "check", "metrics"], input=r.body, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout.decode())
        # the token alone, a wrong one, none; basic auth; read-only allowed
        r = self.get("/metrics", session=False, headers={"Authorization": "Bearer " + TOKEN})
        self.assertEqual(r.status, 200, r.body)
        self.assertIn(b"xen_vm_cpu0", r.body)
        r = self.get("/metrics", session=False, headers={"Authorization": "Bearer nope"})
        self.assertEqual(r.status, 401)
        self.assertEqual(self.get("/metrics", session=False).status, 401)
        basic = "Basic " + base64.b64encode(("reader:" + PASSWORD).encode()).decode()
        r = self.get("/metrics", session=False, headers={"Authorization": basic})
        self.assertEqual(r.status, 200, r.body)

    def test_zz_restart_keeps_the_archives(self):
        before = json.loads(self.get("/rrd_updates", start=-60, json="1", host="true").body)
        self.srv.restart(same_port=True)
        self.srv._session = None
        after = json.loads(self.get("/rrd_updates", start=-120, json="1", host="true").body)
        self.assertEqual(after["meta"]["legend"][:3], before["meta"]["legend"][:3])
        old = {r["t"]: r["values"] for r in before["data"]}
        new = {r["t"]: r["values"] for r in after["data"]}
        common = [t for t in old if t in new and old[t][0] != "NaN"]
        self.assertTrue(common, "no row survived the restart")
        t = common[0]
        self.assertEqual(new[t][0], old[t][0])


if __name__ == "__main__":
    unittest.main()
