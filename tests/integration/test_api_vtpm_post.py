"""VTPM records with xapi's checks, local storage caching answered as xapi
answers it where no storage driver caches, pool.send_test_post to a TLS
server on loopback (and xapi's errors for a closed port and a name that
does not resolve), and VM.import_convert without its conversion plugin."""

import http.server
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class EchoHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.server.seen.append((self.path, self.headers.get("Host"), body))
        out = b"got " + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


class VtpmCachingTestPost(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.host = cls.api.host.get_all()[0]
        cls.pool = cls.api.pool.get_all()[0]

    def test_vtpm_records_and_checks(self):
        vm = self.new_vm("vtpm-vm", provision=False)
        try:
            vtpm = self.api.VTPM.create(vm, True)
            rec = self.api.VTPM.get_record(vtpm)
            self.assertEqual((rec["VM"], rec["persistence_backend"], rec["is_unique"], rec["is_protected"]),
                             (vm, "xapi", True, False))
            self.assertEqual(self.api.VM.get_VTPMs(vm), [vtpm])
            self.assertXapiError("VTPM_MAX_AMOUNT_REACHED", self.api.VTPM.create, vm, False, params=["1"])
            self.api.VM.start(vm, False, False)
            self.assertXapiError("VM_BAD_POWER_STATE", self.api.VTPM.destroy, vtpm,
                                 params=[vm, "halted;suspended", "running"])
            self.api.VM.hard_shutdown(vm)
            self.api.VTPM.destroy(vtpm)
            self.assertEqual(self.api.VM.get_VTPMs(vm), [])
            self.assertXapiError("HANDLE_INVALID", self.api.VTPM.destroy, vtpm)
            # only a halted VM gets one; none is left half-made
            self.api.VM.start(vm, False, False)
            self.assertXapiError("VM_BAD_POWER_STATE", self.api.VTPM.create, vm, False,
                                 params=[vm, "halted", "running"])
            self.assertEqual(self.api.VTPM.get_all(), [])
            self.api.VM.hard_shutdown(vm)
            # xe vtpm-create / vtpm-destroy as xapi's xe names them
            uuid = self.api.VM.get_uuid(vm)
            r = self.srv.xe("vtpm-create", "vm-uuid=" + uuid)
            self.assertEqual(r.returncode, 0, r.stderr)
            vtpm = self.api.VTPM.get_by_uuid(r.stdout.strip())
            self.assertEqual(self.api.VTPM.get_VM(vtpm), vm)
            r = self.srv.xe("vtpm-create", "vm-uuid=" + uuid)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("VTPM_MAX_AMOUNT_REACHED", r.stdout + r.stderr)
            r = self.srv.xe("vtpm-destroy", "uuid=" + self.api.VTPM.get_uuid(vtpm))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(self.api.VTPM.get_all(), [])
            # VM.destroy takes its VTPM with it
            vtpm = self.api.VTPM.create(vm, False)
            self.api.VM.destroy(vm)
            self.assertEqual(self.api.VTPM.get_all(), [])
        finally:
            self.destroy_vm(vm)

    def test_local_storage_caching(self):
        sr = self.api.SR.get_by_name_label("Local storage")[0]
        self.assertXapiError("HOST_NOT_DISABLED", self.api.host.enable_local_storage_caching, self.host, sr)
        self.assertXapiError("HOST_NOT_DISABLED", self.api.host.disable_local_storage_caching, self.host)
        self.assertXapiError("HOSTS_FAILED_TO_ENABLE_CACHING", self.api.pool.enable_local_storage_caching,
                             self.pool, params=[self.host])
        self.assertXapiError("HOSTS_FAILED_TO_DISABLE_CACHING", self.api.pool.disable_local_storage_caching,
                             self.pool, params=[self.host])
        # host.disable is left to host maintenance (NOT_IMPLEMENTED today), so
        # the host stays enabled here; past that check every SR answers
        # SR_OPERATION_NOT_SUPPORTED, as no driver declares local caching.
        self.assertEqual(self.api.host.get_local_cache_sr(self.host), "OpaqueRef:NULL")
        self.assertFalse(self.api.SR.get_local_cache_enabled(sr))
        for sm in self.api.SM.get_all():
            self.assertNotIn("SR_SUPPORTS_LOCAL_CACHING", self.api.SM.get_features(sm))
        self.assertXapiError("HANDLE_INVALID", self.api.host.enable_local_storage_caching, self.host,
                             "OpaqueRef:nope")

    def test_send_test_post(self):
        tmp = tempfile.mkdtemp()
        cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=60)
        srv = http.server.HTTPServer(("127.0.0.1", 0), EchoHandler)
        srv.seen = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            port = srv.server_address[1]
            out = self.api.pool.send_test_post("127.0.0.1", str(port), "hello <xenon>")
            self.assertEqual(out, "got hello <xenon>")
            self.assertEqual(len(srv.seen), 1)
            self.assertEqual(srv.seen[0][0], "/")
            self.assertEqual(srv.seen[0][1], "127.0.0.1")
            self.assertEqual(srv.seen[0][2], b"hello <xenon>")
        finally:
            srv.shutdown()
            srv.server_close()
        # a port nobody listens on, a name that does not resolve, no port
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
        s.close()
        self.assertXapiError("INTERNAL_ERROR", self.api.pool.send_test_post, "127.0.0.1", str(closed), "x")
        self.assertXapiError("INTERNAL_ERROR", self.api.pool.send_test_post, "no-such-host.invalid", "443", "x")
        self.assertXapiError("INTERNAL_ERROR", self.api.pool.send_test_post, "127.0.0.1", "0", "x")
        self.assertEqual(len(srv.seen), 1)

    def test_send_test_post_times_out(self):
        # a listener that never answers: xapi gives up after 30 s
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        saved = self.srv.call_timeout
        self.srv.call_timeout = 60  # the client must outwait the daemon's 30 s
        try:
            t0 = time.monotonic()
            self.assertXapiError("WLB_TIMEOUT", self.api.pool.send_test_post, "127.0.0.1",
                                 str(s.getsockname()[1]), "x", params=["30.0"])
            self.assertGreaterEqual(time.monotonic() - t0, 29.0)
        finally:
            self.srv.call_timeout = saved
            s.close()

    def test_import_convert_needs_its_plugin(self):
        sr = self.api.SR.get_by_name_label("Local storage")[0]
        self.assertXapiError("XENAPI_MISSING_PLUGIN", self.api.VM.import_convert, "VMware", "u", "p", sr,
                             {"hostname": "127.0.0.1", "username": "u", "password": "p", "vm-name": "v"},
                             params=["conversion"])
        self.assertXapiError("HANDLE_INVALID", self.api.VM.import_convert, "VMware", "u", "p",
                             "OpaqueRef:nope", {})


if __name__ == "__main__":
    harness.main()
