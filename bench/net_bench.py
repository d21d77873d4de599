#!/usr/bin/env python3
"""8. Guest-to-guest networking on one host: the Linux-bridge backend beside
Open vSwitch on the userspace (netdev) datapath (and the kernel datapath
where the openvswitch module exists), in one run. For each backend: a
xenond (QEMU backend, network-backend = <backend>) in a network namespace
of its own, one internal network, two tiny guests on it; latency is 30
pings 0.2 s apart from one guest to the other (min/avg/max), throughput is
BENCH_NET_MIB MiB (default 32) sent with nc from one guest to the other,
timed by the sender until the receiver, having read the last byte, answers;
REPEAT times (default 3). Guests run under
TCG here, so the figures are the emulated NICs' as much as the switch's.

    XENOND=build-check/src/server/xenond python3 bench/net_bench.py

Traffic stays between the two guests inside the namespace."""

import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402

MIB = int(os.environ.get("BENCH_NET_MIB", "32"))
REPEAT = int(os.environ.get("REPEAT", "3"))

if not os.environ.get(harness.NETNS_ENV):
    if os.geteuid() != 0 or not shutil.which("qemu-system-x86_64"):
        sys.exit("needs root and qemu-system-x86_64")
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402
import ovs_lab  # noqa: E402


def backends():
    b = [("bridge", "Linux bridge")]
    if shutil.which("ovs-vswitchd"):
        dp = "kernel" if os.path.exists("/sys/module/openvswitch") else "netdev (userspace)"
        b.append(("openvswitch", "Open vSwitch, %s datapath" % dp))
    return b


class Run(guest.GuestMixin):
    def __init__(self, backend):
        type(self).srv = self.srv = harness.Server(backend="qemu",
                                                   config="network-backend = %s\n" % backend)
        guest.install(type(self))
        self.srv.start()
        self.api = self.srv.api

    def net_vm(self, name, net, ip):
        vm = self.new_vm(name, PV_args=guest.ARGS + " xenon.ip=%s/24" % ip)
        self.api.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "", "MTU": 1500, "other_config": {},
                             "qos_algorithm_type": "", "qos_algorithm_params": {}})
        self.api.VM.start(vm, False, False)
        return vm

    def wait_serial(self, vm, text, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.serial(vm):
                return
            time.sleep(0.1)
        raise RuntimeError("guest not ready: %s" % self.serial(vm)[-2000:])

    def sh(self, vm, cmd, timeout=120):
        return self.api.VM.guest_exec(vm, ["sh", "-c", cmd], "", timeout)

    def close(self):
        guest.halt_all(type(self))
        for n in self.api.network.get_all():
            b = self.api.network.get_bridge(n)
            if b.startswith("xapi"):  # the next backend makes its own
                subprocess.run(["ip", "link", "del", b], capture_output=True)
        self.srv.stop()
        ovs_lab.stop_ovs_of(self.srv.data_dir)


def measure(backend):
    r = Run(backend)
    try:
        net = r.api.network.create({"name_label": "bench", "name_description": "", "MTU": 1500,
                                    "other_config": {}, "bridge": "", "managed": True, "tags": []})
        a = r.net_vm("bench-a", net, "10.81.0.1")
        b = r.net_vm("bench-b", net, "10.81.0.2")
        r.wait_serial(a, guest.READY)
        r.wait_serial(b, guest.READY)
        r.sh(a, "ping -c 3 -W 2 10.81.0.2")  # ARP and the switch's learning first
        out = r.sh(a, "ping -c 30 -i 0.2 10.81.0.2")["stdout"]
        m = re.search(r"min/avg/max = ([\d.]+)/([\d.]+)/([\d.]+)", out)
        lat = tuple(float(x) for x in m.groups()) if m else (0, 0, 0)
        rates = []
        for i in range(REPEAT):
            port = 5001 + i
            # the receiver reads everything, then answers one line: the
            # sender's nc ends only when the last byte has arrived
            r.sh(b, "nc -l -p %d -e sh -c 'cat > /dev/null; echo done' < /dev/null > /dev/null 2>&1 &" % port, 10)
            time.sleep(0.5)
            res = r.sh(a, "time sh -c 'dd if=/dev/zero bs=65536 count=%d 2>/dev/null | nc 10.81.0.2 %d'"
                       % (MIB * 16, port), 300)
            m = re.search(r"real\s+(?:(\d+)m\s*)?([\d.]+)s", res["stderr"] + res["stdout"])
            if not m or "done" not in res["stdout"]:
                raise RuntimeError("no timing: %r" % res)
            secs = int(m.group(1) or 0) * 60 + float(m.group(2))
            rates.append(MIB * 8 * 1.048576 / secs)
        return lat, rates
    finally:
        r.close()


def main():
    rows = []
    for name, label in backends():
        t = time.monotonic()
        lat, rates = measure(name)
        rows.append((label, lat, rates, time.monotonic() - t))
    print("\nGuest to guest on one host (2 TCG guests, virtio-net, %d MiB x %d, 30 pings):" % (MIB, REPEAT))
    print("| backend | ping min / avg / max (ms) | throughput, each run (Mbit/s) | median (Mbit/s) |")
    print("|---|---|---|---|")
    for label, lat, rates, _ in rows:
        med = sorted(rates)[len(rates) // 2]
        print("| %s | %.2f / %.2f / %.2f | %s | %.1f |" % (label, lat[0], lat[1], lat[2],
                                                         ", ".join("%.1f" % x for x in rates), med))
    if not os.path.exists("/sys/module/openvswitch"):
        print("\n(no openvswitch kernel module on this machine: the kernel datapath row cannot be measured)")


if __name__ == "__main__":
    main()
