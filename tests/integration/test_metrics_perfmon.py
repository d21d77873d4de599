"""perfmon's consolidation functions and the SR's space against a real
xenond (sim backend): the SR RRD's size and physical_utilisation (from
the SR record, physical_utilisation first in the legend, as perfmon's
get_percent_sr_usage takes them); an SR's default physical_utilisation
variable (physical_utilisation / size); the control domain's fs_usage
(df's Use% of the root file system), mem_usage ((memory + swap in use) /
memory) and log_fs_usage (NaN, so no alarm, where /var/log is not a file
system of its own); sr_io_throughput_total_per_host set on an SR and
watched by the host it is plugged on (a VM's disk on it running there) as
sr_io_throughput_total_<sr8>,
its XML naming the SR in <configured_on/>."""

import json
import os
import subprocess
import sys
import time
import unittest
import urllib.parse
from xml.dom import minidom

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MiB = 1 << 20
SR_PERFMON = ('<config><variable><name value="physical_utilisation"/><alarm_trigger_level value="0"/>'
              '<alarm_trigger_period value="5"/></variable>'
              '<variable><name value="sr_io_throughput_total_per_host"/><alarm_trigger_level value="-1"/>'
              '<alarm_trigger_period value="5"/><alarm_priority value="5"/></variable></config>')
DOM0_PERFMON = ('<config><variable><name value="fs_usage"/><alarm_trigger_level value="0"/>'
                '<alarm_trigger_period value="5"/></variable>'
                '<variable><name value="mem_usage"/><alarm_trigger_level value="0"/>'
                '<alarm_trigger_period value="5"/></variable>'
                '<variable><name value="log_fs_usage"/><alarm_trigger_level value="0"/>'
                '<alarm_trigger_period value="5"/></variable></config>')


def per_host_body(config, sr_uuid):
    """What perfmon prints for the SR's sr_io_throughput_total_per_host
    on a host: renamed, <configured_on class="SR" uuid=…/> appended."""
    doc = minidom.parseString(config)
    for vn in doc.getElementsByTagName("variable"):
        name = vn.getElementsByTagName("name")[0]
        if name.getAttribute("value") != "sr_io_throughput_total_per_host":
            continue
        name.setAttribute("value", "sr_io_throughput_total_%s" % sr_uuid[:8])
        c = doc.createElement("configured_on")
        c.setAttribute("class", "SR")
        c.setAttribute("uuid", sr_uuid)
        vn.appendChild(c)
        return vn.toprettyxml()
    raise AssertionError("no such variable")


def df_use(path):
    """df's Use% of the file system holding path, as a fraction."""
    out = subprocess.run(["df", path], capture_output=True, text=True, check=True).stdout
    return float(" ".join(out.splitlines()[1:]).split()[4][:-1]) / 100.0


def mem_use():
    m = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            m[k.strip()] = float(v.split()[0])
    return (m["MemTotal"] - m["MemFree"] - m["Buffers"] - m["Cached"] + m["SwapTotal"] - m["SwapFree"]) \
        / m["MemTotal"]


class MetricsPerfmonTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        api = cls.api
        cls.host = api.host.get_all()[0]
        cls.host_uuid = api.host.get_uuid(cls.host)
        cls.sr = api.pool.get_default_SR(api.pool.get_all()[0])
        cls.sr_uuid = api.SR.get_uuid(cls.sr)
        # something on the SR, so its utilisation is not nothing, used by a
        # running VM, so the host reports the SR's I/O
        vdi = api.VDI.create({
            "name_label": "d", "name_description": "", "SR": cls.sr, "virtual_size": str(64 * MiB),
            "type": "user", "sharable": False, "read_only": False, "other_config": {},
            "xenstore_data": {}, "sm_config": {}, "tags": []})
        api.SR.scan(cls.sr)
        vm = api.VM.clone([r for r, v in api.VM.get_all_records().items()
                           if v["is_a_template"] and v["name_label"] == "Other install media"][0], "io-vm")
        api.VM.provision(vm)
        api.VBD.create({
            "VM": vm, "VDI": vdi, "userdevice": "1", "bootable": False, "mode": "RW", "type": "Disk",
            "unpluggable": True, "empty": False, "other_config": {}, "qos_algorithm_type": "",
            "qos_algorithm_params": {}})
        api.VM.start(vm, False, False)
        cls.dom0 = [r for r, v in api.VM.get_all_records().items()
                    if v["is_control_domain"] and v["resident_on"] == cls.host][0]
        cls.dom0_uuid = api.VM.get_uuid(cls.dom0)
        api.SR.add_to_other_config(cls.sr, "perfmon", SR_PERFMON)
        api.VM.add_to_other_config(cls.dom0, "perfmon", DOM0_PERFMON)
        time.sleep(12)  # two ticks at least

    def alarms(self, cls_name, uuid, name=None):
        recs = self.api.message.get_all_records().values()
        return sorted((m for m in recs if m["name"] == "ALARM" and m["cls"] == cls_name and m["obj_uuid"] == uuid
                       and (name is None or '<name value="%s"/>' % name in m["body"])),
                      key=lambda m: m["timestamp"])

    def value(self, alarm):
        first = alarm["body"].split("\n", 1)[0]
        self.assertRegex(first, r"^value: -?\d+\.\d{6}$")
        return float(first[7:])

    def test_sr_space_data_sources(self):
        api = self.api
        ds = {d["name_label"]: d for d in api.SR.get_data_sources(self.sr)}
        for n in ("size", "physical_utilisation"):
            self.assertIn(n, ds)
            self.assertTrue(ds[n]["enabled"])
            self.assertEqual(ds[n]["units"], "B")
        size = float(api.SR.get_physical_size(self.sr))
        util = float(api.SR.get_physical_utilisation(self.sr))
        self.assertGreater(size, 0)
        self.assertGreater(util, 0)
        self.assertEqual(api.SR.query_data_source(self.sr, "size"), size)
        self.assertEqual(api.SR.query_data_source(self.sr, "physical_utilisation"), util)
        c = self.srv.connection()
        try:
            c.request("GET", "/rrd_updates?" + urllib.parse.urlencode({
                "start": -30, "sr_uuid": self.sr_uuid, "json": "true", "session_id": self.srv.session}))
            r = c.getresponse()
            body = r.read()
        finally:
            c.close()
        self.assertEqual(r.status, 200, body)
        j = json.loads(body)
        legend = j["meta"]["legend"]
        pu = legend.index("AVERAGE:sr:%s:physical_utilisation" % self.sr_uuid)
        sz = legend.index("AVERAGE:sr:%s:size" % self.sr_uuid)
        self.assertLess(pu, sz)
        row = j["data"][0]["values"]
        self.assertEqual(float(row[sz]), size)
        self.assertEqual(float(row[pu]), util)

    def test_sr_physical_utilisation_alarm(self):
        a = self.wait_for(lambda: self.alarms("SR", self.sr_uuid, "physical_utilisation"), 25, 0.5,
                          "the SR's physical_utilisation ALARM")[0]
        ratio = float(self.api.SR.get_physical_utilisation(self.sr)) / float(self.api.SR.get_physical_size(self.sr))
        self.assertAlmostEqual(self.value(a), ratio, places=6)
        self.assertEqual(int(a["priority"]), 3)
        # the per-host variable is the hosts' business: no SR alarm of it
        self.assertFalse(self.alarms("SR", self.sr_uuid, "sr_io_throughput_total_per_host"))

    def test_control_domain_fs_and_mem_usage(self):
        fs = self.wait_for(lambda: self.alarms("VM", self.dom0_uuid, "fs_usage"), 25, 0.5, "fs_usage ALARM")[0]
        self.assertAlmostEqual(self.value(fs), df_use("/etc/passwd"), delta=0.011)
        mem = self.wait_for(lambda: self.alarms("VM", self.dom0_uuid, "mem_usage"), 25, 0.5, "mem_usage ALARM")[0]
        self.assertGreater(self.value(mem), 0)
        self.assertAlmostEqual(self.value(mem), mem_use(), delta=0.1)
        # /var/log on the root's file system: NaN, never beyond a level
        same = os.stat("/etc/passwd").st_dev == os.stat("/var/log").st_dev
        logs = self.alarms("VM", self.dom0_uuid, "log_fs_usage")
        if same:
            self.assertFalse(logs)
        else:
            self.assertTrue(logs)
            self.assertAlmostEqual(self.value(logs[0]), df_use("/var/log"), delta=0.011)

    def test_sr_io_throughput_total_per_host(self):
        sr8 = self.sr_uuid[:8]
        a = self.wait_for(lambda: self.alarms("Host", self.host_uuid, "sr_io_throughput_total_%s" % sr8), 25, 0.5,
                          "the host's sr_io_throughput_total_<sr8> ALARM")[0]
        self.assertEqual(int(a["priority"]), 5)
        self.assertGreaterEqual(self.value(a), 0.0)  # the host's io_throughput_total_<sr8>, above -1
        self.assertEqual(a["body"].split("\n", 2)[2], per_host_body(SR_PERFMON, self.sr_uuid))
        # a variable of that name on the host itself takes priority
        self.api.host.add_to_other_config(self.host, "perfmon", (
            '<config><variable><name value="sr_io_throughput_total_%s"/><alarm_trigger_level value="1e9"/>'
            '<alarm_trigger_period value="5"/></variable></config>' % sr8))
        self.api.SR.remove_from_other_config(self.sr, "perfmon")
        self.api.SR.add_to_other_config(self.sr, "perfmon", SR_PERFMON.replace('"-1"', '"-2"'))
        n = len(self.alarms("Host", self.host_uuid))
        time.sleep(16)
        self.assertEqual(len(self.alarms("Host", self.host_uuid)), n)


if __name__ == "__main__":
    unittest.main()
