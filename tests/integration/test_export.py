"""Disk and VM transfers over HTTP against a real xenond (sim backend):
/import_raw_vdi and /export_raw_vdi (raw, vhd, qcow2), XVA export/import
(/export, /export_metadata, /import) with gzip and zstd, an XVA built here
from the format's description, sparse exports, rejected uploads leaving
nothing behind, tasks, authentication and Xen Orchestra's probe PUT.
Python standard library only (XXH64 is implemented below)."""

import base64
import gzip
import hashlib
import http.client
import io
import os
import pty
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import time
import unittest
import urllib.parse
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ServerTestCase, XapiError  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30

# ---- XXH64 (seed 0), as the XVA checksums use it ----
P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)
M64 = (1 << 64) - 1


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _round(acc, lane):
    acc = (acc + lane * P2) & M64
    return (_rotl(acc, 31) * P1) & M64


def _merge(acc, val):
    acc ^= _round(0, val)
    return (acc * P1 + P4) & M64


def xxh64(data, seed=0):
    n = len(data)
    i = 0
    if n >= 32:
        v1 = (seed + P1 + P2) & M64
        v2 = (seed + P2) & M64
        v3 = seed
        v4 = (seed - P1) & M64
        lanes = struct.unpack_from("<%dQ" % ((n // 32) * 4), data)
        for j in range(0, len(lanes), 4):
            v1 = _round(v1, lanes[j])
            v2 = _round(v2, lanes[j + 1])
            v3 = _round(v3, lanes[j + 2])
            v4 = _round(v4, lanes[j + 3])
        i = (n // 32) * 32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & M64
        for v in (v1, v2, v3, v4):
            h = _merge(h, v)
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        (k,) = struct.unpack_from("<Q", data, i)
        h ^= _round(0, k)
        h = (_rotl(h, 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= n:
        (k,) = struct.unpack_from("<I", data, i)
        h ^= (k * P1) & M64
        h = (_rotl(h, 23) * P2 + P3) & M64
        i += 4
    while i < n:
        h ^= (data[i] * P5) & M64
        h = (_rotl(h, 11) * P1) & M64
        i += 1
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    h ^= h >> 32
    return h


def pattern(size, seed=1):
    """Known, compressible-but-not-trivial data with holes."""
    out = bytearray(size)
    blk = hashlib.sha256(b"x%d" % seed).digest() * 2048  # 64 KiB
    for off in range(0, size, 3 * MiB):
        end = min(size, off + MiB)
        out[off:end] = (blk * (MiB // len(blk) + 1))[:end - off]
    return bytes(out)


class TransferCase(ServerTestCase):
    """The helpers transfer tests share (test_import_foreign.py too)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        pool = cls.srv.api.pool.get_all()[0]
        cls.sr = cls.srv.api.pool.get_default_SR(pool)
        cls.sr_uuid = cls.srv.api.SR.get_uuid(cls.sr)
        cls.sr_dir = os.path.join(cls.srv.data_dir, "sr", cls.sr_uuid)

    # ---- helpers ----

    def url(self, path, **q):
        q.setdefault("session_id", self.srv.session)
        return path + "?" + urllib.parse.urlencode(q)

    def request(self, method, path, body=None, headers=None, timeout=60, **q):
        c = self.srv.connection(timeout)
        try:
            c.request(method, self.url(path, **q), body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
        finally:
            c.close()

    def put(self, path, body, **q):
        return self.request("PUT", path, body, {"Content-Length": str(len(body))}, **q)

    def new_vdi(self, size, name="exp-test"):
        return self.api.VDI.create({"name_label": name, "SR": self.sr, "virtual_size": size,
                                    "type": "user", "sharable": False, "read_only": False,
                                    "other_config": {}})

    def state(self):
        return (set(self.api.VM.get_all()), set(self.api.VDI.get_all()),
                set(os.listdir(self.sr_dir)))

    def assertNothingLeft(self, before):
        after = self.state()
        self.assertEqual(after[0], before[0], "VMs left behind")
        self.assertEqual(after[1], before[1], "VDIs left behind")
        self.assertEqual(after[2], before[2], "files left behind in the SR")

    def cleanup_vm(self, vm):
        vdis = [self.api.VBD.get_VDI(b) for b in self.api.VM.get_VBDs(vm)]
        self.api.VM.destroy(vm)
        for v in vdis:
            if v != harness.NULL_REF and v in self.api.VDI.get_all():
                self.api.VDI.destroy(v)

    def import_xva(self, body, expect_ok=True, **q):
        task = self.api.task.create("Xapi#putResource /import", "")
        st, h, reply = self.put("/import/", body, task_id=task, **q)
        rec = self.wait_task(task)
        if expect_ok:
            self.assertEqual(st, 200, reply)
            self.assertEqual(rec["status"], "success", rec["error_info"])
            self.assertTrue(rec["result"].startswith("<value><array><data><value>OpaqueRef:"),
                            rec["result"])
            return rec["result"].split("<value>")[2].split("</value>")[0]
        self.assertNotEqual(st, 200)
        self.assertEqual(rec["status"], "failure")
        return rec["error_info"]

    def disk_sums(self, vm):
        out = {}
        for b in self.api.VM.get_VBDs(vm):
            r = self.api.VBD.get_record(b)
            if r["type"] != "Disk":
                continue
            st, _, body = self.request("GET", "/export_raw_vdi", vdi=r["VDI"])
            out[r["userdevice"]] = hashlib.sha256(body).hexdigest()
        return out

    def vm_with_disks(self, sizes, name="xva-src"):
        """A halted VM with one disk per size (filled with pattern data up to
        `fill` bytes) and a VIF. Returns (vm, [vdi], [data])."""
        vm = self.new_vm(name, provision=False)
        vdis, datas = [], []
        for i, (size, fill) in enumerate(sizes):
            vdi = self.new_vdi(size, "%s-disk%d" % (name, i))
            data = pattern(fill, 10 + i) if fill else b""
            if data:
                st, _, body = self.put("/import_raw_vdi", data, vdi=vdi)
                self.assertEqual(st, 200, body)
            self.api.VBD.create({"VM": vm, "VDI": vdi, "userdevice": str(i), "bootable": i == 0,
                                 "mode": "RW", "type": "Disk", "unpluggable": False,
                                 "empty": False, "other_config": {},
                                 "qos_algorithm_type": "", "qos_algorithm_params": {}})
            vdis.append(vdi)
            datas.append(data)
        net = self.api.network.get_all()[0]
        self.api.VIF.create({"device": "0", "network": net, "VM": vm, "MAC": "aa:bb:cc:00:11:22",
                             "MTU": 1500, "other_config": {}, "qos_algorithm_type": "",
                             "qos_algorithm_params": {}})
        return vm, vdis, datas

    def xe_bin(self, *args, stdin=None):
        cmd = [harness.XE, "-s", "127.0.0.1", "-p", str(self.srv.port), "--nossl", "-u", "root",
               "-pw", self.srv.password] + list(args)
        return subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=120)


class ExportTest(TransferCase):

    # ---- raw VDI ----

    def test_raw_round_trip(self):
        data = pattern(8 * MiB + 4096)
        vdi = self.new_vdi(len(data))
        for path in ("/import_raw_vdi", "/import_raw_vdi/"):
            st, h, body = self.put(path, data, vdi=vdi, format="raw")
            self.assertEqual(st, 200, body)
            self.assertTrue(h.get("task-id", "").startswith("OpaqueRef:"))
            rec = self.api.task.get_record(h["task-id"])
            self.assertEqual(rec["status"], "success")
        uuid = self.api.VDI.get_uuid(vdi)
        for path, ident in (("/export_raw_vdi", vdi), ("/export_raw_vdi/", uuid)):
            st, h, body = self.request("GET", path, vdi=ident, format="raw")
            self.assertEqual(st, 200)
            self.assertEqual(h["content-type"], "application/octet-stream")
            self.assertEqual(hashlib.sha256(body).hexdigest(), hashlib.sha256(data).hexdigest())
            task = h["task-id"]
            rec = self.wait_task(task)
            self.assertEqual(rec["status"], "success")
        self.api.VDI.destroy(vdi)

    def test_raw_import_new_vdi(self):
        data = pattern(4 * MiB, 2)
        before = set(self.api.VDI.get_all())
        st, h, body = self.put("/import_raw_vdi", data, sr_id=self.sr)
        self.assertEqual(st, 200, body)
        rec = self.api.task.get_record(h["task-id"])
        self.assertEqual(rec["status"], "success")
        new = set(self.api.VDI.get_all()) - before
        self.assertEqual(len(new), 1)
        vdi = new.pop()
        self.assertIn(vdi, rec["result"])
        self.assertEqual(int(self.api.VDI.get_virtual_size(vdi)), len(data))
        st, h, body = self.request("GET", "/export_raw_vdi", vdi=vdi)
        self.assertEqual(body, data)
        self.api.VDI.destroy(vdi)

    def test_vhd_and_qcow2_export(self):
        data = pattern(6 * MiB, 3)
        vdi = self.new_vdi(len(data))
        st, _, body = self.put("/import_raw_vdi", data, vdi=vdi)
        self.assertEqual(st, 200, body)
        tmp = harness._tmpdir("xenon-exp-")
        for fmt, ctype, qfmt in (("vhd", "application/vhd", "vpc"),
                                 ("qcow2", "application/x-qemu-disk", "qcow2")):
            st, h, body = self.request("GET", "/export_raw_vdi/", vdi=vdi, format=fmt)
            self.assertEqual(st, 200)
            self.assertEqual(h["content-type"], ctype)
            self.assertFalse(body.startswith(b"HTTP/"))
            img = os.path.join(tmp, "disk." + fmt)
            with open(img, "wb") as f:
                f.write(body)
            raw = os.path.join(tmp, "disk.raw")
            subprocess.run(["qemu-img", "convert", "-f", qfmt, "-O", "raw", img, raw], check=True)
            with open(raw, "rb") as f:
                self.assertEqual(f.read(len(data)), data, fmt)
            # and back in, into a fresh disk
            if fmt in ("qcow2", "vhd"):
                vdi2 = self.new_vdi(len(data))
                st, _, b2 = self.put("/import_raw_vdi", body, vdi=vdi2, format=fmt)
                self.assertEqual(st, 200, b2)
                st, _, back = self.request("GET", "/export_raw_vdi", vdi=vdi2)
                self.assertEqual(back, data)
                self.api.VDI.destroy(vdi2)
        self.api.VDI.destroy(vdi)

    def test_vhd_delta_against_base(self):
        data = pattern(8 * MiB, 7)
        vdi = self.new_vdi(len(data))
        st, _, body = self.put("/import_raw_vdi", data, vdi=vdi)
        self.assertEqual(st, 200, body)
        snap = self.api.VDI.snapshot(vdi, {})
        changed = bytearray(data)
        changed[5 * MiB + 100:5 * MiB + 200] = b"\xee" * 100  # block 2 of 4
        st, _, body = self.put("/import_raw_vdi", bytes(changed), vdi=vdi)
        self.assertEqual(st, 200, body)
        st, h, vhd = self.request("GET", "/export_raw_vdi/", vdi=vdi, format="vhd", base=snap)
        self.assertEqual(st, 200, vhd[:200])
        table, = struct.unpack_from(">Q", vhd, 512 + 16)
        n, bsize = struct.unpack_from(">II", vhd, 512 + 28)
        bat = struct.unpack_from(">%dI" % n, vhd, table)
        present = [i for i, s in enumerate(bat) if s != 0xFFFFFFFF]
        self.assertEqual(present, [2])
        # applied to the base it gives the new contents
        st, _, base = self.request("GET", "/export_raw_vdi", vdi=snap)
        out = bytearray(base)
        for i in present:
            at = bat[i] * 512 + 512
            out[i * bsize:(i + 1) * bsize] = vhd[at:at + bsize]
        self.assertEqual(bytes(out), bytes(changed))
        st, _, _ = self.request("GET", "/export_raw_vdi", vdi=vdi, format="raw", base=snap)
        self.assertNotEqual(st, 200)
        self.api.VDI.destroy(snap)
        self.api.VDI.destroy(vdi)

    def test_vhd_import_from_qemu_img(self):
        data = pattern(5 * MiB, 4)
        tmp = harness._tmpdir("xenon-vhd-")
        raw = os.path.join(tmp, "d.raw")
        with open(raw, "wb") as f:
            f.write(data)
        for sub in ("dynamic", "fixed"):
            img = os.path.join(tmp, sub + ".vhd")
            subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o",
                            "subformat=%s,force_size=on" % sub, raw, img], check=True)
            with open(img, "rb") as f:
                body = f.read()
            vdi = self.new_vdi(len(data))
            st, _, reply = self.put("/import_raw_vdi/", body, vdi=vdi, format="vhd")
            self.assertEqual(st, 200, reply)
            st, _, back = self.request("GET", "/export_raw_vdi", vdi=vdi)
            self.assertEqual(back, data, sub)
            self.api.VDI.destroy(vdi)

    def test_sparse_raw_export_reads_no_holes(self):
        vdi = self.new_vdi(100 * GiB)
        t0 = time.monotonic()
        st, h, body = self.request("GET", "/export_raw_vdi", vdi=vdi, format="vhd")
        self.assertEqual(st, 200)
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertLess(len(body), 2 * MiB)
        self.api.VDI.destroy(vdi)

    def test_raw_oversized_and_truncated_rejected(self):
        before = self.state()
        # too big for the disk
        vdi = self.new_vdi(MiB)
        before_vdi = self.state()
        st, h, body = self.put("/import_raw_vdi", b"\1" * (2 * MiB), vdi=vdi)
        self.assertNotEqual(st, 200)
        rec = self.wait_task(h["task-id"])
        self.assertEqual(rec["status"], "failure")
        self.assertNothingLeft(before_vdi)
        self.api.VDI.destroy(vdi)
        # a new VDI whose upload stops short: the VDI goes again
        task = self.api.task.create("upload", "")
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        q = urllib.parse.urlencode({"session_id": self.srv.session, "task_id": task,
                                    "sr_id": self.sr})
        s.sendall(("PUT /import_raw_vdi?%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                   % (q, 4 * MiB)).encode() + b"\7" * MiB)
        s.close()  # at once: the close may arrive with the last data
        rec = self.wait_task(task)
        self.assertEqual(rec["status"], "failure")
        self.wait_for(lambda: self.state() == before, msg="clean-up after truncation")
        self.assertNothingLeft(before)

    # ---- XVA ----

    def export_xva(self, vm, **q):
        st, h, body = self.request("GET", "/export/", ref=vm, **q)
        self.assertEqual(st, 200, body[:300])
        self.assertEqual(self.wait_task(h["task-id"])["status"], "success")
        return body

    # ---- format=tar: one VDI as XVA-style chunks ----

    def test_vdi_tar_round_trip(self):
        size = 5 * MiB + 4096
        data = bytearray(size)
        data[:MiB] = pattern(MiB, 31)
        data[3 * MiB:3 * MiB + 4096] = pattern(4096, 32)  # chunk 1, 2 and 4 stay zero
        data = bytes(data)
        vdi = self.new_vdi(size)
        st, _, body = self.put("/import_raw_vdi", data, vdi=vdi)
        self.assertEqual(st, 200, body)
        st, h, tar = self.request("GET", "/export_raw_vdi", vdi=vdi, format="tar")
        self.assertEqual(st, 200, tar[:200])
        self.assertEqual(h["content-type"], "application/x-tar")
        self.assertEqual(tar[-1024:], b"\0" * 1024)
        tf = tarfile.open(fileobj=io.BytesIO(tar))
        chunks = {}
        for m in tf.getmembers():
            blob = tf.extractfile(m).read()
            if m.name.endswith(".xxhash"):
                self.assertEqual(blob.decode(), "%016X" % xxh64(chunks[m.name[:-7]]))
            else:
                chunks[m.name] = blob
        # the first and last chunks always, else only those with data
        self.assertEqual(sorted(chunks), ["vdi/00000000", "vdi/00000003", "vdi/00000005"])
        self.assertEqual(chunks["vdi/00000005"], bytes(4096))
        # into a VDI holding other data: what the stream leaves out is zero
        other = self.new_vdi(size)
        st, _, body = self.put("/import_raw_vdi", pattern(size, 33), vdi=other)
        self.assertEqual(st, 200, body)
        st, h, body = self.put("/import_raw_vdi", tar, vdi=other, format="tar")
        self.assertEqual(st, 200, body)
        self.assertEqual(self.wait_task(h["task-id"])["status"], "success")
        st, _, back = self.request("GET", "/export_raw_vdi", vdi=other)
        self.assertEqual(hashlib.sha256(back).hexdigest(), hashlib.sha256(data).hexdigest())
        # a damaged chunk, a cut stream, no VDI named
        bad = bytearray(tar)
        bad[512 + 100] ^= 0xFF  # inside vdi/00000000's data
        for body, code, q in ((bytes(bad), "IMPORT_ERROR_SOME_CHECKSUMS_FAILED", {"vdi": other}),
                              (tar[:len(tar) // 2], "IMPORT_ERROR_PREMATURE_EOF", {"vdi": other}),
                              (tar[:2048], "IMPORT_ERROR", {})):  # refused at once
            with self.subTest(code=code):
                task = self.api.task.create("tar", "")
                before = self.state()
                st, _, reply = self.put("/import_raw_vdi", body, format="tar", task_id=task, **q)
                self.assertNotEqual(st, 200)
                rec = self.wait_task(task)
                self.assertEqual(rec["error_info"][0], code, rec["error_info"])
                self.assertNothingLeft(before)
                self.assertEqual(self.api.VDI.get_current_operations(other), {})
        st, _, reply = self.request("GET", "/export_raw_vdi", vdi=vdi, format="tar", base=other)
        self.assertEqual((st, reply.split()[:2]), (500, [b"INVALID_VALUE", b"base"]))
        self.assertEqual(self.api.VDI.get_current_operations(vdi), {})
        if os.path.exists(harness.XE):  # xe passes format=tar through
            r = self.xe_bin("vdi-export", "uuid=" + self.api.VDI.get_uuid(vdi), "filename=-",
                            "format=tar")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, tar)
        self.api.VDI.destroy(vdi)
        self.api.VDI.destroy(other)

    def check_tar(self, body):
        """The archive as the format says: ova.xml first, chunk/xxhash pairs
        whose checksums hold, the two zero blocks at the end."""
        self.assertEqual(body[-1024:], b"\0" * 1024)
        tf = tarfile.open(fileobj=io.BytesIO(body))
        names = tf.getnames()
        self.assertEqual(names[0], "ova.xml")
        last = None
        for m in tf.getmembers()[1:]:
            data = tf.extractfile(m).read()
            if m.name.endswith(".xxhash"):
                self.assertEqual(m.name, last[0] + ".xxhash")
                self.assertEqual(data.decode(), "%016X" % xxh64(last[1]))
            else:
                self.assertRegex(m.name, r"^Ref:[0-9]+/[0-9]{8}$")
                last = (m.name, data)
        return tf, names

    def test_xva_round_trip(self):
        vm, vdis, datas = self.vm_with_disks([(8 * MiB, 5 * MiB), (4 * MiB + 512, 4 * MiB + 512)])
        self.api.VM.set_name_description(vm, "round trip")
        body = self.export_xva(vm)
        tf, names = self.check_tar(body)
        ova = tf.extractfile("ova.xml").read().decode()
        self.assertTrue(ova.startswith("<value><struct>"), ova[:100])
        self.assertIn("<name>export_vsn</name>", ova)
        self.assertNotIn("OpaqueRef:" + "0", ova.replace("OpaqueRef:NULL", ""))
        # disk 0 holds data in MiB 0 and 3 only: chunks 1, 2, 4-6 are left out,
        # the last one (7) is kept
        first = names[1].split("/")[0]
        chunks0 = [n.split("/")[1] for n in names
                   if n.startswith(first + "/") and not n.endswith(".xxhash")]
        self.assertEqual(chunks0, ["00000000", "00000003", "00000007"])
        before = self.disk_sums(vm)
        new = self.import_xva(body)
        self.assertNotEqual(new, vm)
        self.assertEqual(self.disk_sums(new), before)
        for f in ("name_label", "memory_static_max", "VCPUs_max", "HVM_boot_policy",
                  "PV_bootloader", "platform", "is_a_template"):
            self.assertEqual(self.api.VM.get_record(new)[f], self.api.VM.get_record(vm)[f], f)
        self.assertEqual(self.api.VM.get_power_state(new), "Halted")
        self.assertEqual(len(self.api.VM.get_VIFs(new)), 1)
        self.assertEqual(self.api.VIF.get_MAC(self.api.VM.get_VIFs(new)[0]), "aa:bb:cc:00:11:22")
        self.cleanup_vm(new)
        self.cleanup_vm(vm)

    def test_xva_compressed(self):
        vm, vdis, datas = self.vm_with_disks([(4 * MiB, 2 * MiB)], "xva-z")
        want = self.disk_sums(vm)
        for comp, magic in (("true", b"\x1f\x8b"), ("zstd", b"\x28\xb5\x2f\xfd")):
            body = self.export_xva(vm, use_compression=comp)
            self.assertTrue(body.startswith(magic), comp)
            if comp == "true":
                self.check_tar(gzip.decompress(body))
            elif shutil.which("zstd"):
                plain = subprocess.run(["zstd", "-d", "-c"], input=body, stdout=subprocess.PIPE,
                                       check=True).stdout
                self.check_tar(plain)
            new = self.import_xva(body)
            self.assertEqual(self.disk_sums(new), want, comp)
            self.cleanup_vm(new)
        # and archives compressed by the standard tools
        plain = self.export_xva(vm)
        for body in (gzip.compress(plain, 6),) + ((subprocess.run(
                ["zstd", "-q", "-c"], input=plain, stdout=subprocess.PIPE, check=True).stdout,)
                if shutil.which("zstd") else ()):
            new = self.import_xva(body)
            self.assertEqual(self.disk_sums(new), want)
            self.cleanup_vm(new)
        self.cleanup_vm(vm)

    def test_export_metadata(self):
        vm, _, _ = self.vm_with_disks([(MiB, MiB)], "xva-meta")
        st, h, body = self.request("GET", "/export_metadata", uuid=self.api.VM.get_uuid(vm))
        self.assertEqual(st, 200)
        tf = tarfile.open(fileobj=io.BytesIO(body))
        self.assertEqual(tf.getnames(), ["ova.xml"])
        self.assertIn("<name>VDI</name>", tf.extractfile("ova.xml").read().decode()
                      .replace("<value>VDI</value>", "<name>VDI</name>"))
        self.cleanup_vm(vm)

    def import_metadata(self, body, expect_ok=True, **q):
        task = self.api.task.create("import_metadata", "")
        st, _, reply = self.put("/import_metadata", body, task_id=task, **q)
        rec = self.wait_task(task)
        self.api.task.destroy(task)
        if not expect_ok:
            self.assertNotEqual(st, 200, reply)
            self.assertEqual(rec["status"], "failure")
            return rec["error_info"]
        self.assertEqual(st, 200, reply)
        self.assertEqual(rec["status"], "success", rec["error_info"])
        refs = rec["result"].split("<value>")[2:]  # none for a dry run
        return refs[0].split("</value>")[0] if refs else None

    def test_import_metadata(self):
        """export_metadata then import_metadata: a VM whose VBDs use the
        very VDIs the description names, found here by SR and location."""
        vm, vdis, _ = self.vm_with_disks([(MiB, MiB), (2 * MiB, MiB)], "meta-src")
        uuid = self.api.VM.get_uuid(vm)
        st, _, meta = self.request("GET", "/export_metadata", uuid=uuid)
        self.assertEqual(st, 200)
        # dry_run finds the disks and makes nothing
        before = self.state()
        self.assertIsNone(self.import_metadata(meta, dry_run="true"))
        self.assertEqual(self.state(), before)
        new = self.import_metadata(meta)
        self.assertNotEqual(new, vm)
        self.assertNotEqual(self.api.VM.get_uuid(new), uuid)  # the uuid is taken
        self.assertEqual(self.api.VM.get_name_label(new), "meta-src")
        got = {self.api.VBD.get_userdevice(b): self.api.VBD.get_VDI(b)
               for b in self.api.VM.get_VBDs(new)}
        self.assertEqual(got, {"0": vdis[0], "1": vdis[1]})
        self.assertEqual(len(self.api.VM.get_VIFs(new)), 1)
        self.assertEqual(set(self.api.VDI.get_all()), before[1], "disks were made")
        self.api.VM.destroy(new)
        # restore=true keeps the uuid once it is free again
        self.api.VM.destroy(vm)
        new = self.import_metadata(meta, restore="true")
        self.assertEqual(self.api.VM.get_uuid(new), uuid)
        self.api.VM.destroy(new)
        # a disk not here: VDI_LOCATION_MISSING, nothing made; force leaves it out
        loc = self.api.VDI.get_location(vdis[1])
        self.api.VDI.destroy(vdis[1])
        before = self.state()
        err = self.import_metadata(meta, expect_ok=False)
        self.assertEqual(err, ["VDI_LOCATION_MISSING", self.sr, loc])
        self.assertNothingLeft(before)
        new = self.import_metadata(meta, force="true")
        got = {self.api.VBD.get_userdevice(b): self.api.VBD.get_VDI(b)
               for b in self.api.VM.get_VBDs(new)}
        self.assertEqual(got, {"0": vdis[0]})
        # a mapping vdi:<uuid>=<uuid> puts another disk in its place
        other = self.new_vdi(MiB, "meta-map")
        q = {"vdi:" + self.api.VDI.get_uuid(vdis[0]): self.api.VDI.get_uuid(other)}
        err = self.import_metadata(meta, expect_ok=False, **q)  # disk 1 is still missing
        self.assertEqual(err[0], "VDI_LOCATION_MISSING")
        new2 = self.import_metadata(meta, force="true", **q)
        self.assertEqual([self.api.VBD.get_VDI(b) for b in self.api.VM.get_VBDs(new2)], [other])
        # an archive with disk data is not metadata
        st, _, full = self.request("GET", "/export", uuid=self.api.VM.get_uuid(new))
        self.assertEqual(st, 200)
        before = self.state()
        err = self.import_metadata(full, expect_ok=False)
        self.assertEqual(err[0], "IMPORT_ERROR")
        self.assertNothingLeft(before)
        self.api.VM.destroy(new2)
        if os.path.exists(harness.XE):  # xe vm-import metadata=true
            path = os.path.join(harness._tmpdir("xenon-meta-"), "meta.xva")
            with open(path, "wb") as f:
                f.write(meta)
            r = self.xe_bin("vm-import", "filename=" + path, "metadata=true", "force=true")
            self.assertEqual(r.returncode, 0, r.stderr)
            new2 = self.api.VM.get_by_uuid(r.stdout.decode().strip())
            self.assertEqual([self.api.VBD.get_VDI(b) for b in self.api.VM.get_VBDs(new2)],
                             [vdis[0]])
            self.api.VM.destroy(new2)
        self.api.VM.destroy(new)
        self.api.VDI.destroy(other)
        self.api.VDI.destroy(vdis[0])

    @staticmethod
    def build_xva(disk, name="handmade", chunk=MiB, keepalive=False):
        """An XVA written from the format description alone."""
        def v(x):
            if isinstance(x, bool):
                return "<value><boolean>%d</boolean></value>" % x
            if isinstance(x, int):
                return "<value><int>%d</int></value>" % x
            if isinstance(x, dict):
                return "<value><struct>%s</struct></value>" % "".join(
                    "<member><name>%s</name>%s</member>" % (k, v(x[k])) for k in x)
            if isinstance(x, list):
                return "<value><array><data>%s</data></array></value>" % "".join(v(i) for i in x)
            return "<value>%s</value>" % x
        objs = [
            {"class": "VM", "id": "Ref:7", "snapshot": {
                "name_label": name, "name_description": "built by test_export",
                "memory_static_max": str(128 * MiB), "memory_dynamic_max": str(128 * MiB),
                "memory_dynamic_min": str(128 * MiB), "memory_static_min": str(128 * MiB),
                "VCPUs_max": "1", "VCPUs_at_startup": "1", "is_a_template": False,
                "power_state": "Halted", "HVM_boot_policy": "BIOS order",
                "VBDs": ["Ref:8"], "VIFs": [], "resident_on": "OpaqueRef:NULL",
                "platform": {}, "other_config": {}}},
            {"class": "VBD", "id": "Ref:8", "snapshot": {
                "VM": "Ref:7", "VDI": "Ref:9", "userdevice": "0", "bootable": True,
                "mode": "RW", "type": "Disk", "empty": False, "other_config": {}}},
            {"class": "VDI", "id": "Ref:9", "snapshot": {
                "name_label": name + " disk", "virtual_size": str(len(disk)), "type": "user",
                "read_only": False, "sharable": False, "other_config": {}, "SR": "Ref:10"}},
            {"class": "SR", "id": "Ref:10", "snapshot": {"name_label": "somewhere"}},
        ]
        ova = v({"version": {"hostname": "test", "date": "2026-01-01",
                             "product_version": "8.2.1", "product_brand": "XCP-ng",
                             "build_number": "x", "xapi_major": 1, "xapi_minor": 1,
                             "export_vsn": 2},
                 "objects": objs}).encode()
        out = io.BytesIO()
        tf = tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT)

        def add(n, data):
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        add("ova.xml", ova)
        nchunks = (len(disk) + chunk - 1) // chunk
        counter = 0
        for i in range(nchunks):
            data = disk[i * chunk:(i + 1) * chunk]
            if 0 < i < nchunks - 1 and not data.strip(b"\0"):
                counter += 1
                continue
            if keepalive and i == 1:
                add("Ref:9/%08d" % counter, b"")
                add("Ref:9/%08d.xxhash" % counter, b"%016X" % xxh64(b""))
                counter += 1
            add("Ref:9/%08d" % counter, data)
            add("Ref:9/%08d.xxhash" % counter, b"%016X" % xxh64(data))
            counter += 1
        tf.close()
        return out.getvalue()

    def test_xva_export_of_running_vm_refused(self):
        vm = self.new_vm("xva-running", provision=False)
        self.api.VM.start(vm, False, False)
        st, h, body = self.request("GET", "/export", ref=vm)
        self.assertNotEqual(st, 200)
        rec = self.wait_task(h["task-id"])
        self.assertEqual(rec["error_info"][0], "VM_BAD_POWER_STATE")
        # its metadata can be had all the same
        st, _, body = self.request("GET", "/export_metadata", ref=vm)
        self.assertEqual(st, 200)
        self.api.VM.hard_shutdown(vm)
        self.api.VM.destroy(vm)

    def test_xva_handmade(self):
        disk = bytearray(6 * MiB)
        disk[:MiB] = pattern(MiB, 5)
        disk[4 * MiB:5 * MiB] = pattern(MiB, 6)
        disk = bytes(disk)
        for keepalive in (False, True):
            body = self.build_xva(disk, keepalive=keepalive)
            vm = self.import_xva(body)
            self.assertEqual(self.api.VM.get_name_label(vm), "handmade")
            self.assertEqual(self.disk_sums(vm), {"0": hashlib.sha256(disk).hexdigest()})
            self.cleanup_vm(vm)

    def test_xva_dry_run_and_restore(self):
        vm, _, _ = self.vm_with_disks([(2 * MiB, MiB)], "xva-restore")
        uuid = self.api.VM.get_uuid(vm)
        body = self.export_xva(vm)
        before = self.state()
        task = self.api.task.create("dry", "")
        st, _, _ = self.put("/import", body, task_id=task, dry_run="true")
        self.assertEqual(st, 200)
        self.assertEqual(self.wait_task(task)["status"], "success")
        self.assertNothingLeft(before)
        # restore keeps the uuid once the original is gone
        sums = self.disk_sums(vm)
        self.cleanup_vm(vm)
        new = self.import_xva(body, restore="true", sr_uuid=self.sr_uuid)
        self.assertEqual(self.api.VM.get_uuid(new), uuid)
        self.assertEqual(self.disk_sums(new), sums)
        self.cleanup_vm(new)

    def test_xva_sparse_export(self):
        vm, vdis, _ = self.vm_with_disks([(100 * GiB, 0)], "xva-sparse")
        t0 = time.monotonic()
        body = self.export_xva(vm)
        took = time.monotonic() - t0
        self.assertLess(took, 2.0)
        tf, names = self.check_tar(body)
        chunks = [n for n in names if "/" in n and not n.endswith(".xxhash")]
        self.assertEqual([c.split("/")[1] for c in chunks], ["00000000", "%08d" % (100 * 1024 - 1)])
        self.cleanup_vm(vm)

    def test_xva_bad_uploads_leave_nothing(self):
        disk = pattern(3 * MiB, 9)
        good = self.build_xva(disk, "bad-upload")
        before = self.state()
        # truncated: a clean HTTP request whose archive stops in the middle
        err = self.import_xva(good[:len(good) // 2], expect_ok=False)
        self.assertEqual(err[0], "IMPORT_ERROR_PREMATURE_EOF")
        self.assertNothingLeft(before)
        # a flipped bit in disk data: the chunk's checksum fails
        off = good.index(disk[:64])
        bad = bytearray(good)
        bad[off + 10] ^= 0x04
        err = self.import_xva(bytes(bad), expect_ok=False)
        self.assertEqual(err[0], "IMPORT_ERROR_SOME_CHECKSUMS_FAILED", err)
        self.assertNothingLeft(before)
        # a disk whose data runs past its declared size
        over = self.build_xva(disk, "too-big").replace(
            b"<value>%d</value>" % len(disk), b"<value>%d</value>" % MiB)
        err = self.import_xva(over, expect_ok=False)
        self.assertEqual(err[0], "IMPORT_ERROR")
        self.assertNothingLeft(before)
        # the connection drops half-way
        task = self.api.task.create("upload", "")
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        q = urllib.parse.urlencode({"session_id": self.srv.session, "task_id": task})
        s.sendall(("PUT /import/?%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                   % (q, len(good))).encode() + good[:len(good) - MiB])
        s.close()  # at once: the close may arrive with the last data
        rec = self.wait_task(task)
        self.assertEqual(rec["status"], "failure")
        self.assertEqual(rec["error_info"][0], "IMPORT_ERROR_PREMATURE_EOF")
        self.wait_for(lambda: self.state() == before, msg="clean-up after a dropped upload")
        # force skips the checksums
        vm = self.import_xva(bytes(bad), force="true")
        self.cleanup_vm(vm)

    # ---- xe ----

    @unittest.skipUnless(os.path.exists(harness.XE), "xe not built")
    def test_xe_transfers(self):
        vm, vdis, datas = self.vm_with_disks([(3 * MiB, 2 * MiB)], "xe-src")
        want = self.disk_sums(vm)
        tmp = harness._tmpdir("xenon-xe-")
        xva = os.path.join(tmp, "vm.xva")
        uuid = self.api.VM.get_uuid(vm)
        for comp in ("false", "zstd"):
            r = self.xe_bin("vm-export", "vm=" + uuid, "filename=" + xva, "compress=" + comp)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = self.xe_bin("vm-import", "filename=" + xva, "sr-uuid=" + self.sr_uuid)
            self.assertEqual(r.returncode, 0, r.stderr)
            new = self.api.VM.get_by_uuid(r.stdout.decode().strip())
            self.assertEqual(self.disk_sums(new), want)
            self.cleanup_vm(new)
        # through a pipe: an upload of unknown length
        with open(xva, "rb") as f:
            r = self.xe_bin("vm-import", "filename=-", stdin=f.read())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.cleanup_vm(self.api.VM.get_by_uuid(r.stdout.decode().strip()))
        # a VDI to stdout and back from stdin
        vuuid = self.api.VDI.get_uuid(vdis[0])
        r = self.xe_bin("vdi-export", "uuid=" + vuuid, "filename=-")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, datas[0] + bytes(MiB))
        other = self.new_vdi(3 * MiB)
        r = self.xe_bin("vdi-import", "uuid=" + self.api.VDI.get_uuid(other), "filename=-",
                        stdin=r.stdout)
        self.assertEqual(r.returncode, 0, r.stderr)
        st, _, back = self.request("GET", "/export_raw_vdi", vdi=other)
        self.assertEqual(back, datas[0] + bytes(MiB))
        # a failed import is reported
        bad = os.path.join(tmp, "bad.xva")
        with open(bad, "wb") as f:
            f.write(b"not an archive" * 100)
        r = self.xe_bin("vm-import", "filename=" + bad)
        self.assertNotEqual(r.returncode, 0)
        self.api.VDI.destroy(other)
        self.cleanup_vm(vm)

    @unittest.skipUnless(os.path.exists(harness.XE), "xe not built")
    def test_xe_upload_refused(self):
        """The server refuses an upload before its body (no such VDI) and
        closes: xe reports the error (it is not ended by SIGPIPE while it
        still sends), from a file, a sparse file as chunks and a pipe."""
        tmp = harness._tmpdir("xenon-xe-")
        path = os.path.join(tmp, "d.raw")
        with open(path, "wb") as f:
            f.truncate(256 * MiB)
            f.write(pattern(64 * MiB, 5))
        bogus = "uuid=00000000-0000-0000-0000-000000000000"
        for args, stdin in (((bogus, "filename=" + path, "format=vhd"), None),
                            ((bogus, "filename=" + path), None),
                            ((bogus, "filename=-"), pattern(64 * MiB, 6))):
            r = self.xe_bin("vdi-import", *args, stdin=stdin)
            self.assertEqual(r.returncode, 1, (args[-1], r.returncode, r.stderr))
            self.assertIn(b"class: VDI", r.stderr)

    @unittest.skipUnless(os.path.exists(harness.XE), "xe not built")
    def test_xe_vdi_import_sparse_file(self):
        """A raw file with holes goes as chunks of its data (chunked=true);
        into a VDI that held data, the holes come out as zeros."""
        tmp = harness._tmpdir("xenon-xe-")
        path = os.path.join(tmp, "sparse.raw")
        size = 16 * MiB
        pieces = [(0, b"\x11" * 5000), (5 * MiB + 512, pattern(MiB, 3)), (size - 4096, b"\x22" * 4096)]
        with open(path, "wb") as f:
            f.truncate(size)
            for off, data in pieces:
                f.seek(off)
                f.write(data)
        want = bytearray(size)
        for off, data in pieces:
            want[off:off + len(data)] = data
        for fill in (None, b"\x5a"):
            vdi = self.new_vdi(size)
            if fill:  # not empty before: the import must clear what it does not send
                st, _, _ = self.request("PUT", "/import_raw_vdi", body=fill * size, vdi=vdi, format="raw")
                self.assertEqual(st, 200)
            if fill:  # not in the page cache: xe reads it with O_DIRECT
                fd = os.open(path, os.O_RDONLY)
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)
            r = self.xe_bin("vdi-import", "uuid=" + self.api.VDI.get_uuid(vdi), "filename=" + path,
                            "format=raw")
            self.assertEqual(r.returncode, 0, r.stderr)
            st, _, back = self.request("GET", "/export_raw_vdi", vdi=vdi)
            self.assertEqual(hashlib.sha256(back).hexdigest(), hashlib.sha256(want).hexdigest())
            self.api.VDI.destroy(vdi)
        # stdin redirected from the file (a regular file, not a pipe): sent
        # as chunks as well, and said so in the query
        vdi = self.new_vdi(size)
        cmd = [harness.XE, "-s", "127.0.0.1", "-p", str(self.srv.port), "--nossl", "-u", "root",
               "-pw", self.srv.password, "vdi-import", "uuid=" + self.api.VDI.get_uuid(vdi), "filename=-"]
        with open(path, "rb") as f:
            r = subprocess.run(cmd, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        st, _, back = self.request("GET", "/export_raw_vdi", vdi=vdi)
        self.assertEqual(hashlib.sha256(back).hexdigest(), hashlib.sha256(want).hexdigest())
        self.api.VDI.destroy(vdi)
        # on a terminal xe shows how far it is
        vdi = self.new_vdi(size)
        master, slave = pty.openpty()
        cmd = [harness.XE, "-s", "127.0.0.1", "-p", str(self.srv.port), "--nossl", "-u", "root",
               "-pw", self.srv.password, "vdi-import", "uuid=" + self.api.VDI.get_uuid(vdi),
               "filename=" + path]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=slave, timeout=120)
        os.close(slave)
        shown = b""
        while True:
            try:
                got = os.read(master, 4096)
            except OSError:
                break
            if not got:
                break
            shown += got
        os.close(master)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(shown.decode(), r"sent \d+ / \d+ MiB \( *\d+%\) \d+ MiB/s")
        self.api.VDI.destroy(vdi)

    @staticmethod
    def chunk(off, data):
        return struct.pack("<QI", off, len(data)) + data

    def test_chunked_raw_import(self):
        """xapi's chunked raw upload: (offset u64, length u32, data)...,
        then a header of zeros."""
        size = 4 * MiB
        a, b = pattern(MiB, 5)[:300000], b"\x77" * 70000
        body = self.chunk(4096, a) + self.chunk(3 * MiB + 100, b) + bytes(12)
        want = bytearray(size)
        want[4096:4096 + len(a)] = a
        want[3 * MiB + 100:3 * MiB + 100 + len(b)] = b
        vdi = self.new_vdi(size)
        st, _, _ = self.request("PUT", "/import_raw_vdi", body=b"\x33" * size, vdi=vdi, format="raw")
        self.assertEqual(st, 200)
        st, _, reply = self.request("PUT", "/import_raw_vdi", body=body, vdi=vdi, chunked="true")
        self.assertEqual(st, 200, reply)
        st, _, back = self.request("GET", "/export_raw_vdi", vdi=vdi)
        self.assertTrue(back == bytes(want), "content differs")
        # refused: out of order, past the end, cut short, after the end, vhd, no vdi
        bad = [
            (self.chunk(MiB, b"x" * 10) + self.chunk(0, b"y" * 10) + bytes(12), "IMPORT_ERROR"),
            (self.chunk(size - 5, b"z" * 10) + bytes(12), "IMPORT_ERROR"),
            (self.chunk(0, b"z" * 100)[:50], "IMPORT_ERROR_PREMATURE_EOF"),
            (self.chunk(0, b"z" * 10) + bytes(12) + b"more", "IMPORT_ERROR"),
        ]
        for data, code in bad:
            task = self.api.task.create("chunked", "")
            st, _, reply = self.request("PUT", "/import_raw_vdi", body=data, vdi=vdi, chunked="true",
                                        task_id=task)
            self.assertEqual(st, 500, reply)
            rec = self.wait_task(task)
            self.assertEqual(rec["error_info"][0], code, (data[:40], rec["error_info"]))
        st, _, reply = self.request("PUT", "/import_raw_vdi", body=body, vdi=vdi, chunked="true",
                                    format="vhd")
        self.assertEqual((st, reply.split()[0]), (403, b"IMPORT_ERROR_CANNOT_HANDLE_CHUNKED"))
        st, _, reply = self.request("PUT", "/import_raw_vdi", body=body, chunked="true", sr_id=self.sr)
        self.assertEqual((st, reply.split()[0]), (500, b"IMPORT_ERROR"))
        self.api.VDI.destroy(vdi)

    # ---- protocol ----

    def test_probe_put(self):
        for path in ("/import/", "/import_raw_vdi/"):
            c = self.srv.connection()
            c.request("PUT", self.url(path), body=b"", headers={"Content-Length": "0"})
            r = c.getresponse()
            r.read()
            c.close()
            self.assertEqual(r.status // 100, 2, path)

    def send_unknown_length(self, path, body, **q):
        """Xen Orchestra's upload of unknown length: Content-Length 1 PiB;
        it waits for the answer's headers (xapi answers 200 before the
        body), sends the data and closes."""
        task = self.api.task.create("Xapi#putResource " + path, "")
        q.update({"session_id": self.srv.session, "task_id": task})
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        s.sendall(("PUT %s?%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                   % (path, urllib.parse.urlencode(q), 1 << 50)).encode())
        s.settimeout(10)
        head = b""
        while b"\r\n\r\n" not in head:
            got = s.recv(4096)
            self.assertTrue(got, "closed before answering")
            head += got
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertIn(("task-id: %s\r\n" % task).encode(), head)
        self.assertEqual(self.api.task.get_status(task), "pending")
        s.sendall(body)
        s.close()  # at once: the close may arrive with the last data
        return self.wait_task(task)

    def test_unknown_length_uploads(self):
        disk = pattern(2 * MiB, 12)
        rec = self.send_unknown_length("/import/", self.build_xva(disk, "xo-upload"))
        self.assertEqual(rec["status"], "success", rec["error_info"])
        vm = rec["result"].split("<value>")[2].split("</value>")[0]
        self.assertEqual(self.disk_sums(vm), {"0": hashlib.sha256(disk).hexdigest()})
        self.cleanup_vm(vm)
        vdi = self.new_vdi(len(disk))
        rec = self.send_unknown_length("/import_raw_vdi/", disk, vdi=vdi, format="raw")
        self.assertEqual(rec["status"], "success", rec["error_info"])
        st, _, back = self.request("GET", "/export_raw_vdi", vdi=vdi)
        self.assertEqual(back, disk)
        self.api.VDI.destroy(vdi)

    def test_chunked_import_refused(self):
        c = self.srv.connection()
        c.putrequest("PUT", self.url("/import"))
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        c.send(b"4\r\nabcd\r\n0\r\n\r\n")
        r = c.getresponse()
        r.read()
        c.close()
        self.assertEqual(r.status, 403)

    def test_auth(self):
        vdi = self.new_vdi(MiB)
        # no credentials
        c = self.srv.connection()
        c.request("GET", "/export_raw_vdi?vdi=" + vdi)
        r = c.getresponse()
        r.read()
        self.assertEqual(r.status, 401)
        # cookie
        c = self.srv.connection()
        c.request("GET", "/export_raw_vdi?vdi=" + vdi,
                  headers={"Cookie": "session_id=" + self.srv.session})
        r = c.getresponse()
        self.assertEqual(len(r.read()), MiB)
        self.assertEqual(r.status, 200)
        # HTTP Basic
        auth = base64.b64encode(("root:" + self.srv.password).encode()).decode()
        c = self.srv.connection()
        c.request("GET", "/export_raw_vdi?vdi=" + vdi, headers={"Authorization": "Basic " + auth})
        r = c.getresponse()
        self.assertEqual(len(r.read()), MiB)
        self.assertEqual(r.status, 200)
        self.api.VDI.destroy(vdi)

    def test_task_id_driven(self):
        vdi = self.new_vdi(MiB)
        task = self.api.task.create("Xapi#getResource /export_raw_vdi", "")
        st, h, body = self.request("GET", "/export_raw_vdi/", vdi=vdi, task_id=task)
        self.assertEqual(st, 200)
        self.assertEqual(h["task-id"], task)
        rec = self.wait_task(task)
        self.assertEqual(rec["status"], "success")
        self.assertEqual(float(rec["progress"]), 1.0)
        self.api.VDI.destroy(vdi)


TLS_PORT = harness.free_port()


@unittest.skipUnless(os.path.exists(harness.XE), "xe not built")
class XeOverTlsTest(TransferCase):
    """xe's uploads over HTTPS: the body goes through curl's TLS session
    (over plain HTTP the page cache's part goes by sendfile, which TLS
    cannot use): a file, a sparse raw file as chunks, and a pipe."""
    server_kwargs = {"extra_args": ["--tls-listen", "127.0.0.1:%d" % TLS_PORT]}

    def xe_tls(self, *args, stdin=None):
        cmd = [harness.XE, "-s", "127.0.0.1", "-p", str(TLS_PORT), "-u", "root",
               "-pw", self.srv.password] + list(args)
        return subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=120)

    def test_uploads(self):
        tmp = harness._tmpdir("xenon-xe-tls-")
        size = 12 * MiB
        data = bytearray(size)
        data[MiB:3 * MiB] = pattern(2 * MiB, 7)
        data[size - 8192:] = b"\x33" * 8192
        path = os.path.join(tmp, "disk.raw")
        with open(path, "wb") as f:
            f.truncate(size)
            f.seek(MiB)
            f.write(data[MiB:3 * MiB])
            f.seek(size - 8192)
            f.write(data[size - 8192:])
        want = hashlib.sha256(data).hexdigest()
        for how in ("file", "evicted", "stdin"):
            vdi = self.new_vdi(size)
            uuid = self.api.VDI.get_uuid(vdi)
            if how == "stdin":
                r = self.xe_tls("vdi-import", "uuid=" + uuid, "filename=-", stdin=bytes(data))
            else:
                if how == "evicted":
                    fd = os.open(path, os.O_RDONLY)
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    os.close(fd)
                r = self.xe_tls("vdi-import", "uuid=" + uuid, "filename=" + path, "format=raw")
            self.assertEqual(r.returncode, 0, r.stderr)
            st, _, back = self.request("GET", "/export_raw_vdi", vdi=vdi)
            self.assertEqual(hashlib.sha256(back).hexdigest(), want, how)
            # and back out over TLS
            out = os.path.join(tmp, "out.raw")
            r = self.xe_tls("vdi-export", "uuid=" + uuid, "filename=" + out)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, "rb") as f:
                self.assertEqual(hashlib.sha256(f.read()).hexdigest(), want, how)
            self.api.VDI.destroy(vdi)
        # a VM out and in again over TLS, from the file and from a pipe
        vm, _, _ = self.vm_with_disks([(4 * MiB, 3 * MiB)], "tls-src")
        sums = self.disk_sums(vm)
        xva = os.path.join(tmp, "vm.xva")
        r = self.xe_tls("vm-export", "vm=" + self.api.VM.get_uuid(vm), "filename=" + xva)
        self.assertEqual(r.returncode, 0, r.stderr)
        for how in ("file", "stdin"):
            if how == "file":
                r = self.xe_tls("vm-import", "filename=" + xva, "sr-uuid=" + self.sr_uuid)
            else:
                with open(xva, "rb") as f:
                    r = self.xe_tls("vm-import", "filename=-", "sr-uuid=" + self.sr_uuid, stdin=f.read())
            self.assertEqual(r.returncode, 0, r.stderr)
            new = self.api.VM.get_by_uuid(r.stdout.decode().strip())
            self.assertEqual(self.disk_sums(new), sums, how)
            self.cleanup_vm(new)
        self.cleanup_vm(vm)
        # an upload refused before its body (no such VDI) reports the error
        r = self.xe_tls("vdi-import", "uuid=00000000-0000-0000-0000-000000000000", "filename=" + path)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"class: VDI", r.stderr)
        # a failed import is reported, and leaves nothing
        before = self.state()
        bad = os.path.join(tmp, "bad.xva")
        with open(bad, "wb") as f:
            f.write(b"not an archive" * 1000)
        r = self.xe_tls("vm-import", "filename=" + bad, "sr-uuid=" + self.sr_uuid)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"IMPORT_ERROR", r.stderr)
        self.wait_for(lambda: self.state() == before, msg="nothing left after a failed import")

if __name__ == "__main__":
    harness.main()
