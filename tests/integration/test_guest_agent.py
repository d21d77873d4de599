"""The guest agent: xenond (--backend qemu) boots the tiny test guest once
and, through its qemu-ga, fills VM_guest_metrics (os_version, PV drivers,
live) and serves Xenon's extensions VM.guest_exec, VM.guest_file_write and
VM.guest_file_read (also via xe). Errors: a halted VM, a backend without
agents (sim). Skipped when qemu-system-x86_64 is missing."""

import base64
import hashlib
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import guest  # noqa: E402
from guest import QEMU, MiB  # noqa: E402



@unittest.skipIf(QEMU is None, "qemu-system-x86_64 is not installed")
class GuestAgentTest(guest.GuestTestCase):
    pass


_test = guest.method_of(GuestAgentTest)


@_test
def test_1_guest(self):
    vm = self.new_vm("ga-vm")
    self.start_ready(vm)
    t = time.monotonic()

    def metrics():
        gm = self.api.VM.get_guest_metrics(vm)
        if gm == harness.NULL_REF:
            return None
        r = self.api.VM_guest_metrics.get_record(gm)
        return r if r["live"] and r["os_version"] else None
    r = self.wait_for(metrics, 60, interval=0.5, msg="live guest metrics")
    self.timings["ready -> guest metrics"] = time.monotonic() - t
    self.assertTrue(r["PV_drivers_detected"])
    self.assertEqual(set(r["PV_drivers_version"]), {"major", "minor", "micro", "build"})
    self.assertIn("uname", r["os_version"])
    self.assertIn("name", r["os_version"])
    for k in r["networks"]:
        self.assertRegex(k, r"^\d+/(ip|ipv4/\d+|ipv6/\d+)$")

    # exec: output, streams, exit code
    out = self.api.VM.guest_exec(vm, ["uname", "-r"], "", 30)
    self.assertEqual(out["exitcode"], "0")
    self.assertEqual(out["stdout"].strip(), r["os_version"]["uname"])
    out = self.api.VM.guest_exec(vm, ["sh", "-c", "echo out; echo err >&2; exit 3"], "", 30)
    self.assertEqual(out, {"exitcode": "3", "stdout": "out\n", "stderr": "err\n"})
    out = self.api.VM.guest_exec(vm, ["cat"], "from stdin", 30)
    self.assertEqual(out["stdout"], "from stdin")
    task = self.api.Async.VM.guest_exec(vm, ["echo", "async"], "", 30)
    self.wait_for(lambda: self.api.task.get_status(task) != "pending", 30)
    self.assertEqual(self.api.task.get_status(task), "success")

    # files: random bytes there and back (a write is one RPC body: the
    # default max_body of 1 MiB holds ~768 KiB as base64)
    data = os.urandom(512 * 1024)
    self.api.VM.guest_file_write(vm, "/tmp/blob", base64.b64encode(data).decode())
    back = base64.b64decode(self.api.VM.guest_file_read(vm, "/tmp/blob"))
    self.assertEqual(back, data)
    self.assertXapiError("INVALID_VALUE", self.api.VM.guest_file_write, vm, "/tmp/x", "!!")
    # a read is not bound by max_body: 2 MiB made in the guest
    out = self.api.VM.guest_exec(vm, ["dd", "if=/dev/urandom", "of=/tmp/big", "bs=1024", "count=2048"], "", 30)
    self.assertEqual(out["exitcode"], "0", out)
    big = base64.b64decode(self.api.VM.guest_file_read(vm, "/tmp/big"))
    self.assertEqual(len(big), 2 * MiB)
    out = self.api.VM.guest_exec(vm, ["md5sum", "/tmp/big"], "", 30)
    self.assertEqual(out["stdout"].split()[0], hashlib.md5(big).hexdigest())

    # xe
    if os.path.exists(harness.XE):
        p = self.srv.xe("vm-guest-exec", "vm=" + self.api.VM.get_uuid(vm),
                        "command=echo hi; echo oops >&2; exit 5")
        self.assertEqual((p.returncode, p.stdout, p.stderr), (5, "hi\n", "oops\n"))
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "in"), os.path.join(d, "out")
            with open(src, "wb") as f:
                f.write(data[:4096])
            p = self.srv.xe("vm-guest-file-write", "uuid=" + self.api.VM.get_uuid(vm),
                            "path=/tmp/small", "filename=" + src)
            self.assertEqual(p.returncode, 0, p.stderr)
            p = self.srv.xe("vm-guest-file-read", "uuid=" + self.api.VM.get_uuid(vm),
                            "path=/tmp/small", "filename=" + dst)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(dst, "rb") as f:
                self.assertEqual(f.read(), data[:4096])

    # halted: VM_BAD_POWER_STATE, and the metrics are no longer live
    self.api.VM.hard_shutdown(vm)
    self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.guest_exec, vm, ["true"], "", 5)
    self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.guest_file_read, vm, "/etc/hostname")
    gm = self.api.VM.get_guest_metrics(vm)
    self.wait_for(lambda: not self.api.VM_guest_metrics.get_live(gm), 10, msg="metrics not live")


class SimNoAgentTest(harness.ServerTestCase):
    def test_no_agent(self):
        srv = harness.Server()
        srv.start()
        try:
            api = srv.api
            self.assertIn("VM.guest_exec", srv.call("system.listMethods"))
            mem = 256 * MiB
            vm = api.VM.create({
                "name_label": "ga-sim", "name_description": "", "user_version": 1,
                "is_a_template": False, "affinity": harness.NULL_REF, "memory_static_max": mem,
                "memory_dynamic_max": mem, "memory_dynamic_min": mem, "memory_static_min": mem,
                "VCPUs_params": {}, "VCPUs_max": 1, "VCPUs_at_startup": 1,
                "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
                "actions_after_crash": "restart", "PV_bootloader": "", "PV_kernel": "",
                "PV_ramdisk": "", "PV_args": "", "PV_bootloader_args": "", "PV_legacy_args": "",
                "HVM_boot_policy": "BIOS order", "HVM_boot_params": {"order": "cd"},
                "platform": {}, "PCI_bus": "", "other_config": {}, "recommendations": "",
                "domain_type": "hvm"})
            self.assertXapiError("VM_BAD_POWER_STATE", api.VM.guest_exec, vm, ["true"], "", 5)
            api.VM.start(vm, False, False)
            self.assertXapiError("VM_MISSING_PV_DRIVERS", api.VM.guest_exec, vm, ["true"], "", 5)
            self.assertXapiError("VM_MISSING_PV_DRIVERS", api.VM.guest_file_read, vm, "/x")
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
