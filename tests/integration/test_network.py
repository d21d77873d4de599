"""VM networking with the QEMU backend, inside a network namespace the test
makes (the host's own network is never touched): network.create picks a
bridge name as xapi does, VIF.create derives MACs from the VM's mac_seed as
xapi's gen_mac does, and two tiny guests on one network get taps
vif<domid>.0 on the bridge, see their VIF.MAC as eth0's address and ping
each other (tcpdump on the host's tap sees the ICMP). VIF.plug/unplug hot-
plug a NIC into a running guest; taps go with the domain (shutdown, a start
that fails, a QEMU that died while xenond was down) and survive kill -9 of
xenond. Skipped without root, qemu-system-x86_64, ip or tcpdump.

The module re-runs itself under `ip netns exec xenon-test-<random>`, so the
daemon, its QEMUs, tcpdump and the test's HTTP client all share the
namespace (and its loopback)."""

import hashlib
import os
import re
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
TCPDUMP = shutil.which("tcpdump")

if __name__ == "__main__" and not os.environ.get(NETNS_ENV):
    if os.geteuid() != 0 or not IP or not TCPDUMP or not shutil.which("qemu-system-x86_64"):
        print("skipped: needs root, ip, tcpdump and qemu-system-x86_64", file=sys.stderr)
        sys.exit(77)
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402
from harness import NULL_REF  # noqa: E402
from guest import QEMU, qemu_alive, qemu_of_uuid, read_pid  # noqa: E402

MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def gen_mac(device, seed):
    """xapi's Xapi_vif_helpers.gen_mac, written from its definition: MD5
    applied 2*device+1 times to the seed, four bytes of it and two of its
    MD5, locally administered and unicast."""
    h = hashlib.md5(seed.encode()).digest()
    for _ in range(device * 2):
        h = hashlib.md5(h).digest()
    h2 = hashlib.md5(h).digest()
    b = [(h[0] | 2) & ~1, h[1], h[2], h[3], h2[1], h2[2]]
    return ":".join("%02x" % x for x in b)


def _read(path):
    with open(path) as f:
        return f.read()


def links():
    return set(os.listdir("/sys/class/net"))


def vif_links():
    return {n for n in links() if re.match(r"^vif\d+\.\d+$", n)}


def ports(bridge):
    try:
        return set(os.listdir("/sys/class/net/%s/brif" % bridge))
    except OSError:
        return set()


@unittest.skipIf(QEMU is None or not os.environ.get(NETNS_ENV), "needs qemu and the test namespace")
class NetworkTest(guest.GuestTestCase):
    pass


_test = guest.method_of(NetworkTest)


def _net_vm(self, name, ip, net, mac=""):
    vm = self.new_vm(name, PV_args=guest.ARGS + " xenon.ip=%s/24" % ip)
    vif = self.api.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": mac, "MTU": 1500,
                               "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
    return vm, vif


def _exec(self, vm, cmd, timeout=30):
    return self.api.VM.guest_exec(vm, ["sh", "-c", cmd], "", timeout)


def _guest_macs(self, vm):
    out = _exec(self, vm, "cat /sys/class/net/*/address")
    return set(out["stdout"].split())


def _ping(self, vm, ip):
    return _exec(self, vm, "ping -c 3 -W 3 %s" % ip, 60)


NetworkTest.net_vm = _net_vm
NetworkTest.guest_exec = _exec
NetworkTest.guest_macs = _guest_macs
NetworkTest.ping = _ping


@_test
def test_1_records(self):
    """Bridge names, MACs and devices as xapi gives them; nothing on the
    host until a VM runs."""
    mk = lambda **kw: self.api.network.create(dict({"name_label": "n", "name_description": "", "MTU": 1500,
                                                    "other_config": {}, "bridge": "", "managed": True,
                                                    "tags": []}, **kw))
    net = mk(name_label="it-net")
    bridge = self.api.network.get_bridge(net)
    self.assertRegex(bridge, r"^xapi\d+$")
    self.assertNotIn(bridge, links(), "the bridge is made when a VM needs it")
    self.assertNotEqual(self.api.network.get_bridge(mk()), bridge)
    self.assertEqual(self.api.network.get_MTU(mk(MTU=0)), 1500)
    for bad in ("vif7", "eth9", "xenbr9", "tapx", "a-very-long-bridge-name"):
        self.assertXapiError("INVALID_VALUE", mk, bridge=bad, params=["bridge", bad])
    mk(bridge="itbr0")
    self.assertXapiError("BRIDGE_NAME_EXISTS", mk, bridge="itbr0", params=["itbr0"])

    vm = self.new_vm("mac-vm")
    seed = self.api.VM.get_other_config(vm).get("mac_seed")
    self.assertTrue(seed and harness.UUID_RE.match(seed), "VM.create gives a mac_seed")
    rec = {"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500, "other_config": {},
           "qos_algorithm_type": "", "qos_algorithm_params": {}}
    v0 = self.api.VIF.create(rec)
    v3 = self.api.VIF.create(dict(rec, device="3"))
    r0, r3 = self.api.VIF.get_record(v0), self.api.VIF.get_record(v3)
    self.assertEqual(r0["MAC"], gen_mac(0, seed))
    self.assertEqual(r3["MAC"], gen_mac(3, seed))
    self.assertTrue(r0["MAC_autogenerated"])
    self.assertFalse(r0["currently_attached"])
    self.assertEqual(r0["allowed_operations"], ["attach"])
    given = self.api.VIF.create(dict(rec, device="4", MAC="00:16:3E:01:02:03"))
    self.assertEqual(self.api.VIF.get_MAC(given), "00:16:3E:01:02:03")
    self.assertFalse(self.api.VIF.get_MAC_autogenerated(given))
    n = len(self.api.VIF.get_all())
    self.assertXapiError("DEVICE_ALREADY_EXISTS", self.api.VIF.create, rec, params=["0"])
    for bad in ("00:16:3e:01:02", "00-16-3e-01-02-03", "zz:16:3e:01:02:03", "0:16:3e:01:02:03:"):
        self.assertXapiError("MAC_INVALID", self.api.VIF.create, dict(rec, device="5", MAC=bad), params=[bad])
    for dev in ("-1", "eth0", "", "1.5"):
        self.assertXapiError("INVALID_DEVICE", self.api.VIF.create, dict(rec, device=dev), params=[dev])
    self.assertXapiError("HANDLE_INVALID", self.api.VIF.create, dict(rec, device="6", network=NULL_REF))
    self.assertEqual(len(self.api.VIF.get_all()), n, "a refused create leaves no VIF")
    # a VM without a seed (xapi's VM.create always adds one) needs a MAC
    self.api.VM.remove_from_other_config(vm, "mac_seed")
    self.assertXapiError("MAC_INVALID", self.api.VIF.create, dict(rec, device="7"), params=[""])
    # not running: nothing to plug into
    self.assertXapiError("VM_BAD_POWER_STATE", self.api.VIF.plug, v0, params=[vm, "running", "halted"])
    self.assertXapiError("VM_BAD_POWER_STATE", self.api.VIF.unplug, v0, params=[vm, "running", "halted"])
    # xe: vif-create without mac= gets the derived MAC too, network-create a bridge
    if os.path.exists(harness.XE):
        self.api.VM.add_to_other_config(vm, "mac_seed", seed)
        p = self.srv.xe("vif-create", "vm-uuid=" + self.api.VM.get_uuid(vm),
                        "network-uuid=" + self.api.network.get_uuid(net), "device=2", minimal=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        v2 = self.api.VIF.get_by_uuid(p.stdout.strip())
        self.assertEqual(self.api.VIF.get_MAC(v2), gen_mac(2, seed))
        p = self.srv.xe("vif-create", "vm-uuid=" + self.api.VM.get_uuid(vm),
                        "network-uuid=" + self.api.network.get_uuid(net), "device=8", "mac=nope")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("MAC_INVALID", p.stdout + p.stderr)
        p = self.srv.xe("network-create", "name-label=by-xe", minimal=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        xnet = self.api.network.get_by_uuid(p.stdout.strip())
        self.assertRegex(self.api.network.get_bridge(xnet), r"^xapi\d+$")
        self.api.VIF.destroy(v2)
    for v in (v0, v3, given):
        self.api.VIF.destroy(v)
    self.assertEqual(vif_links(), set())
    type(self).net = net
    type(self).bridge = bridge


@_test
def test_2_two_guests_ping(self):
    net, bridge = self.net, self.bridge
    vm1, vif1 = self.net_vm("net-a", "10.77.0.1", net)
    vm2, vif2 = self.net_vm("net-b", "10.77.0.2", net)
    type(self).pair = (vm1, vif1, vm2, vif2)
    t = time.monotonic()
    self.api.VM.start(vm1, False, False)
    self.api.VM.start(vm2, False, False)
    self.wait_serial(vm1, guest.READY)
    self.wait_serial(vm2, guest.READY)
    self.timings["two guests: start -> ready"] = time.monotonic() - t
    d1, d2 = self.api.VM.get_domid(vm1), self.api.VM.get_domid(vm2)
    tap1, tap2 = "vif%d.0" % d1, "vif%d.0" % d2
    self.assertIn(bridge, links(), "xenond made the network's bridge")
    self.assertEqual(ports(bridge), {tap1, tap2})
    self.assertEqual(vif_links(), {tap1, tap2})
    with open("/sys/class/net/%s/operstate" % bridge) as f:
        self.assertIn(f.read().strip(), ("up", "unknown"))
    for vif in (vif1, vif2):
        r = self.api.VIF.get_record(vif)
        self.assertTrue(r["currently_attached"])
        self.assertEqual(sorted(r["allowed_operations"]), ["attach", "unplug"])
    # the guest's NIC has the VIF's MAC
    self.assertIn(self.api.VIF.get_MAC(vif1), self.guest_macs(vm1))
    self.assertIn(self.api.VIF.get_MAC(vif2), self.guest_macs(vm2))
    out = self.guest_exec(vm1, "cat /sys/class/net/eth0/address")
    self.assertEqual(out["stdout"].strip(), self.api.VIF.get_MAC(vif1))

    # ping 1 -> 2, with tcpdump on guest 1's tap
    errlog = os.path.join(self.srv.data_dir, "tcpdump.err")
    with open(errlog, "w") as err:
        dump = subprocess.Popen([TCPDUMP, "-i", tap1, "-n", "-l", "-c", "4", "icmp"], stdout=subprocess.PIPE,
                                stderr=err, text=True)
    try:
        self.wait_for(lambda: "listening on" in _read(errlog), 10, msg="tcpdump listening")
        t = time.monotonic()
        out = self.ping(vm1, "10.77.0.2")
        self.timings["ping 3 packets"] = time.monotonic() - t
        self.assertEqual(out["exitcode"], "0", out)
        self.assertIn("3 packets received", out["stdout"])
        got, _ = dump.communicate(timeout=20)
    finally:
        if dump.poll() is None:
            dump.kill()
            dump.wait()
        dump.stdout.close()
    self.assertRegex(got, r"IP 10\.77\.0\.1 > 10\.77\.0\.2: ICMP echo request")
    self.assertRegex(got, r"IP 10\.77\.0\.2 > 10\.77\.0\.1: ICMP echo reply")
    out = self.ping(vm2, "10.77.0.1")
    self.assertEqual(out["exitcode"], "0", out)


@_test
def test_3_hotplug(self):
    vm1, vif1, vm2, vif2 = self.pair
    d2 = self.api.VM.get_domid(vm2)
    extra = self.api.VIF.create({"device": "1", "network": self.net, "VM": vm2, "MAC": "", "MTU": 1500,
                                 "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
    mac = self.api.VIF.get_MAC(extra)
    self.assertEqual(sorted(self.api.VIF.get_allowed_operations(extra)), ["attach", "plug"])
    self.assertXapiError("DEVICE_ALREADY_DETACHED", self.api.VIF.unplug, extra, params=[extra])
    t = time.monotonic()
    self.api.VIF.plug(extra)
    self.assertTrue(self.api.VIF.get_currently_attached(extra))
    self.assertIn("vif%d.1" % d2, ports(self.bridge))
    self.wait_for(lambda: mac in self.guest_macs(vm2), 30, interval=0.5, msg="hot-plugged NIC in the guest")
    self.timings["VIF.plug -> NIC in guest"] = time.monotonic() - t
    # the guest-metrics poller (every 5 s) meets a NIC without an address
    time.sleep(6)
    self.assertTrue(self.srv.alive(), "xenond survives a guest NIC without addresses")
    gm = self.api.VM.get_guest_metrics(vm2)
    self.assertEqual(self.api.VM_guest_metrics.get_networks(gm).get("0/ip"), "10.77.0.2")
    self.assertXapiError("DEVICE_ALREADY_ATTACHED", self.api.VIF.plug, extra, params=[extra])
    self.assertXapiError("OPERATION_NOT_ALLOWED", self.api.VIF.destroy, extra)
    t = time.monotonic()
    self.api.VIF.unplug(extra)
    self.timings["VIF.unplug"] = time.monotonic() - t
    self.assertFalse(self.api.VIF.get_currently_attached(extra))
    self.assertNotIn("vif%d.1" % d2, links())
    self.wait_for(lambda: mac not in self.guest_macs(vm2), 20, interval=0.5, msg="NIC gone from the guest")
    # plugged again, then forced out
    self.api.VIF.plug(extra)
    self.wait_for(lambda: mac in self.guest_macs(vm2), 30, interval=0.5, msg="NIC back in the guest")
    self.api.VIF.unplug_force(extra)
    self.assertNotIn("vif%d.1" % d2, links())
    self.api.VIF.destroy(extra)
    # the first NIC still works
    self.assertEqual(self.ping(vm2, "10.77.0.1")["exitcode"], "0")


@_test
def test_3b_suspend_resume(self):
    vm1, vif1, vm2, vif2 = self.pair
    d1, d2 = self.api.VM.get_domid(vm1), self.api.VM.get_domid(vm2)
    self.api.VM.suspend(vm1)
    self.assertEqual(vif_links(), {"vif%d.0" % d2}, "a suspended VM has no domain, so no tap")
    # as in xapi, a suspended VM's VIFs stay attached: they come back with it
    self.assertTrue(self.api.VIF.get_currently_attached(vif1))
    t = time.monotonic()
    self.api.VM.resume(vm1, False, False)
    self.timings["resume"] = time.monotonic() - t
    d1 = self.api.VM.get_domid(vm1)
    self.assertEqual(ports(self.bridge), {"vif%d.0" % d1, "vif%d.0" % d2})
    out = self.ping(vm1, "10.77.0.2")
    self.assertEqual(out["exitcode"], "0", out)


@_test
def test_4_xenond_killed(self):
    vm1, vif1, vm2, vif2 = self.pair
    before = vif_links()
    pids = [read_pid(self.vm_dir(vm)) for vm in (vm1, vm2)]
    self.srv.kill9()
    self.srv.start()
    type(self).api = self.srv.api
    self.assertEqual(vif_links(), before, "adopted VMs keep their taps")
    self.assertEqual(ports(self.bridge), before)
    for vm, pid in zip((vm1, vm2), pids):
        self.assertEqual(self.api.VM.get_power_state(vm), "Running")
        self.assertEqual(read_pid(self.vm_dir(vm)), pid)
    self.assertEqual(self.ping(vm1, "10.77.0.2")["exitcode"], "0")
    self.assertTrue(self.api.VIF.get_currently_attached(vif1))

    # a QEMU that dies while no xenond watches: its taps are strays
    d2 = self.api.VM.get_domid(vm2)
    self.srv.kill9()
    os.kill(pids[1], signal.SIGKILL)
    self.wait_for(lambda: not qemu_alive(pids[1], self.api_uuid(vm2)), 10, msg="QEMU of vm2 gone")
    self.assertIn("vif%d.0" % d2, vif_links())
    self.srv.start()
    type(self).api = self.srv.api
    self.assertEqual(self.api.VM.get_power_state(vm2), "Halted")
    self.assertFalse(self.api.VIF.get_currently_attached(vif2))
    self.assertEqual(vif_links(), {"vif%d.0" % self.api.VM.get_domid(vm1)})


def _uuid(self, vm):
    return self.uuids.get(vm) or self.api.VM.get_uuid(vm)


NetworkTest.api_uuid = _uuid


@_test
def test_5_shutdown_and_failed_start(self):
    vm1, vif1, vm2, vif2 = self.pair
    self.api.VM.hard_shutdown(vm1)
    self.assertEqual(vif_links(), set(), "taps go with the domain")
    self.assertFalse(self.api.VIF.get_currently_attached(vif1))
    self.assertEqual(self.api.VIF.get_allowed_operations(vif1), ["attach"])
    # the bridge stays: it is the network, not the VM's
    self.assertIn(self.bridge, links())

    # QEMU refuses the machine after the taps were made: nothing is left
    bad, _ = self.net_vm("net-bad", "10.77.0.9", self.net)
    self.api.VM.set_VCPUs_max(bad, 4096)
    e = self.assertXapiError("FAILED_TO_START_EMULATOR", self.api.VM.start, bad, False, False)
    self.assertEqual(e.params[0], bad)
    self.assertEqual(self.api.VM.get_power_state(bad), "Halted")
    self.assertEqual(vif_links(), set())
    self.assertEqual(ports(self.bridge), set())
    self.assertEqual(qemu_of_uuid(self.api.VM.get_uuid(bad)), [])
    self.assert_no_qemu(bad)
    # a VIF whose network is gone stops the start before anything is made
    lost = self.api.network.create({"name_label": "lost", "name_description": "", "MTU": 1500,
                                    "other_config": {}, "bridge": "", "managed": True, "tags": []})
    vm, _ = self.net_vm("net-lost", "10.77.0.8", lost)
    self.api.network.destroy(lost)
    self.assertXapiError("HANDLE_INVALID", self.api.VM.start, vm, False, False)
    self.assertEqual(vif_links(), set())
    self.assert_no_qemu(vm)
    # a network with an attached VIF cannot go
    # a link of the bridge's name that is no bridge is left alone, and the
    # taps made before the failure go
    with open("/sys/class/net/lo/mtu") as f:
        lo_mtu = f.read()
    on_lo = self.api.network.create({"name_label": "lo", "name_description": "", "MTU": 1500,
                                     "other_config": {}, "bridge": "lo", "managed": True, "tags": []})
    two, _ = self.net_vm("net-two", "10.77.0.7", self.net)
    self.api.VIF.create({"device": "1", "network": on_lo, "VM": two, "MAC": "", "MTU": 1500,
                         "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
    e = self.assertXapiError("INTERNAL_ERROR", self.api.VM.start, two, False, False)
    self.assertIn("lo exists and is not a bridge", e.params[0])
    self.assertEqual(vif_links(), set())
    self.assertEqual(ports(self.bridge), set())
    self.assert_no_qemu(two)
    with open("/sys/class/net/lo/mtu") as f:
        self.assertEqual(f.read(), lo_mtu)

    pid = self.start_ready(vm1)
    old = self.api.VM.get_domid(vm1)
    self.assertEqual(vif_links(), {"vif%d.0" % old})
    # a reboot is a new domain: new taps, the old ones gone
    self.api.VM.hard_reboot(vm1)
    new = self.api.VM.get_domid(vm1)
    self.assertNotEqual(new, old)
    self.assertEqual(vif_links(), {"vif%d.0" % new})
    self.assertEqual(ports(self.bridge), {"vif%d.0" % new})
    self.wait_serial(vm1, guest.READY)
    pid = read_pid(self.vm_dir(vm1))
    self.assertXapiError("NETWORK_CONTAINS_VIF", self.api.network.destroy, self.net, params=[vif1])
    # a tap of the same domid that xenond did not make (another toolstack's
    # in this namespace) is not its to remove
    foreign = "vif%d.9" % new
    subprocess.run([IP, "tuntap", "add", "dev", foreign, "mode", "tap"], check=True)
    # a QEMU that dies under a running xenond takes its taps along
    os.kill(pid, signal.SIGKILL)
    self.wait_power(vm1, "Halted")
    self.wait_for(lambda: vif_links() == {foreign}, 10, msg="taps of the dead domain gone")
    self.assertFalse(self.api.VIF.get_currently_attached(vif1))
    subprocess.run([IP, "link", "del", foreign], check=True)
    # nor does a start take over a foreign tap of the name it needs (domids
    # grow by one: the next start is domain new + 1)
    foreign = "vif%d.0" % (new + 1)
    subprocess.run([IP, "tuntap", "add", "dev", foreign, "mode", "tap"], check=True)
    e = self.assertXapiError("INTERNAL_ERROR", self.api.VM.start, vm1, False, False)
    self.assertIn("%s already exists" % foreign, e.params[0])
    self.assertEqual(vif_links(), {foreign})
    self.assert_no_qemu(vm1, files_gone=False)
    subprocess.run([IP, "link", "del", foreign], check=True)


@unittest.skipIf(not os.environ.get(NETNS_ENV), "needs the test namespace")
class SimNoTapsTest(harness.ServerTestCase):
    """The simulator changes records only: VIFs attach and plug, no link is
    made."""

    def test_sim(self):
        before = links()
        mem = 256 << 20
        vm = self.api.VM.create({
            "name_label": "sim-net", "name_description": "", "user_version": 1, "is_a_template": False,
            "affinity": NULL_REF, "memory_static_max": mem, "memory_dynamic_max": mem,
            "memory_dynamic_min": mem, "memory_static_min": mem, "VCPUs_params": {}, "VCPUs_max": 1,
            "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
            "actions_after_crash": "restart", "PV_bootloader": "", "PV_kernel": "", "PV_ramdisk": "",
            "PV_args": "", "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "BIOS order",
            "HVM_boot_params": {"order": "cd"}, "platform": {}, "PCI_bus": "", "other_config": {},
            "recommendations": "", "domain_type": "pv"})
        net = self.api.network.create({"name_label": "sim", "name_description": "", "MTU": 1500,
                                       "other_config": {}, "bridge": "", "managed": True, "tags": []})
        rec = {"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500, "other_config": {},
               "qos_algorithm_type": "", "qos_algorithm_params": {}}
        v0 = self.api.VIF.create(rec)
        self.api.VM.start(vm, False, False)
        self.assertTrue(self.api.VIF.get_currently_attached(v0))
        v1 = self.api.VIF.create(dict(rec, device="1"))
        self.assertFalse(self.api.VIF.get_currently_attached(v1))
        self.api.VIF.plug(v1)
        self.assertTrue(self.api.VIF.get_currently_attached(v1))
        self.api.VIF.unplug(v1)
        self.assertFalse(self.api.VIF.get_currently_attached(v1))
        self.assertEqual(links(), before, "the simulator makes no bridge and no tap")
        self.api.VM.pause(vm)
        self.assertXapiError("VM_BAD_POWER_STATE", self.api.VIF.plug, v1, params=[vm, "running", "paused"])
        self.api.VM.hard_shutdown(vm)
        self.assertFalse(self.api.VIF.get_currently_attached(v0))
        self.api.network.destroy(net)
        self.assertXapiError("HANDLE_INVALID", self.api.network.get_bridge, net)

    def test_sim_move_and_configure_ip(self):
        """VIF.move and VIF.configure_ipv4/ipv6 with xapi's checks: the
        records only on the simulator."""
        before = links()
        mem = 256 << 20
        vm = self.api.VM.create({
            "name_label": "sim-move", "name_description": "", "user_version": 1, "is_a_template": False,
            "affinity": NULL_REF, "memory_static_max": mem, "memory_dynamic_max": mem,
            "memory_dynamic_min": mem, "memory_static_min": mem, "VCPUs_params": {}, "VCPUs_max": 1,
            "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
            "actions_after_crash": "restart", "PV_bootloader": "", "PV_kernel": "", "PV_ramdisk": "",
            "PV_args": "", "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "BIOS order",
            "HVM_boot_params": {"order": "cd"}, "platform": {}, "PCI_bus": "", "other_config": {},
            "recommendations": "", "domain_type": "pv"})
        mk = lambda label: self.api.network.create({"name_label": label, "name_description": "", "MTU": 1500,
                                                    "other_config": {}, "bridge": "", "managed": True,
                                                    "tags": []})
        n1, n2 = mk("move-a"), mk("move-b")
        vif = self.api.VIF.create({"device": "0", "network": n1, "VM": vm, "MAC": "", "MTU": 1500,
                                   "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
        # a halted VM's VIF: the record
        self.api.VIF.move(vif, n2)
        self.assertEqual(self.api.VIF.get_network(vif), n2)
        self.assertXapiError("HANDLE_INVALID", self.api.VIF.move, vif, "OpaqueRef:nope",
                             params=["network", "OpaqueRef:nope"])
        self.assertEqual(self.api.VIF.get_network(vif), n2)
        p = self.srv.xe("vif-move", "uuid=" + self.api.VIF.get_uuid(vif), "network-uuid=" + self.api.network.get_uuid(n1))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.api.VIF.get_network(vif), n1)
        # configure_ipv4 / ipv6: stored for the guest
        self.assertEqual(self.api.VIF.get_ipv4_configuration_mode(vif), "None")
        self.api.VIF.configure_ipv4(vif, "Static", "10.5.0.7/24", "10.5.0.1")
        r = self.api.VIF.get_record(vif)
        self.assertEqual((r["ipv4_configuration_mode"], r["ipv4_addresses"], r["ipv4_gateway"]),
                         ("Static", ["10.5.0.7/24"], "10.5.0.1"))
        for bad, code, params in [
                (("Static", "10.5.0.7", ""), "INVALID_CIDR_ADDRESS_SPECIFIED", ["address"]),
                (("Static", "10.5.0.300/24", ""), "INVALID_CIDR_ADDRESS_SPECIFIED", ["address"]),
                (("Static", "10.5.0.8/33", ""), "INVALID_CIDR_ADDRESS_SPECIFIED", ["address"]),
                (("Static", "10.5.0.8/24", "10.5.0"), "INVALID_IP_ADDRESS_SPECIFIED", ["gateway"]),
                (("DHCP", "", ""), "INVALID_VALUE", ["mode", "DHCP"])]:
            self.assertXapiError(code, self.api.VIF.configure_ipv4, vif, *bad, params=params)
        self.assertEqual(self.api.VIF.get_ipv4_addresses(vif), ["10.5.0.7/24"], "refused calls change nothing")
        self.api.VIF.configure_ipv6(vif, "Static", "fd00:5::7/64", "fd00:5::1")
        self.assertEqual(self.api.VIF.get_ipv6_addresses(vif), ["fd00:5::7/64"])
        self.assertXapiError("INVALID_CIDR_ADDRESS_SPECIFIED", self.api.VIF.configure_ipv6, vif, "Static",
                             "10.5.0.7/24", "", params=["address"])
        self.assertXapiError("INVALID_IP_ADDRESS_SPECIFIED", self.api.VIF.configure_ipv6, vif, "Static",
                             "fd00:5::7/64", "10.5.0.1", params=["gateway"])
        # a locked VIF may only be given an address it is allowed
        self.api.VIF.set_locking_mode(vif, "locked")
        self.api.VIF.set_ipv4_allowed(vif, ["10.5.0.9"])
        self.assertXapiError("ADDRESS_VIOLATES_LOCKING_CONSTRAINT", self.api.VIF.configure_ipv4, vif, "Static",
                             "10.5.0.8/24", "", params=["10.5.0.8/24"])
        self.api.VIF.configure_ipv4(vif, "Static", "10.5.0.9/24", "")
        self.api.VIF.set_locking_mode(vif, "network_default")
        p = self.srv.xe("vif-configure-ipv4", "uuid=" + self.api.VIF.get_uuid(vif), "mode=none")
        self.assertEqual(p.returncode, 0, p.stderr)
        r = self.api.VIF.get_record(vif)
        self.assertEqual((r["ipv4_configuration_mode"], r["ipv4_addresses"], r["ipv4_gateway"]), ("None", [], ""))
        p = self.srv.xe("vif-configure-ipv6", "uuid=" + self.api.VIF.get_uuid(vif), "mode=static", "address=fd00:5::8/64")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.api.VIF.get_ipv6_addresses(vif), ["fd00:5::8/64"])
        # running: the guest has no agent that takes an address (xapi's
        # feature-static-ip-setting), so the call is refused; a move is
        # the record on the simulator
        self.api.VM.start(vm, False, False)
        self.assertXapiError("VM_LACKS_FEATURE", self.api.VIF.configure_ipv4, vif, "Static", "10.5.0.7/24", "",
                             params=[vm])
        self.assertEqual(self.api.VIF.get_ipv4_configuration_mode(vif), "None")
        self.api.VIF.move(vif, n2)
        self.assertEqual(self.api.VIF.get_network(vif), n2)
        self.assertTrue(self.api.VIF.get_currently_attached(vif))
        self.assertEqual(links(), before, "the simulator makes no link")
        self.api.VM.hard_shutdown(vm)
        self.api.VIF.destroy(vif)
        self.api.VM.destroy(vm)


if __name__ == "__main__":
    harness.main()
