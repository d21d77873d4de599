"""Disk inspection on libguestfs (VDI.inspect, VM.inspect, VDI.list_directory,
VDI.stat, VDI.read_file, VDI.write_file, /vdi_file and their xe commands)
against a real xenond with the QEMU backend. The disks are built here with
sfdisk, mkfs.ext4 -d, mkfs.vfat and mtools: an MBR disk (ext4 holding a
small Debian-like root, vfat) and a GPT disk (vfat ESP, ext4), plus a
corrupt partition table and a truncated image. Every appliance start costs
~15 s under TCG, so the tests run in one order on one xenond and reuse the
warm appliance where they can."""

import base64
import glob
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest  # noqa: E402
import harness  # noqa: E402

MiB = 1 << 20
USERS = {"power": "vm-power-admin", "vmadmin": "vm-admin", "operator": "vm-operator"}
PASSWORD = "insp-pw-1"
BIG = bytes((i * 7 + (i >> 9)) & 0xFF for i in range(3 * MiB + 12345))
DPKG_STATUS = """Package: busybox
Status: install ok installed
Version: 1:1.35.0-4
Architecture: amd64
Description: tiny utilities

Package: xenon-test
Status: install ok installed
Version: 1.0
Architecture: all
Description: a package for the inspection test

"""


def appliance_missing():
    """Why libguestfs's appliance cannot be built here, or None."""
    if not glob.glob("/boot/vmlinuz-*"):
        return "no kernel in /boot (linux-image-amd64): libguestfs cannot build its appliance"
    if not shutil.which("supermin"):
        return "no supermin: libguestfs cannot build its appliance"
    return None


def run(*cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def fs_image(path, kind, size, label, tree):
    """A filesystem image of size bytes holding tree ({path: bytes | ('link',
    target) | None for a directory})."""
    with open(path, "wb") as f:
        f.truncate(size)
    if kind == "ext4":
        with tempfile.TemporaryDirectory() as d:
            for p, v in sorted(tree.items()):
                full = os.path.join(d, p.lstrip("/"))
                os.makedirs(os.path.dirname(full), exist_ok=True)
                if v is None:
                    os.makedirs(full, exist_ok=True)
                elif isinstance(v, tuple):
                    os.symlink(v[1], full)
                else:
                    with open(full, "wb") as f:
                        f.write(v)
            run("mkfs.ext4", "-q", "-F", "-L", label, "-U", "clear", "-d", d, path)
            run("tune2fs", "-U", "random", path)
    else:
        run("mkfs.vfat", "-n", label, path)
        with tempfile.TemporaryDirectory() as d:
            for p, v in sorted(tree.items()):
                if v is None:
                    run("mmd", "-i", path, "::" + p)
                else:
                    src = os.path.join(d, "f")
                    with open(src, "wb") as f:
                        f.write(v)
                    run("mcopy", "-i", path, src, "::" + p)


def disk_image(path, label, parts):
    """A raw disk with a partition table (label "dos" or "gpt") and parts:
    [(start MiB, size MiB, sfdisk type, image file or None)]."""
    size = (max(s + n for s, n, _, _ in parts) + 2) * MiB
    with open(path, "wb") as f:
        f.truncate(size)
    script = "label: %s\n" % label + "".join(
        "start=%d, size=%d, type=%s\n" % (s * 2048, n * 2048, t) for s, n, t, _ in parts)
    subprocess.run(["sfdisk", "-q", path], input=script.encode(), check=True, stdout=subprocess.DEVNULL)
    for s, _, _, img in parts:
        if img:
            run("dd", "if=" + img, "of=" + path, "bs=1M", "seek=%d" % s, "conv=notrunc,sparse", "status=none")
    return size


ROOT_TREE = {
    "/etc/os-release": b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
                       b'VERSION_ID="12"\nID=debian\n',
    "/etc/debian_version": b"12.4\n",
    "/etc/hostname": b"inspect-guest\n",
    "/etc/hosts": b"127.0.0.1 localhost\n",
    "/etc/fstab": b"LABEL=xroot / ext4 defaults 0 1\n",
    "/etc/escape": ("link", "/"),
    "/etc/up": ("link", "../../../.."),
    "/etc/hosts-abs": ("link", "/etc/hosts"),
    "/bin": None,
    "/usr/bin": None,
    "/var/lib/dpkg/status": DPKG_STATUS.encode(),
    "/data/hello.txt": b"hello from the MBR disk\n",
}


class Inspect(guest.GuestMixin, harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        why = appliance_missing()
        if why:
            raise unittest.SkipTest(why)
        t0 = time.monotonic()
        # bases left by the snapshots a read made are coalesced after 1 s
        cls.srv = harness.Server(backend="qemu", data_dir=harness.data_dir_with_users(USERS, PASSWORD),
                                 call_timeout=240, config="coalesce-delay = 1\n")
        guest.install(cls)
        cls.srv.start()
        cls.api = cls.srv.api
        cls.work = tempfile.mkdtemp(prefix="xenon-inspect-")
        cls.build_disks()
        cls.timings["disks built and imported"] = time.monotonic() - t0

    @classmethod
    def tearDownClass(cls):
        guest.halt_all(cls)
        cls.srv.stop()
        guest._kill_leftover_qemus()
        shutil.rmtree(cls.work, ignore_errors=True)
        sys.stderr.write("\n" + "".join("  %-40s %6.2f s\n" % kv for kv in cls.timings.items()))

    @classmethod
    def import_disk(cls, raw, name):
        size = os.path.getsize(raw)
        vdi = cls.new_vdi(cls, size=size, name=name)
        r = cls.srv.xe("vdi-import", "uuid=" + cls.api.VDI.get_uuid(vdi), "filename=" + raw)
        assert r.returncode == 0, r.stderr
        return vdi

    @classmethod
    def build_disks(cls):
        w = cls.work
        fs_image(w + "/root.ext4", "ext4", 24 * MiB, "xroot", ROOT_TREE)
        fs_image(w + "/data.vfat", "vfat", 16 * MiB, "XDATA", {"/readme.txt": b"vfat on MBR\n"})
        cls.mbr_size = disk_image(w + "/mbr.raw", "dos", [(1, 24, "83", w + "/root.ext4"),
                                                           (25, 16, "c", w + "/data.vfat")])
        fs_image(w + "/esp.vfat", "vfat", 16 * MiB, "XEFI", {"/EFI": None, "/EFI/BOOT": None,
                                                           "/EFI/BOOT/boot.txt": b"esp file\n",
                                                           "/big.bin": BIG})
        fs_image(w + "/gdata.ext4", "ext4", 20 * MiB, "gdata", {"/notes.txt": b"gpt ext4 notes\n"})
        cls.gpt_size = disk_image(w + "/gpt.raw", "gpt", [
            (1, 16, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", w + "/esp.vfat"),
            (17, 20, "0FC63DAF-8483-4772-8E79-3D69D8477DE4", w + "/gdata.ext4")])
        cls.fs_uuid = {}
        for name in ("root.ext4", "data.vfat", "esp.vfat", "gdata.ext4"):
            out = subprocess.run(["blkid", "-o", "value", "-s", "UUID", w + "/" + name],
                                 stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
            cls.fs_uuid[name] = out
        cls.mbr = cls.import_disk(w + "/mbr.raw", "mbr")
        cls.gpt = cls.import_disk(w + "/gpt.raw", "gpt")

    # ---- helpers ----

    def vdi_path(self, vdi):
        uuid = self.api.VDI.get_uuid(vdi)
        loc = self.api.VDI.get_location(vdi)
        found = glob.glob(os.path.join(self.srv.data_dir, "**", "*%s*" % loc), recursive=True)
        found = [p for p in found if os.path.isfile(p)]
        self.assertTrue(found, "no image for VDI %s" % uuid)
        return found[0]

    def session_of(self, user):
        return self.srv.login(user, PASSWORD)

    def vdi_file(self, method, vdi, path, body=None, session=None, **q):
        q.update({"vdi": self.api.VDI.get_uuid(vdi), "path": path,
                  "session_id": session or self.srv.session})
        url = "%s/vdi_file?%s" % (self.srv.url, urllib.parse.urlencode(q))
        req = urllib.request.Request(url, data=body, method=method)
        try:
            with urllib.request.urlopen(req, timeout=240) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    # ---- the tests, in order (one xenond, the appliance kept warm) ----

    def test_1_mbr_inspect_and_files(self):
        t = time.monotonic()
        r = self.srv.xe("vdi-inspect", "uuid=" + self.api.VDI.get_uuid(self.mbr), timeout=240)
        self.timings["vdi-inspect (appliance start)"] = time.monotonic() - t
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("partition table mbr", r.stdout)
        self.assertIn("hostname \"inspect-guest\"", r.stdout)
        rep = self.api.VDI.inspect(self.mbr)
        disk, = rep["disks"]
        self.assertEqual(disk["partition_table"], "mbr")
        self.assertEqual(int(disk["size"]), self.mbr_size)
        self.assertEqual(disk["key"], self.api.VDI.get_uuid(self.mbr))
        self.assertEqual([(int(p["number"]), int(p["start"]), int(p["size"]), p["type"])
                          for p in disk["partitions"]],
                         [(1, 1 * MiB, 24 * MiB, "0x83"), (2, 25 * MiB, 16 * MiB, "0x0c")])
        fss = {f["device"]: f for f in rep["filesystems"]}
        self.assertEqual(set(fss), {"/dev/sda1", "/dev/sda2"})
        self.assertEqual((fss["/dev/sda1"]["type"], fss["/dev/sda1"]["label"], fss["/dev/sda1"]["uuid"]),
                         ("ext4", "xroot", self.fs_uuid["root.ext4"]))
        self.assertEqual((fss["/dev/sda2"]["type"], fss["/dev/sda2"]["label"]), ("vfat", "XDATA"))
        self.assertEqual(fss["/dev/sda2"]["uuid"].upper(), self.fs_uuid["data.vfat"].upper())
        for f in fss.values():
            self.assertGreater(int(f["size"]), int(f["used"]))
            self.assertGreater(int(f["used"]), 0)
        os_, = rep["operating_systems"]
        self.assertEqual((os_["root"], os_["type"], os_["distro"], os_["hostname"]),
                         ("/dev/sda1", "linux", "debian", "inspect-guest"))
        self.assertEqual(int(os_["major_version"]), 12)
        self.assertEqual(int(os_["applications"]), 2)

        # files, on the same warm appliance
        t = time.monotonic()
        ls = {e["name"]: e for e in self.api.VDI.list_directory(self.mbr, "", "/etc")}
        self.timings["list_directory (warm)"] = time.monotonic() - t
        self.assertEqual(ls["hostname"]["type"], "file")
        self.assertEqual(int(ls["hostname"]["size"]), len(b"inspect-guest\n"))
        self.assertEqual((ls["escape"]["type"], ls["escape"]["target"]), ("symlink", "/"))
        data = base64.b64decode(self.api.VDI.read_file(self.mbr, "", "/data/hello.txt"))
        self.assertEqual(data, ROOT_TREE["/data/hello.txt"])
        st = self.api.VDI.stat(self.mbr, "", "/etc/hosts-abs")
        self.assertEqual((st["path"], st["type"]), ("/etc/hosts", "file"))
        # the other filesystem, by device
        self.assertEqual(base64.b64decode(self.api.VDI.read_file(self.mbr, "/dev/sda2", "/readme.txt")),
                         b"vfat on MBR\n")
        r = self.srv.xe("vdi-ls", "uuid=" + self.api.VDI.get_uuid(self.mbr), "path=/data")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"file +\d+ hello.txt")
        r = self.srv.xe("vdi-file-read", "uuid=" + self.api.VDI.get_uuid(self.mbr), "path=/etc/hostname",
                        "filename=-")
        self.assertEqual((r.returncode, r.stdout), (0, "inspect-guest\n"), r.stderr)

    def test_2_paths_stay_inside(self):
        # ".." stops at the guest's root; symlinks to "/" land on the guest's root
        for p in ("/../../etc/hostname", "/etc/escape/etc/hostname", "/etc/up/etc/hostname",
                  "/data/../../../etc/./hostname"):
            st = self.api.VDI.stat(self.mbr, "", p)
            self.assertEqual((st["path"], int(st["size"])), ("/etc/hostname", 14), p)
        ls = {e["name"] for e in self.api.VDI.list_directory(self.mbr, "", "/etc/escape")}
        self.assertEqual(ls, {"etc", "bin", "usr", "var", "data", "lost+found"})
        # nothing of the appliance's own filesystem is reachable
        self.assertXapiError("INSPECT_PATH_INVALID", self.api.VDI.stat, self.mbr, "", "/etc/escape/proc/1")
        self.assertXapiError("INSPECT_PATH_INVALID", self.api.VDI.read_file, self.mbr, "", "/etc")
        self.assertXapiError("INSPECT_PATH_INVALID", self.api.VDI.stat, self.mbr, "", "etc/hostname")
        self.assertXapiError("INSPECT_NO_FILESYSTEM", self.api.VDI.stat, self.mbr, "/dev/sdz9", "/")

    def test_3_roles(self):
        vdi = self.mbr
        op = self.session_of("operator")
        self.assertXapiError("RBAC_PERMISSION_DENIED", self.srv.call, "VDI.inspect", op, vdi)
        self.assertXapiError("RBAC_PERMISSION_DENIED", self.srv.call, "VDI.read_file", op, vdi, "", "/x")
        adm = self.session_of("vmadmin")
        self.assertXapiError("RBAC_PERMISSION_DENIED", self.srv.call, "VDI.write_file", adm, vdi, "",
                             "/x", "", "")
        status, _ = self.vdi_file("PUT", vdi, "/x", b"no", session=adm)
        self.assertEqual(status, 403)
        # vm-admin may read (the warm appliance answers)
        st = self.srv.call("VDI.stat", adm, vdi, "", "/etc/hostname")
        self.assertEqual(st["type"], "file")
        status, body = self.vdi_file("GET", vdi, "/etc/hostname", session=adm)
        self.assertEqual((status, body), (200, b"inspect-guest\n"))
        methods = self.srv.call("system.listMethods")
        for m in ("inspect", "list_directory", "stat", "read_file", "write_file"):
            self.assertIn("VDI." + m, methods)
        self.assertIn("VM.inspect", methods)

    def test_4_vm_inspect_both_layouts(self):
        vm = self.new_vm("inspect-both")
        self.vbd(vm, self.mbr, 0)
        self.vbd(vm, self.gpt, 1)
        r = self.srv.xe("vm-inspect", "vm=inspect-both", timeout=240)
        self.assertEqual(r.returncode, 0, r.stderr)
        rep = self.api.VM.inspect(vm)
        d0, d1 = rep["disks"]
        self.assertEqual((d0["key"], d0["userdevice"], d0["partition_table"]),
                         (self.api.VDI.get_uuid(self.mbr), "0", "mbr"))
        self.assertEqual((d1["key"], d1["userdevice"], d1["partition_table"]),
                         (self.api.VDI.get_uuid(self.gpt), "1", "gpt"))
        self.assertEqual(int(d1["size"]), self.gpt_size)
        self.assertEqual([(int(p["number"]), int(p["start"]), int(p["size"]), p["type"].upper())
                          for p in d1["partitions"]],
                         [(1, 1 * MiB, 16 * MiB, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),
                          (2, 17 * MiB, 20 * MiB, "0FC63DAF-8483-4772-8E79-3D69D8477DE4")])
        fss = {f["device"]: (f["type"], f["label"]) for f in rep["filesystems"]}
        self.assertEqual(fss, {"/dev/sda1": ("ext4", "xroot"), "/dev/sda2": ("vfat", "XDATA"),
                               "/dev/sdb1": ("vfat", "XEFI"), "/dev/sdb2": ("ext4", "gdata")})
        self.assertEqual([o["root"] for o in rep["operating_systems"]], ["/dev/sda1"])
        self.assertIn("partition table gpt", r.stdout)
        self.api.VM.destroy(vm)

    def test_5_write_boot_and_snapshot_read(self):
        gpt = self.gpt
        uuid = self.api.VDI.get_uuid(gpt)
        before = hashlib.sha256(open(self.vdi_path(gpt), "rb").read()).hexdigest()
        payload = os.path.join(self.work, "payload.sh")
        body = b"#!/bin/sh\necho written-by-xenon\n"
        with open(payload, "wb") as f:
            f.write(body)
        t = time.monotonic()
        r = self.srv.xe("vdi-file-write", "uuid=" + uuid, "filesystem=/dev/sda1", "path=/EFI/../test.sh",
                        "filename=" + payload, "mode=0755", timeout=240)
        self.timings["vdi-file-write (read-write appliance)"] = time.monotonic() - t
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(hashlib.sha256(open(self.vdi_path(gpt), "rb").read()).hexdigest(), before)
        self.assertEqual(self.api.VDI.get_current_operations(gpt), {})

        # the tiny guest boots with that disk and sees the file
        vm = self.new_vm("inspect-boot")
        self.vbd(vm, gpt, 0)
        self.start_ready(vm)
        self.console(vm, "for m in nls_cp437 nls_ascii nls_utf8 vfat; do modprobe $m; done")
        self.console(vm, "mkdir -p /m; mount -t vfat -o ro /dev/vda1 /m; sh /m/test.sh")
        self.wait_serial(vm, "written-by-xenon")

        # a running VM's disk: read through a snapshot (gone afterwards),
        # written never
        self.assertXapiError("VDI_IN_USE", self.api.VDI.write_file, gpt, "", "/x", "", "")
        vdis_before = set(self.api.VDI.get_all())
        t = time.monotonic()
        status, got = self.vdi_file("GET", gpt, "/big.bin", filesystem="/dev/sda1")
        self.timings["read through a snapshot"] = time.monotonic() - t
        self.assertEqual(status, 200, got[:300])
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(BIG).hexdigest())
        self.assertEqual(self.api.VDI.get_snapshots(gpt), [])
        # the snapshot is destroyed; the base it left is coalesced away
        self.wait_for(lambda: set(self.api.VDI.get_all()) == vdis_before, 60, interval=0.5,
                      msg="no VDI left by the read")
        self.api.VM.hard_shutdown(vm)

    def test_6_busy_mark_and_round_trip(self):
        # a write's mark: anything else meanwhile is OTHER_OPERATION_IN_PROGRESS
        big2 = bytes(reversed(BIG[:512 * 1024 + 777]))  # base64 in a call: under max-body
        task = self.srv.call("Async.VDI.write_file", self.srv.session, self.mbr, "/dev/sda1",
                             "/data/big2.bin", base64.b64encode(big2).decode(), "0600")
        self.wait_for(lambda: self.api.VDI.get_current_operations(self.mbr), 60, msg="write marked")
        self.assertEqual(list(self.api.VDI.get_current_operations(self.mbr).values()), ["blocked"])
        self.assertXapiError("OTHER_OPERATION_IN_PROGRESS", self.api.VDI.stat, self.mbr, "", "/")
        self.assertXapiError("OTHER_OPERATION_IN_PROGRESS", self.api.VDI.destroy, self.mbr)
        self.wait_for(lambda: self.api.task.get_status(task) != "pending", 200, interval=0.5, msg="task")
        self.assertEqual(self.api.task.get_status(task), "success", self.api.task.get_error_info(task))
        self.assertEqual(float(self.api.task.get_progress(task)), 1.0)
        self.assertEqual(self.api.VDI.get_current_operations(self.mbr), {})
        # read back through a fresh appliance: checksum, mode, and the rest as it was
        status, got = self.vdi_file("GET", self.mbr, "/data/big2.bin", filesystem="/dev/sda1")
        self.assertEqual(status, 200, got[:300])
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(big2).hexdigest())
        st = self.api.VDI.stat(self.mbr, "/dev/sda1", "/data/big2.bin")
        self.assertEqual((st["mode"], int(st["size"])), ("0600", len(big2)))
        self.assertEqual(base64.b64decode(self.api.VDI.read_file(self.mbr, "/dev/sda1", "/data/hello.txt")),
                         ROOT_TREE["/data/hello.txt"])

    def test_7_hostile_images(self):
        # a partition table pointing past the end of the disk
        bad = os.path.join(self.work, "bad.raw")
        with open(bad, "wb") as f:
            f.truncate(8 * MiB)
            mbr = bytearray(512)
            for i, (start, n) in enumerate(((2048, 1 << 30), (4096, 1 << 31))):
                mbr[446 + 16 * i:446 + 16 * (i + 1)] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0",
                                                                   start, n)
            mbr[510:512] = b"\x55\xaa"
            f.seek(0)
            f.write(mbr)
        vdi = self.import_disk(bad, "bad")
        t = time.monotonic()
        e = self.assertXapiError("INSPECT_FAILED", self.api.VDI.inspect, vdi)
        self.timings["corrupt table: error"] = time.monotonic() - t
        self.assertIn("partition", e.params[0])
        self.assertEqual(self.api.VDI.get_current_operations(vdi), {})
        # a truncated image
        trunc = self.new_vdi(size=32 * MiB, name="trunc")
        path = self.vdi_path(trunc)
        with open(path, "r+b") as f:
            f.truncate(100)
        t = time.monotonic()
        e = self.assertXapiError("INSPECT_FAILED", self.api.VDI.inspect, trunc)
        self.timings["truncated image: error"] = time.monotonic() - t
        self.assertIn("image cannot be opened", e.params[0])
        # still serving
        self.assertEqual(self.api.VDI.get_uuid(self.mbr), self.api.VDI.get_uuid(self.mbr))
        self.assertTrue(self.srv.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
