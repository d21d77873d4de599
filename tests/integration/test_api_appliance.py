"""VM appliances and VM snapshot schedules on the sim backend: three VMs of
an appliance started in ascending `order` with each group's start_delay
between, shut down in descending order with shutdown_delay; VMSS.snapshot_now
keeping retained_snapshots; a schedule run by xenond itself (vmss-interval,
the test configuration key for a short period) removing old snapshots; and
the xe commands appliance-* and vmss-*."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def vmss_snapshots(api, vm):
    return [s for s in api.VM.get_snapshots(vm) if api.VM.get_is_vmss_snapshot(s)]


class Appliance(harness.ServerTestCase):

    def xe(self, *args):
        r = self.srv.xe(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def power_changes(self, token, vms, want, timeout=30):
        """(vm, time seen) for each VM of vms reaching power state want, in
        the order event.from reports them."""
        seen, order = set(), []
        deadline = time.monotonic() + timeout
        while len(seen) < len(vms) and time.monotonic() < deadline:
            batch = self.srv.call("event.from", self.srv.session, ["vm"], token, 5.0)
            token = batch["token"]
            for ev in batch["events"]:
                ref = ev["ref"]
                if ref in vms and ref not in seen and ev["operation"] != "del" and \
                        ev["snapshot"].get("power_state") == want:
                    seen.add(ref)
                    order.append((ref, time.monotonic()))
        return order, token

    def test_start_and_stop_in_order(self):
        app = self.api.VM_appliance.create({"name_label": "vapp", "name_description": ""})
        vms = []
        try:
            for i, order in enumerate((2, 0, 1)):  # created out of order on purpose
                vm = self.new_vm("app-vm-%d" % order, provision=False)
                self.api.VM.set_appliance(vm, app)
                self.api.VM.set_order(vm, str(order))
                self.api.VM.set_start_delay(vm, "1")
                self.api.VM.set_shutdown_delay(vm, "1")
                vms.append((order, vm))
            by_order = [vm for _, vm in sorted(vms)]
            self.assertEqual(sorted(self.api.VM_appliance.get_VMs(app)), sorted(by_order))
            token = self.srv.call("event.from", self.srv.session, ["vm"], "", 0.0)["token"]
            t0 = time.monotonic()
            task = self.api.Async.VM_appliance.start(app, False)
            order, token = self.power_changes(token, by_order, "Running")
            self.wait_task(task)
            self.assertEqual([r for r, _ in order], by_order)
            # one second between groups, and none after the last
            self.assertGreaterEqual(order[1][1] - order[0][1], 0.9)
            self.assertGreaterEqual(order[2][1] - order[1][1], 0.9)
            self.assertLess(time.monotonic() - t0, 10)
            for vm in by_order:
                self.assertEqual(self.api.VM.get_power_state(vm), "Running")
            # already running: nothing to do, no delay
            t1 = time.monotonic()
            self.api.VM_appliance.start(app, False)
            self.assertLess(time.monotonic() - t1, 0.9)

            task = self.api.Async.VM_appliance.clean_shutdown(app)
            order, token = self.power_changes(token, by_order, "Halted")
            self.wait_task(task)
            self.assertEqual([r for r, _ in order], list(reversed(by_order)))
            self.assertGreaterEqual(order[1][1] - order[0][1], 0.9)
            for vm in by_order:
                self.assertEqual(self.api.VM.get_power_state(vm), "Halted")

            # a VM that cannot start: the others start, the call names it
            self.api.VM.add_to_blocked_operations(by_order[1], "start", "no")
            e = self.assertXapiError("OPERATION_PARTIALLY_FAILED", self.api.VM_appliance.start, app, False)
            self.assertEqual(e.params, ["VM_appliance.start", by_order[1]])
            self.assertEqual(self.api.VM.get_power_state(by_order[2]), "Running")
            self.api.VM.remove_from_blocked_operations(by_order[1], "start")
            self.api.VM_appliance.hard_shutdown(app)
            for vm in by_order:
                self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
        finally:
            for _, vm in vms:
                self.destroy_vm(vm)
            self.api.VM_appliance.destroy(app)

    def test_xe_appliance(self):
        uuid = self.xe("appliance-create", "name-label=xe-vapp")
        app = self.api.VM_appliance.get_by_uuid(uuid)
        vm = self.new_vm("xe-app-vm", provision=False)
        try:
            self.api.VM.set_appliance(vm, app)
            self.xe("appliance-start", "uuid=" + uuid)
            self.assertEqual(self.api.VM.get_power_state(vm), "Running")
            self.xe("appliance-shutdown", "uuid=" + uuid, "--force")
            self.assertEqual(self.api.VM.get_power_state(vm), "Halted")
            self.assertIn(uuid, self.xe("appliance-list", "--minimal"))
        finally:
            self.destroy_vm(vm)
        self.xe("appliance-destroy", "uuid=" + uuid)
        self.assertEqual(self.api.VM_appliance.get_all(), [])

    def test_xe_help_names_the_commands(self):
        out = self.srv.xe("help", "--all")
        self.assertEqual(out.returncode, 0, out.stderr)
        names = {n.strip() for n in out.stdout.replace("\n", ",").split(",")}
        for cmd in ("vm-copy-bios-strings", "host-dmesg", "host-bugreport-upload", "host-logs-download",
                    "appliance-create", "appliance-destroy", "appliance-start", "appliance-shutdown",
                    "appliance-list", "vmss-create", "vmss-destroy", "vmss-list", "message-list",
                    "blob-create", "blob-get", "blob-put"):
            self.assertIn(cmd, names)

    def test_snapshot_now_keeps_retained(self):
        vmss = self.api.VMSS.create({"name_label": "keep2", "enabled": False, "type": "snapshot",
                                     "retained_snapshots": "2", "frequency": "daily",
                                     "schedule": {"hour": "3", "min": "0"}})
        vm = self.new_vm("vmss-vm", provision=False)
        sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        vdi = self.api.VDI.create({"SR": sr, "virtual_size": str(harness.MiB), "type": "user",
                                   "name_label": "vmss-disk", "sharable": False, "read_only": False,
                                   "other_config": {}})
        self.api.VBD.create({"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True, "mode": "RW",
                             "type": "Disk", "empty": False, "other_config": {},
                             "qos_algorithm_type": "", "qos_algorithm_params": {}})
        try:
            self.api.VM.set_snapshot_schedule(vm, vmss)
            made, first_disks = [], []
            for _ in range(3):
                made.append(self.api.VMSS.snapshot_now(vmss))
                if not first_disks:
                    first_disks = [self.api.VBD.get_VDI(b) for b in self.api.VM.get_VBDs(made[0])]
                time.sleep(1.05)  # distinct snapshot times
            self.assertEqual(len(made), 3)
            kept = vmss_snapshots(self.api, vm)
            self.assertEqual(sorted(kept), sorted(made[1:]))
            self.assertXapiError("HANDLE_INVALID", self.api.VM.get_record, made[0])
            self.assertNotEqual(self.api.VMSS.get_last_run_time(vmss), "19700101T00:00:00Z")
            # the disks of the removed snapshot went with it; the kept ones have theirs
            self.assertEqual(len(first_disks), 1)
            self.assertXapiError("HANDLE_INVALID", self.api.VDI.get_record, first_disks[0])
            for s in kept:
                self.assertEqual(len(self.api.VM.get_VBDs(s)), 1)
            self.assertXapiError("INVALID_VALUE", self.api.VMSS.add_to_schedule, vmss, "min", "7",
                                 params=["schedule:min", "7"])
            self.api.VMSS.remove_from_schedule(vmss, "min")
            self.api.VMSS.add_to_schedule(vmss, "min", "45")
            self.assertEqual(self.api.VMSS.get_schedule(vmss), {"hour": "3", "min": "45"})
            self.assertXapiError("VMSS_HAS_VM", self.api.VMSS.destroy, vmss)
            uuid = self.xe("vmss-create", "name-label=xe-vmss", "type=snapshot", "frequency=hourly",
                           "schedule:min=15", "enabled=false")
            self.assertEqual(self.api.VMSS.get_frequency(self.api.VMSS.get_by_uuid(uuid)), "hourly")
            self.xe("vmss-destroy", "uuid=" + uuid)
        finally:
            for s in self.api.VM.get_snapshots(vm):
                self.srv.xe("snapshot-uninstall", "uuid=" + self.api.VM.get_uuid(s), "--force")
            self.api.VM.set_snapshot_schedule(vm, harness.NULL_REF)
            self.destroy_vm(vm)
            self.api.VDI.destroy(vdi)
            self.api.VMSS.destroy(vmss)


class ScheduleFires(harness.ServerTestCase):
    server_kwargs = {"config": "vmss-interval=2\n"}

    def test_schedule_runs_and_removes_old(self):
        vm = self.new_vm("sched-vm")
        vmss = self.api.VMSS.create({"name_label": "every2s", "enabled": False, "type": "snapshot",
                                     "retained_snapshots": "2", "frequency": "hourly",
                                     "schedule": {"min": "0"}})
        self.api.VM.set_snapshot_schedule(vm, vmss)
        self.api.VMSS.set_enabled(vmss, True)
        seen = []
        deadline = time.monotonic() + 20
        while len(seen) < 4 and time.monotonic() < deadline:
            for s in vmss_snapshots(self.api, vm):
                if s not in seen:
                    seen.append(s)
            time.sleep(0.2)
        self.api.VMSS.set_enabled(vmss, False)
        self.assertGreaterEqual(len(seen), 4, "the schedule ran fewer than four times in 20 s")
        time.sleep(0.5)
        kept = vmss_snapshots(self.api, vm)
        self.assertLessEqual(len(kept), 2)
        self.assertNotIn(seen[0], kept)
        self.assertXapiError("HANDLE_INVALID", self.api.VM.get_record, seen[0])


if __name__ == "__main__":
    harness.main()
