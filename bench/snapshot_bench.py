#!/usr/bin/env python3
"""Storage benchmarks (issue: storage), each beside its reference in one run:

1. VM.snapshot and VM.clone of a halted VM whose disk is 20 GiB with 1 GiB
   written, and 200 GiB with 1 GiB written (target <= 50 ms, flat in disk
   size), beside `virsh snapshot-create-as --disk-only` on a copy of the same
   image under a private libvirtd with the qemu driver (when libvirtd and
   virsh are installed), and `qemu-img create -b` (the floor: one overlay).
2. Guest disk throughput (dd with O_DIRECT inside the tiny guest, TCG) on a
   fresh disk and after 10 live snapshots (a chain 11 images deep): the ratio.
3. Coalesce speed: a base with 1 GiB of data folded into its idle image
   (qemu-img rebase), and a 1 GiB base streamed into a running guest's disk
   (block-stream) with the guest's 4 KiB write latency during and without it.

    python3 bench/snapshot_bench.py [--reps N] [--quick] [--no-libvirt] [--no-guest]

Needs root (a private libvirtd runs as nobody), qemu-img/qemu-io, and for 2-3
the tiny guest (scripts/build-test-guest.sh, built on demand)."""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
NULL = "OpaqueRef:NULL"
ARGS = "console=ttyS0 quiet acpi=noirq panic=-1"
READY = "XENON-GUEST: ready"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(*argv, **kw):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def ms(seconds):
    return "%.1f ms" % (seconds * 1000)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def chain_len(path):
    return len(json.loads(run("qemu-img", "info", "-U", "--backing-chain", "--output=json", path).stdout))


class Daemon:
    def __init__(self, backend, config):
        self.srv = harness.Server(backend=backend)
        conf = os.path.join(self.srv.data_dir, "xenond.conf")
        with open(conf, "w") as f:
            f.write(config)
        self.srv.extra_args += ["--config", conf]
        self.srv.start()
        self.api = self.srv.api
        self.sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        self.sr_dir = self.api.PBD.get_device_config(self.api.SR.get_PBDs(self.sr)[0])["path"]

    def path(self, vdi):
        return os.path.join(self.sr_dir, self.api.VDI.get_location(vdi) + ".qcow2")

    def new_vdi(self, size, name="bench"):
        return self.api.VDI.create({
            "name_label": name, "name_description": "", "SR": self.sr, "virtual_size": str(size),
            "type": "user", "sharable": False, "read_only": False, "other_config": {},
            "xenstore_data": {}, "sm_config": {}, "tags": []})

    def new_vm(self, name, kernel="", mem=256 * MiB):
        return self.api.VM.create({
            "name_label": name, "name_description": "", "user_version": 1, "is_a_template": False,
            "affinity": NULL, "memory_static_max": mem, "memory_dynamic_max": mem,
            "memory_dynamic_min": mem, "memory_static_min": 128 * MiB, "VCPUs_params": {},
            "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
            "actions_after_reboot": "restart", "actions_after_crash": "destroy",
            "PV_bootloader": "", "PV_kernel": kernel, "PV_ramdisk": "initrd.img" if kernel else "",
            "PV_args": ARGS, "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "",
            "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
            "recommendations": "", "domain_type": "pv"})

    def attach(self, vm, vdi, dev="0"):
        return self.api.VBD.create({
            "VM": vm, "VDI": vdi, "userdevice": dev, "bootable": False, "mode": "RW", "type": "Disk",
            "unpluggable": True, "empty": False, "other_config": {}, "qos_algorithm_type": "",
            "qos_algorithm_params": {}})

    def stop(self):
        self.srv.stop()


class Libvirt:
    """A private libvirtd (qemu driver, session mode) run as nobody."""

    def __init__(self, work):
        self.dir = os.path.join(work, "libvirt")
        for d in ("home", "rt", "cfg/libvirt", "cache", "sock", "img"):
            os.makedirs(os.path.join(self.dir, d))
        self.conf = os.path.join(self.dir, "cfg/libvirt/libvirtd.conf")
        with open(self.conf, "w") as f:
            f.write('unix_sock_dir = "%s/sock"\nlog_outputs = "3:file:%s/libvirtd.log"\n' % (self.dir, self.dir))
        subprocess.run(["chown", "-R", "nobody:nogroup", self.dir], check=True)
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.dir + "/home",
                    "XDG_RUNTIME_DIR": self.dir + "/rt", "XDG_CONFIG_HOME": self.dir + "/cfg",
                    "XDG_CACHE_HOME": self.dir + "/cache"}
        self.proc = subprocess.Popen(
            ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "libvirtd", "--config",
             self.conf], env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        sock = os.path.join(self.dir, "sock", "libvirt-sock")
        self.uri = "qemu:///session?socket=" + sock
        deadline = time.monotonic() + 60
        while not os.path.exists(sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("libvirtd did not start")
            time.sleep(0.05)

    def virsh(self, *args):
        return subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                               "virsh", "-q", "-c", self.uri] + list(args), env=self.env, check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True).stdout

    def define(self, name, image):
        xml = os.path.join(self.dir, name + ".xml")
        with open(xml, "w") as f:
            f.write("""<domain type='qemu'><name>%s</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><emulator>%s</emulator><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
<source file='%s'/><target dev='vda' bus='virtio'/></disk></devices></domain>""" % (
                name, shutil.which("qemu-system-x86_64"), image))
        os.chmod(xml, 0o644)
        self.virsh("define", xml)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def make_image(path, size, written):
    run("qemu-img", "create", "-q", "-f", "qcow2", path, str(size))
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x61 0 %d" % written, path)


def bench_snapshot(args, work, rows):
    d = Daemon("sim", "coalesce-delay = off\n")
    lv = None
    if not args.no_libvirt and shutil.which("libvirtd") and shutil.which("virsh"):
        try:
            lv = Libvirt(work)
        except Exception as e:  # noqa: BLE001 - reported, the column is optional
            log("libvirt column skipped:", e)
    try:
        for size in (20 * GiB, 200 * GiB):
            label = "%d GiB disk, 1 GiB written" % (size // GiB)
            vm = d.new_vm("snap-%d" % size)
            vdi = d.new_vdi(size)
            d.attach(vm, vdi)
            log("writing 1 GiB into", label)
            run("qemu-io", "-f", "qcow2", "-c", "write -P 0x61 0 1G", d.path(vdi))
            os.sync()
            snap_t, clone_t = [], []
            for i in range(args.reps):
                t = time.monotonic()
                s = d.api.VM.snapshot(vm, "s%d" % i, [])
                snap_t.append(time.monotonic() - t)
                t = time.monotonic()
                c = d.api.VM.clone(vm, "c%d" % i)
                clone_t.append(time.monotonic() - t)
                for v in (s, c):  # keep the chain as it was
                    vdis = [d.api.VBD.get_VDI(b) for b in d.api.VM.get_VBDs(v)]
                    d.api.VM.destroy(v)
                    for x in vdis:
                        if x != NULL:
                            d.api.VDI.destroy(x)
            rows.append(("VM.snapshot, " + label, ms(med(snap_t)), "min %s max %s" % (ms(min(snap_t)), ms(max(snap_t)))))
            rows.append(("VM.clone, " + label, ms(med(clone_t)), "min %s max %s" % (ms(min(clone_t)), ms(max(clone_t)))))
            # the references on an image of the same size and content
            img = os.path.join(work, "ref-%d.qcow2" % size)
            make_image(img, size, GiB)
            os.sync()
            qi = []
            for i in range(args.reps):
                ov = os.path.join(work, "ov-%d-%d.qcow2" % (size, i))
                t = time.monotonic()
                run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", img, ov)
                qi.append(time.monotonic() - t)
                os.unlink(ov)
            rows.append(("qemu-img create -b (one overlay), " + label, ms(med(qi)), "the floor"))
            if lv:
                limg = os.path.join(lv.dir, "img", "disk-%d.qcow2" % size)
                shutil.move(img, limg)
                subprocess.run(["chown", "nobody:nogroup", limg], check=True)
                dom = "bench-%d" % size
                lv.define(dom, limg)
                vt = []
                for i in range(args.reps):
                    t = time.monotonic()
                    lv.virsh("snapshot-create-as", dom, "s%d" % i, "--disk-only", "--no-metadata")
                    vt.append(time.monotonic() - t)
                rows.append(("virsh snapshot-create-as --disk-only, " + label, ms(med(vt)),
                             "libvirt qemu driver, private libvirtd"))
                for f in os.listdir(os.path.join(lv.dir, "img")):
                    os.unlink(os.path.join(lv.dir, "img", f))
            else:
                os.unlink(img)
                rows.append(("virsh snapshot-create-as --disk-only, " + label, "-", "libvirtd/virsh not installed"))
            d.api.VM.destroy(vm)
            d.api.VDI.destroy(vdi)
    finally:
        if lv:
            lv.stop()
        d.stop()


class Guest:
    """The tiny guest on a xenond with the qemu backend."""

    def __init__(self, config):
        guest = os.path.join(ROOT, "build", "guest")
        run(os.path.join(ROOT, "scripts", "build-test-guest.sh"), guest, timeout=1200)
        self.d = Daemon("qemu", config)
        kdir = os.path.join(self.d.srv.data_dir, "guest-kernels")
        os.makedirs(kdir, exist_ok=True)
        kernel = "vmlinux" if os.path.exists(os.path.join(guest, "vmlinux")) else "vmlinuz"
        for f in (kernel, "initrd.img"):
            shutil.copy(os.path.join(guest, f), kdir)
        self.kernel = kernel

    def boot(self, name, disk_size):
        api = self.d.api
        self.vm = self.d.new_vm(name, kernel=self.kernel)
        self.vdi = self.d.new_vdi(disk_size, name)
        self.d.attach(self.vm, self.vdi)
        api.VM.start(self.vm, False, False)
        self.uuid = api.VM.get_uuid(self.vm)
        self.wait(READY, 180)

    def serial(self):
        p = os.path.join(self.d.srv.data_dir, "run", "vm", self.uuid, "serial.log")
        with open(p, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait(self, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (text.search(self.serial()) if hasattr(text, "search") else text in self.serial()):
                return
            time.sleep(0.1)
        raise RuntimeError("guest: no %r" % text)

    def type(self, line):
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(os.path.join(self.d.srv.data_dir, "run", "vm", self.uuid, "serial.sock"))
        s.sendall(line.encode() + b"\n")
        time.sleep(0.3)
        s.close()

    _n = 0

    def dd(self, what, bs="1M", count=64):
        """Runs dd in the guest; seconds by the guest's own clock
        (/proc/uptime around it: busybox dd prints no timing)."""
        Guest._n += 1
        tag = "DD%d" % Guest._n
        if what == "write":
            cmd = "dd if=/dev/zero of=/dev/vda bs=%s count=%d oflag=direct" % (bs, count)
        else:
            cmd = "dd if=/dev/vda of=/dev/null bs=%s count=%d iflag=direct" % (bs, count)
        self.type("u() { cut -d' ' -f1 /proc/uptime; }")
        self.type("a=$(u); %s 2>/dev/null; echo %s-$a-$(u)-END" % (cmd, tag))
        pat = re.compile(tag + r"-([0-9.]+)-([0-9.]+)-END")
        self.wait(pat, 300)
        m = pat.search(self.serial())
        return max(float(m.group(2)) - float(m.group(1)), 0.01)

    def mibs(self, what):
        return 64 / self.dd(what)

    def write_latency_ms(self):
        """Mean time of one synchronous 4 KiB write (256 O_DIRECT writes)."""
        return self.dd("write", "4k", 256) / 256 * 1000

    def stop(self):
        try:
            self.d.api.VM.hard_shutdown(self.vm)
        except Exception:  # noqa: BLE001 - best effort at the end
            pass
        self.d.stop()


def bench_guest(args, rows):
    g = Guest("coalesce-delay = off\n")  # no coalescing: the chain stays 11 deep
    try:
        g.boot("bench-io", 256 * MiB)
        g.mibs("write")  # allocate the clusters once
        fresh_w = med([g.mibs("write") for _ in range(args.reps)])
        fresh_r = med([g.mibs("read") for _ in range(args.reps)])
        for i in range(10):
            g.d.api.VDI.snapshot(g.vdi, {})
        depth = chain_len(g.d.path(g.vdi))
        deep_r = med([g.mibs("read") for _ in range(args.reps)])  # data in the deepest base
        deep_w = med([g.mibs("write") for _ in range(args.reps)])
        rows.append(("guest dd read 64 MiB O_DIRECT, fresh disk", "%.1f MiB/s" % fresh_r, "TCG"))
        rows.append(("guest dd read, after 10 snapshots (chain %d)" % depth, "%.1f MiB/s" % deep_r,
                     "ratio %.2f" % (deep_r / fresh_r)))
        rows.append(("guest dd write 64 MiB O_DIRECT, fresh disk", "%.1f MiB/s" % fresh_w, "TCG"))
        rows.append(("guest dd write, after 10 snapshots (chain %d)" % depth, "%.1f MiB/s" % deep_w,
                     "ratio %.2f" % (deep_w / fresh_w)))
    finally:
        g.stop()


def bench_coalesce(args, rows):
    # idle: qemu-img rebase of 1 GiB of data
    d = Daemon("sim", "coalesce-delay = 0\n")
    try:
        vdi = d.new_vdi(4 * GiB)
        p = d.path(vdi)
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x61 0 1G", p)
        os.sync()
        snap = d.api.VDI.snapshot(vdi, {})
        t = time.monotonic()
        d.api.VDI.destroy(snap)
        while chain_len(p) != 1:
            time.sleep(0.02)
        dt = time.monotonic() - t
        rows.append(("coalesce, idle disk, 1 GiB base (qemu-img rebase)", "%.0f MiB/s" % (1024 / dt),
                     "%.2f s from VDI.destroy of the snapshot" % dt))
    finally:
        d.stop()
    if args.no_guest:
        return
    # live: block-stream of a 1 GiB base under a guest that writes
    g = Guest("coalesce-delay = 0\n")
    try:
        g.boot("bench-coalesce", 2 * GiB)
        g.type("dd if=/dev/zero of=/dev/vda bs=1M count=1024 conv=fsync 2>/dev/null; echo FILLED-$((1+1))")
        g.wait("FILLED-2", 900)
        quiet_lat = med([g.write_latency_ms() for _ in range(3)])
        snap = g.d.api.VDI.snapshot(g.vdi, {})
        t = time.monotonic()
        g.d.api.VDI.destroy(snap)
        during_lat = g.write_latency_ms()
        streaming = "vhd-parent" in g.d.api.VDI.get_sm_config(g.vdi)
        while "vhd-parent" in g.d.api.VDI.get_sm_config(g.vdi):
            time.sleep(0.05)
        dt = time.monotonic() - t
        rows.append(("coalesce, running guest, 1 GiB base (block-stream)", "%.0f MiB/s" % (1024 / dt),
                     "%.2f s from VDI.destroy of the snapshot" % dt))
        rows.append(("guest 4 KiB O_DIRECT write latency during the stream vs without",
                     "%.2f vs %.2f ms" % (during_lat, quiet_lat),
                     "ratio %.2f%s" % (during_lat / quiet_lat, "" if streaming else " (stream ended first)")))
    finally:
        g.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="3 repetitions")
    ap.add_argument("--no-libvirt", action="store_true")
    ap.add_argument("--no-guest", action="store_true", help="skip the guest throughput and live coalesce")
    args = ap.parse_args()
    if args.quick:
        args.reps = 3
    work = tempfile.mkdtemp(prefix="xenon-snapbench-")
    os.chmod(work, 0o755)
    rows = []
    t0 = time.monotonic()
    try:
        bench_snapshot(args, work, rows)
        if not args.no_guest:
            bench_guest(args, rows)
        bench_coalesce(args, rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nstorage benchmarks — %d cores, loadavg %s, %.0f s" % (os.cpu_count(), loadavg(), time.monotonic() - t0))
    w = max(len(r[0]) for r in rows)
    for r in rows:
        print("  %-*s  %14s  %s" % (w, r[0], r[1], r[2]))


if __name__ == "__main__":
    main()
