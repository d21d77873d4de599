"""VM.restart_device_models with the QEMU backend, inside a network namespace
the test makes: the tiny guest counting on its serial console and reachable
on its VIF gets a fresh QEMU on the same host while it runs. Its counter
goes on and never restarts, the QEMU's pid and the domid change, exactly
one QEMU runs it afterwards, its tap is vif<new domid>.0 on the network's
bridge (the old one gone), the console history came along and typing into
the console still works, its disk reads back what it wrote before and takes
writes, and the host still pings it. Devices keep their PCI slots: a disk
unplugged before the restart is not in the new QEMU (and plugs into it), a
disk hot-plugged into it moves with the guest at the next restart. The pause the counter
sees and the call's time are printed. While a restart runs, another one is
OTHER_OPERATION_IN_PROGRESS. Failures leave the guest running in its old
QEMU with nothing of the new one left (no second QEMU, tap or directory):
the new tap refused (fault point "tap"), and the new QEMU killed as it
starts and while it takes the guest's state; xenond killed in the middle of a restart: the
next xenond ends the half-made QEMU and the guest runs on in its own.
Skipped without root, qemu-system-x86_64 or ip.

The module re-runs itself under `ip netns exec xenon-test-<random>`, so the
daemon, its QEMUs and the test's ping share the namespace."""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

NETNS_ENV = harness.NETNS_ENV
IP = shutil.which("ip")

if __name__ == "__main__" and not os.environ.get(NETNS_ENV):
    if os.geteuid() != 0 or not IP or not shutil.which("qemu-system-x86_64"):
        print("skipped: needs root, ip and qemu-system-x86_64", file=sys.stderr)
        sys.exit(77)
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402
from guest import QEMU, qemu_alive, qemu_of_uuid, read_pid  # noqa: E402

LOOP = "i=0; while :; do i=$((i+1)); echo C$i; sleep 0.1; done &"
GUEST_IP, HOST_IP = "10.79.0.2", "10.79.0.1"
# xenond's log line once a restart's new QEMU waits for the guest
WAITS = "a second QEMU waits for the guest's state"
# a count ends its line (the shell's prompt or the echo of a line being
# typed may come first on it)
COUNT_RE = re.compile(r"C(\d+)\r?$", re.M)


def vif_links():
    return {n for n in os.listdir("/sys/class/net") if re.match(r"^vif\d+\.\d+$", n)}


def ports(bridge):
    try:
        return set(os.listdir("/sys/class/net/%s/brif" % bridge))
    except OSError:
        return set()


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))
    except (OSError, AttributeError):
        return None


def ping(ip):
    return subprocess.run(["ping", "-c", "2", "-W", "2", ip], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=20).returncode == 0


class CounterWatch:
    """Reads the console log (and the incoming QEMU's, while there is one)
    every 10 ms and notes when each count first appeared."""

    def __init__(self, paths):
        self.paths = paths
        self.seen = {}
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            now = time.monotonic()
            for p in self.paths:
                try:
                    with open(p, "rb") as f:
                        text = f.read().decode("utf-8", "replace")
                except OSError:
                    continue
                for n in COUNT_RE.findall(text):
                    self.seen.setdefault(int(n), now)
            time.sleep(0.01)

    def close(self):
        self.stop = True
        self.t.join()

    def longest_gap(self, since):
        """The longest time between two consecutive counts seen after since."""
        times = sorted(t for n, t in self.seen.items() if t >= since)
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)


@unittest.skipIf(QEMU is None or not os.environ.get(NETNS_ENV), "needs qemu and the test namespace")
class RestartDeviceModelTest(guest.GuestTestCase):

    @classmethod
    def setUpClass(cls):
        # the fault points (debug.fault_arm) need a daemon that has them
        t = time.monotonic()
        cls.srv = harness.Server(backend="qemu", extra_args=["--debug-faults"])
        guest.install(cls)
        cls.timings["guest build (or reuse)"] = time.monotonic() - t
        cls.srv.start()
        cls.api = cls.srv.api

    def counts(self, vm):
        return [int(n) for n in COUNT_RE.findall(self.serial(vm))]

    def shell_ready(self, vm):
        """Types until the guest's shell answers (input typed too early is lost)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.console(vm, "echo SH-$((40+2))")
            t = time.monotonic()
            while time.monotonic() < t + 2:
                if "SH-42" in self.serial(vm):
                    return
                time.sleep(0.05)
        self.fail("the guest's shell does not answer")

    def incoming_qemu(self, uuid, started, midway, timeout=30):
        """The pid of the new QEMU of a restart once it is there, or (midway)
        once xenond has it waiting (its memory laid out) and it holds 16 MiB
        more than then: the guest's state is streaming into it."""
        d = os.path.join(self.run_dir, "vm", uuid + ".dm")
        deadline = time.monotonic() + timeout
        base = None
        while time.monotonic() < deadline:
            p = read_pid(d)
            if p and qemu_alive(p, uuid):
                if not midway:
                    return p
                if base is None and self.srv.log_text().count(WAITS) > started:
                    base = rss_kib(p)
                rss = rss_kib(p)
                if base is not None and rss is not None and rss > base + 16 * 1024:
                    return p
            time.sleep(0.002)
        return None

    def assert_counting(self, vm, since_count):
        """The counter goes on from since_count, one by one."""
        self.wait_for(lambda: self.counts(vm) and self.counts(vm)[-1] >= since_count + 5, 20,
                      msg="the counter going on after C%d" % since_count)
        after = [n for n in self.counts(vm) if n >= since_count]
        self.assertEqual(after, list(range(since_count, since_count + len(after))),
                         "the counter never restarts nor skips:\n%r" % self.serial(vm)[-1500:])

    def assert_one_qemu(self, vm, pid, domid, bridge):
        uuid = self.api.VM.get_uuid(vm)
        self.assertEqual(qemu_of_uuid(uuid), [pid], "exactly one QEMU runs the VM")
        self.assertEqual(read_pid(self.vm_dir(vm)), pid)
        self.assertEqual(self.api.VM.get_domid(vm), domid)
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        self.assertEqual(self.api.VM.get_current_operations(vm), {})
        self.assertEqual(vif_links(), {"vif%d.0" % domid})
        self.assertEqual(ports(bridge), {"vif%d.0" % domid})
        self.assertFalse(os.path.exists(self.vm_dir(vm) + ".dm"), "no second run directory left")

    def test_restart_device_models(self):
        api = self.api
        net = api.network.create({"name_label": "dm-net", "name_description": "", "MTU": 1500,
                                  "other_config": {}, "bridge": "", "managed": True, "tags": []})
        vm = self.new_vm("dm", PV_args=guest.ARGS + " xenon.ip=%s/24" % GUEST_IP)
        vif = api.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500,
                              "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
        vdi = self.new_vdi(size=16 * guest.MiB, name="dm-disk")
        vbd = self.vbd(vm, vdi, 1)
        vbd2 = self.vbd(vm, self.new_vdi(size=8 * guest.MiB, name="dm-disk2"), 2)
        pid0 = self.start_ready(vm)
        uuid = api.VM.get_uuid(vm)
        bridge = api.network.get_bridge(net)
        subprocess.run([IP, "addr", "add", HOST_IP + "/24", "dev", bridge], check=True)
        subprocess.run([IP, "link", "set", bridge, "up"], check=True)
        self.wait_for(lambda: ping(GUEST_IP), 30, interval=0.5, msg="the guest answers pings")
        self.shell_ready(vm)
        self.console(vm, "echo MARKED >/tmp/h; dd if=/tmp/h of=/dev/vda conv=fsync && echo DW-$((1+2))")
        self.wait_serial(vm, "DW-3", 20)
        # a disk unplugged since the QEMU started: the new one has none
        # there, and its other devices in the slots the guest knows
        api.VBD.unplug(vbd2)
        self.console(vm, LOOP)
        self.wait_for(lambda: len(self.counts(vm)) >= 10, 20, msg="the counter")
        domid0 = api.VM.get_domid(vm)
        self.assert_one_qemu(vm, pid0, domid0, bridge)
        consoles = sorted(api.VM.get_consoles(vm))

        # ---- the restart ----
        d = self.vm_dir(vm)
        watch = CounterWatch([os.path.join(d, "serial.log"), os.path.join(d + ".dm", "serial.log")])
        try:
            before = self.counts(vm)[-1]
            t0 = time.monotonic()
            api.VM.restart_device_models(vm)
            took = time.monotonic() - t0
            self.timings["VM.restart_device_models call"] = took
            self.wait_for(lambda: self.counts(vm)[-1] >= before + 10, 20, msg="the counter after")
        finally:
            watch.close()
        gap = watch.longest_gap(t0 - 1)
        self.timings["counter's longest gap (0.1 s a count)"] = gap
        pid1 = read_pid(d)
        self.assertNotEqual(pid1, pid0, "a new QEMU")
        self.assertTrue(qemu_alive(pid1, uuid))
        self.assertFalse(qemu_alive(pid0, uuid), "the old QEMU is gone")
        domid1 = api.VM.get_domid(vm)
        self.assertNotEqual(domid1, domid0)
        self.assert_one_qemu(vm, pid1, domid1, bridge)
        self.assert_counting(vm, 5)
        self.assertIn(guest.READY, self.serial(vm), "the console's history came along")
        self.assertLess(gap, 2.0, "the guest's pause")
        self.assertEqual(sorted(api.VM.get_consoles(vm)), consoles)
        self.assertTrue(api.VIF.get_currently_attached(vif))
        self.assertTrue(api.VBD.get_currently_attached(vbd))
        # the console takes input, the NIC carries traffic, the disk written
        # before is read back and takes writes
        self.console(vm, "echo AFTER-$((20+3))")
        self.wait_serial(vm, "AFTER-23", timeout=20)
        self.console(vm, "echo RD-$(head -c 6 /dev/vda)-END")
        self.wait_serial(vm, "RD-MARKED-END", timeout=20)
        self.console(vm, "echo AGAIN >/tmp/g; dd if=/tmp/g of=/dev/vda conv=fsync && echo DW-$((2+5))")
        self.wait_serial(vm, "DW-7", timeout=20)
        # it stays unplugged, and plugs into the new QEMU (hot-plugged there,
        # it moves with the guest at the next restart)
        self.assertFalse(api.VBD.get_currently_attached(vbd2))
        api.VBD.plug(vbd2)
        self.console(vm, "sleep 1; echo NB-$(ls /sys/block | grep -c vd)-END")
        self.wait_serial(vm, "NB-2-END", timeout=20)
        self.assertTrue(ping(GUEST_IP), "the guest answers pings after the restart")

        # ---- one at a time ----
        task = api.Async.VM.restart_device_models(vm)
        self.wait_for(lambda: api.VM.get_current_operations(vm) or api.task.get_status(task) != "pending",
                      10, interval=0.005, msg="the restart marked")
        self.assertEqual(list(api.VM.get_current_operations(vm).values()), ["pool_migrate"])
        self.assertXapiError("OTHER_OPERATION_IN_PROGRESS", api.VM.restart_device_models, vm)
        self.wait_for(lambda: api.task.get_status(task) != "pending", 60, msg="the restart's task")
        self.assertEqual(api.task.get_status(task), "success", api.task.get_error_info(task))
        pid2, domid2 = read_pid(d), api.VM.get_domid(vm)
        self.assertNotIn(pid2, (pid0, pid1))
        self.assert_one_qemu(vm, pid2, domid2, bridge)
        self.assert_counting(vm, 5)
        self.assertTrue(api.VBD.get_currently_attached(vbd2))
        self.console(vm, "echo NB-$(ls /sys/block | grep -c vd)-$((4+4))")
        self.wait_serial(vm, "NB-2-8", timeout=20)

        # ---- failures: the guest runs on in its QEMU, nothing new left ----
        api.debug.fault_arm("tap", 1)
        self.assertXapiError("VM_MIGRATE_FAILED", api.VM.restart_device_models, vm)
        api.debug.fault_arm("tap", 0)
        self.assert_one_qemu(vm, pid2, domid2, bridge)
        last = self.counts(vm)[-1]
        self.wait_for(lambda: self.counts(vm)[-1] >= last + 5, 20, msg="the counter after a failure")

        # the new QEMU killed as it starts, and while the guest's state
        # streams into it (once it holds 16 MiB more of it than at its start)
        for midway in (False, True):
            killed = []
            started = self.srv.log_text().count(WAITS)

            def kill_incoming():
                p = self.incoming_qemu(uuid, started, midway)
                if p:
                    os.kill(p, signal.SIGKILL)
                    killed.append(p)

            killer = threading.Thread(target=kill_incoming, daemon=True)
            killer.start()
            e = self.assertXapiError("VM_MIGRATE_FAILED", api.VM.restart_device_models, vm)
            killer.join()
            self.assertTrue(killed, "the new QEMU was there to kill")
            self.assertFalse(qemu_alive(killed[0], uuid))
            self.assertIn("runs on in its old one", e.params[-1])
            self.assert_one_qemu(vm, pid2, domid2, bridge)
            last = self.counts(vm)[-1]
            self.wait_for(lambda: self.counts(vm)[-1] >= last + 5, 20, msg="the counter after a failure")
        self.assert_counting(vm, 5)
        self.assertTrue(ping(GUEST_IP), "the guest answers pings after the failures")

        # xenond killed while the guest's state streams: the next one ends the
        # half-made QEMU, and the guest runs on in its own
        started = self.srv.log_text().count(WAITS)
        api.Async.VM.restart_device_models(vm)
        half = self.incoming_qemu(uuid, started, True)
        self.assertTrue(half, "the guest's state streaming into a new QEMU")
        self.srv.kill9()
        self.assertTrue(qemu_alive(pid2, uuid) and qemu_alive(half, uuid))
        self.srv.start()
        api = self.api = type(self).api = self.srv.api
        self.assertFalse(qemu_alive(half, uuid), "the half-made QEMU is gone")
        self.assert_one_qemu(vm, pid2, domid2, bridge)
        last = self.counts(vm)[-1]
        self.wait_for(lambda: self.counts(vm)[-1] >= last + 5, 20, msg="the counter after xenond's restart")
        self.assert_counting(vm, 5)
        api.VM.hard_shutdown(vm)
        self.assert_no_qemu(vm, files_gone=False)
        self.assertEqual(vif_links(), set())
        sys.stderr.write("\nrestart_device_models: call %.2f s, counter's longest gap %.3f s\n" % (took, gap))


if __name__ == "__main__":
    harness.main()
