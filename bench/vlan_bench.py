#!/usr/bin/env python3
"""18. A pool-wide VLAN: the time from pool.create_VLAN_from_PIF on a pool of
three to guests on it reaching each other, in one run beside two
references.

Three lab hosts (tests/integration/lab.py: network namespaces, QEMU
backend, network-backend = openvswitch), each with a second NIC eth1 on a
segment of its own in the lab's switch (a plain Linux bridge: tagged
frames cross it as they are, as through a trunk), joined with pool.join.
Each round, alternating:

- vlan: network.create, then pool.create_VLAN_from_PIF(h1's eth1, network,
  tag) on the master (a VLAN on every host's eth1, each host's xenond
  plugging its own), then one tiny guest per host on that network started
  at once (VM.start_on from three threads), then every pair of guests
  pings until it is answered. Reported: the call, the guests' start calls,
  the boot to the guest's serial "ready", the first answered pings, and the
  whole from the call to the last pair reaching each other.
- untagged: the same three guests on the physical network of eth1 (no VLAN
  to make): what the guests alone cost (start, boot, first pings).
- by hand: the Open vSwitch work a VLAN is on each host, done directly
  (ovs-vsctl add-br <fake bridge> xenbr1 <tag> and the link up, on the
  three hosts one after the other): the floor of the VLAN step.

    XENOND=build-check/src/server/xenond python3 bench/vlan_bench.py [--rounds 3]

Run as root. Traffic stays inside the lab's namespaces. Prints the figures;
bench/README.md §18 has a run."""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import guest  # noqa: E402
import harness  # noqa: E402
import lab  # noqa: E402
import ovs_lab  # noqa: E402
import pool_util  # noqa: E402
from pool_util import wait_for  # noqa: E402

MiB = 1 << 20
CONF = "network-backend = openvswitch\n"


class Bench:
    def __init__(self):
        self.kernel = guest.build()
        self.lab = lab.Lab(3).make()
        pool_util.add_second_nics(self.lab)
        for h in self.lab.hosts:
            guest.provide(h.data_dir, self.kernel)
            h.start(backend="qemu", config=CONF)
            a = h.server.api
            a.PIF.scan(a.host.get_all()[0])
            eth1 = [p for p, r in a.PIF.get_all_records().items() if r["device"] == "eth1"][0]
            a.PIF.plug(eth1)
        h1 = self.lab.hosts[0]
        self.api = a = h1.server.api
        self.ref = pool_util.join(self.lab, timeout=60)
        self.eth1 = {h.address: [p for p in a.host.get_PIFs(self.ref[h.address])
                                 if a.PIF.get_device(p) == "eth1"][0] for h in self.lab.hosts}
        self.physical = a.PIF.get_network(self.eth1[h1.address])

    def close(self):
        pool_util.halt_vms(self.api)
        self.lab.close()
        for h in self.lab.hosts:
            ovs_lab.stop_ovs_of(h.data_dir)
        guest._kill_leftover_qemus()

    def vsctl(self, h, *args):
        db = "unix:" + os.path.join(h.data_dir, "ovs", "db.sock")
        subprocess.run(["ovs-vsctl", "--db=" + db, "--timeout=10"] + list(args), check=True, capture_output=True)

    def guests(self, net):
        a, vms = self.api, []
        for i, h in enumerate(self.lab.hosts):
            vm = a.VM.create({
                "name_label": "vlan-bench-%d" % i, "name_description": "", "user_version": 1,
                "is_a_template": False, "affinity": harness.NULL_REF, "memory_static_max": 256 * MiB,
                "memory_dynamic_max": 256 * MiB, "memory_dynamic_min": 256 * MiB, "memory_static_min": 128 * MiB,
                "VCPUs_params": {}, "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
                "actions_after_reboot": "restart", "actions_after_crash": "destroy", "PV_bootloader": "",
                "PV_kernel": self.kernel, "PV_ramdisk": "initrd.img",
                "PV_args": guest.ARGS + " xenon.ip=10.210.0.%d/24" % (i + 1), "PV_bootloader_args": "",
                "PV_legacy_args": "", "HVM_boot_policy": "", "HVM_boot_params": {}, "platform": {}, "PCI_bus": "",
                "other_config": {}, "recommendations": "", "domain_type": "pv"})
            a.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500, "other_config": {},
                          "qos_algorithm_type": "", "qos_algorithm_params": {}})
            vms.append((h, vm))
        return vms

    def ready(self, h, vm):
        serial = os.path.join(h.data_dir, "run", "vm", self.api.VM.get_uuid(vm), "serial.log")
        try:
            with open(serial, errors="replace") as f:
                return guest.READY in f.read()
        except OSError:
            return False

    def bring_up(self, vms, t0):
        """Starts the guests at once; the times (from t0) when every start
        call returned, every guest was ready, every pair answered."""
        a = self.api
        errors = []

        def start(h, vm):
            try:
                a.VM.start_on(vm, self.ref[h.address], False, False)
            except Exception as e:
                errors.append(e)
        ts = [threading.Thread(target=start, args=x) for x in vms]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]
        started = time.monotonic() - t0
        wait_for(lambda: all(self.ready(h, vm) for h, vm in vms), 120, "the guests ready")
        ready = time.monotonic() - t0
        # each guest pings the next one until answered (every pair: 1-2, 2-3, 3-1)
        done = []

        def reach(i):
            _, vm = vms[i]
            peer = "10.210.0.%d" % ((i + 1) % 3 + 1)
            out = a.VM.guest_exec(vm, ["sh", "-c", "i=0; while [ $i -lt 120 ]; do "
                                       "ping -c 1 -W 1 %s >/dev/null && exit 0; i=$((i+1)); done; exit 1" % peer],
                                  "", 180)
            done.append((out["exitcode"], time.monotonic() - t0))
        ts = [threading.Thread(target=reach, args=(i,)) for i in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if len(done) != 3 or any(code != "0" for code, _ in done):
            raise RuntimeError("the guests did not reach each other: %r" % done)
        return started, ready, max(t for _, t in done)

    def teardown(self, vms):
        for _, vm in vms:
            self.api.VM.hard_shutdown(vm)
            self.api.VM.destroy(vm)

    def round_vlan(self, tag):
        a = self.api
        net = a.network.create({"name_label": "vlan%d" % tag, "name_description": "", "MTU": 1500,
                                "other_config": {}, "bridge": "", "managed": True, "tags": []})
        vms = self.guests(net)
        t0 = time.monotonic()
        pifs = a.pool.create_VLAN_from_PIF(self.eth1[self.lab.hosts[0].address], net, tag)
        call = time.monotonic() - t0
        assert len(pifs) == 3, pifs
        started, ready, reached = self.bring_up(vms, t0)
        self.teardown(vms)
        for p in pifs:
            a.VLAN.destroy(a.PIF.get_VLAN_master_of(p))
        a.network.destroy(net)
        return call, started, ready, reached

    def round_untagged(self):
        vms = self.guests(self.physical)
        t0 = time.monotonic()
        r = self.bring_up(vms, t0)
        self.teardown(vms)
        return r

    def round_by_hand(self, tag):
        t0 = time.monotonic()
        for h in self.lab.hosts:
            self.vsctl(h, "--may-exist", "add-br", "vbench%d" % tag, "xenbr1", str(tag))
            h.exec("ip", "link", "set", "vbench%d" % tag, "up", check=True)
        took = time.monotonic() - t0
        for h in self.lab.hosts:
            self.vsctl(h, "--if-exists", "del-br", "vbench%d" % tag)
        return took


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")
    t = time.monotonic()
    b = Bench()
    print("# pool of three formed in %.1f s" % (time.monotonic() - t))
    rows = {"vlan": [], "untagged": [], "hand": []}
    try:
        for r in range(args.rounds):
            rows["vlan"].append(b.round_vlan(100 + r))
            print("vlan round %d: create_VLAN_from_PIF %.2f s, starts returned %.2f s, ready %.2f s, "
                  "all reached %.2f s" % ((r + 1,) + rows["vlan"][-1]), flush=True)
            rows["untagged"].append(b.round_untagged())
            print("untagged round %d: starts returned %.2f s, ready %.2f s, all reached %.2f s"
                  % ((r + 1,) + rows["untagged"][-1]), flush=True)
            rows["hand"].append(b.round_by_hand(300 + r))
            print("by hand round %d: 3 fake bridges %.3f s" % (r + 1, rows["hand"][-1]), flush=True)
    finally:
        b.close()
    v, u = rows["vlan"], rows["untagged"]
    print()
    print("| | VLAN step | guests started | guests ready | all pairs reached |")
    print("|---|---|---|---|---|")
    print("| pool.create_VLAN_from_PIF, then the guests (median of %d) | %.2f s | %.2f s | %.2f s | %.2f s |"
          % (len(v), med([x[0] for x in v]), med([x[1] for x in v]), med([x[2] for x in v]),
             med([x[3] for x in v])))
    print("| the same guests on the untagged physical network | — | %.2f s | %.2f s | %.2f s |"
          % (med([x[0] for x in u]), med([x[1] for x in u]), med([x[2] for x in u])))
    print("| by hand: ovs-vsctl add-br fake bridge + link up on 3 hosts | %.3f s | — | — | — |"
          % med(rows["hand"]))


if __name__ == "__main__":
    main()
