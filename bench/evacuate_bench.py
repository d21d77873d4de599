#!/usr/bin/env python3
"""Evacuation of a host running 10 VMs: the wall time of host.evacuate, in
one run beside the same VMs moved by ten VM.pool_migrate calls one after
the other.

A pool of two lab hosts (tests/integration/lab.py, joined with `xe
pool-join`), the QEMU backend, N tiny guests (no disk, 256 MiB each) running
on host1. Each round: host1 disabled, `host.evacuate` (every VM
live-migrated to host2), host1 enabled; then the VMs moved back to host1 by
N sequential VM.pool_migrate calls (the reference). Every VM is checked running on the host it was sent to, in one
QEMU, after each move.

    XENOND=build-bench/src/server/xenond python3 bench/evacuate_bench.py [--vms 10] [--rounds 2]

Run as root (namespaces). Prints the figures; bench/README.md has runs."""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import guest  # noqa: E402
import lab  # noqa: E402
import pool_util  # noqa: E402
from harness import NULL_REF  # noqa: E402
from pool_util import wait_for  # noqa: E402

MiB = 1 << 20


def new_vm(api, kernel, name, host):
    mem = 256 * MiB
    return api.VM.create({
        "name_label": name, "name_description": "", "user_version": 1, "is_a_template": False,
        "affinity": host, "memory_static_max": mem, "memory_dynamic_max": mem,
        "memory_dynamic_min": mem, "memory_static_min": 128 * MiB, "VCPUs_params": {},
        "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
        "actions_after_reboot": "restart", "actions_after_crash": "destroy",
        "PV_bootloader": "", "PV_kernel": kernel, "PV_ramdisk": "initrd.img",
        "PV_args": guest.ARGS, "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "",
        "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
        "recommendations": "", "domain_type": "pv"})


def check_on(api, vms, host, uuids):
    for vm in vms:
        assert api.VM.get_power_state(vm) == "Running", vm
        assert api.VM.get_resident_on(vm) == host, (vm, api.VM.get_resident_on(vm), host)
        assert len(guest.qemu_of_uuid(uuids[vm])) == 1, "not one QEMU for %s" % uuids[vm]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    o = ap.parse_args()
    kernel = guest.build()
    with lab.Lab(2) as l:
        for h in l.hosts:
            guest.provide(h.data_dir, kernel)
            h.start(backend="qemu")
        a = l.hosts[0].server.api
        ref = pool_util.join(l)
        h1, h2 = (ref[h.address] for h in l.hosts)
        vms = [new_vm(a, kernel, "evac%d" % i, h1) for i in range(o.vms)]
        uuids = {vm: a.VM.get_uuid(vm) for vm in vms}
        t0 = time.monotonic()
        for vm in vms:
            a.VM.start_on(vm, h1, False, False)
        ready = lambda vm: guest.READY in open(os.path.join(  # noqa: E731
            l.hosts[0].data_dir, "run", "vm", uuids[vm], "serial.log"), errors="replace").read()
        wait_for(lambda: all(ready(vm) for vm in vms), 300, "the guests ready", interval=0.5)
        print("# %d guests started and ready on h1 in %.1f s" % (o.vms, time.monotonic() - t0), flush=True)
        evac, seq = [], []
        src, dst = h1, h2
        for r in range(o.rounds):
            a.host.disable(src)
            t0 = time.monotonic()
            a.host.evacuate(src, NULL_REF, 0)
            evac.append(time.monotonic() - t0)
            a.host.enable(src)
            check_on(a, vms, dst, uuids)
            print("host.evacuate of %d VMs: %.2f s" % (o.vms, evac[-1]), flush=True)
            t0 = time.monotonic()
            for vm in vms:
                a.VM.pool_migrate(vm, src, {"live": "true"})
            seq.append(time.monotonic() - t0)
            check_on(a, vms, src, uuids)
            print("%d sequential VM.pool_migrate back: %.2f s" % (o.vms, seq[-1]), flush=True)
        pool_util.halt_vms(a)
        em, sm = statistics.median(evac), statistics.median(seq)
        print()
        print("| what | VMs | runs | median s | range s | s per VM |")
        print("|---|---|---|---|---|---|")
        print("| host.evacuate | %d | %d | %.2f | %.2f–%.2f | %.2f |" % (o.vms, len(evac), em, min(evac), max(evac),
                                                                     em / o.vms))
        print("| VM.pool_migrate × %d, one after the other | %d | %d | %.2f | %.2f–%.2f | %.2f |" % (
            o.vms, o.vms, len(seq), sm, min(seq), max(seq), sm / o.vms))
        print("\nevacuate / sequential: %.2f×; load average %s" % (em / sm, open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    main()
