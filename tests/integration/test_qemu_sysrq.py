"""VM.send_sysrq and VM.send_trigger reach a real guest: the tiny test
guest under the QEMU backend gets Alt+SysRq+h on its keyboard and its
kernel prints the SysRq help on the serial console; an NMI trigger reaches
its kernel too. Bad keys and triggers, and a halted VM, are refused.

Skipped only when qemu-system-x86_64 is missing."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import guest  # noqa: E402
from guest import QEMU  # noqa: E402


@unittest.skipIf(QEMU is None, "qemu-system-x86_64 is not installed")
class QemuSysrq(guest.GuestTestCase):

    def test_sysrq_and_trigger_reach_the_kernel(self):
        vm = self.new_vm("sysrq-vm")
        self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.send_sysrq, vm, "h",
                             params=[vm, "running", "halted"])
        self.start_ready(vm)
        self.assertXapiError("INVALID_VALUE", self.api.VM.send_sysrq, vm, "hh", params=["key", "hh"])
        self.assertXapiError("INVALID_VALUE", self.api.VM.send_trigger, vm, "bogus", params=["trigger", "bogus"])
        self.assertNotIn("sysrq", self.serial(vm).lower())
        self.api.VM.send_sysrq(vm, "h")
        self.wait_serial(vm, "sysrq: HELP", timeout=30)
        # the NMI's report comes after what the console held already
        seen = len(self.serial(vm))
        self.api.VM.send_trigger(vm, "nmi")
        self.wait_for(lambda: "NMI" in self.serial(vm)[seen:], 30, msg="the guest kernel's NMI report")
        self.api.VM.hard_shutdown(vm)


if __name__ == "__main__":
    harness.main()
