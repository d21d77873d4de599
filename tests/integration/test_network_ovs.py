"""The openvswitch network backend (network-backend = openvswitch), inside a
network namespace the test makes: xenond starts ovsdb-server and
ovs-vswitchd with their database under its data directory,
software_version.network_backend says openvswitch, a network's bridge is
an Open vSwitch bridge on the datapath this kernel has (netdev: userspace)
whose ports are the guests' taps vif<domid>.<dev>, two tiny guests on it
ping each other, ports go with the domain, an ovs-vswitchd killed outright
is started again by xenond, and a restarted xenond keeps the running Open
vSwitch. Skipped without root, qemu-system-x86_64, ip or ovs-vsctl."""

import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

NETNS_ENV = harness.NETNS_ENV
IP = shutil.which("ip")
VSCTL = shutil.which("ovs-vsctl")

if __name__ == "__main__" and not os.environ.get(NETNS_ENV):
    if os.geteuid() != 0 or not IP or not VSCTL or not shutil.which("qemu-system-x86_64") \
            or not shutil.which("ovs-vswitchd"):
        print("skipped: needs root, ip, Open vSwitch and qemu-system-x86_64", file=sys.stderr)
        sys.exit(77)
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402
from guest import QEMU  # noqa: E402


def pid_of(path):
    try:
        with open(path) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def vif_links():
    return {n for n in os.listdir("/sys/class/net") if n.startswith("vif")}


@unittest.skipIf(QEMU is None or not os.environ.get(NETNS_ENV), "needs qemu and the test namespace")
class OvsNetworkTest(guest.GuestTestCase):
    config = "network-backend = openvswitch\n"

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            # the daemons outlive xenond (as its guests do): the test ends them
            for d in ("ovs-vswitchd", "ovsdb-server"):
                pid = pid_of(os.path.join(cls.srv.data_dir, "ovs", d + ".pid"))
                if pid:
                    os.kill(pid, signal.SIGTERM)

    def ovsdir(self):
        return os.path.join(self.srv.data_dir, "ovs")

    def vsctl(self, *args):
        return subprocess.run([VSCTL, "--db=unix:" + os.path.join(self.ovsdir(), "db.sock"), "--timeout=10"]
                              + list(args), check=True, capture_output=True, text=True).stdout.strip()

    def ports(self, bridge):
        return set(self.vsctl("list-ports", bridge).split())

    def net_vm(self, name, ip, net):
        vm = self.new_vm(name, PV_args=guest.ARGS + " xenon.ip=%s/24" % ip)
        vif = self.api.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500,
                                   "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
        return vm, vif

    def ping(self, vm, ip, count=3):
        return self.api.VM.guest_exec(vm, ["sh", "-c", "ping -c %d -W 3 %s" % (count, ip)], "", 60)


_test = guest.method_of(OvsNetworkTest)


@_test
def test_1_daemons_and_version(self):
    host = self.api.host.get_all()[0]
    self.assertEqual(self.api.host.get_software_version(host)["network_backend"], "openvswitch")
    for d in ("ovsdb-server", "ovs-vswitchd"):
        pid = pid_of(os.path.join(self.ovsdir(), d + ".pid"))
        self.assertIsNotNone(pid, "%s runs with its pid file under the data directory" % d)
        # in this namespace, not the host's
        self.assertEqual(os.stat("/proc/%d/ns/net" % pid).st_ino, os.stat("/proc/self/ns/net").st_ino)
    self.assertTrue(os.path.exists(os.path.join(self.ovsdir(), "conf.db")))
    self.assertEqual(self.vsctl("list-br"), "", "no bridge before a VM needs one")


@_test
def test_2_two_guests_ping(self):
    net = self.api.network.create({"name_label": "ovs-net", "name_description": "", "MTU": 1500,
                                   "other_config": {}, "bridge": "", "managed": True, "tags": []})
    bridge = self.api.network.get_bridge(net)
    vm1, vif1 = self.net_vm("ovs-a", "10.78.0.1", net)
    vm2, vif2 = self.net_vm("ovs-b", "10.78.0.2", net)
    type(self).pair = (vm1, vm2, bridge)
    t = time.monotonic()
    self.api.VM.start(vm1, False, False)
    self.api.VM.start(vm2, False, False)
    self.wait_serial(vm1, guest.READY)
    self.wait_serial(vm2, guest.READY)
    self.timings["two guests: start -> ready"] = time.monotonic() - t
    d1, d2 = self.api.VM.get_domid(vm1), self.api.VM.get_domid(vm2)
    tap1, tap2 = "vif%d.0" % d1, "vif%d.0" % d2
    self.assertEqual(self.vsctl("list-br"), bridge)
    self.assertEqual(self.vsctl("get", "bridge", bridge, "datapath_type"),
                     "system" if os.path.exists("/sys/module/openvswitch") else "netdev")
    self.assertEqual(self.ports(bridge), {tap1, tap2})
    self.assertFalse(os.path.exists("/sys/class/net/%s/bridge" % bridge), "not a Linux bridge")
    t = time.monotonic()
    out = self.ping(vm1, "10.78.0.2")
    self.timings["ping 3 packets"] = time.monotonic() - t
    self.assertEqual(out["exitcode"], "0", out)
    self.assertIn("3 packets received", out["stdout"])
    out = self.ping(vm2, "10.78.0.1")
    self.assertEqual(out["exitcode"], "0", out)
    # the switch learnt both guests' MACs on their ports
    fdb = subprocess.run(["ovs-appctl", "-t", self._vswitchd_ctl(), "fdb/show", bridge],
                         capture_output=True, text=True).stdout.lower()
    for vif in (vif1, vif2):
        self.assertIn(self.api.VIF.get_MAC(vif).lower(), fdb)


def _vswitchd_ctl(self):
    pid = pid_of(os.path.join(self.ovsdir(), "ovs-vswitchd.pid"))
    return os.path.join(self.ovsdir(), "ovs-vswitchd.%d.ctl" % pid)


OvsNetworkTest._vswitchd_ctl = _vswitchd_ctl


@_test
def test_3_vswitchd_killed(self):
    """ovs-vswitchd killed outright: xenond starts it again, it makes the
    bridge and ports from the database, and the guests reach each other."""
    vm1, vm2, bridge = self.pair
    pidfile = os.path.join(self.ovsdir(), "ovs-vswitchd.pid")
    old = pid_of(pidfile)
    # its --monitor parent would not restart it after SIGKILL: end both
    with open("/proc/%d/stat" % old) as f:
        parent = int(f.read().rsplit(")", 1)[1].split()[1])
    with open("/proc/%d/comm" % parent) as f:
        if f.read().strip() == "ovs-vswitchd":
            os.kill(parent, signal.SIGKILL)
    os.kill(old, signal.SIGKILL)
    self.wait_for(lambda: pid_of(pidfile) not in (None, old), 30, msg="ovs-vswitchd started again")
    self.wait_for(lambda: os.path.exists("/sys/class/net/" + bridge), 10, msg="bridge back")
    out = self.ping(vm1, "10.78.0.2", count=5)
    self.assertEqual(out["exitcode"], "0", out)


@_test
def test_4_restart_and_shutdown(self):
    vm1, vm2, bridge = self.pair
    pids = [pid_of(os.path.join(self.ovsdir(), d + ".pid")) for d in ("ovsdb-server", "ovs-vswitchd")]
    self.srv.restart()
    self.api = self.srv.api
    self.assertEqual([pid_of(os.path.join(self.ovsdir(), d + ".pid")) for d in ("ovsdb-server", "ovs-vswitchd")],
                     pids, "a restarted xenond keeps the running Open vSwitch")
    d1 = self.api.VM.get_domid(vm1)
    d2 = self.api.VM.get_domid(vm2)
    self.api.VM.hard_shutdown(vm1)
    self.assertEqual(self.ports(bridge), {"vif%d.0" % d2}, "the port goes with the domain")
    self.assertEqual(vif_links(), {"vif%d.0" % d2})
    self.assertNotIn("vif%d.0" % d1, self.vsctl("--columns=name", "list", "interface"))
    self.api.VM.hard_shutdown(vm2)
    self.assertEqual(self.ports(bridge), set())
    self.assertEqual(vif_links(), set())


if __name__ == "__main__":
    harness.main()
