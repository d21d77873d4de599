"""PIFs and VLANs on the openvswitch backend, in a network namespace the test
makes, with a lab switch (ovs_lab.LabSwitch: Open vSwitch netdev in a
namespace of its own) standing for the physical switch: the host's NICs are
veths eth1 and eth2 whose other ends are trunk ports of the switch, which
has machines (internal ports with addresses) untagged, on VLAN 100 and on
VLAN 200 — the last two in one subnet, so only the VLAN keeps them apart.

PIF.scan finds the NICs; reconfigure_ip and plug put the address on the
NIC's bridge xenbr<N> and reach the switch; DHCP gets a lease from a
dnsmasq on the switch's machine; unplug takes it away;
disallow_unplug, management_reconfigure and reconfigure_ipv6; VLAN.create
and pool.create_VLAN_from_PIF make Open vSwitch fake bridges (parent and
tag), a guest on VLAN 100 reaches VLAN 100 and not VLAN 200; each call's
bad input gets xapi's error and leaves no record, bridge or port behind,
and a VLAN whose plug fails is rolled back. Skipped without root, ip,
Open vSwitch and qemu-system-x86_64."""

import os
import re
import shutil
import subprocess
import sys
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


def ping(src_if, dst, count=2):
    return sh(*PING, "-c", str(count), "-W", "2", "-I", src_if, dst).returncode == 0


def addrs(dev, family="-4"):
    return sh("ip", family, "-o", "addr", "show", "dev", dev).stdout


@unittest.skipIf(QEMU is None or not os.environ.get(NETNS_ENV), "needs qemu and the test namespace")
class PifTest(guest.GuestTestCase):
    config = "network-backend = openvswitch\n"

    @classmethod
    def setUpClass(cls):
        cls.sw = ovs_lab.LabSwitch()
        try:
            cls.sw.nic("eth1")
            cls.sw.nic("eth2")
            cls.sw.endpoint("u0", "10.99.0.254/24")
            cls.sw.endpoint("v100", "10.100.0.254/24", tag=100)
            cls.sw.endpoint("v200", "10.100.0.253/24", tag=200)
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

    def vsctl(self, *args):
        db = "unix:" + os.path.join(self.srv.data_dir, "ovs", "db.sock")
        return sh("ovs-vsctl", "--db=" + db, "--timeout=10", *args).stdout.strip()

    def xe(self, *args):
        return self.srv.xe(*args)

    def host(self):
        return self.api.host.get_all()[0]

    def pif_of(self, device, vlan=-1):
        for ref, r in self.api.PIF.get_all_records().items():
            if r["device"] == device and int(r["VLAN"]) == vlan:
                return ref
        return None

    def state(self):
        """What a failed call must leave as it was."""
        return (sorted(self.api.PIF.get_all()), sorted(self.api.VLAN.get_all()), self.vsctl("list-br"),
                sorted(self.vsctl("list-ports", b) for b in self.vsctl("list-br").split()))

    def net(self, label):
        return self.api.network.create({"name_label": label, "name_description": "", "MTU": 1500,
                                        "other_config": {"automatic": "false"}, "bridge": "", "managed": True,
                                        "tags": []})


_test = guest.method_of(PifTest)


@_test
def test_1_scan(self):
    before = self.api.PIF.get_all()
    self.api.PIF.scan(self.host())
    eth1, eth2 = self.pif_of("eth1"), self.pif_of("eth2")
    self.assertIsNotNone(eth1)
    self.assertIsNotNone(eth2)
    self.assertEqual(len(self.api.PIF.get_all()), len(before) + 2, "only the two NICs: no lo, no bridge")
    r = self.api.PIF.get_record(eth1)
    with open("/sys/class/net/eth1/address") as f:
        self.assertEqual(r["MAC"], f.read().strip())
    self.assertTrue(r["physical"])
    self.assertFalse(r["currently_attached"])
    self.assertEqual(r["ip_configuration_mode"], "None")
    self.assertEqual(self.api.network.get_bridge(r["network"]), "xenbr1")
    self.assertEqual(self.api.network.get_bridge(self.api.PIF.get_network(eth2)), "xenbr2")
    m = self.api.PIF_metrics.get_record(r["metrics"])
    self.assertFalse(m["carrier"], "the NIC is down until plugged")
    self.assertEqual(m["vendor_name"], "veth")
    # a second scan adds nothing
    self.api.PIF.scan(self.host())
    self.assertEqual(len(self.api.PIF.get_all()), len(before) + 2)
    self.assertEqual(self.vsctl("list-br"), "", "scanning plugs nothing")
    # xe sees them
    out = self.xe("pif-list", "device=eth1", "params=uuid,device,network-name-label", "--minimal")
    self.assertEqual(out.stdout.strip(), self.api.PIF.get_uuid(eth1), out.stderr)


@_test
def test_2_reconfigure_plug_unplug(self):
    eth1 = self.pif_of("eth1")
    st = self.state()
    bad = [("Static", "10.99.0.300", "255.255.255.0", "", "", "IP"),
           ("Static", "10.99.0.1", "255.0.255.0", "", "", "netmask"),
           ("Static", "10.99.0.1", "255.255.255.0", "10.99.0", "", "gateway"),
           ("Static", "10.99.0.1", "255.255.255.0", "", "1.2.3.4,x", "DNS")]
    for mode, ip, mask, gw, dns, what in bad:
        self.assertXapiError("INVALID_IP_ADDRESS_SPECIFIED", self.api.PIF.reconfigure_ip, eth1, mode, ip, mask, gw,
                             dns, params=[what])
    self.assertEqual(self.api.PIF.get_ip_configuration_mode(eth1), "None")
    self.assertEqual(self.state(), st)
    # xe pif-reconfigure-ip, then pif-plug
    p = self.xe("pif-reconfigure-ip", "uuid=" + self.api.PIF.get_uuid(eth1), "mode=static", "IP=10.99.0.1",
                "netmask=255.255.255.0")
    self.assertEqual(p.returncode, 0, p.stderr)
    self.assertEqual(self.api.PIF.get_IP(eth1), "10.99.0.1")
    p = self.xe("pif-plug", "uuid=" + self.api.PIF.get_uuid(eth1))
    self.assertEqual(p.returncode, 0, p.stderr)
    self.assertTrue(self.api.PIF.get_currently_attached(eth1))
    self.assertEqual(self.vsctl("list-ports", "xenbr1"), "eth1")
    self.assertTrue(self.api.PIF_metrics.get_carrier(self.api.PIF.get_metrics(eth1)), "up, with a carrier")
    self.assertIn("10.99.0.1/24", addrs("xenbr1"))
    self.assertTrue(ping("xenbr1", "10.99.0.254"), "the host reaches the switch's untagged machine")
    # live change of the address
    self.api.PIF.reconfigure_ip(eth1, "Static", "10.99.0.2", "255.255.255.0", "", "")
    self.assertIn("10.99.0.2/24", addrs("xenbr1"))
    self.assertNotIn("10.99.0.1/", addrs("xenbr1"))
    self.assertTrue(ping("xenbr1", "10.99.0.254"))
    # disallow_unplug
    self.api.PIF.set_disallow_unplug(eth1, True)
    self.assertXapiError("PIF_DOES_NOT_ALLOW_UNPLUG", self.api.PIF.unplug, eth1, params=[eth1])
    self.assertTrue(self.api.PIF.get_currently_attached(eth1))
    self.api.PIF.set_disallow_unplug(eth1, False)
    self.api.PIF.unplug(eth1)
    self.assertFalse(self.api.PIF.get_currently_attached(eth1))
    self.assertEqual(self.vsctl("list-ports", "xenbr1"), "", "the NIC left its bridge")
    self.assertEqual(addrs("xenbr1").strip(), "", "and the address went")
    self.api.PIF.plug(eth1)
    self.assertTrue(ping("xenbr1", "10.99.0.254"))
    # IPv6
    self.assertXapiError("INVALID_IP_ADDRESS_SPECIFIED", self.api.PIF.reconfigure_ipv6, eth1, "Static", "fd00::1",
                         "", "", params=["IPv6"])
    self.api.PIF.reconfigure_ipv6(eth1, "Static", "fd00:99::1/64", "", "")
    self.assertIn("fd00:99::1/64", addrs("xenbr1", "-6"))
    self.api.PIF.reconfigure_ipv6(eth1, "None", "", "", "")
    self.assertNotIn("fd00:99::1", addrs("xenbr1", "-6"))


@_test
def test_2b_dhcp(self):
    """reconfigure_ip DHCP: a client on the bridge gets the switch's lease
    (dnsmasq on the untagged machine); None ends it."""
    if not shutil.which("dnsmasq"):
        self.skipTest("no dnsmasq")
    eth1 = self.pif_of("eth1")
    d = subprocess.Popen(["ip", "netns", "exec", self.sw.ns + "-u0", "dnsmasq", "--keep-in-foreground",
                          "--no-resolv", "--no-hosts", "--port=0", "--interface=eth0", "--bind-interfaces",
                          "--dhcp-range=10.99.0.100,10.99.0.110,255.255.255.0,1h",
                          "--dhcp-leasefile=" + os.path.join(self.srv.data_dir, "leases"), "--pid-file=", "--user=root"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        self.api.PIF.reconfigure_ip(eth1, "DHCP", "", "", "", "")
        self.assertEqual(self.api.PIF.get_ip_configuration_mode(eth1), "DHCP")
        lease = re.compile(r"inet 10\.99\.0\.1(0\d|10)/24")
        self.wait_for(lambda: lease.search(addrs("xenbr1")), 20, interval=0.2, msg="a lease on xenbr1")
        self.assertTrue(ping("xenbr1", "10.99.0.254"))
        self.api.PIF.reconfigure_ip(eth1, "Static", "10.99.0.2", "255.255.255.0", "", "")
        self.assertIn("10.99.0.2/24", addrs("xenbr1"))
        self.assertIsNone(lease.search(addrs("xenbr1")), "the lease is let go")
    finally:
        d.terminate()
        d.wait()
        if self.api.PIF.get_ip_configuration_mode(eth1) != "Static":
            self.api.PIF.reconfigure_ip(eth1, "Static", "10.99.0.2", "255.255.255.0", "", "")


@_test
def test_3_vlans(self):
    eth1, eth2 = self.pif_of("eth1"), self.pif_of("eth2")
    n100, n200, n300 = self.net("v100"), self.net("v200"), self.net("v300")
    st = self.state()
    for tag in (-1, 4095):
        self.assertXapiError("VLAN_TAG_INVALID", self.api.pool.create_VLAN_from_PIF, eth1, n100, tag,
                             params=[str(tag)])
        self.assertXapiError("VLAN_TAG_INVALID", self.api.VLAN.create, eth1, tag, n100, params=[str(tag)])
    self.assertEqual(self.state(), st)
    new = self.api.pool.create_VLAN_from_PIF(eth1, n100, 100)
    self.assertEqual(len(new), 1)
    p100 = new[0]
    r = self.api.PIF.get_record(p100)
    self.assertEqual((r["device"], int(r["VLAN"]), r["physical"], r["MAC"]), ("eth1", 100, False, "fe:ff:ff:ff:ff:ff"))
    self.assertTrue(r["currently_attached"])
    self.assertEqual(r["metrics"], self.api.PIF.get_metrics(eth1), "it shares the NIC's metrics")
    vlan = r["VLAN_master_of"]
    self.assertEqual(self.api.VLAN.get_tagged_PIF(vlan), eth1)
    self.assertEqual(self.api.VLAN.get_untagged_PIF(vlan), p100)
    self.assertEqual(int(self.api.VLAN.get_tag(vlan)), 100)
    self.assertIn(vlan, self.api.PIF.get_VLAN_slave_of(eth1))
    b100 = self.api.network.get_bridge(n100)
    self.assertEqual(self.vsctl("br-to-parent", b100), "xenbr1")
    self.assertEqual(self.vsctl("br-to-vlan", b100), "100")
    # VLAN.create (xe vlan-create) for 200
    p = self.xe("vlan-create", "pif-uuid=" + self.api.PIF.get_uuid(eth1), "vlan=200",
                "network-uuid=" + self.api.network.get_uuid(n200))
    self.assertEqual(p.returncode, 0, p.stderr)
    p200 = self.pif_of("eth1", 200)
    b200 = self.api.network.get_bridge(n200)
    self.assertEqual(self.vsctl("br-to-vlan", b200), "200")
    self.api.PIF.reconfigure_ip(p100, "Static", "10.100.0.1", "255.255.255.0", "", "")
    self.api.PIF.reconfigure_ip(p200, "Static", "10.100.0.2", "255.255.255.0", "", "")
    self.assertTrue(ping(b100, "10.100.0.254"), "VLAN 100 reaches the switch's VLAN 100 machine")
    self.assertTrue(ping(b200, "10.100.0.253"), "VLAN 200 reaches the switch's VLAN 200 machine")
    self.assertFalse(ping(b200, "10.100.0.254", 1), "VLAN 200 does not reach VLAN 100")
    self.assertFalse(ping(b100, "10.100.0.253", 1), "VLAN 100 does not reach VLAN 200")
    type(self).vlans = (n100, p100, vlan, n200, p200)

    # errors: nothing half-made
    st = self.state()
    self.assertXapiError("PIF_VLAN_EXISTS", self.api.VLAN.create, eth1, 100, n300, params=["eth1"])
    self.assertXapiError("NETWORK_ALREADY_CONNECTED", self.api.VLAN.create, eth1, 300, n100,
                         params=[self.host(), p100])
    self.assertXapiError("PIF_IS_VLAN", self.api.VLAN.create, p100, 300, n300, params=[p100])
    self.assertXapiError("PIF_VLAN_STILL_EXISTS", self.api.PIF.forget, eth1, params=[eth1])
    self.assertXapiError("PIF_IS_NOT_PHYSICAL", self.api.PIF.forget, p100, params=[p100])
    self.assertXapiError("HANDLE_INVALID", self.api.VLAN.create, eth1, 300, harness.NULL_REF)
    self.assertEqual(self.state(), st)
    # a VLAN whose plug fails (its NIC is gone) is rolled back: tag 0 is a tag
    sh("ip", "link", "del", "eth2", check=True)
    self.assertXapiError("PIF_DEVICE_NOT_FOUND", self.api.pool.create_VLAN_from_PIF, eth2, n300, 0)
    self.assertEqual(self.state(), st, "no VLAN, PIF, bridge or port left")
    self.assertFalse(self.api.PIF.get_currently_attached(eth2))


@_test
def test_4_guest_on_vlan(self):
    n100 = self.vlans[0]
    vm = self.new_vm("vlan-guest", PV_args=guest.ARGS + " xenon.ip=10.100.0.10/24")
    self.api.VIF.create({"device": "0", "network": n100, "VM": vm, "MAC": "", "MTU": 1500, "other_config": {},
                         "qos_algorithm_type": "", "qos_algorithm_params": {}})
    t = time.monotonic()
    self.api.VM.start(vm, False, False)
    self.wait_serial(vm, guest.READY)
    self.timings["guest start -> ready"] = time.monotonic() - t
    b100 = self.api.network.get_bridge(n100)
    tap = "vif%d.0" % self.api.VM.get_domid(vm)
    self.assertIn(tap, self.vsctl("list-ports", b100).split())
    self.assertEqual(self.vsctl("get", "port", tap, "tag"), "100", "the guest's port carries the VLAN's tag")

    def gping(ip, n):
        return self.api.VM.guest_exec(vm, ["sh", "-c", "ping -c %d -W 2 %s" % (n, ip)], "", 30)

    out = gping("10.100.0.254", 3)
    self.assertEqual(out["exitcode"], "0", out)
    out = gping("10.100.0.253", 2)
    self.assertNotEqual(out["exitcode"], "0", "a guest on VLAN 100 does not reach VLAN 200")
    self.api.VM.hard_shutdown(vm)
    self.assertNotIn(tap, self.vsctl("list-ports", b100).split())


@_test
def test_5_management_and_destroy(self):
    n100, p100, vlan, n200, p200 = self.vlans
    eth1 = self.pif_of("eth1")
    host = self.host()
    old = [p for p in self.api.PIF.get_all() if self.api.PIF.get_management(p)]
    self.assertEqual(len(old), 1)
    self.api.PIF.reconfigure_ip(p200, "None", "", "", "", "")
    self.assertXapiError("PIF_HAS_NO_NETWORK_CONFIGURATION", self.api.host.management_reconfigure, p200,
                         params=[p200])
    p = self.xe("host-management-reconfigure", "pif-uuid=" + self.api.PIF.get_uuid(eth1))
    self.assertEqual(p.returncode, 0, p.stderr)
    self.assertTrue(self.api.PIF.get_management(eth1))
    self.assertFalse(self.api.PIF.get_management(old[0]))
    self.assertEqual(self.api.host.get_address(host), "10.99.0.2")
    self.assertXapiError("PIF_IS_MANAGEMENT_INTERFACE", self.api.PIF.unplug, eth1, params=[eth1])
    self.assertXapiError("PIF_IS_MANAGEMENT_INTERFACE", self.api.PIF.reconfigure_ip, eth1, "None", "", "", "", "",
                         params=[eth1])
    self.api.host.management_reconfigure(old[0])
    self.assertFalse(self.api.PIF.get_management(eth1))
    # pool.management_reconfigure: the host's PIF on the network, checked first
    lone = self.api.network.create({"name_label": "no-pif", "name_description": "", "MTU": 1500,
                                    "other_config": {}, "bridge": "", "managed": True, "tags": []})
    self.assertXapiError("PIF_NOT_PRESENT", self.api.pool.management_reconfigure, lone, params=[host, lone])
    self.assertXapiError("PIF_HAS_NO_NETWORK_CONFIGURATION", self.api.pool.management_reconfigure, n200,
                         params=[p200])
    self.assertTrue(self.api.PIF.get_management(old[0]), "nothing moved")
    self.api.network.destroy(lone)
    p = self.xe("pool-management-reconfigure", "network-uuid=" + self.api.network.get_uuid(self.api.PIF.get_network(eth1)))
    self.assertEqual(p.returncode, 0, p.stderr)
    self.assertTrue(self.api.PIF.get_management(eth1))
    self.assertEqual(self.api.host.get_address(host), "10.99.0.2")
    self.api.pool.management_reconfigure(self.api.PIF.get_network(old[0]))
    self.assertTrue(self.api.PIF.get_management(old[0]))
    self.assertFalse(self.api.PIF.get_management(eth1))
    # VLAN.destroy and xe vlan-destroy: fake bridges and records go
    b100, b200 = self.api.network.get_bridge(n100), self.api.network.get_bridge(n200)
    self.api.VLAN.destroy(vlan)
    self.assertNotIn(b100, self.vsctl("list-br").split())
    self.assertXapiError("HANDLE_INVALID", self.api.PIF.get_record, p100)
    v200 = self.api.PIF.get_VLAN_master_of(p200)
    p = self.xe("vlan-destroy", "uuid=" + self.api.VLAN.get_uuid(v200))
    self.assertEqual(p.returncode, 0, p.stderr)
    self.assertEqual(self.vsctl("list-br"), "xenbr1")
    self.assertEqual(self.api.VLAN.get_all(), [])
    # forget: unplugged, the PIF and its network go
    net1 = self.api.PIF.get_network(eth1)
    self.api.PIF.forget(eth1)
    self.assertEqual(self.vsctl("list-ports", "xenbr1"), "")
    self.assertXapiError("HANDLE_INVALID", self.api.network.get_record, net1)
    self.assertIsNone(self.pif_of("eth1"))



def gro(dev):
    """The device's generic receive offload (ethtool's ETHTOOL_GGRO)."""
    import array
    import fcntl
    import socket
    import struct
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ev = array.array("I", [0x2b, 0])
        fcntl.ioctl(s.fileno(), 0x8946, struct.pack("16sP", dev.encode(), ev.buffer_info()[0]))
        return ev[1]


@_test
def test_6_introduce_properties_records(self):
    host = self.host()
    # PIF.introduce: the NIC of that name, its MAC read from the host
    st = self.state()
    self.assertXapiError("MAC_INVALID", self.api.PIF.introduce, host, "zz", "eth1", True, params=["zz"])
    self.assertXapiError("MAC_INVALID", self.api.PIF.introduce, host, "", "eth9", True, params=[""])
    self.assertXapiError("COULD_NOT_FIND_NETWORK_INTERFACE_WITH_SPECIFIED_DEVICE_NAME_AND_MAC_ADDRESS",
                         self.api.PIF.introduce, host, "02:00:00:00:00:09", "eth1", True)
    self.assertXapiError("DUPLICATE_PIF_DEVICE_NAME", self.api.PIF.introduce, host, "02:00:00:00:00:02", "eth2", True,
                         params=["eth2"])
    self.assertEqual(self.state(), st, "nothing made")
    with open("/sys/class/net/eth1/address") as f:
        mac = f.read().strip()
    eth1 = self.api.PIF.introduce(host, mac.upper(), "eth1", True)
    r = self.api.PIF.get_record(eth1)
    self.assertEqual((r["device"], r["MAC"], r["physical"], r["managed"], r["currently_attached"]),
                     ("eth1", mac, True, True, False))
    self.assertEqual(self.api.network.get_bridge(r["network"]), "xenbr1")
    self.assertEqual(r["properties"], {"gro": "on"})
    self.assertXapiError("DUPLICATE_PIF_DEVICE_NAME", self.api.PIF.introduce, host, "", "eth1", True,
                         params=["eth1"])
    sh("ip", "link", "add", "eth3", "type", "veth", "peer", "name", "peer3", check=True)
    p = self.xe("pif-introduce", "host-uuid=" + self.api.host.get_uuid(host), "device=eth3", "managed=false")
    self.assertEqual(p.returncode, 0, p.stderr)
    eth3 = self.pif_of("eth3")
    self.assertEqual(p.stdout.strip(), self.api.PIF.get_uuid(eth3))
    self.assertFalse(self.api.PIF.get_managed(eth3))
    # PIF.set_property: gro, on the device once plugged
    self.api.PIF.plug(eth1)
    self.assertEqual(gro("eth1"), 1, "plugged with its properties")
    self.api.PIF.set_property(eth1, "gro", "off")
    self.assertEqual(gro("eth1"), 0)
    self.assertEqual(self.api.PIF.get_properties(eth1), {"gro": "off"})
    self.assertXapiError("INVALID_VALUE", self.api.PIF.set_property, eth1, "gro", "maybe",
                         params=["properties", "gro = maybe"])
    self.assertXapiError("INVALID_VALUE", self.api.PIF.set_property, eth1, "mtu", "9000",
                         params=["properties", "mtu = 9000"])
    self.api.PIF.set_property(eth1, "gro", "on")
    self.assertEqual(gro("eth1"), 1)
    # pool.create_VLAN: by device name on every host
    n400 = self.net("v400")
    st = self.state()
    self.assertXapiError("INVALID_VALUE", self.api.pool.create_VLAN, "eth7", n400, 400, params=["device", "eth7"])
    self.assertXapiError("VLAN_TAG_INVALID", self.api.pool.create_VLAN, "eth1", n400, 4095, params=["4095"])
    self.assertEqual(self.state(), st)
    made = self.api.pool.create_VLAN("eth1", n400, 400)
    self.assertEqual(len(made), 1)
    self.assertEqual(int(self.api.PIF.get_VLAN(made[0])), 400)
    self.assertEqual(self.vsctl("br-to-vlan", self.api.network.get_bridge(n400)), "400")
    self.assertXapiError("CANNOT_CHANGE_PIF_PROPERTIES", self.api.PIF.set_property, made[0], "gro", "off",
                         params=[made[0]])
    self.api.VLAN.destroy(self.api.PIF.get_VLAN_master_of(made[0]))
    # PIF.db_introduce / db_forget: the record only, no bridge or port
    st = self.state()
    args = ["eth5", n400, host, "02:00:00:00:00:05", 1500, -1, True, "Static", "10.9.0.5", "255.255.255.0", "",
            "", harness.NULL_REF, harness.NULL_REF, False, {"k": "v"}, False, "None", [], "", "IPv4", True,
            {"gro": "on"}]
    self.assertXapiError("HANDLE_INVALID", self.api.PIF.db_introduce, *(args[:1] + [harness.NULL_REF] + args[2:]))
    self.assertXapiError("INVALID_VALUE", self.api.PIF.db_introduce, *(args[:7] + ["Bogus"] + args[8:]),
                         params=["ip_configuration_mode", "Bogus"])
    self.assertEqual(self.state(), st)
    pr = self.api.PIF.db_introduce(*args)
    r = self.api.PIF.get_record(pr)
    self.assertEqual((r["device"], r["network"], r["host"], r["MAC"], r["IP"], r["ip_configuration_mode"],
                      r["other_config"], r["currently_attached"]),
                     ("eth5", n400, host, "02:00:00:00:00:05", "10.9.0.5", "Static", {"k": "v"}, False))
    metrics = r["metrics"]
    self.assertEqual(self.vsctl("list-br"), st[2], "no bridge")
    p = self.xe("pif-db-forget", "uuid=" + self.api.PIF.get_uuid(pr))
    self.assertEqual(p.returncode, 0, p.stderr)
    self.assertXapiError("HANDLE_INVALID", self.api.PIF.get_record, pr)
    self.assertXapiError("HANDLE_INVALID", self.api.PIF_metrics.get_record, metrics)
    self.assertEqual(self.state(), st)
    self.api.PIF.unplug(eth1)
    self.api.network.destroy(n400)
    sh("ip", "link", "del", "eth3")


if __name__ == "__main__":
    harness.main()
