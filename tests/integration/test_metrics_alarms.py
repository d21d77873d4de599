"""Metrics against a real xenond (sim backend), beyond test_metrics: the
per-SR I/O summed from the VBDs on each SR (the host's iops_*_<sr8>,
io_throughput_*_<sr8>, read/write_latency_<sr8>, the SR's own RRD in
/sr_rrd and in /rrd_updates?sr_uuid=), running_vcpus; perfmon's ALARM
messages from other_config:perfmon on a VM, the host and an SR (xapi's
body, priority and class; once per auto-inhibit period; seen by
event.from); a halted VM's RRD kept as its archive (served while halted,
through a restart of the daemon, continued when it starts again); the
MIN and MAX archives of pool other_config:create_min_max_in_new_VM_RRDs;
host.get_servertime against the host's clock; the JSON of /rrd_updates
parsed by node's JSON.parse with Xen Orchestra's legend expression."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET
from xml.dom import minidom

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MiB = 1 << 20
NODE = shutil.which("node")
TRIGGER_S, INHIBIT_S = 10, 30
VM_PERFMON = ('<config><variable><name value="cpu_usage"/><alarm_trigger_level value="0.001"/>'
              '<alarm_trigger_period value="%d"/><alarm_auto_inhibit_period value="%d"/>'
              '<alarm_priority value="2"/></variable></config>' % (TRIGGER_S, INHIBIT_S))
# minidom's toprettyxml of that <variable>
VM_BODY_XML = ('<variable>\n\t<name value="cpu_usage"/>\n\t<alarm_trigger_level value="0.001"/>\n'
               '\t<alarm_trigger_period value="%d"/>\n\t<alarm_auto_inhibit_period value="%d"/>\n'
               '\t<alarm_priority value="2"/>\n</variable>\n' % (TRIGGER_S, INHIBIT_S))
# laid out by hand, with a text child: the body prints it as minidom does
SR_PERFMON = """<config>
  <variable>
    <name value="sr_iops"/>
    <rrd_regex value="iops_(read|write)"/>
    <alarm_trigger_level value="0"/>
    <alarm_trigger_period value="5"/>
    <alarm_priority value="4"/>
    <note>reads &amp; writes</note>
  </variable>
</config>"""


def minidom_body(config):
    """What perfmon puts after "config:\n": the <variable> as Python's
    minidom prints it (toprettyxml)."""
    return minidom.parseString(config).getElementsByTagName("variable")[0].toprettyxml()


class MetricsAlarmsTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        api = cls.api
        cls.host = api.host.get_all()[0]
        cls.host_uuid = api.host.get_uuid(cls.host)
        cls.pool = api.pool.get_all()[0]
        cls.sr = api.pool.get_default_SR(cls.pool)
        cls.sr_uuid = api.SR.get_uuid(cls.sr)
        cls.sr8 = cls.sr_uuid[:8]
        # MIN and MAX archives for the RRDs made from now on
        api.pool.add_to_other_config(cls.pool, "create_min_max_in_new_VM_RRDs", "true")
        vm = api.VM.clone([r for r, v in api.VM.get_all_records().items()
                           if v["is_a_template"] and v["name_label"] == "Other install media"][0], "alarm-vm")
        api.VM.provision(vm)
        api.VM.set_VCPUs_max(vm, "2")
        api.VM.set_VCPUs_at_startup(vm, "2")
        vdi = api.VDI.create({
            "name_label": "d", "name_description": "", "SR": cls.sr, "virtual_size": str(64 * MiB),
            "type": "user", "sharable": False, "read_only": False, "other_config": {},
            "xenstore_data": {}, "sm_config": {}, "tags": []})
        api.VBD.create({
            "VM": vm, "VDI": vdi, "userdevice": "1", "bootable": False, "mode": "RW", "type": "Disk",
            "unpluggable": True, "empty": False, "other_config": {}, "qos_algorithm_type": "",
            "qos_algorithm_params": {}})
        api.VM.add_to_other_config(vm, "perfmon", VM_PERFMON)
        cls.vm = vm
        cls.vm_uuid = api.VM.get_uuid(vm)
        cls.t_perfmon = time.time()
        api.VM.start(vm, False, False)
        # the host: memory_free_kib watched for low values (its default
        # sense), a level no host reaches; the SR: its iops_total
        api.host.add_to_other_config(cls.host, "perfmon", (
            '<config><variable><name value="memory_free_kib"/><alarm_trigger_level value="1e15"/>'
            '<alarm_trigger_period value="5"/></variable></config>'))
        api.SR.add_to_other_config(cls.sr, "perfmon", SR_PERFMON)
        time.sleep(16)  # three ticks: the first has no rates

    def get(self, path, session=True, **q):
        if session:
            q.setdefault("session_id", self.srv.session)
        c = self.srv.connection()
        try:
            c.request("GET", path + "?" + urllib.parse.urlencode(q, doseq=True))
            r = c.getresponse()
            return harness.HttpResponse(r.status, r.getheaders(), r.read())
        finally:
            c.close()

    def updates(self, **q):
        q.setdefault("json", "true")
        r = self.get("/rrd_updates", **q)
        self.assertEqual(r.status, 200, r.body)
        return json.loads(r.body)

    def alarms(self, cls_name, uuid):
        recs = self.api.message.get_all_records().values()
        return sorted((m for m in recs if m["name"] == "ALARM" and m["cls"] == cls_name
                       and m["obj_uuid"] == uuid), key=lambda m: m["timestamp"])

    def test_sr_io_on_the_host_and_the_sr(self):
        j = self.updates(start=-30, host="true", vm_uuid=self.vm_uuid, sr_uuid=self.sr_uuid, interval=5)
        legend = j["meta"]["legend"]
        for n in ("read", "write", "iops_read", "iops_write", "iops_total", "io_throughput_read",
                  "io_throughput_write", "io_throughput_total", "read_latency", "write_latency"):
            self.assertIn("AVERAGE:host:%s:%s_%s" % (self.host_uuid, n, self.sr8), legend)
            self.assertIn("AVERAGE:sr:%s:%s" % (self.sr_uuid, n), legend)
        self.assertIn("AVERAGE:host:%s:running_vcpus" % self.host_uuid, legend)
        # every figure of the VM's disk is a default source, as rrdp-iostat's
        for n in ("read", "write", "iops_read", "iops_write", "iops_total", "io_throughput_read",
                  "io_throughput_write", "io_throughput_total", "read_latency", "write_latency", "inflight"):
            self.assertIn("AVERAGE:vm:%s:vbd_xvdb_%s" % (self.vm_uuid, n), legend)

        def col(name):
            return legend.index(name)

        host_read = col("AVERAGE:host:%s:read_%s" % (self.host_uuid, self.sr8))
        sr_read = col("AVERAGE:sr:%s:read" % self.sr_uuid)
        vm_read = col("AVERAGE:vm:%s:vbd_xvdb_read" % self.vm_uuid)
        vm_wl = col("AVERAGE:vm:%s:vbd_xvdb_write_latency" % self.vm_uuid)
        host_wl = col("AVERAGE:host:%s:write_latency_%s" % (self.host_uuid, self.sr8))
        host_tp = col("AVERAGE:host:%s:io_throughput_total_%s" % (self.host_uuid, self.sr8))
        vcpus = col("AVERAGE:host:%s:running_vcpus" % self.host_uuid)
        rows = [r["values"] for r in j["data"] if r["values"][vm_read] != "NaN"]
        self.assertTrue(rows, j["data"])
        for v in rows:
            # the only VBD on the SR: the SR's figures are the disk's
            self.assertGreater(float(v[vm_read]), 0)
            self.assertAlmostEqual(float(v[host_read]) / float(v[vm_read]), 1.0, places=6)
            self.assertAlmostEqual(float(v[sr_read]) / float(v[vm_read]), 1.0, places=6)
            self.assertAlmostEqual(float(v[host_wl]), float(v[vm_wl]), places=3)
            self.assertGreater(float(v[host_tp]), 0)
            self.assertEqual(float(v[vcpus]), 2.0)
        # the SR's own RRD
        r = self.get("/sr_rrd", uuid=self.sr_uuid)
        self.assertEqual(r.status, 200, r.body)
        names = [e.text.strip() for e in ET.fromstring(r.body).findall("ds/name")]
        self.assertIn("io_throughput_total", names)
        self.assertIn("write_latency", names)
        # the host's data sources describe them
        ds = {d["name_label"]: d for d in self.api.host.get_data_sources(self.host)}
        self.assertEqual(ds["io_throughput_read_" + self.sr8]["units"], "MiB/s")
        self.assertEqual(ds["read_latency_" + self.sr8]["units"], "μs")
        self.assertTrue(ds["running_vcpus"]["enabled"])
        # and the SR's, through the API and xe
        sds = {d["name_label"]: d for d in self.api.SR.get_data_sources(self.sr)}
        self.assertTrue(sds["iops_total"]["enabled"])
        self.assertEqual(sds["write_latency"]["units"], "μs")
        self.assertGreater(self.api.SR.query_data_source(self.sr, "io_throughput_read"), 0)
        r = self.srv.xe("sr-data-source-list", "uuid=" + self.sr_uuid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("io_throughput_total", r.stdout)
        r = self.srv.xe("sr-data-source-query", "uuid=" + self.sr_uuid, "data-source=iops_read")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(float(r.stdout.strip()), 0)
        self.assertXapiError("INTERNAL_ERROR", self.api.SR.query_data_source, self.sr, "cpu0",
                             params=['Rrd.Invalid_data_source("cpu0")'])
        # host.backup_rrds: every pending update in its file now
        self.api.host.backup_rrds(self.host, 0.0)
        path = os.path.join(self.srv.data_dir, "rrd", "sr-%s.rrd" % self.sr_uuid)
        if shutil.which("rrdtool"):
            p = subprocess.run(["rrdtool", "lastupdate", path], stdout=subprocess.PIPE, text=True)
            last = int(p.stdout.strip().splitlines()[-1].split(":")[0])
            self.assertGreaterEqual(last, j["meta"]["end"])

    def test_min_max_archives_of_a_new_rrd(self):
        j = self.updates(start=-300, vm_uuid=self.vm_uuid, cf="MAX", interval=60)
        self.assertEqual(j["meta"]["step"], 60)
        self.assertTrue(all(l.startswith("MAX:vm:%s:" % self.vm_uuid) for l in j["meta"]["legend"]))
        r = self.get("/vm_rrd", uuid=self.vm_uuid)
        cfs = {e.text.strip() for e in ET.fromstring(r.body).findall("rra/cf")}
        self.assertEqual(cfs, {"AVERAGE", "MIN", "MAX"})

    def test_servertime_is_the_hosts_clock(self):
        before = int(time.time())
        t = self.api.host.get_servertime(self.host)
        after = int(time.time())
        self.assertRegex(t, r"^\d{8}T\d\d:\d\d:\d\dZ$")
        got = int(time.mktime(time.strptime(t, "%Y%m%dT%H:%M:%SZ")) - time.timezone)
        self.assertTrue(before <= got <= after, (before, got, after))
        r = self.srv.xe("host-param-get", "uuid=" + self.host_uuid, "param-name=uuid")
        self.assertEqual(r.returncode, 0, r.stderr)

    @unittest.skipUnless(NODE, "node not installed")
    def test_json_parsed_by_node_as_xen_orchestra(self):
        start = int(time.time()) - 5 * 120 + 5
        r = self.get("/rrd_updates", start=start, cf="AVERAGE", interval=5, host="true", json="true")
        self.assertEqual(r.status, 200, r.body)
        # what XO's xo-server does with the reply: JSON.parse, legends by
        # its expression, values through +v with "NaN" as null, rows reversed
        script = r"""
const body = require('fs').readFileSync(0, 'utf8');
const j = JSON.parse(body);
const re = /^AVERAGE:([^:]+):(.+):(.+)$/;
const out = {step: j.meta.step, objs: {}, rows: j.data.length};
j.meta.legend.forEach((l, i) => {
  const [, type, uuid, name] = re.exec(l);
  const vals = j.data.map(r => r.values[i]).map(v => v === 'NaN' ? null : +v).reverse();
  ((out.objs[type] = out.objs[type] || {})[uuid] = out.objs[type][uuid] || {})[name] = vals;
});
process.stdout.write(JSON.stringify(out));
"""
        p = subprocess.run([NODE, "-e", script], input=r.body, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        out = json.loads(p.stdout)
        self.assertEqual(out["step"], 5)
        host = out["objs"]["host"][self.host_uuid]
        vm = out["objs"]["vm"][self.vm_uuid]
        self.assertIn("iops_total_" + self.sr8, host)
        cpu = [v for v in vm["cpu0"] if v is not None]
        self.assertTrue(cpu and all(0 <= v <= 1 for v in cpu), vm["cpu0"])
        self.assertEqual(len(vm["cpu0"]), out["rows"])
        self.assertIsNone(vm["cpu0"][0])  # the oldest rows, before the VM ran

    def test_alarm_once_per_inhibit_period(self):
        # the first: once the VM's cpu_usage has been above the level for
        # TRIGGER_S (its first rates come one tick after the start)
        first = self.wait_for(lambda: self.alarms("VM", self.vm_uuid), TRIGGER_S + 25, 0.5,
                              "the first ALARM")[0]
        t1 = time.time()
        self.assertLess(t1 - self.t_perfmon, TRIGGER_S + 20)
        self.assertEqual(int(first["priority"]), 2)
        body = first["body"]
        self.assertRegex(body.split("\n", 1)[0], r"^value: \d+\.\d{6}$")
        self.assertGreater(float(body.split("\n", 1)[0][7:]), 0.001)
        self.assertEqual(body.split("\n", 1)[1], "config:\n" + VM_BODY_XML)
        # XO Lite's reading: the XML from line 3 on
        x = ET.fromstring("\n".join(body.split("\n")[2:]))
        self.assertEqual(x.find("name").get("value"), "cpu_usage")
        # nothing more within the inhibit period, though the level stays
        time.sleep(max(0, INHIBIT_S - 6 - (time.time() - t1)))
        self.assertEqual(len(self.alarms("VM", self.vm_uuid)), 1)
        # the second once the period is over
        second = self.wait_for(lambda: self.alarms("VM", self.vm_uuid)[1:], 15, 0.5, "the second ALARM")[0]
        gap = harness_time(second["timestamp"]) - harness_time(first["timestamp"])
        # the period counts from tick to tick; the stamps are when the ticks ran
        self.assertTrue(INHIBIT_S - 2 <= gap <= INHIBIT_S + 6, gap)
        self.assertEqual(len(self.alarms("VM", self.vm_uuid)), 2)
        # the host's and the SR's
        h = self.alarms("Host", self.host_uuid)
        self.assertEqual(len(h), 1, h)
        self.assertTrue(h[0]["body"].startswith("value: "))
        self.assertIn('<name value="memory_free_kib"/>', h[0]["body"])
        s = self.alarms("SR", self.sr_uuid)
        self.assertEqual(len(s), 1, s)
        self.assertEqual(int(s[0]["priority"]), 4)
        self.assertEqual(s[0]["body"].split("\n", 2)[2], minidom_body(SR_PERFMON))
        self.assertEqual(VM_BODY_XML, minidom_body(VM_PERFMON))
        # events: the messages come through event.from
        ev = getattr(self.api.event, "from")(["message"], "", 0.1)
        refs = {e["ref"] for e in ev["events"] if e["class"] == "message"}
        self.assertIn(self.api.message.get_by_uuid(first["uuid"]), refs)
        # message.get_since lists them
        since = time.strftime("%Y%m%dT%H:%M:%SZ", time.gmtime(self.t_perfmon - 60))
        got = self.api.message.get_since(since)
        self.assertIn(first["uuid"], {m["uuid"] for m in got.values() if m["name"] == "ALARM"})

    def test_zz_halted_vm_keeps_its_archive(self):
        api = self.api
        api.VM.hard_shutdown(self.vm)
        halted_at = time.time()
        last = self.updates(start=-60, vm_uuid=self.vm_uuid)["meta"]["end"]
        time.sleep(6)  # a tick with the VM halted
        # served while halted: the dump, the data sources, the xport
        r = self.get("/vm_rrd", uuid=self.vm_uuid)
        self.assertEqual(r.status, 200, r.body)
        names = {d["name_label"] for d in api.VM.get_data_sources(self.vm) if d["enabled"]}
        self.assertIn("cpu0", names)
        self.assertGreater(api.VM.query_data_source(self.vm, "memory"), 0)
        self.assertEqual(self.updates(start=-120, vm_uuid=self.vm_uuid)["meta"]["end"], last)
        # forget one source of the archive
        api.VM.forget_data_source_archives(self.vm, "cpu1")
        self.assertNotIn("cpu1", {d["name_label"] for d in api.VM.get_data_sources(self.vm) if d["enabled"]})
        # through a restart of the daemon
        self.srv.restart(same_port=True)
        self.srv._session = None
        self.api = self.srv.api
        r = self.get("/vm_rrd", uuid=self.vm_uuid)
        self.assertEqual(r.status, 200, r.body)
        j = self.updates(start=-300, vm_uuid=self.vm_uuid)
        self.assertEqual(j["meta"]["end"], last)
        self.assertTrue(last <= halted_at + 5)
        # started again: the same RRD goes on
        vm = self.api.VM.get_by_uuid(self.vm_uuid)
        self.api.VM.start(vm, False, False)
        self.wait_for(lambda: self.updates(start=-300, vm_uuid=self.vm_uuid)["meta"]["end"] > last + 5,
                      20, 0.5, "new rows after the start")
        j = self.updates(start=-300, vm_uuid=self.vm_uuid)
        cpu0 = j["meta"]["legend"].index("AVERAGE:vm:%s:cpu0" % self.vm_uuid)
        before = [r for r in j["data"] if r["t"] <= last and r["values"][cpu0] != "NaN"]
        self.assertTrue(before, "the rows from before the halt are gone")


def harness_time(v):
    """Seconds since the epoch of an XML-RPC dateTime (or its text)."""
    s = v.value if hasattr(v, "value") else str(v)
    s = s.rstrip("Z").replace("-", "")
    return int(time.mktime(time.strptime(s, "%Y%m%dT%H:%M:%S")) - time.timezone)


if __name__ == "__main__":
    unittest.main()
