"""Fault injection (base/fault.h): each multi-step operation is run once to
count the hits of every fault point it passes, then again with a failure
at each hit in turn (debug.fault_arm, xenond --debug-faults). After every
failed run: the operation's own XenAPI error came back, nothing is half
made (no new record of the classes it touches, no new file in an SR
directory, no tap, no QEMU process) and the daemon still serves.

Where a point is hit more than SWEEP_ALL times in one run (allocation),
representative hits are failed: the first two, the middle and the last
two, which keeps the suite near a minute under ASan."""

import os
import subprocess
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import XapiError  # noqa: E402
import guest  # noqa: E402
from test_export import MiB, TransferCase  # noqa: E402

CLASSES = ["VM", "VDI", "VBD", "VIF", "SR", "PBD", "VM_metrics", "network"]
SWEEP_ALL = 8


def pick(n):
    if n <= SWEEP_ALL:
        return list(range(1, n + 1))
    return sorted({1, 2, n // 2, n - 1, n})


def taps():
    out = subprocess.run(["ip", "-o", "link", "show"], stdout=subprocess.PIPE, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()
            if line.split(":")[1].strip().startswith("vif")}


def qemu_children(pid):
    kids = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"qemu-system" in cmd:
            kids.add(int(d))
    return kids


class FaultCase(TransferCase):
    server_kwargs = {"extra_args": ["--debug-faults"]}
    report = []

    @classmethod
    def start_qemu_server(cls):
        """A QEMU-backed daemon with fault points, the tiny guest's kernel
        installed, and the pool's default SR in cls.sr (guest.GuestMixin)."""
        cls.srv = harness.Server(backend="qemu", extra_args=["--debug-faults"])
        guest.install(cls)
        cls.srv.start()
        cls.api = cls.srv.api
        pool = cls.api.pool.get_all()[0]
        cls.sr = cls.api.pool.get_default_SR(pool)

    def status(self):
        return self.api.debug.fault_status()

    def world(self):
        recs = {c: set(getattr(self.api, c).get_all()) for c in CLASSES}
        files = {}
        for top in [os.path.join(self.srv.data_dir, "sr")] + getattr(self, "extra_dirs", []):
            for root, _dirs, names in os.walk(top):
                files[root] = set(names)
        return recs, files, taps(), qemu_children(self.srv.pid)

    def assertSameWorld(self, before, what):
        after = self.world()
        for c in CLASSES:
            self.assertEqual(after[0][c] - before[0][c], set(), "%s: %s records left" % (what, c))
        self.assertEqual(after[1], before[1], "%s: files in the SR directories differ" % what)
        self.assertEqual(after[2], before[2], "%s: taps differ" % what)
        self.assertEqual(after[3], before[3], "%s: QEMU processes differ" % what)

    def sweep(self, name, op, undo, points, expect=None, check=None):
        """op() runs the operation (returns what undo takes, raises
        XapiError); each point of `points` is failed at each of its hits.
        check(what), when given, asserts more after each failure."""
        s0 = self.status()
        undo(op())
        s1 = self.status()
        hits = {p: s1[p] - s0[p] for p in points}
        for p in points:
            for k in pick(hits[p]):
                what = "%s, %s hit %d/%d" % (name, p, k, hits[p])
                before = self.world()
                fired = self.status()[p + ".fired"]
                self.api.debug.fault_arm(p, k)
                try:
                    r = op()
                except XapiError as e:
                    self.api.debug.fault_arm(p, 0)
                    self.assertEqual(self.status()[p + ".fired"], fired + 1,
                                     "%s: failed (%s) but the fault did not fire" % (what, e.code))
                    if expect:
                        self.assertIn(e.code, expect, "%s: %s %r" % (what, e.code, e.params))
                    self.assertSameWorld(before, what)
                    if check:
                        check(what)
                else:
                    # the point was hit fewer times this run, or a failure
                    # there is one the operation may survive (best effort)
                    self.api.debug.fault_arm(p, 0)
                    survived = self.status()[p + ".fired"] > fired
                    undo(r)
                    if survived:
                        self.report.append("%s: survived" % what)
                self.assertTrue(self.srv.alive(), "%s: xenond died" % what)
                self.api.pool.get_all()  # still serving
        self.report.append("%s: %s" % (name, ", ".join("%s %d" % (p, hits[p]) for p in points)))
        return hits

    # ---- helpers ----

    def export_xva(self, vm):
        st, h, body = self.request("GET", "/export/", ref=vm)
        self.assertEqual(st, 200, body[:300])
        self.assertEqual(self.wait_task(h["task-id"])["status"], "success")
        return body

    def vdi_rec(self, size=4 * MiB, name="fault"):
        return {"name_label": name, "SR": self.sr, "virtual_size": size, "type": "user",
                "sharable": False, "read_only": False, "other_config": {}}

    def destroy_vdi(self, vdi):
        self.api.VDI.destroy(vdi)

    def destroy_vm_disks(self, vm):
        vdis = [self.api.VBD.get_VDI(b) for b in self.api.VM.get_VBDs(vm)]
        if self.api.VM.get_power_state(vm) != "Halted":
            self.api.VM.hard_shutdown(vm)
        self.api.VM.destroy(vm)
        for v in vdis:
            if v != harness.NULL_REF and v in self.api.VDI.get_all():
                self.api.VDI.destroy(v)


class Faults(FaultCase):

    @classmethod
    def tearDownClass(cls):
        sys.stderr.write("\nfault points hit per operation (one successful run):\n  %s\n"
                         % "\n  ".join(cls.report))
        super().tearDownClass()

    def test_00_disabled_without_flag(self):
        """A daemon started without --debug-faults has no debug.* messages."""
        plain = harness.Server().start()
        try:
            with self.assertRaises(XapiError) as cm:
                plain.api.debug.fault_status()
            self.assertEqual(cm.exception.code, "MESSAGE_METHOD_UNKNOWN")
        finally:
            plain.stop()

    def test_vdi_create(self):
        hits = self.sweep("VDI.create", lambda: self.api.VDI.create(self.vdi_rec()),
                          self.destroy_vdi, ["qemu_img", "alloc", "sql_commit"])
        self.assertGreater(hits["qemu_img"], 0)

    def test_sr_create(self):
        host = self.api.host.get_all()[0]
        d = os.path.join(self.srv.data_dir, "faults-sr")
        os.makedirs(d, exist_ok=True)
        self.extra_dirs = [d]

        def create():
            return self.api.SR.create(host, {"path": d}, "0", "fault sr", "", "ext", "", False, {})

        def forget(sr):
            for pbd in self.api.SR.get_PBDs(sr):
                self.api.PBD.unplug(pbd)
            self.api.SR.destroy(sr)

        self.sweep("SR.create", create, forget, ["qemu_img", "alloc", "sql_commit"])

    def vm_with_disk(self):
        vm, vdis, _ = self.vm_with_disks([(4 * MiB, MiB)], name="fault-src")
        self.addCleanup(self.destroy_vm_disks, vm)
        return vm

    def test_vm_clone(self):
        vm = self.vm_with_disk()
        hits = self.sweep("VM.clone", lambda: self.api.VM.clone(vm, "fault-clone"),
                          self.destroy_vm_disks, ["qemu_img", "alloc", "sql_commit"])
        self.assertGreater(hits["qemu_img"], 0)

    def test_vm_snapshot(self):
        vm = self.vm_with_disk()
        self.sweep("VM.snapshot", lambda: self.api.VM.snapshot(vm, "fault-snap"),
                   self.destroy_vm_disks, ["qemu_img", "alloc", "sql_commit"])

    def test_vm_start_sim(self):
        vm = self.vm_with_disk()

        def start():
            self.api.VM.start(vm, False, False)
            return vm

        self.sweep("VM.start (sim)", start, lambda v: self.api.VM.hard_shutdown(v),
                   ["qemu_img", "alloc", "sql_commit"])
        self.assertEqual(self.api.VM.get_power_state(vm), "Halted")

    def test_xva_import(self):
        vm = self.vm_with_disk()
        body = self.export_xva(vm)

        def imp():
            task = self.api.task.create("Xapi#putResource /import", "")
            st, h, reply = self.put("/import/", body, task_id=task)
            rec = self.wait_task(task)
            self.api.task.destroy(task)
            if rec["status"] != "success":
                self.assertNotEqual(st, 200)
                raise XapiError(rec["error_info"][0], rec["error_info"][1:])
            self.assertEqual(st, 200, reply)
            return rec["result"].split("<value>")[2].split("</value>")[0]

        hits = self.sweep("XVA import", imp, self.destroy_vm_disks,
                          ["write", "fsync", "qemu_img", "alloc", "sql_commit"])
        self.assertGreater(hits["write"], 0)

    def test_xva_export(self):
        """A streamed body failing part way: the client sees a cut-off
        reply, the VDIs are let go (no operation left on them)."""
        vm, vdis, _ = self.vm_with_disks([(8 * MiB, 4 * MiB)], name="fault-exp")
        self.addCleanup(self.destroy_vm_disks, vm)
        s0 = self.status()
        self.export_xva(vm)
        n = self.status()["http_write"] - s0["http_write"]
        self.assertGreater(n, 0)
        for k in pick(n):
            self.api.debug.fault_arm("http_write", k)
            try:
                self.request("GET", "/export/", ref=vm)
            except Exception:
                pass  # the body is cut short: the client may see that as it likes
            self.api.debug.fault_arm("http_write", 0)
            self.wait_for(lambda: all(self.api.VDI.get_current_operations(v) == {} for v in vdis)
                          and self.api.VM.get_current_operations(vm) == {},
                          msg="operations let go after a failed export")
            self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
        self.report.append("XVA export: http_write %d" % n)


@unittest.skipIf(guest.QEMU is None, "needs qemu-system-x86_64")
class QemuFaults(guest.GuestMixin, FaultCase):
    """VM.start on the QEMU backend (the tiny guest, no VIF: taps need a
    network namespace, and test_faults_vif runs there): the QMP commands
    of a start, the disk's attach, and its commits."""

    @classmethod
    def setUpClass(cls):
        cls.start_qemu_server()

    @classmethod
    def tearDownClass(cls):
        guest.halt_all(cls)
        cls.srv.stop()
        sys.stderr.write("\nfault points hit per operation (QEMU):\n  %s\n" % "\n  ".join(cls.report))

    def test_vm_start_qemu(self):
        vm = guest.GuestMixin.new_vm(self, "fault-qemu")
        self.vbd(vm, guest.GuestMixin.new_vdi(self, size=16 * MiB), 0)

        def start():
            self.api.VM.start(vm, False, False)
            return vm

        def stop(v):
            self.api.VM.hard_shutdown(v)
            self.assert_no_qemu(v, files_gone=False)

        hits = self.sweep("VM.start (qemu)", start, stop, ["qmp", "alloc", "sql_commit"])
        self.assertGreater(hits["qmp"], 0)
        self.assertEqual(self.api.VM.get_power_state(vm), "Halted")


if __name__ == "__main__":
    harness.main()
