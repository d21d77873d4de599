"""The built-in DHCP server and NAT of internal networks on the
openvswitch network backend: the network's bridge is an Open vSwitch bridge
(on the datapath this kernel has), carrying the host's address, dnsmasq and
the nftables table; a guest on it gets a lease and pings the outside
through the NAT; a network whose services stop while a guest's tap is on
the bridge keeps the bridge, and once destroyed with no port left its
bridge leaves Open vSwitch's database. Runs the DHCP/NAT case of
test_labnet with network-backend = openvswitch. Skipped without root,
qemu-system-x86_64, ip, nft, dnsmasq or Open vSwitch."""

import os
import shutil
import signal
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

NETNS_ENV = harness.NETNS_ENV
VSCTL = shutil.which("ovs-vsctl")

if __name__ == "__main__" and not os.environ.get(NETNS_ENV):
    import test_labnet  # noqa: E402
    if (os.geteuid() != 0 or not test_labnet.IP or not test_labnet.NFT or not os.path.exists(test_labnet.DNSMASQ)
            or not VSCTL or not shutil.which("ovs-vswitchd") or not shutil.which("qemu-system-x86_64")):
        print("skipped: needs root, ip, nft, dnsmasq, Open vSwitch and qemu-system-x86_64", file=sys.stderr)
        sys.exit(77)
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402
import test_labnet  # noqa: E402
from guest import QEMU  # noqa: E402


def pid_of(path):
    try:
        with open(path) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


@unittest.skipIf(QEMU is None or not os.environ.get(NETNS_ENV), "needs qemu and the test namespace")
class OvsLabNetTest(test_labnet.LabNetTest):
    config = "network-backend = openvswitch\n"
    test_2_pxe = None  # PXE does not depend on the backend: test_labnet has it

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            for d in ("ovs-vswitchd", "ovsdb-server"):
                pid = pid_of(os.path.join(cls.srv.data_dir, "ovs", d + ".pid"))
                if pid:
                    os.kill(pid, signal.SIGTERM)

    def vsctl(self, *args):
        return subprocess.run([VSCTL, "--db=unix:" + os.path.join(self.srv.data_dir, "ovs", "db.sock"),
                               "--timeout=10"] + list(args), capture_output=True, text=True)

    def ovs_bridges(self):
        p = self.vsctl("list-br")
        self.assertEqual(p.returncode, 0, p.stderr)
        return set(p.stdout.split())

    def assert_services(self, bridge, dhcp, nat, addr):
        super().assert_services(bridge, dhcp, nat, addr)
        self.assertIn(bridge, self.ovs_bridges(), "the network's bridge is an Open vSwitch bridge")

    def assert_nothing_left(self, bridge, bridge_gone):
        super().assert_nothing_left(bridge, bridge_gone)
        if bridge_gone:
            self.wait_for(lambda: bridge not in self.ovs_bridges(), 10, msg="%s gone from OVSDB" % bridge)

    def test_1_dhcp_nat(self):
        super().test_1_dhcp_nat()

    def test_2_ports_keep_the_bridge(self):
        # services stop while a guest's port is on the bridge: the bridge and
        # the port stay, only the address, dnsmasq and the table go
        net = self.mknet("lab-ovs-keep", dhcp="true", ip_begin="10.81.0.1", ip_end="10.81.0.9",
                         netmask="255.255.255.0")
        bridge = self.api.network.get_bridge(net)
        self.assert_services(bridge, True, False, "10.81.0.1/24")
        vm = self.new_vm("lab-ovs-keep-vm")
        self.vif(vm, net)
        self.api.VM.start(vm, False, False)
        ports = self.vsctl("list-ports", bridge).stdout.split()
        self.assertEqual(len(ports), 1, ports)
        self.assertTrue(ports[0].startswith("vif"), ports)
        self.api.network.set_other_config(net, {})
        self.assert_nothing_left(bridge, bridge_gone=False)
        self.assertIn(bridge, self.ovs_bridges())
        self.assertEqual(self.vsctl("list-ports", bridge).stdout.split(), ports, "the guest's port stays")
        # the address goes last, after dnsmasq and the table that assert_nothing_left waited for
        self.wait_for(lambda: test_labnet.addrs(bridge) == [], 10, msg="the host's address left the bridge")
        self.api.VM.hard_shutdown(vm)


if __name__ == "__main__":
    unittest.main(verbosity=2)
