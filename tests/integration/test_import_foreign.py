"""Images made elsewhere, against a real xenond (sim backend): VMDK, qcow2
and VHD files through PUT /import_raw_vdi?format=… (into a VDI or a new
one) and xe vdi-import; a bare image or an OVA package through PUT /import
(and xe vm-import) as a new VM with the OVF's name, vCPUs and memory; and
hostile uploads (not an image, cut short, naming a backing file or extent
outside, too large) refused with a XenAPI error, leaving nothing behind.
Images are made with qemu-img, packages with tarfile."""

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_export import MiB, TransferCase, pattern  # noqa: E402

QEMU_IMG = shutil.which("qemu-img")


def qemu_img(*args):
    subprocess.run([QEMU_IMG] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=60)


def sha(b):
    return hashlib.sha256(b).hexdigest()


OVF = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References>%(files)s</References>
  <DiskSection><Info>disks</Info>%(disks)s</DiskSection>
  <VirtualSystem ovf:id="vs-id">
    <Info>a VM</Info>
    <Name>%(name)s</Name>
    <VirtualHardwareSection>
      <Info>hardware</Info>
      <Item><rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:ElementName>2 virtual CPUs</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>%(vcpus)d</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:ElementName>memory</rasd:ElementName><rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>%(mem)d</rasd:VirtualQuantity></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""


def build_ova(name, disks, vcpus=2, mem_mib=768, cut=None, drop=None):
    """An OVA (ustar, .ovf first) with disks = [(filename, bytes, capacity)]."""
    files = "".join('<File ovf:id="f%d" ovf:href="%s"/>' % (i, d[0]) for i, d in enumerate(disks))
    dsec = "".join('<Disk ovf:diskId="d%d" ovf:fileRef="f%d" ovf:capacity="%d"/>' % (i, i, d[2])
                   for i, d in enumerate(disks))
    ovf = (OVF % {"files": files, "disks": dsec, "name": name, "vcpus": vcpus,
                  "mem": mem_mib}).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as t:
        members = [(name + ".ovf", ovf)] + [(d[0], d[1]) for d in disks]
        for n, data in members:
            if n == drop:
                continue
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    body = out.getvalue()
    return body[:cut] if cut else body


@unittest.skipUnless(QEMU_IMG, "qemu-img not installed")
class ForeignImportTest(TransferCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = harness._tmpdir("xenon-foreign-")

    def image(self, data, fmt, name=None, *opts):
        """data converted by qemu-img into fmt; returns the file's bytes."""
        raw = os.path.join(self.tmp, "src.raw")
        with open(raw, "wb") as f:
            f.write(data)
        out = os.path.join(self.tmp, name or "img." + fmt)
        qemu_img("convert", "-q", "-f", "raw", "-O", fmt, *opts, raw, out)
        with open(out, "rb") as f:
            return f.read()

    def export(self, vdi):
        st, _, body = self.request("GET", "/export_raw_vdi", vdi=vdi)
        self.assertEqual(st, 200, body[:200])
        return body

    def put_task(self, path, body, **q):
        """PUT with a task of our own: (status, task record)."""
        task = self.api.task.create("import", "")
        st, _, reply = self.put(path, body, task_id=task, **q)
        rec = self.wait_task(task)
        self.api.task.destroy(task)
        return st, rec, reply

    def refused(self, path, body, code, **q):
        before = self.state()
        st, rec, reply = self.put_task(path, body, **q)
        self.assertNotEqual(st, 200, reply)
        self.assertEqual(rec["status"], "failure")
        self.assertEqual(rec["error_info"][0], code, rec["error_info"])
        self.assertNothingLeft(before)
        return rec["error_info"]

    def result_ref(self, rec):
        self.assertEqual(rec["status"], "success", rec["error_info"])
        r = rec["result"]
        i = r.index("OpaqueRef:")
        return r[i:r.index("<", i)]

    # ---- into a VDI ----

    def test_formats_into_existing_vdi(self):
        data = pattern(5 * MiB + 65536, 3)
        for fmt, opts in (("vmdk", ()), ("vmdk", ("-o", "subformat=streamOptimized")),
                          ("qcow2", ()), ("vhd", ())):
            with self.subTest(fmt=fmt, opts=opts):
                img = self.image(data, "vpc" if fmt == "vhd" else fmt, None, *opts)
                vdi = self.new_vdi(6 * MiB)
                before = set(os.listdir(self.sr_dir))
                st, rec, reply = self.put_task("/import_raw_vdi", img, vdi=vdi, format=fmt)
                self.assertEqual(st, 200, reply)
                self.assertEqual(rec["status"], "success", rec["error_info"])
                self.assertEqual(set(os.listdir(self.sr_dir)), before, "staging file left")
                back = self.export(vdi)
                self.assertEqual(sha(back[:len(data)]), sha(data))
                self.assertEqual(back[len(data):], bytes(len(back) - len(data)))
                self.api.VDI.destroy(vdi)

    def test_formats_into_new_vdi(self):
        data = pattern(3 * MiB, 4)
        for fmt in ("vmdk", "qcow2", "vhd"):
            with self.subTest(fmt=fmt):
                qfmt = "vpc" if fmt == "vhd" else fmt
                opts = ("-o", "force_size=on") if fmt == "vhd" else ()
                img = self.image(data, qfmt, None, *opts)
                st, rec, reply = self.put_task("/import_raw_vdi", img, format=fmt,
                                               sr_id=self.sr)
                self.assertEqual(st, 200, reply)
                vdi = self.result_ref(rec)
                self.assertEqual(self.api.VDI.get_SR(vdi), self.sr)
                self.assertEqual(int(self.api.VDI.get_virtual_size(vdi)), len(data))
                self.assertEqual(sha(self.export(vdi)), sha(data))
                self.api.VDI.destroy(vdi)

    @unittest.skipUnless(os.path.exists(harness.XE), "xe not built")
    def test_xe_vdi_import_vmdk(self):
        data = pattern(2 * MiB, 5)
        self.image(data, "vmdk", "xe.vmdk")
        vdi = self.new_vdi(2 * MiB)
        r = self.xe_bin("vdi-import", "uuid=" + self.api.VDI.get_uuid(vdi),
                        "filename=" + os.path.join(self.tmp, "xe.vmdk"), "format=vmdk")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha(self.export(vdi)), sha(data))
        # a file that is not what format= says fails with the server's error
        r = self.xe_bin("vdi-import", "uuid=" + self.api.VDI.get_uuid(vdi),
                        "filename=" + os.path.join(self.tmp, "xe.vmdk"), "format=qcow2")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("IMPORT_ERROR", (r.stdout + r.stderr).decode())
        self.api.VDI.destroy(vdi)

    # ---- hostile uploads ----

    def test_not_an_image(self):
        junk = b"this is not a disk image at all\n" * 4096
        vdi = self.new_vdi(4 * MiB)
        for fmt in ("vmdk", "qcow2", "vhd"):
            with self.subTest(fmt=fmt):
                self.refused("/import_raw_vdi", junk, "IMPORT_ERROR", format=fmt)
                self.refused("/import_raw_vdi", junk, "IMPORT_ERROR", format=fmt, vdi=vdi)
        # an image of another format than the one named
        img = self.image(pattern(MiB), "qcow2")
        self.refused("/import_raw_vdi", img, "IMPORT_ERROR", format="vmdk", vdi=vdi)
        self.refused("/import_raw_vdi", b"x" * 512, "INVALID_VALUE", format="vdi", vdi=vdi)
        self.api.VDI.destroy(vdi)

    def test_truncated_images(self):
        data = pattern(4 * MiB, 6)
        for fmt, qfmt in (("vmdk", "vmdk"), ("qcow2", "qcow2"), ("vhd", "vpc")):
            with self.subTest(fmt=fmt):
                img = self.image(data, qfmt)
                self.refused("/import_raw_vdi", img[:len(img) // 2], "IMPORT_ERROR", format=fmt)

    def test_backing_file_outside_refused(self):
        secret = os.path.join(self.tmp, "secret.raw")
        with open(secret, "wb") as f:
            f.write(b"SECRET!!" * (MiB // 8))
        path = os.path.join(self.tmp, "evil.qcow2")
        for backing in (secret, "json:{\"driver\":\"raw\",\"file\":{\"driver\":\"file\","
                                "\"filename\":\"%s\"}}" % secret):
            with self.subTest(backing=backing[:20]):
                if os.path.exists(path):
                    os.unlink(path)
                qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", "raw", path,
                         str(MiB))
                with open(path, "rb") as f:
                    evil = f.read()
                vdi = self.new_vdi(MiB)
                err = self.refused("/import_raw_vdi", evil, "IMPORT_ERROR", format="qcow2",
                                   vdi=vdi)
                self.assertIn("names another file", err[1])
                self.assertNotIn(b"SECRET", self.export(vdi))
                self.refused("/import_raw_vdi", evil, "IMPORT_ERROR", format="qcow2")
                self.refused("/import", evil, "IMPORT_ERROR")
                self.api.VDI.destroy(vdi)

    def test_vmdk_descriptor_naming_files_refused(self):
        secret = os.path.join(self.tmp, "secret2.raw")
        with open(secret, "wb") as f:
            f.write(b"SECRET!!" * (MiB // 8))
        desc = ('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
                'createType="monolithicFlat"\nRW 2048 FLAT "%s" 0\n'
                'ddb.virtualHWVersion = "4"\n' % secret).encode()
        self.refused("/import_raw_vdi", desc, "IMPORT_ERROR", format="vmdk")
        # not an image by its magic: /import takes it for a (broken) XVA
        self.refused("/import", desc, "IMPORT_ERROR_PREMATURE_EOF")

    def test_oversized(self):
        big = os.path.join(self.tmp, "big.qcow2")
        qemu_img("create", "-q", "-f", "qcow2", big, str(100 << 40))  # 100 TiB, sparse
        with open(big, "rb") as f:
            img = f.read()
        self.refused("/import_raw_vdi", img, "VDI_TOO_LARGE", format="qcow2")
        # larger than the VDI it is to go into
        img = self.image(pattern(3 * MiB), "vmdk")
        vdi = self.new_vdi(2 * MiB)
        err = self.refused("/import_raw_vdi", img, "VDI_TOO_SMALL", format="vmdk", vdi=vdi)
        self.assertEqual(err[1], vdi)
        self.api.VDI.destroy(vdi)

    # ---- as a new VM ----

    def test_bare_image_as_vm(self):
        data = pattern(3 * MiB, 7)
        for fmt in ("vmdk", "qcow2"):
            with self.subTest(fmt=fmt):
                img = self.image(data, fmt)
                st, rec, reply = self.put_task("/import", img, name_label="bare-" + fmt)
                self.assertEqual(st, 200, reply)
                vm = self.result_ref(rec)
                r = self.api.VM.get_record(vm)
                self.assertEqual(r["name_label"], "bare-" + fmt)
                self.assertEqual(r["power_state"], "Halted")
                self.assertEqual(list(self.disk_sums(vm).values()), [sha(data)])
                self.cleanup_vm(vm)

    def test_ova(self):
        d0, d1 = pattern(3 * MiB, 8), pattern(2 * MiB, 9)
        ova = build_ova("ova-vm", [("disk0.vmdk", self.image(d0, "vmdk", None, "-o",
                                                             "subformat=streamOptimized"),
                                    4 * MiB),
                                   ("disk1.qcow2", self.image(d1, "qcow2"), 0)])
        before = set(os.listdir(self.sr_dir))
        st, rec, reply = self.put_task("/import", ova, sr_id=self.sr)
        self.assertEqual(st, 200, reply)
        vm = self.result_ref(rec)
        r = self.api.VM.get_record(vm)
        self.assertEqual(r["name_label"], "ova-vm")
        self.assertEqual(int(r["VCPUs_max"]), 2)
        self.assertEqual(int(r["VCPUs_at_startup"]), 2)
        self.assertEqual(int(r["memory_static_max"]), 768 * MiB)
        sums = self.disk_sums(vm)
        # the OVF's capacity (4 MiB) is bigger than disk0's image: the VDI gets it
        self.assertEqual(sums, {"0": sha(d0 + bytes(MiB)), "1": sha(d1)})
        vbds = {self.api.VBD.get_userdevice(b): self.api.VBD.get_record(b)
                for b in r["VBDs"]}
        self.assertTrue(vbds["0"]["bootable"])
        self.assertEqual(int(self.api.VDI.get_virtual_size(vbds["0"]["VDI"])), 4 * MiB)
        self.cleanup_vm(vm)
        self.assertEqual(set(os.listdir(self.sr_dir)), before)

    def test_bad_ovas_leave_nothing(self):
        good = self.image(pattern(2 * MiB, 11), "vmdk")
        secret = os.path.join(self.tmp, "secret3.raw")
        with open(secret, "wb") as f:
            f.write(b"x" * MiB)
        evil = os.path.join(self.tmp, "evil3.qcow2")
        qemu_img("create", "-q", "-f", "qcow2", "-u", "-b", secret, "-F", "raw", evil, str(MiB))
        with open(evil, "rb") as f:
            evil = f.read()
        full = build_ova("bad", [("a.vmdk", good, 0), ("b.vmdk", good, 0)])
        for what, body in (
                ("cut short", full[:len(full) - 3 * MiB // 2]),
                ("missing disk file", build_ova("bad", [("a.vmdk", good, 0)], drop="a.vmdk")),
                ("second disk hostile", build_ova("bad", [("a.vmdk", good, 0),
                                                          ("b.qcow2", evil, 0)])),
                ("disk not an image", build_ova("bad", [("a.vmdk", good, 0),
                                                        ("b.vmdk", b"junk" * 1000, 0)])),
                ("ovf not xml", build_ova("bad", [("a.vmdk", good, 0)]).replace(
                    b"<Envelope", b"<<Envelope", 1))):
            with self.subTest(what=what):
                code = "IMPORT_ERROR_PREMATURE_EOF" if what == "cut short" else "IMPORT_ERROR"
                self.refused("/import", body, code)

    @unittest.skipUnless(os.path.exists(harness.XE), "xe not built")
    def test_xe_vm_import_ova(self):
        d0 = pattern(2 * MiB, 12)
        path = os.path.join(self.tmp, "xe.ova")
        with open(path, "wb") as f:
            f.write(build_ova("xe-ova", [("d.vmdk", self.image(d0, "vmdk"), 0)], vcpus=3,
                              mem_mib=512))
        r = self.xe_bin("vm-import", "filename=" + path, "sr-uuid=" + self.sr_uuid)
        self.assertEqual(r.returncode, 0, r.stderr)
        vm = self.api.VM.get_by_uuid(r.stdout.decode().strip())
        self.assertEqual(self.api.VM.get_name_label(vm), "xe-ova")
        self.assertEqual(int(self.api.VM.get_VCPUs_max(vm)), 3)
        self.assertEqual(int(self.api.VM.get_memory_static_max(vm)), 512 * MiB)
        self.assertEqual(list(self.disk_sums(vm).values()), [sha(d0)])
        self.cleanup_vm(vm)


if __name__ == "__main__":
    harness.main()
