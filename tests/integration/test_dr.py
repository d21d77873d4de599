"""Disaster recovery between two standalone hosts sharing a file SR: host
A keeps its database in a metadata VDI there (SR.enable_database_
replication), then is lost (kill -9); host B introduces the SR, finds the
metadata VDI (VDI.read_database_pool_uuid), opens the database as a
read-only session (VDI.open_database), and recovers A's VMs into its own
pool (VM.recover, VM_appliance.recover), one of which it starts with its
disk's content intact. xapi's errors where the recovery cannot be done,
with nothing imported; session.create_from_db_file on A's database file;
disable_database_replication destroys the pool's metadata VDI."""

import os
import shutil
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MiB = harness.MiB
DATA = bytes(range(256)) * 4096 * 2  # 2 MiB


def http(srv, method, path, body=None, **q):
    q.setdefault("session_id", srv.session)
    c = srv.connection(60)
    try:
        hdrs = {"Content-Length": str(len(body))} if body is not None else {}
        c.request(method, path + "?" + urllib.parse.urlencode(q), body=body, headers=hdrs)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class DisasterRecovery(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()  # host A: cls.srv, cls.api
        cls.b = harness.Server(data_dir=harness.data_dir_with_users({"operator": "pool-operator"}, "dr-pw-4"))
        cls.b.start()
        cls.bapi = cls.b.api
        cls.shared = tempfile.mkdtemp(prefix="xenon-dr-")

    @classmethod
    def tearDownClass(cls):
        cls.b.stop()
        if cls.srv.alive():
            cls.srv.stop()
        shutil.rmtree(cls.shared, ignore_errors=True)

    def disk(self, api, sr, name, size=2 * MiB):
        return api.VDI.create({"SR": sr, "virtual_size": str(size), "type": "user", "name_label": name,
                               "sharable": False, "read_only": False, "other_config": {}})

    def attach(self, api, vm, vdi, device="0"):
        api.VBD.create({"VM": vm, "VDI": vdi, "userdevice": device, "bootable": device == "0", "mode": "RW",
                        "type": "Disk", "empty": False, "other_config": {}, "qos_algorithm_type": "",
                        "qos_algorithm_params": {}})

    def guests(self, api):
        return {api.VM.get_name_label(v): v for v in api.VM.get_all()
                if not api.VM.get_is_a_template(v) and not api.VM.get_is_control_domain(v)}

    def test_recover_the_vms_of_a_lost_host(self):
        a, api, b, bapi = self.srv, self.api, self.b, self.bapi
        host_a = api.host.get_all()[0]
        pool_a = api.pool.get_all()[0]
        pool_a_uuid = api.pool.get_uuid(pool_a)
        sr = api.SR.create(host_a, {"path": self.shared}, "0", "dr-shared", "", "file", "user", True, {})
        sr_uuid = api.SR.get_uuid(sr)
        # a VM with a disk holding data and a VIF, one in an appliance, one
        # on storage host B never sees
        one = self.new_vm("dr-one", provision=False)
        d1 = self.disk(api, sr, "dr-one-disk")
        st, body = http(a, "PUT", "/import_raw_vdi", DATA, vdi=d1)
        self.assertEqual(st, 200, body)
        self.attach(api, one, d1)
        net = api.network.get_all()[0]
        api.VIF.create({"VM": one, "network": net, "device": "0", "MAC": "", "MTU": "1500",
                        "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
        two = self.new_vm("dr-two", provision=False)
        self.attach(api, two, self.disk(api, sr, "dr-two-disk"))
        local_sr = api.pool.get_default_SR(pool_a)
        three = self.new_vm("dr-three", provision=False)
        self.attach(api, three, self.disk(api, local_sr, "dr-three-disk"))
        app = api.VM_appliance.create({"name_label": "dr-app", "name_description": ""})
        api.VM.set_appliance(two, app)
        api.VM.set_appliance(three, app)
        uuids = {n: api.VM.get_uuid(v) for n, v in (("one", one), ("two", two), ("three", three))}
        d1_uuid = api.VDI.get_uuid(d1)

        # replication: a metadata VDI of this pool on the SR
        self.assertXapiError("SR_OPERATION_NOT_SUPPORTED", api.SR.enable_database_replication, local_sr,
                             params=[local_sr])
        api.SR.assert_supports_database_replication(sr)
        api.SR.enable_database_replication(sr)
        metas = api.pool.get_metadata_VDIs(pool_a)
        self.assertEqual(len(metas), 1)
        meta = metas[0]
        self.assertEqual(api.VDI.get_type(meta), "metadata")
        self.assertEqual(api.VDI.get_SR(meta), sr)
        self.assertEqual(api.VDI.get_metadata_of_pool(meta), pool_a)
        api.SR.enable_database_replication(sr)  # once is enough: the same VDI
        self.assertEqual(api.pool.get_metadata_VDIs(pool_a), [meta])
        meta_uuid = api.VDI.get_uuid(meta)
        # a change after replication began reaches the VDI too
        api.VM.set_name_label(one, "dr-one-renamed")

        # host B reaches the SR: introduced, plugged, its VDIs scanned
        host_b = bapi.host.get_all()[0]
        bsr = bapi.SR.introduce(sr_uuid, "dr-shared", "", "file", "user", True, {})
        pbd = bapi.PBD.create({"host": host_b, "SR": bsr, "device_config": {"path": self.shared},
                               "other_config": {}})
        bapi.PBD.plug(pbd)
        found = [v for v in bapi.SR.get_VDIs(bsr) if bapi.VDI.read_database_pool_uuid(v) == pool_a_uuid]
        self.assertEqual([bapi.VDI.get_uuid(v) for v in found], [meta_uuid])
        bmeta = found[0]
        self.assertEqual(bapi.VDI.get_type(bmeta), "metadata")
        self.assertNotEqual(bapi.pool.get_uuid(bapi.pool.get_all()[0]), pool_a_uuid)

        def renamed_seen():
            s = bapi.VDI.open_database(bmeta)
            names = self.guests(b.api_for(s))
            if "dr-one-renamed" in names:
                return s
            b.call("session.logout", s)
            return None
        fs = None
        deadline = time.monotonic() + 15
        while fs is None and time.monotonic() < deadline:
            fs = renamed_seen()
            if fs is None:
                time.sleep(0.3)
        self.assertIsNotNone(fs, "the rename never reached the metadata VDI")
        a.kill9()  # the site is lost

        # the session reads A's database, and only reads it
        fapi = b.api_for(fs)
        self.assertEqual(fapi.pool.get_uuid(fapi.pool.get_all()[0]), pool_a_uuid)
        fvms = self.guests(fapi)
        self.assertEqual({n: fapi.VM.get_uuid(v) for n, v in fvms.items()},
                         {"dr-one-renamed": uuids["one"], "dr-two": uuids["two"], "dr-three": uuids["three"]})
        fone, ftwo, fthree = fvms["dr-one-renamed"], fvms["dr-two"], fvms["dr-three"]
        fapp = fapi.VM_appliance.get_all()[0]
        self.assertXapiError("OPERATION_NOT_ALLOWED", fapi.VM.set_name_label, fone, "x")
        self.assertXapiError("OPERATION_NOT_ALLOWED", fapi.VM.start, fone, False, False)
        self.assertEqual(fapi.VM.get_name_label(fone), "dr-one-renamed")

        to = b.session
        fsr_local = fapi.VDI.get_SR(fapi.VBD.get_VDI(fapi.VM.get_VBDs(fthree)[0]))
        self.assertEqual(fapi.VM.get_SRs_required_for_recovery(fone, to), [])
        self.assertEqual(fapi.VM.get_SRs_required_for_recovery(fthree, to), [fsr_local])
        self.assertEqual(fapi.VM_appliance.get_SRs_required_for_recovery(fapp, to), [fsr_local])
        fapi.VM.assert_can_be_recovered(fone, to)
        self.assertXapiError("VM_REQUIRES_SR", fapi.VM.assert_can_be_recovered, fthree, to,
                             params=[fthree, fsr_local])
        # bad input: nothing imported
        self.assertXapiError("VM_REQUIRES_SR", fapi.VM_appliance.recover, fapp, to, False,
                             params=[fthree, fsr_local])
        self.assertXapiError("SESSION_INVALID", fapi.VM.recover, fone, harness.NULL_REF, False)
        self.assertXapiError("OPERATION_NOT_ALLOWED", fapi.VM.recover, fone, fs, False)
        self.assertXapiError("HANDLE_INVALID", fapi.VM.recover, harness.NULL_REF, to, False)
        for u in uuids.values():
            self.assertXapiError("UUID_INVALID", bapi.VM.get_by_uuid, u)
        self.assertEqual(bapi.VM_appliance.get_all(), [])

        # the recovery
        fapi.VM.recover(fone, to, False)
        bone = bapi.VM.get_by_uuid(uuids["one"])
        self.assertEqual(bapi.VM.get_name_label(bone), "dr-one-renamed")
        self.assertEqual(bapi.VM.get_power_state(bone), "Halted")
        vbds = bapi.VM.get_VBDs(bone)
        self.assertEqual([bapi.VDI.get_uuid(bapi.VBD.get_VDI(x)) for x in vbds], [d1_uuid])
        net_name = fapi.network.get_name_label(fapi.VIF.get_network(fapi.VM.get_VIFs(fone)[0]))
        want_vifs = 1 if bapi.network.get_by_name_label(net_name) else 0
        self.assertEqual(len(bapi.VM.get_VIFs(bone)), want_vifs)
        version = str(bapi.VM.get_version(bone))
        self.assertXapiError("VM_TO_IMPORT_IS_NOT_NEWER_VERSION", fapi.VM.recover, fone, to, False,
                             params=[bone, version, version])
        fapi.VM.recover(fone, to, True)  # forced: replaced by the copy read again
        bone = bapi.VM.get_by_uuid(uuids["one"])
        self.assertEqual(len([v for v in bapi.VM.get_all() if bapi.VM.get_uuid(v) == uuids["one"]]), 1)
        # xe reads the VM from the metadata VDI's database
        r = b.xe("vm-assert-can-be-recovered", "uuid=" + uuids["three"], "database:vdi-uuid=" + meta_uuid)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("an SR needed by the VM", r.stdout + r.stderr)
        r = b.xe("vm-recover", "uuid=" + uuids["two"], "database:vdi-uuid=" + meta_uuid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(bapi.VM.get_name_label(bapi.VM.get_by_uuid(uuids["two"])), "dr-two")
        self.assertEqual(bapi.VM.get_appliance(bapi.VM.get_by_uuid(uuids["two"])), harness.NULL_REF)

        # the recovered VM runs on B, its disk as A left it
        bapi.VM.start(bone, False, False)
        self.assertEqual(bapi.VM.get_power_state(bone), "Running")
        self.assertEqual(bapi.VM.get_resident_on(bone), host_b)
        self.assertXapiError("VM_BAD_POWER_STATE", fapi.VM.recover, fone, to, False,
                             params=[bone, "halted", "running"])
        bapi.VM.hard_shutdown(bone)
        st, body = http(b, "GET", "/export_raw_vdi", vdi=bapi.VDI.get_by_uuid(d1_uuid))
        self.assertEqual(st, 200)
        self.assertEqual(body[:len(DATA)], DATA)

        # the database file of A, opened as a session too
        fs2 = bapi.session.create_from_db_file(os.path.join(a.data_dir, "db.sqlite"))
        self.assertEqual(set(self.guests(b.api_for(fs2))),
                         {"dr-one-renamed", "dr-two", "dr-three"})
        self.assertXapiError("OPERATION_NOT_ALLOWED", b.api_for(fs2).VM.destroy,
                             b.api_for(fs2).VM.get_by_uuid(uuids["two"]))
        b.call("session.logout", fs2)
        self.assertXapiError("COULD_NOT_IMPORT_DATABASE", bapi.session.create_from_db_file,
                             os.path.join(self.shared, "no-such-file"))
        # pool admins only
        op = b.api_for(b.login("operator", "dr-pw-4"))
        self.assertXapiError("RBAC_PERMISSION_DENIED", op.session.create_from_db_file,
                             os.path.join(a.data_dir, "db.sqlite"))
        self.assertXapiError("COULD_NOT_IMPORT_DATABASE", bapi.session.create_from_db_file, "/etc/hostname")
        b.call("session.logout", fs)
        self.assertXapiError("SESSION_INVALID", fapi.VM.get_all)

        # B replicates its own database to the SR; disabling destroys that VDI
        # and leaves A's
        pool_b = bapi.pool.get_all()[0]
        r = b.xe("sr-enable-database-replication", "uuid=" + sr_uuid)
        self.assertEqual(r.returncode, 0, r.stderr)
        mine = bapi.pool.get_metadata_VDIs(pool_b)
        self.assertEqual(len(mine), 1)
        self.assertNotEqual(mine[0], bmeta)
        self.assertEqual(bapi.VDI.read_database_pool_uuid(mine[0]), bapi.pool.get_uuid(pool_b))
        r = b.xe("sr-disable-database-replication", "uuid=" + sr_uuid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(bapi.pool.get_metadata_VDIs(pool_b), [])
        self.assertXapiError("HANDLE_INVALID", bapi.VDI.get_uuid, mine[0])
        self.assertEqual(bapi.VDI.read_database_pool_uuid(bmeta), pool_a_uuid)

    def test_dr_task_introduces_the_srs_of_a_metadata_vdi(self):
        """DR_task.create probes the storage for metadata VDIs and introduces
        the whitelisted SRs they describe, plugged; DR_task.destroy forgets
        them."""
        c = harness.Server()
        c.start()
        capi, bapi = c.api, self.bapi
        d = tempfile.mkdtemp(prefix="xenon-drtask-")
        try:
            host_c = capi.host.get_all()[0]
            sr = capi.SR.create(host_c, {"path": d}, "0", "drtask-sr", "for DR_task", "file", "user", True, {})
            sr_uuid = capi.SR.get_uuid(sr)
            vm = capi.VM.clone(capi.VM.get_by_name_label("Other install media")[0], "drtask-vm")
            capi.VM.set_is_a_template(vm, False)
            self.attach(capi, vm, self.disk(capi, sr, "drtask-disk"))
            vm_uuid = capi.VM.get_uuid(vm)
            capi.SR.enable_database_replication(sr)
            meta_uuid = capi.VDI.get_uuid(capi.pool.get_metadata_VDIs(capi.pool.get_all()[0])[0])
            c.kill9()

            self.assertXapiError("OPERATION_NOT_ALLOWED", bapi.DR_task.create, "ext", {"path": d}, [sr_uuid],
                                 params=["Disaster recovery not supported on SRs of type ext"])
            missing = os.path.join(d, "no-such-dir")
            before = bapi.SR.get_all()
            try:
                bapi.DR_task.create("file", {"path": missing}, [sr_uuid])
                self.fail("a probe of a missing directory succeeded")
            except harness.XapiError as err:
                self.assertTrue(err.code.startswith("SR_BACKEND_FAILURE"), err.code)
            self.assertEqual(bapi.DR_task.get_all(), [])
            self.assertEqual(bapi.SR.get_all(), before)
            # not in the whitelist: nothing introduced
            t0 = bapi.DR_task.create("file", {"path": d}, [])
            self.assertEqual(bapi.DR_task.get_introduced_SRs(t0), [])
            bapi.DR_task.destroy(t0)

            r = self.b.xe("drtask-create", "type=file", "sr-whitelist=" + sr_uuid, "device-config:path=" + d)
            self.assertEqual(r.returncode, 0, r.stderr)
            task = bapi.DR_task.get_by_uuid(r.stdout.strip())
            srs = bapi.DR_task.get_introduced_SRs(task)
            self.assertEqual([bapi.SR.get_uuid(x) for x in srs], [sr_uuid])
            bsr = srs[0]
            self.assertEqual(bapi.SR.get_name_label(bsr), "drtask-sr")
            self.assertTrue(bapi.SR.get_shared(bsr))
            self.assertEqual(bapi.SR.get_introduced_by(bsr), task)
            pbds = bapi.SR.get_PBDs(bsr)
            self.assertEqual([bapi.PBD.get_currently_attached(p) for p in pbds], [True])
            meta = bapi.VDI.get_by_uuid(meta_uuid)
            self.assertEqual(bapi.VDI.get_type(meta), "metadata")
            fs = bapi.VDI.open_database(meta)
            fapi = self.b.api_for(fs)
            fapi.VM.recover(fapi.VM.get_by_uuid(vm_uuid), self.b.session, False)
            self.b.call("session.logout", fs)
            self.assertEqual(bapi.VM.get_name_label(bapi.VM.get_by_uuid(vm_uuid)), "drtask-vm")
            bapi.VM.destroy(bapi.VM.get_by_uuid(vm_uuid))
            r = self.b.xe("drtask-destroy", "uuid=" + bapi.DR_task.get_uuid(task))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertXapiError("UUID_INVALID", bapi.SR.get_by_uuid, sr_uuid)
            self.assertEqual(bapi.DR_task.get_all(), [])
        finally:
            if c.alive():
                c.stop()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    harness.main()
