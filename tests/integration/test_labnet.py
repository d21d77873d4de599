"""Internal networks with the built-in DHCP server and NAT, and PXE boot,
with the QEMU backend inside a network namespace the test makes (the
"host"), and a second namespace standing for the outside, joined to the
host by a veth and with no route back to the internal network: only NAT
gets a guest's packets answered. A guest on a network with
other_config dhcp=true nat=true gets its address from dnsmasq and pings
the outside; an HVM VM with boot order n on a network with
pxe_boot_file boots the tiny guest's kernel and initrd over TFTP through
its NIC's iPXE ROM. dnsmasq and the nftables table go when the network is
destroyed, when the config stops asking, and when xenond stops; bad keys
are refused with INVALID_VALUE where they are written. Skipped without
root, qemu-system-x86_64, ip, nft, dnsmasq or the iPXE ROMs."""

import os
import random
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
IP = shutil.which("ip")
NFT = shutil.which("nft") or ("/usr/sbin/nft" if os.path.exists("/usr/sbin/nft") else None)
DNSMASQ = "/usr/sbin/dnsmasq"
IPXE_ROM = "/usr/lib/ipxe/qemu/efi-virtio.rom"

if __name__ == "__main__" and not os.environ.get(NETNS_ENV):
    if (os.geteuid() != 0 or not IP or not NFT or not os.path.exists(DNSMASQ) or not os.path.exists(IPXE_ROM)
            or not shutil.which("qemu-system-x86_64")):
        print("skipped: needs root, ip, nft, dnsmasq, ipxe-qemu and qemu-system-x86_64", file=sys.stderr)
        sys.exit(77)
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402
from guest import QEMU  # noqa: E402

OUT_HOST, OUT_PEER = "198.51.100.1", "198.51.100.2"


def dnsmasqs():
    """pids of the dnsmasq processes whose network namespace is ours."""
    me = os.readlink("/proc/self/ns/net")
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % pid) as f:
                if f.read().strip() != "dnsmasq":
                    continue
            if os.readlink("/proc/%s/ns/net" % pid) == me:
                found.append(int(pid))
        except OSError:
            pass
    return found


def nft_tables():
    p = subprocess.run([NFT, "list", "tables"], capture_output=True, text=True, check=True)
    return set(l.split()[-1] for l in p.stdout.splitlines() if l.startswith("table"))


def addrs(dev):
    p = subprocess.run([IP, "-4", "-o", "addr", "show", "dev", dev], capture_output=True, text=True)
    return re.findall(r"inet (\S+)", p.stdout)


def link_exists(dev):
    return os.path.exists("/sys/class/net/" + dev)


@unittest.skipIf(QEMU is None or not os.environ.get(NETNS_ENV), "needs qemu and the test namespace")
class LabNetTest(guest.GuestTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the outside: a namespace of its own behind a veth, no route back in
        cls.outside = "xenon-out-%08x" % random.getrandbits(32)
        subprocess.run([IP, "netns", "add", cls.outside], check=True)
        subprocess.run([IP, "link", "add", "xout0", "type", "veth", "peer", "name", "xout1"], check=True)
        subprocess.run([IP, "link", "set", "xout1", "netns", cls.outside], check=True)
        subprocess.run([IP, "addr", "add", OUT_HOST + "/24", "dev", "xout0"], check=True)
        subprocess.run([IP, "link", "set", "xout0", "up"], check=True)
        for cmd in (["addr", "add", OUT_PEER + "/24", "dev", "xout1"], ["link", "set", "xout1", "up"],
                    ["link", "set", "lo", "up"]):
            subprocess.run([IP, "-n", cls.outside] + cmd, check=True)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            subprocess.run([IP, "netns", "del", cls.outside])

    def mknet(self, name, **oc):
        return self.api.network.create({"name_label": name, "name_description": "", "MTU": 1500,
                                        "other_config": oc, "bridge": "", "managed": True, "tags": []})

    def vif(self, vm, net):
        return self.api.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500,
                                    "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})

    def exec_(self, vm, cmd, timeout=60):
        return self.api.VM.guest_exec(vm, ["sh", "-c", cmd], "", timeout)

    def assert_services(self, bridge, dhcp, nat, addr):
        table = "xenon_" + bridge
        self.wait_for(lambda: link_exists(bridge) and addr in addrs(bridge), 10, msg="%s on %s" % (addr, bridge))
        self.wait_for(lambda: (len(dnsmasqs()) > 0) == dhcp, 10, msg="dnsmasq running: %s" % dhcp)
        self.wait_for(lambda: (table in nft_tables()) == nat, 10, msg="nft table %s: %s" % (table, nat))

    def assert_nothing_left(self, bridge, bridge_gone):
        deadline = time.monotonic() + 10
        while dnsmasqs() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(dnsmasqs(), [], self.srv.log_tail(40))
        self.wait_for(lambda: "xenon_" + bridge not in nft_tables(), 10, msg="the nft table gone")
        if bridge_gone:
            self.wait_for(lambda: not link_exists(bridge), 10, msg="%s gone" % bridge)

    def test_1_dhcp_nat(self):
        # bad keys are refused where they are written, and nothing starts
        n = len(self.api.network.get_all())
        self.assertXapiError("INVALID_VALUE", self.mknet, "lab-bad", dhcp="true", ip_begin="10.79.1.1",
                             ip_end="10.79.1.9", netmask="255.0.255.0", params=["other_config:netmask", "255.0.255.0"])
        self.assertEqual(len(self.api.network.get_all()), n, "no network made")
        part = self.mknet("lab-part", ip_begin="10.79.1.1", netmask="255.255.255.0")
        self.assertXapiError("INVALID_VALUE", self.api.network.add_to_other_config, part, "dhcp", "true",
                             params=["other_config:ip_end", ""])
        self.api.network.add_to_other_config(part, "nat", "true")  # NAT needs no range
        self.assertXapiError("INVALID_VALUE", self.api.network.remove_from_other_config, part, "netmask",
                             params=["other_config:netmask", ""])
        self.assertXapiError("INVALID_VALUE", self.api.network.set_other_config, part,
                             {"nat": "true", "ip_begin": "10.79.1.0", "netmask": "255.255.255.0"},
                             params=["other_config:ip_begin", "10.79.1.0"])
        p = self.srv.xe("network-param-set", "uuid=" + self.api.network.get_uuid(part), "other-config:ip_begin=x")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("other_config:ip_begin", p.stdout + p.stderr)
        self.assertEqual(self.api.network.get_other_config(part),
                         {"ip_begin": "10.79.1.1", "netmask": "255.255.255.0", "nat": "true"})
        part_bridge = self.api.network.get_bridge(part)
        self.assert_services(part_bridge, False, True, "10.79.1.1/24")
        self.api.network.destroy(part)
        self.assert_nothing_left(part_bridge, bridge_gone=True)

        net = self.mknet("lab-nat", dhcp="true", nat="true", ip_begin="10.79.0.1", ip_end="10.79.0.50",
                         netmask="255.255.255.0")
        bridge = self.api.network.get_bridge(net)
        self.assert_services(bridge, True, True, "10.79.0.1/24")
        # shown by xe
        p = self.srv.xe("network-param-list", "uuid=" + self.api.network.get_uuid(net))
        self.assertEqual(p.returncode, 0, p.stderr)
        for kv in ("dhcp: true", "nat: true", "ip_begin: 10.79.0.1", "ip_end: 10.79.0.50"):
            self.assertIn(kv, p.stdout)
        # the outside has no way back to 10.79.0.0/24 but through the NAT
        r = subprocess.run([IP, "-n", self.outside, "route", "get", "10.79.0.10"], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        vm = self.new_vm("lab-nat-vm", PV_args=guest.ARGS + " xenon.ip=dhcp xenon.gw=10.79.0.1")
        self.vif(vm, net)
        self.start_ready(vm, "dhcp guest: start -> ready")
        got = self.wait_for(lambda: re.findall(r"inet (10\.79\.0\.\d+)/24",
                                               self.exec_(vm, "ip -4 addr show eth0")["stdout"]), 30,
                            interval=0.5, msg="a DHCP lease")
        last = int(got[0].rsplit(".", 1)[1])
        self.assertTrue(2 <= last <= 50, got)
        out = self.exec_(vm, "ip route; ping -c 3 -W 3 %s" % OUT_PEER)
        self.assertIn("3 packets received", out["stdout"], out)
        self.assertIn("default via 10.79.0.1", out["stdout"])
        # without the NAT table the outside cannot answer
        subprocess.run([NFT, "delete", "table", "ip", "xenon_" + bridge], check=True)
        out = self.exec_(vm, "ping -c 2 -W 1 %s" % OUT_PEER)
        self.assertIn("0 packets received", out["stdout"], out)
        # a config change is applied: NAT again (and the DHCP server restarted)
        self.api.network.add_to_other_config(net, "pxe_boot_file", "none.ipxe")
        self.wait_for(lambda: "xenon_" + bridge in nft_tables(), 10, msg="the table back")
        out = self.exec_(vm, "ping -c 2 -W 3 %s" % OUT_PEER)
        self.assertIn("2 packets received", out["stdout"], out)
        # the config stops asking for NAT: the table goes, DHCP stays
        self.api.network.remove_from_other_config(net, "nat")
        self.wait_for(lambda: "xenon_" + bridge not in nft_tables(), 10, msg="the table gone")
        self.wait_for(dnsmasqs, 10, msg="dnsmasq restarted without NAT")
        self.api.VM.hard_shutdown(vm)
        self.api.network.destroy(net)
        self.assert_nothing_left(bridge, bridge_gone=True)

    def test_2_pxe(self):
        net = self.mknet("lab-pxe", dhcp="true", ip_begin="10.80.0.1", ip_end="10.80.0.20",
                         netmask="255.255.255.0", pxe_boot_file="boot.ipxe")
        bridge = self.api.network.get_bridge(net)
        self.assert_services(bridge, True, False, "10.80.0.1/24")
        tftp = os.path.join(self.srv.data_dir, "tftp", self.api.network.get_uuid(net))
        self.assertTrue(os.path.isdir(tftp), "xenond made the network's TFTP directory")
        shutil.copy(os.path.join(guest.GUEST, "vmlinuz"), tftp)
        shutil.copy(os.path.join(guest.GUEST, "initrd.img"), tftp)
        with open(os.path.join(tftp, "boot.ipxe"), "w") as f:
            f.write("#!ipxe\nkernel tftp://10.80.0.1/vmlinuz %s xenon.ip=dhcp\n"
                    "initrd tftp://10.80.0.1/initrd.img\nboot\n" % guest.ARGS)
        vm = self.new_vm("lab-pxe-vm", kernel="", ramdisk="", HVM_boot_policy="BIOS order",
                         HVM_boot_params={"order": "n"}, domain_type="hvm",
                         platform={"nic_type": "virtio-net-pci"})
        self.vif(vm, net)
        t = time.monotonic()
        self.api.VM.start(vm, False, False)
        argv = self.qemu_cmdline(vm)
        self.assertTrue(any(a.startswith("virtio-net-pci,id=nic0,") and a.endswith(",bootindex=0") for a in argv),
                        argv)
        self.assertNotIn("-kernel", argv)
        self.wait_serial(vm, guest.READY, timeout=150)
        self.timings["PXE: start -> ready"] = time.monotonic() - t
        with open(os.path.join(self.srv.data_dir, "run", "net", bridge, "dnsmasq.log")) as f:
            log = f.read()
        for name in ("boot.ipxe", "vmlinuz", "initrd.img"):
            self.assertRegex(log, r"sent \S*/%s to 10\.80\.0\.\d+" % re.escape(name))
        out = self.exec_(vm, "ip -4 addr show eth0")
        self.assertRegex(out["stdout"], r"inet 10\.80\.0\.\d+/24")
        # xenond stops: nothing of the network's services is left
        self.srv.stop()
        self.assertEqual(self.srv.proc.returncode, 0, self.srv.log_tail(30))
        self.assert_nothing_left(bridge, bridge_gone=False)
        self.assertEqual(addrs(bridge), [], "the host's address left the bridge")
        self.srv.start()
        type(self).api = self.srv.api
        self.assert_services(bridge, True, False, "10.80.0.1/24")
        # killed: its dnsmasq outlives it, and the next xenond ends it (one runs, not two)
        old = dnsmasqs()
        self.assertEqual(len(old), 1)
        self.srv.kill9()
        self.assertEqual(dnsmasqs(), old)
        self.srv.start()
        type(self).api = self.srv.api
        self.wait_for(lambda: len(dnsmasqs()) == 1 and dnsmasqs() != old, 10, msg="a new dnsmasq, the old one gone")
        self.api.VM.hard_shutdown(vm)
        self.api.network.destroy(net)
        self.assert_nothing_left(bridge, bridge_gone=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
