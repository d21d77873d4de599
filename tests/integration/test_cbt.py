"""Changed-block tracking and storage limits against a real xenond (sim
backend): VDI.enable_cbt/disable_cbt, list_changed_blocks between snapshots
of a disk written offline with qemu-io, data_destroy into cbt_metadata, and
xapi's errors; SR_FULL on a small filesystem (a loop-mounted ext4, else a
tmpfs; skipped unless root can mount). Python standard library only;
needs qemu-img and qemu-io."""

import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MiB, XapiError, write_pattern  # noqa: E402

BLOCK = 64 * 1024


def blocks(b64):
    """The set bits of xapi's changed-block bitmap (LSB first in a byte)."""
    data = base64.b64decode(b64)
    return {i * 8 + b for i, byte in enumerate(data) for b in range(8) if byte >> b & 1}


class CbtTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("qemu-img") or not shutil.which("qemu-io"):
            raise unittest.SkipTest("qemu-img/qemu-io missing (scripts/deps.sh installs qemu-utils)")
        cls.x = harness.Server(call_timeout=120).start()
        api = cls.x.api
        pool = api("pool.get_all")[0]
        cls.sr = api("pool.get_default_SR", pool)
        pbd = api("SR.get_PBDs", cls.sr)[0]
        cls.sr_dir = api("PBD.get_device_config", pbd)["path"]

    @classmethod
    def tearDownClass(cls):
        cls.x.stop()

    def api(self, method, *params):
        return self.x.api(method, *params)

    def assertXapi(self, code, method, *params):
        with self.assertRaises(XapiError) as cm:
            self.api(method, *params)
        self.assertEqual(cm.exception.code, code, cm.exception.params)
        return cm.exception.params

    def path(self, vdi):
        return os.path.join(self.sr_dir, self.api("VDI.get_location", vdi) + ".qcow2")

    def new_vdi(self, size=16 * MiB, name="disk"):
        return self.api("VDI.create", {
            "name_label": name, "name_description": "", "SR": self.sr,
            "virtual_size": str(size), "type": "user", "sharable": False, "read_only": False,
            "other_config": {}, "xenstore_data": {}, "sm_config": {}, "tags": []})

    def changed(self, a, b):
        return blocks(self.api("VDI.list_changed_blocks", a, b))

    def test_changed_blocks_between_snapshots(self):
        vdi = self.new_vdi(16 * MiB)
        self.assertFalse(self.api("VDI.get_cbt_enabled", vdi))
        self.assertIn("enable_cbt", self.api("VDI.get_allowed_operations", vdi))
        self.api("VDI.enable_cbt", vdi)
        self.assertTrue(self.api("VDI.get_cbt_enabled", vdi))
        self.assertIn("list_changed_blocks", self.api("VDI.get_allowed_operations", vdi))
        write_pattern(self.path(vdi), 0xab, 1 * MiB, BLOCK)
        s1 = self.api("VDI.snapshot", vdi, {})
        self.assertTrue(self.api("VDI.get_cbt_enabled", s1))
        # clones start without tracking, as in xapi
        c = self.api("VDI.clone", vdi, {})
        self.assertFalse(self.api("VDI.get_cbt_enabled", c))
        self.api("VDI.destroy", c)

        write_pattern(self.path(vdi), 0xcd, 3 * MiB, 2 * BLOCK)
        write_pattern(self.path(vdi), 0xef, 5 * MiB + 32 * 1024, 8 * 1024)
        s2 = self.api("VDI.snapshot", vdi, {})
        # vdi's chain: its overlay and the bases of s2, of the clone, of s1
        self.assertEqual(self.api("VDI.get_sm_config", vdi)["chain-depth"], "4")
        self.assertEqual(self.api("VDI.get_sm_config", s1)["chain-depth"], "2")
        want12 = {48, 49, 80}
        self.assertEqual(self.changed(s1, s2), want12)
        self.assertEqual(self.changed(s2, s1), want12)
        self.assertEqual(self.changed(s1, s1), set())
        # one bit per 64 KiB block of the disk, padded to whole bytes
        self.assertEqual(len(base64.b64decode(self.api("VDI.list_changed_blocks", s1, s2))),
                         16 * MiB // BLOCK // 8)

        write_pattern(self.path(vdi), 0x11, 8 * MiB, BLOCK)
        write_pattern(self.path(vdi), 0x12, 3 * MiB, BLOCK)  # again: still one block
        s3 = self.api("VDI.snapshot", vdi, {})
        self.assertEqual(self.changed(s2, s3), {128, 48})
        self.assertEqual(self.changed(s1, s3), {48, 49, 80, 128})
        # against the live disk: nothing written since s3
        self.assertEqual(self.changed(s3, vdi), set())

        # data_destroy: the data goes, the comparison still works
        self.assertIn("data_destroy", self.api("VDI.get_allowed_operations", s1))
        p1 = self.path(s1)
        self.api("VDI.data_destroy", s1)
        rec = self.api("VDI.get_record", s1)
        self.assertEqual(rec["type"], "cbt_metadata")
        self.assertEqual(rec["physical_utilisation"], 0)
        self.assertFalse(os.path.exists(p1))
        self.assertEqual(self.changed(s1, s3), {48, 49, 80, 128})
        self.api("VDI.data_destroy", s1)  # again: nothing left to do
        self.api("SR.scan", self.sr)
        self.assertEqual(self.api("VDI.get_type", s1), "cbt_metadata")
        self.assertXapi("VDI_INCOMPATIBLE_TYPE", "VDI.snapshot", s1, {})
        self.assertXapi("VDI_INCOMPATIBLE_TYPE", "VDI.list_changed_blocks", s3, s1)

        self.api("VDI.disable_cbt", vdi)
        self.assertFalse(self.api("VDI.get_cbt_enabled", vdi))
        self.assertXapi("VDI_NO_CBT_METADATA", "VDI.list_changed_blocks", s3, vdi)
        for v in (s1, s2, s3, vdi):
            self.api("VDI.destroy", v)

    def test_cbt_errors(self):
        vdi = self.new_vdi(4 * MiB)
        snap = self.api("VDI.snapshot", vdi, {})
        self.assertXapi("VDI_NO_CBT_METADATA", "VDI.data_destroy", snap)
        self.assertXapi("VDI_NO_CBT_METADATA", "VDI.list_changed_blocks", snap, vdi)
        self.assertXapi("OPERATION_NOT_ALLOWED", "VDI.enable_cbt", snap)
        self.api("VDI.enable_cbt", vdi)
        self.assertXapi("OPERATION_NOT_ALLOWED", "VDI.data_destroy", vdi)
        self.assertXapi("HANDLE_INVALID", "VDI.enable_cbt", "OpaqueRef:nope")
        for v in (snap, vdi):
            self.api("VDI.destroy", v)


class NbdTest(unittest.TestCase):
    """VDI.get_nbd_info on an insecure_nbd network, read back through NBD."""

    @classmethod
    def setUpClass(cls):
        if not shutil.which("qemu-nbd") or not shutil.which("qemu-img"):
            raise unittest.SkipTest("qemu-nbd/qemu-img missing (scripts/deps.sh installs qemu-utils)")
        cls.x = harness.Server(call_timeout=120).start()
        api = cls.x.api
        cls.sr = api("pool.get_default_SR", api("pool.get_all")[0])
        cls.sr_dir = api("PBD.get_device_config", api("SR.get_PBDs", cls.sr)[0])["path"]
        cls.tmp = tempfile.mkdtemp(prefix="xenon-nbd-")

    @classmethod
    def tearDownClass(cls):
        cls.x.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def api(self, method, *params):
        return self.x.api(method, *params)

    def test_get_nbd_info(self):
        vdi = self.api("VDI.create", {
            "name_label": "nbd", "name_description": "", "SR": self.sr,
            "virtual_size": str(8 * MiB), "type": "user", "sharable": False, "read_only": False,
            "other_config": {}, "xenstore_data": {}, "sm_config": {}, "tags": []})
        path = os.path.join(self.sr_dir, self.api("VDI.get_location", vdi) + ".qcow2")
        write_pattern(path, 0x5a, 2 * MiB, 3 * BLOCK)
        # no network has an NBD purpose yet: nothing to connect to
        self.assertEqual(self.api("VDI.get_nbd_info", vdi), [])
        pifs = [r for r, p in self.api("PIF.get_all_records").items() if p["management"] and p["IP"]]
        if not pifs:
            self.skipTest("no management PIF with an address")
        net = self.api("PIF.get_network", pifs[0])
        self.api("network.add_purpose", net, "insecure_nbd")
        with self.assertRaises(XapiError) as cm:
            self.api("network.add_purpose", net, "nbd")
        self.assertEqual(cm.exception.code, "NETWORK_INCOMPATIBLE_PURPOSES")
        try:
            infos = self.api("VDI.get_nbd_info", vdi)
            self.assertEqual(len(infos), 1)
            i = infos[0]
            uuid = self.api("VDI.get_uuid", vdi)
            self.assertTrue(i["exportname"].startswith("/%s?session_id=" % uuid), i)
            self.assertEqual(i["address"], self.api("PIF.get_IP", pifs[0]))
            self.assertEqual(i["cert"], "")
            got, want = os.path.join(self.tmp, "got.raw"), os.path.join(self.tmp, "want.raw")
            opts = "driver=nbd,server.type=inet,server.host=%s,server.port=%d,export=%s" % (
                i["address"], i["port"], i["exportname"])
            r = subprocess.run(["qemu-img", "convert", "--image-opts", opts, "-O", "raw", got],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            subprocess.run(["qemu-img", "convert", "-U", "-f", "qcow2", path, "-O", "raw", want],
                           check=True)
            with open(got, "rb") as a, open(want, "rb") as b:
                data = a.read()
                self.assertEqual(data, b.read())
            self.assertEqual(data[2 * MiB:2 * MiB + 3 * BLOCK], b"\x5a" * 3 * BLOCK)
        finally:
            self.api("network.remove_purpose", net, "insecure_nbd")
        self.assertEqual(self.api("network.get_purpose", net), [])

        # purpose nbd: the export speaks TLS with the host's certificate,
        # which the answer carries for the client to trust
        self.api("network.add_purpose", net, "nbd")
        try:
            i = self.api("VDI.get_nbd_info", vdi)[0]
            self.assertTrue(i["cert"].startswith("-----BEGIN CERTIFICATE-----"), i["cert"][:40])
            host = self.api("host.get_all")[0]
            self.assertEqual(i["subject"], self.api("host.get_hostname", host))
            cdir = os.path.join(self.tmp, "client-tls")
            os.makedirs(cdir, exist_ok=True)
            with open(os.path.join(cdir, "ca-cert.pem"), "w") as f:
                f.write(i["cert"])
            got = os.path.join(self.tmp, "got-tls.raw")
            base = "driver=nbd,server.type=inet,server.host=%s,server.port=%d,export=%s" % (
                i["address"], i["port"], i["exportname"])
            # without TLS the export does not talk
            r = subprocess.run(["qemu-img", "convert", "--image-opts", base, "-O", "raw", got],
                               capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            # an export nobody finished with ends with the session that asked
            other = self.x.login()
            j = self.x.call("VDI.get_nbd_info", other, vdi)[0]
            self.assertTrue(j["exportname"].endswith(other))

            def export_alive(port):
                r = subprocess.run(["pgrep", "-f", "qemu-nbd --fork -r -b %s -p %d " % (j["address"], port)],
                                   capture_output=True)
                return r.returncode == 0
            self.assertTrue(export_alive(j["port"]))
            self.x.call("session.logout", other)
            deadline = time.monotonic() + 30
            while export_alive(j["port"]) and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertFalse(export_alive(j["port"]), "the export outlived its session")
            self.assertTrue(export_alive(i["port"]), "another session's export went too")
            i = self.api("VDI.get_nbd_info", vdi)[0]
            base = "driver=nbd,server.type=inet,server.host=%s,server.port=%d,export=%s" % (
                i["address"], i["port"], i["exportname"])
            r = subprocess.run(["qemu-img", "convert", "--object",
                                "tls-creds-x509,id=tls0,endpoint=client,dir=" + cdir, "--image-opts",
                                base + ",tls-creds=tls0,tls-hostname=" + i["subject"], "-O", "raw", got],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(got, "rb") as a, open(want, "rb") as b:
                self.assertEqual(a.read(), b.read())
        finally:
            self.api("network.remove_purpose", net, "nbd")
        self.api("VDI.destroy", vdi)


def mount_small(size_mb=64):
    """A small filesystem of its own: (mountpoint, image file or None)."""
    d = tempfile.mkdtemp(prefix="xenon-cbt-fs-")
    img = d + ".img"
    try:
        with open(img, "wb") as f:
            f.truncate(size_mb << 20)
        if subprocess.run(["mkfs.ext4", "-q", "-F", img], capture_output=True).returncode == 0 and \
                subprocess.run(["mount", "-o", "loop", img, d], capture_output=True).returncode == 0:
            return d, img
    except OSError:
        pass
    if os.path.exists(img):
        os.unlink(img)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % size_mb, "tmpfs", d],
                      capture_output=True).returncode == 0:
        return d, None
    os.rmdir(d)
    return None, None


class SpaceTest(unittest.TestCase):
    """SR_FULL and true SR accounting on a filesystem that can fill up."""

    @classmethod
    def setUpClass(cls):
        if not shutil.which("qemu-img") or os.geteuid() != 0:
            raise unittest.SkipTest("needs qemu-img and root to mount a small filesystem")
        cls.mnt, cls.img = mount_small()
        if not cls.mnt:
            raise unittest.SkipTest("cannot mount a small filesystem here")
        cls.x = harness.Server(call_timeout=120).start()
        cls.host = cls.x.api("host.get_all")[0]

    @classmethod
    def tearDownClass(cls):
        try:
            cls.x.stop()
        finally:
            subprocess.run(["umount", cls.mnt], capture_output=True)
            os.rmdir(cls.mnt)
            if cls.img:
                os.unlink(cls.img)

    def api(self, method, *params):
        return self.x.api(method, *params)

    def assertFull(self, method, *params):
        with self.assertRaises(XapiError) as cm:
            self.api(method, *params)
        self.assertEqual(cm.exception.code, "SR_FULL", cm.exception.params)
        req, mx = (int(p) for p in cm.exception.params)
        self.assertGreater(req, mx)
        return req, mx

    def new_sr(self, name, sm_config):
        d = os.path.join(self.mnt, name)
        return self.api("SR.create", self.host, {"path": d}, "0", name, "", "ext", "", False,
                        sm_config), d

    def new_vdi(self, sr, size):
        return self.api("VDI.create", {
            "name_label": "d", "name_description": "", "SR": sr, "virtual_size": str(size),
            "type": "user", "sharable": False, "read_only": False, "other_config": {},
            "xenstore_data": {}, "sm_config": {}, "tags": []})

    def assertAccounting(self, sr):
        """physical_* as the filesystem says, virtual_allocation the sum of the disks."""
        rec = self.api("SR.get_record", sr)
        v = os.statvfs(self.mnt)
        self.assertEqual(rec["physical_size"], v.f_blocks * v.f_frsize)
        self.assertEqual(rec["physical_utilisation"], (v.f_blocks - v.f_bfree) * v.f_frsize)
        sizes = [self.api("VDI.get_virtual_size", r) for r in rec["VDIs"]
                 if self.api("VDI.get_managed", r)]
        self.assertEqual(rec["virtual_allocation"], sum(sizes))

    def free(self):
        v = os.statvfs(self.mnt)
        return v.f_bavail * v.f_frsize

    def test_thin(self):
        sr, d = self.new_sr("thin", {})
        big = self.new_vdi(sr, 1 << 30)  # thin: more than the filesystem holds
        self.assertAccounting(sr)
        filler = os.path.join(self.mnt, "filler")
        with open(filler, "wb") as f:
            os.posix_fallocate(f.fileno(), 0, max(self.free() - 128 * 1024, 0))
        try:
            self.assertFull("VDI.create", {
                "name_label": "d", "name_description": "", "SR": sr, "virtual_size": str(MiB),
                "type": "user", "sharable": False, "read_only": False, "other_config": {},
                "xenstore_data": {}, "sm_config": {}, "tags": []})
            self.assertFull("VDI.clone", big, {})
            self.assertFull("VDI.snapshot", big, {})
            self.assertEqual(len(os.listdir(d)), 1)
            self.api("SR.scan", sr)  # the filler is no SR operation
            self.assertAccounting(sr)
        finally:
            os.unlink(filler)
        snap = self.api("VDI.snapshot", big, {})
        self.assertAccounting(sr)
        for v in (snap, big):
            self.api("VDI.destroy", v)
        self.assertAccounting(sr)
        pbd = self.api("SR.get_PBDs", sr)[0]
        self.api("PBD.unplug", pbd)
        self.api("SR.destroy", sr)

    def test_thick(self):
        sr, d = self.new_sr("thick", {"allocation": "thick"})
        part = self.free() * 6 // 10 // MiB * MiB
        a = self.new_vdi(sr, part)
        self.assertGreaterEqual(self.api("VDI.get_physical_utilisation", a), part)
        self.assertAccounting(sr)
        req, mx = self.assertFull("VDI.create", {
            "name_label": "d", "name_description": "", "SR": sr, "virtual_size": str(part),
            "type": "user", "sharable": False, "read_only": False, "other_config": {},
            "xenstore_data": {}, "sm_config": {}, "tags": []})
        self.assertGreaterEqual(req, part)
        self.assertFull("VDI.resize", a, str(part * 2))
        self.assertEqual(self.api("VDI.get_virtual_size", a), part)
        self.assertFull("VDI.clone", a, {})
        snap = self.api("VDI.snapshot", a, {})  # read-only: metadata only
        self.assertAccounting(sr)
        small = self.new_vdi(sr, 4 * MiB)
        self.api("VDI.resize", small, str(8 * MiB))
        self.assertGreaterEqual(self.api("VDI.get_physical_utilisation", small), 8 * MiB)
        self.assertAccounting(sr)
        for v in (snap, small, a):
            self.api("VDI.destroy", v)
        self.assertAccounting(sr)
        pbd = self.api("SR.get_PBDs", sr)[0]
        self.api("PBD.unplug", pbd)
        self.api("SR.destroy", sr)


if __name__ == "__main__":
    harness.main()
