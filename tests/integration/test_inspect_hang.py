"""The inspection appliance's watchdog: an appliance that stops answering is
killed after the time limit (XENON_INSPECT_TIMEOUT_S, here 20 s),
the call answers INSPECT_TIMEOUT, and xenond serves meanwhile and after.
The hang is real: the fault point "inspect_hang" (xenond --debug-faults)
stops the appliance's QEMU with SIGSTOP once it is up, so the request
blocks inside libguestfs waiting for the appliance's daemon, as it would
on an image that wedges the appliance's kernel. One small vfat disk; two
appliance starts (the hung one, then one that answers)."""
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_inspect  # noqa: E402

MiB = 1 << 20
TIMEOUT_S = 20  # the answering appliance after it must finish its work within it too (TCG)


class InspectHang(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        why = test_inspect.appliance_missing()
        if why:
            raise unittest.SkipTest(why)
        os.environ["XENON_INSPECT_TIMEOUT_S"] = str(TIMEOUT_S)
        try:
            cls.srv = harness.Server(backend="qemu", extra_args=["--debug-faults"], call_timeout=240)
            cls.srv.start()
        finally:
            del os.environ["XENON_INSPECT_TIMEOUT_S"]
        cls.api = cls.srv.api
        cls.work = tempfile.mkdtemp(prefix="xenon-inspect-hang-")
        img = os.path.join(cls.work, "small.vfat")
        test_inspect.fs_image(img, "vfat", 8 * MiB, "XHANG", {"/hello.txt": b"still here\n"})
        sr = cls.api.pool.get_default_SR(cls.api.pool.get_all()[0])
        cls.vdi = cls.api.VDI.create({
            "name_label": "hang", "name_description": "", "SR": sr, "virtual_size": str(8 * MiB),
            "type": "user", "sharable": False, "read_only": False, "other_config": {},
            "xenstore_data": {}, "sm_config": {}, "tags": []})
        r = cls.srv.xe("vdi-import", "uuid=" + cls.api.VDI.get_uuid(cls.vdi), "filename=" + img)
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        subprocess.run(["rm", "-rf", cls.work])

    def test_hung_appliance_is_killed(self):
        uuid = self.api.VDI.get_uuid(self.vdi)
        self.api.debug.fault_arm("inspect_hang", 1)
        out = {}

        def call():
            t = time.monotonic()
            out["r"] = self.srv.xe("vdi-inspect", "uuid=" + uuid, timeout=240)
            out["t"] = time.monotonic() - t

        th = threading.Thread(target=call)
        th.start()
        # xenond answers other calls while the request hangs
        served = 0
        while th.is_alive():
            t = time.monotonic()
            r = self.srv.xe("vdi-param-get", "uuid=" + uuid, "param-name=name-label")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "hang"), r.stderr)
            self.assertLess(time.monotonic() - t, 10)
            served += 1
            time.sleep(1)
        th.join()
        r = out["r"]
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("INSPECT_TIMEOUT", r.stdout + r.stderr)
        self.assertGreaterEqual(out["t"], TIMEOUT_S)
        self.assertGreater(served, 0)
        st = self.api.debug.fault_status()
        self.assertEqual(int(st["inspect_hang.fired"]), 1)
        with open(self.srv.log_path, errors="replace") as f:
            self.assertIn("appliance killed", f.read())
        # the VDI is free again, and a new appliance answers
        self.assertEqual(self.api.VDI.get_current_operations(self.vdi), {})
        rep = self.api.VDI.inspect(self.vdi)
        self.assertEqual([(f["type"], f["label"]) for f in rep["filesystems"]], [("vfat", "XHANG")])
        ls = [e["name"] for e in self.api.VDI.list_directory(self.vdi, "", "/")]
        self.assertEqual(ls, ["hello.txt"])
        sys.stderr.write("\n  hung request answered after %.1f s; %d calls served meanwhile\n"
                         % (out["t"], served))


if __name__ == "__main__":
    unittest.main(verbosity=2)
