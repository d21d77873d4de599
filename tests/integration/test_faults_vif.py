"""Fault injection (test_faults.py's sweep) of what needs a bridge: VM.start
of a VM with a VIF and VIF.plug into a running VM, on the QEMU backend,
each with a failure at every hit of tap, qmp, alloc (sampled) and
sql_commit in turn. After every failure: the operation's own error came
back, no tap is left in the namespace, no record changed (the VIF is
detached and free, the VM halted after a failed start, still running in
the same QEMU after a failed plug) and the daemon still serves.

As test_network, the module re-runs itself in a network namespace of its
own, so the bridge and taps xenond makes never touch the host's network.
Skipped without root, ip or qemu-system-x86_64."""

import os
import shutil
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

if __name__ == "__main__" and not os.environ.get(harness.NETNS_ENV):
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("qemu-system-x86_64"):
        print("skipped: needs root, ip and qemu-system-x86_64", file=sys.stderr)
        sys.exit(77)
    sys.exit(harness.run_in_netns(__file__))

import guest  # noqa: E402
from guest import read_pid, qemu_alive  # noqa: E402
from test_faults import FaultCase  # noqa: E402

POINTS = ["tap", "qmp", "alloc", "sql_commit"]


@unittest.skipIf(guest.QEMU is None or not os.environ.get(harness.NETNS_ENV),
                 "needs qemu and the test namespace")
class VifFaults(guest.GuestMixin, FaultCase):

    @classmethod
    def setUpClass(cls):
        cls.start_qemu_server()
        cls.net = cls.api.network.create({"name_label": "fault-net", "name_description": "", "MTU": 1500,
                                          "other_config": {}, "bridge": "", "managed": True, "tags": []})

    @classmethod
    def tearDownClass(cls):
        guest.halt_all(cls)
        cls.srv.stop()
        sys.stderr.write("\nfault points hit per operation (VIFs):\n  %s\n" % "\n  ".join(cls.report))

    def new_vif(self, vm, device):
        return self.api.VIF.create({"device": device, "network": self.net, "VM": vm, "MAC": "", "MTU": 1500,
                                    "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})

    def vif_state(self, vif):
        r = self.api.VIF.get_record(vif)
        return r["currently_attached"], r["current_operations"], sorted(r["allowed_operations"])

    def test_vm_start_with_vif(self):
        vm = self.new_vm("fault-vif-start")
        vif = self.new_vif(vm, "0")
        idle = self.vif_state(vif)

        def start():
            self.api.VM.start(vm, False, False)
            return vm

        def stop(v):
            self.api.VM.hard_shutdown(v)
            self.assert_no_qemu(v, files_gone=False)

        def check(what):
            self.assertEqual(self.api.VM.get_power_state(vm), "Halted", what)
            self.assertEqual(self.api.VM.get_current_operations(vm), {}, what)
            self.assertEqual(self.vif_state(vif), idle, what)
            self.assert_no_qemu(vm, files_gone=False)

        hits = self.sweep("VM.start with a VIF (qemu)", start, stop, POINTS,
                          expect={"INTERNAL_ERROR", "FAILED_TO_START_EMULATOR"}, check=check)
        self.assertEqual(hits["tap"], 1)
        self.assertGreater(hits["qmp"], 0)

    def test_vif_plug(self):
        vm = self.new_vm("fault-vif-plug")
        pid = self.start_ready(vm)
        domid = self.api.VM.get_domid(vm)
        uuid = self.api.VM.get_uuid(vm)
        vif = self.new_vif(vm, "1")
        idle = self.vif_state(vif)
        self.assertEqual(idle, (False, {}, ["attach", "plug"]))

        def plug():
            self.api.VIF.plug(vif)
            return vif

        def unplug(v):
            # waits for the guest to let the NIC go, so the next plug
            # finds the device id free
            self.api.VIF.unplug(v)

        def check(what):
            self.assertEqual(self.vif_state(vif), idle, what)
            self.assertEqual(self.api.VM.get_power_state(vm), "Running", what)
            self.assertEqual(self.api.VM.get_domid(vm), domid, what)
            self.assertEqual(read_pid(self.vm_dir(vm)), pid, what)
            self.assertTrue(qemu_alive(pid, uuid), what)

        try:
            hits = self.sweep("VIF.plug (qemu)", plug, unplug, POINTS, expect={"INTERNAL_ERROR"}, check=check)
            self.assertEqual(hits["tap"], 1)
            self.assertGreater(hits["qmp"], 0)
            # and it still plugs
            self.api.VIF.plug(vif)
            self.assertTrue(self.api.VIF.get_currently_attached(vif))
            self.assertIn("vif%d.1" % domid, os.listdir("/sys/class/net"))
        finally:
            self.api.VM.hard_shutdown(vm)


if __name__ == "__main__":
    harness.main()
