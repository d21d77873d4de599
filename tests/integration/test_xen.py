"""The xen backend on a real Xen: the nested test machine of
scripts/xen-testvm.sh (Debian's Xen 4.17 with a PV dom0 under
qemu-system-x86_64/TCG) runs xenond --backend xen; this suite drives it
from outside over the XenAPI through the forwarded port, and looks inside
the dom0 through its shell on the machine's second serial port.

Booting nested Xen under TCG takes minutes on this kind of machine, so the
suite is opt-in: XENON_TEST_XEN=1 (see README). Without it, or without what
the machine needs (qemu-system-x86_64, dpkg-deb, depmod, cpio, the Debian
packages), it says why and skips (exit 77)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

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
        env = dict(os.environ, XEN_TESTVM_DIR=DIR, XEN_TESTVM_TIMEOUT=str(BOOT_TIMEOUT),
                   XEN_TESTVM_GUEST=GUEST)
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
        rec.update(extra)
        return self.api.VM.create(rec)

    def wait_console(self, uuid, text, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc, out = self.dom0.run("cat /var/lib/xenon/run/vm/%s/serial.log 2>/dev/null" % uuid)
            if text in out:
                return out
            time.sleep(3)
        self.fail("%r not on the console of %s" % (text, uuid))

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


if __name__ == "__main__":
    reason = why_not()
    if reason:
        print("skipped: %s" % reason, file=sys.stderr)
        sys.exit(77)
    unittest.main()
