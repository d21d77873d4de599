"""The xen backend on a real Xen: the nested test machine of
scripts/xen-testvm.sh (Debian's Xen 4.17 with a PV dom0 under
qemu-system-x86_64/TCG) runs xenond --backend xen; this suite drives it
from outside over the XenAPI through the forwarded port, and looks inside
the dom0 through its shell on the machine's second serial port.

Booting nested Xen under TCG takes minutes on this kind of machine, so the
suite is opt-in: XENON_TEST_XEN=1 (see README). Without it, or without what
the machine needs (qemu-system-x86_64, dpkg-deb, depmod, cpio, the Debian
packages), it says why and skips (exit 77)."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import http.client  # noqa: E402
import urllib.parse  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "xen-testvm.sh")
BUILD = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(harness.XENOND))))
DIR = os.path.join(BUILD, "xen-testvm")
GUEST = os.path.join(BUILD, "guest")
PASSWORD = "xenon-test"
MiB = 1 << 20
NULL_REF = "OpaqueRef:NULL"
BOOT_TIMEOUT = int(os.environ.get("XENON_TEST_XEN_TIMEOUT", "900"))
# the tiny guest's first line once its init runs (its "ready" waits for
# ACPI input devices a PV guest does not have)
READY = "XENON-GUEST: boot ok"
# its shell on the console: busybox init runs it once /init is done
SHELL_UP = "XENON-GUEST: ready"


def why_not():
    if not os.environ.get("XENON_TEST_XEN"):
        return "opt-in: set XENON_TEST_XEN=1 (boots nested Xen under TCG, minutes; see README)"
    for tool in ("qemu-system-x86_64", "dpkg-deb", "depmod", "cpio", "apt-get", "ldd"):
        if not shutil.which(tool):
            return "needs %s" % tool
    if os.geteuid() != 0:
        return "needs root (dpkg-deb -x keeps owners, depmod)"
    if not os.path.exists(os.path.join(GUEST, "vmlinuz")):
        return "needs the tiny guest (scripts/build-test-guest.sh %s)" % GUEST
    return None


class Dom0:
    """The dom0's shell on the nested machine's second serial port."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.sock.settimeout(0.5)
        self.n = 0
        self.run("PS1=''")

    def run(self, cmd, timeout=60):
        """(status, output) of cmd in the dom0's shell."""
        self.n += 1
        end = "__XENON_END_%d__" % self.n
        # no echo of what is typed; the marker written in two halves all
        # the same, so an echo could never hold it whole
        self.sock.sendall(("stty -echo; %s; echo __XENON_''END_%d__ $?\n" % (cmd, self.n)).encode())
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                buf += self.sock.recv(65536)
            except socket.timeout:
                pass
            text = buf.decode(errors="replace").replace("\r", "")
            i = text.find(end + " ")
            if i >= 0 and "\n" in text[i:]:
                status = int(text[i:].split("\n", 1)[0].split()[1])
                return status, text[:i]
        raise AssertionError("dom0 did not answer %r in %ds: %r" % (cmd, timeout, buf[-400:]))


class XenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # a dom0 of 1 GiB: a suspend image and its conversion live in its
        # memory (the SR's tmpfs)
        env = dict(os.environ, XEN_TESTVM_DIR=DIR, XEN_TESTVM_TIMEOUT=str(BOOT_TIMEOUT),
                   XEN_TESTVM_GUEST=GUEST)
        env.setdefault("XEN_TESTVM_DOM0_MEM", "1024M")
        cls.env = env
        t0 = time.monotonic()
        subprocess.run([SCRIPT, "build", os.path.abspath(harness.XENOND)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        cls.port = harness.free_port()
        out = subprocess.run([SCRIPT, "boot", str(cls.port)], env=env, capture_output=True, text=True)
        sys.stderr.write(out.stdout)
        if out.returncode != 0:
            subprocess.run([SCRIPT, "stop"], env=env)
            raise RuntimeError("the nested Xen machine did not come up:\n" + out.stdout + out.stderr)
        sys.stderr.write("nested Xen with xenond answering after %.0fs (build and boot)\n" %
                         (time.monotonic() - t0))
        cls.dom0 = Dom0(os.path.join(DIR, "shell.sock"))
        cls.connect()

    @classmethod
    def connect(cls, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            try:
                s = harness.XenAPISession("http://127.0.0.1:%d" % cls.port)
                s.xenapi.login_with_password("root", PASSWORD, "1.0", "test_xen")
                cls.session = s
                cls.api = s.xenapi
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)

    @classmethod
    def tearDownClass(cls):
        subprocess.run([SCRIPT, "stop"], env=cls.env)

    def sh(self, cmd, timeout=60):
        rc, out = self.dom0.run(cmd, timeout)
        self.assertEqual(rc, 0, "%s: %s" % (cmd, out))
        return out

    def xl_state(self, name):
        """The state column of `xl list` for the domain called name."""
        for line in self.sh("xl list").splitlines():
            parts = line.split()
            if parts and parts[0] == name:
                return parts[4]
        return None

    def new_vm(self, name, **extra):
        rec = {
            "name_label": name, "name_description": "", "user_version": 1, "is_a_template": False,
            "affinity": NULL_REF, "memory_static_max": 128 * MiB, "memory_dynamic_max": 128 * MiB,
            "memory_dynamic_min": 128 * MiB, "memory_static_min": 64 * MiB, "VCPUs_params": {},
            "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
            "actions_after_reboot": "restart", "actions_after_crash": "destroy",
            "PV_bootloader": "", "PV_kernel": "vmlinuz", "PV_ramdisk": "initrd.img",
            "PV_args": "console=hvc0 quiet panic=-1", "PV_bootloader_args": "", "PV_legacy_args": "",
            "HVM_boot_policy": "", "HVM_boot_params": {}, "platform": {}, "PCI_bus": "",
            "other_config": {}, "recommendations": "", "domain_type": "pv"}
        keep = extra.pop("keep", False)
        rec.update(extra)
        vm = self.api.VM.create(rec)
        if not keep:
            self.addCleanup(self.halt, vm)
        return vm

    def halt(self, vm):
        """Frees the machine's memory for the next case, whatever this one
        left."""
        try:
            if self.api.VM.get_power_state(vm) != "Halted":
                self.api.VM.hard_shutdown(vm)
        except harness.Failure as e:
            if "HANDLE_INVALID" not in str(e):  # destroyed by the case itself
                sys.stderr.write("cleanup: %s\n" % e)

    def wait_console(self, uuid, text, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc, out = self.dom0.run("cat /var/lib/xenon/run/vm/%s/serial.log 2>/dev/null" % uuid)
            if text in out:
                return out
            time.sleep(3)
        self.fail("%r not on the console of %s" % (text, uuid))

    def console_count(self, uuid, text):
        rc, out = self.dom0.run("cat /var/lib/xenon/run/vm/%s/serial.log 2>/dev/null" % uuid)
        return out.count(text)

    def wait_console_count(self, uuid, text, n, timeout=240):
        """Waits until text is on the console (serial.log, appended across
        domains) at least n times."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.console_count(uuid, text) >= n:
                return
            time.sleep(3)
        self.fail("%r not %d times on the console of %s" % (text, n, uuid))

    def type_line(self, domid, line):
        """Types a line into the guest's console: written into the pty
        xenconsoled serves for the domain, which it hands to the guest."""
        tty = self.sh("xenstore-read /local/domain/%d/console/tty" % domid).strip()
        self.sh("printf '%%s\\n' '%s' >%s" % (line, tty))

    def guest_run(self, uuid, domid, cmd, marker, timeout=120):
        """Runs cmd in the guest's console shell; waits for marker (a word
        cmd prints, built so that the echo of the typed line never holds
        it) to appear once more on the console."""
        n = self.console_count(uuid, marker)
        self.type_line(domid, cmd)
        self.wait_console_count(uuid, marker, n + 1, timeout)

    def start_timed(self, vm, what):
        t0 = time.monotonic()
        self.api.VM.start(vm, False, False)
        sys.stderr.write("%s: VM.start %.1fs\n" % (what, time.monotonic() - t0))

    def step(self, what, fn, *args):
        t0 = time.monotonic()
        r = fn(*args)
        sys.stderr.write("%s: %.1fs\n" % (what, time.monotonic() - t0))
        return r

    def get(self, path, **q):
        q.setdefault("session_id", self.session._session)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            c.request("GET", path + "?" + urllib.parse.urlencode(q, doseq=True))
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def image_of(self, vdi):
        """The VDI's image file inside the dom0."""
        uuid = self.api.VDI.get_uuid(vdi)
        out = self.sh("find /var/lib/xenon -name '%s*' ! -name '*.lock'" % uuid).split()
        self.assertEqual(len(out), 1, out)
        return out[0]

    def image_head(self, path):
        """The first 64 bytes of the disk the image holds (its chain read
        by qemu-img), as text."""
        # -U: the image is open in the domain's device model
        return self.sh("qemu-img convert -U -f qcow2 -O raw %s /tmp/head.raw && "
                       "head -c 64 /tmp/head.raw | tr -c 'A-Za-z0-9-' ' '; rm -f /tmp/head.raw" % path)

    def run(self, result=None):
        # what the dom0 saw, when something failed
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > before:
            rc, text = self.dom0.run("xl list; grep -v audit /var/log/xenond.log | tail -n 40", timeout=60)
            sys.stderr.write("---- dom0 ----\n%s\n" % text)
        return out

    def test_1_pv_lifecycle(self):
        """A PV tiny guest: start, console, xenstore_data, pause in xl list,
        kill -9 of xenond and adoption, a VIF on a bridge, hard shutdown."""
        net = self.api.network.create({"name_label": "xen-net", "name_description": "", "MTU": 1500,
                                       "other_config": {}, "bridge": "", "managed": True, "tags": []})
        bridge = self.api.network.get_bridge(net)
        vm = self.new_vm("xen-pv", xenstore_data={"vm-data/role": "test"})
        self.api.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500,
                             "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
        uuid = self.api.VM.get_uuid(vm)
        t0 = time.monotonic()
        self.api.VM.start(vm, False, False)
        sys.stderr.write("VM.start of the PV tiny guest: %.1fs\n" % (time.monotonic() - t0))
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        domid = int(self.api.VM.get_domid(vm))
        self.assertEqual(self.xl_state("xen-pv")[:1] in ("r", "b", "-"), True)
        # xenstore: the VM's data where xapi's hosts put it
        self.assertEqual(self.sh("xenstore-read /local/domain/%d/vm-data/role" % domid).strip(), "test")
        self.assertIn(uuid, self.sh("xenstore-read /local/domain/%d/vm" % domid))
        # the console from xenconsoled, relayed into serial.log
        self.wait_console(uuid, READY)
        # netback's vif<domid>.0 on the network's bridge
        self.assertIn("vif%d.0" % domid, self.sh("ls /sys/class/net/%s/brif" % bridge))
        # pause is Xen's
        self.api.VM.pause(vm)
        self.assertIn("p", self.xl_state("xen-pv"))
        self.api.VM.unpause(vm)
        self.assertNotIn("p", self.xl_state("xen-pv"))
        # kill -9 of the daemon: the domain lives on and is adopted
        self.sh("kill -9 $(pidof xenond); sleep 1")
        self.sh("(xenond --backend xen --listen 0.0.0.0:8080 --tls-listen '' --data-dir /var/lib/xenon "
                "--root-password-file /var/lib/xenon/root-password "
                "--guest-kernel-dir /var/lib/xenon/guest-kernels >>/var/log/xenond.log 2>&1 &)")
        self.connect()
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        self.assertEqual(int(self.api.VM.get_domid(vm)), domid)
        self.assertIsNotNone(self.xl_state("xen-pv"))
        # and it still obeys
        self.api.VM.hard_shutdown(vm)
        self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
        self.assertIsNone(self.xl_state("xen-pv"))

    def test_2_clean_reboot_and_shutdown(self):
        """The PV control path: VM.clean_reboot (a new domain), the guest's
        own power-off handled through actions_after_shutdown (restart
        here), VM.clean_shutdown (Halted, the domain gone)."""
        vm = self.new_vm("xen-clean", actions_after_shutdown="restart")
        uuid = self.api.VM.get_uuid(vm)
        self.start_timed(vm, "clean: first start")
        d1 = int(self.api.VM.get_domid(vm))
        self.step("clean: guest shell up", self.wait_console_count, uuid, SHELL_UP, 1)
        self.step("clean: VM.clean_reboot", self.api.VM.clean_reboot, vm)
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        d2 = int(self.api.VM.get_domid(vm))
        self.assertNotEqual(d2, d1)
        self.assertIsNotNone(self.xl_state("xen-clean"))
        self.step("clean: guest up again", self.wait_console_count, uuid, SHELL_UP, 2)
        # the guest powers itself off: actions_after_shutdown = restart
        t0 = time.monotonic()
        self.type_line(d2, "poweroff")
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            d3 = int(self.api.VM.get_domid(vm))
            if d3 not in (d2, -1) and self.api.VM.get_power_state(vm) == "Running":
                break
            time.sleep(2)
        else:
            self.fail("the guest's power-off was not followed by a restart")
        sys.stderr.write("clean: guest power-off -> restarted %.1fs\n" % (time.monotonic() - t0))
        self.step("clean: guest up a third time", self.wait_console_count, uuid, SHELL_UP, 3)
        self.assertIn("XENON-GUEST: shutting down", self.sh("cat /var/lib/xenon/run/vm/%s/serial.log" % uuid))
        self.step("clean: VM.clean_shutdown", self.api.VM.clean_shutdown, vm)
        self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
        self.assertIsNone(self.xl_state("xen-clean"))
        self.api.VM.destroy(vm)

    def test_3_disk_and_snapshot(self):
        """A qcow2 VDI of the local SR as a qdisk (libxl's QEMU): the guest
        writes and reads /dev/xvda; VM.snapshot of the running guest keeps
        what was written before it, the guest's disk goes on with later
        writes."""
        sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        self.assertNotEqual(sr, NULL_REF)
        vdi = self.api.VDI.create({
            "name_label": "xen-disk", "name_description": "", "SR": sr, "virtual_size": str(16 * MiB),
            "type": "user", "sharable": False, "read_only": False, "other_config": {},
            "xenstore_data": {}, "sm_config": {}, "tags": []})
        vm = self.new_vm("xen-disk", keep=True)
        type(self).disk_vm = vm  # halted after test_5, whatever happens
        self.api.VBD.create({
            "VM": vm, "VDI": vdi, "userdevice": "0", "bootable": False, "mode": "RW", "type": "Disk",
            "unpluggable": True, "empty": False, "other_config": {}, "qos_algorithm_type": "",
            "qos_algorithm_params": {}})
        uuid = self.api.VM.get_uuid(vm)
        self.start_timed(vm, "disk")
        domid = int(self.api.VM.get_domid(vm))
        self.assertIn("qdisk", self.sh("xenstore-ls /local/domain/0/backend | grep -o qdisk | head -n1"))
        self.step("disk: guest shell up", self.wait_console_count, uuid, SHELL_UP, 1)
        self.step("disk: blkfront and xvda", self.guest_run, uuid, domid,
                  "modprobe xen-blkfront; while [ ! -b /dev/xvda ]; do sleep 1; done; echo XVDA-$((40+2))",
                  "XVDA-42")
        self.step("disk: write and read back", self.guest_run, uuid, domid,
                  "echo XENON-BEFORE-SNAP | dd of=/dev/xvda conv=fsync 2>/dev/null; "
                  "dd if=/dev/xvda bs=512 count=1 2>/dev/null | head -n1 | sed s/XENON/READ/", "READ-BEFORE-SNAP")
        path = self.image_of(vdi)
        self.assertIn("XENON-BEFORE-SNAP", self.image_head(path))
        snap = self.step("disk: VM.snapshot of the running guest", self.api.VM.snapshot, vm, "xen-disk-snap")
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        self.assertNotIn("p", self.xl_state("xen-disk"))
        snap_vdis = [self.api.VBD.get_VDI(b) for b in self.api.VM.get_VBDs(snap)
                     if self.api.VBD.get_type(b) == "Disk"]
        self.assertEqual(len(snap_vdis), 1)
        self.guest_run(uuid, domid,
                       "echo XENON-AFTER-SNAP | dd of=/dev/xvda conv=fsync 2>/dev/null; "
                       "dd if=/dev/xvda bs=512 count=1 2>/dev/null | head -n1 | sed s/XENON/READ/", "READ-AFTER-SNAP")
        self.assertIn("XENON-AFTER-SNAP", self.image_head(self.image_of(vdi)))
        self.assertIn("XENON-BEFORE-SNAP", self.image_head(self.image_of(snap_vdis[0])))
        type(self).disk_ok = True

    def test_4_rrd_updates(self):
        """The metrics from Xen: /rrd_updates has the running domain's cpu0
        (from the hypervisor's vCPU time) and memory (what the domain
        holds)."""
        vm = getattr(type(self), "disk_vm", None)
        if not getattr(type(self), "disk_ok", False):
            self.skipTest("needs the running guest of test_3")
        uuid = self.api.VM.get_uuid(vm)
        time.sleep(16)  # three 5-s ticks: rates need two
        status, body = self.get("/rrd_updates", start=-60, json="true", cf="AVERAGE", interval=5)
        self.assertEqual(status, 200, body)
        j = json.loads(body)
        legends = j["meta"]["legend"]
        rows = j["data"]
        self.assertGreaterEqual(len(rows), 2)

        def newest(name):
            col = legends.index("AVERAGE:vm:%s:%s" % (uuid, name))
            for row in rows:
                v = float(row["values"][col])
                if v == v:
                    return v
            self.fail("no value of %s: %r" % (name, rows[:3]))
        cpu = newest("cpu0")
        self.assertTrue(0 <= cpu <= 1, cpu)
        mem = newest("memory")
        # what Xen gives the 128-MiB domain, to within a few MiB
        self.assertTrue(120 * MiB <= mem <= 136 * MiB, mem)
        sys.stderr.write("rrd: cpu0 %.3f, memory %.1f MiB\n" % (cpu, mem / MiB))

    def test_5_suspend_resume(self):
        """VM.suspend through libxl's save stream into the suspend VDI,
        VM.resume from it: the same guest, its console still answering."""
        vm = getattr(type(self), "disk_vm", None)
        if not getattr(type(self), "disk_ok", False):
            self.skipTest("needs the running guest of test_3")
        uuid = self.api.VM.get_uuid(vm)
        self.step("suspend: VM.suspend", self.api.VM.suspend, vm)
        self.assertEqual(self.api.VM.get_power_state(vm), "Suspended")
        self.assertIsNone(self.xl_state("xen-disk"))
        self.step("suspend: VM.resume", self.api.VM.resume, vm, False, False)
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        domid = int(self.api.VM.get_domid(vm))
        self.assertIsNotNone(self.xl_state("xen-disk"))
        # the same guest: no new boot, its shell and disk answer
        self.assertEqual(self.console_count(uuid, READY), 1)
        self.step("suspend: console answers", self.guest_run, uuid, domid,
                  "dd if=/dev/xvda bs=512 count=1 2>/dev/null | head -n1 | sed s/XENON/RESUMED/",
                  "RESUMED-AFTER-SNAP")
        self.step("suspend: VM.hard_shutdown", self.api.VM.hard_shutdown, vm)

    def tearDown(self):
        # the guest kept for test_4 and test_5 goes once they have run
        vm = getattr(type(self), "disk_vm", None)
        if vm is not None and self._testMethodName >= "test_5":
            self.halt(vm)

    def test_6_hvm(self):
        """An HVM guest where the nested machine's CPU lets Xen run one
        (SVM under TCG): started from its firmware, seen running in xl
        list, shut down. Skipped with Xen's own answer when Xen has no HVM."""
        caps = self.sh("xl info | grep -E '^(virt_caps|xen_caps)'")
        sys.stderr.write("hvm: %s\n" % " / ".join(caps.split("\n")))
        if not re.search(r"virt_caps\s*:.*\bhvm\b", caps):
            self.skipTest("Xen has no HVM on this nested CPU: %s" % caps.strip().replace("\n", "; "))
        vm = self.new_vm("xen-hvm", domain_type="hvm", HVM_boot_policy="BIOS order",
                         HVM_boot_params={"order": "cd"}, PV_kernel="", PV_ramdisk="", PV_args="",
                         platform={"acpi": "1", "apic": "true", "pae": "true", "nx": "true"})
        t0 = time.monotonic()
        try:
            self.api.VM.start(vm, False, False)
        except Exception as e:
            sys.stderr.write("hvm: VM.start failed after %.1fs: %s\n" % (time.monotonic() - t0, e))
            raise
        sys.stderr.write("hvm: VM.start %.1fs\n" % (time.monotonic() - t0))
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        domid = int(self.api.VM.get_domid(vm))
        time.sleep(10)
        state = self.xl_state("xen-hvm")
        self.assertIsNotNone(state)
        self.assertNotIn("c", state)
        # its device model (qemu-xen) runs for it
        self.assertIn("-xen-domid %d" % domid, self.sh(
            "for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline; echo; done 2>/dev/null | grep ^/usr/libexec/xen-qemu"))
        # what its firmware said (Xen's guest debug output), recorded
        rc, out = self.dom0.run("xl dmesg | grep '(d%d)' | tail -n 5" % domid)
        sys.stderr.write("hvm: firmware output:\n%s\n" % out.strip())
        self.api.VM.hard_shutdown(vm)
        self.assertIsNone(self.xl_state("xen-hvm"))


if __name__ == "__main__":
    reason = why_not()
    if reason:
        print("skipped: %s" % reason, file=sys.stderr)
        sys.exit(77)
    unittest.main()
