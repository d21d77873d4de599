"""The daemon around the API: HTTPS with the certificate made on first
start, the root password file, configuration keys, idle session expiry,
completed-task garbage collection, CORS preflight and the status page."""

import http.client
import json
import os
import ssl
import stat
import subprocess
import time
import unittest

import harness


def write_conf(srv, text):
    path = os.path.join(srv.data_dir, "xenond.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


class Tls(unittest.TestCase):
    def test_https_with_a_self_signed_certificate(self):
        srv = harness.Server()
        tls_port = harness.free_port()
        srv.extra_args = ["--tls-listen", "127.0.0.1:%d" % tls_port]
        srv.start()
        cert = os.path.join(srv.data_dir, "xapi-ssl.crt")
        key = os.path.join(srv.data_dir, "xapi-ssl.key")
        self.assertTrue(os.path.exists(cert))
        self.assertEqual(os.stat(key).st_mode & 0o077, 0, "the key must not be readable by others")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        body = json.dumps({"jsonrpc": "2.0", "method": "session.login_with_password",
                           "params": ["root", srv.password], "id": 7})
        c = http.client.HTTPSConnection("127.0.0.1", tls_port, context=ctx, timeout=10)
        c.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        reply = json.loads(r.read())
        self.assertEqual(r.status, 200)
        self.assertRegex(reply["result"], harness.REF_RE)
        # the certificate verifies against itself: it is self-signed
        vctx = ssl.create_default_context(cafile=cert)
        vctx.check_hostname = False
        c = http.client.HTTPSConnection("127.0.0.1", tls_port, context=vctx, timeout=10)
        c.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
        self.assertEqual(c.getresponse().status, 200)
        # a restart keeps the same certificate
        with open(cert) as f:
            before = f.read()
        srv.restart()
        with open(cert) as f:
            self.assertEqual(f.read(), before)
        srv.stop()


class Privacy(unittest.TestCase):
    """Everything xenond keeps in its data and run directories (the store,
    whose WAL holds secret values in plain text, the root password, the TLS
    key) is its user's alone: directories 0700, files 0600 at most,
    whatever the umask it was started with, and a directory left with wider
    modes is tightened at start."""

    LOG = "xenond.stderr"  # the harness's, written by the test process

    def open_entries(self, *roots):
        found = []
        for root in roots:
            for d, _dirs, files in os.walk(root):
                for p in [d] + [os.path.join(d, f) for f in files if f != self.LOG]:
                    st = os.lstat(p)
                    if (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)) and st.st_mode & 0o077:
                        found.append("%s %o" % (os.path.relpath(p, root), stat.S_IMODE(st.st_mode)))
        return found

    def start_with_umask(self, srv, mask):
        old = os.umask(mask)
        try:
            srv.start()
        finally:
            os.umask(old)

    def check(self, mask):
        srv = harness.Server()
        run_dir = harness._tmpdir("xenon-run-")
        srv.extra_args = ["--tls-listen", "127.0.0.1:%d" % harness.free_port(), "--run-dir", run_dir]
        # as directories made under a umask of 022 or 000 would be
        for d in (srv.data_dir, run_dir):
            os.chmod(d, 0o755 if mask else 0o777)
        self.start_with_umask(srv, mask)
        api = srv.api
        value = "s3cr3t-%o" % mask
        secret = api.secret.create({"value": value, "other_config": {}})
        self.assertEqual(api.secret.get_value(secret), value)
        vm = api.VM.clone(api.VM.get_by_name_label("Debian Bookworm 12")[0], "private")
        api.VM.provision(vm)
        api.VM.start(vm, False, False)
        self.assertTrue(os.path.exists(os.path.join(srv.data_dir, "db.sqlite-wal")))
        self.assertEqual(self.open_entries(srv.data_dir, run_dir), [])
        api.VM.hard_shutdown(vm)
        # a store and directories left readable (an older xenond) are closed at start
        srv.stop()
        os.chmod(srv.data_dir, 0o755)
        os.chmod(os.path.join(srv.data_dir, "db.sqlite"), 0o644)
        os.makedirs(os.path.join(srv.data_dir, "old"), mode=0o755)
        os.chmod(os.path.join(srv.data_dir, "old"), 0o755)
        with open(os.path.join(srv.data_dir, "old", "left"), "w") as f:
            f.write(value)
        os.chmod(os.path.join(srv.data_dir, "old", "left"), 0o666)
        self.start_with_umask(srv, mask)
        self.assertEqual(srv.api.secret.get_value(secret), value)
        self.assertEqual(self.open_entries(srv.data_dir, run_dir), [])
        srv.stop()
        self.assertEqual(self.open_entries(srv.data_dir, run_dir), [])

    def test_umask_022(self):
        self.check(0o022)

    def test_umask_000(self):
        self.check(0o000)


class Passwords(unittest.TestCase):
    def test_given_password_file(self):
        srv = harness.Server()
        with open(srv.password_file, "w") as f:
            f.write("s3cret-one\n")
        srv.start()
        self.assertRegex(srv.call1("session.login_with_password", "root", "s3cret-one"), harness.REF_RE)
        # changing the file changes the password at the next start
        with open(srv.password_file, "w") as f:
            f.write("root\ns3cret-two\n")
        srv.restart()
        self.assertRegex(srv.call1("session.login_with_password", "root", "s3cret-two"), harness.REF_RE)
        with self.assertRaises(harness.XapiError) as e:
            srv.call1("session.login_with_password", "root", "s3cret-one")
        self.assertEqual(e.exception.code, "SESSION_AUTHENTICATION_FAILED")
        # the users file keeps a hash, never the password
        with open(os.path.join(srv.data_dir, "users")) as f:
            users = f.read()
        self.assertNotIn("s3cret", users)
        self.assertIn("root:$6$", users)
        srv.stop()

    def test_change_password(self):
        srv = harness.Server().start()
        s = srv.session
        with self.assertRaises(harness.XapiError) as e:
            srv.call1("session.change_password", s, "wrong", "new-pw")
        self.assertEqual(e.exception.code, "CHANGE_PASSWORD_REJECTED")
        srv.call1("session.change_password", s, srv.password, "new-pw")
        self.assertRegex(srv.call1("session.login_with_password", "root", "new-pw"), harness.REF_RE)
        srv.stop()


class Config(unittest.TestCase):
    def test_unknown_key_is_refused(self):
        srv = harness.Server()
        conf = write_conf(srv, "listen = 127.0.0.1:1\nno-such-key = 1\n")
        r = subprocess.run([harness.XENOND, "--config", conf, "--data-dir", srv.data_dir],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no-such-key", r.stderr)

    def test_session_expiry(self):
        srv = harness.Server()
        srv.extra_args = ["--config", write_conf(srv, "session-timeout = 2\n")]
        srv.start()
        s = srv.login()
        srv.call1("VM.get_all", s)
        time.sleep(4.5)
        with self.assertRaises(harness.XapiError) as e:
            srv.call1("VM.get_all", s)
        self.assertEqual(e.exception.code, "SESSION_INVALID")
        self.assertEqual(e.exception.params, [s])
        srv.stop()

    def test_completed_tasks_are_collected(self):
        srv = harness.Server()
        srv.extra_args = ["--config", write_conf(srv, "task-gc = 1\nmax-tasks = 3\n")]
        srv.start()
        s = srv.session
        pending = srv.call1("task.create", s, "still running", "")
        cancelling = srv.call1("task.create", s, "being cancelled", "")
        srv.call1("task.cancel", s, cancelling)
        done = []
        for i in range(6):
            t = srv.call1("task.create", s, "t%d" % i, "")
            srv.call1("task.set_status", s, t, "success")
            done.append(t)
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            left = set(srv.call1("task.get_all", s))
            if not (left & set(done)):
                break
            time.sleep(1)
        self.assertFalse(left & set(done), "completed tasks were not collected")
        self.assertIn(pending, left, "a pending task must not be collected")
        self.assertIn(cancelling, left, "a task asked to cancel, not ended yet, must not be collected")
        self.assertEqual(srv.call1("task.get_status", s, cancelling), "cancelling")
        srv.stop()


class Http(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_cors_preflight(self):
        r = self.srv.post("/jsonrpc", b"", {"Origin": "http://example.test",
                                            "Access-Control-Request-Method": "POST"}, method="OPTIONS")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")
        self.assertIn("POST", r.header("Access-Control-Allow-Methods"))

    def test_status_page_and_unknown_path(self):
        r = self.srv.post("/", b"", method="GET")
        self.assertEqual(r.status, 200)
        self.assertIn("text/html", r.header("Content-Type"))
        r = self.srv.post("/no/such/path", b"", method="GET")
        self.assertEqual(r.status, 404)

    def test_rpc_paths(self):
        body = ('<?xml version="1.0"?><methodCall><methodName>system.listMethods</methodName>'
                '<params/></methodCall>').encode()
        for path in ("/", "/RPC2", "/xmlrpc", "/json"):
            with self.subTest(path=path):
                r = self.srv.post(path, body, {"Content-Type": "text/xml"})
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("Content-Type"), "text/xml")
                self.assertIn(b"VM.get_all_records", r.body)
                self.assertNotIn(b"Async.", r.body)


if __name__ == "__main__":
    harness.main()
