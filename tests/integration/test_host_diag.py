"""Host diagnostics and settings: dmesg (the kernel's log), debug keys and
scheduler granularity as xapi answers without Xen, the display state
machine, set_hostname_live (xenond in a UTS namespace of its own, so the
machine's name is untouched), remote syslog through syslog_reconfigure (a
UDP listener on loopback), the status archive — capabilities, GET
/system-status, xe host-logs-download, host.bugreport_upload to an HTTP
server on loopback — a valid tar that holds no secret."""

import http.server
import io
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SECRET = "s3cret-value-for-the-archive-test"


class Sink(http.server.BaseHTTPRequestHandler):
    bodies = []

    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        Sink.bodies.append(self.rfile.read(n))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class HostDiag(harness.ServerTestCase):
    server_kwargs = {"prefix": ["unshare", "--uts"]}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.host = cls.api.host.get_all()[0]

    def xe(self, *args):
        r = self.srv.xe(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_dmesg_and_xen_settings(self):
        log = self.api.host.dmesg(self.host)
        self.assertTrue(log.strip())
        self.assertTrue(self.xe("host-dmesg").strip())
        self.api.host.send_debug_keys(self.host, "q")
        self.assertEqual(self.api.host.get_sched_gran(self.host), "cpu")
        self.assertXapiError("OPERATION_NOT_ALLOWED", self.api.host.set_sched_gran, self.host, "core",
                             params=["Disabled by xapi.conf"])
        self.api.host.sync_data(self.host)
        self.assertXapiError("HANDLE_INVALID", self.api.host.dmesg, harness.NULL_REF)

    def test_display_states(self):
        self.assertEqual(self.api.host.get_display(self.host), "enabled")
        self.assertEqual(self.api.host.disable_display(self.host), "disable_on_reboot")
        self.assertEqual(self.api.host.disable_display(self.host), "disable_on_reboot")
        self.assertEqual(self.api.host.enable_display(self.host), "enabled")
        self.assertEqual(self.xe("host-disable-display").strip(), "disable_on_reboot")
        self.assertEqual(self.xe("host-enable-display").strip(), "enabled")

    def test_set_hostname_live(self):
        before = socket.gethostname()
        for bad, why in (("", "hostname empty"), ("-lead", "hostname contains invalid characters"),
                         ("bad_name", "hostname contains invalid characters")):
            self.assertXapiError("HOST_NAME_INVALID", self.api.host.set_hostname_live, self.host, bad,
                                 params=[why])
        self.api.host.set_hostname_live(self.host, "renamed-host.example")
        inside = subprocess.run(["nsenter", "-t", str(self.srv.pid), "-u", "hostname"], stdout=subprocess.PIPE,
                                text=True, check=True).stdout.strip()
        self.assertEqual(inside, "renamed-host.example")
        self.assertEqual(socket.gethostname(), before)
        self.assertEqual(self.api.host.get_hostname(self.host), "renamed-host.example")
        dom0 = self.api.host.get_control_domain(self.host)
        self.assertEqual(self.api.VM.get_name_label(dom0), "Control domain on host: renamed-host.example")
        self.xe("host-set-hostname-live", "host-name=again")
        self.assertEqual(self.api.host.get_hostname(self.host), "again")

    def test_syslog_forwarding(self):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        port = rx.getsockname()[1]
        try:
            self.api.host.set_logging(self.host, {"syslog_destination": "127.0.0.1:%d" % port})
            self.api.host.syslog_reconfigure(self.host)
            data = rx.recv(4096)
            self.assertEqual(data, b"<30>xenond: [info] syslog: forwarding to 127.0.0.1:%d" % port)
            pool = self.api.pool.get_all()[0]
            self.api.pool.set_name_description(pool, "audited")  # a write: an audit line in the log
            data = b""
            while b"pool.set_name_description" not in data:
                data = rx.recv(4096)
            self.assertTrue(data.startswith(b"<30>xenond: [info] audit: "), data)
            self.api.host.set_logging(self.host, {})
            self.xe("host-syslog-reconfigure")
            # drain what came before the switch, then nothing more arrives
            rx.settimeout(0.5)
            try:
                while True:
                    rx.recv(4096)
            except socket.timeout:
                pass
            self.api.pool.set_name_description(pool, "not forwarded")
            with self.assertRaises(socket.timeout):
                rx.recv(4096)
        finally:
            rx.close()
            self.api.host.set_logging(self.host, {})
            self.api.host.syslog_reconfigure(self.host)

    def check_archive(self, data):
        tar = tarfile.open(fileobj=io.BytesIO(data))
        names = tar.getnames()
        self.assertIn("system-status/xenon-records.json", names)
        self.assertIn("system-status/dmesg.txt", names)
        self.assertIn("system-status/audit.log", names)
        with open(os.path.join(self.srv.data_dir, "users")) as f:
            hashes = [line.split(":")[1] for line in f if line.count(":") >= 2]
        self.assertTrue(hashes)
        forbidden = [SECRET.encode(), (SECRET + "-pbd").encode(), self.srv.password.encode(), self.srv.session.encode(),
                     b"PRIVATE KEY"] + [h.encode() for h in hashes]
        for m in tar.getmembers():
            body = tar.extractfile(m).read()
            for f in forbidden:
                self.assertNotIn(f, body, "%s holds a secret" % m.name)
        records = tar.extractfile("system-status/xenon-records.json").read()
        self.assertIn(self.api.host.get_uuid(self.host).encode(), records)
        return names

    def test_status_archive_has_no_secrets(self):
        secret = self.api.secret.create({"value": SECRET, "other_config": {}})
        # a share's password in a PBD's device_config, as CIFS SRs keep it
        sr = self.api.pool.get_default_SR(self.api.pool.get_all()[0])
        pbd = self.api.PBD.create({"host": self.host, "SR": sr, "other_config": {},
                                   "device_config": {"server": "x", "password": SECRET + "-pbd"}})
        self.addCleanup(self.api.PBD.destroy, pbd)
        try:
            caps = ET.fromstring(self.api.host.get_system_status_capabilities(self.host))
            keys = [c.get("key") for c in caps.findall("capability")]
            self.assertIn("xenon-records", keys)
            self.assertIn("kernel-log", self.xe("host-get-system-status-capabilities"))
            conn = self.srv.connection()
            conn.request("GET", "/system-status?session_id=" + self.srv.session)
            r = conn.getresponse()
            data = r.read()
            conn.close()
            self.assertEqual(r.status, 200)
            self.check_archive(data)
            # without a session: refused
            conn = self.srv.connection()
            conn.request("GET", "/system-status")
            self.assertNotEqual(conn.getresponse().status, 200)
            conn.close()
            with tempfile.TemporaryDirectory() as d:
                out = os.path.join(d, "logs.tar")
                self.xe("host-logs-download", "file-name=" + out)
                with open(out, "rb") as f:
                    self.check_archive(f.read())
        finally:
            self.api.secret.destroy(secret)

    def test_bugreport_upload(self):
        secret = self.api.secret.create({"value": SECRET, "other_config": {}})
        srv = http.server.HTTPServer(("127.0.0.1", 0), Sink)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        self.addCleanup(srv.server_close)
        try:
            url = "http://127.0.0.1:%d/upload" % srv.server_address[1]
            Sink.bodies.clear()
            self.api.host.bugreport_upload(self.host, url, {})
            self.assertEqual(len(Sink.bodies), 1)
            self.check_archive(Sink.bodies[0])
            self.xe("host-bugreport-upload", "url=" + url)
            self.assertEqual(len(Sink.bodies), 2)
            self.check_archive(Sink.bodies[1])
            self.assertXapiError("INVALID_VALUE", self.api.host.bugreport_upload, self.host, "ftp://x/", {})
        finally:
            srv.shutdown()
            self.api.secret.destroy(secret)


if __name__ == "__main__":
    harness.main()
