"""VM lifecycle on the simulated backend (xapi-surface.md §3 VM power-state
preconditions, §4 templates/provision): install from a template with
clone+provision, start, pause/unpause, suspend/resume, reboot, shutdown,
snapshot/checkpoint/revert, copy, destroy, and the XenAPI errors of each,
with nothing left half-done after a refused operation."""

import calendar
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import NULL_REF, REF_RE, XapiError  # noqa: E402

GiB = 1 << 30


def provision_disks(xml):
    return [dict(re.findall(r'(\w+)="([^"]*)"', d)) for d in re.findall(r"<disk\b[^>]*>", xml)]


class Lifecycle(harness.ServerTestCase):
    def setUp(self):
        super().setUp()
        self.host = self.api.host.get_all()[0]
        self.vms = []

    def tearDown(self):
        for vm in self.vms:
            self.destroy_vm(vm)

    def install(self, name, template="Debian Bookworm 12"):
        tpl = self.template(template)
        vm = self.api.VM.clone(tpl, name)
        self.vms.append(vm)
        self.api.VM.provision(vm)
        return vm

    def assert_state(self, vm, state):
        rec = self.api.VM.get_record(vm)
        self.assertEqual(rec["power_state"], state)
        self.assertEqual(rec["current_operations"], {}, "current_operations left behind")
        if state in ("Running", "Paused"):
            self.assertEqual(rec["resident_on"], self.host)
            self.assertGreater(rec["domid"], 0)
            self.assertIn(vm, self.api.host.get_resident_VMs(self.host))
        else:
            self.assertEqual(rec["resident_on"], NULL_REF)
            self.assertEqual(rec["domid"], -1)
            self.assertNotIn(vm, self.api.host.get_resident_VMs(self.host))
        return rec

    def bad_power_state(self, fn, vm, expected, actual, *args):
        e = self.assertXapiError("VM_BAD_POWER_STATE", fn, vm, *args)
        self.assertEqual(len(e.params), 3, e.params)
        self.assertEqual(e.params[0], vm)
        # xapi joins the allowed states with ", " (xapi_vm_lifecycle.ml report_power_state_error)
        self.assertEqual(e.params[1].split(", "), expected.split(", "))
        self.assertEqual(e.params[2], actual)

    # ---- install ----

    def test_install_from_template(self):
        tpl = self.template("Debian Bookworm 12")
        disks = provision_disks(self.api.VM.get_other_config(tpl)["disks"])
        self.assertTrue(disks)
        vm = self.api.VM.clone(tpl, "lc-install")
        self.vms.append(vm)
        self.assertTrue(self.api.VM.get_is_a_template(vm), "a clone of a template is a template")
        self.assertNotEqual(self.api.VM.get_uuid(vm), self.api.VM.get_uuid(tpl))
        self.assertEqual(self.api.VM.get_VBDs(vm), [])
        self.api.VM.provision(vm)
        rec = self.api.VM.get_record(vm)
        # xapi_vm.ml provision clears is_a_template and drops the disks key
        self.assertFalse(rec["is_a_template"])
        self.assertNotIn("disks", rec["other_config"])
        self.assertEqual(rec["power_state"], "Halted")
        self.assertEqual(len(rec["VBDs"]), len(disks))
        default_sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        by_dev = {self.api.VBD.get_userdevice(v): v for v in rec["VBDs"]}
        for d in disks:
            vbd = by_dev[d["device"]]
            vb = self.api.VBD.get_record(vbd)
            self.assertEqual(vb["VM"], vm)
            self.assertEqual(vb["type"], "Disk")
            self.assertEqual(vb["mode"], "RW")
            self.assertFalse(vb["empty"])
            self.assertEqual(vb["bootable"], d.get("bootable", "false") == "true")
            vdi = self.api.VDI.get_record(vb["VDI"])
            self.assertEqual(vdi["virtual_size"], int(d["size"]))
            self.assertEqual(vdi["SR"], d.get("sr") or default_sr)
            self.assertEqual(vdi["type"], d.get("type", "system"))
            self.assertIn(vbd, vdi["VBDs"])
            self.assertIn(vb["VDI"], self.api.SR.get_VDIs(vdi["SR"]))
        self.assertIn("start", rec["allowed_operations"])
        # the template itself is untouched
        self.assertIn("disks", self.api.VM.get_other_config(tpl))
        self.assertTrue(self.api.VM.get_is_a_template(tpl))
        self.assertEqual(self.api.VM.get_VBDs(tpl), [])

    # ---- power cycle ----

    def test_power_cycle(self):
        vm = self.install("lc-power")
        a = self.api.VM
        self.assert_state(vm, "Halted")
        a.start(vm, False, False)
        rec = self.assert_state(vm, "Running")
        self.assertIn("clean_shutdown", rec["allowed_operations"])
        self.assertNotIn("start", rec["allowed_operations"])
        self.bad_power_state(a.start, vm, "halted", "running", False, False)
        a.pause(vm)
        self.assert_state(vm, "Paused")
        self.bad_power_state(a.pause, vm, "running", "paused")
        a.unpause(vm)
        self.assert_state(vm, "Running")
        self.bad_power_state(a.unpause, vm, "paused", "running")
        a.suspend(vm)
        self.assert_state(vm, "Suspended")
        self.bad_power_state(a.suspend, vm, "running", "suspended")
        a.resume(vm, False, False)
        self.assert_state(vm, "Running")
        self.bad_power_state(a.resume, vm, "suspended", "running", False, False)
        a.clean_reboot(vm)
        self.assert_state(vm, "Running")
        a.hard_reboot(vm)
        self.assert_state(vm, "Running")
        a.clean_shutdown(vm)
        self.assert_state(vm, "Halted")
        self.bad_power_state(a.clean_shutdown, vm, "running", "halted")
        self.bad_power_state(a.hard_shutdown, vm, "paused, suspended, running", "halted")
        self.bad_power_state(a.clean_reboot, vm, "running", "halted")
        self.bad_power_state(a.hard_reboot, vm, "paused, running", "halted")
        self.bad_power_state(a.pause, vm, "running", "halted")
        self.bad_power_state(a.resume, vm, "suspended", "halted", False, False)
        a.start(vm, False, False)
        a.shutdown(vm)
        self.assert_state(vm, "Halted")
        a.start(vm, True, False)  # start_paused
        self.assert_state(vm, "Paused")
        a.hard_shutdown(vm)
        self.assert_state(vm, "Halted")

    def test_start_on_and_power_state_reset(self):
        vm = self.install("lc-start-on")
        self.api.VM.start_on(vm, self.host, False, False)
        self.assert_state(vm, "Running")
        self.api.VM.power_state_reset(vm)
        self.assert_state(vm, "Halted")

    def test_wrong_state_for_clone_copy_destroy(self):
        vm = self.install("lc-wrong")
        self.api.VM.start(vm, False, False)
        for fn, expected, args in ((self.api.VM.clone, "halted", ("nope",)),
                                   (self.api.VM.copy, "halted", ("nope", NULL_REF)),
                                   (self.api.VM.destroy, "halted, suspended", ()),
                                   (self.api.VM.provision, "halted", ())):
            with self.subTest(op=fn._name):
                self.bad_power_state(fn, vm, expected, "running", *args)
        self.assertEqual(self.api.VM.get_by_name_label("nope"), [])
        self.assert_state(vm, "Running")
        self.api.VM.hard_shutdown(vm)

    # ---- templates and handles ----

    def test_template_start_is_refused(self):
        tpl = self.template("Other install media")
        # xapi_vm_lifecycle.ml check_template: (vm_is_template, [ref; op])
        self.assertXapiError("VM_IS_TEMPLATE", self.api.VM.start, tpl, False, False, params=[tpl, "start"])
        rec = self.api.VM.get_record(tpl)
        self.assertEqual(rec["power_state"], "Halted")
        self.assertEqual(rec["current_operations"], {})

    def test_unknown_vm(self):
        bogus = "OpaqueRef:00000000-0000-0000-0000-0000000000bb"
        for fn, args in ((self.api.VM.start, (False, False)), (self.api.VM.clean_shutdown, ()),
                         (self.api.VM.hard_shutdown, ()), (self.api.VM.pause, ()), (self.api.VM.clone, ("x",)),
                         (self.api.VM.snapshot, ("x", [])), (self.api.VM.destroy, ()), (self.api.VM.provision, ())):
            with self.subTest(fn=fn._name):
                self.assertXapiError("HANDLE_INVALID", fn, bogus, *args, params=["VM", bogus])

    # ---- memory ----

    def vm_with_memory(self, name, smin, smax, dmin, dmax):
        """A halted VM with these memory limits: VM.set_memory_limits when the
        server implements it, else VM.create with the values."""
        vm = self.install(name, "Other install media")
        try:
            self.api.VM.set_memory_limits(vm, smin, smax, dmin, dmax)
            return vm, True
        except XapiError as e:
            if e.code not in ("MESSAGE_METHOD_UNKNOWN", "NOT_IMPLEMENTED"):
                raise
        self.vms.remove(vm)
        self.api.VM.destroy(vm)
        vm = self.api.VM.create({
            "name_label": name, "name_description": "", "user_version": 1, "is_a_template": False,
            "affinity": NULL_REF, "memory_static_max": smax, "memory_dynamic_max": dmax,
            "memory_dynamic_min": dmin, "memory_static_min": smin, "VCPUs_params": {}, "VCPUs_max": 1,
            "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
            "actions_after_crash": "restart", "PV_bootloader": "", "PV_kernel": "", "PV_ramdisk": "",
            "PV_args": "", "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "BIOS order",
            "HVM_boot_params": {"order": "cd"}, "platform": {"cores-per-socket": "1"}, "PCI_bus": "",
            "other_config": {}, "recommendations": "", "domain_type": "hvm"})
        self.vms.append(vm)
        return vm, False

    def test_not_enough_memory_leaves_nothing_half_done(self):
        huge = 1 << 50
        vm, via_limits = self.vm_with_memory("lc-huge", 512 << 20, huge, huge, huge)
        rec = self.api.VM.get_record(vm)
        self.assertEqual(rec["memory_static_max"], huge)
        self.assertEqual(rec["memory_dynamic_max"], huge)
        before_resident = sorted(self.api.host.get_resident_VMs(self.host))
        e = self.assertXapiError("HOST_NOT_ENOUGH_FREE_MEMORY", self.api.VM.start, vm, False, False)
        self.assertEqual(len(e.params), 2, e.params)
        needed, available = int(e.params[0]), int(e.params[1])
        self.assertGreaterEqual(needed, huge)
        self.assertLess(available, needed)
        rec = self.assert_state(vm, "Halted")
        self.assertIn("start", rec["allowed_operations"])
        self.assertEqual(rec["VBDs"], self.api.VM.get_VBDs(vm))
        self.assertEqual(sorted(self.api.host.get_resident_VMs(self.host)), before_resident)
        # the async form fails the same way and also leaves the VM alone
        task = self.srv.call("Async.VM.start", self.srv.session, vm, False, False)
        trec = self.wait_task(task)
        self.assertEqual(trec["status"], "failure")
        self.assertEqual(trec["error_info"][0], "HOST_NOT_ENOUGH_FREE_MEMORY")
        self.assert_state(vm, "Halted")
        self.assertXapiError("HOST_NOT_ENOUGH_FREE_MEMORY", self.api.VM.start_on, vm, self.host, False, False)
        self.assert_state(vm, "Halted")
        if via_limits:  # and a sane size starts
            self.api.VM.set_memory_limits(vm, 256 << 20, 512 << 20, 512 << 20, 512 << 20)
            self.api.VM.start(vm, False, False)
            self.assert_state(vm, "Running")
            self.api.VM.hard_shutdown(vm)

    def test_memory_constraint_violation(self):
        vm = self.install("lc-constraint", "Other install media")
        before = self.api.VM.get_record(vm)
        try:
            self.api.VM.set_memory_limits(vm, 2 * GiB, 1 * GiB, 1 * GiB, 1 * GiB)
            self.fail("set_memory_limits accepted static_min > static_max")
        except XapiError as e:
            if e.code not in ("MESSAGE_METHOD_UNKNOWN", "NOT_IMPLEMENTED"):
                # xapi's Vm_memory_constraints.assert_valid
                self.assertEqual(e.code, "MEMORY_CONSTRAINT_VIOLATION_ORDER")
                after = self.api.VM.get_record(vm)
                for f in ("memory_static_min", "memory_static_max", "memory_dynamic_min", "memory_dynamic_max"):
                    self.assertEqual(after[f], before[f], f)
        # xapi validates the constraints again at start (validate_basic_parameters)
        bad, _ = self.vm_with_memory("lc-constraint-2", 1 * GiB, 1 * GiB, 1 * GiB, 1 * GiB)
        if self.api.VM.get_memory_static_min(bad) == GiB:
            self.api.VM.destroy(bad)
            self.vms.remove(bad)
            bad = self.api.VM.create({
                "name_label": "lc-constraint-3", "name_description": "", "user_version": 1, "is_a_template": False,
                "affinity": NULL_REF, "memory_static_max": 1 * GiB, "memory_dynamic_max": 1 * GiB,
                "memory_dynamic_min": 1 * GiB, "memory_static_min": 2 * GiB, "VCPUs_params": {}, "VCPUs_max": 1,
                "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
                "actions_after_crash": "restart", "PV_bootloader": "", "PV_kernel": "", "PV_ramdisk": "",
                "PV_args": "", "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "BIOS order",
                "HVM_boot_params": {"order": "cd"}, "platform": {}, "PCI_bus": "", "other_config": {},
                "recommendations": "", "domain_type": "hvm"})
            self.vms.append(bad)
        self.assertXapiError("MEMORY_CONSTRAINT_VIOLATION", self.api.VM.start, bad, False, False)
        self.assert_state(bad, "Halted")

    # ---- snapshots ----

    def test_snapshot_and_revert(self):
        vm = self.install("lc-snap")
        self.api.VM.set_name_description(vm, "before")
        snap = self.api.VM.snapshot(vm, "lc-snap-1", [])
        self.vms.append(snap)
        s = self.api.VM.get_record(snap)
        self.assertTrue(s["is_a_snapshot"])
        self.assertTrue(s["is_a_template"])
        self.assertEqual(s["snapshot_of"], vm)
        self.assertEqual(s["name_label"], "lc-snap-1")
        self.assertEqual(s["power_state"], "Halted")
        self.assertNotEqual(s["snapshot_time"], "19700101T00:00:00Z")
        self.assertIn(snap, self.api.VM.get_snapshots(vm))
        vm_vdis = {self.api.VBD.get_VDI(v) for v in self.api.VM.get_VBDs(vm)}
        snap_vdis = {self.api.VBD.get_VDI(v) for v in s["VBDs"]}
        self.assertEqual(len(snap_vdis), len(vm_vdis))
        self.assertFalse(vm_vdis & snap_vdis, "snapshot shares VDIs with its VM")
        for vdi in snap_vdis:
            self.assertTrue(self.api.VDI.get_is_a_snapshot(vdi))
            self.assertIn(self.api.VDI.get_snapshot_of(vdi), vm_vdis)
        # change the VM, then revert: the fields come back, the ref stays
        self.api.VM.set_name_description(vm, "after")
        self.api.VM.add_to_other_config(vm, "lc-after", "1")
        self.api.VM.start(vm, False, False)
        self.api.VM.revert(snap)
        rec = self.assert_state(vm, "Halted")
        self.assertEqual(rec["name_description"], "before")
        self.assertNotIn("lc-after", rec["other_config"])
        self.assertIn(snap, rec["snapshots"])
        self.assertEqual(self.api.VM.get_snapshot_of(snap), vm)
        # a snapshot is a template: it cannot be started
        self.assertXapiError("VM_IS_TEMPLATE", self.api.VM.start, snap, False, False, params=[snap, "start"])

    def test_snapshot_default_ignore_vdis(self):
        # XO calls VM.snapshot(vm, name) and relies on the ignore_vdis=[] default
        vm = self.install("lc-snap-default")
        snap = self.api.VM.snapshot(vm, "lc-snap-default-1")
        self.vms.append(snap)
        self.assertEqual(self.api.VM.get_snapshot_of(snap), vm)
        self.assertEqual(len(self.api.VM.get_VBDs(snap)), len(self.api.VM.get_VBDs(vm)))

    def test_suspend_vdi(self):
        """VM.suspend makes a VDI of type suspend on the suspend SR (VM's,
        else the pool's, else the host's), VM.resume and a hard shutdown
        destroy it; with no suspend SR at all nothing changes."""
        vm = self.install("lc-suspend-vdi")
        pool = self.api.pool.get_all()[0]
        host = self.api.host.get_all()[0]
        sr = self.api.pool.get_suspend_image_SR(pool)
        self.assertNotEqual(sr, NULL_REF)
        self.api.VM.start(vm, False, False)

        def suspend_vdis():
            return [v for v in self.api.VDI.get_all() if self.api.VDI.get_type(v) == "suspend"]
        before = suspend_vdis()
        self.api.VM.suspend(vm)
        vdi = self.api.VM.get_suspend_VDI(vm)
        rec = self.api.VDI.get_record(vdi)
        self.assertEqual((rec["type"], rec["SR"], rec["name_label"]), ("suspend", sr, "Suspend image"))
        # xapi's size: static_max with 20% and 5% margins, plus 100 MiB
        # (rounded up to whole sectors by the file SR)
        need = int(int(self.api.VM.get_memory_static_max(vm)) * 1.2 * 1.05) + (100 << 20)
        self.assertEqual(int(rec["virtual_size"]), -(-need // 512) * 512)
        self.assertEqual(rec["sm_config"].get("vm_hint"), self.api.VM.get_uuid(vm))
        self.assertEqual(sorted(suspend_vdis()), sorted(before + [vdi]))
        self.api.VM.resume(vm, False, False)
        self.assertEqual(self.api.VM.get_suspend_VDI(vm), NULL_REF)
        self.assertXapiError("HANDLE_INVALID", self.api.VDI.get_record, vdi)
        self.api.VM.suspend(vm)
        vdi = self.api.VM.get_suspend_VDI(vm)
        self.api.VM.hard_shutdown(vm)
        self.assertEqual(self.api.VM.get_suspend_VDI(vm), NULL_REF)
        self.assertXapiError("HANDLE_INVALID", self.api.VDI.get_record, vdi)
        self.assertEqual(sorted(suspend_vdis()), sorted(before))

        # no suspend SR anywhere: VM_NO_SUSPEND_SR, the VM runs on
        self.api.VM.start(vm, False, False)
        self.api.pool.set_suspend_image_SR(pool, NULL_REF)
        self.api.host.set_suspend_image_sr(host, NULL_REF)
        try:
            self.assertXapiError("VM_NO_SUSPEND_SR", self.api.VM.suspend, vm, params=[vm])
            rec = self.assert_state(vm, "Running")
            self.assertEqual(rec["current_operations"], {})
            self.assertEqual(rec["suspend_VDI"], NULL_REF)
            self.assertEqual(sorted(suspend_vdis()), sorted(before))
            # VM.suspend_SR alone is enough
            self.api.VM.set_suspend_SR(vm, sr)
            self.api.VM.suspend(vm)
            self.assertEqual(self.api.VDI.get_SR(self.api.VM.get_suspend_VDI(vm)), sr)
            self.api.VM.hard_shutdown(vm)
        finally:
            self.api.pool.set_suspend_image_SR(pool, sr)
            self.api.host.set_suspend_image_sr(host, sr)
            self.api.VM.set_suspend_SR(vm, NULL_REF)

    def test_checkpoint_and_revert(self):
        vm = self.install("lc-ckpt")
        self.api.VM.start(vm, False, False)
        ck = self.api.VM.checkpoint(vm, "lc-ckpt-1")
        self.vms.append(ck)
        c = self.api.VM.get_record(ck)
        self.assertTrue(c["is_a_snapshot"])
        self.assertEqual(c["power_state"], "Suspended")
        self.assert_state(vm, "Running")
        # the memory goes into a suspend VDI of the snapshot's own
        mem = c["suspend_VDI"]
        self.assertEqual(self.api.VDI.get_type(mem), "suspend")
        self.assertEqual(self.api.VM.get_suspend_VDI(vm), NULL_REF)
        self.api.VM.hard_shutdown(vm)
        self.api.VM.revert(ck)
        self.assert_state(vm, "Suspended")
        # the VM resumes from a clone of it; the snapshot keeps its own
        clone = self.api.VM.get_suspend_VDI(vm)
        self.assertNotIn(clone, (NULL_REF, mem))
        self.assertEqual(self.api.VDI.get_type(clone), "suspend")
        self.api.VM.resume(vm, False, False)
        self.assert_state(vm, "Running")
        self.assertXapiError("HANDLE_INVALID", self.api.VDI.get_record, clone)
        self.assertEqual(self.api.VM.get_suspend_VDI(ck), mem)
        self.api.VM.hard_shutdown(vm)
        # as xapi's Xapi_vm_clone: a checkpoint of the suspended VM and a
        # clone of a suspended snapshot get their own copy of the memory, a
        # plain snapshot is Halted without one
        self.api.VM.revert(ck)
        own = self.api.VM.get_suspend_VDI(vm)
        snap = self.api.VM.snapshot(vm, "lc-snap-suspended")
        ck2 = self.api.VM.checkpoint(vm, "lc-ckpt-suspended")
        cl = self.api.VM.clone(ck, "lc-ckpt-clone")
        self.vms += [snap, ck2, cl]
        self.assertEqual(self.api.VM.get_power_state(snap), "Halted")
        self.assertEqual(self.api.VM.get_suspend_VDI(snap), NULL_REF)
        mems = [own, mem]
        for other in (ck2, cl):
            self.assertEqual(self.api.VM.get_power_state(other), "Suspended")
            m = self.api.VM.get_suspend_VDI(other)
            self.assertNotIn(m, [NULL_REF] + mems)
            self.assertEqual(self.api.VDI.get_type(m), "suspend")
            mems.append(m)
        self.api.VM.hard_shutdown(vm)
        self.assertXapiError("HANDLE_INVALID", self.api.VDI.get_record, own)
        # the clone (a template, as a snapshot's clone is) resumes from its own copy
        self.api.VM.set_is_a_template(cl, False)
        self.api.VM.resume(cl, False, False)
        self.assert_state(cl, "Running")
        self.assertXapiError("HANDLE_INVALID", self.api.VDI.get_record, mems[3])
        self.api.VM.hard_shutdown(cl)
        self.api.VDI.destroy(mems[2])
        # a VM that lost its suspend VDI: xapi halts it on resume
        self.api.VM.revert(ck)
        self.api.VDI.destroy(self.api.VM.get_suspend_VDI(vm))
        self.assertEqual(self.api.VM.get_suspend_VDI(vm), NULL_REF)
        self.assertXapiError("VM_HAS_NO_SUSPEND_VDI", self.api.VM.resume, vm, False, False,
                             params=["VM", vm])
        self.assert_state(vm, "Halted")
        self.assertEqual(self.api.VM.get_current_operations(vm), {})
        self.api.VDI.destroy(mem)

    def test_checkpoint_needs_a_live_vm(self):
        vm = self.install("lc-ckpt-halted")
        self.bad_power_state(self.api.VM.checkpoint, vm, "paused, suspended, running", "halted", "x")
        self.assertEqual(self.api.VM.get_snapshots(vm), [])

    # ---- copy / clone / destroy ----

    def test_copy_and_clone(self):
        vm = self.install("lc-copy")
        sr = self.api.SR.get_by_name_label("Local storage")[0]
        cp = self.api.VM.copy(vm, "lc-copy-2", sr)
        self.vms.append(cp)
        cl = self.api.VM.clone(vm, "lc-clone-2")
        self.vms.append(cl)
        orig_vdis = {self.api.VBD.get_VDI(v) for v in self.api.VM.get_VBDs(vm)}
        for other in (cp, cl):
            rec = self.api.VM.get_record(other)
            self.assertFalse(rec["is_a_template"])
            self.assertEqual(rec["power_state"], "Halted")
            vdis = {self.api.VBD.get_VDI(v) for v in rec["VBDs"]}
            self.assertEqual(len(vdis), len(orig_vdis))
            self.assertFalse(vdis & orig_vdis)
        self.api.VM.start(cp, False, False)
        self.assert_state(cp, "Running")
        self.api.VM.hard_shutdown(cp)

    def vif(self, vm, device, mac=""):
        net = self.api.network.get_all()[0]
        return self.api.VIF.create({"device": device, "network": net, "VM": vm, "MAC": mac, "MTU": 1500,
                                    "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})

    def test_clone_and_copy_get_fresh_mac_seeds(self):
        # xapi's Xapi_vm_clone: a clone or copy gets a new random mac_seed (an
        # empty MAC is derived from it), its VIFs new MACs; a snapshot keeps both
        tpl = self.template("Other install media")
        tpl_seed = self.api.VM.get_other_config(tpl).get("mac_seed")
        vm = self.api.VM.clone(tpl, "lc-mac")
        self.vms.append(vm)
        seed = self.api.VM.get_other_config(vm).get("mac_seed")
        self.assertRegex(seed or "", harness.UUID_RE, "a clone has a mac_seed")
        self.assertNotEqual(seed, tpl_seed)
        mac_re = r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"
        v0 = self.vif(vm, "0")
        self.assertRegex(self.api.VIF.get_MAC(v0), mac_re)
        self.assertTrue(self.api.VIF.get_MAC_autogenerated(v0))
        self.api.VM.provision(vm)
        v1 = self.vif(vm, "1")
        self.assertRegex(self.api.VIF.get_MAC(v1), mac_re)
        macs = {self.api.VIF.get_MAC(v) for v in (v0, v1)}
        self.assertEqual(len(macs), 2)
        for kind in ("clone", "copy"):
            other = (self.api.VM.clone(vm, "lc-mac-clone") if kind == "clone"
                     else self.api.VM.copy(vm, "lc-mac-copy", NULL_REF))
            self.vms.append(other)
            oseed = self.api.VM.get_other_config(other).get("mac_seed")
            self.assertRegex(oseed or "", harness.UUID_RE, kind)
            self.assertNotIn(oseed, (seed, tpl_seed), kind)
            omacs = {self.api.VIF.get_MAC(v) for v in self.api.VM.get_VIFs(other)}
            self.assertEqual(len(omacs), 2, kind)
            self.assertFalse(omacs & macs, "a %s's VIFs keep the source's MACs" % kind)
            self.assertRegex(self.api.VIF.get_MAC(self.vif(other, "2")), mac_re, kind)
        snap = self.api.VM.snapshot(vm, "lc-mac-snap")
        self.vms.append(snap)
        self.assertEqual(self.api.VM.get_other_config(snap).get("mac_seed"), seed)
        self.assertEqual({self.api.VIF.get_MAC(v) for v in self.api.VM.get_VIFs(snap)}, macs)

    def test_install_time(self):
        # xapi: VM.create writes the epoch, a clone copies the source's
        # install_time, VM.set_is_a_template false (provision's last step) is
        # the install: now
        def install_time(vm):
            t = self.api.VM_metrics.get_install_time(self.api.VM.get_metrics(vm))
            return calendar.timegm(time.strptime(t, "%Y%m%dT%H:%M:%SZ"))

        tpl = self.template("Other install media")
        vm = self.api.VM.clone(tpl, "lc-installed")
        self.vms.append(vm)
        self.assertEqual(install_time(vm), install_time(tpl))
        self.api.VM.provision(vm)
        self.assertLess(abs(install_time(vm) - time.time()), 5)
        other = self.api.VM.clone(tpl, "lc-installed-2")
        self.vms.append(other)
        self.api.VM.set_is_a_template(other, False)
        self.assertFalse(self.api.VM.get_is_a_template(other))
        self.assertLess(abs(install_time(other) - time.time()), 5)
        self.assertIn("start", self.api.VM.get_allowed_operations(other))
        mem = 256 << 20
        created = self.api.VM.create({
            "name_label": "lc-created", "name_description": "", "user_version": 1, "is_a_template": False,
            "affinity": NULL_REF, "memory_static_max": mem, "memory_dynamic_max": mem,
            "memory_dynamic_min": mem, "memory_static_min": mem, "VCPUs_params": {}, "VCPUs_max": 1,
            "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy", "actions_after_reboot": "restart",
            "actions_after_crash": "restart", "PV_bootloader": "", "PV_kernel": "", "PV_ramdisk": "",
            "PV_args": "", "PV_bootloader_args": "", "PV_legacy_args": "", "HVM_boot_policy": "BIOS order",
            "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
            "recommendations": "", "domain_type": "hvm"})
        self.vms.append(created)
        self.assertEqual(install_time(created), 0)
        self.assertXapiError("HANDLE_INVALID", self.api.VM.set_is_a_template, "OpaqueRef:nope", False,
                             params=["VM", "OpaqueRef:nope"])

    def test_allowed_devices(self):
        # xapi_vm_helpers.ml allowed_VBD_devices / allowed_VIF_devices:
        # 0..254 and 0..15, less the devices the VM's VBDs and VIFs hold
        vm = self.install("lc-devices")
        used = sorted(int(self.api.VBD.get_userdevice(v)) for v in self.api.VM.get_VBDs(vm))
        self.assertEqual(self.api.VM.get_allowed_VBD_devices(vm),
                         [str(n) for n in range(255) if n not in used])
        vdi = self.api.VBD.get_VDI(self.api.VM.get_VBDs(vm)[0])
        sr = self.api.VDI.get_SR(vdi)
        for dev in ("3", "7"):
            d = self.api.VDI.create({"name_label": "lc-dev", "SR": sr, "virtual_size": 1 << 20, "type": "user",
                                     "sharable": False, "read_only": False, "other_config": {}})
            self.api.VBD.create({"VM": vm, "VDI": d, "userdevice": dev, "bootable": False, "mode": "RW",
                                 "type": "Disk", "empty": False, "other_config": {},
                                 "qos_algorithm_type": "", "qos_algorithm_params": {}})
        used += [3, 7]
        self.assertEqual(self.api.VM.get_allowed_VBD_devices(vm),
                         [str(n) for n in range(255) if n not in used])
        self.assertEqual(self.api.VM.get_allowed_VIF_devices(vm), [str(n) for n in range(16)])
        self.vif(vm, "0")
        self.vif(vm, "5")
        self.assertEqual(self.api.VM.get_allowed_VIF_devices(vm),
                         [str(n) for n in range(16) if n not in (0, 5)])
        if os.path.exists(harness.XE):
            p = self.srv.xe("vm-param-get", "uuid=" + self.api.VM.get_uuid(vm), "param-name=allowed-VIF-devices")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.strip(), "; ".join(str(n) for n in range(16) if n not in (0, 5)))
        for n in range(16):
            if n not in (0, 5):
                self.vif(vm, str(n))
        self.assertEqual(self.api.VM.get_allowed_VIF_devices(vm), [])
        for n in self.api.VM.get_allowed_VBD_devices(vm):
            self.api.VBD.create({"VM": vm, "VDI": NULL_REF, "userdevice": n, "bootable": False, "mode": "RO",
                                 "type": "CD", "empty": True, "other_config": {},
                                 "qos_algorithm_type": "", "qos_algorithm_params": {}})
        self.assertEqual(self.api.VM.get_allowed_VBD_devices(vm), [])
        for m in ("get_allowed_VBD_devices", "get_allowed_VIF_devices"):
            self.assertXapiError("HANDLE_INVALID", getattr(self.api.VM, m), "OpaqueRef:nope",
                                 params=["VM", "OpaqueRef:nope"])

    def test_destroy(self):
        vm = self.install("lc-destroy")
        vbds = self.api.VM.get_VBDs(vm)
        vdis = [self.api.VBD.get_VDI(v) for v in vbds]
        self.assertTrue(vbds)
        self.api.VM.destroy(vm)
        self.vms.remove(vm)
        self.assertXapiError("HANDLE_INVALID", self.api.VM.get_record, vm, params=["VM", vm])
        for vbd in vbds:
            self.assertXapiError("HANDLE_INVALID", self.api.VBD.get_record, vbd, params=["VBD", vbd])
        # xapi's VM.destroy leaves the VDIs (xe vm-uninstall destroys them)
        for vdi in vdis:
            self.assertEqual(self.api.VDI.get_VBDs(vdi), [])
            self.api.VDI.destroy(vdi)

    def test_events_follow_power_state(self):
        vm = self.install("lc-events")
        token = getattr(self.api.event, "from")(["vm"], "", 0.0)["token"]
        self.api.VM.start(vm, False, False)
        res = getattr(self.api.event, "from")(["vm/" + vm], token, 5.0)
        snaps = [e["snapshot"] for e in res["events"] if e["ref"] == vm]
        self.assertTrue(snaps)
        self.assertEqual(snaps[-1]["power_state"], "Running")
        self.assertEqual(snaps[-1]["resident_on"], self.host)
        self.api.VM.hard_shutdown(vm)


if __name__ == "__main__":
    harness.main()
