"""Who may transfer, and what a transfer holds, against a real xenond (sim
backend): RBAC on the HTTP handlers as xapi's http_actions give it (vm-admin
and above may export and import; read-only and vm-operator get
RBAC_PERMISSION_DENIED with the action's permission, 403, and their task
fails), for session_id and HTTP Basic alike; and a VDI under transfer is
busy (current_operations holds the transfer's task, destroy is no longer
allowed and fails with OTHER_OPERATION_IN_PROGRESS) until the transfer ends."""

import base64
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_export import MiB, TransferCase, pattern  # noqa: E402

USERS = {"reader": "read-only", "operator": "vm-operator", "vmadmin": "vm-admin"}
PASSWORD = "s3cret-pw"


class TransferAccessTest(TransferCase):

    @classmethod
    def setUpClass(cls):
        cls.server_kwargs = {"data_dir": harness.data_dir_with_users(USERS, PASSWORD, "xenon-access-")}
        super().setUpClass()
        cls.sessions = {u: cls.srv.login(u, PASSWORD) for u in USERS}

    def denied(self, user, method, path, body=None, basic=False, **q):
        """The transfer is refused to user: 403, RBAC_PERMISSION_DENIED with
        the action's permission, and a task passed in fails with it."""
        task = self.api.task.create("rbac", "")
        headers = {}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        if basic:
            headers["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % (user, PASSWORD)).encode()).decode()
            q["session_id"] = None
        else:
            q["session_id"] = self.sessions[user]
        q = {k: v for k, v in q.items() if v is not None}
        c = self.srv.connection(60)
        try:
            c.request(method, path + "?" + urllib.parse.urlencode(dict(q, task_id=task)),
                      body=body, headers=headers)
            r = c.getresponse()
            st, reply = r.status, r.read()
        finally:
            c.close()
        self.assertEqual(st, 403, reply)
        perm = "http/%s_%s" % (method.lower(), path.strip("/"))
        self.assertEqual(reply.decode().split()[:2], ["RBAC_PERMISSION_DENIED", perm])
        rec = self.wait_task(task)
        self.assertEqual(rec["status"], "failure")
        self.assertEqual(rec["error_info"][:2], ["RBAC_PERMISSION_DENIED", perm])
        self.api.task.destroy(task)

    def test_unknown_task(self):
        """A task_id that names no task is refused before anything is read."""
        vdi = self.new_vdi(MiB)
        nope = "OpaqueRef:00000000-0000-0000-0000-000000000001"
        st, _h, reply = self.request("GET", "/export_raw_vdi", vdi=vdi, task_id=nope)
        self.assertNotEqual(st, 200)
        self.assertEqual(reply.decode().split()[:3], ["HANDLE_INVALID", "task", nope])
        self.assertEqual(self.api.VDI.get_current_operations(vdi), {})
        self.api.VDI.destroy(vdi)

    def test_rbac(self):
        data = pattern(MiB, 21)
        vdi = self.new_vdi(MiB)
        st, _, body = self.put("/import_raw_vdi", data, vdi=vdi)
        self.assertEqual(st, 200, body)
        vm = self.new_vm("rbac-vm", provision=False)
        before = self.state()
        for user in ("reader", "operator"):
            for basic in (False, True):
                with self.subTest(user=user, basic=basic):
                    self.denied(user, "GET", "/export_raw_vdi", vdi=vdi, basic=basic)
                    self.denied(user, "GET", "/export", ref=vm, basic=basic)
                    self.denied(user, "GET", "/export_metadata", ref=vm, basic=basic)
                    # (small bodies: the refusal may come before the body is read)
                    self.denied(user, "PUT", "/import_raw_vdi", bytes(4096), vdi=vdi,
                                basic=basic)
                    self.denied(user, "PUT", "/import", b"x" * 1024, basic=basic)
                    self.denied(user, "PUT", "/import_metadata", b"x" * 1024, basic=basic)
            # Xen Orchestra's probe PUT is refused as well
            st, _, reply = self.request("PUT", "/import", b"", {"Content-Length": "0"},
                                        session_id=self.sessions[user])
            self.assertEqual(st, 403, reply)
        self.assertEqual(self.state(), before)
        st, _, back = self.request("GET", "/export_raw_vdi", vdi=vdi)
        self.assertEqual(back, data, "a refused import wrote")
        # vm-admin may do both
        s = self.sessions["vmadmin"]
        st, _, back = self.request("GET", "/export_raw_vdi", vdi=vdi, session_id=s)
        self.assertEqual((st, back), (200, data))
        st, _, reply = self.put("/import_raw_vdi", bytes(4096), vdi=vdi, session_id=s)
        self.assertEqual(st, 200, reply)
        st, _, back = self.request("GET", "/export_raw_vdi", vdi=vdi)
        self.assertEqual(back, bytes(4096) + data[4096:])
        self.api.VM.destroy(vm)
        self.api.VDI.destroy(vdi)

    def assertBusy(self, vdi, task):
        rec = self.api.VDI.get_record(vdi)
        self.assertEqual(list(rec["current_operations"].keys()), [task])
        self.assertNotIn("destroy", rec["allowed_operations"])
        e = self.assertXapiError("OTHER_OPERATION_IN_PROGRESS", self.api.VDI.destroy, vdi)
        self.assertEqual(e.params[:2], ["VDI", vdi])
        self.assertXapiError("OTHER_OPERATION_IN_PROGRESS", self.api.VDI.resize, vdi, 128 * MiB)

    def assertFree(self, vdi):
        rec = self.api.VDI.get_record(vdi)
        self.assertEqual(rec["current_operations"], {})
        self.assertIn("destroy", rec["allowed_operations"])

    def test_busy_during_export(self):
        vdi = self.new_vdi(64 * MiB)  # more than socket buffers hold
        task = self.api.task.create("export", "")
        c = self.srv.connection(60)
        c.request("GET", self.url("/export_raw_vdi", vdi=vdi, task_id=task))
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        first = r.read(MiB)
        self.assertBusy(vdi, task)
        # a second transfer of the same disk waits its turn
        st, _, reply = self.put("/import_raw_vdi", bytes(4096), vdi=vdi)
        self.assertNotEqual(st, 200)
        self.assertIn(b"OTHER_OPERATION_IN_PROGRESS", reply)
        rest = r.read()
        c.close()
        self.assertEqual(len(first) + len(rest), 64 * MiB)
        self.assertEqual(self.wait_task(task)["status"], "success")
        self.assertFree(vdi)
        self.api.VDI.destroy(vdi)

    def test_vm_busy_during_xva_export(self):
        """As xapi's lock_vm: the VM is marked export while its XVA streams,
        and its disks are busy too."""
        vm = self.new_vm("busy-xva", provision=False)
        vdi = self.new_vdi(32 * MiB)
        st, _, body = self.put("/import_raw_vdi", pattern(32 * MiB, 23), vdi=vdi)
        self.assertEqual(st, 200, body)
        self.api.VBD.create({"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True,
                             "mode": "RW", "type": "Disk", "unpluggable": False,
                             "empty": False, "other_config": {},
                             "qos_algorithm_type": "", "qos_algorithm_params": {}})
        task = self.api.task.create("export", "")
        c = self.srv.connection(60)
        c.request("GET", self.url("/export", ref=vm, task_id=task))
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        first = r.read(MiB)
        rec = self.api.VM.get_record(vm)
        self.assertEqual(rec["current_operations"], {task: "export"})
        self.assertNotIn("destroy", rec["allowed_operations"])
        e = self.assertXapiError("OTHER_OPERATION_IN_PROGRESS", self.api.VM.destroy, vm)
        self.assertEqual(e.params[:2], ["VM", vm])
        self.assertBusy(vdi, task)
        # a second export of the same VM waits its turn
        st, _, reply = self.request("GET", "/export", ref=vm)
        self.assertNotEqual(st, 200)
        self.assertIn(b"OTHER_OPERATION_IN_PROGRESS", reply)
        rest = r.read()
        c.close()
        self.assertEqual((first + rest)[-1024:], bytes(1024))  # the whole archive
        self.assertEqual(self.wait_task(task)["status"], "success")
        rec = self.api.VM.get_record(vm)
        self.assertEqual(rec["current_operations"], {})
        self.assertIn("destroy", rec["allowed_operations"])
        self.assertFree(vdi)
        # a metadata export marks it metadata_export, and lets go at the end
        st, _, meta = self.request("GET", "/export_metadata", ref=vm)
        self.assertEqual(st, 200)
        self.assertEqual(self.api.VM.get_current_operations(vm), {})
        self.api.VM.destroy(vm)
        self.api.VDI.destroy(vdi)

    def test_busy_during_import(self):
        vdi = self.new_vdi(8 * MiB)
        data = pattern(8 * MiB, 22)
        task = self.api.task.create("import", "")
        c = self.srv.connection(60)
        c.putrequest("PUT", self.url("/import_raw_vdi", vdi=vdi, task_id=task))
        c.putheader("Content-Length", str(len(data)))
        c.endheaders()
        c.send(data[:MiB])
        self.wait_for(lambda: self.api.VDI.get_current_operations(vdi), msg="VDI marked")
        self.assertBusy(vdi, task)
        c.send(data[MiB:])
        r = c.getresponse()
        self.assertEqual(r.status, 200, r.read())
        c.close()
        self.assertEqual(self.wait_task(task)["status"], "success")
        self.assertFree(vdi)
        st, _, back = self.request("GET", "/export_raw_vdi", vdi=vdi)
        self.assertEqual(back, data)
        # an upload cut off clears the mark too
        task = self.api.task.create("import", "")
        c = self.srv.connection(60)
        c.putrequest("PUT", self.url("/import_raw_vdi", vdi=vdi, task_id=task))
        c.putheader("Content-Length", str(len(data)))
        c.endheaders()
        c.send(data[:MiB])
        self.wait_for(lambda: self.api.VDI.get_current_operations(vdi), msg="VDI marked")
        c.close()
        self.assertEqual(self.wait_task(task)["status"], "failure")
        self.wait_for(lambda: not self.api.VDI.get_current_operations(vdi), msg="mark cleared")
        self.assertFree(vdi)
        self.api.VDI.destroy(vdi)

    def test_import_into_disk_of_running_vm(self):
        vm = self.new_vm("busy-vm", provision=False)
        vdi = self.new_vdi(MiB)
        self.api.VBD.create({"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True,
                             "mode": "RW", "type": "Disk", "unpluggable": False,
                             "empty": False, "other_config": {},
                             "qos_algorithm_type": "", "qos_algorithm_params": {}})
        self.api.VM.start(vm, False, False)
        try:
            st, _, reply = self.put("/import_raw_vdi", bytes(4096), vdi=vdi)
            self.assertNotEqual(st, 200)
            self.assertTrue(reply.startswith(b"VDI_IN_USE " + vdi.encode()), reply)
            # reading it is allowed, as xapi exports such disks
            st, _, back = self.request("GET", "/export_raw_vdi", vdi=vdi)
            self.assertEqual(st, 200)
        finally:
            self.api.VM.hard_shutdown(vm)
        self.api.VM.destroy(vm)
        self.api.VDI.destroy(vdi)


if __name__ == "__main__":
    harness.main()
