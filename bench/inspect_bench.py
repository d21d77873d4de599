#!/usr/bin/env python3
"""Disk inspection (VDI.inspect, VDI.read_file) beside libguestfs's own tools
on the same disk, in one run:

1. the first VDI.inspect of a disk (the appliance started for it) beside
   `virt-inspector` (guestfs-tools) of the disk's image: target <= 1.0x;
2. a following VDI.read_file of /etc/hostname (the appliance kept warm)
   beside `virt-cat` of the same file: target <= 0.2x.

    python3 bench/inspect_bench.py [--reps N]

The disk is the MBR disk of tests/integration/test_inspect.py (ext4 root of a
small Debian-like system with a dpkg database, and a vfat partition), made
with mkfs tools and imported as a VDI. Each rep starts a fresh xenond so its
first call pays the appliance start; the tools run with
LIBGUESTFS_BACKEND=direct and, as xenond on a host whose /dev/kvm does not
work (XENON_INSPECT_TCG=1), force_tcg. Needs guestfs-tools (scripts/deps.sh
bench) and the appliance (linux-image-amd64)."""
import argparse
import base64
import os
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
import test_inspect as ti  # noqa: E402

MiB = 1 << 20


def timed(fn):
    t = time.monotonic()
    out = fn()
    return time.monotonic() - t, out


def tool(*argv):
    env = dict(os.environ, LIBGUESTFS_BACKEND="direct", LIBGUESTFS_BACKEND_SETTINGS="force_tcg")
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    if r.returncode != 0:
        sys.exit("%s failed: %s" % (argv[0], r.stderr))
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    for t in ("virt-inspector", "virt-cat"):
        if not shutil.which(t):
            sys.exit("%s missing: scripts/deps.sh bench" % t)
    os.environ["XENON_INSPECT_TCG"] = "1"
    work = tempfile.mkdtemp(prefix="xenon-inspect-bench-")
    ti.fs_image(work + "/root.ext4", "ext4", 24 * MiB, "xroot", ti.ROOT_TREE)
    ti.fs_image(work + "/data.vfat", "vfat", 16 * MiB, "XDATA", {"/readme.txt": b"vfat on MBR\n"})
    ti.disk_image(work + "/mbr.raw", "dos", [(1, 24, "83", work + "/root.ext4"),
                                             (25, 16, "c", work + "/data.vfat")])
    rows = {"first": [], "inspector": [], "read": [], "cat": []}
    for rep in range(args.reps):
        srv = harness.Server(backend="sim", call_timeout=600)
        srv.start()
        api = srv.api
        sr = api.pool.get_default_SR(api.pool.get_all()[0])
        vdi = api.VDI.create({"name_label": "bench", "name_description": "", "SR": sr,
                              "virtual_size": str(os.path.getsize(work + "/mbr.raw")), "type": "user",
                              "sharable": False, "read_only": False, "other_config": {},
                              "xenstore_data": {}, "sm_config": {}, "tags": []})
        r = srv.xe("vdi-import", "uuid=" + api.VDI.get_uuid(vdi), "filename=" + work + "/mbr.raw")
        assert r.returncode == 0, r.stderr
        # the same image the tools get: the VDI's qcow2 file
        loc = api.VDI.get_location(vdi)
        img = subprocess.run(["find", srv.data_dir, "-name", "*%s*" % loc, "-type", "f"],
                             stdout=subprocess.PIPE, text=True).stdout.split()[0]
        dt, rep_ = timed(lambda: api.VDI.inspect(vdi))
        assert rep_["operating_systems"][0]["hostname"] == "inspect-guest"
        rows["first"].append(dt)
        dt, data = timed(lambda: api.VDI.read_file(vdi, "", "/etc/hostname"))
        assert base64.b64decode(data) == b"inspect-guest\n"
        rows["read"].append(dt)
        srv.stop()
        dt, xml = timed(lambda: tool("virt-inspector", "--format=qcow2", "-a", img))
        assert "inspect-guest" in xml
        rows["inspector"].append(dt)
        dt, out = timed(lambda: tool("virt-cat", "--format=qcow2", "-a", img, "/etc/hostname"))
        assert out == "inspect-guest\n"
        rows["cat"].append(dt)
        print("rep %d: VDI.inspect %.2f s, virt-inspector %.2f s, VDI.read_file %.3f s, virt-cat %.2f s"
              % (rep + 1, rows["first"][-1], rows["inspector"][-1], rows["read"][-1], rows["cat"][-1]),
              flush=True)
    shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    print()
    print("| call | Xenon (median of %d) | reference | ratio | target |" % args.reps)
    print("|---|---|---|---|---|")
    print("| first inspect (appliance start) | VDI.inspect %.2f s | virt-inspector %.2f s | %.2fx | <= 1.0x |"
          % (med["first"], med["inspector"], med["first"] / med["inspector"]))
    print("| following file read | VDI.read_file %.3f s | virt-cat %.2f s | %.3fx | <= 0.2x |"
          % (med["read"], med["cat"], med["read"] / med["cat"]))
    print("load average at the end: %s" % open("/proc/loadavg").read().split()[:3])


if __name__ == "__main__":
    main()
