"""Storage that exists already, recorded again: an SR forgotten and then
introduced (SR.introduce, PBD.create, PBD.plug) gets its VDIs back with
their uuids; VDI.introduce of an image the SR holds; VBD.assert_attachable
with xapi's sharing checks; SR.probe_ext as xapi answers for SR types whose
probe is XML."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class SrIntroduce(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.host = cls.api.host.get_all()[0]
        cls.tmp = tempfile.mkdtemp(prefix="xenon-sr-intro-")

    def vdi(self, sr, name, size=harness.MiB):
        return self.api.VDI.create({"SR": sr, "virtual_size": str(size), "type": "user", "name_label": name,
                                    "sharable": False, "read_only": False, "other_config": {}})

    def test_forget_then_introduce_brings_vdis_back(self):
        d = os.path.join(self.tmp, "a")
        os.mkdir(d)
        sr = self.api.SR.create(self.host, {"path": d}, "0", "intro", "", "ext", "user", False, {})
        sr_uuid = self.api.SR.get_uuid(sr)
        v1, v2 = self.vdi(sr, "one"), self.vdi(sr, "two", 2 * harness.MiB)
        want = {self.api.VDI.get_uuid(v): int(self.api.VDI.get_virtual_size(v)) for v in (v1, v2)}
        pbd = self.api.SR.get_PBDs(sr)[0]
        self.api.PBD.unplug(pbd)
        self.api.SR.forget(sr)
        self.assertXapiError("UUID_INVALID", self.api.SR.get_by_uuid, sr_uuid)
        for u in want:
            self.assertXapiError("UUID_INVALID", self.api.VDI.get_by_uuid, u)

        self.assertXapiError("SR_UNKNOWN_DRIVER", self.api.SR.introduce, sr_uuid, "x", "", "nosuch", "", False, {})
        sr2 = self.api.SR.introduce(sr_uuid, "intro again", "back", "EXT", "user", False, {})
        self.assertEqual(self.api.SR.get_type(sr2), "ext")
        self.assertEqual(self.api.SR.get_PBDs(sr2), [])
        self.assertXapiError("SR_UUID_EXISTS", self.api.SR.introduce, sr_uuid, "x", "", "ext", "", False, {},
                             params=[sr_uuid])
        pbd2 = self.api.PBD.create({"host": self.host, "SR": sr2, "device_config": {"path": d},
                                    "other_config": {}})
        self.api.PBD.plug(pbd2)
        got = {self.api.VDI.get_uuid(v): int(self.api.VDI.get_virtual_size(v))
               for v in self.api.SR.get_VDIs(sr2) if self.api.VDI.get_managed(v)}
        self.assertEqual(got, want)

        # VDI.introduce: a record again for an image forgotten
        v = self.api.VDI.get_by_uuid(sorted(want)[0])
        loc = self.api.VDI.get_location(v)
        self.api.VDI.forget(v)
        self.assertXapiError("VDI_LOCATION_MISSING", self.api.VDI.introduce, "", "x", "", sr2, "user", False,
                             False, {}, "no-such-image", {}, {}, True, "0", "0", harness.NULL_REF, False,
                             "19700101T00:00:00Z", harness.NULL_REF)
        back = self.api.VDI.introduce(sorted(want)[0], "reintroduced", "", sr2, "user", False, False, {}, loc,
                                      {}, {}, True, "0", "0", harness.NULL_REF, False,
                                      "19700101T00:00:00Z", harness.NULL_REF)
        self.assertEqual(self.api.VDI.get_uuid(back), sorted(want)[0])
        self.assertEqual(self.api.VDI.get_name_label(back), "reintroduced")
        self.assertEqual(int(self.api.VDI.get_virtual_size(back)), want[sorted(want)[0]])
        self.assertXapiError("DB_UNIQUENESS_CONSTRAINT_VIOLATION", self.api.VDI.introduce, "", "dup", "", sr2,
                             "user", False, False, {}, loc, {}, {}, True, "0", "0", harness.NULL_REF, False,
                             "19700101T00:00:00Z", harness.NULL_REF)
        for x in self.api.SR.get_VDIs(sr2):
            self.api.VDI.destroy(x)
        self.api.PBD.unplug(pbd2)
        self.api.SR.forget(sr2)

    def test_assert_attachable(self):
        sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        disk = self.vdi(sr, "shared-disk")
        vms, vbds = [], []
        try:
            for name in ("att-a", "att-b"):
                vm = self.new_vm(name, provision=False)
                vms.append(vm)
                vbds.append(self.api.VBD.create({"VM": vm, "VDI": disk, "userdevice": "1", "bootable": False,
                                                 "mode": "RW", "type": "Disk", "empty": False,
                                                 "other_config": {}, "qos_algorithm_type": "",
                                                 "qos_algorithm_params": {}}))
            self.api.VBD.assert_attachable(vbds[0])
            self.api.VBD.assert_attachable(vbds[1])
            self.api.VM.start(vms[0], False, False)
            self.assertXapiError("VDI_IN_USE", self.api.VBD.assert_attachable, vbds[1],
                                 params=[disk, "attach"])
            self.api.VM.hard_shutdown(vms[0])
            self.api.VBD.assert_attachable(vbds[1])
        finally:
            for vm in vms:
                self.destroy_vm(vm)
            self.api.VDI.destroy(disk)
        self.assertXapiError("HANDLE_INVALID", self.api.VBD.assert_attachable, harness.NULL_REF)

    def test_database_replication_as_on_srs_without_sr_metadata(self):
        pool = self.api.pool.get_all()[0]
        sr = self.api.pool.get_default_SR(pool)
        for m in (self.api.SR.assert_supports_database_replication, self.api.SR.enable_database_replication):
            self.assertXapiError("SR_OPERATION_NOT_SUPPORTED", m, sr, params=[sr])
        d = os.path.join(self.tmp, "unplugged")
        os.mkdir(d)
        other = self.api.SR.create(self.host, {"path": d}, "0", "unplugged", "", "ext", "user", False, {})
        self.api.PBD.unplug(self.api.SR.get_PBDs(other)[0])
        self.assertXapiError("SR_HAS_NO_PBDS", self.api.SR.assert_supports_database_replication, other,
                             params=[other])
        self.api.SR.forget(other)
        user = self.vdi(sr, "not-metadata")
        meta = self.api.VDI.create({"SR": sr, "virtual_size": str(harness.MiB), "type": "metadata",
                                    "name_label": "meta", "sharable": False, "read_only": False,
                                    "other_config": {}})
        try:
            self.assertXapiError("VDI_INCOMPATIBLE_TYPE", self.api.VDI.open_database, user, params=[user, "user"])
            self.assertXapiError("COULD_NOT_IMPORT_DATABASE", self.api.VDI.open_database, meta)
            self.assertEqual(self.api.VDI.read_database_pool_uuid(meta), "")
        finally:
            self.api.VDI.destroy(user)
        # a metadata VDI of no pool (this one's is set only by replication) stays
        self.assertEqual(self.api.VDI.get_metadata_of_pool(meta), harness.NULL_REF)
        self.api.SR.disable_database_replication(sr)
        self.assertEqual(self.api.VDI.get_type(meta), "metadata")
        self.api.VDI.destroy(meta)

    def test_recovery_checks(self):
        d = os.path.join(self.tmp, "recov")
        os.mkdir(d)
        sr = self.api.SR.create(self.host, {"path": d}, "0", "recov", "", "ext", "user", False, {})
        disk = self.vdi(sr, "recov-disk")
        vm = self.new_vm("recov-vm", provision=False)
        app = self.api.VM_appliance.create({"name_label": "recov-app", "name_description": ""})
        try:
            self.api.VBD.create({"VM": vm, "VDI": disk, "userdevice": "0", "bootable": True, "mode": "RW",
                                 "type": "Disk", "empty": False, "other_config": {}, "qos_algorithm_type": "",
                                 "qos_algorithm_params": {}})
            self.api.VM.set_appliance(vm, app)
            to = self.srv.session
            self.assertEqual(self.api.VM.get_SRs_required_for_recovery(vm, to), [])
            self.api.VM.assert_can_be_recovered(vm, to)
            self.api.VM_appliance.assert_can_be_recovered(app, to)
            pbd = self.api.SR.get_PBDs(sr)[0]
            self.api.PBD.unplug(pbd)
            self.assertEqual(self.api.VM.get_SRs_required_for_recovery(vm, to), [sr])
            self.assertEqual(self.api.VM_appliance.get_SRs_required_for_recovery(app, to), [sr])
            self.assertXapiError("VM_REQUIRES_SR", self.api.VM.assert_can_be_recovered, vm, to, params=[vm, sr])
            self.assertXapiError("VM_REQUIRES_SR", self.api.VM_appliance.assert_can_be_recovered, app, to,
                                 params=[vm, sr])
            self.assertXapiError("SESSION_INVALID", self.api.VM.get_SRs_required_for_recovery, vm,
                                 harness.NULL_REF)
            self.assertXapiError("VM_REQUIRES_SR", self.api.VM.recover, vm, to, True, params=[vm, sr])
            self.api.PBD.plug(pbd)
            # recovered into its own pool: the VM is there already
            version = self.api.VM.get_version(vm)
            self.assertXapiError("VM_TO_IMPORT_IS_NOT_NEWER_VERSION", self.api.VM.recover, vm, to, False,
                                 params=[vm, str(version), str(version)])
            self.api.VM.recover(vm, to, True)
            self.api.VM_appliance.recover(app, to, True)
            self.assertEqual(self.api.VM.get_appliance(vm), app)
            self.api.VM.start(vm, False, False)
            self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM_appliance.recover, app, to, False,
                                 params=[vm, "halted", "running"])
            self.api.VM.hard_shutdown(vm)
        finally:
            self.destroy_vm(vm)
            self.api.VM_appliance.destroy(app)
        for v in self.api.SR.get_VDIs(sr):
            self.api.VDI.destroy(v)
        self.api.PBD.unplug(self.api.SR.get_PBDs(sr)[0])
        self.api.SR.forget(sr)

    def test_dr_task(self):
        self.assertXapiError("OPERATION_NOT_ALLOWED", self.api.DR_task.create, "ext", {"path": self.tmp}, [],
                             params=["Disaster recovery not supported on SRs of type ext"])
        self.assertXapiError("HANDLE_INVALID", self.api.DR_task.destroy, harness.NULL_REF)
        self.assertEqual(self.api.DR_task.get_all(), [])

    def test_probe_ext(self):
        self.assertXapiError("SR_OPERATION_NOT_SUPPORTED", self.api.SR.probe_ext, self.host,
                             {"path": self.tmp}, "ext", {})
        self.assertXapiError("SR_UNKNOWN_DRIVER", self.api.SR.probe_ext, self.host, {}, "nosuch", {})


if __name__ == "__main__":
    harness.main()
