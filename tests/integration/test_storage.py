"""Storage through the API against a real xenond (sim backend): VDI
create/snapshot/clone/resize/copy/destroy with the qcow2 files checked on
disk, VM install from a template (clone + provision make real images), VM
snapshot/clone in O(1), ISO SR scans, SR/PBD/VBD handling and xapi's errors.
Python standard library only; needs qemu-img and qemu-io (qemu-utils)."""

import hashlib
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (GiB, MiB, XapiError, image_chain, image_info, reads_pattern,  # noqa: E402
                     run, write_pattern)

NULL = harness.NULL_REF


def start_xenond(config=None):
    """A sim-backed xenond of the storage suites' own; calls may take long
    (whole-image copies under the sanitizers)."""
    return harness.Server(config=config, call_timeout=120).start()


class StorageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("qemu-img") or not shutil.which("qemu-io"):
            raise unittest.SkipTest("qemu-img/qemu-io missing (scripts/deps.sh installs qemu-utils)")
        cls.x = start_xenond()
        api = cls.x.api
        pool = api("pool.get_all")[0]
        cls.sr = api("pool.get_default_SR", pool)
        pbd = api("SR.get_PBDs", cls.sr)[0]
        cls.sr_dir = api("PBD.get_device_config", pbd)["path"]
        cls.iso_sr = [r for r, rec in api("SR.get_all_records").items() if rec["type"] == "iso"][0]
        cls.iso_dir = api("PBD.get_device_config", api("SR.get_PBDs", cls.iso_sr)[0])["location"]

    @classmethod
    def tearDownClass(cls):
        cls.x.stop()

    # ---- helpers ----

    def api(self, method, *params):
        return self.x.api(method, *params)

    def assertXapi(self, code, method, *params, expect=None):
        with self.assertRaises(XapiError) as cm:
            self.api(method, *params)
        self.assertEqual(cm.exception.code, code, cm.exception.params)
        if expect is not None:
            self.assertEqual(cm.exception.params, expect)
        return cm.exception.params

    def path(self, vdi, sr_dir=None):
        rec = self.api("VDI.get_record", vdi)
        return os.path.join(sr_dir or self.sr_dir, rec["location"] + ".qcow2")

    def new_vdi(self, size=64 * MiB, name="disk", sr=None, **extra):
        rec = {"name_label": name, "name_description": "", "SR": sr or self.sr,
               "virtual_size": str(size), "type": "user", "sharable": False, "read_only": False,
               "other_config": {}, "xenstore_data": {}, "sm_config": {}, "tags": []}
        rec.update(extra)
        return self.api("VDI.create", rec)

    def new_vm(self, name="vm"):
        tpl = self.api("VM.get_by_name_label", "Other install media")[0]
        vm = self.api("VM.clone", tpl, name)
        self.api("VM.provision", vm)
        return vm

    def add_disk(self, vm, vdi, device="autodetect", type_="Disk", mode="RW", empty=False):
        return self.api("VBD.create", {
            "VM": vm, "VDI": vdi, "userdevice": device, "bootable": False, "mode": mode,
            "type": type_, "unpluggable": True, "empty": empty, "other_config": {},
            "qos_algorithm_type": "", "qos_algorithm_params": {}})

    def vdis_in(self, sr):
        return self.api("SR.get_VDIs", sr)

    # ---- VDI ----

    def test_vdi_create_snapshot_clone_resize_destroy(self):
        before = set(os.listdir(self.sr_dir))
        vdi = self.new_vdi(64 * MiB + 1, name="data")
        rec = self.api("VDI.get_record", vdi)
        self.assertEqual(rec["location"], rec["uuid"])
        self.assertEqual(rec["virtual_size"], 64 * MiB + 512)
        self.assertEqual(rec["sm_config"].get("image-format"), "qcow2")
        self.assertTrue(rec["managed"])
        self.assertGreater(rec["physical_utilisation"], 0)
        p = self.path(vdi)
        self.assertEqual(image_info(p)["format"], "qcow2")
        self.assertEqual(image_info(p)["virtual-size"], 64 * MiB + 512)
        self.assertIn("destroy", rec["allowed_operations"])
        sr = self.api("SR.get_record", self.sr)
        self.assertGreaterEqual(sr["virtual_allocation"], 64 * MiB)
        self.assertGreater(sr["physical_size"], 0)

        self.api("VDI.set_name_label", vdi, "renamed")
        self.api("VDI.set_name_description", vdi, "described")
        self.assertEqual(self.api("VDI.get_name_label", vdi), "renamed")
        self.assertEqual(self.api("VDI.get_name_description", vdi), "described")

        write_pattern(p, 0x41, "0", "1M")
        snap = self.api("VDI.snapshot", vdi, {})
        srec = self.api("VDI.get_record", snap)
        rec = self.api("VDI.get_record", vdi)
        self.assertTrue(srec["is_a_snapshot"])
        self.assertEqual(srec["snapshot_of"], vdi)
        self.assertIn(snap, rec["snapshots"])
        self.assertEqual(srec["name_label"], "renamed")
        self.assertEqual(rec["location"], rec["uuid"])  # A's file name never changes
        base_uuid = rec["sm_config"]["vhd-parent"]
        self.assertEqual(srec["sm_config"]["vhd-parent"], base_uuid)
        base = self.api("VDI.get_by_uuid", base_uuid)
        brec = self.api("VDI.get_record", base)
        self.assertFalse(brec["managed"])
        self.assertTrue(brec["read_only"])
        self.assertEqual(brec["name_label"], "base copy")
        self.assertEqual(brec["allowed_operations"], [])
        self.assertEqual(image_chain(p), [rec["uuid"] + ".qcow2", base_uuid + ".qcow2"])
        self.assertEqual(image_chain(self.path(snap)), [srec["uuid"] + ".qcow2", base_uuid + ".qcow2"])
        write_pattern(p, 0x42, "0", "1M")
        self.assertTrue(reads_pattern(self.path(snap), 0x41, "0", "1M"))

        clone = self.api("VDI.clone", vdi, {})
        crec = self.api("VDI.get_record", clone)
        self.assertFalse(crec["is_a_snapshot"])
        self.assertTrue(reads_pattern(self.path(clone), 0x42, "0", "1M"))
        self.assertEqual(len(image_chain(self.path(clone))), 3)

        # a base is not the client's to touch
        self.assertXapi("VDI_NOT_MANAGED", "VDI.destroy", base, expect=[base])
        self.assertXapi("VDI_NOT_MANAGED", "VDI.snapshot", base, {})

        self.api("VDI.resize", vdi, str(128 * MiB))
        self.assertEqual(self.api("VDI.get_virtual_size", vdi), 128 * MiB)
        self.assertEqual(image_info(p)["virtual-size"], 128 * MiB)
        params = self.assertXapi("SR_BACKEND_FAILURE", "VDI.resize", vdi, str(MiB))
        self.assertEqual(params[0], "79")
        self.assertEqual(self.api("VDI.get_virtual_size", vdi), 128 * MiB)
        self.assertEqual(image_info(p)["virtual-size"], 128 * MiB)

        n_before = len(self.api("VDI.get_all"))
        for v in (snap, clone, vdi):
            self.api("VDI.destroy", v)
        # every base went with the last image that needed it
        self.assertEqual(len(self.api("VDI.get_all")), n_before - 5)
        self.assertXapi("HANDLE_INVALID", "VDI.get_record", base)
        self.assertEqual(set(os.listdir(self.sr_dir)), before)

    def test_vdi_copy_between_srs(self):
        other_dir = tempfile.mkdtemp(prefix="xenon-sr-", dir=self.x.data_dir)
        host = self.api("host.get_all")[0]
        other = self.api("SR.create", host, {"path": other_dir}, "0", "other", "", "ext", "",
                         False, {})
        vdi = self.new_vdi(16 * MiB, name="src")
        write_pattern(self.path(vdi), 0x51, "0", "2M")
        self.api("VDI.snapshot", vdi, {})
        write_pattern(self.path(vdi), 0x52, "2M", "1M")
        copy = self.api("VDI.copy", vdi, other, NULL, NULL)
        crec = self.api("VDI.get_record", copy)
        self.assertEqual(crec["SR"], other)
        self.assertEqual(crec["name_label"], "src")
        cp = os.path.join(other_dir, crec["location"] + ".qcow2")
        self.assertEqual(len(image_chain(cp)), 1)  # flattened
        run("qemu-img", "compare", "-q", self.path(vdi), cp)
        # into an existing VDI
        into = self.new_vdi(16 * MiB, name="into", sr=other)
        self.assertEqual(self.api("VDI.copy", vdi, NULL, NULL, into), into)
        run("qemu-img", "compare", "-q", self.path(vdi), os.path.join(other_dir, self.api("VDI.get_location", into) + ".qcow2"))
        small = self.new_vdi(MiB, sr=other)
        self.assertXapi("VDI_TOO_SMALL", "VDI.copy", vdi, NULL, NULL, small,
                        expect=[small, str(16 * MiB)])
        for v in (copy, into, small):
            self.api("VDI.destroy", v)
        # an SR goes only when unplugged and empty
        self.assertXapi("SR_HAS_PBD", "SR.destroy", other, expect=[other])
        pbd = self.api("SR.get_PBDs", other)[0]
        self.api("PBD.unplug", pbd)
        self.assertFalse(self.api("PBD.get_currently_attached", pbd))
        self.assertXapi("SR_HAS_NO_PBDS", "VDI.create", {"SR": other, "virtual_size": "1024",
                                                          "type": "user"})
        self.api("PBD.plug", pbd)
        self.api("PBD.unplug", pbd)
        self.api("SR.destroy", other)
        self.assertFalse(os.path.exists(other_dir))
        self.assertXapi("HANDLE_INVALID", "SR.get_record", other)

    def test_sr_create_ext(self):
        d = os.path.join(self.x.data_dir, "made-by-sr-create", "sr")
        host = self.api("host.get_all")[0]
        sr = self.api("SR.create", host, {"path": d}, "0", "made", "desc", "ext", "user", False, {})
        rec = self.api("SR.get_record", sr)
        self.assertEqual(rec["type"], "ext")
        self.assertEqual(rec["name_label"], "made")
        self.assertGreater(rec["physical_size"], 0)
        pbds = rec["PBDs"]
        self.assertEqual(len(pbds), 1)
        self.assertTrue(self.api("PBD.get_currently_attached", pbds[0]))
        self.assertEqual(self.api("PBD.get_host", pbds[0]), host)
        self.assertTrue(os.path.isdir(d))
        types = [r["type"] for r in self.api("SM.get_all_records").values()]
        self.assertIn("ext", types)
        self.assertIn("ext", self.api("SR.get_supported_types"))
        v = self.new_vdi(MiB, sr=sr)
        self.assertTrue(os.path.exists(os.path.join(d, self.api("VDI.get_uuid", v) + ".qcow2")))
        self.api("PBD.unplug", pbds[0])
        self.assertXapi("SR_NOT_EMPTY", "SR.destroy", sr, expect=[])
        # forget leaves the files
        self.api("SR.forget", sr)
        self.assertXapi("HANDLE_INVALID", "VDI.get_record", v)
        self.assertEqual(len(os.listdir(d)), 1)
        # the "file" alias serves the same driver; an existing SR's files refuse a new one
        params = self.assertXapi("SR_BACKEND_FAILURE", "SR.create", host, {"location": d}, "0",
                                 "again", "", "file", "", False, {})
        self.assertEqual(params[0], "42")

    # ---- VMs ----

    def test_vm_install_provisions_real_images(self):
        tpl = self.api("VM.get_by_name_label", "Debian Bookworm 12")[0]
        disks = self.api("VM.get_other_config", tpl)["disks"]
        self.assertIn('device="0"', disks)
        vm = self.api("VM.clone", tpl, "installed")
        self.assertEqual(self.api("VM.get_VBDs", vm), [])
        self.api("VM.provision", vm)
        self.assertNotIn("disks", self.api("VM.get_other_config", vm))
        vbds = self.api("VM.get_VBDs", vm)
        self.assertEqual(len(vbds), 1)
        vbd = self.api("VBD.get_record", vbds[0])
        self.assertEqual(vbd["userdevice"], "0")
        self.assertEqual(vbd["type"], "Disk")
        self.assertEqual(vbd["mode"], "RW")
        self.assertTrue(vbd["bootable"])
        vdi = self.api("VDI.get_record", vbd["VDI"])
        self.assertEqual(vdi["name_label"], "0")
        self.assertEqual(vdi["type"], "system")
        self.assertEqual(vdi["SR"], self.sr)
        p = self.path(vbd["VDI"])
        self.assertEqual(image_info(p)["virtual-size"], vdi["virtual_size"])
        self.assertGreaterEqual(vdi["virtual_size"], 4 * GiB)
        # a sparse image: nothing like its virtual size on disk
        self.assertLess(os.stat(p).st_blocks * 512, 8 * MiB)
        # VM.destroy leaves the disk, as xapi
        self.api("VM.destroy", vm)
        self.assertEqual(self.api("VDI.get_VBDs", vbd["VDI"]), [])
        self.assertTrue(os.path.exists(p))
        self.api("VDI.destroy", vbd["VDI"])
        self.assertFalse(os.path.exists(p))

    def raw_sha(self, vdi):
        out = os.path.join(self.x.data_dir, "content.raw")
        run("qemu-img", "convert", "-U", "-f", "qcow2", "-O", "raw", self.path(vdi), out)
        try:
            with open(out, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()
        finally:
            os.unlink(out)

    def wait_coalesced(self, vdi, path, timeout=60):
        """Until the chain is one image and the coalescer has recorded it
        (the base gone from sm_config, its "blocked" mark cleared)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (len(image_chain(path)) == 1 and "vhd-parent" not in self.api("VDI.get_sm_config", vdi)
                    and self.api("VDI.get_current_operations", vdi) == {}):
                return
            time.sleep(0.1)
        self.fail("%s not coalesced: chain %s" % (path, image_chain(path)))

    def test_coalesce_after_snapshots_go(self):
        """A base left with one image on it is folded into that image in
        the background once it has stayed so for coalesce-delay: same
        content, same uuid and file, shorter chain."""
        # a daemon of its own that coalesces after 1 s instead of 60
        self.x = start_xenond(config="coalesce-delay = 1\n")
        try:
            self.sr = self.api("pool.get_default_SR", self.api("pool.get_all")[0])
            self.sr_dir = self.api("PBD.get_device_config", self.api("SR.get_PBDs", self.sr)[0])["path"]
            self.coalesce_checks()
        finally:
            self.x.stop()
            del self.x, self.sr, self.sr_dir

    def coalesce_checks(self):
        vdi = self.new_vdi(64 * MiB, name="coalesce me")
        p = self.path(vdi)
        uuid = self.api("VDI.get_uuid", vdi)
        write_pattern(p, 0x11, "0", "4M")
        snaps = [self.api("VDI.snapshot", vdi, {})]
        write_pattern(p, 0x22, "2M", "4M")
        snaps.append(self.api("VDI.snapshot", vdi, {}))
        write_pattern(p, 0x33, "5M", "1M")
        self.assertEqual(len(image_chain(p)), 3)
        want = self.raw_sha(vdi)
        bases = image_chain(p)[1:]
        for s in snaps:
            self.api("VDI.destroy", s)
        self.wait_coalesced(vdi, p)
        self.assertEqual(self.raw_sha(vdi), want)
        self.assertEqual(self.api("VDI.get_uuid", vdi), uuid)
        self.assertEqual(self.path(vdi), p)
        self.assertNotIn("vhd-parent", self.api("VDI.get_sm_config", vdi))
        self.assertEqual(self.api("VDI.get_current_operations", vdi), {})
        for b in bases:
            self.assertFalse(os.path.exists(os.path.join(os.path.dirname(p), b)), b)
            self.assertXapi("UUID_INVALID", "VDI.get_by_uuid", b[:-len(".qcow2")])
        # a base that a cbt_metadata VDI still compares against stays
        self.api("VDI.enable_cbt", vdi)
        snap = self.api("VDI.snapshot", vdi, {})
        write_pattern(p, 0x44, "8M", "1M")
        self.api("VDI.data_destroy", snap)
        self.assertEqual(self.api("VDI.get_type", snap), "cbt_metadata")
        kept = image_chain(p)[1]
        other = self.new_vdi(8 * MiB, name="kick")
        self.api("VDI.destroy", other)  # wakes the coalescer
        time.sleep(2)
        self.assertEqual(image_chain(p)[1], kept)
        self.api("VDI.destroy", snap)
        self.wait_coalesced(vdi, p)
        self.api("VDI.destroy", vdi)

    def test_vm_snapshot_and_clone_are_o1(self):
        vm = self.new_vm("big")
        vdi = self.new_vdi(20 * GiB, name="big disk")
        self.add_disk(vm, vdi)
        p = self.path(vdi)
        write_pattern(p, 0x61, "0", "1G")
        # the page cache's write-back of the gigabyte just written is not the
        # snapshot's cost (the store's fsync would otherwise wait for it)
        os.sync()
        # O(1) shown by what happens to the files, not by the clock (bench/
        # times it): the data stays in its inode, which becomes the base,
        # and the new top holds no data
        ino = os.stat(p).st_ino
        snap_vm = self.api("VM.snapshot", vm, "snap", [])
        base = os.path.join(os.path.dirname(p), image_chain(p)[1])
        self.assertEqual(os.stat(base).st_ino, ino, "the data was copied, not kept in place")
        self.assertLess(os.stat(p).st_blocks * 512, 2 * MiB, "the new top holds data")
        self.assertTrue(self.api("VM.get_is_a_snapshot", snap_vm))
        svbds = [self.api("VBD.get_record", b) for b in self.api("VM.get_VBDs", snap_vm)]
        sdisk = [b for b in svbds if b["type"] == "Disk" and b["VDI"] != NULL]
        self.assertEqual(len(sdisk), 1)
        svdi = sdisk[0]["VDI"]
        self.assertTrue(self.api("VDI.get_is_a_snapshot", svdi))
        self.assertEqual(self.api("VDI.get_snapshot_of", svdi), vdi)
        # the VM's own VBD still points at the same VDI, same file
        self.assertEqual(self.api("VDI.get_location", vdi), self.api("VDI.get_uuid", vdi))
        self.assertIn(vdi, [self.api("VBD.get_VDI", b) for b in self.api("VM.get_VBDs", vm)])
        self.assertEqual(len(image_chain(p)), 2)
        # data written before the snapshot is in it
        self.assertTrue(reads_pattern(self.path(svdi), 0x61, "0", "1M"))
        self.assertTrue(reads_pattern(self.path(svdi), 0x61, str(1023 * MiB), "1M"))

        clone_vm = self.api("VM.clone", vm, "clone")
        cvdis = [self.api("VBD.get_VDI", b) for b in self.api("VM.get_VBDs", clone_vm)]
        cvdis = [v for v in cvdis if v != NULL]
        self.assertEqual(len(cvdis), 1)
        self.assertNotEqual(cvdis[0], vdi)
        self.assertFalse(self.api("VDI.get_is_a_snapshot", cvdis[0]))
        self.assertTrue(reads_pattern(self.path(cvdis[0]), 0x61, "0", "1M"))
        self.assertLess(os.stat(self.path(cvdis[0])).st_blocks * 512, 2 * MiB)

        self.api("VDI.snapshot", vdi, {})
        self.assertLess(os.stat(p).st_blocks * 512, 2 * MiB)

        # no operation marks are left behind
        self.assertEqual(self.api("VM.get_current_operations", vm), {})
        self.assertEqual(self.api("VDI.get_current_operations", vdi), {})
        self.assertIn("clone", self.api("VM.get_allowed_operations", vm))

    def test_vm_copy_is_a_full_copy(self):
        vm = self.new_vm("to-copy")
        vdi = self.new_vdi(8 * MiB, name="copied disk")
        self.add_disk(vm, vdi)
        write_pattern(self.path(vdi), 0x71, "0", "1M")
        self.api("VDI.snapshot", vdi, {})
        other_dir = tempfile.mkdtemp(prefix="xenon-copy-", dir=self.x.data_dir)
        host = self.api("host.get_all")[0]
        other = self.api("SR.create", host, {"path": other_dir}, "0", "copy target", "", "ext",
                         "", False, {})
        new = self.api("VM.copy", vm, "copy", other)
        nvdis = [v for v in (self.api("VBD.get_VDI", b) for b in self.api("VM.get_VBDs", new))
                 if v != NULL]
        self.assertEqual(len(nvdis), 1)
        rec = self.api("VDI.get_record", nvdis[0])
        self.assertEqual(rec["SR"], other)
        self.assertEqual(rec["name_label"], "copied disk")
        np_ = os.path.join(other_dir, rec["location"] + ".qcow2")
        self.assertEqual(len(image_chain(np_)), 1)
        run("qemu-img", "compare", "-q", self.path(vdi), np_)
        # NULL SR: a full copy next to the original
        same = self.api("VM.copy", vm, "copy2", NULL)
        svdi = [v for v in (self.api("VBD.get_VDI", b) for b in self.api("VM.get_VBDs", same))
                if v != NULL][0]
        self.assertEqual(self.api("VDI.get_SR", svdi), self.sr)
        self.assertEqual(len(image_chain(self.path(svdi))), 1)

    # ---- VBDs ----

    def test_vbds_and_cds(self):
        vm = self.new_vm("cds")
        d1 = self.new_vdi(MiB)
        b1 = self.add_disk(vm, d1)
        self.assertEqual(self.api("VBD.get_userdevice", b1), "0")
        b2 = self.add_disk(vm, self.new_vdi(MiB))
        self.assertEqual(self.api("VBD.get_userdevice", b2), "1")
        self.assertXapi("DEVICE_ALREADY_EXISTS", "VBD.create", {
            "VM": vm, "VDI": d1, "userdevice": "1", "mode": "RW", "type": "Disk"}, expect=["1"])
        self.assertXapi("INVALID_DEVICE", "VBD.create", {
            "VM": vm, "VDI": d1, "userdevice": "bogus", "mode": "RW", "type": "Disk"},
            expect=["bogus"])
        self.assertXapi("VBD_CDS_MUST_BE_READONLY", "VBD.create", {
            "VM": vm, "VDI": NULL, "userdevice": "3", "mode": "RW", "type": "CD", "empty": True})
        self.assertXapi("VBD_NOT_REMOVABLE_MEDIA", "VBD.create", {
            "VM": vm, "VDI": NULL, "userdevice": "3", "mode": "RW", "type": "Disk", "empty": True},
            expect=["in constructor"])
        cd = self.add_disk(vm, NULL, device="3", type_="CD", mode="RO", empty=True)
        rec = self.api("VBD.get_record", cd)
        self.assertTrue(rec["empty"])
        self.assertEqual(rec["VDI"], NULL)
        self.assertIn("insert", rec["allowed_operations"])
        self.assertXapi("VBD_IS_EMPTY", "VBD.eject", cd, expect=[cd])

        with open(os.path.join(self.iso_dir, "install.iso"), "wb") as f:
            f.write(b"\0" * 8192)
        self.api("SR.scan", self.iso_sr)
        iso = [v for v in self.vdis_in(self.iso_sr)
               if self.api("VDI.get_location", v) == "install.iso"][0]
        self.api("VBD.insert", cd, iso)
        self.assertEqual(self.api("VBD.get_VDI", cd), iso)
        self.assertFalse(self.api("VBD.get_empty", cd))
        self.assertXapi("VBD_NOT_EMPTY", "VBD.insert", cd, iso, expect=[cd])
        self.assertXapi("VBD_NOT_REMOVABLE_MEDIA", "VBD.insert", b1, iso, expect=[b1])
        self.assertXapi("VDI_READONLY", "VBD.create", {
            "VM": vm, "VDI": iso, "userdevice": "autodetect", "mode": "RW", "type": "Disk"},
            expect=[iso])
        self.api("VBD.eject", cd)
        self.assertTrue(self.api("VBD.get_empty", cd))
        self.api("VBD.insert", cd, iso)

        # plug/unplug: records only, and only for a running VM
        self.assertXapi("VM_BAD_POWER_STATE", "VBD.plug", b2, expect=[vm, "running", "halted"])
        self.api("VM.start", vm, False, False)
        try:
            # a disk in use by a running VM cannot go
            self.assertXapi("VDI_IN_USE", "VDI.destroy", d1, expect=[d1, "destroy"])
            self.assertXapi("VDI_IN_USE", "VDI.resize", d1, str(2 * MiB), expect=[d1, "resize"])
            self.assertXapi("VDI_IN_USE", "VDI.copy", d1, self.sr, NULL, NULL, expect=[d1, "copy"])
            # read-only use does not stop a copy: the ISO in the CD drive
            iso_copy = self.api("VDI.copy", iso, self.sr, NULL, NULL)
            self.assertEqual(self.api("VDI.get_virtual_size", iso_copy), 8192)
            self.api("VDI.destroy", iso_copy)
            # VM.start attached every VBD (as xapi does); unplug to plug again
            self.assertTrue(self.api("VBD.get_currently_attached", b2))
            self.api("VBD.unplug", b2)
            self.api("VBD.plug", b2)
            self.assertTrue(self.api("VBD.get_currently_attached", b2))
            self.assertXapi("DEVICE_ALREADY_ATTACHED", "VBD.plug", b2, expect=[b2])
            self.assertXapi("OPERATION_NOT_ALLOWED", "VBD.destroy", b2)
            self.api("VBD.unplug", b2)
            self.assertXapi("DEVICE_ALREADY_DETACHED", "VBD.unplug", b2, expect=[b2])
            # an ISO removed while a running VM has it: kept, marked missing
            os.unlink(os.path.join(self.iso_dir, "install.iso"))
            self.api("SR.scan", self.iso_sr)
            self.assertTrue(self.api("VDI.get_missing", iso))
            # a live snapshot goes through the same COW (sim opens no files)
            snap = self.api("VM.snapshot", vm, "live", [])
            self.assertTrue(self.api("VM.get_is_a_snapshot", snap))
        finally:
            self.api("VM.hard_shutdown", vm)
        self.api("SR.scan", self.iso_sr)
        self.assertXapi("HANDLE_INVALID", "VDI.get_record", iso)
        # the drive stays, empty
        self.assertTrue(self.api("VBD.get_empty", cd))
        self.api("VBD.destroy", b2)
        self.assertXapi("HANDLE_INVALID", "VBD.get_record", b2)

    # ---- ISO SR ----

    def test_iso_sr_scan(self):
        name = "scan-me.iso"
        fp = os.path.join(self.iso_dir, name)
        with open(fp, "wb") as f:
            f.write(b"CD001" * 1000)
        with open(os.path.join(self.iso_dir, "readme.txt"), "w") as f:
            f.write("not an image")
        self.api("SR.scan", self.iso_sr)
        found = {self.api("VDI.get_location", v): v for v in self.vdis_in(self.iso_sr)}
        self.assertIn(name, found)
        self.assertNotIn("readme.txt", found)
        rec = self.api("VDI.get_record", found[name])
        self.assertEqual(rec["virtual_size"], 5000)
        self.assertTrue(rec["read_only"])
        self.assertEqual(rec["name_label"], name)
        self.assertEqual(self.api("SR.get_content_type", self.iso_sr), "iso")
        # a second scan changes nothing
        self.api("SR.scan", self.iso_sr)
        self.assertEqual(self.api("VDI.get_location", found[name]), name)
        os.unlink(fp)
        self.api("SR.scan", self.iso_sr)
        self.assertNotIn(name, [self.api("VDI.get_location", v) for v in self.vdis_in(self.iso_sr)])

        # SR.create of an ISO library finds its images at once
        lib = tempfile.mkdtemp(prefix="xenon-isos-", dir=self.x.data_dir)
        with open(os.path.join(lib, "a.iso"), "wb") as f:
            f.write(b"x" * 2048)
        host = self.api("host.get_all")[0]
        sr = self.api("SR.create", host, {"location": lib}, "0", "isos", "", "iso", "iso", False, {})
        self.assertEqual(self.api("SR.get_content_type", sr), "iso")
        self.assertEqual([self.api("VDI.get_location", v) for v in self.vdis_in(sr)], ["a.iso"])
        # a blank image to upload into, but not outside the library
        up = self.new_vdi(4096, sr=sr, sm_config={"path": "upload.iso"})
        self.assertTrue(os.path.exists(os.path.join(lib, "upload.iso")))
        n = len(self.api("VDI.get_all"))
        params = self.assertXapi("SR_BACKEND_FAILURE", "VDI.create", {
            "SR": sr, "virtual_size": "4096", "type": "user", "sm_config": {"path": "../evil.iso"}})
        self.assertEqual(params[0], "78")
        self.assertEqual(len(self.api("VDI.get_all")), n)  # nothing half-made
        self.assertFalse(os.path.exists(os.path.join(self.x.data_dir, "evil.iso")))
        self.api("VDI.destroy", up)
        self.assertFalse(os.path.exists(os.path.join(lib, "upload.iso")))
        self.api("PBD.unplug", self.api("SR.get_PBDs", sr)[0])
        self.api("SR.forget", sr)
        self.assertTrue(os.path.exists(os.path.join(lib, "a.iso")))

    # ---- errors ----

    def test_errors(self):
        host = self.api("host.get_all")[0]
        self.assertXapi("SR_UNKNOWN_DRIVER", "SR.create", host, {"path": "/tmp/x"}, "0", "n", "",
                        "nosuch", "", False, {}, expect=["nosuch"])
        for hostile in ("/tmp/../etc", "relative/dir", ""):
            self.assertXapi("SR_BACKEND_FAILURE", "SR.create", host, {"path": hostile}, "0", "n",
                            "", "ext", "", False, {})
        self.assertXapi("SR_BACKEND_FAILURE", "SR.create", host, {"location": "/does/not/exist"},
                        "0", "n", "", "iso", "", False, {})
        # a directory another SR already uses
        params = self.assertXapi("SR_BACKEND_FAILURE", "SR.create", host, {"location": self.iso_dir + "/"},
                                 "0", "n", "", "iso", "", False, {})
        self.assertEqual(params[0], "42")
        self.assertXapi("HANDLE_INVALID", "VDI.create", {"SR": NULL, "virtual_size": "1",
                                                         "type": "user"}, expect=["SR", NULL])
        self.assertXapi("HANDLE_INVALID", "VDI.destroy", "OpaqueRef:nope")
        self.assertXapi("HANDLE_INVALID", "VDI.snapshot", "OpaqueRef:nope", {})
        # a failing driver leaves no record
        n = len(self.api("VDI.get_all"))
        params = self.assertXapi("SR_BACKEND_FAILURE", "VDI.create", {
            "SR": self.sr, "virtual_size": "-5", "type": "user"})
        self.assertEqual(params[0], "79")
        self.assertEqual(len(self.api("VDI.get_all")), n)
        # shrinking: xapi's SR_BACKEND_FAILURE, nothing changed
        vdi = self.new_vdi(4 * MiB)
        self.assertXapi("SR_BACKEND_FAILURE", "VDI.resize", vdi, str(MiB))
        self.assertEqual(self.api("VDI.get_virtual_size", vdi), 4 * MiB)
        # ISO SRs have no copy-on-write
        iso_vdi = self.new_vdi(2048, sr=self.iso_sr, sm_config={"path": "blank.iso"})
        self.assertXapi("SR_OPERATION_NOT_SUPPORTED", "VDI.snapshot", iso_vdi, {},
                        expect=[self.iso_sr])
        self.api("VDI.destroy", iso_vdi)
        self.api("VDI.destroy", vdi)


if __name__ == "__main__":
    harness.main()
