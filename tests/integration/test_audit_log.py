"""The RBAC audit log against a real xenond: calls that change something
and refused calls are written with subject, user, verdict, result, call
and arguments (secrets elided) to <data-dir>/audit.log and the daemon's
log; reads are not; GET /audit_log serves it (read-only and above,
http/get_audit_log) with since=; xe audit-log-get saves it; the file is
rotated by size and the rotated files are still served."""

import datetime
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

USERS = {"reader": "read-only", "operator": "vm-operator"}
PASSWORD = "audit-pw-9"
MAX = 8192


class AuditLog(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server_kwargs = {"data_dir": harness.data_dir_with_users(USERS, PASSWORD, "xenon-audit-"),
                             "config": "audit-log-max = %d\naudit-log-keep = 2\n" % MAX}
        super().setUpClass()
        cls.reader = cls.srv.login("reader", PASSWORD)

    def path(self, n=0):
        p = os.path.join(self.srv.data_dir, "audit.log")
        return p + (".%d" % n if n else "")

    def served(self, session, since=None):
        q = "/audit_log?session_id=" + session + ("&since=" + since if since else "")
        r = self.srv.post(q, b"", method="GET")
        self.assertEqual(r.status, 200, r.body[:200])
        return r.body.decode()

    def lines_with(self, text, *needles):
        return [ln for ln in text.splitlines() if all(n in ln for n in needles)]

    def test_changes_and_denials_are_written_reads_are_not(self):
        vm = self.new_vm("audit-vm", provision=False)
        self.api.VM.set_name_label(vm, "audit-renamed")
        self.api.VM.get_record(vm)
        self.assertXapiError("RBAC_PERMISSION_DENIED", self.srv.call, "VM.destroy", self.reader, vm)
        self.srv.call("VM.get_record", self.reader, vm)
        secret = self.api.secret.create({"value": "top-secret-value-42"})
        text = self.served(self.reader)
        ok = self.lines_with(text, "'LOCAL_SUPERUSER' 'root' 'ALLOWED' 'OK' 'API' 'VM.set_name_label'",
                             "'audit-renamed'")
        self.assertEqual(len(ok), 1, text[-2000:])
        denied = self.lines_with(text, "'reader' 'DENIED' 'ERROR:RBAC_PERMISSION_DENIED:vm.destroy' 'API' 'VM.destroy'",
                                 vm)
        self.assertEqual(len(denied), 1, text[-2000:])
        self.assertIn("peer='127.0.0.1'", denied[0])
        self.assertEqual(self.lines_with(text, "VM.get_record"), [])
        self.assertEqual(len(self.lines_with(text, "'secret.create'", "(secret)")), 1)
        self.assertNotIn("top-secret-value-42", text)
        self.assertNotIn(PASSWORD, text)
        self.assertNotIn(self.srv.password, text)
        self.assertTrue(self.lines_with(text, "'session.login_with_password'", "('pwd' '(secret)')"))
        # and the daemon's log has them too
        self.assertIn("audit: ", self.srv.log_text())
        self.assertIn("'VM.set_name_label'", self.srv.log_text())
        self.api.secret.destroy(secret)
        self.destroy_vm(vm)

    def test_http_actions_and_failed_logins(self):
        r = self.srv.post("/export?session_id=%s&uuid=none" % self.reader, b"", method="GET")
        self.assertEqual(r.status, 403)
        self.assertXapiError("SESSION_AUTHENTICATION_FAILED", self.srv.login, "operator", "wrong")
        text = self.served(self.reader)
        self.assertTrue(self.lines_with(text, "'reader' 'DENIED'", "'HTTP' 'http/get_export'"), text[-1500:])
        self.assertTrue(self.lines_with(text, "'operator' 'DENIED' 'ERROR:SESSION_AUTHENTICATION_FAILED",
                                        "'session.login_with_password'", "('pwd' '(secret)')"))

    def test_get_audit_log_needs_a_session_and_takes_since(self):
        self.assertEqual(self.srv.post("/audit_log", b"", method="GET").status, 401)
        self.assertEqual(self.srv.post("/audit_log?session_id=OpaqueRef:bad", b"", method="GET").status, 401)
        future = (datetime.datetime.utcnow() + datetime.timedelta(hours=1)).strftime("%Y%m%dT%H:%M:%SZ")
        self.api.VM.get_all()
        self.assertEqual(self.served(self.reader, future), "")
        r = self.srv.post("/audit_log?session_id=%s&since=yesterday" % self.reader, b"", method="GET")
        self.assertEqual(r.status, 400)
        self.assertIn(b"INVALID_VALUE since yesterday", r.body)
        # xe audit-log-get, with since= just before a change
        since = datetime.datetime.utcnow().strftime("%Y%m%dT%H:%M:%SZ")
        vm = self.new_vm("audit-xe", provision=False)
        out = os.path.join(self.srv.data_dir, "saved-audit.log")
        r = self.srv.xe("audit-log-get", "since=" + since, "filename=" + out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            saved = f.read()
        self.assertTrue(self.lines_with(saved, "'VM.clone'") or self.lines_with(saved, "'VM.copy'"), saved[-1500:])
        for ln in saved.splitlines():
            self.assertGreaterEqual(ln.split(" ", 1)[0], since)
        self.destroy_vm(vm)

    def test_rotation_keeps_the_configured_files(self):
        vm = self.new_vm("audit-rot", provision=False)
        deadline = time.time() + 30
        i = 0
        while not os.path.exists(self.path(2)) and time.time() < deadline:
            self.api.VM.set_name_description(vm, "rotation round %d" % i)
            i += 1
        self.assertTrue(os.path.exists(self.path(1)))
        self.assertTrue(os.path.exists(self.path(2)))
        for _ in range(60):
            self.api.VM.set_name_description(vm, "rotation round %d" % i)
            i += 1
        self.assertFalse(os.path.exists(self.path(3)))
        for n in (0, 1, 2):
            self.assertLessEqual(os.path.getsize(self.path(n)), MAX)
        text = self.served(self.srv.session)
        # what the rotated files hold is served too, oldest first
        with open(self.path(2)) as f:
            first = f.readline()
        self.assertTrue(text.startswith(first), text[:300])
        self.assertIn("rotation round %d'" % (i - 1), text)
        self.destroy_vm(vm)


if __name__ == "__main__":
    harness.main()
