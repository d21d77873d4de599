"""Blobs — Class.create_new_blob, blob.create/destroy, their bytes over
GET and PUT /blob with session and role checks (a public blob is readable
without a session), xe blob-create/blob-get/blob-put — and the small VM calls
answered from the store: copy_bios_strings, assert_operation_valid,
call_plugin, maximise_memory, set_shadow_multiplier_live; and VM.import from
an http:// URL (an HTTP server on loopback serving an exported VM)."""

import http.server
import os
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MiB = harness.MiB


class ApiBlobs(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.host = cls.api.host.get_all()[0]
        cls.pool = cls.api.pool.get_all()[0]

    def xe(self, *args):
        r = self.srv.xe(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def http(self, method, path, body=None):
        conn = self.srv.connection()
        try:
            conn.request(method, path, body=body, headers={"Content-Length": str(len(body or b""))})
            r = conn.getresponse()
            return r.status, r.getheader("Content-Type"), r.read()
        finally:
            conn.close()

    def test_blob_http_roundtrip(self):
        vm = self.new_vm("blob-vm", provision=False)
        try:
            b = self.api.VM.create_new_blob(vm, "notes", "text/plain", False)
            self.assertEqual(self.api.VM.get_blobs(vm), {"notes": b})
            rec = self.api.blob.get_record(b)
            self.assertEqual((rec["name_label"], rec["mime_type"], int(rec["size"]), rec["public"]),
                             ("notes", "text/plain", 0, False))
            self.assertXapiError("MAP_DUPLICATE_KEY", self.api.VM.create_new_blob, vm, "notes", "", False)
            data = os.urandom(70000)
            st, _, _ = self.http("PUT", "/blob?ref=%s&session_id=%s" % (b, self.srv.session), data)
            self.assertEqual(st, 200)
            rec = self.api.blob.get_record(b)
            self.assertEqual(int(rec["size"]), len(data))
            self.assertNotEqual(rec["last_updated"], "19700101T00:00:00Z")
            st, ctype, body = self.http("GET", "/blob?ref=%s&session_id=%s" % (b, self.srv.session))
            self.assertEqual((st, ctype, body), (200, "text/plain", data))
            # by uuid too; without a session a private blob is refused
            st, _, body = self.http("GET", "/blob?uuid=%s&session_id=%s" % (rec["uuid"], self.srv.session))
            self.assertEqual((st, body), (200, data))
            st, _, _ = self.http("GET", "/blob?ref=%s" % b)
            self.assertNotEqual(st, 200)
            st, _, _ = self.http("GET", "/blob?ref=OpaqueRef:nope&session_id=%s" % self.srv.session)
            self.assertEqual(st, 404)
            self.api.blob.destroy(b)
            self.assertEqual(self.api.VM.get_blobs(vm), {})
            self.assertXapiError("HANDLE_INVALID", self.api.blob.get_record, b)
        finally:
            self.destroy_vm(vm)

    def test_public_blob_and_other_classes(self):
        sr = self.api.pool.get_default_SR(self.pool)
        net = self.api.network.get_all()[0]
        for cls, obj in (("host", self.host), ("pool", self.pool), ("SR", sr), ("network", net)):
            b = getattr(self.api, cls).create_new_blob(obj, "icon", "", True)
            self.assertEqual(getattr(self.api, cls).get_blobs(obj)["icon"], b)
            self.assertEqual(self.api.blob.get_mime_type(b), "application/octet-stream")
            self.assertEqual(self.http("PUT", "/blob?ref=%s&session_id=%s" % (b, self.srv.session),
                                       cls.encode())[0], 200)
            # public: readable without a session
            st, _, body = self.http("GET", "/blob?ref=%s" % b)
            self.assertEqual((st, body), (200, cls.encode()))
            self.api.blob.destroy(b)
            self.assertNotIn("icon", getattr(self.api, cls).get_blobs(obj))
        loose = self.api.blob.create("application/json", False)
        self.assertEqual(self.api.blob.get_mime_type(loose), "application/json")
        self.api.blob.destroy(loose)

    def test_put_needs_the_role(self):
        b = self.api.pool.create_new_blob(self.pool, "guarded", "", False)
        try:
            st, _, _ = self.http("PUT", "/blob?ref=%s" % b, b"x")
            self.assertNotEqual(st, 200)
            self.assertEqual(int(self.api.blob.get_size(b)), 0)
        finally:
            self.api.blob.destroy(b)

    def test_xe_blobs(self):
        vm = self.new_vm("xe-blob-vm", provision=False)
        try:
            uuid = self.api.VM.get_uuid(vm)
            b_uuid = self.xe("blob-create", "vm-uuid=" + uuid, "name=doc", "mime-type=text/plain").strip()
            b = self.api.blob.get_by_uuid(b_uuid)
            self.assertEqual(self.api.VM.get_blobs(vm), {"doc": b})
            with tempfile.TemporaryDirectory() as d:
                src, dst = os.path.join(d, "in"), os.path.join(d, "out")
                with open(src, "wb") as f:
                    f.write(b"hello blob\n")
                self.xe("blob-put", "uuid=" + b_uuid, "filename=" + src)
                self.assertEqual(int(self.api.blob.get_size(b)), 11)
                self.xe("blob-get", "uuid=" + b_uuid, "filename=" + dst)
                with open(dst, "rb") as f:
                    self.assertEqual(f.read(), b"hello blob\n")
        finally:
            self.destroy_vm(vm)

    def test_copy_bios_strings(self):
        vm = self.new_vm("bios-vm", provision=False)
        try:
            host_strings = self.api.host.get_bios_strings(self.host)
            self.assertTrue(host_strings)
            self.assertEqual(self.api.VM.get_bios_strings(vm), {})
            self.api.VM.copy_bios_strings(vm, self.host)
            self.assertEqual(self.api.VM.get_bios_strings(vm), host_strings)
            self.assertEqual(self.api.VM.get_affinity(vm), self.host)
            self.assertXapiError("VM_BIOS_STRINGS_ALREADY_SET", self.api.VM.copy_bios_strings, vm, self.host)
            uuid = self.api.VM.get_uuid(vm)
            vm2 = self.new_vm("bios-vm2", provision=False)
            try:
                self.xe("vm-copy-bios-strings", "uuid=" + self.api.VM.get_uuid(vm2),
                            "host-uuid=" + self.api.host.get_uuid(self.host))
                self.assertEqual(self.api.VM.get_bios_strings(vm2), host_strings)
            finally:
                self.destroy_vm(vm2)
            self.assertTrue(uuid)
        finally:
            self.destroy_vm(vm)

    def test_vm_checks_and_plugins(self):
        vm = self.new_vm("ops-vm", provision=False)
        try:
            self.api.VM.assert_operation_valid(vm, "start")
            self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.assert_operation_valid, vm, "clean_shutdown",
                                 params=[vm, "running", "halted"])
            self.api.VM.add_to_blocked_operations(vm, "start", "no")
            self.assertXapiError("OPERATION_BLOCKED", self.api.VM.assert_operation_valid, vm, "start")
            self.api.VM.remove_from_blocked_operations(vm, "start")
            self.assertXapiError("XENAPI_MISSING_PLUGIN", self.api.VM.call_plugin, vm, "nope", "fn", {},
                                 params=["nope"])
            self.assertXapiError("XENAPI_PLUGIN_FAILURE", self.api.VM.call_plugin, vm, "guest-agent-operation",
                                 "bogus", {})
            self.assertXapiError("NOT_IMPLEMENTED", self.api.VM.query_services, vm, params=["query_services"])

            self.api.VM.set_VCPUs_max(vm, "2")
            self.api.VM.set_HVM_shadow_multiplier(vm, 1.0)
            # 256 MiB: static_max + overhead (7 MiB for 2 vCPUs at 256 MiB) must fit
            best = int(self.api.VM.maximise_memory(vm, str(256 * MiB), False))
            self.assertEqual(best % MiB, 0)
            self.assertLessEqual(best + int(self.api.VM.compute_memory_overhead(vm)), 256 * MiB + 8 * MiB)
            self.assertGreater(best, 240 * MiB)
            self.assertLess(int(self.api.VM.maximise_memory(vm, str(256 * MiB), True)), best)
            self.assertXapiError("VM_BAD_POWER_STATE", self.api.VM.set_shadow_multiplier_live, vm, 2.0)
            self.api.VM.start(vm, False, False)
            self.assertXapiError("INVALID_VALUE", self.api.VM.set_shadow_multiplier_live, vm, 0.5)
            before = int(self.api.VM.get_memory_overhead(vm))
            self.api.VM.set_shadow_multiplier_live(vm, 4.0)
            self.assertEqual(self.api.VM.get_HVM_shadow_multiplier(vm), 4.0)
            self.assertGreater(int(self.api.VM.get_memory_overhead(vm)), before)
            self.api.VM.hard_shutdown(vm)
        finally:
            self.destroy_vm(vm)


class Serve(http.server.BaseHTTPRequestHandler):
    files = {}

    def do_GET(self):
        body = Serve.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class ImportFromUrl(harness.ServerTestCase):

    def test_vm_import_from_url(self):
        sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        vm = self.new_vm("exported-vm", provision=False)
        vdi = self.api.VDI.create({"SR": sr, "virtual_size": str(MiB), "type": "user", "name_label": "d",
                                   "sharable": False, "read_only": False, "other_config": {}})
        self.api.VBD.create({"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True, "mode": "RW",
                             "type": "Disk", "empty": False, "other_config": {}, "qos_algorithm_type": "",
                             "qos_algorithm_params": {}})
        conn = self.srv.connection()
        conn.request("GET", "/export?ref=%s&session_id=%s" % (vm, self.srv.session))
        r = conn.getresponse()
        xva = r.read()
        conn.close()
        self.assertEqual(r.status, 200)
        Serve.files = {"/vm.xva": xva}
        web = http.server.HTTPServer(("127.0.0.1", 0), Serve)
        threading.Thread(target=web.serve_forever, daemon=True).start()
        self.addCleanup(web.server_close)
        self.addCleanup(web.shutdown)
        base = "http://127.0.0.1:%d" % web.server_address[1]
        made = self.srv.call("VM.import", self.srv.session, base + "/vm.xva", sr, False, False)
        self.assertEqual(len(made), 1)
        self.assertEqual(self.api.VM.get_name_label(made[0]), "exported-vm")
        self.assertNotEqual(made[0], vm)
        disks = [self.api.VBD.get_VDI(b) for b in self.api.VM.get_VBDs(made[0])]
        self.assertEqual([int(self.api.VDI.get_virtual_size(d)) for d in disks], [MiB])
        before = len(self.api.VM.get_all())
        e = self.assertXapiError("IMPORT_ERROR", self.srv.call, "VM.import", self.srv.session,
                                 base + "/missing.xva", sr, False, False)
        self.assertIn("404", e.params[0])
        self.assertXapiError("INVALID_VALUE", self.srv.call, "VM.import", self.srv.session, "ftp://x/y", sr,
                             False, False)
        self.assertEqual(len(self.api.VM.get_all()), before)


if __name__ == "__main__":
    harness.main()
