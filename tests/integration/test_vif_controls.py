"""VIF controls applied live to a running guest, on the openvswitch backend
(OpenFlow rules, ingress policing and mirrors of the userspace netdev
datapath), in a network namespace the test makes: locking_mode locked with
ipv4_allowed lets the guest's own MAC and address through and drops it
when it changes its IP or its MAC; disabled drops everything; unlocked
lets all through; a ratelimit QoS caps what the guest sends (measured by
a TCP sink on the host's side of the bridge), and lifting it lifts the
cap; other_config:promiscuous makes a mirror to the VIF; the network's MTU
follows onto the tap; the rules go with
the domain; VIF.add_ipv4_allowed checks its address. Changes are made
through the API and `xe vif-param-set`. Skipped without root, ip, Open
vSwitch and qemu-system-x86_64."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

NETNS_ENV = harness.NETNS_ENV

if __name__ == "__main__" and not os.environ.get(NETNS_ENV):
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("ovs-vswitchd") \
            or not shutil.which("qemu-system-x86_64"):
        print("skipped: needs root, ip, Open vSwitch and qemu-system-x86_64", file=sys.stderr)
        sys.exit(77)
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402
import ovs_lab  # noqa: E402
from guest import QEMU  # noqa: E402

CAP_KBPS = 1000
SEND_KB = 600


def read(path):
    with open(path) as f:
        return f.read().strip()


def sh(*cmd, check=False):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


@unittest.skipIf(QEMU is None or not os.environ.get(NETNS_ENV), "needs qemu and the test namespace")
class VifControlsTest(guest.GuestTestCase):
    backend = "openvswitch"
    config = "network-backend = openvswitch\n"
    rates = {}
    # how far over the cap a short transfer may measure (the burst, TCP)
    cap_slack = 1.3

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            ovs_lab.stop_ovs_of(cls.srv.data_dir)
            if getattr(cls, "bridge", None):
                sh("ip", "link", "del", cls.bridge)  # the next class makes its own
            for k, v in cls.rates.items():
                sys.stderr.write("  %s: guest -> host %-24s %8.0f kbit/s\n" % (cls.backend, k, v))

    def vsctl(self, *args):
        db = "unix:" + os.path.join(self.srv.data_dir, "ovs", "db.sock")
        return sh("ovs-vsctl", "--db=" + db, "--timeout=10", *args).stdout.strip()

    def bridge_of_tap(self):
        return self.vsctl("port-to-br", self.tap)

    def flows(self):
        env = dict(os.environ, OVS_RUNDIR=os.path.join(self.srv.data_dir, "ovs"))
        return subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", self.bridge], capture_output=True,
                              text=True, env=env).stdout

    # what the rules look like on this backend
    def locked_for(self, ip):
        return "nw_src=%s" % ip in self.flows()

    def disabled(self):
        return "dl_dst=" in self.flows()

    def unlocked(self):
        return "priority=19000" not in self.flows()

    def capped(self):
        return "meter:" in self.flows()

    def mirrored(self):
        return "m-" + self.tap in self.vsctl("--columns=name", "--bare", "list", "mirror")

    def gsh(self, cmd, timeout=30):
        return self.api.VM.guest_exec(self.vm, ["sh", "-c", cmd], "", timeout)

    def reaches(self, src=None):
        out = self.gsh("ping -c 2 -W 2 %s10.80.0.1" % ("-I %s " % src if src else ""))
        return out["exitcode"] == "0"

    def wait_applied(self, predicate, msg):
        self.wait_for(predicate, 5, interval=0.1, msg=msg)

    def send_rate(self):
        """kbit/s of SEND_KB KiB sent by the guest to a sink on the host."""
        srv = socket.socket()
        srv.bind(("10.80.0.1", 0))
        srv.listen(1)
        srv.settimeout(60)
        port = srv.getsockname()[1]
        res = {}

        def sink():
            try:
                c, _ = srv.accept()
            except OSError:
                return
            got, t0 = 0, None
            c.settimeout(60)
            while got < SEND_KB * 1024:
                b = c.recv(65536)
                if not b:
                    break
                if t0 is None:
                    t0 = time.monotonic()
                got += len(b)
            res["t"] = time.monotonic() - (t0 or time.monotonic())
            res["got"] = got
            c.close()

        th = threading.Thread(target=sink)
        th.start()
        out = self.gsh("dd if=/dev/zero bs=1024 count=%d 2>/dev/null | timeout 25 nc 10.80.0.1 %d"
                       % (SEND_KB, port), 28)
        th.join(70)
        srv.close()
        self.assertEqual(res.get("got"), SEND_KB * 1024, (res, out))
        return res["got"] * 8 / 1000 / max(res["t"], 1e-3)


_test = guest.method_of(VifControlsTest)


@_test
def test_1_start_unlocked(self):
    net = self.api.network.create({"name_label": "lock", "name_description": "", "MTU": 1500, "other_config": {},
                                   "bridge": "", "managed": True, "tags": []})
    vm = self.new_vm("lock-guest", PV_args=guest.ARGS + " xenon.ip=10.80.0.10/24")
    vif = self.api.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500,
                               "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
    self.api.VM.start(vm, False, False)
    self.wait_serial(vm, guest.READY)
    type(self).vm, type(self).vif, type(self).net = vm, vif, net
    type(self).bridge = self.api.network.get_bridge(net)
    type(self).tap = "vif%d.0" % self.api.VM.get_domid(vm)
    sh("ip", "addr", "add", "10.80.0.1/24", "dev", self.bridge, check=True)
    sh("ip", "link", "set", self.bridge, "up", check=True)
    self.assertEqual(self.api.VIF.get_locking_mode(vif), "network_default")
    self.assertTrue(self.reaches(), "unlocked: the guest reaches the host")
    self.assertTrue(self.unlocked())


@_test
def test_2_locked(self):
    uuid = self.api.VIF.get_uuid(self.vif)
    p = self.srv.xe("vif-param-set", "uuid=" + uuid, "locking-mode=locked", "ipv4-allowed=10.80.0.10")
    self.assertEqual(p.returncode, 0, p.stderr)
    self.assertEqual(self.api.VIF.get_locking_mode(self.vif), "locked")
    self.assertEqual(self.api.VIF.get_ipv4_allowed(self.vif), ["10.80.0.10"])
    # IPv6 from the guest: dropped until its address is in ipv6_allowed, and
    # then only from that address
    sh("ip", "-6", "addr", "add", "fd00:80::1/64", "dev", self.bridge, "nodad", check=True)
    # (no duplicate address detection: its probes come from no address)
    self.gsh("echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad; ip -6 addr add fd00:80::10/64 dev eth0; "
             "ip -6 addr add fd00:80::11/64 dev eth0")
    ping6 = lambda src: self.gsh("ping6 -c 2 -W 2 -I %s fd00:80::1" % src)["exitcode"] == "0"
    self.assertFalse(ping6("fd00:80::10"), "no IPv6 address allowed: dropped")
    self.api.VIF.add_ipv6_allowed(self.vif, "fd00:80::10")
    self.assertEqual(self.api.VIF.get_ipv6_allowed(self.vif), ["fd00:80::10"])
    self.wait_for(lambda: ping6("fd00:80::10"), 20, interval=0.5, msg="the allowed IPv6 address passes")
    self.assertFalse(ping6("fd00:80::11"), "another IPv6 address is dropped")
    self.api.VIF.remove_ipv6_allowed(self.vif, "fd00:80::10")
    self.wait_for(lambda: not ping6("fd00:80::10"), 20, interval=0.5, msg="dropped again once removed")
    self.gsh("ip -6 addr del fd00:80::10/64 dev eth0; ip -6 addr del fd00:80::11/64 dev eth0")
    sh("ip", "-6", "addr", "del", "fd00:80::1/64", "dev", self.bridge)
    self.wait_applied(lambda: self.locked_for("10.80.0.10"), "the lock's rules on the bridge")
    self.assertTrue(self.reaches(), "its own MAC and address pass")
    # another address: dropped
    self.gsh("ip addr add 10.80.0.11/24 dev eth0")
    self.assertFalse(self.reaches("10.80.0.11"), "a spoofed address is dropped")
    self.gsh("ip addr del 10.80.0.11/24 dev eth0")
    # another MAC: dropped
    mac = self.api.VIF.get_MAC(self.vif)
    self.gsh("ip link set eth0 address 02:00:00:00:00:99")
    self.assertFalse(self.reaches(), "a spoofed MAC is dropped")
    self.gsh("ip link set eth0 address %s" % mac)
    self.assertTrue(self.reaches(), "back to its own MAC")
    # allowed addresses change live: the new one passes, the old one not
    self.api.VIF.add_ipv4_allowed(self.vif, "10.80.0.11")
    self.api.VIF.remove_ipv4_allowed(self.vif, "10.80.0.10")
    self.wait_applied(lambda: self.locked_for("10.80.0.11") and not self.locked_for("10.80.0.10"),
                      "rules follow ipv4_allowed")
    self.gsh("ip addr add 10.80.0.11/24 dev eth0")
    self.assertTrue(self.reaches("10.80.0.11"))
    self.assertFalse(self.reaches("10.80.0.10"))
    self.gsh("ip addr del 10.80.0.11/24 dev eth0")
    self.api.VIF.set_ipv4_allowed(self.vif, ["10.80.0.10"])
    self.assertXapiError("INVALID_IP_ADDRESS_SPECIFIED", self.api.VIF.add_ipv4_allowed, self.vif, "10.80.0.300",
                         params=["value"])
    self.assertXapiError("INVALID_IP_ADDRESS_SPECIFIED", self.api.VIF.add_ipv6_allowed, self.vif, "fe80::zz",
                         params=["value"])
    self.assertEqual(self.api.VIF.get_ipv4_allowed(self.vif), ["10.80.0.10"])


@_test
def test_3_disabled_and_unlocked(self):
    self.api.VIF.set_locking_mode(self.vif, "disabled")
    self.wait_applied(self.disabled, "the disabled rules")
    self.assertFalse(self.reaches(), "disabled: nothing passes")
    self.api.VIF.set_locking_mode(self.vif, "unlocked")
    self.wait_applied(self.unlocked, "no rules when unlocked")
    self.assertTrue(self.reaches())
    # network_default follows the network's default_locking_mode
    self.api.VIF.set_locking_mode(self.vif, "network_default")
    self.api.network.set_default_locking_mode(self.net, "disabled")
    self.wait_applied(self.disabled, "the network's default")
    self.assertFalse(self.reaches())
    self.api.network.set_default_locking_mode(self.net, "unlocked")
    self.wait_applied(self.unlocked, "back to unlocked")
    self.assertTrue(self.reaches())


@_test
def test_4_ratelimit(self):
    free = self.send_rate()
    type(self).rates = dict(self.rates)
    self.rates["without a cap"] = free
    self.api.VIF.set_qos_algorithm_type(self.vif, "ratelimit")
    self.api.VIF.set_qos_algorithm_params(self.vif, {"kbps": str(CAP_KBPS)})
    self.wait_applied(self.capped, "the cap on the VIF's frames")
    capped = self.send_rate()
    self.rates["capped at %d kbit/s" % CAP_KBPS] = capped
    self.assertLessEqual(capped, CAP_KBPS * self.cap_slack, "the guest sends no faster than the cap")
    self.assertGreater(free, capped * 2, "and faster without it")
    self.api.VIF.set_qos_algorithm_type(self.vif, "")
    self.wait_applied(lambda: not self.capped(), "lifted")


@_test
def test_4b_move(self):
    """VIF.move of a running VIF: its tap leaves the bridge for the other
    network's, the guest keeps running, and back."""
    other = self.api.network.create({"name_label": "moved", "name_description": "", "MTU": 1500,
                                     "other_config": {}, "bridge": "", "managed": True, "tags": []})
    b2 = self.api.network.get_bridge(other)
    self.api.VIF.move(self.vif, other)
    self.assertEqual(self.api.VIF.get_network(self.vif), other)
    self.assertEqual(self.bridge_of_tap(), b2)
    self.assertTrue(self.api.VIF.get_currently_attached(self.vif))
    self.assertFalse(self.reaches(), "on the other network the host's address is out of reach")
    p = self.srv.xe("vif-move", "uuid=" + self.api.VIF.get_uuid(self.vif),
                    "network-uuid=" + self.api.network.get_uuid(self.net))
    self.assertEqual(p.returncode, 0, p.stderr)
    self.assertEqual(self.bridge_of_tap(), self.bridge)
    self.assertTrue(self.reaches(), "back on its network")
    # a running guest without an agent for it cannot take an address
    self.assertXapiError("VM_LACKS_FEATURE", self.api.VIF.configure_ipv4, self.vif, "Static", "10.80.0.10/24", "",
                         params=[self.vm])
    self.api.network.destroy(other)
    if os.path.isdir("/sys/class/net/%s/bridge" % b2):
        sh("ip", "link", "del", b2)  # a Linux bridge outlives its network; the next class makes its own


@_test
def test_5_promiscuous_and_shutdown(self):
    self.api.VIF.add_to_other_config(self.vif, "promiscuous", "true")
    self.wait_applied(self.mirrored, "the VIF sees the bridge's traffic")
    self.api.VIF.remove_from_other_config(self.vif, "promiscuous")
    self.wait_applied(lambda: not self.mirrored(), "no longer")
    # the network's MTU, live on the tap
    self.api.network.set_MTU(self.net, 1400)
    self.wait_applied(lambda: read("/sys/class/net/%s/mtu" % self.tap) == "1400", "the tap's MTU")
    self.wait_applied(lambda: read("/sys/class/net/%s/mtu" % self.bridge) == "1400", "the bridge's MTU")
    self.api.VIF.set_locking_mode(self.vif, "locked")
    self.wait_applied(lambda: not self.unlocked(), "locked again")
    self.api.VM.hard_shutdown(self.vm)
    self.assertFalse(os.path.exists("/sys/class/net/" + self.tap))
    self.assertTrue(self.unlocked(), "the rules go with the domain")


@unittest.skipIf(QEMU is None or not os.environ.get(NETNS_ENV) or not shutil.which("nft"),
                 "needs qemu, nft and the test namespace")
class BridgeVifControlsTest(VifControlsTest):
    """The same on the bridge backend: nftables bridge rules and limit."""
    backend = "bridge"
    config = "network-backend = bridge\n"
    rates = {}
    # nftables' limit lets a short transfer through at 1.1-1.4 times the
    # rate here (its token bucket and the 80 KiB burst a GSO segment needs)
    cap_slack = 1.6

    def table(self):
        return sh("nft", "list", "table", "bridge", "xenon_" + self.tap.replace(".", "_")).stdout

    def locked_for(self, ip):
        return "ip saddr %s" % ip in self.table()

    def disabled(self):
        return "oifname" in self.table()

    def unlocked(self):
        return " drop" not in self.table().replace("kbytes drop", "")

    def capped(self):
        return "limit rate over" in self.table()

    def mirrored(self):
        return "PROMISC" in sh("ip", "link", "show", "dev", self.tap).stdout

    def bridge_of_tap(self):
        return os.path.basename(os.readlink("/sys/class/net/%s/master" % self.tap))


if __name__ == "__main__":
    harness.main()
