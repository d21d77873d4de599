"""Bonds on the openvswitch backend (userspace netdev datapath), in a
network namespace the test makes, with a lab switch (ovs_lab.LabSwitch)
whose ports s-eth1 and s-eth2 are the other ends of the host's NICs eth1
and eth2 and which has a machine at 10.99.0.254.

Bond.create's bad input gets xapi's errors and leaves nothing behind; a
bond of eth1 and eth2 takes eth1's address (the primary member's) and
becomes an Open vSwitch bond port; a guest on the bonded network pings the
switch's machine while the bond's active link is cut at the switch, in
active-backup and balance-slb (packets lost counted and printed); lacp with
no LACP partner falls back to active-backup (lacp-fallback-ab), and with
the switch's ports made an LACP bond it negotiates and carries traffic; set_mode
and set_property apply live; Bond.destroy gives eth1 its address back.
Skipped without root, ip, Open vSwitch and qemu-system-x86_64."""

import os
import re
import shutil
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

PING = [shutil.which("ping")] if shutil.which("ping") else ["busybox", "ping"]


def sh(*cmd, check=False):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


@unittest.skipIf(QEMU is None or not os.environ.get(NETNS_ENV), "needs qemu and the test namespace")
class BondTest(guest.GuestTestCase):
    config = "network-backend = openvswitch\n"
    lost = {}

    @classmethod
    def setUpClass(cls):
        cls.sw = ovs_lab.LabSwitch()
        try:
            cls.sw.nic("eth1")
            cls.sw.nic("eth2")
            cls.sw.endpoint("u0", "10.99.0.254/24")
            super().setUpClass()
        except BaseException:
            cls.sw.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            ovs_lab.stop_ovs_of(cls.srv.data_dir)
            cls.sw.close()
            for mode, (sent, got) in cls.lost.items():
                sys.stderr.write("  bond %-14s link cut during 40 pings: %d sent, %d received, %d lost\n"
                                 % (mode, sent, got, sent - got))

    def vsctl(self, *args):
        db = "unix:" + os.path.join(self.srv.data_dir, "ovs", "db.sock")
        return sh("ovs-vsctl", "--db=" + db, "--timeout=10", *args).stdout.strip()

    def appctl(self, *args):
        d = os.path.join(self.srv.data_dir, "ovs")
        with open(os.path.join(d, "ovs-vswitchd.pid")) as f:
            pid = int(f.read())
        return sh("ovs-appctl", "-t", os.path.join(d, "ovs-vswitchd.%d.ctl" % pid), *args).stdout

    def pif_of(self, device):
        for ref, r in self.api.PIF.get_all_records().items():
            if r["device"] == device and int(r["VLAN"]) == -1:
                return ref
        return None

    def state(self):
        return (sorted(self.api.PIF.get_all()), sorted(self.api.Bond.get_all()), self.vsctl("show"))

    def active_member(self):
        out = self.appctl("bond/show", "bond0")
        m = re.search(r"active member mac:.*\((\w+)\)", out) or re.search(r"active slave mac:.*\((\w+)\)", out)
        return m.group(1) if m else None

    def ping_through_cut(self, vm, mode):
        """40 pings 0.2 s apart from the guest; the active link cut at the
        switch after 2 s. Returns (sent, received)."""
        active = self.active_member()
        self.assertIn(active, ("eth1", "eth2"), self.appctl("bond/show", "bond0"))
        res = {}

        def run():
            res["out"] = self.api.VM.guest_exec(vm, ["sh", "-c", "ping -c 40 -i 0.2 -W 2 10.99.0.254"], "", 60)

        th = threading.Thread(target=run)
        th.start()
        time.sleep(2)
        self.sw.cut("s-" + active)
        th.join(70)
        self.sw.heal("s-" + active)
        out = res["out"]["stdout"]
        m = re.search(r"(\d+) packets transmitted, (\d+) packets received", out)
        self.assertIsNotNone(m, res["out"])
        sent, got = int(m.group(1)), int(m.group(2))
        type(self).lost[mode] = (sent, got)
        other = "eth2" if active == "eth1" else "eth1"
        self.wait_for(lambda: self.active_member() == other, 10, msg="the bond moved to " + other)
        return sent, got


_test = guest.method_of(BondTest)


@_test
def test_1_errors(self):
    self.api.PIF.scan(self.api.host.get_all()[0])
    eth1, eth2 = self.pif_of("eth1"), self.pif_of("eth2")
    self.api.PIF.reconfigure_ip(eth1, "Static", "10.99.0.1", "255.255.255.0", "", "")
    self.api.PIF.plug(eth1)
    self.api.PIF.plug(eth2)
    net = self.api.network.create({"name_label": "bonded", "name_description": "", "MTU": 1500,
                                   "other_config": {}, "bridge": "", "managed": True, "tags": []})
    type(self).net = net
    st = self.state()
    self.assertXapiError("PIF_BOND_NEEDS_MORE_MEMBERS", self.api.Bond.create, net, [eth1], "", "active-backup", {})
    self.assertXapiError("PIF_BOND_NEEDS_MORE_MEMBERS", self.api.Bond.create, net, [eth1, eth1], "",
                         "active-backup", {})
    self.assertXapiError("MAC_INVALID", self.api.Bond.create, net, [eth1, eth2], "zz:00", "active-backup", {},
                         params=["zz:00"])
    self.assertXapiError("INVALID_VALUE", self.api.Bond.create, net, [eth1, eth2], "", "lacp",
                         {"hashing_algorithm": "random"}, params=["hashing_algorithm", "random"])
    self.assertXapiError("INVALID_VALUE", self.api.Bond.create, net, [eth1, eth2], "", "lacp",
                         {"lacp-time": "sometimes"}, params=["lacp-time", "sometimes"])
    self.assertXapiError("HANDLE_INVALID", self.api.Bond.create, net, [eth1, harness.NULL_REF], "",
                         "active-backup", {})
    # two members with an address
    self.api.PIF.reconfigure_ip(eth2, "Static", "10.99.0.9", "255.255.255.0", "", "")
    self.assertXapiError("PIF_BOND_MORE_THAN_ONE_IP", self.api.Bond.create, net, [eth1, eth2], "",
                         "active-backup", {})
    self.api.PIF.reconfigure_ip(eth2, "None", "", "", "", "")
    self.assertEqual(self.state(), st, "nothing made by a refused call")


@_test
def test_2_active_backup_link_cut(self):
    eth1, eth2 = self.pif_of("eth1"), self.pif_of("eth2")
    p = self.srv.xe("bond-create", "network-uuid=" + self.api.network.get_uuid(self.net),
                    "pif-uuids=%s,%s" % (self.api.PIF.get_uuid(eth1), self.api.PIF.get_uuid(eth2)),
                    "mode=active-backup")
    self.assertEqual(p.returncode, 0, p.stderr)
    bond = self.api.Bond.get_by_uuid(p.stdout.strip())
    type(self).bond = bond
    r = self.api.Bond.get_record(bond)
    self.assertEqual(r["mode"], "active-backup")
    self.assertEqual(r["properties"], {"hashing_algorithm": "src_mac"})
    self.assertEqual(r["primary_slave"], eth1, "the member with the address")
    self.assertTrue(r["auto_update_mac"])
    self.assertEqual(sorted(r["slaves"]), sorted([eth1, eth2]))
    master = self.api.PIF.get_record(r["master"])
    self.assertEqual((master["device"], master["IP"], master["physical"]), ("bond0", "10.99.0.1", False))
    self.assertEqual(master["MAC"], self.api.PIF.get_MAC(eth1))
    self.assertTrue(master["currently_attached"])
    self.assertEqual(self.api.PIF.get_ip_configuration_mode(eth1), "None", "the address moved to the bond")
    self.assertEqual(self.api.PIF.get_bond_slave_of(eth2), bond)
    self.assertXapiError("CANNOT_PLUG_BOND_SLAVE", self.api.PIF.plug, eth1, params=[eth1])
    bridge = self.api.network.get_bridge(self.net)
    self.assertEqual(self.vsctl("list-ports", bridge), "bond0")
    self.assertEqual(sorted(self.vsctl("--columns=name", "--bare", "list", "interface").split()),
                     sorted([bridge, "eth1", "eth2", "xenbr1", "xenbr2"]))
    self.assertEqual(self.vsctl("get", "port", "bond0", "bond_mode"), "active-backup")
    self.assertEqual(sh(*PING, "-c", "2", "-W", "2", "10.99.0.254").returncode, 0, "the host over the bond")

    vm = self.new_vm("bond-guest", PV_args=guest.ARGS + " xenon.ip=10.99.0.20/24")
    self.api.VIF.create({"device": "0", "network": self.net, "VM": vm, "MAC": "", "MTU": 1500, "other_config": {},
                         "qos_algorithm_type": "", "qos_algorithm_params": {}})
    self.api.VM.start(vm, False, False)
    self.wait_serial(vm, guest.READY)
    type(self).vm = vm
    sent, got = self.ping_through_cut(vm, "active-backup")
    self.assertEqual(sent, 40)
    self.assertGreaterEqual(got, 30, "the bond kept the guest's traffic going")


@_test
def test_3_balance_slb_link_cut(self):
    p = self.srv.xe("bond-set-mode", "uuid=" + self.api.Bond.get_uuid(self.bond), "mode=balance-slb")
    self.assertEqual(p.returncode, 0, p.stderr)
    self.assertEqual(self.api.Bond.get_mode(self.bond), "balance-slb")
    self.assertEqual(self.api.Bond.get_properties(self.bond), {"hashing_algorithm": "src_mac"}, "its defaults")
    self.assertEqual(self.vsctl("get", "port", "bond0", "bond_mode"), "balance-slb", "applied live")
    sent, got = self.ping_through_cut(self.vm, "balance-slb")
    self.assertEqual(sent, 40)
    self.assertGreaterEqual(got, 30)


@_test
def test_4_lacp_fallback_and_properties(self):
    self.api.Bond.set_mode(self.bond, "lacp")
    props = self.api.Bond.get_properties(self.bond)
    self.assertEqual(props, {"hashing_algorithm": "tcpudp_ports", "lacp-time": "slow", "lacp-fallback-ab": "true"})
    self.assertEqual(self.vsctl("get", "port", "bond0", "lacp"), "active")
    self.assertEqual(self.vsctl("get", "port", "bond0", "bond_mode"), "balance-tcp")
    self.assertXapiError("INVALID_VALUE", self.api.Bond.set_property, self.bond, "lacp-fallback-ab", "maybe",
                         params=["lacp-fallback-ab", "maybe"])
    self.api.Bond.set_property(self.bond, "lacp-time", "fast")
    self.assertEqual(self.vsctl("get", "port", "bond0", "other_config:lacp-time"), "fast")
    # the switch speaks no LACP: once negotiation times out the bond falls
    # back to active-backup and carries the guest's traffic
    t = time.monotonic()
    for _ in range(10):
        out = self.api.VM.guest_exec(self.vm, ["sh", "-c", "ping -c 2 -W 2 10.99.0.254"], "", 30)
        if out["exitcode"] == "0":
            break
    self.assertEqual(out["exitcode"], "0", (out, self.appctl("bond/show", "bond0")))
    self.timings["lacp: fallback to active-backup"] = time.monotonic() - t
    # with a partner: the switch's two ports become an LACP bond too
    self.sw.vsctl("del-port", "sw0", "s-eth1", "--", "del-port", "sw0", "s-eth2")
    self.sw.vsctl("add-bond", "sw0", "swbond", "s-eth1", "s-eth2", "lacp=active", "bond_mode=balance-tcp",
                  "other_config:lacp-time=fast")
    try:
        t = time.monotonic()
        self.wait_for(lambda: "lacp_status: negotiated" in self.appctl("bond/show", "bond0"), 30, interval=0.5,
                      msg="LACP negotiated with the switch")
        self.timings["lacp: negotiated with the switch"] = time.monotonic() - t
        out = self.api.VM.guest_exec(self.vm, ["sh", "-c", "ping -c 3 -W 3 10.99.0.254"], "", 30)
        self.assertEqual(out["exitcode"], "0", (out, self.appctl("bond/show", "bond0")))
    finally:
        self.sw.vsctl("del-port", "sw0", "swbond")
        self.sw.vsctl("add-port", "sw0", "s-eth1", "--", "add-port", "sw0", "s-eth2")


@_test
def test_5_destroy(self):
    eth1, eth2 = self.pif_of("eth1"), self.pif_of("eth2")
    self.api.VM.hard_shutdown(self.vm)
    master = self.api.Bond.get_master(self.bond)
    self.api.Bond.destroy(self.bond)
    self.assertEqual(self.api.Bond.get_all(), [])
    self.assertXapiError("HANDLE_INVALID", self.api.PIF.get_record, master)
    self.assertEqual(self.api.PIF.get_IP(eth1), "10.99.0.1", "the primary member has its address back")
    self.assertTrue(self.api.PIF.get_currently_attached(eth1))
    self.assertTrue(self.api.PIF.get_currently_attached(eth2))
    self.assertEqual(self.vsctl("list-ports", self.api.network.get_bridge(self.net)), "")
    self.assertEqual(self.vsctl("list-ports", "xenbr1"), "eth1")
    self.assertEqual(self.vsctl("list-ports", "xenbr2"), "eth2")
    self.assertEqual(sh(*PING, "-c", "2", "-W", "2", "-I", "xenbr1", "10.99.0.254").returncode, 0)


if __name__ == "__main__":
    harness.main()
