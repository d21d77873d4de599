"""Metrics of a real guest (xenond --backend qemu, the tiny test guest):
its vCPU's CPU time from the QEMU's vCPU thread, its disk's writes from
QMP query-blockstats and its memory from the balloon, as /rrd_updates
serves them. A guest that burns CPU for 20 s shows cpu0 near 1 over
those rows (what the host gave its vCPU thread, measured beside: less on
a host without a core to spare) and near 0 before; one that writes 32 MiB to its disk shows
them in vbd_xvda_write and in the host's write_<sr8> of its SR; the guest's
free memory comes from its balloon driver's statistics. Skipped only when qemu-system-x86_64 is missing."""

import json
import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest  # noqa: E402
from guest import QEMU, MiB  # noqa: E402

BURN_S = 20
WRITE_MIB = 32
TCK = os.sysconf("SC_CLK_TCK")


def vcpu0_seconds(pid):
    """CPU seconds of the QEMU's vCPU 0 thread (named "CPU 0/TCG" or
    "CPU 0/KVM"), from its /proc stat: utime + stime."""
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            if not f.read().startswith("CPU 0/"):
                continue
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TCK
    raise AssertionError("no vCPU 0 thread in QEMU %d" % pid)


@unittest.skipUnless(QEMU, "qemu-system-x86_64 not installed")
class QemuMetricsTest(guest.GuestTestCase):

    def rrd_updates(self, start, any_status=False):
        c = self.srv.connection()
        try:
            q = {"session_id": self.srv.session, "start": start, "cf": "AVERAGE", "interval": 5,
                 "json": "true", "vm_uuid": self.uuid}
            c.request("GET", "/rrd_updates?" + urllib.parse.urlencode(q))
            r = c.getresponse()
            body = r.read()
            if any_status and r.status != 200:
                return None  # no archive yet: before the VM's first tick
            self.assertEqual(r.status, 200, body)
            return json.loads(body)
        finally:
            c.close()

    def column(self, j, name):
        """{t: value} of the VM's data source name (NaN rows left out)."""
        legend = j["meta"]["legend"]
        col = legend.index("AVERAGE:vm:%s:%s" % (self.uuid, name))
        out = {}
        for row in j["data"]:
            v = float(row["values"][col])
            if v == v:
                out[row["t"]] = v
        return out

    def wait_row(self, t):
        """Waits until the archive has a row at or after t (a tick is every
        5 s, on multiples of 5)."""
        def there():
            j = self.rrd_updates(int(t) - 60, any_status=True)
            return j and j["meta"]["end"] >= t
        self.wait_for(there, 25, msg="a row at %d" % t)

    def test_cpu_disk_memory_of_a_real_guest(self):
        vm = self.new_vm("metrics-guest")
        vdi = self.new_vdi(size=64 * MiB)
        self.vbd(vm, vdi, 0)
        pid = self.start_ready(vm)
        self.uuid = self.api.VM.get_uuid(vm)

        # idle first: a few rows of a guest at its shell prompt
        idle_from = time.time()
        self.wait_row(idle_from + 15)

        # $((…)) so the console's echo of the typed line does not match
        t0 = time.time()
        self.console(vm, "sh -c 'while :; do :; done' & sleep %d; kill $!; echo BURN-$((1+1))" % BURN_S)
        # what the host gave the vCPU thread over two whole rows of the
        # burn, measured here: on a host with a core to spare it is near 1
        a = (int(t0 + 1) // 5 + 1) * 5
        time.sleep(max(0, a - time.time()))
        c0, w0 = vcpu0_seconds(pid), time.time()
        time.sleep(max(0, a + 10 - time.time()))
        share = (vcpu0_seconds(pid) - c0) / (time.time() - w0)
        self.wait_serial(vm, "BURN-2", BURN_S + 30)
        t1 = time.time()
        self.wait_row(t1 + 5)
        cpu = self.column(self.rrd_updates(int(idle_from) - 5), "cpu0")
        # rows whose 5 s lie wholly before the burn, and the two measured
        before = [v for t, v in cpu.items() if idle_from + 5 <= t - 5 and t <= t0]
        during = [cpu.get(a + 5), cpu.get(a + 10)]
        self.assertGreaterEqual(len(before), 2, cpu)
        self.assertNotIn(None, during, (a, cpu))
        self.assertLess(max(before), 0.2, (before, cpu))
        mean = sum(during) / len(during)
        self.assertAlmostEqual(mean, share, delta=0.1, msg=(share, during, cpu))
        if share > 0.35:  # a host so loaded that the vCPU got less shows that, as checked above
            self.assertGreater(mean, 0.3, (share, during, cpu))
        self.assertGreater(mean, 5 * max(before), (share, during, cpu))
        if share > 0.9:
            self.assertGreater(min(during), 0.8, (share, during, cpu))
        for v in cpu.values():
            self.assertLessEqual(v, 1.05)

        # a disk write: its bytes per second over the rows add up to it
        t2 = time.time()
        self.console(vm, "dd if=/dev/zero of=/dev/vda bs=1M count=%d conv=fsync; echo DD-$((2+2))"
                     % WRITE_MIB)
        self.wait_serial(vm, "DD-4", 60)
        t3 = time.time()
        self.wait_row(t3 + 5)
        j = self.rrd_updates(int(t2) - 10)
        wr = self.column(j, "vbd_xvda_write")
        written = sum(v * 5 for t, v in wr.items() if t > t2 - 5)
        self.assertGreater(written, WRITE_MIB * MiB * 0.95, wr)
        self.assertLess(written, WRITE_MIB * MiB * 1.3, wr)
        # nothing written before the dd
        self.assertLess(max([v for t, v in wr.items() if t <= t2 - 5] or [0]), MiB, wr)
        lat = self.column(j, "vbd_xvda_write_latency") if any(
            l.endswith(":vbd_xvda_write_latency") for l in j["meta"]["legend"]) else {}
        self.assertTrue(all(v >= 0 for v in lat.values()), lat)
        mem = self.column(j, "memory")
        self.assertTrue(mem, j["meta"]["legend"])
        self.assertAlmostEqual(max(mem.values()), 256 * MiB, delta=MiB)
        # what the guest has free, from its balloon driver's statistics (KiB)
        free = self.column(j, "memory_internal_free")
        self.assertTrue(free, j["meta"]["legend"])
        self.assertTrue(all(16 * 1024 < v < 256 * 1024 for v in free.values()), free)
        iops = self.column(j, "vbd_xvda_iops_write")
        self.assertGreater(max(iops.values()), 0, iops)
        # the host's figures of the SR the disk is on: the same bytes
        host = self.api.host.get_all()[0]
        host_uuid = self.api.host.get_uuid(host)
        sr8 = self.api.SR.get_uuid(self.api.VDI.get_SR(vdi))[:8]
        c = self.srv.connection()
        try:
            q = {"session_id": self.srv.session, "start": int(t2) - 10, "interval": 5, "json": "true",
                 "host": "true", "vm_uuid": "none"}
            c.request("GET", "/rrd_updates?" + urllib.parse.urlencode(q))
            hj = json.loads(c.getresponse().read())
        finally:
            c.close()
        col = hj["meta"]["legend"].index("AVERAGE:host:%s:write_%s" % (host_uuid, sr8))
        host_wr = {r["t"]: float(r["values"][col]) for r in hj["data"] if r["values"][col] != "NaN"}
        host_written = sum(v * 5 for t, v in host_wr.items() if t > t2 - 5)
        self.assertAlmostEqual(host_written, written, delta=0.01 * written)
        self.api.VM.hard_shutdown(vm)


if __name__ == "__main__":
    unittest.main()
