"""Private networks across hosts, and VLANs across hosts: tunnel.create (vxlan; gre in the
two-argument form) between two hosts, each a network namespace running its
own xenond with the openvswitch backend, whose NICs eth1 are cables to a
lab switch (ovs_lab.LabSwitch). Until hosts can join a pool, each host's
network names the other end in other_config:tunnel_peers and both use
other_config:tunnel_key. A guest on each host reaches the other through
the tunnel (the switch has no route to the guests' subnet); tunnel.create's
bad input gets xapi's errors and leaves nothing behind; tunnel.destroy
removes the ports. Then VLAN 100 on both hosts: a guest on each reaches the
other over the switch's trunk, and not host b's address on VLAN 200. Skipped without root, ip, Open vSwitch and
qemu-system-x86_64."""

import os
import random
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

NETNS_ENV = harness.NETNS_ENV
IP = shutil.which("ip") or "/usr/sbin/ip"

if __name__ == "__main__" and not os.environ.get(NETNS_ENV):
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("ovs-vswitchd") \
            or not shutil.which("qemu-system-x86_64"):
        print("skipped: needs root, ip, Open vSwitch and qemu-system-x86_64", file=sys.stderr)
        sys.exit(77)
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402
import ovs_lab  # noqa: E402
from guest import QEMU  # noqa: E402

CONF = "network-backend = openvswitch\n"
KEY = "4242"


def sh(*cmd, check=False):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


@unittest.skipIf(QEMU is None or not os.environ.get(NETNS_ENV), "needs qemu and the test namespace")
class TunnelTest(guest.GuestTestCase):
    config = CONF

    @classmethod
    def setUpClass(cls):
        cls.nsb = "xtunb%06x" % random.getrandbits(24)
        cls.srvb = None
        cls.sw = ovs_lab.LabSwitch()
        try:
            sh(IP, "netns", "add", cls.nsb, check=True)
            sh(IP, "-n", cls.nsb, "link", "set", "lo", "up", check=True)
            cls.sw.nic("eth1")
            cls.sw.nic("eth1", peer_ns=cls.nsb, port="s-b-eth1")
            # the test reaches host b's API over a cable of its own
            sh(IP, "link", "add", "tob", "type", "veth", "peer", "name", "toa", "netns", cls.nsb, check=True)
            sh(IP, "addr", "add", "10.98.0.1/24", "dev", "tob", check=True)
            sh(IP, "link", "set", "tob", "up", check=True)
            sh(IP, "-n", cls.nsb, "addr", "add", "10.98.0.2/24", "dev", "toa", check=True)
            sh(IP, "-n", cls.nsb, "link", "set", "toa", "up", check=True)
            super().setUpClass()
            cls.srvb = harness.Server(backend="qemu", host="10.98.0.2", config=CONF,
                                      prefix=[IP, "netns", "exec", cls.nsb])
            guest.provide(cls.srvb.data_dir, cls.kernel)
            cls.srvb.start()
            cls.apib = cls.srvb.api
        except BaseException:
            cls.cleanup()
            raise

    @classmethod
    def cleanup(cls):
        if cls.srvb is not None:
            try:
                for vm in cls.apib.VM.get_all():
                    if cls.apib.VM.get_power_state(vm) == "Running":
                        cls.apib.VM.hard_shutdown(vm)
            except Exception:
                pass
            cls.srvb.stop()
            ovs_lab.stop_ovs_of(cls.srvb.data_dir)
        cls.sw.close()
        sh(IP, "netns", "del", cls.nsb)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            ovs_lab.stop_ovs_of(cls.srv.data_dir)
            cls.cleanup()

    def vsctl(self, srv, *args):
        db = "unix:" + os.path.join(srv.data_dir, "ovs", "db.sock")
        return sh("ovs-vsctl", "--db=" + db, "--timeout=10", *args).stdout.strip()

    def eth1(self, api):
        return [p for p, r in api.PIF.get_all_records().items() if r["device"] == "eth1"][0]

    def net(self, api, peer, key=KEY):
        return api.network.create({"name_label": "private", "name_description": "", "MTU": 1500,
                                   "other_config": {"tunnel_key": key, "tunnel_peers": peer}, "bridge": "",
                                   "managed": True, "tags": []})

    def guest_on(self, api, net, ip):
        rec = {"name_label": "tun-guest", "name_description": "", "user_version": 1, "is_a_template": False,
               "affinity": harness.NULL_REF, "memory_static_max": 256 * guest.MiB,
               "memory_dynamic_max": 256 * guest.MiB, "memory_dynamic_min": 256 * guest.MiB,
               "memory_static_min": 128 * guest.MiB, "VCPUs_params": {}, "VCPUs_max": 1, "VCPUs_at_startup": 1,
               "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
               "actions_after_crash": "destroy", "PV_bootloader": "", "PV_kernel": self.kernel,
               "PV_ramdisk": "initrd.img", "PV_args": guest.ARGS + " xenon.ip=%s/24" % ip,
               "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "", "HVM_boot_params": {},
               "platform": {}, "PCI_bus": "", "other_config": {}, "recommendations": "", "domain_type": "pv"}
        vm = api.VM.create(rec)
        api.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500, "other_config": {},
                        "qos_algorithm_type": "", "qos_algorithm_params": {}})
        api.VM.start(vm, False, False)
        return vm


_test = guest.method_of(TunnelTest)


@_test
def test_1_transport_and_errors(self):
    for api, ip in ((self.api, "10.99.0.1"), (self.apib, "10.99.0.2")):
        api.PIF.scan(api.host.get_all()[0])
    a, b = self.eth1(self.api), self.eth1(self.apib)
    na = self.net(self.api, "10.99.0.2")
    type(self).na = na
    before = (sorted(self.api.PIF.get_all()), self.vsctl(self.srv, "show"))
    self.assertXapiError("TRANSPORT_PIF_NOT_CONFIGURED", self.api.tunnel.create, a, na, "vxlan", params=[a])
    self.assertEqual((sorted(self.api.PIF.get_all()), self.vsctl(self.srv, "show")), before)
    for api, ip in ((self.api, "10.99.0.1"), (self.apib, "10.99.0.2")):
        p = self.eth1(api)
        api.PIF.reconfigure_ip(p, "Static", ip, "255.255.255.0", "", "")
        api.PIF.plug(p)
    self.assertEqual(sh(*(["ping"] if shutil.which("ping") else ["busybox", "ping"]), "-c", "2", "-W", "2",
                        "-I", "xenbr1", "10.99.0.2").returncode, 0, "the hosts reach each other")
    self.assertXapiError("HANDLE_INVALID", self.api.tunnel.create, a, harness.NULL_REF, "vxlan")


@_test
def test_2_vxlan_guests(self):
    a, b = self.eth1(self.api), self.eth1(self.apib)
    na, nb = self.na, self.net(self.apib, "10.99.0.1")
    p = self.srv.xe("tunnel-create", "pif-uuid=" + self.api.PIF.get_uuid(a),
                    "network-uuid=" + self.api.network.get_uuid(na), "protocol=vxlan")
    self.assertEqual(p.returncode, 0, p.stderr)
    ta = self.api.tunnel.get_by_uuid(p.stdout.strip())
    tb = self.apib.tunnel.create(b, nb, "vxlan")
    type(self).tunnels = (ta, tb)
    r = self.api.tunnel.get_record(ta)
    self.assertEqual((r["protocol"], r["transport_PIF"], r["status"]), ("vxlan", a, {"active": "true"}))
    acc = self.api.PIF.get_record(r["access_PIF"])
    self.assertEqual((acc["device"], acc["physical"], acc["network"]), ("tunnel0", False, na))
    self.assertTrue(acc["currently_attached"])
    self.assertEqual(self.api.PIF.get_tunnel_access_PIF_of(r["access_PIF"]), [ta])
    self.assertEqual(self.api.PIF.get_tunnel_transport_PIF_of(a), [ta])
    bridge = self.api.network.get_bridge(na)
    port = "t%06x%08x" % (int(KEY), 0x0a630002)
    self.assertEqual(self.vsctl(self.srv, "list-ports", bridge), port)
    self.assertEqual(self.vsctl(self.srv, "get", "interface", port, "type"), "vxlan")
    self.assertEqual(self.vsctl(self.srv, "get", "interface", port, "options:remote_ip"), '"10.99.0.2"')
    # errors: nothing half-made
    before = (sorted(self.api.PIF.get_all()), sorted(self.api.tunnel.get_all()), self.vsctl(self.srv, "show"))
    self.assertXapiError("NETWORK_ALREADY_CONNECTED", self.api.tunnel.create, a, na, "gre",
                         params=[self.api.host.get_all()[0], r["access_PIF"]])
    self.assertXapiError("IS_TUNNEL_ACCESS_PIF", self.api.tunnel.create, r["access_PIF"], na, "gre",
                         params=[r["access_PIF"]])
    self.assertEqual((sorted(self.api.PIF.get_all()), sorted(self.api.tunnel.get_all()),
                      self.vsctl(self.srv, "show")), before)

    t = time.monotonic()
    va = self.guest_on(self.api, na, "10.200.0.1")
    vb = self.guest_on(self.apib, nb, "10.200.0.2")
    self.vms.append(va)
    self.wait_serial(va, guest.READY)
    serial_b = os.path.join(self.srvb.data_dir, "run", "vm", self.apib.VM.get_uuid(vb), "serial.log")
    self.wait_for(lambda: os.path.exists(serial_b) and guest.READY in open(serial_b, errors="replace").read(), 90,
                  msg="guest on host b ready")
    self.timings["two guests on two hosts: ready"] = time.monotonic() - t
    out = self.api.VM.guest_exec(va, ["sh", "-c", "ping -c 3 -W 3 10.200.0.2"], "", 60)
    self.assertEqual(out["exitcode"], "0", out)
    self.assertIn("3 packets received", out["stdout"])
    out = self.apib.VM.guest_exec(vb, ["sh", "-c", "ping -c 2 -W 3 10.200.0.1"], "", 60)
    self.assertEqual(out["exitcode"], "0", out)
    # the NIC as it was built: no offloads, and the MTU the tunnel carries
    # whole (the transport's 1500 less vxlan's 50), told to the guest
    vif = self.api.VM.get_VIFs(va)[0]
    self.assertEqual(self.api.VIF.get_runtime_properties(vif), {"tunnelled": "true", "mtu": "1450"})
    out = self.api.VM.guest_exec(va, ["sh", "-c", "cat /sys/class/net/eth0/mtu"], "", 60)
    self.assertEqual(out["stdout"].strip(), "1450", out)
    # the tunnel goes while the guest runs: a new device model takes the
    # guest over with the NIC built as before (QEMU takes the guest's state
    # only into the same device), and its next start builds it anew
    self.api.tunnel.destroy(ta)
    self.api.VM.restart_device_models(va)
    self.assertEqual(self.api.VIF.get_runtime_properties(vif), {"tunnelled": "true", "mtu": "1450"})
    out = self.api.VM.guest_exec(va, ["sh", "-c", "cat /sys/class/net/eth0/mtu"], "", 60)
    self.assertEqual(out["stdout"].strip(), "1450", out)
    self.apib.VM.hard_shutdown(vb)
    self.api.VM.hard_shutdown(va)
    self.assertEqual(self.api.VIF.get_runtime_properties(vif), {})
    self.api.VM.start(va, False, False)
    self.assertEqual(self.api.VIF.get_runtime_properties(vif), {"tunnelled": "false", "mtu": "1500"})
    self.api.VM.hard_shutdown(va)
    ta = self.api.tunnel.create(a, na, "vxlan")
    type(self).tunnels = (ta, tb)


@_test
def test_3_gre_two_argument_form_and_destroy(self):
    a = self.eth1(self.api)
    ng = self.net(self.api, "10.99.0.2", key="4243")
    # the form before protocols: gre
    tg = self.api.tunnel.create(a, ng)
    self.assertEqual(self.api.tunnel.get_protocol(tg), "gre")
    bg = self.api.network.get_bridge(ng)
    port = "t%06x%08x" % (4243, 0x0a630002)
    self.assertEqual(self.vsctl(self.srv, "get", "interface", port, "type"), "gre")
    p = self.srv.xe("tunnel-destroy", "uuid=" + self.api.tunnel.get_uuid(tg))
    self.assertEqual(p.returncode, 0, p.stderr)
    self.assertEqual(self.vsctl(self.srv, "list-ports", bg), "")
    ta, tb = self.tunnels
    acc = self.api.tunnel.get_access_PIF(ta)
    self.api.tunnel.destroy(ta)
    self.assertEqual(self.api.tunnel.get_all(), [])
    self.assertXapiError("HANDLE_INVALID", self.api.PIF.get_record, acc)
    self.assertEqual(self.vsctl(self.srv, "list-ports", self.api.network.get_bridge(self.na)), "")


@_test
def test_4_vlan_across_hosts(self):
    """VLAN 100 on both hosts' eth1: a guest on each reaches the other over
    the lab switch's trunk; host b's own address on VLAN 200 (same
    subnet) is out of reach of the guest on VLAN 100."""
    a, b = self.eth1(self.api), self.eth1(self.apib)

    def vnet(api, label):
        return api.network.create({"name_label": label, "name_description": "", "MTU": 1500, "other_config": {},
                                   "bridge": "", "managed": True, "tags": []})

    na, nb, nb200 = vnet(self.api, "v100"), vnet(self.apib, "v100"), vnet(self.apib, "v200")
    self.api.pool.create_VLAN_from_PIF(a, na, 100)
    p = self.srvb.xe("vlan-create", "pif-uuid=" + self.apib.PIF.get_uuid(b), "vlan=100",
                     "network-uuid=" + self.apib.network.get_uuid(nb))
    self.assertEqual(p.returncode, 0, p.stderr)
    self.apib.VLAN.create(b, 200, nb200)
    p200 = [p for p, r in self.apib.PIF.get_all_records().items() if int(r["VLAN"]) == 200][0]
    self.apib.PIF.reconfigure_ip(p200, "Static", "10.201.0.9", "255.255.255.0", "", "")
    t = time.monotonic()
    va = self.guest_on(self.api, na, "10.201.0.1")
    vb = self.guest_on(self.apib, nb, "10.201.0.2")
    self.vms.append(va)
    self.wait_serial(va, guest.READY)
    serial_b = os.path.join(self.srvb.data_dir, "run", "vm", self.apib.VM.get_uuid(vb), "serial.log")
    self.wait_for(lambda: os.path.exists(serial_b) and guest.READY in open(serial_b, errors="replace").read(), 90,
                  msg="guest on host b ready")
    self.timings["two guests on VLAN 100: ready"] = time.monotonic() - t
    out = self.api.VM.guest_exec(va, ["sh", "-c", "ping -c 3 -W 3 10.201.0.2"], "", 60)
    self.assertEqual(out["exitcode"], "0", out)
    # host b answers ARP only on the link that has the address, so only a
    # frame that crossed from VLAN 100 into VLAN 200 could get an answer
    sh(IP, "netns", "exec", self.nsb, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", check=True)
    out = self.api.VM.guest_exec(va, ["sh", "-c", "ping -c 2 -W 2 10.201.0.9"], "", 60)
    self.assertNotEqual(out["exitcode"], "0", "VLAN 100 does not reach VLAN 200")
    self.apib.VM.hard_shutdown(vb)
    self.api.VM.hard_shutdown(va)


if __name__ == "__main__":
    harness.main()
