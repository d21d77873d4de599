#!/usr/bin/env python3
"""Storage motion throughput, in one run, beside qemu-img convert over NBD.

Two standalone lab hosts (tests/integration/lab.py), the QEMU backend. A
running tiny guest with a 4 GiB disk holding 2 GiB of data (random bytes in
every other 64 MiB piece) on host1's local SR is moved by VM.migrate_send
(the 6-parameter call: its disk mirrored into an NBD export on the
destination while it runs, then its memory) to host2's local SR, then back,
R times each way. Per move: the call's wall time, and the data's rate
(2 GiB over that time; the 256 MiB of memory rides along).

The reference, its rounds alternating with Xenon's between the same two
namespaces over the same link: a copy of the same image exported by
`qemu-nbd -r` on one host, read by `qemu-img convert -O qcow2` on the other
into its local disk (zero areas skipped through NBD block status, as the
mirror skips them).

At the end the guest's disk, wherever it is, is compared with the image it
was made from (`qemu-img compare -U`).

    XENOND=build-bench/src/server/xenond python3 bench/sxm_bench.py [--rounds 3]

Run as root (namespaces). Prints the figures; bench/README.md has runs."""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import guest  # noqa: E402
import lab  # noqa: E402
from harness import NULL_REF  # noqa: E402
from pool_util import wait_for  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
PIECE = 64 * MiB
NBD_PORT = 10809


def seed_image(path_raw, path_qcow2, size, data):
    """A size-byte qcow2 whose every other PIECE holds random bytes, data in
    all."""
    with open(path_raw, "wb") as f:
        f.truncate(size)
        written, off = 0, 0
        while written < data:
            f.seek(off)
            for _ in range(PIECE // MiB):
                f.write(os.urandom(MiB))
            written += PIECE
            off += 2 * PIECE
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", path_raw, path_qcow2], check=True)
    os.unlink(path_raw)


def local_sr(api):
    return api.pool.get_default_SR(api.pool.get_all()[0])


def vdi_path(api, vdi):
    pbd = api.SR.get_PBDs(api.VDI.get_SR(vdi))[0]
    return os.path.join(api.PBD.get_device_config(pbd)["path"], api.VDI.get_location(vdi) + ".qcow2")


def new_vm(api, kernel, size):
    mem = 256 * MiB
    vm = api.VM.create({
        "name_label": "sxm", "name_description": "", "user_version": 1, "is_a_template": False,
        "affinity": NULL_REF, "memory_static_max": mem, "memory_dynamic_max": mem,
        "memory_dynamic_min": mem, "memory_static_min": 128 * MiB, "VCPUs_params": {},
        "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
        "actions_after_reboot": "restart", "actions_after_crash": "destroy",
        "PV_bootloader": "", "PV_kernel": kernel, "PV_ramdisk": "initrd.img",
        "PV_args": guest.ARGS, "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "",
        "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
        "recommendations": "", "domain_type": "pv"})
    vdi = api.VDI.create({
        "name_label": "sxm-disk", "name_description": "", "SR": local_sr(api), "virtual_size": str(size),
        "type": "user", "sharable": False, "read_only": False, "other_config": {},
        "xenstore_data": {}, "sm_config": {}, "tags": []})
    api.VBD.create({
        "VM": vm, "VDI": vdi, "userdevice": "0", "bootable": False, "mode": "RW", "type": "Disk",
        "unpluggable": True, "empty": False, "other_config": {}, "qos_algorithm_type": "",
        "qos_algorithm_params": {}})
    return vm, vdi


def serial(h, uuid):
    try:
        with open(os.path.join(h.data_dir, "run", "vm", uuid, "serial.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def migrate(src, dst, vm):
    """VM.migrate_send of vm from src to dst's local SR; (seconds, its ref there)."""
    sa, da = src.server.api, dst.server.api
    pif = [p for p in da.PIF.get_all() if da.PIF.get_management(p)][0]
    dest = da.host.migrate_receive(da.host.get_all()[0], da.PIF.get_network(pif), {})
    vdis = {sa.VBD.get_VDI(b): local_sr(da) for b in sa.VM.get_VBDs(vm) if sa.VBD.get_VDI(b) != NULL_REF}
    t0 = time.monotonic()
    task = sa.Async.VM.migrate_send(vm, dest, True, vdis, {}, {})
    wait_for(lambda: sa.task.get_status(task) != "pending", 900, "migrate_send", interval=0.02)
    took = time.monotonic() - t0
    if sa.task.get_status(task) != "success":
        raise RuntimeError("migrate_send: %s" % sa.task.get_error_info(task))
    # a task's result is the value as XML-RPC writes it
    return took, re.search(r"OpaqueRef:[^<]*", sa.task.get_result(task)).group(0)


def nbd_copy(src, dst, image, out):
    """qemu-img convert on dst of image exported by qemu-nbd on src; seconds."""
    nbd = subprocess.Popen([lab.IP, "netns", "exec", src.netns, "qemu-nbd", "-r", "-f", "qcow2", "-x", "seed",
                            "-b", src.address, "-p", str(NBD_PORT), "-t", image],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = "nbd://%s:%d/seed" % (src.address, NBD_PORT)
        wait_for(lambda: dst.exec("qemu-img", "info", url, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL).returncode == 0, 20, "qemu-nbd", interval=0.05)
        t0 = time.monotonic()
        dst.exec("qemu-img", "convert", "-f", "raw", "-O", "qcow2", url, out, check=True)
        took = time.monotonic() - t0
    finally:
        nbd.kill()
        nbd.wait()
    os.unlink(out)
    return took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size-gib", type=int, default=4)
    ap.add_argument("--data-gib", type=int, default=2)
    o = ap.parse_args()
    size, data = o.size_gib * GiB, o.data_gib * GiB
    kernel = guest.build()
    with lab.Lab(2) as l:
        for h in l.hosts:
            guest.provide(h.data_dir, kernel)
            h.start(backend="qemu")
        h1, h2 = l.hosts
        seed = os.path.join(h1.data_dir, "seed.qcow2")
        t0 = time.monotonic()
        seed_image(os.path.join(h1.data_dir, "seed.raw"), seed, size, data)
        print("# seed image: %d GiB with %d GiB of data, made in %.1f s" % (o.size_gib, o.data_gib,
                                                                              time.monotonic() - t0))
        a1 = h1.server.api
        vm, vdi = new_vm(a1, kernel, size)
        subprocess.run(["qemu-img", "convert", "-n", "-f", "qcow2", "-O", "qcow2", seed, vdi_path(a1, vdi)],
                       check=True)
        uuid = a1.VM.get_uuid(vm)
        a1.VM.start(vm, False, False)
        wait_for(lambda: guest.READY in serial(h1, uuid), 120, "the guest ready")
        xenon, ref = [], []
        on, other = h1, h2
        for r in range(o.rounds):
            for _ in range(2):
                took, vm = migrate(on, other, vm)
                xenon.append(took)
                print("Xenon  %s -> %s: %.2f s, %.0f MiB/s of data" % (on.name, other.name, took,
                                                                      data / MiB / took), flush=True)
                copy = nbd_copy(h1, h2, seed, os.path.join(h2.data_dir, "copy.qcow2"))
                ref.append(copy)
                print("qemu-img convert over NBD h1 -> h2: %.2f s, %.0f MiB/s" % (copy, data / MiB / copy),
                      flush=True)
                on, other = other, on
        api = on.server.api
        disk = [api.VBD.get_VDI(b) for b in api.VM.get_VBDs(vm)][0]
        same = subprocess.run(["qemu-img", "compare", "-U", seed, vdi_path(api, disk)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print("# the guest's disk on %s against the seed: %s" % (on.name, same.stdout.strip()))
        api.VM.hard_shutdown(vm)
        xm, rm = statistics.median(xenon), statistics.median(ref)
        print()
        print("| what | moves | median s | range s | MiB/s of data (median) |")
        print("|---|---|---|---|---|")
        print("| Xenon VM.migrate_send, %d GiB disk with %d GiB data + 256 MiB memory | %d | %.2f | %.2f–%.2f "
              "| %.0f |" % (o.size_gib, o.data_gib, len(xenon), xm, min(xenon), max(xenon), data / MiB / xm))
        print("| qemu-img convert over NBD, same image | %d | %.2f | %.2f–%.2f | %.0f |" % (
            len(ref), rm, min(ref), max(ref), data / MiB / rm))
        print("\nXenon / qemu-img time: %.2f×; load average %s" % (xm / rm, open("/proc/loadavg").read().split()[:3]))
        if same.returncode != 0:
            sys.exit("the moved disk differs from its seed")


if __name__ == "__main__":
    main()
