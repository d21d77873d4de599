"""The smaller calls of host maintenance and HA, as xapi answers them, on one
host (sim backend) and on a pool of two lab hosts:
VM.assert_agile (disks on properly shared SRs, VIFs on networks every host
has a PIF on), pool.ha_compute_vm_failover_plan (the failover plan's
placement for given failed hosts and VMs), host.assert_can_evacuate (the
reasons host.evacuate checks, all of them in CANNOT_EVACUATE_HOST),
host.set_power_on_mode and host.power_on (refusals; no power-on plugin
here), pool.enable_redo_log / disable_redo_log (the database kept in a VDI
on the SR, read back through VDI.open_database), VM.restart_device_models
(a new domain for a running VM, the records following it), and
host.declare_dead: refused for a live host, then a killed member's VMs
recorded Halted (a protected one restarted on the master, HA being on) and
the member disabled."""

import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import lab  # noqa: E402
from harness import NULL_REF, XapiError, MiB  # noqa: E402


def vm_record(name, mem=64 * MiB):
    return {
        "name_label": name, "name_description": "", "user_version": 1, "is_a_template": False,
        "affinity": NULL_REF, "memory_static_max": mem, "memory_dynamic_max": mem,
        "memory_dynamic_min": mem, "memory_static_min": mem, "VCPUs_params": {},
        "VCPUs_max": 1, "VCPUs_at_startup": 1, "actions_after_shutdown": "destroy",
        "actions_after_reboot": "restart", "actions_after_crash": "destroy",
        "PV_bootloader": "", "PV_kernel": "", "PV_ramdisk": "", "PV_args": "", "PV_bootloader_args": "",
        "PV_legacy_args": "", "HVM_boot_policy": "BIOS order", "HVM_boot_params": {"order": "c"},
        "platform": {}, "PCI_bus": "", "other_config": {}, "recommendations": "", "domain_type": "hvm"}


def add_disk(api, vm, sr, dev="0"):
    vdi = api.VDI.create({"SR": sr, "virtual_size": str(MiB), "type": "user", "name_label": "d" + dev,
                          "sharable": False, "read_only": False, "other_config": {}})
    api.VBD.create({"VM": vm, "VDI": vdi, "userdevice": dev, "bootable": False, "mode": "RW", "type": "Disk",
                    "unpluggable": True, "empty": False, "other_config": {}, "qos_algorithm_type": "",
                    "qos_algorithm_params": {}})
    return vdi


def add_vif(api, vm, net, dev="0"):
    return api.VIF.create({"device": dev, "network": net, "VM": vm, "MAC": "", "MTU": 1500,
                           "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})


class HaCallsOneHost(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        api = cls.api
        cls.host = api.host.get_all()[0]
        cls.pool = api.pool.get_all()[0]
        cls.local_sr = api.pool.get_default_SR(cls.pool)
        cls.shared_dir = tempfile.mkdtemp(prefix="xenon-it-shared-")
        cls.shared_sr = api.SR.create(cls.host, {"path": cls.shared_dir}, "0", "shared", "", "file", "user",
                                      True, {})
        cls.pif_net = [n for n in api.network.get_all() if api.network.get_PIFs(n)][0]

    def setUp(self):
        super().setUp()
        self.vms = []

    def tearDown(self):
        for vm in self.vms:
            self.destroy_vm(vm)

    def vm(self, name, mem=64 * MiB):
        vm = self.api.VM.create(vm_record(name, mem))
        self.vms.append(vm)
        return vm

    # ---- VM.assert_agile ----

    def test_assert_agile(self):
        api = self.api
        vm = self.vm("agile")
        api.VM.assert_agile(vm)  # nothing to hold it
        add_disk(api, vm, self.shared_sr)
        add_vif(api, vm, self.pif_net)
        api.VM.assert_agile(vm)  # a shared SR, a network with this host's PIF
        # an empty CD drive does not count
        api.VBD.create({"VM": vm, "VDI": NULL_REF, "userdevice": "3", "bootable": False, "mode": "RO",
                        "type": "CD", "empty": True, "other_config": {}, "qos_algorithm_type": "",
                        "qos_algorithm_params": {}})
        api.VM.assert_agile(vm)

        local = self.vm("local-disk")
        add_disk(api, local, self.local_sr)
        self.assertXapiError("HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED", api.VM.assert_agile, local,
                             params=[self.local_sr])

        internal = api.network.create({"name_label": "internal", "other_config": {}})
        self.addCleanup(api.network.destroy, internal)
        inet = self.vm("internal-net")
        add_disk(api, inet, self.shared_sr)
        vif = add_vif(api, inet, internal)
        self.assertXapiError("HA_CONSTRAINT_VIOLATION_NETWORK_NOT_SHARED", api.VM.assert_agile, inet,
                             params=[internal])
        api.VIF.destroy(vif)
        api.VM.assert_agile(inet)

        # a shared SR this host has unplugged is not properly shared
        pbd = api.SR.get_PBDs(self.shared_sr)[0]
        api.PBD.unplug(pbd)
        try:
            self.assertXapiError("HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED", api.VM.assert_agile, vm,
                                 params=[self.shared_sr])
            # a disabled host does not count
            api.host.disable(self.host)
            try:
                api.VM.assert_agile(vm)
            finally:
                api.host.enable(self.host)
        finally:
            api.PBD.plug(pbd)
        api.VM.assert_agile(vm)

        self.assertXapiError("HANDLE_INVALID", api.VM.assert_agile, NULL_REF)
        r = self.srv.xe("vm-list", "uuid=" + api.VM.get_uuid(vm), minimal=True)
        self.assertEqual(r.stdout.strip(), api.VM.get_uuid(vm))

    # ---- pool.ha_compute_vm_failover_plan ----

    def free(self):
        """The host's room as the plan counts it: its memory less its own
        overhead and what its running VMs take."""
        api = self.api
        f = int(api.host_metrics.get_memory_total(api.host.get_metrics(self.host)))
        f -= int(api.host.get_memory_overhead(self.host))
        for vm, r in api.VM.get_all_records().items():
            if not r["is_control_domain"] and r["power_state"] in ("Running", "Paused") and \
                    r["resident_on"] == self.host:
                f -= int(r["memory_dynamic_max"]) + int(r["memory_overhead"])
        return f

    def test_failover_plan(self):
        api = self.api
        running = self.vm("running")
        add_disk(api, running, self.shared_sr)
        api.VM.start(running, False, False)
        halted = self.vm("halted")
        local = self.vm("local")
        add_disk(api, local, self.local_sr)

        plan = api.pool.ha_compute_vm_failover_plan([], [running, halted, local])
        self.assertEqual(plan, {running: {"host": self.host}, halted: {"host": self.host},
                                local: {"error_code": "HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED"}})
        # this host failed: nowhere to go
        plan = api.pool.ha_compute_vm_failover_plan([self.host], [running, local])
        self.assertEqual(plan, {running: {"error_code": "HOST_NOT_ENOUGH_FREE_MEMORY"},
                                local: {"error_code": "HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED"}})
        self.assertEqual(api.pool.ha_compute_vm_failover_plan([], []), {})

        # largest first: of two that do not fit together, the larger is placed
        room = self.free()
        big, small = self.vm("big"), self.vm("small")
        for vm, share in ((big, 0.6), (small, 0.5)):
            m = str(int(room * share) // MiB * MiB)
            api.VM.set_memory_limits(vm, m, m, m, m)
        need = {vm: int(api.VM.get_memory_dynamic_max(vm)) + int(api.VM.get_memory_overhead(vm))
                for vm in (big, small)}
        self.assertGreater(need[big] + need[small], room)
        self.assertLessEqual(need[big], room)
        plan = api.pool.ha_compute_vm_failover_plan([], [small, big])
        self.assertEqual(plan, {big: {"host": self.host}, small: {"error_code": "HOST_NOT_ENOUGH_FREE_MEMORY"}})
        plan = api.pool.ha_compute_vm_failover_plan([], [small])
        self.assertEqual(plan, {small: {"host": self.host}})

        self.assertXapiError("HANDLE_INVALID", api.pool.ha_compute_vm_failover_plan, [NULL_REF], [running])
        self.assertXapiError("HANDLE_INVALID", api.pool.ha_compute_vm_failover_plan, [], [running, NULL_REF])

    # ---- host.assert_can_evacuate ----

    def test_assert_can_evacuate(self):
        api = self.api
        api.host.assert_can_evacuate(self.host)  # nothing runs here
        a, b = self.vm("ev-a"), self.vm("ev-b")
        for vm in (a, b):
            add_disk(api, vm, self.shared_sr)
            api.VM.start(vm, False, False)
        why = api.host.get_vms_which_prevent_evacuation(self.host)
        self.assertEqual(set(why), {a, b})
        self.assertEqual(why[a][0], "VM_MIGRATE_FAILED")  # no other host in the pool
        e = self.assertXapiError("CANNOT_EVACUATE_HOST", api.host.assert_can_evacuate, self.host)
        self.assertEqual(len(e.params), 1)
        self.assertEqual(sorted(e.params[0].split("|")), sorted(",".join(v) for v in why.values()))
        # host.evacuate: the same check, the first reason raised
        e = self.assertXapiError("VM_MIGRATE_FAILED", api.host.evacuate, self.host, NULL_REF, "0")
        self.assertIn(e.params[0], (a, b))
        for vm in (a, b):
            self.assertEqual(api.VM.get_power_state(vm), "Running")
            self.assertEqual(api.VM.get_resident_on(vm), self.host)
        api.VM.hard_shutdown(a)
        e = self.assertXapiError("CANNOT_EVACUATE_HOST", api.host.assert_can_evacuate, self.host)
        self.assertEqual(e.params, [",".join(why[b])])
        api.VM.hard_shutdown(b)
        api.host.assert_can_evacuate(self.host)
        self.assertXapiError("HANDLE_INVALID", api.host.assert_can_evacuate, NULL_REF)

    # ---- host.set_power_on_mode, host.power_on ----

    def test_power_on_mode(self):
        api = self.api
        self.addCleanup(api.host.set_power_on_mode, self.host, "", {})
        self.assertEqual(api.host.get_power_on_mode(self.host), "")
        self.assertXapiError("HOST_IS_LIVE", api.host.power_on, self.host, params=[self.host])
        api.host.set_power_on_mode(self.host, "wake-on-lan", {})
        self.assertEqual(api.host.get_power_on_mode(self.host), "wake-on-lan")
        self.assertEqual(api.host.get_power_on_config(self.host), {})
        # still live: still refused
        self.assertXapiError("HOST_IS_LIVE", api.host.power_on, self.host, params=[self.host])

        # the old configuration's password secret goes when replaced...
        s1 = api.secret.create({"value": "pw1", "other_config": {}})
        u1 = api.secret.get_uuid(s1)
        api.host.set_power_on_mode(self.host, "IPMI", {"power_on_ip": "10.0.0.9", "power_on_password_secret": u1})
        self.assertEqual(api.host.get_power_on_config(self.host),
                         {"power_on_ip": "10.0.0.9", "power_on_password_secret": u1})
        # ...but not while the new one names it too
        api.host.set_power_on_mode(self.host, "IPMI", {"power_on_ip": "10.0.0.8", "power_on_password_secret": u1})
        self.assertEqual(api.secret.get_value(s1), "pw1")
        api.host.set_power_on_mode(self.host, "DRAC", {"power_on_ip": "10.0.0.7"})
        self.assertXapiError("HANDLE_INVALID", api.secret.get_value, s1)

        # xe host-set-power-on-mode with power-on-config:
        uuid = api.host.get_uuid(self.host)
        r = self.srv.xe("host-set-power-on-mode", "uuid=" + uuid, "power-on-mode=iLO",
                        "power-on-config:power_on_ip=192.0.2.1", "power-on-config:power_on_user=admin")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(api.host.get_power_on_mode(self.host), "iLO")
        self.assertEqual(api.host.get_power_on_config(self.host),
                         {"power_on_ip": "192.0.2.1", "power_on_user": "admin"})
        r = self.srv.xe("host-power-on", "uuid=" + uuid)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("HOST_IS_LIVE", r.stdout + r.stderr)
        self.assertXapiError("HANDLE_INVALID", api.host.set_power_on_mode, NULL_REF, "", {})
        self.assertXapiError("HANDLE_INVALID", api.host.power_on, NULL_REF)

    # ---- pool.enable_redo_log, disable_redo_log ----

    def copy_label(self, vdi):
        """The pool's name in the database the VDI holds."""
        s = self.api.VDI.open_database(vdi)
        try:
            copy = self.srv.api_for(s)
            return copy.pool.get_name_label(copy.pool.get_all()[0])
        finally:
            try:
                self.srv.call("session.logout", s)
            except XapiError:
                pass

    def test_redo_log(self):
        api = self.api
        self.addCleanup(api.pool.disable_redo_log)
        label = api.pool.get_name_label(self.pool)
        self.addCleanup(api.pool.set_name_label, self.pool, label)
        self.assertFalse(api.pool.get_redo_log_enabled(self.pool))
        api.pool.set_name_label(self.pool, "before-redo")
        api.pool.enable_redo_log(self.shared_sr)
        self.assertTrue(api.pool.get_redo_log_enabled(self.pool))
        vdi = api.pool.get_redo_log_vdi(self.pool)
        self.assertEqual(api.VDI.get_SR(vdi), self.shared_sr)
        self.assertEqual(api.VDI.get_type(vdi), "redo_log")
        self.assertTrue(api.VDI.get_sharable(vdi))
        # the database is in it from the start, and follows changes
        self.assertEqual(api.VDI.read_database_pool_uuid(vdi), api.pool.get_uuid(self.pool))
        self.assertEqual(self.copy_label(vdi), "before-redo")
        api.pool.set_name_label(self.pool, "during-redo")
        self.wait_for(lambda: self.copy_label(vdi) == "during-redo", timeout=10, msg="the redo log updated")
        self.assertEqual(api.VDI.get_type(vdi), "redo_log")

        # disabled: the VDI stays (xapi keeps it), no longer written
        api.pool.disable_redo_log()
        self.assertFalse(api.pool.get_redo_log_enabled(self.pool))
        self.assertEqual(api.pool.get_redo_log_vdi(self.pool), vdi)
        api.pool.set_name_label(self.pool, "after-redo")
        time.sleep(2.5)
        self.assertEqual(self.copy_label(vdi), "during-redo")
        api.pool.disable_redo_log()  # again: nothing to do

        # enabled again by xe: the same VDI, written at once
        r = self.srv.xe("pool-enable-redo-log", "sr-uuid=" + api.SR.get_uuid(self.shared_sr))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(api.pool.get_redo_log_vdi(self.pool), vdi)
        self.assertEqual(self.copy_label(vdi), "after-redo")
        self.assertEqual([v for v in api.SR.get_VDIs(self.shared_sr) if api.VDI.get_type(v) == "redo_log"], [vdi])
        r = self.srv.xe("pool-disable-redo-log")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(api.pool.get_redo_log_enabled(self.pool))

        # an SR that cannot take the VDI (unplugged), one whose redo-log VDI
        # cannot be written, a bad ref: refused, nothing made, nothing changed
        sr2 = api.SR.create(self.host, {"path": tempfile.mkdtemp(prefix="xenon-it-sr2-")}, "0", "sr2", "",
                            "file", "user", True, {})
        api.PBD.unplug(api.SR.get_PBDs(sr2)[0])
        e = self.assertXapiError("CANNOT_ENABLE_REDO_LOG", api.pool.enable_redo_log, sr2)
        self.assertIn("create a VDI", e.params[0])
        self.assertEqual(api.SR.get_VDIs(sr2), [])
        pbd = api.SR.get_PBDs(self.shared_sr)[0]
        api.PBD.unplug(pbd)
        try:
            e = self.assertXapiError("CANNOT_ENABLE_REDO_LOG", api.pool.enable_redo_log, self.shared_sr)
            self.assertIn("write", e.params[0])
        finally:
            api.PBD.plug(pbd)
        self.assertEqual(api.VDI.get_type(vdi), "redo_log")  # not made by the call: it stays
        self.assertXapiError("HANDLE_INVALID", api.pool.enable_redo_log, NULL_REF)
        self.assertFalse(api.pool.get_redo_log_enabled(self.pool))
        self.assertEqual(api.pool.get_redo_log_vdi(self.pool), vdi)

    # ---- VM.restart_device_models ----

    def test_restart_device_models(self):
        """The simulated domain gets a new domid; the records follow as for
        a migration to the same host (the QEMU side: test_restart_dm)."""
        api = self.api
        vm = self.vm("dm")
        vdi = add_disk(api, vm, self.shared_sr)
        vif = add_vif(api, vm, self.pif_net)
        self.assertXapiError("VM_BAD_POWER_STATE", api.VM.restart_device_models, vm,
                             params=[vm, "Running", "Halted"])
        api.VM.start(vm, False, False)
        domid = api.VM.get_domid(vm)
        consoles = sorted(api.VM.get_consoles(vm))
        self.assertTrue(consoles)
        api.VM.restart_device_models(vm)
        self.assertEqual(api.VM.get_power_state(vm), "Running")
        self.assertEqual(api.VM.get_resident_on(vm), self.host)
        new = api.VM.get_domid(vm)
        self.assertNotEqual(new, domid, "a new domain")
        self.assertNotIn(new, [api.VM.get_domid(o) for o in api.VM.get_all() if o != vm])
        self.assertEqual(api.VM.get_current_operations(vm), {})
        self.assertIn("pool_migrate", api.VM.get_allowed_operations(vm))
        self.assertEqual(sorted(api.VM.get_consoles(vm)), consoles, "the consoles stay the VM's")
        vbd = api.VDI.get_VBDs(vdi)[0]
        self.assertTrue(api.VBD.get_currently_attached(vbd))
        self.assertTrue(api.VIF.get_currently_attached(vif))
        # again, as an async task
        task = api.Async.VM.restart_device_models(vm)
        self.wait_for(lambda: api.task.get_status(task) != "pending", 10, msg="the task ends")
        self.assertEqual(api.task.get_status(task), "success")
        self.assertNotIn(api.VM.get_domid(vm), (domid, new))
        # a blocked migration blocks it (it is one, as in xapi)
        api.VM.set_blocked_operations(vm, {"pool_migrate": "no moving"})
        d = api.VM.get_domid(vm)
        self.assertXapiError("OPERATION_BLOCKED", api.VM.restart_device_models, vm)
        self.assertEqual(api.VM.get_domid(vm), d)
        api.VM.set_blocked_operations(vm, {})
        api.VM.pause(vm)
        self.assertXapiError("VM_BAD_POWER_STATE", api.VM.restart_device_models, vm,
                             params=[vm, "Running", "Paused"])
        api.VM.unpause(vm)
        # room for a second copy of its memory while it moves
        free = int(api.host.compute_free_memory(self.host))
        big = self.vm("dm-big", mem=(free // 2 + 256 * MiB) // MiB * MiB)
        api.VM.start(big, False, False)
        d = api.VM.get_domid(big)
        self.assertXapiError("HOST_NOT_ENOUGH_FREE_MEMORY", api.VM.restart_device_models, big)
        self.assertEqual((api.VM.get_domid(big), api.VM.get_power_state(big)), (d, "Running"))
        self.assertEqual(api.VM.get_current_operations(big), {})
        api.VM.hard_shutdown(big)
        tpl = self.vm("dm-template")
        api.VM.set_is_a_template(tpl, True)
        self.assertXapiError("VM_IS_TEMPLATE", api.VM.restart_device_models, tpl, params=[tpl])
        self.assertXapiError("HANDLE_INVALID", api.VM.restart_device_models, NULL_REF)
        api.VM.hard_shutdown(vm)

    # ---- host.declare_dead on one host ----

    def test_declare_dead_self(self):
        api = self.api
        self.assertXapiError("HOST_IS_LIVE", api.host.declare_dead, self.host, params=[self.host])
        self.assertTrue(api.host.get_enabled(self.host))
        self.assertXapiError("HANDLE_INVALID", api.host.declare_dead, NULL_REF)
        r = self.srv.xe("host-declare-dead", "uuid=" + api.host.get_uuid(self.host), "force=true")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("HOST_IS_LIVE", r.stdout + r.stderr)


class DeclareDeadPool(unittest.TestCase):
    """A pool of two lab hosts (sim backend): host2 killed, then declared
    dead."""

    assertXapiError = harness.ServerTestCase.assertXapiError

    def test_declare_dead(self):
        with lab.Lab(2) as l:
            for h in l.hosts:
                h.start()
            h1, h2 = l.hosts
            r = h2.server.xe("pool-join", "master-address=" + h1.address, "master-username=root",
                             "master-password=" + h1.server.password)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            api = h1.server.api
            deadline = time.monotonic() + 30
            while len(api.host.get_all()) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            ref = {api.host.get_address(x): x for x in api.host.get_all()}
            r1, r2 = ref[h1.address], ref[h2.address]
            live = lambda x: api.host_metrics.get_live(api.host.get_metrics(x))  # noqa: E731
            while not (live(r1) and live(r2)) and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertTrue(live(r2))

            vm = api.VM.create(vm_record("on-h2"))
            other = api.VM.create(vm_record("on-h1"))
            api.VM.start_on(vm, r2, False, False)
            api.VM.start_on(other, r1, False, False)
            self.assertEqual(api.VM.get_resident_on(vm), r2)

            # HA on (statefile on a shared SR both hosts see) and a protected
            # VM on host2 beside the unprotected one
            shared = tempfile.mkdtemp(prefix="xenon-it-ha-")
            sr = api.SR.create(r1, {"path": shared}, "0", "ha-shared", "", "file", "user", True, {})
            api.pool.enable_ha([sr], {"timeout": "30"})
            pool = api.pool.get_all()[0]
            prot = api.VM.create(vm_record("protected-on-h2"))
            api.VM.set_ha_restart_priority(prot, "restart")
            api.VM.start_on(prot, r2, False, False)

            # a plan for one failure: both hosts have room for the other's
            # protected VM
            api.pool.set_ha_host_failures_to_tolerate(pool, 1)
            self.assertEqual(api.pool.get_ha_plan_exists_for(pool), 1)
            self.assertFalse(api.pool.get_ha_overcommitted(pool))

            # the failover plan with host2 failed: its VM to host1
            self.assertEqual(api.pool.ha_compute_vm_failover_plan([r2], [vm]), {vm: {"host": r1}})
            self.assertEqual(api.pool.ha_compute_vm_failover_plan([r1, r2], [vm]),
                             {vm: {"error_code": "HOST_NOT_ENOUGH_FREE_MEMORY"}})

            # host2 answers: not dead
            h2uuid = api.host.get_uuid(r2)
            self.assertXapiError("HOST_IS_LIVE", api.host.declare_dead, r2, params=[r2])
            self.assertEqual(api.VM.get_power_state(vm), "Running")
            self.assertTrue(api.host.get_enabled(r2))
            self.assertXapiError("HOST_IS_LIVE", api.host.power_on, r2, params=[r2])

            # host2 dies (its daemon killed); xe asks first, and "no" changes nothing
            h2.server.kill9()
            r = h1.server.xe("host-declare-dead", "uuid=" + h2uuid, input="no\n")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("WARNING", r.stdout)
            self.assertEqual(api.VM.get_power_state(vm), "Running")
            self.assertTrue(api.host.get_enabled(r2))
            t0 = time.monotonic()
            r = h1.server.xe("host-declare-dead", "uuid=" + h2uuid, input="yes\n")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertLess(time.monotonic() - t0, 20)
            self.assertEqual(api.VM.get_power_state(vm), "Halted")
            self.assertEqual(api.VM.get_resident_on(vm), NULL_REF)
            self.assertEqual(api.VM.get_current_operations(vm), {})
            self.assertIn("start", api.VM.get_allowed_operations(vm))
            self.assertFalse(api.host.get_enabled(r2))
            self.assertFalse(live(r2))
            # the protected VM restarts on host1 (HA is on), not waiting for
            # HA's own timeout
            while api.VM.get_power_state(prot) != "Running" and time.monotonic() - t0 < 15:
                time.sleep(0.1)
            self.assertEqual(api.VM.get_power_state(prot), "Running")
            self.assertEqual(api.VM.get_resident_on(prot), r1)
            # host1 alone can survive no failure: the master records it by
            # itself (no call made), with xapi's two alerts on the pool
            while api.pool.get_ha_plan_exists_for(pool) != 0 and time.monotonic() - t0 < 20:
                time.sleep(0.2)
            self.assertEqual(api.pool.get_ha_plan_exists_for(pool), 0)
            self.assertTrue(api.pool.get_ha_overcommitted(pool))
            pool_uuid = api.pool.get_uuid(pool)
            alerts = {m["name"]: m for m in api.message.get_all_records().values() if m["obj_uuid"] == pool_uuid}
            self.assertEqual(alerts["HA_POOL_DROP_IN_PLAN_EXISTS_FOR"]["body"], "0")
            self.assertEqual(int(alerts["HA_POOL_DROP_IN_PLAN_EXISTS_FOR"]["priority"]), 3)
            self.assertIn("HA_POOL_OVERCOMMITTED", alerts)
            self.assertEqual(alerts["HA_POOL_OVERCOMMITTED"]["cls"], "Pool")
            # host1's VM is untouched
            self.assertEqual(api.VM.get_power_state(other), "Running")
            self.assertEqual(api.VM.get_resident_on(other), r1)
            # the dead host's VM starts on host1
            api.VM.start(vm, False, False)
            self.assertEqual(api.VM.get_resident_on(vm), r1)

            # power_on of the dead host: no mode, then no plugin
            self.assertXapiError("HOST_POWER_ON_MODE_DISABLED", api.host.power_on, r2, params=[])
            api.host.set_power_on_mode(r2, "wake-on-lan", {})
            self.assertXapiError("XENAPI_MISSING_PLUGIN", api.host.power_on, r2, params=["power-on-host"])
            # declared dead again: nothing more to do
            api.host.declare_dead(r2)
            for x in (vm, other, prot):
                self.assertEqual(api.VM.get_resident_on(x), r1)
                api.VM.hard_shutdown(x)
            api.pool.disable_ha()


if __name__ == "__main__":
    harness.main()
